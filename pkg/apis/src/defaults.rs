//! Defaulting, as upstream Kubernetes v1.35 applies it when decoding a request
//! (`pkg/apis/core/v1/defaults.go`, `apps/v1`, `batch/v1`, `rbac/v1` and their generated
//! `zz_generated.defaults.go`), plus the few create-time normalisations upstream's REST strategies
//! do before validation (Secret `stringData` folded into `data`, Service `clusterIP`/`clusterIPs`
//! kept in sync, a new Namespace's `kubernetes` finalizer).
//!
//! Defaulting only fills fields that are absent (or `null`, or Go's zero value where upstream
//! tests for it); it never overwrites what the client sent and never fails: members of the wrong
//! JSON type are left alone for validation to report.
//!
//! ```
//! let mut pod = serde_json::json!({
//!     "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
//!     "spec": {"containers": [{"name": "app", "image": "nginx"}]}
//! });
//! k3rs_apis::defaults::apply_defaults("", "Pod", &mut pod);
//! assert_eq!(pod["spec"]["restartPolicy"], "Always");
//! assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
//! ```

use serde_json::{json, Map, Value};

use crate::validation::encode_base64;

/// Applies upstream's defaulting for the kind, in place. Unknown kinds are left untouched.
pub fn apply_defaults(group: &str, kind: &str, obj: &mut Value) {
    if !obj.is_object() {
        return;
    }
    match (group, kind) {
        ("", "Pod") => pod(obj),
        ("", "PodTemplate") => {
            if let Some(t) = object_member(obj, "template") {
                pod_template(t);
            }
        }
        ("", "ReplicationController") => replication_controller(obj),
        ("", "Service") => service(obj),
        ("", "Secret") => secret(obj),
        ("", "Namespace") => namespace(obj),
        ("", "Endpoints") => endpoints(obj),
        ("", "PersistentVolume") => persistent_volume(obj),
        ("", "PersistentVolumeClaim") => persistent_volume_claim(obj),
        ("", "LimitRange") => limit_range(obj),
        ("scheduling.k8s.io", "PriorityClass") => {
            default(obj, "preemptionPolicy", json!("PreemptLowerPriority"))
        }
        ("apps", "Deployment") => deployment(obj),
        ("apps", "ReplicaSet") => replica_set(obj),
        ("apps", "StatefulSet") => stateful_set(obj),
        ("apps", "DaemonSet") => daemon_set(obj),
        ("batch", "Job") => job(obj),
        ("batch", "CronJob") => cron_job(obj),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => role_binding(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => custom_resource_definition(obj),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            webhook_configuration(obj, true)
        }
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            webhook_configuration(obj, false)
        }
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicy" | "MutatingAdmissionPolicy",
        ) => admission_policy(obj),
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicyBinding" | "MutatingAdmissionPolicyBinding",
        ) => {
            if let Some(m) = obj.pointer_mut("/spec/matchResources") {
                match_resources(m);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers over `serde_json::Value`.
// ---------------------------------------------------------------------------------------------

/// Whether member `k` counts as unset: absent or null.
fn is_unset(v: &Value, k: &str) -> bool {
    v.get(k).is_none_or(Value::is_null)
}

/// Whether member `k` is unset or Go's zero value for its type ("", 0, false).
fn is_zero(v: &Value, k: &str) -> bool {
    match v.get(k) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::Bool(b)) => !b,
        Some(_) => false,
    }
}

/// Sets member `k` to `value` when it is unset (absent or null).
fn default(v: &mut Value, k: &str, value: Value) {
    if is_unset(v, k) {
        if let Some(m) = v.as_object_mut() {
            m.insert(k.to_string(), value);
        }
    }
}

/// Sets member `k` to `value` when it is unset or Go's zero value.
fn default_zero(v: &mut Value, k: &str, value: Value) {
    if is_zero(v, k) {
        if let Some(m) = v.as_object_mut() {
            m.insert(k.to_string(), value);
        }
    }
}

/// The object member `k`, if it is one.
fn object_member<'a>(v: &'a mut Value, k: &str) -> Option<&'a mut Value> {
    v.get_mut(k).filter(|m| m.is_object())
}

/// The object member `k`, created as `{}` when unset; `None` when it has another type.
fn ensure_object<'a>(v: &'a mut Value, k: &str) -> Option<&'a mut Value> {
    default(v, k, Value::Object(Map::new()));
    object_member(v, k)
}

