//! The embedded SQLite backend: one log table, a handful of queries.
//!
//! ```text
//! kv(id INTEGER PRIMARY KEY AUTOINCREMENT  -- the revision of this write
//!    name BLOB, created, deleted, create_revision, prev_revision, version, lease, expires_at, value)
//! ```
//! Every write appends a row; the current value of a key is its newest row; a delete appends a
//! tombstone that keeps the deleted value (so watchers replaying history get it). All writes go through
//! one writer thread that takes every request queued while the previous transaction was committing and
//! commits them together (group commit); after each commit it pushes the new events to subscribers.
//! Reads run on a small pool of read-only connections (WAL lets them run beside the writer).
//! Compaction deletes superseded rows below a revision in small chunks, between writes.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{
    key_str, Backend, Error, Event, EventType, KeyValue, ListOptions, ListResult, PutOptions,
    Result, Revision, SqliteOptions, WatchMessage, WatchOptions, WatchStream,
};

/// `PRAGMA application_id` of a k3rs datastore ("k3rs" in ASCII), so foreign files are recognised.
const APPLICATION_ID: i32 = 0x6b33_7273;
const SCHEMA_VERSION: i64 = 1;
const MAX_BATCH: usize = 1024;
const REPLAY_CHUNK: i64 = 1000;
const COMPACT_CHUNK: i64 = 2000;
const MAX_IDLE_READERS: usize = 8;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name BLOB NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    version INTEGER NOT NULL,
    lease INTEGER NOT NULL,
    expires_at INTEGER,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id DESC);
CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS kv_tombstones ON kv (name, id) WHERE deleted = 1;
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
";

/// State shared by the writer thread and readers.
struct State {
    current: AtomicI64,
    compacted: AtomicI64,
    events: broadcast::Sender<Arc<Vec<Event>>>,
}

struct Inner {
    path: PathBuf,
    state: Arc<State>,
    writes: mpsc::Sender<WriteReq>,
    readers: Mutex<Vec<Connection>>,
}

