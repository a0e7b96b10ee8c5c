//! Istio's default TEXT access-log formats, every version (README, "Formats").
//!
//! Envoy does not escape header values, so a `"` or a space inside a user agent, a path or
//! X-Forwarded-For is written as is. The parser therefore anchors on what cannot hold spaces:
//! the bare fields at the end of the line (cluster, addresses, SNI, route) are split from the
//! right, the request line, status and byte counts from the left, and the user-controlled
//! quoted headers in between are never read. Reading the tail alone is enough to classify most
//! in-mesh traffic, so [`parse_tail`] is the hot path and [`parse_full`] runs only when needed.

use memchr::{memchr, memmem, memrchr};
use nom::{
    IResult, Parser,
    bytes::complete::{tag, take_till, take_while1},
    character::complete::char,
    sequence::{delimited, terminated},
};

use super::{Format, Malformed, Record, present};

/// The fields from `"%UPSTREAM_HOST%"` to the end of the line, split from the right. Kept as
/// byte offsets: the quick path reads the cluster as bytes, and only entries that are parsed
/// whole pay for the UTF-8 check, once for the whole tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail<'a> {
    /// How many bare fields follow the upstream host: 4 (Istio 1.0), 5 (1.1–1.2), 6 (1.3+).
    pub fields: u8,
    line: &'a [u8],
    /// (start, end) of each bare field, right to left.
    bare: [(usize, usize); 6],
    /// Byte offset of the opening quote of `"%UPSTREAM_HOST%"`.
    head_end: usize,
    /// Byte offset just past its closing quote.
    quoted_end: usize,
}

/// The tail's fields as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailText<'a> {
    pub upstream_host: Option<&'a str>,
    pub upstream_cluster: Option<&'a str>,
    pub downstream_local_address: Option<&'a str>,
    pub requested_server_name: Option<&'a str>,
    pub route_name: Option<&'a str>,
}

fn utf8(b: &[u8]) -> Result<&str, Malformed> {
    std::str::from_utf8(b).map_err(|_| Malformed::InvalidUtf8)
}

impl<'a> Tail<'a> {
    fn span(&self, i_from_left: usize) -> (usize, usize) {
        self.bare[self.fields as usize - 1 - i_from_left]
    }

    /// `%UPSTREAM_CLUSTER%` as bytes, `None` for `-`.
    pub fn cluster(&self) -> Option<&'a [u8]> {
        let (a, b) = self.span(0);
        let c = &self.line[a..b];
        (c != b"-").then_some(c)
    }

    /// All the tail's fields as text, checked for UTF-8 once.
    pub fn text(&self) -> Result<TailText<'a>, Malformed> {
        let base = self.head_end;
        let tail = utf8(&self.line[base..])?;
        let at = |(a, b): (usize, usize)| present(&tail[a - base..b - base]);
        let n = self.fields as usize;
        Ok(TailText {
            upstream_host: at((base + 1, self.quoted_end - 1)),
            upstream_cluster: at(self.span(0)),
            downstream_local_address: at(self.span(2)),
            requested_server_name: if n >= 5 { at(self.span(4)) } else { None },
            route_name: if n >= 6 { at(self.span(5)) } else { None },
        })
    }
}

/// Positions of the spaces in a line, from the right. The tail's fields are short, so this
/// reads eight bytes at a time with word arithmetic rather than paying a vector search's setup
/// for each of them.
struct SpacesFromRight<'a> {
    line: &'a [u8],
    /// Offset of the first byte of the word `mask` was taken from.
    at: usize,
    /// Bit `8 * i + 7` is set when byte `at + i` is a space not yet returned.
    mask: u64,
}

impl<'a> SpacesFromRight<'a> {
    fn new(line: &'a [u8]) -> Self {
        SpacesFromRight {
            line,
            at: line.len(),
            mask: 0,
        }
    }
}

