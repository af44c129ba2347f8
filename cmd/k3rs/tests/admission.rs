//! The built-in admission plugins end to end against a real `k3rs server`, driven with the stock
//! kubectl and curl: NamespaceLifecycle (missing, terminating and immortal namespaces),
//! ServiceAccount (default account, the projected token volume and its opt-outs, pull secrets,
//! mirror pods, mountable secrets), Priority (classes, the global default, the system classes),
//! DefaultTolerationSeconds, DefaultStorageClass, LimitRanger (defaults, container, pod and
//! claim bounds), RuntimeClass and DefaultIngressClass, and that `--disable-admission-plugins` turns them off. Pods do not run (no
//! kubelet): creating them is what admission is about.

mod common;

use std::time::{Duration, Instant};

use common::K3rs;
use serde_json::{json, Value};

/// Polls `f` until it returns true (controllers act asynchronously).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `kubectl create -f` of one object given as JSON; the output (stdout + stderr) and success.
fn create(k: &K3rs, obj: &Value) -> (bool, String) {
    let file = k.dir.path().join(format!(
        "obj-{}.json",
        obj["metadata"]["name"].as_str().unwrap_or("x")
    ));
    std::fs::write(&file, obj.to_string()).unwrap();
    let out = k.kubectl(&["create", "-f", file.to_str().unwrap()]);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn create_ok(k: &K3rs, obj: Value) {
    let (ok, out) = create(k, &obj);
    assert!(ok, "creating {obj}: {out}");
}

/// Creating `obj` fails with a message containing every one of `want`.
fn create_refused(k: &K3rs, obj: Value, want: &[&str]) {
    let (ok, out) = create(k, &obj);
    assert!(!ok, "{obj} should be refused, got: {out}");
    for w in want {
        assert!(out.contains(w), "expected {w:?} in: {out}");
    }
}

fn get_json(k: &K3rs, args: &[&str]) -> Value {
    let mut all = vec!["get", "-o", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&k.ok(&all)).unwrap()
}

fn pod(ns: &str, name: &str, spec: Value) -> Value {
    let mut spec = spec;
    if spec.get("containers").is_none() {
        spec["containers"] = json!([{"name": "c", "image": "busybox"}]);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

fn namespace_with_default_sa(k: &K3rs, ns: &str) {
    k.ok(&["create", "namespace", ns]);
    eventually(&format!("default ServiceAccount in {ns}"), || {
        k.kubectl(&["get", "serviceaccount", "default", "-n", ns])
            .status
            .success()
    });
}

fn namespaces(k: &K3rs) {
    for ns in ["default", "kube-system", "kube-public"] {
        let err = k.err(&["delete", "namespace", ns, "--wait=false"]);
        assert!(
            err.contains(&format!(
                "namespaces \"{ns}\" is forbidden: this namespace may not be deleted"
            )),
            "{err}"
        );
    }
    assert_eq!(
        k.ok(&["get", "ns", "default", "-o", "jsonpath={.status.phase}"]),
        "Active"
    );
    // A missing namespace: 404 before the object's own validation is looked at.
    let (code, body) = k.http(
        "POST",
        "/api/v1/namespaces/nowhere/configmaps",
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"bad key":"v"}}"#,
    );
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["message"], "namespaces \"nowhere\" not found");
    assert_eq!(body["details"]["kind"], "namespaces");
    // Cluster-scoped objects do not care.
    k.ok(&[
        "create",
        "clusterrole",
        "lifecycle-probe",
        "--verb=get",
        "--resource=pods",
    ]);

    // Terminating: creates are refused with upstream's status; updates and deletes still work.
    k.ok(&["create", "namespace", "ending"]);
    let (code, body) = k.http(
        "POST",
        "/api/v1/namespaces/ending/configmaps",
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","finalizers":["example.com/hold"]}}"#,
    );
    assert_eq!(code, 201, "{body}");
    k.ok(&["create", "configmap", "other", "-n", "ending"]);
    k.ok(&["delete", "namespace", "ending", "--wait=false"]);
    let (code, body) = k.http(
        "POST",
        "/api/v1/namespaces/ending/configmaps",
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"late"}}"#,
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(
        body["message"],
        "configmaps \"late\" is forbidden: unable to create new content in namespace ending because it is being terminated"
    );
    assert_eq!(body["details"]["name"], "late");
    assert_eq!(body["details"]["kind"], "configmaps");
    assert_eq!(
        body["details"]["causes"],
        json!([{"reason": "NamespaceTerminating", "message": "namespace ending is being terminated", "field": "metadata.namespace"}])
    );
    // Letting go of the finalizer is an update inside the terminating namespace.
    k.ok(&[
        "patch",
        "configmap",
        "held",
        "-n",
        "ending",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    eventually("namespace ending gone", || {
        !k.kubectl(&["get", "ns", "ending"]).status.success()
    });
}

fn service_accounts(k: &K3rs) {
    namespace_with_default_sa(k, "sa");
    create_refused(
        k,
        pod("sa", "lost", json!({"serviceAccountName": "missing"})),
        &[
            "Forbidden",
            "pods \"lost\" is forbidden: error looking up service account sa/missing: serviceaccount \"missing\" not found",
        ],
    );

    // The default account and its token volume.
    create_ok(
        k,
        pod(
            "sa",
            "plain",
            json!({"initContainers": [{"name": "init", "image": "busybox"}],
                   "containers": [{"name": "a", "image": "busybox"},
                                  {"name": "b", "image": "busybox",
                                   "volumeMounts": [{"name": "own", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}],
                   "volumes": [{"name": "own", "emptyDir": {}}]}),
        ),
    );
    let p = get_json(k, &["pod", "plain", "-n", "sa"]);
    let spec = &p["spec"];
    assert_eq!(spec["serviceAccountName"], "default");
    let vols = spec["volumes"].as_array().unwrap();
    assert_eq!(vols.len(), 2, "{vols:?}");
    let token = &vols[1];
    let vname = token["name"].as_str().unwrap();
    assert!(
        vname.starts_with("kube-api-access-") && vname.len() == "kube-api-access-".len() + 5,
        "{vname}"
    );
    assert_eq!(
        token["projected"],
        json!({"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
        ]})
    );
    let mount = json!([{"name": vname, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]);
    assert_eq!(spec["initContainers"][0]["volumeMounts"], mount);
    assert_eq!(spec["containers"][0]["volumeMounts"], mount);
    // A container with its own mount at the path keeps it.
    assert_eq!(
        spec["containers"][1]["volumeMounts"],
        json!([{"name": "own", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
    );
    // DefaultTolerationSeconds and Priority ran too.
    let tolerations = spec["tolerations"].as_array().unwrap();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        assert!(
            tolerations.contains(&json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})),
            "{tolerations:?}"
        );
    }
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");

    // Opting out: the pod's choice, else the account's.
    create_ok(
        k,
        pod(
            "sa",
            "no-token",
            json!({"automountServiceAccountToken": false}),
        ),
    );
    let p = get_json(k, &["pod", "no-token", "-n", "sa"]);
    assert!(p["spec"].get("volumes").is_none(), "{p}");
    assert!(p["spec"]["containers"][0].get("volumeMounts").is_none());
    create_ok(
        k,
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quiet", "namespace": "sa"},
               "automountServiceAccountToken": false, "imagePullSecrets": [{"name": "regcred"}]}),
    );
    create_ok(
        k,
        pod("sa", "quiet-pod", json!({"serviceAccountName": "quiet"})),
    );
    let p = get_json(k, &["pod", "quiet-pod", "-n", "sa"]);
    assert!(p["spec"].get("volumes").is_none(), "{p}");
    assert_eq!(p["spec"]["imagePullSecrets"], json!([{"name": "regcred"}]));
    create_ok(
        k,
        pod(
            "sa",
            "loud-pod",
            json!({"serviceAccountName": "quiet", "automountServiceAccountToken": true,
                   "imagePullSecrets": [{"name": "mine"}]}),
        ),
    );
    let p = get_json(k, &["pod", "loud-pod", "-n", "sa"]);
    assert_eq!(p["spec"]["volumes"].as_array().unwrap().len(), 1);
    assert_eq!(p["spec"]["imagePullSecrets"], json!([{"name": "mine"}]));

    // Mirror pods are checked, never changed.
    let mirror = |name: &str, spec: Value| {
        let mut p = pod("sa", name, spec);
        p["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "hash"});
        p
    };
    create_refused(
        k,
        mirror("mirror-sa", json!({"serviceAccountName": "default"})),
        &["a mirror pod may not reference service accounts"],
    );
    create_refused(
        k,
        mirror(
            "mirror-secret",
            json!({"volumes": [{"name": "s", "secret": {"secretName": "x"}}]}),
        ),
        &["a mirror pod may not reference secrets"],
    );
    create_ok(k, mirror("mirror-ok", json!({})));
    let p = get_json(k, &["pod", "mirror-ok", "-n", "sa"]);
    assert!(p["spec"].get("serviceAccountName").is_none(), "{p}");
    assert!(p["spec"].get("volumes").is_none(), "{p}");

    // An account that enforces its mountable secrets.
    create_ok(
        k,
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "strict", "namespace": "sa",
                            "annotations": {"kubernetes.io/enforce-mountable-secrets": "true"}},
               "secrets": [{"name": "allowed"}]}),
    );
    create_refused(
        k,
        pod(
            "sa",
            "strict-bad",
            json!({"serviceAccountName": "strict",
                   "volumes": [{"name": "s", "secret": {"secretName": "other"}}]}),
        ),
        &["volume with secret.secretName=\"other\" is not allowed because service account strict does not reference that secret"],
    );
    create_ok(
        k,
        pod(
            "sa",
            "strict-ok",
            json!({"serviceAccountName": "strict",
                   "volumes": [{"name": "s", "secret": {"secretName": "allowed"}}]}),
        ),
    );
    // Own tolerations of the taints are kept; only what is missing is added.
    create_ok(
        k,
        pod(
            "sa",
            "tolerant",
            json!({"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}]}),
        ),
    );
    let p = get_json(k, &["pod", "tolerant", "-n", "sa"]);
    assert_eq!(
        p["spec"]["tolerations"],
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ])
    );
}

