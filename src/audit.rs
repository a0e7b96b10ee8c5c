//! Audit: the mesh's existing ServiceEntries against the traffic in the logs. What was
//! declared but never used, wider than what was used, or open wider than it should be.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::aggregate::Summary;
use crate::existing::{Entry, Existing, host_matches};
use crate::validate;

/// How many exact hosts a wildcard entry may have served and still be worth replacing.
pub const FEW_HOSTS: usize = 5;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `namespace/name` of the entry.
    pub entry: String,
    /// `unused`, `unused-ports`, `wildcard`, `export-wider`, `tcp-without-addresses`.
    pub finding: &'static str,
    /// What to do, in words.
    pub detail: String,
    /// The ports, hosts or namespaces the finding is about.
    pub items: Vec<String>,
}

fn id(e: &Entry) -> String {
    format!("{}/{}", e.namespace, e.name)
}

/// Audits every existing ServiceEntry against the observed destinations.
/// `tcp-without-addresses` is `validate`'s IST0134, under `opts` (the mesh config), as
/// `istioctl analyze` reports it.
pub fn audit(existing: &Existing, summary: &Summary, opts: &validate::Options) -> Vec<Finding> {
    let mut out = Vec::new();
    // Each entry's destinations: those its hosts or addresses match, on any port (found by
    // the entries' index, not by matching every entry with every destination).
    let mut matching = vec![Vec::new(); existing.entries.len()];
    for (k, s) in summary.destinations.iter().filter(|(_, s)| s.lines() > 0) {
        for i in existing.matching(k) {
            matching[i].push((k, s));
        }
    }
    for (e, matched) in existing.entries.iter().zip(&matching) {
        let used_ports: BTreeSet<u16> = matched
            .iter()
            .filter(|(k, _)| e.ports.contains(&k.port))
            .map(|(k, _)| k.port)
            .collect();
        if used_ports.is_empty() {
            out.push(Finding {
                entry: id(e),
                finding: "unused",
                detail: "no traffic to its hosts and ports in the logs: remove it, or check that the window covers its users".into(),
                items: Vec::new(),
            });
        } else {
            let idle: Vec<String> = e
                .ports
                .iter()
                .filter(|p| !used_ports.contains(p))
                .map(ToString::to_string)
                .collect();
            if !idle.is_empty() {
                out.push(Finding {
                    entry: id(e),
                    finding: "unused-ports",
                    detail: "ports declared but never used: remove them".into(),
                    items: idle,
                });
            }
        }
        if e.hosts.iter().any(|h| h.starts_with('*')) {
            let served: BTreeSet<String> = matched
                .iter()
                .filter(|(k, _)| {
                    !k.is_address
                        && e.hosts
                            .iter()
                            .any(|h| h.starts_with('*') && host_matches(h, &k.name))
                })
                .map(|(k, _)| k.name.to_string())
                .collect();
            if !served.is_empty() && served.len() <= FEW_HOSTS {
                out.push(Finding {
                    entry: id(e),
                    finding: "wildcard",
                    detail: format!(
                        "a wildcard that served only {} exact host{}: list {} instead",
                        served.len(),
                        if served.len() == 1 { "" } else { "s" },
                        if served.len() == 1 { "it" } else { "them" }
                    ),
                    items: served.into_iter().collect(),
                });
            }
        }
        let wide = e.export_to.is_empty() || e.export_to.iter().any(|x| x == "*");
        if wide && !used_ports.is_empty() {
            let mut callers: BTreeSet<String> = BTreeSet::new();
            let mut unknown = false;
            for (k, s) in matched {
                if !e.ports.contains(&k.port) {
                    continue;
                }
                for (i, _) in s.sources.iter() {
                    match summary.sources.get_index(i as usize) {
                        Some((src, _)) if !src.namespace.is_empty() => {
                            callers.insert(src.namespace.to_string());
                        }
                        _ => unknown = true,
                    }
                }
            }
            if !unknown && !callers.is_empty() {
                let items: Vec<String> = callers
                    .into_iter()
                    .map(|n| if n == e.namespace { ".".into() } else { n })
                    .collect();
                out.push(Finding {
                    entry: id(e),
                    finding: "export-wider",
                    detail:
                        "exported to every namespace but used only by these: set exportTo to them"
                            .into(),
                    items,
                });
            }
        }
        let open = open_tcp_ports(e, opts);
        if !open.is_empty() {
            out.push(Finding {
                entry: id(e),
                finding: "tcp-without-addresses",
                detail: "TCP (or unset) ports without addresses open the port to every destination (IST0134): add addresses or set the protocol".into(),
                items: open,
            });
        }
    }
    out
}

/// The ports of an entry `istioctl analyze` reports IST0134 on: `validate`'s rule, which reads
/// `status.addresses` and the mesh config.
fn open_tcp_ports(e: &Entry, opts: &validate::Options) -> Vec<String> {
    let ports = e.raw.pointer("/spec/ports");
    validate::service_entry_warnings(&e.raw, opts)
        .into_iter()
        .filter(|m| m.code == Some("IST0134"))
        .filter_map(|m| {
            let i: usize = m.pointer.strip_prefix("/spec/ports/")?.parse().ok()?;
            ports?
                .get(i)?
                .get("number")?
                .as_u64()
                .map(|n| n.to_string())
        })
        .collect()
}
