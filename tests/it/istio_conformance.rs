//! Istio's own validation cases, run through `validate`: one fixture per case under
//! `tests/fixtures/istio-validation/`, listed in its `cases.json` with Istio's verdict (`valid`,
//! `warning` or `invalid`), the Istio file and commit it comes from, and the rule it exercises.
//!
//! `validate`'s verdict is read from its JSON output and exit code: `invalid` is exit 1 with an
//! error, `warning` exit 0 with warnings and no error, `valid` exit 0 with neither.
//!
//! Agreement is held at a floor per kind: today's measure, to be raised as `validate` learns
//! istiod's rules, and printed with every disagreement (`--nocapture` shows them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::common::{root, run, stdout, yaml_docs};

const DIR: &str = "tests/fixtures/istio-validation";

/// Cases ported per kind: deleting a fixture (and its line in `cases.json`) fails.
const PORTED_SERVICE_ENTRY: usize = 92;
const PORTED_SIDECAR: usize = 75;

/// Cases on which `validate` gives Istio's verdict today; raise these as rules land.
const AGREE_SERVICE_ENTRY: usize = 92;
const AGREE_SIDECAR: usize = 75;

struct Case {
    file: String,
    kind: String,
    name: String,
    rule: String,
    layer: String,
    istio: String,
}

struct Outcome {
    case: Case,
    got: String,
    messages: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(root().join(DIR).join("cases.json")).expect("cases.json");
    let manifest: Value = serde_json::from_str(&text).expect("cases.json is JSON");
    let field = |c: &Value, k: &str| -> String {
        c[k].as_str()
            .unwrap_or_else(|| panic!("case {c} has no string {k:?}"))
            .to_owned()
    };
    manifest["cases"]
        .as_array()
        .expect("a cases list")
        .iter()
        .map(|c| {
            for k in ["repository", "path", "commit"] {
                assert!(
                    c["source"][k].as_str().is_some_and(|s| !s.is_empty()),
                    "case {} names no source {k}",
                    c["file"]
                );
            }
            Case {
                file: field(c, "file"),
                kind: field(c, "kind"),
                name: field(c, "case"),
                rule: field(c, "rule"),
                layer: field(c, "layer"),
                istio: field(c, "verdict"),
            }
        })
        .collect()
}

