//! The ReplicaSet / ReplicationController controller with the garbage collector, driven with
//! the stock kubectl: pods are created to match `replicas`, adopted and released by selector,
//! scaled down, and collected (or orphaned) with their controller. Pods never run here (no
//! agent): the controllers only need them to exist.

mod common;

use std::time::{Duration, Instant};

use serde_json::Value;

fn wait(what: &str, f: &dyn Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn pods(k: &common::K3rs, selector: &str) -> Vec<Value> {
    let v: Value =
        serde_json::from_str(&k.ok(&["get", "pods", "-l", selector, "-o", "json"])).unwrap();
    v["items"].as_array().cloned().unwrap_or_default()
}

fn write(k: &common::K3rs, name: &str, text: &str) -> String {
    let p = k.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn replica_controllers_and_garbage_collection() {
    let k = common::K3rs::start(None);
    wait("the default service account", &|| {
        !k.err_or_ok(&["get", "sa", "default"]).contains("NotFound")
    });
    let rc = write(
        &k,
        "rc.yaml",
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: web\nspec:\n  replicas: 3\n  selector:\n    app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: c\n        image: registry.k8s.io/pause:3.10\n",
    );
    // An orphan that matches is adopted and counts.
    k.ok(&[
        "run",
        "stray",
        "--image=registry.k8s.io/pause:3.10",
        "--labels=app=web",
    ]);
    k.ok(&["create", "-f", &rc]);
    wait("3 pods for the RC", &|| pods(&k, "app=web").len() == 3);
    wait("status.replicas 3", &|| {
        k.ok(&[
            "get",
            "rc",
            "web",
            "-o",
            "jsonpath={.status.replicas}/{.status.observedGeneration}",
        ]) == "3/1"
    });
    let stray: Value = serde_json::from_str(&k.ok(&["get", "pod", "stray", "-o", "json"])).unwrap();
    assert_eq!(
        stray["metadata"]["ownerReferences"][0]["kind"],
        "ReplicationController"
    );
    assert_eq!(stray["metadata"]["ownerReferences"][0]["controller"], true);
    for p in pods(&k, "app=web") {
        assert!(p["metadata"]["ownerReferences"][0]["name"] == "web", "{p}");
    }
    // Scale down; a relabelled pod is released and replaced.
    k.ok(&["scale", "rc", "web", "--replicas=2"]);
    wait("2 pods after scaling down", &|| {
        pods(&k, "app=web").len() == 2
    });
    let victim = pods(&k, "app=web")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    k.ok(&["label", "pod", &victim, "app=other", "--overwrite"]);
    wait("a replacement for the released pod", &|| {
        pods(&k, "app=web").len() == 2
    });
    wait("the released pod has no controller", &|| {
        k.ok(&[
            "get",
            "pod",
            &victim,
            "-o",
            "jsonpath={.metadata.ownerReferences}",
        ])
        .is_empty()
    });
    // Orphan: the pods stay, without the reference.
    k.ok(&["delete", "rc", "web", "--cascade=orphan"]);
    wait("orphaned pods lose their controller", &|| {
        pods(&k, "app=web")
            .iter()
            .all(|p| p["metadata"]["ownerReferences"].is_null())
    });
    assert_eq!(pods(&k, "app=web").len(), 2);

    // A ReplicaSet adopts them; deleting it in the background takes them along.
    let rs = write(
        &k,
        "rs.yaml",
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: c\n        image: registry.k8s.io/pause:3.10\n",
    );
    k.ok(&["create", "-f", &rs]);
    wait("the ReplicaSet adopts the 2 orphans", &|| {
        pods(&k, "app=web")
            .iter()
            .all(|p| p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet")
    });
    assert_eq!(pods(&k, "app=web").len(), 2);
    k.ok(&["delete", "rs", "web"]);
    wait("pods collected with their ReplicaSet", &|| {
        pods(&k, "app=web").is_empty()
    });
}
