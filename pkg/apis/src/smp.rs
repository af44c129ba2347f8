//! Strategic merge patch (`application/strategic-merge-patch+json`), applied the way upstream's
//! API server applies it.
//!
//! A strategic merge patch is a JSON merge patch whose lists can be merged rather than replaced:
//! the list/patch metadata of each field ([`crate::patchmeta`]) says whether a list is merged by a
//! key (containers by `name`), merged as a set of scalars (finalizers) or replaced. Directives in
//! the patch refine this:
//!
//! - `$patch: replace` in a map replaces the map; in a list item it replaces the whole list;
//! - `$patch: delete` in a map empties it; in a list item it deletes the items with its merge key;
//! - `$retainKeys: [...]` in a map drops every key of the original not listed;
//! - `$setElementOrder/<field>: [...]` fixes the order of a merged list;
//! - `$deleteFromPrimitiveList/<field>: [...]` deletes scalars from a list;
//! - `null` deletes a field.
//!
//! Semantics follow upstream's apimachinery `strategicpatch` package (server side:
//! parallel lists merged, unmatched nulls ignored), including its error cases. Where upstream's
//! Go-struct walk fails or panics on input the Go types cannot describe, k3rs does something
//! sensible instead:
//! - fields the type graph does not know: maps are merged like JSON merge patch, lists replaced
//!   (upstream: "unable to find api field" when both sides are maps or lists);
//! - map values of message type (CRD `properties`) are merged as that message;
//! - raw JSON (`RawExtension`, apiextensions `JSON`, `FieldsV1`) is replaced whole.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::patchmeta::{self, FieldMeta};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// How the API server answers a failed patch (upstream's `interpretStrategicMergePatchError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmpErrorKind {
    /// 400 BadRequest: malformed directives, a patch that is not a JSON object.
    BadRequest,
    /// 422 Invalid: lists of lists.
    Invalid,
    /// Any other patch error; upstream answers these with 500 and no reason (e.g. a list item
    /// without its merge key).
    Internal,
}

/// Why a strategic merge patch could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SmpError {
    pub kind: SmpErrorKind,
    pub message: String,
}

impl SmpError {
    fn bad_request(message: impl Into<String>) -> Self {
        SmpError {
            kind: SmpErrorKind::BadRequest,
            message: message.into(),
        }
    }
    fn invalid(message: impl Into<String>) -> Self {
        SmpError {
            kind: SmpErrorKind::Invalid,
            message: message.into(),
        }
    }
    fn internal(message: impl Into<String>) -> Self {
        SmpError {
            kind: SmpErrorKind::Internal,
            message: message.into(),
        }
    }
    pub fn is_bad_request(&self) -> bool {
        self.kind == SmpErrorKind::BadRequest
    }
    pub fn is_invalid(&self) -> bool {
        self.kind == SmpErrorKind::Invalid
    }
    /// The HTTP status upstream answers with.
    pub fn code(&self) -> u16 {
        match self.kind {
            SmpErrorKind::BadRequest => 400,
            SmpErrorKind::Invalid => 422,
            SmpErrorKind::Internal => 500,
        }
    }
}

type Result<T> = std::result::Result<T, SmpError>;

fn err_bad_primitive_list() -> SmpError {
    SmpError::bad_request("invalid patch format of primitive list")
}
fn err_bad_retain_keys() -> SmpError {
    SmpError::bad_request("invalid patch format of retainKeys")
}
fn err_bad_set_element_order() -> SmpError {
    SmpError::bad_request("invalid patch format of setElementOrder list")
}
fn err_no_list_of_lists() -> SmpError {
    SmpError::invalid("lists of lists are not supported")
}
fn err_no_merge_key(m: &Map<String, Value>, key: &str) -> SmpError {
    SmpError::internal(format!(
        "map: {} does not contain declared merge key: {key}",
        go_fmt_map(m)
    ))
}
fn err_bad_arg_type(expected: &str, actual: &Value) -> SmpError {
    SmpError::internal(format!(
        "expected a {expected}, but received a {}",
        go_type_name(actual)
    ))
}
const GO_MAP: &str = "map[string]interface {}";
const GO_SLICE: &str = "[]interface {}";

/// Go's `%v` of a decoded JSON value, for error messages that read like upstream's.
fn go_fmt(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_fmt).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => go_fmt_map(m),
    }
}
fn go_fmt_map(m: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let parts: Vec<String> = keys
        .into_iter()
        .map(|k| format!("{k}:{}", go_fmt(&m[k])))
        .collect();
    format!("map[{}]", parts.join(" "))
}
fn go_type_name(v: &Value) -> &'static str {
    match go_type(v) {
        GoType::Nil => "%!s(<nil>)",
        GoType::Bool => "bool",
        GoType::Int => "int64",
        GoType::Float => "float64",
        GoType::String => "string",
        GoType::Slice => GO_SLICE,
        GoType::Map => GO_MAP,
    }
}

/// The dynamic Go type a decoded JSON value has upstream (integers decode to int64, other numbers
/// to float64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GoType {
    Nil,
    Bool,
    Int,
    Float,
    String,
    Slice,
    Map,
}

fn go_type(v: &Value) -> GoType {
    match v {
        Value::Null => GoType::Nil,
        Value::Bool(_) => GoType::Bool,
        Value::Number(n) if n.is_i64() => GoType::Int,
        Value::Number(_) => GoType::Float,
        Value::String(_) => GoType::String,
        Value::Array(_) => GoType::Slice,
        Value::Object(_) => GoType::Map,
    }
}

/// What the walker knows about the value at hand.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ty {
    /// An object of this protobuf message (or of a test type).
    Struct(String),
    /// A map whose values are of this type.
    MapOf(Box<Ty>),
    /// Raw JSON: replaced whole.
    Raw,
    /// Not described by the type graph: scalars, and fields it does not know.
    Unknown,
}

/// Where field metadata comes from: the built-in table, or a test schema.
trait Schema {
    /// Metadata and value type of `key` in a value of type `ty`; `None` when `ty` has no such field.
    fn field(&self, ty: &Ty, key: &str) -> Option<(FieldMeta, Ty)>;

    fn lookup(&self, ty: &Ty, key: &str) -> (FieldMeta, Ty) {
        self.field(ty, key)
            .unwrap_or((FieldMeta::default(), Ty::Unknown))
    }
}

/// The built-in API: [`patchmeta`] and the protobuf type graph.
struct Builtin;

fn classify(message: Option<String>) -> Ty {
    let Some(m) = message else {
        return Ty::Unknown;
    };
    match m.as_str() {
        "k8s.io.apimachinery.pkg.runtime.RawExtension"
        | "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON"
        | "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1" => Ty::Raw,
        // Values whose JSON form is a scalar.
        "k8s.io.apimachinery.pkg.apis.meta.v1.Time"
        | "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime"
        | "k8s.io.apimachinery.pkg.apis.meta.v1.Duration"
        | "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
        | "k8s.io.apimachinery.pkg.api.resource.Quantity" => Ty::Unknown,
        _ => {
            // JSONSchemaPropsOrArray/OrBool/OrStringArray: as an object, a JSONSchemaProps.
            for suffix in [
                ".JSONSchemaPropsOrArray",
                ".JSONSchemaPropsOrBool",
                ".JSONSchemaPropsOrStringArray",
            ] {
                if let Some(pkg) = m.strip_suffix(suffix) {
                    return Ty::Struct(format!("{pkg}.JSONSchemaProps"));
                }
            }
            Ty::Struct(m)
        }
    }
}

