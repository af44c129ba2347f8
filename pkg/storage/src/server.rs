//! The etcd v3 gRPC API, served on top of any [`Backend`].
//!
//! This is the subset kube-apiserver and `etcdctl` use: KV (Range, Put, DeleteRange, Txn, Compact),
//! Watch, Lease (Grant, Revoke, KeepAlive, TimeToLive, Leases), Maintenance (Status) and Cluster
//! (MemberList). Anything else answers `UNIMPLEMENTED` with a message saying so.
//!
//! Transactions: the backends offer compare-and-swap on one key, so a transaction may compare and
//! write one key (any compare target and operator), and read any keys. That covers every
//! transaction kube-apiserver sends; others are refused, never half-applied.
//!
//! Leases live in this process. A key written with a lease gets the lease's TTL in the backend, from
//! the time of the write (as kine does): keep-alives extend the lease record, not its keys.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcd_client::proto::{
    PbClusterServer, PbClusterService, PbCompactionRequest, PbCompactionResponse, PbCompare,
    PbDeleteRequest, PbDeleteResponse, PbEvent, PbKeyValue, PbKvServer, PbKvService,
    PbLeaseGrantRequest, PbLeaseGrantResponse, PbLeaseKeepAliveRequest, PbLeaseKeepAliveResponse,
    PbLeaseLeasesRequest, PbLeaseLeasesResponse, PbLeaseRevokeRequest, PbLeaseRevokeResponse,
    PbLeaseServer, PbLeaseService, PbLeaseStatus, PbLeaseTimeToLiveRequest,
    PbLeaseTimeToLiveResponse, PbMaintenanceServer, PbMaintenanceService, PbMember,
    PbMemberListRequest, PbMemberListResponse, PbPutRequest, PbPutResponse, PbRangeRequest,
    PbRangeResponse, PbRangeStreamResponse, PbResponseHeader, PbResponseOp, PbStatusRequest,
    PbStatusResponse, PbTargetUnion, PbTxnOpRequest, PbTxnOpResponse, PbTxnRequest, PbTxnRequestOp,
    PbTxnResponse, PbWatchRequest, PbWatchRequestUnion, PbWatchResponse, PbWatchServer,
    PbWatchService,
};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    Error, KeyValue, ListOptions, PutOptions, Revision, Store, WatchMessage, WatchOptions,
};

/// The etcd version reported by Status: the API level this shim implements.
pub const ETCD_API_VERSION: &str = "3.5.16";
const CLUSTER_ID: u64 = 0x6b33_7273_0000_0001;
const MEMBER_ID: u64 = 0x6b33_7273_0000_0002;
const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;
/// How often an idle watcher that asked for progress notifications gets one.
const PROGRESS_NOTIFY: Duration = Duration::from_secs(5);
/// How often watchers learn internally how far they are, for progress requests.
const PROGRESS_TICK: Duration = Duration::from_millis(250);

// etcd's enum values (rpc.proto, kv.proto).
const CMP_EQUAL: i32 = 0;
const CMP_GREATER: i32 = 1;
const CMP_LESS: i32 = 2;
const CMP_NOT_EQUAL: i32 = 3;
const TARGET_VERSION: i32 = 0;
const TARGET_CREATE: i32 = 1;
const TARGET_MOD: i32 = 2;
const TARGET_VALUE: i32 = 3;
const TARGET_LEASE: i32 = 4;
const SORT_NONE: i32 = 0;
const SORT_ASCEND: i32 = 1;
const SORT_DESCEND: i32 = 2;
const EVENT_PUT: i32 = 0;
const EVENT_DELETE: i32 = 1;
const FILTER_NOPUT: i32 = 0;
const FILTER_NODELETE: i32 = 1;

struct Lease {
    ttl: i64,
    expires: Instant,
    keys: BTreeSet<Vec<u8>>,
}

struct Shared {
    store: Store,
    leases: Mutex<HashMap<i64, Lease>>,
    client_urls: Vec<String>,
    next_lease: AtomicI64,
}

/// The etcd API over a [`Store`]. Cheap to clone.
#[derive(Clone)]
pub struct EtcdShim {
    shared: Arc<Shared>,
}

/// Maps datastore errors to the gRPC statuses (and messages) etcd clients recognise.
fn status(e: Error) -> Status {
    match e {
        Error::Compacted { .. } => {
            Status::out_of_range("etcdserver: mvcc: required revision has been compacted")
        }
        Error::FutureRevision { .. } => {
            Status::out_of_range("etcdserver: mvcc: required revision is a future revision")
        }
        Error::Closed => Status::unavailable("etcdserver: server stopped"),
        other => Status::internal(other.to_string()),
    }
}

fn pb_kv(kv: KeyValue) -> PbKeyValue {
    PbKeyValue {
        key: kv.key,
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
        value: kv.value,
        lease: kv.lease,
    }
}

/// etcd's range end: empty = the single key, "\0" = every key from `key` on.
fn range_end(end: &[u8]) -> Option<Vec<u8>> {
    match end {
        [] => None,
        [0] => Some(Vec::new()),
        e => Some(e.to_vec()),
    }
}

