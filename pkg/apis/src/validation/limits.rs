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
