//! The resource quota controller (upstream's pkg/controller/resourcequota): keeps every
//! ResourceQuota's `status.hard` equal to its `spec.hard` and recounts `status.used` from the
//! objects in its namespace, with the same evaluators the ResourceQuota admission plugin charges
//! with ([`k3rs_apis::quota`]).
//!
//! A quota is recounted when it is created or its `spec.hard` changes (promptly: the admission
//! plugin refuses what a quota with unknown usage would cover), when an object it counts is
//! deleted or stops counting (a pod that finishes or changes scope, a service that changes type,
//! a claim whose status changes) — seen through watches of the counted resources — and by a full
//! resync of every quota every [`RESYNC`] (upstream: 5 minutes), which also puts back a status
//! someone else changed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PartialObjectMeta, PostParams};
use kube::discovery::{verbs, Discovery, Scope};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use serde_json::Value;
use tokio::sync::Notify;

use k3rs_apis::quota::{self, Evaluator, Quota};

/// How often every quota is recounted.
pub const RESYNC: Duration = Duration::from_secs(15);
/// How long a failed sync waits before it is retried.
const RETRY: Duration = Duration::from_secs(1);
/// Discovery is refreshed at most this often when a counted resource is not known.
const DISCOVERY_TTL: Duration = Duration::from_secs(10);
const WORKERS: usize = 2;

type Key = (String, String);
type GroupResource = (String, String);

fn core(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn quotas_ar() -> ApiResource {
    core("ResourceQuota", "resourcequotas")
}

/// What the controller remembers of a quota between events.
struct Seen {
    spec_hard: quota::ResourceList,
    /// `status.hard`'s names: which changes in the namespace can change this quota's usage.
    status_hard: Vec<String>,
}

/// Keys to sync, as upstream's work queue: a key queued several times before a worker takes it
/// syncs once, and a key is never synced by two workers at once (queued again while syncing, it
/// syncs again after).
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Notify,
}

#[derive(Default)]
struct QueueState {
    pending: BTreeSet<Key>,
    processing: HashSet<Key>,
    again: HashSet<Key>,
}

impl Queue {
    fn add(&self, key: Key) {
        if let Ok(mut s) = self.state.lock() {
            if s.processing.contains(&key) {
                s.again.insert(key);
                return;
            }
            s.pending.insert(key);
        }
        self.ready.notify_one();
    }

    async fn next(&self) -> Key {
        loop {
            let notified = self.ready.notified();
            if let Ok(mut s) = self.state.lock() {
                if let Some(k) = s.pending.pop_first() {
                    s.processing.insert(k.clone());
                    if !s.pending.is_empty() {
                        self.ready.notify_one();
                    }
                    return k;
                }
            }
            notified.await;
        }
    }

    fn done(&self, key: &Key) {
        let again = match self.state.lock() {
            Ok(mut s) => {
                s.processing.remove(key);
                s.again.remove(key)
            }
            Err(_) => false,
        };
        if again {
            self.add(key.clone());
        }
    }
}

struct Controller {
    client: Client,
    queue: Queue,
    quotas: Mutex<HashMap<Key, Seen>>,
    /// (group, resource) → how to reach it, from discovery.
    resources: tokio::sync::Mutex<(Option<Instant>, HashMap<GroupResource, ApiResource>)>,
    /// Resources whose changes are watched.
    watched: Mutex<HashSet<GroupResource>>,
}

impl Controller {
    /// Where the objects an evaluator counts are listed, `None` when the server does not serve
    /// them (nothing to count).
    async fn resolve(&self, gr: &GroupResource) -> Option<ApiResource> {
        match (gr.0.as_str(), gr.1.as_str()) {
            ("", "pods") => return Some(core("Pod", "pods")),
            ("", "services") => return Some(core("Service", "services")),
            ("", "persistentvolumeclaims") => {
                return Some(core("PersistentVolumeClaim", "persistentvolumeclaims"))
            }
            ("", "configmaps") => return Some(core("ConfigMap", "configmaps")),
            ("", "secrets") => return Some(core("Secret", "secrets")),
            ("", "resourcequotas") => return Some(quotas_ar()),
            ("", "replicationcontrollers") => {
                return Some(core("ReplicationController", "replicationcontrollers"))
            }
            _ => {}
        }
        let mut cache = self.resources.lock().await;
        if let Some(ar) = cache.1.get(gr) {
            return Some(ar.clone());
        }
        if cache.0.is_some_and(|t| t.elapsed() < DISCOVERY_TTL) {
            return None;
        }
        cache.0 = Some(Instant::now());
        match Discovery::new(self.client.clone()).run_aggregated().await {
            Ok(d) => {
                let mut found = HashMap::new();
                for group in d.groups() {
                    for (ar, caps) in group.recommended_resources() {
                        if matches!(caps.scope, Scope::Namespaced)
                            && caps.supports_operation(verbs::LIST)
                            && caps.supports_operation(verbs::WATCH)
                        {
                            found.insert((ar.group.clone(), ar.plural.clone()), ar);
                        }
                    }
                }
                cache.1 = found;
            }
            Err(e) => tracing::debug!(error = %e, "quota controller discovery"),
        }
        cache.1.get(gr).cloned()
    }

