//! Encryption at rest, as kube-apiserver's `--encryption-provider-config`.
//!
//! The configuration is an `apiserver.config.k8s.io/v1` `EncryptionConfiguration` (JSON),
//! stored by k3rs like k3s at `<data-dir>/server/cred/encryption-config.json`. Supported
//! providers: `aescbc`, `aesgcm` and `identity`. As upstream, the first provider encrypts new
//! writes; a stored value is read by the provider whose prefix it carries
//! (`k8s:enc:aescbc:v1:<key name>:` + IV + AES-CBC/PKCS#7 ciphertext, or
//! `k8s:enc:aesgcm:v1:<key name>:` + nonce + AES-GCM ciphertext with the storage key as
//! additional data), and a value with no known prefix is read as-is only when `identity` is listed.

use std::path::Path;

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Value};

use crate::Error;

const CBC_PREFIX: &str = "k8s:enc:aescbc:v1:";
const GCM_PREFIX: &str = "k8s:enc:aesgcm:v1:";

/// A named AES key.
#[derive(Clone)]
pub struct Key {
    pub name: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("bits", &(self.secret.len() * 8))
            .finish()
    }
}

impl Key {
    /// A new random 256-bit key.
    pub fn generate(name: &str) -> Key {
        let mut secret = vec![0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Key {
            name: name.to_string(),
            secret,
        }
    }
}

/// One provider of a resource's list.
#[derive(Clone, Debug)]
pub enum Provider {
    AesCbc(Vec<Key>),
    AesGcm(Vec<Key>),
    Identity,
}

impl Provider {
    fn kind(&self) -> &'static str {
        match self {
            Provider::AesCbc(_) => "aescbc",
            Provider::AesGcm(_) => "aesgcm",
            Provider::Identity => "identity",
        }
    }
}

/// The providers of one group of resources.
#[derive(Clone, Debug)]
pub struct ResourceConfig {
    /// Resource names as written (`secrets`, `configmaps`, `<plural>.<group>`).
    pub resources: Vec<String>,
    pub providers: Vec<Provider>,
}

/// A parsed EncryptionConfiguration.
#[derive(Clone, Debug, Default)]
pub struct EncryptionConfig {
    pub resources: Vec<ResourceConfig>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(format!("encryption configuration: {}", msg.into()))
}

fn parse_keys(v: &Value, kind: &str) -> Result<Vec<Key>, Error> {
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| invalid(format!("{kind}: keys must be a non-empty list")))?;
    let mut out: Vec<Key> = Vec::new();
    for k in keys {
        let name = k.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() || name.contains(':') {
            return Err(invalid(format!(
                "{kind}: key name {name:?} must be non-empty and contain no ':'"
            )));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(invalid(format!("{kind}: duplicate key name {name:?}")));
        }
        let secret = k
            .get("secret")
            .and_then(Value::as_str)
            .and_then(|s| STANDARD.decode(s.trim()).ok())
            .ok_or_else(|| invalid(format!("{kind}: key {name:?}: secret must be base64")))?;
        let ok = match kind {
            "aesgcm" => matches!(secret.len(), 16 | 32),
            _ => matches!(secret.len(), 16 | 24 | 32),
        };
        if !ok {
            return Err(invalid(format!(
                "{kind}: key {name:?} is {} bytes; expected {}",
                secret.len(),
                if kind == "aesgcm" {
                    "16 or 32"
                } else {
                    "16, 24 or 32"
                }
            )));
        }
        out.push(Key {
            name: name.to_string(),
            secret,
        });
    }
    Ok(out)
}

