//! `egress-advisor telemetry`: the stream parses, the Telemetry passes its CRD schema, the
//! MeshConfig fragment defines the provider the Telemetry names, an existing namespace-wide
//! Telemetry is merged rather than duplicated, and hostile names never reach the output.

use crate::common::*;

use serde_json::{Value, json};

/// The MeshConfig fragment: the `#| ` lines of the stream, as the documented `sed` takes them.
fn mesh_fragment(stream: &str) -> Value {
    let text: String = stream
        .lines()
        .filter_map(|l| l.strip_prefix("#| "))
        .map(|l| format!("{l}\n"))
        .collect();
    egress_advisor::yaml::document(&text).expect("the #| lines are one YAML document")
}

fn assert_valid_telemetry(doc: &Value) {
    let v = schema("telemetry.schema.json");
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors in {doc}: {errors:?}");
}

/// Runs `telemetry ARGS`, checks it exits 0, and gives its stream, the one Telemetry in it and
/// the MeshConfig fragment.
fn telemetry(args: &[&str]) -> (String, Value, Value) {
    let mut all = vec!["telemetry"];
    all.extend_from_slice(args);
    let o = run(&all);
    assert!(o.status.success(), "{all:?}: {}", stderr(&o));
    let out = stdout(&o);
    let docs = yaml_docs(&out);
    assert_eq!(docs.len(), 1, "one object (the Telemetry): {out}");
    let t = docs[0].clone();
    assert_valid_telemetry(&t);
    assert!(
        stderr(&o).contains("does not apply to ztunnel"),
        "{}",
        stderr(&o)
    );
    let mesh = mesh_fragment(&out);
    (out, t, mesh)
}

#[test]
fn telemetry_prints_a_valid_mesh_wide_telemetry_and_its_provider() {
    let (out, t, mesh) = telemetry(&["--istio-version", "1.24"]);
    assert_eq!(t["apiVersion"], "telemetry.istio.io/v1");
    assert_eq!(t["kind"], "Telemetry");
    assert_eq!(t["metadata"]["namespace"], "istio-system");
    assert_eq!(t["metadata"]["name"], "mesh-default");
    assert!(t["spec"].get("selector").is_none());
    let logging = t["spec"]["accessLogging"].as_array().expect("a list");
    assert_eq!(logging.len(), 1);
    let expr = logging[0]["filter"]["expression"]
        .as_str()
        .expect("a string");
    for clause in [
        "'PassthroughCluster'",
        "'BlackHoleCluster'",
        "xds.route_name == 'block_all'",
        "!xds.cluster_name.endsWith('.cluster.local')",
        "has(xds.cluster_name)",
        "has(xds.route_name)",
    ] {
        assert!(expr.contains(clause), "{clause} missing: {expr}");
    }
    // The provider named is the one the fragment defines, writing Istio's text format to stdout.
    let provider = &logging[0]["providers"][0]["name"];
    let defined = &mesh["meshConfig"]["extensionProviders"][0];
    assert_eq!(&defined["name"], provider);
    assert_eq!(defined["envoyFileAccessLog"]["path"], "/dev/stdout");
    let format = defined["envoyFileAccessLog"]["logFormat"]["text"]
        .as_str()
        .expect("a text format");
    assert!(
        format.starts_with("[%START_TIME%] \"%REQ(:METHOD)%"),
        "{format}"
    );
    assert!(format.contains(" %UPSTREAM_CLUSTER_RAW% "), "{format}");
    assert!(
        format.ends_with(" %REQUESTED_SERVER_NAME% %ROUTE_NAME%"),
        "{format}"
    );
    // Every fact is cited.
    for source in [
        "docs/root/intro/arch_overview/advanced/attributes.rst",
        "source/extensions/filters/common/expr/context.cc",
        "pilot/pkg/networking/core/accesslog.go",
        "telemetry/v1alpha1/telemetry.proto",
        "doc/langdef.md",
        "ztunnel",
    ] {
        assert!(out.contains(source), "{source} not cited");
    }
}

