//! egress-advisor turns Istio sidecar access logs into least-privilege ServiceEntries.
//!
//! The library is the pipeline; the binary only parses arguments and dispatches. Data flows
//! one way, one stage per module:
//!
//! ```text
//! ingest   ->  envelope, parse  ->  classify      ->  aggregate       ->  recommend     ->  render
//! files,       CRI/kubectl          passthrough,      per-destination     ServiceEntry      table,
//! dirs, gz,    wrappers; Istio      blocked,          stats, mergeable    manifests,        JSON, CSV
//! zstd, stdin  text, JSON, custom   registered, ...   (Default + merge)   validated         YAML
//! ```
//!
//! [`pipeline`] wires the stages over many sources in parallel: [`pipeline`]`::line` reads one
//! line (envelope, sniff, parse, classify), `account` attributes and counts it, `drive` runs the
//! worker pool. [`aggregate`] holds what the counting builds: `keys` (destinations, writers,
//! locations), `counts` (mergeable counters and their serde), `stats` (one destination),
//! `store` (the chunked destination store), `summary`, `run` (sources and summary), `callers`
//! (who called a destination) and `attribution` (address-only entries folded into hosts).
//! [`partial`] writes and merges a run's summary as a file. [`fmt`] (numbers, sizes, names, log
//! text made safe) is at the bottom: every layer may use it, it uses none; no domain module
//! (`gate`, `migrate`, `recommend`, `cardinality`) imports [`render`]. [`gate`] is `check`'s
//! verdict (with `allow`, `baseline` and per-namespace `usage`). Ambient mode: [`parse`]`::ztunnel`
//! reads ztunnel's lines and [`ambient`] judges them; `pipeline::line` dispatches them and
//! `account` counts each egress connection against the caller the line names.
//! [`telemetry`] builds the Telemetry resource that limits collection to egress. [`cmd`] holds
//! one module per subcommand.

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
pub mod fmt;
#[doc(hidden)]
pub mod fuzzing;
pub mod gate;
pub mod gitops;
pub mod ingest;
pub mod migrate;
pub mod parse;
pub mod partial;
pub mod pipeline;
pub mod pods;
pub mod progress;
pub mod recommend;
pub mod recommend_ambient;
pub mod render;
pub mod sidecar;
pub mod telemetry;
pub mod validate;
pub mod validate_across;
pub mod validate_ambient;
pub mod waypoint_policy;
pub mod yaml;
