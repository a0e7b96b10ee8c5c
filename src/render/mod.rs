//! Render stage: the report as a table, JSON or CSV. (ServiceEntry YAML is written by
//! [`crate::recommend`], which owns the manifest shapes.)

pub mod check;
pub mod csv;
pub mod html;
pub mod migrate;
pub mod report;
pub mod table;

use std::io::{self, Write};

/// A destination's name: the host, or the address (IPv6 in brackets).
pub fn display_name(host: Option<&str>, address: Option<&str>) -> String {
    match (host, address) {
        (Some(h), _) => h.to_owned(),
        (None, Some(a)) if a.contains(':') => format!("[{a}]"),
        (None, Some(a)) => a.to_owned(),
        (None, None) => "-".to_owned(),
    }
}

/// Writes a table with columns padded to their widest cell; `right[i]` right-aligns column
/// `i` (numbers). Trailing spaces are trimmed.
pub fn aligned<const N: usize>(
    out: &mut dyn Write,
    header: &[&str; N],
    right: &[bool; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; N]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let pad = " ".repeat(widths[i].saturating_sub(c.chars().count()));
            if right[i] {
                s.push_str(&pad);
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&pad);
            }
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(*header))?;
    for row in rows {
        writeln!(out, "{}", line(row.each_ref().map(String::as_str)))?;
    }
    Ok(())
}

/// Text from the logs made inert in Markdown (a pull-request comment or a job summary): no
/// table break, no markup, no HTML.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Markdown table; every cell is escaped with [`md_escape`].
pub fn markdown_table<const N: usize>(
    out: &mut dyn Write,
    header: &[&str; N],
    right: &[bool; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    writeln!(out, "| {} |", header.join(" | "))?;
    let rule: Vec<&str> = right
        .iter()
        .map(|r| if *r { "---:" } else { "---" })
        .collect();
    writeln!(out, "|{}|", rule.join("|"))?;
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| md_escape(c)).collect();
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    Ok(())
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units with one decimal: `1.5 KiB`, `12 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn markdown_is_inert() {
        assert_eq!(
            md_escape("<script>a|b</script>*x*"),
            "&lt;script&gt;a\\|b&lt;/script&gt;\\*x\\*"
        );
        let mut out = Vec::new();
        markdown_table(
            &mut out,
            &["A", "N"],
            &[false, true],
            &[["x|y".into(), "1".into()]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "| A | N |\n|---|---:|\n| x\\|y | 1 |\n"
        );
    }
}
