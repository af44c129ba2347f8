//! OpenAPI of custom resources, built from the served CRD versions as upstream's
//! apiextensions-apiserver builds them (`controller/openapi/builder`): per served version a
//! definition named by the reversed group (`com.example.stable.v1.CronTab`, and `...CronTabList`)
//! holding the version's structural schema plus `apiVersion`, `kind` and `metadata`, and the
//! paths of its endpoints (collection, item, `status` and `scale` subresources) with upstream's
//! operations, parameters and responses.
//!
//! They are published twice: in `/openapi/v2` (Swagger 2.0, the schema converted as upstream does
//! for v2: no `nullable`, no `anyOf`..., children of values that preserve unknown fields
//! dropped; see [`super::structural`]), spliced into the built-in document by
//! [`super::OpenApi::set_custom_v2`]; and as one v3 document per group version
//! (`/openapi/v3/apis/<group>/<version>`) through [`super::OpenApi::set_group_version`].
//! Refreshed lazily: a request for an OpenAPI document first republishes when the CRD registry
//! changed since the last time; unchanged documents keep their ETags.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

use k3rs_apis::crd::CrdSchema;

use super::paths::{
    body_param, capitalize, delete_params, group_camel, join, list_params, ok, path_item,
    path_param, pretty, qparam, tag, valid_operation_id, watch_param, write_params, Op,
};
use super::schemas::{def_ref, DELETE_OPTIONS, PATCH, STATUS};
use super::structural::{self, metadata_ref};
use super::{gv_key, service, v3};

const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
const API_VERSION_DESC: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESC: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const LIST_METADATA_DESC: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// Upstream's definition name of a custom resource kind: the group's labels reversed, then the
/// version and kind (`com.example.stable.v1.CronTab`).
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let rev: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", rev.join("."))
}

/// The built-in definitions custom resource documents refer to (ObjectMeta, ListMeta, Status,
/// DeleteOptions, Patch, Scale and what they refer to), in their v2 form.
fn base_definitions() -> &'static BTreeMap<String, Value> {
    static BASE: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    BASE.get_or_init(|| {
        let all: BTreeMap<String, Value> =
            serde_json::from_slice::<Value>(&service().built().v2_json.bytes)
                .ok()
                .and_then(|v| v.get("definitions").and_then(Value::as_object).cloned())
                .map(|m| m.into_iter().collect())
                .unwrap_or_default();
        let roots = [
            structural::OBJECT_META,
            LIST_META,
            STATUS,
            DELETE_OPTIONS,
            PATCH,
            SCALE,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v3::closure(roots, &all)
            .into_iter()
            .filter_map(|n| all.get(&n).map(|d| (n, d.clone())))
            .collect()
    })
}

fn gvk_list(group: &str, version: &str, kind: &str) -> Value {
    json!([{"group": group, "kind": kind, "version": version}])
}

fn selectable(s: &CrdSchema) -> Option<Value> {
    (!s.selectable_fields.is_empty()).then(|| {
        Value::Array(
            s.selectable_fields
                .iter()
                .map(|f| json!({ "fieldPath": f }))
                .collect(),
        )
    })
}

/// The definition of a custom resource kind (v2 or v3 form; references are written in v2 form
/// either way, the v3 document converts them).
pub fn kind_definition(s: &CrdSchema, v2: bool) -> Value {
    let mut d = match &s.schema {
        Some(raw) => {
            let mut st = structural::structural(raw);
            if v2 && structural::preserves_unknown_at_root(&st) {
                // Anything more would make kubectl reject the fields the root preserves.
                json!({"type": "object"})
            } else {
                if v2 {
                    structural::to_v2(&mut st);
                } else {
                    structural::unfold(&mut st);
                }
                if let Some(m) = st.as_object_mut() {
                    let props = m.entry("properties").or_insert_with(|| json!({}));
                    if let Some(p) = props.as_object_mut() {
                        p.insert("metadata".into(), metadata_ref());
                        p.insert(
                            "apiVersion".into(),
                            json!({"description": API_VERSION_DESC, "type": "string"}),
                        );
                        p.insert(
                            "kind".into(),
                            json!({"description": KIND_DESC, "type": "string"}),
                        );
                    }
                }
                structural::add_embedded(&mut st, v2);
                st
            }
        }
        None => json!({"type": "object"}),
    };
    if v2 {
        structural::prune_defaults(&mut d);
    }
    d["x-kubernetes-group-version-kind"] = gvk_list(&s.group, &s.version, &s.kind);
    if let Some(f) = selectable(s) {
        d["x-kubernetes-selectable-fields"] = f;
    }
    d
}

