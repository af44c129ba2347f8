//! OpenAPI (structural) schema → CEL declaration types, as upstream's `SchemaDeclType`: objects
//! with properties become object types whose fields are the (escaped) property names, objects
//! with `additionalProperties` maps, arrays lists, `format: date-time`/`date` timestamps,
//! `duration` durations, `byte` bytes, `x-kubernetes-int-or-string` `dyn`. Each node also carries
//! the size bounds the cost estimator needs (max elements, minimum serialized size).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value as Json;

use super::types::{ObjectType, Type};

/// Upstream's maximum request size, the bound of every unbounded list, map and string.
pub const MAX_REQUEST_SIZE_BYTES: u64 = 3 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Map,
    List,
    Bool,
    Int,
    Double,
    String,
    Bytes,
    Duration,
    Timestamp,
    /// `x-kubernetes-int-or-string`.
    Dyn,
}

/// A schema node's CEL declaration.
#[derive(Debug)]
pub struct DeclType {
    pub kind: Kind,
    /// Object fields by their JSON property name.
    pub fields: BTreeMap<String, Arc<DeclType>>,
    /// List items or map values.
    pub elem: Option<Arc<DeclType>>,
    /// The largest number of elements (characters of strings, items of lists, entries of maps).
    pub max_elements: u64,
    /// The smallest size the value can serialize to, in bytes.
    pub min_size: u64,
    /// The checker's type.
    pub cel: Type,
}

/// The name of a property in CEL (upstream's escaping: reserved words become `__word__`, `.`
/// `__dot__`, `-` `__dash__`, `/` `__slash__`, `__` `__underscores__`); `None` for names CEL
/// cannot express (those properties are not accessible).
pub fn escape(ident: &str) -> Option<String> {
    const RESERVED: &[&str] = &[
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ];
    if ident.is_empty() || ident.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    if RESERVED.contains(&ident) {
        return Some(format!("__{ident}__"));
    }
    let mut out = String::with_capacity(ident.len());
    let b: Vec<char> = ident.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '_' && b.get(i + 1) == Some(&'_') {
            out.push_str("__underscores__");
            i += 2;
            continue;
        }
        match c {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
            _ => return None,
        }
        i += 1;
    }
    Some(out)
}

fn flag(s: &Json, k: &str) -> bool {
    s.get(k).and_then(Json::as_bool) == Some(true)
}

fn int(s: &Json, k: &str) -> Option<u64> {
    s.get(k)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
        .map(|v| v.max(0) as u64)
}

fn unique_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("selfType{}", N.fetch_add(1, Ordering::Relaxed))
}

/// The declaration of a schema node; `resource_root` for the root of a custom resource or of an
/// embedded resource (`apiVersion`, `kind`, `metadata.name` and `metadata.generateName` are
/// then always accessible). `None` for nodes CEL cannot see (no type and not int-or-string).
pub fn decl_type(schema: &Json, resource_root: bool) -> Option<Arc<DeclType>> {
    build(schema, resource_root, &unique_name())
}

fn simple(kind: Kind, cel: Type, min_size: u64, max_elements: u64) -> Arc<DeclType> {
    Arc::new(DeclType {
        kind,
        fields: BTreeMap::new(),
        elem: None,
        max_elements,
        min_size,
        cel,
    })
}

fn max_string(s: &Json) -> u64 {
    match int(s, "maxLength") {
        Some(m) => m.saturating_mul(4),
        None => match s.get("enum").and_then(Json::as_array) {
            Some(e) if !e.is_empty() => e
                .iter()
                .filter_map(Json::as_str)
                .map(|x| x.len() as u64)
                .max()
                .unwrap_or(0),
            _ => MAX_REQUEST_SIZE_BYTES - 2,
        },
    }
}

