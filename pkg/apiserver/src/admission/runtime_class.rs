//! RuntimeClass: a new pod naming `spec.runtimeClassName` must name an existing RuntimeClass;
//! it gets the class's pod overhead (`overhead.podFixed` → `spec.overhead`) and scheduling
//! constraints (`scheduling.nodeSelector` merged into `spec.nodeSelector`, refusing conflicts;
//! `scheduling.tolerations` merged into `spec.tolerations` without redundant entries), as
//! upstream. A pod may only carry an overhead its RuntimeClass defines.

use async_trait::async_trait;
use serde_json::{Map, Value};

use k3rs_apis::quantity::Quantity;

use super::builtin::{get_opt, resource};
use super::{Attributes, Operation, Plugin};
use crate::status::ApiResult;
use crate::store::Api;

pub struct RuntimeClass;

fn handles(a: &Attributes<'_>) -> bool {
    a.is("", "pods") && a.is_main_resource() && a.operation == Operation::Create
}

/// The RuntimeClass a pod names (`Ok(None)` when it names none), or upstream's 403.
async fn class_of(api: &Api, a: &Attributes<'_>, pod: &Value) -> ApiResult<Option<Value>> {
    let Some(name) = pod
        .pointer("/spec/runtimeClassName")
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let rcs = resource("node.k8s.io", "v1", "runtimeclasses")?;
    match get_opt(api, rcs, None, name).await? {
        Some(rc) => Ok(Some(rc)),
        None => Err(a.forbidden(
            Some(pod),
            format!("pod rejected: RuntimeClass \"{name}\" not found"),
        )),
    }
}

/// Two resource lists hold the same quantities (upstream's semantic equality).
fn same_resources(a: Option<&Value>, b: Option<&Value>) -> bool {
    let as_map = |v: Option<&Value>| -> Option<Vec<(String, Option<Quantity>)>> {
        let m = v?.as_object()?;
        let mut out: Vec<_> = m
            .iter()
            .map(|(k, q)| (k.clone(), Quantity::from_json(q).ok()))
            .collect();
        out.sort_by(|x, y| x.0.cmp(&y.0));
        Some(out)
    };
    let (a, b) = (as_map(a), as_map(b));
    // Empty and absent maps are equal under upstream's semantic equality.
    let empty = |m: &Option<Vec<(String, Option<Quantity>)>>| m.as_ref().is_none_or(Vec::is_empty);
    if empty(&a) && empty(&b) {
        return true;
    }
    a == b
}

/// A toleration's fields with Go's zero values for absent ones.
#[derive(Clone, Debug, PartialEq)]
struct Toleration {
    key: String,
    operator: String,
    value: String,
    effect: String,
    seconds: Option<i64>,
    raw: Value,
}

impl Toleration {
    fn from(v: &Value) -> Toleration {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Toleration {
            key: s("key"),
            operator: s("operator"),
            value: s("value"),
            effect: s("effect"),
            seconds: v.get("tolerationSeconds").and_then(Value::as_i64),
            raw: v.clone(),
        }
    }

    fn same(&self, o: &Toleration) -> bool {
        (
            &self.key,
            &self.operator,
            &self.value,
            &self.effect,
            self.seconds,
        ) == (&o.key, &o.operator, &o.value, &o.effect, o.seconds)
    }

    /// Upstream's `isSuperset`: everything `t` tolerates, `self` tolerates too.
    fn covers(&self, t: &Toleration) -> bool {
        if self.same(t) {
            return true;
        }
        if t.key != self.key && (!self.key.is_empty() || self.operator != "Exists") {
            return false;
        }
        if t.effect != self.effect && !self.effect.is_empty() {
            return false;
        }
        if self.effect == "NoExecute" {
            if let Some(mine) = self.seconds {
                if t.seconds.is_none_or(|s| s > mine) {
                    return false;
                }
            }
        }
        match self.operator.as_str() {
            "Equal" | "" => t.operator == "Equal" && t.value == self.value,
            "Exists" => true,
            _ => false,
        }
    }
}

/// Upstream's `MergeTolerations`: both lists, minus entries another one covers.
fn merge_tolerations(first: &[Value], second: &[Value]) -> Vec<Value> {
    let all: Vec<Toleration> = first.iter().chain(second).map(Toleration::from).collect();
    let mut merged: Vec<Toleration> = Vec::new();
    'next: for (i, t) in all.iter().enumerate() {
        if merged.iter().any(|m| m.covers(t)) {
            continue;
        }
        for later in &all[i + 1..] {
            if !t.same(later) && later.covers(t) {
                continue 'next;
            }
        }
        merged.push(t.clone());
    }
    merged.into_iter().map(|t| t.raw).collect()
}

