//! The HTML report: one self-contained file (inline CSS, JS and SVG; no network), built from a
//! template with the report data embedded as JSON. The page draws everything with
//! `textContent`, so a host or user agent holding markup renders as text; the JSON is embedded
//! with `<`, `>`, `&` and `'` escaped, so no value can end the script element.

use std::io::{self, Write};

use serde::Serialize;

use crate::aggregate::Summary;
use crate::config::Selection;
use crate::gate::{Check, Status};
use crate::migrate::{Coverage, Migration};
use crate::parse::time::{Millis, format_millis};

use super::report::{Lines, MalformedOut, ReadError, Report};

const TEMPLATE: &str = include_str!("report.html");

/// What a page shows besides the report.
pub struct Extras<'a> {
    /// `analyze`, `check` or `migrate`.
    pub command: &'static str,
    /// The plan whose manifests the page shows, each as `recommend` writes it.
    pub manifests: Option<&'a crate::recommend::Plan<'a>>,
    pub check: Option<&'a Check<'a>>,
    pub migration: Option<&'a Migration<'a>>,
}

#[derive(Serialize)]
struct Page<'a> {
    input: &'a super::report::Input,
    lines: &'a Lines,
    coverage: Coverage,
    destinations: Vec<Row>,
    timeline: TimelineOut,
    namespaces: Vec<NsRow<'a>>,
    verdict: Option<Verdict>,
    migration: Option<&'a Migration<'a>>,
    malformed: &'a [MalformedOut],
    read_errors: &'a [ReadError<'a>],
}

#[derive(Serialize)]
struct Row {
    title: String,
    port: u16,
    protocol: &'static str,
    category: &'static str,
    passthrough: u64,
    blocked: u64,
    registered: u64,
    bytes: u64,
    first_seen: Option<String>,
    last_seen: Option<String>,
    status: String,
    status_class: &'static str,
    sources: String,
}

#[derive(Serialize)]
struct TimelineOut {
    /// The width of one column, in words.
    bucket: String,
    points: Vec<Point>,
}

#[derive(Serialize)]
struct Point {
    start: String,
    passthrough: u64,
    blocked: u64,
}

#[derive(Serialize)]
struct NsRow<'a> {
    namespace: Option<&'a str>,
    requests: u64,
    passthrough: u64,
    blocked: u64,
    bytes: u64,
    destinations: u64,
    declared_requests: u64,
}

/// One recommended manifest: `ServiceEntry namespace/name` and its document, evidence
/// comments included.
#[derive(Serialize)]
struct Manifest {
    title: String,
    yaml: String,
}

/// Writes a plan's manifests as one JSON array safe inside HTML, each encoded in parallel as
/// its document is built ([`crate::recommend::for_each_document_as`]): a large mesh's take tens
/// of megabytes, never held whole.
fn write_manifests(
    out: &mut dyn Write,
    plan: Option<&crate::recommend::Plan<'_>>,
    summary: &Summary,
) -> io::Result<()> {
    out.write_all(b"[")?;
    if let Some(plan) = plan {
        let mut first = true;
        let mut failed = None;
        let done = crate::recommend::for_each_document_as(
            plan,
            summary,
            |e, yaml| {
                let title = match &e.namespace {
                    Some(ns) => format!("ServiceEntry {ns}/{}", e.name),
                    None => format!("ServiceEntry {}", e.name),
                };
                let mut json = Vec::with_capacity(yaml.len() + title.len() + 32);
                write_embedded_json(&mut json, &Manifest { title, yaml })
                    .map_err(|e| e.to_string())?;
                Ok(json)
            },
            |json| {
                let sep: &[u8] = if first { b"" } else { b"," };
                first = false;
                out.write_all(sep)
                    .and_then(|()| out.write_all(&json))
                    .map_err(|e| {
                        failed = Some(e);
                        String::new()
                    })
            },
        );
        if let Some(e) = failed {
            return Err(e);
        }
        done.map_err(io::Error::other)?;
    }
    out.write_all(b"]")
}

#[derive(Serialize)]
struct Verdict {
    ok: bool,
    headline: String,
}

/// Column widths the timeline may use, smallest first.
const BUCKETS: [(Millis, &str); 12] = [
    (60_000, "minute"),
    (5 * 60_000, "5 minutes"),
    (15 * 60_000, "15 minutes"),
    (30 * 60_000, "30 minutes"),
    (3_600_000, "hour"),
    (3 * 3_600_000, "3 hours"),
    (6 * 3_600_000, "6 hours"),
    (12 * 3_600_000, "12 hours"),
    (86_400_000, "day"),
    (7 * 86_400_000, "week"),
    (30 * 86_400_000, "30 days"),
    (365 * 86_400_000, "365 days"),
];

