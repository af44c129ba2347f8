//! Service-account tokens: the signing key, issuing and verifying JWTs, and the OIDC discovery
//! documents, as kube-apiserver's `pkg/serviceaccount`.
//!
//! The key is a 2048-bit RSA key (RS256), generated at first start and stored as PKCS#1 PEM
//! (`<data-dir>/server/tls/service.key`, like k3s). The `rsa` crate only generates and parses
//! the key; signing and verifying use `ring` (constant-time, fast in debug builds). The key id
//! (`kid`) is upstream's: base64url (no padding) of SHA-256 of the DER SubjectPublicKeyInfo.
//!
//! What needs the datastore (does the service account, pod, secret or node still exist with the
//! claimed UID?) is left to the caller: [`TokenIssuer::validate`] checks signature, issuer, time
//! and audiences and returns the claimed identity as a [`ValidatedToken`] listing what to look up.

use std::collections::BTreeMap;
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::authn::{UserInfo, AUTHENTICATED};
use crate::Error;

/// Issuer of legacy (Secret-based) tokens.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";
/// The default issuer (and API audience) of k3s and kubeadm clusters.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// Clock skew tolerated on `exp`, `nbf` and `iat` (go-jose's `DefaultLeeway`).
pub const LEEWAY_SECONDS: i64 = 60;
/// Tokens requested for this many seconds by the kubelet get extended to
/// [`EXPIRATION_EXTENSION_SECONDS`] with a `warnafter` claim (upstream's
/// `WarnOnlyBoundTokenExpirationSeconds`).
pub const WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS: i64 = 60 * 60 + 7;
/// A year (upstream's `ExpirationExtensionSeconds`).
pub const EXPIRATION_EXTENSION_SECONDS: i64 = 24 * 365 * 60 * 60;
/// The OIDC discovery paths.
pub const OPENID_CONFIG_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/openid/v1/jwks";

/// `user.Info` extra keys set for service-account tokens.
pub const EXTRA_POD_NAME: &str = "authentication.kubernetes.io/pod-name";
pub const EXTRA_POD_UID: &str = "authentication.kubernetes.io/pod-uid";
pub const EXTRA_NODE_NAME: &str = "authentication.kubernetes.io/node-name";
pub const EXTRA_NODE_UID: &str = "authentication.kubernetes.io/node-uid";
pub const EXTRA_CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";

/// The group of every service account.
pub const ALL_SERVICE_ACCOUNTS: &str = "system:serviceaccounts";

/// `system:serviceaccount:<ns>:<name>`.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// An object a token is bound to (or the service account itself).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ObjectRef {
    pub name: String,
    pub uid: String,
}

/// The RSA key service-account tokens are signed with.
pub struct SigningKey {
    pair: ring::signature::RsaKeyPair,
    kid: String,
    /// PKCS#1 RSAPublicKey DER (what ring verifies with).
    public_pkcs1: Vec<u8>,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl SigningKey {
    /// Loads the key at `path`, creating (0600) a new 2048-bit RSA key there when absent.
    pub fn load_or_create(path: &Path) -> Result<SigningKey, Error> {
        match Self::load(path)? {
            Some(k) => Ok(k),
            None => Self::generate(path),
        }
    }

    /// The key stored at `path`, or `None` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<SigningKey>, Error> {
        match std::fs::read_to_string(path) {
            Ok(pem) => Self::from_pem(&pem).map(Some).map_err(|e| match e {
                Error::Pem { reason, .. } => Error::pem(path.display().to_string(), reason),
                other => other,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Generates a new 2048-bit key and stores it (0600, PKCS#1 PEM) at `path`. This takes from
    /// tenths of a second to seconds (prime search), so servers run it off the start path.
    pub fn generate(path: &Path) -> Result<SigningKey, Error> {
        let mut rng = rand_core06::OsRng;
        let key = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| {
            Error::InvalidArgument(format!("generating the service-account key: {e}"))
        })?;
        let pem = key
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| Error::pem("service-account key", e))?;
        crate::pki::write_file(path, pem.as_bytes(), 0o600)?;
        Self::from_rsa(&key)
    }

    /// Parses a PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`) PEM RSA key.
    pub fn from_pem(pem: &str) -> Result<SigningKey, Error> {
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|e| {
                Error::pem(
                    "service-account key",
                    format!("not an RSA private key in PKCS#1 or PKCS#8 PEM: {e}"),
                )
            })?;
        Self::from_rsa(&key)
    }

    fn from_rsa(key: &rsa::RsaPrivateKey) -> Result<SigningKey, Error> {
        let pkcs8 = key
            .to_pkcs8_der()
            .map_err(|e| Error::pem("service-account key", e))?;
        let pair = ring::signature::RsaKeyPair::from_pkcs8(pkcs8.as_bytes())
            .map_err(|e| Error::pem("service-account key", e))?;
        let spki = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| Error::pem("service-account public key", e))?;
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(spki.as_bytes()));
        let public_pkcs1 = ring::signature::KeyPair::public_key(&pair)
            .as_ref()
            .to_vec();
        Ok(SigningKey {
            pair,
            kid,
            public_pkcs1,
            n: key.n().to_bytes_be(),
            e: key.e().to_bytes_be(),
        })
    }

