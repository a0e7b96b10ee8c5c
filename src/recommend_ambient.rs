//! `recommend --mode ambient`: egress policy for Istio's ambient mode.
//!
//! ztunnel does not enforce `REGISTRY_ONLY` (istio/istio#54281) and ignores a ServiceEntry's
//! `exportTo` (istio/istio#55163), so ambient egress is controlled otherwise: each external
//! host is declared once, in one egress namespace, by a `MESH_EXTERNAL` ServiceEntry bound to an
//! egress waypoint (`istio.io/use-waypoint`); the waypoint enforces an `AuthorizationPolicy`
//! per entry (`targetRefs` to it, Istio 1.24+) that allows exactly the callers seen; and,
//! optionally, a Kubernetes NetworkPolicy per caller namespace stops pods from going around the
//! waypoint.
//!
//! The entries are those of the sidecar plan with every entry in the egress namespace (as
//! `--scope central` places them), written without `exportTo`. `resolution: NONE` (what
//! `--wildcard-min` and `--cidr-prefix` write) is refused: it fails in ambient before Istio 1.28
//! (istio/istio#57656), and wildcards need `DYNAMIC_DNS`, which 1.28 supports for HTTP alone.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::aggregate::Summary;
use crate::classify::Class;
use crate::cli::{AmbientArgs, Mode, ShapeArgs};
use crate::config::UsageError;
use crate::recommend::{Plan, Recommendation, comment};
use crate::validate::is_dns1123_label;

/// The first Istio version whose waypoints enforce an AuthorizationPolicy bound to a
/// ServiceEntry (1.24.0 change notes).
pub const MIN_MINOR: u32 = 24;

/// What ambient mode writes besides the plan's entries.
#[derive(Debug, Clone)]
pub struct Options {
    pub egress_namespace: String,
    pub waypoint: String,
    pub waypoint_namespace: String,
    /// `false` when `--existing` already holds the waypoint.
    pub write_gateway: bool,
    pub network_policy: bool,
    /// The Istio minor version (1.x).
    pub minor: u32,
    /// Namespaces whose calls get nothing (`--exclude-namespace`).
    pub exclude_namespaces: Vec<String>,
    /// The AuthorizationPolicies of `--existing`: one of a policy's name is extended, never
    /// replaced.
    pub policies: Vec<crate::waypoint_policy::Policy>,
}

/// Which mode `recommend` runs in, and the sentence that says why (for standard error).
pub fn choose(asked: Option<Mode>, summary: &Summary, sidecars: bool) -> (Mode, String) {
    use crate::ambient::Flow;
    let a = &summary.ambient;
    let ambient_egress = [Flow::Passthrough, Flow::ServiceEntry, Flow::Waypoint]
        .iter()
        .fold(0u64, |n, f| n.saturating_add(a.get(*f)));
    let egress = [Class::Passthrough, Class::Blocked, Class::Registered]
        .iter()
        .fold(0u64, |n, c| n.saturating_add(summary.classes[c.index()]));
    let sidecar_egress = egress.saturating_sub(ambient_egress);
    let ztunnel = a.lines();
    match asked {
        Some(Mode::Ambient) => (Mode::Ambient, "ambient mode (--mode ambient)".into()),
        Some(Mode::Sidecar) => (Mode::Sidecar, "sidecar mode (--mode sidecar)".into()),
        None if ztunnel == 0 => (
            Mode::Sidecar,
            "sidecar mode: the logs hold no ztunnel line".into(),
        ),
        None if sidecars => (
            Mode::Sidecar,
            "sidecar mode: --sidecars asks for Sidecars (pass --mode ambient for ambient policy)"
                .into(),
        ),
        None if sidecar_egress > 0 => (
            Mode::Sidecar,
            format!(
                "sidecar mode: the logs mix {} ztunnel lines with {} sidecar egress entries; pass --mode ambient for waypoint-bound policy",
                crate::fmt::thousands(ztunnel),
                crate::fmt::thousands(sidecar_egress)
            ),
        ),
        None => (
            Mode::Ambient,
            format!(
                "ambient mode: the logs hold {} ztunnel lines and no sidecar egress (--mode sidecar for sidecar entries)",
                crate::fmt::thousands(ztunnel)
            ),
        ),
    }
}

