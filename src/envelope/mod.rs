//! Envelope stage: access-log lines rarely reach a user bare. Container runtimes, kubectl and
//! log shippers wrap them; this stage unwraps one line, per line (any mix in one run), and says
//! who wrote it when the wrapper knows: namespace, pod, container, app label.
//!
//! | wrapper | shape |
//! |---|---|
//! | CRI (containerd, CRI-O) | `<rfc3339nano> stdout\|stderr F\|P <line>` (`P`: partial, joined) |
//! | `kubectl logs --timestamps` | `<rfc3339> <line>` |
//! | `kubectl logs --prefix` | `[pod/<pod>/<container>] <line>` |
//! | stern | `<pod> <container> <line>` |
//! | Docker json-file | `{"log": "...", "stream": ..., "time": ...}` |
//! | Fluent Bit, Fluentd | JSON, line in `log` or `message`, `kubernetes.{namespace_name, pod_name, container_name, labels}` |
//! | Filebeat (Elastic Common Schema) | JSON, line in `message`, `kubernetes.{namespace, pod.name, container.name, labels}` |
//! | Loki (`logcli --output=jsonl`) | `{"labels": {...}, "line": "..."}` |
//! | Google Cloud Logging | `textPayload` or `jsonPayload`, `resource.labels.{namespace_name, pod_name, container_name}` |
//! | Elasticsearch / OpenSearch | NDJSON hits, the record in `_source` |
//! | CloudWatch Logs | `{"message": "...", ...}` |
//!
//! A payload that is itself an Istio JSON record (`jsonPayload`, a parsed `log` object) is
//! handed on as JSON text, without re-encoding. Exports that hold many records in one JSON value
//! (a Cloud Logging array, Elasticsearch responses, CloudWatch pages, OTLP batches) are split
//! into records by [`batch`] first.

pub mod batch;
pub mod meta;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

pub use meta::Meta;

/// Which wrapper a line came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Bare,
    Cri,
    KubectlTimestamps,
    KubectlPrefix,
    Stern,
    /// `[<pod> <container>] <line>`, as other log tools print it.
    Bracketed,
    /// `<container> <line>`.
    Container,
    /// An unknown prefix before an entry found within the line's first 512 bytes.
    Prefixed,
    Json,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bare => "bare",
            Kind::Cri => "cri",
            Kind::KubectlTimestamps => "kubectl-timestamps",
            Kind::KubectlPrefix => "kubectl-prefix",
            Kind::Stern => "stern",
            Kind::Bracketed => "bracketed-prefix",
            Kind::Container => "container-prefix",
            Kind::Prefixed => "unknown-prefix",
            Kind::Json => "json-envelope",
        }
    }
}

/// An unwrapped line.
#[derive(Debug)]
pub struct Unwrapped<'a> {
    pub kind: Kind,
    /// The access-log line (or JSON record) inside.
    pub payload: &'a [u8],
    /// Who wrote it, as far as the wrapper says.
    pub meta: Meta<'a>,
    /// A CRI partial line (`P`): the rest of the entry follows on the next line.
    pub partial: bool,
}

/// Istio's JSON access-log keys: a JSON line whose first key is one of these is a bare record.
fn is_istio_key(k: &[u8]) -> bool {
    matches!(
        k,
        b"start_time"
            | b"route_name"
            | b"method"
            | b"path"
            | b"protocol"
            | b"response_code"
            | b"response_flags"
            | b"response_code_details"
            | b"connection_termination_details"
            | b"bytes_received"
            | b"bytes_sent"
            | b"duration"
            | b"upstream_service_time"
            | b"x_forwarded_for"
            | b"user_agent"
            | b"request_id"
            | b"authority"
            | b"upstream_host"
            | b"upstream_cluster"
            | b"upstream_local_address"
            | b"downstream_local_address"
            | b"downstream_remote_address"
            | b"requested_server_name"
            | b"upstream_transport_failure_reason"
            | b"istio_policy_status"
    )
}

