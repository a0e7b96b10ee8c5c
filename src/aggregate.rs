//! Aggregate stage: per-destination statistics and the accounting of every line read.
//!
//! Everything here is a mergeable value: `Default` is the identity and `merge` is associative
//! and commutative, so one thread, many threads and many files in any order give the same
//! [`Summary`]. Examples of malformed lines keep the smallest locations, not the first seen.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use indexmap::{Equivalent, IndexMap};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::classify::{Category, Class, Destination, Protocol, Verdict};
use crate::envelope::meta::Label;
use crate::parse::time::{Millis, parse_rfc3339};
use crate::parse::{Format, Malformed, Record};

/// How many example locations each malformed reason keeps.
pub const EXAMPLES: usize = 5;

/// How many application container names [`Summary::app_containers`] keeps.
pub const APP_CONTAINERS: usize = 16;

/// How many names a destination keeps in [`DestStats::seen_as`].
pub const SEEN_AS: usize = 16;

/// Identifies a destination: host name (or address text), port and protocol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DestKey {
    /// Lower-case host name, or the canonical text of the address.
    pub name: Box<str>,
    /// True when `name` is an address.
    pub is_address: bool,
    pub port: u16,
    pub protocol: Protocol,
}

/// Borrowed form of [`DestKey`] for lookups that must not allocate.
#[derive(Debug, Clone, Copy)]
struct KeyRef<'a> {
    name: &'a str,
    is_address: bool,
    port: u16,
    protocol: Protocol,
}

impl Hash for DestKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        KeyRef {
            name: &self.name,
            is_address: self.is_address,
            port: self.port,
            protocol: self.protocol,
        }
        .hash(h)
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.name.hash(h);
        self.is_address.hash(h);
        self.port.hash(h);
        self.protocol.hash(h);
    }
}

impl Equivalent<DestKey> for KeyRef<'_> {
    fn equivalent(&self, k: &DestKey) -> bool {
        *self.name == *k.name
            && self.is_address == k.is_address
            && self.port == k.port
            && self.protocol == k.protocol
    }
}

/// A workload that made calls: namespace and workload name, empty when unknown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct SourceKey {
    pub namespace: Box<str>,
    pub workload: Box<str>,
    /// The pod label the workload name came from, when it did: a workloadSelector can select it.
    pub label: Option<Label>,
}

#[derive(Hash)]
struct SourceRef<'a> {
    namespace: &'a str,
    workload: &'a str,
    label: Option<Label>,
}

impl Hash for SourceKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        SourceRef {
            namespace: &self.namespace,
            workload: &self.workload,
            label: self.label,
        }
        .hash(h)
    }
}

impl Equivalent<SourceKey> for SourceRef<'_> {
    fn equivalent(&self, k: &SourceKey) -> bool {
        *self.namespace == *k.namespace && *self.workload == *k.workload && self.label == k.label
    }
}

/// A collection most destinations never fill: 8 bytes (a null pointer) while empty, boxed once
/// it holds something. Reads see the collection itself (an empty one while unset).
#[derive(Clone)]
pub struct Rare<M>(Option<Box<M>>);

/// The collections [`Rare`] holds, each with a shared empty value to read when unset.
pub trait RareCollection: Default + 'static {
    fn empty() -> &'static Self;
    fn holds_nothing(&self) -> bool;
}

macro_rules! rare_collection {
    ($($t:ty),*) => {$(
        impl RareCollection for $t {
            fn empty() -> &'static Self {
                static EMPTY: $t = <$t>::new();
                &EMPTY
            }
            fn holds_nothing(&self) -> bool {
                self.is_empty()
            }
        }
    )*};
}

rare_collection!(
    BTreeMap<Box<str>, u64>,
    BTreeMap<IpAddr, u64>,
    BTreeSet<Box<str>>
);

impl<M> Default for Rare<M> {
    fn default() -> Self {
        Rare(None)
    }
}

impl<M: RareCollection> Rare<M> {
    /// The collection, to change it (boxed now if it was not).
    pub fn get_mut(&mut self) -> &mut M {
        self.0.get_or_insert_default()
    }

    pub fn into_inner(self) -> M {
        self.0.map(|b| *b).unwrap_or_default()
    }
}

impl<M: RareCollection> From<M> for Rare<M> {
    fn from(m: M) -> Self {
        Rare((!m.holds_nothing()).then(|| Box::new(m)))
    }
}

impl<M: RareCollection> std::ops::Deref for Rare<M> {
    type Target = M;

    fn deref(&self) -> &M {
        match self.0.as_deref() {
            Some(m) => m,
            None => M::empty(),
        }
    }
}

impl<M: RareCollection + PartialEq> PartialEq for Rare<M> {
    fn eq(&self, o: &Self) -> bool {
        **self == **o
    }
}

impl<M: RareCollection + Eq> Eq for Rare<M> {}

impl<M: RareCollection + std::fmt::Debug> std::fmt::Debug for Rare<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<M: RareCollection + Serialize> Serialize for Rare<M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de, M: RareCollection + Deserialize<'de>> Deserialize<'de> for Rare<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        M::deserialize(d).map(Rare::from)
    }
}

