//! OpenAPI v3 documents, converted from the v2 forms of paths and definitions the way upstream's
//! kube-openapi builder writes them: `$ref` with siblings becomes `allOf: [{$ref}]`, body
//! parameters become `requestBody`, `produces` becomes response `content`, and each group
//! version's document carries only the schemas its paths reach.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

const V2_PREFIX: &str = "#/definitions/";
const V3_PREFIX: &str = "#/components/schemas/";

/// A v2 schema as v3.
pub fn schema(v2: &Value) -> Value {
    match v2 {
        Value::Object(obj) => {
            let mut out = Map::new();
            let mut reference = None;
            for (k, v) in obj {
                match k.as_str() {
                    "$ref" => {
                        let r = v.as_str().unwrap_or_default();
                        reference = Some(match r.strip_prefix(V2_PREFIX) {
                            Some(name) => format!("{V3_PREFIX}{name}"),
                            None => r.to_string(),
                        });
                    }
                    "properties" | "definitions" => {
                        let props = v
                            .as_object()
                            .map(|m| m.iter().map(|(n, s)| (n.clone(), schema(s))).collect())
                            .unwrap_or_default();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    "items" | "additionalProperties" | "not" => {
                        out.insert(k.clone(), schema(v));
                    }
                    "allOf" | "anyOf" | "oneOf" => {
                        let list = v
                            .as_array()
                            .map(|a| a.iter().map(schema).collect())
                            .unwrap_or_default();
                        out.insert(k.clone(), Value::Array(list));
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            if let Some(r) = reference {
                if out.is_empty() {
                    out.insert("$ref".into(), json!(r));
                } else {
                    out.insert("allOf".into(), json!([{ "$ref": r }]));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// A v2 definition as a v3 component schema (with upstream's v3 form of `IntOrString` and
/// `Quantity`).
pub fn definition(name: &str, v2: &Value) -> Value {
    let mut s = schema(v2);
    if let Some(obj) = s.as_object_mut() {
        match name {
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
                obj.remove("type");
                obj.insert(
                    "oneOf".into(),
                    json!([{"type": "integer"}, {"type": "string"}]),
                );
            }
            "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
                obj.remove("type");
                obj.insert(
                    "oneOf".into(),
                    json!([{"type": "string"}, {"type": "number"}]),
                );
            }
            _ => {}
        }
    }
    s
}

fn parameter(p: &Value) -> Value {
    let mut out = Map::new();
    let mut sch = Map::new();
    if let Some(obj) = p.as_object() {
        for (k, v) in obj {
            match k.as_str() {
                "type" | "uniqueItems" | "format" | "items" | "enum" | "default" => {
                    sch.insert(k.clone(), v.clone());
                }
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    out.insert("schema".into(), Value::Object(sch));
    Value::Object(out)
}

fn content(types: &[Value], schema_v2: &Value) -> Value {
    let s = schema(schema_v2);
    let mut c = Map::new();
    for t in types.iter().filter_map(Value::as_str) {
        c.insert(t.to_string(), json!({ "schema": s }));
    }
    Value::Object(c)
}

fn operation(op: &Value) -> Value {
    let Some(obj) = op.as_object() else {
        return op.clone();
    };
    let empty = Vec::new();
    let consumes = obj
        .get("consumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| vec![json!("*/*")]);
    let produces = obj
        .get("produces")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut out = Map::new();
    for (k, v) in obj {
        match k.as_str() {
            "consumes" | "produces" | "schemes" => {}
            "parameters" => {
                let mut params = Vec::new();
                for p in v.as_array().unwrap_or(&empty) {
                    if p.get("in").and_then(Value::as_str) == Some("body") {
                        let mut body = json!({
                            "content": content(&consumes, p.get("schema").unwrap_or(&Value::Null)),
                        });
                        if p.get("required").and_then(Value::as_bool) == Some(true) {
                            body["required"] = json!(true);
                        }
                        out.insert("requestBody".into(), body);
                    } else {
                        params.push(parameter(p));
                    }
                }
                if !params.is_empty() {
                    out.insert("parameters".into(), Value::Array(params));
                }
            }
            "responses" => {
                let mut rs = Map::new();
                for (code, r) in v.as_object().into_iter().flatten() {
                    let mut nr = json!({
                        "description": r.get("description").cloned().unwrap_or(json!("")),
                    });
                    if let Some(s) = r.get("schema") {
                        nr["content"] = content(produces, s);
                    }
                    rs.insert(code.clone(), nr);
                }
                out.insert(k.clone(), Value::Object(rs));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// A v2 path item as v3.
pub fn path_item(item: &Value) -> Value {
    let Some(obj) = item.as_object() else {
        return item.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        if k == "parameters" {
            let ps: Vec<Value> = v.as_array().into_iter().flatten().map(parameter).collect();
            out.insert(k.clone(), Value::Array(ps));
        } else {
            out.insert(k.clone(), operation(v));
        }
    }
    Value::Object(out)
}

/// Every definition name `v` refers to (v2 or v3 form).
pub fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(obj) => {
            for (k, x) in obj {
                if k == "$ref" {
                    if let Some(r) = x.as_str() {
                        if let Some(n) = r
                            .strip_prefix(V2_PREFIX)
                            .or_else(|| r.strip_prefix(V3_PREFIX))
                        {
                            out.insert(n.to_string());
                        }
                    }
                } else {
                    refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// The names `roots` reach through `definitions`, themselves included.
pub fn closure(roots: BTreeSet<String>, definitions: &BTreeMap<String, Value>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.into_iter().collect();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        if let Some(d) = definitions.get(&n) {
            let mut next = BTreeSet::new();
            refs(d, &mut next);
            todo.extend(next.into_iter().filter(|x| !seen.contains(x)));
        }
    }
    seen
}

/// A v3 document of the given v2 paths, with the definitions they reach.
pub fn document(
    paths_v2: &BTreeMap<String, Value>,
    definitions: &BTreeMap<String, Value>,
) -> Value {
    let mut roots = BTreeSet::new();
    for item in paths_v2.values() {
        refs(item, &mut roots);
    }
    let schemas: Map<String, Value> = closure(roots, definitions)
        .into_iter()
        .filter_map(|n| definitions.get(&n).map(|d| (n.clone(), definition(&n, d))))
        .collect();
    let paths: Map<String, Value> = paths_v2
        .iter()
        .map(|(p, item)| (p.clone(), path_item(item)))
        .collect();
    json!({
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "in": "header",
                    "name": "authorization",
                    "type": "apiKey",
                },
            },
        },
        "info": {"title": "Kubernetes", "version": super::KUBERNETES_VERSION},
        "openapi": "3.0.0",
        "paths": paths,
        "security": [{"BearerToken": []}],
    })
}
