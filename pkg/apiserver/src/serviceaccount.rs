//! Service-account tokens on the API side: the `serviceaccounts/<name>/token` subresource
//! (TokenRequest), authenticating bearer tokens that are our JWTs (bound and legacy), and the
//! OIDC discovery documents. Signing and the pure checks live in `k3rs_auth::serviceaccount`;
//! this module adds what needs the datastore: the bound objects must exist with the claimed UIDs.

use std::sync::Arc;

use serde_json::{json, Value};

use k3rs_apis::registry::{self, Resource};
use k3rs_auth::authn::UserInfo;
use k3rs_auth::serviceaccount::{
    BoundToken, ObjectRef, TokenIssuer, EXPIRATION_EXTENSION_SECONDS, LEEWAY_SECONDS,
    WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS,
};

use crate::object::{meta, meta_str, parse_time};
use crate::status::{ApiError, ApiResult};
use crate::store::Api;

/// Minimum token lifetime (upstream's `MinTokenAgeSec`).
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// Default lifetime of a requested token.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;

/// The server's token issuer, available once its key is loaded or generated. A first start
/// generates the RSA key in the background so the server is ready at once; whatever needs the
/// key (TokenRequest, service-account authentication, OIDC discovery, the token controller) waits
/// for it.
#[derive(Clone)]
pub struct IssuerCell(tokio::sync::watch::Receiver<Option<Result<Arc<TokenIssuer>, String>>>);

impl IssuerCell {
    /// An issuer that is already there.
    pub fn ready(issuer: Arc<TokenIssuer>) -> IssuerCell {
        IssuerCell(tokio::sync::watch::channel(Some(Ok(issuer))).1)
    }

    /// Loads the key at `key_path` now if it exists; otherwise generates it on a blocking thread.
    /// Bad settings (issuer URL, unreadable key) are errors at once.
    pub fn load_or_generate(
        key_path: std::path::PathBuf,
        issuer: &str,
        api_audiences: Vec<String>,
    ) -> Result<IssuerCell, k3rs_auth::Error> {
        k3rs_auth::serviceaccount::check_issuer(issuer)?;
        if let Some(key) = k3rs_auth::serviceaccount::SigningKey::load(&key_path)? {
            return Ok(Self::ready(Arc::new(TokenIssuer::new(
                key,
                issuer,
                api_audiences,
            )?)));
        }
        let (tx, rx) = tokio::sync::watch::channel(None);
        let issuer = issuer.to_string();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let out = k3rs_auth::serviceaccount::SigningKey::generate(&key_path)
                .and_then(|key| TokenIssuer::new(key, &issuer, api_audiences))
                .map(Arc::new)
                .map_err(|e| e.to_string());
            match &out {
                Ok(i) => {
                    tracing::info!(kid = %i.key().kid(), path = %key_path.display(), ms = started.elapsed().as_millis() as u64, "generated the service-account signing key")
                }
                Err(e) => tracing::error!(error = %e, "generating the service-account signing key"),
            }
            let _ = tx.send(Some(out));
        });
        Ok(IssuerCell(rx))
    }

    /// The issuer, waiting for its key if needed.
    pub async fn get(&self) -> Result<Arc<TokenIssuer>, String> {
        let mut rx = self.0.clone();
        let v = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| "the service-account key generator stopped".to_string())?;
        match &*v {
            Some(r) => r.clone(),
            None => Err("the service-account key is not available".into()),
        }
    }
}

/// Service-account token settings of the server.
pub struct ServiceAccounts {
    pub issuer: IssuerCell,
    /// The `jwks_uri` of the discovery document (`https://<advertise>:<port>/openid/v1/jwks`,
    /// as upstream derives it from the external address).
    pub jwks_uri: String,
    /// `--service-account-max-token-expiration` in seconds; 0 for no limit.
    pub max_expiration_seconds: i64,
    /// `--service-account-extend-token-expiration` (upstream default true).
    pub extend_expiration: bool,
}

fn res(plural: &str) -> ApiResult<&'static Resource> {
    registry::find("", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))
}

fn uid(obj: &Value) -> String {
    meta_str(obj, "uid").unwrap_or_default().to_string()
}

/// 422 for a TokenRequest, as upstream's `NewInvalid(TokenRequest.authentication.k8s.io, name, errs)`.
fn invalid(name: &str, field: &str, value: Value, detail: &str) -> ApiError {
    let shown = match &value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    let cause = format!("Invalid value: {shown}: {detail}");
    ApiError::new(
        422,
        "Invalid",
        format!("TokenRequest.authentication.k8s.io \"{name}\" is invalid: {field}: {cause}"),
    )
    .with_details(json!({
        "name": name,
        "group": "authentication.k8s.io",
        "kind": "TokenRequest",
        "causes": [{"reason": "FieldValueInvalid", "message": cause, "field": field}],
    }))
}

