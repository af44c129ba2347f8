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
//! serves one version of most resources), `MutatingAdmissionPolicy`.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use k3rs_apis::cel::{
    self, schema as cs, stdlib, types::ObjectType, value::from_json, Activation, Env, EvalError,
    Program, Type,
};
use k3rs_apis::registry::{self, Resource};
use k3rs_apis::selectors::LabelSelector;

#[cfg(test)]
use super::Operation;
use super::{Attributes, Plugin};
use crate::status::{ApiError, ApiResult};
use crate::store::{Api, ListParams, WatchParams};

const GROUP: &str = "admissionregistration.k8s.io";

/// The plugin; its state is shared with the watch task that keeps it current.
#[derive(Default)]
pub struct ValidatingAdmissionPolicy {
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    started: tokio::sync::OnceCell<()>,
    snapshot: RwLock<Arc<Snapshot>>,
}

#[derive(Default)]
struct Snapshot {
    policies: BTreeMap<String, Arc<Compiled>>,
    /// Bindings by policy name.
    bindings: BTreeMap<String, Vec<Value>>,
}

/// The authorizer behind the `authorizer` variable (set once at server start).
static AUTHORIZER: OnceLock<Arc<crate::authz::Authorizer>> = OnceLock::new();

/// Gives policies' `authorizer` variable the server's authorizer.
pub fn set_authorizer(a: Arc<crate::authz::Authorizer>) {
    let _ = AUTHORIZER.set(a);
}

struct RbacAuthorizer {
    authz: Arc<crate::authz::Authorizer>,
    user: k3rs_auth::authn::UserInfo,
}

