//! Admission webhooks and CRD conversion webhooks against a real `k3rs server`, driven by stock
//! kubectl. The test serves the webhooks itself, over HTTPS on 127.0.0.1 with a CA and a serving
//! certificate it makes, and checks what the server sends them as well as what kubectl sees:
//! refusals with the webhook's message, JSONPatch mutations and reinvocation, timeouts under both
//! failure policies, namespace and object selectors, dry runs, warnings, a webhook reached
//! through a Service, and a conversion webhook between two versions of a CRD.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// Everything the webhooks received: (path, review).
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

struct Webhooks {
    addr: SocketAddr,
    ca_pem: String,
    seen: Seen,
}

impl Webhooks {
    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    fn ca_bundle(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem)
    }

    /// The reviews `path` received.
    fn seen(&self, path: &str) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// A CA and a serving certificate for 127.0.0.1 and `webhook.default.svc`.
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "webhook test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name.push(DnType::CommonName, "webhook");
    leaf.subject_alt_names = vec![
        SanType::IpAddress("127.0.0.1".parse().unwrap()),
        SanType::DnsName("webhook.default.svc".try_into().unwrap()),
    ];
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn admission_response(req: &Value, mut response: Value) -> Value {
    response["uid"] = req["request"]["uid"].clone();
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
}

fn patch_response(req: &Value, ops: Value) -> Value {
    let patch = base64::engine::general_purpose::STANDARD.encode(ops.to_string());
    admission_response(
        req,
        json!({"allowed": true, "patchType": "JSONPatch", "patch": patch}),
    )
}

/// `add` operations setting `/metadata/<map>/<key>` whether or not the map exists.
fn set_in_map(obj: &Value, map: &str, key: &str, value: &str) -> Value {
    if obj["metadata"][map].is_object() {
        json!([{"op": "add", "path": format!("/metadata/{map}/{}", key.replace('/', "~1")), "value": value}])
    } else {
        json!([{"op": "add", "path": format!("/metadata/{map}"), "value": {key: value}}])
    }
}

/// v1 `spec.hostPort: "h:p"` <-> v2 `spec.host`, `spec.port`.
fn convert(obj: &Value, to: &str) -> Value {
    let mut out = obj.clone();
    out["apiVersion"] = json!(to);
    let spec = obj["spec"].clone();
    if to.ends_with("/v2") {
        if let Some(hp) = spec["hostPort"].as_str() {
            let (h, p) = hp.split_once(':').unwrap_or((hp, "0"));
            out["spec"] = json!({"host": h, "port": p.parse::<i64>().unwrap_or(0)});
        }
    } else if let Some(h) = spec["host"].as_str() {
        out["spec"] = json!({"hostPort": format!("{h}:{}", spec["port"])});
    }
    out
}

async fn answer(path: &str, req: &Value) -> Value {
    let request = &req["request"];
    let obj = &request["object"];
    match path {
        "/deny" => {
            if obj["data"]["verdict"] == "deny" {
                admission_response(
                    req,
                    json!({"allowed": false, "status": {"code": 403, "reason": "Forbidden", "message": "verdict says no"}}),
                )
            } else {
                let name = request["name"].as_str().unwrap_or("");
                admission_response(
                    req,
                    json!({"allowed": true, "warnings": [format!("looked at {name}")], "auditAnnotations": {"seen": "yes"}}),
                )
            }
        }
        // Reinvoked when the second one changes the object: then it sees the second's label.
        "/mutate-first" => {
            let saw = obj["metadata"]["labels"]["second"]
                .as_str()
                .unwrap_or("none");
            patch_response(req, set_in_map(obj, "annotations", "first-saw", saw))
        }
        "/mutate-second" => {
            let mut ops = set_in_map(obj, "labels", "second", "yes");
            if obj["metadata"]["labels"].is_object() {
                ops.as_array_mut().unwrap().push(json!({"op": "add", "path": "/metadata/labels/mutated-by", "value": "k3rs-test"}));
            } else {
                ops[0]["value"]["mutated-by"] = json!("k3rs-test");
            }
            patch_response(req, ops)
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(4)).await;
            admission_response(req, json!({"allowed": true}))
        }
        "/convert" => {
            let to = request["desiredAPIVersion"].as_str().unwrap_or("");
            let objects: Vec<Value> = request["objects"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|o| convert(o, to))
                .collect();
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview", "response": {
                "uid": request["uid"], "convertedObjects": objects, "result": {"status": "Success"}}})
        }
        _ => json!({"error": "no such webhook"}),
    }
}

