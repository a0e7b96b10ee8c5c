//! Recommend stage: the aggregated destinations to least-privilege ServiceEntries.
//!
//! One ServiceEntry per external host, its observed ports merged, `exportTo: ["."]`,
//! `location: MESH_EXTERNAL`, `resolution: DNS`. A destination known only by its address gets
//! an entry of its own with `addresses: [IP/32]`, `resolution: STATIC`, that address as its one
//! endpoint, and a synthetic host under `.internal` (a top-level domain reserved for private
//! use), so no port is ever opened to every address. Every manifest is checked with [`crate::validate`] before it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;

use crate::aggregate::{DestKey, DestStats, SourceCount, Summary};
use crate::classify::{Category, Class, Protocol};
use crate::config::Selection;
use crate::existing::{Entry, Existing};
use crate::fmt::{human_bytes, thousands};
use crate::parse::time::format_millis;
use crate::validate;

/// Why a destination gets no ServiceEntry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    /// Only registered (or in-mesh) traffic: nothing undeclared to allow.
    Declared,
    /// A cluster-local name or an auto-allocated address.
    Mesh,
    /// A private address known by its address alone, without `--include-private`.
    Private,
    /// A cloud metadata service (169.254.169.254 and the like), without `--include-private`:
    /// a workload reaching it through the sidecar is a finding, not an entry to write blindly.
    Metadata,
    /// A cluster-local name logged without the address the traffic went to: nothing says
    /// where it went, so no entry can be written for it.
    Unverified,
    /// The host cannot be a ServiceEntry host; the reason says why.
    InvalidHost(String),
    /// One of more than 256 ports of the same host or address, among the least used.
    TooManyPorts,
    /// An existing ServiceEntry (`namespace/name`) covers it for every namespace that used it.
    Covered(String),
    /// Fewer passthrough or blocked entries than `--min-requests`.
    TooFew(u64),
    /// Matched `--exclude-host`.
    Excluded(String),
    /// Every attempt was refused, with `--exclude-blocked-only`.
    BlockedOnly,
    /// Called from a namespace whose name Kubernetes would refuse (a forged log line): no
    /// entry is written there.
    InvalidNamespace(String),
    /// A child of a high-cardinality parent (a registrable domain or network with more than
    /// `--cardinality-threshold` children), without `--include-high-cardinality`. Shared by
    /// every child (there may be millions).
    HighCardinality(std::sync::Arc<str>),
}

impl Skip {
    pub fn describe(&self) -> String {
        match self {
            Skip::Declared => "already declared: only registered traffic".into(),
            Skip::Mesh => {
                "in-mesh destination (cluster-local name or auto-allocated address)".into()
            }
            Skip::Private => "private address (pass --include-private to include it)".into(),
            Skip::Metadata => {
                "cloud metadata service: review who calls it (pass --include-private to write an entry)"
                    .into()
            }
            Skip::Unverified => {
                "a cluster-local name with no destination address logged: review it".into()
            }
            Skip::InvalidHost(why) => format!("not a valid ServiceEntry host: {why}"),
            Skip::Covered(by) => format!("covered by the existing ServiceEntry {by}"),
            Skip::TooFew(min) => {
                format!("fewer than --min-requests {min} passthrough or blocked entries")
            }
            Skip::Excluded(pattern) => format!("excluded by --exclude-host {pattern}"),
            Skip::BlockedOnly => {
                "blocked only (every attempt refused), left out by --exclude-blocked-only".into()
            }
            Skip::InvalidNamespace(ns) => {
                format!("called from namespace \"{ns}\", which is not a valid name: no entry there")
            }
            Skip::HighCardinality(parent) => format!(
                "one of more than --cardinality-threshold names under {parent} (DNS tunnelling or a scanner?): review it (pass --include-high-cardinality to write entries)"
            ),
            Skip::TooManyPorts => format!(
                "more than {MAX_PORTS} ports on one destination (Istio's limit per entry): only the {MAX_PORTS} most used are declared"
            ),
        }
    }
}

/// How many left-out destinations the top of the stream lists one by one (the rest are
/// counted by reason).
pub const SKIPPED_SHOWN: usize = 100;

/// `host:port/PROTOCOL`, an IPv6 address in brackets.
pub(crate) fn dest_title(k: &DestKey) -> String {
    let mut t = String::new();
    write_dest_title(&mut t, k);
    t
}

/// [`dest_title`], appended to `out`.
fn write_dest_title(out: &mut String, k: &DestKey) {
    if k.is_address && k.name.contains(':') {
        let _ = write!(out, "[{}]", k.name);
    } else {
        out.push_str(&k.name);
    }
    let _ = write!(out, ":{}/{}", k.port, k.protocol.istio_name());
}

impl Skip {
    /// A short name of the reason, to count left-out destinations by.
    pub fn kind(&self) -> &'static str {
        match self {
            Skip::Declared => "declared",
            Skip::Mesh => "in-mesh",
            Skip::Private => "private",
            Skip::Metadata => "metadata",
            Skip::Unverified => "unverified",
            Skip::InvalidHost(_) => "invalid host",
            Skip::TooManyPorts => "too many ports",
            Skip::Covered(_) => "covered",
            Skip::TooFew(_) => "--min-requests",
            Skip::Excluded(_) => "--exclude-host",
            Skip::BlockedOnly => "blocked only",
            Skip::InvalidNamespace(_) => "invalid namespace",
            Skip::HighCardinality(_) => "high cardinality",
        }
    }
}

/// Whether `recommend` writes an entry for a destination.
pub fn eligibility(
    summary: &Summary,
    k: &DestKey,
    s: &DestStats,
    sel: &Selection,
) -> Result<(), Skip> {
    if s.category == Some(Category::Mesh) {
        return Err(Skip::Mesh);
    }
    if s.undeclared() == 0 {
        return Err(Skip::Declared);
    }
    if crate::gate::reaches_metadata(k, s) && !sel.include_private {
        return Err(Skip::Metadata);
    }
    if s.category == Some(Category::Private) {
        // A host name outside the cluster domain is recommended as a DNS entry whatever its
        // address (private endpoints of cloud services resolve to private addresses); a
        // private address alone only with --include-private (a STATIC entry to review).
        if k.is_address && !sel.include_private {
            return Err(Skip::Private);
        }
        if !k.is_address && sel.rules.is_cluster_local(&k.name) {
            return Err(Skip::Unverified);
        }
    }
    if s.undeclared() < sel.min_requests {
        return Err(Skip::TooFew(sel.min_requests));
    }
    if sel.exclude_blocked_only && s.blocked_only() {
        return Err(Skip::BlockedOnly);
    }
    if !k.is_address
        && let Some(p) = sel
            .exclude_hosts
            .iter()
            .find(|p| crate::existing::host_matches(p, &k.name))
    {
        return Err(Skip::Excluded(p.clone()));
    }
    if !k.is_address {
        if k.name.contains('*') {
            return Err(Skip::InvalidHost("wildcard".into()));
        }
        if !k.name.bytes().all(|b| b.is_ascii_graphic()) {
            // Named in full where the destination is shown, escaped as each output needs.
            return Err(Skip::InvalidHost(
                "characters other than printable ASCII".into(),
            ));
        }
        if let Some(e) = validate::wildcard_domain_error(&k.name) {
            return Err(Skip::InvalidHost(e));
        }
    }
    if let Some(by) = covered_by(summary, k, s, sel, true) {
        return Err(Skip::Covered(by));
    }
    if !sel.include_high_cardinality
        && let Some(parent) = sel.high_cardinality.parent(k)
    {
        return Err(Skip::HighCardinality(parent));
    }
    Ok(())
}

/// The existing entry (`namespace/name`) that covers a destination for every namespace that
/// called it (`undeclared`: only those whose traffic was passed through or blocked).
pub fn covered_by(
    summary: &Summary,
    k: &DestKey,
    s: &DestStats,
    sel: &Selection,
    undeclared: bool,
) -> Option<String> {
    let existing = sel.existing.as_deref()?;
    let mut first = None;
    for ns in namespaces(summary, s, undeclared) {
        let e = existing.covering(k, ns)?;
        first.get_or_insert_with(|| format!("{}/{}", e.namespace, e.name));
    }
    first
}

/// One port of a recommended entry.
#[derive(Debug)]
pub struct PortPlan<'a> {
    pub number: u16,
    pub protocol: Protocol,
    /// The destinations on this port, the chosen protocol's first: each with its statistics
    /// and, for a per-namespace entry whose namespace made only some of the calls, that
    /// namespace's calls alone (`None`: the destination's own statistics are the entry's).
    pub dests: Vec<(&'a DestKey, &'a DestStats, Option<Box<Own>>)>,
}

/// One namespace's calls to a destination: counts, bytes, first and last seen and sources
/// are theirs (addresses, response codes and flags, attribution and names stay the
/// destination's, and are read from it). Built for every calling namespace in one pass over
/// the destination's sources, so that an entry's evidence never scans the other namespaces'
/// calls.
#[derive(Debug, Clone)]
pub struct Own {
    /// The counts, bytes and times; the maps are left empty.
    pub stats: DestStats,
    /// (source index, counts).
    pub sources: Vec<(u32, SourceCount)>,
}

