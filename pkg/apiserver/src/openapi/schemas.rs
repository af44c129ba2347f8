//! OpenAPI definitions (schemas) of the built-in kinds, generated at build time from k8s-openapi's
//! `JsonSchema` impls (which carry upstream's field descriptions; see `build.rs`) and completed
//! at run time with what k8s-openapi leaves
//! out: `x-kubernetes-group-version-kind`, the list kinds, the patch and list metadata extensions
//! (from a lookup function), `x-kubernetes-unions`, and upstream's encoding of `IntOrString` and `Quantity`.
//!
//! Definitions are kept in OpenAPI v2 form (`$ref: #/definitions/<name>` with sibling
//! `description`); [`super::v3`] converts them for OpenAPI v3.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// `x-kubernetes-*` extensions of one field of a definition (or, when looked up with an empty
/// field name, of the definition itself). Empty strings and slices mean "not set".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtensionSet {
    /// `x-kubernetes-patch-strategy` (`merge`, `retainKeys`, `merge,retainKeys`).
    pub patch_strategy: &'static str,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: &'static str,
    /// `x-kubernetes-list-type` (`atomic`, `set`, `map`).
    pub list_type: &'static str,
    /// `x-kubernetes-list-map-keys`.
    pub list_map_keys: &'static [&'static str],
    /// `x-kubernetes-map-type` (`atomic`, `granular`): of a map-typed field, of a struct-typed
    /// field with its own `+structType` marker, or (looked up with an empty field name) of the
    /// definition itself. A type's own `+structType` is published on its definition only, not
    /// on the properties that refer to it, as upstream does.
    pub map_type: &'static str,
}

impl ExtensionSet {
    /// Writes the set extensions into `schema`.
    pub fn apply(&self, schema: &mut Map<String, Value>) {
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                schema.insert(k.to_string(), json!(v));
            }
        };
        put("x-kubernetes-patch-strategy", self.patch_strategy);
        put("x-kubernetes-patch-merge-key", self.merge_key);
        put("x-kubernetes-list-type", self.list_type);
        put("x-kubernetes-map-type", self.map_type);
        if !self.list_map_keys.is_empty() {
            schema.insert(
                "x-kubernetes-list-map-keys".into(),
                json!(self.list_map_keys),
            );
        }
    }
}

/// Looks up the extensions of `field` (JSON name) of the definition `definition` (OpenAPI name,
/// `io.k8s.api.core.v1.PodSpec`); `field == ""` asks for definition-level extensions.
pub type FieldLookup = fn(&str, &str) -> Option<ExtensionSet>;

/// The protobuf message name of a definition: `io.k8s.api.core.v1.PodSpec` →
/// `k8s.io.api.core.v1.PodSpec` (for lookups keyed by protobuf names).
pub fn proto_name(definition: &str) -> Option<String> {
    let mut parts = definition.splitn(3, '.');
    let (a, b, rest) = (parts.next()?, parts.next()?, parts.next()?);
    // Go package paths with a dash are protobuf packages with an underscore.
    Some(format!("{b}.{a}.{}", rest.replace('-', "_")))
}

/// A kind with a definition: what `x-kubernetes-group-version-kind` says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindDef {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The definition's name, `io.k8s.api.apps.v1.Deployment`.
    pub definition: String,
    /// The list kind's definition, `io.k8s.api.apps.v1.DeploymentList`, for listable kinds.
    pub list_definition: Option<String>,
}

/// All definitions of the built-in kinds, by name, plus which kind each top-level one is.
#[derive(Clone, Debug, Default)]
pub struct Definitions {
    pub schemas: BTreeMap<String, Value>,
    pub kinds: Vec<KindDef>,
}

impl Definitions {
    /// The definition of a kind.
    pub fn kind(&self, group: &str, version: &str, kind: &str) -> Option<&KindDef> {
        self.kinds
            .iter()
            .find(|k| k.group == group && k.version == version && k.kind == kind)
    }
}

/// Common definitions every group version refers to.
pub const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// `#/definitions/<name>`.
pub fn def_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/definitions/{name}") })
}

/// What build.rs generated from k8s-openapi's `JsonSchema` impls (so that neither schemars nor
/// those impls, ~4 MB of code, are in the binary): every built-in kind as (group, version, kind,
/// definition, list definition), and every definition they refer to, as JSON compressed with
/// deflate (expanded only when the documents are first built).
mod generated {
    include!(concat!(env!("OUT_DIR"), "/builtin-kinds.rs"));
    pub static SCHEMAS: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/builtin-schemas.json.deflate"));
    pub static BETA_SCHEMAS: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/beta-schemas.json.deflate"));
}

