//! The ReplicaSet and ReplicationController controller: keeps `spec.replicas` pods matching the
//! selector, as upstream's replica-set controller does for both kinds.
//!
//! Per object: the pods of its namespace that match its selector are read (a consistent list
//! from the API server, so pods just created are never counted twice); matching pods without a
//! controller are adopted (a controller owner reference is added) unless the object is being
//! deleted, owned pods that stopped matching are released; then missing pods are created from
//! the template (in growing batches, as upstream's slow start) or surplus ones deleted (the least
//! advanced first: unscheduled, pending, not ready, newest); finally `status` reports replicas,
//! fully-labelled, ready and available counts, the observed generation and a `ReplicaFailure`
//! condition while pods cannot be created (e.g. exceeded quota).
//!
//! It is driven by watches of both kinds and of pods (a pod wakes its controller, an orphan
//! wakes every controller of its namespace), with a periodic resync.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, ResourceExt};
use serde_json::{json, Value};

use crate::common::{claim, controller_ref, ignore_gone, now_rfc3339, Owner, Tasks, WorkQueue};

const RESYNC: Duration = Duration::from_secs(30);
/// Upstream's `BurstReplicas`: at most this many creates or deletes per pass.
const BURST: usize = 500;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    ReplicaSet,
    ReplicationController,
}

impl Kind {
    fn resource(self) -> ApiResource {
        match self {
            Kind::ReplicaSet => ApiResource {
                group: "apps".into(),
                version: "v1".into(),
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                plural: "replicasets".into(),
            },
            Kind::ReplicationController => ApiResource {
                group: "".into(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: "ReplicationController".into(),
                plural: "replicationcontrollers".into(),
            },
        }
    }

    fn of_owner(api_version: &str, kind: &str) -> Option<Kind> {
        match (api_version, kind) {
            ("apps/v1", "ReplicaSet") => Some(Kind::ReplicaSet),
            ("v1", "ReplicationController") => Some(Kind::ReplicationController),
            _ => None,
        }
    }
}

type Key = (Kind, String, String);

/// The selector of a ReplicaSet (LabelSelector) or ReplicationController (a map; empty means
/// the template's labels, as upstream's defaulting) as label-selector query text, or `None` when
/// it selects nothing usable.
pub fn selector_query(kind: Kind, obj: &Value) -> Option<String> {
    let sel = obj.pointer("/spec/selector");
    let labels = |m: &serde_json::Map<String, Value>| {
        m.iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    let parts = match kind {
        Kind::ReplicationController => {
            let m = sel
                .and_then(Value::as_object)
                .filter(|m| !m.is_empty())
                .or_else(|| {
                    obj.pointer("/spec/template/metadata/labels")
                        .and_then(Value::as_object)
                })?;
            labels(m)
        }
        Kind::ReplicaSet => {
            let sel = sel?;
            let mut parts = sel
                .get("matchLabels")
                .and_then(Value::as_object)
                .map(labels)
                .unwrap_or_default();
            for e in sel
                .get("matchExpressions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
                let values: Vec<&str> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                parts.push(match e.get("operator").and_then(Value::as_str) {
                    Some("In") => format!("{key} in ({})", values.join(",")),
                    Some("NotIn") => format!("{key} notin ({})", values.join(",")),
                    Some("Exists") => key.to_string(),
                    Some("DoesNotExist") => format!("!{key}"),
                    _ => return None,
                });
            }
            parts
        }
    };
    // An empty selector would adopt every pod in the namespace: upstream's validation refuses
    // it, and so does this controller.
    (!parts.is_empty()).then(|| parts.join(","))
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn is_active(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && !is_terminal(pod)
}

fn condition_true<'a>(
    pod: &'a Pod,
    t: &str,
) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t && c.status == "True")
}

fn is_ready(pod: &Pod) -> bool {
    condition_true(pod, "Ready").is_some()
}

