//! Wires the stages together for a set of sources: ingest, parse, classify, aggregate.
//!
//! Work is parallel at the coarsest natural unit: a file, or a newline-aligned range of a big
//! plain file. Each rayon worker keeps one [`Summary`] and one line buffer; summaries are
//! merged at the end. Merging is commutative, so the result does not depend on the thread
//! count or on which worker read what.

use std::io;
use std::sync::LazyLock;

use memchr::memmem;

use crate::aggregate::{Location, Summary};
use crate::classify::{Class, Classified, by_cluster_bytes, classify};
use crate::config::Custom;
use crate::config::Settings;
use crate::envelope::meta::Label;
use crate::envelope::{self, Meta};
use crate::ingest::lines::{Event, LineReader};
use crate::ingest::{self, Counted, Encoding, Origin, Source, Task, UpToPlanned};
use crate::parse::custom::{self, Template, Writer};
use crate::parse::json::JsonEntry;
use crate::parse::{Format, FormatChoice, Malformed, Record, Sniff, sniff, text};
use crate::progress::Progress;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

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
}

/// True for `[<timestamp>] ...`, Istio's text entries; Envoy's own application log lines
/// (`[ts][thread][level]...`) fail this and are noise.
fn text_entry_start(line: &[u8]) -> bool {
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

/// In-mesh and inbound text entries are decided by their cluster alone, in every mode but an
/// exact format, so a damaged head never changes their class whichever path read them.
fn cluster_class<'a>(
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
fn text_outcome<T>(
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
            json_entry(line, s, f)
        }
        Sniff::Text if text_entry_start(line) => {
            text_outcome(line, text::parse_tail(line), s, quick, f)
        }
        _ => f(Outcome::Noise),
    }
}

/// The result of a run.
#[derive(Debug)]
pub struct Run {
    /// Sources, sorted by name; [`Location::source`] indexes this.
    pub sources: Vec<Source>,
    pub summary: Summary,
}

impl Run {
    pub fn source_name(&self, i: u32) -> &str {
        self.sources
            .get(i as usize)
            .map_or("?", |s| s.name.as_str())
    }

    /// `path:line` of a location.
    pub fn locate(&self, loc: Location) -> String {
        format!(
            "{}:{}",
            self.source_name(loc.source),
            self.summary.line_number(loc)
        )
    }
}

struct Worker<'s> {
    settings: &'s Settings,
    summary: Summary,
    reader: LineReader,
    /// Bytes read so far by every worker, before decompression (for the progress display).
    done: &'s AtomicU64,
    /// Who wrote the current source's lines when no envelope says.
    base: Meta<'static>,
}

impl<'s> Worker<'s> {
    fn new(settings: &'s Settings, done: &'s AtomicU64) -> Self {
        Worker {
            settings,
            summary: Summary::default(),
            reader: LineReader::new(settings.max_line_bytes),
            done,
            base: Meta::default(),
        }
    }

    fn run(&mut self, task: &Task, sources: &[Source]) {
        let (source, split) = match task {
            Task::Failed { source, reason } => {
                self.summary.read_errors.insert(*source, reason.clone());
                return;
            }
            Task::Whole { source, .. } => (*source, 0),
            Task::Range { source, split, .. } => (*source, *split),
        };
        let origin = &sources[source as usize].origin;
        self.base = base_meta(origin, self.settings);
        let result = match (task, origin) {
            (
                Task::Range {
                    start, end, file, ..
                },
                Origin::File(p),
            ) => match ingest::open_range(p, file, *start) {
                Ok(f) => {
                    let at = start.saturating_sub(1);
                    let inner = UpToPlanned {
                        inner: f,
                        at,
                        size: file.size,
                    };
                    let r = Counted {
                        inner,
                        counter: self.done,
                    };
                    self.read(r, source, split, at, *start > 0, *end, None)
                }
                Err(e) => Err(e),
            },
            (_, Origin::Stdin) => self.read_stream(io::stdin(), source, None),
            (
                Task::Whole {
                    file: Some(file), ..
                },
                Origin::File(p),
            ) => match ingest::open_planned(p, file, 0) {
                Ok(f) => {
                    let inner = UpToPlanned {
                        inner: f,
                        at: 0,
                        size: file.size,
                    };
                    self.read_stream(inner, source, Some(file.size))
                }
                Err(e) => Err(e),
            },
            // A named pipe or a device: opened once, its first bytes sniffed from that handle.
            (_, Origin::File(p)) => match std::fs::File::open(p) {
                Ok(f) => self.read_stream(f, source, None),
                Err(e) => Err(e),
            },
            (_, Origin::Unreadable(reason)) => Err(io::Error::other(reason.clone())),
        };
        if let Err(e) = result {
            self.summary
                .read_errors
                .insert(source, ingest::io_reason(&e));
        }
    }

