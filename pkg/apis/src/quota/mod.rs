//! Resource quota accounting, as upstream's quota evaluators (k8s.io/apiserver/pkg/quota/v1 and
//! k8s.io/kubernetes/pkg/quota/v1/evaluator/core): what an object uses (`pods`, `requests.cpu`,
//! `services.nodeports`, `count/<resource>.<group>`, ...), which quotas it counts against (the
//! resources they limit, their scopes and scope selectors), the checks the ResourceQuota
//! admission plugin makes with it ([`check_request`]) and the namespace-wide usage the quota
//! controller computes ([`calculate_usage`]). Objects are JSON values; no I/O happens here.

pub use crate::quantity;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

pub use quantity::{Format, ParseError, Quantity};

/// Resource name → quantity (upstream's `ResourceList`), ordered by name.
pub type ResourceList = BTreeMap<String, Quantity>;

/// A resource list in an object (`spec.hard`, `resources.requests`). Entries that are not
/// quantities are left out (validation refuses them before they are stored).
pub fn list_from_json(v: Option<&Value>) -> ResourceList {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Quantity::from_json(v).ok().map(|q| (k.clone(), q)))
                .collect()
        })
        .unwrap_or_default()
}

/// A resource list as JSON, each quantity in its canonical form.
pub fn list_to_json(l: &ResourceList) -> Value {
    Value::Object(l.iter().map(|(k, q)| (k.clone(), q.to_json())).collect())
}

/// `a + b`, key by key.
pub fn add(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, v) in b {
        match out.get_mut(k) {
            Some(q) => q.add(v),
            None => {
                out.insert(k.clone(), *v);
            }
        }
    }
    out
}

/// `a - b`, never below zero (upstream's `SubtractWithNonNegativeResult`).
pub fn subtract_non_negative(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = ResourceList::new();
    for (k, v) in a {
        let mut q = *v;
        if let Some(o) = b.get(k) {
            q.sub(o);
        }
        out.insert(k.clone(), if q.sign() > 0 { q } else { Quantity::ZERO });
    }
    for k in b.keys() {
        out.entry(k.clone()).or_insert(Quantity::ZERO);
    }
    out
}

/// The entries of `l` named in `names`.
pub fn mask<'a>(l: &ResourceList, names: impl IntoIterator<Item = &'a String>) -> ResourceList {
    let names: BTreeSet<&String> = names.into_iter().collect();
    l.iter()
        .filter(|(k, _)| names.contains(k))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Whether every entry of `a` that `b` limits is within `b`; the names that are not.
pub fn less_than_or_equal(a: &ResourceList, b: &ResourceList) -> (bool, Vec<String>) {
    let over: Vec<String> = b
        .iter()
        .filter(|(k, limit)| a.get(*k).is_some_and(|v| v > limit))
        .map(|(k, _)| k.clone())
        .collect();
    (over.is_empty(), over)
}

pub fn remove_zeros(l: &ResourceList) -> ResourceList {
    l.iter()
        .filter(|(_, v)| !v.is_zero())
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Same names with equal values (upstream's `quota.Equals`).
pub fn equals(a: &ResourceList, b: &ResourceList) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k) == Some(v))
}

/// `cpu=500m,memory=1Gi`, sorted by name (upstream's `prettyPrint`).
pub fn pretty_print(l: &ResourceList) -> String {
    l.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Sorted and deduplicated.
fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Names in both (sorted, upstream's `Intersection`).
fn intersection(a: &[String], b: &[&str]) -> Vec<String> {
    sorted(
        a.iter()
            .filter(|x| b.contains(&x.as_str()))
            .cloned()
            .collect(),
    )
}

/// One requirement a quota puts on the objects it covers: a `spec.scopes` entry (operator
/// `Exists`) or a `spec.scopeSelector.matchExpressions` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopeRequirement {
    pub scope_name: String,
    pub operator: String,
    pub values: Vec<String>,
}

impl std::fmt::Display for ScopeRequirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{{{} {} [{}]}}",
            self.scope_name,
            self.operator,
            self.values.join(" ")
        )
    }
}

/// The parts of a ResourceQuota that accounting reads.
#[derive(Clone, Debug)]
pub struct Quota {
    pub name: String,
    pub namespace: String,
    pub resource_version: String,
    pub scopes: Vec<ScopeRequirement>,
    pub spec_hard: ResourceList,
    pub status_hard: ResourceList,
    pub status_used: ResourceList,
    /// Whether `status.hard` / `status.used` are present at all.
    pub has_status_hard: bool,
    pub has_status_used: bool,
    /// The object as read.
    pub raw: Value,
}

