//! The storage-object-in-use protection controllers (upstream's pvc-protection, pv-protection
//! and vac-protection): the StorageObjectInUseProtection admission plugin puts a finalizer on
//! every PersistentVolumeClaim, PersistentVolume and VolumeAttributesClass; once one is deleted
//! this controller removes its finalizer as soon as nothing uses it:
//! - a claim, while no scheduled pod names it in a `persistentVolumeClaim` volume (or, not shut
//!   down, owns it as a generic ephemeral volume);
//! - a volume, while it is not Bound;
//! - a class, while no volume or claim names it (spec, current or target class).
//!
//! Deleted objects are followed by watches; what they wait on is re-checked every couple of
//! seconds while any is waiting (pods are not watched: the check lists them only then).

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::VolumeAttributesClass;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, Resource, ResourceExt};

pub const PVC_FINALIZER: &str = "kubernetes.io/pvc-protection";
pub const PV_FINALIZER: &str = "kubernetes.io/pv-protection";
pub const VAC_FINALIZER: &str = "kubernetes.io/vac-protection";
const RECHECK: Duration = Duration::from_secs(2);

enum Seen {
    Claim(Box<Event<PersistentVolumeClaim>>),
    Volume(Box<Event<PersistentVolume>>),
    Class(Box<Event<VolumeAttributesClass>>),
}

/// Objects being deleted that still carry the protection finalizer, by (namespace, name).
struct Waiting<K> {
    finalizer: &'static str,
    items: HashMap<(String, String), K>,
}

impl<K: Resource + Clone> Waiting<K> {
    fn new(finalizer: &'static str) -> Self {
        Waiting {
            finalizer,
            items: HashMap::new(),
        }
    }

    fn see(&mut self, ev: Event<K>) {
        match ev {
            Event::Apply(o) | Event::InitApply(o) => {
                let key = (o.namespace().unwrap_or_default(), o.name_any());
                let waiting = o.meta().deletion_timestamp.is_some()
                    && o.finalizers().iter().any(|f| f == self.finalizer);
                if waiting {
                    self.items.insert(key, o);
                } else {
                    self.items.remove(&key);
                }
            }
            Event::Delete(o) => {
                self.items
                    .remove(&(o.namespace().unwrap_or_default(), o.name_any()));
            }
            Event::Init | Event::InitDone => {}
        }
    }
}

/// Removes `finalizer` from `o` with an update (what upstream's controller roles allow), guarded
/// by its resourceVersion; a conflict is retried on the next check.
async fn release<K>(api: Api<K>, o: &K, finalizer: &str) -> Result<(), kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let mut updated = o.clone();
    updated.meta_mut().finalizers = Some(
        o.finalizers()
            .iter()
            .filter(|f| *f != finalizer)
            .cloned()
            .collect(),
    );
    match api
        .replace(&o.name_any(), &PostParams::default(), &updated)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether a pod uses a claim, as upstream's pvc-protection controller judges it.
fn pod_uses(pod: &Pod, claim: &PersistentVolumeClaim) -> bool {
    let Some(spec) = &pod.spec else {
        return false;
    };
    if spec.node_name.as_deref().unwrap_or_default().is_empty() {
        return false;
    }
    let shut_down = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    let claim_name = claim.name_any();
    spec.volumes.iter().flatten().any(|v| {
        if v.persistent_volume_claim
            .as_ref()
            .is_some_and(|c| c.claim_name == claim_name)
        {
            return true;
        }
        // A generic ephemeral volume's claim is `<pod>-<volume>`, owned by the pod.
        !shut_down
            && v.ephemeral.is_some()
            && format!("{}-{}", pod.name_any(), v.name) == claim_name
            && claim
                .owner_references()
                .iter()
                .any(|r| r.controller == Some(true) && Some(r.uid.as_str()) == pod.uid().as_deref())
    })
}

async fn check_claims(
    client: &Client,
    w: &mut Waiting<PersistentVolumeClaim>,
) -> Result<(), kube::Error> {
    let keys: Vec<_> = w.items.keys().cloned().collect();
    for key in keys {
        let Some(claim) = w.items.get(&key).cloned() else {
            continue;
        };
        let pods: Api<Pod> = Api::namespaced(client.clone(), &key.0);
        let in_use = pods
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .any(|p| pod_uses(p, &claim));
        if !in_use {
            release(
                Api::<PersistentVolumeClaim>::namespaced(client.clone(), &key.0),
                &claim,
                PVC_FINALIZER,
            )
            .await?;
            w.items.remove(&key);
        }
    }
    Ok(())
}

