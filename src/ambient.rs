//! Ambient mode: what a ztunnel access-log line says about a connection, in the terms the rest
//! of the tool uses for sidecar lines.
//!
//! ztunnel writes one line per connection when it closes, from the client's node (`outbound`)
//! and from the server's (`inbound`). For egress, the `outbound` line is the one to count: an
//! external destination has no ztunnel of its own. How each kind of connection looks follows
//! ztunnel's source (`src/proxy/outbound.rs`, `src/proxy/metrics.rs`):
//!
//! | kind | how the line shows it | destination |
//! |---|---|---|
//! | passthrough | no `dst.service`, no `dst.hbone_addr`: nothing in the mesh matched | `dst.addr` |
//! | ServiceEntry, no waypoint | `dst.service` outside the cluster domain, plain TCP (no `dst.hbone_addr`) | `dst.service`, the port of `dst.addr` (the entry's target port) |
//! | through a waypoint | `dst.hbone_addr` with an address other than `dst.addr`'s: HBONE to a waypoint, the CONNECT naming the service's VIP | `dst.service` (or the VIP), the port of `dst.hbone_addr` (the entry's port) |
//! | in-mesh | `dst.hbone_addr` at `dst.addr`'s address (pod to pod), a `dst.service` in the cluster domain on a non-public `dst.addr`, or an address in `--mesh-cidr` or Istio's auto-allocated range | none |
//!
//! A name never makes a connection in-mesh: plain TCP to a public `dst.addr` is egress to that
//! address even when `dst.service` is in the cluster domain (a Service with endpoints outside
//! the cluster logs so); the name is kept as `seen_as`, a hint.
//!
//! A log line cannot say that `dst.workload` is a waypoint; a CONNECT to another address than
//! the one dialled is what only a waypoint (or an east-west gateway) produces, so that is the
//! rule, and `explain` names it. ztunnel's `bytes_sent` is what the workload on the line's side
//! sent: for an `outbound` line, the workload's upload, the opposite of Envoy's `%BYTES_SENT%`.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::classify::{Category, Class, Protocol, Rules, Verdict};
use crate::parse::Record;
use crate::parse::addr::{AddrScope, scope, split_socket};
use crate::parse::ztunnel::{Direction, Event, ZtunnelEntry, trust_domain};

/// What kind of connection a ztunnel line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Outbound to an address nothing in the mesh matched: ambient's passthrough (ztunnel does
    /// not enforce REGISTRY_ONLY, so there is no blocked counterpart).
    Passthrough,
    /// Outbound to a ServiceEntry host, sent by ztunnel itself without a waypoint.
    ServiceEntry,
    /// Outbound through a waypoint (HBONE to it, naming the service's VIP).
    Waypoint,
    /// Outbound to a destination in the mesh.
    InMesh,
    /// Written by the server's ztunnel: the outbound line of the same connection counts it.
    Inbound,
    /// `connection failed`: refused before any metadata.
    Failed,
    /// `connection opened` (debug level): its `connection complete` line follows.
    Opened,
    /// A line of the access target with no direction or addresses to judge.
    Unknown,
}

