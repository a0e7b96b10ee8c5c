//! `migrate`: can the mesh switch from `ALLOW_ANY` to `REGISTRY_ONLY`? For each namespace and
//! the whole mesh, how much external traffic is already declared, what would break after the
//! switch (passthrough traffic nothing declares), what breaks now (blocked traffic nothing
//! declares), the ServiceEntries that close the gap, and an order to roll the switch out in.
//!
//! A (destination, namespace) pair is declared when its traffic went to a ServiceEntry of the
//! mesh that wrote the logs (registered) or an `--existing` entry covers it for that namespace.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aggregate::Summary;
use crate::config::Selection;
use crate::gate::{Calls, Dest, NsUse, by_namespace_in, is_checked, ser_time};
use crate::parse::time::Millis;
use crate::recommend::{Outline, Plan};

/// Declared shares of a namespace's (or the mesh's) external traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub requests: u64,
    pub declared_requests: u64,
    pub bytes: u64,
    pub declared_bytes: u64,
    pub destinations: u64,
    pub declared_destinations: u64,
}

impl Coverage {
    fn add(&mut self, u: &NsUse<'_>, declared: bool) {
        self.requests += u.requests;
        self.bytes = self.bytes.saturating_add(u.bytes);
        self.destinations += 1;
        // Undeclared calls' registered entries went to a ServiceEntry all the same.
        self.declared_requests += u.declared_requests(declared);
        if declared {
            self.declared_bytes = self.declared_bytes.saturating_add(u.bytes);
            self.declared_destinations += 1;
        }
    }

    /// `declared` of `all` as a whole percentage, rounded down (100 only when all are).
    pub fn percent(declared: u64, all: u64) -> u64 {
        if all == 0 {
            100
        } else {
            (u128::from(declared) * 100 / u128::from(all)) as u64
        }
    }
}

/// Traffic of one namespace to one destination that nothing declares.
#[derive(Debug, Serialize)]
pub struct Gap<'a> {
    #[serde(flatten)]
    pub dest: Dest<'a>,
    pub namespace: Option<&'a str>,
    /// Entries that would be refused after the switch.
    pub passthrough: u64,
    /// Entries refused now.
    pub blocked: u64,
    pub bytes: u64,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<Millis>,
    /// Workloads, most entries first.
    pub workloads: Vec<(&'a str, u64)>,
}

impl Gap<'_> {
    pub fn title(&self) -> String {
        self.dest.title()
    }

    pub fn callers(&self) -> String {
        let ns = self.namespace.unwrap_or("?");
        if self.workloads.is_empty() {
            return format!("{ns}/?");
        }
        self.workloads
            .iter()
            .map(|(w, n)| format!("{ns}/{w} ({})", crate::fmt::thousands(*n)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One namespace's state.
#[derive(Debug, Serialize)]
pub struct Namespace<'a> {
    /// `None`: calls whose namespace the logs do not say.
    pub namespace: Option<&'a str>,
    #[serde(flatten)]
    pub coverage: Coverage,
    /// Entries passed through and refused.
    pub passthrough: u64,
    pub blocked: u64,
    /// Pairs that would break after the switch.
    pub would_break: u64,
    /// Pairs refused now.
    pub breaking_now: u64,
    /// ServiceEntries that `recommend` writes for it.
    pub entries: u64,
}

impl Namespace<'_> {
    pub fn ready(&self) -> bool {
        self.would_break == 0 && self.breaking_now == 0
    }
}

/// One step of the rollout. Its action is worded when written: a mesh of many namespaces has
/// a step for each, and the words of them all would outweigh the rest of the plan.
#[derive(Debug)]
pub struct Step<'a> {
    /// The namespace it locks down; `None` for the other steps.
    pub namespace: Option<&'a str>,
    what: StepKind,
}

#[derive(Debug, Clone, Copy)]
enum StepKind {
    /// Lock a namespace down, after applying its entries when it has gaps.
    Lock { gaps: u64, entries: u64 },
    /// Place the requests whose namespace the logs do not say.
    Unplaced { requests: u64 },
    /// The mesh-wide switch.
    Switch,
}