    /// The key id: base64url(SHA-256(DER SubjectPublicKeyInfo)), as upstream.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`use: sig`, `alg: RS256`).
    pub fn jwk(&self) -> Value {
        json!({
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }

    /// Signs `claims` as a compact JWS (header `{"alg":"RS256","kid":..}`).
    pub fn sign(&self, claims: &Value) -> Result<String, Error> {
        let header = json!({"alg": "RS256", "kid": self.kid});
        let mut input = URL_SAFE_NO_PAD.encode(header.to_string());
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut sig = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| Error::InvalidArgument("signing a service-account token failed".into()))?;
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(input)
    }

    /// Verifies a compact JWS signed by this key and returns its claims. Only RS256 is accepted,
    /// and a `kid`, when present, must be this key's.
    fn verify(&self, token: &str) -> Result<Value, String> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not a compact JWS".into());
        };
        let header: Value = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("malformed JWS header")?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err("unsupported signing algorithm".into());
        }
        if let Some(kid) = header.get("kid").and_then(Value::as_str) {
            if kid != self.kid {
                return Err("invalid signature, no keys found".into());
            }
        }
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "malformed JWS signature".to_string())?;
        let signed = &token[..h.len() + 1 + p.len()];
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_pkcs1,
        )
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| "crypto/rsa: verification error".to_string())?;
        URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(Value::is_object)
            .ok_or_else(|| "malformed JWT claims".to_string())
    }
}

/// Issues and validates the cluster's service-account tokens.
#[derive(Debug)]
pub struct TokenIssuer {
    key: SigningKey,
    /// The `iss` of new tokens (`--service-account-issuer`).
    pub issuer: String,
    /// Audiences the API server identifies as (`--api-audiences`; default: the issuer).
    pub api_audiences: Vec<String>,
}

/// What a token claims, once signature, issuer, time and audience checks passed.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ValidatedToken {
    pub namespace: String,
    pub service_account: ObjectRef,
    pub pod: Option<ObjectRef>,
    pub secret: Option<ObjectRef>,
    pub node: Option<ObjectRef>,
    /// `jti` of a bound token.
    pub jti: Option<String>,
    /// For a legacy token: the Secret that must still hold exactly this token.
    pub legacy_secret: Option<String>,
    /// The audiences the token was accepted for.
    pub audiences: Vec<String>,
}

impl ValidatedToken {
    /// The user, as upstream's `ServiceAccountInfo.UserInfo()` plus `system:authenticated`.
    /// Node claims of a pod-bound token are reported only with the pod, as upstream.
    pub fn user_info(&self) -> UserInfo {
        let mut extra = BTreeMap::new();
        if let Some(p) = self.pod.as_ref().filter(|p| !p.uid.is_empty()) {
            extra.insert(EXTRA_POD_NAME.to_string(), vec![p.name.clone()]);
            extra.insert(EXTRA_POD_UID.to_string(), vec![p.uid.clone()]);
        }
        if let Some(j) = self.jti.as_ref().filter(|j| !j.is_empty()) {
            extra.insert(EXTRA_CREDENTIAL_ID.to_string(), vec![format!("JTI={j}")]);
        }
        if let Some(n) = self.node.as_ref().filter(|n| !n.name.is_empty()) {
            extra.insert(EXTRA_NODE_NAME.to_string(), vec![n.name.clone()]);
            if !n.uid.is_empty() {
                extra.insert(EXTRA_NODE_UID.to_string(), vec![n.uid.clone()]);
            }
        }
        UserInfo {
            name: username(&self.namespace, &self.service_account.name),
            uid: self.service_account.uid.clone(),
            groups: vec![
                ALL_SERVICE_ACCOUNTS.to_string(),
                format!("{ALL_SERVICE_ACCOUNTS}:{}", self.namespace),
                AUTHENTICATED.to_string(),
            ],
            extra,
        }
    }
}

