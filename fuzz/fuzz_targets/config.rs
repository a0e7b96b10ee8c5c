//! Configuration read from users' files: `--existing` manifests (YAML or JSON, Lists),
//! `validate`, the mesh config, the allow file and the baseline. Any text is read or refused
//! with an error, never a panic.
#![no_main]

use egress_advisor::existing::{Existing, push_docs};
use egress_advisor::{config, gate, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut docs = Vec::new();
    if push_docs("fuzz", text, &mut docs).is_ok() {
        for d in &docs {
            let _ = validate::document(&d.value);
        }
        let e = Existing::from_docs(&docs);
        let _ = e.entries.len();
    }
    let _ = config::mesh_access_log(text);
    let _ = gate::parse_allow("fuzz", text);
    let _ = gate::parse_baseline("fuzz", text);
});
