//! The datastore load generator: creates, lists and watches through the etcd v3
//! API, shaped the way kube-apiserver uses its storage.
//!
//! Every request is bounded by `op_timeout`, every scenario by its duration or
//! key count, and all keys live under `/registry/bench/<run-id>/` so repeated
//! runs against one server do not collide.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use etcd_client::{
    Client, Compare, CompareOp, GetOptions, KvClient, Txn, TxnOp, WatchOptions, WatchResponseStream,
};
use rand::Rng;
use tokio::time::{timeout, MissedTickBehavior};

use crate::results::{
    CreatesResult, ErrorTally, ListResult, RunConfig, SystemResults, WatchResult,
};
use crate::stats::{median, summarize_nanos};

/// Responses of an unpaged 100k-key list are ~100 MiB; allow far more than that.
const MAX_MESSAGE: usize = 1 << 30;
/// How long watchers may lag behind the writer before events count as missed.
const WATCH_DRAIN: Duration = Duration::from_secs(10);
/// Pause after a failed request, so a dead server does not turn into a busy loop.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// What to run and how hard.
#[derive(Debug, Clone)]
pub struct Options {
    pub endpoint: String,
    pub name: String,
    pub scenarios: Vec<Scenario>,
    pub quick: bool,
    pub clients: usize,
    pub value_size: usize,
    pub op_timeout: Duration,
    pub create_duration: Duration,
    pub writers: Vec<usize>,
    pub list_sizes: Vec<usize>,
    pub list_repeats: usize,
    pub list_page_limit: i64,
    pub preload_writers: usize,
    pub watchers: usize,
    pub watch_rate: f64,
    pub watch_duration: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Creates,
    List,
    Watch,
}

impl std::str::FromStr for Scenario {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "creates" => Ok(Scenario::Creates),
            "list" => Ok(Scenario::List),
            "watch" => Ok(Scenario::Watch),
            other => bail!("unknown scenario {other:?} (creates, list, watch)"),
        }
    }
}

impl Options {
    fn run_config(&self) -> RunConfig {
        RunConfig {
            quick: self.quick,
            clients: self.clients,
            value_size: self.value_size,
            op_timeout_s: self.op_timeout.as_secs_f64(),
            create_duration_s: self.create_duration.as_secs_f64(),
            writers: self.writers.clone(),
            list_sizes: self.list_sizes.clone(),
            list_repeats: self.list_repeats,
            list_page_limit: self.list_page_limit,
            preload_writers: self.preload_writers,
            watchers: self.watchers,
            watch_rate: self.watch_rate,
            watch_duration_s: self.watch_duration.as_secs_f64(),
        }
    }
}

/// Monotonic nanoseconds since the first call (shared by writer and watchers).
fn now_nanos() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// The first key after every key that starts with `prefix` (etcd's `GetPrefixRangeEnd`).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// A value of `size` bytes: `header`, then printable filler.
fn make_value(header: &str, filler: &[u8], size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size.max(header.len()));
    v.extend_from_slice(header.as_bytes());
    while v.len() < size {
        let n = (size - v.len()).min(filler.len());
        v.extend_from_slice(&filler[..n]);
    }
    v
}

/// How kube-apiserver creates an object: put only if the key does not exist.
fn create_txn(key: &str, value: Vec<u8>) -> Txn {
    Txn::new()
        .when([Compare::mod_revision(key, CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key, value, None)])
}

/// Runs `fut` with the per-request timeout, flattening both failure kinds into a message.
async fn bounded<T, F>(limit: Duration, fut: F) -> std::result::Result<T, String>
where
    F: std::future::Future<Output = std::result::Result<T, etcd_client::Error>>,
{
    match timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("timeout after {:.0?}", limit)),
    }
}

struct Pool {
    clients: Vec<Client>,
}

