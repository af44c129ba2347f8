//! What one `k3rs-bench-api run` against one API server produces (serialised as JSON).

use serde::{Deserialize, Serialize};

use crate::results::ErrorTally;
use crate::stats::LatencySummary;

/// Parameters of a run, recorded next to the results.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiRunConfig {
    pub quick: bool,
    pub kinds: Vec<String>,
    pub clients: Vec<usize>,
    pub crud_duration_s: f64,
    pub op_timeout_s: f64,
    pub value_size: usize,
    pub list_sizes: Vec<usize>,
    pub list_repeats: usize,
    pub list_page_limit: i64,
    pub preload_clients: usize,
    pub watchers: Vec<usize>,
    pub watch_rate: f64,
    pub watch_duration_s: f64,
    pub idle_s: f64,
}

/// One verb (create, get, update, delete) at one concurrency.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpResult {
    pub op: String,
    /// From the start signal until the last client finished.
    pub elapsed_s: f64,
    /// Requests that succeeded.
    pub ops: u64,
    pub ops_per_s: f64,
    /// Latency of the successful requests.
    pub latency: LatencySummary,
    pub errors: ErrorTally,
}

/// Create, get, update and delete of one kind by `clients` concurrent clients.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CrudResult {
    /// Resource (plural), e.g. "configmaps".
    pub kind: String,
    pub clients: usize,
    pub ops: Vec<OpResult>,
}

impl CrudResult {
    pub fn op(&self, op: &str) -> Option<&OpResult> {
        self.ops.iter().find(|o| o.op == op)
    }
}

/// `objects` ConfigMaps in one namespace, listed whole and page by page.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiListResult {
    pub objects: usize,
    pub preload_s: f64,
    pub preload_errors: ErrorTally,
    /// Seconds per unpaged list (request until the body is read and its items counted).
    pub unpaged_s: Vec<f64>,
    pub unpaged_median_s: Option<f64>,
    /// Bytes of one unpaged list response.
    pub unpaged_bytes: u64,
    /// Seconds per full paged walk.
    pub paged_s: Vec<f64>,
    pub paged_median_s: Option<f64>,
    pub page_limit: i64,
    pub pages: u64,
    /// Request errors and wrong item counts while listing.
    pub errors: ErrorTally,
}

/// Watch delivery with many watchers on one namespace's ConfigMaps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiWatchResult {
    pub watchers: usize,
    /// Watch requests that got their response headers before the writes began.
    pub established: usize,
    pub setup_s: f64,
    pub writes_planned: u64,
    pub writes_ok: u64,
    pub write_errors: ErrorTally,
    pub write_latency: LatencySummary,
    pub write_elapsed_s: f64,
    /// Events delivered over all watchers (first delivery of each only).
    pub delivered: u64,
    /// Receive time minus the time the writer sent the create.
    pub latency: LatencySummary,
    /// Committed creates a watcher never saw, summed over watchers.
    pub missed: u64,
    /// Events a watcher saw more than once, summed over watchers.
    pub duplicated: u64,
    /// Events whose resourceVersion was not above the previous one on the same watcher.
    pub out_of_order: u64,
    /// Events for our objects that were not ADDED, or names we never wrote.
    pub unexpected: u64,
    /// Streams the server ended early (or that broke) and the watcher re-opened
    /// from the last resourceVersion it saw, summed over watchers.
    #[serde(default)]
    pub resumes: u64,
    /// Why streams ended (not counted as failed requests).
    #[serde(default)]
    pub resume_reasons: ErrorTally,
    /// Watch requests that failed, error events, watchers that gave up.
    pub watch_errors: ErrorTally,
}

/// CPU used while one phase ran: by this load generator and by the server processes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PhaseCpu {
    pub phase: String,
    pub wall_s: f64,
    pub generator_cpu_s: f64,
    pub server_cpu_s: f64,
}

/// One process of the system under test (an API server, or its datastore).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessFootprint {
    pub name: String,
    pub pid: u32,
    /// Resident set `idle_s` after the start, before any load.
    pub rss_idle_kb: Option<u64>,
    /// Resident set after the last scenario.
    pub rss_end_kb: Option<u64>,
    /// Peak resident set (VmHWM) at the end.
    pub rss_peak_kb: Option<u64>,
    /// CPU seconds (user + system) the process used from its start to the end of the load.
    pub cpu_s: Option<f64>,
}

