//! What the workload controllers (ReplicaSet/ReplicationController, Deployment) share: the
//! controller reference of an object, adoption and release of the objects a selector picks
//! (upstream's ControllerRefManager), a work queue with delayed and rate-limited requeues, and
//! event recording.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::time::Instant;

/// The owner reference with `controller: true`, if any.
pub(crate) fn controller_ref<K: Resource>(obj: &K) -> Option<&OwnerReference> {
    obj.owner_references()
        .iter()
        .find(|r| r.controller == Some(true))
}

/// Treats "gone" (404) and "changed meanwhile" (409) as done: the object's next event brings
/// its controller back.
pub(crate) fn ignore_gone<T>(r: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Now, as a metav1.Time (RFC 3339, whole seconds).
pub(crate) fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Seconds since the epoch of a metav1.Time text (0 when absent or unreadable).
pub(crate) fn seconds_of(time: Option<&str>) -> i64 {
    time.and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .map(|t| t.as_second())
        .unwrap_or(0)
}

/// Background tasks aborted when dropped (the watches of a controller).
pub(crate) struct Tasks(pub Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// A controller (the owner side of adoption): what its controller references say.
pub(crate) struct Owner {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    /// An owner being deleted adopts nothing and releases nothing.
    pub deleting: bool,
}

impl Owner {
    pub fn reference(&self) -> OwnerReference {
        OwnerReference {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }
}

/// Upstream's `ClaimObjects`: of the objects in `api` (one namespace), those `owner` controls
/// and `selector` (label-selector text) matches. Matching orphans are adopted (a controller
/// reference is added, guarded by their uid and resourceVersion), controlled objects that no
/// longer match are released (the reference removed); an owner being deleted does neither, and
/// objects being deleted are not adopted.
pub(crate) async fn claim<K>(
    api: &Api<K>,
    owner: &Owner,
    selector: &str,
) -> Result<Vec<K>, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let owned: Vec<K> = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|o| controller_ref(o).is_some_and(|r| r.uid == owner.uid))
        .collect();
    let matching: Vec<K> = api
        .list(&ListParams::default().labels(selector))
        .await?
        .items;
    let matching_names: HashSet<String> = matching.iter().map(|o| o.name_any()).collect();
    let mut mine = Vec::new();
    for o in owned {
        if matching_names.contains(&o.name_any()) {
            mine.push(o);
        } else if !owner.deleting {
            let refs: Vec<_> = o
                .owner_references()
                .iter()
                .filter(|r| r.uid != owner.uid)
                .cloned()
                .collect();
            let patch = json!({"metadata": {
                "ownerReferences": if refs.is_empty() { Value::Null } else { json!(refs) },
                "uid": o.uid(),
            }});
            ignore_gone(
                api.patch(
                    &o.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await,
            )?;
        }
    }
    if owner.deleting {
        return Ok(mine);
    }
    for o in matching {
        if controller_ref(&o).is_some() || o.meta().deletion_timestamp.is_some() {
            continue;
        }
        let mut refs = o.owner_references().to_vec();
        refs.push(owner.reference());
        let patch = json!({"metadata": {
            "ownerReferences": refs,
            "uid": o.uid(),
            "resourceVersion": o.resource_version(),
        }});
        match api
            .patch(
                &o.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(adopted) => mine.push(adopted),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 || e.code == 422 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(mine)
}

/// A work queue (upstream's rate-limiting workqueue, for one worker): a key is queued at most
/// once, can be queued after a delay, and failed keys come back after an exponentially growing
/// delay until they succeed.
pub(crate) struct WorkQueue<K> {
    queue: VecDeque<K>,
    queued: HashSet<K>,
    delayed: BTreeMap<Instant, Vec<K>>,
    failures: HashMap<K, u32>,
}

impl<K: Clone + Eq + Hash> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue {
            queue: VecDeque::new(),
            queued: HashSet::new(),
            delayed: BTreeMap::new(),
            failures: HashMap::new(),
        }
    }
}

impl<K: Clone + Eq + Hash> WorkQueue<K> {
    pub fn add(&mut self, k: K) {
        if self.queued.insert(k.clone()) {
            self.queue.push_back(k);
        }
    }

    pub fn add_after(&mut self, k: K, after: Duration) {
        self.delayed
            .entry(Instant::now() + after)
            .or_default()
            .push(k);
    }

    /// Requeues a key whose sync failed: 5ms, 10ms, 20ms, … up to a minute.
    pub fn add_rate_limited(&mut self, k: K) {
        let n = self.failures.entry(k.clone()).or_insert(0);
        let delay = Duration::from_millis(5)
            .saturating_mul(1u32 << (*n).min(20))
            .min(Duration::from_secs(60));
        *n += 1;
        self.add_after(k, delay);
    }

    /// Forgets a key's failures (after a successful sync).
    pub fn forget(&mut self, k: &K) {
        self.failures.remove(k);
    }

    /// The next key to sync, delayed keys whose time has come included.
    pub fn pop(&mut self) -> Option<K> {
        self.pop_at(Instant::now())
    }

    fn pop_at(&mut self, now: Instant) -> Option<K> {
        let due: Vec<Instant> = self.delayed.range(..=now).map(|(t, _)| *t).collect();
        for t in due {
            for k in self.delayed.remove(&t).unwrap_or_default() {
                self.add(k);
            }
        }
        let k = self.queue.pop_front()?;
        self.queued.remove(&k);
        Some(k)
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// When the earliest delayed key becomes due.
    pub fn next_due(&self) -> Option<Instant> {
        self.delayed.keys().next().copied()
    }
}

/// Records a core/v1 Event about `obj` (of kind `ar`), as upstream's event recorder writes
/// them; best effort.
pub(crate) async fn record_event(
    client: &Client,
    component: &str,
    ar: &ApiResource,
    obj: &DynamicObject,
    type_: &str,
    reason: &str,
    message: &str,
) {
    let ns = obj.namespace().unwrap_or_else(|| "default".into());
    let now = k8s_openapi::jiff::Timestamp::now();
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{}.{:x}", obj.name_any(), now.as_nanosecond()),
            "namespace": ns,
        },
        "involvedObject": {
            "apiVersion": ar.api_version,
            "kind": ar.kind,
            "namespace": obj.namespace(),
            "name": obj.name_any(),
            "uid": obj.uid(),
            "resourceVersion": obj.resource_version(),
        },
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": now_rfc3339(),
        "lastTimestamp": now_rfc3339(),
        "count": 1,
        "type": type_,
        "reportingComponent": component,
        "reportingInstance": "",
    });
    let Ok(event) = serde_json::from_value::<k8s_openapi::api::core::v1::Event>(event) else {
        return;
    };
    let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), &ns);
    if let Err(e) = api.create(&PostParams::default(), &event).await {
        tracing::debug!(error = %e, reason, "could not record an event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_dedups_and_delays() {
        let mut q: WorkQueue<u32> = WorkQueue::default();
        q.add(1);
        q.add(1);
        q.add(2);
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), None);
        let start = Instant::now();
        q.add_after(4, Duration::from_secs(3600));
        assert_eq!(q.pop_at(start), None);
        assert_eq!(q.pop_at(start + Duration::from_secs(3601)), Some(4));
        // Failures back off exponentially; success forgets them.
        q.add_rate_limited(3);
        q.add_rate_limited(3);
        let delays: Vec<Instant> = q.delayed.keys().copied().collect();
        assert_eq!(delays.len(), 2);
        assert!(delays[1] - delays[0] >= Duration::from_millis(5));
        q.forget(&3);
        assert!(q.failures.is_empty());
        assert_eq!(q.pop_at(start + Duration::from_secs(60)), Some(3));
        assert_eq!(q.pop_at(start + Duration::from_secs(60)), None);
    }
}
