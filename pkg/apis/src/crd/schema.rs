//! Structural schemas (`openAPIV3Schema`) applied to custom resources, as upstream's
//! apiextensions-apiserver does: pruning of unknown fields, defaulting, and validation with
//! upstream's field paths and messages (`spec.replicas: Invalid value: "string": spec.replicas in
//! body must be of type integer: "string"`).
//!
//! `x-kubernetes-validations` (CEL rules) are evaluated by [`super::cel`]. Not implemented:
//! `multipleOf` on non-integers is checked with floating point.

use serde_json::{Map, Value};

use crate::validation::util::{child, duplicate, index, invalid, not_supported, required};
use crate::validation::{CauseType, FieldError};

/// The Go type name of a JSON value, as upstream's type errors print it.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => true,
    }
}

fn flag(s: &Value, k: &str) -> bool {
    s.get(k).and_then(Value::as_bool) == Some(true)
}

fn props(s: &Value) -> Option<&Map<String, Value>> {
    s.get("properties").and_then(Value::as_object)
}

/// Whether the object at this schema keeps fields its schema does not name.
fn preserves(s: &Value) -> bool {
    flag(s, "x-kubernetes-preserve-unknown-fields")
}

/// Drops the fields the schema does not specify (unless `x-kubernetes-preserve-unknown-fields`).
/// At the root (and in embedded resources) `apiVersion`, `kind` and `metadata` are kept, minus
/// the fields ObjectMeta does not have.
pub fn prune(schema: &Value, obj: &mut Value) {
    prune_reporting(schema, obj);
}

/// [`prune`], returning the paths of what was dropped, for strict field validation, in
/// upstream's order: unknown fields of the object's ObjectMeta (`metadata.foo`), those the
/// schema does not specify (`spec.foo`, `spec.list[0].bar`), those of embedded resources'
/// ObjectMeta (`spec.template.metadata.foo`); each group sorted.
pub fn prune_reporting(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut out = prune_meta(obj, "");
    let mut pruned = Some(Vec::new());
    prune_at(schema, obj, true, "", &mut pruned);
    let mut pruned = pruned.unwrap_or_default();
    pruned.sort();
    out.extend(pruned);
    let mut embedded = Vec::new();
    prune_embedded_meta(schema, obj, "", &mut embedded);
    embedded.sort();
    out.extend(embedded);
    out
}

/// Drops the unknown fields of the ObjectMeta of the resource `obj` (at `path`), returning
/// their paths, sorted.
fn prune_meta(obj: &mut Value, path: &str) -> Vec<String> {
    let Some(meta) = obj.get_mut("metadata").filter(|m| m.is_object()) else {
        return Vec::new();
    };
    let mut unknown =
        crate::protobuf::prune_object_meta(meta, &child(path, "metadata")).unwrap_or_default();
    unknown.sort();
    unknown
}

/// The ObjectMeta of every embedded resource below the root, as upstream's coercion of
/// embedded objects: walked along the schema's properties, items and additional properties.
fn prune_embedded_meta(s: &Value, v: &mut Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if !path.is_empty() && flag(s, "x-kubernetes-embedded-resource") {
                if let Some(meta) = m.get_mut("metadata").filter(|x| x.is_object()) {
                    out.extend(
                        crate::protobuf::prune_object_meta(meta, &child(path, "metadata"))
                            .unwrap_or_default(),
                    );
                }
            }
            let properties = props(s);
            let additional = s.get("additionalProperties").filter(|a| a.is_object());
            for (k, val) in m.iter_mut() {
                if let Some(ps) = properties.and_then(|p| p.get(k)) {
                    prune_embedded_meta(ps, val, &child(path, k), out);
                } else if let Some(a) = additional {
                    prune_embedded_meta(a, val, &crate::validation::util::key(path, k), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for (i, it) in items.iter_mut().enumerate() {
                    prune_embedded_meta(is, it, &index(path, i), out);
                }
            }
        }
        _ => {}
    }
}

