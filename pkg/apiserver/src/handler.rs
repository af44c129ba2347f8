//! Request handling: authentication, authorization, routing, decoding and encoding.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{json, Value};

use k3rs_apis::registry::{self, Resource};
use k3rs_apis::selectors::{FieldSelector, LabelSelector};
use k3rs_auth::authn::{TokenFile, UserInfo};
use k3rs_auth::rbac::{ANONYMOUS, UNAUTHENTICATED};

use crate::discovery;
use crate::fieldmanager::Track;
use crate::fieldvalidation::Directive;
use crate::metrics::Metrics;
use crate::request::{parse_query, route, ResourceRequest, Route};
use crate::status::{ApiError, ApiResult};
use crate::store::{Api, DeleteParams, ListParams, WatchParams};

pub type Body = BoxBody<Bytes, Infallible>;

/// Bodies over this size are refused with 413, as upstream.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Requests served at once (watches excluded), as upstream's `--max-requests-inflight` plus
/// `--max-mutating-requests-inflight`; beyond it clients get 429 and retry.
pub const MAX_INFLIGHT: usize = 600;

/// Everything a request handler needs.
pub struct Handler {
    pub api: Api,
    pub tokens: TokenFile,
    /// Service-account tokens: TokenRequest, JWT authentication, OIDC discovery.
    pub service_accounts: Arc<crate::serviceaccount::ServiceAccounts>,
    pub metrics: Arc<Metrics>,
    pub ready: AtomicBool,
    /// host:port clients use, for `/api`'s serverAddressByClientCIDRs.
    pub server_address: String,
    /// Requests being served (watches excluded).
    pub inflight: std::sync::atomic::AtomicUsize,
    /// The authorizer chain and its state.
    pub authz: Arc<crate::authz::Authorizer>,
    /// Where requests without credentials are served as `system:anonymous`.
    pub anonymous: Anonymous,
}

/// Which requests without credentials are authenticated as `system:anonymous` (group
/// `system:unauthenticated`) and then authorized like any other; the rest get 401.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Anonymous {
    /// No anonymous requests (upstream `--anonymous-auth=false`, k3s' default): always 401.
    Disabled,
    /// Only on the health and version paths (upstream's AuthenticationConfiguration `anonymous`
    /// with path conditions): RBAC's `system:public-info-viewer` then allows them.
    #[default]
    PublicPaths,
    /// On every path (upstream's default `--anonymous-auth=true`): RBAC decides, so most paths
    /// answer 403.
    All,
}

impl Anonymous {
    pub fn allows(self, path: &str) -> bool {
        match self {
            Anonymous::Disabled => false,
            Anonymous::PublicPaths => matches!(
                path,
                "/healthz" | "/livez" | "/readyz" | "/version" | "/version/"
            ),
            Anonymous::All => true,
        }
    }
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);

/// Admits a request if fewer than `limit` are in flight; `None` means "answer 429".
fn try_admit(counter: &std::sync::atomic::AtomicUsize, limit: usize) -> Option<InFlight<'_>> {
    let before = counter.fetch_add(1, Ordering::SeqCst);
    let guard = InFlight(counter);
    (before < limit).then_some(guard)
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Paths anyone may read, authenticated or not (upstream's `system:public-info-viewer`).
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/version" | "/version/" | "/healthz" | "/livez" | "/readyz"
    ) || ["/healthz/", "/livez/", "/readyz/"]
        .iter()
        .any(|p| path.starts_with(p))
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Kubernetes protobuf: `k8s\0` + runtime.Unknown envelope (see `k3rs_apis::protobuf`).
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// The response format the client accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Json,
    Yaml,
    /// Only for objects whose kind has a protobuf message.
    Protobuf,
}

/// Picks JSON or YAML from `Accept`; media types asking for a conversion (`;as=Table`) or for
/// protobuf are skipped. Nothing acceptable → 406.
pub fn negotiate(accept: Option<&str>) -> ApiResult<Format> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(Format::Json);
    };
    for part in accept.split(',') {
        let mut it = part.split(';');
        let mt = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let converts = it.any(|p| p.trim().starts_with("as="));
        if converts {
            continue;
        }
        match mt.as_str() {
            "application/json" | "application/*" | "*/*" | "application/json-patch+json" => {
                return Ok(Format::Json)
            }
            "application/yaml" => return Ok(Format::Yaml),
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(
        "only the following media types are accepted: application/json, application/yaml",
    ))
}

/// The format of an error Status: the first media type of `Accept` this server can write
/// without a conversion, as upstream's `ErrorNegotiated`; JSON when there is none.
pub fn error_format(accept: Option<&str>) -> Format {
    for part in accept.unwrap_or("").split(',') {
        let mut it = part.split(';');
        let mt = it.next().unwrap_or("").trim().to_ascii_lowercase();
        if it.any(|p| p.trim().starts_with("as=")) {
            continue;
        }
        match mt.as_str() {
            "application/json" | "application/*" | "*/*" => return Format::Json,
            "application/yaml" => return Format::Yaml,
            PROTOBUF if k3rs_apis::protobuf::available() => return Format::Protobuf,
            _ => {}
        }
    }
    Format::Json
}

pub(crate) fn respond_value(code: u16, v: &Value, fmt: Format) -> Response<Body> {
    let (bytes, ct) = match fmt {
        Format::Json => (
            serde_json::to_vec(v).unwrap_or_default(),
            "application/json",
        ),
        Format::Protobuf => match k3rs_apis::protobuf::encode(v) {
            Ok(b) => (b, PROTOBUF),
            // An object the schema cannot hold (a stored value of the wrong type): the client
            // reads it as JSON, which protobuf clients accept too (they decode by Content-Type).
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode the response as protobuf; answering JSON");
                (
                    serde_json::to_vec(v).unwrap_or_default(),
                    "application/json",
                )
            }
        },
        Format::Yaml => (
            serde_yaml::to_string(v).unwrap_or_default().into_bytes(),
            "application/yaml",
        ),
    };
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    resp
}

pub fn error_response(e: &ApiError) -> Response<Body> {
    error_response_as(e, Format::Json)
}

/// An error Status in the given format.
pub fn error_response_as(e: &ApiError, fmt: Format) -> Response<Body> {
    let mut resp = respond_value(e.code, &e.to_status(), fmt);
    if let Some(secs) = e.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    if e.code == 401 {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"kubernetes-master\""),
        );
    }
    resp
}

