//! The `MutatingAdmissionWebhook` and `ValidatingAdmissionWebhook` admission plugins, as
//! upstream's `k8s.io/apiserver/pkg/admission/plugin/webhook`.
//!
//! For every write the plugins pick the webhooks that apply (rules: operations, API groups,
//! versions, resources with `*` and `res/sub` subresource patterns, scope; `matchPolicy:
//! Equivalent` also matching the same resource in another served version; `namespaceSelector`
//! on the namespace's labels; `objectSelector` on the new or old object's labels;
//! `matchConditions`), send each an AdmissionReview and act on the answer:
//!
//! - refusal (`allowed: false`): the webhook's `status` (code, reason, message, details) is the
//!   error, its message prefixed `admission webhook "<name>" denied the request`;
//! - a call that fails (unreachable, timeout, bad answer): `failurePolicy: Ignore` carries on,
//!   `Fail` refuses with a 500 `failed calling webhook "<name>": ...`;
//! - `warnings` become `Warning` headers, `auditAnnotations` audit annotations;
//! - mutating webhooks run one after another; their JSONPatch answers apply in order, and
//!   webhooks with `reinvocationPolicy: IfNeeded` run once more when a later webhook changed the
//!   object; validating webhooks run concurrently and the first refusal (in configuration order)
//!   wins;
//! - a dry-run request is refused by a webhook whose `sideEffects` is not `None`/`NoneOnDryRun`.
//!
//! Webhook configuration and admission policy objects are never sent to webhooks (upstream's
//! rule, so a broken webhook cannot lock its own fix out).
//!
//! Differences from upstream, all deliberate:
//! - the admission chain calls mutating plugins on create and update only, so mutating webhooks
//!   for DELETE are called from this plugin's validating phase (still before every validating
//!   webhook, which comes later in the plugin order);
//! - reinvocation re-runs webhooks only (upstream re-runs the whole mutating chain; the built-in
//!   mutating plugins before this one are idempotent);
//! - writes the server makes to itself in-process (bootstrap objects, the CRD controller's status
//!   updates) have no request and are not sent to webhooks, so a webhook that is down cannot stop
//!   the server from starting;
//! - `matchConditions` get `object`, `oldObject` and `request`, not `authorizer`
//!   (see [`super::match_conditions`]).

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use serde_json::{json, Value};

use k3rs_apis::registry::{self, Resource};

use crate::admission::{Attributes, Operation, Plugin};
use crate::status::{ApiError, ApiResult};
use crate::store::Api;

use super::client::post_json;
use super::config::{Hook, Rule, Source};

/// Kinds never sent to webhooks (upstream's `IsExemptAdmissionConfigurationResource`).
pub fn exempt(res: &Resource) -> bool {
    res.group == "admissionregistration.k8s.io"
        && matches!(
            res.kind,
            "ValidatingWebhookConfiguration"
                | "MutatingWebhookConfiguration"
                | "ValidatingAdmissionPolicy"
                | "ValidatingAdmissionPolicyBinding"
                | "MutatingAdmissionPolicy"
                | "MutatingAdmissionPolicyBinding"
        )
}

fn is_namespaces(res: &Resource) -> bool {
    res.group.is_empty() && res.plural == "namespaces"
}

/// The request's namespace as upstream's request info has it: a Namespace's own name for every
/// request on a named namespace (not its create).
fn namespace_of<'a>(a: &'a Attributes<'_>) -> &'a str {
    if is_namespaces(a.resource) && a.operation != Operation::Create {
        return a.name;
    }
    a.namespace.unwrap_or("")
}

fn exact_or_wildcard(items: &[String], requested: &str) -> bool {
    items.iter().any(|i| i == "*" || i == requested)
}

/// Upstream's `rules.Matcher` against `res` (the request's resource or an equivalent).
fn rule_matches(rule: &Rule, a: &Attributes<'_>, res: &Resource) -> bool {
    let ns = namespace_of(a);
    let scope = match rule.scope.as_str() {
        "" | "*" => true,
        "Namespaced" => !is_namespaces(res) && !ns.is_empty(),
        "Cluster" => is_namespaces(res) || ns.is_empty(),
        _ => false,
    };
    let op = rule
        .operations
        .iter()
        .any(|o| o == "*" || o == a.operation.as_str());
    let resource = rule.resources.iter().any(|r| {
        let (rr, sub) = r.split_once('/').unwrap_or((r, ""));
        (rr == "*" || rr == res.plural) && (sub == "*" || sub == a.subresource)
    });
    scope
        && op
        && exact_or_wildcard(&rule.api_groups, res.group)
        && exact_or_wildcard(&rule.api_versions, res.version)
        && resource
}

