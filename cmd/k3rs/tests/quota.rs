//! ResourceQuota end to end against a real `k3rs server`, driven with the stock kubectl: the
//! admission plugin refusing what exceeds a quota (upstream's messages) and charging
//! `status.used` as objects are created, the quota controller computing status and releasing
//! usage after deletes, compute-resource quotas on pods and the BestEffort scope.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::K3rs;
use serde_json::{json, Value};

/// Polls `f` until it returns true (the quota controller works from watches).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `kubectl create -f -` with a JSON object; stdout+stderr and whether it succeeded.
fn create(k: &K3rs, ns: &str, obj: &Value, extra: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig")
        .arg(k.kubeconfig())
        .env("KUBECACHEDIR", k.dir.path().join("kubecache"))
        .args(["-n", ns, "create", "-f", "-"])
        .args(extra);
    let out = common::output_with_stdin(&mut cmd, &obj.to_string(), "kubectl");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn quota(k: &K3rs, ns: &str, name: &str) -> Value {
    serde_json::from_str(&k.ok(&["-n", ns, "get", "resourcequota", name, "-o", "json"]))
        .expect("quota JSON")
}

fn used(k: &K3rs, ns: &str, name: &str, resource: &str) -> Option<String> {
    quota(k, ns, name)["status"]["used"][resource]
        .as_str()
        .map(str::to_string)
}

fn pod(name: &str, requests: Value, limits: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "pause",
                    "resources": {"requests": requests, "limits": limits}}]}})
}

fn new_namespace(k: &K3rs, ns: &str) {
    k.ok(&["create", "namespace", ns]);
    // The namespace's own ConfigMap (root CA) is created by a controller: wait for it so that
    // configmap counts are stable.
    eventually("kube-root-ca.crt published", || {
        k.kubectl(&["-n", ns, "get", "configmap", "kube-root-ca.crt"])
            .status
            .success()
    });
}

#[test]
fn object_count_quota_refuses_and_tracks_creates_and_deletes() {
    let k = K3rs::start(None);
    new_namespace(&k, "q1");
    k.ok(&[
        "-n",
        "q1",
        "create",
        "quota",
        "cm",
        "--hard=configmaps=2,count/secrets=1",
    ]);
    eventually("status computed", || {
        used(&k, "q1", "cm", "configmaps").as_deref() == Some("1")
    });
    let q = quota(&k, "q1", "cm");
    assert_eq!(
        q["status"]["hard"],
        json!({"configmaps": "2", "count/secrets": "1"})
    );
    assert_eq!(q["status"]["used"]["count/secrets"], "0");

    k.ok(&["-n", "q1", "create", "configmap", "a"]);
    // Charged by admission before the create returned.
    assert_eq!(used(&k, "q1", "cm", "configmaps").as_deref(), Some("2"));

    let err = k.err(&["-n", "q1", "create", "configmap", "b"]);
    assert!(
        err.contains(
            "configmaps \"b\" is forbidden: exceeded quota: cm, requested: configmaps=1, used: configmaps=2, limited: configmaps=2"
        ),
        "{err}"
    );
    // A dry run is checked but charges nothing.
    let err = k.err(&["-n", "q1", "create", "configmap", "b", "--dry-run=server"]);
    assert!(err.contains("exceeded quota: cm"), "{err}");
    k.ok(&["-n", "q1", "create", "secret", "generic", "s1"]);
    let err = k.err(&["-n", "q1", "create", "secret", "generic", "s2"]);
    assert!(
        err.contains(
            "secrets \"s2\" is forbidden: exceeded quota: cm, requested: count/secrets=1, used: count/secrets=1, limited: count/secrets=1"
        ),
        "{err}"
    );

    // Deleting releases usage (the controller recounts), and the create then fits.
    k.ok(&["-n", "q1", "delete", "configmap", "a"]);
    eventually("usage released after delete", || {
        used(&k, "q1", "cm", "configmaps").as_deref() == Some("1")
    });
    k.ok(&["-n", "q1", "create", "configmap", "b"]);
    assert_eq!(used(&k, "q1", "cm", "configmaps").as_deref(), Some("2"));

    // Raising the limit is seen at once by the controller, which copies it to status.hard.
    k.ok(&[
        "-n",
        "q1",
        "patch",
        "resourcequota",
        "cm",
        "--type=merge",
        "-p",
        r#"{"spec":{"hard":{"configmaps":"5"}}}"#,
    ]);
    eventually("status.hard follows spec.hard", || {
        quota(&k, "q1", "cm")["status"]["hard"]["configmaps"] == "5"
    });
    k.ok(&["-n", "q1", "create", "configmap", "c"]);
    // Another namespace is not limited.
    new_namespace(&k, "free");
    for i in 0..3 {
        k.ok(&["-n", "free", "create", "configmap", &format!("x{i}")]);
    }
}

