//! `check`, the CI gate: every external destination that traffic left for (or tried to) must be
//! covered by the existing config, by an entry of the allow file, or by the baseline.
//!
//! Registered traffic went to a ServiceEntry of the mesh that wrote the logs: it is declared and
//! never fails the check. In-mesh destinations (Istio's auto-allocated addresses and
//! `--mesh-cidr` ranges), `--exclude-host` hosts, calls from `--exclude-namespace` namespaces and
//! destinations under `--min-requests` are not checked. Private and special-purpose addresses
//! are: REGISTRY_ONLY refuses them too.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aggregate::{DestKey, DestStats, Summary};
use crate::classify::{Category, Protocol};
use crate::config::Selection;
use crate::existing::{host_matches, in_cidr};
use crate::parse::time::{Millis, format_millis, parse_date};

/// One namespace's undeclared calls to one destination.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NsUse<'a> {
    /// `None` when the logs do not say.
    pub namespace: Option<&'a str>,
    /// Every entry (passthrough, blocked and registered).
    pub requests: u64,
    pub passthrough: u64,
    pub blocked: u64,
    /// Bytes both ways.
    pub bytes: u64,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<Millis>,
    /// Workloads, most undeclared entries first: (name, entries).
    pub workloads: Vec<(&'a str, u64)>,
}

impl NsUse<'_> {
    pub fn undeclared(&self) -> u64 {
        self.passthrough.saturating_add(self.blocked)
    }

    /// Whether these calls are declared: only registered traffic, or an existing entry covers
    /// the destination for this namespace.
    pub fn declared(&self, k: &DestKey, existing: Option<&crate::existing::Existing>) -> bool {
        self.undeclared() == 0 || existing.is_some_and(|e| e.covering(k, self.namespace).is_some())
    }

    /// Entries that went to a declared destination: all of them when `declared`, else the
    /// registered ones.
    pub fn declared_requests(&self, declared: bool) -> u64 {
        if declared {
            self.requests
        } else {
            self.requests.saturating_sub(self.undeclared())
        }
    }
}

/// A destination's callers by namespace, without the `--exclude-namespace` ones; sorted by
/// namespace, unknown first.
pub fn by_namespace<'a>(summary: &'a Summary, st: &DestStats, sel: &Selection) -> Vec<NsUse<'a>> {
    let mut m: BTreeMap<Option<&'a str>, NsUse<'a>> = BTreeMap::new();
    let mut workloads: BTreeMap<(Option<&'a str>, &'a str), u64> = BTreeMap::new();
    for (i, c) in st.sources.iter() {
        let Some((k, _)) = summary.sources.get_index(i as usize) else {
            continue;
        };
        let ns = (!k.namespace.is_empty()).then_some(&*k.namespace);
        if ns.is_some_and(|n| sel.exclude_namespaces.iter().any(|x| x == n)) {
            continue;
        }
        let u = m.entry(ns).or_default();
        u.namespace = ns;
        u.requests += c.all;
        u.passthrough += c.passthrough;
        u.blocked += c.blocked;
        u.bytes = u.bytes.saturating_add(c.bytes());
        u.last_seen = u.last_seen.max(c.last_seen);
        if !k.workload.is_empty() && c.undeclared() > 0 {
            *workloads.entry((ns, &*k.workload)).or_default() += c.undeclared();
        }
    }
    for ((ns, wl), n) in workloads {
        if let Some(u) = m.get_mut(&ns) {
            u.workloads.push((wl, n));
        }
    }
    let mut v: Vec<NsUse<'a>> = m.into_values().collect();
    for u in &mut v {
        u.workloads
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    }
    v
}

/// Whether a destination is checked: everything outside the mesh that `--exclude-host` does not
/// leave out. Private and special-purpose addresses are checked like any other: REGISTRY_ONLY
/// refuses traffic to a pod address, a VPC database or an on-premises range just the same.
pub fn is_checked(k: &DestKey, st: &DestStats, sel: &Selection) -> bool {
    if st.category == Some(Category::Mesh) {
        return false;
    }
    k.is_address || !sel.exclude_hosts.iter().any(|p| host_matches(p, &k.name))
}