impl Own {
    fn new(s: &DestStats) -> Own {
        Own {
            stats: DestStats {
                category: s.category,
                ..DestStats::default()
            },
            sources: Vec::new(),
        }
    }

    fn add(&mut self, i: u32, c: SourceCount) {
        self.count(&c);
        self.sources.push((i, c));
    }

    /// Adds a source's counts, bytes and times, not the source itself.
    fn count(&mut self, c: &SourceCount) {
        let v = &mut self.stats;
        v.passthrough = v.passthrough.saturating_add(c.passthrough);
        v.blocked = v.blocked.saturating_add(c.blocked);
        v.registered = v
            .registered
            .saturating_add(c.all.saturating_sub(c.undeclared()));
        v.bytes_uploaded = v.bytes_uploaded.saturating_add(c.uploaded);
        v.bytes_downloaded = v.bytes_downloaded.saturating_add(c.downloaded);
        v.first_seen = match (v.first_seen, c.first_seen) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        v.last_seen = v.last_seen.max(c.last_seen);
    }

    /// Whether these calls read the same as the whole destination's wherever an entry's
    /// evidence reads them (counts, bytes, times and sources): the entry then needs no view
    /// of its own.
    fn is_whole(&self, s: &DestStats) -> bool {
        let v = &self.stats;
        s.internal == 0
            && (v.passthrough, v.blocked, v.registered) == (s.passthrough, s.blocked, s.registered)
            && (v.bytes_uploaded, v.bytes_downloaded) == (s.bytes_uploaded, s.bytes_downloaded)
            && (v.first_seen, v.last_seen) == (s.first_seen, s.last_seen)
            && self.sources.len() == s.sources.iter().count()
    }
}

/// A destination's calls grouped by calling namespace (`None`: callers the logs do not name),
/// in namespace order, in one pass over its sources and one sort: a map of namespaces to
/// whole views would allocate a node per few namespaces for each destination.
/// Without `sources`, each view has its counts and not the list of its sources.
/// `calls` is working room reused from one destination to the next.
fn by_caller<'a>(
    summary: &'a Summary,
    s: &DestStats,
    sources: bool,
    calls: &mut Vec<(Option<&'a str>, u32, SourceCount)>,
) -> Vec<(Option<&'a str>, Own)> {
    calls.clear();
    calls.extend(s.sources.iter().filter_map(|(i, c)| {
        let (k, _) = summary.sources.get_index(i as usize)?;
        Some(((!k.namespace.is_empty()).then_some(&*k.namespace), i, c))
    }));
    // Stable: within a namespace, sources keep their order.
    calls.sort_by_key(|c| c.0);
    let mut out = Vec::with_capacity(calls.chunk_by(|a, b| a.0 == b.0).count());
    for chunk in calls.chunk_by(|a, b| a.0 == b.0) {
        let mut own = Own::new(s);
        if sources {
            own.sources.reserve_exact(chunk.len());
        }
        for &(_, i, c) in chunk {
            if sources {
                own.add(i, c);
            } else {
                own.count(&c);
            }
        }
        out.push((chunk[0].0, own));
    }
    out
}

/// A recommended ServiceEntry in outline: what `migrate` and a failing `check` list.
#[derive(Debug, Serialize)]
pub struct Outline {
    pub namespace: Option<String>,
    pub name: String,
    pub hosts: Vec<String>,
    /// `number/PROTOCOL`.
    pub ports: Vec<String>,
}

impl std::fmt::Display for Outline {
    /// `namespace/name: hosts ports number/PROTOCOL, ...` (`?` for an unknown namespace).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}: {} ports {}",
            self.namespace.as_deref().unwrap_or("?"),
            self.name,
            self.hosts.join(", "),
            self.ports.join(", ")
        )
    }
}

/// The plan's entries in outline, in its order.
pub fn outline(plan: &Plan<'_>) -> Vec<Outline> {
    plan.entries
        .iter()
        .map(|e| {
            let mut ports: Vec<String> = e
                .ports
                .iter()
                .map(|p| format!("{}/{}", p.number, p.protocol.istio_name()))
                .collect();
            ports.dedup();
            Outline {
                namespace: e.namespace.clone(),
                name: e.name.clone(),
                hosts: vec![e.host.clone()],
                ports,
            }
        })
        .collect()
}

/// One recommended ServiceEntry.
#[derive(Debug)]
pub struct Recommendation<'a> {
    pub name: String,
    /// The namespace whose workloads used it; `None` when the logs do not say.
    pub namespace: Option<String>,
    pub host: String,
    /// Set for entries of address-only destinations.
    pub address: Option<IpAddr>,
    pub ports: Vec<PortPlan<'a>>,
    /// For a `*.parent` entry (`--wildcard-min`): the hosts it stands for.
    pub wildcard_of: Vec<String>,
    /// For an aggregated address range (`--cidr-prefix`): the range and the addresses seen.
    pub cidr: Option<(String, Vec<IpAddr>)>,
    /// `exportTo`: `["."]`, or the consuming namespaces with `--scope central`.
    pub export_to: Vec<String>,
    /// The evidence is that of the entry's namespace's calls alone (not with `--scope
    /// central`, whose entries serve every namespace).
    pub own_evidence: bool,
    /// When an existing ServiceEntry has this entry's namespace and name: that entry with
    /// what this one adds, written whole (`kubectl apply` replaces `hosts`, `ports` and
    /// `exportTo` of a custom resource as a whole, so a partial entry would drop the rest).
    pub merged: Option<MergedEntry>,
}

/// An existing ServiceEntry with what a recommendation adds to it.
#[derive(Debug, Clone)]
pub struct MergedEntry {
    /// `namespace/name` of the existing entry.
    pub from: String,
    /// The merged object.
    pub value: serde_json::Value,
    /// What was added, in words (`port 8443/TLS`, `host api.example.com`).
    pub added: Vec<String>,
}

/// Everything `recommend` decided.
#[derive(Debug, Default)]
pub struct Plan<'a> {
    /// The ServiceEntry apiVersion to write.
    pub api_version: &'static str,
    pub entries: Vec<Recommendation<'a>>,
    /// Left out for a reason other than high cardinality.
    pub skipped: Vec<(&'a DestKey, &'a DestStats, Skip)>,
    /// The children of each high-cardinality parent left out: their names shown and their
    /// count (one parent may have millions, listed one by one nowhere).
    pub wide: BTreeMap<std::sync::Arc<str>, Counted>,
    /// What was not done and why (a wildcard `--wildcard-min` would have widened past a
    /// registrable domain), for the comments at the top of the stream.
    pub notes: Vec<String>,
    /// Entries `--max-entries` left out: (`namespace/name`, undeclared entries), most first.
    pub capped: Vec<(String, u64)>,
    /// `--max-entries`, when given.
    pub max_entries: Option<usize>,
}

/// The version of the Public Suffix List that bounds `--wildcard-min` (the date it was taken).
pub fn public_suffix_list_version() -> &'static str {
    psl2::psl_version().trim()
}

/// Whether `*.parent` stays within one registrable domain (a public suffix and one label
/// more, by the Public Suffix List with its PRIVATE section): `Err` says what it would widen
/// to. `*.co.uk` or `*.com` would take in every domain registered under a suffix, and
/// `*.github.io`, `*.s3.amazonaws.com` or `*.cloudfront.net` every site, bucket or
/// distribution of other owners.
pub fn wildcard_parent(parent: &str) -> Result<(), String> {
    let parent = parent
        .strip_suffix('.')
        .unwrap_or(parent)
        .to_ascii_lowercase();
    let Some(d) = psl2::lookup(&parent) else {
        return Err("a name the Public Suffix List cannot read".into());
    };
    if !d.is_public_suffix() {
        return Ok(());
    }
    Err(match d.typ() {
        Some(psl2::Type::Private) => format!(
            "a public suffix (PRIVATE section of the Public Suffix List): the names below {parent} belong to many owners"
        ),
        Some(psl2::Type::Icann) => format!(
            "a public suffix (ICANN section of the Public Suffix List): every domain registered under {parent}"
        ),
        None => format!(
            "a public suffix (a top-level domain the Public Suffix List does not know): every domain under {parent}"
        ),
    })
}

/// The network of `ip` with a prefix of `bits` (capped at the address's size).
fn network(ip: IpAddr, bits: u8) -> (IpAddr, u8) {
    match ip {
        IpAddr::V4(v4) => {
            let b = bits.min(32);
            let mask = if b == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(b))
            };
            (IpAddr::V4((u32::from(v4) & mask).into()), b)
        }
        IpAddr::V6(v6) => {
            let b = bits.min(128);
            let mask = if b == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(b))
            };
            (IpAddr::V6((u128::from(v6) & mask).into()), b)
        }
    }
}

/// The host name given to an address-only destination.
pub fn synthetic_host(ip: IpAddr) -> String {
    format!("{}.egress.internal", address_label(ip))
}

