//! Small building blocks shared by every validator: field paths, error constructors and typed,
//! panic-free accessors over `serde_json::Value`.
//!
//! A field of the wrong JSON type is reported as `FieldValueInvalid` on that field (upstream rejects
//! it earlier, while decoding); the validator then treats the field as absent and carries on.

use serde_json::{Map, Value};

use super::{CauseType, FieldError};

/// The list every validator appends to.
pub(crate) type Errs = Vec<FieldError>;

// ---------------------------------------------------------------------------------------------
// Field paths, spelled like upstream's `field.Path`: `spec.containers[0].image`, `data[key]`.
// ---------------------------------------------------------------------------------------------

/// `path.name` (or just `name` at the root).
pub(crate) fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// `path[i]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// `path[key]` (map keys are not quoted, as upstream).
pub(crate) fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

// ---------------------------------------------------------------------------------------------
// Error constructors, one per upstream `field.*` helper.
// ---------------------------------------------------------------------------------------------

fn error(reason: CauseType, field: String, detail: String, bad_value: Option<Value>) -> FieldError {
    FieldError {
        reason,
        field,
        detail,
        bad_value,
    }
}

pub(crate) fn required(field: impl Into<String>, detail: &str) -> FieldError {
    error(CauseType::Required, field.into(), detail.to_string(), None)
}

pub(crate) fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
    error(CauseType::Forbidden, field.into(), detail.into(), None)
}

pub(crate) fn invalid(
    field: impl Into<String>,
    value: impl Into<Value>,
    detail: impl Into<String>,
) -> FieldError {
    error(
        CauseType::Invalid,
        field.into(),
        detail.into(),
        Some(value.into()),
    )
}

pub(crate) fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> FieldError {
    error(
        CauseType::Duplicate,
        field.into(),
        String::new(),
        Some(value.into()),
    )
}

/// `Unsupported value: "x": supported values: "a", "b"` (values listed in the order given).
pub(crate) fn not_supported(
    field: impl Into<String>,
    value: impl Into<Value>,
    supported: &[&str],
) -> FieldError {
    let detail = if supported.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
        format!("supported values: {}", quoted.join(", "))
    };
    error(
        CauseType::NotSupported,
        field.into(),
        detail,
        Some(value.into()),
    )
}

/// `Too long: may not be more than N bytes`.
pub(crate) fn too_long(field: impl Into<String>, max: usize) -> FieldError {
    let unit = if max == 1 { "byte" } else { "bytes" };
    error(
        CauseType::TooLong,
        field.into(),
        format!("may not be more than {max} {unit}"),
        None,
    )
}

/// `Too many: <actual>: must have at most N items`.
pub(crate) fn too_many(field: impl Into<String>, actual: usize, max: usize) -> FieldError {
    let unit = if max == 1 { "item" } else { "items" };
    error(
        CauseType::TooMany,
        field.into(),
        format!("must have at most {max} {unit}"),
        Some(Value::from(actual)),
    )
}

/// Adds one `Invalid` error per message, all on the same field and value.
pub(crate) fn invalid_each(errs: &mut Errs, field: &str, value: &str, msgs: Vec<String>) {
    for msg in msgs {
        errs.push(invalid(field, value, msg));
    }
}

// ---------------------------------------------------------------------------------------------
// Go's `%q` quoting, used when an error message prints a string value.
// ---------------------------------------------------------------------------------------------

/// Quotes `s` the way Go's `strconv.Quote` does (close enough for error messages).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' || c == '\u{feff}' => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------------------
// Typed accessors. `null` is treated as absent, like Go's decoder does for pointers and slices.
// ---------------------------------------------------------------------------------------------

fn type_error(field: String, value: &Value, expected: &str) -> FieldError {
    invalid(field, value.clone(), format!("must be of type {expected}"))
}

/// The raw member `k` of `v`, or `None` when `v` is not an object or the member is absent/null.
pub(crate) fn get<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    v.as_object()?.get(k).filter(|x| !x.is_null())
}

/// Whether `v` has a non-null member `k`.
pub(crate) fn has(v: &Value, k: &str) -> bool {
    get(v, k).is_some()
}

/// A string member; wrong types are reported and read as absent.
pub(crate) fn get_str<'a>(v: &'a Value, k: &str, path: &str, errs: &mut Errs) -> Option<&'a str> {
    match get(v, k)? {
        Value::String(s) => Some(s),
        other => {
            errs.push(type_error(child(path, k), other, "string"));
            None
        }
    }
}

/// A string member, `""` when absent (Go's zero value).
pub(crate) fn str_or_empty<'a>(v: &'a Value, k: &str, path: &str, errs: &mut Errs) -> &'a str {
    get_str(v, k, path, errs).unwrap_or("")
}

/// An integer member (JSON number without a fraction, within i64).
pub(crate) fn get_int(v: &Value, k: &str, path: &str, errs: &mut Errs) -> Option<i64> {
    let raw = get(v, k)?;
    match raw.as_i64() {
        Some(n) => Some(n),
        None => {
            errs.push(type_error(child(path, k), raw, "integer"));
            None
        }
    }
}

/// An int32 member; values outside the int32 range are reported.
pub(crate) fn get_i32(v: &Value, k: &str, path: &str, errs: &mut Errs) -> Option<i64> {
    let n = get_int(v, k, path, errs)?;
    if n < i64::from(i32::MIN) || n > i64::from(i32::MAX) {
        errs.push(invalid(
            child(path, k),
            n,
            "must be a 32-bit integer".to_string(),
        ));
        return None;
    }
    Some(n)
}