/// The keys ztunnel's JSON lines start with (`level` first, as its tracing layer writes them;
/// the others for re-ordered copies). A shipper's envelope starts with its own (`log`, `date`,
/// `kubernetes`...), and a ztunnel record inside it is unwrapped like any.
fn is_ztunnel_key(k: &[u8]) -> bool {
    matches!(
        k,
        b"level" | b"time" | b"scope" | b"target" | b"message" | b"src.addr" | b"dst.addr"
    )
}

/// Unwraps one line. `scratch` receives the decoded text of a JSON string payload.
pub fn unwrap<'a>(line: &'a [u8], scratch: &'a mut Vec<u8>) -> Unwrapped<'a> {
    let bare = |payload| Unwrapped {
        kind: Kind::Bare,
        payload,
        meta: Meta::default(),
        partial: false,
    };
    let found = match line.first() {
        // Istio's own entries start `[` and a digit: look no further (this runs on every line).
        Some(b'[') if line.get(1).is_some_and(u8::is_ascii_digit) => return bare(line),
        Some(b'[') => match line.strip_prefix(b"[pod/") {
            Some(rest) => kubectl_prefix(rest),
            None => bracketed(line),
        },
        Some(b'{') => {
            if first_key(line).is_some_and(|k| {
                is_istio_key(k)
                    || (is_ztunnel_key(k) && crate::parse::ztunnel::looks_like_json(line))
            }) {
                return bare(line);
            }
            // Ownership of `scratch` goes to the JSON envelope's payload.
            return json(line, scratch)
                .or_else(|| prefixed(line))
                .unwrap_or(bare(line));
        }
        Some(c) if c.is_ascii_digit() => timestamped(line),
        Some(c) if c.is_ascii_alphanumeric() => stern(line).or_else(|| container(line)),
        _ => None,
    };
    found.or_else(|| prefixed(line)).unwrap_or(bare(line))
}

/// The entry after a `<rfc3339> ` timestamp (`kubectl logs --timestamps` combined with another
/// prefix), or the text itself when it is an entry already.
fn after_timestamp(b: &[u8]) -> Option<&[u8]> {
    if looks_like_entry(b) {
        return Some(b);
    }
    let (ts, rest) = split_space(b)?;
    (is_timestamp(ts) && looks_like_entry(rest)).then_some(rest)
}

/// A timestamp: digits, '-', ':', 'T', '.', 'Z', '+'; at least a date and a time.
fn is_timestamp(ts: &[u8]) -> bool {
    ts.len() >= 20
        && ts[4] == b'-'
        && ts
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-:.+".contains(c))
}

/// A Kubernetes name as log tools print it.
fn is_name(b: &[u8]) -> bool {
    !b.is_empty()
        && b.len() <= 253
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-.".contains(c))
}

/// `[<pod> <container>] <line>` (optionally with a timestamp before the line), or
/// `[<pod>] <ztunnel line>` as posted from several ztunnel pods' logs (its pod is ztunnel's,
/// which says nothing about the line's caller).
fn bracketed(line: &[u8]) -> Option<Unwrapped<'_>> {
    let close = memchr::memchr(b']', &line[..line.len().min(512)])?;
    let inside = &line[1..close];
    let rest = line.get(close + 1..)?.strip_prefix(b" ")?;
    let Some((pod, container)) = split_space(inside) else {
        if !is_name(inside) || !crate::parse::ztunnel::looks_like(rest) {
            return None;
        }
        return Some(Unwrapped {
            kind: Kind::Bracketed,
            payload: rest,
            meta: Meta {
                pod: Some(as_str(inside)?.into()),
                ..Meta::default()
            },
            partial: false,
        });
    };
    if !is_name(pod) || !is_name(container) {
        return None;
    }
    let payload = after_timestamp(rest)?;
    named(Kind::Bracketed, payload, pod, container)
}

/// A payload whose wrapper names the pod and container that wrote it.
fn named<'a>(
    kind: Kind,
    payload: &'a [u8],
    pod: &'a [u8],
    container: &'a [u8],
) -> Option<Unwrapped<'a>> {
    Some(Unwrapped {
        kind,
        payload,
        meta: Meta {
            pod: Some(as_str(pod)?.into()),
            container: Some(as_str(container)?.into()),
            ..Meta::default()
        },
        partial: false,
    })
}

