//! Reading one line: sniffing its format, parsing it and classifying it ([`inspect`]), after
//! unwrapping it from its envelope ([`read_line`]).

use std::sync::LazyLock;

use memchr::memmem;

use crate::ambient::{Judged, judge};
use crate::classify::{Class, Classified, by_cluster_bytes, classify};
use crate::config::Custom;
use crate::config::Settings;
use crate::envelope;
use crate::envelope::meta::Label;
use crate::parse::custom::{self, Template, Writer};
use crate::parse::json::JsonEntry;
use crate::parse::ztunnel::{self, ZtunnelEntry};
use crate::parse::{Format, FormatChoice, Malformed, Record, Sniff, sniff, text};

use super::SplitState;

/// What one line turned out to be.
pub enum Outcome<'a> {
    Noise,
    Malformed(Malformed),
    /// Decided from the upstream cluster alone (in-mesh and inbound traffic). `format` is
    /// known when the rest of the line was parsed too (not on the quick path).
    Quick {
        class: Class,
        reason: &'static str,
        format: Option<Format>,
        /// The upstream cluster, as written.
        cluster: &'a [u8],
    },
    Entry {
        format: Format,
        record: &'a Record<'a>,
        classified: Classified<'a>,
        /// Who wrote it, when the format logs it (custom formats with `%ENVIRONMENT(POD_*)%`).
        writer: Writer<'a>,
    },
    /// A ztunnel access-log line (ambient mode), judged: its caller is on the line, not the
    /// writer (a ztunnel pod).
    Ztunnel {
        entry: &'a ZtunnelEntry<'a>,
        judged: &'a Judged<'a>,
    },
}

/// True for `[<timestamp>] ...`, Istio's text entries; Envoy's own application log lines
/// (`[ts][thread][level]...`) fail this and are noise.
pub(super) fn text_entry_start(line: &[u8]) -> bool {
    let head = &line[..line.len().min(64)];
    memchr::memchr(b']', head).is_some_and(|i| head.get(i + 1) == Some(&b' '))
}

static ENVOY_DEFAULT: LazyLock<Template> = LazyLock::new(|| {
    Template::compile(custom::ENVOY_DEFAULT, false).expect("Envoy's default format compiles")
});

/// Reads a line with the user's format. `Err(f)` hands `f` back when the line does not match.
fn custom_entry<T, F: FnOnce(Outcome<'_>) -> T>(
    line: &[u8],
    c: &Custom,
    s: &Settings,
    f: F,
) -> Result<T, F> {
    let done = |record: &Record<'_>, writer: Writer<'_>, f: F| {
        let classified = classify(record, &s.rules);
        f(Outcome::Entry {
            format: Format::Custom,
            record,
            classified,
            writer,
        })
    };
    match c {
        Custom::Text(t) => {
            let Some(raw) = t.match_line(line) else {
                return Err(f);
            };
            Ok(
                match custom::text_slots(&raw)
                    .and_then(|slots| custom::record(&slots).map(|r| (slots, r)))
                {
                    Ok((_, (record, writer))) => done(&record, writer, f),
                    Err(m) => f(Outcome::Malformed(m)),
                },
            )
        }
        Custom::Json(keys) => {
            if sniff(line) != Sniff::Json {
                return Err(f);
            }
            match keys.parse(line) {
                Ok(None) | Err(_) => Err(f),
                Ok(Some(values)) => Ok(match custom::json_record(&values) {
                    Ok((record, writer)) => done(&record, writer, f),
                    Err(m) => f(Outcome::Malformed(m)),
                }),
            }
        }
    }
}

/// The value of `"upstream_cluster"` in a JSON entry, found without parsing the JSON: the byte
/// sequence `"upstream_cluster":"` cannot occur inside a JSON string, where quotes are escaped.
/// `None` when the key is absent, not a string, or the value holds an escape.
fn json_cluster(line: &[u8]) -> Option<&[u8]> {
    static KEY: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(b"\"upstream_cluster\":"));
    let at = KEY.find(line)? + KEY.needle().len();
    let rest = line[at..].trim_ascii_start().strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    (rest[end] == b'"').then_some(&rest[..end])
}

