//! ztunnel access logs (Istio ambient mode), text and JSON (`logAsJson`, Istio 1.24+).
//!
//! ztunnel writes one line per connection when it closes (`connection complete`), a `warn` line
//! for a connection refused before any metadata (`connection failed`), and, at `debug` only, one
//! when it opens (`connection opened`). Its text layout (`IstioFormat` in ztunnel's
//! `src/telemetry.rs`) is
//!
//! ```text
//! <RFC 3339 time, µs>\t<level>\t<target>\t<message>\t<name>=<value> <name>=<value> ...
//! ```
//!
//! where strings are written with Rust's `{:?}` (double-quoted, backslash escapes), addresses
//! and integers bare, and absent fields are left out. Pasted or re-wrapped lines often hold
//! spaces where ztunnel wrote tabs, so any run of blanks separates tokens. JSON lines are one
//! flat object: `level`, `time`, `scope` (the target), `message`, and the same dotted names as
//! keys (`"src.addr"`), with byte counts as numbers.
//!
//! Only lines of the `access` target are entries; any other ztunnel line (`xds`, `dns`,
//! `proxy`...) is not. Values are borrowed from the line unless they hold escapes.

use std::borrow::Cow;

use serde::Deserialize;

use super::{Malformed, present};

/// What the line says happened to the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `connection complete`: a flow, with byte counts and duration.
    Complete,
    /// `connection failed`: refused before any metadata (an unknown source workload, say).
    Failed,
    /// `connection opened` (`debug` level): never counted, its `complete` line follows.
    Opened,
    /// Another message of the `access` target, or none (a line cut down to its fields).
    Other,
}

/// `direction`: which ztunnel wrote the line, the client's (`outbound`) or the server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Outbound,
    Inbound,
}

/// One ztunnel access-log line. Names follow ztunnel's fields; `None` means the field was
/// left out (ztunnel never writes placeholders).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ZtunnelEntry<'a> {
    /// The time the line was written (the connection's close, for `connection complete`).
    pub time: Option<Cow<'a, str>>,
    /// `info`, `warn`, `error`, ...
    pub level: Option<Cow<'a, str>>,
    pub event: Option<Event>,
    /// `src.addr`: the client's `ip:port`.
    pub src_addr: Option<Cow<'a, str>>,
    /// `src.workload`: the client's pod name.
    pub src_workload: Option<Cow<'a, str>>,
    pub src_namespace: Option<Cow<'a, str>>,
    /// `src.identity`: `spiffe://<trust domain>/ns/<ns>/sa/<sa>`, only over mTLS (HBONE).
    pub src_identity: Option<Cow<'a, str>>,
    /// `dst.addr`: the peer actually dialled (`ip:15008` for HBONE, the real `ip:port` for TCP).
    pub dst_addr: Option<Cow<'a, str>>,
    /// `dst.hbone_addr`: the HBONE CONNECT authority (a service VIP:port through a waypoint).
    pub dst_hbone_addr: Option<Cow<'a, str>>,
    /// `dst.service`: the service or ServiceEntry host the address matched.
    pub dst_service: Option<Cow<'a, str>>,
    /// `dst.workload`: the pod (or waypoint pod, or ServiceEntry) reached.
    pub dst_workload: Option<Cow<'a, str>>,
    pub dst_namespace: Option<Cow<'a, str>>,
    pub dst_identity: Option<Cow<'a, str>>,
    pub direction: Option<Direction>,
    /// `bytes_sent`: what the workload on this line's side sent (for `outbound`, its upload).
    pub bytes_sent: u64,
    /// `bytes_recv`: what it received (for `outbound`, its download).
    pub bytes_recv: u64,
    /// `duration`, in milliseconds.
    pub duration_ms: Option<u64>,
    /// `error`, on `error`-level lines.
    pub error: Option<Cow<'a, str>>,
}