/// Starts the webhook server on its own thread and runtime.
fn serve() -> Webhooks {
    let (ca_pem, cert_pem, key_pem) = certificates();
    let certs = rustls_pemfile::certs(&mut cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
        .unwrap()
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let seen: Seen = Default::default();
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, seen) = (acceptor.clone(), seen2.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let path = req.uri().path().to_string();
                            let body = req.into_body().collect().await?.to_bytes();
                            let review: Value =
                                serde_json::from_slice(&body).unwrap_or(Value::Null);
                            seen.lock().unwrap().push((path.clone(), review.clone()));
                            let out = answer(&path, &review).await;
                            let mut resp = Response::new(Full::new(Bytes::from(out.to_string())));
                            resp.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static("application/json"),
                            );
                            Ok::<_, hyper::Error>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
    });
    Webhooks { addr, ca_pem, seen }
}

fn create(k: &common::K3rs, yaml: &str, extra: &[&str]) -> Output {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig")
        .arg(k.kubeconfig())
        .args(["create", "-f", "-"])
        .args(extra)
        .env("KUBECACHEDIR", k.dir.path().join("kubecache"));
    common::output_with_stdin(&mut cmd, yaml, "kubectl")
}

fn must_create(k: &common::K3rs, yaml: &str) -> String {
    let out = create(k, yaml, &[]);
    assert!(
        out.status.success(),
        "kubectl create failed: {}\n{yaml}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn configmap(ns: &str, name: &str, verdict: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{{labels}}}\ndata:\n  verdict: {verdict}\n"
    )
}

fn get_json(k: &common::K3rs, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&k.ok(&all)).unwrap()
}

fn namespace(k: &common::K3rs, name: &str, label: Option<&str>) {
    k.ok(&["create", "namespace", name]);
    if let Some(l) = label {
        k.ok(&["label", "namespace", name, l]);
    }
}

