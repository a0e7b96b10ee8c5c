//! Partial results: the aggregate state of a run, written by `analyze --partial FILE` and
//! merged by `merge` (and by every command with `--partials`), so that a batch engine can fan
//! the work out over many machines and fan it back in. Merging partials gives exactly what one
//! run over all their inputs gives: the same reports and manifests, byte for byte.
//!
//! The file is JSON (see the README, "Partial results"): a header that names the format, its
//! version, the program that wrote it and the classification settings, the input files it
//! covers, and the [`Summary`] before address attribution (which needs every input at once, so
//! it runs after the merge).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::aggregate::{Run, Summary};
use crate::config::Settings;
use crate::ingest::{Origin, Source};

/// What the `format` field holds.
pub const FORMAT: &str = "egress-advisor partial";
/// The version of the layout; a file of another version is refused.
pub const VERSION: u32 = 2;

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'static str,
    version: u32,
    generator: String,
    settings: String,
    inputs: Vec<&'a str>,
    summary: &'a Summary,
}

#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[allow(dead_code)]
    format: String,
    #[allow(dead_code)]
    version: u32,
    #[allow(dead_code)]
    generator: String,
    settings: String,
    inputs: Vec<String>,
    summary: Summary,
}

/// The settings that decide how lines are read and counted; partials merge only when theirs
/// are the same. (`--source-namespace` and `--source-workload` may differ: they name each input's writer.)
pub fn fingerprint(s: &Settings) -> String {
    let custom = match s.custom.as_deref() {
        None => "none".to_owned(),
        Some(crate::config::Custom::Text(t)) => format!("text {:?}", t.source),
        Some(crate::config::Custom::Json(k)) => format!("json {{{}}}", k.describe()),
    };
    let mesh_cidrs: Vec<String> = s.rules.mesh_cidrs.iter().map(|c| c.to_string()).collect();
    let mut containers = s.containers.clone();
    containers.sort();
    containers.dedup();
    let format = match s.format {
        crate::parse::FormatChoice::Auto => "auto",
        crate::parse::FormatChoice::Text => "text",
        crate::parse::FormatChoice::Exact(f) => f.name(),
    };
    let time = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), crate::parse::time::format_millis);
    let window = match s.window {
        None => "none".to_owned(),
        Some(w) => format!("{} .. {}", time(w.since), time(w.until)),
    };
    // `--pods` names the callers of ztunnel lines; said only when given, so that partials
    // written without it keep their fingerprint.
    let pods = s
        .pods
        .as_deref()
        .map_or_else(String::new, |p| format!("; pods={}", p.fingerprint()));
    format!(
        "format={format}; cluster-domain={}; mesh-cidrs=[{}]; containers=[{}]; custom-format={custom}; window={window}; max-line-bytes={}{pods}",
        s.rules.cluster_domain,
        mesh_cidrs.join(","),
        containers.join(","),
        s.max_line_bytes
    )
}

/// The partial file of a run whose summary has not been through address attribution.
pub fn to_json(run: &Run, s: &Settings) -> Result<String, String> {
    let summary = run.summary.clone().canonical();
    let file = FileOut {
        format: FORMAT,
        version: VERSION,
        generator: format!("egress-advisor {}", env!("CARGO_PKG_VERSION")),
        settings: fingerprint(s),
        inputs: run.sources.iter().map(|s| s.name.as_str()).collect(),
        summary: &summary,
    };
    serde_json::to_string(&file).map_err(|e| format!("partial result: {e}"))
}