impl Iterator for SpacesFromRight<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        while self.mask == 0 {
            if self.at == 0 {
                return None;
            }
            let start = self.at.saturating_sub(8);
            let word = match self.line[start..self.at].try_into() {
                Ok(w) => u64::from_le_bytes(w),
                Err(_) => {
                    let mut w = [0u8; 8];
                    w[..self.at - start].copy_from_slice(&self.line[start..self.at]);
                    u64::from_le_bytes(w)
                }
            };
            // Bytes equal to b' ' become zero; the high bit of each zero byte is then set,
            // exactly (no carry crosses a byte).
            let t = word ^ 0x2020_2020_2020_2020;
            // (A short word's padding bytes are zero: never a space.)
            self.mask = !(((t & LOW7) + LOW7) | t | LOW7);
            self.at = start;
        }
        let bit = 63 - self.mask.leading_zeros();
        self.mask &= !(1u64 << bit);
        Some(self.at + (bit / 8) as usize)
    }
}

/// Splits the fixed fields off the end of a line that starts with `[`.
#[inline]
pub fn parse_tail(line: &[u8]) -> Result<Tail<'_>, Malformed> {
    // At most six bare fields, then the quoted upstream host.
    let mut bare = [(0usize, 0usize); 6];
    let mut n = 0usize;
    let mut end = line.len();
    let mut spaces = SpacesFromRight::new(line);
    let head_end = loop {
        let sp = spaces.next().ok_or(Malformed::TextLayout)?;
        let tok = &line[sp + 1..end];
        if tok.len() >= 2 && tok[0] == b'"' && tok[tok.len() - 1] == b'"' {
            break sp + 1;
        }
        if n == bare.len() || tok.is_empty() {
            return Err(Malformed::TextLayout);
        }
        bare[n] = (sp + 1, end);
        n += 1;
        end = sp;
    };
    if n < 4 {
        return Err(Malformed::TextLayout);
    }
    Ok(Tail {
        fields: n as u8,
        line,
        bare,
        head_end,
        quoted_end: end,
    })
}

type PResult<'a, T> = IResult<&'a [u8], T>;

/// Positions of `" ` in `hay`, in order. (A two-byte needle: memchr on the quote beats building
/// a substring searcher for every line.)
fn quote_space(hay: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr_iter(b'"', hay).filter(move |&i| hay.get(i + 1) == Some(&b' '))
}

fn bare_token(i: &[u8]) -> PResult<'_, &[u8]> {
    terminated(take_while1(|c| c != b' '), char(' ')).parse(i)
}

fn digits_token(i: &[u8]) -> PResult<'_, &[u8]> {
    terminated(take_while1(|c: u8| c.is_ascii_digit()), char(' ')).parse(i)
}

/// A `"..."` field whose value may hold spaces but ends at the first `" `.
fn quoted(i: &[u8]) -> PResult<'_, &[u8]> {
    let (rest, _) = char('"').parse(i)?;
    match quote_space(rest).next() {
        Some(p) => Ok((&rest[p + 2..], &rest[..p])),
        None => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::TakeUntil,
        ))),
    }
}

fn timestamp(i: &[u8]) -> PResult<'_, &[u8]> {
    delimited(char('['), take_till(|c| c == b']'), tag("] ")).parse(i)
}

/// A decimal number from ASCII digits, without a UTF-8 pass (the callers have checked that
/// the token is all digits).
fn number<T: TryFrom<u64>>(b: &[u8]) -> Result<T, Malformed> {
    let n = b.iter().try_fold(0u64, |acc, &c| {
        if !c.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    });
    n.filter(|_| !b.is_empty())
        .and_then(|n| T::try_from(n).ok())
        .ok_or(Malformed::BadNumber)
}

/// Where the quoted request line may end: each `" <digits> ` after `from`, in order. Paths
/// are not escaped, so a `"` inside one can look like the end; the caller keeps the first
/// candidate after which the rest of the entry parses.
fn request_line_ends(line: &[u8], from: usize, limit: usize) -> impl Iterator<Item = usize> + '_ {
    let hay = &line[from..limit];
    quote_space(hay).filter_map(move |p| {
        let after = &hay[p + 2..];
        let sp = memchr(b' ', after)?;
        (sp > 0 && after[..sp].iter().all(u8::is_ascii_digit)).then_some(from + p)
    })
}

/// The fields between the request line and the quoted headers.
struct Middle<'a> {
    code: u16,
    flags: Option<&'a str>,
    details: Option<&'a str>,
    rx: u64,
    tx: u64,
    format: Format,
}