impl Flow {
    pub fn name(self) -> &'static str {
        match self {
            Flow::Passthrough => "ambient-passthrough",
            Flow::ServiceEntry => "ambient-service-entry",
            Flow::Waypoint => "ambient-waypoint",
            Flow::InMesh => "ambient-internal",
            Flow::Inbound => "ambient-inbound",
            Flow::Failed => "ambient-failed",
            Flow::Opened => "ambient-opened",
            Flow::Unknown => "ambient-unknown",
        }
    }

    /// The class the line is counted in, in the model of sidecar lines: passthrough as
    /// passthrough, a ServiceEntry host (with or without a waypoint) as registered, a failed
    /// connection as an entry that says nothing certain, an opened one as noise (its complete
    /// line counts the connection).
    pub fn class(self) -> Class {
        match self {
            Flow::Passthrough => Class::Passthrough,
            Flow::ServiceEntry | Flow::Waypoint => Class::Registered,
            Flow::InMesh => Class::Internal,
            Flow::Inbound => Class::Inbound,
            Flow::Failed | Flow::Unknown => Class::Unknown,
            Flow::Opened => Class::Noise,
        }
    }

    /// Every flow, in report order.
    pub const ALL: [Flow; 8] = [
        Flow::Passthrough,
        Flow::ServiceEntry,
        Flow::Waypoint,
        Flow::InMesh,
        Flow::Inbound,
        Flow::Failed,
        Flow::Opened,
        Flow::Unknown,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the connection left (or was sent towards) the mesh's outside.
    pub fn is_egress(self) -> bool {
        matches!(
            self,
            Flow::Passthrough | Flow::ServiceEntry | Flow::Waypoint
        )
    }
}

/// Where an egress connection went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination<'a> {
    /// The ServiceEntry host, when the line names one.
    pub host: Option<&'a str>,
    /// The address: the real upstream for passthrough and ServiceEntry lines, the service's
    /// VIP through a waypoint.
    pub address: Option<IpAddr>,
    pub port: u16,
    /// External or private (for passthrough to a private address not in `--mesh-cidr`).
    pub category: Category,
    /// A name the line gave that was not taken as the destination: a cluster-local
    /// `dst.service` on a connection to a public address. A hint, never proof.
    pub seen_as: Option<&'a str>,
}

/// Who made the connection, as far as the line says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller<'a> {
    pub namespace: Option<&'a str>,
    /// The pod name (`src.workload`).
    pub pod: Option<&'a str>,
    /// The workload the pod belongs to, derived from the pod name as for envelopes.
    pub workload: Option<&'a str>,
    /// The service account, from `src.identity` (HBONE only).
    pub service_account: Option<&'a str>,
    /// The trust domain, from `src.identity`: never assumed to be `cluster.local`.
    pub trust_domain: Option<&'a str>,
    /// The AuthorizationPolicy principal (`<trust domain>/ns/<ns>/sa/<sa>`: `src.identity`
    /// without `spiffe://`), when the line carried a well-formed identity (HBONE only).
    pub principal: Option<&'a str>,
}

impl<'a> Caller<'a> {
    /// The pod the line names, in `--pods`' list.
    pub fn pod_info<'p>(
        &self,
        pods: Option<&'p crate::pods::Pods>,
    ) -> Option<&'p crate::pods::Pod> {
        pods?.get(self.namespace?, self.pod?)
    }

    /// The caller's workload: its owner in `--pods`' list, else derived from the pod name.
    pub fn workload_with<'p>(&self, pod: Option<&'p crate::pods::Pod>) -> Option<&'p str>
    where
        'a: 'p,
    {
        pod.map(|p| &*p.workload).or(self.workload)
    }
}

/// One ztunnel line, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged<'a> {
    pub flow: Flow,
    /// For egress flows.
    pub destination: Option<Destination<'a>>,
    pub caller: Caller<'a>,
    /// What the workload sent and received, on its side of the connection.
    pub uploaded: u64,
    pub downloaded: u64,
    /// The rule that decided, in words, for `explain`.
    pub reason: &'static str,
}