fn priority(k: &K3rs) {
    assert_eq!(
        k.ok(&[
            "get",
            "priorityclass",
            "system-node-critical",
            "-o",
            "jsonpath={.value}"
        ]),
        "2000001000"
    );
    assert_eq!(
        k.ok(&[
            "get",
            "priorityclass",
            "system-cluster-critical",
            "-o",
            "jsonpath={.value}"
        ]),
        "2000000000"
    );
    let err = k.err(&["delete", "priorityclass", "system-node-critical"]);
    assert!(
        err.contains("priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted"),
        "{err}"
    );
    create_refused(
        k,
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "system-mine"}, "value": 10}),
        &["priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"],
    );
    create_refused(
        k,
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "too-high"}, "value": 1000000001}),
        &["maximum allowed value of a user defined priority is 1000000000"],
    );
    create_ok(
        k,
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"},
               "value": 1000, "preemptionPolicy": "Never"}),
    );
    namespace_with_default_sa(k, "prio");
    create_ok(
        k,
        pod("prio", "high-pod", json!({"priorityClassName": "high"})),
    );
    let p = get_json(k, &["pod", "high-pod", "-n", "prio"]);
    assert_eq!(p["spec"]["priority"], 1000);
    assert_eq!(p["spec"]["preemptionPolicy"], "Never");
    create_refused(
        k,
        pod("prio", "unknown", json!({"priorityClassName": "nope"})),
        &["pods \"unknown\" is forbidden: no PriorityClass with name nope was found"],
    );
    create_refused(
        k,
        pod("prio", "own-number", json!({"priorityClassName": "high", "priority": 5})),
        &["the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name"],
    );
    create_refused(
        k,
        pod("prio", "own-policy", json!({"priorityClassName": "high", "preemptionPolicy": "PreemptLowerPriority"})),
        &["the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in pod spec; priority admission controller computed Never from the given PriorityClass name"],
    );
    // The system classes can be used in any namespace (no kube-system restriction in 1.35).
    create_ok(
        k,
        pod(
            "prio",
            "critical",
            json!({"priorityClassName": "system-cluster-critical"}),
        ),
    );
    assert_eq!(
        k.ok(&[
            "get",
            "pod",
            "critical",
            "-n",
            "prio",
            "-o",
            "jsonpath={.spec.priority}"
        ]),
        "2000000000"
    );

    // The global default: one at most, used by pods that name no class.
    create_ok(
        k,
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "everyone"},
               "value": 50, "globalDefault": true}),
    );
    create_refused(
        k,
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "second"},
               "value": 60, "globalDefault": true}),
        &["PriorityClass everyone is already marked as default. Only one default can exist"],
    );
    let err = k.err(&[
        "patch",
        "priorityclass",
        "high",
        "--type=merge",
        "-p",
        r#"{"globalDefault":true}"#,
    ]);
    assert!(
        err.contains("PriorityClass everyone is already marked as default"),
        "{err}"
    );
    // The default itself may be updated.
    k.ok(&["label", "priorityclass", "everyone", "touched=yes"]);
    create_ok(k, pod("prio", "defaulted", json!({})));
    let p = get_json(k, &["pod", "defaulted", "-n", "prio"]);
    assert_eq!(p["spec"]["priorityClassName"], "everyone");
    assert_eq!(p["spec"]["priority"], 50);
    assert_eq!(p["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    // An update that leaves the resolved priority out keeps it.
    let mut replaced = p.clone();
    replaced["spec"].as_object_mut().unwrap().remove("priority");
    replaced["metadata"]["labels"] = json!({"replaced": "yes"});
    let file = k.dir.path().join("replace.json");
    std::fs::write(&file, replaced.to_string()).unwrap();
    k.ok(&["replace", "-f", file.to_str().unwrap()]);
    assert_eq!(
        k.ok(&[
            "get",
            "pod",
            "defaulted",
            "-n",
            "prio",
            "-o",
            "jsonpath={.spec.priority}"
        ]),
        "50"
    );
    k.ok(&["delete", "priorityclass", "everyone"]);
}

fn storage_classes(k: &K3rs) {
    namespace_with_default_sa(k, "storage");
    let claim = |name: &str, class: Option<&str>| {
        let mut c = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "storage"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
        if let Some(cl) = class {
            c["spec"]["storageClassName"] = json!(cl);
        }
        c
    };
    let class_of = |name: &str| {
        k.ok(&[
            "get",
            "pvc",
            name,
            "-n",
            "storage",
            "-o",
            "jsonpath={.spec.storageClassName}",
        ])
    };
    create_ok(k, claim("before", None));
    assert_eq!(class_of("before"), "");
    let sc = |name: &str, default: bool| {
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": name, "annotations": {"storageclass.kubernetes.io/is-default-class": default.to_string()}},
               "provisioner": "example.com/none"})
    };
    create_ok(k, sc("not-default", false));
    create_ok(k, sc("standard", true));
    create_ok(k, claim("after", None));
    assert_eq!(class_of("after"), "standard");
    create_ok(k, claim("explicit-none", Some("")));
    assert_eq!(
        get_json(k, &["pvc", "explicit-none", "-n", "storage"])["spec"]["storageClassName"],
        ""
    );
    create_ok(k, claim("explicit", Some("not-default")));
    assert_eq!(class_of("explicit"), "not-default");
    // With two defaults the newer one wins (creation timestamps have one-second resolution).
    std::thread::sleep(Duration::from_millis(1100));
    create_ok(k, sc("another", true));
    create_ok(k, claim("two-defaults", None));
    assert_eq!(class_of("two-defaults"), "another");
}

