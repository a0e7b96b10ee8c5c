//! The keys of a summary: destinations, writers, in-mesh calls and line locations.

use std::hash::{Hash, Hasher};

use indexmap::Equivalent;
use serde::{Deserialize, Serialize};

use crate::classify::Protocol;
use crate::envelope::meta::Label;

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
pub(super) struct KeyRef<'a> {
    pub(super) name: &'a str,
    pub(super) is_address: bool,
    pub(super) port: u16,
    pub(super) protocol: Protocol,
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
pub(super) struct SourceRef<'a> {
    pub(super) namespace: &'a str,
    pub(super) workload: &'a str,
    pub(super) label: Option<Label>,
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

/// Where a line is: source index (sources are sorted by path), the split of the source it was
/// read in, and its line number within that split (1-based). Ordered like file:line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    pub source: u32,
    pub split: u32,
    pub line: u64,
}

pub(super) type Hasher_ = foldhash::fast::FixedState;

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
pub(super) struct MeshCallRef<'a> {
    pub(super) source: u32,
    pub(super) host: &'a [u8],
}

impl Equivalent<MeshCall> for MeshCallRef<'_> {
    fn equivalent(&self, k: &MeshCall) -> bool {
        self.source == k.source && self.host == k.host.as_bytes()
    }
}
