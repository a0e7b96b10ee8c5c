//! The report as data: what `analyze -o json` prints (a contract other tools rely on, see the
//! README) and what the table and CSV are drawn from.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::aggregate::{DestKey, DestStats, Run, Summary};
pub use crate::aggregate::{SourceUse, sources_from, sources_of};
use crate::classify::Class;
use crate::config::Selection;
use crate::parse::time::format_millis;
use crate::recommend;

#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub input: Input,
    pub lines: Lines,
    pub malformed: Vec<MalformedOut>,
    pub read_errors: Vec<ReadError<'a>>,
    pub sources: Vec<SourceOut<'a>>,
    pub destinations: Rows<'a>,
    /// Findings on the `--existing` ServiceEntries; empty without them.
    pub audit: Vec<crate::audit::Finding>,
    /// Registrable domains and networks with more than `--cardinality-threshold` children.
    pub high_cardinality: Vec<crate::cardinality::Finding>,
    /// Lines whose envelope named a namespace or workload Kubernetes would refuse: their
    /// writer is taken as unknown.
    pub invalid_sources: InvalidSources,
    /// Entries found after a prefix no known log wrapper explains: read, their writer unknown.
    pub unknown_prefix: u64,
    /// ztunnel's lines (ambient mode), by the rule that judged them; absent when none was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ambient: Option<AmbientOut<'a>>,
}

/// What `analyze -o json` says of ztunnel's lines. Each is also counted in `lines`.
#[derive(Debug, Serialize)]
pub struct AmbientOut<'a> {
    /// Outbound to an address nothing in the mesh matched (counted as `passthrough`).
    pub passthrough: u64,
    /// Outbound to a ServiceEntry host without a waypoint (counted as `registered`).
    pub service_entry: u64,
    /// Outbound through a waypoint (counted as `registered`).
    pub waypoint: u64,
    pub internal: u64,
    /// Written by the server's ztunnel: never counted as a destination's connection.
    pub inbound: u64,
    /// `connection failed`: refused before any metadata (counted as `unknown`).
    pub failed: u64,
    /// `path:line` of the first failed connection.
    pub failed_example: Option<String>,
    /// `connection opened` (debug level): ignored, counted as `noise`.
    pub opened: u64,
    pub unknown: u64,
    /// Callers' principals (`<trust domain>/ns/<ns>/sa/<sa>`) on egress connections, and the
    /// workloads that used them.
    pub principals: BTreeMap<&'a str, Vec<&'a str>>,
    /// With `--pods`: the service accounts (`<namespace>/<sa>`) of egress connections whose
    /// line carried no identity, and the workloads that used them.
    pub service_accounts: BTreeMap<&'a str, Vec<&'a str>>,
}

