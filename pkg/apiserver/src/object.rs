//! Helpers for objects as JSON values: metadata access, timestamps, encoding to and from storage.

use serde_json::{json, Map, Value};

use crate::status::{ApiError, ApiResult};
use k3rs_apis::registry::Resource;

/// `metadata` of an object, if it is a JSON object.
pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

/// `metadata` of an object, created if missing. Callers have checked that `obj` is a JSON object
/// (a non-object is replaced by `{}`).
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let Value::Object(root) = obj else {
        unreachable!("replaced by an object above")
    };
    let m = root.entry("metadata").or_insert_with(|| json!({}));
    if !m.is_object() {
        *m = json!({});
    }
    match m {
        Value::Object(m) => m,
        _ => unreachable!("replaced by an object above"),
    }
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj).and_then(|m| m.get(field)).and_then(Value::as_str)
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or_default()
}

/// Now, as RFC 3339 with seconds and `Z` (how upstream writes timestamps).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses an RFC 3339 timestamp into Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp())
}

/// Decodes a stored object and sets its resourceVersion to the revision it was read at.
pub fn decode_stored(res: &Resource, bytes: &[u8], revision: i64) -> ApiResult<Value> {
    let mut obj: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::internal(format!(
            "stored {} object is not valid JSON (revision {revision}): {e}",
            res.kind
        ))
    })?;
    if !obj.is_object() {
        return Err(ApiError::internal(format!(
            "stored {} object at revision {revision} is not a JSON object",
            res.kind
        )));
    }
    meta_mut(&mut obj).insert("resourceVersion".into(), json!(revision.to_string()));
    obj["kind"] = json!(res.kind);
    let cr = if res.is_custom() {
        k3rs_apis::crd::lookup(res)
    } else {
        None
    };
    // A custom resource whose CRD converts by webhook keeps the version it was stored in: the
    // store converts it (`crate::webhook::conversion::to_served`), which also defaults it.
    let converts = cr.as_ref().is_some_and(|c| c.conversion_webhook.is_some());
    if converts
        && obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|av| {
                av != res.api_version()
                    && av
                        .split_once('/')
                        .is_some_and(|(g, v)| g == res.group && !v.is_empty())
            })
    {
        return Ok(obj);
    }
    obj["apiVersion"] = json!(res.api_version());
    // Custom resources are defaulted when read from storage too (as upstream), so a default added
    // to the schema later shows on old objects.
    if let Some(schema) = cr.as_ref().and_then(|c| c.schema.as_ref()) {
        k3rs_apis::crd::schema::apply_defaults(schema, &mut obj);
    }
    Ok(obj)
}

/// Encodes an object for storage: without resourceVersion (the revision is the source of truth).
pub fn encode_stored(obj: &Value) -> ApiResult<Vec<u8>> {
    let mut copy = obj.clone();
    meta_mut(&mut copy).remove("resourceVersion");
    serde_json::to_vec(&copy).map_err(|e| ApiError::internal(format!("encoding object: {e}")))
}

/// A random suffix for `generateName`, from the same alphabet as upstream (no vowels, no
/// look-alike characters).
pub fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut extra = uuid::Uuid::new_v4().into_bytes().to_vec();
    extra.extend_from_slice(&bytes);
    extra
        .iter()
        .take(n)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// The object with `metadata` and `status` removed: what a spec change is measured on.
pub fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    v
}
