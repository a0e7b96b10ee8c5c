//! Per-namespace least privilege: a Sidecar for each namespace whose callers the logs name,
//! importing exactly what its workloads used (the in-mesh services they called, the
//! ServiceEntries they need, the control plane) with `outboundTrafficPolicy: REGISTRY_ONLY`, so
//! one namespace can be locked down before the mesh.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::aggregate::Summary;
use crate::classify::Rules;
use crate::config::Selection;
use crate::recommend::{self, Plan, comment};
use crate::validate;

/// One namespace's Sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarPlan {
    pub namespace: String,
    /// `namespace/host` imports.
    pub hosts: BTreeSet<String>,
    /// In-mesh services, ServiceEntries, other imports: counts for the evidence.
    pub mesh: usize,
    pub entries: usize,
    /// Destinations the namespace used that the Sidecar does not import, with why.
    pub left_out: Vec<String>,
}

/// The namespace of a cluster-local service host (`svc.ns.svc.cluster.local`).
fn service_namespace<'a>(host: &'a str, rules: &Rules) -> Option<&'a str> {
    let d = rules.cluster_domain.as_str();
    let rest = host
        .strip_suffix(d)
        .and_then(|r| r.strip_suffix('.'))
        .unwrap_or(host);
    let rest = rest.strip_suffix(".svc")?;
    rest.rsplit_once('.').map(|(_, ns)| ns)
}

/// Plans a Sidecar for each namespace named in the logs.
pub fn plan(
    summary: &Summary,
    entries: &Plan<'_>,
    sel: &Selection,
    rules: &Rules,
) -> Vec<SidecarPlan> {
    let mut by_ns: BTreeMap<String, SidecarPlan> = BTreeMap::new();
    let ns_of = |source: u32| -> Option<&str> {
        let (k, _) = summary.sources.get_index(source as usize)?;
        (!k.namespace.is_empty()).then_some(&*k.namespace)
    };
    fn get<'m>(
        by_ns: &'m mut BTreeMap<String, SidecarPlan>,
        sel: &Selection,
        ns: &str,
    ) -> Option<&'m mut SidecarPlan> {
        if sel.exclude_namespaces.iter().any(|x| x == ns) {
            return None;
        }
        Some(by_ns.entry(ns.to_owned()).or_insert_with(|| SidecarPlan {
            namespace: ns.to_owned(),
            hosts: BTreeSet::from(["istio-system/*".to_owned()]),
            mesh: 0,
            entries: 0,
            left_out: Vec::new(),
        }))
    }
    for (call, _) in &summary.mesh_calls {
        let Some(ns) = ns_of(call.source) else {
            continue;
        };
        let host = &*call.host;
        let import = match service_namespace(host, rules) {
            Some(svc_ns) if svc_ns == ns => format!("./{host}"),
            Some(svc_ns) => format!("{svc_ns}/{host}"),
            None if host.contains('.') => format!("*/{host}"),
            None => continue,
        };
        if let Some(p) = get(&mut by_ns, sel, ns)
            && p.hosts.insert(import)
        {
            p.mesh += 1;
        }
    }
    for e in &entries.entries {
        if let Some(ns) = &e.namespace
            && let Some(p) = get(&mut by_ns, sel, ns)
            && p.hosts.insert(format!("./{}", e.host))
        {
            p.entries += 1;
        }
    }
    for (k, st) in summary.sorted_destinations() {
        for (source, _) in st.sources.iter() {
            let Some(ns) = ns_of(source) else { continue };
            // What the entries above already import.
            if entries.entries.iter().any(|e| {
                e.namespace.as_deref() == Some(ns)
                    && e.ports
                        .iter()
                        .any(|p| p.dests.iter().any(|(dk, _)| *dk == k))
            }) {
                continue;
            }
            let covered = sel
                .existing
                .as_deref()
                .and_then(|x| x.covering(k, Some(ns)));
            let Some(p) = get(&mut by_ns, sel, ns) else {
                continue;
            };
            if let Some(e) = covered {
                for h in &e.hosts {
                    if p.hosts.insert(format!("{}/{h}", e.namespace)) {
                        p.entries += 1;
                    }
                }
            } else if st.registered > 0 && !k.is_address {
                // Declared somewhere this run was not told about.
                if p.hosts.insert(format!("*/{}", k.name)) {
                    p.entries += 1;
                }
            } else if st.undeclared() > 0 {
                let why = recommend::eligibility(summary, k, st, sel)
                    .err()
                    .map_or_else(|| "no entry in this namespace".to_owned(), |s| s.describe());
                let what = format!("{}:{}/{} ({why})", k.name, k.port, k.protocol.istio_name());
                if !p.left_out.contains(&what) {
                    p.left_out.push(what);
                }
            }
        }
    }
    by_ns.into_values().collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Sidecar<'a> {
    api_version: &'a str,
    kind: &'static str,
    metadata: Metadata<'a>,
    spec: Spec<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'static str,
    namespace: &'a str,
    labels: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec<'a> {
    egress: Vec<Egress<'a>>,
    outbound_traffic_policy: Policy,
}

#[derive(Serialize)]
struct Egress<'a> {
    hosts: Vec<&'a str>,
}

#[derive(Serialize)]
struct Policy {
    mode: &'static str,
}

/// Appends the Sidecars to a YAML stream, each checked like the ServiceEntries.
pub fn render(out: &mut String, sidecars: &[SidecarPlan], api_version: &str) -> Result<(), String> {
    for p in sidecars {
        let doc = Sidecar {
            api_version,
            kind: "Sidecar",
            metadata: Metadata {
                name: "egress-advisor",
                namespace: &p.namespace,
                labels: BTreeMap::from([("app.kubernetes.io/managed-by", "egress-advisor")]),
            },
            spec: Spec {
                egress: vec![Egress {
                    hosts: p.hosts.iter().map(String::as_str).collect(),
                }],
                outbound_traffic_policy: Policy {
                    mode: "REGISTRY_ONLY",
                },
            },
        };
        let value = serde_json::to_value(&doc).map_err(|e| e.to_string())?;
        let errors = validate::document(&value).unwrap_or_default();
        if !errors.is_empty() {
            return Err(format!(
                "internal error: the Sidecar for {} fails validation: {}",
                p.namespace,
                errors.join("; ")
            ));
        }
        out.push_str("---\n");
        comment(
            out,
            &format!(
                "Sidecar for namespace {}: imports {} in-mesh services and {} external hosts; unknown destinations are refused (REGISTRY_ONLY).",
                p.namespace, p.mesh, p.entries
            ),
        );
        for l in &p.left_out {
            comment(out, &format!("  not imported, will be refused: {l}"));
        }
        out.push_str(&serde_saphyr::to_string(&doc).map_err(|e| format!("YAML: {e}"))?);
    }
    Ok(())
}
