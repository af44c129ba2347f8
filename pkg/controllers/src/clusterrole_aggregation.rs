//! The clusterrole-aggregation controller: a ClusterRole with an `aggregationRule` gets as its
//! rules the union of the rules of every ClusterRole its `clusterRoleSelectors` match (upstream's
//! `pkg/controller/clusterroleaggregation`). So a ClusterRole labelled
//! `rbac.authorization.k8s.io/aggregate-to-view: "true"` extends `view` (and, through the
//! bootstrap labels, `edit` and `admin`). Any ClusterRole change recomputes every aggregated role;
//! a role is written (a merge patch of `rules`) only when its rules differ.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};
use serde_json::{json, Value};

use k3rs_auth::rbac::{aggregated_rules, PolicyRule, Role};

/// Writes the aggregated roles whose rules are out of date; returns how many were written.
async fn sync(api: &Api<ClusterRole>, roles: &BTreeMap<String, Value>) -> usize {
    let parsed: Vec<Role> = roles.values().map(Role::from_json).collect();
    let mut written = 0;
    for role in parsed.iter().filter(|r| r.aggregation.is_some()) {
        let Some(want) = aggregated_rules(role, &parsed) else {
            continue;
        };
        if want == role.rules {
            continue;
        }
        let patch = json!({"rules": want.iter().map(PolicyRule::to_json).collect::<Vec<_>>()});
        match api
            .patch(&role.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => written += 1,
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                tracing::warn!(clusterrole = %role.name, error = %e, "updating an aggregated ClusterRole")
            }
        }
    }
    written
}

/// Watches ClusterRoles and keeps aggregated ones up to date.
pub async fn run(client: Client) {
    let api: Api<ClusterRole> = Api::all(client);
    let mut roles: BTreeMap<String, Value> = BTreeMap::new();
    let mut initial: BTreeMap<String, Value> = BTreeMap::new();
    let mut events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    while let Some(ev) = events.next().await {
        let to_value = |r: &ClusterRole| serde_json::to_value(r).unwrap_or(Value::Null);
        match ev {
            Ok(Event::Apply(r)) => {
                roles.insert(r.name_any(), to_value(&r));
            }
            Ok(Event::Delete(r)) => {
                roles.remove(&r.name_any());
            }
            Ok(Event::Init) => {
                initial.clear();
                continue;
            }
            Ok(Event::InitApply(r)) => {
                initial.insert(r.name_any(), to_value(&r));
                continue;
            }
            Ok(Event::InitDone) => {
                roles = std::mem::take(&mut initial);
            }
            Err(e) => {
                tracing::debug!(error = %e, "clusterrole watch error; the watcher retries");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        }
        let n = sync(&api, &roles).await;
        if n > 0 {
            tracing::debug!(updated = n, "aggregated ClusterRoles updated");
        }
    }
}
