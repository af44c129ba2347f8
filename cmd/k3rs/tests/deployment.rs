//! The Deployment controller with the ReplicaSet controller and the garbage collector, driven
//! with the stock kubectl. Pods never become ready here (no agent), so rollouts stop where
//! upstream's stop with unready pods: the new ReplicaSet grows by maxSurge, the old one shrinks
//! only as far as maxUnavailable allows.

mod common;

use serde_json::Value;

use k3rs_controllers::deployment::hash::compute_hash;

fn json_of(k: &common::K3rs, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&k.ok(&a)).expect("kubectl json")
}

fn items(k: &common::K3rs, kind: &str, selector: &str) -> Vec<Value> {
    json_of(k, &["get", kind, "-l", selector])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The ReplicaSets of `app=<app>`, oldest revision first.
fn replica_sets(k: &common::K3rs, app: &str) -> Vec<Value> {
    let mut rs = items(k, "rs", &format!("app={app}"));
    rs.sort_by_key(revision);
    rs
}

fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn replicas(rs: &Value) -> i64 {
    rs["spec"]["replicas"].as_i64().unwrap_or(-1)
}

fn condition(d: &Value, type_: &str) -> Value {
    d["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .cloned()
        .unwrap_or(Value::Null)
}

fn deployment(name: &str, replicas: u32, strategy: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  annotations:\n    team: blue\nspec:\n  replicas: {replicas}\n  strategy:\n    type: {strategy}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: c\n        image: {image}\n"
    )
}

#[test]
fn deployments_roll_out_scale_pause_and_are_collected() {
    let k = common::K3rs::start(None);
    common::eventually_some("the default service account", || {
        (!k.err_or_ok(&["get", "sa", "default"]).contains("NotFound")).then_some(())
    });
    let web = common::write(
        &k,
        "web.yaml",
        &deployment("web", 4, "RollingUpdate", "registry.k8s.io/pause:3.10"),
    );
    k.ok(&["create", "-f", &web]);

    // The first ReplicaSet: hash label and selector, controller reference, annotations.
    let d = json_of(&k, &["get", "deploy", "web"]);
    let rs = common::eventually_some("the first ReplicaSet", || {
        replica_sets(&k, "web").into_iter().next()
    });
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .expect("hash label")
        .to_string();
    assert_eq!(hash, compute_hash(&d["spec"]["template"], None));
    assert_eq!(rs["metadata"]["name"], format!("web-{hash}"));
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"],
        serde_json::json!({"app": "web", "pod-template-hash": hash})
    );
    assert_eq!(
        rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"],
        hash
    );
    let owner = &rs["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Deployment");
    assert_eq!(owner["name"], "web");
    assert_eq!(owner["uid"], d["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    assert_eq!(owner["blockOwnerDeletion"], true);
    let ann = &rs["metadata"]["annotations"];
    assert_eq!(ann["deployment.kubernetes.io/revision"], "1");
    assert_eq!(ann["deployment.kubernetes.io/desired-replicas"], "4");
    // 4 replicas, maxSurge 25% rounds up to 1.
    assert_eq!(ann["deployment.kubernetes.io/max-replicas"], "5");
    assert_eq!(
        ann["team"], "blue",
        "the Deployment's annotations are copied"
    );
    assert_eq!(replicas(&rs), 4);

    // Its pods exist (Pending: nothing runs them).
    let pods = common::eventually_some("4 pods", || {
        let p = items(&k, "pods", &format!("pod-template-hash={hash}"));
        (p.len() == 4).then_some(p)
    });
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Pending");
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    }

    // The status counts them, none available.
    let d = common::eventually_some("the Deployment's status", || {
        let d = json_of(&k, &["get", "deploy", "web"]);
        (d["status"]["replicas"] == 4
            && condition(&d, "Progressing")["reason"] == "ReplicaSetUpdated")
            .then_some(d)
    });
    let s = &d["status"];
    assert_eq!(s["observedGeneration"], 1);
    assert_eq!(s["updatedReplicas"], 4);
    assert_eq!(s["unavailableReplicas"], 4);
    assert!(s["availableReplicas"].is_null() && s["readyReplicas"].is_null());
    assert_eq!(s["terminatingReplicas"], 0);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let available = condition(&d, "Available");
    assert_eq!(available["status"], "False");
    assert_eq!(available["reason"], "MinimumReplicasUnavailable");
    let progressing = condition(&d, "Progressing");
    assert_eq!(progressing["status"], "True");
    assert_eq!(
        progressing["message"],
        format!("ReplicaSet \"web-{hash}\" is progressing.")
    );

    // Scaling: the one ReplicaSet takes it all, with the new replica annotations.
    k.ok(&["scale", "deploy", "web", "--replicas=6"]);
    common::eventually_some("6 replicas", || {
        let rs = replica_sets(&k, "web");
        (rs.len() == 1
            && replicas(&rs[0]) == 6
            && rs[0]["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "8")
            .then_some(())
    });
    common::eventually_some("6 pods", || {
        (items(&k, "pods", "app=web").len() == 6).then_some(())
    });

    // A new template: a second ReplicaSet, revision 2. With 6 replicas maxSurge is 2 and
    // maxUnavailable 1: the new one grows to 8 - 5, the old one shrinks to 6 - 1 and no further,
    // since no pod becomes available.
    k.ok(&["set", "image", "deploy/web", "c=registry.k8s.io/pause:3.9"]);
    let rss = common::eventually_some("the rollout to stall at 5 old / 3 new", || {
        let rs = replica_sets(&k, "web");
        (rs.len() == 2 && replicas(&rs[0]) == 5 && replicas(&rs[1]) == 3).then_some(rs)
    });
    assert_eq!(revision(&rss[1]), 2);
    assert_eq!(
        rss[1]["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.k8s.io/pause:3.9"
    );
    let d = common::eventually_some("the rollout's status", || {
        let d = json_of(&k, &["get", "deploy", "web"]);
        (d["status"]["observedGeneration"] == 3
            && d["status"]["replicas"] == 8
            && d["status"]["updatedReplicas"] == 3)
            .then_some(d)
    });
    assert_eq!(d["status"]["unavailableReplicas"], 8);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    assert_eq!(
        condition(&d, "Progressing")["message"],
        format!(
            "ReplicaSet \"{}\" is progressing.",
            rss[1]["metadata"]["name"].as_str().unwrap()
        )
    );
    let history = k.ok(&["rollout", "history", "deploy/web"]);
    assert!(
        history.contains("1 ") && history.contains("2 "),
        "{history}"
    );

    // Paused: no new ReplicaSet for a new template, but scaling is shared in proportion
    // (8 → 3 + 1 surge: 5 old and 3 new become 2 and 2).
    k.ok(&["rollout", "pause", "deploy/web"]);
    common::eventually_some("the paused condition", || {
        let d = json_of(&k, &["get", "deploy", "web"]);
        let c = condition(&d, "Progressing");
        (c["reason"] == "DeploymentPaused" && c["status"] == "Unknown").then_some(())
    });
    k.ok(&["set", "image", "deploy/web", "c=registry.k8s.io/pause:3.8"]);
    k.ok(&["scale", "deploy", "web", "--replicas=3"]);
    let rss = common::eventually_some("proportional scaling while paused", || {
        let rs = replica_sets(&k, "web");
        (rs.len() == 2 && replicas(&rs[0]) == 2 && replicas(&rs[1]) == 2).then_some(rs)
    });
    for rs in &rss {
        assert_eq!(
            rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"],
            "3"
        );
    }
    common::eventually_some("the paused Deployment observed", || {
        let d = json_of(&k, &["get", "deploy", "web"]);
        (d["status"]["observedGeneration"] == d["metadata"]["generation"]).then_some(())
    });
    assert_eq!(replica_sets(&k, "web").len(), 2, "no rollout while paused");
    k.ok(&["rollout", "resume", "deploy/web"]);
    let rss = common::eventually_some("the third revision after resuming", || {
        let rs = replica_sets(&k, "web");
        (rs.len() == 3 && revision(&rs[2]) == 3).then_some(rs)
    });
    assert_eq!(
        rss[2]["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.k8s.io/pause:3.8"
    );

    // Recreate: the old ReplicaSet goes to 0 before the new one comes up.
    let rec = common::write(
        &k,
        "rec.yaml",
        &deployment("rec", 2, "Recreate", "registry.k8s.io/pause:3.10"),
    );
    k.ok(&["create", "-f", &rec]);
    common::eventually_some("2 pods for rec", || {
        (items(&k, "pods", "app=rec").len() == 2).then_some(())
    });
    k.ok(&["set", "image", "deploy/rec", "c=registry.k8s.io/pause:3.9"]);
    let rss = common::eventually_some("recreated", || {
        let rs = replica_sets(&k, "rec");
        (rs.len() == 2 && replicas(&rs[0]) == 0 && replicas(&rs[1]) == 2).then_some(rs)
    });
    let new_hash = rss[1]["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap()
        .to_string();
    common::eventually_some("only new pods", || {
        let pods = items(&k, "pods", "app=rec");
        (pods.len() == 2
            && pods
                .iter()
                .all(|p| p["metadata"]["labels"]["pod-template-hash"] == new_hash.as_str()))
        .then_some(())
    });

    // A deadline passes without progress.
    let slow = common::write(
        &k,
        "slow.yaml",
        &deployment("slow", 1, "RollingUpdate", "registry.k8s.io/pause:3.10").replace(
            "  replicas: 1\n",
            "  replicas: 1\n  progressDeadlineSeconds: 1\n",
        ),
    );
    k.ok(&["create", "-f", &slow]);
    common::eventually_some("ProgressDeadlineExceeded", || {
        let d = json_of(&k, &["get", "deploy", "slow"]);
        let c = condition(&d, "Progressing");
        (c["reason"] == "ProgressDeadlineExceeded" && c["status"] == "False").then_some(())
    });
    let out = k.kubectl(&["rollout", "status", "deploy/slow", "--timeout=60s"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exceeded its progress deadline"));

    // Orphaned: the ReplicaSets stay, without their controller; a new Deployment with the same
    // selector adopts them; deleting it takes them along.
    k.ok(&["delete", "deploy", "web", "--cascade=orphan"]);
    common::eventually_some("orphaned ReplicaSets", || {
        let rs = replica_sets(&k, "web");
        (rs.len() == 3
            && rs
                .iter()
                .all(|r| r["metadata"]["ownerReferences"].is_null()))
        .then_some(())
    });
    k.ok(&["create", "-f", &web]);
    let uid = json_of(&k, &["get", "deploy", "web"])["metadata"]["uid"].clone();
    common::eventually_some("adopted ReplicaSets", || {
        let rs = replica_sets(&k, "web");
        rs.iter()
            .all(|r| r["metadata"]["ownerReferences"][0]["uid"] == uid)
            .then_some(())
    });
    k.ok(&["delete", "deploy", "web", "rec"]);
    common::eventually_some("ReplicaSets and pods collected", || {
        (replica_sets(&k, "web").is_empty()
            && replica_sets(&k, "rec").is_empty()
            && items(&k, "pods", "app=web").is_empty()
            && items(&k, "pods", "app=rec").is_empty())
        .then_some(())
    });
}
