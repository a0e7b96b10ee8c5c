//! Custom formats: compiling any format and matching any line never panic (format, newline, line).
//! The body is `egress_advisor::fuzzing::custom`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::custom(data));
