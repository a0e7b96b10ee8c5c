//! The CSV writer: any text as a cell reads back as one record, neutralised unless raw.
//! The body is `egress_advisor::fuzzing::csv`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::csv(data));
