//! One line through recognition, parsing, classification and aggregation, on both paths.
//! The body is `egress_advisor::fuzzing::line`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::line(data));
