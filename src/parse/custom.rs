//! Custom formats: the Envoy format string a mesh sets in `meshConfig.accessLogFormat` or a
//! Telemetry provider's `logFormat.text`, compiled into a matcher; and `logFormat.labels`
//! (JSON), a map of key to operator.
//!
//! A compiled text format is a sequence of literal text and operators. Operators whose values
//! never hold spaces or quotes (addresses, codes, cluster, route, ...) are matched from the
//! ends of the line inwards; the user-controlled ones (headers, paths, free text) take what is
//! left between them, so a `"` or a space inside a user agent cannot shift the fields the
//! classification reads.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use memchr::memmem;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::json::Value;
use super::{Malformed, Record, present};

/// What an operator's value is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    StartTime,
    Method,
    Protocol,
    Code,
    Flags,
    FlagsLong,
    Details,
    BytesReceived,
    BytesSent,
    Authority,
    UpstreamHost,
    Cluster,
    DownstreamLocal,
    Sni,
    Route,
    PodName,
    PodNamespace,
    /// Read past, not used.
    Ignored,
}

/// How many [`Field`]s are stored (all but `Ignored`).
const SLOTS: usize = 17;

impl Field {
    /// The Envoy operator the field holds, as a format string writes it.
    pub fn operator(self) -> &'static str {
        match self {
            Field::StartTime => "%START_TIME%",
            Field::Method => "%REQ(:METHOD)%",
            Field::Protocol => "%PROTOCOL%",
            Field::Code => "%RESPONSE_CODE%",
            Field::Flags => "%RESPONSE_FLAGS%",
            Field::FlagsLong => "%RESPONSE_FLAGS_LONG%",
            Field::Details => "%RESPONSE_CODE_DETAILS%",
            Field::BytesReceived => "%BYTES_RECEIVED%",
            Field::BytesSent => "%BYTES_SENT%",
            Field::Authority => "%REQ(:AUTHORITY)%",
            Field::UpstreamHost => "%UPSTREAM_HOST%",
            Field::Cluster => "%UPSTREAM_CLUSTER%",
            Field::DownstreamLocal => "%DOWNSTREAM_LOCAL_ADDRESS%",
            Field::Sni => "%REQUESTED_SERVER_NAME%",
            Field::Route => "%ROUTE_NAME%",
            Field::PodName => "%ENVIRONMENT(POD_NAME)%",
            Field::PodNamespace => "%ENVIRONMENT(POD_NAMESPACE)%",
            Field::Ignored => "other",
        }
    }

    fn slot(self) -> Option<usize> {
        (self != Field::Ignored).then_some(self as usize)
    }
}

/// Parses one `%OPERATOR(args):N%` (without the `%`s) into the field it fills and whether its
/// value can hold spaces or quotes.
fn operator(op: &str) -> Result<(Field, bool), String> {
    let (name, args) = match op.split_once('(') {
        Some((n, rest)) => (
            n,
            rest.rsplit_once(')')
                .map(|(a, _)| a)
                .ok_or_else(|| format!("%{op}%: unclosed '('"))?,
        ),
        None => (op.split(':').next().unwrap_or(op), ""),
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!("%{op}% is not an Envoy command operator"));
    }
    let header = |h: &str| {
        args.split('?')
            .next()
            .is_some_and(|x| x.eq_ignore_ascii_case(h))
    };
    Ok(match name {
        // A custom strftime pattern may hold spaces.
        "START_TIME" => (Field::StartTime, args.contains(' ')),
        "REQ" if header(":METHOD") => (Field::Method, false),
        "REQ" if header(":AUTHORITY") || header("HOST") => (Field::Authority, false),
        "REQ"
        | "RESP"
        | "TRAILER"
        | "DYNAMIC_METADATA"
        | "FILTER_STATE"
        | "CEL"
        | "METADATA"
        | "UPSTREAM_TRANSPORT_FAILURE_REASON"
        | "CONNECTION_TERMINATION_DETAILS"
        | "DOWNSTREAM_PEER_SUBJECT"
        | "DOWNSTREAM_LOCAL_SUBJECT"
        | "DOWNSTREAM_PEER_ISSUER"
        | "PATH" => (Field::Ignored, true),
        "PROTOCOL" => (Field::Protocol, false),
        "RESPONSE_CODE" => (Field::Code, false),
        "RESPONSE_FLAGS" => (Field::Flags, false),
        "RESPONSE_FLAGS_LONG" => (Field::FlagsLong, false),
        "RESPONSE_CODE_DETAILS" => (Field::Details, false),
        "BYTES_RECEIVED" => (Field::BytesReceived, false),
        "BYTES_SENT" => (Field::BytesSent, false),
        "UPSTREAM_HOST" => (Field::UpstreamHost, false),
        "UPSTREAM_CLUSTER" | "UPSTREAM_CLUSTER_RAW" => (Field::Cluster, false),
        "DOWNSTREAM_LOCAL_ADDRESS" => (Field::DownstreamLocal, false),
        "REQUESTED_SERVER_NAME" => (Field::Sni, false),
        "ROUTE_NAME" => (Field::Route, false),
        "ENVIRONMENT" if args == "POD_NAME" => (Field::PodName, false),
        "ENVIRONMENT" if args == "POD_NAMESPACE" => (Field::PodNamespace, false),
        _ => (Field::Ignored, false),
    })
}

