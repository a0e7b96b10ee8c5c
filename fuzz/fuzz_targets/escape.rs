//! Output escaping (YAML comments and scalars, the baseline, the terminal, Markdown) of any text.
//! The body is `egress_advisor::fuzzing::escape`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::escape(data));
