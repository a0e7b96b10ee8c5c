//! `check`, the CI gate: every external destination that traffic left for (or tried to) must be
//! covered by the existing config, by an entry of the allow file, or by the baseline.
//!
//! Registered traffic went to a ServiceEntry of the mesh that wrote the logs: it is declared and
//! never fails the check. In-mesh destinations (Istio's auto-allocated addresses and
//! `--mesh-cidr` ranges), `--exclude-host` hosts, calls from `--exclude-namespace` namespaces and
//! destinations under `--min-requests` are not checked. Private and special-purpose addresses
//! are: REGISTRY_ONLY refuses them too.

mod allow;
mod baseline;
mod usage;

pub use allow::*;
pub use baseline::*;
pub use usage::*;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aggregate::{DestKey, DestStats};
use crate::classify::Category;
use crate::config::Selection;
use crate::parse::time::{Millis, format_millis};

/// How a destination passes, or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Status {
    /// An existing ServiceEntry covers it for every namespace that called it.
    Covered { by: String },
    /// Only registered traffic: declared in the mesh that wrote the logs.
    Registered,
    /// An entry of the allow file.
    Allowed { entry: usize, reason: String },
    /// In the baseline.
    Baseline,
    /// Nothing covers it.
    Uncovered,
}

impl Status {
    pub fn name(&self) -> &'static str {
        match self {
            Status::Covered { .. } => "covered",
            Status::Registered => "registered",
            Status::Allowed { .. } => "allowed",
            Status::Baseline => "baseline",
            Status::Uncovered => "uncovered",
        }
    }

    /// Why the destination passes, or that it does not, in words.
    pub fn describe(&self) -> String {
        match self {
            Status::Covered { by } => format!("covered by {by}"),
            Status::Registered => "registered in the mesh".into(),
            Status::Allowed { entry, reason } => format!("allow entry {entry}: {reason}"),
            Status::Baseline => "in the baseline".into(),
            Status::Uncovered => "not declared".into(),
        }
    }
}

/// A destination as reports name it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Dest<'a> {
    pub host: Option<&'a str>,
    pub address: Option<&'a str>,
    pub port: u16,
    pub protocol: &'static str,
    /// `external`, or `private` for private and special-purpose addresses (pods, nodes, VPC
    /// and on-premises networks), which REGISTRY_ONLY refuses all the same.
    pub category: Category,
    /// The traffic reached a cloud metadata service (169.254.169.254 and the like).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub metadata: bool,
}

impl<'a> Dest<'a> {
    pub fn of(k: &'a DestKey, st: &DestStats) -> Dest<'a> {
        Dest {
            host: (!k.is_address).then_some(&*k.name),
            address: k.is_address.then_some(&*k.name),
            port: k.port,
            protocol: k.protocol.istio_name(),
            category: st.category.unwrap_or(Category::External),
            metadata: reaches_metadata(k, st),
        }
    }

    pub fn is_private(&self) -> bool {
        self.category == Category::Private
    }

    /// `host:port/PROTOCOL`.
    pub fn title(&self) -> String {
        format!(
            "{}:{}/{}",
            crate::fmt::display_name(self.host, self.address),
            self.port,
            self.protocol
        )
    }
}

/// One checked destination.
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    #[serde(flatten)]
    pub dest: Dest<'a>,
    #[serde(flatten)]
    pub status: Status,
    /// For an uncovered destination, why the allow file did not help (an expired entry).
    pub note: Option<String>,
    pub passthrough: u64,
    pub blocked: u64,
    pub registered: u64,
    pub bytes: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_seen: Option<Millis>,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<Millis>,
    /// Callers; for an uncovered destination, only the namespaces nothing covers.
    pub namespaces: Vec<NsUse<'a>>,
    #[serde(skip)]
    pub key: &'a DestKey,
}

pub fn ser_time<S: serde::Serializer>(t: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_millis(*t)),
        None => s.serialize_none(),
    }
}