/// `validate`'s verdict on one fixture, with its messages: `invalid` when it exits 1 with an
/// error, `warning` when it exits 0 with warnings and no error, `valid` when it exits 0 with
/// neither. Anything else (a warning-only run exiting 1, an error exiting 0) is its own verdict
/// and agrees with no case.
fn verdict(file: &str) -> (String, Vec<String>) {
    let path = format!("{DIR}/{file}");
    let out = run(&["validate", "-o", "json", &path]);
    let Ok(report) = serde_json::from_str::<Value>(&stdout(&out)) else {
        return (format!("exit {:?}, no JSON", out.status.code()), Vec::new());
    };
    let list = |k: &str| -> Vec<String> {
        report["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|m| m[k].as_array().cloned().unwrap_or_default())
            .map(|m| {
                format!(
                    "{}{}: {}: {}",
                    m["level"].as_str().unwrap_or("?"),
                    m["code"]
                        .as_str()
                        .map(|c| format!("[{c}]"))
                        .unwrap_or_default(),
                    m["field"].as_str().unwrap_or(""),
                    m["message"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    let (errors, warnings) = (list("errors"), list("warnings"));
    let got = match (out.status.code(), errors.is_empty(), warnings.is_empty()) {
        (Some(1), false, _) => "invalid".to_owned(),
        (Some(0), true, false) => "warning".to_owned(),
        (Some(0), true, true) => "valid".to_owned(),
        (code, e, w) => format!("exit {code:?} (errors: {}, warnings: {})", !e, !w),
    };
    let mut messages = errors;
    messages.extend(warnings);
    (got, messages)
}

fn outcomes() -> Vec<Outcome> {
    cases()
        .into_iter()
        .map(|case| {
            let (got, messages) = verdict(&case.file);
            Outcome {
                case,
                got,
                messages,
            }
        })
        .collect()
}

/// The disagreements, by kind and rule, as a table.
fn table(outcomes: &[Outcome]) -> String {
    let mut by_rule: BTreeMap<(&str, &str), Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.got != o.case.istio) {
        by_rule
            .entry((&o.case.kind, &o.case.rule))
            .or_default()
            .push(o);
    }
    let mut s = String::new();
    for ((kind, rule), list) in &by_rule {
        s += &format!("{kind} / {rule}: {} disagreement(s)\n", list.len());
        for o in list {
            s += &format!(
                "  istio {:<7} validate {:<7} [{}] {} ({})",
                o.case.istio, o.got, o.case.layer, o.case.name, o.case.file
            );
            if let Some(m) = o.messages.first() {
                s += &format!(": {m}");
            }
            s += "\n";
        }
    }
    s
}

fn agreement(outcomes: &[Outcome], kind: &str) -> (usize, usize) {
    let of_kind: Vec<_> = outcomes.iter().filter(|o| o.case.kind == kind).collect();
    let agree = of_kind.iter().filter(|o| o.got == o.case.istio).count();
    (agree, of_kind.len())
}

#[test]
fn every_fixture_is_a_listed_case() {
    let cases = cases();
    let listed: BTreeSet<&str> = cases.iter().map(|c| c.file.as_str()).collect();
    assert_eq!(listed.len(), cases.len(), "a fixture is listed twice");
    let on_disk: BTreeSet<String> = std::fs::read_dir(root().join(DIR))
        .expect("the fixture folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    let unlisted: Vec<_> = on_disk
        .iter()
        .filter(|n| !listed.contains(n.as_str()))
        .collect();
    assert!(
        unlisted.is_empty(),
        "fixtures not in cases.json: {unlisted:?}"
    );
    for c in &cases {
        let path = root().join(DIR).join(&c.file);
        assert!(
            Path::new(&path).is_file(),
            "{} is listed but missing",
            c.file
        );
        assert!(
            ["valid", "warning", "invalid"].contains(&c.istio.as_str()),
            "{}: verdict {:?}",
            c.file,
            c.istio
        );
        let docs = yaml_docs(&std::fs::read_to_string(&path).expect("fixture"));
        assert_eq!(docs.len(), 1, "{}: one manifest per fixture", c.file);
        assert_eq!(docs[0]["kind"], c.kind.as_str(), "{}: kind", c.file);
        assert_eq!(
            docs[0]["apiVersion"], "networking.istio.io/v1",
            "{}",
            c.file
        );
    }
    let count = |kind: &str| cases.iter().filter(|c| c.kind == kind).count();
    assert!(count("ServiceEntry") >= PORTED_SERVICE_ENTRY);
    assert!(count("Sidecar") >= PORTED_SIDECAR);
    assert_eq!(count("ServiceEntry") + count("Sidecar"), cases.len());
}

#[test]
fn agreement_with_istio_does_not_fall() {
    let outcomes = outcomes();
    let table = table(&outcomes);
    println!("disagreements with Istio's verdicts:\n{table}");
    for (kind, floor) in [
        ("ServiceEntry", AGREE_SERVICE_ENTRY),
        ("Sidecar", AGREE_SIDECAR),
    ] {
        let (agree, total) = agreement(&outcomes, kind);
        println!("{kind}: {agree}/{total} agree");
        assert!(
            agree >= floor,
            "{kind}: validate agrees with Istio on {agree}/{total} cases, below the floor of \
             {floor}:\n{table}"
        );
        // A ratchet: when validate learns a rule, the floor rises with it, so that the figure
        // here is always today's; the goal is the total.
        assert!(
            agree == floor,
            "{kind}: validate now agrees with Istio on {agree}/{total} cases: raise the floor \
             from {floor} to {agree}"
        );
    }
}
