//! Checks across the manifests given together, as `istioctl analyze` makes them for the kinds
//! `validate` reads: two Sidecars without a workload selector in one namespace (IST0111, an
//! error) and ServiceEntries giving one host and port different protocols where their
//! `exportTo` scopes meet (IST0177, a warning).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::validate::{Level, Message};

/// What the checks need of one manifest, kept while the others are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Sidecar {
        namespace: String,
        name: String,
        /// No workload selector, or one without labels: it applies to the whole namespace.
        namespace_wide: bool,
    },
    ServiceEntry {
        namespace: String,
        name: String,
        /// (scope, host, port, protocol in upper case): scope `*` or a namespace.
        keys: Vec<(String, String, u64, String)>,
    },
    Other,
}

/// The namespace `istioctl analyze` gives a manifest that names none.
const DEFAULT_NAMESPACE: &str = "default";

fn str_at<'a>(doc: &'a Value, pointer: &str) -> &'a str {
    doc.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// What [`across`] needs of `doc`.
pub fn part(doc: &Value) -> Part {
    let namespace = match str_at(doc, "/metadata/namespace") {
        "" => DEFAULT_NAMESPACE.to_owned(),
        ns => ns.to_owned(),
    };
    let name = str_at(doc, "/metadata/name").to_owned();
    match doc.get("kind").and_then(Value::as_str) {
        Some("Sidecar") => Part::Sidecar {
            namespace,
            name,
            namespace_wide: doc
                .pointer("/spec/workloadSelector/labels")
                .and_then(Value::as_object)
                .is_none_or(|l| l.is_empty()),
        },
        Some("ServiceEntry") => {
            let list = |p: &str| -> Vec<&Value> {
                doc.pointer(p)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().collect())
                    .unwrap_or_default()
            };
            let export: Vec<&str> = list("/spec/exportTo")
                .into_iter()
                .filter_map(Value::as_str)
                .collect();
            // istioctl's scopes: every namespace when exportTo is empty or holds `*`, else
            // each namespace named (`.` is the entry's own).
            let scopes: BTreeSet<String> = if export.is_empty() || export.contains(&"*") {
                BTreeSet::from(["*".to_owned()])
            } else {
                export
                    .iter()
                    .map(|e| {
                        if *e == "." {
                            namespace.clone()
                        } else {
                            (*e).to_owned()
                        }
                    })
                    .collect()
            };
            let mut keys = Vec::new();
            for scope in &scopes {
                for h in list("/spec/hosts").into_iter().filter_map(Value::as_str) {
                    for p in list("/spec/ports") {
                        let Some(n) = p.get("number").and_then(Value::as_u64) else {
                            continue;
                        };
                        let proto = str_at(p, "/protocol").to_ascii_uppercase();
                        keys.push((scope.clone(), h.to_owned(), n, proto));
                    }
                }
            }
            Part::ServiceEntry {
                namespace,
                name,
                keys,
            }
        }
        _ => Part::Other,
    }
}

/// (scope, host, port): where ServiceEntries must agree on a protocol.
type HostPort<'a> = (&'a str, &'a str, u64);

/// The findings across `parts`, each with the position of the manifest it is on, in a
/// deterministic order (by namespace, host and port, whatever the input order).
pub fn across(parts: &[Part]) -> Vec<(usize, Message)> {
    let mut out = Vec::new();
    // IST0111: namespace-wide Sidecars, by namespace.
    let mut wide: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in parts.iter().enumerate() {
        if let Part::Sidecar {
            namespace,
            namespace_wide: true,
            ..
        } = p
        {
            wide.entry(namespace).or_default().push(i);
        }
    }
    for (ns, list) in wide.into_iter().filter(|(_, l)| l.len() > 1) {
        let mut names: Vec<&str> = list.iter().map(|&i| name(&parts[i]).1).collect();
        names.sort_unstable();
        let text = format!(
            "The Sidecars [{}] in namespace {ns:?} have no workload selector, which can lead to undefined behavior.",
            names.join(" ")
        );
        for i in list {
            out.push((i, coded(Level::Error, "IST0111", "", &text)));
        }
    }
    // IST0177: ServiceEntries by (scope, host, port).
    let mut index: BTreeMap<HostPort, Vec<(usize, &str)>> = BTreeMap::new();
    for (i, p) in parts.iter().enumerate() {
        if let Part::ServiceEntry { keys, .. } = p {
            for (scope, host, port, proto) in keys {
                index
                    .entry((scope, host, *port))
                    .or_default()
                    .push((i, proto));
            }
        }
    }
    let mut reported = BTreeSet::new();
    for ((scope, host, port), entries) in &index {
        let mut entries = entries.clone();
        if *scope != "*"
            && let Some(all) = index.get(&("*", host, *port))
        {
            entries.extend(all);
        }
        let protocols: BTreeSet<&str> = entries.iter().map(|(_, p)| *p).collect();
        if protocols.len() < 2 {
            continue;
        }
        let names: BTreeSet<String> = entries
            .iter()
            .map(|(i, _)| {
                let (ns, n) = name(&parts[*i]);
                format!("{ns}/{n}")
            })
            .collect();
        let text = format!(
            "Multiple ServiceEntries ({}) define the same host {host:?} and port {port} with conflicting protocols ({}).",
            names.into_iter().collect::<Vec<_>>().join(", "),
            protocols.into_iter().collect::<Vec<_>>().join(", ")
        );
        for (i, _) in entries {
            if reported.insert(i) {
                out.push((i, coded(Level::Warning, "IST0177", "", &text)));
            }
        }
    }
    out
}

fn name(p: &Part) -> (&str, &str) {
    match p {
        Part::Sidecar {
            namespace, name, ..
        }
        | Part::ServiceEntry {
            namespace, name, ..
        } => (namespace, name),
        Part::Other => ("", ""),
    }
}

/// A finding on the whole manifest (`pointer` empty), located at the document.
fn coded(level: Level, code: &'static str, pointer: &str, text: &str) -> Message {
    Message {
        level,
        code: Some(code),
        field: crate::validate::dotted(pointer),
        message: text.to_owned(),
        pointer: pointer.to_owned(),
    }
}
