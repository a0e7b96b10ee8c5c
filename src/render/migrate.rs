//! `migrate`'s plan as text and Markdown.

use std::io::{self, Write};

use crate::migrate::{Coverage, Gap, Migration, Namespace};
use crate::parse::time::format_millis;
use crate::recommend::Outline;

use super::{aligned_with, human_bytes, markdown_table, thousands};

fn pct(declared: u64, all: u64) -> String {
    format!("{}%", Coverage::percent(declared, all))
}

fn mesh_line(m: &Migration<'_>) -> String {
    let c = &m.mesh;
    format!(
        "Declared: {} of external requests ({} of {}), {} of bytes ({} of {}), {} of {} destinations.",
        pct(c.declared_requests, c.requests),
        thousands(c.declared_requests),
        thousands(c.requests),
        pct(c.declared_bytes, c.bytes),
        human_bytes(c.declared_bytes),
        human_bytes(c.bytes),
        thousands(c.declared_destinations),
        thousands(c.destinations)
    )
}

pub fn verdict(m: &Migration<'_>) -> String {
    if m.no_input {
        "NO INPUT: no access-log entry was recognised, so nothing was measured (--allow-empty accepts an empty input)".into()
    } else if m.ready {
        "Ready: every external destination is declared; the mesh can switch to REGISTRY_ONLY."
            .into()
    } else {
        let now = m.gaps.iter().filter(|g| g.blocked > 0).count();
        let later = m.gaps.iter().filter(|g| g.passthrough > 0).count();
        format!(
            "Not ready: {later} undeclared (destination, namespace) pairs would break after the switch, {now} are refused now."
        )
    }
}

const NS_HEADER: [&str; 7] = [
    "NAMESPACE",
    "REQUESTS",
    "DECLARED",
    "BYTES DECLARED",
    "DESTINATIONS DECLARED",
    "WOULD BREAK",
    "BREAKING NOW",
];
const NS_RIGHT: [bool; 7] = [false, true, true, true, true, true, true];

fn ns_row(n: &Namespace<'_>) -> [String; 7] {
    let c = &n.coverage;
    [
        n.namespace.unwrap_or("?").to_owned(),
        thousands(c.requests),
        pct(c.declared_requests, c.requests),
        pct(c.declared_bytes, c.bytes),
        format!("{} of {}", c.declared_destinations, c.destinations),
        thousands(n.would_break),
        thousands(n.breaking_now),
    ]
}

fn ns_rows(m: &Migration<'_>) -> Vec<[String; 7]> {
    m.namespaces.iter().map(ns_row).collect()
}

const GAP_HEADER: [&str; 5] = [
    "DESTINATION",
    "ENTRIES",
    "UP+DOWN",
    "LAST SEEN",
    "CALLED BY",
];
const GAP_RIGHT: [bool; 5] = [false, true, true, false, false];

/// The gaps of one table: refused now (`blocked`), or passed through.
fn gaps<'m, 'a>(m: &'m Migration<'a>, blocked: bool) -> Vec<&'m Gap<'a>> {
    m.gaps
        .iter()
        .filter(|g| {
            if blocked {
                g.blocked > 0
            } else {
                g.passthrough > 0
            }
        })
        .collect()
}

fn gap_row(g: &Gap<'_>, blocked: bool) -> [String; 5] {
    [
        g.title(),
        thousands(if blocked { g.blocked } else { g.passthrough }),
        human_bytes(g.bytes),
        g.last_seen.map_or_else(|| "-".into(), format_millis),
        g.callers(),
    ]
}

fn gap_rows(m: &Migration<'_>, blocked: bool) -> Vec<[String; 5]> {
    gaps(m, blocked)
        .into_iter()
        .map(|g| gap_row(g, blocked))
        .collect()
}

fn entry_line(e: &Outline) -> String {
    e.to_string()
}

