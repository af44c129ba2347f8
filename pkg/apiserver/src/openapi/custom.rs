//! OpenAPI v3 documents of custom resources (`/openapi/v3/apis/<group>/<version>`), built from
//! the served CRDs' schemas and published through [`super::OpenApi::set_group_version`], so
//! `kubectl explain <kind>` and kubectl's field validation see them. Refreshed lazily: a request
//! for an OpenAPI document first republishes when the CRD registry changed since the last time.
//!
//! Not done: custom resources in `/openapi/v2` (kubectl ≤ 1.28 validates against v2 and finds no
//! schema for them; it then skips client-side validation).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

use k3rs_apis::crd::CrdSchema;
use k3rs_apis::registry;

use super::{gv_key, paths, service, v3, ResourceInfo, SubresourceInfo};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
const API_VERSION_DESC: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESC: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// Upstream's definition name of a custom resource kind: the group's labels reversed, then the
/// version and kind (`com.example.stable.v1.CronTab`).
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let rev: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", rev.join("."))
}

/// The built-in (v2-form) definitions custom resource documents refer to (ObjectMeta, Status...).
fn base_definitions() -> &'static BTreeMap<String, Value> {
    static BASE: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    BASE.get_or_init(|| {
        serde_json::from_slice::<Value>(&service().built().v2_json.bytes)
            .ok()
            .and_then(|v| v.get("definitions").and_then(Value::as_object).cloned())
            .map(|m| m.into_iter().collect())
            .unwrap_or_default()
    })
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!([{"group": group, "kind": kind, "version": version}])
}

fn kind_definition(s: &CrdSchema) -> Value {
    let mut d = match &s.schema {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    };
    d["type"] = json!("object");
    if !d.get("properties").is_some_and(Value::is_object) {
        d["properties"] = json!({});
    }
    d["properties"]["apiVersion"] = json!({"description": API_VERSION_DESC, "type": "string"});
    d["properties"]["kind"] = json!({"description": KIND_DESC, "type": "string"});
    d["properties"]["metadata"] = json!({"$ref": format!("#/definitions/{OBJECT_META}")});
    d["x-kubernetes-group-version-kind"] = gvk(&s.group, &s.version, &s.kind);
    d
}

fn list_definition(s: &CrdSchema, item: &str) -> Value {
    json!({
        "description": format!("{}List is a list of {}", s.kind, s.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DESC, "type": "string"},
            "items": {
                "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", s.plural),
                "type": "array",
                "items": {"$ref": format!("#/definitions/{item}")},
            },
            "kind": {"description": KIND_DESC, "type": "string"},
            "metadata": {"$ref": format!("#/definitions/{LIST_META}")},
        },
        "x-kubernetes-group-version-kind": gvk(&s.group, &s.version, &format!("{}List", s.kind)),
    })
}

/// Custom resources take JSON merge and JSON patches and apply patches, not strategic merge.
fn strip_strategic_merge(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(c)) = m.get_mut("consumes") {
                c.retain(|t| t != "application/strategic-merge-patch+json");
            }
            m.values_mut().for_each(strip_strategic_merge);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_strategic_merge),
        _ => {}
    }
}

struct Published {
    generation: u64,
    keys: BTreeSet<String>,
}

fn published() -> &'static Mutex<Published> {
    static P: OnceLock<Mutex<Published>> = OnceLock::new();
    P.get_or_init(|| {
        Mutex::new(Published {
            generation: 0,
            keys: BTreeSet::new(),
        })
    })
}

/// Whether the published documents are older than the CRD registry.
pub fn stale() -> bool {
    let p = published().lock().unwrap_or_else(|e| e.into_inner());
    p.generation != k3rs_apis::crd::generation()
}

