//! What ValidatingAdmissionPolicy and MutatingAdmissionPolicy share, as upstream's generic
//! policy plugin (`k8s.io/apiserver/pkg/admission/plugin/policy/generic`): matching a request
//! against `matchConstraints` and bindings' `matchResources`, collecting params, the CEL
//! activation (`object`, `oldObject`, `request`, `namespaceObject`, `params`, `variables`,
//! `authorizer`), variables and match conditions, and [`Source`], the in-memory copy of the
//! policies and bindings kept current by a watch.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Value};

use k3rs_apis::cel::{self, stdlib, value::from_json, Activation, EvalError, Program};
use k3rs_apis::registry::{self, Resource};
use k3rs_apis::selectors::LabelSelector;

use super::Attributes;
use crate::status::ApiResult;
use crate::store::{Api, ListParams, WatchParams};

pub(super) const GROUP: &str = "admissionregistration.k8s.io";

/// Named compiled expressions (variables, match conditions, audit annotations).
pub(super) type Named = cel::admission::NamedPrograms;

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

pub(super) fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or_default()
}

pub(super) fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The served resource of a `paramKind`.
pub(super) fn param_resource(pk: &Value) -> Option<&'static Resource> {
    let (group, version) = match s(pk, "/apiVersion").rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", s(pk, "/apiVersion")),
    };
    let kind = s(pk, "/kind");
    registry::all()
        .into_iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// A policy's `paramKind` that names no served kind (a configuration error of the policy).
pub(super) fn param_kind_error(policy: &Value) -> Option<String> {
    let pk = policy.pointer("/spec/paramKind").filter(|p| !p.is_null())?;
    match param_resource(pk) {
        Some(_) => None,
        None => Some(format!(
            "paramKind kind `{}, Kind={}` not known",
            s(pk, "/apiVersion"),
            s(pk, "/kind")
        )),
    }
}

