//! Attributing and counting: who wrote a line ([`source_of`]) and what it adds to the
//! [`Summary`] ([`account`]).

use crate::aggregate::{Location, Summary};
use crate::classify::Class;
use crate::config::Settings;
use crate::envelope::meta::Label;
use crate::envelope::{self, Meta};
use crate::ingest::Origin;
use crate::parse::{Format, text};

use super::line::{Outcome, cluster_class, read_line, text_entry_start, text_outcome};

/// What a reader remembers between the lines of one split.
#[derive(Debug, Default, Clone)]
pub struct SplitState {
    /// An entry of this split was parsed whole. Until one is, the quick path stays off, so the
    /// format of every source is known.
    pub(super) parsed_one: bool,
    /// The format last recorded for this split: the per-source set is updated only on a change.
    pub(super) last_format: Option<Format>,
    /// Decoded envelope payloads (JSON strings), reused from line to line.
    pub(super) scratch: Vec<u8>,
    /// CRI partial lines (`P`) waiting for the line that ends them.
    pub(super) partial: Vec<u8>,
    /// Who wrote the lines when no envelope says: from the file's path, or the flags.
    pub(super) base: Meta<'static>,
    /// The last writer named by a line and its index in the summary.
    pub(super) last_source: Option<LastSource>,
    /// The index of the split's own writer (path or flags), once looked up.
    pub(super) base_source: Option<u32>,
}

impl SplitState {
    /// The state at the start of a split of a source written by `base`.
    pub fn new(base: Meta<'static>) -> Self {
        SplitState {
            base,
            ..SplitState::default()
        }
    }

    /// The state after the first entry of a split: the quick path is on.
    pub fn warm() -> Self {
        SplitState {
            parsed_one: true,
            ..SplitState::default()
        }
    }

    fn saw(&mut self, summary: &mut Summary, source: u32, format: Format) {
        self.parsed_one = true;
        if self.last_format != Some(format) {
            self.last_format = Some(format);
            summary.formats.entry(source).or_default().insert(format);
        }
    }
}

/// Who wrote a source's lines as far as its path (a node's container log) or the flags say.
pub fn base_meta(origin: &Origin, s: &Settings) -> Meta<'static> {
    let from_path = match (origin, s.stdin_name.as_deref()) {
        (Origin::File(p), _) => envelope::meta::from_path(p),
        // Standard input named after the object it streams: its path may name the pod.
        (Origin::Stdin, Some(name)) => envelope::meta::from_path(std::path::Path::new(name)),
        _ => Meta::default(),
    };
    let from_flags = Meta {
        namespace: s.namespace.clone().map(Into::into),
        app: s.workload.clone().map(Into::into),
        ..Meta::default()
    };
    from_path.or(from_flags)
}

/// Who wrote a line, as [`source_of`] needs it.
#[derive(Debug, Clone, Copy)]
struct Who<'a> {
    namespace: &'a str,
    workload: &'a str,
    label: Option<Label>,
    /// The split's own writer (path or flags), the same for all its lines.
    from_base: bool,
}

/// The last writer a line named, and its index in the summary. Its names are rewritten in
/// place when the writer changes (as it does from line to line in ztunnel's logs, where the
/// caller is on the line), so a change allocates only when a name outgrows the last.
#[derive(Debug, Clone, Default)]
pub struct LastSource {
    namespace: String,
    workload: String,
    label: Option<Label>,
    id: u32,
}

/// The index of a line's writer. Lines whose writer is the split's own (path or flags) share
/// one index, looked up once; lines that name their writer reuse the last lookup when it is the
/// same writer.
fn source_of(
    summary: &mut Summary,
    who: Who<'_>,
    last: &mut Option<LastSource>,
    base: &mut Option<u32>,
) -> u32 {
    match (who.from_base, *base) {
        (true, Some(id)) => id,
        (true, None) => *base.insert(summary.source_id(who.namespace, who.workload, who.label)),
        (false, _) => match last {
            Some(l)
                if *l.namespace == *who.namespace
                    && *l.workload == *who.workload
                    && l.label == who.label =>
            {
                l.id
            }
            _ => {
                let id = summary.source_id(who.namespace, who.workload, who.label);
                let l = last.get_or_insert_with(LastSource::default);
                l.namespace.clear();
                l.namespace.push_str(who.namespace);
                l.workload.clear();
                l.workload.push_str(who.workload);
                l.label = who.label;
                l.id = id;
                id
            }
        },
    }
}

