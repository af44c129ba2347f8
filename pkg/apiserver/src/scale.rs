//! The `scale` subresource: an autoscaling/v1 Scale view of `spec.replicas`.

use serde_json::{json, Value};

use k3rs_apis::registry::Resource;
use k3rs_apis::selectors::LabelSelector;

use crate::object::{meta, meta_str};
use crate::status::{ApiError, ApiResult};
use crate::store::Api;

/// The Scale of an object with `spec.replicas`.
pub fn to_scale(res: &Resource, obj: &Value) -> Value {
    let m = meta(obj);
    let pick = |f: &str| m.and_then(|m| m.get(f)).cloned().unwrap_or(Value::Null);
    let custom = k3rs_apis::crd::lookup(res).and_then(|c| c.scale.clone());
    let (spec_path, status_path) = match &custom {
        Some(p) => (p.spec_replicas.as_str(), p.status_replicas.as_str()),
        None => ("/spec/replicas", "/status/replicas"),
    };
    let selector = if let Some(p) = &custom {
        // A custom resource's labelSelectorPath points at a selector string.
        p.label_selector
            .as_deref()
            .and_then(|sel| obj.pointer(sel))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    } else {
        builtin_selector(obj)
    };
    let mut metadata = json!({
        "name": pick("name"),
        "uid": pick("uid"),
        "resourceVersion": pick("resourceVersion"),
        "creationTimestamp": pick("creationTimestamp"),
    });
    if let Some(ns) = meta_str(obj, "namespace") {
        metadata["namespace"] = json!(ns);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": obj.pointer(spec_path).and_then(Value::as_i64).unwrap_or(0)},
        "status": {
            "replicas": obj.pointer(status_path).and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

fn builtin_selector(obj: &Value) -> String {
    obj.pointer("/spec/selector")
        .map(|s| {
            // ReplicationControllers have a plain map selector.
            if s.get("matchLabels").is_some() || s.get("matchExpressions").is_some() {
                LabelSelector::string_from_object(s)
            } else {
                LabelSelector::string_from_object(&json!({"matchLabels": s}))
            }
        })
        .unwrap_or_default()
}

/// Applies a merge or JSON patch to a Scale.
pub fn patch_scale(mut scale: Value, patch: &[u8], content_type: Option<&str>) -> ApiResult<Value> {
    let before = scale.pointer("/metadata/resourceVersion").cloned();
    let p: Value = serde_json::from_slice(patch)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    match content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
    {
        "application/merge-patch+json" => crate::patch::merge_patch(&mut scale, &p),
        "application/json-patch+json" => crate::patch::json_patch(&mut scale, &p)?,
        "application/strategic-merge-patch+json" => {
            // A Scale has no lists: a strategic merge patch is a merge patch here.
            crate::patch::merge_patch(&mut scale, &p)
        }
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format ({other})"
            )))
        }
    }
    // The patch names a resourceVersion (a precondition) only if it changed it.
    if scale.pointer("/metadata/resourceVersion") == before.as_ref() {
        if let Some(m) = scale.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
    }
    Ok(scale)
}

/// Writes `scale.spec.replicas` into the object (with the Scale's resourceVersion as precondition).
pub async fn apply_scale(
    api: &Api,
    res: &'static Resource,
    ns: Option<&str>,
    name: &str,
    scale: &Value,
    dry_run: bool,
    track: crate::fieldmanager::Track<'_>,
) -> ApiResult<Value> {
    let replicas = match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().filter(|r| *r >= 0 && *r <= i32::MAX as i64).ok_or_else(|| {
            ApiError::new(
                422,
                "Invalid",
                format!("Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {v}: must be greater than or equal to 0"),
            )
        })?,
    };
    let spec_path = k3rs_apis::crd::lookup(res)
        .and_then(|c| c.scale.as_ref().map(|p| p.spec_replicas.clone()))
        .unwrap_or_else(|| "/spec/replicas".to_string());
    let precondition = meta_str(scale, "resourceVersion")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    api.update_by(res, ns, name, None, dry_run, track, |current| {
        let mut obj = current.clone();
        let segments: Vec<&str> = spec_path.split('/').skip(1).collect();
        crate::strategy::set_path(&mut obj, &segments, json!(replicas));
        let m = crate::object::meta_mut(&mut obj);
        match &precondition {
            Some(rv) => m.insert("resourceVersion".into(), json!(rv)),
            None => m.remove("resourceVersion"),
        };
        Ok(obj)
    })
    .await
}