impl<'a, K: 'a, V: 'a> IntoIterator for &'a Rare<BTreeMap<K, V>>
where
    BTreeMap<K, V>: RareCollection,
{
    type Item = (&'a K, &'a V);
    type IntoIter = std::collections::btree_map::Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        (**self).iter()
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for Rare<BTreeMap<K, V>>
where
    BTreeMap<K, V>: RareCollection,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(i: I) -> Self {
        Rare::from(i.into_iter().collect::<BTreeMap<K, V>>())
    }
}

/// Counts per key. Most destinations see one response code and one address, so the first key
/// is kept inline: counting it touches no other memory (a BTreeMap node per destination is a
/// cache miss on the hot path).
#[derive(Debug, Clone)]
pub struct Counts<K> {
    /// The inline key and its count (apart, so that `Option<u16>`'s tag packs with the key).
    hot: Option<K>,
    hot_n: u64,
    /// Never holds the `hot` key; boxed (8 bytes, not 24), as most destinations never
    /// need it.
    #[allow(clippy::box_collection)]
    rest: Option<Box<BTreeMap<K, u64>>>,
}

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts {
            hot: None,
            hot_n: 0,
            rest: None,
        }
    }
}

impl<K: Ord + Copy> Counts<K> {
    pub fn bump(&mut self, k: K) {
        self.add(k, 1);
    }

    fn add(&mut self, k: K, n: u64) {
        match self.hot {
            Some(h) if h == k => self.hot_n = self.hot_n.saturating_add(n),
            None => (self.hot, self.hot_n) = (Some(k), n),
            Some(_) => bump_by(self.rest.get_or_insert_default(), k, n),
        }
    }

    pub fn merge(&mut self, o: Counts<K>) {
        for (k, n) in o.iter() {
            self.add(k, n);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.hot.is_none()
    }

    /// (key, count), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (K, u64)> + '_ {
        self.hot.map(|k| (k, self.hot_n)).into_iter().chain(
            self.rest
                .iter()
                .flat_map(|r| r.iter())
                .map(|(k, v)| (*k, *v)),
        )
    }

    /// The counts in key order.
    pub fn sorted(&self) -> BTreeMap<K, u64> {
        self.iter().collect()
    }
}

impl<K: Ord + Copy> PartialEq for Counts<K> {
    fn eq(&self, o: &Self) -> bool {
        self.sorted() == o.sorted()
    }
}

impl<K: Ord + Copy> Eq for Counts<K> {}

/// Counts are written in key order, as `[key, count]` pairs.
impl<K: Ord + Copy + Serialize> Serialize for Counts<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.sorted())
    }
}

impl<'de, K: Ord + Copy + Deserialize<'de>> Deserialize<'de> for Counts<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut c = Counts::default();
        for (k, n) in Vec::<(K, u64)>::deserialize(d)? {
            c.add(k, n);
        }
        Ok(c)
    }
}

/// Written in source order, as `[source, counts]` pairs.
impl Serialize for SourceCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.sorted())
    }
}

impl<'de> Deserialize<'de> for SourceCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut c = SourceCounts::default();
        for (k, n) in Vec::<(u32, SourceCount)>::deserialize(d)? {
            c.add(k, n);
        }
        Ok(c)
    }
}

/// Written as `[minute start in ms, passthrough, blocked]` triples, in time order.
impl Serialize for Timeline {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.minutes())
    }
}

impl<'de> Deserialize<'de> for Timeline {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut t = Timeline::default();
        for (ms, p, b) in Vec::<(Millis, u64, u64)>::deserialize(d)? {
            let e = t.rest.entry(ms.div_euclid(60_000)).or_default();
            e[0] = e[0].saturating_add(p);
            e[1] = e[1].saturating_add(b);
        }
        Ok(t)
    }
}

/// Maps whose keys are not strings, written as lists of `[key, value]` pairs.
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<'a, M, K, V, S>(m: &'a M, s: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + 'a,
        V: Serialize + 'a,
        S: Serializer,
    {
        s.collect_seq(m)
    }

    pub fn deserialize<'de, M, K, V, D>(d: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

/// Sets kept as maps to `()`, written as lists of keys.
mod keys {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<'a, M, K, S>(m: &'a M, s: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a ())>,
        K: Serialize + 'a,
        S: Serializer,
    {
        s.collect_seq(m.into_iter().map(|(k, _)| k))
    }

    pub fn deserialize<'de, M, K, D>(d: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, ())>,
        K: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<K>::deserialize(d)?
            .into_iter()
            .map(|k| (k, ()))
            .collect())
    }
}

fn bump_by<K: Ord>(map: &mut BTreeMap<K, u64>, k: K, n: u64) {
    match map.get_mut(&k) {
        Some(c) => *c = c.saturating_add(n),
        None => {
            map.insert(k, n);
        }
    }
}

/// Entries of one source to one destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCount {
    pub all: u64,
    /// Entries sent to `PassthroughCluster`.
    pub passthrough: u64,
    /// Entries refused by the mesh.
    pub blocked: u64,
    /// Bytes the source uploaded (`%BYTES_RECEIVED%`).
    pub uploaded: u64,
    /// Bytes the source downloaded (`%BYTES_SENT%`).
    pub downloaded: u64,
    /// Earliest `%START_TIME%` of this source's entries.
    pub first_seen: Option<Millis>,
    /// Latest `%START_TIME%` of this source's entries.
    pub last_seen: Option<Millis>,
}