    /// The namespace's objects an evaluator counts (only metadata for plain object counts).
    async fn list(
        self: &Arc<Self>,
        ns: &str,
        ev: &Evaluator,
    ) -> Result<Option<Vec<Value>>, kube::Error> {
        let gr = ev.group_resource();
        let Some(ar) = self.resolve(&gr).await else {
            return Ok(None);
        };
        self.ensure_watch(ev, &ar);
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &ar);
        if matches!(ev, Evaluator::Count { .. }) {
            let list = api.list_metadata(&ListParams::default()).await?;
            return Ok(Some(list.items.iter().map(|_| Value::Null).collect()));
        }
        let list = api.list(&ListParams::default()).await?;
        Ok(Some(
            list.items
                .iter()
                .filter_map(|o| serde_json::to_value(o).ok())
                .collect(),
        ))
    }

    fn enqueue_all(&self) {
        let keys: Vec<Key> = match self.quotas.lock() {
            Ok(q) => q.keys().cloned().collect(),
            Err(_) => return,
        };
        for k in keys {
            self.queue.add(k);
        }
    }

    /// A counted object in `ns` changed: recount the quotas there that limit what it uses.
    fn replenish(&self, ev: &Evaluator, ns: &str) {
        let keys: Vec<Key> = match self.quotas.lock() {
            Ok(q) => q
                .iter()
                .filter(|((n, _), seen)| {
                    n == ns && !ev.matching_resources(&seen.status_hard).is_empty()
                })
                .map(|(k, _)| k.clone())
                .collect(),
            Err(_) => return,
        };
        for k in keys {
            self.queue.add(k);
        }
    }

    /// A quota was added or changed (upstream's `addQuota` and update filter): new quotas and
    /// changed limits are recounted; status-only changes wait for the resync.
    fn observe(&self, obj: &Value) {
        let q = Quota::from_json(obj);
        let key = (q.namespace.clone(), q.name.clone());
        let seen = Seen {
            spec_hard: q.spec_hard.clone(),
            status_hard: q.hard_names(),
        };
        let changed = match self.quotas.lock() {
            Ok(mut m) => match m.insert(key.clone(), seen) {
                None => true,
                Some(prev) => !quota::equals(&prev.spec_hard, &q.spec_hard),
            },
            Err(_) => true,
        };
        if changed {
            self.queue.add(key);
        }
    }

    fn forget(&self, obj: &Value) {
        let q = Quota::from_json(obj);
        if let Ok(mut m) = self.quotas.lock() {
            m.remove(&(q.namespace, q.name));
        }
    }

    /// Recounts one quota and writes its status when it changed.
    async fn sync(self: &Arc<Self>, (ns, name): &Key) -> Result<(), String> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &quotas_ar());
        // A fresh read (the controller's role may list, not get).
        let lp = ListParams::default().fields(&format!("metadata.name={name}"));
        let found = api.list(&lp).await.map_err(|e| e.to_string())?;
        let Some(obj) = found.items.into_iter().next() else {
            return Ok(());
        };
        let mut v = serde_json::to_value(&obj).map_err(|e| e.to_string())?;
        let q = Quota::from_json(&v);
        let hard: Vec<String> = q.spec_hard.keys().cloned().collect();
        let mut lists: BTreeMap<Evaluator, Option<Vec<Value>>> = BTreeMap::new();
        let mut errors = Vec::new();
        for ev in quota::evaluators_for(&hard) {
            let items = match self.list(ns, &ev).await {
                Ok(items) => items,
                Err(e) => {
                    errors.push(format!("{:?}: {e}", ev.group_resource()));
                    None
                }
            };
            lists.insert(ev, items);
        }
        let (status, dirty) =
            quota::calculate_usage(&q, |ev| lists.get(ev).cloned().flatten(), Utc::now());
        if dirty {
            v["status"] = status;
            let body: DynamicObject = serde_json::from_value(v).map_err(|e| e.to_string())?;
            match api
                .replace_status(name, &PostParams::default(), &body)
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
                Err(e) => return Err(e.to_string()),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Watches a counted resource for the changes that release usage.
    fn ensure_watch(self: &Arc<Self>, ev: &Evaluator, ar: &ApiResource) {
        let gr = ev.group_resource();
        let fresh = self
            .watched
            .lock()
            .map(|mut w| w.insert(gr))
            .unwrap_or(false);
        if !fresh {
            return;
        }
        let (me, ev, ar) = (self.clone(), ev.clone(), ar.clone());
        tokio::spawn(async move { me.watch_counted(ev, ar).await });
    }

    async fn watch_counted(self: Arc<Self>, ev: Evaluator, ar: ApiResource) {
        if matches!(ev, Evaluator::Count { .. }) {
            // An object counts one until it is deleted: only deletions matter, and metadata is
            // all that needs to travel.
            let api: Api<PartialObjectMeta<DynamicObject>> =
                Api::all_with(self.client.clone(), &ar);
            let mut events = watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(e) = events.next().await {
                match e {
                    Ok(Event::Delete(o)) => {
                        self.replenish(&ev, o.metadata.namespace.as_deref().unwrap_or_default())
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, resource = %ar.plural, "quota controller watch")
                    }
                }
            }
            return;
        }
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        // What each object last counted as, for the update filter.
        let mut last: HashMap<Key, String> = HashMap::new();
        let mut events = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(e) = events.next().await {
            let (obj, deleted, initial) = match e {
                Ok(Event::Apply(o)) => (o, false, false),
                Ok(Event::InitApply(o)) => (o, false, true),
                Ok(Event::Delete(o)) => (o, true, false),
                Ok(_) => continue,
                Err(e) => {
                    tracing::debug!(error = %e, resource = %ar.plural, "quota controller watch");
                    continue;
                }
            };
            let ns = obj.metadata.namespace.clone().unwrap_or_default();
            let key = (ns.clone(), obj.metadata.name.clone().unwrap_or_default());
            if deleted {
                last.remove(&key);
                self.replenish(&ev, &ns);
                continue;
            }
            let Ok(v) = serde_json::to_value(&obj) else {
                continue;
            };
            let now = fingerprint(&ev, &v);
            let before = last.insert(key, now.clone());
            if !initial && before.is_some_and(|b| b != now) {
                self.replenish(&ev, &ns);
            }
        }
    }
}