/// Serves `/openapi/v2` and `/openapi/v3[/<group version>]` (see [`crate::openapi`]).
fn openapi_response(
    req: &Request<Bytes>,
    path: &str,
    query: &std::collections::HashMap<String, String>,
) -> ApiResult<Response<Body>> {
    use crate::openapi::Served;
    let h = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    let served = crate::openapi::service().serve(
        path,
        query.get("hash").map(String::as_str),
        h(header::ACCEPT),
        h(header::IF_NONE_MATCH),
        h(header::ACCEPT_ENCODING),
    );
    let caching = |resp: &mut Response<Body>, etag: &str, immutable: bool| {
        let hs = resp.headers_mut();
        hs.insert(header::VARY, HeaderValue::from_static("Accept"));
        if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
            hs.insert(header::ETAG, v);
        }
        if immutable {
            hs.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, immutable"),
            );
            let expires = chrono::Utc::now() + chrono::Duration::days(365);
            if let Ok(v) =
                HeaderValue::from_str(&expires.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
            {
                hs.insert(header::EXPIRES, v);
            }
        }
    };
    match served {
        Served::Ok {
            body,
            content_type,
            etag,
            immutable,
            gzip,
        } => {
            let mut resp = Response::new(full(body));
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            if gzip {
                resp.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            caching(&mut resp, &etag, immutable);
            Ok(resp)
        }
        Served::NotModified { etag, immutable } => {
            let mut resp = Response::new(full(Bytes::new()));
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            caching(&mut resp, &etag, immutable);
            Ok(resp)
        }
        Served::Redirect(to) => {
            let mut resp = Response::new(full(Bytes::new()));
            *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
            if let Ok(v) = HeaderValue::from_str(&to) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            Ok(resp)
        }
        Served::NotAcceptable(msg) => Err(ApiError::not_acceptable(msg)),
        Served::NotFound => Err(ApiError::not_found_path()),
    }
}

fn text(code: u16, body: String) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

pub(crate) fn decode(bytes: &[u8], content_type: Option<&str>) -> ApiResult<Value> {
    let ct = content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "application/json" | "" | "application/json-patch+json" | "application/merge-patch+json" => {
            serde_json::from_slice(bytes).map_err(|e| {
                ApiError::bad_request(format!("the body of the request could not be decoded as JSON: {e}"))
            })
        }
        // A repeated key keeps its last value, as upstream's YAML-to-JSON conversion.
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            crate::fieldvalidation::parse_yaml(bytes).map_err(|e| {
                ApiError::bad_request(format!("the body of the request could not be decoded as YAML: {e}"))
            })
        }
        "application/vnd.kubernetes.protobuf" if k3rs_apis::protobuf::available() => {
            k3rs_apis::protobuf::decode(bytes).map_err(|e| {
                ApiError::bad_request(format!("the body of the request could not be decoded as protobuf: {e}"))
            })
        }
        "application/vnd.kubernetes.protobuf" => Err(ApiError::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (this build has no protobuf schemas)",
        )),
        other => Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format ({other}) - accepted media types include: application/json, application/yaml"
        ))),
    }
}

/// Decodes a create/update body, with the strict-decoding problems found while parsing it
/// (repeated keys) when field validation asks for them.
fn decode_body(
    bytes: &[u8],
    content_type: Option<&str>,
    fv: Directive,
) -> ApiResult<(Value, Vec<String>)> {
    let ct = content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !fv.checks() {
        return Ok((decode(bytes, content_type)?, Vec::new()));
    }
    match ct.as_str() {
        "application/json" | "" => {
            let (v, dups) = crate::fieldvalidation::parse_json(bytes).map_err(|e| {
                ApiError::bad_request(format!(
                    "the body of the request could not be decoded as JSON: {e}"
                ))
            })?;
            Ok((v, crate::fieldvalidation::parse_errors(dups)))
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let v = decode(bytes, content_type)?;
            Ok((
                v,
                crate::fieldvalidation::yaml_duplicates(bytes)
                    .into_iter()
                    .collect(),
            ))
        }
        // Protobuf bodies cannot repeat a field.
        _ => Ok((decode(bytes, content_type)?, Vec::new())),
    }
}

/// The strict-decoding problems of a patch document itself (repeated keys; for JSON patches
/// also unknown operation fields). Unparsable patches are left to the patch code to report.
fn patch_errors(bytes: &[u8], content_type: &str, fv: Directive) -> Vec<String> {
    if !fv.checks() {
        return Vec::new();
    }
    let Ok((v, dups)) = crate::fieldvalidation::parse_json(bytes) else {
        return Vec::new();
    };
    if content_type == "application/json-patch+json" {
        crate::fieldvalidation::json_patch_errors(&v, &dups)
    } else {
        crate::fieldvalidation::parse_errors(dups)
    }
}

/// A create or update body, decoded and checked as the request's `fieldValidation` asks
/// (`options`: `CreateOptions` or `UpdateOptions`) against the schema of `api_version`/`kind`:
/// unknown fields removed, and the warnings to send.
fn validated_body(
    bytes: &[u8],
    content_type: Option<&str>,
    query: &std::collections::HashMap<String, String>,
    options: &str,
    api_version: &str,
    kind: &str,
) -> ApiResult<(Value, Vec<String>)> {
    let fv = crate::fieldvalidation::directive(query, options)?;
    let (mut body, parsed) = decode_body(bytes, content_type, fv)?;
    let warnings = crate::fieldvalidation::validate_body(fv, api_version, kind, &mut body, parsed)?;
    Ok((body, warnings))
}

