//! Service-account tokens and secrets encryption, end to end: a real `k3rs server`, stock kubectl
//! and curl. Authentication is proven by the 401-vs-403 difference: an accepted token reaches
//! authorization, which names the service-account user in its 403 message.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::K3rs;
use k3rs_auth::serviceaccount::{BoundToken, ObjectRef, SigningKey, TokenIssuer, DEFAULT_ISSUER};
use serde_json::Value;

/// (HTTP code, body) of a GET with a bearer token and no client certificate.
fn get_with_token(k: &K3rs, path: &str, token: &str) -> (u16, Value) {
    let out = k
        .anon_curl()
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["-w", "\n%{http_code}", &k.url(path)])
        .output()
        .expect("curl");
    let (code, body) = common::code_and_body(&out);
    (code, common::json_or_text(body))
}

/// Asserts the token authenticates as `user`: the request gets past authentication (403 from
/// authorization naming the user), not 401.
fn assert_authenticates_as(k: &K3rs, token: &str, user: &str) {
    let (code, body) = get_with_token(k, "/api/v1/namespaces/kube-system/secrets", token);
    assert_eq!(code, 403, "token should authenticate as {user}: {body}");
    let msg = body["message"].as_str().unwrap_or_default();
    assert!(msg.contains(&format!("User \"{user}\"")), "{msg}");
}

