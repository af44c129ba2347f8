//! `k3rs server`: flags (named as k3s') → `k3rs_apiserver::Config`.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// Data directory (default /var/lib/k3rs as root, ~/.k3rs otherwise).
    #[arg(long, short = 'd', env = "K3RS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HTTPS port of the API server.
    #[arg(long, default_value_t = 6443, env = "K3RS_HTTPS_LISTEN_PORT")]
    https_listen_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// Address advertised to the cluster (in the `kubernetes` Endpoints and the serving cert).
    #[arg(long)]
    advertise_address: Option<IpAddr>,
    /// Extra DNS names or IPs for the serving certificate (repeatable).
    #[arg(long = "tls-san")]
    tls_san: Vec<String>,
    /// sqlite:///path/state.db (default: <data-dir>/server/db/state.db) or http://host:2379,...
    #[arg(long, env = "K3RS_DATASTORE_ENDPOINT")]
    datastore_endpoint: Option<String>,
    /// Where to write the admin kubeconfig (default /etc/k3rs/k3rs.yaml as root,
    /// <data-dir>/server/cred/admin.kubeconfig otherwise).
    #[arg(long, short = 'o', env = "K3RS_KUBECONFIG_OUTPUT")]
    write_kubeconfig: Option<PathBuf>,
    /// File mode of the written kubeconfig, octal.
    #[arg(long, default_value = "600", env = "K3RS_KUBECONFIG_MODE")]
    write_kubeconfig_mode: String,
    /// Cluster join token (a secret, or k3s' full `K10<ca-hash>::server:<secret>` form); generated
    /// and stored under the data dir when absent, shown by `k3rs token`.
    #[arg(long, env = "K3RS_TOKEN")]
    token: Option<String>,
    /// Service IP range.
    #[arg(long, default_value = "10.43.0.0/16")]
    service_cidr: String,
    /// Requests without credentials: `public` (default) serves them as system:anonymous on
    /// /healthz, /livez, /readyz and /version only (401 elsewhere); `true` on every path (RBAC then
    /// answers 403 on most, as upstream's --anonymous-auth=true); `false` answers 401 everywhere.
    #[arg(long, default_value = "public", value_parser = ["public", "true", "false"])]
    anonymous_auth: String,
    /// Issuer (`iss`) of service-account tokens; also the default API audience.
    #[arg(long, default_value = k3rs_auth::serviceaccount::DEFAULT_ISSUER)]
    service_account_issuer: String,
    /// Audiences the API server accepts service-account tokens for (comma-separated or
    /// repeated; default: the issuer).
    #[arg(long, value_delimiter = ',')]
    api_audiences: Vec<String>,
    /// Encrypt Secrets at rest (AES-CBC, key in <data-dir>/server/cred/encryption-config.json;
    /// rotate with `k3rs secrets-encrypt rotate-keys` while the server is stopped).
    #[arg(long, env = "K3RS_SECRETS_ENCRYPTION")]
    secrets_encryption: bool,
    /// Admission plugins to run besides the default set (upstream names, comma-separated).
    #[arg(long, value_delimiter = ',')]
    enable_admission_plugins: Vec<String>,
    /// Default admission plugins not to run (upstream names, comma-separated).
    #[arg(long, value_delimiter = ',')]
    disable_admission_plugins: Vec<String>,
    /// Beta APIs to serve, as upstream's `--runtime-config` (`<group>/<version>=true`,
    /// comma-separated); k3rs can serve admissionregistration.k8s.io/v1beta1
    /// (MutatingAdmissionPolicy), with its feature gate.
    #[arg(long, value_delimiter = ',')]
    runtime_config: Vec<String>,
    /// Feature gates, as upstream's `--feature-gates` (`<Gate>=true|false`, comma-separated);
    /// k3rs knows MutatingAdmissionPolicy.
    #[arg(long, value_delimiter = ',')]
    feature_gates: Vec<String>,
    /// Do not run the agent (the agent does not exist yet; accepted for k3s compatibility).
    #[arg(long)]
    disable_agent: bool,
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(crate::default_data_dir);
    let endpoint =
        crate::datastore::resolve_endpoint(args.datastore_endpoint, Some(data_dir.clone()));
    let mode = u32::from_str_radix(&args.write_kubeconfig_mode, 8).with_context(|| {
        format!(
            "--write-kubeconfig-mode {:?} is not an octal mode",
            args.write_kubeconfig_mode
        )
    })?;
    let kubeconfig = args.write_kubeconfig.unwrap_or_else(|| {
        if is_root() {
            PathBuf::from("/etc/k3rs/k3rs.yaml")
        } else {
            data_dir.join("server/cred/admin.kubeconfig")
        }
    });
    let _ = args.disable_agent;
    let cfg = k3rs_apiserver::Config {
        data_dir,
        bind_address: args.bind_address,
        https_port: args.https_listen_port,
        advertise_address: args.advertise_address,
        tls_sans: args.tls_san,
        datastore_endpoint: endpoint,
        write_kubeconfig: Some(kubeconfig.clone()),
        write_kubeconfig_mode: mode,
        service_cidr: args.service_cidr,
        token: args.token,
        anonymous: match args.anonymous_auth.as_str() {
            "true" => k3rs_apiserver::handler::Anonymous::All,
            "false" => k3rs_apiserver::handler::Anonymous::Disabled,
            _ => k3rs_apiserver::handler::Anonymous::PublicPaths,
        },
        service_account_issuer: args.service_account_issuer,
        api_audiences: args.api_audiences,
        secrets_encryption: args.secrets_encryption,
        enable_admission_plugins: args.enable_admission_plugins,
        disable_admission_plugins: args.disable_admission_plugins,
        runtime_config: args.runtime_config,
        feature_gates: args.feature_gates,
    };
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let controllers = tokio::spawn(async move {
        let Ok((addr, pki, issuer)) = ready_rx.await else {
            return;
        };
        if let Err(e) = run_controllers(addr, pki, issuer).await {
            tracing::error!(error = %e, "controllers could not start");
        }
    });
    let result = k3rs_apiserver::run(cfg, crate::datastore::shutdown_signal(), |r| {
        tracing::info!(addr = %r.addr, kubeconfig = %kubeconfig.display(), "use: kubectl --kubeconfig {}", kubeconfig.display());
        let _ = ready_tx.send((r.addr, r.pki.clone(), r.token_issuer.clone()));
    })
    .await;
    controllers.abort();
    result.context("k3rs server")?;
    Ok(())
}

