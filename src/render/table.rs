//! The human report: a destinations table, then the accounting of every line read.

use std::borrow::Cow;
use std::io::{self, Write};

use rayon::prelude::*;

use super::report::{Dest, Report};
use super::{human_bytes, thousands};

/// Column names, and whether each is right-aligned (numbers).
const COLUMNS: [(&str, bool); 14] = [
    ("DESTINATION", false),
    ("PORT", true),
    ("PROTO", false),
    ("WHERE", false),
    ("PASSTHROUGH", true),
    ("BLOCKED", true),
    ("REGISTERED", true),
    ("INTERNAL", true),
    ("UPLOADED", true),
    ("DOWNLOADED", true),
    ("FIRST SEEN", false),
    ("LAST SEEN", false),
    ("SERVICEENTRY", false),
    ("SOURCES", false),
];

/// The columns of the default table (`-o text`): the destination, its counts and its callers,
/// within 120 columns for host names up to about 35 characters. `-o wide` shows [`COLUMNS`].
const NARROW: [(&str, bool); 8] = [
    ("DESTINATION", false),
    ("PORT", true),
    ("PROTO", false),
    ("PASSTHROUGH", true),
    ("BLOCKED", true),
    ("REGISTERED", true),
    ("SERVICEENTRY", false),
    ("SOURCES", false),
];

/// The cells of a row of the default table: the status in one word (`review`: recommended,
/// every attempt refused), the first caller and how many more.
fn narrow_cells<'d>(d: &'d Dest<'_>) -> [Cow<'d, str>; NARROW.len()] {
    let [name, port, proto, _, passthrough, blocked, registered, ..] = cells(d);
    [
        name,
        port,
        proto,
        passthrough,
        blocked,
        registered,
        status(d, true).into(),
        callers(d),
    ]
}

/// Whether a ServiceEntry is recommended, already exists, or neither.
fn status(d: &Dest<'_>, short: bool) -> &'static str {
    if d.recommended && d.blocked_only {
        if short {
            "review"
        } else {
            "recommended, review: blocked only"
        }
    } else if d.recommended {
        "recommended"
    } else if d.registered > 0 && d.passthrough + d.blocked == 0 {
        "exists"
    } else {
        "no"
    }
}

/// The first caller (most entries) and how many more.
fn callers<'d>(d: &'d Dest<'_>) -> Cow<'d, str> {
    match d.sources.as_slice() {
        [] => "-".into(),
        [one] => one.label().into(),
        [first, rest @ ..] => format!("{} +{}", first.label(), rest.len()).into(),
    }
}

/// The cells of a row; they borrow what the row holds, only numbers are formatted.
fn cells<'d>(d: &'d Dest<'_>) -> [Cow<'d, str>; COLUMNS.len()] {
    [
        super::display_name(d.host, d.address),
        d.port.to_string().into(),
        d.protocol.into(),
        d.category.into(),
        thousands(d.passthrough).into(),
        thousands(d.blocked).into(),
        thousands(d.registered).into(),
        thousands(d.internal).into(),
        human_bytes(d.bytes_uploaded).into(),
        human_bytes(d.bytes_downloaded).into(),
        d.first_seen.as_deref().unwrap_or("-").into(),
        d.last_seen.as_deref().unwrap_or("-").into(),
        status(d, false).into(),
        callers(d),
    ]
}

/// The table, padded to its widest cells. Rows are built a chunk at a time, twice (for the
/// column widths, then to write them): a run with millions of destinations never holds them
/// all.
fn table<'r, const N: usize>(
    out: &mut dyn Write,
    rows: &'r super::report::Rows<'_>,
    order: &[u32],
    columns: &[(&str, bool); N],
    cells: impl for<'d> Fn(&'d Dest<'r>) -> [Cow<'d, str>; N] + Sync,
) -> io::Result<()> {
    let header = columns.map(|(name, _)| name);
    let right = columns.map(|(_, r)| r);
    let mut widths = header.map(super::cell_width);
    for chunk in rows.chunks_in(order) {
        let cells: Vec<_> = chunk.par_iter().map(&cells).collect();
        widths = super::widest(widths, &cells);
    }
    super::aligned_rows(out, &widths, &right, &[header])?;
    for chunk in rows.chunks_in(order) {
        let cells: Vec<_> = chunk.par_iter().map(&cells).collect();
        super::aligned_rows(out, &widths, &right, &cells)?;
    }
    Ok(())
}

