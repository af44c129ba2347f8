//! Test support (feature `testing`): a real etcd server on free loopback ports, killed on drop.
//! Used by this crate's tests and by the `k3rs` binary's integration tests.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{etcd::EtcdBackend, Store};

/// A free TCP port on 127.0.0.1 (free when asked; tests bind it right away).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// A real etcd server, killed on drop.
pub struct Etcd {
    child: Child,
    _dir: tempfile::TempDir,
    pub url: String,
}

impl Etcd {
    pub fn start() -> Etcd {
        let bin = std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".into());
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (client, peer) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client}");
        let child = Command::new(&bin)
            .arg("--name=k3rs-test")
            .arg(format!("--data-dir={}", dir.path().join("etcd").display()))
            .arg(format!("--listen-client-urls={url}"))
            .arg(format!("--advertise-client-urls={url}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!(
                "--initial-cluster=k3rs-test=http://127.0.0.1:{peer}"
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} (install etcd-server): {e}"));
        // Ready when the client port accepts connections.
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", client)).is_err() {
            if Instant::now() > deadline {
                panic!("etcd did not listen on {url} within 20s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Etcd {
            child,
            _dir: dir,
            url,
        }
    }

    pub async fn backend(&self) -> Store {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match EtcdBackend::connect(std::slice::from_ref(&self.url)).await {
                Ok(b) => return Arc::new(b),
                Err(e) if Instant::now() > deadline => panic!("etcd did not come up: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
