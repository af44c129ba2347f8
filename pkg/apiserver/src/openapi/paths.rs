//! OpenAPI v2 path items for served resources: one operation per verb the resource serves, named,
//! tagged and annotated (`x-kubernetes-action`, `x-kubernetes-group-version-kind`) as upstream's
//! API installer does, with the query parameters the server understands.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::schemas::{def_ref, API_RESOURCE_LIST, DELETE_OPTIONS, PATCH, STATUS, WATCH_EVENT};

/// A subresource as published in OpenAPI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubresourceInfo {
    pub name: String,
    pub verbs: Vec<String>,
    /// Group/version/kind of the subresource's object.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// Its definition, `io.k8s.api.autoscaling.v1.Scale`.
    pub definition: String,
}

/// A resource as published in OpenAPI. Built from the registry for built-ins; custom resources
/// can build their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub definition: String,
    /// The list kind's definition; `None` for kinds that are only created (the review kinds),
    /// which get no list, watch or deletecollection paths.
    pub list_definition: Option<String>,
    pub subresources: Vec<SubresourceInfo>,
}

impl ResourceInfo {
    fn has(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

/// Media types responses are served in.
pub const PRODUCES: &[&str] = &["application/json", "application/yaml"];
/// Media types of watch streams.
pub const PRODUCES_WATCH: &[&str] = &["application/json", "application/json;stream=watch"];
/// Patch media types, as upstream publishes them (kubectl ≥ 1.29 computes `apply` patches from
/// OpenAPI v3 only when `application/strategic-merge-patch+json` is listed).
pub const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

/// `/api/v1` or `/apis/<group>/<version>`.
pub fn gv_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// Upstream's `ToValidOperationID`: letters, `_` and (not first) digits are kept, anything else
/// dropped and the next kept character upper-cased (so is the first with `capitalize_first`).
pub fn valid_operation_id(s: &str, capitalize_first: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut capitalize = capitalize_first;
    for (i, c) in s.chars().enumerate() {
        if c.is_alphabetic() || c == '_' || (i != 0 && c.is_numeric()) {
            if capitalize {
                out.extend(c.to_uppercase());
                capitalize = false;
            } else {
                out.push(c);
            }
        } else {
            capitalize = true;
        }
    }
    out
}

/// `Core`, `Apps`, `RbacAuthorization`, `FlowcontrolApiserver`, `StableExampleCom`: the group
/// part of operation ids.
pub fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    valid_operation_id(group.strip_suffix(".k8s.io").unwrap_or(group), true)
}

pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `core_v1`, `apps_v1`, `rbacAuthorization_v1`: the tag of a group version's operations.
pub fn tag(group: &str, version: &str) -> String {
    let camel = group_camel(group);
    let mut c = camel.chars();
    let lower: String = match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    };
    format!("{lower}_{version}")
}

pub(crate) fn qparam(name: &str, ty: &str, description: &str) -> Value {
    json!({"description": description, "in": "query", "name": name, "type": ty, "uniqueItems": true})
}

pub(crate) fn path_param(name: &str, description: &str) -> Value {
    json!({"description": description, "in": "path", "name": name, "required": true, "type": "string", "uniqueItems": true})
}

pub(crate) fn body_param(definition: &str) -> Value {
    json!({"in": "body", "name": "body", "required": true, "schema": def_ref(definition)})
}

pub(crate) fn pretty() -> Value {
    qparam(
        "pretty",
        "string",
        "If 'true', the output is indented for reading.",
    )
}

pub(crate) fn write_params(patch: bool) -> Vec<Value> {
    let mut v = vec![
        qparam("dryRun", "string", "If 'All', the request is validated and processed but nothing is persisted."),
        qparam("fieldManager", "string", "The name of the actor making the change, recorded in managedFields. At most 128 printable characters."),
        qparam("fieldValidation", "string", "What to do with unknown or duplicate fields in the body: 'Ignore' drops them, 'Warn' drops them and returns a warning for each, 'Strict' fails the request."),
    ];
    if patch {
        v.push(qparam(
            "force",
            "boolean",
            "Apply requests only: take over fields owned by other managers instead of failing on conflicts.",
        ));
    }
    v
}