/// The ambient options, checked: names Kubernetes accepts, an Istio version that binds
/// policies to ServiceEntries, no widening that would write `resolution: NONE`.
pub fn options(
    a: &AmbientArgs,
    shape: &ShapeArgs,
    existing: Option<&crate::existing::Existing>,
    exclude_namespaces: &[String],
) -> Result<Options, UsageError> {
    for (flag, ns) in [
        ("--egress-namespace", Some(&a.egress_namespace)),
        ("--waypoint-namespace", a.waypoint_namespace.as_ref()),
    ] {
        if let Some(ns) = ns
            && !is_dns1123_label(ns, false)
        {
            return Err(UsageError(format!("{flag} {ns:?} is not a namespace name")));
        }
    }
    // The waypoint's name also names its Deployment and Service: a DNS-1123 label.
    if !is_dns1123_label(&a.waypoint, false) {
        return Err(UsageError(format!(
            "--waypoint {:?} is not a DNS-1123 label (the waypoint's Service takes its name)",
            a.waypoint
        )));
    }
    let minor = match shape.istio_version.as_deref() {
        None => MIN_MINOR,
        Some(v) => match v
            .split_once('.')
            .map(|(m, n)| (m.parse::<u32>(), n.parse::<u32>()))
        {
            Some((Ok(1), Ok(minor))) => minor,
            Some((Ok(m), Ok(_))) if m > 1 => u32::MAX,
            _ => {
                return Err(UsageError(format!(
                    "--istio-version {v:?}: give the minor version, for example 1.24"
                )));
            }
        },
    };
    if minor < MIN_MINOR {
        return Err(UsageError(format!(
            "--istio-version 1.{minor}: ambient egress policy needs Istio 1.24 or later (an AuthorizationPolicy bound to a ServiceEntry with targetRefs came with 1.24); upgrade, or pass --mode sidecar"
        )));
    }
    if shape.scope == crate::cli::Scope::Central {
        return Err(UsageError(
            "--scope central does not go with ambient mode: every entry goes in --egress-namespace already".into(),
        ));
    }
    if shape.wildcard_min.is_some() {
        return Err(UsageError(
            "--wildcard-min does not go with ambient mode: a wildcard entry needs resolution DYNAMIC_DNS, which Istio supports in ambient only from 1.28 and only for HTTP (TLS from 1.29 behind a flag), and resolution NONE fails in ambient before 1.28 (istio/istio#57656); this tool writes exact hosts there".into(),
        ));
    }
    if shape.cidr_prefix.is_some() || shape.cidr_prefix_v6.is_some() {
        return Err(UsageError(
            "--cidr-prefix does not go with ambient mode: an address range needs resolution NONE, which fails in ambient before Istio 1.28 (istio/istio#57656); this tool writes one STATIC entry per address there".into(),
        ));
    }
    let waypoint_namespace = a
        .waypoint_namespace
        .clone()
        .unwrap_or_else(|| a.egress_namespace.clone());
    let write_gateway = !existing.is_some_and(|e| {
        e.gateways
            .iter()
            .any(|(ns, n)| *ns == waypoint_namespace && *n == a.waypoint)
    });
    Ok(Options {
        egress_namespace: a.egress_namespace.clone(),
        waypoint: a.waypoint.clone(),
        waypoint_namespace,
        write_gateway,
        network_policy: a.network_policy,
        minor,
        exclude_namespaces: exclude_namespaces.to_vec(),
        policies: existing.map(|e| e.policies.clone()).unwrap_or_default(),
    })
}

/// Who called an entry's destinations, as an AuthorizationPolicy can name them.
#[derive(Debug, Default)]
struct Callers {
    /// Principals (`<trust domain>/ns/<ns>/sa/<sa>`) of callers whose identity is known, with
    /// the workloads that showed each.
    principals: BTreeMap<String, BTreeSet<String>>,
    /// Namespaces of callers whose identity is unknown, with those workloads.
    namespaces: BTreeMap<String, BTreeSet<String>>,
    /// Entries from callers the logs do not name (no namespace), or whose namespace
    /// Kubernetes would refuse: no rule can allow them.
    unnamed: u64,
    /// Refused namespace names, as read.
    refused: BTreeSet<String>,
}

/// `namespace/workload` -> principals it connected as, from the run's ztunnel lines.
fn principals_by_workload(summary: &Summary) -> BTreeMap<&str, Vec<&str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (p, workloads) in &summary.ambient.principals {
        if crate::validate_ambient::principal_error(p).is_some() {
            continue;
        }
        for w in workloads {
            out.entry(&**w).or_default().push(&**p);
        }
    }
    out
}