/// The object elements of array member `k`.
fn items<'a>(v: &'a mut Value, k: &str) -> impl Iterator<Item = &'a mut Value> {
    v.get_mut(k)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(|item| item.is_object())
}

fn str_member<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// Pods and pod templates.
// ---------------------------------------------------------------------------------------------

/// `SetObjectDefaults_Pod`.
fn pod(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    // SetDefaults_Pod: requests default to limits.
    for list in ["containers", "initContainers"] {
        for c in items(spec, list) {
            if let Some(resources) = object_member(c, "resources") {
                let limits = resources.get("limits").and_then(Value::as_object).cloned();
                if let Some(limits) = limits {
                    if let Some(requests) =
                        ensure_object(resources, "requests").and_then(Value::as_object_mut)
                    {
                        for (k, v) in limits {
                            requests.entry(k).or_insert(v);
                        }
                    }
                }
            }
        }
    }
    default(spec, "enableServiceLinks", Value::Bool(true));
    if spec.get("hostNetwork") == Some(&Value::Bool(true)) {
        for list in ["containers", "initContainers"] {
            for c in items(spec, list) {
                for p in items(c, "ports") {
                    if is_zero(p, "hostPort") {
                        if let Some(cp) = p.get("containerPort").cloned() {
                            p["hostPort"] = cp;
                        }
                    }
                }
            }
        }
    }
    pod_spec(spec);
}

/// A `PodTemplateSpec` (`template` of a controller).
fn pod_template(template: &mut Value) {
    if let Some(spec) = ensure_object(template, "spec") {
        pod_spec(spec);
    }
}

/// `SetDefaults_PodSpec` plus the generated defaults for everything nested in a pod spec.
fn pod_spec(spec: &mut Value) {
    default_zero(spec, "dnsPolicy", json!("ClusterFirst"));
    default_zero(spec, "restartPolicy", json!("Always"));
    default(spec, "securityContext", json!({}));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default_zero(spec, "schedulerName", json!("default-scheduler"));
    for v in items(spec, "volumes") {
        volume(v);
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in items(spec, list) {
            container(c);
        }
    }
}