/// At most this many columns.
const MAX_COLUMNS: i64 = 120;

fn timeline(summary: &Summary) -> TimelineOut {
    let minutes = summary.timeline.minutes();
    let (Some(first), Some(last)) = (minutes.first(), minutes.last()) else {
        return TimelineOut {
            bucket: "minute".into(),
            points: Vec::new(),
        };
    };
    let span = last.0.saturating_sub(first.0);
    // The smallest listed width that fits; past a year per column, whole years.
    let (width, bucket) = BUCKETS
        .iter()
        .find(|(w, _)| span / w < MAX_COLUMNS)
        .map(|(w, b)| (*w, (*b).to_owned()))
        .unwrap_or_else(|| {
            let year = BUCKETS[BUCKETS.len() - 1].0;
            let years = span / year / (MAX_COLUMNS - 1) + 1;
            (years * year, format!("{} days", years * 365))
        });
    let start = first.0.div_euclid(width) * width;
    let n = (last.0.div_euclid(width) * width - start) / width + 1;
    let mut cols = vec![
        (0u64, 0u64);
        usize::try_from(n)
            .unwrap_or(1)
            .clamp(1, MAX_COLUMNS as usize)
    ];
    for (t, p, b) in minutes {
        let i = usize::try_from((t - start) / width)
            .unwrap_or(0)
            .min(cols.len() - 1);
        cols[i].0 = cols[i].0.saturating_add(p);
        cols[i].1 = cols[i].1.saturating_add(b);
    }
    TimelineOut {
        bucket,
        points: cols
            .into_iter()
            .enumerate()
            .map(|(i, (p, b))| Point {
                start: format_millis(start + i as i64 * width),
                passthrough: p,
                blocked: b,
            })
            .collect(),
    }
}