impl SourceCount {
    fn add(&mut self, o: SourceCount) {
        self.all = self.all.saturating_add(o.all);
        self.passthrough = self.passthrough.saturating_add(o.passthrough);
        self.blocked = self.blocked.saturating_add(o.blocked);
        self.uploaded = self.uploaded.saturating_add(o.uploaded);
        self.downloaded = self.downloaded.saturating_add(o.downloaded);
        self.first_seen = min_opt(self.first_seen, o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
    }

    /// Bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.uploaded.saturating_add(self.downloaded)
    }

    /// Entries that went, or tried to go, to an undeclared destination.
    pub fn undeclared(&self) -> u64 {
        self.passthrough.saturating_add(self.blocked)
    }
}

/// Entries per source. Most destinations are called by one workload per split, so the first
/// source is kept inline: counting it touches no other memory.
#[derive(Debug, Clone, Default)]
pub struct SourceCounts {
    hot: Option<u32>,
    /// The counts of `hot`.
    hot_counts: Compact,
    /// Never holds the `hot` source; boxed (8 bytes, not 24), as most destinations never
    /// need it. A source whose counts outgrow [`Compact`] moves here.
    #[allow(clippy::box_collection)]
    rest: Option<Box<BTreeMap<u32, SourceCount>>>,
}

/// A [`SourceCount`] in 32 bytes rather than 72, for counts and bytes below 2^32 and a last
/// time less than 2^32 ms (49 days) after the first: those of nearly every destination.
#[derive(Debug, Clone, Copy, Default)]
struct Compact {
    first_seen: Millis,
    all: u32,
    passthrough: u32,
    blocked: u32,
    uploaded: u32,
    downloaded: u32,
    /// `last_seen - first_seen`; [`Compact::NO_TIME`] when neither is known.
    span: u32,
}

impl Compact {
    const NO_TIME: u32 = u32::MAX;

    /// `None` when the counts do not fit.
    fn pack(c: SourceCount) -> Option<Self> {
        let (first_seen, span) = match (c.first_seen, c.last_seen) {
            (None, None) => (0, Self::NO_TIME),
            (Some(f), Some(l)) => {
                let span = u32::try_from(l.checked_sub(f)?).ok()?;
                (f, (span != Self::NO_TIME).then_some(span)?)
            }
            _ => return None,
        };
        Some(Compact {
            first_seen,
            all: c.all.try_into().ok()?,
            passthrough: c.passthrough.try_into().ok()?,
            blocked: c.blocked.try_into().ok()?,
            uploaded: c.uploaded.try_into().ok()?,
            downloaded: c.downloaded.try_into().ok()?,
            span,
        })
    }

    fn unpack(self) -> SourceCount {
        let (first_seen, last_seen) = if self.span == Self::NO_TIME {
            (None, None)
        } else {
            (
                Some(self.first_seen),
                Some(self.first_seen + Millis::from(self.span)),
            )
        };
        SourceCount {
            all: self.all.into(),
            passthrough: self.passthrough.into(),
            blocked: self.blocked.into(),
            uploaded: self.uploaded.into(),
            downloaded: self.downloaded.into(),
            first_seen,
            last_seen,
        }
    }
}

impl SourceCounts {
    fn add(&mut self, id: u32, n: SourceCount) {
        if self.hot == Some(id) {
            let mut c = self.hot_counts.unpack();
            c.add(n);
            match Compact::pack(c) {
                Some(p) => self.hot_counts = p,
                None => {
                    self.hot = None;
                    self.rest.get_or_insert_default().insert(id, c);
                }
            }
            return;
        }
        if let Some(c) = self.rest.as_mut().and_then(|r| r.get_mut(&id)) {
            c.add(n);
            return;
        }
        if self.hot.is_none()
            && let Some(p) = Compact::pack(n)
        {
            (self.hot, self.hot_counts) = (Some(id), p);
            return;
        }
        self.rest
            .get_or_insert_default()
            .entry(id)
            .or_default()
            .add(n);
    }

    /// (source index, counts), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, SourceCount)> + '_ {
        self.hot
            .map(|h| (h, self.hot_counts.unpack()))
            .into_iter()
            .chain(
                self.rest
                    .iter()
                    .flat_map(|r| r.iter())
                    .map(|(k, v)| (*k, *v)),
            )
    }

    fn merge(&mut self, o: SourceCounts) {
        for (k, v) in o.iter() {
            self.add(k, v);
        }
    }

    fn remap(&self, to: &[u32]) -> SourceCounts {
        let mut out = SourceCounts::default();
        for (k, v) in self.iter() {
            out.add(to[k as usize], v);
        }
        out
    }

    fn sorted(&self) -> BTreeMap<u32, SourceCount> {
        self.iter().collect()
    }
}

impl PartialEq for SourceCounts {
    fn eq(&self, o: &Self) -> bool {
        self.sorted() == o.sorted()
    }
}

impl Eq for SourceCounts {}