/// `<container> <line>` (optionally with a timestamp before the line).
fn container(line: &[u8]) -> Option<Unwrapped<'_>> {
    let (name, rest) = split_space(line)?;
    if !is_name(name) {
        return None;
    }
    let payload = after_timestamp(rest)?;
    Some(Unwrapped {
        kind: Kind::Container,
        payload,
        meta: Meta {
            container: Some(as_str(name)?.into()),
            ..Meta::default()
        },
        partial: false,
    })
}

/// An entry after a prefix no known wrapper explains: `[<timestamp>] "` or an Istio JSON
/// record within the first 512 bytes. Read with the writer unknown, and counted.
fn prefixed(line: &[u8]) -> Option<Unwrapped<'_>> {
    let head = &line[..line.len().min(512)];
    let mut from = 1;
    while let Some(i) = memchr::memchr2(b'[', b'{', head.get(from..)?) {
        let at = from + i;
        let rest = &line[at..];
        let text = rest.len() > 6
            && rest[0] == b'['
            && rest[1..5].iter().all(u8::is_ascii_digit)
            && rest[5] == b'-'
            && memchr::memmem::find(&rest[..rest.len().min(48)], b"] \"").is_some();
        let json = rest[0] == b'{' && first_key(rest).is_some_and(is_istio_key);
        if text || json {
            return Some(Unwrapped {
                kind: Kind::Prefixed,
                payload: rest,
                meta: Meta::default(),
                partial: false,
            });
        }
        from = at + 1;
    }
    None
}

fn split_space(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(b' ', b)?;
    Some((&b[..i], &b[i + 1..]))
}

/// An Istio entry (`[...`, `{...`) or a ztunnel text line.
fn looks_like_entry(b: &[u8]) -> bool {
    matches!(b.first(), Some(b'[' | b'{')) || crate::parse::ztunnel::looks_like(b)
}

fn as_str(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// `<rfc3339> stdout|stderr F|P <line>` (CRI) or `<rfc3339> <line>` (kubectl --timestamps).
fn timestamped(line: &[u8]) -> Option<Unwrapped<'_>> {
    let (ts, rest) = split_space(line)?;
    // A timestamp: digits, '-', ':', 'T', '.', 'Z', '+'; at least a date and a time.
    if ts.len() < 20
        || ts[4] != b'-'
        || !ts
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-:.+".contains(c))
    {
        return None;
    }
    if let Some((stream, rest2)) = split_space(rest)
        && (stream == b"stdout" || stream == b"stderr")
    {
        let (tag, payload) = match split_space(rest2) {
            Some(x) => x,
            None => (rest2, &b""[..]),
        };
        if tag == b"F" || tag == b"P" {
            return Some(Unwrapped {
                kind: Kind::Cri,
                payload,
                meta: Meta::default(),
                partial: tag == b"P",
            });
        }
    }
    // `<time> <level> ...` is ztunnel's own layout written with spaces, not a timestamp
    // before a line.
    let ztunnel_level =
        rest.first().is_some_and(u8::is_ascii_lowercase) && !rest.starts_with(b"src.addr=");
    (looks_like_entry(rest) && !ztunnel_level).then(|| Unwrapped {
        kind: Kind::KubectlTimestamps,
        payload: rest,
        meta: Meta::default(),
        partial: false,
    })
}

/// `[pod/<pod>/<container>] <line>`, the `[pod/` already stripped.
fn kubectl_prefix(rest: &[u8]) -> Option<Unwrapped<'_>> {
    let close = memchr::memchr(b']', rest)?;
    let (pod, container) = as_str(&rest[..close])?.split_once('/')?;
    let payload = rest.get(close + 1..)?.strip_prefix(b" ")?;
    // `kubectl logs --prefix --timestamps`: a timestamp before the entry.
    let payload = after_timestamp(payload).unwrap_or(payload);
    Some(Unwrapped {
        kind: Kind::KubectlPrefix,
        payload,
        meta: Meta {
            pod: Some(pod.into()),
            container: Some(container.into()),
            ..Meta::default()
        },
        partial: false,
    })
}

