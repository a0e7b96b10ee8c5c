//! Aggregate stage: per-destination statistics and the accounting of every line read.
//!
//! Everything here is a mergeable value: `Default` is the identity and `merge` is associative
//! and commutative, so one thread, many threads and many files in any order give the same
//! [`Summary`]. Examples of malformed lines keep the smallest locations, not the first seen.

mod ambient;
mod attribution;
mod callers;
mod counts;
mod keys;
mod run;
mod stats;
mod store;
mod summary;

pub use ambient::AmbientCounts;
pub use callers::{SourceUse, sources_from, sources_of};
pub use counts::{Counts, Rare, RareCollection, SourceCount, SourceCounts, Timeline};
pub use keys::{DestKey, Location, MeshCall, SourceKey};
pub use run::Run;
pub use stats::{DestStats, MalformedStats};
pub use store::Destinations;
pub use summary::Summary;

/// How many example locations each malformed reason keeps.
pub const EXAMPLES: usize = 5;

/// How many application container names [`Summary::app_containers`] keeps.
pub const APP_CONTAINERS: usize = 16;

/// How many names a destination keeps in [`DestStats::seen_as`].
pub const SEEN_AS: usize = 16;
