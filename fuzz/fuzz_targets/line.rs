//! One line through recognition, parsing, classification and aggregation, on both paths.
#![no_main]

use egress_advisor::aggregate::{Location, Summary};
use egress_advisor::config::Settings;
use egress_advisor::pipeline::{SplitState, account};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = Settings::default();
    let mut summary = Summary::default();
    let loc = Location {
        source: 0,
        split: 0,
        line: 1,
    };
    for mut parsed in [SplitState::default(), SplitState::warm()] {
        account(&mut summary, &s, data, loc, &mut parsed);
    }
    summary.attribute_addresses();
    assert_eq!(summary.lines(), 2);
});