fn address_label(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("ip-{}-{}-{}-{}", o[0], o[1], o[2], o[3])
        }
        IpAddr::V6(v6) => {
            let mut s = String::from("ip6");
            for seg in v6.segments() {
                let _ = write!(s, "-{seg:04x}");
            }
            s
        }
    }
}

/// An object name for a host: the host itself when it is short enough (hosts are DNS-1123
/// subdomains once validated and lower-cased), else a prefix and a stable hash.
fn object_name(host: &str) -> String {
    let h = host.strip_suffix('.').unwrap_or(host);
    if validate::is_dns1123_subdomain(h) {
        return h.to_owned();
    }
    // FNV-1a: stable across versions and platforms.
    let hash = h.bytes().fold(0xcbf29ce484222325u64, |a, b| {
        (a ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    let mut prefix: String = h.chars().take(200).collect();
    while prefix.ends_with(['.', '-']) {
        prefix.pop();
    }
    format!("{prefix}-{hash:016x}")
}

fn protocol_rank(p: Protocol) -> u8 {
    match p {
        Protocol::Http => 0,
        Protocol::Tls => 1,
        Protocol::Tcp => 2,
    }
}

/// A destination in an entry: key, statistics and, when needed, the namespace's own calls.
type PlanDest<'a> = (&'a DestKey, &'a DestStats, Option<Box<Own>>);

/// The destinations of one entry, each with its port, in the order they were added. Most
/// entries have one destination: a list of exactly one is far smaller than a map of ports.
type Group<'a> = Vec<(u16, PlanDest<'a>)>;

/// Adds a destination to a group, which holds exactly one until a second comes.
fn add_to<'a>(group: &mut Group<'a>, port: u16, d: PlanDest<'a>) {
    if group.capacity() == 0 {
        group.reserve_exact(1);
    }
    group.push((port, d));
}

/// A `*.parent` entry being built: its ports and the hosts it stands for.
type Merged<'a> = (Group<'a>, Vec<String>);

/// From this many entries on, `recommend` warns: thousands of ServiceEntries strain istiod.
pub const MANY_ENTRIES: usize = 1000;

/// Istio's limit on the ports of one ServiceEntry.
pub const MAX_PORTS: usize = 256;

/// The ports of one entry, each with its destinations, the chosen protocol's first. Past
/// [`MAX_PORTS`], the ports with the fewest undeclared entries are left out, with the reason.
fn ports<'a>(
    mut g: Group<'a>,
    skipped: &mut Vec<(&'a DestKey, &'a DestStats, Skip)>,
) -> Vec<PortPlan<'a>> {
    // Stable: a port's destinations stay in the order they were added.
    g.sort_by_key(|(port, _)| *port);
    let count = g.chunk_by(|a, b| a.0 == b.0).count();
    let mut ports: Vec<PortPlan<'a>> = Vec::with_capacity(count);
    let mut g = g.into_iter().peekable();
    while let Some((number, first)) = g.next() {
        let mut dests = vec![first];
        while let Some((_, d)) = g.next_if(|(p, _)| *p == number) {
            dests.push(d);
        }
        dests.shrink_to_fit();
        dests.sort_by(|a, b| {
            b.1.undeclared()
                .cmp(&a.1.undeclared())
                .then(protocol_rank(a.0.protocol).cmp(&protocol_rank(b.0.protocol)))
        });
        ports.push(PortPlan {
            number,
            protocol: dests[0].0.protocol,
            dests,
        });
    }
    if ports.len() > MAX_PORTS {
        let used = |p: &PortPlan<'_>| p.dests.iter().map(|(_, s, _)| s.undeclared()).sum::<u64>();
        ports.sort_by(|a, b| used(b).cmp(&used(a)).then(a.number.cmp(&b.number)));
        for p in ports.drain(MAX_PORTS..) {
            skipped.extend(
                p.dests
                    .into_iter()
                    .map(|(k, s, _)| (k, s, Skip::TooManyPorts)),
            );
        }
        ports.sort_by_key(|p| p.number);
    }
    ports
}

/// Groups the eligible destinations into entries, each with the evidence its comments show.
pub fn plan<'a>(summary: &'a Summary, sel: &Selection) -> Plan<'a> {
    build(summary, sel, true)
}

/// The same entries as [`plan`] (namespaces, names, hosts, ports, what was skipped), without
/// each namespace's own view of its calls, which only the manifests' comments read: what
/// `migrate` lists when no file shows the manifests. With `--max-entries`, each view keeps
/// its counts, which decide what the cap keeps.
pub fn plan_entries<'a>(summary: &'a Summary, sel: &Selection) -> Plan<'a> {
    build(summary, sel, false)
}