impl Schema for Builtin {
    fn field(&self, ty: &Ty, key: &str) -> Option<(FieldMeta, Ty)> {
        match ty {
            Ty::Struct(m) => {
                let shape = patchmeta::field_shape(m, key)?;
                let meta = patchmeta::field_meta(m, key).unwrap_or_default();
                let value = classify(shape.message);
                let value = if shape.is_map {
                    Ty::MapOf(Box::new(value))
                } else {
                    value
                };
                Some((meta, value))
            }
            Ty::MapOf(v) => Some((FieldMeta::default(), (**v).clone())),
            Ty::Raw | Ty::Unknown => None,
        }
    }
}

/// Applies the strategic merge patch `patch` to `original`, an object of the built-in type
/// `message` (a protobuf full name, see [`patchmeta::message_for_kind`]).
pub fn apply(original: &Value, patch: &Value, message: &str) -> Result<Value> {
    apply_with(original, patch, &Ty::Struct(message.to_string()), &Builtin)
}

fn apply_with(original: &Value, patch: &Value, root: &Ty, schema: &dyn Schema) -> Result<Value> {
    let original = match original {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        other => return Err(err_bad_arg_type(GO_MAP, other)),
    };
    let patch = match patch {
        Value::Object(m) => m.clone(),
        // Go decodes `null` into an untouched empty map.
        Value::Null => Map::new(),
        other => {
            let what = match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                _ => "bool",
            };
            return Err(SmpError::bad_request(format!(
                "json: cannot unmarshal {what} into Go value of type map[string]interface {{}}"
            )));
        }
    };
    let mut merged = Value::Object(merge_map(original, patch, root, schema)?);
    clean(&mut merged, root, schema);
    Ok(merged)
}

/// What decoding the result into the Go types does to it: directive keys that ended up in
/// objects (inside replaced lists, appended list items) and nulls of known fields disappear.
fn clean(v: &mut Value, ty: &Ty, schema: &dyn Schema) {
    match (v, ty) {
        (Value::Object(m), Ty::Struct(_)) => {
            m.retain(|k, v| {
                let known = schema.field(ty, k).is_some();
                !(known && v.is_null()) && (known || !k.starts_with('$'))
            });
            for (k, child) in m.iter_mut() {
                let (_, cty) = schema.lookup(ty, k);
                clean(child, &cty, schema);
            }
        }
        (Value::Object(m), Ty::MapOf(inner)) => {
            for child in m.values_mut() {
                clean(child, inner, schema);
            }
        }
        (Value::Array(items), Ty::Struct(_) | Ty::MapOf(_)) => {
            for item in items {
                clean(item, ty, schema);
            }
        }
        _ => {}
    }
}

/// Upstream's `extractKey`: the field name after `<prefix>/`.
fn extract_key(key: &str, prefix: &str) -> Result<String> {
    match key.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_string()),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => Err(err_bad_primitive_list()),
        _ => Err(err_bad_set_element_order()),
    }
}

/// Splits a patch strategy into (has retainKeys, the other strategy).
fn split_strategy(strategy: &str) -> Result<(bool, &str)> {
    let parts: Vec<&str> = strategy.split(',').collect();
    match parts.as_slice() {
        [one] if *one == "retainKeys" => Ok((true, "")),
        [one] => Ok((false, one)),
        [a, b] if *a == "retainKeys" => Ok((true, b)),
        [a, b] if *b == "retainKeys" => Ok((true, a)),
        _ => Err(SmpError::internal(format!(
            "unexpected patch strategy: [{}]",
            parts.join(" ")
        ))),
    }
}

/// Removes directives from a value taken from the patch; `None` when the value itself is one.
fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE) {
                return None;
            }
            Some(Value::Object(
                m.into_iter()
                    .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                    .collect(),
            ))
        }
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

/// Drops null-valued keys from every object in a value taken from the patch.
fn discard_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// A value from the patch, as it lands where the original had nothing comparable.
fn take_patch_value(mut v: Value) -> Option<Value> {
    discard_nulls(&mut v);
    remove_directives(v)
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: &Ty,
    schema: &dyn Schema,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(SmpError::internal(format!(
                "unknown patch type: {} in map: {}",
                go_fmt(directive),
                go_fmt_map(&patch)
            ))),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, ty, schema)?;

    for (key, patch_value) in patch {
        let (delete_list, key) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            (true, extract_key(&key, DELETE_FROM_PRIMITIVE_LIST)?)
        } else {
            (false, key)
        };
        if patch_value.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let Some(slot) = original.get_mut(&key) else {
            if !delete_list {
                if let Some(v) = take_patch_value(patch_value) {
                    original.insert(key, v);
                }
            }
            continue;
        };
        if go_type(slot) != go_type(&patch_value) {
            if !delete_list {
                match take_patch_value(patch_value) {
                    Some(v) => *slot = v,
                    None => {
                        original.shift_remove(&key);
                    }
                }
            }
            continue;
        }
        let original_value = std::mem::take(slot);
        let merged = match (original_value, patch_value) {
            (Value::Object(o), Value::Object(p)) => {
                let (meta, child) = schema.lookup(ty, &key);
                let (_, strategy) = split_strategy(meta.patch_strategy)?;
                if strategy == "replace" || child == Ty::Raw {
                    Some(Value::Object(p))
                } else {
                    Some(Value::Object(merge_map(o, p, &child, schema)?))
                }
            }
            (Value::Array(o), Value::Array(p)) => {
                let (meta, child) = schema.lookup(ty, &key);
                let (_, strategy) = split_strategy(meta.patch_strategy)?;
                Some(Value::Array(merge_slice_handler(
                    o,
                    p,
                    &child,
                    strategy,
                    meta.merge_key,
                    delete_list,
                    schema,
                )?))
            }
            (_, p) => remove_directives(p),
        };
        match merged {
            Some(v) => {
                original.insert(key, v);
            }
            None => {
                original.shift_remove(&key);
            }
        }
    }
    Ok(original)
}

fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(err_bad_retain_keys());
    };
    let keep = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !keep(k) {
            return Err(err_bad_retain_keys());
        }
    }
    original.retain(|k, _| keep(k));
    Ok(())
}