/// Statistics of one destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestStats {
    /// Where the destination sits; the most "mesh" category any line gave wins.
    pub category: Option<Category>,
    /// Entries sent to `PassthroughCluster`.
    pub passthrough: u64,
    /// Entries refused by the mesh.
    pub blocked: u64,
    /// Entries sent to a ServiceEntry's cluster.
    pub registered: u64,
    /// Passthrough or blocked entries to a destination the mesh knows (auto-allocated address).
    pub internal: u64,
    /// Bytes downloaded by the workload: what Envoy sent it (`%BYTES_SENT%`; for HTTP, body
    /// bytes only).
    pub bytes_downloaded: u64,
    /// Bytes uploaded by the workload: what Envoy received from it (`%BYTES_RECEIVED%`; for
    /// HTTP, body bytes only).
    pub bytes_uploaded: u64,
    /// Earliest `%START_TIME%`, in ms since the epoch; `None` when no line had a readable one.
    pub first_seen: Option<Millis>,
    /// Latest `%START_TIME%`.
    pub last_seen: Option<Millis>,
    /// Entries per response code.
    pub codes: Counts<u16>,
    /// Entries per response flag (`UF`, `UH`, ...).
    pub flags: Rare<BTreeMap<Box<str>, u64>>,
    /// Entries per original destination address.
    pub addresses: Counts<IpAddr>,
    /// Address-only entries folded into this host because the same address and port were seen
    /// with this host's SNI or authority: address -> entries.
    #[serde(with = "pairs")]
    pub attributed: Rare<BTreeMap<IpAddr, u64>>,
    /// For an address-only destination: the names the client used for it (a cluster-local
    /// `:authority` or SNI is not taken as the destination), and hosts seen on the same address
    /// and port elsewhere. At most [`SEEN_AS`], the smallest.
    pub seen_as: Rare<BTreeSet<Box<str>>>,
    /// Per source (index into [`Summary::sources`]): all entries, and the passthrough and
    /// blocked ones (who needs an entry for this destination).
    pub sources: SourceCounts,
}

impl DestStats {
    pub fn lines(&self) -> u64 {
        self.passthrough
            .saturating_add(self.blocked)
            .saturating_add(self.registered)
            .saturating_add(self.internal)
    }

    /// Entries that went, or tried to go, to an undeclared destination.
    pub fn undeclared(&self) -> u64 {
        self.passthrough.saturating_add(self.blocked)
    }

    /// Every attempt was refused and none got through: in a REGISTRY_ONLY mesh a refused call
    /// may be a compromised workload calling out, so such a destination is marked for review.
    pub fn blocked_only(&self) -> bool {
        self.blocked > 0 && self.passthrough == 0 && self.registered == 0
    }

    /// Notes a name the client used for this destination (a cluster-local `:authority` or SNI
    /// sent to an address). At most [`SEEN_AS`] names are kept, the smallest, so memory stays
    /// bounded and the set does not depend on the order lines are read in.
    fn claim(&mut self, name: &str) {
        if self.seen_as.contains(name) {
            return;
        }
        let seen = self.seen_as.get_mut();
        if seen.len() >= SEEN_AS {
            match seen.last() {
                Some(last) if **last > *name => {
                    seen.pop_last();
                }
                _ => return,
            }
        }
        seen.insert(name.into());
    }

    fn add(
        &mut self,
        verdict: Verdict,
        class: Class,
        category: Category,
        r: &Record<'_>,
        addr: Option<IpAddr>,
    ) -> Option<Millis> {
        match (class, verdict) {
            (Class::Internal, _) => self.internal += 1,
            (_, Verdict::Passthrough) => self.passthrough += 1,
            (_, Verdict::Blocked) => self.blocked += 1,
            (_, Verdict::Registered) => self.registered += 1,
        }
        self.category = Some(self.category.map_or(category, |c| c.max(category)));
        // Saturating: a forged byte count must not wrap the sum (or panic a debug build).
        self.bytes_downloaded = self.bytes_downloaded.saturating_add(r.bytes_sent);
        self.bytes_uploaded = self.bytes_uploaded.saturating_add(r.bytes_received);
        let start = r.start_time.and_then(parse_rfc3339);
        if let Some(t) = start {
            self.first_seen = Some(self.first_seen.map_or(t, |f| f.min(t)));
            self.last_seen = Some(self.last_seen.map_or(t, |l| l.max(t)));
        }
        if let Some(code) = r.response_code {
            self.codes.bump(code);
        }
        if let Some(flags) = r.response_flags {
            for f in flags.split(',').filter(|f| !f.is_empty()) {
                match self.flags.get_mut().get_mut(f) {
                    Some(n) => *n += 1,
                    None => {
                        self.flags.get_mut().insert(f.into(), 1);
                    }
                }
            }
        }
        if let Some(a) = addr {
            self.addresses.bump(a);
        }
        start
    }

    pub fn merge(&mut self, o: DestStats) {
        self.category = match (self.category, o.category) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        // Saturating: partial results read from files may hold any counts.
        self.passthrough = self.passthrough.saturating_add(o.passthrough);
        self.blocked = self.blocked.saturating_add(o.blocked);
        self.registered = self.registered.saturating_add(o.registered);
        self.internal = self.internal.saturating_add(o.internal);
        self.bytes_downloaded = self.bytes_downloaded.saturating_add(o.bytes_downloaded);
        self.bytes_uploaded = self.bytes_uploaded.saturating_add(o.bytes_uploaded);
        self.first_seen = min_opt(self.first_seen, o.first_seen);
        self.last_seen = max_opt(self.last_seen, o.last_seen);
        self.codes.merge(o.codes);
        if !o.flags.is_empty() {
            merge_counts(self.flags.get_mut(), o.flags.into_inner());
        }
        self.addresses.merge(o.addresses);
        if !o.attributed.is_empty() {
            merge_counts(self.attributed.get_mut(), o.attributed.into_inner());
        }
        if !o.seen_as.is_empty() {
            let seen = self.seen_as.get_mut();
            seen.extend(o.seen_as.into_inner());
            while seen.len() > SEEN_AS {
                seen.pop_last();
            }
        }
        self.sources.merge(o.sources);
    }
}

