//! The k3rs API server.
//!
//! This crate owns the HTTP side of the Kubernetes API: the HTTPS listener (rustls, HTTP/1.1 and
//! HTTP/2), authentication and authorization of each request, routing, decoding and encoding,
//! discovery, health and metrics endpoints, and the one generic REST store that serves every kind
//! over the datastore. It knows kinds only through `k3rs-apis` and storage only through
//! `k3rs-storage`'s `Backend` trait. Its caller is `k3rs server` (`cmd/k3rs`); controllers and the
//! kubelet talk to it over HTTPS like any client, never through this crate.

pub mod admission;
pub mod authz;
pub mod bootstrap;
pub mod convert;
pub mod crd_controller;
pub mod discovery;
pub mod encryption;
pub mod fieldmanager;
pub mod fieldvalidation;
pub mod handler;
pub mod metrics;
pub mod object;
pub mod openapi;
pub mod patch;
pub mod request;
pub mod review;
pub mod scale;
pub mod server;
pub mod serviceaccount;
pub mod status;
pub mod store;
pub mod strategy;
pub mod timed;
pub mod webhook;

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
    /// Which requests without credentials are served as `system:anonymous`.
    pub anonymous: handler::Anonymous,
    /// `iss` of service-account tokens (`--service-account-issuer`).
    pub service_account_issuer: String,
    /// Audiences the server accepts tokens for (`--api-audiences`; empty: the issuer).
    pub api_audiences: Vec<String>,
    /// Encrypt Secrets at rest (`--secrets-encryption`). Once the configuration file
    /// `<data-dir>/server/cred/encryption-config.json` exists it is used on every start.
    pub secrets_encryption: bool,
    /// Admission plugins to run besides the default set (`--enable-admission-plugins`).
    pub enable_admission_plugins: Vec<String>,
    /// Default admission plugins not to run (`--disable-admission-plugins`).
    pub disable_admission_plugins: Vec<String>,
    /// `--runtime-config`: `<group>/<version>[=true|false]` entries turning beta APIs on.
    pub runtime_config: Vec<String>,
    /// `--feature-gates`: `<Gate>=true|false` entries.
    pub feature_gates: Vec<String>,
}

/// Applies `--runtime-config` and `--feature-gates` as upstream v1.35 does for the beta APIs
/// k3rs can serve ([`k3rs_apis::registry::BETA_APIS`]): a beta group/version is served when
/// the runtime config enables it and its feature gate is on. Other gates and group/versions are
/// refused, so a flag that would do nothing is never silently accepted.
pub fn apply_api_flags(runtime_config: &[String], feature_gates: &[String]) -> Result<(), String> {
    use k3rs_apis::registry::BETA_APIS;
    let parse_bool = |what: &str, v: &str| -> Result<bool, String> {
        match v.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!(
                "invalid value of {what}: {v}, err: expected true or false"
            )),
        }
    };
    let mut gates: Vec<(&str, bool)> = Vec::new();
    for g in feature_gates
        .iter()
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
    {
        let (name, value) = g
            .split_once('=')
            .ok_or_else(|| format!("missing bool value for {g}"))?;
        let name = name.trim();
        if !BETA_APIS.iter().any(|(_, gate)| *gate == name) {
            return Err(format!("unrecognized feature gate: {name}"));
        }
        gates.push((name, parse_bool(name, value.trim())?));
    }
    for entry in runtime_config
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
    {
        let (gv, value) = entry.split_once('=').unwrap_or((entry, "true"));
        if !parse_bool(gv, value)? {
            continue;
        }
        let Some((_, gate)) = BETA_APIS.iter().find(|(g, _)| *g == gv) else {
            return Err(format!(
                "--runtime-config {gv}: k3rs can only turn on {}",
                BETA_APIS
                    .iter()
                    .map(|(g, _)| *g)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if !gates.iter().any(|(n, on)| n == gate && *on) {
            return Err(format!(
                "--runtime-config {gv} needs --feature-gates {gate}=true (as upstream)"
            ));
        }
        k3rs_apis::registry::enable_beta(gv)?;
    }
    Ok(())
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
    #[error("{0}")]
    Encryption(String),
    #[error("admission: {0}")]
    Admission(String),
    #[error("{0}")]
    Flags(String),
}

/// A running server, for callers that start clients of it (controllers).
pub struct Running {
    pub addr: SocketAddr,
    /// The cluster PKI (to issue client certificates for in-process clients).
    pub pki: k3rs_auth::pki::Pki,
    /// The service-account token signer, for in-process controllers that must sign tokens
    /// (the legacy token controller); it is never exposed over the API.
    pub token_issuer: serviceaccount::IssuerCell,
}

/// Where the encryption configuration lives (as k3s: `<data-dir>/server/cred/encryption-config.json`).
pub fn encryption_config_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("server/cred/encryption-config.json")
}

/// The lock a server holds on its encryption configuration while it runs, so that
/// `k3rs secrets-encrypt rotate-keys` refuses to run alongside it.
pub fn encryption_lock_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("server/cred/encryption.lock")
}