#[test]
fn telemetry_follows_the_istio_version_and_the_namespace() {
    let (_, t, mesh) = telemetry(&[
        "shop",
        "--istio-version",
        "1.20",
        "--cluster-domain",
        "corp.internal",
    ]);
    assert_eq!(t["apiVersion"], "telemetry.istio.io/v1alpha1");
    assert_eq!(t["metadata"]["namespace"], "shop");
    assert_eq!(t["metadata"]["name"], "default");
    let expr = t["spec"]["accessLogging"][0]["filter"]["expression"]
        .as_str()
        .expect("a string");
    assert!(expr.contains("endsWith('.corp.internal')"), "{expr}");
    let format =
        mesh["meshConfig"]["extensionProviders"][0]["envoyFileAccessLog"]["logFormat"]["text"]
            .as_str()
            .expect("a text format");
    // The Envoy of Istio 1.22 and before has no %UPSTREAM_CLUSTER_RAW%.
    assert!(!format.contains("_RAW"), "{format}");
    assert!(format.contains(" %UPSTREAM_CLUSTER% "), "{format}");

    let o = run(&["telemetry", "--istio-version", "1.15"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("1.16.2"), "{}", stderr(&o));
}

#[test]
fn telemetry_merges_the_existing_namespace_wide_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let current = dir.path().join("current.yaml");
    std::fs::write(
        &current,
        r#"apiVersion: v1
kind: List
items:
- apiVersion: telemetry.istio.io/v1
  kind: Telemetry
  metadata:
    name: mesh-default
    namespace: istio-system
    resourceVersion: "4242"
    uid: 0b1c
    labels:
      team: platform
  spec:
    tracing:
    - randomSamplingPercentage: 1.0
    accessLogging:
    - providers:
      - name: envoy
  status:
    observedGeneration: 2
- apiVersion: telemetry.istio.io/v1
  kind: Telemetry
  metadata:
    name: frontend-only
    namespace: istio-system
  spec:
    selector:
      matchLabels:
        app: frontend
    accessLogging:
    - disabled: true
- apiVersion: networking.istio.io/v1
  kind: ServiceEntry
  metadata:
    name: api
    namespace: istio-system
  spec:
    hosts: [api.example.com]
    ports: [{number: 443, name: https, protocol: TLS}]
"#,
    )
    .expect("writes");
    let path = current.to_str().expect("UTF-8 path");
    let (out, t, _) = telemetry(&["--existing", path, "--istio-version", "1.24"]);
    assert_eq!(t["metadata"]["name"], "mesh-default");
    assert_eq!(t["metadata"]["labels"], json!({"team": "platform"}));
    assert!(t["metadata"].get("resourceVersion").is_none());
    assert!(t.get("status").is_none());
    assert_eq!(
        t["spec"]["tracing"],
        json!([{"randomSamplingPercentage": 1.0}])
    );
    let logging = t["spec"]["accessLogging"].as_array().expect("a list");
    assert_eq!(logging.len(), 1);
    assert_eq!(logging[0]["providers"][0]["name"], "egress-advisor");
    // What was replaced is shown, never dropped silently.
    assert!(out.contains("Merged into the existing Telemetry istio-system/mesh-default"));
    assert!(out.contains("#     - name: envoy"), "{out}");
    let o = run(&["telemetry", "--existing", path]);
    assert!(stderr(&o).contains("is replaced"), "{}", stderr(&o));

    // Two namespace-wide Telemetries in one namespace: the user says which is in effect.
    let two = dir.path().join("two.yaml");
    std::fs::write(
        &two,
        "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: a, namespace: istio-system}\nspec: {}\n---\napiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: b, namespace: istio-system}\nspec: {}\n",
    )
    .expect("writes");
    let o = run(&["telemetry", "--existing", two.to_str().expect("UTF-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("IST0160"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
}

#[test]
fn telemetry_refuses_hostile_values() {
    for args in [
        vec!["telemetry", "kube-system\n---\nkind: Secret"],
        vec!["telemetry", "x'||true||'"],
        vec!["telemetry", "../etc"],
        vec!["telemetry", "Istio-System"],
        vec!["telemetry", "--root-namespace", "a b"],
        vec!["telemetry", "--cluster-domain", "x') || true || ('"],
        vec!["telemetry", "--cluster-domain", "local\n#"],
        vec!["telemetry", "--istio-version", "1.24\n---"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?} wrote {}", stdout(&o));
    }

    // An existing Telemetry is the user's, but its values stay values: they cannot add a
    // document, a key or a comment line that breaks out.
    let dir = tempfile::tempdir().expect("temp dir");
    let hostile = dir.path().join("hostile.yaml");
    let label = "x\n---\nkind: Secret\u{2028}# y";
    let doc = json!({
        "apiVersion": "telemetry.istio.io/v1",
        "kind": "Telemetry",
        "metadata": {"name": "mesh-default", "namespace": "istio-system",
            "annotations": {"note": label}},
        "spec": {"accessLogging": [{"providers": [{"name": "p\n---\nkind: Secret\u{2029}"}]}]},
    });
    std::fs::write(&hostile, doc.to_string()).expect("writes");
    let (out, t, _) = telemetry(&["--existing", hostile.to_str().expect("UTF-8")]);
    assert_eq!(t["metadata"]["annotations"]["note"], label);
    for c in ['\r', '\u{85}', '\u{2028}', '\u{2029}'] {
        assert!(!out.contains(c), "{c:?} reached the stream");
    }
    assert!(!out.lines().any(|l| l.starts_with("kind: Secret")), "{out}");

    // A name Kubernetes would refuse is refused.
    let bad = dir.path().join("bad.yaml");
    let mut d = doc.clone();
    d["metadata"]["name"] = json!("mesh-default\nkind: Secret");
    std::fs::write(&bad, d.to_string()).expect("writes");
    let o = run(&["telemetry", "--existing", bad.to_str().expect("UTF-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

/// The Python that has Google's CEL bindings of cel-cpp (the CEL runtime Envoy embeds), from
/// PyPI's `cel-expr-python`: `EGRESS_ADVISOR_CEL_PYTHON`, else the virtual environment `.ci/run`
/// makes in `target/cel-venv`.
fn cel_python() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var_os("EGRESS_ADVISOR_CEL_PYTHON").map(std::path::PathBuf::from),
        Some(root().join("target/cel-venv/bin/python")),
    ];
    candidates.into_iter().flatten().find(|py| {
        std::process::Command::new(py)
            .args(["-c", "import cel_expr_python.cel"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Evaluates the expression over maps of attributes, as Envoy's activation gives them: an
/// attribute Envoy does not set is a key the map lacks. Prints one JSON value per case: the
/// result, or `"error"`.
const CEL_EVAL: &str = r#"
import json, sys
import cel_expr_python.cel as cel
job = json.load(sys.stdin)
dyn_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
env = cel.NewEnv(variables={"xds": dyn_map, "response": dyn_map})
expr = env.compile(job["expression"])
out = []
for case in job["cases"]:
    try:
        out.append(expr.eval(data=case).value())
    except Exception:
        out.append("error")
print(json.dumps([v if isinstance(v, bool) else "error" for v in out]))
"#;

#[test]
#[ignore = "needs cel-expr-python"]
fn telemetry_filter_selects_egress_under_cel_cpp() {
    let py = cel_python().expect(
        "python with cel_expr_python: python3 -m venv target/cel-venv && target/cel-venv/bin/pip install cel-expr-python",
    );
    let (_, t, _) = telemetry(&["--cluster-domain", "cluster.local"]);
    let expression = t["spec"]["accessLogging"][0]["filter"]["expression"].clone();
    // (what, xds attributes, response attributes, logged): TCP has no route and no response code;
    // a direct response (block_all) picks no cluster.
    let cases = [
        (
            "HTTP passthrough",
            json!({"cluster_name": "PassthroughCluster", "route_name": "allow_any"}),
            json!({"code": 200}),
            true,
        ),
        (
            "TCP passthrough",
            json!({"cluster_name": "PassthroughCluster"}),
            json!({}),
            true,
        ),
        (
            "HTTP refused",
            json!({"route_name": "block_all"}),
            json!({"code": 502}),
            true,
        ),
        (
            "TCP refused",
            json!({"cluster_name": "BlackHoleCluster"}),
            json!({}),
            true,
        ),
        (
            "HTTP dynamic DNS",
            json!({"cluster_name": "AllowAnyDynamicDNSCluster", "route_name": "allow_any_dynamic_dns"}),
            json!({"code": 200}),
            true,
        ),
        (
            "HTTP ServiceEntry",
            json!({"cluster_name": "outbound|443||api.example.com", "route_name": "default"}),
            json!({"code": 200}),
            true,
        ),
        (
            "TCP ServiceEntry",
            json!({"cluster_name": "outbound|5432||db.example.com"}),
            json!({}),
            true,
        ),
        (
            "TCP wildcard ServiceEntry",
            json!({"cluster_name": "outbound|443||*.wikipedia.org"}),
            json!({}),
            true,
        ),
        (
            "waypoint ServiceEntry",
            json!({"cluster_name": "inbound-vip|80|http|httpbin.org", "route_name": "default"}),
            json!({"code": 200}),
            true,
        ),
        (
            "HTTP in-mesh",
            json!({"cluster_name": "outbound|9080||reviews.default.svc.cluster.local", "route_name": "default"}),
            json!({"code": 200}),
            false,
        ),
        (
            "TCP in-mesh",
            json!({"cluster_name": "outbound|6379||redis.cache.svc.cluster.local"}),
            json!({}),
            false,
        ),
        (
            "waypoint in-mesh",
            json!({"cluster_name": "inbound-vip|9080|http|ratings.shop.svc.cluster.local"}),
            json!({"code": 200}),
            false,
        ),
        (
            "HTTP inbound",
            json!({"cluster_name": "inbound|8080||", "route_name": "default"}),
            json!({"code": 200}),
            false,
        ),
        (
            "TCP inbound passthrough",
            json!({"cluster_name": "InboundPassthroughCluster"}),
            json!({}),
            false,
        ),
        ("listener log, nothing chosen", json!({}), json!({}), false),
    ];
    let job = json!({
        "expression": expression,
        "cases": cases.iter().map(|(_, x, r, _)| json!({"xds": x, "response": r})).collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new(&py)
        .args(["-c", CEL_EVAL])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    std::io::Write::write_all(
        child.stdin.as_mut().expect("stdin"),
        job.to_string().as_bytes(),
    )
    .expect("writes the job");
    drop(child.stdin.take());
    let o = child.wait_with_output().expect("python ends");
    assert!(o.status.success());
    let got: Vec<Value> = serde_json::from_slice(&o.stdout).expect("JSON results");
    for ((what, _, _, logged), got) in cases.iter().zip(&got) {
        // Not logged may be false or an error (Envoy logs nothing for either); logged is true.
        let was_logged = *got == json!(true);
        assert_eq!(was_logged, *logged, "{what}: {got}");
        if *logged || what.starts_with("TCP") {
            assert_ne!(*got, json!("error"), "{what}: an error, not a verdict");
        }
    }
    assert_eq!(got.len(), cases.len());
}
