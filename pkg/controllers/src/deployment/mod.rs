//! The Deployment controller, as upstream's (`pkg/controller/deployment`): a Deployment's pods
//! are run by ReplicaSets it owns, one per pod template, named `<deployment>-<pod-template-hash>`.
//!
//! Per Deployment (read fresh from the API server): the ReplicaSets of its namespace it
//! controls and its selector matches are claimed (matching orphans adopted, controlled ones that
//! stopped matching released). The one whose template equals the Deployment's (ignoring the
//! hash label) is the new ReplicaSet; it is created when missing (with the hash label and
//! selector, the Deployment as controller, the revision after the highest old one and the
//! desired/max replica annotations; a name taken by another template bumps
//! `status.collisionCount`). Then, as upstream orders it: a Deployment being deleted only gets
//! its status; a paused one, or one whose `replicas` changed (the desired-replicas annotation
//! of its active ReplicaSets differs), is scaled proportionally across its ReplicaSets; else the
//! strategy rolls out: `Recreate` scales the old ReplicaSets to 0, waits for their pods to go and
//! scales the new one up; `RollingUpdate` scales the new one up within `maxSurge` and the old
//! ones down as far as `maxUnavailable` and the available pods allow. Old ReplicaSets beyond
//! `revisionHistoryLimit` with no pods are deleted once a rollout completes (or while paused).
//! The status (replica counts, `Available` and `Progressing` conditions, the latter timing out
//! after `progressDeadlineSeconds` without progress) goes through the status subresource,
//! together with the revision annotation of the Deployment.
//!
//! Not implemented: the deprecated `extensions/v1beta1` rollback (`spec.rollbackTo`, which
//! apps/v1 does not have; `kubectl rollout undo` works client-side).

pub mod hash;
pub mod util;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, ResourceExt};
use serde_json::{json, Value};

use crate::common::{
    claim, controller_ref, now_rfc3339, record_event, seconds_of, Owner, Tasks, WorkQueue,
};
use crate::replicaset::{selector_query, Kind};
use hash::{compute_hash, equal_ignore_hash, with_hash_label, POD_TEMPLATE_HASH_LABEL};
use util::*;

const COMPONENT: &str = "deployment-controller";
const RESYNC: Duration = Duration::from_secs(60);

fn deployments() -> ApiResource {
    ApiResource {
        group: "apps".into(),
        version: "v1".into(),
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        plural: "deployments".into(),
    }
}

fn replica_sets() -> ApiResource {
    ApiResource {
        group: "apps".into(),
        version: "v1".into(),
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        plural: "replicasets".into(),
    }
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// Upstream drops a key whose namespace is going away rather than retrying it.
    fn namespace_terminating(&self) -> bool {
        match self {
            Error::Kube(kube::Error::Api(s)) => s
                .details
                .as_ref()
                .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")),
            _ => false,
        }
    }
}

fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists")
}

fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

type Key = (String, String);

struct Controller {
    client: Client,
}

