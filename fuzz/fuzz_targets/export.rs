//! Log stores' exports and collectors' batches never panic.
//! The body is `egress_advisor::fuzzing::export`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::export(data));