/// A request header as text (`None` when absent or not visible ASCII).
fn header_string(req: &Request<Bytes>, name: header::HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Adds `Warning` headers.
fn with_warnings(mut resp: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in crate::fieldvalidation::warning_headers(warnings) {
        if let Ok(v) = HeaderValue::from_str(&w) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

/// The media type of a Content-Type, lower-cased, without parameters.
fn media_type(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn bool_param(q: &std::collections::HashMap<String, String>, k: &str) -> bool {
    matches!(q.get(k).map(String::as_str), Some("true" | "1"))
}

impl Handler {
    /// The user of a bearer token, from the server's token authenticators: the static token
    /// file, then service-account JWTs (and legacy token Secrets). `None`: nobody knows it;
    /// `Some(Err)`: the token could not be checked (e.g. the datastore failed).
    pub async fn authenticate_token(&self, token: &str) -> Option<ApiResult<UserInfo>> {
        if let Some(u) = self.tokens.authenticate(token) {
            return Some(Ok(u));
        }
        self.service_accounts.authenticate(&self.api, token).await
    }

    /// The requester, as upstream's union of authenticators: a verified client certificate
    /// first, else a bearer token (which must then be valid: 401 otherwise), else nobody (`None`).
    async fn authenticate(
        &self,
        req: &Request<Bytes>,
        cert_user: Option<&UserInfo>,
    ) -> ApiResult<Option<UserInfo>> {
        if let Some(u) = cert_user {
            return Ok(Some(u.clone()));
        }
        if let Some(auth) = req.headers().get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|a| {
                    a.strip_prefix("Bearer ")
                        .or_else(|| a.strip_prefix("bearer "))
                })
                .map(str::trim)
                .ok_or_else(ApiError::unauthorized)?;
            return match self.authenticate_token(token).await {
                Some(Ok(u)) => Ok(Some(u)),
                Some(Err(e)) => Err(e),
                None => Err(ApiError::unauthorized()),
            };
        }
        Ok(None)
    }

    /// Handles one request. `cert_user` is the user of a verified client certificate.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        cert_user: Option<UserInfo>,
    ) -> Response<Body> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let (resp, verb, resource) = self.dispatch(req, cert_user.as_ref()).await;
        let code = resp.status().as_u16();
        if verb != "WATCH" {
            self.metrics
                .request(&verb, &resource, code, started.elapsed());
        }
        tracing::debug!(%method, %path, code, took_ms = started.elapsed().as_millis() as u64, "request");
        resp
    }

    async fn dispatch(
        &self,
        req: Request<Incoming>,
        cert_user: Option<&UserInfo>,
    ) -> (Response<Body>, String, String) {
        let path = req.uri().path().to_string();
        let query = parse_query(req.uri().query());
        let method = req.method().clone();
        let err_fmt = error_format(
            req.headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
        );
        let r = route(method.as_str(), &path, bool_param(&query, "watch"));
        let (verb_label, res_label) = match &r {
            Route::Resource(rr) => (rr.verb.to_ascii_uppercase(), rr.resource.clone()),
            _ => (method.as_str().to_string(), String::new()),
        };
        let is_watch = matches!(&r, Route::Resource(rr) if rr.verb == "watch");
        let ctx = std::sync::Arc::new(crate::admission::RequestCtx::default());
        let admitted = if is_watch || is_public(&path) {
            Some(None)
        } else {
            try_admit(&self.inflight, MAX_INFLIGHT).map(Some)
        };
        let result = if admitted.is_none() {
            let mut e = ApiError::new(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
            );
            e.retry_after = Some(1);
            Err(e)
        } else {
            crate::admission::scope(
                ctx.clone(),
                self.dispatch_inner(req, cert_user, &path, &query, r),
            )
            .await
        };
        let resp = match result {
            Ok(resp) => resp,
            Err(e) => error_response_as(&e, err_fmt),
        };
        // Warnings admission added are sent with successes and refusals alike (as upstream).
        let resp = with_warnings(resp, &ctx.take_warnings());
        (resp, verb_label, res_label)
    }

    async fn dispatch_inner(
        &self,
        req: Request<Incoming>,
        cert_user: Option<&UserInfo>,
        path: &str,
        query: &std::collections::HashMap<String, String>,
        r: Route,
    ) -> ApiResult<Response<Body>> {
        // The whole body is read before anything can fail, so an early error never leaves an
        // unread body behind (HTTP/2 clients then see a reset stream instead of the Status).
        let (parts, body) = req.into_parts();
        let req = Request::from_parts(parts, read_body_raw(body).await?);
        let user = match self.authenticate(&req, cert_user).await? {
            Some(u) => u,
            None if self.anonymous.allows(path) => UserInfo {
                name: ANONYMOUS.into(),
                groups: vec![UNAUTHENTICATED.into()],
                ..Default::default()
            },
            None => return Err(ApiError::unauthorized()),
        };
        let user = match crate::authz::impersonate(&self.authz, &user, req.headers())? {
            Some(as_user) => as_user,
            None => user,
        };
        if let Some(ctx) = crate::admission::current() {
            ctx.set_user(user.clone());
        }
        let mut attrs = crate::authz::request_attributes(req.method().as_str(), path, query);
        attrs.user = user.clone();
        self.authz.check(&attrs)?;
        if is_public(path) {
            return self.public(path, query, req.method()).await;
        }
        let http_verb = match *req.method() {
            Method::GET | Method::HEAD => "get",
            Method::POST => "post",
            Method::PUT => "put",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "unknown",
        };
        match r {
            Route::Resource(rr) => self.resource(req, rr, query, &user).await,
            other => {
                if http_verb == "get" {
                    if let Some(found) = self.service_accounts.discovery(path).await {
                        let (ct, doc) = found?;
                        // As upstream: cacheable for an hour, JWKS as application/jwk-set+json.
                        let mut resp = respond_value(200, &doc, Format::Json);
                        resp.headers_mut()
                            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
                        resp.headers_mut().insert(
                            header::CACHE_CONTROL,
                            HeaderValue::from_static("public, max-age=3600"),
                        );
                        return Ok(resp);
                    }
                }
                if http_verb != "get" {
                    return Err(ApiError::method_not_allowed(format!(
                        "the server does not allow this method on the requested resource ({} {path})",
                        req.method()
                    )));
                }
                if path == "/openapi/v2" || path.starts_with("/openapi/v3") {
                    if !crate::openapi::service().is_built() || crate::openapi::custom::stale() {
                        // The first request generates the documents, off the async workers;
                        // custom resources' documents follow the CRDs.
                        let _ = tokio::task::spawn_blocking(|| {
                            crate::openapi::service().built();
                            crate::openapi::custom::refresh();
                        })
                        .await;
                    }
                    return openapi_response(&req, path, query);
                }
                let accept = req
                    .headers()
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok());
                // Asked for aggregated discovery alone (no plain JSON fallback): still served.
                if let (Route::CoreGroups | Route::Groups, Some(version)) =
                    (&other, discovery::aggregated_version(accept))
                {
                    let doc = discovery::aggregated(matches!(other, Route::CoreGroups), version);
                    let mut resp = respond_value(200, &doc, Format::Json);
                    let ct = format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
                    if let Ok(v) = HeaderValue::from_str(&ct) {
                        resp.headers_mut().insert(header::CONTENT_TYPE, v);
                    }
                    return Ok(resp);
                }
                let fmt = negotiate(accept)?;
                let v = match other {
                    Route::CoreGroups => Some(discovery::core_versions(&self.server_address)),
                    Route::Groups => Some(discovery::groups()),
                    Route::Group { group } => discovery::group(&group),
                    Route::GroupVersion { group, version } => {
                        discovery::resource_list(&group, &version)
                    }
                    _ if path == "/metrics" => return Ok(text(200, self.metrics.render())),
                    _ => None,
                };
                match v {
                    Some(v) => Ok(respond_value(200, &v, fmt)),
                    None => Err(ApiError::not_found_path()),
                }
            }
        }
    }

    async fn public(
        &self,
        path: &str,
        query: &std::collections::HashMap<String, String>,
        method: &Method,
    ) -> ApiResult<Response<Body>> {
        if !matches!(*method, Method::GET | Method::HEAD) {
            return Err(ApiError::method_not_allowed(format!(
                "{method} is not allowed on {path}"
            )));
        }
        if path.starts_with("/version") {
            return Ok(respond_value(200, &discovery::version(), Format::Json));
        }
        // The datastore must answer within 2 s for the server to be healthy or ready.
        let datastore = matches!(
            tokio::time::timeout(Duration::from_secs(2), self.api.store.current_revision()).await,
            Ok(Ok(_))
        );
        let ready = self.ready.load(Ordering::SeqCst);
        let checks: Vec<(&str, bool)> = if path.starts_with("/readyz") {
            vec![
                ("ping", true),
                ("etcd", datastore),
                ("informer-sync", ready),
            ]
        } else if path.starts_with("/livez") {
            vec![("ping", true)]
        } else {
            vec![("ping", true), ("etcd", datastore)]
        };
        let base = path
            .trim_end_matches('/')
            .split('/')
            .nth(1)
            .unwrap_or("healthz");
        // A single check: /healthz/ping.
        if let Some(one) = path.trim_end_matches('/').split('/').nth(2) {
            return match checks.iter().find(|(n, _)| *n == one) {
                Some((_, true)) => Ok(text(200, "ok".into())),
                Some((n, false)) => Ok(text(
                    500,
                    format!("internal server error: {n} check failed\n"),
                )),
                None => Err(ApiError::not_found_path()),
            };
        }
        let healthy = checks.iter().all(|(_, ok)| *ok);
        if query.contains_key("verbose") || !healthy {
            let mut out = String::new();
            for (n, ok) in &checks {
                out.push_str(&format!(
                    "[{}]{n} {}\n",
                    if *ok { "+" } else { "-" },
                    if *ok { "ok" } else { "failed: reason withheld" }
                ));
            }
            out.push_str(&format!(
                "{base} check {}\n",
                if healthy { "passed" } else { "failed" }
            ));
            return Ok(text(if healthy { 200 } else { 500 }, out));
        }
        Ok(text(200, "ok".into()))
    }

    async fn resource(
        &self,
        req: Request<Bytes>,
        rr: ResourceRequest,
        query: &std::collections::HashMap<String, String>,
        user: &UserInfo,
    ) -> ApiResult<Response<Body>> {
        let Some(res) = registry::find(&rr.group, &rr.version, &rr.resource)
            .filter(|r| r.plural == rr.resource)
        else {
            return Err(ApiError::not_found_path());
        };
        if res.is_review() {
            return crate::review::serve(self, req, res, &rr, user).await;
        }
        let authz = self.authz.clone();
        let guard_ns = rr.namespace.clone().filter(|_| res.namespaced);
        // Upstream's escalation checks on Role/ClusterRole/binding writes (no-ops for other kinds).
        let guard = move |new: &Value, old: Option<&Value>| {
            authz.check_rbac_write(user, res, guard_ns.as_deref(), new, old)
        };
        let (fmt, conv) = crate::convert::negotiate(
            req.headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
            k3rs_apis::protobuf::has_message(&res.api_version(), res.kind),
        )?;
        let include = crate::convert::include(query.get("includeObject").map(String::as_str))?;
        if res.is_custom() {
            // Custom resources have no protobuf schema: JSON and YAML bodies only (as upstream).
            let ct = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if ct.trim().to_ascii_lowercase().starts_with(PROTOBUF) {
                return Err(ApiError::unsupported_media_type(format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml ({PROTOBUF} is not supported for custom resources)"
                )));
            }
        }
        let ns = if res.namespaced {
            rr.namespace.as_deref()
        } else {
            None
        };
        if !res.namespaced && rr.namespace.is_some() {
            return Err(ApiError::not_found_path());
        }
        if let Some(sub) = rr.subresource.as_deref() {
            return self
                .subresource(req, res, ns, &rr, sub, query, fmt, (conv, include))
                .await;
        }
        let verb = rr.verb;
        if !res.supports(verb) {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {})",
                verb, res.plural
            )));
        }
        // Namespaced kinds are served across namespaces only for list and watch.
        if res.namespaced && ns.is_none() && !matches!(verb, "list" | "watch") {
            return Err(if rr.name.is_some() {
                ApiError::not_found_path()
            } else {
                ApiError::method_not_allowed(format!(
                    "{} must be {verb}d in a namespace: use /namespaces/<namespace>/{}",
                    res.plural, res.plural
                ))
            });
        }
        let dry_run = dry_run_param(query)?;
        let name = rr.name.as_deref();
        let ct = header_string(&req, header::CONTENT_TYPE);
        let user_agent = header_string(&req, header::USER_AGENT);
        let manager =
            |options: &str| crate::fieldmanager::manager(query, user_agent.as_deref(), options);
        match (verb, name) {
            ("get", Some(name)) => {
                let obj = self.api.get(res, ns, name).await?;
                Ok(respond_value(
                    200,
                    &crate::convert::object(res, obj, conv, include),
                    fmt,
                ))
            }
            ("list", None) => {
                let p = list_params(res, query)?;
                let list = self.api.list(res, ns, &p).await?;
                Ok(respond_value(
                    200,
                    &crate::convert::list(res, list, conv, include),
                    fmt,
                ))
            }
            ("watch", _) => self.watch(res, ns, name, query, fmt, conv, include).await,
            ("create", None) => {
                let mgr = manager("CreateOptions")?;
                let (body, warnings) = validated_body(
                    req.body(),
                    ct.as_deref(),
                    query,
                    "CreateOptions",
                    &res.api_version(),
                    res.kind,
                )?;
                guard(&body, None)?;
                let obj = self
                    .api
                    .create_by(
                        res,
                        ns,
                        body,
                        dry_run,
                        Track::Update {
                            manager: &mgr,
                            subresource: "",
                        },
                    )
                    .await?;
                Ok(with_warnings(respond_value(201, &obj, fmt), &warnings))
            }
            ("create", Some(_)) => Err(ApiError::method_not_allowed(
                "POST is not allowed on a named resource",
            )),
            ("update", Some(name)) => {
                let mgr = manager("UpdateOptions")?;
                let track = Track::Update {
                    manager: &mgr,
                    subresource: "",
                };
                let (body, warnings) = validated_body(
                    req.body(),
                    ct.as_deref(),
                    query,
                    "UpdateOptions",
                    &res.api_version(),
                    res.kind,
                )?;
                match self
                    .api
                    .update_by(res, ns, name, None, dry_run, track, |cur| {
                        guard(&body, Some(cur))?;
                        Ok(body.clone())
                    })
                    .await
                {
                    Ok(obj) => Ok(with_warnings(respond_value(200, &obj, fmt), &warnings)),
                    // Kinds whose upstream strategy allows it are created by a PUT.
                    Err(e) if e.code == 404 && crate::strategy::allow_create_on_update(res) => {
                        let mut body = body;
                        crate::strategy::check_type(res, &mut body)?;
                        match crate::object::meta_str(&body, "name") {
                            Some(n) if n != name => {
                                return Err(ApiError::bad_request(format!(
                                    "the name of the object ({n}) does not match the name on the URL ({name})"
                                )))
                            }
                            _ => {
                                crate::object::meta_mut(&mut body).insert("name".into(), json!(name));
                            }
                        }
                        crate::object::meta_mut(&mut body).remove("resourceVersion");
                        guard(&body, None)?;
                        let obj = self.api.create_by(res, ns, body, dry_run, track).await?;
                        Ok(with_warnings(respond_value(201, &obj, fmt), &warnings))
                    }
                    Err(e) => Err(e),
                }
            }
            ("patch", Some(name)) => {
                let fv = crate::fieldvalidation::directive(query, "PatchOptions")?;
                let (code, obj, warnings) = self
                    .patch(req, res, ns, name, None, dry_run, query, &guard, fv)
                    .await?;
                Ok(with_warnings(respond_value(code, &obj, fmt), &warnings))
            }
            ("delete", Some(name)) => {
                let body = req.body().clone();
                let p = delete_params(&body, ct.as_deref(), query, dry_run)?;
                let (code, v) = self.api.delete(res, ns, name, &p).await?;
                Ok(respond_value(code, &v, fmt))
            }
            ("deletecollection", None) => {
                let body = req.body().clone();
                let dp = delete_params(&body, ct.as_deref(), query, dry_run)?;
                let lp = list_params(res, query)?;
                Ok(respond_value(
                    200,
                    &self.api.delete_collection(res, ns, &lp, &dp).await?,
                    fmt,
                ))
            }
            _ => Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {})",
                req.method(),
                res.plural
            ))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn subresource(
        &self,
        req: Request<Bytes>,
        res: &'static Resource,
        ns: Option<&str>,
        rr: &ResourceRequest,
        sub: &str,
        query: &std::collections::HashMap<String, String>,
        fmt: Format,
        (conv, include): (crate::convert::Conversion, crate::convert::Include),
    ) -> ApiResult<Response<Body>> {
        let (Some(name), Some(s)) = (rr.name.as_deref(), res.subresource(sub)) else {
            return Err(ApiError::not_found_path());
        };
        if !discovery::SERVED_SUBRESOURCES.contains(&sub) {
            return Err(ApiError::not_implemented(format!(
                "the {}/{sub} subresource is not implemented yet",
                res.plural
            )));
        }
        if !s.verbs.contains(&rr.verb) {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({} {}/{sub})",
                req.method(),
                res.plural
            )));
        }
        let dry_run = dry_run_param(query)?;
        let ct = header_string(&req, header::CONTENT_TYPE);
        let user_agent = header_string(&req, header::USER_AGENT);
        let options = if rr.verb == "patch" {
            "PatchOptions"
        } else {
            "UpdateOptions"
        };
        let mgr = if matches!(rr.verb, "update" | "patch") {
            crate::fieldmanager::manager(query, user_agent.as_deref(), options)?
        } else {
            String::new()
        };
        let track = Track::Update {
            manager: &mgr,
            subresource: sub,
        };
        match (sub, rr.verb) {
            ("status" | "approval", "get") => {
                let obj = self.api.get(res, ns, name).await?;
                Ok(respond_value(
                    200,
                    &crate::convert::object(res, obj, conv, include),
                    fmt,
                ))
            }
            ("status" | "finalize" | "approval", "update") => {
                let (body, warnings) = validated_body(
                    req.body(),
                    ct.as_deref(),
                    query,
                    "UpdateOptions",
                    &res.api_version(),
                    res.kind,
                )?;
                let obj = self
                    .api
                    .update_by(res, ns, name, Some(sub), dry_run, track, |_| {
                        Ok(body.clone())
                    })
                    .await?;
                Ok(with_warnings(respond_value(200, &obj, fmt), &warnings))
            }
            ("status" | "approval", "patch") => {
                let fv = crate::fieldvalidation::directive(query, "PatchOptions")?;
                let (code, obj, warnings) = self
                    .patch(
                        req,
                        res,
                        ns,
                        name,
                        Some(sub),
                        dry_run,
                        query,
                        &|_, _| Ok(()),
                        fv,
                    )
                    .await?;
                Ok(with_warnings(respond_value(code, &obj, fmt), &warnings))
            }
            ("token", "create") => {
                let body = decode(req.body(), ct.as_deref())?;
                let ns = ns.ok_or_else(|| ApiError::bad_request("namespace is required"))?;
                let out = self
                    .service_accounts
                    .token_request(&self.api, ns, name, body)
                    .await?;
                Ok(respond_value(201, &out, fmt))
            }
            ("scale", "get") => {
                let obj = self.api.get(res, ns, name).await?;
                Ok(respond_value(200, &crate::scale::to_scale(res, &obj), fmt))
            }
            ("scale", "update" | "patch") => {
                let scale_av = if s.group.is_empty() {
                    s.version.to_string()
                } else {
                    format!("{}/{}", s.group, s.version)
                };
                let (scale, warnings) = if rr.verb == "update" {
                    validated_body(
                        req.body(),
                        ct.as_deref(),
                        query,
                        "UpdateOptions",
                        &scale_av,
                        s.kind,
                    )?
                } else {
                    let fv = crate::fieldvalidation::directive(query, "PatchOptions")?;
                    let current = crate::scale::to_scale(res, &self.api.get(res, ns, name).await?);
                    let patch = req.body().clone();
                    let mut patched = crate::scale::patch_scale(current, &patch, ct.as_deref())?;
                    let errs = patch_errors(&patch, media_type(ct.as_deref()).as_str(), fv);
                    let before = (fv == Directive::Strict).then(|| patched.clone());
                    let w = crate::fieldvalidation::validate_patched(
                        fv,
                        &scale_av,
                        s.kind,
                        &mut patched,
                        errs,
                        || serde_json::to_string(&before).unwrap_or_default(),
                    )?;
                    (patched, w)
                };
                let obj =
                    crate::scale::apply_scale(&self.api, res, ns, name, &scale, dry_run, track)
                        .await?;
                Ok(with_warnings(
                    respond_value(200, &crate::scale::to_scale(res, &obj), fmt),
                    &warnings,
                ))
            }
            _ => Err(ApiError::method_not_allowed(
                "unsupported verb for this subresource",
            )),
        }
    }

    /// A PATCH: merge, JSON and strategic merge patches become Updates of the patching manager;
    /// an apply patch (`application/apply-patch+yaml`) applies, creating the object if needed
    /// (201). Returns the status code, the stored object and the field-validation warnings.
    #[allow(clippy::too_many_arguments)]
    async fn patch(
        &self,
        req: Request<Bytes>,
        res: &'static Resource,
        ns: Option<&str>,
        name: &str,
        sub: Option<&str>,
        dry_run: bool,
        query: &std::collections::HashMap<String, String>,
        guard: &(dyn Fn(&Value, Option<&Value>) -> ApiResult<()> + Sync),
        fv: Directive,
    ) -> ApiResult<(u16, Value, Vec<String>)> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let kind = match ct.as_str() {
            "application/merge-patch+json" => PatchKind::Merge,
            "application/json-patch+json" => PatchKind::Json,
            "application/strategic-merge-patch+json" => {
                // Built-in kinds only: custom resources have no patch metadata (as upstream).
                match k3rs_apis::patchmeta::message_for_kind(&res.api_version(), res.kind) {
                    Some(message) => PatchKind::Strategic(message),
                    None => return Err(ApiError::unsupported_media_type(format!(
                        "the body of the request was in an unknown format ({ct}) - accepted media types include: application/json-patch+json, application/merge-patch+json"
                    ))),
                }
            }
            "application/apply-patch+yaml" => {
                let (mgr, force) = crate::fieldmanager::apply_params(query)?;
                let config = crate::fieldmanager::decode_apply(req.body())?;
                let (strict, warnings) = crate::fieldvalidation::validate_apply(fv, req.body());
                let applied = ApplyRequest {
                    config: &config,
                    manager: &mgr,
                    force,
                    strict: strict.as_ref(),
                };
                return self
                    .apply_patch(res, ns, name, sub, dry_run, applied, guard)
                    .await
                    .map(|(code, obj)| (code, obj, warnings));
            }
            "application/apply-patch+cbor" => {
                return Err(ApiError::unsupported_media_type(
                    "the body of the request was in an unknown format (application/apply-patch+cbor) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ))
            }
            other => {
                return Err(ApiError::unsupported_media_type(format!(
                    "the body of the request was in an unknown format ({other}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                )))
            }
        };
        crate::fieldmanager::forbid_force(query)?;
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let mgr = crate::fieldmanager::manager(query, user_agent, "PatchOptions")?;
        let track = Track::Update {
            manager: &mgr,
            subresource: sub.unwrap_or(""),
        };
        let bytes = req.body().clone();
        let patch: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
        let patch_errs = patch_errors(&bytes, &ct, fv);
        let api_version = res.api_version();
        let warnings = std::sync::Mutex::new(Vec::new());
        let obj = self
            .api
            .update_by(res, ns, name, sub, dry_run, track, |current| {
                let mut obj = current.clone();
                match &kind {
                    PatchKind::Merge => crate::patch::merge_patch(&mut obj, &patch),
                    PatchKind::Json => crate::patch::json_patch(&mut obj, &patch)?,
                    PatchKind::Strategic(message) => {
                        obj = crate::patch::strategic_merge_patch(current, &patch, message)?
                    }
                }
                // The patch names a resourceVersion only if it changed it.
                if crate::object::meta_str(&obj, "resourceVersion")
                    == crate::object::meta_str(current, "resourceVersion")
                {
                    crate::object::meta_mut(&mut obj).remove("resourceVersion");
                }
                // Unknown fields of the result: reported (Strict/Warn) and never stored. A
                // strategic merge patch is shown in Go's %+v form, as upstream shows it.
                let before = (fv == Directive::Strict).then(|| obj.clone());
                let w = crate::fieldvalidation::validate_patched(
                    fv,
                    &api_version,
                    res.kind,
                    &mut obj,
                    patch_errs.clone(),
                    || match &kind {
                        PatchKind::Strategic(_) => crate::fieldvalidation::go_format(&patch),
                        _ => serde_json::to_string(&before).unwrap_or_default(),
                    },
                )?;
                if let Ok(mut slot) = warnings.lock() {
                    *slot = w;
                }
                guard(&obj, Some(current))?;
                Ok(obj)
            })
            .await?;
        let warnings = warnings.into_inner().unwrap_or_default();
        Ok((200, obj, warnings))
    }

    /// Server-side apply: merges the configuration into the stored object for `manager`, or
    /// creates the object from it when there is none (the namespace must exist).
    #[allow(clippy::too_many_arguments)]
    async fn apply_patch(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        name: &str,
        sub: Option<&str>,
        dry_run: bool,
        applied: ApplyRequest<'_>,
        guard: &(dyn Fn(&Value, Option<&Value>) -> ApiResult<()> + Sync),
    ) -> ApiResult<(u16, Value)> {
        let ApplyRequest {
            config,
            manager,
            force,
            strict,
        } = applied;
        // Field validation fails a request whose apply worked (as upstream checks after it).
        let strict_check = || strict.map_or(Ok(()), |e| Err(e.clone()));
        match crate::object::meta_str(config, "name") {
            Some(n) if !n.is_empty() && n != name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )))
            }
            _ => {}
        }
        // Created between our attempts by someone else: apply to it instead.
        for _ in 0..3 {
            let updated = self
                .api
                .update_by(res, ns, name, sub, dry_run, Track::Applied, |current| {
                    let mut obj = crate::fieldmanager::apply(
                        res,
                        sub,
                        Some(current),
                        config,
                        manager,
                        force,
                    )?;
                    strict_check()?;
                    k3rs_apis::defaults::apply_defaults(res.group, res.kind, &mut obj);
                    // A resourceVersion in the configuration is a precondition; else none.
                    if crate::object::meta_str(config, "resourceVersion").is_none_or(str::is_empty)
                    {
                        crate::object::meta_mut(&mut obj).remove("resourceVersion");
                    }
                    guard(&obj, Some(current))?;
                    Ok(obj)
                })
                .await;
            match updated {
                Ok(obj) => return Ok((200, obj)),
                Err(e)
                    if e.code == 404
                        && sub.is_none()
                        && e.details.as_ref().is_some_and(|d| {
                            d.get("name").and_then(Value::as_str) == Some(name)
                        }) => {}
                Err(e) => return Err(e),
            }
            let mut obj = crate::fieldmanager::apply(res, None, None, config, manager, force)?;
            strict_check()?;
            crate::object::meta_mut(&mut obj).insert("name".into(), json!(name));
            crate::object::meta_mut(&mut obj).remove("resourceVersion");
            guard(&obj, None)?;
            match self
                .api
                .create_by(res, ns, obj, dry_run, Track::Applied)
                .await
            {
                Ok(obj) => return Ok((201, obj)),
                Err(e) if e.code == 409 && e.reason == "AlreadyExists" => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::modified(res, name))
    }

    #[allow(clippy::too_many_arguments)]
    async fn watch(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        name: Option<&str>,
        query: &std::collections::HashMap<String, String>,
        fmt: Format,
        conv: crate::convert::Conversion,
        include: crate::convert::Include,
    ) -> ApiResult<Response<Body>> {
        if bool_param(query, "sendInitialEvents") || query.contains_key("sendInitialEvents") {
            return Err(ApiError::invalid_query(
                "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
            ).with_details(json!({"kind": "ListOptions", "group": "meta.k8s.io", "causes": [{"reason": "FieldValueForbidden", "message": "Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled", "field": "sendInitialEvents"}]})));
        }
        if query.contains_key("resourceVersionMatch") {
            return Err(ApiError::invalid_query(
                "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        let lp = list_params(res, query)?;
        let mut field = lp.field;
        if let Some(n) = name {
            field.terms.push(k3rs_apis::selectors::FieldTerm {
                field: "metadata.name".into(),
                value: n.into(),
                negated: false,
            });
        }
        let timeout = match query.get("timeoutSeconds") {
            Some(t) => Some(Duration::from_secs(t.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid timeoutSeconds: {t:?}"))
            })?)),
            None => None,
        };
        let p = WatchParams {
            label: lp.label,
            field,
            resource_version: query.get("resourceVersion").cloned(),
            bookmarks: bool_param(query, "allowWatchBookmarks"),
            timeout,
        };
        let mut rx = self.api.watch(res, ns, p).await?;
        let metrics = self.metrics.clone();
        metrics.watch_started();
        let guard = WatchGuard(metrics);
        let stream = async_stream(move |tx| async move {
            let _guard = guard;
            let mut first = true;
            loop {
                // A client that went away ends the watch even when nothing happens.
                let ev = tokio::select! {
                    _ = tx.closed() => return,
                    ev = rx.recv() => match ev {
                        Some(ev) => ev,
                        None => return,
                    },
                };
                let ev = crate::convert::watch_event(res, ev, conv, include, first);
                first = false;
                let (chunk, last) = watch_chunk(&ev, fmt);
                if tx.send(Ok(Frame::data(Bytes::from(chunk)))).await.is_err() || last {
                    return;
                }
            }
        });
        let mut resp = Response::new(BodyExt::boxed(StreamBody::new(stream)));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(match fmt {
                Format::Protobuf => "application/vnd.kubernetes.protobuf;stream=watch",
                // Upstream streams YAML-accepting watches as JSON too.
                Format::Json | Format::Yaml => "application/json",
            }),
        );
        resp.headers_mut().insert(
            "Cache-Control",
            HeaderValue::from_static("no-cache, private"),
        );
        Ok(resp)
    }
}

