//! The service-account token controller (upstream's `tokens_controller`, legacy half): a Secret of
//! type `kubernetes.io/service-account-token` annotated `kubernetes.io/service-account.name` gets
//! `data.token` (a legacy JWT: no expiry, issuer `kubernetes/serviceaccount`), `data.ca.crt` and
//! `data.namespace`, plus the `kubernetes.io/service-account.uid` annotation. A token Secret whose
//! service account does not exist (or has another UID) is deleted, as upstream does, and so are
//! the token Secrets of a deleted service account.
//!
//! Signing needs the service-account key, which must never be reachable through the API. As in
//! upstream (where kube-controller-manager reads the key file), the controller holds the signer:
//! `k3rs server` runs the controllers in its own process and hands them the server's
//! [`TokenIssuer`] directly (see `cmd/k3rs/src/server.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};

use k3rs_auth::serviceaccount::{ObjectRef, TokenIssuer};

pub const SECRET_TYPE: &str = "kubernetes.io/service-account-token";
pub const NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
pub const UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";

/// What to do with a token Secret.
#[derive(Debug, PartialEq)]
enum Action {
    Nothing,
    Delete,
    Fill(Box<Secret>),
}

/// Decides, given the Secret and its service account (if it exists), what the controller does.
fn plan(
    secret: &Secret,
    sa: Option<&ServiceAccount>,
    issuer: &TokenIssuer,
    ca_pem: &str,
) -> Result<Action, String> {
    if secret.type_.as_deref() != Some(SECRET_TYPE) || secret.metadata.deletion_timestamp.is_some()
    {
        return Ok(Action::Nothing);
    }
    let ann = secret.annotations();
    let Some(sa_name) = ann.get(NAME_ANNOTATION).filter(|n| !n.is_empty()) else {
        return Ok(Action::Nothing);
    };
    let want_uid = ann.get(UID_ANNOTATION).filter(|u| !u.is_empty());
    let Some(sa) = sa.filter(|sa| {
        sa.metadata.deletion_timestamp.is_none()
            && want_uid.is_none_or(|u| sa.metadata.uid.as_ref() == Some(u))
    }) else {
        return Ok(Action::Delete);
    };
    let mut data: BTreeMap<String, ByteString> = secret.data.clone().unwrap_or_default();
    let present =
        |data: &BTreeMap<String, ByteString>, k: &str| data.get(k).is_some_and(|v| !v.0.is_empty());
    let (has_token, has_ca, has_ns) = (
        present(&data, "token"),
        present(&data, "ca.crt"),
        present(&data, "namespace"),
    );
    if has_token && has_ca && has_ns && want_uid.is_some() {
        return Ok(Action::Nothing);
    }
    let ns = secret.namespace().unwrap_or_default();
    let sa_uid = sa.metadata.uid.clone().unwrap_or_default();
    let mut out = secret.clone();
    if !has_token {
        let token = issuer
            .issue_legacy(
                &ns,
                &ObjectRef {
                    name: sa_name.clone(),
                    uid: sa_uid.clone(),
                },
                &secret.name_any(),
            )
            .map_err(|e| e.to_string())?;
        data.insert("token".into(), ByteString(token.into_bytes()));
    }
    if !has_ca {
        data.insert("ca.crt".into(), ByteString(ca_pem.as_bytes().to_vec()));
    }
    if !has_ns {
        data.insert("namespace".into(), ByteString(ns.into_bytes()));
    }
    out.data = Some(data);
    out.annotations_mut()
        .insert(UID_ANNOTATION.to_string(), sa_uid);
    Ok(Action::Fill(Box::new(out)))
}

