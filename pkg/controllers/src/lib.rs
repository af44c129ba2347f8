//! The k3rs controller manager.
//!
//! Controllers are clients of the API server (kube-rs over HTTPS, with their own identity), never
//! callers of its internals: that keeps the server honest and lets each controller run in its own
//! process. `k3rs server` starts them once its API serves. Today: the per-namespace defaults
//! (the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap, upstream's serviceaccount and
//! root-ca-cert-publisher controllers), the namespace controller (deleting a namespace's content), the
//! garbage collector and the clusterrole-aggregation controller.

pub mod clusterrole_aggregation;
pub mod gc;
pub mod namespace;
pub mod namespace_defaults;

use kube::Client;

/// Runs every controller until the returned future is dropped.
pub async fn run(client: Client, root_ca_pem: String) {
    tokio::join!(
        namespace_defaults::run(client.clone(), root_ca_pem),
        namespace::run(client.clone()),
        clusterrole_aggregation::run(client.clone()),
        gc::run(client),
    );
}
