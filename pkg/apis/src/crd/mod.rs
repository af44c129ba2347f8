//! Custom resources: the runtime registry of what established CustomResourceDefinitions serve,
//! and the structural-schema operations (validation, pruning, defaulting) applied to their objects.
//!
//! The registry is process-global and lock-protected. Routing ([`crate::registry::find`]),
//! discovery ([`crate::registry::groups`], [`crate::registry::all`]) and the generic REST store
//! consult it after the built-ins. Each served version becomes a [`Resource`] record with
//! `&'static` fields: its strings are leaked with `Box::leak`, cached by the record's content, so
//! re-establishing a CRD with the same names (a restart of the controller, a status update, a
//! schema change) reuses the record. The leak is bounded by the number of distinct
//! (group, version, names, scope, subresources) combinations ever served by this process — a few
//! hundred bytes each.

pub mod apply;
pub mod cel;
pub mod schema;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use serde_json::Value;

use crate::registry::{Resource, Sub, GPU};

/// The finalizer every CRD gets at create; removed by the CRD controller once its custom
/// resources are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// Upstream's verbs of a custom resource, in upstream's discovery order.
pub const CR_VERBS: &[&str] = &[
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
];

/// One `additionalPrinterColumns` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// The `scale` subresource's paths, as JSON pointers (`/spec/replicas`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

/// One served version of a custom resource.
#[derive(Debug)]
pub struct CustomResource {
    pub res: &'static Resource,
    /// The CRD's name (`<plural>.<group>`).
    pub crd: String,
    pub storage_version: String,
    /// `schema.openAPIV3Schema` of this version.
    pub schema: Option<Value>,
    /// The list kind (`names.listKind`, `<Kind>List` when unset).
    pub list_kind: String,
    /// The version's own `selectableFields` (their `jsonPath` without the leading dot).
    pub selectable_fields: Vec<String>,
    pub columns: Vec<PrinterColumn>,
    pub scale: Option<ScalePaths>,
    /// Field-selectable paths (`metadata.name`, `metadata.namespace`, then `selectableFields`).
    pub selectable: Vec<String>,
    /// The CRD is being deleted: no new objects.
    pub terminating: bool,
    /// The compiled `x-kubernetes-validations` rules of the schema (`None` without rules).
    pub rules: Option<Arc<cel::Validator>>,
    /// `spec.conversion.webhook` (`clientConfig`, `conversionReviewVersions`) when the CRD's
    /// versions are converted by a webhook (`strategy: Webhook`); `None` for strategy `None`.
    pub conversion_webhook: Option<Value>,
}

/// What the OpenAPI publisher needs of one served custom resource version.
#[derive(Debug, Clone)]
pub struct CrdSchema {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub namespaced: bool,
    pub schema: Option<Value>,
    pub has_status: bool,
    pub has_scale: bool,
    /// The version's declared `selectableFields` (`spec.color`).
    pub selectable_fields: Vec<String>,
}

#[derive(Default)]
struct State {
    served: Vec<Arc<CustomResource>>,
    leaked: HashMap<String, &'static Resource>,
    /// Bumped on every change (for caches of derived documents).
    generation: u64,
}

fn state() -> &'static RwLock<State> {
    static S: OnceLock<RwLock<State>> = OnceLock::new();
    S.get_or_init(Default::default)
}

fn read() -> std::sync::RwLockReadGuard<'static, State> {
    state().read().unwrap_or_else(|e| e.into_inner())
}

fn write() -> std::sync::RwLockWriteGuard<'static, State> {
    state().write().unwrap_or_else(|e| e.into_inner())
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `.spec.replicas` → `/spec/replicas` (simple paths only; `None` for anything else).
pub fn json_path_pointer(path: &str) -> Option<String> {
    let p = path.trim();
    let p = p
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(p);
    let p = p.strip_prefix('.')?;
    let mut out = String::new();
    for seg in p.split('.') {
        if seg.is_empty() {
            return None;
        }
        // `a[0]` → `/a/0`
        let (name, rest) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg, ""),
        };
        if !name.is_empty() {
            out.push('/');
            out.push_str(&name.replace('~', "~0").replace('/', "~1"));
        }
        let mut rest = rest;
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let idx = &r[..end];
            if idx.parse::<usize>().is_err() {
                return None;
            }
            out.push('/');
            out.push_str(idx);
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// The names a CRD is served under: `status.acceptedNames` once the controller accepted them,
/// else `spec.names`.
fn served_names(crd: &Value) -> &Value {
    match crd.pointer("/status/acceptedNames") {
        Some(n)
            if n.get("plural")
                .and_then(Value::as_str)
                .is_some_and(|p| !p.is_empty()) =>
        {
            n
        }
        _ => crd.pointer("/spec/names").unwrap_or(&Value::Null),
    }
}