/// 409 on `<Kind> "<name>"` (upstream's `NewConflict` with the kind as resource).
fn conflict(group: &str, kind: &str, name: &str, why: &str) -> ApiError {
    let gr = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let mut details = json!({"name": name, "kind": kind});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    ApiError::new(
        409,
        "Conflict",
        format!("Operation cannot be fulfilled on {gr} \"{name}\": {why}"),
    )
    .with_details(details)
}

/// Whether an object was marked deleted before `now - leeway` (upstream treats such objects as
/// gone for token validation).
fn deleted_before(obj: &Value, cutoff: i64) -> bool {
    meta(obj)
        .and_then(|m| m.get("deletionTimestamp"))
        .and_then(Value::as_str)
        .and_then(parse_time)
        .is_some_and(|t| t < cutoff)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl ServiceAccounts {
    /// `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`: issues a bound token, as
    /// upstream's `TokenREST.Create`. Returns the TokenRequest with `status` filled in.
    pub async fn token_request(
        &self,
        api: &Api,
        ns: &str,
        name: &str,
        mut req: Value,
    ) -> ApiResult<Value> {
        if !req.is_object() {
            return Err(ApiError::bad_request(
                "the body must be a TokenRequest object",
            ));
        }
        match (
            req.get("apiVersion").and_then(Value::as_str),
            req.get("kind").and_then(Value::as_str),
        ) {
            (None | Some("authentication.k8s.io/v1"), None | Some("TokenRequest")) => {}
            (av, k) => {
                return Err(ApiError::bad_request(format!(
                    "the body is a {}/{}, expected authentication.k8s.io/v1 TokenRequest",
                    av.unwrap_or(""),
                    k.unwrap_or("")
                )))
            }
        }
        if let Some(n) = meta_str(&req, "name").filter(|n| !n.is_empty()) {
            if n != name {
                return Err(invalid(
                    name,
                    "metadata.name",
                    json!(n),
                    "must match the service account name if specified",
                ));
            }
        }
        if let Some(n) = meta_str(&req, "namespace").filter(|n| !n.is_empty()) {
            if n != ns {
                return Err(invalid(
                    name,
                    "metadata.namespace",
                    json!(n),
                    "must match the service account namespace if specified",
                ));
            }
        }
        let issuer = self.issuer.get().await.map_err(ApiError::internal)?;
        let sa = api.get(res("serviceaccounts")?, Some(ns), name).await?;
        let sa_uid = uid(&sa);
        if let Some(u) = meta_str(&req, "uid").filter(|u| !u.is_empty()) {
            if u != sa_uid {
                return Err(conflict(
                    "authentication.k8s.io",
                    "TokenRequest",
                    name,
                    &format!("the UID in the token request ({u}) does not match the UID of the service account ({sa_uid})"),
                ));
            }
        }
        let spec = req.get("spec").cloned().unwrap_or(json!({}));
        let audiences: Vec<String> = match spec.get("audiences") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| ApiError::bad_request("spec.audiences must be a list of strings"))?,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "spec.audiences must be a list of strings",
                ))
            }
        };
        let audiences = if audiences.is_empty() {
            issuer.api_audiences.clone()
        } else {
            audiences
        };
        let mut expiration = match spec.get("expirationSeconds") {
            None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
            Some(v) => v.as_i64().ok_or_else(|| {
                ApiError::bad_request("spec.expirationSeconds must be an integer")
            })?,
        };
        if expiration < MIN_EXPIRATION_SECONDS {
            return Err(invalid(
                "",
                "spec.expirationSeconds",
                json!(expiration),
                "may not specify a duration less than 10 minutes",
            ));
        }
        if expiration > 1i64 << 32 {
            return Err(invalid(
                "",
                "spec.expirationSeconds",
                json!(expiration),
                "may not specify a duration larger than 2^32 seconds",
            ));
        }
        let (mut pod, mut node, mut secret) = (None, None, None);
        if let Some(r) = spec.get("boundObjectRef").filter(|r| !r.is_null()) {
            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
            let av = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let rname = r.get("name").and_then(Value::as_str).unwrap_or("");
            let ruid = r.get("uid").and_then(Value::as_str).unwrap_or("");
            let (group, _version) = av.rsplit_once('/').unwrap_or(("", av));
            let found_uid = match (group, kind) {
                ("", "Pod") => {
                    let p = api.get(res("pods")?, Some(ns), rname).await?;
                    // Upstream's ServiceAccount admission sets an empty serviceAccountName to
                    // "default"; k3rs has no admission chain, so an empty one means that.
                    let pod_sa = p
                        .pointer("/spec/serviceAccountName")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .unwrap_or("default");
                    if pod_sa != name {
                        return Err(ApiError::bad_request(format!(
                            "cannot bind token for serviceaccount {name:?} to pod running with different serviceaccount name."
                        )));
                    }
                    if let Some(n) = p
                        .pointer("/spec/nodeName")
                        .and_then(Value::as_str)
                        .filter(|n| !n.is_empty())
                    {
                        let nuid = match api.get(res("nodes")?, None, n).await {
                            Ok(o) => uid(&o),
                            Err(e) if e.code == 404 => String::new(),
                            Err(e) => return Err(e),
                        };
                        node = Some(ObjectRef {
                            name: n.to_string(),
                            uid: nuid,
                        });
                    }
                    let u = uid(&p);
                    pod = Some(ObjectRef {
                        name: rname.to_string(),
                        uid: u.clone(),
                    });
                    u
                }
                ("", "Node") => {
                    let n = api.get(res("nodes")?, None, rname).await?;
                    let u = uid(&n);
                    node = Some(ObjectRef {
                        name: rname.to_string(),
                        uid: u.clone(),
                    });
                    u
                }
                ("", "Secret") => {
                    let s = api.get(res("secrets")?, Some(ns), rname).await?;
                    let u = uid(&s);
                    secret = Some(ObjectRef {
                        name: rname.to_string(),
                        uid: u.clone(),
                    });
                    u
                }
                _ => {
                    let gv = if group.is_empty() {
                        format!("/{av}")
                    } else {
                        av.to_string()
                    };
                    return Err(ApiError::bad_request(format!(
                        "cannot bind token to object of type {gv}, Kind={kind}"
                    )));
                }
            };
            if !ruid.is_empty() && ruid != found_uid {
                return Err(conflict(
                    group,
                    kind,
                    rname,
                    &format!("the UID in the bound object reference ({ruid}) does not match the UID in record. The object might have been deleted and then recreated"),
                ));
            }
        }
        if self.max_expiration_seconds > 0 && expiration > self.max_expiration_seconds {
            expiration = self.max_expiration_seconds;
        }
        let mut token_exp = expiration;
        let mut warn_after = 0;
        if self.extend_expiration
            && pod.is_some()
            && expiration == WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS
            && audiences.iter().all(|a| issuer.api_audiences.contains(a))
        {
            warn_after = expiration;
            token_exp = EXPIRATION_EXTENSION_SECONDS;
        }
        let now_t = chrono::Utc::now();
        let (token, _) = issuer
            .issue(
                &BoundToken {
                    namespace: ns,
                    service_account: ObjectRef {
                        name: name.to_string(),
                        uid: sa_uid.clone(),
                    },
                    audiences: &audiences,
                    expiration_seconds: token_exp,
                    warn_after_seconds: warn_after,
                    pod,
                    secret,
                    node,
                },
                now_t.timestamp(),
            )
            .map_err(|e| ApiError::internal(format!("failed to generate token: {e}")))?;
        let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let expires = now_t
            .checked_add_signed(chrono::Duration::seconds(expiration))
            .unwrap_or(now_t);
        let m = crate::object::meta_mut(&mut req);
        m.insert("name".into(), json!(name));
        m.insert("namespace".into(), json!(ns));
        m.insert("uid".into(), json!(sa_uid));
        m.insert("creationTimestamp".into(), json!(fmt(now_t)));
        req["apiVersion"] = json!("authentication.k8s.io/v1");
        req["kind"] = json!("TokenRequest");
        let mut spec = spec;
        if !spec.is_object() {
            spec = json!({});
        }
        spec["audiences"] = json!(audiences);
        spec["expirationSeconds"] = json!(expiration);
        if spec.get("boundObjectRef").is_some_and(Value::is_null) {
            if let Some(o) = spec.as_object_mut() {
                o.remove("boundObjectRef");
            }
        }
        req["spec"] = spec;
        req["status"] = json!({"token": token, "expirationTimestamp": fmt(expires)});
        Ok(req)
    }

    /// Authenticates a bearer token that is one of our JWTs; `None` when it is not (another
    /// authenticator may know it). A refused token is logged with the reason and answered 401.
    pub async fn authenticate(&self, api: &Api, token: &str) -> Option<ApiResult<UserInfo>> {
        let issuer = match self.issuer.get().await {
            Ok(i) => i,
            Err(e) => return Some(Err(ApiError::internal(e))),
        };
        if !issuer.is_ours(token) {
            return None;
        }
        Some(match self.check(&issuer, api, token).await {
            Ok(u) => Ok(u),
            Err(why) => {
                tracing::debug!(reason = %why, "service-account token refused");
                Err(ApiError::unauthorized())
            }
        })
    }

    async fn check(
        &self,
        issuer: &TokenIssuer,
        api: &Api,
        token: &str,
    ) -> Result<UserInfo, String> {
        let now = now();
        let v = issuer.validate(token, now).map_err(|e| e.0)?;
        let cutoff = now - LEEWAY_SECONDS;
        let get = |plural: &'static str, ns: Option<String>, name: String| async move {
            let r = res(plural).map_err(|e| e.message)?;
            api.get(r, ns.as_deref(), &name)
                .await
                .map_err(|e| format!("{plural} {name:?}: {}", e.message))
        };
        let ns = Some(v.namespace.clone());
        if let Some(secret_name) = &v.legacy_secret {
            let s = get("secrets", ns.clone(), secret_name.clone()).await?;
            if meta(&s).is_some_and(|m| m.contains_key("deletionTimestamp")) {
                return Err("Token has been invalidated".into());
            }
            let stored = s
                .pointer("/data/token")
                .and_then(Value::as_str)
                .and_then(|t| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(t).ok()
                })
                .unwrap_or_default();
            if !constant_time_eq(&stored, token.as_bytes()) {
                return Err("Token does not match server's copy".into());
            }
            if s.pointer("/metadata/labels/kubernetes.io~1legacy-token-invalid-since")
                .and_then(Value::as_str)
                .is_some_and(|l| !l.is_empty())
            {
                return Err(format!(
                    "the token in secret {}/{secret_name} has been marked invalid",
                    v.namespace
                ));
            }
            let sa = get("serviceaccounts", ns, v.service_account.name.clone()).await?;
            if meta(&sa).is_some_and(|m| m.contains_key("deletionTimestamp")) {
                return Err("ServiceAccount has been deleted".into());
            }
            if uid(&sa) != v.service_account.uid {
                return Err("ServiceAccount UID does not match claim".into());
            }
            return Ok(v.user_info());
        }
        let sa = get(
            "serviceaccounts",
            ns.clone(),
            v.service_account.name.clone(),
        )
        .await?;
        if uid(&sa) != v.service_account.uid {
            return Err("service account UID does not match claim".into());
        }
        if deleted_before(&sa, cutoff) {
            return Err("service account has been deleted".into());
        }
        let mut bound = Vec::new();
        if let Some(s) = &v.secret {
            bound.push(("secrets", ns.clone(), s));
        }
        if let Some(p) = &v.pod {
            bound.push(("pods", ns.clone(), p));
        }
        if let (Some(n), None) = (&v.node, &v.pod) {
            bound.push(("nodes", None, n));
        }
        for (plural, ns, r) in bound {
            let o = get(plural, ns, r.name.clone())
                .await
                .map_err(|e| format!("service account token has been invalidated ({e})"))?;
            if uid(&o) != r.uid {
                return Err(format!("{plural} UID does not match the token's claim"));
            }
            if deleted_before(&o, cutoff) {
                return Err("service account token has been invalidated".into());
            }
        }
        Ok(v.user_info())
    }

    /// The OIDC discovery documents: (content type, body) for `/.well-known/openid-configuration`
    /// and `/openid/v1/jwks` (also with a trailing slash, as upstream's role allows).
    pub async fn discovery(&self, path: &str) -> Option<ApiResult<(&'static str, Value)>> {
        let p = path.trim_end_matches('/');
        if p != k3rs_auth::serviceaccount::OPENID_CONFIG_PATH
            && p != k3rs_auth::serviceaccount::JWKS_PATH
        {
            return None;
        }
        let issuer = match self.issuer.get().await {
            Ok(i) => i,
            Err(e) => return Some(Err(ApiError::internal(e))),
        };
        Some(Ok(if p == k3rs_auth::serviceaccount::JWKS_PATH {
            ("application/jwk-set+json", issuer.jwks())
        } else {
            (
                "application/json",
                issuer.openid_configuration(&self.jwks_uri),
            )
        }))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_cutoff_and_compare() {
        let obj = json!({"metadata": {"deletionTimestamp": "2020-01-01T00:00:00Z"}});
        assert!(deleted_before(&obj, now()));
        assert!(!deleted_before(&json!({"metadata": {}}), now()));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        let e = invalid(
            "",
            "spec.expirationSeconds",
            json!(10),
            "may not specify a duration less than 10 minutes",
        );
        assert_eq!(e.code, 422);
        assert_eq!(e.message, "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 10: may not specify a duration less than 10 minutes");
    }
}
