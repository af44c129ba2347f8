//! The arithmetic and bookkeeping of the Deployment controller, without I/O (upstream's
//! `pkg/controller/deployment/util`): views of Deployments and ReplicaSets, int-or-percent
//! scaling, surge and unavailability fenceposts, the size of the new ReplicaSet, proportional
//! shares when scaling mid-rollout, revision and replica annotations, status and conditions.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use kube::api::DynamicObject;
use kube::ResourceExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const DEPRECATED_ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// The length limit of the revision-history annotation.
const MAX_REV_HISTORY_CHARS: usize = 2000;

// Condition types and reasons.
pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";
pub const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

fn i64_at(v: &Value, path: &str) -> Option<i64> {
    v.pointer(path).and_then(Value::as_i64)
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A Deployment or ReplicaSet condition (the two share their shape where it matters here).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl Condition {
    pub fn new(type_: &str, status: &str, reason: &str, message: String, now: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            last_update_time: Some(now.into()),
            last_transition_time: Some(now.into()),
            reason: reason.into(),
            message,
        }
    }
}

/// `apps/v1` DeploymentStatus, zero fields omitted as Go's `omitempty` does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub observed_generation: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replicas: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub updated_replicas: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ready_replicas: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub available_replicas: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unavailable_replicas: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating_replicas: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i64>,
}

impl DeploymentStatus {
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Upstream's `SetDeploymentCondition`: nothing changes when the status and reason are the
    /// same; the transition time is kept when only the reason changes.
    pub fn set_condition(&mut self, mut c: Condition) {
        if let Some(cur) = self.condition(&c.type_) {
            if cur.status == c.status && cur.reason == c.reason {
                return;
            }
            if cur.status == c.status {
                c.last_transition_time = cur.last_transition_time.clone();
            }
        }
        self.remove_condition(&c.type_.clone());
        self.conditions.push(c);
    }

    pub fn remove_condition(&mut self, type_: &str) {
        self.conditions.retain(|c| c.type_ != type_);
    }
}

/// A Deployment as the controller reads it.
#[derive(Clone, Debug)]
pub struct Dep {
    pub obj: DynamicObject,
    pub status: DeploymentStatus,
}

impl Dep {
    pub fn new(obj: DynamicObject) -> Dep {
        let status = obj
            .data
            .get("status")
            .cloned()
            .and_then(|s| serde_json::from_value(s).ok())
            .unwrap_or_default();
        Dep { obj, status }
    }

    pub fn name(&self) -> String {
        self.obj.name_any()
    }

    pub fn uid(&self) -> String {
        self.obj.uid().unwrap_or_default()
    }

    pub fn replicas(&self) -> i64 {
        i64_at(&self.obj.data, "/spec/replicas").unwrap_or(1)
    }

    pub fn generation(&self) -> i64 {
        self.obj.metadata.generation.unwrap_or(0)
    }

