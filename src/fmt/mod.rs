//! Formatting at the bottom of the crate: numbers, sizes, destination names and log text made
//! safe to show. Every layer may use it; it uses none of them.

pub mod escape;

/// A destination's name: the host, or the address (IPv6 in brackets).
pub fn display_name<'a>(
    host: Option<&'a str>,
    address: Option<&'a str>,
) -> std::borrow::Cow<'a, str> {
    match (host, address) {
        (Some(h), _) => h.into(),
        (None, Some(a)) if a.contains(':') => format!("[{a}]").into(),
        (None, Some(a)) => a.into(),
        (None, None) => "-".into(),
    }
}

/// Text from the logs made safe for a terminal or a CI log ([`escape::terminal`]): control
/// characters (ANSI and OSC escapes among them), bidi overrides and line separators are shown as
/// `\u{...}`.
pub fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    escape::terminal(s)
}

/// `1 line`, `1,234 lines`: a count with its noun in the right number.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units with one decimal: `1.5 KiB`, `12 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// A caller the logs say nothing about. The one rule for callers, in every output: a caller
/// is `namespace/workload`, and a part the logs do not say is `?` (`?/reports`, `shop/?`,
/// `?/?`).
pub const UNKNOWN_CALLER: &str = "?/?";

/// A caller as written everywhere: `namespace/workload`, `?` for a part the logs do not say.
pub fn caller(namespace: Option<&str>, workload: Option<&str>) -> String {
    format!("{}/{}", namespace.unwrap_or("?"), workload.unwrap_or("?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