/// Cloud metadata services: AWS (IMDS, IPv4 and IPv6; ECS task metadata; EKS Pod Identity),
/// GCP, Azure, OpenStack, Oracle and DigitalOcean (169.254.169.254), Alibaba Cloud.
pub const METADATA_ADDRESSES: [&str; 6] = [
    "169.254.169.254",
    "169.254.170.2",
    "169.254.170.23",
    "fd00:ec2::254",
    "fd00:ec2::23",
    "100.100.100.200",
];

/// Whether an address is a cloud metadata service.
pub fn is_metadata_address(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        ip => ip,
    };
    METADATA_ADDRESSES
        .iter()
        .any(|m| m.parse::<IpAddr>().is_ok_and(|m| m == ip))
}

/// The warning for traffic to a cloud metadata service.
pub fn metadata_warning(title: &str, callers: &str) -> String {
    format!(
        "{title} is a cloud metadata service, reached through the sidecar by {callers}: a workload that reads instance credentials is a finding to review, whatever the verdict"
    )
}

/// Whether traffic to a destination reached a cloud metadata service (by its address, or by
/// the original destination addresses of a named host): a finding in itself.
pub fn reaches_metadata(k: &DestKey, st: &DestStats) -> bool {
    if k.is_address {
        return k.name.parse().is_ok_and(is_metadata_address);
    }
    st.addresses.iter().any(|(ip, _)| is_metadata_address(ip))
}

// ---------------------------------------------------------------------------------------------
// The allow file.

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
fn only_keys(v: &Value, keys: &[&str], what: &str) -> Result<(), String> {
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

// ---------------------------------------------------------------------------------------------
// The baseline.

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

// ---------------------------------------------------------------------------------------------
// The verdict.

/// How a destination passes, or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Status {
    /// An existing ServiceEntry covers it for every namespace that called it.
    Covered { by: String },
    /// Only registered traffic: declared in the mesh that wrote the logs.
    Registered,
    /// An entry of the allow file.
    Allowed { entry: usize, reason: String },
    /// In the baseline.
    Baseline,
    /// Nothing covers it.
    Uncovered,
}

impl Status {
    pub fn name(&self) -> &'static str {
        match self {
            Status::Covered { .. } => "covered",
            Status::Registered => "registered",
            Status::Allowed { .. } => "allowed",
            Status::Baseline => "baseline",
            Status::Uncovered => "uncovered",
        }
    }

    /// Why the destination passes, or that it does not, in words.
    pub fn describe(&self) -> String {
        match self {
            Status::Covered { by } => format!("covered by {by}"),
            Status::Registered => "registered in the mesh".into(),
            Status::Allowed { entry, reason } => format!("allow entry {entry}: {reason}"),
            Status::Baseline => "in the baseline".into(),
            Status::Uncovered => "not declared".into(),
        }
    }
}

/// A destination as reports name it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Dest<'a> {
    pub host: Option<&'a str>,
    pub address: Option<&'a str>,
    pub port: u16,
    pub protocol: &'static str,
    /// `external`, or `private` for private and special-purpose addresses (pods, nodes, VPC
    /// and on-premises networks), which REGISTRY_ONLY refuses all the same.
    pub category: Category,
    /// The traffic reached a cloud metadata service (169.254.169.254 and the like).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub metadata: bool,
}

