//! Log lines are written by whoever runs a workload: hosts, SNIs, namespaces and labels are the
//! attacker's. These tests feed the binary hostile lines (`tests/fixtures/hostile/`, and lines
//! proptest makes up) and check that nothing they hold becomes structure in what it writes.
//!
//! YAML: the tool's own reader and serde follow YAML 1.2, where only `\n` and `\r` break lines.
//! libyaml and its ports (PyYAML, Go's `gopkg.in/yaml.v3`, which kubectl and most Kubernetes
//! tooling read manifests with) also break lines on U+0085, U+2028 and U+2029. The stream must
//! read the same under both rules: PyYAML stands for the libyaml family (python3 with `yaml`;
//! without one the tests say so and skip that reading; the ignored test
//! [`pyyaml_reads_every_stream`] fails without it, and `.ci/run` runs it after installing
//! python3-yaml),
//! and [`assert_same_lines_for_every_reader`] emulates it without Python: split on every
//! character any of those readers takes for a line break, the stream has exactly the lines it
//! has when split on `\n` alone, so no reader sees a document or a key begin where another does
//! not.

use crate::common::*;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use serde_json::Value;

/// Every character a YAML reader of either family may take for a line break.
const BREAKS: [char; 5] = ['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'];

/// The first of `python3` and `/usr/bin/python3` that imports `yaml` (Debian's python3-yaml).
fn pyyaml() -> Option<&'static str> {
    static PYTHON: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *PYTHON.get_or_init(|| {
        let found = ["python3", "/usr/bin/python3"].into_iter().find(|py| {
            Command::new(py)
                .args(["-c", "import yaml"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if found.is_none() {
            eprintln!("PyYAML readings skipped: no Python imports yaml (apt install python3-yaml)");
        }
        found
    })
}

/// The documents PyYAML reads from a stream (comment-only documents dropped), or `None`
/// without PyYAML.
pub(crate) fn pyyaml_docs(yaml: &str) -> Option<Vec<Value>> {
    let script = "import sys, json, yaml\n\
                  text = sys.stdin.buffer.read().decode('utf-8')\n\
                  docs = [d for d in yaml.safe_load_all(text) if d is not None]\n\
                  sys.stdout.write(json.dumps(docs))\n";
    let mut child = Command::new(pyyaml()?)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(yaml.as_bytes())
        .expect("writes to python3");
    let out = child.wait_with_output().expect("python3 runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "PyYAML cannot read the stream: {err}\n{yaml}"
    );
    Some(serde_json::from_slice(&out.stdout).expect("JSON from python3"))
}

/// The libyaml reading without libyaml: splitting on every break character gives the lines
/// splitting on `\n` gives, and every comment is printable ASCII.
pub(crate) fn assert_same_lines_for_every_reader(yaml: &str) {
    let wide: Vec<&str> = yaml.split(BREAKS).collect();
    let narrow: Vec<&str> = yaml.split('\n').collect();
    assert_eq!(
        wide, narrow,
        "a character some YAML readers take for a line break"
    );
    for line in narrow {
        if line.trim_start().starts_with('#') {
            assert!(
                line.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "a comment with more than printable ASCII: {line:?}"
            );
        }
    }
}

/// Checks a `recommend` stream: read by the tool's YAML 1.2 reader and by PyYAML, it holds the
/// same documents, as many as it has `---` lines, each a valid ServiceEntry or Sidecar of four
/// keys, in one of `namespaces` (or none). Returns the documents.
fn assert_intended_documents(yaml: &str, namespaces: &BTreeSet<String>) -> Vec<Value> {
    assert_same_lines_for_every_reader(yaml);
    let docs = yaml_docs(yaml);
    assert_eq!(docs.len(), yaml.lines().filter(|l| *l == "---").count());
    for d in &docs {
        let keys: BTreeSet<&str> = d
            .as_object()
            .expect("a mapping")
            .keys()
            .map(|k| &**k)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["apiVersion", "kind", "metadata", "spec"]),
            "{d}"
        );
        let errors = egress_advisor::validate::document(d).expect("a ServiceEntry or a Sidecar");
        assert!(errors.is_empty(), "{d}: {errors:?}");
        if let Some(ns) = d["metadata"]["namespace"].as_str() {
            assert!(namespaces.contains(ns), "namespace {ns:?} in {d}");
        }
    }
    if let Some(py) = pyyaml_docs(yaml) {
        assert_eq!(py, docs, "PyYAML reads other documents:\n{yaml}");
    }
    docs
}

/// Runs `recommend --sidecars` on the files; the stream must also pass `validate`.
fn recommend(dir: &std::path::Path, files: &[&str]) -> String {
    let mut args = vec!["recommend", "--sidecars"];
    args.extend(files);
    let o = cmd().current_dir(dir).args(&args).output().expect("runs");
    let err = stderr(&o);
    assert!(!err.contains("internal error"), "{err}");
    assert!(matches!(o.status.code(), Some(0 | 1)), "{err}");
    let yaml = stdout(&o);
    let path = dir.join("out.yaml");
    std::fs::write(&path, &yaml).expect("writes");
    let v = cmd()
        .args(["validate", path.to_str().unwrap()])
        .output()
        .expect("runs");
    assert_eq!(v.status.code(), Some(0), "{}\n{yaml}", stderr(&v));
    yaml
}

/// The PyYAML readings the other tests skip without it: asked for (`--include-ignored`), they
/// must run.
#[test]
#[ignore = "needs python3-yaml"]
fn pyyaml_reads_every_stream() {
    assert!(
        pyyaml().is_some(),
        "no Python imports yaml (apt install python3-yaml)"
    );
    hostile_fixtures_stay_inside_comments_and_scalars();
    the_baseline_holds_hostile_hosts_as_values();
}

#[test]
fn hostile_fixtures_stay_inside_comments_and_scalars() {
    let dir = root().join("tests/fixtures/hostile");
    let yaml = recommend(&dir, &["passthrough.log", "fluent-bit.jsonl"]);
    let namespaces = BTreeSet::from(["billing".to_owned(), "team".to_owned()]);
    let docs = assert_intended_documents(&yaml, &namespaces);
    // The one valid host of the plain log, and api.stripe.com and hooks.slack.com for the
    // namespaces whose names are real, plus their Sidecars: nothing else.
    let kinds: Vec<(&str, &str, &str)> = docs
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["metadata"]["namespace"].as_str().unwrap_or("-"),
                d["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            // Calls whose envelope named a namespace Kubernetes would refuse: their writer's
            // namespace is unknown, so their entries have none.
            ("ServiceEntry", "-", "api.stripe.com"),
            ("ServiceEntry", "-", "hooks.slack.com"),
            ("ServiceEntry", "-", "ok.example.com"),
            ("ServiceEntry", "billing", "api.stripe.com"),
            ("ServiceEntry", "team", "hooks.slack.com"),
            ("Sidecar", "billing", "egress-advisor"),
            ("Sidecar", "team", "egress-advisor"),
        ],
        "{yaml}"
    );
    for bad in ["ConfigMap", "Secret", "kube-system"] {
        assert!(
            !docs.iter().any(|d| d.to_string().contains(bad)),
            "{bad} in a document"
        );
    }
    // The hostile names are still shown, escaped.
    assert!(yaml.contains(r"pwn.com\u{2028}---\u{2028}"), "{yaml}");
    assert!(
        yaml.contains(r"bidi.example\u{202e}gnp.exe\u{2066}"),
        "{yaml}"
    );
}

