//! The Kubernetes API load generator: CRUD of ConfigMaps and Pods, lists and
//! watch fan-out, driven through a kubeconfig with kube-rs against any API
//! server (k3rs, kube-apiserver).
//!
//! Every "client" is its own kube-rs `Client`, so its own HTTP/1.1 connection
//! (kube-rs does not multiplex), the way separate controllers or nodes would
//! talk to the server. Every request is bounded by `op_timeout`, every scenario
//! by a duration or an object count. Objects go into namespaces named
//! `bench-<run>-…`, so runs against one server do not collide.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace, Pod, PodSpec, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::WatchEvent;
use kube::{Client, Config};
use rand::Rng;
use serde::Deserialize;
use tokio::time::timeout;

use crate::api_results::{
    ApiListResult, ApiRunConfig, ApiSystemResults, ApiWatchResult, CrudResult, OpResult, PhaseCpu,
};
use crate::proc;
use crate::results::ErrorTally;
use crate::stats::{median, summarize_nanos};

/// How long watchers may lag behind the writer before events count as missed.
const WATCH_DRAIN: Duration = Duration::from_secs(15);
/// Pause after a failed request, so a dead server does not turn into a busy loop.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);
/// Watch requests opened at once while setting up the watchers.
const WATCH_OPEN_PARALLEL: usize = 64;
/// The image of the benchmark's pods (never pulled: no kubelet runs).
const POD_IMAGE: &str = "registry.k8s.io/pause:3.10";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Crud,
    List,
    Watch,
}

impl std::str::FromStr for Scenario {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "crud" => Ok(Self::Crud),
            "list" => Ok(Self::List),
            "watch" => Ok(Self::Watch),
            other => bail!("unknown scenario {other:?} (crud, list, watch)"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ConfigMaps,
    Pods,
}

impl Kind {
    pub fn plural(self) -> &'static str {
        match self {
            Kind::ConfigMaps => "configmaps",
            Kind::Pods => "pods",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "configmaps" | "configmap" | "cm" => Ok(Self::ConfigMaps),
            "pods" | "pod" => Ok(Self::Pods),
            other => bail!("unknown kind {other:?} (configmaps, pods)"),
        }
    }
}

/// A process of the system under test whose CPU and memory are sampled.
#[derive(Debug, Clone)]
pub struct ServerProcess {
    pub name: String,
    pub pid: u32,
}