/// `<pod> <container> <line>` as stern prints it (colours off).
fn stern(line: &[u8]) -> Option<Unwrapped<'_>> {
    let (pod, rest) = split_space(line)?;
    let (container, payload) = split_space(rest)?;
    let label = |b: &[u8]| {
        !b.is_empty()
            && b.len() <= 253
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-.".contains(c))
    };
    if !label(pod) || !label(container) {
        return None;
    }
    // `stern --timestamps`: a timestamp before the entry.
    let payload = after_timestamp(payload)?;
    named(Kind::Stern, payload, pod, container)
}

/// The first key of a JSON object, when it holds no escape.
fn first_key(line: &[u8]) -> Option<&[u8]> {
    let rest = line
        .strip_prefix(b"{")?
        .trim_ascii_start()
        .strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    (rest[end] == b'"').then_some(&rest[..end])
}

#[derive(Deserialize, Default)]
struct Env<'a> {
    #[serde(borrow)]
    log: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(borrow, rename = "textPayload")]
    text_payload: Option<&'a RawValue>,
    #[serde(borrow, rename = "jsonPayload")]
    json_payload: Option<&'a RawValue>,
    #[serde(borrow, rename = "_source")]
    source: Option<&'a RawValue>,
    #[serde(borrow)]
    line: Option<&'a RawValue>,
    #[serde(borrow)]
    kubernetes: Option<Kubernetes<'a>>,
    #[serde(borrow)]
    resource: Option<Resource<'a>>,
    /// Loki's stream labels.
    #[serde(borrow)]
    labels: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
}

#[derive(Deserialize, Default)]
struct Kubernetes<'a> {
    #[serde(borrow)]
    namespace_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pod_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    container_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    labels: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
    /// Filebeat / Elastic Common Schema: `namespace`, `pod.name`, `container.name`. Read
    /// leniently: a field of another shape leaves that name unknown, not the envelope unread.
    #[serde(borrow)]
    namespace: Option<&'a RawValue>,
    #[serde(borrow)]
    pod: Option<&'a RawValue>,
    #[serde(borrow)]
    container: Option<&'a RawValue>,
}

/// A JSON string, borrowed when it holds no escape; `None` for anything else.
fn raw_str(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    serde_json::from_str::<Cow<'_, str>>(raw?.get()).ok()
}

/// The `name` of an ECS object (`{"name": "...", "uid": ...}`).
fn raw_name(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Named<'a> {
        #[serde(borrow)]
        name: Option<&'a RawValue>,
    }
    let named: Named<'_> = serde_json::from_str(raw?.get()).ok()?;
    raw_str(named.name)
}

#[derive(Deserialize, Default)]
struct Resource<'a> {
    #[serde(borrow)]
    labels: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
}

/// The `app.kubernetes.io/name` or `app` label.
fn app_label<'a>(
    labels: &mut BTreeMap<Cow<'a, str>, Cow<'a, str>>,
) -> Option<(Cow<'a, str>, meta::Label)> {
    labels
        .remove("app.kubernetes.io/name")
        // Filebeat turns the dots of label keys into `_` (`labels.dedot`, on by default).
        .or_else(|| labels.remove("app_kubernetes_io/name"))
        .map(|v| (v, meta::Label::Name))
        .or_else(|| labels.remove("app").map(|v| (v, meta::Label::App)))
}

/// A JSON envelope: the payload (string or record) and the Kubernetes metadata beside it.
fn json<'a>(line: &'a [u8], scratch: &'a mut Vec<u8>) -> Option<Unwrapped<'a>> {
    let env: Env<'a> = serde_json::from_slice(line).ok()?;
    envelope(env, line, scratch, 0)
}