/// Decodes and classifies a JSON entry.
fn json_entry<T>(line: &[u8], s: &Settings, f: impl FnOnce(Outcome<'_>) -> T) -> T {
    match JsonEntry::parse(line) {
        Err(m) => f(Outcome::Malformed(m)),
        Ok(None) => f(Outcome::Noise),
        Ok(Some(e)) => match e.record() {
            Err(m) => f(Outcome::Malformed(m)),
            Ok(_) if !s.format.allows(Format::Json) => {
                f(Outcome::Malformed(Malformed::WrongFormat))
            }
            Ok(record) => {
                let classified = classify(&record, &s.rules);
                f(Outcome::Entry {
                    format: Format::Json,
                    record: &record,
                    classified,
                    writer: Writer::default(),
                })
            }
        },
    }
}

/// Reads and judges a ztunnel line (text or JSON). Unless `--format` names another format:
/// then it is the noise it always was.
fn ztunnel_entry<T>(line: &[u8], s: &Settings, f: impl FnOnce(Outcome<'_>) -> T) -> T {
    if !s.format.allows(Format::Ztunnel) {
        return f(Outcome::Noise);
    }
    match ZtunnelEntry::parse(line) {
        Err(m) => f(Outcome::Malformed(m)),
        Ok(None) => f(Outcome::Noise),
        Ok(Some(entry)) => {
            let judged = judge(&entry, &s.rules);
            f(Outcome::Ztunnel {
                entry: &entry,
                judged: &judged,
            })
        }
    }
}

/// In-mesh and inbound text entries are decided by their cluster alone, in every mode but an
/// exact format, so a damaged head never changes their class whichever path read them.
pub(super) fn cluster_class<'a>(
    tail: &text::Tail<'a>,
    s: &Settings,
) -> Option<(Class, &'static str, &'a [u8])> {
    if matches!(s.format, FormatChoice::Exact(_)) {
        return None;
    }
    let cluster = tail.cluster()?;
    let (class, reason) = by_cluster_bytes(cluster, &s.rules)?;
    Some((class, reason, cluster))
}

/// The outcome of a text entry (a line that starts `[...] `), given its tail as
/// [`text::parse_tail`] split it.
pub(super) fn text_outcome<T>(
    line: &[u8],
    tail: Result<text::Tail<'_>, Malformed>,
    s: &Settings,
    quick: bool,
    f: impl FnOnce(Outcome<'_>) -> T,
) -> T {
    let tail = match tail {
        Ok(t) => t,
        Err(_) if s.format.allows(Format::Envoy) && ENVOY_DEFAULT.match_line(line).is_some() => {
            return f(Outcome::Entry {
                format: Format::Envoy,
                record: &Record::default(),
                classified: Classified {
                    class: Class::Unknown,
                    reason: "Envoy's default format logs no cluster, route or original destination: nothing certain",
                    destination: None,
                },
                writer: Writer::default(),
            });
        }
        Err(m) => return f(Outcome::Malformed(m)),
    };
    if let Some((class, reason, cluster)) = cluster_class(&tail, s) {
        let format = if quick {
            None
        } else {
            text::parse_full(line, &tail).ok().map(|(f, _)| f)
        };
        return f(Outcome::Quick {
            class,
            reason,
            format,
            cluster,
        });
    }
    match text::parse_full(line, &tail) {
        Err(m) => f(Outcome::Malformed(m)),
        Ok((format, _)) if !s.format.allows(format) => {
            f(Outcome::Malformed(Malformed::WrongFormat))
        }
        Ok((format, record)) => {
            let classified = classify(&record, &s.rules);
            f(Outcome::Entry {
                format,
                record: &record,
                classified,
                writer: Writer::default(),
            })
        }
    }
}

/// Reads and classifies one line and hands the outcome to `f`. In-mesh and inbound text
/// entries are classified from the end of the line; with `quick`, the rest is not parsed.
pub fn inspect<T>(line: &[u8], s: &Settings, quick: bool, f: impl FnOnce(Outcome<'_>) -> T) -> T {
    let line = crate::parse::trim_line(line);
    // A format the user gave comes first; lines it does not match are read as Istio's own.
    let f = match s.custom.as_deref() {
        Some(custom) => match custom_entry(line, custom, s, f) {
            Ok(t) => return t,
            Err(f) => f,
        },
        None => f,
    };
    match sniff(line) {
        Sniff::Json => {
            // In-mesh and inbound entries are decided by their cluster alone, as for text.
            if s.format.allows(Format::Json)
                && let Some(cluster) = json_cluster(line)
                && let Some((class, reason)) = by_cluster_bytes(cluster, &s.rules)
            {
                let format = if quick {
                    None
                } else {
                    JsonEntry::parse(line).ok().flatten().map(|_| Format::Json)
                };
                return f(Outcome::Quick {
                    class,
                    reason,
                    format,
                    cluster,
                });
            }
            if ztunnel::looks_like_json(line) {
                return ztunnel_entry(line, s, f);
            }
            json_entry(line, s, f)
        }
        Sniff::Text if text_entry_start(line) => {
            text_outcome(line, text::parse_tail(line), s, quick, f)
        }
        _ if ztunnel::looks_like(line) => ztunnel_entry(line, s, f),
        _ => f(Outcome::Noise),
    }
}

/// One line, unwrapped and read.
pub struct LineView<'a> {
    /// The wrapper the line came in.
    pub envelope: envelope::Kind,
    /// `None` for a CRI partial line, joined to the next one.
    pub outcome: Option<Outcome<'a>>,
    pub namespace: Option<&'a str>,
    pub workload: Option<&'a str>,
    /// The writer is the split's own (path or flags), not the line's: the same for every line.
    pub from_base: bool,
    /// The pod label `workload` came from, when the envelope's labels named it.
    pub selector: Option<Label>,
    /// The container that printed the line, when the envelope or the path names one that is
    /// not a proxy (`--containers`): its entries are an application's output, not traffic.
    pub application: Option<&'a str>,
    /// The envelope named a namespace or workload Kubernetes would refuse: the writer is
    /// taken as unknown.
    pub invalid_source: bool,
}

/// Unwraps a line from its envelope (joining CRI partial lines), reads it and hands the result
/// to `f`. `quick` as for [`inspect`].
pub fn read_line<T>(
    line: &[u8],
    s: &Settings,
    st: &mut SplitState,
    quick: bool,
    f: impl FnOnce(LineView<'_>) -> T,
) -> T {
    let SplitState {
        scratch,
        partial,
        base,
        ..
    } = st;
    let u = envelope::unwrap(line, scratch);
    if u.partial {
        // A runaway partial line is cut at the line limit; the rest is read as it comes.
        if partial.len() + u.payload.len() <= s.max_line_bytes {
            partial.extend_from_slice(u.payload);
        }
        return f(LineView {
            envelope: u.kind,
            outcome: None,
            namespace: None,
            workload: None,
            from_base: true,
            selector: None,
            application: None,
            invalid_source: false,
        });
    }
    let payload: &[u8] = if partial.is_empty() {
        u.payload
    } else {
        partial.extend_from_slice(u.payload);
        partial
    };
    let out = inspect(payload, s, quick, |o| {
        // Behind a prefix no wrapper explains, only a whole entry counts: anything else is
        // the noise it was before.
        let o = match o {
            Outcome::Malformed(_) if u.kind == envelope::Kind::Prefixed => Outcome::Noise,
            o => o,
        };
        // Who wrote it: the envelope, else the format's own pod fields, else the path or flags.
        let writer = match &o {
            Outcome::Entry { writer, .. } => *writer,
            _ => Writer::default(),
        };
        let namespace = u
            .meta
            .namespace
            .as_deref()
            .or(writer.namespace)
            .or(base.namespace.as_deref());
        let workload = u
            .meta
            .workload()
            .or(writer.pod.map(envelope::meta::workload_of_pod))
            .or(base.workload());
        let mut from_base = u.meta.is_empty() && writer == Writer::default();
        let mut selector = u.meta.selector();
        // Names from a line are anyone's to write: one Kubernetes would refuse is dropped (the
        // writer's namespace or workload is then unknown), counted, and never reaches a
        // manifest.
        let bad_namespace = namespace.is_some_and(|n| !crate::validate::is_dns1123_label(n, false));
        let bad_workload = workload.is_some_and(|w| {
            !crate::validate::is_label_value(w) && !crate::validate::is_dns1123_subdomain(w)
        });
        let invalid_source = bad_namespace || bad_workload;
        let namespace = namespace.filter(|_| !bad_namespace);
        let workload = workload.filter(|_| !bad_workload);
        if invalid_source {
            from_base = false;
        }
        if bad_workload {
            selector = None;
        }
        // A bare `<word> ` prefix may be a container or a host name a shipper added: it is
        // not proof enough to set an entry aside, which could let a gate pass on traffic it
        // never counted. Such lines are read as traffic, like bare ones.
        let named = if u.kind == envelope::Kind::Container {
            None
        } else {
            u.meta.container.as_deref()
        };
        let application = named
            .or(base.container.as_deref())
            .filter(|c| !s.is_proxy_container(c));
        f(LineView {
            envelope: u.kind,
            outcome: Some(o),
            namespace,
            workload,
            from_base,
            selector,
            application,
            invalid_source,
        })
    });
    partial.clear();
    out
}
