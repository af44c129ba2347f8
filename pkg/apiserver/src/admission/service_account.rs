//! ServiceAccount: every new pod runs as a service account that exists (`default` when it names
//! none), gets its API credentials mounted and inherits the account's image pull secrets.
//!
//! As upstream: unless the pod's (else the account's) `automountServiceAccountToken` is false,
//! a projected `kube-api-access-<random>` volume (a bound token valid 3607 s, the cluster CA from
//! `kube-root-ca.crt`, the namespace) is added and mounted read-only at
//! `/var/run/secrets/kubernetes.io/serviceaccount` in every container and init container that
//! has nothing mounted there (ephemeral containers are left alone). Mirror pods (static pods a
//! kubelet reports) may use no service account and no secret. An account annotated
//! `kubernetes.io/enforce-mountable-secrets: "true"` limits the pod to the secrets it lists.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::builtin::{annotation, get_opt, resource};
use super::{Attributes, Operation, Plugin};
use crate::status::ApiResult;
use crate::store::Api;

pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const VOLUME_PREFIX: &str = "kube-api-access-";
const ENFORCE_MOUNTABLE_SECRETS: &str = "kubernetes.io/enforce-mountable-secrets";
const MIRROR_POD: &str = "kubernetes.io/config.mirror";
/// Upstream's `WarnOnlyBoundTokenExpirationSeconds` (one hour and seven seconds).
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// How often the `default` account is looked for before giving up (the namespace controller
/// creates it just after the namespace; upstream waits the same way).
const DEFAULT_ATTEMPTS: usize = 10;

pub struct ServiceAccount;

/// Whether the plugin looks at the request at all (pods, main resource or ephemeral containers).
fn handles(a: &Attributes<'_>) -> bool {
    a.is("", "pods") && (a.subresource.is_empty() || a.subresource == "ephemeralcontainers")
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn array<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Go's `strconv.ParseBool` (anything else is false).
fn parse_bool(s: &str) -> bool {
    matches!(s, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

/// The volume upstream's `TokenVolumeSource` describes.
fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    })
}

/// Adds the token volume and its mounts (upstream's `mountServiceAccountToken`).
fn mount_token(spec: &mut serde_json::Map<String, Value>) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .and_then(|vols| {
            vols.iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str))
                .find(|n| n.starts_with(VOLUME_PREFIX))
                .map(str::to_string)
        });
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_PREFIX}{}", crate::object::random_suffix(5)));
    let mount = json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
    let mut needs_volume = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            let mounted = c
                .get("volumeMounts")
                .and_then(Value::as_array)
                .is_some_and(|ms| {
                    ms.iter().any(|m| {
                        m.get("mountPath").and_then(Value::as_str) == Some(TOKEN_MOUNT_PATH)
                    })
                });
            if mounted {
                continue;
            }
            match c.get_mut("volumeMounts") {
                Some(Value::Array(ms)) => ms.push(mount.clone()),
                None | Some(Value::Null) => {
                    c.insert("volumeMounts".into(), json!([mount.clone()]));
                }
                // Not a list: validation reports it.
                Some(_) => continue,
            }
            needs_volume = true;
        }
    }
    if existing.is_none() && needs_volume {
        match spec.get_mut("volumes") {
            Some(Value::Array(vols)) => vols.push(token_volume(&volume_name)),
            None | Some(Value::Null) => {
                spec.insert("volumes".into(), json!([token_volume(&volume_name)]));
            }
            Some(_) => {}
        }
    }
}