#[test]
fn validating_webhooks_refuse_warn_and_honour_selectors_and_dry_run() {
    let hooks = serve();
    let k = common::K3rs::start(None);
    namespace(&k, "hooked", Some("webhook=on"));
    namespace(&k, "plain", None);
    must_create(
        &k,
        &format!(
            r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: deny
webhooks:
- name: deny.k3rs.test
  clientConfig:
    url: {url}
    caBundle: {ca}
  rules:
  - operations: ["CREATE", "UPDATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["configmaps"]
  namespaceSelector:
    matchLabels: {{webhook: "on"}}
  objectSelector:
    matchExpressions: [{{key: skip, operator: DoesNotExist}}]
  sideEffects: NoneOnDryRun
  admissionReviewVersions: ["v1"]
"#,
            url = hooks.url("/deny"),
            ca = hooks.ca_bundle()
        ),
    );
    // Defaults as upstream's.
    let cfg = get_json(&k, &["validatingwebhookconfiguration", "deny"]);
    let h = &cfg["webhooks"][0];
    assert_eq!(h["failurePolicy"], "Fail");
    assert_eq!(h["matchPolicy"], "Equivalent");
    assert_eq!(h["timeoutSeconds"], 10);
    assert_eq!(h["rules"][0]["scope"], "*");

    // Refused with the webhook's code, reason and message.
    let out = create(&k, &configmap("hooked", "refused", "deny", ""), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"Error from server (Forbidden)"#)
            && err.contains(
                r#"admission webhook "deny.k3rs.test" denied the request: verdict says no"#
            ),
        "{err}"
    );
    assert!(k
        .err(&["get", "configmap", "refused", "-n", "hooked"])
        .contains("NotFound"));
    let review = hooks.seen("/deny").pop().expect("the webhook was called");
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    let req = &review["request"];
    assert!(!req["uid"].as_str().unwrap_or("").is_empty());
    assert_eq!(
        req["kind"],
        json!({"group": "", "version": "v1", "kind": "ConfigMap"})
    );
    assert_eq!(
        req["resource"],
        json!({"group": "", "version": "v1", "resource": "configmaps"})
    );
    assert_eq!(req["requestKind"], req["kind"]);
    assert_eq!(
        (req["name"].as_str(), req["namespace"].as_str()),
        (Some("refused"), Some("hooked"))
    );
    assert_eq!(req["operation"], "CREATE");
    assert_eq!(req["userInfo"]["username"], "system:admin");
    assert!(req["userInfo"]["groups"]
        .as_array()
        .unwrap()
        .contains(&json!("system:masters")));
    assert_eq!(req["object"]["data"]["verdict"], "deny");
    assert_eq!(req["oldObject"], Value::Null);
    assert_eq!(req["dryRun"], false);
    assert_eq!(req["options"]["kind"], "CreateOptions");

    // Allowed, with the webhook's warning shown by kubectl.
    let stderr = must_create(&k, &configmap("hooked", "fine", "ok", ""));
    assert!(stderr.contains("Warning: looked at fine"), "{stderr}");

    // An update is sent with the old object.
    let out = k.kubectl(&[
        "patch",
        "configmap",
        "fine",
        "-n",
        "hooked",
        "-p",
        r#"{"data":{"verdict":"deny"}}"#,
    ]);
    assert!(!out.status.success());
    let req = hooks.seen("/deny").pop().unwrap()["request"].clone();
    assert_eq!(req["operation"], "UPDATE");
    assert_eq!(req["oldObject"]["data"]["verdict"], "ok");
    assert_eq!(req["object"]["data"]["verdict"], "deny");

    // namespaceSelector: not called outside labelled namespaces.
    let calls = hooks.seen("/deny").len();
    must_create(&k, &configmap("plain", "elsewhere", "deny", ""));
    // objectSelector: not called for objects labelled `skip`.
    must_create(&k, &configmap("hooked", "skipped", "deny", "skip: \"yes\""));
    assert_eq!(
        hooks.seen("/deny").len(),
        calls,
        "selectors let the webhook see these"
    );

    // A dry run reaches a NoneOnDryRun webhook, flagged as such, and can be refused too.
    let out = create(
        &k,
        &configmap("hooked", "dry", "deny", ""),
        &["--dry-run=server"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("verdict says no"));
    let req = hooks.seen("/deny").pop().unwrap()["request"].clone();
    assert_eq!(req["dryRun"], true);
    assert_eq!(req["options"]["dryRun"], json!(["All"]));

    // Webhook configurations themselves are never sent to webhooks.
    let cfg_rule = format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: deny-everything
webhooks:
- name: everything.k3rs.test
  clientConfig:
    url: {url}
    caBundle: {ca}
  rules:
  - operations: ["*"]
    apiGroups: ["admissionregistration.k8s.io"]
    apiVersions: ["*"]
    resources: ["*"]
  sideEffects: None
  admissionReviewVersions: ["v1"]
"#,
        url = hooks.url("/deny"),
        ca = hooks.ca_bundle()
    );
    let calls = hooks.seen("/deny").len();
    must_create(&k, &cfg_rule);
    k.ok(&[
        "delete",
        "validatingwebhookconfiguration",
        "deny-everything",
    ]);
    assert_eq!(hooks.seen("/deny").len(), calls);

    // matchConditions (CEL): the webhook is skipped when one is false, called when all hold.
    let conditional = format!(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: conditional
webhooks:
- name: conditional.k3rs.test
  clientConfig:
    url: {url}
    caBundle: {ca}
  rules:
  - operations: ["CREATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["configmaps"]
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: plain
  matchConditions:
  - name: not-skip-me
    expression: "object.metadata.name != 'skip-me'"
  - name: creates-by-admins
    expression: "request.operation == 'CREATE' && 'system:masters' in request.userInfo.groups"
  sideEffects: None
  admissionReviewVersions: ["v1"]
"#,
        url = hooks.url("/deny"),
        ca = hooks.ca_bundle()
    );
    must_create(&k, &conditional);
    let calls = hooks.seen("/deny").len();
    must_create(&k, &configmap("plain", "skip-me", "deny", ""));
    assert_eq!(
        hooks.seen("/deny").len(),
        calls,
        "a false condition skips the webhook"
    );
    let out = create(&k, &configmap("plain", "checked", "deny", ""), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("verdict says no"));
    k.ok(&["delete", "validatingwebhookconfiguration", "conditional"]);
    // A condition that does not compile is refused at validation.
    let uncompilable = conditional
        .replace(
            "object.metadata.name != 'skip-me'",
            "object.metadata.name !=",
        )
        .replace("name: conditional\n", "name: uncompilable\n");
    let out = create(&k, &uncompilable, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("webhooks[0].matchConditions[0].expression: Invalid value")
            && err.contains("compilation failed"),
        "{err}"
    );

    // Validation as upstream: side effects must be declared.
    let bad = cfg_rule
        .replace("  sideEffects: None\n", "")
        .replace("deny-everything", "bad");
    let out = create(&k, &bad, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun"
        ),
        "{err}"
    );
}

#[test]
fn mutating_webhooks_patch_in_order_and_are_reinvoked_if_needed() {
    let hooks = serve();
    let k = common::K3rs::start(None);
    namespace(&k, "mut", None);
    let hook = |name: &str, path: &str, reinvoke: &str| {
        format!(
            r#"- name: {name}
  clientConfig:
    url: {url}
    caBundle: {ca}
  rules:
  - operations: ["CREATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["configmaps"]
    scope: Namespaced
  reinvocationPolicy: {reinvoke}
  sideEffects: None
  admissionReviewVersions: ["v1beta1", "v1"]
"#,
            url = hooks.url(path),
            ca = hooks.ca_bundle()
        )
    };
    must_create(
        &k,
        &format!(
            "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: mutate\nwebhooks:\n{}{}",
            hook("first.k3rs.test", "/mutate-first", "IfNeeded"),
            hook("second.k3rs.test", "/mutate-second", "Never")
        ),
    );
    must_create(&k, &configmap("mut", "m", "ok", ""));
    let cm = get_json(&k, &["configmap", "m", "-n", "mut"]);
    assert_eq!(cm["metadata"]["labels"]["mutated-by"], "k3rs-test");
    assert_eq!(cm["metadata"]["labels"]["second"], "yes");
    // The first webhook ran again after the second changed the object.
    assert_eq!(cm["metadata"]["annotations"]["first-saw"], "yes");
    assert_eq!(hooks.seen("/mutate-first").len(), 2);
    assert_eq!(hooks.seen("/mutate-second").len(), 1);
    // The first review version the webhook accepts is the one sent.
    assert_eq!(
        hooks.seen("/mutate-second")[0]["apiVersion"],
        "admission.k8s.io/v1beta1"
    );
}

#[test]
fn timeouts_follow_the_failure_policy_and_services_resolve_to_endpoints() {
    let hooks = serve();
    let k = common::K3rs::start(None);
    namespace(&k, "slow-ignore", Some("slow=ignore"));
    namespace(&k, "slow-fail", Some("slow=fail"));
    namespace(&k, "svc", Some("svc=yes"));
    let slow = |policy: &str| {
        format!(
            r#"- name: slow-{lower}.k3rs.test
  clientConfig:
    url: {url}
    caBundle: {ca}
  rules:
  - operations: ["CREATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["configmaps"]
  namespaceSelector:
    matchLabels: {{slow: {lower}}}
  failurePolicy: {policy}
  timeoutSeconds: 1
  sideEffects: None
  admissionReviewVersions: ["v1"]
"#,
            lower = policy.to_ascii_lowercase(),
            url = hooks.url("/slow"),
            ca = hooks.ca_bundle()
        )
    };
    must_create(
        &k,
        &format!(
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata:\n  name: slow\nwebhooks:\n{}{}",
            slow("Ignore"),
            slow("Fail")
        ),
    );
    must_create(&k, &configmap("slow-ignore", "a", "ok", ""));
    assert_eq!(hooks.seen("/slow").len(), 1);
    let out = create(&k, &configmap("slow-fail", "b", "ok", ""), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        r#"Internal error occurred: failed calling webhook "slow-fail.k3rs.test": failed to call webhook: Post "{}?timeout=1s": context deadline exceeded"#,
        hooks.url("/slow")
    );
    assert!(
        err.contains("(InternalError)") && err.contains(&want),
        "{err}"
    );

    // A webhook behind a Service: resolved through its Endpoints, verified as
    // webhook.default.svc.
    must_create(
        &k,
        &format!(
            r#"apiVersion: v1
kind: Service
metadata: {{name: webhook, namespace: default}}
spec:
  ports: [{{name: https, port: 443, targetPort: 9443}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: webhook, namespace: default}}
subsets:
- addresses: [{{ip: 127.0.0.1}}]
  ports: [{{name: https, port: {port}}}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {{name: by-service}}
webhooks:
- name: svc.k3rs.test
  clientConfig:
    service: {{namespace: default, name: webhook, path: /deny}}
    caBundle: {ca}
  rules:
  - operations: ["CREATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["configmaps"]
  namespaceSelector:
    matchLabels: {{svc: "yes"}}
  sideEffects: None
  admissionReviewVersions: ["v1"]
"#,
            port = hooks.addr.port(),
            ca = hooks.ca_bundle()
        ),
    );
    let cfg = get_json(&k, &["validatingwebhookconfiguration", "by-service"]);
    assert_eq!(cfg["webhooks"][0]["clientConfig"]["service"]["port"], 443);
    let out = create(&k, &configmap("svc", "c", "deny", ""), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"admission webhook "svc.k3rs.test" denied the request: verdict says no"#),
        "{err}"
    );
    // Without endpoints the Service resolves to nothing reachable: refused as upstream.
    k.ok(&["delete", "endpoints", "webhook", "-n", "default"]);
    k.ok(&[
        "patch",
        "service",
        "webhook",
        "-n",
        "default",
        "--type=json",
        "-p",
        r#"[{"op": "replace", "path": "/spec/ports/0/port", "value": 8443}]"#,
    ]);
    let out = create(&k, &configmap("svc", "d", "ok", ""), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"failed calling webhook "svc.k3rs.test": failed to call webhook: Post "https://webhook.default.svc:443/deny?timeout=10s": no service port 443 found for service "webhook""#),
        "{err}"
    );
}

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.conv.k3rs.test
spec:
  group: conv.k3rs.test
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: ["v1"]
      clientConfig:
        url: URL
        caBundle: CA
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              hostPort: {type: string}
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              host: {type: string}
              port: {type: integer}
"#;

#[test]
fn conversion_webhooks_convert_custom_resources_between_versions() {
    let hooks = serve();
    let k = common::K3rs::start(None);
    // Without a webhook, validation says what is missing (upstream's internal field paths).
    let missing = CRD.replace(
        "    webhook:\n      conversionReviewVersions: [\"v1\"]\n      clientConfig:\n        url: URL\n        caBundle: CA\n",
        "",
    );
    let err = String::from_utf8_lossy(&create(&k, &missing, &[]).stderr).into_owned();
    assert!(
        err.contains("spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook"),
        "{err}"
    );
    must_create(
        &k,
        &CRD.replace("URL", &hooks.url("/convert"))
            .replace("CA", &hooks.ca_bundle()),
    );
    k.ok(&[
        "wait",
        "--for",
        "condition=established",
        "crd/widgets.conv.k3rs.test",
        "--timeout=60s",
    ]);

    // Written in the storage version, read in the other one.
    must_create(
        &k,
        "apiVersion: conv.k3rs.test/v1\nkind: Widget\nmetadata: {name: alpha, namespace: default}\nspec: {hostPort: \"example.com:8080\"}\n",
    );
    let v2 = get_json(&k, &["widgets.v2.conv.k3rs.test", "alpha"]);
    assert_eq!(v2["apiVersion"], "conv.k3rs.test/v2");
    assert_eq!(v2["spec"], json!({"host": "example.com", "port": 8080}));
    let review = hooks
        .seen("/convert")
        .pop()
        .expect("the conversion webhook was called");
    assert_eq!(review["apiVersion"], "apiextensions.k8s.io/v1");
    assert_eq!(review["request"]["desiredAPIVersion"], "conv.k3rs.test/v2");
    assert_eq!(
        review["request"]["objects"][0]["spec"]["hostPort"],
        "example.com:8080"
    );

    // Written in v2: stored in v1 (the storage version), read back in either.
    must_create(
        &k,
        "apiVersion: conv.k3rs.test/v2\nkind: Widget\nmetadata: {name: beta, namespace: default}\nspec: {host: b.example, port: 9090}\n",
    );
    assert!(hooks
        .seen("/convert")
        .iter()
        .any(|r| r["request"]["desiredAPIVersion"] == "conv.k3rs.test/v1"
            && r["request"]["objects"][0]["metadata"]["name"] == "beta"));
    let v1 = get_json(&k, &["widgets.v1.conv.k3rs.test", "beta"]);
    assert_eq!(v1["spec"], json!({"hostPort": "b.example:9090"}));
    let v2 = get_json(&k, &["widgets.v2.conv.k3rs.test", "beta"]);
    assert_eq!(v2["spec"], json!({"host": "b.example", "port": 9090}));

    // A list converts every item, in one review.
    let list = get_json(&k, &["widgets.v2.conv.k3rs.test"]);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items
        .iter()
        .all(|i| i["apiVersion"] == "conv.k3rs.test/v2" && i["spec"]["host"].is_string()));
    assert!(hooks
        .seen("/convert")
        .iter()
        .any(|r| r["request"]["objects"]
            .as_array()
            .is_some_and(|o| o.len() == 2)));
    // kubectl's table for v2 comes from converted objects too.
    let table = k.ok(&["get", "widgets.v2.conv.k3rs.test"]);
    assert!(table.contains("alpha") && table.contains("beta"), "{table}");

    // Watch events carry converted objects.
    let out = k.curl(&[
        &k.url("/apis/conv.k3rs.test/v2/namespaces/default/widgets?watch=1&timeoutSeconds=2")
    ]);
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events
        .iter()
        .all(|e| e["object"]["spec"]["port"].is_number()));

    // An update in v2 is converted to storage and back.
    k.ok(&[
        "patch",
        "widgets.v2.conv.k3rs.test",
        "alpha",
        "--type=merge",
        "-p",
        r#"{"spec":{"port":8081}}"#,
    ]);
    let v1 = get_json(&k, &["widgets.v1.conv.k3rs.test", "alpha"]);
    assert_eq!(v1["spec"]["hostPort"], "example.com:8081");

    // matchPolicy Equivalent: a webhook asking for v2 sees a v1 write, converted to v2.
    must_create(
        &k,
        &format!(
            r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {{name: widgets-v2}}
webhooks:
- name: widgets.k3rs.test
  clientConfig:
    url: {url}
    caBundle: {ca}
  rules:
  - operations: ["CREATE"]
    apiGroups: ["conv.k3rs.test"]
    apiVersions: ["v2"]
    resources: ["widgets"]
  sideEffects: None
  admissionReviewVersions: ["v1"]
"#,
            url = hooks.url("/deny"),
            ca = hooks.ca_bundle()
        ),
    );
    must_create(
        &k,
        "apiVersion: conv.k3rs.test/v1\nkind: Widget\nmetadata: {name: gamma, namespace: default}\nspec: {hostPort: \"g.example:7070\"}\n",
    );
    let req = hooks
        .seen("/deny")
        .pop()
        .expect("the v2 webhook was called")["request"]
        .clone();
    assert_eq!(
        req["kind"],
        json!({"group": "conv.k3rs.test", "version": "v2", "kind": "Widget"})
    );
    assert_eq!(req["requestKind"]["version"], "v1");
    assert_eq!(req["resource"]["version"], "v2");
    assert_eq!(req["object"]["apiVersion"], "conv.k3rs.test/v2");
    assert_eq!(
        req["object"]["spec"],
        json!({"host": "g.example", "port": 7070})
    );
    k.ok(&["delete", "validatingwebhookconfiguration", "widgets-v2"]);

    // A conversion webhook that cannot be reached: reads needing it fail as upstream's, reads in
    // the storage version need no conversion.
    k.ok(&["patch", "crd", "widgets.conv.k3rs.test", "--type=json", "-p",
        r#"[{"op": "replace", "path": "/spec/conversion/webhook/clientConfig/url", "value": "https://127.0.0.1:1/convert"}]"#]);
    let mut err = String::new();
    for _ in 0..50 {
        let out = k.kubectl(&["get", "widgets.v2.conv.k3rs.test", "alpha"]);
        if !out.status.success() {
            err = String::from_utf8_lossy(&out.stderr).into_owned();
            break;
        }
        // The CRD controller has not re-registered the CRD yet.
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        err.contains("(InternalError)")
            && err.contains(r#"conversion webhook for conv.k3rs.test/v1, Kind=Widget failed: Post "https://127.0.0.1:1/convert": dial tcp 127.0.0.1:1: connect: connection refused"#),
        "{err}"
    );
    let v1 = get_json(&k, &["widgets.v1.conv.k3rs.test", "alpha"]);
    assert_eq!(v1["spec"]["hostPort"], "example.com:8081");
}