/// The embedded datastore. Cheap to share behind an `Arc`; dropping the last handle stops the
/// background tasks and, once pending watches end, the writer thread.
pub struct SqliteBackend {
    inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for SqliteBackend {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

enum Op {
    Create {
        key: Vec<u8>,
        value: Vec<u8>,
        lease: i64,
        expires_at: Option<i64>,
    },
    Update {
        key: Vec<u8>,
        value: Vec<u8>,
        expected: Revision,
        lease: i64,
        expires_at: Option<i64>,
    },
    Delete {
        key: Vec<u8>,
        expected: Option<Revision>,
    },
    SetCompacted(Revision),
    CompactChunk {
        lo: Revision,
        hi: Revision,
        upto: Revision,
    },
    /// Checkpoint the WAL into the database file and stop the writer.
    Close,
}

enum OpResult {
    Rev(Revision),
    Deleted(Revision, KeyValue),
    Done,
}

struct WriteReq {
    op: Op,
    reply: oneshot::Sender<Result<OpResult>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn foreign(path: &Path, reason: impl Into<String>) -> Error {
    Error::ForeignDatabase {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Refuses files that are not a k3rs datastore, before SQLite is allowed to change anything.
fn check_existing(path: &Path) -> Result<()> {
    let mut header = [0u8; 100];
    let mut f = std::fs::File::open(path)?;
    let n = f.read(&mut header)?;
    if n == 0 {
        return Ok(());
    }
    if n < 100 || &header[..16] != b"SQLite format 3\0" {
        return Err(foreign(
            path,
            "not a SQLite database (corrupt, truncated or another kind of file); it was left untouched",
        ));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| foreign(path, format!("unreadable SQLite database: {e}")))?;
    if app == APPLICATION_ID {
        let version: Option<i64> = conn
            .query_row("SELECT v FROM meta WHERE k = 'schema_version'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| foreign(path, format!("damaged k3rs datastore: {e}")))?;
        return match version {
            Some(SCHEMA_VERSION) => Ok(()),
            other => Err(foreign(
                path,
                format!("k3rs datastore with unsupported schema version {other:?}"),
            )),
        };
    }
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| foreign(path, format!("unreadable SQLite database: {e}")))?;
    if tables.is_empty() {
        return Ok(());
    }
    Err(foreign(
        path,
        format!(
            "it is a SQLite database of another program (tables: {}); k3rs will not modify it",
            tables.join(", ")
        ),
    ))
}

fn open_conn(path: &Path, fsync: bool) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(foreign(
            path,
            format!("cannot enable WAL mode (got {mode})"),
        ));
    }
    conn.execute_batch(if fsync {
        "PRAGMA synchronous = FULL;"
    } else {
        "PRAGMA synchronous = NORMAL;"
    })?;
    Ok(conn)
}

fn row_kv(r: &rusqlite::Row<'_>) -> rusqlite::Result<(KeyValue, bool)> {
    // Column order: id, name, deleted, create_revision, version, lease, value
    Ok((
        KeyValue {
            mod_revision: r.get(0)?,
            key: r.get(1)?,
            create_revision: r.get(3)?,
            version: r.get(4)?,
            lease: r.get(5)?,
            value: r.get(6)?,
        },
        r.get::<_, i64>(2)? != 0,
    ))
}

const LATEST: &str = "SELECT id, name, deleted, create_revision, version, lease, value FROM kv \
                      WHERE name = ?1 AND id <= ?2 ORDER BY id DESC LIMIT 1";

fn latest_at(conn: &Connection, key: &[u8], rev: Revision) -> Result<Option<KeyValue>> {
    let mut stmt = conn.prepare_cached(LATEST)?;
    let row = stmt.query_row(params![key, rev], row_kv).optional()?;
    Ok(row.and_then(|(kv, deleted)| (!deleted).then_some(kv)))
}

#[allow(clippy::too_many_arguments)]
fn insert(
    tx: &Connection,
    id: Revision,
    key: &[u8],
    created: bool,
    deleted: bool,
    create_revision: Revision,
    prev_revision: Revision,
    version: i64,
    lease: i64,
    expires_at: Option<i64>,
    value: &[u8],
) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, version, \
         lease, expires_at, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    stmt.execute(params![
        id,
        key,
        created as i64,
        deleted as i64,
        create_revision,
        prev_revision,
        version,
        lease,
        expires_at,
        value
    ])?;
    Ok(())
}

/// Applies one write inside the writer's open transaction. Logical failures (exists, conflict)
/// write nothing; SQLite errors abort the whole batch.
fn apply(
    tx: &Connection,
    next: &mut Revision,
    op: Op,
    events: &mut Vec<Event>,
    compacted: &mut Option<Revision>,
) -> Result<OpResult> {
    match op {
        Op::Create {
            key,
            value,
            lease,
            expires_at,
        } => {
            let prev = latest_at(tx, &key, i64::MAX)?;
            if let Some(p) = prev {
                return Err(Error::KeyExists {
                    key: key_str(&key),
                    revision: p.mod_revision,
                });
            }
            let rev = *next + 1;
            insert(
                tx, rev, &key, true, false, rev, 0, 1, lease, expires_at, &value,
            )?;
            *next = rev;
            events.push(Event {
                kind: EventType::Put,
                kv: KeyValue {
                    key,
                    value,
                    create_revision: rev,
                    mod_revision: rev,
                    version: 1,
                    lease,
                },
                prev: None,
            });
            Ok(OpResult::Rev(rev))
        }
        Op::Update {
            key,
            value,
            expected,
            lease,
            expires_at,
        } => {
            let Some(cur) = latest_at(tx, &key, i64::MAX)? else {
                return Err(Error::NotFound { key: key_str(&key) });
            };
            if cur.mod_revision != expected {
                return Err(Error::Conflict {
                    key: key_str(&key),
                    expected,
                    current: Some(Box::new(cur)),
                });
            }
            let rev = *next + 1;
            let kv = KeyValue {
                key,
                value,
                create_revision: cur.create_revision,
                mod_revision: rev,
                version: cur.version + 1,
                lease,
            };
            insert(
                tx,
                rev,
                &kv.key,
                false,
                false,
                kv.create_revision,
                cur.mod_revision,
                kv.version,
                lease,
                expires_at,
                &kv.value,
            )?;
            *next = rev;
            events.push(Event {
                kind: EventType::Put,
                kv,
                prev: Some(cur),
            });
            Ok(OpResult::Rev(rev))
        }
        Op::Delete { key, expected } => {
            let Some(cur) = latest_at(tx, &key, i64::MAX)? else {
                return Err(Error::NotFound { key: key_str(&key) });
            };
            if let Some(expected) = expected {
                if cur.mod_revision != expected {
                    return Err(Error::Conflict {
                        key: key_str(&key),
                        expected,
                        current: Some(Box::new(cur)),
                    });
                }
            }
            let rev = *next + 1;
            // The tombstone keeps the deleted value and its metadata for watch replay.
            insert(
                tx,
                rev,
                &key,
                false,
                true,
                cur.create_revision,
                cur.mod_revision,
                cur.version,
                cur.lease,
                None,
                &cur.value,
            )?;
            *next = rev;
            events.push(Event {
                kind: EventType::Delete,
                kv: KeyValue {
                    key,
                    mod_revision: rev,
                    ..Default::default()
                },
                prev: Some(cur.clone()),
            });
            Ok(OpResult::Deleted(rev, cur))
        }
        Op::SetCompacted(rev) => {
            tx.execute(
                "INSERT OR REPLACE INTO meta (k, v) VALUES ('compact_rev', ?1)",
                params![rev],
            )?;
            *compacted = Some(rev);
            Ok(OpResult::Done)
        }
        Op::Close => Err(Error::Closed),
        Op::CompactChunk { lo, hi, upto } => {
            // Rows below the compacted revision that a newer row (also below it) supersedes, and
            // tombstones below it. The state at `upto` stays readable, and so does the previous
            // value of the event at `upto` (a watch may start there).
            tx.execute(
                "DELETE FROM kv WHERE id IN (SELECT k.id FROM kv k WHERE k.id >= ?1 AND k.id < ?2 \
                 AND k.id < ?3 AND (k.deleted = 1 OR EXISTS (SELECT 1 FROM kv n \
                 WHERE n.name = k.name AND n.id > k.id AND n.id < ?3)))",
                params![lo, hi, upto],
            )?;
            Ok(OpResult::Done)
        }
    }
}

fn read_revision(conn: &Connection) -> Result<Revision> {
    Ok(conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'kv'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// The writer thread: group commit and event publication.
fn writer_loop(mut conn: Connection, mut rx: mpsc::Receiver<WriteReq>, state: Arc<State>) {
    let mut rev = state.current.load(Ordering::SeqCst);
    while let Some(first) = rx.blocking_recv() {
        if let Op::Close = first.op {
            let res = conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .map(|_| OpResult::Done)
                .map_err(Error::from);
            drop(conn);
            let _ = first.reply.send(res);
            return;
        }
        let mut batch = vec![first];
        let mut close = None;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(WriteReq {
                    op: Op::Close,
                    reply,
                }) => {
                    close = Some(reply);
                    break;
                }
                Ok(req) => batch.push(req),
                Err(_) => break,
            }
        }
        let mut events = Vec::new();
        let mut compacted = None;
        let mut next = rev;
        let mut results = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        let outcome = (|| -> Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for req in batch {
                replies.push(req.reply);
                match apply(&tx, &mut next, req.op, &mut events, &mut compacted) {
                    Err(e @ (Error::Sqlite(_) | Error::Io(_))) => return Err(e),
                    r => results.push(r),
                }
            }
            tx.commit()?;
            Ok(())
        })();
        match outcome {
            Ok(()) => {
                rev = next;
                state.current.store(rev, Ordering::SeqCst);
                if let Some(c) = compacted {
                    state.compacted.store(c, Ordering::SeqCst);
                }
                if !events.is_empty() {
                    // No receivers is fine: nobody is watching.
                    let _ = state.events.send(Arc::new(events));
                }
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "datastore write batch failed and was rolled back");
                let msg = e.to_string();
                // The transaction rolled back; the revision counter is whatever was committed.
                rev = read_revision(&conn).unwrap_or(rev);
                for reply in replies {
                    let _ = reply.send(Err(Error::Etcd(format!("write failed: {msg}"))));
                }
            }
        }
        if let Some(reply) = close {
            let res = conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .map(|_| OpResult::Done)
                .map_err(Error::from);
            drop(conn);
            let _ = reply.send(res);
            return;
        }
    }
}

