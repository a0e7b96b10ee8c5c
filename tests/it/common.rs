//! What every test of the binary uses.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn cmd() -> Command {
    let mut c = Command::cargo_bin("egress-advisor").expect("binary");
    c.current_dir(root());
    c
}

pub fn run(args: &[&str]) -> Output {
    cmd().args(args).output().expect("runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every document of a YAML stream, as JSON values.
pub fn yaml_docs(yaml: &str) -> Vec<Value> {
    egress_advisor::yaml::documents(yaml)
        .expect("the output parses as YAML")
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

pub fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("schemas").join(name)).expect("schema");
    let schema: Value = serde_json::from_str(&text).expect("schema JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

/// Checks a manifest against the CRD schema and istiod's rules.
pub fn assert_valid_service_entry(doc: &Value) {
    let v = schema("serviceentry.schema.json");
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors in {doc}: {errors:?}");
    let istiod = egress_advisor::validate::service_entry(doc);
    assert!(istiod.is_empty(), "istiod rules reject {doc}: {istiod:?}");
}

/// The destination of a JSON report (`analyze --json`, `check --json`) with this host or
/// address; panics naming it when there is none.
pub fn destination<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["destinations"]
        .as_array()
        .expect("a destinations list")
        .iter()
        .find(|d| d["host"] == name || d["address"] == name)
        .unwrap_or_else(|| panic!("no destination {name}"))
}