    pub fn strategy_type(&self) -> &str {
        self.obj
            .data
            .pointer("/spec/strategy/type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn is_rolling(&self) -> bool {
        self.strategy_type() == "RollingUpdate"
    }

    fn rolling(&self, field: &str) -> Option<&Value> {
        self.obj
            .data
            .pointer("/spec/strategy/rollingUpdate")
            .and_then(|r| r.get(field))
            .filter(|v| !v.is_null())
    }

    pub fn paused(&self) -> bool {
        self.obj
            .data
            .pointer("/spec/paused")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn min_ready_seconds(&self) -> i64 {
        i64_at(&self.obj.data, "/spec/minReadySeconds").unwrap_or(0)
    }

    pub fn template(&self) -> &Value {
        self.obj
            .data
            .pointer("/spec/template")
            .unwrap_or(&Value::Null)
    }

    pub fn selector(&self) -> Option<&Value> {
        self.obj.data.pointer("/spec/selector")
    }

    /// `progressDeadlineSeconds`, unless unset or "no deadline" (MaxInt32).
    pub fn progress_deadline(&self) -> Option<i64> {
        i64_at(&self.obj.data, "/spec/progressDeadlineSeconds").filter(|s| *s != i32::MAX as i64)
    }

    /// `revisionHistoryLimit`, unless unset or "keep all" (MaxInt32).
    pub fn revision_history_limit(&self) -> Option<i64> {
        i64_at(&self.obj.data, "/spec/revisionHistoryLimit").filter(|s| *s != i32::MAX as i64)
    }

    pub fn annotations(&self) -> &BTreeMap<String, String> {
        self.obj.annotations()
    }

    /// Upstream's `SetDeploymentRevision`: whether the annotation changed.
    pub fn set_revision(&mut self, revision: &str) -> bool {
        let a = self.obj.annotations_mut();
        if a.get(REVISION).map(String::as_str) == Some(revision) {
            return false;
        }
        a.insert(REVISION.into(), revision.into());
        true
    }

    /// The surge allowed on top of `replicas` (0 unless rolling).
    pub fn max_surge(&self) -> i64 {
        if !self.is_rolling() {
            return 0;
        }
        resolve_fenceposts(
            self.rolling("maxSurge"),
            self.rolling("maxUnavailable"),
            self.replicas(),
        )
        .map(|(s, _)| s)
        .unwrap_or(0)
    }

    /// The unavailability allowed below `replicas` (0 unless rolling, at most `replicas`).
    pub fn max_unavailable(&self) -> i64 {
        if !self.is_rolling() || self.replicas() == 0 {
            return 0;
        }
        resolve_fenceposts(
            self.rolling("maxSurge"),
            self.rolling("maxUnavailable"),
            self.replicas(),
        )
        .map(|(_, u)| u.min(self.replicas()))
        .unwrap_or(0)
    }

    /// Upstream's `NewRSNewReplicas`: how big the new ReplicaSet may be now, given the
    /// replicas of all (`total`, the new one included) and of the new one.
    pub fn new_rs_new_replicas(&self, total: i64, new_rs: i64) -> Result<i64, String> {
        match self.strategy_type() {
            "RollingUpdate" => {
                let surge = scaled_value(self.rolling("maxSurge"), self.replicas(), true)?;
                let max_total = self.replicas() + surge;
                if total >= max_total {
                    return Ok(new_rs);
                }
                Ok(new_rs + (max_total - total).min(self.replicas() - new_rs))
            }
            "Recreate" => Ok(self.replicas()),
            t => Err(format!("deployment type {t} isn't supported")),
        }
    }
}

/// A ReplicaSet as the controller reads it.
#[derive(Clone, Debug)]
pub struct Rs(pub DynamicObject);

impl Rs {
    pub fn name(&self) -> String {
        self.0.name_any()
    }

    pub fn uid(&self) -> String {
        self.0.uid().unwrap_or_default()
    }

    pub fn replicas(&self) -> i64 {
        i64_at(&self.0.data, "/spec/replicas").unwrap_or(1)
    }

    pub fn set_replicas(&mut self, n: i64) {
        if let Some(spec) = self.0.data.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("replicas".into(), n.into());
        }
    }

    pub fn min_ready_seconds(&self) -> i64 {
        i64_at(&self.0.data, "/spec/minReadySeconds").unwrap_or(0)
    }

    pub fn set_min_ready_seconds(&mut self, n: i64) {
        if let Some(spec) = self.0.data.get_mut("spec").and_then(Value::as_object_mut) {
            if n == 0 {
                spec.remove("minReadySeconds");
            } else {
                spec.insert("minReadySeconds".into(), n.into());
            }
        }
    }

    /// An integer field of the status (0 when unset).
    pub fn status(&self, field: &str) -> i64 {
        self.0
            .data
            .get("status")
            .and_then(|s| s.get(field))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    pub fn terminating(&self) -> Option<i64> {
        self.0
            .data
            .pointer("/status/terminatingReplicas")
            .and_then(Value::as_i64)
    }

    pub fn conditions(&self) -> Vec<Condition> {
        self.0
            .data
            .pointer("/status/conditions")
            .cloned()
            .and_then(|c| serde_json::from_value(c).ok())
            .unwrap_or_default()
    }

    pub fn generation(&self) -> i64 {
        self.0.metadata.generation.unwrap_or(0)
    }

    pub fn deleting(&self) -> bool {
        self.0.metadata.deletion_timestamp.is_some()
    }

    pub fn created(&self) -> i64 {
        self.0
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.as_second())
            .unwrap_or(0)
    }

    pub fn template(&self) -> &Value {
        self.0
            .data
            .pointer("/spec/template")
            .unwrap_or(&Value::Null)
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.0.annotations().get(key).map(String::as_str)
    }

    /// The revision annotation as a number (0 when absent; `None` when unreadable).
    pub fn revision(&self) -> Option<i64> {
        match self.annotation(REVISION) {
            None => Some(0),
            Some(v) => v.parse().ok(),
        }
    }

    /// A non-negative int32 annotation (upstream's `getNonNegativeInt32FromAnnotation`).
    pub fn int_annotation(&self, key: &str) -> Option<i64> {
        self.annotation(key)?
            .parse::<u32>()
            .ok()
            .filter(|v| *v <= i32::MAX as u32)
            .map(i64::from)
    }

    /// Upstream's `SetReplicasAnnotations`: whether anything changed.
    pub fn set_replicas_annotations(&mut self, desired: i64, max: i64) -> bool {
        let a = self.0.annotations_mut();
        let mut changed = false;
        for (k, v) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
            let v = v.to_string();
            if a.get(k) != Some(&v) {
                a.insert(k.into(), v);
                changed = true;
            }
        }
        changed
    }