/// Rows `[from, to]` of the log as events (in revision order), at most `REPLAY_CHUNK` of them.
/// Returns the events and the last revision read.
fn replay(conn: &Connection, from: Revision, to: Revision) -> Result<(Vec<Event>, Revision)> {
    let mut stmt = conn.prepare_cached(
        "SELECT k.id, k.name, k.created, k.deleted, k.create_revision, k.prev_revision, k.version, \
         k.lease, k.value, p.value, p.create_revision, p.version, p.lease \
         FROM kv k LEFT JOIN kv p ON p.id = k.prev_revision AND k.created = 0 AND k.deleted = 0 \
         WHERE k.id >= ?1 AND k.id <= ?2 ORDER BY k.id LIMIT ?3",
    )?;
    let mut rows = stmt.query(params![from, to, REPLAY_CHUNK])?;
    let mut events = Vec::new();
    let mut last = from - 1;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let key: Vec<u8> = r.get(1)?;
        let created = r.get::<_, i64>(2)? != 0;
        let deleted = r.get::<_, i64>(3)? != 0;
        let create_revision: i64 = r.get(4)?;
        let prev_revision: i64 = r.get(5)?;
        let version: i64 = r.get(6)?;
        let lease: i64 = r.get(7)?;
        let value: Vec<u8> = r.get(8)?;
        last = id;
        if deleted {
            events.push(Event {
                kind: EventType::Delete,
                kv: KeyValue {
                    key: key.clone(),
                    mod_revision: id,
                    ..Default::default()
                },
                prev: Some(KeyValue {
                    key,
                    value,
                    create_revision,
                    mod_revision: prev_revision,
                    version,
                    lease,
                }),
            });
            continue;
        }
        let prev = match (created, r.get::<_, Option<Vec<u8>>>(9)?) {
            (false, Some(pvalue)) => Some(KeyValue {
                key: key.clone(),
                value: pvalue,
                create_revision: r.get(10)?,
                mod_revision: prev_revision,
                version: r.get(11)?,
                lease: r.get(12)?,
            }),
            _ => None,
        };
        events.push(Event {
            kind: EventType::Put,
            kv: KeyValue {
                key,
                value,
                create_revision,
                mod_revision: id,
                version,
                lease,
            },
            prev,
        });
    }
    Ok((events, last))
}