impl<'a> Judged<'a> {
    /// The destination in the terms of sidecar lines, for the summary: keyed by host, else
    /// address; TCP, since ztunnel sees no protocol.
    pub fn summary_destination(&self) -> Option<crate::classify::Destination<'a>> {
        let d = self.destination.as_ref()?;
        let verdict = match self.flow {
            Flow::Passthrough => Verdict::Passthrough,
            Flow::ServiceEntry | Flow::Waypoint => Verdict::Registered,
            _ => return None,
        };
        // A wildcard ServiceEntry host (DYNAMIC_DNS) names no one host: the address keys it,
        // as for a sidecar's wildcard cluster, and the name stays a hint.
        let (host, wildcard) = match d.host {
            Some(h) if h.contains('*') => (None, Some(h)),
            h => (h, None),
        };
        // Through a waypoint, the address is the service's VIP, not where the traffic went
        // (the waypoint resolves the host itself): the host keys it alone. An auto-allocated
        // VIP with no host to name is the mesh's own address, no destination.
        let address = match self.flow {
            Flow::Waypoint if host.is_some() => None,
            _ => d.address,
        };
        if host.is_none() && address.is_none_or(|ip| scope(ip) == AddrScope::AutoAllocated) {
            return None;
        }
        Some(crate::classify::Destination {
            verdict,
            host: host.map(lower),
            address,
            port: d.port,
            protocol: Protocol::Tcp,
            category: d.category,
            claimed: d.seen_as.or(wildcard).map(lower),
        })
    }
}

fn lower(s: &str) -> Cow<'_, str> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// The line as a sidecar entry would give it, for the per-destination counters: the time it
/// was written and the bytes on the workload's side. ztunnel's `bytes_sent` is the workload's
/// upload, which Envoy logs as `%BYTES_RECEIVED%` (what the proxy received from it).
pub fn record<'a>(e: &'a ZtunnelEntry<'a>) -> Record<'a> {
    Record {
        start_time: e.time.as_deref(),
        bytes_received: e.bytes_sent,
        bytes_sent: e.bytes_recv,
        ..Record::default()
    }
}

/// Judges one ztunnel line.
pub fn judge<'a>(e: &'a ZtunnelEntry<'a>, rules: &Rules) -> Judged<'a> {
    let caller = caller(e);
    let (uploaded, downloaded) = (e.bytes_sent, e.bytes_recv);
    let judged = |flow, destination, reason| Judged {
        flow,
        destination,
        caller: caller.clone(),
        uploaded,
        downloaded,
        reason,
    };
    match e.event {
        Some(Event::Opened) => {
            return judged(
                Flow::Opened,
                None,
                "connection opened: its connection complete line counts it",
            );
        }
        Some(Event::Failed) => {
            return judged(
                Flow::Failed,
                None,
                "connection failed: refused by ztunnel before any metadata",
            );
        }
        _ => {}
    }
    match e.direction {
        Some(Direction::Inbound) => {
            return judged(
                Flow::Inbound,
                None,
                "inbound: written by the server's ztunnel; the client's outbound line counts the connection",
            );
        }
        Some(Direction::Outbound) => {}
        None => return judged(Flow::Unknown, None, "no direction"),
    }
    let Some((dst_ip, dst_port)) = e.dst_addr.as_deref().and_then(split_socket) else {
        return judged(Flow::Unknown, None, "no readable dst.addr");
    };
    let service = e.dst_service.as_deref();

    if let Some(hbone) = e.dst_hbone_addr.as_deref() {
        let target = split_socket(hbone);
        let same_address = target.is_some_and(|(ip, _)| ip == dst_ip);
        if same_address || target.is_none() {
            // Pod to pod over HBONE (or a CONNECT to a name: cross-network, in the mesh).
            return judged(
                Flow::InMesh,
                None,
                "HBONE to the address it names: pod to pod in the mesh",
            );
        }
        let (vip, port) = target.unwrap_or((dst_ip, dst_port));
        if service.is_some_and(|s| rules.is_cluster_local(s)) {
            return judged(
                Flow::InMesh,
                None,
                "through a waypoint to a service in the cluster domain",
            );
        }
        if service.is_none() && !scope_is_outside(vip, rules) {
            return judged(
                Flow::InMesh,
                None,
                "through a waypoint to an address in the mesh",
            );
        }
        return judged(
            Flow::Waypoint,
            Some(Destination {
                host: service,
                address: Some(vip),
                port,
                // A ServiceEntry host is external; a bare VIP (or one behind a wildcard host,
                // which names no one destination) is where its address says.
                category: if service.is_some_and(|s| !s.contains('*')) {
                    Category::External
                } else {
                    category_of(vip, rules)
                },
                seen_as: None,
            }),
            "HBONE to another address than the one it names: through a waypoint, to a ServiceEntry host",
        );
    }

    if let Some(s) = service {
        if rules.is_cluster_local(s) {
            // A name cannot make a connection in-mesh: plain TCP to a public address left the
            // mesh, whatever the line calls it (a Service with endpoints outside, say).
            if is_public(dst_ip, rules) {
                return judged(
                    Flow::Passthrough,
                    Some(Destination {
                        host: None,
                        address: Some(dst_ip),
                        port: dst_port,
                        category: Category::External,
                        seen_as: Some(s),
                    }),
                    "dst.service is in the cluster domain but dst.addr is public, without HBONE: egress to the address, the name only a hint",
                );
            }
            return judged(
                Flow::InMesh,
                None,
                "dst.service is in the cluster domain and dst.addr is not public",
            );
        }
        return judged(
            Flow::ServiceEntry,
            Some(Destination {
                host: Some(s),
                address: Some(dst_ip),
                port: dst_port,
                category: category_of(dst_ip, rules),
                seen_as: None,
            }),
            "dst.service outside the cluster domain, sent without HBONE: a ServiceEntry host with no waypoint",
        );
    }

    if !scope_is_outside(dst_ip, rules) {
        return judged(
            Flow::InMesh,
            None,
            "no service matched, but the address is in --mesh-cidr or Istio's auto-allocated range",
        );
    }
    judged(
        Flow::Passthrough,
        Some(Destination {
            host: None,
            address: Some(dst_ip),
            port: dst_port,
            category: category_of(dst_ip, rules),
            seen_as: None,
        }),
        "nothing in the mesh matched the address: passthrough",
    )
}

