//! `check`'s verdict as text, Markdown (a pull-request comment or a CI job summary) and JUnit
//! XML (one test case per destination, so CI systems show the result natively).

use std::io::{self, Write};

use crate::gate::{Check, Row, Status};
use crate::parse::time::format_millis;

use super::{aligned, human_bytes, markdown_table, thousands};

fn time(t: Option<i64>) -> String {
    t.map_or_else(|| "-".into(), format_millis)
}

pub fn headline(c: &Check<'_>) -> String {
    let total = c.destinations.len();
    let uncovered = c.counts.uncovered;
    let mut parts = Vec::new();
    for (n, what) in [
        (c.counts.covered, "covered by --existing"),
        (c.counts.registered, "registered in the mesh"),
        (c.counts.allowed, "allowed"),
        (c.counts.baseline, "in the baseline"),
    ] {
        if n > 0 {
            parts.push(format!("{} {what}", thousands(n as u64)));
        }
    }
    let rest = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    };
    let mut also = Vec::new();
    match c.expired.len() {
        0 => {}
        1 => also.push("1 allow entry has expired".to_owned()),
        n => also.push(format!("{n} allow entries have expired")),
    }
    match c.unreadable.len() {
        0 => {}
        1 => also.push("1 input could not be read".to_owned()),
        n => also.push(format!("{n} inputs could not be read")),
    }
    if c.strict && c.malformed > 0 {
        also.push(format!(
            "{} malformed lines (--strict)",
            thousands(c.malformed)
        ));
    }
    let private = c.uncovered().filter(|r| r.dest.is_private()).count();
    if private > 0 {
        also.insert(
            0,
            format!(
                "{} of them at private or special-purpose addresses",
                thousands(private as u64)
            ),
        );
    }
    if c.verdict == crate::gate::Verdict::NoInput {
        return "NO INPUT: no access-log entry was recognised, so nothing was checked (--allow-empty accepts an empty input)".to_owned();
    }
    if c.passed() {
        format!(
            "PASS: every destination outside the mesh is declared, allowed or in the baseline ({}{})",
            super::count(total as u64, "destination", "destinations"),
            if parts.is_empty() {
                String::new()
            } else {
                format!(": {}", parts.join(", "))
            }
        )
    } else if uncovered > 0 {
        let also: String = also.iter().map(|a| format!("; {a}")).collect();
        format!(
            "FAIL: {} of {} destinations outside the mesh are not declared{rest}{also}",
            thousands(uncovered as u64),
            thousands(total as u64)
        )
    } else {
        format!(
            "FAIL: {} (the {} destinations outside the mesh seen are declared{rest})",
            also.join("; "),
            thousands(total as u64)
        )
    }
}

const HEADER: [&str; 7] = [
    "DESTINATION",
    "PASSTHROUGH",
    "BLOCKED",
    "UP+DOWN",
    "LAST SEEN",
    "CALLED BY",
    "NOTE",
];
const RIGHT: [bool; 7] = [false, true, true, true, false, false, false];

fn cells(r: &Row<'_>) -> [String; 7] {
    let mut note = r.note.clone().unwrap_or_default();
    if r.dest.metadata {
        if !note.is_empty() {
            note.push_str("; ");
        }
        note.push_str("cloud metadata service");
    }
    [
        r.title(),
        thousands(r.passthrough),
        thousands(r.blocked),
        human_bytes(r.bytes),
        time(r.last_seen),
        r.callers(),
        note,
    ]
}

/// The uncovered rows, external destinations and private ones apart.
fn uncovered_groups(c: &Check<'_>) -> [(&'static str, Vec<[String; 7]>); 2] {
    let group = |private: bool| {
        c.uncovered()
            .filter(|r| r.dest.is_private() == private)
            .map(cells)
            .collect()
    };
    [
        ("Not declared: external destinations", group(false)),
        (
            "Not declared: private and special-purpose addresses (REGISTRY_ONLY refuses them too)",
            group(true),
        ),
    ]
}

