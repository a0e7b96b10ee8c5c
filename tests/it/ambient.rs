//! Ambient mode: ztunnel's access logs through the binary, on the small mixed mesh of
//! `examples/ambient/` and on the published lines of `tests/fixtures/ambient/`.

use crate::common::*;

use serde_json::Value;

const MESH: &str = "examples/ambient/";
const PUBLISHED: &str = "tests/fixtures/ambient/";

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// `namespace/workload` of each caller of a destination, with its connections.
fn callers(d: &Value) -> Vec<(String, u64)> {
    d["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                format!(
                    "{}/{}",
                    s["namespace"].as_str().unwrap_or("?"),
                    s["workload"].as_str().unwrap_or("?")
                ),
                s["requests"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Every line read lands in one class.
fn assert_accounted(v: &Value) {
    let sum: u64 = v["lines"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(sum, v["input"]["lines"].as_u64().unwrap(), "{}", v["lines"]);
}

#[test]
fn ambient_analyze_finds_the_external_destinations_and_their_callers() {
    let o = run(&["analyze", "-o", "json", MESH]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    insta::assert_snapshot!("ambient_analyze_json", stdout(&o));
    assert_accounted(&v);

    // Passthrough to an address: callers from src.namespace and the workload of src.workload,
    // from text (kubectl --prefix) and JSON lines alike.
    let google = destination(&v, "142.250.191.142");
    assert_eq!(
        (google["port"].as_u64(), google["protocol"].as_str()),
        (Some(443), Some("TCP"))
    );
    assert_eq!(google["passthrough"], 3);
    assert_eq!(
        callers(google),
        [
            ("shop/checkout".into(), 2),
            ("batch/report-builder".into(), 1)
        ]
    );
    // ztunnel's bytes_sent is the workload's upload.
    assert_eq!(google["bytes_uploaded"], 812 + 790 + 640);
    assert_eq!(google["bytes_downloaded"], 8468 + 8120 + 7300);

    // A cluster-local dst.service on a public dst.addr: reported as egress to the address, the
    // name only a hint.
    let geo = destination(&v, "34.117.59.81");
    assert_eq!(geo["host"], Value::Null);
    assert_eq!(geo["category"], "external");
    assert_eq!(geo["recommended"], true);
    assert_eq!(
        geo["seen_as"],
        serde_json::json!(["geoip.shop.svc.cluster.local"])
    );
    assert_eq!(callers(geo), [("shop/cart".into(), 1)]);

    // A ServiceEntry host, without a waypoint (its real address) and through one (its host
    // alone): registered, called by both namespaces.
    let stripe = destination(&v, "api.stripe.com");
    assert_eq!(
        (stripe["registered"].as_u64(), stripe["protocol"].as_str()),
        (Some(3), Some("TCP"))
    );
    assert_eq!(stripe["addresses"], serde_json::json!(["54.187.174.169"]));
    assert_eq!(
        callers(stripe),
        [
            ("payments/payments-api".into(), 2),
            ("shop/checkout".into(), 1)
        ]
    );

    // The sidecar line of the mixed mesh is read beside them.
    let github = destination(&v, "api.github.com");
    assert_eq!(callers(github), [("?/inventory".into(), 1)]);

    // No in-mesh or inbound connection became a destination, and nothing was counted twice.
    let names: Vec<&str> = v["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["host"].as_str().or(d["address"].as_str()).unwrap())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    let a = &v["ambient"];
    assert_eq!(
        (
            a["passthrough"].as_u64(),
            a["service_entry"].as_u64(),
            a["waypoint"].as_u64()
        ),
        (Some(6), Some(1), Some(2))
    );
    assert_eq!(
        (a["internal"].as_u64(), a["inbound"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(
        (a["failed"].as_u64(), a["opened"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        a["failed_example"],
        "examples/ambient/ztunnel-node-a.log:10"
    );
    // The trust domain comes from src.identity, never assumed.
    assert_eq!(
        a["principals"],
        serde_json::json!({"prod.example/ns/payments/sa/payments-api": ["payments/payments-api"]})
    );
    assert_eq!(
        v["sources"],
        serde_json::json!([
            {"path": "examples/ambient/sidecars.log", "formats": ["istio-1.9"]},
            {"path": "examples/ambient/ztunnel-node-a.log", "formats": ["ztunnel"]},
            {"path": "examples/ambient/ztunnel-node-b.jsonl", "formats": ["ztunnel"]},
        ])
    );
    // The failed connection is reported.
    assert!(
        stderr(&o).contains("1 connection was refused by ztunnel before any metadata"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ambient_analyze_table() {
    let o = run(&["analyze", MESH]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!("ambient_analyze_table", stdout(&o));
}

#[test]
fn ambient_recommend_writes_entries_for_the_callers_namespaces() {
    let o = run(&["recommend", MESH]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    insta::assert_snapshot!("ambient_recommend", yaml);
    let docs = yaml_docs(&yaml);
    for d in &docs {
        assert_valid_service_entry(d);
    }
    let placed = |address: &str| -> Vec<Option<String>> {
        docs.iter()
            .filter(|d| d["spec"]["addresses"][0] == format!("{address}/32").as_str())
            .map(|d| d["metadata"]["namespace"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(
        placed("142.250.191.142"),
        [Some("batch".into()), Some("shop".into())]
    );
    assert_eq!(placed("52.216.8.141"), [Some("batch".into())]);
    assert_eq!(placed("34.117.59.81"), [Some("shop".into())]);
    // The name on the public address is shown as what it was, never written as a host.
    assert!(yaml.contains("same address seen as: geoip.shop.svc.cluster.local"));
    assert!(
        !docs
            .iter()
            .any(|d| d.to_string().contains("geoip.shop.svc"))
    );
    // Registered traffic needs no entry.
    assert!(
        !docs
            .iter()
            .any(|d| d["spec"]["hosts"][0] == "api.stripe.com")
    );
}

#[test]
fn ambient_published_lines_are_read_as_the_reference_describes() {
    let o = run(&["analyze", "-o", "json", PUBLISHED]);
    let v = json(&o);
    assert_accounted(&v);
    // The JSON passthrough line of istio/istio#58786.
    let d = destination(&v, "142.250.191.142");
    assert_eq!(callers(d), [("istio-addons-ingress/istio-debug".into(), 1)]);
    assert_eq!(
        (d["bytes_uploaded"].as_u64(), d["bytes_downloaded"].as_u64()),
        (Some(800), Some(8468))
    );
    assert_eq!(v["destinations"].as_array().unwrap().len(), 1);
    let a = &v["ambient"];
    // istio.io's pod-to-pod line; three inbound lines (kiali#8146 behind `[<pod>] `,
    // istio/istio#58044, istio/ztunnel#1273 without its time).
    assert_eq!(
        (a["internal"].as_u64(), a["inbound"].as_u64()),
        (Some(1), Some(3))
    );
    // The two lines the index cut off are malformed, not flows.
    assert_eq!(v["lines"]["malformed"], 2);
    assert_eq!(v["input"]["lines"], 7);
}

#[test]
fn ambient_explain_names_the_rule() {
    let o = run(&["explain", "examples/ambient/ztunnel-node-a.log"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at = |n: usize| &lines[n - 1];
    assert_eq!(at(1)["class"], "noise");
    assert_eq!(at(2)["ambient"], "ambient-passthrough");
    assert_eq!(
        (at(2)["namespace"].as_str(), at(2)["workload"].as_str()),
        (Some("shop"), Some("checkout"))
    );
    assert_eq!(at(4)["ambient"], "ambient-service-entry");
    assert_eq!(at(5)["ambient"], "ambient-internal");
    assert_eq!(at(6)["ambient"], "ambient-inbound");
    let geo = at(7);
    assert_eq!(geo["ambient"], "ambient-passthrough");
    assert_eq!(geo["seen_as"], "geoip.shop.svc.cluster.local");
    assert!(
        geo["reason"]
            .as_str()
            .unwrap()
            .contains("dst.addr is public"),
        "{geo}"
    );
    assert_eq!(
        (at(8)["ambient"].as_str(), at(8)["class"].as_str()),
        (Some("ambient-opened"), Some("noise"))
    );
    let wp = at(9);
    assert_eq!(wp["ambient"], "ambient-waypoint");
    assert_eq!(wp["principal"], "prod.example/ns/payments/sa/payments-api");
    assert_eq!(
        (wp["host"].as_str(), wp["port"].as_u64()),
        (Some("api.stripe.com"), Some(443))
    );
    assert_eq!(
        (at(10)["ambient"].as_str(), at(10)["class"].as_str()),
        (Some("ambient-failed"), Some("unknown"))
    );
    for l in &lines {
        assert_eq!(l["envelope"], "kubectl-prefix");
    }
}

#[test]
fn ambient_partials_merge_to_what_one_run_gives() {
    let dir = tempfile::tempdir().unwrap();
    let mut partials = Vec::new();
    for (i, input) in [
        "examples/ambient/ztunnel-node-a.log",
        "examples/ambient/ztunnel-node-b.jsonl",
        "examples/ambient/sidecars.log",
    ]
    .iter()
    .enumerate()
    {
        let out = dir
            .path()
            .join(format!("{i}.json"))
            .to_str()
            .unwrap()
            .to_owned();
        let o = run(&["analyze", "--quiet", "--partial", &out, input]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        partials.push(out);
    }
    let mut merge = vec!["merge", "-o", "json"];
    merge.extend(partials.iter().rev().map(String::as_str));
    let merged = run(&merge);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    assert_eq!(
        stdout(&merged),
        stdout(&run(&["analyze", "-o", "json", MESH]))
    );
}

#[test]
fn ambient_lines_of_an_application_container_are_not_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(
        &log,
        "[pod/shop-7d4b9c8f6d-x2x9q/app] 2024-06-03T10:00:01.482913Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.1.21:48302 src.workload=\"shop-7d4b9c8f6d-x2x9q\" src.namespace=\"shop\" dst.addr=198.18.0.1:443 direction=\"outbound\" bytes_sent=1 bytes_recv=1 duration=\"1ms\"\n",
    )
    .unwrap();
    let o = run(&["analyze", "-o", "json", log.to_str().unwrap()]);
    let v = json(&o);
    assert_eq!(v["lines"]["application"], 1);
    assert_eq!(v["destinations"], serde_json::json!([]));
}

#[test]
fn ambient_lines_are_noise_to_an_exact_sidecar_format() {
    let o = run(&[
        "analyze",
        "-o",
        "json",
        "--format",
        "json",
        "examples/ambient/ztunnel-node-b.jsonl",
    ]);
    let v = json(&o);
    assert_eq!(v["destinations"], serde_json::json!([]));
    assert_eq!(v["lines"]["noise"], v["input"]["lines"]);
    assert!(v.get("ambient").is_none());
}

#[test]
fn ambient_pods_name_owners_and_service_accounts() {
    let pods = "examples/mesh/pods.json";
    let o = run(&["analyze", "-o", "json", "--pods", pods, MESH]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    // Lines without an identity get the service account the pod list gives; no trust domain
    // is made up for them.
    assert_eq!(
        v["ambient"]["service_accounts"],
        serde_json::json!({
            "batch/reports-writer": ["batch/report-builder"],
            "shop/cart": ["shop/cart"],
            "shop/checkout": ["shop/checkout"],
        })
    );
    assert_eq!(
        v["ambient"]["principals"],
        serde_json::json!({"prod.example/ns/payments/sa/payments-api": ["payments/payments-api"]})
    );
    // The owner names the workload, where the pod name alone would not.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("z.log");
    std::fs::write(
        &log,
        "2024-06-03T10:00:01.482913Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.1.21:48302 src.workload=\"broker-0\" src.namespace=\"data\" dst.addr=142.250.191.142:443 direction=\"outbound\" bytes_sent=1 bytes_recv=1 duration=\"1ms\"\n",
    )
    .unwrap();
    let list = dir.path().join("pods.json");
    std::fs::write(
        &list,
        r#"{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"broker-0","namespace":"data","ownerReferences":[{"kind":"StatefulSet","name":"kafka","controller":true}]},"spec":{"serviceAccountName":"kafka"}}]}"#,
    )
    .unwrap();
    let (log, list) = (log.to_str().unwrap(), list.to_str().unwrap());
    let without = json(&run(&["analyze", "-o", "json", log]));
    assert_eq!(
        callers(&without["destinations"][0]),
        [("data/broker".into(), 1)]
    );
    let with = json(&run(&["analyze", "-o", "json", "--pods", list, log]));
    assert_eq!(
        callers(&with["destinations"][0]),
        [("data/kafka".into(), 1)]
    );
    let explained = stdout(&run(&["explain", "--pods", list, log]));
    assert!(explained.contains(r#""workload":"kafka""#), "{explained}");
    assert!(
        explained.contains(r#""service_account":"data/kafka""#),
        "{explained}"
    );
    // Partials read with other pods do not merge.
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    assert_eq!(
        run(&["analyze", "--quiet", "--partial", a, log])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["analyze", "--quiet", "--pods", list, "--partial", b, log])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(run(&["merge", a, b]).status.code(), Some(2));
    // A file that is not a pod list is a usage error naming the flag.
    let o = run(&["analyze", "--pods", log, log]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--pods"), "{}", stderr(&o));
}

#[test]
fn ambient_hostile_values_stay_inside_comments_and_scalars() {
    // Any workload can print lines like ztunnel's, and ztunnel writes strings with Rust's
    // `{:?}`, whose escapes the reader undoes: a value may hold any character.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("z.log");
    let t = "2024-06-03T10:00:01.482913Z\tinfo\taccess\tconnection complete\t";
    let lines = [
        // A namespace Kubernetes would refuse: dropped, counted.
        format!(
            r#"{t}src.addr=10.0.0.1:1 src.workload="a-1" src.namespace="shop\u{{2028}}---\u{{2028}}kind: Secret" dst.addr=93.184.216.34:443 direction="outbound" bytes_sent=1 bytes_recv=1 duration="1ms""#
        ),
        // A cluster-local name holding a second document, on a public address: egress to the
        // address, the name shown escaped in a comment.
        format!(
            r#"{t}src.addr=10.0.0.1:1 src.workload="b-1" src.namespace="team" dst.addr=93.184.216.35:443 dst.service="x\u{{2028}}---\u{{2028}}kind: ConfigMap\u{{2028}}y.svc.cluster.local" direction="outbound" bytes_sent=1 bytes_recv=1 duration="1ms""#
        ),
        // A ServiceEntry host through a waypoint holding ANSI and bidi controls.
        format!(
            "{t}src.addr=10.0.0.1:1 src.workload=\"c-1\" src.namespace=\"team\" dst.addr=10.0.0.9:15008 dst.hbone_addr=240.240.0.9:443 dst.service=\"pwn.com\\u{{1b}}[2J\\u{{202e}}kind: Secret\" direction=\"outbound\" bytes_sent=1 bytes_recv=1 duration=\"1ms\""
        ),
    ];
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let o = run(&["recommend", "--mode", "sidecar", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    let docs = yaml_docs(&yaml);
    assert_eq!(docs.len(), 2, "{yaml}");
    for d in &docs {
        assert_valid_service_entry(d);
        assert_eq!(d["kind"], "ServiceEntry");
        for bad in ["Secret", "ConfigMap", "\u{2028}", "\u{1b}", "\u{202e}"] {
            assert!(!d.to_string().contains(bad), "{bad} in {d}");
        }
    }
    assert!(
        yaml.contains(r"x\u{2028}---\u{2028}kind: configmap"),
        "{yaml}"
    );
    assert!(!yaml.contains('\u{2028}') && !yaml.contains('\u{1b}') && !yaml.contains('\u{202e}'));
    assert!(stderr(&o).contains("1 line named a namespace or workload Kubernetes would refuse"));
}

#[test]
fn ambient_lines_inside_shipper_envelopes() {
    // Fluent Bit with the JSON line parsed into `log`, and Docker's json-file with it as a
    // string: the caller is still the line's, never the ztunnel pod the envelope names.
    let z = r#"{"level":"info","time":"2025-11-13T17:22:58.026256Z","scope":"access","message":"connection complete","src.addr":"10.1.0.8:46322","src.workload":"istio-debug","src.namespace":"istio-addons-ingress","dst.addr":"142.250.191.142:443","direction":"outbound","bytes_sent":800,"bytes_recv":8468,"duration":"73ms"}"#;
    let escaped = serde_json::to_string(z).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("shipped.jsonl");
    std::fs::write(
        &log,
        format!(
            "{{\"date\":1.7e9,\"log\":{z},\"kubernetes\":{{\"namespace_name\":\"istio-system\",\"pod_name\":\"ztunnel-4x7kp\",\"container_name\":\"istio-proxy\"}}}}\n{{\"log\":{escaped},\"stream\":\"stdout\",\"time\":\"2025-11-13T17:22:58.1Z\"}}\n"
        ),
    )
    .unwrap();
    let v = json(&run(&["analyze", "-o", "json", log.to_str().unwrap()]));
    let d = destination(&v, "142.250.191.142");
    assert_eq!(callers(d), [("istio-addons-ingress/istio-debug".into(), 2)]);
    assert_eq!(v["ambient"]["passthrough"], 2);
}

/// The ztunnel logs of the example mesh, without its sidecar log.
const ZTUNNEL: [&str; 2] = [
    "examples/ambient/ztunnel-node-a.log",
    "examples/ambient/ztunnel-node-b.jsonl",
];

/// Checks every document of an ambient stream: `validate` accepts the whole stream, each
/// ServiceEntry passes the vendored CRD schema, and the kinds are those ambient mode writes.
fn assert_valid_ambient(yaml: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ambient.yaml");
    std::fs::write(&path, yaml).unwrap();
    let o = run(&["validate", "-o", "json", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}\n{yaml}", stdout(&o));
    let report = json(&o);
    let docs = yaml_docs(yaml);
    assert_eq!(report["checked"], docs.len(), "{report}");
    assert_eq!(report["skipped"], 0, "{report}");
    for d in &docs {
        match d["kind"].as_str() {
            Some("ServiceEntry") => {
                assert_valid_service_entry(d);
                assert!(d["spec"].get("exportTo").is_none(), "{d}");
                assert_ne!(d["spec"]["resolution"], "NONE", "{d}");
                assert!(d["metadata"]["labels"]["istio.io/use-waypoint"].is_string());
            }
            Some("AuthorizationPolicy") => {
                let v = schema("authorizationpolicy.schema.json");
                let errors: Vec<String> = v.iter_errors(d).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "schema errors in {d}: {errors:?}");
            }
            Some("Gateway" | "NetworkPolicy") => {}
            other => panic!("unexpected kind {other:?}: {d}"),
        }
    }
    docs
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[test]
fn ambient_recommend_mode_ambient() {
    let o = run(&["recommend", "--mode", "ambient", "--network-policy", MESH]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ambient mode (--mode ambient)"),
        "{}",
        stderr(&o)
    );
    let yaml = stdout(&o);
    insta::assert_snapshot!("ambient_recommend_mode_ambient", yaml);
    let docs = assert_valid_ambient(&yaml);

    // One waypoint, in the egress namespace.
    let gw = of_kind(&docs, "Gateway");
    assert_eq!(gw.len(), 1);
    assert_eq!(gw[0]["metadata"]["namespace"], "istio-egress");
    assert_eq!(gw[0]["spec"]["gatewayClassName"], "istio-waypoint");
    assert_eq!(
        gw[0]["metadata"]["labels"]["istio.io/waypoint-for"],
        "service"
    );
    assert_eq!(
        gw[0]["spec"]["listeners"],
        serde_json::json!([{"name": "mesh", "port": 15008, "protocol": "HBONE"}])
    );

    // One entry per destination (not one per calling namespace), all in istio-egress.
    let entries = of_kind(&docs, "ServiceEntry");
    let google: Vec<_> = entries
        .iter()
        .filter(|d| d["spec"]["addresses"][0] == "142.250.191.142/32")
        .collect();
    assert_eq!(google.len(), 1);
    for e in &entries {
        assert_eq!(e["metadata"]["namespace"], "istio-egress");
        assert_eq!(e["metadata"]["labels"]["istio.io/use-waypoint"], "waypoint");
        assert!(
            e["metadata"]["labels"]
                .get("istio.io/use-waypoint-namespace")
                .is_none()
        );
    }

    // Each policy targets an entry of its namespace and allows exactly its callers.
    let policies = of_kind(&docs, "AuthorizationPolicy");
    for p in &policies {
        let target = &p["spec"]["targetRefs"][0];
        assert_eq!(target["group"], "networking.istio.io");
        assert_eq!(target["kind"], "ServiceEntry");
        assert!(
            entries
                .iter()
                .any(|e| e["metadata"]["name"] == target["name"]
                    && e["metadata"]["namespace"] == p["metadata"]["namespace"]),
            "{p}"
        );
        assert_eq!(p["spec"]["action"], "ALLOW");
    }
    let google_policy = policies
        .iter()
        .find(|p| p["spec"]["targetRefs"][0]["name"] == "ip-142-250-191-142")
        .unwrap();
    assert_eq!(
        google_policy["spec"]["rules"],
        serde_json::json!([{"from": [{"source": {"namespaces": ["batch", "shop"]}}]}])
    );
    // api.github.com's caller has no namespace: no policy, and the stream says why.
    assert!(
        !policies
            .iter()
            .any(|p| p["spec"]["targetRefs"][0]["name"] == "api.github.com")
    );
    assert!(yaml.contains("No caller is named: no AuthorizationPolicy is written"));

    // A NetworkPolicy per caller namespace: DNS and HBONE to pods, never an ipBlock.
    let nps = of_kind(&docs, "NetworkPolicy");
    let namespaces: Vec<&str> = nps
        .iter()
        .map(|n| n["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, ["batch", "shop"]);
    for n in &nps {
        assert_eq!(n["spec"]["policyTypes"], serde_json::json!(["Egress"]));
        assert!(!n.to_string().contains("ipBlock"), "{n}");
        let ports: Vec<u64> = n["spec"]["egress"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["ports"].as_array().unwrap())
            .map(|p| p["port"].as_u64().unwrap())
            .collect();
        assert_eq!(ports, [53, 53, 15008]);
    }
}

#[test]
fn ambient_mode_is_chosen_from_the_logs() {
    let o = run(&["recommend", ZTUNNEL[0], ZTUNNEL[1]]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ambient mode: the logs hold 15 ztunnel lines and no sidecar egress"),
        "{}",
        stderr(&o)
    );
    assert_valid_ambient(&stdout(&o));
    // Mixed logs stay in sidecar mode unless asked, and say so.
    let o = run(&["recommend", MESH]);
    assert!(
        stderr(&o).contains("sidecar mode: the logs mix 15 ztunnel lines with 1 sidecar egress entries; pass --mode ambient"),
        "{}",
        stderr(&o)
    );
    assert!(!stdout(&o).contains("use-waypoint"));
    let o = run(&["recommend", "--mode", "sidecar", ZTUNNEL[0], ZTUNNEL[1]]);
    assert!(stdout(&o).contains("exportTo"));
    assert!(!stdout(&o).contains("use-waypoint"));
    // Ambient flags in sidecar mode are said to be ignored.
    let o = run(&["recommend", "--network-policy", MESH]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("apply in ambient mode only: ignored (pass --mode ambient)"));
    assert!(!stdout(&o).contains("NetworkPolicy"));
}

#[test]
fn ambient_output_is_deterministic() {
    let a = run(&[
        "recommend",
        "--mode",
        "ambient",
        "--network-policy",
        "-j",
        "1",
        MESH,
    ]);
    let b = run(&[
        "recommend",
        "--mode",
        "ambient",
        "--network-policy",
        "-j",
        "4",
        "examples/ambient/ztunnel-node-b.jsonl",
        "examples/ambient/sidecars.log",
        "examples/ambient/ztunnel-node-a.log",
    ]);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(stdout(&a), stdout(&b));
}

#[test]
fn ambient_waypoint_in_another_namespace() {
    let args = [
        "recommend",
        "--mode",
        "ambient",
        "--egress-namespace",
        "egress",
        "--waypoint",
        "egress-gateway",
        "--waypoint-namespace",
        "common-infrastructure",
        MESH,
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let docs = assert_valid_ambient(&stdout(&o));
    let gw = of_kind(&docs, "Gateway");
    assert_eq!(gw[0]["metadata"]["namespace"], "common-infrastructure");
    assert_eq!(gw[0]["metadata"]["name"], "egress-gateway");
    assert_eq!(
        gw[0]["spec"]["listeners"][0]["allowedRoutes"],
        serde_json::json!({"namespaces": {"from": "Selector",
            "selector": {"matchLabels": {"kubernetes.io/metadata.name": "egress"}}}})
    );
    for e in of_kind(&docs, "ServiceEntry") {
        assert_eq!(e["metadata"]["namespace"], "egress");
        let l = &e["metadata"]["labels"];
        assert_eq!(l["istio.io/use-waypoint"], "egress-gateway");
        assert_eq!(
            l["istio.io/use-waypoint-namespace"],
            "common-infrastructure"
        );
    }
    for p in of_kind(&docs, "AuthorizationPolicy") {
        assert_eq!(p["metadata"]["namespace"], "egress");
    }

    // A waypoint --existing already holds is not written again.
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("gw.yaml");
    std::fs::write(
        &existing,
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: egress-gateway\n  namespace: common-infrastructure\nspec:\n  gatewayClassName: istio-waypoint\n  listeners:\n  - name: mesh\n    port: 15008\n    protocol: HBONE\n",
    )
    .unwrap();
    let mut with = args.to_vec();
    with.insert(1, existing.to_str().unwrap());
    with.insert(1, "--existing");
    let o = run(&with);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let docs = assert_valid_ambient(&stdout(&o));
    assert!(of_kind(&docs, "Gateway").is_empty());
    assert!(stdout(&o).contains("must admit namespace egress in allowedRoutes"));
}

#[test]
fn ambient_policies_name_principals_when_the_logs_show_them() {
    // payments-api shows its identity through the waypoint, then calls an address directly.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("z.log");
    let t = "2024-06-03T10:00:01.482913Z\tinfo\taccess\tconnection complete\t";
    let lines = [
        format!(
            r#"{t}src.addr=10.244.1.23:1 src.workload="payments-api-6b8d9c7f5d-q7w2t" src.namespace="payments" src.identity="spiffe://prod.example/ns/payments/sa/payments-api" dst.addr=10.244.2.17:15008 dst.hbone_addr=240.240.0.5:443 dst.service="api.stripe.com" dst.workload="waypoint-7f9c8d6b5-mz4tq" dst.namespace="istio-egress" direction="outbound" bytes_sent=1 bytes_recv=1 duration="1ms""#
        ),
        format!(
            r#"{t}src.addr=10.244.1.23:2 src.workload="payments-api-6b8d9c7f5d-q7w2t" src.namespace="payments" dst.addr=198.51.100.7:5432 direction="outbound" bytes_sent=1 bytes_recv=1 duration="1ms""#
        ),
        format!(
            r#"{t}src.addr=10.244.1.24:2 src.workload="ledger-5d7f8c9b6d-a1b2c" src.namespace="finance" dst.addr=198.51.100.7:5432 direction="outbound" bytes_sent=1 bytes_recv=1 duration="1ms""#
        ),
    ];
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let o = run(&["recommend", "--include-private", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let docs = assert_valid_ambient(&stdout(&o));
    let p = of_kind(&docs, "AuthorizationPolicy");
    assert_eq!(p.len(), 1, "{}", stdout(&o));
    assert_eq!(
        p[0]["spec"]["rules"],
        serde_json::json!([
            {"from": [{"source": {"principals": ["prod.example/ns/payments/sa/payments-api"]}}]},
            {"from": [{"source": {"namespaces": ["finance"]}}]}
        ])
    );
}

#[test]
fn ambient_refuses_what_it_cannot_write() {
    for (args, says) in [
        (vec!["--istio-version", "1.23"], "needs Istio 1.24 or later"),
        (vec!["--wildcard-min", "2"], "DYNAMIC_DNS"),
        (vec!["--cidr-prefix", "24"], "resolution NONE"),
        (vec!["--sidecars"], "ambient workloads do not use"),
        (vec!["--egress-namespace", "Egress"], "not a namespace name"),
        (vec!["--waypoint", "a.b"], "DNS-1123 label"),
        (
            vec!["--scope", "central", "--central-namespace", "x"],
            "every entry goes in --egress-namespace",
        ),
    ] {
        let mut all = vec!["recommend", "--mode", "ambient"];
        all.extend(args);
        all.push(MESH);
        let o = run(&all);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{all:?}: {}", stderr(&o));
    }
    // From 1.25, DNS capture and VIPs are defaults: the stream says what still breaks them.
    let o = run(&[
        "recommend",
        "--mode",
        "ambient",
        "--istio-version",
        "1.26",
        MESH,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("defaults from Istio 1.25"));
    assert!(!stdout(&o).contains("PILOT_ENABLE_IP_AUTOALLOCATE"));
}

#[test]
fn ambient_hostile_values_cannot_change_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("z.log");
    let t = "2024-06-03T10:00:01.482913Z\tinfo\taccess\tconnection complete\t";
    let lines = [
        format!(
            r#"{t}src.addr=10.0.0.1:1 src.workload="a-1" src.namespace="shop\u{{2028}}---\u{{2028}}kind: Secret" dst.addr=93.184.216.34:443 direction="outbound" bytes_sent=1 bytes_recv=1 duration="1ms""#
        ),
        format!(
            r#"{t}src.addr=10.0.0.1:1 src.workload="b-1\n---\nkind: Secret" src.namespace="team" src.identity="spiffe://td/ns/team/sa/x\n  - evil" dst.addr=93.184.216.35:443 dst.service="x\u{{2028}}---\u{{2028}}kind: ConfigMap\u{{2028}}y.svc.cluster.local" direction="outbound" bytes_sent=1 bytes_recv=1 duration="1ms""#
        ),
        format!(
            "{t}src.addr=10.0.0.1:1 src.workload=\"c-1\" src.namespace=\"team\" src.identity=\"spiffe://td/ns/team/sa/c\" dst.addr=10.0.0.9:15008 dst.hbone_addr=240.240.0.9:443 dst.service=\"pwn.com\\u{{1b}}[2J\\u{{202e}}kind: Secret\" direction=\"outbound\" bytes_sent=1 bytes_recv=1 duration=\"1ms\""
        ),
    ];
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    // With the hostile sidecar fixtures: hosts (SNI, authority), namespaces and workloads.
    let o = run(&[
        "recommend",
        "--mode",
        "ambient",
        "--network-policy",
        log.to_str().unwrap(),
        "tests/fixtures/hostile/passthrough.log",
        "tests/fixtures/hostile/fluent-bit.jsonl",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    crate::hostile::assert_same_lines_for_every_reader(&yaml);
    let docs = assert_valid_ambient(&yaml);
    assert_eq!(docs.len(), yaml.lines().filter(|l| *l == "---").count());
    assert!(of_kind(&docs, "ServiceEntry").len() > 3, "{yaml}");
    assert!(!of_kind(&docs, "AuthorizationPolicy").is_empty(), "{yaml}");
    for d in &docs {
        let keys: Vec<&String> = d.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"], "{d}");
        assert_ne!(d["metadata"]["namespace"], "kube-system", "{d}");
        for bad in [
            "Secret",
            "ConfigMap",
            "\u{2028}",
            "\u{1b}",
            "\u{202e}",
            "evil",
        ] {
            assert!(!d.to_string().contains(bad), "{bad} in {d}");
        }
    }
    assert!(!yaml.contains('\u{2028}') && !yaml.contains('\u{1b}') && !yaml.contains('\u{202e}'));
    if let Some(py) = crate::hostile::pyyaml_docs(&yaml) {
        assert_eq!(py, docs, "PyYAML reads other documents:\n{yaml}");
    }
}

/// `--scope central` holds a destination called from several namespaces once: its evidence is
/// not repeated for each caller.
#[test]
fn central_scope_lists_a_destination_once() {
    let o = run(&[
        "recommend",
        "--scope",
        "central",
        "--central-namespace",
        "egress",
        MESH,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    assert!(
        !yaml.contains("also seen as TCP, declared as TCP"),
        "{yaml}"
    );
    assert_eq!(
        yaml.matches("#   port 443/TCP: 3 entries (passthrough 3)")
            .count(),
        1
    );
}

#[test]
fn ambient_json_holds_the_same_objects() {
    let yaml = stdout(&run(&[
        "recommend",
        "--mode",
        "ambient",
        "--network-policy",
        MESH,
    ]));
    let o = run(&[
        "recommend",
        "--mode",
        "ambient",
        "--network-policy",
        "-o",
        "json",
        MESH,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list = json(&o);
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"], Value::Array(yaml_docs(&yaml)));
}

/// `check` with the ambient policy as `--existing`: a passthrough destination is declared by
/// a waypoint-bound entry only for the callers its AuthorizationPolicy admits.
#[test]
fn ambient_check_reads_the_waypoint_policies() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = stdout(&run(&["recommend", ZTUNNEL[0], ZTUNNEL[1]]));
    let all = dir.path().join("all.yaml");
    std::fs::write(&all, &yaml).unwrap();
    let check = |existing: &std::path::Path| {
        run(&[
            "check",
            "-o",
            "json",
            "--existing",
            existing.to_str().unwrap(),
            ZTUNNEL[0],
            ZTUNNEL[1],
        ])
    };
    let o = check(&all);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // Without shop in the policy of 142.250.191.142, shop's calls are undeclared again.
    let without = dir.path().join("without-shop.yaml");
    assert_eq!(yaml.matches("        - batch\n        - shop\n").count(), 1);
    std::fs::write(
        &without,
        yaml.replace("        - batch\n        - shop\n", "        - batch\n"),
    )
    .unwrap();
    let o = check(&without);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json(&o);
    let open: Vec<&Value> = v["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "uncovered")
        .collect();
    assert_eq!(open.len(), 1, "{v}");
    assert_eq!(open[0]["address"], "142.250.191.142");
    let namespaces: Vec<&Value> = open[0]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["namespace"])
        .collect();
    assert_eq!(namespaces, ["shop"]);

    // An entry bound to no waypoint has no waypoint policy: the policy is not read for it.
    let unbound = dir.path().join("unbound.yaml");
    std::fs::write(
        &unbound,
        yaml.replace("        - batch\n        - shop\n", "        - batch\n")
            .replace("    istio.io/use-waypoint: waypoint\n", ""),
    )
    .unwrap();
    let o = check(&unbound);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

/// An AuthorizationPolicy of `--existing` with an entry's name is extended, its rules and
/// callers kept; one that is not an ALLOW policy of that entry is never written over.
#[test]
fn ambient_existing_policies_are_extended_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("policies.yaml");
    std::fs::write(
        &existing,
        r#"apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ip-142-250-191-142
  namespace: istio-egress
  resourceVersion: "12"
spec:
  targetRefs:
  - group: networking.istio.io
    kind: ServiceEntry
    name: ip-142-250-191-142
  action: ALLOW
  rules:
  - from:
    - source:
        namespaces: ["billing"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ip-34-117-59-81
  namespace: istio-egress
spec:
  action: DENY
  rules:
  - {}
"#,
    )
    .unwrap();
    let o = run(&[
        "recommend",
        "--mode",
        "ambient",
        "--existing",
        existing.to_str().unwrap(),
        MESH,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    let docs = assert_valid_ambient(&yaml);
    let policies = of_kind(&docs, "AuthorizationPolicy");
    let google = policies
        .iter()
        .find(|p| p["metadata"]["name"] == "ip-142-250-191-142")
        .unwrap();
    assert_eq!(
        google["spec"]["rules"],
        serde_json::json!([
            {"from": [{"source": {"namespaces": ["billing"]}}]},
            {"from": [{"source": {"namespaces": ["batch", "shop"]}}]}
        ])
    );
    assert!(google["metadata"].get("resourceVersion").is_none());
    assert!(
        !policies
            .iter()
            .any(|p| p["metadata"]["name"] == "ip-34-117-59-81")
    );
    assert!(yaml.contains("REVIEW: the AuthorizationPolicy istio-egress/ip-34-117-59-81 of --existing is not an ALLOW policy of this entry alone"));
}

/// The waypoint's namespace gets no NetworkPolicy against direct egress: it would cut the
/// waypoint itself off from the outside.
#[test]
fn ambient_network_policy_spares_the_waypoint_namespace() {
    let o = run(&[
        "recommend",
        "--mode",
        "ambient",
        "--network-policy",
        "--egress-namespace",
        "shop",
        MESH,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let yaml = stdout(&o);
    let docs = assert_valid_ambient(&yaml);
    let namespaces: Vec<&str> = of_kind(&docs, "NetworkPolicy")
        .iter()
        .map(|n| n["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, ["batch"]);
    assert!(yaml.contains("# No NetworkPolicy for shop: the waypoint runs there"));
}

/// `validate` checks the ambient kinds, from any file: what would make the API server or
/// istiod refuse them, or make them silently useless.
#[test]
fn ambient_validate_finds_what_is_wrong_with_the_ambient_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        r#"apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: api
  namespace: istio-egress
spec:
  targetRefs:
  - group: ""
    kind: ServiceEntry
    name: api
    namespace: shop
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["spiffe://cluster.local/ns/shop/sa/web"]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: istio-egress
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15009
    protocol: HBONE
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny
  namespace: shop
spec:
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock:
        cidr: 10.96.0.0/12
      namespaceSelector: {}
"#,
    )
    .unwrap();
    let o = run(&["validate", "-o", "json", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json(&o);
    assert_eq!(v["checked"], 3);
    assert_eq!(v["failed"], 3);
    let errors = v.to_string();
    for says in [
        "targetRef namespace must not be set",
        "targetRef must be to a Service, ServiceEntry",
        "principals are written without spiffe://",
        "needs a listener of protocol HBONE on port 15008",
        "spec.podSelector is required",
        "ipBlock cannot go with namespaceSelector or podSelector",
    ] {
        assert!(errors.contains(says), "{says}: {errors}");
    }
}

/// A TCP passthrough connection as a sidecar logs it, in a Fluent Bit envelope naming the pod.
fn sidecar_flow(ip: &str, port: u16, namespace: &str, pod: &str) -> String {
    let line = format!(
        r#"[2024-05-14T09:01:02.140Z] "- - -" 0 - - - "-" 2210 5821 412 - "-" "-" "-" "-" "{ip}:{port}" PassthroughCluster 10.244.1.17:34704 {ip}:{port} 10.244.1.17:59862 - -"#
    );
    serde_json::json!({
        "log": line,
        "kubernetes": {"namespace_name": namespace, "pod_name": pod, "container_name": "istio-proxy"},
    })
    .to_string()
}

/// The same connection as ztunnel logs it (passthrough, text format).
fn ztunnel_flow(ip: &str, port: u16, namespace: &str, pod: &str) -> String {
    format!(
        "2024-05-14T09:01:02.140000Z\tinfo\taccess\tconnection complete\tsrc.addr=10.244.1.17:34704 src.workload=\"{pod}\" src.namespace=\"{namespace}\" dst.addr={ip}:{port} direction=\"outbound\" bytes_sent=2210 bytes_recv=5821 duration=\"412ms\""
    )
}

/// (address, port, callers) of each destination of `analyze -o json`.
fn destinations(path: &std::path::Path) -> Vec<(String, u64, Vec<String>)> {
    let o = run(&["analyze", "-o", "json", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let mut out: Vec<(String, u64, Vec<String>)> = v["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let mut who: Vec<String> = callers(d).into_iter().map(|(w, _)| w).collect();
            who.sort();
            (
                d["address"].as_str().unwrap_or("").to_owned(),
                d["port"].as_u64().unwrap(),
                who,
            )
        })
        .collect();
    out.sort();
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// The same flows written as sidecar logs and as ztunnel logs give the same destinations
    /// (address, port, callers); the counts may differ by nature (requests and connections).
    #[test]
    fn sidecar_and_ambient_logs_give_the_same_destinations(
        flows in proptest::collection::vec((0usize..4, 0usize..3, 0usize..3), 1..12),
    ) {
        const IPS: [&str; 4] = ["142.250.191.142", "52.216.8.141", "34.117.59.81", "2606:4700::6810:84e5"];
        const PORTS: [u16; 3] = [443, 5432, 8443];
        const CALLERS: [(&str, &str); 3] = [
            ("shop", "checkout-7d4b9c8f6d-x2x9q"),
            ("batch", "report-builder-5f6c7d8e9f-abcde"),
            ("shop", "cart-6c5b4a3f2e-zyxwv"),
        ];
        let dir = tempfile::tempdir().unwrap();
        let (mut sidecar, mut ztunnel) = (String::new(), String::new());
        for (i, p, c) in &flows {
            let ip = IPS[*i];
            let (ns, pod) = CALLERS[*c];
            let addr = if ip.contains(':') { format!("[{ip}]") } else { ip.to_owned() };
            sidecar.push_str(&sidecar_flow(&addr, PORTS[*p], ns, pod));
            sidecar.push('\n');
            ztunnel.push_str(&ztunnel_flow(&addr, PORTS[*p], ns, pod));
            ztunnel.push('\n');
        }
        let (a, b) = (dir.path().join("sidecar.jsonl"), dir.path().join("ztunnel.log"));
        std::fs::write(&a, sidecar).unwrap();
        std::fs::write(&b, ztunnel).unwrap();
        let (s, z) = (destinations(&a), destinations(&b));
        proptest::prop_assert!(!s.is_empty());
        proptest::prop_assert_eq!(s, z);
    }
}