/// Whether an address lies outside the mesh's own ranges (`--mesh-cidr`, auto-allocated VIPs).
fn scope_is_outside(ip: IpAddr, rules: &Rules) -> bool {
    !(rules.in_mesh_cidr(ip) || scope(ip) == AddrScope::AutoAllocated)
}

/// Whether an address is on the internet: public, and in none of the mesh's ranges.
fn is_public(ip: IpAddr, rules: &Rules) -> bool {
    scope(ip) == AddrScope::Public && !rules.in_mesh_cidr(ip)
}

/// External only on the internet: a public address outside `--mesh-cidr`.
fn category_of(ip: IpAddr, rules: &Rules) -> Category {
    if is_public(ip, rules) {
        Category::External
    } else {
        Category::Private
    }
}

fn caller<'a>(e: &'a ZtunnelEntry<'a>) -> Caller<'a> {
    let identity = e.src_identity.as_deref();
    // spiffe://<td>/ns/<ns>/sa/<sa>, with names Kubernetes would accept: anything else is not
    // an identity ztunnel issued, and is not kept.
    let parsed = identity.and_then(|id| {
        let principal = id.strip_prefix("spiffe://")?;
        let td = trust_domain(id)?;
        let (_, rest) = principal.split_once("/ns/")?;
        let (ns, sa) = rest.split_once("/sa/")?;
        let ok = crate::validate::is_dns1123_label(ns, false)
            && crate::validate::is_dns1123_subdomain(sa)
            && td.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
        ok.then_some((principal, td, sa))
    });
    let pod = e.src_workload.as_deref();
    Caller {
        namespace: e.src_namespace.as_deref(),
        pod,
        workload: pod.map(crate::envelope::meta::workload_of_pod),
        service_account: parsed.map(|p| p.2),
        trust_domain: parsed.map(|p| p.1),
        principal: parsed.map(|p| p.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// host, address, port
    type Dest = (Option<String>, Option<String>, u16);

    fn judge_line(line: &str, rules: &Rules) -> (Flow, Option<Dest>) {
        let e = ZtunnelEntry::parse(line.as_bytes()).unwrap().unwrap();
        let j = judge(&e, rules);
        let d = j.destination.map(|d| {
            (
                d.host.map(str::to_owned),
                d.address.map(|a| a.to_string()),
                d.port,
            )
        });
        (j.flow, d)
    }

    const T: &str = "2024-05-04T10:11:04.964851Z\tinfo\taccess\tconnection complete\t";

    #[test]
    fn the_published_cases() {
        let r = Rules::default();
        // (c) passthrough.
        let (f, d) = judge_line(
            &format!(
                "{T}src.addr=10.150.37.52:48300 src.workload=\"dev-some-app-645dbdfff6-jcd2t\" src.namespace=\"some-ns\" dst.addr=172.217.5.14:443 direction=\"outbound\" bytes_sent=800 bytes_recv=8468 duration=\"73ms\""
            ),
            &r,
        );
        assert_eq!(f, Flow::Passthrough);
        assert_eq!(d, Some((None, Some("172.217.5.14".into()), 443)));
        // (e) through a waypoint: the VIP and the entry's port.
        let (f, d) = judge_line(
            &format!(
                "{T}src.addr=10.1.2.3:37048 src.workload=\"x\" src.namespace=\"namespace-b\" src.identity=\"spiffe://cluster.local/ns/namespace-b/sa/xxx\" dst.addr=10.1.2.4:15008 dst.hbone_addr=240.240.0.9:80 dst.service=\"example.com\" dst.workload=\"egress-gateway-78d7cb9ddc-xwxtk\" dst.namespace=\"istio-gateway\" direction=\"outbound\" bytes_sent=1 bytes_recv=2 duration=\"1ms\""
            ),
            &r,
        );
        assert_eq!(f, Flow::Waypoint);
        assert_eq!(
            d,
            Some((Some("example.com".into()), Some("240.240.0.9".into()), 80))
        );
        // Counted by host alone: the VIP is not where the traffic went.
        let line = format!(
            "{T}src.addr=10.1.2.3:37048 dst.addr=10.1.2.4:15008 dst.hbone_addr=240.240.0.9:80 dst.service=\"Example.com\" direction=\"outbound\""
        );
        let e = ZtunnelEntry::parse(line.as_bytes()).unwrap().unwrap();
        let sd = judge(&e, &r).summary_destination().unwrap();
        assert_eq!(
            (sd.host.as_deref(), sd.address, sd.port),
            (Some("example.com"), None, 80)
        );
        assert_eq!(
            (sd.verdict, sd.protocol),
            (Verdict::Registered, Protocol::Tcp)
        );
        // A wildcard host names no one destination, and its VIP is the mesh's.
        let wild = line.replace("Example.com", "*.example.com");
        let e = ZtunnelEntry::parse(wild.as_bytes()).unwrap().unwrap();
        assert_eq!(judge(&e, &r).summary_destination(), None);
        // (d) a ServiceEntry host without a waypoint: the real upstream and target port.
        let (f, d) = judge_line(
            &format!(
                "{T}src.addr=10.0.0.5:4000 src.workload=\"a-1\" src.namespace=\"shop\" dst.addr=93.184.216.34:443 dst.service=\"api.example.com\" dst.workload=\"api-example\" dst.namespace=\"egress\" direction=\"outbound\" bytes_sent=1 bytes_recv=2 duration=\"1ms\""
            ),
            &r,
        );
        assert_eq!(f, Flow::ServiceEntry);
        assert_eq!(
            d,
            Some((
                Some("api.example.com".into()),
                Some("93.184.216.34".into()),
                443
            ))
        );
        // (a) pod to pod over HBONE.
        let (f, _) = judge_line(
            &format!(
                "{T}src.addr=10.244.1.12:35520 dst.addr=10.244.1.9:15008 dst.hbone_addr=10.244.1.9:9080 dst.service=\"reviews.default.svc.cluster.local\" direction=\"outbound\" bytes_sent=84 bytes_recv=169 duration=\"2ms\""
            ),
            &r,
        );
        assert_eq!(f, Flow::InMesh);
        // Through a waypoint to an in-cluster service.
        let (f, _) = judge_line(
            &format!(
                "{T}src.addr=10.0.0.1:1 dst.addr=10.0.0.9:15008 dst.hbone_addr=10.96.0.10:9080 dst.service=\"ratings.bookinfo.svc.cluster.local\" direction=\"outbound\" bytes_sent=1 bytes_recv=1 duration=\"1ms\""
            ),
            &r,
        );
        assert_eq!(f, Flow::InMesh);
        // (b) inbound.
        let (f, _) = judge_line(
            &format!(
                "{T}src.addr=23.1.2.3:55102 dst.addr=10.60.0.10:8080 dst.service=\"frontend-external.demo.svc.cluster.local\" direction=\"inbound\" bytes_sent=11094 bytes_recv=78 duration=\"208ms\""
            ),
            &r,
        );
        assert_eq!(f, Flow::Inbound);
    }

    proptest::proptest! {
        /// Whatever the line says, a destination's category agrees with its name and address
        /// as a partial result checks them on reading (`partial::unfounded_claims`): external
        /// only with a name outside the cluster domain and an address neither private nor the
        /// mesh's, private only with a private address.
        #[test]
        fn categories_agree_with_addresses(
            dst in 0usize..6,
            hbone in 0usize..7,
            service in 0usize..5,
            port in 1u16..,
        ) {
            const ADDRS: [&str; 6] = [
                "93.184.216.34", "10.244.1.9", "240.240.0.5", "198.51.100.7", "[2001:db8::1]", "[2a00:1450::1]",
            ];
            const SERVICES: [&str; 5] = [
                "api.example.com", "a.b.svc.cluster.local", "short", "*.example.com", "x.svc",
            ];
            let mut line = format!("{T}src.addr=10.0.0.1:1 dst.addr={}:{port}", ADDRS[dst]);
            if let Some(h) = ADDRS.get(hbone) {
                line.push_str(&format!(" dst.hbone_addr={h}:{port}"));
            }
            if let Some(s) = SERVICES.get(service) {
                line.push_str(&format!(" dst.service=\"{s}\""));
            }
            line.push_str(" direction=\"outbound\"");
            let rules = Rules {
                mesh_cidrs: vec![
                    crate::classify::Cidr::parse("198.51.100.0/24").unwrap(),
                    crate::classify::Cidr::parse("2a00:1450::/32").unwrap(),
                ],
                ..Rules::default()
            };
            let e = ZtunnelEntry::parse(line.as_bytes()).unwrap().unwrap();
            let j = judge(&e, &rules);
            if let Some(d) = j.summary_destination() {
                let mesh = |ip: IpAddr| scope(ip) == AddrScope::AutoAllocated || rules.in_mesh_cidr(ip);
                let private = |ip: IpAddr| scope(ip) == AddrScope::Private;
                match d.category {
                    Category::External => {
                        proptest::prop_assert!(d.host.as_deref().is_none_or(|h| !rules.is_cluster_local(h)), "{line}");
                        proptest::prop_assert!(d.address.is_none_or(|ip| !private(ip) && !mesh(ip)), "{line}");
                    }
                    Category::Private => {
                        proptest::prop_assert!(d.address.is_some_and(|ip| private(ip) || mesh(ip)), "{line}");
                    }
                    Category::Mesh => proptest::prop_assert!(false, "{line}"),
                }
                proptest::prop_assert!(d.host.is_some() || d.address.is_some());
            }
        }
    }

    #[test]
    fn a_waypoint_to_a_bare_address_keeps_its_category() {
        // No service named, a VIP outside --mesh-cidr: egress through the waypoint, to an
        // address whose scope says private or external.
        let line = format!(
            "{T}src.addr=10.0.0.1:1 dst.addr=10.0.0.9:15008 dst.hbone_addr=10.96.0.10:5432 direction=\"outbound\""
        );
        let e = ZtunnelEntry::parse(line.as_bytes()).unwrap().unwrap();
        let j = judge(&e, &Rules::default());
        assert_eq!(j.flow, Flow::Waypoint);
        let d = j.summary_destination().unwrap();
        assert_eq!(
            (d.address, d.category),
            (Some("10.96.0.10".parse().unwrap()), Category::Private)
        );
        // Behind a wildcard host, which names no one destination, likewise.
        let wild = line.replace("direction=", "dst.service=\"*.example.com\" direction=");
        let e = ZtunnelEntry::parse(wild.as_bytes()).unwrap().unwrap();
        let d = judge(&e, &Rules::default()).summary_destination().unwrap();
        assert_eq!((d.host, d.category), (None, Category::Private));
        assert_eq!(d.claimed.as_deref(), Some("*.example.com"));
        let public = line.replace("10.96.0.10", "93.184.216.34");
        let e = ZtunnelEntry::parse(public.as_bytes()).unwrap().unwrap();
        assert_eq!(
            judge(&e, &Rules::default())
                .summary_destination()
                .unwrap()
                .category,
            Category::External
        );
    }

    #[test]
    fn the_mesh_ranges_decide_what_is_in_mesh() {
        let line = format!(
            "{T}src.addr=10.0.0.1:1 dst.addr=10.244.3.4:8080 direction=\"outbound\" bytes_sent=1 bytes_recv=1 duration=\"1ms\""
        );
        let (f, d) = judge_line(&line, &Rules::default());
        assert_eq!(f, Flow::Passthrough, "a private address nothing declares");
        assert_eq!(d.map(|d| d.1), Some(Some("10.244.3.4".to_owned())));
        let rules = Rules {
            mesh_cidrs: vec![crate::classify::Cidr::parse("10.244.0.0/16").unwrap()],
            ..Rules::default()
        };
        assert_eq!(judge_line(&line, &rules).0, Flow::InMesh);
        // An auto-allocated VIP dialled without a match is the mesh's.
        let vip = format!(
            "{T}src.addr=10.0.0.1:1 dst.addr=240.240.0.7:443 direction=\"outbound\" bytes_sent=1 bytes_recv=1 duration=\"1ms\""
        );
        assert_eq!(judge_line(&vip, &Rules::default()).0, Flow::InMesh);
    }

    #[test]
    fn a_cluster_local_name_never_makes_a_public_address_in_mesh() {
        // Plain TCP to a public address: whatever dst.service says (a Kubernetes Service with
        // endpoints outside, or a forged line), the connection left the mesh. It is egress to
        // the address; the name is kept only as what the connection was seen as.
        let line = format!(
            "{T}src.addr=10.0.0.1:1 dst.addr=93.184.216.34:443 dst.service=\"exfil.default.svc.cluster.local\" direction=\"outbound\" bytes_sent=1 bytes_recv=1 duration=\"1ms\""
        );
        let e = ZtunnelEntry::parse(line.as_bytes()).unwrap().unwrap();
        let j = judge(&e, &Rules::default());
        assert_eq!(j.flow, Flow::Passthrough, "{}", j.reason);
        let d = j.destination.unwrap();
        assert_eq!(d.host, None, "the name is not the destination");
        assert_eq!(d.address, Some("93.184.216.34".parse().unwrap()));
        assert_eq!((d.port, d.category), (443, Category::External));
        assert_eq!(d.seen_as, Some("exfil.default.svc.cluster.local"));
        // The same name to a private address (a pod outside --mesh-cidr) or to an address in
        // the mesh's ranges stays the mesh's own.
        let private = line.replace("93.184.216.34", "10.244.3.4");
        assert_eq!(judge_line(&private, &Rules::default()).0, Flow::InMesh);
        let rules = Rules {
            mesh_cidrs: vec![crate::classify::Cidr::parse("93.184.216.0/24").unwrap()],
            ..Rules::default()
        };
        assert_eq!(judge_line(&line, &rules).0, Flow::InMesh);
        let short = line.replace("exfil.default.svc.cluster.local", "exfil");
        assert_eq!(judge_line(&short, &Rules::default()).0, Flow::Passthrough);
    }

    #[test]
    fn callers_and_bytes() {
        let line = format!(
            "{T}src.addr=10.0.0.1:1 src.workload=\"checkout-7d4b9c8f6d-x2x9q\" src.namespace=\"shop\" src.identity=\"spiffe://prod.example/ns/shop/sa/checkout\" dst.addr=10.1.2.4:15008 dst.hbone_addr=240.240.0.9:443 dst.service=\"api.stripe.com\" direction=\"outbound\" bytes_sent=1200 bytes_recv=56000 duration=\"40ms\""
        );
        let e = ZtunnelEntry::parse(line.as_bytes()).unwrap().unwrap();
        let j = judge(&e, &Rules::default());
        assert_eq!(j.caller.workload, Some("checkout"));
        assert_eq!(j.caller.service_account, Some("checkout"));
        assert_eq!(j.caller.trust_domain, Some("prod.example"));
        assert_eq!(j.caller.principal, Some("prod.example/ns/shop/sa/checkout"));
        assert_eq!(
            (j.uploaded, j.downloaded),
            (1200, 56000),
            "ztunnel counts from the workload's side"
        );
        // Passthrough lines carry no identity: no principal is made up.
        let line = format!(
            "{T}src.addr=10.0.0.1:1 src.workload=\"a-1\" src.namespace=\"shop\" dst.addr=1.2.3.4:443 direction=\"outbound\" bytes_sent=1 bytes_recv=1 duration=\"1ms\""
        );
        let e = ZtunnelEntry::parse(line.as_bytes()).unwrap().unwrap();
        assert_eq!(judge(&e, &Rules::default()).caller.principal, None);
        // An identity that is not one ztunnel issues is not kept.
        for bad in [
            "spiffe://td/ns/Shop/sa/x",
            "spiffe://td/ns/shop/sa/x/y",
            "td/ns/shop/sa/x",
        ] {
            let line = format!(
                "{T}src.addr=10.0.0.1:1 src.identity=\"{bad}\" dst.addr=1.2.3.4:443 direction=\"outbound\""
            );
            let e = ZtunnelEntry::parse(line.as_bytes()).unwrap().unwrap();
            let c = judge(&e, &Rules::default()).caller;
            assert_eq!((c.principal, c.trust_domain), (None, None), "{bad}");
        }
    }

    #[test]
    fn failed_opened_and_unknown() {
        let failed = "2024-05-04T10:11:04.964851Z\twarn\taccess\tconnection failed\tsrc.addr=10.0.0.1:1 dst.addr=1.2.3.4:443 direction=\"outbound\" error=\"unknown source\"";
        assert_eq!(judge_line(failed, &Rules::default()).0, Flow::Failed);
        let opened = "2024-05-04T10:11:04.964851Z\tdebug\taccess\tconnection opened\tsrc.addr=10.0.0.1:1 dst.addr=1.2.3.4:443 direction=\"outbound\"";
        assert_eq!(judge_line(opened, &Rules::default()).0, Flow::Opened);
        let undirected = format!("{T}src.addr=10.0.0.1:1 dst.addr=1.2.3.4:443");
        assert_eq!(judge_line(&undirected, &Rules::default()).0, Flow::Unknown);
        assert!(Flow::Waypoint.is_egress() && !Flow::InMesh.is_egress());
    }
}