/// One watch event as written on the wire, and whether the stream must end after it. JSON: one
/// object per line. Protobuf: a length-prefixed WatchEvent frame; an event that cannot be encoded
/// ends the watch with an ERROR event (the client re-lists), as upstream's encoder failure does.
fn watch_chunk(ev: &Value, fmt: Format) -> (Vec<u8>, bool) {
    if fmt == Format::Protobuf {
        return match k3rs_apis::protobuf::encode_watch_frame(ev) {
            Ok(frame) => (frame, false),
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode a watch event as protobuf; ending the watch");
                let status =
                    ApiError::internal(format!("unable to encode watch object: {e}")).to_status();
                let frame = k3rs_apis::protobuf::encode_watch_frame(
                    &json!({"type": "ERROR", "object": status}),
                )
                .unwrap_or_default();
                (frame, true)
            }
        };
    }
    let mut line = serde_json::to_vec(ev).unwrap_or_default();
    line.push(b'\n');
    (line, false)
}

struct WatchGuard(Arc<Metrics>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.watch_ended();
    }
}

/// A body stream fed by a task.
fn async_stream<F, Fut>(
    f: F,
) -> tokio_stream::wrappers::ReceiverStream<Result<Frame<Bytes>, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Frame<Bytes>, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// What a server-side apply asks for.
#[derive(Clone, Copy)]
struct ApplyRequest<'a> {
    config: &'a Value,
    manager: &'a str,
    force: bool,
    /// The strict field validation error to fail with once the apply worked.
    strict: Option<&'a ApiError>,
}