impl Row<'_> {
    pub fn title(&self) -> String {
        self.dest.title()
    }

    /// Callers as `ns/workload (entries)`, most first.
    pub fn callers(&self) -> String {
        let mut v: Vec<(String, u64)> = Vec::new();
        for u in &self.namespaces {
            let ns = u.namespace.unwrap_or("?");
            let named = u
                .workloads
                .iter()
                .fold(0u64, |a, (_, n)| a.saturating_add(*n));
            for (wl, n) in &u.workloads {
                v.push((format!("{ns}/{wl}"), *n));
            }
            // Calls whose workload the logs do not say.
            let rest = if u.undeclared() > 0 {
                u.undeclared()
            } else {
                u.requests
            }
            .saturating_sub(named);
            if rest > 0 {
                v.push((format!("{ns}/?"), rest));
            }
        }
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.iter()
            .map(|(s, n)| format!("{s} ({})", crate::fmt::thousands(*n)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every destination is declared, and every input was read.
    Pass,
    /// An undeclared destination, an expired allow entry, an input not read whole, or (with
    /// `--strict`) a malformed line.
    Fail,
    /// No access-log entry was recognised, so nothing was checked: not a pass (exit 4) unless
    /// `--allow-empty` says an empty input is expected.
    NoInput,
}

/// Checked destinations by status. Serialised as a map of the statuses that occur (in this
/// order), as `counts` has always been written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub allowed: usize,
    pub baseline: usize,
    pub covered: usize,
    pub registered: usize,
    pub uncovered: usize,
}

impl Counts {
    fn add(&mut self, status: &Status) {
        let n = match status {
            Status::Allowed { .. } => &mut self.allowed,
            Status::Baseline => &mut self.baseline,
            Status::Covered { .. } => &mut self.covered,
            Status::Registered => &mut self.registered,
            Status::Uncovered => &mut self.uncovered,
        };
        *n += 1;
    }
}

impl Serialize for Counts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let all = [
            ("allowed", self.allowed),
            ("baseline", self.baseline),
            ("covered", self.covered),
            ("registered", self.registered),
            ("uncovered", self.uncovered),
        ];
        let mut m = s.serialize_map(Some(all.iter().filter(|(_, n)| *n > 0).count()))?;
        for (k, n) in all {
            if n > 0 {
                m.serialize_entry(k, &n)?;
            }
        }
        m.end()
    }
}

/// Everything `check` found.
#[derive(Debug, Serialize)]
pub struct Check<'a> {
    pub verdict: Verdict,
    /// Checked destinations by status.
    pub counts: Counts,
    /// Every checked destination: uncovered first (most undeclared entries first), then the
    /// others by name.
    pub destinations: Vec<Row<'a>>,
    /// Allow entries past their date: each fails the check.
    pub expired: Vec<Allow>,
    /// Allow entries that matched no destination.
    pub unused_allow: Vec<Allow>,
    /// Baseline destinations not uncovered any more (covered now, or not seen).
    pub stale_baseline: Vec<BaselineDest>,
    /// Input lines: read, malformed.
    pub lines: u64,
    pub malformed: u64,
    /// With `--strict`, malformed lines fail the check.
    pub strict: bool,
    /// Inputs that could not be read (to the end), as `name: reason`: each fails the check,
    /// since the traffic in them was not checked.
    pub unreadable: Vec<String>,
    /// Findings to read whatever the verdict: traffic to a cloud metadata service.
    pub warnings: Vec<String>,
    /// The ServiceEntries that would close the gap (see [`closing`]), in outline.
    pub fix: Vec<crate::recommend::Outline>,
    /// Undeclared destinations that get no entry, and why (a private address without
    /// `--include-private`, a host no ServiceEntry can name, ...): `destination: reason`.
    pub fix_skipped: Vec<String>,
    /// The same as YAML, for the Markdown summary: at most [`FIX_YAML_MAX`] bytes of whole
    /// documents, and how many entries did not fit.
    #[serde(skip)]
    pub fix_yaml: Option<(String, usize)>,
}

/// How much YAML the Markdown summary of a failing check shows (a pull-request comment holds
/// at most 65,536 characters; `--write FILE` writes every entry).
pub const FIX_YAML_MAX: usize = 32 * 1024;