fn prune_at(s: &Value, v: &mut Value, resource: bool, path: &str, out: &mut Option<Vec<String>>) {
    match v {
        Value::Object(m) => {
            let embedded = resource || flag(s, "x-kubernetes-embedded-resource");
            let properties = props(s);
            let additional = s.get("additionalProperties");
            let keep_unknown = preserves(s) || matches!(additional, Some(Value::Bool(true)));
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                if embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    // ObjectMeta is handled by the generic metadata code; apiVersion/kind stay.
                    if let (Some(ps), Some(val)) =
                        (properties.and_then(|p| p.get(&k)), m.get_mut(&k))
                    {
                        if k != "metadata" {
                            prune_at(ps, val, false, &child(path, &k), out);
                        }
                    }
                    continue;
                }
                if let Some(ps) = properties.and_then(|p| p.get(&k)) {
                    if let Some(val) = m.get_mut(&k) {
                        prune_at(ps, val, false, &child(path, &k), out);
                    }
                } else if let Some(a @ Value::Object(_)) = additional {
                    if let Some(val) = m.get_mut(&k) {
                        prune_at(a, val, false, &child(path, &k), out);
                    }
                } else if !keep_unknown {
                    m.remove(&k);
                    if let Some(o) = out.as_mut() {
                        o.push(child(path, &k));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for (i, it) in items.iter_mut().enumerate() {
                    prune_at(is, it, false, &index(path, i), out);
                }
            }
        }
        _ => {}
    }
}

