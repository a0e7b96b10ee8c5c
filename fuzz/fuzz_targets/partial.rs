//! Partial results read from files: any text is refused with an error or merged, reported and
//! turned into manifests without a panic.
#![no_main]

use egress_advisor::config::{Selection, Settings};
use egress_advisor::ingest::{Origin, Source};
use egress_advisor::pipeline::Run;
use egress_advisor::render::report::Report;
use egress_advisor::{partial, recommend};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let s = Settings::default();
    let Ok((inputs, summary)) = partial::parse("fuzz", text, &s) else {
        return;
    };
    let mut twice = summary.clone();
    twice.merge(summary.clone());
    let mut run = Run {
        sources: inputs
            .into_iter()
            .map(|name| Source {
                origin: Origin::File(name.clone().into()),
                name,
            })
            .collect(),
        summary: twice,
    };
    run.summary.attribute_addresses();
    let sel = Selection::default();
    let report = Report::build(&run, &sel);
    let _ = serde_json::to_string(&report);
    let plan = recommend::plan(&run.summary, &sel);
    let _ = recommend::render_yaml(&plan, &run.summary, run.sources.len());
});