/// Scans `[start, end)` at `rev` (newest row per key wins), calling `f` for each live key in order
/// until it returns false.
fn scan_live(
    conn: &Connection,
    start: &[u8],
    end: &[u8],
    rev: Revision,
    with_values: bool,
    mut f: impl FnMut(KeyValue) -> bool,
) -> Result<()> {
    let cols = if with_values {
        "id, name, deleted, create_revision, version, lease, value"
    } else {
        "id, name, deleted, create_revision, version, lease, x''"
    };
    let sql = if end.is_empty() {
        format!("SELECT {cols} FROM kv WHERE name >= ?1 AND id <= ?2 ORDER BY name, id DESC")
    } else {
        format!(
            "SELECT {cols} FROM kv WHERE name >= ?1 AND name < ?3 AND id <= ?2 \
             ORDER BY name, id DESC"
        )
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = if end.is_empty() {
        stmt.query(params![start, rev])?
    } else {
        stmt.query(params![start, rev, end])?
    };
    let mut last: Option<Vec<u8>> = None;
    while let Some(r) = rows.next()? {
        let name: Vec<u8> = r.get(1)?;
        if last.as_deref() == Some(&name[..]) {
            continue;
        }
        let (kv, deleted) = row_kv(r)?;
        last = Some(name);
        if deleted {
            continue;
        }
        if !f(kv) {
            break;
        }
    }
    Ok(())
}

/// Number of live keys in `[start, end)` at `rev` (paged lists ask for it on every page): the keys
/// with a row at or below `rev`, counted on the covering (name, id) index, minus those whose newest
/// such row is a tombstone, found through the small tombstone index.
fn count_live(conn: &Connection, start: &[u8], end: &[u8], rev: Revision) -> Result<i64> {
    let bound = if end.is_empty() { "" } else { " AND name < ?3" };
    let names_sql =
        format!("SELECT COUNT(DISTINCT name) FROM kv WHERE name >= ?1{bound} AND id <= ?2");
    let dead_sql = format!(
        "SELECT COUNT(*) FROM kv k INDEXED BY kv_tombstones WHERE k.deleted = 1 \
         AND k.name >= ?1{} AND k.id <= ?2 AND NOT EXISTS \
         (SELECT 1 FROM kv n WHERE n.name = k.name AND n.id > k.id AND n.id <= ?2)",
        bound.replace("name", "k.name")
    );
    let count = |sql: &str| -> Result<i64> {
        let mut stmt = conn.prepare_cached(sql)?;
        Ok(if end.is_empty() {
            stmt.query_row(params![start, rev], |r| r.get(0))?
        } else {
            stmt.query_row(params![start, rev, end], |r| r.get(0))?
        })
    };
    Ok(count(&names_sql)? - count(&dead_sql)?)
}

fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    key >= start && (end.is_empty() || key < end)
}

