//! LimitRanger: the LimitRanges of a namespace default and bound the resources of its pods and
//! persistent volume claims.
//!
//! As upstream: on a pod create, every container and init container without a request or limit
//! for a resource gets the `defaultRequest` / `default` of each `Container` item (recorded in the
//! `kubernetes.io/limit-ranger` annotation); then each container is held to the item's `min`,
//! `max` and `maxLimitRequestRatio`, the pod as a whole (init containers and sidecars counted as
//! the scheduler counts them, pod-level resources winning) to the `Pod` item's, and a claim's
//! storage request to the `PersistentVolumeClaim` item's. Pod updates are only checked through
//! the `resize` subresource; objects being deleted are not checked.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use k3rs_apis::quantity::Quantity;

use super::builtin::{deleting, list_all, resource};
use super::{Attributes, Operation, Plugin};
use crate::status::{ApiError, ApiResult};
use crate::store::Api;

pub const ANNOTATION: &str = "kubernetes.io/limit-ranger";
/// Upstream's `resource.MaxMilliValue`.
const MAX_MILLI_VALUE: i128 = (i64::MAX / 1000) as i128;

type Resources = BTreeMap<String, Quantity>;

pub struct LimitRanger;

/// What a request is about: `Some(true)` for a pod, `Some(false)` for a claim, `None` for
/// anything the plugin leaves alone.
fn target(a: &Attributes<'_>) -> Option<bool> {
    if a.is("", "pods") {
        let ok = match a.operation {
            Operation::Create => a.subresource.is_empty(),
            Operation::Update => a.subresource == "resize",
            _ => false,
        };
        return ok.then_some(true);
    }
    if a.is("", "persistentvolumeclaims")
        && a.subresource.is_empty()
        && matches!(a.operation, Operation::Create | Operation::Update)
    {
        return Some(false);
    }
    None
}

fn bad_quantity(kind: &str, msg: String) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"v1\" cannot be handled as a {kind}: {msg}"
    ))
}

/// A resource list (`requests`, `limits`, `min`, ...) as quantities.
fn resources(v: Option<&Value>, kind: &str) -> ApiResult<Resources> {
    let mut out = Resources::new();
    if let Some(Value::Object(m)) = v {
        for (k, q) in m {
            if q.is_null() {
                continue;
            }
            out.insert(
                k.clone(),
                Quantity::from_json(q).map_err(|e| bad_quantity(kind, e.to_string()))?,
            );
        }
    }
    Ok(out)
}

/// Go's `utilerrors.NewAggregate(errs).Error()`: one message alone, several in brackets,
/// duplicates dropped.
fn aggregate(errs: Vec<String>) -> Option<String> {
    let mut seen = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    match seen.len() {
        0 => None,
        1 => seen.pop(),
        _ => Some(format!("[{}]", seen.join(", "))),
    }
}

/// Upstream's `requestLimitEnforcedValues`: milli-units unless a value is too large for them.
fn enforced_values(req: &Quantity, lim: &Quantity, enforced: &Quantity) -> (i128, i128, i128) {
    if req.value() <= MAX_MILLI_VALUE
        && lim.value() <= MAX_MILLI_VALUE
        && enforced.value() <= MAX_MILLI_VALUE
    {
        (req.milli_value(), lim.milli_value(), enforced.milli_value())
    } else {
        (req.value(), lim.value(), enforced.value())
    }
}

fn min_constraint(
    ty: &str,
    name: &str,
    enforced: &Quantity,
    requests: &Resources,
    limits: &Resources,
) -> Option<String> {
    let Some(req) = requests.get(name) else {
        return Some(format!(
            "minimum {name} usage per {ty} is {enforced}.  No request is specified"
        ));
    };
    let lim = limits.get(name);
    let (r, l, e) = enforced_values(req, lim.unwrap_or(&Quantity::ZERO), enforced);
    if r < e {
        return Some(format!(
            "minimum {name} usage per {ty} is {enforced}, but request is {req}"
        ));
    }
    if let Some(lim) = lim.filter(|_| l < e) {
        return Some(format!(
            "minimum {name} usage per {ty} is {enforced}, but limit is {lim}"
        ));
    }
    None
}

fn max_request_constraint(
    ty: &str,
    name: &str,
    enforced: &Quantity,
    requests: &Resources,
) -> Option<String> {
    let Some(req) = requests.get(name) else {
        return Some(format!(
            "maximum {name} usage per {ty} is {enforced}.  No request is specified"
        ));
    };
    let (r, _, e) = enforced_values(req, &Quantity::ZERO, enforced);
    (r > e).then(|| format!("maximum {name} usage per {ty} is {enforced}, but request is {req}"))
}