/// Whether the beta APIs (`--runtime-config`) are served, so their definitions are published.
fn beta_served() -> bool {
    use k3rs_apis::registry::{beta_enabled, BETA_APIS};
    BETA_APIS.iter().any(|(gv, _)| beta_enabled(gv))
}

fn builtin_kinds() -> Vec<KindDef> {
    let beta: &[_] = if beta_served() {
        generated::BETA_KINDS
    } else {
        &[]
    };
    generated::KINDS
        .iter()
        .chain(beta.iter())
        .map(|(group, version, kind, definition, list)| KindDef {
            group,
            version,
            kind,
            definition: definition.to_string(),
            list_definition: list.map(str::to_string),
        })
        .collect()
}

/// The definitions build.rs generated, by name (with the beta APIs' when they are served).
fn generated_schemas() -> BTreeMap<String, Value> {
    let mut out = inflate(generated::SCHEMAS);
    if beta_served() {
        out.extend(inflate(generated::BETA_SCHEMAS));
    }
    out
}

fn inflate(bytes: &[u8]) -> BTreeMap<String, Value> {
    use std::io::Read;
    let mut json = Vec::new();
    let parsed = flate2::read::DeflateDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_slice(&json).map_err(|e| e.to_string()));
    match parsed {
        Ok(schemas) => schemas,
        Err(e) => {
            tracing::error!(error = %e, "the built-in OpenAPI definitions embedded at build time are unreadable");
            BTreeMap::new()
        }
    }
}

/// The list definition of `item`: `{apiVersion, items, kind, metadata}`.
fn list_schema(kind: &KindDef) -> Value {
    json!({
        "description": format!("{}List is a list of {} objects.", kind.kind, kind.kind),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string",
            },
            "items": {
                "description": format!("The {} objects in the list.", kind.kind),
                "type": "array",
                "items": def_ref(&kind.definition),
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string",
            },
            "metadata": {
                "$ref": format!("#/definitions/{LIST_META}"),
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            },
        },
        "required": ["items"],
    })
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// Adds `x-kubernetes-group-version-kind` entries to a definition (keeping existing ones).
pub fn add_gvk(schema: &mut Value, group: &str, version: &str, kind: &str) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let entry = obj
        .entry("x-kubernetes-group-version-kind")
        .or_insert_with(|| json!([]));
    if let Some(list) = entry.as_array_mut() {
        let new = gvk(group, version, kind);
        if !list.contains(&new) {
            list.push(new);
        }
    }
}

/// Applies `lookup` to every property of every definition (and to the definitions themselves).
pub fn apply_extensions(schemas: &mut BTreeMap<String, Value>, lookup: FieldLookup) {
    for (name, schema) in schemas.iter_mut() {
        let Some(obj) = schema.as_object_mut() else {
            continue;
        };
        if let Some(ext) = lookup(name, "") {
            ext.apply(obj);
        }
        let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (field, prop) in props.iter_mut() {
            if let (Some(ext), Some(p)) = (lookup(name, field), prop.as_object_mut()) {
                ext.apply(p);
            }
        }
    }
}

