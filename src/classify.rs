//! Classify stage: a [`Record`] to a [`Class`] and, for outbound traffic that leaves the
//! mesh's registry, the [`Destination`] it went to.
//!
//! The rules follow how Istio configures the sidecar (README, "How lines are classified"):
//! the upstream cluster says what the mesh did with the connection, the route name and the
//! response details say it when no cluster was selected, and the destination is the HTTP
//! authority, else the TLS SNI, else the original destination address.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use crate::parse::Record;
use crate::parse::addr::{self, AddrScope};

/// What a line is, for the accounting. Every line read ends up in exactly one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Sent to `PassthroughCluster` (mesh mode `ALLOW_ANY`).
    Passthrough,
    /// Refused by `BlackHoleCluster` or the `block_all` route (mode `REGISTRY_ONLY`).
    Blocked,
    /// Sent to an outbound cluster of a host outside the cluster domain: a ServiceEntry exists.
    Registered,
    /// In-mesh traffic: cluster-local services, Istio's auto-allocated addresses.
    Internal,
    /// Traffic into the workload.
    Inbound,
    /// An access-log entry that says nothing certain about its destination.
    Unknown,
    /// Not an access-log entry.
    Noise,
    /// An entry that could not be read.
    Malformed,
    /// A CRI partial line (`P`), joined to the line after it and read with it.
    Partial,
    /// An outbound entry outside the `--since` / `--until` window.
    Outside,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Passthrough => "passthrough",
            Class::Blocked => "blocked",
            Class::Registered => "registered",
            Class::Internal => "internal",
            Class::Inbound => "inbound",
            Class::Unknown => "unknown",
            Class::Noise => "noise",
            Class::Malformed => "malformed",
            Class::Partial => "partial",
            Class::Outside => "outside",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the sidecar did with an outbound connection to a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Passthrough,
    Blocked,
    Registered,
}

/// The protocol seen: HTTP when Envoy parsed a request, TLS when it saw an SNI, else TCP.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Http,
    Tls,
    Tcp,
}

impl Protocol {
    /// The ServiceEntry port protocol.
    pub fn istio_name(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Tls => "TLS",
            Protocol::Tcp => "TCP",
        }
    }

    /// Lower-case form used in port names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Tls => "tls",
            Protocol::Tcp => "tcp",
        }
    }
}

/// Where a destination sits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Outside the mesh and the private networks: what ServiceEntries are for.
    External,
    /// A private address (RFC 1918, CGNAT, link-local, ULA): often a pod or a node.
    Private,
    /// Known to the mesh: a cluster-local name or an auto-allocated ServiceEntry address.
    Mesh,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::External => "external",
            Category::Private => "private",
            Category::Mesh => "mesh",
        }
    }
}

/// An outbound destination, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination<'a> {
    /// What the sidecar did.
    pub verdict: Verdict,
    /// Lower-cased host name without port or trailing dot; `None` when only the address is known.
    pub host: Option<Cow<'a, str>>,
    /// The original destination address (from `DOWNSTREAM_LOCAL_ADDRESS`, or an IP authority).
    pub address: Option<IpAddr>,
    /// The original destination port.
    pub port: u16,
    pub protocol: Protocol,
    pub category: Category,
}

/// The outcome for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified<'a> {
    pub class: Class,
    /// The rule that decided, in words, for `explain`.
    pub reason: &'static str,
    pub destination: Option<Destination<'a>>,
}

/// Settings the rules depend on.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The Kubernetes cluster domain, without leading or trailing dots.
    pub cluster_domain: String,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            cluster_domain: "cluster.local".to_owned(),
        }
    }
}

impl Rules {
    /// Names that only resolve inside the cluster: `*.<cluster-domain>`, `*.svc`, short names.
    pub fn is_cluster_local(&self, host: &str) -> bool {
        self.is_cluster_local_bytes(host.as_bytes())
    }

    fn is_cluster_local_bytes(&self, host: &[u8]) -> bool {
        let host = host.strip_suffix(b".").unwrap_or(host);
        let d = self.cluster_domain.as_bytes();
        // The suffixes first: that is how almost every in-mesh host ends.
        host.ends_with(b".svc")
            || (host.len() > d.len()
                && host[host.len() - d.len() - 1] == b'.'
                && host[host.len() - d.len()..].eq_ignore_ascii_case(d))
            || host.eq_ignore_ascii_case(d)
            || !host.contains(&b'.')
    }
}