fn min_opt(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn merge_counts<K: Ord>(a: &mut BTreeMap<K, u64>, b: BTreeMap<K, u64>) {
    for (k, v) in b {
        let e = a.entry(k).or_default();
        *e = e.saturating_add(v);
    }
}

/// Where a line is: source index (sources are sorted by path), the split of the source it was
/// read in, and its line number within that split (1-based). Ordered like file:line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    pub source: u32,
    pub split: u32,
    pub line: u64,
}

/// Malformed lines of one reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedStats {
    pub count: u64,
    /// The smallest locations, at most [`EXAMPLES`].
    pub examples: Vec<Location>,
}

impl MalformedStats {
    fn note(&mut self, loc: Location) {
        self.count += 1;
        if self.examples.len() < EXAMPLES || loc < *self.examples.last().expect("non-empty") {
            let at = self.examples.partition_point(|e| *e < loc);
            self.examples.insert(at, loc);
            self.examples.truncate(EXAMPLES);
        }
    }

    fn merge(&mut self, o: MalformedStats) {
        self.count = self.count.saturating_add(o.count);
        self.examples.extend(o.examples);
        self.examples.sort_unstable();
        self.examples.dedup();
        self.examples.truncate(EXAMPLES);
    }
}

type Hasher_ = foldhash::fast::FixedState;

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
    /// Noise lines that are ztunnel access logs: the mesh runs ambient mode somewhere.
    pub ztunnel_lines: u64,
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

/// The destinations of a summary, in the order they were first seen: a hash index of `u32`
/// positions over (key, statistics) pairs kept in chunks of fixed size. With millions of
/// destinations nothing is ever copied to grow (a chunk is added), the only slack is the last
/// chunk's, and a merge frees the other side a chunk at a time as it is consumed, so two
/// summaries being merged never hold much more than the merged one.
#[derive(Clone, Default)]
pub struct Destinations {
    index: hashbrown::HashTable<u32>,
    chunks: Vec<Vec<(DestKey, DestStats)>>,
}

/// Entries per chunk (a chunk is about a megabyte).
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

fn hash_key(k: KeyRef<'_>) -> u64 {
    use std::hash::BuildHasher;
    Hasher_::default().hash_one(k)
}

fn key_ref(k: &DestKey) -> KeyRef<'_> {
    KeyRef {
        name: &k.name,
        is_address: k.is_address,
        port: k.port,
        protocol: k.protocol,
    }
}

