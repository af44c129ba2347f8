//! CustomResourceDefinition `conversion.strategy: Webhook`, as apiextensions-apiserver's webhook
//! converter.
//!
//! Objects of such a CRD are stored in its storage version. The generic store reads them in the
//! version they were stored in (`decode_stored` keeps that `apiVersion` instead of renaming it)
//! and brings them to the version the client asked for with [`to_served`]; before writing, it
//! brings new objects to the storage version with [`to_storage`]. Either way, objects already in
//! the wanted version are left alone, and the ones that are not go to the webhook in one
//! ConversionReview (a list page or a watch event's object, as upstream batches a list).
//!
//! The answer is checked as upstream checks it (same uid, `result.status: Success`, one object
//! per object sent, each of the wanted apiVersion, same kind, name, namespace and uid), and only
//! the labels and annotations of the converted objects' metadata are kept; the rest of the
//! metadata is the original's. Converted objects are then pruned and defaulted with the target
//! version's schema. A failure is a 500 `InternalError` naming the CRD's kind, as upstream's
//! `conversion webhook for <group/version, Kind=...> failed: ...`.

use std::time::Duration;

use serde_json::{json, Value};

use k3rs_apis::crd::CustomResource;
use k3rs_apis::registry::Resource;

use crate::status::{ApiError, ApiResult};
use crate::store::Api;

use super::client::{post_json, ClientConfig};

/// Upstream's default client timeout (conversion webhooks have no `timeoutSeconds`).
const TIMEOUT: Duration = Duration::from_secs(30);

fn api_version_of(obj: &Value) -> &str {
    obj.get("apiVersion").and_then(Value::as_str).unwrap_or("")
}

/// The served record of `res`'s CRD, when it converts by webhook.
pub fn webhook_for(res: &Resource) -> Option<std::sync::Arc<CustomResource>> {
    if !res.is_custom() {
        return None;
    }
    k3rs_apis::crd::lookup(res).filter(|c| c.conversion_webhook.is_some())
}

/// Brings objects read from storage to the version `res` serves (a no-op for objects already in
/// it, which is every object of every kind that does not convert by webhook).
pub async fn to_served(api: &Api, res: &Resource, objs: Vec<Value>) -> ApiResult<Vec<Value>> {
    let want = res.api_version();
    if objs.iter().all(|o| api_version_of(o) == want) {
        return Ok(objs);
    }
    convert(api, res, objs, &want, res.version).await
}

/// One object: see [`to_served`].
pub async fn to_served_one(api: &Api, res: &Resource, obj: Value) -> ApiResult<Value> {
    if api_version_of(&obj) == res.api_version() {
        return Ok(obj);
    }
    let mut out = to_served(api, res, vec![obj]).await?;
    out.pop()
        .ok_or_else(|| ApiError::internal("conversion returned no object"))
}

/// The object as it is to be stored: in the CRD's storage version when the CRD converts by
/// webhook and `res` is another version (`None`: store it as it is).
pub async fn to_storage(api: &Api, res: &Resource, obj: &Value) -> ApiResult<Option<Value>> {
    let Some(cr) = webhook_for(res) else {
        return Ok(None);
    };
    if cr.storage_version.is_empty() || cr.storage_version == res.version {
        return Ok(None);
    }
    let want = format!("{}/{}", res.group, cr.storage_version);
    let mut out = convert(api, res, vec![obj.clone()], &want, &cr.storage_version).await?;
    Ok(out.pop())
}

/// Converts objects of `res`'s kind to `res.group`/`version` for an admission webhook that asked
/// for another version of the same resource (`matchPolicy: Equivalent`).
pub async fn to_version(api: &Api, res: &Resource, obj: Value, version: &str) -> ApiResult<Value> {
    let want = if res.group.is_empty() {
        version.to_string()
    } else {
        format!("{}/{version}", res.group)
    };
    if api_version_of(&obj) == want {
        return Ok(obj);
    }
    let mut out = convert(api, res, vec![obj], &want, version).await?;
    out.pop()
        .ok_or_else(|| ApiError::internal("conversion returned no object"))
}

/// The Go `GroupVersionKind.String()` of an object (`group/version, Kind=Kind`).
fn gvk_string(obj: &Value, fallback_kind: &str) -> String {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or(fallback_kind);
    format!("{}, Kind={kind}", api_version_of(obj))
}