/// Every secret a pod refers to (upstream's `VisitPodSecretNames` over all containers).
fn pod_secret_names(spec: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |n: &str| {
        if !n.is_empty() {
            out.insert(n.to_string());
        }
    };
    for s in array(spec, "imagePullSecrets") {
        add(str_at(s, "/name"));
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in array(spec, list) {
            for e in array(c, "env") {
                add(str_at(e, "/valueFrom/secretKeyRef/name"));
            }
            for e in array(c, "envFrom") {
                add(str_at(e, "/secretRef/name"));
            }
        }
    }
    for v in array(spec, "volumes") {
        add(str_at(v, "/secret/secretName"));
        add(str_at(v, "/azureFile/secretName"));
        add(str_at(v, "/csi/nodePublishSecretRef/name"));
        for kind in [
            "cephfs",
            "cinder",
            "flexVolume",
            "iscsi",
            "rbd",
            "scaleIO",
            "storageos",
        ] {
            add(str_at(v, &format!("/{kind}/secretRef/name")));
        }
        if let Some(sources) = v.pointer("/projected/sources").and_then(Value::as_array) {
            for s in sources {
                add(str_at(s, "/secret/name"));
            }
        }
    }
    out
}

/// The secrets (and pull secrets) an account lets its pods use.
fn names_of(sa: &Value, k: &str) -> BTreeSet<String> {
    array(sa, k)
        .iter()
        .map(|s| str_at(s, "/name").to_string())
        .collect()
}

/// Upstream's `limitSecretReferences`: the first reference the account does not list.
fn unlisted_secret(sa: &Value, spec: &Value) -> Option<String> {
    let sa_name = str_at(sa, "/metadata/name");
    let mountable = names_of(sa, "secrets");
    for v in array(spec, "volumes") {
        let Some(name) = v.pointer("/secret/secretName").and_then(Value::as_str) else {
            continue;
        };
        if !mountable.contains(name) {
            return Some(format!("volume with secret.secretName=\"{name}\" is not allowed because service account {sa_name} does not reference that secret"));
        }
    }
    for (list, what) in [
        ("initContainers", "init container"),
        ("containers", "container"),
    ] {
        if let Some(e) = unlisted_env_secret(sa, spec, list, what) {
            return Some(e);
        }
    }
    let pull = names_of(sa, "imagePullSecrets");
    for (i, s) in array(spec, "imagePullSecrets").iter().enumerate() {
        let name = str_at(s, "/name");
        if !pull.contains(name) {
            return Some(format!("imagePullSecrets[{i}].name=\"{name}\" is not allowed because service account {sa_name} does not reference that imagePullSecret"));
        }
    }
    None
}

fn unlisted_env_secret(sa: &Value, spec: &Value, list: &str, what: &str) -> Option<String> {
    let sa_name = str_at(sa, "/metadata/name");
    let mountable = names_of(sa, "secrets");
    for c in array(spec, list) {
        let cname = str_at(c, "/name");
        for e in array(c, "env") {
            if let Some(s) = e
                .pointer("/valueFrom/secretKeyRef/name")
                .and_then(Value::as_str)
            {
                if !mountable.contains(s) {
                    return Some(format!("{what} {cname} with envVar {} referencing secret.secretName=\"{s}\" is not allowed because service account {sa_name} does not reference that secret", str_at(e, "/name")));
                }
            }
        }
        for e in array(c, "envFrom") {
            if let Some(s) = e.pointer("/secretRef/name").and_then(Value::as_str) {
                if !mountable.contains(s) {
                    return Some(format!("{what} {cname} with envFrom referencing secret.secretName=\"{s}\" is not allowed because service account {sa_name} does not reference that secret"));
                }
            }
        }
    }
    None
}

fn enforces_mountable_secrets(sa: &Value) -> bool {
    annotation(sa, ENFORCE_MOUNTABLE_SECRETS).is_some_and(parse_bool)
}

/// The account, waiting a little for `default` to be created.
async fn lookup(api: &Api, ns: &str, name: &str) -> ApiResult<Result<Value, String>> {
    let sas = resource("", "v1", "serviceaccounts")?;
    let attempts = if name == DEFAULT_SERVICE_ACCOUNT {
        DEFAULT_ATTEMPTS
    } else {
        1
    };
    for i in 0..attempts {
        if i > 0 {
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 100;
            tokio::time::sleep(Duration::from_millis(100 + jitter)).await;
        }
        match get_opt(api, sas, Some(ns), name).await {
            Ok(Some(sa)) => return Ok(Ok(sa)),
            Ok(None) => {}
            Err(e) => return Ok(Err(e.message)),
        }
    }
    Ok(Err(format!("serviceaccount \"{name}\" not found")))
}

