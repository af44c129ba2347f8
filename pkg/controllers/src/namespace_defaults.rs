//! Every active namespace has a `default` ServiceAccount and a `kube-root-ca.crt` ConfigMap with the
//! cluster CA; both come back if deleted, and the ConfigMap follows the CA.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};

pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

fn active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
}

/// Creates what `ns` lacks; fixes a stale CA bundle. Errors are logged and retried on the next event.
pub async fn ensure(client: &Client, ns: &str, ca_pem: &str) -> Result<(), kube::Error> {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    if sas.get_opt("default").await?.is_none() {
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some("default".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        match sas.create(&PostParams::default(), &sa).await {
            Ok(_) => tracing::debug!(namespace = ns, "created ServiceAccount default"),
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let want: BTreeMap<String, String> = [("ca.crt".to_string(), ca_pem.to_string())].into();
    match cms.get_opt(ROOT_CA_CONFIGMAP).await? {
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(ROOT_CA_CONFIGMAP.into()),
                    annotations: Some(
                        [(
                            "kubernetes.io/description".to_string(),
                            DESCRIPTION.to_string(),
                        )]
                        .into(),
                    ),
                    ..Default::default()
                },
                data: Some(want),
                ..Default::default()
            };
            match cms.create(&PostParams::default(), &cm).await {
                Ok(_) => tracing::debug!(namespace = ns, "created ConfigMap {ROOT_CA_CONFIGMAP}"),
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        Some(mut cm) if cm.data.as_ref() != Some(&want) => {
            cm.data = Some(want);
            cms.replace(ROOT_CA_CONFIGMAP, &PostParams::default(), &cm)
                .await?;
        }
        Some(_) => {}
    }
    Ok(())
}

async fn ensure_logged(client: &Client, ns: &str, ca_pem: &str) {
    if let Err(e) = ensure(client, ns, ca_pem).await {
        tracing::warn!(namespace = ns, error = %e, "namespace defaults");
    }
}

/// The namespace a watch event concerns.
fn affected<K>(ev: Event<K>, ns: impl Fn(K) -> String) -> Option<String> {
    match ev {
        Event::Apply(o) | Event::InitApply(o) | Event::Delete(o) => Some(ns(o)),
        Event::Init | Event::InitDone => None,
    }
}

/// Watches namespaces (and deletions of the two objects) and keeps every namespace furnished.
pub async fn run(client: Client, ca_pem: String) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let sas: Api<ServiceAccount> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::all(client.clone());
    let ns_events = watcher::watcher(namespaces.clone(), watcher::Config::default())
        .map(|e| e.map(|e| affected(e, |n: Namespace| n.name_any())));
    let sa_events = watcher::watcher(
        sas,
        watcher::Config::default().fields("metadata.name=default"),
    )
    .map(|e| e.map(|e| affected(e, |o: ServiceAccount| o.namespace().unwrap_or_default())));
    let cm_events = watcher::watcher(
        cms,
        watcher::Config::default().fields(&format!("metadata.name={ROOT_CA_CONFIGMAP}")),
    )
    .map(|e| e.map(|e| affected(e, |o: ConfigMap| o.namespace().unwrap_or_default())));
    let mut events =
        futures::stream::select_all([ns_events.boxed(), sa_events.boxed(), cm_events.boxed()]);
    while let Some(ev) = events.next().await {
        let namespace = match ev {
            Ok(Some(ns)) => ns,
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "watch error; the watcher retries");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if namespace.is_empty() {
            continue;
        }
        match namespaces.get_opt(&namespace).await {
            Ok(Some(ns)) if active(&ns) => ensure_logged(&client, &namespace, &ca_pem).await,
            Ok(_) => {}
            Err(e) => tracing::warn!(namespace, error = %e, "reading namespace"),
        }
    }
}