/// Whether a text line may be ztunnel's: cheap, for the per-line dispatch. It starts with a
/// timestamp (`2024-…T…Z`) or a level (a line posted without its time) and holds the
/// `access` target and an address field, or starts with a `src.addr=` field (a line cut down
/// to its fields). Every text line
/// [`ZtunnelEntry::parse`] reads passes; JSON lines (which may escape any name) are not judged
/// here.
pub fn looks_like(line: &[u8]) -> bool {
    match line.first() {
        Some(b'0'..=b'9') => {
            memchr::memmem::find(line, b"access").is_some()
                && (memchr::memmem::find(line, b"src.addr=").is_some()
                    || memchr::memmem::find(line, b"dst.addr=").is_some())
        }
        Some(b's') => line.starts_with(b"src.addr="),
        Some(b'd' | b'e' | b'i' | b't' | b'w') => {
            let word = line
                .iter()
                .position(u8::is_ascii_whitespace)
                .map_or(line, |i| &line[..i]);
            LEVELS.iter().any(|l| l.as_bytes() == word)
                && memchr::memmem::find(line, b"access").is_some()
                && (memchr::memmem::find(line, b"src.addr=").is_some()
                    || memchr::memmem::find(line, b"dst.addr=").is_some())
        }
        _ => false,
    }
}

/// Whether a JSON line may be ztunnel's (`logAsJson`): the `access` scope as ztunnel's compact
/// JSON writes it, and an address key. Cheap, for the per-line dispatch; the bytes
/// `"scope":"access"` cannot occur inside a JSON string, where quotes are escaped.
pub fn looks_like_json(line: &[u8]) -> bool {
    line.first() == Some(&b'{')
        && (memchr::memmem::find(line, b"\"scope\":\"access\"").is_some()
            || memchr::memmem::find(line, b"\"target\":\"access\"").is_some())
        && (memchr::memmem::find(line, b"\"src.addr\":").is_some()
            || memchr::memmem::find(line, b"\"dst.addr\":").is_some())
}

impl<'a> ZtunnelEntry<'a> {
    /// Reads one line, text or JSON. `Ok(None)`: not a ztunnel access-log line (another
    /// target, or not ztunnel's layout at all). `Err`: ztunnel's layout with a field that
    /// cannot be read.
    pub fn parse(line: &'a [u8]) -> Result<Option<Self>, Malformed> {
        match line.first() {
            Some(b'{') => parse_json(line),
            _ => {
                let text = std::str::from_utf8(line).map_err(|_| Malformed::InvalidUtf8)?;
                parse_text(text)
            }
        }
    }

    /// The trust domain of `src.identity` (`spiffe://<td>/ns/...`), never assumed.
    pub fn src_trust_domain(&self) -> Option<&str> {
        trust_domain(self.src_identity.as_deref()?)
    }
}

/// `spiffe://<td>/ns/<ns>/sa/<sa>` to `<td>`.
pub fn trust_domain(identity: &str) -> Option<&str> {
    let rest = identity.strip_prefix("spiffe://")?;
    let (td, path) = rest.split_once('/')?;
    (!td.is_empty() && path.starts_with("ns/")).then_some(td)
}

const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// The event a message names; blanks between its words may be tabs or several spaces.
fn event_of(message: &str) -> Event {
    let mut words = message.split_ascii_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("connection"), Some("complete"), None) => Event::Complete,
        (Some("connection"), Some("failed"), None) => Event::Failed,
        (Some("connection"), Some("opened"), None) => Event::Opened,
        _ => Event::Other,
    }
}

/// The name of a `name=value` token, if the token is one: lowercase letters, digits, `.` and
/// `_`, as ztunnel's field names are.
fn field_name(token: &str) -> Option<(&str, &str)> {
    let (name, value) = token.split_once('=')?;
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_');
    ok.then_some((name, value))
}