impl<'a> Dest<'a> {
    pub fn of(k: &'a DestKey, st: &DestStats) -> Dest<'a> {
        Dest {
            host: (!k.is_address).then_some(&*k.name),
            address: k.is_address.then_some(&*k.name),
            port: k.port,
            protocol: k.protocol.istio_name(),
            category: st.category.unwrap_or(Category::External),
            metadata: reaches_metadata(k, st),
        }
    }

    pub fn is_private(&self) -> bool {
        self.category == Category::Private
    }

    /// `host:port/PROTOCOL`.
    pub fn title(&self) -> String {
        format!(
            "{}:{}/{}",
            crate::render::display_name(self.host, self.address),
            self.port,
            self.protocol
        )
    }
}

/// One checked destination.
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    #[serde(flatten)]
    pub dest: Dest<'a>,
    #[serde(flatten)]
    pub status: Status,
    /// For an uncovered destination, why the allow file did not help (an expired entry).
    pub note: Option<String>,
    pub passthrough: u64,
    pub blocked: u64,
    pub registered: u64,
    pub bytes: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_seen: Option<Millis>,
    #[serde(serialize_with = "ser_time")]
    pub last_seen: Option<Millis>,
    /// Callers; for an uncovered destination, only the namespaces nothing covers.
    pub namespaces: Vec<NsUse<'a>>,
    #[serde(skip)]
    pub key: &'a DestKey,
}

pub fn ser_time<S: serde::Serializer>(t: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_millis(*t)),
        None => s.serialize_none(),
    }
}

impl Row<'_> {
    pub fn title(&self) -> String {
        self.dest.title()
    }

    /// Callers as `ns/workload (entries)`, most first.
    pub fn callers(&self) -> String {
        let mut v: Vec<(String, u64)> = Vec::new();
        for u in &self.namespaces {
            let ns = u.namespace.unwrap_or("?");
            let named = u
                .workloads
                .iter()
                .fold(0u64, |a, (_, n)| a.saturating_add(*n));
            for (wl, n) in &u.workloads {
                v.push((format!("{ns}/{wl}"), *n));
            }
            // Calls whose workload the logs do not say.
            let rest = if u.undeclared() > 0 {
                u.undeclared()
            } else {
                u.requests
            }
            .saturating_sub(named);
            if rest > 0 {
                v.push((format!("{ns}/?"), rest));
            }
        }
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if v.iter().all(|(s, _)| s == "?/?") {
            return "(unknown)".into();
        }
        v.iter()
            .map(|(s, n)| format!("{s} ({})", crate::render::thousands(*n)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every destination is declared, and every input was read.
    Pass,
    /// An undeclared destination, an expired allow entry, an input not read whole, or (with
    /// `--strict`) a malformed line.
    Fail,
    /// No access-log entry was recognised, so nothing was checked: not a pass (exit 4) unless
    /// `--allow-empty` says an empty input is expected.
    NoInput,
}

/// Checked destinations by status. Serialised as a map of the statuses that occur (in this
/// order), as `counts` has always been written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub allowed: usize,
    pub baseline: usize,
    pub covered: usize,
    pub registered: usize,
    pub uncovered: usize,
}

impl Counts {
    fn add(&mut self, status: &Status) {
        let n = match status {
            Status::Allowed { .. } => &mut self.allowed,
            Status::Baseline => &mut self.baseline,
            Status::Covered { .. } => &mut self.covered,
            Status::Registered => &mut self.registered,
            Status::Uncovered => &mut self.uncovered,
        };
        *n += 1;
    }
}

impl Serialize for Counts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let all = [
            ("allowed", self.allowed),
            ("baseline", self.baseline),
            ("covered", self.covered),
            ("registered", self.registered),
            ("uncovered", self.uncovered),
        ];
        let mut m = s.serialize_map(Some(all.iter().filter(|(_, n)| *n > 0).count()))?;
        for (k, n) in all {
            if n > 0 {
                m.serialize_entry(k, &n)?;
            }
        }
        m.end()
    }
}

