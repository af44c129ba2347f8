//! The etcd v3 backend: a thin mapping of [`Backend`] onto a real etcd cluster. Revisions are etcd's;
//! compare-and-swap is an etcd transaction on the key's mod revision, as kube-apiserver does it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType as EtcdEventType,
    GetOptions, PutOptions as EtcdPutOptions, Txn, TxnOp, TxnOpResponse,
    WatchOptions as EtcdWatchOptions,
};
use tokio::sync::mpsc;

use crate::{
    key_str, Backend, Error, Event, EventType, KeyValue, ListOptions, ListResult, PutOptions,
    Result, Revision, WatchMessage, WatchOptions, WatchStream,
};

/// A granted lease is shared by writes with the same TTL for this share of the TTL (at most
/// `LEASE_REUSE_MAX`), and granted that much longer, so every write sharing it lives at least its TTL.
const LEASE_REUSE_PERCENT: u64 = 5;
const LEASE_REUSE_MAX: Duration = Duration::from_secs(60);

pub struct EtcdBackend {
    client: Client,
    /// TTL seconds → (lease id, granted at).
    leases: Mutex<HashMap<i64, (i64, Instant)>>,
}

fn map_err(e: etcd_client::Error) -> Error {
    let msg = e.to_string();
    if msg.contains("required revision has been compacted") {
        return Error::Compacted {
            requested: 0,
            compacted: 0,
        };
    }
    if msg.contains("required revision is a future revision") {
        return Error::FutureRevision {
            requested: 0,
            current: 0,
        };
    }
    Error::Etcd(msg)
}

fn kv_of(kv: &etcd_client::KeyValue) -> KeyValue {
    KeyValue {
        key: kv.key().to_vec(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        lease: kv.lease(),
    }
}

fn header_rev(h: Option<&etcd_client::ResponseHeader>) -> Revision {
    h.map(|h| h.revision()).unwrap_or(0)
}

fn range_opts(end: &[u8]) -> GetOptions {
    if end.is_empty() {
        GetOptions::new().with_from_key()
    } else {
        GetOptions::new().with_range(end.to_vec())
    }
}

impl EtcdBackend {
    /// Connects to an etcd cluster and checks that it answers.
    pub async fn connect(urls: &[String]) -> Result<Self> {
        let opts = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(30))
            .with_keep_alive(Duration::from_secs(30), Duration::from_secs(10));
        let mut client = Client::connect(urls, Some(opts))
            .await
            .map_err(|e| Error::Etcd(format!("connecting to {}: {e}", urls.join(","))))?;
        client
            .status()
            .await
            .map_err(|e| Error::Etcd(format!("etcd at {} does not answer: {e}", urls.join(","))))?;
        Ok(Self {
            client,
            leases: Mutex::new(HashMap::new()),
        })
    }

    async fn put_options(&self, opts: PutOptions) -> Result<Option<EtcdPutOptions>> {
        let Some(ttl) = opts.ttl else { return Ok(None) };
        let secs = ttl.as_secs().max(1) as i64;
        let window =
            Duration::from_secs(secs as u64 * LEASE_REUSE_PERCENT / 100).min(LEASE_REUSE_MAX);
        let reuse = self.leases.lock().ok().and_then(|m| {
            m.get(&secs)
                .filter(|(_, at)| at.elapsed() < window)
                .map(|(id, _)| *id)
        });
        let id = match reuse {
            Some(id) => id,
            None => {
                let lease = self
                    .client
                    .clone()
                    .lease_grant(secs + window.as_secs() as i64, None)
                    .await
                    .map_err(map_err)?;
                if let Ok(mut m) = self.leases.lock() {
                    m.insert(secs, (lease.id(), Instant::now()));
                }
                lease.id()
            }
        };
        Ok(Some(EtcdPutOptions::new().with_lease(id)))
    }

    /// Runs `If(ModRevision(key) == expected) Then(op) Else(Get(key))`.
    async fn cas(
        &self,
        key: &[u8],
        expected: Revision,
        op: TxnOp,
    ) -> Result<(bool, Revision, Option<KeyValue>, Option<TxnOpResponse>)> {
        let txn = Txn::new()
            .when([Compare::mod_revision(
                key.to_vec(),
                CompareOp::Equal,
                expected,
            )])
            .and_then([op])
            .or_else([TxnOp::get(key.to_vec(), None)]);
        let resp = self.client.clone().txn(txn).await.map_err(map_err)?;
        let rev = header_rev(resp.header());
        let mut ops = resp.op_responses();
        if resp.succeeded() {
            return Ok((true, rev, None, ops.pop()));
        }
        let current = match ops.pop() {
            Some(TxnOpResponse::Get(g)) => g.kvs().first().map(kv_of),
            _ => None,
        };
        Ok((false, rev, current, None))
    }
}

