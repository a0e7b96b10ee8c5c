//! Whole inputs: decompression (gzip, zstd, plain by magic bytes) and line splitting never panic.
//! The body is `egress_advisor::fuzzing::stream`, which `tests/fuzz_corpus.rs` also replays.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| egress_advisor::fuzzing::stream(data));