fn compare_i64(result: i32, have: i64, want: i64) -> bool {
    match result {
        CMP_EQUAL => have == want,
        CMP_GREATER => have > want,
        CMP_LESS => have < want,
        CMP_NOT_EQUAL => have != want,
        _ => false,
    }
}

/// Evaluates one compare against the current value of its key, as etcd does.
fn compare(c: &PbCompare, cur: Option<&KeyValue>) -> bool {
    let target = c.target_union.as_ref();
    match (c.target, target) {
        (TARGET_VALUE, Some(PbTargetUnion::Value(want))) => {
            let Some(cur) = cur else { return false };
            let have = cur.value.as_slice();
            match c.result {
                CMP_EQUAL => have == want.as_slice(),
                CMP_GREATER => have > want.as_slice(),
                CMP_LESS => have < want.as_slice(),
                CMP_NOT_EQUAL => have != want.as_slice(),
                _ => false,
            }
        }
        (TARGET_VERSION, Some(PbTargetUnion::Version(v))) => {
            compare_i64(c.result, cur.map(|k| k.version).unwrap_or(0), *v)
        }
        (TARGET_CREATE, Some(PbTargetUnion::CreateRevision(v))) => {
            compare_i64(c.result, cur.map(|k| k.create_revision).unwrap_or(0), *v)
        }
        (TARGET_MOD, Some(PbTargetUnion::ModRevision(v))) => {
            compare_i64(c.result, cur.map(|k| k.mod_revision).unwrap_or(0), *v)
        }
        (TARGET_LEASE, Some(PbTargetUnion::Lease(v))) => {
            compare_i64(c.result, cur.map(|k| k.lease).unwrap_or(0), *v)
        }
        // A target with no or a mismatched value: etcd treats it as a zero value.
        (_, _) => compare_i64(c.result, 0, 0) && cur.is_none(),
    }
}

/// Outcome of one attempt at a write; `Retry` when the key changed under us.
enum Attempt<T> {
    Done(T),
    Retry,
}

