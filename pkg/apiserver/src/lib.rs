//! The k3rs API server.
//!
//! This crate owns the HTTP side of the Kubernetes API: the HTTPS listener (rustls, HTTP/1.1 and
//! HTTP/2), authentication and authorization of each request, routing, decoding and encoding,
//! discovery, health and metrics endpoints, and the one generic REST store that serves every kind
//! over the datastore. It knows kinds only through `k3rs-apis` and storage only through
//! `k3rs-storage`'s `Backend` trait. Its caller is `k3rs server` (`cmd/k3rs`); controllers and the
//! kubelet talk to it over HTTPS like any client, never through this crate.

pub mod bootstrap;
pub mod convert;
pub mod crd_controller;
pub mod discovery;
pub mod fieldmanager;
pub mod handler;
pub mod metrics;
pub mod object;
pub mod openapi;
pub mod patch;
pub mod request;
pub mod scale;
pub mod server;
pub mod status;
pub mod store;
pub mod strategy;
pub mod timed;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use k3rs_auth::authn::TokenFile;
use k3rs_auth::pki::{self, PkiConfig};

/// How `k3rs server` is configured (flags named as k3s').
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind_address: IpAddr,
    pub https_port: u16,
    pub advertise_address: Option<IpAddr>,
    pub tls_sans: Vec<String>,
    pub datastore_endpoint: String,
    pub write_kubeconfig: Option<PathBuf>,
    pub write_kubeconfig_mode: u32,
    pub service_cidr: String,
    /// The cluster join token (`--token`); generated and stored when absent.
    pub token: Option<String>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("datastore: {0}")]
    Datastore(#[from] k3rs_storage::Error),
    #[error("certificates: {0}")]
    Pki(#[from] k3rs_auth::Error),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid --service-cidr {0:?}: expected an IPv4 CIDR such as 10.43.0.0/16")]
    ServiceCidr(String),
    #[error("creating the cluster's initial objects: {0}")]
    Bootstrap(String),
}

/// A running server, for callers that start clients of it (controllers).
pub struct Running {
    pub addr: SocketAddr,
    /// The cluster PKI (to issue client certificates for in-process clients).
    pub pki: k3rs_auth::pki::Pki,
}

/// Starts the server and serves until `shutdown` resolves; `on_ready` is called once it serves.
pub async fn run(
    cfg: Config,
    shutdown: impl std::future::Future<Output = ()>,
    on_ready: impl FnOnce(&Running),
) -> Result<(), StartError> {
    let started = Instant::now();
    let service_cidr = store::ServiceCidr::parse(&cfg.service_cidr)
        .ok_or_else(|| StartError::ServiceCidr(cfg.service_cidr.clone()))?;
    let advertise = cfg
        .advertise_address
        .unwrap_or(if cfg.bind_address.is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            cfg.bind_address
        });
    let server_dir = cfg.data_dir.join("server");
    let pki = pki::load_or_create(&PkiConfig {
        dir: server_dir.join("tls"),
        extra_sans: cfg.tls_sans.clone(),
        service_ip: Some(service_cidr.first().to_string()),
        advertise_address: Some(advertise.to_string()),
    })?;
    let tls = k3rs_auth::tls::server_config(&pki)?;
    k3rs_auth::token::ensure_server_token(
        &server_dir.join("token"),
        cfg.token.as_deref(),
        &pki.server_ca.cert_pem,
    )?;
    let store = k3rs_storage::open(&cfg.datastore_endpoint).await?;
    let token_path = server_dir.join("cred").join("tokens.csv");
    let tokens = if token_path.exists() {
        TokenFile::load(&token_path)?
    } else {
        TokenFile::default()
    };
    let addr = SocketAddr::new(cfg.bind_address, cfg.https_port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?;
    let metrics = Arc::new(metrics::Metrics::default());
    let api = store::Api {
        store: Arc::new(timed::Timed {
            inner: store.clone(),
            metrics: metrics.clone(),
        }),
        service_cidr,
    };
    bootstrap::run(
        &api,
        &pki.server_ca.cert_pem,
        &advertise.to_string(),
        addr.port(),
    )
    .await
    .map_err(|e| StartError::Bootstrap(e.message))?;
    // Established CRDs are served from the first request on.
    if let Err(e) = crd_controller::initial_sync(&api).await {
        tracing::warn!(error = %e.message, "registering CustomResourceDefinitions");
    }
    crd_controller::spawn(api.clone());
    if let Some(path) = &cfg.write_kubeconfig {
        let host = if cfg.bind_address.is_unspecified() || cfg.bind_address.is_loopback() {
            "127.0.0.1".to_string()
        } else {
            cfg.bind_address.to_string()
        };
        let kc = pki::kubeconfig(
            &format!("https://{host}:{}", addr.port()),
            &pki.server_ca.cert_pem,
            &pki.admin,
        );
        pki::write_file(path, kc.as_bytes(), cfg.write_kubeconfig_mode)?;
    }
    let handler = Arc::new(handler::Handler {
        api,
        tokens,
        metrics,
        ready: AtomicBool::new(false),
        inflight: Default::default(),
        server_address: format!("{advertise}:{}", addr.port()),
    });
    handler.ready.store(true, Ordering::SeqCst);
    tracing::info!(
        listen = %addr,
        datastore = store.kind(),
        ready_ms = started.elapsed().as_millis() as u64,
        "k3rs API server ready"
    );
    on_ready(&Running {
        addr,
        pki: pki.clone(),
    });
    server::serve(listener, tls, handler, shutdown).await;
    if let Err(e) = store.close().await {
        tracing::warn!(error = %e, "closing the datastore");
    }
    Ok(())
}
