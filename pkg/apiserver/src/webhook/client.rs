//! The HTTPS client every webhook call goes through: admission webhooks (AdmissionReview) and CRD
//! conversion webhooks (ConversionReview), as upstream's `k8s.io/apiserver/pkg/util/webhook`
//! client manager.
//!
//! - `clientConfig.url`: POSTed to as given (`https` only; validation refuses anything else), the
//!   server certificate checked against the URL's host.
//! - `clientConfig.service`: the TLS server name is `<name>.<namespace>.svc` (what the webhook's
//!   certificate must name, as upstream), and the address dialled is found by [`resolve_service`].
//! - The certificate is verified with `caBundle`, or the system's roots when there is none.
//! - One request per connection, HTTP/1.1, JSON both ways, no redirects followed (a 3xx answer is
//!   an error), the whole exchange bounded by the timeout; upstream's `?timeout=` parameter tells
//!   the webhook how long it has.
//!
//! Errors read like Go's `net/http` and client-go errors (`Post "https://...": context deadline
//! exceeded`, `dial tcp 127.0.0.1:1: connect: connection refused`) because the admission plugins
//! put them into the messages clients see, as upstream does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;

use k3rs_apis::registry;
use k3rs_apis::selectors::LabelSelector;

use crate::store::{Api, ListParams};

/// The most a webhook may answer (upstream reads responses through client-go without a limit;
/// this bounds what one misbehaving webhook can make the server hold).
const MAX_RESPONSE: usize = 64 << 20;

/// A webhook's `clientConfig` (admissionregistration `WebhookClientConfig` or apiextensions
/// `WebhookClientConfig`: the same shape).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientConfig {
    pub url: Option<String>,
    pub service: Option<ServiceRef>,
    /// PEM bytes (the decoded `caBundle`); empty: the system's roots.
    pub ca_bundle: Vec<u8>,
}

/// `clientConfig.service`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
    /// The URL path (`""` for `/`).
    pub path: String,
    pub port: u16,
}