impl Controller {
    fn deployments(&self, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, &deployments())
    }

    fn replica_sets(&self, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, &replica_sets())
    }

    async fn event(&self, d: &Dep, type_: &str, reason: &str, message: String) {
        record_event(
            &self.client,
            COMPONENT,
            &deployments(),
            &d.obj,
            type_,
            reason,
            &message,
        )
        .await;
    }

    /// Writes `d.status` (and `d`'s annotations, which a Deployment's status update carries) and
    /// takes the stored object back.
    async fn update_status(&self, d: &mut Dep) -> Result<(), Error> {
        let ns = d.obj.namespace().unwrap_or_default();
        let mut obj = d.obj.clone();
        obj.data["status"] =
            serde_json::to_value(&d.status).map_err(|e| Error::Invalid(format!("status: {e}")))?;
        let stored = self
            .deployments(&ns)
            .replace_status(&d.name(), &PostParams::default(), &obj)
            .await?;
        *d = Dep::new(stored);
        Ok(())
    }

    /// Upstream's `syncDeployment`; returns when to look again (a progress deadline) if the
    /// Deployment needs it.
    async fn sync(&self, (ns, name): &Key) -> Result<Option<Duration>, Error> {
        let Some(obj) = self.deployments(ns).get_opt(name).await? else {
            return Ok(None);
        };
        let mut d = Dep::new(obj);
        let Some(selector) = selector_query(Kind::ReplicaSet, &d.obj.data) else {
            self.event(
                &d,
                "Warning",
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            )
            .await;
            if d.status.observed_generation < d.generation() {
                d.status.observed_generation = d.generation();
                let _ = self.update_status(&mut d).await;
            }
            return Ok(None);
        };
        let owner = Owner {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: d.name(),
            uid: d.uid(),
            deleting: d.obj.metadata.deletion_timestamp.is_some(),
        };
        let mut rs_list: Vec<Rs> = claim(&self.replica_sets(ns), &owner, &selector)
            .await?
            .into_iter()
            .map(Rs)
            .collect();
        if owner.deleting {
            let (new, old) = self.new_and_old(&mut d, &mut rs_list, false).await?;
            self.sync_status(&mut d, &old, new.as_ref()).await?;
            return Ok(None);
        }
        self.check_paused_conditions(&mut d).await?;
        if d.paused() || self.is_scaling_event(&mut d, &mut rs_list).await? {
            self.sync_scale(&mut d, &mut rs_list).await?;
            return Ok(None);
        }
        match d.strategy_type() {
            "Recreate" => self.rollout_recreate(&mut d, &mut rs_list, &selector).await,
            "RollingUpdate" => self.rollout_rolling(&mut d, &mut rs_list).await,
            t => Err(Error::Invalid(format!(
                "unexpected deployment strategy type: {t}"
            ))),
        }
    }

    /// Upstream's `getAllReplicaSetsAndSyncRevision`: the new ReplicaSet (created if asked and
    /// missing, its revision and annotations brought up to date) and all the old ones, oldest
    /// first.
    async fn new_and_old(
        &self,
        d: &mut Dep,
        rs_list: &mut Vec<Rs>,
        create: bool,
    ) -> Result<(Option<Rs>, Vec<Rs>), Error> {
        rs_list.sort_by(by_creation);
        let new_idx = rs_list
            .iter()
            .position(|r| equal_ignore_hash(r.template(), d.template()));
        let old: Vec<Rs> = rs_list
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != new_idx)
            .map(|(_, r)| r.clone())
            .collect();
        let max_old = old.iter().filter_map(Rs::revision).max().unwrap_or(0);
        let new_revision = (max_old + 1).to_string();
        let ns = d.obj.namespace().unwrap_or_default();

        if let Some(i) = new_idx {
            let mut rs = rs_list[i].clone();
            let annotations = set_new_rs_annotations(d, &mut rs, &new_revision, true);
            if annotations || rs.min_ready_seconds() != d.min_ready_seconds() {
                rs.set_min_ready_seconds(d.min_ready_seconds());
                let stored = Rs(self
                    .replica_sets(&ns)
                    .replace(&rs.name(), &PostParams::default(), &rs.0)
                    .await?);
                rs_list[i] = stored.clone();
                return Ok((Some(stored), old));
            }
            let revision = rs.annotation(REVISION).unwrap_or_default().to_string();
            let mut needs_update = d.set_revision(&revision);
            if d.progress_deadline().is_some() && d.status.condition(PROGRESSING).is_none() {
                d.status.set_condition(Condition::new(
                    PROGRESSING,
                    "True",
                    FOUND_NEW_RS,
                    format!("Found new replica set {}", quoted(&rs.name())),
                    &now_rfc3339(),
                ));
                needs_update = true;
            }
            if needs_update {
                self.update_status(d).await?;
            }
            return Ok((Some(rs), old));
        }
        if !create {
            return Ok((None, old));
        }

        // A new ReplicaSet for the template.
        let collision_count = d.status.collision_count.map(|c| c as i32);
        let hash = compute_hash(d.template(), collision_count);
        let mut template = d.template().clone();
        let labels = with_hash_label(template.pointer("/metadata/labels"), &hash);
        if !template.get("metadata").is_some_and(Value::is_object) {
            template["metadata"] = json!({});
        }
        template["metadata"]["labels"] = Value::Object(labels.clone());
        let mut selector = d.selector().cloned().unwrap_or(json!({}));
        if !selector.get("matchLabels").is_some_and(Value::is_object) {
            selector["matchLabels"] = json!({});
        }
        selector["matchLabels"][POD_TEMPLATE_HASH_LABEL] = json!(hash);
        let rs_name = replica_set_name(&d.name(), &hash);
        let mut spec = json!({"replicas": 0, "selector": selector, "template": template});
        if d.min_ready_seconds() != 0 {
            spec["minReadySeconds"] = json!(d.min_ready_seconds());
        }
        let mut new_rs = Rs(serde_json::from_value(json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": ns,
                "labels": labels,
                "ownerReferences": [{
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": d.name(),
                    "uid": d.uid(),
                    "controller": true,
                    "blockOwnerDeletion": true,
                }],
            },
            "spec": spec,
        }))
        .map_err(|e| Error::Invalid(format!("new replica set: {e}")))?);
        let total = old.iter().map(Rs::replicas).sum::<i64>();
        let replicas = d.new_rs_new_replicas(total, 0).map_err(Error::Invalid)?;
        new_rs.set_replicas(replicas);
        set_new_rs_annotations(d, &mut new_rs, &new_revision, false);

        let api = self.replica_sets(&ns);
        let mut already_exists = false;
        let created = match api.create(&PostParams::default(), &new_rs.0).await {
            Ok(rs) => Rs(rs),
            Err(e) if is_already_exists(&e) => {
                // Ours already (a previous pass), or a hash collision with another template.
                let existing = Rs(api.get(&rs_name).await?);
                let ours = controller_ref(&existing.0).is_some_and(|r| r.uid == d.uid());
                if ours && equal_ignore_hash(d.template(), existing.template()) {
                    already_exists = true;
                    existing
                } else {
                    let before = d.status.collision_count.unwrap_or(0);
                    d.status.collision_count = Some(before + 1);
                    if self.update_status(d).await.is_ok() {
                        tracing::info!(deployment = %d.name(), before, "hash collision; bumping collisionCount");
                    }
                    return Err(e.into());
                }
            }
            Err(e) => {
                let err = Error::from(e);
                if err.namespace_terminating() {
                    return Err(err);
                }
                let msg = format!(
                    "Failed to create new replica set {}: {}",
                    quoted(&rs_name),
                    match &err {
                        Error::Kube(kube::Error::Api(s)) => s.message.clone(),
                        other => other.to_string(),
                    }
                );
                if d.progress_deadline().is_some() {
                    d.status.set_condition(Condition::new(
                        PROGRESSING,
                        "False",
                        FAILED_RS_CREATE,
                        msg.clone(),
                        &now_rfc3339(),
                    ));
                    let _ = self.update_status(d).await;
                }
                self.event(d, "Warning", FAILED_RS_CREATE, msg).await;
                return Err(err);
            }
        };
        if !already_exists && replicas > 0 {
            self.event(
                d,
                "Normal",
                "ScalingReplicaSet",
                format!(
                    "Scaled up replica set {} from 0 to {replicas}",
                    created.name()
                ),
            )
            .await;
        }
        let mut needs_update = d.set_revision(&new_revision);
        if !already_exists && d.progress_deadline().is_some() {
            d.status.set_condition(Condition::new(
                PROGRESSING,
                "True",
                NEW_RS_CREATED,
                format!("Created new replica set {}", quoted(&created.name())),
                &now_rfc3339(),
            ));
            needs_update = true;
        }
        rs_list.push(created.clone());
        if needs_update {
            self.update_status(d).await?;
        }
        Ok((Some(created), old))
    }

    /// Upstream's `checkPausedConditions`: pausing and resuming reset the progress clock.
    async fn check_paused_conditions(&self, d: &mut Dep) -> Result<(), Error> {
        if d.progress_deadline().is_none() {
            return Ok(());
        }
        let cond = d.status.condition(PROGRESSING);
        if cond.is_some_and(|c| c.reason == TIMED_OUT) {
            return Ok(());
        }
        let paused_cond = cond.is_some_and(|c| c.reason == PAUSED);
        let (reason, message) = match (d.paused(), paused_cond) {
            (true, false) => (PAUSED, "Deployment is paused"),
            (false, true) => (RESUMED, "Deployment is resumed"),
            _ => return Ok(()),
        };
        d.status.set_condition(Condition::new(
            PROGRESSING,
            "Unknown",
            reason,
            message.into(),
            &now_rfc3339(),
        ));
        self.update_status(d).await
    }

    /// Upstream's `isScalingEvent`: an active ReplicaSet was sized for other `replicas`.
    async fn is_scaling_event(&self, d: &mut Dep, rs_list: &mut Vec<Rs>) -> Result<bool, Error> {
        let (new, old) = self.new_and_old(d, rs_list, false).await?;
        Ok(active(old.iter().chain(new.as_ref()))
            .iter()
            .filter_map(|r| r.int_annotation(DESIRED_REPLICAS))
            .any(|desired| desired != d.replicas()))
    }

    /// Upstream's `sync`: scaling (and, while paused, history cleanup) without rolling out.
    async fn sync_scale(&self, d: &mut Dep, rs_list: &mut Vec<Rs>) -> Result<(), Error> {
        let (mut new, mut old) = self.new_and_old(d, rs_list, false).await?;
        self.scale(d, &mut new, &mut old).await?;
        if d.paused() {
            self.cleanup(d, &old).await?;
        }
        self.sync_status(d, &old, new.as_ref()).await
    }

    /// Upstream's `scale`: a single active ReplicaSet takes all replicas; a saturated new one
    /// leaves the old ones none; otherwise (rolling) the change is shared in proportion.
    async fn scale(&self, d: &Dep, new: &mut Option<Rs>, old: &mut [Rs]) -> Result<(), Error> {
        let old_refs: Vec<&Rs> = old.iter().collect();
        if let Some(target) = find_active_or_latest(new.as_ref(), &old_refs) {
            if target.replicas() == d.replicas() {
                return Ok(());
            }
            let name = target.name();
            let slot = slot_of(new, old, &name);
            if let Some(rs) = slot {
                self.scale_rs_and_record(rs, d.replicas(), d).await?;
            }
            return Ok(());
        }
        if is_saturated(d, new.as_ref()) {
            for rs in old.iter_mut().filter(|r| r.replicas() > 0) {
                self.scale_rs_and_record(rs, 0, d).await?;
            }
            return Ok(());
        }
        if !d.is_rolling() {
            return Ok(());
        }
        let mut all: Vec<Rs> = old
            .iter()
            .chain(new.as_ref())
            .filter(|r| r.replicas() > 0)
            .cloned()
            .collect();
        let current: i64 = all.iter().map(Rs::replicas).sum();
        let allowed = if d.replicas() > 0 {
            d.replicas() + d.max_surge()
        } else {
            0
        };
        let to_add = allowed - current;
        match to_add.cmp(&0) {
            std::cmp::Ordering::Greater => all.sort_by(by_size_newer),
            std::cmp::Ordering::Less => all.sort_by(by_size_older),
            std::cmp::Ordering::Equal => {}
        }
        let mut added = 0;
        let mut sizes = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add != 0 {
                let p = proportion(rs, d, to_add, added);
                sizes.push(rs.replicas() + p);
                added += p;
            } else {
                sizes.push(rs.replicas());
            }
        }
        for (i, rs) in all.iter().enumerate() {
            let mut size = sizes[i];
            if i == 0 && to_add != 0 {
                size = (size + to_add - added).max(0);
            }
            if let Some(slot) = slot_of(new, old, &rs.name()) {
                self.scale_rs(slot, size, d).await?;
            }
        }
        Ok(())
    }

    /// Upstream's `scaleReplicaSetAndRecordEvent`: nothing to do at the size already.
    async fn scale_rs_and_record(&self, rs: &mut Rs, size: i64, d: &Dep) -> Result<bool, Error> {
        if rs.replicas() == size {
            return Ok(false);
        }
        self.scale_rs(rs, size, d).await
    }

    /// Upstream's `scaleReplicaSet`: sets the size and the replica annotations; whether the size
    /// changed. `rs` becomes the stored ReplicaSet.
    async fn scale_rs(&self, rs: &mut Rs, size: i64, d: &Dep) -> Result<bool, Error> {
        let max = d.replicas() + d.max_surge();
        let old_size = rs.replicas();
        let size_changes = old_size != size;
        if !size_changes && !rs.replicas_annotations_need_update(d.replicas(), max) {
            return Ok(false);
        }
        let mut copy = rs.clone();
        copy.set_replicas(size);
        copy.set_replicas_annotations(d.replicas(), max);
        let ns = copy.0.namespace().unwrap_or_default();
        *rs = Rs(self
            .replica_sets(&ns)
            .replace(&copy.name(), &PostParams::default(), &copy.0)
            .await?);
        if size_changes {
            let direction = if old_size < size { "up" } else { "down" };
            self.event(
                d,
                "Normal",
                "ScalingReplicaSet",
                format!(
                    "Scaled {direction} replica set {} from {old_size} to {size}",
                    rs.name()
                ),
            )
            .await;
        }
        Ok(size_changes)
    }

    /// Upstream's `cleanupDeployment`: the oldest revisions beyond `revisionHistoryLimit` go,
    /// if they have no pods left.
    async fn cleanup(&self, d: &Dep, old: &[Rs]) -> Result<(), Error> {
        let Some(limit) = d.revision_history_limit() else {
            return Ok(());
        };
        let mut cleanable: Vec<&Rs> = old.iter().filter(|r| !r.deleting()).collect();
        let diff = cleanable.len() as i64 - limit;
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| by_revision(a, b));
        for rs in cleanable.into_iter().take(diff as usize) {
            if rs.status("replicas") != 0
                || rs.replicas() != 0
                || rs.generation() > rs.status("observedGeneration")
                || rs.deleting()
            {
                continue;
            }
            let ns = rs.0.namespace().unwrap_or_default();
            match self
                .replica_sets(&ns)
                .delete(&rs.name(), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Upstream's `syncDeploymentStatus`.
    async fn sync_status(&self, d: &mut Dep, old: &[Rs], new: Option<&Rs>) -> Result<(), Error> {
        let all: Vec<&Rs> = old.iter().chain(new).collect();
        let status = calculate_status(&all, new, d, &now_rfc3339());
        if status == d.status {
            return Ok(());
        }
        d.status = status;
        self.update_status(d).await
    }

    /// Upstream's `syncRolloutStatus`: the status with the progress estimate; when nothing
    /// changed, when to check the deadline again.
    async fn sync_rollout_status(
        &self,
        d: &mut Dep,
        old: &[Rs],
        new: Option<&Rs>,
    ) -> Result<Option<Duration>, Error> {
        let now = now_rfc3339();
        let now_s = seconds_of(Some(&now));
        let all: Vec<&Rs> = old.iter().chain(new).collect();
        let mut status = calculate_status(&all, new, d, &now);
        if d.progress_deadline().is_none() {
            status.remove_condition(PROGRESSING);
        }
        let current = d.status.condition(PROGRESSING).cloned();
        let complete_before = status.replicas == status.updated_replicas
            && current
                .as_ref()
                .is_some_and(|c| c.reason == NEW_RS_AVAILABLE);
        if d.progress_deadline().is_some() && !complete_before {
            let subject = match new {
                Some(rs) => format!("ReplicaSet {}", quoted(&rs.name())),
                None => format!("Deployment {}", quoted(&d.name())),
            };
            if deployment_complete(d, &status) {
                status.set_condition(Condition::new(
                    PROGRESSING,
                    "True",
                    NEW_RS_AVAILABLE,
                    format!("{subject} has successfully progressed."),
                    &now,
                ));
            } else if deployment_progressing(d, &status) {
                let mut c = Condition::new(
                    PROGRESSING,
                    "True",
                    RS_UPDATED,
                    format!("{subject} is progressing."),
                    &now,
                );
                // Progress moves the update time only; the transition time stays while True.
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    status.remove_condition(PROGRESSING);
                }
                status.set_condition(c);
            } else if deployment_timed_out(d, &status, now_s) {
                status.set_condition(Condition::new(
                    PROGRESSING,
                    "False",
                    TIMED_OUT,
                    format!("{subject} has timed out progressing."),
                    &now,
                ));
            }
        }
        // A ReplicaSet's failure to create pods (the new one's first) shows on the Deployment.
        let failure = new
            .into_iter()
            .chain(all.iter().copied())
            .flat_map(|r| r.conditions())
            .find(|c| c.type_ == REPLICA_FAILURE);
        match failure {
            Some(c) => status.set_condition(Condition {
                last_update_time: c.last_transition_time.clone(),
                ..c
            }),
            None => status.remove_condition(REPLICA_FAILURE),
        }
        if status == d.status {
            return Ok(requeue_stuck(d, &status, now_s));
        }
        d.status = status;
        self.update_status(d).await?;
        Ok(None)
    }

    /// Upstream's `rolloutRecreate`.
    async fn rollout_recreate(
        &self,
        d: &mut Dep,
        rs_list: &mut Vec<Rs>,
        selector: &str,
    ) -> Result<Option<Duration>, Error> {
        let (mut new, mut old) = self.new_and_old(d, rs_list, false).await?;
        let mut scaled_down = false;
        for rs in old.iter_mut().filter(|r| r.replicas() > 0) {
            if self.scale_rs_and_record(rs, 0, d).await? {
                scaled_down = true;
            }
        }
        if scaled_down
            || self
                .old_pods_running(d, new.as_ref(), &old, selector)
                .await?
        {
            return self.sync_rollout_status(d, &old, new.as_ref()).await;
        }
        if new.is_none() {
            let (n, o) = self.new_and_old(d, rs_list, true).await?;
            new = n;
            old = o;
        }
        if let Some(rs) = new.as_mut() {
            self.scale_rs_and_record(rs, d.replicas(), d).await?;
        }
        if deployment_complete(d, &d.status) {
            self.cleanup(d, &old).await?;
        }
        self.sync_rollout_status(d, &old, new.as_ref()).await
    }

    /// Upstream's `oldPodsRunning`: an old ReplicaSet reports pods, or a pod of one is not
    /// finished.
    async fn old_pods_running(
        &self,
        d: &Dep,
        new: Option<&Rs>,
        old: &[Rs],
        selector: &str,
    ) -> Result<bool, Error> {
        if old.iter().map(|r| r.status("replicas")).sum::<i64>() > 0 {
            return Ok(true);
        }
        let old_uids: HashSet<String> = old.iter().map(Rs::uid).collect();
        let new_uid = new.map(Rs::uid);
        let ns = d.obj.namespace().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let running = pods
            .list(&ListParams::default().labels(selector))
            .await?
            .items
            .iter()
            .filter(|p| {
                controller_ref(*p)
                    .is_some_and(|r| old_uids.contains(&r.uid) && Some(&r.uid) != new_uid.as_ref())
            })
            .any(|p| {
                !matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                )
            });
        Ok(running)
    }

    /// Upstream's `rolloutRolling`.
    async fn rollout_rolling(
        &self,
        d: &mut Dep,
        rs_list: &mut Vec<Rs>,
    ) -> Result<Option<Duration>, Error> {
        let (new, mut old) = self.new_and_old(d, rs_list, true).await?;
        let Some(mut new) = new else {
            return Err(Error::Invalid("no new replica set".into()));
        };
        // Scale up, if we can.
        if self.reconcile_new(d, &old, &mut new).await? {
            return self.sync_rollout_status(d, &old, Some(&new)).await;
        }
        // Scale down, if we can.
        if self.reconcile_old(d, &mut old, &new).await? {
            return self.sync_rollout_status(d, &old, Some(&new)).await;
        }
        if deployment_complete(d, &d.status) {
            self.cleanup(d, &old).await?;
        }
        self.sync_rollout_status(d, &old, Some(&new)).await
    }

    async fn reconcile_new(&self, d: &Dep, old: &[Rs], new: &mut Rs) -> Result<bool, Error> {
        let want = d.replicas();
        match new.replicas().cmp(&want) {
            std::cmp::Ordering::Equal => Ok(false),
            std::cmp::Ordering::Greater => self.scale_rs_and_record(new, want, d).await,
            std::cmp::Ordering::Less => {
                let total = old.iter().map(Rs::replicas).sum::<i64>() + new.replicas();
                let size = d
                    .new_rs_new_replicas(total, new.replicas())
                    .map_err(Error::Invalid)?;
                self.scale_rs_and_record(new, size, d).await
            }
        }
    }

    /// Upstream's `reconcileOldReplicaSets`: scale old ReplicaSets down as far as keeping
    /// `replicas - maxUnavailable` available allows, unhealthy replicas first.
    async fn reconcile_old(&self, d: &Dep, old: &mut [Rs], new: &Rs) -> Result<bool, Error> {
        let old_pods: i64 = old.iter().map(Rs::replicas).sum();
        if old_pods == 0 {
            return Ok(false);
        }
        let all_pods = old_pods + new.replicas();
        let min_available = d.replicas() - d.max_unavailable();
        let new_unavailable = new.replicas() - new.status("availableReplicas");
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        // Errors here end the pass quietly, as upstream's.
        let Ok(cleaned) = self.cleanup_unhealthy(d, old, max_scaled_down).await else {
            return Ok(false);
        };
        let Ok(scaled) = self.scale_down_old(d, old, new).await else {
            return Ok(false);
        };
        Ok(cleaned + scaled > 0)
    }

    /// Upstream's `cleanupUnhealthyReplicas`: unavailable replicas of old ReplicaSets go first.
    async fn cleanup_unhealthy(
        &self,
        d: &Dep,
        old: &mut [Rs],
        max_cleanup: i64,
    ) -> Result<i64, Error> {
        old.sort_by(by_creation);
        let mut total = 0;
        for rs in old.iter_mut() {
            if total >= max_cleanup {
                break;
            }
            let available = rs.status("availableReplicas");
            if rs.replicas() == 0 || rs.replicas() == available {
                continue;
            }
            let count = (max_cleanup - total).min(rs.replicas() - available);
            let size = rs.replicas() - count;
            self.scale_rs_and_record(rs, size, d).await?;
            total += count;
        }
        Ok(total)
    }

    /// Upstream's `scaleDownOldReplicaSetsForRollingUpdate`: available replicas above the
    /// minimum come off the oldest ReplicaSets.
    async fn scale_down_old(&self, d: &Dep, old: &mut [Rs], new: &Rs) -> Result<i64, Error> {
        let min_available = d.replicas() - d.max_unavailable();
        let available: i64 = old
            .iter()
            .chain(std::iter::once(new))
            .map(|r| r.status("availableReplicas"))
            .sum();
        if available <= min_available {
            return Ok(0);
        }
        old.sort_by(by_creation);
        let to_scale = available - min_available;
        let mut total = 0;
        for rs in old.iter_mut() {
            if total >= to_scale {
                break;
            }
            if rs.replicas() == 0 {
                continue;
            }
            let count = rs.replicas().min(to_scale - total);
            let size = rs.replicas() - count;
            self.scale_rs_and_record(rs, size, d).await?;
            total += count;
        }
        Ok(total)
    }
}