pub(crate) fn delete_params() -> Vec<Value> {
    vec![
        qparam("dryRun", "string", "If 'All', the request is validated and processed but nothing is persisted."),
        qparam("gracePeriodSeconds", "integer", "Seconds to wait before the object is deleted; 0 deletes at once. Unset uses the kind's default."),
        qparam("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean", "Delete an object even if it cannot be read from storage. Unsafe."),
        qparam("orphanDependents", "boolean", "Deprecated; use propagationPolicy. If true, dependents are orphaned."),
        qparam("propagationPolicy", "string", "How dependents are garbage collected: 'Orphan', 'Background' or 'Foreground'."),
    ]
}

pub(crate) fn list_params(watch_bookmarks: bool) -> Vec<Value> {
    let mut v = Vec::new();
    if watch_bookmarks {
        v.push(qparam(
            "allowWatchBookmarks",
            "boolean",
            "Watch only: ask for BOOKMARK events, which the server may send at any time.",
        ));
    }
    v.extend([
        qparam("continue", "string", "The continue token of the previous page of a paged list."),
        qparam("fieldSelector", "string", "Restricts the objects returned to those whose fields match."),
        qparam("labelSelector", "string", "Restricts the objects returned to those whose labels match."),
        qparam("limit", "integer", "The largest number of objects to return; the rest can be fetched with the continue token."),
        qparam("resourceVersion", "string", "The resource version the list or watch starts from; see resourceVersionMatch."),
        qparam("resourceVersionMatch", "string", "How resourceVersion is compared: 'Exact' or 'NotOlderThan'."),
        qparam("sendInitialEvents", "boolean", "Watch only: start with synthetic ADDED events for the current state."),
        qparam("timeoutSeconds", "integer", "Ends the list or watch call after this many seconds."),
    ]);
    v
}

pub(crate) fn watch_param() -> Value {
    qparam(
        "watch",
        "boolean",
        "Watch for changes and stream them as add, update and remove notifications.",
    )
}

pub(crate) fn response(description: &str, definition: Option<&str>) -> Value {
    match definition {
        Some(d) => json!({"description": description, "schema": def_ref(d)}),
        None => json!({"description": description}),
    }
}

pub(crate) fn ok(def: &str) -> (&'static str, Value) {
    ("200", response("OK", Some(def)))
}
pub(crate) fn created(def: &str) -> (&'static str, Value) {
    ("201", response("Created", Some(def)))
}
pub(crate) fn accepted(def: &str) -> (&'static str, Value) {
    ("202", response("Accepted", Some(def)))
}

/// One operation.
pub(crate) struct Op {
    pub method: &'static str,
    pub action: &'static str,
    pub id: String,
    pub description: String,
    pub params: Vec<Value>,
    pub consumes: Option<&'static [&'static str]>,
    pub produces: &'static [&'static str],
    pub responses: Vec<(&'static str, Value)>,
}

/// Media types of list responses, which can also be watched.
const PRODUCES_LIST: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/json;stream=watch",
];

/// `base` followed by `extra`.
pub(crate) fn join(mut base: Vec<Value>, extra: Vec<Value>) -> Vec<Value> {
    base.extend(extra);
    base
}

impl Op {
    /// `get` of a list of `list_def`.
    fn list(id: String, description: String, params: Vec<Value>, list_def: &str) -> Op {
        Op {
            method: "get",
            action: "list",
            id,
            description,
            params,
            consumes: None,
            produces: PRODUCES_LIST,
            responses: vec![ok(list_def)],
        }
    }

    /// `get` of one `def`.
    fn read(id: String, description: String, def: &str) -> Op {
        Op {
            method: "get",
            action: "get",
            id,
            description,
            params: vec![],
            consumes: None,
            produces: PRODUCES,
            responses: vec![ok(def)],
        }
    }

    /// `post` of a `def`.
    fn create(id: String, description: String, def: &str) -> Op {
        Op {
            method: "post",
            action: "post",
            id,
            description,
            params: join(vec![body_param(def)], write_params(false)),
            consumes: Some(&["*/*"]),
            produces: PRODUCES,
            responses: vec![ok(def), created(def), accepted(def)],
        }
    }