fn build<'a>(summary: &'a Summary, sel: &Selection, evidence: bool) -> Plan<'a> {
    // Without the comments, a namespace's view is needed only for its counts, and only when
    // `--max-entries` weighs the entries by them.
    let views = evidence || sel.max_entries.is_some();
    let mut plan = Plan {
        api_version: sel.api_version,
        max_entries: sel.max_entries,
        ..Plan::default()
    };
    for f in &sel.high_cardinality.findings {
        plan.notes.push(format!(
            "High cardinality: {}",
            f.describe(sel.cardinality_threshold)
        ));
    }
    // One entry per namespace that used a destination (least privilege: each namespace gets
    // only the hosts and ports its own workloads used), keyed by (namespace, host or address).
    // With `--scope central`, one namespace holds every entry, exported to its consumers.
    let mut hosts: BTreeMap<(Option<&str>, &str), Group<'_>> = BTreeMap::new();
    let mut addrs: BTreeMap<(Option<&str>, IpAddr), Group<'_>> = BTreeMap::new();
    let mut consumers: BTreeMap<String, BTreeSet<Option<&str>>> = BTreeMap::new();
    let central = sel.central.as_deref();
    let mut calls = Vec::new();
    for (k, s) in summary.sorted_destinations() {
        match eligibility(summary, k, s, sel) {
            Ok(()) => {}
            Err(Skip::HighCardinality(parent)) => {
                plan.wide
                    .entry(parent)
                    .or_default()
                    .offer(s.undeclared(), |t| write_dest_title(t, k));
                continue;
            }
            Err(skip) => {
                plan.skipped.push((k, s, skip));
                continue;
            }
        }
        let ip = if k.is_address {
            match k.name.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => continue,
            }
        } else {
            None
        };
        // Each calling namespace's view, built once per destination (not once per entry).
        // A namespace that made every call needs no view of its own: the destination's is it.
        let mut callers: Vec<(Option<&str>, Option<Box<Own>>)> =
            by_caller(summary, s, evidence, &mut calls)
                .into_iter()
                .filter(|(_, o)| o.stats.undeclared() > 0)
                .map(|(ns, o)| {
                    let own = views && central.is_none() && !o.is_whole(s);
                    (ns, own.then(|| Box::new(o)))
                })
                .collect();
        if callers.is_empty() {
            callers.push((
                None,
                (views && central.is_none()).then(|| Box::new(Own::new(s))),
            ));
        }
        // With `--scope central`, one entry holds the destination for every caller: added once.
        let mut added = false;
        for (caller, own) in callers {
            // Namespaces an existing entry already serves need nothing new.
            if sel
                .existing
                .as_deref()
                .is_some_and(|e| e.covering(k, caller).is_some())
            {
                continue;
            }
            if caller.is_some_and(|n| sel.exclude_namespaces.iter().any(|x| x == n)) {
                continue;
            }
            // Log lines are anyone's to write: a namespace Kubernetes would refuse never
            // reaches a manifest.
            if let Some(n) = caller.filter(|n| !validate::is_dns1123_label(n, false)) {
                plan.skipped
                    .push((k, s, Skip::InvalidNamespace(n.to_owned())));
                continue;
            }
            let ns = central.or(caller);
            // Only `--scope central` exports to consumers (with millions of destinations,
            // this map would outweigh the plan).
            if central.is_some() {
                consumers
                    .entry(k.name.to_string())
                    .or_default()
                    .insert(caller);
                if std::mem::replace(&mut added, true) {
                    continue;
                }
            }
            let group = match ip {
                Some(ip) => addrs.entry((ns, ip)).or_default(),
                None => hosts.entry((ns, &k.name)).or_default(),
            };
            add_to(group, k.port, (k, s, own));
        }
    }
    let export_to = |names: &[&str]| -> Vec<String> {
        let Some(home) = central else {
            return vec![".".into()];
        };
        let mut set: BTreeSet<Option<&str>> = BTreeSet::new();
        for n in names {
            set.extend(consumers.get(*n).into_iter().flatten().copied());
        }
        if set.contains(&None) {
            // A caller the logs do not name: only exporting everywhere is sure to reach it.
            return vec!["*".into()];
        }
        let mut out: Vec<String> = set
            .into_iter()
            .flatten()
            .map(|n| if n == home { ".".into() } else { n.to_owned() })
            .collect();
        out.sort();
        out.dedup();
        out
    };

    // --wildcard-min: siblings under one parent become `*.parent` (HTTP and TLS only: every
    // host entry is one of the two, raw TCP has no name to match).
    let mut merged: BTreeMap<(Option<&str>, String), Merged<'_>> = BTreeMap::new();
    if let Some(min) = sel.wildcard_min {
        let mut by_parent: BTreeMap<(Option<&str>, &str), Vec<&str>> = BTreeMap::new();
        for (ns, host) in hosts.keys() {
            if let Some((_, parent)) = host.split_once('.')
                && parent.contains('.')
            {
                by_parent.entry((*ns, parent)).or_default().push(host);
            }
        }
        for ((ns, parent), children) in by_parent {
            if children.len() < min {
                continue;
            }
            if let Err(why) = wildcard_parent(parent) {
                let note = format!(
                    "--wildcard-min: {} stay exact: *.{parent} would widen to {why}",
                    crate::cardinality::capped(&children)
                );
                if !plan.notes.contains(&note) {
                    plan.notes.push(note);
                }
                continue;
            }
            let mut group = Group::default();
            for c in &children {
                group.extend(hosts.remove(&(ns, *c)).unwrap_or_default());
            }
            merged.insert(
                (ns, format!("*.{parent}")),
                (group, children.iter().map(|c| c.to_string()).collect()),
            );
        }
    }
    // One entry per group, known now: the list never grows by copying.
    plan.entries
        .reserve_exact(hosts.len() + merged.len() + addrs.len());
    for ((ns, host), g) in hosts {
        let ports = ports(g, &mut plan.skipped);
        plan.entries.push(Recommendation {
            name: object_name(host),
            namespace: ns.map(str::to_owned),
            host: host.to_owned(),
            address: None,
            ports,
            wildcard_of: Vec::new(),
            cidr: None,
            export_to: export_to(&[host]),
            merged: None,
            own_evidence: central.is_none(),
        });
    }
    for ((ns, host), (g, children)) in merged {
        let ports = ports(g, &mut plan.skipped);
        let names: Vec<&str> = children.iter().map(String::as_str).collect();
        plan.entries.push(Recommendation {
            name: object_name(&format!("wildcard{}", &host[1..])),
            namespace: ns.map(str::to_owned),
            export_to: export_to(&names),
            merged: None,
            own_evidence: central.is_none(),
            host,
            address: None,
            ports,
            wildcard_of: children,
            cidr: None,
        });
    }
    // --cidr-prefix: addresses that share a network of that size become one entry.
    let mut ranges: BTreeMap<(Option<&str>, IpAddr, u8), Vec<IpAddr>> = BTreeMap::new();
    if sel.cidr_prefix.is_some() || sel.cidr_prefix_v6.is_some() {
        for (ns, ip) in addrs.keys() {
            let bits = if ip.is_ipv4() {
                sel.cidr_prefix
            } else {
                sel.cidr_prefix_v6
            };
            if let Some(bits) = bits {
                let (net, b) = network(*ip, bits);
                ranges.entry((*ns, net, b)).or_default().push(*ip);
            }
        }
        ranges.retain(|_, ips| ips.len() > 1);
    }
    for ((ns, net, bits), ips) in ranges {
        let mut group = Group::default();
        for ip in &ips {
            group.extend(addrs.remove(&(ns, *ip)).unwrap_or_default());
        }
        let ports = ports(group, &mut plan.skipped);
        let names: Vec<String> = ips.iter().map(ToString::to_string).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let label = format!("{}-{bits}", address_label(net));
        plan.entries.push(Recommendation {
            name: label.clone(),
            namespace: ns.map(str::to_owned),
            host: format!("{label}.egress.internal"),
            address: None,
            ports,
            wildcard_of: Vec::new(),
            cidr: Some((format!("{net}/{bits}"), ips)),
            export_to: export_to(&names),
            merged: None,
            own_evidence: central.is_none(),
        });
    }
    for ((ns, ip), g) in addrs {
        let ports = ports(g, &mut plan.skipped);
        let name = ip.to_string();
        plan.entries.push(Recommendation {
            name: address_label(ip),
            namespace: ns.map(str::to_owned),
            host: synthetic_host(ip),
            address: Some(ip),
            ports,
            wildcard_of: Vec::new(),
            cidr: None,
            export_to: export_to(&[&name]),
            merged: None,
            own_evidence: central.is_none(),
        });
    }
    // Entries of one namespace together: hosts, then address ranges, then addresses.
    let rank = |r: &Recommendation<'_>| (r.address.is_some() as u8) * 2 + r.cidr.is_some() as u8;
    plan.entries.sort_by(|a, b| {
        a.namespace
            .cmp(&b.namespace)
            .then(rank(a).cmp(&rank(b)))
            .then(a.host.cmp(&b.host))
    });
    if let Some(max) = sel.max_entries {
        cap(&mut plan, max);
    }
    if let Some(existing) = sel.existing.as_deref() {
        avoid_clobbering(&mut plan.entries, existing, plan.api_version);
    }
    plan
}

/// `--max-entries`: keeps the `max` entries with the most undeclared traffic (ties in the
/// plan's order: by namespace and name), in the plan's order; the others are counted in
/// `plan.capped`.
fn cap(plan: &mut Plan<'_>, max: usize) {
    if plan.entries.len() <= max {
        return;
    }
    let weight = |r: &Recommendation<'_>| -> u64 {
        r.ports
            .iter()
            .flat_map(|p| &p.dests)
            .map(|(_, s, own)| own.as_ref().map_or(*s, |o| &o.stats).undeclared())
            .fold(0u64, u64::saturating_add)
    };
    let mut order: Vec<(u64, usize)> = plan
        .entries
        .iter()
        .enumerate()
        .map(|(i, r)| (weight(r), i))
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut keep = vec![false; plan.entries.len()];
    for (_, i) in &order[..max] {
        keep[*i] = true;
    }
    let mut capped = Vec::new();
    let mut i = 0;
    plan.entries.retain(|r| {
        let k = keep[i];
        i += 1;
        if !k {
            let label = match &r.namespace {
                Some(ns) => format!("{ns}/{}", r.host),
                None => r.host.clone(),
            };
            capped.push((label, weight(r)));
        }
        k
    });
    capped.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    plan.capped = capped;
}

