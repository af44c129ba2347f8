//! Test harness: a real `k3rs server` process on a free port with a temp data dir, driven with
//! the stock kubectl and with curl (admin client certificate).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use k3rs_storage::testing::free_port;

pub struct K3rs {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    endpoint: Option<String>,
    /// Extra `k3rs server` flags, used by every (re)spawn.
    pub extra_args: Vec<String>,
}

impl K3rs {
    pub fn start(endpoint: Option<&str>) -> K3rs {
        Self::start_with(endpoint, &[])
    }

    /// Starts a server with extra `k3rs server` flags.
    pub fn start_with(endpoint: Option<&str>, extra_args: &[&str]) -> K3rs {
        let dir = tempfile::tempdir().unwrap();
        let mut k = K3rs {
            child: None,
            dir,
            port: free_port(),
            endpoint: endpoint.map(str::to_string),
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
        };
        k.spawn();
        k
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    pub fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_k3rs"));
        cmd.arg("server")
            .arg("--data-dir")
            .arg(self.dir.path())
            .args([
                "--bind-address",
                "127.0.0.1",
                "--https-listen-port",
                &self.port.to_string(),
            ])
            .arg("--write-kubeconfig")
            .arg(self.kubeconfig())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(e) = &self.endpoint {
            cmd.args(["--datastore-endpoint", e]);
        }
        cmd.args(&self.extra_args);
        self.child = Some(cmd.spawn().expect("start k3rs server"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.curl(&[
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &self.url("/readyz"),
            ]);
            if String::from_utf8_lossy(&out.stdout) == "200" {
                break;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("k3rs server exited during start: {status} (its log is above)");
            }
            assert!(Instant::now() < deadline, "k3rs server not ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM: a clean shutdown.
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    pub fn tls(&self, f: &str) -> String {
        self.dir
            .path()
            .join("server/tls")
            .join(f)
            .display()
            .to_string()
    }

    /// A kube-rs client from the admin kubeconfig.
    pub async fn kube_client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig()).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    }

    /// `curl -sS` trusting the cluster CA, with no client credentials.
    pub fn anon_curl(&self) -> Command {
        let mut c = Command::new("curl");
        c.args(["-sS", "--cacert", &self.tls("server-ca.crt")]);
        c
    }

    /// `anon_curl` with the admin client certificate.
    pub fn admin_curl(&self) -> Command {
        let mut c = self.anon_curl();
        c.args([
            "--cert",
            &self.tls("client-admin.crt"),
            "--key",
            &self.tls("client-admin.key"),
        ]);
        c
    }

    /// curl with the cluster CA and the admin client certificate.
    pub fn curl(&self, args: &[&str]) -> Output {
        self.admin_curl().args(args).output().expect("curl")
    }

    /// The HTTP status code of an anonymous request to `path` (`extra` are more curl arguments).
    pub fn anon_status(&self, extra: &[&str], path: &str) -> String {
        let out = self
            .anon_curl()
            .args(extra)
            .args(["-o", "/dev/null", "-w", "%{http_code}", &self.url(path)])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An HTTP call: returns (status code, body as JSON or text).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> (u16, serde_json::Value) {
        let file = self.dir.path().join("body");
        std::fs::write(&file, body).unwrap();
        let data = format!("@{}", file.display());
        let out = if method == "GET" {
            self.curl(&["-w", "\n%{http_code}", &self.url(path)])
        } else {
            self.curl(&[
                "-X",
                method,
                "-H",
                &format!("Content-Type: {content_type}"),
                "--data-binary",
                &data,
                "-w",
                "\n%{http_code}",
                &self.url(path),
            ])
        };
        let (code, body) = code_and_body(&out);
        (code, json_or_text(body))
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .env("KUBECACHEDIR", self.dir.path().join("kubecache"))
            .output()
            .expect("kubectl")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// stdout and stderr of a kubectl run that may or may not succeed.
    pub fn err_or_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// kubectl with another kubeconfig.
    pub fn kubectl_with(&self, kubeconfig: &std::path::Path, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .env("KUBECACHEDIR", self.dir.path().join("kubecache"))
            .output()
            .expect("kubectl")
    }

    /// A kubeconfig for a user with a client certificate issued by the cluster's client CA.
    pub fn cert_kubeconfig(&self, user: &str, groups: &[&str]) -> PathBuf {
        let read = |f: &str| std::fs::read_to_string(self.tls(f)).unwrap();
        let ca = k3rs_auth::pki::CertKey {
            cert_pem: read("client-ca.crt"),
            key_pem: read("client-ca.key"),
        };
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        let cert = k3rs_auth::pki::issue_client_cert(&ca, user, &groups, 1).unwrap();
        let kc = k3rs_auth::pki::kubeconfig(&self.url(""), &read("server-ca.crt"), &cert);
        let path = self
            .dir
            .path()
            .join(format!("{}.kubeconfig", user.replace(':', "_")));
        std::fs::write(&path, kc).unwrap();
        path
    }

    /// A kubeconfig with a bearer token and no client certificate.
    pub fn token_kubeconfig(&self, name: &str, token: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.kubeconfig"));
        let kc = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: k3rs\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: {name}\n  user:\n    token: {token}\ncontexts:\n- name: {name}\n  context: {{cluster: k3rs, user: {name}}}\ncurrent-context: {name}\n",
            self.url(""),
            self.tls("server-ca.crt")
        );
        std::fs::write(&path, kc).unwrap();
        path
    }

    pub fn err(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(!out.status.success(), "kubectl {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for K3rs {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The stdout lines of a running child (e.g. a `-w` / `watch` command), as they come.
/// Runs `cmd` with `stdin` written to its standard input and its output captured; `what` names
/// the program if it cannot be started.
pub fn output_with_stdin(cmd: &mut Command, stdin: &str, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(what);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// (status code, body) of a curl run whose last argument before the URL was
/// `-w "\n%{http_code}"`; code 0 when there is none.
pub fn code_and_body(out: &Output) -> (u16, String) {
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.parse().unwrap_or(0), body.to_string())
}

/// `body` parsed as JSON, or as a JSON string when it is not JSON.
pub fn json_or_text(body: String) -> serde_json::Value {
    serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body))
}

pub fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child
        .stdout
        .take()
        .expect("child started with stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Writes `text` to `name` in the test's temp dir and returns its path.
pub fn write(k: &K3rs, name: &str, text: &str) -> String {
    let p = k.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Retries `f` until it returns `Some` (what the server does through its own watches, such as
/// admission policies taking effect, happens a little later); bounded by attempts, not by time.
pub fn eventually_some<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(t) = f() {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("never happened: {what}");
}