/// The entries of `plan` that close the gap `check` found: for each destination nothing
/// declares, the entries of the namespaces nothing covers, with only their undeclared
/// destinations and ports. Destinations the allow file or the baseline accept need no entry
/// to pass, and get none here.
pub fn closing<'a>(
    mut plan: crate::recommend::Plan<'a>,
    check: &Check<'_>,
) -> crate::recommend::Plan<'a> {
    let open: std::collections::BTreeSet<(&DestKey, Option<&str>)> = check
        .uncovered()
        .flat_map(|r| r.namespaces.iter().map(move |u| (r.key, u.namespace)))
        .collect();
    let uncovered: std::collections::BTreeSet<&DestKey> =
        check.uncovered().map(|r| r.key).collect();
    plan.entries.retain_mut(|e| {
        let ns = e.namespace.as_deref();
        if e.merged.is_some() {
            // Written whole over the existing entry it extends: kept or left out whole.
            return e
                .ports
                .iter()
                .flat_map(|p| &p.dests)
                .any(|(k, _, _)| open.contains(&(*k, ns)));
        }
        for p in &mut e.ports {
            p.dests.retain(|(k, _, _)| open.contains(&(*k, ns)));
        }
        e.ports.retain(|p| !p.dests.is_empty());
        !e.ports.is_empty()
    });
    plan.skipped.retain(|(k, _, _)| uncovered.contains(k));
    plan
}

impl Check<'_> {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// Whether the check found something to act on: an undeclared destination or an expired
    /// allow entry (inputs not read whole fail the check too, with an exit code of their own).
    pub fn findings(&self) -> bool {
        self.counts.uncovered > 0 || !self.expired.is_empty()
    }

    pub fn uncovered(&self) -> impl Iterator<Item = &Row<'_>> {
        self.destinations
            .iter()
            .filter(|r| r.status == Status::Uncovered)
    }
}

/// What a check needs besides the run and its selection.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'x> {
    pub allow: &'x [Allow],
    pub baseline: Option<&'x [BaselineDest]>,
    pub now: Millis,
    /// `--strict`: malformed lines fail the check.
    pub strict: bool,
    /// `--allow-empty`: an input with no access-log entry passes.
    pub allow_empty: bool,
}

/// Access-log entries recognised: every line but noise, malformed, CRI partial lines and
/// applications' output.
pub fn entries(s: &crate::aggregate::Summary) -> u64 {
    use crate::classify::Class;
    let not = [
        Class::Noise,
        Class::Malformed,
        Class::Partial,
        Class::Application,
    ]
    .iter()
    .fold(0u64, |a, c| a.saturating_add(s.classes[c.index()]));
    s.lines().saturating_sub(not)
}

