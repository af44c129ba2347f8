//! Webhook `matchConditions`: CEL expressions over the admission request, evaluated before a
//! webhook is called (all true: call it; one false: skip it).
//!
//! k3rs has no CEL engine yet (one is being written in `k3rs_apis::cel`). Until it lands,
//! [`evaluate`] reports every expression as not evaluable. Validation refuses configurations that
//! carry match conditions, so this is only reached for configurations stored before that rule
//! (or written straight into the datastore); the dispatcher then applies upstream's rule for an
//! evaluation error: `failurePolicy: Fail` refuses the request, `Ignore` skips the webhook.
//! Pointing [`evaluate`] at the CEL engine is the whole of the work left.

use serde_json::Value;

use super::config::MatchCondition;

/// Evaluates the conditions against the CEL variables upstream binds (`object`, `oldObject`,
/// `request`; `authorizer` is not bound here): `Ok(true)` when every condition is true,
/// `Ok(false)` when one is false, `Err` with the reason when one cannot be evaluated.
pub fn evaluate(
    conditions: &[MatchCondition],
    _object: Option<&Value>,
    _old_object: Option<&Value>,
    _request: &Value,
) -> Result<bool, String> {
    match conditions.first() {
        None => Ok(true),
        Some(c) => Err(format!(
            "cannot evaluate match condition {:?} ({}): this server (k3rs) has no CEL engine yet",
            c.name, c.expression
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_conditions_match_and_conditions_are_an_error_until_cel_lands() {
        assert_eq!(evaluate(&[], None, None, &Value::Null), Ok(true));
        let c = MatchCondition {
            name: "x".into(),
            expression: "true".into(),
        };
        assert!(evaluate(&[c], None, None, &Value::Null).is_err());
    }
}
