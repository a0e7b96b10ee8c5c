//! The Markdown the tool writes (`check` and `migrate` with `-o markdown`) is read back with a
//! GitHub-flavoured Markdown parser: text from the logs stays text in every place it is put (a
//! paragraph, a list item, a table cell), whatever it holds, and reads as itself.

use comrak::{Options, markdown_to_html};
use egress_advisor::render::{markdown_table, md_escape};
use proptest::prelude::*;

/// GitHub's flavour: tables, bare links, strikethrough, task lists and footnotes.
fn gfm() -> Options<'static> {
    let mut o = Options::default();
    o.extension.table = true;
    o.extension.autolink = true;
    o.extension.strikethrough = true;
    o.extension.tasklist = true;
    o.extension.footnotes = true;
    o
}

/// What the reader sees of `s`: control and hazardous characters as the escaper spells them,
/// line breaks and tabs as spaces.
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => " ".to_owned(),
            c if egress_advisor::fmt::escape::is_hazardous(c) => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The text of HTML whose only tags are in `allowed`; `None` when another tag is there.
fn text_of(html: &str, allowed: &[&str]) -> Result<String, String> {
    let mut text = String::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        text.push_str(&rest[..i]);
        let end = rest[i..].find('>').ok_or("an unclosed tag")? + i;
        let tag = rest[i + 1..end].trim_start_matches('/');
        let name = tag.split([' ', '/']).next().unwrap_or_default();
        if !allowed.contains(&name) {
            return Err(format!("tag <{tag}> in {html}"));
        }
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    Ok(text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&"))
}

/// Strings made of what Markdown acts on, in any order.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "<",
        ">",
        "&",
        ":",
        "://",
        "http",
        "www.",
        "@",
        "|",
        "\\",
        "`",
        "*",
        "_",
        "[",
        "]",
        "(",
        ")",
        "!",
        "#",
        "~",
        "-",
        "+",
        "=",
        "1.",
        "2)",
        " ",
        "    ",
        "\t",
        "\n",
        "\r",
        ">",
        "x",
        "a.b",
        "é",
        "\u{202e}",
        "\u{2028}",
        "\u{1b}[31m",
        "&#58;",
        "<script>",
        "</td>",
        "^1",
        "[ ]",
        "***",
        "---",
        "___",
        "```",
        "~~~",
        "{",
        "}",
        "\"",
        "'",
    ]);
    prop::collection::vec(pieces, 0..16).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn escaped_text_stays_text_in_a_paragraph_and_a_list_item(s in hostile()) {
        let want = shown(&s);
        let want = want.trim_matches([' ', '\t']);
        for (doc, tags) in [
            (format!("{}\n", md_escape(&s)), &["p"][..]),
            (format!("- {}\n", md_escape(&s)), &["ul", "li"][..]),
            (format!("#### {}\n", md_escape(&s)), &["h4"][..]),
        ] {
            let html = markdown_to_html(&doc, &gfm());
            let text = text_of(&html, tags).map_err(TestCaseError::fail)?;
            prop_assert_eq!(text.trim(), want.trim(), "{:?} -> {:?} -> {}", s, doc, html);
        }
    }

    #[test]
    fn escaped_text_stays_in_its_table_cell(a in hostile(), b in hostile()) {
        let mut out = Vec::new();
        markdown_table(&mut out, &["A", "B"], &[false, false], &[false, true], &[[a.clone(), b.clone()]]).unwrap();
        let doc = String::from_utf8(out).unwrap();
        let html = markdown_to_html(&doc, &gfm());
        let allowed = ["table", "thead", "tbody", "tr", "th", "td", "code"];
        text_of(&html, &allowed).map_err(TestCaseError::fail)?;
        prop_assert_eq!(html.matches("<td").count(), 2, "{:?} {:?} -> {}", a, b, html);
        prop_assert_eq!(html.matches("<code>").count(), 1, "{}", html);
    }
}

#[test]
fn times_and_ports_read_as_themselves() {
    assert_eq!(
        md_escape("2024-05-14T09:08:00.120Z"),
        "2024-05-14T09:08:00.120Z"
    );
    assert_eq!(
        md_escape("api.example.com:443/TLS!"),
        "api.example.com:443/TLS!"
    );
    assert_eq!(md_escape("https://x"), "https\\://x");
}