/// The ReplicaSet named `name` among the new and old ones, to update in place.
fn slot_of<'a>(new: &'a mut Option<Rs>, old: &'a mut [Rs], name: &str) -> Option<&'a mut Rs> {
    if new.as_ref().is_some_and(|r| r.name() == name) {
        return new.as_mut();
    }
    old.iter_mut().find(|r| r.name() == name)
}

/// Upstream's `requeueStuckDeployment`: when an unfinished rollout's deadline comes.
fn requeue_stuck(d: &Dep, status: &DeploymentStatus, now: i64) -> Option<Duration> {
    let deadline = d.progress_deadline()?;
    let cond = d.status.condition(PROGRESSING)?;
    if deployment_complete(d, status) || cond.reason == TIMED_OUT {
        return None;
    }
    let after = seconds_of(cond.last_update_time.as_deref()) + deadline - now;
    if after < 1 {
        return Some(Duration::from_secs(1));
    }
    // A second more, so that the deadline has passed when the Deployment is looked at.
    Some(Duration::from_secs(after as u64 + 1))
}

enum Msg {
    Deployment {
        key: Key,
        recreate: bool,
        gone: bool,
    },
    ReplicaSet {
        namespace: String,
        name: String,
        /// The Deployment controlling it (`None`: an orphan, or controlled by another kind).
        owner: Option<String>,
        orphan: bool,
        gone: bool,
    },
    /// A pod of a ReplicaSet was deleted.
    PodGone { namespace: String, rs: String },
}