/// The definition of a custom resource's list kind; `item` names the kind's definition.
pub fn list_definition(s: &CrdSchema, item: &str) -> Value {
    let mut d = json!({
        "description": format!("{} is a list of {}", s.list_kind, s.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DESC, "type": "string"},
            "items": {
                "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", s.plural),
                "type": "array",
                "items": def_ref(item),
            },
            "kind": {"description": KIND_DESC, "type": "string"},
            "metadata": {"$ref": format!("#/definitions/{LIST_META}"), "description": LIST_METADATA_DESC},
        },
        "x-kubernetes-group-version-kind": gvk_list(&s.group, &s.version, &s.list_kind),
    });
    if let Some(f) = selectable(s) {
        d["x-kubernetes-selectable-fields"] = f;
    }
    d
}

/// `a`/`an` before a kind, as upstream's API installer: none for kinds that look plural.
fn article(kind: &str) -> &'static str {
    if kind.ends_with('s') && !kind.ends_with("ss") {
        return " ";
    }
    match kind.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => " an ",
        _ => " a ",
    }
}

const CR_CONSUMES: &[&str] = &["application/json", "application/yaml"];
const CR_PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];
const CR_PRODUCES: &[&str] = &["application/json", "application/yaml"];

/// The paths of one custom resource version's endpoints, as upstream's CRD OpenAPI builder
/// publishes them; `def` and `list_def` name its definitions.
pub fn resource_paths(s: &CrdSchema, def: &str, list_def: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let tag = tag(&s.group, &s.version);
    let gv = group_camel(&s.group) + &valid_operation_id(&s.version, true);
    let gvk = json!({"group": s.group, "kind": s.kind, "version": s.version});
    let kind = &s.kind;
    let kind_id = valid_operation_id(kind, true);
    let scope = if s.namespaced { "Namespaced" } else { "" };
    let prefix = format!("/apis/{}/{}", s.group, s.version);
    let root = if s.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", s.plural)
    } else {
        format!("{prefix}/{}", s.plural)
    };
    let scope_params = || {
        if s.namespaced {
            vec![path_param(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            )]
        } else {
            vec![]
        }
    };
    let name_param = || path_param("name", &format!("name of the {kind}"));
    let list_options = || {
        let mut p = list_params(true);
        p.push(watch_param());
        p
    };
    let get_options = || {
        vec![qparam(
            "resourceVersion",
            "string",
            "The resource version to read at; unset reads the latest state.",
        )]
    };
    let op = |method: &'static str,
              action: &'static str,
              id: String,
              description: String,
              params: Vec<Value>,
              responses: Vec<(&'static str, Value)>| Op {
        method,
        action,
        id,
        description,
        params,
        consumes: Some(if method == "patch" {
            CR_PATCH_TYPES
        } else {
            CR_CONSUMES
        }),
        produces: CR_PRODUCES,
        responses,
    };
    let item = |path: String, ops: Vec<Op>| {
        let params = join(scope_params(), vec![pretty()]);
        let rendered: Vec<(&'static str, Value)> = ops
            .into_iter()
            .map(|o| {
                let mut o = o;
                o.params = join(params.clone(), o.params);
                o.render(&tag, Some(gvk.clone()))
            })
            .collect();
        (path, rendered)
    };
    let mut insert = |path: String, ops: Vec<(&'static str, Value)>| {
        // Parameters every operation takes go to the path (upstream's builder does the same).
        out.insert(path, path_item(vec![], ops));
    };

    if s.namespaced {
        let mut o = op(
            "get",
            "list",
            format!("list{gv}{kind_id}ForAllNamespaces"),
            format!("list objects of kind {kind}"),
            list_options(),
            vec![ok(list_def)],
        );
        o.params.push(pretty());
        insert(
            format!("{prefix}/{}", s.plural),
            vec![o.render(&tag, Some(gvk.clone()))],
        );
    }
    let (path, ops) = item(
        root.clone(),
        vec![
            op(
                "get",
                "list",
                format!("list{gv}{scope}{kind_id}"),
                format!("list objects of kind {kind}"),
                list_options(),
                vec![ok(list_def)],
            ),
            op(
                "post",
                "post",
                format!("create{gv}{scope}{kind_id}"),
                format!("create{}{kind}", article(kind)),
                join(vec![body_param(def)], write_params(false)),
                vec![
                    ok(def),
                    ("201", super::paths::response("Created", Some(def))),
                    ("202", super::paths::response("Accepted", Some(def))),
                ],
            ),
            op(
                "delete",
                "deletecollection",
                format!("delete{gv}Collection{scope}{kind_id}"),
                format!("delete collection of {kind}"),
                list_options(),
                vec![ok(STATUS)],
            ),
        ],
    );
    insert(path, ops);

    let with_name = |path: String, ops: Vec<Op>| {
        let (path, mut rendered) = item(path, ops);
        for (_, op) in rendered.iter_mut() {
            if let Some(Value::Array(p)) = op.get_mut("parameters") {
                p.insert(0, name_param());
            }
        }
        (path, rendered)
    };
    let mut delete_body = body_param(DELETE_OPTIONS);
    if let Some(o) = delete_body.as_object_mut() {
        o.remove("required");
    }
    let (path, ops) = with_name(
        format!("{root}/{{name}}"),
        vec![
            op(
                "get",
                "get",
                format!("read{gv}{scope}{kind_id}"),
                format!("read the specified {kind}"),
                get_options(),
                vec![ok(def)],
            ),
            op(
                "put",
                "put",
                format!("replace{gv}{scope}{kind_id}"),
                format!("replace the specified {kind}"),
                join(vec![body_param(def)], write_params(false)),
                vec![
                    ok(def),
                    ("201", super::paths::response("Created", Some(def))),
                ],
            ),
            op(
                "delete",
                "delete",
                format!("delete{gv}{scope}{kind_id}"),
                format!("delete{}{kind}", article(kind)),
                join(vec![delete_body], delete_params()),
                vec![
                    ok(STATUS),
                    ("202", super::paths::response("Accepted", Some(STATUS))),
                ],
            ),
            op(
                "patch",
                "patch",
                format!("patch{gv}{scope}{kind_id}"),
                format!("partially update the specified {kind}"),
                join(vec![body_param(PATCH)], write_params(true)),
                vec![ok(def)],
            ),
        ],
    );
    insert(path, ops);

    for (sub, sdef, present) in [("status", def, s.has_status), ("scale", SCALE, s.has_scale)] {
        if !present {
            continue;
        }
        let suffix = capitalize(sub);
        let (path, ops) = with_name(
            format!("{root}/{{name}}/{sub}"),
            vec![
                op(
                    "get",
                    "get",
                    format!("read{gv}{scope}{kind_id}{suffix}"),
                    format!("read {sub} of the specified {kind}"),
                    get_options(),
                    vec![ok(sdef)],
                ),
                op(
                    "put",
                    "put",
                    format!("replace{gv}{scope}{kind_id}{suffix}"),
                    format!("replace {sub} of the specified {kind}"),
                    join(vec![body_param(sdef)], write_params(false)),
                    vec![
                        ok(sdef),
                        ("201", super::paths::response("Created", Some(sdef))),
                    ],
                ),
                op(
                    "patch",
                    "patch",
                    format!("patch{gv}{scope}{kind_id}{suffix}"),
                    format!("partially update {sub} of the specified {kind}"),
                    join(vec![body_param(PATCH)], write_params(true)),
                    vec![ok(sdef)],
                ),
            ],
        );
        insert(path, ops);
    }
    out
}