/// Why a token that is ours (right issuer) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The parameters of a bound token (TokenRequest).
#[derive(Clone, Debug, Default)]
pub struct BoundToken<'a> {
    pub namespace: &'a str,
    pub service_account: ObjectRef,
    pub audiences: &'a [String],
    /// Lifetime of the token, in seconds.
    pub expiration_seconds: i64,
    /// When non-zero, a `warnafter` claim this many seconds from now.
    pub warn_after_seconds: i64,
    pub pod: Option<ObjectRef>,
    pub secret: Option<ObjectRef>,
    pub node: Option<ObjectRef>,
}

fn ref_json(r: &ObjectRef) -> Value {
    json!({"name": r.name, "uid": r.uid})
}

/// Checks an issuer URL as upstream's discovery does: https, a host, no query or fragment.
pub fn check_issuer(issuer: &str) -> Result<(), Error> {
    let rest = issuer.strip_prefix("https://").ok_or_else(|| {
        Error::InvalidArgument(format!(
            "--service-account-issuer {issuer:?}: issuer URL must use https scheme"
        ))
    })?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains('?') || rest.contains('#') {
        return Err(Error::InvalidArgument(format!(
            "--service-account-issuer {issuer:?}: must be an https URL with a host and no query or fragment"
        )));
    }
    Ok(())
}