#[async_trait]
impl Backend for EtcdBackend {
    fn kind(&self) -> &'static str {
        "etcd"
    }

    async fn current_revision(&self) -> Result<Revision> {
        let resp = self
            .client
            .clone()
            .get("\0", Some(GetOptions::new().with_count_only()))
            .await
            .map_err(map_err)?;
        Ok(header_rev(resp.header()))
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        // etcd does not report it; a watch from revision 1 is cancelled with it.
        let mut stream = self
            .client
            .clone()
            .watch("\0", Some(EtcdWatchOptions::new().with_start_revision(1)))
            .await
            .map_err(map_err)?;
        let mut compacted = 0;
        for _ in 0..2 {
            match tokio::time::timeout(Duration::from_millis(500), stream.message()).await {
                Ok(Ok(Some(resp))) if resp.compact_revision() > 0 => {
                    compacted = resp.compact_revision();
                    break;
                }
                Ok(Ok(Some(resp))) if resp.created() => continue,
                _ => break,
            }
        }
        drop(stream);
        Ok(compacted)
    }

    async fn get(&self, key: &[u8], revision: Revision) -> Result<(Option<KeyValue>, Revision)> {
        let resp = self
            .client
            .clone()
            .get(
                key.to_vec(),
                Some(GetOptions::new().with_revision(revision)),
            )
            .await
            .map_err(map_err)?;
        Ok((resp.kvs().first().map(kv_of), header_rev(resp.header())))
    }

    async fn list(&self, start: &[u8], end: &[u8], opts: ListOptions) -> Result<ListResult> {
        let mut o = range_opts(end)
            .with_revision(opts.revision)
            .with_limit(opts.limit);
        if opts.keys_only {
            o = o.with_keys_only();
        }
        // A whole unpaged list can be far larger than gRPC's default 4 MiB message limit;
        // kube-apiserver allows its etcd responses up to 2 GiB, and so do we.
        let resp = self
            .client
            .kv_client()
            .max_decoding_message_size(i32::MAX as usize)
            .get(start.to_vec(), Some(o))
            .await
            .map_err(map_err)?;
        let revision = if opts.revision > 0 {
            opts.revision
        } else {
            header_rev(resp.header())
        };
        Ok(ListResult {
            kvs: resp.kvs().iter().map(kv_of).collect(),
            more: resp.more(),
            revision,
        })
    }

    async fn count(&self, start: &[u8], end: &[u8], revision: Revision) -> Result<(i64, Revision)> {
        let resp = self
            .client
            .clone()
            .get(
                start.to_vec(),
                Some(range_opts(end).with_revision(revision).with_count_only()),
            )
            .await
            .map_err(map_err)?;
        let rev = if revision > 0 {
            revision
        } else {
            header_rev(resp.header())
        };
        Ok((resp.count(), rev))
    }

    async fn create(&self, key: &[u8], value: &[u8], opts: PutOptions) -> Result<Revision> {
        let put = TxnOp::put(key.to_vec(), value.to_vec(), self.put_options(opts).await?);
        let (ok, rev, current, _) = self.cas(key, 0, put).await?;
        if ok {
            return Ok(rev);
        }
        Err(Error::KeyExists {
            key: key_str(key),
            revision: current.map(|kv| kv.mod_revision).unwrap_or(0),
        })
    }

    async fn update(
        &self,
        key: &[u8],
        value: &[u8],
        expected: Revision,
        opts: PutOptions,
    ) -> Result<Revision> {
        let put = TxnOp::put(key.to_vec(), value.to_vec(), self.put_options(opts).await?);
        let (ok, rev, current, _) = self.cas(key, expected, put).await?;
        match (ok, current) {
            (true, _) => Ok(rev),
            (false, None) => Err(Error::NotFound { key: key_str(key) }),
            (false, Some(kv)) => Err(Error::Conflict {
                key: key_str(key),
                expected,
                current: Some(Box::new(kv)),
            }),
        }
    }

    async fn delete(&self, key: &[u8], expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        let del = TxnOp::delete(key.to_vec(), Some(DeleteOptions::new().with_prev_key()));
        let result = match expected {
            Some(expected) => self.cas(key, expected, del).await?,
            None => {
                let resp = self
                    .client
                    .clone()
                    .txn(Txn::new().and_then([del]))
                    .await
                    .map_err(map_err)?;
                let rev = header_rev(resp.header());
                (true, rev, None, resp.op_responses().pop())
            }
        };
        match result {
            (true, rev, _, Some(TxnOpResponse::Delete(d))) => match d.prev_kvs().first() {
                Some(prev) => Ok((rev, kv_of(prev))),
                None => Err(Error::NotFound { key: key_str(key) }),
            },
            (true, _, _, _) => Err(Error::Etcd("unexpected transaction response".into())),
            (false, _, None, _) => Err(Error::NotFound { key: key_str(key) }),
            (false, _, Some(kv), _) => Err(Error::Conflict {
                key: key_str(key),
                expected: expected.unwrap_or(0),
                current: Some(Box::new(kv)),
            }),
        }
    }

    async fn watch(
        &self,
        start: &[u8],
        end: &[u8],
        from: Revision,
        opts: WatchOptions,
    ) -> Result<WatchStream> {
        let mut o = EtcdWatchOptions::new().with_prev_key();
        o = if end.is_empty() {
            o.with_from_key()
        } else {
            o.with_range(end.to_vec())
        };
        if from > 0 {
            o = o.with_start_revision(from);
        }
        if opts.progress_interval.is_some() {
            o = o.with_progress_notify();
        }
        let mut stream = self
            .client
            .clone()
            .watch(start.to_vec(), Some(o))
            .await
            .map_err(map_err)?;
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    _ = tx.closed() => break,
                    m = stream.message() => m,
                };
                let out = match msg {
                    Ok(Some(resp)) => {
                        if resp.compact_revision() > 0 {
                            Err(Error::Compacted {
                                requested: from,
                                compacted: resp.compact_revision(),
                            })
                        } else if resp.canceled() {
                            Err(Error::Etcd(format!(
                                "watch cancelled: {}",
                                resp.cancel_reason()
                            )))
                        } else if resp.created() && resp.events().is_empty() {
                            continue;
                        } else if resp.events().is_empty() {
                            Ok(WatchMessage::Progress(header_rev(resp.header())))
                        } else {
                            Ok(WatchMessage::Events(
                                resp.events()
                                    .iter()
                                    .filter_map(|e| {
                                        let kv = e.kv()?;
                                        let kind = match e.event_type() {
                                            EtcdEventType::Put => EventType::Put,
                                            EtcdEventType::Delete => EventType::Delete,
                                        };
                                        Some(Event {
                                            kind,
                                            kv: kv_of(kv),
                                            prev: e.prev_kv().map(kv_of),
                                        })
                                    })
                                    .collect(),
                            ))
                        }
                    }
                    Ok(None) => Err(Error::Closed),
                    Err(e) => Err(map_err(e)),
                };
                let end = out.is_err();
                if tx.send(out).await.is_err() || end {
                    break;
                }
            }
            drop(stream);
        });
        Ok(WatchStream::new(rx))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.client
            .clone()
            .compact(revision, None)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn db_size(&self) -> Result<i64> {
        let s = self.client.clone().status().await.map_err(map_err)?;
        Ok(s.db_size())
    }
}