impl ServiceAccount {
    /// The account a pod names, or upstream's Forbidden.
    async fn account(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        pod: &Value,
        name: &str,
    ) -> ApiResult<Value> {
        let ns = a.namespace.unwrap_or("");
        lookup(api, ns, name).await?.map_err(|e| {
            a.forbidden(
                Some(pod),
                format!("error looking up service account {ns}/{name}: {e}"),
            )
        })
    }

    /// Upstream's `Validate` for a pod create (also run at the end of the mutating phase).
    async fn check_create(&self, api: &Api, a: &Attributes<'_>, pod: &Value) -> ApiResult<()> {
        let spec = pod.get("spec").cloned().unwrap_or(Value::Null);
        if annotation(pod, MIRROR_POD).is_some() {
            if !str_at(&spec, "/serviceAccountName").is_empty() {
                return Err(
                    a.forbidden(Some(pod), "a mirror pod may not reference service accounts")
                );
            }
            if !pod_secret_names(&spec).is_empty() {
                return Err(a.forbidden(Some(pod), "a mirror pod may not reference secrets"));
            }
            let projects_token = array(&spec, "volumes").iter().any(|v| {
                v.pointer("/projected/sources")
                    .and_then(Value::as_array)
                    .is_some_and(|s| {
                        s.iter()
                            .any(|s| s.get("serviceAccountToken").is_some_and(|t| !t.is_null()))
                    })
            });
            if projects_token {
                return Err(a.forbidden(
                    Some(pod),
                    "a mirror pod may not use ServiceAccountToken volume projections",
                ));
            }
            return Ok(());
        }
        let sa_name = str_at(&spec, "/serviceAccountName");
        if sa_name.is_empty() {
            return Err(a.forbidden(
                Some(pod),
                format!(
                    "no service account specified for pod {}/{}",
                    a.namespace.unwrap_or(""),
                    str_at(pod, "/metadata/name")
                ),
            ));
        }
        let sa = self.account(api, a, pod, sa_name).await?;
        if enforces_mountable_secrets(&sa) {
            if let Some(e) = unlisted_secret(&sa, &spec) {
                return Err(a.forbidden(Some(pod), e));
            }
        }
        Ok(())
    }