    pub fn replicas_annotations_need_update(&self, desired: i64, max: i64) -> bool {
        self.annotation(DESIRED_REPLICAS) != Some(desired.to_string().as_str())
            || self.annotation(MAX_REPLICAS) != Some(max.to_string().as_str())
    }
}

/// Oldest first, by creation time then name (`ReplicaSetsByCreationTimestamp`).
pub fn by_creation(a: &Rs, b: &Rs) -> Ordering {
    a.created()
        .cmp(&b.created())
        .then_with(|| a.name().cmp(&b.name()))
}

/// Largest first; among equals the older first (`ReplicaSetsBySizeOlder`).
pub fn by_size_older(a: &Rs, b: &Rs) -> Ordering {
    b.replicas()
        .cmp(&a.replicas())
        .then_with(|| by_creation(a, b))
}

/// Largest first; among equals the newer first (`ReplicaSetsBySizeNewer`).
pub fn by_size_newer(a: &Rs, b: &Rs) -> Ordering {
    b.replicas()
        .cmp(&a.replicas())
        .then_with(|| by_creation(b, a))
}

/// By revision, then creation (`ReplicaSetsByRevision`).
pub fn by_revision(a: &Rs, b: &Rs) -> Ordering {
    match (a.revision(), b.revision()) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        _ => by_creation(a, b),
    }
}

pub fn sum(rss: &[&Rs], f: impl Fn(&Rs) -> i64) -> i64 {
    rss.iter().map(|r| f(r)).sum()
}

/// The ReplicaSets with pods wanted (`FilterActiveReplicaSets`).
pub fn active<'a>(rss: impl IntoIterator<Item = &'a Rs>) -> Vec<&'a Rs> {
    rss.into_iter().filter(|r| r.replicas() > 0).collect()
}

/// apimachinery's `GetScaledValueFromIntOrPercent`: an int as is, "N%" of `total` rounded up or
/// down.
pub fn scaled_value(v: Option<&Value>, total: i64, round_up: bool) -> Result<i64, String> {
    match v {
        None => Err("nil value for IntOrString".into()),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("invalid value for IntOrString: {n}")),
        Some(Value::String(s)) => {
            let Some(pct) = s.strip_suffix('%') else {
                return Err(format!(
                    "invalid value for IntOrString: invalid type: string is not a percentage: {s}"
                ));
            };
            let pct: i64 = pct
                .parse()
                .map_err(|_| format!("invalid value for IntOrString: {s}"))?;
            let v = pct as f64 * total as f64 / 100.0;
            Ok(if round_up { v.ceil() } else { v.floor() } as i64)
        }
        Some(other) => Err(format!("invalid value for IntOrString: {other}")),
    }
}