/// No recommendation replaces an existing ServiceEntry by accident. One whose namespace and
/// name equal an existing entry's becomes that entry with its own hosts and ports added, every
/// other field kept; when the two cannot be merged (another resolution, addresses on one side
/// only, or a merge Istio would reject), it takes a name no existing entry has. An entry
/// without a namespace may be applied to any namespace, so it avoids every existing name.
fn avoid_clobbering(entries: &mut [Recommendation<'_>], existing: &Existing, api: &'static str) {
    let mut taken: BTreeSet<(Option<String>, String)> = existing
        .entries
        .iter()
        .map(|e| (Some(e.namespace.clone()), e.name.clone()))
        .collect();
    let names: BTreeSet<&str> = existing.entries.iter().map(|e| e.name.as_str()).collect();
    for r in entries.iter() {
        taken.insert((r.namespace.clone(), r.name.clone()));
    }
    // Existing entries by namespace and name (the first of each), and the names taken in any
    // namespace: looked up per recommendation, never scanned.
    let mut by_name: BTreeMap<(&str, &str), &Entry> = BTreeMap::new();
    for e in &existing.entries {
        by_name.entry((&e.namespace, &e.name)).or_insert(e);
    }
    let mut any_ns: BTreeSet<String> = taken.iter().map(|(_, n)| n.clone()).collect();
    for r in entries.iter_mut() {
        let same = r
            .namespace
            .as_deref()
            .and_then(|ns| by_name.get(&(ns, r.name.as_str())).copied());
        if let Some(e) = same {
            if let Some(m) = merge_into(e, r, api) {
                r.merged = Some(m);
                continue;
            }
        } else if !(r.namespace.is_none() && names.contains(r.name.as_str())) {
            continue;
        }
        // A fresh name: `<name>-egress`, then `-egress-2`, ... within DNS-1123's 253.
        let base: String = r.name.chars().take(230).collect();
        let base = base.trim_end_matches(['-', '.']);
        let fresh = (1..)
            .map(|i| {
                if i == 1 {
                    format!("{base}-egress")
                } else {
                    format!("{base}-egress-{i}")
                }
            })
            .find(|n| {
                let used = names.contains(n.as_str())
                    || taken.contains(&(r.namespace.clone(), n.clone()))
                    || (r.namespace.is_none() && any_ns.contains(n));
                !used
            })
            .expect("a free name");
        taken.insert((r.namespace.clone(), fresh.clone()));
        any_ns.insert(fresh.clone());
        r.name = fresh;
    }
}

/// Leaves out of an object read from the cluster the fields the API server manages: they are
/// not part of what a user applies.
pub(crate) fn strip_server_fields(v: &mut serde_json::Value) {
    if let Some(meta) = v
        .get_mut("metadata")
        .and_then(serde_json::Value::as_object_mut)
    {
        for k in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            meta.remove(k);
        }
        if let Some(a) = meta
            .get_mut("annotations")
            .and_then(serde_json::Value::as_object_mut)
        {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            if a.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
}

/// The existing entry `e` with the hosts and ports of `r` added, or `None` when they cannot be
/// merged without changing what `e` means.
fn merge_into(e: &Entry, r: &Recommendation<'_>, api: &'static str) -> Option<MergedEntry> {
    let mine = r.to_value(api);
    let mut v = e.raw.clone();
    strip_server_fields(&mut v);
    crate::gitops::mark(&mut v);
    let spec = v.get_mut("spec")?.as_object_mut()?;
    let resolution = |s: &serde_json::Map<String, serde_json::Value>| {
        s.get("resolution")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("NONE")
            .to_owned()
    };
    let my_spec = mine.get("spec")?.as_object()?;
    if resolution(spec) != resolution(my_spec)
        || spec.contains_key("addresses") != my_spec.contains_key("addresses")
        || spec.contains_key("endpoints") != my_spec.contains_key("endpoints")
        || spec.contains_key("workloadSelector")
        || spec.get("location").and_then(serde_json::Value::as_str) == Some("MESH_INTERNAL")
    {
        return None;
    }
    let mut added = Vec::new();
    let mut extend =
        |key: &str, what: &str, spec: &mut serde_json::Map<String, serde_json::Value>| {
            let Some(new) = my_spec.get(key).and_then(serde_json::Value::as_array) else {
                return;
            };
            let list = spec
                .entry(key.to_owned())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            let Some(list) = list.as_array_mut() else {
                return;
            };
            for item in new {
                let known = match key {
                    "endpoints" => list.iter().any(|x| x.get("address") == item.get("address")),
                    _ => list.iter().any(|x| {
                        x.as_str().map(str::to_ascii_lowercase)
                            == item.as_str().map(str::to_ascii_lowercase)
                    }),
                };
                if !known {
                    added.push(format!("{what} {}", item.as_str().unwrap_or("")));
                    list.push(item.clone());
                }
            }
        };
    extend("hosts", "host", spec);
    extend("addresses", "address", spec);
    // Ports: by number; a new port's name is made unique among the existing ones.
    let ports = spec
        .entry("ports".to_owned())
        .or_insert_with(|| serde_json::Value::Array(Vec::new()))
        .as_array_mut()?;
    for p in my_spec.get("ports")?.as_array()? {
        if ports.iter().any(|x| x.get("number") == p.get("number")) {
            continue;
        }
        let mut p = p.clone();
        let name = p.get("name")?.as_str()?.to_owned();
        let unique = (1..)
            .map(|i| {
                if i == 1 {
                    name.clone()
                } else {
                    format!("{name}-{i}")
                }
            })
            .find(|n| {
                !ports
                    .iter()
                    .any(|x| x.get("name").and_then(|y| y.as_str()) == Some(n))
            })
            .expect("a free port name");
        p["name"] = serde_json::Value::String(unique);
        added.push(format!(
            "port {}/{}",
            p.get("number")?,
            p.get("protocol").and_then(|x| x.as_str()).unwrap_or("")
        ));
        ports.push(p);
    }
    if let Some(eps) = my_spec
        .get("endpoints")
        .and_then(serde_json::Value::as_array)
    {
        let list = spec.get_mut("endpoints")?.as_array_mut()?;
        for ep in eps {
            if !list.iter().any(|x| x.get("address") == ep.get("address")) {
                added.push(format!(
                    "endpoint {}",
                    ep.get("address").and_then(|x| x.as_str()).unwrap_or("")
                ));
                list.push(ep.clone());
            }
        }
    }
    if validate::document(&v).is_none_or(|errors| !errors.is_empty()) {
        return None;
    }
    Some(MergedEntry {
        from: format!("{}/{}", e.namespace, e.name),
        value: v,
        added,
    })
}

/// The namespaces whose workloads called a destination (`None`: not known); with
/// `undeclared`, only those whose calls were passed through or blocked.
pub fn namespaces<'a>(
    summary: &'a Summary,
    s: &DestStats,
    undeclared: bool,
) -> std::collections::BTreeSet<Option<&'a str>> {
    let set: std::collections::BTreeSet<Option<&'a str>> = s
        .sources
        .iter()
        .filter(|(_, c)| !undeclared || c.undeclared() > 0)
        .map(|(i, _)| i)
        .filter_map(|i| summary.sources.get_index(i as usize))
        .map(|(k, _)| (!k.namespace.is_empty()).then_some(&*k.namespace))
        .collect();
    if set.is_empty() {
        std::collections::BTreeSet::from([None])
    } else {
        set
    }
}

#[derive(Serialize, Clone, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
struct ServiceEntry<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'a>,
    spec: Spec<'a>,
}

#[derive(Serialize, Clone, PartialEq, Eq, Hash)]
struct Metadata<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    labels: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize, Clone, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
struct Spec<'a> {
    hosts: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    addresses: Vec<String>,
    ports: Vec<Port>,
    location: &'static str,
    resolution: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    endpoints: Vec<Endpoint>,
    export_to: Vec<&'a str>,
}

#[derive(Serialize, Clone, PartialEq, Eq, Hash)]
struct Endpoint {
    address: String,
}

#[derive(Serialize, Clone, PartialEq, Eq, Hash)]
struct Port {
    number: u16,
    name: String,
    protocol: &'static str,
}

impl ServiceEntry<'_> {
    /// Appends the manifest as serde-saphyr writes it, field for field, with each string
    /// written by [`crate::yaml::scalar`]; `false` (and `out` as it was) when a string would
    /// not fit on one line, or a list is empty: the caller then uses serde-saphyr.
    fn write_yaml(&self, out: &mut String) -> bool {
        let start = out.len();
        let ok = self.try_write_yaml(out);
        if ok.is_none() {
            out.truncate(start);
        }
        ok.is_some()
    }

    fn try_write_yaml(&self, out: &mut String) -> Option<()> {
        use crate::yaml::scalar;
        let m = &self.metadata;
        let s = &self.spec;
        let line = |out: &mut String, head: &str, value: &str| -> Option<()> {
            out.push_str(head);
            out.push_str(&scalar(value)?);
            out.push('\n');
            Some(())
        };
        let list = |out: &mut String, key: &str, items: &[&str]| -> Option<()> {
            if items.is_empty() {
                return None;
            }
            out.push_str(key);
            for i in items {
                line(out, "  - ", i)?;
            }
            Some(())
        };
        line(out, "apiVersion: ", self.api_version)?;
        line(out, "kind: ", self.kind)?;
        line(out, "metadata:\n  name: ", m.name)?;
        if let Some(ns) = m.namespace {
            line(out, "  namespace: ", ns)?;
        }
        if m.labels.is_empty() {
            return None;
        }
        out.push_str("  labels:\n");
        for (k, v) in &m.labels {
            // Keys are the tool's own (`app.kubernetes.io/managed-by`); a key serde-saphyr
            // would quote goes to it.
            if !k.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
                || !k
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"./-".contains(&c))
            {
                return None;
            }
            out.push_str("    ");
            out.push_str(k);
            line(out, ": ", v)?;
        }
        out.push_str("spec:\n");
        list(out, "  hosts:\n", &s.hosts)?;
        if !s.addresses.is_empty() {
            let a: Vec<&str> = s.addresses.iter().map(String::as_str).collect();
            list(out, "  addresses:\n", &a)?;
        }
        if s.ports.is_empty() {
            return None;
        }
        out.push_str("  ports:\n");
        for p in &s.ports {
            let _ = writeln!(out, "  - number: {}", p.number);
            line(out, "    name: ", &p.name)?;
            line(out, "    protocol: ", p.protocol)?;
        }
        line(out, "  location: ", s.location)?;
        line(out, "  resolution: ", s.resolution)?;
        if !s.endpoints.is_empty() {
            out.push_str("  endpoints:\n");
            for e in &s.endpoints {
                line(out, "  - address: ", &e.address)?;
            }
        }
        list(out, "  exportTo:\n", &s.export_to)
    }
}

