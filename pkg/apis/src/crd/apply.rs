//! Server-side apply's view of a custom resource's structural schema, with the semantics
//! upstream gives it (kube-openapi's conversion of the CRD's OpenAPI to structured-merge-diff
//! types):
//!
//! - lists follow `x-kubernetes-list-type` (`atomic` unless `set` or `map` with
//!   `x-kubernetes-list-map-keys`), maps `x-kubernetes-map-type`;
//! - objects with `properties` accept only those fields, unless they (or any object above
//!   them) preserve unknown fields, or have `additionalProperties`; objects without
//!   `properties` accept any field;
//! - the resource and every embedded resource (`x-kubernetes-embedded-resource`) have
//!   `apiVersion`, `kind` and a `metadata` that is ObjectMeta.

use std::sync::Arc;

use serde_json::Value;

use super::CustomResource;
use crate::ssa::{self, Deduced, ListType, Schema, TreeSchema};

/// One node of a custom resource's schema (the root: [`ApplySchema::root`]).
pub struct ApplySchema {
    cr: Arc<CustomResource>,
    /// JSON pointer of this node in the version's `openAPIV3Schema`.
    pointer: String,
    /// This node or one above it preserves unknown fields.
    preserve: bool,
    /// The resource itself or an embedded resource: `apiVersion`, `kind`, `metadata`.
    resource: bool,
}

fn flag(s: &Value, k: &str) -> bool {
    s.get(k).and_then(Value::as_bool) == Some(true)
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

impl ApplySchema {
    /// The schema of a custom resource version; `None` when it has no schema.
    pub fn root(cr: Arc<CustomResource>) -> Option<ApplySchema> {
        let preserve = flag(cr.schema.as_ref()?, "x-kubernetes-preserve-unknown-fields");
        Some(ApplySchema {
            cr,
            pointer: String::new(),
            preserve,
            resource: true,
        })
    }

    fn node(&self) -> &Value {
        self.cr
            .schema
            .as_ref()
            .and_then(|s| s.pointer(&self.pointer))
            .unwrap_or(&Value::Null)
    }

    fn child(&self, pointer: String) -> Box<dyn Schema> {
        let node = self
            .cr
            .schema
            .as_ref()
            .and_then(|s| s.pointer(&pointer))
            .unwrap_or(&Value::Null);
        let preserve = self.preserve || flag(node, "x-kubernetes-preserve-unknown-fields");
        let resource = flag(node, "x-kubernetes-embedded-resource");
        Box::new(ApplySchema {
            cr: self.cr.clone(),
            pointer,
            preserve,
            resource,
        })
    }

    fn has_property(&self, name: &str) -> bool {
        self.node()
            .get("properties")
            .and_then(|p| p.get(name))
            .is_some()
    }
}

impl Schema for ApplySchema {
    fn field(&self, name: &str) -> Box<dyn Schema> {
        if self.resource {
            match name {
                "metadata" => return Box::new(ssa::object_meta()),
                "apiVersion" | "kind" => return Box::new(TreeSchema::scalar()),
                _ => {}
            }
        }
        if self.has_property(name) {
            return self.child(format!("{}/properties/{}", self.pointer, escape(name)));
        }
        if self
            .node()
            .get("additionalProperties")
            .is_some_and(Value::is_object)
        {
            return self.child(format!("{}/additionalProperties", self.pointer));
        }
        Box::new(Deduced { root: false })
    }

    fn is_named_field(&self, name: &str) -> bool {
        (self.resource && matches!(name, "apiVersion" | "kind" | "metadata"))
            || self.has_property(name)
    }

    fn items(&self) -> Box<dyn Schema> {
        if self.node().get("items").is_some_and(Value::is_object) {
            return self.child(format!("{}/items", self.pointer));
        }
        Box::new(Deduced { root: false })
    }

    fn list_type(&self) -> ListType {
        let node = self.node();
        match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                node.get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => ListType::Atomic,
        }
    }

    fn map_atomic(&self) -> bool {
        self.node()
            .get("x-kubernetes-map-type")
            .and_then(Value::as_str)
            == Some("atomic")
    }

    fn key_default(&self, field: &str) -> Option<Value> {
        self.node()
            .get("properties")
            .and_then(|p| p.get(field))
            .and_then(|f| f.get("default"))
            .cloned()
    }

    fn declares(&self, name: &str) -> bool {
        if self.is_named_field(name) || self.preserve {
            return true;
        }
        let node = self.node();
        match node.get("additionalProperties") {
            Some(Value::Object(_)) | Some(Value::Bool(true)) => true,
            Some(_) => false,
            // An object without properties is a map of anything.
            None => {
                !self.resource
                    && node
                        .get("properties")
                        .and_then(Value::as_object)
                        .is_none_or(|p| p.is_empty())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cr(schema: Value) -> Arc<CustomResource> {
        let crd = json!({
            "metadata": {"name": "applies.ap.example.com"},
            "spec": {"group": "ap.example.com", "scope": "Namespaced",
                "names": {"plural": "applies", "singular": "apply", "kind": "Apply"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": schema}}]}
        });
        super::super::register(&crd);
        let res = super::super::find("ap.example.com", "v1", "applies").unwrap();
        let c = super::super::lookup(res).unwrap();
        super::super::unregister("applies.ap.example.com");
        c
    }

    fn errors(schema: &ApplySchema, config: Value) -> Vec<String> {
        ssa::typed_errors(&config, schema)
    }

    #[test]
    fn undeclared_fields_and_list_semantics() {
        let c = cr(json!({"type": "object", "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                    "properties": {"spec": {"type": "object"}}}}},
            "strict": {"type": "object", "properties": {
                "ports": {"type": "array", "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                    "items": {"type": "object", "properties": {
                        "containerPort": {"type": "integer"},
                        "protocol": {"type": "string", "default": "TCP"}}}},
                "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object"}}}}}));
        let s = ApplySchema::root(c).unwrap();
        assert_eq!(
            errors(
                &s,
                json!({"apiVersion": "ap.example.com/v1", "kind": "Apply",
                "metadata": {"name": "a", "unknownMeta": 1},
                "unknownField": 1,
                "spec": {"anything": 1, "template": {"apiversion": "x", "metadata": {"unknownSubMeta": 1}}},
                "strict": {"ports": [{"containerPort": 80, "extra": 1}], "tags": ["a"],
                    "labels": {"x": "y"}, "free": {"z": 1}, "nope": 1}})
            ),
            [
                ".metadata.unknownMeta: field not declared in schema",
                ".unknownField: field not declared in schema",
                ".spec.template.metadata.unknownSubMeta: field not declared in schema",
                ".strict.ports[containerPort=80,protocol=\"TCP\"].extra: field not declared in schema",
                ".strict.nope: field not declared in schema",
            ]
        );
        let ports = s.field("strict").field("ports");
        assert_eq!(
            ports.list_type(),
            ListType::Map(vec!["containerPort".into(), "protocol".into()])
        );
        assert_eq!(s.field("strict").field("tags").list_type(), ListType::Set);
        assert!(
            errors(&s, json!({"strict": {"tags": ["a", "a"]}}))[0].contains("duplicate entries")
        );
    }

    #[test]
    fn preserving_the_root_accepts_anything_but_unknown_metadata() {
        let s = ApplySchema::root(cr(json!({"type": "object",
            "x-kubernetes-preserve-unknown-fields": true})))
        .unwrap();
        assert_eq!(
            errors(&s, json!({"a": {"b": [1]}, "metadata": {"bogus": 1}})),
            [".metadata.bogus: field not declared in schema"]
        );
    }
}