impl ClientConfig {
    /// Reads a `clientConfig` object (already validated; anything odd is an error at call time).
    pub fn from_value(v: &Value) -> ClientConfig {
        let s = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        let service = v
            .get("service")
            .filter(|s| s.is_object())
            .map(|svc| ServiceRef {
                namespace: s(svc, "namespace").unwrap_or_default(),
                name: s(svc, "name").unwrap_or_default(),
                path: s(svc, "path").unwrap_or_default(),
                port: svc
                    .get("port")
                    .and_then(Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(443),
            });
        let ca_bundle = v
            .get("caBundle")
            .and_then(Value::as_str)
            .and_then(k3rs_apis::validation::decode_base64)
            .filter(|b| !b.iter().all(u8::is_ascii_whitespace))
            .unwrap_or_default();
        ClientConfig {
            url: s(v, "url"),
            service,
            ca_bundle,
        }
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    /// Go's error text, e.g. `Post "https://x/y?timeout=10s": context deadline exceeded`.
    pub reason: String,
    /// The webhook answered with an error status (client-go's `StatusError`): its code, reason
    /// and message.
    pub status: Option<(u16, String, String)>,
}

impl CallError {
    fn new(reason: impl Into<String>) -> CallError {
        CallError {
            reason: reason.into(),
            status: None,
        }
    }
}

/// Where one call goes.
struct Target {
    /// The URL as Go prints it in errors (`https://host:port/path?timeout=10s`).
    display: String,
    server_name: String,
    /// The `Host` header.
    authority: String,
    path_and_query: String,
    /// What to dial: a host name or address and a port.
    dial: (String, u16),
}

/// Go's `time.Duration.String()` for whole seconds (what upstream sends as `?timeout=`).
fn go_seconds(d: Duration) -> String {
    // Upstream rounds a fractional timeout up to whole seconds.
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if secs >= 60 {
        let (m, s) = (secs / 60, secs % 60);
        if m >= 60 {
            format!("{}h{}m{}s", m / 60, m % 60, s)
        } else {
            format!("{m}m{s}s")
        }
    } else {
        format!("{secs}s")
    }
}

fn join_path(path: &str, timeout: Option<Duration>) -> String {
    let mut p = if path.is_empty() {
        "/".to_string()
    } else if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    if let Some(t) = timeout {
        p.push_str("?timeout=");
        p.push_str(&go_seconds(t));
    }
    p
}

/// Builds the target of a call: `Err` when the client config names nothing callable.
async fn target(
    api: &Api,
    cc: &ClientConfig,
    timeout: Option<Duration>,
) -> Result<Target, CallError> {
    if let Some(svc) = &cc.service {
        let server_name = format!("{}.{}.svc", svc.name, svc.namespace);
        let authority = format!("{server_name}:{}", svc.port);
        let path_and_query = join_path(&svc.path, timeout);
        let display = format!("https://{authority}{path_and_query}");
        let dial = resolve_service_boxed(api, &svc.namespace, &svc.name, svc.port)
            .await
            .map_err(|e| CallError::new(format!("Post {display:?}: {e}")))?;
        return Ok(Target {
            display,
            server_name,
            authority,
            path_and_query,
            dial,
        });
    }
    let Some(url) = &cc.url else {
        return Err(CallError::new(
            "webhook configuration must have either service or URL",
        ));
    };
    let u = k3rs_apis::validation::parse_webhook_url(url)
        .map_err(|e| CallError::new(format!("Unparsable URL: {e}")))?;
    if u.scheme != "https" {
        return Err(CallError::new(format!(
            "Post {url:?}: unsupported protocol scheme {:?}",
            u.scheme
        )));
    }
    let (host, port) = u.host_port();
    let port = match port {
        None => 443,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| CallError::new(format!("Unparsable URL: invalid port {p:?}")))?,
    };
    let mut path_and_query = join_path(u.path, None);
    if let Some(t) = timeout {
        path_and_query.push_str("?timeout=");
        path_and_query.push_str(&go_seconds(t));
    }
    let display = format!("https://{}{path_and_query}", u.host);
    Ok(Target {
        display,
        server_name: host.to_string(),
        authority: u.host.to_string(),
        path_and_query,
        dial: (host.to_string(), port),
    })
}

/// [`resolve_service`], boxed: resolving reads Services and Endpoints through the store, whose
/// reads of custom resources may call conversion webhooks through this very client.
fn resolve_service_boxed<'a>(
    api: &'a Api,
    namespace: &'a str,
    name: &'a str,
    port: u16,
) -> futures::future::BoxFuture<'a, Result<(String, u16), String>> {
    Box::pin(resolve_service(api, namespace, name, port))
}