impl EncryptionConfig {
    /// Parses a configuration. Only JSON is accepted (k3s and k3rs write JSON; upstream also
    /// reads YAML).
    pub fn parse(text: &str) -> Result<EncryptionConfig, Error> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
        if v.get("kind").and_then(Value::as_str) != Some("EncryptionConfiguration") {
            return Err(invalid("kind must be EncryptionConfiguration"));
        }
        let mut out = EncryptionConfig::default();
        for r in v
            .get("resources")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("resources must be a list"))?
        {
            let resources: Vec<String> = r
                .get("resources")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            if resources.is_empty() {
                return Err(invalid("each entry needs a non-empty resources list"));
            }
            let mut providers = Vec::new();
            for p in r
                .get("providers")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("each entry needs a providers list"))?
            {
                let obj = p
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .ok_or_else(|| invalid("each provider must name exactly one type"))?;
                let (kind, body) = obj.iter().next().ok_or_else(|| invalid("empty provider"))?;
                providers.push(match kind.as_str() {
                    "aescbc" => Provider::AesCbc(parse_keys(body, "aescbc")?),
                    "aesgcm" => Provider::AesGcm(parse_keys(body, "aesgcm")?),
                    "identity" => Provider::Identity,
                    other => {
                        return Err(invalid(format!(
                        "provider {other:?} is not supported (supported: aescbc, aesgcm, identity)"
                    )))
                    }
                });
            }
            if providers.is_empty() {
                return Err(invalid("providers must not be empty"));
            }
            out.resources.push(ResourceConfig {
                resources,
                providers,
            });
        }
        Ok(out)
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<EncryptionConfig, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|e| match e {
            Error::InvalidArgument(m) => Error::InvalidArgument(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// k3s' default: secrets encrypted with one new AES-CBC key, old plaintext readable.
    pub fn new_default() -> EncryptionConfig {
        EncryptionConfig {
            resources: vec![ResourceConfig {
                resources: vec!["secrets".into()],
                providers: vec![
                    Provider::AesCbc(vec![Key::generate(&key_name())]),
                    Provider::Identity,
                ],
            }],
        }
    }

    /// The configuration as JSON (what is written to disk).
    pub fn to_json(&self) -> Value {
        let resources: Vec<Value> = self
            .resources
            .iter()
            .map(|r| {
                let providers: Vec<Value> = r
                    .providers
                    .iter()
                    .map(|p| match p {
                        Provider::AesCbc(keys) | Provider::AesGcm(keys) => {
                            let keys: Vec<Value> = keys
                                .iter()
                                .map(|k| json!({"name": k.name, "secret": STANDARD.encode(&k.secret)}))
                                .collect();
                            json!({p.kind(): {"keys": keys}})
                        }
                        Provider::Identity => json!({"identity": {}}),
                    })
                    .collect();
                json!({"resources": r.resources, "providers": providers})
            })
            .collect();
        json!({
            "kind": "EncryptionConfiguration",
            "apiVersion": "apiserver.config.k8s.io/v1",
            "resources": resources,
        })
    }

    /// Writes the configuration (0600, atomically).
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
        crate::pki::write_file(path, text.as_bytes(), 0o600)
    }

    /// The configuration at `path`, created with [`EncryptionConfig::new_default`] when absent.
    pub fn load_or_create(path: &Path) -> Result<EncryptionConfig, Error> {
        if path.exists() {
            return Self::load(path);
        }
        let cfg = Self::new_default();
        cfg.write(path)?;
        Ok(cfg)
    }

    /// Rotation step 1: a new key of the first provider's type goes first, old keys stay
    /// (readable), so every stored value can be re-encrypted with the new key. Returns the new
    /// key's name. Entries whose first provider is `identity` get a new `aescbc` provider.
    pub fn add_new_key(&mut self) -> String {
        let base = key_name();
        let taken = |n: &str| {
            self.resources.iter().any(|r| {
                r.providers.iter().any(|p| match p {
                    Provider::AesCbc(keys) | Provider::AesGcm(keys) => {
                        keys.iter().any(|k| k.name == n)
                    }
                    Provider::Identity => false,
                })
            })
        };
        let mut name = base.clone();
        let mut i = 2;
        while taken(&name) {
            name = format!("{base}-{i}");
            i += 1;
        }
        for r in &mut self.resources {
            match r.providers.first_mut() {
                Some(Provider::AesCbc(keys)) | Some(Provider::AesGcm(keys)) => {
                    keys.insert(0, Key::generate(&name))
                }
                _ => r
                    .providers
                    .insert(0, Provider::AesCbc(vec![Key::generate(&name)])),
            }
        }
        name
    }

    /// Rotation step 2 (after re-encryption): keeps only the first key of each provider; other
    /// encrypting providers are dropped, `identity` stays.
    pub fn drop_old_keys(&mut self) {
        for r in &mut self.resources {
            let mut first = true;
            r.providers.retain_mut(|p| {
                let keep = match p {
                    Provider::AesCbc(keys) | Provider::AesGcm(keys) => {
                        keys.truncate(1);
                        first
                    }
                    Provider::Identity => true,
                };
                first = false;
                keep
            });
        }
    }

    /// The transformer for `resource` (plural, optionally `.group`), if the configuration lists it.
    pub fn transformer_for(&self, resource: &str) -> Option<Transformer> {
        self.resources
            .iter()
            .find(|r| r.resources.iter().any(|x| x == resource))
            .map(|r| Transformer {
                providers: r.providers.clone(),
            })
    }

    /// Every resource named in the configuration.
    pub fn resource_names(&self) -> Vec<String> {
        self.resources
            .iter()
            .flat_map(|r| r.resources.iter().cloned())
            .collect()
    }
}