fn is_available(pod: &Pod, min_ready_seconds: i64) -> bool {
    let Some(c) = condition_true(pod, "Ready") else {
        return false;
    };
    if min_ready_seconds <= 0 {
        return true;
    }
    c.last_transition_time.as_ref().is_some_and(|t| {
        (k8s_openapi::jiff::Timestamp::now().as_second() - t.0.as_second()) >= min_ready_seconds
    })
}

/// Upstream's deletion preference: the pod whose loss hurts least first.
fn deletion_rank(pod: &Pod) -> (u8, u8, u8, std::cmp::Reverse<String>) {
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let phase = match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") | None => 0,
        Some("Unknown") => 1,
        _ => 2,
    };
    let created = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    (
        u8::from(scheduled),
        phase,
        u8::from(is_ready(pod)),
        std::cmp::Reverse(created),
    )
}

/// Whether every label of the template is on the pod.
fn fully_labeled(pod: &Pod, template_labels: Option<&serde_json::Map<String, Value>>) -> bool {
    let labels = pod.labels();
    template_labels
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
}

/// The pod a template makes for `owner`.
fn pod_from_template(kind: Kind, owner: &DynamicObject) -> Value {
    let template = owner
        .data
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    let mut meta = template.get("metadata").cloned().unwrap_or(json!({}));
    if !meta.is_object() {
        meta = json!({});
    }
    meta["generateName"] = json!(format!("{}-", owner.name_any()));
    for f in [
        "name",
        "namespace",
        "resourceVersion",
        "uid",
        "ownerReferences",
        "finalizers",
    ] {
        if let Some(m) = meta.as_object_mut() {
            m.remove(f);
        }
    }
    let ar = kind.resource();
    meta["ownerReferences"] = json!([{
        "apiVersion": ar.api_version,
        "kind": ar.kind,
        "name": owner.name_any(),
        "uid": owner.uid().unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    }]);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    })
}

struct Controller {
    client: Client,
}

