//! Datastore load generator: drives any etcd v3 API server and compares results.
//!
//! ```text
//! k3rs-bench-datastore ping   --endpoint http://127.0.0.1:2379 --wait 30
//! k3rs-bench-datastore run    --endpoint http://127.0.0.1:2379 --name etcd --out etcd.json
//! k3rs-bench-datastore report --k3rs k3rs.json --etcd etcd.json --kine kine.json
//! ```

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use k3rs_bench::datastore::{self, Options, Scenario};
use k3rs_bench::report::{render, Columns};
use k3rs_bench::results::{read_results, SystemResults};

#[derive(Parser)]
#[command(about = "etcd v3 API load generator for comparing k3rs' datastore with etcd and kine")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Wait until an endpoint answers a Range request.
    Ping {
        #[arg(long)]
        endpoint: String,
        /// Seconds to keep trying.
        #[arg(long, default_value_t = 30.0)]
        wait: f64,
    },
    /// Run the scenarios against one endpoint and write JSON results.
    Run(RunArgs),
    /// Render result files as one markdown table.
    Report {
        #[arg(long)]
        k3rs: Option<PathBuf>,
        #[arg(long)]
        etcd: Option<PathBuf>,
        #[arg(long)]
        kine: Option<PathBuf>,
    },
}

#[derive(Args)]
struct RunArgs {
    /// etcd v3 endpoint, loopback only (e.g. http://127.0.0.1:2379).
    #[arg(long)]
    endpoint: String,
    /// Name of the system under test, recorded in the results.
    #[arg(long)]
    name: String,
    /// Where to write the JSON results (stdout when absent).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Comma-separated scenarios.
    #[arg(long, value_delimiter = ',', default_value = "creates,list,watch")]
    scenarios: Vec<Scenario>,
    /// Short durations and small lists, for smoke tests.
    #[arg(long)]
    quick: bool,
    /// gRPC connections the requests are spread over (watches get as many again).
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 1024)]
    value_size: usize,
    /// Timeout of every single request, seconds.
    #[arg(long, default_value_t = 60.0)]
    op_timeout: f64,
    /// Seconds each creates level runs [default: 10, --quick: 2].
    #[arg(long)]
    duration: Option<f64>,
    /// Concurrent writers for the creates scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,32,256")]
    writers: Vec<usize>,
    /// Key counts to preload and list [default: 10000,100000, --quick: 1000,10000].
    #[arg(long, value_delimiter = ',')]
    list_sizes: Option<Vec<usize>>,
    /// Timed lists per size; the median is reported [default: 3].
    #[arg(long, default_value_t = 3)]
    list_repeats: usize,
    /// Page size of the paged list.
    #[arg(long, default_value_t = 500)]
    page_limit: i64,
    /// Concurrent writers used to preload list keys.
    #[arg(long, default_value_t = 64)]
    preload_writers: usize,
    /// Watch streams on the watched prefix.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Puts per second during the watch scenario.
    #[arg(long, default_value_t = 100.0)]
    watch_rate: f64,
    /// Seconds the watch writer runs [default: 10, --quick: 3].
    #[arg(long)]
    watch_duration: Option<f64>,
}

fn check_loopback(endpoint: &str) -> Result<()> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .unwrap_or(endpoint);
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(h) => h.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let ok = host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !ok {
        bail!("refusing to load {endpoint}: only loopback endpoints are allowed");
    }
    Ok(())
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.001))
}

fn read(path: &Option<PathBuf>) -> Result<Option<SystemResults>> {
    read_results(path.as_deref())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Ping { endpoint, wait } => {
            check_loopback(&endpoint)?;
            datastore::ping(&endpoint, secs(wait)).await
        }
        Cmd::Report { k3rs, etcd, kine } => {
            let (k, e, n) = (read(&k3rs)?, read(&etcd)?, read(&kine)?);
            print!(
                "{}",
                render(&Columns {
                    k3rs: k.as_ref(),
                    etcd: e.as_ref(),
                    kine: n.as_ref(),
                })
            );
            Ok(())
        }
        Cmd::Run(a) => {
            check_loopback(&a.endpoint)?;
            if a.writers.iter().any(|&w| w == 0 || w > 4096) {
                bail!("--writers must be between 1 and 4096");
            }
            if a.watch_rate <= 0.0 || a.watch_rate > 10_000.0 {
                bail!("--watch-rate must be in (0, 10000]");
            }
            let opts = Options {
                endpoint: a.endpoint,
                name: a.name,
                scenarios: a.scenarios,
                quick: a.quick,
                clients: a.clients.clamp(1, 64),
                value_size: a.value_size,
                op_timeout: secs(a.op_timeout),
                create_duration: secs(a.duration.unwrap_or(if a.quick { 2.0 } else { 10.0 })),
                writers: a.writers,
                list_sizes: a.list_sizes.unwrap_or_else(|| {
                    if a.quick {
                        vec![1000, 10000]
                    } else {
                        vec![10000, 100000]
                    }
                }),
                list_repeats: a.list_repeats.clamp(1, 100),
                list_page_limit: a.page_limit.max(1),
                preload_writers: a.preload_writers.clamp(1, 1024),
                watchers: a.watchers.clamp(1, 10_000),
                watch_rate: a.watch_rate,
                watch_duration: secs(a.watch_duration.unwrap_or(if a.quick { 3.0 } else { 10.0 })),
            };
            let res = datastore::run(&opts).await?;
            let json = serde_json::to_string_pretty(&res)?;
            match &a.out {
                Some(p) => std::fs::write(p, json + "\n")
                    .with_context(|| format!("writing {}", p.display()))?,
                None => println!("{json}"),
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_loopback;

    #[test]
    fn only_loopback_endpoints() {
        assert!(check_loopback("http://127.0.0.1:2379").is_ok());
        assert!(check_loopback("http://127.5.0.1:2379").is_ok());
        assert!(check_loopback("http://localhost:2379").is_ok());
        assert!(check_loopback("http://[::1]:2379").is_ok());
        assert!(check_loopback("http://10.0.0.1:2379").is_err());
        assert!(check_loopback("http://example.com:2379").is_err());
    }
}
