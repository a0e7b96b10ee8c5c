//! Custom formats: compiling any format string (text, or a JSON object of operators) never
//! panics, and a compiled format matches any line without panicking. The input is the format,
//! a newline, then the line.
#![no_main]

use egress_advisor::parse::custom::{JsonKeys, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (format, line) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(format) = std::str::from_utf8(format) else {
        return;
    };
    for require in [false, true] {
        if let Ok(t) = Template::compile(format, require) {
            let _ = t.match_line(line);
        }
    }
    if let Ok(k) = JsonKeys::compile(format) {
        let _ = k.parse(line);
    }
});
