//! Unit tests: for each rule a valid object passes and a broken one yields the upstream field
//! path and reason; odd JSON shapes never panic.

use serde_json::{json, Value};

use super::*;
use crate::defaults::apply_defaults;

fn defaulted(group: &str, kind: &str, mut obj: Value) -> Value {
    apply_defaults(group, kind, &mut obj);
    obj
}

fn create(group: &str, kind: &str, namespaced: bool, obj: &Value) -> Vec<FieldError> {
    validate_create(group, kind, namespaced, obj)
}

#[track_caller]
fn assert_valid(errs: &[FieldError]) {
    assert!(
        errs.is_empty(),
        "unexpected errors: {:#?}",
        errs.iter().map(FieldError::message).collect::<Vec<_>>()
    );
}

#[track_caller]
fn assert_has(errs: &[FieldError], field: &str, reason: CauseType) -> FieldError {
    match errs.iter().find(|e| e.field == field && e.reason == reason) {
        Some(e) => e.clone(),
        None => panic!(
            "no {reason:?} on {field}; got {:#?}",
            errs.iter().map(FieldError::message).collect::<Vec<_>>()
        ),
    }
}

fn pod_with(spec: Value) -> Value {
    defaulted(
        "",
        "Pod",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"}, "spec": spec}),
    )
}

