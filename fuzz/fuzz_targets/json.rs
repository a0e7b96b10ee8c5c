//! Istio JSON entries: decoding, the record view and classification never panic.
//! The body is `egress_advisor::fuzzing::json`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::json(data));