/// `whole` is the envelope's own JSON text: the entry itself when Istio's keys sit at its top
/// beside the shipper's metadata.
fn envelope<'a>(
    mut env: Env<'a>,
    whole: &'a [u8],
    scratch: &'a mut Vec<u8>,
    depth: u8,
) -> Option<Unwrapped<'a>> {
    let mut meta = Meta::default();
    if let Some(mut k) = env.kubernetes.take() {
        meta.namespace = k.namespace_name.take();
        meta.pod = k.pod_name.take();
        meta.container = k.container_name.take();
        meta.namespace = meta.namespace.or_else(|| raw_str(k.namespace));
        meta.pod = meta.pod.or_else(|| raw_name(k.pod));
        meta.container = meta.container.or_else(|| raw_name(k.container));
        if let Some((app, label)) = k.labels.as_mut().and_then(app_label) {
            meta.app = Some(app);
            meta.app_label = Some(label);
        }
    }
    if let Some(mut labels) = env.resource.take().and_then(|r| r.labels) {
        meta.namespace = meta.namespace.or_else(|| labels.remove("namespace_name"));
        meta.pod = meta.pod.or_else(|| labels.remove("pod_name"));
        meta.container = meta.container.or_else(|| labels.remove("container_name"));
    }
    if let Some(mut labels) = env.labels.take() {
        meta.namespace = meta.namespace.or_else(|| labels.remove("namespace"));
        meta.pod = meta.pod.or_else(|| labels.remove("pod"));
        meta.container = meta.container.or_else(|| labels.remove("container"));
        if meta.app.is_none()
            && let Some((app, label)) = app_label(&mut labels)
        {
            meta.app = Some(app);
            meta.app_label = Some(label);
        }
    }
    if let Some(src) = env.source {
        // Elasticsearch: the shipped record is in `_source`.
        if depth > 1 {
            return None;
        }
        let inner: Env<'a> = serde_json::from_str(src.get()).ok()?;
        let mut u = envelope(inner, src.get().as_bytes(), scratch, depth + 1)?;
        u.meta = u.meta.or(meta);
        return Some(u);
    }
    let Some(payload) = [
        env.log,
        env.message,
        env.text_payload,
        env.line,
        env.json_payload,
    ]
    .into_iter()
    .flatten()
    .next() else {
        // Istio's keys at the top, the shipper's metadata beside them (Filebeat's
        // `json.keys_under_root`, Fluent Bit's `Merge_Log` without `Keep_Log`): the whole
        // record is the entry, and the metadata names its writer.
        return (!meta.is_empty()).then_some(Unwrapped {
            kind: Kind::Json,
            payload: whole,
            meta,
            partial: false,
        });
    };
    let raw = payload.get().as_bytes();
    let payload: &'a [u8] = match raw.first() {
        // A parsed record: hand the JSON text on as it is.
        Some(b'{') => raw,
        Some(b'"') => {
            decode_string(raw, scratch)?;
            let text = scratch.as_slice();
            // Docker and Fluent Bit keep the line's newline.
            text.strip_suffix(b"\n").unwrap_or(text)
        }
        _ => return None,
    };
    Some(Unwrapped {
        kind: Kind::Json,
        payload,
        meta,
        partial: false,
    })
}

