//! DefaultTolerationSeconds: a pod that does not tolerate the `not-ready` and `unreachable`
//! NoExecute taints gets tolerations for them bounded to 300 seconds, so it is evicted from a
//! lost node after five minutes.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{Attributes, Operation, Plugin};
use crate::status::ApiResult;
use crate::store::Api;

const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Upstream's `--default-not-ready-toleration-seconds` / `--default-unreachable-toleration-seconds`.
const SECONDS: i64 = 300;

pub struct DefaultTolerationSeconds;

/// Whether one of `tolerations` covers `key`'s NoExecute taint (an empty key or effect matches
/// everything, as upstream counts it).
fn tolerates(tolerations: &[Value], key: &str) -> bool {
    tolerations.iter().any(|t| {
        let k = t.get("key").and_then(Value::as_str).unwrap_or("");
        let e = t.get("effect").and_then(Value::as_str).unwrap_or("");
        (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
    })
}

#[async_trait]
impl Plugin for DefaultTolerationSeconds {
    fn name(&self) -> &'static str {
        "DefaultTolerationSeconds"
    }

    async fn admit(
        &self,
        _api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if !a.is("", "pods") || !a.is_main_resource() || a.operation == Operation::Delete {
            return Ok(());
        }
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        let mut tolerations = match spec.get("tolerations") {
            Some(Value::Array(t)) => t.clone(),
            None | Some(Value::Null) => Vec::new(),
            // Not a list: validation reports it.
            Some(_) => return Ok(()),
        };
        let mut changed = false;
        for key in [NOT_READY, UNREACHABLE] {
            if !tolerates(&tolerations, key) {
                tolerations.push(json!({
                    "key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": SECONDS,
                }));
                changed = true;
            }
        }
        if changed {
            spec.insert("tolerations".into(), Value::Array(tolerations));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_count_as_tolerating() {
        let t = vec![json!({"operator": "Exists"})];
        assert!(tolerates(&t, NOT_READY) && tolerates(&t, UNREACHABLE));
        let t = vec![json!({"key": NOT_READY, "operator": "Exists", "effect": "NoSchedule"})];
        assert!(!tolerates(&t, NOT_READY));
        let t = vec![json!({"key": UNREACHABLE, "operator": "Exists"})];
        assert!(tolerates(&t, UNREACHABLE) && !tolerates(&t, NOT_READY));
    }
}
