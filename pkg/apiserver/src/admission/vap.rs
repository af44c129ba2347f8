//! The `ValidatingAdmissionPolicy` admission plugin: policies
//! (`admissionregistration.k8s.io/v1` ValidatingAdmissionPolicy) bound to resources by
//! ValidatingAdmissionPolicyBindings, evaluated with CEL ([`k3rs_apis::cel`]) as upstream's
//! plugin: `matchConstraints` and the binding's `matchResources` (resource rules, exclusions,
//! namespace and object selectors), `paramKind`/`paramRef` (by name or selector, per namespace,
//! `parameterNotFoundAction`), `matchConditions`, `variables`, `validations` (`message`,
//! `messageExpression`, `reason`), `auditAnnotations`, the binding's `validationActions` (Deny,
//! Warn, Audit) and `failurePolicy`.
//!
//! Policies and bindings are kept compiled in memory, reloaded when a watch of either resource
//! reports a change. The same loop is upstream's policy status controller: it type-checks each
//! new generation of a policy against the schemas of the kinds it matches and writes
//! `status.typeChecking`.
//!
//! Not implemented: `matchPolicy: Equivalent` matching other versions of a resource (k3rs
//! serves one version of most resources). The matching, params and the policy cache are shared
//! with MutatingAdmissionPolicy (`super::policy`).

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use serde_json::{json, Value};

use k3rs_apis::cel::{self, schema as cs, value::from_json, Activation, Env, Program};
use k3rs_apis::registry::{self, Resource};

use super::policy::{
    arr, base_activation, compile, compile_named, eval_err, eval_match_conditions, eval_variables,
    invocations, namespace_object, param_kind_error, param_resource, s, strs, CompiledPolicy,
    Invocation, Named, Snapshot, Source,
};
#[cfg(test)]
use super::{policy::rule_matches, Operation};
use super::{Attributes, Plugin};
use crate::status::{ApiError, ApiResult};
use crate::store::Api;

/// The plugin; its policies are shared with the watch task that keeps them current.
pub struct ValidatingAdmissionPolicy {
    source: Arc<Source<Compiled>>,
}

