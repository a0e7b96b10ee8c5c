//! Log envelopes and node log paths never panic.
//! The body is `egress_advisor::fuzzing::envelope`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::envelope(data));