impl Step<'_> {
    /// What to do, in words.
    pub fn action(&self) -> String {
        match self.what {
            StepKind::Lock { gaps, entries } => {
                let ns = self.namespace.unwrap_or_default();
                let lock = format!(
                    "apply a Sidecar in {ns} with outboundTrafficPolicy REGISTRY_ONLY (recommend --sidecars writes it), then watch its logs for BlackHoleCluster and block_all"
                );
                if gaps == 0 {
                    return format!("{ns} is fully declared: {lock}");
                }
                let entries = match entries {
                    0 => "declare its missing destinations".to_owned(),
                    1 => "apply its 1 recommended ServiceEntry".to_owned(),
                    e => format!("apply its {e} recommended ServiceEntries"),
                };
                format!(
                    "{ns} has {gaps} undeclared destination{}: {entries}, then {lock}",
                    if gaps == 1 { "" } else { "s" }
                )
            }
            StepKind::Unplaced { requests } => format!(
                "{} external requests come from workloads whose namespace the logs do not say: read logs with their Kubernetes metadata (or pass --source-namespace) to place them before the mesh-wide switch",
                crate::fmt::thousands(requests)
            ),
            StepKind::Switch => "switch the mesh: meshConfig.outboundTrafficPolicy.mode: REGISTRY_ONLY, then remove the per-namespace Sidecars' outboundTrafficPolicy if the mesh default is enough".into(),
        }
    }
}

impl Serialize for Step<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Step", 2)?;
        st.serialize_field("namespace", &self.namespace)?;
        st.serialize_field("action", &self.action())?;
        st.end()
    }
}

/// Everything `migrate` found.
#[derive(Debug, Serialize)]
pub struct Migration<'a> {
    /// Whether the mesh can switch now: nothing would break and nothing is refused, and the
    /// logs held entries to tell (never ready on no input).
    pub ready: bool,
    /// No access-log entry was recognised, so nothing was measured (unless `--allow-empty`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_input: bool,
    pub mesh: Coverage,
    pub namespaces: Vec<Namespace<'a>>,
    /// Most entries first.
    pub gaps: Vec<Gap<'a>>,
    pub entries: Vec<Outline>,
    pub rollout: Vec<Step<'a>>,
    pub caveats: Vec<String>,
}

/// Builds the migration report. `plan` is what `recommend` would write with the same
/// selection.
pub fn migrate<'a>(summary: &'a Summary, sel: &Selection, plan: &Plan<'_>) -> Migration<'a> {
    let mut gaps = Vec::new();
    let (mesh, mut per_ns, address_only) = tally(summary, sel, Some(&mut gaps));
    gaps.sort_by(|a, b| {
        (b.passthrough + b.blocked)
            .cmp(&(a.passthrough + a.blocked))
            .then_with(|| {
                (a.dest.host, a.dest.address, a.dest.port).cmp(&(
                    b.dest.host,
                    b.dest.address,
                    b.dest.port,
                ))
            })
            .then_with(|| a.namespace.cmp(&b.namespace))
    });
    let entries = crate::recommend::outline(plan);
    // Entries per namespace, counted in one pass (not a search of the namespaces per entry).
    let mut per_entry_ns: BTreeMap<Option<&str>, u64> = BTreeMap::new();
    for e in &plan.entries {
        *per_entry_ns.entry(e.namespace.as_deref()).or_default() += 1;
    }
    for ns in per_ns.values_mut() {
        ns.entries = per_entry_ns.get(&ns.namespace).copied().unwrap_or(0);
    }
    let namespaces: Vec<Namespace<'a>> = per_ns.into_values().collect();
    let rollout = rollout(&namespaces);
    let caveats = caveats(summary, sel, address_only);
    Migration {
        ready: gaps.is_empty(),
        no_input: false,
        mesh,
        namespaces,
        gaps,
        entries,
        rollout,
        caveats,
    }
}

/// Coverage of the mesh and of each namespace, as [`migrate`] reports it, without the rest
/// of the plan (the HTML report of `analyze` shows these alone).
pub fn coverage<'a>(summary: &'a Summary, sel: &Selection) -> (Coverage, Vec<Namespace<'a>>) {
    let (mesh, per_ns, _) = tally(summary, sel, None);
    (mesh, per_ns.into_values().collect())
}

