//! The schema a custom resource version publishes, derived from its `openAPIV3Schema` the way
//! upstream's apiextensions-apiserver does before handing it to the OpenAPI builders:
//!
//! - [`structural`]: only what a structural schema carries (types, descriptions, defaults,
//!   value validations, the `x-kubernetes-*` extensions); `example`, `externalDocs`, `$ref`,
//!   `definitions`, `patternProperties`... are dropped.
//! - [`unfold`] (v3): `x-kubernetes-int-or-string` spelled out as `anyOf: [integer, string]`.
//! - [`to_v2`] (v2): what Swagger 2.0 and kubectl's v2 model parser cannot take is removed:
//!   `allOf`/`anyOf`/`oneOf`/`not`; nullable values lose their type and children (and are no
//!   longer required); values preserving unknown fields lose their children (and `object`
//!   type); arrays left without items lose their type.
//! - [`add_embedded`]: objects marked `x-kubernetes-embedded-resource` get `apiVersion`, `kind`
//!   (required) and `metadata` (a reference to ObjectMeta).
//! - [`prune_defaults`] (v2): `default`s are not published.

use serde_json::{json, Map, Value};

pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Description of the `metadata` of a custom resource (and of embedded resources).
pub const METADATA_DESC: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const EMBEDDED_API_VERSION_DESC: &str = "apiVersion defines the versioned schema of this representation of an object. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const EMBEDDED_KIND_DESC: &str = "kind is a string value representing the type of this object. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

const PRESERVE: &str = "x-kubernetes-preserve-unknown-fields";
const EMBEDDED: &str = "x-kubernetes-embedded-resource";
const INT_OR_STRING: &str = "x-kubernetes-int-or-string";

fn is_true(s: &Map<String, Value>, k: &str) -> bool {
    s.get(k).and_then(Value::as_bool) == Some(true)
}

fn non_empty_str(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

fn non_empty_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| !a.is_empty())
}