fn assert_unauthorized(k: &K3rs, token: &str, why: &str) {
    let (code, body) = get_with_token(k, "/api/v1/namespaces/kube-system/secrets", token);
    assert_eq!(code, 401, "{why}: {body}");
    assert_eq!(body["reason"], "Unauthorized", "{why}");
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("JWT payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

fn jwt_header(token: &str) -> Value {
    let h = token.split('.').next().expect("JWT header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).expect("base64url")).expect("JSON")
}

fn uid_of(k: &K3rs, args: &[&str]) -> String {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "jsonpath={.metadata.uid}"]);
    let uid = k.ok(&a);
    assert!(!uid.is_empty(), "{args:?} has no uid");
    uid
}

/// The server's own issuer, loaded from its data dir (to mint tokens a client cannot get from the
/// API, e.g. already expired).
fn server_issuer(k: &K3rs) -> TokenIssuer {
    let key = SigningKey::load_or_create(&k.dir.path().join("server/tls/service.key")).unwrap();
    TokenIssuer::new(key, DEFAULT_ISSUER, vec![]).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn token_request_and_bound_token_authentication() {
    let k = K3rs::start(None);
    // kubectl create token (typed client; protobuf body from kubectl 1.32 on).
    let token = k.ok(&["create", "token", "default", "-n", "default"]);
    let token = token.trim();
    let c = claims(token);
    let sa_uid = uid_of(&k, &["sa", "default", "-n", "default"]);
    assert_eq!(c["iss"], DEFAULT_ISSUER);
    assert_eq!(c["sub"], "system:serviceaccount:default:default");
    assert_eq!(c["aud"], serde_json::json!([DEFAULT_ISSUER]));
    assert_eq!(c["kubernetes.io"]["serviceaccount"]["uid"], sa_uid.as_str());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(c["nbf"], c["iat"]);
    assert!(c["jti"].as_str().is_some_and(|j| j.len() == 36));
    assert_eq!(jwt_header(token)["alg"], "RS256");
    assert_authenticates_as(&k, token, "system:serviceaccount:default:default");

    // The token in a kubeconfig: kubectl reaches authorization as the service account.
    let sa = k.token_kubeconfig("sa", token);
    let out = k.kubectl_with(&sa, &["get", "--raw", "/api/v1/namespaces/default/secrets"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("Forbidden") && err.contains("User \"system:serviceaccount:default:default\""),
        "{err}"
    );
    let bad = k.token_kubeconfig("bad", "not-a-token");
    let out = k.kubectl_with(
        &bad,
        &["get", "--raw", "/api/v1/namespaces/default/secrets"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("Unauthorized"), "{err}");

    // Expiry, duration limits and missing service accounts.
    let out = k.ok(&[
        "create",
        "token",
        "default",
        "-n",
        "default",
        "--duration",
        "2h",
    ]);
    let c2 = claims(out.trim());
    assert_eq!(
        c2["exp"].as_i64().unwrap() - c2["iat"].as_i64().unwrap(),
        7200
    );
    let err = k.err(&["create", "token", "default", "--duration", "5m"]);
    assert!(
        err.contains("may not specify a duration less than 10 minutes"),
        "{err}"
    );
    let err = k.err(&["create", "token", "nosuch"]);
    assert!(
        err.contains("serviceaccounts \"nosuch\" not found"),
        "{err}"
    );

    // Wrong audience.
    let vault = k.ok(&["create", "token", "default", "--audience", "vault"]);
    assert_eq!(claims(vault.trim())["aud"], serde_json::json!(["vault"]));
    assert_unauthorized(&k, vault.trim(), "audience not of the API server");

    // Tampered payload (claims another service account) and a foreign signing key.
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims(token);
    forged["sub"] = "system:serviceaccount:kube-system:default".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    assert_unauthorized(&k, &tampered, "tampered payload");
    let foreign = TokenIssuer::new(
        SigningKey::from_pem(include_str!(
            "../../../pkg/auth/src/testdata/sa-openssl.key"
        ))
        .unwrap(),
        DEFAULT_ISSUER,
        vec![],
    )
    .unwrap();
    let sa = ObjectRef {
        name: "default".into(),
        uid: sa_uid.clone(),
    };
    let auds = vec![DEFAULT_ISSUER.to_string()];
    let bound = |expiration_seconds| BoundToken {
        namespace: "default",
        service_account: sa.clone(),
        audiences: &auds,
        expiration_seconds,
        ..Default::default()
    };
    let (foreign_tok, _) = foreign.issue(&bound(3600), now()).unwrap();
    assert_unauthorized(&k, &foreign_tok, "signed by another key");

    // Expired: minted with the server's key an hour ago for 10 minutes (beyond the 60 s leeway);
    // the same key minting a fresh token is accepted, so only the time differs.
    let issuer = server_issuer(&k);
    let (expired, _) = issuer.issue(&bound(600), now() - 3600).unwrap();
    assert_unauthorized(&k, &expired, "expired token");
    let (fresh, _) = issuer.issue(&bound(600), now()).unwrap();
    assert_authenticates_as(&k, &fresh, "system:serviceaccount:default:default");

    // Bound to a pod: valid while the pod exists, 401 once it is deleted.
    k.ok(&["create", "serviceaccount", "builder"]);
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1"},"spec":{"serviceAccountName":"builder","containers":[{"name":"c","image":"busybox"}]}}"#;
    let pod_file = k.dir.path().join("pod.json");
    std::fs::write(&pod_file, pod).unwrap();
    k.ok(&[
        "create",
        "--validate=false",
        "-f",
        pod_file.to_str().unwrap(),
    ]);
    let pod_uid = uid_of(&k, &["pod", "p1"]);
    let pod_tok = k.ok(&[
        "create",
        "token",
        "builder",
        "--bound-object-kind",
        "Pod",
        "--bound-object-name",
        "p1",
    ]);
    let pod_tok = pod_tok.trim();
    let pc = claims(pod_tok);
    assert_eq!(pc["kubernetes.io"]["pod"]["name"], "p1");
    assert_eq!(pc["kubernetes.io"]["pod"]["uid"], pod_uid.as_str());
    assert_authenticates_as(&k, pod_tok, "system:serviceaccount:default:builder");
    // A pod running as another service account cannot be bound; a stale UID is a conflict.
    let err = k.err(&[
        "create",
        "token",
        "default",
        "--bound-object-kind",
        "Pod",
        "--bound-object-name",
        "p1",
    ]);
    assert!(err.contains("different serviceaccount name"), "{err}");
    let err = k.err(&[
        "create",
        "token",
        "builder",
        "--bound-object-kind",
        "Pod",
        "--bound-object-name",
        "p1",
        "--bound-object-uid",
        "00000000-0000-0000-0000-000000000000",
    ]);
    assert!(err.contains("does not match the UID in record"), "{err}");
    k.ok(&["delete", "pod", "p1", "--force", "--grace-period=0"]);
    assert_unauthorized(&k, pod_tok, "token bound to a deleted pod");

    // Bound to a secret: 401 once the secret is gone.
    k.ok(&[
        "create",
        "secret",
        "generic",
        "anchor",
        "--from-literal=a=b",
    ]);
    let sec_tok = k.ok(&[
        "create",
        "token",
        "builder",
        "--bound-object-kind",
        "Secret",
        "--bound-object-name",
        "anchor",
    ]);
    assert_eq!(
        claims(sec_tok.trim())["kubernetes.io"]["secret"]["name"],
        "anchor"
    );
    assert_authenticates_as(&k, sec_tok.trim(), "system:serviceaccount:default:builder");
    k.ok(&["delete", "secret", "anchor"]);
    assert_unauthorized(&k, sec_tok.trim(), "token bound to a deleted secret");

    // The service account itself: deleting it (even re-creating it with a new UID) revokes.
    let sa_tok = k.ok(&["create", "token", "builder"]);
    assert_authenticates_as(&k, sa_tok.trim(), "system:serviceaccount:default:builder");
    k.ok(&["delete", "serviceaccount", "builder"]);
    k.ok(&["create", "serviceaccount", "builder"]);
    assert_unauthorized(
        &k,
        sa_tok.trim(),
        "service account re-created with a new UID",
    );

    // Discovery lists serviceaccounts/token as a create-only TokenRequest subresource.
    let (code, v) = k.http("GET", "/api/v1", "", "");
    assert_eq!(code, 200);
    let sub = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "serviceaccounts/token")
        .cloned()
        .expect("serviceaccounts/token in /api/v1");
    assert_eq!(sub["kind"], "TokenRequest");
    assert_eq!(sub["group"], "authentication.k8s.io");
    assert_eq!(sub["verbs"], serde_json::json!(["create"]));
}

#[test]
fn legacy_token_secrets_are_filled_and_work() {
    let k = K3rs::start(None);
    k.ok(&["create", "serviceaccount", "build-robot"]);
    let manifest = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"build-robot-token","annotations":{"kubernetes.io/service-account.name":"build-robot"}},"type":"kubernetes.io/service-account-token"}"#;
    let f = k.dir.path().join("secret.json");
    std::fs::write(&f, manifest).unwrap();
    k.ok(&["create", "--validate=false", "-f", f.to_str().unwrap()]);
    // The token controller fills it in (polled until a generous deadline; not a timing check).
    let deadline = Instant::now() + Duration::from_secs(60);
    let secret: Value = loop {
        let s: Value =
            serde_json::from_str(&k.ok(&["get", "secret", "build-robot-token", "-o", "json"]))
                .unwrap();
        if s.pointer("/data/token").is_some() {
            break s;
        }
        assert!(Instant::now() < deadline, "token never filled in: {s}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let data = |key: &str| {
        String::from_utf8(
            STANDARD
                .decode(secret["data"][key].as_str().unwrap_or_default())
                .unwrap(),
        )
        .unwrap()
    };
    let token = data("token");
    assert_eq!(data("namespace"), "default");
    assert_eq!(
        data("ca.crt"),
        std::fs::read_to_string(k.tls("server-ca.crt")).unwrap()
    );
    let sa_uid = uid_of(&k, &["sa", "build-robot"]);
    assert_eq!(
        secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"],
        sa_uid.as_str()
    );
    let c = claims(&token);
    assert_eq!(c["iss"], "kubernetes/serviceaccount");
    assert!(c.get("exp").is_none(), "legacy tokens do not expire");
    assert_eq!(
        c["kubernetes.io/serviceaccount/secret.name"],
        "build-robot-token"
    );
    assert_authenticates_as(&k, &token, "system:serviceaccount:default:build-robot");
    // Deleting the secret revokes the token.
    k.ok(&["delete", "secret", "build-robot-token"]);
    assert_unauthorized(&k, &token, "legacy token whose secret is gone");

    // A token secret for a service account that does not exist is deleted by the controller.
    let orphan = manifest
        .replace("build-robot-token", "orphan-token")
        .replace("\"build-robot\"", "\"nobody\"");
    std::fs::write(&f, orphan).unwrap();
    k.ok(&["create", "--validate=false", "-f", f.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = k.err_or_ok(&["get", "secret", "orphan-token", "-o", "name"]);
        if out.contains("NotFound") || out.contains("not found") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "orphan token secret never deleted: {out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn oidc_discovery_documents_verify_our_tokens() {
    let k = K3rs::start(None);
    let headers = |path: &str| {
        let out = k.curl(&["-i", &k.url(path)]);
        String::from_utf8_lossy(&out.stdout).to_ascii_lowercase()
    };
    let h = headers("/.well-known/openid-configuration");
    assert!(h.contains("content-type: application/json"), "{h}");
    assert!(h.contains("cache-control: public, max-age=3600"), "{h}");
    let h = headers("/openid/v1/jwks");
    assert!(h.contains("content-type: application/jwk-set+json"), "{h}");
    assert!(h.contains("cache-control: public, max-age=3600"), "{h}");

    let (code, cfg) = k.http("GET", "/.well-known/openid-configuration", "", "");
    assert_eq!(code, 200);
    assert_eq!(cfg["issuer"], DEFAULT_ISSUER);
    assert_eq!(
        cfg["jwks_uri"],
        format!("https://127.0.0.1:{}/openid/v1/jwks", k.port).as_str()
    );
    assert_eq!(
        cfg["response_types_supported"],
        serde_json::json!(["id_token"])
    );
    assert_eq!(
        cfg["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        cfg["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    let (code, jwks) = k.http("GET", "/openid/v1/jwks", "", "");
    assert_eq!(code, 200);
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "RS256");

    // A token we issued verifies with the published key (ring, independent of our verifier).
    let token = k.ok(&["create", "token", "default"]);
    let token = token.trim();
    assert_eq!(jwt_header(token)["kid"], key["kid"]);
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let public = ring::signature::RsaPublicKeyComponents { n: &n, e: &e };
    public
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &sig,
        )
        .expect("token verifies with the JWKS key");
    let mut altered = signed.as_bytes().to_vec();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    assert!(public
        .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &altered, &sig)
        .is_err());
    // The kid is upstream's: base64url(sha256(DER SubjectPublicKeyInfo)), checked with openssl.
    let spki = Command::new("openssl")
        .args(["rsa", "-pubout", "-outform", "DER", "-in"])
        .arg(k.dir.path().join("server/tls/service.key"))
        .output();
    if let Some(out) = spki.ok().filter(|o| o.status.success()) {
        let digest = ring::digest::digest(&ring::digest::SHA256, &out.stdout);
        assert_eq!(key["kid"], URL_SAFE_NO_PAD.encode(digest.as_ref()).as_str());
    }
    // Not public: no credentials, no documents.
    assert_eq!(k.anon_status(&[], "/openid/v1/jwks"), "401");
}

/// Every byte of the SQLite datastore files (database, WAL).
fn db_bytes(k: &K3rs) -> Vec<u8> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(k.dir.path().join("server/db")).unwrap() {
        all.extend(std::fs::read(e.unwrap().path()).unwrap_or_default());
    }
    all
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn k3rs_cmd(k: &K3rs, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_k3rs"))
        .args(args)
        .arg("--data-dir")
        .arg(k.dir.path())
        .output()
        .expect("k3rs")
}

fn secret_value(k: &K3rs, name: &str) -> String {
    let b64 = k.ok(&["get", "secret", name, "-o", "jsonpath={.data.password}"]);
    String::from_utf8(STANDARD.decode(b64.trim()).unwrap()).unwrap()
}

#[test]
fn secrets_encryption_at_rest_and_key_rotation() {
    // A secret written before encryption was turned on stays readable afterwards.
    let mut k = K3rs::start(None);
    k.ok(&[
        "create",
        "secret",
        "generic",
        "before",
        "--from-literal=password=PlainBeforeEncryption1",
    ]);
    k.stop();
    k.extra_args = vec!["--secrets-encryption".into()];
    k.spawn();
    let value = "EncryptedAtRestValue42";
    let b64 = STANDARD.encode(value);
    k.ok(&[
        "create",
        "secret",
        "generic",
        "after",
        &format!("--from-literal=password={value}"),
    ]);
    // Control: a value of the same shape in a ConfigMap is found in the file, so the search
    // works; the Secret's is not (its whole stored object is ciphertext).
    let control = STANDARD.encode("ControlConfigMapValue7");
    k.ok(&[
        "create",
        "configmap",
        "control",
        &format!("--from-literal=password={control}"),
    ]);
    let db = db_bytes(&k);
    assert!(
        contains(&db, control.as_bytes()),
        "control value not in the datastore"
    );
    assert!(
        !contains(&db, b64.as_bytes()),
        "secret data stored in clear"
    );
    assert!(
        !contains(&db, value.as_bytes()),
        "secret value stored in clear"
    );
    assert!(contains(&db, b"k8s:enc:aescbc:v1:aescbckey-"));
    // Reads are transparent, for the new and the old (plaintext) secret.
    assert_eq!(secret_value(&k, "after"), value);
    assert_eq!(secret_value(&k, "before"), "PlainBeforeEncryption1");
    let cfg: Value = serde_json::from_str(
        &std::fs::read_to_string(k.dir.path().join("server/cred/encryption-config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cfg["kind"], "EncryptionConfiguration");
    assert_eq!(cfg["apiVersion"], "apiserver.config.k8s.io/v1");
    let old_key = cfg["resources"][0]["providers"][0]["aescbc"]["keys"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        cfg["resources"][0]["providers"][1],
        serde_json::json!({"identity": {}})
    );

    // Rotation refuses to run next to a running server.
    let out = k3rs_cmd(&k, &["secrets-encrypt", "rotate-keys"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("locked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    k.stop();
    let status = k3rs_cmd(&k, &["secrets-encrypt", "status"]);
    let status_text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.status.success(), "{status:?}");
    assert!(
        status_text.contains(&format!("k8s:enc:aescbc:v1:{old_key}")),
        "{status_text}"
    );
    assert!(status_text.contains("plaintext: 1"), "{status_text}");
    let out = k3rs_cmd(&k, &["secrets-encrypt", "rotate-keys"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg: Value = serde_json::from_str(
        &std::fs::read_to_string(k.dir.path().join("server/cred/encryption-config.json")).unwrap(),
    )
    .unwrap();
    let keys = cfg["resources"][0]["providers"][0]["aescbc"]["keys"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(keys.len(), 1, "old key dropped: {keys:?}");
    let new_key = keys[0]["name"].as_str().unwrap().to_string();
    assert_ne!(new_key, old_key);
    let status = k3rs_cmd(&k, &["secrets-encrypt", "status"]);
    let status_text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        !status_text.contains("plaintext") && !status_text.contains(&format!("v1:{old_key}:")),
        "everything re-encrypted with the new key: {status_text}"
    );
    assert!(
        status_text.contains(&format!("k8s:enc:aescbc:v1:{new_key}: 2")),
        "{status_text}"
    );
    // Back up with only the new key: both secrets read back.
    k.spawn();
    assert_eq!(secret_value(&k, "after"), value);
    assert_eq!(secret_value(&k, "before"), "PlainBeforeEncryption1");
}