#[derive(Debug, Serialize)]
pub struct InvalidSources {
    pub lines: u64,
    /// `path:line` of the first.
    pub example: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Input {
    /// Sources read (files and stdin).
    pub files: u64,
    pub lines: u64,
    /// Bytes read, after decompression.
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct Lines {
    pub passthrough: u64,
    pub blocked: u64,
    pub registered: u64,
    pub internal: u64,
    pub inbound: u64,
    pub unknown: u64,
    pub noise: u64,
    pub malformed: u64,
    /// CRI partial lines, read together with the line that ends them.
    pub partial: u64,
    /// Outbound entries outside the `--since` / `--until` window.
    pub outside: u64,
    /// Entry-like lines printed by application containers: never counted as traffic.
    pub application: u64,
}

#[derive(Debug, Serialize)]
pub struct MalformedOut {
    pub reason: &'static str,
    pub description: &'static str,
    pub count: u64,
    /// `path:line` of the first lines with this reason.
    pub examples: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ReadError<'a> {
    pub path: &'a str,
    pub reason: &'a str,
}

#[derive(Debug, Serialize)]
pub struct SourceOut<'a> {
    pub path: &'a str,
    /// Formats recognised in it.
    pub formats: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Dest<'a> {
    pub host: Option<&'a str>,
    pub address: Option<&'a str>,
    pub port: u16,
    pub protocol: &'static str,
    pub category: &'static str,
    /// Whether `recommend` writes a ServiceEntry for it.
    pub recommended: bool,
    /// Every attempt was refused, none got through: to review before allowing it.
    pub blocked_only: bool,
    /// Why not, when it does not.
    pub skip_reason: Option<String>,
    /// The existing ServiceEntry (`namespace/name`, from `--existing`) that covers it for
    /// every namespace that called it; null when none does or no config was given.
    pub covered_by: Option<String>,
    pub lines: u64,
    pub passthrough: u64,
    pub blocked: u64,
    pub registered: u64,
    pub internal: u64,
    /// Bytes the workloads uploaded (`%BYTES_RECEIVED%`; HTTP: body bytes).
    pub bytes_uploaded: u64,
    /// Bytes the workloads downloaded (`%BYTES_SENT%`; HTTP: body bytes).
    pub bytes_downloaded: u64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Written as text (`"1.2.3.4"`), in address order.
    pub addresses: Vec<std::net::IpAddr>,
    pub response_codes: ResponseCodes,
    pub response_flags: BTreeMap<&'a str, u64>,
    /// Address-only entries folded into this host: address -> entries.
    pub attributed: BTreeMap<String, u64>,
    /// Hosts seen elsewhere on this destination's address.
    pub seen_as: Vec<&'a str>,
    /// Who made the calls, most entries first.
    pub sources: Vec<SourceUse<'a>>,
    #[serde(skip)]
    pub key: &'a DestKey,
    #[serde(skip)]
    pub stats: &'a DestStats,
}

/// Entries per response code, written as a JSON object keyed by the code as text, in the
/// keys' text order (`"0"`, `"200"`, `"503"`). A sorted list: a destination has few codes.
#[derive(Debug)]
pub struct ResponseCodes(Vec<(String, u64)>);

impl ResponseCodes {
    fn new(codes: impl Iterator<Item = (u16, u64)>) -> Self {
        let mut codes: Vec<(String, u64)> = codes.map(|(c, n)| (c.to_string(), n)).collect();
        codes.sort_unstable();
        ResponseCodes(codes)
    }
}

impl Serialize for ResponseCodes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(c, n)| (c, n)))
    }
}

/// The destination rows, in the stable order (by key), built when they are read: a run with
/// millions of destinations holds two references per destination here, not the rows. Rows are
/// built a chunk at a time, in parallel.
#[derive(Debug)]
pub struct Rows<'a> {
    summary: &'a Summary,
    sel: Selection,
    keys: Vec<(&'a DestKey, &'a DestStats)>,
}

/// Rows built at once when reading them.
const CHUNK: usize = 4096;

impl<'a> Rows<'a> {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The rows, in the stable order.
    pub fn iter(&self) -> impl Iterator<Item = Dest<'a>> + '_ {
        self.keys
            .chunks(CHUNK)
            .flat_map(|c| self.build(c.par_iter().copied()))
    }

    /// The rows in the order of `order` (indexes into the stable order), a chunk at a time.
    pub fn chunks_in<'o>(&'o self, order: &'o [u32]) -> impl Iterator<Item = Vec<Dest<'a>>> + 'o {
        order
            .chunks(CHUNK)
            .map(|c| self.build(c.par_iter().map(|i| self.keys[*i as usize])))
    }

    /// Indexes into the stable order, sorted with `cmp` on the destinations.
    pub fn order_by(
        &self,
        cmp: impl Fn((&DestKey, &DestStats), (&DestKey, &DestStats)) -> std::cmp::Ordering + Sync,
    ) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.keys.len() as u32).collect();
        order.par_sort_by(|a, b| cmp(self.keys[*a as usize], self.keys[*b as usize]));
        order
    }

    /// How many rows are recommended (`recommend` writes an entry for them).
    pub fn recommended(&self) -> usize {
        self.keys
            .par_iter()
            .filter(|(k, st)| recommend::eligibility(self.summary, k, st, &self.sel).is_ok())
            .count()
    }

    fn build(
        &self,
        keys: impl IndexedParallelIterator<Item = (&'a DestKey, &'a DestStats)>,
    ) -> Vec<Dest<'a>> {
        let (s, sel) = (self.summary, &self.sel);
        keys.map(|(k, st)| Dest::new(s, sel, k, st)).collect()
    }
}

impl<'r, 'a> IntoIterator for &'r Rows<'a> {
    type Item = Dest<'a>;
    type IntoIter = Box<dyn Iterator<Item = Dest<'a>> + 'r>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Written as a list, a chunk of rows at a time.
impl Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for d in self.iter() {
            seq.serialize_element(&d)?;
        }
        seq.end()
    }
}

