//! Per-namespace least privilege: a Sidecar for each namespace whose callers the logs name,
//! importing exactly what its workloads used (the in-mesh services they called, the
//! ServiceEntries they need, the control plane) with `outboundTrafficPolicy: REGISTRY_ONLY`, so
//! one namespace can be locked down before the mesh.
//!
//! Given the mesh's Sidecars (`--existing`), no recommendation replaces one or conflicts with
//! one: a namespace that has a Sidecar without a workloadSelector gets that Sidecar back with
//! the imports its traffic needs added (two of them in a namespace conflict, istioctl IST0111),
//! a workload that an existing Sidecar selects with the same label gets that Sidecar extended,
//! and one an existing Sidecar may select on other labels gets none, with the reason
//! (two Sidecars selecting one workload conflict, IST0110).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::aggregate::{DestKey, Summary};
use crate::classify::Rules;
use crate::config::Selection;
use crate::existing::{self, Existing};
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
    /// The object's name: `egress-advisor`, `egress-advisor-<workload>`, or, when an existing
    /// Sidecar of the namespace has that name, one none has.
    pub name: String,
    /// When an existing Sidecar already applies to these workloads: that one, with the imports
    /// this one needs added, written whole in its place.
    pub merged: Option<MergedSidecar>,
    /// Why nothing is written for these workloads (an existing Sidecar may select them).
    pub left: Option<String>,
}

/// An existing Sidecar with what a recommendation adds to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedSidecar {
    /// `namespace/name` of the existing Sidecar.
    pub from: String,
    /// The merged object.
    pub value: Value,
    /// The egress hosts added.
    pub added: Vec<String>,
    /// What became of its outboundTrafficPolicy, when more than "kept REGISTRY_ONLY".
    pub policy: Option<String>,
    /// How the merged Sidecar treats what it does not import.
    pub mode: Mode,
}

/// What a Sidecar does with traffic to destinations it does not import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refused (REGISTRY_ONLY).
    Refuse,
    /// Passed through (ALLOW_ANY).
    Pass,
    /// Sent to its egressProxy (ALLOW_ANY with an egressProxy).
    Proxy,
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

use crate::validate::is_label_value;

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
            name: sidecar_name(&selector),
            selector,
            hosts: BTreeSet::from(["istio-system/*".to_owned()]),
            mesh: 0,
            entries: 0,
            left_out: Vec::new(),
            merged: None,
            left: None,
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
            for (k, _, _) in &p.dests {
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
                // The same destination comes from a target's sources one after the other.
                if p.left_out.last() != Some(&what) {
                    p.left_out.push(what);
                }
            }
        }
    }
    let mut plans: Vec<SidecarPlan> = by_target.into_values().collect();
    if let Some(existing) = sel.existing.as_deref() {
        avoid_conflicts(&mut plans, existing);
    }
    plans
}

/// Whether the egress host `pattern` of a Sidecar in namespace `ns` imports `need` (both
/// `namespace/dnsName`; `.` is `ns`, `*` any namespace or name, `*.suffix` the names below).
fn imports(pattern: &str, need: &str, ns: &str) -> bool {
    let (Some((pn, pd)), Some((nn, nd))) = (pattern.split_once('/'), need.split_once('/')) else {
        return false;
    };
    let local = |n: &str| {
        if n == "." {
            ns.to_owned()
        } else {
            n.to_owned()
        }
    };
    // `~`: no namespace (or, from Istio 1.31, an exclusion): imports nothing.
    if pn.starts_with('~') {
        return false;
    }
    let ns_ok = pn == "*" || (nn != "*" && local(pn) == local(nn));
    let dns_ok = pd == "*" || pd == nd || (nd != "*" && existing::host_matches(pd, nd));
    ns_ok && dns_ok
}

