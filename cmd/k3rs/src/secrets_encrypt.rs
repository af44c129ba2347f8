//! `k3rs secrets-encrypt ...`: inspect and rotate the encryption-at-rest keys (k3s' command of
//! the same name). These work on the datastore directly and need the server stopped: a running
//! server holds `<data-dir>/server/cred/encryption.lock`, and the commands refuse to run then.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;

use k3rs_apiserver::encryption::{reencrypt, Rules};
use k3rs_auth::encryption::EncryptionConfig;
use k3rs_storage::{prefix_end, ListOptions};

#[derive(clap::Args)]
pub struct Common {
    /// Data directory (default /var/lib/k3rs as root, ~/.k3rs otherwise).
    #[arg(long, short = 'd', env = "K3RS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite:///path/state.db (default: <data-dir>/server/db/state.db) or http://host:2379,...
    #[arg(long, env = "K3RS_DATASTORE_ENDPOINT")]
    datastore_endpoint: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Show the configured keys and how many stored values each key (or plaintext) holds.
    Status(Common),
    /// Add a new key, re-encrypt every encrypted resource with it, then drop the old keys.
    /// Run with the server stopped.
    RotateKeys(Common),
}

fn paths(c: &Common) -> (PathBuf, PathBuf, String) {
    let data_dir = c.data_dir.clone().unwrap_or_else(crate::default_data_dir);
    let cfg = k3rs_apiserver::encryption_config_path(&data_dir);
    let lock = k3rs_apiserver::encryption_lock_path(&data_dir);
    let endpoint = crate::datastore::resolve_endpoint(c.datastore_endpoint.clone(), Some(data_dir));
    (cfg, lock, endpoint)
}

fn load(cfg_path: &std::path::Path) -> anyhow::Result<EncryptionConfig> {
    if !cfg_path.exists() {
        bail!(
            "{} does not exist: secrets encryption is not enabled (start the server once with --secrets-encryption)",
            cfg_path.display()
        );
    }
    Ok(EncryptionConfig::load(cfg_path)?)
}

pub async fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Status(c) => {
            let (cfg_path, _, endpoint) = paths(&c);
            let cfg = load(&cfg_path)?;
            println!("Encryption Status: Enabled");
            println!("Configuration: {}", cfg_path.display());
            let json = cfg.to_json();
            for r in json["resources"].as_array().into_iter().flatten() {
                let mut providers = Vec::new();
                for p in r["providers"].as_array().into_iter().flatten() {
                    for (kind, body) in p.as_object().into_iter().flatten() {
                        let names: Vec<&str> = body["keys"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|k| k["name"].as_str())
                            .collect();
                        providers.push(if names.is_empty() {
                            kind.clone()
                        } else {
                            format!("{kind}[{}]", names.join(","))
                        });
                    }
                }
                println!("Resources {}: {}", r["resources"], providers.join(" "));
            }
            let rules = Rules::from_config(&cfg).map_err(anyhow::Error::msg)?;
            let store = k3rs_storage::open(&endpoint).await?;
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for prefix in rules.prefixes() {
                let page = store
                    .list(&prefix, &prefix_end(&prefix), ListOptions::default())
                    .await?;
                for kv in page.kvs {
                    let label = if kv.value.starts_with(b"k8s:enc:") {
                        let s = String::from_utf8_lossy(&kv.value[..kv.value.len().min(200)])
                            .into_owned();
                        s.split(':').take(5).collect::<Vec<_>>().join(":")
                    } else {
                        "plaintext".to_string()
                    };
                    *counts.entry(label).or_default() += 1;
                }
            }
            for (label, n) in counts {
                println!("Stored values {label}: {n}");
            }
            store.close().await?;
            Ok(())
        }
        Command::RotateKeys(c) => {
            let (cfg_path, lock_path, endpoint) = paths(&c);
            let mut cfg = load(&cfg_path)?;
            let _lock = k3rs_auth::encryption::lock_exclusive(&lock_path)
                .context("stop the k3rs server before rotating keys")?;
            // 1. The new key first, old keys still readable, written before any value changes:
            //    if this stops half-way, the server can still read every value.
            let name = cfg.add_new_key();
            cfg.write(&cfg_path)?;
            let rules = Rules::from_config(&cfg).map_err(anyhow::Error::msg)?;
            let store = k3rs_storage::open(&endpoint).await?;
            // 2. Re-encrypt everything not under the new key.
            let n = reencrypt(&store, &rules)
                .await
                .map_err(anyhow::Error::msg)
                .context("re-encrypting")?;
            store.close().await?;
            // 3. Only now drop the old keys.
            cfg.drop_old_keys();
            cfg.write(&cfg_path)?;
            println!("keys rotated: new key {name}; {n} stored values re-encrypted");
            Ok(())
        }
    }
}