enum PatchKind {
    Merge,
    Json,
    /// Strategic merge patch of an object of this protobuf message.
    Strategic(String),
}

/// Reads a request body (at most [`MAX_BODY`]). An oversized body is still drained (up to 8× the
/// limit) so the client sees the 413 rather than a reset stream.
async fn read_body_raw(mut body: Incoming) -> ApiResult<Bytes> {
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::bad_request(format!("error reading the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_BODY {
                buf.extend_from_slice(&data);
            } else if seen > 8 * MAX_BODY {
                break;
            }
        }
    }
    if seen > MAX_BODY {
        return Err(ApiError::too_large(format!(
            "Request entity too large: limit is {MAX_BODY}"
        )));
    }
    Ok(buf.freeze())
}

/// The `dryRun` parameter: absent, or `All`.
fn dry_run_param(q: &std::collections::HashMap<String, String>) -> ApiResult<bool> {
    match q.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid dryRun value: {other:?}; supported values: \"All\""
        ))),
    }
}

/// Parses and checks list parameters, as upstream's ListOptions validation.
pub fn list_params(
    res: &Resource,
    q: &std::collections::HashMap<String, String>,
) -> ApiResult<ListParams> {
    let label = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
    let field = FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    match k3rs_apis::crd::lookup(res) {
        Some(cr) => field.check_allowed(&cr.selectable),
        None => field.check_fields(res.group, res.kind),
    }
    .map_err(ApiError::bad_request)?;
    let limit = match q.get("limit") {
        Some(l) if !l.is_empty() => l
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit: {l:?}")))?,
        _ => 0,
    };
    let rv = q.get("resourceVersion").filter(|s| !s.is_empty()).cloned();
    let rv_match = q
        .get("resourceVersionMatch")
        .filter(|s| !s.is_empty())
        .cloned();
    let cont = q.get("continue").filter(|s| !s.is_empty()).cloned();
    let invalid = |field: &str, msg: &str| {
        ApiError::invalid_query(format!("ListOptions.meta.k8s.io \"\" is invalid: {field}: Forbidden: {msg}"))
            .with_details(json!({"kind": "ListOptions", "group": "meta.k8s.io", "causes": [{"reason": "FieldValueForbidden", "message": format!("Forbidden: {msg}"), "field": field}]}))
    };
    if q.contains_key("sendInitialEvents") && !bool_param(q, "watch") {
        return Err(invalid(
            "sendInitialEvents",
            "sendInitialEvents is forbidden for list",
        ));
    }
    if let Some(m) = &rv_match {
        if rv.is_none() {
            return Err(invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if cont.is_some() {
            return Err(invalid(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        match m.as_str() {
            "Exact" if rv.as_deref() == Some("0") => {
                return Err(invalid("resourceVersionMatch", "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""))
            }
            "Exact" | "NotOlderThan" => {}
            other => {
                return Err(ApiError::invalid_query(format!(
                    "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\", \"\""
                )))
            }
        }
    }
    if cont.is_some() && rv.as_deref().is_some_and(|r| r != "0") {
        return Err(ApiError::bad_request(
            "specifying resource version is not allowed when using continue",
        ));
    }
    Ok(ListParams {
        label,
        field,
        limit,
        continue_token: cont,
        resource_version: rv,
        resource_version_match: rv_match,
    })
}

fn delete_params(
    body: &[u8],
    content_type: Option<&str>,
    q: &std::collections::HashMap<String, String>,
    dry_run: bool,
) -> ApiResult<DeleteParams> {
    let opts: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        decode(body, content_type)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {}", e.message)))?
    };
    let grace = opts
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .map(Ok)
        .or_else(|| {
            q.get("gracePeriodSeconds").map(|g| {
                g.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid gracePeriodSeconds: {g:?}"))
                })
            })
        })
        .transpose()?;
    let propagation = opts
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| q.get("propagationPolicy").cloned());
    if let Some(p) = &propagation {
        if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
            return Err(ApiError::invalid_query(format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
            )));
        }
    }
    let body_dry = opts
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteParams {
        grace_period: grace,
        propagation,
        precondition_uid: opts
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        precondition_rv: opts
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        dry_run: dry_run || body_dry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_limit_admits_up_to_the_limit_and_frees_on_drop() {
        let c = std::sync::atomic::AtomicUsize::new(0);
        let a = try_admit(&c, 2);
        let b = try_admit(&c, 2);
        assert!(a.is_some() && b.is_some());
        assert!(try_admit(&c, 2).is_none(), "third request gets 429");
        drop(a);
        assert!(
            try_admit(&c, 2).is_some(),
            "a finished request frees its place"
        );
        drop(b);
        assert_eq!(c.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(negotiate(None).unwrap(), Format::Json);
        assert_eq!(
            negotiate(Some(
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
            ))
            .unwrap(),
            Format::Json
        );
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf,application/json")).unwrap(),
            Format::Json
        );
        assert_eq!(negotiate(Some("application/yaml")).unwrap(), Format::Yaml);
        assert_eq!(
            negotiate(Some("application/json;as=Table;v=v1;g=meta.k8s.io"))
                .unwrap_err()
                .code,
            406
        );
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf"))
                .unwrap_err()
                .code,
            406
        );
    }

    #[test]
    fn decoding_errors_are_statuses() {
        assert_eq!(
            decode(b"{bad", Some("application/json")).unwrap_err().code,
            400
        );
        assert_eq!(
            decode(b"k8s\0", Some("application/vnd.kubernetes.protobuf"))
                .unwrap_err()
                .code,
            if k3rs_apis::protobuf::available() {
                400
            } else {
                415
            }
        );
        assert_eq!(
            decode(b"a: [", Some("application/yaml")).unwrap_err().code,
            400
        );
        let deep = "[".repeat(100_000);
        assert_eq!(decode(deep.as_bytes(), None).unwrap_err().code, 400);
        assert_eq!(
            decode(b"kind: ConfigMap\ndata: {a: b}", Some("application/yaml")).unwrap()["data"]
                ["a"],
            "b"
        );
    }
}