fn parse_text(line: &str) -> Result<Option<ZtunnelEntry<'_>>, Malformed> {
    let mut e = ZtunnelEntry::default();
    let mut rest = line.trim_start();
    if !rest.starts_with("src.addr=") {
        // <time> <level> <target> <message...> before the fields; the time may have been cut
        // off (as in lines posted without it).
        let (first, after) = split_token(rest);
        let (time, level, after) = if LEVELS.contains(&first) {
            (None, first, after)
        } else {
            if super::time::parse_rfc3339(first).is_none() {
                return Ok(None);
            }
            let (level, after) = split_token(after);
            if !LEVELS.contains(&level) {
                return Ok(None);
            }
            (Some(first), level, after)
        };
        let (target, after) = split_token(after);
        if target != "access" {
            return Ok(None);
        }
        // The message runs up to the first `name=value` token.
        let mut scan = after;
        loop {
            let (token, next) = split_token(scan);
            if token.is_empty() || field_name(token).is_some() {
                break;
            }
            scan = next;
        }
        let event = event_of(&after[..after.len() - scan.len()]);
        e.time = time.map(Cow::Borrowed);
        e.level = Some(Cow::Borrowed(level));
        e.event = Some(event);
        rest = scan;
    } else {
        e.event = Some(Event::Other);
    }

    let mut seen = 0u32;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let Some(eq) = rest.find('=') else {
            return Err(Malformed::TextLayout);
        };
        let name = &rest[..eq];
        if field_name(&rest[..=eq]).is_none() {
            return Err(Malformed::TextLayout);
        }
        let after = &rest[eq + 1..];
        let (value, next) = if after.starts_with('"') {
            let (v, n) = quoted(after).ok_or(Malformed::TextLayout)?;
            (v, n)
        } else {
            let (tok, n) = split_token(after);
            (Cow::Borrowed(tok), n)
        };
        // Text after a closing quote must be a blank or the end.
        if next
            .as_bytes()
            .first()
            .is_some_and(|b| !b.is_ascii_whitespace())
        {
            return Err(Malformed::TextLayout);
        }
        set_field(&mut e, name, value, &mut seen)?;
        rest = next;
    }
    if e.event == Some(Event::Other) && e.level.is_none() {
        // A line cut down to its fields: a flow when it has a flow's fields.
        if e.duration_ms.is_some() {
            e.event = Some(Event::Complete);
        }
    }
    if e.src_addr.is_none() && e.dst_addr.is_none() {
        return Err(Malformed::TextLayout);
    }
    Ok(Some(e))
}

/// The next blank-separated token and what follows it.
fn split_token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// A Rust `{:?}` string at the start of `s`: its value and what follows the closing quote.
/// Borrowed unless it holds escapes.
fn quoted(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let body = s.strip_prefix('"')?;
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut owned: Option<String> = None;
    let mut start = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let value = match owned {
                    Some(mut o) => {
                        o.push_str(&body[start..i]);
                        Cow::Owned(o)
                    }
                    None => Cow::Borrowed(&body[..i]),
                };
                return Some((value, &body[i + 1..]));
            }
            b'\\' => {
                let o = owned.get_or_insert_with(String::new);
                o.push_str(&body[start..i]);
                let esc = *bytes.get(i + 1)?;
                i += 2;
                match esc {
                    b'"' => o.push('"'),
                    b'\\' => o.push('\\'),
                    b'\'' => o.push('\''),
                    b'n' => o.push('\n'),
                    b'r' => o.push('\r'),
                    b't' => o.push('\t'),
                    b'0' => o.push('\0'),
                    b'u' => {
                        // \u{XXXX}
                        let rest = body.get(i..)?.strip_prefix('{')?;
                        let close = rest.find('}')?;
                        let hex = &rest[..close];
                        if hex.is_empty() || hex.len() > 6 {
                            return None;
                        }
                        let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                        o.push(c);
                        i += 1 + close + 1;
                    }
                    _ => return None,
                }
                start = i;
            }
            _ => i += 1,
        }
    }
    None
}

/// `"2ms"` (or `2ms`) to 2.
fn duration_ms(v: &str) -> Option<u64> {
    v.strip_suffix("ms")?.parse().ok()
}

