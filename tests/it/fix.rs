//! A failing `check` shows how to close the gap: the ServiceEntries that would cover its
//! undeclared destinations, in every output, and written whole with `--write FILE`. Applying
//! them closes the gap: the same check with them as `--existing` passes.

use serde_json::Value;

use crate::common::*;

fn passthrough_tls(ns: &str, sni: &str, ip: &str) -> String {
    format!(
        r#"{{"log": "[2024-06-03T10:00:00.000Z] \"- - -\" 0 - - - \"-\" 100 200 5 - \"-\" \"-\" \"-\" \"-\" \"{ip}:443\" PassthroughCluster 10.244.1.9:40000 {ip}:443 10.244.1.9:50000 {sni} -", "kubernetes": {{"namespace_name": "{ns}", "pod_name": "app-7d4b9c6f5-x2k8p", "container_name": "istio-proxy"}}}}"#
    ) + "\n"
}

#[test]
fn the_written_entries_close_the_gap_on_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let fix = dir.path().join("fix.yaml");
    let o = run(&[
        "check",
        "-o",
        "json",
        "--write",
        fix.to_str().unwrap(),
        "samples/",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let verdict: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let outline = verdict["fix"].as_array().unwrap();
    assert!(!outline.is_empty());
    let yaml = std::fs::read_to_string(&fix).unwrap();
    let docs = yaml_docs(&yaml);
    assert_eq!(docs.len(), outline.len(), "one manifest per entry listed");
    for (d, e) in docs.iter().zip(outline) {
        assert_valid_service_entry(d);
        assert_eq!(d["metadata"]["name"], e["name"]);
    }
    let o = run(&["validate", fix.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));

    // Applied, they leave nothing undeclared that the logs place in a namespace: an entry
    // without a namespace is applied wherever kubectl puts it, so it never counts as covering
    // callers the logs do not name.
    let o = run(&[
        "check",
        "-o",
        "json",
        "--existing",
        fix.to_str().unwrap(),
        "samples/",
    ]);
    let after: Value = serde_json::from_str(&stdout(&o)).unwrap();
    for d in after["destinations"].as_array().unwrap() {
        if d["status"] == "uncovered" {
            for u in d["namespaces"].as_array().unwrap() {
                assert!(u["namespace"].is_null(), "{d:#}");
            }
        }
    }
    assert!(
        after["counts"]["uncovered"].as_u64().unwrap()
            < verdict["counts"]["uncovered"].as_u64().unwrap()
    );
}

#[test]
fn accepted_and_covered_destinations_get_no_entry() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("x.log");
    std::fs::write(
        &log,
        passthrough_tls("shop", "api.stripe.com", "203.0.113.10")
            + &passthrough_tls("shop", "old.example.org", "203.0.113.11")
            + &passthrough_tls("billing", "api.stripe.com", "203.0.113.10"),
    )
    .unwrap();
    let allow = dir.path().join("allow.yaml");
    std::fs::write(
        &allow,
        "allow:\n  - host: old.example.org\n    reason: migration\n",
    )
    .unwrap();
    // An existing entry declares api.stripe.com for `billing` alone.
    let existing = dir.path().join("existing.yaml");
    std::fs::write(
        &existing,
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: stripe\n  namespace: billing\nspec:\n  hosts: [api.stripe.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n  exportTo: [\".\"]\n  ports:\n    - number: 443\n      name: tls-443\n      protocol: TLS\n",
    )
    .unwrap();
    let fix = dir.path().join("fix.yaml");
    let o = run(&[
        "check",
        "-o",
        "json",
        "--allow",
        allow.to_str().unwrap(),
        "--existing",
        existing.to_str().unwrap(),
        "--write",
        fix.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let verdict: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let fix_out: Vec<String> = verdict["fix"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["namespace"].as_str().unwrap(),
                e["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(fix_out, ["shop/api.stripe.com"], "{verdict:#}");
    let docs = yaml_docs(&std::fs::read_to_string(&fix).unwrap());
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["metadata"]["namespace"], "shop");
    assert_eq!(docs[0]["spec"]["hosts"][0], "api.stripe.com");

    // Applied with the existing entry, the check passes.
    let o = run(&[
        "check",
        "--allow",
        allow.to_str().unwrap(),
        "--existing",
        existing.to_str().unwrap(),
        "--existing",
        fix.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn a_passing_check_writes_no_entry() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("x.log");
    std::fs::write(
        &log,
        passthrough_tls("shop", "api.stripe.com", "203.0.113.10"),
    )
    .unwrap();
    let allow = dir.path().join("allow.yaml");
    std::fs::write(
        &allow,
        "allow:\n  - host: api.stripe.com\n    reason: known\n",
    )
    .unwrap();
    let fix = dir.path().join("fix.yaml");
    let o = run(&[
        "check",
        "-o",
        "json",
        "--allow",
        allow.to_str().unwrap(),
        "--write",
        fix.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let verdict: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(verdict["fix"], serde_json::json!([]));
    assert!(yaml_docs(&std::fs::read_to_string(&fix).unwrap()).is_empty());
}

/// The Markdown summary lists the entries and holds their YAML in a fence that nothing in it
/// can close, whatever a log line wrote.
#[test]
fn the_markdown_summary_holds_the_manifests_in_a_fence() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("x.log");
    let mut text = passthrough_tls("shop", "api.stripe.com", "203.0.113.10");
    // A workload name with backticks and markup reaches the evidence comments.
    text.push_str(
        &passthrough_tls("shop", "x.example.com", "203.0.113.12").replace(
            "app-7d4b9c6f5-x2k8p",
            "````</details><img src=x>-7d4b9c6f5-x2k8p",
        ),
    );
    std::fs::write(&log, text).unwrap();
    let o = run(&["check", "-o", "markdown", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(
        md.contains("#### ServiceEntries that close the gap (2"),
        "{md}"
    );
    assert!(
        md.contains("<details><summary>The manifests (2 of 2)</summary>"),
        "{md}"
    );
    // The fence opens and closes once, longer than any run of backticks inside.
    let open = md.find("yaml\n").expect("a yaml fence");
    let fence: String = md[..open].chars().rev().take_while(|&c| c == '`').collect();
    assert!(fence.len() >= 3);
    let body = &md[open + 5..];
    let close = body
        .find(&format!("\n{fence}\n"))
        .expect("the fence closes");
    let yaml = &body[..close + 1];
    assert!(!yaml.lines().any(|l| l.starts_with(&fence)), "{yaml}");
    assert_eq!(yaml_docs(yaml).len(), 2, "{yaml}");
    assert_eq!(
        md.matches("</details>").count(),
        1 + md.matches("declared destinations").count(),
        "{md}"
    );
}
