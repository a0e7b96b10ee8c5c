//! Whole inputs: decompression (gzip, zstd, plain by magic bytes) and line splitting never
//! panic, whatever the bytes, and a read error still delivers the lines before it.
#![no_main]

use egress_advisor::ingest::{decode, lines::LineReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = LineReader::new(256);
    if let Ok((_, r)) = decode(data) {
        let mut n = 0u64;
        let _ = reader.read(r, 0, false, u64::MAX, |_| {
            n += 1;
            true
        });
    }
});