/// `CODE FLAGS [RCD CTD] ["MIXER"] ["UTFR"] RX TX ...`, and the format version it implies.
fn middle(mid: &[u8], fields: u8) -> Result<Middle<'_>, Malformed> {
    let bad = |_| Malformed::TextLayout;
    let (r, code) = digits_token(mid).map_err(bad)?;
    let (mut r, flags) = bare_token(r).map_err(bad)?;
    let mut details = None;
    let mut has_details = false;
    if r.first().is_some_and(|c| *c != b'"' && !c.is_ascii_digit()) {
        // Istio 1.9+: RESPONSE_CODE_DETAILS CONNECTION_TERMINATION_DETAILS "UTFR".
        let (r2, rcd) = bare_token(r).map_err(bad)?;
        let (r2, _ctd) = bare_token(r2).map_err(bad)?;
        details = present(utf8(rcd)?);
        has_details = true;
        r = r2;
    }
    let mut quoted_fields = 0u8;
    while r.first() == Some(&b'"') {
        // No Istio layout has more than two quoted fields here (`"MIXER"` and `"UTFR"`).
        if quoted_fields == 2 {
            return Err(Malformed::TextLayout);
        }
        let (r2, _) = quoted(r).map_err(bad)?;
        quoted_fields += 1;
        r = r2;
    }
    let (r, rx) = digits_token(r).map_err(bad)?;
    let (_, tx) = digits_token(r).map_err(bad)?;
    let format = match (fields, has_details, quoted_fields) {
        (4, false, 0) => Format::Text10,
        (5, false, 0 | 1) => Format::Text11,
        (5, false, 2) => Format::Text12,
        (6, false, 2) => Format::Text13,
        (6, false, 1) => Format::Text18,
        (6, true, 1) => Format::Text19,
        _ => return Err(Malformed::TextLayout),
    };
    Ok(Middle {
        code: number(code)?,
        flags: present(utf8(flags)?),
        details,
        rx: number(rx)?,
        tx: number(tx)?,
        format,
    })
}

/// Parses the whole entry, given its tail. Returns the format version it matched.
pub fn parse_full<'a>(line: &'a [u8], tail: &Tail<'a>) -> Result<(Format, Record<'a>), Malformed> {
    let bad = |_| Malformed::TextLayout;
    let (rest, ts) = timestamp(line).map_err(bad)?;
    let start_time = present(utf8(ts)?);
    let t = tail.text()?;
    let mut rec = Record {
        start_time,
        upstream_host: t.upstream_host,
        upstream_cluster: t.upstream_cluster,
        downstream_local_address: t.downstream_local_address,
        requested_server_name: t.requested_server_name,
        route_name: t.route_name,
        ..Record::default()
    };
    let head_start = line.len() - rest.len();
    // `head` is everything before ` "%UPSTREAM_HOST%"`.
    let head_end = tail.head_end.checked_sub(1).ok_or(Malformed::TextLayout)?;
    if head_end < head_start {
        return Err(Malformed::TextLayout);
    }

    if rest.first() != Some(&b'"') {
        // Istio 1.0 TCP layout: `[ts] FLAGS RX TX DURATION "UPSTREAM_HOST" ...`.
        if tail.fields != 4 {
            return Err(Malformed::TextLayout);
        }
        let head = &line[head_start..=head_end];
        let (r, flags) = bare_token(head).map_err(bad)?;
        let (r, rx) = digits_token(r).map_err(bad)?;
        let (_, tx) = digits_token(r).map_err(bad)?;
        rec.response_flags = present(utf8(flags)?);
        rec.bytes_received = number(rx)?;
        rec.bytes_sent = number(tx)?;
        rec.response_code = Some(0);
        return Ok((Format::Text10, rec));
    }

    // The authority is the last quoted header before the upstream host.
    let head = &line[..head_end];
    if head.last() != Some(&b'"') {
        return Err(Malformed::TextLayout);
    }
    let auth_open = memchr::memrchr_iter(b'"', head)
        .find(|&i| head.get(i + 1) == Some(&b' ') && head.get(i + 2) == Some(&b'"'))
        .ok_or(Malformed::TextLayout)?
        + 2;
    // `" "` as the whole authority would put the match on its own quotes.
    if auth_open < head_start || auth_open + 1 > head.len() - 1 {
        return Err(Malformed::TextLayout);
    }
    rec.authority = present(utf8(&head[auth_open + 1..head.len() - 1])?);

    // Request line: `"METHOD PATH PROTOCOL"`, or `"- - -"` for TCP.
    let rl_start = head_start + 1;
    let mut first_error = None;
    let (rl_end, m) = request_line_ends(line, rl_start, auth_open)
        .find_map(|end| match middle(&line[end + 2..auth_open], tail.fields) {
            Ok(m) => Some((end, m)),
            Err(e) => {
                first_error.get_or_insert(e);
                None
            }
        })
        .ok_or_else(|| first_error.unwrap_or(Malformed::TextLayout))?;
    let request = &line[rl_start..rl_end];
    if request != b"- - -" {
        let sp = memchr(b' ', request).ok_or(Malformed::TextLayout)?;
        rec.method = present(utf8(&request[..sp])?);
        if tail.fields == 4 {
            // Istio 1.0 wrote PATH and PROTOCOL with no space between them.
            if let Some(p) = memmem::rfind(request, b"HTTP/") {
                rec.protocol = present(utf8(&request[p..])?);
            }
        } else {
            let sp = memrchr(b' ', request).ok_or(Malformed::TextLayout)?;
            rec.protocol = present(utf8(&request[sp + 1..])?);
        }
    }
    rec.response_code = Some(m.code);
    rec.response_flags = m.flags;
    rec.response_code_details = m.details;
    rec.bytes_received = m.rx;
    rec.bytes_sent = m.tx;
    let format = m.format;
    Ok((format, rec))
}