impl SqliteBackend {
    /// Opens (creating if needed) the datastore at `path`. A file that is not a k3rs datastore is
    /// refused with [`Error::ForeignDatabase`] and left untouched.
    pub async fn open(path: &Path, opts: SqliteOptions) -> Result<Self> {
        let path = path.to_path_buf();
        let p = path.clone();
        let fsync = opts.fsync;
        let (conn, current, compacted) = tokio::task::spawn_blocking(move || -> Result<_> {
            if p.exists() {
                check_existing(&p)?;
            } else if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut conn = open_conn(&p, fsync)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID};"))?;
            tx.execute(
                "INSERT OR IGNORE INTO meta (k, v) VALUES ('schema_version', ?1)",
                params![SCHEMA_VERSION],
            )?;
            // A new store is at revision 1 and its first write gets 2, as a new etcd cluster
            // (kube-apiserver refuses a storage revision of 0).
            tx.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT 'kv', 1 \
                 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'kv')",
                [],
            )?;
            tx.commit()?;
            let current = read_revision(&conn)?;
            let compacted: i64 = conn
                .query_row("SELECT v FROM meta WHERE k = 'compact_rev'", [], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(0);
            Ok((conn, current, compacted))
        })
        .await
        .map_err(|e| Error::Etcd(format!("open task failed: {e}")))??;

        let (events, _) = broadcast::channel(1024);
        let state = Arc::new(State {
            current: AtomicI64::new(current),
            compacted: AtomicI64::new(compacted),
            events,
        });
        let (wtx, wrx) = mpsc::channel(4 * MAX_BATCH);
        let st = state.clone();
        std::thread::Builder::new()
            .name("k3rs-sqlite-writer".into())
            .spawn(move || writer_loop(conn, wrx, st))?;
        let inner = Arc::new(Inner {
            path,
            state,
            writes: wtx,
            readers: Mutex::new(Vec::new()),
        });
        let tasks = vec![
            tokio::spawn(ttl_sweeper(Arc::downgrade(&inner), opts.ttl_interval)),
            tokio::spawn(compactor(Arc::downgrade(&inner), opts.clone())),
        ];
        Ok(Self { inner, tasks })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