impl Quota {
    pub fn from_json(v: &Value) -> Quota {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or_default();
        let mut scopes: Vec<ScopeRequirement> = v
            .pointer("/spec/scopes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|s| ScopeRequirement {
                scope_name: s.to_string(),
                operator: "Exists".into(),
                values: vec![],
            })
            .collect();
        for e in v
            .pointer("/spec/scopeSelector/matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            scopes.push(ScopeRequirement {
                scope_name: e["scopeName"].as_str().unwrap_or_default().to_string(),
                operator: e["operator"].as_str().unwrap_or_default().to_string(),
                values: e["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            });
        }
        let present = |p: &str| v.pointer(p).is_some_and(|x| !x.is_null());
        Quota {
            name: s("/metadata/name").to_string(),
            namespace: s("/metadata/namespace").to_string(),
            resource_version: s("/metadata/resourceVersion").to_string(),
            scopes,
            spec_hard: list_from_json(v.pointer("/spec/hard")),
            status_hard: list_from_json(v.pointer("/status/hard")),
            status_used: list_from_json(v.pointer("/status/used")),
            has_status_hard: present("/status/hard"),
            has_status_used: present("/status/used"),
            raw: v.clone(),
        }
    }

    /// Names `status.hard` limits.
    pub fn hard_names(&self) -> Vec<String> {
        self.status_hard.keys().cloned().collect()
    }
}

/// What a write does (only create and update are evaluated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

/// Group-resources quota never evaluates (upstream's `DefaultIgnoredResources`).
pub fn is_ignored(group: &str, resource: &str) -> bool {
    matches!(
        (group, resource),
        ("", "bindings")
            | ("", "componentstatuses")
            | ("", "events")
            | ("events.k8s.io", "events")
            | ("authentication.k8s.io", "tokenreviews")
            | ("authentication.k8s.io", "selfsubjectreviews")
            | ("authorization.k8s.io", "subjectaccessreviews")
            | ("authorization.k8s.io", "selfsubjectaccessreviews")
            | ("authorization.k8s.io", "localsubjectaccessreviews")
            | ("authorization.k8s.io", "selfsubjectrulesreviews")
    )
}

/// `count/<resource>` for the core group, else `count/<resource>.<group>`.
pub fn object_count_name(group: &str, resource: &str) -> String {
    if group.is_empty() {
        format!("count/{resource}")
    } else {
        format!("count/{resource}.{group}")
    }
}

/// The (group, resource) a `count/...` name counts.
pub fn parse_object_count_name(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix("count/")?;
    let (resource, group) = rest.split_once('.').unwrap_or((rest, ""));
    (!resource.is_empty()).then(|| (group.to_string(), resource.to_string()))
}

/// The object-count names older than `count/...` (upstream's legacy aliases).
fn legacy_alias(group: &str, resource: &str) -> Option<&'static str> {
    match (group, resource) {
        ("", "configmaps") => Some("configmaps"),
        ("", "resourcequotas") => Some("resourcequotas"),
        ("", "replicationcontrollers") => Some("replicationcontrollers"),
        ("", "secrets") => Some("secrets"),
        _ => None,
    }
}

const POD_RESOURCES: &[&str] = &[
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
];
const HUGEPAGES: &str = "hugepages-";
const REQUESTS: &str = "requests.";
const DEVICE_CLASS: &str = "deviceclass.resource.kubernetes.io/";
/// The resources whose absence from a container fails a quota that limits them.
const POD_VALIDATION_SET: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];
const SERVICE_RESOURCES: &[&str] = &[
    "count/services",
    "services",
    "services.nodeports",
    "services.loadbalancers",
];
const PVC_RESOURCES: &[&str] = &["persistentvolumeclaims", "requests.storage"];
const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

/// A name in the `kubernetes.io` namespace (unprefixed names are).
fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// An extended resource a container may request (`example.com/dongle`).
fn is_extended_resource_name(name: &str) -> bool {
    !is_native_resource(name)
        && !name.starts_with(REQUESTS)
        && crate::validation::validate_qualified_name(&format!("{REQUESTS}{name}")).is_empty()
}

/// A quota name for requests of an extended resource (`requests.example.com/dongle`).
fn is_extended_resource_name_for_quota(name: &str) -> bool {
    (!is_native_resource(name) || name.starts_with(&format!("{REQUESTS}{DEVICE_CLASS}")))
        && name.starts_with(REQUESTS)
}

/// How one kind of object uses quota.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Evaluator {
    Pods,
    Services,
    PersistentVolumeClaims,
    /// Any other resource: each object counts one (`count/<resource>.<group>` and, for a few core
    /// resources, the legacy name).
    Count {
        group: String,
        resource: String,
    },
}