/// What to run and how hard.
#[derive(Debug, Clone)]
pub struct Options {
    pub kubeconfig: std::path::PathBuf,
    pub name: String,
    pub scenarios: Vec<Scenario>,
    pub quick: bool,
    pub kinds: Vec<Kind>,
    pub clients: Vec<usize>,
    pub crud_duration: Duration,
    pub op_timeout: Duration,
    pub value_size: usize,
    pub list_sizes: Vec<usize>,
    pub list_repeats: usize,
    pub list_page_limit: i64,
    pub preload_clients: usize,
    pub watchers: Vec<usize>,
    pub watch_rate: f64,
    pub watch_duration: Duration,
    /// Processes to sample (CPU per phase, RSS idle / end / peak).
    pub server: Vec<ServerProcess>,
    /// Seconds after the server's start at which idle RSS is sampled, before any load.
    pub idle: Duration,
    /// When the server was started (Unix nanoseconds), for `idle`.
    pub started_unix_ns: Option<u128>,
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Loads a kubeconfig and checks that it points at a loopback address.
pub async fn load_config(path: &Path) -> Result<Config> {
    let kc = Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
    let mut cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading {}", path.display()))?;
    check_loopback(&cfg.cluster_url)?;
    // Watches run for the whole scenario; lists of 50k objects take a while.
    cfg.read_timeout = None;
    cfg.write_timeout = None;
    cfg.connect_timeout = Some(Duration::from_secs(30));
    Ok(cfg)
}

/// Only loopback servers may be loaded.
pub fn check_loopback(url: &http::Uri) -> Result<()> {
    let host = url.host().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ok = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !ok {
        bail!("refusing to load {url}: only loopback API servers are allowed");
    }
    Ok(())
}

fn new_client(cfg: &Config) -> Result<Client> {
    Client::try_from(cfg.clone()).map_err(|e| anyhow!("building a client: {e}"))
}

fn clients(cfg: &Config, n: usize) -> Result<Vec<Client>> {
    (0..n).map(|_| new_client(cfg)).collect()
}

/// Polls `url` (anonymous, certificate not verified) until it answers 200;
/// returns the seconds since `since_unix_ns`.
pub async fn wait_ready(url: &str, since_unix_ns: u128, wait: Duration) -> Result<f64> {
    let uri: http::Uri = url.parse().with_context(|| format!("parsing {url}"))?;
    check_loopback(&uri)?;
    let base: http::Uri = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map(|a| a.as_str()).unwrap_or("")
    )
    .parse()?;
    let mut cfg = Config::new(base);
    cfg.accept_invalid_certs = true;
    cfg.connect_timeout = Some(Duration::from_secs(2));
    cfg.read_timeout = Some(Duration::from_secs(5));
    let path = uri.path().to_string();
    let deadline = Instant::now() + wait;
    let mut last;
    loop {
        // A fresh client each time: a refused connection must not be cached.
        let client = new_client(&cfg)?;
        let req = http::Request::get(&path).body(Vec::new())?;
        match client.send(req.map(Into::into)).await {
            Ok(res) if res.status() == http::StatusCode::OK => {
                let now = unix_now().as_nanos();
                return Ok(now.saturating_sub(since_unix_ns) as f64 / 1e9);
            }
            Ok(res) => last = format!("status {}", res.status()),
            Err(e) => last = e.to_string(),
        }
        if Instant::now() >= deadline {
            bail!("{url} did not answer 200 within {wait:?}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// CPU seconds of the server processes, summed (missing processes count 0).
fn server_cpu(server: &[ServerProcess]) -> f64 {
    server
        .iter()
        .filter_map(|p| proc::cpu_seconds(p.pid).ok())
        .sum()
}

/// Measures the CPU a phase used.
struct CpuMeter {
    phase: String,
    start: Instant,
    generator: f64,
    server: f64,
}

impl CpuMeter {
    fn start(phase: impl Into<String>, server: &[ServerProcess]) -> Self {
        CpuMeter {
            phase: phase.into(),
            start: Instant::now(),
            generator: proc::self_cpu_seconds().unwrap_or(0.0),
            server: server_cpu(server),
        }
    }
    fn stop(self, server: &[ServerProcess]) -> PhaseCpu {
        PhaseCpu {
            phase: self.phase,
            wall_s: self.start.elapsed().as_secs_f64(),
            generator_cpu_s: proc::self_cpu_seconds().unwrap_or(0.0) - self.generator,
            server_cpu_s: server_cpu(server) - self.server,
        }
    }
}

fn error_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} {}: {}", s.code, s.reason, s.message),
        other => other.to_string(),
    }
}

/// Runs `f` under `op_timeout`, turning a timeout into an error message.
async fn bounded<T, F>(op_timeout: Duration, f: F) -> std::result::Result<T, String>
where
    F: std::future::Future<Output = kube::Result<T>>,
{
    match timeout(op_timeout, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error_message(&e)),
        Err(_) => Err(format!("timeout after {op_timeout:?}")),
    }
}

fn filler(size: usize) -> String {
    let mut rng = rand::rng();
    (0..size)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

fn configmap(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([("app".into(), "k3rs-bench".into())])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("v".into(), value.to_string())])),
        ..Default::default()
    }
}

