//! Drives the real binary on fixture files and checks what it writes.

use crate::common::*;

use std::io::Write;
use std::path::Path;

use serde_json::Value;

#[test]
fn recommend_on_samples() {
    let o = run(&["recommend", "samples/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    insta::assert_snapshot!("recommend_samples", yaml);
    let docs = yaml_docs(&yaml);
    assert_eq!(docs.len(), yaml.matches("\nkind: ServiceEntry").count());
    assert!(docs.len() >= 10);
    let mut names = std::collections::BTreeSet::new();
    for d in &docs {
        assert_valid_service_entry(d);
        let key = (
            d["metadata"]["namespace"].as_str().map(str::to_owned),
            d["metadata"]["name"].as_str().unwrap().to_owned(),
        );
        assert!(names.insert(key), "duplicate name in one namespace");
        assert_eq!(d["spec"]["exportTo"], serde_json::json!(["."]));
        assert_eq!(d["spec"]["location"], "MESH_EXTERNAL");
        for h in d["spec"]["hosts"].as_array().unwrap() {
            assert!(
                !h.as_str().unwrap().contains('*'),
                "no wildcard unless asked"
            );
        }
    }
    // Registered, internal, private and in-mesh destinations get no entry.
    for absent in ["pypi.org", "10.20.0.15", "240.240.0.12", "cluster.local"] {
        assert!(
            !docs.iter().any(|d| d.to_string().contains(absent)),
            "{absent} must not be recommended"
        );
    }
    // api.github.com is registered for the namespace-less sample and passed through in two
    // namespaces: an entry in each of those, none without a namespace.
    let github: Vec<&Value> = docs
        .iter()
        .filter(|d| d["spec"]["hosts"][0] == "api.github.com")
        .collect();
    assert_eq!(github.len(), 2);
    assert!(
        github
            .iter()
            .all(|d| d["metadata"]["namespace"].is_string())
    );
    // The SNI-less git clone traffic is attributed to github.com, and said so.
    assert!(yaml.contains("attributed by address (logged without SNI or host): 140.82.121.3 (3)"));
}

#[test]
fn include_private_adds_the_private_address() {
    let o = run(&["recommend", "--include-private", "samples/allow-any"]);
    assert_eq!(o.status.code(), Some(0));
    let docs = yaml_docs(&stdout(&o));
    let db = docs
        .iter()
        .find(|d| d["spec"]["addresses"] == serde_json::json!(["10.20.0.15/32"]))
        .expect("an entry for the private database");
    assert_valid_service_entry(db);
    assert_eq!(db["spec"]["resolution"], "STATIC");
    assert_eq!(
        db["spec"]["endpoints"],
        serde_json::json!([{"address": "10.20.0.15"}])
    );
    assert_eq!(db["spec"]["ports"][0]["protocol"], "TCP");
}

#[test]
fn recommend_writes_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("se.yaml");
    let o = run(&["recommend", "samples/", "--write", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    let from_stdout = stdout(&run(&["recommend", "samples/"]));
    assert_eq!(std::fs::read_to_string(out).unwrap(), from_stdout);
}

/// `-o` picks what is printed on every command; the spellings it replaced either mean the same
/// (`--json`, `--markdown`) or fail naming the new flag, never something else silently.
#[test]
fn output_option_and_old_spellings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("entries.yaml");
    let f = file.to_str().unwrap();
    // `recommend -o FILE` once wrote FILE: now a usage error that names --write.
    for args in [
        &["recommend", "samples/", "-o", f][..],
        &["recommend", "samples/", "--output", "-"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains("--write FILE"), "{}", stderr(&o));
    }
    assert!(!file.exists());
    // `migrate --entries FILE` likewise.
    let o = run(&["migrate", "samples/", "--entries", f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--write"), "{}", stderr(&o));
    assert!(!file.exists());
    // The old format flags are other names for `-o`, and cannot contradict it.
    for (command, old, new) in [
        ("analyze", "--json", "json"),
        ("check", "--json", "json"),
        ("check", "--markdown", "markdown"),
        ("migrate", "--json", "json"),
        ("migrate", "--markdown", "markdown"),
    ] {
        let before = run(&[command, "samples/", old]);
        let after = run(&[command, "samples/", "-o", new]);
        assert_eq!(before.status.code(), after.status.code(), "{command} {old}");
        assert_eq!(stdout(&before), stdout(&after), "{command} {old}");
        let o = run(&[command, "samples/", old, "-o", "text"]);
        assert_eq!(o.status.code(), Some(2), "{command} {old} -o text");
    }
    // `-o csv` is what `--csv -` writes.
    assert_eq!(
        stdout(&run(&["analyze", "samples/", "-o", "csv"])),
        stdout(&run(&["analyze", "samples/", "--csv", "-"]))
    );
    let o = run(&["analyze", "samples/", "--csv-raw"]);
    assert_eq!(o.status.code(), Some(2), "--csv-raw without a CSV");
    // `recommend -o json`: the manifests of the YAML, as one List.
    let yaml = stdout(&run(&["recommend", "samples/"]));
    let json: Value =
        serde_json::from_str(&stdout(&run(&["recommend", "samples/", "-o", "json"]))).unwrap();
    assert_eq!(json["kind"], "List");
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), yaml.matches("\nkind: ServiceEntry").count());
    // `validate -o json`.
    let v: Value = serde_json::from_str(&stdout(&run(&[
        "validate",
        "-o",
        "json",
        "examples/mesh/service-entries.yaml",
    ])))
    .unwrap();
    assert_eq!(v["failed"], 0);
    assert!(v["checked"].as_u64().unwrap() > 0);
}

#[test]
fn analyze_json_on_samples() {
    let o = run(&["analyze", "-o", "json", "samples/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    insta::assert_snapshot!("analyze_samples_json", text);
    let v: Value = serde_json::from_str(&text).unwrap();
    // Every line read is accounted for.
    let classes: u64 = v["lines"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(classes, v["input"]["lines"].as_u64().unwrap());
    // Count the lines of every sample file independently: walk, decompress, split.
    fn count(dir: &Path) -> usize {
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                n += count(&p);
            } else if p.extension().is_none_or(|x| x != "md") {
                let bytes = std::fs::read(&p).unwrap();
                let text = if bytes.starts_with(&[0x1f, 0x8b]) {
                    let mut s = String::new();
                    std::io::Read::read_to_string(
                        &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
                        &mut s,
                    )
                    .unwrap();
                    s
                } else {
                    String::from_utf8(bytes).unwrap()
                };
                n += text.lines().count();
            }
        }
        n
    }
    assert_eq!(
        v["input"]["lines"].as_u64().unwrap(),
        count(&root().join("samples")) as u64
    );
    for key in [
        "host",
        "address",
        "port",
        "protocol",
        "passthrough",
        "blocked",
        "registered",
        "bytes_uploaded",
        "bytes_downloaded",
        "first_seen",
        "last_seen",
        "addresses",
    ] {
        assert!(
            v["destinations"][0].get(key).is_some(),
            "destination key {key}"
        );
    }
    let malformed = v["malformed"].as_array().unwrap();
    assert!(
        malformed
            .iter()
            .any(|m| m["examples"][0] == "samples/allow-any/istio-proxy.log:26")
    );
}

#[test]
fn analyze_table_on_samples() {
    let o = run(&["analyze", "samples/"]);
    assert_eq!(o.status.code(), Some(0));
    insta::assert_snapshot!("analyze_samples_table", stdout(&o));
}

#[test]
fn analyze_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("d.csv");
    let o = run(&["analyze", "samples/", "--csv", csv_path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().unwrap().clone();
    assert_eq!(&headers[0], "host");
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let json: Value =
        serde_json::from_str(&stdout(&run(&["analyze", "-o", "json", "samples/"]))).unwrap();
    assert_eq!(rows.len(), json["destinations"].as_array().unwrap().len());
    assert!(rows.iter().any(|r| &r[0] == "github.com" && &r[2] == "443"));
    // `--csv -` writes the CSV to stdout instead of the table.
    let o = run(&["analyze", "samples/", "--csv", "-"]);
    assert_eq!(stdout(&o), text);
}

#[test]
fn explain_every_line() {
    let o = run(&["explain", "samples/legacy-1.5", "samples/registry-only"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    insta::assert_snapshot!("explain_samples", text);
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        for key in [
            "path", "line", "format", "class", "host", "address", "port", "protocol", "reason",
        ] {
            assert!(v.get(key).is_some(), "{key} in {line}");
        }
    }
}

#[test]
fn explain_stops_quietly_on_a_closed_pipe() {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("egress-advisor"))
        .args(["explain", "-"])
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    let line = std::fs::read_to_string(root().join("samples/allow-any/istio-proxy.log")).unwrap();
    for _ in 0..2000 {
        if stdin.write_all(line.as_bytes()).is_err() {
            break;
        }
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Same bytes whatever the thread count and the order of the paths.
#[test]
fn output_is_deterministic() {
    let base = stdout(&run(&["recommend", "-j", "1", "samples/"]));
    for args in [
        vec!["recommend", "-j", "4", "samples/"],
        vec![
            "recommend",
            "-j",
            "3",
            "samples/registry-only/istio-proxy.jsonl",
            "samples/legacy-1.5",
            "samples/envelopes",
            "samples/allow-any/istio-proxy.log.1.gz",
            "samples/allow-any/istio-proxy.log",
        ],
    ] {
        assert_eq!(stdout(&run(&args)), base, "{args:?}");
    }
    let json1 = stdout(&run(&["analyze", "-o", "json", "-j", "1", "samples/"]));
    let json2 = stdout(&run(&[
        "analyze",
        "-o",
        "json",
        "-j",
        "2",
        "samples/legacy-1.5",
        "samples/allow-any",
        "samples/registry-only",
        "samples/",
    ]));
    assert_eq!(json1, json2);
    // The HTML report too, and check's and migrate's verdicts.
    let dir = tempfile::tempdir().expect("temp dir");
    let html = |name: &str, args: &[&str]| -> (String, String) {
        let path = dir.path().join(name);
        let mut a = args.to_vec();
        a.extend(["--html", path.to_str().unwrap()]);
        let o = run(&a);
        (
            stdout(&o),
            std::fs::read_to_string(&path).expect("HTML written"),
        )
    };
    for cmd in ["analyze", "check", "migrate"] {
        let one = html("1.html", &[cmd, "-j", "1", "samples/"]);
        let two = html(
            "2.html",
            &[
                cmd,
                "-j",
                "2",
                "samples/registry-only",
                "samples/legacy-1.5",
                "samples/",
            ],
        );
        assert_eq!(one, two, "{cmd}");
    }
}

#[test]
fn stdin_and_gzip_read_like_files() {
    let file = root().join("samples/allow-any/istio-proxy.log");
    let from_file = stdout(&run(&["analyze", "-o", "json", file.to_str().unwrap()]));
    let bytes = std::fs::read(&file).unwrap();
    let o = cmd()
        .args(["analyze", "-o", "json", "-"])
        .write_stdin(bytes.clone())
        .output()
        .unwrap();
    let from_stdin = stdout(&o);
    let strip = |s: &str| {
        let mut v: Value = serde_json::from_str(s).unwrap();
        v.as_object_mut().unwrap().remove("sources");
        v.as_object_mut().unwrap().remove("malformed");
        v
    };
    assert_eq!(strip(&from_file), strip(&from_stdin));
    // Without a path, stdin is read.
    let o = cmd()
        .args(["analyze", "-o", "json"])
        .write_stdin(bytes.clone())
        .output()
        .unwrap();
    assert_eq!(strip(&stdout(&o)), strip(&from_file));

    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("rotated.1"); // no .gz suffix: detected by magic bytes
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&bytes).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let from_gz = stdout(&run(&["analyze", "-o", "json", gz.to_str().unwrap()]));
    assert_eq!(strip(&from_gz), strip(&from_file));

    let zst = dir.path().join("zstd-log");
    std::fs::write(&zst, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    let from_zst = stdout(&run(&["analyze", "-o", "json", zst.to_str().unwrap()]));
    assert_eq!(strip(&from_zst), strip(&from_file));

    // CRLF line ends read the same.
    let crlf = dir.path().join("crlf.log");
    std::fs::write(
        &crlf,
        String::from_utf8(bytes).unwrap().replace('\n', "\r\n"),
    )
    .unwrap();
    let from_crlf = stdout(&run(&["analyze", "-o", "json", crlf.to_str().unwrap()]));
    let (mut a, mut b) = (strip(&from_crlf), strip(&from_file));
    // The only difference: one more byte per line.
    let lines = b["input"]["lines"].as_u64().unwrap();
    assert_eq!(
        a["input"]["bytes"].as_u64().unwrap(),
        b["input"]["bytes"].as_u64().unwrap() + lines
    );
    a["input"]["bytes"] = Value::Null;
    b["input"]["bytes"] = Value::Null;
    assert_eq!(a, b);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn bad_input_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(root().join("samples/allow-any/istio-proxy.log")).unwrap();

    // A truncated gzip keeps what was decoded.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&good.repeat(50)).unwrap();
    let gz = enc.finish().unwrap();
    let truncated = write(dir.path(), "cut.gz", &gz[..gz.len() / 2]);

    // Invalid UTF-8 inside a field the classifier reads, and in one it never reads.
    let mut bad = Vec::new();
    bad.extend_from_slice(
        br#"[2024-05-14T09:00:00.000Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 1 1 1 "-" "ua"#,
    );
    bad.extend_from_slice(b"\xff\xfe");
    bad.extend_from_slice(br#"" "id" "example.com" "1.2.3.4:80" PassthroughCluster 10.0.0.1:1 1.2.3.4:80 10.0.0.1:2 - allow_any"#);
    bad.push(b'\n');
    bad.extend_from_slice(br#"[2024-05-14T09:00:00.000Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 1 1 1 "-" "ua" "id" "exa"#);
    bad.extend_from_slice(b"\xff");
    bad.extend_from_slice(br#"mple.com" "1.2.3.4:80" PassthroughCluster 10.0.0.1:1 1.2.3.4:80 10.0.0.1:2 - allow_any"#);
    bad.push(b'\n');
    // A 10 MB line, then a good one.
    bad.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    bad.push(b'\n');
    bad.extend_from_slice(&good[..good.iter().position(|b| *b == b'\n').unwrap() + 1]);
    let bad = write(dir.path(), "bad.log", &bad);
    let missing = dir.path().join("missing.log");

    let o = run(&[
        "analyze",
        "-o",
        "json",
        &truncated,
        &bad,
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "unreadable input exits 3");
    let err = stderr(&o);
    assert!(err.contains("cut.gz") && err.contains("gzip"), "{err}");
    assert!(err.contains("missing.log"), "{err}");
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let classes: u64 = v["lines"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(classes, v["input"]["lines"].as_u64().unwrap());
    assert!(
        v["lines"]["passthrough"].as_u64().unwrap() > 20,
        "decoded lines of the truncated gzip are kept"
    );
    let reasons: Vec<&str> = v["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"line-too-long"), "{reasons:?}");
    assert!(reasons.contains(&"invalid-utf8"), "{reasons:?}");
    let too_long = v["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["reason"] == "line-too-long")
        .unwrap();
    assert!(
        too_long["examples"][0]
            .as_str()
            .unwrap()
            .ends_with("bad.log:3"),
        "{too_long}"
    );
    assert_eq!(v["read_errors"].as_array().unwrap().len(), 2);
    // The line whose user agent is not UTF-8 still counts: that field is never read.
    assert!(
        v["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["host"] == "example.com")
    );
}

#[test]
fn strict_and_usage_exit_codes() {
    assert_eq!(run(&["analyze", "samples/"]).status.code(), Some(0));
    assert_eq!(
        run(&["analyze", "--strict", "samples/"]).status.code(),
        Some(3),
        "--strict: malformed lines are input not read"
    );
    assert_eq!(
        run(&["analyze", "--strict", "samples/legacy-1.5"])
            .status
            .code(),
        Some(0)
    );
    let o = run(&["analyze", "--threads", "0", "samples/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--threads"));
    assert_eq!(
        run(&["analyze", "--cluster-domain", "bad domain!", "samples/"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(run(&["analyze", "--no-such-flag"]).status.code(), Some(2));
    assert_eq!(
        run(&["analyze", "-o", "json", "--csv", "-", "samples/"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn forced_format() {
    let o = run(&[
        "analyze",
        "-o",
        "json",
        "--format",
        "json",
        "samples/legacy-1.5",
    ]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    // Text entries are entries of the wrong format when JSON is forced.
    assert_eq!(v["lines"]["passthrough"], 0);
    assert!(
        v["malformed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["reason"] == "wrong-format")
    );
    let o = run(&[
        "analyze",
        "-o",
        "json",
        "--format",
        "istio-1.3",
        "samples/legacy-1.5",
    ]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["lines"]["malformed"], 0);
    assert_eq!(v["lines"]["passthrough"], 2);
}

/// One address on 300 ports: the 256 most used get an entry (Istio's limit), the rest are
/// listed as left out; byte counts that would overflow saturate.
#[test]
fn port_limit_and_huge_counters() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for port in 1000..1300u32 {
        let uses = if port < 1010 { 3 } else { 1 };
        for _ in 0..uses {
            text.push_str(&format!(
                "[2024-05-14T09:00:00.000Z] \"- - -\" 0 - - - \"-\" 1 1 1 - \"-\" \"-\" \"-\" \"-\" \"52.1.2.3:{port}\" PassthroughCluster 10.0.0.1:1 52.1.2.3:{port} 10.0.0.1:2 - -\n"
            ));
        }
    }
    for _ in 0..2 {
        text.push_str("[2024-05-14T09:00:00.000Z] \"- - -\" 0 - - - \"-\" 18446744073709551615 18446744073709551615 1 - \"-\" \"-\" \"-\" \"-\" \"52.9.9.9:443\" PassthroughCluster 10.0.0.1:1 52.9.9.9:443 10.0.0.1:2 - -\n");
    }
    let path = write(dir.path(), "ports.log", text.as_bytes());
    let o = run(&["recommend", &path]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    let docs = yaml_docs(&yaml);
    let big = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "ip-52-1-2-3")
        .unwrap();
    assert_valid_service_entry(big);
    let ports: Vec<u64> = big["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    assert_eq!(ports.len(), 256);
    assert!(
        (1000..1010).all(|p| ports.contains(&p)),
        "the most used ports are kept"
    );
    assert_eq!(
        yaml.matches("more than 256 ports on one destination")
            .count(),
        44
    );
    let v: Value = serde_json::from_str(&stdout(&run(&["analyze", "-o", "json", &path]))).unwrap();
    let huge = v["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["address"] == "52.9.9.9")
        .unwrap();
    assert_eq!(huge["bytes_downloaded"], u64::MAX);
    // A line buffer the machine cannot hold is a usage error, not a crash.
    let o = run(&["analyze", "--max-line-bytes", "18446744073709551615", &path]);
    assert_eq!(o.status.code(), Some(2));
}

/// Every envelope in samples/envelopes is unwrapped, with who made the call.
#[test]
fn envelopes_and_sources() {
    let o = run(&["analyze", "-o", "json", "samples/envelopes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    insta::assert_snapshot!("analyze_envelopes_json", text);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["lines"]["malformed"], 0);
    assert_eq!(
        v["lines"]["partial"], 1,
        "the CRI P line is joined to its F line"
    );
    let classes: u64 = v["lines"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(classes, v["input"]["lines"].as_u64().unwrap());
    let sources = |host: &str| -> Vec<String> {
        destination(&v, host)["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{}/{}/{}",
                    s["namespace"].as_str().unwrap_or("?"),
                    s["workload"].as_str().unwrap_or("?"),
                    s["requests"]
                )
            })
            .collect()
    };
    // CRI, from the kubelet's pod log path; the entry split over a P and an F line.
    assert_eq!(sources("sqs.eu-west-1.amazonaws.com"), ["shop/checkout/1"]);
    // Docker json-file, from the /var/log/containers file name.
    assert_eq!(sources("oauth2.googleapis.com"), ["billing/billing/1"]);
    // kubectl --prefix and stern name the pod only.
    assert_eq!(sources("api.exchangerate.host"), ["?/reports/2"]);
    // Fluent Bit and Loki: labels win over the pod name.
    assert_eq!(sources("api.sendgrid.com"), ["marketing/newsletter/2"]);
    // Google Cloud Logging, text and parsed JSON payloads.
    assert_eq!(sources("search.elastic-cloud.com"), ["search/indexer/2"]);
    // Elasticsearch and Fluent Bit in two namespaces.
    assert_eq!(
        sources("api.github.com"),
        ["ci/runner/1", "marketing/newsletter/1"]
    );
    // CloudWatch carries no Kubernetes metadata.
    assert_eq!(sources("dynamodb.eu-west-1.amazonaws.com"), ["?/?/1"]);

    // explain says which envelope and who.
    let o = run(&["explain", "samples/envelopes/fluent-bit.jsonl"]);
    let first: Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(first["envelope"], "json-envelope");
    assert_eq!(first["namespace"], "marketing");
    assert_eq!(first["workload"], "newsletter");

    // --source-namespace and --source-workload name the writer of a plain file.
    let o = run(&[
        "analyze",
        "-o",
        "json",
        "--source-namespace",
        "ops",
        "--source-workload",
        "cron",
        "samples/legacy-1.5",
    ]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        destination(&v, "www.googleapis.com")["sources"],
        serde_json::json!([{"namespace": "ops", "workload": "cron", "requests": 1}])
    );
}

/// Each recommended entry goes to the namespace that used it; a host used by two namespaces
/// gets one entry in each.
#[test]
fn entries_are_placed_in_their_namespaces() {
    let o = run(&["recommend", "samples/envelopes"]);
    assert_eq!(o.status.code(), Some(0));
    let yaml = stdout(&o);
    insta::assert_snapshot!("recommend_envelopes", yaml);
    let docs = yaml_docs(&yaml);
    for d in &docs {
        assert_valid_service_entry(d);
    }
    let github: Vec<&Value> = docs
        .iter()
        .filter(|d| d["spec"]["hosts"][0] == "api.github.com")
        .collect();
    let namespaces: Vec<&str> = github
        .iter()
        .map(|d| d["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, ["ci", "marketing"]);
    let sqs = docs
        .iter()
        .find(|d| d["spec"]["hosts"][0] == "sqs.eu-west-1.amazonaws.com")
        .unwrap();
    assert_eq!(sqs["metadata"]["namespace"], "shop");
    let unknown = docs
        .iter()
        .find(|d| d["spec"]["hosts"][0] == "dynamodb.eu-west-1.amazonaws.com")
        .unwrap();
    assert!(unknown["metadata"].get("namespace").is_none());
}

/// Custom formats: from the mesh's ConfigMap, as an Envoy format string, as JSON labels; a
/// format that cannot be classified is refused before any input is read.
#[test]
fn custom_formats() {
    let dir = "tests/fixtures/custom";
    let o = run(&[
        "analyze",
        "-o",
        "json",
        "--mesh-config",
        &format!("{dir}/istio-configmap.yaml"),
        &format!("{dir}/custom-text.log"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["lines"]["malformed"], 0);
    assert_eq!(
        v["sources"][0]["formats"],
        serde_json::json!(["istio-1.9", "custom"])
    );
    let d = |host: &str| destination(&v, host);
    let rates = d("api.exchangerate.host");
    assert_eq!(rates["passthrough"], 1);
    assert_eq!(
        rates["sources"],
        serde_json::json!([{"namespace": "shop", "workload": "checkout", "requests": 1}])
    );
    // %RESPONSE_FLAGS_LONG% NoHealthyUpstream is UH; the trailing ';' of %UPSTREAM_CLUSTER% on 1.23+.
    let sqs = d("sqs.eu-west-1.amazonaws.com");
    assert_eq!(
        (
            sqs["blocked"].as_u64(),
            sqs["response_flags"]["UH"].as_u64()
        ),
        (Some(1), Some(1))
    );
    // The same format given on the command line reads the same.
    let yaml = std::fs::read_to_string(root().join(dir).join("istio-configmap.yaml")).unwrap();
    let fmt = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("%START_TIME%"))
        .unwrap()
        .trim();
    let o2 = run(&[
        "analyze",
        "-o",
        "json",
        "--log-format",
        fmt,
        &format!("{dir}/custom-text.log"),
    ]);
    assert_eq!(stdout(&o2), stdout(&o));

    let labels = r#"{"ts": "%START_TIME%", "ns": "%ENVIRONMENT(POD_NAMESPACE)%", "pod": "%ENVIRONMENT(POD_NAME)%", "cluster": "%UPSTREAM_CLUSTER_RAW%", "dst": "%DOWNSTREAM_LOCAL_ADDRESS%", "sni": "%REQUESTED_SERVER_NAME%", "sent": "%BYTES_SENT%", "rcvd": "%BYTES_RECEIVED%", "code": "%RESPONSE_CODE%"}"#;
    let o = run(&[
        "analyze",
        "-o",
        "json",
        "--log-format-json",
        labels,
        &format!("{dir}/custom.jsonl"),
    ]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (
            v["lines"]["passthrough"].as_u64(),
            v["lines"]["internal"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let sg = &v["destinations"][0];
    assert_eq!(
        (sg["host"].as_str(), sg["bytes_downloaded"].as_u64()),
        (Some("api.sendgrid.com"), Some(5120))
    );
    assert_eq!(sg["sources"][0]["workload"], "api");

    // Envoy's own default format: recognised, not classifiable.
    let o = run(&["explain", &format!("{dir}/envoy-default.log")]);
    let e: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        (e["format"].as_str(), e["class"].as_str()),
        (Some("envoy"), Some("unknown"))
    );

    // Missing operators are named, before any input is read (the path does not exist).
    let o = run(&[
        "analyze",
        "--log-format",
        "%START_TIME% \"%REQ(:AUTHORITY)%\"",
        "no/such/file",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("%UPSTREAM_CLUSTER%") && err.contains("%DOWNSTREAM_LOCAL_ADDRESS%"),
        "{err}"
    );
}

/// `validate` accepts what `recommend` writes and rejects what Istio rejects, naming the file
/// and the document.
#[test]
fn validate_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.yaml");
    assert_eq!(
        run(&["recommend", "samples/", "--write", ours.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let o = run(&[
        "validate",
        ours.to_str().unwrap(),
        "tests/fixtures/manifests/existing.yaml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("0 with errors"));

    let o = run(&["validate", "tests/fixtures/manifests/invalid.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    for (doc, want) in [
        (1, "FQDN"),
        (2, "warning[IST0134]: spec.ports[0]: "),
        (3, "invalid port name"),
        (4, "invalid host *"),
        (5, "short names"),
        (6, "empty configuration"),
    ] {
        let prefix = "tests/fixtures/manifests/invalid.yaml:";
        let document = format!(": document {doc}: ");
        assert!(
            text.lines()
                .any(|l| l.starts_with(prefix) && l.contains(&document) && l.contains(want)),
            "document {doc} should say {want:?}:\n{text}"
        );
    }
    assert!(text.contains("6 manifests checked (5 with errors, 1 with warnings)"));
    // Each line names the line and column of the field: the host of document 1, the port of
    // document 2, the empty spec of document 6.
    assert!(
        text.contains("invalid.yaml:6:11: document 1: ServiceEntry -/wildcard-dns: error: spec.hosts[0]: hosts must be FQDN"),
        "{text}"
    );
    assert!(
        text.contains(
            "invalid.yaml:43:1: document 6: Sidecar shop/empty: error: spec: sidecar: empty"
        ),
        "{text}"
    );
    assert!(
        text.contains("invalid.yaml:15:11: document 2: ServiceEntry -/open-tcp: warning[IST0134]: spec.ports[0]: "),
        "{text}"
    );
    // Errors come before warnings.
    let first_warning = text.find("warning[").unwrap();
    assert!(text.rfind(": error: ").unwrap() < first_warning, "{text}");
}

/// Unknown fields are errors, as `kubectl apply --validate=strict` makes them, each at its line
/// and column, in YAML, in JSON and in the items of a `List`.
#[test]
fn validate_unknown_fields() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("typo.yaml");
    std::fs::write(
        &yaml,
        "apiVersion: networking.istio.io/v1\nkind: List\nitems:\n- apiVersion: networking.istio.io/v1\n  kind: ServiceEntry\n  metadata: {name: a}\n  spec:\n    hosts: [a.example.com]\n    resolutoin: DNS\n    ports: [{number: 443, name: tls, protocol: TLS}]\n",
    )
    .unwrap();
    let json = dir.path().join("typo.json");
    std::fs::write(
        &json,
        r#"{"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": {"name": "b"},
  "spec": {"egress": [{"hosts": ["./*"], "host": "x"}]}}"#,
    )
    .unwrap();
    let o = run(&["validate", yaml.to_str().unwrap(), json.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("typo.yaml:9:5: document 1: ServiceEntry -/a: error: unknown field spec.resolutoin; did you mean resolution?"),
        "{text}"
    );
    assert!(
        text.contains("typo.json:2:42: document 1: Sidecar -/b: error: unknown field spec.egress[0].host; did you mean hosts?"),
        "{text}"
    );
}

/// Istio's warnings are a level of their own: they fail the run only with `--fail-on
/// warning`, and which of them apply depends on the Istio version and the mesh config.
#[test]
fn validate_warnings() {
    let f = "tests/fixtures/manifests/invalid.yaml";
    let fixture = "tests/fixtures/istio-validation/se-table-partial-wildcard-hosts.yaml";
    let o = run(&["validate", fixture]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(
            ": warning: spec.hosts[1]: partial wildcard \"*washingtonpost.com\" not allowed"
        ),
        "{}",
        stdout(&o)
    );
    let o = run(&["validate", "--fail-on", "warning", fixture]);
    assert_eq!(o.status.code(), Some(1));
    // Istio 1.17 did not check partial wildcards in ServiceEntry hosts.
    let o = run(&["validate", "--istio-version", "1.17", fixture]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("(0 with errors)"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("warning"), "{}", stdout(&o));

    // A TCP port without addresses, resolution DNS: from 1.25 istiod allocates an address
    // and its webhook is silent; istioctl analyze still gives IST0134.
    let warnings = |args: &[&str]| -> Vec<String> {
        let o = run(&[&["validate", "-o", "json"], args, &[f]].concat());
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["manifests"][1]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| format!("{} {}", w["code"].as_str().unwrap_or("-"), w["message"]))
            .collect()
    };
    assert_eq!(
        warnings(&[]),
        ["IST0134 \"ServiceEntry addresses are required for this protocol.\""]
    );
    let old = warnings(&["--istio-version", "1.24"]);
    assert_eq!(old.len(), 2, "{old:?}");
    assert!(old[0].starts_with("- \"addresses are required for ports serving TCP"));
    assert_eq!(
        warnings(&[
            "--mesh-config",
            "tests/fixtures/manifests/mesh-dns-auto-allocate.yaml"
        ]),
        Vec::<String>::new()
    );
    assert_eq!(
        warnings(&[
            "--mesh-config",
            "tests/fixtures/manifests/mesh-dns-capture-only.yaml"
        ])
        .len(),
        1
    );
    let o = run(&["validate", "--istio-version", "1", f]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[
        "validate",
        "--mesh-config",
        "tests/fixtures/manifests/missing.yaml",
        f,
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// Other kinds are skipped and counted; input that holds no kind `validate` checks is a usage
/// error, not "0 manifests checked".
#[test]
fn validate_nothing_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let cm = dir.path().join("cm.yaml");
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n",
    )
    .unwrap();
    let o = run(&["validate", cm.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert!(
        stderr(&o)
            .contains("no ServiceEntry, Sidecar, Gateway, AuthorizationPolicy or NetworkPolicy"),
        "{}",
        stderr(&o)
    );
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    let o = run(&["validate", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    // With a kind it checks, the others are counted.
    let o = run(&[
        "validate",
        cm.to_str().unwrap(),
        "tests/fixtures/istio-validation/se-table-partial-wildcard-hosts.yaml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "1 manifest checked (0 with errors, 1 with warnings); 1 document of other kinds skipped"
        ),
        "{}",
        stdout(&o)
    );
}

/// Checks across manifests, as `istioctl analyze` makes them: the cases of Istio's
/// `analyzers_test.go` on its testdata (`tests/fixtures/istio-analyze/`), IST0111 and IST0177.
#[test]
fn validate_across_manifests() {
    let coded = |file: &str| -> Vec<String> {
        let path = format!("tests/fixtures/istio-analyze/{file}.yaml");
        let o = run(&["validate", "-o", "json", &path]);
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let mut out = Vec::new();
        for m in v["manifests"].as_array().unwrap() {
            for f in m["errors"]
                .as_array()
                .unwrap()
                .iter()
                .chain(m["warnings"].as_array().unwrap())
            {
                if let Some(c @ ("IST0111" | "IST0177")) = f["code"].as_str() {
                    out.push(format!(
                        "{c} {} {}/{}",
                        f["level"].as_str().unwrap(),
                        m["namespace"].as_str().unwrap(),
                        m["name"].as_str().unwrap()
                    ));
                }
            }
        }
        out.sort();
        out
    };
    assert_eq!(
        coded("serviceentry-conflicting-protocol"),
        [
            "IST0177 warning default/se-http",
            "IST0177 warning default/se-https"
        ]
    );
    assert_eq!(
        coded("serviceentry-no-conflict-protocol"),
        Vec::<String>::new()
    );
    assert_eq!(
        coded("serviceentry-conflicting-exportto"),
        Vec::<String>::new()
    );
    assert_eq!(
        coded("sidecar-default-selector"),
        [
            "IST0111 error ns2/has-conflict-1",
            "IST0111 error ns2/has-conflict-2"
        ]
    );
    let o = run(&[
        "validate",
        "tests/fixtures/istio-analyze/serviceentry-conflicting-protocol.yaml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("ServiceEntry default/se-http: warning[IST0177]: Multiple ServiceEntries (default/se-http, default/se-https) define the same host \"example.com\" and port 13835 with conflicting protocols (HTTP, HTTPS)."),
        "{}",
        stdout(&o)
    );
    let o = run(&[
        "validate",
        "tests/fixtures/istio-analyze/sidecar-default-selector.yaml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("Sidecar ns2/has-conflict-1: error[IST0111]: The Sidecars [has-conflict-1 has-conflict-2] in namespace \"ns2\" have no workload selector"),
        "{}",
        stdout(&o)
    );
}

/// With the mesh's current config, covered destinations are reported with the entry that
/// covers them and get nothing new; exportTo and Sidecar imports decide visibility.
#[test]
fn existing_config_covers_destinations() {
    let existing = "tests/fixtures/manifests/existing.yaml";
    let o = run(&["analyze", "-o", "json", "--existing", existing, "samples/"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let d = |host: &str| destination(&v, host);
    // Exported everywhere: covers callers in any namespace, known or not.
    assert_eq!(d("api.stripe.com")["covered_by"], "payments/stripe");
    assert_eq!(d("api.stripe.com")["recommended"], false);
    // Exported to its own namespace only: covers marketing's calls, nobody else's.
    assert_eq!(d("api.sendgrid.com")["covered_by"], "marketing/sendgrid");
    assert!(d("github.com")["covered_by"].is_null());
    let o = run(&["recommend", "--existing", existing, "samples/"]);
    let yaml = stdout(&o);
    let docs = yaml_docs(&yaml);
    assert!(
        !docs
            .iter()
            .any(|d| d["spec"]["hosts"][0] == "api.stripe.com")
    );
    assert!(
        !docs
            .iter()
            .any(|d| d["spec"]["hosts"][0] == "api.sendgrid.com")
    );
    assert!(yaml.contains("covered by the existing ServiceEntry payments/stripe"));
    // A broken config is a usage error.
    let o = run(&["analyze", "--existing", "no/such/config.yaml", "samples/"]);
    assert_eq!(o.status.code(), Some(2));
}

/// The audit of existing entries against the traffic.
#[test]
fn audit_of_existing_entries() {
    let o = run(&[
        "analyze",
        "-o",
        "json",
        "--existing",
        "tests/fixtures/manifests/audit.yaml",
        "samples/",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let findings: Vec<(String, String, Vec<String>)> = v["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["entry"].as_str().unwrap().to_owned(),
                f["finding"].as_str().unwrap().to_owned(),
                f["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let has = |entry: &str, finding: &str, items: &[&str]| {
        assert!(
            findings
                .iter()
                .any(|(e, f, i)| e == entry && f == finding && i == items),
            "{entry} {finding} {items:?} in {findings:?}"
        )
    };
    has("shop/old-partner", "unused", &[]);
    has("shop/debian", "unused-ports", &["443"]);
    has("ci/github-all", "wildcard", &["api.github.com"]);
    has("marketing/sendgrid", "export-wider", &["."]);
    has("shop/kafka", "tcp-without-addresses", &["9092"]);
    assert_eq!(findings.len(), 6);
    // Without --existing there is nothing to audit.
    let v: Value =
        serde_json::from_str(&stdout(&run(&["analyze", "-o", "json", "samples/"]))).unwrap();
    assert_eq!(v["audit"], serde_json::json!([]));
}

/// The audit gives IST0134 as `istioctl analyze` does: an empty protocol is an unset one,
/// allocated addresses (`status.addresses`) and a mesh config with DNS auto-allocation make it
/// moot.
#[test]
fn audit_ist0134_as_istio() {
    let tcp = |extra: &[&str]| -> Vec<(String, Vec<String>)> {
        let o = run(&[
            &[
                "analyze",
                "-o",
                "json",
                "--existing",
                "tests/fixtures/manifests/audit-ist0134.yaml",
            ],
            extra,
            &["samples/"],
        ]
        .concat());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["audit"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["finding"] == "tcp-without-addresses")
            .map(|f| {
                (
                    f["entry"].as_str().unwrap().to_owned(),
                    f["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| i.as_str().unwrap().to_owned())
                        .collect(),
                )
            })
            .collect()
    };
    assert_eq!(
        tcp(&[]),
        [("shop/empty-protocol".to_owned(), vec!["5432".to_owned()])]
    );
    assert_eq!(
        tcp(&[
            "--mesh-config",
            "tests/fixtures/manifests/mesh-dns-auto-allocate.yaml"
        ]),
        []
    );
    assert_eq!(
        tcp(&[
            "--mesh-config",
            "tests/fixtures/manifests/mesh-dns-capture-only.yaml"
        ])
        .len(),
        1
    );
}

/// Filters and the apiVersion.
#[test]
fn selection_flags() {
    let docs = |args: &[&str]| {
        let mut all = vec!["recommend"];
        all.extend_from_slice(args);
        all.push("samples/");
        let o = run(&all);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        yaml_docs(&stdout(&o))
    };
    let hosts = |d: &[Value]| {
        d.iter()
            .map(|d| d["spec"]["hosts"][0].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let all = docs(&[]);
    let busy = docs(&["--min-requests", "3"]);
    assert!(busy.len() < all.len());
    assert!(
        hosts(&busy).contains(&"github.com".to_owned())
            && !hosts(&busy).contains(&"api.ipify.org".to_owned())
    );
    let some = docs(&[
        "--exclude-host",
        "*.googleapis.com",
        "--exclude-host",
        "github.com",
    ]);
    assert!(
        !hosts(&some)
            .iter()
            .any(|h| h.ends_with(".googleapis.com") || h == "github.com")
    );
    assert!(hosts(&some).contains(&"api.github.com".to_owned()));
    let no_marketing = docs(&["--exclude-namespace", "marketing"]);
    assert!(
        !no_marketing
            .iter()
            .any(|d| d["metadata"]["namespace"] == "marketing")
    );
    let old = docs(&["--istio-version", "1.20"]);
    assert!(
        old.iter()
            .all(|d| d["apiVersion"] == "networking.istio.io/v1beta1")
    );
    for d in &old {
        assert_valid_service_entry(d);
    }
    assert_eq!(
        run(&["recommend", "--istio-version", "latest", "samples/"])
            .status
            .code(),
        Some(2)
    );
}

/// `recommend --sidecars`: one Sidecar per named namespace importing exactly what it used.
#[test]
fn sidecars_per_namespace() {
    let o = run(&["recommend", "--sidecars", "samples/envelopes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    let docs = yaml_docs(&yaml);
    let sidecars: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Sidecar").collect();
    let v = schema("sidecar.schema.json");
    for s in &sidecars {
        assert!(v.is_valid(s), "{s}");
        assert!(egress_advisor::validate::sidecar(s).is_empty(), "{s}");
        assert_eq!(s["spec"]["outboundTrafficPolicy"]["mode"], "REGISTRY_ONLY");
    }
    let namespaces: Vec<&str> = sidecars
        .iter()
        .map(|s| s["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, ["billing", "ci", "marketing", "search", "shop"]);
    // Workloads whose pod label the logs name get a Sidecar of their own, selected by it; one
    // per workload even where two pipelines named it by different labels.
    let marketing = sidecars
        .iter()
        .find(|s| s["metadata"]["namespace"] == "marketing")
        .unwrap();
    assert_eq!(marketing["metadata"]["name"], "egress-advisor-newsletter");
    assert_eq!(
        marketing["spec"]["workloadSelector"]["labels"],
        serde_json::json!({"app.kubernetes.io/name": "newsletter"})
    );
    let shop = sidecars
        .iter()
        .find(|s| s["metadata"]["namespace"] == "shop")
        .unwrap();
    assert!(
        shop["spec"].get("workloadSelector").is_none(),
        "the pod path names no label"
    );
    let hosts = |ns: &str| -> Vec<String> {
        let s = sidecars
            .iter()
            .find(|s| s["metadata"]["namespace"] == ns)
            .unwrap();
        s["spec"]["egress"][0]["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        hosts("marketing"),
        [
            "./api.github.com",
            "./api.sendgrid.com",
            "./events.mixpanel.com",
            "./subscribers.marketing.svc.cluster.local",
            "istio-system/*"
        ]
    );
    assert!(hosts("shop").contains(&"./orders.shop.svc.cluster.local".to_owned()));
    // With an existing entry covering a destination, the Sidecar imports that entry instead.
    let o = run(&[
        "recommend",
        "--sidecars",
        "--existing",
        "tests/fixtures/manifests/existing.yaml",
        "samples/envelopes",
    ]);
    let docs = yaml_docs(&stdout(&o));
    let marketing = docs
        .iter()
        .find(|d| d["kind"] == "Sidecar" && d["metadata"]["namespace"] == "marketing")
        .unwrap();
    let hosts = marketing["spec"]["egress"][0]["hosts"].as_array().unwrap();
    assert!(
        hosts.contains(&Value::from("marketing/*.sendgrid.com")),
        "{hosts:?}"
    );
}

/// Explicit widening and central placement, each valid as Istio sees it.
#[test]
fn widening_and_central_scope() {
    let o = run(&["recommend", "--wildcard-min", "2", "samples/envelopes"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let docs = yaml_docs(&stdout(&o));
    // googleapis.com is a public suffix (the PRIVATE section of the Public Suffix List): its
    // two hosts stay exact, and the stream says why.
    assert!(
        !docs
            .iter()
            .any(|d| d["spec"]["hosts"][0] == "*.googleapis.com")
    );
    for h in ["oauth2.googleapis.com", "www.googleapis.com"] {
        assert!(docs.iter().any(|d| d["spec"]["hosts"][0] == h), "{h}");
    }
    assert!(stdout(&o).contains(
        "# --wildcard-min: oauth2.googleapis.com, www.googleapis.com stay exact: *.googleapis.com would widen to a public suffix"
    ));

    // Two addresses in one /24, on different ports and protocols.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for (ip, port) in [("52.1.2.3", 5432), ("52.1.2.99", 6379), ("52.9.9.9", 5432)] {
        text.push_str(&format!("[2024-05-14T09:00:00.000Z] \"- - -\" 0 - - - \"-\" 1 1 1 - \"-\" \"-\" \"-\" \"-\" \"{ip}:{port}\" PassthroughCluster 10.0.0.1:1 {ip}:{port} 10.0.0.1:2 - -\n"));
    }
    let path = write(dir.path(), "tcp.log", text.as_bytes());
    let docs = yaml_docs(&stdout(&run(&["recommend", "--cidr-prefix", "24", &path])));
    let range = docs
        .iter()
        .find(|d| d["spec"]["addresses"][0] == "52.1.2.0/24")
        .expect("a range entry");
    assert_valid_service_entry(range);
    assert_eq!(range["spec"]["ports"].as_array().unwrap().len(), 2);
    assert!(
        docs.iter()
            .any(|d| d["spec"]["addresses"][0] == "52.9.9.9/32"),
        "a lone address stays exact"
    );

    // Central: one entry per host in one namespace, exported to exactly its consumers.
    let o = run(&[
        "recommend",
        "--scope",
        "central",
        "--central-namespace",
        "egress",
        "samples/envelopes",
    ]);
    let docs = yaml_docs(&stdout(&o));
    let gh: Vec<&Value> = docs
        .iter()
        .filter(|d| d["spec"]["hosts"][0] == "api.github.com")
        .collect();
    assert_eq!(gh.len(), 1);
    assert_eq!(gh[0]["metadata"]["namespace"], "egress");
    assert_eq!(
        gh[0]["spec"]["exportTo"],
        serde_json::json!(["ci", "marketing"])
    );
    for d in &docs {
        assert_valid_service_entry(d);
    }
    let unknown = docs
        .iter()
        .find(|d| d["spec"]["hosts"][0] == "dynamodb.eu-west-1.amazonaws.com")
        .unwrap();
    assert_eq!(
        unknown["spec"]["exportTo"],
        serde_json::json!(["*"]),
        "an unnamed caller needs everyone"
    );
    assert_eq!(
        run(&["recommend", "--scope", "central", "samples/"])
            .status
            .code(),
        Some(2)
    );
}

/// A passthrough TLS line of Istio 1.9+ to `ip:443` with this SNI, from namespace `shop`.
fn tls_line(ip: &str, sni: &str) -> String {
    format!(
        "[2024-06-03T10:00:00.000Z] \"- - -\" 0 - - - \"-\" 100 200 5 - \"-\" \"-\" \"-\" \"-\" \"{ip}:443\" PassthroughCluster 10.244.1.9:40000 {ip}:443 10.244.1.9:50000 {sni} -\n"
    )
}

/// `--wildcard-min` never widens to a public suffix of the Public Suffix List, ICANN or
/// PRIVATE (`*.co.uk`, `*.github.io`, `*.s3.amazonaws.com`, `*.cloudfront.net`): the widest
/// wildcard is `*.` and a registrable domain; hosts whose only common parent is public stay
/// exact.
#[test]
fn wildcards_stop_at_registrable_domains() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let hosts = [
        "a.example.co.uk",
        "b.example.co.uk",
        "foo.co.uk",
        "bar.co.uk",
        "alice.github.io",
        "bob.github.io",
        "bucket-1.s3.amazonaws.com",
        "bucket-2.s3.amazonaws.com",
        "d1111.cloudfront.net",
        "d2222.cloudfront.net",
        "shop.com",
        "blog.com",
    ];
    for (i, h) in hosts.iter().enumerate() {
        text.push_str(&tls_line(&format!("93.184.215.{}", 10 + i), h));
    }
    let path = write(dir.path(), "tls.log", text.as_bytes());
    let o = run(&[
        "recommend",
        "--wildcard-min",
        "2",
        "--source-namespace",
        "shop",
        &path,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let docs = yaml_docs(&stdout(&o));
    let mut written: Vec<&str> = docs
        .iter()
        .map(|d| d["spec"]["hosts"][0].as_str().unwrap())
        .collect();
    written.sort_unstable();
    for d in &docs {
        assert_valid_service_entry(d);
    }
    assert_eq!(
        written,
        [
            "*.example.co.uk",
            "alice.github.io",
            "bar.co.uk",
            "blog.com",
            "bob.github.io",
            "bucket-1.s3.amazonaws.com",
            "bucket-2.s3.amazonaws.com",
            "d1111.cloudfront.net",
            "d2222.cloudfront.net",
            "foo.co.uk",
            "shop.com",
        ]
    );
    let wild = docs
        .iter()
        .find(|d| d["spec"]["hosts"][0] == "*.example.co.uk")
        .unwrap();
    assert_eq!(wild["spec"]["resolution"], "NONE");
    let text = stdout(&o);
    assert!(text.contains("stands for 2 hosts: a.example.co.uk, b.example.co.uk"));
    for (parent, section) in [
        ("co.uk", "ICANN"),
        ("github.io", "PRIVATE"),
        ("s3.amazonaws.com", "PRIVATE"),
        ("cloudfront.net", "PRIVATE"),
    ] {
        assert!(
            text.contains(&format!(
                "stay exact: *.{parent} would widen to a public suffix ({section} section"
            )),
            "{parent}: {text}"
        );
    }
}

/// `--version` names the Public Suffix List the wildcard limit uses.
#[test]
fn version_names_the_public_suffix_list() {
    let o = run(&["--version"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.starts_with("egress-advisor "), "{text}");
    assert!(text.contains("Public Suffix List of "), "{text}");
    let date = egress_advisor::recommend::public_suffix_list_version();
    let day = date.split('_').next().unwrap();
    assert!(day.len() == 10 && text.contains(day), "{date} in {text}");
    assert!(text.contains("MPL-2.0"), "{text}");
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("prints its date (now {day})")),
        "README records the list's date {day}"
    );
}

/// A Fluent Bit record of a passthrough TLS line from a pod of `ns`, labelled with
/// `app.kubernetes.io/name: app` when `app` is given.
fn fluent_tls(ns: &str, pod: &str, app: Option<&str>, ip: &str, sni: &str) -> String {
    let line = tls_line(ip, sni);
    let labels = app.map_or(
        serde_json::json!({}),
        |a| serde_json::json!({"app.kubernetes.io/name": a}),
    );
    let record = serde_json::json!({
        "log": line.trim_end(),
        "stream": "stdout",
        "kubernetes": {
            "namespace_name": ns,
            "pod_name": pod,
            "container_name": "istio-proxy",
            "labels": labels,
        }
    });
    format!("{record}\n")
}

/// `recommend --sidecars --existing` never clobbers a Sidecar nor adds one Istio would find in
/// conflict: an existing namespace-wide Sidecar is extended in place (never joined by a second,
/// IST0111), a workload an existing Sidecar already selects gets no Sidecar of its own (IST0110),
/// and a new Sidecar never takes an existing one's name.
#[test]
fn sidecars_never_clobber_existing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let logs = [
        // shop: no label, so the namespace's Sidecar; shop has one already, with an egress proxy.
        fluent_tls("shop", "cart-1", None, "93.184.215.20", "api.example.com"),
        fluent_tls("shop", "cart-1", None, "93.184.215.21", "new.example.org"),
        // web: frontend is selected by an existing Sidecar with exactly its label.
        fluent_tls(
            "web",
            "frontend-1",
            Some("frontend"),
            "93.184.215.22",
            "cdn.example.net",
        ),
        // web: worker may be selected by an existing Sidecar on another label.
        fluent_tls(
            "web",
            "worker-1",
            Some("worker"),
            "93.184.215.23",
            "queue.example.net",
        ),
        // billing: an existing per-workload Sidecar is named egress-advisor.
        fluent_tls(
            "billing",
            "ledger-1",
            None,
            "93.184.215.24",
            "ledger.example.com",
        ),
    ]
    .concat();
    let log = write(dir.path(), "fluent-bit.jsonl", logs.as_bytes());
    let mesh = r#"
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: shop
  resourceVersion: "4711"
  uid: 0b4c5a1e-5d1f-4f0e-9d55-0b4c5a1e2f3a
  labels: {team: storefront}
  annotations: {owner: platform}
spec:
  egress:
  - port: {number: 9080, protocol: HTTP, name: http}
    hosts: ["./reviews.shop.svc.cluster.local"]
  - hosts: ["./api.example.com", "istio-system/*"]
  outboundTrafficPolicy:
    mode: ALLOW_ANY
    egressProxy:
      host: squid.egress.svc.cluster.local
      port: {number: 3128}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: frontend-egress, namespace: web}
spec:
  workloadSelector:
    labels: {app.kubernetes.io/name: frontend}
  egress:
  - hosts: ["istio-system/*"]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: batch, namespace: web}
spec:
  workloadSelector:
    labels: {app: worker}
  egress:
  - hosts: ["istio-system/*"]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: egress-advisor, namespace: billing}
spec:
  workloadSelector:
    labels: {app: legacy}
  egress:
  - hosts: ["istio-system/*"]
"#;
    let existing = write(dir.path(), "mesh.yaml", mesh.as_bytes());
    let o = run(&["recommend", "--sidecars", "--existing", &existing, &log]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let docs = yaml_docs(&text);
    let sidecars: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Sidecar").collect();
    let v = schema("sidecar.schema.json");
    for s in &sidecars {
        assert!(v.is_valid(s), "{s}");
        assert!(egress_advisor::validate::sidecar(s).is_empty(), "{s}");
    }
    let in_ns = |ns: &str| -> Vec<&Value> {
        sidecars
            .iter()
            .copied()
            .filter(|s| s["metadata"]["namespace"] == ns)
            .collect()
    };
    let hosts = |s: &Value| -> Vec<String> {
        s["spec"]["egress"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l.get("port").is_none())
            .flat_map(|l| l["hosts"].as_array().unwrap().iter())
            .map(|h| h.as_str().unwrap().to_owned())
            .collect()
    };

    // shop: the existing namespace-wide Sidecar, whole, with the new host imported; its egress
    // proxy and ALLOW_ANY kept, and the comment says so.
    let shop = in_ns("shop");
    assert_eq!(
        shop.len(),
        1,
        "one namespace-wide Sidecar in shop: {shop:?}"
    );
    let shop = shop[0];
    assert_eq!(shop["metadata"]["name"], "default");
    assert_eq!(shop["metadata"]["labels"]["team"], "storefront");
    assert_eq!(shop["metadata"]["annotations"]["owner"], "platform");
    assert!(shop["metadata"].get("resourceVersion").is_none());
    assert!(shop["metadata"].get("uid").is_none());
    assert_eq!(
        shop["spec"]["egress"][0]["hosts"],
        serde_json::json!(["./reviews.shop.svc.cluster.local"]),
        "a port's listener is left as it was"
    );
    assert_eq!(
        hosts(shop),
        ["./api.example.com", "istio-system/*", "./new.example.org"]
    );
    assert_eq!(shop["spec"]["outboundTrafficPolicy"]["mode"], "ALLOW_ANY");
    assert_eq!(
        shop["spec"]["outboundTrafficPolicy"]["egressProxy"]["host"],
        "squid.egress.svc.cluster.local"
    );
    assert!(
        text.contains("The existing Sidecar shop/default with what this traffic needs added (./new.example.org)"),
        "{text}"
    );
    assert!(text.contains("ALLOW_ANY kept"), "{text}");

    // web: frontend's own Sidecar is the existing one, extended; worker gets none, and the
    // stream says why.
    let web = in_ns("web");
    assert_eq!(web.len(), 1, "{web:?}");
    assert_eq!(web[0]["metadata"]["name"], "frontend-egress");
    assert_eq!(
        web[0]["spec"]["workloadSelector"]["labels"],
        serde_json::json!({"app.kubernetes.io/name": "frontend"})
    );
    assert_eq!(hosts(web[0]), ["istio-system/*", "./cdn.example.net"]);
    assert_eq!(
        web[0]["spec"]["outboundTrafficPolicy"]["mode"],
        "REGISTRY_ONLY"
    );
    assert!(
        text.contains("No Sidecar for workload app.kubernetes.io/name=worker in namespace web: the existing Sidecar web/batch"),
        "{text}"
    );
    assert!(text.contains("IST0110"), "{text}");
    assert!(
        text.contains("If it is this workload's, add to its egress hosts: ./queue.example.net"),
        "{text}"
    );

    // billing: a new namespace-wide Sidecar, under a name no existing Sidecar has.
    let billing = in_ns("billing");
    assert_eq!(billing.len(), 1, "{billing:?}");
    assert!(billing[0]["spec"].get("workloadSelector").is_none());
    assert_eq!(billing[0]["metadata"]["name"], "egress-advisor-2");
    assert_eq!(
        hosts(billing[0]),
        ["./ledger.example.com", "istio-system/*"]
    );
}

/// A Sidecar without an outboundTrafficPolicy is merged with REGISTRY_ONLY, as `--sidecars`
/// writes it, and the comment says it was added; a Sidecar that imports everything needs no
/// host added.
#[test]
fn merged_sidecar_gets_registry_only_when_it_sets_no_policy() {
    let o = run(&[
        "recommend",
        "--sidecars",
        "--existing",
        "tests/fixtures/manifests/existing.yaml",
        "samples/envelopes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    let docs = yaml_docs(&text);
    let search: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "Sidecar" && d["metadata"]["namespace"] == "search")
        .collect();
    assert_eq!(search.len(), 1, "{search:?}");
    assert_eq!(search[0]["metadata"]["name"], "default");
    assert_eq!(
        search[0]["spec"]["egress"],
        serde_json::json!([{"hosts": ["./*", "istio-system/*"]}])
    );
    assert_eq!(
        search[0]["spec"]["outboundTrafficPolicy"],
        serde_json::json!({"mode": "REGISTRY_ONLY"})
    );
    assert!(egress_advisor::validate::sidecar(search[0]).is_empty());
    assert!(text.contains("The existing Sidecar search/default with what this traffic needs added (nothing: it imports all of it already)"), "{text}");
    assert!(
        text.contains("outboundTrafficPolicy REGISTRY_ONLY added"),
        "{text}"
    );
}

/// --since/--until keep outbound entries of the window; many entries draw a warning.
#[test]
fn time_window_and_scale_warning() {
    let o = run(&[
        "analyze",
        "-o",
        "json",
        "--since",
        "2024-06-01T00:00:00Z",
        "--until",
        "2024-07-01T00:00:00Z",
        "samples/",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["lines"]["outside"].as_u64().unwrap() > 0);
    let classes: u64 = v["lines"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(classes, v["input"]["lines"].as_u64().unwrap());
    for d in v["destinations"].as_array().unwrap() {
        assert!(
            d["first_seen"].as_str().unwrap() >= "2024-06-01"
                && d["last_seen"].as_str().unwrap() < "2024-07-01",
            "{d}"
        );
    }
    assert_eq!(
        run(&["analyze", "--since", "yesterday", "samples/"])
            .status
            .code(),
        Some(2)
    );

    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..1000 {
        text.push_str(&format!("[2024-05-14T09:00:00.000Z] \"- - -\" 0 - - - \"-\" 1 1 1 - \"-\" \"-\" \"-\" \"-\" \"52.1.2.3:443\" PassthroughCluster 10.0.0.1:1 52.1.2.3:443 10.0.0.1:2 api{i}.example.com -\n"));
    }
    let path = write(dir.path(), "many.log", text.as_bytes());
    // 1,000 names under one domain is a high-cardinality parent: asked for all the same.
    let o = run(&["recommend", "--cardinality-threshold", "0", &path]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("1000 ServiceEntries"), "{}", stderr(&o));
    assert!(
        stderr(&run(&[
            "recommend",
            "--quiet",
            "--include-high-cardinality",
            &path
        ]))
        .is_empty()
    );
}

/// A passthrough TLS connection with an SNI (Istio 1.9+ text).
fn passthrough_tls(sni: &str, ip: &str, port: u16) -> String {
    format!(
        r#"[2024-06-03T10:00:00.000Z] "- - -" 0 - - - "-" 100 200 5 - "-" "-" "-" "-" "{ip}:{port}" PassthroughCluster 10.244.1.9:40000 {ip}:{port} 10.244.1.9:50000 {sni} -"#
    ) + "\n"
}

#[test]
fn recommend_never_clobbers_an_existing_entry() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "shop.log",
        (passthrough_tls("api.example.com", "93.184.215.14", 8443)
            + &passthrough_tls("cdn.example.net", "93.184.215.15", 443))
            .as_bytes(),
    );
    // Existing entries with the names recommend would choose: one it can extend, one whose
    // resolution differs. kubectl apply replaces ports, hosts and exportTo whole, so an
    // entry with only 8443 would drop 443.
    let existing = write(
        dir.path(),
        "existing.yaml",
        br#"apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: api.example.com
  namespace: shop
  annotations:
    owner: payments-team
  resourceVersion: "1234"
spec:
  hosts: [api.example.com]
  ports:
  - {number: 443, name: tls-443, protocol: TLS}
  location: MESH_EXTERNAL
  resolution: DNS
  exportTo: ["."]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: cdn.example.net
  namespace: shop
spec:
  hosts: [cdn.example.net]
  addresses: [93.184.215.15/32]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints: [{address: 93.184.215.15}]
"#,
    );
    let o = run(&[
        "recommend",
        &log,
        "--source-namespace",
        "shop",
        "--existing",
        &existing,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    let docs = yaml_docs(&yaml);
    assert_eq!(docs.len(), 2, "{yaml}");
    for d in &docs {
        assert_valid_service_entry(d);
    }
    let api = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "api.example.com")
        .expect("the merged entry");
    let ports: Vec<u64> = api["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [443, 8443], "{yaml}");
    assert_eq!(api["metadata"]["annotations"]["owner"], "payments-team");
    assert!(api["metadata"].get("resourceVersion").is_none());
    assert!(
        yaml.contains("The existing ServiceEntry shop/api.example.com with what this traffic needs added (port 8443/TLS)"),
        "{yaml}"
    );
    // The other cannot be merged (STATIC with addresses): it gets a name of its own.
    let cdn = docs
        .iter()
        .find(|d| d["spec"]["hosts"][0] == "cdn.example.net")
        .expect("an entry for cdn.example.net");
    assert_eq!(cdn["metadata"]["name"], "cdn.example.net-egress");
    assert_eq!(cdn["metadata"]["namespace"], "shop");
    // No document of the stream has an existing entry's namespace and name unless merged.
    let names: Vec<(String, String)> = docs
        .iter()
        .map(|d| {
            (
                d["metadata"]["namespace"].to_string(),
                d["metadata"]["name"].to_string(),
            )
        })
        .collect();
    assert_eq!(names.len(), 2);
    assert!(!names.contains(&("\"shop\"".into(), "\"cdn.example.net\"".into())));
    // Entries without a namespace avoid every existing name.
    let o = run(&["recommend", &log, "--existing", &existing]);
    let docs = yaml_docs(&stdout(&o));
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api.example.com-egress", "cdn.example.net-egress"]);
}

/// The sample log, its line count and its gzip compression.
fn sample_log() -> (Vec<u8>, u64, Vec<u8>) {
    let bytes = std::fs::read(root().join("samples/allow-any/istio-proxy.log")).unwrap();
    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&bytes).unwrap();
    (bytes, lines, enc.finish().unwrap())
}

/// `analyze --json` with a time limit (a run that hangs fails the test), as JSON with stderr.
fn analyze_json(args: &[&str], stdin: Option<Vec<u8>>) -> (Option<i32>, Value, String) {
    let mut c = cmd();
    c.args(["analyze", "-o", "json"])
        .args(args)
        .timeout(std::time::Duration::from_secs(20));
    if let Some(bytes) = stdin {
        c.write_stdin(bytes);
    }
    let o = c.output().unwrap();
    let v = serde_json::from_str(&stdout(&o)).unwrap_or(Value::Null);
    (o.status.code(), v, stderr(&o))
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", p.display());
}

/// Named pipes, `/dev/stdin` and devices are opened once and their compression sniffed from
/// that one handle.
#[cfg(unix)]
#[test]
fn pipes_and_devices_given_as_paths_are_read_once() {
    let (_, lines, gz) = sample_log();
    let dir = tempfile::tempdir().unwrap();

    // A named pipe holding gzip data.
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo);
    let writer = {
        let (fifo, gz) = (fifo.clone(), gz.clone());
        std::thread::spawn(move || {
            // Opening for writing waits for the reader; a reader that never comes back is
            // the test's time limit.
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                let _ = f.write_all(&gz);
            }
        })
    };
    let (code, v, err) = analyze_json(&[fifo.to_str().unwrap()], None);
    // Unblock the writer if the run never opened the pipe (on Linux, opening a pipe for
    // reading and writing does not wait).
    drop(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo),
    );
    writer.join().unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["input"]["lines"], lines, "{err}");
    assert_eq!(v["lines"]["passthrough"], 16);

    // /dev/stdin: gzip from a pipe, first bytes included.
    let (code, v, err) = analyze_json(&["/dev/stdin"], Some(gz.clone()));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["input"]["lines"], lines, "{err}");
    assert_eq!(v["lines"]["passthrough"], 16);
    assert_eq!(v["lines"]["noise"], 4);

    // A character device is a stream too.
    let (code, v, err) = analyze_json(&["/dev/null"], None);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["input"]["lines"], 0);

    // Process substitution: /dev/fd/N.
    if std::process::Command::new("bash")
        .arg("--version")
        .output()
        .is_ok()
    {
        let gz_path = write(dir.path(), "log.gz", &gz);
        let o = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "timeout 20 '{}' analyze --json <(cat '{gz_path}') <(gzip -dc '{gz_path}' | gzip -c)",
                assert_cmd::cargo::cargo_bin("egress-advisor").display()
            ))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["input"]["lines"], 2 * lines);
        assert_eq!(v["input"]["files"], 2);
    }
}

/// A named pipe found in a directory is not read: it is skipped with a note.
#[cfg(unix)]
#[test]
fn pipes_in_directories_are_skipped_with_a_note() {
    let (bytes, lines, _) = sample_log();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.log", &bytes);
    mkfifo(&dir.path().join("b.pipe"));
    let d = dir.path().to_str().unwrap();
    let (code, v, err) = analyze_json(&[d], None);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["input"]["lines"], lines);
    assert!(
        err.contains("b.pipe") && err.contains("named pipe"),
        "{err}"
    );
    let (code, _, err) = analyze_json(&["--quiet", d], None);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err, "");
}

/// Symlink loops are walked once, and a file reached by several paths is read once.
#[cfg(unix)]
#[test]
fn every_file_is_read_once() {
    use std::os::unix::fs::symlink;
    let (bytes, lines, _) = sample_log();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("sub")).unwrap();
    write(&logs.join("sub"), "a.log", &bytes);
    // Two links back into the tree: without loop detection the walk doubles at every level.
    symlink(&logs, logs.join("sub/up")).unwrap();
    symlink("..", logs.join("sub/back")).unwrap();
    let l = logs.to_str().unwrap();
    let (code, v, err) = analyze_json(&[l], None);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["input"]["lines"], lines, "{err}");
    assert_eq!(v["input"]["files"], 1);
    assert_eq!(v["sources"][0]["path"], format!("{l}/sub/a.log"));
    // A directory and one below it, or named with a trailing slash: walked once, no news.
    let sub = format!("{l}/sub");
    let (_, w, err) = analyze_json(&[&sub, l, &format!("{l}/")], None);
    assert_eq!(v, w);
    assert!(!err.contains("same directory"), "{err}");

    // The same file by two names (a link, a second path, the directory holding it): once,
    // under the same name whatever the order of the arguments, with a note.
    let link = dir.path().join("link.log");
    symlink(logs.join("sub/a.log"), &link).unwrap();
    let file = logs.join("sub/a.log");
    let again = logs.join("sub/./a.log");
    let args = [
        link.to_str().unwrap(),
        file.to_str().unwrap(),
        again.to_str().unwrap(),
        l,
    ];
    let (code, v, err) = analyze_json(&args, None);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["input"]["lines"], lines, "{err}");
    assert_eq!(v["input"]["files"], 1);
    assert!(
        err.contains("link.log") && err.contains("same file"),
        "{err}"
    );
    let mut reversed = args;
    reversed.reverse();
    let (_, w, err2) = analyze_json(&reversed, None);
    assert_eq!(v, w);
    assert_eq!(err, err2);
    let mut quiet = vec!["--quiet"];
    quiet.extend(args);
    let (code, _, err) = analyze_json(&quiet, None);
    assert_eq!((code, err.as_str()), (Some(0), ""));

    // `--existing` folders: the same walk.
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::copy(
        root().join("tests/fixtures/manifests/existing.yaml"),
        conf.join("existing.yaml"),
    )
    .unwrap();
    symlink(&conf, conf.join("again")).unwrap();
    symlink(&conf, conf.join("loop")).unwrap();
    // Dangling links are passed over like the files of their names.
    symlink("nowhere", conf.join("gone.txt")).unwrap();
    symlink("nowhere", logs.join(".gone")).unwrap();
    let (code, v, err) = analyze_json(&[l], None);
    assert_eq!(
        (code, &v["read_errors"]),
        (Some(0), &Value::Array(vec![])),
        "{err}"
    );
    let o = cmd()
        .args(["analyze", "-o", "json", "--existing"])
        .arg(&conf)
        .arg("samples/")
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        destination(&v, "api.stripe.com")["covered_by"],
        "payments/stripe"
    );
}

/// Runs `analyze --json -j1 PIPE FILE` and changes FILE once the run has planned its work and
/// waits on the pipe (a stream, read first), before it reads FILE. Gives the exit code, the
/// report and stderr.
#[cfg(unix)]
fn change_while_planned(file: &Path, change: impl FnOnce()) -> (Option<i32>, Value, String) {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let fifo = file.with_extension(format!("{n}.pipe"));
    mkfifo(&fifo);
    {
        // Should the run never open the pipe, the test fails instead of waiting forever.
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(30));
            drop(
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&fifo),
            );
        });
    }
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("egress-advisor"))
        .args(["analyze", "-o", "json", "-j1"])
        .arg(&fifo)
        .arg(file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        // Returns once the run opened the pipe: FILE is planned, and not read yet.
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        change();
        w.write_all(b"not an access log line\n").unwrap();
    }
    let o = child.wait_with_output().unwrap();
    std::fs::remove_file(&fifo).unwrap();
    let v = serde_json::from_str(&stdout(&o)).unwrap_or(Value::Null);
    (o.status.code(), v, stderr(&o))
}

/// A file rotated or truncated after the run planned it is reported, not read mixed; one that
/// grew is read up to its planned size.
#[cfg(unix)]
#[test]
fn files_changed_during_a_run_are_reported() {
    let (bytes, lines, _) = sample_log();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let reported = |o: &(Option<i32>, Value, String), why: &str| {
        assert_eq!(o.0, Some(3), "{}", o.2);
        assert!(
            o.2.contains("app.log: not read consistently") && o.2.contains(why),
            "{}",
            o.2
        );
        assert_eq!(o.1["read_errors"].as_array().unwrap().len(), 1, "{}", o.1);
    };

    // Rotated by rename and create.
    std::fs::write(&log, &bytes).unwrap();
    let o = change_while_planned(&log, || {
        std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
        std::fs::write(&log, &bytes).unwrap();
    });
    reported(&o, "replaced by another file");

    // Truncated in place (copytruncate), then written again.
    std::fs::write(&log, &bytes).unwrap();
    let o = change_while_planned(&log, || {
        let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
        f.set_len(0).unwrap();
        (&f).write_all(&bytes[..100]).unwrap();
    });
    reported(&o, "shrank");

    // Removed.
    std::fs::write(&log, &bytes).unwrap();
    let o = change_while_planned(&log, || std::fs::remove_file(&log).unwrap());
    reported(&o, "removed");

    // Grown: read as it was when planned, without what was appended.
    std::fs::write(&log, &bytes).unwrap();
    let o = change_while_planned(&log, || {
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(&bytes).unwrap();
    });
    assert_eq!(o.0, Some(0), "{}", o.2);
    assert_eq!(o.1["input"]["lines"], lines + 1);
    assert_eq!(o.1["lines"]["passthrough"], 16);
}

#[test]
fn flag_values_are_checked_against_what_they_mean() {
    for (args, says) in [
        (
            &["--cidr-prefix", "40"][..],
            "an IPv4 prefix length is 16 to 32",
        ),
        (&["--cidr-prefix", "8"], "an IPv4 prefix length is 16 to 32"),
        (
            &["--cidr-prefix-v6", "16"],
            "an IPv6 prefix length is 32 to 128",
        ),
        (&["--istio-version", "1.4"], "Istio before 1.5"),
        (&["--istio-version", "one"], "give the minor version"),
    ] {
        let mut all = vec!["recommend", "samples/"];
        all.extend(args);
        let o = run(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    let o = run(&["recommend", "samples/", "--istio-version", "1.5"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("apiVersion: networking.istio.io/v1beta1"));
    let o = run(&[
        "recommend",
        "samples/",
        "--cidr-prefix",
        "24",
        "--cidr-prefix-v6",
        "64",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn blocked_only_destinations_are_marked_for_review() {
    let o = run(&["recommend", "samples/"]);
    let yaml = stdout(&o);
    let paypal = yaml
        .split("\n---\n")
        .find(|d| d.contains("# api-m.paypal.com:"))
        .expect("an entry for api-m.paypal.com");
    assert!(paypal.contains("#     REVIEW: blocked only"), "{paypal}");
    let github = yaml
        .split("\n---\n")
        .find(|d| d.contains("# github.com:"))
        .expect("an entry for github.com");
    assert!(!github.contains("REVIEW"), "{github}");
    let o = run(&["analyze", "samples/", "-o", "json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(destination(&v, "api-m.paypal.com")["blocked_only"], true);
    assert_eq!(destination(&v, "github.com")["blocked_only"], false);
    let o = run(&["analyze", "samples/", "-o", "wide"]);
    assert!(stdout(&o).contains("recommended, review: blocked only"));
    let o = run(&["analyze", "samples/"]);
    assert!(stdout(&o).contains("  review  "));
    let o = run(&["recommend", "samples/", "--exclude-blocked-only"]);
    let yaml = stdout(&o);
    assert!(
        !yaml_docs(&yaml)
            .iter()
            .any(|d| d["spec"]["hosts"][0] == "api-m.paypal.com")
    );
    assert!(
        yaml.contains("left out by --exclude-blocked-only"),
        "{yaml}"
    );
}

#[test]
fn per_namespace_entries_carry_their_own_evidence() {
    // www.googleapis.com is called from billing and by a caller the logs do not name: each
    // entry counts its own namespace's calls, not the destination's totals.
    let yaml = stdout(&run(&["recommend", "samples/"]));
    let docs: Vec<&str> = yaml
        .split("\n---\n")
        .filter(|d| d.contains("# www.googleapis.com:"))
        .collect();
    assert_eq!(docs.len(), 2, "{yaml}");
    let billing = docs
        .iter()
        .find(|d| d.contains("namespace: billing"))
        .expect("billing's entry");
    assert!(
        billing.contains("# www.googleapis.com: 1 entry\n"),
        "{billing}"
    );
    assert!(
        billing.contains("#     sources: billing/billing (1)\n"),
        "{billing}"
    );
    assert!(
        billing.contains("#     seen 2024-06-02T10:01:00.000Z .. 2024-06-02T10:01:00.000Z\n"),
        "{billing}"
    );
    let unknown = docs
        .iter()
        .find(|d| !d.contains("namespace: billing"))
        .expect("the entry without a namespace");
    assert!(unknown.contains("#     seen 2020-06-03T10:46:05.882Z .. 2020-06-03T10:46:05.882Z\n"));
}

#[test]
fn apply_advice_fits_what_the_stream_holds() {
    let head = |args: &[&str]| -> String {
        let mut all = vec!["recommend"];
        all.extend(args);
        stdout(&run(&all))
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mixed = head(&["samples/"]);
    assert!(
        mixed.contains("do not apply them with one command"),
        "{mixed}"
    );
    assert!(!mixed.contains("Apply with: kubectl apply -f"), "{mixed}");
    let none = head(&["samples/allow-any"]);
    assert!(
        none.contains("apply with kubectl apply -n <namespace> -f <file>"),
        "{none}"
    );
    let all = head(&["samples/allow-any", "--source-namespace", "shop"]);
    assert!(
        all.contains("Apply with: kubectl apply -f <file> (every entry names its namespace)."),
        "{all}"
    );
}

/// A Fluent Bit record of one passthrough connection from `ns` to `ip:port`, with an SNI
/// when `sni` is not `-`.
fn fluent_passthrough(ns: &str, sni: &str, ip: &str, port: u16) -> String {
    let line = format!(
        r#"[2024-06-02T10:00:00.000Z] "- - -" 0 - - - "-" 1200 5300 210 - "-" "-" "-" "-" "{ip}:{port}" PassthroughCluster 10.244.5.7:49778 {ip}:{port} 10.244.5.7:40424 {sni} -"#
    );
    serde_json::json!({
        "log": line,
        "kubernetes": {"namespace_name": ns, "pod_name": "app-7d4b9c6f5-x2k8p", "container_name": "istio-proxy"}
    })
    .to_string()
        + "\n"
}

/// 60 random-looking names under one domain and 70 addresses of one /24, next to one
/// ordinary host.
fn high_cardinality_logs(dir: &Path) -> String {
    let mut text = String::new();
    for i in 0..60 {
        text.push_str(&fluent_passthrough(
            "shop",
            &format!("q{i:03}x7f.t.tunnel-example.com"),
            "93.184.216.34",
            443,
        ));
    }
    for _ in 0..3 {
        text.push_str(&fluent_passthrough(
            "shop",
            "api.stripe.com",
            "54.187.174.169",
            443,
        ));
    }
    for i in 1..=70 {
        text.push_str(&fluent_passthrough(
            "scan",
            "-",
            &format!("52.10.20.{i}"),
            22,
        ));
    }
    write(dir, "hc.jsonl", text.as_bytes())
}

#[test]
fn high_cardinality_parents_are_a_finding_not_a_wall_of_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = high_cardinality_logs(dir.path());

    // recommend: one entry, the finding named at the top, the children summed up in one line.
    let o = run(&["recommend", &path]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    let docs = yaml_docs(&yaml);
    assert_eq!(docs.len(), 1, "{yaml}");
    assert_eq!(docs[0]["spec"]["hosts"][0], "api.stripe.com");
    assert!(
        yaml.contains("# High cardinality: tunnel-example.com has 60 distinct host names below it"),
        "{yaml}"
    );
    assert!(
        yaml.contains("# High cardinality: 52.10.20.0/24 has 70 distinct addresses below it"),
        "{yaml}"
    );
    assert!(
        yaml.contains("#   60 destinations under tunnel-example.com: "),
        "{yaml}"
    );
    assert!(
        yaml.contains("#   70 destinations under 52.10.20.0/24: "),
        "{yaml}"
    );
    assert!(yaml.contains("+52 more"), "{yaml}");
    assert!(
        yaml.lines()
            .filter(|l| l.contains("tunnel-example.com"))
            .count()
            <= 3,
        "{yaml}"
    );

    // Asked for: every child gets its entry.
    let o = run(&["recommend", "--include-high-cardinality", &path]);
    assert_eq!(yaml_docs(&stdout(&o)).len(), 1 + 60 + 70);
    for d in yaml_docs(&stdout(&o)) {
        assert_valid_service_entry(&d);
    }
    // Under the threshold: no finding.
    let o = run(&["recommend", "--cardinality-threshold", "100", &path]);
    assert!(!stdout(&o).contains("High cardinality"));
    assert_eq!(yaml_docs(&stdout(&o)).len(), 1 + 60 + 70);

    // analyze: a JSON key, a table section, and the children's skip reason.
    let o = run(&["analyze", "-o", "json", &path]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let found = v["high_cardinality"].as_array().unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0]["parent"], "52.10.20.0/24");
    assert_eq!(found[0]["kind"], "network");
    assert_eq!(found[0]["children"], 70);
    assert_eq!(found[1]["parent"], "tunnel-example.com");
    assert_eq!(found[1]["kind"], "domain");
    assert_eq!(found[1]["children"], 60);
    assert_eq!(found[1]["entries"], 60);
    assert_eq!(found[1]["examples"].as_array().unwrap().len(), 8);
    assert_eq!(found[1]["callers"][0], "shop/app (60)");
    let child = destination(&v, "q000x7f.t.tunnel-example.com");
    assert_eq!(child["recommended"], false);
    assert!(
        child["skip_reason"]
            .as_str()
            .unwrap()
            .contains("--cardinality-threshold"),
        "{child}"
    );
    let table = stdout(&run(&["analyze", &path]));
    assert!(table.contains("High-cardinality parents"), "{table}");
    assert!(
        table.contains("  domain tunnel-example.com: 60 children, 60 entries; "),
        "{table}"
    );

    // check: a warning in text, Markdown and JSON.
    let o = run(&["check", &path]);
    assert!(
        stdout(&o).contains("Warning: High cardinality: tunnel-example.com has 60"),
        "{}",
        stdout(&o)
    );
    let o = run(&["check", "-o", "markdown", &path]);
    assert!(stdout(&o).contains("> **Warning:** High cardinality"));
    let o = run(&["check", "-o", "json", &path]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let warnings: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("High cardinality: 52.10.20.0/24 has 70")),
        "{warnings:?}"
    );

    // migrate: a caveat.
    let o = run(&["migrate", "-o", "json", &path]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        v["caveats"].as_array().unwrap().iter().any(|c| c
            .as_str()
            .unwrap()
            .starts_with("High cardinality: tunnel-example.com")),
        "{v}"
    );
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
}

#[test]
fn max_entries_keeps_the_most_used_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    // Entries per host: a 1, b 5, c 3, d 3, e 2 (distinct registrable domains).
    for (host, n) in [
        ("api.a-corp.com", 1),
        ("api.b-corp.com", 5),
        ("api.c-corp.com", 3),
        ("api.d-corp.com", 3),
        ("api.e-corp.com", 2),
    ] {
        for _ in 0..n {
            text.push_str(&fluent_passthrough("shop", host, "52.1.2.3", 443));
        }
    }
    let path = write(dir.path(), "five.jsonl", text.as_bytes());
    let hosts = |yaml: &str| -> Vec<String> {
        yaml_docs(yaml)
            .iter()
            .map(|d| d["spec"]["hosts"][0].as_str().unwrap().to_owned())
            .collect()
    };
    let o = run(&["recommend", "--max-entries", "3", &path]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    // b (5), then c and d (3 each, tied: by name); written in the usual order.
    assert_eq!(
        hosts(&yaml),
        ["api.b-corp.com", "api.c-corp.com", "api.d-corp.com"]
    );
    assert!(
        yaml.contains("# --max-entries 3: 2 more entries left out (3 passthrough or blocked entries): shop/api.e-corp.com (2), shop/api.a-corp.com (1)\n"),
        "{yaml}"
    );
    // The same whatever the thread count.
    let one = stdout(&run(&["recommend", "-j", "1", "--max-entries", "3", &path]));
    assert_eq!(one, yaml);
    // Enough room: nothing left out, no note.
    let o = run(&["recommend", "--max-entries", "5", &path]);
    assert_eq!(hosts(&stdout(&o)).len(), 5);
    assert!(!stdout(&o).contains("--max-entries"));
    assert_eq!(
        run(&["recommend", "--max-entries", "0", &path])
            .status
            .code(),
        Some(2)
    );
    // migrate proposes the same capped entries.
    let o = run(&["migrate", "-o", "json", "--max-entries", "1", &path]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
    assert_eq!(v["entries"][0]["hosts"][0], "api.b-corp.com");
}

#[test]
fn lists_in_comments_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let path = high_cardinality_logs(dir.path());
    // Widened on request: the wildcard and the range name 8 of their members and count the rest.
    let o = run(&[
        "recommend",
        "--include-high-cardinality",
        "--wildcard-min",
        "2",
        "--cidr-prefix",
        "24",
        &path,
    ]);
    let yaml = stdout(&o);
    assert!(
        yaml.contains(
            "#   widened by --wildcard-min; stands for 60 hosts: q000x7f.t.tunnel-example.com, "
        ),
        "{yaml}"
    );
    assert!(
        yaml.contains(
            "#   widened by --cidr-prefix to 52.10.20.0/24; 70 addresses seen: 52.10.20.1, "
        ),
        "{yaml}"
    );
    assert!(
        yaml.contains(", +52 more\n") && yaml.contains(", +62 more\n"),
        "{yaml}"
    );
    // The per-port lines of a widened entry are one per destination; every line stays short.
    assert!(yaml.lines().all(|l| l.len() < 2000), "{yaml}");

    // More left-out destinations than the list shows: the rest are counted by reason.
    let mut text = String::new();
    for i in 0..150 {
        // Private addresses in distinct /24s: left out, but no high-cardinality parent.
        text.push_str(&fluent_passthrough(
            "shop",
            "-",
            &format!("10.{i}.0.1"),
            5432,
        ));
    }
    let path = write(dir.path(), "private.jsonl", text.as_bytes());
    let yaml = stdout(&run(&["recommend", &path]));
    let listed = yaml
        .lines()
        .filter(|l| l.contains("private address (pass --include-private"))
        .count();
    assert_eq!(listed, 100, "{yaml}");
    assert!(
        yaml.contains("#   +50 more destinations left out: private (50)\n"),
        "{yaml}"
    );
}

/// clap's own consistency checks over the whole definition (conflicting names, defaults that
/// are not possible values, ...), which it otherwise runs only on the paths a test takes.
#[test]
fn the_command_line_definition_is_consistent() {
    use clap::CommandFactory;
    egress_advisor::cli::Cli::command().debug_assert();
}

/// Every subcommand's long options, as the manual page and completions must name them.
fn long_flags() -> Vec<(String, Vec<String>)> {
    use clap::CommandFactory;
    egress_advisor::cli::Cli::command()
        .get_subcommands()
        .map(|s| {
            let flags = s
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .collect();
            (s.get_name().to_owned(), flags)
        })
        .collect()
}

#[test]
fn completions_cover_every_subcommand_and_flag() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = run(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        for (sub, flags) in long_flags() {
            assert!(script.contains(&sub), "{shell} completes {sub}");
            for f in flags {
                // fish names long options `-l NAME`.
                let named = match shell {
                    "fish" => format!("-l {}", &f[2..]),
                    _ => f.clone(),
                };
                assert!(script.contains(&named), "{shell} completes {sub} {f}");
            }
        }
    }
    // The bash script is valid bash.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("egress-advisor.bash");
    std::fs::write(&f, stdout(&run(&["completions", "bash"]))).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&f)
        .output()
        .expect("bash");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let o = run(&["completions", "tcsh"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn the_manual_page_documents_every_subcommand_and_flag() {
    let o = run(&["man"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(
        page.contains(".TH egress-advisor 1"),
        "a roff page: {}",
        &page[..200]
    );
    // roff escapes `-` as `\-`.
    let roff = |s: &str| s.replace('-', "\\-");
    for (sub, flags) in long_flags() {
        let heading = format!(".SH \"EGRESS-ADVISOR {}\"", sub.to_uppercase());
        let at = page
            .find(&heading)
            .unwrap_or_else(|| panic!("a section for {sub}"));
        let section = &page[at..];
        let section = &section[..section[1..]
            .find(".SH \"EGRESS")
            .map_or(section.len(), |n| n + 1)];
        for f in flags {
            assert!(section.contains(&roff(&f)), "{sub} documents {f}");
        }
    }

    // One page per command with --dir, which is made when missing.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    let o = run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for (sub, flags) in long_flags() {
        let p = dir.join(format!("egress-advisor-{sub}.1"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        for f in flags {
            assert!(text.contains(&roff(&f)), "{} documents {f}", p.display());
        }
    }
    assert!(dir.join("egress-advisor.1").is_file());
}

#[test]
fn version_names_the_commit() {
    for flag in ["--version", "-V"] {
        let o = run(&[flag]);
        assert_eq!(o.status.code(), Some(0));
        let first = stdout(&o).lines().next().unwrap_or_default().to_owned();
        let commit = first
            .strip_prefix(concat!(
                "egress-advisor ",
                env!("CARGO_PKG_VERSION"),
                " (commit "
            ))
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{flag}: {first}"));
        assert!(
            commit == "unknown"
                || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
            "{flag}: {first}"
        );
        // In a git checkout, the checkout's own commit.
        let head = std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .current_dir(root())
            .output();
        if let Some(h) = head.ok().filter(|h| h.status.success()) {
            let head = String::from_utf8_lossy(&h.stdout).trim().to_owned();
            assert_eq!(commit, head, "{flag}");
        }
    }
}

/// --since and --until take dates and durations before now as well as RFC 3339 times.
#[test]
fn time_window_takes_dates_and_durations() {
    let lines = |args: &[&str]| -> Value {
        let mut all = vec!["analyze", "-o", "json"];
        all.extend_from_slice(args);
        all.push("samples/");
        let o = run(&all);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        serde_json::from_str::<Value>(&stdout(&o)).unwrap()["lines"].clone()
    };
    let all = lines(&[]);
    assert_eq!(all["outside"].as_u64().unwrap_or(0), 0);
    // The samples are from 2024: a week before now leaves every outbound entry outside.
    let week = lines(&["--since", "7d"]);
    assert!(week["outside"].as_u64().unwrap() > 0);
    assert_eq!(week["passthrough"].as_u64().unwrap_or(0), 0, "{week}");
    // A date is its first instant in UTC: the same as the RFC 3339 midnight.
    assert_eq!(
        lines(&["--since", "2024-05-14"]),
        lines(&["--since", "2024-05-14T00:00:00Z"])
    );
    assert_eq!(
        lines(&["--until", "2024-05-14"]),
        lines(&["--until", "2024-05-14T00:00:00.000Z"])
    );
    for bad in ["yesterday", "7 days", "1h1d"] {
        let o = run(&["analyze", "--since", bad, "samples/"]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&o).contains("a duration before now"),
            "{}",
            stderr(&o)
        );
    }
}

/// The old names of --source-namespace and --source-workload are refused, not reinterpreted:
/// `check --namespace shop plain.log` must never become a filter that passes.
#[test]
fn former_writer_flags_are_refused_by_name() {
    for (old, new) in [
        ("--namespace", "--source-namespace"),
        ("--workload", "--source-workload"),
    ] {
        for command in ["analyze", "recommend", "check", "migrate", "explain"] {
            let o = run(&[command, old, "shop", "samples/"]);
            assert_eq!(o.status.code(), Some(2), "{command} {old}: {}", stderr(&o));
            assert!(stderr(&o).contains(new), "{command} {old}: {}", stderr(&o));
            assert!(stdout(&o).is_empty(), "{command} {old}: nothing reported");
        }
    }
    // Neither shows in the help.
    let help = stdout(&run(&["check", "--help"]));
    assert!(help.contains("--source-namespace"));
    assert!(!help.contains("--namespace "), "{help}");
}

/// Each subcommand offers only options it takes: every option its `--help` lists, given with a
/// value it accepts, is not refused as a usage error (exit 2). (`explain` once listed
/// `--partials` and refused it; `merge` listed the options that name the writer of logs, which
/// partials already record.) `merge` is given each reading option on the partial as well,
/// since the partial must have been written with it.
#[test]
fn every_listed_option_is_taken() {
    use clap::CommandFactory;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = |name: &str| d.join(name).to_str().unwrap().to_owned();
    let baseline = file("baseline.yaml");
    let o = run(&[
        "check",
        "samples/",
        "--baseline",
        &baseline,
        "--update-baseline",
    ]);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    let mesh_config = "tests/fixtures/custom/istio-configmap.yaml".to_owned();
    let log_format = std::fs::read_to_string(&mesh_config)
        .unwrap()
        .lines()
        .find(|l| l.trim_start().starts_with("%START_TIME%"))
        .unwrap()
        .trim()
        .to_owned();
    // The arguments that give an option, by its long name (without a value: a flag).
    let given = |command: &str, long: &str| -> Vec<String> {
        let v: Vec<&str> = match long {
            "format" => vec!["auto"],
            "cluster-domain" => vec!["cluster.local"],
            "mesh-cidr" => vec!["10.99.0.0/16"],
            "threads" => vec!["1"],
            "max-line-bytes" => vec!["65536"],
            "log-format" => vec![&log_format],
            "log-format-json" => {
                vec![
                    r#"{"ts": "%START_TIME%", "cluster": "%UPSTREAM_CLUSTER_RAW%", "dst": "%DOWNSTREAM_LOCAL_ADDRESS%"}"#,
                ]
            }
            "mesh-config" => vec![&mesh_config],
            "since" => vec!["2020-01-01"],
            "until" => vec!["2030-01-01"],
            "containers" => vec!["istio-proxy"],
            "pods" => vec!["examples/mesh/pods.json"],
            "source-namespace" => vec!["shop"],
            "source-workload" => vec!["web"],
            "stdin-name" => vec!["stdin"],
            "existing" if command == "telemetry" => vec!["examples/mesh/telemetry.yaml"],
            "existing" => vec!["examples/mesh/service-entries.yaml"],
            "min-requests" => vec!["1"],
            "exclude-host" => vec!["example.com"],
            "exclude-namespace" => vec!["kube-system"],
            "cardinality-threshold" => vec!["50"],
            "istio-version" => vec!["1.22"],
            "fail-on" => vec!["warning"],
            "wildcard-min" => vec!["2"],
            "cidr-prefix" => vec!["24"],
            "cidr-prefix-v6" => vec!["64"],
            "max-entries" => vec!["5"],
            "scope" => vec!["namespace"],
            "central-namespace" => {
                return vec![
                    "--scope".into(),
                    "central".into(),
                    "--central-namespace".into(),
                    "egress".into(),
                ];
            }
            "csv-raw" => return vec!["--csv-raw".into(), "--csv".into(), file("raw.csv")],
            "csv" | "html" | "partial" | "write" | "junit" | "sarif" => {
                return vec![format!("--{long}"), file(&format!("out.{long}"))];
            }
            "allow" => vec!["examples/mesh/egress-allow.yaml"],
            "baseline" => vec![&baseline],
            "update-baseline" => {
                return vec![
                    "--update-baseline".into(),
                    "--baseline".into(),
                    file("new-baseline.yaml"),
                ];
            }
            "root-namespace" => vec!["istio-system"],
            "mode" => vec!["ambient"],
            "egress-namespace" => vec!["istio-egress"],
            "waypoint" => vec!["egress-waypoint"],
            "waypoint-namespace" => vec!["common-infrastructure"],
            "dir" => return vec!["--dir".into(), d.to_str().unwrap().to_owned()],
            "output-dir" => return vec!["--output-dir".into(), file("gitops")],
            _ => vec![],
        };
        std::iter::once(format!("--{long}"))
            .chain(v.into_iter().map(str::to_owned))
            .collect()
    };
    let partial = file("samples.partial.json");
    let mut tried = 0;
    for sub in egress_advisor::cli::Cli::command().get_subcommands() {
        let command = sub.get_name();
        let inputs: Vec<String> = match command {
            "merge" => vec![partial.clone()],
            "validate" => vec!["examples/mesh/service-entries.yaml".into()],
            "completions" => vec!["bash".into()],
            "telemetry" | "man" | "help" => vec![],
            _ => vec!["samples/".into()],
        };
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let runs: Vec<Vec<String>> = if long == "output" {
                arg.get_possible_values()
                    .iter()
                    .map(|v| vec!["-o".to_owned(), v.get_name().to_owned()])
                    .collect()
            } else {
                vec![given(command, long)]
            };
            for opt in runs {
                let mut inputs = inputs.clone();
                if long == "partials" {
                    inputs = vec![partial.clone()];
                }
                // The partial, written with this option when it is a reading option.
                let reading = ["analyze", "samples/", "--partial", &partial];
                let mut write: Vec<&str> = reading.to_vec();
                if command == "merge" {
                    write.extend(opt.iter().map(String::as_str));
                }
                let o = run(&write);
                if o.status.code() == Some(2) {
                    // Not a reading option: the partial is written without it.
                    let o = run(&reading);
                    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
                }
                let mut args = vec![command];
                args.extend(opt.iter().map(String::as_str));
                args.extend(inputs.iter().map(String::as_str));
                let o = run(&args);
                assert_ne!(
                    o.status.code(),
                    Some(2),
                    "`{}` lists --{long}, and refuses it: {}",
                    args.join(" "),
                    stderr(&o)
                );
                tried += 1;
            }
        }
    }
    assert!(tried > 100, "{tried} options tried");
    // What the options that were removed from a command now say.
    let o = run(&["explain", "--partials", &partial]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["merge", "--source-namespace", "shop", &partial]);
    assert_eq!(o.status.code(), Some(2));
    // explain shows every line as read: no window, one thread.
    for opt in [&["--since", "24h"][..], &["-j", "2"]] {
        let mut args = vec!["explain"];
        args.extend(opt);
        args.push("samples/");
        assert_eq!(run(&args).status.code(), Some(2), "{args:?}");
    }
}
