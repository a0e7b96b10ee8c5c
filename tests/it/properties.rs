//! Laws the pipeline must keep, checked on generated input:
//! - parsers never panic, whatever the bytes;
//! - the report does not depend on the thread count, on how files are split into ranges, on
//!   how lines are spread over files, or on the order of the paths;
//! - every line read lands in exactly one class;
//! - a line reads the same bare or in a container runtime's envelope;
//! - merging partial results, in any order and grouping, gives what one run over all their
//!   inputs gives.

use std::io::Write;
use std::path::PathBuf;

use egress_advisor::config::{Selection, Settings};
use egress_advisor::pipeline::{self, inspect};
use egress_advisor::recommend;
use egress_advisor::render::report::Report;
use proptest::prelude::*;

/// Lines of every kind the samples (and the ambient example) hold, plus a few broken ones.
fn pool() -> Vec<Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut lines = Vec::new();
    for f in [
        "allow-any/istio-proxy.log",
        "registry-only/istio-proxy.jsonl",
        "legacy-1.5/istio-proxy.log",
        "../examples/ambient/ztunnel-node-a.log",
        "../examples/ambient/ztunnel-node-b.jsonl",
    ] {
        let text = std::fs::read(root.join(f)).unwrap();
        lines.extend(
            text.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                // ztunnel's lines without the `kubectl logs --prefix` the example has: bare,
                // as a node's container log holds them.
                .map(|l| {
                    let bare = l
                        .strip_prefix(b"[pod/")
                        .and_then(|r| r.iter().position(|b| *b == b']').map(|i| &r[i + 2..]));
                    bare.unwrap_or(l).to_vec()
                }),
        );
    }
    lines.push(b"[2024-01-01T00:00:00.000Z] \"GET".to_vec());
    lines.push(b"{\"upstream_cluster\": ".to_vec());
    lines.push(b"\xff\xfe\x00garbage".to_vec());
    lines.push(Vec::new());
    // A damaged head before an inbound or in-mesh tail: classified by the tail in every layout.
    lines.push(br#"[2024-01-01T00:00:00.000Z] "GET / HTTP/1.1" xx - "-" "-" "10.0.0.1:80" inbound|80|| - 10.0.0.1:80 10.0.0.2:1 - -"#.to_vec());
    lines.push(br#"[2024-01-01T00:00:00.000Z] "GET / HTTP/1.1" 200 - "10.0.0.1:80" outbound|80||a.b.svc.cluster.local - 10.0.0.1:80 10.0.0.2:1 - -"#.to_vec());
    lines
}

fn settings(paths: Vec<PathBuf>, threads: usize) -> Settings {
    Settings {
        paths,
        threads,
        max_line_bytes: 4096,
        ..Settings::default()
    }
}

/// The report and the YAML, as bytes, with source paths taken out (they differ by layout).
fn outputs(s: &Settings, split: u64) -> (String, String) {
    let run = pipeline::run_with_split(s, split).unwrap();
    let report = Report::build(&run, &Selection::default());
    let mut v = serde_json::to_value(&report).unwrap();
    v.as_object_mut().unwrap().remove("sources");
    v.as_object_mut().unwrap().remove("malformed");
    if let Some(a) = v.get_mut("ambient") {
        a.as_object_mut().unwrap().remove("failed_example");
    }
    v["input"]["files"] = serde_json::Value::Null;
    let plan = recommend::plan(&run.summary, &Selection::default());
    let yaml = recommend::render_yaml(&plan, &run.summary, 0).unwrap();
    (v.to_string(), yaml)
}

/// The full report and the YAML of a finished run.
fn full_outputs(run: &pipeline::Run) -> (String, String) {
    let report = serde_json::to_string_pretty(&Report::build(run, &Selection::default())).unwrap();
    let plan = recommend::plan(&run.summary, &Selection::default());
    let yaml = recommend::render_yaml(&plan, &run.summary, run.sources.len()).unwrap();
    (report, yaml)
}

/// Writes the partial result of `s`'s inputs (logs, or partials to merge) to `out`.
fn write_partial(s: &Settings, out: &std::path::Path) {
    let mut s = s.clone();
    s.track_mesh = true;
    let run = pipeline::run_raw(&s).unwrap();
    std::fs::write(out, egress_advisor::partial::to_json(&run, &s).unwrap()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn merged_partials_equal_one_run(
        picks in prop::collection::vec(0usize..128, 1..100),
        file_of in prop::collection::vec(0usize..5, 100),
        group_of in prop::collection::vec(0usize..3, 5),
        order in prop::collection::vec(any::<u32>(), 3),
        pair_first in any::<bool>(),
    ) {
        let pool = pool();
        let dir = tempfile::tempdir().unwrap();
        // The lines spread over up to five files, in a folder the single run walks.
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let mut files: Vec<Vec<u8>> = vec![Vec::new(); 5];
        for (i, p) in picks.iter().enumerate() {
            files[file_of[i]].extend_from_slice(&pool[p % pool.len()]);
            files[file_of[i]].push(b'\n');
        }
        let mut paths = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let p = logs.join(format!("{i}.log"));
            std::fs::write(&p, f).unwrap();
            paths.push(p);
        }
        let single = {
            let mut s = settings(vec![logs.clone()], 2);
            s.track_mesh = true;
            full_outputs(&pipeline::run(&s).unwrap())
        };

        // Files grouped into up to three partials, written in the order `order` gives.
        let mut parts = Vec::new();
        for (g, key) in order.iter().enumerate() {
            let mine: Vec<PathBuf> = paths
                .iter()
                .enumerate()
                .filter(|(i, _)| group_of[*i] == g)
                .map(|(_, p)| p.clone())
                .collect();
            if mine.is_empty() {
                continue;
            }
            let out = dir.path().join(format!("part{g}.json"));
            write_partial(&settings(mine, 1), &out);
            parts.push((*key, out));
        }
        parts.sort();
        let mut parts: Vec<PathBuf> = parts.into_iter().map(|(_, p)| p).collect();
        // Sometimes two of them are merged first, into a partial of partials.
        if pair_first && parts.len() >= 2 {
            let out = dir.path().join("pair.json");
            let mut s = settings(parts.drain(..2).collect(), 1);
            s.partials = true;
            write_partial(&s, &out);
            parts.push(out);
        }
        let mut s = settings(parts, 1);
        s.partials = true;
        let merged = full_outputs(&pipeline::run(&s).unwrap());
        prop_assert_eq!(merged.0, single.0);
        prop_assert_eq!(merged.1, single.1);
    }

    #[test]
    fn layout_threads_and_order_do_not_change_the_output(
        picks in prop::collection::vec(0usize..128, 1..120),
        cuts in prop::collection::vec(0usize..120, 0..4),
        threads in 1usize..4,
        split in 1u64..2000,
    ) {
        let pool = pool();
        let lines: Vec<&[u8]> = picks.iter().map(|i| &pool[i % pool.len()][..]).collect();

        // All lines in one file, read by one thread without splitting.
        let one = tempfile::tempdir().unwrap();
        let mut f = std::fs::File::create(one.path().join("all.log")).unwrap();
        for l in &lines {
            f.write_all(l).unwrap();
            f.write_all(b"\n").unwrap();
        }
        drop(f);
        let base = outputs(&settings(vec![one.path().to_path_buf()], 1), u64::MAX);

        // The same lines spread over several files, some gzip-compressed, split into tiny ranges,
        // given in reverse order, on several threads.
        let many = tempfile::tempdir().unwrap();
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (lines.len() + 1)).collect();
        bounds.push(0);
        bounds.push(lines.len());
        bounds.sort_unstable();
        let mut paths = Vec::new();
        for (k, w) in bounds.windows(2).enumerate() {
            let mut bytes = Vec::new();
            for l in &lines[w[0]..w[1]] {
                bytes.extend_from_slice(l);
                bytes.push(b'\n');
            }
            let p = many.path().join(format!("part-{k}.log"));
            if k % 2 == 1 {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(&bytes).unwrap();
                std::fs::write(&p, gz.finish().unwrap()).unwrap();
            } else {
                std::fs::write(&p, bytes).unwrap();
            }
            paths.push(p);
        }
        paths.reverse();
        let other = outputs(&settings(paths, threads), split);
        prop_assert_eq!(&base.0, &other.0);
        prop_assert_eq!(&base.1, &other.1);

        // Every line is accounted for.
        let v: serde_json::Value = serde_json::from_str(&base.0).unwrap();
        let total: u64 = v["lines"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
        prop_assert_eq!(total, lines.len() as u64);
    }

    #[test]
    fn bare_and_enveloped_lines_read_alike(
        picks in prop::collection::vec(0usize..128, 1..120),
        split in 1u64..2000,
    ) {
        // Bare text entries take a shorter path than lines in an envelope; the same lines in
        // CRI envelopes (the general path) must give the same report.
        let pool = pool();
        let dir = tempfile::tempdir().unwrap();
        let (mut bare, mut cri) = (Vec::new(), Vec::new());
        for i in &picks {
            let l = &pool[i % pool.len()];
            bare.extend_from_slice(l);
            bare.push(b'\n');
            cri.extend_from_slice(b"2024-01-01T00:00:00.000000000Z stdout F ");
            cri.extend_from_slice(l);
            cri.push(b'\n');
        }
        let (a, b) = (dir.path().join("bare.log"), dir.path().join("cri.log"));
        std::fs::write(&a, bare).unwrap();
        std::fs::write(&b, cri).unwrap();
        let read = |p| {
            let (report, yaml) = outputs(&settings(vec![p], 1), split);
            // The envelopes add bytes; nothing else may differ.
            let mut v: serde_json::Value = serde_json::from_str(&report).unwrap();
            v["input"]["bytes"] = serde_json::Value::Null;
            (v, yaml)
        };
        let (bare, cri) = (read(a), read(b));
        prop_assert_eq!(bare.0, cri.0);
        prop_assert_eq!(bare.1, cri.1);
    }

    #[test]
    fn inspect_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let s = settings(vec![], 1);
        inspect(&bytes, &s, false, |_| ());
        inspect(&bytes, &s, true, |_| ());
    }

    #[test]
    fn mutated_entries_never_panic(pick in 0usize..128, at in 0usize..400, len in 0usize..40, byte in any::<u8>()) {
        let pool = pool();
        let mut line = pool[pick % pool.len()].clone();
        let at = at.min(line.len());
        let end = (at + len).min(line.len());
        // Replace a span with one byte repeated: breaks quotes, spaces and digits.
        line.splice(at..end, std::iter::repeat_n(byte, len % 7));
        let s = settings(vec![], 1);
        inspect(&line, &s, false, |_| ());
        inspect(&line, &s, true, |_| ());
    }
}