fn callers(
    e: &Recommendation<'_>,
    summary: &Summary,
    by_workload: &BTreeMap<&str, Vec<&str>>,
    opts: &Options,
) -> Callers {
    let mut c = Callers::default();
    for p in &e.ports {
        for (_, s, _) in &p.dests {
            for u in crate::aggregate::sources_of(summary, s) {
                let Some(ns) = u.namespace else {
                    c.unnamed = c.unnamed.saturating_add(u.requests);
                    continue;
                };
                if opts.exclude_namespaces.iter().any(|x| x == ns) {
                    continue;
                }
                if !is_dns1123_label(ns, false) {
                    c.unnamed = c.unnamed.saturating_add(u.requests);
                    c.refused.insert(ns.to_owned());
                    continue;
                }
                let label = u.label();
                let known = u
                    .workload
                    .and_then(|_| by_workload.get(label.as_str()))
                    .filter(|p| !p.is_empty());
                match known {
                    Some(ps) => {
                        for p in ps {
                            c.principals
                                .entry((*p).to_owned())
                                .or_default()
                                .insert(label.clone());
                        }
                    }
                    None => {
                        c.namespaces.entry(ns.to_owned()).or_default().insert(label);
                    }
                }
            }
        }
    }
    c
}

/// The labels that bind an entry to the waypoint.
fn bind(value: &mut Value, opts: &Options) {
    let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(l) = labels.as_object_mut() {
        l.insert("istio.io/use-waypoint".into(), json!(opts.waypoint));
        if opts.waypoint_namespace != opts.egress_namespace {
            l.insert(
                "istio.io/use-waypoint-namespace".into(),
                json!(opts.waypoint_namespace),
            );
        }
    }
}

/// The documents as they are built, each handed on once the next begins (a note about a
/// document may still be added to it): a large mesh's stream is never held whole.
struct Docs<'f> {
    last: Option<String>,
    sink: &'f mut dyn FnMut(String) -> Result<(), String>,
}

impl Docs<'_> {
    fn push(&mut self, doc: String) -> Result<(), String> {
        if let Some(d) = self.last.replace(doc) {
            (self.sink)(d)?;
        }
        Ok(())
    }

    fn last_mut(&mut self) -> Option<&mut String> {
        self.last.as_mut()
    }

    fn finish(mut self) -> Result<(), String> {
        match self.last.take() {
            Some(d) => (self.sink)(d),
            None => Ok(()),
        }
    }
}

