//! Encryption at rest: a datastore wrapper that encrypts the values of configured resources
//! (`/registry/<plural>/...`) on write and decrypts them on every read path (get, list, watch
//! events, delete results, conflict errors), with the transformers of
//! [`k3rs_auth::encryption`]. Everything above it sees plaintext; the datastore file never holds a
//! configured resource's plaintext once written (or re-encrypted by [`reencrypt`]).

use std::sync::Arc;

use async_trait::async_trait;
use k3rs_auth::encryption::{EncryptionConfig, Transformer};
use k3rs_storage::{
    prefix_end, Backend, Error, KeyValue, ListOptions, ListResult, PutOptions, Result, Revision,
    Store, WatchMessage, WatchOptions, WatchStream,
};

/// Key prefixes and their transformers.
#[derive(Clone, Debug)]
pub struct Rules(Vec<(Vec<u8>, Transformer)>);

impl Rules {
    /// The rules of a configuration: a resource `secrets` (or `<plural>.<group>`) maps to the keys
    /// under `/registry/<plural>/`. Wildcards are not supported.
    pub fn from_config(cfg: &EncryptionConfig) -> std::result::Result<Rules, String> {
        let mut out = Vec::new();
        for name in cfg.resource_names() {
            if name.contains('*') {
                return Err(format!(
                    "encryption configuration: wildcard resource {name:?} is not supported"
                ));
            }
            let plural = name.split('.').next().unwrap_or(&name);
            if plural.is_empty() {
                return Err(format!(
                    "encryption configuration: bad resource name {name:?}"
                ));
            }
            let t = cfg
                .transformer_for(&name)
                .ok_or_else(|| format!("encryption configuration: no providers for {name:?}"))?;
            out.push((format!("/registry/{plural}/").into_bytes(), t));
        }
        Ok(Rules(out))
    }

    fn find(&self, key: &[u8]) -> Option<&Transformer> {
        self.0
            .iter()
            .find(|(p, _)| key.starts_with(p))
            .map(|(_, t)| t)
    }

    /// The key prefixes covered.
    pub fn prefixes(&self) -> Vec<Vec<u8>> {
        self.0.iter().map(|(p, _)| p.clone()).collect()
    }

    fn encrypt(&self, key: &[u8], value: &[u8]) -> Result<Vec<u8>> {
        match self.find(key) {
            Some(t) => t.encrypt(key, value).map_err(|e| {
                Error::Io(std::io::Error::other(format!(
                    "encrypting {}: {e}",
                    String::from_utf8_lossy(key)
                )))
            }),
            None => Ok(value.to_vec()),
        }
    }

    fn decrypt_kv(&self, mut kv: KeyValue) -> Result<KeyValue> {
        if kv.value.is_empty() {
            return Ok(kv);
        }
        if let Some(t) = self.find(&kv.key) {
            kv.value = t
                .decrypt(&kv.key, &kv.value)
                .map_err(|e| {
                    Error::Io(std::io::Error::other(format!(
                        "decrypting {}: {e}",
                        String::from_utf8_lossy(&kv.key)
                    )))
                })?
                .plaintext;
        }
        Ok(kv)
    }

    fn decrypt_err(&self, e: Error) -> Error {
        match e {
            Error::Conflict {
                key,
                expected,
                current,
            } => Error::Conflict {
                key,
                expected,
                current: current.and_then(|kv| self.decrypt_kv(*kv).ok().map(Box::new)),
            },
            other => other,
        }
    }
}

/// A backend whose values under the configured prefixes are encrypted.
pub struct Encrypted {
    pub inner: Store,
    pub rules: Arc<Rules>,
}

