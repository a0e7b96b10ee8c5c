//! `check` (the CI gate) and `migrate` (the REGISTRY_ONLY plan), driven through the binary.

use crate::common::*;

use std::path::Path;

use serde_json::Value;

const MESH: &str = "examples/mesh/service-entries.yaml";
const ALLOW: &str = "examples/mesh/egress-allow.yaml";
const BASELINE: &str = "examples/mesh/egress-baseline.yaml";

/// A passthrough HTTP request to `host` (Istio 1.9+ text).
fn passthrough_http(host: &str, ip: &str) -> String {
    format!(
        r#"[2024-06-03T10:00:00.000Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 10 5 4 "-" "curl/8.5.0" "0b5e8f2c-0000-0000-0000-000000000001" "{host}" "{ip}:80" PassthroughCluster 10.244.1.9:40000 {ip}:80 10.244.1.9:50000 - allow_any"#
    ) + "\n"
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// The `egress-advisor check ...` command of a CI example, with its variables set to the
/// repository's samples; the shell's output redirection is dropped.
fn ci_command(file: &str, junit: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(file)).expect("CI example");
    let line = text
        .lines()
        .map(|l| l.trim().trim_start_matches("- "))
        .find(|l| l.starts_with("egress-advisor check"))
        .expect("a check command");
    let line = line.split(">>").next().expect("command").trim();
    line.split_whitespace()
        .skip(1)
        .map(|w| {
            w.trim_matches('"')
                .replace("$LOGS", "samples")
                .replace("$MESH", "examples/mesh")
                .replace("egress-junit.xml", &junit.display().to_string())
                .replace(
                    "egress.sarif",
                    &junit.with_file_name("egress.sarif").display().to_string(),
                )
        })
        .collect()
}

#[test]
fn ci_examples_pass_on_samples_and_write_junit() {
    for file in [
        "examples/ci/github-actions.yml",
        "examples/ci/gitlab-ci.yml",
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let junit = dir.path().join("egress-junit.xml");
        let args = ci_command(file, &junit);
        let o = cmd().args(&args).output().expect("runs");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{file}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let xml = std::fs::read_to_string(&junit).expect("JUnit written");
        let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
        let cases = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count();
        assert_eq!(cases, 27, "one test case per destination");
        assert_eq!(doc.root_element().attribute("failures"), Some("0"), "{xml}");
        if args.contains(&"--sarif".to_owned()) {
            let sarif = std::fs::read_to_string(dir.path().join("egress.sarif")).expect("SARIF");
            let log: Value = serde_json::from_str(&sarif).expect("SARIF is JSON");
            assert!(schema("sarif-schema-2.1.0.json").is_valid(&log));
            assert_eq!(log["runs"][0]["results"], serde_json::json!([]), "a pass");
            assert!(
                std::fs::read_to_string(root().join(file))
                    .unwrap()
                    .contains("sarif_file: egress.sarif"),
                "{file} uploads the file it writes"
            );
        }
        if args.windows(2).any(|w| w == ["-o", "markdown"]) {
            insta::assert_snapshot!("check_samples_markdown", stdout(&o));
        }
    }
}

