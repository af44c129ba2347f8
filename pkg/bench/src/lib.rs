//! k3rs benchmarks.
//!
//! The `k3rs-bench-datastore` binary drives any etcd v3 API server (k3rs' own
//! `k3rs datastore serve`, real etcd, kine) with the same load, writes one JSON
//! file per system ([`results::SystemResults`]) and renders them side by side as
//! a markdown table ([`report::render`]). `scripts/bench/datastore` runs the
//! whole comparison.

pub mod datastore;
pub mod report;
pub mod results;
pub mod stats;
