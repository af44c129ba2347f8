//! LimitRanges and PriorityClasses (upstream `ValidateLimitRange`, `ValidatePriorityClass[Update]`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::util::*;
use crate::quantity::Quantity;

/// Upstream `scheduling.HighestUserDefinablePriority`.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;

/// The priority classes every cluster has (name, value, description), created at start.
pub const SYSTEM_PRIORITY_CLASSES: &[(&str, i64, &str)] = &[
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// Resources whose requests may not differ from their limits (upstream `IsOvercommitAllowed`).
fn overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

/// A quantity map member as (resource → quantity); bad quantities are reported.
fn resource_list(item: &Value, k: &str, path: &str, errs: &mut Errs) -> BTreeMap<String, Quantity> {
    let mut out = BTreeMap::new();
    let Some(map) = get_object(item, k, path, errs).and_then(Value::as_object) else {
        return out;
    };
    for (name, v) in map {
        match Quantity::from_json(v) {
            Ok(q) => {
                out.insert(name.clone(), q);
            }
            Err(msg) => errs.push(invalid(
                key(&child(path, k), name),
                v.clone(),
                msg.to_string(),
            )),
        }
    }
    out
}

pub(crate) fn validate_limit_range(obj: &Value, errs: &mut Errs) {
    let Some(spec) = get_object(obj, "spec", "", errs) else {
        return;
    };
    let mut types = BTreeSet::new();
    for (_, path, item) in object_items(spec, "limits", "spec", errs) {
        let ty = str_or_empty(item, "type", &path, errs);
        if ty.is_empty() {
            errs.push(required(child(&path, "type"), ""));
        }
        if !types.insert(ty.to_string()) {
            errs.push(duplicate(child(&path, "type"), ty));
        }
        let max = resource_list(item, "max", &path, errs);
        let min = resource_list(item, "min", &path, errs);
        let (mut default, mut default_request) = (BTreeMap::new(), BTreeMap::new());
        if ty == "Pod" {
            if get(item, "default")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty())
            {
                errs.push(forbidden(
                    child(&path, "default"),
                    "may not be specified when `type` is 'Pod'",
                ));
            }
            if get(item, "defaultRequest")
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty())
            {
                errs.push(forbidden(
                    child(&path, "defaultRequest"),
                    "may not be specified when `type` is 'Pod'",
                ));
            }
        } else {
            default = resource_list(item, "default", &path, errs);
            default_request = resource_list(item, "defaultRequest", &path, errs);
        }
        if ty == "PersistentVolumeClaim"
            && !min.contains_key("storage")
            && !max.contains_key("storage")
        {
            errs.push(required(
                child(&path, "limits"),
                "either minimum or maximum storage value is required, but neither was provided",
            ));
        }
        let ratio = resource_list(item, "maxLimitRequestRatio", &path, errs);
        let names: BTreeSet<&String> = max
            .keys()
            .chain(min.keys())
            .chain(default.keys())
            .chain(default_request.keys())
            .chain(ratio.keys())
            .collect();
        for k in names {
            let (mn, mx, d, dr, r) = (
                min.get(k),
                max.get(k),
                default.get(k),
                default_request.get(k),
                ratio.get(k),
            );
            let at = |member: &str| key(&child(&path, member), k);
            if let (Some(mn), Some(mx)) = (mn, mx) {
                if mn > mx {
                    errs.push(invalid(
                        at("min"),
                        mn.canonical(),
                        format!("min value {mn} is greater than max value {mx}"),
                    ));
                }
            }
            if let (Some(dr), Some(mn)) = (dr, mn) {
                if mn > dr {
                    errs.push(invalid(
                        at("defaultRequest"),
                        dr.canonical(),
                        format!("min value {mn} is greater than default request value {dr}"),
                    ));
                }
            }
            if let (Some(dr), Some(mx)) = (dr, mx) {
                if dr > mx {
                    errs.push(invalid(
                        at("defaultRequest"),
                        dr.canonical(),
                        format!("default request value {dr} is greater than max value {mx}"),
                    ));
                }
            }
            if let (Some(dr), Some(d)) = (dr, d) {
                if dr > d {
                    errs.push(invalid(
                        at("defaultRequest"),
                        dr.canonical(),
                        format!(
                            "default request value {dr} is greater than default limit value {d}"
                        ),
                    ));
                }
            }
            if let (Some(d), Some(mn)) = (d, mn) {
                if mn > d {
                    errs.push(invalid(
                        at("default"),
                        mn.canonical(),
                        format!("min value {mn} is greater than default value {d}"),
                    ));
                }
            }
            if let (Some(d), Some(mx)) = (d, mx) {
                if d > mx {
                    errs.push(invalid(
                        at("default"),
                        mx.canonical(),
                        format!("default value {d} is greater than max value {mx}"),
                    ));
                }
            }
            if let Some(r) = r {
                if r.milli_value() < 1000 {
                    errs.push(invalid(
                        at("maxLimitRequestRatio"),
                        r.canonical(),
                        format!("ratio {r} is less than 1"),
                    ));
                }
                if let (Some(mn), Some(mx)) = (mn, mx) {
                    const MAX_MILLI: i128 = (i64::MAX / 1000) as i128;
                    let (ratio, lo, hi) = if r.value() < MAX_MILLI
                        && mn.value() < MAX_MILLI
                        && mx.value() < MAX_MILLI
                    {
                        (
                            r.milli_value() as f64 / 1000.0,
                            mn.milli_value(),
                            mx.milli_value(),
                        )
                    } else {
                        (r.value() as f64, mn.value(), mx.value())
                    };
                    let limit = hi as f64 / lo as f64;
                    if ratio > limit {
                        errs.push(invalid(
                            at("maxLimitRequestRatio"),
                            r.canonical(),
                            format!("ratio {r} is greater than max/min = {limit:.6}"),
                        ));
                    }
                }
            }
            if let (Some(d), Some(dr)) = (d, dr) {
                if !overcommit_allowed(k) && d != dr {
                    errs.push(invalid(
                        at("defaultRequest"),
                        dr.canonical(),
                        format!("default value {d} must equal to defaultRequest value {dr} in {k}"),
                    ));
                }
            }
        }
    }
}