#[test]
fn check_without_config_lists_every_destination() {
    let o = run(&["check", "samples/"]);
    assert_eq!(o.status.code(), Some(1));
    insta::assert_snapshot!("check_samples_text", stdout(&o));
    let o = run(&["check", "samples/", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["counts"]["uncovered"], 26);
    assert_eq!(
        v["counts"]["registered"], 1,
        "api.github.com went to a ServiceEntry"
    );
    let first = &v["destinations"][0];
    assert_eq!(first["status"], "uncovered");
    assert_eq!(first["host"], "api.stripe.com");
    assert_eq!(first["passthrough"], 5);
    assert_eq!(first["last_seen"], "2024-05-14T09:08:00.120Z");
}

#[test]
fn existing_allow_and_baseline_each_cover() {
    let o = run(&[
        "check",
        "samples/",
        "--existing",
        MESH,
        "--allow",
        ALLOW,
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    let by_host = |h: &str| destination(&v, h);
    assert_eq!(by_host("api.stripe.com")["status"], "covered");
    assert_eq!(by_host("api.stripe.com")["by"], "payments/stripe");
    assert_eq!(by_host("ocsp.digicert.com")["status"], "allowed");
    assert_eq!(by_host("ocsp.digicert.com")["entry"], 1);
    assert_eq!(by_host("140.82.121.4")["status"], "allowed");
    assert_eq!(by_host("sqs.eu-west-1.amazonaws.com")["status"], "allowed");
    // *.googleapis.com is exported to billing only: the unknown caller is still uncovered.
    let g = by_host("www.googleapis.com");
    assert_eq!(g["status"], "uncovered");
    let callers: Vec<&Value> = g["namespaces"].as_array().unwrap().iter().collect();
    assert_eq!(callers.len(), 1, "only the namespace nothing covers: {g}");
    assert_eq!(callers[0]["namespace"], Value::Null);
    assert_eq!(v["counts"]["uncovered"], 14);

    // The committed baseline holds exactly those 14.
    let o = run(&[
        "check",
        "samples/",
        "--existing",
        MESH,
        "--allow",
        ALLOW,
        "--baseline",
        BASELINE,
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v = json(&o);
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["counts"]["baseline"], 14);
    assert_eq!(v["stale_baseline"], Value::Array(vec![]));
}

#[test]
fn a_new_destination_fails_against_the_baseline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    for f in [
        "allow-any/istio-proxy.log",
        "registry-only/istio-proxy.jsonl",
    ] {
        std::fs::copy(
            root().join("samples").join(f),
            logs.join(f.replace('/', "-")),
        )
        .unwrap();
    }
    let baseline = dir.path().join("baseline.yaml");
    let b = baseline.to_str().unwrap();
    let l = logs.to_str().unwrap();
    // No baseline yet: a usage error that says how to make one.
    let o = run(&["check", l, "--baseline", b]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--update-baseline"), "{}", stderr(&o));
    let o = run(&["check", l, "--baseline", b, "--update-baseline"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = std::fs::read_to_string(&baseline).unwrap();
    assert!(first.starts_with("# egress-advisor check baseline"));
    assert!(first.contains("host: api.stripe.com"), "{first}");
    let o = run(&["check", l, "--baseline", b]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // Tomorrow's logs call somewhere new.
    std::fs::write(
        logs.join("today.log"),
        passthrough_http("evil.example.net", "203.0.113.7"),
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let o = run(&[
        "check",
        l,
        "--baseline",
        b,
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.starts_with("FAIL: 1 of "), "{text}");
    assert!(text.contains("evil.example.net:80/HTTP"), "{text}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failed: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .map(|n| n.parent().unwrap().attribute("name").unwrap().to_owned())
        .collect();
    assert_eq!(failed, ["evil.example.net:80/HTTP"]);

    // The ratchet: rewriting the baseline accepts it, and drops what is gone.
    std::fs::remove_file(logs.join("allow-any-istio-proxy.log")).unwrap();
    let o = run(&["check", l, "--baseline", b, "-o", "json"]);
    let v = json(&o);
    assert!(
        v["stale_baseline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["host"] == "api.stripe.com"),
        "{v}"
    );
    // An old or damaged baseline is rewritten, not read.
    std::fs::write(&baseline, "version: 7\n").unwrap();
    let o = run(&["check", l, "--baseline", b, "--update-baseline"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let second = std::fs::read_to_string(&baseline).unwrap();
    assert!(second.contains("host: evil.example.net"));
    assert!(!second.contains("api.stripe.com"));
}

#[test]
fn expired_allow_entries_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let allow = dir.path().join("allow.yaml");
    std::fs::write(
        &allow,
        "allow:\n  - host: api.stripe.com\n    port: 443\n    reason: payments\n    expires: 2020-01-31\n  - host: unused.example.com\n    reason: nothing calls it\n",
    )
    .unwrap();
    let a = allow.to_str().unwrap();
    let o = run(&["check", "samples/allow-any", "--allow", a]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains(
            "Expired: allow entry 1 (api.stripe.com port 443) expired on 2020-01-31: payments"
        ),
        "{text}"
    );
    assert!(
        text.contains("allow entry 1 (api.stripe.com port 443) expired on 2020-01-31"),
        "the destination says why it is not allowed: {text}"
    );
    assert!(
        text.contains(
            "Unused: allow entry 2 (unused.example.com (any port)) matched no destination"
        ),
        "{text}"
    );
    // An expired entry fails the check even when nothing else is wrong.
    std::fs::write(
        &allow,
        "allow:\n  - host: nothing.example.com\n    reason: gone\n    expires: 2001-01-01\n  - host: \"*.example\"\n    reason: x\n    expires: 2999-12-31\n",
    )
    .unwrap();
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let o = run(&["check", empty.to_str().unwrap(), "--allow", a, "-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["expired"][0]["host"], "nothing.example.com");
}

#[test]
fn bad_allow_and_baseline_files_are_usage_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("f.yaml");
    let cases = [
        ("allow:\n  - host: a.com\n", "--allow", "reason"),
        (
            "allow:\n  - host: a.com\n    reason: x\n    prot: 1\n",
            "--allow",
            "prot",
        ),
        (
            "allow:\n  - host: a.com\n    cidr: 1.2.3.4\n    reason: x\n",
            "--allow",
            "not both",
        ),
        (
            "allow:\n  - cidr: 1.2.3.4/33\n    reason: x\n",
            "--allow",
            "prefix",
        ),
        (
            "allow:\n  - host: a.com\n    reason: x\n    expires: next week\n",
            "--allow",
            "YYYY-MM-DD",
        ),
        (
            "allow:\n  - host: bad_host!\n    reason: x\n",
            "--allow",
            "host",
        ),
        (
            "allow:\n  - host: \"*\"\n    reason: x\n",
            "--allow",
            "*. and a domain",
        ),
        (
            "allow:\n  - host: \"*foo.com\"\n    reason: x\n",
            "--allow",
            "*. and a domain",
        ),
        ("version: 2\ndestinations: []\n", "--baseline", "version 2"),
        (
            "version: 1\ndestinations:\n- port: 1\n  protocol: TCP\n",
            "--baseline",
            "host or an address",
        ),
    ];
    for (text, flag, says) in cases {
        std::fs::write(&f, text).unwrap();
        let o = run(&["check", "samples/legacy-1.5", flag, f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert!(stderr(&o).contains(says), "{text}: {}", stderr(&o));
    }
}

#[test]
fn unreadable_inputs_and_strict_fail_the_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cut = dir.path().join("cut.log.gz");
    let gz = std::fs::read(root().join("samples/allow-any/istio-proxy.log.1.gz")).unwrap();
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let allow = dir.path().join("allow.yaml");
    std::fs::write(
        &allow,
        "allow:\n  - host: \"*.com\"\n    reason: all\n  - host: \"*.org\"\n    reason: all\n  - host: \"*.io\"\n    reason: all\n  - cidr: 0.0.0.0/0\n    reason: all\n",
    )
    .unwrap();
    let (c, a) = (cut.to_str().unwrap(), allow.to_str().unwrap());
    let junit = dir.path().join("j.xml");
    let o = run(&["check", c, "--allow", a, "--junit", junit.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "an input not read whole exits 3");
    let text = stdout(&o);
    assert!(
        text.starts_with("FAIL: 1 input could not be read"),
        "{text}"
    );
    assert!(text.contains("Unreadable: "), "{text}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert!(
        doc.descendants()
            .any(|n| n.has_tag_name("failure") && n.attribute("type") == Some("unreadable")),
        "{xml}"
    );
    // Malformed lines fail it only with --strict.
    let log = "samples/allow-any/istio-proxy.log";
    let o = run(&["check", log, "--allow", a]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = run(&["check", log, "--allow", a, "--strict"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stdout(&o).contains("malformed lines (--strict)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn coverage_is_per_calling_namespace() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pods = dir.path().join("var/log/containers");
    std::fs::create_dir_all(&pods).unwrap();
    let id = "a".repeat(64);
    for ns in ["billing", "shop"] {
        std::fs::write(
            pods.join(format!("web-6f8d9c7b5-q4w2z_{ns}_istio-proxy-{id}.log")),
            r#"{"log":"[2024-06-03T10:00:00.000Z] \"- - -\" 0 - - - \"-\" 100 200 5 - \"-\" \"-\" \"-\" \"-\" \"142.250.1.1:443\" PassthroughCluster 10.244.1.9:40000 142.250.1.1:443 10.244.1.9:50000 www.googleapis.com -\n","stream":"stdout","time":"2024-06-03T10:00:00.000Z"}"#.to_owned() + "\n",
        )
        .unwrap();
    }
    let d = dir.path().to_str().unwrap();
    let o = run(&["check", d, "--existing", MESH, "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json(&o);
    let g = &v["destinations"][0];
    assert_eq!(g["host"], "www.googleapis.com");
    assert_eq!(g["status"], "uncovered");
    let ns: Vec<&Value> = g["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["namespace"])
        .collect();
    assert_eq!(
        ns,
        [&Value::from("shop")],
        "billing is covered by billing/google-apis"
    );
    let o = run(&[
        "check",
        d,
        "--existing",
        MESH,
        "--exclude-namespace",
        "shop",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn log_text_is_inert_in_markdown_and_junit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("x.log");
    std::fs::write(
        &log,
        passthrough_http("<img|src=x>.example.com", "203.0.113.9"),
    )
    .unwrap();
    let junit = dir.path().join("j.xml");
    let o = run(&[
        "check",
        log.to_str().unwrap(),
        "-o",
        "markdown",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let md = stdout(&o);
    // In a code span: shown as text, never HTML, a link or a table break.
    assert!(
        md.contains("| `<img\\|src=x>.example.com:80/HTTP` |"),
        "{md}"
    );
    assert_eq!(md.matches("<img").count(), 1, "{md}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("still well-formed");
    let name = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .and_then(|n| n.attribute("name"))
        .unwrap();
    assert_eq!(name, "<img|src=x>.example.com:80/HTTP");
}

#[test]
fn migrate_on_samples() {
    let dir = tempfile::tempdir().expect("temp dir");
    let entries = dir.path().join("entries.yaml");
    let o = run(&[
        "migrate",
        "samples/",
        "--existing",
        MESH,
        "--write",
        entries.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "not ready: findings exit 1; {}",
        stderr(&o)
    );
    insta::assert_snapshot!("migrate_samples_text", stdout(&o));
    let yaml = std::fs::read_to_string(&entries).unwrap();
    let docs = yaml_docs(&yaml);
    assert!(!docs.is_empty());
    for d in &docs {
        assert_valid_service_entry(d);
    }
    let o = run(&["migrate", "samples/", "--existing", MESH, "-o", "markdown"]);
    insta::assert_snapshot!("migrate_samples_markdown", stdout(&o));

    let o = run(&["migrate", "samples/", "--existing", MESH, "-o", "json"]);
    let v = json(&o);
    assert_eq!(v["ready"], false);
    let m = &v["mesh"];
    assert!(m["declared_requests"].as_u64() < m["requests"].as_u64());
    // What the entries close is exactly what is open: one entry per gap's namespace and host.
    assert_eq!(v["entries"].as_array().unwrap().len(), docs.len());
    let blocked: u64 = v["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["blocked"].as_u64().unwrap())
        .sum();
    assert!(blocked > 0, "REGISTRY_ONLY samples show what breaks now");
    let steps = v["rollout"].as_array().unwrap();
    assert!(
        steps.last().unwrap()["action"]
            .as_str()
            .unwrap()
            .contains("REGISTRY_ONLY")
    );

    // With the recommended entries applied, every namespace the logs name is ready; callers
    // of unknown namespace stay open (an entry exported to its own namespace may not reach
    // them).
    let o = run(&[
        "migrate",
        "samples/",
        "--existing",
        MESH,
        "--existing",
        entries.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let v = json(&o);
    let gaps = v["gaps"].as_array().unwrap();
    assert!(!gaps.is_empty());
    assert!(gaps.iter().all(|g| g["namespace"].is_null()), "{v}");
    for n in v["namespaces"].as_array().unwrap() {
        if !n["namespace"].is_null() {
            assert_eq!(n["declared_requests"], n["requests"], "{n}");
        }
    }
}

#[test]
fn migrate_states_its_caveats() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("mixed.log");
    let mut text = passthrough_http("api.example.com", "203.0.113.10");
    text.push_str(r#"[2024-06-03T10:00:01.000Z] "- - -" 0 - - - "-" 100 200 5 - "-" "-" "-" "-" "10.244.2.2:8443" outbound|443||istio-egressgateway.istio-system.svc.cluster.local 10.244.1.9:40001 10.96.0.50:443 10.244.1.9:50001 api.partner.example -"#);
    text.push('\n');
    text.push_str(r#"[2024-06-03T10:00:02.000Z] "- - -" 0 - - - "-" 100 200 5 - "-" "-" "-" "-" "198.51.100.4:5432" PassthroughCluster 10.244.1.9:40002 198.51.100.4:5432 10.244.1.9:50002 - -"#);
    text.push('\n');
    text.push_str("2024-06-03T10:00:03.000000Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.0.33:50676 src.workload=\"sleep-7656cf8794-8fhdk\" src.namespace=\"default\" dst.addr=10.244.0.29:15008 dst.hbone_addr=10.244.0.29:80 direction=\"outbound\" bytes_sent=67 bytes_recv=490\n");
    std::fs::write(&log, text).unwrap();
    let ns = dir.path().join("ns.yaml");
    std::fs::write(
        &ns,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels:\n    istio.io/dataplane-mode: ambient\n",
    )
    .unwrap();
    let o = run(&["migrate", log.to_str().unwrap()]);
    let out = stdout(&o);
    assert!(
        out.contains("Ambient mode (1 ztunnel access-log lines were read)"),
        "{out}"
    );
    assert!(
        out.contains("Egress gateway: 1 requests went to an egress gateway"),
        "{out}"
    );
    assert!(
        out.contains("1 undeclared destination is known only by address"),
        "{out}"
    );
    let o = run(&[
        "migrate",
        log.to_str().unwrap(),
        "--existing",
        ns.to_str().unwrap(),
    ]);
    assert!(
        stdout(&o).contains("namespaces in ambient mode: apps"),
        "{}",
        stdout(&o)
    );
    // Neither ambient mode nor a gateway shows in the plain samples.
    let o = run(&["migrate", "samples/"]);
    let out = stdout(&o);
    assert!(
        !out.contains("Ambient") && !out.contains("Egress gateway"),
        "{out}"
    );
}

#[test]
fn a_client_chosen_name_never_makes_traffic_in_mesh() {
    let log = "tests/fixtures/trust/exfil.log";
    // 200 MiB uploaded to 198.51.100.66 under cluster-local names, 50 MiB to a public address.
    let o = run(&["check", log, "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["verdict"], "fail");
    let d = destination(&v, "198.51.100.66");
    assert_eq!(d["status"], "uncovered");
    assert_eq!(d["category"], "private");
    assert_eq!(d["passthrough"], 4);
    let d = destination(&v, "93.184.215.14");
    assert_eq!(
        (&d["status"], &d["category"]),
        (&"uncovered".into(), &"external".into())
    );

    // The report names what the client called it.
    let o = run(&["analyze", log, "-o", "json"]);
    let v = json(&o);
    let d = destination(&v, "198.51.100.66");
    let seen: Vec<&str> = d["seen_as"]
        .as_array()
        .expect("seen_as")
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        seen,
        [
            "exfil",
            "localhost",
            "payload.svc",
            "x.default.svc.cluster.local"
        ]
    );
    assert_eq!(v["lines"]["internal"], 0);
    assert_eq!(v["lines"]["passthrough"], 5);
    // Bytes are named from the workload's side: a 50 MiB POST is an upload.
    assert_eq!(d["bytes_uploaded"], 4 * 52_428_800u64);
    assert_eq!(d["bytes_downloaded"], 8);
    let o = run(&["recommend", log, "--include-private"]);
    assert!(
        stdout(&o).contains("uploaded by the workloads 200.0 MiB, downloaded 8 B"),
        "{}",
        stdout(&o)
    );
    // Nothing is recommended under a client-chosen cluster-local name.
    let o = run(&["recommend", log, "--include-private"]);
    let yaml = stdout(&o);
    for name in ["localhost", "exfil", "payload.svc", "svc.cluster.local"] {
        assert!(
            !yaml_docs(&yaml)
                .iter()
                .any(|d| d["spec"]["hosts"].to_string().contains(name)),
            "{name} in {yaml}"
        );
    }
}

#[test]
fn private_addresses_fail_the_gate_unless_declared() {
    let log = "tests/fixtures/trust/private.log";
    let o = run(&["check", log, "-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    for name in [
        "10.20.0.15",
        "shop-api.azurewebsites.net",
        "169.254.169.254",
    ] {
        let d = destination(&v, name);
        assert_eq!(d["status"], "uncovered", "{name}");
        assert_eq!(d["category"], "private", "{name}");
    }
    assert_eq!(destination(&v, "169.254.169.254")["metadata"], true);
    let warnings = v["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("169.254.169.254:80/HTTP is a cloud metadata service")
    );

    // The text report shows them in a group of their own, and the warning.
    let o = run(&["check", log]);
    let text = stdout(&o);
    assert!(
        text.contains("Not declared: private and special-purpose addresses"),
        "{text}"
    );
    assert!(
        text.contains("Warning: 169.254.169.254:80/HTTP is a cloud metadata service"),
        "{text}"
    );

    // An allow file with CIDRs and hosts covers them; the metadata warning stays.
    let dir = tempfile::tempdir().unwrap();
    let allow = dir.path().join("allow.yaml");
    std::fs::write(
        &allow,
        "allow:\n  - cidr: 10.20.0.0/16\n    port: 5432\n    reason: the VPC database\n  - host: shop-api.azurewebsites.net\n    reason: private endpoint\n  - cidr: 169.254.169.254\n    reason: IMDS for the SDK\n",
    )
    .unwrap();
    let o = run(&["check", log, "--allow", allow.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("Warning: 169.254.169.254:80/HTTP is a cloud metadata service"));

    // --mesh-cidr makes the pod and service ranges in-mesh, and nothing else.
    let o = run(&["check", log, "--mesh-cidr", "10.20.0.0/16", "-o", "json"]);
    let v = json(&o);
    let names: Vec<String> = v["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{}{}", d["host"], d["address"]))
        .collect();
    assert!(!names.iter().any(|n| n.contains("10.20.0.15")), "{names:?}");
    assert_eq!(v["counts"]["uncovered"], 2);
    let o = run(&["check", log, "--mesh-cidr", "10.20.0.1/16"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("host bits set"), "{}", stderr(&o));

    // migrate counts them as what would break.
    let o = run(&["migrate", log, "-o", "json"]);
    let text = stdout(&o);
    assert!(text.contains("10.20.0.15"), "{text}");

    // Every command names the metadata service on standard error.
    for command in ["analyze", "recommend", "migrate"] {
        let o = run(&[command, log]);
        assert!(
            stderr(&o).contains("warning: 169.254.169.254:80/HTTP is a cloud metadata service"),
            "{command}: {}",
            stderr(&o)
        );
    }
    // recommend: a host name outside the cluster domain gets a DNS entry whatever its address;
    // a private address alone and the metadata service only with --include-private.
    let o = run(&["recommend", log]);
    let yaml = stdout(&o);
    let docs = yaml_docs(&yaml);
    assert_eq!(docs.len(), 1, "{yaml}");
    assert_eq!(docs[0]["spec"]["hosts"][0], "shop-api.azurewebsites.net");
    assert_eq!(docs[0]["spec"]["resolution"], "DNS");
    assert!(
        yaml.contains("cloud metadata service: review who calls it"),
        "{yaml}"
    );
    let o = run(&["recommend", log, "--include-private"]);
    assert_eq!(yaml_docs(&stdout(&o)).len(), 3, "{}", stdout(&o));
}

#[test]
fn no_input_is_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let unrelated = dir.path().join("unrelated");
    std::fs::create_dir(&unrelated).unwrap();
    std::fs::write(
        unrelated.join("app.log"),
        "INFO started\nWARN slow request\nINFO done\n",
    )
    .unwrap();
    let empty = empty.to_str().unwrap();
    let unrelated = unrelated.to_str().unwrap();
    for input in [empty, "/dev/null", unrelated] {
        for command in ["check", "migrate"] {
            let o = run(&[command, input]);
            assert_eq!(
                o.status.code(),
                Some(4),
                "{command} {input}: {}",
                stderr(&o)
            );
            assert!(
                stderr(&o).contains("no access-log entry was recognised"),
                "{}",
                stderr(&o)
            );
            // What stdout says agrees with the exit code: never a PASS.
            assert!(
                !stdout(&o).contains("PASS"),
                "{command} {input}: {}",
                stdout(&o)
            );
            assert!(
                stdout(&o).contains("NO INPUT:"),
                "{command} {input}: {}",
                stdout(&o)
            );
            assert!(
                !stdout(&o).contains("Ready"),
                "{command} {input}: {}",
                stdout(&o)
            );
            let o = run(&[command, input, "-o", "json"]);
            if command == "check" {
                assert_eq!(json(&o)["verdict"], "no-input");
            } else {
                assert_eq!(json(&o)["ready"], false);
                assert_eq!(json(&o)["no_input"], true);
            }
            let o = run(&[command, input, "--allow-empty"]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{command} {input} --allow-empty: {}",
                stderr(&o)
            );
        }
    }
    // Every command warns when most lines were not entries, and says what to try.
    let o = run(&["analyze", unrelated]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(
        err.contains("3 of 3 lines are not access-log entries"),
        "{err}"
    );
    assert!(
        err.contains("explain") && err.contains("--log-format"),
        "{err}"
    );
}

#[test]
fn exit_codes_say_one_thing_each() {
    // Findings: 1, even when the reader of stdout stops early.
    let o = cmd().args(["check", "samples/"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(1));
    let sh = format!(
        "{} check samples/ | head -c 1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_egress-advisor")
    );
    let o = std::process::Command::new("bash")
        .args(["-c", &sh])
        .current_dir(root())
        .output()
        .expect("bash");
    assert_eq!(stdout(&o).trim(), "1", "{}", stderr(&o));
    // An unreadable log: 3, for every command that reads logs (findings, when there are
    // some, come first).
    for command in ["analyze", "recommend"] {
        let o = run(&[command, "samples/", "no/such/file.log", "--existing", MESH]);
        assert_eq!(o.status.code(), Some(3), "{command}: {}", stderr(&o));
    }
    let o = run(&[
        "check",
        "samples/",
        "no/such/file.log",
        "--existing",
        MESH,
        "--allow",
        ALLOW,
        "--baseline",
        BASELINE,
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = run(&["check", "samples/", "no/such/file.log"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // Nothing read because nothing could be read: 3, not 4.
    let o = run(&["migrate", "no/such/file.log"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // An output that cannot be written: 3.
    let o = run(&["analyze", "samples/", "--csv", "/no/such/dir/out.csv"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // A damaged configuration file: 2.
    let o = run(&["check", "samples/", "--allow", "samples/README.md"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Declared: 0.
    let o = run(&[
        "check",
        "samples/",
        "--existing",
        MESH,
        "--allow",
        ALLOW,
        "--baseline",
        BASELINE,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn outputs_are_checked_first_and_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A path that cannot be written fails before any input is read: no input is named that
    // exists, yet the error is about the output (exit 3), not the input.
    let o = run(&["analyze", "no/such/log", "--csv", "/no/such/dir/out.csv"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("--csv /no/such/dir/out.csv: cannot write"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("no/such/log"), "{}", stderr(&o));
    // A regular file is replaced whole, and no temporary file is left beside it.
    let junit = d.join("j.xml");
    std::fs::write(&junit, "old").unwrap();
    let o = run(&["check", "samples/", "--junit", junit.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .starts_with("<?xml")
    );
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    // A device is written, never replaced.
    let o = run(&[
        "check",
        "samples/",
        "--junit",
        "/dev/null",
        "--html",
        "/dev/null",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(std::path::Path::new("/dev/null").exists());
    // `-` is standard output only where nothing else writes there.
    for args in [
        &["check", "samples/", "--html", "-"][..],
        &["check", "samples/", "--junit", "-"],
        &["migrate", "samples/", "--write", "-"],
        &["analyze", "samples/", "--html", "-", "--csv", "-"],
        &["analyze", "samples/", "--partial", "-", "-o", "json"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("standard output"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    // `analyze --partial -` writes the partial alone on standard output.
    let o = run(&["analyze", "samples/", "--partial", "-"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("the partial, alone");
    assert_eq!(v["format"], "egress-advisor partial");
    // Standard input has one reader.
    let o = cmd()
        .args(["check", "--existing", "-"])
        .write_stdin(std::fs::read("samples/allow-any/istio-proxy.log").unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("standard input has one reader"),
        "{}",
        stderr(&o)
    );
    // Errors reach stderr in the table mode too.
    let o = run(&["analyze", "samples/", "no/such/file.log"]);
    assert!(stderr(&o).contains("no/such/file.log"), "{}", stderr(&o));
}

#[test]
fn application_containers_cannot_forge_traffic() {
    let log = "tests/fixtures/trust/app-containers.log";
    let node = "tests/fixtures/trust/var";
    let o = run(&["analyze", log, node, "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    // Two lines in envelopes naming the app container, stern's worker, and two lines of the
    // app container's node log file (one CRI, one bare).
    assert_eq!(v["lines"]["application"], 5, "{}", v["lines"]);
    assert_eq!(v["lines"]["passthrough"], 1);
    assert_eq!(v["lines"]["noise"], 1);
    let hosts: Vec<&str> = v["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["host"].as_str())
        .collect();
    assert_eq!(hosts, ["api.stripe.com"]);
    let err = stderr(&o);
    assert!(
        err.contains("5 entry-like lines from application containers (api (4), worker (1)) were not read as traffic"),
        "{err}"
    );
    // check fails only on the proxy's traffic; --containers names the proxies otherwise.
    let o = run(&["check", log, node, "-o", "json"]);
    let v = json(&o);
    assert_eq!(v["counts"]["uncovered"], 1);
    let o = run(&[
        "analyze",
        log,
        node,
        "-o",
        "json",
        "--containers",
        "istio-proxy,api,worker",
    ]);
    let v = json(&o);
    assert_eq!(v["lines"]["application"], 0);
    assert_eq!(v["lines"]["passthrough"], 6);
    // Only app-container entries: nothing recognised as traffic.
    let o = run(&["check", node]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    // explain says why.
    let o = run(&["explain", log]);
    assert!(
        stdout(&o).contains(r#""class":"application""#),
        "{}",
        stdout(&o)
    );
}

#[test]
fn messages_speak_plainly() {
    // One time format in check --json: RFC 3339 with milliseconds, UTC, at every level.
    let o = run(&["check", "samples/", "-o", "json"]);
    let v = json(&o);
    let mut times = Vec::new();
    fn walk(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k.ends_with("_seen") {
                        out.push(x.clone());
                    }
                    walk(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&v, &mut times);
    assert!(times.len() > 20);
    for t in times {
        let t = t
            .as_str()
            .unwrap_or_else(|| panic!("a time that is not text: {t}"));
        assert!(
            t.len() == 24 && t.ends_with('Z') && t.as_bytes()[19] == b'.',
            "{t}"
        );
    }
    // No Rust debug formatting in the settings a partial is refused for.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.json");
    let o = run(&[
        "analyze",
        "samples/",
        "--quiet",
        "--format",
        "json",
        "--since",
        "2024-01-01T00:00:00Z",
        "--partial",
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["merge", p.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for debug in ["Exact(", "Some(", "Window {", "None"] {
        assert!(!err.contains(debug), "{err}");
    }
    assert!(
        err.contains("format=json") && err.contains("window=2024-01-01T00:00:00.000Z .. -"),
        "{err}"
    );
    // Plurals.
    let o = run(&["analyze", "samples/allow-any/istio-proxy.log"]);
    assert!(stdout(&o).contains("Input: 1 file, "), "{}", stdout(&o));
}

#[test]
fn invalid_envelope_names_are_dropped_and_counted() {
    let log = "tests/fixtures/trust/invalid-sources.jsonl";
    let o = run(&["analyze", log, "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["invalid_sources"]["lines"], 3, "{}", v["invalid_sources"]);
    assert_eq!(
        v["invalid_sources"]["example"],
        "tests/fixtures/trust/invalid-sources.jsonl:2"
    );
    let d = destination(&v, "api.example.com");
    let sources: Vec<String> = d["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}/{}={}", s["namespace"], s["workload"], s["requests"]))
        .collect();
    // Each name Kubernetes would refuse is dropped on its own: the other stays.
    assert_eq!(
        sources,
        ["\"shop\"/null=2", "null/\"web\"=1", "\"shop\"/\"web\"=1"],
        "{sources:?}"
    );
    assert!(stderr(&o).contains("3 lines named a namespace or workload Kubernetes would refuse"));
    // The run finishes and writes valid entries: one in shop, one for the unknown writer.
    let o = run(&["recommend", log, "--sidecars"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let docs = yaml_docs(&stdout(&o));
    for d in &docs {
        assert!(
            egress_advisor::validate::document(d).is_some_and(|e| e.is_empty()),
            "{d}"
        );
        let ns = d["metadata"]["namespace"].as_str().unwrap_or("");
        assert!(ns.is_empty() || ns == "shop", "{d}");
    }
}

#[test]
fn combined_and_unknown_envelopes_are_read() {
    let log = "tests/fixtures/trust/combined-envelopes.log";
    let o = run(&["analyze", log, "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    for host in [
        "kubectl-prefix-ts.example.com",
        "stern-ts.example.com",
        "bracketed.example.com",
        "bracketed-ts.example.com",
        "container.example.com",
        // A bare word that is not a proxy container may be a host name a shipper added: the
        // entry is still read as traffic, never set aside on that word alone.
        "node-prefix.example.com",
        "syslog.example.com",
        "syslog-json.example.com",
    ] {
        assert_eq!(destination(&v, host)["passthrough"], 1, "{host}");
    }
    // The prefixes that name the pod name the writer.
    let d = destination(&v, "bracketed-ts.example.com");
    assert_eq!(d["sources"][0]["workload"], "web");
    // Entries behind an unknown prefix are read, their writer unknown, and counted; a line
    // that only mentions an entry-like text stays noise.
    assert_eq!(v["unknown_prefix"], 2);
    assert_eq!(
        destination(&v, "syslog.example.com")["sources"][0]["workload"],
        Value::Null
    );
    assert_eq!(v["lines"]["noise"], 1);
    assert_eq!(v["lines"]["malformed"], 0);
    assert!(
        stderr(&o).contains("2 entries were found after a prefix no known log wrapper explains")
    );
}