/// Registers (or re-registers) the served versions of an established CRD, replacing what it
/// served before. A CRD that serves nothing (or is malformed) is unregistered.
pub fn register(crd: &Value) {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let names = served_names(crd);
    let s = |k: &str| names.get(k).and_then(Value::as_str).unwrap_or_default();
    let (kind, plural) = (s("kind"), s("plural"));
    let list_kind = match s("listKind") {
        "" => format!("{kind}List"),
        x => x.to_string(),
    };
    let singular = match s("singular") {
        "" => kind.to_ascii_lowercase(),
        x => x.to_string(),
    };
    let short_names = strs(names.get("shortNames"));
    let categories = strs(names.get("categories"));
    let namespaced = crd.pointer("/spec/scope").and_then(Value::as_str) == Some("Namespaced");
    let terminating = crd.pointer("/metadata/deletionTimestamp").is_some();
    let conversion_webhook = match crd.pointer("/spec/conversion/strategy") {
        Some(Value::String(s)) if s == "Webhook" => Some(
            crd.pointer("/spec/conversion/webhook")
                .cloned()
                .unwrap_or(Value::Null),
        ),
        _ => None,
    };
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage_version = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut st = write();
    // Compiled rules are reused while a version's schema stays the same (the CRD controller
    // re-registers on every status change).
    let previous: Vec<(String, Option<Value>, Option<Arc<cel::Validator>>)> = st
        .served
        .iter()
        .filter(|c| c.crd == name)
        .map(|c| (c.res.version.to_string(), c.schema.clone(), c.rules.clone()))
        .collect();
    st.served.retain(|c| c.crd != name);
    st.generation += 1;
    if name.is_empty() || group.is_empty() || kind.is_empty() || plural.is_empty() {
        return;
    }
    if crate::registry::is_builtin_group(group) {
        // Built-in groups are served by the built-ins only.
        return;
    }
    for v in &versions {
        if v.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let Some(version) = v
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let has_status = v.pointer("/subresources/status").is_some();
        let scale = v.pointer("/subresources/scale").and_then(|sc| {
            let p = |k: &str| {
                sc.get(k)
                    .and_then(Value::as_str)
                    .and_then(json_path_pointer)
            };
            Some(ScalePaths {
                spec_replicas: p("specReplicasPath")?,
                status_replicas: p("statusReplicasPath")?,
                label_selector: p("labelSelectorPath"),
            })
        });
        let cache_key = format!(
            "{group}|{version}|{kind}|{plural}|{singular}|{short_names:?}|{categories:?}|{namespaced}|{has_status}|{}",
            scale.is_some()
        );
        let res = match st.leaked.get(&cache_key) {
            Some(r) => *r,
            None => {
                let kind_s = leak(kind);
                let mut subs = Vec::new();
                if scale.is_some() {
                    subs.push(Sub {
                        name: "scale",
                        group: "autoscaling",
                        version: "v1",
                        kind: "Scale",
                        verbs: GPU,
                    });
                }
                if has_status {
                    subs.push(Sub {
                        name: "status",
                        group: "",
                        version: "",
                        kind: kind_s,
                        verbs: GPU,
                    });
                }
                let shorts: Vec<&'static str> = short_names.iter().map(|s| leak(s)).collect();
                let cats: Vec<&'static str> = categories.iter().map(|s| leak(s)).collect();
                let r: &'static Resource = Box::leak(Box::new(Resource {
                    group: leak(group),
                    version: leak(version),
                    kind: kind_s,
                    plural: leak(plural),
                    singular: leak(&singular),
                    namespaced,
                    verbs: CR_VERBS,
                    short_names: Box::leak(shorts.into_boxed_slice()),
                    categories: Box::leak(cats.into_boxed_slice()),
                    subresources: Box::leak(subs.into_boxed_slice()),
                }));
                st.leaked.insert(cache_key, r);
                r
            }
        };
        let columns = printer_columns(v);
        let mut selectable = vec!["metadata.name".to_string()];
        if namespaced {
            selectable.push("metadata.namespace".to_string());
        }
        let mut selectable_fields = Vec::new();
        if let Some(fs) = v.get("selectableFields").and_then(Value::as_array) {
            for f in fs {
                if let Some(p) = f.get("jsonPath").and_then(Value::as_str) {
                    selectable_fields.push(p.trim_start_matches('.').to_string());
                }
            }
        }
        selectable.extend(selectable_fields.iter().cloned());
        let schema = v.pointer("/schema/openAPIV3Schema").cloned();
        let rules = match previous
            .iter()
            .find(|(ver, s, _)| ver == version && *s == schema)
        {
            Some((_, _, r)) => r.clone(),
            None => schema.as_ref().and_then(cel::Validator::new).map(Arc::new),
        };
        st.served.push(Arc::new(CustomResource {
            res,
            crd: name.clone(),
            storage_version: storage_version.clone(),
            rules,
            schema,
            list_kind: list_kind.clone(),
            selectable_fields,
            columns,
            scale,
            selectable,
            terminating,
            conversion_webhook: conversion_webhook.clone(),
        }));
    }
}