fn overhead_mismatch(a: &Attributes<'_>, pod: &Value) -> crate::status::ApiError {
    a.forbidden(
        Some(pod),
        "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead",
    )
}

#[async_trait]
impl Plugin for RuntimeClass {
    fn name(&self) -> &'static str {
        "RuntimeClass"
    }

    async fn admit(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if !handles(a) {
            return Ok(());
        }
        let Some(rc) = class_of(api, a, obj).await? else {
            return Ok(());
        };
        if let Some(fixed) = rc.pointer("/overhead/podFixed").filter(|v| !v.is_null()) {
            let pod_overhead = obj.pointer("/spec/overhead");
            let has = pod_overhead
                .and_then(Value::as_object)
                .is_some_and(|m| !m.is_empty());
            if has && !same_resources(pod_overhead, Some(fixed)) {
                return Err(overhead_mismatch(a, obj));
            }
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("overhead".into(), fixed.clone());
            }
        }
        let Some(scheduling) = rc.get("scheduling").filter(|v| v.is_object()) else {
            return Ok(());
        };
        let mut selector: Map<String, Value> = obj
            .pointer("/spec/nodeSelector")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let had_selector = obj
            .pointer("/spec/nodeSelector")
            .is_some_and(|v| !v.is_null());
        if let Some(rc_sel) = scheduling.get("nodeSelector").and_then(Value::as_object) {
            for (k, v) in rc_sel {
                if let Some(mine) = selector.get(k) {
                    if mine != v {
                        return Err(a.forbidden(
                            Some(obj),
                            format!(
                                "conflict: runtimeClass.scheduling.nodeSelector[{k}] = {}; pod.spec.nodeSelector[{k}] = {}",
                                v.as_str().unwrap_or(""),
                                mine.as_str().unwrap_or("")
                            ),
                        ));
                    }
                }
                selector.insert(k.clone(), v.clone());
            }
        }
        let pod_tolerations = obj
            .pointer("/spec/tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let rc_tolerations = scheduling
            .get("tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let merged = merge_tolerations(&pod_tolerations, &rc_tolerations);
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            if had_selector || !selector.is_empty() {
                spec.insert("nodeSelector".into(), Value::Object(selector));
            }
            if !merged.is_empty() || spec.get("tolerations").is_some_and(|t| !t.is_null()) {
                spec.insert("tolerations".into(), Value::Array(merged));
            }
        }
        Ok(())
    }

    async fn validate(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: Option<&Value>,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        let Some(pod) = obj.filter(|_| handles(a)) else {
            return Ok(());
        };
        let rc = class_of(api, a, pod).await?;
        let pod_overhead = pod.pointer("/spec/overhead").filter(|v| !v.is_null());
        match rc
            .as_ref()
            .and_then(|rc| rc.pointer("/overhead/podFixed"))
            .filter(|v| !v.is_null())
        {
            Some(fixed) => {
                if !same_resources(pod_overhead, Some(fixed)) {
                    return Err(overhead_mismatch(a, pod));
                }
            }
            None => {
                if pod_overhead.is_some() {
                    return Err(a.forbidden(
                        Some(pod),
                        "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead",
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redundant_tolerations_are_dropped_when_merging() {
        let pod = vec![
            json!({"key": "a", "operator": "Equal", "value": "1", "effect": "NoSchedule"}),
            json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}),
        ];
        let rc = vec![
            json!({"key": "a", "operator": "Exists"}),
            json!({"key": "b", "operator": "Exists", "effect": "NoSchedule"}),
            json!({"key": "b", "operator": "Exists", "effect": "NoSchedule"}),
        ];
        let merged = merge_tolerations(&pod, &rc);
        assert_eq!(
            merged,
            vec![pod[1].clone(), rc[0].clone(), rc[1].clone()],
            "{merged:?}"
        );
        // A shorter NoExecute toleration is covered by a longer one, not the other way round.
        let long = Toleration::from(
            &json!({"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 600}),
        );
        let short = Toleration::from(
            &json!({"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}),
        );
        assert!(long.covers(&short) && !short.covers(&long));
    }

    #[test]
    fn overheads_compare_as_quantities() {
        assert!(same_resources(
            Some(&json!({"cpu": "1000m"})),
            Some(&json!({"cpu": "1"}))
        ));
        assert!(!same_resources(
            Some(&json!({"cpu": "1"})),
            Some(&json!({"cpu": "2"}))
        ));
        assert!(!same_resources(None, Some(&json!({"cpu": "1"}))));
        assert!(same_resources(None, Some(&json!({}))));
    }
}