/// The operators a format must have for its entries to be classified.
fn check_required(fields: &[Field], what: &str) -> Result<(), String> {
    let has = |f: Field| fields.contains(&f);
    let mut missing = Vec::new();
    if !has(Field::Cluster) && !has(Field::Route) {
        missing.push("%UPSTREAM_CLUSTER% (or %UPSTREAM_CLUSTER_RAW% or %ROUTE_NAME%)");
    }
    if !has(Field::DownstreamLocal) {
        missing.push("%DOWNSTREAM_LOCAL_ADDRESS%");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what} lacks {}: without them no entry can be classified (the cluster or route says what the mesh did, the original destination address says where the traffic went)",
            missing.join(" and ")
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(Vec<u8>),
    Op { field: Field, free: bool },
}

/// A compiled text format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
    /// The source text, for messages.
    pub source: String,
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// How many steps matching one line may take through the free fields of a format before the
/// line is given up as not matching (it is then read as Istio's own formats).
const MATCH_FUEL: u32 = 4096;

impl Template {
    /// Compiles an Envoy format string. `require` checks that entries can be classified.
    pub fn compile(format: &str, require: bool) -> Result<Template, String> {
        let text = format.strip_suffix('\n').unwrap_or(format);
        let mut pieces = Vec::new();
        let mut lit = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find('%') {
            lit.extend_from_slice(&rest.as_bytes()[..i]);
            let after = &rest[i + 1..];
            if let Some(stripped) = after.strip_prefix('%') {
                lit.push(b'%');
                rest = stripped;
                continue;
            }
            let end = after
                .find('%')
                .ok_or_else(|| format!("unterminated operator in {format:?}: {}", &rest[i..]))?;
            let (field, free) = operator(&after[..end])?;
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            } else if matches!(pieces.last(), Some(Piece::Op { .. })) {
                return Err(format!(
                    "in {format:?}, %{}% follows another operator with no text between them: their values cannot be told apart",
                    &after[..end]
                ));
            }
            pieces.push(Piece::Op { field, free });
            rest = &after[end + 1..];
        }
        lit.extend_from_slice(rest.as_bytes());
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        if require {
            let fields: Vec<Field> = pieces
                .iter()
                .filter_map(|p| {
                    if let Piece::Op { field, .. } = p {
                        Some(*field)
                    } else {
                        None
                    }
                })
                .collect();
            check_required(&fields, &format!("the log format {format:?}"))?;
        }
        Ok(Template {
            pieces,
            source: format.to_owned(),
        })
    }

    /// Matches a line. Bounded fields are taken from the line's ends inwards; free fields take
    /// what is left. Returns the value of each slot (`-` and empty are unset).
    pub fn match_line<'a>(&self, line: &'a [u8]) -> Option<[Option<&'a [u8]>; SLOTS]> {
        let mut out: [Option<&'a [u8]>; SLOTS] = [None; SLOTS];
        let n = self.pieces.len();
        let first_free = self
            .pieces
            .iter()
            .position(|p| matches!(p, Piece::Op { free: true, .. }))
            .unwrap_or(n);
        let last_free = self
            .pieces
            .iter()
            .rposition(|p| matches!(p, Piece::Op { free: true, .. }));
        let (mut lo, mut hi) = (0usize, line.len());
        let set = |out: &mut [Option<&'a [u8]>; SLOTS], field: Field, v: &'a [u8]| {
            if let Some(s) = field.slot() {
                out[s] = Some(v);
            }
        };
        // From the left, up to the first free field.
        let mut i = 0;
        while i < first_free {
            match &self.pieces[i] {
                Piece::Lit(l) => {
                    if !line[lo..hi].starts_with(l) {
                        return None;
                    }
                    lo += l.len();
                }
                Piece::Op { field, .. } => {
                    let end = match self.pieces.get(i + 1) {
                        Some(Piece::Lit(l)) => lo + memmem::find(&line[lo..hi], l)?,
                        _ if last_free.is_none() && i + 1 == n => hi,
                        _ => return None,
                    };
                    set(&mut out, *field, &line[lo..end]);
                    lo = end;
                }
            }
            i += 1;
        }
        let Some(last_free) = last_free else {
            return (lo == hi).then_some(out);
        };
        // From the right, down to the last free field.
        let mut j = n;
        while j > last_free + 1 {
            j -= 1;
            match &self.pieces[j] {
                Piece::Lit(l) => {
                    if !line[lo..hi].ends_with(l) {
                        return None;
                    }
                    hi -= l.len();
                }
                Piece::Op { field, .. } => {
                    let start = match &self.pieces[j - 1] {
                        Piece::Lit(l) => lo + memmem::rfind(&line[lo..hi], l)? + l.len(),
                        _ => return None,
                    };
                    set(&mut out, *field, &line[start..hi]);
                    hi = start;
                }
            }
        }
        // In between: left to right, trying each place the next text occurs (a path or a user
        // agent may hold it) until the rest of the middle matches.
        let mut fuel = MATCH_FUEL;
        self.middle(first_free, last_free, line, lo, hi, &mut out, &mut fuel)
            .then_some(out)
    }

    /// Matches pieces `k..=last` to exactly `line[lo..hi]`, backtracking over where each field
    /// ends. A bounded field's value holds no space or quote (and a count only digits or `-`).
    #[allow(clippy::too_many_arguments)]
    fn middle<'a>(
        &self,
        k: usize,
        last: usize,
        line: &'a [u8],
        lo: usize,
        hi: usize,
        out: &mut [Option<&'a [u8]>; SLOTS],
        fuel: &mut u32,
    ) -> bool {
        if k > last {
            return lo == hi;
        }
        // Each free field may end at any occurrence of the text after it: with many of them,
        // the places to try multiply. A line that needs more tries than this is not matched.
        if *fuel == 0 {
            return false;
        }
        *fuel -= 1;
        match &self.pieces[k] {
            Piece::Lit(l) => {
                line[lo..hi].starts_with(l)
                    && self.middle(k + 1, last, line, lo + l.len(), hi, out, fuel)
            }
            Piece::Op { field, free } => {
                let fits = |v: &[u8]| {
                    *free
                        || match field {
                            Field::Code | Field::BytesReceived | Field::BytesSent => {
                                v == b"-" || (!v.is_empty() && v.iter().all(u8::is_ascii_digit))
                            }
                            _ => !v.iter().any(|c| *c == b' ' || *c == b'"'),
                        }
                };
                if k == last {
                    let v = &line[lo..hi];
                    if !fits(v) {
                        return false;
                    }
                    if let Some(s) = field.slot() {
                        out[s] = Some(v);
                    }
                    return true;
                }
                let Some(Piece::Lit(next)) = self.pieces.get(k + 1) else {
                    return false;
                };
                for p in memmem::find_iter(&line[lo..hi], next) {
                    let v = &line[lo..lo + p];
                    if !fits(v) {
                        if *free {
                            continue;
                        }
                        return false;
                    }
                    if self.middle(k + 1, last, line, lo + p, hi, out, fuel) {
                        if let Some(s) = field.slot() {
                            out[s] = Some(v);
                        }
                        return true;
                    }
                    if !*free {
                        return false;
                    }
                }
                false
            }
        }
    }
}

/// Envoy's long response flag names, to the short codes the classifier reads.
pub fn short_flag(long: &str) -> &str {
    match long {
        "NoHealthyUpstream" => "UH",
        "UpstreamConnectionFailure" => "UF",
        "UpstreamOverflow" => "UO",
        "NoRouteFound" => "NR",
        "UpstreamRetryLimitExceeded" => "URX",
        "NoClusterFound" => "NC",
        "DurationTimeout" => "DT",
        "DownstreamConnectionTermination" => "DC",
        "FailedLocalHealthCheck" => "LH",
        "UpstreamRequestTimeout" => "UT",
        "LocalReset" => "LR",
        "UpstreamRemoteReset" => "UR",
        "UpstreamConnectionTermination" => "UC",
        "DelayInjected" => "DI",
        "FaultInjected" => "FI",
        "RateLimited" => "RL",
        "UnauthorizedExternalService" => "UAEX",
        "RateLimitServiceError" => "RLSE",
        "InvalidEnvoyRequestHeaders" => "IH",
        "StreamIdleTimeout" => "SI",
        "DownstreamProtocolError" => "DPE",
        "UpstreamProtocolError" => "UPE",
        "UpstreamMaxStreamDurationReached" => "UMSDR",
        "ResponseFromCacheFilter" => "RFCF",
        "NoFilterConfigFound" => "NFCF",
        "OverloadManagerTerminated" => "OM",
        "DnsResolutionFailed" => "DF",
        "DropOverload" => "DO",
        "DownstreamRemoteReset" => "DR",
        other => other,
    }
}

/// Who wrote an entry, when the format logs it (`%ENVIRONMENT(POD_NAME)%` and
/// `%ENVIRONMENT(POD_NAMESPACE)%`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Writer<'a> {
    pub pod: Option<&'a str>,
    pub namespace: Option<&'a str>,
}