fn footer_lines(c: &Check<'_>) -> Vec<String> {
    let mut v = Vec::new();
    for a in &c.expired {
        v.push(format!(
            "Expired: allow entry {} ({}) expired on {}: {}",
            a.entry,
            a.label(),
            a.expires.as_deref().unwrap_or("?"),
            a.reason
        ));
    }
    for a in &c.unused_allow {
        v.push(format!(
            "Unused: allow entry {} ({}) matched no destination",
            a.entry,
            a.label()
        ));
    }
    for d in &c.stale_baseline {
        v.push(format!(
            "Stale: baseline destination {}:{}/{} is declared now or was not seen (--update-baseline drops it)",
            crate::render::display_name(d.host.as_deref(), d.address.as_deref()),
            d.port,
            d.protocol
        ));
    }
    for u in &c.unreadable {
        v.push(format!("Unreadable: {u} (its traffic was not checked)"));
    }
    v.push(format!(
        "Input: {}, {} malformed{}, {} unreadable",
        super::count(c.lines, "line", "lines"),
        thousands(c.malformed),
        if c.strict && c.malformed > 0 {
            " (--strict: the check fails)"
        } else {
            ""
        },
        super::count(c.unreadable.len() as u64, "input", "inputs")
    ));
    v
}

/// The heading of the list of entries that close the gap.
fn fix_title(c: &Check<'_>) -> String {
    format!(
        "ServiceEntries that close the gap ({}; write them with --write FILE)",
        c.fix.len()
    )
}

pub fn text(out: &mut dyn Write, c: &Check<'_>) -> io::Result<()> {
    writeln!(out, "{}", headline(c))?;
    for (title, rows) in uncovered_groups(c) {
        if !rows.is_empty() {
            writeln!(out)?;
            writeln!(out, "{title}:")?;
            aligned(out, &HEADER, &RIGHT, &rows)?;
        }
    }
    if !c.fix.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}:", fix_title(c))?;
        for e in &c.fix {
            writeln!(out, "  {}", super::clean(&e.to_string()))?;
        }
    }
    if !c.fix_skipped.is_empty() {
        writeln!(out)?;
        writeln!(out, "Undeclared, with no entry written:")?;
        for s in &c.fix_skipped {
            writeln!(out, "  {}", super::clean(s))?;
        }
    }
    writeln!(out)?;
    for w in &c.warnings {
        writeln!(out, "Warning: {}", super::clean(w))?;
    }
    for l in footer_lines(c) {
        writeln!(out, "{}", super::clean(&l))?;
    }
    Ok(())
}

pub fn markdown(out: &mut dyn Write, c: &Check<'_>) -> io::Result<()> {
    let mark = if c.passed() { "✅" } else { "❌" };
    writeln!(out, "### {mark} egress-advisor check")?;
    writeln!(out)?;
    // The headline holds counts and fixed words only.
    writeln!(out, "{}", headline(c))?;
    for w in &c.warnings {
        writeln!(out)?;
        writeln!(out, "> **Warning:** {}", super::md_escape(w))?;
    }
    for (title, rows) in uncovered_groups(c) {
        if !rows.is_empty() {
            writeln!(out)?;
            writeln!(out, "#### {title}")?;
            writeln!(out)?;
            let code = [true, false, false, false, false, true, false];
            markdown_table(out, &HEADER, &RIGHT, &code, &rows)?;
        }
    }
    if !c.fix.is_empty() || !c.fix_skipped.is_empty() {
        writeln!(out)?;
        writeln!(out, "#### {}", super::md_escape(&fix_title(c)))?;
        writeln!(out)?;
        for e in &c.fix {
            writeln!(out, "- {}", super::md_escape(&e.to_string()))?;
        }
        for s in &c.fix_skipped {
            writeln!(out, "- No entry: {}", super::md_escape(s))?;
        }
        if let Some((yaml, left)) = &c.fix_yaml {
            let shown = c.fix.len() - left;
            writeln!(out)?;
            writeln!(
                out,
                "<details><summary>The manifests ({shown} of {}{})</summary>",
                c.fix.len(),
                if *left > 0 {
                    "; --write FILE writes every one"
                } else {
                    ""
                }
            )?;
            writeln!(out)?;
            // A fence longer than any run of backticks in the text: nothing in it ends it.
            let fence = "`".repeat(longest_run(yaml, b'`').max(2) + 1);
            writeln!(out, "{fence}yaml")?;
            out.write_all(yaml.as_bytes())?;
            writeln!(out, "{fence}")?;
            writeln!(out)?;
            writeln!(out, "</details>")?;
        }
    }
    let accepted: Vec<[String; 3]> = c
        .destinations
        .iter()
        .filter(|r| r.status != Status::Uncovered)
        .map(|r| {
            let why = r.status.describe();
            [
                r.title(),
                thousands(r.passthrough + r.blocked + r.registered),
                why,
            ]
        })
        .collect();
    if !accepted.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "<details><summary>{} declared destinations</summary>",
            accepted.len()
        )?;
        writeln!(out)?;
        markdown_table(
            out,
            &["DESTINATION", "ENTRIES", "DECLARED BY"],
            &[false, true, false],
            &[true, false, false],
            &accepted,
        )?;
        writeln!(out)?;
        writeln!(out, "</details>")?;
    }
    writeln!(out)?;
    for l in footer_lines(c) {
        writeln!(out, "- {}", super::md_escape(&l))?;
    }
    Ok(())
}