/// The structural form of a schema node (`nested`: a node under `allOf`/`anyOf`/`oneOf`/`not`,
/// which has no `additionalProperties`).
fn convert(s: &Value, nested: bool) -> Value {
    let Some(m) = s.as_object() else {
        return json!({});
    };
    let mut out = Map::new();
    for (k, v) in m {
        let keep = match k.as_str() {
            "type" | "description" | "title" | "format" | "pattern" => non_empty_str(v),
            "default" => true,
            "nullable" | "exclusiveMaximum" | "exclusiveMinimum" | "uniqueItems" | PRESERVE
            | EMBEDDED | INT_OR_STRING => v.as_bool() == Some(true),
            "maximum" | "minimum" | "multipleOf" => v.is_number(),
            "maxLength" | "minLength" | "maxItems" | "minItems" | "maxProperties"
            | "minProperties" => v.is_i64() || v.is_u64(),
            "enum" | "required" | "x-kubernetes-list-map-keys" | "x-kubernetes-validations" => {
                non_empty_array(v)
            }
            "x-kubernetes-list-type" | "x-kubernetes-map-type" => v.is_string(),
            "allOf" | "anyOf" | "oneOf" => {
                if let Some(a) = v.as_array().filter(|a| !a.is_empty()) {
                    out.insert(
                        k.clone(),
                        Value::Array(a.iter().map(|x| convert(x, true)).collect()),
                    );
                }
                false
            }
            "not" => {
                if v.is_object() {
                    out.insert(k.clone(), convert(v, true));
                }
                false
            }
            "items" => {
                // A list of schemas is not structural; only a single schema is kept.
                if v.is_object() {
                    out.insert(k.clone(), convert(v, nested));
                }
                false
            }
            "properties" => {
                if let Some(p) = v.as_object().filter(|p| !p.is_empty()) {
                    let props: Map<String, Value> = p
                        .iter()
                        .map(|(n, x)| (n.clone(), convert(x, nested)))
                        .collect();
                    out.insert(k.clone(), Value::Object(props));
                }
                false
            }
            "additionalProperties" if !nested => {
                match v {
                    Value::Bool(b) => {
                        out.insert(k.clone(), json!(b));
                    }
                    Value::Object(_) => {
                        out.insert(k.clone(), convert(v, false));
                    }
                    _ => {}
                }
                false
            }
            _ => false,
        };
        if keep {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// The structural form of a CRD version's `openAPIV3Schema`.
pub fn structural(s: &Value) -> Value {
    convert(s, false)
}

/// Calls `f` on every structural node of `s` (the node itself, then its items, properties and
/// additional properties; not value validations), before its children.
fn visit(s: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    let Some(m) = s.as_object_mut() else { return };
    f(m);
    if let Some(items) = m.get_mut("items") {
        visit(items, f);
    }
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        for p in props.values_mut() {
            visit(p, f);
        }
    }
    if let Some(a @ Value::Object(_)) = m.get_mut("additionalProperties") {
        visit(a, f);
    }
}

fn int_or_string_any_of() -> Value {
    json!([{"type": "integer"}, {"type": "string"}])
}

/// Spells out `x-kubernetes-int-or-string` as upstream's `Unfold`: `anyOf: [integer, string]`,
/// or, when the node already has an `anyOf`, that as the first `allOf` clause.
pub fn unfold(s: &mut Value) {
    visit(s, &mut |m| {
        if !is_true(m, INT_OR_STRING) {
            return;
        }
        let pattern = int_or_string_any_of();
        if m.get("anyOf") == Some(&pattern)
            || m.get("allOf")
                .and_then(|a| a.get(0))
                .and_then(|c| c.get("anyOf"))
                == Some(&pattern)
        {
            return;
        }
        if m.contains_key("anyOf") {
            let mut all = vec![json!({ "anyOf": pattern })];
            if let Some(Value::Array(rest)) = m.remove("allOf") {
                all.extend(rest);
            }
            m.insert("allOf".into(), Value::Array(all));
        } else {
            m.insert("anyOf".into(), pattern);
        }
    });
}

/// Upstream's conversion of a structural schema to what OpenAPI v2 (and kubectl's v2 models)
/// can express.
pub fn to_v2(s: &mut Value) {
    visit(s, &mut |m| {
        for k in ["allOf", "oneOf", "anyOf", "not"] {
            m.remove(k);
        }
        if is_true(m, "nullable") {
            // Untyped values break in kubectl if they have items or properties.
            m.remove("type");
            m.remove("nullable");
            m.remove("items");
            m.remove("properties");
        }
        let preserve = is_true(m, PRESERVE);
        if preserve {
            m.remove("items");
            m.remove("properties");
        }
        if !m.contains_key("items") && m.get("type").and_then(Value::as_str) == Some("array") {
            m.remove("type");
        }
        if preserve && m.get("type").and_then(Value::as_str) == Some("object") {
            m.remove("type");
        }
        // Nullable fields are not required (their children are visited after this node).
        let nullable: Vec<String> = m
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .filter(|(_, v)| v.get("nullable").and_then(Value::as_bool) == Some(true))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        let nullable_values = m
            .get("additionalProperties")
            .and_then(|a| a.get("nullable"))
            .and_then(Value::as_bool)
            == Some(true);
        if nullable_values {
            m.remove("required");
        } else if !nullable.is_empty() {
            if let Some(Value::Array(req)) = m.get_mut("required") {
                req.retain(|r| !r.as_str().is_some_and(|r| nullable.iter().any(|n| n == r)));
                if req.is_empty() {
                    m.remove("required");
                }
            }
        }
    });
}

/// Removes every `default` (OpenAPI v2 documents are published without them).
pub fn prune_defaults(s: &mut Value) {
    match s {
        Value::Object(m) => {
            m.remove("default");
            for (k, v) in m.iter_mut() {
                // `enum` values and extensions are data, not schemas.
                if k == "enum" || k.starts_with("x-") {
                    continue;
                }
                if k == "properties" {
                    if let Value::Object(props) = v {
                        props.values_mut().for_each(prune_defaults);
                    }
                } else {
                    prune_defaults(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(prune_defaults),
        _ => {}
    }
}

/// A reference to ObjectMeta with the description of a resource's `metadata`.
pub fn metadata_ref() -> Value {
    json!({"$ref": format!("#/definitions/{OBJECT_META}"), "description": METADATA_DESC})
}

/// Gives every embedded resource (`x-kubernetes-embedded-resource`) below and including `s`
/// its `apiVersion`, `kind` (both required) and `metadata`. In v2, objects preserving unknown
/// fields get nothing (kubectl would then reject the fields they preserve).
pub fn add_embedded(s: &mut Value, v2: bool) {
    let Some(m) = s.as_object_mut() else { return };
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        props.values_mut().for_each(|p| add_embedded(p, v2));
    }
    if let Some(items) = m.get_mut("items") {
        add_embedded(items, v2);
    }
    if let Some(a @ Value::Object(_)) = m.get_mut("additionalProperties") {
        add_embedded(a, v2);
    }
    if v2 && is_true(m, PRESERVE) {
        return;
    }
    if !is_true(m, EMBEDDED) {
        return;
    }
    let props = m
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(p) = props {
        p.insert(
            "apiVersion".into(),
            json!({"description": EMBEDDED_API_VERSION_DESC, "type": "string"}),
        );
        p.insert(
            "kind".into(),
            json!({"description": EMBEDDED_KIND_DESC, "type": "string"}),
        );
        p.insert("metadata".into(), metadata_ref());
    }
    let req = m.entry("required").or_insert_with(|| json!([]));
    if let Value::Array(r) = req {
        for k in ["kind", "apiVersion"] {
            if !r.iter().any(|x| x == k) {
                r.push(json!(k));
            }
        }
    }
}

/// Whether the root of a schema preserves unknown fields.
pub fn preserves_unknown_at_root(s: &Value) -> bool {
    s.get(PRESERVE).and_then(Value::as_bool) == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structural_keeps_only_structural_fields() {
        let s = json!({
            "type": "object", "description": "", "example": {"a": 1},
            "externalDocs": {"url": "x"}, "x-kubernetes-preserve-unknown-fields": false,
            "properties": {
                "a": {"type": "string", "enum": [], "maxLength": 3, "default": "x",
                      "x-kubernetes-validations": [{"rule": "self.size() > 0"}]},
                "b": {"type": "array", "items": [{"type": "string"}]},
                "c": {"anyOf": [{"type": "integer"}, {"type": "string"}],
                      "x-kubernetes-int-or-string": true},
                "d": {"type": "object", "additionalProperties": {"type": "string", "nullable": true}},
            },
            "allOf": [{"properties": {"a": {"minLength": 1}}, "additionalProperties": false}],
        });
        assert_eq!(
            structural(&s),
            json!({
                "type": "object",
                "properties": {
                    "a": {"type": "string", "maxLength": 3, "default": "x",
                          "x-kubernetes-validations": [{"rule": "self.size() > 0"}]},
                    "b": {"type": "array"},
                    "c": {"anyOf": [{"type": "integer"}, {"type": "string"}],
                          "x-kubernetes-int-or-string": true},
                    "d": {"type": "object", "additionalProperties": {"type": "string", "nullable": true}},
                },
                "allOf": [{"properties": {"a": {"minLength": 1}}}],
            })
        );
        assert_eq!(structural(&json!("nonsense")), json!({}));
    }

    #[test]
    fn v2_conversion_as_upstream() {
        let mut s = structural(&json!({
            "type": "object",
            "required": ["a", "n", "p"],
            "properties": {
                "a": {"type": "string", "anyOf": [{"pattern": "x"}], "not": {"pattern": "y"}},
                "n": {"type": "object", "nullable": true, "required": ["z"],
                      "properties": {"z": {"type": "string"}}},
                "p": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                      "properties": {"q": {"type": "string"}}},
                "l": {"type": "array", "items": {"type": "object",
                      "x-kubernetes-preserve-unknown-fields": true, "properties": {"r": {"type": "string"}}}},
                "i": {"x-kubernetes-int-or-string": true,
                      "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "m": {"type": "object", "required": ["k"],
                      "additionalProperties": {"type": "string", "nullable": true}},
                "e": {"type": "array", "nullable": true, "items": {"type": "string"}},
            }
        }));
        to_v2(&mut s);
        assert_eq!(
            s,
            json!({
                "type": "object",
                "required": ["a", "p"],
                "properties": {
                    "a": {"type": "string"},
                    "n": {"required": ["z"]},
                    "p": {"x-kubernetes-preserve-unknown-fields": true},
                    "l": {"type": "array", "items": {"x-kubernetes-preserve-unknown-fields": true}},
                    "i": {"x-kubernetes-int-or-string": true},
                    "m": {"type": "object", "additionalProperties": {}},
                    "e": {},
                }
            })
        );
    }

    #[test]
    fn unfolding_int_or_string() {
        let mut s = json!({"properties": {
            "a": {"x-kubernetes-int-or-string": true},
            "b": {"x-kubernetes-int-or-string": true, "anyOf": [{"maximum": 3}]},
            "c": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        }});
        unfold(&mut s);
        assert_eq!(
            s["properties"]["a"]["anyOf"],
            json!([{"type": "integer"}, {"type": "string"}])
        );
        assert_eq!(
            s["properties"]["b"]["allOf"],
            json!([{"anyOf": [{"type": "integer"}, {"type": "string"}]}])
        );
        assert_eq!(s["properties"]["b"]["anyOf"], json!([{"maximum": 3}]));
        assert!(s["properties"]["c"].get("allOf").is_none());
    }

    #[test]
    fn embedded_resources_and_defaults() {
        let mut s = json!({"type": "object", "properties": {
            "t": {"type": "object", "x-kubernetes-embedded-resource": true, "required": ["spec"],
                  "properties": {"spec": {"type": "object", "default": {}}}},
            "u": {"type": "object", "x-kubernetes-embedded-resource": true,
                  "x-kubernetes-preserve-unknown-fields": true},
            "e": {"type": "string", "enum": [{"default": 1}], "default": "x"},
        }});
        let mut v3 = s.clone();
        add_embedded(&mut s, true);
        assert_eq!(
            s["properties"]["t"]["required"],
            json!(["spec", "kind", "apiVersion"])
        );
        assert_eq!(
            s["properties"]["t"]["properties"]["metadata"],
            metadata_ref()
        );
        assert!(s["properties"]["u"].get("properties").is_none());
        add_embedded(&mut v3, false);
        assert!(v3["properties"]["u"]["properties"]["kind"].is_object());
        prune_defaults(&mut s);
        assert!(s["properties"]["t"]["properties"]["spec"]
            .get("default")
            .is_none());
        assert!(s["properties"]["e"].get("default").is_none());
        assert_eq!(s["properties"]["e"]["enum"], json!([{"default": 1}]));
    }
}
