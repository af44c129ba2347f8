//! A datastore wrapper that records each operation's latency in the server's metrics.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use k3rs_storage::{
    Backend, KeyValue, ListOptions, ListResult, PutOptions, Result, Revision, Store, WatchOptions,
    WatchStream,
};

use crate::metrics::Metrics;

pub struct Timed {
    pub inner: Store,
    pub metrics: Arc<Metrics>,
}

impl Timed {
    async fn time<T>(&self, op: &str, f: impl std::future::Future<Output = T>) -> T {
        let start = Instant::now();
        let out = f.await;
        self.metrics.storage(op, start.elapsed());
        out
    }
}

#[async_trait]
impl Backend for Timed {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.inner.current_revision().await
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.inner.compacted_revision().await
    }

    async fn get(&self, key: &[u8], revision: Revision) -> Result<(Option<KeyValue>, Revision)> {
        self.time("get", self.inner.get(key, revision)).await
    }

    async fn list(&self, start: &[u8], end: &[u8], opts: ListOptions) -> Result<ListResult> {
        self.time("list", self.inner.list(start, end, opts)).await
    }

    async fn count(&self, start: &[u8], end: &[u8], revision: Revision) -> Result<(i64, Revision)> {
        self.time("count", self.inner.count(start, end, revision))
            .await
    }

    async fn create(&self, key: &[u8], value: &[u8], opts: PutOptions) -> Result<Revision> {
        self.time("create", self.inner.create(key, value, opts))
            .await
    }

    async fn update(
        &self,
        key: &[u8],
        value: &[u8],
        expected: Revision,
        opts: PutOptions,
    ) -> Result<Revision> {
        self.time("update", self.inner.update(key, value, expected, opts))
            .await
    }

    async fn delete(&self, key: &[u8], expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        self.time("delete", self.inner.delete(key, expected)).await
    }

    async fn watch(
        &self,
        start: &[u8],
        end: &[u8],
        from: Revision,
        opts: WatchOptions,
    ) -> Result<WatchStream> {
        self.time("watch", self.inner.watch(start, end, from, opts))
            .await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.time("compact", self.inner.compact(revision)).await
    }

    async fn db_size(&self) -> Result<i64> {
        self.inner.db_size().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}
