//! k3rs-auth owns the cluster's identity plumbing: the PKI (server and client certificate authorities,
//! the API server's serving certificate, the admin client certificate and the kubeconfig that embeds
//! it), authentication (x509 client certificates, static bearer-token files, service-account JWTs —
//! signing and verifying, [`serviceaccount`] — later bootstrap tokens), encryption at rest
//! ([`encryption`]), the rustls configurations built from that PKI, and authorization: RBAC
//! evaluation ([`rbac`]), the Node authorizer ([`node`]) and the bootstrap RBAC policy
//! ([`bootstrap_policy`]), all pure logic over in-memory state. It is called by the API server (TLS setup, mapping each request to a [`authn::UserInfo`])
//! and by the CLI (creating the PKI on first start, writing kubeconfigs). It does no networking itself.

pub mod authn;
pub mod bootstrap_policy;
pub mod encryption;
mod error;
pub mod node;
pub mod pki;
pub mod rbac;
pub mod serviceaccount;
pub mod tls;
pub mod token;

pub use error::Error;