impl Controller {
    fn api(&self, kind: Kind, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, &kind.resource())
    }

    /// Brings one object's pods and status in line; returns an error to retry later.
    async fn sync(&self, (kind, ns, name): &Key) -> Result<(), kube::Error> {
        let api = self.api(*kind, ns);
        let Some(owner) = api.get_opt(name).await? else {
            return Ok(());
        };
        let Some(selector) = selector_query(*kind, &owner.data) else {
            return Ok(());
        };
        let pods_api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let uid = owner.uid().unwrap_or_default();
        let deleting = owner.metadata.deletion_timestamp.is_some();
        let ar = kind.resource();
        let me = Owner {
            api_version: ar.api_version,
            kind: ar.kind,
            name: name.clone(),
            uid: uid.clone(),
            deleting,
        };
        let mine = claim(&pods_api, &me, &selector).await?;
        let active: Vec<&Pod> = mine.iter().filter(|p| is_active(p)).collect();
        let want = owner
            .data
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(0) as usize;
        let mut failure: Option<String> = None;
        if !deleting {
            if active.len() < want {
                let missing = (want - active.len()).min(BURST);
                let pod = pod_from_template(*kind, &owner);
                // Slow start: 1, 2, 4, … creates, stopping at the first failure.
                let mut batch = 1;
                let mut done = 0;
                'create: while done < missing {
                    let n = batch.min(missing - done);
                    let results = futures::future::join_all((0..n).map(|_| {
                        let body: Pod = serde_json::from_value(pod.clone()).unwrap_or_default();
                        let api = pods_api.clone();
                        async move { api.create(&PostParams::default(), &body).await }
                    }))
                    .await;
                    for r in results {
                        match r {
                            Ok(_) => done += 1,
                            Err(kube::Error::Api(e)) => {
                                failure = Some(e.message.clone());
                                break 'create;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    batch *= 2;
                }
            } else if active.len() > want {
                let mut victims: Vec<&Pod> = active.clone();
                victims.sort_by_key(|p| deletion_rank(p));
                for p in victims.into_iter().take((active.len() - want).min(BURST)) {
                    ignore_gone(
                        pods_api
                            .delete(&p.name_any(), &DeleteParams::default())
                            .await
                            .map(|_| ()),
                    )?;
                }
            }
        }
        // Status, from the pods as they are now.
        let claimed: Vec<Pod> = pods_api
            .list(&ListParams::default().labels(&selector))
            .await?
            .items
            .into_iter()
            .filter(|p| controller_ref(p).is_some_and(|r| r.uid == uid))
            .collect();
        // Pods being deleted that have not finished (upstream reports them for ReplicaSets,
        // the DeploymentReplicaSetTerminatingReplicas feature, beta and on in v1.35).
        let terminating = claimed
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_some() && !is_terminal(p))
            .count();
        let now: Vec<Pod> = claimed.into_iter().filter(is_active).collect();
        let template_labels = owner
            .data
            .pointer("/spec/template/metadata/labels")
            .and_then(Value::as_object);
        let min_ready = owner
            .data
            .pointer("/spec/minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let mut status = json!({
            "replicas": now.len(),
            "fullyLabeledReplicas": now.iter().filter(|p| fully_labeled(p, template_labels)).count(),
            "readyReplicas": now.iter().filter(|p| is_ready(p)).count(),
            "availableReplicas": now.iter().filter(|p| is_available(p, min_ready)).count(),
            "observedGeneration": owner.metadata.generation.unwrap_or(0),
        });
        if *kind == Kind::ReplicaSet {
            status["terminatingReplicas"] = json!(terminating);
        }
        let mut conditions: Vec<Value> = owner
            .data
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c["type"] != "ReplicaFailure")
            .collect();
        if let Some(msg) = &failure {
            let old = owner
                .data
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find(|c| c["type"] == "ReplicaFailure"))
                .cloned();
            conditions.push(json!({
                "type": "ReplicaFailure",
                "status": "True",
                "reason": "FailedCreate",
                "message": msg,
                "lastTransitionTime": old
                    .and_then(|c| c.get("lastTransitionTime").cloned())
                    .unwrap_or_else(|| json!(now_rfc3339())),
            }));
        }
        if !conditions.is_empty() {
            status["conditions"] = json!(conditions);
        } else {
            status["conditions"] = Value::Null;
        }
        let current = owner.data.get("status").cloned().unwrap_or(json!({}));
        let changed = [
            "replicas",
            "fullyLabeledReplicas",
            "readyReplicas",
            "availableReplicas",
            "observedGeneration",
            "conditions",
        ]
        .iter()
        .any(|f| {
            let old = current.get(*f).cloned().unwrap_or(Value::Null);
            let new = status.get(*f).cloned().unwrap_or(Value::Null);
            let zeroish = |v: &Value| v.is_null() || v == &json!(0) || v == &json!([]);
            old != new && !(zeroish(&old) && zeroish(&new))
        })
            // A pointer upstream: unset and 0 differ.
            || current.get("terminatingReplicas") != status.get("terminatingReplicas");
        if changed {
            // An update of the status subresource (upstream's controller role allows no patch),
            // guarded by the resourceVersion read above.
            let mut updated = owner.clone();
            let mut merged = current.as_object().cloned().unwrap_or_default();
            if let Some(s) = status.as_object() {
                for (k, v) in s {
                    if v.is_null() {
                        merged.remove(k);
                    } else {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
            updated.data["status"] = Value::Object(merged);
            ignore_gone(
                api.replace_status(name, &PostParams::default(), &updated)
                    .await,
            )?;
        }
        if failure.is_some() {
            // Retried on the next resync or event, as upstream's rate-limited requeue.
            return Ok(());
        }
        Ok(())
    }
}

enum Msg {
    Owner(Key),
    OwnerGone(Key),
    /// A pod changed: its controller, or (orphan) every controller of its namespace.
    Pod {
        namespace: String,
        controller: Option<(Kind, String)>,
    },
}

async fn watch_owners(client: Client, kind: Kind, tx: tokio::sync::mpsc::Sender<Msg>) {
    let api: Api<DynamicObject> = Api::all_with(client, &kind.resource());
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        let msg = match ev {
            Ok(Event::Apply(o) | Event::InitApply(o)) => {
                Msg::Owner((kind, o.namespace().unwrap_or_default(), o.name_any()))
            }
            Ok(Event::Delete(o)) => {
                Msg::OwnerGone((kind, o.namespace().unwrap_or_default(), o.name_any()))
            }
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "replica controller watch failed; retrying");
                continue;
            }
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

async fn watch_pods(client: Client, tx: tokio::sync::mpsc::Sender<Msg>) {
    let api: Api<Pod> = Api::all(client);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        let pod = match ev {
            Ok(Event::Apply(p) | Event::InitApply(p) | Event::Delete(p)) => p,
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "replica controller pod watch failed; retrying");
                continue;
            }
        };
        let controller = controller_ref(&pod)
            .and_then(|r| Kind::of_owner(&r.api_version, &r.kind).map(|k| (k, r.name.clone())));
        if controller.is_none()
            && pod
                .owner_references()
                .iter()
                .any(|r| r.controller == Some(true))
        {
            // Controlled by something else: none of ours.
            continue;
        }
        let msg = Msg::Pod {
            namespace: pod.namespace().unwrap_or_default(),
            controller,
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

/// Runs the controller until the future is dropped.
pub async fn run(client: Client) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(4096);
    let _tasks = Tasks(vec![
        tokio::spawn(watch_owners(client.clone(), Kind::ReplicaSet, tx.clone())),
        tokio::spawn(watch_owners(
            client.clone(),
            Kind::ReplicationController,
            tx.clone(),
        )),
        tokio::spawn(watch_pods(client.clone(), tx)),
    ]);
    let c = Controller { client };
    // Every object the controller knows of, by namespace (orphan pods wake them all).
    let mut known: HashMap<String, HashSet<Key>> = HashMap::new();
    let mut queue: WorkQueue<Key> = WorkQueue::default();
    let mut next_resync = tokio::time::Instant::now() + RESYNC;
    loop {
        let now = tokio::time::Instant::now();
        if now >= next_resync {
            for k in known.values().flatten() {
                queue.add(k.clone());
            }
            next_resync = now + RESYNC;
        }
        if queue.is_empty() {
            let until = queue.next_due().unwrap_or(next_resync).min(next_resync);
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(m)) => handle(m, &mut known, &mut |k| queue.add(k)),
                Ok(None) => return,
                Err(_) => {}
            }
        }
        while let Ok(m) = rx.try_recv() {
            handle(m, &mut known, &mut |k| queue.add(k));
        }
        if let Some(k) = queue.pop() {
            match c.sync(&k).await {
                Ok(()) => queue.forget(&k),
                Err(e) => {
                    tracing::debug!(object = ?k, error = %e, "replica sync failed; retrying");
                    queue.add_rate_limited(k);
                }
            }
        }
    }
}

