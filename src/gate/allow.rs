//! The allow file: destinations allowed without a ServiceEntry, each with a reason and an
//! optional expiry date.

use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::aggregate::DestKey;
use crate::existing::{host_matches, in_cidr};
use crate::parse::time::{Millis, parse_date};

/// One entry of the allow file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allow {
    /// 1-based position in the file.
    pub entry: usize,
    /// A host name, or `*.suffix` for every name below it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// An address or CIDR range, for destinations known by address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// `None`: any port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub reason: String,
    /// Last day the entry holds (UTC), as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(skip)]
    expires_at: Option<Millis>,
}

/// An allow entry as written, each field of its type.
struct RawAllow {
    host: Option<String>,
    cidr: Option<String>,
    port: Option<u16>,
    reason: Option<String>,
    expires: Option<String>,
}

/// Only these keys, in a map: anything else is an error naming it.
pub(super) fn only_keys(v: &Value, keys: &[&str], what: &str) -> Result<(), String> {
    let Value::Object(m) = v else {
        return Err(crate::yaml::wrong(what, "a map", v));
    };
    match m.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{what}: unknown field {k:?} (expected {})",
            keys.join(", ")
        )),
        None => Ok(()),
    }
}

/// The entries of an allow file: `allow:` and a list of maps, each field of its type.
fn raw_allow(file: &Value) -> Result<Vec<RawAllow>, String> {
    use crate::yaml::{list, port, string};
    only_keys(file, &["allow"], "the file")?;
    if file.get("allow").is_none() {
        return Err("missing field \"allow\" (a list of entries)".into());
    }
    list(file, "allow", "allow", "entries")?
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let at = format!("entry {}", i + 1);
            only_keys(e, &["host", "cidr", "port", "reason", "expires"], &at)?;
            let s = |k: &str| string(e, k, &format!("{at}: {k}")).map(|x| x.map(str::to_owned));
            Ok(RawAllow {
                host: s("host")?,
                cidr: s("cidr")?,
                port: port(e, "port", &format!("{at}: port"))?,
                reason: s("reason")?,
                expires: s("expires")?,
            })
        })
        .collect()
}

impl Allow {
    /// Whether the entry has expired at `now`: it holds through its `expires` day.
    pub fn expired(&self, now: Millis) -> bool {
        self.expires_at
            .is_some_and(|t| now >= t.saturating_add(86_400_000))
    }

    /// Whether the entry names this destination.
    pub fn matches(&self, k: &DestKey) -> bool {
        if self.port.is_some_and(|p| p != k.port) {
            return false;
        }
        match (&self.host, &self.cidr) {
            (Some(h), _) => !k.is_address && host_matches(h, &k.name),
            (None, Some(c)) => k.is_address && k.name.parse().is_ok_and(|ip| in_cidr(c, ip)),
            (None, None) => false,
        }
    }

    /// `host` or `cidr`, and the port.
    pub fn label(&self) -> String {
        let what = self.host.as_deref().or(self.cidr.as_deref()).unwrap_or("-");
        match self.port {
            Some(p) => format!("{what} port {p}"),
            None => format!("{what} (any port)"),
        }
    }
}

/// Reads an allow file: `allow:`, a list of `host` or `cidr`, an optional `port`, a `reason`
/// and an optional `expires` date.
pub fn read_allow(path: &Path) -> Result<Vec<Allow>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {}", path.display(), crate::ingest::io_reason(&e)))?;
    parse_allow(&path.display().to_string(), &text)
}

/// An allow file's text (`name` names it in errors).
pub fn parse_allow(name: &str, text: &str) -> Result<Vec<Allow>, String> {
    let file = crate::yaml::document(text).map_err(|e| format!("{name}: {e}"))?;
    let raw = raw_allow(&file).map_err(|e| format!("{name}: {e}"))?;
    let mut out = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let entry = i + 1;
        let bad = |why: String| format!("{name}: entry {entry}: {why}");
        let (host, cidr) = match (r.host, r.cidr) {
            (Some(h), None) => {
                let h = h.to_ascii_lowercase().trim_end_matches('.').to_owned();
                let bare = h.strip_prefix("*.").unwrap_or(&h);
                if bare.contains('*') {
                    return Err(bad(format!(
                        "host {h:?}: give a host name, or *. and a domain for every name below it"
                    )));
                }
                if let Some(e) = crate::validate::wildcard_domain_error(bare) {
                    return Err(bad(format!("host {h:?}: {e}")));
                }
                (Some(h), None)
            }
            (None, Some(c)) => {
                let (net, bits) = match c.split_once('/') {
                    Some((n, b)) => (n, Some(b)),
                    None => (c.as_str(), None),
                };
                let ip: IpAddr = net
                    .parse()
                    .map_err(|_| bad(format!("cidr {c:?} is not an address or a range")))?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                if bits.is_some_and(|b| b.parse::<u8>().map_or(true, |b| b > max)) {
                    return Err(bad(format!("cidr {c:?}: the prefix length is 0 to {max}")));
                }
                (None, Some(c))
            }
            (Some(_), Some(_)) => return Err(bad("give host or cidr, not both".into())),
            (None, None) => return Err(bad("give a host or a cidr".into())),
        };
        let reason = r
            .reason
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("every entry needs a reason".into()))?;
        let expires_at = match &r.expires {
            None => None,
            Some(d) => Some(
                parse_date(d)
                    .ok_or_else(|| bad(format!("expires {d:?} is not a date (YYYY-MM-DD)")))?,
            ),
        };
        out.push(Allow {
            entry,
            host,
            cidr,
            port: r.port,
            reason,
            expires: r.expires,
            expires_at,
        });
    }
    Ok(out)
}
