//! The k3rs datastore.
//!
//! This crate owns everything the API server needs from a key-value store and nothing above it: it
//! knows keys, values and revisions, not Kubernetes objects. One trait, [`Backend`], is implemented
//! twice:
//!
//! * [`sqlite::SqliteBackend`] — the embedded default, a log-structured table in the spirit of kine
//!   (every write is a new row whose id is the global revision). Writes go through one writer thread
//!   that commits concurrent requests together (group commit); watches are pushed from the writer
//!   after commit and replayed from the table when a watcher resumes from an older revision.
//! * [`etcd::EtcdBackend`] — a real etcd v3 cluster, for scale-out; revisions are etcd's.
//!
//! [`server`] serves the etcd v3 gRPC API subset that kube-apiserver uses on top of any backend, so
//! operators (and `etcdctl`) can use the SQLite store like an etcd.
//!
//! Callers: `pkg/apiserver` (through [`open`]) and the `k3rs datastore` subcommand. This crate must not
//! depend on any other k3rs crate.
//!
//! ```no_run
//! # async fn demo() -> Result<(), k3rs_storage::Error> {
//! use k3rs_storage::{open, PutOptions};
//! let store = open("sqlite:///tmp/k3rs-demo/state.db").await?;
//! let rev = store.create(b"/registry/configmaps/default/a", b"{}", PutOptions::default()).await?;
//! let (kv, _) = store.get(b"/registry/configmaps/default/a", 0).await?;
//! assert_eq!(kv.map(|kv| kv.mod_revision), Some(rev));
//! # Ok(()) }
//! ```

pub mod endpoint;
pub mod etcd;
pub mod server;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

pub use endpoint::{open, open_with, Endpoint, SqliteOptions};

/// A revision of the datastore: a strictly increasing 64-bit counter, one per write.
pub type Revision = i64;

/// One stored key with its metadata, as etcd describes it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KeyValue {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// The revision at which the key was (last) created.
    pub create_revision: Revision,
    /// The revision of the last write to this key.
    pub mod_revision: Revision,
    /// Number of writes since creation (1 after create).
    pub version: i64,
    /// Lease the key is attached to, 0 for none.
    pub lease: i64,
}

/// What happened to a key in an [`Event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Put,
    Delete,
}

/// One change, as delivered to watchers in revision order.
///
/// For a delete, `kv.key` is the key, `kv.mod_revision` the revision of the delete and `kv.value` is
/// empty; `prev` holds the deleted object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    pub kv: KeyValue,
    /// The value before this event, when the store still has it.
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision at which this event happened.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// Options for writes.
#[derive(Clone, Copy, Debug, Default)]
pub struct PutOptions {
    /// Delete the key automatically this long after the write (Kubernetes Events use 1 h).
    pub ttl: Option<Duration>,
    /// An opaque lease id recorded with the key (the etcd shim's leases); 0 for none.
    pub lease: i64,
}

/// Options for [`Backend::list`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ListOptions {
    /// Read the state as of this revision; 0 reads the current state.
    pub revision: Revision,
    /// At most this many keys; 0 for no limit.
    pub limit: i64,
    /// Leave values empty.
    pub keys_only: bool,
}

/// One page of a range read.
#[derive(Clone, Debug, Default)]
pub struct ListResult {
    pub kvs: Vec<KeyValue>,
    /// More keys exist in the range after the last one returned.
    pub more: bool,
    /// The revision the read was served at (pass it back to read the next page consistently).
    pub revision: Revision,
}

/// Options for [`Backend::watch`].
#[derive(Clone, Copy, Debug, Default)]
pub struct WatchOptions {
    /// Send a [`WatchMessage::Progress`] at this interval, telling the watcher that every event up to
    /// that revision has been delivered.
    pub progress_interval: Option<Duration>,
}

/// What a watch delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchMessage {
    /// Events in revision order, with no gaps and no duplicates for the watched range.
    Events(Vec<Event>),
    /// Every event up to and including this revision has been delivered.
    Progress(Revision),
}

/// A running watch. Dropping it stops the watch.
pub struct WatchStream {
    rx: mpsc::Receiver<Result<WatchMessage, Error>>,
}

impl WatchStream {
    pub(crate) fn new(rx: mpsc::Receiver<Result<WatchMessage, Error>>) -> Self {
        Self { rx }
    }