/// The egress hosts of `p` that the existing Sidecar `s` does not import for every port (a
/// listener bound to a port imports its hosts on that port only; no egress at all imports
/// every service the namespace sees).
fn not_imported(s: &existing::Sidecar, p: &SidecarPlan) -> Vec<String> {
    let Some(listeners) = s.raw.pointer("/spec/egress").and_then(Value::as_array) else {
        return Vec::new();
    };
    let patterns: Vec<&str> = listeners
        .iter()
        .filter(|l| l.get("port").is_none())
        .filter_map(|l| l.get("hosts").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    p.hosts
        .iter()
        .filter(|h| !patterns.iter().any(|pat| imports(pat, h, &s.namespace)))
        .cloned()
        .collect()
}

/// The existing Sidecar `s` with the imports of `p` added, its outboundTrafficPolicy kept
/// consistent, or why the two cannot be merged.
fn merge_into(s: &existing::Sidecar, p: &SidecarPlan) -> Result<MergedSidecar, String> {
    let from = format!("{}/{}", s.namespace, s.name);
    let mut v = s.raw.clone();
    recommend::strip_server_fields(&mut v);
    crate::gitops::mark(&mut v);
    let added = not_imported(s, p);
    let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) else {
        return Err(format!("the existing Sidecar {from} has no spec"));
    };
    if !added.is_empty() {
        let egress = spec
            .entry("egress")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(listeners) = egress.as_array_mut() else {
            return Err(format!(
                "the egress of the existing Sidecar {from} is not a list"
            ));
        };
        let new = added.iter().cloned().map(Value::String);
        // The listener without a port imports for every port; there is at most one, the last.
        match listeners.iter_mut().rev().find(|l| l.get("port").is_none()) {
            Some(l) => match l.get_mut("hosts").and_then(Value::as_array_mut) {
                Some(hosts) => hosts.extend(new),
                None => l["hosts"] = Value::Array(new.collect()),
            },
            None => listeners.push(serde_json::json!({ "hosts": added })),
        }
    }
    let policy = spec.get("outboundTrafficPolicy");
    let mode = policy
        .map(|o| {
            o.get("mode")
                .and_then(Value::as_str)
                .unwrap_or("REGISTRY_ONLY")
        })
        .map(str::to_owned);
    let proxy = policy
        .and_then(|o| o.pointer("/egressProxy/host"))
        .map(|h| h.as_str().unwrap_or("").to_owned());
    let (mode, policy) = match (mode.as_deref(), proxy) {
        (None, _) => {
            spec.insert(
                "outboundTrafficPolicy".into(),
                serde_json::json!({"mode": "REGISTRY_ONLY"}),
            );
            (
                Mode::Refuse,
                Some(
                    "outboundTrafficPolicy REGISTRY_ONLY added, as --sidecars writes it: what it does not import is refused"
                        .to_owned(),
                ),
            )
        }
        (Some("ALLOW_ANY"), Some(host)) => (
            Mode::Proxy,
            Some(format!(
                "outboundTrafficPolicy ALLOW_ANY kept: its egressProxy ({host}) needs ALLOW_ANY, so what it does not import goes to that proxy instead of being refused; REGISTRY_ONLY would mean removing the egressProxy"
            )),
        ),
        (Some("ALLOW_ANY"), None) => (
            Mode::Pass,
            Some(
                "outboundTrafficPolicy ALLOW_ANY kept, as the existing Sidecar sets it: what it does not import is passed through; set REGISTRY_ONLY to refuse it"
                    .to_owned(),
            ),
        ),
        _ => (Mode::Refuse, None),
    };
    let errors = validate::document(&v).unwrap_or_default();
    if !errors.is_empty() {
        return Err(format!(
            "the existing Sidecar {from} with these imports added fails Istio's validation ({})",
            errors.join("; ")
        ));
    }
    Ok(MergedSidecar {
        from,
        value: v,
        added,
        policy,
        mode,
    })
}

