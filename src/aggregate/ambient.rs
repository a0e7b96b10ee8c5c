//! What ztunnel's lines (ambient mode) added to a run, beside the classes they are counted in:
//! which rule judged each line, the failed connections, and the callers' identities.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::keys::Location;
use crate::ambient::Flow;

/// How many principals [`AmbientCounts::principals`] keeps (the smallest), and how many
/// workloads each.
pub const PRINCIPALS: usize = 1024;
pub const PRINCIPAL_WORKLOADS: usize = 16;

/// Mergeable like the rest of the summary: sums, the smallest example, bounded sets that keep
/// their smallest members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmbientCounts {
    /// ztunnel access-log lines per [`Flow`] (in [`Flow::ALL`] order). Each is also counted
    /// in one class of [`Summary::classes`](super::Summary::classes).
    pub flows: [u64; 8],
    /// The first `connection failed` line.
    pub failed_example: Option<Location>,
    /// AuthorizationPolicy principals (`<trust domain>/ns/<ns>/sa/<sa>`, from `src.identity`)
    /// of egress connections, and the workloads (`<namespace>/<workload>`) that showed them.
    pub principals: BTreeMap<Box<str>, BTreeSet<Box<str>>>,
    /// Service accounts (`<namespace>/<sa>`, from `--pods`) of egress connections whose line
    /// carried no identity, and the workloads that used them. No trust domain: none is assumed.
    #[serde(default)]
    pub accounts: BTreeMap<Box<str>, BTreeSet<Box<str>>>,
}

impl AmbientCounts {
    pub fn lines(&self) -> u64 {
        self.flows.iter().fold(0, |a, n| a.saturating_add(*n))
    }

    pub fn get(&self, flow: Flow) -> u64 {
        self.flows[flow.index()]
    }

    pub fn count(&mut self, flow: Flow, loc: Location) {
        let n = &mut self.flows[flow.index()];
        *n = n.saturating_add(1);
        if flow == Flow::Failed {
            self.failed_example = Some(self.failed_example.map_or(loc, |l| l.min(loc)));
        }
    }

    /// Notes that `workload` (`<namespace>/<workload>`) connected as `principal`. Allocates
    /// only for a pair not seen before.
    pub fn principal(&mut self, principal: &str, namespace: &str, workload: &str) {
        note(&mut self.principals, principal, namespace, workload);
    }

    /// Notes that `workload` connected as service account `account` (`<namespace>/<sa>`).
    pub fn account(&mut self, account: &str, namespace: &str, workload: &str) {
        note(&mut self.accounts, account, namespace, workload);
    }
}

/// Notes `<namespace>/<workload>` under `key`, in a map bounded to its smallest keys and
/// workloads.
fn note(
    map: &mut BTreeMap<Box<str>, BTreeSet<Box<str>>>,
    key: &str,
    namespace: &str,
    workload: &str,
) {
    if !map.contains_key(key) {
        if map.len() >= PRINCIPALS && map.last_key_value().is_none_or(|(k, _)| **k < *key) {
            return;
        }
        map.insert(key.into(), BTreeSet::new());
        while map.len() > PRINCIPALS {
            map.pop_last();
        }
    }
    let Some(set) = map.get_mut(key) else {
        return;
    };
    let known = set.iter().any(|w| {
        w.len() == namespace.len() + 1 + workload.len()
            && w.starts_with(namespace)
            && w[namespace.len()..].starts_with('/')
            && w.ends_with(workload)
    });
    if !known {
        set.insert(format!("{namespace}/{workload}").into());
        while set.len() > PRINCIPAL_WORKLOADS {
            set.pop_last();
        }
    }
}

impl AmbientCounts {
    pub fn merge(&mut self, o: AmbientCounts) {
        for (a, b) in self.flows.iter_mut().zip(o.flows) {
            *a = a.saturating_add(b);
        }
        self.failed_example = match (self.failed_example, o.failed_example) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        merge_bounded(&mut self.principals, o.principals);
        merge_bounded(&mut self.accounts, o.accounts);
    }

    pub fn is_empty(&self) -> bool {
        *self == AmbientCounts::default()
    }
}

fn merge_bounded(
    mine: &mut BTreeMap<Box<str>, BTreeSet<Box<str>>>,
    theirs: BTreeMap<Box<str>, BTreeSet<Box<str>>>,
) {
    for (k, v) in theirs {
        mine.entry(k).or_default().extend(v);
    }
    while mine.len() > PRINCIPALS {
        mine.pop_last();
    }
    for set in mine.values_mut() {
        while set.len() > PRINCIPAL_WORKLOADS {
            set.pop_last();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(line: u64) -> Location {
        Location {
            source: 0,
            split: 0,
            line,
        }
    }

    #[test]
    fn merges_in_any_order() {
        let mut a = AmbientCounts::default();
        a.count(Flow::Passthrough, loc(1));
        a.count(Flow::Failed, loc(9));
        a.principal("td/ns/shop/sa/checkout", "shop", "checkout");
        a.principal("td/ns/shop/sa/checkout", "shop", "checkout");
        let mut b = AmbientCounts::default();
        b.count(Flow::Failed, loc(3));
        b.principal("td/ns/shop/sa/checkout", "shop", "cart");
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        assert_eq!(ab, ba);
        assert_eq!(ab.lines(), 3);
        assert_eq!(ab.failed_example, Some(loc(3)));
        assert_eq!(
            ab.principals["td/ns/shop/sa/checkout"]
                .iter()
                .map(|w| &**w)
                .collect::<Vec<_>>(),
            ["shop/cart", "shop/checkout"]
        );
    }

    #[test]
    fn principals_are_bounded() {
        let mut a = AmbientCounts::default();
        for i in 0..PRINCIPALS + 10 {
            a.principal(&format!("td/ns/n/sa/{i:05}"), "n", "w");
        }
        for i in 0..PRINCIPAL_WORKLOADS + 10 {
            a.principal("td/ns/n/sa/00000", "n", &format!("w{i:03}"));
        }
        assert_eq!(a.principals.len(), PRINCIPALS);
        assert_eq!(a.principals["td/ns/n/sa/00000"].len(), PRINCIPAL_WORKLOADS);
        assert!(a.principals.contains_key("td/ns/n/sa/00000"));
    }
}