impl Pool {
    async fn connect(endpoint: &str, n: usize, limit: Duration) -> Result<Pool> {
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            let c = timeout(limit, Client::connect([endpoint], None))
                .await
                .map_err(|_| anyhow!("connecting to {endpoint}: timeout"))?
                .with_context(|| format!("connecting to {endpoint}"))?;
            clients.push(c);
        }
        Ok(Pool { clients })
    }

    fn kv(&self, i: usize) -> KvClient {
        self.clients[i % self.clients.len()]
            .kv_client()
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }
}

/// Waits until the endpoint answers a Range, for at most `wait`.
pub async fn ping(endpoint: &str, wait: Duration) -> Result<()> {
    let deadline = Instant::now() + wait;
    let mut last = String::from("no attempt");
    while Instant::now() < deadline {
        match timeout(Duration::from_secs(2), Client::connect([endpoint], None)).await {
            Ok(Ok(mut c)) => {
                match bounded(
                    Duration::from_secs(2),
                    c.get(
                        "/registry/bench/ping",
                        Some(GetOptions::new().with_count_only()),
                    ),
                )
                .await
                {
                    Ok(_) => return Ok(()),
                    Err(e) => last = e,
                }
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "connect timeout".into(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("{endpoint} did not answer within {wait:?}: {last}")
}

/// Runs the selected scenarios against one endpoint.
pub async fn run(opts: &Options) -> Result<SystemResults> {
    let started = Instant::now();
    let run_id = format!(
        "{:x}{:04x}",
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
        rand::rng().random::<u16>()
    );
    let prefix = format!("/registry/bench/{run_id}");
    let mut res = SystemResults {
        name: opts.name.clone(),
        endpoint: opts.endpoint.clone(),
        run_id: run_id.clone(),
        started_unix_s: SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
        config: opts.run_config(),
        ..Default::default()
    };
    let filler: Arc<Vec<u8>> = {
        let mut rng = rand::rng();
        Arc::new(
            (0..4096)
                .map(|_| rng.random_range(b'a'..=b'z'))
                .collect::<Vec<u8>>(),
        )
    };
    let pool = Arc::new(Pool::connect(&opts.endpoint, opts.clients, opts.op_timeout).await?);

    if opts.scenarios.contains(&Scenario::Creates) {
        for &w in &opts.writers {
            eprintln!(
                "[{}] creates: {w} writers for {:?}",
                opts.name, opts.create_duration
            );
            let r = creates(opts, &pool, &filler, &format!("{prefix}/creates-{w}"), w).await;
            eprintln!(
                "[{}]   {:.0} creates/s, p50 {:.2} ms, p99 {:.2} ms, errors {} (locked {})",
                opts.name,
                r.ops_per_s,
                r.latency.p50_ms,
                r.latency.p99_ms,
                r.errors.errors,
                r.errors.locked
            );
            res.creates.push(r);
        }
    }
    if opts.scenarios.contains(&Scenario::List) {
        for &n in &opts.list_sizes {
            eprintln!("[{}] list: preloading {n} keys", opts.name);
            match list(opts, &pool, &filler, &format!("{prefix}/list-{n}/"), n).await {
                Ok(r) => {
                    eprintln!(
                        "[{}]   unpaged {:?} s, paged {:?} s ({} pages), errors {}",
                        opts.name, r.unpaged_s, r.paged_s, r.pages, r.errors.errors
                    );
                    res.lists.push(r)
                }
                Err(e) => res.fatal.push(format!("list {n}: {e:#}")),
            }
        }
    }
    if opts.scenarios.contains(&Scenario::Watch) {
        eprintln!(
            "[{}] watch: {} watchers, {} puts/s for {:?}",
            opts.name, opts.watchers, opts.watch_rate, opts.watch_duration
        );
        match watch(opts, &pool, &filler, &format!("{prefix}/watch/")).await {
            Ok(r) => {
                eprintln!(
                    "[{}]   delivery p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; missed {}, duplicated {}",
                    opts.name, r.latency.p50_ms, r.latency.p99_ms, r.latency.max_ms, r.missed, r.duplicated
                );
                res.watch = Some(r)
            }
            Err(e) => res.fatal.push(format!("watch: {e:#}")),
        }
    }
    res.total_s = started.elapsed().as_secs_f64();
    Ok(res)
}

/// `writers` tasks each create fresh keys back to back until the duration is over.
async fn creates(
    opts: &Options,
    pool: &Arc<Pool>,
    filler: &Arc<Vec<u8>>,
    prefix: &str,
    writers: usize,
) -> CreatesResult {
    let start = Instant::now();
    let deadline = start + opts.create_duration;
    let mut handles = Vec::with_capacity(writers);
    for w in 0..writers {
        let mut kv = pool.kv(w);
        let filler = filler.clone();
        let prefix = prefix.to_string();
        let (size, limit) = (opts.value_size, opts.op_timeout);
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failed = 0u64;
            let mut errs = ErrorTally::default();
            let mut seq = 0u64;
            while Instant::now() < deadline {
                let key = format!("{prefix}/w{w:03}-{seq:08}");
                seq += 1;
                let value = make_value(&key, &filler, size);
                let t = Instant::now();
                match bounded(limit, kv.txn(create_txn(&key, value))).await {
                    Ok(r) if r.succeeded() => lat.push(t.elapsed().as_nanos() as u64),
                    Ok(_) => failed += 1,
                    Err(e) => {
                        errs.record(e);
                        tokio::time::sleep(ERROR_BACKOFF).await;
                    }
                }
            }
            (lat, failed, errs)
        }));
    }
    let mut all = Vec::new();
    let mut res = CreatesResult {
        writers,
        ..Default::default()
    };
    for h in futures::future::join_all(handles).await {
        match h {
            Ok((lat, failed, errs)) => {
                all.extend(lat);
                res.failed_txns += failed;
                res.errors.merge(&errs);
            }
            Err(e) => res.errors.record(format!("writer task: {e}")),
        }
    }
    res.elapsed_s = start.elapsed().as_secs_f64();
    res.ops = all.len() as u64;
    res.ops_per_s = res.ops as f64 / res.elapsed_s;
    res.latency = summarize_nanos(&mut all);
    res
}

/// Writes `n` keys under `prefix` with many writers; each key is retried a few times on error.
async fn preload(
    opts: &Options,
    pool: &Arc<Pool>,
    filler: &Arc<Vec<u8>>,
    prefix: &str,
    n: usize,
) -> (ErrorTally, u64) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for w in 0..opts.preload_writers.max(1) {
        let mut kv = pool.kv(w);
        let (next, filler, prefix) = (next.clone(), filler.clone(), prefix.to_string());
        let (size, limit) = (opts.value_size, opts.op_timeout);
        handles.push(tokio::spawn(async move {
            let mut errs = ErrorTally::default();
            let mut lost = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let key = format!("{prefix}obj-{i:07}");
                let mut ok = false;
                for _ in 0..5 {
                    let value = make_value(&key, &filler, size);
                    match bounded(limit, kv.txn(create_txn(&key, value))).await {
                        // Not succeeded: an earlier attempt that timed out did commit.
                        Ok(_) => {
                            ok = true;
                            break;
                        }
                        Err(e) => {
                            errs.record(e);
                            tokio::time::sleep(ERROR_BACKOFF).await;
                        }
                    }
                }
                if !ok {
                    lost += 1;
                }
            }
            (errs, lost)
        }));
    }
    let mut errs = ErrorTally::default();
    let mut lost = 0;
    for h in futures::future::join_all(handles).await {
        match h {
            Ok((e, l)) => {
                errs.merge(&e);
                lost += l;
            }
            Err(e) => errs.record(format!("preload task: {e}")),
        }
    }
    (errs, lost)
}

