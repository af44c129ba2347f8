//! Priority: a new pod's `spec.priority` (and `spec.preemptionPolicy`) come from its
//! PriorityClass, or from the global default class when it names none (priority 0 when there is
//! no default); an unknown class, or a priority or policy that disagrees with the class, is
//! refused. Updates keep what was resolved at create. For PriorityClasses themselves: at most
//! one may be the global default.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::builtin::{get_opt, list_all, resource};
use super::{Attributes, Operation, Plugin};
use crate::status::ApiResult;
use crate::store::Api;

pub struct Priority;

/// A class's `(name, value, preemptionPolicy)`.
type Class = (String, i64, Option<String>);

fn class_of(pc: &Value) -> Class {
    (
        pc.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        pc.get("value").and_then(Value::as_i64).unwrap_or(0),
        pc.get("preemptionPolicy")
            .and_then(Value::as_str)
            .map(str::to_string),
    )
}

/// The global default class: with several (a race), the one of lowest value, as upstream.
async fn default_class(api: &Api) -> ApiResult<Option<Class>> {
    let classes = list_all(
        api,
        resource("scheduling.k8s.io", "v1", "priorityclasses")?,
        None,
    )
    .await?;
    Ok(classes
        .iter()
        .filter(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true))
        .map(class_of)
        .min_by_key(|c| c.1))
}

impl Priority {
    async fn admit_pod(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        if a.operation == Operation::Update {
            // Resolved at create; an update that leaves them out keeps them.
            let Some(old_spec) = old.and_then(|o| o.get("spec")) else {
                return Ok(());
            };
            if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
                for k in ["priority", "preemptionPolicy"] {
                    let missing = spec.get(k).is_none_or(Value::is_null);
                    match old_spec.get(k) {
                        Some(v) if missing && !v.is_null() => {
                            spec.insert(k.into(), v.clone());
                        }
                        _ => {}
                    }
                }
            }
            return Ok(());
        }
        let named = obj
            .pointer("/spec/priorityClassName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let (class_name, priority, policy) = if named.is_empty() {
            match default_class(api).await? {
                Some(c) => c,
                None => (String::new(), 0, Some("PreemptLowerPriority".to_string())),
            }
        } else {
            let pcs = resource("scheduling.k8s.io", "v1", "priorityclasses")?;
            match get_opt(api, pcs, None, &named).await? {
                Some(pc) => class_of(&pc),
                None => {
                    return Err(a.forbidden(
                        Some(obj),
                        format!("no PriorityClass with name {named} was found"),
                    ))
                }
            }
        };
        let given = obj.pointer("/spec/priority").filter(|v| !v.is_null());
        if let Some(given) = given {
            match given.as_i64() {
                Some(p) if p != priority => {
                    return Err(a.forbidden(
                        Some(obj),
                        format!("the integer value of priority ({p}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"),
                    ))
                }
                Some(_) => {}
                // Not a number: validation says so.
                None => return Ok(()),
            }
        }
        let given_policy = obj
            .pointer("/spec/preemptionPolicy")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let (Some(want), Some(given)) = (&policy, &given_policy) {
            if want != given {
                return Err(a.forbidden(
                    Some(obj),
                    format!("the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {want} from the given PriorityClass name"),
                ));
            }
        }
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        if class_name.is_empty() {
            spec.remove("priorityClassName");
        } else {
            spec.insert("priorityClassName".into(), json!(class_name));
        }
        spec.insert("priority".into(), json!(priority));
        if let Some(p) = policy {
            spec.insert("preemptionPolicy".into(), json!(p));
        }
        Ok(())
    }
}

#[async_trait]
impl Plugin for Priority {
    fn name(&self) -> &'static str {
        "Priority"
    }

    async fn admit(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        if !a.is_main_resource()
            || !a.is("", "pods")
            || !obj.get("spec").is_some_and(Value::is_object)
        {
            return Ok(());
        }
        self.admit_pod(api, a, obj, old).await
    }

    async fn validate(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: Option<&Value>,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if !a.is_main_resource() || !a.is("scheduling.k8s.io", "priorityclasses") {
            return Ok(());
        }
        let Some(pc) = obj else { return Ok(()) };
        if pc.get("globalDefault").and_then(Value::as_bool) != Some(true) {
            return Ok(());
        }
        if let Some((name, _, _)) = default_class(api).await? {
            if a.operation == Operation::Create
                || (a.operation == Operation::Update && name != a.name)
            {
                return Err(a.forbidden(
                    Some(pc),
                    format!("PriorityClass {name} is already marked as default. Only one default can exist"),
                ));
            }
        }
        Ok(())
    }
}

/// Why a PriorityClass may not be deleted (the system classes never may), as upstream's storage
/// refuses it.
pub fn check_delete(name: &str) -> ApiResult<()> {
    let system = k3rs_apis::validation::limits::SYSTEM_PRIORITY_CLASSES
        .iter()
        .any(|(n, _, _)| *n == name);
    if system {
        let res = resource("scheduling.k8s.io", "v1", "priorityclasses")?;
        return Err(super::builtin::forbidden(
            res,
            name,
            "this is a system priority class and cannot be deleted",
        ));
    }
    Ok(())
}