fn max_constraint(
    ty: &str,
    name: &str,
    enforced: &Quantity,
    requests: &Resources,
    limits: &Resources,
) -> Option<String> {
    let Some(lim) = limits.get(name) else {
        return Some(format!(
            "maximum {name} usage per {ty} is {enforced}.  No limit is specified"
        ));
    };
    let req = requests.get(name);
    let (r, l, e) = enforced_values(req.unwrap_or(&Quantity::ZERO), lim, enforced);
    if l > e {
        return Some(format!(
            "maximum {name} usage per {ty} is {enforced}, but limit is {lim}"
        ));
    }
    if let Some(req) = req.filter(|_| r > e) {
        return Some(format!(
            "maximum {name} usage per {ty} is {enforced}, but request is {req}"
        ));
    }
    None
}

fn ratio_constraint(
    ty: &str,
    name: &str,
    enforced: &Quantity,
    requests: &Resources,
    limits: &Resources,
) -> Option<String> {
    let req = requests.get(name);
    let lim = limits.get(name);
    let (r, l, _) = enforced_values(
        req.unwrap_or(&Quantity::ZERO),
        lim.unwrap_or(&Quantity::ZERO),
        enforced,
    );
    if req.is_none() || r == 0 {
        return Some(format!("{name} max limit to request ratio per {ty} is {enforced}, but no request is specified or request is 0"));
    }
    if lim.is_none() || l == 0 {
        return Some(format!("{name} max limit to request ratio per {ty} is {enforced}, but no limit is specified or limit is 0"));
    }
    let shown = l as f64 / r as f64;
    let (observed, max) = if enforced.value() <= MAX_MILLI_VALUE {
        (shown * 1000.0, enforced.milli_value() as f64)
    } else {
        (shown, enforced.value() as f64)
    };
    (observed > max).then(|| {
        format!("{name} max limit to request ratio per {ty} is {enforced}, but provided ratio is {shown:.6}")
    })
}

/// One LimitRange item: its type and quantity lists.
struct Item {
    ty: String,
    min: Resources,
    max: Resources,
    ratio: Resources,
}

fn items(lr: &Value) -> ApiResult<Vec<Item>> {
    let mut out = Vec::new();
    let Some(list) = lr.pointer("/spec/limits").and_then(Value::as_array) else {
        return Ok(out);
    };
    for it in list {
        out.push(Item {
            ty: it
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            min: resources(it.get("min"), "LimitRange")?,
            max: resources(it.get("max"), "LimitRange")?,
            ratio: resources(it.get("maxLimitRequestRatio"), "LimitRange")?,
        });
    }
    Ok(out)
}

/// Upstream's `mergeContainerResources`: fills the missing entries; notes what it set.
fn merge_container(
    c: &mut Map<String, Value>,
    kind: &str,
    requests: &Map<String, Value>,
    limits: &Map<String, Value>,
    notes: &mut Vec<String>,
) {
    let name = c
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(res) = c
        .entry("resources")
        .or_insert_with(|| json!({}))
        .as_object_mut()
    else {
        return;
    };
    let mut fill = |member: &str, defaults: &Map<String, Value>| -> Vec<String> {
        let mut set = Vec::new();
        if defaults.is_empty() {
            return set;
        }
        let entry = res.entry(member).or_insert_with(|| json!({}));
        if entry.is_null() {
            *entry = json!({});
        }
        if let Some(m) = entry.as_object_mut() {
            for (k, v) in defaults {
                if !m.contains_key(k) {
                    m.insert(k.clone(), v.clone());
                    set.push(k.clone());
                }
            }
            if m.is_empty() {
                res.remove(member);
            }
        }
        set.sort();
        set
    };
    let set_requests = fill("requests", requests);
    let set_limits = fill("limits", limits);
    if !set_requests.is_empty() {
        notes.push(format!(
            "{} request for {kind} {name}",
            set_requests.join(", ")
        ));
    }
    if !set_limits.is_empty() {
        notes.push(format!("{} limit for {kind} {name}", set_limits.join(", ")));
    }
}