/// The longest run of `b` in `s`.
fn longest_run(s: &str, b: u8) -> usize {
    s.as_bytes()
        .split(|&x| x != b)
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

/// Text for XML: escaped, with the characters XML 1.0 cannot hold dropped.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

pub fn junit(out: &mut dyn Write, c: &Check<'_>) -> io::Result<()> {
    let tests = c.destinations.len() + c.expired.len() + c.unreadable.len();
    let failures = c.counts.uncovered + c.expired.len() + c.unreadable.len();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="egress-advisor check" tests="{tests}" failures="{failures}" errors="0">"#
    )?;
    writeln!(
        out,
        r#"  <testsuite name="external destinations" tests="{tests}" failures="{failures}" errors="0" skipped="0">"#
    )?;
    for r in &c.destinations {
        let ns = r
            .namespaces
            .iter()
            .map(|u| u.namespace.unwrap_or("unknown"))
            .collect::<Vec<_>>()
            .join(",");
        writeln!(
            out,
            r#"    <testcase classname="egress.{}" name="{}">"#,
            xml(if ns.is_empty() { "unknown" } else { &ns }),
            xml(&r.title())
        )?;
        let evidence = format!(
            "passthrough {}, blocked {}, registered {}, {} uploaded and downloaded, first seen {}, last seen {}, called by {}",
            r.passthrough,
            r.blocked,
            r.registered,
            human_bytes(r.bytes),
            time(r.first_seen),
            time(r.last_seen),
            r.callers()
        );
        match &r.status {
            Status::Uncovered => {
                let msg = match &r.note {
                    Some(n) => format!("not declared: {n}"),
                    None => "not declared by any ServiceEntry, allow entry or the baseline".into(),
                };
                writeln!(
                    out,
                    r#"      <failure type="uncovered" message="{}">{}</failure>"#,
                    xml(&msg),
                    xml(&evidence)
                )?;
            }
            other => {
                writeln!(
                    out,
                    "      <system-out>{}: {}</system-out>",
                    xml(&other.describe()),
                    xml(&evidence)
                )?;
            }
        }
        writeln!(out, "    </testcase>")?;
    }
    for a in &c.expired {
        writeln!(
            out,
            r#"    <testcase classname="egress.allow" name="allow entry {} ({})">"#,
            a.entry,
            xml(&a.label())
        )?;
        writeln!(
            out,
            r#"      <failure type="expired" message="expired on {}">{}</failure>"#,
            xml(a.expires.as_deref().unwrap_or("?")),
            xml(&a.reason)
        )?;
        writeln!(out, "    </testcase>")?;
    }
    for u in &c.unreadable {
        writeln!(
            out,
            r#"    <testcase classname="egress.input" name="{}">"#,
            xml(u.split(": ").next().unwrap_or(u))
        )?;
        writeln!(
            out,
            r#"      <failure type="unreadable" message="could not be read: its traffic was not checked">{}</failure>"#,
            xml(u)
        )?;
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")?;
    Ok(())
}

impl super::Document for Check<'_> {
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

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn xml_is_escaped_and_valid() {
        assert_eq!(
            xml("<a href='x'>&\"\u{1}"),
            "&lt;a href=&apos;x&apos;&gt;&amp;&quot;\u{FFFD}"
        );
    }
}
