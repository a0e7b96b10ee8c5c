//! ztunnel access-log lines (ambient mode), text and JSON, never panic, and the cheap
//! recognition agrees with the reader. The body is `egress_advisor::fuzzing::ztunnel`, which
//! `tests/it/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::ztunnel(data));