/// No recommended Sidecar replaces or conflicts with an existing one (see the module's
/// comment). A new Sidecar never takes the name of an existing one of its namespace
/// (client-side `kubectl apply` would merge the two, replacing `egress` whole).
fn avoid_conflicts(plans: &mut [SidecarPlan], existing: &Existing) {
    let mut taken: BTreeSet<(String, String)> = existing
        .sidecars
        .iter()
        .map(|s| (s.namespace.clone(), s.name.clone()))
        .chain(plans.iter().map(|p| (p.namespace.clone(), p.name.clone())))
        .collect();
    for p in plans.iter_mut() {
        let mut here: Vec<&existing::Sidecar> = existing
            .sidecars
            .iter()
            .filter(|s| s.namespace == p.namespace)
            .collect();
        here.sort_by(|a, b| a.name.cmp(&b.name));
        let target = match &p.selector {
            None => here.iter().find(|s| !s.selective),
            Some((k, v)) => {
                let exact = here.iter().find(|s| {
                    s.selective
                        && s.selector.len() == 1
                        && s.selector.get(*k).is_some_and(|x| x == v)
                });
                // A selector that does not contradict ours may select the same pods.
                let overlapping = here
                    .iter()
                    .find(|s| s.selective && s.selector.get(*k).is_none_or(|x| x == v));
                match (exact, overlapping) {
                    (None, Some(s)) => {
                        let labels: Vec<String> =
                            s.selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        let needs = not_imported(s, p);
                        p.left = Some(format!(
                            "No Sidecar for workload {k}={v} in namespace {}: the existing Sidecar {}/{} selects {{{}}} and may select the same pods, and two Sidecars that select one workload conflict (istioctl IST0110). {}",
                            p.namespace,
                            s.namespace,
                            s.name,
                            labels.join(", "),
                            if needs.is_empty() {
                                "It imports everything this workload used.".to_owned()
                            } else {
                                format!(
                                    "If it is this workload's, add to its egress hosts: {}",
                                    crate::cardinality::capped(&needs)
                                )
                            }
                        ));
                        continue;
                    }
                    (exact, _) => exact,
                }
            }
        };
        if let Some(s) = target {
            match merge_into(s, p) {
                Ok(m) => {
                    p.name = s.name.clone();
                    p.merged = Some(m);
                }
                Err(why) => {
                    p.left = Some(format!(
                        "No Sidecar for {}: {why}; a second one would conflict with it (istioctl {}). It needs: {}",
                        who(p),
                        if p.selector.is_some() {
                            "IST0110"
                        } else {
                            "IST0111"
                        },
                        crate::cardinality::capped(&not_imported(s, p))
                    ));
                }
            }
            continue;
        }
        if here.iter().any(|s| s.name == p.name) {
            let base = p.name.clone();
            let fresh = (2..)
                .map(|i| format!("{base}-{i}"))
                .find(|n| !taken.contains(&(p.namespace.clone(), n.clone())))
                .expect("a free name");
            taken.insert((p.namespace.clone(), fresh.clone()));
            p.name = fresh;
        }
    }
}

/// Whom a Sidecar plan is for, in words.
fn who(p: &SidecarPlan) -> String {
    match &p.selector {
        None => format!(
            "namespace {} (workloads without a Sidecar of their own)",
            p.namespace
        ),
        Some((k, v)) => format!("workload {k}={v} in namespace {}", p.namespace),
    }
}

/// Longest piece of a label value kept in one label of a Sidecar's name: with `egress-advisor-`
/// and a hash, the first label stays within DNS-1123's 63 characters.
const NAME_PIECE: usize = 39;