/// A binary of the system under test.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BinarySize {
    pub name: String,
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Footprint {
    /// Exec of the API server until `/readyz` answered 200 (its datastore already running).
    pub cold_start_s: Option<f64>,
    /// Exec of a separate datastore until it answered (none for k3rs on SQLite).
    pub datastore_start_s: Option<f64>,
    pub binaries: Vec<BinarySize>,
    pub processes: Vec<ProcessFootprint>,
}

impl Footprint {
    fn sum<F: Fn(&ProcessFootprint) -> Option<u64>>(&self, f: F) -> Option<u64> {
        let v: Option<Vec<u64>> = self.processes.iter().map(f).collect();
        v.filter(|v| !v.is_empty()).map(|v| v.iter().sum())
    }
    pub fn rss_idle_kb(&self) -> Option<u64> {
        self.sum(|p| p.rss_idle_kb)
    }
    pub fn rss_end_kb(&self) -> Option<u64> {
        self.sum(|p| p.rss_end_kb)
    }
    pub fn rss_peak_kb(&self) -> Option<u64> {
        self.sum(|p| p.rss_peak_kb)
    }
    pub fn cpu_s(&self) -> Option<f64> {
        let v: Option<Vec<f64>> = self.processes.iter().map(|p| p.cpu_s).collect();
        v.filter(|v| !v.is_empty()).map(|v| v.iter().sum())
    }
    pub fn binary_bytes(&self) -> Option<u64> {
        (!self.binaries.is_empty()).then(|| self.binaries.iter().map(|b| b.bytes).sum())
    }
}

/// Everything one run produced for one system.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiSystemResults {
    pub name: String,
    /// The API server URL from the kubeconfig.
    pub server: String,
    pub run_id: String,
    pub started_unix_s: u64,
    pub total_s: f64,
    pub config: ApiRunConfig,
    pub footprint: Footprint,
    pub crud: Vec<CrudResult>,
    pub lists: Vec<ApiListResult>,
    pub watches: Vec<ApiWatchResult>,
    pub cpu: Vec<PhaseCpu>,
    /// Scenarios that could not run at all, with the reason.
    pub fatal: Vec<String>,
}

impl ApiSystemResults {
    pub fn crud(&self, kind: &str, clients: usize) -> Option<&CrudResult> {
        self.crud
            .iter()
            .find(|c| c.kind == kind && c.clients == clients)
    }

    /// All request errors of the run.
    pub fn total_errors(&self) -> ErrorTally {
        let mut t = ErrorTally::default();
        for c in &self.crud {
            for o in &c.ops {
                t.merge(&o.errors);
            }
        }
        for l in &self.lists {
            t.merge(&l.preload_errors);
            t.merge(&l.errors);
        }
        for w in &self.watches {
            t.merge(&w.write_errors);
            t.merge(&w.watch_errors);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footprint_sums_processes_only_when_all_are_known() {
        let mut f = Footprint::default();
        assert_eq!(f.rss_idle_kb(), None);
        f.processes.push(ProcessFootprint {
            name: "kube-apiserver".into(),
            rss_idle_kb: Some(200_000),
            cpu_s: Some(3.0),
            ..Default::default()
        });
        f.processes.push(ProcessFootprint {
            name: "etcd".into(),
            rss_idle_kb: Some(50_000),
            cpu_s: Some(1.5),
            ..Default::default()
        });
        assert_eq!(f.rss_idle_kb(), Some(250_000));
        assert_eq!(f.cpu_s(), Some(4.5));
        assert_eq!(f.rss_end_kb(), None, "one process has no end sample");
    }

    #[test]
    fn results_round_trip_json() {
        let mut r = ApiSystemResults {
            name: "k3rs-sqlite".into(),
            ..Default::default()
        };
        r.crud.push(CrudResult {
            kind: "pods".into(),
            clients: 32,
            ops: vec![OpResult {
                op: "create".into(),
                ops: 10,
                ..Default::default()
            }],
        });
        r.crud[0].ops[0].errors.record("429 TooManyRequests");
        let s = serde_json::to_string(&r).unwrap();
        let back: ApiSystemResults = serde_json::from_str(&s).unwrap();
        assert_eq!(
            back.crud("pods", 32)
                .and_then(|c| c.op("create"))
                .map(|o| o.ops),
            Some(10)
        );
        assert_eq!(back.total_errors().errors, 1);
    }
}