/// A key name like k3s': `aescbckey-<RFC 3339 time>`.
fn key_name() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "aescbckey-{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
    .replace(':', "")
}

/// Takes an exclusive advisory lock on `path` (created 0600 if absent) for as long as the returned
/// file lives; fails at once if another process holds it.
pub fn lock_exclusive(path: &Path) -> Result<std::fs::File, Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::InvalidArgument(format!(
            "{} is locked: is a k3rs server running with this data dir?",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

/// Encrypts and decrypts the stored values of one resource.
#[derive(Clone, Debug)]
pub struct Transformer {
    providers: Vec<Provider>,
}

/// The result of reading a stored value.
#[derive(Debug, PartialEq, Eq)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    /// Not written by the current first provider and key: rewriting it would re-encrypt it.
    pub stale: bool,
}

fn cbc_encrypt(key: &[u8], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new(key.into(), iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(data),
        24 => cbc::Encryptor::<aes::Aes192>::new(key.into(), iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(data),
        _ => cbc::Encryptor::<aes::Aes256>::new(key.into(), iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(data),
    }
}

fn cbc_decrypt(key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    if iv.len() != 16 || data.is_empty() || !data.len().is_multiple_of(16) {
        return None;
    }
    match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(data)
            .ok(),
        24 => cbc::Decryptor::<aes::Aes192>::new(key.into(), iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(data)
            .ok(),
        32 => cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(data)
            .ok(),
        _ => None,
    }
}

fn gcm_key(key: &[u8]) -> Option<ring::aead::LessSafeKey> {
    let alg = match key.len() {
        16 => &ring::aead::AES_128_GCM,
        32 => &ring::aead::AES_256_GCM,
        _ => return None,
    };
    ring::aead::UnboundKey::new(alg, key)
        .ok()
        .map(ring::aead::LessSafeKey::new)
}

impl Transformer {
    /// Whether new values are encrypted (the first provider is not `identity`).
    pub fn encrypts(&self) -> bool {
        !matches!(self.providers.first(), None | Some(Provider::Identity))
    }

    /// Encrypts a value for storage under `storage_key` with the first provider's first key.
    pub fn encrypt(&self, storage_key: &[u8], data: &[u8]) -> Result<Vec<u8>, Error> {
        match self.providers.first() {
            None | Some(Provider::Identity) => Ok(data.to_vec()),
            Some(Provider::AesCbc(keys)) => {
                let k = keys.first().ok_or_else(|| invalid("aescbc has no key"))?;
                let mut iv = [0u8; 16];
                rand::rng().fill_bytes(&mut iv);
                let mut out = format!("{CBC_PREFIX}{}:", k.name).into_bytes();
                out.extend_from_slice(&iv);
                out.extend_from_slice(&cbc_encrypt(&k.secret, &iv, data));
                Ok(out)
            }
            Some(Provider::AesGcm(keys)) => {
                let k = keys.first().ok_or_else(|| invalid("aesgcm has no key"))?;
                let key = gcm_key(&k.secret).ok_or_else(|| invalid("bad aesgcm key"))?;
                let mut nonce = [0u8; 12];
                rand::rng().fill_bytes(&mut nonce);
                let mut sealed = data.to_vec();
                key.seal_in_place_append_tag(
                    ring::aead::Nonce::assume_unique_for_key(nonce),
                    ring::aead::Aad::from(storage_key),
                    &mut sealed,
                )
                .map_err(|_| invalid("AES-GCM encryption failed"))?;
                let mut out = format!("{GCM_PREFIX}{}:", k.name).into_bytes();
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&sealed);
                Ok(out)
            }
        }
    }

    /// Decrypts a stored value. Errors name the key name that failed or is unknown, never data.
    pub fn decrypt(&self, storage_key: &[u8], stored: &[u8]) -> Result<Decrypted, String> {
        for (pi, p) in self.providers.iter().enumerate() {
            let (prefix, keys, gcm) = match p {
                Provider::AesCbc(keys) => (CBC_PREFIX, keys, false),
                Provider::AesGcm(keys) => (GCM_PREFIX, keys, true),
                Provider::Identity => continue,
            };
            let Some(rest) = stored.strip_prefix(prefix.as_bytes()) else {
                continue;
            };
            for (ki, k) in keys.iter().enumerate() {
                let Some(body) = rest
                    .strip_prefix(k.name.as_bytes())
                    .and_then(|r| r.strip_prefix(b":"))
                else {
                    continue;
                };
                let plain = if gcm {
                    if body.len() < 12 + 16 {
                        return Err(format!("{prefix}{}: value too short", k.name));
                    }
                    let key = gcm_key(&k.secret).ok_or("bad aesgcm key")?;
                    let (nonce, ct) = body.split_at(12);
                    let mut buf = ct.to_vec();
                    let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce)
                        .map_err(|_| "bad nonce".to_string())?;
                    let n = key
                        .open_in_place(nonce, ring::aead::Aad::from(storage_key), &mut buf)
                        .map_err(|_| {
                            format!(
                                "{prefix}{}: authentication failed (wrong key or altered value)",
                                k.name
                            )
                        })?
                        .len();
                    buf.truncate(n);
                    buf
                } else {
                    if body.len() < 32 {
                        return Err(format!("{prefix}{}: value too short", k.name));
                    }
                    let (iv, ct) = body.split_at(16);
                    cbc_decrypt(&k.secret, iv, ct).ok_or_else(|| {
                        format!(
                            "{prefix}{}: decryption failed (wrong key or altered value)",
                            k.name
                        )
                    })?
                };
                return Ok(Decrypted {
                    plaintext: plain,
                    stale: pi != 0 || ki != 0,
                });
            }
        }
        if stored.starts_with(b"k8s:enc:") {
            let end = stored
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b':')
                .nth(4)
                .map(|(i, _)| i)
                .unwrap_or(stored.len().min(40));
            return Err(format!(
                "no configured key can decrypt a value stored as {}",
                String::from_utf8_lossy(&stored[..end])
            ));
        }
        if self
            .providers
            .iter()
            .any(|p| matches!(p, Provider::Identity))
        {
            return Ok(Decrypted {
                plaintext: stored.to_vec(),
                stale: self.encrypts(),
            });
        }
        Err("the stored value is not encrypted and the identity provider is not configured".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rotation() {
        let mut cfg = EncryptionConfig::new_default();
        let text = serde_json::to_string(&cfg.to_json()).unwrap();
        let parsed = EncryptionConfig::parse(&text).unwrap();
        assert_eq!(parsed.resource_names(), ["secrets"]);
        let t = parsed.transformer_for("secrets").unwrap();
        assert!(parsed.transformer_for("configmaps").is_none());
        let key = b"/registry/secrets/ns/a";
        let enc = t.encrypt(key, b"hello secret").unwrap();
        assert!(enc.starts_with(b"k8s:enc:aescbc:v1:aescbckey-"));
        assert!(!enc.windows(6).any(|w| w == b"secret"));
        let d = t.decrypt(key, &enc).unwrap();
        assert_eq!(d.plaintext, b"hello secret");
        assert!(!d.stale);
        // Plaintext stays readable (identity), and is stale.
        let p = t.decrypt(key, b"{\"a\":1}").unwrap();
        assert_eq!((p.plaintext.as_slice(), p.stale), (&b"{\"a\":1}"[..], true));
        // Rotation: the new key encrypts; the old one still decrypts until dropped.
        let new = cfg.add_new_key();
        let t2 = cfg.transformer_for("secrets").unwrap();
        let old = t2.decrypt(key, &enc).unwrap();
        assert!(old.stale);
        let enc2 = t2.encrypt(key, &old.plaintext).unwrap();
        assert!(enc2.starts_with(format!("k8s:enc:aescbc:v1:{new}:").as_bytes()));
        cfg.drop_old_keys();
        let t3 = cfg.transformer_for("secrets").unwrap();
        assert!(t3.decrypt(key, &enc).is_err());
        assert_eq!(t3.decrypt(key, &enc2).unwrap().plaintext, b"hello secret");
        assert_eq!(cfg.resources[0].providers.len(), 2);
        // Tampering is detected or yields garbage, never a panic.
        let mut bad = enc2.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        let _ = t3.decrypt(key, &bad);
        assert!(t3
            .decrypt(key, format!("k8s:enc:aescbc:v1:{new}:").as_bytes())
            .is_err());
        assert!(t3
            .decrypt(
                key,
                b"k8s:enc:aescbc:v1:gone:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            )
            .is_err());
    }

    #[test]
    fn gcm_binds_the_storage_key() {
        let cfg = EncryptionConfig::parse(&format!(
            r#"{{"kind":"EncryptionConfiguration","apiVersion":"apiserver.config.k8s.io/v1","resources":[{{"resources":["secrets"],"providers":[{{"aesgcm":{{"keys":[{{"name":"k1","secret":"{}"}}]}}}}]}}]}}"#,
            STANDARD.encode([7u8; 32])
        ))
        .unwrap();
        let t = cfg.transformer_for("secrets").unwrap();
        let enc = t.encrypt(b"/registry/secrets/a/b", b"x").unwrap();
        assert!(enc.starts_with(b"k8s:enc:aesgcm:v1:k1:"));
        assert_eq!(
            t.decrypt(b"/registry/secrets/a/b", &enc).unwrap().plaintext,
            b"x"
        );
        assert!(t.decrypt(b"/registry/secrets/a/c", &enc).is_err());
        // Without identity, plaintext is refused.
        assert!(t.decrypt(b"k", b"{}").is_err());
    }

    #[test]
    fn bad_configs_are_errors() {
        for bad in [
            "",
            "{}",
            r#"{"kind":"EncryptionConfiguration","resources":[{"resources":["secrets"],"providers":[{"kms":{}}]}]}"#,
            r#"{"kind":"EncryptionConfiguration","resources":[{"resources":["secrets"],"providers":[{"aescbc":{"keys":[{"name":"a","secret":"AAAA"}]}}]}]}"#,
            r#"{"kind":"EncryptionConfiguration","resources":[{"resources":[],"providers":[{"identity":{}}]}]}"#,
        ] {
            assert!(EncryptionConfig::parse(bad).is_err(), "{bad}");
        }
    }
}