/// Applies `default`s: a missing field (or a null one that is not nullable) whose schema has a
/// default gets it, recursively.
pub fn apply_defaults(schema: &Value, obj: &mut Value) {
    match obj {
        Value::Object(m) => {
            if let Some(properties) = props(schema) {
                for (k, ps) in properties {
                    let missing = match m.get(k) {
                        None => true,
                        Some(Value::Null) => !flag(ps, "nullable"),
                        _ => false,
                    };
                    if missing {
                        if let Some(d) = ps.get("default") {
                            m.insert(k.clone(), d.clone());
                        }
                    }
                    if let Some(val) = m.get_mut(k) {
                        apply_defaults(ps, val);
                    }
                }
            }
            if let Some(a @ Value::Object(_)) = schema.get("additionalProperties") {
                for val in m.values_mut() {
                    apply_defaults(a, val);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = schema.get("items") {
                for it in items {
                    apply_defaults(is, it);
                }
            }
        }
        _ => {}
    }
}

/// Whether an error at `field` (`spec.list[0].name`, `spec.map[key]`) is on a value an update
/// did not change, so that validation ratcheting lets it through. Values are correlated as
/// upstream: object properties and map keys by name, items of `listType: map` lists by their
/// keys; items of other lists cannot be correlated and ratchet only when their whole list is
/// unchanged.
pub fn unchanged_at(schema: &Value, obj: &Value, old: &Value, field: &str) -> bool {
    let mut s = schema;
    let (mut new, mut prev) = (Some(obj), Some(old));
    let mut rest = field;
    while !rest.is_empty() {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        let (seg, bracket) = match rest.strip_prefix('[') {
            Some(r) => match r.find(']') {
                Some(e) => {
                    let seg = &r[..e];
                    rest = &r[e + 1..];
                    (seg, true)
                }
                None => return new == prev,
            },
            None => {
                let e = rest.find(['.', '[']).unwrap_or(rest.len());
                let seg = &rest[..e];
                rest = &rest[e..];
                (seg, false)
            }
        };
        let is_array = s.get("type").and_then(Value::as_str) == Some("array");
        if bracket && is_array {
            let Ok(i) = seg.parse::<usize>() else {
                return new == prev;
            };
            if s.get("x-kubernetes-list-type").and_then(Value::as_str) != Some("map") {
                // Uncorrelatable: the nearest correlated value is the list itself.
                return new == prev;
            }
            let keys: Vec<&str> = s
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let item = new.and_then(|v| v.get(i));
            prev = match (item, prev.and_then(Value::as_array)) {
                (Some(it), Some(olds)) => olds
                    .iter()
                    .find(|o| keys.iter().all(|k| o.get(*k) == it.get(*k))),
                _ => None,
            };
            new = item;
            s = s.get("items").unwrap_or(&Value::Null);
        } else {
            new = new.and_then(|v| v.get(seg));
            prev = prev.and_then(|v| v.get(seg));
            s = match props(s).and_then(|p| p.get(seg)) {
                Some(p) => p,
                None => s.get("additionalProperties").unwrap_or(&Value::Null),
            };
        }
    }
    new == prev
}

/// Validates a custom resource against its schema. `metadata` is left to the generic metadata
/// validation; `apiVersion`/`kind` were checked by the store.
pub fn validate(schema: &Value, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Value::Object(m) = obj else {
        errs.push(invalid("", type_name(obj), "must be an object"));
        return errs;
    };
    let properties = props(schema);
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for r in req.iter().filter_map(Value::as_str) {
            if !matches!(r, "apiVersion" | "kind" | "metadata") && !m.contains_key(r) {
                errs.push(required(r, ""));
            }
        }
    }
    for (k, v) in m {
        if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(ps) = properties.and_then(|p| p.get(k)) {
            validate_value(ps, v, k, &mut errs);
        } else if let Some(a @ Value::Object(_)) = schema.get("additionalProperties") {
            validate_value(a, v, k, &mut errs);
        }
    }
    errs
}

fn body_invalid(path: &str, value: &Value, detail: String) -> FieldError {
    invalid(path, value.clone(), detail)
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn fmt_num(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn validate_value(s: &Value, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if v.is_null() {
        if flag(s, "nullable") {
            return;
        }
        if let Some(t) = s.get("type").and_then(Value::as_str) {
            errs.push(body_invalid(
                path,
                &Value::from("null"),
                format!("{path} in body must be of type {t}: \"null\""),
            ));
            return;
        }
        if flag(s, "x-kubernetes-int-or-string") {
            errs.push(body_invalid(
                path,
                &Value::from("null"),
                format!("{path} in body must be of type integer,string: \"null\""),
            ));
        }
        return;
    }
    if flag(s, "x-kubernetes-int-or-string") {
        if !(v.is_string() || v.is_i64() || v.is_u64()) {
            let t = type_name(v);
            errs.push(body_invalid(
                path,
                &Value::from(t),
                format!("{path} in body must be of type integer,string: {t:?}"),
            ));
            return;
        }
    } else if let Some(t) = s.get("type").and_then(Value::as_str) {
        if !is_type(v, t) {
            let actual = type_name(v);
            errs.push(body_invalid(
                path,
                &Value::from(actual),
                format!("{path} in body must be of type {t}: {actual:?}"),
            ));
            return;
        }
    }
    if let Some(en) = s.get("enum").and_then(Value::as_array) {
        if !en.contains(v) {
            let supported: Vec<String> = en
                .iter()
                .map(|e| match e {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            let refs: Vec<&str> = supported.iter().map(String::as_str).collect();
            errs.push(not_supported(path, v.clone(), &refs));
        }
    }
    match v {
        Value::Number(_) => validate_number(s, v, path, errs),
        Value::String(st) => validate_string(s, st, v, path, errs),
        Value::Array(items) => validate_array(s, items, v, path, errs),
        Value::Object(m) => validate_object(s, m, v, path, errs),
        _ => {}
    }
    for (k, msg) in [
        ("allOf", ""),
        ("anyOf", "must validate at least one schema (anyOf)"),
        ("oneOf", "must validate one and only one schema (oneOf)"),
    ] {
        let Some(subs) = s.get(k).and_then(Value::as_array) else {
            continue;
        };
        let results: Vec<Vec<FieldError>> = subs
            .iter()
            .map(|sub| {
                let mut e = Vec::new();
                validate_value(sub, v, path, &mut e);
                e
            })
            .collect();
        match k {
            "allOf" => errs.extend(results.into_iter().flatten()),
            "anyOf" if !results.iter().any(Vec::is_empty) => {
                errs.push(body_invalid(path, v, format!("{path} in body {msg}")));
            }
            "oneOf" if results.iter().filter(|e| e.is_empty()).count() != 1 => {
                errs.push(body_invalid(path, v, format!("{path} in body {msg}")));
            }
            _ => {}
        }
    }
    if let Some(not) = s.get("not") {
        let mut e = Vec::new();
        validate_value(not, v, path, &mut e);
        if e.is_empty() {
            errs.push(body_invalid(
                path,
                v,
                format!("{path} in body must not validate the schema (not)"),
            ));
        }
    }
}

fn validate_number(s: &Value, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(x) = num(v) else { return };
    if let Some(min) = s.get("minimum") {
        if let Some(m) = num(min) {
            let excl = flag(s, "exclusiveMinimum");
            if (excl && x <= m) || (!excl && x < m) {
                let op = if excl {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                errs.push(body_invalid(
                    path,
                    v,
                    format!("{path} in body should be {op} {}", fmt_num(min)),
                ));
            }
        }
    }
    if let Some(max) = s.get("maximum") {
        if let Some(m) = num(max) {
            let excl = flag(s, "exclusiveMaximum");
            if (excl && x >= m) || (!excl && x > m) {
                let op = if excl {
                    "less than"
                } else {
                    "less than or equal to"
                };
                errs.push(body_invalid(
                    path,
                    v,
                    format!("{path} in body should be {op} {}", fmt_num(max)),
                ));
            }
        }
    }
    if let Some(mo) = s.get("multipleOf") {
        if let Some(m) = num(mo).filter(|m| *m > 0.0) {
            let q = x / m;
            if (q - q.round()).abs() > 1e-9 {
                errs.push(body_invalid(
                    path,
                    v,
                    format!("{path} in body should be a multiple of {}", fmt_num(mo)),
                ));
            }
        }
    }
    if let Some(f) = s.get("format").and_then(Value::as_str) {
        let ok = match f {
            "int32" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            "int64" => v.is_i64(),
            "float" => x.is_finite() && (x as f32).is_finite(),
            _ => true,
        };
        if !ok {
            errs.push(body_invalid(
                path,
                v,
                format!("{path} in body must be of type {f}: {:?}", fmt_num(v)),
            ));
        }
    }
}

fn check_format(f: &str, st: &str) -> bool {
    match f {
        "date-time" | "datetime" => chrono::DateTime::parse_from_rfc3339(st).is_ok(),
        "date" => chrono::NaiveDate::parse_from_str(st, "%Y-%m-%d").is_ok(),
        "byte" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(st).is_ok()
        }
        "uuid" => is_uuid(st),
        "ipv4" => st.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => st.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => st.split_once('/').is_some_and(|(ip, p)| {
            ip.parse::<std::net::IpAddr>().is_ok() && p.parse::<u8>().is_ok_and(|p| p <= 128)
        }),
        "hostname" => crate::validation::is_dns1123_subdomain(st),
        "email" => st
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')),
        "duration" => is_duration(st),
        "mac" => {
            let parts: Vec<&str> = st.split([':', '-']).collect();
            matches!(parts.len(), 6 | 8 | 20)
                && parts
                    .iter()
                    .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
        }
        "uri" => st.contains(':'),
        // Unknown formats (and "password", "int-or-string", ...) are not checked, as upstream.
        _ => true,
    }
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Go durations: `1h2m3.5s`, `300ms`, `-1.5h`.
fn is_duration(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    if s.is_empty() {
        return false;
    }
    let mut rest = s;
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if n == 0 {
            return false;
        }
        rest = &rest[n..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .filter(|u| rest.starts_with(**u))
            .max_by_key(|u| u.len());
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

fn validate_string(s: &Value, st: &str, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let len = st.chars().count() as u64;
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
        if len > max {
            errs.push(FieldError {
                reason: CauseType::TooLong,
                field: path.to_string(),
                detail: format!(
                    "may not be more than {max} {}",
                    if max == 1 { "byte" } else { "bytes" }
                ),
                bad_value: None,
            });
        }
    }
    if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
        if len < min {
            errs.push(body_invalid(
                path,
                v,
                format!("{path} in body should be at least {min} chars long"),
            ));
        }
    }
    if let Some(p) = s.get("pattern").and_then(Value::as_str) {
        match regex::Regex::new(p) {
            Ok(re) if !re.is_match(st) => errs.push(body_invalid(
                path,
                v,
                format!("{path} in body should match '{p}'"),
            )),
            Ok(_) => {}
            Err(_) => errs.push(body_invalid(
                path,
                v,
                format!("{path} in body has a pattern this server cannot compile: '{p}'"),
            )),
        }
    }
    if let Some(f) = s.get("format").and_then(Value::as_str) {
        if !check_format(f, st) {
            errs.push(body_invalid(
                path,
                v,
                format!("{path} in body must be of type {f}: {st:?}"),
            ));
        }
    }
}

/// The size bounds of `s` against `len`: `[max key, min key, what the minimum counts]`, as
/// `["maxItems", "minItems", "items"]`.
fn check_size(
    s: &Value,
    [max_key, min_key, noun]: [&str; 3],
    len: usize,
    v: &Value,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    if let Some(max) = s.get(max_key).and_then(Value::as_u64) {
        if len as u64 > max {
            errs.push(FieldError {
                reason: CauseType::TooMany,
                field: path.to_string(),
                detail: format!(
                    "must have at most {max} {}",
                    if max == 1 { "item" } else { "items" }
                ),
                bad_value: Some(Value::from(len)),
            });
        }
    }
    if let Some(min) = s.get(min_key).and_then(Value::as_u64) {
        if (len as u64) < min {
            errs.push(body_invalid(
                path,
                v,
                format!("{path} in body should have at least {min} {noun}"),
            ));
        }
    }
}

fn validate_array(s: &Value, items: &[Value], v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    check_size(
        s,
        ["maxItems", "minItems", "items"],
        items.len(),
        v,
        path,
        errs,
    );
    if flag(s, "uniqueItems") {
        for (i, it) in items.iter().enumerate() {
            if items[..i].contains(it) {
                errs.push(body_invalid(
                    path,
                    v,
                    format!("{path} in body shouldn't contain duplicates"),
                ));
                break;
            }
        }
    }
    match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => {
            for (i, it) in items.iter().enumerate() {
                if items[..i].contains(it) {
                    errs.push(duplicate(index(path, i), it.clone()));
                }
            }
        }
        Some("map") => {
            let keys: Vec<&str> = s
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let key_of = |it: &Value| -> Value {
                let mut m = Map::new();
                for k in &keys {
                    if let Some(x) = it.get(*k) {
                        m.insert(k.to_string(), x.clone());
                    }
                }
                Value::Object(m)
            };
            let ks: Vec<Value> = items.iter().map(key_of).collect();
            for (i, k) in ks.iter().enumerate() {
                if ks[..i].contains(k) {
                    errs.push(duplicate(index(path, i), k.clone()));
                }
            }
        }
        _ => {}
    }
    if let Some(is) = s.get("items") {
        for (i, it) in items.iter().enumerate() {
            validate_value(is, it, &index(path, i), errs);
        }
    }
}

fn validate_object(
    s: &Value,
    m: &Map<String, Value>,
    v: &Value,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    if let Some(req) = s.get("required").and_then(Value::as_array) {
        for r in req.iter().filter_map(Value::as_str) {
            if !m.contains_key(r) {
                errs.push(required(child(path, r), ""));
            }
        }
    }
    check_size(
        s,
        ["maxProperties", "minProperties", "properties"],
        m.len(),
        v,
        path,
        errs,
    );
    if flag(s, "x-kubernetes-embedded-resource") {
        for f in ["apiVersion", "kind"] {
            match m.get(f).and_then(Value::as_str) {
                Some(x) if !x.is_empty() => {}
                _ => errs.push(required(child(path, f), "must not be empty")),
            }
        }
    }
    let properties = props(s);
    for (k, val) in m {
        if let Some(ps) = properties.and_then(|p| p.get(k)) {
            validate_value(ps, val, &child(path, k), errs);
        } else if let Some(a @ Value::Object(_)) = s.get("additionalProperties") {
            validate_value(a, val, &child(path, k), errs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": {"type": "string", "enum": ["S", "M", "L"]},
                        "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
                        "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                        "when": {"type": "string", "format": "date-time"},
                        "port": {"x-kubernetes-int-or-string": true},
                        "tags": {"type": "array", "x-kubernetes-list-type": "set", "maxItems": 3, "items": {"type": "string"}},
                        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "nested": {"type": "object", "default": {}, "properties": {"x": {"type": "string", "default": "dx"}}},
                        "opt": {"type": "string", "nullable": true},
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                    }
                },
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
            }
        })
    }

    fn messages(obj: Value) -> Vec<String> {
        validate(&schema(), &obj)
            .iter()
            .map(FieldError::message)
            .collect()
    }

    #[test]
    fn errors_read_like_upstream() {
        let m = messages(json!({"spec": {"size": "XL", "replicas": "3"}}));
        assert!(
            m.contains(
                &r#"spec.size: Unsupported value: "XL": supported values: "S", "M", "L""#
                    .to_string()
            ),
            "{m:?}"
        );
        assert!(m.contains(&r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#.to_string()), "{m:?}");
        let m = messages(json!({"spec": {"replicas": 11, "name": "ABCDEFG"}}));
        assert!(
            m.contains(&"spec.size: Required value".to_string()),
            "{m:?}"
        );
        assert!(m.contains(&"spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10".to_string()), "{m:?}");
        assert!(
            m.contains(&"spec.name: Too long: may not be more than 5 bytes".to_string()),
            "{m:?}"
        );
        assert!(m.contains(&r#"spec.name: Invalid value: "ABCDEFG": spec.name in body should match '^[a-z]+$'"#.to_string()), "{m:?}");
        let m = messages(
            json!({"spec": {"size": "S", "when": "yesterday", "port": true,
            "tags": ["a", "a"], "ports": [{"name": "x"}, {"name": "x", "port": 2}], "opt": null,
            "template": {"kind": "Pod"}}}),
        );
        assert!(m.contains(&r#"spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday""#.to_string()), "{m:?}");
        assert!(m.contains(&r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#.to_string()), "{m:?}");
        assert!(
            m.contains(&r#"spec.tags[1]: Duplicate value: "a""#.to_string()),
            "{m:?}"
        );
        assert!(
            m.contains(&r#"spec.ports[1]: Duplicate value: {"name":"x"}"#.to_string()),
            "{m:?}"
        );
        assert!(
            m.contains(&"spec.template.apiVersion: Required value: must not be empty".to_string()),
            "{m:?}"
        );
        assert_eq!(m.len(), 5, "{m:?}");
        assert!(messages(
            json!({"spec": {"size": "M", "port": "http", "when": "2024-01-02T03:04:05Z"}})
        )
        .is_empty());
    }

    #[test]
    fn pruning_and_defaulting() {
        let mut obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
            "junk": 1, "spec": {"size": "S", "unknown": true, "free": {"any": {"thing": 1}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "extra": 1}},
            "status": {"ready": true, "other": 1}});
        prune(&schema(), &mut obj);
        apply_defaults(&schema(), &mut obj);
        assert_eq!(
            obj,
            json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"size": "S", "replicas": 1, "nested": {"x": "dx"}, "free": {"any": {"thing": 1}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "extra": 1}},
            "status": {"ready": true}})
        );
    }

    #[test]
    fn odd_input_never_panics() {
        for v in [
            json!(null),
            json!([1]),
            json!("x"),
            json!({"spec": [1, 2]}),
            json!({"spec": {"ports": "x"}}),
        ] {
            let mut c = v.clone();
            prune(&schema(), &mut c);
            apply_defaults(&schema(), &mut c);
            let _ = validate(&schema(), &v);
        }
        assert!(is_duration("1h30m") && is_duration("300ms") && !is_duration("1x"));
    }
}