fn handle(m: Msg, known: &mut HashMap<String, HashSet<Key>>, push: &mut dyn FnMut(Key)) {
    match m {
        Msg::Owner(k) => {
            known.entry(k.1.clone()).or_default().insert(k.clone());
            push(k);
        }
        Msg::OwnerGone(k) => {
            if let Some(s) = known.get_mut(&k.1) {
                s.remove(&k);
            }
        }
        Msg::Pod {
            namespace,
            controller: Some((kind, name)),
        } => push((kind, namespace, name)),
        Msg::Pod {
            namespace,
            controller: None,
        } => {
            for k in known.get(&namespace).into_iter().flatten() {
                push(k.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_become_label_queries() {
        let rs = json!({"spec": {"selector": {"matchLabels": {"app": "x"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "gone", "operator": "DoesNotExist"}]}}});
        assert_eq!(
            selector_query(Kind::ReplicaSet, &rs).as_deref(),
            Some("app=x,tier in (a,b),!gone")
        );
        let rc = json!({"spec": {"template": {"metadata": {"labels": {"name": "n"}}}}});
        assert_eq!(
            selector_query(Kind::ReplicationController, &rc).as_deref(),
            Some("name=n")
        );
        assert_eq!(
            selector_query(Kind::ReplicaSet, &json!({"spec": {"selector": {}}})),
            None
        );
    }
}