/// Follows every object of `resource`, sending what `to_msg` makes of each change (`true`: the
/// object is gone) until the controller's queue closes.
async fn watch_objects(
    client: Client,
    resource: ApiResource,
    what: &'static str,
    tx: tokio::sync::mpsc::Sender<Msg>,
    to_msg: fn(&DynamicObject, bool) -> Msg,
) {
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        let (o, gone) = match ev {
            Ok(Event::Apply(o) | Event::InitApply(o)) => (o, false),
            Ok(Event::Delete(o)) => (o, true),
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, watch = what, "watch failed; retrying");
                continue;
            }
        };
        if tx.send(to_msg(&o, gone)).await.is_err() {
            return;
        }
    }
}

fn deployment_msg(o: &DynamicObject, gone: bool) -> Msg {
    Msg::Deployment {
        key: (o.namespace().unwrap_or_default(), o.name_any()),
        recreate: o.data.pointer("/spec/strategy/type") == Some(&json!("Recreate")),
        gone,
    }
}

fn replica_set_msg(o: &DynamicObject, gone: bool) -> Msg {
    let cref = controller_ref(o);
    let owner = cref
        .filter(|r| r.kind == "Deployment" && r.api_version.starts_with("apps/"))
        .map(|r| r.name.clone());
    Msg::ReplicaSet {
        namespace: o.namespace().unwrap_or_default(),
        name: o.name_any(),
        owner,
        orphan: cref.is_none() && !o.labels().is_empty(),
        gone: gone || o.metadata.deletion_timestamp.is_some(),
    }
}

