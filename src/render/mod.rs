//! Render stage: the report as a table, JSON or CSV. (ServiceEntry YAML is written by
//! [`crate::recommend`], which owns the manifest shapes.)

pub mod check;
pub mod csv;
pub mod html;
pub mod migrate;
pub mod report;
pub mod sarif;
pub mod table;

use std::io::{self, Write};

use rayon::prelude::*;

pub use crate::fmt::escape;
pub use crate::fmt::{clean, count, display_name, human_bytes, thousands};

use crate::config::Output;

/// What a command prints on standard output, in the formats its `-o` offers. A format a
/// command does not offer is never asked of it (its `-o` does not list it).
pub trait Document {
    /// For a terminal; `wide` shows every column.
    fn text(&self, out: &mut dyn Write, wide: bool) -> io::Result<()> {
        let _ = (out, wide);
        Err(unsupported("text"))
    }
    fn json(&self, out: &mut dyn Write) -> io::Result<()>;
    fn markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        let _ = out;
        Err(unsupported("markdown"))
    }
    fn csv(&self, out: &mut dyn Write, raw: bool) -> io::Result<()> {
        let _ = (out, raw);
        Err(unsupported("csv"))
    }
    fn yaml(&self, out: &mut dyn Write) -> io::Result<()> {
        let _ = out;
        Err(unsupported("yaml"))
    }
}

fn unsupported(format: &str) -> io::Error {
    io::Error::other(format!("this command has no {format} output"))
}

/// The one dispatch from `-o` to a writer.
pub fn write(out: &mut dyn Write, format: Output, doc: &dyn Document) -> io::Result<()> {
    match format {
        Output::Text => doc.text(out, false),
        Output::Wide => doc.text(out, true),
        Output::Json => doc.json(out),
        Output::Markdown => doc.markdown(out),
        Output::Csv { raw } => doc.csv(out, raw),
        Output::Yaml => doc.yaml(out),
    }
}

/// A value as one JSON document and a newline (what every `-o json` prints).
pub fn json_document<T: serde::Serialize + ?Sized>(out: &mut dyn Write, v: &T) -> io::Result<()> {
    escape::write_json(&mut *out, v, true).map_err(io::Error::from)?;
    writeln!(out)
}

/// Writes a table with columns padded to their widest cell; `right[i]` right-aligns column
/// `i` (numbers). Trailing spaces are trimmed.
pub fn aligned<const N: usize, S: AsRef<str> + Sync>(
    out: &mut dyn Write,
    header: &[&str; N],
    right: &[bool; N],
    rows: &[[S; N]],
) -> io::Result<()> {
    let widths = widest(header.map(cell_width), rows);
    aligned_rows(out, &widths, right, &[*header])?;
    aligned_rows(out, &widths, right, rows)
}

/// [`aligned`] for tables too large to hold as text: each row is formatted from its item
/// twice (once to measure, once to write) and dropped at once, so memory stays that of the
/// items, not of every cell of the table.
pub fn aligned_with<const N: usize, T: Sync>(
    out: &mut dyn Write,
    header: &[&str; N],
    right: &[bool; N],
    items: &[T],
    row: impl Fn(&T) -> [String; N] + Sync,
) -> io::Result<()> {
    let widths = items
        .par_iter()
        .map(|t| row(t).each_ref().map(|c| cell_width(c)))
        .reduce(
            || header.map(cell_width),
            |a, b| std::array::from_fn(|i| a[i].max(b[i])),
        );
    aligned_rows(out, &widths, right, &[*header])?;
    for t in items {
        aligned_rows(out, &widths, right, &[row(t)])?;
    }
    Ok(())
}

/// The width of a cell as written.
pub fn cell_width(c: &str) -> usize {
    clean(c).chars().count()
}

/// `widths` widened to the cells of `rows`, in parallel (a large report has tens of thousands
/// of rows); the cells are cleaned again as they are written rather than kept.
pub fn widest<const N: usize, S: AsRef<str> + Sync>(
    widths: [usize; N],
    rows: &[[S; N]],
) -> [usize; N] {
    rows.par_iter()
        .map(|r| r.each_ref().map(|c| cell_width(c.as_ref())))
        .reduce(|| widths, |a, b| std::array::from_fn(|i| a[i].max(b[i])))
}

