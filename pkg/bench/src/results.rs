//! What one run against one system produces (serialised as JSON).

use serde::{Deserialize, Serialize};

use crate::stats::LatencySummary;

/// How many distinct error messages are kept as examples per scenario.
const MAX_SAMPLE_ERRORS: usize = 5;

/// Error counts of one scenario. Errors whose message contains "locked"
/// (SQLite's `SQLITE_BUSY`/`SQLITE_LOCKED`: "database is locked", "database
/// table is locked") are also counted separately.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorTally {
    pub errors: u64,
    pub locked: u64,
    /// A few distinct messages, for the reader.
    pub samples: Vec<String>,
}

impl ErrorTally {
    pub fn record(&mut self, message: impl AsRef<str>) {
        let message = message.as_ref();
        self.errors += 1;
        if message.to_ascii_lowercase().contains("locked") {
            self.locked += 1;
        }
        if self.samples.len() < MAX_SAMPLE_ERRORS && !self.samples.iter().any(|s| s == message) {
            self.samples.push(message.to_string());
        }
    }

    pub fn merge(&mut self, other: &ErrorTally) {
        self.errors += other.errors;
        self.locked += other.locked;
        for s in &other.samples {
            if self.samples.len() >= MAX_SAMPLE_ERRORS {
                break;
            }
            if !self.samples.contains(s) {
                self.samples.push(s.clone());
            }
        }
    }
}

/// The results saved at `path`; `None` when no path is given or no file is there.
pub fn read_results<T: serde::de::DeserializeOwned>(
    path: Option<&std::path::Path>,
) -> anyhow::Result<Option<T>> {
    use anyhow::Context;
    match path {
        None => Ok(None),
        Some(p) if !p.exists() => Ok(None),
        Some(p) => {
            let s =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Ok(Some(
                serde_json::from_str(&s).with_context(|| format!("parsing {}", p.display()))?,
            ))
        }
    }
}

/// Parameters of a run, recorded next to the results.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunConfig {
    pub quick: bool,
    pub clients: usize,
    pub value_size: usize,
    pub op_timeout_s: f64,
    pub create_duration_s: f64,
    pub writers: Vec<usize>,
    pub list_sizes: Vec<usize>,
    pub list_repeats: usize,
    pub list_page_limit: i64,
    pub preload_writers: usize,
    pub watchers: usize,
    pub watch_rate: f64,
    pub watch_duration_s: f64,
}

/// Creates with `writers` concurrent writers for a fixed time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreatesResult {
    pub writers: usize,
    /// From the first request until the last writer finished.
    pub elapsed_s: f64,
    /// Creates that committed (`Txn` succeeded).
    pub ops: u64,
    pub ops_per_s: f64,
    /// Latency of the successful creates.
    pub latency: LatencySummary,
    /// `Txn` answered but its compare failed (must be 0: every key is new).
    pub failed_txns: u64,
    pub errors: ErrorTally,
}

/// A prefix of `keys` keys listed whole and page by page.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListResult {
    pub keys: usize,
    pub preload_s: f64,
    pub preload_errors: ErrorTally,
    /// Seconds per unpaged list, one per repeat.
    pub unpaged_s: Vec<f64>,
    pub unpaged_median_s: Option<f64>,
    /// Seconds per full paged walk, one per repeat.
    pub paged_s: Vec<f64>,
    pub paged_median_s: Option<f64>,
    pub page_limit: i64,
    pub pages: u64,
    /// Request errors and wrong key counts while listing.
    pub errors: ErrorTally,
}

/// Watch delivery with many watchers on one prefix.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WatchResult {
    pub watchers: usize,
    pub puts_planned: u64,
    pub puts_ok: u64,
    pub put_errors: ErrorTally,
    pub put_latency: LatencySummary,
    /// Duration of the write phase.
    pub write_elapsed_s: f64,
    /// Events delivered over all watchers (first delivery of each only).
    pub delivered: u64,
    /// Delivery latency: receive time minus the writer's send time (before the Put).
    pub latency: LatencySummary,
    /// Committed puts a watcher never saw, summed over watchers.
    pub missed: u64,
    /// Events a watcher saw more than once, summed over watchers.
    pub duplicated: u64,
    /// Events whose revision was not above the previous one on the same watcher.
    pub out_of_order: u64,
    /// Events that were not ours or could not be parsed.
    pub unexpected: u64,
    /// Watch stream errors (creation failures, stream errors, cancellations).
    pub watch_errors: ErrorTally,
}

/// Everything one run produced for one system.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SystemResults {
    pub name: String,
    pub endpoint: String,
    pub run_id: String,
    pub started_unix_s: u64,
    pub total_s: f64,
    pub config: RunConfig,
    pub creates: Vec<CreatesResult>,
    pub lists: Vec<ListResult>,
    pub watch: Option<WatchResult>,
    /// Scenarios that could not run at all, with the reason.
    pub fatal: Vec<String>,
}

impl SystemResults {
    /// All request errors of the run.
    pub fn total_errors(&self) -> ErrorTally {
        let mut t = ErrorTally::default();
        for c in &self.creates {
            t.merge(&c.errors);
        }
        for l in &self.lists {
            t.merge(&l.preload_errors);
            t.merge(&l.errors);
        }
        if let Some(w) = &self.watch {
            t.merge(&w.put_errors);
            t.merge(&w.watch_errors);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_locked_separately() {
        let mut t = ErrorTally::default();
        t.record("status: Unknown, message: \"database is locked\"");
        t.record("timeout after 30s");
        t.record("timeout after 30s");
        t.record("SQLITE_BUSY: Database Table Is LOCKED");
        assert_eq!(t.errors, 4);
        assert_eq!(t.locked, 2);
        assert_eq!(t.samples.len(), 3);
        let mut u = ErrorTally::default();
        u.record("x");
        u.merge(&t);
        assert_eq!((u.errors, u.locked, u.samples.len()), (5, 2, 4));
    }

    #[test]
    fn results_round_trip_json() {
        let mut r = SystemResults {
            name: "etcd".into(),
            ..Default::default()
        };
        r.creates.push(CreatesResult {
            writers: 32,
            ops: 10,
            ..Default::default()
        });
        r.creates[0].errors.record("database is locked");
        let s = serde_json::to_string(&r).unwrap();
        let back: SystemResults = serde_json::from_str(&s).unwrap();
        assert_eq!(back.creates[0].writers, 32);
        assert_eq!(back.total_errors().locked, 1);
    }
}