/// Preloads `n` keys, then times an unpaged list and a paged walk, `list_repeats` times each.
async fn list(
    opts: &Options,
    pool: &Arc<Pool>,
    filler: &Arc<Vec<u8>>,
    prefix: &str,
    n: usize,
) -> Result<ListResult> {
    let t = Instant::now();
    let (preload_errors, lost) = preload(opts, pool, filler, prefix, n).await;
    let mut res = ListResult {
        keys: n,
        preload_s: t.elapsed().as_secs_f64(),
        preload_errors,
        page_limit: opts.list_page_limit,
        ..Default::default()
    };
    eprintln!(
        "[{}]   preloaded in {:.1} s ({:.0} keys/s), errors {}",
        opts.name,
        res.preload_s,
        n as f64 / res.preload_s,
        res.preload_errors.errors
    );
    if lost > 0 {
        bail!(
            "{lost} of {n} keys could not be written: {:?}",
            res.preload_errors.samples
        );
    }
    let mut kv = pool.kv(0);
    let end = prefix_end(prefix.as_bytes());
    for _ in 0..opts.list_repeats.max(1) {
        // Unpaged: one Range over the whole prefix, like a list with limit=0.
        let t = Instant::now();
        match bounded(
            opts.op_timeout,
            kv.get(prefix, Some(GetOptions::new().with_range(end.clone()))),
        )
        .await
        {
            Ok(r) => {
                let secs = t.elapsed().as_secs_f64();
                if r.kvs().len() != n {
                    res.errors.record(format!(
                        "unpaged list returned {} keys, want {n}",
                        r.kvs().len()
                    ));
                } else {
                    res.unpaged_s.push(secs);
                }
            }
            Err(e) => res.errors.record(e),
        }
        // Paged: limit per page, continuing after the last key at the first page's revision.
        let t = Instant::now();
        match paged_walk(&mut kv, prefix, &end, opts.list_page_limit, opts.op_timeout).await {
            Ok((count, pages)) => {
                let secs = t.elapsed().as_secs_f64();
                if count != n {
                    res.errors
                        .record(format!("paged list returned {count} keys, want {n}"));
                } else {
                    res.paged_s.push(secs);
                    res.pages = pages;
                }
            }
            Err(e) => res.errors.record(e),
        }
    }
    res.unpaged_median_s = median(&res.unpaged_s);
    res.paged_median_s = median(&res.paged_s);
    Ok(res)
}