/// Starts the controllers as clients of the API server, with their own client certificate: user
/// `system:kube-controller-manager` with no groups, authorized by RBAC alone (its bootstrap role plus
/// the `system:controller:*` roles of the controllers k3rs runs, bound to it by the bootstrap policy).
/// The service-account signer is passed in-process (the legacy token controller signs with it).
async fn run_controllers(
    addr: std::net::SocketAddr,
    pki: k3rs_auth::pki::Pki,
    token_issuer: k3rs_apiserver::serviceaccount::IssuerCell,
) -> anyhow::Result<()> {
    let cert = k3rs_auth::pki::issue_client_cert(
        &pki.client_ca,
        "system:kube-controller-manager",
        &[],
        365,
    )?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    // The configuration a kubeconfig with this server, CA and client certificate gives, built
    // directly: no YAML is written and parsed back (that parser is otherwise unused by the server).
    use base64::Engine;
    let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
    let mut config = kube::Config::new(format!("https://{host}:{}", addr.port()).parse()?);
    config.root_cert = Some(
        pki.server_ca
            .cert_chain_der()?
            .iter()
            .map(|c| c.to_vec())
            .collect(),
    );
    config.auth_info = kube::config::AuthInfo {
        client_certificate_data: Some(b64(&cert.cert_pem)),
        client_key_data: Some(b64(&cert.key_pem).into()),
        ..Default::default()
    };
    let client = http2_client(&config)?;
    k3rs_controllers::run(client, pki.server_ca.cert_pem.clone(), async move {
        token_issuer.get().await
    })
    .await;
    Ok(())
}

/// A kube-rs client that speaks HTTP/2 only, as client-go does: the controllers' requests and
/// their watches (the garbage collector alone watches every resource) share one TLS connection
/// instead of one HTTP/1.1 connection each. kube-rs' own transport is HTTP/1.1 only; the layers
/// above it (base URI, client certificate, retries of 5xx on idempotent requests) are kube-rs'.
fn http2_client(config: &kube::Config) -> anyhow::Result<kube::Client> {
    use kube::client::ConfigExt;
    let tls = config.rustls_client_config()?;
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_connect_timeout(config.connect_timeout);
    tcp.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http2()
        .wrap_connector(tcp);
    let transport =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            // A dead connection is noticed without waiting for a watch to time out.
            .http2_keep_alive_interval(std::time::Duration::from_secs(30))
            .http2_keep_alive_while_idle(true)
            .timer(hyper_util::rt::TokioTimer::new())
            .build::<_, kube::client::Body>(https);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.default_retry.then(|| {
            tower::retry::RetryLayer::new(kube::client::retry::RetryPolicy::server_retry())
        }))
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(transport);
    Ok(kube::Client::new(service, config.default_namespace.clone()))
}