/// Reads one partial file: (its inputs, its summary).
pub fn parse(name: &str, text: &str, s: &Settings) -> Result<(Vec<String>, Summary), String> {
    let header: Header = serde_json::from_str(text).map_err(|e| {
        let head = text.get(..text.len().min(64)).unwrap_or("");
        if head.contains(FORMAT) {
            format!("{name}: damaged partial result: {e}")
        } else {
            format!("{name}: not a partial result (JSON: {e})")
        }
    })?;
    if header.format.as_deref() != Some(FORMAT) {
        return Err(format!(
            "{name}: not a partial result (write one with analyze --partial FILE)"
        ));
    }
    match header.version {
        Some(VERSION) => {}
        Some(v) => {
            return Err(format!(
                "{name}: partial result of version {v}; this egress-advisor reads version {VERSION}: write it again with this version"
            ));
        }
        None => return Err(format!("{name}: partial result without a version")),
    }
    let file: FileIn =
        serde_json::from_str(text).map_err(|e| format!("{name}: damaged partial result: {e}"))?;
    let mine = fingerprint(s);
    if file.settings != mine {
        return Err(format!(
            "{name}: written with other settings ({}) than this run ({mine}): pass the same --format, --cluster-domain, --mesh-cidr, --containers, custom format, --since/--until and --max-line-bytes",
            file.settings
        ));
    }
    if let Some(why) = file.summary.inconsistency(file.inputs.len()) {
        return Err(format!("{name}: damaged partial result: {why}"));
    }
    if file
        .summary
        .invalid_source_example
        .is_some_and(|l| l.source as usize >= file.inputs.len())
    {
        return Err(format!(
            "{name}: damaged partial result: summary.invalid_source_example: an index beyond its {} inputs",
            file.inputs.len()
        ));
    }
    if let Some(why) = duplicate_keys(text) {
        return Err(format!("{name}: damaged partial result: {why}"));
    }
    if let Some(why) = unfounded_claims(&file.summary, s) {
        return Err(format!("{name}: damaged partial result: {why}"));
    }
    Ok((file.inputs, file.summary))
}

/// The destination and writer keys of a partial, as listed (a map would fold duplicates).
#[derive(Deserialize)]
struct KeysOnly {
    summary: KeysSummary,
}

#[derive(Deserialize)]
struct KeysSummary {
    destinations: Vec<(crate::aggregate::DestKey, serde::de::IgnoredAny)>,
    sources: Vec<crate::aggregate::SourceKey>,
}

/// A destination or writer listed twice: a forged file, since a run writes each once.
fn duplicate_keys(text: &str) -> Option<String> {
    let keys: KeysOnly = match serde_json::from_str(text) {
        Ok(k) => k,
        Err(e) => return Some(format!("summary: {e}")),
    };
    let mut dests: Vec<_> = keys.summary.destinations.iter().map(|(k, _)| k).collect();
    dests.sort_unstable();
    if let Some(w) = dests.windows(2).find(|w| w[0] == w[1]) {
        return Some(format!(
            "summary.destinations: {}:{}/{} is listed twice",
            w[0].name,
            w[0].port,
            w[0].protocol.istio_name()
        ));
    }
    let mut writers: Vec<_> = keys.summary.sources.iter().collect();
    writers.sort_unstable();
    if let Some(w) = writers.windows(2).find(|w| w[0] == w[1]) {
        return Some(format!(
            "summary.sources: the writer {}/{} is listed twice",
            w[0].namespace, w[0].workload
        ));
    }
    None
}