impl EtcdShim {
    /// A shim over `store`; `client_urls` are reported by MemberList.
    pub fn new(store: Store, client_urls: Vec<String>) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(1)
            & 0x3fff_ffff_ffff;
        let shim = EtcdShim {
            shared: Arc::new(Shared {
                store,
                leases: Mutex::new(HashMap::new()),
                client_urls,
                next_lease: AtomicI64::new(seed.max(1) << 16),
            }),
        };
        let weak = Arc::downgrade(&shim.shared);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let Some(shared) = weak.upgrade() else { return };
                let now = Instant::now();
                if let Ok(mut leases) = shared.leases.lock() {
                    leases.retain(|_, l| l.expires > now);
                };
            }
        });
        shim
    }

    async fn header(&self, revision: Option<Revision>) -> Option<PbResponseHeader> {
        let revision = match revision {
            Some(r) => r,
            None => self.shared.store.current_revision().await.unwrap_or(0),
        };
        Some(PbResponseHeader {
            cluster_id: CLUSTER_ID,
            member_id: MEMBER_ID,
            revision,
            raft_term: 1,
        })
    }

    fn lease_ttl(&self, lease: i64) -> Result<Option<Duration>, Status> {
        if lease == 0 {
            return Ok(None);
        }
        let leases = self
            .shared
            .leases
            .lock()
            .map_err(|_| Status::internal("lease table poisoned"))?;
        match leases.get(&lease) {
            Some(l) => Ok(Some(Duration::from_secs(l.ttl.max(1) as u64))),
            None => Err(Status::not_found("etcdserver: requested lease not found")),
        }
    }

    fn attach(&self, lease: i64, old: i64, key: &[u8]) {
        if let Ok(mut leases) = self.shared.leases.lock() {
            if old != 0 && old != lease {
                if let Some(l) = leases.get_mut(&old) {
                    l.keys.remove(key);
                }
            }
            if let Some(l) = leases.get_mut(&lease) {
                l.keys.insert(key.to_vec());
            }
        }
    }

    async fn do_range(&self, r: PbRangeRequest) -> Result<PbRangeResponse, Status> {
        let store = &self.shared.store;
        let Some(end) = range_end(&r.range_end) else {
            let (kv, rev) = store.get(&r.key, r.revision).await.map_err(status)?;
            let kvs: Vec<PbKeyValue> = kv
                .filter(|kv| {
                    (r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision)
                        && (r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision)
                        && (r.min_create_revision == 0
                            || kv.create_revision >= r.min_create_revision)
                        && (r.max_create_revision == 0
                            || kv.create_revision <= r.max_create_revision)
                })
                .map(|mut kv| {
                    if r.keys_only {
                        kv.value.clear();
                    }
                    pb_kv(kv)
                })
                .into_iter()
                .collect();
            let count = kvs.len() as i64;
            return Ok(PbRangeResponse {
                header: self.header(Some(rev)).await,
                kvs: if r.count_only { Vec::new() } else { kvs },
                more: false,
                count,
            });
        };
        if r.count_only {
            let (count, rev) = store
                .count(&r.key, &end, r.revision)
                .await
                .map_err(status)?;
            return Ok(PbRangeResponse {
                header: self.header(Some(rev)).await,
                kvs: Vec::new(),
                more: false,
                count,
            });
        }
        let filtered = r.min_mod_revision != 0
            || r.max_mod_revision != 0
            || r.min_create_revision != 0
            || r.max_create_revision != 0;
        let sorted =
            !(r.sort_order == SORT_NONE || (r.sort_order == SORT_ASCEND && r.sort_target == 0));
        // Sorting and filtering need the whole range, then the limit (as etcd does).
        let whole = filtered || sorted;
        let res = store
            .list(
                &r.key,
                &end,
                ListOptions {
                    revision: r.revision,
                    limit: if whole { 0 } else { r.limit },
                    keys_only: r.keys_only,
                },
            )
            .await
            .map_err(status)?;
        let mut kvs = res.kvs;
        let mut more = res.more;
        let mut count = kvs.len() as i64;
        if whole {
            kvs.retain(|kv| {
                (r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision)
                    && (r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision)
                    && (r.min_create_revision == 0 || kv.create_revision >= r.min_create_revision)
                    && (r.max_create_revision == 0 || kv.create_revision <= r.max_create_revision)
            });
            if sorted {
                kvs.sort_by(|a, b| {
                    let o = match r.sort_target {
                        1 => a.version.cmp(&b.version),
                        2 => a.create_revision.cmp(&b.create_revision),
                        3 => a.mod_revision.cmp(&b.mod_revision),
                        4 => a.value.cmp(&b.value),
                        _ => a.key.cmp(&b.key),
                    };
                    if r.sort_order == SORT_DESCEND {
                        o.reverse()
                    } else {
                        o
                    }
                });
            }
            count = kvs.len() as i64;
            if r.limit > 0 && kvs.len() as i64 > r.limit {
                kvs.truncate(r.limit as usize);
                more = true;
            }
        } else if more {
            count = store
                .count(&r.key, &end, res.revision)
                .await
                .map_err(status)?
                .0;
        }
        Ok(PbRangeResponse {
            header: self.header(Some(res.revision)).await,
            kvs: kvs.into_iter().map(pb_kv).collect(),
            more,
            count,
        })
    }

    /// One attempt at a put given the key's current value.
    async fn try_put(
        &self,
        r: &PbPutRequest,
        cur: Option<KeyValue>,
    ) -> Result<Attempt<(Revision, Option<KeyValue>)>, Status> {
        let store = &self.shared.store;
        let value = if r.ignore_value {
            match &cur {
                Some(c) => c.value.clone(),
                None => return Err(Status::invalid_argument("etcdserver: key not found")),
            }
        } else {
            r.value.clone()
        };
        let lease = if r.ignore_lease {
            cur.as_ref().map(|c| c.lease).unwrap_or(0)
        } else {
            r.lease
        };
        let opts = PutOptions {
            ttl: self.lease_ttl(lease)?,
            lease,
        };
        let res = match &cur {
            None => store.create(&r.key, &value, opts).await,
            Some(c) => store.update(&r.key, &value, c.mod_revision, opts).await,
        };
        match res {
            Ok(rev) => {
                self.attach(lease, cur.as_ref().map(|c| c.lease).unwrap_or(0), &r.key);
                Ok(Attempt::Done((rev, cur)))
            }
            Err(Error::KeyExists { .. } | Error::Conflict { .. } | Error::NotFound { .. }) => {
                Ok(Attempt::Retry)
            }
            Err(e) => Err(status(e)),
        }
    }

    async fn do_put(&self, r: PbPutRequest) -> Result<PbPutResponse, Status> {
        loop {
            let (cur, _) = self.shared.store.get(&r.key, 0).await.map_err(status)?;
            if let Attempt::Done((rev, prev)) = self.try_put(&r, cur).await? {
                return Ok(PbPutResponse {
                    header: self.header(Some(rev)).await,
                    prev_kv: if r.prev_kv { prev.map(pb_kv) } else { None },
                });
            }
        }
    }

    async fn do_delete(&self, r: PbDeleteRequest) -> Result<PbDeleteResponse, Status> {
        let store = &self.shared.store;
        let keys: Vec<Vec<u8>> = match range_end(&r.range_end) {
            None => vec![r.key.clone()],
            Some(end) => store
                .list(
                    &r.key,
                    &end,
                    ListOptions {
                        keys_only: true,
                        ..Default::default()
                    },
                )
                .await
                .map_err(status)?
                .kvs
                .into_iter()
                .map(|kv| kv.key)
                .collect(),
        };
        let mut prev_kvs = Vec::new();
        let mut rev = None;
        for key in keys {
            match store.delete(&key, None).await {
                Ok((r, prev)) => {
                    rev = Some(r);
                    prev_kvs.push(prev);
                }
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(status(e)),
            }
        }
        Ok(PbDeleteResponse {
            header: self.header(rev).await,
            deleted: prev_kvs.len() as i64,
            prev_kvs: if r.prev_kv {
                prev_kvs.into_iter().map(pb_kv).collect()
            } else {
                Vec::new()
            },
        })
    }

    /// The one key a transaction may compare and write, or why it is refused.
    fn txn_key(r: &PbTxnRequest) -> Result<Option<Vec<u8>>, Status> {
        let unsupported = |why: &str| {
            Status::unimplemented(format!(
                "k3rs datastore: unsupported transaction: {why}; a transaction may compare and \
                 write one key and read any keys"
            ))
        };
        let mut key: Option<Vec<u8>> = None;
        let mut note = |k: &Vec<u8>| -> Result<(), Status> {
            match &key {
                Some(existing) if existing != k => Err(unsupported("it involves several keys")),
                _ => {
                    key = Some(k.clone());
                    Ok(())
                }
            }
        };
        for c in &r.compare {
            if !c.range_end.is_empty() {
                return Err(unsupported("a compare over a range"));
            }
            note(&c.key)?;
        }
        for ops in [&r.success, &r.failure] {
            let mut writes = 0;
            for op in ops {
                match &op.request {
                    Some(PbTxnOpRequest::RequestPut(p)) => {
                        writes += 1;
                        note(&p.key)?;
                    }
                    Some(PbTxnOpRequest::RequestDeleteRange(d)) => {
                        if !d.range_end.is_empty() {
                            return Err(unsupported("a delete over a range"));
                        }
                        writes += 1;
                        note(&d.key)?;
                    }
                    Some(PbTxnOpRequest::RequestRange(_)) => {}
                    Some(PbTxnOpRequest::RequestTxn(_)) => {
                        return Err(unsupported("nested transactions"))
                    }
                    None => return Err(Status::invalid_argument("empty transaction operation")),
                }
            }
            if writes > 1 {
                return Err(Status::invalid_argument(
                    "etcdserver: duplicate key given in txn request",
                ));
            }
        }
        Ok(key)
    }

    async fn do_txn(&self, r: PbTxnRequest) -> Result<PbTxnResponse, Status> {
        let store = &self.shared.store;
        let key = Self::txn_key(&r)?;
        loop {
            let cur = match &key {
                Some(k) => store.get(k, 0).await.map_err(status)?.0,
                None => None,
            };
            let succeeded = r.compare.iter().all(|c| compare(c, cur.as_ref()));
            let ops: &Vec<PbTxnRequestOp> = if succeeded { &r.success } else { &r.failure };
            let mut responses = Vec::with_capacity(ops.len());
            let mut rev = None;
            let mut retry = false;
            for op in ops {
                let resp = match &op.request {
                    Some(PbTxnOpRequest::RequestRange(q)) => {
                        let mut q = q.clone();
                        if q.revision == 0 {
                            q.revision = rev.unwrap_or(0);
                        }
                        PbTxnOpResponse::ResponseRange(self.do_range(q).await?)
                    }
                    Some(PbTxnOpRequest::RequestPut(p)) => {
                        match self.try_put(p, cur.clone()).await? {
                            Attempt::Done((r, prev)) => {
                                rev = Some(r);
                                PbTxnOpResponse::ResponsePut(PbPutResponse {
                                    header: self.header(Some(r)).await,
                                    prev_kv: if p.prev_kv { prev.map(pb_kv) } else { None },
                                })
                            }
                            Attempt::Retry => {
                                retry = true;
                                break;
                            }
                        }
                    }
                    Some(PbTxnOpRequest::RequestDeleteRange(d)) => {
                        let res = match &cur {
                            None => Ok(None),
                            Some(c) => store.delete(&d.key, Some(c.mod_revision)).await.map(Some),
                        };
                        match res {
                            Ok(deleted) => {
                                if let Some((r, _)) = &deleted {
                                    rev = Some(*r);
                                }
                                PbTxnOpResponse::ResponseDeleteRange(PbDeleteResponse {
                                    header: self.header(rev).await,
                                    deleted: deleted.is_some() as i64,
                                    prev_kvs: match (d.prev_kv, deleted) {
                                        (true, Some((_, prev))) => vec![pb_kv(prev)],
                                        _ => Vec::new(),
                                    },
                                })
                            }
                            Err(Error::Conflict { .. } | Error::NotFound { .. }) => {
                                retry = true;
                                break;
                            }
                            Err(e) => return Err(status(e)),
                        }
                    }
                    _ => return Err(Status::invalid_argument("bad transaction operation")),
                };
                responses.push(PbResponseOp {
                    response: Some(resp),
                });
            }
            if retry {
                // The key changed between our read and our write: evaluate again.
                continue;
            }
            return Ok(PbTxnResponse {
                header: self.header(rev).await,
                succeeded,
                responses,
            });
        }
    }
}