async fn convert(
    api: &Api,
    res: &Resource,
    mut objs: Vec<Value>,
    want: &str,
    version: &str,
) -> ApiResult<Vec<Value>> {
    let pending: Vec<usize> = (0..objs.len())
        .filter(|&i| api_version_of(&objs[i]) != want)
        .collect();
    if pending.is_empty() {
        return Ok(objs);
    }
    let cr = k3rs_apis::crd::lookup(res);
    let webhook = cr.as_ref().and_then(|c| c.conversion_webhook.clone());
    match webhook {
        // Strategy None (or a built-in): only the apiVersion changes.
        None => {
            for &i in &pending {
                objs[i]["apiVersion"] = json!(want);
            }
        }
        Some(webhook) => {
            // Upstream names the list's kind when it converts a list.
            let what = if objs.len() > 1 {
                format!(
                    "{}, Kind={}List",
                    api_version_of(&objs[pending[0]]),
                    res.kind
                )
            } else {
                gvk_string(&objs[pending[0]], res.kind)
            };
            let fail = |why: String| {
                ApiError::internal(format!("conversion webhook for {what} failed: {why}"))
            };
            let originals: Vec<Value> = pending.iter().map(|&i| objs[i].clone()).collect();
            let converted = call(api, &webhook, originals.clone(), want)
                .await
                .map_err(fail)?;
            for ((slot, original), mut out) in pending.iter().zip(&originals).zip(converted) {
                check_converted(original, &out, want).map_err(|e| {
                    ApiError::internal(format!(
                        "conversion webhook for {what} returned invalid object: {e}"
                    ))
                })?;
                restore_metadata(original, &mut out).map_err(|e| {
                    ApiError::internal(format!(
                        "conversion webhook for {what} returned invalid metadata: {e}"
                    ))
                })?;
                objs[*slot] = out;
            }
        }
    }
    // The target version's schema: prune what it does not know, fill its defaults.
    let schema = k3rs_apis::crd::find(res.group, version, res.plural)
        .and_then(k3rs_apis::crd::lookup)
        .and_then(|c| c.schema.clone());
    if let Some(schema) = schema {
        for &i in &pending {
            k3rs_apis::crd::schema::prune(&schema, &mut objs[i]);
            k3rs_apis::crd::schema::apply_defaults(&schema, &mut objs[i]);
        }
    }
    Ok(objs)
}

/// Sends one ConversionReview; returns the converted objects (as many as were sent).
async fn call(
    api: &Api,
    webhook: &Value,
    objects: Vec<Value>,
    want: &str,
) -> Result<Vec<Value>, String> {
    let versions: Vec<&str> = webhook
        .get("conversionReviewVersions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(review_version) = versions.iter().find(|v| matches!(**v, "v1" | "v1beta1")) else {
        return Err("no supported conversion review versions".into());
    };
    let review_api_version = format!("apiextensions.k8s.io/{review_version}");
    let uid = uuid::Uuid::new_v4().to_string();
    let n = objects.len();
    let review = json!({
        "kind": "ConversionReview",
        "apiVersion": review_api_version,
        "request": {"uid": uid, "desiredAPIVersion": want, "objects": objects},
    });
    let cc = ClientConfig::from_value(webhook.get("clientConfig").unwrap_or(&Value::Null));
    let answer = post_json(api, &cc, &review, TIMEOUT, false)
        .await
        .map_err(|e| e.reason)?;
    if *review_version == "v1" {
        let got = format!(
            "{}, Kind={}",
            api_version_of(&answer),
            answer.get("kind").and_then(Value::as_str).unwrap_or("")
        );
        if got != "apiextensions.k8s.io/v1, Kind=ConversionReview" {
            return Err(format!(
                "expected webhook response of apiextensions.k8s.io/v1, Kind=ConversionReview, got {got}"
            ));
        }
    }
    let Some(response) = answer.get("response").filter(|r| r.is_object()) else {
        return Err("no response provided".into());
    };
    if *review_version == "v1" {
        let got = response.get("uid").and_then(Value::as_str).unwrap_or("");
        if got != uid {
            return Err(format!("expected response.uid={uid:?}, got {got:?}"));
        }
    }
    let status = response
        .pointer("/result/status")
        .and_then(Value::as_str)
        .unwrap_or("");
    if status != "Success" {
        return match response.pointer("/result/message").and_then(Value::as_str) {
            Some(m) if !m.is_empty() => Err(m.to_string()),
            _ => Err(format!(
                "response.result.status was '{status}', not 'Success'"
            )),
        };
    }
    let converted = response
        .get("convertedObjects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if converted.len() != n {
        return Err(format!(
            "returned {} objects, expected {n}",
            converted.len()
        ));
    }
    Ok(converted)
}