/// `SetDefaults_Volume` and the per-source defaults.
fn volume(v: &mut Value) {
    const SOURCES: [&str; 30] = [
        "hostPath",
        "emptyDir",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "gitRepo",
        "secret",
        "nfs",
        "iscsi",
        "glusterfs",
        "persistentVolumeClaim",
        "rbd",
        "flexVolume",
        "cinder",
        "cephfs",
        "flocker",
        "downwardAPI",
        "fc",
        "azureFile",
        "configMap",
        "vsphereVolume",
        "quobyte",
        "azureDisk",
        "photonPersistentDisk",
        "projected",
        "portworxVolume",
        "scaleIO",
        "storageos",
        "csi",
        "ephemeral",
        "image",
    ];
    if SOURCES.iter().all(|s| is_unset(v, s)) {
        if let Some(m) = v.as_object_mut() {
            m.insert("emptyDir".to_string(), json!({}));
        }
    }
    if let Some(hp) = object_member(v, "hostPath") {
        default(hp, "type", json!(""));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = object_member(v, source) {
            default(s, "defaultMode", json!(420));
        }
    }
    if let Some(d) = object_member(v, "downwardAPI") {
        downward_api_items(d);
    }
    if let Some(p) = object_member(v, "projected") {
        for source in items(p, "sources") {
            if let Some(d) = object_member(source, "downwardAPI") {
                downward_api_items(d);
            }
            if let Some(t) = object_member(source, "serviceAccountToken") {
                default(t, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(s) = object_member(v, "iscsi") {
        default_zero(s, "iscsiInterface", json!("default"));
    }
    if let Some(s) = object_member(v, "rbd") {
        default_zero(s, "pool", json!("rbd"));
        default_zero(s, "user", json!("admin"));
        default_zero(s, "keyring", json!("/etc/ceph/keyring"));
    }
    if let Some(s) = object_member(v, "azureDisk") {
        default(s, "cachingMode", json!("ReadWrite"));
        default(s, "fsType", json!("ext4"));
        default(s, "readOnly", json!(false));
        default(s, "kind", json!("Shared"));
    }
    if let Some(s) = object_member(v, "scaleIO") {
        default_zero(s, "storageMode", json!("ThinProvisioned"));
        default_zero(s, "fsType", json!("xfs"));
    }
    if let Some(e) = object_member(v, "ephemeral") {
        if let Some(spec) =
            object_member(e, "volumeClaimTemplate").and_then(|t| object_member(t, "spec"))
        {
            default(spec, "volumeMode", json!("Filesystem"));
        }
    }
    if let Some(img) = object_member(v, "image") {
        if is_zero(img, "pullPolicy") {
            let policy = pull_policy_for(str_member(img, "reference"));
            img["pullPolicy"] = json!(policy);
        }
    }
}

fn downward_api_items(d: &mut Value) {
    for item in items(d, "items") {
        if let Some(f) = object_member(item, "fieldRef") {
            default_zero(f, "apiVersion", json!("v1"));
        }
    }
}

/// `SetDefaults_Container` plus ports, env, probes and lifecycle handlers.
fn container(c: &mut Value) {
    if is_zero(c, "imagePullPolicy") {
        let policy = pull_policy_for(str_member(c, "image"));
        c["imagePullPolicy"] = json!(policy);
    }
    default_zero(c, "terminationMessagePath", json!("/dev/termination-log"));
    default_zero(c, "terminationMessagePolicy", json!("File"));
    for p in items(c, "ports") {
        default_zero(p, "protocol", json!("TCP"));
    }
    for e in items(c, "env") {
        if let Some(vf) = object_member(e, "valueFrom") {
            if let Some(f) = object_member(vf, "fieldRef") {
                default_zero(f, "apiVersion", json!("v1"));
            }
            if let Some(f) = object_member(vf, "fileKeyRef") {
                default(f, "optional", json!(false));
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = object_member(c, probe) {
            default_zero(p, "timeoutSeconds", json!(1));
            default_zero(p, "periodSeconds", json!(10));
            default_zero(p, "successThreshold", json!(1));
            default_zero(p, "failureThreshold", json!(3));
            if let Some(h) = object_member(p, "httpGet") {
                http_get(h);
            }
            if let Some(g) = object_member(p, "grpc") {
                default(g, "service", json!(""));
            }
        }
    }
    if let Some(l) = object_member(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = object_member(l, hook).and_then(|h| object_member(h, "httpGet")) {
                http_get(h);
            }
        }
    }
}

fn http_get(h: &mut Value) {
    default_zero(h, "path", json!("/"));
    default_zero(h, "scheme", json!("HTTP"));
}

/// `Always` for `:latest` or untagged images, `IfNotPresent` otherwise (upstream
/// `ParseImageName`: a digest without a tag, or an unparsable name, is not "latest").
fn pull_policy_for(image: &str) -> &'static str {
    if image_tag(image).as_deref() == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// The tag of an image reference as upstream resolves it (`latest` when neither tag nor digest
/// is given); `None` when the reference does not parse or carries only a digest.
fn image_tag(image: &str) -> Option<String> {
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return None;
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    // Repository paths are lowercase; the registry host (first component with a dot, colon or
    // "localhost") may not be.
    let path = match repo.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            rest
        }
        _ => repo,
    };
    if repo.is_empty() || path.chars().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    match (tag, digest) {
        (Some(t), _) if !t.is_empty() => Some(t.to_string()),
        (Some(_), _) => None,
        (None, Some(_)) => None,
        (None, None) => Some("latest".to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// core/v1
// ---------------------------------------------------------------------------------------------

fn replication_controller(obj: &mut Value) {
    let template_labels = obj
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
        .cloned();
    if let Some(labels) = template_labels {
        if let Some(spec) = object_member(obj, "spec") {
            if spec
                .get("selector")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
            {
                spec["selector"] = labels.clone();
            }
        }
        if let Some(meta) = ensure_object(obj, "metadata") {
            if meta
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
            {
                meta["labels"] = labels;
            }
        }
    }
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    default(spec, "replicas", json!(1));
    if let Some(t) = object_member(spec, "template") {
        pod_template(t);
    }
}

fn service(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    default_zero(spec, "sessionAffinity", json!("None"));
    match str_member(spec, "sessionAffinity") {
        "None" => {
            if let Some(m) = spec.as_object_mut() {
                m.remove("sessionAffinityConfig");
            }
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 10800}});
            }
        }
        _ => {}
    }
    default_zero(spec, "type", json!("ClusterIP"));
    for p in items(spec, "ports") {
        default_zero(p, "protocol", json!("TCP"));
        if is_zero(p, "targetPort") {
            if let Some(port) = p.get("port").cloned() {
                p["targetPort"] = port;
            }
        }
    }
    let svc_type = str_member(spec, "type").to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let externally_accessible = svc_type == "LoadBalancer"
        || svc_type == "NodePort"
        || (svc_type == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_zero(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&svc_type.as_str()) {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if svc_type == "LoadBalancer" {
        default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    // Strategy normalisation: clusterIP and clusterIPs[0] describe the same address.
    let cluster_ip = str_member(spec, "clusterIP").to_string();
    let first_ip = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .map(str::to_string);
    match first_ip {
        None if !cluster_ip.is_empty() && is_unset(spec, "clusterIPs") => {
            spec["clusterIPs"] = json!([cluster_ip]);
        }
        Some(first) if cluster_ip.is_empty() && is_zero(spec, "clusterIP") => {
            spec["clusterIP"] = json!(first);
        }
        _ => {}
    }

    if svc_type == "LoadBalancer" {
        if let Some(lb) =
            object_member(obj, "status").and_then(|s| object_member(s, "loadBalancer"))
        {
            for ing in items(lb, "ingress") {
                if !str_member(ing, "ip").is_empty() {
                    default(ing, "ipMode", json!("VIP"));
                }
            }
        }
    }
}

fn secret(obj: &mut Value) {
    default_zero(obj, "type", json!("Opaque"));
    // Conversion folds stringData into data (stringData wins) and drops it.
    let string_data = obj.get("stringData").and_then(Value::as_object).cloned();
    let Some(string_data) = string_data else {
        return;
    };
    let all_strings = string_data.values().all(|v| v.is_string() || v.is_null());
    let data_ok = obj.get("data").is_none_or(|d| d.is_null() || d.is_object());
    if !all_strings || !data_ok {
        return; // leave it for validation to report
    }
    if let Some(data) = ensure_object(obj, "data").and_then(Value::as_object_mut) {
        for (k, v) in string_data {
            let text = v.as_str().unwrap_or("");
            data.insert(k, json!(encode_base64(text.as_bytes())));
        }
    }
    if let Some(m) = obj.as_object_mut() {
        m.remove("stringData");
    }
}

fn namespace(obj: &mut Value) {
    let meta = obj.get("metadata").cloned().unwrap_or(Value::Null);
    let name = str_member(&meta, "name").to_string();
    if !name.is_empty() {
        if let Some(labels) = ensure_object(obj, "metadata")
            .and_then(|m| ensure_object(m, "labels"))
            .and_then(Value::as_object_mut)
        {
            labels.insert("kubernetes.io/metadata.name".to_string(), json!(name));
        }
    }
    if let Some(status) = ensure_object(obj, "status") {
        default_zero(status, "phase", json!("Active"));
    }
    // A new namespace gets the `kubernetes` finalizer (upstream does this on create only, so a
    // stored namespace, recognisable by its resourceVersion/uid, is never given it back).
    let is_new = ["resourceVersion", "uid", "creationTimestamp"]
        .iter()
        .all(|f| is_zero(&meta, f));
    if is_new {
        if let Some(spec) = ensure_object(obj, "spec") {
            match spec.get_mut("finalizers") {
                None | Some(Value::Null) => spec["finalizers"] = json!(["kubernetes"]),
                Some(Value::Array(list)) => {
                    if !list.iter().any(|f| f == "kubernetes") {
                        list.push(json!("kubernetes"));
                    }
                }
                Some(_) => {}
            }
        }
    }
}

fn endpoints(obj: &mut Value) {
    for subset in items(obj, "subsets") {
        for p in items(subset, "ports") {
            default_zero(p, "protocol", json!("TCP"));
        }
    }
}

fn persistent_volume(obj: &mut Value) {
    if let Some(spec) = ensure_object(obj, "spec") {
        default_zero(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        default(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = ensure_object(obj, "status") {
        default_zero(status, "phase", json!("Pending"));
    }
}

fn persistent_volume_claim(obj: &mut Value) {
    if let Some(spec) = ensure_object(obj, "spec") {
        default(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = ensure_object(obj, "status") {
        default_zero(status, "phase", json!("Pending"));
    }
}

/// `SetDefaults_LimitRangeItem`: a Container item's default limit falls back to its max, its
/// default request to the default limit, then to its min.
fn limit_range(obj: &mut Value) {
    let Some(spec) = object_member(obj, "spec") else {
        return;
    };
    for item in items(spec, "limits") {
        if str_member(item, "type") != "Container" {
            continue;
        }
        let resources = |item: &Value, k: &str| -> Map<String, Value> {
            item.get(k)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let (max, min) = (resources(item, "max"), resources(item, "min"));
        let mut limit = resources(item, "default");
        for (k, v) in &max {
            limit.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut request = resources(item, "defaultRequest");
        for (k, v) in limit.iter().chain(&min) {
            request.entry(k.clone()).or_insert_with(|| v.clone());
        }
        if let Some(m) = item.as_object_mut() {
            if !limit.is_empty() {
                m.insert("default".into(), Value::Object(limit));
            }
            if !request.is_empty() {
                m.insert("defaultRequest".into(), Value::Object(request));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// apps/v1
// ---------------------------------------------------------------------------------------------

fn controller_template(spec: &mut Value) {
    if let Some(t) = ensure_object(spec, "template") {
        pod_template(t);
    }
}

fn deployment(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    default(spec, "replicas", json!(1));
    if let Some(strategy) = ensure_object(spec, "strategy") {
        default_zero(strategy, "type", json!("RollingUpdate"));
        if str_member(strategy, "type") == "RollingUpdate" {
            if let Some(ru) = ensure_object(strategy, "rollingUpdate") {
                default(ru, "maxUnavailable", json!("25%"));
                default(ru, "maxSurge", json!("25%"));
            }
        }
    }
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    controller_template(spec);
}

fn replica_set(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    default(spec, "replicas", json!(1));
    controller_template(spec);
}

fn stateful_set(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    default_zero(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = ensure_object(spec, "updateStrategy") {
        if is_zero(strategy, "type") {
            strategy["type"] = json!("RollingUpdate");
            default(strategy, "rollingUpdate", json!({}));
        }
        if str_member(strategy, "type") == "RollingUpdate" {
            if let Some(ru) = object_member(strategy, "rollingUpdate") {
                default(ru, "partition", json!(0));
            }
        }
    }
    if let Some(policy) = ensure_object(spec, "persistentVolumeClaimRetentionPolicy") {
        default_zero(policy, "whenDeleted", json!("Retain"));
        default_zero(policy, "whenScaled", json!("Retain"));
    }
    default(spec, "replicas", json!(1));
    default(spec, "revisionHistoryLimit", json!(10));
    for pvc in items(spec, "volumeClaimTemplates") {
        if let Some(s) = ensure_object(pvc, "spec") {
            default(s, "volumeMode", json!("Filesystem"));
        }
        if let Some(s) = ensure_object(pvc, "status") {
            default_zero(s, "phase", json!("Pending"));
        }
    }
    controller_template(spec);
}

fn daemon_set(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    if let Some(strategy) = ensure_object(spec, "updateStrategy") {
        default_zero(strategy, "type", json!("RollingUpdate"));
        if str_member(strategy, "type") == "RollingUpdate" {
            if let Some(ru) = ensure_object(strategy, "rollingUpdate") {
                default(ru, "maxUnavailable", json!(1));
                default(ru, "maxSurge", json!(0));
            }
        }
    }
    default(spec, "revisionHistoryLimit", json!(10));
    controller_template(spec);
}

// ---------------------------------------------------------------------------------------------
// batch/v1
// ---------------------------------------------------------------------------------------------

fn job(obj: &mut Value) {
    let template_labels = obj
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    job_spec(spec);
    if let Some(labels) = template_labels {
        if let Some(meta) = ensure_object(obj, "metadata") {
            if meta
                .get("labels")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
            {
                meta["labels"] = labels;
            }
        }
    }
}

/// `SetDefaults_Job` for the spec, plus the pod template.
fn job_spec(spec: &mut Value) {
    if is_unset(spec, "completions") && is_unset(spec, "parallelism") {
        spec["completions"] = json!(1);
        spec["parallelism"] = json!(1);
    }
    default(spec, "parallelism", json!(1));
    if is_unset(spec, "backoffLimit") {
        let limit = if is_unset(spec, "backoffLimitPerIndex") {
            6
        } else {
            i64::from(i32::MAX)
        };
        spec["backoffLimit"] = json!(limit);
    }
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    let replacement = if is_unset(spec, "podFailurePolicy") {
        "TerminatingOrFailed"
    } else {
        "Failed"
    };
    default(spec, "podReplacementPolicy", json!(replacement));
    default(spec, "manualSelector", json!(false));
    pod_failure_policy(spec);
    controller_template(spec);
}

fn pod_failure_policy(spec: &mut Value) {
    if let Some(policy) = object_member(spec, "podFailurePolicy") {
        for rule in items(policy, "rules") {
            for pattern in items(rule, "onPodConditions") {
                default_zero(pattern, "status", json!("True"));
            }
        }
    }
}

fn cron_job(obj: &mut Value) {
    let Some(spec) = ensure_object(obj, "spec") else {
        return;
    };
    default_zero(spec, "concurrencyPolicy", json!("Allow"));
    default(spec, "suspend", json!(false));
    default(spec, "successfulJobsHistoryLimit", json!(3));
    default(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job_spec) =
        ensure_object(spec, "jobTemplate").and_then(|t| ensure_object(t, "spec"))
    {
        pod_failure_policy(job_spec);
        controller_template(job_spec);
    }
}

// ---------------------------------------------------------------------------------------------
// rbac.authorization.k8s.io/v1
// ---------------------------------------------------------------------------------------------

fn role_binding(obj: &mut Value) {
    if let Some(role_ref) = object_member(obj, "roleRef") {
        default_zero(role_ref, "apiGroup", json!("rbac.authorization.k8s.io"));
    }
    for subject in items(obj, "subjects") {
        if is_zero(subject, "apiGroup") {
            match str_member(subject, "kind") {
                "User" | "Group" => subject["apiGroup"] = json!("rbac.authorization.k8s.io"),
                "ServiceAccount" => subject["apiGroup"] = json!(""),
                _ => {}
            }
        }
    }
}

/// Upstream's `SetDefaults_CustomResourceDefinitionSpec` (v1): singular and listKind from the kind,
/// conversion strategy `None`.
fn custom_resource_definition(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if names
            .get("singular")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            names.insert("singular".into(), Value::from(kind.to_ascii_lowercase()));
        }
        if !kind.is_empty()
            && names
                .get("listKind")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            names.insert("listKind".into(), Value::from(format!("{kind}List")));
        }
    }
    if !spec.get("conversion").is_some_and(Value::is_object) {
        spec.insert("conversion".into(), serde_json::json!({"strategy": "None"}));
    }
    // apiextensions/v1 `SetDefaults_ServiceReference`.
    if let Some(svc) = spec
        .get_mut("conversion")
        .and_then(|c| c.pointer_mut("/webhook/clientConfig/service"))
        .filter(|s| s.is_object())
    {
        default(svc, "port", json!(443));
    }
}

// ---------------------------------------------------------------------------------------------
// admissionregistration.k8s.io/v1.
// ---------------------------------------------------------------------------------------------

/// Upstream's `SetDefaults_MutatingWebhook` / `SetDefaults_ValidatingWebhook`, with their rules'
/// `SetDefaults_Rule` and the client config's `SetDefaults_ServiceReference`.
fn webhook_configuration(obj: &mut Value, mutating: bool) {
    for hook in items(obj, "webhooks") {
        default(hook, "failurePolicy", json!("Fail"));
        default(hook, "matchPolicy", json!("Equivalent"));
        default(hook, "namespaceSelector", json!({}));
        default(hook, "objectSelector", json!({}));
        default(hook, "timeoutSeconds", json!(10));
        if mutating {
            default(hook, "reinvocationPolicy", json!("Never"));
        }
        for rule in items(hook, "rules") {
            default(rule, "scope", json!("*"));
        }
        if let Some(svc) = hook
            .pointer_mut("/clientConfig/service")
            .filter(|s| s.is_object())
        {
            default(svc, "port", json!(443));
        }
    }
}

/// Upstream's `SetDefaults_ValidatingAdmissionPolicySpec` /
/// `SetDefaults_MutatingAdmissionPolicySpec` with the match constraints' defaults.
fn admission_policy(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    default(spec, "failurePolicy", json!("Fail"));
    if let Some(m) = spec.get_mut("matchConstraints") {
        match_resources(m);
    }
}

/// `SetDefaults_MatchResources` and `SetDefaults_Rule` of its rules.
fn match_resources(m: &mut Value) {
    if !m.is_object() {
        return;
    }
    default(m, "matchPolicy", json!("Equivalent"));
    default(m, "namespaceSelector", json!({}));
    default(m, "objectSelector", json!({}));
    for list in ["resourceRules", "excludeResourceRules"] {
        for rule in items(m, list) {
            default(rule, "scope", json!("*"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(group: &str, kind: &str, obj: Value) -> Value {
        let mut obj = obj;
        apply_defaults(group, kind, &mut obj);
        obj
    }

    #[test]
    fn pod_gets_spec_and_container_defaults() {
        let pod = defaulted(
            "",
            "Pod",
            json!({"metadata": {"name": "p"}, "spec": {"containers": [
                {"name": "a", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                 "livenessProbe": {"httpGet": {"port": 80}},
                 "env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]},
                {"name": "b", "image": "busybox"}
            ], "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}}]}}),
        );
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], true);
        assert!(spec.get("preemptionPolicy").is_none());
        let a = &spec["containers"][0];
        assert_eq!(a["imagePullPolicy"], "IfNotPresent");
        assert_eq!(a["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(a["terminationMessagePolicy"], "File");
        assert_eq!(a["ports"][0]["protocol"], "TCP");
        assert_eq!(a["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        let probe = &a["livenessProbe"];
        assert_eq!(probe["timeoutSeconds"], 1);
        assert_eq!(probe["periodSeconds"], 10);
        assert_eq!(probe["successThreshold"], 1);
        assert_eq!(probe["failureThreshold"], 3);
        assert_eq!(probe["httpGet"]["path"], "/");
        assert_eq!(probe["httpGet"]["scheme"], "HTTP");
        assert_eq!(spec["containers"][1]["imagePullPolicy"], "Always");
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], 420);
    }

    #[test]
    fn client_values_are_kept() {
        let pod = defaulted(
            "",
            "Pod",
            json!({"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "a", "image": "x", "imagePullPolicy": "Never"}]}}),
        );
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 0);
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Never");
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        for (image, want) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.2", "IfNotPresent"),
            ("localhost:5000/app", "Always"),
            ("localhost:5000/app:v1", "IfNotPresent"),
            ("registry.io/ns/app@sha256:abcd", "IfNotPresent"),
            ("registry.io/ns/app:latest@sha256:abcd", "Always"),
            ("Bad/Name", "IfNotPresent"),
            ("", "IfNotPresent"),
        ] {
            assert_eq!(pull_policy_for(image), want, "{image}");
        }
    }

    #[test]
    fn pod_requests_default_to_limits_and_host_network_ports() {
        let pod = defaulted(
            "",
            "Pod",
            json!({"spec": {"hostNetwork": true, "containers": [{"name": "a", "image": "x",
                "ports": [{"containerPort": 8080}],
                "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}}}]}}),
        );
        let c = &pod["spec"]["containers"][0];
        assert_eq!(
            c["resources"]["requests"],
            json!({"memory": "1Gi", "cpu": "1"})
        );
        assert_eq!(c["ports"][0]["hostPort"], 8080);
    }

    #[test]
    fn service_defaults() {
        let svc = defaulted(
            "",
            "Service",
            json!({"spec": {"ports": [{"port": 80}], "clusterIP": "10.0.0.1"}}),
        );
        let spec = &svc["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(spec["ports"][0]["protocol"], "TCP");
        assert_eq!(spec["ports"][0]["targetPort"], 80);
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["clusterIPs"], json!(["10.0.0.1"]));
        assert!(spec.get("externalTrafficPolicy").is_none());

        let lb = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 80, "targetPort": "http"}]}}),
        );
        assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
        assert_eq!(lb["spec"]["ports"][0]["targetPort"], "http");
        assert_eq!(
            lb["spec"]["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
    }

    #[test]
    fn deployment_defaults() {
        let d = defaulted(
            "apps",
            "Deployment",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}}),
        );
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        let pod_spec = &spec["template"]["spec"];
        assert_eq!(pod_spec["restartPolicy"], "Always");
        assert_eq!(pod_spec["containers"][0]["imagePullPolicy"], "IfNotPresent");
        // Templates get PodSpec defaults only, not Pod ones.
        assert!(pod_spec.get("enableServiceLinks").is_none());

        let recreate = defaulted(
            "apps",
            "Deployment",
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        );
        assert!(recreate["spec"]["strategy"].get("rollingUpdate").is_none());
    }

    #[test]
    fn stateful_set_daemon_set_replica_set_defaults() {
        let s = defaulted(
            "apps",
            "StatefulSet",
            json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "d"}}]}}),
        );
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            s["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            s["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(s["spec"]["replicas"], 1);
        assert_eq!(s["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(
            s["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );

        let ds = defaulted("apps", "DaemonSet", json!({"spec": {}}));
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        let rs = defaulted("apps", "ReplicaSet", json!({}));
        assert_eq!(rs["spec"]["replicas"], 1);
    }

    #[test]
    fn job_and_cron_job_defaults() {
        let j = defaulted(
            "batch",
            "Job",
            json!({"spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"restartPolicy": "Never"}}}}),
        );
        let spec = &j["spec"];
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
        assert_eq!(j["metadata"]["labels"], json!({"a": "b"}));

        let c = defaulted(
            "batch",
            "CronJob",
            json!({"spec": {"schedule": "* * * * *"}}),
        );
        assert_eq!(c["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(c["spec"]["suspend"], false);
        assert_eq!(c["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(c["spec"]["failedJobsHistoryLimit"], 1);
    }

    #[test]
    fn secret_type_and_string_data() {
        let s = defaulted(
            "",
            "Secret",
            json!({"data": {"a": "eA=="}, "stringData": {"b": "hello", "a": "y"}}),
        );
        assert_eq!(s["type"], "Opaque");
        assert_eq!(s["data"], json!({"a": "eQ==", "b": "aGVsbG8="}));
        assert!(s.get("stringData").is_none());
    }

    #[test]
    fn namespace_defaults_only_add_the_finalizer_on_create() {
        let ns = defaulted("", "Namespace", json!({"metadata": {"name": "dev"}}));
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "dev"
        );
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");

        let stored = defaulted(
            "",
            "Namespace",
            json!({"metadata": {"name": "dev", "resourceVersion": "5"}, "spec": {"finalizers": []}}),
        );
        assert_eq!(stored["spec"]["finalizers"], json!([]));
    }

    #[test]
    fn role_binding_defaults() {
        let rb = defaulted(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}]}),
        );
        assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][1]["apiGroup"], "");
    }

    #[test]
    fn limit_range_defaults_follow_max_default_and_min() {
        let lr = defaulted(
            "",
            "LimitRange",
            json!({"spec": {"limits": [
                {"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}, "default": {"memory": "512Mi"},
                 "min": {"cpu": "10m", "ephemeral-storage": "1Gi"}},
                {"type": "Pod", "max": {"cpu": "2"}}
            ]}}),
        );
        let c = &lr["spec"]["limits"][0];
        assert_eq!(c["default"], json!({"cpu": "1", "memory": "512Mi"}));
        assert_eq!(
            c["defaultRequest"],
            json!({"cpu": "1", "memory": "512Mi", "ephemeral-storage": "1Gi"})
        );
        assert!(lr["spec"]["limits"][1].get("default").is_none());
        let pc = defaulted("scheduling.k8s.io", "PriorityClass", json!({"value": 5}));
        assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");
    }

    #[test]
    fn unknown_kinds_and_garbage_are_left_alone() {
        let original = json!({"spec": {"anything": 1}});
        assert_eq!(
            defaulted("example.com", "Widget", original.clone()),
            original
        );
        for garbage in [
            json!(null),
            json!(7),
            json!("x"),
            json!([1, 2]),
            json!({"spec": 5}),
            json!({"spec": {"containers": "nope", "volumes": [1, null, {"secret": 3}]}}),
            json!({"spec": {"containers": [null, 5, {"image": 9, "ports": [7], "livenessProbe": []}]}}),
            json!({"spec": {"template": [], "strategy": "x"}}),
            json!({"stringData": {"a": 5}, "data": 3}),
            json!({"metadata": [], "spec": {"finalizers": "x"}}),
        ] {
            for (g, k) in [
                ("", "Pod"),
                ("", "Service"),
                ("", "Secret"),
                ("", "Namespace"),
                ("", "ReplicationController"),
                ("apps", "Deployment"),
                ("apps", "StatefulSet"),
                ("apps", "DaemonSet"),
                ("batch", "Job"),
                ("batch", "CronJob"),
                ("rbac.authorization.k8s.io", "RoleBinding"),
            ] {
                let _ = defaulted(g, k, garbage.clone());
            }
        }
    }
}