/// What a partial claims, checked against what its own keys and counts imply: a destination
/// is in-mesh, private or external as its address (or the addresses it was seen at) and name
/// say, whatever the file says; the counts per class add up to the lines read and to the
/// destinations' counts; nothing is last seen before it was first seen. A forged file that
/// marks an external destination in-mesh would otherwise make `check` skip it.
fn unfounded_claims(summary: &Summary, s: &Settings) -> Option<String> {
    use crate::classify::{Category, Class};
    use crate::parse::addr::{AddrScope, scope};
    let rules = &s.rules;
    let mesh_ip =
        |ip: std::net::IpAddr| scope(ip) == AddrScope::AutoAllocated || rules.in_mesh_cidr(ip);
    let private_ip = |ip: std::net::IpAddr| scope(ip) == AddrScope::Private;
    let (mut passthrough, mut blocked, mut registered, mut internal) = (0u64, 0u64, 0u64, 0u64);
    for (k, st) in &summary.destinations {
        let at = || {
            format!(
                "summary.destinations: {}:{}/{}",
                k.name,
                k.port,
                k.protocol.istio_name()
            )
        };
        let ips: Vec<std::net::IpAddr> = if k.is_address {
            match k.name.parse() {
                Ok(ip) => vec![ip],
                Err(_) => return Some(format!("{}: not an address", at())),
            }
        } else {
            st.addresses.iter().map(|(ip, _)| ip).collect()
        };
        let local_name = !k.is_address && rules.is_cluster_local(&k.name);
        let founded = match st.category {
            None => st.lines() == 0,
            // In-mesh only by an address the mesh owns.
            Some(Category::Mesh) => ips.iter().any(|ip| mesh_ip(*ip)),
            Some(Category::Private) => {
                ips.iter().any(|ip| private_ip(*ip) || mesh_ip(*ip))
                    || (local_name && st.addresses.is_empty())
            }
            Some(Category::External) => {
                !local_name && !ips.iter().any(|ip| private_ip(*ip) || mesh_ip(*ip))
            }
        };
        if !founded {
            return Some(format!(
                "{}: marked {}, which its name and addresses do not support",
                at(),
                st.category.map_or("without a category", Category::name)
            ));
        }
        if let (Some(f), Some(l)) = (st.first_seen, st.last_seen)
            && f > l
        {
            return Some(format!("{}: last seen before first seen", at()));
        }
        let mut by_writers = 0u64;
        for (_, c) in st.sources.iter() {
            if let (Some(f), Some(l)) = (c.first_seen, c.last_seen)
                && f > l
            {
                return Some(format!("{}: a writer last seen before first seen", at()));
            }
            by_writers = by_writers.saturating_add(c.all);
        }
        if by_writers != st.lines() {
            return Some(format!(
                "{}: its writers' entries ({by_writers}) do not add up to its entries ({})",
                at(),
                st.lines()
            ));
        }
        passthrough = passthrough.saturating_add(st.passthrough);
        blocked = blocked.saturating_add(st.blocked);
        registered = registered.saturating_add(st.registered);
        internal = internal.saturating_add(st.internal);
    }
    let class = |c: Class| summary.classes[c.index()];
    for (name, dests, lines, exact) in [
        ("passthrough", passthrough, class(Class::Passthrough), true),
        ("blocked", blocked, class(Class::Blocked), true),
        ("registered", registered, class(Class::Registered), true),
        ("internal", internal, class(Class::Internal), false),
    ] {
        if (exact && dests != lines) || (!exact && dests > lines) {
            return Some(format!(
                "summary.classes: {lines} {name} lines, but the destinations count {dests}"
            ));
        }
    }
    let read: u64 = summary
        .split_lines
        .values()
        .fold(0u64, |a, n| a.saturating_add(*n));
    if read != summary.lines() {
        return Some(format!(
            "summary.classes: the lines per class ({}) do not add up to the lines read ({read})",
            summary.lines()
        ));
    }
    None
}

/// Merges partial files into one run, before address attribution.
pub fn merge(paths: &[PathBuf], s: &Settings) -> Result<Run, String> {
    let mut parts = Vec::with_capacity(paths.len());
    for p in paths {
        let name = p.display().to_string();
        let text = read(p)?;
        let (inputs, summary) = parse(&name, &text, s)?;
        parts.push((name, inputs, summary));
    }
    let mut all: Vec<(&str, &str)> = parts
        .iter()
        .flat_map(|(file, inputs, _)| inputs.iter().map(move |i| (i.as_str(), file.as_str())))
        .collect();
    all.sort_unstable();
    if let Some(w) = all.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!(
            "{} is in two partial results ({} and {}): each input may be counted once",
            w[0].0, w[0].1, w[1].1
        ));
    }
    let names: Vec<String> = all.iter().map(|(i, _)| (*i).to_owned()).collect();
    let mut summary = Summary::default();
    for (_, inputs, mut part) in parts {
        let to: Vec<u32> = inputs
            .iter()
            .map(|i| names.binary_search(i).map_or(0, |n| n as u32))
            .collect();
        part.renumber_inputs(&to);
        summary.merge(part);
    }
    let sources = names
        .into_iter()
        .map(|name| Source {
            origin: Origin::File(PathBuf::from(&name)),
            name,
        })
        .collect();
    Ok(Run { sources, summary })
}

fn read(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p)
        .map_err(|e| format!("{}: {}", p.display(), crate::ingest::io_reason(&e)))
}