impl Recommendation<'_> {
    fn manifest(&self, api_version: &'static str) -> ServiceEntry<'_> {
        ServiceEntry {
            api_version,
            kind: "ServiceEntry",
            metadata: Metadata {
                name: &self.name,
                namespace: self.namespace.as_deref(),
                labels: BTreeMap::from([("app.kubernetes.io/managed-by", "egress-advisor")]),
            },
            spec: Spec {
                hosts: vec![&self.host],
                addresses: match (&self.address, &self.cidr) {
                    (Some(ip), _) => vec![format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 })],
                    (None, Some((range, _))) => vec![range.clone()],
                    _ => Vec::new(),
                },
                ports: self
                    .ports
                    .iter()
                    .map(|p| Port {
                        number: p.number,
                        name: format!("{}-{}", p.protocol.name(), p.number),
                        protocol: p.protocol.istio_name(),
                    })
                    .collect(),
                location: "MESH_EXTERNAL",
                // An address-only entry sends traffic to that address and nowhere else: with
                // NONE, an HTTP port would route by Host header to whatever address the client
                // connected to.
                resolution: if self.address.is_some() {
                    "STATIC"
                } else if self.cidr.is_some() || !self.wildcard_of.is_empty() {
                    // A range or a wildcard cannot be resolved: traffic goes where the client
                    // sent it, within the range or under the parent name.
                    "NONE"
                } else {
                    "DNS"
                },
                endpoints: self
                    .address
                    .iter()
                    .map(|ip| Endpoint {
                        address: ip.to_string(),
                    })
                    .collect(),
                export_to: self.export_to.iter().map(String::as_str).collect(),
            },
        }
    }

    /// The manifest as a JSON value, for validation and tests.
    pub fn to_value(&self, api_version: &'static str) -> serde_json::Value {
        serde_json::to_value(self.manifest(api_version)).expect("a ServiceEntry serialises")
    }

    pub(crate) fn evidence(&self, out: &mut String, summary: &Summary) {
        // Per-namespace entries carry their own namespace's evidence, built once by `plan`.
        let total: u64 = self
            .ports
            .iter()
            .flat_map(|p| &p.dests)
            .map(|(_, s, own)| own.as_ref().map_or(*s, |o| &o.stats).lines())
            .sum();
        let what = match self.address {
            Some(ip) => format!("address {ip} (no host name was seen for it)"),
            None => self.host.clone(),
        };
        comment(out, format_args!("{what}: {}", entries(total)));
        if !self.wildcard_of.is_empty() {
            comment(
                out,
                format_args!(
                    "  widened by --wildcard-min; stands for {} hosts: {}",
                    thousands(self.wildcard_of.len() as u64),
                    crate::cardinality::capped(&self.wildcard_of)
                ),
            );
        }
        if let Some((range, ips)) = &self.cidr {
            let ips: Vec<String> = ips.iter().map(ToString::to_string).collect();
            comment(
                out,
                format_args!(
                    "  widened by --cidr-prefix to {range}; {} addresses seen: {}",
                    thousands(ips.len() as u64),
                    crate::cardinality::capped(&ips)
                ),
            );
        }
        for p in &self.ports {
            for (i, (k, full, own)) in p.dests.iter().enumerate() {
                // Counts from the entry's own namespace; the rest from the destination.
                let s = own.as_ref().map_or(*full, |o| &o.stats);
                let widened = !self.wildcard_of.is_empty() || self.cidr.is_some();
                let head = if widened {
                    format!(
                        "port {}/{} to {}",
                        p.number,
                        k.protocol.istio_name(),
                        k.name
                    )
                } else if i == 0 {
                    format!("port {}/{}", p.number, p.protocol.istio_name())
                } else {
                    format!(
                        "port {} also seen as {}, declared as {} above",
                        p.number,
                        k.protocol.istio_name(),
                        p.protocol.istio_name()
                    )
                };
                comment(out, format_args!("  {head}: {}", verdicts(s)));
                if s.blocked_only() {
                    comment(
                        out,
                        "    REVIEW: blocked only: every attempt was refused, none got through; in a REGISTRY_ONLY mesh a refused call may be a compromised workload calling out (--exclude-blocked-only leaves such destinations out)",
                    );
                }
                if let (Some(f), Some(l)) = (s.first_seen, s.last_seen) {
                    comment(
                        out,
                        format_args!("    seen {} .. {}", format_millis(f), format_millis(l)),
                    );
                }
                comment(
                    out,
                    format_args!(
                        "    uploaded by the workloads {}, downloaded {}",
                        human_bytes(s.bytes_uploaded),
                        human_bytes(s.bytes_downloaded)
                    ),
                );
                let sources = match own {
                    Some(o) => crate::aggregate::sources_from(summary, o.sources.iter().copied()),
                    None => crate::aggregate::sources_of(summary, s),
                };
                if sources
                    .iter()
                    .any(|u| u.namespace.is_some() || u.workload.is_some())
                {
                    comment(
                        out,
                        format_args!(
                            "    sources: {}",
                            counted(sources.iter().map(|u| (u.label(), u.requests)))
                        ),
                    );
                }
                if !full.addresses.is_empty() {
                    comment(
                        out,
                        format_args!(
                            "    addresses: {}",
                            counted(full.addresses.iter().map(|(a, n)| (a.to_string(), n)))
                        ),
                    );
                }
                if !full.attributed.is_empty() {
                    comment(
                        out,
                        format_args!(
                            "    attributed by address (logged without SNI or host): {}",
                            counted(full.attributed.iter().map(|(a, n)| (a.to_string(), *n)))
                        ),
                    );
                }
                if !full.seen_as.is_empty() {
                    let names: Vec<&str> = full.seen_as.iter().map(|n| &**n).collect();
                    comment(
                        out,
                        format_args!(
                            "    same address seen as: {}",
                            crate::cardinality::capped(&names)
                        ),
                    );
                }
                // Code 0 is "no response": every TCP entry has it; it says nothing here.
                if full.codes.iter().any(|(c, _)| c != 0) {
                    comment(
                        out,
                        format_args!(
                            "    response codes: {}",
                            counted(
                                full.codes
                                    .iter()
                                    .filter(|(c, _)| *c != 0)
                                    .map(|(c, n)| (c.to_string(), n))
                            )
                        ),
                    );
                }
                if !full.flags.is_empty() {
                    comment(
                        out,
                        format_args!(
                            "    response flags: {}",
                            counted(full.flags.iter().map(|(f, n)| (f.to_string(), *n)))
                        ),
                    );
                }
            }
        }
    }
}

/// `1 entry`, `1,234 entries`.
fn entries(n: u64) -> String {
    format!(
        "{} {}",
        thousands(n),
        if n == 1 { "entry" } else { "entries" }
    )
}

pub(crate) fn verdicts(s: &DestStats) -> String {
    let mut parts = Vec::new();
    for (name, n) in [
        ("passthrough", s.passthrough),
        ("blocked", s.blocked),
        ("registered", s.registered),
        ("internal", s.internal),
    ] {
        if n > 0 {
            parts.push(format!("{name} {}", thousands(n)));
        }
    }
    format!("{} ({})", entries(s.lines()), parts.join(", "))
}

/// How many items [`counted`] names.
const COUNTED_SHOWN: usize = 8;

/// `a (3), b (2), +4 more`, most frequent first.
pub(crate) fn counted(items: impl Iterator<Item = (String, u64)>) -> String {
    let mut top = Counted::default();
    for (k, n) in items {
        top.offer(n, |t| t.push_str(&k));
    }
    top.to_string()
}

/// What `counted` writes of a stream of items, holding only the items it names and the
/// count of the others (a high-cardinality parent has millions of children).
#[derive(Debug, Default)]
pub struct Counted {
    /// The most frequent items so far, most frequent first, ties by name.
    shown: Vec<(String, u64)>,
    /// Every item offered.
    pub len: u64,
    /// Where a candidate's name is written, reused.
    scratch: String,
}

impl Counted {
    /// Offers an item of count `n`, whose name `name` writes (only when it may be shown).
    fn offer(&mut self, n: u64, name: impl FnOnce(&mut String)) {
        self.len += 1;
        let full = self.shown.len() >= COUNTED_SHOWN;
        if full && self.shown.last().is_some_and(|w| n < w.1) {
            return;
        }
        self.scratch.clear();
        name(&mut self.scratch);
        let key = (std::cmp::Reverse(n), self.scratch.as_str());
        let at = self
            .shown
            .partition_point(|(k, m)| (std::cmp::Reverse(*m), k.as_str()) <= key);
        if full && at >= COUNTED_SHOWN {
            return;
        }
        self.shown.insert(at, (self.scratch.clone(), n));
        self.shown.truncate(COUNTED_SHOWN);
    }
}

impl std::fmt::Display for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (k, n)) in self.shown.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k} ({})", thousands(*n))?;
        }
        let more = self.len - self.shown.len() as u64;
        if more > 0 {
            if !self.shown.is_empty() {
                f.write_str(", ")?;
            }
            write!(f, "+{more} more")?;
        }
        Ok(())
    }
}

/// Appends `# text`. Every comment of a YAML stream is written here, and its text escaped
/// here ([`crate::fmt::escape::yaml_comment`]: printable ASCII only): log values must never
/// break out of a comment into YAML, for YAML 1.2 readers or for libyaml's, which also end a
/// line at U+0085, U+2028 and U+2029.
pub(crate) fn comment(out: &mut String, text: impl std::fmt::Display) {
    // Written in place, then escaped if it has to be.
    let start = out.len();
    out.push_str("# ");
    let _ = write!(out, "{text}");
    if out.len() == start + 2 {
        out.truncate(start + 1);
    } else if let std::borrow::Cow::Owned(escaped) =
        crate::fmt::escape::yaml_comment(&out[start + 2..])
    {
        out.truncate(start + 2);
        out.push_str(&escaped);
    }
    out.push('\n');
}

