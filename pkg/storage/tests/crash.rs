//! Crash safety of the SQLite store: a child process writes under load and prints every acknowledged
//! write; it is killed with SIGKILL mid-load; after reopening, every acknowledged write is there.
//! Also: files that are not a k3rs datastore are refused and never modified.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k3rs_storage::{prefix_end, sqlite::SqliteBackend, Backend, Error, ListOptions, PutOptions};

const CHILD_ENV: &str = "K3RS_CRASH_CHILD_DB";

/// Not a test of its own: the body of the child process `kill_9_loses_no_acknowledged_write`
/// starts (it returns at once when run normally).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(db) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Arc::new(
        SqliteBackend::open(db.as_ref(), common::test_sqlite_options())
            .await
            .expect("child: open"),
    );
    let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let run = std::process::id();
    let mut tasks = Vec::new();
    for w in 0..32 {
        let (store, out) = (store.clone(), out.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let key = format!("/crash/{run}/{w}/{i}");
                let value = vec![b'x'; 512];
                let rev = store
                    .create(key.as_bytes(), &value, PutOptions::default())
                    .await
                    .expect("child: create");
                let mut o = out.lock().expect("stdout");
                writeln!(o, "ACK {key} {rev}").expect("stdout");
                o.flush().expect("flush");
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Runs the child until it has acknowledged `min_acks` writes, SIGKILLs it, and returns every
/// write it acknowledged (key → revision).
fn run_child_and_kill(db: &std::path::Path, min_acks: usize) -> HashMap<String, i64> {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let acks = Arc::new(std::sync::Mutex::new(HashMap::new()));
    let sink = acks.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some((k, r)) = line.strip_prefix("ACK ").and_then(|l| l.rsplit_once(' ')) {
                let rev = r.parse::<i64>().expect("rev");
                sink.lock().expect("acks").insert(k.to_string(), rev);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.lock().expect("acks").len() < min_acks && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Mid-load: the child is still writing when it dies.
    child.kill().expect("SIGKILL child");
    let _ = child.wait();
    reader.join().expect("reader");
    let acks = std::mem::take(&mut *acks.lock().expect("acks"));
    assert!(
        acks.len() >= min_acks,
        "child acknowledged only {} writes",
        acks.len()
    );
    acks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let mut all = HashMap::new();
    // Twice: the second child starts on the database the first one left behind after SIGKILL.
    for round in 0..2 {
        let acks = run_child_and_kill(&db, 3000);
        eprintln!(
            "round {round}: {} acknowledged writes before SIGKILL",
            acks.len()
        );
        all.extend(acks);
    }
    let store = SqliteBackend::open(&db, common::test_sqlite_options())
        .await
        .unwrap();
    let list = k3rs_storage::Backend::list(
        &store,
        b"/crash/",
        &prefix_end(b"/crash/"),
        ListOptions::default(),
    )
    .await
    .unwrap();
    let stored: HashMap<String, i64> = list
        .kvs
        .iter()
        .map(|kv| {
            (
                String::from_utf8_lossy(&kv.key).into_owned(),
                kv.mod_revision,
            )
        })
        .collect();
    for (key, rev) in &all {
        assert_eq!(
            stored.get(key),
            Some(rev),
            "acknowledged write {key}@{rev} lost"
        );
    }
    // Revisions are unique and strictly increasing in key-creation order per writer.
    let mut revs: Vec<i64> = stored.values().copied().collect();
    revs.sort_unstable();
    assert!(revs.windows(2).all(|w| w[0] < w[1]), "duplicate revisions");
    let current = k3rs_storage::Backend::current_revision(&store)
        .await
        .unwrap();
    assert!(current >= *revs.last().unwrap());
    let next = k3rs_storage::Backend::create(&store, b"/crash/after", b"v", PutOptions::default())
        .await
        .unwrap();
    assert!(next > current, "revisions keep increasing after a crash");
}

fn file_bytes(p: &std::path::Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[tokio::test]
async fn garbage_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let garbage: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2654435761u32) >> 13) as u8)
        .collect();
    std::fs::write(&db, &garbage).unwrap();
    let err = SqliteBackend::open(&db, common::test_sqlite_options())
        .await
        .err()
        .expect("must fail");
    assert!(matches!(err, Error::ForeignDatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("not a SQLite database"), "{err}");
    assert_eq!(file_bytes(&db), garbage, "file must not be modified");
}

#[tokio::test]
async fn truncated_datastore_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    {
        let s = SqliteBackend::open(&db, common::test_sqlite_options())
            .await
            .unwrap();
        k3rs_storage::Backend::create(&s, b"/a", b"v", PutOptions::default())
            .await
            .unwrap();
        s.close().await.unwrap();
    }
    assert!(
        file_bytes(&db).len() > 100,
        "checkpointed into the main file"
    );
    // Simulate a damaged header.
    let mut bytes = file_bytes(&db);
    if bytes.len() >= 100 {
        bytes[..16].copy_from_slice(b"garbage garbage!");
    } else {
        bytes = b"garbage garbage!".repeat(10);
    }
    std::fs::write(&db, &bytes).unwrap();
    let err = SqliteBackend::open(&db, common::test_sqlite_options())
        .await
        .err()
        .expect("must fail");
    assert!(matches!(err, Error::ForeignDatabase { .. }), "{err:?}");
    assert_eq!(file_bytes(&db), bytes);
}

#[tokio::test]
async fn foreign_sqlite_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE kine (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO kine (name) VALUES ('x');")
            .unwrap();
    }
    let before = file_bytes(&db);
    let err = SqliteBackend::open(&db, common::test_sqlite_options())
        .await
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("another program"), "{err}");
    assert!(
        err.to_string().contains("kine"),
        "names the tables it found: {err}"
    );
    assert_eq!(file_bytes(&db), before, "file must not be modified");
    assert!(
        !dir.path().join("state.db-wal").exists(),
        "no WAL was created"
    );
}

#[tokio::test]
async fn reopening_keeps_data_and_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let rev = {
        let s = SqliteBackend::open(&db, common::test_sqlite_options())
            .await
            .unwrap();
        let r = k3rs_storage::Backend::create(&s, b"/a", b"v", PutOptions::default())
            .await
            .unwrap();
        k3rs_storage::Backend::compact(&s, r).await.unwrap();
        r
    };
    let s = SqliteBackend::open(&db, common::test_sqlite_options())
        .await
        .unwrap();
    assert_eq!(
        k3rs_storage::Backend::current_revision(&s).await.unwrap(),
        rev
    );
    assert_eq!(
        k3rs_storage::Backend::compacted_revision(&s).await.unwrap(),
        rev
    );
    let (kv, _) = k3rs_storage::Backend::get(&s, b"/a", 0).await.unwrap();
    assert_eq!(kv.unwrap().value, b"v");
}
