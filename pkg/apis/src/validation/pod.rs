//! Pods and pod templates (upstream `ValidatePodCreate`, `ValidatePodSpec`, `ValidatePodUpdate`,
//! `ValidatePodTemplateSpec`).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::formats;
use super::meta::{validate_annotations_into, validate_labels_into};
use super::util::*;

const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];
const DNS_POLICIES: [&str; 4] = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
const CONTAINER_RESTART_POLICIES: [&str; 3] = ["Always", "Never", "OnFailure"];
const FILE_MODE_ERR: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const HOST_PATH_TYPES: [&str; 8] = [
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];
/// Volume sources in the order upstream checks them (the first one found wins; later ones are
/// reported as "more than 1 volume type").
const VOLUME_SOURCES: [&str; 30] = [
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
];
const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";
const MAX_INT32: i64 = i32::MAX as i64;

/// A Pod on create (and, with `old`, on update).
pub(crate) fn validate_pod(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let spec = get_object(obj, "spec", "", errs).unwrap_or(&empty);
    validate_pod_spec(spec, "spec", errs);

    for list in ["containers", "initContainers"] {
        for (_, cp, c) in object_items(spec, list, "spec", &mut Errs::new()) {
            let image = str_or_empty(c, "image", &cp, &mut Errs::new());
            if image.len() != image.trim().len() {
                errs.push(invalid(
                    child(&cp, "image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }

    match old {
        None => {
            if !get_array(spec, "ephemeralContainers", "spec", &mut Errs::new()).is_empty() {
                errs.push(forbidden(
                    "spec.ephemeralContainers",
                    "cannot be set on create",
                ));
            }
            let node_name = str_or_empty(spec, "nodeName", "spec", &mut Errs::new());
            let gates = get_array(spec, "schedulingGates", "spec", &mut Errs::new());
            if !node_name.is_empty() && !gates.is_empty() {
                errs.push(forbidden(
                    "spec.nodeName",
                    "cannot be set until all schedulingGates have been cleared",
                ));
            }
        }
        Some(old) => {
            let old_spec = get(old, "spec").unwrap_or(&empty);
            validate_pod_spec_update(spec, old_spec, errs);
        }
    }
}

/// A core PodTemplate object (`template` at the top level).
pub(crate) fn validate_pod_template(obj: &Value, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let template = get_object(obj, "template", "", errs).unwrap_or(&empty);
    validate_pod_template_spec(template, "template", errs);
}

/// Upstream `ValidatePodTemplateSpec`: template labels/annotations and the pod spec.
pub(crate) fn validate_pod_template_spec(template: &Value, path: &str, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let meta_path = child(path, "metadata");
    if let Some(m) = get_object(template, "metadata", path, errs) {
        if let Some(labels) = get(m, "labels") {
            validate_labels_into(labels, &child(path, "labels"), errs);
        }
        if let Some(annotations) = get(m, "annotations") {
            validate_annotations_into(annotations, &child(path, "annotations"), errs);
        }
    }
    let _ = meta_path;
    let spec_path = child(path, "spec");
    let spec = get_object(template, "spec", path, errs).unwrap_or(&empty);
    validate_pod_spec(spec, &spec_path, errs);
    if !get_array(spec, "ephemeralContainers", &spec_path, &mut Errs::new()).is_empty() {
        errs.push(forbidden(
            child(&spec_path, "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

/// Upstream `ValidatePodSpec`.
pub(crate) fn validate_pod_spec(spec: &Value, path: &str, errs: &mut Errs) {
    let grace = get_int(spec, "terminationGracePeriodSeconds", path, errs);
    if !has(spec, "terminationGracePeriodSeconds") {
        errs.push(required(child(path, "terminationGracePeriodSeconds"), ""));
    }

    let volumes = validate_volumes(spec, path, errs);
    validate_containers(spec, path, &volumes, grace, errs);
    validate_init_containers(spec, path, &volumes, grace, errs);

    required_enum(spec, "restartPolicy", path, &RESTART_POLICIES, errs);
    required_enum(spec, "dnsPolicy", path, &DNS_POLICIES, errs);
    if let Some(selector) = get(spec, "nodeSelector") {
        validate_labels_into(selector, &child(path, "nodeSelector"), errs);
    }
    for (_, ip, secret) in object_items(spec, "imagePullSecrets", path, errs) {
        let only_name = secret
            .as_object()
            .map(|m| m.iter().all(|(k, v)| k == "name" || v.is_null()))
            .unwrap_or(false);
        if !only_name {
            errs.push(invalid(ip, secret.clone(), "only name may be set"));
        }
    }
    for (i, gate) in object_items(spec, "readinessGates", path, errs)
        .into_iter()
        .map(|(i, _, g)| (i, g))
    {
        let gp = index(&child(path, "readinessGates"), i);
        let ct = str_or_empty(gate, "conditionType", &gp, errs);
        invalid_each(
            errs,
            &child(&gp, "conditionType"),
            ct,
            formats::qualified_name(ct),
        );
    }
    let mut gates_seen = HashSet::new();
    for (_, gp, gate) in object_items(spec, "schedulingGates", path, errs) {
        let name = str_or_empty(gate, "name", &gp, errs);
        invalid_each(errs, &gp, name, formats::qualified_name(name));
        if !gates_seen.insert(name) {
            errs.push(duplicate(gp, name));
        }
    }

    for (field, rule) in [
        (
            "serviceAccountName",
            formats::dns1123_subdomain as fn(&str) -> Vec<String>,
        ),
        ("nodeName", formats::dns1123_subdomain),
        ("hostname", formats::dns1123_label),
        ("subdomain", formats::dns1123_label),
        ("priorityClassName", formats::dns1123_subdomain),
    ] {
        let v = str_or_empty(spec, field, path, errs);
        if !v.is_empty() {
            invalid_each(errs, &child(path, field), v, rule(v));
        }
    }
    if let Some(ads) = get_int(spec, "activeDeadlineSeconds", path, errs) {
        if !(1..=MAX_INT32).contains(&ads) {
            errs.push(invalid(
                child(path, "activeDeadlineSeconds"),
                ads,
                formats::inclusive_range_error(1, MAX_INT32),
            ));
        }
    }
    validate_tolerations(spec, path, errs);
    if let Some(policy) = get_str(spec, "preemptionPolicy", path, errs) {
        let p = child(path, "preemptionPolicy");
        match policy {
            "PreemptLowerPriority" | "Never" => {}
            "" => errs.push(required(p, "")),
            other => errs.push(not_supported(p, other, &["PreemptLowerPriority", "Never"])),
        }
    }
    if let Some(dns_config) = get_object(spec, "dnsConfig", path, errs) {
        let dp = child(path, "dnsConfig");
        let nameservers = string_items(dns_config, "nameservers", &dp, errs);
        if str_or_empty(spec, "dnsPolicy", path, &mut Errs::new()) == "None"
            && nameservers.is_empty()
        {
            errs.push(required(
                child(&dp, "nameservers"),
                "must provide at least one DNS nameserver when DNSPolicy is None",
            ));
        }
        if nameservers.len() > 3 {
            errs.push(invalid(
                child(&dp, "nameservers"),
                get(dns_config, "nameservers")
                    .cloned()
                    .unwrap_or(Value::Null),
                "must not have more than 3 nameservers",
            ));
        }
        for (i, ns) in nameservers {
            if !formats::is_ip(ns) {
                errs.push(invalid(
                    index(&child(&dp, "nameservers"), i),
                    ns,
                    "must be a valid IP address",
                ));
            }
        }
    } else if str_or_empty(spec, "dnsPolicy", path, &mut Errs::new()) == "None" {
        errs.push(required(
            child(path, "dnsConfig"),
            "must provide `dnsConfig` when `dnsPolicy` is None",
        ));
    }
}

/// A required string member restricted to `allowed`.
pub(crate) fn required_enum(v: &Value, k: &str, path: &str, allowed: &[&str], errs: &mut Errs) {
    let value = str_or_empty(v, k, path, errs);
    let p = child(path, k);
    if value.is_empty() {
        errs.push(required(p, ""));
    } else if !allowed.contains(&value) {
        errs.push(not_supported(p, value, allowed));
    }
}

/// Upstream `ValidateVolumes`: returns the names of the valid volumes.
fn validate_volumes(spec: &Value, path: &str, errs: &mut Errs) -> HashSet<String> {
    let mut names = HashSet::new();
    for (_, vp, vol) in object_items(spec, "volumes", path, errs) {
        let mut el = Errs::new();
        validate_volume_source(vol, &vp, &mut el);
        let name = str_or_empty(vol, "name", &vp, &mut el);
        let np = child(&vp, "name");
        if name.is_empty() {
            el.push(required(np.clone(), ""));
        } else {
            invalid_each(&mut el, &np, name, formats::dns1123_label(name));
        }
        if names.contains(name) {
            el.push(duplicate(np, name));
        }
        if el.is_empty() {
            names.insert(name.to_string());
        } else {
            errs.extend(el);
        }
    }
    names
}

fn validate_volume_source(vol: &Value, path: &str, errs: &mut Errs) {
    let mut found = 0;
    for source in VOLUME_SOURCES {
        let Some(s) = get(vol, source) else { continue };
        let sp = child(path, source);
        if found > 0 {
            errs.push(forbidden(sp, "may not specify more than 1 volume type"));
            continue;
        }
        found += 1;
        if !s.is_object() {
            errs.push(invalid(sp, s.clone(), "must be of type object"));
            continue;
        }
        match source {
            "hostPath" => {
                let p = str_or_empty(s, "path", &sp, errs);
                if p.is_empty() {
                    errs.push(required(child(&sp, "path"), ""));
                } else {
                    no_backsteps(p, &child(&sp, "path"), errs);
                    if let Some(t) = get_str(s, "type", &sp, errs) {
                        if !HOST_PATH_TYPES.contains(&t) {
                            errs.push(not_supported(child(&sp, "type"), t, &HOST_PATH_TYPES));
                        }
                    }
                }
            }
            "secret" => {
                if str_or_empty(s, "secretName", &sp, errs).is_empty() {
                    errs.push(required(child(&sp, "secretName"), ""));
                }
                file_mode(s, "defaultMode", &sp, errs);
                key_to_paths(s, &sp, errs);
            }
            "configMap" => {
                if str_or_empty(s, "name", &sp, errs).is_empty() {
                    errs.push(required(child(&sp, "name"), ""));
                }
                file_mode(s, "defaultMode", &sp, errs);
                key_to_paths(s, &sp, errs);
            }
            "persistentVolumeClaim" => require_str(s, "claimName", &sp, errs),
            "nfs" => {
                if str_or_empty(s, "server", &sp, errs).is_empty() {
                    errs.push(required(child(&sp, "server"), ""));
                }
                let p = str_or_empty(s, "path", &sp, errs);
                if p.is_empty() {
                    errs.push(required(child(&sp, "path"), ""));
                }
                if !p.starts_with('/') {
                    errs.push(invalid(child(&sp, "path"), p, "must be an absolute path"));
                }
            }
            "downwardAPI" => {
                file_mode(s, "defaultMode", &sp, errs);
                for (_, ip, item) in object_items(s, "items", &sp, errs) {
                    // Upstream reports item errors on the source path, not the item's.
                    let _ = ip;
                    downward_api_file(item, &sp, errs);
                }
            }
            "projected" => file_mode(s, "defaultMode", &sp, errs),
            "csi" => require_str(s, "driver", &sp, errs),
            "ephemeral" if !has(s, "volumeClaimTemplate") => {
                errs.push(required(child(&sp, "volumeClaimTemplate"), ""));
            }
            _ => {}
        }
    }
    if found == 0 {
        errs.push(required(path, "must specify a volume type"));
    }
}

/// `Required` on member `k` when it is an empty (or absent) string.
fn require_str(v: &Value, k: &str, path: &str, errs: &mut Errs) {
    let empty = str_or_empty(v, k, path, errs).is_empty();
    push_required_if(empty, child(path, k), errs);
}

fn push_required_if(condition: bool, field: String, errs: &mut Errs) {
    if condition {
        errs.push(required(field, ""));
    }
}

fn file_mode(s: &Value, k: &str, path: &str, errs: &mut Errs) {
    if let Some(mode) = get_i32(s, k, path, errs) {
        if !(0..=0o777).contains(&mode) {
            errs.push(invalid(child(path, k), mode, FILE_MODE_ERR));
        }
    }
}

fn key_to_paths(s: &Value, path: &str, errs: &mut Errs) {
    for (_, ip, item) in object_items(s, "items", path, errs) {
        if str_or_empty(item, "key", &ip, errs).is_empty() {
            errs.push(required(child(&ip, "key"), ""));
        }
        let p = str_or_empty(item, "path", &ip, errs);
        if p.is_empty() {
            errs.push(required(child(&ip, "path"), ""));
        }
        local_non_reserved_path(p, &child(&ip, "path"), errs);
        file_mode(item, "mode", &ip, errs);
    }
}

fn downward_api_file(item: &Value, path: &str, errs: &mut Errs) {
    let p = str_or_empty(item, "path", path, errs);
    if p.is_empty() {
        errs.push(required(child(path, "path"), ""));
    }
    local_non_reserved_path(p, &child(path, "path"), errs);
    let field_ref = get_object(item, "fieldRef", path, errs);
    let resource_ref = get_object(item, "resourceFieldRef", path, errs);
    match (field_ref, resource_ref) {
        (Some(_), Some(_)) => errs.push(invalid(
            path,
            "resource",
            "fieldRef and resourceFieldRef can not be specified simultaneously",
        )),
        (None, None) => errs.push(required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        )),
        _ => {}
    }
    file_mode(item, "mode", path, errs);
}

/// Relative, no `..` element, not starting with `..`.
fn local_non_reserved_path(p: &str, path: &str, errs: &mut Errs) {
    local_descending_path(p, path, errs);
    if p.starts_with("..") && !p.starts_with("../") {
        errs.push(invalid(path, p, "must not start with '..'"));
    }
}

fn local_descending_path(p: &str, path: &str, errs: &mut Errs) {
    if p.starts_with('/') {
        errs.push(invalid(path, p, "must be a relative path"));
    }
    no_backsteps(p, path, errs);
}

fn no_backsteps(p: &str, path: &str, errs: &mut Errs) {
    if p.replace('\\', "/").split('/').any(|part| part == "..") {
        errs.push(invalid(path, p, "must not contain '..'"));
    }
}

/// Upstream `validateContainers` (regular containers).
fn validate_containers(
    spec: &Value,
    path: &str,
    volumes: &HashSet<String>,
    grace: Option<i64>,
    errs: &mut Errs,
) {
    let items = object_items(spec, "containers", path, errs);
    if get_array(spec, "containers", path, &mut Errs::new()).is_empty() {
        errs.push(required(child(path, "containers"), ""));
        return;
    }
    let mut names = HashSet::new();
    for (_, cp, c) in &items {
        validate_container_common(c, cp, volumes, errs);
        let name = str_or_empty(c, "name", cp, &mut Errs::new());
        if !names.insert(name) {
            errs.push(duplicate(child(cp, "name"), name));
        }
        if let Some(lifecycle) = get_object(c, "lifecycle", cp, errs) {
            validate_lifecycle(lifecycle, &child(cp, "lifecycle"), grace, errs);
        }
        validate_probes(c, cp, errs);
        if let Some(policy) = get_str(c, "restartPolicy", cp, errs) {
            if !CONTAINER_RESTART_POLICIES.contains(&policy) {
                errs.push(not_supported(
                    child(cp, "restartPolicy"),
                    policy,
                    &CONTAINER_RESTART_POLICIES,
                ));
            }
        }
    }
    check_host_port_conflicts(&items, errs);
}

/// Upstream `validateInitContainers`.
fn validate_init_containers(
    spec: &Value,
    path: &str,
    volumes: &HashSet<String>,
    grace: Option<i64>,
    errs: &mut Errs,
) {
    let mut names: HashSet<&str> = object_items(spec, "containers", path, &mut Errs::new())
        .into_iter()
        .map(|(_, _, c)| str_or_empty(c, "name", "", &mut Errs::new()))
        .collect();
    for (i, cp, c) in object_items(spec, "initContainers", path, errs) {
        validate_container_common(c, &cp, volumes, errs);
        let policy = get_str(c, "restartPolicy", &cp, errs);
        if let Some(p) = policy {
            if !CONTAINER_RESTART_POLICIES.contains(&p) {
                errs.push(not_supported(
                    child(&cp, "restartPolicy"),
                    p,
                    &CONTAINER_RESTART_POLICIES,
                ));
            }
        }
        let name = str_or_empty(c, "name", &cp, &mut Errs::new());
        if names.contains(name) {
            errs.push(duplicate(child(&cp, "name"), name));
        } else if !name.is_empty() {
            names.insert(name);
        }
        check_host_port_conflicts(&[(i, cp.clone(), c)], errs);
        if policy == Some("Always") {
            if let Some(lifecycle) = get_object(c, "lifecycle", &cp, errs) {
                validate_lifecycle(lifecycle, &child(&cp, "lifecycle"), grace, errs);
            }
            validate_probes(c, &cp, errs);
        } else {
            for field in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if has(c, field) {
                    errs.push(forbidden(
                        child(&cp, field),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
}

/// Upstream `validateContainerCommon`: name, image, ports, env, mounts, pull policy.
fn validate_container_common(c: &Value, cp: &str, volumes: &HashSet<String>, errs: &mut Errs) {
    let name = str_or_empty(c, "name", cp, errs);
    if name.is_empty() {
        errs.push(required(child(cp, "name"), ""));
    } else {
        invalid_each(errs, &child(cp, "name"), name, formats::dns1123_label(name));
    }
    if str_or_empty(c, "image", cp, errs).is_empty() {
        errs.push(required(child(cp, "image"), ""));
    }
    required_enum(
        c,
        "terminationMessagePolicy",
        cp,
        &["File", "FallbackToLogsOnError"],
        errs,
    );
    validate_container_ports(c, cp, errs);
    validate_env(c, cp, errs);
    validate_env_from(c, cp, errs);
    validate_volume_mounts(c, cp, volumes, errs);
    let pull = str_or_empty(c, "imagePullPolicy", cp, errs);
    let pp = child(cp, "imagePullPolicy");
    if pull.is_empty() {
        errs.push(required(pp, ""));
    } else if !PULL_POLICIES.contains(&pull) {
        errs.push(not_supported(pp, pull, &PULL_POLICIES));
    }
}

fn validate_container_ports(c: &Value, cp: &str, errs: &mut Errs) {
    let mut names = HashSet::new();
    for (_, pp, port) in object_items(c, "ports", cp, errs) {
        let name = str_or_empty(port, "name", &pp, errs);
        if !name.is_empty() {
            let msgs = formats::port_name(name);
            if !msgs.is_empty() {
                invalid_each(errs, &child(&pp, "name"), name, msgs);
            } else if !names.insert(name) {
                errs.push(duplicate(child(&pp, "name"), name));
            }
        }
        match get_i32(port, "containerPort", &pp, errs) {
            None | Some(0) => errs.push(required(child(&pp, "containerPort"), "")),
            Some(n) => {
                for msg in formats::port_num(n) {
                    errs.push(invalid(child(&pp, "containerPort"), n, msg));
                }
            }
        }
        if let Some(n) = get_i32(port, "hostPort", &pp, errs) {
            if n != 0 {
                for msg in formats::port_num(n) {
                    errs.push(invalid(child(&pp, "hostPort"), n, msg));
                }
            }
        }
        required_enum(port, "protocol", &pp, &PROTOCOLS, errs);
    }
}

fn check_host_port_conflicts(containers: &[(usize, String, &Value)], errs: &mut Errs) {
    let mut seen = HashSet::new();
    for (_, cp, c) in containers {
        for (_, pp, port) in object_items(c, "ports", cp, &mut Errs::new()) {
            let mut ignored = Errs::new();
            let host_port = get_i32(port, "hostPort", &pp, &mut ignored).unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{}",
                str_or_empty(port, "protocol", &pp, &mut ignored),
                str_or_empty(port, "hostIP", &pp, &mut ignored),
                host_port
            );
            if seen.contains(&key) {
                errs.push(duplicate(child(&pp, "hostPort"), key));
            } else {
                seen.insert(key);
            }
        }
    }
}

fn validate_env(c: &Value, cp: &str, errs: &mut Errs) {
    for (_, ep, env) in object_items(c, "env", cp, errs) {
        let name = str_or_empty(env, "name", &ep, errs);
        if name.is_empty() {
            errs.push(required(child(&ep, "name"), ""));
        } else {
            invalid_each(errs, &child(&ep, "name"), name, formats::env_var_name(name));
        }
        let Some(value_from) = get_object(env, "valueFrom", &ep, errs) else {
            continue;
        };
        let vp = child(&ep, "valueFrom");
        let mut sources = 0;
        if let Some(fr) = get_object(value_from, "fieldRef", &vp, errs) {
            sources += 1;
            validate_object_field_selector(fr, &child(&vp, "fieldRef"), errs);
        }
        if let Some(rr) = get_object(value_from, "resourceFieldRef", &vp, errs) {
            sources += 1;
            let rp = child(&vp, "resourceFieldRef");
            if str_or_empty(rr, "resource", &rp, errs).is_empty() {
                errs.push(required(child(&rp, "resource"), ""));
            }
        }
        for kind in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(kr) = get_object(value_from, kind, &vp, errs) {
                sources += 1;
                let kp = child(&vp, kind);
                let name = str_or_empty(kr, "name", &kp, errs);
                invalid_each(
                    errs,
                    &child(&kp, "name"),
                    name,
                    formats::dns1123_subdomain(name),
                );
                let key = str_or_empty(kr, "key", &kp, errs);
                if key.is_empty() {
                    errs.push(required(child(&kp, "key"), ""));
                } else {
                    invalid_each(errs, &child(&kp, "key"), key, formats::config_map_key(key));
                }
            }
        }
        if let Some(fk) = get_object(value_from, "fileKeyRef", &vp, errs) {
            sources += 1;
            let fp = child(&vp, "fileKeyRef");
            for field in ["key", "path", "volumeName"] {
                if str_or_empty(fk, field, &fp, errs).is_empty() {
                    errs.push(required(child(&fp, field), ""));
                }
            }
        }
        let value = str_or_empty(env, "value", &ep, errs);
        if sources == 0 {
            errs.push(invalid(
                vp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`",
            ));
        } else if !value.is_empty() {
            errs.push(invalid(
                vp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errs.push(invalid(
                vp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn validate_object_field_selector(fr: &Value, path: &str, errs: &mut Errs) {
    if str_or_empty(fr, "apiVersion", path, errs).is_empty() {
        errs.push(required(child(path, "apiVersion"), ""));
        return;
    }
    let fp = str_or_empty(fr, "fieldPath", path, errs);
    if fp.is_empty() {
        errs.push(required(child(path, "fieldPath"), ""));
        return;
    }
    if let Some((base, rest)) = fp.split_once('[') {
        let subscript = rest
            .strip_suffix(']')
            .map(|s| s.trim_matches('\''))
            .unwrap_or(rest);
        match base {
            "metadata.annotations" => {
                let lower = subscript.to_lowercase();
                invalid_each(errs, path, &lower, formats::qualified_name(&lower));
            }
            "metadata.labels" => {
                invalid_each(errs, path, subscript, formats::qualified_name(subscript))
            }
            other => errs.push(invalid(path, other, "does not support subscript")),
        }
    } else if !ENV_FIELD_PATHS.contains(&fp) {
        let mut supported = ENV_FIELD_PATHS;
        supported.sort_unstable();
        errs.push(not_supported(child(path, "fieldPath"), fp, &supported));
    }
}

fn validate_env_from(c: &Value, cp: &str, errs: &mut Errs) {
    let list_path = child(cp, "envFrom");
    for (_, ep, env) in object_items(c, "envFrom", cp, errs) {
        let prefix = str_or_empty(env, "prefix", &ep, errs);
        if !prefix.is_empty() {
            invalid_each(
                errs,
                &child(&ep, "prefix"),
                prefix,
                formats::env_var_name(prefix),
            );
        }
        let mut sources = 0;
        for kind in ["configMapRef", "secretRef"] {
            if let Some(r) = get_object(env, kind, &ep, errs) {
                sources += 1;
                let rp = child(&ep, kind);
                let name = str_or_empty(r, "name", &rp, errs);
                if name.is_empty() {
                    errs.push(required(child(&rp, "name"), ""));
                } else {
                    let masked = formats::mask_trailing_dash(name);
                    invalid_each(
                        errs,
                        &child(&rp, "name"),
                        name,
                        formats::dns1123_subdomain(&masked),
                    );
                }
            }
        }
        if sources == 0 {
            errs.push(invalid(
                list_path.clone(),
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if sources > 1 {
            errs.push(invalid(
                list_path.clone(),
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn validate_volume_mounts(c: &Value, cp: &str, volumes: &HashSet<String>, errs: &mut Errs) {
    let list_path = child(cp, "volumeMounts");
    let mut mount_points = HashSet::new();
    for (_, mp, mount) in object_items(c, "volumeMounts", cp, errs) {
        let name = str_or_empty(mount, "name", &mp, errs);
        if name.is_empty() {
            errs.push(required(child(&mp, "name"), ""));
        }
        if !volumes.contains(name) {
            // Upstream reports `Not found`; the closest reason we carry is Invalid.
            errs.push(invalid(child(&mp, "name"), name, "not found"));
        }
        let mount_path = str_or_empty(mount, "mountPath", &mp, errs);
        if mount_path.is_empty() {
            errs.push(required(child(&mp, "mountPath"), ""));
        }
        if !mount_points.insert(mount_path) {
            errs.push(invalid(
                child(&mp, "mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        let sub_path = str_or_empty(mount, "subPath", &mp, errs);
        if !sub_path.is_empty() {
            local_descending_path(sub_path, &child(&list_path, "subPath"), errs);
        }
        let sub_path_expr = str_or_empty(mount, "subPathExpr", &mp, errs);
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errs.push(invalid(
                    child(&mp, "subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            local_descending_path(sub_path_expr, &child(&list_path, "subPathExpr"), errs);
        }
    }
}

fn validate_probes(c: &Value, cp: &str, errs: &mut Errs) {
    for kind in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(probe) = get_object(c, kind, cp, errs) else {
            continue;
        };
        let pp = child(cp, kind);
        validate_handler(
            probe,
            &pp,
            &["exec", "httpGet", "tcpSocket", "grpc"],
            None,
            errs,
        );
        for field in [
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ] {
            if let Some(n) = get_i32(probe, field, &pp, errs) {
                if n < 0 {
                    errs.push(invalid(
                        child(&pp, field),
                        n,
                        "must be greater than or equal to 0",
                    ));
                }
            }
        }
        let tgps = get_int(probe, "terminationGracePeriodSeconds", &pp, errs);
        if let Some(t) = tgps {
            if t <= 0 {
                errs.push(invalid(
                    child(&pp, "terminationGracePeriodSeconds"),
                    t,
                    "must be greater than 0",
                ));
            }
        }
        if kind == "readinessProbe" {
            if let Some(t) = tgps {
                errs.push(invalid(
                    child(&pp, "terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                ));
            }
        } else {
            let st = get_i32(probe, "successThreshold", &pp, &mut Errs::new()).unwrap_or(0);
            if st != 1 {
                errs.push(invalid(child(&pp, "successThreshold"), st, "must be 1"));
            }
        }
    }
}

fn validate_lifecycle(lifecycle: &Value, path: &str, grace: Option<i64>, errs: &mut Errs) {
    for hook in ["postStart", "preStop"] {
        if let Some(h) = get_object(lifecycle, hook, path, errs) {
            validate_handler(
                h,
                &child(path, hook),
                &["exec", "httpGet", "tcpSocket", "sleep"],
                grace,
                errs,
            );
        }
    }
}

/// Exactly one handler among `kinds`, each checked.
fn validate_handler(h: &Value, path: &str, kinds: &[&str], grace: Option<i64>, errs: &mut Errs) {
    let mut found = 0;
    for &kind in kinds {
        let Some(action) = get(h, kind) else { continue };
        let ap = child(path, kind);
        if found > 0 {
            errs.push(forbidden(ap, "may not specify more than 1 handler type"));
            continue;
        }
        found += 1;
        match kind {
            "exec" => {
                let command = get_array(action, "command", &ap, errs);
                push_required_if(command.is_empty(), child(&ap, "command"), errs);
            }
            "httpGet" => {
                if str_or_empty(action, "path", &ap, errs).is_empty() {
                    errs.push(required(child(&ap, "path"), ""));
                }
                validate_port_num_or_name(action, "port", &ap, errs);
                let scheme = str_or_empty(action, "scheme", &ap, errs);
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(not_supported(
                        child(&ap, "scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
                for (_, hp, header) in object_items(action, "httpHeaders", &ap, errs) {
                    let name = str_or_empty(header, "name", &hp, errs);
                    invalid_each(
                        errs,
                        &child(&ap, "httpHeaders"),
                        name,
                        formats::http_header_name(name),
                    );
                }
            }
            "tcpSocket" => validate_port_num_or_name(action, "port", &ap, errs),
            "grpc" => {
                let port = get_i32(action, "port", &ap, errs).unwrap_or(0);
                for msg in formats::port_num(port) {
                    errs.push(invalid(child(&ap, "port"), port, msg));
                }
            }
            "sleep" => {
                let seconds = get_int(action, "seconds", &ap, errs).unwrap_or(0);
                if let Some(g) = grace {
                    if seconds < 0 || seconds > g {
                        errs.push(invalid(
                            ap,
                            seconds,
                            format!("must be non-negative and less than terminationGracePeriodSeconds ({g})"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if found == 0 {
        errs.push(required(path, "must specify a handler type"));
    }
}

/// Upstream `ValidatePortNumOrName` for member `k` (an int-or-string).
pub(crate) fn validate_port_num_or_name(v: &Value, k: &str, path: &str, errs: &mut Errs) {
    let p = child(path, k);
    match get_int_or_str(v, k, path, errs) {
        Some(IntOrStr::Str(s)) => invalid_each(errs, &p, s, formats::port_name(s)),
        Some(IntOrStr::Int(n)) => {
            for msg in formats::port_num(n) {
                errs.push(invalid(p.clone(), n, msg));
            }
        }
        None => {
            for msg in formats::port_num(0) {
                errs.push(invalid(p.clone(), 0, msg));
            }
        }
    }
}

fn validate_tolerations(spec: &Value, path: &str, errs: &mut Errs) {
    for (_, tp, t) in object_items(spec, "tolerations", path, errs) {
        let key = str_or_empty(t, "key", &tp, errs);
        if !key.is_empty() {
            invalid_each(errs, &child(&tp, "key"), key, formats::qualified_name(key));
        }
        let operator = str_or_empty(t, "operator", &tp, errs);
        if key.is_empty() && operator != "Exists" {
            errs.push(invalid(
                child(&tp, "operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        let effect = str_or_empty(t, "effect", &tp, errs);
        if has(t, "tolerationSeconds") && effect != "NoExecute" {
            errs.push(invalid(
                child(&tp, "effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let value = str_or_empty(t, "value", &tp, errs);
        match operator {
            "Equal" | "" => {
                let msgs = formats::label_value(value);
                if !msgs.is_empty() {
                    errs.push(invalid(child(&tp, "operator"), value, msgs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(invalid(
                        child(&tp, "operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(not_supported(
                child(&tp, "operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect)
        {
            errs.push(not_supported(
                child(&tp, "effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
}

/// Upstream `ValidatePodUpdate`'s spec rules: only images, activeDeadlineSeconds, toleration
/// additions (and a few special cases) may change.
fn validate_pod_spec_update(spec: &Value, old_spec: &Value, errs: &mut Errs) {
    let mut ignored = Errs::new();
    for list in ["containers", "initContainers"] {
        let new_len = get_array(spec, list, "spec", &mut ignored).len();
        let old_len = get_array(old_spec, list, "spec", &mut ignored).len();
        if new_len != old_len {
            errs.push(forbidden(
                child("spec", list),
                "pod updates may not add or remove containers",
            ));
            return;
        }
    }

    let new_ads = get_int(spec, "activeDeadlineSeconds", "spec", &mut ignored);
    let old_ads = get_int(old_spec, "activeDeadlineSeconds", "spec", &mut ignored);
    match (new_ads, old_ads) {
        (Some(n), _) if !(0..=MAX_INT32).contains(&n) => {
            errs.push(invalid(
                "spec.activeDeadlineSeconds",
                n,
                formats::inclusive_range_error(0, MAX_INT32),
            ));
            return;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(invalid(
                "spec.activeDeadlineSeconds",
                n,
                "must be less than or equal to previous value",
            ));
            return;
        }
        (None, Some(_)) => errs.push(invalid(
            "spec.activeDeadlineSeconds",
            Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }

    // Existing tolerations may only gain tolerationSeconds changes; new ones may be added.
    let new_tolerations = get_array(spec, "tolerations", "spec", &mut ignored);
    for old_t in get_array(old_spec, "tolerations", "spec", &mut ignored) {
        let found = new_tolerations.iter().any(|new_t| {
            without(new_t, "tolerationSeconds") == without(old_t, "tolerationSeconds")
        });
        if !found {
            errs.push(forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }

    // Munge the updatable fields back to their old values; anything else that differs is an
    // error.
    let mut munged = normalized(spec);
    let old_norm = normalized(old_spec);
    if let (Value::Object(m), Value::Object(o)) = (&mut munged, &old_norm) {
        for list in ["containers", "initContainers"] {
            if let (Some(Value::Array(new_cs)), Some(Value::Array(old_cs))) =
                (m.get_mut(list), o.get(list))
            {
                for (nc, oc) in new_cs.iter_mut().zip(old_cs) {
                    if let Value::Object(ncm) = nc {
                        match oc.get("image") {
                            Some(img) => ncm.insert("image".to_string(), img.clone()),
                            None => ncm.remove("image"),
                        };
                    }
                }
            }
        }
        let mut carried = vec!["activeDeadlineSeconds", "schedulingGates", "tolerations"];
        if o.contains_key("schedulingGates") {
            // Gated pods may gain node selector / node affinity terms.
            carried.extend(["nodeSelector", "affinity"]);
        }
        let old_tgps = o
            .get("terminationGracePeriodSeconds")
            .and_then(Value::as_i64);
        let new_tgps = m
            .get("terminationGracePeriodSeconds")
            .and_then(Value::as_i64);
        if matches!((old_tgps, new_tgps), (Some(o), Some(1)) if o < 0) {
            carried.push("terminationGracePeriodSeconds");
        }
        for field in carried {
            match o.get(field) {
                Some(v) => m.insert(field.to_string(), v.clone()),
                None => m.remove(field),
            };
        }
    }
    if munged != old_norm {
        errs.push(forbidden(
            "spec",
            format!(
                "pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{}",
                spec_diff(&old_norm, &munged)
            ),
        ));
    }
}

fn without(v: &Value, field: &str) -> Value {
    let mut n = normalized(v);
    if let Value::Object(m) = &mut n {
        m.remove(field);
    }
    n
}

/// A short, readable diff of two normalized specs: one `-`/`+` pair per changed field.
fn spec_diff(old: &Value, new: &Value) -> String {
    let empty = Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = String::from("  core.PodSpec{\n");
    for k in keys {
        if o.get(k) != n.get(k) {
            let show = |v: Option<&Value>| {
                v.map(|v| serde_json::to_string(v).unwrap_or_default())
                    .unwrap_or_else(|| "nil".to_string())
            };
            out.push_str(&format!("-  {k}: {},\n", show(o.get(k))));
            out.push_str(&format!("+  {k}: {},\n", show(n.get(k))));
        }
    }
    out.push_str("  }\n");
    out
}