/// Everything `check` found.
#[derive(Debug, Serialize)]
pub struct Check<'a> {
    pub verdict: Verdict,
    /// Checked destinations by status.
    pub counts: Counts,
    /// Every checked destination: uncovered first (most undeclared entries first), then the
    /// others by name.
    pub destinations: Vec<Row<'a>>,
    /// Allow entries past their date: each fails the check.
    pub expired: Vec<Allow>,
    /// Allow entries that matched no destination.
    pub unused_allow: Vec<Allow>,
    /// Baseline destinations not uncovered any more (covered now, or not seen).
    pub stale_baseline: Vec<BaselineDest>,
    /// Input lines: read, malformed.
    pub lines: u64,
    pub malformed: u64,
    /// With `--strict`, malformed lines fail the check.
    pub strict: bool,
    /// Inputs that could not be read (to the end), as `name: reason`: each fails the check,
    /// since the traffic in them was not checked.
    pub unreadable: Vec<String>,
    /// Findings to read whatever the verdict: traffic to a cloud metadata service.
    pub warnings: Vec<String>,
}

impl Check<'_> {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// Whether the check found something to act on: an undeclared destination or an expired
    /// allow entry (inputs not read whole fail the check too, with an exit code of their own).
    pub fn findings(&self) -> bool {
        self.counts.uncovered > 0 || !self.expired.is_empty()
    }

    pub fn uncovered(&self) -> impl Iterator<Item = &Row<'_>> {
        self.destinations
            .iter()
            .filter(|r| r.status == Status::Uncovered)
    }
}

/// What a check needs besides the run and its selection.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'x> {
    pub allow: &'x [Allow],
    pub baseline: Option<&'x [BaselineDest]>,
    pub now: Millis,
    /// `--strict`: malformed lines fail the check.
    pub strict: bool,
    /// `--allow-empty`: an input with no access-log entry passes.
    pub allow_empty: bool,
}

/// Access-log entries recognised: every line but noise, malformed, CRI partial lines and
/// applications' output.
pub fn entries(s: &crate::aggregate::Summary) -> u64 {
    use crate::classify::Class;
    let not = [
        Class::Noise,
        Class::Malformed,
        Class::Partial,
        Class::Application,
    ]
    .iter()
    .fold(0u64, |a, c| a.saturating_add(s.classes[c.index()]));
    s.lines().saturating_sub(not)
}

