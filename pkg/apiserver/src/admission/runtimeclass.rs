//! RuntimeClass (pods, create): a pod naming a RuntimeClass gets its `overhead` and its
//! scheduling constraints (node selector, tolerations); a pod whose overhead disagrees with its
//! class, or that names a class that does not exist, is refused. As upstream's plugin.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{forbidden, is, Attributes, Operation, Plugin};
use crate::status::ApiResult;
use crate::store::Api;

pub struct RuntimeClass;

/// The RuntimeClass a pod names, if any; refused when it does not exist.
async fn class_of(api: &Api, a: &Attributes<'_>, pod: &Value) -> ApiResult<Option<Value>> {
    let Some(name) = pod
        .pointer("/spec/runtimeClassName")
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let Some(res) = k3rs_apis::registry::find("node.k8s.io", "v1", "runtimeclasses") else {
        return Ok(None);
    };
    match api.get(res, None, name).await {
        Ok(rc) => Ok(Some(rc)),
        Err(e) if e.code == 404 => Err(forbidden(
            a,
            Some(pod),
            format!("pod rejected: RuntimeClass {name:?} not found"),
        )),
        Err(e) => Err(e),
    }
}

fn applies(a: &Attributes<'_>) -> bool {
    a.operation == Operation::Create && is(a, "", "pods")
}

/// Upstream's toleration subsumption: whether `ss` tolerates everything `t` does.
fn is_superset(ss: &Value, t: &Value) -> bool {
    if ss == t {
        return true;
    }
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    if s(t, "key") != s(ss, "key") && (!s(ss, "key").is_empty() || s(ss, "operator") != "Exists") {
        return false;
    }
    if s(t, "effect") != s(ss, "effect") && !s(ss, "effect").is_empty() {
        return false;
    }
    if s(ss, "effect") == "NoExecute" {
        if let Some(sss) = ss.get("tolerationSeconds").and_then(Value::as_i64) {
            match t.get("tolerationSeconds").and_then(Value::as_i64) {
                Some(ts) if ts <= sss => {}
                _ => return false,
            }
        }
    }
    match s(ss, "operator").as_str() {
        "Equal" | "" => {
            matches!(s(t, "operator").as_str(), "Equal" | "") && s(t, "value") == s(ss, "value")
        }
        "Exists" => true,
        _ => false,
    }
}

/// Upstream's `MergeTolerations`: both lists, without tolerations another one subsumes.
pub fn merge_tolerations(first: &[Value], second: &[Value]) -> Vec<Value> {
    let all: Vec<&Value> = first.iter().chain(second).collect();
    let mut merged: Vec<Value> = Vec::new();
    for (i, t) in all.iter().enumerate() {
        if merged.iter().any(|m| is_superset(m, t)) {
            continue;
        }
        if all[i + 1..].iter().any(|t2| t2 != t && is_superset(t2, t)) {
            continue;
        }
        merged.push((*t).clone());
    }
    merged
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
        pod: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if !applies(a) {
            return Ok(());
        }
        let Some(rc) = class_of(api, a, pod).await? else {
            return Ok(());
        };
        if let Some(fixed) = rc.pointer("/overhead/podFixed") {
            match pod.pointer("/spec/overhead") {
                Some(o)
                    if o.as_object().is_some_and(|m| !m.is_empty())
                        && !k3rs_apis::quantity::same_list(o, fixed) =>
                {
                    return Err(forbidden(
                        a,
                        Some(pod),
                        "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead",
                    ))
                }
                _ => pod["spec"]["overhead"] = fixed.clone(),
            }
        }
        if let Some(sched) = rc.get("scheduling") {
            if let Some(sel) = sched.get("nodeSelector").and_then(Value::as_object) {
                let mut merged = pod
                    .pointer("/spec/nodeSelector")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for (k, v) in sel {
                    match merged.get(k) {
                        Some(pv) if pv != v => {
                            return Err(forbidden(
                                a,
                                Some(pod),
                                format!(
                                    "conflict: runtimeClass.scheduling.nodeSelector[{k}] = {}; pod.spec.nodeSelector[{k}] = {}",
                                    v.as_str().unwrap_or_default(),
                                    pv.as_str().unwrap_or_default()
                                ),
                            ))
                        }
                        _ => {
                            merged.insert(k.clone(), v.clone());
                        }
                    }
                }
                pod["spec"]["nodeSelector"] = Value::Object(merged);
            }
            if let Some(tol) = sched.get("tolerations").and_then(Value::as_array) {
                let current = pod
                    .pointer("/spec/tolerations")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                pod["spec"]["tolerations"] = json!(merge_tolerations(&current, tol));
            }
        }
        Ok(())
    }

    async fn validate(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        pod: Option<&Value>,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        let Some(pod) = pod.filter(|_| applies(a)) else {
            return Ok(());
        };
        let overhead = pod.pointer("/spec/overhead").filter(|o| !o.is_null());
        match class_of(api, a, pod).await? {
            Some(rc) if rc.pointer("/overhead/podFixed").is_some() => {
                let fixed = rc.pointer("/overhead/podFixed").unwrap_or(&Value::Null);
                if !k3rs_apis::quantity::same_list(overhead.unwrap_or(&Value::Null), fixed) {
                    return Err(forbidden(
                        a,
                        Some(pod),
                        "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead",
                    ));
                }
            }
            _ if overhead.is_some() => {
                return Err(forbidden(
                    a,
                    Some(pod),
                    "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead",
                ))
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerations_merge_without_redundant_ones() {
        let exists_all = json!({"operator": "Exists"});
        let a = json!({"key": "a", "operator": "Equal", "value": "1", "effect": "NoSchedule"});
        let b = json!({"key": "b", "operator": "Exists"});
        assert_eq!(
            merge_tolerations(std::slice::from_ref(&a), &[b.clone(), a.clone()]),
            vec![a.clone(), b.clone()]
        );
        assert_eq!(
            merge_tolerations(std::slice::from_ref(&a), std::slice::from_ref(&exists_all)),
            vec![exists_all]
        );
        let short = json!({"key": "c", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10});
        let long = json!({"key": "c", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 20});
        assert_eq!(
            merge_tolerations(std::slice::from_ref(&short), std::slice::from_ref(&long)),
            vec![long]
        );
    }
}
