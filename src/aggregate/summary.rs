//! The summary of a run: what every line added, and how summaries merge.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::APP_CONTAINERS;
use super::counts::{SourceCount, Timeline, keys, merge_counts, pairs};
use super::keys::{
    DestKey, Hasher_, KeyRef, Location, MeshCall, MeshCallRef, SourceKey, SourceRef,
};
use super::stats::{DestStats, MalformedStats};
use super::store::Destinations;
use crate::classify::{Class, Destination};
use crate::envelope::meta::Label;
use crate::parse::time::Millis;
use crate::parse::{Format, Malformed, Record};

/// Everything one run learned. Built per worker and merged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Bytes read (after decompression).
    pub bytes: u64,
    /// Lines per class; they add up to every line read.
    pub classes: [u64; 11],
    /// Formats recognised in each source (from the entries parsed whole).
    pub formats: BTreeMap<u32, BTreeSet<Format>>,
    pub malformed: BTreeMap<Malformed, MalformedStats>,
    /// Lines in each split of each source: (source, split) -> lines. Turns a [`Location`] into
    /// a line number of its source.
    #[serde(with = "pairs")]
    pub split_lines: BTreeMap<(u32, u32), u64>,
    /// Sources that could not be read, or not to the end: source -> reason.
    pub read_errors: BTreeMap<u32, String>,
    #[serde(with = "pairs")]
    pub destinations: Destinations,
    /// The workloads that made the calls; [`DestStats::sources`] indexes this.
    #[serde(with = "keys")]
    pub sources: IndexMap<SourceKey, (), Hasher_>,
    /// In-mesh calls, when asked for (`recommend --sidecars`): (source, service host) -> entries.
    #[serde(with = "pairs")]
    pub mesh_calls: IndexMap<MeshCall, u64, Hasher_>,
    /// ztunnel access-log lines read (ambient mode), whether read as entries or, when
    /// `--format` names another format, as noise.
    pub ztunnel_lines: u64,
    /// What the ztunnel lines read as entries added, by rule.
    #[serde(default)]
    pub ambient: super::AmbientCounts,
    /// Entry-like lines of application containers, per container name: at most
    /// [`APP_CONTAINERS`] names (the smallest), the count of every line in
    /// `classes[Application]`.
    pub app_containers: BTreeMap<Box<str>, u64>,
    /// Lines whose envelope named a namespace or workload Kubernetes would refuse (the writer
    /// is then unknown), and the first of them.
    pub invalid_sources: u64,
    pub invalid_source_example: Option<Location>,
    /// Entries found after a prefix no known wrapper explains (read with the writer unknown).
    pub unknown_prefix: u64,
    /// Passthrough and blocked entries per minute.
    pub timeline: Timeline,
}

impl Summary {
    pub fn lines(&self) -> u64 {
        self.classes.iter().fold(0, |a, n| a.saturating_add(*n))
    }

    pub fn count(&mut self, class: Class) {
        self.classes[class.index()] += 1;
    }

    /// Notes a line whose envelope named an invalid namespace or workload.
    pub fn invalid_source(&mut self, loc: Location) {
        self.invalid_sources = self.invalid_sources.saturating_add(1);
        self.invalid_source_example = Some(self.invalid_source_example.map_or(loc, |l| l.min(loc)));
    }

    /// Counts an entry-like line that an application container printed.
    pub fn application_line(&mut self, container: &str) {
        self.count(Class::Application);
        if let Some(n) = self.app_containers.get_mut(container) {
            *n = n.saturating_add(1);
        } else if self.app_containers.len() < APP_CONTAINERS
            || self
                .app_containers
                .last_key_value()
                .is_some_and(|(k, _)| **k > *container)
        {
            self.app_containers.insert(container.into(), 1);
            while self.app_containers.len() > APP_CONTAINERS {
                self.app_containers.pop_last();
            }
        }
    }