fn set_field<'a>(
    e: &mut ZtunnelEntry<'a>,
    name: &str,
    value: Cow<'a, str>,
    seen: &mut u32,
) -> Result<(), Malformed> {
    // Each field once: a repeated one makes the line ambiguous.
    let (bit, slot): (u32, Option<&mut Option<Cow<'a, str>>>) = match name {
        "src.addr" => (0, Some(&mut e.src_addr)),
        "src.workload" => (1, Some(&mut e.src_workload)),
        "src.namespace" => (2, Some(&mut e.src_namespace)),
        "src.identity" => (3, Some(&mut e.src_identity)),
        "dst.addr" => (4, Some(&mut e.dst_addr)),
        "dst.hbone_addr" => (5, Some(&mut e.dst_hbone_addr)),
        "dst.service" => (6, Some(&mut e.dst_service)),
        "dst.workload" => (7, Some(&mut e.dst_workload)),
        "dst.namespace" => (8, Some(&mut e.dst_namespace)),
        "dst.identity" => (9, Some(&mut e.dst_identity)),
        "error" => (10, Some(&mut e.error)),
        "direction" => (11, None),
        "bytes_sent" => (12, None),
        "bytes_recv" => (13, None),
        "duration" => (14, None),
        // Fields of later releases (`src.cluster`, `dst.cluster`) and any other: read past.
        _ => return Ok(()),
    };
    if *seen & (1 << bit) != 0 {
        return Err(Malformed::TextLayout);
    }
    *seen |= 1 << bit;
    match (name, slot) {
        (_, Some(slot)) => *slot = present(&value).is_some().then_some(value),
        ("direction", None) => {
            e.direction = match &*value {
                "outbound" => Some(Direction::Outbound),
                "inbound" => Some(Direction::Inbound),
                _ => return Err(Malformed::TextLayout),
            }
        }
        ("bytes_sent", None) => e.bytes_sent = value.parse().map_err(|_| Malformed::BadNumber)?,
        ("bytes_recv", None) => e.bytes_recv = value.parse().map_err(|_| Malformed::BadNumber)?,
        ("duration", None) => {
            e.duration_ms = Some(duration_ms(&value).ok_or(Malformed::BadNumber)?);
        }
        _ => {}
    }
    Ok(())
}

/// A JSON value as ztunnel writes it: a string or a number (`null` reads as absent). Read by
/// a visitor, not as an untagged enum: trying each variant in turn would build an error for
/// every miss, an allocation per field.
#[derive(Debug, Default)]
enum JsonValue<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Num(u64),
}

