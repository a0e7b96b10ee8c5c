//! Log envelopes: unwrapping any line (CRI, kubectl, stern, Docker, Fluent Bit, Loki, Cloud
//! Logging, Elasticsearch, CloudWatch) and reading metadata from any node log path never panic.
#![no_main]

use egress_advisor::envelope::{self, meta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut scratch = Vec::new();
    let u = envelope::unwrap(data, &mut scratch);
    let _ = (u.meta.workload(), u.meta.selector(), u.payload.len());
    if let Ok(path) = std::str::from_utf8(data) {
        let m = meta::from_path(std::path::Path::new(path));
        let _ = m.workload();
        let _ = meta::workload_of_pod(path);
    }
});