#[tonic::async_trait]
impl PbKvService for EtcdShim {
    async fn range(
        &self,
        req: Request<PbRangeRequest>,
    ) -> Result<Response<PbRangeResponse>, Status> {
        Ok(Response::new(self.do_range(req.into_inner()).await?))
    }

    type RangeStreamStream =
        Pin<Box<dyn Stream<Item = Result<PbRangeStreamResponse, Status>> + Send + 'static>>;

    async fn range_stream(
        &self,
        _req: Request<PbRangeRequest>,
    ) -> Result<Response<Self::RangeStreamStream>, Status> {
        Err(Status::unimplemented(
            "k3rs datastore: RangeStream is not supported; use Range",
        ))
    }

    async fn put(&self, req: Request<PbPutRequest>) -> Result<Response<PbPutResponse>, Status> {
        Ok(Response::new(self.do_put(req.into_inner()).await?))
    }

    async fn delete_range(
        &self,
        req: Request<PbDeleteRequest>,
    ) -> Result<Response<PbDeleteResponse>, Status> {
        Ok(Response::new(self.do_delete(req.into_inner()).await?))
    }

    async fn txn(&self, req: Request<PbTxnRequest>) -> Result<Response<PbTxnResponse>, Status> {
        Ok(Response::new(self.do_txn(req.into_inner()).await?))
    }