impl Evaluator {
    /// The evaluator for objects of a group-resource (`None` for ignored resources).
    pub fn for_resource(group: &str, resource: &str) -> Option<Evaluator> {
        if is_ignored(group, resource) {
            return None;
        }
        Some(match (group, resource) {
            ("", "pods") => Evaluator::Pods,
            ("", "services") => Evaluator::Services,
            ("", "persistentvolumeclaims") => Evaluator::PersistentVolumeClaims,
            _ => Evaluator::Count {
                group: group.to_string(),
                resource: resource.to_string(),
            },
        })
    }

    /// (group, resource) of the objects it evaluates.
    pub fn group_resource(&self) -> (String, String) {
        match self {
            Evaluator::Pods => (String::new(), "pods".into()),
            Evaluator::Services => (String::new(), "services".into()),
            Evaluator::PersistentVolumeClaims => (String::new(), "persistentvolumeclaims".into()),
            Evaluator::Count { group, resource } => (group.clone(), resource.clone()),
        }
    }

    /// Whether a write can change usage (upstream's `Handles`).
    pub fn handles(
        &self,
        op: Operation,
        subresource: &str,
        obj: &Value,
        old: Option<&Value>,
    ) -> bool {
        match self {
            Evaluator::Pods => match subresource {
                "" => match op {
                    Operation::Create => true,
                    Operation::Update => {
                        old.is_some_and(|old| is_terminating(old) != is_terminating(obj))
                    }
                },
                "resize" => op == Operation::Update,
                _ => false,
            },
            Evaluator::Services => subresource.is_empty(),
            // A claim's status (allocated size, attributes class) can change its usage; upstream's
            // check compares pointers and so always answers yes.
            Evaluator::PersistentVolumeClaims => match subresource {
                "" => true,
                "status" => op == Operation::Update && old.is_some(),
                _ => false,
            },
            Evaluator::Count { .. } => subresource.is_empty() && op == Operation::Create,
        }
    }

    /// Of `names`, the ones this evaluator accounts for (sorted).
    pub fn matching_resources(&self, names: &[String]) -> Vec<String> {
        match self {
            Evaluator::Pods => sorted(
                names
                    .iter()
                    .filter(|n| {
                        POD_RESOURCES.contains(&n.as_str())
                            || n.starts_with(HUGEPAGES)
                            || n.starts_with(&format!("{REQUESTS}{HUGEPAGES}"))
                            || is_extended_resource_name_for_quota(n)
                    })
                    .cloned()
                    .collect(),
            ),
            Evaluator::Services => intersection(names, SERVICE_RESOURCES),
            Evaluator::PersistentVolumeClaims => sorted(
                names
                    .iter()
                    .filter(|n| {
                        n.as_str() == "count/persistentvolumeclaims"
                            || PVC_RESOURCES.contains(&n.as_str())
                            || PVC_RESOURCES
                                .iter()
                                .any(|r| n.ends_with(&format!("{STORAGE_CLASS_SUFFIX}{r}")))
                    })
                    .cloned()
                    .collect(),
            ),
            Evaluator::Count { group, resource } => {
                let count = object_count_name(group, resource);
                let mut own = vec![count.as_str()];
                if let Some(a) = legacy_alias(group, resource) {
                    own.push(a);
                }
                intersection(names, &own)
            }
        }
    }

