//! The statistics of one destination and of one malformed-line reason.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::counts::{Counts, Rare, SourceCounts, max_opt, merge_counts, min_opt, pairs};
use super::keys::Location;
use super::{EXAMPLES, SEEN_AS};
use crate::classify::{Category, Class, Verdict};
use crate::parse::Record;
use crate::parse::time::{Millis, parse_rfc3339};

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
    /// Per source (index into [`Summary::sources`](super::Summary::sources)): all entries, and
    /// the passthrough and blocked ones (who needs an entry for this destination).
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
    pub(super) fn claim(&mut self, name: &str) {
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

    pub(super) fn add(
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

/// Malformed lines of one reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedStats {
    pub count: u64,
    /// The smallest locations, at most [`EXAMPLES`].
    pub examples: Vec<Location>,
}

impl MalformedStats {
    pub(super) fn note(&mut self, loc: Location) {
        self.count += 1;
        if self.examples.len() < EXAMPLES || loc < *self.examples.last().expect("non-empty") {
            let at = self.examples.partition_point(|e| *e < loc);
            self.examples.insert(at, loc);
            self.examples.truncate(EXAMPLES);
        }
    }

    pub(super) fn merge(&mut self, o: MalformedStats) {
        self.count = self.count.saturating_add(o.count);
        self.examples.extend(o.examples);
        self.examples.sort_unstable();
        self.examples.dedup();
        self.examples.truncate(EXAMPLES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::DestKey;

    /// Memory per destination is what bounds a run with millions of them: a field that makes
    /// every destination larger should be a deliberate choice.
    #[test]
    fn per_destination_state_stays_compact() {
        assert!(size_of::<DestStats>() <= 224, "{}", size_of::<DestStats>());
        assert!(size_of::<DestKey>() <= 24);
        assert!(size_of::<Rare<BTreeMap<Box<str>, u64>>>() == 8);
    }
}
