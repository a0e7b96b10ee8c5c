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
    /// An entry-like line that an application container printed (the envelope or path names a
    /// container that is not a proxy): never traffic, since any workload can print one.
    Application,
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
            Class::Application => "application",
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
    /// The name the client used (`:authority` or SNI) when it was not taken as the destination:
    /// a cluster-local name sent to an address outside the mesh is what the client called it,
    /// not where the traffic went.
    pub claimed: Option<Cow<'a, str>>,
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
    /// `--mesh-cidr`: the pod and service ranges of the cluster. Passthrough or blocked traffic
    /// to an address in one of them is in-mesh; nothing else from a log makes it so.
    pub mesh_cidrs: Vec<Cidr>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            cluster_domain: "cluster.local".to_owned(),
            mesh_cidrs: Vec::new(),
        }
    }
}

/// An address range, `network/bits`, its host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    pub network: IpAddr,
    pub bits: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::/n` or a bare address (a /32 or /128). Host bits must be zero,
    /// as Kubernetes and Istio require of the ranges they take.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (net, bits) = match s.split_once('/') {
            Some((n, b)) => (n, Some(b)),
            None => (s, None),
        };
        let network: IpAddr = net
            .parse()
            .map_err(|_| format!("{s:?} is not an address or CIDR range"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => match b.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("{s:?}: the prefix length must be 0 to {max}")),
            },
        };
        let c = Cidr { network, bits };
        if c.masked(network) != network {
            return Err(format!(
                "{s:?} has host bits set: the range is {}/{bits}",
                c.masked(network)
            ));
        }
        Ok(c)
    }

    fn masked(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) if self.network.is_ipv4() => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            ip => ip,
        };
        ip.is_ipv4() == self.network.is_ipv4() && self.masked(ip) == self.network
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.bits)
    }
}

impl Rules {
    /// Whether `ip` is in a `--mesh-cidr` range.
    pub fn in_mesh_cidr(&self, ip: IpAddr) -> bool {
        self.mesh_cidrs.iter().any(|c| c.contains(ip))
    }

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
    // A cluster-local name is what the client called the destination, not where the traffic
    // went: the address (or, for registered traffic, the ServiceEntry's cluster) says that.
    let mut claimed = None;
    if host.as_deref().is_some_and(|h| rules.is_cluster_local(h))
        && (address.is_some() || verdict == Verdict::Registered)
    {
        claimed = host.take();
    }
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

    // Where the traffic went decides, never what the client called it: a Host header or SNI is
    // chosen by the workload. Only the original destination address can make passthrough or
    // blocked traffic in-mesh: Istio's auto-allocated ServiceEntry addresses (a host the mesh
    // knows, outside this sidecar's scope) and the `--mesh-cidr` ranges.
    let scope = address.map(addr::scope);
    let in_mesh_address = verdict != Verdict::Registered
        && address
            .is_some_and(|ip| scope == Some(AddrScope::AutoAllocated) || rules.in_mesh_cidr(ip));
    let category = if in_mesh_address {
        Category::Mesh
    } else if scope == Some(AddrScope::Private)
        || (address.is_none() && host.as_deref().is_some_and(|h| rules.is_cluster_local(h)))
    {
        // A private original destination is often a pod, a node or a ClusterIP; a
        // cluster-local name with no address logged cannot be checked either way.
        Category::Private
    } else {
        Category::External
    };
    let (class, reason) = match (category, verdict) {
        (Category::Mesh, _) if scope == Some(AddrScope::AutoAllocated) => (
            Class::Internal,
            "destination is an auto-allocated ServiceEntry address: a known host outside this sidecar's scope",
        ),
        (Category::Mesh, _) => (
            Class::Internal,
            "destination address is in a --mesh-cidr range",
        ),
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
            claimed,
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

    /// A 50 MiB POST through PassthroughCluster to an address outside the mesh, the Host
    /// header chosen by the client.
    fn exfil(host: &str) -> String {
        format!(
            r#"[2024-05-13T22:15:00.000Z] "POST /upload HTTP/1.1" 200 - via_upstream - "-" 52428800 2 40 39 "-" "curl/8.5.0" "id" "{host}" "198.51.100.66:80" PassthroughCluster 10.1.0.7:51000 198.51.100.66:80 10.1.0.7:50999 - allow_any"#
        )
    }

    #[test]
    fn a_client_chosen_name_never_makes_traffic_in_mesh() {
        for host in [
            "localhost",
            "exfil",
            "payload.svc",
            "x.default.svc.cluster.local",
            "x.default.svc.cluster.local.",
            "LOCALHOST:80",
        ] {
            let line = exfil(host);
            let c = cls(&line);
            assert_eq!(c.class, Class::Passthrough, "{host}: {}", c.reason);
            let d = c.destination.unwrap();
            assert_eq!(d.host, None, "{host}");
            assert_eq!(d.address, Some("198.51.100.66".parse().unwrap()));
            assert_eq!(
                d.category,
                Category::Private,
                "documentation addresses are special"
            );
            assert!(d.claimed.is_some(), "{host}");
        }
        // The same to a public address: external, keyed by the address.
        let line = exfil("payload.svc").replace("198.51.100.66", "140.82.121.3");
        let d = cls(&line).destination.unwrap();
        assert_eq!((d.host, d.category), (None, Category::External));
        assert_eq!(d.claimed.as_deref(), Some("payload.svc"));
        // An SNI too.
        let tls = r#"[2024-05-13T22:15:00.000Z] "- - -" 0 - - - "-" 100 200 5 - "-" "-" "-" "-" "140.82.121.3:443" PassthroughCluster 10.1.0.7:51000 140.82.121.3:443 10.1.0.7:50999 kubernetes.default.svc -"#;
        let c = cls(tls);
        assert_eq!(c.class, Class::Passthrough);
        let d = c.destination.unwrap();
        assert_eq!((d.host, d.protocol), (None, Protocol::Tls));
        assert_eq!(d.claimed.as_deref(), Some("kubernetes.default.svc"));
    }

    #[test]
    fn mesh_cidrs_make_addresses_in_mesh() {
        let rules = Rules {
            mesh_cidrs: vec![
                Cidr::parse("10.96.0.0/12").unwrap(),
                Cidr::parse("fd00:10::/64").unwrap(),
            ],
            ..Rules::default()
        };
        let line = r#"[2023-01-07T10:59:03.432Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 1 1 1 "-" "curl" "id" "reviews.bookinfo:9080" "10.96.3.4:9080" PassthroughCluster 10.0.0.1:1 10.96.3.4:9080 10.0.0.1:2 - allow_any"#;
        let (_, r) = text::parse(line.as_bytes()).unwrap();
        let c = classify(&r, &rules);
        assert_eq!(c.class, Class::Internal);
        assert_eq!(c.reason, "destination address is in a --mesh-cidr range");
        // Outside the ranges, the same line is private passthrough.
        let outside = line.replace("10.96.3.4", "10.200.3.4");
        let (_, r) = text::parse(outside.as_bytes()).unwrap();
        assert_eq!(classify(&r, &rules).class, Class::Passthrough);
    }

    #[test]
    fn cidrs_parse_strictly() {
        assert_eq!(Cidr::parse("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(Cidr::parse("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
        assert_eq!(
            Cidr::parse("2001:db8::/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        assert!(
            Cidr::parse("10.0.0.1/8")
                .unwrap_err()
                .contains("10.0.0.0/8")
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("::/129").is_err());
        assert!(Cidr::parse("cluster.local").is_err());
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.255.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
    }

    #[test]
    fn short_names_and_invalid_sni() {
        // A short name sent to a private address: passthrough to that address, reported with
        // the name the client used.
        let c = cls(
            r#"[2023-01-07T10:59:03.432Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 1 1 1 "-" "curl" "id" "httpbin:8000" "10.0.0.5:8000" PassthroughCluster 10.0.0.1:1 10.0.0.5:8000 10.0.0.1:2 - allow_any"#,
        );
        assert_eq!(c.class, Class::Passthrough);
        let d = c.destination.unwrap();
        assert_eq!((d.host, d.category), (None, Category::Private));
        assert_eq!(d.claimed.as_deref(), Some("httpbin"));
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
            ..Rules::default()
        };
        assert!(r.is_cluster_local("a.b.svc.corp.internal"));
        assert!(r.is_cluster_local("a.b.svc"));
        assert!(r.is_cluster_local("httpbin"));
        assert!(!r.is_cluster_local("a.b.svc.cluster.local.example.com"));
        assert!(!r.is_cluster_local("xcorp.internal.example.com"));
        assert!(!r.is_cluster_local("notcorp.internalx"));
    }
}
