//! The integration tests, one binary: each module drives the real binary (or the library) on
//! fixture files. `tests/alloc.rs` stays apart because it installs its own global allocator.
//!
//! Tests that need a tool outside Rust are `#[ignore]`d with the tool's name, so that a machine
//! without it shows them as ignored, never as passed: `cargo test -- --include-ignored` (as
//! `.ci/run` does) runs them and fails when the tool is missing.

mod ambient;
mod browser;
mod cli;
mod collection;
mod common;
mod distributed;
mod fix;
mod fuzz_corpus;
mod gate;
mod gitops;
mod hostile;
mod istio_conformance;
mod markdown;
mod properties;
mod readback;
mod readme;
mod release;
mod sarif;
mod telemetry;
