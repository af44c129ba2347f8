//! The garbage collector: objects whose owners (ownerReferences) are all gone are deleted;
//! owners deleted with `propagationPolicy: Orphan` first have the references to them removed from
//! their dependents, owners deleted with `Foreground` first see their dependents deleted.
//!
//! It works from periodic metadata-only lists of every resource the server's discovery lists (no
//! per-resource informers yet), and checks an owner's absence with a direct read before deleting
//! anything, so an object listed before its owner is never collected by mistake.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams};
use kube::discovery::{verbs, ApiResource, Discovery, Scope};
use kube::Client;
use serde_json::json;

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";
const INTERVAL: Duration = Duration::from_secs(2);

struct Obj {
    ar: ApiResource,
    namespaced: bool,
    meta: ObjectMeta,
}

fn api(
    client: &Client,
    ar: &ApiResource,
    namespaced: bool,
    ns: Option<&str>,
) -> Api<DynamicObject> {
    match (namespaced, ns) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, ar),
        _ => Api::all_with(client.clone(), ar),
    }
}

fn obj_api(client: &Client, o: &Obj) -> Api<DynamicObject> {
    api(client, &o.ar, o.namespaced, o.meta.namespace.as_deref())
}

fn name(o: &Obj) -> String {
    o.meta.name.clone().unwrap_or_default()
}

async fn snapshot(
    client: &Client,
) -> Result<(Vec<Obj>, HashMap<(String, String), (ApiResource, bool)>), kube::Error> {
    let discovery = Discovery::new(client.clone()).run_aggregated().await?;
    let mut objects = Vec::new();
    let mut kinds = HashMap::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            let namespaced = matches!(caps.scope, Scope::Namespaced);
            kinds.insert(
                (ar.api_version.clone(), ar.kind.clone()),
                (ar.clone(), namespaced),
            );
            if !caps.supports_operation(verbs::LIST) || !caps.supports_operation(verbs::DELETE) {
                continue;
            }
            let list = Api::<DynamicObject>::all_with(client.clone(), &ar)
                .list_metadata(&ListParams::default())
                .await?;
            for item in list.items {
                objects.push(Obj {
                    ar: ar.clone(),
                    namespaced,
                    meta: item.metadata,
                });
            }
        }
    }
    Ok((objects, kinds))
}

/// Whether the owner a reference names still exists (same uid), read directly.
async fn owner_exists(
    client: &Client,
    kinds: &HashMap<(String, String), (ApiResource, bool)>,
    dependent_ns: Option<&str>,
    r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Result<bool, kube::Error> {
    let Some((ar, namespaced)) = kinds.get(&(r.api_version.clone(), r.kind.clone())) else {
        // A kind the server does not serve cannot be checked: keep the dependent.
        return Ok(true);
    };
    let found = api(client, ar, *namespaced, dependent_ns)
        .get_metadata_opt(&r.name)
        .await?;
    Ok(found.is_some_and(|o| o.metadata.uid.as_deref() == Some(r.uid.as_str())))
}

async fn remove_finalizer(client: &Client, o: &Obj, finalizer: &str) -> Result<(), kube::Error> {
    let remaining: Vec<String> = o
        .meta
        .finalizers
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    let patch =
        json!({"metadata": {"finalizers": remaining, "resourceVersion": o.meta.resource_version}});
    obj_api(client, o)
        .patch(&name(o), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// One pass over the cluster.
pub async fn collect(client: &Client) -> Result<(), kube::Error> {
    let (objects, kinds) = snapshot(client).await?;
    let uids: HashSet<&str> = objects
        .iter()
        .filter_map(|o| o.meta.uid.as_deref())
        .collect();
    let dependents_of = |uid: &str| -> Vec<&Obj> {
        objects
            .iter()
            .filter(|d| {
                d.meta
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|r| r.uid == uid)
            })
            .collect()
    };
    for o in &objects {
        let deleting = o.meta.deletion_timestamp.is_some();
        let finalizers = o.meta.finalizers.clone().unwrap_or_default();
        let Some(uid) = o.meta.uid.as_deref() else {
            continue;
        };
        if deleting && finalizers.iter().any(|f| f == ORPHAN) {
            for d in dependents_of(uid) {
                let refs: Vec<_> = d
                    .meta
                    .owner_references
                    .iter()
                    .flatten()
                    .filter(|r| r.uid != uid)
                    .cloned()
                    .collect();
                // null removes the field when no reference is left (as upstream's omitempty).
                let refs = if refs.is_empty() {
                    serde_json::Value::Null
                } else {
                    json!(refs)
                };
                let patch = json!({"metadata": {"ownerReferences": refs}});
                match obj_api(client, d)
                    .patch(&name(d), &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            remove_finalizer(client, o, ORPHAN).await?;
            continue;
        }
        if deleting && finalizers.iter().any(|f| f == FOREGROUND) {
            let mut blocking = 0;
            for d in dependents_of(uid) {
                if d.meta.deletion_timestamp.is_none() {
                    match obj_api(client, d)
                        .delete(&name(d), &DeleteParams::foreground())
                        .await
                    {
                        Ok(_) => {}
                        Err(kube::Error::Api(e)) if e.code == 404 => continue,
                        Err(e) => return Err(e),
                    }
                }
                let blocks = d
                    .meta
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|r| r.uid == uid && r.block_owner_deletion == Some(true));
                if blocks {
                    blocking += 1;
                }
            }
            if blocking == 0 {
                remove_finalizer(client, o, FOREGROUND).await?;
            }
            continue;
        }
        // A dependent whose owners are all gone goes too (in the background).
        let refs: Vec<_> = o.meta.owner_references.iter().flatten().collect();
        if refs.is_empty() || deleting || refs.iter().any(|r| uids.contains(r.uid.as_str())) {
            continue;
        }
        let mut any_owner = false;
        for r in &refs {
            if owner_exists(client, &kinds, o.meta.namespace.as_deref(), r).await? {
                any_owner = true;
                break;
            }
        }
        if !any_owner {
            tracing::debug!(kind = %o.ar.kind, name = %name(o), "collecting an object whose owners are gone");
            match obj_api(client, o)
                .delete(&name(o), &DeleteParams::background())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// The datastore revision, as any list reports it (cheap: one object's metadata at most).
async fn revision(client: &Client) -> Option<String> {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .list_metadata(&ListParams::default().limit(1))
        .await
        .ok()
        .and_then(|l| l.metadata.resource_version)
}

/// Collects garbage every couple of seconds, skipping passes while nothing in the cluster has
/// changed (an idle cluster costs one tiny request per interval).
pub async fn run(client: Client) {
    let mut last: Option<String> = None;
    loop {
        let now = revision(&client).await;
        if now.is_none() || now != last {
            match collect(&client).await {
                Ok(()) => last = now,
                Err(e) => tracing::debug!(error = %e, "garbage collection pass failed; retrying"),
            }
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