pub(crate) fn validate_priority_class(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let name = get(obj, "metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let value = get_i32(obj, "value", "", errs).unwrap_or(0);
    let global_default = get_bool(obj, "globalDefault", "", errs).unwrap_or(false);
    if name.starts_with("system-") {
        let problem = match SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((n, v, _)) if *v != value => {
                Some(format!("value of {n} PriorityClass must be {v}"))
            }
            Some((n, _, _)) if global_default => {
                Some(format!("globalDefault of {n} PriorityClass must be false"))
            }
            Some(_) => None,
        };
        if let Some(p) = problem {
            errs.push(forbidden(
                "metadata.name",
                format!("priority class names with 'system-' prefix are reserved for system use only. error: {p}"),
            ));
        }
    } else if value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errs.push(forbidden(
            "value",
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
        ));
    }
    let policy = get_str(obj, "preemptionPolicy", "", errs);
    match policy {
        None | Some("PreemptLowerPriority") | Some("Never") => {}
        Some("") => errs.push(required("preemptionPolicy", "")),
        Some(p) => errs.push(not_supported(
            "preemptionPolicy",
            p,
            &["Never", "PreemptLowerPriority"],
        )),
    }
    if let Some(old) = old {
        if get(old, "value").and_then(Value::as_i64).unwrap_or(0) != value {
            errs.push(forbidden("value", "may not be changed in an update."));
        }
        if get(old, "preemptionPolicy") != get(obj, "preemptionPolicy") {
            errs.push(invalid(
                "preemptionPolicy",
                get(obj, "preemptionPolicy").cloned().unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ResourceQuota (upstream `ValidateResourceQuota[Update]`).
// ---------------------------------------------------------------------------------------------

/// Upstream `standardQuotaResources` (hugepages are added by prefix).
const STANDARD_QUOTA_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

/// Upstream `integerResources` (extended resources are integers too).
const INTEGER_RESOURCES: &[&str] = &[
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

const QUOTA_SCOPES: &[&str] = &[
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "VolumeAttributesClass",
    "CrossNamespacePodAffinity",
];

fn is_quota_huge_pages(name: &str) -> bool {
    name.starts_with("hugepages-") || name.starts_with("requests.hugepages-")
}

fn is_standard_quota_resource(name: &str) -> bool {
    STANDARD_QUOTA_RESOURCES.contains(&name) || is_quota_huge_pages(name)
}

/// Upstream `IsExtendedResourceName`: not native, not `requests.`-prefixed, and a qualified
/// name once prefixed with `requests.`.
fn is_extended_resource(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    !native
        && !name.starts_with("requests.")
        && super::formats::qualified_name(&format!("requests.{name}")).is_empty()
}

/// Upstream `IsResourceQuotaScopeValidForResource`.
fn scope_valid_for(scope: &str, resource: &str) -> bool {
    const POD_COUNT: &[&str] = &["pods"];
    const POD_COMPUTE: &[&str] = &[
        "cpu",
        "memory",
        "limits.cpu",
        "limits.memory",
        "requests.cpu",
        "requests.memory",
    ];
    match scope {
        "Terminating"
        | "NotTerminating"
        | "NotBestEffort"
        | "PriorityClass"
        | "CrossNamespacePodAffinity" => {
            POD_COUNT.contains(&resource) || POD_COMPUTE.contains(&resource)
        }
        "BestEffort" => POD_COUNT.contains(&resource),
        "VolumeAttributesClass" => {
            ["persistentvolumeclaims", "requests.storage"].contains(&resource)
        }
        _ => true,
    }
}

/// A `hard`/`used` map: resource names valid for quota, values non-negative (integers for
/// countable resources).
fn validate_quota_list(parent: &Value, k: &str, path: &str, errs: &mut Errs) -> Vec<String> {
    let list_path = child(path, k);
    let mut names = Vec::new();
    for (name, q) in resource_list(parent, k, path, errs) {
        let rp = key(&list_path, &name);
        let msgs = super::formats::qualified_name(&name);
        if !msgs.is_empty() {
            invalid_each(errs, &rp, &name, msgs);
        } else if !name.contains('/') {
            let standard = is_standard_quota_resource(&name) || name == "storage";
            if !standard {
                errs.push(invalid(
                    &rp,
                    name.as_str(),
                    "must be a standard resource type or fully qualified",
                ));
            }
            if !is_standard_quota_resource(&name) {
                errs.push(invalid(
                    &rp,
                    name.as_str(),
                    "must be a standard resource for quota",
                ));
            }
        }
        if q.sign() < 0 {
            errs.push(invalid(
                &rp,
                q.canonical(),
                "must be greater than or equal to 0",
            ));
        }
        let integer = INTEGER_RESOURCES.contains(&name.as_str()) || is_extended_resource(&name);
        if integer && q.milli_value() % 1000 != 0 {
            errs.push(invalid(&rp, q.canonical(), "must be an integer"));
        }
        names.push(name);
    }
    names
}

pub(crate) fn validate_resource_quota(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let empty = Value::Null;
    let spec = get(obj, "spec").unwrap_or(&empty);
    let hard = validate_quota_list(spec, "hard", "spec", errs);
    let scopes = string_items(spec, "scopes", "spec", errs);
    let scopes_value = || Value::Array(scopes.iter().map(|(_, s)| Value::from(*s)).collect());
    let conflicting = |set: &[&str]| {
        [
            ["BestEffort", "NotBestEffort"],
            ["Terminating", "NotTerminating"],
        ]
        .iter()
        .any(|pair| pair.iter().all(|p| set.contains(p)))
    };
    let scope_names: Vec<&str> = scopes.iter().map(|(_, s)| *s).collect();
    for (_, scope) in &scopes {
        if !QUOTA_SCOPES.contains(scope) {
            errs.push(invalid("spec.scopes", scopes_value(), "unsupported scope"));
        }
        for h in &hard {
            if is_standard_quota_resource(h) && !scope_valid_for(scope, h) {
                errs.push(invalid(
                    "spec.scopes",
                    scopes_value(),
                    "unsupported scope applied to resource",
                ));
            }
        }
    }
    if conflicting(&scope_names) {
        errs.push(invalid("spec.scopes", scopes_value(), "conflicting scopes"));
    }
    if let Some(sel) = get(spec, "scopeSelector").filter(|s| !s.is_null()) {
        let mp = "spec.scopeSelector.matchExpressions";
        let mut seen: Vec<&str> = Vec::new();
        for (_, rp, req) in object_items(sel, "matchExpressions", "spec.scopeSelector", errs) {
            let scope = str_or_empty(req, "scopeName", &rp, errs);
            let op = str_or_empty(req, "operator", &rp, errs);
            let values = string_items(req, "values", &rp, errs);
            if !QUOTA_SCOPES.contains(&scope) {
                errs.push(invalid(child(mp, "scopeName"), scope, "unsupported scope"));
            }
            for h in &hard {
                if is_standard_quota_resource(h) && !scope_valid_for(scope, h) {
                    errs.push(invalid(
                        mp,
                        sel.clone(),
                        "unsupported scope applied to resource",
                    ));
                }
            }
            if matches!(
                scope,
                "BestEffort"
                    | "NotBestEffort"
                    | "Terminating"
                    | "NotTerminating"
                    | "CrossNamespacePodAffinity"
            ) && op != "Exists"
            {
                errs.push(invalid(
                    child(mp, "operator"),
                    op,
                    "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
                ));
            }
            match op {
                "In" | "NotIn" if values.is_empty() => errs.push(required(
                    child(mp, "values"),
                    "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                )),
                "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(invalid(
                    child(mp, "values"),
                    Value::Array(values.iter().map(|(_, v)| Value::from(*v)).collect()),
                    "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                )),
                "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                _ => errs.push(invalid(
                    child(mp, "operator"),
                    op,
                    "not a valid selector operator",
                )),
            }
            seen.push(scope);
        }
        if conflicting(&seen) {
            errs.push(invalid(mp, scopes_value(), "conflicting scopes"));
        }
    }
    if let Some(status) = get(obj, "status").filter(|s| s.is_object()) {
        validate_quota_list(status, "hard", "status", errs);
        validate_quota_list(status, "used", "status", errs);
    }
    if let Some(old) = old {
        let mut before: Vec<String> = old
            .pointer("/spec/scopes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut after: Vec<String> = scope_names.iter().map(|s| s.to_string()).collect();
        before.sort();
        before.dedup();
        after.sort();
        after.dedup();
        if before != after {
            errs.push(invalid("spec.scopes", scopes_value(), "field is immutable"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lr(errs_for: Value) -> Vec<String> {
        let mut errs = Errs::new();
        validate_limit_range(&json!({"spec": {"limits": errs_for}}), &mut errs);
        errs.iter().map(|e| e.message()).collect()
    }

    #[test]
    fn limit_range_values_must_be_ordered() {
        assert!(lr(
            json!([{"type": "Container", "min": {"cpu": "10m"}, "max": {"cpu": "1"},
            "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}}])
        )
        .is_empty());
        let errs = lr(json!([{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]));
        assert!(
            errs.iter()
                .any(|e| e.contains("min value 2 is greater than max value 1")),
            "{errs:?}"
        );
        let errs = lr(json!([{"type": "Pod", "default": {"cpu": "1"}}, {"type": "Pod"}]));
        assert!(errs
            .iter()
            .any(|e| e.contains("may not be specified when `type` is 'Pod'")));
        assert!(errs.iter().any(|e| e.contains("Duplicate value")));
        let errs = lr(json!([{"type": "PersistentVolumeClaim", "max": {"cpu": "1"}}]));
        assert!(errs
            .iter()
            .any(|e| e.contains("either minimum or maximum storage")));
        let errs = lr(
            json!([{"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}, "max": {"cpu": "x"}}]),
        );
        assert!(errs.iter().any(|e| e.contains("ratio 500m is less than 1")));
        assert!(errs.iter().any(|e| e.contains("quantities must match")));
    }

    #[test]
    fn priority_classes_keep_the_system_prefix_and_their_value() {
        let check = |obj: Value, old: Option<Value>| {
            let mut errs = Errs::new();
            validate_priority_class(&obj, old.as_ref(), &mut errs);
            errs.iter().map(|e| e.message()).collect::<Vec<_>>()
        };
        assert!(check(
            json!({"metadata": {"name": "system-node-critical"}, "value": 2000001000}),
            None
        )
        .is_empty());
        let e = check(
            json!({"metadata": {"name": "system-mine"}, "value": 5}),
            None,
        );
        assert!(e[0].contains("reserved for system use only. error: system-mine is not a known system priority class"), "{e:?}");
        let e = check(
            json!({"metadata": {"name": "big"}, "value": 1000000001}),
            None,
        );
        assert!(e[0].contains("maximum allowed value of a user defined priority is 1000000000"));
        let e = check(
            json!({"metadata": {"name": "p"}, "value": 2, "preemptionPolicy": "Never"}),
            Some(
                json!({"metadata": {"name": "p"}, "value": 1, "preemptionPolicy": "PreemptLowerPriority"}),
            ),
        );
        assert_eq!(e.len(), 2, "{e:?}");
    }
}