/// Resolves a Service to the address its webhook is dialled at, as upstream's endpoint service
/// resolver (kube-apiserver with `--enable-aggregator-routing`) does, falling back to the
/// cluster IP as its default cluster-IP resolver does:
///
/// 1. `default/kubernetes:443` — no special case (k3rs has no loopback resolver);
/// 2. an `ExternalName` Service: its external name and the requested port;
/// 3. a ClusterIP, NodePort or LoadBalancer Service must have a port numbered `port`; then the
///    first ready address of its EndpointSlices (label `kubernetes.io/service-name`) whose port
///    has that service port's name, else of its Endpoints object;
/// 4. with neither EndpointSlices nor Endpoints: the Service's ClusterIP and port (reachable only
///    where something routes cluster IPs — k3rs has no service proxy yet).
///
/// Errors read as upstream's (`services "x" not found`, `no endpoints available for service "x"`,
/// `no service port 443 found for service "x"`).
pub async fn resolve_service(
    api: &Api,
    namespace: &str,
    name: &str,
    port: u16,
) -> Result<(String, u16), String> {
    if name.is_empty() || namespace.is_empty() || port == 0 {
        return Err("cannot resolve an empty service name or namespace or port".into());
    }
    let services = registry::find("", "v1", "services").ok_or("services are not served")?;
    let svc = api
        .get(services, Some(namespace), name)
        .await
        .map_err(|e| e.message)?;
    let spec = svc.get("spec").cloned().unwrap_or(Value::Null);
    let s = |k: &str| spec.get(k).and_then(Value::as_str).unwrap_or_default();
    match s("type") {
        "ExternalName" => return Ok((s("externalName").to_string(), port)),
        "" | "ClusterIP" | "NodePort" | "LoadBalancer" => {}
        other => return Err(format!("unsupported service type {other:?}")),
    }
    let svc_port = spec
        .get("ports")
        .and_then(Value::as_array)
        .and_then(|ps| {
            ps.iter()
                .find(|p| p.get("port").and_then(Value::as_u64) == Some(u64::from(port)))
        })
        .ok_or_else(|| format!("no service port {port} found for service {name:?}"))?;
    let port_name = svc_port
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut found_any = false;
    // EndpointSlices first (what upstream reads).
    if let Some(slices) = registry::find("discovery.k8s.io", "v1", "endpointslices") {
        let p = ListParams {
            label: LabelSelector::parse(&format!("kubernetes.io/service-name={name}"))
                .unwrap_or_default(),
            ..Default::default()
        };
        let list = api
            .list(slices, Some(namespace), &p)
            .await
            .map_err(|e| e.message)?;
        for slice in list
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            found_any = true;
            let Some(target_port) = slice
                .get("ports")
                .and_then(Value::as_array)
                .and_then(|ps| {
                    ps.iter().find(|p| {
                        p.get("name").and_then(Value::as_str).unwrap_or_default() == port_name
                    })
                })
                .and_then(|p| p.get("port").and_then(Value::as_u64))
                .and_then(|p| u16::try_from(p).ok())
            else {
                continue;
            };
            for ep in slice
                .get("endpoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let ready = ep
                    .pointer("/conditions/ready")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                if let (true, Some(ip)) =
                    (ready, ep.pointer("/addresses/0").and_then(Value::as_str))
                {
                    return Ok((ip.to_string(), target_port));
                }
            }
        }
    }
    // Then the Endpoints object of the same name.
    if let Some(endpoints) = registry::find("", "v1", "endpoints") {
        match api.get(endpoints, Some(namespace), name).await {
            Ok(ep) => {
                found_any = true;
                for subset in ep
                    .get("subsets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(target_port) = subset
                        .get("ports")
                        .and_then(Value::as_array)
                        .and_then(|ps| {
                            ps.iter().find(|p| {
                                p.get("name").and_then(Value::as_str).unwrap_or_default()
                                    == port_name
                            })
                        })
                        .and_then(|p| p.get("port").and_then(Value::as_u64))
                        .and_then(|p| u16::try_from(p).ok())
                    else {
                        continue;
                    };
                    if let Some(ip) = subset.pointer("/addresses/0/ip").and_then(Value::as_str) {
                        return Ok((ip.to_string(), target_port));
                    }
                }
            }
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e.message),
        }
    }
    if found_any {
        return Err(format!("no endpoints available for service {name:?}"));
    }
    match s("clusterIP") {
        "None" => Err(r#"cannot route to service with ClusterIP "None""#.into()),
        "" => Err(format!("no endpoints available for service {name:?}")),
        ip => Ok((ip.to_string(), port)),
    }
}

const TLS_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trust roots (loaded once).
fn system_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                let _ = store.add(c);
            }
            Arc::new(store)
        })
        .clone()
}

