//! `check --sarif FILE`: SARIF 2.1.0 that the official schema accepts, one result per finding,
//! fingerprints that identify a finding across runs, locations where the fix would go, and
//! GitHub's limits kept.

use std::path::Path;

use serde_json::Value;

use crate::common::*;

fn passthrough_tls(sni: &str, ip: &str) -> String {
    format!(
        r#"[2024-06-03T10:00:00.000Z] "- - -" 0 - - - "-" 100 200 5 - "-" "-" "-" "-" "{ip}:443" PassthroughCluster 10.244.1.9:40000 {ip}:443 10.244.1.9:50000 {sni} -"#
    ) + "\n"
}

/// Runs `check` with `--sarif`, checks the file against the schema, and returns it with the
/// check's JSON verdict.
fn sarif(dir: &Path, args: &[&str]) -> (Value, Value) {
    let out = dir.join("check.sarif");
    let mut all = vec!["check", "-o", "json", "--sarif", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = run(&all);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let verdict: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let text = std::fs::read_to_string(&out).expect("the SARIF file");
    let log: Value = serde_json::from_str(&text).expect("SARIF is JSON");
    let errors: Vec<String> = schema("sarif-schema-2.1.0.json")
        .iter_errors(&log)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF schema: {errors:#?}");
    (log, verdict)
}

#[test]
fn one_result_per_undeclared_destination_on_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let (log, verdict) = sarif(dir.path(), &["samples/"]);
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let results = run["results"].as_array().unwrap();
    let errors = results.iter().filter(|r| r["level"] == "error").count();
    assert_eq!(
        errors as u64,
        verdict["counts"]["uncovered"].as_u64().unwrap(),
        "one error per undeclared destination"
    );
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"], "ruleIndex names the rule");
        assert!(r["partialFingerprints"]["egressFinding/v1"].is_string());
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "samples/",
            "without an allow file, existing config or baseline: the logs"
        );
    }
    // Every undeclared destination of the verdict is a result.
    for d in verdict["destinations"].as_array().unwrap() {
        if d["status"] == "uncovered" {
            let name = d["host"].as_str().or(d["address"].as_str()).unwrap();
            assert!(
                results.iter().any(|r| r["properties"]["destination"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{name}:"))),
                "{name}"
            );
        }
    }
}

#[test]
fn fingerprints_do_not_depend_on_threads_or_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = std::fs::read_dir(root().join("samples/allow-any")).unwrap();
    let mut files: Vec<String> = a.map(|e| e.unwrap().path().display().to_string()).collect();
    files.sort();
    let args = |files: &[String], j: &str| -> Vec<String> {
        let mut v = vec!["-j".to_owned(), j.to_owned()];
        v.extend_from_slice(files);
        v
    };
    let one = args(&files, "1");
    let (first, _) = sarif(
        dir.path(),
        &one.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    files.reverse();
    let two = args(&files, "2");
    let (second, _) = sarif(
        dir.path(),
        &two.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let prints = |log: &Value| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["properties"]["destination"].as_str().unwrap().to_owned(),
                    r["partialFingerprints"]["egressFinding/v1"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert!(!prints(&first).is_empty());
    assert_eq!(prints(&first), prints(&second));
}

#[test]
fn results_point_at_the_allow_file_and_name_expired_entries() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("x.log");
    std::fs::write(
        &log,
        passthrough_tls("api.example.com", "203.0.113.10")
            + &passthrough_tls("old.example.org", "203.0.113.11")
            + &passthrough_tls("\u{202e}evil\"<b>.example.net", "203.0.113.12"),
    )
    .unwrap();
    let allow = dir.path().join("egress allow.yaml");
    std::fs::write(
        &allow,
        "allow:\n  - host: old.example.org\n    reason: migration\n    expires: 2020-01-01\n",
    )
    .unwrap();
    let (sarif, _) = sarif(
        dir.path(),
        &["--allow", allow.to_str().unwrap(), log.to_str().unwrap()],
    );
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let uri = |r: &Value| {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let expired: Vec<&Value> = results.iter().filter(|r| r["ruleId"] == "EA004").collect();
    assert_eq!(expired.len(), 1, "{results:#?}");
    assert!(
        expired[0]["message"]["text"]
            .as_str()
            .unwrap()
            .contains("2020-01-01")
    );
    // An expired entry stands for no log entries: its count is 0, whatever orders it first.
    assert_eq!(expired[0]["properties"]["entries"], 0, "{:#?}", expired[0]);
    for r in results {
        assert!(uri(r).ends_with("egress%20allow.yaml"), "{}", uri(r));
    }
    // A hostile name is a JSON string like any other.
    assert!(results.iter().any(|r| {
        r["properties"]["destination"]
            .as_str()
            .unwrap()
            .starts_with("\u{202e}evil\"<b>.example.net")
    }));
}

#[test]
fn past_githubs_limits_the_most_significant_results_stay() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("many.log");
    let mut text = String::new();
    // 25,100 destinations, the first 100 with more entries than the rest.
    for i in 0..25_100u32 {
        let line = passthrough_tls(
            &format!("h{i}.example-{}.com", i % 7),
            &format!("198.{}.{}.{}", 18 + (i >> 16), (i >> 8) & 255, i & 255),
        );
        for _ in 0..if i < 100 { 3 } else { 1 } {
            text.push_str(&line);
        }
    }
    std::fs::write(&log, text).unwrap();
    let (sarif, verdict) = sarif(dir.path(), &["-q", log.to_str().unwrap()]);
    let run = &sarif["runs"][0];
    let results = run["results"].as_array().unwrap();
    // Whichever limit comes first: 25,000 results or 10 MB.
    assert!(
        results.len() <= 25_000 && results.len() > 20_000,
        "{}",
        results.len()
    );
    let total = verdict["counts"]["uncovered"].as_u64().unwrap() as usize;
    let left_out = run["properties"]["resultsLeftOut"].as_u64().unwrap() as usize;
    assert!(total >= 25_100);
    // The other findings are the high-cardinality parents, which the verdict warns about.
    let warnings = verdict["warnings"].as_array().unwrap().len();
    assert!(warnings > 0, "seven parents of thousands of names each");
    assert_eq!(
        results.len() + left_out,
        total + warnings,
        "every finding counted"
    );
    assert!(left_out >= 100);
    let note = run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
        .as_str()
        .unwrap();
    assert!(note.contains(&format!("{left_out} of")), "{note}");
    // Errors with the most entries come first and are all kept.
    for r in &results[..100] {
        assert_eq!(r["properties"]["entries"], 3, "{r}");
    }
    assert!(
        std::fs::metadata(dir.path().join("check.sarif"))
            .unwrap()
            .len()
            <= 10_000_000
    );
}

/// An upload of an empty result set closes every open alert: a run that checked nothing (no
/// entry recognised) or read an input only in part must say that it did not succeed, which
/// code scanning treats as a failed run and keeps the alerts it has.
#[test]
fn a_run_that_checked_nothing_is_not_a_successful_execution() {
    let dir = tempfile::tempdir().unwrap();
    let noise = dir.path().join("noise.log");
    std::fs::write(&noise, "hello\nnot an access log\n").unwrap();
    let out = dir.path().join("check.sarif");
    let o = run(&[
        "check",
        "--sarif",
        out.to_str().unwrap(),
        noise.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(schema("sarif-schema-2.1.0.json").is_valid(&log));
    let inv = &log["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false, "{inv:#?}");
    let notes = inv["toolExecutionNotifications"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n["level"] == "error"
            && n["message"]["text"]
                .as_str()
                .unwrap()
                .contains("No access-log entry")),
        "{notes:#?}"
    );
    assert_eq!(log["runs"][0]["properties"]["verdict"], "no-input");

    // With --allow-empty an empty input is expected: the run succeeded.
    let o = run(&[
        "check",
        "--allow-empty",
        "--sarif",
        out.to_str().unwrap(),
        noise.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        log["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
}
