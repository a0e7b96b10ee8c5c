//! Who called a destination, by namespace, and which destinations the gate checks.

use std::net::IpAddr;

use serde::Serialize;

use crate::aggregate::{DestKey, DestStats, SourceCount, Summary};
use crate::classify::Category;
use crate::config::Selection;
use crate::existing::host_matches;
use crate::parse::time::Millis;

use super::ser_time;

/// One namespace's undeclared calls to one destination.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NsUse<'a> {
    /// `None` when the logs do not say.
    pub namespace: Option<&'a str>,
    /// Every entry (passthrough, blocked and registered).
    pub requests: u64,
    pub passthrough: u64,
    pub blocked: u64,
    /// Bytes both ways.
    pub bytes: u64,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<Millis>,
    /// Workloads, most undeclared entries first: (name, entries).
    pub workloads: Vec<(&'a str, u64)>,
}

impl NsUse<'_> {
    pub fn undeclared(&self) -> u64 {
        self.passthrough.saturating_add(self.blocked)
    }

    /// Whether these calls are declared: only registered traffic, or an existing entry covers
    /// the destination for this namespace.
    pub fn declared(&self, k: &DestKey, existing: Option<&crate::existing::Existing>) -> bool {
        self.undeclared() == 0 || existing.is_some_and(|e| e.covering(k, self.namespace).is_some())
    }

    /// Entries that went to a declared destination: all of them when `declared`, else the
    /// registered ones.
    pub fn declared_requests(&self, declared: bool) -> u64 {
        if declared {
            self.requests
        } else {
            self.requests.saturating_sub(self.undeclared())
        }
    }
}

/// A destination's callers by namespace, without the `--exclude-namespace` ones; sorted by
/// namespace, unknown first.
pub fn by_namespace<'a>(summary: &'a Summary, st: &DestStats, sel: &Selection) -> Vec<NsUse<'a>> {
    by_namespace_in(summary, st, sel, &mut Calls::new())
}

/// A destination's calls as (namespace, workload, counts): room that [`by_namespace_in`]
/// reuses from one destination to the next.
pub type Calls<'a> = Vec<(Option<&'a str>, &'a str, SourceCount)>;

/// [`by_namespace`] with its working room given, for a pass over every destination: a
/// destination with many callers would otherwise take fresh memory each time.
pub fn by_namespace_in<'a>(
    summary: &'a Summary,
    st: &DestStats,
    sel: &Selection,
    calls: &mut Calls<'a>,
) -> Vec<NsUse<'a>> {
    // Grouped by one sort: maps of namespaces and workloads would allocate a node per few
    // callers for every destination.
    calls.clear();
    calls.extend(st.sources.iter().filter_map(|(i, c)| {
        let (k, _) = summary.sources.get_index(i as usize)?;
        let ns = (!k.namespace.is_empty()).then_some(&*k.namespace);
        if ns.is_some_and(|n| sel.exclude_namespaces.iter().any(|x| x == n)) {
            return None;
        }
        Some((ns, &*k.workload, c))
    }));
    calls.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut v = Vec::with_capacity(calls.chunk_by(|a, b| a.0 == b.0).count());
    for chunk in calls.chunk_by(|a, b| a.0 == b.0) {
        let mut u = NsUse {
            namespace: chunk[0].0,
            ..NsUse::default()
        };
        for (_, _, c) in chunk {
            u.requests += c.all;
            u.passthrough += c.passthrough;
            u.blocked += c.blocked;
            u.bytes = u.bytes.saturating_add(c.bytes());
            u.last_seen = u.last_seen.max(c.last_seen);
        }
        for w in chunk.chunk_by(|a, b| a.1 == b.1) {
            let n = w
                .iter()
                .map(|(_, _, c)| c.undeclared())
                .fold(0u64, u64::saturating_add);
            if !w[0].1.is_empty() && n > 0 {
                u.workloads.push((w[0].1, n));
            }
        }
        u.workloads
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v.push(u);
    }
    v
}

/// Whether a destination is checked: everything outside the mesh that `--exclude-host` does not
/// leave out. Private and special-purpose addresses are checked like any other: REGISTRY_ONLY
/// refuses traffic to a pod address, a VPC database or an on-premises range just the same.
pub fn is_checked(k: &DestKey, st: &DestStats, sel: &Selection) -> bool {
    if st.category == Some(Category::Mesh) {
        return false;
    }
    k.is_address || !sel.exclude_hosts.iter().any(|p| host_matches(p, &k.name))
}

/// Cloud metadata services: AWS (IMDS, IPv4 and IPv6; ECS task metadata; EKS Pod Identity),
/// GCP, Azure, OpenStack, Oracle and DigitalOcean (169.254.169.254), Alibaba Cloud.
pub const METADATA_ADDRESSES: [&str; 6] = [
    "169.254.169.254",
    "169.254.170.2",
    "169.254.170.23",
    "fd00:ec2::254",
    "fd00:ec2::23",
    "100.100.100.200",
];

/// Whether an address is a cloud metadata service.
pub fn is_metadata_address(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        ip => ip,
    };
    METADATA_ADDRESSES
        .iter()
        .any(|m| m.parse::<IpAddr>().is_ok_and(|m| m == ip))
}

/// The warning for traffic to a cloud metadata service.
pub fn metadata_warning(title: &str, callers: &str) -> String {
    format!(
        "{title} is a cloud metadata service, reached through the sidecar by {callers}: a workload that reads instance credentials is a finding to review, whatever the verdict"
    )
}

/// Whether traffic to a destination reached a cloud metadata service (by its address, or by
/// the original destination addresses of a named host): a finding in itself.
pub fn reaches_metadata(k: &DestKey, st: &DestStats) -> bool {
    if k.is_address {
        return k.name.parse().is_ok_and(is_metadata_address);
    }
    st.addresses.iter().any(|(ip, _)| is_metadata_address(ip))
}