/// The TLS configuration trusting `ca_bundle` (or the system roots), cached per bundle.
fn tls_config(ca_bundle: &[u8]) -> Result<Arc<rustls::ClientConfig>, CallError> {
    static CACHE: OnceLock<Mutex<HashMap<Vec<u8>, Arc<rustls::ClientConfig>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().ok().and_then(|m| m.get(ca_bundle).cloned()) {
        return Ok(c);
    }
    let roots = if ca_bundle.is_empty() {
        system_roots()
    } else {
        let mut store = rustls::RootCertStore::empty();
        let text = String::from_utf8_lossy(ca_bundle);
        let mut added = 0;
        for der in rustls_pemfile::certs(&mut text.as_bytes()).flatten() {
            if store.add(der).is_ok() {
                added += 1;
            }
        }
        if added == 0 {
            return Err(CallError::new(
                "unable to load root certificates: unable to parse bytes as PEM block",
            ));
        }
        Arc::new(store)
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(TLS_VERSIONS)
        .map_err(|e| CallError::new(format!("tls: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    if let Ok(mut m) = cache.lock() {
        if m.len() > 256 {
            m.clear();
        }
        m.insert(ca_bundle.to_vec(), config.clone());
    }
    Ok(config)
}

/// A TLS failure as Go's crypto/tls reports it.
fn tls_error_text(e: &std::io::Error, server_name: &str) -> String {
    use rustls::CertificateError as C;
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(c)) => {
            let why = match c {
                C::UnknownIssuer => "x509: certificate signed by unknown authority".to_string(),
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    format!("x509: certificate is not valid for {server_name}")
                }
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => {
                    "x509: certificate has expired or is not yet valid".to_string()
                }
                other => format!("x509: {other:?}"),
            };
            format!("tls: failed to verify certificate: {why}")
        }
        Some(other) => format!("remote error: tls: {other}"),
        None => e.to_string(),
    }
}

/// client-go's message for an error answer that is not a `Status` (`NewGenericServerResponse`).
fn generic_response_error(code: u16, body: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(body).trim().to_string();
    let (reason, msg) = match code {
        400 => (
            "BadRequest",
            "the server rejected our request for an unknown reason".to_string(),
        ),
        401 => ("Unauthorized", "the server has asked for the client to provide credentials".into()),
        403 => ("Forbidden", "the server does not allow access to the requested resource".into()),
        404 => ("NotFound", "the server could not find the requested resource".into()),
        405 => ("MethodNotAllowed", "the server does not allow this method on the requested resource".into()),
        409 => ("Conflict", "the server reported a conflict".into()),
        413 => ("RequestEntityTooLarge", "the server has rejected the request due to its size".into()),
        415 => ("UnsupportedMediaType", "the server does not support the media type sent".into()),
        422 => ("Invalid", "the server rejected our request due to an error in our request".into()),
        429 => ("TooManyRequests", "the server has received too many requests and has asked us to try again later".into()),
        500 => {
            let shown = if text.is_empty() { "unknown".to_string() } else { text.clone() };
            ("InternalError", format!("an error on the server ({shown:?}) has prevented the request from succeeding"))
        }
        503 => ("ServiceUnavailable", "the server is currently unable to handle the request".into()),
        504 => ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request".into()),
        _ => ("", format!("the server responded with the status code {code} but did not return more information")),
    };
    (reason.to_string(), msg)
}

/// Aborts a spawned task when dropped (the connection driver of a call that ended).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// POSTs `body` as JSON and returns the JSON answer. `timeout` bounds the whole exchange and is
/// passed to the webhook as `?timeout=` when `announce_timeout` (admission webhooks; conversion
/// webhooks are not told).
pub async fn post_json(
    api: &Api,
    cc: &ClientConfig,
    body: &Value,
    timeout: Duration,
    announce_timeout: bool,
) -> Result<Value, CallError> {
    let t = target(api, cc, announce_timeout.then_some(timeout)).await?;
    let display = t.display.clone();
    let bytes = serde_json::to_vec(body).map_err(|e| CallError::new(e.to_string()))?;
    match tokio::time::timeout(timeout, exchange(cc, &t, bytes)).await {
        Ok(r) => r,
        Err(_) => Err(CallError::new(format!(
            "Post {display:?}: context deadline exceeded"
        ))),
    }
}

