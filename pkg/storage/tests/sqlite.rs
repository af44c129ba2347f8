//! Behaviour specific to the embedded SQLite store: group commit under heavy concurrency and
//! automatic compaction.

mod common;

use std::sync::Arc;
use std::time::Duration;

use k3rs_storage::{sqlite::SqliteBackend, Backend, Error, PutOptions, SqliteOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_writers_never_see_locked_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::sqlite_in(&dir, common::test_sqlite_options()).await;
    let mut tasks = Vec::new();
    for w in 0..256 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..20 {
                let key = format!("/gc/{w}/{i}");
                revs.push(s.create(key.as_bytes(), b"v", PutOptions::default()).await);
            }
            revs
        }));
    }
    let mut revs = Vec::new();
    for t in tasks {
        for r in t.await.unwrap() {
            revs.push(r.expect("every concurrent write succeeds"));
        }
    }
    revs.sort_unstable();
    revs.dedup();
    assert_eq!(revs.len(), 256 * 20, "one distinct revision per write");
    assert_eq!(
        store.current_revision().await.unwrap(),
        *revs.last().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_compaction_keeps_the_configured_window() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions {
        compact_min_age: Duration::ZERO,
        compact_min_revisions: 50,
        compact_interval: Duration::from_millis(100),
        ..common::test_sqlite_options()
    };
    let store = Arc::new(
        SqliteBackend::open(&dir.path().join("state.db"), opts)
            .await
            .unwrap(),
    );
    let mut rev = store
        .create(b"/ac/k", b"0", PutOptions::default())
        .await
        .unwrap();
    let first = rev;
    for i in 1..300 {
        rev = store
            .update(
                b"/ac/k",
                i.to_string().as_bytes(),
                rev,
                PutOptions::default(),
            )
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let compacted = store.compacted_revision().await.unwrap();
        if compacted >= rev - 50 {
            assert!(compacted <= rev - 50, "keeps at least 50 revisions");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no automatic compaction"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(
        store.get(b"/ac/k", first).await,
        Err(Error::Compacted { .. })
    ));
    let (kv, _) = store.get(b"/ac/k", rev - 50).await.unwrap();
    assert_eq!(kv.unwrap().value, b"249");
    // Superseded rows are really gone from the file.
    let c = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
    let rows: i64 = c
        .query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0))
        .unwrap();
    assert!(rows <= 52, "{rows} rows left after compaction");
}
