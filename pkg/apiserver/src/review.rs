//! The review APIs: objects that are evaluated when created and never stored.
//! - authentication.k8s.io/v1 `SelfSubjectReview` (`kubectl auth whoami`) and `TokenReview`
//!   (validates a token with the server's own authenticators);
//! - authorization.k8s.io/v1 `SelfSubjectAccessReview` (`kubectl auth can-i`),
//!   `SelfSubjectRulesReview` (`kubectl auth can-i --list`), `SubjectAccessReview` and
//!   `LocalSubjectAccessReview` (ask the authorizer chain about any user).

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{header, Request, Response};
use serde_json::{json, Map, Value};

use k3rs_apis::registry::Resource;
use k3rs_auth::authn::UserInfo;
use k3rs_auth::rbac::{Attributes, Decision, PolicyRule, MASTERS};

use crate::handler::{decode, respond_value, Body, Handler};
use crate::request::ResourceRequest;
use crate::status::{ApiError, ApiResult};

/// A JSON object of `(name, value, omit)` fields, without those whose `omit` is true (Go's
/// `omitempty`).
fn object_omitting(fields: Vec<(&str, Value, bool)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter(|(_, _, omit)| !omit)
            .map(|(k, v, _)| (k.to_string(), v))
            .collect(),
    )
}

fn user_json(u: &UserInfo) -> Value {
    object_omitting(vec![
        ("username", json!(u.name), false),
        ("uid", json!(u.uid), u.uid.is_empty()),
        ("groups", json!(u.groups), false),
        ("extra", json!(u.extra), u.extra.is_empty()),
    ])
}

fn invalid(kind: &str, field: &str, value: &str, msg: &str) -> ApiError {
    let group = if kind.contains("Review") && !matches!(kind, "TokenReview" | "SelfSubjectReview") {
        "authorization.k8s.io"
    } else {
        "authentication.k8s.io"
    };
    ApiError::new(
        422,
        "Invalid",
        format!("{kind}.{group} \"\" is invalid: {field}: Invalid value: {value:?}: {msg}"),
    )
    .with_details(json!({"kind": kind, "group": group, "causes": [
        {"reason": "FieldValueInvalid", "message": format!("Invalid value: {value:?}: {msg}"), "field": field}]}))
}