    /// Upstream's check of an ephemeral-containers update.
    async fn check_ephemeral(&self, api: &Api, a: &Attributes<'_>, pod: &Value) -> ApiResult<()> {
        let spec = pod.get("spec").cloned().unwrap_or(Value::Null);
        let sa_name = str_at(&spec, "/serviceAccountName");
        if sa_name.is_empty() {
            return Err(a.forbidden(
                Some(pod),
                format!(
                    "no service account specified for pod {}/{}",
                    a.namespace.unwrap_or(""),
                    str_at(pod, "/metadata/name")
                ),
            ));
        }
        let sa = self.account(api, a, pod, sa_name).await?;
        if enforces_mountable_secrets(&sa) {
            if let Some(e) =
                unlisted_env_secret(&sa, &spec, "ephemeralContainers", "ephemeral container")
            {
                return Err(a.forbidden(Some(pod), e));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Plugin for ServiceAccount {
    fn name(&self) -> &'static str {
        "ServiceAccount"
    }

    async fn admit(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if !handles(a)
            || a.operation != Operation::Create
            || !obj.get("spec").is_some_and(Value::is_object)
        {
            return Ok(());
        }
        // Mirror pods are never changed (their kubelet would delete a pod that differs from its
        // manifest), only checked.
        if annotation(obj, MIRROR_POD).is_none() {
            let ns = a.namespace.unwrap_or("").to_string();
            let spec_name = str_at(obj, "/spec/serviceAccountName").to_string();
            let sa_name = if spec_name.is_empty() {
                DEFAULT_SERVICE_ACCOUNT.to_string()
            } else {
                spec_name
            };
            let sa = lookup(api, &ns, &sa_name).await?.map_err(|e| {
                a.forbidden(
                    Some(obj),
                    format!("error looking up service account {ns}/{sa_name}: {e}"),
                )
            })?;
            let pod_choice = obj
                .pointer("/spec/automountServiceAccountToken")
                .and_then(Value::as_bool);
            let sa_choice = sa
                .get("automountServiceAccountToken")
                .and_then(Value::as_bool);
            let automount = pod_choice.or(sa_choice).unwrap_or(true);
            let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
                return Ok(());
            };
            spec.insert("serviceAccountName".into(), json!(sa_name));
            if automount {
                mount_token(spec);
            }
            let has_pull_secrets = spec
                .get("imagePullSecrets")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            if !has_pull_secrets {
                let from_sa: Vec<Value> = array(&sa, "imagePullSecrets")
                    .iter()
                    .map(|s| json!({"name": str_at(s, "/name")}))
                    .collect();
                if !from_sa.is_empty() {
                    spec.insert("imagePullSecrets".into(), Value::Array(from_sa));
                }
            }
        }
        self.check_create(api, a, obj).await
    }

    async fn validate(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: Option<&Value>,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        let Some(pod) = obj else { return Ok(()) };
        if !handles(a) {
            return Ok(());
        }
        match a.operation {
            Operation::Update if a.subresource == "ephemeralcontainers" => {
                self.check_ephemeral(api, a, pod).await
            }
            Operation::Create => self.check_create(api, a, pod).await,
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_mounted_once_in_every_container() {
        let mut pod = json!({
            "initContainers": [{"name": "init"}],
            "containers": [
                {"name": "a", "volumeMounts": [{"name": "x", "mountPath": "/x"}]},
                {"name": "b", "volumeMounts": [{"name": "own", "mountPath": TOKEN_MOUNT_PATH}]},
            ],
            "ephemeralContainers": [{"name": "debug"}],
        });
        let spec = pod.as_object_mut().unwrap();
        mount_token(spec);
        let vols = spec["volumes"].as_array().unwrap();
        assert_eq!(vols.len(), 1);
        let name = vols[0]["name"].as_str().unwrap();
        assert!(
            name.starts_with("kube-api-access-") && name.len() == 21,
            "{name}"
        );
        assert_eq!(
            vols[0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3607
        );
        assert_eq!(spec["initContainers"][0]["volumeMounts"][0]["name"], name);
        assert_eq!(spec["containers"][0]["volumeMounts"][1]["readOnly"], true);
        assert_eq!(
            spec["containers"][1]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert!(spec["ephemeralContainers"][0].get("volumeMounts").is_none());
        // A second pass (an existing token volume) adds nothing.
        let before = Value::Object(spec.clone());
        mount_token(spec);
        assert_eq!(Value::Object(spec.clone()), before);
    }

    #[test]
    fn secrets_the_account_does_not_list_are_named() {
        let sa = json!({"metadata": {"name": "sa"}, "secrets": [{"name": "ok"}], "imagePullSecrets": [{"name": "pull"}]});
        let spec = json!({"containers": [{"name": "c", "env": [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "ok", "key": "k"}}}]}],
                          "imagePullSecrets": [{"name": "pull"}]});
        assert_eq!(unlisted_secret(&sa, &spec), None);
        let spec = json!({"volumes": [{"name": "v", "secret": {"secretName": "nope"}}]});
        assert_eq!(
            unlisted_secret(&sa, &spec).unwrap(),
            "volume with secret.secretName=\"nope\" is not allowed because service account sa does not reference that secret"
        );
        let spec =
            json!({"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "nope"}}]}]});
        assert!(unlisted_secret(&sa, &spec)
            .unwrap()
            .starts_with("container c with envFrom"));
        assert_eq!(
            pod_secret_names(
                &json!({"volumes": [{"projected": {"sources": [{"secret": {"name": "p"}}]}}]})
            ),
            BTreeSet::from(["p".to_string()])
        );
    }
}
