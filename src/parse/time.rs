//! Timestamps: Envoy's default `%START_TIME%` rendering (`2022-04-26T13:14:30.905Z`) and the
//! RFC 3339 variants log shippers produce, to milliseconds since the Unix epoch and back.
//!
//! Hand-written rather than pulled from a date crate: the hot path needs one shape, no
//! allocation and no time zone database.

use nom::{
    IResult, Parser,
    bytes::complete::take_while_m_n,
    character::complete::{char, one_of},
    combinator::{map_res, opt},
};

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

fn digits(n: usize) -> impl Fn(&[u8]) -> IResult<&[u8], u32> {
    move |i| {
        map_res(
            take_while_m_n(n, n, |c: u8| c.is_ascii_digit()),
            |d: &[u8]| {
                d.iter()
                    .try_fold(0u32, |acc, &c| {
                        acc.checked_mul(10)?.checked_add(u32::from(c - b'0'))
                    })
                    .ok_or(())
            },
        )
        .parse(i)
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; a space may stand for the `T`.
/// Returns `None` for anything else: a timestamp that cannot be read is not an error,
/// it only leaves first/last seen unknown for that line.
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    fast(s.as_bytes()).or_else(|| general(s))
}

/// Envoy's own `YYYY-MM-DDTHH:MM:SS.mmmZ`, by position: most timestamps have this shape.
fn fast(b: &[u8]) -> Option<Millis> {
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (y, mo, d, h, mi, sec, ms) = (
        n(0..4)?,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
        n(20..23)?,
    );
    Some(seconds(y, mo, d, h, mi, sec)? * 1000 + i64::from(ms))
}

fn general(s: &str) -> Option<Millis> {
    let (rest, (y, _, mo, _, d, _, h, _, mi, _, sec)) = (
        digits(4),
        char('-'),
        digits(2),
        char('-'),
        digits(2),
        one_of("Tt "),
        digits(2),
        char(':'),
        digits(2),
        char(':'),
        digits(2),
    )
        .parse(s.as_bytes())
        .ok()?;
    let (rest, frac) = opt((
        char::<_, nom::error::Error<&[u8]>>('.'),
        take_while_m_n(1, 18, |c: u8| c.is_ascii_digit()),
    ))
    .parse(rest)
    .ok()?;
    let millis_frac = frac.map_or(0, |(_, f): (char, &[u8])| {
        let mut ms = 0i64;
        for i in 0..3 {
            ms = ms * 10 + f.get(i).map_or(0, |&c| i64::from(c - b'0'));
        }
        ms
    });
    let offset_secs: i64 = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2] => {
            let two = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let v = two(*oh1, *oh2)? * 3600 + two(*om1, *om2)? * 60;
            if *sign == b'+' { v } else { -v }
        }
        _ => return None,
    };
    Some((seconds(y, mo, d, h, mi, sec)? - offset_secs) * 1000 + millis_frac)
}

/// The earliest and latest times [`parse_rfc3339`] gives (years 0000 to 9999, offsets of up
/// to a day): anything outside did not come from a log line.
pub const MIN_MILLIS: Millis = -62_167_219_200_000 - 86_400_000;
pub const MAX_MILLIS: Millis = 253_402_300_799_999 + 86_400_000;

/// A calendar date `YYYY-MM-DD`, as the milliseconds of its first instant (UTC).
pub fn parse_date(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let d = &b[r];
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0')))
    };
    Some(seconds(num(0..4)?, num(5..7)?, num(8..10)?, 0, 0, 0)? * 1000)
}

/// A duration such as `90s`, `15m`, `24h`, `7d`, `2w` or `1d12h` (units s, m, h, d, w; each
/// at most once, largest first), in milliseconds; `None` for anything else or an overflow.
pub fn parse_duration(s: &str) -> Option<Millis> {
    const UNITS: [(u8, Millis); 5] = [
        (b'w', 7 * 86_400_000),
        (b'd', 86_400_000),
        (b'h', 3_600_000),
        (b'm', 60_000),
        (b's', 1000),
    ];
    let mut rest = s.as_bytes();
    let mut total: Millis = 0;
    // Units must come largest first, each once: `1h1d` or `1h1h` is a typo, not a duration.
    let mut next_unit = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 12 || digits == rest.len() {
            return None;
        }
        let n = rest[..digits]
            .iter()
            .fold(0 as Millis, |acc, d| acc * 10 + Millis::from(d - b'0'));
        let unit = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == rest[digits])?;
        let (_, scale) = UNITS[next_unit + unit];
        next_unit += unit + 1;
        total = total.checked_add(n.checked_mul(scale)?)?;
        rest = &rest[digits + 1..];
    }
    Some(total)
}

/// A point in time as `--since` and `--until` take it, resolved against `now`: an RFC 3339
/// time, a date (`2024-05-01`, its first instant in UTC), or a duration before `now` (`24h`,
/// `7d`; see [`parse_duration`]).
pub fn parse_when(s: &str, now: Millis) -> Option<Millis> {
    if let Some(t) = parse_rfc3339(s).or_else(|| parse_date(s)) {
        return Some(t);
    }
    let ago = now.checked_sub(parse_duration(s)?)?;
    (ago >= MIN_MILLIS).then_some(ago)
}