/// How to apply the stream, for what it holds: `kubectl apply -n NS` refuses objects of
/// another namespace, and objects without one go to kubectl's current namespace, so entries
/// with and without a namespace are never given one command together.
fn apply_advice(plan: &Plan<'_>) -> Vec<String> {
    let without = plan
        .entries
        .iter()
        .filter(|e| e.namespace.is_none())
        .count();
    let with = plan.entries.len() - without;
    match (with, without) {
        (_, 0) => vec!["Apply with: kubectl apply -f <file> (every entry names its namespace).".into()],
        (0, n) => vec![format!(
            "The logs do not say which namespace made the calls of {} {n} {}: apply with kubectl apply -n <namespace> -f <file>, in the namespace of the workloads that made them (or pass --source-namespace).",
            if n == 1 { "this" } else { "these" },
            if n == 1 { "entry" } else { "entries" }
        )],
        (w, n) => vec![
            format!(
                "{w} {} a namespace and {n} {} not: do not apply them with one command.",
                if w == 1 { "entry names" } else { "entries name" },
                if n == 1 { "does" } else { "do" }
            ),
            "kubectl apply -f <file> would put the entries without a namespace in kubectl's current namespace, and kubectl apply -n <namespace> -f <file> refuses the entries of other namespaces.".into(),
            "Give the logs' unnamed callers a namespace (--source-namespace, or logs with their Kubernetes metadata) and run again, or split the stream: the entries without metadata.namespace go with -n <namespace>.".into(),
        ],
    }
}

/// Renders the plan as one multi-document YAML stream. Fails only if a manifest would not pass
/// Istio's validation, which is a bug.
pub fn render_yaml(plan: &Plan<'_>, summary: &Summary, files: usize) -> Result<String, String> {
    let mut out = Vec::new();
    write_yaml(plan, summary, files, &mut out).map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// [`render_yaml`], written to `w` as it is rendered (with millions of entries, the whole
/// stream would not fit in memory). A manifest that would not pass Istio's validation, a bug,
/// is an error of kind `Other`, with what [`render_yaml`] would say, after the entries before
/// it were written.
pub fn write_yaml(
    plan: &Plan<'_>,
    summary: &Summary,
    files: usize,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    // Rendered into `out`, written out whenever it holds this much.
    const FLUSH: usize = 1 << 16;
    let mut out = String::new();
    let mut flush = |out: &mut String, at: usize| -> std::io::Result<()> {
        if out.len() >= at {
            w.write_all(out.as_bytes())?;
            out.clear();
        }
        Ok(())
    };
    comment(
        &mut out,
        "ServiceEntries for the external destinations found in Istio access logs.",
    );
    comment(
        &mut out,
        format_args!(
            "Input: {}, {}: {} passthrough and {} blocked entries.",
            crate::fmt::count(files as u64, "file", "files"),
            crate::fmt::count(summary.lines(), "line", "lines"),
            thousands(summary.classes[Class::Passthrough.index()]),
            thousands(summary.classes[Class::Blocked.index()]),
        ),
    );
    comment(
        &mut out,
        format_args!(
            "{} ServiceEntries, each in the namespace whose workloads used it when the logs say which.",
            plan.entries.len()
        ),
    );
    for line in apply_advice(plan) {
        comment(&mut out, &line);
    }
    for n in &plan.notes {
        comment(&mut out, n);
    }
    if let Some(max) = plan.max_entries
        && !plan.capped.is_empty()
    {
        let undeclared = plan
            .capped
            .iter()
            .fold(0u64, |a, (_, n)| a.saturating_add(*n));
        comment(
            &mut out,
            format_args!(
                "--max-entries {max}: {} more entries left out ({} passthrough or blocked entries): {}",
                thousands(plan.capped.len() as u64),
                thousands(undeclared),
                counted(plan.capped.iter().cloned())
            ),
        );
    }
    if !plan.skipped.is_empty() || !plan.wide.is_empty() {
        comment(&mut out, "Destinations left out:");
        // The children of a high-cardinality parent: one line per parent, not one each.
        for (parent, kids) in &plan.wide {
            comment(
                &mut out,
                format_args!(
                    "  {} destinations under {parent}: more than --cardinality-threshold names under one parent (DNS tunnelling or a scanner?), review them (pass --include-high-cardinality to write entries): {kids}",
                    thousands(kids.len)
                ),
            );
        }
        let others = &plan.skipped;
        for (k, s, why) in others.iter().take(SKIPPED_SHOWN) {
            comment(
                &mut out,
                format_args!("  {}: {}; {}", dest_title(k), verdicts(s), why.describe()),
            );
        }
        if others.len() > SKIPPED_SHOWN {
            let mut reasons: BTreeMap<&'static str, u64> = BTreeMap::new();
            for (_, _, why) in &others[SKIPPED_SHOWN..] {
                *reasons.entry(why.kind()).or_default() += 1;
            }
            comment(
                &mut out,
                format_args!(
                    "  +{} more destinations left out: {}",
                    thousands((others.len() - SKIPPED_SHOWN) as u64),
                    counted(reasons.into_iter().map(|(r, n)| (r.to_owned(), n)))
                ),
            );
            flush(&mut out, FLUSH)?;
        }
    }
    // Each entry's document is built on its own (a large mesh has tens of thousands), and
    // written in the plan's order as it goes, so the stream is never held whole.
    let mut failed = None;
    for_each_document(plan, summary, |_, d| {
        out.push_str("---\n");
        out.push_str(&d);
        flush(&mut out, FLUSH).map_err(|e| {
            failed = Some(e);
            String::new()
        })
    })
    .map_err(|why| failed.take().unwrap_or_else(|| std::io::Error::other(why)))?;
    flush(&mut out, 0)
}

/// The plan's documents as [`write_yaml`] writes them (each after its `---` line), as many
/// whole ones as fit in `max` bytes, and how many did not fit.
pub fn yaml_prefix(
    plan: &Plan<'_>,
    summary: &Summary,
    max: usize,
) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut shown = 0usize;
    let mut full = false;
    let done = for_each_document(plan, summary, |_, d| {
        if out.len() + d.len() + 4 > max {
            // No more documents are built: the rest are counted.
            full = true;
            return Err(String::new());
        }
        out.push_str("---\n");
        out.push_str(&d);
        shown += 1;
        Ok(())
    });
    match done {
        Err(e) if !full => Err(e),
        _ => Ok((out, plan.entries.len() - shown)),
    }
}

/// Calls `f` with each entry and its document as [`write_yaml`] writes it (without its `---`
/// line), in the plan's order; the documents are built in parallel a chunk at a time, so that
/// they are never held all at once.
pub fn for_each_document<'p>(
    plan: &'p Plan<'_>,
    summary: &Summary,
    mut f: impl FnMut(&'p Recommendation<'_>, String) -> Result<(), String>,
) -> Result<(), String> {
    for_each_document_as(plan, summary, |e, d| Ok((e, d)), |(e, d)| f(e, d))
}

/// [`for_each_document`] with each document turned into what `f` takes by `map`, in parallel
/// as the documents are built (the HTML report encodes each as JSON there).
pub fn for_each_document_as<'p, T: Send>(
    plan: &'p Plan<'_>,
    summary: &Summary,
    map: impl Fn(&'p Recommendation<'_>, String) -> Result<T, String> + Sync,
    mut f: impl FnMut(T) -> Result<(), String>,
) -> Result<(), String> {
    use rayon::prelude::*;
    let checked = &Checked::default();
    for chunk in plan.entries.chunks(1024) {
        let docs: Vec<T> = chunk
            .par_iter()
            .map(|e| map(e, document(e, plan.api_version, summary, checked)?))
            .collect::<Result<_, String>>()?;
        for d in docs {
            f(d)?;
        }
    }
    Ok(())
}

/// What [`validate::document`] found in the manifests written so far, with their namespace
/// left out: per-namespace entries of one host differ only by namespace, and the only rules
/// that read it ([`validate::namespace_error`], [`validate::export_to_namespace_error`]) are
/// checked for each entry: every manifest is checked whole all the same.
#[derive(Default)]
struct Checked<'p> {
    seen: std::sync::Mutex<std::collections::HashMap<ServiceEntry<'p>, Vec<String>>>,
}

impl<'p> Checked<'p> {
    /// Every rule a ServiceEntry breaks: empty when Istio accepts it.
    fn check(&self, manifest: &mut ServiceEntry<'p>) -> Result<Vec<String>, String> {
        let ns = manifest.metadata.namespace.take();
        let errors = self.check_without_namespace(manifest);
        manifest.metadata.namespace = ns;
        let mut errors = errors?;
        if let Some(ns) = ns {
            errors.extend(validate::namespace_error(ns));
            errors.extend(validate::export_to_namespace_error(
                ns,
                &manifest.spec.export_to,
            ));
        }
        Ok(errors)
    }

    fn check_without_namespace(&self, manifest: &ServiceEntry<'p>) -> Result<Vec<String>, String> {
        let known = self
            .seen
            .lock()
            .map_err(|e| e.to_string())?
            .get(manifest)
            .cloned();
        Ok(match known {
            Some(errors) => errors,
            None => {
                let value = serde_json::to_value(manifest).map_err(|err| err.to_string())?;
                let errors = validate::document(&value).unwrap_or_default();
                let mut seen = self.seen.lock().map_err(|e| e.to_string())?;
                // Bounded: a mesh's distinct (host, ports) entries, not its namespaces.
                if seen.len() < 1 << 16 {
                    seen.insert(manifest.clone(), errors.clone());
                }
                errors
            }
        })
    }
}