    /// Whether an object falls in a scope requirement.
    pub fn matches_scope(&self, req: &ScopeRequirement, obj: &Value) -> Result<bool, String> {
        match self {
            Evaluator::Pods => pod_matches_scope(req, obj),
            Evaluator::PersistentVolumeClaims => {
                if req.scope_name != "VolumeAttributesClass" {
                    return Ok(false);
                }
                let names = volume_attributes_classes(obj);
                if req.operator == "Exists" {
                    return Ok(!names.is_empty());
                }
                if names.is_empty() {
                    return selector_matches(req, None);
                }
                for n in &names {
                    if selector_matches(req, Some(n))? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Evaluator::Services | Evaluator::Count { .. } => Ok(false),
        }
    }

    /// Whether a quota covers an object: it limits something this evaluator accounts for, and the
    /// object falls in every scope of the quota.
    pub fn matches(&self, q: &Quota, obj: &Value) -> Result<bool, String> {
        let resources = !self.matching_resources(&q.hard_names()).is_empty();
        let mut scopes = true;
        for s in &q.scopes {
            scopes = self.matches_scope(s, obj)? && scopes;
        }
        Ok(resources && scopes)
    }

    /// Of a quota's scope requirements, the ones the object falls in (upstream's
    /// `MatchingScopes`).
    pub fn matching_scopes(
        &self,
        obj: &Value,
        scopes: &[ScopeRequirement],
    ) -> Result<Vec<ScopeRequirement>, String> {
        if !matches!(self, Evaluator::Pods | Evaluator::PersistentVolumeClaims) {
            return Ok(vec![]);
        }
        let mut out = Vec::new();
        for s in scopes {
            match self.matches_scope(s, obj) {
                Ok(true) => out.push(s.clone()),
                Ok(false) => {}
                Err(e) => return Err(format!("error on matching scope {s}: {e}")),
            }
        }
        Ok(out)
    }

    /// Requirements an object must meet to be covered by a quota limiting `required`
    /// (`must specify ...` for a pod whose containers leave a limited resource unset).
    pub fn constraints(&self, required: &[String], obj: &Value) -> Result<(), String> {
        if *self != Evaluator::Pods || pod_level_resources_set(obj) {
            return Ok(());
        }
        let required: BTreeSet<&str> = required
            .iter()
            .map(String::as_str)
            .filter(|r| POD_VALIDATION_SET.contains(r))
            .collect();
        let mut missing: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for c in containers(obj, "containers").chain(containers(obj, "initContainers")) {
            let usage = compute_usage(
                &list_from_json(c.pointer("/resources/requests")),
                &list_from_json(c.pointer("/resources/limits")),
            );
            for r in &required {
                if !usage.contains_key(*r) {
                    missing
                        .entry(r)
                        .or_default()
                        .insert(c["name"].as_str().unwrap_or_default().to_string());
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let parts: Vec<String> = missing
            .iter()
            .map(|(r, names)| {
                format!(
                    "{r} for: {}",
                    names.iter().cloned().collect::<Vec<_>>().join(",")
                )
            })
            .collect();
        Err(format!("must specify {}", parts.join("; ")))
    }

    /// What one object uses.
    pub fn usage(&self, obj: &Value, now: DateTime<Utc>) -> ResourceList {
        let one = Quantity::from_int(1);
        let mut out = ResourceList::new();
        match self {
            Evaluator::Pods => {
                out.insert("count/pods".into(), one);
                if !counts_pod(obj, now) {
                    return out;
                }
                let usage = compute_usage(&pod_requests(obj), &pod_limits(obj));
                out = add(&out, &usage);
            }
            Evaluator::Services => {
                out.insert("count/services".into(), one);
                out.insert("services".into(), one);
                out.insert("services.loadbalancers".into(), Quantity::ZERO);
                out.insert("services.nodeports".into(), Quantity::ZERO);
                let ports = obj
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let all = Quantity::from_int(ports.len() as i64);
                match obj.pointer("/spec/type").and_then(Value::as_str) {
                    Some("NodePort") => {
                        out.insert("services.nodeports".into(), all);
                    }
                    Some("LoadBalancer") => {
                        let allocate = obj
                            .pointer("/spec/allocateLoadBalancerNodePorts")
                            .and_then(Value::as_bool);
                        let n = if allocate == Some(false) {
                            let with = ports
                                .iter()
                                .filter(|p| p["nodePort"].as_i64().is_some_and(|n| n != 0))
                                .count();
                            Quantity::from_int(with as i64)
                        } else {
                            all
                        };
                        out.insert("services.nodeports".into(), n);
                        out.insert("services.loadbalancers".into(), one);
                    }
                    _ => {}
                }
            }
            Evaluator::PersistentVolumeClaims => {
                out.insert("persistentvolumeclaims".into(), one);
                out.insert("count/persistentvolumeclaims".into(), one);
                let class = pvc_storage_class(obj);
                if !class.is_empty() {
                    out.insert(
                        format!("{class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"),
                        one,
                    );
                }
                if let Some(storage) = pvc_storage(obj) {
                    out.insert("requests.storage".into(), storage);
                    if !class.is_empty() {
                        out.insert(
                            format!("{class}{STORAGE_CLASS_SUFFIX}requests.storage"),
                            storage,
                        );
                    }
                }
            }
            Evaluator::Count { group, resource } => {
                out.insert(object_count_name(group, resource), one);
                if let Some(a) = legacy_alias(group, resource) {
                    out.insert(a.to_string(), one);
                }
            }
        }
        out
    }

    /// The usage of `items` (the namespace's objects) for the `resources` a quota limits,
    /// counting only the objects in the quota's scopes (upstream's `CalculateUsageStats`).
    pub fn usage_stats(
        &self,
        items: &[Value],
        scopes: &[ScopeRequirement],
        resources: &[String],
        now: DateTime<Utc>,
    ) -> ResourceList {
        let mut used: ResourceList = resources
            .iter()
            .map(|r| (r.clone(), Quantity::ZERO))
            .collect();
        for item in items {
            let mut in_scope = true;
            for s in scopes {
                match self.matches_scope(s, item) {
                    Ok(m) => in_scope = in_scope && m,
                    // As upstream: a scope that cannot be evaluated ends the count.
                    Err(_) => return used,
                }
            }
            if in_scope {
                used = add(&used, &self.usage(item, now));
            }
        }
        used
    }
}

fn containers<'a>(pod: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> + 'a {
    pod.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// A pod with `activeDeadlineSeconds` (≥ 0) is in the Terminating scope.
pub fn is_terminating(pod: &Value) -> bool {
    pod.pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|s| s >= 0)
}

/// Whether a pod still uses compute quota: not finished, and not past its deletion grace period
/// (upstream's `QuotaV1Pod`).
pub fn counts_pod(pod: &Value, now: DateTime<Utc>) -> bool {
    if matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Failed") | Some("Succeeded")
    ) {
        return false;
    }
    let deleted = pod
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let grace = pod
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    if let (Some(t), Some(g)) = (deleted, grace) {
        if let Some(end) = t
            .with_timezone(&Utc)
            .checked_add_signed(chrono::Duration::seconds(g))
        {
            if now > end {
                return false;
            }
        }
    }
    true
}

fn is_pod_level_resource(name: &str) -> bool {
    name == "cpu" || name == "memory" || name.starts_with(HUGEPAGES)
}

fn pod_level(pod: &Value, which: &str) -> ResourceList {
    list_from_json(pod.pointer(&format!("/spec/resources/{which}")))
}

fn pod_level_set(pod: &Value, which: &str) -> bool {
    pod_level(pod, which)
        .keys()
        .any(|k| is_pod_level_resource(k))
}

/// Pod-level `spec.resources` names cpu, memory or hugepages.
fn pod_level_resources_set(pod: &Value) -> bool {
    pod_level_set(pod, "requests") || pod_level_set(pod, "limits")
}

/// `list[k] = max(list[k], other[k])` for every key of `other`.
fn max_into(list: &mut ResourceList, other: &ResourceList) {
    for (k, v) in other {
        match list.get(k) {
            Some(cur) if v <= cur => {}
            _ => {
                list.insert(k.clone(), *v);
            }
        }
    }
}

fn add_into(list: &mut ResourceList, other: &ResourceList) {
    *list = add(list, other);
}

/// The pod's container statuses by name (allocated and actual resources after a resize).
fn container_statuses(pod: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for field in ["containerStatuses", "initContainerStatuses"] {
        for s in pod
            .pointer(&format!("/status/{field}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = s["name"].as_str() {
                out.insert(n.to_string(), s.clone());
            }
        }
    }
    out
}

fn resize_infeasible(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "PodResizePending")
        .is_some_and(|c| c["reason"] == "Infeasible")
}

fn is_sidecar(c: &Value) -> bool {
    c["restartPolicy"] == "Always"
}

/// A container's requests or limits, taking an in-place resize into account (upstream's
/// `determineEffectiveRequests` / `determineEffectiveLimits`).
fn effective(
    pod: &Value,
    c: &Value,
    statuses: &BTreeMap<String, Value>,
    which: &str,
) -> ResourceList {
    let spec = list_from_json(c.pointer(&format!("/resources/{which}")));
    let Some(status) = c["name"].as_str().and_then(|n| statuses.get(n)) else {
        return spec;
    };
    let Some(actual) = status.get("resources").filter(|r| !r.is_null()) else {
        return spec;
    };
    let actuated = list_from_json(actual.get(which));
    let infeasible = resize_infeasible(pod);
    if which == "requests" {
        let allocated = list_from_json(status.get("allocatedResources"));
        let mut out = if infeasible { actuated.clone() } else { spec };
        if infeasible {
            max_into(&mut out, &allocated);
        } else {
            max_into(&mut out, &actuated);
            max_into(&mut out, &allocated);
        }
        out
    } else if infeasible {
        actuated
    } else {
        let mut out = spec;
        max_into(&mut out, &actuated);
        out
    }
}

/// Sum over containers, sidecars added, regular init containers as a maximum (upstream's
/// `AggregateContainerRequests` / `AggregateContainerLimits`).
fn aggregate(pod: &Value, which: &str) -> ResourceList {
    let statuses = container_statuses(pod);
    let mut total = ResourceList::new();
    for c in containers(pod, "containers") {
        add_into(&mut total, &effective(pod, c, &statuses, which));
    }
    let mut sidecars = ResourceList::new();
    let mut init_max = ResourceList::new();
    for c in containers(pod, "initContainers") {
        let this = if is_sidecar(c) {
            effective(pod, c, &statuses, which)
        } else {
            list_from_json(c.pointer(&format!("/resources/{which}")))
        };
        let step = if is_sidecar(c) {
            add_into(&mut total, &this);
            add_into(&mut sidecars, &this);
            sidecars.clone()
        } else {
            add(&this, &sidecars)
        };
        max_into(&mut init_max, &step);
    }
    max_into(&mut total, &init_max);
    total
}

fn overhead(pod: &Value) -> ResourceList {
    list_from_json(pod.pointer("/spec/overhead"))
}

/// What a pod requests (upstream's `PodRequests`).
pub fn pod_requests(pod: &Value) -> ResourceList {
    let mut reqs = aggregate(pod, "requests");
    if pod_level_set(pod, "requests") {
        for (k, v) in pod_level(pod, "requests") {
            if is_pod_level_resource(&k) {
                reqs.insert(k, v);
            }
        }
    }
    add_into(&mut reqs, &overhead(pod));
    reqs
}

/// A pod's limits (upstream's `PodLimits`).
pub fn pod_limits(pod: &Value) -> ResourceList {
    let mut limits = aggregate(pod, "limits");
    if pod_level_resources_set(pod) {
        for (k, v) in pod_level(pod, "limits") {
            if is_pod_level_resource(&k) {
                limits.insert(k, v);
            }
        }
    }
    for (k, v) in overhead(pod) {
        if let Some(l) = limits.get_mut(&k) {
            if !l.is_zero() {
                l.add(&v);
            }
        }
    }
    limits
}

/// Quota names for a set of requests and limits (upstream's `podComputeUsageHelper`).
fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut out = ResourceList::new();
    out.insert("pods".into(), Quantity::from_int(1));
    for r in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(q) = requests.get(r) {
            out.insert(r.to_string(), *q);
            out.insert(format!("{REQUESTS}{r}"), *q);
        }
        if let Some(q) = limits.get(r) {
            out.insert(format!("limits.{r}"), *q);
        }
    }
    for (name, q) in requests {
        if name.starts_with(HUGEPAGES) {
            out.insert(name.clone(), *q);
            out.insert(format!("{REQUESTS}{name}"), *q);
        }
        if is_extended_resource_name(name) || name.starts_with(DEVICE_CLASS) {
            out.insert(format!("{REQUESTS}{name}"), *q);
        }
    }
    out
}

/// Whether a pod is in the BestEffort QoS class (no cpu or memory requested or limited).
pub fn is_best_effort(pod: &Value) -> bool {
    if let Some(c) = pod
        .pointer("/status/qosClass")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
    {
        return c == "BestEffort";
    }
    let positive = |l: ResourceList| {
        l.iter()
            .any(|(k, v)| (k == "cpu" || k == "memory") && v.sign() > 0)
    };
    if pod
        .pointer("/spec/resources")
        .is_some_and(|r| r.is_object())
    {
        return !positive(pod_level(pod, "requests")) && !positive(pod_level(pod, "limits"));
    }
    !containers(pod, "containers")
        .chain(containers(pod, "initContainers"))
        .any(|c| {
            positive(list_from_json(c.pointer("/resources/requests")))
                || positive(list_from_json(c.pointer("/resources/limits")))
        })
}

fn cross_namespace_term(t: &Value) -> bool {
    t["namespaces"].as_array().is_some_and(|a| !a.is_empty())
        || t.get("namespaceSelector").is_some_and(|s| !s.is_null())
}

/// Whether a pod's (anti-)affinity terms reach into other namespaces.
pub fn uses_cross_namespace_pod_affinity(pod: &Value) -> bool {
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(a) = pod.pointer(&format!("/spec/affinity/{kind}")) else {
            continue;
        };
        let required = a["requiredDuringSchedulingIgnoredDuringExecution"]
            .as_array()
            .into_iter()
            .flatten()
            .any(cross_namespace_term);
        let preferred = a["preferredDuringSchedulingIgnoredDuringExecution"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|w| cross_namespace_term(&w["podAffinityTerm"]));
        if required || preferred {
            return true;
        }
    }
    false
}