/// Upstream's `ResolveFenceposts`: (surge rounded up, unavailable rounded down); when both come
/// to zero, one pod may be unavailable.
pub fn resolve_fenceposts(
    surge: Option<&Value>,
    unavailable: Option<&Value>,
    desired: i64,
) -> Result<(i64, i64), String> {
    let zero = Value::from(0);
    let surge = scaled_value(Some(surge.unwrap_or(&zero)), desired, true)?;
    let unavailable = scaled_value(Some(unavailable.unwrap_or(&zero)), desired, false)?;
    if surge == 0 && unavailable == 0 {
        return Ok((0, 1));
    }
    Ok((surge, unavailable))
}

/// Upstream's `GetReplicaSetProportion`: how many of `to_add` (of which `added` are placed
/// already) this ReplicaSet takes.
pub fn proportion(rs: &Rs, d: &Dep, to_add: i64, added: i64) -> i64 {
    if rs.replicas() == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

fn fraction(rs: &Rs, d: &Dep) -> i64 {
    if d.replicas() == 0 {
        return -rs.replicas();
    }
    let max_replicas = d.replicas() + d.max_surge();
    let before = match rs.int_annotation(MAX_REPLICAS).filter(|v| *v != 0) {
        Some(v) => v,
        None => {
            if d.status.replicas == 0 {
                return 0;
            }
            d.status.replicas
        }
    };
    let size = (rs.replicas() * max_replicas) as f64 / before as f64;
    // Go's math.Round: halves away from zero, as f64::round.
    size.round() as i64 - rs.replicas()
}

/// Upstream's `IsSaturated`: the new ReplicaSet has all the replicas, all available.
pub fn is_saturated(d: &Dep, rs: Option<&Rs>) -> bool {
    let Some(rs) = rs else { return false };
    let Some(desired) = rs
        .annotation(DESIRED_REPLICAS)
        .and_then(|v| v.parse::<i64>().ok())
    else {
        return false;
    };
    rs.replicas() == d.replicas()
        && desired == d.replicas()
        && rs.status("availableReplicas") == d.replicas()
}

/// Upstream's `FindActiveOrLatest`: the only ReplicaSet with replicas, or the newest when none
/// has any; `None` when several have.
pub fn find_active_or_latest<'a>(new: Option<&'a Rs>, old: &[&'a Rs]) -> Option<&'a Rs> {
    if new.is_none() && old.is_empty() {
        return None;
    }
    let mut old: Vec<&Rs> = old.to_vec();
    old.sort_by(|a, b| by_creation(b, a));
    let all = active(old.iter().copied().chain(new));
    match all.len() {
        0 => new.or(old.first().copied()),
        1 => Some(all[0]),
        _ => None,
    }
}

/// Upstream's `SetNewReplicaSetAnnotations`: the Deployment's annotations (but its own
/// bookkeeping ones) copied, the revision raised to `new_revision` (keeping the history of a
/// ReplicaSet rolled back to), and for a new ReplicaSet the replica annotations. Whether
/// anything changed.
pub fn set_new_rs_annotations(d: &Dep, rs: &mut Rs, new_revision: &str, exists: bool) -> bool {
    let mut changed = false;
    {
        let a = rs.0.annotations_mut();
        for (k, v) in d.annotations() {
            let skip = matches!(
                k.as_str(),
                LAST_APPLIED
                    | REVISION
                    | REVISION_HISTORY
                    | DESIRED_REPLICAS
                    | MAX_REPLICAS
                    | DEPRECATED_ROLLBACK_TO
            );
            if skip || a.get(k) == Some(v) {
                continue;
            }
            a.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    let old = rs.annotation(REVISION).map(str::to_string);
    let old_n = match old.as_deref() {
        None | Some("") => 0,
        Some(o) => match o.parse::<i64>() {
            Ok(n) => n,
            Err(_) => return false,
        },
    };
    let Ok(new_n) = new_revision.parse::<i64>() else {
        return false;
    };
    if old_n < new_n {
        let a = rs.0.annotations_mut();
        a.insert(REVISION.into(), new_revision.into());
        changed = true;
        if let Some(old) = old {
            let history = a.get(REVISION_HISTORY).cloned().unwrap_or_default();
            if history.is_empty() {
                a.insert(REVISION_HISTORY.into(), old);
            } else {
                let mut revs: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > MAX_REV_HISTORY_CHARS && start < revs.len() {
                    total -= revs[start].len() + 1;
                    start += 1;
                }
                if total <= MAX_REV_HISTORY_CHARS {
                    revs = revs.split_off(start);
                    revs.push(&old);
                    let joined = revs.join(",");
                    a.insert(REVISION_HISTORY.into(), joined);
                }
            }
        }
    }
    if !exists && rs.set_replicas_annotations(d.replicas(), d.replicas() + d.max_surge()) {
        changed = true;
    }
    changed
}

/// Upstream's `GetTerminatingReplicaCountForReplicaSets`: unknown when a synced ReplicaSet does
/// not report it.
pub fn terminating_replicas(rss: &[&Rs]) -> Option<i64> {
    let mut n = 0;
    for rs in rss {
        match rs.terminating() {
            None if rs.status("observedGeneration") == 0 => {}
            None => return None,
            Some(t) => n += t,
        }
    }
    Some(n)
}

/// Upstream's `calculateStatus`.
pub fn calculate_status(all: &[&Rs], new: Option<&Rs>, d: &Dep, now: &str) -> DeploymentStatus {
    let available = sum(all, |r| r.status("availableReplicas"));
    let total = sum(all, Rs::replicas);
    let mut status = DeploymentStatus {
        observed_generation: d.generation(),
        replicas: sum(all, |r| r.status("replicas")),
        updated_replicas: new.map(|r| r.status("replicas")).unwrap_or(0),
        ready_replicas: sum(all, |r| r.status("readyReplicas")),
        available_replicas: available,
        unavailable_replicas: (total - available).max(0),
        terminating_replicas: terminating_replicas(all),
        conditions: d.status.conditions.clone(),
        collision_count: d.status.collision_count,
    };
    if available >= d.replicas() - d.max_unavailable() {
        status.set_condition(Condition::new(
            AVAILABLE,
            "True",
            MIN_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        ));
    } else {
        status.set_condition(Condition::new(
            AVAILABLE,
            "False",
            MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        ));
    }
    status
}

/// Upstream's `DeploymentComplete`: all replicas updated and available, no old ones left.
pub fn deployment_complete(d: &Dep, s: &DeploymentStatus) -> bool {
    s.updated_replicas == d.replicas()
        && s.replicas == d.replicas()
        && s.available_replicas == d.replicas()
        && s.observed_generation >= d.generation()
}

/// Upstream's `DeploymentProgressing`: more updated, ready or available replicas, or fewer old.
pub fn deployment_progressing(d: &Dep, s: &DeploymentStatus) -> bool {
    let old = &d.status;
    s.updated_replicas > old.updated_replicas
        || (s.replicas - s.updated_replicas) < (old.replicas - old.updated_replicas)
        || s.ready_replicas > old.ready_replicas
        || s.available_replicas > old.available_replicas
}

/// Upstream's `DeploymentTimedOut`: no progress reported for `progressDeadlineSeconds`.
pub fn deployment_timed_out(d: &Dep, s: &DeploymentStatus, now: i64) -> bool {
    let Some(deadline) = d.progress_deadline() else {
        return false;
    };
    let Some(c) = s.condition(PROGRESSING) else {
        return false;
    };
    if c.reason == NEW_RS_AVAILABLE {
        return false;
    }
    if c.reason == TIMED_OUT {
        return true;
    }
    crate::common::seconds_of(c.last_update_time.as_deref()) + deadline < now
}

/// The name of the ReplicaSet for a template hash, the Deployment's name shortened to fit.
pub fn replica_set_name(deployment: &str, hash: &str) -> String {
    let max = 253usize.saturating_sub(1 + hash.len());
    let mut base = deployment;
    if base.len() > max && max > 0 {
        let mut cut = max;
        while !base.is_char_boundary(cut) {
            cut -= 1;
        }
        base = &base[..cut];
    }
    format!("{base}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dep(spec: Value) -> Dep {
        Dep::new(
            serde_json::from_value(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d", "namespace": "ns", "uid": "u", "generation": 1},
                "spec": spec,
            }))
            .unwrap(),
        )
    }

    fn rolling(replicas: i64, surge: Value, unavailable: Value) -> Dep {
        dep(
            json!({"replicas": replicas, "strategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}),
        )
    }

    fn rs(name: &str, replicas: i64, created: &str, annotations: Value) -> Rs {
        Rs(serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "ns", "uid": name, "creationTimestamp": created,
                "annotations": annotations},
            "spec": {"replicas": replicas},
        }))
        .unwrap())
    }

    #[test]
    fn int_or_percent_scaling() {
        assert_eq!(scaled_value(Some(&json!(3)), 10, true), Ok(3));
        assert_eq!(scaled_value(Some(&json!("25%")), 3, true), Ok(1));
        assert_eq!(scaled_value(Some(&json!("25%")), 3, false), Ok(0));
        assert_eq!(scaled_value(Some(&json!("50%")), 5, false), Ok(2));
        assert_eq!(scaled_value(Some(&json!("50%")), 5, true), Ok(3));
        assert!(scaled_value(Some(&json!("5")), 5, true).is_err());
        assert!(scaled_value(None, 5, true).is_err());
    }

    #[test]
    fn fenceposts_as_upstream() {
        // Upstream's table: desired, surge, unavailable → (surge, unavailable).
        for (desired, s, u, want) in [
            (2, json!("0%"), json!("1%"), (0, 1)),
            (1, json!("0%"), json!("1%"), (0, 1)),
            (2, json!("1%"), json!("25%"), (1, 0)),
            (1, json!("1%"), json!("25%"), (1, 0)),
            (2, json!("1%"), json!("0%"), (1, 0)),
            (10, json!(3), json!(2), (3, 2)),
        ] {
            assert_eq!(
                resolve_fenceposts(Some(&s), Some(&u), desired),
                Ok(want),
                "{desired} {s} {u}"
            );
        }
        let d = rolling(3, json!("25%"), json!("25%"));
        assert_eq!((d.max_surge(), d.max_unavailable()), (1, 0));
        let d = rolling(4, json!("25%"), json!("25%"));
        assert_eq!((d.max_surge(), d.max_unavailable()), (1, 1));
        let d = dep(json!({"replicas": 4, "strategy": {"type": "Recreate"}}));
        assert_eq!((d.max_surge(), d.max_unavailable()), (0, 0));
    }

    #[test]
    fn new_replica_set_size() {
        // Upstream's NewRSNewReplicas table.
        let d = rolling(1, json!(1), json!(0));
        assert_eq!(d.new_rs_new_replicas(1, 0), Ok(1));
        let d = rolling(10, json!("25%"), json!(0));
        assert_eq!(d.new_rs_new_replicas(12, 0), Ok(1));
        assert_eq!(d.new_rs_new_replicas(5, 0), Ok(8));
        assert_eq!(d.new_rs_new_replicas(13, 0), Ok(0));
        let d = dep(json!({"replicas": 3, "strategy": {"type": "Recreate"}}));
        assert_eq!(d.new_rs_new_replicas(1, 0), Ok(3));
    }

    #[test]
    fn proportions() {
        // Scaling 10 (+3 surge) to 20: a RS of 5 gets 5 * 23 / 13 ≈ 8.8 → 9, i.e. +4.
        let d = rolling(20, json!(3), json!(0));
        let r = rs("a", 5, "2024-01-01T00:00:00Z", json!({MAX_REPLICAS: "13"}));
        assert_eq!(proportion(&r, &d, 10, 0), 4);
        assert_eq!(proportion(&r, &d, 2, 0), 2);
        assert_eq!(proportion(&r, &d, 10, 10), 0);
        // Scaling to zero takes everything.
        let d = rolling(0, json!(3), json!(0));
        assert_eq!(proportion(&r, &d, -8, 0), -5);
    }

    #[test]
    fn active_or_latest_and_saturation() {
        let old1 = rs("a", 0, "2024-01-01T00:00:00Z", json!({}));
        let old2 = rs("b", 0, "2024-01-02T00:00:00Z", json!({}));
        assert_eq!(
            find_active_or_latest(None, &[&old1, &old2]).map(Rs::name),
            Some("b".into())
        );
        let new = rs(
            "c",
            2,
            "2024-01-03T00:00:00Z",
            json!({DESIRED_REPLICAS: "2"}),
        );
        assert_eq!(
            find_active_or_latest(Some(&new), &[&old1, &old2]).map(Rs::name),
            Some("c".into())
        );
        let old3 = rs("e", 1, "2024-01-02T00:00:00Z", json!({}));
        assert!(find_active_or_latest(Some(&new), &[&old3]).is_none());
        let d = rolling(2, json!(1), json!(0));
        assert!(!is_saturated(&d, Some(&new)), "no pods available");
    }

    #[test]
    fn revisions_and_annotations() {
        let mut d = dep(json!({"replicas": 3, "strategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}));
        d.obj.annotations_mut().insert("team".into(), "blue".into());
        d.obj
            .annotations_mut()
            .insert(LAST_APPLIED.into(), "{}".into());
        let mut r = rs("a", 0, "2024-01-01T00:00:00Z", json!({}));
        assert!(set_new_rs_annotations(&d, &mut r, "1", false));
        assert_eq!(r.annotation("team"), Some("blue"));
        assert_eq!(r.annotation(LAST_APPLIED), None);
        assert_eq!(r.annotation(REVISION), Some("1"));
        assert_eq!(r.annotation(DESIRED_REPLICAS), Some("3"));
        assert_eq!(r.annotation(MAX_REPLICAS), Some("4"));
        assert!(!set_new_rs_annotations(&d, &mut r, "1", true));
        // Rolled back to: the old revision goes to the history.
        assert!(set_new_rs_annotations(&d, &mut r, "3", true));
        assert_eq!(r.annotation(REVISION), Some("3"));
        assert_eq!(r.annotation(REVISION_HISTORY), Some("1"));
        assert!(set_new_rs_annotations(&d, &mut r, "5", true));
        assert_eq!(r.annotation(REVISION_HISTORY), Some("1,3"));
        assert!(d.set_revision("5"));
        assert!(!d.set_revision("5"));
    }

    #[test]
    fn conditions_keep_transition_time() {
        let mut s = DeploymentStatus::default();
        s.set_condition(Condition::new(
            PROGRESSING,
            "True",
            NEW_RS_CREATED,
            "a".into(),
            "t1",
        ));
        s.set_condition(Condition::new(
            PROGRESSING,
            "True",
            NEW_RS_CREATED,
            "b".into(),
            "t2",
        ));
        assert_eq!(s.conditions[0].message, "a");
        s.set_condition(Condition::new(
            PROGRESSING,
            "True",
            RS_UPDATED,
            "c".into(),
            "t3",
        ));
        assert_eq!(s.conditions[0].last_transition_time.as_deref(), Some("t1"));
        assert_eq!(s.conditions[0].last_update_time.as_deref(), Some("t3"));
        s.set_condition(Condition::new(
            PROGRESSING,
            "False",
            TIMED_OUT,
            "d".into(),
            "t4",
        ));
        assert_eq!(s.conditions[0].last_transition_time.as_deref(), Some("t4"));
        assert_eq!(s.conditions.len(), 1);
    }

    #[test]
    fn names_fit_a_subdomain() {
        assert_eq!(replica_set_name("web", "5d4f"), "web-5d4f");
        let long = "x".repeat(260);
        let n = replica_set_name(&long, "5d4f8b9c7");
        assert_eq!(n.len(), 253);
        assert!(n.ends_with("-5d4f8b9c7"));
    }
}