    pub fn malformed(&mut self, reason: Malformed, loc: Location) {
        self.count(Class::Malformed);
        self.malformed.entry(reason).or_default().note(loc);
    }

    /// Adds one classified entry with a destination.
    /// Counts an in-mesh call of `source` through `cluster`.
    pub fn mesh_call(&mut self, source: u32, cluster: &[u8], rules: &crate::classify::Rules) {
        let Some(host) = crate::classify::mesh_host(cluster, rules) else {
            return;
        };
        let key = MeshCallRef { source, host };
        match self.mesh_calls.get_mut(&key) {
            Some(n) => *n += 1,
            None => {
                if let Ok(h) = std::str::from_utf8(host) {
                    self.mesh_calls.insert(
                        MeshCall {
                            source,
                            host: h.to_ascii_lowercase().into(),
                        },
                        1,
                    );
                }
            }
        }
    }

    /// The index of a source, added when new.
    pub fn source_id(&mut self, namespace: &str, workload: &str, label: Option<Label>) -> u32 {
        let r = SourceRef {
            namespace,
            workload,
            label,
        };
        match self.sources.get_index_of(&r) {
            Some(i) => i as u32,
            None => {
                let key = SourceKey {
                    namespace: namespace.into(),
                    workload: workload.into(),
                    label,
                };
                self.sources.insert_full(key, ()).0 as u32
            }
        }
    }

    /// Adds one classified entry with a destination, made by source `source`.
    pub fn destination(&mut self, class: Class, d: &Destination<'_>, r: &Record<'_>, source: u32) {
        self.count(class);
        let mut buf = [0u8; 48];
        let (name, is_address) = match (&d.host, d.address) {
            (Some(h), _) => (&**h, false),
            (None, Some(ip)) => (crate::parse::addr::write_ip(ip, &mut buf), true),
            (None, None) => unreachable!("classify gives a host or an address"),
        };
        let key = KeyRef {
            name,
            is_address,
            port: d.port,
            protocol: d.protocol,
        };
        let stats = match self.destinations.get_mut_ref(key) {
            Some(s) => s,
            None => {
                let owned = DestKey {
                    name: name.into(),
                    is_address,
                    port: d.port,
                    protocol: d.protocol,
                };
                self.destinations.entry_or_default(owned)
            }
        };
        if let Some(name) = d.claimed.as_deref() {
            stats.claim(name);
        }
        let last_seen = stats.add(d.verdict, class, d.category, r, d.address);
        if let Some(t) = last_seen
            && matches!(class, Class::Passthrough | Class::Blocked)
        {
            self.timeline.add(t, class == Class::Blocked);
        }
        stats.sources.add(
            source,
            SourceCount {
                all: 1,
                passthrough: u64::from(class == Class::Passthrough),
                blocked: u64::from(class == Class::Blocked),
                uploaded: r.bytes_received,
                downloaded: r.bytes_sent,
                first_seen: last_seen,
                last_seen,
            },
        );
    }

