//! Per-namespace least privilege: a Sidecar for each namespace whose callers the logs name,
//! importing exactly what its workloads used (the in-mesh services they called, the
//! ServiceEntries they need, the control plane) with `outboundTrafficPolicy: REGISTRY_ONLY`, so
//! one namespace can be locked down before the mesh.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::aggregate::{DestKey, Summary};
use crate::classify::Rules;
use crate::config::Selection;
use crate::recommend::{self, Plan, comment};
use crate::validate;

/// One Sidecar: a namespace's default, or one workload's (selected by its app label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarPlan {
    pub namespace: String,
    /// `(label key, value)` of a workload's Sidecar; `None` for the namespace's default.
    pub selector: Option<(&'static str, String)>,
    /// `namespace/host` imports.
    pub hosts: BTreeSet<String>,
    /// In-mesh services and external hosts imported, for the evidence.
    pub mesh: usize,
    pub entries: usize,
    /// Destinations used that the Sidecar does not import, with why.
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

/// A Kubernetes label value: at most 63 characters, alphanumerics, `-`, `_` and `.`, starting
/// and ending with an alphanumeric. Only such values reach a workload selector.
fn is_label_value(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.first().is_none_or(u8::is_ascii_alphanumeric)
        && b.last().is_none_or(u8::is_ascii_alphanumeric)
}

/// (namespace, workload with a label): who a Sidecar is for.
type Target = (String, Option<String>);

/// Plans a Sidecar for each namespace named in the logs, and one for each workload whose pod
/// label the logs name (a workloadSelector on that label); the namespace's own Sidecar then
/// holds what the other workloads used.
pub fn plan(
    summary: &Summary,
    entries: &Plan<'_>,
    sel: &Selection,
    rules: &Rules,
) -> Vec<SidecarPlan> {
    let mut by_target: BTreeMap<Target, SidecarPlan> = BTreeMap::new();
    let labelled = |w: &str| !w.is_empty() && is_label_value(w);
    // The label each labelled workload is selected by: where the logs named it by both
    // `app.kubernetes.io/name` and `app`, the first; one Sidecar per workload either way.
    let mut labels: BTreeMap<Target, crate::envelope::meta::Label> = BTreeMap::new();
    for (k, _) in &summary.sources {
        if let Some(l) = k.label.filter(|_| labelled(&k.workload)) {
            let t = (k.namespace.to_string(), Some(k.workload.to_string()));
            let e = labels.entry(t).or_insert(l);
            *e = (*e).min(l);
        }
    }
    let target = |source: u32| -> Option<Target> {
        let (k, _) = summary.sources.get_index(source as usize)?;
        // Log lines are anyone's to write: a namespace Kubernetes would refuse gets no
        // Sidecar, and a label value it would refuse no selector.
        if k.namespace.is_empty()
            || !validate::is_dns1123_label(&k.namespace, false)
            || sel.exclude_namespaces.iter().any(|x| **x == *k.namespace)
        {
            return None;
        }
        let workload = k
            .label
            .filter(|_| labelled(&k.workload))
            .map(|_| k.workload.to_string());
        Some((k.namespace.to_string(), workload))
    };
    fn get<'m>(
        by: &'m mut BTreeMap<Target, SidecarPlan>,
        labels: &BTreeMap<Target, crate::envelope::meta::Label>,
        t: Target,
    ) -> &'m mut SidecarPlan {
        let selector = labels
            .get(&t)
            .map(|l| (l.key(), t.1.clone().unwrap_or_default()));
        by.entry(t.clone()).or_insert_with(|| SidecarPlan {
            namespace: t.0,
            selector,
            hosts: BTreeSet::from(["istio-system/*".to_owned()]),
            mesh: 0,
            entries: 0,
            left_out: Vec::new(),
        })
    }
    for (call, _) in &summary.mesh_calls {
        let Some(t) = target(call.source) else {
            continue;
        };
        let host = &*call.host;
        if validate::wildcard_domain_error(host).is_some() || host.contains('*') {
            continue;
        }
        let import = match service_namespace(host, rules) {
            Some(svc_ns) if svc_ns == t.0 => format!("./{host}"),
            Some(svc_ns) if validate::is_dns1123_label(svc_ns, false) => {
                format!("{svc_ns}/{host}")
            }
            Some(_) => continue,
            None if host.contains('.') => format!("*/{host}"),
            None => continue,
        };
        let p = get(&mut by_target, &labels, t);
        if p.hosts.insert(import) {
            p.mesh += 1;
        }
    }
    // Which entry `recommend` wrote for a destination, per namespace.
    let mut written: BTreeMap<(Option<&str>, &DestKey), &str> = BTreeMap::new();
    for e in &entries.entries {
        for p in &e.ports {
            for (k, _) in &p.dests {
                written.insert((e.namespace.as_deref(), *k), &e.host);
            }
        }
    }
    for (k, st) in summary.sorted_destinations() {
        for (source, _) in st.sources.iter() {
            let Some(t) = target(source) else { continue };
            let ns = t.0.clone();
            let covered = sel
                .existing
                .as_deref()
                .and_then(|x| x.covering(k, Some(&ns)));
            let p = get(&mut by_target, &labels, t);
            if let Some(host) = written.get(&(Some(ns.as_str()), k)) {
                if p.hosts.insert(format!("./{host}")) {
                    p.entries += 1;
                }
            } else if let Some(e) = covered {
                for h in &e.hosts {
                    if p.hosts.insert(format!("{}/{h}", e.namespace)) {
                        p.entries += 1;
                    }
                }
            } else if st.registered > 0
                && !k.is_address
                && k.name.contains('.')
                && !k.name.contains('*')
                && validate::wildcard_domain_error(&k.name).is_none()
            {
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
    by_target.into_values().collect()
}

/// A Sidecar name for a workload: its label value made a DNS-1123 subdomain.
fn sidecar_name(selector: &Option<(&'static str, String)>) -> String {
    match selector {
        None => "egress-advisor".to_owned(),
        Some((_, value)) => {
            let v: String = value
                .to_ascii_lowercase()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            let v = v.trim_matches(|c| c == '-' || c == '.');
            let mut name = format!("egress-advisor-{v}");
            name.truncate(253);
            name.trim_end_matches(['-', '.']).to_owned()
        }
    }
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
    name: String,
    namespace: &'a str,
    labels: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    workload_selector: Option<Selector<'a>>,
    egress: Vec<Egress<'a>>,
    outbound_traffic_policy: Policy,
}

#[derive(Serialize)]
struct Selector<'a> {
    labels: BTreeMap<&'static str, &'a str>,
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
                name: sidecar_name(&p.selector),
                namespace: &p.namespace,
                labels: BTreeMap::from([("app.kubernetes.io/managed-by", "egress-advisor")]),
            },
            spec: Spec {
                workload_selector: p.selector.as_ref().map(|(k, v)| Selector {
                    labels: BTreeMap::from([(*k, v.as_str())]),
                }),
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
                "Sidecar for {}: imports {} in-mesh services and {} external hosts; unknown destinations are refused (REGISTRY_ONLY).",
                match &p.selector {
                    None => format!(
                        "namespace {} (workloads without a Sidecar of their own)",
                        p.namespace
                    ),
                    Some((k, v)) => format!("workload {k}={v} in namespace {}", p.namespace),
                },
                p.mesh,
                p.entries
            ),
        );
        for l in &p.left_out {
            comment(out, &format!("  not imported, will be refused: {l}"));
        }
        out.push_str(&serde_saphyr::to_string(&doc).map_err(|e| format!("YAML: {e}"))?);
    }
    Ok(())
}