/// The current time, in ms since the epoch.
pub fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| {
            Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
        })
}

/// Renders milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`, Envoy's own default shape.
pub fn format_millis(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, sec) = (tod / 3600, tod % 3600 / 60, tod % 60);
    if !(0..=9999).contains(&y) {
        return format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{sec:02}.{frac:03}Z");
    }
    // Digit by digit: reports format two times per destination, and `format!` dominated.
    let mut out = [0u8; 24];
    let mut at = 0;
    let mut put = |n: i64, width: u32, sep: u8| {
        for k in (0..width).rev() {
            out[at] = b'0' + (n / 10i64.pow(k) % 10) as u8;
            at += 1;
        }
        out[at] = sep;
        at += 1;
    };
    put(y, 4, b'-');
    put(i64::from(m), 2, b'-');
    put(i64::from(d), 2, b'T');
    put(h, 2, b':');
    put(mi, 2, b':');
    put(sec, 2, b'.');
    put(frac, 3, b'Z');
    out.iter().map(|&b| char::from(b)).collect()
}

/// Seconds since the epoch of a UTC calendar time; `None` when a field is out of range.
fn seconds(y: u32, mo: u32, d: u32, h: u32, mi: u32, sec: u32) -> Option<i64> {
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(sec))
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("15m"), Some(900_000));
        assert_eq!(parse_duration("24h"), Some(86_400_000));
        assert_eq!(parse_duration("7d"), Some(7 * 86_400_000));
        assert_eq!(parse_duration("2w"), Some(14 * 86_400_000));
        assert_eq!(parse_duration("1d12h"), Some(36 * 3_600_000));
        assert_eq!(parse_duration("0s"), Some(0));
        for bad in [
            "",
            "h",
            "24",
            "24x",
            "1h1d",
            "1h1h",
            "-1h",
            "1.5h",
            " 1h",
            "1h ",
            "9999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn points_in_time() {
        let now = parse_rfc3339("2024-05-14T12:00:00Z").unwrap();
        assert_eq!(
            parse_when("24h", now),
            parse_rfc3339("2024-05-13T12:00:00Z")
        );
        assert_eq!(
            parse_when("2024-05-01", now),
            parse_rfc3339("2024-05-01T00:00:00Z")
        );
        assert_eq!(
            parse_when("2024-05-01T10:00:00+02:00", now),
            parse_rfc3339("2024-05-01T08:00:00Z")
        );
        assert_eq!(parse_when("yesterday", now), None);
        assert_eq!(parse_when("99999999w", now), None, "before the year 0");
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000));
        assert_eq!(
            parse_date("2024-02-29").map(format_millis).as_deref(),
            Some("2024-02-29T00:00:00.000Z")
        );
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2023-2-28"), None);
        assert_eq!(parse_date("2023-02-2x"), None);
        assert!(now() > parse_date("2020-01-01").unwrap());
    }

    #[test]
    fn envoy_default_shape_round_trips() {
        let ms = parse_rfc3339("2022-04-26T13:14:30.905Z").unwrap();
        assert_eq!(ms, 1_650_978_870_905);
        assert_eq!(format_millis(ms), "2022-04-26T13:14:30.905Z");
    }

    #[test]
    fn fast_and_general_paths_agree() {
        for t in [
            "2022-04-26T13:14:30.905Z",
            "2024-02-29T23:59:59.999Z",
            "1999-12-31T00:00:00.000Z",
        ] {
            assert_eq!(fast(t.as_bytes()), general(t), "{t}");
        }
        assert_eq!(fast(b"2023-02-29T00:00:00.000Z"), None);
        assert_eq!(fast(b"2023-01-01T00:00:00.0x0Z"), None);
    }

    #[test]
    fn variants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_rfc3339("2022-04-26T12:47:30.333876Z"),
            parse_rfc3339("2022-04-26T12:47:30.333Z")
        );
        assert_eq!(
            parse_rfc3339("2024-02-29 00:00:00.1Z"),
            Some(1_709_164_800_100)
        );
        assert_eq!(parse_rfc3339("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2023-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("-"), None);
        assert_eq!(parse_rfc3339("2023-01-01T00:00:00"), None);
        assert_eq!(format_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn format_millis_round_trips_over_the_whole_range() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(MIN_MILLIS), "-001-12-31T00:00:00.000Z");
        assert_eq!(format_millis(MAX_MILLIS), "10000-01-01T23:59:59.999Z");
        // Steps that are prime in ms, days and years cover every field's digits.
        let mut ms = MIN_MILLIS + 86_400_000;
        while ms <= MAX_MILLIS - 86_400_000 {
            let text = format_millis(ms);
            assert_eq!(parse_rfc3339(&text), Some(ms), "{text}");
            ms += 1_000_003_777_777;
        }
    }
}
