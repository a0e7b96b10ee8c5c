//! Istio text entries: the tail split and the full parse never panic, and a parsed entry's
//! classification never panics either.
#![no_main]

use egress_advisor::classify::{Rules, classify};
use egress_advisor::parse::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tail) = text::parse_tail(data)
        && let Ok((_, record)) = text::parse_full(data, &tail)
    {
        let _ = classify(&record, &Rules::default());
    }
});
