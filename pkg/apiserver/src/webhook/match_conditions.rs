//! Webhook `matchConditions`: CEL expressions over the admission request, evaluated before a
//! webhook is called, as upstream: when one is false the webhook is skipped; when all are true it
//! is called; when none is false but one fails to evaluate, the dispatcher applies the webhook's
//! `failurePolicy` (`Fail` refuses the request, `Ignore` skips the webhook). Expressions see
//! `object`, `oldObject` and `request`; `authorizer` is declared (so configurations using it
//! validate) but not bound here, so an expression that calls it fails to evaluate.

use serde_json::Value;

use k3rs_apis::cel::{self, admission::match_condition_env, value::from_json, Activation};

use super::config::MatchCondition;

/// Evaluates the conditions: `Ok(true)` when every condition is true, `Ok(false)` when one is
/// false, `Err` with the reason when none is false and one cannot be evaluated.
pub fn evaluate(
    conditions: &[MatchCondition],
    object: Option<&Value>,
    old_object: Option<&Value>,
    request: &Value,
) -> Result<bool, String> {
    if conditions.is_empty() {
        return Ok(true);
    }
    let env = match_condition_env();
    let mut act = Activation::new();
    act.insert(
        "object".into(),
        from_json(object.unwrap_or(&Value::Null), None),
    );
    act.insert(
        "oldObject".into(),
        from_json(old_object.unwrap_or(&Value::Null), None),
    );
    act.insert("request".into(), from_json(request, None));
    let mut error = None;
    for c in conditions {
        let outcome = env
            .compile(&c.expression)
            .map_err(|e| format!("compilation failed: {}", e.message))
            .and_then(|p| {
                p.eval(&act, cel::PER_CALL_LIMIT)
                    .map(|(v, _)| v)
                    .map_err(|(e, _)| {
                        format!("expression '{}' resulted in error: {e}", c.expression)
                    })
            });
        match outcome {
            Ok(cel::Value::Bool(true)) => {}
            Ok(cel::Value::Bool(false)) => return Ok(false),
            Ok(other) => {
                error.get_or_insert(format!(
                    "matchCondition {:?} did not evaluate to a bool (got {})",
                    c.name,
                    other.type_name()
                ));
            }
            Err(e) => {
                error.get_or_insert(format!(
                    "failed to evaluate matchCondition {:?}: {e}",
                    c.name
                ));
            }
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(name: &str, expression: &str) -> MatchCondition {
        MatchCondition {
            name: name.into(),
            expression: expression.into(),
        }
    }

    #[test]
    fn conditions_select_requests_as_upstream() {
        let request = json!({"operation": "CREATE", "namespace": "default",
            "userInfo": {"username": "alice", "groups": ["devs"]}});
        let obj = json!({"metadata": {"name": "skip-me", "labels": {"a": "b"}}});
        assert_eq!(evaluate(&[], None, None, &Value::Null), Ok(true));
        assert_eq!(
            evaluate(
                &[cond("op", "request.operation == 'CREATE'")],
                Some(&obj),
                None,
                &request
            ),
            Ok(true)
        );
        assert_eq!(
            evaluate(
                &[cond("skip", "object.metadata.name != 'skip-me'")],
                Some(&obj),
                None,
                &request
            ),
            Ok(false)
        );
        // A false condition wins over an error; an error alone is reported.
        let failing = cond("bad", "object.metadata.nothere == 1");
        assert_eq!(
            evaluate(
                &[failing.clone(), cond("no", "false")],
                Some(&obj),
                None,
                &request
            ),
            Ok(false)
        );
        assert!(evaluate(&[failing], Some(&obj), None, &request).is_err());
        assert!(evaluate(&[cond("type", "'x'")], Some(&obj), None, &request).is_err());
    }
}