    async fn compact(
        &self,
        req: Request<PbCompactionRequest>,
    ) -> Result<Response<PbCompactionResponse>, Status> {
        let rev = req.into_inner().revision;
        self.shared.store.compact(rev).await.map_err(status)?;
        Ok(Response::new(PbCompactionResponse {
            header: self.header(None).await,
        }))
    }
}

fn pb_event(ev: crate::Event, prev_kv: bool) -> PbEvent {
    PbEvent {
        r#type: match ev.kind {
            crate::EventType::Put => EVENT_PUT,
            crate::EventType::Delete => EVENT_DELETE,
        },
        kv: Some(pb_kv(ev.kv)),
        prev_kv: if prev_kv { ev.prev.map(pb_kv) } else { None },
    }
}

/// What a client asked of one watcher.
struct WatcherSpec {
    id: i64,
    /// Periodic progress notifications.
    notify: bool,
    prev_kv: bool,
    filters: Vec<i32>,
}

/// One watcher of a Watch stream: forwards backend messages as etcd WatchResponses.
async fn forward_watch(
    shim: EtcdShim,
    spec: WatcherSpec,
    mut stream: crate::WatchStream,
    out: mpsc::Sender<Result<PbWatchResponse, Status>>,
    progress: Arc<AtomicI64>,
) {
    let WatcherSpec {
        id,
        notify,
        prev_kv,
        filters,
    } = spec;
    let mut last_sent = Instant::now();
    let mut pending_progress: Option<Revision> = None;
    while let Some(msg) = stream.next().await {
        let resp = match msg {
            Ok(WatchMessage::Events(evs)) => {
                let rev = evs.last().map(|e| e.revision()).unwrap_or(0);
                let events: Vec<PbEvent> = evs
                    .into_iter()
                    .filter(|e| match e.kind {
                        crate::EventType::Put => !filters.contains(&FILTER_NOPUT),
                        crate::EventType::Delete => !filters.contains(&FILTER_NODELETE),
                    })
                    .map(|e| pb_event(e, prev_kv))
                    .collect();
                if events.is_empty() {
                    progress.store(rev, Ordering::SeqCst);
                    continue;
                }
                // Progress is recorded only once the events are on their way (after the send).
                pending_progress = Some(rev);
                PbWatchResponse {
                    header: shim.header(Some(rev)).await,
                    watch_id: id,
                    events,
                    ..Default::default()
                }
            }
            Ok(WatchMessage::Progress(rev)) => {
                progress.store(rev, Ordering::SeqCst);
                if !notify || last_sent.elapsed() < PROGRESS_NOTIFY {
                    continue;
                }
                PbWatchResponse {
                    header: shim.header(Some(rev)).await,
                    watch_id: id,
                    ..Default::default()
                }
            }
            Err(Error::Compacted { compacted, .. }) => PbWatchResponse {
                header: shim.header(None).await,
                watch_id: id,
                canceled: true,
                compact_revision: compacted.max(1),
                cancel_reason: "etcdserver: mvcc: required revision has been compacted".into(),
                ..Default::default()
            },
            Err(e) => PbWatchResponse {
                header: shim.header(None).await,
                watch_id: id,
                canceled: true,
                cancel_reason: e.to_string(),
                ..Default::default()
            },
        };
        let end = resp.canceled;
        last_sent = Instant::now();
        if out.send(Ok(resp)).await.is_err() || end {
            return;
        }
        if let Some(rev) = pending_progress.take() {
            progress.store(rev, Ordering::SeqCst);
        }
    }
}

struct Watcher {
    task: tokio::task::JoinHandle<()>,
    progress: Arc<AtomicI64>,
}

