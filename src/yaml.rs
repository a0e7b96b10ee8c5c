//! Reading the YAML users give the tool (`--existing`, `validate`, `--mesh-config`, the allow
//! file and the baseline), with limits that let every output of the tool be read back whole
//! (a `recommend` of 100,000 entries, a baseline of 100,000 destinations) while refusing, at
//! once, the inputs that only exist to exhaust a reader: alias bombs and deep nesting.
//!
//! The limits are per file and documented in the README ("Reading limits"). A ServiceEntry
//! written by `recommend` takes about 35 nodes and 45 parser events, a baseline destination 7
//! nodes; the counts below hold ten times the 100,000-entry outputs.

use serde_json::Value;

/// Documents in one file: 1,000,000 (ten times a `recommend` of 100,000 entries).
pub const MAX_DOCUMENTS: usize = 1_000_000;
/// Values, lists and maps in one file: 40,000,000 (a `recommend` of 100,000 entries holds
/// 3.5 million).
pub const MAX_NODES: usize = 40_000_000;
/// Parser events in one file (nodes, ends of lists and maps, document starts and ends).
pub const MAX_EVENTS: usize = 60_000_000;
/// Bytes of text in the values of one file: 1 GiB.
pub const MAX_TEXT_BYTES: usize = 1 << 30;
/// Levels of nesting: Kubernetes objects need a dozen; deep nesting only exhausts the stack.
pub const MAX_DEPTH: usize = 64;
/// Aliases (`*name`) in one file: the tool never writes one, and kubectl neither.
pub const MAX_ALIASES: usize = 10_000;
/// Values produced by expanding aliases, or held by anchors for them, in all: what bounds a
/// "billion laughs". Helm values use a few anchors; the tool and kubectl never write one.
pub const MAX_ALIAS_EXPANSION: usize = 100_000;

/// A file that could not be read as YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// A reading limit was reached (the text may be valid YAML).
    pub limit: bool,
    pub message: String,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = MAX_DOCUMENTS;
    budget.max_nodes = MAX_NODES;
    budget.max_events = MAX_EVENTS;
    budget.max_total_scalar_bytes = MAX_TEXT_BYTES;
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_aliases = MAX_ALIASES;
    budget.max_anchors = MAX_ALIASES;
    budget.max_recorded_anchor_events = MAX_ALIAS_EXPANSION;
    let mut o = serde_saphyr::Options::default();
    o.budget = Some(budget);
    o.alias_limits.max_total_replayed_events = MAX_ALIAS_EXPANSION;
    // Comments are never read: they need not be kept (nor counted).
    o.emit_comments = false;
    o
}

/// Every document of a YAML stream (empty documents left out).
pub fn documents(text: &str) -> Result<Vec<Value>, YamlError> {
    serde_saphyr::from_multiple_with_options(text, options()).map_err(error)
}

/// The one document of a YAML file.
pub fn document(text: &str) -> Result<Value, YamlError> {
    serde_saphyr::from_str_with_options(text, options()).map_err(error)
}

fn thousands(n: usize) -> String {
    crate::fmt::thousands(n as u64)
}

/// The library's error, with a reading limit named as such.
fn error(e: serde_saphyr::Error) -> YamlError {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;
    let line = e.location().map(|l| l.line()).filter(|l| *l > 0);
    let mut inner = &e;
    while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = inner {
        inner = error;
    }
    let what = match inner {
        E::Budget { breach, .. } => match breach {
            B::Documents { .. } => format!("more than {} documents", thousands(MAX_DOCUMENTS)),
            B::Nodes { .. } => format!("more than {} values, lists and maps", thousands(MAX_NODES)),
            B::Events { .. } => format!("more than {} parser events", thousands(MAX_EVENTS)),
            B::ScalarBytes { .. } => {
                format!("more than {} bytes of text", thousands(MAX_TEXT_BYTES))
            }
            B::Depth { .. } => format!("more than {MAX_DEPTH} levels of nesting"),
            B::Aliases { .. } | B::Anchors { .. } => format!(
                "more than {} aliases or anchors (*name, &name)",
                thousands(MAX_ALIASES)
            ),
            B::AliasAnchorRatio { aliases, anchors } => format!(
                "{} aliases for {} anchors: more than 10 uses of each anchor",
                thousands(*aliases),
                thousands(*anchors)
            ),
            B::RecordedAnchorEvents { .. } | B::RecordedAnchorBytes { .. } => format!(
                "anchors and aliases holding more than {} values",
                thousands(MAX_ALIAS_EXPANSION)
            ),
            B::MergeKeys { .. } => "more than 10,000 merge keys (<<)".to_owned(),
            _ => "a reading limit".to_owned(),
        },
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => format!(
            "anchors and aliases holding more than {} values",
            thousands(MAX_ALIAS_EXPANSION)
        ),
        // The parser's own cap on nesting, met before the budget's.
        E::ExternalMessage { source, .. }
            if matches!(
                &**source,
                serde_saphyr::ExternalMessageSource::Parser(p)
                    if matches!(p.kind(), serde_saphyr::granit_parser::ErrorKind::RecursionLimitExceeded)
            ) =>
        {
            format!("more than {MAX_DEPTH} levels of nesting")
        }
        E::AliasReplayStackDepthExceeded { .. } => {
            "aliases nested more than 64 levels deep".to_owned()
        }
        _ => {
            return YamlError {
                limit: false,
                message: e.to_string(),
            };
        }
    };
    let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
    YamlError {
        limit: true,
        message: format!(
            "{at}{what}: beyond what egress-advisor reads from one file (see \"Reading limits\" in the README)"
        ),
    }
}

