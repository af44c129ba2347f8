//! The garbage collector: objects whose owners (ownerReferences) are all gone are deleted;
//! owners deleted with `propagationPolicy: Orphan` first have the references to them removed from
//! their dependents, owners deleted with `Foreground` first see their dependents deleted.
//!
//! As upstream's, it keeps a graph of every object's identity and owner references, fed by
//! metadata-only watches of every resource discovery lists as listable, watchable and deletable
//! (discovery is re-read periodically, so custom resources join once their CRD is established).
//! Work is driven by events: an object that changes or disappears puts itself, its owners and
//! its dependents on a queue. An owner the graph does not know is looked up directly before a
//! dependent is judged dangling, so a dependent seen before its owner is never collected by
//! mistake.
//!
//! Judging a dependent follows upstream's `attemptToDeleteItem`: owners are *solid* (present,
//! not waiting for dependents), *dangling* (absent, or present with another uid) or *waiting*
//! (being deleted in the foreground). With a solid owner the dependent stays and loses its
//! references to dangling and waiting owners; with none, it is deleted — in the foreground when
//! an owner waits for it and it has dependents of its own, else as its own finalizers say.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::core::PartialObjectMeta;
use kube::discovery::{verbs, ApiResource, Discovery, Scope};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use serde_json::json;
use tokio::sync::mpsc;

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";
/// How often discovery is re-read for new (or removed) resources.
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(5);
/// How long a failed item waits before it is tried again.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// A served resource the collector watches: (apiVersion, plural).
type ResKey = (String, String);

#[derive(Clone)]
struct Kind {
    ar: ApiResource,
    namespaced: bool,
}

/// What the graph keeps of an object: its identity, owners and deletion state.
#[derive(Clone, Debug)]
struct Node {
    res: ResKey,
    name: String,
    namespace: Option<String>,
    uid: String,
    resource_version: Option<String>,
    owners: Vec<OwnerReference>,
    finalizers: Vec<String>,
    deleting: bool,
}

impl Node {
    fn from_meta(res: ResKey, m: &kube::api::ObjectMeta) -> Option<Node> {
        Some(Node {
            res,
            name: m.name.clone()?,
            namespace: m.namespace.clone(),
            uid: m.uid.clone()?,
            resource_version: m.resource_version.clone(),
            owners: m.owner_references.clone().unwrap_or_default(),
            finalizers: m.finalizers.clone().unwrap_or_default(),
            deleting: m.deletion_timestamp.is_some(),
        })
    }

    fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| x == f)
    }

    /// Being deleted in the foreground: waiting for its blocking dependents.
    fn waiting_for_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FOREGROUND)
    }
}

enum Msg {
    Apply(Box<Node>),
    Delete(String),
    /// A watch (re)listed its resource: these uids are all that exist of it.
    Relisted(ResKey, HashSet<String>),
}