/// Turns matched slot values into a record. Long flags are kept as they are when there are
/// several: only `UH` alone matters to the classifier.
pub fn record<'a>(slots: &[Option<&'a str>; SLOTS]) -> Result<(Record<'a>, Writer<'a>), Malformed> {
    let get = |f: Field| slots[f as usize].and_then(present);
    let num = |f: Field| -> Result<u64, Malformed> {
        match get(f) {
            None => Ok(0),
            Some(s) => s.parse().map_err(|_| Malformed::BadNumber),
        }
    };
    let code = match get(Field::Code) {
        None => None,
        Some(c) => Some(c.parse().map_err(|_| Malformed::BadNumber)?),
    };
    let flags = get(Field::Flags).or_else(|| get(Field::FlagsLong).map(short_flag));
    let method = get(Field::Method);
    Ok((
        Record {
            start_time: get(Field::StartTime),
            method,
            protocol: get(Field::Protocol),
            response_code: code,
            response_flags: flags,
            response_code_details: get(Field::Details),
            bytes_received: num(Field::BytesReceived)?,
            bytes_sent: num(Field::BytesSent)?,
            authority: get(Field::Authority),
            upstream_host: get(Field::UpstreamHost),
            upstream_cluster: get(Field::Cluster),
            downstream_local_address: get(Field::DownstreamLocal),
            requested_server_name: get(Field::Sni),
            route_name: get(Field::Route),
        },
        Writer {
            pod: get(Field::PodName),
            namespace: get(Field::PodNamespace),
        },
    ))
}