impl<'de: 'a, 'a> Deserialize<'de> for JsonValue<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = JsonValue<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, a non-negative integer or null")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JsonValue::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonValue::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(JsonValue::Str(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(JsonValue::Num(v))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(JsonValue::Absent)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(JsonValue::Absent)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<'a> JsonValue<'a> {
    fn string(self) -> Result<Option<Cow<'a, str>>, Malformed> {
        match self {
            JsonValue::Absent => Ok(None),
            JsonValue::Str(s) => Ok(present(&s).is_some().then_some(s)),
            JsonValue::Num(_) => Err(Malformed::BadNumber),
        }
    }

    fn number(self) -> Result<Option<u64>, Malformed> {
        match self {
            JsonValue::Absent => Ok(None),
            JsonValue::Num(n) => Ok(Some(n)),
            JsonValue::Str(s) => s.parse().map(Some).map_err(|_| Malformed::BadNumber),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct JsonLine<'a> {
    #[serde(borrow)]
    level: JsonValue<'a>,
    #[serde(borrow)]
    time: JsonValue<'a>,
    #[serde(borrow)]
    scope: JsonValue<'a>,
    #[serde(borrow)]
    target: JsonValue<'a>,
    #[serde(borrow)]
    message: JsonValue<'a>,
    #[serde(borrow, rename = "src.addr")]
    src_addr: JsonValue<'a>,
    #[serde(borrow, rename = "src.workload")]
    src_workload: JsonValue<'a>,
    #[serde(borrow, rename = "src.namespace")]
    src_namespace: JsonValue<'a>,
    #[serde(borrow, rename = "src.identity")]
    src_identity: JsonValue<'a>,
    #[serde(borrow, rename = "dst.addr")]
    dst_addr: JsonValue<'a>,
    #[serde(borrow, rename = "dst.hbone_addr")]
    dst_hbone_addr: JsonValue<'a>,
    #[serde(borrow, rename = "dst.service")]
    dst_service: JsonValue<'a>,
    #[serde(borrow, rename = "dst.workload")]
    dst_workload: JsonValue<'a>,
    #[serde(borrow, rename = "dst.namespace")]
    dst_namespace: JsonValue<'a>,
    #[serde(borrow, rename = "dst.identity")]
    dst_identity: JsonValue<'a>,
    #[serde(borrow)]
    direction: JsonValue<'a>,
    #[serde(borrow)]
    bytes_sent: JsonValue<'a>,
    #[serde(borrow)]
    bytes_recv: JsonValue<'a>,
    #[serde(borrow)]
    duration: JsonValue<'a>,
    #[serde(borrow)]
    error: JsonValue<'a>,
}

fn parse_json(line: &[u8]) -> Result<Option<ZtunnelEntry<'_>>, Malformed> {
    let j: JsonLine<'_> = serde_json::from_slice(line).map_err(|_| Malformed::InvalidJson)?;
    // ztunnel names the target `scope`; other tracing JSON layers say `target`.
    let target = match (j.scope, j.target) {
        (JsonValue::Absent, t) | (t, _) => t.string()?,
    };
    if target.as_deref() != Some("access") {
        return Ok(None);
    }
    let message = j.message.string()?;
    let direction = match j.direction.string()?.as_deref() {
        None => None,
        Some("outbound") => Some(Direction::Outbound),
        Some("inbound") => Some(Direction::Inbound),
        Some(_) => return Err(Malformed::TextLayout),
    };
    let duration_ms = match j.duration {
        JsonValue::Absent => None,
        JsonValue::Num(n) => Some(n),
        JsonValue::Str(s) => Some(duration_ms(&s).ok_or(Malformed::BadNumber)?),
    };
    let e = ZtunnelEntry {
        time: j.time.string()?,
        level: j.level.string()?,
        event: Some(message.as_deref().map_or(Event::Other, event_of)),
        src_addr: j.src_addr.string()?,
        src_workload: j.src_workload.string()?,
        src_namespace: j.src_namespace.string()?,
        src_identity: j.src_identity.string()?,
        dst_addr: j.dst_addr.string()?,
        dst_hbone_addr: j.dst_hbone_addr.string()?,
        dst_service: j.dst_service.string()?,
        dst_workload: j.dst_workload.string()?,
        dst_namespace: j.dst_namespace.string()?,
        dst_identity: j.dst_identity.string()?,
        direction,
        bytes_sent: j.bytes_sent.number()?.unwrap_or(0),
        bytes_recv: j.bytes_recv.number()?.unwrap_or(0),
        duration_ms,
        error: j.error.string()?,
    };
    if e.src_addr.is_none() && e.dst_addr.is_none() {
        return Ok(None);
    }
    Ok(Some(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> ZtunnelEntry<'_> {
        ZtunnelEntry::parse(line.as_bytes())
            .unwrap_or_else(|m| panic!("{line}: {m:?}"))
            .unwrap_or_else(|| panic!("{line}: not read as ztunnel's"))
    }

    // The published lines of docs: istio.io's troubleshooting page (spaces for tabs).
    const IN_MESH: &str = r#"2024-05-04T10:11:04.964851Z info    access  connection complete src.addr=10.244.1.12:35520 src.workload="curl-7656cf8794-r7zb9" src.namespace="default" src.identity="spiffe://cluster.local/ns/default/sa/curl" dst.addr=10.244.1.9:15008 dst.hbone_addr="10.244.1.9:9080" dst.service="reviews.default.svc.cluster.local" dst.workload="reviews-v3-7d99fd7978-zznnq" dst.namespace="reviews" dst.identity="spiffe://cluster.local/ns/default/sa/bookinfo-reviews" direction="outbound" bytes_sent=84 bytes_recv=169 duration="2ms""#;

    #[test]
    fn in_mesh_hbone_outbound() {
        let e = parse(IN_MESH);
        assert_eq!(e.event, Some(Event::Complete));
        assert_eq!(e.level.as_deref(), Some("info"));
        assert_eq!(e.time.as_deref(), Some("2024-05-04T10:11:04.964851Z"));
        assert_eq!(e.src_addr.as_deref(), Some("10.244.1.12:35520"));
        assert_eq!(e.src_workload.as_deref(), Some("curl-7656cf8794-r7zb9"));
        assert_eq!(e.src_namespace.as_deref(), Some("default"));
        assert_eq!(e.src_trust_domain(), Some("cluster.local"));
        assert_eq!(e.dst_addr.as_deref(), Some("10.244.1.9:15008"));
        assert_eq!(e.dst_hbone_addr.as_deref(), Some("10.244.1.9:9080"));
        assert_eq!(
            e.dst_service.as_deref(),
            Some("reviews.default.svc.cluster.local")
        );
        assert_eq!(e.direction, Some(Direction::Outbound));
        assert_eq!((e.bytes_sent, e.bytes_recv), (84, 169));
        assert_eq!(e.duration_ms, Some(2));
        assert!(matches!(e.src_workload, Some(Cow::Borrowed(_))), "borrowed");
    }

    #[test]
    fn passthrough_text_with_tabs_and_json() {
        let text = "2024-12-11T21:18:07.862986Z\tinfo\taccess\tconnection complete\tsrc.addr=10.150.37.52:48300 src.workload=\"dev-some-app-645dbdfff6-jcd2t\" src.namespace=\"some-ns\" dst.addr=172.217.5.14:443 direction=\"outbound\" bytes_sent=800 bytes_recv=8468 duration=\"73ms\"";
        let e = parse(text);
        assert_eq!(e.event, Some(Event::Complete));
        assert_eq!(e.dst_addr.as_deref(), Some("172.217.5.14:443"));
        assert_eq!(e.dst_service, None);
        assert_eq!(e.src_identity, None);
        let json = r#"{"level":"info","time":"2025-11-13T17:22:58.026256Z","scope":"access","message":"connection complete","src.addr":"10.1.0.8:46322","src.workload":"istio-debug","src.namespace":"istio-addons-ingress","dst.addr":"142.250.191.142:443","direction":"outbound","bytes_sent":800,"bytes_recv":8468,"duration":"73ms"}"#;
        let j = parse(json);
        assert_eq!(j.event, Some(Event::Complete));
        assert_eq!(j.dst_addr.as_deref(), Some("142.250.191.142:443"));
        assert_eq!(j.src_namespace.as_deref(), Some("istio-addons-ingress"));
        assert_eq!(
            (j.bytes_sent, j.bytes_recv, j.duration_ms),
            (800, 8468, Some(73))
        );
        assert_eq!(j.direction, Some(Direction::Outbound));
    }

    #[test]
    fn waypoint_bound_service_entry_with_error_level() {
        let line = r#"2025-02-18T16:25:48.175861Z    error    access    connection complete    src.addr=10.1.2.3:37048 src.workload="xxx" src.namespace="namespace-b" src.identity="spiffe://example.org/ns/namespace-b/sa/xxx" dst.addr=10.1.2.4:15008 dst.hbone_addr=240.240.0.9:80 dst.service="example.com" dst.workload="egress-gateway-78d7cb9ddc-xwxtk" dst.namespace="istio-gateway" dst.identity="spiffe://example.org/ns/istio-gateway/sa/egress-gateway" direction="outbound" bytes_sent=0 bytes_recv=0 duration="1ms" error="http status: 503 Service Unavailable""#;
        let e = parse(line);
        assert_eq!(e.level.as_deref(), Some("error"));
        assert_eq!(e.dst_hbone_addr.as_deref(), Some("240.240.0.9:80"));
        assert_eq!(e.dst_service.as_deref(), Some("example.com"));
        assert_eq!(e.src_trust_domain(), Some("example.org"), "never assumed");
        assert_eq!(
            e.error.as_deref(),
            Some("http status: 503 Service Unavailable")
        );
    }

    #[test]
    fn failed_opened_and_other_targets() {
        let failed = "2024-05-04T10:11:04.964851Z\twarn\taccess\tconnection failed\tsrc.addr=10.0.0.1:1 dst.addr=10.0.0.2:80 direction=\"outbound\" error=\"unknown source: 10.0.0.1\"";
        assert_eq!(parse(failed).event, Some(Event::Failed));
        let opened = "2024-05-04T10:11:04.964851Z\tdebug\taccess\tconnection opened\tsrc.addr=10.0.0.1:1 dst.addr=10.0.0.2:80 direction=\"outbound\"";
        assert_eq!(parse(opened).event, Some(Event::Opened));
        for other in [
            "2024-05-04T10:11:04.964851Z\tinfo\txds::client:xds{id=1}\treceived response",
            "2024-05-04T10:11:04.964851Z\tdebug\tdns\t\tsrc.workload=\"a\" query=\"A\"",
            "2024-05-04T10:11:04.964851Z info proxy::inbound listener established",
            r#"{"level":"info","time":"2025-11-13T17:22:58Z","scope":"xds","message":"received"}"#,
            "[2024-05-14T09:01:02.140Z] \"- - -\" 0 - - - \"-\" 1 2 3 - \"-\" \"-\" \"-\" \"-\" \"1.2.3.4:443\" PassthroughCluster - 1.2.3.4:443 - - -",
            "hello world",
        ] {
            assert_eq!(ZtunnelEntry::parse(other.as_bytes()), Ok(None), "{other}");
        }
    }

    #[test]
    fn a_line_posted_without_its_time() {
        // istio/ztunnel PR #1273: an inbound deny, the time cut off.
        let line = r#"error   access  connection complete     src.addr=10.244.1.6:42020 src.workload="reviews-v1-6584ddcf65-k78wz" src.namespace="default" src.identity="spiffe://cluster.local/ns/default/sa/bookinfo-reviews" dst.addr=10.244.1.9:15008 dst.hbone_addr=10.244.1.9:9080 dst.service="productpage.default.svc.cluster.local" dst.workload="productpage-v1-d5789fdfb-c5w2c" dst.namespace="default" dst.identity="spiffe://cluster.local/ns/default/sa/bookinfo-productpage" direction="inbound" bytes_sent=0 bytes_recv=0 duration="0ms" error="connection closed due to policy rejection: allow policies exist, but none allowed""#;
        assert!(looks_like(line.as_bytes()));
        let e = parse(line);
        assert_eq!((e.time, e.level.as_deref()), (None, Some("error")));
        assert_eq!(e.event, Some(Event::Complete));
        assert_eq!(e.direction, Some(Direction::Inbound));
        assert!(!looks_like(b"info some other line src.addr=1"));
        assert_eq!(
            ZtunnelEntry::parse(b"info xds connection complete src.addr=1.2.3.4:1"),
            Ok(None)
        );
    }

    #[test]
    fn a_line_cut_down_to_its_fields() {
        // As posted with a pod prefix stripped: no time, level, target or message.
        let line = r#"src.addr=10.244.0.23:37034 src.workload="waypoint-5f89fbb8b5-jwb7g" src.namespace="bookinfo" dst.addr=10.244.0.12:15008 dst.hbone_addr=10.244.0.12:9080 direction="inbound" bytes_sent=444 bytes_recv=716 duration="6000ms""#;
        let e = parse(line);
        assert_eq!(e.event, Some(Event::Complete));
        assert_eq!(e.direction, Some(Direction::Inbound));
        assert_eq!(e.duration_ms, Some(6000));
        assert_eq!(e.time, None);
    }

    #[test]
    fn escapes_and_hostile_values() {
        let line = r#"2024-05-04T10:11:04.964851Z info access connection complete src.addr=10.0.0.1:1 src.workload="a\"b dst.addr=6.6.6.6:1\u{2028}" dst.addr=1.2.3.4:443 direction="outbound" bytes_sent=1 bytes_recv=2 duration="3ms""#;
        let e = parse(line);
        assert_eq!(
            e.src_workload.as_deref(),
            Some("a\"b dst.addr=6.6.6.6:1\u{2028}"),
            "a quoted value holds what it holds"
        );
        assert_eq!(e.dst_addr.as_deref(), Some("1.2.3.4:443"));
        // A repeated field is ambiguous: which address is it?
        let twice = "2024-05-04T10:11:04.964851Z info access connection complete src.addr=10.0.0.1:1 dst.addr=1.2.3.4:443 dst.addr=6.6.6.6:443";
        assert_eq!(
            ZtunnelEntry::parse(twice.as_bytes()),
            Err(Malformed::TextLayout)
        );
        for bad in [
            "2024-05-04T10:11:04.964851Z info access connection complete src.addr=10.0.0.1:1 bytes_sent=many",
            "2024-05-04T10:11:04.964851Z info access connection complete src.addr=10.0.0.1:1 duration=\"3s\"",
            "2024-05-04T10:11:04.964851Z info access connection complete src.addr=10.0.0.1:1 src.workload=\"open",
            "2024-05-04T10:11:04.964851Z info access connection complete src.addr=10.0.0.1:1 direction=\"sideways\"",
            "2024-05-04T10:11:04.964851Z info access connection complete src.addr=10.0.0.1:1 src.workload=\"a\"b",
        ] {
            assert!(ZtunnelEntry::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(
            ZtunnelEntry::parse(br#"{"scope":"access","src.addr":1}"#),
            Err(Malformed::BadNumber)
        );
        assert_eq!(
            ZtunnelEntry::parse(br#"{"scope":"access""#),
            Err(Malformed::InvalidJson)
        );
    }

    #[test]
    fn ipv6_and_later_fields() {
        let line = r#"2024-05-04T10:11:04.964851Z info access connection complete src.addr=[fd00::1]:4000 dst.addr=[2001:db8::1]:443 dst.cluster="c2" direction="outbound" bytes_sent=1 bytes_recv=2 duration="3ms""#;
        let e = parse(line);
        assert_eq!(e.dst_addr.as_deref(), Some("[2001:db8::1]:443"));
    }

    #[test]
    fn json_recognition() {
        let json = r#"{"level":"info","time":"2025-11-13T17:22:58.026256Z","scope":"access","message":"connection complete","src.addr":"10.1.0.8:46322","dst.addr":"142.250.191.142:443"}"#;
        assert!(looks_like_json(json.as_bytes()));
        assert!(!looks_like_json(
            br#"{"log":"{\"scope\":\"access\",\"src.addr\":\"1.2.3.4:1\"}"}"#
        ));
        assert!(!looks_like_json(
            br#"{"start_time":"x","upstream_cluster":"PassthroughCluster"}"#
        ));
    }

    #[test]
    fn recognition_is_cheap_and_agrees() {
        assert!(looks_like(IN_MESH.as_bytes()));
        assert!(looks_like(b"src.addr=1.2.3.4:1 dst.addr=5.6.7.8:443"));
        assert!(!looks_like(b"[2024-05-14T09:01:02.140Z] \"- - -\" 0"));
        assert!(!looks_like(
            b"2024-05-04T10:11:04Z info xds::client received"
        ));
    }

    proptest::proptest! {
        /// Whatever a value holds, ztunnel's `{:?}` writing of it reads back as itself, and
        /// the fields after it stay fields.
        #[test]
        fn any_value_reads_back(value in proptest::prelude::any::<String>()) {
            let line = format!(
                "2024-05-04T10:11:04.964851Z info access connection complete src.addr=10.0.0.1:1 src.workload={value:?} dst.addr=1.2.3.4:443 direction=\"outbound\" bytes_sent=1 bytes_recv=2 duration=\"3ms\""
            );
            let e = parse(&line);
            let expected = (!value.is_empty() && value != "-").then_some(value.as_str());
            proptest::prop_assert_eq!(e.src_workload.as_deref(), expected);
            proptest::prop_assert_eq!(e.dst_addr.as_deref(), Some("1.2.3.4:443"));
            proptest::prop_assert_eq!(e.duration_ms, Some(3));
        }

        /// A text line read as ztunnel's is always one the cheap check recognises, whatever
        /// its tokens (as the `ztunnel` fuzz target asserts).
        #[test]
        fn what_is_read_is_recognised(
            tokens in proptest::collection::vec(
                proptest::sample::select(vec![
                    "2024-05-04T10:11:04.964851Z", "info", "error", "warn", "access", "xds",
                    "connection", "complete", "failed", "src.addr=1.2.3.4:5",
                    "dst.addr=5.6.7.8:443", "src.addr=", "direction=\"outbound\"", "\t", " ",
                    "duration=\"1ms\"", "x=\"a b\"", "[pod/z/istio-proxy]", "{",
                ]),
                0..12,
            ),
        ) {
            let line = tokens.join(" ");
            let line = crate::parse::trim_line(line.as_bytes());
            if line.first() != Some(&b'{') && matches!(ZtunnelEntry::parse(line), Ok(Some(_))) {
                proptest::prop_assert!(looks_like(line), "{:?}", String::from_utf8_lossy(line));
            }
        }

        /// Any bytes: read or refused, never a panic.
        #[test]
        fn any_line_is_read_or_refused(line in proptest::prelude::any::<Vec<u8>>()) {
            let _ = ZtunnelEntry::parse(&line);
            let _ = looks_like(&line);
        }
    }

    #[test]
    fn trust_domains() {
        assert_eq!(
            trust_domain("spiffe://td.example/ns/a/sa/b"),
            Some("td.example")
        );
        assert_eq!(trust_domain("spiffe:///ns/a/sa/b"), None);
        assert_eq!(trust_domain("cluster.local/ns/a/sa/b"), None);
        assert_eq!(trust_domain("spiffe://td/other"), None);
    }
}