fn printer_columns(v: &Value) -> Vec<PrinterColumn> {
    let cols = v
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if cols.is_empty() {
        // Upstream's default: the age.
        return vec![PrinterColumn {
            name: "Age".into(),
            type_: "date".into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        }];
    }
    cols.iter()
        .map(|c| {
            let s = |k: &str| {
                c.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            PrinterColumn {
                name: s("name"),
                type_: s("type"),
                format: s("format"),
                description: s("description"),
                priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                json_path: s("jsonPath"),
            }
        })
        .collect()
}

/// Stops serving everything the CRD called `crd_name` served.
pub fn unregister(crd_name: &str) {
    let mut st = write();
    st.served.retain(|c| c.crd != crd_name);
    st.generation += 1;
}

/// A counter bumped on every registry change.
pub fn generation() -> u64 {
    read().generation
}

/// Looks a custom resource up by group, version and plural (or singular, or short name).
pub fn find(group: &str, version: &str, resource: &str) -> Option<&'static Resource> {
    let st = read();
    let found = st.served.iter().find(|c| {
        let r = c.res;
        r.group == group
            && r.version == version
            && (r.plural == resource || r.singular == resource || r.short_names.contains(&resource))
    });
    found.map(|c| c.res)
}

/// What the registry knows of a served custom resource (`None` for built-ins and for versions
/// no longer served).
pub fn lookup(res: &Resource) -> Option<Arc<CustomResource>> {
    if !res.is_custom() {
        return None;
    }
    read()
        .served
        .iter()
        .find(|c| {
            c.res.group == res.group && c.res.version == res.version && c.res.plural == res.plural
        })
        .cloned()
}

/// Prunes the fields of a custom resource object (`apiVersion`, `kind` of a served version) that
/// its schema does not specify, returning their paths; `None` when the kind is not a custom
/// resource or has no schema.
pub fn prune_unknown(api_version: &str, kind: &str, obj: &mut Value) -> Option<Vec<String>> {
    let (group, version) = api_version.rsplit_once('/')?;
    let cr = read()
        .served
        .iter()
        .find(|c| c.res.group == group && c.res.version == version && c.res.kind == kind)
        .cloned()?;
    let schema = cr.schema.as_ref()?;
    Some(schema::prune_reporting(schema, obj))
}

/// The served custom resource records, grouped by group (groups by name), versions by upstream's
/// version priority.
pub fn resources() -> Vec<&'static Resource> {
    let st = read();
    let mut out: Vec<&'static Resource> = st.served.iter().map(|c| c.res).collect();
    out.sort_by(|a, b| {
        a.group
            .cmp(b.group)
            .then_with(|| compare_versions(a.version, b.version))
            .then_with(|| a.plural.cmp(b.plural))
    });
    out
}

