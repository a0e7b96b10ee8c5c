//! Parse stage: one log line (`&[u8]`, no newline) to a borrowed [`Record`].
//!
//! Formats are recognised per line, so `kubectl logs -c istio-proxy` output, where access-log
//! entries and istio-agent messages interleave, needs no pre-filtering. `--format` pins one
//! format; lines that do not match it are then malformed rather than guessed.

pub mod addr;
pub mod custom;
pub mod json;
pub mod text;
pub mod time;
pub mod ztunnel;

use std::fmt;

/// One access-log entry, every value borrowed from the input line (or, for JSON with escapes,
/// from the decoded record). `None` means the log said `-`, `null`, empty, or nothing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// `%START_TIME%` as written.
    pub start_time: Option<&'a str>,
    /// `%REQ(:METHOD)%`; `None` for TCP entries (`"- - -"`).
    pub method: Option<&'a str>,
    /// `%PROTOCOL%` (`HTTP/1.1`, `HTTP/2`, ...); `None` for TCP.
    pub protocol: Option<&'a str>,
    /// `%RESPONSE_CODE%`; Istio logs `0` for TCP.
    pub response_code: Option<u16>,
    /// `%RESPONSE_FLAGS%`, comma-separated short codes.
    pub response_flags: Option<&'a str>,
    /// `%RESPONSE_CODE_DETAILS%` (Istio 1.9+).
    pub response_code_details: Option<&'a str>,
    /// `%BYTES_RECEIVED%` from the downstream, 0 when absent.
    pub bytes_received: u64,
    /// `%BYTES_SENT%` to the downstream, 0 when absent.
    pub bytes_sent: u64,
    /// `%REQ(:AUTHORITY)%`, exactly as the client sent it.
    pub authority: Option<&'a str>,
    /// `%UPSTREAM_HOST%`, `ip:port` of the selected upstream.
    pub upstream_host: Option<&'a str>,
    /// `%UPSTREAM_CLUSTER%` or `_RAW`, as written (a trailing `;` is removed by classify).
    pub upstream_cluster: Option<&'a str>,
    /// `%DOWNSTREAM_LOCAL_ADDRESS%`: the original destination `ip:port`.
    pub downstream_local_address: Option<&'a str>,
    /// `%REQUESTED_SERVER_NAME%`: the TLS SNI.
    pub requested_server_name: Option<&'a str>,
    /// `%ROUTE_NAME%` (Istio 1.3+).
    pub route_name: Option<&'a str>,
}

/// The log layouts egress-advisor reads. Text variants are named by the first Istio release
/// that wrote them (see the README's formats table).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Istio 1.0: separate HTTP and TCP layouts, no SNI, no route.
    #[serde(rename = "istio-1.0")]
    Text10,
    /// Istio 1.1: Mixer status, SNI, no route.
    #[serde(rename = "istio-1.1")]
    Text11,
    /// Istio 1.2: adds the upstream transport failure reason.
    #[serde(rename = "istio-1.2")]
    Text12,
    /// Istio 1.3–1.7: adds the route name.
    #[serde(rename = "istio-1.3")]
    Text13,
    /// Istio 1.8: drops the Mixer status.
    #[serde(rename = "istio-1.8")]
    Text18,
    /// Istio 1.9 and later (1.23+ only changes the cluster operator to `_RAW`).
    #[serde(rename = "istio-1.9")]
    Text19,
    /// `accessLogEncoding: JSON`, any Istio version.
    Json,
    /// The format given with `--log-format`, `--log-format-json` or `--mesh-config`.
    Custom,
    /// Envoy's own default format: no cluster, route or original destination.
    Envoy,
    /// ztunnel's access log (ambient mode), text or JSON.
    Ztunnel,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Text10 => "istio-1.0",
            Format::Text11 => "istio-1.1",
            Format::Text12 => "istio-1.2",
            Format::Text13 => "istio-1.3",
            Format::Text18 => "istio-1.8",
            Format::Text19 => "istio-1.9",
            Format::Json => "json",
            Format::Custom => "custom",
            Format::Envoy => "envoy",
            Format::Ztunnel => "ztunnel",
        }
    }

    pub fn is_text(self) -> bool {
        self != Format::Json
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `--format` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatChoice {
    /// Recognise each line.
    #[default]
    Auto,
    /// Any Istio text layout.
    Text,
    /// Exactly this layout.
    Exact(Format),
}

impl FormatChoice {
    pub fn allows(self, f: Format) -> bool {
        match self {
            FormatChoice::Auto => true,
            FormatChoice::Text => f.is_text(),
            FormatChoice::Exact(x) => x == f,
        }
    }
}

/// Why a line was counted as malformed. The order is the order of the report.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Malformed {
    /// Longer than `--max-line-bytes`; skipped unread.
    LineTooLong,
    /// Starts like an Istio text entry but its fields do not line up with any version.
    TextLayout,
    /// A `{` line that is not valid JSON.
    InvalidJson,
    /// A field the classification needs is not valid UTF-8.
    InvalidUtf8,
    /// A number field holds something else.
    BadNumber,
    /// A valid entry of a format other than the one `--format` forces.
    WrongFormat,
    /// Cut short by the end of the input (truncated compressed stream).
    Truncated,
    /// A record of a log store's export or a collector's batch that holds no log line.
    NoLogLine,
}

impl Malformed {
    pub fn describe(self) -> &'static str {
        match self {
            Malformed::LineTooLong => "line longer than --max-line-bytes",
            Malformed::TextLayout => "text entry whose fields match no Istio format",
            Malformed::InvalidJson => "invalid JSON",
            Malformed::InvalidUtf8 => "invalid UTF-8 in a field used for classification",
            Malformed::BadNumber => "non-numeric value in a numeric field",
            Malformed::WrongFormat => "entry in a format other than the one --format forces",
            Malformed::Truncated => "line cut short by the end of a truncated input",
            Malformed::NoLogLine => "record of an export or batch that holds no log line",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Malformed::LineTooLong => "line-too-long",
            Malformed::TextLayout => "text-layout",
            Malformed::InvalidJson => "invalid-json",
            Malformed::InvalidUtf8 => "invalid-utf8",
            Malformed::BadNumber => "bad-number",
            Malformed::WrongFormat => "wrong-format",
            Malformed::Truncated => "truncated",
            Malformed::NoLogLine => "no-log-line",
        }
    }
}

/// Strips a trailing `\r` (CRLF files) and surrounding ASCII blanks.
pub fn trim_line(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

/// Which family a line belongs to, by its first byte. Cheap enough to run on every line.
pub fn sniff(line: &[u8]) -> Sniff {
    match line.first() {
        Some(b'{') => Sniff::Json,
        Some(b'[') => Sniff::Text,
        _ => Sniff::Other,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    Json,
    Text,
    Other,
}

/// `-`, empty and `null` are Envoy's ways of saying "unset".
pub(crate) fn present(s: &str) -> Option<&str> {
    match s {
        "" | "-" => None,
        s => Some(s),
    }
}