/// Processes every `$setElementOrder/<field>` with its list, and removes both from the patch.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: &Ty,
    schema: &dyn Schema,
) -> Result<()> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.remove(&key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(err_bad_arg_type(GO_SLICE, &order));
        };
        let field = extract_key(&key, SET_ELEMENT_ORDER)?;
        let original_list = match original.get(&field) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(err_bad_arg_type(GO_SLICE, other)),
        };
        let patch_list = match patch.get(&field) {
            None => None,
            Some(Value::Array(a)) => Some(a.clone()),
            Some(other) => return Err(err_bad_arg_type(GO_SLICE, other)),
        };
        let (meta, child) = schema.lookup(ty, &field);
        let (_, strategy) = split_strategy(meta.patch_strategy)?;
        let merge_key = meta.merge_key;
        validate_patch_with_set_order(patch_list.as_deref().unwrap_or(&[]), &order, merge_key)?;

        let merged = match (original_list.clone(), patch_list.clone()) {
            (Some(o), None) => o,
            (None, Some(p)) => match remove_directives(Value::Array(p)) {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            },
            (Some(o), Some(p)) => {
                merge_slice_handler(o, p, &child, strategy, merge_key, false, schema)?
            }
            (None, None) => continue,
        };
        let (patch_items, server_only) = partition(merged, &order, merge_key)?;
        let original_list = original_list.unwrap_or_default();
        let patch_list = patch_list.unwrap_or_default();
        let ordered = match slice_element_type(&[&original_list, &patch_list])? {
            Some(kind) => normalize_element_order(
                patch_items,
                server_only,
                &order,
                &original_list,
                merge_key,
                kind,
            )?,
            // Upstream cannot type the items of two empty lists, and fails.
            None => return Err(SmpError::internal("no elements in any of the given slices")),
        };
        original.insert(field.clone(), Value::Array(ordered));
        patch.remove(&field);
    }
    Ok(())
}