/// A boolean member.
pub(crate) fn get_bool(v: &Value, k: &str, path: &str, errs: &mut Errs) -> Option<bool> {
    let raw = get(v, k)?;
    match raw {
        Value::Bool(b) => Some(*b),
        other => {
            errs.push(type_error(child(path, k), other, "boolean"));
            None
        }
    }
}

/// An array member, empty when absent or of the wrong type (reported).
pub(crate) fn get_array<'a>(v: &'a Value, k: &str, path: &str, errs: &mut Errs) -> &'a [Value] {
    match get(v, k) {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(other) => {
            errs.push(type_error(child(path, k), other, "array"));
            &[]
        }
    }
}

/// An object member (returned as the `Value` so it can be passed to other accessors).
pub(crate) fn get_object<'a>(
    v: &'a Value,
    k: &str,
    path: &str,
    errs: &mut Errs,
) -> Option<&'a Value> {
    match get(v, k)? {
        obj @ Value::Object(_) => Some(obj),
        other => {
            errs.push(type_error(child(path, k), other, "object"));
            None
        }
    }
}

/// The object elements of array member `k`, each with its index and path. Elements that are not
/// objects are reported and skipped.
pub(crate) fn object_items<'a>(
    v: &'a Value,
    k: &str,
    path: &str,
    errs: &mut Errs,
) -> Vec<(usize, String, &'a Value)> {
    let list_path = child(path, k);
    let mut out = Vec::new();
    for (i, item) in get_array(v, k, path, errs).iter().enumerate() {
        let item_path = index(&list_path, i);
        if item.is_object() {
            out.push((i, item_path, item));
        } else if !item.is_null() {
            errs.push(type_error(item_path, item, "object"));
        }
    }
    out
}

/// The string elements of array member `k`, with their index; others are reported and skipped.
pub(crate) fn string_items<'a>(
    v: &'a Value,
    k: &str,
    path: &str,
    errs: &mut Errs,
) -> Vec<(usize, &'a str)> {
    let list_path = child(path, k);
    let mut out = Vec::new();
    for (i, item) in get_array(v, k, path, errs).iter().enumerate() {
        match item {
            Value::String(s) => out.push((i, s.as_str())),
            other => errs.push(type_error(index(&list_path, i), other, "string")),
        }
    }
    out
}

/// A `map[string]string` held directly in `v` (not a member). Non-string values are reported.
pub(crate) fn as_string_map<'a>(
    v: &'a Value,
    path: &str,
    errs: &mut Errs,
) -> Vec<(&'a str, &'a str)> {
    match v {
        Value::Null => Vec::new(),
        Value::Object(map) => string_entries(map, path, errs),
        other => {
            errs.push(type_error(path.to_string(), other, "object"));
            Vec::new()
        }
    }
}

/// A `map[string]string` member.
pub(crate) fn get_string_map<'a>(
    v: &'a Value,
    k: &str,
    path: &str,
    errs: &mut Errs,
) -> Vec<(&'a str, &'a str)> {
    match get(v, k) {
        None => Vec::new(),
        Some(m) => as_string_map(m, &child(path, k), errs),
    }
}

fn string_entries<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    errs: &mut Errs,
) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::with_capacity(map.len());
    for (k, val) in map {
        match val {
            Value::String(s) => out.push((k.as_str(), s.as_str())),
            // Go decodes a null map value as "".
            Value::Null => out.push((k.as_str(), "")),
            other => errs.push(type_error(key(path, k), other, "string")),
        }
    }
    out
}

/// An int-or-string member (`intstr.IntOrString`).
pub(crate) enum IntOrStr<'a> {
    Int(i64),
    Str(&'a str),
}

pub(crate) fn get_int_or_str<'a>(
    v: &'a Value,
    k: &str,
    path: &str,
    errs: &mut Errs,
) -> Option<IntOrStr<'a>> {
    let raw = get(v, k)?;
    match raw {
        Value::String(s) => Some(IntOrStr::Str(s)),
        Value::Number(n) => match n.as_i64() {
            Some(i) if i >= i64::from(i32::MIN) && i <= i64::from(i32::MAX) => {
                Some(IntOrStr::Int(i))
            }
            _ => {
                errs.push(type_error(child(path, k), raw, "int32 or string"));
                None
            }
        },
        other => {
            errs.push(type_error(child(path, k), other, "int32 or string"));
            None
        }
    }
}

/// `v` with absent-equivalent members removed (nulls, empty arrays, empty strings), recursively,
/// so two objects compare equal when Go's semantic equality would call them equal.
pub(crate) fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, val) in map {
                let is_absent = match val {
                    Value::Null => true,
                    Value::Array(items) => items.is_empty(),
                    Value::String(s) => s.is_empty(),
                    _ => false,
                };
                if !is_absent {
                    out.insert(k.clone(), normalized(val));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// Semantic equality of two optional members (see [`normalized`]).
pub(crate) fn semantically_equal(a: Option<&Value>, b: Option<&Value>) -> bool {
    let norm = |x: Option<&Value>| match x.map(normalized) {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if items.is_empty() => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::Object(m)) if m.is_empty() => None,
        other => other,
    };
    norm(a) == norm(b)
}
