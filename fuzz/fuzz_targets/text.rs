//! Istio text entries: the tail split, the full parse and classification never panic.
//! The body is `egress_advisor::fuzzing::text`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::text(data));
