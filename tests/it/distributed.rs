//! Partial results and `merge` through the binary, and the Dask job in Dask's local mode and on
//! a real dask.distributed cluster.
//!
//! The Dask tests need a Python with `dask.bag` (Debian's `python3-dask`) and one with
//! `dask.distributed` at the versions of `distributed/requirements.txt` (`target/dask-venv`):
//! they are ignored unless asked for (`cargo test -- --include-ignored`, as `.ci/run` does),
//! and fail without them.

use crate::common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn partial(dir: &Path, name: &str, inputs: &[&str]) -> String {
    let out = dir.join(name).to_str().unwrap().to_owned();
    let mut args = vec!["analyze", "--quiet", "--partial", &out];
    args.extend(inputs);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    out
}

#[test]
fn merge_gives_what_one_run_gives() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = partial(d, "a.json", &["samples/allow-any"]);
    let b = partial(
        d,
        "b.json",
        &["samples/registry-only", "samples/legacy-1.5"],
    );
    let c = partial(d, "c.json", &["samples/envelopes"]);
    // A partial of partials.
    let bc = d.join("bc.json").to_str().unwrap().to_owned();
    let o = run(&["merge", "--quiet", "--partial", &bc, &c, &b]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let one = |args: &[&str]| stdout(&run(args));
    assert_eq!(
        one(&["merge", "-o", "json", &bc, &a]),
        one(&["analyze", "-o", "json", "samples/"])
    );
    assert_eq!(one(&["merge", &c, &a, &b]), one(&["analyze", "samples/"]));
    assert_eq!(
        one(&["recommend", "--sidecars", "--partials", &a, &bc]),
        one(&["recommend", "--sidecars", "samples/"])
    );
    let mesh = "examples/mesh/service-entries.yaml";
    assert_eq!(
        one(&["check", "--existing", mesh, "--partials", &a, &b, &c]),
        one(&["check", "--existing", mesh, "samples/"])
    );
    assert_eq!(
        one(&["migrate", "--existing", mesh, "--partials", &bc, &a]),
        one(&["migrate", "--existing", mesh, "samples/"])
    );
    // The partial itself does not depend on the thread count.
    let again = partial(d, "a2.json", &["-j", "2", "samples/allow-any"]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&again).unwrap());
    let v: Value = serde_json::from_slice(&std::fs::read(&a).unwrap()).unwrap();
    assert_eq!(v["format"], "egress-advisor partial");
    assert_eq!(v["version"], 2);
    assert_eq!(
        v["inputs"],
        serde_json::json!([
            "samples/allow-any/istio-proxy.log",
            "samples/allow-any/istio-proxy.log.1.gz"
        ])
    );
}