impl<'a> Dest<'a> {
    fn new(s: &'a Summary, sel: &Selection, k: &'a DestKey, st: &'a DestStats) -> Dest<'a> {
        let skip = recommend::eligibility(s, k, st, sel).err();
        Dest {
            host: (!k.is_address).then_some(&*k.name),
            address: k.is_address.then_some(&*k.name),
            port: k.port,
            protocol: k.protocol.istio_name(),
            category: st.category.map_or("external", |c| c.name()),
            recommended: skip.is_none(),
            blocked_only: st.blocked_only(),
            skip_reason: skip.map(|s| s.describe()),
            covered_by: recommend::covered_by(s, k, st, sel, false),
            lines: st.lines(),
            passthrough: st.passthrough,
            blocked: st.blocked,
            registered: st.registered,
            internal: st.internal,
            bytes_uploaded: st.bytes_uploaded,
            bytes_downloaded: st.bytes_downloaded,
            first_seen: st.first_seen.map(format_millis),
            last_seen: st.last_seen.map(format_millis),
            addresses: {
                let mut a: Vec<_> = st.addresses.iter().map(|(a, _)| a).collect();
                a.sort_unstable();
                a
            },
            response_codes: ResponseCodes::new(st.codes.iter()),
            response_flags: st.flags.iter().map(|(f, n)| (&**f, *n)).collect(),
            attributed: st
                .attributed
                .iter()
                .map(|(a, n)| (a.to_string(), *n))
                .collect(),
            seen_as: st.seen_as.iter().map(|h| &**h).collect(),
            sources: sources_of(s, st),
            key: k,
            stats: st,
        }
    }
}

impl<'a> Report<'a> {
    pub fn build(run: &'a Run, sel: &Selection) -> Report<'a> {
        let s = &run.summary;
        let c = |class: Class| s.classes[class.index()];
        let destinations = Rows {
            summary: s,
            sel: sel.clone(),
            keys: s.sorted_destinations(),
        };
        Report {
            input: Input {
                files: run.sources.len() as u64,
                lines: s.lines(),
                bytes: s.bytes,
            },
            lines: Lines {
                passthrough: c(Class::Passthrough),
                blocked: c(Class::Blocked),
                registered: c(Class::Registered),
                internal: c(Class::Internal),
                inbound: c(Class::Inbound),
                unknown: c(Class::Unknown),
                noise: c(Class::Noise),
                malformed: c(Class::Malformed),
                partial: c(Class::Partial),
                outside: c(Class::Outside),
                application: c(Class::Application),
            },
            malformed: s
                .malformed
                .iter()
                .map(|(m, st)| MalformedOut {
                    reason: m.key(),
                    description: m.describe(),
                    count: st.count,
                    examples: st.examples.iter().map(|l| run.locate(*l)).collect(),
                })
                .collect(),
            read_errors: s
                .read_errors
                .iter()
                .map(|(i, r)| ReadError {
                    path: run.source_name(*i),
                    reason: r,
                })
                .collect(),
            sources: run
                .sources
                .iter()
                .enumerate()
                .map(|(i, src)| SourceOut {
                    path: &src.name,
                    formats: s
                        .formats
                        .get(&(i as u32))
                        .map_or_else(Vec::new, |f| f.iter().map(|f| f.name()).collect()),
                })
                .collect(),
            destinations,
            audit: sel
                .existing
                .as_deref()
                .map(|e| crate::audit::audit(e, s, &sel.validate))
                .unwrap_or_default(),
            high_cardinality: sel.high_cardinality.findings.clone(),
            unknown_prefix: s.unknown_prefix,
            ambient: (!s.ambient.is_empty()).then(|| {
                use crate::ambient::Flow;
                let a = &s.ambient;
                AmbientOut {
                    passthrough: a.get(Flow::Passthrough),
                    service_entry: a.get(Flow::ServiceEntry),
                    waypoint: a.get(Flow::Waypoint),
                    internal: a.get(Flow::InMesh),
                    inbound: a.get(Flow::Inbound),
                    failed: a.get(Flow::Failed),
                    failed_example: a.failed_example.map(|l| run.locate(l)),
                    opened: a.get(Flow::Opened),
                    unknown: a.get(Flow::Unknown),
                    principals: a
                        .principals
                        .iter()
                        .map(|(p, w)| (&**p, w.iter().map(|w| &**w).collect()))
                        .collect(),
                    service_accounts: a
                        .accounts
                        .iter()
                        .map(|(p, w)| (&**p, w.iter().map(|w| &**w).collect()))
                        .collect(),
                }
            }),
            invalid_sources: InvalidSources {
                lines: s.invalid_sources,
                example: s.invalid_source_example.map(|l| run.locate(l)),
            },
        }
    }
}