/// `s` as the YAML scalar of a block map value or list item, exactly as serde-saphyr writes it
/// (the manifests the tool writes by hand, [`crate::recommend`], must read the same as those
/// it writes with serde-saphyr): plain when nothing in it can be read as anything but that
/// string, otherwise quoted by serde-saphyr itself. `None` when serde-saphyr would write it
/// over more than one line (a block scalar, whose indentation depends on where it stands):
/// the caller then writes the whole document with serde-saphyr.
///
/// Plain only for at most 80 characters of `[a-z0-9./-]` starting with a letter and none of
/// YAML 1.1's words (`null`, `true`, `yes`, `on`, `n`, ...): never a number, a date, a
/// boolean, an indicator, a comment or a line break. Everything else, log values included,
/// goes through serde-saphyr's quoting.
pub fn scalar(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    if is_plain(s) {
        return Some(Cow::Borrowed(s));
    }
    // serde-saphyr's own choice for one-character punctuation (its `serialize_str`).
    match s {
        "." => return Some(Cow::Borrowed("'.'")),
        "-" => return Some(Cow::Borrowed("'-'")),
        "#" => return Some(Cow::Borrowed("'#'")),
        _ => {}
    }
    let item = serde_saphyr::to_string(&[s]).ok()?;
    let one = item.strip_prefix("- ")?.strip_suffix('\n')?;
    (!one.contains(['\n', '\r']) && !one.starts_with(['|', '>']) && !one.is_empty())
        .then(|| Cow::Owned(one.to_owned()))
}

/// Whether [`scalar`] writes `s` as it is.
fn is_plain(s: &str) -> bool {
    const WORDS: [&str; 11] = [
        "null", "true", "false", "yes", "y", "no", "n", "on", "off", "nan", "inf",
    ];
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 80
        && b[0].is_ascii_lowercase()
        && b.iter().all(|&c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'/')
        })
        && !WORDS.contains(&s)
}

/// What a value is, for messages: "a string", "a list", ...
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// `field: expected ..., found ...`.
pub fn wrong(field: &str, expected: &str, found: &Value) -> String {
    format!("{field}: expected {expected}, found {}", kind(found))
}

/// A string field of a map: `None` when absent or null.
pub fn string<'a>(map: &'a Value, key: &str, field: &str) -> Result<Option<&'a str>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(wrong(field, "a string", v)),
    }
}

/// A list of strings: empty when absent or null.
pub fn strings(map: &Value, key: &str, field: &str) -> Result<Vec<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Value::String(s) => Ok(s.clone()),
                v => Err(wrong(&format!("{field}[{i}]"), "a string", v)),
            })
            .collect(),
        Some(v) => Err(wrong(field, "a list of strings", v)),
    }
}

/// A list: empty when absent or null.
pub fn list<'a>(map: &'a Value, key: &str, field: &str, of: &str) -> Result<&'a [Value], String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(v) => Err(wrong(field, &format!("a list of {of}"), v)),
    }
}

/// A map field: `None` when absent or null.
pub fn map<'a>(map: &'a Value, key: &str, field: &str) -> Result<Option<&'a Value>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(v) => Err(wrong(field, "a map", v)),
    }
}