fn tcp_line(sni: &str, ip: &str) -> String {
    format!(
        r#"[2024-05-14T09:01:02.140Z] "- - -" 0 - - - "-" 2210 5821 412 - "-" "-" "-" "-" "{ip}:443" PassthroughCluster 10.244.1.17:34704 {ip}:443 10.244.1.17:59862 {sni} -"#
    )
}

fn http_line(authority: &str, ip: &str) -> String {
    format!(
        r#"[2024-05-14T09:03:00.110Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 0 28 27 "-" "curl/8" "b64ce422-1012-907a-0f42-34b99e7769b1" "{authority}" "{ip}:80" PassthroughCluster 10.244.1.17:50716 {ip}:80 10.244.1.17:49034 - allow_any"#
    )
}

fn fluent_bit(line: &str, namespace: &str, pod: &str, app: &str) -> String {
    serde_json::json!({
        "log": line,
        "kubernetes": {
            "namespace_name": namespace,
            "pod_name": pod,
            "container_name": "istio-proxy",
            "labels": {"app": app},
        },
    })
    .to_string()
}

/// Strings built from what breaks YAML and terminals: line breaks of every kind, document
/// markers, indicators, quotes, escapes, controls, bidi overrides, and name characters.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\u{2028}".to_owned()),
        Just("\u{2029}".to_owned()),
        Just("\u{85}".to_owned()),
        Just("\n".to_owned()),
        Just("\r".to_owned()),
        Just("---".to_owned()),
        Just("...".to_owned()),
        Just("#".to_owned()),
        Just(": ".to_owned()),
        Just("kind: Secret".to_owned()),
        Just("  namespace: kube-system".to_owned()),
        Just("{\"kind\":\"\\x53ecret\"}".to_owned()),
        Just("\\".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("\u{1b}[2J".to_owned()),
        Just("\u{9b}".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("*".to_owned()),
        Just("&a".to_owned()),
        Just("!!str".to_owned()),
        "[a-z0-9.-]{1,8}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any string as a host, an SNI, a namespace, a pod name or a label: the stream holds
    /// exactly the intended documents for every reader.
    #[test]
    fn any_logged_string_stays_data(
        host in hostile(),
        ns in hostile(),
        app in hostile(),
        valid in "[a-z]{1,10}",
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut lines = vec![
            tcp_line(&host, "203.0.113.7"),
            http_line(&host, "198.51.100.10"),
            tcp_line(&format!("{valid}.example.com"), "203.0.113.8"),
        ];
        let text = lines.join("\n") + "\n";
        std::fs::write(dir.path().join("a.log"), text).expect("writes");
        lines.clear();
        let via = tcp_line("api.stripe.com", "54.187.174.169");
        lines.push(fluent_bit(&via, &ns, &format!("{app}-6c5d8f7b9-t8v2w"), &app));
        lines.push(fluent_bit(&via, &valid, "web-6c5d8f7b9-t8v2w", &app));
        lines.push(fluent_bit(&tcp_line(&host, "203.0.113.9"), &valid, "web-6c5d8f7b9-t8v2w", &host));
        let text = lines.join("\n") + "\n";
        std::fs::write(dir.path().join("b.jsonl"), text).expect("writes");
        let yaml = recommend(dir.path(), &["a.log", "b.jsonl"]);
        let namespaces = BTreeSet::from([valid.clone(), ns.clone()]);
        let docs = assert_intended_documents(&yaml, &namespaces);
        prop_assert!(docs.iter().any(|d| d["spec"]["hosts"][0] == "api.stripe.com"));
    }
}

/// The CSV rows of `analyze --csv` (with `extra` flags) on the hostile plain log: the host
/// column, or the names seen for an address.
fn csv_hosts(extra: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("d.csv");
    let mut args = vec![
        "analyze",
        "tests/fixtures/hostile/passthrough.log",
        "--csv",
        path.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = run(&args);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let text = std::fs::read_to_string(&path).expect("the CSV");
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.expect("a record")).collect();
    assert!(rows.iter().all(|r| r.len() == 17));
    // A name without a dot is what the client called an address (seen_as), not a host.
    // (Each such name in the fixture has an address of its own.)
    rows.iter()
        .map(|r| {
            if r[0].is_empty() {
                r[16].to_owned()
            } else {
                r[0].to_owned()
            }
        })
        .collect()
}

#[test]
fn csv_cells_are_not_formulas_unless_raw() {
    let formulas = [
        "=hyperlink(\"https://evil.example\")",
        "+cmd|' /c calc'!a0",
        "-2+3+cmd",
        "@sum(1+9)",
    ];
    let hosts = csv_hosts(&[]);
    for f in formulas {
        assert!(
            hosts.contains(&format!("'{f}")),
            "{f} not neutralised: {hosts:?}"
        );
    }
    assert!(hosts.contains(&"ok.example.com".to_owned()));
    assert!(
        hosts
            .iter()
            .all(|h| !h.starts_with(['=', '+', '-', '@', '\t', '\r']))
    );
    let raw = csv_hosts(&["--csv-raw"]);
    for f in formulas {
        assert!(
            raw.contains(&f.to_owned()),
            "{f} changed by --csv-raw: {raw:?}"
        );
    }
    assert_eq!(raw.len(), hosts.len());
    // --csv-raw alone is a usage error: it needs --csv.
    let o = run(&[
        "analyze",
        "tests/fixtures/hostile/passthrough.log",
        "--csv-raw",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// Nothing in `text` can act on a terminal: no control character but the line feed, no bidi
/// override, no line separator, no other format character.
fn assert_inert(what: &str, text: &str) {
    if let Some(c) = text
        .chars()
        .find(|&c| c != '\n' && egress_advisor::render::escape::is_hazardous(c))
    {
        panic!("{what} holds {c:?}:\n{text}");
    }
}

/// The hostile fixtures under file names of their own making (node log paths are named by
/// whoever names pods), with an unreadable file among them.
fn hostile_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let fixtures = root().join("tests/fixtures/hostile");
    for (from, to) in [
        (
            "passthrough.log",
            "a\u{1b}]8;;https:evil.example\u{7}x\u{1b}]8;;\u{7}.log",
        ),
        ("fluent-bit.jsonl", "b\u{202e}lnosj.jsonl"),
    ] {
        std::fs::copy(fixtures.join(from), dir.path().join(to)).expect("copies");
    }
    // A gzip header and then nothing a gzip reader accepts.
    let gz = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03not deflate at all";
    std::fs::write(dir.path().join("c\u{1b}[2J\u{2028}.gz"), gz).expect("writes");
    // An entry whose fields match no format: its file is named among the malformed.
    let bad = "[2024-05-14T09:01:02.140Z] \"- - -\" 0 - - - \"-\" x y z PassthroughCluster\n";
    std::fs::write(dir.path().join("d\u{9b}31m\u{85}.log"), bad).expect("writes");
    dir
}

#[test]
fn terminal_output_cannot_drive_the_terminal() {
    let dir = hostile_dir();
    let d = dir.path().to_str().unwrap();
    for args in [
        vec!["analyze", d],
        vec!["recommend", "--sidecars", d],
        vec!["check", d],
        vec!["check", "-o", "markdown", d],
        vec!["migrate", d],
        vec!["list-inputs", d],
        vec!["analyze", "-o", "json", d],
        vec!["check", "-o", "json", d],
        vec!["migrate", "-o", "json", d],
        vec!["explain", d],
    ] {
        let o = run(&args);
        let what = args.join(" ");
        assert!(
            !stderr(&o).contains("internal error"),
            "{what}: {}",
            stderr(&o)
        );
        assert_inert(&format!("{what}: stderr"), &stderr(&o));
        if args[0] != "recommend" {
            assert_inert(&format!("{what}: stdout"), &stdout(&o));
        }
    }
    // JSON escapes them the JSON way: the values are unchanged.
    let json: Value = serde_json::from_str(&stdout(&run(&["analyze", "-o", "json", d]))).unwrap();
    destination(&json, "bidi.example\u{202e}gnp.exe\u{2066}");
    // The table shows the hostile hosts, escaped.
    let table = stdout(&run(&["analyze", d]));
    assert!(
        table.contains(r"bidi.example\u{202e}gnp.exe\u{2066}"),
        "{table}"
    );
    assert!(
        table.contains(r"x.example\u{1b}]8;;https://evil.example/\u{7}click"),
        "{table}"
    );
}

proptest! {
    /// The fuzz targets' laws of the output escaping, on any string.
    #[test]
    fn escaping_laws(text in any::<String>()) {
        egress_advisor::fuzzing::escape(text.as_bytes());
        egress_advisor::fuzzing::csv(text.as_bytes());
    }

    /// The same, on strings made of what breaks YAML, CSV and terminals.
    #[test]
    fn escaping_laws_on_hostile_text(text in hostile()) {
        egress_advisor::fuzzing::escape(text.as_bytes());
        egress_advisor::fuzzing::csv(text.as_bytes());
    }
}

#[test]
fn the_baseline_holds_hostile_hosts_as_values() {
    let dir = tempfile::tempdir().expect("temp dir");
    let baseline = dir.path().join("baseline.yaml");
    let o = run(&[
        "check",
        "tests/fixtures/hostile/passthrough.log",
        "--baseline",
        baseline.to_str().unwrap(),
        "--update-baseline",
    ]);
    assert!(!stderr(&o).contains("internal error"), "{}", stderr(&o));
    let yaml = std::fs::read_to_string(&baseline).expect("the baseline");
    assert_same_lines_for_every_reader(&yaml);
    let ours: Vec<Value> = serde_saphyr::from_multiple(&yaml).expect("reads");
    let hosts: Vec<&str> = ours[0]["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["host"].as_str())
        .collect();
    assert!(
        hosts.contains(&"bidi.example\u{202e}gnp.exe\u{2066}"),
        "{hosts:?}"
    );
    assert!(
        hosts
            .iter()
            .any(|h| h.starts_with("pwn.com\u{2028}---\u{2028}"))
    );
    if let Some(py) = pyyaml_docs(&yaml) {
        assert_eq!(py, ours, "PyYAML reads another baseline:\n{yaml}");
    }
    // And the check reads it back: every destination is in the baseline.
    let o = run(&[
        "check",
        "tests/fixtures/hostile/passthrough.log",
        "--baseline",
        baseline.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

/// A manifest of many unknown fields costs time in proportion to its size: each is looked up
/// once among the known names and once in the document's spans (a scan per field made 200,000
/// of them take minutes), and keys of any length or text stay inside their line.
#[test]
fn validate_many_unknown_fields_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.yaml");
    let mut text = String::from(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: x}\nspec:\n  hosts: [a.example.com]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  \"k\\nerror: forged line\": 1\n",
    );
    for i in 0..100_000 {
        text += &format!("  k{i:06}{}: 1\n", "x".repeat(200));
    }
    std::fs::write(&path, text).unwrap();
    let start = std::time::Instant::now();
    let o = run(&["validate", path.to_str().unwrap()]);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(took.as_secs() < 90, "validate took {took:?}");
    let out = stdout(&o);
    assert_eq!(
        out.lines().count(),
        100_002,
        "one line per field, and the count"
    );
    assert!(
        out.lines()
            .all(|l| l.starts_with(path.to_str().unwrap()) || l.starts_with("1 manifest")),
        "a key made a line of its own"
    );
    assert!(
        out.contains(r#"unknown field spec["k\nerror: forged line"]"#),
        "{}",
        &out[..500]
    );
}