/// A Sidecar name for a workload: `egress-advisor-<value>` when the label value is a DNS-1123
/// subdomain that fits; otherwise the value made one (lower case, other characters as `-`,
/// each label trimmed and cut) with a hash of the value itself, so that two values never share
/// a name (a second Sidecar of the same name would replace the first).
fn sidecar_name(selector: &Option<(&'static str, String)>) -> String {
    let Some((_, value)) = selector else {
        return "egress-advisor".to_owned();
    };
    let mapped: String = value
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
    let labels: Vec<&str> = mapped
        .split('.')
        .map(|l| l.trim_matches('-'))
        .filter(|l| !l.is_empty())
        .collect();
    let exact = !value.is_empty()
        && labels.len() <= 4
        && labels.iter().all(|l| l.len() <= NAME_PIECE)
        && labels.join(".") == *value;
    let mut parts: Vec<String> = labels
        .iter()
        .take(4)
        .map(|l| {
            l[..l.len().min(NAME_PIECE)]
                .trim_end_matches('-')
                .to_owned()
        })
        .collect();
    if !exact {
        // FNV-1a: the same on every platform and release.
        let hash = value.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let hash = format!("{:08x}", hash >> 32);
        match parts.last_mut() {
            Some(l) => {
                l.push('-');
                l.push_str(&hash);
            }
            None => parts.push(hash),
        }
    }
    format!("egress-advisor-{}", parts.join("."))
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
        if let Some(why) = &p.left {
            // A document of comments alone: kubectl and YAML readers pass over it.
            out.push_str("---\n");
            comment(out, why);
            continue;
        }
        let doc = Sidecar {
            api_version,
            kind: "Sidecar",
            metadata: Metadata {
                name: p.name.clone(),
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
        let value = match &p.merged {
            Some(m) => m.value.clone(),
            None => serde_json::to_value(&doc).map_err(|e| e.to_string())?,
        };
        let errors = validate::document(&value).unwrap_or_default();
        if !errors.is_empty() {
            return Err(format!(
                "internal error: the Sidecar for {} fails validation: {}",
                p.namespace,
                errors.join("; ")
            ));
        }
        let mode = p.merged.as_ref().map_or(Mode::Refuse, |m| m.mode);
        out.push_str("---\n");
        comment(
            out,
            format_args!(
                "Sidecar for {}: imports {} in-mesh services and {} external hosts; {}.",
                who(p),
                p.mesh,
                p.entries,
                match mode {
                    Mode::Refuse => "unknown destinations are refused (REGISTRY_ONLY)",
                    Mode::Pass => "unknown destinations are passed through (ALLOW_ANY)",
                    Mode::Proxy => "unknown destinations go to its egress proxy (ALLOW_ANY)",
                }
            ),
        );
        if let Some(m) = &p.merged {
            comment(
                out,
                format_args!(
                    "The existing Sidecar {} with what this traffic needs added ({}); every other field is kept as it was.",
                    m.from,
                    if m.added.is_empty() {
                        "nothing: it imports all of it already".to_owned()
                    } else {
                        crate::cardinality::capped(&m.added)
                    }
                ),
            );
            if let Some(policy) = &m.policy {
                comment(out, policy);
            }
        }
        let fate = match mode {
            Mode::Refuse => "will be refused",
            Mode::Pass => "passed through",
            Mode::Proxy => "sent to the egress proxy",
        };
        for l in p.left_out.iter().take(recommend::SKIPPED_SHOWN) {
            comment(out, format_args!("  not imported, {fate}: {l}"));
        }
        if p.left_out.len() > recommend::SKIPPED_SHOWN {
            comment(
                out,
                format_args!(
                    "  +{} more not imported, {fate}",
                    crate::fmt::thousands((p.left_out.len() - recommend::SKIPPED_SHOWN) as u64)
                ),
            );
        }
        let yaml = match &p.merged {
            Some(m) => serde_saphyr::to_string(&m.value),
            None => serde_saphyr::to_string(&doc),
        }
        .map_err(|e| format!("YAML: {e}"))?;
        out.push_str(&yaml);
        if !yaml.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sidecar_names_are_valid_and_distinct() {
        let name = |v: &str| super::sidecar_name(&Some(("app", v.to_owned())));
        assert_eq!(name("checkout"), "egress-advisor-checkout");
        assert_eq!(name("api.v2"), "egress-advisor-api.v2");
        let long = "x".repeat(300);
        let values = [
            "a-.0",
            "a_b",
            "a-b",
            "A-b",
            "",
            "-",
            ".",
            "..",
            "lyu4d..4",
            "a..b",
            &long,
            "é",
            "a.b.c.d.e",
        ];
        let mut seen = std::collections::BTreeSet::from(["egress-advisor".to_owned()]);
        for v in values {
            let n = name(v);
            assert!(crate::validate::is_dns1123_subdomain(&n), "{v:?} -> {n:?}");
            assert!(n.split('.').all(|l| l.len() <= 63), "{v:?} -> {n:?}");
            assert!(seen.insert(n.clone()), "{v:?} -> {n:?} is taken");
        }
    }

    use super::imports;

    #[test]
    fn egress_host_patterns() {
        assert!(imports("./*", "./api.example.com", "shop"));
        assert!(imports("shop/*", "./api.example.com", "shop"));
        assert!(imports("./api.example.com", "shop/api.example.com", "shop"));
        assert!(imports("*/*", "*/api.example.com", "shop"));
        assert!(imports("*/*.example.com", "ci/api.example.com", "shop"));
        assert!(imports("*/*.example.com", "ci/*.api.example.com", "shop"));
        assert!(imports("istio-system/*", "istio-system/*", "shop"));
        assert!(
            !imports("./*", "*/api.example.com", "shop"),
            "any namespace"
        );
        assert!(!imports("./*", "ci/api.example.com", "shop"));
        assert!(!imports("*/api.example.com", "*/*", "shop"));
        assert!(!imports("*/*.example.com", "./example.com", "shop"));
        assert!(!imports("~/*", "./api.example.com", "shop"));
        assert!(!imports("*/*", "api.example.com", "shop"), "not ns/host");
    }
}