/// A port number (1 to 65535): `None` when absent or null.
pub fn port(map: &Value, key: &str, field: &str) -> Result<Option<u16>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64().and_then(|n| u16::try_from(n).ok()) {
            Some(p) if p > 0 => Ok(Some(p)),
            _ => Err(format!("{field}: {n} is not a port number (1 to 65535)")),
        },
        Some(v) => Err(wrong(field, "a port number", v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn refused_quickly(text: &str, says: &str) {
        let t = Instant::now();
        let e = documents(text).expect_err("refused");
        // Generous for a debug build on a busy machine: unrefused, a billion laughs never ends.
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        assert!(e.limit, "{e}");
        assert!(e.message.contains(says), "{e}");
        assert!(e.message.contains("Reading limits"), "{e}");
    }

    #[test]
    fn bombs_are_refused_quickly() {
        // Billion laughs: nine levels of ten aliases each.
        let mut lol = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let p = i - 1;
            lol.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        refused_quickly(&lol, "alias");
        // Deep nesting, in flow and block style.
        refused_quickly(&"[".repeat(100_000), "nesting");
        let block: String = (0..200)
            .map(|i| format!("{}- \n", "  ".repeat(i)))
            .collect();
        refused_quickly(&format!("{block}{}x\n", "  ".repeat(200)), "nesting");
    }

    #[test]
    fn many_documents_are_read() {
        let one = "apiVersion: v1\nkind: X\nmetadata: {name: a, labels: {b: c}}\n";
        let text = format!("---\n{one}").repeat(5_000);
        assert_eq!(documents(&text).unwrap().len(), 5_000);
    }

    /// serde-saphyr's writing of `s` as a list item, when it is one line.
    fn saphyr(s: &str) -> Option<String> {
        let item = serde_saphyr::to_string(&[s]).unwrap();
        let one = item.strip_prefix("- ")?.strip_suffix('\n')?;
        (!one.contains('\n') && !one.starts_with(['|', '>'])).then(|| one.to_owned())
    }

    #[test]
    fn scalars_are_written_as_serde_saphyr_writes_them() {
        let long = "a".repeat(81);
        let cases = [
            "api.example.com",
            "ns-1",
            "tls-443",
            ".",
            "-",
            "#",
            "*.example.com",
            "1password.com",
            "10.0.0.1",
            "10.0.0.0/24",
            "54.187.174.169/32",
            "2001:db8::1",
            "::1/128",
            "true",
            "yes",
            "y",
            "n",
            "on",
            "off",
            "null",
            "nan",
            "inf",
            "~",
            "",
            "a b",
            "a: b",
            "a #b",
            "0x1f",
            "1e5",
            "2024-01-01",
            "12:30",
            "a\u{85}b",
            "a\u{2028}b",
            "it's",
            "x\ny",
            "--- a",
            "...",
            "é.example",
            "UPPER.example.com",
            "a/b",
            &long,
            &long[..80],
        ];
        for s in cases {
            assert_eq!(scalar(s).map(|c| c.into_owned()), saphyr(s), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_scalar_reads_back(s in "[a-zA-Z0-9.:/ #'\"*&!|>%@`,\\[\\]{}?-]{0,90}") {
            proptest::prop_assert_eq!(scalar(&s).map(|c| c.into_owned()), saphyr(&s));
            if let Some(text) = scalar(&s) {
                let v = documents(&format!("k: {text}\n")).unwrap();
                proptest::prop_assert_eq!(v[0].get("k").and_then(Value::as_str), Some(s.as_str()));
            }
        }
    }

    #[test]
    fn types_are_named() {
        let v = documents("hosts: a.com\nports: {a: 1}\nn: 70000\n").unwrap();
        assert_eq!(
            strings(&v[0], "hosts", "spec.hosts").unwrap_err(),
            "spec.hosts: expected a list of strings, found a string"
        );
        assert_eq!(
            list(&v[0], "ports", "spec.ports", "ports").unwrap_err(),
            "spec.ports: expected a list of ports, found a map"
        );
        assert!(port(&v[0], "n", "n").unwrap_err().contains("70000"));
    }
}

/// Where a node of a YAML document starts: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

/// A document's nodes with where each starts, for pointing at a field.
#[derive(Debug)]
pub struct Spans {
    at: Position,
    kids: Kids,
}

#[derive(Debug)]
enum Kids {
    Null,
    /// A scalar; its text when it is a string.
    Leaf(Option<String>),
    /// Each value with where its key starts.
    Map(Vec<(String, Position, Spans)>),
    Seq(Vec<Spans>),
}

impl Spans {
    /// Where the document starts.
    pub fn start(&self) -> Position {
        self.at
    }

    /// Where the node at a JSON pointer (`/spec/ports/0`) starts: a map entry where its key
    /// does, a list item where it does. A pointer that goes below what the document holds
    /// gives the deepest node on its way.
    pub fn locate(&self, pointer: &str) -> Position {
        let mut node = self;
        let mut at = self.at;
        for part in pointer.split('/').skip(1) {
            let part = part.replace("~1", "/").replace("~0", "~");
            let next = match &node.kids {
                Kids::Map(entries) => entries
                    .binary_search_by(|e| e.0.as_str().cmp(&part))
                    .ok()
                    .map(|i| (entries[i].1, &entries[i].2)),
                Kids::Seq(items) => part
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|v| (v.at, v)),
                Kids::Null | Kids::Leaf(_) => None,
            };
            let Some((pos, child)) = next else { break };
            at = pos;
            node = child;
        }
        at
    }

    fn get(&self, key: &str) -> Option<&Spans> {
        let Kids::Map(entries) = &self.kids else {
            return None;
        };
        let i = entries.binary_search_by(|e| e.0.as_str().cmp(key)).ok()?;
        Some(&entries[i].2)
    }

    /// The objects of the documents as [`crate::existing::push_docs`] reads them: a `List` (a
    /// `kind` ending in `List`) stands for its items.
    pub fn objects(docs: &[Spans]) -> Vec<&Spans> {
        let mut out = Vec::new();
        for d in docs {
            let list = matches!(
                d.get("kind").map(|k| &k.kids),
                Some(Kids::Leaf(Some(k))) if k.ends_with("List")
            );
            match d.get("items").map(|i| &i.kids) {
                Some(Kids::Seq(items)) if list => out.extend(items),
                _ => out.push(d),
            }
        }
        out
    }
}

fn position(l: serde_saphyr::Location) -> Position {
    Position {
        line: l.line(),
        column: l.column(),
    }
}

impl<'de> serde::Deserialize<'de> for Spans {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<Kids>::deserialize(d)?;
        Ok(Spans {
            at: position(s.referenced),
            kids: s.value,
        })
    }
}

/// A map key of any scalar type, as text.
struct Key(String);

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_owned()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Key, E> {
                Ok(Key("null".into()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> serde::Deserialize<'de> for Kids {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Kids;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML node")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Kids, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = m.next_key::<serde_saphyr::Spanned<Key>>()? {
                    let v: Spans = m.next_value()?;
                    entries.push((k.value.0, position(k.referenced), v));
                }
                // Sorted by key for lookups in logarithmic time: a map of a million keys is
                // as quick to point into as a small one. (The reader refuses repeated keys.)
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(Kids::Map(entries))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Kids, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = s.next_element::<Spans>()? {
                    items.push(v);
                }
                Ok(Kids::Seq(items))
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Kids, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_none<E>(self) -> Result<Kids, E> {
                Ok(Kids::Null)
            }
            fn visit_unit<E>(self) -> Result<Kids, E> {
                Ok(Kids::Null)
            }
            fn visit_str<E>(self, v: &str) -> Result<Kids, E> {
                Ok(Kids::Leaf(Some(v.to_owned())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Kids, E> {
                Ok(Kids::Leaf(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Kids, E> {
                Ok(Kids::Leaf(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Kids, E> {
                Ok(Kids::Leaf(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Kids, E> {
                Ok(Kids::Leaf(None))
            }
            fn visit_bytes<E>(self, _: &[u8]) -> Result<Kids, E> {
                Ok(Kids::Leaf(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Where the nodes of every document of a YAML stream start (empty documents left out, as
/// [`documents`] leaves them out), read with the same limits.
pub fn spans(text: &str) -> Result<Vec<Spans>, YamlError> {
    let docs: Vec<Spans> =
        serde_saphyr::from_multiple_with_options(text, options()).map_err(error)?;
    Ok(docs
        .into_iter()
        .filter(|d| !matches!(d.kids, Kids::Null))
        .collect())
}

#[cfg(test)]
mod span_tests {
    use super::*;

    #[test]
    fn fields_are_located() {
        let text = "# c\napiVersion: v1\nspec:\n  hosts: [a, b]\n  ports:\n  - {number: 1}\n---\n---\nkind: List\nitems:\n- a: 1\n  b: {c: 2}\n";
        let docs = spans(text).unwrap();
        assert_eq!(docs.len(), 2);
        let p = |line, column| Position { line, column };
        assert_eq!(docs[0].start(), p(2, 1));
        assert_eq!(docs[0].locate("/spec"), p(3, 1));
        assert_eq!(docs[0].locate("/spec/hosts/1"), p(4, 14));
        assert_eq!(docs[0].locate("/spec/ports/0/number"), p(6, 6));
        // Below what is there: the deepest node on the way.
        assert_eq!(docs[0].locate("/spec/ports/3/name"), p(5, 3));
        let objects = Spans::objects(&docs);
        assert_eq!(objects.len(), 2);
        let item = objects[1];
        assert_eq!(item.start(), p(11, 3));
        assert_eq!(item.locate("/b/c"), p(12, 7));
        assert!(spans("a: [").is_err());
        // A repeated key is refused, as `documents` refuses it.
        assert!(spans("a: 1\nb: 2\na: 3\n").is_err());
        assert!(documents("a: 1\nb: 2\na: 3\n").is_err());
    }
}