/// Whether an entry falls outside `--since`/`--until`. An entry without a readable start time
/// is kept: nothing says it is outside.
fn outside(window: Option<crate::config::Window>, start: Option<&str>) -> bool {
    let Some(w) = window else {
        return false;
    };
    let Some(t) = start.and_then(crate::parse::time::parse_rfc3339) else {
        return false;
    };
    !w.contains(t)
}

/// A ztunnel access-log line (`... access connection complete src.addr=... dst.addr=...`).
fn is_ztunnel(line: &[u8]) -> bool {
    memchr::memmem::find(line, b"connection complete").is_some()
        && memchr::memmem::find(line, b"src.addr=").is_some()
        && memchr::memmem::find(line, b"dst.addr=").is_some()
}

/// Counts one line into the summary.
pub fn account(
    summary: &mut Summary,
    s: &Settings,
    line: &[u8],
    loc: Location,
    st: &mut SplitState,
) {
    let quick = st.parsed_one;
    let mut writers = Writers {
        last: st.last_source.take(),
        base: st.base_source,
    };
    let saw = match bare_text(line, s, st) {
        // A bare Istio text entry (most lines): no envelope to unwrap, and its writer is the
        // split's own.
        Some(entry) => {
            let tail = text::parse_tail(entry);
            if quick
                && !s.track_mesh
                && let Ok(t) = &tail
                && let Some((class, ..)) = cluster_class(t, s)
            {
                // In-mesh or inbound, and only counted.
                summary.count(class);
                None
            } else {
                let who = Who {
                    namespace: st.base.namespace.as_deref().unwrap_or(""),
                    workload: st.base.workload().unwrap_or(""),
                    label: None,
                    from_base: true,
                };
                text_outcome(entry, tail, s, quick, |o| {
                    record(summary, s, line, loc, who, Some(o), &mut writers)
                })
            }
        }
        None => read_line(line, s, st, quick, |v| {
            if let Some(container) = v.application {
                let format = match &v.outcome {
                    Some(Outcome::Entry { format, .. }) => Some(Some(*format)),
                    Some(Outcome::Quick { format, .. }) => Some(*format),
                    Some(Outcome::Ztunnel { .. }) => Some(Some(Format::Ztunnel)),
                    _ => None,
                };
                if let Some(format) = format {
                    // Any workload can print a line that looks like an access-log entry, to
                    // get its own destination allowed: only proxies' lines are traffic.
                    summary.application_line(container);
                    return format;
                }
            }
            if v.invalid_source {
                summary.invalid_source(loc);
            }
            if v.envelope == envelope::Kind::Prefixed
                && matches!(
                    v.outcome,
                    Some(Outcome::Entry { .. } | Outcome::Quick { .. })
                )
            {
                summary.unknown_prefix = summary.unknown_prefix.saturating_add(1);
            }
            let who = Who {
                namespace: v.namespace.unwrap_or(""),
                workload: v.workload.unwrap_or(""),
                label: v.selector,
                from_base: v.from_base,
            };
            record(summary, s, line, loc, who, v.outcome, &mut writers)
        }),
    };
    st.last_source = writers.last;
    st.base_source = writers.base;
    if let Some(format) = saw {
        st.saw(summary, loc.source, format);
    }
}

/// The trimmed line when it is a bare text entry that [`read_line`] would hand to
/// [`text_outcome`] as it is: `[` but not `[pod/` (kubectl --prefix), so no envelope, no
/// partial CRI line pending, and no custom format to try first.
fn bare_text<'a>(line: &'a [u8], s: &Settings, st: &SplitState) -> Option<&'a [u8]> {
    if s.custom.is_some()
        || !st.partial.is_empty()
        || st
            .base
            .container
            .as_deref()
            .is_some_and(|c| !s.is_proxy_container(c))
        || line.first() != Some(&b'[')
        || !line.get(1).is_some_and(u8::is_ascii_digit)
    {
        return None;
    }
    let line = crate::parse::trim_line(line);
    text_entry_start(line).then_some(line)
}

/// The writers last looked up, carried from line to line (see [`source_of`]).
struct Writers {
    last: Option<LastSource>,
    base: Option<u32>,
}