/// Writes rows padded to `widths` (see [`aligned`]): a table can be written in parts.
pub fn aligned_rows<const N: usize, S: AsRef<str>>(
    out: &mut dyn Write,
    widths: &[usize; N],
    right: &[bool; N],
    rows: &[[S; N]],
) -> io::Result<()> {
    let mut line = String::new();
    for row in rows {
        line.clear();
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let c = clean(c.as_ref());
            let pad = widths[i].saturating_sub(c.chars().count());
            if right[i] {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(&c);
            } else {
                line.push_str(&c);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.write_all(line.trim_end().as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Text from the logs made inert in Markdown (a pull-request comment or a CI job summary): no
/// table break, no markup, no HTML, no links or mentions (GitHub links `scheme://`, `www.` and
/// `name@host` by itself, and `@name` pings a team), no block started where the text begins (a
/// list, a heading, a quote, indented code), no control characters. Only what Markdown would act
/// on is escaped, so the text still reads as itself where it is pasted as plain text: a time's
/// `10:00` stays `10:00`.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    // Where a block could start: leading spaces (indented code) and list or heading markers.
    let lead = rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    for _ in 0..lead {
        out.push_str("&#32;");
    }
    rest = &rest[lead..];
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0 && rest[digits..].starts_with(['.', ')']) {
        out.push_str(&rest[..digits]);
        out.push('\\');
        rest = &rest[digits..];
    } else if rest.starts_with(['-', '+', '=']) {
        out.push('\\');
    }
    while let Some(c) = rest.chars().next() {
        // Bytes, not a string slice: the fourth byte may be inside a character.
        if rest
            .as_bytes()
            .get(..4)
            .is_some_and(|b| b.eq_ignore_ascii_case(b"www."))
        {
            out.push_str(&rest[..3]);
            out.push_str("\\.");
            rest = &rest[4..];
            continue;
        }
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // Backslashes, not entities: cmark-gfm's autolinker reads the text after entities
            // are decoded (comrak, its port, links `a&#64;b.c`; the markdown tests show it). A scheme's `://` makes a link of what
            // follows; any other colon is text.
            ':' if rest[1..].starts_with("//") => out.push_str("\\:"),
            '@' => out.push_str("\\@"),
            // `!` alone is text: an image needs the `[` that is escaped.
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if escape::is_hazardous(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Text from the logs as a Markdown code span: shown as it is, never a link, mention or markup.
pub fn md_code(s: &str) -> String {
    let body: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>();
    let body = escape::terminal(&body).replace('|', "\\|");
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if body.is_empty() || body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// A Markdown table: cells of `code` columns as code spans ([`md_code`]), the others escaped
/// with [`md_escape`].
pub fn markdown_table<const N: usize>(
    out: &mut dyn Write,
    header: &[&str; N],
    right: &[bool; N],
    code: &[bool; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    writeln!(out, "| {} |", header.join(" | "))?;
    let rule: Vec<&str> = right
        .iter()
        .map(|r| if *r { "---:" } else { "---" })
        .collect();
    writeln!(out, "|{}|", rule.join("|"))?;
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(code)
            .map(|(c, code)| if *code { md_code(c) } else { md_escape(c) })
            .collect();
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_inert() {
        assert_eq!(
            md_escape("<script>a|b</script>*x*"),
            "&lt;script&gt;a\\|b&lt;/script&gt;\\*x\\*"
        );
        assert_eq!(
            md_escape("https://evil.example @org/team a@b.c WWW.x\u{1b}[31m"),
            "https\\://evil.example \\@org/team a\\@b.c WWW\\.x\\u{1b}\\[31m"
        );
        assert_eq!(clean("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(md_code("a\u{202e}b"), "`a\\u{202e}b`");
        // No panic where the fourth byte is inside a character.
        assert_eq!(md_escape("c\u{2028}x"), "c\\u{2028}x");
        assert_eq!(md_escape("wwwé"), "wwwé");
        let mut out = Vec::new();
        markdown_table(
            &mut out,
            &["A", "N"],
            &[false, true],
            &[true, false],
            &[["x|y`z".into(), "1:2".into()]],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "| A | N |\n|---|---:|\n| ``x\\|y`z`` | 1:2 |\n"
        );
        assert_eq!(md_code("`a"), "`` `a ``");
    }
}