    /// A stream fed by a channel, for wrappers that transform another backend's watch (for
    /// example to decrypt values). Send an `Err` as the last item to end it with an error.
    pub fn from_channel(rx: mpsc::Receiver<Result<WatchMessage, Error>>) -> Self {
        Self { rx }
    }

    /// The next message; `None` once the watch has ended. An `Err` is always the last item.
    pub async fn next(&mut self) -> Option<Result<WatchMessage, Error>> {
        self.rx.recv().await
    }
}

/// Datastore errors. Each carries enough context (key, revisions) to act on from a log line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("key {key:?} already exists (mod revision {revision})")]
    KeyExists { key: String, revision: Revision },
    #[error("key {key:?} not found")]
    NotFound { key: String },
    #[error("key {key:?} was modified: expected mod revision {expected}, found {}", current.as_ref().map(|kv| kv.mod_revision).unwrap_or(0))]
    Conflict {
        key: String,
        expected: Revision,
        /// The current value, if the key still exists.
        current: Option<Box<KeyValue>>,
    },
    #[error("required revision {requested} has been compacted (compacted revision {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    #[error("required revision {requested} is a future revision (current revision {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("invalid datastore endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("refusing to use database {path}: {reason}")]
    ForeignDatabase { path: String, reason: String },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("etcd: {0}")]
    Etcd(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("the datastore is shutting down")]
    Closed,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn key_str(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

/// The exclusive end of the range of keys starting with `prefix` (etcd's convention).
/// An empty result means "no upper bound".
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    Vec::new()
}

/// What an API server needs from a datastore.
///
/// Ranges are `[start, end)` in byte order; an empty `end` means "every key from `start` on".
/// Reads take a revision: 0 is "current"; below the compacted revision they fail with
/// [`Error::Compacted`], above the current one with [`Error::FutureRevision`].
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// A short name for logs and metrics ("sqlite", "etcd").
    fn kind(&self) -> &'static str;

    /// The newest revision.
    async fn current_revision(&self) -> Result<Revision>;

    /// The revision up to which history has been compacted (0 if never).
    async fn compacted_revision(&self) -> Result<Revision>;

    /// One key at a revision (0 = current). Returns the key, if it exists, and the read revision.
    async fn get(&self, key: &[u8], revision: Revision) -> Result<(Option<KeyValue>, Revision)>;

    /// Keys in `[start, end)` in key order, at one revision.
    async fn list(&self, start: &[u8], end: &[u8], opts: ListOptions) -> Result<ListResult>;

    /// Number of keys in `[start, end)` at a revision (0 = current), and the read revision.
    async fn count(&self, start: &[u8], end: &[u8], revision: Revision) -> Result<(i64, Revision)>;

    /// Creates `key`; fails with [`Error::KeyExists`] if it exists. Returns the new revision.
    async fn create(&self, key: &[u8], value: &[u8], opts: PutOptions) -> Result<Revision>;

    /// Replaces `key` if its mod revision is `expected`; otherwise [`Error::Conflict`] (with the
    /// current value) or [`Error::NotFound`]. Returns the new revision.
    async fn update(
        &self,
        key: &[u8],
        value: &[u8],
        expected: Revision,
        opts: PutOptions,
    ) -> Result<Revision>;

    /// Deletes `key`, if `expected` is given only when its mod revision matches. Returns the
    /// revision of the delete and the deleted value.
    async fn delete(&self, key: &[u8], expected: Option<Revision>) -> Result<(Revision, KeyValue)>;

    /// Events for keys in `[start, end)` from revision `from` (inclusive; 0 = from now on), in order.
    async fn watch(
        &self,
        start: &[u8],
        end: &[u8],
        from: Revision,
        opts: WatchOptions,
    ) -> Result<WatchStream>;

    /// Discards history below `revision`; reads and watches older than it then fail with
    /// [`Error::Compacted`]. Returns once the compaction has been recorded.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// Size of the store on disk in bytes, when known.
    async fn db_size(&self) -> Result<i64>;

    /// Flushes and stops the store; later writes fail with [`Error::Closed`].
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}

/// A shared handle to a backend.
pub type Store = Arc<dyn Backend>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end(b"/registry/"), b"/registry0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), Vec::<u8>::new());
    }
}
