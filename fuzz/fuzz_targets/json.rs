//! Istio JSON entries: decoding, the record view and classification never panic.
#![no_main]

use egress_advisor::classify::{Rules, classify};
use egress_advisor::parse::json::JsonEntry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(e)) = JsonEntry::parse(data)
        && let Ok(r) = e.record()
    {
        let _ = classify(&r, &Rules::default());
    }
});