impl Destinations {
    pub fn len(&self) -> usize {
        match self.chunks.last() {
            Some(last) => ((self.chunks.len() - 1) << CHUNK_BITS) + last.len(),
            None => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn at(&self, i: usize) -> Option<&(DestKey, DestStats)> {
        self.chunks.get(i >> CHUNK_BITS)?.get(i & (CHUNK - 1))
    }

    fn at_mut(&mut self, i: usize) -> Option<&mut (DestKey, DestStats)> {
        self.chunks
            .get_mut(i >> CHUNK_BITS)?
            .get_mut(i & (CHUNK - 1))
    }

    /// The destination at position `i`.
    pub fn get_index(&self, i: usize) -> Option<(&DestKey, &DestStats)> {
        self.at(i).map(|(k, v)| (k, v))
    }

    fn position(&self, k: KeyRef<'_>) -> Option<usize> {
        let chunks = &self.chunks;
        self.index
            .find(hash_key(k), |&i| {
                let (o, _) = &chunks[i as usize >> CHUNK_BITS][i as usize & (CHUNK - 1)];
                k.equivalent(o)
            })
            .map(|&i| i as usize)
    }

    pub fn get(&self, k: &DestKey) -> Option<&DestStats> {
        let i = self.position(key_ref(k))?;
        self.at(i).map(|(_, v)| v)
    }

    fn get_mut_ref(&mut self, k: KeyRef<'_>) -> Option<&mut DestStats> {
        let i = self.position(k)?;
        self.at_mut(i).map(|(_, v)| v)
    }

    /// Adds a destination not present yet; returns its position.
    fn push_new(&mut self, k: DestKey, v: DestStats) -> usize {
        let i = self.len();
        let at = u32::try_from(i).expect("fewer than 2^32 destinations");
        let chunks = &self.chunks;
        self.index.insert_unique(hash_key(key_ref(&k)), at, |&j| {
            let (o, _) = &chunks[j as usize >> CHUNK_BITS][j as usize & (CHUNK - 1)];
            hash_key(key_ref(o))
        });
        match self.chunks.last_mut() {
            // The first chunk grows as a vector does (most runs see few destinations); the
            // others are allocated whole.
            Some(last) if last.len() < CHUNK => {
                if last.len() == last.capacity() {
                    last.reserve_exact((last.len() * 2).clamp(4, CHUNK) - last.len());
                }
                last.push((k, v));
            }
            Some(_) => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push((k, v));
                self.chunks.push(c);
            }
            None => self.chunks.push(vec![(k, v)]),
        }
        i
    }

    /// The statistics of `k`, added empty when new.
    pub fn entry_or_default(&mut self, k: DestKey) -> &mut DestStats {
        let i = match self.position(key_ref(&k)) {
            Some(i) => i,
            None => self.push_new(k, DestStats::default()),
        };
        &mut self.at_mut(i).expect("present").1
    }

    /// Adds `v` to the statistics of `k` (a copy of them when new).
    pub fn merge_one(&mut self, k: DestKey, v: DestStats) {
        match self.position(key_ref(&k)) {
            Some(i) => self.at_mut(i).expect("present").1.merge(v),
            None => {
                self.push_new(k, v);
            }
        }
    }

    /// Sets the statistics of `k`, keeping its position when it is present.
    pub fn insert(&mut self, k: DestKey, v: DestStats) {
        match self.position(key_ref(&k)) {
            Some(i) => self.at_mut(i).expect("present").1 = v,
            None => {
                self.push_new(k, v);
            }
        }
    }

    /// Takes every destination out, in chunks (for consuming them a chunk at a time).
    fn into_chunks(self) -> Vec<Vec<(DestKey, DestStats)>> {
        self.chunks
    }

    /// Removes the last destination (its chunk is freed once empty).
    pub fn pop(&mut self) -> Option<(DestKey, DestStats)> {
        let last = self.chunks.last_mut()?;
        let (k, v) = last.pop()?;
        if last.is_empty() {
            self.chunks.pop();
        }
        let i = self.len() as u32;
        if let Ok(e) = self.index.find_entry(hash_key(key_ref(&k)), |&j| j == i) {
            e.remove();
        }
        Some((k, v))
    }

    /// Removes the destination at position `i`, moving the last one into its place.
    pub fn swap_remove_index(&mut self, i: usize) -> Option<(DestKey, DestStats)> {
        let last = self.len().checked_sub(1)?;
        if i > last {
            return None;
        }
        if i == last {
            return self.pop();
        }
        // Popped, the last one is no longer indexed: it is indexed again at its new place.
        let moved = self.pop().expect("not empty");
        let at = i as u32;
        let hash = hash_key(key_ref(&moved.0));
        let gone = std::mem::replace(self.at_mut(i).expect("present"), moved);
        if let Ok(e) = self
            .index
            .find_entry(hash_key(key_ref(&gone.0)), |&j| j == at)
        {
            e.remove();
        }
        let chunks = &self.chunks;
        self.index.insert_unique(hash, at, |&j| {
            let (o, _) = &chunks[j as usize >> CHUNK_BITS][j as usize & (CHUNK - 1)];
            hash_key(key_ref(o))
        });
        Some(gone)
    }

    /// (key, statistics) in order.
    pub fn iter(&self) -> impl Iterator<Item = (&DestKey, &DestStats)> + Clone + '_ {
        self.chunks.iter().flatten().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &DestKey> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &DestStats> + '_ {
        self.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut DestStats> + '_ {
        self.chunks.iter_mut().flatten().map(|(_, v)| v)
    }
}

impl std::ops::Index<usize> for Destinations {
    type Output = DestStats;

    fn index(&self, i: usize) -> &DestStats {
        &self.at(i).expect("a destination's position").1
    }
}

impl std::ops::IndexMut<usize> for Destinations {
    fn index_mut(&mut self, i: usize) -> &mut DestStats {
        &mut self.at_mut(i).expect("a destination's position").1
    }
}

impl std::fmt::Debug for Destinations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Destinations {
    type Item = (&'a DestKey, &'a DestStats);
    type IntoIter = Box<dyn Iterator<Item = (&'a DestKey, &'a DestStats)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Consumes the destinations in order.
impl IntoIterator for Destinations {
    type Item = (DestKey, DestStats);
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<(DestKey, DestStats)>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.into_iter().flatten()
    }
}

/// A key given twice keeps its first position and its last statistics (as a map's `insert`).
impl FromIterator<(DestKey, DestStats)> for Destinations {
    fn from_iter<I: IntoIterator<Item = (DestKey, DestStats)>>(i: I) -> Self {
        let mut d = Destinations::default();
        for (k, v) in i {
            d.insert(k, v);
        }
        d
    }
}

/// Passthrough and blocked entries per minute of `%START_TIME%`. Logs are mostly in time
/// order, so the current minute is counted inline and the map is touched once a minute.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    hot: Option<(i64, [u64; 2])>,
    /// Never holds the `hot` minute.
    rest: BTreeMap<i64, [u64; 2]>,
}

impl Timeline {
    /// Counts an entry that started at `t`: passthrough, or blocked.
    pub fn add(&mut self, t: Millis, blocked: bool) {
        let minute = t.div_euclid(60_000);
        let i = usize::from(blocked);
        match &mut self.hot {
            Some((m, c)) if *m == minute => c[i] += 1,
            _ => {
                self.flush();
                let mut c = self.rest.remove(&minute).unwrap_or_default();
                c[i] += 1;
                self.hot = Some((minute, c));
            }
        }
    }

