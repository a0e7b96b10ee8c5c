//! Configuration files (existing manifests, mesh config, allow file, baseline, validate) never panic.
//! The body is `egress_advisor::fuzzing::config`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::config(data));