impl Inner {
    async fn write(&self, op: Op) -> Result<OpResult> {
        let (reply, rx) = oneshot::channel();
        self.writes
            .send(WriteReq { op, reply })
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Runs `f` on a pooled read connection off the async runtime.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = me.readers.lock().map(|mut p| p.pop()).unwrap_or(None);
            let conn = match pooled {
                Some(c) => c,
                None => {
                    let c = Connection::open_with_flags(
                        &me.path,
                        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    c.busy_timeout(Duration::from_secs(10))?;
                    c.execute_batch("PRAGMA query_only = 1;")?;
                    c
                }
            };
            let out = f(&conn);
            if let Ok(mut pool) = me.readers.lock() {
                if pool.len() < MAX_IDLE_READERS {
                    pool.push(conn);
                }
            }
            out
        })
        .await
        .map_err(|e| Error::Etcd(format!("read task failed: {e}")))?
    }

    /// Resolves a requested read revision (0 = current) against the store's bounds.
    fn read_revision(&self, rev: Revision) -> Result<Revision> {
        let current = self.state.current.load(Ordering::SeqCst);
        if rev == 0 {
            return Ok(current);
        }
        if rev > current {
            return Err(Error::FutureRevision {
                requested: rev,
                current,
            });
        }
        self.check_compacted(rev)?;
        Ok(rev)
    }

    fn check_compacted(&self, rev: Revision) -> Result<()> {
        let compacted = self.state.compacted.load(Ordering::SeqCst);
        if rev < compacted {
            return Err(Error::Compacted {
                requested: rev,
                compacted,
            });
        }
        Ok(())
    }

    async fn compact_to(&self, rev: Revision) -> Result<()> {
        let current = self.state.current.load(Ordering::SeqCst);
        let compacted = self.state.compacted.load(Ordering::SeqCst);
        if rev > current {
            return Err(Error::FutureRevision {
                requested: rev,
                current,
            });
        }
        if rev <= compacted {
            return Err(Error::Compacted {
                requested: rev,
                compacted,
            });
        }
        self.write(Op::SetCompacted(rev)).await?;
        let path = self.path.clone();
        // The oldest row left: superseded rows may sit anywhere below `rev`.
        let min_id = tokio::task::spawn_blocking(move || -> Result<i64> {
            let c = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
            c.busy_timeout(Duration::from_secs(10))?;
            Ok(c.query_row("SELECT COALESCE(MIN(id), 0) FROM kv", [], |r| r.get(0))?)
        })
        .await
        .map_err(|e| Error::Etcd(format!("compaction task failed: {e}")))??;
        let mut lo = min_id;
        while lo < rev {
            let hi = (lo + COMPACT_CHUNK).min(rev);
            self.write(Op::CompactChunk { lo, hi, upto: rev }).await?;
            lo = hi;
        }
        tracing::debug!(revision = rev, "datastore compacted");
        Ok(())
    }
}