/// Converts matched byte slots to text, checking UTF-8 field by field.
pub fn text_slots<'a>(
    raw: &[Option<&'a [u8]>; SLOTS],
) -> Result<[Option<&'a str>; SLOTS], Malformed> {
    let mut out: [Option<&'a str>; SLOTS] = [None; SLOTS];
    for (o, r) in out.iter_mut().zip(raw) {
        if let Some(b) = r {
            *o = Some(std::str::from_utf8(b).map_err(|_| Malformed::InvalidUtf8)?);
        }
    }
    Ok(out)
}

/// A compiled JSON format: key -> field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonKeys {
    keys: HashMap<String, Field>,
}

impl JsonKeys {
    /// The keys and what each holds, in key order: the same text for the same format, in
    /// every process.
    pub fn describe(&self) -> String {
        let mut v: Vec<String> = self
            .keys
            .iter()
            .map(|(k, f)| format!("{k:?}={}", f.operator()))
            .collect();
        v.sort_unstable();
        v.join(",")
    }

    /// Compiles `logFormat.labels`: a JSON object of key to Envoy operator.
    pub fn compile(labels: &str) -> Result<JsonKeys, String> {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(labels)
            .map_err(|e| format!("--log-format-json: not a JSON object of key to operator: {e}"))?;
        let mut keys = HashMap::new();
        for (k, v) in map {
            let op = v
                .as_str()
                .ok_or_else(|| format!("--log-format-json: the value of {k:?} is not a string"))?;
            let t = Template::compile(op, false)?;
            let field = t
                .pieces
                .iter()
                .find_map(|p| {
                    if let Piece::Op { field, .. } = p {
                        Some(*field)
                    } else {
                        None
                    }
                })
                .unwrap_or(Field::Ignored);
            keys.insert(k, field);
        }
        let fields: Vec<Field> = keys.values().copied().collect();
        check_required(&fields, "the JSON log format")?;
        Ok(JsonKeys { keys })
    }