/// One entry's document after its `---` line: its evidence and the manifest, checked first.
fn document<'p>(
    e: &'p Recommendation<'_>,
    api_version: &'static str,
    summary: &Summary,
    checked: &Checked<'p>,
) -> Result<String, String> {
    let manifest = e.manifest(api_version);
    let mut manifest = manifest;
    let errors = checked.check(&mut manifest)?;
    if !errors.is_empty() {
        return Err(format!(
            "internal error: the ServiceEntry for {} fails validation: {}",
            e.host,
            errors.join("; ")
        ));
    }
    // An entry's evidence and manifest take a kilobyte or two.
    let mut out = String::with_capacity(2048);
    let out = &mut out;
    e.evidence(out, summary);
    let yaml = match &e.merged {
        Some(m) => {
            comment(
                out,
                format_args!(
                    "The existing ServiceEntry {} with what this traffic needs added ({}); every other field is kept as it was.",
                    m.from,
                    if m.added.is_empty() {
                        "nothing: it already declares it for other callers".to_owned()
                    } else {
                        crate::cardinality::capped(&m.added)
                    }
                ),
            );
            serde_saphyr::to_string(&m.value)
        }
        None if manifest.write_yaml(out) => return Ok(std::mem::take(out)),
        None => serde_saphyr::to_string(&manifest),
    }
    .map_err(|err| format!("YAML: {err}"))?;
    out.push_str(&yaml);
    if !yaml.ends_with('\n') {
        out.push('\n');
    }
    Ok(std::mem::take(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(
        name: &'a str,
        namespace: Option<&'a str>,
        host: &'a str,
        address: Option<&str>,
        ports: &[(u16, &str, &'static str)],
        export_to: Vec<&'a str>,
    ) -> ServiceEntry<'a> {
        ServiceEntry {
            api_version: "networking.istio.io/v1",
            kind: "ServiceEntry",
            metadata: Metadata {
                name,
                namespace,
                labels: BTreeMap::from([("app.kubernetes.io/managed-by", "egress-advisor")]),
            },
            spec: Spec {
                hosts: vec![host],
                addresses: address.map(|a| format!("{a}/32")).into_iter().collect(),
                ports: ports
                    .iter()
                    .map(|(number, name, protocol)| Port {
                        number: *number,
                        name: (*name).to_owned(),
                        protocol,
                    })
                    .collect(),
                location: "MESH_EXTERNAL",
                resolution: if address.is_some() { "STATIC" } else { "DNS" },
                endpoints: address
                    .map(|a| Endpoint {
                        address: a.to_owned(),
                    })
                    .into_iter()
                    .collect(),
                export_to,
            },
        }
    }

    /// The hand-written manifest is serde-saphyr's, byte for byte, or not written at all.
    fn same_as_serde_saphyr(e: &ServiceEntry<'_>) -> bool {
        let mut text = String::from("x");
        let fast = e.write_yaml(&mut text);
        let slow = serde_saphyr::to_string(e).unwrap();
        if fast {
            assert_eq!(&text[1..], slow);
        } else {
            assert_eq!(text, "x");
        }
        fast
    }

    #[test]
    fn manifests_are_written_as_serde_saphyr_writes_them() {
        let tls = [(443, "tls-443", "TLS")];
        let two = [(80, "http-80", "HTTP"), (443, "tls-443", "TLS")];
        for e in [
            entry(
                "api.example.com",
                Some("shop"),
                "api.example.com",
                None,
                &tls,
                vec!["."],
            ),
            entry(
                "api.example.com",
                None,
                "api.example.com",
                None,
                &two,
                vec!["."],
            ),
            entry(
                "ip-10-0-0-1",
                Some("ns-1"),
                "ip-10-0-0-1.addr.internal",
                Some("10.0.0.1"),
                &two,
                vec!["."],
            ),
            entry(
                "v6",
                None,
                "v6.internal",
                Some("2001:db8::1"),
                &tls,
                vec!["a", "b"],
            ),
            entry(
                "1password.com",
                Some("true"),
                "1password.com",
                None,
                &tls,
                vec!["."],
            ),
            entry("wild", Some("shop"), "*.example.com", None, &tls, vec!["*"]),
        ] {
            assert!(same_as_serde_saphyr(&e));
        }
        // A string serde-saphyr folds over lines: the whole manifest is its.
        let long = format!("{}.example.com", "a".repeat(80));
        assert!(!same_as_serde_saphyr(&entry(
            &long,
            None,
            &long,
            None,
            &tls,
            vec!["."]
        )));
        assert!(!same_as_serde_saphyr(&entry(
            "x",
            None,
            "x",
            None,
            &[],
            vec!["."]
        )));
        assert!(!same_as_serde_saphyr(&entry(
            "x",
            None,
            "x",
            None,
            &tls,
            vec![]
        )));
    }

    #[test]
    fn checks_without_the_namespace_find_what_the_whole_check_finds() {
        let tls = [(443, "tls-443", "TLS")];
        let tcp = [(5432, "tcp-5432", "TCP")];
        let checked = Checked::default();
        for e in [
            entry(
                "api.example.com",
                Some("shop"),
                "api.example.com",
                None,
                &tls,
                vec!["."],
            ),
            entry(
                "api.example.com",
                Some("Shop!"),
                "api.example.com",
                None,
                &tls,
                vec!["."],
            ),
            entry(
                "api.example.com",
                Some("ci"),
                "api.example.com",
                None,
                &tls,
                vec![".", "ci"],
            ),
            entry(
                "api.example.com",
                Some("ci"),
                "api.example.com",
                None,
                &tcp,
                vec!["."],
            ),
            entry(
                "api.example.com",
                None,
                "api.example.com",
                None,
                &tcp,
                vec!["."],
            ),
            entry("bad_name", Some("shop"), "*", None, &tls, vec!["."]),
            entry("bad_name", Some("x"), "*", None, &tls, vec!["."]),
        ] {
            let whole = validate::document(&serde_json::to_value(&e).unwrap()).unwrap();
            let mut m = e.clone();
            let mut found = checked.check(&mut m).unwrap();
            assert!(m == e, "the manifest is given back as it was");
            let mut whole_sorted = whole.clone();
            whole_sorted.sort();
            found.sort();
            assert_eq!(found, whole_sorted);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_manifest_is_written_as_serde_saphyr_writes_it(
            name in "[a-z0-9.:*' #-]{0,90}",
            ns in proptest::option::of("[a-z0-9 :#'-]{0,20}"),
            host in r"[a-zA-Z0-9.*:\[\]-]{0,100}",
            port_name in "[a-z0-9-]{0,12}",
            export in "[a-z.*~-]{0,10}",
        ) {
            let e = entry(&name, ns.as_deref(), &host, None, &[(8080, &port_name, "HTTP")], vec![&export]);
            same_as_serde_saphyr(&e);
        }
    }

    #[test]
    fn counted_keeps_only_what_it_shows() {
        // Against the list sorted whole: most frequent first, ties by name.
        let naive = |items: &[(&str, u64)]| {
            let mut v: Vec<(String, u64)> =
                items.iter().map(|(k, n)| (k.to_string(), *n)).collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let mut parts: Vec<String> = v
                .iter()
                .take(COUNTED_SHOWN)
                .map(|(k, n)| format!("{k} ({})", thousands(*n)))
                .collect();
            if v.len() > COUNTED_SHOWN {
                parts.push(format!("+{} more", v.len() - COUNTED_SHOWN));
            }
            parts.join(", ")
        };
        let mut items: Vec<(String, u64)> = Vec::new();
        for i in 0..40u64 {
            items.push((format!("h{}", (i * 7919) % 41), (i * 31) % 5));
        }
        items.push(("h3".into(), 4));
        for len in [0, 1, 7, 8, 9, 20, items.len()] {
            let some: Vec<(&str, u64)> = items[..len].iter().map(|(k, n)| (&**k, *n)).collect();
            let got = counted(some.iter().map(|(k, n)| (k.to_string(), *n)));
            assert_eq!(got, naive(&some), "{len} items");
            let mut rev = some.clone();
            rev.reverse();
            assert_eq!(counted(rev.iter().map(|(k, n)| (k.to_string(), *n))), got);
        }
    }

    #[test]
    fn wildcards_stay_within_a_registrable_domain() {
        for ok in [
            "example.co.uk",
            "example.com",
            "my-site.github.io",
            "corp.internal",
        ] {
            assert_eq!(wildcard_parent(ok), Ok(()), "{ok}");
        }
        for public in [
            "com",
            "co.uk",
            "github.io",
            "s3.amazonaws.com",
            "cloudfront.net",
            "googleapis.com",
            "internal",
        ] {
            assert!(wildcard_parent(public).is_err(), "{public}");
        }
    }
}
