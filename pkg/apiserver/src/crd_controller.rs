//! The in-process CustomResourceDefinition controller (upstream's naming, establishing and
//! finalizing controllers of apiextensions-apiserver in one loop).
//!
//! It watches CRDs in the datastore and, for each one:
//! - checks its names against the other CRDs of the same group (their `status.acceptedNames`):
//!   a conflict sets `NamesAccepted=False` (reason `KindConflict`, `PluralConflict`, ...) and, if the
//!   CRD was never established, `Established=False` (`NotAccepted`); otherwise the names are
//!   accepted, `NamesAccepted=True` (`NoConflicts`) and `Established=True`
//!   (`InitialNamesAccepted`);
//! - registers its served versions in [`k3rs_apis::crd`] (before writing `Established`, so a
//!   client that waited for it can use the resource at once), or unregisters them;
//! - when it is being deleted: deletes every custom resource it stored, then removes the
//!   `customresourcecleanup.apiextensions.k8s.io` finalizer so the CRD goes.

use std::time::Duration;

use serde_json::{json, Value};

use k3rs_apis::crd::CLEANUP_FINALIZER;
use k3rs_apis::registry::{self, Resource};

use crate::object::{meta, meta_str};
use crate::status::ApiResult;
use crate::store::{Api, DeleteParams, ListParams, WatchParams};
use crate::strategy::set_condition;

fn crd_resource() -> Option<&'static Resource> {
    registry::find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
}

/// Registers every established CRD (called once before the server answers requests).
pub async fn initial_sync(api: &Api) -> ApiResult<()> {
    sync_all(api).await.map(|_| ())
}