/// Writes the page.
pub fn write(
    out: &mut dyn Write,
    report: &Report<'_>,
    summary: &Summary,
    sel: &Selection,
    extras: &Extras<'_>,
) -> io::Result<()> {
    let statuses: std::collections::HashMap<_, _> = extras
        .check
        .map(|c| c.destinations.iter().map(|r| (r.key, &r.status)).collect())
        .unwrap_or_default();
    let destinations = report
        .destinations
        .iter()
        .map(|d| {
            let (status, status_class) = match statuses.get(d.key) {
                Some(s @ Status::Uncovered) => (s.describe(), "uncovered"),
                Some(s) => (s.describe(), "covered"),
                None if d.recommended && d.blocked_only => (
                    "recommended; review: blocked only (every attempt refused)".to_owned(),
                    "recommended",
                ),
                None if d.recommended => ("recommended".to_owned(), "recommended"),
                None => match (&d.covered_by, &d.skip_reason) {
                    (Some(by), _) => (format!("covered by {by}"), "covered"),
                    (None, Some(why)) => (why.clone(), "skipped"),
                    (None, None) => ("-".to_owned(), ""),
                },
            };
            Row {
                title: format!(
                    "{}:{}/{}",
                    super::display_name(d.host, d.address),
                    d.port,
                    d.protocol
                ),
                port: d.port,
                protocol: d.protocol,
                category: d.category,
                passthrough: d.passthrough,
                blocked: d.blocked,
                registered: d.registered,
                bytes: d.bytes_uploaded.saturating_add(d.bytes_downloaded),
                first_seen: d.first_seen.clone(),
                last_seen: d.last_seen.clone(),
                status,
                status_class,
                sources: d
                    .sources
                    .iter()
                    .map(|s| format!("{} ({})", s.label(), s.requests))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })
        .collect();
    // Coverage per namespace and for the mesh is what `migrate` reports.
    let own;
    let (coverage, ns_rows) = match extras.migration {
        Some(m) => (m.mesh.clone(), &m.namespaces),
        None => {
            let (mesh, namespaces) = crate::migrate::coverage(summary, sel);
            own = namespaces;
            (mesh, &own)
        }
    };
    let mut namespaces: Vec<NsRow<'_>> = ns_rows
        .iter()
        .map(|n| NsRow {
            namespace: n.namespace,
            requests: n.coverage.requests,
            passthrough: n.passthrough,
            blocked: n.blocked,
            bytes: n.coverage.bytes,
            destinations: n.coverage.destinations,
            declared_requests: n.coverage.declared_requests,
        })
        .collect();
    // A table only when the logs name at least one namespace.
    if namespaces.iter().all(|n| n.namespace.is_none()) {
        namespaces.clear();
    }
    let verdict = match (extras.check, extras.migration) {
        (Some(c), _) => Some(Verdict {
            ok: c.passed(),
            headline: super::check::headline(c),
        }),
        (None, Some(m)) => Some(Verdict {
            ok: m.ready,
            headline: super::migrate::verdict(m),
        }),
        (None, None) => None,
    };
    let page = Page {
        input: &report.input,
        lines: &report.lines,
        coverage,
        destinations,
        timeline: timeline(summary),
        namespaces,
        verdict,
        migration: extras.migration,
        malformed: &report.malformed,
        read_errors: &report.read_errors,
    };
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    // The template is rendered around a marker, and the data (tens of megabytes for a large
    // mesh) written in its place as serde serialises it, never held whole.
    let html = env
        .render_str(
            TEMPLATE,
            minijinja::context! {
                title => format!("egress-advisor {}", extras.command),
                subtitle => format!(
                    "{}, {}, {} read",
                    super::count(report.input.files, "file", "files"),
                    super::count(report.input.lines, "line", "lines"),
                    super::human_bytes(report.input.bytes)
                ),
                data => minijinja::Value::from_safe_string(DATA_MARKER.to_owned()),
                manifests => minijinja::Value::from_safe_string(MANIFESTS_MARKER.to_owned()),
            },
        )
        .map_err(|e| io::Error::other(format!("HTML template: {e}")))?;
    let (head, rest) = html
        .split_once(DATA_MARKER)
        .ok_or_else(|| io::Error::other("HTML template: no place for the data"))?;
    let (middle, tail) = rest
        .split_once(MANIFESTS_MARKER)
        .ok_or_else(|| io::Error::other("HTML template: no place for the manifests"))?;
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    out.write_all(head.as_bytes())?;
    write_embedded_json(&mut out, &page)?;
    out.write_all(middle.as_bytes())?;
    write_manifests(&mut out, extras.manifests, summary)?;
    out.write_all(tail.as_bytes())?;
    out.flush()
}

/// Stands for the data in the rendered template: no title or subtitle can hold it, as
/// auto-escaping turns `<` into `&lt;`.
const DATA_MARKER: &str = "<egress-advisor-data>";

/// Stands for the manifests, as [`DATA_MARKER`] for the data.
const MANIFESTS_MARKER: &str = "<egress-advisor-manifests>";

/// Writes `value` as JSON safe inside HTML: `<`, `>`, `&` and `'` as `\u003c`, `\u003e`,
/// `\u0026` and `\u0027` (outside strings JSON has none of them), as serde writes it.
fn write_embedded_json(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    struct Escaping<'a>(&'a mut dyn Write);
    impl Write for Escaping<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_all(buf)?;
            Ok(buf.len())
        }
        fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
            // The next of the four, each byte looked at once: `'` only before the next of
            // the others.
            let next = |buf: &[u8]| {
                let other = memchr::memchr3(b'<', b'>', b'&', buf);
                memchr::memchr(b'\'', &buf[..other.unwrap_or(buf.len())]).or(other)
            };
            while let Some(i) = next(buf) {
                self.0.write_all(&buf[..i])?;
                self.0.write_all(match buf[i] {
                    b'<' => b"\\u003c",
                    b'>' => b"\\u003e",
                    b'&' => b"\\u0026",
                    _ => b"\\u0027",
                })?;
                buf = &buf[i + 1..];
            }
            self.0.write_all(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.0.flush()
        }
    }
    // serde writes a string in small pieces (between the characters it escapes): gathered
    // into large blocks first, each byte is looked at once by a fast scan, not per piece.
    let mut buffered = io::BufWriter::with_capacity(1 << 16, Escaping(out));
    serde_json::to_writer(&mut buffered, value)
        .map_err(|e| io::Error::other(format!("HTML data: {e}")))?;
    buffered.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_end_the_script() {
        let v = serde_json::json!({"host": "</script><b a='1'>&"});
        let mut text = Vec::new();
        write_embedded_json(&mut text, &v).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(!text.contains(['<', '>', '&', '\'']), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn the_timeline_fits_in_its_columns() {
        let mut s = Summary::default();
        let t = |y: &str| crate::parse::time::parse_rfc3339(y).unwrap();
        s.timeline.add(t("0001-01-01T00:00:00Z"), false);
        s.timeline.add(t("9999-12-31T23:59:59Z"), true);
        s.timeline.add(t("2024-06-01T00:00:00Z"), false);
        let out = timeline(&s);
        assert!(
            out.points.len() <= MAX_COLUMNS as usize,
            "{}",
            out.points.len()
        );
        let total: u64 = out.points.iter().map(|p| p.passthrough + p.blocked).sum();
        assert_eq!(total, 3);
        let mut s = Summary::default();
        s.timeline.add(t("2024-06-01T10:00:00Z"), false);
        s.timeline.add(t("2024-06-01T10:30:00Z"), true);
        let out = timeline(&s);
        assert_eq!(out.bucket, "minute");
        assert_eq!(out.points.len(), 31);
    }
}
