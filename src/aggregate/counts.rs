//! Mergeable counters and the hand-written serde that keeps partial files compact.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::parse::time::Millis;

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
pub(super) mod pairs {
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
pub(super) mod keys {
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

pub(super) fn bump_by<K: Ord>(map: &mut BTreeMap<K, u64>, k: K, n: u64) {
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
    pub(super) fn add(&mut self, id: u32, n: SourceCount) {
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

    pub(super) fn merge(&mut self, o: SourceCounts) {
        for (k, v) in o.iter() {
            self.add(k, v);
        }
    }

    pub(super) fn remap(&self, to: &[u32]) -> SourceCounts {
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

pub(super) fn min_opt(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(super) fn max_opt(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

pub(super) fn merge_counts<K: Ord>(a: &mut BTreeMap<K, u64>, b: BTreeMap<K, u64>) {
    for (k, v) in b {
        let e = a.entry(k).or_default();
        *e = e.saturating_add(v);
    }
}

/// Passthrough and blocked entries per minute of `%START_TIME%`. Logs are mostly in time
/// order, so the current minute is counted inline and the map is touched once a minute.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub(super) hot: Option<(i64, [u64; 2])>,
    /// Never holds the `hot` minute.
    pub(super) rest: BTreeMap<i64, [u64; 2]>,
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

    pub(super) fn merge(&mut self, mut o: Timeline) {
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
