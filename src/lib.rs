//! egress-advisor turns Istio sidecar access logs into least-privilege ServiceEntries.
//!
//! The library is the pipeline; the binary only parses arguments and dispatches. Data flows
//! one way, one stage per module:
//!
//! ```text
//! ingest   ->  parse        ->  classify      ->  aggregate       ->  recommend     ->  render
//! files,       Istio text       passthrough,      per-destination     ServiceEntry      table,
//! dirs, gz,    (all versions),  blocked,          stats, mergeable    manifests,        JSON, CSV
//! zstd, stdin  JSON             registered, ...   (Default + merge)   validated         YAML
//! ```
//!
//! [`pipeline`] wires the stages over many sources in parallel; [`cmd`] holds one module per
//! subcommand.

#![forbid(unsafe_code)]

pub mod aggregate;
pub mod ambient;
pub mod audit;
pub mod cardinality;
pub mod classify;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod envelope;
pub mod existing;
pub mod exit;
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
pub mod ingest;
pub mod migrate;
pub mod parse;
pub mod partial;
pub mod pipeline;
pub mod progress;
pub mod recommend;
pub mod render;
pub mod sidecar;
pub mod telemetry;
pub mod validate;
pub mod yaml;
