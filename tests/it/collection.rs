//! The exports of the log stores of docs/collection.md, each in the shape its command prints
//! (hand-built fixtures in `tests/fixtures/collection/`): every record is read, or counted
//! with its place when it holds no log line, and names its writer.

use std::io::Write;

use serde_json::Value;

use crate::common::*;

/// `analyze -o json` on one input.
fn analyze(path: &str) -> Value {
    let o = run(&["analyze", "-o", "json", "-q", path]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("JSON report")
}

/// Each destination's host with the namespaces and workloads that called it.
fn callers(report: &Value) -> Vec<(String, Vec<(String, String)>)> {
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    report["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let who = d["sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| (s(&x["namespace"]), s(&x["workload"])))
                .collect();
            (s(&d["host"]), who)
        })
        .collect()
}

fn pairs(v: &[(&str, &[(&str, &str)])]) -> Vec<(String, Vec<(String, String)>)> {
    v.iter()
        .map(|(h, w)| {
            let w = w
                .iter()
                .map(|(n, a)| (n.to_string(), a.to_string()))
                .collect();
            (h.to_string(), w)
        })
        .collect()
}

/// The lines counted, and the places of the records that hold no log line.
fn accounted(report: &Value) -> (u64, Vec<String>) {
    let lines = report["input"]["lines"].as_u64().unwrap();
    let mut places = Vec::new();
    for m in report["malformed"].as_array().unwrap() {
        assert_eq!(m["reason"], "no-log-line", "{m}");
        for e in m["examples"].as_array().unwrap() {
            places.push(e.as_str().unwrap().to_owned());
        }
    }
    (lines, places)
}

const SHOP: (&str, &str) = ("shop", "checkout");
const PAY: (&str, &str) = ("pay", "api");

/// Loki: `logcli query --output=jsonl` prints one JSON object per line, `labels`, `line` and
/// `timestamp` (Go's json.Marshal of a map: keys sorted; grafana/loki
/// `pkg/logcli/output/jsonl.go`).
#[test]
fn loki_logcli_jsonl() {
    let r = analyze("tests/fixtures/collection/loki.jsonl");
    assert_eq!(accounted(&r), (2, vec![]));
    assert_eq!(
        callers(&r),
        pairs(&[
            ("loki0.example.com", &[SHOP]),
            ("loki1.example.com", &[PAY])
        ])
    );
}

/// Cloud Logging: `gcloud logging read --format=json` prints one JSON array of LogEntry
/// objects, pretty-printed (https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry):
/// the line in `textPayload` or `jsonPayload`, the writer in `resource.labels`. An entry with
/// neither (an audit log's `protoPayload`) is counted at its index in the array.
#[test]
fn cloud_logging_gcloud_array() {
    let r = analyze("tests/fixtures/collection/gcloud.json");
    assert_eq!(
        accounted(&r),
        (
            3,
            vec!["tests/fixtures/collection/gcloud.json:3".to_owned()]
        )
    );
    let indexer = ("search", "indexer");
    assert_eq!(
        callers(&r),
        pairs(&[
            ("gcp-json.example.com", &[indexer]),
            ("gcp-text.example.com", &[indexer])
        ])
    );
}

/// The same array compressed, on standard input, and cut short: the records before the cut are
/// read, and the input is reported unreadable after the record it follows.
#[test]
fn cloud_logging_array_compressed_and_cut() {
    let doc = std::fs::read(root().join("tests/fixtures/collection/gcloud.json")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&doc).unwrap();
    let gz = gz.finish().unwrap();
    let o = cmd()
        .args(["analyze", "-o", "json", "-q", "-"])
        .write_stdin(gz)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["lines"]["passthrough"], 2);
    // Cut inside the second entry.
    let cut = &doc[..doc.len() * 2 / 3];
    let o = cmd()
        .args(["analyze", "-o", "json", "-q", "-"])
        .write_stdin(cut.to_vec())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["lines"]["passthrough"], 1);
    let err = r["read_errors"].to_string();
    assert!(err.contains("invalid JSON after record 1"), "{err}");
}