/// The items of a `$setElementOrder` list must appear in the patch list in the same relative
/// order, and the patch list may hold no other items.
fn validate_patch_with_set_order(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<()> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        let mut out = Vec::new();
        for v in patch_list {
            let Value::Object(m) = v else {
                return Err(err_bad_arg_type(GO_MAP, v));
            };
            if m.get(DIRECTIVE).and_then(Value::as_str) != Some("delete") {
                out.push(v);
            }
        }
        out
    };
    let (mut p, mut s) = (0, 0);
    while p < non_delete.len() && s < order.len() {
        if non_delete[p]
            .as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE))
        {
            p += 1;
            continue;
        }
        if merge_key_value_equal(non_delete[p], &order[s], merge_key)? {
            p += 1;
        }
        s += 1;
    }
    if p < non_delete.len() && s >= order.len() {
        return Err(SmpError::internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_fmt(&Value::Array(patch_list.to_vec())),
            go_fmt(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let l = left
        .as_object()
        .ok_or_else(|| err_bad_arg_type(GO_MAP, left))?;
    let r = right
        .as_object()
        .ok_or_else(|| err_bad_arg_type(GO_MAP, right))?;
    let lv = l
        .get(merge_key)
        .ok_or_else(|| err_no_merge_key(l, merge_key))?;
    let rv = r
        .get(merge_key)
        .ok_or_else(|| err_no_merge_key(r, merge_key))?;
    Ok(lv == rv)
}

fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    item: &Ty,
    strategy: &str,
    merge_key: &str,
    delete_list: bool,
    schema: &dyn Schema,
) -> Result<Vec<Value>> {
    if strategy == "merge" || delete_list {
        merge_slice(original, patch, item, merge_key, delete_list, schema)
    } else {
        Ok(patch)
    }
}

/// The common element type of some lists: `None` when they are all empty.
fn slice_element_type(lists: &[&[Value]]) -> Result<Option<GoType>> {
    let mut seen: Option<GoType> = None;
    for list in lists {
        for v in list.iter() {
            let t = go_type(v);
            match seen {
                None => {
                    if t == GoType::Slice {
                        return Err(err_no_list_of_lists());
                    }
                    if t == GoType::Nil {
                        // Upstream cannot type a null element either (its check panics).
                        return Err(SmpError::internal(format!(
                            "list element types are not identical: {}",
                            go_fmt(&Value::Array(
                                lists.iter().map(|l| Value::Array(l.to_vec())).collect()
                            ))
                        )));
                    }
                    seen = Some(t);
                }
                Some(prev) if prev != t => {
                    return Err(SmpError::internal(format!(
                        "list element types are not identical: {}",
                        go_fmt(&Value::Array(
                            lists.iter().map(|l| Value::Array(l.to_vec())).collect()
                        ))
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(seen)
}

fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    item: &Ty,
    merge_key: &str,
    delete_list: bool,
    schema: &dyn Schema,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let Some(kind) = slice_element_type(&[&original, &patch])? else {
        return Ok(original);
    };
    let (merged, original, patch) = if kind != GoType::Map {
        if delete_list {
            let gone: HashSet<String> = patch.iter().map(key_of).collect();
            return Ok(original
                .into_iter()
                .filter(|v| !gone.contains(&key_of(v)))
                .collect());
        }
        let mut seen = HashSet::new();
        let merged: Vec<Value> = original
            .iter()
            .chain(patch.iter())
            .filter(|v| seen.insert(key_of(v)))
            .cloned()
            .collect();
        (merged, original, patch)
    } else {
        if merge_key.is_empty() {
            return Err(SmpError::internal(
                "cannot merge lists without merge key for struct",
            ));
        }
        let (original, patch) = merge_slice_special_elements(original, patch, merge_key)?;
        let merged = merge_slice_plain_elements(original.clone(), &patch, merge_key, item, schema)?;
        (merged, original, patch)
    };
    let (patch_items, server_only) = partition(merged, &patch, merge_key)?;
    normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)
}

/// Applies the `$patch` items of a list of maps: deletions by merge key, `replace` (the list
/// becomes the patch's other items). Returns the original and the patch without them.
fn merge_slice_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::new();
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = &v else {
            return Err(err_bad_arg_type(GO_MAP, &v));
        };
        let Some(directive) = m.get(DIRECTIVE) else {
            plain.push(v);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(key_value) = m.get(merge_key) else {
                    return Err(err_no_merge_key(m, merge_key));
                };
                for item in &original {
                    if !item.is_object() {
                        return Err(SmpError::internal("value for key is not a map"));
                    }
                }
                original.retain(|item| item.get(merge_key) != Some(key_value));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(SmpError::internal(
                    "merging lists cannot yet be specified in the patch",
                ))
            }
            _ => {
                return Err(SmpError::internal(format!(
                    "unknown patch type: {} in map: {}",
                    go_fmt(directive),
                    go_fmt_map(m)
                )))
            }
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Merges each patch item into the original item with the same merge key, or appends it.
fn merge_slice_plain_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    item: &Ty,
    schema: &dyn Schema,
) -> Result<Vec<Value>> {
    for v in patch {
        let Value::Object(m) = v else {
            return Err(err_bad_arg_type(GO_MAP, v));
        };
        let Some(key_value) = m.get(merge_key) else {
            return Err(err_no_merge_key(m, merge_key));
        };
        let mut found = None;
        for (i, o) in original.iter().enumerate() {
            let Value::Object(om) = o else {
                return Err(SmpError::internal(format!(
                    "value for key {i} is not a map"
                )));
            };
            if om.get(merge_key) == Some(key_value) {
                found = Some(i);
                break;
            }
        }
        match found {
            Some(i) => {
                let Value::Object(om) = std::mem::take(&mut original[i]) else {
                    continue;
                };
                original[i] = Value::Object(merge_map(om, m.clone(), item, schema)?);
            }
            None => original.push(v.clone()),
        }
    }
    Ok(original)
}

/// A hashable identity of a JSON value with Go's `==` semantics for scalars.
fn key_of(v: &Value) -> String {
    match v {
        // Keep int and float apart, as Go's interface comparison does.
        Value::Number(n) if n.is_i64() => format!("i{n}"),
        Value::Number(n) => format!("f{n}"),
        other => format!("v{other}"),
    }
}

/// The identity an item is ordered by: its merge key value for maps, itself otherwise.
fn order_key(v: &Value, merge_key: &str, kind: GoType) -> Option<String> {
    if kind == GoType::Map {
        v.as_object()?.get(merge_key).map(key_of)
    } else {
        Some(key_of(v))
    }
}

/// First position of each identity in `list`.
fn positions(list: &[Value], merge_key: &str, kind: GoType) -> HashMap<Option<String>, usize> {
    let mut out = HashMap::new();
    for (i, v) in list.iter().enumerate() {
        out.entry(order_key(v, merge_key, kind)).or_insert(i);
    }
    out
}

/// Splits `merged` into the items present in `by` and the others.
fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    if merge_key.is_empty() {
        let set: HashSet<String> = by.iter().map(key_of).collect();
        for v in merged {
            if set.contains(&key_of(&v)) {
                inside.push(v);
            } else {
                outside.push(v);
            }
        }
        return Ok((inside, outside));
    }
    for v in merged {
        let Value::Object(m) = &v else {
            return Err(err_bad_arg_type(GO_MAP, &v));
        };
        let Some(key_value) = m.get(merge_key) else {
            return Err(err_no_merge_key(m, merge_key));
        };
        let mut found = false;
        for (i, b) in by.iter().enumerate() {
            let Value::Object(bm) = b else {
                return Err(SmpError::internal(format!(
                    "value for key {i} is not a map"
                )));
            };
            if bm.get(merge_key) == Some(key_value) {
                found = true;
                break;
            }
        }
        if found {
            inside.push(v);
        } else {
            outside.push(v);
        }
    }
    Ok((inside, outside))
}

fn validate_merge_key(list: &[Value], merge_key: &str) -> Result<()> {
    for v in list {
        let Value::Object(m) = v else {
            return Err(err_bad_arg_type(GO_MAP, v));
        };
        if !m.contains_key(merge_key) {
            return Err(err_no_merge_key(m, merge_key));
        }
    }
    Ok(())
}

/// Sorts `items` by their position in `order` (stable); `$patch: delete` items go last.
fn normalize_slice_order(
    items: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Result<Vec<Value>> {
    let (mut items, deletes) = if kind == GoType::Map {
        validate_merge_key(&items, merge_key)?;
        validate_merge_key(order, merge_key)?;
        items.into_iter().partition::<Vec<Value>, _>(|v| {
            v.get(DIRECTIVE).and_then(Value::as_str) != Some("delete")
        })
    } else {
        (items, Vec::new())
    };
    let pos = positions(order, merge_key, kind);
    let idx: Vec<Option<usize>> = items
        .iter()
        .map(|v| pos.get(&order_key(v, merge_key, kind)).copied())
        .collect();
    if idx.iter().all(Option::is_some) {
        let mut paired: Vec<(usize, Value)> = idx.into_iter().flatten().zip(items).collect();
        paired.sort_by_key(|(i, _)| *i);
        items = paired.into_iter().map(|(_, v)| v).collect();
    } else if items.len() <= 20 {
        // Upstream's comparator calls an item missing from `order` smaller than anything; Go's
        // stable sort of such short slices is an insertion sort, reproduced here.
        let mut paired: Vec<(Option<usize>, Value)> = idx.into_iter().zip(items).collect();
        for i in 1..paired.len() {
            let mut j = i;
            while j > 0 {
                let less = match (paired[j].0, paired[j - 1].0) {
                    (Some(a), Some(b)) => a < b,
                    _ => true,
                };
                if !less {
                    break;
                }
                paired.swap(j, j - 1);
                j -= 1;
            }
        }
        items = paired.into_iter().map(|(_, v)| v).collect();
    } else {
        // Long lists with unordered items: ordered items by position, the rest after them.
        let mut paired: Vec<(usize, Value)> = idx
            .into_iter()
            .map(|i| i.unwrap_or(usize::MAX))
            .zip(items)
            .collect();
        paired.sort_by_key(|(i, _)| *i);
        items = paired.into_iter().map(|(_, v)| v).collect();
    }
    items.extend(deletes);
    Ok(items)
}

/// Orders patch items by the patch's order and server-only items by the server's, then
/// interleaves the two, keeping both relative orders and following the server's where it can.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: GoType,
) -> Result<Vec<Value>> {
    let right = normalize_slice_order(patch_items, patch_order, merge_key, kind)?;
    let left = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    let pos = positions(server_order, merge_key, kind);
    let at = |v: &Value| pos.get(&order_key(v, merge_key, kind)).copied();
    let left_pos: Vec<Option<usize>> = left.iter().map(at).collect();
    let right_pos: Vec<Option<usize>> = right.iter().map(at).collect();
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut left, mut right) = (left.into_iter().peekable(), right.into_iter().peekable());
    let (mut i, mut j) = (0, 0);
    loop {
        match (left.peek().is_some(), right.peek().is_some()) {
            (false, false) => break,
            (true, false) => out.extend(left.next()),
            (false, true) => out.extend(right.next()),
            (true, true) => {
                let take_left = matches!((left_pos[i], right_pos[j]), (Some(l), Some(r)) if l < r);
                if take_left {
                    out.extend(left.next());
                    i += 1;
                } else {
                    out.extend(right.next());
                    j += 1;
                }
                continue;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A test type shaped like upstream's `MergeItem` test struct.
    struct MergeItemSchema;

    const fn meta(patch_strategy: &'static str, merge_key: &'static str) -> FieldMeta {
        FieldMeta {
            patch_strategy,
            merge_key,
            list_type: "",
            list_map_keys: &[],
            map_type: "",
            struct_type: "",
        }
    }

    impl Schema for MergeItemSchema {
        fn field(&self, ty: &Ty, key: &str) -> Option<(FieldMeta, Ty)> {
            let item = || Ty::Struct("mergeItem".into());
            match ty {
                Ty::Struct(t) if t == "mergeItem" || t == "retainKeysItem" => {
                    let retain = t == "retainKeysItem";
                    Some(match key {
                        "name" | "value" | "other" => (meta("", ""), Ty::Unknown),
                        "mergingList" => (meta("merge", "name"), item()),
                        "nonMergingList" => (meta("", ""), item()),
                        "mergingIntList" => (meta("merge", ""), Ty::Unknown),
                        "nonMergingIntList" if !retain => (meta("", ""), Ty::Unknown),
                        "mergeItemPtr" if !retain => (meta("merge", "name"), item()),
                        "simpleMap" => (meta("", ""), Ty::MapOf(Box::new(Ty::Unknown))),
                        "replacingItem" if !retain => (meta("replace", ""), Ty::Unknown),
                        "jsonItem" if !retain => (meta("", ""), Ty::Raw),
                        "retainKeysMap" if !retain => {
                            (meta("retainKeys", ""), Ty::Struct("retainKeysItem".into()))
                        }
                        "retainKeysMergingList" if !retain => {
                            (meta("merge,retainKeys", "name"), item())
                        }
                        _ => return None,
                    })
                }
                Ty::MapOf(v) => Some((FieldMeta::default(), (**v).clone())),
                _ => None,
            }
        }
    }

    fn run(original: Value, patch: Value) -> Result<Value> {
        apply_with(
            &original,
            &patch,
            &Ty::Struct("mergeItem".into()),
            &MergeItemSchema,
        )
    }

    #[track_caller]
    fn check(original: Value, patch: Value, want: Value) {
        match run(original.clone(), patch.clone()) {
            Ok(got) => assert_eq!(got, want, "\noriginal: {original}\npatch: {patch}"),
            Err(e) => panic!("{e}\noriginal: {original}\npatch: {patch}"),
        }
    }

    #[track_caller]
    fn check_err(original: Value, patch: Value, kind: SmpErrorKind, contains: &str) {
        match run(original.clone(), patch.clone()) {
            Ok(got) => panic!("expected an error, got {got}\npatch: {patch}"),
            Err(e) => {
                assert_eq!(e.kind, kind, "{e}");
                assert!(e.message.contains(contains), "{e:?} lacks {contains:?}");
            }
        }
    }

    #[test]
    fn maps_merge_and_null_deletes() {
        check(
            json!({"name": "a", "value": "1"}),
            json!({"value": "2", "other": "x"}),
            json!({"name": "a", "value": "2", "other": "x"}),
        );
        check(
            json!({"name": "a", "value": "1"}),
            json!({"value": null}),
            json!({"name": "a"}),
        );
        // A null for something absent is ignored, nested nulls of new values are dropped.
        check(
            json!({"name": "a"}),
            json!({"nope": null, "simpleMap": {"k": "v", "gone": null}}),
            json!({"name": "a", "simpleMap": {"k": "v"}}),
        );
        check(
            json!({"simpleMap": {"a": "1", "b": "2"}}),
            json!({"simpleMap": {"b": null, "c": "3"}}),
            json!({"simpleMap": {"a": "1", "c": "3"}}),
        );
        // Type changes replace.
        check(
            json!({"simpleMap": {"a": "1"}}),
            json!({"simpleMap": "x"}),
            json!({"simpleMap": "x"}),
        );
        // Unknown fields: maps merged as JSON merge patch, lists replaced.
        check(
            json!({"complex": {"a": 1, "b": {"c": 2}}, "array": [1, 2]}),
            json!({"complex": {"b": {"d": 3}}, "array": [3]}),
            json!({"complex": {"a": 1, "b": {"c": 2, "d": 3}}, "array": [3]}),
        );
        // Null values already in the original are kept.
        check(
            json!({"thing": null}),
            json!({"nested": {"value": 5}}),
            json!({"thing": null, "nested": {"value": 5}}),
        );
        // Nulls inside new non-associative lists are data.
        check(
            json!({}),
            json!({"complex_nullable": ["key1", null, "key2"]}),
            json!({"complex_nullable": ["key1", null, "key2"]}),
        );
        check(
            json!({}),
            json!({"complex_nullable": [{"inner_one": {"key_one": "foo", "key_two": null}}]}),
            json!({"complex_nullable": [{"inner_one": {"key_one": "foo"}}]}),
        );
        // A null patch document changes nothing.
        check(json!({"name": "a"}), Value::Null, json!({"name": "a"}));
    }

    #[test]
    fn patch_directive_on_maps() {
        // Upstream cases: delete map from nested map; delete all keys; add key and delete all keys.
        check(
            json!({"simpleMap": {"key1": 1, "key2": 1}}),
            json!({"simpleMap": {"$patch": "delete"}}),
            json!({"simpleMap": {}}),
        );
        check(
            json!({"name": 1, "value": 1}),
            json!({"$patch": "replace"}),
            json!({}),
        );
        check(
            json!({"name": 1, "value": 1}),
            json!({"other": "a", "$patch": "replace"}),
            json!({"other": "a"}),
        );
        check(
            json!({"mergeItemPtr": {"name": "a", "value": "1"}}),
            json!({"mergeItemPtr": {"name": "b", "$patch": "replace"}}),
            json!({"mergeItemPtr": {"name": "b"}}),
        );
        // A directive for something absent adds nothing.
        check(
            json!({"name": "a"}),
            json!({"simpleMap": {"$patch": "delete"}}),
            json!({"name": "a"}),
        );
        check(
            json!({"name": "a"}),
            json!({"simpleMap": {"k": {"$patch": "replace"}, "j": "x"}}),
            json!({"name": "a", "simpleMap": {"j": "x"}}),
        );
        check_err(
            json!({"simpleMap": {"a": "1"}}),
            json!({"simpleMap": {"$patch": "merge"}}),
            SmpErrorKind::Internal,
            "unknown patch type: merge in map",
        );
        check_err(
            json!({}),
            json!({"$patch": "bogus"}),
            SmpErrorKind::Internal,
            "unknown patch type",
        );
    }

    #[test]
    fn replace_strategy_and_raw_values() {
        check(
            json!({"replacingItem": {"a": 1, "b": {"c": 1}}}),
            json!({"replacingItem": {"b": {"d": 2}}}),
            json!({"replacingItem": {"b": {"d": 2}}}),
        );
        check(
            json!({"jsonItem": {"nested": {"a": 1}}}),
            json!({"jsonItem": {"nested": {"b": null}}}),
            json!({"jsonItem": {"nested": {"b": null}}}),
        );
    }

    #[test]
    fn merging_lists_of_maps() {
        // Merge by key, add new items, keep server-only items. A new item follows the patch's
        // order and goes before server-only items it cannot be compared with (as upstream).
        check(
            json!({"mergingList": [{"name": "1", "value": "a"}, {"name": "2"}]}),
            json!({"mergingList": [{"name": "1", "other": "x"}, {"name": "3"}]}),
            json!({"mergingList": [{"name": "1", "value": "a", "other": "x"}, {"name": "3"}, {"name": "2"}]}),
        );
        // Null inside a merged item deletes the field.
        check(
            json!({"mergingList": [{"name": "1", "value": "a"}]}),
            json!({"mergingList": [{"name": "1", "value": null}]}),
            json!({"mergingList": [{"name": "1"}]}),
        );
        // Nested merging lists.
        check(
            json!({"mergingList": [{"name": "1", "mergingList": [{"name": "a", "value": "x"}]}]}),
            json!({"mergingList": [{"name": "1", "mergingList": [{"name": "b"}, {"name": "a", "other": "y"}]}]}),
            json!({"mergingList": [{"name": "1", "mergingList": [{"name": "b"}, {"name": "a", "value": "x", "other": "y"}]}]}),
        );
        // Non-merging lists nested in a merged item are replaced.
        check(
            json!({"mergingList": [{"name": "1", "nonMergingList": [{"name": "a"}, {"name": "b"}]}]}),
            json!({"mergingList": [{"name": "1", "nonMergingList": [{"name": "c"}]}]}),
            json!({"mergingList": [{"name": "1", "nonMergingList": [{"name": "c"}]}]}),
        );
        // Non-merging lists are replaced whole.
        check(
            json!({"nonMergingList": [{"name": "1"}, {"name": "2"}]}),
            json!({"nonMergingList": [{"name": "3"}]}),
            json!({"nonMergingList": [{"name": "3"}]}),
        );
        // Upstream: merge empty merging lists.
        check(
            json!({"mergingList": []}),
            json!({"mergingList": []}),
            json!({"mergingList": []}),
        );
        check(
            json!({"mergingList": [{"name": "1"}]}),
            json!({"mergingList": []}),
            json!({"mergingList": [{"name": "1"}]}),
        );
    }

    #[test]
    fn list_item_directives() {
        // Upstream: delete all duplicate entries in a merging list.
        check(
            json!({"mergingList": [{"name": 1}, {"name": 1}, {"name": 2, "value": "a"}, {"name": 3}, {"name": 3}]}),
            json!({"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 3, "$patch": "delete"}]}),
            json!({"mergingList": [{"name": 2, "value": "a"}]}),
        );
        // Delete one and merge another in the same patch.
        check(
            json!({"mergingList": [{"name": "a"}, {"name": "b"}]}),
            json!({"mergingList": [{"name": "a", "$patch": "delete"}, {"name": "b", "value": "x"}]}),
            json!({"mergingList": [{"name": "b", "value": "x"}]}),
        );
        // Deleting something absent is fine.
        check(
            json!({"mergingList": [{"name": "a"}]}),
            json!({"mergingList": [{"name": "z", "$patch": "delete"}]}),
            json!({"mergingList": [{"name": "a"}]}),
        );
        // Upstream: delete all items from merging list; replace with new items.
        check(
            json!({"mergingList": [{"name": 1}, {"name": 2}]}),
            json!({"mergingList": [{"$patch": "replace"}]}),
            json!({"mergingList": []}),
        );
        check(
            json!({"mergingList": [{"name": 1, "value": "a"}, {"name": 2}]}),
            json!({"mergingList": [{"name": 1, "other": "b"}, {"$patch": "replace"}]}),
            json!({"mergingList": [{"name": 1, "other": "b"}]}),
        );
        check_err(
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"name": 2, "$patch": "merge"}]}),
            SmpErrorKind::Internal,
            "merging lists cannot yet be specified",
        );
        check_err(
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"$patch": "delete"}]}),
            SmpErrorKind::Internal,
            "does not contain declared merge key: name",
        );
        check_err(
            json!({"mergingList": [{"name": 1}]}),
            json!({"mergingList": [{"name": 1, "$patch": "nope"}]}),
            SmpErrorKind::Internal,
            "unknown patch type: nope",
        );
    }

    #[test]
    fn merge_key_errors_and_type_errors() {
        // Upstream: missing merge key should error out (500 upstream, as the message below).
        match run(
            json!({"mergingList": [{"name": 1, "value": "a"}]}),
            json!({"mergingList": [{"value": "b"}]}),
        ) {
            Err(e) => {
                assert_eq!(e.kind, SmpErrorKind::Internal);
                assert_eq!(e.code(), 500);
                assert_eq!(
                    e.message,
                    "map: map[value:b] does not contain declared merge key: name"
                );
            }
            Ok(v) => panic!("{v}"),
        }
        // An original item without the merge key cannot be ordered either.
        check_err(
            json!({"mergingList": [{"value": "a"}]}),
            json!({"mergingList": [{"name": "b"}]}),
            SmpErrorKind::Internal,
            "does not contain declared merge key",
        );
        check_err(
            json!({"mergingList": [[1]]}),
            json!({"mergingList": [[2]]}),
            SmpErrorKind::Invalid,
            "lists of lists are not supported",
        );
        check_err(
            json!({"mergingList": [{"name": "a"}]}),
            json!({"mergingList": ["b"]}),
            SmpErrorKind::Internal,
            "list element types are not identical",
        );
        check_err(
            json!({"mergingIntList": [1]}),
            json!({"mergingIntList": [null]}),
            SmpErrorKind::Internal,
            "list element types are not identical",
        );
        // A list of maps under a merge strategy without a key.
        check_err(
            json!({"mergingIntList": [{"a": 1}]}),
            json!({"mergingIntList": [{"a": 2}]}),
            SmpErrorKind::Internal,
            "cannot merge lists without merge key",
        );
        // Not an object at all.
        match run(json!({}), json!([1])) {
            Err(e) => assert!(
                e.is_bad_request() && e.message.contains("cannot unmarshal array"),
                "{e}"
            ),
            Ok(v) => panic!("{v}"),
        }
    }

    #[test]
    fn primitive_lists() {
        // Upstream: merge lists of scalars (set union, patch order first for patch items).
        check(
            json!({"mergingIntList": [1, 2]}),
            json!({"mergingIntList": [2, 3]}),
            json!({"mergingIntList": [1, 2, 3]}),
        );
        check(
            json!({"nonMergingIntList": [1, 2]}),
            json!({"nonMergingIntList": [2, 3]}),
            json!({"nonMergingIntList": [2, 3]}),
        );
        // Ints and floats are different values, as in Go.
        check(
            json!({"mergingIntList": [1]}),
            json!({"mergingIntList": [1]}),
            json!({"mergingIntList": [1]}),
        );
        // Duplicates in the original collapse; the new item leads (as upstream).
        check(
            json!({"mergingIntList": [1, 1, 2]}),
            json!({"mergingIntList": [3]}),
            json!({"mergingIntList": [3, 1, 2]}),
        );
    }

    #[test]
    fn delete_from_primitive_list() {
        // Upstream cases.
        check(
            json!({"mergingIntList": [1, 2]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"mergingIntList": [1, 2]}),
        );
        // (A null list of a known field goes, as decoding into the Go types drops it.)
        check(
            json!({"mergingIntList": null}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({}),
        );
        check(
            json!({"foo": ["bar"]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
            json!({"foo": ["bar"]}),
        );
        check(
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"$deleteFromPrimitiveList/mergingIntList": [2]}),
            json!({"mergingIntList": [1, 3]}),
        );
        check(
            json!({"nonMergingIntList": [1, 2, 3]}),
            json!({"$deleteFromPrimitiveList/nonMergingIntList": [2]}),
            json!({"nonMergingIntList": [1, 3]}),
        );
        // Add and delete in one patch (what kubectl sends for a changed finalizer).
        check(
            json!({"mergingIntList": [1, 2]}),
            json!({"mergingIntList": [3], "$deleteFromPrimitiveList/mergingIntList": [1]}),
            json!({"mergingIntList": [3, 2]}),
        );
        check_err(
            json!({"mergingIntList": [1]}),
            json!({"$deleteFromPrimitiveListX/mergingIntList": [1]}),
            SmpErrorKind::BadRequest,
            "invalid patch format of primitive list",
        );
        check_err(
            json!({"mergingIntList": [1]}),
            json!({"$deleteFromPrimitiveList": [1]}),
            SmpErrorKind::BadRequest,
            "invalid patch format of primitive list",
        );
    }

    #[test]
    fn order_follows_patch_then_server() {
        // Upstream: preserve the order from the patch in a merging list.
        check(
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "other": "x"}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "value": "b", "other": "x"}]}),
        );
        check(
            json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
            json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
            json!({"mergingList": [{"name": 2, "value": "b"}, {"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
        );
        check(
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1, 2]}),
            json!({"mergingIntList": [3, 1, 2]}),
        );
        check(
            json!({"mergingIntList": [1, 2, 3]}),
            json!({"mergingIntList": [3, 1]}),
            json!({"mergingIntList": [2, 3, 1]}),
        );
    }

    #[test]
    fn set_element_order() {
        // Upstream: $setElementOrder contains an item not present in the list to be merged.
        check(
            json!({"mergingList": [{"name": 1}, {"name": 3}]}),
            json!({"$setElementOrder/mergingList": [{"name": 3}, {"name": 2}, {"name": 1}],
                   "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
            json!({"mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
        );
        check(
            json!({"mergingIntList": [1, 3]}),
            json!({"$setElementOrder/mergingIntList": [3, 2, 1]}),
            json!({"mergingIntList": [3, 1]}),
        );
        // Reorder only, without changing any item.
        check(
            json!({"mergingList": [{"name": "a", "value": "1"}, {"name": "b"}, {"name": "c"}]}),
            json!({"$setElementOrder/mergingList": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}),
            json!({"mergingList": [{"name": "c"}, {"name": "a", "value": "1"}, {"name": "b"}]}),
        );
        // Items absent from the order list keep their place relative to the server's order.
        check(
            json!({"mergingList": [{"name": "a"}, {"name": "x"}, {"name": "b"}]}),
            json!({"$setElementOrder/mergingList": [{"name": "b"}, {"name": "a"}],
                   "mergingList": [{"name": "b", "value": "2"}]}),
            json!({"mergingList": [{"name": "x"}, {"name": "b", "value": "2"}, {"name": "a"}]}),
        );
        // A new item goes where the order says.
        check(
            json!({"mergingList": [{"name": "a"}, {"name": "c"}]}),
            json!({"$setElementOrder/mergingList": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                   "mergingList": [{"name": "b"}]}),
            json!({"mergingList": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
        );
        // With deletions in the patch list.
        check(
            json!({"mergingList": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
            json!({"$setElementOrder/mergingList": [{"name": "c"}, {"name": "a"}],
                   "mergingList": [{"name": "b", "$patch": "delete"}]}),
            json!({"mergingList": [{"name": "c"}, {"name": "a"}]}),
        );
        // A list only in the patch.
        check(
            json!({}),
            json!({"$setElementOrder/mergingIntList": [2, 1], "mergingIntList": [2, 1]}),
            json!({"mergingIntList": [2, 1]}),
        );
        // Upstream: should check if order in $setElementOrder and patch list match.
        check_err(
            json!({"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]}),
            json!({"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
                   "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
            SmpErrorKind::Internal,
            "doesn't match",
        );
        check_err(
            json!({"mergingIntList": [1, 3, 2]}),
            json!({"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]}),
            SmpErrorKind::Internal,
            "doesn't match",
        );
        check_err(
            json!({"mergingIntList": [1]}),
            json!({"$setElementOrderX/mergingIntList": [1]}),
            SmpErrorKind::BadRequest,
            "invalid patch format of setElementOrder list",
        );
        check_err(
            json!({"mergingList": [{"name": 1}]}),
            json!({"$setElementOrder/mergingList": [{"value": 1}], "mergingList": [{"name": 1}]}),
            SmpErrorKind::Internal,
            "does not contain declared merge key",
        );
    }

    #[test]
    fn retain_keys() {
        // Upstream: retainKeys map/list without the directive merge normally.
        check(
            json!({"retainKeysMap": {"name": "foo"}}),
            json!({"retainKeysMap": {"value": "bar"}}),
            json!({"retainKeysMap": {"name": "foo", "value": "bar"}}),
        );
        check(
            json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
            json!({"retainKeysMap": {"value": null}}),
            json!({"retainKeysMap": {"name": "foo"}}),
        );
        check(
            json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
            json!({"retainKeysMap": {}}),
            json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
        );
        check(
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a"}]}),
            json!({"retainKeysMergingList": [{"name": "foo", "value": null}]}),
            json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo"}]}),
        );
        // With the directive: keys not listed are cleared.
        check(
            json!({"retainKeysMap": {"name": "foo", "value": "a", "other": "b"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name", "simpleMap"], "simpleMap": {"k": "v"}}}),
            json!({"retainKeysMap": {"name": "foo", "simpleMap": {"k": "v"}}}),
        );
        check(
            json!({"retainKeysMergingList": [{"name": "foo", "value": "a", "other": "b"}]}),
            json!({"retainKeysMergingList": [{"name": "foo", "$retainKeys": ["name", "other"], "other": "c"}]}),
            json!({"retainKeysMergingList": [{"name": "foo", "other": "c"}]}),
        );
        // Nulls, ordering and deletion lists need not be listed.
        check(
            json!({"retainKeysMap": {"name": "foo", "value": "a", "mergingIntList": [1, 2]}}),
            json!({"retainKeysMap": {"$retainKeys": ["name", "mergingIntList"], "value": null,
                   "$deleteFromPrimitiveList/mergingIntList": [1]}}),
            json!({"retainKeysMap": {"name": "foo", "mergingIntList": [2]}}),
        );
        check_err(
            json!({"retainKeysMap": {"name": "foo"}}),
            json!({"retainKeysMap": {"$retainKeys": ["name"], "value": "x"}}),
            SmpErrorKind::BadRequest,
            "invalid patch format of retainKeys",
        );
        check_err(
            json!({"retainKeysMap": {"name": "foo"}}),
            json!({"retainKeysMap": {"$retainKeys": "name"}}),
            SmpErrorKind::BadRequest,
            "invalid patch format of retainKeys",
        );
    }

    #[test]
    fn directives_never_leak_into_results() {
        // A new item appended to a merged list keeps its own nested directives out.
        check(
            json!({"mergingList": [{"name": "a"}]}),
            json!({"mergingList": [{"name": "b", "mergingList": [{"name": "x", "$patch": "delete"}, {"name": "y"}]}]}),
            json!({"mergingList": [{"name": "b", "mergingList": [{"name": "x"}, {"name": "y"}]}, {"name": "a"}]}),
        );
        check(
            json!({"nonMergingList": [{"name": "a"}]}),
            json!({"nonMergingList": [{"name": "b", "value": null}]}),
            json!({"nonMergingList": [{"name": "b"}]}),
        );
    }

    // --- Built-in types, through the real table and type graph. ---

    fn builtin(original: Value, patch: Value, message: &str) -> Result<Value> {
        apply(&original, &patch, message)
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "finalizers": ["a", "b"],
                         "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {"name": "app", "image": "app:1",
                             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                             "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                            {"name": "sidecar", "image": "side:1"}
                        ],
                        "tolerations": [{"key": "k1", "operator": "Exists"}],
                        "volumes": [{"name": "data", "emptyDir": {}}]
                    }
                }
            }
        })
    }

    const DEPLOYMENT: &str = "k8s.io.api.apps.v1.Deployment";

    #[test]
    fn builtin_deployment_patches() {
        if !crate::protobuf::available() {
            eprintln!("no protobuf schemas in this build: built-in SMP not tested");
            return;
        }
        let d = deployment();
        // Add a container, change an env var by name.
        let got = builtin(
            d.clone(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "env": [{"name": "B", "value": "22"}]},
                {"name": "new", "image": "new:1"}
            ]}}}}),
            DEPLOYMENT,
        )
        .unwrap();
        let cs = &got["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 3);
        assert_eq!(cs[0]["name"], "app");
        assert_eq!(cs[0]["image"], "app:1");
        assert_eq!(
            cs[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "22"}])
        );
        assert_eq!(
            cs[0]["ports"],
            json!([{"containerPort": 80, "protocol": "TCP"}])
        );
        assert_eq!(cs[1], json!({"name": "new", "image": "new:1"}));
        assert_eq!(cs[2]["name"], "sidecar");
        // Everything else untouched.
        assert_eq!(got["metadata"], d["metadata"]);
        assert_eq!(got["spec"]["strategy"], d["spec"]["strategy"]);

        // $patch: delete a container.
        let got = builtin(
            d.clone(),
            json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "$patch": "delete"}]}}}}),
            DEPLOYMENT,
        )
        .unwrap();
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"][0]["name"],
            "app"
        );

        // Tolerations have no merge strategy: replaced.
        let got = builtin(
            d.clone(),
            json!({"spec": {"template": {"spec": {"tolerations": [
            {"key": "k2", "operator": "Exists"}]}}}}),
            DEPLOYMENT,
        )
        .unwrap();
        assert_eq!(
            got["spec"]["template"]["spec"]["tolerations"],
            json!([{"key": "k2", "operator": "Exists"}])
        );

        // Finalizers merge as a set; $deleteFromPrimitiveList removes.
        let got = builtin(
            d.clone(),
            json!({"metadata": {"finalizers": ["c", "a"]}}),
            DEPLOYMENT,
        )
        .unwrap();
        assert_eq!(got["metadata"]["finalizers"], json!(["c", "a", "b"]));
        let got = builtin(
            d.clone(),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
            DEPLOYMENT,
        )
        .unwrap();
        assert_eq!(got["metadata"]["finalizers"], json!(["b"]));
        let got = builtin(
            d.clone(),
            json!({"metadata": {"finalizers": null}}),
            DEPLOYMENT,
        )
        .unwrap();
        assert!(got["metadata"].get("finalizers").is_none());

        // Labels are a plain map: merged, null deletes.
        let got = builtin(
            d.clone(),
            json!({"metadata": {"labels": {"tier": "fe", "app": null}}}),
            DEPLOYMENT,
        )
        .unwrap();
        assert_eq!(got["metadata"]["labels"], json!({"tier": "fe"}));

        // Ports merge by containerPort.
        let got = builtin(d.clone(), json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}]}]}}}}),
            DEPLOYMENT).unwrap();
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}])
        );

        // Volumes: merge by name; a volume source switch via $retainKeys (what kubectl apply sends).
        let got = builtin(
            d.clone(),
            json!({"spec": {"template": {"spec": {"volumes": [
            {"name": "data", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/d"}}]}}}}),
            DEPLOYMENT,
        )
        .unwrap();
        assert_eq!(
            got["spec"]["template"]["spec"]["volumes"],
            json!([{"name": "data", "hostPath": {"path": "/d"}}])
        );
    }

    #[test]
    fn builtin_retain_keys_union_deployment_strategy() {
        if !crate::protobuf::available() {
            return;
        }
        let d = deployment();
        // Switching to Recreate must drop rollingUpdate: kubectl sends $retainKeys.
        let got = builtin(
            d.clone(),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            DEPLOYMENT,
        )
        .unwrap();
        assert_eq!(got["spec"]["strategy"], json!({"type": "Recreate"}));
        // Without it, the fields merge (and validation would reject the result).
        let got = builtin(
            d.clone(),
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
            DEPLOYMENT,
        )
        .unwrap();
        assert_eq!(
            got["spec"]["strategy"]["rollingUpdate"],
            d["spec"]["strategy"]["rollingUpdate"]
        );
        // Or with an explicit null.
        let got = builtin(
            d,
            json!({"spec": {"strategy": {"type": "Recreate", "rollingUpdate": null}}}),
            DEPLOYMENT,
        )
        .unwrap();
        assert_eq!(got["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn builtin_other_kinds() {
        if !crate::protobuf::available() {
            return;
        }
        // Service ports merge by port.
        let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}], "selector": {"a": "b"}}});
        let got = builtin(svc, json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}, {"port": 80, "name": "http"}]}}),
            "k8s.io.api.core.v1.Service").unwrap();
        assert_eq!(
            got["spec"]["ports"],
            json!([
                {"port": 443, "targetPort": 8443},
                {"port": 80, "targetPort": 8080, "protocol": "TCP", "name": "http"}
            ])
        );
        // Owner references merge by uid; conditions by type.
        let pod = json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a", "kind": "ReplicaSet", "apiVersion": "apps/v1"}]},
                         "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}});
        let got = builtin(pod, json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b", "kind": "ReplicaSet", "apiVersion": "apps/v1"}]},
                                      "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            "k8s.io.api.core.v1.Pod").unwrap();
        assert_eq!(
            got["metadata"]["ownerReferences"].as_array().unwrap().len(),
            2
        );
        assert_eq!(
            got["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}])
        );
        // A ConfigMap's data is a map.
        let got = builtin(
            json!({"data": {"a": "1", "b": "2"}}),
            json!({"data": {"b": null, "c": "3"}}),
            "k8s.io.api.core.v1.ConfigMap",
        )
        .unwrap();
        assert_eq!(got["data"], json!({"a": "1", "c": "3"}));
        // Unknown fields in built-in objects: maps merge, lists replace.
        let got = builtin(
            json!({"spec": {"x": {"a": 1}, "y": [1]}}),
            json!({"spec": {"x": {"b": 2}, "y": [2]}}),
            DEPLOYMENT,
        )
        .unwrap();
        assert_eq!(got["spec"], json!({"x": {"a": 1, "b": 2}, "y": [2]}));
        // CRD schemas: properties merge as JSONSchemaProps; $ref is a field, not a directive.
        let crd =
            "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition";
        let props = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
        let got = builtin(
            json!({"properties": {"a": {"type": "string"}}}),
            json!({"properties": {"a": {"description": "x"}, "b": {"$ref": "#/r"}}}),
            props,
        )
        .unwrap();
        assert_eq!(
            got["properties"],
            json!({"a": {"type": "string", "description": "x"}, "b": {"$ref": "#/r"}})
        );
        // Raw JSON (a JSONSchemaProps default) is replaced whole.
        let got = builtin(
            json!({"default": {"a": 1, "b": 2}}),
            json!({"default": {"b": 3}}),
            props,
        )
        .unwrap();
        assert_eq!(got["default"], json!({"b": 3}));
        assert!(builtin(json!({}), json!({"spec": {"group": "x"}}), crd).is_ok());
    }

    #[test]
    fn weird_input_never_panics() {
        let originals = [
            json!({}),
            json!({"a": [1, {"b": null}]}),
            deployment(),
            json!({"mergingList": [{"name": 1}, 2]}),
        ];
        let patches = [
            json!({"$patch": null}),
            json!({"$retainKeys": [1, null]}),
            json!({"$setElementOrder/a": "x"}),
            json!({"$setElementOrder/mergingList": [1, 2], "mergingList": [{"name": 1}]}),
            json!({"$setElementOrder/mergingIntList": [], "mergingIntList": [5]}),
            json!({"mergingList": [{"name": {"x": 1}}, {"name": [1]}]}),
            json!({"mergingList": [{"name": 1, "$patch": "delete"}, 3]}),
            json!({"$deleteFromPrimitiveList/mergingList": [{"name": 1}]}),
            json!({"$deleteFromPrimitiveList/a": null}),
            json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": 1}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": {"name": "x"}}}}}),
            json!({"metadata": {"finalizers": [["x"]]}}),
            json!("string"),
            json!(3),
            json!(true),
        ];
        for o in &originals {
            for p in &patches {
                let _ = run(o.clone(), p.clone());
                let _ = builtin(o.clone(), p.clone(), DEPLOYMENT);
            }
        }
    }
}
