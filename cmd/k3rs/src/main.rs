//! `k3rs`: one binary for the whole distribution. This file is wiring only: it parses the command
//! line and hands over to the crates under `pkg/`, where all behaviour lives.

mod datastore;
mod secrets_encrypt;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "k3rs",
    version,
    about = "A lightweight Kubernetes distribution in one binary"
)]
struct Cli {
    /// Log format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "K3RS_LOG_FORMAT"
    )]
    log_format: LogFormat,
    /// Log filter (tracing syntax, e.g. "info,k3rs_storage=debug").
    #[arg(long, global = true, default_value = "info", env = "K3RS_LOG")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane (today: the API server on the k3rs datastore).
    Server(Box<server::ServerArgs>),
    /// Run the node agent: kubelet on containerd, service proxy (not implemented yet).
    Agent(Passthrough),
    /// Run kubectl against this k3rs (not implemented yet).
    Kubectl(Passthrough),
    /// Run crictl against this node's containerd (not implemented yet).
    Crictl(Passthrough),
    /// Show the cluster join token (`K10<ca-hash>::server:<secret>`) of the server's data dir.
    Token {
        /// Data directory (default /var/lib/k3rs as root, ~/.k3rs otherwise).
        #[arg(long, short = 'd', env = "K3RS_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Encryption at rest: show status, rotate keys (with the server stopped).
    SecretsEncrypt {
        #[command(subcommand)]
        command: secrets_encrypt::Command,
    },
    /// Datastore tools: serve the etcd API on top of the k3rs datastore.
    Datastore {
        #[command(subcommand)]
        command: datastore::Command,
    },
}

/// Arguments of a subcommand that is not built yet: accepted, then refused with a clear message.
#[derive(clap::Args)]
struct Passthrough {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// The default data directory, as k3s: `/var/lib/k3rs` for root, `~/.k3rs` otherwise.
pub fn default_data_dir() -> PathBuf {
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if root {
        PathBuf::from("/var/lib/k3rs")
    } else {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".k3rs")
    }
}

fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn not_built(name: &str) -> ExitCode {
    eprintln!("k3rs {name}: not implemented yet (see the README for what works today)");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, &cli.log);
    match cli.command {
        Command::Server(args) => run_async("server", server::run(*args)),
        Command::Agent(_) => not_built("agent"),
        Command::Kubectl(_) => not_built("kubectl"),
        Command::Crictl(_) => not_built("crictl"),
        Command::Token { data_dir } => {
            let path = data_dir
                .unwrap_or_else(default_data_dir)
                .join("server/token");
            match std::fs::read_to_string(&path) {
                Ok(t) => {
                    println!("{}", t.trim());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("k3rs token: cannot read {}: {e} (has `k3rs server` run with this data dir?)", path.display());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Datastore { command } => run_async("datastore", datastore::run(command)),
        Command::SecretsEncrypt { command } => {
            run_async("secrets-encrypt", secrets_encrypt::run(command))
        }
    }
}

/// Runs a subcommand's future on a multi-threaded runtime; errors print one line and exit 1.
fn run_async(name: &str, fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("k3rs: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("k3rs {name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