    /// `put` of a `def`.
    fn replace(id: String, description: String, def: &str) -> Op {
        Op {
            method: "put",
            action: "put",
            id,
            description,
            params: join(vec![body_param(def)], write_params(false)),
            consumes: Some(&["*/*"]),
            produces: PRODUCES,
            responses: vec![ok(def), created(def)],
        }
    }

    /// `patch` of a `def`.
    fn patch(id: String, description: String, def: &str) -> Op {
        Op {
            method: "patch",
            action: "patch",
            id,
            description,
            params: join(vec![body_param(PATCH)], write_params(true)),
            consumes: Some(PATCH_TYPES),
            produces: PRODUCES,
            responses: vec![ok(def), created(def)],
        }
    }

    pub(crate) fn render(self, tag: &str, gvk: Option<Value>) -> (&'static str, Value) {
        let mut responses = Map::new();
        for (code, r) in self.responses {
            responses.insert(code.to_string(), r);
        }
        responses.insert("401".into(), json!({"description": "Unauthorized"}));
        let mut op = json!({
            "description": self.description,
            "operationId": self.id,
            "produces": self.produces,
            "responses": responses,
            "schemes": ["https"],
            "tags": [tag],
            "x-kubernetes-action": self.action,
        });
        if !self.params.is_empty() {
            op["parameters"] = Value::Array(self.params);
        }
        if let Some(c) = self.consumes {
            op["consumes"] = json!(c);
        }
        if let Some(g) = gvk {
            op["x-kubernetes-group-version-kind"] = g;
        }
        (self.method, op)
    }
}

/// Name and location of a parameter: what makes two parameters the same one.
fn param_key(p: &Value) -> (String, String) {
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    (s("name"), s("in"))
}

fn sort_params(params: &mut [Value]) {
    params.sort_by_key(param_key);
}

/// A path item of `ops` with the path-level `params`. As upstream's OpenAPI builder does, a
/// non-body parameter every operation of the path takes is published once, on the path, and
/// parameters are sorted by name (then location).
pub(crate) fn path_item(mut params: Vec<Value>, mut ops: Vec<(&'static str, Value)>) -> Value {
    let op_params =
        |op: &Value| -> Vec<Value> { op["parameters"].as_array().cloned().unwrap_or_default() };
    let shared: Vec<Value> = match ops.first() {
        Some((_, first)) => op_params(first)
            .into_iter()
            .filter(|p| p["in"] != "body")
            .filter(|p| {
                ops.iter()
                    .all(|(_, op)| op_params(op).iter().any(|q| q == p))
            })
            .collect(),
        None => Vec::new(),
    };
    for (_, op) in ops.iter_mut() {
        let Some(o) = op.as_object_mut() else {
            continue;
        };
        let mut own: Vec<Value> = o
            .remove("parameters")
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !shared.contains(p))
            .collect();
        sort_params(&mut own);
        if !own.is_empty() {
            o.insert("parameters".into(), Value::Array(own));
        }
    }
    for p in shared {
        if !params.iter().any(|q| param_key(q) == param_key(&p)) {
            params.push(p);
        }
    }
    sort_params(&mut params);
    let mut item = Map::new();
    for (m, op) in ops {
        item.insert(m.to_string(), op);
    }
    item.insert("parameters".into(), Value::Array(params));
    Value::Object(item)
}

const NAMESPACE_DOC: &str = "object name and auth scope, such as for teams and projects";

