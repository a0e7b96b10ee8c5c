//! Who called a destination: its sources, one row per namespace and workload, most entries
//! first.

use serde::Serialize;

use super::counts::SourceCount;
use super::stats::DestStats;
use super::summary::Summary;

#[derive(Debug, Serialize)]
pub struct SourceUse<'a> {
    /// `None` when the logs do not say.
    pub namespace: Option<&'a str>,
    pub workload: Option<&'a str>,
    pub requests: u64,
}

impl SourceUse<'_> {
    /// `namespace/workload`, with `?` for what is unknown ([`crate::fmt::caller`]).
    pub fn label(&self) -> String {
        crate::fmt::caller(self.namespace, self.workload)
    }
}

/// The sources of a destination, most entries first, then by name.
pub fn sources_of<'a>(summary: &'a Summary, st: &DestStats) -> Vec<SourceUse<'a>> {
    sources_from(summary, st.sources.iter())
}

/// The sources of these (source index, counts) pairs, most entries first, then by name.
pub fn sources_from<'a>(
    summary: &'a Summary,
    sources: impl Iterator<Item = (u32, SourceCount)>,
) -> Vec<SourceUse<'a>> {
    // One row per namespace and workload, whatever label named it.
    let opt = |s: &'a str| (!s.is_empty()).then_some(s);
    let mut all: Vec<SourceUse<'a>> = sources
        .filter_map(|(i, n)| {
            let (k, _) = summary.sources.get_index(i as usize)?;
            Some(SourceUse {
                namespace: opt(&k.namespace),
                workload: opt(&k.workload),
                requests: n.all,
            })
        })
        .collect();
    all.sort_unstable_by(|a, b| (a.namespace, a.workload).cmp(&(b.namespace, b.workload)));
    let mut v: Vec<SourceUse<'a>> = Vec::with_capacity(all.len());
    for u in all {
        match v.last_mut() {
            Some(l) if (l.namespace, l.workload) == (u.namespace, u.workload) => {
                l.requests = l.requests.saturating_add(u.requests);
            }
            _ => v.push(u),
        }
    }
    v.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| (a.namespace, a.workload).cmp(&(b.namespace, b.workload)))
    });
    v
}
