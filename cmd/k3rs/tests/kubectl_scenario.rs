//! Every kubectl on the machine (1.27 … 1.33 from the dispatcher's directory, plus v1.35 when the
//! conformance harness has built it) through one day-to-day scenario against `k3rs server`, with
//! no `--validate=false` or other flags upstream would not need. Each step checks the result.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::K3rs;
use serde_json::Value;

/// The kubectl binaries to drive, with a short name each.
fn kubectls() -> Vec<(String, PathBuf)> {
    let dir = Path::new("/usr/lib/google-cloud-sdk/bin");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter_map(|p| {
                    let n = p.file_name()?.to_str()?.to_string();
                    n.strip_prefix("kubectl.1.")
                        .map(|v| (format!("1-{v}"), p.clone()))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    assert!(
        !out.is_empty(),
        "no kubectl.1.NN binaries in {}",
        dir.display()
    );
    let cache = std::env::var_os("K3RS_CONFORMANCE_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/k3rs-conformance"))
        });
    match cache.map(|c| c.join("bin/kubectl")) {
        Some(p) if p.exists() => out.push(("1-35".into(), p)),
        _ => {
            eprintln!("note: kubectl v1.35 not built (conformance/build makes it); skipping it");
            assert!(
                std::env::var_os("K3RS_STRICT_TESTS").is_none(),
                "scripts/test provides this; it must not be skipped"
            );
        }
    }
    out
}

struct Kubectl<'a> {
    k: &'a K3rs,
    bin: PathBuf,
    name: String,
    ns: String,
}

impl Kubectl<'_> {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--kubeconfig")
            .arg(self.k.kubeconfig())
            .args(["-n", &self.ns])
            .args(args)
            .env(
                "KUBECACHEDIR",
                self.k.dir.path().join(format!("cache-{}", self.name)),
            );
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run kubectl")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {} {args:?}: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("Warning") && !stderr.contains("error"),
            "kubectl {} {args:?} printed: {stderr}",
            self.name
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "kubectl {} {args:?} should fail",
            self.name
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("kubectl -o json")
    }

    /// `kubectl apply -f -` with `manifest` on stdin, plus `extra` flags.
    fn apply(&self, manifest: &str, extra: &[&str]) -> Output {
        let mut args = vec!["apply", "-f", "-"];
        args.extend(extra);
        self.stdin(&args, manifest)
    }

    fn stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("kubectl output")
    }

    fn stdin_ok(&self, args: &[&str], input: &str) -> String {
        let out = self.stdin(args, input);
        assert!(
            out.status.success(),
            "kubectl {} {args:?}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn deployment(replicas: u32, image: &str, extra_label: Option<&str>) -> String {
    let label = extra_label
        .map(|l| format!("\n    {l}: \"yes\""))
        .unwrap_or_default();
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web{label}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: main
        image: {image}
        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: demo
      - name: side
        image: busybox:1.36
"#
    )
}