async fn sync_secret(
    client: &Client,
    secret: &Secret,
    issuer: &TokenIssuer,
    ca_pem: &str,
) -> Result<(), kube::Error> {
    let ns = secret.namespace().unwrap_or_default();
    let Some(sa_name) = secret.annotations().get(NAME_ANNOTATION).cloned() else {
        return Ok(());
    };
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
    let sa = sas.get_opt(&sa_name).await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    match plan(secret, sa.as_ref(), issuer, ca_pem) {
        Ok(Action::Nothing) => Ok(()),
        Ok(Action::Delete) => {
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: secret.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match secrets.delete(&secret.name_any(), &dp).await {
                Ok(_) => {
                    tracing::info!(namespace = %ns, secret = %secret.name_any(), serviceaccount = %sa_name, "deleted token secret of a missing service account");
                    Ok(())
                }
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
                Err(e) => Err(e),
            }
        }
        Ok(Action::Fill(filled)) => {
            match secrets
                .replace(&secret.name_any(), &PostParams::default(), &filled)
                .await
            {
                Ok(_) => {
                    tracing::debug!(namespace = %ns, secret = %secret.name_any(), "filled service-account token secret");
                    Ok(())
                }
                // Changed or gone meanwhile: the watch brings the new state.
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(why) => {
            tracing::error!(namespace = %ns, secret = %secret.name_any(), error = %why, "cannot sign a legacy token");
            Ok(())
        }
    }
}

/// Deletes the token Secrets of a service account that is gone.
async fn sync_deleted_sa(client: &Client, sa: &ServiceAccount) -> Result<(), kube::Error> {
    let ns = sa.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let list = secrets
        .list(&ListParams::default().fields(&format!("type={SECRET_TYPE}")))
        .await?;
    for s in list.items {
        let refers = s.annotations().get(NAME_ANNOTATION) == Some(&sa.name_any())
            && s.annotations()
                .get(UID_ANNOTATION)
                .is_none_or(|u| sa.metadata.uid.as_ref() == Some(u));
        if refers {
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: s.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match secrets.delete(&s.name_any(), &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Runs the controller until dropped. `issuer` resolves to the API server's signer (in-process).
pub async fn run(
    client: Client,
    issuer: impl std::future::Future<Output = Result<Arc<TokenIssuer>, String>>,
    ca_pem: String,
) {
    let issuer = match issuer.await {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, "service-account token controller not started: no signing key");
            return;
        }
    };
    let secrets_api: Api<Secret> = Api::all(client.clone());
    let cfg = watcher::Config::default().fields(&format!("type={SECRET_TYPE}"));
    let secrets = async {
        let mut events = watcher::watcher(secrets_api, cfg).boxed();
        while let Some(ev) = events.next().await {
            let s = match ev {
                Ok(Event::Apply(s) | Event::InitApply(s)) => s,
                Ok(_) => continue,
                Err(e) => {
                    tracing::debug!(error = %e, "token secret watch error; the watcher retries");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if let Err(e) = sync_secret(&client, &s, &issuer, &ca_pem).await {
                tracing::warn!(namespace = ?s.namespace(), secret = %s.name_any(), error = %e, "syncing token secret");
            }
        }
    };
    let sa_api: Api<ServiceAccount> = Api::all(client.clone());
    let sas = async {
        let mut events = watcher::watcher(sa_api, watcher::Config::default()).boxed();
        while let Some(ev) = events.next().await {
            match ev {
                Ok(Event::Delete(sa)) => {
                    if let Err(e) = sync_deleted_sa(&client, &sa).await {
                        tracing::warn!(serviceaccount = %sa.name_any(), error = %e, "deleting token secrets");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "serviceaccount watch error; the watcher retries");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    };
    tokio::join!(secrets, sas);
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    fn issuer() -> TokenIssuer {
        let pem = include_str!("../../auth/src/testdata/sa-openssl.key");
        TokenIssuer::new(
            k3rs_auth::serviceaccount::SigningKey::from_pem(pem).unwrap(),
            k3rs_auth::serviceaccount::DEFAULT_ISSUER,
            vec![],
        )
        .unwrap()
    }

    fn secret(ann: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("tok".into()),
                namespace: Some("ns".into()),
                annotations: Some(
                    ann.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            type_: Some(SECRET_TYPE.into()),
            ..Default::default()
        }
    }

    fn sa(uid: &str) -> ServiceAccount {
        ServiceAccount {
            metadata: ObjectMeta {
                name: Some("build".into()),
                namespace: Some("ns".into()),
                uid: Some(uid.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn fills_deletes_or_leaves() {
        let i = issuer();
        let s = secret(&[(NAME_ANNOTATION, "build")]);
        let Action::Fill(filled) = plan(&s, Some(&sa("u1")), &i, "CA").unwrap() else {
            panic!("should fill");
        };
        let data = filled.data.clone().unwrap();
        assert_eq!(data["ca.crt"].0, b"CA");
        assert_eq!(data["namespace"].0, b"ns");
        let token = String::from_utf8(data["token"].0.clone()).unwrap();
        let v = i.validate(&token, 0).unwrap();
        assert_eq!(v.legacy_secret.as_deref(), Some("tok"));
        assert_eq!(v.service_account.uid, "u1");
        assert_eq!(filled.annotations()[UID_ANNOTATION], "u1");
        // Filled: nothing more to do.
        assert_eq!(
            plan(&filled, Some(&sa("u1")), &i, "CA").unwrap(),
            Action::Nothing
        );
        // Missing or replaced service account: delete.
        assert_eq!(plan(&s, None, &i, "CA").unwrap(), Action::Delete);
        assert_eq!(
            plan(&filled, Some(&sa("u2")), &i, "CA").unwrap(),
            Action::Delete
        );
        // Not annotated, or another type: leave alone.
        assert_eq!(plan(&secret(&[]), None, &i, "CA").unwrap(), Action::Nothing);
        let mut opaque = s.clone();
        opaque.type_ = Some("Opaque".into());
        assert_eq!(plan(&opaque, None, &i, "CA").unwrap(), Action::Nothing);
    }
}
