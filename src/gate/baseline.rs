//! The baseline: the undeclared destinations accepted as they were on the day it was written.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aggregate::DestKey;

use crate::classify::Protocol;

use super::allow::only_keys;
use super::{Check, Status};

/// The baseline file's version; a file of another version is refused.
pub const BASELINE_VERSION: u32 = 1;

/// A destination accepted by the baseline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineDest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub port: u16,
    pub protocol: String,
}

impl BaselineDest {
    pub fn of(k: &DestKey) -> BaselineDest {
        BaselineDest {
            host: (!k.is_address).then(|| k.name.to_string()),
            address: k.is_address.then(|| k.name.to_string()),
            port: k.port,
            protocol: k.protocol.istio_name().to_owned(),
        }
    }
}

#[derive(Debug, Serialize)]
struct BaselineFile {
    version: u32,
    destinations: Vec<BaselineDest>,
}

pub fn read_baseline(path: &Path) -> Result<Vec<BaselineDest>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {}", path.display(), crate::ingest::io_reason(&e)))?;
    parse_baseline(&path.display().to_string(), &text)
}

/// A baseline file's text (`name` names it in errors).
pub fn parse_baseline(name: &str, text: &str) -> Result<Vec<BaselineDest>, String> {
    use crate::yaml::{list, port, string, wrong};
    let file = crate::yaml::document(text).map_err(|e| format!("{name}: {e}"))?;
    let bad = |e: String| format!("{name}: {e}");
    only_keys(&file, &["version", "destinations"], "the file").map_err(bad)?;
    let version = match file.get("version") {
        Some(Value::Number(n)) => n.as_u64(),
        None | Some(Value::Null) => return Err(bad("missing field \"version\"".into())),
        Some(v) => return Err(bad(wrong("version", "a number", v))),
    };
    if version != Some(u64::from(BASELINE_VERSION)) {
        let shown = file
            .get("version")
            .map(Value::to_string)
            .unwrap_or_default();
        return Err(format!(
            "{name}: baseline version {shown} (this egress-advisor reads version {BASELINE_VERSION}): rewrite it with --update-baseline"
        ));
    }
    if file.get("destinations").is_none() {
        return Err(bad("missing field \"destinations\"".into()));
    }
    let dests = list(&file, "destinations", "destinations", "destinations").map_err(bad)?;
    let mut out = Vec::with_capacity(dests.len());
    for (i, d) in dests.iter().enumerate() {
        let at = format!("destination {}", i + 1);
        let field = |k: &str| format!("{at}: {k}");
        only_keys(d, &["host", "address", "port", "protocol"], &at).map_err(bad)?;
        let s = |k: &str| string(d, k, &field(k)).map(|x| x.map(str::to_owned));
        let host = s("host").map_err(bad)?;
        let address = s("address").map_err(bad)?;
        let port = port(d, "port", &field("port")).map_err(bad)?;
        let protocol = s("protocol").map_err(bad)?;
        let (Some(port), Some(protocol)) = (port, protocol) else {
            return Err(bad(format!(
                "{at}: give a host or an address, a port and a protocol (HTTP, TLS or TCP)"
            )));
        };
        if host.is_some() == address.is_some() || protocol_of(&protocol).is_none() {
            return Err(bad(format!(
                "{at}: give a host or an address, a port and a protocol (HTTP, TLS or TCP)"
            )));
        }
        out.push(BaselineDest {
            host,
            address,
            port,
            protocol,
        });
    }
    Ok(out)
}

/// The baseline file's text: sorted, so that it diffs well in review.
pub fn baseline_yaml(dests: &[BaselineDest]) -> Result<String, String> {
    let mut destinations = dests.to_vec();
    destinations.sort();
    destinations.dedup();
    let body = serde_saphyr::to_string(&BaselineFile {
        version: BASELINE_VERSION,
        destinations,
    })
    .map_err(|e| format!("YAML: {e}"))?;
    Ok(format!(
        "# egress-advisor check baseline: external destinations accepted without a ServiceEntry.\n# Written by `egress-advisor check --update-baseline`; later checks fail only on others.\n{body}"
    ))
}

/// The destinations that are neither covered nor allowed: what `--update-baseline` records.
pub fn to_baseline(c: &Check<'_>) -> Vec<BaselineDest> {
    c.destinations
        .iter()
        .filter(|r| matches!(r.status, Status::Uncovered | Status::Baseline))
        .map(|r| BaselineDest::of(r.key))
        .collect()
}

/// The protocol of a baseline entry, if it names one the report uses.
fn protocol_of(name: &str) -> Option<Protocol> {
    [Protocol::Http, Protocol::Tls, Protocol::Tcp]
        .into_iter()
        .find(|p| p.istio_name() == name)
}
