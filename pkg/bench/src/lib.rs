//! k3rs benchmarks.
//!
//! The `k3rs-bench-datastore` binary drives any etcd v3 API server (k3rs' own
//! `k3rs datastore serve`, real etcd, kine) with the same load, writes one JSON
//! file per system ([`results::SystemResults`]) and renders them side by side as
//! a markdown table ([`report::render`]). `scripts/bench/datastore` runs the
//! whole comparison.
//!
//! The `k3rs-bench-api` binary does the same one level up: it drives any
//! Kubernetes API server (k3rs, kube-apiserver) through a kubeconfig
//! ([`api`]), writes [`api_results::ApiSystemResults`] and renders them with
//! [`api_report::render`]; `scripts/bench/api` runs that comparison.

pub mod api;
pub mod api_report;
pub mod api_results;
pub mod datastore;
pub mod proc;
pub mod report;
pub mod results;
pub mod stats;
