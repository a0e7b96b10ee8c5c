//! Partial results: refused with an error, or merged, reported and turned into manifests, never a panic.
//! The body is `egress_advisor::fuzzing::partial`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::partial(data));
