//! `--datastore-endpoint` parsing, with k3s' syntax: `sqlite:///path/state.db[?options]` for the
//! embedded store, `http(s)://host:2379[,host:2379...]` for etcd.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::{etcd::EtcdBackend, sqlite::SqliteBackend, Error, Result, Store};

/// Tuning of the embedded SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Keep at least this much history by age...
    pub compact_min_age: Duration,
    /// ...and at least this many revisions; whichever keeps more wins.
    pub compact_min_revisions: i64,
    /// How often the compactor and the TTL sweeper look for work.
    pub compact_interval: Duration,
    pub ttl_interval: Duration,
    /// `PRAGMA synchronous=FULL` (fsync every commit, survives power loss) rather than NORMAL
    /// (survives a process crash).
    pub fsync: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            compact_min_age: Duration::from_secs(300),
            compact_min_revisions: 10_000,
            compact_interval: Duration::from_secs(30),
            ttl_interval: Duration::from_secs(1),
            fsync: true,
        }
    }
}

/// A parsed datastore endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Sqlite { path: PathBuf, fsync: bool },
    Etcd { urls: Vec<String> },
}

fn invalid(endpoint: &str, reason: impl Into<String>) -> Error {
    Error::InvalidEndpoint {
        endpoint: endpoint.to_string(),
        reason: reason.into(),
    }
}

impl Endpoint {
    /// Parses an endpoint string. Errors name the endpoint and say what is wrong with it.
    pub fn parse(endpoint: &str) -> Result<Endpoint> {
        let endpoint = endpoint.trim();
        let Some((scheme, rest)) = endpoint.split_once("://") else {
            return Err(invalid(
                endpoint,
                "expected sqlite:///path/state.db or http(s)://host:port[,host:port...]",
            ));
        };
        match scheme {
            "sqlite" => {
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                if path.is_empty() {
                    return Err(invalid(endpoint, "missing database path"));
                }
                let mut fsync = true;
                for opt in query.split('&').filter(|o| !o.is_empty()) {
                    match opt.split_once('=') {
                        Some(("synchronous", v)) if v.eq_ignore_ascii_case("full") => fsync = true,
                        Some(("synchronous", v)) if v.eq_ignore_ascii_case("normal") => {
                            fsync = false
                        }
                        _ => {
                            return Err(invalid(
                                endpoint,
                                format!(
                                    "unknown option {opt:?} (supported: synchronous=full|normal)"
                                ),
                            ))
                        }
                    }
                }
                Ok(Endpoint::Sqlite {
                    path: PathBuf::from(path),
                    fsync,
                })
            }
            "http" | "https" => {
                let mut urls = Vec::new();
                for host in endpoint.split(',') {
                    let host = host.trim();
                    let url = if host.contains("://") {
                        host.to_string()
                    } else {
                        format!("{scheme}://{host}")
                    };
                    let Some((s, authority)) = url.split_once("://") else {
                        return Err(invalid(endpoint, "bad URL"));
                    };
                    if s != "http" {
                        return Err(invalid(
                            endpoint,
                            "TLS to etcd (https) is not supported yet; use http:// on a trusted network",
                        ));
                    }
                    let authority = authority.trim_end_matches('/');
                    let port_ok = authority
                        .rsplit_once(':')
                        .map(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
                        .unwrap_or(false);
                    if !port_ok || authority.contains('/') {
                        return Err(invalid(endpoint, format!("{url:?} is not host:port")));
                    }
                    urls.push(format!("http://{authority}"));
                }
                Ok(Endpoint::Etcd { urls })
            }
            other => Err(invalid(
                endpoint,
                format!("unsupported scheme {other:?} (supported: sqlite, http, https)"),
            )),
        }
    }
}

/// Opens the datastore an endpoint names, with default tuning.
pub async fn open(endpoint: &str) -> Result<Store> {
    open_with(endpoint, SqliteOptions::default()).await
}

/// Opens the datastore an endpoint names.
pub async fn open_with(endpoint: &str, mut opts: SqliteOptions) -> Result<Store> {
    match Endpoint::parse(endpoint)? {
        Endpoint::Sqlite { path, fsync } => {
            opts.fsync = opts.fsync && fsync;
            Ok(Arc::new(SqliteBackend::open(&path, opts).await?))
        }
        Endpoint::Etcd { urls } => Ok(Arc::new(EtcdBackend::connect(&urls).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k3s_style_endpoints() {
        assert_eq!(
            Endpoint::parse("sqlite:///var/lib/k3rs/server/db/state.db").unwrap(),
            Endpoint::Sqlite {
                path: "/var/lib/k3rs/server/db/state.db".into(),
                fsync: true
            }
        );
        assert_eq!(
            Endpoint::parse("sqlite:///x.db?synchronous=normal").unwrap(),
            Endpoint::Sqlite {
                path: "/x.db".into(),
                fsync: false
            }
        );
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:2379,10.0.0.2:2379").unwrap(),
            Endpoint::Etcd {
                urls: vec![
                    "http://127.0.0.1:2379".into(),
                    "http://10.0.0.2:2379".into()
                ]
            }
        );
    }

    #[test]
    fn rejects_bad_endpoints_with_a_reason() {
        for bad in [
            "mysql://root@tcp(127.0.0.1)/k3s",
            "state.db",
            "sqlite://",
            "http://nohostport",
            "http://h:99999",
            "sqlite:///x.db?cache=shared",
        ] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(err.contains("invalid datastore endpoint"), "{bad}: {err}");
        }
    }
}