/// Elasticsearch `_search` responses (`hits.hits[]._source`), pretty-printed (`?pretty`) and
/// concatenated as pages fetched with `search_after` and a point in time, with Filebeat's ECS
/// records inside (https://www.elastic.co/guide/en/elasticsearch/reference/current/paginate-search-results.html).
/// A hit without `_source` is counted; an empty last page adds nothing.
#[test]
fn elasticsearch_search_pages() {
    let r = analyze("tests/fixtures/collection/elasticsearch-pages.json");
    assert_eq!(
        accounted(&r),
        (
            3,
            vec!["tests/fixtures/collection/elasticsearch-pages.json:3".to_owned()]
        )
    );
    assert_eq!(
        callers(&r),
        pairs(&[("es0.example.com", &[SHOP]), ("es1.example.com", &[PAY])])
    );
    // One compact response per line, as `curl -s` prints them.
    let r = analyze("tests/fixtures/collection/elasticsearch.ndjson");
    assert_eq!(accounted(&r), (2, vec![]));
    assert_eq!(
        callers(&r),
        pairs(&[("esl0.example.com", &[SHOP]), ("esl1.example.com", &[SHOP])])
    );
}

/// CloudWatch: `aws logs filter-log-events` prints one object per page, `events[]` with
/// `logStreamName`, `timestamp`, `message` (https://docs.aws.amazon.com/cli/latest/reference/logs/filter-log-events.html),
/// pretty-printed by the CLI. The writer comes from a Fluent Bit record in the message, or from
/// the Container Insights stream name. An event without a message is counted.
#[test]
fn cloudwatch_filter_log_events_pages() {
    let r = analyze("tests/fixtures/collection/cloudwatch.json");
    assert_eq!(
        accounted(&r),
        (
            3,
            vec!["tests/fixtures/collection/cloudwatch.json:3".to_owned()]
        )
    );
    assert_eq!(
        callers(&r),
        pairs(&[
            ("cw-fluentbit.example.com", &[PAY]),
            ("cw-stream.example.com", &[SHOP])
        ])
    );
}

/// Filebeat's ECS records, one per line (`kubernetes.namespace`, `kubernetes.pod.name`,
/// `kubernetes.labels.app_kubernetes_io/name`): the namespace and app label name the caller.
#[test]
fn filebeat_ecs_lines() {
    let r = analyze("tests/fixtures/collection/filebeat.ndjson");
    assert_eq!(accounted(&r), (1, vec![]));
    assert_eq!(callers(&r), pairs(&[("filebeat.example.com", &[SHOP])]));
}

/// The OpenTelemetry collector's `file` exporter: OTLP JSON, one batch per line. Every record is
/// read: the text body and the attributes form of Istio's JSON keys; one with neither is
/// counted at its place (records are numbered in order, across batches).
#[test]
fn otlp_file_exporter_batches() {
    let r = analyze("tests/fixtures/collection/otlp.jsonl");
    assert_eq!(
        accounted(&r),
        (3, vec!["tests/fixtures/collection/otlp.jsonl:3".to_owned()])
    );
    assert_eq!(
        callers(&r),
        pairs(&[
            ("otel-attrs.example.com", &[SHOP]),
            ("otel-text.example.com", &[SHOP])
        ])
    );
}