pub fn text(out: &mut dyn Write, m: &Migration<'_>) -> io::Result<()> {
    writeln!(out, "{}", verdict(m))?;
    writeln!(out, "{}", mesh_line(m))?;
    if !m.namespaces.is_empty() {
        writeln!(out)?;
        aligned_with(out, &NS_HEADER, &NS_RIGHT, &m.namespaces, ns_row)?;
    }
    for (blocked, title) in [
        (true, "Breaking now (refused, and nothing declares them):"),
        (
            false,
            "Would break after the switch (passed through, and nothing declares them):",
        ),
    ] {
        let rows = gaps(m, blocked);
        if !rows.is_empty() {
            writeln!(out)?;
            writeln!(out, "{title}")?;
            aligned_with(out, &GAP_HEADER, &GAP_RIGHT, &rows, |g| gap_row(g, blocked))?;
        }
    }
    if !m.entries.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "ServiceEntries that close the gap ({}; write them with --write FILE):",
            m.entries.len()
        )?;
        for e in &m.entries {
            writeln!(out, "  {}", super::clean(&entry_line(e)))?;
        }
    }
    writeln!(out)?;
    writeln!(out, "Rollout:")?;
    for (i, s) in m.rollout.iter().enumerate() {
        writeln!(out, "  {}. {}", i + 1, super::clean(&s.action()))?;
    }
    if !m.caveats.is_empty() {
        writeln!(out)?;
        writeln!(out, "Caveats:")?;
        for c in &m.caveats {
            writeln!(out, "  - {}", super::clean(c))?;
        }
    }
    Ok(())
}

pub fn markdown(out: &mut dyn Write, m: &Migration<'_>) -> io::Result<()> {
    let esc = super::md_escape;
    let mark = if m.ready { "✅" } else { "⚠️" };
    writeln!(
        out,
        "### {mark} egress-advisor migrate: ALLOW_ANY to REGISTRY_ONLY"
    )?;
    writeln!(out)?;
    // Counts and fixed words only.
    writeln!(out, "{}", verdict(m))?;
    writeln!(out)?;
    writeln!(out, "{}", mesh_line(m))?;
    if !m.namespaces.is_empty() {
        writeln!(out)?;
        let code = [true, false, false, false, false, false, false];
        markdown_table(out, &NS_HEADER, &NS_RIGHT, &code, &ns_rows(m))?;
    }
    for (blocked, title) in [
        (true, "Breaking now"),
        (false, "Would break after the switch"),
    ] {
        let rows = gap_rows(m, blocked);
        if !rows.is_empty() {
            writeln!(out)?;
            writeln!(out, "#### {title}")?;
            writeln!(out)?;
            let code = [true, false, false, false, true];
            markdown_table(out, &GAP_HEADER, &GAP_RIGHT, &code, &rows)?;
        }
    }
    if !m.entries.is_empty() {
        writeln!(out)?;
        writeln!(out, "#### ServiceEntries that close the gap")?;
        writeln!(out)?;
        for e in &m.entries {
            writeln!(out, "- {}", esc(&entry_line(e)))?;
        }
    }
    writeln!(out)?;
    writeln!(out, "#### Rollout")?;
    writeln!(out)?;
    for (i, s) in m.rollout.iter().enumerate() {
        writeln!(out, "{}. {}", i + 1, esc(&s.action()))?;
    }
    if !m.caveats.is_empty() {
        writeln!(out)?;
        writeln!(out, "#### Caveats")?;
        writeln!(out)?;
        for c in &m.caveats {
            writeln!(out, "- {}", esc(c))?;
        }
    }
    Ok(())
}

impl super::Document for Migration<'_> {
    fn text(&self, out: &mut dyn Write, _wide: bool) -> io::Result<()> {
        text(out, self)
    }
    fn json(&self, out: &mut dyn Write) -> io::Result<()> {
        super::json_document(out, self)
    }
    fn markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        markdown(out, self)
    }
}