/// Decides every destination.
pub fn check<'a>(run: &'a crate::aggregate::Run, sel: &Selection, rules: Rules<'_>) -> Check<'a> {
    let Rules {
        allow,
        baseline,
        now,
        strict,
        allow_empty,
    } = rules;
    let summary = &run.summary;
    let mut rows = Vec::new();
    let mut used_allow = vec![false; allow.len()];
    let mut baseline_hit: Vec<bool> = vec![false; baseline.map_or(0, <[_]>::len)];
    // Each destination's first place in the baseline: a lookup per destination, not a scan.
    let mut baseline_at: BTreeMap<&BaselineDest, usize> = BTreeMap::new();
    for (i, d) in baseline.unwrap_or_default().iter().enumerate() {
        baseline_at.entry(d).or_insert(i);
    }
    let mut calls = Calls::new();
    for (k, st) in summary.sorted_destinations() {
        if !is_checked(k, st, sel) {
            continue;
        }
        let namespaces = by_namespace_in(summary, st, sel, &mut calls);
        let undeclared = namespaces
            .iter()
            .fold(0u64, |a, u| a.saturating_add(u.undeclared()));
        let requests = namespaces
            .iter()
            .fold(0u64, |a, u| a.saturating_add(u.requests));
        if requests == 0 || (undeclared > 0 && undeclared < sel.min_requests) {
            continue;
        }
        let mut note = None;
        let (status, namespaces) = if undeclared == 0 {
            (Status::Registered, namespaces)
        } else {
            // Namespaces whose undeclared calls no existing entry covers.
            let existing = sel.existing.as_deref();
            let mut by = None;
            let (covered, open): (Vec<NsUse<'a>>, Vec<NsUse<'a>>) =
                namespaces.into_iter().partition(|u| {
                    if u.undeclared() == 0 {
                        return true;
                    }
                    // Through a waypoint-bound entry, only the callers its policies admit.
                    let covering = existing.and_then(|e| {
                        e.covering(k, u.namespace).filter(|entry| {
                            crate::waypoint_policy::admits(&e.policies, entry, u.namespace)
                        })
                    });
                    match covering {
                        Some(e) => {
                            by.get_or_insert_with(|| format!("{}/{}", e.namespace, e.name));
                            true
                        }
                        None => false,
                    }
                });
            if open.is_empty() {
                (
                    Status::Covered {
                        by: by.unwrap_or_default(),
                    },
                    covered,
                )
            } else {
                // Every matching entry is in use, even when an earlier one decides.
                for (i, a) in allow.iter().enumerate() {
                    if a.matches(k) {
                        used_allow[i] = true;
                    }
                }
                let live = allow.iter().find(|a| a.matches(k) && !a.expired(now));
                let dead = allow.iter().find(|a| a.matches(k) && a.expired(now));
                let base = baseline_at.get(&BaselineDest::of(k)).map(|&i| {
                    baseline_hit[i] = true;
                });
                match (live, base) {
                    (Some(a), _) => (
                        Status::Allowed {
                            entry: a.entry,
                            reason: a.reason.clone(),
                        },
                        open,
                    ),
                    (None, Some(())) => (Status::Baseline, open),
                    (None, None) => {
                        if let Some(a) = dead {
                            note = Some(format!(
                                "allow entry {} ({}) expired on {}",
                                a.entry,
                                a.label(),
                                a.expires.as_deref().unwrap_or("?")
                            ));
                        }
                        (Status::Uncovered, open)
                    }
                }
            }
        };
        // The counts of the namespaces the row is about: for an undeclared destination, those
        // nothing covers.
        let sum =
            |f: fn(&NsUse<'_>) -> u64| namespaces.iter().fold(0u64, |a, u| a.saturating_add(f(u)));
        rows.push(Row {
            dest: Dest::of(k, st),
            status,
            note,
            passthrough: sum(|u| u.passthrough),
            blocked: sum(|u| u.blocked),
            registered: sum(|u| u.requests.saturating_sub(u.undeclared())),
            bytes: sum(|u| u.bytes),
            first_seen: st.first_seen,
            last_seen: namespaces.iter().filter_map(|u| u.last_seen).max(),
            namespaces,
            key: k,
        });
    }
    rows.sort_by(|a, b| {
        let open = |r: &Row<'_>| r.status != Status::Uncovered;
        open(a)
            .cmp(&open(b))
            .then_with(|| (b.passthrough + b.blocked).cmp(&(a.passthrough + a.blocked)))
            .then_with(|| a.key.cmp(b.key))
    });
    let mut counts = Counts::default();
    for r in &rows {
        counts.add(&r.status);
    }
    let expired: Vec<Allow> = allow.iter().filter(|a| a.expired(now)).cloned().collect();
    let unused_allow = allow
        .iter()
        .zip(&used_allow)
        .filter(|(_, u)| !**u)
        .map(|(a, _)| a.clone())
        .collect();
    let stale_baseline = baseline
        .unwrap_or_default()
        .iter()
        .zip(&baseline_hit)
        .filter(|(_, h)| !**h)
        .map(|(d, _)| d.clone())
        .collect();
    let uncovered = counts.uncovered;
    let malformed = summary.classes[crate::classify::Class::Malformed.index()];
    let unreadable: Vec<String> = summary
        .read_errors
        .iter()
        .map(|(i, why)| format!("{}: {why}", run.source_name(*i)))
        .collect();
    let fail =
        uncovered > 0 || !expired.is_empty() || !unreadable.is_empty() || (strict && malformed > 0);
    let verdict = if fail {
        Verdict::Fail
    } else if entries(summary) == 0 && !allow_empty {
        Verdict::NoInput
    } else {
        Verdict::Pass
    };
    let mut warnings: Vec<String> = rows
        .iter()
        .filter(|r| r.dest.metadata)
        .map(|r| metadata_warning(&r.title(), &r.callers()))
        .collect();
    warnings.extend(sel.high_cardinality.findings.iter().map(|f| {
        format!(
            "High cardinality: {}",
            f.describe(sel.cardinality_threshold)
        )
    }));
    Check {
        warnings,
        verdict,
        counts,
        destinations: rows,
        expired,
        unused_allow,
        stale_baseline,
        lines: summary.lines(),
        malformed,
        strict,
        unreadable,
        fix: Vec::new(),
        fix_skipped: Vec::new(),
        fix_yaml: None,
    }
}