impl EtcdShim {
    // The watcher map is only touched between awaits; the entry API would hold it across them.
    #[allow(clippy::map_entry)]
    async fn run_watch_stream(
        self,
        mut input: Streaming<PbWatchRequest>,
        out: mpsc::Sender<Result<PbWatchResponse, Status>>,
    ) {
        let mut watchers: HashMap<i64, Watcher> = HashMap::new();
        let mut next_id: i64 = 0;
        loop {
            let msg = tokio::select! {
                _ = out.closed() => break,
                m = input.message() => m,
            };
            let Ok(Some(PbWatchRequest {
                request_union: Some(req),
            })) = msg
            else {
                break;
            };
            let resp = match req {
                PbWatchRequestUnion::CreateRequest(c) => {
                    let id = if c.watch_id != 0 {
                        c.watch_id
                    } else {
                        while watchers.contains_key(&next_id) {
                            next_id += 1;
                        }
                        next_id
                    };
                    if watchers.contains_key(&id) {
                        PbWatchResponse {
                            header: self.header(None).await,
                            watch_id: id,
                            created: true,
                            canceled: true,
                            cancel_reason: "etcdserver: duplicate watch ID".into(),
                            ..Default::default()
                        }
                    } else {
                        let (start, end) = match range_end(&c.range_end) {
                            None => {
                                let mut end = c.key.clone();
                                end.push(0);
                                (c.key.clone(), end)
                            }
                            Some(end) => (c.key.clone(), end),
                        };
                        let opts = WatchOptions {
                            progress_interval: Some(PROGRESS_TICK),
                        };
                        let current = self.shared.store.current_revision().await.unwrap_or(0);
                        // "From now" means from just after the revision reported as created.
                        let from = if c.start_revision > 0 {
                            c.start_revision
                        } else {
                            current + 1
                        };
                        match self.shared.store.watch(&start, &end, from, opts).await {
                            Ok(stream) => {
                                let from = if c.start_revision > 0 {
                                    c.start_revision - 1
                                } else {
                                    current
                                };
                                let progress = Arc::new(AtomicI64::new(from));
                                // "created" must reach the client before any event.
                                let created = PbWatchResponse {
                                    header: self.header(Some(current)).await,
                                    watch_id: id,
                                    created: true,
                                    ..Default::default()
                                };
                                if out.send(Ok(created)).await.is_err() {
                                    break;
                                }
                                let spec = WatcherSpec {
                                    id,
                                    notify: c.progress_notify,
                                    prev_kv: c.prev_kv,
                                    filters: c.filters.clone(),
                                };
                                let task = tokio::spawn(forward_watch(
                                    self.clone(),
                                    spec,
                                    stream,
                                    out.clone(),
                                    progress.clone(),
                                ));
                                watchers.insert(id, Watcher { task, progress });
                                next_id = next_id.max(id + 1);
                                continue;
                            }
                            Err(Error::Compacted { compacted, .. }) => PbWatchResponse {
                                header: self.header(Some(current)).await,
                                watch_id: id,
                                created: true,
                                canceled: true,
                                compact_revision: compacted.max(1),
                                cancel_reason:
                                    "etcdserver: mvcc: required revision has been compacted".into(),
                                ..Default::default()
                            },
                            Err(e) => PbWatchResponse {
                                header: self.header(Some(current)).await,
                                watch_id: id,
                                created: true,
                                canceled: true,
                                cancel_reason: e.to_string(),
                                ..Default::default()
                            },
                        }
                    }
                }
                PbWatchRequestUnion::CancelRequest(c) => {
                    if let Some(w) = watchers.remove(&c.watch_id) {
                        w.task.abort();
                    }
                    PbWatchResponse {
                        header: self.header(None).await,
                        watch_id: c.watch_id,
                        canceled: true,
                        cancel_reason: "watch closed by client".into(),
                        ..Default::default()
                    }
                }
                PbWatchRequestUnion::ProgressRequest(_) => {
                    // Report a revision every watcher of this stream has caught up with.
                    let current = self.shared.store.current_revision().await.unwrap_or(0);
                    let deadline = Instant::now() + Duration::from_secs(2);
                    let lowest = |ws: &HashMap<i64, Watcher>| {
                        ws.values()
                            .map(|w| w.progress.load(Ordering::SeqCst))
                            .min()
                            .unwrap_or(current)
                    };
                    while lowest(&watchers) < current && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    PbWatchResponse {
                        header: self.header(Some(lowest(&watchers).min(current))).await,
                        watch_id: -1,
                        ..Default::default()
                    }
                }
            };
            if out.send(Ok(resp)).await.is_err() {
                break;
            }
        }
        for (_, w) in watchers {
            w.task.abort();
        }
    }
}

#[tonic::async_trait]
impl PbWatchService for EtcdShim {
    type WatchStream = ReceiverStream<Result<PbWatchResponse, Status>>;