fn limit_ranges(k: &K3rs) {
    namespace_with_default_sa(k, "limits");
    // Invalid ranges are refused by validation.
    create_refused(
        k,
        json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "bad", "namespace": "limits"},
               "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}}),
        &["min value 2 is greater than max value 1"],
    );
    create_ok(
        k,
        json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "bounds", "namespace": "limits"},
               "spec": {"limits": [
                   {"type": "Container",
                    "min": {"cpu": "50m", "memory": "100Mi"}, "max": {"cpu": "500m", "memory": "500Mi"},
                    "default": {"cpu": "500m", "memory": "500Mi"}, "defaultRequest": {"cpu": "100m", "memory": "200Mi"}},
                   {"type": "Pod", "max": {"cpu": "800m"}},
                   {"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}}]}}),
    );
    create_ok(k, pod("limits", "no-resources", json!({})));
    let p = get_json(k, &["pod", "no-resources", "-n", "limits"]);
    assert_eq!(
        p["spec"]["containers"][0]["resources"],
        json!({"requests": {"cpu": "100m", "memory": "200Mi"}, "limits": {"cpu": "500m", "memory": "500Mi"}})
    );
    assert_eq!(
        p["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c"
    );
    // A limit without a request: the request follows the limit (pod defaulting), the missing
    // limit comes from the range.
    create_ok(
        k,
        pod(
            "limits",
            "partial",
            json!({"containers": [{"name": "c", "image": "busybox",
                   "resources": {"requests": {"memory": "150Mi"}, "limits": {"cpu": "300m"}}}]}),
        ),
    );
    let p = get_json(k, &["pod", "partial", "-n", "limits"]);
    assert_eq!(
        p["spec"]["containers"][0]["resources"],
        json!({"requests": {"cpu": "300m", "memory": "150Mi"}, "limits": {"cpu": "300m", "memory": "500Mi"}})
    );
    let sized = |name: &str, member: &str, cpu: &str, mem: &str| {
        pod(
            "limits",
            name,
            json!({"containers": [{"name": "c", "image": "busybox",
                   "resources": {member: {"cpu": cpu, "memory": mem}}}]}),
        )
    };
    create_refused(
        k,
        sized("too-small", "requests", "10m", "50Mi"),
        &[
            "Forbidden",
            "pods \"too-small\" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, minimum memory usage per Container is 100Mi, but request is 50Mi]",
        ],
    );
    create_refused(
        k,
        sized("too-big", "limits", "600m", "600Mi"),
        &["pods \"too-big\" is forbidden: [maximum cpu usage per Container is 500m, but limit is 600m, maximum memory usage per Container is 500Mi, but limit is 600Mi]"],
    );
    // Each container fits, the pod does not.
    create_refused(
        k,
        pod(
            "limits",
            "too-many",
            json!({"containers": [{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}]}),
        ),
        &["pods \"too-many\" is forbidden: maximum cpu usage per Pod is 800m, but limit is 1"],
    );
    let claim = |name: &str, size: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "limits"},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}})
    };
    create_refused(
        k,
        claim("big-claim", "2Gi"),
        &["persistentvolumeclaims \"big-claim\" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi"],
    );
    create_ok(k, claim("small-claim", "512Mi"));
    // Changing the range changes what is admitted next.
    k.ok(&["delete", "limitrange", "bounds", "-n", "limits"]);
    create_ok(k, sized("too-big", "limits", "600m", "600Mi"));
}