/// The Python with the official OTLP protobuf definitions (PyPI's `opentelemetry-proto`) and
/// protobuf's JSON mapping: `EGRESS_ADVISOR_OTEL_PYTHON`, else the virtual environment
/// `.ci/run` makes in `target/otel-venv`.
fn otel_python() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var_os("EGRESS_ADVISOR_OTEL_PYTHON").map(std::path::PathBuf::from),
        Some(root().join("target/otel-venv/bin/python")),
    ];
    candidates.into_iter().flatten().find(|py| {
        std::process::Command::new(py)
            .args([
                "-c",
                "import opentelemetry.proto.logs.v1.logs_pb2, google.protobuf.json_format",
            ])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Builds two `LogsData` batches with the generated OTLP classes and prints each through
/// protobuf's JSON mapping, one per line, as the collector's `file` exporter writes them
/// (https://github.com/open-telemetry/opentelemetry-collector/tree/main/exporter/fileexporter,
/// `format: json`; the encoding is OTLP/JSON,
/// https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
const OTLP_BATCHES: &str = r#"
import json
from google.protobuf import json_format
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.common.v1 import common_pb2

ENTRY = '[2024-06-02T10:07:00.000Z] "- - -" 0 - - - "-" 1200 5300 210 - "-" "-" "-" "-" "34.120.177.193:443" PassthroughCluster 10.52.0.14:40293 34.120.177.193:443 10.52.0.14:49574 {host} -'

def kv(key, value):
    v = common_pb2.AnyValue()
    if isinstance(value, int):
        v.int_value = value
    else:
        v.string_value = value
    return common_pb2.KeyValue(key=key, value=v)

def batch(ns, pod, records):
    data = logs_pb2.LogsData()
    rl = data.resource_logs.add()
    rl.resource.attributes.extend([
        kv("k8s.namespace.name", ns), kv("k8s.pod.name", pod), kv("k8s.container.name", "istio-proxy"),
    ])
    sl = rl.scope_logs.add()
    sl.scope.name = "envoy"
    for r in records:
        sl.log_records.append(r)
    return data

text = logs_pb2.LogRecord(time_unix_nano=1717322820000000000)
text.body.string_value = ENTRY.format(host="otlp-text.example.com")
attrs = logs_pb2.LogRecord(time_unix_nano=1717322820000000000)
attrs.attributes.extend([
    kv("start_time", "2024-06-02T10:07:01.000Z"), kv("upstream_cluster", "PassthroughCluster"),
    kv("downstream_local_address", "34.120.177.194:443"),
    kv("requested_server_name", "otlp-attrs.example.com"), kv("bytes_sent", 5120),
    kv("bytes_received", 800), kv("response_code", 0), kv("response_flags", "-"),
])
kvlist = logs_pb2.LogRecord(time_unix_nano=1717322820000000000)
kvlist.body.kvlist_value.values.extend([
    kv("start_time", "2024-06-02T10:07:02.000Z"), kv("upstream_cluster", "PassthroughCluster"),
    kv("downstream_local_address", "34.120.177.195:443"),
    kv("requested_server_name", "otlp-kvlist.example.com"), kv("response_code", 0),
])
nothing = logs_pb2.LogRecord(time_unix_nano=1717322820000000000)
for b in [batch("shop", "checkout-7d4b9c6f5-x2k8p", [text, attrs]),
          batch("pay", "api-5c9d8bf7c4-x7wzq", [kvlist, nothing])]:
    print(json.dumps(json_format.MessageToDict(b), separators=(",", ":")))
"#;

/// OTLP batches encoded through the official protobuf definitions, not by hand: every record is
/// read, with its writer from the resource attributes.
#[test]
#[ignore = "needs opentelemetry-proto"]
fn otlp_batches_from_the_official_definitions() {
    let py = otel_python().expect(
        "python with opentelemetry-proto: python3 -m venv target/otel-venv && target/otel-venv/bin/pip install opentelemetry-proto protobuf",
    );
    let o = std::process::Command::new(py)
        .args(["-c", OTLP_BATCHES])
        .output()
        .expect("python runs");
    assert!(o.status.success(), "{}", stderr(&o));
    let batches = stdout(&o);
    assert_eq!(batches.lines().count(), 2, "{batches}");
    assert!(
        batches.contains(r#""resourceLogs":[{"resource":{"attributes":"#),
        "{batches}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otlp.jsonl");
    std::fs::write(&path, &batches).unwrap();
    let r = analyze(path.to_str().unwrap());
    assert_eq!(
        accounted(&r),
        (4, vec![format!("{}:4", path.display())]),
        "{batches}"
    );
    assert_eq!(
        callers(&r),
        pairs(&[
            ("otlp-attrs.example.com", &[SHOP]),
            ("otlp-kvlist.example.com", &[PAY]),
            ("otlp-text.example.com", &[SHOP])
        ])
    );
}

/// `explain` shows an export record by record, numbered as a run counts them.
#[test]
fn explain_reads_exports_record_by_record() {
    let o = run(&[
        "explain",
        "tests/fixtures/collection/gcloud.json",
        "tests/fixtures/collection/otlp.jsonl",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(String, u64, String)> = rows
        .iter()
        .map(|r| {
            let path = r["path"].as_str().unwrap();
            let file = path.rsplit('/').next().unwrap().to_owned();
            let class = r["class"].as_str().unwrap().to_owned();
            (file, r["line"].as_u64().unwrap(), class)
        })
        .collect();
    let want = |f: &str, n: u64, c: &str| (f.to_owned(), n, c.to_owned());
    assert_eq!(
        got,
        vec![
            want("gcloud.json", 1, "passthrough"),
            want("gcloud.json", 2, "passthrough"),
            want("gcloud.json", 3, "malformed"),
            want("otlp.jsonl", 1, "passthrough"),
            want("otlp.jsonl", 2, "passthrough"),
            want("otlp.jsonl", 3, "malformed"),
        ]
    );
    assert_eq!(rows[0]["namespace"], "search");
}

/// A collector's batch or a page of hits is one line of many records, often more than
/// `--max-line-bytes`: an export file is read as a JSON document, not cut at the line limit.
#[test]
fn export_files_are_not_cut_at_the_line_limit() {
    let o = run(&[
        "analyze",
        "-o",
        "json",
        "-q",
        "--max-line-bytes",
        "256",
        "tests/fixtures/collection/otlp.jsonl",
        "tests/fixtures/collection/elasticsearch.ndjson",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["lines"]["passthrough"], 4);
    assert_eq!(
        accounted(&r),
        (5, vec!["tests/fixtures/collection/otlp.jsonl:3".to_owned()])
    );
}

/// Names in an export are data: a namespace Kubernetes would refuse, from Cloud Logging's
/// resource labels or an OTLP resource attribute, is dropped and counted, and never reaches a
/// manifest.
#[test]
fn hostile_names_in_exports_stay_data() {
    let entry = r#"[2024-06-02T10:07:00.000Z] "- - -" 0 - - - "-" 1200 5300 210 - "-" "-" "-" "-" "34.120.177.193:443" PassthroughCluster 10.52.0.14:40293 34.120.177.193:443 10.52.0.14:49574 hostile.example.com -"#;
    let evil = "evil\n---\nkind: Secret";
    let gcloud = serde_json::to_string_pretty(&serde_json::json!([{
        "textPayload": entry,
        "resource": {"labels": {"namespace_name": evil, "pod_name": "x", "container_name": "istio-proxy"}}
    }]))
    .unwrap();
    let otlp = serde_json::to_string(&serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "k8s.namespace.name", "value": {"stringValue": evil}}]},
        "scopeLogs": [{"logRecords": [{"body": {"stringValue": entry}}]}]
    }]}))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("gcloud.json", gcloud), ("otlp.jsonl", otlp)] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap();
        let r = analyze(path);
        assert_eq!(r["invalid_sources"]["lines"], 1, "{name}: {r}");
        assert_eq!(r["lines"]["passthrough"], 1, "{name}");
        let o = run(&["recommend", "-q", path]);
        assert!(o.status.success(), "{}", stderr(&o));
        let yaml = stdout(&o);
        assert!(!yaml.contains("Secret") && !yaml.contains("evil"), "{yaml}");
        let docs = yaml_docs(&yaml);
        assert_eq!(docs.len(), 1, "{yaml}");
        assert_valid_service_entry(&docs[0]);
    }
}
