//! Exports that hold many records in one JSON value: a log store's answer to a query, or a
//! collector's batch. Each record is handed on, one at a time, as a JSON envelope that
//! [`super::unwrap`] reads like a shipper's line; a record that holds no log line is reported
//! as such, never dropped. One record counts as one line.
//!
//! | export | shape |
//! |---|---|
//! | Cloud Logging `gcloud logging read --format=json` | one array of LogEntry objects, pretty-printed over many lines |
//! | Elasticsearch / OpenSearch `_search` | `{"took": ..., "hits": {"hits": [{"_source": {...}}]}}`, one response per page |
//! | CloudWatch `aws logs filter-log-events` | `{"events": [{"logStreamName", "timestamp", "message"}], "nextToken": ...}`, one object per page |
//! | OpenTelemetry collector `file` exporter | OTLP JSON, `{"resourceLogs": [...]}`, one batch per line |
//!
//! A source that starts with an array of objects or an export object is a JSON document
//! ([`is_document`]), read value by value, and within a value record by record (an array's
//! elements; an export object's `events`, `hits.hits`, `resourceLogs`), so that memory holds
//! one record, not the whole export ([`each_in_document`]). A line further in a file that opens
//! an export object is read whole ([`shape`], [`each_in_line`]).

use std::io::{self, BufRead};

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::meta;

/// A record of an export: the envelope to read, or `None` when it holds no log line.
pub type Record<'b> = Option<&'b [u8]>;

/// Whether an object's first key opens an export: `resourceLogs` (OTLP), `events`,
/// `searchedLogStreams` or `nextToken` (CloudWatch's `filter-log-events`: the AWS CLI's merged
/// pages start with `events`, a raw page may not), `took`, `timed_out`, `_shards`,
/// `_scroll_id`, `pit_id` or `hits` (an Elasticsearch response). Cheap: only the first key is
/// looked at.
pub fn shape(line: &[u8]) -> bool {
    super::first_key(line).is_some_and(export_key)
}

fn export_key(k: &[u8]) -> bool {
    matches!(
        k,
        b"resourceLogs"
            | b"events"
            | b"searchedLogStreams"
            | b"nextToken"
            | b"took"
            | b"timed_out"
            | b"_shards"
            | b"_scroll_id"
            | b"pit_id"
            | b"hits"
    )
}

