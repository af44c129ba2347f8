//! Kubernetes API load generator: drives any API server through a kubeconfig
//! and compares results.
//!
//! ```text
//! k3rs-bench-api wait-ready --url https://127.0.0.1:6443/readyz --since-unix-ns $T0
//! k3rs-bench-api run --kubeconfig admin.kubeconfig --name k3rs-sqlite --out k3rs.json \
//!     --server-process k3rs=1234 --binary k3rs=/path/to/k3rs --cold-start-s 0.4
//! k3rs-bench-api report --k3rs-sqlite k3rs.json --kube-etcd kube.json
//! ```

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use k3rs_bench::api::{self, Kind, Options, Scenario, ServerProcess};
use k3rs_bench::api_report::{render, Systems};
use k3rs_bench::api_results::{ApiSystemResults, BinarySize};
use k3rs_bench::results::read_results;

#[derive(Parser)]
#[command(about = "Kubernetes API load generator for comparing k3rs with kube-apiserver")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Poll a /readyz URL until it answers 200; print the seconds since --since-unix-ns.
    WaitReady {
        #[arg(long)]
        url: String,
        /// When the server was exec'd (Unix time, nanoseconds; `date +%s%N`).
        #[arg(long)]
        since_unix_ns: u128,
        /// Seconds to keep trying.
        #[arg(long, default_value_t = 120.0)]
        wait: f64,
    },
    /// Run the scenarios against one API server and write JSON results.
    Run(Box<RunArgs>),
    /// Render result files as markdown tables.
    Report {
        #[arg(long)]
        k3rs_sqlite: Option<PathBuf>,
        #[arg(long)]
        k3rs_etcd: Option<PathBuf>,
        #[arg(long)]
        kube_etcd: Option<PathBuf>,
        #[arg(long)]
        kube_k3rs: Option<PathBuf>,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Kubeconfig of an admin user; its server must be a loopback address.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Name of the system under test, recorded in the results.
    #[arg(long)]
    name: String,
    /// Where to write the JSON results (stdout when absent).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Comma-separated scenarios.
    #[arg(long, value_delimiter = ',', default_value = "crud,list,watch")]
    scenarios: Vec<Scenario>,
    /// Small counts and short durations, for smoke tests.
    #[arg(long)]
    quick: bool,
    /// Kinds for the CRUD scenario.
    #[arg(long, value_delimiter = ',', default_value = "configmaps,pods")]
    kinds: Vec<Kind>,
    /// Concurrent clients (each its own connection) for the CRUD scenario [default: 1,32,256; --quick: 1,32].
    #[arg(long, value_delimiter = ',')]
    clients: Option<Vec<usize>>,
    /// Seconds each CRUD verb runs per level [default: 5; --quick: 1.5].
    #[arg(long)]
    crud_duration: Option<f64>,
    /// Timeout of every single request, seconds.
    #[arg(long, default_value_t = 60.0)]
    op_timeout: f64,
    /// Bytes of data per ConfigMap.
    #[arg(long, default_value_t = 512)]
    value_size: usize,
    /// ConfigMaps to preload and list [default: 1000,10000,50000; --quick: 1000].
    #[arg(long, value_delimiter = ',')]
    list_sizes: Option<Vec<usize>>,
    /// Timed lists per size and mode; the median is reported.
    #[arg(long, default_value_t = 3)]
    list_repeats: usize,
    /// Page size of the paged lists.
    #[arg(long, default_value_t = 500)]
    page_limit: i64,
    /// Concurrent clients preloading list objects.
    #[arg(long, default_value_t = 32)]
    preload_clients: usize,
    /// Watcher counts for the watch scenario [default: 100,1000; --quick: 100].
    #[arg(long, value_delimiter = ',')]
    watchers: Option<Vec<usize>>,
    /// Creates per second while the watchers watch.
    #[arg(long, default_value_t = 100.0)]
    watch_rate: f64,
    /// Seconds the watch writer runs [default: 10; --quick: 3].
    #[arg(long)]
    watch_duration: Option<f64>,
    /// A process of the system under test, NAME=PID (repeatable): sampled for CPU and RSS.
    #[arg(long = "server-process", value_parser = parse_process)]
    server_processes: Vec<ServerProcess>,
    /// A binary of the system under test, NAME=PATH (repeatable): its size is reported.
    #[arg(long = "binary")]
    binaries: Vec<String>,
    /// Exec → /readyz 200 of the API server, seconds (from `wait-ready`).
    #[arg(long)]
    cold_start_s: Option<f64>,
    /// Exec → ready of a separate datastore, seconds.
    #[arg(long)]
    datastore_start_s: Option<f64>,
    /// When the API server was exec'd (Unix ns): idle RSS is sampled --idle-s after it.
    #[arg(long)]
    started_unix_ns: Option<u128>,
    /// Seconds after the start at which idle RSS is sampled [default: 60; --quick: 5].
    #[arg(long)]
    idle_s: Option<f64>,
}