/// A definition, its discriminator field, and each member field with its discriminator value.
type Union = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The discriminated unions of the built-in types (upstream's `+union` and
/// `+unionDiscriminator` markers), published as `x-kubernetes-unions`.
const UNIONS: &[Union] = &[
    (
        "io.k8s.api.core.v1.AppArmorProfile",
        "type",
        &[("localhostProfile", "LocalhostProfile")],
    ),
    (
        "io.k8s.api.core.v1.SeccompProfile",
        "type",
        &[("localhostProfile", "LocalhostProfile")],
    ),
    (
        "io.k8s.api.flowcontrol.v1.LimitResponse",
        "type",
        &[("queuing", "Queuing")],
    ),
    (
        "io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationSpec",
        "type",
        &[("exempt", "Exempt"), ("limited", "Limited")],
    ),
    (
        "io.k8s.api.flowcontrol.v1.Subject",
        "kind",
        &[
            ("group", "Group"),
            ("serviceAccount", "ServiceAccount"),
            ("user", "User"),
        ],
    ),
];

fn apply_unions(schemas: &mut BTreeMap<String, Value>) {
    for (definition, discriminator, members) in UNIONS {
        let Some(obj) = schemas.get_mut(*definition).and_then(Value::as_object_mut) else {
            continue;
        };
        let by: Map<String, Value> = members
            .iter()
            .map(|(field, value)| (field.to_string(), json!(value)))
            .collect();
        obj.insert(
            "x-kubernetes-unions".into(),
            json!([{"discriminator": discriminator, "fields-to-discriminateBy": by}]),
        );
    }
}

/// Builds the definitions of every built-in kind (and everything they refer to), completed with
/// GVKs, list kinds and the extensions `lookup` gives. `group_versions` are the served group
/// versions, whose `DeleteOptions` and `WatchEvent` GVKs are published as upstream does.
pub fn builtin(lookup: FieldLookup, group_versions: &[(&str, &str)]) -> Definitions {
    let kinds = builtin_kinds();
    let mut schemas = generated_schemas();
    for k in &kinds {
        if let Some(s) = schemas.get_mut(&k.definition) {
            add_gvk(s, k.group, k.version, k.kind);
        }
        if let Some(list) = &k.list_definition {
            let mut s = list_schema(k);
            add_gvk(&mut s, k.group, k.version, &format!("{}List", k.kind));
            schemas.insert(list.clone(), s);
        }
    }
    if let Some(s) = schemas.get_mut(STATUS) {
        add_gvk(s, "", "v1", "Status");
    }
    if let Some(s) = schemas.get_mut(API_RESOURCE_LIST) {
        add_gvk(s, "", "v1", "APIResourceList");
    }
    for (g, v) in group_versions {
        for (name, kind) in [
            (DELETE_OPTIONS, "DeleteOptions"),
            (WATCH_EVENT, "WatchEvent"),
        ] {
            if let Some(s) = schemas.get_mut(name) {
                add_gvk(s, g, v, kind);
            }
        }
    }
    // Upstream publishes these two as strings in v2 (v3 gets `oneOf`, see `super::v3`).
    if let Some(s) = schemas
        .get_mut(INT_OR_STRING)
        .and_then(Value::as_object_mut)
    {
        s.remove("x-kubernetes-int-or-string");
        s.insert("type".into(), json!("string"));
        s.insert("format".into(), json!("int-or-string"));
    }
    if let Some(s) = schemas.get_mut(QUANTITY).and_then(Value::as_object_mut) {
        s.remove("x-kubernetes-int-or-string");
        s.insert("type".into(), json!("string"));
    }
    // apiextensions' types with a JSON form of their own (any JSON; a schema or a boolean/list)
    // have no type, only a description, as upstream publishes them.
    for (name, description) in [
        ("JSON", "JSON represents any valid JSON value. These types are supported: bool, int64, float64, string, []interface{}, map[string]interface{} and nil."),
        ("JSONSchemaPropsOrBool", "JSONSchemaPropsOrBool represents JSONSchemaProps or a boolean value. Defaults to true for the boolean property."),
        ("JSONSchemaPropsOrArray", "JSONSchemaPropsOrArray represents a value that can either be a JSONSchemaProps or an array of JSONSchemaProps. Mainly here for serialization purposes."),
        ("JSONSchemaPropsOrStringArray", "JSONSchemaPropsOrStringArray represents a JSONSchemaProps or a string array."),
    ] {
        let key = format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.{name}");
        if schemas.contains_key(&key) {
            schemas.insert(key, json!({ "description": description }));
        }
    }
    apply_extensions(&mut schemas, lookup);
    apply_unions(&mut schemas);
    Definitions { schemas, kinds }
}

/// The patch/list metadata of built-in fields, from the table in `k3rs_apis::patchmeta` (the
/// same table the strategic merge patch and server-side apply use). An empty `field` asks for
/// the definition's own `+structType`, published as `x-kubernetes-map-type`. A field gets only
/// its own markers: the `+structType` of the type it refers to is published on that type's
/// definition, not repeated on the property.
pub fn patchmeta_lookup(definition: &str, field: &str) -> Option<ExtensionSet> {
    use k3rs_apis::patchmeta::{struct_type, FIELDS};
    let message = proto_name(definition)?;
    if field.is_empty() {
        let st = struct_type(&message);
        return (!st.is_empty()).then(|| ExtensionSet {
            map_type: st,
            ..Default::default()
        });
    }
    let i = FIELDS
        .binary_search_by(|(m, f, _)| (*m, *f).cmp(&(message.as_str(), field)))
        .ok()?;
    let m = FIELDS[i].2;
    Some(ExtensionSet {
        patch_strategy: m.patch_strategy,
        merge_key: m.merge_key,
        list_type: m.list_type,
        list_map_keys: m.list_map_keys,
        // A field is a map or a struct, never both: either marker is its map type.
        map_type: if m.map_type.is_empty() {
            m.struct_type
        } else {
            m.map_type
        },
    })
}