impl Default for ValidatingAdmissionPolicy {
    fn default() -> Self {
        ValidatingAdmissionPolicy {
            source: Arc::new(Source::new(
                "v1",
                "validatingadmissionpolicies",
                "validatingadmissionpolicybindings",
                compile_policy,
                Some(type_check_all),
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compilation
// ---------------------------------------------------------------------------------------------

/// A policy compiled for evaluation.
struct Compiled {
    policy: Value,
    /// `spec.failurePolicy` is `Ignore`.
    ignore_failures: bool,
    variables: Named,
    match_conditions: Named,
    validations: Vec<Validation>,
    audit: Named,
    /// A problem with the policy itself (an unknown `paramKind`).
    config_error: Option<String>,
}

impl CompiledPolicy for Compiled {
    fn policy(&self) -> &Value {
        &self.policy
    }
    fn config_error(&self) -> Option<&str> {
        self.config_error.as_deref()
    }
}

struct Validation {
    expression: String,
    program: Result<Program, String>,
    message: String,
    message_expression: Option<Result<Program, String>>,
    reason: Option<String>,
}

fn base_env(
    object_decl: Option<&Arc<cs::DeclType>>,
    params_decl: Option<&Arc<cs::DeclType>>,
) -> Env {
    cel::admission::policy_env(object_decl, params_decl)
}

fn with_variables(env: Env, policy: &Value) -> (Env, Named) {
    cel::admission::with_variables(env, arr(policy, "/spec/variables"))
}

fn compile_policy(policy: &Value) -> Compiled {
    let (env, variables) = with_variables(base_env(None, None), policy);
    let named = |p: &str| -> Named { compile_named(&env, policy, p) };
    let validations = arr(policy, "/spec/validations")
        .iter()
        .map(|v| {
            let me = s(v, "/messageExpression");
            Validation {
                expression: s(v, "/expression").to_string(),
                program: compile(&env, s(v, "/expression")),
                message: s(v, "/message").to_string(),
                message_expression: (!me.is_empty()).then(|| compile(&env, me)),
                reason: v.get("reason").and_then(Value::as_str).map(str::to_string),
            }
        })
        .collect();
    let config_error = param_kind_error(policy);
    Compiled {
        ignore_failures: s(policy, "/spec/failurePolicy") == "Ignore",
        match_conditions: named("/spec/matchConditions"),
        audit: named("/spec/auditAnnotations"),
        variables,
        validations,
        config_error,
        policy: policy.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// One refusal, as upstream's policy decision.
struct Denial {
    policy: String,
    binding: Option<String>,
    message: String,
    reason: Option<String>,
}

/// Evaluates one policy for one binding and one param object.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    c: &Compiled,
    binding: &Value,
    a: &Attributes<'_>,
    base: &Activation,
    params: Value,
    denials: &mut Vec<Denial>,
) {
    let policy_name = s(&c.policy, "/metadata/name").to_string();
    let binding_name = s(binding, "/metadata/name").to_string();
    let mut budget: i64 = cel::RUNTIME_COST_BUDGET as i64;
    let fail = |denials: &mut Vec<Denial>, msg: String| {
        if !c.ignore_failures {
            denials.push(Denial {
                policy: policy_name.clone(),
                binding: Some(binding_name.clone()),
                message: msg,
                reason: None,
            });
        }
    };
    let mut act = base.clone();
    act.insert("params".into(), from_json(&params, None));
    eval_variables(&c.variables, &mut act, &mut budget);
    // Match conditions: all must be true; an error fails the policy (unless Ignore).
    match eval_match_conditions(&c.match_conditions, &act, &mut budget) {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => return fail(denials, e),
    }
    let actions = strs(
        binding.get("spec").unwrap_or(&Value::Null),
        "validationActions",
    );
    for (i, v) in c.validations.iter().enumerate() {
        let outcome: Result<bool, String> = match &v.program {
            Err(e) => Err(format!("compilation error: {e}")),
            Ok(p) => {
                if budget <= 0 {
                    Err("validation failed due to running out of cost budget, no further validation rules will be run".into())
                } else {
                    match p.eval(&act, cel::PER_CALL_LIMIT.min(budget as u64)) {
                        Ok((cel::Value::Bool(b), cost)) => {
                            budget -= cost as i64;
                            Ok(b)
                        }
                        Ok((other, _)) => Err(format!(
                            "expression '{}' resulted in error: no such overload: validation expression must evaluate to a bool, got {}",
                            v.expression,
                            other.type_name()
                        )),
                        Err((e, cost)) => {
                            budget -= cost as i64;
                            Err(eval_err(&e, &v.expression))
                        }
                    }
                }
            }
        };
        let (message, reason) = match outcome {
            Ok(true) => continue,
            Err(e) => {
                if c.ignore_failures {
                    continue;
                }
                (e, None)
            }
            Ok(false) => {
                let mut msg = String::new();
                if let Some(Ok(me)) = &v.message_expression {
                    if let Ok((cel::Value::String(m), cost)) = me.eval(&act, cel::PER_CALL_LIMIT) {
                        budget -= cost as i64;
                        let m = m.trim();
                        if m.len() <= 5 * 1024 && !m.contains('\n') {
                            msg = m.to_string();
                        }
                    }
                }
                if msg.is_empty() {
                    msg = v.message.trim().to_string();
                }
                if msg.is_empty() {
                    msg = format!("failed expression: {}", v.expression.trim());
                }
                (
                    msg,
                    Some(v.reason.clone().unwrap_or_else(|| "Invalid".into())),
                )
            }
        };
        for action in &actions {
            match action.as_str() {
                "Deny" => denials.push(Denial {
                    policy: policy_name.clone(),
                    binding: Some(binding_name.clone()),
                    message: message.clone(),
                    reason: reason.clone(),
                }),
                "Warn" => a.warn(format!(
                    "Validation failed for ValidatingAdmissionPolicy '{policy_name}' with binding '{binding_name}': {message}"
                )),
                "Audit" => a.annotate(
                    "validation.policy.admission.k8s.io/validation_failure",
                    json!([{"message": message, "policy": policy_name, "binding": binding_name,
                        "expressionIndex": i, "validationActions": actions}])
                    .to_string(),
                ),
                _ => {}
            }
        }
    }
    for (key, p) in &c.audit {
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                fail(denials, format!("compilation error: {e}"));
                continue;
            }
        };
        match p.eval(&act, cel::PER_CALL_LIMIT) {
            Ok((cel::Value::String(v), _)) => {
                let v = v.trim();
                if !v.is_empty() {
                    let v: String = v.chars().take(10 * 1024).collect();
                    a.annotate(format!("{policy_name}/{key}"), v);
                }
            }
            Ok((cel::Value::Null, _)) => {}
            Ok((other, _)) => fail(
                denials,
                format!("valueExpression '{}' resulted in unsupported return type: {}. Return type must be either string or null.", p.source, other.type_name()),
            ),
            Err((e, _)) => fail(denials, eval_err(&e, &p.source)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The cache and the status (type-checking) controller
// ---------------------------------------------------------------------------------------------

fn res(plural: &str) -> Option<&'static Resource> {
    registry::find(super::policy::GROUP, "v1", plural)
}

/// Upstream's policy status controller: each new generation gets `status.typeChecking`.
fn type_check_all(api: Api, snap: std::sync::Arc<Snapshot<Compiled>>) -> BoxFuture<'static, ()> {
    Box::pin(async move { type_check_snapshot(&api, &snap).await })
}

async fn type_check_snapshot(api: &Api, snap: &Snapshot<Compiled>) {
    let Some(pres) = res("validatingadmissionpolicies") else {
        return;
    };
    for (name, entry) in &snap.policies {
        let generation = entry.object.pointer("/metadata/generation").cloned();
        if generation.is_some()
            && entry.object.pointer("/status/observedGeneration") == generation.as_ref()
        {
            continue;
        }
        // Built-in kinds are checked against the OpenAPI documents, generated on first use
        // (a while in debug builds: off the async workers).
        if !crate::openapi::service().is_built() {
            let _ = tokio::task::spawn_blocking(|| {
                crate::openapi::service().built();
            })
            .await;
        }
        let policy = entry.object.clone();
        let warnings = tokio::task::spawn_blocking(move || type_check(&policy))
            .await
            .unwrap_or_default();
        let generation = generation.unwrap_or(json!(0));
        let r = api
            .update_with(pres, None, name, Some("status"), false, |cur| {
                let mut new = cur.clone();
                if cur.pointer("/metadata/generation") != Some(&generation) {
                    return Err(ApiError::conflict(pres, name, "policy changed"));
                }
                let status = new
                    .as_object_mut()
                    .map(|m| m.entry("status").or_insert_with(|| json!({})));
                if let Some(st) = status {
                    if !st.is_object() {
                        *st = json!({});
                    }
                    st["observedGeneration"] = generation.clone();
                    st["typeChecking"] = json!({"expressionWarnings": warnings});
                }
                Ok(new)
            })
            .await;
        if let Err(e) = r {
            tracing::debug!(policy = %name, error = %e.message, "typeChecking status not written");
        }
    }
}

/// The schema (as a CEL declaration) of a kind: a custom resource's from its CRD, a built-in's
/// from the OpenAPI v3 document.
fn kind_decl(r: &'static Resource) -> Option<Arc<cs::DeclType>> {
    if let Some(cr) = k3rs_apis::crd::lookup(r) {
        return cr.schema.as_ref().and_then(|s| cs::decl_type(s, true));
    }
    let openapi = crate::openapi::service();
    if !openapi.is_built() {
        return None;
    }
    let doc = openapi
        .built()
        .v3
        .get(&crate::openapi::gv_key(r.group, r.version))?;
    let doc: Value = serde_json::from_slice(&doc.bytes).ok()?;
    let comps = doc.pointer("/components/schemas")?.as_object()?;
    let def = comps.values().find(|d| {
        d.get("x-kubernetes-group-version-kind")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter().any(|g| {
                    g["group"] == r.group && g["version"] == r.version && g["kind"] == r.kind
                })
            })
    })?;
    cs::decl_type(&cs::inline_refs(def, comps), true)
}

/// The kinds a policy's `matchConstraints` name exactly (no wildcards), as upstream's type
/// checker picks them.
fn kinds_to_check(policy: &Value) -> Vec<&'static Resource> {
    let mut out: Vec<&'static Resource> = Vec::new();
    for rule in arr(policy, "/spec/matchConstraints/resourceRules") {
        let (g, v, r) = (
            strs(rule, "apiGroups"),
            strs(rule, "apiVersions"),
            strs(rule, "resources"),
        );
        if [&g, &v, &r]
            .iter()
            .any(|l| l.iter().any(|x| x.contains('*')))
        {
            continue;
        }
        for group in &g {
            for version in &v {
                for resource in &r {
                    let plural = resource.split('/').next().unwrap_or_default();
                    if let Some(found) = registry::find(group, version, plural) {
                        if !out.iter().any(|x| std::ptr::eq(*x, found)) {
                            out.push(found);
                        }
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| (a.group, a.version, a.kind).cmp(&(b.group, b.version, b.kind)));
    out.truncate(10);
    out
}

/// `status.typeChecking.expressionWarnings` for a policy.
pub fn type_check(policy: &Value) -> Vec<Value> {
    let kinds: Vec<(&'static Resource, Arc<cs::DeclType>)> = kinds_to_check(policy)
        .into_iter()
        .filter_map(|r| kind_decl(r).map(|d| (r, d)))
        .collect();
    let params_decl = policy
        .pointer("/spec/paramKind")
        .filter(|p| !p.is_null())
        .and_then(param_resource)
        .and_then(kind_decl);
    let envs: Vec<(String, Env)> = kinds
        .iter()
        .map(|(r, d)| {
            let gv = if r.group.is_empty() {
                r.version.to_string()
            } else {
                format!("{}/{}", r.group, r.version)
            };
            let (env, _) = with_variables(base_env(Some(d), params_decl.as_ref()), policy);
            (format!("{gv}, Kind={}", r.kind), env)
        })
        .collect();
    let check = |expr: &str| -> Option<String> {
        let msgs: Vec<String> = envs
            .iter()
            .filter_map(|(gvk, env)| {
                env.compile(expr)
                    .err()
                    .map(|e| format!("{gvk}: compilation failed: {}\n", e.message))
            })
            .collect();
        (!msgs.is_empty()).then(|| msgs.join("\n"))
    };
    let mut out = Vec::new();
    for (i, v) in arr(policy, "/spec/validations").iter().enumerate() {
        if let Some(w) = check(s(v, "/expression")) {
            out.push(
                json!({"fieldRef": format!("spec.validations[{i}].expression"), "warning": w}),
            );
        }
        let me = s(v, "/messageExpression");
        if !me.is_empty() {
            if let Some(w) = check(me) {
                out.push(json!({"fieldRef": format!("spec.validations[{i}].messageExpression"), "warning": w}));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The plugin
// ---------------------------------------------------------------------------------------------

#[async_trait]
impl Plugin for ValidatingAdmissionPolicy {
    fn name(&self) -> &'static str {
        "ValidatingAdmissionPolicy"
    }

    async fn validate(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: Option<&Value>,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        // Admission configuration itself is exempt (as upstream), so a bad policy can be fixed.
        if a.resource.group == super::policy::GROUP {
            return Ok(());
        }
        self.source.ensure_started(api).await;
        let snap = self.source.current();
        if snap.policies.is_empty() {
            return Ok(());
        }
        let ns_obj = namespace_object(api, a).await;
        let mut denials: Vec<Denial> = Vec::new();
        let mut base: Option<Activation> = None;
        for inv in invocations(api, &snap, a, obj, old, ns_obj.as_ref()).await {
            match inv {
                Invocation::ConfigError {
                    policy_name,
                    compiled,
                    binding,
                    message,
                } => {
                    if !compiled.ignore_failures {
                        denials.push(Denial {
                            policy: policy_name.to_string(),
                            binding,
                            message,
                            reason: None,
                        });
                    }
                }
                Invocation::Invoke {
                    compiled,
                    binding,
                    param,
                    ..
                } => {
                    let base =
                        base.get_or_insert_with(|| base_activation(a, obj, old, ns_obj.as_ref()));
                    evaluate(compiled, binding, a, base, param, &mut denials);
                }
            }
        }
        let Some(d) = denials.into_iter().next() else {
            return Ok(());
        };
        let message = match &d.binding {
            Some(b) => format!(
                "ValidatingAdmissionPolicy '{}' with binding '{b}' denied request: {}",
                d.policy, d.message
            ),
            None => format!(
                "ValidatingAdmissionPolicy '{}' denied request: {}",
                d.policy, d.message
            ),
        };
        let mut err = a.forbidden(obj.or(old), &message);
        let reason = d.reason.unwrap_or_else(|| "Invalid".into());
        err.code = match reason.as_str() {
            "Forbidden" => 403,
            "Unauthorized" => 401,
            "RequestEntityTooLarge" => 413,
            "Invalid" => 422,
            _ => 400,
        };
        err.reason = reason.into();
        if let Some(details) = err.details.as_mut() {
            details["causes"] = json!([{"message": message}]);
        }
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(validations: Value) -> Value {
        json!({"metadata": {"name": "p", "generation": 1}, "spec": {
            "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}]},
            "variables": [{"name": "replicas", "expression": "object.spec.replicas"}],
            "validations": validations}})
    }

    #[test]
    fn policies_compile_with_variables() {
        let c = compile_policy(&policy(json!([
            {"expression": "variables.replicas > 1", "messageExpression": "'got ' + string(variables.replicas)"},
            {"expression": "variables.nope > 1"},
            {"expression": "request.operation == 'CREATE' && request.userInfo.username != ''"},
        ])));
        assert!(c.validations[0].program.is_ok());
        assert!(c.validations[1]
            .program
            .as_ref()
            .is_err_and(|e| e.contains("undefined field 'nope'")));
        assert!(c.validations[2].program.is_ok());
    }

    #[test]
    fn rules_match_resources_and_subresources() {
        let deployments = registry::find("apps", "v1", "deployments").expect("deployments");
        let a = Attributes::new(deployments, "", Operation::Create, Some("ns"), "d", false);
        let rule = |resources: Value, ops: Value| json!({"apiGroups": ["apps"], "apiVersions": ["*"], "resources": resources, "operations": ops});
        assert!(rule_matches(
            &rule(json!(["deployments"]), json!(["*"])),
            &a
        ));
        assert!(!rule_matches(
            &rule(json!(["deployments"]), json!(["UPDATE"])),
            &a
        ));
        assert!(rule_matches(&rule(json!(["*"]), json!(["CREATE"])), &a));
        let scale = Attributes::new(
            deployments,
            "scale",
            Operation::Update,
            Some("ns"),
            "d",
            false,
        );
        assert!(!rule_matches(
            &rule(json!(["deployments"]), json!(["*"])),
            &scale
        ));
        assert!(rule_matches(
            &rule(json!(["deployments/*"]), json!(["*"])),
            &scale
        ));
        assert!(rule_matches(
            &rule(json!(["*/scale"]), json!(["*"])),
            &scale
        ));
        let mut scoped = rule(json!(["*"]), json!(["*"]));
        scoped["scope"] = json!("Cluster");
        assert!(!rule_matches(&scoped, &a));
    }
}