/// A scope requirement as a label requirement on `{<scopeName>: value}` (no label when `value`
/// is `None`), as upstream's `ScopedResourceSelectorRequirementsAsSelector`.
fn selector_matches(req: &ScopeRequirement, value: Option<&str>) -> Result<bool, String> {
    match req.operator.as_str() {
        "In" | "NotIn" if req.values.is_empty() => {
            Err("for 'in', 'notin' operators, values set can't be empty".into())
        }
        "Exists" | "DoesNotExist" if !req.values.is_empty() => {
            Err("values set must be empty for exists and does not exist".into())
        }
        "In" => Ok(value.is_some_and(|v| req.values.iter().any(|x| x == v))),
        "NotIn" => Ok(!value.is_some_and(|v| req.values.iter().any(|x| x == v))),
        "Exists" => Ok(value.is_some()),
        "DoesNotExist" => Ok(value.is_none()),
        op => Err(format!("{op:?} is not a valid scope selector operator")),
    }
}

fn pod_matches_scope(req: &ScopeRequirement, pod: &Value) -> Result<bool, String> {
    Ok(match req.scope_name.as_str() {
        "Terminating" => is_terminating(pod),
        "NotTerminating" => !is_terminating(pod),
        "BestEffort" => is_best_effort(pod),
        "NotBestEffort" => !is_best_effort(pod),
        "PriorityClass" => {
            let class = pod
                .pointer("/spec/priorityClassName")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty());
            if req.operator == "Exists" {
                class.is_some()
            } else {
                selector_matches(req, class)?
            }
        }
        "CrossNamespacePodAffinity" => uses_cross_namespace_pod_affinity(pod),
        _ => false,
    })
}