async fn exchange(cc: &ClientConfig, t: &Target, body: Vec<u8>) -> Result<Value, CallError> {
    let post = |e: String| CallError::new(format!("Post {:?}: {e}", t.display));
    let config = tls_config(&cc.ca_bundle).map_err(|e| post(e.reason))?;
    let (host, port) = (&t.dial.0, t.dial.1);
    let addrs: Vec<SocketAddr> = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| post(format!("dial tcp: lookup {host}: no such host")))?
            .collect(),
    };
    let mut last = format!("dial tcp: lookup {host}: no such host");
    let mut stream = None;
    for a in &addrs {
        match tokio::net::TcpStream::connect(a).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => {
                last = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => {
                        format!("dial tcp {a}: connect: connection refused")
                    }
                    _ => format!("dial tcp {a}: {e}"),
                }
            }
        }
    }
    let stream = stream.ok_or_else(|| post(last))?;
    let _ = stream.set_nodelay(true);
    let server_name = ServerName::try_from(t.server_name.clone())
        .map_err(|_| post(format!("tls: invalid server name {:?}", t.server_name)))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(server_name, stream)
        .await
        .map_err(|e| post(tls_error_text(&e, &t.server_name)))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| post(e.to_string()))?;
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let req = http::Request::builder()
        .method(http::Method::POST)
        .uri(&t.path_and_query)
        .header(http::header::HOST, &t.authority)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json, */*")
        .header(http::header::USER_AGENT, "k3rs-apiserver")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| post(e.to_string()))?;
    let resp = sender.send_request(req).await.map_err(|e| {
        post(if e.is_incomplete_message() {
            "EOF".to_string()
        } else {
            e.to_string()
        })
    })?;
    let code = resp.status().as_u16();
    let collected = Limited::new(resp.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| post(format!("reading the response: {e}")))?
        .to_bytes();
    if !(200..300).contains(&code) {
        // client-go: an error answer that is a Status is that Status' error.
        let status: Option<Value> = serde_json::from_slice(&collected).ok();
        let (reason, message) = match status
            .as_ref()
            .filter(|s| s.get("kind").and_then(Value::as_str) == Some("Status"))
        {
            Some(s) => (
                s.get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                s.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            ),
            None => generic_response_error(code, &collected),
        };
        return Err(CallError {
            reason: message.clone(),
            status: Some((code, reason, message)),
        });
    }
    serde_json::from_slice(&collected).map_err(|e| {
        CallError::new(format!(
            "couldn't decode the webhook's response as JSON: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timeouts_print_as_go_durations() {
        assert_eq!(go_seconds(Duration::from_secs(10)), "10s");
        assert_eq!(go_seconds(Duration::from_millis(1500)), "2s");
        assert_eq!(go_seconds(Duration::from_secs(90)), "1m30s");
        assert_eq!(join_path("", Some(Duration::from_secs(3))), "/?timeout=3s");
        assert_eq!(join_path("/v", None), "/v");
    }

    #[test]
    fn client_configs_read_from_json() {
        let cc = ClientConfig::from_value(&json!({
            "service": {"namespace": "ns", "name": "svc", "path": "/x"},
            "caBundle": "LS0tCg=="
        }));
        let svc = cc.service.unwrap();
        assert_eq!((svc.port, svc.path.as_str()), (443, "/x"));
        assert_eq!(cc.ca_bundle, b"---\n");
    }

    #[test]
    fn generic_errors_read_as_client_gos() {
        assert_eq!(
            generic_response_error(500, b"boom").1,
            r#"an error on the server ("boom") has prevented the request from succeeding"#
        );
        assert_eq!(
            generic_response_error(302, b"").1,
            "the server responded with the status code 302 but did not return more information"
        );
    }
}