fn pod(name: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([("app".into(), "k3rs-bench".into())])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some(POD_IMAGE.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Creates the namespace and its "default" ServiceAccount (pods need it and no
/// controller runs to create it); both may already exist.
async fn ensure_namespace(client: &Client, ns: &str, op_timeout: Duration) -> Result<()> {
    let nss: Api<Namespace> = Api::all(client.clone());
    let obj = Namespace {
        metadata: ObjectMeta {
            name: Some(ns.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    match bounded(op_timeout, nss.create(&PostParams::default(), &obj)).await {
        Ok(_) => {}
        Err(e) if e.starts_with("409 ") => {}
        Err(e) => bail!("creating namespace {ns}: {e}"),
    }
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("default".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    // The ServiceAccount may appear a moment after the namespace on some servers.
    for attempt in 0..50 {
        match bounded(op_timeout, sas.create(&PostParams::default(), &sa)).await {
            Ok(_) => return Ok(()),
            Err(e) if e.starts_with("409 ") => return Ok(()),
            Err(_) if attempt < 49 => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => bail!("creating serviceaccount {ns}/default: {e}"),
        }
    }
    Ok(())
}

/// Sends one cheap request per client so that connections (TLS handshakes) are
/// open before the clock starts.
async fn warm_up(clients: &[Client], ns: &str, op_timeout: Duration) -> Result<()> {
    let mut tasks = Vec::new();
    for c in clients {
        let api: Api<Namespace> = Api::all(c.clone());
        let ns = ns.to_string();
        tasks.push(tokio::spawn(async move {
            bounded(op_timeout, api.get(&ns)).await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| anyhow!("warm-up task: {e}"))?
            .map_err(|e| anyhow!("warm-up request: {e}"))?;
    }
    Ok(())
}

/// One worker's objects, as last returned by the server.
enum Objects {
    ConfigMaps(Vec<ConfigMap>),
    Pods(Vec<Pod>),
}

impl Objects {
    fn len(&self) -> usize {
        match self {
            Objects::ConfigMaps(v) => v.len(),
            Objects::Pods(v) => v.len(),
        }
    }
}

#[derive(Default)]
struct WorkerTally {
    ops: u64,
    latencies: Vec<u64>,
    errors: ErrorTally,
}

impl WorkerTally {
    fn record(&mut self, started: Instant, res: std::result::Result<(), String>) -> bool {
        match res {
            Ok(()) => {
                self.ops += 1;
                self.latencies.push(started.elapsed().as_nanos() as u64);
                true
            }
            Err(e) => {
                self.errors.record(e);
                false
            }
        }
    }
}

fn merge_tallies(op: &str, elapsed: Duration, tallies: Vec<WorkerTally>) -> OpResult {
    let mut r = OpResult {
        op: op.to_string(),
        elapsed_s: elapsed.as_secs_f64(),
        ..Default::default()
    };
    let mut lat = Vec::new();
    for t in tallies {
        r.ops += t.ops;
        lat.extend(t.latencies);
        r.errors.merge(&t.errors);
    }
    r.ops_per_s = if r.elapsed_s > 0.0 {
        r.ops as f64 / r.elapsed_s
    } else {
        0.0
    };
    r.latency = summarize_nanos(&mut lat);
    r
}

/// What one worker does in one CRUD phase.
struct CrudJob {
    client: Client,
    ns: String,
    op: &'static str,
    /// Names of created objects are `<prefix>-<n>`.
    prefix: String,
    deadline: Instant,
    op_timeout: Duration,
    /// ConfigMap data.
    value: Arc<String>,
}

/// One CRUD phase for one worker: runs until `deadline` (create, get, update)
/// or until its objects are gone (delete).
async fn crud_worker(job: CrudJob, mut objects: Objects) -> (WorkerTally, Objects) {
    let t = match &mut objects {
        Objects::ConfigMaps(objs) => {
            let value = job.value.clone();
            crud_kind(
                &job,
                objs,
                |name| configmap(name, &value),
                |obj: &mut ConfigMap, n| {
                    obj.data
                        .get_or_insert_with(BTreeMap::new)
                        .insert("n".into(), n);
                },
            )
            .await
        }
        Objects::Pods(objs) => {
            crud_kind(&job, objs, pod, |obj: &mut Pod, n| {
                obj.metadata
                    .labels
                    .get_or_insert_with(BTreeMap::new)
                    .insert("n".into(), n);
            })
            .await
        }
    };
    (t, objects)
}

/// `crud_worker` for the objects of one kind: `make` builds the object of a name to create,
/// `touch` changes an object before it is updated (with the update's number).
async fn crud_kind<K>(
    job: &CrudJob,
    objs: &mut Vec<K>,
    make: impl Fn(&str) -> K,
    touch: impl Fn(&mut K, String),
) -> WorkerTally
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
    K::DynamicType: Default,
{
    let CrudJob {
        op,
        prefix,
        deadline,
        op_timeout,
        ..
    } = job;
    let (deadline, op_timeout) = (*deadline, *op_timeout);
    let api: Api<K> = Api::namespaced(job.client.clone(), &job.ns);
    let mut t = WorkerTally::default();
    let pp = PostParams::default();
    let dp = DeleteParams::default();
    let mut i = 0usize;
    match *op {
        "create" => {
            while Instant::now() < deadline {
                let obj = make(&format!("{prefix}-{i}"));
                i += 1;
                let s = Instant::now();
                let r = bounded(op_timeout, api.create(&pp, &obj)).await;
                let r = r.map(|o| objs.push(o));
                if !t.record(s, r) {
                    tokio::time::sleep(ERROR_BACKOFF).await;
                }
            }
        }
        "get" if !objs.is_empty() => {
            while Instant::now() < deadline {
                let name = objs[i % objs.len()].meta().name.clone().unwrap_or_default();
                i += 1;
                let s = Instant::now();
                let r = bounded(op_timeout, api.get(&name)).await.map(|_| ());
                if !t.record(s, r) {
                    tokio::time::sleep(ERROR_BACKOFF).await;
                }
            }
        }
        "update" if !objs.is_empty() => {
            while Instant::now() < deadline {
                let k = i % objs.len();
                i += 1;
                let mut obj = objs[k].clone();
                let name = obj.meta().name.clone().unwrap_or_default();
                touch(&mut obj, i.to_string());
                let s = Instant::now();
                let r = bounded(op_timeout, api.replace(&name, &pp, &obj)).await;
                let r = r.map(|o| objs[k] = o);
                if !t.record(s, r) {
                    tokio::time::sleep(ERROR_BACKOFF).await;
                }
            }
        }
        "delete" => {
            while let Some(o) = objs.pop() {
                if Instant::now() >= deadline {
                    break;
                }
                let name = o.meta().name.clone().unwrap_or_default();
                let s = Instant::now();
                let r = bounded(op_timeout, api.delete(&name, &dp))
                    .await
                    .map(|_| ());
                t.record(s, r);
            }
        }
        _ => {}
    }
    t
}

async fn crud(
    cfg: &Config,
    opts: &Options,
    run_id: &str,
    kind: Kind,
    n: usize,
    cpu: &mut Vec<PhaseCpu>,
) -> Result<CrudResult> {
    let ns = format!("bench-{run_id}-crud");
    let setup = new_client(cfg)?;
    ensure_namespace(&setup, &ns, opts.op_timeout).await?;
    let cs = clients(cfg, n)?;
    warm_up(&cs, &ns, opts.op_timeout).await?;
    let value = Arc::new(filler(opts.value_size));
    let mut per_worker: Vec<Objects> = (0..n)
        .map(|_| match kind {
            Kind::ConfigMaps => Objects::ConfigMaps(Vec::new()),
            Kind::Pods => Objects::Pods(Vec::new()),
        })
        .collect();
    let mut res = CrudResult {
        kind: kind.plural().to_string(),
        clients: n,
        ops: Vec::new(),
    };
    for op in ["create", "get", "update", "delete"] {
        let meter = CpuMeter::start(
            format!("{} {op}, {}", kind.plural(), clients_label(n)),
            &opts.server,
        );
        let start = Instant::now();
        // Deletes get more time: they must remove everything that was created.
        let deadline = start
            + if op == "delete" {
                opts.crud_duration * 4
            } else {
                opts.crud_duration
            };
        let mut tasks = Vec::new();
        for (w, objs) in per_worker.drain(..).enumerate() {
            let job = CrudJob {
                client: cs[w].clone(),
                ns: ns.clone(),
                op,
                prefix: format!("{}-{n}-{w}", kind.plural()),
                deadline,
                op_timeout: opts.op_timeout,
                value: value.clone(),
            };
            tasks.push(tokio::spawn(crud_worker(job, objs)));
        }
        let mut tallies = Vec::new();
        for t in tasks {
            let (tally, objs) = t.await.map_err(|e| anyhow!("worker task: {e}"))?;
            tallies.push(tally);
            per_worker.push(objs);
        }
        let elapsed = start.elapsed();
        cpu.push(meter.stop(&opts.server));
        let r = merge_tallies(op, elapsed, tallies);
        eprintln!(
            "  {} {op:<6} {n:>3} clients: {:>8.0}/s p50 {:.2} ms p99 {:.2} ms max {:.2} ms, {} errors",
            kind.plural(),
            r.ops_per_s,
            r.latency.p50_ms,
            r.latency.p99_ms,
            r.latency.max_ms,
            r.errors.errors
        );
        res.ops.push(r);
    }
    let left: usize = per_worker.iter().map(Objects::len).sum();
    if left > 0 {
        eprintln!("  {left} {} were not deleted in time", kind.plural());
    }
    Ok(res)
}

/// The fields of a list response the benchmark checks.
#[derive(Deserialize)]
struct ListMini {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<ListItem>,
}

impl ListMini {
    /// Items the benchmark preloaded (servers may add their own, e.g. k3rs'
    /// `kube-root-ca.crt` in every namespace).
    fn ours(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.metadata.name.starts_with("item-"))
            .count()
    }
}

#[derive(Deserialize)]
struct ListItem {
    #[serde(default)]
    metadata: ItemMeta,
}

#[derive(Deserialize, Default)]
struct ItemMeta {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default)]
struct ListMeta {
    #[serde(rename = "continue", default)]
    cont: Option<String>,
}

async fn list_once(
    client: &Client,
    ns: &str,
    limit: Option<i64>,
    cont: Option<&str>,
    op_timeout: Duration,
) -> Result<(ListMini, usize)> {
    let mut url = format!("/api/v1/namespaces/{ns}/configmaps");
    let mut q = Vec::new();
    if let Some(l) = limit {
        q.push(format!("limit={l}"));
    }
    if let Some(c) = cont {
        q.push(format!("continue={}", percent_encode_query(c)));
    }
    if !q.is_empty() {
        url.push('?');
        url.push_str(&q.join("&"));
    }
    let req = http::Request::get(&url).body(Vec::new())?;
    let text = bounded(op_timeout, client.request_text(req))
        .await
        .map_err(|e| anyhow!("GET {url}: {e}"))?;
    let len = text.len();
    let parsed: ListMini =
        serde_json::from_str(&text).with_context(|| format!("decoding GET {url}"))?;
    Ok((parsed, len))
}

fn percent_encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn preload(
    cfg: &Config,
    ns: &str,
    count: usize,
    writers: usize,
    value: Arc<String>,
    op_timeout: Duration,
) -> Result<(Duration, ErrorTally)> {
    let cs = clients(cfg, writers.min(count.max(1)))?;
    warm_up(&cs, ns, op_timeout).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in cs {
        let api: Api<ConfigMap> = Api::namespaced(c, ns);
        let next = next.clone();
        let value = value.clone();
        tasks.push(tokio::spawn(async move {
            let mut errors = ErrorTally::default();
            let pp = PostParams::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let obj = configmap(&format!("item-{i:06}"), &value);
                // Retry each object until it exists, so the list has exactly `count`.
                let mut tries = 0;
                loop {
                    match bounded(op_timeout, api.create(&pp, &obj)).await {
                        Ok(_) => break,
                        Err(e) if e.starts_with("409 ") && tries > 0 => break,
                        Err(e) => {
                            errors.record(e);
                            tries += 1;
                            if tries >= 20 {
                                break;
                            }
                            tokio::time::sleep(ERROR_BACKOFF * 10).await;
                        }
                    }
                }
            }
            errors
        }));
    }
    let mut errors = ErrorTally::default();
    for t in tasks {
        errors.merge(&t.await.map_err(|e| anyhow!("preload task: {e}"))?);
    }
    Ok((start.elapsed(), errors))
}

async fn list_scenario(
    cfg: &Config,
    opts: &Options,
    run_id: &str,
    count: usize,
    cpu: &mut Vec<PhaseCpu>,
) -> Result<ApiListResult> {
    let ns = format!("bench-{run_id}-list-{count}");
    let client = new_client(cfg)?;
    ensure_namespace(&client, &ns, opts.op_timeout).await?;
    let value = Arc::new(filler(opts.value_size));
    let meter = CpuMeter::start(format!("list {count}: preload"), &opts.server);
    let (preload_time, preload_errors) = preload(
        cfg,
        &ns,
        count,
        opts.preload_clients,
        value,
        opts.op_timeout,
    )
    .await?;
    cpu.push(meter.stop(&opts.server));
    eprintln!(
        "  list {count}: preloaded in {:.1} s ({:.0} creates/s), {} errors",
        preload_time.as_secs_f64(),
        count as f64 / preload_time.as_secs_f64().max(1e-9),
        preload_errors.errors
    );
    let mut r = ApiListResult {
        objects: count,
        preload_s: preload_time.as_secs_f64(),
        preload_errors,
        page_limit: opts.list_page_limit,
        ..Default::default()
    };
    let meter = CpuMeter::start(format!("list {count}: lists"), &opts.server);
    for _ in 0..opts.list_repeats {
        let s = Instant::now();
        match list_once(&client, &ns, None, None, opts.op_timeout).await {
            Ok((l, bytes)) => {
                r.unpaged_s.push(s.elapsed().as_secs_f64());
                r.unpaged_bytes = bytes as u64;
                if l.ours() != count {
                    r.errors.record(format!(
                        "unpaged list returned {} of our items, expected {count}",
                        l.ours()
                    ));
                }
            }
            Err(e) => r.errors.record(format!("{e:#}")),
        }
        let s = Instant::now();
        let mut items = 0usize;
        let mut pages = 0u64;
        let mut cont: Option<String> = None;
        let mut ok = true;
        loop {
            match list_once(
                &client,
                &ns,
                Some(opts.list_page_limit),
                cont.as_deref(),
                opts.op_timeout,
            )
            .await
            {
                Ok((l, _)) => {
                    pages += 1;
                    items += l.ours();
                    match l.metadata.cont.filter(|c| !c.is_empty()) {
                        Some(c) => cont = Some(c),
                        None => break,
                    }
                    if pages > (count as u64 / opts.list_page_limit.max(1) as u64) + 10 {
                        r.errors.record("paged list did not end");
                        ok = false;
                        break;
                    }
                }
                Err(e) => {
                    r.errors.record(format!("{e:#}"));
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            r.paged_s.push(s.elapsed().as_secs_f64());
            r.pages = pages;
            if items != count {
                r.errors.record(format!(
                    "paged list returned {items} of our items, expected {count}"
                ));
            }
        }
    }
    cpu.push(meter.stop(&opts.server));
    r.unpaged_median_s = median(&r.unpaged_s);
    r.paged_median_s = median(&r.paged_s);
    eprintln!(
        "  list {count}: unpaged {:.3} s ({:.1} MB), paged by {} {:.3} s, {} errors",
        r.unpaged_median_s.unwrap_or(f64::NAN),
        r.unpaged_bytes as f64 / 1e6,
        r.page_limit,
        r.paged_median_s.unwrap_or(f64::NAN),
        r.errors.errors
    );
    Ok(r)
}

/// The fields of a watched object the benchmark reads.
#[derive(Clone, Deserialize)]
struct WatchedObject {
    #[serde(default)]
    metadata: WatchedMeta,
}

#[derive(Clone, Deserialize, Default)]
struct WatchedMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "resourceVersion", default)]
    resource_version: Option<String>,
}

#[derive(Default)]
struct WatcherTally {
    seen: Vec<bool>,
    latencies: Vec<u64>,
    duplicated: u64,
    out_of_order: u64,
    unexpected: u64,
    resumes: u64,
    resume_reasons: ErrorTally,
    errors: ErrorTally,
}

/// Shared state of one watch scenario.
struct WatchShared {
    base: Instant,
    /// Nanoseconds after `base` at which create `i` was sent (+1; 0 = not sent).
    sent: Vec<AtomicU64>,
    /// Events delivered over all watchers (first deliveries only).
    delivered: AtomicU64,
    established: AtomicUsize,
    stop: AtomicBool,
    stop_notify: tokio::sync::Notify,
}

/// Watch streams a watcher re-opens after the server ended one, at most.
const MAX_WATCH_RESUMES: u64 = 100;

/// One watcher: watches the namespace from `rv`; when the server ends the
/// stream (kube-apiserver closes watchers it finds too slow), it resumes from
/// the last resourceVersion it saw, as client-go's reflectors do, and counts
/// the resume. Events lost for good show up as missed.
async fn watcher(
    client: Client,
    ns: String,
    rv: String,
    shared: Arc<WatchShared>,
    open: Arc<tokio::sync::Semaphore>,
) -> WatcherTally {
    let n = shared.sent.len();
    let mut t = WatcherTally {
        seen: vec![false; n],
        ..Default::default()
    };
    let mut resume_rv = rv;
    let mut last_rv: u64 = 0;
    let mut first = true;
    'connections: loop {
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        let url = format!(
            "/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion={resume_rv}&timeoutSeconds=3600"
        );
        let req = match http::Request::get(&url).body(Vec::new()) {
            Ok(r) => r,
            Err(e) => {
                t.errors.record(e.to_string());
                break;
            }
        };
        let permit = open.clone().acquire_owned().await;
        let stream = match timeout(
            Duration::from_secs(60),
            client.request_events::<WatchedObject>(req),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                t.errors.record(format!("watch: {}", error_message(&e)));
                break;
            }
            Err(_) => {
                t.errors.record("watch: no response headers within 60 s");
                break;
            }
        };
        drop(permit);
        if first {
            shared.established.fetch_add(1, Ordering::Relaxed);
            first = false;
        }
        let mut stream = std::pin::pin!(stream);
        loop {
            if shared.stop.load(Ordering::Acquire) {
                break 'connections;
            }
            let ev = tokio::select! {
                ev = stream.next() => ev,
                _ = shared.stop_notify.notified() => break 'connections,
            };
            let now = shared.base.elapsed().as_nanos() as u64;
            let ended = match ev {
                None => Some("the server ended the stream".to_string()),
                Some(Err(e)) => Some(error_message(&e)),
                Some(Ok(WatchEvent::Added(o))) => {
                    if let Some(rv) = &o.metadata.resource_version {
                        resume_rv = rv.clone();
                    }
                    let name = o.metadata.name.unwrap_or_default();
                    // Objects the server adds itself (k3rs' kube-root-ca.crt) are not ours.
                    let Some(seq) = name.strip_prefix("ev-") else {
                        continue;
                    };
                    let Some(i) = seq.parse::<usize>().ok().filter(|&i| i < n) else {
                        t.unexpected += 1;
                        continue;
                    };
                    if let Some(rv) = o
                        .metadata
                        .resource_version
                        .and_then(|s| s.parse::<u64>().ok())
                    {
                        if rv <= last_rv {
                            t.out_of_order += 1;
                        }
                        last_rv = rv;
                    }
                    if t.seen[i] {
                        t.duplicated += 1;
                        continue;
                    }
                    t.seen[i] = true;
                    let sent = shared.sent[i].load(Ordering::Acquire);
                    if sent > 0 {
                        t.latencies.push(now.saturating_sub(sent - 1));
                    }
                    shared.delivered.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Some(Ok(WatchEvent::Bookmark(b))) => {
                    resume_rv = b.metadata.resource_version;
                    None
                }
                Some(Ok(WatchEvent::Error(s))) => {
                    // 410 Gone and friends: resuming is not possible.
                    t.errors
                        .record(format!("watch error event: {} {}", s.code, s.message));
                    break 'connections;
                }
                Some(Ok(WatchEvent::Modified(o) | WatchEvent::Deleted(o))) => {
                    if let Some(rv) = o.metadata.resource_version {
                        resume_rv = rv;
                    }
                    if o.metadata
                        .name
                        .as_deref()
                        .unwrap_or_default()
                        .starts_with("ev-")
                    {
                        t.unexpected += 1;
                    }
                    None
                }
            };
            if let Some(reason) = ended {
                if shared.stop.load(Ordering::Acquire) {
                    break 'connections;
                }
                t.resumes += 1;
                t.resume_reasons.record(format!("watch: {reason}"));
                if t.resumes > MAX_WATCH_RESUMES {
                    t.errors
                        .record(format!("watch: gave up after {MAX_WATCH_RESUMES} resumes"));
                    break 'connections;
                }
                continue 'connections;
            }
        }
    }
    t
}

async fn watch_scenario(
    cfg: &Config,
    opts: &Options,
    run_id: &str,
    watchers: usize,
    cpu: &mut Vec<PhaseCpu>,
) -> Result<ApiWatchResult> {
    let ns = format!("bench-{run_id}-watch-{watchers}");
    let client = new_client(cfg)?;
    ensure_namespace(&client, &ns, opts.op_timeout).await?;
    let planned = (opts.watch_rate * opts.watch_duration.as_secs_f64()).round() as usize;
    let planned = planned.max(1);
    let mut r = ApiWatchResult {
        watchers,
        writes_planned: planned as u64,
        ..Default::default()
    };
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let list = bounded(opts.op_timeout, api.list(&ListParams::default().limit(1)))
        .await
        .map_err(|e| anyhow!("listing {ns}: {e}"))?;
    let rv = list
        .metadata
        .resource_version
        .ok_or_else(|| anyhow!("list of {ns} has no resourceVersion"))?;

    let shared = Arc::new(WatchShared {
        base: Instant::now(),
        sent: (0..planned).map(|_| AtomicU64::new(0)).collect(),
        delivered: AtomicU64::new(0),
        established: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        stop_notify: tokio::sync::Notify::new(),
    });
    let meter = CpuMeter::start(format!("watch {watchers}: setup"), &opts.server);
    let setup = Instant::now();
    let open = Arc::new(tokio::sync::Semaphore::new(WATCH_OPEN_PARALLEL));
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let c = new_client(cfg)?;
        tasks.push(tokio::spawn(watcher(
            c,
            ns.clone(),
            rv.clone(),
            shared.clone(),
            open.clone(),
        )));
    }
    let setup_deadline = Instant::now() + Duration::from_secs(120);
    while shared.established.load(Ordering::Relaxed) < watchers
        && Instant::now() < setup_deadline
        && !tasks.iter().all(|t| t.is_finished())
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.established = shared.established.load(Ordering::Relaxed);
    r.setup_s = setup.elapsed().as_secs_f64();
    cpu.push(meter.stop(&opts.server));

    // The writer: `planned` creates at a fixed rate, each in its own task so a
    // slow create does not delay the next one.
    let meter = CpuMeter::start(format!("watch {watchers}: writes + delivery"), &opts.server);
    let writer = new_client(cfg)?;
    warm_up(std::slice::from_ref(&writer), &ns, opts.op_timeout).await?;
    let wapi: Api<ConfigMap> = Api::namespaced(writer, &ns);
    let value = Arc::new(filler(opts.value_size.min(256)));
    let interval = Duration::from_secs_f64(1.0 / opts.watch_rate);
    let wstart = Instant::now();
    let mut writes = Vec::with_capacity(planned);
    for i in 0..planned {
        let at = wstart + interval * i as u32;
        tokio::time::sleep_until(at.into()).await;
        let wapi = wapi.clone();
        let shared = shared.clone();
        let value = value.clone();
        let op_timeout = opts.op_timeout;
        writes.push(tokio::spawn(async move {
            let obj = configmap(&format!("ev-{i}"), &value);
            let s = Instant::now();
            shared.sent[i].store(
                shared.base.elapsed().as_nanos() as u64 + 1,
                Ordering::Release,
            );
            let res = bounded(op_timeout, wapi.create(&PostParams::default(), &obj)).await;
            (res.map(|_| ()), s.elapsed().as_nanos() as u64)
        }));
    }
    let mut committed = vec![false; planned];
    let mut wlat = Vec::new();
    for (i, w) in writes.into_iter().enumerate() {
        match w.await {
            Ok((Ok(()), ns_)) => {
                committed[i] = true;
                r.writes_ok += 1;
                wlat.push(ns_);
            }
            Ok((Err(e), _)) => r.write_errors.record(e),
            Err(e) => r.write_errors.record(format!("writer task: {e}")),
        }
    }
    r.write_elapsed_s = wstart.elapsed().as_secs_f64();
    r.write_latency = summarize_nanos(&mut wlat);

    // Let the watchers catch up, then stop them.
    let expected = r.writes_ok * r.established as u64;
    let drain = Instant::now() + WATCH_DRAIN;
    while shared.delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shared.stop.store(true, Ordering::Release);
    shared.stop_notify.notify_waiters();
    let mut lat = Vec::new();
    for t in tasks {
        let t = match timeout(Duration::from_secs(30), t).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                r.watch_errors.record(format!("watcher task: {e}"));
                continue;
            }
            Err(_) => {
                r.watch_errors.record("watcher did not stop");
                continue;
            }
        };
        for (i, c) in committed.iter().enumerate() {
            if *c && !t.seen[i] {
                r.missed += 1;
            }
        }
        r.delivered += t.latencies.len() as u64;
        r.duplicated += t.duplicated;
        r.out_of_order += t.out_of_order;
        r.unexpected += t.unexpected;
        r.resumes += t.resumes;
        r.resume_reasons.merge(&t.resume_reasons);
        r.watch_errors.merge(&t.errors);
        lat.extend(t.latencies);
    }
    cpu.push(meter.stop(&opts.server));
    r.latency = summarize_nanos(&mut lat);
    eprintln!(
        "  watch {watchers}: {} established in {:.1} s; {} writes ({} errors, p99 {:.2} ms); delivery p50 {:.2} ms p99 {:.2} ms max {:.2} ms; missed {} duplicated {}; {} streams resumed",
        r.established,
        r.setup_s,
        r.writes_ok,
        r.write_errors.errors,
        r.write_latency.p99_ms,
        r.latency.p50_ms,
        r.latency.p99_ms,
        r.latency.max_ms,
        r.missed,
        r.duplicated,
        r.resumes
    );
    Ok(r)
}

/// Runs the selected scenarios against the API server of `opts.kubeconfig`.
pub async fn run(opts: &Options) -> Result<ApiSystemResults> {
    let cfg = load_config(&opts.kubeconfig).await?;
    let run_id = format!("{:06x}", rand::rng().random_range(0..0xff_ffffu32));
    let started = unix_now();
    let t0 = Instant::now();
    let mut res = ApiSystemResults {
        name: opts.name.clone(),
        server: cfg.cluster_url.to_string(),
        run_id: run_id.clone(),
        started_unix_s: started.as_secs(),
        config: ApiRunConfig {
            quick: opts.quick,
            kinds: opts.kinds.iter().map(|k| k.plural().to_string()).collect(),
            clients: opts.clients.clone(),
            crud_duration_s: opts.crud_duration.as_secs_f64(),
            op_timeout_s: opts.op_timeout.as_secs_f64(),
            value_size: opts.value_size,
            list_sizes: opts.list_sizes.clone(),
            list_repeats: opts.list_repeats,
            list_page_limit: opts.list_page_limit,
            preload_clients: opts.preload_clients,
            watchers: opts.watchers.clone(),
            watch_rate: opts.watch_rate,
            watch_duration_s: opts.watch_duration.as_secs_f64(),
            idle_s: opts.idle.as_secs_f64(),
        },
        ..Default::default()
    };
    for p in &opts.server {
        res.footprint
            .processes
            .push(crate::api_results::ProcessFootprint {
                name: p.name.clone(),
                pid: p.pid,
                ..Default::default()
            });
    }

    // Idle RSS: `idle` after the server's start, before any load.
    if let Some(since) = opts.started_unix_ns {
        let at = since + opts.idle.as_nanos();
        let now = unix_now().as_nanos();
        if at > now {
            let wait = Duration::from_nanos((at - now).min(u64::MAX as u128) as u64);
            eprintln!(
                "  waiting {:.0} s for the idle memory sample",
                wait.as_secs_f64()
            );
            tokio::time::sleep(wait).await;
        }
    }
    for p in &mut res.footprint.processes {
        p.rss_idle_kb = proc::rss_kb(p.pid).ok();
    }

    let mut cpu = Vec::new();
    if opts.scenarios.contains(&Scenario::Crud) {
        for &kind in &opts.kinds {
            for &n in &opts.clients {
                match crud(&cfg, opts, &run_id, kind, n, &mut cpu).await {
                    Ok(c) => res.crud.push(c),
                    Err(e) => res
                        .fatal
                        .push(format!("{} crud at {n} clients: {e:#}", kind.plural())),
                }
            }
        }
    }
    if opts.scenarios.contains(&Scenario::List) {
        for &n in &opts.list_sizes {
            match list_scenario(&cfg, opts, &run_id, n, &mut cpu).await {
                Ok(l) => res.lists.push(l),
                Err(e) => res.fatal.push(format!("list {n}: {e:#}")),
            }
        }
    }
    if opts.scenarios.contains(&Scenario::Watch) {
        for &w in &opts.watchers {
            match watch_scenario(&cfg, opts, &run_id, w, &mut cpu).await {
                Ok(r) => res.watches.push(r),
                Err(e) => res.fatal.push(format!("watch {w}: {e:#}")),
            }
        }
    }
    res.cpu = cpu;
    for p in &mut res.footprint.processes {
        p.rss_end_kb = proc::rss_kb(p.pid).ok();
        p.rss_peak_kb = proc::peak_rss_kb(p.pid).ok();
        p.cpu_s = proc::cpu_seconds(p.pid).ok();
    }
    res.total_s = t0.elapsed().as_secs_f64();
    Ok(res)
}

fn clients_label(n: usize) -> String {
    format!("{n} client{}", if n == 1 { "" } else { "s" })
}