/// Upstream's `PodMutateLimitFunc` for one LimitRange.
fn default_pod(lr: &Value, pod: &mut Value) {
    let (mut requests, mut limits) = (Map::new(), Map::new());
    if let Some(list) = lr.pointer("/spec/limits").and_then(Value::as_array) {
        for it in list
            .iter()
            .filter(|it| it.get("type").and_then(Value::as_str) == Some("Container"))
        {
            if let Some(m) = it.get("defaultRequest").and_then(Value::as_object) {
                requests.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            if let Some(m) = it.get("default").and_then(Value::as_object) {
                limits.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
    }
    let mut notes = Vec::new();
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        for (list, kind) in [
            ("containers", "container"),
            ("initContainers", "init container"),
        ] {
            if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
                for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                    merge_container(c, kind, &requests, &limits, &mut notes);
                }
            }
        }
    }
    if notes.is_empty() {
        return;
    }
    let meta = crate::object::meta_mut(pod);
    let ann = meta.entry("annotations").or_insert_with(|| json!({}));
    if !ann.is_object() {
        *ann = json!({});
    }
    if let Some(a) = ann.as_object_mut() {
        a.insert(
            ANNOTATION.into(),
            json!(format!("LimitRanger plugin set: {}", notes.join("; "))),
        );
    }
}

fn container_resources(c: &Value) -> ApiResult<(Resources, Resources)> {
    Ok((
        resources(c.pointer("/resources/requests"), "Pod")?,
        resources(c.pointer("/resources/limits"), "Pod")?,
    ))
}

fn add_all(to: &mut Resources, from: &Resources) {
    for (k, q) in from {
        to.entry(k.clone()).or_insert(Quantity::ZERO).add(q);
    }
}

fn max_all(to: &mut Resources, from: &Resources) {
    for (k, q) in from {
        match to.get(k) {
            Some(cur) if cur >= q => {}
            _ => {
                to.insert(k.clone(), *q);
            }
        }
    }
}

/// Upstream's `podRequests` / `podLimits` (`which` 0: requests, 1: limits).
fn pod_totals(spec: &Value, which: usize) -> ApiResult<Resources> {
    let empty = Vec::new();
    let list = |k: &str| {
        spec.get(k)
            .and_then(Value::as_array)
            .unwrap_or(&empty)
            .clone()
    };
    let pick = |c: &Value| -> ApiResult<Resources> {
        let (r, l) = container_resources(c)?;
        Ok(if which == 0 { r } else { l })
    };
    let mut total = Resources::new();
    for c in list("containers") {
        add_all(&mut total, &pick(&c)?);
    }
    let (mut sidecars, mut init) = (Resources::new(), Resources::new());
    for c in list("initContainers") {
        let own = pick(&c)?;
        let effective = if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
            add_all(&mut total, &own);
            add_all(&mut sidecars, &own);
            sidecars.clone()
        } else {
            let mut tmp = own.clone();
            add_all(&mut tmp, &sidecars);
            tmp
        };
        max_all(&mut init, &effective);
    }
    max_all(&mut total, &init);
    let member = if which == 0 { "requests" } else { "limits" };
    let pod_level = resources(spec.pointer(&format!("/resources/{member}")), "Pod")?;
    for (k, q) in pod_level {
        if k == "cpu" || k == "memory" {
            total.insert(k, q);
        }
    }
    Ok(total)
}

/// Upstream's `PodValidateLimitFunc` for one LimitRange.
fn check_pod(lr: &Value, pod: &Value) -> ApiResult<Option<String>> {
    let spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    let mut errs = Vec::new();
    for item in items(lr)? {
        let ty = item.ty.as_str();
        if ty == "Container" {
            for list in ["containers", "initContainers"] {
                for c in spec
                    .get(list)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let (req, lim) = container_resources(c)?;
                    for (k, v) in &item.min {
                        errs.extend(min_constraint(ty, k, v, &req, &lim));
                    }
                    for (k, v) in &item.max {
                        errs.extend(max_constraint(ty, k, v, &req, &lim));
                    }
                    for (k, v) in &item.ratio {
                        errs.extend(ratio_constraint(ty, k, v, &req, &lim));
                    }
                }
            }
        }
        if ty == "Pod" {
            let (req, lim) = (pod_totals(&spec, 0)?, pod_totals(&spec, 1)?);
            for (k, v) in &item.min {
                errs.extend(min_constraint(ty, k, v, &req, &lim));
            }
            for (k, v) in &item.max {
                errs.extend(max_constraint(ty, k, v, &req, &lim));
            }
            for (k, v) in &item.ratio {
                errs.extend(ratio_constraint(ty, k, v, &req, &lim));
            }
        }
    }
    Ok(aggregate(errs))
}

/// Upstream's `PersistentVolumeClaimValidateLimitFunc` for one LimitRange.
fn check_claim(lr: &Value, pvc: &Value) -> ApiResult<Option<String>> {
    let requests = resources(
        pvc.pointer("/spec/resources/requests"),
        "PersistentVolumeClaim",
    )?;
    let mut errs = Vec::new();
    for item in items(lr)?
        .iter()
        .filter(|i| i.ty == "PersistentVolumeClaim")
    {
        for (k, v) in &item.min {
            errs.extend(min_constraint(&item.ty, k, v, &requests, &Resources::new()));
        }
        for (k, v) in &item.max {
            errs.extend(max_request_constraint(&item.ty, k, v, &requests));
        }
    }
    Ok(aggregate(errs))
}