fn strip_stat_suffix(cluster: &str) -> &str {
    // Istio 1.23+ sets alt_stat_name = "<name>;", which %UPSTREAM_CLUSTER% prints.
    cluster.strip_suffix(';').unwrap_or(cluster)
}

/// The host of an `outbound|PORT|SUBSET|HOST` or `outbound_.PORT_.SUBSET_.HOST` cluster.
fn outbound_host_bytes(cluster: &[u8]) -> Option<&[u8]> {
    if let Some(rest) = cluster.strip_prefix(b"outbound|") {
        // PORT|SUBSET|HOST: the host follows the second '|'. (Port and subset are short: a
        // plain scan beats setting up a vector search for each.)
        let first = rest.iter().position(|&c| c == b'|')?;
        let second = first + 1 + rest[first + 1..].iter().position(|&c| c == b'|')?;
        return Some(&rest[second + 1..]);
    }
    let rest = cluster.strip_prefix(b"outbound_.")?;
    let first = memchr::memmem::find(rest, b"_.")?;
    let second = first + 2 + memchr::memmem::find(&rest[first + 2..], b"_.")?;
    Some(&rest[second + 2..])
}

fn outbound_host(cluster: &str) -> Option<&str> {
    let h = outbound_host_bytes(cluster.as_bytes())?;
    // The host is a suffix of the cluster name, found at ASCII delimiters.
    Some(&cluster[cluster.len() - h.len()..])
}

fn is_inbound_cluster(c: &[u8]) -> bool {
    c.starts_with(b"inbound|")
        || c.starts_with(b"inbound_.")
        || c.starts_with(b"InboundPassthroughCluster")
}

/// Decides the class from the cluster alone when that is enough (inbound and in-mesh traffic,
/// most of a mesh's lines). `None` means the rest of the entry is needed.
pub fn by_cluster(cluster: Option<&str>, rules: &Rules) -> Option<(Class, &'static str)> {
    by_cluster_bytes(cluster?.as_bytes(), rules)
}

/// [`by_cluster`] on the raw bytes of the cluster field, before any UTF-8 check.
pub fn by_cluster_bytes(cluster: &[u8], rules: &Rules) -> Option<(Class, &'static str)> {
    let c = cluster.strip_suffix(b";").unwrap_or(cluster);
    if is_inbound_cluster(c) {
        return Some((Class::Inbound, "inbound cluster"));
    }
    match outbound_host_bytes(c) {
        Some(host) if rules.is_cluster_local_bytes(host) => Some((
            Class::Internal,
            "outbound cluster of a cluster-local service",
        )),
        _ => None,
    }
}

/// The cluster-local service host of an `outbound|...` cluster, for in-mesh calls.
pub fn mesh_host<'a>(cluster: &'a [u8], rules: &Rules) -> Option<&'a [u8]> {
    let c = cluster.strip_suffix(b";").unwrap_or(cluster);
    outbound_host_bytes(c).filter(|h| rules.is_cluster_local_bytes(h) && !h.is_empty())
}

