//! JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch (the engine is
//! `k3rs_apis::smp`; [`strategic_merge_patch`] maps its errors to API errors). Server-side apply
//! is answered with 415 until it exists.

use serde_json::Value;

use crate::status::{ApiError, ApiResult};

/// RFC 7386: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn unescape_token(t: &str) -> String {
    t.replace("~1", "/").replace("~0", "~")
}

fn split_pointer(path: &str) -> ApiResult<Vec<String>> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(ApiError::unprocessable_patch(format!(
            "invalid JSON pointer {path:?}: must start with '/'"
        )));
    };
    Ok(rest.split('/').map(unescape_token).collect())
}

fn parent<'a>(doc: &'a mut Value, tokens: &[String], path: &str) -> ApiResult<&'a mut Value> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(move |i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| ApiError::unprocessable_patch(format!("path {path:?} does not exist")))?;
    }
    Ok(cur)
}

fn get_at<'a>(doc: &'a Value, path: &str) -> ApiResult<&'a Value> {
    let tokens = split_pointer(path)?;
    let mut cur = doc;
    for t in &tokens {
        cur = match cur {
            Value::Object(m) => m.get(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| ApiError::unprocessable_patch(format!("path {path:?} does not exist")))?;
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> ApiResult<()> {
    let tokens = split_pointer(path)?;
    let Some((last, init)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent(doc, init, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let idx = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= a.len())
                    .ok_or_else(|| {
                        ApiError::unprocessable_patch(format!("invalid array index in {path:?}"))
                    })?
            };
            a.insert(idx, value);
            Ok(())
        }
        _ => Err(ApiError::unprocessable_patch(format!(
            "cannot add at {path:?}: parent is not an object or array"
        ))),
    }
}

fn remove(doc: &mut Value, path: &str) -> ApiResult<Value> {
    let tokens = split_pointer(path)?;
    let Some((last, init)) = tokens.split_last() else {
        return Err(ApiError::unprocessable_patch(
            "cannot remove the whole document",
        ));
    };
    let missing = || ApiError::unprocessable_patch(format!("path {path:?} does not exist"));
    match parent(doc, init, path)? {
        Value::Object(m) => m.remove(last).ok_or_else(missing),
        Value::Array(a) => {
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < a.len())
                .ok_or_else(missing)?;
            Ok(a.remove(i))
        }
        _ => Err(missing()),
    }
}

/// Upstream's limits: a patch of at most 10,000 operations, copying at most 3 MiB.
const MAX_PATCH_OPS: usize = 10_000;
const MAX_COPY_BYTES: usize = 3 * 1024 * 1024;

/// RFC 6902. Each operation applies in order; a failing `test` or a missing path fails the whole
/// patch (nothing is applied).
pub fn json_patch(doc: &mut Value, patch: &Value) -> ApiResult<()> {
    let Value::Array(ops) = patch else {
        return Err(ApiError::bad_request(
            "json patch must be a JSON array of operations",
        ));
    };
    if ops.len() > MAX_PATCH_OPS {
        return Err(ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!(
                "The allowed maximum operations in a JSON patch is {MAX_PATCH_OPS}, got {}",
                ops.len()
            ),
        ));
    }
    let mut copied = 0usize;
    let mut work = doc.clone();
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::unprocessable_patch("operation is missing \"path\""))?;
        let value = || {
            op.get("value").cloned().ok_or_else(|| {
                ApiError::unprocessable_patch(format!("{kind} operation is missing \"value\""))
            })
        };
        let from = || {
            op.get("from").and_then(Value::as_str).ok_or_else(|| {
                ApiError::unprocessable_patch(format!("{kind} operation is missing \"from\""))
            })
        };
        match kind {
            "add" => add(&mut work, path, value()?)?,
            "remove" => {
                remove(&mut work, path)?;
            }
            "replace" => {
                remove(&mut work, path)?;
                add(&mut work, path, value()?)?;
            }
            "move" => {
                let v = remove(&mut work, from()?)?;
                add(&mut work, path, v)?;
            }
            "copy" => {
                let v = get_at(&work, from()?)?.clone();
                copied += serde_json::to_vec(&v).map(|b| b.len()).unwrap_or(0);
                if copied > MAX_COPY_BYTES {
                    return Err(ApiError::new(
                        413,
                        "RequestEntityTooLarge",
                        format!("copy operations in the JSON patch copy more than {MAX_COPY_BYTES} bytes"),
                    ));
                }
                add(&mut work, path, v)?;
            }
            "test" => {
                if get_at(&work, path)? != &value()? {
                    return Err(ApiError::unprocessable_patch(format!(
                        "testing value at {path:?} failed"
                    )));
                }
            }
            other => {
                return Err(ApiError::unprocessable_patch(format!(
                    "unknown patch operation {other:?}"
                )))
            }
        }
    }
    *doc = work;
    Ok(())
}

/// Applies a strategic merge patch to `current`, an object of the built-in type `message`.
/// Errors are answered as upstream's API server answers them.
pub fn strategic_merge_patch(current: &Value, patch: &Value, message: &str) -> ApiResult<Value> {
    use k3rs_apis::smp::{self, SmpErrorKind};
    smp::apply(current, patch, message).map_err(|e| match e.kind {
        SmpErrorKind::BadRequest => ApiError::bad_request(e.message),
        SmpErrorKind::Invalid => ApiError::new(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
        )
        .with_details(serde_json::json!({"causes": [{"message": e.message}]})),
        // Upstream passes these through as plain errors: 500 with no reason.
        SmpErrorKind::Internal => ApiError::new(500, "", e.message),
    })
}

impl ApiError {
    /// A patch that cannot be applied to the object: 422, as upstream.
    pub fn unprocessable_patch(msg: impl Into<String>) -> Self {
        ApiError::new(
            422,
            "Invalid",
            format!(
                "the server rejected our request due to an error in our request: {}",
                msg.into()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386_examples() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": [1, 2]});
        merge_patch(&mut t, &json!({"a": [3]}));
        assert_eq!(t, json!({"a": [3]}));
    }

    #[test]
    fn json_patch_ops() {
        let mut d = json!({"metadata": {"labels": {"a": "1"}}, "list": [1, 2, 3]});
        json_patch(
            &mut d,
            &json!([
                {"op": "add", "path": "/metadata/labels/b", "value": "2"},
                {"op": "remove", "path": "/list/0"},
                {"op": "replace", "path": "/metadata/labels/a", "value": "x"},
                {"op": "add", "path": "/list/-", "value": 4},
                {"op": "copy", "from": "/list/0", "path": "/first"},
                {"op": "move", "from": "/first", "path": "/moved"},
                {"op": "test", "path": "/moved", "value": 2},
                {"op": "add", "path": "/metadata/labels/a~1b", "value": "slash"},
            ]),
        )
        .unwrap();
        assert_eq!(
            d,
            json!({"metadata": {"labels": {"a": "x", "b": "2", "a/b": "slash"}}, "list": [2, 3, 4], "moved": 2})
        );
        // A failing op applies nothing.
        let before = d.clone();
        let err = json_patch(
            &mut d,
            &json!([{"op": "remove", "path": "/list/0"}, {"op": "test", "path": "/moved", "value": 9}]),
        );
        assert_eq!(err.unwrap_err().code, 422);
        assert_eq!(d, before);
        assert_eq!(
            json_patch(&mut d, &json!({"op": "add"})).unwrap_err().code,
            400
        );
    }
}