async fn limit_ranges(api: &Api, a: &Attributes<'_>) -> ApiResult<Vec<Value>> {
    let ns = a.namespace.unwrap_or("");
    list_all(api, resource("", "v1", "limitranges")?, Some(ns)).await
}

#[async_trait]
impl Plugin for LimitRanger {
    fn name(&self) -> &'static str {
        "LimitRanger"
    }

    async fn admit(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        if target(a) != Some(true) || old.is_some_and(deleting) {
            return Ok(());
        }
        for lr in limit_ranges(api, a).await? {
            default_pod(&lr, obj);
        }
        Ok(())
    }

    async fn validate(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: Option<&Value>,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        let (Some(is_pod), Some(obj)) = (target(a), obj) else {
            return Ok(());
        };
        if old.is_some_and(deleting) {
            return Ok(());
        }
        for lr in limit_ranges(api, a).await? {
            let problem = if is_pod {
                check_pod(&lr, obj)?
            } else {
                check_claim(&lr, obj)?
            };
            if let Some(p) = problem {
                return Err(a.forbidden(Some(obj), p));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    fn res(pairs: &[(&str, &str)]) -> Resources {
        pairs.iter().map(|(k, v)| (k.to_string(), q(v))).collect()
    }

    #[test]
    fn constraint_messages_are_upstreams() {
        let r = res(&[("cpu", "600m")]);
        let l = res(&[("cpu", "1")]);
        assert_eq!(
            max_constraint("Container", "cpu", &q("500m"), &r, &l).unwrap(),
            "maximum cpu usage per Container is 500m, but limit is 1"
        );
        assert_eq!(
            max_constraint("Container", "memory", &q("1Gi"), &r, &l).unwrap(),
            "maximum memory usage per Container is 1Gi.  No limit is specified"
        );
        assert_eq!(
            min_constraint("Pod", "cpu", &q("1"), &r, &l).unwrap(),
            "minimum cpu usage per Pod is 1, but request is 600m"
        );
        assert_eq!(
            ratio_constraint("Container", "cpu", &q("1500m"), &res(&[("cpu", "100m")]), &l).unwrap(),
            "cpu max limit to request ratio per Container is 1500m, but provided ratio is 10.000000"
        );
        assert!(
            ratio_constraint("Container", "cpu", &q("2"), &res(&[("cpu", "500m")]), &l).is_none()
        );
        assert_eq!(
            max_request_constraint(
                "PersistentVolumeClaim",
                "storage",
                &q("1Gi"),
                &res(&[("storage", "2Gi")])
            )
            .unwrap(),
            "maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi"
        );
        assert_eq!(
            aggregate(vec!["a".into(), "b".into(), "a".into()]).unwrap(),
            "[a, b]"
        );
    }

    #[test]
    fn defaults_fill_only_what_is_missing_and_are_noted() {
        let lr = json!({"spec": {"limits": [{"type": "Container",
            "default": {"cpu": "500m", "memory": "500Mi"}, "defaultRequest": {"cpu": "100m", "memory": "200Mi"}}]}});
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "c", "resources": {"requests": {"memory": "150Mi"}, "limits": {"cpu": "300m"}}}],
            "initContainers": [{"name": "i"}]}});
        default_pod(&lr, &mut pod);
        let c = &pod["spec"]["containers"][0]["resources"];
        assert_eq!(c["requests"], json!({"memory": "150Mi", "cpu": "100m"}));
        assert_eq!(c["limits"], json!({"cpu": "300m", "memory": "500Mi"}));
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: cpu request for container c; memory limit for container c; cpu, memory request for init container i; cpu, memory limit for init container i"
        );
    }

    #[test]
    fn pod_totals_count_sidecars_and_init_containers_like_the_scheduler() {
        let spec = json!({
            "containers": [{"resources": {"requests": {"cpu": "1"}}}, {"resources": {"requests": {"cpu": "1"}}}],
            "initContainers": [
                {"restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
                {"resources": {"requests": {"cpu": "3"}}},
            ],
        });
        // max(1 + 1 + 0.5, 3 + 0.5) = 3.5
        assert_eq!(pod_totals(&spec, 0).unwrap()["cpu"].canonical(), "3500m");
        let spec = json!({"containers": [{"resources": {"limits": {"cpu": "1"}}}], "resources": {"limits": {"cpu": "4"}}});
        assert_eq!(pod_totals(&spec, 1).unwrap()["cpu"].canonical(), "4");
    }
}