/// A random UUID (v4), for `jti`.
fn new_uuid() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl TokenIssuer {
    /// An issuer; the issuer URL must be https without query or fragment (as upstream requires
    /// for discovery) and audiences default to the issuer.
    pub fn new(
        key: SigningKey,
        issuer: &str,
        api_audiences: Vec<String>,
    ) -> Result<TokenIssuer, Error> {
        check_issuer(issuer)?;
        let api_audiences = if api_audiences.is_empty() {
            vec![issuer.to_string()]
        } else {
            api_audiences
        };
        Ok(TokenIssuer {
            key,
            issuer: issuer.to_string(),
            api_audiences,
        })
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Issues a bound token; returns it and its claims. `now` is in Unix seconds.
    pub fn issue(&self, t: &BoundToken<'_>, now: i64) -> Result<(String, Value), Error> {
        if t.secret.is_some() && (t.pod.is_some() || t.node.is_some()) {
            return Err(Error::InvalidArgument(
                "a token can only be bound to one object type".into(),
            ));
        }
        let mut k8s = json!({
            "namespace": t.namespace,
            "serviceaccount": ref_json(&t.service_account),
        });
        if let Some(p) = &t.pod {
            k8s["pod"] = ref_json(p);
        }
        if let Some(s) = &t.secret {
            k8s["secret"] = ref_json(s);
        }
        if let Some(n) = &t.node {
            k8s["node"] = ref_json(n);
        }
        if t.warn_after_seconds != 0 {
            k8s["warnafter"] = json!(now.saturating_add(t.warn_after_seconds));
        }
        let claims = json!({
            "aud": t.audiences,
            "exp": now.saturating_add(t.expiration_seconds),
            "iat": now,
            "iss": self.issuer,
            "jti": new_uuid(),
            "kubernetes.io": k8s,
            "nbf": now,
            "sub": username(t.namespace, &t.service_account.name),
        });
        Ok((self.key.sign(&claims)?, claims))
    }

    /// A legacy token for a `kubernetes.io/service-account-token` Secret: no expiry, no audience,
    /// issuer `kubernetes/serviceaccount` (upstream's `LegacyClaims`).
    pub fn issue_legacy(
        &self,
        namespace: &str,
        service_account: &ObjectRef,
        secret_name: &str,
    ) -> Result<String, Error> {
        self.key.sign(&json!({
            "iss": LEGACY_ISSUER,
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/secret.name": secret_name,
            "kubernetes.io/serviceaccount/service-account.name": service_account.name,
            "kubernetes.io/serviceaccount/service-account.uid": service_account.uid,
            "sub": username(namespace, &service_account.name),
        }))
    }

    /// Whether `token` looks like one of ours (a compact JWS whose unverified `iss` is this issuer
    /// or the legacy issuer). Other bearer tokens are left to other authenticators.
    pub fn is_ours(&self, token: &str) -> bool {
        if token.trim_start().starts_with('{') {
            return false;
        }
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 {
            return false;
        }
        let Some(claims) = URL_SAFE_NO_PAD
            .decode(parts[1])
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        else {
            return false;
        };
        matches!(claims.get("iss").and_then(Value::as_str), Some(i) if i == self.issuer || i == LEGACY_ISSUER)
    }

    /// Checks a token of ours: signature, issuer, audiences (intersecting the API audiences; none
    /// means a legacy token, accepted for the API audiences), time with 60 s leeway, and the
    /// presence of the claims. The caller must still check that the named objects exist with the
    /// claimed UIDs (and, for a legacy token, that its Secret holds exactly this token).
    pub fn validate(&self, token: &str, now: i64) -> Result<ValidatedToken, Invalid> {
        let claims = self.key.verify(token).map_err(Invalid)?;
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        if iss != self.issuer && iss != LEGACY_ISSUER {
            return Err(Invalid(format!("token issuer {iss:?} is invalid")));
        }
        let auds: Vec<String> = match claims.get("aud") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Invalid("malformed aud claim".into()))?,
            Some(_) => return Err(Invalid("malformed aud claim".into())),
        };
        let audiences: Vec<String> = if auds.is_empty() {
            self.api_audiences.clone()
        } else {
            auds.iter()
                .filter(|a| self.api_audiences.contains(a))
                .cloned()
                .collect()
        };
        if audiences.is_empty() {
            return Err(Invalid(format!(
                "token audiences {auds:?} is invalid for the target audiences {:?}",
                self.api_audiences
            )));
        }
        let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        let sub = s(claims.get("sub"));
        if sub.is_empty() {
            return Err(Invalid("sub claim is missing".into()));
        }
        if iss == LEGACY_ISSUER {
            let namespace = s(claims.get("kubernetes.io/serviceaccount/namespace"));
            let secret = s(claims.get("kubernetes.io/serviceaccount/secret.name"));
            let name = s(claims.get("kubernetes.io/serviceaccount/service-account.name"));
            let uid = s(claims.get("kubernetes.io/serviceaccount/service-account.uid"));
            for (v, what) in [
                (&namespace, "namespace"),
                (&secret, "secretName"),
                (&name, "serviceAccountName"),
                (&uid, "serviceAccountUID"),
            ] {
                if v.is_empty() {
                    return Err(Invalid(format!("{what} claim is missing")));
                }
            }
            if sub != username(&namespace, &name) {
                return Err(Invalid(
                    "sub claim does not match the service account".into(),
                ));
            }
            return Ok(ValidatedToken {
                namespace,
                service_account: ObjectRef { name, uid },
                legacy_secret: Some(secret),
                audiences,
                ..Default::default()
            });
        }
        let num = |k: &str| claims.get(k).and_then(Value::as_i64);
        match num("exp") {
            Some(exp) if now > exp.saturating_add(LEEWAY_SECONDS) => {
                return Err(Invalid("service account token has expired".into()))
            }
            Some(_) => {}
            None => return Err(Invalid("service account token has no expiry".into())),
        }
        if num("nbf").is_some_and(|nbf| now.saturating_add(LEEWAY_SECONDS) < nbf) {
            return Err(Invalid("service account token is not valid yet".into()));
        }
        if num("iat").is_some_and(|iat| now.saturating_add(LEEWAY_SECONDS) < iat) {
            return Err(Invalid(
                "service account token is issued in the future".into(),
            ));
        }
        let k8s = claims
            .get("kubernetes.io")
            .filter(|v| v.is_object())
            .ok_or_else(|| Invalid("kubernetes.io claim is missing".into()))?;
        let get_ref = |k: &str| -> Option<ObjectRef> {
            let r = k8s.get(k)?.as_object()?;
            Some(ObjectRef {
                name: s(r.get("name")),
                uid: s(r.get("uid")),
            })
        };
        let namespace = s(k8s.get("namespace"));
        let sa = get_ref("serviceaccount")
            .filter(|r| !r.name.is_empty())
            .ok_or_else(|| Invalid("service account claim is missing".into()))?;
        if namespace.is_empty() {
            return Err(Invalid("namespace claim is missing".into()));
        }
        if sub != username(&namespace, &sa.name) {
            return Err(Invalid(
                "sub claim does not match the service account".into(),
            ));
        }
        Ok(ValidatedToken {
            namespace,
            service_account: sa,
            pod: get_ref("pod"),
            secret: get_ref("secret"),
            node: get_ref("node"),
            jti: claims
                .get("jti")
                .and_then(Value::as_str)
                .filter(|j| !j.is_empty())
                .map(str::to_string),
            legacy_secret: None,
            audiences,
        })
    }

    /// The JWKS document (`/openid/v1/jwks`).
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.key.jwk()]})
    }

    /// The OIDC discovery document (`/.well-known/openid-configuration`).
    pub fn openid_configuration(&self, jwks_uri: &str) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    }
}