    fn flush(&mut self) {
        if let Some((m, c)) = self.hot.take() {
            let e = self.rest.entry(m).or_default();
            e[0] = e[0].saturating_add(c[0]);
            e[1] = e[1].saturating_add(c[1]);
        }
    }

    fn merge(&mut self, mut o: Timeline) {
        self.flush();
        o.flush();
        for (m, c) in o.rest {
            let e = self.rest.entry(m).or_default();
            e[0] = e[0].saturating_add(c[0]);
            e[1] = e[1].saturating_add(c[1]);
        }
    }

    /// (minute start in ms, passthrough, blocked), in time order.
    pub fn minutes(&self) -> Vec<(Millis, u64, u64)> {
        let mut all = self.rest.clone();
        if let Some((m, c)) = self.hot {
            let e = all.entry(m).or_default();
            e[0] = e[0].saturating_add(c[0]);
            e[1] = e[1].saturating_add(c[1]);
        }
        all.into_iter()
            .map(|(m, c)| (m * 60_000, c[0], c[1]))
            .collect()
    }
}

/// An in-mesh call: who called which cluster-local service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MeshCall {
    pub source: u32,
    pub host: Box<str>,
}

impl Hash for MeshCall {
    fn hash<H: Hasher>(&self, h: &mut H) {
        MeshCallRef {
            source: self.source,
            host: self.host.as_bytes(),
        }
        .hash(h)
    }
}

#[derive(Hash)]
struct MeshCallRef<'a> {
    source: u32,
    host: &'a [u8],
}