pub(super) fn strs(v: &Value, k: &str) -> Vec<String> {
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
pub(super) fn rule_matches(rule: &Value, a: &Attributes<'_>) -> bool {
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

pub(super) fn selector_matches(
    sel: Option<&Value>,
    labels: Option<&serde_json::Map<String, Value>>,
) -> bool {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return true;
    };
    match LabelSelector::parse(&LabelSelector::string_from_object(sel)) {
        Ok(ls) => ls.matches(labels),
        Err(_) => false,
    }
}

pub(super) fn labels(v: Option<&Value>) -> Option<&serde_json::Map<String, Value>> {
    v.and_then(|o| o.pointer("/metadata/labels"))
        .and_then(Value::as_object)
}

/// `matchConstraints` / `matchResources`: rules, exclusions and selectors.
pub(super) fn resources_match(
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

pub(super) fn request_value(a: &Attributes<'_>) -> Value {
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

pub(super) fn eval_err(e: &EvalError, expr: &str) -> String {
    format!("expression '{expr}' resulted in error: {e}")
}

pub(super) async fn params_for(
    api: &Api,
    policy: &Value,
    binding: &Value,
    a: &Attributes<'_>,
) -> Result<Vec<Value>, String> {
    let Some(pk) = policy.pointer("/spec/paramKind").filter(|p| !p.is_null()) else {
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

pub(super) fn compile(env: &cel::Env, src: &str) -> Result<Program, String> {
    env.compile(src)
        .map_err(|e| format!("compilation failed: {}", e.message))
}

/// Compiles the named expressions of a list (`matchConditions` by `name`, `auditAnnotations`
/// by `key`, with `expression` / `valueExpression`).
pub(super) fn compile_named(env: &cel::Env, policy: &Value, pointer: &str) -> Named {
    arr(policy, pointer)
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
            (key.to_string(), compile(env, expr))
        })
        .collect()
}

/// The namespace of a namespaced request, for `namespaceSelector` and `namespaceObject`.
pub(super) async fn namespace_object(api: &Api, a: &Attributes<'_>) -> Option<Value> {
    let n = a
        .namespace
        .filter(|n| !n.is_empty() && a.resource.namespaced)?;
    let nsres = registry::find("", "v1", "namespaces")?;
    super::cache::get(api, nsres, None, n).await.ok().flatten()
}

/// The activation every policy expression of one request sees (params and variables are
/// added per binding).
pub(super) fn base_activation(
    a: &Attributes<'_>,
    obj: Option<&Value>,
    old: Option<&Value>,
    ns_obj: Option<&Value>,
) -> Activation {
    let mut act = Activation::new();
    let j = |v: Option<&Value>| v.map_or(cel::Value::Null, |v| from_json(v, None));
    act.insert("object".into(), j(obj));
    act.insert("oldObject".into(), j(old));
    act.insert("request".into(), from_json(&request_value(a), None));
    act.insert("namespaceObject".into(), j(ns_obj));
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
}

/// Evaluates a policy's variables in order into `act` (`variables`); one that fails is left
/// out (its users then fail). Costs are taken from `budget`.
pub(super) fn eval_variables(variables: &Named, act: &mut Activation, budget: &mut i64) {
    let mut vars = cel::value::MapValue::new();
    for (name, p) in variables {
        act.insert("variables".into(), cel::Value::Map(Arc::new(vars.clone())));
        if let Ok(p) = p {
            match p.eval(act, cel::PER_CALL_LIMIT) {
                Ok((v, cost)) => {
                    *budget -= cost as i64;
                    vars.insert(cel::value::Key::String(name.as_str().into()), v);
                }
                Err((_, cost)) => *budget -= cost as i64,
            }
        }
    }
    act.insert("variables".into(), cel::Value::Map(Arc::new(vars)));
}

/// Evaluates `matchConditions`: `Ok(true)` when all hold, `Ok(false)` when one is false,
/// `Err` (the policy's failure) when one cannot be evaluated.
pub(super) fn eval_match_conditions(
    conditions: &Named,
    act: &Activation,
    budget: &mut i64,
) -> Result<bool, String> {
    for (name, p) in conditions {
        let p = p.as_ref().map_err(|e| format!("compilation error: {e}"))?;
        match p.eval(act, cel::PER_CALL_LIMIT) {
            Ok((cel::Value::Bool(true), cost)) => *budget -= cost as i64,
            Ok((cel::Value::Bool(false), _)) => return Ok(false),
            Ok((other, _)) => {
                return Err(format!(
                    "matchCondition {name:?} did not evaluate to a bool (got {})",
                    other.type_name()
                ))
            }
            Err((e, _)) => {
                return Err(format!(
                    "failed to evaluate matchCondition {name:?}: {}",
                    eval_err(&e, &p.source)
                ))
            }
        }
    }
    Ok(true)
}

/// What the generic matching needs of a compiled policy.
pub(super) trait CompiledPolicy {
    /// The policy object it was compiled from.
    fn policy(&self) -> &Value;
    /// A problem with the policy itself (an unknown `paramKind`).
    fn config_error(&self) -> Option<&str>;
}

/// One policy × binding × param the request must be evaluated against, or a configuration
/// error of a policy or binding that matched (upstream's `PolicyInvocation` / config errors).
pub(super) enum Invocation<'s, C> {
    Invoke {
        policy_name: &'s str,
        compiled: &'s Arc<C>,
        binding: &'s Value,
        param: Value,
    },
    ConfigError {
        policy_name: &'s str,
        compiled: &'s Arc<C>,
        binding: Option<String>,
        message: String,
    },
}

/// Upstream's generic dispatcher: the policies whose `matchConstraints` match the request,
/// then their bindings whose `matchResources` match, then each binding's params.
pub(super) async fn invocations<'s, C: CompiledPolicy>(
    api: &Api,
    snap: &'s Snapshot<C>,
    a: &Attributes<'_>,
    obj: Option<&Value>,
    old: Option<&Value>,
    ns_obj: Option<&Value>,
) -> Vec<Invocation<'s, C>> {
    let mut out = Vec::new();
    for (pname, entry) in &snap.policies {
        let Some(bindings) = snap.bindings.get(pname) else {
            continue;
        };
        let c = &entry.compiled;
        if !resources_match(
            c.policy().pointer("/spec/matchConstraints"),
            a,
            obj,
            old,
            ns_obj,
            true,
        ) {
            continue;
        }
        if let Some(e) = c.config_error() {
            out.push(Invocation::ConfigError {
                policy_name: pname,
                compiled: c,
                binding: None,
                message: format!("failed to configure policy: {e}"),
            });
            continue;
        }
        for b in bindings {
            if !resources_match(
                b.pointer("/spec/matchResources"),
                a,
                obj,
                old,
                ns_obj,
                false,
            ) {
                continue;
            }
            match params_for(api, c.policy(), b, a).await {
                Ok(params) => out.extend(params.into_iter().map(|param| Invocation::Invoke {
                    policy_name: pname,
                    compiled: c,
                    binding: b,
                    param,
                })),
                Err(e) => out.push(Invocation::ConfigError {
                    policy_name: pname,
                    compiled: c,
                    binding: Some(s(b, "/metadata/name").to_string()),
                    message: format!("failed to configure binding: {e}"),
                }),
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The in-memory policies and bindings
// ---------------------------------------------------------------------------------------------

/// One policy as last read, with its compiled form.
pub(super) struct Entry<C> {
    pub object: Value,
    pub compiled: Arc<C>,
}

/// Policies by name, and bindings by the name of their policy.
pub(super) struct Snapshot<C> {
    pub policies: BTreeMap<String, Entry<C>>,
    pub bindings: BTreeMap<String, Vec<Value>>,
}

impl<C> Default for Snapshot<C> {
    fn default() -> Self {
        Snapshot {
            policies: BTreeMap::new(),
            bindings: BTreeMap::new(),
        }
    }
}

/// Runs after every reload (ValidatingAdmissionPolicy's status controller).
pub(super) type AfterReload<C> = fn(Api, Arc<Snapshot<C>>) -> BoxFuture<'static, ()>;

/// Policies of one kind and their bindings, kept compiled in memory: loaded on first use and
/// reloaded whenever a watch of either resource reports a change.
pub(super) struct Source<C> {
    version: &'static str,
    policies: &'static str,
    bindings: &'static str,
    compile: fn(&Value) -> C,
    after_reload: Option<AfterReload<C>>,
    started: tokio::sync::OnceCell<()>,
    snapshot: RwLock<Arc<Snapshot<C>>>,
}

impl<C: Send + Sync + 'static> Source<C> {
    pub fn new(
        version: &'static str,
        policies: &'static str,
        bindings: &'static str,
        compile: fn(&Value) -> C,
        after_reload: Option<AfterReload<C>>,
    ) -> Self {
        Source {
            version,
            policies,
            bindings,
            compile,
            after_reload,
            started: tokio::sync::OnceCell::new(),
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
        }
    }

    /// The served policy and binding resources (none when the API is not served).
    pub fn resources(&self) -> Option<(&'static Resource, &'static Resource)> {
        Some((
            registry::find(GROUP, self.version, self.policies)?,
            registry::find(GROUP, self.version, self.bindings)?,
        ))
    }

    pub fn current(&self) -> Arc<Snapshot<C>> {
        self.snapshot.read().map(|s| s.clone()).unwrap_or_default()
    }

    async fn load(&self, api: &Api) -> ApiResult<Snapshot<C>> {
        let Some((pres, bres)) = self.resources() else {
            return Ok(Snapshot::default());
        };
        let prev = self.current();
        let policies = api.list(pres, None, &ListParams::default()).await?;
        let bindings = api.list(bres, None, &ListParams::default()).await?;
        let mut snap = Snapshot::default();
        for p in arr(&policies, "/items") {
            let name = s(p, "/metadata/name").to_string();
            // Recompile only what changed.
            let compiled = match prev.policies.get(&name) {
                Some(e)
                    if e.object.pointer("/metadata/generation")
                        == p.pointer("/metadata/generation")
                        && e.object.get("spec") == p.get("spec") =>
                {
                    e.compiled.clone()
                }
                _ => Arc::new((self.compile)(p)),
            };
            snap.policies.insert(
                name,
                Entry {
                    object: p.clone(),
                    compiled,
                },
            );
        }
        for b in arr(&bindings, "/items") {
            snap.bindings
                .entry(s(b, "/spec/policyName").to_string())
                .or_default()
                .push(b.clone());
        }
        Ok(snap)
    }

    async fn refresh(&self, api: &Api) {
        match self.load(api).await {
            Ok(snap) => {
                if let Ok(mut w) = self.snapshot.write() {
                    *w = Arc::new(snap);
                }
            }
            Err(e) => {
                tracing::warn!(resource = self.policies, error = %e.message, "admission policies: reload failed")
            }
        }
        if let Some(f) = self.after_reload {
            f(api.clone(), self.current()).await;
        }
    }

    /// Loads the policies once and starts the task that keeps them current.
    pub async fn ensure_started(self: &Arc<Self>, api: &Api) {
        self.started
            .get_or_init(|| async {
                if self.resources().is_none() {
                    return;
                }
                if let Ok(snap) = self.load(api).await {
                    if let Ok(mut w) = self.snapshot.write() {
                        *w = Arc::new(snap);
                    }
                }
                let me = self.clone();
                let api = api.clone();
                tokio::spawn(async move { me.run(api).await });
            })
            .await;
    }

    async fn run(self: Arc<Self>, api: Api) {
        let Some((pres, bres)) = self.resources() else {
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
            }
        }
    }
}