/// Parses a whole line: [`parse_tail`] then [`parse_full`].
pub fn parse(line: &[u8]) -> Result<(Format, Record<'_>), Malformed> {
    let tail = parse_tail(line)?;
    parse_full(line, &tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_from_right_finds_every_space() {
        let mut cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b" ".to_vec(),
            b"a".to_vec(),
            b"a b".to_vec(),
            b"        ".to_vec(),
            b"\xa0 \x20\xff !\x00 ".to_vec(),
        ];
        // Every length around the word size, with spaces at every stride.
        for len in 0..40 {
            for stride in 1..10 {
                cases.push(
                    (0..len)
                        .map(|i| {
                            if i % stride == 0 {
                                b' '
                            } else {
                                b'x' ^ i as u8
                            }
                        })
                        .collect(),
                );
            }
        }
        for c in cases {
            let want: Vec<usize> = (0..c.len()).rev().filter(|&i| c[i] == b' ').collect();
            assert_eq!(SpacesFromRight::new(&c).collect::<Vec<_>>(), want, "{c:?}");
        }
    }

    fn ok(line: &str) -> (Format, Record<'_>) {
        parse(line.as_bytes()).unwrap_or_else(|e| panic!("{e:?}: {line}"))
    }

    #[test]
    fn istio_1_9_http_passthrough() {
        let (f, r) = ok(
            r#"[2023-01-07T10:59:03.432Z] "GET /users HTTP/1.1" 200 - via_upstream - "-" 0 1847 65 64 "172.17.0.1" "Go-http-client/1.1" "e631fa32-fb6a-921a-8f58-e96f3dcac3d3" "jsonplaceholder.typicode.com" "104.21.55.162:80" PassthroughCluster 172.17.0.7:50460 104.21.55.162:80 172.17.0.1:0 - allow_any"#,
        );
        assert_eq!(f, Format::Text19);
        assert_eq!(r.method, Some("GET"));
        assert_eq!(r.protocol, Some("HTTP/1.1"));
        assert_eq!(r.response_code, Some(200));
        assert_eq!(r.response_flags, None);
        assert_eq!(r.response_code_details, Some("via_upstream"));
        assert_eq!(r.bytes_received, 0);
        assert_eq!(r.bytes_sent, 1847);
        assert_eq!(r.authority, Some("jsonplaceholder.typicode.com"));
        assert_eq!(r.upstream_host, Some("104.21.55.162:80"));
        assert_eq!(r.upstream_cluster, Some("PassthroughCluster"));
        assert_eq!(r.downstream_local_address, Some("104.21.55.162:80"));
        assert_eq!(r.requested_server_name, None);
        assert_eq!(r.route_name, Some("allow_any"));
        assert_eq!(r.start_time, Some("2023-01-07T10:59:03.432Z"));
    }

    #[test]
    fn istio_1_8_passthrough() {
        let (f, r) = ok(
            r#"[2021-03-05T14:07:45.474Z] "GET / HTTP/1.1" 400 - "-" 0 3526 1 1 "-" "curl/7.71.1" "706cd713-810b-476f-a792-0c50f9ac3040" "www.baidu.com" "21.100.174.62:80" PassthroughCluster 22.168.24.81:54598 21.100.174.62:80 22.168.24.81:54596 - allow_any"#,
        );
        assert_eq!(f, Format::Text18);
        assert_eq!(r.response_code, Some(400));
        assert_eq!(r.bytes_sent, 3526);
        assert_eq!(r.authority, Some("www.baidu.com"));
    }

    #[test]
    fn istio_1_3_tls_with_sni() {
        let (f, r) = ok(
            r#"[2020-12-03T04:15:57.157Z] "- - -" 0 - "-" "-" 781 4652 23 - "-" "-" "-" "-" "14.215.177.39:443" PassthroughCluster 10.0.1.38:59692 14.215.177.39:443 10.0.1.38:59690 www.baidu.com -"#,
        );
        assert_eq!(f, Format::Text13);
        assert_eq!(r.method, None);
        assert_eq!(r.protocol, None);
        assert_eq!(r.requested_server_name, Some("www.baidu.com"));
        assert_eq!(r.bytes_received, 781);
        assert_eq!(r.bytes_sent, 4652);
        assert_eq!(r.route_name, None);
    }

    #[test]
    fn istio_1_9_blocked_http_and_tcp() {
        let (f, r) = ok(
            r#"[2022-04-26T13:16:32.023Z] "HEAD / HTTP/1.1" 502 - direct_response - "-" 0 0 0 - "-" "curl/7.81.0-DEV" "cb171c15-848a-93d8-88d6-beeadcbb683f" "www.baidu.com" "-" - - 180.97.34.94:80 10.122.158.52:48708 - block_all"#,
        );
        assert_eq!(f, Format::Text19);
        assert_eq!(r.upstream_cluster, None);
        assert_eq!(r.upstream_host, None);
        assert_eq!(r.route_name, Some("block_all"));
        assert_eq!(r.response_code_details, Some("direct_response"));
        let (_, r) = ok(
            r#"[2024-04-22T04:26:10.731Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - [2001:2::f0f0:89b7]:10002 [2406:da24:8:c201:6969::14]:45890 - -"#,
        );
        assert_eq!(r.response_flags, Some("UH"));
        assert_eq!(
            r.downstream_local_address,
            Some("[2001:2::f0f0:89b7]:10002")
        );
    }

    #[test]
    fn istio_1_1_and_1_2() {
        let (f, r) = ok(
            r#"[2019-03-06T09:31:27.354Z] "GET /status/418 HTTP/1.1" 418 - "-" 0 135 5 2 "-" "curl/7.60.0" "d209e46f-9ed5-9b61-bbdd-43e22662702a" "httpbin:8000" "127.0.0.1:80" inbound|8000|http|httpbin.default.svc.cluster.local - 172.30.146.73:80 172.30.146.82:38618 outbound_.8000_._.httpbin.default.svc.cluster.local"#,
        );
        assert_eq!(f, Format::Text11);
        assert_eq!(r.bytes_sent, 135);
        assert_eq!(
            r.requested_server_name,
            Some("outbound_.8000_._.httpbin.default.svc.cluster.local")
        );
        let (f, _) = ok(
            r#"[2019-06-06T09:31:27.354Z] "GET /status/418 HTTP/1.1" 418 - "-" "-" 0 135 5 2 "-" "curl/7.60.0" "d209e46f" "httpbin:8000" "127.0.0.1:80" inbound|8000|http|httpbin.default.svc.cluster.local - 172.30.146.73:80 172.30.146.82:38618 -"#,
        );
        assert_eq!(f, Format::Text12);
        // Istio 1.1 pre-releases: no Mixer field at all.
        let (f, r) = ok(
            r#"[2019-01-24T12:17:11.640Z] "GET /headers HTTP/1.1" 200 - 0 599 214 214 "-" "curl/7.60.0" "17fde8f7-fa62-9b39-8999-302324e6def2" "httpbin.org" "35.173.6.94:80" outbound|80||httpbin.org - 35.173.6.94:80 172.30.109.82:55314 -"#,
        );
        assert_eq!(f, Format::Text11);
        assert_eq!(r.upstream_cluster, Some("outbound|80||httpbin.org"));
    }

    #[test]
    fn istio_1_0_http_and_tcp() {
        let (f, r) = ok(
            r#"[2018-09-03T10:00:00.000Z] "GET /get?x=1HTTP/1.1" 200 - 0 225 15 14 "-" "curl/7.60.0" "6e6ae0d2" "httpbin.org" "35.173.6.94:80" outbound|80||httpbin.org 10.1.1.1:40000 35.173.6.94:80 10.1.1.1:39998"#,
        );
        assert_eq!(f, Format::Text10);
        assert_eq!(r.protocol, Some("HTTP/1.1"));
        assert_eq!(r.requested_server_name, None);
        let (f, r) = ok(
            r#"[2018-09-03T10:00:00.000Z] UH 0 0 0 "-" - - 54.225.169.28:443 10.10.167.168:41034"#,
        );
        assert_eq!(f, Format::Text10);
        assert_eq!(r.response_flags, Some("UH"));
        assert_eq!(r.method, None);
    }

    #[test]
    fn unescaped_quotes_and_spaces_in_headers() {
        let (f, r) = ok(
            r#"[2023-01-07T10:59:03.432Z] "GET /a" b?q="x y" HTTP/1.1" 200 - via_upstream - "-" 0 10 1 1 "1.2.3.4, 5.6.7.8" "Mozilla/5.0 (X11; "evil" " ua)" "id" "api.example.com" "1.2.3.4:80" PassthroughCluster 10.0.0.1:1 1.2.3.4:80 10.0.0.1:2 - allow_any"#,
        );
        assert_eq!(f, Format::Text19);
        assert_eq!(r.method, Some("GET"));
        assert_eq!(r.authority, Some("api.example.com"));
        assert_eq!(r.bytes_sent, 10);
    }

    #[test]
    fn a_path_that_looks_like_the_end_of_the_request_line() {
        let (f, r) = ok(
            r#"[2023-01-07T10:59:03.432Z] "GET /a" 200 x HTTP/1.1" 200 - via_upstream - "-" 0 10 1 1 "-" "curl" "id" "api.example.com" "1.2.3.4:80" PassthroughCluster 10.0.0.1:1 1.2.3.4:80 10.0.0.1:2 - allow_any"#,
        );
        assert_eq!(
            (f, r.response_code, r.bytes_sent),
            (Format::Text19, Some(200), 10)
        );
        assert_eq!(r.protocol, Some("HTTP/1.1"));
    }

    #[test]
    fn an_authority_of_one_space_is_malformed_not_a_panic() {
        let line = br#"[2023-01-07T10:59:03.432Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 10 1 1 "-" "curl" "id" " " "1.2.3.4:80" PassthroughCluster 10.0.0.1:1 1.2.3.4:80 10.0.0.1:2 - allow_any"#;
        assert_eq!(parse(line).unwrap_err(), Malformed::TextLayout);
    }

    #[test]
    fn transport_failure_reason_with_spaces() {
        let (f, r) = ok(
            r#"[2023-01-07T10:59:03.432Z] "- - -" 0 UF,URX - - "TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED" 0 0 10 - "-" "-" "-" "-" "1.2.3.4:443" PassthroughCluster - 1.2.3.4:443 10.0.0.1:2 - -"#,
        );
        assert_eq!(f, Format::Text19);
        assert_eq!(r.response_flags, Some("UF,URX"));
    }

    #[test]
    fn rejects_what_is_not_an_entry() {
        for line in [
            "[2022-04-26T12:47:30.333Z][15][warning][config] something",
            "[x] a b c d e f g h i j",
            r#"[2023-01-07T10:59:03.432Z] "GET / HTTP/1.1" 200 - "-" 0 10 1 1 "-" "-" "-" "a" "b""#,
            "[",
        ] {
            assert!(parse(line.as_bytes()).is_err(), "{line}");
        }
    }
}