/// The VolumeAttributesClasses a claim refers to (spec, current, and a pending change).
fn volume_attributes_classes(pvc: &Value) -> BTreeSet<String> {
    [
        "/spec/volumeAttributesClassName",
        "/status/currentVolumeAttributesClassName",
        "/status/modifyVolumeStatus/targetVolumeAttributesClassName",
    ]
    .iter()
    .filter_map(|p| pvc.pointer(p).and_then(Value::as_str))
    .filter(|s| !s.is_empty())
    .map(str::to_string)
    .collect()
}

/// The claim's storage class: the beta annotation first, then `spec.storageClassName`.
fn pvc_storage_class(pvc: &Value) -> String {
    if let Some(c) = pvc
        .pointer("/metadata/annotations")
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .and_then(Value::as_str)
    {
        return c.to_string();
    }
    pvc.pointer("/spec/storageClassName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Requested storage, whole units, or the allocated size when larger.
fn pvc_storage(pvc: &Value) -> Option<Quantity> {
    let requested = pvc
        .pointer("/spec/resources/requests/storage")
        .and_then(|v| Quantity::from_json(v).ok())?
        .round_up_to_unit();
    let allocated = pvc
        .pointer("/status/allocatedResources/storage")
        .and_then(|v| Quantity::from_json(v).ok());
    Some(match allocated {
        Some(a) if a > requested => a.round_up_to_unit(),
        _ => requested,
    })
}

/// Why a request does not fit the quotas.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// 403, the message after `<resource> "<name>" is forbidden: `.
    Forbidden(String),
    /// Any other failure (500).
    Internal(String),
}

/// Checks a create or update against the namespace's quotas (upstream's `CheckRequest`) and
/// returns, for each quota whose usage the request changes, its index and new `status.used`.
#[allow(clippy::too_many_arguments)]
pub fn check_request(
    quotas: &[Quota],
    ev: &Evaluator,
    op: Operation,
    subresource: &str,
    obj: &Value,
    old: Option<&Value>,
    now: DateTime<Utc>,
) -> Result<Vec<(usize, ResourceList)>, Refusal> {
    if !ev.handles(op, subresource, obj, old) {
        return Ok(vec![]);
    }
    let mut interesting = Vec::new();
    for (i, q) in quotas.iter().enumerate() {
        ev.matching_scopes(obj, &q.scopes).map_err(|e| {
            Refusal::Internal(format!(
                "error matching scopes of quota {}, err: {e}",
                q.name
            ))
        })?;
        if !ev.matches(q, obj).map_err(Refusal::Internal)? {
            continue;
        }
        let restricted = ev.matching_resources(&q.hard_names());
        if let Err(e) = ev.constraints(&restricted, obj) {
            return Err(Refusal::Forbidden(format!("failed quota: {}: {e}", q.name)));
        }
        let unknown = restricted
            .iter()
            .any(|r| q.status_hard.contains_key(r) && !q.status_used.contains_key(r));
        if unknown {
            return Err(Refusal::Forbidden(format!(
                "status unknown for quota: {}, resources: {}",
                q.name,
                restricted.join(",")
            )));
        }
        interesting.push(i);
    }
    let input = ev.usage(obj, now);
    let negative: Vec<String> = input
        .iter()
        .filter(|(_, v)| v.sign() < 0)
        .map(|(k, _)| k.clone())
        .collect();
    if !negative.is_empty() {
        return Err(Refusal::Forbidden(format!(
            "quota usage is negative for resource(s): {}",
            negative.join(",")
        )));
    }
    let mut deltas: BTreeMap<usize, ResourceList> =
        interesting.iter().map(|i| (*i, input.clone())).collect();
    if op == Operation::Update {
        let Some(prev) = old else {
            return Err(Refusal::Forbidden(
                "unable to get previous usage since prior version of object was not found".into(),
            ));
        };
        let has_version = prev
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if has_version {
            let delta = subtract_non_negative(&input, &ev.usage(prev, now));
            for i in &interesting {
                if ev.matches(&quotas[*i], prev).map_err(Refusal::Internal)? {
                    deltas.insert(*i, delta.clone());
                }
            }
        }
    }
    let deltas: BTreeMap<usize, ResourceList> = deltas
        .into_iter()
        .map(|(i, d)| (i, remove_zeros(&d)))
        .filter(|(_, d)| !d.is_empty())
        .collect();
    let mut out = Vec::new();
    for (i, delta) in deltas {
        let q = &quotas[i];
        let hard_names = q.hard_names();
        let requested = mask(&delta, &hard_names);
        let new_used = add(&q.status_used, &requested);
        if subresource != "status" {
            let requested_names: Vec<String> = requested.keys().cloned().collect();
            let (ok, exceeded) =
                less_than_or_equal(&mask(&new_used, &requested_names), &q.status_hard);
            if !ok {
                return Err(Refusal::Forbidden(format!(
                    "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                    q.name,
                    pretty_print(&mask(&requested, &exceeded)),
                    pretty_print(&mask(&q.status_used, &exceeded)),
                    pretty_print(&mask(&q.status_hard, &exceeded)),
                )));
            }
        }
        if !equals(&new_used, &q.status_used) {
            out.push((i, new_used));
        }
    }
    Ok(out)
}

/// Evaluators that can account for a quota's hard names: the built-in ones plus an object count
/// for every other `count/<resource>.<group>` it names.
pub fn evaluators_for(hard: &[String]) -> Vec<Evaluator> {
    let mut evs: BTreeSet<Evaluator> = [
        Evaluator::Pods,
        Evaluator::Services,
        Evaluator::PersistentVolumeClaims,
    ]
    .into_iter()
    .collect();
    for r in [
        "configmaps",
        "resourcequotas",
        "replicationcontrollers",
        "secrets",
    ] {
        evs.insert(Evaluator::Count {
            group: String::new(),
            resource: r.into(),
        });
    }
    for name in hard {
        if let Some((g, r)) = parse_object_count_name(name) {
            if let Some(ev) = Evaluator::for_resource(&g, &r) {
                evs.insert(ev);
            }
        }
    }
    evs.into_iter()
        .filter(|e| !e.matching_resources(hard).is_empty())
        .collect()
}

/// A quota's `status` recomputed from the namespace's objects (upstream's quota controller
/// `syncResourceQuota`): `hard` is the spec's, `used` covers every hard name some evaluator
/// accounts for. `list` returns the namespace's objects of a group-resource, `None` when they
/// cannot be listed (that evaluator's names then keep their previous usage). Returns the new
/// status and whether it differs from the stored one.
pub fn calculate_usage(
    q: &Quota,
    mut list: impl FnMut(&Evaluator) -> Option<Vec<Value>>,
    now: DateTime<Utc>,
) -> (Value, bool) {
    let hard_names: Vec<String> = q.spec_hard.keys().cloned().collect();
    let mut used = q.status_used.clone();
    for ev in evaluators_for(&hard_names) {
        let names = ev.matching_resources(&hard_names);
        if let Some(items) = list(&ev) {
            for (k, v) in ev.usage_stats(&items, &q.scopes, &names, now) {
                used.insert(k, v);
            }
        }
    }
    let used = mask(&used, &hard_names);
    let dirty = !equals(&q.spec_hard, &q.status_hard)
        || !q.has_status_hard
        || !q.has_status_used
        || !equals(&used, &q.status_used);
    let mut status = Map::new();
    status.insert("hard".into(), list_to_json(&q.spec_hard));
    status.insert("used".into(), list_to_json(&used));
    (json!(status), dirty)
}

#[cfg(test)]
mod tests;