/// The records of one line that holds an export object. `None` when the line is not valid
/// JSON, or holds no record (an empty last page): it is then read as any line.
pub fn each_in_line(line: &[u8], buf: &mut Vec<u8>, f: &mut dyn FnMut(Record<'_>)) -> Option<()> {
    let v: Value = serde_json::from_slice(line).ok()?;
    let mut n = 0u64;
    each(v, buf, &mut |r| {
        n += 1;
        f(r)
    });
    (n > 0).then_some(())
}

/// A source that starts an array of objects (`[{`, `[]`, blanks allowed between: gcloud's
/// pretty-printed array) or an export object ([`shape`]: an OTLP batch, a page of events or
/// hits, pretty-printed as the AWS CLI and `?pretty` print them, or on one line, where they
/// outgrow `--max-line-bytes`): a JSON document, not lines. An Istio text entry starts `[` and
/// a digit, and any other JSON object is read as lines, as before (a log that happens to start
/// with one is not cut short at its first non-JSON line).
pub fn is_document(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let rest = head.trim_ascii_start();
    match rest.first() {
        Some(b'[') => matches!(rest[1..].trim_ascii_start().first(), Some(b'{' | b']')),
        // An export object, pretty-printed or not: its first key says so.
        Some(b'{') => shape(rest),
        _ => false,
    }
}

/// Reads a JSON document (any number of arrays and objects back to back, as pages are
/// concatenated) and hands on its records, one at a time. On invalid JSON, the error names the
/// record it follows.
pub fn each_in_document<R: BufRead>(
    mut r: R,
    buf: &mut Vec<u8>,
    f: &mut dyn FnMut(Record<'_>),
) -> io::Result<()> {
    let n = std::cell::Cell::new(0u64);
    let mut count = |rec: Record<'_>| {
        n.set(n.get() + 1);
        f(rec)
    };
    let mut first = true;
    loop {
        // Between values: skip blanks (and a byte-order mark first), stop at the end.
        let next = loop {
            let b = r.fill_buf()?;
            if first && b.starts_with(b"\xef\xbb\xbf") {
                r.consume(3);
                continue;
            }
            first = false;
            match b.iter().position(|c| !c.is_ascii_whitespace()) {
                Some(i) => {
                    let c = b[i];
                    r.consume(i);
                    break Some(c);
                }
                None if b.is_empty() => break None,
                None => {
                    let k = b.len();
                    r.consume(k);
                }
            }
        };
        match next {
            None => return Ok(()),
            Some(b'[' | b'{') => {}
            Some(_) => {
                return Err(io::Error::other(format!(
                    "not a JSON array or object after record {}",
                    n.get()
                )));
            }
        }
        let mut de = serde_json::Deserializer::from_reader(&mut r);
        Top {
            buf: &mut *buf,
            f: &mut count,
        }
        .deserialize(&mut de)
        .map_err(|e| {
            // serde_json's line and column count from the start of this value, not of the
            // file: the record number places the damage instead.
            let e = e.to_string();
            let what = e.rfind(" at line ").map_or(e.as_str(), |i| &e[..i]);
            io::Error::other(format!("invalid JSON after record {}: {what}", n.get()))
        })?;
    }
}

/// A top-level value: an array is read element by element.
struct Top<'a> {
    buf: &'a mut Vec<u8>,
    f: &'a mut dyn FnMut(Record<'_>),
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array or object")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            each(v, self.buf, self.f);
        }
        Ok(())
    }
    /// An export object's records (`events`, `hits.hits`, `resourceLogs`) are read one at a
    /// time: the AWS CLI merges every page into one object, as big as the whole export. Any
    /// other object is one record.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Top { buf, f } = self;
        let Some(first) = map.next_key::<String>()? else {
            f(None);
            return Ok(());
        };
        if !export_key(first.as_bytes()) {
            let mut o = Map::new();
            o.insert(first, map.next_value()?);
            while let Some((k, v)) = map.next_entry::<String, Value>()? {
                o.insert(k, v);
            }
            each(Value::Object(o), buf, f);
            return Ok(());
        }
        let mut key = Some(first);
        while let Some(k) = key {
            match k.as_str() {
                "events" => map.next_value_seed(Elements {
                    buf: &mut *buf,
                    f: &mut *f,
                    each: cloudwatch,
                })?,
                "resourceLogs" => map.next_value_seed(Elements {
                    buf: &mut *buf,
                    f: &mut *f,
                    each: resource_logs,
                })?,
                "hits" => map.next_value_seed(Hits {
                    buf: &mut *buf,
                    f: &mut *f,
                })?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            key = map.next_key::<String>()?;
        }
        Ok(())
    }
}

type Each = fn(Value, &mut Vec<u8>, &mut dyn FnMut(Record<'_>));

/// An array whose elements are read one at a time, each handed to `each`; `null` is none.
struct Elements<'a> {
    buf: &'a mut Vec<u8>,
    f: &'a mut dyn FnMut(Record<'_>),
    each: Each,
}

impl<'de> DeserializeSeed<'de> for Elements<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            (self.each)(v, self.buf, self.f);
        }
        Ok(())
    }
}

/// An Elasticsearch response's `hits`: its `hits` array is read hit by hit.
struct Hits<'a> {
    buf: &'a mut Vec<u8>,
    f: &'a mut dyn FnMut(Record<'_>),
}

