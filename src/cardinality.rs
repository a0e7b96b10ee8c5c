//! High-cardinality parents: one registrable domain, IPv4 /24 or IPv6 /48 with more than
//! `--cardinality-threshold` distinct names or addresses below it. Many random labels under one
//! parent is the signature of DNS tunnelling or a scanner: a finding to review, not a wall of
//! ServiceEntries. `recommend` leaves such children out unless `--include-high-cardinality`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::aggregate::{DestKey, DestStats, Summary};
use crate::classify::Category;
use crate::config::Selection;

/// The default `--cardinality-threshold`.
pub const DEFAULT_THRESHOLD: usize = 50;

/// How many children and callers a finding names (the rest are counted).
pub const SHOWN: usize = 8;

/// One parent with too many children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The registrable domain (`example.com`) or network (`203.0.113.0/24`).
    pub parent: String,
    /// `domain` or `network`.
    pub kind: &'static str,
    /// Distinct host names (domain) or addresses (network) below it.
    pub children: u64,
    /// Passthrough and blocked entries to them.
    pub entries: u64,
    /// The children with the most entries, at most [`SHOWN`].
    pub examples: Vec<String>,
    /// Callers (`namespace/workload`) with the most entries, at most [`SHOWN`].
    pub callers: Vec<String>,
}

impl Finding {
    /// The finding in words, for warnings, caveats and comments.
    pub fn describe(&self, threshold: usize) -> String {
        let what = if self.kind == "domain" {
            "host names"
        } else {
            "addresses"
        };
        let more = |shown: usize, all: u64| {
            if all > shown as u64 {
                format!(", +{} more", crate::fmt::thousands(all - shown as u64))
            } else {
                String::new()
            }
        };
        format!(
            "{} has {} distinct {what} below it ({} entries; more than --cardinality-threshold {threshold}): many random names under one parent is the signature of DNS tunnelling or a scanner; review it: {}{}; called by {}",
            self.parent,
            crate::fmt::thousands(self.children),
            crate::fmt::thousands(self.entries),
            self.examples.join(", "),
            more(self.examples.len(), self.children),
            if self.callers.is_empty() {
                crate::fmt::UNKNOWN_CALLER.to_owned()
            } else {
                self.callers.join(", ")
            },
        )
    }
}

/// The parent a destination counts under: its registrable domain (a host strictly below it),
/// or its IPv4 /24 or IPv6 /48 (an address-only destination).
pub fn parent_of(k: &DestKey) -> Option<String> {
    if k.is_address {
        return match k.name.parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                Some(format!("{}.{}.{}.0/24", o[0], o[1], o[2]))
            }
            IpAddr::V6(v6) => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
                Some(format!("{net}/48"))
            }
        };
    }
    let d = psl2::lookup(&k.name)?;
    let domain = d.registrable_domain()?;
    (domain != &*k.name).then(|| domain.to_owned())
}

/// Whether a destination counts: outside the mesh, with passthrough or blocked traffic.
fn counts(s: &DestStats) -> bool {
    s.category != Some(Category::Mesh) && s.undeclared() > 0
}

/// Whether the parent is a network, and its children.
type Children<'a> = (bool, Vec<(&'a DestKey, &'a DestStats)>);

#[derive(Default)]
struct Acc<'a> {
    children: BTreeMap<&'a str, u64>,
    callers: BTreeMap<String, u64>,
    entries: u64,
}

/// The parents with more than `sel.cardinality_threshold` children, by name. A threshold of 0
/// turns the finding off.
pub fn findings(summary: &Summary, sel: &Selection) -> Vec<Finding> {
    let threshold = sel.cardinality_threshold;
    if threshold == 0 {
        return Vec::new();
    }
    // Children first (cheap), callers only for the parents that turn out too wide.
    let mut by_parent: BTreeMap<String, Children<'_>> = BTreeMap::new();
    for (k, s) in &summary.destinations {
        if !counts(s) {
            continue;
        }
        if let Some(p) = parent_of(k) {
            let e = by_parent.entry(p).or_default();
            e.0 = k.is_address;
            e.1.push((k, s));
        }
    }
    let mut out = Vec::new();
    for (parent, (is_net, dests)) in by_parent {
        let distinct: BTreeSet<&str> = dests.iter().map(|(k, _)| &*k.name).collect();
        if distinct.len() <= threshold {
            continue;
        }
        let mut acc = Acc::default();
        for (k, s) in &dests {
            let e = acc.children.entry(&k.name).or_default();
            *e = e.saturating_add(s.undeclared());
            acc.entries = acc.entries.saturating_add(s.undeclared());
            for u in crate::aggregate::sources_of(summary, s) {
                if u.namespace.is_none() && u.workload.is_none() {
                    continue;
                }
                let c = acc.callers.entry(u.label()).or_default();
                *c = c.saturating_add(u.requests);
            }
        }
        out.push(Finding {
            parent,
            kind: if is_net { "network" } else { "domain" },
            children: acc.children.len() as u64,
            entries: acc.entries,
            examples: top(acc.children.into_iter().map(|(k, n)| (k.to_owned(), n))),
            callers: top(acc.callers.into_iter()),
        });
    }
    out
}

/// The [`SHOWN`] items with the largest counts, ties by name, as `name (count)`.
fn top(items: impl Iterator<Item = (String, u64)>) -> Vec<String> {
    let mut v: Vec<(String, u64)> = items.collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.into_iter()
        .take(SHOWN)
        .map(|(k, n)| format!("{k} ({})", crate::fmt::thousands(n)))
        .collect()
}

/// The findings of a run, and their parents to look destinations up in.
#[derive(Debug, Default)]
pub struct Found {
    pub findings: Vec<Finding>,
    pub parents: BTreeSet<Arc<str>>,
}

impl Found {
    pub fn new(findings: Vec<Finding>) -> Found {
        Found {
            parents: findings.iter().map(|f| f.parent.as_str().into()).collect(),
            findings,
        }
    }

    /// The high-cardinality parent a destination is a child of, if any: shared, not copied
    /// (a parent may have millions of children).
    pub fn parent(&self, k: &DestKey) -> Option<Arc<str>> {
        if self.parents.is_empty() {
            return None;
        }
        let p = parent_of(k)?;
        self.parents.get(p.as_str()).cloned()
    }
}

/// `a, b, c, +N more`: at most [`SHOWN`] items of a list written into a comment or a message.
pub fn capped<S: AsRef<str>>(items: &[S]) -> String {
    let mut parts: Vec<&str> = items.iter().take(SHOWN).map(AsRef::as_ref).collect();
    let more;
    if items.len() > SHOWN {
        more = format!(
            "+{} more",
            crate::fmt::thousands((items.len() - SHOWN) as u64)
        );
        parts.push(&more);
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Protocol;

    fn key(name: &str, is_address: bool) -> DestKey {
        DestKey {
            name: name.into(),
            is_address,
            port: 443,
            protocol: Protocol::Tls,
        }
    }

    #[test]
    fn parents_are_registrable_domains_and_networks() {
        assert_eq!(
            parent_of(&key("a1.t.example.co.uk", false)).as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(parent_of(&key("example.com", false)), None);
        assert_eq!(
            parent_of(&key("203.0.113.77", true)).as_deref(),
            Some("203.0.113.0/24")
        );
        assert_eq!(
            parent_of(&key("2001:db8:1:2::5", true)).as_deref(),
            Some("2001:db8:1::/48")
        );
        assert_eq!(capped(&["a", "b"]), "a, b");
        let many: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(capped(&many), "0, 1, 2, 3, 4, 5, 6, 7, +2 more");
    }
}
