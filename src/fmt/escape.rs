//! Text from the logs made inert for each output it reaches. Any workload can print a line
//! that reads as an access-log entry, so hosts, SNIs, namespaces, pods and labels are the
//! attacker's: they must never become structure in YAML, a formula in a spreadsheet, or a
//! command to a terminal.
//!
//! - YAML comments ([`yaml_comment`]): printable ASCII only. A backslash becomes `\\`, every
//!   other character outside U+0020..U+007E becomes `\u{...}` (its code point in hex), so the
//!   escaping can be undone and no reader, YAML 1.2 or libyaml-derived (PyYAML, Go's yaml.v3,
//!   which also break lines on U+0085, U+2028 and U+2029), sees a comment end early.
//! - Terminals and CI logs ([`terminal`]): every [hazardous](is_hazardous) character becomes
//!   `\u{...}`: no escape sequence (CSI, OSC hyperlinks, titles), no line break, no bidi
//!   override reordering what is shown. Other text, non-ASCII included, is shown as it is.
//! - JSON written to standard output ([`write_json`]): [hazardous](is_hazardous) characters
//!   as `\uXXXX` escapes, which JSON readers turn back into the same characters.
//! - CSV cells ([`csv_cell`]): a cell that a spreadsheet would read as a formula (first
//!   character `=`, `+`, `-`, `@`, tab or carriage return) gets a `'` in front, as OWASP
//!   recommends; `--csv-raw` writes the values as they are.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Characters that act on how text is read or shown rather than being shown: C0 and C1
/// controls and DEL (ANSI and OSC sequences start with ESC, CSI or OSC), format characters
/// (bidi embeddings, overrides and isolates, zero-width characters, the BOM, tags), the line
/// and paragraph separators, and non-characters.
pub fn is_hazardous(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{AD}'
                | '\u{600}'..='\u{605}'
                | '\u{61C}'
                | '\u{6DD}'
                | '\u{70F}'
                | '\u{890}'..='\u{891}'
                | '\u{8E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FDD0}'..='\u{FDEF}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
        || (c as u32) & 0xFFFE == 0xFFFE
}

/// `s` with the characters `escaped` picks written as `\u{...}`, and backslashes doubled when
/// `backslash`; borrowed when nothing changes. `escaped` never picks printable ASCII
/// (U+0020..U+007E): a run of it is passed over a byte at a time.
fn escape(s: &str, escaped: impl Fn(char) -> bool, backslash: bool) -> Cow<'_, str> {
    let hit = |c: char| escaped(c) || (backslash && c == '\\');
    let ascii = s
        .bytes()
        .position(|b| !(b' '..=b'~').contains(&b) || (backslash && b == b'\\'))
        .unwrap_or(s.len());
    let Some(first) = s[ascii..].find(hit).map(|i| ascii + i) else {
        return s.into();
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if backslash && c == '\\' {
            out.push_str("\\\\");
        } else if escaped(c) {
            let _ = write!(out, "{}", c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Text for a YAML comment: printable ASCII, backslashes doubled, everything else `\u{...}`.
pub fn yaml_comment(s: &str) -> Cow<'_, str> {
    escape(s, |c| !(' '..='~').contains(&c), true)
}

/// Undoes [`yaml_comment`] (for tests and fuzzing); `None` for text it cannot have written.
pub fn unescape_yaml_comment(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('\\') {
            out.push('\\');
            rest = r;
        } else {
            let r = rest.strip_prefix("u{")?;
            let end = r.find('}')?;
            out.push(char::from_u32(u32::from_str_radix(&r[..end], 16).ok()?)?);
            rest = &r[end + 1..];
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Text for a terminal or a CI log: [hazardous](is_hazardous) characters as `\u{...}`.
pub fn terminal(s: &str) -> Cow<'_, str> {
    escape(s, is_hazardous, false)
}

/// A CSV cell a spreadsheet will not run: `'` before a leading `=`, `+`, `-`, `@`, tab or
/// carriage return (OWASP's CSV injection advice).
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// A JSON formatter that writes [hazardous](is_hazardous) characters of strings as `\uXXXX`
/// escapes (serde_json escapes only C0 controls): the same values, nothing a terminal acts on.
struct InertJson<F>(F);

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $name<W: ?Sized + io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> io::Result<()> {
            self.0.$name(w $(, $arg)*)
        }
    )*};
}