    /// Decodes one JSON line into slots. `Ok(None)`: JSON, but none of the format's keys.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<Option<[Value<'a>; SLOTS]>, Malformed> {
        let mut de = serde_json::Deserializer::from_slice(line);
        let slots = Seed { keys: &self.keys }
            .deserialize(&mut de)
            .map_err(|_| Malformed::InvalidJson)?;
        de.end().map_err(|_| Malformed::InvalidJson)?;
        Ok(slots.iter().any(|v| *v != Value::Absent).then_some(slots))
    }
}

struct Seed<'k> {
    keys: &'k HashMap<String, Field>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = [Value<'de>; SLOTS];
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = [Value<'de>; SLOTS];
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON access-log record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let mut out: [Value<'de>; SLOTS] = Default::default();
        while let Some(k) = m.next_key::<Cow<'de, str>>()? {
            match self.keys.get(&*k).and_then(|f| f.slot()) {
                Some(s) => out[s] = m.next_value()?,
                None => {
                    m.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// A record from decoded JSON values: numbers where counts are expected, text elsewhere.
pub fn json_record<'a>(
    values: &'a [Value<'a>; SLOTS],
) -> Result<(Record<'a>, Writer<'a>), Malformed> {
    let text = |f: Field| match &values[f as usize] {
        Value::Str(s) => present(s),
        _ => None,
    };
    let num = |f: Field| -> Result<Option<u64>, Malformed> {
        match &values[f as usize] {
            Value::Num(n) => Ok(Some(*n)),
            Value::Str(s) => match present(s) {
                None => Ok(None),
                Some(s) => s.parse().map(Some).map_err(|_| Malformed::BadNumber),
            },
            _ => Ok(None),
        }
    };
    let code = match num(Field::Code)? {
        Some(c) => Some(u16::try_from(c).map_err(|_| Malformed::BadNumber)?),
        None => None,
    };
    Ok((
        Record {
            start_time: text(Field::StartTime),
            method: text(Field::Method),
            protocol: text(Field::Protocol),
            response_code: code,
            response_flags: text(Field::Flags).or_else(|| text(Field::FlagsLong).map(short_flag)),
            response_code_details: text(Field::Details),
            bytes_received: num(Field::BytesReceived)?.unwrap_or(0),
            bytes_sent: num(Field::BytesSent)?.unwrap_or(0),
            authority: text(Field::Authority),
            upstream_host: text(Field::UpstreamHost),
            upstream_cluster: text(Field::Cluster),
            downstream_local_address: text(Field::DownstreamLocal),
            requested_server_name: text(Field::Sni),
            route_name: text(Field::Route),
        },
        Writer {
            pod: text(Field::PodName),
            namespace: text(Field::PodNamespace),
        },
    ))
}

/// Text slots from decoded JSON values (numbers are written back as text, once, into `buf`).
#[cfg(test)]
fn json_slots<'a>(
    values: &'a [Value<'a>; SLOTS],
    nums: &'a mut [String; SLOTS],
) -> [Option<&'a str>; SLOTS] {
    for (n, v) in nums.iter_mut().zip(values) {
        n.clear();
        if let Value::Num(x) = v {
            use std::fmt::Write as _;
            let _ = write!(n, "{x}");
        }
    }
    let mut out: [Option<&'a str>; SLOTS] = [None; SLOTS];
    for ((o, v), n) in out.iter_mut().zip(values).zip(nums.iter()) {
        *o = match v {
            Value::Str(s) => Some(&**s),
            Value::Num(_) => Some(n.as_str()),
            _ => None,
        };
    }
    out
}

/// Envoy's own default format (no format configured): it logs no cluster, route or original
/// destination, so its entries are recognised but cannot be classified.
pub const ENVOY_DEFAULT: &str = r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%""#;

#[cfg(test)]
mod tests {
    use super::*;

    const ISTIO_19: &str = r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%
"#;

    fn rec(t: &Template, line: &'static str) -> (Record<'static>, Writer<'static>) {
        let raw = t
            .match_line(line.as_bytes())
            .unwrap_or_else(|| panic!("no match: {line}"));
        let slots = text_slots(&raw).unwrap();
        record(&slots).unwrap()
    }

    #[test]
    fn istio_default_as_a_custom_format() {
        let t = Template::compile(ISTIO_19, true).unwrap();
        let (r, _) = rec(
            &t,
            r#"[2023-01-07T10:59:03.432Z] "GET /a" b?q="x y" HTTP/1.1" 200 - via_upstream - "-" 0 1847 65 64 "1.2.3.4, 5.6.7.8" "Mozilla/5.0 (X11; "evil" " ua)" "id" "jsonplaceholder.typicode.com" "104.21.55.162:80" PassthroughCluster 172.17.0.7:50460 104.21.55.162:80 172.17.0.1:0 - allow_any"#,
        );
        assert_eq!(r.upstream_cluster, Some("PassthroughCluster"));
        assert_eq!(r.authority, Some("jsonplaceholder.typicode.com"));
        assert_eq!(r.method, Some("GET"));
        assert_eq!(r.bytes_sent, 1847);
        assert_eq!(r.route_name, Some("allow_any"));
        assert_eq!(r.downstream_local_address, Some("104.21.55.162:80"));
    }

    #[test]
    fn a_custom_format_with_pod_and_long_flags() {
        let t = Template::compile(
            "%START_TIME% ns=%ENVIRONMENT(POD_NAMESPACE)% pod=%ENVIRONMENT(POD_NAME)% %UPSTREAM_CLUSTER% %DOWNSTREAM_LOCAL_ADDRESS% sni=%REQUESTED_SERVER_NAME% flags=%RESPONSE_FLAGS_LONG% ua=\"%REQ(USER-AGENT)%\"",
            true,
        )
        .unwrap();
        let (r, w) = rec(
            &t,
            r#"2024-01-01T00:00:00.000Z ns=shop pod=web-7d4b9c6f5-x2k8p BlackHoleCluster; 1.2.3.4:443 sni=- flags=NoHealthyUpstream ua="a b""#,
        );
        assert_eq!(
            (w.namespace, w.pod),
            (Some("shop"), Some("web-7d4b9c6f5-x2k8p"))
        );
        assert_eq!(r.response_flags, Some("UH"));
        assert_eq!(r.upstream_cluster, Some("BlackHoleCluster;"));
        assert_eq!(r.requested_server_name, None);
    }

    #[test]
    fn missing_operators_are_named() {
        let e = Template::compile("%START_TIME% %REQ(:AUTHORITY)%", true).unwrap_err();
        assert!(
            e.contains("%UPSTREAM_CLUSTER%") && e.contains("%DOWNSTREAM_LOCAL_ADDRESS%"),
            "{e}"
        );
        assert!(Template::compile("%UPSTREAM_CLUSTER%%DOWNSTREAM_LOCAL_ADDRESS%", true).is_err());
        assert!(Template::compile("%UPSTREAM_CLUSTER", true).is_err());
        assert!(Template::compile("%nope%", true).is_err());
        assert!(
            JsonKeys::compile(r#"{"c": "%UPSTREAM_CLUSTER%"}"#)
                .unwrap_err()
                .contains("DOWNSTREAM_LOCAL_ADDRESS")
        );
    }

    #[test]
    fn json_labels() {
        let k = JsonKeys::compile(r#"{"cluster": "%UPSTREAM_CLUSTER%", "dst": "%DOWNSTREAM_LOCAL_ADDRESS%", "sent": "%BYTES_SENT%", "host": "%REQ(:AUTHORITY)%", "pod": "%ENVIRONMENT(POD_NAME)%"}"#).unwrap();
        let line = br#"{"dst":"1.2.3.4:443","cluster":"PassthroughCluster","sent":42,"other":[1,2],"host":"api.example.com","pod":"web-0"}"#;
        let values = k.parse(line).unwrap().unwrap();
        let mut nums: [String; SLOTS] = Default::default();
        let slots = json_slots(&values, &mut nums);
        let (r, w) = record(&slots).unwrap();
        assert_eq!(
            (r.upstream_cluster, r.bytes_sent, r.authority, w.pod),
            (
                Some("PassthroughCluster"),
                42,
                Some("api.example.com"),
                Some("web-0")
            )
        );
        assert_eq!(k.parse(br#"{"level":"info"}"#).unwrap(), None);
    }

    #[test]
    fn envoy_default_is_recognised() {
        let t = Template::compile(ENVOY_DEFAULT, false).unwrap();
        assert!(t.match_line(br#"[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "10.0.2.1:80""#).is_some());
    }
}