fn build(s: &Json, resource_root: bool, name: &str) -> Option<Arc<DeclType>> {
    if flag(s, "x-kubernetes-int-or-string") || flag(s, DYN_MARKER) {
        let max = match int(s, "maxLength") {
            Some(m) => m.saturating_mul(4),
            None => MAX_REQUEST_SIZE_BYTES - 2,
        };
        return Some(simple(Kind::Dyn, Type::Dyn, 1, max));
    }
    let ty = s.get("type").and_then(Json::as_str).unwrap_or_default();
    match ty {
        "array" => {
            let items = s.get("items")?;
            let elem = build(
                items,
                flag(items, "x-kubernetes-embedded-resource"),
                &format!("{name}.@idx"),
            )?;
            let max = int(s, "maxItems")
                .unwrap_or_else(|| (MAX_REQUEST_SIZE_BYTES - 2) / (elem.min_size + 1));
            Some(Arc::new(DeclType {
                kind: Kind::List,
                fields: BTreeMap::new(),
                cel: Type::list(elem.cel.clone()),
                elem: Some(elem),
                max_elements: max,
                min_size: 2,
            }))
        }
        "object" => {
            if let Some(ap @ Json::Object(_)) = s.get("additionalProperties") {
                let elem = build(
                    ap,
                    flag(ap, "x-kubernetes-embedded-resource"),
                    &format!("{name}.@elem"),
                )?;
                let max = int(s, "maxProperties")
                    .unwrap_or_else(|| (MAX_REQUEST_SIZE_BYTES - 2) / (elem.min_size + 6));
                return Some(Arc::new(DeclType {
                    kind: Kind::Map,
                    fields: BTreeMap::new(),
                    cel: Type::map(Type::String, elem.cel.clone()),
                    elem: Some(elem),
                    max_elements: max,
                    min_size: 2,
                }));
            }
            let mut props: BTreeMap<String, Json> = s
                .get("properties")
                .and_then(Json::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            if resource_root {
                let string = serde_json::json!({"type": "string"});
                props
                    .entry("apiVersion".into())
                    .or_insert_with(|| string.clone());
                props.entry("kind".into()).or_insert_with(|| string.clone());
                let meta = props
                    .entry("metadata".into())
                    .or_insert_with(|| serde_json::json!({"type": "object", "properties": {}}));
                if meta.get("type").is_none() {
                    meta["type"] = "object".into();
                }
                if let Some(mp) = meta.as_object_mut() {
                    let p = mp
                        .entry("properties")
                        .or_insert_with(|| serde_json::json!({}));
                    if let Some(p) = p.as_object_mut() {
                        p.entry("name").or_insert_with(|| string.clone());
                        p.entry("generateName").or_insert_with(|| string.clone());
                    }
                }
            }
            let required: Vec<&str> = s
                .get("required")
                .and_then(Json::as_array)
                .map(|a| a.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            let mut fields = BTreeMap::new();
            let mut cel_fields = BTreeMap::new();
            let mut min_size = 2u64;
            for (k, p) in &props {
                let Some(t) = build(
                    p,
                    flag(p, "x-kubernetes-embedded-resource"),
                    &format!("{name}.{k}"),
                ) else {
                    continue;
                };
                if required.contains(&k.as_str()) && p.get("default").is_none() {
                    min_size += k.len() as u64 + t.min_size + 4;
                }
                if let Some(esc) = escape(k) {
                    cel_fields.insert(esc, t.cel.clone());
                }
                fields.insert(k.clone(), t);
            }
            Some(Arc::new(DeclType {
                kind: Kind::Object,
                fields,
                elem: None,
                max_elements: 0,
                min_size,
                cel: Type::Object(Arc::new(ObjectType {
                    name: name.to_string(),
                    fields: cel_fields,
                    dynamic: false,
                })),
            }))
        }
        "string" => Some(match s.get("format").and_then(Json::as_str) {
            Some("byte") => simple(
                Kind::Bytes,
                Type::Bytes,
                2,
                int(s, "maxLength").unwrap_or(MAX_REQUEST_SIZE_BYTES - 2),
            ),
            Some("duration") => simple(Kind::Duration, Type::Duration, 4, 64),
            Some("date") => simple(Kind::Timestamp, Type::Timestamp, 12, 12),
            Some("date-time") => simple(Kind::Timestamp, Type::Timestamp, 22, 34),
            _ => simple(Kind::String, Type::String, 2, max_string(s)),
        }),
        "boolean" => Some(simple(Kind::Bool, Type::Bool, 4, 0)),
        "number" => Some(simple(Kind::Double, Type::Double, 1, 0)),
        "integer" => Some(simple(Kind::Int, Type::Int, 1, 0)),
        _ => None,
    }
}

/// Marks a schema node as `dyn` (where [`inline_refs`] stops following references).
pub const DYN_MARKER: &str = "x-k3rs-cel-dyn";

/// Inlines the `$ref`s of an OpenAPI v3 schema (`#/components/schemas/<name>`, also wrapped
/// in a one-element `allOf`), from `components`, so [`decl_type`] can type it. Recursive or very
/// deep references become `dyn`. Quantities and int-or-strings keep their meaning.
pub fn inline_refs(schema: &Json, components: &serde_json::Map<String, Json>) -> Json {
    inline(schema, components, 0)
}

fn inline(s: &Json, comps: &serde_json::Map<String, Json>, depth: u32) -> Json {
    if depth > 24 {
        return serde_json::json!({ DYN_MARKER: true });
    }
    let Some(m) = s.as_object() else {
        return s.clone();
    };
    let target = m.get("$ref").and_then(Json::as_str).or_else(|| {
        m.get("allOf")
            .and_then(Json::as_array)
            .filter(|a| a.len() == 1)
            .and_then(|a| a[0].get("$ref"))
            .and_then(Json::as_str)
    });
    if let Some(r) = target {
        let name = r.rsplit('/').next().unwrap_or_default();
        if name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString" {
            return serde_json::json!({"x-kubernetes-int-or-string": true});
        }
        if name == "io.k8s.apimachinery.pkg.api.resource.Quantity" {
            return serde_json::json!({"x-kubernetes-int-or-string": true});
        }
        return match comps.get(name) {
            Some(def) => inline(def, comps, depth + 1),
            None => serde_json::json!({ DYN_MARKER: true }),
        };
    }
    let mut out = serde_json::Map::new();
    for (k, v) in m {
        match k.as_str() {
            "properties" => {
                if let Some(p) = v.as_object() {
                    out.insert(
                        k.clone(),
                        Json::Object(
                            p.iter()
                                .map(|(n, x)| (n.clone(), inline(x, comps, depth + 1)))
                                .collect(),
                        ),
                    );
                }
            }
            "items" | "additionalProperties" if v.is_object() => {
                out.insert(k.clone(), inline(v, comps, depth + 1));
            }
            "description" | "allOf" | "oneOf" | "anyOf" => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if !out.contains_key("type") && out.contains_key("properties") {
        out.insert("type".into(), "object".into());
    }
    if !out.contains_key("type") && !out.contains_key("x-kubernetes-int-or-string") {
        out.insert(DYN_MARKER.into(), true.into());
    }
    Json::Object(out)
}

/// How many times a rule at a node can run for one object: the product of the bounds of the
/// lists and maps above it (upstream's max cardinality).
pub fn cardinality_step(container: &Json, elem_min_size: u64) -> u64 {
    let ty = container.get("type").and_then(Json::as_str);
    let explicit = if ty == Some("array") {
        int(container, "maxItems")
    } else {
        int(container, "maxProperties")
    };
    explicit.unwrap_or_else(|| {
        let per = if ty == Some("array") {
            elem_min_size + 1
        } else {
            elem_min_size + 6
        };
        (MAX_REQUEST_SIZE_BYTES - 2) / per.max(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escaping_as_upstream() {
        assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
        assert_eq!(
            escape("a-b.c/d").as_deref(),
            Some("a__dash__b__dot__c__slash__d")
        );
        assert_eq!(escape("a__b").as_deref(), Some("a__underscores__b"));
        assert_eq!(escape("1a"), None);
        assert_eq!(escape("a b"), None);
        assert_eq!(escape("foo").as_deref(), Some("foo"));
    }

    #[test]
    fn schema_types() {
        let d = decl_type(
            &json!({"type": "object", "properties": {
                "when": {"type": "string", "format": "date-time"},
                "list": {"type": "array", "items": {"type": "integer"}},
                "m": {"type": "object", "additionalProperties": {"type": "string"}},
                "ios": {"x-kubernetes-int-or-string": true},
            }}),
            true,
        )
        .expect("decl");
        let Type::Object(o) = &d.cel else {
            panic!("{:?}", d.cel)
        };
        assert_eq!(o.fields["when"], Type::Timestamp);
        assert_eq!(o.fields["list"], Type::list(Type::Int));
        assert_eq!(o.fields["m"], Type::map(Type::String, Type::String));
        assert_eq!(o.fields["ios"], Type::Dyn);
        assert!(o.fields.contains_key("apiVersion"));
        assert_eq!(
            d.fields["list"].max_elements,
            (MAX_REQUEST_SIZE_BYTES - 2) / 2
        );
    }
}