async fn check_volumes(
    client: &Client,
    w: &mut Waiting<PersistentVolume>,
) -> Result<(), kube::Error> {
    let keys: Vec<_> = w.items.keys().cloned().collect();
    for key in keys {
        let Some(pv) = w.items.get(&key).cloned() else {
            continue;
        };
        let bound = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
        if !bound {
            release(
                Api::<PersistentVolume>::all(client.clone()),
                &pv,
                PV_FINALIZER,
            )
            .await?;
            w.items.remove(&key);
        }
    }
    Ok(())
}

async fn check_classes(
    client: &Client,
    w: &mut Waiting<VolumeAttributesClass>,
) -> Result<(), kube::Error> {
    if w.items.is_empty() {
        return Ok(());
    }
    let pvs = Api::<PersistentVolume>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let pvcs = Api::<PersistentVolumeClaim>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let keys: Vec<_> = w.items.keys().cloned().collect();
    for key in keys {
        let Some(vac) = w.items.get(&key).cloned() else {
            continue;
        };
        let name = Some(vac.name_any());
        let used_by_pv = pvs.items.iter().any(|pv| {
            pv.spec
                .as_ref()
                .and_then(|s| s.volume_attributes_class_name.clone())
                == name
        });
        let used_by_pvc = pvcs.items.iter().any(|c| {
            let spec = c
                .spec
                .as_ref()
                .and_then(|s| s.volume_attributes_class_name.clone());
            let current = c
                .status
                .as_ref()
                .and_then(|s| s.current_volume_attributes_class_name.clone());
            let target = c
                .status
                .as_ref()
                .and_then(|s| s.modify_volume_status.as_ref())
                .and_then(|m| m.target_volume_attributes_class_name.clone());
            spec == name || current == name || target == name
        });
        if !used_by_pv && !used_by_pvc {
            release(
                Api::<VolumeAttributesClass>::all(client.clone()),
                &vac,
                VAC_FINALIZER,
            )
            .await?;
            w.items.remove(&key);
        }
    }
    Ok(())
}

/// Runs the controller until the future is dropped.
pub async fn run(client: Client) {
    let cfg = watcher::Config::default;
    let claims = watcher::watcher(Api::<PersistentVolumeClaim>::all(client.clone()), cfg())
        .default_backoff()
        .map(|e| e.map(|e| Seen::Claim(Box::new(e))));
    let volumes = watcher::watcher(Api::<PersistentVolume>::all(client.clone()), cfg())
        .default_backoff()
        .map(|e| e.map(|e| Seen::Volume(Box::new(e))));
    let classes = watcher::watcher(Api::<VolumeAttributesClass>::all(client.clone()), cfg())
        .default_backoff()
        .map(|e| e.map(|e| Seen::Class(Box::new(e))));
    let events = futures::stream::select(futures::stream::select(claims, volumes), classes);
    futures::pin_mut!(events);
    let mut pvc = Waiting::new(PVC_FINALIZER);
    let mut pv = Waiting::new(PV_FINALIZER);
    let mut vac = Waiting::new(VAC_FINALIZER);
    loop {
        let any_waiting = !(pvc.items.is_empty() && pv.items.is_empty() && vac.items.is_empty());
        let next = if any_waiting {
            match tokio::time::timeout(RECHECK, events.next()).await {
                Ok(None) => return,
                Ok(Some(n)) => Some(n),
                Err(_) => None,
            }
        } else {
            match events.next().await {
                None => return,
                n => n,
            }
        };
        match next {
            Some(Ok(Seen::Claim(e))) => pvc.see(*e),
            Some(Ok(Seen::Volume(e))) => pv.see(*e),
            Some(Ok(Seen::Class(e))) => vac.see(*e),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "storage protection watch failed; retrying");
                continue;
            }
            None => {}
        }
        for r in [
            check_claims(&client, &mut pvc).await,
            check_volumes(&client, &mut pv).await,
            check_classes(&client, &mut vac).await,
        ] {
            if let Err(e) = r {
                tracing::debug!(error = %e, "storage protection check failed; retrying");
            }
        }
    }
}
