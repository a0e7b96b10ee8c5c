//! Replays every committed fuzz input through the targets' bodies, so that what fuzzing found
//! stays fixed without a nightly toolchain: `fuzz/seeds/<target>/` (the seed corpora: the inputs
//! that cover most of what the fuzz runs reached, chosen from their minimised corpora) and
//! `fuzz/regressions/<target>/` (inputs that once failed); and `fuzz/corpus/<target>/`, the
//! local corpora fuzzing grows, when there are any (they are not in git). Each target must have
//! seeds, and every file is replayed and counted.

use std::path::{Path, PathBuf};

use egress_advisor::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every file of `kind/<target>/` through its target; returns (target, replayed) pairs.
fn replay(kind: &str) -> Vec<(&'static str, usize)> {
    let mut counts = Vec::new();
    let mut failed = Vec::new();
    for (name, run) in TARGETS {
        let inputs = files(&fuzz_dir().join(kind).join(name));
        for f in &inputs {
            let data = std::fs::read(f).expect("readable");
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failed.push(f.display().to_string());
            }
        }
        counts.push((name, inputs.len()));
    }
    assert!(failed.is_empty(), "fuzz inputs that fail: {failed:?}");
    eprintln!("{kind}: replayed {counts:?}");
    counts
}

#[test]
fn every_seed_passes() {
    let counts = replay("seeds");
    let empty: Vec<&str> = counts
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(t, _)| *t)
        .collect();
    assert!(
        empty.is_empty(),
        "targets without seeds in fuzz/seeds/: {empty:?}"
    );
}

/// The local corpora, when fuzzing has grown any here.
#[test]
fn every_local_corpus_input_passes() {
    replay("corpus");
}

#[test]
fn regression_cases_pass() {
    let counts = replay("regressions");
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    let on_disk: usize = std::fs::read_dir(fuzz_dir().join("regressions"))
        .expect("fuzz/regressions/")
        .map(|d| files(&d.expect("listable").path()).len())
        .sum();
    assert_eq!(
        total, on_disk,
        "every file under fuzz/regressions/ belongs to a target and is replayed"
    );
    assert!(
        total > 0,
        "fuzz/regressions/ holds the inputs that once failed"
    );
}

/// Every target the fuzz crate builds has a body here, so the replay covers it.
#[test]
fn every_fuzz_target_is_replayed() {
    let mut built: Vec<String> = files(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    built.sort();
    let mut replayed: Vec<String> = TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    replayed.sort();
    assert_eq!(built, replayed);
}