    /// Reads a whole source as one stream: a regular file of `size` bytes as planned (a plain
    /// one up to that size, so that lines appended since are not read), or, for `None`, a
    /// stream (standard input, a pipe) to its end. Compressed data and streams are read and
    /// decoded on a thread of their own, so that decoding overlaps parsing.
    fn read_stream<R: io::Read + Send>(
        &mut self,
        r: R,
        source: u32,
        size: Option<u64>,
    ) -> io::Result<()> {
        let (enc, r) = ingest::decode(Counted {
            inner: r,
            counter: self.done,
        })?;
        let enc = (enc != Encoding::Plain).then_some(enc);
        match (enc, size) {
            (None, Some(size)) => self.read(r, source, 0, 0, false, size, enc),
            _ => ingest::pipelined(r, |pipe| {
                self.read(pipe, source, 0, 0, false, u64::MAX, enc)
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn read<R: io::Read>(
        &mut self,
        r: R,
        source: u32,
        split: u32,
        offset: u64,
        skip_first: bool,
        end: u64,
        encoding: Option<Encoding>,
    ) -> io::Result<()> {
        let Worker {
            settings,
            summary,
            reader,
            base,
            ..
        } = self;
        let mut line = 0u64;
        let mut state = SplitState::new(base.clone());
        let (consumed, result) = reader.read(r, offset, skip_first, end, |ev| {
            line += 1;
            let loc = Location {
                source,
                split,
                line,
            };
            match ev {
                Event::Line(l) => account(summary, settings, l, loc, &mut state),
                Event::TooLong => summary.malformed(Malformed::LineTooLong, loc),
                Event::Truncated(_) => summary.malformed(Malformed::Truncated, loc),
            }
            true
        });
        summary.bytes += consumed.bytes;
        summary.split_lines.insert((source, split), line);
        result.map_err(|e| match encoding {
            Some(enc) => io::Error::other(format!(
                "{} stream ended early or is corrupt after {} lines ({}); the lines before were read",
                match enc {
                    Encoding::Gzip => "gzip",
                    Encoding::Zstd => "zstd",
                    Encoding::Plain => "plain",
                },
                line,
                ingest::io_reason(&e)
            )),
            None => e,
        })
    }
}

/// What a reader remembers between the lines of one split.
#[derive(Debug, Default, Clone)]
pub struct SplitState {
    /// An entry of this split was parsed whole. Until one is, the quick path stays off, so the
    /// format of every source is known.
    parsed_one: bool,
    /// The format last recorded for this split: the per-source set is updated only on a change.
    last_format: Option<Format>,
    /// Decoded envelope payloads (JSON strings), reused from line to line.
    scratch: Vec<u8>,
    /// CRI partial lines (`P`) waiting for the line that ends them.
    partial: Vec<u8>,
    /// Who wrote the lines when no envelope says: from the file's path, or the flags.
    base: Meta<'static>,
    /// The last writer named by a line and its index in the summary.
    last_source: Option<LastSource>,
    /// The index of the split's own writer (path or flags), once looked up.
    base_source: Option<u32>,
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

/// Who wrote a line, as [`source_of`] needs it.
#[derive(Debug, Clone, Copy)]
struct Who<'a> {
    namespace: &'a str,
    workload: &'a str,
    label: Option<Label>,
    /// The split's own writer (path or flags), the same for all its lines.
    from_base: bool,
}

/// The last writer a line named, and its index in the summary.
#[derive(Debug, Clone, Default)]
pub struct LastSource {
    namespace: Box<str>,
    workload: Box<str>,
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
                *last = Some(LastSource {
                    namespace: who.namespace.into(),
                    workload: who.workload.into(),
                    label: who.label,
                    id,
                });
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

/// Reads every source (or, with `--partials`, merges the partial results given) and returns
/// the merged summary, with address-only entries attributed to the hosts seen on them.
pub fn run(s: &Settings) -> Result<Run, String> {
    let mut run = run_raw(s)?;
    run.summary.attribute_addresses();
    Ok(run)
}

/// [`run`] before address attribution: what a partial result holds.
pub fn run_raw(s: &Settings) -> Result<Run, String> {
    if s.partials {
        crate::partial::merge(&s.paths, s)
    } else {
        read_all(s, ingest::SPLIT_BYTES)
    }
}

/// Reads every source with ranges of at most `split_bytes`, then attributes addresses.
pub fn run_with_split(s: &Settings, split_bytes: u64) -> Result<Run, String> {
    let mut run = read_all(s, split_bytes)?;
    run.summary.attribute_addresses();
    Ok(run)
}

/// The thread count of rayon's global pool, once [`use_global_pool`] has set it up.
static GLOBAL_THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Sets up rayon's global pool with `threads` threads, for reading and rendering alike. Only
/// the first call in a process can; later ones, and a failure, change nothing (reading then
/// makes a pool of its own, and reports why when it cannot).
pub fn use_global_pool(threads: usize) {
    if GLOBAL_THREADS.get().is_none()
        && rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .is_ok()
    {
        let _ = GLOBAL_THREADS.set(threads);
    }
}

fn read_all(s: &Settings, split_bytes: u64) -> Result<Run, String> {
    let ingest::Discovered { sources, notes } = ingest::discover(&s.paths, s.stdin_name.as_deref());
    if !s.quiet {
        for n in notes {
            eprintln!("egress-advisor: {}", crate::render::clean(&n));
        }
    }
    let tasks = ingest::plan(&sources, split_bytes.max(1));
    // The global pool when it was set up with the size asked for (the command line does so,
    // and rendering uses it too); else one of that size for this run.
    let own = if GLOBAL_THREADS.get() == Some(&s.threads) {
        None
    } else {
        Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(s.threads)
                .build()
                .map_err(|e| format!("cannot start {} worker threads: {e}", s.threads))?,
        )
    };
    let done = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(s.progress, ingest::total_bytes(&sources), Arc::clone(&done));
    // One worker per thread, each with one summary and one line buffer, taking tasks from a
    // shared counter: memory is bounded by the thread count, not by the number of tasks, and
    // only one summary per thread is merged at the end.
    let next = AtomicUsize::new(0);
    let work = |_: rayon::BroadcastContext<'_>| {
        let mut w = Worker::new(s, &done);
        while let Some(t) = tasks.get(next.fetch_add(1, Ordering::Relaxed)) {
            w.run(t, &sources);
        }
        w.summary
    };
    let summaries = match &own {
        Some(pool) => pool.broadcast(work),
        None => rayon::broadcast(work),
    };
    let summary = summaries
        .into_iter()
        .reduce(|mut a, b| {
            a.merge(b);
            a
        })
        .unwrap_or_default();
    progress.finish();
    Ok(Run { sources, summary })
}

/// Reads every source in order on this thread and calls `f` with the source index, the line
/// number and the event; `f` returns false to stop. Returns the sources that could not be read
/// (to the end). For `explain`, where order matters more than speed.
pub fn for_each_line(
    sources: &[Source],
    max_line_bytes: usize,
    mut f: impl FnMut(u32, u64, Event<'_>) -> bool,
) -> Vec<(u32, String)> {
    let mut reader = LineReader::new(max_line_bytes);
    let mut errors = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let i = i as u32;
        let mut line = 0u64;
        let mut go_on = true;
        let mut read = |r: Box<dyn io::Read + '_>| {
            reader
                .read(r, 0, false, u64::MAX, |ev| {
                    line += 1;
                    go_on = f(i, line, ev);
                    go_on
                })
                .1
        };
        let result = match &src.origin {
            Origin::Unreadable(reason) => Err(io::Error::other(reason.clone())),
            Origin::Stdin => ingest::decode(io::stdin()).and_then(|(_, r)| read(r)),
            Origin::File(p) => std::fs::File::open(p)
                .and_then(ingest::decode)
                .and_then(|(_, r)| read(r)),
        };
        if let Err(e) = result {
            errors.push((i, ingest::io_reason(&e)));
        }
        if !go_on {
            break;
        }
    }
    errors
}