/// The mesh's and each namespace's coverage, the undeclared pairs (when `gaps` is given,
/// unsorted) and how many undeclared destinations are known only by address.
#[allow(clippy::type_complexity)]
fn tally<'a>(
    summary: &'a Summary,
    sel: &Selection,
    mut gaps: Option<&mut Vec<Gap<'a>>>,
) -> (Coverage, BTreeMap<Option<&'a str>, Namespace<'a>>, u64) {
    let mut mesh = Coverage::default();
    let mut per_ns: BTreeMap<Option<&'a str>, Namespace<'a>> = BTreeMap::new();
    let existing = sel.existing.as_deref();
    let mut address_only = 0u64;
    let mut calls = Calls::new();
    for (k, st) in summary.sorted_destinations() {
        if !is_checked(k, st, sel) {
            continue;
        }
        let uses = by_namespace_in(summary, st, sel, &mut calls);
        if uses.iter().all(|u| u.requests == 0) {
            continue;
        }
        let mut all_declared = true;
        let mut requests = 0;
        let mut bytes = 0u64;
        let mut declared_requests = 0;
        for u in uses {
            let declared = u.declared(k, existing);
            let ns = per_ns.entry(u.namespace).or_insert_with(|| Namespace {
                namespace: u.namespace,
                coverage: Coverage::default(),
                passthrough: 0,
                blocked: 0,
                would_break: 0,
                breaking_now: 0,
                entries: 0,
            });
            ns.coverage.add(&u, declared);
            ns.passthrough = ns.passthrough.saturating_add(u.passthrough);
            ns.blocked = ns.blocked.saturating_add(u.blocked);
            requests += u.requests;
            bytes = bytes.saturating_add(u.bytes);
            declared_requests += u.declared_requests(declared);
            if declared {
                continue;
            }
            all_declared = false;
            ns.would_break += u64::from(u.passthrough > 0);
            ns.breaking_now += u64::from(u.blocked > 0);
            if let Some(gaps) = gaps.as_deref_mut() {
                gaps.push(Gap {
                    dest: Dest::of(k, st),
                    namespace: u.namespace,
                    passthrough: u.passthrough,
                    blocked: u.blocked,
                    bytes: u.bytes,
                    last_seen: u.last_seen,
                    workloads: u.workloads,
                });
            }
        }
        mesh.requests += requests;
        mesh.bytes = mesh.bytes.saturating_add(bytes);
        mesh.destinations += 1;
        mesh.declared_requests += declared_requests;
        if all_declared {
            mesh.declared_bytes = mesh.declared_bytes.saturating_add(bytes);
            mesh.declared_destinations += 1;
        } else {
            address_only += u64::from(k.is_address);
        }
    }
    (mesh, per_ns, address_only)
}

fn rollout<'a>(namespaces: &[Namespace<'a>]) -> Vec<Step<'a>> {
    let mut known: Vec<&Namespace<'a>> = namespaces
        .iter()
        .filter(|n| n.namespace.is_some())
        .collect();
    // Ready namespaces first, least traffic first (least to lose if something was missed);
    // then the others, fewest gaps first.
    known.sort_by(|a, b| {
        b.ready()
            .cmp(&a.ready())
            .then((a.would_break + a.breaking_now).cmp(&(b.would_break + b.breaking_now)))
            .then(a.coverage.requests.cmp(&b.coverage.requests))
            .then(a.namespace.cmp(&b.namespace))
    });
    let mut steps = Vec::with_capacity(known.len() + 2);
    for n in known {
        steps.push(Step {
            namespace: n.namespace,
            what: StepKind::Lock {
                gaps: n.would_break + n.breaking_now,
                entries: n.entries,
            },
        });
    }
    if let Some(unknown) = namespaces.iter().find(|n| n.namespace.is_none()) {
        steps.push(Step {
            namespace: None,
            what: StepKind::Unplaced {
                requests: unknown.coverage.requests,
            },
        });
    }
    steps.push(Step {
        namespace: None,
        what: StepKind::Switch,
    });
    steps
}

fn caveats(summary: &Summary, sel: &Selection, address_only: u64) -> Vec<String> {
    let mut v = Vec::new();
    let ambient_ns = sel
        .existing
        .as_deref()
        .map(|e| e.ambient_namespaces.clone())
        .unwrap_or_default();
    if summary.ztunnel_lines > 0 || !ambient_ns.is_empty() {
        let seen = if ambient_ns.is_empty() {
            format!(
                "{} ztunnel access-log lines were read",
                crate::fmt::thousands(summary.ztunnel_lines)
            )
        } else {
            format!("namespaces in ambient mode: {}", ambient_ns.join(", "))
        };
        v.push(format!(
            "Ambient mode ({seen}): ztunnel does not enforce REGISTRY_ONLY, and its traffic is not in sidecar logs; restrict egress of ambient workloads with a waypoint or an egress gateway and authorization policies."
        ));
    }
    let gateway: u64 = summary
        .mesh_calls
        .iter()
        .filter(|(c, _)| c.host.contains("egressgateway") || c.host.contains("egress-gateway"))
        .map(|(_, n)| *n)
        .sum();
    if gateway > 0 {
        v.push(format!(
            "Egress gateway: {} requests went to an egress gateway; the external hosts behind it are in the gateway's own access logs: run egress-advisor on those too.",
            crate::fmt::thousands(gateway)
        ));
    }
    for f in &sel.high_cardinality.findings {
        v.push(format!(
            "High cardinality: {}",
            f.describe(sel.cardinality_threshold)
        ));
    }
    if address_only > 0 {
        v.push(format!(
            "{address_only} undeclared destination{} known only by address (TLS without SNI, or raw TCP): their entries pin addresses, which change for cloud services; find the host names before the switch.",
            if address_only == 1 { " is" } else { "s are" }
        ));
    }
    v
}