/// Calls `f` with every document `recommend --mode ambient` writes, in order, each with its
/// comments: the waypoint, then each ServiceEntry followed by its AuthorizationPolicy, then the
/// NetworkPolicies. An internal error when a manifest would fail `validate`.
pub fn for_each_document(
    plan: &Plan<'_>,
    summary: &Summary,
    opts: &Options,
    f: &mut dyn FnMut(String) -> Result<(), String>,
) -> Result<(), String> {
    let mut docs = Docs {
        last: None,
        sink: f,
    };
    if opts.write_gateway {
        let mut out = String::new();
        comment(
            &mut out,
            format_args!(
                "The egress waypoint: it carries the traffic of every ServiceEntry labelled istio.io/use-waypoint: {} and enforces their AuthorizationPolicies.",
                opts.waypoint
            ),
        );
        if opts.waypoint_namespace != opts.egress_namespace {
            comment(
                &mut out,
                format_args!(
                    "It lives in {}, the entries in {}: its listener admits that namespace in allowedRoutes, or the entries cannot attach to it.",
                    opts.waypoint_namespace, opts.egress_namespace
                ),
            );
        }
        push(&mut docs, out, &gateway(opts))?;
    }
    let by_workload = principals_by_workload(summary);
    let mut caller_namespaces: BTreeSet<String> = BTreeSet::new();
    for e in &plan.entries {
        let mut value = match &e.merged {
            Some(m) => m.value.clone(),
            None => {
                let mut v = e.to_value(plan.api_version);
                if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
                    // ztunnel ignores exportTo: one entry serves every namespace.
                    spec.remove("exportTo");
                }
                v
            }
        };
        if value.pointer("/spec/resolution").and_then(Value::as_str) == Some("NONE")
            && opts.minor < 28
        {
            return Err(format!(
                "internal error: the ServiceEntry for {} has resolution NONE, which fails in ambient before Istio 1.28",
                e.host
            ));
        }
        bind(&mut value, opts);
        let mut out = String::with_capacity(2048);
        e.evidence(&mut out, summary);
        if let Some(m) = &e.merged {
            comment(
                &mut out,
                format_args!(
                    "The existing ServiceEntry {} with what this traffic needs added, bound to the waypoint.",
                    m.from
                ),
            );
        }
        push(&mut docs, out, &value)?;
        let c = callers(e, summary, &by_workload, opts);
        caller_namespaces.extend(c.namespaces.keys().cloned());
        for p in c.principals.keys() {
            if let Some(ns) = p.split('/').nth(2) {
                caller_namespaces.insert(ns.to_owned());
            }
        }
        for ws in c.principals.values() {
            for w in ws {
                if let Some((ns, _)) = w.split_once('/') {
                    caller_namespaces.insert(ns.to_owned());
                }
            }
        }
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or(&e.name)
            .to_owned();
        let namespace = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(&opts.egress_namespace)
            .to_owned();
        let mut out = String::new();
        comment(
            &mut out,
            format_args!(
                "Who may use ServiceEntry {namespace}/{name} through the waypoint: the callers seen in the logs."
            ),
        );
        for (p, ws) in &c.principals {
            let ws: Vec<&str> = ws.iter().map(String::as_str).collect();
            comment(
                &mut out,
                format_args!("  principal {p}: {}", crate::cardinality::capped(&ws)),
            );
        }
        for (ns, ws) in &c.namespaces {
            let ws: Vec<&str> = ws.iter().map(String::as_str).collect();
            comment(
                &mut out,
                format_args!(
                    "  namespace {ns} (no identity in the logs; --pods names service accounts but not their trust domain): {}",
                    crate::cardinality::capped(&ws)
                ),
            );
        }
        if c.unnamed > 0 {
            let refused: Vec<&str> = c.refused.iter().map(String::as_str).collect();
            comment(
                &mut out,
                format_args!(
                    "  REVIEW: {} from callers the logs do not name{} are not allowed by this policy",
                    crate::fmt::count(c.unnamed, "entry", "entries"),
                    if refused.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " or whose namespace Kubernetes would refuse ({})",
                            crate::cardinality::capped(&refused)
                        )
                    }
                ),
            );
        }
        if c.principals.is_empty() && c.namespaces.is_empty() {
            comment(
                &mut out,
                "  No caller is named: no AuthorizationPolicy is written (one with no rule would deny every caller); the waypoint lets every caller through until one is added.",
            );
            // Said after the entry, in its document: nothing is applied.
            if let Some(last) = docs.last_mut() {
                last.push_str(&out);
            }
            continue;
        }
        let value = policy(&name, &namespace, &c);
        let same = opts
            .policies
            .iter()
            .find(|p| p.namespace == namespace && p.name == name);
        // An existing policy this tool would not write is not rewritten either.
        let valid = |m: &Value| crate::validate::document(m).is_some_and(|e| e.is_empty());
        match same.map(|p| (p, extend(p, &name, &value).filter(valid))) {
            None => push(&mut docs, out, &value)?,
            Some((p, Some(merged))) => {
                comment(
                    &mut out,
                    format_args!(
                        "The existing AuthorizationPolicy {}/{} (--existing), its rules kept, with these callers added.",
                        p.namespace, p.name
                    ),
                );
                push(&mut docs, out, &merged)?;
            }
            Some((p, None)) => {
                comment(
                    &mut out,
                    format_args!(
                        "  REVIEW: the AuthorizationPolicy {}/{} of --existing is not an ALLOW policy of this entry alone, or fails validate: none is written over it; allow these callers there yourself.",
                        p.namespace, p.name
                    ),
                );
                if let Some(last) = docs.last_mut() {
                    last.push_str(&out);
                }
            }
        }
    }
    if opts.network_policy {
        for ns in &caller_namespaces {
            let mut out = String::new();
            if *ns == opts.waypoint_namespace {
                // The waypoint's own egress is the way out: never cut.
                comment(
                    &mut out,
                    format_args!(
                        "No NetworkPolicy for {ns}: the waypoint runs there and must reach the outside; limit the other workloads of {ns} by hand, or move the waypoint."
                    ),
                );
                if let Some(last) = docs.last_mut() {
                    last.push_str(&out);
                }
                continue;
            }
            comment(
                &mut out,
                format_args!(
                    "Denies direct egress from every pod of {ns}: ztunnel does not enforce REGISTRY_ONLY (istio/istio#54281), so without it a pod can go around the waypoint."
                ),
            );
            comment(
                &mut out,
                "Keeps DNS (kube-dns in kube-system) and HBONE (TCP 15008) to pods of any namespace: in-mesh traffic and the waypoint. Traffic to pods outside the mesh (plain TCP) and to the API server is denied too: add rules for those your workloads need.",
            );
            push(&mut docs, out, &network_policy(ns))?;
        }
    }
    docs.finish()
}

