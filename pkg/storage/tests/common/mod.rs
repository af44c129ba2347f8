//! Test harness: real datastores. SQLite in a temp dir; etcd as a real `etcd` process on free ports.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

pub use k3rs_storage::testing::Etcd;
use k3rs_storage::{sqlite::SqliteBackend, SqliteOptions, Store};

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