/// Rebuilds and publishes the documents of every served custom resource group version and
/// withdraws the ones no longer served. Blocking (the first call builds the built-in documents).
pub fn refresh() {
    let mut p = published().lock().unwrap_or_else(|e| e.into_inner());
    let generation = k3rs_apis::crd::generation();
    if p.generation == generation {
        return;
    }
    let crs = k3rs_apis::crd::schemas();
    let mut defs = base_definitions().clone();
    let mut by_gv: BTreeMap<(String, String), Vec<ResourceInfo>> = BTreeMap::new();
    for s in &crs {
        let Some(res) =
            registry::find(&s.group, &s.version, &s.plural).filter(|r| r.plural == s.plural)
        else {
            continue;
        };
        let def = definition_name(&s.group, &s.version, &s.kind);
        let list_def = format!("{def}List");
        defs.insert(def.clone(), kind_definition(s));
        defs.insert(list_def.clone(), list_definition(s, &def));
        let subresources = res
            .subresources
            .iter()
            .map(|sub| {
                let scale = sub.name == "scale";
                SubresourceInfo {
                    name: sub.name.to_string(),
                    verbs: sub.verbs.iter().map(|v| v.to_string()).collect(),
                    group: if scale {
                        "autoscaling".into()
                    } else {
                        s.group.clone()
                    },
                    version: if scale {
                        "v1".into()
                    } else {
                        s.version.clone()
                    },
                    kind: if scale {
                        "Scale".into()
                    } else {
                        s.kind.clone()
                    },
                    definition: if scale {
                        SCALE.to_string()
                    } else {
                        def.clone()
                    },
                }
            })
            .collect();
        by_gv
            .entry((s.group.clone(), s.version.clone()))
            .or_default()
            .push(ResourceInfo {
                group: s.group.clone(),
                version: s.version.clone(),
                kind: s.kind.clone(),
                plural: s.plural.clone(),
                namespaced: s.namespaced,
                verbs: res.verbs.iter().map(|v| v.to_string()).collect(),
                definition: def,
                list_definition: Some(list_def),
                subresources,
            });
    }
    let mut keys = BTreeSet::new();
    for ((g, v), resources) in &by_gv {
        let mut gv_paths = paths::group_version_paths(g, v, resources);
        for item in gv_paths.values_mut() {
            strip_strategic_merge(item);
        }
        let doc = v3::document(&gv_paths, &defs);
        let key = gv_key(g, v);
        service().set_group_version(&key, &doc);
        keys.insert(key);
    }
    for old in p.keys.difference(&keys) {
        service().remove_group_version(old);
    }
    p.keys = keys;
    p.generation = generation;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_resource_documents() {
        assert_eq!(
            definition_name("stable.example.com", "v1", "CronTab"),
            "com.example.stable.v1.CronTab"
        );
        k3rs_apis::crd::register(&json!({
            "metadata": {"name": "gizmos.oa.example.com"},
            "spec": {"group": "oa.example.com", "scope": "Namespaced",
                "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo", "listKind": "GizmoList"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"size": {"type": "integer", "description": "how big"}}}}}}}]}
        }));
        refresh();
        let key = gv_key("oa.example.com", "v1");
        let served = service().serve(&format!("/openapi/v3/{key}"), None, None, None, None);
        let super::super::Served::Ok { body, .. } = served else {
            panic!("no document for {key}: {served:?}");
        };
        let doc: Value = serde_json::from_slice(&body).unwrap();
        let schema = &doc["components"]["schemas"]["com.example.oa.v1.Gizmo"];
        assert_eq!(
            schema["properties"]["spec"]["properties"]["size"]["type"],
            "integer"
        );
        assert_eq!(
            schema["x-kubernetes-group-version-kind"],
            json!([{"group": "oa.example.com", "kind": "Gizmo", "version": "v1"}])
        );
        assert!(doc["components"]["schemas"][OBJECT_META].is_object());
        let patch =
            &doc["paths"]["/apis/oa.example.com/v1/namespaces/{namespace}/gizmos/{name}"]["patch"];
        let types: Vec<&String> = patch["requestBody"]["content"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert!(!types.is_empty(), "{patch}");
        assert!(!types.iter().any(|t| t.contains("strategic")), "{types:?}");
        k3rs_apis::crd::unregister("gizmos.oa.example.com");
        refresh();
        assert!(matches!(
            service().serve(&format!("/openapi/v3/{key}"), None, None, None, None),
            super::super::Served::NotFound
        ));
    }
}
