//! Every output the tool writes is read back by the tool, at any size, and configuration with
//! a field of the wrong type is refused naming the file, the document and the field.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{run, stderr, stdout, yaml_docs};

/// An Istio 1.9+ text log with one TLS passthrough entry per host `host-N.example.com`.
fn many_hosts(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::with_capacity(n * 200);
    for i in 0..n {
        text.push_str(&format!(
            "[2024-06-03T10:00:00.000Z] \"- - -\" 0 - - - \"-\" 100 200 5 - \"-\" \"-\" \"-\" \"-\" \"93.184.215.14:443\" PassthroughCluster 10.244.1.9:40000 93.184.215.14:443 10.244.1.9:50000 host-{i}.example.com -\n"
        ));
    }
    let f = dir.join(format!("hosts-{n}.log"));
    std::fs::write(&f, text).unwrap();
    f
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_recommend_of_1100_entries_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = many_hosts(dir.path(), 1_100);
    let yaml = dir.path().join("entries.yaml");
    // Named callers: entries exported to their own namespace cover them.
    // Many hosts under one domain are a high-cardinality finding: written here all the same.
    let o = run(&[
        "recommend",
        "--include-high-cardinality",
        "--source-namespace",
        "shop",
        s(&log),
        "--write",
        s(&yaml),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["validate", s(&yaml)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1,100 manifests checked (0 with errors)"),
        "{}",
        stdout(&o)
    );
    // Read back as the mesh's configuration, it covers every destination it was made for.
    let o = run(&[
        "recommend",
        "--source-namespace",
        "shop",
        s(&log),
        "--existing",
        s(&yaml),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let entries = yaml_docs(&stdout(&o))
        .into_iter()
        .filter(|d| d["kind"] == "ServiceEntry")
        .count();
    assert_eq!(entries, 0, "everything is covered already");
}

#[test]
fn a_baseline_of_40000_destinations_reads_back_from_logs_and_partials() {
    let dir = tempfile::tempdir().unwrap();
    let log = many_hosts(dir.path(), 40_000);
    let base = dir.path().join("baseline.yaml");
    let o = run(&[
        "check",
        s(&log),
        "--baseline",
        s(&base),
        "--update-baseline",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["check", s(&log), "--baseline", s(&base), "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["counts"]["baseline"], 40_000);
    // The same through a partial result.
    let part = dir.path().join("part.json");
    let o = run(&["analyze", "--quiet", "--partial", s(&part), s(&log)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["check", "--partials", s(&part), "--baseline", s(&base)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// A YAML bomb is refused at once, naming the limit and the flag and file, not the library.
#[test]
fn yaml_bombs_are_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let mut lol = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        lol.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let laughs = dir.path().join("laughs.yaml");
    std::fs::write(&laughs, lol).unwrap();
    let deep = dir.path().join("deep.yaml");
    std::fs::write(&deep, "[".repeat(1_000_000)).unwrap();
    for (f, says) in [(&laughs, "alias"), (&deep, "levels of nesting")] {
        for args in [
            vec!["analyze", "samples/legacy-1.5", "--existing", s(f)],
            vec!["validate", s(f)],
            vec!["check", "samples/legacy-1.5", "--allow", s(f)],
            vec!["check", "samples/legacy-1.5", "--baseline", s(f)],
            vec!["analyze", "samples/legacy-1.5", "--mesh-config", s(f)],
        ] {
            let t = Instant::now();
            let o = run(&args);
            assert!(t.elapsed() < Duration::from_secs(10), "{args:?}");
            assert_ne!(o.status.code(), Some(0), "{args:?}");
            let err = stderr(&o);
            assert!(err.contains(s(f)), "{args:?}: {err}");
            assert!(err.contains(says), "{args:?}: {err}");
            assert!(err.contains("Reading limits"), "{args:?}: {err}");
            assert!(!err.contains("budget"), "{args:?}: {err}");
            if args[0] != "validate" {
                assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
                assert!(err.contains(args[2]), "names the flag: {err}");
            }
        }
    }
}

const ENTRY: &str = "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: shop}
spec:
";

#[test]
fn wrong_types_in_existing_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mesh.yaml");
    let ok = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: fine, namespace: shop}\nspec: {hosts: [a.example.com], ports: [{number: 443, name: tls, protocol: TLS}]}\n---\n";
    let cases = [
        (
            format!("{ENTRY}  hosts: api.example.com\n"),
            "document 3: ServiceEntry shop/api: spec.hosts: expected a list of strings, found a string",
        ),
        (
            format!("{ENTRY}  hosts: [api.example.com, 443]\n"),
            "document 3: ServiceEntry shop/api: spec.hosts[1]: expected a string, found a number",
        ),
        (
            format!("{ENTRY}  hosts: [a.example.com]\n  ports: {{number: 443}}\n"),
            "document 3: ServiceEntry shop/api: spec.ports: expected a list of ports, found a map",
        ),
        (
            format!("{ENTRY}  hosts: [a.example.com]\n  ports: [{{number: \"443\"}}]\n"),
            "document 3: ServiceEntry shop/api: spec.ports[0].number: expected a port number, found a string",
        ),
        (
            format!("{ENTRY}  hosts: [a.example.com]\n  exportTo: \".\"\n"),
            "document 3: ServiceEntry shop/api: spec.exportTo: expected a list of strings, found a string",
        ),
        (
            format!("{ENTRY}  hosts: [a.example.com]\n  addresses: 10.0.0.1\n"),
            "document 3: ServiceEntry shop/api: spec.addresses: expected a list of strings, found a string",
        ),
        (
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: api, namespace: [shop]}\nspec: {}\n".to_owned(),
            "document 3: ServiceEntry: metadata.namespace: expected a string, found a list",
        ),
        (
            "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: shop}\nspec:\n  egress: {hosts: [\"./*\"]}\n".to_owned(),
            "document 3: Sidecar shop/default: spec.egress: expected a list of listeners, found a map",
        ),
        (
            "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: shop}\nspec:\n  egress: [{hosts: \"./*\"}]\n".to_owned(),
            "document 3: Sidecar shop/default: spec.egress[0].hosts: expected a list of strings, found a string",
        ),
    ];
    for (doc, says) in cases {
        std::fs::write(&f, format!("{ok}{doc}")).unwrap();
        for cmd in ["analyze", "recommend", "check", "migrate"] {
            let o = run(&[cmd, "samples/legacy-1.5", "--existing", s(&f)]);
            assert_eq!(o.status.code(), Some(2), "{cmd} {doc}: {}", stderr(&o));
            let want = format!("--existing {}: {says}", s(&f));
            assert!(
                stderr(&o).contains(&want),
                "{cmd}: {}\nwanted {want}",
                stderr(&o)
            );
        }
    }
    // A List whose items are not a list.
    std::fs::write(&f, "apiVersion: v1\nkind: List\nitems: {a: 1}\n").unwrap();
    let o = run(&["analyze", "samples/legacy-1.5", "--existing", s(&f)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("document 1: List: items: expected a list of objects, found a map"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn wrong_types_in_the_mesh_config_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mesh.yaml");
    let cases = [
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata:\n  mesh: |-\n    accessLogFile: /dev/stdout\n    accessLogFormat: [a, b]\n",
            "document 1: data.mesh.accessLogFormat: expected a string, found a list",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata:\n  mesh: {accessLogFormat: x}\n",
            "document 1: data.mesh: expected a string (the mesh config as YAML text), found a map",
        ),
        (
            "a: 1\n---\nspec:\n  meshConfig:\n    accessLogFormat: \"%UPSTREAM_CLUSTER%\"\n    accessLogEncoding: 1\n",
            "document 2: spec.meshConfig.accessLogEncoding: expected a string, found a number",
        ),
        (
            "meshConfig:\n  accessLogEncoding: XML\n",
            "document 1: meshConfig.accessLogEncoding: expected TEXT or JSON, found \"XML\"",
        ),
        (
            "accessLogFormat: {a: b}\n",
            "document 1: accessLogFormat: expected a string, found a map",
        ),
    ];
    for (text, says) in cases {
        std::fs::write(&f, text).unwrap();
        let o = run(&["analyze", "samples/legacy-1.5", "--mesh-config", s(&f)]);
        assert_eq!(o.status.code(), Some(2), "{text}: {}", stderr(&o));
        let want = format!("--mesh-config {}: {says}", s(&f));
        assert!(stderr(&o).contains(&want), "{}\nwanted {want}", stderr(&o));
    }
}

#[test]
fn wrong_types_in_allow_and_baseline_files_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.yaml");
    let cases = [
        (
            "allow:\n  - host: a.example.com\n    port: \"443\"\n    reason: x\n",
            "--allow",
            "entry 1: port: expected a port number, found a string",
        ),
        (
            "allow:\n  - host: a.example.com\n    reason: x\n  - host: b.example.com\n    reason: true\n",
            "--allow",
            "entry 2: reason: expected a string, found a boolean",
        ),
        (
            "allow:\n  - host: 42\n    reason: x\n",
            "--allow",
            "entry 1: host: expected a string, found a number",
        ),
        (
            "allow:\n  host: a.example.com\n  reason: x\n",
            "--allow",
            "allow: expected a list of entries, found a map",
        ),
        (
            "allow:\n  - a.example.com\n",
            "--allow",
            "entry 1: expected a map, found a string",
        ),
        (
            "allow:\n  - host: a.example.com\n    reason: x\n    port: 70000\n",
            "--allow",
            "entry 1: port: 70000 is not a port number",
        ),
        (
            "version: \"1\"\ndestinations: []\n",
            "--baseline",
            "version: expected a number, found a string",
        ),
        (
            "version: 1\ndestinations: {host: a.example.com}\n",
            "--baseline",
            "destinations: expected a list of destinations, found a map",
        ),
        (
            "version: 1\ndestinations:\n- host: a.example.com\n  port: [443]\n  protocol: TLS\n",
            "--baseline",
            "destination 1: port: expected a port number, found a list",
        ),
        (
            "version: 1\ndestinations:\n- host: a.example.com\n  port: 443\n  protocol: TLS\n  note: x\n",
            "--baseline",
            "destination 1: unknown field \"note\"",
        ),
    ];
    for (text, flag, says) in cases {
        std::fs::write(&f, text).unwrap();
        let o = run(&["check", "samples/legacy-1.5", flag, s(&f)]);
        assert_eq!(o.status.code(), Some(2), "{text}: {}", stderr(&o));
        let want = format!("{flag} {}: {says}", s(&f));
        assert!(stderr(&o).contains(&want), "{}\nwanted {want}", stderr(&o));
    }
}