fn good_pod() -> Value {
    pod_with(
        json!({"containers": [{"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80, "name": "http"}]}]}),
    )
}

fn pod_errs(spec: Value) -> Vec<FieldError> {
    create("", "Pod", true, &pod_with(spec))
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

#[test]
fn messages_match_upstream_format() {
    let errs = pod_errs(json!({"containers": [{"name": "app"}]}));
    let e = assert_has(&errs, "spec.containers[0].image", CauseType::Required);
    assert_eq!(e.message(), "spec.containers[0].image: Required value");
    assert_eq!(e.cause_message(), "Required value");

    let errs = create(
        "",
        "ConfigMap",
        true,
        &json!({"metadata": {"name": "Foo_Bar", "namespace": "d"}}),
    );
    let e = assert_has(&errs, "metadata.name", CauseType::Invalid);
    assert_eq!(
        e.message(),
        "metadata.name: Invalid value: \"Foo_Bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    );

    let errs = pod_errs(
        json!({"restartPolicy": "Sometimes", "containers": [{"name": "a", "image": "x"}]}),
    );
    let e = assert_has(&errs, "spec.restartPolicy", CauseType::NotSupported);
    assert_eq!(
        e.message(),
        r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#
    );

    let e = util::too_many("spec.x", 3, 2);
    assert_eq!(e.cause_message(), "Too many: 3: must have at most 2 items");
    let e = util::too_long("metadata.annotations", 262144);
    assert_eq!(
        e.cause_message(),
        "Too long: may not be more than 262144 bytes"
    );
    let e = util::invalid("f", "a\"b\n\u{1}", "bad");
    assert_eq!(e.cause_message(), r#"Invalid value: "a\"b\n\x01": bad"#);
    let e = util::invalid("f", 5, "bad");
    assert_eq!(e.cause_message(), "Invalid value: 5: bad");
    let e = util::forbidden("spec", "nope");
    assert_eq!(e.message(), "spec: Forbidden: nope");
    let e = util::duplicate("spec.containers[1].name", "a");
    assert_eq!(
        e.message(),
        "spec.containers[1].name: Duplicate value: \"a\""
    );
}

#[test]
fn cause_type_wire_names() {
    let all = [
        (CauseType::Required, "FieldValueRequired"),
        (CauseType::Invalid, "FieldValueInvalid"),
        (CauseType::NotSupported, "FieldValueNotSupported"),
        (CauseType::Duplicate, "FieldValueDuplicate"),
        (CauseType::TooLong, "FieldValueTooLong"),
        (CauseType::TooMany, "FieldValueTooMany"),
        (CauseType::Forbidden, "FieldValueForbidden"),
    ];
    for (t, s) in all {
        assert_eq!(t.as_str(), s);
    }
}

// ---------------------------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------------------------

#[test]
fn name_formats() {
    assert!(is_dns1123_label("my-name"));
    assert!(!is_dns1123_label("my.name"));
    assert!(!is_dns1123_label("-a"));
    assert!(!is_dns1123_label(&"a".repeat(64)));
    assert!(is_dns1123_subdomain("example.com"));
    assert!(!is_dns1123_subdomain("Example.com"));
    assert!(!is_dns1123_subdomain("a..b"));
    assert!(!is_dns1123_subdomain(""));
    assert_eq!(
        formats::dns1123_label("a.b"),
        vec!["must not contain dots".to_string()]
    );
}

#[test]
fn qualified_names_and_label_values() {
    for ok in ["a", "A-b_c.d", "example.com/key", "k8s.io/x"] {
        assert!(validate_qualified_name(ok).is_empty(), "{ok}");
    }
    assert_eq!(
        validate_qualified_name("/a"),
        vec!["prefix part must be non-empty".to_string()]
    );
    assert_eq!(
        validate_qualified_name(&"a".repeat(64))[0],
        "name part must be no more than 63 bytes"
    );
    assert!(validate_qualified_name("a/b/c")[0].starts_with("a valid label key must consist"));
    assert!(
        validate_qualified_name("Bad.Prefix/x")[0].starts_with("prefix part a lowercase RFC 1123")
    );
    assert!(validate_label_value("").is_empty());
    assert!(validate_label_value("v1.2_3").is_empty());
    assert_eq!(
        validate_label_value(&"a".repeat(64))[0],
        "must be no more than 63 bytes"
    );
    assert!(!validate_label_value("-x").is_empty());
}

#[test]
fn labels_and_annotations_helpers() {
    assert_valid(&validate_labels(
        &json!({"app": "web", "example.com/tier": ""}),
        "metadata.labels",
    ));
    let errs = validate_labels(
        &json!({"bad key": "x", "ok": "bad value!"}),
        "metadata.labels",
    );
    assert_eq!(errs.len(), 2);
    assert!(errs
        .iter()
        .all(|e| e.field == "metadata.labels" && e.reason == CauseType::Invalid));
    let errs = validate_labels(&json!({"a": 1}), "metadata.labels");
    assert_has(&errs, "metadata.labels[a]", CauseType::Invalid);

    assert_valid(&validate_annotations(
        &json!({"Example.COM/Some-Key": "anything at all"}),
        "metadata.annotations",
    ));
    let big = "x".repeat(256 * 1024);
    let errs = validate_annotations(&json!({"a": big}), "metadata.annotations");
    assert_has(&errs, "metadata.annotations", CauseType::TooLong);
}

// ---------------------------------------------------------------------------------------------
// Object metadata
// ---------------------------------------------------------------------------------------------

#[test]
fn metadata_name_namespace_rules() {
    let errs = create("", "ConfigMap", true, &json!({"metadata": {}}));
    let e = assert_has(&errs, "metadata.name", CauseType::Required);
    assert_eq!(e.detail, "name or generateName is required");
    assert_has(&errs, "metadata.namespace", CauseType::Required);

    let errs = create(
        "",
        "Node",
        false,
        &json!({"metadata": {"name": "n1", "namespace": "x"}}),
    );
    let e = assert_has(&errs, "metadata.namespace", CauseType::Forbidden);
    assert_eq!(e.detail, "not allowed on this type");

    assert_valid(&create(
        "",
        "Node",
        false,
        &json!({"metadata": {"name": "n1.example.com"}}),
    ));
    let errs = create(
        "",
        "ConfigMap",
        true,
        &json!({"metadata": {"name": "a", "namespace": "Bad"}}),
    );
    assert_has(&errs, "metadata.namespace", CauseType::Invalid);

    // generateName may end with '-'.
    assert_valid(&create(
        "",
        "ConfigMap",
        true,
        &json!({"metadata": {"name": "web-x1", "generateName": "web-", "namespace": "d"}}),
    ));
    let errs = create(
        "",
        "ConfigMap",
        true,
        &json!({"metadata": {"name": "web-x1", "generateName": "Web-", "namespace": "d"}}),
    );
    assert_has(&errs, "metadata.generateName", CauseType::Invalid);
}

#[test]
fn name_rules_per_kind() {
    let ns = defaulted("", "Namespace", json!({"metadata": {"name": "a.b"}}));
    assert_has(
        &create("", "Namespace", false, &ns),
        "metadata.name",
        CauseType::Invalid,
    );
    let svc = |name: &str| {
        defaulted(
            "",
            "Service",
            json!({"metadata": {"name": name, "namespace": "d"}, "spec": {"ports": [{"port": 80}]}}),
        )
    };
    assert_valid(&create("", "Service", true, &svc("web")));
    assert_has(
        &create("", "Service", true, &svc("1web")),
        "metadata.name",
        CauseType::Invalid,
    );
    assert_valid(&create(
        "",
        "ServiceAccount",
        true,
        &json!({"metadata": {"name": "a.b", "namespace": "d"}}),
    ));

    let role = |name: &str| json!({"metadata": {"name": name}, "rules": []});
    assert_valid(&create(
        "rbac.authorization.k8s.io",
        "ClusterRole",
        false,
        &role("system:controller:x"),
    ));
    let errs = create(
        "rbac.authorization.k8s.io",
        "ClusterRole",
        false,
        &role(".."),
    );
    assert_eq!(
        assert_has(&errs, "metadata.name", CauseType::Invalid).detail,
        "may not be '..'"
    );
    let errs = create(
        "rbac.authorization.k8s.io",
        "ClusterRole",
        false,
        &role("a/b%c"),
    );
    assert_eq!(errs.len(), 2);

    // Unknown kinds (CRDs) get the generic rules only.
    assert_valid(&create(
        "example.com",
        "Widget",
        true,
        &json!({"metadata": {"name": "w", "namespace": "d"}, "spec": {"whatever": [1]}}),
    ));
    assert_has(
        &create(
            "example.com",
            "Widget",
            true,
            &json!({"metadata": {"name": "W", "namespace": "d"}}),
        ),
        "metadata.name",
        CauseType::Invalid,
    );
}

#[test]
fn metadata_labels_annotations_owner_references_finalizers() {
    let obj = json!({"metadata": {"name": "a", "namespace": "d",
        "labels": {"-bad": "x"},
        "annotations": {"a b": "x"},
        "ownerReferences": [{"apiVersion": "a/b/c", "kind": "", "name": "", "uid": ""},
                            {"apiVersion": "v1", "kind": "X", "name": "x", "uid": "1", "controller": true},
                            {"apiVersion": "v1", "kind": "Y", "name": "y", "uid": "2", "controller": true}],
        "finalizers": ["orphan", "foregroundDeletion", "custom"]}});
    let errs = create("", "ConfigMap", true, &obj);
    assert_has(&errs, "metadata.labels", CauseType::Invalid);
    assert_has(&errs, "metadata.annotations", CauseType::Invalid);
    assert_has(
        &errs,
        "metadata.ownerReferences[0].apiVersion",
        CauseType::Invalid,
    );
    assert_has(
        &errs,
        "metadata.ownerReferences[0].kind",
        CauseType::Required,
    );
    assert_has(
        &errs,
        "metadata.ownerReferences[0].name",
        CauseType::Required,
    );
    assert_has(
        &errs,
        "metadata.ownerReferences[0].uid",
        CauseType::Required,
    );
    let e = assert_has(&errs, "metadata.ownerReferences", CauseType::Invalid);
    assert!(e
        .detail
        .contains("Only one reference can have Controller set to true"));
    assert_has(&errs, "metadata.finalizers", CauseType::Invalid);
    assert_has(&errs, "metadata.finalizers[2]", CauseType::Invalid);

    let ok = json!({"metadata": {"name": "a", "namespace": "d", "finalizers": ["example.com/x", "kubernetes"],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "u", "controller": true}]}});
    assert_valid(&create("", "ConfigMap", true, &ok));
    // Custom resources may use any qualified finalizer.
    assert_valid(&create(
        "example.com",
        "Widget",
        true,
        &json!({"metadata": {"name": "a", "namespace": "d", "finalizers": ["custom"]}}),
    ));
}

#[test]
fn metadata_update_rules() {
    let old =
        json!({"metadata": {"name": "a", "namespace": "d", "uid": "u1", "resourceVersion": "3"}});
    let same = json!({"metadata": {"name": "a", "namespace": "d", "resourceVersion": "3"}});
    assert_valid(&validate_update("", "ConfigMap", true, &same, &old));
    let renamed = json!({"metadata": {"name": "b", "namespace": "d", "uid": "u2"}});
    let errs = validate_update("", "ConfigMap", true, &renamed, &old);
    assert_eq!(
        assert_has(&errs, "metadata.name", CauseType::Invalid).detail,
        "field is immutable"
    );
    assert_has(&errs, "metadata.uid", CauseType::Invalid);

    let deleting = json!({"metadata": {"name": "a", "namespace": "d", "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["a.io/x"]}});
    let more = json!({"metadata": {"name": "a", "namespace": "d", "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["a.io/x", "b.io/y"]}});
    let errs = validate_update("", "ConfigMap", true, &more, &deleting);
    let e = assert_has(&errs, "metadata.finalizers", CauseType::Forbidden);
    assert!(e.detail.ends_with(r#"[]string{"b.io/y"}"#), "{}", e.detail);
}

// ---------------------------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------------------------

#[test]
fn valid_pod_passes() {
    assert_valid(&create("", "Pod", true, &good_pod()));
    let full = pod_with(json!({
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c", "items": [{"key": "k", "path": "p"}]}}],
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [{"name": "app", "image": "nginx",
            "env": [{"name": "A", "value": "1"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "L", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}],
            "envFrom": [{"configMapRef": {"name": "c"}}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/cfg"}],
            "livenessProbe": {"httpGet": {"port": "http"}},
            "readinessProbe": {"tcpSocket": {"port": 80}},
            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
            "ports": [{"name": "http", "containerPort": 80}]}],
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "imagePullSecrets": [{"name": "regcred"}]
    }));
    assert_valid(&create("", "Pod", true, &full));
}

#[test]
fn pod_containers_rules() {
    let errs = pod_errs(json!({"containers": []}));
    assert_has(&errs, "spec.containers", CauseType::Required);

    let errs = pod_errs(
        json!({"containers": [{"name": "Bad_Name", "image": "x"}, {"name": "a", "image": "x"}, {"name": "a", "image": "x"}],
        "initContainers": [{"name": "a", "image": "x"}]}),
    );
    assert_has(&errs, "spec.containers[0].name", CauseType::Invalid);
    assert_has(&errs, "spec.containers[2].name", CauseType::Duplicate);
    assert_has(&errs, "spec.initContainers[0].name", CauseType::Duplicate);

    let errs = pod_errs(json!({"containers": [{"name": "a", "image": " x"}]}));
    assert_has(&errs, "spec.containers[0].image", CauseType::Invalid);

    let errs = pod_errs(
        json!({"containers": [{"name": "a", "image": "x", "imagePullPolicy": "Sometimes"}]}),
    );
    assert_has(
        &errs,
        "spec.containers[0].imagePullPolicy",
        CauseType::NotSupported,
    );
}

#[test]
fn pod_ports_rules() {
    let errs = pod_errs(json!({"containers": [{"name": "a", "image": "x", "ports": [
        {"containerPort": 0},
        {"containerPort": 70000, "name": "http"},
        {"containerPort": 81, "name": "http", "protocol": "ICMP"},
        {"containerPort": 82, "name": "Not_Valid"},
        {"containerPort": 83, "hostPort": 8080},
        {"containerPort": 84, "hostPort": 8080}
    ]}]}));
    assert_has(
        &errs,
        "spec.containers[0].ports[0].containerPort",
        CauseType::Required,
    );
    let e = assert_has(
        &errs,
        "spec.containers[0].ports[1].containerPort",
        CauseType::Invalid,
    );
    assert_eq!(e.detail, "must be between 1 and 65535, inclusive");
    assert_has(
        &errs,
        "spec.containers[0].ports[2].name",
        CauseType::Duplicate,
    );
    let e = assert_has(
        &errs,
        "spec.containers[0].ports[2].protocol",
        CauseType::NotSupported,
    );
    assert_eq!(e.detail, r#"supported values: "SCTP", "TCP", "UDP""#);
    assert_has(
        &errs,
        "spec.containers[0].ports[3].name",
        CauseType::Invalid,
    );
    assert_has(
        &errs,
        "spec.containers[0].ports[5].hostPort",
        CauseType::Duplicate,
    );
}

#[test]
fn pod_env_rules() {
    let errs = pod_errs(json!({"containers": [{"name": "a", "image": "x", "env": [
        {"name": ""},
        {"name": "A=B"},
        {"name": "C", "valueFrom": {}},
        {"name": "D", "value": "v", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}},
        {"name": "F", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "bad key"}}}
    ]}]}));
    assert_has(&errs, "spec.containers[0].env[0].name", CauseType::Required);
    assert_has(&errs, "spec.containers[0].env[1].name", CauseType::Invalid);
    assert_has(
        &errs,
        "spec.containers[0].env[2].valueFrom",
        CauseType::Invalid,
    );
    assert_has(
        &errs,
        "spec.containers[0].env[3].valueFrom",
        CauseType::Invalid,
    );
    assert_has(
        &errs,
        "spec.containers[0].env[4].valueFrom.fieldRef.fieldPath",
        CauseType::NotSupported,
    );
    assert_has(
        &errs,
        "spec.containers[0].env[5].valueFrom.configMapKeyRef.key",
        CauseType::Invalid,
    );
    // Relaxed names: anything printable but '='.
    assert_valid(&pod_errs(
        json!({"containers": [{"name": "a", "image": "x", "env": [{"name": "1 weird.name-ok"}]}]}),
    ));
}

#[test]
fn pod_policy_enums() {
    let errs = pod_errs(json!({"dnsPolicy": "Nope", "containers": [{"name": "a", "image": "x"}]}));
    assert_has(&errs, "spec.dnsPolicy", CauseType::NotSupported);
    let raw = json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": [{"name": "a", "image": "x"}]}});
    let errs = create("", "Pod", true, &raw);
    // Without defaulting the defaulted fields are required, as upstream's internal validation.
    assert_has(&errs, "spec.restartPolicy", CauseType::Required);
    assert_has(&errs, "spec.dnsPolicy", CauseType::Required);
    assert_has(
        &errs,
        "spec.terminationGracePeriodSeconds",
        CauseType::Required,
    );
    assert_has(
        &errs,
        "spec.containers[0].imagePullPolicy",
        CauseType::Required,
    );
}

#[test]
fn pod_volume_rules() {
    let errs = pod_errs(json!({
        "volumes": [
            {"name": "a", "emptyDir": {}},
            {"name": "a", "emptyDir": {}},
            {"name": "two", "emptyDir": {}, "hostPath": {"path": "/x"}},
            {"name": "Bad", "emptyDir": {}},
            {"name": "s", "secret": {"defaultMode": 1000}},
            {"name": "h", "hostPath": {"path": "/a/../b", "type": "Weird"}}
        ],
        "containers": [{"name": "c", "image": "x", "volumeMounts": [
            {"name": "missing", "mountPath": "/m"},
            {"name": "a", "mountPath": "/m"},
            {"name": "a", "mountPath": ""}
        ]}]
    }));
    assert_has(&errs, "spec.volumes[1].name", CauseType::Duplicate);
    assert_has(&errs, "spec.volumes[2].hostPath", CauseType::Forbidden);
    assert_has(&errs, "spec.volumes[3].name", CauseType::Invalid);
    assert_has(
        &errs,
        "spec.volumes[4].secret.secretName",
        CauseType::Required,
    );
    assert_has(
        &errs,
        "spec.volumes[4].secret.defaultMode",
        CauseType::Invalid,
    );
    assert_has(&errs, "spec.volumes[5].hostPath.path", CauseType::Invalid);
    assert_has(
        &errs,
        "spec.volumes[5].hostPath.type",
        CauseType::NotSupported,
    );
    assert_has(
        &errs,
        "spec.containers[0].volumeMounts[0].name",
        CauseType::Invalid,
    );
    assert_has(
        &errs,
        "spec.containers[0].volumeMounts[1].mountPath",
        CauseType::Invalid,
    );
    assert_has(
        &errs,
        "spec.containers[0].volumeMounts[2].mountPath",
        CauseType::Required,
    );

    // A volume with no source at all (undefaulted) must name one.
    let raw = json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"volumes": [{"name": "v"}], "containers": []}});
    assert_has(
        &create("", "Pod", true, &raw),
        "spec.volumes[0]",
        CauseType::Required,
    );
}

#[test]
fn pod_probe_and_toleration_rules() {
    let errs = pod_errs(json!({"containers": [{"name": "a", "image": "x",
        "livenessProbe": {"successThreshold": 2, "exec": {"command": ["true"]}},
        "readinessProbe": {},
        "startupProbe": {"exec": {"command": []}, "tcpSocket": {"port": 1}, "periodSeconds": -1}}],
        "tolerations": [{"operator": "Equal", "value": "x"}, {"key": "k", "operator": "Sometimes"}, {"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]
    }));
    assert_has(
        &errs,
        "spec.containers[0].livenessProbe.successThreshold",
        CauseType::Invalid,
    );
    assert_has(
        &errs,
        "spec.containers[0].readinessProbe",
        CauseType::Required,
    );
    assert_has(
        &errs,
        "spec.containers[0].startupProbe.exec.command",
        CauseType::Required,
    );
    assert_has(
        &errs,
        "spec.containers[0].startupProbe.tcpSocket",
        CauseType::Forbidden,
    );
    assert_has(
        &errs,
        "spec.containers[0].startupProbe.periodSeconds",
        CauseType::Invalid,
    );
    assert_has(&errs, "spec.tolerations[0].operator", CauseType::Invalid);
    assert_has(
        &errs,
        "spec.tolerations[1].operator",
        CauseType::NotSupported,
    );
    assert_has(&errs, "spec.tolerations[2].effect", CauseType::Invalid);

    let errs = pod_errs(
        json!({"initContainers": [{"name": "i", "image": "x", "readinessProbe": {"exec": {"command": ["a"]}}}],
        "containers": [{"name": "a", "image": "x"}]}),
    );
    assert_has(
        &errs,
        "spec.initContainers[0].readinessProbe",
        CauseType::Forbidden,
    );
    // Sidecars (restartPolicy Always) may have probes.
    assert_valid(&pod_errs(
        json!({"initContainers": [{"name": "i", "image": "x", "restartPolicy": "Always", "readinessProbe": {"exec": {"command": ["a"]}}}],
        "containers": [{"name": "a", "image": "x"}]}),
    ));
}

#[test]
fn pod_create_only_rules() {
    let errs = pod_errs(
        json!({"containers": [{"name": "a", "image": "x"}], "ephemeralContainers": [{"name": "e", "image": "x"}]}),
    );
    assert_has(&errs, "spec.ephemeralContainers", CauseType::Forbidden);
    let errs = pod_errs(
        json!({"containers": [{"name": "a", "image": "x"}], "nodeName": "n", "schedulingGates": [{"name": "g"}]}),
    );
    assert_has(&errs, "spec.nodeName", CauseType::Forbidden);
}

#[test]
fn pod_update_rules() {
    let old = good_pod();
    let mut new = old.clone();
    new["spec"]["containers"][0]["image"] = json!("nginx:1.26");
    new["spec"]["activeDeadlineSeconds"] = json!(30);
    new["spec"]["tolerations"] = json!([{"key": "a", "operator": "Exists"}]);
    assert_valid(&validate_update("", "Pod", true, &new, &old));

    let mut changed = old.clone();
    changed["spec"]["restartPolicy"] = json!("Never");
    let errs = validate_update("", "Pod", true, &changed, &old);
    let e = assert_has(&errs, "spec", CauseType::Forbidden);
    assert!(e
        .detail
        .starts_with("pod updates may not change fields other than `spec.containers[*].image`"));
    assert!(e.detail.contains("restartPolicy"));

    let mut added = old.clone();
    added["spec"]["containers"] = json!([old["spec"]["containers"][0].clone(), {"name": "b", "image": "x", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]);
    assert_has(
        &validate_update("", "Pod", true, &added, &old),
        "spec.containers",
        CauseType::Forbidden,
    );

    let mut with_deadline = old.clone();
    with_deadline["spec"]["activeDeadlineSeconds"] = json!(10);
    let mut longer = old.clone();
    longer["spec"]["activeDeadlineSeconds"] = json!(20);
    assert_has(
        &validate_update("", "Pod", true, &longer, &with_deadline),
        "spec.activeDeadlineSeconds",
        CauseType::Invalid,
    );

    let mut tolerated = old.clone();
    tolerated["spec"]["tolerations"] = json!([{"key": "a", "operator": "Exists"}]);
    let mut modified = old.clone();
    modified["spec"]["tolerations"] = json!([{"key": "b", "operator": "Exists"}]);
    assert_has(
        &validate_update("", "Pod", true, &modified, &tolerated),
        "spec.tolerations",
        CauseType::Forbidden,
    );
}

// ---------------------------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------------------------

fn service(spec: Value) -> Value {
    defaulted(
        "",
        "Service",
        json!({"metadata": {"name": "web", "namespace": "d"}, "spec": spec}),
    )
}

#[test]
fn service_rules() {
    assert_valid(&create(
        "",
        "Service",
        true,
        &service(json!({"selector": {"app": "web"}, "ports": [{"port": 80}]})),
    ));
    assert_valid(&create(
        "",
        "Service",
        true,
        &service(json!({"clusterIP": "None"})),
    ));
    assert_valid(&create(
        "",
        "Service",
        true,
        &service(json!({"type": "ExternalName", "externalName": "example.com."})),
    ));
    assert_valid(&create(
        "",
        "Service",
        true,
        &service(
            json!({"ports": [{"name": "a", "port": 80, "targetPort": "http"}, {"name": "b", "port": 443, "targetPort": 8443}]}),
        ),
    ));

    assert_has(
        &create("", "Service", true, &service(json!({}))),
        "spec.ports",
        CauseType::Required,
    );
    let errs = create(
        "",
        "Service",
        true,
        &service(json!({"type": "Magic", "sessionAffinity": "Sticky",
        "selector": {"bad key": "x"},
        "ports": [{"port": 0, "protocol": "ICMP"}, {"port": 80, "targetPort": "Not_A_Name"}, {"name": "x", "port": 81, "targetPort": 70000}]})),
    );
    assert_has(&errs, "spec.type", CauseType::NotSupported);
    assert_has(&errs, "spec.sessionAffinity", CauseType::NotSupported);
    assert_has(&errs, "spec.selector", CauseType::Invalid);
    assert_has(&errs, "spec.ports[0].name", CauseType::Required);
    assert_has(&errs, "spec.ports[0].port", CauseType::Invalid);
    assert_has(&errs, "spec.ports[0].protocol", CauseType::NotSupported);
    assert_has(&errs, "spec.ports[1].targetPort", CauseType::Invalid);
    assert_has(&errs, "spec.ports[2].targetPort", CauseType::Invalid);

    let errs = create(
        "",
        "Service",
        true,
        &service(json!({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 80}]})),
    );
    assert_has(&errs, "spec.ports[1].name", CauseType::Duplicate);
    assert_has(&errs, "spec.ports[1]", CauseType::Duplicate);

    let errs = create(
        "",
        "Service",
        true,
        &service(json!({"type": "ExternalName"})),
    );
    assert_has(&errs, "spec.externalName", CauseType::Required);
    let errs = create(
        "",
        "Service",
        true,
        &service(json!({"type": "NodePort", "clusterIP": "None", "ports": [{"port": 80}]})),
    );
    assert_has(&errs, "spec.clusterIPs[0]", CauseType::Invalid);
    let errs = create(
        "",
        "Service",
        true,
        &service(json!({"clusterIP": "1.2.3", "ports": [{"port": 80, "nodePort": 30000}]})),
    );
    assert_has(&errs, "spec.clusterIPs[0]", CauseType::Invalid);
    assert_has(&errs, "spec.ports[0].nodePort", CauseType::Forbidden);
}

#[test]
fn service_cluster_ip_is_immutable() {
    let old = service(json!({"clusterIP": "10.0.0.5", "ports": [{"port": 80}]}));
    let mut same = old.clone();
    same["spec"]["ports"][0]["port"] = json!(81);
    same["spec"]["ports"][0]["targetPort"] = json!(81);
    assert_valid(&validate_update("", "Service", true, &same, &old));
    // Leaving clusterIP out keeps the allocated one.
    let omitted = service(json!({"ports": [{"port": 80}]}));
    assert_valid(&validate_update("", "Service", true, &omitted, &old));
    let changed = service(json!({"clusterIP": "10.0.0.6", "ports": [{"port": 80}]}));
    let errs = validate_update("", "Service", true, &changed, &old);
    assert_eq!(
        assert_has(&errs, "spec.clusterIPs[0]", CauseType::Invalid).detail,
        "may not change once set"
    );
}

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

fn deployment(spec: Value) -> Value {
    defaulted(
        "apps",
        "Deployment",
        json!({"metadata": {"name": "web", "namespace": "d"}, "spec": spec}),
    )
}

fn template(labels: Value) -> Value {
    json!({"metadata": {"labels": labels}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}})
}

#[test]
fn deployment_rules() {
    let good = deployment(
        json!({"selector": {"matchLabels": {"app": "web"}}, "template": template(json!({"app": "web", "x": "y"}))}),
    );
    assert_valid(&create("apps", "Deployment", true, &good));

    let errs = create(
        "apps",
        "Deployment",
        true,
        &deployment(json!({"template": template(json!({"app": "web"}))})),
    );
    assert_has(&errs, "spec.selector", CauseType::Required);

    let errs = create(
        "apps",
        "Deployment",
        true,
        &deployment(
            json!({"selector": {"matchLabels": {"app": "other"}}, "replicas": -1, "template": template(json!({"app": "web"}))}),
        ),
    );
    let e = assert_has(&errs, "spec.template.metadata.labels", CauseType::Invalid);
    assert_eq!(e.detail, "`selector` does not match template `labels`");
    assert_has(&errs, "spec.replicas", CauseType::Invalid);

    let errs = create(
        "apps",
        "Deployment",
        true,
        &deployment(json!({"selector": {}, "template": template(json!({"app": "web"}))})),
    );
    assert_eq!(
        assert_has(&errs, "spec.selector", CauseType::Invalid).detail,
        "empty selector is invalid for deployment"
    );

    let mut t = template(json!({"app": "web"}));
    t["spec"]["restartPolicy"] = json!("Never");
    let errs = create(
        "apps",
        "Deployment",
        true,
        &deployment(
            json!({"selector": {"matchLabels": {"app": "web"}}, "template": t,
        "strategy": {"type": "Sideways"}}),
        ),
    );
    assert_has(
        &errs,
        "spec.template.spec.restartPolicy",
        CauseType::NotSupported,
    );
    assert_has(&errs, "spec.strategy", CauseType::NotSupported);

    let errs = create(
        "apps",
        "Deployment",
        true,
        &deployment(
            json!({"selector": {"matchLabels": {"app": "web"}}, "template": template(json!({"app": "web"})),
        "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}}),
        ),
    );
    assert_has(
        &errs,
        "spec.strategy.rollingUpdate.maxUnavailable",
        CauseType::Invalid,
    );

    let errs = create(
        "apps",
        "Deployment",
        true,
        &deployment(
            json!({"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}, "template": template(json!({"app": "web"}))}),
        ),
    );
    assert_has(
        &errs,
        "spec.selector.matchExpressions[0].values",
        CauseType::Required,
    );
    assert_eq!(
        assert_has(&errs, "spec.selector", CauseType::Invalid).detail,
        "invalid label selector"
    );

    let moved = deployment(
        json!({"selector": {"matchLabels": {"app": "web", "v": "2"}}, "template": template(json!({"app": "web", "v": "2"}))}),
    );
    let errs = validate_update("apps", "Deployment", true, &moved, &good);
    assert_eq!(
        assert_has(&errs, "spec.selector", CauseType::Invalid).detail,
        "field is immutable"
    );
    let mut scaled = good.clone();
    scaled["spec"]["replicas"] = json!(5);
    assert_valid(&validate_update("apps", "Deployment", true, &scaled, &good));
}

#[test]
fn replica_set_stateful_set_daemon_set_rules() {
    let rs = defaulted(
        "apps",
        "ReplicaSet",
        json!({"metadata": {"name": "r", "namespace": "d"},
        "spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}, "template": template(json!({"app": "b"}))}}),
    );
    assert_valid(&create("apps", "ReplicaSet", true, &rs));

    let sts = defaulted(
        "apps",
        "StatefulSet",
        json!({"metadata": {"name": "db", "namespace": "d"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": {
            "metadata": {"labels": {"app": "db"}},
            "spec": {"containers": [{"name": "a", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}}),
    );
    assert_valid(&create("apps", "StatefulSet", true, &sts));
    let mut bad = sts.clone();
    bad["spec"]["podManagementPolicy"] = json!("Random");
    bad["metadata"]["name"] = json!("db.example");
    let errs = create("apps", "StatefulSet", true, &bad);
    assert_has(&errs, "spec.podManagementPolicy", CauseType::Invalid);
    assert_has(&errs, "metadata.name", CauseType::Invalid);
    let mut renamed_service = sts.clone();
    renamed_service["spec"]["serviceName"] = json!("other");
    assert_has(
        &validate_update("apps", "StatefulSet", true, &renamed_service, &sts),
        "spec",
        CauseType::Forbidden,
    );
    let mut scaled = sts.clone();
    scaled["spec"]["replicas"] = json!(3);
    assert_valid(&validate_update("apps", "StatefulSet", true, &scaled, &sts));

    let ds = defaulted(
        "apps",
        "DaemonSet",
        json!({"metadata": {"name": "agent", "namespace": "d"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template(json!({"app": "agent"}))}}),
    );
    assert_valid(&create("apps", "DaemonSet", true, &ds));
    let mut surge = ds.clone();
    surge["spec"]["updateStrategy"]["rollingUpdate"] = json!({"maxUnavailable": 1, "maxSurge": 1});
    assert_has(
        &create("apps", "DaemonSet", true, &surge),
        "spec.updateStrategy.rollingUpdate.maxSurge",
        CauseType::Invalid,
    );
    let mut no_selector = ds.clone();
    no_selector["spec"]
        .as_object_mut()
        .map(|m| m.remove("selector"));
    assert_has(
        &create("apps", "DaemonSet", true, &no_selector),
        "spec.template.metadata.labels",
        CauseType::Invalid,
    );
}

#[test]
fn job_and_cron_job_rules() {
    let job = |restart: &str| {
        defaulted(
            "batch",
            "Job",
            json!({"metadata": {"name": "j", "namespace": "d"},
            "spec": {"template": {"spec": {"restartPolicy": restart, "containers": [{"name": "a", "image": "x"}]}}}}),
        )
    };
    assert_valid(&create("batch", "Job", true, &job("Never")));
    let errs = create("batch", "Job", true, &job("Always"));
    let e = assert_has(
        &errs,
        "spec.template.spec.restartPolicy",
        CauseType::Required,
    );
    assert_eq!(e.detail, r#"valid values: "OnFailure", "Never""#);
    let mut changed = job("Never");
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("y");
    assert_has(
        &validate_update("batch", "Job", true, &changed, &job("Never")),
        "spec.template",
        CauseType::Invalid,
    );

    let cron = |name: &str| {
        defaulted(
            "batch",
            "CronJob",
            json!({"metadata": {"name": name, "namespace": "d"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "a", "image": "x"}]}}}}}}),
        )
    };
    assert_valid(&create("batch", "CronJob", true, &cron("tick")));
    assert_has(
        &create("batch", "CronJob", true, &cron(&"a".repeat(53))),
        "metadata.name",
        CauseType::Invalid,
    );
    let mut no_schedule = cron("tick");
    no_schedule["spec"]["schedule"] = json!("");
    assert_has(
        &create("batch", "CronJob", true, &no_schedule),
        "spec.schedule",
        CauseType::Required,
    );
}

#[test]
fn replication_controller_rules() {
    let rc = defaulted(
        "",
        "ReplicationController",
        json!({"metadata": {"name": "rc", "namespace": "d"},
        "spec": {"template": template(json!({"app": "x"}))}}),
    );
    assert_eq!(rc["spec"]["selector"], json!({"app": "x"}));
    assert_valid(&create("", "ReplicationController", true, &rc));
    let mut bad = rc.clone();
    bad["spec"]["selector"] = json!({"app": "y"});
    assert_has(
        &create("", "ReplicationController", true, &bad),
        "spec.template.metadata.labels",
        CauseType::Invalid,
    );
}

// ---------------------------------------------------------------------------------------------
// ConfigMaps, Secrets, Namespaces, RBAC
// ---------------------------------------------------------------------------------------------

#[test]
fn config_map_rules() {
    let cm = |extra: Value| {
        let mut obj = json!({"metadata": {"name": "c", "namespace": "d"}});
        if let (Some(o), Some(e)) = (obj.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        obj
    };
    assert_valid(&create(
        "",
        "ConfigMap",
        true,
        &cm(json!({"data": {"a.txt": "x", "B_2-c": "y"}, "binaryData": {"bin": "AAEC"}})),
    ));
    let errs = create(
        "",
        "ConfigMap",
        true,
        &cm(
            json!({"data": {"bad key": "x", "..": "y", "dup": "z"}, "binaryData": {"dup": "AA==", "b": "not base64!"}}),
        ),
    );
    assert_has(&errs, "data[bad key]", CauseType::Invalid);
    assert_has(&errs, "data[..]", CauseType::Invalid);
    assert_eq!(
        assert_has(&errs, "data[dup]", CauseType::Invalid).detail,
        "duplicate of key present in binaryData"
    );
    assert_has(&errs, "binaryData[b]", CauseType::Invalid);
    let big = "x".repeat(1024 * 1024 + 1);
    assert_has(
        &create("", "ConfigMap", true, &cm(json!({"data": {"a": big}}))),
        "",
        CauseType::TooLong,
    );

    let old = cm(json!({"data": {"a": "1"}, "immutable": true}));
    assert_valid(&validate_update("", "ConfigMap", true, &old, &old));
    let errs = validate_update(
        "",
        "ConfigMap",
        true,
        &cm(json!({"data": {"a": "2"}})),
        &old,
    );
    assert_has(&errs, "immutable", CauseType::Forbidden);
    assert_has(&errs, "data", CauseType::Forbidden);
}

#[test]
fn secret_rules() {
    let secret = |extra: Value| {
        let mut obj = json!({"metadata": {"name": "s", "namespace": "d"}});
        if let (Some(o), Some(e)) = (obj.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        defaulted("", "Secret", obj)
    };
    assert_valid(&create(
        "",
        "Secret",
        true,
        &secret(json!({"data": {"password": "cGFzcw=="}, "stringData": {"user": "me"}})),
    ));
    let errs = create("", "Secret", true, &secret(json!({"data": {"k": "%%%"}})));
    let e = assert_has(&errs, "data[k]", CauseType::Invalid);
    assert!(e.detail.starts_with("illegal base64 data at input byte"));

    let errs = create(
        "",
        "Secret",
        true,
        &secret(json!({"type": "kubernetes.io/service-account-token"})),
    );
    assert_has(
        &errs,
        "metadata.annotations[kubernetes.io/service-account.name]",
        CauseType::Required,
    );
    let errs = create(
        "",
        "Secret",
        true,
        &secret(json!({"type": "kubernetes.io/dockerconfigjson"})),
    );
    assert_has(&errs, "data[.dockerconfigjson]", CauseType::Required);
    let errs = create(
        "",
        "Secret",
        true,
        &secret(
            json!({"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "{not json"}}),
        ),
    );
    assert_has(&errs, "data[.dockerconfigjson]", CauseType::Invalid);
    assert_valid(&create(
        "",
        "Secret",
        true,
        &secret(
            json!({"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "{\"auths\":{}}"}}),
        ),
    ));
    let errs = create(
        "",
        "Secret",
        true,
        &secret(json!({"type": "kubernetes.io/tls", "stringData": {"tls.crt": "x"}})),
    );
    assert_has(&errs, "data[tls.key]", CauseType::Required);
    let errs = create(
        "",
        "Secret",
        true,
        &secret(json!({"type": "kubernetes.io/basic-auth"})),
    );
    assert_has(&errs, "data[username]", CauseType::Required);

    let old = secret(json!({"data": {"a": "eA=="}, "immutable": true}));
    let errs = validate_update(
        "",
        "Secret",
        true,
        &secret(json!({"data": {"a": "eQ=="}, "immutable": true, "type": "Other"})),
        &old,
    );
    assert_has(&errs, "data", CauseType::Forbidden);
    assert_eq!(
        assert_has(&errs, "type", CauseType::Invalid).detail,
        "field is immutable"
    );
    assert_has(
        &validate_update(
            "",
            "Secret",
            true,
            &secret(json!({"data": {"a": "eA=="}})),
            &old,
        ),
        "immutable",
        CauseType::Forbidden,
    );
}

#[test]
fn base64_round_trip() {
    for data in [
        &b""[..],
        b"a",
        b"ab",
        b"abc",
        b"abcd",
        &[0u8, 255, 128, 7, 9][..],
    ] {
        let enc = encode_base64(data);
        assert_eq!(config::decode_base64(&enc).as_deref(), Ok(data));
    }
    assert_eq!(config::decode_base64("eA=="), Ok(b"x".to_vec()));
    assert!(config::decode_base64("eA=").is_err());
    assert!(config::decode_base64("e===").is_err());
    assert!(config::decode_base64("eA==eA==").is_err());
    assert_eq!(config::decode_base64("aGVs\nbG8="), Ok(b"hello".to_vec()));
}

#[test]
fn namespace_rules() {
    let ns = defaulted(
        "",
        "Namespace",
        json!({"metadata": {"name": "dev"}, "spec": {"finalizers": ["kubernetes", "example.com/x"]}}),
    );
    assert_valid(&create("", "Namespace", false, &ns));
    let bad = json!({"metadata": {"name": "dev"}, "spec": {"finalizers": ["custom", "-x"]}});
    let errs = create("", "Namespace", false, &bad);
    assert_eq!(
        errs.iter().filter(|e| e.field == "spec.finalizers").count(),
        3
    );
}

#[test]
fn rbac_rules() {
    let g = "rbac.authorization.k8s.io";
    let role = json!({"metadata": {"name": "r", "namespace": "d"}, "rules": [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": [], "nonResourceURLs": ["/healthz"]},
        {"verbs": ["get"]}
    ]});
    let errs = create(g, "Role", true, &role);
    assert_has(&errs, "rules[1].verbs", CauseType::Required);
    assert_has(&errs, "rules[1].nonResourceURLs", CauseType::Invalid);
    assert_has(&errs, "rules[2].apiGroups", CauseType::Required);
    assert_has(&errs, "rules[2].resources", CauseType::Required);

    let binding = defaulted(
        g,
        "ClusterRoleBinding",
        json!({"metadata": {"name": "b"},
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "d"}, {"kind": "User", "name": "alice"}]}),
    );
    assert_valid(&create(g, "ClusterRoleBinding", false, &binding));
    let mut moved = binding.clone();
    moved["roleRef"]["name"] = json!("edit");
    assert_eq!(
        assert_has(
            &validate_update(g, "ClusterRoleBinding", false, &moved, &binding),
            "roleRef",
            CauseType::Invalid
        )
        .detail,
        "cannot change roleRef"
    );
    let bad = json!({"metadata": {"name": "b"}, "roleRef": {"apiGroup": "x", "kind": "Role", "name": ""},
        "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "Robot", "name": "r"}]});
    let errs = create(g, "ClusterRoleBinding", false, &bad);
    assert_has(&errs, "roleRef.apiGroup", CauseType::NotSupported);
    assert_has(&errs, "roleRef.kind", CauseType::NotSupported);
    assert_has(&errs, "roleRef.name", CauseType::Required);
    assert_has(&errs, "subjects[0].namespace", CauseType::Required);
    assert_has(&errs, "subjects[1].kind", CauseType::NotSupported);
}

// ---------------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_types_are_invalid_not_panics() {
    let errs = create(
        "",
        "Pod",
        true,
        &json!({"metadata": {"name": 5, "namespace": "d"}, "spec": {"containers": "x"}}),
    );
    assert_has(&errs, "metadata.name", CauseType::Invalid);
    assert_has(&errs, "spec.containers", CauseType::Invalid);
    let errs = create(
        "",
        "Pod",
        true,
        &json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": [7]}}),
    );
    assert_has(&errs, "spec.containers[0]", CauseType::Invalid);
    let errs = create("", "ConfigMap", true, &json!([1, 2]));
    assert_has(&errs, "", CauseType::Invalid);
}

/// Odd JSON shapes, placed everywhere a validator looks, must never panic.
#[test]
fn garbage_never_panics() {
    let odd = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e300),
        json!(18446744073709551615u64),
        json!(""),
        json!("\u{0}\u{2028}é"),
        json!([]),
        json!([null, 1, "x", {}, []]),
        json!({}),
        json!({"a": {"b": [null]}}),
    ];
    let fields = [
        "metadata",
        "spec",
        "data",
        "binaryData",
        "stringData",
        "type",
        "immutable",
        "rules",
        "roleRef",
        "subjects",
        "template",
    ];
    let spec_fields = [
        "containers",
        "initContainers",
        "ephemeralContainers",
        "volumes",
        "ports",
        "selector",
        "template",
        "strategy",
        "updateStrategy",
        "tolerations",
        "clusterIP",
        "clusterIPs",
        "type",
        "sessionAffinity",
        "sessionAffinityConfig",
        "replicas",
        "jobTemplate",
        "schedule",
        "finalizers",
        "dnsConfig",
        "imagePullSecrets",
        "volumeClaimTemplates",
        "persistentVolumeClaimRetentionPolicy",
        "externalIPs",
        "activeDeadlineSeconds",
        "schedulingGates",
        "readinessGates",
        "podFailurePolicy",
        "ordinals",
    ];
    let container_fields = [
        "name",
        "image",
        "ports",
        "env",
        "envFrom",
        "volumeMounts",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "lifecycle",
        "restartPolicy",
        "imagePullPolicy",
        "resources",
    ];
    let kinds = [
        ("", "Pod"),
        ("", "PodTemplate"),
        ("", "Service"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Namespace"),
        ("", "ServiceAccount"),
        ("", "ReplicationController"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("example.com", "Widget"),
    ];
    let base = good_pod();
    let mut samples: Vec<Value> = odd.to_vec();
    for v in &odd {
        for f in fields {
            let mut s = base.clone();
            s[f] = v.clone();
            samples.push(s);
        }
        for f in spec_fields {
            let mut s = base.clone();
            s["spec"][f] = v.clone();
            samples.push(s.clone());
            s["spec"]["template"] = base.clone();
            s["spec"]["template"]["spec"][f] = v.clone();
            samples.push(s);
        }
        for f in container_fields {
            let mut s = base.clone();
            s["spec"]["containers"][0][f] = v.clone();
            samples.push(s);
        }
        let mut s = base.clone();
        s["spec"]["containers"][0]["ports"][0] = v.clone();
        samples.push(s);
        for f in [
            "name",
            "namespace",
            "labels",
            "annotations",
            "ownerReferences",
            "finalizers",
            "generateName",
            "generation",
        ] {
            let mut s = base.clone();
            s["metadata"][f] = v.clone();
            samples.push(s);
        }
    }
    for sample in &samples {
        for (g, k) in kinds {
            let mut d = sample.clone();
            apply_defaults(g, k, &mut d);
            let _ = validate_create(g, k, true, sample);
            let _ = validate_create(g, k, false, &d);
            let _ = validate_update(g, k, true, sample, &base);
            let _ = validate_update(g, k, true, &base, sample);
            for e in validate_create(g, k, true, &d) {
                let _ = e.message();
            }
        }
    }
}

#[test]
fn regex_error_examples_are_spelled_like_upstream() {
    assert_eq!(
        validate_qualified_name("-x"),
        vec!["name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_string()]
    );
}

#[test]
fn resource_quotas_are_validated_as_upstream() {
    let quota = |spec: Value| json!({"metadata": {"name": "q", "namespace": "ns"}, "spec": spec});
    assert_valid(&create(
        "",
        "ResourceQuota",
        true,
        &quota(
            json!({"hard": {"pods": "10", "requests.cpu": "1500m", "count/deployments.apps": "3",
            "requests.nvidia.com/gpu": "2", "hugepages-2Mi": "1Gi"}}),
        ),
    ));
    assert_valid(&create(
        "",
        "ResourceQuota",
        true,
        &quota(json!({"hard": {"pods": "10", "requests.cpu": "1500m"},
            "scopeSelector": {"matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}})),
    ));
    let errs = create(
        "",
        "ResourceQuota",
        true,
        &quota(
            json!({"hard": {"foo": "1", "storage": "1Gi", "pods": "1500m",
            "configmaps": "-1"}, "scopes": ["BestEffort", "NotBestEffort"]}),
        ),
    );
    let msgs: Vec<String> = errs.iter().map(FieldError::message).collect();
    for want in [
        "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource type or fully qualified",
        "spec.hard[foo]: Invalid value: \"foo\": must be a standard resource for quota",
        "spec.hard[storage]: Invalid value: \"storage\": must be a standard resource for quota",
        "spec.hard[pods]: Invalid value: \"1500m\": must be an integer",
        "spec.hard[configmaps]: Invalid value: \"-1\": must be greater than or equal to 0",
        "spec.scopes: Invalid value: [\"BestEffort\",\"NotBestEffort\"]: conflicting scopes",
        "spec.scopes: Invalid value: [\"BestEffort\",\"NotBestEffort\"]: unsupported scope applied to resource",
    ] {
        assert!(msgs.iter().any(|m| m == want), "missing {want:?} in {msgs:#?}");
    }
    let errs = create(
        "",
        "ResourceQuota",
        true,
        &quota(
            json!({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [
            {"scopeName": "Terminating", "operator": "In", "values": ["x"]},
            {"scopeName": "PriorityClass", "operator": "In"}]}}),
        ),
    );
    assert_has(
        &errs,
        "spec.scopeSelector.matchExpressions.operator",
        CauseType::Invalid,
    );
    assert_has(
        &errs,
        "spec.scopeSelector.matchExpressions.values",
        CauseType::Required,
    );
    // Scopes may not change.
    let old = quota(json!({"hard": {"pods": "1"}, "scopes": ["Terminating"]}));
    let new = quota(json!({"hard": {"pods": "1"}, "scopes": ["NotTerminating"]}));
    let errs = validate_update("", "ResourceQuota", true, &new, &old);
    assert_has(&errs, "spec.scopes", CauseType::Invalid);
}