/// Walks `[prefix, end)` page by page the way kube-apiserver's continue tokens do.
async fn paged_walk(
    kv: &mut KvClient,
    prefix: &str,
    end: &[u8],
    limit: i64,
    op_timeout: Duration,
) -> std::result::Result<(usize, u64), String> {
    let mut key = prefix.as_bytes().to_vec();
    let mut rev = 0i64;
    let mut count = 0usize;
    let mut pages = 0u64;
    loop {
        let mut o = GetOptions::new().with_range(end.to_vec()).with_limit(limit);
        if rev > 0 {
            o = o.with_revision(rev);
        }
        let r = bounded(op_timeout, kv.get(key.clone(), Some(o))).await?;
        pages += 1;
        if rev == 0 {
            rev = r.header().map(|h| h.revision()).unwrap_or(0);
        }
        count += r.kvs().len();
        let Some(last) = r.kvs().last() else { break };
        if !r.more() {
            break;
        }
        key = last.key().to_vec();
        key.push(0);
        if pages > 1_000_000 {
            return Err("paged list does not end".into());
        }
    }
    Ok((count, pages))
}

/// What one watcher saw.
#[derive(Default)]
struct WatcherLog {
    /// Receive count per sequence number.
    seen: Vec<u8>,
    latencies: Vec<u64>,
    duplicated: u64,
    out_of_order: u64,
    unexpected: u64,
    errors: ErrorTally,
}