/// The path items of one resource (and its subresources) into `out`.
pub fn resource_paths(r: &ResourceInfo, out: &mut BTreeMap<String, Value>) {
    let prefix = gv_prefix(&r.group, &r.version);
    let tag = tag(&r.group, &r.version);
    let gv = group_camel(&r.group) + &capitalize(&r.version);
    let gvk = json!({"group": r.group, "kind": r.kind, "version": r.version});
    let kind = &r.kind;
    let (scope, scope_prefix, scope_params) = if r.namespaced {
        (
            "Namespaced",
            "/namespaces/{namespace}",
            vec![path_param("namespace", NAMESPACE_DOC)],
        )
    } else {
        ("", "", vec![])
    };
    let name_param = || path_param("name", &format!("name of the {kind}"));
    let def = r.definition.as_str();
    // Kinds without a list (the review kinds) are only ever created.
    let listable = |verb: &str| r.has(verb) && r.list_definition.is_some();
    let list_def = r.list_definition.as_deref().unwrap_or_default();

    // Collection.
    let mut ops = Vec::new();
    if listable("list") {
        let mut params = list_params(true);
        params.push(watch_param());
        ops.push(Op::list(
            format!("list{gv}{scope}{kind}"),
            format!("list or watch objects of kind {kind}"),
            params,
            list_def,
        ));
    }
    if r.has("create") {
        ops.push(Op::create(
            format!("create{gv}{scope}{kind}"),
            format!("create a {kind}"),
            def,
        ));
    }
    if listable("deletecollection") {
        ops.push(Op {
            method: "delete",
            action: "deletecollection",
            id: format!("delete{gv}Collection{scope}{kind}"),
            description: format!("delete a collection of {kind}"),
            params: join(
                join(vec![body_param(DELETE_OPTIONS)], delete_params()),
                list_params(false),
            ),
            consumes: Some(&["*/*"]),
            produces: PRODUCES,
            responses: vec![ok(STATUS)],
        });
    }
    if !ops.is_empty() {
        out.insert(
            format!("{prefix}{scope_prefix}/{}", r.plural),
            path_item(
                join(scope_params.clone(), vec![pretty()]),
                ops.into_iter()
                    .map(|o| o.render(&tag, Some(gvk.clone())))
                    .collect(),
            ),
        );
    }

    // One object.
    let mut ops = Vec::new();
    if r.has("get") {
        ops.push(Op::read(
            format!("read{gv}{scope}{kind}"),
            format!("read the specified {kind}"),
            def,
        ));
    }
    if r.has("update") {
        ops.push(Op::replace(
            format!("replace{gv}{scope}{kind}"),
            format!("replace the specified {kind}"),
            def,
        ));
    }
    if r.has("patch") {
        ops.push(Op::patch(
            format!("patch{gv}{scope}{kind}"),
            format!("partially update the specified {kind}"),
            def,
        ));
    }
    if r.has("delete") {
        ops.push(Op {
            method: "delete",
            action: "delete",
            id: format!("delete{gv}{scope}{kind}"),
            description: format!("delete a {kind}"),
            params: join(vec![body_param(DELETE_OPTIONS)], delete_params()),
            consumes: Some(&["*/*"]),
            produces: PRODUCES,
            responses: vec![ok(STATUS), accepted(STATUS)],
        });
    }
    if !ops.is_empty() {
        out.insert(
            format!("{prefix}{scope_prefix}/{}/{{name}}", r.plural),
            path_item(
                join(
                    join(vec![name_param()], scope_params.clone()),
                    vec![pretty()],
                ),
                ops.into_iter()
                    .map(|o| o.render(&tag, Some(gvk.clone())))
                    .collect(),
            ),
        );
    }

    // Subresources.
    for s in &r.subresources {
        let sgvk = json!({"group": s.group, "kind": s.kind, "version": s.version});
        let suffix = subresource_suffix(&s.name);
        let sdef = s.definition.as_str();
        let has = |v: &str| s.verbs.iter().any(|x| x == v);
        let mut ops = Vec::new();
        if has("get") {
            ops.push(Op::read(
                format!("read{gv}{scope}{kind}{suffix}"),
                format!("read {} of the specified {kind}", s.name),
                sdef,
            ));
        }
        if has("update") {
            ops.push(Op::replace(
                format!("replace{gv}{scope}{kind}{suffix}"),
                format!("replace {} of the specified {kind}", s.name),
                sdef,
            ));
        }
        if has("patch") {
            ops.push(Op::patch(
                format!("patch{gv}{scope}{kind}{suffix}"),
                format!("partially update {} of the specified {kind}", s.name),
                sdef,
            ));
        }
        if has("create") {
            ops.push(Op::create(
                format!("create{gv}{scope}{kind}{suffix}"),
                format!("create {} of a {kind}", s.name),
                sdef,
            ));
        }
        if !ops.is_empty() {
            // Upstream names the subresource's kind here: "name of the Scale".
            let params = join(
                join(
                    vec![path_param("name", &format!("name of the {}", s.kind))],
                    scope_params.clone(),
                ),
                vec![pretty()],
            );
            out.insert(
                format!("{prefix}{scope_prefix}/{}/{{name}}/{}", r.plural, s.name),
                path_item(
                    params,
                    ops.into_iter()
                        .map(|o| o.render(&tag, Some(sgvk.clone())))
                        .collect(),
                ),
            );
        }
    }

    // Lists across namespaces.
    if r.namespaced && listable("list") {
        let mut params = list_params(true);
        params.push(pretty());
        params.push(watch_param());
        let op = Op::list(
            format!("list{gv}{kind}ForAllNamespaces"),
            format!("list or watch objects of kind {kind}"),
            vec![],
            list_def,
        );
        out.insert(
            format!("{prefix}/{}", r.plural),
            path_item(params, vec![op.render(&tag, Some(gvk.clone()))]),
        );
    }

    // Deprecated watch paths.
    if listable("watch") {
        let watch_op = |id: String, action: &'static str, description: String| Op {
            method: "get",
            action,
            id,
            description,
            params: vec![],
            consumes: None,
            produces: PRODUCES_WATCH,
            responses: vec![ok(WATCH_EVENT)],
        };
        let mut params = list_params(true);
        params.push(pretty());
        params.push(watch_param());
        out.insert(
            format!("{prefix}/watch{scope_prefix}/{}", r.plural),
            path_item(
                join(scope_params.clone(), params.clone()),
                vec![watch_op(
                    format!("watch{gv}{scope}{kind}List"),
                    "watchlist",
                    format!("watch changes to a list of {kind}; deprecated: use the 'watch' parameter of the list operation"),
                )
                .render(&tag, Some(gvk.clone()))],
            ),
        );
        out.insert(
            format!("{prefix}/watch{scope_prefix}/{}/{{name}}", r.plural),
            path_item(
                join(join(vec![name_param()], scope_params.clone()), params.clone()),
                vec![watch_op(
                    format!("watch{gv}{scope}{kind}"),
                    "watch",
                    format!("watch changes to a {kind}; deprecated: use the 'watch' parameter of the list operation with a 'fieldSelector' on the name"),
                )
                .render(&tag, Some(gvk.clone()))],
            ),
        );
        if r.namespaced {
            out.insert(
                format!("{prefix}/watch/{}", r.plural),
                path_item(
                    params,
                    vec![watch_op(
                        format!("watch{gv}{kind}ListForAllNamespaces"),
                        "watchlist",
                        format!("watch changes to a list of {kind}; deprecated: use the 'watch' parameter of the list operation"),
                    )
                    .render(&tag, Some(gvk.clone()))],
                ),
            );
        }
    }
}

/// `Status`, `Scale`, `Finalize`, `Ephemeralcontainers`: the suffix of a subresource's operation ids.
fn subresource_suffix(name: &str) -> String {
    name.split('/').map(capitalize).collect()
}

/// Every path of a group version: its resources' and the discovery document at `<prefix>/`.
pub fn group_version_paths(
    group: &str,
    version: &str,
    resources: &[ResourceInfo],
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let prefix = gv_prefix(group, version);
    let tag = tag(group, version);
    let gv = group_camel(group) + &capitalize(version);
    let discovery = Op {
        method: "get",
        action: "",
        id: format!("get{gv}APIResources"),
        description: "get available resources".into(),
        params: vec![],
        consumes: Some(&["application/json", "application/yaml"]),
        produces: PRODUCES,
        responses: vec![ok(API_RESOURCE_LIST)],
    };
    let (m, mut op) = discovery.render(&tag, None);
    if let Some(o) = op.as_object_mut() {
        o.remove("x-kubernetes-action");
    }
    out.insert(format!("{prefix}/"), json!({ m: op }));
    for r in resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        resource_paths(r, &mut out);
    }
    out
}