impl<F: Formatter> Formatter for InertJson<F> {
    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut from = 0;
        for (i, c) in fragment.char_indices().filter(|(_, c)| is_hazardous(*c)) {
            w.write_all(&fragment.as_bytes()[from..i])?;
            for unit in c.encode_utf16(&mut [0; 2]) {
                write!(w, "\\u{unit:04x}")?;
            }
            from = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[from..])
    }
}

/// Writes `value` as JSON (indented when `pretty`), with [hazardous](is_hazardous) characters
/// escaped.
pub fn write_json<W: io::Write, T: Serialize + ?Sized>(
    out: W,
    value: &T,
    pretty: bool,
) -> serde_json::Result<()> {
    if pretty {
        let mut s = serde_json::Serializer::with_formatter(out, InertJson(PrettyFormatter::new()));
        value.serialize(&mut s)
    } else {
        let mut s = serde_json::Serializer::with_formatter(out, InertJson(CompactFormatter));
        value.serialize(&mut s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_ascii_is_never_escaped() {
        for c in ' '..='~' {
            assert!(!is_hazardous(c), "{c:?}");
        }
        assert_eq!(terminal("a\\b \u{1b}[31m"), "a\\b \\u{1b}[31m");
        assert_eq!(terminal("plain text"), Cow::Borrowed("plain text"));
        assert_eq!(yaml_comment("a\\b"), "a\\\\b");
    }

    #[test]
    fn comments_are_printable_ascii_and_reversible() {
        let s = "pwn.com\u{2028}---\u{2029}x\u{85}y\r\n\\u{41}\u{1b}]8;;\u{7}é\u{202e}";
        let c = yaml_comment(s);
        assert_eq!(
            c,
            r"pwn.com\u{2028}---\u{2029}x\u{85}y\u{d}\u{a}\\u{41}\u{1b}]8;;\u{7}\u{e9}\u{202e}"
        );
        assert!(c.bytes().all(|b| (0x20..0x7f).contains(&b)));
        assert_eq!(unescape_yaml_comment(&c).as_deref(), Some(s));
        assert_eq!(unescape_yaml_comment(r"\u{zz}"), None);
        assert!(matches!(
            yaml_comment("api.github.com: 3"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn terminal_text_has_no_escape_sequences_or_reordering() {
        assert_eq!(
            terminal("a\u{1b}[31mb\u{9b}2J\u{1b}]8;;http://x\u{7}"),
            r"a\u{1b}[31mb\u{9b}2J\u{1b}]8;;http://x\u{7}"
        );
        assert_eq!(
            terminal("x\u{202e}exe.pdf\u{2066}\u{2028}\u{85}\u{feff}\u{200b}"),
            r"x\u{202e}exe.pdf\u{2066}\u{2028}\u{85}\u{feff}\u{200b}"
        );
        assert_eq!(terminal("bücher.example \\ ok"), "bücher.example \\ ok");
        assert!(is_hazardous('\u{10FFFF}') && is_hazardous('\u{E0041}'));
        assert!(!is_hazardous('é') && !is_hazardous(' '));
    }

    #[test]
    fn json_escapes_what_terminals_act_on() {
        let v =
            serde_json::json!({"h": "a\u{1b}]8;;\u{9b}\u{202e}\u{2028}\u{e0041}é\\\"", "n": [1]});
        for pretty in [false, true] {
            let mut out = Vec::new();
            write_json(&mut out, &v, pretty).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(
                !text.chars().any(|c| c != '\n' && is_hazardous(c)),
                "{text}"
            );
            assert!(
                text.contains(r#"a\u001b]8;;\u009b\u202e\u2028\udb40\udc41é\\\""#),
                "{text}"
            );
            assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
            assert_eq!(text.contains('\n'), pretty);
        }
    }

    #[test]
    fn formulas_are_neutralised() {
        for s in ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(csv_cell(s), format!("'{s}"));
        }
        for s in ["", "api.github.com", "1.5 KiB", "a=b", "'x"] {
            assert_eq!(csv_cell(s), s);
        }
    }
}