/// The custom resource groups and their versions, the preferred version first.
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in resources() {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, vs)) => {
                if !vs.contains(&r.version) {
                    vs.push(r.version);
                }
            }
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// The schemas of every served custom resource version, for OpenAPI publishing.
pub fn schemas() -> Vec<CrdSchema> {
    read()
        .served
        .iter()
        .map(|c| CrdSchema {
            group: c.res.group.to_string(),
            version: c.res.version.to_string(),
            kind: c.res.kind.to_string(),
            list_kind: c.list_kind.clone(),
            plural: c.res.plural.to_string(),
            namespaced: c.res.namespaced,
            schema: c.schema.clone(),
            has_status: c.res.has_status(),
            has_scale: c.res.subresources.iter().any(|s| s.name == "scale"),
            selectable_fields: c.selectable_fields.clone(),
        })
        .collect()
}

/// A Kubernetes-style version (`v1`, `v2beta1`, `v1alpha3`): (major, stability, minor), where
/// stability is 2 for GA, 1 beta, 0 alpha.
fn kube_version(v: &str) -> Option<(u64, u8, u64)> {
    let rest = v.strip_prefix('v')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || rest.starts_with('0') {
        return None;
    }
    let major: u64 = rest[..digits].parse().ok()?;
    let tail = &rest[digits..];
    if tail.is_empty() {
        return Some((major, 2, 0));
    }
    let (stab, num) = if let Some(n) = tail.strip_prefix("beta") {
        (1, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (0, n)
    } else {
        return None;
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) || num.starts_with('0') {
        return None;
    }
    Some((major, stab, num.parse().ok()?))
}

/// Upstream's version priority (`CompareKubeAwareVersionStrings`), as an ordering where the
/// preferred version sorts first: GA > beta > alpha, higher numbers first, then non-Kubernetes
/// versions alphabetically.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (kube_version(a), kube_version(b)) {
        (Some((ma, sa, na)), Some((mb, sb, nb))) => sb.cmp(&sa).then(mb.cmp(&ma)).then(nb.cmp(&na)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_priority_as_upstream() {
        let mut vs = vec![
            "foo1",
            "v3beta1",
            "v10",
            "v11alpha2",
            "v1",
            "v12alpha1",
            "v2",
            "v10beta3",
            "v11beta2",
            "foo10",
        ];
        vs.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            vs,
            [
                "v10",
                "v2",
                "v1",
                "v11beta2",
                "v10beta3",
                "v3beta1",
                "v12alpha1",
                "v11alpha2",
                "foo1",
                "foo10"
            ]
        );
    }

    #[test]
    fn json_paths_to_pointers() {
        assert_eq!(
            json_path_pointer(".spec.replicas").as_deref(),
            Some("/spec/replicas")
        );
        assert_eq!(
            json_path_pointer(".status.conditions[0].type").as_deref(),
            Some("/status/conditions/0/type")
        );
        assert_eq!(json_path_pointer("spec").as_deref(), None);
        assert_eq!(json_path_pointer(".a[x]").as_deref(), None);
    }

    #[test]
    fn registering_twice_reuses_the_leaked_record() {
        let crd = json!({
            "metadata": {"name": "widgets.reg.example.com"},
            "spec": {"group": "reg.example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
                    {"name": "v2", "served": true, "storage": false},
                    {"name": "v3", "served": false, "storage": false}]}
        });
        register(&crd);
        let a = find("reg.example.com", "v1", "wd").unwrap();
        register(&crd);
        let b = find("reg.example.com", "v1", "widgets").unwrap();
        assert!(std::ptr::eq(a, b));
        assert!(a.has_status());
        assert!(find("reg.example.com", "v3", "widgets").is_none());
        assert_eq!(
            a.key(Some("ns"), "x"),
            "/registry/reg.example.com/widgets/ns/x"
        );
        let g = groups();
        let (_, vs) = g.iter().find(|(g, _)| *g == "reg.example.com").unwrap();
        assert_eq!(vs, &vec!["v2", "v1"]);
        unregister("widgets.reg.example.com");
        assert!(find("reg.example.com", "v1", "widgets").is_none());
    }
}