#[test]
fn bad_partials_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = partial(d, "a.json", &["samples/allow-any"]);
    let text = std::fs::read_to_string(&a).unwrap();
    let write = |name: &str, body: &str| -> String {
        let p = d.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let cases = [
        (
            write("v9.json", &text.replace(r#""version":2"#, r#""version":9"#)),
            vec![],
            "partial result of version 9; this egress-advisor reads version 2",
        ),
        (
            write("cut.json", &text[..text.len() / 2]),
            vec![],
            "damaged partial result",
        ),
        (
            "samples/allow-any/istio-proxy.log".to_owned(),
            vec![],
            "not a partial result",
        ),
        (
            a.clone(),
            vec!["--cluster-domain", "corp.local"],
            "written with other settings",
        ),
        (
            write(
                "writer.json",
                &text.replacen(r#""sources":[["#, r#""sources":[[7"#, 1),
            ),
            vec![],
            "damaged partial result",
        ),
    ];
    for (file, extra, says) in &cases {
        let mut args = vec!["merge", file.as_str()];
        args.extend(extra);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{file}: {}", stderr(&o));
    }
    // A forged timeline (a minute no log line can have) is refused, not trusted.
    let forged = text.replacen(
        r#""timeline":["#,
        r#""timeline":[[-9223372036854775808,1,0],"#,
        1,
    );
    assert_ne!(forged, text);
    let f = write("forged.json", &forged);
    let o = run(&["merge", &f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("beyond any run"), "{}", stderr(&o));

    // The same input in two partials would be counted twice.
    let a2 = partial(d, "again.json", &["samples/allow-any/istio-proxy.log"]);
    let o = run(&["merge", &a, &a2]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("samples/allow-any/istio-proxy.log is in two partial results"),
        "{}",
        stderr(&o)
    );
    let o = run(&["merge"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn huge_byte_counts_still_merge() {
    let dir = tempfile::tempdir().unwrap();
    let line = std::fs::read_to_string(root().join("samples/registry-only/istio-proxy.jsonl"))
        .unwrap()
        .lines()
        .find(|l| l.contains("BlackHoleCluster"))
        .unwrap()
        .replace(
            r#""bytes_downloaded":0"#,
            r#""bytes_downloaded":18446744073709551615"#,
        );
    let log = dir.path().join("big.jsonl");
    std::fs::write(&log, format!("{line}\n{line}\n")).unwrap();
    let p = partial(dir.path(), "big.json", &[log.to_str().unwrap()]);
    let o = run(&["merge", "-o", "json", &p]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        stdout(&run(&["analyze", "-o", "json", log.to_str().unwrap()]))
    );
}

#[test]
fn stdin_takes_the_name_it_is_given() {
    let log = std::fs::read(root().join("samples/allow-any/istio-proxy.log")).unwrap();
    let o = cmd()
        .args(["analyze", "-o", "json", "--stdin-name", "s3://logs/var/log/pods/shop_checkout-7d4b9c8f6d-x2x9q_0a1b2c3d-1111-2222-3333-444455556666/istio-proxy/0.log", "-"])
        .write_stdin(log)
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["sources"][0]["path"].as_str().unwrap(),
        "s3://logs/var/log/pods/shop_checkout-7d4b9c8f6d-x2x9q_0a1b2c3d-1111-2222-3333-444455556666/istio-proxy/0.log"
    );
    let stripe = destination(&v, "api.stripe.com");
    assert_eq!(
        stripe["sources"][0]["namespace"], "shop",
        "the path names the writer"
    );
    assert_eq!(stripe["sources"][0]["workload"], "checkout");
}

/// A Python that imports `dask.bag`.
fn python() -> PathBuf {
    let candidates = std::env::var_os("EGRESS_ADVISOR_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(["python3", "/usr/bin/python3"].map(PathBuf::from));
    for p in candidates {
        let ok = Command::new(&p)
            .args(["-c", "import dask.bag"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return p;
        }
    }
    panic!("no Python imports dask.bag (apt install python3-dask, or set EGRESS_ADVISOR_PYTHON)");
}

fn dask_job(python: &Path, out: &Path, inputs: &[&str]) {
    let o = Command::new(python)
        .current_dir(root())
        .arg("distributed/egress_dask.py")
        .args(["--binary", env!("CARGO_BIN_EXE_egress-advisor")])
        .args(["--workers", "2", "--fan-in", "3", "--out"])
        .arg(out)
        .args(inputs)
        .output()
        .expect("the Dask job runs");
    assert!(
        o.status.success(),
        "Dask job failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The corpus generator, built by `cargo test` with the other examples.
fn gen_corpus() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let p = dir
        .join("examples")
        .join(format!("gen-corpus{}", std::env::consts::EXE_SUFFIX));
    assert!(p.exists(), "{} is built by cargo test", p.display());
    p
}

#[test]
#[ignore = "needs python3-dask"]
fn dask_job_matches_a_single_run() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("merged.json");
    let m = out.to_str().unwrap();

    // The samples: every report and manifest the same as one local run.
    dask_job(&py, &out, &["samples/"]);
    let one = |args: &[&str]| stdout(&run(args));
    assert_eq!(
        one(&["merge", "-o", "json", m]),
        one(&["analyze", "-o", "json", "samples/"])
    );
    assert_eq!(
        one(&["recommend", "--partials", m]),
        one(&["recommend", "samples/"])
    );

    // A generated corpus over several files, text, JSON and gzip.
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    for (seed, args) in [
        (
            "1",
            vec!["--records", "4000", "--text", "a.log", "--json", "b.jsonl"],
        ),
        ("2", vec!["--records", "3000", "--text", "c.log"]),
        ("3", vec!["--records", "2000", "--json", "d.jsonl"]),
    ] {
        let o = Command::new(gen_corpus())
            .current_dir(&corpus)
            .args(["--seed", seed])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success());
    }
    let c = std::fs::read(corpus.join("c.log")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &c).unwrap();
    std::fs::write(corpus.join("c.log.gz"), gz.finish().unwrap()).unwrap();
    std::fs::remove_file(corpus.join("c.log")).unwrap();
    let cdir = corpus.to_str().unwrap();
    dask_job(&py, &out, &[cdir]);
    assert_eq!(
        one(&["merge", "-o", "json", m]),
        one(&["analyze", "-o", "json", cdir])
    );
    assert_eq!(
        one(&["recommend", "--partials", m]),
        one(&["recommend", cdir])
    );

    // Object-store URLs go through standard input, named by their URL.
    let url = format!(
        "file://{}",
        std::fs::canonicalize(&corpus).unwrap().display()
    );
    dask_job(&py, &out, &[&url]);
    let merged: Value = serde_json::from_str(&one(&["merge", "-o", "json", m])).unwrap();
    let local: Value = serde_json::from_str(&one(&["analyze", "-o", "json", cdir])).unwrap();
    assert_eq!(merged["destinations"], local["destinations"]);
    assert_eq!(merged["lines"], local["lines"]);
    assert!(
        merged["sources"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("file://"),
        "{}",
        merged["sources"]
    );
    assert_eq!(
        one(&["recommend", "--partials", m]),
        one(&["recommend", cdir])
    );
}

/// A forged partial is refused (exit 2, naming the field), never trusted: its claims are
/// checked against what its own keys and counts imply.
#[test]
fn forged_partials_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = partial(d, "a.json", &["samples/allow-any"]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&a).unwrap()).unwrap();
    let forge = |name: &str, f: &dyn Fn(&mut Value)| -> String {
        let mut v = v.clone();
        f(&mut v);
        let p = d.join(name);
        std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let dest = |v: &mut Value, name: &str| -> usize {
        v["summary"]["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .position(|d| d[0]["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let cases: Vec<(String, &str)> = vec![
        (
            // An external destination marked in-mesh would be skipped by check.
            forge("mesh.json", &|v| {
                let i = dest(v, "deb.debian.org");
                v["summary"]["destinations"][i][1]["category"] = "mesh".into();
            }),
            "deb.debian.org:80/HTTP: marked mesh, which its name and addresses do not support",
        ),
        (
            forge("private.json", &|v| {
                let i = dest(v, "10.20.0.15");
                v["summary"]["destinations"][i][1]["category"] = "external".into();
            }),
            "10.20.0.15:5432/TCP: marked external",
        ),
        (
            forge("twice.json", &|v| {
                let first = v["summary"]["destinations"][0].clone();
                v["summary"]["destinations"]
                    .as_array_mut()
                    .unwrap()
                    .push(first);
            }),
            "is listed twice",
        ),
        (
            forge("classes.json", &|v| {
                let n = v["summary"]["classes"][0].as_u64().unwrap();
                v["summary"]["classes"][0] = (n + 1).into();
            }),
            "summary.classes",
        ),
        (
            forge("time.json", &|v| {
                let i = dest(v, "deb.debian.org");
                v["summary"]["destinations"][i][1]["first_seen"] = 1_900_000_000_000u64.into();
            }),
            "last seen before first seen",
        ),
        (
            forge("writers.json", &|v| {
                let i = dest(v, "deb.debian.org");
                v["summary"]["destinations"][i][1]["passthrough"] = 1000.into();
            }),
            "do not add up",
        ),
    ];
    for (file, says) in &cases {
        for command in [
            &["merge", file.as_str()][..],
            &["check", "--partials", file.as_str()],
        ] {
            let o = run(command);
            assert_eq!(o.status.code(), Some(2), "{command:?}: {}", stderr(&o));
            assert!(stderr(&o).contains(says), "{command:?}: {}", stderr(&o));
            assert!(!stderr(&o).contains("internal error"), "{}", stderr(&o));
        }
    }
}

/// The Python of `target/dask-venv` (what `.ci/run` installs from
/// `distributed/requirements.txt`), or `EGRESS_ADVISOR_DASK_PYTHON`: one that imports
/// `dask.distributed`.
fn distributed_python() -> PathBuf {
    let p = std::env::var_os("EGRESS_ADVISOR_DASK_PYTHON")
        .map_or_else(|| root().join("target/dask-venv/bin/python"), PathBuf::from);
    let ok = Command::new(&p)
        .args(["-c", "import dask.distributed"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{} does not import dask.distributed (.ci/run installs distributed/requirements.txt into target/dask-venv)",
        p.display()
    );
    p
}

/// A process killed when the test ends, whatever happens.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// On a real dask.distributed cluster (a scheduler and two worker processes over loopback
/// TCP), the job over 50 files, one of them gzip, gives what one run gives, byte for byte, even
/// when a worker is killed in the middle (the scheduler runs its tasks again elsewhere); and a
/// binary missing on the workers is a one-line error, not a traceback.
#[test]
#[ignore = "needs dask.distributed (target/dask-venv)"]
fn dask_cluster_survives_a_lost_worker() {
    use std::time::{Duration, Instant};
    let py = distributed_python();
    let bin = py.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // 50 files from the samples' lines, one gzip.
    let corpus = d.join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    let mut lines = Vec::new();
    for f in [
        "allow-any/istio-proxy.log",
        "registry-only/istio-proxy.jsonl",
    ] {
        let text = std::fs::read_to_string(root().join("samples").join(f)).unwrap();
        lines.extend(text.lines().map(str::to_owned));
    }
    for i in 0..50 {
        let body: String = lines
            .iter()
            .skip(i % lines.len())
            .step_by(3)
            .map(|l| format!("{l}\n"))
            .collect();
        if i == 7 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, body.as_bytes()).unwrap();
            std::fs::write(corpus.join("f07.log.gz"), gz.finish().unwrap()).unwrap();
        } else {
            std::fs::write(corpus.join(format!("f{i:02}.log")), body).unwrap();
        }
    }
    // Each run of the binary takes a moment, so that the job is still running when a worker
    // goes away.
    let slow = d.join("slow-egress-advisor");
    std::fs::write(
        &slow,
        format!(
            "#!/bin/sh\nsleep 0.3\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_egress-advisor")
        ),
    )
    .unwrap();
    let mut perm = std::fs::metadata(&slow).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&slow, perm).unwrap();

    let file = d.join("scheduler.json");
    let spawn = |args: &[&str]| {
        Child(
            Command::new(bin.join("dask"))
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("dask runs"),
        )
    };
    let f = file.to_str().unwrap();
    let _scheduler = spawn(&[
        "scheduler",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-dashboard",
        "--scheduler-file",
        f,
    ]);
    let start = Instant::now();
    let address = loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
            && let Some(a) = v["address"].as_str()
        {
            break a.to_owned();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no scheduler");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(address.starts_with("tcp://127.0.0.1:"), "{address}");
    let worker = || {
        spawn(&[
            "worker",
            "--scheduler-file",
            f,
            "--nthreads",
            "1",
            "--no-nanny",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
        ])
    };
    let mut doomed = worker();
    let _survivor = worker();

    let out = d.join("merged.json");
    let job = |binary: &Path| {
        Command::new(&py)
            .current_dir(root())
            .arg("distributed/egress_dask.py")
            .arg("--binary")
            .arg(binary)
            .args(["--scheduler", &address, "--fan-in", "4", "--out"])
            .arg(&out)
            .arg(&corpus)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the Dask job runs")
    };
    let running = job(&slow);
    // Past the start (workers connecting, the first tasks running), well before the end (50
    // runs of 0.3 s on two workers).
    std::thread::sleep(Duration::from_secs(4));
    assert!(doomed.0.try_wait().unwrap().is_none(), "the worker is up");
    doomed.0.kill().unwrap();
    let o = running.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "Dask job failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = out.to_str().unwrap();
    let c = corpus.to_str().unwrap();
    let one = |args: &[&str]| stdout(&run(args));
    assert_eq!(
        one(&["merge", "-o", "json", m]),
        one(&["analyze", "-o", "json", c])
    );
    assert_eq!(one(&["recommend", "--partials", m]), one(&["recommend", c]));

    // A binary the workers do not have: found here (the inputs are listed locally), missing
    // where the tasks run.
    let gone = d.join("gone-egress-advisor");
    std::fs::write(
        &gone,
        format!(
            "#!/bin/sh\ncase \"$1\" in list-inputs) exec '{}' \"$@\";; esac\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_egress-advisor"),
            d.join("nowhere/egress-advisor").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&gone, std::fs::metadata(&slow).unwrap().permissions()).unwrap();
    let o = job(&gone).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(!err.contains("Traceback"), "{err}");
    assert!(err.starts_with("egress_dask: "), "{err}");
    assert!(err.contains("nowhere/egress-advisor"), "{err}");
}