/// Starts the server and serves until `shutdown` resolves; `on_ready` is called once it serves.
pub async fn run(
    cfg: Config,
    shutdown: impl std::future::Future<Output = ()>,
    on_ready: impl FnOnce(&Running),
) -> Result<(), StartError> {
    let started = Instant::now();
    apply_api_flags(&cfg.runtime_config, &cfg.feature_gates).map_err(StartError::Flags)?;
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
    let token_issuer = serviceaccount::IssuerCell::load_or_generate(
        server_dir.join("tls/service.key"),
        &cfg.service_account_issuer,
        cfg.api_audiences.clone(),
    )?;
    let raw_store = k3rs_storage::open(&cfg.datastore_endpoint).await?;
    let enc_path = encryption_config_path(&cfg.data_dir);
    let (store, _encryption_lock): (k3rs_storage::Store, Option<std::fs::File>) = if cfg
        .secrets_encryption
        || enc_path.exists()
    {
        if !cfg.secrets_encryption {
            tracing::warn!(config = %enc_path.display(), "secrets encryption was enabled for this data dir; keeping it on");
        }
        let lock = k3rs_auth::encryption::lock_exclusive(&encryption_lock_path(&cfg.data_dir))?;
        let ecfg = k3rs_auth::encryption::EncryptionConfig::load_or_create(&enc_path)?;
        let rules = encryption::Rules::from_config(&ecfg).map_err(StartError::Encryption)?;
        tracing::info!(resources = ?ecfg.resource_names(), "encryption at rest enabled");
        (
            Arc::new(encryption::Encrypted {
                inner: raw_store,
                rules: Arc::new(rules),
            }),
            Some(lock),
        )
    } else {
        (raw_store, None)
    };
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
        admission: admission::Chain::configured(
            &cfg.enable_admission_plugins,
            &cfg.disable_admission_plugins,
        )
        .map_err(|e| StartError::Admission(e.to_string()))?,
    };
    tracing::info!(plugins = ?api.admission.names(), "admission");
    bootstrap::run(
        &api,
        &pki.server_ca.cert_pem,
        &advertise.to_string(),
        addr.port(),
    )
    .await
    .map_err(|e| StartError::Bootstrap(e.message))?;
    bootstrap::rbac_policy(&api)
        .await
        .map_err(|e| StartError::Bootstrap(e.message))?;
    let authz = Arc::new(authz::Authorizer::default());
    admission::policy::set_authorizer(authz.clone());
    authz.start(&api).await.map_err(|e| {
        StartError::Bootstrap(format!("loading the authorizer's state: {}", e.message))
    })?;
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
    let service_accounts = Arc::new(serviceaccount::ServiceAccounts {
        issuer: token_issuer.clone(),
        jwks_uri: format!(
            "https://{}{}",
            match advertise {
                IpAddr::V6(v6) => format!("[{v6}]:{}", addr.port()),
                IpAddr::V4(v4) => format!("{v4}:{}", addr.port()),
            },
            k3rs_auth::serviceaccount::JWKS_PATH
        ),
        max_expiration_seconds: 0,
        extend_expiration: true,
    });
    let handler = Arc::new(handler::Handler {
        api,
        tokens,
        service_accounts,
        metrics,
        ready: AtomicBool::new(false),
        inflight: Default::default(),
        authz,
        anonymous: cfg.anonymous,
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
        token_issuer,
    });
    server::serve(listener, tls, handler, shutdown).await;
    if let Err(e) = store.close().await {
        tracing::warn!(error = %e, "closing the datastore");
    }
    Ok(())
}

#[cfg(test)]
mod flag_tests {
    use super::apply_api_flags;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn runtime_config_and_feature_gates_are_checked() {
        assert_eq!(apply_api_flags(&[], &[]), Ok(()));
        let e = apply_api_flags(&[], &v(&["NoSuchGate=true"])).unwrap_err();
        assert_eq!(e, "unrecognized feature gate: NoSuchGate");
        let e = apply_api_flags(&[], &v(&["MutatingAdmissionPolicy=maybe"])).unwrap_err();
        assert!(
            e.contains("invalid value of MutatingAdmissionPolicy"),
            "{e}"
        );
        let e =
            apply_api_flags(&v(&["admissionregistration.k8s.io/v1beta1=true"]), &[]).unwrap_err();
        assert!(
            e.contains("needs --feature-gates MutatingAdmissionPolicy=true"),
            "{e}"
        );
        let e = apply_api_flags(&v(&["batch/v2alpha1=true"]), &[]).unwrap_err();
        assert!(
            e.contains("k3rs can only turn on admissionregistration.k8s.io/v1beta1"),
            "{e}"
        );
        // Turned off: nothing to do.
        assert_eq!(
            apply_api_flags(&v(&["admissionregistration.k8s.io/v1beta1=false"]), &[]),
            Ok(())
        );
    }
}