fn runtime_and_ingress_classes(k: &K3rs) {
    namespace_with_default_sa(k, "classes");
    create_ok(
        k,
        json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "sandboxed"},
               "handler": "runsc", "overhead": {"podFixed": {"cpu": "250m", "memory": "64Mi"}},
               "scheduling": {"nodeSelector": {"sandbox": "yes"},
                              "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}]}}),
    );
    create_refused(
        k,
        pod("classes", "no-class", json!({"runtimeClassName": "nope"})),
        &["pods \"no-class\" is forbidden: pod rejected: RuntimeClass \"nope\" not found"],
    );
    create_ok(
        k,
        pod(
            "classes",
            "sandboxed",
            json!({"runtimeClassName": "sandboxed", "nodeSelector": {"disk": "ssd"}}),
        ),
    );
    let p = get_json(k, &["pod", "sandboxed", "-n", "classes"]);
    assert_eq!(
        p["spec"]["overhead"],
        json!({"cpu": "250m", "memory": "64Mi"})
    );
    assert_eq!(
        p["spec"]["nodeSelector"],
        json!({"disk": "ssd", "sandbox": "yes"})
    );
    assert!(
        p["spec"]["tolerations"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"})),
        "{p}"
    );
    create_refused(
        k,
        pod(
            "classes",
            "conflict",
            json!({"runtimeClassName": "sandboxed", "nodeSelector": {"sandbox": "no"}}),
        ),
        &["conflict: runtimeClass.scheduling.nodeSelector[sandbox] = yes; pod.spec.nodeSelector[sandbox] = no"],
    );
    create_refused(
        k,
        pod(
            "classes",
            "other-overhead",
            json!({"runtimeClassName": "sandboxed", "overhead": {"cpu": "1"}}),
        ),
        &["pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"],
    );
    create_refused(
        k,
        pod("classes", "own-overhead", json!({"overhead": {"cpu": "1"}})),
        &["pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"],
    );

    let ingress = |name: &str| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": "classes"},
               "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}})
    };
    create_ok(k, ingress("before"));
    create_ok(
        k,
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
               "metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
               "spec": {"controller": "example.com/ingress"}}),
    );
    create_ok(k, ingress("after"));
    let class_of = |name: &str| {
        k.ok(&[
            "get",
            "ingress",
            name,
            "-n",
            "classes",
            "-o",
            "jsonpath={.spec.ingressClassName}",
        ])
    };
    assert_eq!(class_of("before"), "");
    assert_eq!(class_of("after"), "nginx");
}