/// Other served versions of the same resource (upstream's equivalent resource mapper: the
/// versions sharing one storage).
fn equivalents(res: &'static Resource, subresource: &str) -> Vec<&'static Resource> {
    registry::all()
        .into_iter()
        .filter(|r| {
            r.group == res.group
                && r.plural == res.plural
                && r.version != res.version
                && (subresource.is_empty() || r.subresource(subresource).is_some())
        })
        .collect()
}

/// A webhook that applies to the request, and the version of the resource it is called for.
struct Invocation {
    hook: Arc<Hook>,
    res: &'static Resource,
}

fn labels(obj: Option<&Value>) -> Option<&serde_json::Map<String, Value>> {
    obj.and_then(|o| o.pointer("/metadata/labels"))
        .and_then(Value::as_object)
}

/// Upstream's `MatchNamespaceSelector`.
async fn match_namespace(
    api: &Api,
    hook: &Hook,
    a: &Attributes<'_>,
    obj: Option<&Value>,
) -> ApiResult<bool> {
    let ns = namespace_of(a);
    if ns.is_empty() && !is_namespaces(a.resource) {
        return Ok(true);
    }
    let sel = hook
        .namespace_selector
        .as_ref()
        .map_err(|e| ApiError::internal(e.clone()))?;
    if sel.is_empty() {
        return Ok(true);
    }
    if is_namespaces(a.resource)
        && a.subresource.is_empty()
        && matches!(a.operation, Operation::Create | Operation::Update)
    {
        return Ok(sel.matches(labels(obj)));
    }
    let nsres = registry::find("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("namespaces are not served"))?;
    match crate::admission::cache::get(api, nsres, None, ns).await {
        Ok(Some(n)) => Ok(sel.matches(labels(Some(&n)))),
        Ok(None) => Err(ApiError::not_found(nsres, ns)),
        Err(e) => Err(ApiError::internal(e.message)),
    }
}

fn internal_error(msg: String) -> ApiError {
    ApiError::internal(msg.clone()).with_details(json!({"causes": [{"message": msg}]}))
}

/// The AdmissionRequest's `userInfo`.
fn user_info(a: &Attributes<'_>) -> Value {
    let mut u = serde_json::Map::new();
    if !a.user.name.is_empty() {
        u.insert("username".into(), json!(a.user.name));
    }
    if !a.user.uid.is_empty() {
        u.insert("uid".into(), json!(a.user.uid));
    }
    if !a.user.groups.is_empty() {
        u.insert("groups".into(), json!(a.user.groups));
    }
    if !a.user.extra.is_empty() {
        u.insert("extra".into(), json!(a.user.extra));
    }
    Value::Object(u)
}

/// `{group, version, kind}` of a resource (or of its subresource's own kind, e.g. Scale).
fn gvk(res: &Resource, sub: &str) -> Value {
    match res.subresource(sub).filter(|s| !s.version.is_empty()) {
        Some(s) => json!({"group": s.group, "version": s.version, "kind": s.kind}),
        None => json!({"group": res.group, "version": res.version, "kind": res.kind}),
    }
}

fn gvr(res: &Resource) -> Value {
    json!({"group": res.group, "version": res.version, "resource": res.plural})
}

/// The AdmissionReview sent to a webhook.
fn review(
    version: &str,
    uid: &str,
    inv: &Invocation,
    a: &Attributes<'_>,
    obj: Option<&Value>,
    old: Option<&Value>,
) -> Value {
    let mut req = json!({
        "uid": uid,
        "kind": gvk(inv.res, a.subresource),
        "resource": gvr(inv.res),
        "requestKind": gvk(a.resource, a.subresource),
        "requestResource": gvr(a.resource),
        "operation": a.operation.as_str(),
        "userInfo": user_info(a),
        "object": obj.cloned().unwrap_or(Value::Null),
        "oldObject": old.cloned().unwrap_or(Value::Null),
        "dryRun": a.dry_run,
        "options": a.options.clone(),
    });
    if !a.subresource.is_empty() {
        req["subResource"] = json!(a.subresource);
        req["requestSubResource"] = json!(a.subresource);
    }
    if !a.name.is_empty() {
        req["name"] = json!(a.name);
    }
    let ns = namespace_of(a);
    if !ns.is_empty() {
        req["namespace"] = json!(ns);
    }
    json!({
        "kind": "AdmissionReview",
        "apiVersion": format!("admission.k8s.io/{version}"),
        "request": req,
    })
}

/// How a call went wrong.
enum Failure {
    /// The webhook could not be called or answered nonsense (upstream's `ErrCallingWebhook`):
    /// subject to the failure policy. Holds the reason after `failed calling webhook "x": `.
    Calling(String),
    /// The webhook refused, or the request cannot be sent (dry run): never ignored.
    Refused(ApiError),
}

/// What a webhook answered, verified (upstream's `VerifyAdmissionResponse`).
struct Answer {
    allowed: bool,
    result: Option<Value>,
    patch: Option<Vec<u8>>,
    warnings: Vec<String>,
    audit: Vec<(String, String)>,
}

fn verify(version: &str, uid: &str, mutating: bool, v: &Value) -> Result<Answer, String> {
    let Some(resp) = v.get("response").filter(|r| r.is_object()) else {
        return Err("webhook response was absent".into());
    };
    let patch_b64 = resp.get("patch").and_then(Value::as_str).unwrap_or("");
    let patch_type = resp.get("patchType").filter(|p| !p.is_null());
    if version == "v1" {
        let got = resp.get("uid").and_then(Value::as_str).unwrap_or("");
        if got != uid {
            return Err(format!("expected response.uid={uid:?}, got {got:?}"));
        }
        let av = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
        if av != "admission.k8s.io/v1" || kind != "AdmissionReview" {
            let group_version = if av.is_empty() { "/" } else { av };
            let got = if av.contains('/') || av.is_empty() {
                format!("{group_version}, Kind={kind}")
            } else {
                format!("/{av}, Kind={kind}")
            };
            return Err(format!(
                "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got {got}"
            ));
        }
        if mutating {
            if !patch_b64.is_empty() && patch_type.is_none() {
                return Err("webhook returned response.patch but not response.patchType".into());
            }
            if patch_b64.is_empty() && patch_type.is_some() {
                return Err("webhook returned response.patchType but not response.patch".into());
            }
            if let Some(pt) = patch_type {
                let pt = pt.as_str().unwrap_or("");
                if pt.is_empty() {
                    return Err(format!(
                        "webhook returned invalid response.patchType of {pt:?}"
                    ));
                }
                if pt != "JSONPatch" {
                    return Err(format!("unsupported patch type {pt:?}"));
                }
            }
        } else {
            if !patch_b64.is_empty() {
                return Err("validating webhook may not return response.patch".into());
            }
            if patch_type.is_some() {
                return Err("validating webhook may not return response.patchType".into());
            }
        }
    }
    let patch = if mutating && !patch_b64.is_empty() {
        Some(
            base64::engine::general_purpose::STANDARD
                .decode(patch_b64)
                .map_err(|e| format!("illegal base64 data in response.patch: {e}"))?,
        )
    } else {
        None
    };
    Ok(Answer {
        allowed: resp
            .get("allowed")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        result: resp.get("status").filter(|s| s.is_object()).cloned(),
        patch,
        warnings: resp
            .get("warnings")
            .and_then(Value::as_array)
            .map(|w| {
                w.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        audit: resp
            .get("auditAnnotations")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// A refusal as upstream's `ToStatusErr`: the webhook's status, code at least 400, message
/// prefixed with who refused.
pub fn refusal(hook: &str, result: Option<&Value>) -> ApiError {
    let denied_by = format!("admission webhook {hook:?} denied the request");
    let empty = json!({});
    let r = result.unwrap_or(&empty);
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let code = r
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c >= 400 && *c <= 599)
        .unwrap_or(400);
    let (message, reason) = (s("message"), s("reason"));
    let message = if !message.is_empty() {
        format!("{denied_by}: {message}")
    } else if !reason.is_empty() {
        format!("{denied_by}: {reason}")
    } else {
        format!("{denied_by} without explanation")
    };
    let mut e = ApiError::new(code, reason, message);
    if let Some(d) = r.get("details").filter(|d| d.is_object()) {
        e = e.with_details(d.clone());
    }
    e
}

/// Decides whether `hook` applies to the request (upstream's `ShouldCallHook`).
async fn should_call(
    api: &Api,
    hook: &Arc<Hook>,
    a: &Attributes<'_>,
    obj: Option<&Value>,
    old: Option<&Value>,
) -> ApiResult<Option<Invocation>> {
    let ns_match = match_namespace(api, hook, a, obj).await;
    if matches!(ns_match, Ok(false)) {
        return Ok(None);
    }
    let obj_match = match &hook.object_selector {
        Err(e) => Err(ApiError::internal(e.clone())),
        Ok(sel) if sel.is_empty() => Ok(true),
        Ok(sel) => Ok(obj.is_some_and(|o| sel.matches(labels(Some(o))))
            || old.is_some_and(|o| sel.matches(labels(Some(o))))),
    };
    if matches!(obj_match, Ok(false)) {
        return Ok(None);
    }
    let mut res = hook
        .rules
        .iter()
        .any(|r| rule_matches(r, a, a.resource))
        .then_some(a.resource);
    if res.is_none() && !hook.exact {
        let eqs = equivalents(a.resource, a.subresource);
        // Earlier rules first.
        'rules: for r in &hook.rules {
            for eq in &eqs {
                if rule_matches(r, a, eq) {
                    res = Some(*eq);
                    break 'rules;
                }
            }
        }
    }
    let Some(res) = res else {
        return Ok(None);
    };
    ns_match?;
    obj_match?;
    if !hook.match_conditions.is_empty() {
        let request = review(
            "v1",
            "",
            &Invocation {
                hook: hook.clone(),
                res,
            },
            a,
            obj,
            old,
        );
        match super::match_conditions::evaluate(
            &hook.match_conditions,
            obj,
            old,
            &request["request"],
        ) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(_) if hook.fail_open => return Ok(None),
            Err(e) => {
                tracing::warn!(webhook = %hook.name, error = %e, "failed evaluating match conditions, failing closed");
                return Err(ApiError::forbidden(format!(
                    "{} {:?} is forbidden: {e}",
                    crate::status::qualified(a.resource),
                    a.name
                ))
                .with_details(
                    json!({"name": a.name, "group": a.resource.group, "kind": a.resource.plural}),
                ));
            }
        }
    }
    Ok(Some(Invocation {
        hook: hook.clone(),
        res,
    }))
}

/// A dry-run request goes only to webhooks without side effects (or none on dry runs).
fn dry_run_allowed(h: &Hook, dry_run: bool) -> Result<(), Failure> {
    if !dry_run {
        return Ok(());
    }
    match h.side_effects.as_deref() {
        None => Err(Failure::Calling("Webhook SideEffects is nil".into())),
        Some("None" | "NoneOnDryRun") => Ok(()),
        Some(_) => Err(Failure::Refused(ApiError::bad_request(format!(
            "admission webhook {:?} does not support dry run",
            h.name
        )))),
    }
}

/// Calls one webhook. Returns its verified answer.
async fn call(
    api: &Api,
    inv: &Invocation,
    a: &Attributes<'_>,
    obj: Option<&Value>,
    old: Option<&Value>,
    mutating: bool,
) -> Result<Answer, Failure> {
    let h = &inv.hook;
    dry_run_allowed(h, a.dry_run)?;
    let Some(version) = h
        .admission_review_versions
        .iter()
        .find(|v| matches!(v.as_str(), "v1" | "v1beta1"))
    else {
        return Err(Failure::Calling(
            "could not create admission objects: webhook does not accept known AdmissionReview versions (v1, v1beta1)".into(),
        ));
    };
    let uid = uuid::Uuid::new_v4().to_string();
    let body = review(version, &uid, inv, a, obj, old);
    let answer = post_json(api, &h.client, &body, h.timeout, true)
        .await
        .map_err(|e| Failure::Calling(format!("failed to call webhook: {}", e.reason)))?;
    let answer = verify(version, &uid, mutating, &answer)
        .map_err(|e| Failure::Calling(format!("received invalid webhook response: {e}")))?;
    for (k, v) in &answer.audit {
        a.annotate(format!("{}/{k}", h.name), v.clone());
    }
    for w in &answer.warnings {
        a.warn(w.clone());
    }
    if !answer.allowed {
        return Err(Failure::Refused(refusal(&h.name, answer.result.as_ref())));
    }
    Ok(answer)
}

/// Requests without a request context are the server's own in-process writes.
fn from_a_client() -> bool {
    crate::admission::current().is_some()
}

/// The MutatingAdmissionWebhook plugin.
pub struct MutatingWebhook {
    source: Source,
}

impl MutatingWebhook {
    pub fn new() -> MutatingWebhook {
        MutatingWebhook {
            source: Source::new(true),
        }
    }

    async fn dispatch(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        mut obj: Option<&mut Value>,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        if exempt(a.resource) || !from_a_client() {
            return Ok(());
        }
        let hooks = self.source.hooks(api).await?;
        if hooks.is_empty() {
            return Ok(());
        }
        // Upstream's reinvocation context, kept within this plugin.
        let mut previously_invoked: Vec<String> = Vec::new();
        let mut reinvoke: HashSet<String> = HashSet::new();
        let mut changed_any = false;
        for round in 0..2 {
            if round == 1 && (!changed_any || reinvoke.is_empty()) {
                break;
            }
            for (idx, hook) in hooks.iter().enumerate() {
                let Some(inv) = should_call(api, hook, a, obj.as_deref(), old).await? else {
                    continue;
                };
                if round == 1 && !reinvoke.contains(&hook.uid) {
                    continue;
                }
                let outcome = self
                    .call_mutating(api, &inv, a, obj.as_deref_mut(), old, round, idx)
                    .await;
                let changed = matches!(outcome, Ok(true));
                if changed {
                    changed_any = true;
                    reinvoke.extend(previously_invoked.drain(..));
                }
                if hook.reinvoke_if_needed {
                    previously_invoked.push(hook.uid.clone());
                }
                match outcome {
                    Ok(_) => {}
                    Err(Failure::Calling(reason)) if hook.fail_open => {
                        tracing::warn!(webhook = %hook.name, %reason, "failed calling webhook, failing open");
                        a.annotate(
                            format!(
                                "failed-open.mutation.webhook.admission.k8s.io/round_{round}_index_{idx}"
                            ),
                            hook.name.clone(),
                        );
                    }
                    Err(Failure::Calling(reason)) => {
                        tracing::warn!(webhook = %hook.name, %reason, "failed calling webhook, failing closed");
                        return Err(internal_error(format!(
                            "failed calling webhook {:?}: {reason}",
                            hook.name
                        )));
                    }
                    Err(Failure::Refused(e)) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Calls one mutating webhook and applies its patch; `Ok(true)` when the object changed.
    #[allow(clippy::too_many_arguments)]
    async fn call_mutating(
        &self,
        api: &Api,
        inv: &Invocation,
        a: &Attributes<'_>,
        obj: Option<&mut Value>,
        old: Option<&Value>,
        round: usize,
        idx: usize,
    ) -> Result<bool, Failure> {
        let h = &inv.hook;
        // The objects in the version the webhook asked for.
        let other_version = inv.res.version != a.resource.version;
        let versioned = |v: Option<&Value>| {
            let v = v.cloned();
            async move {
                match v {
                    Some(o) if other_version => {
                        super::conversion::to_version(api, a.resource, o, inv.res.version)
                            .await
                            .map(Some)
                    }
                    other => Ok(other),
                }
            }
        };
        let v_obj = versioned(obj.as_deref()).await.map_err(Failure::Refused)?;
        let v_old = versioned(old).await.map_err(Failure::Refused)?;
        let annotate_mutation = |mutated: bool| {
            a.annotate(
                format!("mutation.webhook.admission.k8s.io/round_{round}_index_{idx}"),
                json!({"configuration": h.configuration, "webhook": h.name, "mutated": mutated})
                    .to_string(),
            );
        };
        let answer = match call(api, inv, a, v_obj.as_ref(), v_old.as_ref(), true).await {
            Ok(ans) => ans,
            Err(e) => {
                annotate_mutation(false);
                return Err(e);
            }
        };
        let Some(patch_bytes) = answer.patch else {
            annotate_mutation(false);
            return Ok(false);
        };
        let patch: Value = match serde_json::from_slice(&patch_bytes) {
            Ok(p @ Value::Array(_)) => p,
            Ok(_) => {
                annotate_mutation(false);
                return Err(Failure::Calling(
                    "received undecodable patch in webhook response: a JSON patch must be an array of operations".into(),
                ));
            }
            Err(e) => {
                annotate_mutation(false);
                return Err(Failure::Calling(format!(
                    "received undecodable patch in webhook response: {e}"
                )));
            }
        };
        if patch.as_array().is_some_and(Vec::is_empty) {
            annotate_mutation(false);
            return Ok(false);
        }
        let (Some(obj), Some(mut v_obj)) = (obj, v_obj) else {
            annotate_mutation(false);
            return Err(Failure::Refused(internal_error(format!(
                "admission webhook {:?} attempted to modify the object, which is not supported for this operation",
                h.name
            ))));
        };
        let before = v_obj.clone();
        if let Err(e) = crate::patch::json_patch(&mut v_obj, &patch) {
            annotate_mutation(false);
            return Err(Failure::Refused(internal_error(e.message)));
        }
        // The patched object is decoded and defaulted again, as upstream.
        k3rs_apis::defaults::apply_defaults(inv.res.group, inv.res.kind, &mut v_obj);
        crate::strategy::custom_prepare(inv.res, &mut v_obj);
        let changed = v_obj != before;
        a.annotate(
            format!("patch.webhook.admission.k8s.io/round_{round}_index_{idx}"),
            json!({"configuration": h.configuration, "webhook": h.name, "patch": patch, "patchType": "JSONPatch"})
                .to_string(),
        );
        annotate_mutation(changed);
        *obj = if other_version {
            super::conversion::to_version(api, a.resource, v_obj, a.resource.version)
                .await
                .map_err(Failure::Refused)?
        } else {
            v_obj
        };
        Ok(changed)
    }
}

impl Default for MutatingWebhook {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Plugin for MutatingWebhook {
    fn name(&self) -> &'static str {
        "MutatingAdmissionWebhook"
    }

    async fn admit(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        self.dispatch(api, a, Some(obj), old).await
    }

    /// The chain has no mutating phase for deletes: mutating webhooks for DELETE run here.
    async fn validate(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        _obj: Option<&Value>,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        if a.operation != Operation::Delete {
            return Ok(());
        }
        self.dispatch(api, a, None, old).await
    }
}

/// The ValidatingAdmissionWebhook plugin.
pub struct ValidatingWebhook {
    source: Source,
}

impl ValidatingWebhook {
    pub fn new() -> ValidatingWebhook {
        ValidatingWebhook {
            source: Source::new(false),
        }
    }
}

impl Default for ValidatingWebhook {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Plugin for ValidatingWebhook {
    fn name(&self) -> &'static str {
        "ValidatingAdmissionWebhook"
    }

    async fn validate(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: Option<&Value>,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        if exempt(a.resource) || !from_a_client() {
            return Ok(());
        }
        let hooks = self.source.hooks(api).await?;
        if hooks.is_empty() {
            return Ok(());
        }
        let mut invocations = Vec::new();
        for hook in hooks.iter() {
            if let Some(inv) = should_call(api, hook, a, obj, old).await? {
                invocations.push(inv);
            }
        }
        if invocations.is_empty() {
            return Ok(());
        }
        let calls = invocations.iter().map(|inv| async move {
            let other_version = inv.res.version != a.resource.version;
            let convert = |v: Option<&Value>| {
                let v = v.cloned();
                async move {
                    match v {
                        Some(o) if other_version => {
                            super::conversion::to_version(api, a.resource, o, inv.res.version)
                                .await
                                .map(Some)
                        }
                        other => Ok(other),
                    }
                }
            };
            let v_obj = convert(obj).await.map_err(Failure::Refused)?;
            let v_old = convert(old).await.map_err(Failure::Refused)?;
            call(api, inv, a, v_obj.as_ref(), v_old.as_ref(), false)
                .await
                .map(|_| ())
        });
        let results = futures::future::join_all(calls).await;
        let mut first: Option<ApiError> = None;
        for (idx, (inv, r)) in invocations.iter().zip(results).enumerate() {
            let err = match r {
                Ok(()) => continue,
                Err(Failure::Calling(reason)) if inv.hook.fail_open => {
                    tracing::warn!(webhook = %inv.hook.name, %reason, "failed calling webhook, failing open");
                    a.annotate(
                        format!(
                            "failed-open.validating.webhook.admission.k8s.io/round_0_index_{idx}"
                        ),
                        inv.hook.name.clone(),
                    );
                    continue;
                }
                Err(Failure::Calling(reason)) => {
                    tracing::warn!(webhook = %inv.hook.name, %reason, "failed calling webhook, failing closed");
                    internal_error(format!(
                        "failed calling webhook {:?}: {reason}",
                        inv.hook.name
                    ))
                }
                Err(Failure::Refused(e)) => e,
            };
            if first.is_none() {
                first = Some(err);
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k3rs_auth::authn::UserInfo;

    fn attrs<'a>(
        res: &'static Resource,
        op: Operation,
        ns: Option<&'a str>,
        name: &'a str,
    ) -> Attributes<'a> {
        let mut a = Attributes::new(res, "", op, ns, name, false);
        a.user = UserInfo {
            name: "alice".into(),
            groups: vec!["devs".into()],
            ..Default::default()
        };
        a
    }

    fn rule(
        ops: &[&str],
        groups: &[&str],
        versions: &[&str],
        resources: &[&str],
        scope: &str,
    ) -> Rule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        Rule {
            operations: v(ops),
            api_groups: v(groups),
            api_versions: v(versions),
            resources: v(resources),
            scope: scope.into(),
        }
    }

    #[test]
    fn rules_match_as_upstreams() {
        let cm = registry::find("", "v1", "configmaps").unwrap();
        let ns = registry::find("", "v1", "namespaces").unwrap();
        let a = attrs(cm, Operation::Create, Some("default"), "x");
        assert!(rule_matches(
            &rule(&["CREATE"], &[""], &["v1"], &["configmaps"], "*"),
            &a,
            cm
        ));
        assert!(rule_matches(
            &rule(&["*"], &["*"], &["*"], &["*"], "Namespaced"),
            &a,
            cm
        ));
        assert!(!rule_matches(
            &rule(&["*"], &["*"], &["*"], &["*"], "Cluster"),
            &a,
            cm
        ));
        assert!(!rule_matches(
            &rule(&["UPDATE"], &[""], &["v1"], &["configmaps"], "*"),
            &a,
            cm
        ));
        assert!(!rule_matches(
            &rule(&["*"], &["apps"], &["v1"], &["configmaps"], "*"),
            &a,
            cm
        ));
        // `*` does not match subresources; `*/status` and `*/*` do.
        let mut st = attrs(cm, Operation::Update, Some("default"), "x");
        st.subresource = "status";
        assert!(!rule_matches(
            &rule(&["*"], &["*"], &["*"], &["*"], "*"),
            &st,
            cm
        ));
        assert!(rule_matches(
            &rule(&["*"], &["*"], &["*"], &["*/status"], "*"),
            &st,
            cm
        ));
        assert!(rule_matches(
            &rule(&["*"], &["*"], &["*"], &["configmaps/*"], "*"),
            &st,
            cm
        ));
        // A namespace is cluster-scoped, and its namespace is its name once it exists.
        let n = attrs(ns, Operation::Update, None, "team-a");
        assert_eq!(namespace_of(&n), "team-a");
        assert!(rule_matches(
            &rule(&["*"], &[""], &["v1"], &["namespaces"], "Cluster"),
            &n,
            ns
        ));
        assert!(!rule_matches(
            &rule(&["*"], &[""], &["v1"], &["namespaces"], "Namespaced"),
            &n,
            ns
        ));
    }

    #[test]
    fn refusals_carry_the_webhooks_status() {
        let e = refusal(
            "deny.example.com",
            Some(&json!({"code": 403, "reason": "Forbidden", "message": "no"})),
        );
        assert_eq!((e.code, e.reason.as_ref()), (403, "Forbidden"));
        assert_eq!(
            e.message,
            "admission webhook \"deny.example.com\" denied the request: no"
        );
        let e = refusal("d.e.f", Some(&json!({"code": 200})));
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "admission webhook \"d.e.f\" denied the request without explanation"
        );
        assert_eq!(
            refusal("d.e.f", Some(&json!({"reason": "Nope"}))).message,
            "admission webhook \"d.e.f\" denied the request: Nope"
        );
    }

    #[test]
    fn responses_are_verified_as_upstream() {
        let ok = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": "u", "allowed": true, "warnings": ["w"], "auditAnnotations": {"k": "v"},
                         "patchType": "JSONPatch", "patch": "W10="}});
        let a = verify("v1", "u", true, &ok).ok().unwrap();
        assert!(a.allowed);
        assert_eq!(a.patch.as_deref(), Some(&b"[]"[..]));
        assert_eq!(a.warnings, ["w"]);
        assert_eq!(
            verify("v1", "other", true, &ok).err().unwrap(),
            "expected response.uid=\"other\", got \"u\""
        );
        assert_eq!(
            verify("v1", "u", false, &ok).err().unwrap(),
            "validating webhook may not return response.patch"
        );
        let no_type = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": "u", "allowed": true, "patch": "W10="}});
        assert_eq!(
            verify("v1", "u", true, &no_type).err().unwrap(),
            "webhook returned response.patch but not response.patchType"
        );
        assert_eq!(
            verify("v1", "u", true, &json!({})).err().unwrap(),
            "webhook response was absent"
        );
    }

    #[test]
    fn reviews_carry_the_request() {
        let cm = registry::find("", "v1", "configmaps").unwrap();
        let a = attrs(cm, Operation::Create, Some("default"), "x");
        let inv = Invocation {
            hook: super::super::config::parse_configuration(
                &json!({"metadata": {"name": "c"}, "webhooks": [{"name": "a.b.c"}]}),
                false,
            )
            .remove(0),
            res: cm,
        };
        let obj = json!({"metadata": {"name": "x"}});
        let r = review("v1", "uid-1", &inv, &a, Some(&obj), None);
        assert_eq!(r["apiVersion"], "admission.k8s.io/v1");
        let req = &r["request"];
        assert_eq!(req["uid"], "uid-1");
        assert_eq!(
            req["kind"],
            json!({"group": "", "version": "v1", "kind": "ConfigMap"})
        );
        assert_eq!(req["resource"]["resource"], "configmaps");
        assert_eq!(req["namespace"], "default");
        assert_eq!(req["operation"], "CREATE");
        assert_eq!(
            req["userInfo"],
            json!({"username": "alice", "groups": ["devs"]})
        );
        assert_eq!(req["object"], obj);
        assert_eq!(req["oldObject"], Value::Null);
        assert_eq!(req["dryRun"], false);
        assert_eq!(req["options"]["kind"], "CreateOptions");
        assert!(req.get("subResource").is_none());
    }

    #[test]
    fn dry_runs_reach_only_webhooks_without_side_effects() {
        let hook = |se: &str| {
            super::super::config::parse_configuration(
                &json!({"metadata": {"name": "c"}, "webhooks": [{"name": "a.b.c", "sideEffects": se}]}),
                false,
            )
            .remove(0)
        };
        assert!(dry_run_allowed(&hook("None"), true).is_ok());
        assert!(dry_run_allowed(&hook("NoneOnDryRun"), true).is_ok());
        assert!(dry_run_allowed(&hook("Some"), false).is_ok());
        match dry_run_allowed(&hook("Some"), true) {
            Err(Failure::Refused(e)) => {
                assert_eq!((e.code, e.reason.as_ref()), (400, "BadRequest"));
                assert_eq!(
                    e.message,
                    "admission webhook \"a.b.c\" does not support dry run"
                );
            }
            _ => panic!("a dry run must not reach a webhook with side effects"),
        }
        let nil = super::super::config::parse_configuration(
            &json!({"metadata": {"name": "c"}, "webhooks": [{"name": "a.b.c"}]}),
            false,
        )
        .remove(0);
        assert!(
            matches!(dry_run_allowed(&nil, true), Err(Failure::Calling(r)) if r == "Webhook SideEffects is nil")
        );
    }

    #[test]
    fn admission_configuration_objects_are_exempt() {
        let mwc = registry::find(
            "admissionregistration.k8s.io",
            "v1",
            "mutatingwebhookconfigurations",
        )
        .unwrap();
        assert!(exempt(mwc));
        assert!(!exempt(registry::find("", "v1", "pods").unwrap()));
    }
}