/// Upstream's `validateConvertedObject` plus the apiVersion check.
fn check_converted(original: &Value, out: &Value, want: &str) -> Result<(), String> {
    if !out.is_object() {
        return Err("the converted object is not a JSON object".into());
    }
    if api_version_of(out) != want {
        return Err(format!(
            "invalid groupVersion (expected {want}, received {})",
            api_version_of(out)
        ));
    }
    let s = |o: &Value, p: &str| {
        o.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    for (what, p) in [
        ("kind", "/kind"),
        ("name", "/metadata/name"),
        ("namespace", "/metadata/namespace"),
        ("UID", "/metadata/uid"),
    ] {
        let (a, b) = (s(original, p), s(out, p));
        if a != b {
            return Err(format!("must have the same {what}: {a} != {b}"));
        }
    }
    Ok(())
}

/// Upstream's `restoreObjectMeta`: the original's metadata, with the converted object's labels
/// and annotations (checked when they changed).
fn restore_metadata(original: &Value, out: &mut Value) -> Result<(), String> {
    let response_meta = match out.get("metadata") {
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(format!(
                "invalid metadata of type {} in converted object",
                json_type(other)
            ))
        }
        None => return Err("missing metadata in converted object".into()),
    };
    let mut meta = original
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for field in ["labels", "annotations"] {
        match response_meta.get(field) {
            None | Some(Value::Null) => {
                meta.remove(field);
            }
            Some(Value::Object(m)) => {
                if let Some((k, v)) = m.iter().find(|(_, v)| !v.is_string()) {
                    return Err(format!(
                        "metadata.{field}[{k}] must be a string, but is {} in converted object",
                        json_type(v)
                    ));
                }
                let value = Value::Object(m.clone());
                if meta.get(field) != Some(&value) {
                    let path = if field == "labels" {
                        "metadata.labels"
                    } else {
                        "metadata.annotation"
                    };
                    let errs = if field == "labels" {
                        k3rs_apis::validation::validate_labels(&value, path)
                    } else {
                        k3rs_apis::validation::validate_annotations(&value, path)
                    };
                    if !errs.is_empty() {
                        let msgs: Vec<String> = errs.iter().map(|e| e.message()).collect();
                        return Err(if msgs.len() == 1 {
                            msgs[0].clone()
                        } else {
                            format!("[{}]", msgs.join(", "))
                        });
                    }
                }
                meta.insert(field.to_string(), value);
            }
            Some(other) => {
                return Err(format!(
                    "invalid metadata.{field} of type {} in converted object",
                    json_type(other)
                ))
            }
        }
    }
    out["metadata"] = Value::Object(meta);
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converted_objects_keep_the_original_metadata_but_their_labels() {
        let original = json!({"apiVersion": "g/v1", "kind": "K", "metadata": {
            "name": "a", "namespace": "n", "uid": "u", "resourceVersion": "7",
            "labels": {"x": "1"}}});
        let mut out = json!({"apiVersion": "g/v2", "kind": "K", "metadata": {
            "name": "a", "namespace": "n", "uid": "u", "resourceVersion": "99",
            "labels": {"x": "2"}, "annotations": {"a": "b"}}, "spec": {}});
        assert_eq!(check_converted(&original, &out, "g/v2"), Ok(()));
        restore_metadata(&original, &mut out).unwrap();
        assert_eq!(out["metadata"]["resourceVersion"], "7");
        assert_eq!(out["metadata"]["labels"]["x"], "2");
        assert_eq!(out["metadata"]["annotations"]["a"], "b");
        let renamed = json!({"apiVersion": "g/v2", "kind": "K", "metadata": {"name": "b", "namespace": "n", "uid": "u"}});
        assert_eq!(
            check_converted(&original, &renamed, "g/v2"),
            Err("must have the same name: a != b".into())
        );
        assert!(check_converted(&original, &out, "g/v3")
            .unwrap_err()
            .starts_with("invalid groupVersion"));
        let mut bad = json!({"apiVersion": "g/v2", "kind": "K", "metadata": {"labels": {"x": 1}}});
        assert_eq!(
            restore_metadata(&original, &mut bad),
            Err("metadata.labels[x] must be a string, but is float64 in converted object".into())
        );
    }
}