/// Deletes keys whose TTL has passed (as etcd does when a lease expires).
async fn ttl_sweeper(inner: Weak<Inner>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else { return };
        let now = now_ms();
        let expired = inner
            .read(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT k.name, k.id FROM kv k WHERE k.expires_at IS NOT NULL \
                     AND k.expires_at <= ?1 AND k.deleted = 0 AND NOT EXISTS \
                     (SELECT 1 FROM kv n WHERE n.name = k.name AND n.id > k.id) LIMIT 1000",
                )?;
                let rows = stmt
                    .query_map(params![now], |r| {
                        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await;
        match expired {
            Ok(rows) => {
                for (key, rev) in rows {
                    match inner
                        .write(Op::Delete {
                            key,
                            expected: Some(rev),
                        })
                        .await
                    {
                        Ok(_) | Err(Error::NotFound { .. } | Error::Conflict { .. }) => {}
                        Err(e) => tracing::warn!(error = %e, "TTL expiry failed"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "TTL sweep failed"),
        }
    }
}

/// Keeps `compact_min_age` of history or `compact_min_revisions` revisions, whichever is more.
async fn compactor(inner: Weak<Inner>, opts: SqliteOptions) {
    let mut samples: VecDeque<(Instant, Revision)> = VecDeque::new();
    let mut old_enough: Revision = 0;
    loop {
        tokio::time::sleep(opts.compact_interval).await;
        let Some(inner) = inner.upgrade() else { return };
        let now = Instant::now();
        let current = inner.state.current.load(Ordering::SeqCst);
        samples.push_back((now, current));
        while let Some(&(t, r)) = samples.front() {
            if now.duration_since(t) >= opts.compact_min_age {
                old_enough = r;
                samples.pop_front();
            } else {
                break;
            }
        }
        let target = old_enough.min(current - opts.compact_min_revisions);
        if target > inner.state.compacted.load(Ordering::SeqCst) {
            if let Err(e) = inner.compact_to(target).await {
                tracing::warn!(error = %e, target, "automatic compaction failed");
            }
        }
    }
}

/// Forwards events in `[start, end)` from `next` on to one watcher.
async fn run_watch(
    inner: Arc<Inner>,
    start: Vec<u8>,
    end: Vec<u8>,
    mut next: Revision,
    opts: WatchOptions,
    mut sub: broadcast::Receiver<Arc<Vec<Event>>>,
    tx: mpsc::Sender<Result<WatchMessage>>,
) {
    let result: Result<()> = async {
        catch_up(&inner, &start, &end, &mut next, &tx).await?;
        let mut ticker = opts.progress_interval.map(|d| {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        loop {
            let tick = async {
                match ticker.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => futures::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tx.closed() => return Ok(()),
                _ = tick => {
                    if tx.send(Ok(WatchMessage::Progress(next - 1))).await.is_err() {
                        return Ok(());
                    }
                }
                msg = sub.recv() => match msg {
                    Ok(batch) => {
                        let (Some(first), Some(last)) = (batch.first(), batch.last()) else { continue };
                        if last.revision() < next {
                            continue;
                        }
                        if first.revision() > next {
                            // Events we were not subscribed for yet: read them from the log.
                            catch_up(&inner, &start, &end, &mut next, &tx).await?;
                        }
                        let evs: Vec<Event> = batch
                            .iter()
                            .filter(|e| e.revision() >= next && in_range(&e.kv.key, &start, &end))
                            .cloned()
                            .collect();
                        next = next.max(last.revision() + 1);
                        if !evs.is_empty() && tx.send(Ok(WatchMessage::Events(evs))).await.is_err() {
                            return Ok(());
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        catch_up(&inner, &start, &end, &mut next, &tx).await?;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Err(Error::Closed),
                },
            }
        }
    }
    .await;
    if let Err(e) = result {
        let _ = tx.send(Err(e)).await;
    }
}

/// Replays committed events from the log, from `next` up to the current revision.
async fn catch_up(
    inner: &Arc<Inner>,
    start: &[u8],
    end: &[u8],
    next: &mut Revision,
    tx: &mpsc::Sender<Result<WatchMessage>>,
) -> Result<()> {
    loop {
        let current = inner.state.current.load(Ordering::SeqCst);
        if *next > current {
            return Ok(());
        }
        inner.check_compacted(*next)?;
        let from = *next;
        let (events, last) = inner.read(move |c| replay(c, from, current)).await?;
        // A compaction that began while we read may have removed rows we needed.
        inner.check_compacted(from)?;
        *next = if last < from || (events.len() as i64) < REPLAY_CHUNK {
            current + 1
        } else {
            last + 1
        };
        let evs: Vec<Event> = events
            .into_iter()
            .filter(|e| in_range(&e.kv.key, start, end))
            .collect();
        if !evs.is_empty() && tx.send(Ok(WatchMessage::Events(evs))).await.is_err() {
            return Ok(());
        }
    }
}

fn expires_at(opts: &PutOptions) -> Option<i64> {
    opts.ttl
        .map(|t| now_ms().saturating_add(i64::try_from(t.as_millis()).unwrap_or(i64::MAX)))
}

#[async_trait]
impl Backend for SqliteBackend {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.inner.state.current.load(Ordering::SeqCst))
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.inner.state.compacted.load(Ordering::SeqCst))
    }

    async fn get(&self, key: &[u8], revision: Revision) -> Result<(Option<KeyValue>, Revision)> {
        let rev = self.inner.read_revision(revision)?;
        let key = key.to_vec();
        let kv = self.inner.read(move |c| latest_at(c, &key, rev)).await?;
        self.inner.check_compacted(rev)?;
        Ok((kv, rev))
    }

    async fn list(&self, start: &[u8], end: &[u8], opts: ListOptions) -> Result<ListResult> {
        let rev = self.inner.read_revision(opts.revision)?;
        let (start, end) = (start.to_vec(), end.to_vec());
        let (kvs, more) = self
            .inner
            .read(move |c| {
                let mut kvs = Vec::new();
                let mut more = false;
                scan_live(c, &start, &end, rev, !opts.keys_only, |kv| {
                    if opts.limit > 0 && kvs.len() as i64 >= opts.limit {
                        more = true;
                        return false;
                    }
                    kvs.push(kv);
                    true
                })?;
                Ok((kvs, more))
            })
            .await?;
        self.inner.check_compacted(rev)?;
        Ok(ListResult {
            kvs,
            more,
            revision: rev,
        })
    }

    async fn count(&self, start: &[u8], end: &[u8], revision: Revision) -> Result<(i64, Revision)> {
        let rev = self.inner.read_revision(revision)?;
        let (start, end) = (start.to_vec(), end.to_vec());
        let n = self
            .inner
            .read(move |c| count_live(c, &start, &end, rev))
            .await?;
        self.inner.check_compacted(rev)?;
        Ok((n, rev))
    }

    async fn create(&self, key: &[u8], value: &[u8], opts: PutOptions) -> Result<Revision> {
        match self
            .inner
            .write(Op::Create {
                key: key.to_vec(),
                value: value.to_vec(),
                lease: opts.lease,
                expires_at: expires_at(&opts),
            })
            .await?
        {
            OpResult::Rev(r) => Ok(r),
            _ => Err(Error::Etcd("unexpected writer reply".into())),
        }
    }

    async fn update(
        &self,
        key: &[u8],
        value: &[u8],
        expected: Revision,
        opts: PutOptions,
    ) -> Result<Revision> {
        match self
            .inner
            .write(Op::Update {
                key: key.to_vec(),
                value: value.to_vec(),
                expected,
                lease: opts.lease,
                expires_at: expires_at(&opts),
            })
            .await?
        {
            OpResult::Rev(r) => Ok(r),
            _ => Err(Error::Etcd("unexpected writer reply".into())),
        }
    }

    async fn delete(&self, key: &[u8], expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        match self
            .inner
            .write(Op::Delete {
                key: key.to_vec(),
                expected,
            })
            .await?
        {
            OpResult::Deleted(r, kv) => Ok((r, kv)),
            _ => Err(Error::Etcd("unexpected writer reply".into())),
        }
    }

    async fn watch(
        &self,
        start: &[u8],
        end: &[u8],
        from: Revision,
        opts: WatchOptions,
    ) -> Result<WatchStream> {
        // Subscribe before reading the current revision: every event after it then arrives either
        // from the log (catch-up) or from the subscription, and duplicates are dropped by revision.
        let sub = self.inner.state.events.subscribe();
        let current = self.inner.state.current.load(Ordering::SeqCst);
        let next = if from <= 0 {
            current + 1
        } else {
            self.inner.check_compacted(from)?;
            from
        };
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(run_watch(
            self.inner.clone(),
            start.to_vec(),
            end.to_vec(),
            next,
            opts,
            sub,
            tx,
        ));
        Ok(WatchStream::new(rx))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.inner.compact_to(revision).await
    }

    /// Waits for queued writes, checkpoints the log into the database file and stops the writer.
    async fn close(&self) -> Result<()> {
        for t in &self.tasks {
            t.abort();
        }
        self.inner.write(Op::Close).await.map(|_| ())
    }

    async fn db_size(&self) -> Result<i64> {
        let mut size = 0;
        for suffix in ["", "-wal"] {
            let mut p = self.inner.path.clone().into_os_string();
            p.push(suffix);
            if let Ok(m) = tokio::fs::metadata(&p).await {
                size += m.len() as i64;
            }
        }
        Ok(size)
    }
}
