//! The namespace controller: a namespace being deleted (Terminating) has its content deleted —
//! every namespaced resource the server's discovery lists — and then its `kubernetes` finalizer
//! removed through `namespaces/<name>/finalize`, after which the API server deletes it.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::{verbs, ApiCapabilities, Discovery, Scope};
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};

/// The finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";

/// What one deletion pass over a namespace found, as upstream's namespace controller reports it
/// in the namespace's status conditions.
#[derive(Default, Debug)]
struct Pass {
    /// `<resource>.<group>` → objects still present.
    remaining: BTreeMap<String, usize>,
    /// finalizer → objects it still holds.
    finalizers: BTreeMap<String, usize>,
    /// Resource types whose deletion failed, with the error.
    errors: Vec<String>,
    discovery_error: Option<String>,
}

impl Pass {
    fn done(&self) -> bool {
        self.remaining.is_empty() && self.errors.is_empty() && self.discovery_error.is_none()
    }
}

/// Deletes the objects of one resource type in `ns` and records what is left.
async fn delete_resource(
    client: &Client,
    ns: &str,
    ar: &ApiResource,
    caps: &ApiCapabilities,
    pass: &mut Pass,
) -> Result<(), kube::Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, ar);
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
    let left = api.list(&ListParams::default()).await?.items;
    if !left.is_empty() {
        pass.remaining
            .insert(format!("{}.{}", ar.plural, ar.group), left.len());
        for o in &left {
            for f in o.finalizers() {
                *pass.finalizers.entry(f.clone()).or_default() += 1;
            }
        }
    }
    Ok(())
}

/// Deletes everything in `ns`: pods first (upstream's OrderedNamespaceDeletion), everything else
/// once no pod is left.
async fn delete_content(client: &Client, ns: &str) -> Pass {
    let mut pass = Pass::default();
    let discovery = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(d) => d,
        Err(e) => {
            pass.discovery_error = Some(format!("Discovery failed for some groups: {e}"));
            return pass;
        }
    };
    let mut resources = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if matches!(caps.scope, Scope::Namespaced) && caps.supports_operation(verbs::LIST) {
                resources.push((ar, caps));
            }
        }
    }
    let is_pods = |ar: &ApiResource| ar.group.is_empty() && ar.plural == "pods";
    if let Some((ar, caps)) = resources.iter().find(|(ar, _)| is_pods(ar)) {
        if let Err(e) = delete_resource(client, ns, ar, caps, &mut pass).await {
            pass.errors.push(format!(
                "failed to delete pods for namespace: {ns}, err: {e}"
            ));
        }
        if !pass.done() {
            return pass;
        }
    }
    for (ar, caps) in resources.iter().filter(|(ar, _)| !is_pods(ar)) {
        if let Err(e) = delete_resource(client, ns, ar, caps, &mut pass).await {
            pass.errors.push(format!("{}.{}: {e}", ar.plural, ar.group));
        }
    }
    pass
}

/// The five deletion conditions upstream keeps on a terminating namespace: the failing variant
/// when `pass` found a problem, the "ok" variant otherwise.
fn conditions(pass: &Pass) -> Vec<(&'static str, &'static str, &'static str, String)> {
    let ok = |t, reason, msg: &str| (t, "False", reason, msg.to_string());
    let join = |m: &BTreeMap<String, usize>, f: &dyn Fn(&String, &usize) -> String| {
        let mut v: Vec<String> = m.iter().map(|(k, n)| f(k, n)).collect();
        v.sort();
        v.join(", ")
    };
    vec![
        match &pass.discovery_error {
            Some(e) => (
                "NamespaceDeletionDiscoveryFailure",
                "True",
                "DiscoveryFailed",
                e.clone(),
            ),
            None => ok(
                "NamespaceDeletionDiscoveryFailure",
                "ResourcesDiscovered",
                "All resources successfully discovered",
            ),
        },
        ok(
            "NamespaceDeletionGroupVersionParsingFailure",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        if pass.errors.is_empty() {
            ok(
                "NamespaceDeletionContentFailure",
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization",
            )
        } else {
            let mut errs = pass.errors.clone();
            errs.sort();
            (
                "NamespaceDeletionContentFailure",
                "True",
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    errs.len(),
                    errs.join(", ")
                ),
            )
        },
        if pass.remaining.is_empty() {
            ok(
                "NamespaceContentRemaining",
                "ContentRemoved",
                "All content successfully removed",
            )
        } else {
            (
                "NamespaceContentRemaining",
                "True",
                "SomeResourcesRemain",
                format!(
                    "Some resources are remaining: {}",
                    join(&pass.remaining, &|r, n| format!(
                        "{r} has {n} resource instances"
                    ))
                ),
            )
        },
        if pass.finalizers.is_empty() {
            ok(
                "NamespaceFinalizersRemaining",
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished",
            )
        } else {
            (
                "NamespaceFinalizersRemaining",
                "True",
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    join(&pass.finalizers, &|f, n| format!(
                        "{f} in {n} resource instances"
                    ))
                ),
            )
        },
    ]
}

/// Writes the deletion conditions to the namespace's status when they changed.
async fn report(client: &Client, name: &str, pass: &Pass) -> Result<(), kube::Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let Some(mut ns) = namespaces.get_opt(name).await? else {
        return Ok(());
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let status = ns.status.get_or_insert_with(Default::default);
    let list = status.conditions.get_or_insert_with(Vec::new);
    let mut changed = false;
    for (t, st, reason, msg) in conditions(pass) {
        match list.iter_mut().find(|c| c.type_ == t) {
            Some(c) => {
                if c.status != st
                    || c.reason.as_deref() != Some(reason)
                    || c.message.as_deref() != Some(msg.as_str())
                {
                    if c.status != st {
                        c.last_transition_time = Some(now.clone());
                    }
                    c.status = st.into();
                    c.reason = Some(reason.into());
                    c.message = Some(msg);
                    changed = true;
                }
            }
            None => {
                list.push(NamespaceCondition {
                    type_: t.into(),
                    status: st.into(),
                    reason: Some(reason.into()),
                    message: Some(msg),
                    last_transition_time: Some(now.clone()),
                });
                changed = true;
            }
        }
    }
    if changed {
        match namespaces
            .replace_status(name, &PostParams::default(), &ns)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One pass over a terminating namespace; `Ok(true)` once it has been finalized.
async fn finalize(client: &Client, name: &str) -> Result<bool, kube::Error> {
    let pass = delete_content(client, name).await;
    report(client, name, &pass).await?;
    if !pass.done() {
        tracing::debug!(
            namespace = name,
            ?pass,
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
