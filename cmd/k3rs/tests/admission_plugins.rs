//! Admission plugins that complete objects from other objects: RuntimeClass (overhead and
//! scheduling), DefaultIngressClass, and StorageObjectInUseProtection with its controllers.
//! Driven with the stock kubectl against a real server.

mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn get_json(k: &common::K3rs, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&k.ok(&a)).unwrap()
}

fn post(k: &common::K3rs, path: &str, body: Value) -> (u16, Value) {
    k.http("POST", path, "application/json", &body.to_string())
}

fn wait(what: &str, f: &dyn Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn pod(name: &str, extra_spec: Value) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}});
    if let (Some(spec), Some(extra)) = (p["spec"].as_object_mut(), extra_spec.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    p
}

#[test]
fn runtime_class_ingress_class_and_storage_protection() {
    let k = common::K3rs::start(None);
    wait("the default service account", &|| {
        !k.err_or_ok(&["get", "sa", "default"]).contains("NotFound")
    });
    let pods = "/api/v1/namespaces/default/pods";

    // RuntimeClass: overhead and scheduling are copied into the pod.
    let (code, v) = post(
        &k,
        "/apis/node.k8s.io/v1/runtimeclasses",
        json!({"metadata": {"name": "kata"}, "handler": "kata",
            "overhead": {"podFixed": {"cpu": "250m", "memory": "64Mi"}},
            "scheduling": {"nodeSelector": {"sandbox": "kata"},
                "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}]}}),
    );
    assert_eq!(code, 201, "{v}");
    let (code, v) = post(&k, pods, pod("rc-pod", json!({"runtimeClassName": "kata"})));
    assert_eq!(code, 201, "{v}");
    let p = get_json(&k, &["pod", "rc-pod"]);
    assert_eq!(
        p["spec"]["overhead"],
        json!({"cpu": "250m", "memory": "64Mi"})
    );
    assert_eq!(p["spec"]["nodeSelector"], json!({"sandbox": "kata"}));
    assert!(
        p["spec"]["tolerations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "sandbox"),
        "{p}"
    );
    // A matching overhead written differently is the same overhead.
    let (code, v) = post(
        &k,
        pods,
        pod(
            "rc-same",
            json!({"runtimeClassName": "kata", "overhead": {"cpu": "0.25", "memory": "65536Ki"}}),
        ),
    );
    assert_eq!(code, 201, "{v}");
    let (code, v) = post(
        &k,
        pods,
        pod(
            "rc-wrong",
            json!({"runtimeClassName": "kata", "overhead": {"cpu": "1"}}),
        ),
    );
    assert_eq!(code, 403, "{v}");
    assert_eq!(
        v["message"],
        "pods \"rc-wrong\" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"
    );
    let (code, v) = post(&k, pods, pod("rc-none", json!({"overhead": {"cpu": "1"}})));
    assert_eq!(code, 403, "{v}");
    assert!(
        v["message"].as_str().unwrap().ends_with(
            "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"
        ),
        "{v}"
    );
    let out = k.err_or_ok(&[
        "run",
        "rc-missing",
        "--image=registry.k8s.io/pause:3.10",
        "--overrides",
        r#"{"spec": {"runtimeClassName": "nope"}}"#,
    ]);
    assert!(
        out.contains(
            "pods \"rc-missing\" is forbidden: pod rejected: RuntimeClass \"nope\" not found"
        ),
        "{out}"
    );
    let (code, v) = post(
        &k,
        pods,
        pod(
            "rc-conflict",
            json!({"runtimeClassName": "kata", "nodeSelector": {"sandbox": "gvisor"}}),
        ),
    );
    assert_eq!(code, 403, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains(
            "conflict: runtimeClass.scheduling.nodeSelector[sandbox] = kata; pod.spec.nodeSelector[sandbox] = gvisor"
        ),
        "{v}"
    );

    // DefaultIngressClass: the newest default class is filled in; an explicit class stays.
    for (name, default) in [("old", true), ("plain", false), ("new", true)] {
        let (code, v) = post(
            &k,
            "/apis/networking.k8s.io/v1/ingressclasses",
            json!({"metadata": {"name": name, "annotations": {"ingressclass.kubernetes.io/is-default-class": default.to_string()}},
                "spec": {"controller": "example.com/ingress"}}),
        );
        assert_eq!(code, 201, "{v}");
        // Creation timestamps have one-second resolution.
        std::thread::sleep(Duration::from_millis(1100));
    }
    let ing = |name: &str, class: Option<&str>| {
        let mut i = json!({"metadata": {"name": name}, "spec": {"defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}}});
        if let Some(c) = class {
            i["spec"]["ingressClassName"] = json!(c);
        }
        post(
            &k,
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
            i,
        )
    };
    let (code, v) = ing("defaulted", None);
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["spec"]["ingressClassName"], "new");
    let (code, v) = ing("explicit", Some("plain"));
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["spec"]["ingressClassName"], "plain");

    // StorageObjectInUseProtection: a claim used by a scheduled pod outlives its deletion
    // until the pod is gone; a volume waits while Bound.
    let (code, v) = post(
        &k,
        "/api/v1/namespaces/default/persistentvolumeclaims",
        json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(
        v["metadata"]["finalizers"],
        json!(["kubernetes.io/pvc-protection"])
    );
    let (code, v) = post(
        &k,
        pods,
        pod(
            "user",
            json!({"nodeName": "node-a", "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}),
        ),
    );
    assert_eq!(code, 201, "{v}");
    k.ok(&["delete", "pvc", "data", "--wait=false"]);
    std::thread::sleep(Duration::from_secs(3));
    let pvc = get_json(&k, &["pvc", "data"]);
    assert!(pvc["metadata"]["deletionTimestamp"].is_string(), "{pvc}");
    k.ok(&["delete", "pod", "user", "--grace-period=0", "--force"]);
    wait("the claim once its pod is gone", &|| {
        k.err_or_ok(&["get", "pvc", "data"]).contains("NotFound")
    });

    let (code, v) = post(
        &k,
        "/api/v1/persistentvolumes",
        json!({"metadata": {"name": "vol"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/vol"}}}),
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(
        v["metadata"]["finalizers"],
        json!(["kubernetes.io/pv-protection"])
    );
    k.ok(&[
        "patch",
        "pv",
        "vol",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status": {"phase": "Bound"}}"#,
    ]);
    k.ok(&["delete", "pv", "vol", "--wait=false"]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(get_json(&k, &["pv", "vol"])["metadata"]["deletionTimestamp"].is_string());
    k.ok(&[
        "patch",
        "pv",
        "vol",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status": {"phase": "Released"}}"#,
    ]);
    wait("the volume once no longer bound", &|| {
        k.err_or_ok(&["get", "pv", "vol"]).contains("NotFound")
    });
}