/// What about an object can change its usage after it was admitted (upstream's update filter):
/// a pod's scope and whether it still counts, a service's type, a claim's status.
fn fingerprint(ev: &Evaluator, obj: &Value) -> String {
    match ev {
        Evaluator::Pods => format!(
            "{}/{}",
            quota::is_terminating(obj),
            quota::counts_pod(obj, Utc::now())
        ),
        Evaluator::Services => match obj.pointer("/spec/type").and_then(Value::as_str) {
            Some(t @ ("NodePort" | "LoadBalancer")) => t.to_string(),
            _ => String::new(),
        },
        Evaluator::PersistentVolumeClaims => {
            obj.get("status").map(|s| s.to_string()).unwrap_or_default()
        }
        Evaluator::Count { .. } => String::new(),
    }
}

/// Runs the controller until the future is dropped.
pub async fn run(client: Client) {
    let ctl = Arc::new(Controller {
        client: client.clone(),
        queue: Queue::default(),
        quotas: Mutex::default(),
        resources: tokio::sync::Mutex::default(),
        watched: Mutex::default(),
    });
    let watch_quotas = {
        let ctl = ctl.clone();
        async move {
            let api: Api<DynamicObject> = Api::all_with(client, &quotas_ar());
            let mut events = watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(e) = events.next().await {
                match e {
                    Ok(Event::Apply(o) | Event::InitApply(o)) => {
                        if let Ok(v) = serde_json::to_value(&o) {
                            ctl.observe(&v);
                        }
                    }
                    Ok(Event::Delete(o)) => {
                        if let Ok(v) = serde_json::to_value(&o) {
                            ctl.forget(&v);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "resourcequota watch"),
                }
            }
        }
    };
    let resync = {
        let ctl = ctl.clone();
        async move {
            let mut tick = tokio::time::interval(RESYNC);
            tick.tick().await;
            loop {
                tick.tick().await;
                ctl.enqueue_all();
            }
        }
    };
    let workers = futures::future::join_all((0..WORKERS).map(|_| {
        let ctl = ctl.clone();
        async move {
            loop {
                let key = ctl.queue.next().await;
                let result = ctl.sync(&key).await;
                ctl.queue.done(&key);
                if let Err(e) = result {
                    tracing::debug!(namespace = %key.0, quota = %key.1, error = %e, "resource quota sync; retrying");
                    let ctl = ctl.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(RETRY).await;
                        ctl.queue.add(key);
                    });
                }
            }
        }
    }));
    tokio::join!(watch_quotas, resync, workers);
}
