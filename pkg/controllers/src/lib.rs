//! The k3rs controller manager.
//!
//! Controllers are clients of the API server (kube-rs over HTTPS, with their own identity), never
//! callers of its internals: that keeps the server honest and lets each controller run in its own
//! process. `k3rs server` starts them once its API serves. Today: the per-namespace defaults
//! (the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap, upstream's serviceaccount and
//! root-ca-cert-publisher controllers), the namespace controller (deleting a namespace's content), the
//! garbage collector, the clusterrole-aggregation controller, the legacy service-account token
//! controller, the storage-object-in-use protection controllers, the ReplicaSet/ReplicationController
//! controller, the Deployment controller and the resource quota controller.

pub mod clusterrole_aggregation;
mod common;
pub mod deployment;
pub mod gc;
pub mod namespace;
pub mod namespace_defaults;
pub mod replicaset;
pub mod resourcequota;
pub mod sa_token;
pub mod storage_protection;

use std::sync::Arc;

use kube::Client;

/// Runs every controller until the returned future is dropped. `token_issuer` resolves to the
/// API server's service-account signer, handed over in-process (never through the API) for the
/// legacy token controller; it may still be generating its key at first start.
pub async fn run(
    client: Client,
    root_ca_pem: String,
    token_issuer: impl std::future::Future<Output = Result<Arc<k3rs_auth::serviceaccount::TokenIssuer>, String>>
        + Send,
) {
    tokio::join!(
        namespace_defaults::run(client.clone(), root_ca_pem.clone()),
        sa_token::run(client.clone(), token_issuer, root_ca_pem),
        namespace::run(client.clone()),
        clusterrole_aggregation::run(client.clone()),
        storage_protection::run(client.clone()),
        replicaset::run(client.clone()),
        deployment::run(client.clone()),
        resourcequota::run(client.clone()),
        gc::run(client),
    );
}