/// A definition name not among `taken` (the built-in names): `name`, else `name_v2`,
/// `name_v3`... as upstream's merge renames conflicting models.
fn free_name(name: String, taken: &HashSet<String>) -> String {
    if !taken.contains(&name) {
        return name;
    }
    (2..)
        .map(|i| format!("{name}_v{i}"))
        .find(|n| !taken.contains(n))
        .unwrap_or(name)
}

/// What one refresh publishes.
#[derive(Default, PartialEq)]
struct Documents {
    v2_definitions: BTreeMap<String, Value>,
    v2_paths: BTreeMap<String, Value>,
    /// v3 documents by [`gv_key`].
    v3: BTreeMap<String, Value>,
}

/// The documents of these served custom resource versions.
fn documents(mut crs: Vec<CrdSchema>, builtin_names: &HashSet<String>) -> Documents {
    crs.sort_by(|a, b| (&a.group, &a.version, &a.plural).cmp(&(&b.group, &b.version, &b.plural)));
    let mut docs = Documents::default();
    // Per group version: its paths and definitions.
    let mut by_gv: BTreeMap<(String, String), [BTreeMap<String, Value>; 2]> = BTreeMap::new();
    for s in &crs {
        let def = definition_name(&s.group, &s.version, &s.kind);
        let list_def = definition_name(&s.group, &s.version, &s.list_kind);
        // v2: one document with the built-in definitions, which keep their names.
        let def2 = free_name(def.clone(), builtin_names);
        let list2 = free_name(list_def.clone(), builtin_names);
        docs.v2_definitions
            .insert(def2.clone(), kind_definition(s, true));
        docs.v2_definitions
            .insert(list2.clone(), list_definition(s, &def2));
        docs.v2_paths.extend(resource_paths(s, &def2, &list2));
        // v3: a document per group version.
        let [paths, defs] = by_gv
            .entry((s.group.clone(), s.version.clone()))
            .or_default();
        defs.insert(def.clone(), kind_definition(s, false));
        defs.insert(list_def.clone(), list_definition(s, &def));
        paths.extend(resource_paths(s, &def, &list_def));
    }
    for ((g, v), [paths, mut defs]) in by_gv {
        for (n, d) in base_definitions() {
            defs.entry(n.clone()).or_insert_with(|| d.clone());
        }
        let mut doc = v3::document(&paths, &defs);
        doc["info"] = json!({"title": "Kubernetes CRD Swagger", "version": "v0.1.0"});
        docs.v3.insert(gv_key(&g, &v), doc);
    }
    docs
}

