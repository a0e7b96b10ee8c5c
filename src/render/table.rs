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

pub fn write(out: &mut dyn Write, r: &Report<'_>) -> io::Result<()> {
    let mut dests: Vec<&Dest<'_>> = r.destinations.iter().collect();
    // Most undeclared traffic first; ties by the stable key.
    dests.sort_by(|a, b| {
        (b.passthrough + b.blocked)
            .cmp(&(a.passthrough + a.blocked))
            .then(b.lines.cmp(&a.lines))
            .then_with(|| a.key.cmp(b.key))
    });
    let header = COLUMNS.map(|(name, _)| name);
    // Cells borrow what the report holds; only numbers are formatted.
    let rows: Vec<[Cow<'_, str>; COLUMNS.len()]> = dests
        .par_iter()
        .map(|d| {
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
                if d.recommended && d.blocked_only {
                    "recommended, review: blocked only".into()
                } else if d.recommended {
                    "recommended".into()
                } else if d.registered > 0 && d.passthrough + d.blocked == 0 {
                    "exists".into()
                } else {
                    "no".into()
                },
                match d.sources.as_slice() {
                    [] => "-".into(),
                    [one] => one.label().into(),
                    [first, rest @ ..] => format!("{} +{}", first.label(), rest.len()).into(),
                },
            ]
        })
        .collect();
    if rows.is_empty() {
        writeln!(out, "No outbound destinations outside the mesh were found.")?;
    } else {
        let right = COLUMNS.map(|(_, r)| r);
        super::aligned(out, &header, &right, &rows)?;
    }

    writeln!(out)?;
    writeln!(
        out,
        "Input: {} files, {} lines, {}",
        thousands(r.input.files),
        thousands(r.input.lines),
        human_bytes(r.input.bytes)
    )?;
    let l = &r.lines;
    writeln!(
        out,
        "Lines: passthrough {}, blocked {}, registered {}, internal {}, inbound {}, unknown {}, noise {}, malformed {}, partial {}, outside the window {}, from application containers {}",
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
    let recommended = r.destinations.iter().filter(|d| d.recommended).count();
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
                    "(unknown)".to_owned()
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