impl Equivalent<MeshCall> for MeshCallRef<'_> {
    fn equivalent(&self, k: &MeshCall) -> bool {
        self.source == k.source && self.host == k.host.as_bytes()
    }
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

    /// Folds address-only destinations into the one host seen with the same address and port
    /// (TLS through `virtualOutbound` is logged without SNI), and notes the candidates when there
    /// are several. Only hosts with undeclared traffic take part: folding into a host that a
    /// ServiceEntry already declares would hide traffic the entry does not cover.
    pub fn attribute_addresses(&mut self) {
        // Only the addresses of address-only destinations matter: the hosts' other addresses
        // are not indexed (with millions of hosts, that index would outweigh the summary).
        let mut wanted: Vec<IpAddr> = self
            .destinations
            .iter()
            .filter(|(k, s)| k.is_address && k.protocol == Protocol::Tcp && s.registered == 0)
            .filter_map(|(k, _)| k.name.parse::<IpAddr>().ok())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut by_addr: BTreeMap<(IpAddr, u16), BTreeSet<usize>> = BTreeMap::new();
        if !wanted.is_empty() {
            for (i, (k, s)) in self.destinations.iter().enumerate() {
                if k.is_address || s.registered > 0 || s.category != Some(Category::External) {
                    continue;
                }
                for (ip, _) in s.addresses.iter() {
                    if wanted.binary_search(&ip).is_ok() {
                        by_addr.entry((ip, k.port)).or_default().insert(i);
                    }
                }
            }
        }
        drop(wanted);
        let mut moves: Vec<(usize, usize)> = Vec::new();
        let mut notes: Vec<(usize, BTreeSet<Box<str>>)> = Vec::new();
        for (i, (k, s)) in self.destinations.iter().enumerate() {
            if !k.is_address || k.protocol != Protocol::Tcp || s.registered > 0 {
                continue;
            }
            let Ok(ip) = k.name.parse::<IpAddr>() else {
                continue;
            };
            let hosts: BTreeSet<usize> = by_addr.get(&(ip, k.port)).cloned().unwrap_or_default();
            match hosts.len() {
                0 => {
                    // Not on this port: still worth saying which hosts used the address.
                    let names: BTreeSet<Box<str>> = by_addr
                        .range((ip, 0)..=(ip, u16::MAX))
                        .flat_map(|(_, hs)| hs.iter())
                        .map(|h| {
                            self.destinations
                                .get_index(*h)
                                .expect("index")
                                .0
                                .name
                                .clone()
                        })
                        .collect();
                    if !names.is_empty() {
                        notes.push((i, names));
                    }
                }
                1 => moves.push((i, *hosts.first().expect("one"))),
                _ => notes.push((
                    i,
                    hosts
                        .iter()
                        .map(|h| {
                            self.destinations
                                .get_index(*h)
                                .expect("index")
                                .0
                                .name
                                .clone()
                        })
                        .collect(),
                )),
            }
        }
        for (i, names) in notes {
            let seen = self.destinations[i].seen_as.get_mut();
            seen.extend(names);
            while seen.len() > SEEN_AS {
                seen.pop_last();
            }
        }
        // Move stats from address entries into hosts, then drop the address entries.
        let mut taken: Vec<usize> = Vec::with_capacity(moves.len());
        for (from, to) in moves {
            let stats = std::mem::take(&mut self.destinations[from]);
            let ip: IpAddr = self
                .destinations
                .get_index(from)
                .expect("index")
                .0
                .name
                .parse()
                .expect("address");
            let host = &mut self.destinations[to];
            *host.attributed.get_mut().entry(ip).or_default() += stats.lines();
            let keep_category = host.category;
            host.merge(stats);
            host.category = keep_category;
            taken.push(from);
        }
        taken.sort_unstable();
        for i in taken.into_iter().rev() {
            self.destinations.swap_remove_index(i);
        }
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
                .malformed
                .values()
                .any(|m| m.examples.iter().any(|l| !input_ok(l.source)));
        bad_input.then(|| format!("an index beyond its {inputs} inputs"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_counts_per_minute_whatever_the_order_and_merge() {
        let times = [0i64, 59_999, 60_000, 30_000, 125_000, 60_001, -1];
        let mut one = Timeline::default();
        for (i, t) in times.iter().enumerate() {
            one.add(*t, i % 3 == 0);
        }
        let want = vec![(-60_000, 0, 1), (0, 1, 2), (60_000, 2, 0), (120_000, 1, 0)];
        assert_eq!(one.minutes(), want);
        let (mut a, mut b) = (Timeline::default(), Timeline::default());
        for (i, t) in times.iter().enumerate() {
            let into = if i % 2 == 0 { &mut a } else { &mut b };
            into.add(*t, i % 3 == 0);
        }
        b.merge(a);
        assert_eq!(b.minutes(), want);
    }

    /// Memory per destination is what bounds a run with millions of them: a field that makes
    /// every destination larger should be a deliberate choice.
    #[test]
    fn per_destination_state_stays_compact() {
        assert!(size_of::<DestStats>() <= 224, "{}", size_of::<DestStats>());
        assert!(size_of::<DestKey>() <= 24);
        assert!(size_of::<Rare<BTreeMap<Box<str>, u64>>>() == 8);
    }

    #[test]
    fn source_counts_are_exact_past_the_compact_form() {
        let count = |all: u64, bytes: u64, t: Option<(Millis, Millis)>| SourceCount {
            all,
            passthrough: all,
            blocked: 0,
            uploaded: bytes,
            downloaded: 1,
            first_seen: t.map(|t| t.0),
            last_seen: t.map(|t| t.1),
        };
        let adds = [
            (3, count(1, 10, Some((1_000, 1_000)))),
            (3, count(2, u64::from(u32::MAX), Some((500, 2_000)))),
            (4, count(1, 5, None)),
            (5, count(1, 5, Some((0, 1 << 40)))),
            (3, count(1, 1, None)),
            (4, count(u64::from(u32::MAX) + 1, 0, Some((-7, -7)))),
            (6, count(1, 1, Some((Millis::MIN, Millis::MAX)))),
        ];
        let mut c = SourceCounts::default();
        let mut want: BTreeMap<u32, SourceCount> = BTreeMap::new();
        for (id, n) in adds {
            c.add(id, n);
            want.entry(id).or_default().add(n);
            assert_eq!(c.sorted(), want);
        }
        assert_eq!(c.iter().count(), want.len());
    }

    #[test]
    fn destinations_keep_their_order_and_index_across_chunks() {
        let key = |i: usize| DestKey {
            name: format!("h{i}.example.com").into(),
            is_address: false,
            port: 443,
            protocol: Protocol::Tls,
        };
        let stats = |n: u64| DestStats {
            passthrough: n,
            ..DestStats::default()
        };
        let n = 3 * CHUNK + 17;
        let mut d = Destinations::default();
        for i in 0..n {
            d.insert(key(i), stats(i as u64));
        }
        // Inserting a key again keeps its place and takes the new value.
        d.insert(key(5), stats(500));
        assert_eq!(d.len(), n);
        assert_eq!(d.get(&key(5)).map(|s| s.passthrough), Some(500));
        assert_eq!(
            d.get_index(CHUNK + 1).map(|(k, _)| k.clone()),
            Some(key(CHUNK + 1))
        );
        // The last moves into the place removed, and both stay found.
        let (gone, _) = d.swap_remove_index(7).expect("present");
        assert_eq!(gone, key(7));
        assert_eq!(d.get(&key(7)), None);
        assert_eq!(d.get_index(7).map(|(k, _)| k.clone()), Some(key(n - 1)));
        assert_eq!(
            d.get(&key(n - 1)).map(|s| s.passthrough),
            Some((n - 1) as u64)
        );
        d.merge_one(key(9), stats(1));
        assert_eq!(d[9].passthrough, 10);
        while d.len() > CHUNK - 3 {
            let (k, _) = d.pop().expect("present");
            assert_eq!(d.get(&k), None);
        }
        assert_eq!(d.chunks.len(), 1);
        for i in (0..CHUNK - 3).filter(|i| *i != 7) {
            assert_eq!(
                d.get(&key(i)).map(|s| s.passthrough),
                Some(d[i].passthrough)
            );
        }
        let back: Destinations = d.clone().into_iter().collect();
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            d.iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn rare_collections_compare_and_serialize_as_the_collection() {
        let mut a: Rare<BTreeMap<IpAddr, u64>> = Rare::default();
        let b: Rare<BTreeMap<IpAddr, u64>> = Rare::from(BTreeMap::new());
        assert_eq!(a, b);
        assert!(a.is_empty());
        assert_eq!(serde_json::to_string(&a).unwrap(), "{}");
        a.get_mut().insert("1.2.3.4".parse().unwrap(), 3);
        assert_ne!(a, b);
        let back: Rare<BTreeMap<IpAddr, u64>> =
            serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.into_inner().len(), 1);
    }
}