struct Published {
    generation: u64,
    docs: Documents,
}

fn published() -> &'static Mutex<Published> {
    static P: OnceLock<Mutex<Published>> = OnceLock::new();
    P.get_or_init(|| {
        Mutex::new(Published {
            generation: 0,
            docs: Documents::default(),
        })
    })
}

/// Whether the published documents are older than the CRD registry.
pub fn stale() -> bool {
    let p = published().lock().unwrap_or_else(|e| e.into_inner());
    p.generation != k3rs_apis::crd::generation()
}

/// Rebuilds the documents of every served custom resource version and publishes what changed:
/// the v2 document, and the v3 documents of group versions (withdrawing those no longer
/// served). Blocking (the first call builds the built-in documents).
pub fn refresh() {
    let mut p = published().lock().unwrap_or_else(|e| e.into_inner());
    let generation = k3rs_apis::crd::generation();
    if p.generation == generation {
        return;
    }
    let docs = documents(
        k3rs_apis::crd::schemas(),
        &service().built().definition_names,
    );
    if docs.v2_definitions != p.docs.v2_definitions || docs.v2_paths != p.docs.v2_paths {
        service().set_custom_v2(&docs.v2_definitions, &docs.v2_paths);
    }
    for (key, doc) in &docs.v3 {
        if p.docs.v3.get(key) != Some(doc) {
            service().set_group_version(key, doc);
        }
    }
    let gone: BTreeSet<&String> = p
        .docs
        .v3
        .keys()
        .filter(|k| !docs.v3.contains_key(*k))
        .collect();
    for old in gone {
        service().remove_group_version(old);
    }
    p.docs = docs;
    p.generation = generation;
}