    pub fn merge(&mut self, mut o: Summary) {
        // Source indexes are per summary: move `o`'s onto ours first.
        let remap: Vec<u32> = o
            .sources
            .keys()
            .map(|k| self.source_id(&k.namespace, &k.workload, k.label))
            .collect();
        if remap.iter().enumerate().any(|(i, j)| i as u32 != *j) {
            for st in o.destinations.values_mut() {
                st.sources = st.sources.remap(&remap);
            }
        }
        for (mut k, n) in std::mem::take(&mut o.mesh_calls) {
            k.source = remap[k.source as usize];
            let e = self.mesh_calls.entry(k).or_default();
            *e = e.saturating_add(n);
        }
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.ztunnel_lines = self.ztunnel_lines.saturating_add(o.ztunnel_lines);
        self.ambient.merge(std::mem::take(&mut o.ambient));
        merge_counts(
            &mut self.app_containers,
            std::mem::take(&mut o.app_containers),
        );
        while self.app_containers.len() > APP_CONTAINERS {
            self.app_containers.pop_last();
        }
        self.invalid_sources = self.invalid_sources.saturating_add(o.invalid_sources);
        self.unknown_prefix = self.unknown_prefix.saturating_add(o.unknown_prefix);
        self.invalid_source_example = match (self.invalid_source_example, o.invalid_source_example)
        {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.timeline.merge(std::mem::take(&mut o.timeline));
        for (a, b) in self.classes.iter_mut().zip(o.classes) {
            *a = a.saturating_add(b);
        }
        for (k, v) in o.formats {
            self.formats.entry(k).or_default().extend(v);
        }
        for (k, v) in o.malformed {
            self.malformed.entry(k).or_default().merge(v);
        }
        merge_counts(&mut self.split_lines, o.split_lines);
        for (k, v) in o.read_errors {
            // Two ranges of one file may fail differently: keep one, whatever the merge order.
            let e = self.read_errors.entry(k).or_insert_with(|| v.clone());
            if v < *e {
                *e = v;
            }
        }
        let (big, small) = if self.destinations.len() >= o.destinations.len() {
            (&mut self.destinations, o.destinations)
        } else {
            let mine = std::mem::replace(&mut self.destinations, o.destinations);
            (&mut self.destinations, mine)
        };
        // Taken from the end a chunk at a time, each freed once moved, so that the two sides
        // together never hold much more than the merged one (with millions of destinations, a
        // second full copy would double the peak).
        let mut chunks = small.into_chunks();
        while let Some(mut chunk) = chunks.pop() {
            while let Some((k, v)) = chunk.pop() {
                big.merge_one(k, v);
            }
        }
    }

    /// The line number of a location within its source.
    pub fn line_number(&self, loc: Location) -> u64 {
        let before: u64 = self
            .split_lines
            .range((loc.source, 0)..(loc.source, loc.split))
            .fold(0u64, |a, (_, n)| a.saturating_add(*n));
        before.saturating_add(loc.line)
    }

    /// Destinations in a stable order: by key.
    pub fn sorted_destinations(&self) -> Vec<(&DestKey, &DestStats)> {
        let mut v = Vec::with_capacity(self.destinations.len());
        v.extend(self.destinations.iter());
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// The same summary in a canonical order (writers, destinations and in-mesh calls sorted),
    /// so that it serializes to the same bytes however the work was split.
    pub fn canonical(mut self) -> Summary {
        let mut order: Vec<usize> = (0..self.sources.len()).collect();
        order.sort_by(|a, b| self.sources.get_index(*a).cmp(&self.sources.get_index(*b)));
        let mut to = vec![0u32; order.len()];
        for (new, old) in order.iter().enumerate() {
            to[*old] = new as u32;
        }
        let sources: IndexMap<SourceKey, (), Hasher_> = order
            .iter()
            .filter_map(|i| self.sources.get_index(*i).map(|(k, _)| (k.clone(), ())))
            .collect();
        let mut destinations: Vec<(DestKey, DestStats)> = std::mem::take(&mut self.destinations)
            .into_iter()
            .map(|(k, mut v)| {
                v.sources = v.sources.remap(&to);
                (k, v)
            })
            .collect();
        destinations.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut mesh_calls: Vec<(MeshCall, u64)> = std::mem::take(&mut self.mesh_calls)
            .into_iter()
            .map(|(mut k, n)| {
                k.source = to[k.source as usize];
                (k, n)
            })
            .collect();
        mesh_calls.sort_unstable();
        Summary {
            sources,
            destinations: destinations.into_iter().collect(),
            mesh_calls: mesh_calls.into_iter().collect(),
            ..self
        }
    }

    /// Renumbers the inputs (files) this summary refers to: input `i` becomes `to[i]`.
    pub fn renumber_inputs(&mut self, to: &[u32]) {
        let map = |i: u32| to.get(i as usize).copied().unwrap_or(i);
        if let Some(l) = self.invalid_source_example.as_mut() {
            l.source = map(l.source);
        }
        if let Some(l) = self.ambient.failed_example.as_mut() {
            l.source = map(l.source);
        }
        self.formats = std::mem::take(&mut self.formats)
            .into_iter()
            .map(|(k, v)| (map(k), v))
            .collect();
        for m in self.malformed.values_mut() {
            for l in &mut m.examples {
                l.source = map(l.source);
            }
            m.examples.sort_unstable();
        }
        self.split_lines = std::mem::take(&mut self.split_lines)
            .into_iter()
            .map(|((s, p), n)| ((map(s), p), n))
            .collect();
        self.read_errors = std::mem::take(&mut self.read_errors)
            .into_iter()
            .map(|(k, v)| (map(k), v))
            .collect();
    }

    /// Why a summary read from a file cannot be trusted: an index that points nowhere (`inputs`
    /// is the number of input files it covers), or a count no run reaches (over 2^50, so that
    /// sums over thousands of merged partials stay far from overflowing).
    pub fn inconsistency(&self, inputs: usize) -> Option<String> {
        // Byte counts are summed saturating everywhere, so they may hold anything.
        const LIMIT: u64 = 1 << 50;
        let big = |n: &u64| *n > LIMIT;
        let time_ok = |t: &Option<Millis>| {
            t.is_none_or(|t| {
                (crate::parse::time::MIN_MILLIS..=crate::parse::time::MAX_MILLIS).contains(&t)
            })
        };
        let dest_big = |v: &DestStats| {
            [v.passthrough, v.blocked, v.registered, v.internal]
                .iter()
                .any(big)
                || !time_ok(&v.first_seen)
                || !time_ok(&v.last_seen)
                || v.codes.iter().any(|(_, n)| big(&n))
                || v.addresses.iter().any(|(_, n)| big(&n))
                || v.flags.values().any(big)
                || v.attributed.values().any(big)
                || v.sources.iter().any(|(_, c)| {
                    [c.all, c.passthrough, c.blocked].iter().any(big)
                        || c.passthrough.saturating_add(c.blocked) > c.all
                        || !time_ok(&c.last_seen)
                })
        };
        let minutes = self
            .timeline
            .hot
            .iter()
            .map(|(m, c)| (m, c))
            .chain(self.timeline.rest.iter());
        let mut timeline_bad = false;
        for (m, c) in minutes {
            let ms = m.checked_mul(60_000);
            timeline_bad |= ms.is_none() || !time_ok(&ms) || big(&c[0]) || big(&c[1]);
        }
        if big(&self.ztunnel_lines)
            || self.ambient.flows.iter().any(big)
            || timeline_bad
            || self.classes.iter().any(big)
            || self.destinations.values().any(dest_big)
            || self.mesh_calls.values().any(big)
            || self.split_lines.values().any(big)
            || self.malformed.values().any(|m| big(&m.count))
        {
            return Some(
                "a count or time beyond any run's (or a writer with more undeclared entries than entries)"
                    .into(),
            );
        }
        let writers = self.sources.len();
        let input_ok = |i: u32| (i as usize) < inputs;
        if let Some((k, _)) = self
            .destinations
            .iter()
            .find(|(_, v)| v.sources.iter().any(|(i, _)| i as usize >= writers))
        {
            return Some(format!("destination {} names an unknown writer", k.name));
        }
        if self.mesh_calls.keys().any(|c| c.source as usize >= writers) {
            return Some("an in-mesh call names an unknown writer".into());
        }
        let bad_input = self.formats.keys().any(|i| !input_ok(*i))
            || self.read_errors.keys().any(|i| !input_ok(*i))
            || self.split_lines.keys().any(|(i, _)| !input_ok(*i))
            || self
                .ambient
                .failed_example
                .is_some_and(|l| !input_ok(l.source))
            || self
                .malformed
                .values()
                .any(|m| m.examples.iter().any(|l| !input_ok(l.source)));
        bad_input.then(|| format!("an index beyond its {inputs} inputs"))
    }
}