fn parse_process(s: &str) -> Result<ServerProcess, String> {
    let (name, pid) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PID, got {s:?}"))?;
    let pid = pid
        .parse::<u32>()
        .map_err(|e| format!("bad pid in {s:?}: {e}"))?;
    Ok(ServerProcess {
        name: name.to_string(),
        pid,
    })
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.001, 86_400.0))
}

fn read(path: &Option<PathBuf>) -> Result<Option<ApiSystemResults>> {
    read_results(path.as_deref())
}

async fn run(a: RunArgs) -> Result<()> {
    let quick = a.quick;
    let clients = a
        .clients
        .unwrap_or_else(|| if quick { vec![1, 32] } else { vec![1, 32, 256] });
    if clients.iter().any(|&c| c == 0 || c > 4096) {
        bail!("--clients must be between 1 and 4096");
    }
    let watchers = a
        .watchers
        .unwrap_or_else(|| if quick { vec![100] } else { vec![100, 1000] });
    if watchers.iter().any(|&w| w == 0 || w > 20_000) {
        bail!("--watchers must be between 1 and 20000");
    }
    if !(a.watch_rate > 0.0 && a.watch_rate <= 10_000.0) {
        bail!("--watch-rate must be in (0, 10000]");
    }
    let list_sizes = a.list_sizes.unwrap_or_else(|| {
        if quick {
            vec![1000]
        } else {
            vec![1000, 10_000, 50_000]
        }
    });
    let opts = Options {
        kubeconfig: a.kubeconfig,
        name: a.name,
        scenarios: a.scenarios,
        quick,
        kinds: a.kinds,
        clients,
        crud_duration: secs(a.crud_duration.unwrap_or(if quick { 1.5 } else { 5.0 })),
        op_timeout: secs(a.op_timeout),
        value_size: a.value_size.min(1 << 20),
        list_sizes,
        list_repeats: a.list_repeats.clamp(1, 100),
        list_page_limit: a.page_limit.max(1),
        preload_clients: a.preload_clients.clamp(1, 1024),
        watchers,
        watch_rate: a.watch_rate,
        watch_duration: secs(a.watch_duration.unwrap_or(if quick { 3.0 } else { 10.0 })),
        server: a.server_processes,
        idle: secs(a.idle_s.unwrap_or(if quick { 5.0 } else { 60.0 })),
        started_unix_ns: a.started_unix_ns,
    };
    let mut res = api::run(&opts).await?;
    res.footprint.cold_start_s = a.cold_start_s;
    res.footprint.datastore_start_s = a.datastore_start_s;
    for b in &a.binaries {
        let (name, path) = b
            .split_once('=')
            .with_context(|| format!("--binary expects NAME=PATH, got {b:?}"))?;
        let bytes = std::fs::metadata(path)
            .with_context(|| format!("reading {path}"))?
            .len();
        res.footprint.binaries.push(BinarySize {
            name: name.into(),
            path: path.into(),
            bytes,
        });
    }
    let json = serde_json::to_string_pretty(&res)?;
    match &a.out {
        Some(p) => {
            std::fs::write(p, json + "\n").with_context(|| format!("writing {}", p.display()))?
        }
        None => println!("{json}"),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::WaitReady {
            url,
            since_unix_ns,
            wait,
        } => {
            let s = api::wait_ready(&url, since_unix_ns, secs(wait)).await?;
            println!("{s:.3}");
            Ok(())
        }
        Cmd::Run(a) => run(*a).await,
        Cmd::Report {
            k3rs_sqlite,
            k3rs_etcd,
            kube_etcd,
            kube_k3rs,
        } => {
            let (a, b, c, d) = (
                read(&k3rs_sqlite)?,
                read(&k3rs_etcd)?,
                read(&kube_etcd)?,
                read(&kube_k3rs)?,
            );
            print!(
                "{}",
                render(&Systems {
                    k3rs_sqlite: a.as_ref(),
                    k3rs_etcd: b.as_ref(),
                    kube_etcd: c.as_ref(),
                    kube_k3rs: d.as_ref(),
                })
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_process;

    #[test]
    fn process_args() {
        let p = parse_process("etcd=42").unwrap();
        assert_eq!((p.name.as_str(), p.pid), ("etcd", 42));
        assert!(parse_process("etcd").is_err());
        assert!(parse_process("etcd=x").is_err());
    }
}