/// Decides every destination.
pub fn check<'a>(run: &'a crate::pipeline::Run, sel: &Selection, rules: Rules<'_>) -> Check<'a> {
    let Rules {
        allow,
        baseline,
        now,
        strict,
        allow_empty,
    } = rules;
    let summary = &run.summary;
    let mut rows = Vec::new();
    let mut used_allow = vec![false; allow.len()];
    let mut baseline_hit: Vec<bool> = vec![false; baseline.map_or(0, <[_]>::len)];
    // Each destination's first place in the baseline: a lookup per destination, not a scan.
    let mut baseline_at: BTreeMap<&BaselineDest, usize> = BTreeMap::new();
    for (i, d) in baseline.unwrap_or_default().iter().enumerate() {
        baseline_at.entry(d).or_insert(i);
    }
    for (k, st) in summary.sorted_destinations() {
        if !is_checked(k, st, sel) {
            continue;
        }
        let namespaces = by_namespace(summary, st, sel);
        let undeclared = namespaces
            .iter()
            .fold(0u64, |a, u| a.saturating_add(u.undeclared()));
        let requests = namespaces
            .iter()
            .fold(0u64, |a, u| a.saturating_add(u.requests));
        if requests == 0 || (undeclared > 0 && undeclared < sel.min_requests) {
            continue;
        }
        let mut note = None;
        let (status, namespaces) = if undeclared == 0 {
            (Status::Registered, namespaces)
        } else {
            // Namespaces whose undeclared calls no existing entry covers.
            let existing = sel.existing.as_deref();
            let mut by = None;
            let (covered, open): (Vec<NsUse<'a>>, Vec<NsUse<'a>>) =
                namespaces.into_iter().partition(|u| {
                    if u.undeclared() == 0 {
                        return true;
                    }
                    match existing.and_then(|e| e.covering(k, u.namespace)) {
                        Some(e) => {
                            by.get_or_insert_with(|| format!("{}/{}", e.namespace, e.name));
                            true
                        }
                        None => false,
                    }
                });
            if open.is_empty() {
                (
                    Status::Covered {
                        by: by.unwrap_or_default(),
                    },
                    covered,
                )
            } else {
                // Every matching entry is in use, even when an earlier one decides.
                for (i, a) in allow.iter().enumerate() {
                    if a.matches(k) {
                        used_allow[i] = true;
                    }
                }
                let live = allow.iter().find(|a| a.matches(k) && !a.expired(now));
                let dead = allow.iter().find(|a| a.matches(k) && a.expired(now));
                let base = baseline_at.get(&BaselineDest::of(k)).map(|&i| {
                    baseline_hit[i] = true;
                });
                match (live, base) {
                    (Some(a), _) => (
                        Status::Allowed {
                            entry: a.entry,
                            reason: a.reason.clone(),
                        },
                        open,
                    ),
                    (None, Some(())) => (Status::Baseline, open),
                    (None, None) => {
                        if let Some(a) = dead {
                            note = Some(format!(
                                "allow entry {} ({}) expired on {}",
                                a.entry,
                                a.label(),
                                a.expires.as_deref().unwrap_or("?")
                            ));
                        }
                        (Status::Uncovered, open)
                    }
                }
            }
        };
        // The counts of the namespaces the row is about: for an undeclared destination, those
        // nothing covers.
        let sum =
            |f: fn(&NsUse<'_>) -> u64| namespaces.iter().fold(0u64, |a, u| a.saturating_add(f(u)));
        rows.push(Row {
            dest: Dest::of(k, st),
            status,
            note,
            passthrough: sum(|u| u.passthrough),
            blocked: sum(|u| u.blocked),
            registered: sum(|u| u.requests.saturating_sub(u.undeclared())),
            bytes: sum(|u| u.bytes),
            first_seen: st.first_seen,
            last_seen: namespaces.iter().filter_map(|u| u.last_seen).max(),
            namespaces,
            key: k,
        });
    }
    rows.sort_by(|a, b| {
        let open = |r: &Row<'_>| r.status != Status::Uncovered;
        open(a)
            .cmp(&open(b))
            .then_with(|| (b.passthrough + b.blocked).cmp(&(a.passthrough + a.blocked)))
            .then_with(|| a.key.cmp(b.key))
    });
    let mut counts = Counts::default();
    for r in &rows {
        counts.add(&r.status);
    }
    let expired: Vec<Allow> = allow.iter().filter(|a| a.expired(now)).cloned().collect();
    let unused_allow = allow
        .iter()
        .zip(&used_allow)
        .filter(|(_, u)| !**u)
        .map(|(a, _)| a.clone())
        .collect();
    let stale_baseline = baseline
        .unwrap_or_default()
        .iter()
        .zip(&baseline_hit)
        .filter(|(_, h)| !**h)
        .map(|(d, _)| d.clone())
        .collect();
    let uncovered = counts.uncovered;
    let malformed = summary.classes[crate::classify::Class::Malformed.index()];
    let unreadable: Vec<String> = summary
        .read_errors
        .iter()
        .map(|(i, why)| format!("{}: {why}", run.source_name(*i)))
        .collect();
    let fail =
        uncovered > 0 || !expired.is_empty() || !unreadable.is_empty() || (strict && malformed > 0);
    let verdict = if fail {
        Verdict::Fail
    } else if entries(summary) == 0 && !allow_empty {
        Verdict::NoInput
    } else {
        Verdict::Pass
    };
    let mut warnings: Vec<String> = rows
        .iter()
        .filter(|r| r.dest.metadata)
        .map(|r| metadata_warning(&r.title(), &r.callers()))
        .collect();
    warnings.extend(sel.high_cardinality.findings.iter().map(|f| {
        format!(
            "High cardinality: {}",
            f.describe(sel.cardinality_threshold)
        )
    }));
    Check {
        warnings,
        verdict,
        counts,
        destinations: rows,
        expired,
        unused_allow,
        stale_baseline,
        lines: summary.lines(),
        malformed,
        strict,
        unreadable,
    }
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
