//! Prometheus metrics in text format: request counts and latencies by verb, resource and code,
//! datastore latencies, and open watches.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (i, b) in BUCKETS.iter().enumerate() {
            let c = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    storage: Mutex<BTreeMap<String, Histogram>>,
    watches: AtomicI64,
}

impl Metrics {
    pub fn request(&self, verb: &str, resource: &str, code: u16, took: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((verb.to_string(), resource.to_string(), code))
                .or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            m.entry((verb.to_string(), resource.to_string()))
                .or_default()
                .observe(took.as_secs_f64());
        }
    }

    pub fn storage(&self, operation: &str, took: Duration) {
        if let Ok(mut m) = self.storage.lock() {
            m.entry(operation.to_string())
                .or_default()
                .observe(took.as_secs_f64());
        }
    }

    pub fn watch_started(&self) {
        self.watches.fetch_add(1, Ordering::Relaxed);
    }

    pub fn watch_ended(&self) {
        self.watches.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Counter of API requests by verb, resource and HTTP code.\n# TYPE apiserver_request_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((verb, res, code), n) in m.iter() {
                let _ = writeln!(out, "apiserver_request_total{{verb=\"{verb}\",resource=\"{res}\",code=\"{code}\"}} {n}");
            }
        }
        out.push_str("# HELP apiserver_request_duration_seconds Request latency by verb and resource.\n# TYPE apiserver_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for ((verb, res), h) in m.iter() {
                h.render(
                    &mut out,
                    "apiserver_request_duration_seconds",
                    &format!("verb=\"{verb}\",resource=\"{res}\""),
                );
            }
        }
        out.push_str("# HELP k3rs_datastore_request_duration_seconds Datastore latency by operation.\n# TYPE k3rs_datastore_request_duration_seconds histogram\n");
        if let Ok(m) = self.storage.lock() {
            for (op, h) in m.iter() {
                h.render(
                    &mut out,
                    "k3rs_datastore_request_duration_seconds",
                    &format!("operation=\"{op}\""),
                );
            }
        }
        out.push_str("# HELP apiserver_longrunning_requests Open watch requests.\n# TYPE apiserver_longrunning_requests gauge\n");
        let _ = writeln!(
            out,
            "apiserver_longrunning_requests{{verb=\"WATCH\"}} {}",
            self.watches.load(Ordering::Relaxed)
        );
        out
    }
}