/// An existing policy of the same name with the rules of `new` it lacks added: `None` unless
/// it is an ALLOW policy that targets exactly this entry.
fn extend(existing: &crate::waypoint_policy::Policy, name: &str, new: &Value) -> Option<Value> {
    if !existing.allow || existing.targets != [name] {
        return None;
    }
    let mut merged = existing.raw.clone();
    crate::recommend::strip_server_fields(&mut merged);
    let spec = merged.get_mut("spec")?.as_object_mut()?;
    let rules = spec
        .entry("rules")
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()?;
    for r in new.pointer("/spec/rules")?.as_array()? {
        if !rules.contains(r) {
            rules.push(r.clone());
        }
    }
    Some(merged)
}

/// Appends `comments` and the manifest as YAML, after checking it as `validate` does.
fn push(docs: &mut Docs<'_>, mut comments: String, value: &Value) -> Result<(), String> {
    let errors = crate::validate::document(value).unwrap_or_default();
    if !errors.is_empty() {
        return Err(format!(
            "internal error: a {} fails validation: {}",
            value
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("manifest"),
            errors.join("; ")
        ));
    }
    let yaml = serde_saphyr::to_string(value).map_err(|e| format!("YAML: {e}"))?;
    comments.push_str(&yaml);
    if !yaml.ends_with('\n') {
        comments.push('\n');
    }
    docs.push(comments)
}

const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "egress-advisor");

/// The egress waypoint, as `istioctl waypoint generate --for service` writes it, with its
/// listener admitting the entries' namespace when that is another.
pub fn gateway(opts: &Options) -> Value {
    let mut listener = json!({"name": "mesh", "port": 15008, "protocol": "HBONE"});
    if opts.waypoint_namespace != opts.egress_namespace {
        listener["allowedRoutes"] = json!({
            "namespaces": {
                "from": "Selector",
                "selector": {"matchLabels": {"kubernetes.io/metadata.name": opts.egress_namespace}}
            }
        });
    }
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {
            "name": opts.waypoint,
            "namespace": opts.waypoint_namespace,
            "labels": {"istio.io/waypoint-for": "service", MANAGED_BY.0: MANAGED_BY.1},
        },
        "spec": {"gatewayClassName": "istio-waypoint", "listeners": [listener]},
    })
}

fn policy(name: &str, namespace: &str, c: &Callers) -> Value {
    let mut rules = Vec::new();
    if !c.principals.is_empty() {
        let p: Vec<&String> = c.principals.keys().collect();
        rules.push(json!({"from": [{"source": {"principals": p}}]}));
    }
    if !c.namespaces.is_empty() {
        let n: Vec<&String> = c.namespaces.keys().collect();
        rules.push(json!({"from": [{"source": {"namespaces": n}}]}));
    }
    json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {MANAGED_BY.0: MANAGED_BY.1},
        },
        "spec": {
            "targetRefs": [{"group": "networking.istio.io", "kind": "ServiceEntry", "name": name}],
            "action": "ALLOW",
            "rules": rules,
        },
    })
}

/// The NetworkPolicy name `--network-policy` writes in each caller namespace.
pub const NETWORK_POLICY_NAME: &str = "egress-advisor-deny-direct-egress";

fn network_policy(namespace: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": NETWORK_POLICY_NAME,
            "namespace": namespace,
            "labels": {MANAGED_BY.0: MANAGED_BY.1},
        },
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                },
                {
                    "to": [{"namespaceSelector": {}, "podSelector": {}}],
                    "ports": [{"protocol": "TCP", "port": 15008}],
                },
            ],
        },
    })
}

