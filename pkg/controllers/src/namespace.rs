//! The namespace controller: a namespace being deleted (Terminating) has its content deleted —
//! every namespaced resource the server's discovery lists — and then its `kubernetes` finalizer
//! removed through `namespaces/<name>/finalize`, after which the API server deletes it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::{verbs, Discovery, Scope};
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};

/// The finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";

/// Deletes everything in `ns`; returns how many resource types still hold objects.
async fn delete_content(client: &Client, ns: &str) -> Result<usize, kube::Error> {
    let discovery = Discovery::new(client.clone()).run_aggregated().await?;
    let mut remaining = 0;
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if !matches!(caps.scope, Scope::Namespaced) || !caps.supports_operation(verbs::LIST) {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
            if caps.supports_operation(verbs::DELETE_COLLECTION) {
                api.delete_collection(&DeleteParams::background(), &ListParams::default())
                    .await?;
            } else if caps.supports_operation(verbs::DELETE) {
                for o in api.list(&ListParams::default()).await?.items {
                    match api.delete(&o.name_any(), &DeleteParams::background()).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(e)) if e.code == 404 => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            if !api
                .list(&ListParams::default().limit(1))
                .await?
                .items
                .is_empty()
            {
                remaining += 1;
            }
        }
    }
    Ok(remaining)
}

/// One pass over a terminating namespace; `Ok(true)` once it has been finalized.
async fn finalize(client: &Client, name: &str) -> Result<bool, kube::Error> {
    let remaining = delete_content(client, name).await?;
    if remaining > 0 {
        tracing::debug!(
            namespace = name,
            remaining,
            "namespace content still being deleted"
        );
        return Ok(false);
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let Some(mut ns) = namespaces.get_opt(name).await? else {
        return Ok(true);
    };
    if let Some(spec) = ns.spec.as_mut() {
        if let Some(f) = spec.finalizers.as_mut() {
            f.retain(|x| x != FINALIZER);
        }
    }
    match namespaces
        .replace_subresource("finalize", name, &PostParams::default(), &ns)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(true),
        Err(e) => Err(e),
    }
}

/// Watches namespaces and finalizes each terminating one, retrying until its content is gone.
pub async fn run(client: Client) {
    let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
    let api: Api<Namespace> = Api::all(client.clone());
    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
    while let Some(ev) = events.next().await {
        let ns = match ev {
            Ok(Event::Apply(ns) | Event::InitApply(ns)) => ns,
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "namespace watch error; the watcher retries");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let ours = ns
            .spec
            .as_ref()
            .and_then(|s| s.finalizers.as_ref())
            .is_some_and(|f| f.iter().any(|x| x == FINALIZER));
        if ns.metadata.deletion_timestamp.is_none() || !ours {
            continue;
        }
        let name = ns.name_any();
        let fresh = busy
            .lock()
            .map(|mut b| b.insert(name.clone()))
            .unwrap_or(false);
        if !fresh {
            continue;
        }
        let (client, busy) = (client.clone(), busy.clone());
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(200);
            loop {
                match finalize(&client, &name).await {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(namespace = %name, error = %e, "deleting namespace content")
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            if let Ok(mut b) = busy.lock() {
                b.remove(&name);
            }
            tracing::info!(namespace = %name, "namespace deleted");
        });
    }
}