/// Counts one line's outcome (`None`: a CRI partial line, read with the line that ends it)
/// made by `who`. Returns the format of an entry parsed whole.
fn record(
    summary: &mut Summary,
    s: &Settings,
    line: &[u8],
    loc: Location,
    who: Who<'_>,
    outcome: Option<Outcome<'_>>,
    w: &mut Writers,
) -> Option<Format> {
    let mut source = |summary: &mut Summary| source_of(summary, who, &mut w.last, &mut w.base);
    match outcome {
        None => summary.count(Class::Partial),
        Some(Outcome::Noise) => {
            if is_ztunnel(line) {
                summary.ztunnel_lines += 1;
            }
            summary.count(Class::Noise)
        }
        Some(Outcome::Malformed(m)) => summary.malformed(m, loc),
        Some(Outcome::Quick {
            class,
            format,
            cluster,
            ..
        }) => {
            if s.track_mesh && class == Class::Internal {
                let id = source(summary);
                summary.mesh_call(id, cluster, &s.rules);
            }
            summary.count(class);
            return format;
        }
        Some(Outcome::Ztunnel { entry, judged }) => {
            ztunnel(summary, s, loc, entry, judged, w);
            return Some(Format::Ztunnel);
        }
        Some(Outcome::Entry {
            format,
            record,
            classified,
            ..
        }) => {
            match &classified.destination {
                Some(_) if outside(s.window, record.start_time) => summary.count(Class::Outside),
                Some(d) => {
                    let id = source(summary);
                    summary.destination(classified.class, d, record, id)
                }
                None => {
                    if s.track_mesh
                        && classified.class == Class::Internal
                        && let Some(cluster) = record.upstream_cluster
                    {
                        let id = source(summary);
                        summary.mesh_call(id, cluster.as_bytes(), &s.rules);
                    }
                    summary.count(classified.class)
                }
            }
            return Some(format);
        }
    }
    None
}

/// Counts a ztunnel line: in the class of its flow, and for egress, as a destination of the
/// caller the line names (`src.namespace`, the workload of `src.workload`), not of its writer
/// (a ztunnel pod). Inbound lines are counted only as lines: the client's outbound line counts
/// the connection.
fn ztunnel(
    summary: &mut Summary,
    s: &Settings,
    loc: Location,
    entry: &crate::parse::ztunnel::ZtunnelEntry<'_>,
    judged: &crate::ambient::Judged<'_>,
    w: &mut Writers,
) {
    summary.ztunnel_lines = summary.ztunnel_lines.saturating_add(1);
    summary.ambient.count(judged.flow, loc);
    let class = judged.flow.class();
    let Some(d) = judged.summary_destination() else {
        summary.count(class);
        return;
    };
    if outside(s.window, entry.time.as_deref()) {
        summary.count(Class::Outside);
        return;
    }
    let c = &judged.caller;
    // The pod's owner and service account, when `--pods` lists it.
    let pod = c.pod_info(s.pods.as_deref());
    let workload = c.workload_with(pod);
    // Names from a line are anyone's to write: one Kubernetes would refuse is dropped, as for
    // envelopes.
    let bad_namespace = c
        .namespace
        .is_some_and(|n| !crate::validate::is_dns1123_label(n, false));
    let bad_workload = workload.is_some_and(|w| {
        !crate::validate::is_label_value(w) && !crate::validate::is_dns1123_subdomain(w)
    });
    if bad_namespace || bad_workload {
        summary.invalid_source(loc);
    }
    let namespace = c.namespace.filter(|_| !bad_namespace);
    let workload = workload.filter(|_| !bad_workload);
    let who = Who {
        namespace: namespace.unwrap_or(""),
        workload: workload.unwrap_or(""),
        label: None,
        from_base: false,
    };
    let id = source_of(summary, who, &mut w.last, &mut w.base);
    if let (Some(n), Some(wl)) = (namespace, workload) {
        match (c.principal, pod) {
            (Some(p), _) => summary.ambient.principal(p, n, wl),
            // No identity on the line (passthrough, a ServiceEntry without a waypoint): the
            // service account the pod list gives.
            (None, Some(pod)) => summary.ambient.account(&pod.account, n, wl),
            (None, None) => {}
        }
    }
    summary.destination(class, &d, &crate::ambient::record(entry), id);
}