fn everything_can_be_switched_off() {
    let k = K3rs::start_with(
        None,
        &[
            "--disable-admission-plugins",
            "NamespaceLifecycle,ServiceAccount,Priority,DefaultTolerationSeconds,LimitRanger,DefaultStorageClass,RuntimeClass,DefaultIngressClass",
        ],
    );
    // No namespace needed, no service account, nothing added.
    let (code, body) = k.http(
        "POST",
        "/api/v1/namespaces/ghost/pods",
        "application/json",
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bare"},"spec":{"runtimeClassName":"nope","containers":[{"name":"c","image":"busybox"}]}}"#,
    );
    assert_eq!(code, 201, "{body}");
    let spec = &body["spec"];
    for absent in [
        "serviceAccountName",
        "volumes",
        "tolerations",
        "priority",
        "preemptionPolicy",
    ] {
        assert!(spec.get(absent).is_none(), "{absent} set: {spec}");
    }
    k.ok(&["delete", "namespace", "kube-public", "--wait=false"]);
}

#[test]
fn builtin_admission_plugins() {
    let k = K3rs::start(None);
    namespaces(&k);
    service_accounts(&k);
    priority(&k);
    storage_classes(&k);
    limit_ranges(&k);
    runtime_and_ingress_classes(&k);
    drop(k);
    everything_can_be_switched_off();
}