fn has_flag(flags: Option<&str>, flag: &str) -> bool {
    flags.is_some_and(|f| f.split(',').any(|x| x == flag))
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// A TLS SNI worth keeping: not Envoy's `invalid:` sanitised form, not a mesh mTLS SNI.
fn usable_sni(sni: Option<&str>) -> Option<&str> {
    sni.filter(|s| !s.starts_with("invalid:") && !s.starts_with("outbound_"))
}

/// Classifies one entry.
pub fn classify<'a>(r: &Record<'a>, rules: &Rules) -> Classified<'a> {
    let done = |class, reason| Classified {
        class,
        reason,
        destination: None,
    };
    if let Some((class, reason)) = by_cluster(r.upstream_cluster, rules) {
        return done(class, reason);
    }
    let cluster = r.upstream_cluster.map(strip_stat_suffix);
    let dla = r.downstream_local_address.and_then(addr::split_socket);
    let (verdict, reason) = match cluster {
        Some("PassthroughCluster") => (Verdict::Passthrough, "cluster PassthroughCluster"),
        Some("AllowAnyDynamicDNSCluster") => {
            (Verdict::Passthrough, "cluster AllowAnyDynamicDNSCluster")
        }
        Some("BlackHoleCluster") if dla.is_some_and(|(_, p)| p == 15006) => {
            return done(
                Class::Inbound,
                "BlackHoleCluster on the inbound capture port 15006",
            );
        }
        Some("BlackHoleCluster") if dla.is_some_and(|(_, p)| p == 15001) => {
            return done(
                Class::Internal,
                "BlackHoleCluster on the outbound capture port 15001 (the sidecar's loop guard)",
            );
        }
        Some("BlackHoleCluster") => (Verdict::Blocked, "cluster BlackHoleCluster"),
        Some(c) if outbound_host(c).is_some() => (
            Verdict::Registered,
            "outbound cluster of a host outside the cluster domain",
        ),
        Some(_) => {
            return done(
                Class::Unknown,
                "cluster is not an Istio outbound, passthrough or blackhole cluster",
            );
        }
        None => match r.route_name {
            Some("block_all") => (Verdict::Blocked, "route block_all"),
            Some("allow_any") => (Verdict::Passthrough, "route allow_any"),
            _ if r.response_code == Some(502)
                && r.response_code_details == Some("direct_response") =>
            {
                (Verdict::Blocked, "502 direct_response without a cluster")
            }
            _ if r.method.is_none()
                && has_flag(r.response_flags, "UH")
                && r.upstream_host.is_none() =>
            {
                (
                    Verdict::Blocked,
                    "TCP entry with flag UH and no upstream host or cluster (Istio up to 1.9)",
                )
            }
            _ if r.method.is_some()
                && r.response_code == Some(502)
                && r.response_flags.is_none()
                && r.upstream_host.is_none()
                && r.route_name.is_none()
                && r.response_code_details.is_none() =>
            {
                (
                    Verdict::Blocked,
                    "502 without flags, upstream host, cluster or route (Istio 1.3.0-1.5.1)",
                )
            }
            _ => return done(Class::Unknown, "no upstream cluster and no blocking route"),
        },
    };

    let is_http = r.method.is_some() || r.protocol.is_some_and(|p| p.starts_with("HTTP"));
    let sni = usable_sni(r.requested_server_name);
    let mut address = dla.map(|(ip, _)| ip);
    let mut port = dla.map(|(_, p)| p);
    let mut host: Option<Cow<'a, str>> = None;
    let protocol = if is_http {
        if let Some(auth) = r.authority {
            let (h, auth_port) = addr::split_authority(auth);
            let h = h.strip_suffix('.').unwrap_or(h);
            match addr::parse_ip(h) {
                Some(ip) => address = address.or(Some(ip)),
                None if !h.is_empty() => host = Some(lower(h)),
                None => {}
            }
            port = port.or(auth_port);
        }
        Protocol::Http
    } else if let Some(s) = sni {
        host = Some(lower(s.strip_suffix('.').unwrap_or(s)));
        Protocol::Tls
    } else {
        Protocol::Tcp
    };
    if host.is_none() && verdict == Verdict::Registered {
        // The ServiceEntry host in the cluster name, unless it is a wildcard.
        host = cluster
            .and_then(outbound_host)
            .filter(|h| !h.contains('*') && !h.is_empty())
            .map(lower);
    }
    let Some(port) = port else {
        return done(Class::Unknown, "no original destination port");
    };
    if host.is_none() && address.is_none() {
        return done(
            Class::Unknown,
            "no host and no original destination address",
        );
    }

    let scope = address.map(addr::scope);
    // An auto-allocated address is a ServiceEntry host the mesh knows: traffic to it that was
    // passed through or refused is outside this sidecar's scope, not a missing entry. A private
    // original destination is a pod, a node or a ClusterIP, whatever name the client used.
    let auto_allocated = scope == Some(AddrScope::AutoAllocated) && verdict != Verdict::Registered;
    let category = if auto_allocated || host.as_deref().is_some_and(|h| rules.is_cluster_local(h)) {
        Category::Mesh
    } else if scope == Some(AddrScope::Private) {
        Category::Private
    } else {
        Category::External
    };
    let (class, reason) = match (category, verdict) {
        (Category::Mesh, _) if auto_allocated => (
            Class::Internal,
            "destination is an auto-allocated ServiceEntry address: a known host outside this sidecar's scope",
        ),
        (Category::Mesh, _) => (Class::Internal, "destination is a cluster-local name"),
        (_, Verdict::Passthrough) => (Class::Passthrough, reason),
        (_, Verdict::Blocked) => (Class::Blocked, reason),
        (_, Verdict::Registered) => (Class::Registered, reason),
    };
    Classified {
        class,
        reason,
        destination: Some(Destination {
            verdict,
            host,
            address,
            port,
            protocol,
            category,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::text;

    fn cls(line: &str) -> Classified<'_> {
        let (_, r) = text::parse(line.as_bytes()).unwrap();
        classify(&r, &Rules::default())
    }

    fn dest(
        line: &str,
    ) -> (
        Class,
        Option<String>,
        Option<String>,
        u16,
        Protocol,
        Category,
    ) {
        let c = cls(line);
        let d = c
            .destination
            .unwrap_or_else(|| panic!("no destination: {}", c.reason));
        (
            c.class,
            d.host.map(|h| h.into_owned()),
            d.address.map(|a| a.to_string()),
            d.port,
            d.protocol,
            d.category,
        )
    }

    #[test]
    fn passthrough_http_tls_tcp() {
        let d = dest(
            r#"[2023-01-07T10:59:03.432Z] "GET /users HTTP/1.1" 200 - via_upstream - "-" 0 1847 65 64 "172.17.0.1" "Go-http-client/1.1" "e631fa32" "JSONPlaceholder.typicode.com:80" "104.21.55.162:80" PassthroughCluster 172.17.0.7:50460 104.21.55.162:80 172.17.0.1:0 - allow_any"#,
        );
        assert_eq!(
            d,
            (
                Class::Passthrough,
                Some("jsonplaceholder.typicode.com".into()),
                Some("104.21.55.162".into()),
                80,
                Protocol::Http,
                Category::External
            )
        );
        let d = dest(
            r#"[2020-12-03T04:15:57.157Z] "- - -" 0 - "-" "-" 781 4652 23 - "-" "-" "-" "-" "14.215.177.39:443" PassthroughCluster 10.0.1.38:59692 14.215.177.39:443 10.0.1.38:59690 www.baidu.com -"#,
        );
        assert_eq!(
            (d.0, d.1.as_deref(), d.4),
            (Class::Passthrough, Some("www.baidu.com"), Protocol::Tls)
        );
        let d = dest(
            r#"[2022-04-26T12:44:56.278Z] "- - -" 0 - - - "-" 908 4986 80 - "-" "-" "-" "-" "36.25.253.87:443" PassthroughCluster 10.122.158.52:39498 36.25.253.87:443 10.122.158.52:39496 - -"#,
        );
        assert_eq!(
            d,
            (
                Class::Passthrough,
                None,
                Some("36.25.253.87".into()),
                443,
                Protocol::Tcp,
                Category::External
            )
        );
    }

    #[test]
    fn blocked_every_way() {
        let http = cls(
            r#"[2022-04-26T13:16:32.023Z] "HEAD / HTTP/1.1" 502 - direct_response - "-" 0 0 0 - "-" "curl/7.81.0-DEV" "cb171c15" "www.baidu.com" "-" - - 180.97.34.94:80 10.122.158.52:48708 - block_all"#,
        );
        assert_eq!(
            (http.class, http.reason),
            (Class::Blocked, "route block_all")
        );
        let tcp = cls(
            r#"[2021-08-16T00:47:49.898Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - 172.17.0.1:5432 10.42.0.10:35742 - -"#,
        );
        assert_eq!(tcp.class, Class::Blocked);
        assert_eq!(tcp.destination.unwrap().category, Category::Private);
        let old = cls(
            r#"[2020-12-03T10:46:10.882Z] "- - -" 0 UH "-" "-" 0 0 0 - "-" "-" "-" "-" "-" - - 54.225.169.28:443 10.10.167.168:41034 - -"#,
        );
        assert_eq!(old.class, Class::Blocked);
        assert!(old.reason.contains("UH"));
        let old_http = cls(
            r#"[2020-01-03T10:46:10.882Z] "GET / HTTP/1.1" 502 - "-" "-" 0 0 0 - "-" "curl" "id" "example.org" "-" - - 93.184.216.34:80 10.10.167.168:41034 - -"#,
        );
        assert_eq!(old_http.class, Class::Blocked);
    }

    #[test]
    fn auto_allocated_block_is_internal() {
        let c = cls(
            r#"[2024-04-22T04:26:10.731Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - [2001:2::f0f0:89b7]:10002 [2406:da24:8:c201:6969::14]:45890 - -"#,
        );
        assert_eq!(c.class, Class::Internal);
        let d = c.destination.unwrap();
        assert_eq!((d.verdict, d.category), (Verdict::Blocked, Category::Mesh));
    }

    #[test]
    fn registered_internal_inbound_unknown() {
        let c = cls(
            r#"[2022-04-26T13:40:19.596Z] "- - -" 0 - - - "-" 908 4986 99 - "-" "-" "-" "-" "36.25.253.87:443" outbound|443||www.tencent.com; 10.122.158.52:54278 36.25.253.87:443 10.122.158.52:54276 www.tencent.com -"#,
        );
        assert_eq!(c.class, Class::Registered);
        assert_eq!(
            c.destination.unwrap().host.as_deref(),
            Some("www.tencent.com")
        );
        let c = cls(
            r#"[2022-04-26T13:40:19.596Z] "- - -" 0 - - - "-" 1 2 3 - "-" "-" "-" "-" "10.43.0.1:27018" outbound|27018||mymongodb.somedomain - 240.240.40.99:27018 10.42.0.10:34145 - -"#,
        );
        // Traffic to a ServiceEntry through its auto-allocated address is registered traffic.
        assert_eq!(c.class, Class::Registered);
        let c = cls(
            r#"[2024-01-09T15:35:47.283Z] "GET /politics HTTP/1.1" 301 - via_upstream - "-" 0 0 2 2 "-" "curl" "id" "edition.cnn.com" "10.0.0.9:80" outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local 10.0.0.1:5 151.101.195.5:80 10.0.0.1:6 - default"#,
        );
        assert_eq!(c.class, Class::Internal);
        let c = cls(
            r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 3 1 "-" "curl/7.73.0-DEV" "8496" "httpbin:8000" "127.0.0.1:80" inbound|8000|| 127.0.0.1:41854 10.44.1.27:80 10.44.1.23:37652 outbound_.8000_._.httpbin.foo.svc.cluster.local default"#,
        );
        assert_eq!(c.class, Class::Inbound);
        let c = cls(
            r#"[2020-11-25T21:26:18.409Z] "GET / HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "-" "curl" "id" "nowhere" "-" - - 10.0.0.1:80 10.0.0.2:1 - -"#,
        );
        assert_eq!(c.class, Class::Unknown);
    }

    #[test]
    fn private_destinations_and_the_loop_guard() {
        // A name that is not cluster-local, to a ClusterIP: private, whatever the name.
        let c = cls(
            r#"[2023-01-07T10:59:03.432Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 1 1 1 "-" "curl" "id" "reviews.bookinfo:9080" "10.96.3.4:9080" PassthroughCluster 10.0.0.1:1 10.96.3.4:9080 10.0.0.1:2 - allow_any"#,
        );
        let d = c.destination.unwrap();
        assert_eq!(
            (c.class, d.category),
            (Class::Passthrough, Category::Private)
        );
        let c = cls(
            r#"[2024-04-22T04:26:10.731Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - 10.0.0.7:15001 10.0.0.7:45890 - -"#,
        );
        assert_eq!((c.class, c.destination), (Class::Internal, None));
    }

    #[test]
    fn short_names_and_invalid_sni() {
        let c = cls(
            r#"[2023-01-07T10:59:03.432Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 1 1 1 "-" "curl" "id" "httpbin:8000" "10.0.0.5:8000" PassthroughCluster 10.0.0.1:1 10.0.0.5:8000 10.0.0.1:2 - allow_any"#,
        );
        assert_eq!(c.class, Class::Internal);
        let c = cls(
            r#"[2023-01-07T10:59:03.432Z] "- - -" 0 - - - "-" 1 1 1 - "-" "-" "-" "-" "1.1.1.1:443" PassthroughCluster 10.0.0.1:1 1.1.1.1:443 10.0.0.1:2 invalid:bad_host -"#,
        );
        let d = c.destination.unwrap();
        assert_eq!((d.host, d.protocol), (None, Protocol::Tcp));
    }

    #[test]
    fn cluster_domain() {
        let r = Rules {
            cluster_domain: "corp.internal".into(),
        };
        assert!(r.is_cluster_local("a.b.svc.corp.internal"));
        assert!(r.is_cluster_local("a.b.svc"));
        assert!(r.is_cluster_local("httpbin"));
        assert!(!r.is_cluster_local("a.b.svc.cluster.local.example.com"));
        assert!(!r.is_cluster_local("xcorp.internal.example.com"));
        assert!(!r.is_cluster_local("notcorp.internalx"));
    }
}