impl<'de> DeserializeSeed<'de> for Hits<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Hits<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object with hits")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<String>()? {
            if k == "hits" {
                map.next_value_seed(Elements {
                    buf: &mut *self.buf,
                    f: &mut *self.f,
                    each: hit,
                })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The records of one value: an export object's records, an array's elements, or the value
/// itself as one record.
fn each(v: Value, buf: &mut Vec<u8>, f: &mut dyn FnMut(Record<'_>)) {
    match v {
        Value::Object(mut o) => {
            if let Some(Value::Array(batches)) = o.remove("resourceLogs") {
                return otlp(batches, buf, f);
            }
            if let Some(Value::Array(events)) = o.get_mut("events").map(Value::take) {
                return events.into_iter().for_each(|e| cloudwatch(e, buf, f));
            }
            if let Some(Value::Object(mut hits)) = o.get_mut("hits").map(Value::take)
                && let Some(Value::Array(hits)) = hits.remove("hits")
            {
                return hits.into_iter().for_each(|h| hit(h, buf, f));
            }
            record(Value::Object(o), buf, f)
        }
        // An array of records (gcloud's): each element is one, whatever it holds.
        Value::Array(a) => a.into_iter().for_each(|v| record(v, buf, f)),
        _ => f(None),
    }
}

/// The keys of an envelope that hold the log line (see [`super::unwrap`]).
const PAYLOADS: [&str; 6] = [
    "log",
    "message",
    "textPayload",
    "jsonPayload",
    "_source",
    "line",
];

/// One record: handed on as it is when it holds a log line (a payload key, or Istio's own
/// JSON keys), else reported as holding none.
fn record(v: Value, buf: &mut Vec<u8>, f: &mut dyn FnMut(Record<'_>)) {
    let usable = match &v {
        Value::Object(o) => {
            PAYLOADS.iter().any(|k| o.contains_key(*k))
                || o.keys().any(|k| super::is_istio_key(k.as_bytes()))
        }
        _ => false,
    };
    if usable { emit(&v, buf, f) } else { f(None) }
}

fn emit(v: &Value, buf: &mut Vec<u8>, f: &mut dyn FnMut(Record<'_>)) {
    buf.clear();
    match serde_json::to_writer(&mut *buf, v) {
        Ok(()) => f(Some(buf)),
        Err(_) => f(None),
    }
}

/// A Fluent Bit-like envelope: the line (text or record) and who wrote it.
fn envelope(
    log: Value,
    namespace: Option<&str>,
    pod: Option<&str>,
    container: Option<&str>,
) -> Value {
    let mut k = Map::new();
    for (key, v) in [
        ("namespace_name", namespace),
        ("pod_name", pod),
        ("container_name", container),
    ] {
        if let Some(v) = v {
            k.insert(key.into(), Value::String(v.into()));
        }
    }
    let mut o = Map::new();
    o.insert("log".into(), log);
    o.insert("kubernetes".into(), Value::Object(k));
    Value::Object(o)
}

/// An Elasticsearch hit: the shipped record is in `_source`. An Istio JSON record stored as
/// the document itself is read as one.
fn hit(mut h: Value, buf: &mut Vec<u8>, f: &mut dyn FnMut(Record<'_>)) {
    let source = match h.get_mut("_source") {
        Some(s @ Value::Object(_)) => s.take(),
        _ => return f(None),
    };
    let Value::Object(mut o) = source else {
        return f(None);
    };
    if !PAYLOADS.iter().any(|k| o.contains_key(*k))
        && o.keys().any(|k| super::is_istio_key(k.as_bytes()))
    {
        // Istio's keys at the top of the document (Filebeat's `json.keys_under_root`), with
        // the shipper's metadata beside them: the metadata names the writer.
        let kubernetes = o.remove("kubernetes");
        let mut env = Map::new();
        env.insert("log".into(), Value::Object(o));
        if let Some(k) = kubernetes {
            env.insert("kubernetes".into(), k);
        }
        return emit(&Value::Object(env), buf, f);
    }
    record(Value::Object(o), buf, f)
}

/// A CloudWatch event. Its `message` is the container's line, or the record Fluent Bit
/// shipped (JSON with `log` and `kubernetes`). Fluent Bit's `cloudwatch_logs` output names the
/// stream after the record's tag (`log_stream_prefix` + tag, the tag being the file's path with
/// `/` as `.`: `kube.var.log.containers.<pod>_<namespace>_<container>-<id>.log`), and so does
/// Container Insights (`<node>-application.var.log.containers.<pod>_<namespace>_<container>-<id>.log`;
/// https://docs.fluentbit.io/manual/pipeline/outputs/cloudwatch,
/// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-setup-logs-FluentBit.html):
/// the writer is read from that name when the message does not say.
fn cloudwatch(e: Value, buf: &mut Vec<u8>, f: &mut dyn FnMut(Record<'_>)) {
    let Value::Object(mut e) = e else {
        return f(None);
    };
    let Some(Value::String(message)) = e.remove("message") else {
        return f(None);
    };
    let from_stream = e
        .get("logStreamName")
        .and_then(Value::as_str)
        .and_then(|s| s.find("var.log.containers.").map(|i| &s[i + 19..]))
        .map(|file| meta::from_path(std::path::Path::new(&format!("/var/log/containers/{file}"))))
        .unwrap_or_default();
    let log = match message.trim_ascii_start().as_bytes().first() {
        Some(b'{') => match serde_json::from_str::<Value>(&message) {
            // A shipper's envelope: it names its writer.
            Ok(Value::Object(o))
                if !o.keys().any(|k| super::is_istio_key(k.as_bytes()))
                    && PAYLOADS.iter().any(|k| o.contains_key(*k)) =>
            {
                if o.contains_key("kubernetes") || from_stream.is_empty() {
                    return emit(&Value::Object(o), buf, f);
                }
                // The stream names the writer: the line is the envelope's own.
                PAYLOADS
                    .iter()
                    .find_map(|k| o.get(*k).cloned())
                    .unwrap_or(Value::Null)
            }
            Ok(v @ Value::Object(_)) => v,
            _ => Value::String(message),
        },
        _ => Value::String(message),
    };
    emit(
        &envelope(
            log,
            from_stream.namespace.as_deref(),
            from_stream.pod.as_deref(),
            from_stream.container.as_deref(),
        ),
        buf,
        f,
    )
}

/// An OTLP `AnyValue` in JSON (protobuf's JSON mapping: `int64` as a string) as plain JSON.
fn any_value(v: &Value) -> Value {
    let Value::Object(o) = v else {
        return Value::Null;
    };
    if let Some(s) = o.get("stringValue") {
        return s.clone();
    }
    if let Some(i) = o.get("intValue") {
        return match i {
            Value::String(s) => s
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| i.clone()),
            _ => i.clone(),
        };
    }
    if let Some(d) = o.get("doubleValue") {
        return d.clone();
    }
    if let Some(b) = o.get("boolValue") {
        return b.clone();
    }
    if let Some(kv) = o.get("kvlistValue") {
        return Value::Object(key_values(kv.get("values")));
    }
    Value::Null
}

/// OTLP `KeyValue`s (`[{"key": ..., "value": {...}}]`) as a JSON object.
fn key_values(kv: Option<&Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for e in kv.and_then(Value::as_array).into_iter().flatten() {
        if let Some(k) = e.get("key").and_then(Value::as_str) {
            let v = e.get("value").map(any_value).unwrap_or(Value::Null);
            out.insert(k.to_owned(), v);
        }
    }
    out
}

/// An OTLP JSON batch: every log record of every scope of every resource. The writer is in the
/// resource's attributes `k8s.namespace.name`, `k8s.pod.name`, `k8s.container.name` (set by the
/// collector's `k8sattributes` processor, not by Istio). The line is the record's body (a string,
/// Istio's text format) or its attributes (or a `kvlistValue` body) under Istio's JSON keys.
fn otlp(batches: Vec<Value>, buf: &mut Vec<u8>, f: &mut dyn FnMut(Record<'_>)) {
    for rl in batches {
        resource_logs(rl, buf, f);
    }
}

/// One `ResourceLogs` of an OTLP batch: see [`otlp`].
fn resource_logs(rl: Value, buf: &mut Vec<u8>, f: &mut dyn FnMut(Record<'_>)) {
    let res = key_values(rl.pointer("/resource/attributes"));
    let name = |k: &str| res.get(k).and_then(Value::as_str);
    let (ns, pod, container) = (
        name("k8s.namespace.name"),
        name("k8s.pod.name"),
        name("k8s.container.name"),
    );
    let scopes = rl.get("scopeLogs").and_then(Value::as_array);
    for sl in scopes.into_iter().flatten() {
        let records = sl.get("logRecords").and_then(Value::as_array);
        for lr in records.into_iter().flatten() {
            let body = lr.get("body").map(any_value).unwrap_or(Value::Null);
            let mut fields = match &body {
                Value::Object(o) => o.clone(),
                _ => Map::new(),
            };
            fields.extend(key_values(lr.get("attributes")));
            let log = if fields.keys().any(|k| super::is_istio_key(k.as_bytes())) {
                Value::Object(fields)
            } else if let Value::String(s) = body {
                Value::String(s)
            } else {
                f(None);
                continue;
            };
            emit(&envelope(log, ns, pod, container), buf, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(line: &str) -> Vec<Option<String>> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        each_in_line(line.as_bytes(), &mut buf, &mut |r| {
            out.push(r.map(|b| String::from_utf8(b.to_vec()).unwrap()))
        });
        out
    }

    #[test]
    fn documents_are_told_from_lines() {
        assert!(is_document(b"[\n  {\n"));
        assert!(is_document(b"[]\n"));
        assert!(is_document(b"\xef\xbb\xbf[{\"a\":1}]"));
        assert!(is_document(b"{\n    \"events\": ["));
        assert!(is_document(
            b"{\n    \"nextToken\": \"x\",\n    \"events\": ["
        ));
        assert!(is_document(b"{\r\n  \"took\" : 5,"));
        assert!(!is_document(
            b"{\n  \"level\": \"info\"\n}\n[2024-05-14T09:01:02.140Z] \"GET"
        ));
        assert!(!is_document(b"[2024-05-14T09:01:02.140Z] \"GET"));
        assert!(is_document(b"{\"events\":[]}\n"));
        assert!(is_document(b"{\"resourceLogs\":[{\"resource\""));
        assert!(!is_document(b"{\"log\":\"x\"}\n{\n"));
        assert!(!is_document(b"{"));
        assert!(shape(br#"{"resourceLogs":[]}"#));
        assert!(shape(br#"{"events":[]}"#));
        assert!(!shape(br#"{"log":"x"}"#));
    }

    #[test]
    fn an_empty_batch_is_read_as_a_line() {
        assert!(lines_of(r#"{"events":[],"searchedLogStreams":[]}"#).is_empty());
        let mut buf = Vec::new();
        assert!(each_in_line(b"{\"events\":[", &mut buf, &mut |_| {}).is_none());
    }

    #[test]
    fn otlp_reads_every_record_and_its_resource() {
        let got = lines_of(
            r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"k8s.namespace.name","value":{"stringValue":"shop"}},{"key":"k8s.pod.name","value":{"stringValue":"web-1"}}]},"scopeLogs":[{"scope":{},"logRecords":[{"body":{"stringValue":"a"}},{"attributes":[{"key":"upstream_cluster","value":{"stringValue":"PassthroughCluster"}},{"key":"bytes_sent","value":{"intValue":"12"}}]},{"body":{"kvlistValue":{"values":[{"key":"authority","value":{"stringValue":"x.com"}}]}}},{}]}]}]}"#,
        );
        assert_eq!(
            got,
            vec![
                Some(r#"{"kubernetes":{"namespace_name":"shop","pod_name":"web-1"},"log":"a"}"#.into()),
                Some(r#"{"kubernetes":{"namespace_name":"shop","pod_name":"web-1"},"log":{"bytes_sent":12,"upstream_cluster":"PassthroughCluster"}}"#.into()),
                Some(r#"{"kubernetes":{"namespace_name":"shop","pod_name":"web-1"},"log":{"authority":"x.com"}}"#.into()),
                None,
            ]
        );
    }

    #[test]
    fn cloudwatch_names_the_writer_from_the_stream() {
        let id = "a".repeat(64);
        let got = lines_of(&format!(
            r#"{{"events":[{{"logStreamName":"ip-10-0-1-2.ec2.internal-application.var.log.containers.web-1_shop_istio-proxy-{id}.log","timestamp":1,"message":"line","eventId":"1"}},{{"logStreamName":"s","message":"{{\"log\":\"x\",\"kubernetes\":{{\"namespace_name\":\"pay\"}}}}"}},{{"logStreamName":"s"}}],"searchedLogStreams":[],"nextToken":"t"}}"#
        ));
        assert_eq!(
            got,
            vec![
                Some(r#"{"kubernetes":{"container_name":"istio-proxy","namespace_name":"shop","pod_name":"web-1"},"log":"line"}"#.into()),
                Some(r#"{"kubernetes":{"namespace_name":"pay"},"log":"x"}"#.into()),
                None,
            ]
        );
    }

    #[test]
    fn elasticsearch_hits_of_istio_records() {
        let got = lines_of(
            r#"{"took":1,"hits":{"hits":[{"_source":{"upstream_cluster":"PassthroughCluster","kubernetes":{"namespace":"shop"}}},{"_id":"x"}]}}"#,
        );
        assert_eq!(
            got,
            vec![
                Some(
                    r#"{"kubernetes":{"namespace":"shop"},"log":{"upstream_cluster":"PassthroughCluster"}}"#
                        .into()
                ),
                None
            ]
        );
    }

    #[test]
    fn documents_stream_their_elements() {
        let doc = b"[\n  {\n    \"textPayload\": \"a\"\n  },\n  {\n    \"protoPayload\": {}\n  }\n]\n{\"hits\":{\"hits\":[{\"_source\":{\"message\":\"b\"}}]}}\n";
        let mut out = Vec::new();
        let mut buf = Vec::new();
        each_in_document(&doc[..], &mut buf, &mut |r| {
            out.push(r.map(|b| String::from_utf8(b.to_vec()).unwrap()))
        })
        .unwrap();
        assert_eq!(
            out,
            vec![
                Some(r#"{"textPayload":"a"}"#.into()),
                None,
                Some(r#"{"message":"b"}"#.into())
            ]
        );
        let err = each_in_document(
            &b"[{\"textPayload\":\"a\"},\n{\"x\" 1}]"[..],
            &mut buf,
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "invalid JSON after record 1: expected `:`");
        assert!(each_in_document(&b"[1] x"[..], &mut buf, &mut |_| {}).is_err());
        // The records of an export object are handed on as they are read, before the rest of
        // the object is: the AWS CLI's merged pages are one object as big as the export.
        for doc in [
            &b"{\"events\": [{\"message\": \"a\"}, {\"message\": \"b\"}, {\"message\" 1"[..],
            b"{\"took\": 1, \"hits\": {\"hits\": [{\"_source\": {\"message\": \"a\"}}, {\"_source\": {\"message\": \"b\"}}, {",
            b"{\"resourceLogs\": [{\"scopeLogs\": [{\"logRecords\": [{\"body\": {\"stringValue\": \"a\"}}, {\"body\": {\"stringValue\": \"b\"}}]}]}, {",
        ] {
            let mut n = 0;
            let err = each_in_document(doc, &mut buf, &mut |r| {
                assert!(r.is_some());
                n += 1
            });
            assert!(err.is_err());
            assert_eq!(n, 2, "{}", String::from_utf8_lossy(doc));
        }
        // Keys beside the records are passed over; `null` holds none.
        let mut n = 0;
        each_in_document(
            &b"{\"nextToken\": \"t\", \"events\": null, \"searchedLogStreams\": [{\"x\": 1}]}\n{}"
                [..],
            &mut buf,
            &mut |r| {
                assert!(r.is_none());
                n += 1
            },
        )
        .unwrap();
        assert_eq!(n, 1);
    }
}