/// Parses the value header written by the watch writer: `<seq:010>:<send-nanos:020>:`.
fn parse_watch_value(v: &[u8]) -> Option<(usize, u64)> {
    if v.len() < 32 || v[10] != b':' || v[31] != b':' {
        return None;
    }
    let seq = std::str::from_utf8(&v[..10]).ok()?.parse().ok()?;
    let ts = std::str::from_utf8(&v[11..31]).ok()?.parse().ok()?;
    Some((seq, ts))
}

async fn watcher_loop(
    mut stream: WatchResponseStream,
    planned: usize,
    unique: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> WatcherLog {
    let mut log = WatcherLog {
        seen: vec![0; planned],
        ..Default::default()
    };
    let mut last_rev = 0i64;
    while !stop.load(Ordering::Relaxed) {
        let msg = match timeout(Duration::from_millis(100), stream.message()).await {
            Err(_) => continue,
            Ok(Ok(Some(m))) => m,
            Ok(Ok(None)) => {
                log.errors.record("watch stream closed by server");
                break;
            }
            Ok(Err(e)) => {
                log.errors.record(format!("watch stream: {e}"));
                break;
            }
        };
        let now = now_nanos();
        if msg.canceled() {
            log.errors
                .record(format!("watch canceled: {:?}", msg.cancel_reason()));
            break;
        }
        for ev in msg.events() {
            let Some(kv) = ev.kv() else {
                log.unexpected += 1;
                continue;
            };
            if kv.mod_revision() <= last_rev {
                log.out_of_order += 1;
            }
            last_rev = last_rev.max(kv.mod_revision());
            match parse_watch_value(kv.value()) {
                Some((seq, ts)) if seq < planned => {
                    if log.seen[seq] == 0 {
                        log.latencies.push(now.saturating_sub(ts));
                        unique.fetch_add(1, Ordering::Relaxed);
                    } else {
                        log.duplicated += 1;
                    }
                    log.seen[seq] = log.seen[seq].saturating_add(1);
                }
                _ => log.unexpected += 1,
            }
        }
    }
    log
}

/// `watchers` watch streams on one prefix; one writer creates keys at a fixed rate with the
/// send time in the value; every watcher measures delivery latency.
async fn watch(
    opts: &Options,
    pool: &Arc<Pool>,
    filler: &Arc<Vec<u8>>,
    prefix: &str,
) -> Result<WatchResult> {
    let planned = (opts.watch_rate * opts.watch_duration.as_secs_f64()).round() as usize;
    let mut kv = pool.kv(0);
    let rev0 = bounded(
        opts.op_timeout,
        kv.get(
            prefix,
            Some(GetOptions::new().with_prefix().with_count_only()),
        ),
    )
    .await
    .map_err(|e| anyhow!("reading start revision: {e}"))?
    .header()
    .map(|h| h.revision())
    .unwrap_or(0);

    // Watch streams get their own connections: a watch is long-lived and should not
    // share a connection with the writer's requests.
    let wpool = Pool::connect(&opts.endpoint, opts.clients, opts.op_timeout).await?;
    let unique = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut res = WatchResult {
        watchers: opts.watchers,
        puts_planned: planned as u64,
        ..Default::default()
    };
    let mut handles = Vec::new();
    let mut senders = Vec::new();
    for i in 0..opts.watchers {
        let mut wc = wpool.clients[i % wpool.clients.len()].watch_client();
        let wopts = WatchOptions::new()
            .with_prefix()
            .with_start_revision(rev0 + 1);
        let (sender, mut stream) =
            match timeout(opts.op_timeout, wc.watch(prefix, Some(wopts))).await {
                Ok(Ok(s)) => s.split(),
                Ok(Err(e)) => {
                    res.watch_errors.record(format!("creating watch: {e}"));
                    continue;
                }
                Err(_) => {
                    res.watch_errors.record("creating watch: timeout");
                    continue;
                }
            };
        // Wait for the server to confirm the watch before counting it.
        match timeout(opts.op_timeout, stream.message()).await {
            Ok(Ok(Some(m))) if m.created() && !m.canceled() => {}
            Ok(Ok(Some(m))) => {
                res.watch_errors.record(format!(
                    "watch not created: created={} canceled={} reason={:?}",
                    m.created(),
                    m.canceled(),
                    m.cancel_reason()
                ));
                continue;
            }
            Ok(Ok(None)) => {
                res.watch_errors
                    .record("watch stream closed before created");
                continue;
            }
            Ok(Err(e)) => {
                res.watch_errors
                    .record(format!("watch create response: {e}"));
                continue;
            }
            Err(_) => {
                res.watch_errors.record("watch create response: timeout");
                continue;
            }
        }
        senders.push(sender);
        handles.push(tokio::spawn(watcher_loop(
            stream,
            planned,
            unique.clone(),
            stop.clone(),
        )));
    }
    if handles.len() != opts.watchers {
        eprintln!(
            "[{}]   only {} of {} watches were created",
            opts.name,
            handles.len(),
            opts.watchers
        );
    }

    // The writer: one create every 1/rate seconds, send time embedded in the value.
    let mut ok_seqs = vec![false; planned];
    let mut put_lat = Vec::with_capacity(planned);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / opts.watch_rate));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let t = Instant::now();
    for (seq, ok) in ok_seqs.iter_mut().enumerate() {
        tick.tick().await;
        let key = format!("{prefix}k{seq:07}");
        let sent = now_nanos();
        let value = make_value(&format!("{seq:010}:{sent:020}:"), filler, opts.value_size);
        match bounded(opts.op_timeout, kv.txn(create_txn(&key, value))).await {
            Ok(r) if r.succeeded() => {
                *ok = true;
                put_lat.push(now_nanos() - sent);
            }
            Ok(_) => res.put_errors.record("create txn did not succeed"),
            Err(e) => res.put_errors.record(e),
        }
    }
    res.write_elapsed_s = t.elapsed().as_secs_f64();
    res.puts_ok = ok_seqs.iter().filter(|&&b| b).count() as u64;
    res.put_latency = summarize_nanos(&mut put_lat);

    // Let the watchers catch up, then stop them.
    let want = res.puts_ok * handles.len() as u64;
    let drain = Instant::now() + WATCH_DRAIN;
    while unique.load(Ordering::Relaxed) < want && Instant::now() < drain {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for h in futures::future::join_all(handles).await {
        let log = match h {
            Ok(l) => l,
            Err(e) => {
                res.watch_errors.record(format!("watcher task: {e}"));
                continue;
            }
        };
        for (seq, &ok) in ok_seqs.iter().enumerate() {
            if ok && log.seen[seq] == 0 {
                res.missed += 1;
            }
        }
        res.duplicated += log.duplicated;
        res.out_of_order += log.out_of_order;
        res.unexpected += log.unexpected;
        res.watch_errors.merge(&log.errors);
        res.delivered += log.latencies.len() as u64;
        lat.extend(log.latencies);
    }
    drop(senders);
    res.latency = summarize_nanos(&mut lat);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end(b"/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }

    #[test]
    fn values_have_requested_size_and_parse_back() {
        let filler = b"abc".to_vec();
        let v = make_value(&format!("{:010}:{:020}:", 42, 123456789u64), &filler, 1024);
        assert_eq!(v.len(), 1024);
        assert_eq!(parse_watch_value(&v), Some((42, 123456789)));
        assert_eq!(parse_watch_value(b"short"), None);
        let v = make_value("a-long-header", &filler, 4);
        assert_eq!(v, b"a-long-header".to_vec());
    }

    #[test]
    fn scenarios_parse() {
        assert_eq!("watch".parse::<Scenario>().unwrap(), Scenario::Watch);
        assert!("bogus".parse::<Scenario>().is_err());
    }
}