fn scenario(kc: &Kubectl) {
    let ns = kc.ns.clone();
    kc.k.ok(&["create", "namespace", &ns]);

    // create -f: typed validation through OpenAPI, no flags.
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n";
    let out = kc.stdin_ok(&["create", "-f", "-"], cm);
    assert!(out.contains("configmap/settings created"), "{out}");

    // Client-side apply: created / unchanged / configured, pruning a removed field, diff.
    let v1 = deployment(1, "nginx:1.14", Some("tier"));
    let out = text(&kc.apply(&v1, &[]));
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let out = text(&kc.apply(&v1, &[]));
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
    let d = kc.json(&["get", "deployment", "web"]);
    assert!(
        d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string(),
        "{d}"
    );
    let v2 = deployment(2, "nginx:1.15", None);
    let diff = kc.stdin(&["diff", "-f", "-"], &v2);
    assert_eq!(diff.status.code(), Some(1), "diff: {}", text(&diff));
    let diff_text = String::from_utf8_lossy(&diff.stdout);
    assert!(
        diff_text.contains("+        image: nginx:1.15"),
        "{diff_text}"
    );
    assert!(diff_text.contains("-    tier: \"yes\""), "{diff_text}");
    let out = text(&kc.apply(&v2, &[]));
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let d = kc.json(&["get", "deployment", "web"]);
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.15"
    );
    assert!(d["metadata"]["labels"].get("tier").is_none(), "pruned: {d}");
    let same = kc.stdin(&["diff", "-f", "-"], &v2);
    assert_eq!(same.status.code(), Some(0), "diff: {}", text(&same));

    // patch: strategic (kubectl's default), merge, json.
    kc.ok(&[
        "patch",
        "deployment",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"main","env":[{"name":"EXTRA","value":"1"}]}]}}}}"#,
    ]);
    let d = kc.json(&["get", "deployment", "web"]);
    let c = &d["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        c.as_array().map(Vec::len),
        Some(2),
        "strategic kept both containers: {c}"
    );
    let env: Vec<&str> = c[0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    // Patch items first, as upstream orders a merge without `$setElementOrder`.
    assert_eq!(env, ["EXTRA", "MODE"]);
    kc.ok(&[
        "patch",
        "configmap",
        "settings",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"b":"2"}}"#,
    ]);
    kc.ok(&[
        "patch",
        "configmap",
        "settings",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/data/a"}]"#,
    ]);
    let c = kc.json(&["get", "configmap", "settings"]);
    assert_eq!(c["data"], serde_json::json!({"b": "2"}));

    // Server-side apply: a conflict, then --force-conflicts.
    let ssa = |replicas: u32| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\ndata:\n  size: \"{replicas}\"\n"
        )
    };
    kc.stdin_ok(
        &["apply", "--server-side", "--field-manager=alice", "-f", "-"],
        &ssa(1),
    );
    let conflict = kc.stdin(
        &["apply", "--server-side", "--field-manager=bob", "-f", "-"],
        &ssa(2),
    );
    assert!(!conflict.status.success());
    let msg = text(&conflict);
    assert!(msg.contains("conflict") && msg.contains("alice"), "{msg}");
    kc.stdin_ok(
        &[
            "apply",
            "--server-side",
            "--field-manager=bob",
            "--force-conflicts",
            "-f",
            "-",
        ],
        &ssa(2),
    );
    let c = kc.json(&["get", "configmap", "owned", "--show-managed-fields"]);
    assert_eq!(c["data"]["size"], "2");
    let managers: Vec<&str> = c["metadata"]["managedFields"]
        .as_array()
        .map(|m| m.iter().filter_map(|e| e["manager"].as_str()).collect())
        .unwrap_or_default();
    assert!(managers.contains(&"bob"), "{c}");

    // edit with a scripted editor.
    let out = kc
        .cmd(&["edit", "configmap", "settings"])
        .env("KUBE_EDITOR", "sed -i s/b:\\ .2./b:\\ edited/")
        .output()
        .unwrap();
    assert!(out.status.success(), "edit: {}", text(&out));
    assert_eq!(
        kc.json(&["get", "configmap", "settings"])["data"]["b"],
        "edited"
    );

    // explain: field docs from OpenAPI.
    let out = kc.ok(&["explain", "deployment.spec.strategy"]);
    assert!(out.contains("DeploymentStrategy"), "{out}");
    assert!(out.contains("rollingUpdate"), "{out}");

    // get in every output form.
    let wide = kc.ok(&["get", "deployment", "-o", "wide"]);
    assert!(
        wide.contains("CONTAINERS") && wide.contains("main,side"),
        "{wide}"
    );
    let yaml = kc.ok(&["get", "configmap", "settings", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: ConfigMap") && yaml.contains("name: settings"),
        "{yaml}"
    );
    let jp = kc.ok(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[*].name}",
    ]);
    assert_eq!(jp, "main side");
    let cc = kc.ok(&[
        "get",
        "configmaps",
        "-o",
        "custom-columns=N:.metadata.name,B:.data.b",
        "--sort-by",
        ".metadata.name",
    ]);
    assert!(
        cc.lines()
            .any(|l| l.starts_with("settings ") && l.trim_end().ends_with(" edited")),
        "{cc}"
    );
    let names = kc.ok(&[
        "get",
        "configmaps",
        "-o",
        "name",
        "--sort-by",
        ".metadata.name",
    ]);
    assert!(
        names.contains("configmap/owned\nconfigmap/settings"),
        "{names}"
    );
    let labels = kc.ok(&["get", "deployment", "--show-labels"]);
    assert!(labels.contains("app=web"), "{labels}");
    let all = kc.ok(&["get", "configmaps", "-A"]);
    assert!(all.contains(&ns) && all.contains("NAMESPACE"), "{all}");
    let mut w = kc
        .cmd(&["get", "configmaps", "-w", "--request-timeout=20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = common::lines_of(&mut w);
    kc.ok(&["create", "configmap", "watched"]);
    let mut saw = false;
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(20)) {
        if line.starts_with("watched") {
            saw = true;
            break;
        }
    }
    let _ = w.kill();
    let _ = w.wait();
    assert!(saw, "kubectl get -w did not show the new ConfigMap");

    // label / annotate / scale.
    kc.ok(&["label", "configmap", "settings", "color=blue"]);
    kc.ok(&["annotate", "configmap", "settings", "note=hi"]);
    let c = kc.json(&["get", "configmap", "settings"]);
    assert_eq!(c["metadata"]["labels"]["color"], "blue");
    assert_eq!(c["metadata"]["annotations"]["note"], "hi");
    kc.ok(&["scale", "deployment", "web", "--replicas=4"]);
    assert_eq!(
        kc.json(&["get", "deployment", "web"])["spec"]["replicas"],
        4
    );

    // --dry-run=server stores nothing; --validate=strict refuses unknown fields.
    let out = kc.ok(&[
        "create",
        "configmap",
        "dry",
        "--dry-run=server",
        "-o",
        "name",
    ]);
    assert!(out.contains("configmap/dry"), "{out}");
    let gone = kc.fails(&["get", "configmap", "dry"]);
    assert!(
        gone.contains("NotFound") || gone.contains("not found"),
        "{gone}"
    );
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\nbogusField: 1\ndata: {}\n";
    let out = kc.stdin(&["create", "--validate=strict", "-f", "-"], bad);
    assert!(
        !out.status.success(),
        "strict validation accepted an unknown field"
    );
    assert!(text(&out).contains("bogusField"), "{}", text(&out));

    // delete --wait.
    let out = kc.ok(&["delete", "deployment", "web", "--wait"]);
    assert!(out.contains("deleted"), "{out}");
    kc.fails(&["get", "deployment", "web"]);
}

#[test]
fn every_kubectl_runs_the_daily_scenario() {
    let k = K3rs::start(None);
    for (name, bin) in kubectls() {
        eprintln!("kubectl {name}: {}", bin.display());
        let kc = Kubectl {
            k: &k,
            bin,
            ns: format!("kubectl-{name}"),
            name,
        };
        scenario(&kc);
    }
}
