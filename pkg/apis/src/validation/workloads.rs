//! Controllers that own a pod template: Deployment, ReplicaSet, StatefulSet, DaemonSet
//! (`pkg/apis/apps/validation`), ReplicationController (core) and Job, CronJob
//! (`pkg/apis/batch/validation`), plus the label-selector helpers they share.

use serde_json::{Map, Value};

use super::formats;
use super::meta::validate_labels_into;
use super::pod::validate_pod_template_spec;
use super::util::*;

const NONNEG: &str = "must be greater than or equal to 0";

// ---------------------------------------------------------------------------------------------
// Label selectors (`metav1.LabelSelector`).
// ---------------------------------------------------------------------------------------------

/// One requirement of a parsed selector.
enum Req {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed selector. `None` requirements = "nothing" (a nil selector matches no labels).
struct Selector(Option<Vec<Req>>);

impl Selector {
    fn is_empty(&self) -> bool {
        matches!(&self.0, Some(reqs) if reqs.is_empty())
    }

    fn matches(&self, labels: &[(&str, &str)]) -> bool {
        let Some(reqs) = &self.0 else { return false };
        let get = |k: &str| labels.iter().find(|(lk, _)| *lk == k).map(|(_, v)| *v);
        reqs.iter().all(|r| match r {
            Req::In(k, vals) => get(k).is_some_and(|v| vals.iter().any(|x| x == v)),
            Req::NotIn(k, vals) => get(k).is_none_or(|v| !vals.iter().any(|x| x == v)),
            Req::Exists(k) => get(k).is_some(),
            Req::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

/// Upstream `LabelSelectorAsSelector`: `Err` when the selector cannot be used.
fn parse_selector(sel: Option<&Value>) -> Result<Selector, ()> {
    let Some(sel) = sel else {
        return Ok(Selector(None));
    };
    let mut e = Errs::new();
    let mut reqs = Vec::new();
    for (k, v) in get_string_map(sel, "matchLabels", "", &mut e) {
        if !formats::qualified_name(k).is_empty() || !formats::label_value(v).is_empty() {
            return Err(());
        }
        reqs.push(Req::In(k.to_string(), vec![v.to_string()]));
    }
    for (_, ep, expr) in object_items(sel, "matchExpressions", "", &mut e) {
        let key = str_or_empty(expr, "key", &ep, &mut e).to_string();
        let values: Vec<String> = string_items(expr, "values", &ep, &mut e)
            .into_iter()
            .map(|(_, v)| v.to_string())
            .collect();
        if !formats::qualified_name(&key).is_empty()
            || values.iter().any(|v| !formats::label_value(v).is_empty())
        {
            return Err(());
        }
        let req = match str_or_empty(expr, "operator", &ep, &mut e) {
            "In" if !values.is_empty() => Req::In(key, values),
            "NotIn" if !values.is_empty() => Req::NotIn(key, values),
            "Exists" if values.is_empty() => Req::Exists(key),
            "DoesNotExist" if values.is_empty() => Req::DoesNotExist(key),
            _ => return Err(()),
        };
        reqs.push(req);
    }
    if !e.is_empty() {
        return Err(());
    }
    Ok(Selector(Some(reqs)))
}

/// Upstream `ValidateLabelSelector` (strict label values).
pub(crate) fn validate_label_selector(sel: &Value, path: &str, errs: &mut Errs) {
    if let Some(labels) = get(sel, "matchLabels") {
        validate_labels_into(labels, &child(path, "matchLabels"), errs);
    }
    for (_, ep, expr) in object_items(sel, "matchExpressions", path, errs) {
        let values = string_items(expr, "values", &ep, errs);
        let operator = str_or_empty(expr, "operator", &ep, errs);
        match operator {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(required(
                        child(&ep, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(forbidden(
                        child(&ep, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errs.push(invalid(
                child(&ep, "operator"),
                other,
                "not a valid selector operator",
            )),
        }
        let key = str_or_empty(expr, "key", &ep, errs);
        invalid_each(errs, &child(&ep, "key"), key, formats::qualified_name(key));
        for (i, v) in values {
            invalid_each(
                errs,
                &index(&child(&ep, "values"), i),
                v,
                formats::label_value(v),
            );
        }
    }
}

/// `spec.selector` required, valid and non-empty; returns the parsed selector (if usable).
fn required_selector(spec: &Value, kind_word: &str, errs: &mut Errs) -> Result<Selector, ()> {
    let sel = get_object(spec, "selector", "spec", errs);
    match sel {
        None => errs.push(required("spec.selector", "")),
        Some(s) => {
            validate_label_selector(s, "spec.selector", errs);
            let mut e = Errs::new();
            let n = get_string_map(s, "matchLabels", "", &mut e).len()
                + get_array(s, "matchExpressions", "", &mut e).len();
            if n == 0 {
                errs.push(invalid(
                    "spec.selector",
                    s.clone(),
                    format!("empty selector is invalid for {kind_word}"),
                ));
            }
        }
    }
    parse_selector(sel)
}

fn template_labels(template: &Value) -> Vec<(&str, &str)> {
    get(template, "metadata")
        .map(|m| get_string_map(m, "labels", "", &mut Errs::new()))
        .unwrap_or_default()
}

fn selector_mismatch(template: &Value, path: &str) -> super::FieldError {
    let labels = get(template, "metadata")
        .and_then(|m| get(m, "labels"))
        .cloned()
        .unwrap_or(Value::Null);
    invalid(
        child(path, "metadata.labels"),
        labels,
        "`selector` does not match template `labels`",
    )
}

/// Upstream `ValidatePodTemplateSpecForReplicaSet` (also used, with a different word, by the
/// other controllers): selector matches labels, pod template valid, restartPolicy Always.
fn validate_controller_template(
    template: Option<&Value>,
    selector: &Selector,
    path: &str,
    controller: &str,
    errs: &mut Errs,
) {
    let Some(template) = template else {
        errs.push(required(path, ""));
        return;
    };
    if !selector.is_empty() && !selector.matches(&template_labels(template)) {
        errs.push(selector_mismatch(template, path));
    }
    validate_pod_template_spec(template, path, errs);
    validate_always_restart(template, path, controller, errs);
}

fn validate_always_restart(template: &Value, path: &str, controller: &str, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let spec = get(template, "spec").unwrap_or(&empty);
    let spec_path = child(path, "spec");
    let restart = str_or_empty(spec, "restartPolicy", &spec_path, &mut Errs::new());
    if restart != "Always" {
        errs.push(not_supported(
            child(&spec_path, "restartPolicy"),
            restart,
            &["Always"],
        ));
    }
    if has(spec, "activeDeadlineSeconds") {
        errs.push(forbidden(
            child(&spec_path, "activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {controller} is not Supported"),
        ));
    }
}

/// Each listed member, when present, must be >= 0.
fn nonnegative(v: &Value, fields: &[&str], path: &str, errs: &mut Errs) {
    for field in fields {
        if let Some(n) = get_int(v, field, path, errs) {
            if n < 0 {
                errs.push(invalid(child(path, field), n, NONNEG));
            }
        }
    }
}

/// On update, `spec.selector` may not change.
fn immutable_selector(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let Some(old) = old else { return };
    let new_sel = get(obj, "spec").and_then(|s| get(s, "selector"));
    let old_sel = get(old, "spec").and_then(|s| get(s, "selector"));
    if !semantically_equal(new_sel, old_sel) {
        errs.push(invalid(
            "spec.selector",
            new_sel.cloned().unwrap_or(Value::Null),
            "field is immutable",
        ));
    }
}

fn spec_of<'a>(obj: &'a Value, empty: &'a Value, errs: &mut Errs) -> &'a Value {
    get_object(obj, "spec", "", errs).unwrap_or(empty)
}

// ---------------------------------------------------------------------------------------------
// Int-or-percent fields of rolling updates.
// ---------------------------------------------------------------------------------------------

/// The integer value of an int-or-percent (percent strings give their number, others 0).
fn int_or_percent_value(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) if formats::percent(s).is_empty() => {
            s.trim_end_matches('%').parse().unwrap_or(i64::MAX)
        }
        _ => 0,
    }
}

fn validate_positive_int_or_percent(v: &Value, k: &str, path: &str, errs: &mut Errs) {
    let p = child(path, k);
    match get(v, k) {
        None => {}
        Some(Value::String(s)) => {
            for msg in formats::percent(s) {
                errs.push(invalid(p.clone(), s.as_str(), msg));
            }
        }
        Some(raw @ Value::Number(n)) => match n.as_i64() {
            Some(i) if i < 0 => errs.push(invalid(p, i, NONNEG)),
            Some(_) => {}
            None => errs.push(invalid(
                p,
                raw.clone(),
                "must be an integer or percentage (e.g '5%')",
            )),
        },
        Some(other) => errs.push(invalid(
            p,
            other.clone(),
            "must be an integer or percentage (e.g '5%')",
        )),
    }
}

fn not_more_than_100_percent(v: &Value, k: &str, path: &str, errs: &mut Errs) {
    if let Some(Value::String(s)) = get(v, k) {
        if formats::percent(s).is_empty() && int_or_percent_value(get(v, k)) > 100 {
            errs.push(invalid(
                child(path, k),
                s.as_str(),
                "must not be greater than 100%",
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// apps/v1
// ---------------------------------------------------------------------------------------------

pub(crate) fn validate_deployment(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let spec = spec_of(obj, &empty, errs);
    nonnegative(spec, &["replicas"], "spec", errs);
    let selector = required_selector(spec, "deployment", errs);
    match selector {
        Err(()) => errs.push(invalid(
            "spec.selector",
            get(spec, "selector").cloned().unwrap_or(Value::Null),
            "invalid label selector",
        )),
        Ok(sel) => validate_controller_template(
            get_object(spec, "template", "spec", errs),
            &sel,
            "spec.template",
            "ReplicaSet",
            errs,
        ),
    }
    validate_deployment_strategy(spec, errs);
    nonnegative(
        spec,
        &["minReadySeconds", "revisionHistoryLimit"],
        "spec",
        errs,
    );
    if let Some(pds) = get_i32(spec, "progressDeadlineSeconds", "spec", errs) {
        if pds < 0 {
            errs.push(invalid("spec.progressDeadlineSeconds", pds, NONNEG));
        }
        let min_ready = get_i32(spec, "minReadySeconds", "spec", &mut Errs::new()).unwrap_or(0);
        if pds <= min_ready {
            errs.push(invalid(
                "spec.progressDeadlineSeconds",
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
    immutable_selector(obj, old, errs);
}

fn validate_deployment_strategy(spec: &Value, errs: &mut Errs) {
    let sp = "spec.strategy";
    let empty = Value::Object(Map::new());
    let strategy = get_object(spec, "strategy", "spec", errs).unwrap_or(&empty);
    let rolling = get_object(strategy, "rollingUpdate", sp, errs);
    match str_or_empty(strategy, "type", sp, errs) {
        "Recreate" => {
            if rolling.is_some() {
                errs.push(forbidden(
                    child(sp, "rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match rolling {
            None => errs.push(required(
                child(sp, "rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let rp = child(sp, "rollingUpdate");
                validate_positive_int_or_percent(ru, "maxUnavailable", &rp, errs);
                validate_positive_int_or_percent(ru, "maxSurge", &rp, errs);
                if int_or_percent_value(get(ru, "maxUnavailable")) == 0
                    && int_or_percent_value(get(ru, "maxSurge")) == 0
                {
                    errs.push(invalid(
                        child(&rp, "maxUnavailable"),
                        get(ru, "maxUnavailable").cloned().unwrap_or(Value::from(0)),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                not_more_than_100_percent(ru, "maxUnavailable", &rp, errs);
            }
        },
        _ => errs.push(not_supported(
            sp,
            strategy.clone(),
            &["Recreate", "RollingUpdate"],
        )),
    }
}

pub(crate) fn validate_replica_set(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let spec = spec_of(obj, &empty, errs);
    nonnegative(spec, &["replicas", "minReadySeconds"], "spec", errs);
    match required_selector(spec, "deployment", errs) {
        Err(()) => errs.push(invalid(
            "spec.selector",
            get(spec, "selector").cloned().unwrap_or(Value::Null),
            "invalid label selector",
        )),
        Ok(sel) => validate_controller_template(
            get_object(spec, "template", "spec", errs),
            &sel,
            "spec.template",
            "ReplicaSet",
            errs,
        ),
    }
    immutable_selector(obj, old, errs);
}

pub(crate) fn validate_stateful_set(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let sp = "spec";
    let spec = spec_of(obj, &empty, errs);

    match str_or_empty(spec, "podManagementPolicy", sp, errs) {
        "" => errs.push(required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(invalid(
            "spec.podManagementPolicy",
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }

    let strategy = get_object(spec, "updateStrategy", sp, errs).unwrap_or(&empty);
    let up = "spec.updateStrategy";
    let rolling = get_object(strategy, "rollingUpdate", up, errs);
    match str_or_empty(strategy, "type", up, errs) {
        "" => errs.push(required(up, "")),
        "OnDelete" => {
            if let Some(ru) = rolling {
                errs.push(invalid(
                    child(up, "rollingUpdate"),
                    ru.clone(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = rolling {
                let rp = child(up, "rollingUpdate");
                nonnegative(ru, &["partition"], &rp, errs);
                if has(ru, "maxUnavailable") {
                    validate_positive_int_or_percent(ru, "maxUnavailable", &rp, errs);
                    if int_or_percent_value(get(ru, "maxUnavailable")) == 0 {
                        errs.push(invalid(
                            child(&rp, "maxUnavailable"),
                            get(ru, "maxUnavailable").cloned().unwrap_or(Value::Null),
                            "cannot be 0",
                        ));
                    }
                    not_more_than_100_percent(ru, "maxUnavailable", &rp, errs);
                }
            }
        }
        _ => errs.push(invalid(
            up,
            strategy.clone(),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }

    if let Some(policy) = get_object(spec, "persistentVolumeClaimRetentionPolicy", sp, errs) {
        let pp = "spec.persistentVolumeClaimRetentionPolicy";
        for field in ["whenDeleted", "whenScaled"] {
            let v = str_or_empty(policy, field, pp, errs);
            if v != "Retain" && v != "Delete" {
                errs.push(not_supported(child(pp, field), v, &["Retain", "Delete"]));
            }
        }
    }

    nonnegative(spec, &["replicas", "minReadySeconds"], sp, errs);
    if let Some(ordinals) = get_object(spec, "ordinals", sp, errs) {
        if let Some(start) = get_i32(ordinals, "start", "spec.ordinals", errs) {
            if start < 0 {
                errs.push(invalid("spec.ordinals.start", start, NONNEG));
            }
        }
    }
    let service_name = str_or_empty(spec, "serviceName", sp, errs);
    if old.is_none() && !service_name.is_empty() {
        invalid_each(
            errs,
            "spec.serviceName",
            service_name,
            formats::dns1123_label(service_name),
        );
    }

    match required_selector(spec, "statefulset", errs) {
        Err(()) => errs.push(invalid(
            "spec.selector",
            get(spec, "selector").cloned().unwrap_or(Value::Null),
            "",
        )),
        Ok(sel) => {
            let template = get_object(spec, "template", sp, errs).unwrap_or(&empty);
            let prepared = stateful_set_template(spec, template);
            if !sel.is_empty() && !sel.matches(&template_labels(&prepared)) {
                errs.push(selector_mismatch(&prepared, "spec.template"));
            }
            validate_pod_template_spec(&prepared, "spec.template", errs);
        }
    }
    let template = get(spec, "template").unwrap_or(&empty);
    validate_always_restart(template, "spec.template", "StatefulSet", errs);

    if let Some(old) = old {
        let old_spec = get(old, "spec").unwrap_or(&empty);
        let strip = |s: &Value| {
            let mut n = normalized(s);
            if let Value::Object(m) = &mut n {
                for f in [
                    "replicas",
                    "template",
                    "updateStrategy",
                    "minReadySeconds",
                    "ordinals",
                    "revisionHistoryLimit",
                    "persistentVolumeClaimRetentionPolicy",
                ] {
                    m.remove(f);
                }
            }
            n
        };
        if strip(spec) != strip(old_spec) {
            errs.push(forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
}

/// The template as upstream validates it for a StatefulSet: hostname/subdomain are set by the
/// controller, and each volumeClaimTemplate provides a volume.
fn stateful_set_template(spec: &Value, template: &Value) -> Value {
    let mut t = template.clone();
    let claim_names: Vec<String> =
        object_items(spec, "volumeClaimTemplates", "spec", &mut Errs::new())
            .into_iter()
            .filter_map(|(_, _, vct)| {
                get(vct, "metadata")
                    .and_then(|m| get(m, "name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
    if let Some(Value::Object(ps)) = t.as_object_mut().and_then(|m| m.get_mut("spec")) {
        ps.remove("hostname");
        ps.remove("subdomain");
        if !claim_names.is_empty() {
            let mut volumes: Vec<Value> = claim_names
                .iter()
                .map(|n| serde_json::json!({"name": n, "persistentVolumeClaim": {"claimName": n}}))
                .collect();
            if let Some(Value::Array(existing)) = ps.get("volumes") {
                for v in existing {
                    let name = v.get("name").and_then(Value::as_str).unwrap_or("");
                    if !claim_names.iter().any(|c| c == name) {
                        volumes.push(v.clone());
                    }
                }
            }
            ps.insert("volumes".to_string(), Value::Array(volumes));
        }
    }
    t
}

pub(crate) fn validate_daemon_set(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let sp = "spec";
    let spec = spec_of(obj, &empty, errs);
    let sel = get_object(spec, "selector", sp, errs);
    if let Some(s) = sel {
        validate_label_selector(s, "spec.selector", errs);
    }
    let template = get_object(spec, "template", sp, errs).unwrap_or(&empty);
    if let Ok(parsed) = parse_selector(sel) {
        if !parsed.matches(&template_labels(template)) {
            errs.push(selector_mismatch(template, "spec.template"));
        }
    }
    if let Some(s) = sel {
        let mut e = Errs::new();
        if get_string_map(s, "matchLabels", "", &mut e).len()
            + get_array(s, "matchExpressions", "", &mut e).len()
            == 0
        {
            errs.push(invalid(
                "spec.selector",
                s.clone(),
                "empty selector is invalid for daemonset",
            ));
        }
    }
    validate_pod_template_spec(template, "spec.template", errs);
    validate_always_restart(template, "spec.template", "DaemonSet", errs);
    nonnegative(
        spec,
        &[
            "minReadySeconds",
            "templateGeneration",
            "revisionHistoryLimit",
        ],
        sp,
        errs,
    );

    let up = "spec.updateStrategy";
    let strategy = get_object(spec, "updateStrategy", sp, errs).unwrap_or(&empty);
    match str_or_empty(strategy, "type", up, errs) {
        "OnDelete" => {}
        "RollingUpdate" => match get_object(strategy, "rollingUpdate", up, errs) {
            None => errs.push(required(child(up, "rollingUpdate"), "")),
            Some(ru) => {
                let rp = child(up, "rollingUpdate");
                validate_positive_int_or_percent(ru, "maxUnavailable", &rp, errs);
                validate_positive_int_or_percent(ru, "maxSurge", &rp, errs);
                not_more_than_100_percent(ru, "maxUnavailable", &rp, errs);
                not_more_than_100_percent(ru, "maxSurge", &rp, errs);
                let unavailable = int_or_percent_value(get(ru, "maxUnavailable")) != 0;
                let surge = int_or_percent_value(get(ru, "maxSurge")) != 0;
                if unavailable && surge {
                    errs.push(invalid(
                        child(&rp, "maxSurge"),
                        get(ru, "maxSurge").cloned().unwrap_or(Value::Null),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !unavailable && !surge {
                    errs.push(required(
                        child(&rp, "maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        },
        _ => errs.push(not_supported(
            up,
            strategy.clone(),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    immutable_selector(obj, old, errs);
}

// ---------------------------------------------------------------------------------------------
// core/v1 ReplicationController
// ---------------------------------------------------------------------------------------------

pub(crate) fn validate_replication_controller(obj: &Value, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let sp = "spec";
    let spec = spec_of(obj, &empty, errs);
    nonnegative(spec, &["minReadySeconds"], sp, errs);
    let selector_map = get_string_map(spec, "selector", sp, errs);
    if selector_map.is_empty() {
        errs.push(required("spec.selector", ""));
    }
    match get_i32(spec, "replicas", sp, errs) {
        None => errs.push(required("spec.replicas", "")),
        Some(n) if n < 0 => errs.push(invalid("spec.replicas", n, NONNEG)),
        Some(_) => {}
    }
    let selector = Selector(Some(
        selector_map
            .iter()
            .map(|(k, v)| Req::In(k.to_string(), vec![v.to_string()]))
            .collect(),
    ));
    validate_controller_template(
        get_object(spec, "template", sp, errs),
        &selector,
        "spec.template",
        "ReplicationController",
        errs,
    );
}

// ---------------------------------------------------------------------------------------------
// batch/v1
// ---------------------------------------------------------------------------------------------

/// Upstream `validateJobSpec` (the parts shared by Jobs and CronJob job templates).
fn validate_job_spec(spec: &Value, path: &str, errs: &mut Errs) {
    nonnegative(
        spec,
        &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
            "ttlSecondsAfterFinished",
            "backoffLimitPerIndex",
            "maxFailedIndexes",
        ],
        path,
        errs,
    );
    let mode = get_str(spec, "completionMode", path, errs);
    if let Some(m) = mode {
        if m != "NonIndexed" && m != "Indexed" {
            errs.push(not_supported(
                child(path, "completionMode"),
                m,
                &["NonIndexed", "Indexed"],
            ));
        }
        if m == "Indexed" && !has(spec, "completions") {
            errs.push(required(
                child(path, "completions"),
                "when completion mode is Indexed",
            ));
        }
    }
    if mode != Some("Indexed") {
        for field in ["backoffLimitPerIndex", "maxFailedIndexes"] {
            if let Some(v) = get(spec, field) {
                errs.push(invalid(
                    child(path, field),
                    v.clone(),
                    "requires indexed completion mode",
                ));
            }
        }
    }
    if let Some(policy) = get_object(spec, "podFailurePolicy", path, errs) {
        let rules = get_array(policy, "rules", &child(path, "podFailurePolicy"), errs);
        if rules.len() > 20 {
            errs.push(too_many(
                child(path, "podFailurePolicy.rules"),
                rules.len(),
                20,
            ));
        }
    }
    let empty = Value::Object(Map::new());
    let tp = child(path, "template");
    let template = get_object(spec, "template", path, errs).unwrap_or(&empty);
    validate_pod_template_spec(template, &tp, errs);
    let restart = get(template, "spec")
        .map(|s| str_or_empty(s, "restartPolicy", "", &mut Errs::new()))
        .unwrap_or("");
    let rp = child(&tp, "spec.restartPolicy");
    match restart {
        "" | "Always" => errs.push(required(rp, "valid values: \"OnFailure\", \"Never\"")),
        "OnFailure" if has(spec, "podFailurePolicy") => errs.push(invalid(
            rp,
            restart,
            "only \"Never\" is supported when podFailurePolicy is specified",
        )),
        "OnFailure" | "Never" => {}
        other => errs.push(not_supported(rp, other, &["OnFailure", "Never"])),
    }
}

pub(crate) fn validate_job(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let spec = spec_of(obj, &empty, errs);
    validate_job_spec(spec, "spec", errs);
    // The server generates the selector (and the matching template labels) before validation
    // when the client leaves it out; only a client-supplied selector is checked here.
    if let Some(sel) = get_object(spec, "selector", "spec", errs) {
        validate_label_selector(sel, "spec.selector", errs);
        if let Ok(parsed) = parse_selector(Some(sel)) {
            let template = get(spec, "template").unwrap_or(&empty);
            if !parsed.matches(&template_labels(template)) {
                errs.push(selector_mismatch(template, "spec.template"));
            }
        }
    }
    let Some(old) = old else { return };
    let old_spec = get(old, "spec").unwrap_or(&empty);
    if has(spec, "selector") {
        immutable_selector(obj, Some(old), errs);
    }
    for field in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        if !semantically_equal(get(spec, field), get(old_spec, field)) {
            errs.push(invalid(
                child("spec", field),
                get(spec, field).cloned().unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
    }
    if get(spec, "completionMode").and_then(Value::as_str) != Some("Indexed")
        && !semantically_equal(get(spec, "completions"), get(old_spec, "completions"))
    {
        errs.push(invalid(
            "spec.completions",
            get(spec, "completions").cloned().unwrap_or(Value::Null),
            "field is immutable",
        ));
    }
    // The template is immutable, except that a suspended Job's scheduling directives may change.
    let suspended = get(old_spec, "suspend").and_then(Value::as_bool) == Some(true);
    let comparable = |t: Option<&Value>| {
        let mut n = t.map(normalized).unwrap_or(Value::Null);
        if suspended {
            if let Some(m) = n.as_object_mut() {
                m.remove("metadata");
                if let Some(Value::Object(s)) = m.get_mut("spec") {
                    for f in ["nodeSelector", "tolerations", "affinity", "schedulingGates"] {
                        s.remove(f);
                    }
                }
            }
        }
        n
    };
    if comparable(get(spec, "template")) != comparable(get(old_spec, "template")) {
        errs.push(invalid(
            "spec.template",
            get(spec, "template").cloned().unwrap_or(Value::Null),
            "field is immutable",
        ));
    }
}

pub(crate) fn validate_cron_job(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let sp = "spec";
    let spec = spec_of(obj, &empty, errs);
    if str_or_empty(spec, "schedule", sp, errs).trim().is_empty() {
        errs.push(required("spec.schedule", ""));
    }
    nonnegative(
        spec,
        &[
            "startingDeadlineSeconds",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
        ],
        sp,
        errs,
    );
    match str_or_empty(spec, "concurrencyPolicy", sp, errs) {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(required("spec.concurrencyPolicy", "")),
        other => errs.push(not_supported(
            "spec.concurrencyPolicy",
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let jp = "spec.jobTemplate";
    let job_template = get_object(spec, "jobTemplate", sp, errs).unwrap_or(&empty);
    let job_spec = get_object(job_template, "spec", jp, errs).unwrap_or(&empty);
    validate_job_spec(job_spec, &child(jp, "spec"), errs);
    if let Some(sel) = get(job_spec, "selector") {
        errs.push(invalid(
            "spec.jobTemplate.spec.selector",
            sel.clone(),
            "`selector` will be auto-generated",
        ));
    }
    if get(job_spec, "manualSelector") == Some(&Value::Bool(true)) {
        errs.push(not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
    if old.is_none() {
        let name = get(obj, "metadata")
            .and_then(|m| get(m, "name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if name.len() > 52 {
            errs.push(invalid(
                "metadata.name",
                name,
                "must be no more than 52 characters",
            ));
        }
    }
}
