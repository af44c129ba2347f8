//! `k3rs datastore ...`: the etcd API on top of the k3rs datastore.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum Command {
    /// Serve the etcd v3 API (KV, Watch, Lease, Maintenance) on top of a k3rs datastore, so
    /// etcdctl or a stock kube-apiserver can use it.
    Serve {
        /// sqlite:///path/state.db (default: <data-dir>/server/db/state.db) or http://host:2379,...
        #[arg(long, env = "K3RS_DATASTORE_ENDPOINT")]
        datastore_endpoint: Option<String>,
        /// Data directory (default /var/lib/k3rs as root, ~/.k3rs otherwise).
        #[arg(long, env = "K3RS_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Where to serve the etcd API (one http:// URL).
        #[arg(long, default_value = "http://127.0.0.1:2379")]
        listen_client_urls: String,
    },
}

/// The endpoint to use: the flag, or the embedded SQLite store under the data directory.
pub fn resolve_endpoint(endpoint: Option<String>, data_dir: Option<PathBuf>) -> String {
    endpoint.unwrap_or_else(|| {
        let dir = data_dir.unwrap_or_else(crate::default_data_dir);
        format!("sqlite://{}", dir.join("server/db/state.db").display())
    })
}

fn listen_addr(url: &str) -> anyhow::Result<String> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("--listen-client-urls {url:?}: only one http://host:port URL is supported");
    };
    let addr = rest.trim_end_matches('/');
    if addr.contains(',') || addr.contains('/') || addr.is_empty() {
        bail!("--listen-client-urls {url:?}: only one http://host:port URL is supported");
    }
    Ok(addr.to_string())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures_pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}

async fn futures_pending() {
    std::future::pending::<()>().await
}

pub async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Serve {
            datastore_endpoint,
            data_dir,
            listen_client_urls,
        } => {
            let endpoint = resolve_endpoint(datastore_endpoint, data_dir);
            let addr = listen_addr(&listen_client_urls)?;
            let store = k3rs_storage::open(&endpoint)
                .await
                .with_context(|| format!("opening datastore {endpoint}"))?;
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("listening on {addr}"))?;
            tracing::info!(
                endpoint = %endpoint,
                listen = %listen_client_urls,
                backend = store.kind(),
                "serving the etcd API"
            );
            k3rs_storage::server::serve(store.clone(), listener, shutdown_signal())
                .await
                .context("etcd API server failed")?;
            store.close().await.context("closing the datastore")?;
            tracing::info!("stopped");
            Ok(())
        }
    }
}