/// Objects by uid, and who depends on whom.
#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    fn unlink(&mut self, n: &Node) {
        for o in &n.owners {
            if let Some(d) = self.dependents.get_mut(&o.uid) {
                d.remove(&n.uid);
                if d.is_empty() {
                    self.dependents.remove(&o.uid);
                }
            }
        }
    }

    /// Records an object; returns the uids whose judgement may have changed.
    fn upsert(&mut self, n: Node) -> Vec<String> {
        let mut touched = vec![n.uid.clone()];
        if let Some(old) = self.nodes.remove(&n.uid) {
            self.unlink(&old);
            // Owners it no longer names may have been waiting for it.
            touched.extend(
                old.owners
                    .iter()
                    .filter(|o| !n.owners.iter().any(|x| x.uid == o.uid))
                    .map(|o| o.uid.clone()),
            );
            // Its dependents judge it anew once it starts waiting for them.
            if n.waiting_for_dependents() && !old.waiting_for_dependents() {
                touched.extend(self.dependents_of(&n.uid));
            }
        } else if n.waiting_for_dependents() {
            touched.extend(self.dependents_of(&n.uid));
        }
        for o in &n.owners {
            self.dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(n.uid.clone());
        }
        if n.deleting {
            touched.extend(n.owners.iter().map(|o| o.uid.clone()));
        }
        self.nodes.insert(n.uid.clone(), n);
        touched
    }

    /// Forgets an object; returns its owners and dependents (their judgement may change).
    fn remove(&mut self, uid: &str) -> Vec<String> {
        let Some(old) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        self.unlink(&old);
        let mut touched: Vec<String> = old.owners.iter().map(|o| o.uid.clone()).collect();
        touched.extend(self.dependents_of(uid));
        touched
    }

    fn dependents_of(&self, uid: &str) -> Vec<String> {
        self.dependents
            .get(uid)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// How an owner reference stands.
#[derive(PartialEq, Eq, Debug)]
enum OwnerState {
    Solid,
    Dangling,
    Waiting,
}

struct Collector {
    client: Client,
    kinds: HashMap<ResKey, Kind>,
    /// (apiVersion, kind) → the resource serving it.
    by_kind: HashMap<(String, String), ResKey>,
    graph: Graph,
    /// Dependents kept because an owner's kind is not (yet) served: judged again when discovery
    /// finds new kinds (a CRD just established), as upstream requeues unresolvable owners.
    unresolved: std::sync::Mutex<HashSet<String>>,
}

impl Collector {
    fn api_for(&self, res: &ResKey, ns: Option<&str>) -> Option<Api<DynamicObject>> {
        let k = self.kinds.get(res)?;
        Some(match (k.namespaced, ns) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &k.ar),
            _ => Api::all_with(self.client.clone(), &k.ar),
        })
    }

    fn node_api(&self, n: &Node) -> Option<Api<DynamicObject>> {
        self.api_for(&n.res, n.namespace.as_deref())
    }

    /// Classifies one owner of `n`: from the graph when it knows the uid, else by reading it.
    async fn owner_state(&self, n: &Node, r: &OwnerReference) -> Result<OwnerState, kube::Error> {
        if let Some(o) = self.graph.nodes.get(&r.uid) {
            return Ok(if o.waiting_for_dependents() {
                OwnerState::Waiting
            } else {
                OwnerState::Solid
            });
        }
        let Some(res) = self.by_kind.get(&(r.api_version.clone(), r.kind.clone())) else {
            // A kind the server does not serve cannot be checked: keep the dependent for now.
            if let Ok(mut u) = self.unresolved.lock() {
                u.insert(n.uid.clone());
            }
            return Ok(OwnerState::Solid);
        };
        let owner_namespaced = self.kinds.get(res).is_some_and(|k| k.namespaced);
        if owner_namespaced && n.namespace.is_none() {
            // A cluster-scoped object cannot be owned by a namespaced one (as upstream: absent).
            return Ok(OwnerState::Dangling);
        }
        let Some(api) = self.api_for(res, n.namespace.as_deref()) else {
            return Ok(OwnerState::Solid);
        };
        Ok(match api.get_metadata_opt(&r.name).await? {
            Some(o) if o.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
                let waiting = o.metadata.deletion_timestamp.is_some()
                    && o.metadata
                        .finalizers
                        .iter()
                        .flatten()
                        .any(|f| f == FOREGROUND);
                if waiting {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                }
            }
            _ => OwnerState::Dangling,
        })
    }

    /// Writes `owners` as the object's references (guarded by its resourceVersion).
    async fn set_owners(&self, n: &Node, owners: Vec<OwnerReference>) -> Result<(), kube::Error> {
        let Some(api) = self.node_api(n) else {
            return Ok(());
        };
        // null removes the field when no reference is left (as upstream's omitempty).
        let refs = if owners.is_empty() {
            serde_json::Value::Null
        } else {
            json!(owners)
        };
        let patch =
            json!({"metadata": {"ownerReferences": refs, "resourceVersion": n.resource_version}});
        ignore_gone(
            api.patch(&n.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ()),
        )
    }

    async fn remove_finalizer(&self, n: &Node, finalizer: &str) -> Result<(), kube::Error> {
        let Some(api) = self.node_api(n) else {
            return Ok(());
        };
        let remaining: Vec<&String> = n.finalizers.iter().filter(|f| *f != finalizer).collect();
        let patch =
            json!({"metadata": {"finalizers": remaining, "resourceVersion": n.resource_version}});
        ignore_gone(
            api.patch(&n.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ()),
        )
    }

    async fn delete(&self, n: &Node, policy: &str) -> Result<(), kube::Error> {
        let Some(api) = self.node_api(n) else {
            return Ok(());
        };
        let mut dp = match policy {
            "Orphan" => DeleteParams::orphan(),
            "Foreground" => DeleteParams::foreground(),
            _ => DeleteParams::background(),
        };
        dp.preconditions = Some(Preconditions {
            uid: Some(n.uid.clone()),
            resource_version: None,
        });
        tracing::debug!(name = %n.name, policy, "collecting an object whose owners are gone");
        match api.delete(&n.name, &dp).await {
            Ok(_) => Ok(()),
            // Gone, or replaced by another object of the same name (uid precondition).
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Judges one object; returns other uids to look at next.
    async fn process(&self, uid: &str) -> Result<Vec<String>, kube::Error> {
        let Some(n) = self.graph.nodes.get(uid).cloned() else {
            return Ok(Vec::new());
        };
        if n.deleting {
            if n.has_finalizer(ORPHAN) {
                // Orphan: every dependent loses its reference to n, then n may go.
                for d in self.graph.dependents_of(uid) {
                    if let Some(dn) = self.graph.nodes.get(&d) {
                        let keep = dn.owners.iter().filter(|o| o.uid != uid).cloned().collect();
                        self.set_owners(dn, keep).await?;
                    }
                }
                self.remove_finalizer(&n, ORPHAN).await?;
                return Ok(Vec::new());
            }
            if n.has_finalizer(FOREGROUND) {
                let dependents = self.graph.dependents_of(uid);
                let blocking: Vec<&Node> = dependents
                    .iter()
                    .filter_map(|d| self.graph.nodes.get(d))
                    .filter(|d| {
                        d.owners
                            .iter()
                            .any(|o| o.uid == uid && o.block_owner_deletion == Some(true))
                    })
                    .collect();
                if blocking.is_empty() {
                    self.remove_finalizer(&n, FOREGROUND).await?;
                    return Ok(Vec::new());
                }
                // The dependents see n waiting and go (in the foreground where they own others).
                return Ok(blocking
                    .iter()
                    .filter(|d| !d.deleting)
                    .map(|d| d.uid.clone())
                    .collect());
            }
            return Ok(Vec::new());
        }
        if n.owners.is_empty() {
            return Ok(Vec::new());
        }
        let mut solid = Vec::new();
        let mut dangling = Vec::new();
        let mut waiting = Vec::new();
        for r in &n.owners {
            match self.owner_state(&n, r).await? {
                OwnerState::Solid => solid.push(r.uid.clone()),
                OwnerState::Dangling => dangling.push(r.uid.clone()),
                OwnerState::Waiting => waiting.push(r.uid.clone()),
            }
        }
        if !solid.is_empty() {
            if !dangling.is_empty() || !waiting.is_empty() {
                let keep = n
                    .owners
                    .iter()
                    .filter(|o| solid.contains(&o.uid))
                    .cloned()
                    .collect();
                self.set_owners(&n, keep).await?;
            }
            return Ok(Vec::new());
        }
        let has_dependents = !self.graph.dependents_of(uid).is_empty();
        if !waiting.is_empty() && has_dependents {
            // A dependent that itself waits for its dependents may close a circle: n's own
            // references are made non-blocking so neither waits for the other (as upstream).
            let circle = self
                .graph
                .dependents_of(uid)
                .iter()
                .filter_map(|d| self.graph.nodes.get(d))
                .any(Node::waiting_for_dependents);
            if circle
                && n.owners
                    .iter()
                    .any(|o| o.block_owner_deletion == Some(true))
            {
                let owners = n
                    .owners
                    .iter()
                    .cloned()
                    .map(|mut o| {
                        if o.block_owner_deletion == Some(true) {
                            o.block_owner_deletion = Some(false);
                        }
                        o
                    })
                    .collect();
                self.set_owners(&n, owners).await?;
            }
            self.delete(&n, "Foreground").await?;
            return Ok(Vec::new());
        }
        let policy = if n.has_finalizer(ORPHAN) {
            "Orphan"
        } else if n.has_finalizer(FOREGROUND) || !waiting.is_empty() {
            "Foreground"
        } else {
            "Background"
        };
        self.delete(&n, policy).await?;
        Ok(Vec::new())
    }

    fn apply(&mut self, msg: Msg, queue: &mut Queue) {
        match msg {
            Msg::Apply(n) => {
                for u in self.graph.upsert(*n) {
                    queue.push(u);
                }
            }
            Msg::Delete(uid) => {
                for u in self.graph.remove(&uid) {
                    queue.push(u);
                }
            }
            Msg::Relisted(res, uids) => {
                let stale: Vec<String> = self
                    .graph
                    .nodes
                    .values()
                    .filter(|n| n.res == res && !uids.contains(&n.uid))
                    .map(|n| n.uid.clone())
                    .collect();
                for uid in stale {
                    for u in self.graph.remove(&uid) {
                        queue.push(u);
                    }
                }
            }
        }
    }
}

fn ignore_gone(r: Result<(), kube::Error>) -> Result<(), kube::Error> {
    match r {
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        other => other,
    }
}

/// A de-duplicating work queue.
#[derive(Default)]
struct Queue {
    order: VecDeque<String>,
    queued: HashSet<String>,
}

impl Queue {
    fn push(&mut self, uid: String) {
        if self.queued.insert(uid.clone()) {
            self.order.push_back(uid);
        }
    }

    fn pop(&mut self) -> Option<String> {
        let u = self.order.pop_front()?;
        self.queued.remove(&u);
        Some(u)
    }
}

/// Watches one resource's metadata until the task is aborted, feeding the collector.
async fn watch_resource(client: Client, key: ResKey, ar: ApiResource, tx: mpsc::Sender<Msg>) {
    // Api<PartialObjectMeta<_>> makes metadata-only requests.
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, &ar);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    let mut listing: HashSet<String> = HashSet::new();
    while let Some(ev) = stream.next().await {
        let msg = match ev {
            Ok(Event::Apply(o)) => match Node::from_meta(key.clone(), &o.metadata) {
                Some(n) => Msg::Apply(Box::new(n)),
                None => continue,
            },
            Ok(Event::Delete(o)) => match o.metadata.uid {
                Some(uid) => Msg::Delete(uid),
                None => continue,
            },
            Ok(Event::Init) => {
                listing.clear();
                continue;
            }
            Ok(Event::InitApply(o)) => match Node::from_meta(key.clone(), &o.metadata) {
                Some(n) => {
                    listing.insert(n.uid.clone());
                    Msg::Apply(Box::new(n))
                }
                None => continue,
            },
            Ok(Event::InitDone) => Msg::Relisted(key.clone(), std::mem::take(&mut listing)),
            Err(e) => {
                tracing::debug!(resource = ?key, error = %e, "garbage collector watch failed; retrying");
                continue;
            }
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

/// Every resource the collector should watch, from discovery.
async fn discover(client: &Client) -> Result<HashMap<ResKey, Kind>, kube::Error> {
    let discovery = Discovery::new(client.clone()).run_aggregated().await?;
    let mut kinds = HashMap::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if !caps.supports_operation(verbs::LIST)
                || !caps.supports_operation(verbs::WATCH)
                || !caps.supports_operation(verbs::DELETE)
            {
                continue;
            }
            let namespaced = matches!(caps.scope, Scope::Namespaced);
            kinds.insert(
                (ar.api_version.clone(), ar.plural.clone()),
                Kind { ar, namespaced },
            );
        }
    }
    Ok(kinds)
}

/// Runs the collector until the future is dropped.
pub async fn run(client: Client) {
    let (tx, mut rx) = mpsc::channel::<Msg>(4096);
    let mut c = Collector {
        client: client.clone(),
        kinds: HashMap::new(),
        by_kind: HashMap::new(),
        graph: Graph::default(),
        unresolved: Default::default(),
    };
    let mut watchers: HashMap<ResKey, tokio::task::JoinHandle<()>> = HashMap::new();
    // Aborts the watch tasks when the collector stops.
    struct AbortAll<'a>(&'a mut HashMap<ResKey, tokio::task::JoinHandle<()>>);
    impl Drop for AbortAll<'_> {
        fn drop(&mut self) {
            for h in self.0.values() {
                h.abort();
            }
        }
    }
    let watchers = AbortAll(&mut watchers);
    let mut queue = Queue::default();
    let mut retry: Vec<String> = Vec::new();
    let mut next_discovery = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_discovery {
            match discover(&client).await {
                Ok(kinds) => {
                    watchers.0.retain(|k, h| {
                        let keep = kinds.contains_key(k);
                        if !keep {
                            h.abort();
                        }
                        keep
                    });
                    for (k, kind) in &kinds {
                        if !watchers.0.contains_key(k) {
                            let h = tokio::spawn(watch_resource(
                                client.clone(),
                                k.clone(),
                                kind.ar.clone(),
                                tx.clone(),
                            ));
                            watchers.0.insert(k.clone(), h);
                        }
                    }
                    let by_kind: HashMap<(String, String), ResKey> = kinds
                        .iter()
                        .map(|(k, kind)| {
                            (
                                (kind.ar.api_version.clone(), kind.ar.kind.clone()),
                                k.clone(),
                            )
                        })
                        .collect();
                    let new_kinds = by_kind.keys().any(|k| !c.by_kind.contains_key(k));
                    c.by_kind = by_kind;
                    c.kinds = kinds;
                    if new_kinds {
                        let waiting: Vec<String> = c
                            .unresolved
                            .lock()
                            .map(|mut u| u.drain().collect())
                            .unwrap_or_default();
                        for u in waiting {
                            queue.push(u);
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "garbage collector discovery failed"),
            }
            next_discovery = tokio::time::Instant::now() + DISCOVERY_INTERVAL;
        }
        // Wait for news (or the next discovery / retry), then take everything that is waiting.
        let wait = if retry.is_empty() {
            next_discovery.saturating_duration_since(tokio::time::Instant::now())
        } else {
            RETRY_DELAY
        };
        if queue.order.is_empty() {
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(m)) => c.apply(m, &mut queue),
                Ok(None) => return,
                Err(_) => {}
            }
        }
        while let Ok(m) = rx.try_recv() {
            c.apply(m, &mut queue);
        }
        if queue.order.is_empty() {
            for u in retry.drain(..) {
                queue.push(u);
            }
        }
        // A bounded batch, so news is taken in between.
        for _ in 0..64 {
            let Some(uid) = queue.pop() else { break };
            match c.process(&uid).await {
                Ok(more) => {
                    for u in more {
                        queue.push(u);
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "garbage collection of an object failed; retrying");
                    retry.push(uid);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(uid: &str, owners: &[(&str, bool)]) -> Node {
        Node {
            res: ("v1".into(), "configmaps".into()),
            name: uid.into(),
            namespace: Some("default".into()),
            uid: uid.into(),
            resource_version: Some("1".into()),
            owners: owners
                .iter()
                .map(|(u, block)| OwnerReference {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: u.to_string(),
                    uid: u.to_string(),
                    block_owner_deletion: Some(*block),
                    controller: None,
                })
                .collect(),
            finalizers: Vec::new(),
            deleting: false,
        }
    }

    #[test]
    fn the_graph_tracks_dependents_and_reports_who_to_look_at() {
        let mut g = Graph::default();
        g.upsert(node("owner", &[]));
        let touched = g.upsert(node("dep", &[("owner", true)]));
        assert_eq!(touched, vec!["dep".to_string()]);
        assert_eq!(g.dependents_of("owner"), vec!["dep".to_string()]);
        // The owner starts waiting for its dependents: they are looked at again.
        let mut waiting = node("owner", &[]);
        waiting.deleting = true;
        waiting.finalizers = vec![FOREGROUND.into()];
        let touched = g.upsert(waiting);
        assert!(touched.contains(&"dep".to_string()));
        // The dependent drops its reference: the waiting owner is looked at again.
        let touched = g.upsert(node("dep", &[]));
        assert!(touched.contains(&"owner".to_string()));
        assert!(g.dependents_of("owner").is_empty());
        // Removing an owner reports its dependents.
        g.upsert(node("dep", &[("owner", false)]));
        let touched = g.remove("owner");
        assert_eq!(touched, vec!["dep".to_string()]);
        assert!(g.remove("nothing").is_empty());
    }

    #[test]
    fn the_queue_deduplicates() {
        let mut q = Queue::default();
        q.push("a".into());
        q.push("b".into());
        q.push("a".into());
        assert_eq!(q.pop().as_deref(), Some("a"));
        q.push("a".into());
        assert_eq!(q.pop().as_deref(), Some("b"));
        assert_eq!(q.pop().as_deref(), Some("a"));
        assert_eq!(q.pop(), None);
    }
}
