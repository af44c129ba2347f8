//! Stock `etcdctl` (Debian etcd-client) against `k3rs datastore serve`: the etcd API on top of the
//! k3rs datastore, over SQLite and over a real etcd.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use k3rs_storage::testing::{free_port, Etcd};

struct Shim {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Shim {
    fn start(endpoint: Option<&str>) -> Shim {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_k3rs"));
        cmd.args(["datastore", "serve", "--listen-client-urls", &url])
            .arg("--data-dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(e) = endpoint {
            cmd.args(["--datastore-endpoint", e]);
        }
        let child = cmd.spawn().expect("start k3rs datastore serve");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "k3rs datastore serve did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Shim {
            child,
            url,
            _dir: dir,
        }
    }

    fn etcdctl(&self, args: &[&str]) -> Output {
        self.etcdctl_stdin(args, "")
    }

    fn etcdctl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        common::output_with_stdin(
            Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .arg(format!("--endpoints={}", self.url))
                .args(args),
            stdin,
            "etcdctl (install etcd-client)",
        )
    }

    /// Runs etcdctl and returns stdout, failing the test on a non-zero exit.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.etcdctl(args);
        assert!(
            out.status.success(),
            "etcdctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json_field(json: &str, field: &str) -> i64 {
    let pat = format!("\"{field}\":");
    let at = json
        .find(&pat)
        .unwrap_or_else(|| panic!("{field} not in {json}"))
        + pat.len();
    json[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect::<String>()
        .parse()
        .unwrap()
}

fn put_get_prefix_delete(shim: &Shim) {
    assert_eq!(shim.ok(&["put", "/registry/a", "one"]).trim(), "OK");
    assert_eq!(shim.ok(&["put", "/registry/b", "two"]).trim(), "OK");
    assert_eq!(shim.ok(&["put", "/other", "x"]).trim(), "OK");
    assert_eq!(shim.ok(&["get", "/registry/a"]), "/registry/a\none\n");
    assert_eq!(
        shim.ok(&["get", "--prefix", "/registry/"]),
        "/registry/a\none\n/registry/b\ntwo\n"
    );
    assert_eq!(
        shim.ok(&["get", "--prefix", "--keys-only", "/registry/"])
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["/registry/a", "/registry/b"]
    );
    let all = shim.ok(&["get", "--prefix", "-w", "json", "/"]);
    assert!(all.contains("\"count\":3"), "{all}");
    // Overwrite: version 2, same create revision.
    let first = shim.ok(&["get", "/registry/a", "-w", "json"]);
    assert_eq!(shim.ok(&["put", "/registry/a", "uno"]).trim(), "OK");
    let second = shim.ok(&["get", "/registry/a", "-w", "json"]);
    assert_eq!(json_field(&second, "version"), 2);
    assert_eq!(
        json_field(&second, "create_revision"),
        json_field(&first, "create_revision")
    );
    // Reading the old revision still gives the old value.
    let old_rev = json_field(&first, "mod_revision").to_string();
    assert_eq!(
        shim.ok(&["get", "/registry/a", "--rev", &old_rev]),
        "/registry/a\none\n"
    );
    assert_eq!(shim.ok(&["del", "/registry/a"]).trim(), "1");
    assert_eq!(shim.ok(&["del", "/registry/a"]).trim(), "0");
    assert_eq!(shim.ok(&["get", "/registry/a"]), "");
    assert_eq!(shim.ok(&["del", "--prefix", "/registry/"]).trim(), "1");
    assert_eq!(shim.ok(&["get", "--prefix", "/registry/"]), "");
    assert_eq!(shim.ok(&["get", "/other"]), "/other\nx\n");
}

fn watch_sees_puts_and_deletes(shim: &Shim) {
    let mut watch = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", shim.url))
        .args(["watch", "--prefix", "/w/"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = common::lines_of(&mut watch);
    // etcdctl prints nothing when the watch is created: keep writing until the first event shows.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = Vec::new();
    let mut n = 0;
    while !lines.iter().any(|l: &String| l == "PUT") {
        assert!(Instant::now() < deadline, "no watch output: {lines:?}");
        shim.ok(&["put", &format!("/w/warmup{n}"), "x"]);
        n += 1;
        while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(l);
        }
    }
    lines.clear();
    shim.ok(&["put", "/w/x", "hello"]);
    shim.ok(&["put", "/ignored", "nope"]);
    shim.ok(&["del", "/w/x"]);
    let want = ["PUT", "/w/x", "hello", "DELETE", "/w/x"];
    while lines.len() < want.len() {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => lines.push(l),
            Err(_) => panic!("watch output so far: {lines:?}"),
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(lines, want);
}

fn txn_compare_and_swap(shim: &Shim) {
    // Create-if-absent, as kube-apiserver does it.
    let create = "mod(\"/t/k\") = \"0\"\n\nput /t/k created\n\nget /t/k\n\n";
    let out = shim.etcdctl_stdin(&["txn"], create);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SUCCESS\n\nOK\n");
    // Again: the compare fails and the failure branch reads the key.
    let out = shim.etcdctl_stdin(&["txn"], create);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "FAILURE\n\n/t/k\ncreated\n"
    );
    // Compare on the value, then update.
    let upd = "value(\"/t/k\") = \"created\"\n\nput /t/k updated\n\n\n";
    let out = shim.etcdctl_stdin(&["txn"], upd);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SUCCESS\n\nOK\n");
    assert_eq!(shim.ok(&["get", "/t/k", "--print-value-only"]), "updated\n");
    // Writing two keys in one transaction is refused, and nothing is applied.
    let two = "\n\nput /t/a 1\nput /t/b 2\n\n\n";
    let out = shim.etcdctl_stdin(&["txn"], two);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported transaction"));
    assert_eq!(shim.ok(&["get", "/t/a"]), "");
}

fn leases_and_compaction(shim: &Shim) {
    let out = shim.ok(&["lease", "grant", "2"]);
    // "lease 694d77f0c1e8b40a granted with TTL(2s)"
    let id = out.split_whitespace().nth(1).unwrap().to_string();
    assert!(out.contains("granted with TTL(2s)"), "{out}");
    shim.ok(&["put", "--lease", &id, "/lease/short", "v"]);
    assert!(shim
        .ok(&["lease", "timetolive", "--keys", &id])
        .contains("/lease/short"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !shim.ok(&["get", "/lease/short"]).is_empty() {
        assert!(Instant::now() < deadline, "leased key did not expire");
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = shim.ok(&["lease", "grant", "600"]);
    let id = out.split_whitespace().nth(1).unwrap().to_string();
    shim.ok(&["put", "--lease", &id, "/lease/long", "v"]);
    assert!(shim.ok(&["lease", "list"]).contains(&id));
    shim.ok(&["lease", "revoke", &id]);
    assert_eq!(
        shim.ok(&["get", "/lease/long"]),
        "",
        "revoking a lease deletes its keys"
    );

    let first = shim.ok(&["put", "/c/k", "1", "-w", "json"]);
    let old = json_field(&first, "revision");
    shim.ok(&["put", "/c/k", "2"]);
    let now = json_field(&shim.ok(&["put", "/c/k", "3", "-w", "json"]), "revision");
    assert!(shim
        .ok(&["compaction", &now.to_string()])
        .contains("compacted revision"));
    let out = shim.etcdctl(&["get", "/c/k", "--rev", &old.to_string()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("required revision has been compacted"));
    assert_eq!(shim.ok(&["get", "/c/k", "--print-value-only"]), "3\n");

    // `endpoint status` of etcdctl 3.4 sends the endpoint URL, scheme included, as the HTTP/2
    // :authority, which Rust's HTTP/2 stack rejects as malformed; host:port works.
    let hostport = shim.url.trim_start_matches("http://").to_string();
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &hostport, "endpoint", "status", "-w", "json"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.contains("\"version\":\"3.5"), "{status}");
    assert!(shim.ok(&["member", "list"]).contains("k3rs"));
}

#[test]
fn etcdctl_against_the_sqlite_shim() {
    let shim = Shim::start(None);
    put_get_prefix_delete(&shim);
    watch_sees_puts_and_deletes(&shim);
    txn_compare_and_swap(&shim);
    leases_and_compaction(&shim);
}

#[test]
fn etcdctl_against_the_shim_over_etcd() {
    let etcd = Etcd::start();
    let shim = Shim::start(Some(&etcd.url));
    put_get_prefix_delete(&shim);
    watch_sees_puts_and_deletes(&shim);
    txn_compare_and_swap(&shim);
}

#[test]
fn bad_endpoints_fail_at_start_with_a_clear_message() {
    for (endpoint, says) in [
        ("mysql://root@tcp(127.0.0.1:3306)/k3s", "unsupported scheme"),
        ("state.db", "expected sqlite:///path"),
        ("https://127.0.0.1:2379", "TLS to etcd"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_k3rs"))
            .args([
                "datastore",
                "serve",
                "--listen-client-urls",
                "http://127.0.0.1:0",
            ])
            .args(["--datastore-endpoint", endpoint])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{endpoint} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{endpoint}: {err}");
    }
    // A file that is not a k3rs datastore is refused and left as it was.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    std::fs::write(&db, b"definitely not sqlite, but precious data").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_k3rs"))
        .args([
            "datastore",
            "serve",
            "--listen-client-urls",
            "http://127.0.0.1:0",
        ])
        .arg("--datastore-endpoint")
        .arg(format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to use database"));
    assert_eq!(
        std::fs::read(&db).unwrap(),
        b"definitely not sqlite, but precious data"
    );
}

#[test]
fn subcommands_not_built_yet_say_so() {
    for sub in ["agent", "kubectl", "crictl"] {
        let out = Command::new(env!("CARGO_BIN_EXE_k3rs"))
            .arg(sub)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{sub}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not implemented yet"), "{sub}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
}