/// The comments at the top of the stream.
pub fn header(plan: &Plan<'_>, summary: &Summary, files: usize, opts: &Options) -> String {
    let mut out = String::new();
    let c = |out: &mut String, t: &str| comment(out, t);
    c(
        &mut out,
        "Ambient-mode egress policy for the external destinations found in ztunnel and Istio access logs.",
    );
    comment(
        &mut out,
        format_args!(
            "Input: {}, {}: {} passthrough entries ({} of them ztunnel connections).",
            crate::fmt::count(files as u64, "file", "files"),
            crate::fmt::count(summary.lines(), "line", "lines"),
            crate::fmt::thousands(summary.classes[Class::Passthrough.index()]),
            crate::fmt::thousands(summary.ambient.get(crate::ambient::Flow::Passthrough)),
        ),
    );
    comment(
        &mut out,
        format_args!(
            "{} ServiceEntries in {}, each bound to the egress waypoint {}/{} (istio.io/use-waypoint) and declared once: ztunnel ignores exportTo (istio/istio#55163), so an entry serves every namespace.",
            plan.entries.len(),
            opts.egress_namespace,
            opts.waypoint_namespace,
            opts.waypoint
        ),
    );
    c(
        &mut out,
        "Each entry has an AuthorizationPolicy (targetRefs to it, enforced by the waypoint) that allows only the callers seen.",
    );
    if opts.write_gateway {
        comment(
            &mut out,
            format_args!(
                "The waypoint {}/{} is written first (--existing holds none of that name).",
                opts.waypoint_namespace, opts.waypoint
            ),
        );
    } else if opts.waypoint_namespace != opts.egress_namespace {
        comment(
            &mut out,
            format_args!(
                "The waypoint {}/{} exists (--existing): its mesh listener must admit namespace {} in allowedRoutes, or the entries stay unbound.",
                opts.waypoint_namespace, opts.waypoint, opts.egress_namespace
            ),
        );
    }
    if opts.minor < 25 {
        c(
            &mut out,
            "Istio 1.24: enable DNS capture and VIP auto-allocation (--set values.cni.ambient.dnsCapture=true --set values.pilot.env.PILOT_ENABLE_IP_AUTOALLOCATE=true); without a VIP, clients dial the real addresses and bypass the waypoint.",
        );
    } else {
        c(
            &mut out,
            "The entries need ztunnel's DNS capture and auto-allocated VIPs (defaults from Istio 1.25): a pod annotated ambient.istio.io/dns-capture=false, or created before capture was enabled, bypasses the waypoint.",
        );
    }
    c(
        &mut out,
        "ztunnel does not enforce REGISTRY_ONLY (istio/istio#54281): unknown destinations still pass through unless a NetworkPolicy or firewall blocks direct egress (--network-policy).",
    );
    c(
        &mut out,
        "Check that each entry reports the istio.io/WaypointBound condition: with the waypoint missing or not ready, ztunnel sends the traffic directly.",
    );
    c(
        &mut out,
        "Apply with: kubectl apply -f <file> (every object names its namespace; create the namespaces first).",
    );
    for n in &plan.notes {
        comment(&mut out, n);
    }
    if !plan.skipped.is_empty() {
        c(&mut out, "Destinations left out:");
        for (k, s, why) in plan.skipped.iter().take(crate::recommend::SKIPPED_SHOWN) {
            comment(
                &mut out,
                format_args!(
                    "  {}: {}; {}",
                    crate::recommend::dest_title(k),
                    crate::recommend::verdicts(s),
                    why.describe()
                ),
            );
        }
        if plan.skipped.len() > crate::recommend::SKIPPED_SHOWN {
            comment(
                &mut out,
                format_args!(
                    "  +{} more destinations left out",
                    crate::fmt::thousands(
                        (plan.skipped.len() - crate::recommend::SKIPPED_SHOWN) as u64
                    )
                ),
            );
        }
    }
    if !plan.wide.is_empty() {
        comment(
            &mut out,
            format_args!(
                "  {} high-cardinality parents left out (analyze lists them; --include-high-cardinality writes entries)",
                plan.wide.len()
            ),
        );
    }
    out
}

/// The whole stream: the header, then each document after its `---` line.
pub fn write_yaml(
    plan: &Plan<'_>,
    summary: &Summary,
    files: usize,
    opts: &Options,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    w.write_all(header(plan, summary, files, opts).as_bytes())?;
    let mut failed = None;
    for_each_document(plan, summary, opts, &mut |d| {
        let wrote = w
            .write_all(b"---\n")
            .and_then(|()| w.write_all(d.as_bytes()));
        wrote.map_err(|e| {
            failed = Some(e);
            String::new()
        })
    })
    .map_err(|why| failed.take().unwrap_or_else(|| std::io::Error::other(why)))
}