/// Decodes a JSON string literal into `out`, reusing its allocation.
fn decode_string(raw: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    let body = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut i = 0;
    while i < body.len() {
        match memchr::memchr(b'\\', &body[i..]) {
            None => {
                out.extend_from_slice(&body[i..]);
                break;
            }
            Some(p) => {
                out.extend_from_slice(&body[i..i + p]);
                i += p + 1;
                let c = *body.get(i)?;
                i += 1;
                match c {
                    b'"' | b'\\' | b'/' => out.push(c),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'u' => {
                        let hex =
                            |s: &[u8]| u32::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok();
                        let mut cp = hex(body.get(i..i + 4)?)?;
                        i += 4;
                        if (0xd800..0xdc00).contains(&cp) && body.get(i..i + 2) == Some(b"\\u") {
                            let lo = hex(body.get(i + 2..i + 6)?)?;
                            if (0xdc00..0xe000).contains(&lo) {
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                i += 6;
                            }
                        }
                        let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                        let mut b = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                    }
                    _ => return None,
                }
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(line: &str) -> (Kind, String, Meta<'static>, bool) {
        let line: &'static [u8] = Box::leak(line.as_bytes().to_vec().into_boxed_slice());
        let scratch: &'static mut Vec<u8> = Box::leak(Box::new(Vec::new()));
        let u = unwrap(line, scratch);
        (
            u.kind,
            String::from_utf8_lossy(u.payload).into_owned(),
            u.meta.into_owned(),
            u.partial,
        )
    }

    const ENTRY: &str = r#"[2024-05-14T09:01:02.140Z] "- - -" 0 - - - "-" 1 2 3 - "-" "-" "-" "-" "1.2.3.4:443" PassthroughCluster 10.0.0.1:1 1.2.3.4:443 10.0.0.1:2 api.example.com -"#;

    #[test]
    fn bare_lines_pass_through() {
        assert_eq!(un(ENTRY).0, Kind::Bare);
        assert_eq!(
            un(r#"{"start_time":"x","upstream_cluster":"y"}"#).0,
            Kind::Bare
        );
        assert_eq!(
            un("2024-05-14T09:00:01.102345Z\tinfo\txdsproxy\tconnected").0,
            Kind::Bare
        );
        assert_eq!(un("hello world").0, Kind::Bare);
    }

    #[test]
    fn cri_and_kubectl() {
        let (k, p, _, partial) = un(&format!("2024-05-14T09:01:02.140123456Z stdout F {ENTRY}"));
        assert_eq!((k, p.as_str(), partial), (Kind::Cri, ENTRY, false));
        let (k, p, _, partial) = un("2024-05-14T09:01:02.140123456Z stdout P [2024-05-14T09:01");
        assert_eq!(
            (k, p.as_str(), partial),
            (Kind::Cri, "[2024-05-14T09:01", true)
        );
        let (k, p, _, _) = un(&format!("2024-05-14T09:01:02.140123456Z {ENTRY}"));
        assert_eq!((k, p.as_str()), (Kind::KubectlTimestamps, ENTRY));
        let (k, p, m, _) = un(&format!(
            "[pod/checkout-7d4b9c6f5-x2k8p/istio-proxy] {ENTRY}"
        ));
        assert_eq!((k, p.as_str()), (Kind::KubectlPrefix, ENTRY));
        assert_eq!(
            (m.pod.as_deref(), m.container.as_deref()),
            (Some("checkout-7d4b9c6f5-x2k8p"), Some("istio-proxy"))
        );
        let (k, p, m, _) = un(&format!("checkout-7d4b9c6f5-x2k8p istio-proxy {ENTRY}"));
        assert_eq!(
            (k, p.as_str(), m.pod.as_deref()),
            (Kind::Stern, ENTRY, Some("checkout-7d4b9c6f5-x2k8p"))
        );
    }

    #[test]
    fn ztunnel_lines_in_their_wrappers() {
        const Z: &str = "2024-06-03T10:00:01.482913Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.1.21:48302 dst.addr=142.250.191.142:443 direction=\"outbound\"";
        assert_eq!(un(Z).0, Kind::Bare);
        let spaced = Z.replace('\t', " ");
        assert_eq!(un(&spaced).0, Kind::Bare);
        let (k, p, m, _) = un(&format!("[pod/ztunnel-4x7kp/istio-proxy] {Z}"));
        assert_eq!((k, p.as_str()), (Kind::KubectlPrefix, Z));
        assert_eq!(m.container.as_deref(), Some("istio-proxy"));
        let (k, p, _, _) = un(&format!("2024-06-03T10:00:01.500000000Z {spaced}"));
        assert_eq!((k, p.as_str()), (Kind::KubectlTimestamps, spaced.as_str()));
        let (k, p, _, _) = un(&format!("2024-06-03T10:00:01.500000000Z stdout F {Z}"));
        assert_eq!((k, p.as_str()), (Kind::Cri, Z));
        // As posted from several ztunnel pods: `[<pod>] ` or `<pod> ` before the line.
        let fields = "src.addr=10.244.0.23:37034 dst.addr=10.244.0.12:15008 direction=\"inbound\"";
        let (k, p, m, _) = un(&format!("[ztunnel-b8dqs] {fields}"));
        assert_eq!((k, p.as_str()), (Kind::Bracketed, fields));
        assert_eq!(m.pod.as_deref(), Some("ztunnel-b8dqs"));
        let (k, p, _, _) = un(&format!("ztunnel-vc2vp {spaced}"));
        assert_eq!((k, p.as_str()), (Kind::Container, spaced.as_str()));
        // A one-name bracket before anything else is no wrapper.
        assert_eq!(un("[ztunnel-b8dqs] hello").0, Kind::Bare);
        // ztunnel's JSON is a record, not an envelope with a `message`.
        let json = r#"{"level":"info","time":"2025-11-13T17:22:58.026256Z","scope":"access","message":"connection complete","src.addr":"10.1.0.8:46322","dst.addr":"142.250.191.142:443","direction":"outbound"}"#;
        let (k, p, _, _) = un(json);
        assert_eq!((k, p.as_str()), (Kind::Bare, json));
        // Inside a shipper's envelope, as a parsed object or a string, it is unwrapped.
        let (k, p, m, _) = un(&format!(
            r#"{{"date":1.7e9,"log":{json},"kubernetes":{{"namespace_name":"istio-system","pod_name":"ztunnel-4x7kp","container_name":"istio-proxy"}}}}"#
        ));
        assert_eq!((k, p.as_str()), (Kind::Json, json));
        assert_eq!(m.container.as_deref(), Some("istio-proxy"));
        let escaped = serde_json::to_string(json).unwrap();
        let (k, p, _, _) = un(&format!(r#"{{"log":{escaped},"stream":"stdout"}}"#));
        assert_eq!((k, p.as_str()), (Kind::Json, json));
    }

    #[test]
    fn json_envelopes() {
        let escaped = serde_json::to_string(&format!("{ENTRY}\n")).unwrap();
        let (k, p, _, _) = un(&format!(
            r#"{{"log":{escaped},"stream":"stdout","time":"2024-05-14T09:01:02.140Z"}}"#
        ));
        assert_eq!((k, p.as_str()), (Kind::Json, ENTRY));
        let (_, p, m, _) = un(&format!(
            r#"{{"date":1.7e9,"log":{escaped},"kubernetes":{{"namespace_name":"shop","pod_name":"checkout-7d4b9c6f5-x2k8p","container_name":"istio-proxy","labels":{{"app":"checkout","pod-template-hash":"7d4b9c6f5"}}}}}}"#
        ));
        assert_eq!(p, ENTRY);
        assert_eq!(
            (m.namespace.as_deref(), m.app.as_deref()),
            (Some("shop"), Some("checkout"))
        );
        let (_, p, m, _) = un(&format!(
            r#"{{"labels":{{"namespace":"shop","pod":"web-1","container":"istio-proxy","app":"web"}},"line":{escaped},"timestamp":"2024-05-14T09:01:02Z"}}"#
        ));
        assert_eq!(
            (p.as_str(), m.namespace.as_deref(), m.pod.as_deref()),
            (ENTRY, Some("shop"), Some("web-1"))
        );
        let (_, p, m, _) = un(&format!(
            r#"{{"insertId":"x","textPayload":{escaped},"resource":{{"type":"k8s_container","labels":{{"namespace_name":"pay","pod_name":"api-5c9d8-abcde","container_name":"istio-proxy"}}}}}}"#
        ));
        assert_eq!((p.as_str(), m.namespace.as_deref()), (ENTRY, Some("pay")));
        let (_, p, _, _) = un(
            r#"{"insertId":"x","jsonPayload":{"upstream_cluster":"PassthroughCluster","downstream_local_address":"1.2.3.4:443"}}"#,
        );
        assert_eq!(
            p,
            r#"{"upstream_cluster":"PassthroughCluster","downstream_local_address":"1.2.3.4:443"}"#
        );
        let (_, p, m, _) = un(&format!(
            r#"{{"_index":"logs","_id":"1","_source":{{"log":{escaped},"kubernetes":{{"namespace_name":"es"}}}}}}"#
        ));
        assert_eq!((p.as_str(), m.namespace.as_deref()), (ENTRY, Some("es")));
        let (_, p, _, _) = un(&format!(
            r#"{{"timestamp":1715677262140,"message":{escaped}}}"#
        ));
        assert_eq!(p, ENTRY);
        // Not an envelope: handed on unchanged.
        assert_eq!(un(r#"{"level":"info","msg":"x"}"#).0, Kind::Bare);
    }

    /// Filebeat's `add_kubernetes_metadata` (Elastic Common Schema): `kubernetes.namespace`,
    /// `kubernetes.pod.name`, `kubernetes.container.name`, and labels with their dots turned
    /// into `_` (`labels.dedot`, on by default): https://www.elastic.co/guide/en/beats/filebeat/current/add-kubernetes-metadata.html
    #[test]
    fn filebeat_ecs_records() {
        let escaped = serde_json::to_string(ENTRY).unwrap();
        let (k, p, m, _) = un(&format!(
            r#"{{"@timestamp":"2024-05-14T09:01:02.140Z","message":{escaped},"stream":"stdout","kubernetes":{{"namespace":"shop","pod":{{"name":"checkout-7d4b9c6f5-x2k8p","uid":"0b4c5a1e-5d1f-4f0e-9d55-0b4c5a1e2f3a","ip":"10.0.0.1"}},"container":{{"name":"istio-proxy"}},"labels":{{"app_kubernetes_io/name":"checkout","pod-template-hash":"7d4b9c6f5"}},"node":{{"name":"n1"}}}},"container":{{"id":"abc","runtime":"containerd"}}}}"#
        ));
        assert_eq!((k, p.as_str()), (Kind::Json, ENTRY));
        assert_eq!(
            (
                m.namespace.as_deref(),
                m.pod.as_deref(),
                m.container.as_deref(),
                m.app.as_deref(),
                m.app_label
            ),
            (
                Some("shop"),
                Some("checkout-7d4b9c6f5-x2k8p"),
                Some("istio-proxy"),
                Some("checkout"),
                Some(meta::Label::Name)
            )
        );
        // Istio's keys at the top of the record (`json.keys_under_root`).
        let root = r#"{"@timestamp":"2024-06-02T10:07:01.000Z","upstream_cluster":"PassthroughCluster","downstream_local_address":"34.120.177.194:443","kubernetes":{"namespace":"shop","pod":{"name":"checkout-7d4b9c6f5-x2k8p"},"container":{"name":"istio-proxy"}}}"#;
        let (k, p, m, _) = un(root);
        assert_eq!((k, p.as_str()), (Kind::Json, root));
        assert_eq!(m.namespace.as_deref(), Some("shop"));
        // Without metadata, such a line is no envelope.
        assert_eq!(
            un(r#"{"@timestamp":"x","upstream_cluster":"y"}"#).0,
            Kind::Bare
        );
        // Inside an Elasticsearch hit, and with a field of an unexpected type beside.
        let (_, p, m, _) = un(&format!(
            r#"{{"_index":"filebeat-8","_source":{{"message":{escaped},"kubernetes":{{"namespace":"pay","pod":"odd","container":{{"name":"istio-proxy"}}}}}}}}"#
        ));
        assert_eq!(
            (p.as_str(), m.namespace.as_deref(), m.pod.as_deref()),
            (ENTRY, Some("pay"), None)
        );
    }

    #[test]
    fn json_string_escapes() {
        let mut out = Vec::new();
        decode_string(br#""a\"b\\c\u00e9\ud83d\ude00\n""#, &mut out).unwrap();
        assert_eq!(out, "a\"b\\cé😀\n".as_bytes());
        assert!(decode_string(br#""bad \q""#, &mut out).is_none());
    }
}