/// Standard base64 (the encoding of Secret `data` values).
pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn issuer() -> &'static TokenIssuer {
        static I: OnceLock<TokenIssuer> = OnceLock::new();
        I.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let key = SigningKey::load_or_create(&dir.path().join("service.key")).unwrap();
            // Loading the stored key gives the same key id.
            let again = SigningKey::load_or_create(&dir.path().join("service.key")).unwrap();
            assert_eq!(key.kid(), again.kid());
            TokenIssuer::new(key, DEFAULT_ISSUER, vec![]).unwrap()
        })
    }

    fn sa() -> ObjectRef {
        ObjectRef {
            name: "default".into(),
            uid: "u-1".into(),
        }
    }

    #[test]
    fn issue_and_validate_bound_token() {
        let i = issuer();
        let auds = vec![DEFAULT_ISSUER.to_string()];
        let pod = ObjectRef {
            name: "p".into(),
            uid: "pu".into(),
        };
        let (tok, claims) = i
            .issue(
                &BoundToken {
                    namespace: "ns",
                    service_account: sa(),
                    audiences: &auds,
                    expiration_seconds: 600,
                    pod: Some(pod.clone()),
                    ..Default::default()
                },
                1_000_000,
            )
            .unwrap();
        assert!(i.is_ours(&tok));
        assert_eq!(claims["sub"], "system:serviceaccount:ns:default");
        let v = i.validate(&tok, 1_000_100).unwrap();
        assert_eq!(v.namespace, "ns");
        assert_eq!(v.pod, Some(pod));
        let u = v.user_info();
        assert_eq!(u.name, "system:serviceaccount:ns:default");
        assert_eq!(
            u.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns",
                "system:authenticated"
            ]
        );
        assert_eq!(u.extra[EXTRA_POD_NAME], ["p"]);
        assert!(u.extra[EXTRA_CREDENTIAL_ID][0].starts_with("JTI="));
        // Expiry with leeway.
        assert!(i.validate(&tok, 1_000_000 + 600 + 60).is_ok());
        assert!(i
            .validate(&tok, 1_000_000 + 600 + 61)
            .unwrap_err()
            .0
            .contains("expired"));
        assert!(i
            .validate(&tok, 1_000_000 - 61)
            .unwrap_err()
            .0
            .contains("not valid yet"));
        // Tampered payload.
        let parts: Vec<&str> = tok.split('.').collect();
        let mut c = claims.clone();
        c["sub"] = json!("system:serviceaccount:ns:admin");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(c.to_string()),
            parts[2]
        );
        assert!(i.validate(&forged, 1_000_100).is_err());
        // Wrong audience.
        let other = vec!["vault".to_string()];
        let (tok2, _) = i
            .issue(
                &BoundToken {
                    namespace: "ns",
                    service_account: sa(),
                    audiences: &other,
                    expiration_seconds: 600,
                    ..Default::default()
                },
                1_000_000,
            )
            .unwrap();
        assert!(i
            .validate(&tok2, 1_000_100)
            .unwrap_err()
            .0
            .contains("audiences"));
        assert!(!i.is_ours("abc"));
        assert!(i.validate("a.b.c", 0).is_err());
        assert!(i.validate("", 0).is_err());
    }

    #[test]
    fn legacy_tokens() {
        let i = issuer();
        let tok = i.issue_legacy("ns", &sa(), "s1").unwrap();
        assert!(i.is_ours(&tok));
        let v = i.validate(&tok, 0).unwrap();
        assert_eq!(v.legacy_secret.as_deref(), Some("s1"));
        assert_eq!(v.service_account, sa());
        assert_eq!(v.audiences, [DEFAULT_ISSUER]);
    }

    #[test]
    fn kid_is_sha256_of_spki() {
        let i = issuer();
        let jwk = i.jwks()["keys"][0].clone();
        assert_eq!(jwk["kid"], i.key().kid());
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(i.key().kid().len(), 43);
        assert!(SigningKey::from_pem("nope").is_err());
        assert!(check_issuer("http://x").is_err());
        assert!(check_issuer("https://x?a=b").is_err());
        assert!(check_issuer("https://").is_err());
        assert!(check_issuer(DEFAULT_ISSUER).is_ok());
    }
}

#[cfg(test)]
mod kid_vector {
    /// A key made with `openssl genrsa -traditional 2048`; its kid computed with
    /// `openssl rsa -pubout -outform DER | openssl dgst -sha256 -binary | base64url`.
    #[test]
    fn kid_matches_openssl() {
        let pem = include_str!("testdata/sa-openssl.key");
        let k = super::SigningKey::from_pem(pem).unwrap();
        assert_eq!(k.kid(), "YEESGfuQ3lHYlhKvDcufFuH8Ol356HmAh4EdR9vCl7A");
    }
}