async fn watch_pod_deletions(client: Client, tx: tokio::sync::mpsc::Sender<Msg>) {
    let api: Api<Pod> = Api::all(client);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        let pod = match ev {
            Ok(Event::Delete(p)) => p,
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "pod watch (deployments) failed; retrying");
                continue;
            }
        };
        let Some(rs) = controller_ref(&pod)
            .filter(|r| r.kind == "ReplicaSet")
            .map(|r| r.name.clone())
        else {
            continue;
        };
        let msg = Msg::PodGone {
            namespace: pod.namespace().unwrap_or_default(),
            rs,
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

#[derive(Default)]
struct State {
    /// Deployments by namespace (orphan ReplicaSets wake them all), and which use Recreate.
    known: HashMap<String, HashSet<String>>,
    recreate: HashSet<Key>,
    /// The controlling Deployment of each ReplicaSet seen.
    rs_owner: HashMap<Key, String>,
}

impl State {
    fn handle(&mut self, m: Msg, queue: &mut WorkQueue<Key>) {
        match m {
            Msg::Deployment {
                key,
                recreate,
                gone,
            } => {
                if gone {
                    if let Some(s) = self.known.get_mut(&key.0) {
                        s.remove(&key.1);
                    }
                    self.recreate.remove(&key);
                } else {
                    self.known
                        .entry(key.0.clone())
                        .or_default()
                        .insert(key.1.clone());
                    if recreate {
                        self.recreate.insert(key.clone());
                    } else {
                        self.recreate.remove(&key);
                    }
                }
                queue.add(key);
            }
            Msg::ReplicaSet {
                namespace,
                name,
                owner,
                orphan,
                gone,
            } => {
                let rs_key = (namespace.clone(), name);
                // A controller that let go of it, or the one that has it now.
                let previous = if gone {
                    self.rs_owner.remove(&rs_key)
                } else {
                    match &owner {
                        Some(o) => self.rs_owner.insert(rs_key, o.clone()),
                        None => self.rs_owner.remove(&rs_key),
                    }
                };
                if let Some(p) = previous.filter(|p| Some(p) != owner.as_ref()) {
                    queue.add((namespace.clone(), p));
                }
                if let Some(o) = owner {
                    queue.add((namespace, o));
                } else if orphan && !gone {
                    for d in self.known.get(&namespace).into_iter().flatten() {
                        queue.add((namespace.clone(), d.clone()));
                    }
                }
            }
            Msg::PodGone { namespace, rs } => {
                // A Recreate rollout waits for the old pods to be gone.
                if let Some(d) = self.rs_owner.get(&(namespace.clone(), rs)) {
                    let key = (namespace, d.clone());
                    if self.recreate.contains(&key) {
                        queue.add(key);
                    }
                }
            }
        }
    }
}

/// Runs the controller until the future is dropped.
pub async fn run(client: Client) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(4096);
    let _tasks = Tasks(vec![
        tokio::spawn(watch_objects(
            client.clone(),
            deployments(),
            "deployments",
            tx.clone(),
            deployment_msg,
        )),
        tokio::spawn(watch_objects(
            client.clone(),
            replica_sets(),
            "replicasets (deployments)",
            tx.clone(),
            replica_set_msg,
        )),
        tokio::spawn(watch_pod_deletions(client.clone(), tx)),
    ]);
    let c = Controller { client };
    let mut state = State::default();
    let mut queue: WorkQueue<Key> = WorkQueue::default();
    let mut next_resync = tokio::time::Instant::now() + RESYNC;
    loop {
        let now = tokio::time::Instant::now();
        if now >= next_resync {
            for (ns, names) in &state.known {
                for n in names {
                    queue.add((ns.clone(), n.clone()));
                }
            }
            next_resync = now + RESYNC;
        }
        if queue.is_empty() {
            let until = queue.next_due().unwrap_or(next_resync).min(next_resync);
            match tokio::time::timeout_at(until, rx.recv()).await {
                Ok(Some(m)) => state.handle(m, &mut queue),
                Ok(None) => return,
                Err(_) => {}
            }
        }
        while let Ok(m) = rx.try_recv() {
            state.handle(m, &mut queue);
        }
        if let Some(k) = queue.pop() {
            match c.sync(&k).await {
                Ok(after) => {
                    queue.forget(&k);
                    if let Some(after) = after {
                        queue.add_after(k, after);
                    }
                }
                Err(e) if e.namespace_terminating() => queue.forget(&k),
                Err(e) => {
                    tracing::debug!(deployment = ?k, error = %e, "deployment sync failed; retrying");
                    queue.add_rate_limited(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_set_events_wake_their_deployments() {
        let mut s = State::default();
        let mut q = WorkQueue::default();
        s.handle(
            Msg::Deployment {
                key: ("ns".into(), "web".into()),
                recreate: true,
                gone: false,
            },
            &mut q,
        );
        s.handle(
            Msg::Deployment {
                key: ("ns".into(), "api".into()),
                recreate: false,
                gone: false,
            },
            &mut q,
        );
        while q.pop().is_some() {}
        s.handle(
            Msg::ReplicaSet {
                namespace: "ns".into(),
                name: "web-1".into(),
                owner: Some("web".into()),
                orphan: false,
                gone: false,
            },
            &mut q,
        );
        assert_eq!(q.pop(), Some(("ns".into(), "web".into())));
        assert_eq!(q.pop(), None);
        // Pods of a Recreate Deployment's ReplicaSet wake it when they go.
        s.handle(
            Msg::PodGone {
                namespace: "ns".into(),
                rs: "web-1".into(),
            },
            &mut q,
        );
        assert_eq!(q.pop(), Some(("ns".into(), "web".into())));
        // Released: the former owner looks again; an orphan wakes every Deployment there.
        s.handle(
            Msg::ReplicaSet {
                namespace: "ns".into(),
                name: "web-1".into(),
                owner: None,
                orphan: true,
                gone: false,
            },
            &mut q,
        );
        let mut woken = vec![q.pop(), q.pop(), q.pop()];
        woken.sort();
        assert_eq!(
            woken,
            vec![
                None,
                Some(("ns".into(), "api".into())),
                Some(("ns".into(), "web".into()))
            ]
        );
    }
}
