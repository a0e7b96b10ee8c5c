//! Replays every committed fuzz input through the targets' bodies, so that what fuzzing found
//! stays fixed without a nightly toolchain: `fuzz/corpus/<target>/` (the corpora the fuzz runs
//! grew) and `fuzz/regressions/<target>/` (inputs that once failed).

use std::path::PathBuf;

use egress_advisor::fuzzing::TARGETS;

#[test]
fn every_corpus_input_passes() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    let mut failed = Vec::new();
    for (name, run) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join("corpus").join(name)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).expect("readable");
            replayed += 1;
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failed.push(f.display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "fuzz inputs that fail: {failed:?}");
    assert!(
        replayed > 0,
        "no fuzz corpus found under {}",
        root.display()
    );
}

#[test]
fn regression_cases_pass() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    for (name, run) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for e in entries {
            let f = e.expect("listable").path();
            run(&std::fs::read(&f).expect("readable"));
        }
    }
}