impl stdlib::Authorizer for RbacAuthorizer {
    fn authorize(&self, c: &stdlib::AuthzCheck) -> stdlib::AuthzDecision {
        let user = match &c.service_account {
            Some((ns, name)) => k3rs_auth::authn::UserInfo {
                name: format!("system:serviceaccount:{ns}:{name}"),
                groups: vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{ns}"),
                    "system:authenticated".into(),
                ],
                ..Default::default()
            },
            None => self.user.clone(),
        };
        let attrs = k3rs_auth::rbac::Attributes {
            user,
            verb: c.verb.clone(),
            resource_request: c.path.is_none(),
            api_group: c.group.clone(),
            api_version: "*".into(),
            resource: c.resource.clone(),
            subresource: c.subresource.clone(),
            namespace: c.namespace.clone(),
            name: c.name.clone(),
            path: c.path.clone().unwrap_or_default(),
            field_selector: c.field_selector.clone(),
        };
        let (d, reason) = self.authz.authorize(&attrs);
        stdlib::AuthzDecision {
            decision: match d {
                k3rs_auth::rbac::Decision::Allow => "allow",
                k3rs_auth::rbac::Decision::Deny => "deny",
                k3rs_auth::rbac::Decision::NoOpinion => "noOpinion",
            }
            .into(),
            reason,
            error: String::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compilation
// ---------------------------------------------------------------------------------------------

/// Named compiled expressions (variables, match conditions, audit annotations).
type Named = Vec<(String, Result<Program, String>)>;

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

struct Validation {
    expression: String,
    program: Result<Program, String>,
    message: String,
    message_expression: Option<Result<Program, String>>,
    reason: Option<String>,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The environment expressions compile in: `object`/`oldObject`/`params` typed by `object_decl`
/// and `params_decl` when known (type checking), `dyn` otherwise (admission).
fn base_env(
    object_decl: Option<&Arc<cs::DeclType>>,
    params_decl: Option<&Arc<cs::DeclType>>,
) -> Env {
    let mut env = Env::new();
    let obj_ty = object_decl.map_or(Type::Dyn, |d| d.cel.clone());
    env.declare("object", obj_ty.clone(), object_decl.cloned());
    env.declare("oldObject", obj_ty, object_decl.cloned());
    env.declare(
        "params",
        params_decl.map_or(Type::Dyn, |d| d.cel.clone()),
        params_decl.cloned(),
    );
    env.declare("request", cel::admission::request_type(), None);
    env.declare("namespaceObject", Type::Dyn, None);
    env.declare(
        "authorizer",
        Type::Opaque("kubernetes.authorization.Authorizer"),
        None,
    );
    env.declare(
        "authorizer.requestResource",
        Type::Opaque("kubernetes.authorization.ResourceCheck"),
        None,
    );
    env
}

/// Compiles the policy's variables in order (each sees the ones before it), returning the
/// environment with `variables` declared and the compiled variables.
fn with_variables(mut env: Env, policy: &Value) -> (Env, Named) {
    let mut out = Vec::new();
    let mut fields: BTreeMap<String, Type> = BTreeMap::new();
    for v in arr(policy, "/spec/variables") {
        let name = s(v, "/name").to_string();
        env.declare(
            "variables",
            Type::Object(Arc::new(ObjectType {
                name: "kubernetes.variables".into(),
                fields: fields.clone(),
            })),
            None,
        );
        let p = compile(&env, s(v, "/expression"));
        fields.insert(name.clone(), p.as_ref().map_or(Type::Dyn, |p| p.ty.clone()));
        out.push((name, p));
    }
    env.declare(
        "variables",
        Type::Object(Arc::new(ObjectType {
            name: "kubernetes.variables".into(),
            fields,
        })),
        None,
    );
    (env, out)
}

fn compile(env: &Env, src: &str) -> Result<Program, String> {
    env.compile(src)
        .map_err(|e| format!("compilation failed: {}", e.message))
}

fn compile_policy(policy: &Value) -> Compiled {
    let (env, variables) = with_variables(base_env(None, None), policy);
    let named = |p: &str| -> Named {
        arr(policy, p)
            .iter()
            .map(|c| {
                let key = c
                    .get("name")
                    .or_else(|| c.get("key"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let expr = c
                    .get("expression")
                    .or_else(|| c.get("valueExpression"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                (key.to_string(), compile(&env, expr))
            })
            .collect()
    };
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
    let config_error = policy
        .pointer("/spec/paramKind")
        .filter(|p| !p.is_null())
        .and_then(|pk| match param_resource(pk) {
            Some(_) => None,
            None => Some(format!(
                "paramKind kind `{}, Kind={}` not known",
                s(pk, "/apiVersion"),
                s(pk, "/kind")
            )),
        });
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

/// The served resource of a `paramKind`.
fn param_resource(pk: &Value) -> Option<&'static Resource> {
    let (group, version) = match s(pk, "/apiVersion").rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", s(pk, "/apiVersion")),
    };
    let kind = s(pk, "/kind");
    registry::all()
        .into_iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

// ---------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------

fn strs(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether one `NamedRuleWithOperations` matches the request.
fn rule_matches(rule: &Value, a: &Attributes<'_>) -> bool {
    let res = a.resource;
    let has = |k: &str, want: &str| strs(rule, k).iter().any(|x| x == "*" || x == want);
    if !has("apiGroups", res.group) || !has("apiVersions", res.version) {
        return false;
    }
    if !has("operations", a.operation.as_str()) {
        return false;
    }
    let sub = a.subresource;
    let resources_ok = strs(rule, "resources").iter().any(|r| {
        let (rr, rs) = r.split_once('/').unwrap_or((r.as_str(), ""));
        let res_ok = rr == "*" || rr == res.plural;
        let sub_ok = if r.contains('/') {
            rs == "*" || rs == sub
        } else {
            sub.is_empty()
        };
        res_ok && sub_ok
    });
    if !resources_ok {
        return false;
    }
    match rule.get("scope").and_then(Value::as_str).unwrap_or("*") {
        "Cluster" if res.namespaced => return false,
        "Namespaced" if !res.namespaced => return false,
        _ => {}
    }
    let names = strs(rule, "resourceNames");
    names.is_empty() || names.iter().any(|n| n == a.name)
}

fn selector_matches(sel: Option<&Value>, labels: Option<&serde_json::Map<String, Value>>) -> bool {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return true;
    };
    match LabelSelector::parse(&LabelSelector::string_from_object(sel)) {
        Ok(ls) => ls.matches(labels),
        Err(_) => false,
    }
}

fn labels(v: Option<&Value>) -> Option<&serde_json::Map<String, Value>> {
    v.and_then(|o| o.pointer("/metadata/labels"))
        .and_then(Value::as_object)
}

/// `matchConstraints` / `matchResources`: rules, exclusions and selectors.
fn resources_match(
    m: Option<&Value>,
    a: &Attributes<'_>,
    obj: Option<&Value>,
    old: Option<&Value>,
    ns_obj: Option<&Value>,
    rules_required: bool,
) -> bool {
    let Some(m) = m.filter(|m| !m.is_null()) else {
        return !rules_required;
    };
    // Namespace selector: namespaced objects by their namespace's labels, Namespaces by their
    // own; other cluster-scoped objects always match.
    let ns_labels = if a.resource.group.is_empty() && a.resource.plural == "namespaces" {
        labels(obj.or(old))
    } else if a.resource.namespaced {
        labels(ns_obj)
    } else {
        None
    };
    let ns_applies =
        a.resource.namespaced || (a.resource.group.is_empty() && a.resource.plural == "namespaces");
    if ns_applies && !selector_matches(m.get("namespaceSelector"), ns_labels) {
        return false;
    }
    let os = m.get("objectSelector");
    if !(selector_matches(os, labels(obj)) || (old.is_some() && selector_matches(os, labels(old))))
    {
        return false;
    }
    let rules = arr(m, "/resourceRules");
    if rules.is_empty() {
        if rules_required {
            return false;
        }
    } else if !rules.iter().any(|r| rule_matches(r, a)) {
        return false;
    }
    !arr(m, "/excludeResourceRules")
        .iter()
        .any(|r| rule_matches(r, a))
}

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

fn request_value(a: &Attributes<'_>) -> Value {
    let r = a.resource;
    let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
    let gvr = json!({"group": r.group, "version": r.version, "resource": r.plural});
    json!({
        "kind": gvk, "resource": gvr, "subResource": a.subresource,
        "requestKind": gvk, "requestResource": gvr, "requestSubResource": a.subresource,
        "name": a.name, "namespace": a.namespace.unwrap_or_default(),
        "operation": a.operation.as_str(),
        "userInfo": {"username": a.user.name, "uid": a.user.uid, "groups": a.user.groups,
            "extra": a.user.extra},
        "dryRun": a.dry_run,
        "options": a.options,
    })
}

fn eval_err(e: &EvalError, expr: &str) -> String {
    format!("expression '{expr}' resulted in error: {e}")
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
    // Variables, in order; one that fails is left out (its users then fail).
    let mut vars = k3rs_apis::cel::value::MapValue::new();
    for (name, p) in &c.variables {
        act.insert("variables".into(), cel::Value::Map(Arc::new(vars.clone())));
        if let Ok(p) = p {
            match p.eval(&act, cel::PER_CALL_LIMIT) {
                Ok((v, cost)) => {
                    budget -= cost as i64;
                    vars.insert(cel::value::Key::String(name.as_str().into()), v);
                }
                Err((_, cost)) => budget -= cost as i64,
            }
        }
    }
    act.insert("variables".into(), cel::Value::Map(Arc::new(vars)));
    // Match conditions: all must be true; an error fails the policy (unless Ignore).
    for (name, p) in &c.match_conditions {
        match p {
            Err(e) => {
                return fail(denials, format!("compilation error: {e}"));
            }
            Ok(p) => match p.eval(&act, cel::PER_CALL_LIMIT) {
                Ok((cel::Value::Bool(true), cost)) => budget -= cost as i64,
                Ok((cel::Value::Bool(false), _)) => return,
                Ok((other, _)) => {
                    return fail(
                        denials,
                        format!(
                            "matchCondition {name:?} did not evaluate to a bool (got {})",
                            other.type_name()
                        ),
                    )
                }
                Err((e, _)) => {
                    return fail(
                        denials,
                        format!(
                            "failed to evaluate matchCondition {name:?}: {}",
                            eval_err(&e, &p.source)
                        ),
                    )
                }
            },
        }
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
    registry::find(GROUP, "v1", plural)
}

async fn load(api: &Api, prev: &Snapshot) -> ApiResult<Snapshot> {
    let (Some(pres), Some(bres)) = (
        res("validatingadmissionpolicies"),
        res("validatingadmissionpolicybindings"),
    ) else {
        return Ok(Snapshot::default());
    };
    let policies = api.list(pres, None, &ListParams::default()).await?;
    let bindings = api.list(bres, None, &ListParams::default()).await?;
    let mut snap = Snapshot::default();
    for p in arr(&policies, "/items") {
        let name = s(p, "/metadata/name").to_string();
        // Recompile only what changed.
        let compiled = match prev.policies.get(&name) {
            Some(c)
                if c.policy.pointer("/metadata/generation")
                    == p.pointer("/metadata/generation")
                    && c.policy.get("spec") == p.get("spec") =>
            {
                Arc::new(Compiled {
                    policy: p.clone(),
                    ..clone_compiled(c)
                })
            }
            _ => Arc::new(compile_policy(p)),
        };
        snap.policies.insert(name, compiled);
    }
    for b in arr(&bindings, "/items") {
        snap.bindings
            .entry(s(b, "/spec/policyName").to_string())
            .or_default()
            .push(b.clone());
    }
    Ok(snap)
}

fn clone_compiled(c: &Compiled) -> Compiled {
    // Programs are cheap to clone (the parsed expression is shared).
    Compiled {
        policy: c.policy.clone(),
        ignore_failures: c.ignore_failures,
        variables: c.variables.clone(),
        match_conditions: c.match_conditions.clone(),
        validations: c
            .validations
            .iter()
            .map(|v| Validation {
                expression: v.expression.clone(),
                program: v.program.clone(),
                message: v.message.clone(),
                message_expression: v.message_expression.clone(),
                reason: v.reason.clone(),
            })
            .collect(),
        audit: c.audit.clone(),
        config_error: c.config_error.clone(),
    }
}

impl State {
    async fn refresh(&self, api: &Api) {
        let prev = self.current();
        match load(api, &prev).await {
            Ok(snap) => {
                if let Ok(mut w) = self.snapshot.write() {
                    *w = Arc::new(snap);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e.message, "ValidatingAdmissionPolicy: reload failed")
            }
        }
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Loads the policies once and starts the task that keeps them current.
    async fn ensure_started(self: &Arc<Self>, api: &Api) {
        self.started
            .get_or_init(|| async {
                self.refresh(api).await;
                let me = self.clone();
                let api = api.clone();
                tokio::spawn(async move { me.run(api).await });
            })
            .await;
    }

    async fn run(self: Arc<Self>, api: Api) {
        let (Some(pres), Some(bres)) = (
            res("validatingadmissionpolicies"),
            res("validatingadmissionpolicybindings"),
        ) else {
            return;
        };
        loop {
            let p = || WatchParams {
                timeout: Some(Duration::from_secs(3600)),
                ..Default::default()
            };
            let (mut prx, mut brx) = match (
                api.watch(pres, None, p()).await,
                api.watch(bres, None, p()).await,
            ) {
                (Ok(a), Ok(b)) => (a, b),
                _ => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.refresh(&api).await;
            self.type_check_all(&api).await;
            loop {
                let ev = tokio::select! {
                    e = prx.recv() => e,
                    e = brx.recv() => e,
                };
                match ev {
                    None => break,
                    Some(e) if e["type"] == "ERROR" => break,
                    _ => {}
                }
                while prx.try_recv().is_ok() || brx.try_recv().is_ok() {}
                self.refresh(&api).await;
                self.type_check_all(&api).await;
            }
        }
    }

    /// Upstream's policy status controller: each new generation gets `status.typeChecking`.
    async fn type_check_all(&self, api: &Api) {
        let Some(pres) = res("validatingadmissionpolicies") else {
            return;
        };
        let snap = self.current();
        for (name, c) in &snap.policies {
            let generation = c.policy.pointer("/metadata/generation").cloned();
            if generation.is_some()
                && c.policy.pointer("/status/observedGeneration") == generation.as_ref()
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
            let policy = c.policy.clone();
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

async fn params_for(
    api: &Api,
    c: &Compiled,
    binding: &Value,
    a: &Attributes<'_>,
) -> Result<Vec<Value>, String> {
    let Some(pk) = c.policy.pointer("/spec/paramKind").filter(|p| !p.is_null()) else {
        return Ok(vec![Value::Null]);
    };
    let Some(pr) = binding.pointer("/spec/paramRef").filter(|p| !p.is_null()) else {
        return Ok(vec![Value::Null]);
    };
    let Some(pres) = param_resource(pk) else {
        return Err(format!(
            "paramKind kind `{}, Kind={}` not known",
            s(pk, "/apiVersion"),
            s(pk, "/kind")
        ));
    };
    let ns: Option<String> = if pres.namespaced {
        match s(pr, "/namespace") {
            "" => match a.namespace {
                Some(n) if !n.is_empty() => Some(n.to_string()),
                _ => {
                    return Err("cannot use namespaced paramRef in policy binding that matches cluster-scoped resources".into())
                }
            },
            n => Some(n.to_string()),
        }
    } else {
        if !s(pr, "/namespace").is_empty() {
            return Err(
                "paramRef.namespace must not be provided for a cluster-scoped `paramKind`".into(),
            );
        }
        None
    };
    let name = s(pr, "/name");
    let selector = pr.get("selector").filter(|x| !x.is_null());
    let params: Vec<Value> = match (name, selector) {
        (n, Some(_)) if !n.is_empty() => {
            return Err("paramRef.name and paramRef.selector are mutually exclusive".into())
        }
        (n, None) if !n.is_empty() => match api.get(pres, ns.as_deref(), n).await {
            Ok(p) => vec![p],
            Err(e) if e.code == 404 => vec![],
            Err(e) => return Err(e.message),
        },
        (_, Some(sel)) => {
            let label = LabelSelector::parse(&LabelSelector::string_from_object(sel))
                .map_err(|e| e.to_string())?;
            let list = api
                .list(
                    pres,
                    ns.as_deref(),
                    &ListParams {
                        label,
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| e.message)?;
            arr(&list, "/items").to_vec()
        }
        _ => return Err("one of name or selector must be provided".into()),
    };
    if params.is_empty() && s(pr, "/parameterNotFoundAction") == "Deny" {
        return Err(
            "no params found for policy binding with `Deny` parameterNotFoundAction".into(),
        );
    }
    Ok(params)
}

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
        if a.resource.group == GROUP {
            return Ok(());
        }
        self.state.ensure_started(api).await;
        let snap = self.state.current();
        if snap.policies.is_empty() {
            return Ok(());
        }
        let ns_name = a
            .namespace
            .filter(|n| !n.is_empty() && a.resource.namespaced);
        let mut ns_obj: Option<Value> = None;
        if let (Some(n), Some(nsres)) = (ns_name, registry::find("", "v1", "namespaces")) {
            ns_obj = api.get(nsres, None, n).await.ok();
        }
        let mut denials: Vec<Denial> = Vec::new();
        let mut base: Option<Activation> = None;
        for (pname, c) in &snap.policies {
            let Some(bindings) = snap.bindings.get(pname) else {
                continue;
            };
            if !resources_match(
                c.policy.pointer("/spec/matchConstraints"),
                a,
                obj,
                old,
                ns_obj.as_ref(),
                true,
            ) {
                continue;
            }
            if let Some(e) = &c.config_error {
                if !c.ignore_failures {
                    denials.push(Denial {
                        policy: pname.clone(),
                        binding: None,
                        message: format!("failed to configure policy: {e}"),
                        reason: None,
                    });
                }
                continue;
            }
            for b in bindings {
                if !resources_match(
                    b.pointer("/spec/matchResources"),
                    a,
                    obj,
                    old,
                    ns_obj.as_ref(),
                    false,
                ) {
                    continue;
                }
                let params = match params_for(api, c, b, a).await {
                    Ok(p) => p,
                    Err(e) => {
                        if !c.ignore_failures {
                            denials.push(Denial {
                                policy: pname.clone(),
                                binding: Some(s(b, "/metadata/name").to_string()),
                                message: format!("failed to configure binding: {e}"),
                                reason: None,
                            });
                        }
                        continue;
                    }
                };
                let base = base.get_or_insert_with(|| {
                    let mut act = Activation::new();
                    let j = |v: Option<&Value>| v.map_or(cel::Value::Null, |v| from_json(v, None));
                    act.insert("object".into(), j(obj));
                    act.insert("oldObject".into(), j(old));
                    act.insert("request".into(), from_json(&request_value(a), None));
                    act.insert("namespaceObject".into(), j(ns_obj.as_ref()));
                    if let Some(z) = AUTHORIZER.get() {
                        let authz: Arc<dyn stdlib::Authorizer> = Arc::new(RbacAuthorizer {
                            authz: z.clone(),
                            user: a.user.clone(),
                        });
                        act.insert("authorizer".into(), stdlib::authorizer_value(authz.clone()));
                        let r = a.resource;
                        let check = stdlib::AuthzCheck {
                            group: r.group.into(),
                            resource: r.plural.into(),
                            subresource: a.subresource.into(),
                            namespace: a.namespace.unwrap_or_default().into(),
                            name: a.name.into(),
                            ..Default::default()
                        };
                        act.insert(
                            "authorizer.requestResource".into(),
                            cel::Value::Ext(Arc::new(cel::value::Ext::Authz(
                                stdlib::AuthzValue::ResourceCheck(authz, check),
                            ))),
                        );
                    }
                    act
                });
                for p in params {
                    evaluate(c, b, a, base, p, &mut denials);
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
