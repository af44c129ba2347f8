//! Test harness: real datastores. SQLite in a temp dir; etcd as a real `etcd` process on free ports.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k3rs_storage::{etcd::EtcdBackend, sqlite::SqliteBackend, SqliteOptions, Store};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// A real etcd server, killed on drop.
pub struct Etcd {
    child: Child,
    _dir: tempfile::TempDir,
    pub url: String,
}

impl Etcd {
    pub fn start() -> Etcd {
        let bin = std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".into());
        let dir = tempfile::tempdir().expect("tempdir");
        let (client, peer) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client}");
        let child = Command::new(&bin)
            .arg("--name=k3rs-test")
            .arg(format!("--data-dir={}", dir.path().join("etcd").display()))
            .arg(format!("--listen-client-urls={url}"))
            .arg(format!("--advertise-client-urls={url}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!(
                "--initial-cluster=k3rs-test=http://127.0.0.1:{peer}"
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} (install etcd-server): {e}"));
        Etcd {
            child,
            _dir: dir,
            url,
        }
    }

    pub async fn backend(&self) -> Store {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match EtcdBackend::connect(&[self.url.clone()]).await {
                Ok(b) => return Arc::new(b),
                Err(e) if Instant::now() > deadline => panic!("etcd did not come up: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Options for tests: fast TTL sweeps, no automatic compaction unless a test asks.
pub fn test_sqlite_options() -> SqliteOptions {
    SqliteOptions {
        compact_interval: Duration::from_secs(3600),
        ttl_interval: Duration::from_millis(200),
        ..SqliteOptions::default()
    }
}

pub async fn sqlite_in(dir: &tempfile::TempDir, opts: SqliteOptions) -> Store {
    Arc::new(
        SqliteBackend::open(&dir.path().join("db/state.db"), opts)
            .await
            .expect("open sqlite"),
    )
}

/// A running backend and whatever keeps it alive.
pub enum Guard {
    Sqlite(tempfile::TempDir),
    Etcd(Etcd),
}

pub async fn backend(kind: &str) -> (Store, Guard) {
    match kind {
        "sqlite" => {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = sqlite_in(&dir, test_sqlite_options()).await;
            (store, Guard::Sqlite(dir))
        }
        "etcd" => {
            let etcd = Etcd::start();
            let store = etcd.backend().await;
            (store, Guard::Etcd(etcd))
        }
        other => panic!("unknown backend {other}"),
    }
}