#[async_trait]
impl Backend for Encrypted {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.inner.current_revision().await
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.inner.compacted_revision().await
    }

    async fn get(&self, key: &[u8], revision: Revision) -> Result<(Option<KeyValue>, Revision)> {
        let (kv, rev) = self.inner.get(key, revision).await?;
        Ok((kv.map(|kv| self.rules.decrypt_kv(kv)).transpose()?, rev))
    }

    async fn list(&self, start: &[u8], end: &[u8], opts: ListOptions) -> Result<ListResult> {
        let mut r = self.inner.list(start, end, opts).await?;
        r.kvs = r
            .kvs
            .into_iter()
            .map(|kv| self.rules.decrypt_kv(kv))
            .collect::<Result<_>>()?;
        Ok(r)
    }

    async fn count(&self, start: &[u8], end: &[u8], revision: Revision) -> Result<(i64, Revision)> {
        self.inner.count(start, end, revision).await
    }

    async fn create(&self, key: &[u8], value: &[u8], opts: PutOptions) -> Result<Revision> {
        let v = self.rules.encrypt(key, value)?;
        self.inner.create(key, &v, opts).await
    }

    async fn update(
        &self,
        key: &[u8],
        value: &[u8],
        expected: Revision,
        opts: PutOptions,
    ) -> Result<Revision> {
        let v = self.rules.encrypt(key, value)?;
        self.inner
            .update(key, &v, expected, opts)
            .await
            .map_err(|e| self.rules.decrypt_err(e))
    }

    async fn delete(&self, key: &[u8], expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        let (rev, kv) = self
            .inner
            .delete(key, expected)
            .await
            .map_err(|e| self.rules.decrypt_err(e))?;
        Ok((rev, self.rules.decrypt_kv(kv)?))
    }

    async fn watch(
        &self,
        start: &[u8],
        end: &[u8],
        from: Revision,
        opts: WatchOptions,
    ) -> Result<WatchStream> {
        let mut inner = self.inner.watch(start, end, from, opts).await?;
        let rules = self.rules.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let msg = tokio::select! {
                    _ = tx.closed() => return,
                    m = inner.next() => m,
                };
                let Some(msg) = msg else { return };
                let out = match msg {
                    Ok(WatchMessage::Events(events)) => events
                        .into_iter()
                        .map(|mut ev| {
                            ev.kv = rules.decrypt_kv(std::mem::take(&mut ev.kv))?;
                            ev.prev = ev.prev.map(|p| rules.decrypt_kv(p)).transpose()?;
                            Ok(ev)
                        })
                        .collect::<Result<Vec<_>>>()
                        .map(WatchMessage::Events),
                    other => other,
                };
                let end = out.is_err();
                if tx.send(out).await.is_err() || end {
                    return;
                }
            }
        });
        Ok(WatchStream::from_channel(rx))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.inner.compact(revision).await
    }

    async fn db_size(&self) -> Result<i64> {
        self.inner.db_size().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

/// Rewrites every stored value under the rules' prefixes that is not encrypted with the current
/// first key (plaintext, or an older key), straight on the raw store `raw`. Returns how many
/// values were rewritten. Meant for `k3rs secrets-encrypt rotate-keys` with the server stopped;
/// each write is conditional on the value being unchanged, and a changed value is re-read.
pub async fn reencrypt(raw: &Store, rules: &Rules) -> std::result::Result<usize, String> {
    let mut rewritten = 0;
    for (prefix, t) in &rules.0 {
        let end = prefix_end(prefix);
        let page = raw
            .list(prefix, &end, ListOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        for kv in page.kvs {
            let mut kv = kv;
            for attempt in 0.. {
                let d = t
                    .decrypt(&kv.key, &kv.value)
                    .map_err(|e| format!("{}: {e}", String::from_utf8_lossy(&kv.key)))?;
                if !d.stale {
                    break;
                }
                let v = t
                    .encrypt(&kv.key, &d.plaintext)
                    .map_err(|e| e.to_string())?;
                match raw
                    .update(&kv.key, &v, kv.mod_revision, PutOptions::default())
                    .await
                {
                    Ok(_) => {
                        rewritten += 1;
                        break;
                    }
                    Err(Error::Conflict {
                        current: Some(cur), ..
                    }) if attempt < 16 => kv = *cur,
                    Err(Error::NotFound { .. }) => break,
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
    }
    Ok(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_are_encrypted_below_and_plain_above() {
        let dir = tempfile::tempdir().unwrap();
        let raw: Store =
            k3rs_storage::open(&format!("sqlite://{}", dir.path().join("db").display()))
                .await
                .unwrap();
        let mut cfg = EncryptionConfig::new_default();
        let rules = Arc::new(Rules::from_config(&cfg).unwrap());
        let enc: Store = Arc::new(Encrypted {
            inner: raw.clone(),
            rules: rules.clone(),
        });
        let k = b"/registry/secrets/ns/a";
        // A plaintext value written before encryption was on stays readable.
        raw.create(
            b"/registry/secrets/ns/old",
            b"{\"old\":1}",
            PutOptions::default(),
        )
        .await
        .unwrap();
        let rev = enc
            .create(k, b"{\"x\":\"topsecret\"}", PutOptions::default())
            .await
            .unwrap();
        let (stored, _) = raw.get(k, 0).await.unwrap();
        assert!(stored.unwrap().value.starts_with(b"k8s:enc:aescbc:v1:"));
        let (got, _) = enc.get(k, 0).await.unwrap();
        assert_eq!(got.unwrap().value, b"{\"x\":\"topsecret\"}");
        let (old, _) = enc.get(b"/registry/secrets/ns/old", 0).await.unwrap();
        assert_eq!(old.unwrap().value, b"{\"old\":1}");
        // Other resources are untouched.
        enc.create(b"/registry/configmaps/ns/c", b"{}", PutOptions::default())
            .await
            .unwrap();
        assert_eq!(
            raw.get(b"/registry/configmaps/ns/c", 0)
                .await
                .unwrap()
                .0
                .unwrap()
                .value,
            b"{}"
        );
        // Watch events are decrypted.
        let mut w = enc
            .watch(
                b"/registry/secrets/",
                &prefix_end(b"/registry/secrets/"),
                rev,
                WatchOptions::default(),
            )
            .await
            .unwrap();
        match w.next().await {
            Some(Ok(WatchMessage::Events(evs))) => {
                assert_eq!(evs[0].kv.value, b"{\"x\":\"topsecret\"}")
            }
            other => panic!("{other:?}"),
        }
        // Rotation: new key first, re-encrypt, drop the old key.
        cfg.add_new_key();
        let rules2 = Rules::from_config(&cfg).unwrap();
        assert_eq!(reencrypt(&raw, &rules2).await.unwrap(), 2);
        cfg.drop_old_keys();
        let rules3 = Arc::new(Rules::from_config(&cfg).unwrap());
        let enc3 = Encrypted {
            inner: raw.clone(),
            rules: rules3.clone(),
        };
        assert_eq!(
            enc3.get(k, 0).await.unwrap().0.unwrap().value,
            b"{\"x\":\"topsecret\"}"
        );
        let (old, _) = raw.get(b"/registry/secrets/ns/old", 0).await.unwrap();
        assert!(old.unwrap().value.starts_with(b"k8s:enc:"));
        // The old key alone can no longer read it.
        let enc_old = Encrypted {
            inner: raw.clone(),
            rules: rules.clone(),
        };
        assert!(enc_old.get(k, 0).await.is_err());
        assert_eq!(reencrypt(&raw, &rules3).await.unwrap(), 0);
    }
}