fn str_of(v: &Value, ptr: &str) -> String {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Request attributes from a SubjectAccessReview spec (resource or non-resource).
fn spec_attributes(kind: &str, spec: &Value, user: UserInfo) -> ApiResult<Attributes> {
    let ra = spec.get("resourceAttributes").filter(|v| v.is_object());
    let nra = spec.get("nonResourceAttributes").filter(|v| v.is_object());
    match (ra, nra) {
        (None, None) => Err(invalid(
            kind,
            "spec.resourceAttributes",
            "null",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        (Some(_), Some(_)) => Err(invalid(
            kind,
            "spec.nonResourceAttributes",
            "{}",
            "cannot be specified in combination with resourceAttributes",
        )),
        (Some(ra), None) => {
            let version = str_of(ra, "/version");
            Ok(Attributes {
                user,
                verb: str_of(ra, "/verb"),
                resource_request: true,
                api_group: str_of(ra, "/group"),
                api_version: if version.is_empty() {
                    "*".into()
                } else {
                    version
                },
                resource: str_of(ra, "/resource"),
                subresource: str_of(ra, "/subresource"),
                namespace: str_of(ra, "/namespace"),
                name: str_of(ra, "/name"),
                field_selector: str_of(ra, "/fieldSelector/rawSelector"),
                ..Default::default()
            })
        }
        (None, Some(nra)) => Ok(Attributes {
            user,
            verb: str_of(nra, "/verb"),
            path: str_of(nra, "/path"),
            ..Default::default()
        }),
    }
}

fn access_status(h: &Handler, a: &Attributes) -> Value {
    let (d, reason) = h.authz.authorize(a);
    let mut st = Map::new();
    st.insert("allowed".into(), json!(d == Decision::Allow));
    if d == Decision::Deny {
        st.insert("denied".into(), json!(true));
    }
    if !reason.is_empty() {
        st.insert("reason".into(), json!(reason));
    }
    Value::Object(st)
}

fn rules_status(h: &Handler, user: &UserInfo, ns: &str) -> Value {
    let (mut rules, mut errors) = h.authz.rules_for(user, ns);
    // The Node authorizer cannot enumerate what it allows: the list is incomplete, as upstream.
    let node = k3rs_auth::node::node_identity(user).is_some();
    if node {
        errors.insert(
            0,
            "node authorizer does not support user rule resolution".to_string(),
        );
    }
    if user.groups.iter().any(|g| g == MASTERS) {
        rules.insert(0, PolicyRule::resource(&["*"], &["*"], &["*"]));
        rules.insert(1, PolicyRule::urls(&["*"], &["*"]));
    }
    let resource_rules: Vec<Value> = rules
        .iter()
        .filter(|r| !r.resources.is_empty())
        .map(|r| {
            object_omitting(vec![
                ("verbs", json!(r.verbs), false),
                ("apiGroups", json!(r.api_groups), r.api_groups.is_empty()),
                ("resources", json!(r.resources), false),
                (
                    "resourceNames",
                    json!(r.resource_names),
                    r.resource_names.is_empty(),
                ),
            ])
        })
        .collect();
    let non_resource_rules: Vec<Value> = rules
        .iter()
        .filter(|r| !r.non_resource_urls.is_empty())
        .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
        .collect();
    let mut st = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": node,
    });
    if !errors.is_empty() {
        st["evaluationError"] = json!(errors.join(", "));
    }
    st
}

fn extra_of(spec: &Value) -> BTreeMap<String, Vec<String>> {
    spec.get("extra")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Serves a create of a review kind (other verbs: 405).
pub async fn serve(
    h: &Handler,
    req: Request<Bytes>,
    res: &'static Resource,
    rr: &ResourceRequest,
    user: &UserInfo,
) -> ApiResult<Response<Body>> {
    if rr.verb != "create" || rr.name.is_some() || rr.subresource.is_some() {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({} {})",
            req.method(),
            res.plural
        )));
    }
    if res.namespaced != rr.namespace.is_some() {
        return Err(ApiError::not_found_path());
    }
    let fmt = crate::handler::negotiate(
        req.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    )?;
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let mut body = decode(req.body(), ct)?;
    if !body.is_object() {
        return Err(ApiError::bad_request("the object must be a JSON object"));
    }
    crate::strategy::check_type(res, &mut body)?;
    let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    if !spec.is_object() {
        return Err(ApiError::bad_request(format!(
            "{}: spec must be an object",
            res.kind
        )));
    }
    let status = match res.plural {
        "selfsubjectreviews" => json!({"userInfo": user_json(user)}),
        "tokenreviews" => {
            let token = str_of(&spec, "/token");
            if token.is_empty() {
                return Err(invalid(
                    res.kind,
                    "spec.token",
                    "",
                    "token must not be empty",
                ));
            }
            match h.authenticate_token(&token).await {
                Some(Err(e)) => return Err(e),
                Some(Ok(u)) => {
                    // The token was checked against the server's API audiences; asked about
                    // others, the answer is the overlap — none means not authenticated (upstream
                    // checks a token against the requested audiences themselves; a token for an
                    // audience the server does not serve is refused here).
                    let requested: Vec<String> = spec
                        .get("audiences")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    if requested.is_empty() {
                        json!({"authenticated": true, "user": user_json(&u)})
                    } else {
                        let api = h
                            .service_accounts
                            .issuer
                            .get()
                            .await
                            .map(|i| i.api_audiences.clone())
                            .map_err(|e| {
                                ApiError::internal(format!("service-account issuer: {e}"))
                            })?;
                        let overlap: Vec<String> =
                            requested.into_iter().filter(|a| api.contains(a)).collect();
                        if overlap.is_empty() {
                            json!({"user": {}, "error": "token audiences is invalid for the target audiences"})
                        } else {
                            json!({"authenticated": true, "user": user_json(&u), "audiences": overlap})
                        }
                    }
                }
                None => json!({"user": {}, "error": "invalid bearer token"}),
            }
        }
        "selfsubjectaccessreviews" => {
            access_status(h, &spec_attributes(res.kind, &spec, user.clone())?)
        }
        "selfsubjectrulesreviews" => {
            let ns = str_of(&spec, "/namespace");
            if ns.is_empty() {
                return Err(ApiError::bad_request("no namespace on request"));
            }
            rules_status(h, user, &ns)
        }
        "subjectaccessreviews" | "localsubjectaccessreviews" => {
            let subject = UserInfo {
                name: str_of(&spec, "/user"),
                uid: str_of(&spec, "/uid"),
                groups: spec
                    .get("groups")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                extra: extra_of(&spec),
            };
            if subject.name.is_empty() && subject.groups.is_empty() {
                return Err(invalid(
                    res.kind,
                    "spec.user",
                    "",
                    "at least one of user or group must be specified",
                ));
            }
            let a = spec_attributes(res.kind, &spec, subject)?;
            if res.plural == "localsubjectaccessreviews" {
                let ns = rr.namespace.as_deref().unwrap_or("");
                if !a.resource_request {
                    return Err(invalid(
                        res.kind,
                        "spec.nonResourceAttributes",
                        "{}",
                        "disallowed on this kind of request",
                    ));
                }
                if a.namespace != ns {
                    return Err(ApiError::bad_request(format!(
                        "spec.resourceAttributes.namespace must match namespace: {ns}"
                    )));
                }
                if let Some(m) = body.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.insert("namespace".into(), json!(ns));
                }
            }
            access_status(h, &a)
        }
        other => {
            return Err(ApiError::not_implemented(format!(
                "review kind {other} is not served"
            )))
        }
    };
    if body.get("metadata").is_none_or(|m| !m.is_object()) {
        body["metadata"] = json!({});
    }
    body["status"] = status;
    Ok(respond_value(201, &body, fmt))
}