    async fn watch(
        &self,
        req: Request<Streaming<PbWatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(self.clone().run_watch_stream(req.into_inner(), tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

#[tonic::async_trait]
impl PbLeaseService for EtcdShim {
    async fn lease_grant(
        &self,
        req: Request<PbLeaseGrantRequest>,
    ) -> Result<Response<PbLeaseGrantResponse>, Status> {
        let r = req.into_inner();
        // etcd's bounds: a positive TTL of at most MaxLeaseTTL (9,000,000,000 s).
        if r.ttl <= 0 || r.ttl > 9_000_000_000 {
            return Err(Status::out_of_range("etcdserver: too large lease TTL"));
        }
        let id = if r.id != 0 {
            r.id
        } else {
            self.shared.next_lease.fetch_add(1, Ordering::SeqCst)
        };
        {
            let mut leases = self
                .shared
                .leases
                .lock()
                .map_err(|_| Status::internal("lease table poisoned"))?;
            if leases.contains_key(&id) {
                return Err(Status::failed_precondition(
                    "etcdserver: lease already exists",
                ));
            }
            leases.insert(
                id,
                Lease {
                    ttl: r.ttl,
                    expires: Instant::now() + Duration::from_secs(r.ttl as u64),
                    keys: BTreeSet::new(),
                },
            );
        }
        Ok(Response::new(PbLeaseGrantResponse {
            header: self.header(None).await,
            id,
            ttl: r.ttl,
            error: String::new(),
        }))
    }

    async fn lease_revoke(
        &self,
        req: Request<PbLeaseRevokeRequest>,
    ) -> Result<Response<PbLeaseRevokeResponse>, Status> {
        let id = req.into_inner().id;
        let lease = self
            .shared
            .leases
            .lock()
            .map_err(|_| Status::internal("lease table poisoned"))?
            .remove(&id);
        let Some(lease) = lease else {
            return Err(Status::not_found("etcdserver: requested lease not found"));
        };
        for key in lease.keys {
            // Only keys still attached to this lease go with it.
            if let Ok((Some(kv), _)) = self.shared.store.get(&key, 0).await {
                if kv.lease == id {
                    match self.shared.store.delete(&key, Some(kv.mod_revision)).await {
                        Ok(_) | Err(Error::NotFound { .. } | Error::Conflict { .. }) => {}
                        Err(e) => return Err(status(e)),
                    }
                }
            }
        }
        Ok(Response::new(PbLeaseRevokeResponse {
            header: self.header(None).await,
        }))
    }

    type LeaseKeepAliveStream = ReceiverStream<Result<PbLeaseKeepAliveResponse, Status>>;

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<PbLeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let mut input = req.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let shim = self.clone();
        tokio::spawn(async move {
            while let Ok(Some(PbLeaseKeepAliveRequest { id })) = input.message().await {
                let ttl = shim
                    .shared
                    .leases
                    .lock()
                    .ok()
                    .and_then(|mut leases| {
                        leases.get_mut(&id).map(|l| {
                            l.expires = Instant::now() + Duration::from_secs(l.ttl as u64);
                            l.ttl
                        })
                    })
                    .unwrap_or(0);
                let resp = PbLeaseKeepAliveResponse {
                    header: shim.header(None).await,
                    id,
                    ttl,
                };
                if tx.send(Ok(resp)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<PbLeaseTimeToLiveRequest>,
    ) -> Result<Response<PbLeaseTimeToLiveResponse>, Status> {
        let r = req.into_inner();
        let found = self
            .shared
            .leases
            .lock()
            .map_err(|_| Status::internal("lease table poisoned"))?
            .get(&r.id)
            .map(|l| {
                let left = l.expires.saturating_duration_since(Instant::now());
                (
                    left.as_secs() as i64,
                    l.ttl,
                    l.keys.iter().cloned().collect::<Vec<_>>(),
                )
            });
        let (ttl, granted_ttl, keys) = found.unwrap_or((-1, 0, Vec::new()));
        Ok(Response::new(PbLeaseTimeToLiveResponse {
            header: self.header(None).await,
            id: r.id,
            ttl,
            granted_ttl,
            keys: if r.keys { keys } else { Vec::new() },
        }))
    }

    async fn lease_leases(
        &self,
        _req: Request<PbLeaseLeasesRequest>,
    ) -> Result<Response<PbLeaseLeasesResponse>, Status> {
        let mut ids: Vec<i64> = self
            .shared
            .leases
            .lock()
            .map_err(|_| Status::internal("lease table poisoned"))?
            .keys()
            .copied()
            .collect();
        ids.sort_unstable();
        Ok(Response::new(PbLeaseLeasesResponse {
            header: self.header(None).await,
            leases: ids.into_iter().map(|id| PbLeaseStatus { id }).collect(),
        }))
    }
}

fn unimplemented(what: &str) -> Status {
    Status::unimplemented(format!("k3rs datastore: {what} is not supported"))
}

#[tonic::async_trait]
impl PbMaintenanceService for EtcdShim {
    async fn alarm(
        &self,
        _req: Request<etcd_client::proto::PbAlarmRequest>,
    ) -> Result<Response<etcd_client::proto::PbAlarmResponse>, Status> {
        // No alarms are ever raised.
        Ok(Response::new(etcd_client::proto::PbAlarmResponse {
            header: self.header(None).await,
            alarms: Vec::new(),
        }))
    }

    async fn status(
        &self,
        _req: Request<PbStatusRequest>,
    ) -> Result<Response<PbStatusResponse>, Status> {
        let store = &self.shared.store;
        let rev = store.current_revision().await.map_err(status)?;
        let size = store.db_size().await.unwrap_or(0);
        Ok(Response::new(PbStatusResponse {
            header: self.header(Some(rev)).await,
            version: ETCD_API_VERSION.into(),
            db_size: size,
            db_size_in_use: size,
            leader: MEMBER_ID,
            raft_index: rev as u64,
            raft_term: 1,
            raft_applied_index: rev as u64,
            storage_version: "3.5.0".into(),
            ..Default::default()
        }))
    }

    async fn defragment(
        &self,
        _req: Request<etcd_client::proto::PbDefragmentRequest>,
    ) -> Result<Response<etcd_client::proto::PbDefragmentResponse>, Status> {
        Err(unimplemented("Defragment"))
    }

    async fn hash(
        &self,
        _req: Request<etcd_client::proto::PbHashRequest>,
    ) -> Result<Response<etcd_client::proto::PbHashResponse>, Status> {
        Err(unimplemented("Hash"))
    }

    async fn hash_kv(
        &self,
        _req: Request<etcd_client::proto::PbHashKvRequest>,
    ) -> Result<Response<etcd_client::proto::PbHashKvResponse>, Status> {
        Err(unimplemented("HashKV"))
    }

    type SnapshotStream =
        Pin<Box<dyn Stream<Item = Result<etcd_client::proto::PbSnapshotResponse, Status>> + Send>>;

    async fn snapshot(
        &self,
        _req: Request<etcd_client::proto::PbSnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        Err(unimplemented(
            "Snapshot (copy the SQLite file after `k3rs datastore` stops)",
        ))
    }

    async fn move_leader(
        &self,
        _req: Request<etcd_client::proto::PbMoveLeaderRequest>,
    ) -> Result<Response<etcd_client::proto::PbMoveLeaderResponse>, Status> {
        Err(unimplemented("MoveLeader"))
    }

    async fn downgrade(
        &self,
        _req: Request<etcd_client::proto::PbDowngradeRequest>,
    ) -> Result<Response<etcd_client::proto::PbDowngradeResponse>, Status> {
        Err(unimplemented("Downgrade"))
    }
}

#[tonic::async_trait]
impl PbClusterService for EtcdShim {
    async fn member_add(
        &self,
        _req: Request<etcd_client::proto::PbMemberAddRequest>,
    ) -> Result<Response<etcd_client::proto::PbMemberAddResponse>, Status> {
        Err(unimplemented("MemberAdd"))
    }

    async fn member_remove(
        &self,
        _req: Request<etcd_client::proto::PbMemberRemoveRequest>,
    ) -> Result<Response<etcd_client::proto::PbMemberRemoveResponse>, Status> {
        Err(unimplemented("MemberRemove"))
    }

    async fn member_update(
        &self,
        _req: Request<etcd_client::proto::PbMemberUpdateRequest>,
    ) -> Result<Response<etcd_client::proto::PbMemberUpdateResponse>, Status> {
        Err(unimplemented("MemberUpdate"))
    }

    async fn member_list(
        &self,
        _req: Request<PbMemberListRequest>,
    ) -> Result<Response<PbMemberListResponse>, Status> {
        Ok(Response::new(PbMemberListResponse {
            header: self.header(None).await,
            members: vec![PbMember {
                id: MEMBER_ID,
                name: "k3rs".into(),
                peer_ur_ls: Vec::new(),
                client_ur_ls: self.shared.client_urls.clone(),
                is_learner: false,
            }],
        }))
    }

    async fn member_promote(
        &self,
        _req: Request<etcd_client::proto::PbMemberPromoteRequest>,
    ) -> Result<Response<etcd_client::proto::PbMemberPromoteResponse>, Status> {
        Err(unimplemented("MemberPromote"))
    }
}

/// Serves the etcd API for `store` on `listener` until `shutdown` completes.
pub async fn serve(
    store: Store,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let url = listener
        .local_addr()
        .map(|a| format!("http://{a}"))
        .unwrap_or_default();
    let shim = EtcdShim::new(store, vec![url]);
    // Small watch and response frames must not wait for delayed ACKs (Nagle).
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|s| {
            let _ = s.set_nodelay(true);
        })
    });
    tonic::transport::Server::builder()
        .add_service(PbKvServer::new(shim.clone()).max_decoding_message_size(MAX_REQUEST_BYTES))
        .add_service(PbWatchServer::new(shim.clone()))
        .add_service(PbLeaseServer::new(shim.clone()))
        .add_service(PbMaintenanceServer::new(shim.clone()))
        .add_service(PbClusterServer::new(shim))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