/// Runs the controller until the process ends.
pub fn spawn(api: Api) {
    tokio::spawn(async move {
        loop {
            let Some(res) = crd_resource() else { return };
            let p = WatchParams {
                timeout: Some(Duration::from_secs(3600)),
                ..Default::default()
            };
            let mut rx = match api.watch(res, None, p).await {
                Ok(rx) => rx,
                Err(e) => {
                    tracing::warn!(error = %e.message, "CRD controller: watch failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let mut pending = false;
            loop {
                let got = if pending {
                    // Custom resources still being deleted: look again shortly.
                    tokio::select! {
                        ev = rx.recv() => Some(ev),
                        _ = tokio::time::sleep(Duration::from_secs(1)) => None,
                    }
                } else {
                    Some(rx.recv().await)
                };
                match got {
                    Some(None) => break,
                    Some(Some(ev)) if ev["type"] == "ERROR" => break,
                    _ => {}
                }
                // Drain what is queued: one pass handles them all.
                while let Ok(ev) = rx.try_recv() {
                    if ev["type"] == "ERROR" {
                        break;
                    }
                }
                match sync_all(&api).await {
                    Ok(p) => pending = p,
                    Err(e) => {
                        tracing::warn!(error = %e.message, "CRD controller: sync failed");
                        pending = true;
                    }
                }
            }
        }
    });
}

/// The names of one CRD: (plural, singular, kind, listKind, shortNames).
struct Names {
    plural: String,
    singular: String,
    kind: String,
    list_kind: String,
    short: Vec<String>,
}

fn names_of(v: &Value) -> Names {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Names {
        plural: s("plural"),
        singular: s("singular"),
        kind: s("kind"),
        list_kind: s("listKind"),
        short: v
            .get("shortNames")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Checks `wanted` against the names other CRDs of the group accepted: the conflict as
/// (reason, message), as upstream's naming controller reports it.
fn conflict(wanted: &Names, others: &[Names]) -> Option<(&'static str, String)> {
    let resources: Vec<&str> = others
        .iter()
        .flat_map(|o| {
            [o.plural.as_str(), o.singular.as_str()]
                .into_iter()
                .chain(o.short.iter().map(String::as_str))
        })
        .filter(|s| !s.is_empty())
        .collect();
    let kinds: Vec<&str> = others
        .iter()
        .flat_map(|o| [o.kind.as_str(), o.list_kind.as_str()])
        .filter(|s| !s.is_empty())
        .collect();
    // Every name is checked and the last conflict is the one reported (as upstream).
    let mut found = None;
    if resources.contains(&wanted.plural.as_str()) {
        found = Some((
            "PluralConflict",
            format!("{:?} is already in use", wanted.plural),
        ));
    }
    if resources.contains(&wanted.singular.as_str()) {
        found = Some((
            "SingularConflict",
            format!("{:?} is already in use", wanted.singular),
        ));
    }
    for s in &wanted.short {
        if resources.contains(&s.as_str()) {
            found = Some(("ShortNamesConflict", format!("{s:?} is already in use")));
        }
    }
    if kinds.contains(&wanted.kind.as_str()) {
        found = Some((
            "KindConflict",
            format!("{:?} is already in use", wanted.kind),
        ));
    }
    if kinds.contains(&wanted.list_kind.as_str()) {
        found = Some((
            "ListKindConflict",
            format!("{:?} is already in use", wanted.list_kind),
        ));
    }
    found
}

fn condition_true(crd: &Value, type_: &str) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some(type_)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// One pass over every CRD. Returns whether some CRD is still waiting for its custom resources
/// to go.
async fn sync_all(api: &Api) -> ApiResult<bool> {
    let Some(res) = crd_resource() else {
        return Ok(false);
    };
    let list = api.list(res, None, &ListParams::default()).await?;
    let mut crds = list
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Older CRDs keep their names when a newer one asks for the same.
    crds.sort_by(|a, b| {
        meta_str(a, "creationTimestamp")
            .cmp(&meta_str(b, "creationTimestamp"))
            .then_with(|| crate::object::name(a).cmp(crate::object::name(b)))
    });
    let present: Vec<String> = crds
        .iter()
        .map(|c| crate::object::name(c).to_string())
        .collect();
    // CRDs gone from the store stop being served.
    for s in k3rs_apis::crd::schemas() {
        let name = format!("{}.{}", s.plural, s.group);
        if !present.contains(&name) {
            k3rs_apis::crd::unregister(&name);
        }
    }
    let mut pending = false;
    // Accepted names per group, as this pass decides them.
    let mut accepted: Vec<(String, String, Names)> = crds
        .iter()
        .map(|c| {
            (
                c.pointer("/spec/group")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                crate::object::name(c).to_string(),
                names_of(c.pointer("/status/acceptedNames").unwrap_or(&Value::Null)),
            )
        })
        .collect();
    for crd in &crds {
        let name = crate::object::name(crd).to_string();
        let group = crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut want = crd.clone();
        let spec_names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
        let others: Vec<Names> = accepted
            .iter()
            .filter(|(g, n, _)| *g == group && *n != name)
            .map(|(_, _, names)| Names {
                plural: names.plural.clone(),
                singular: names.singular.clone(),
                kind: names.kind.clone(),
                list_kind: names.list_kind.clone(),
                short: names.short.clone(),
            })
            .collect();
        match conflict(&names_of(&spec_names), &others) {
            None => {
                crate::strategy::set_path(
                    &mut want,
                    &["status", "acceptedNames"],
                    spec_names.clone(),
                );
                set_condition(
                    &mut want,
                    "NamesAccepted",
                    "True",
                    "NoConflicts",
                    "no conflicts found",
                );
                set_condition(
                    &mut want,
                    "Established",
                    "True",
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                );
                if let Some(e) = accepted.iter_mut().find(|(_, n, _)| *n == name) {
                    e.2 = names_of(&spec_names);
                }
            }
            Some((reason, message)) => {
                set_condition(&mut want, "NamesAccepted", "False", reason, &message);
                if !condition_true(crd, "Established") {
                    set_condition(
                        &mut want,
                        "Established",
                        "False",
                        "NotAccepted",
                        "not all names are accepted",
                    );
                }
            }
        }
        let deleting = meta(crd).is_some_and(|m| m.contains_key("deletionTimestamp"));
        if condition_true(&want, "Established") {
            k3rs_apis::crd::register(&want);
        } else {
            k3rs_apis::crd::unregister(&name);
        }
        if want.get("status") != crd.get("status") {
            let status = want.get("status").cloned();
            let r = api
                .update_with(res, None, &name, Some("status"), false, |cur| {
                    let mut new = cur.clone();
                    if let Some(s) = &status {
                        new["status"] = s.clone();
                    }
                    Ok(new)
                })
                .await;
            if let Err(e) = r {
                if e.code != 404 {
                    tracing::warn!(crd = %name, error = %e.message, "CRD controller: status update failed");
                    pending = true;
                }
                continue;
            }
        }
        if deleting && has_cleanup_finalizer(crd) {
            match delete_instances(api, &want).await {
                Ok(true) => {
                    k3rs_apis::crd::unregister(&name);
                    let r = api
                        .update_with(res, None, &name, None, false, |cur| {
                            let mut new = cur.clone();
                            if let Some(f) = new
                                .pointer_mut("/metadata/finalizers")
                                .and_then(Value::as_array_mut)
                            {
                                f.retain(|x| x != CLEANUP_FINALIZER);
                            }
                            Ok(new)
                        })
                        .await;
                    if let Err(e) = r {
                        if e.code != 404 {
                            pending = true;
                        }
                    }
                }
                Ok(false) => pending = true,
                Err(e) => {
                    tracing::warn!(crd = %name, error = %e.message, "CRD controller: deleting custom resources failed");
                    pending = true;
                }
            }
        }
    }
    Ok(pending)
}

fn has_cleanup_finalizer(crd: &Value) -> bool {
    meta(crd)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x == CLEANUP_FINALIZER))
}

/// Deletes the custom resources of a terminating CRD; true once none is left.
async fn delete_instances(api: &Api, crd: &Value) -> ApiResult<bool> {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let plural = crd
        .pointer("/status/acceptedNames/plural")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .or_else(|| crd.pointer("/spec/names/plural").and_then(Value::as_str))
        .unwrap_or_default();
    // Every version shares one storage location; any served version reads it. The storage
    // version first: its objects need no conversion (no conversion webhook call).
    let mut versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    versions.sort_by_key(|v| v.get("storage").and_then(Value::as_bool) != Some(true));
    let Some(res) = versions
        .iter()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .find_map(|v| registry::find(group, v, plural).filter(|r| r.plural == plural))
    else {
        // Nothing served: nothing this server can read back (see the module docs).
        return Ok(true);
    };
    let list = api.list(res, None, &ListParams::default()).await?;
    let items = list
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.is_empty() {
        return Ok(true);
    }
    for item in &items {
        if meta(item).is_some_and(|m| m.contains_key("deletionTimestamp")) {
            continue;
        }
        let ns = meta_str(item, "namespace");
        let name = crate::object::name(item);
        match api.delete(res, ns, name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let left = api.list(res, None, &ListParams::default()).await?;
    Ok(left
        .get("items")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_conflicts_as_upstream() {
        let a = names_of(
            &json!({"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"]}),
        );
        let b = names_of(
            &json!({"plural": "gadgets", "singular": "gadget", "kind": "Widget", "listKind": "GadgetList"}),
        );
        assert_eq!(
            conflict(&b, std::slice::from_ref(&a)),
            Some(("KindConflict", "\"Widget\" is already in use".to_string()))
        );
        let c = names_of(
            &json!({"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo", "listKind": "GizmoList", "shortNames": ["wd"]}),
        );
        assert_eq!(conflict(&c, &[a]).map(|c| c.0), Some("ShortNamesConflict"));
        assert_eq!(conflict(&c, &[]), None);
    }
}
