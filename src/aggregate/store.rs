//! The destination store: chunked, insertion-ordered, indexed by hash.

use indexmap::Equivalent;

use super::keys::{DestKey, Hasher_, KeyRef};
use super::stats::DestStats;

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

    pub(super) fn get_mut_ref(&mut self, k: KeyRef<'_>) -> Option<&mut DestStats> {
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
    pub(super) fn into_chunks(self) -> Vec<Vec<(DestKey, DestStats)>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Protocol;

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
}