/// The report for a terminal: the default table, or with `wide` every column.
pub fn write(out: &mut dyn Write, r: &Report<'_>, wide: bool) -> io::Result<()> {
    let rows = &r.destinations;
    // Most undeclared traffic first; ties by the stable key.
    let order = rows.order_by(|(ak, a), (bk, b)| {
        (b.passthrough + b.blocked)
            .cmp(&(a.passthrough + a.blocked))
            .then(b.lines().cmp(&a.lines()))
            .then_with(|| ak.cmp(bk))
    });
    if order.is_empty() {
        writeln!(out, "No outbound destinations outside the mesh were found.")?;
    } else if wide {
        table(out, rows, &order, &COLUMNS, cells)?;
    } else {
        let review = std::sync::atomic::AtomicBool::new(false);
        table(out, rows, &order, &NARROW, |d| {
            if d.recommended && d.blocked_only {
                review.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            narrow_cells(d)
        })?;
        if review.into_inner() {
            writeln!(
                out,
                "(review: a ServiceEntry is recommended, but every attempt was refused; -o wide shows every column)"
            )?;
        }
    }

    writeln!(out)?;
    writeln!(
        out,
        "Input: {}, {}, {}",
        super::count(r.input.files, "file", "files"),
        super::count(r.input.lines, "line", "lines"),
        human_bytes(r.input.bytes)
    )?;
    let l = &r.lines;
    writeln!(
        out,
        "Lines: passthrough {}, blocked {}, registered {}, internal {}, inbound {}, unknown {},\n       noise {}, malformed {}, partial {}, outside the window {}, from application containers {}",
        thousands(l.passthrough),
        thousands(l.blocked),
        thousands(l.registered),
        thousands(l.internal),
        thousands(l.inbound),
        thousands(l.unknown),
        thousands(l.noise),
        thousands(l.malformed),
        thousands(l.partial),
        thousands(l.outside),
        thousands(l.application)
    )?;
    if let Some(a) = &r.ambient {
        writeln!(
            out,
            "Ambient (ztunnel, counted above): passthrough {}, ServiceEntry without waypoint {}, through a waypoint {}, internal {},\n       inbound {}, failed {}, opened {}, unknown {}",
            thousands(a.passthrough),
            thousands(a.service_entry),
            thousands(a.waypoint),
            thousands(a.internal),
            thousands(a.inbound),
            thousands(a.failed),
            thousands(a.opened),
            thousands(a.unknown)
        )?;
    }
    let recommended = r.destinations.recommended();
    writeln!(
        out,
        "Destinations: {} reached through passthrough, blackhole or ServiceEntry clusters; {} would get a ServiceEntry",
        thousands(r.destinations.len() as u64),
        thousands(recommended as u64)
    )?;
    // File names (a node's log paths are named after pods) and everything else below may
    // come from the logs: escaped for the terminal like the table's cells.
    for m in &r.malformed {
        let line = format!(
            "Malformed: {} x {}: {}",
            thousands(m.count),
            m.description,
            m.examples.join(", ")
        );
        writeln!(out, "{}", super::clean(&line))?;
    }
    for e in &r.read_errors {
        let line = format!("Unreadable: {}: {}", e.path, e.reason);
        writeln!(out, "{}", super::clean(&line))?;
    }
    if !r.high_cardinality.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "High-cardinality parents (many names under one domain or network: DNS tunnelling or a scanner?):"
        )?;
        for f in &r.high_cardinality {
            let line = format!(
                "  {} {}: {} children, {} entries; {}; called by {}",
                f.kind,
                f.parent,
                super::thousands(f.children),
                super::thousands(f.entries),
                {
                    let mut shown = f.examples.join(", ");
                    if f.children > f.examples.len() as u64 {
                        shown.push_str(&format!(
                            ", +{} more",
                            super::thousands(f.children - f.examples.len() as u64)
                        ));
                    }
                    shown
                },
                if f.callers.is_empty() {
                    crate::fmt::UNKNOWN_CALLER.to_owned()
                } else {
                    f.callers.join(", ")
                }
            );
            writeln!(out, "{}", super::clean(&line))?;
        }
    }
    if !r.audit.is_empty() {
        writeln!(out)?;
        writeln!(out, "Existing ServiceEntries:")?;
        for f in &r.audit {
            let items = if f.items.is_empty() {
                String::new()
            } else {
                format!(" [{}]", f.items.join(", "))
            };
            let line = format!("  {} {}: {}{}", f.entry, f.finding, f.detail, items);
            writeln!(out, "{}", super::clean(&line))?;
        }
    }
    Ok(())
}

impl super::Document for Report<'_> {
    fn text(&self, out: &mut dyn Write, wide: bool) -> io::Result<()> {
        write(out, self, wide)
    }
    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        super::json_document(out, self)
    }
    fn csv(&self, out: &mut dyn Write, raw: bool) -> io::Result<()> {
        super::csv::write(out, self, raw).map_err(|e| {
            let text = e.to_string();
            match e.into_kind() {
                ::csv::ErrorKind::Io(e) => e,
                _ => io::Error::other(format!("CSV: {text}")),
            }
        })
    }
}