#[test]
fn compute_quota_on_pods_and_best_effort_scope() {
    let k = K3rs::start(None);
    k.ok(&["create", "namespace", "q2"]);
    k.ok(&[
        "-n",
        "q2",
        "create",
        "quota",
        "compute",
        "--hard=requests.cpu=1,limits.memory=1Gi,pods=5",
    ]);
    eventually("status computed", || {
        used(&k, "q2", "compute", "requests.cpu").as_deref() == Some("0")
    });

    let (ok, out) = create(&k, "q2", &pod("nocpu", json!({}), json!({})), &[]);
    assert!(!ok);
    assert!(
        out.contains("pods \"nocpu\" is forbidden: failed quota: compute: must specify limits.memory for: c; requests.cpu for: c"),
        "{out}"
    );
    let (ok, out) = create(
        &k,
        "q2",
        &pod("p1", json!({"cpu": "600m"}), json!({"memory": "512Mi"})),
        &[],
    );
    assert!(ok, "{out}");
    assert_eq!(
        used(&k, "q2", "compute", "requests.cpu").as_deref(),
        Some("600m")
    );
    assert_eq!(
        used(&k, "q2", "compute", "limits.memory").as_deref(),
        Some("512Mi")
    );
    assert_eq!(used(&k, "q2", "compute", "pods").as_deref(), Some("1"));
    let (ok, out) = create(
        &k,
        "q2",
        &pod("p2", json!({"cpu": "500m"}), json!({"memory": "256Mi"})),
        &[],
    );
    assert!(!ok);
    assert!(
        out.contains("pods \"p2\" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1"),
        "{out}"
    );
    k.ok(&[
        "-n",
        "q2",
        "delete",
        "pod",
        "p1",
        "--grace-period=0",
        "--force",
    ]);
    eventually("pod usage released", || {
        used(&k, "q2", "compute", "requests.cpu").as_deref() == Some("0")
    });

    // BestEffort: only pods without cpu/memory requests and limits count.
    k.ok(&["create", "namespace", "q3"]);
    let be = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "be"},
                    "spec": {"hard": {"pods": "1"}, "scopes": ["BestEffort"]}});
    let (ok, out) = create(&k, "q3", &be, &[]);
    assert!(ok, "{out}");
    eventually("status computed", || {
        used(&k, "q3", "be", "pods").as_deref() == Some("0")
    });
    let (ok, out) = create(&k, "q3", &pod("best1", json!({}), json!({})), &[]);
    assert!(ok, "{out}");
    assert_eq!(used(&k, "q3", "be", "pods").as_deref(), Some("1"));
    // Burstable pods are outside the scope: they neither count nor are limited.
    for name in ["burst1", "burst2"] {
        let (ok, out) = create(&k, "q3", &pod(name, json!({"cpu": "100m"}), json!({})), &[]);
        assert!(ok, "{out}");
    }
    assert_eq!(used(&k, "q3", "be", "pods").as_deref(), Some("1"));
    let (ok, out) = create(&k, "q3", &pod("best2", json!({}), json!({})), &[]);
    assert!(!ok);
    assert!(
        out.contains("pods \"best2\" is forbidden: exceeded quota: be, requested: pods=1, used: pods=1, limited: pods=1"),
        "{out}"
    );
}
