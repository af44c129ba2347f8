//! Field management for the REST store: which schema a kind's managedFields follow, which fields
//! its write paths reset, and who the manager of a request is.

use std::collections::HashMap;

use serde_json::{json, Value};

use k3rs_apis::patchmeta;
use k3rs_apis::registry::Resource;
use k3rs_apis::ssa::{self, Context, Deduced, ResetFields, Schema};

use crate::status::{ApiError, ApiResult};

/// The manager of writes the server makes itself (bootstrap objects, allocations).
pub const SERVER_MANAGER: &str = "kube-apiserver";

/// How a write records field ownership.
#[derive(Clone, Copy, Debug)]
pub enum Track<'a> {
    /// An Update by `manager`; `subresource` labels its managedFields entry (`""`, `status`,
    /// `scale`).
    Update {
        manager: &'a str,
        subresource: &'a str,
    },
    /// The object comes from [`ssa::apply`] and already carries its managedFields.
    Applied,
}

impl Track<'static> {
    /// Writes the server makes on its own behalf.
    pub fn server() -> Self {
        Track::Update {
            manager: SERVER_MANAGER,
            subresource: "",
        }
    }
}

/// The list/map semantics of a kind's objects: the patch metadata of built-in kinds
/// (`k3rs_apis::patchmeta`), the structural schema of custom resources, upstream's deduced
/// schema (maps granular, lists atomic; ObjectMeta's own semantics) for everything else.
pub fn schema_for(res: &Resource) -> Box<dyn Schema> {
    if let Some(s) = typed_schema(res) {
        return s;
    }
    if let Some(s) = k3rs_apis::crd::lookup(res).and_then(k3rs_apis::crd::apply::ApplySchema::root)
    {
        return Box::new(s);
    }
    Box::new(Deduced { root: true })
}

/// The schema of a built-in kind from its protobuf patch metadata; `None` for kinds without one.
/// Every field the kind declares gets semantics (empty metadata for plain fields), so that only
/// the keys of real maps are treated as map keys.
fn typed_schema(res: &Resource) -> Option<Box<dyn Schema>> {
    static PATCHMETA: ssa::FnTypeSource = ssa::FnTypeSource {
        field_meta: |m, f| {
            let fm = patchmeta::field_meta(m, f)
                .or_else(|| patchmeta::field_shape(m, f).map(|_| Default::default()))?;
            Some(semantics(
                fm.patch_strategy,
                fm.merge_key,
                fm.list_type,
                fm.list_map_keys,
                fm.map_type,
                fm.struct_type,
            ))
        },
        field_message: patchmeta::field_message,
    };
    let message = patchmeta::message_for_kind(&res.api_version(), res.kind)?;
    Some(Box::new(ssa::MessageSchema::root(&PATCHMETA, &message)))
}

/// Builds [`ssa::FieldSemantics`] from the fields of `patchmeta::FieldMeta`.
pub fn semantics(
    patch_strategy: &str,
    merge_key: &str,
    list_type: &str,
    list_map_keys: &[&str],
    map_type: &str,
    struct_type: &str,
) -> ssa::FieldSemantics {
    ssa::FieldSemantics {
        patch_strategy: patch_strategy.to_string(),
        merge_key: merge_key.to_string(),
        list_type: list_type.to_string(),
        list_map_keys: list_map_keys.iter().map(|k| k.to_string()).collect(),
        map_type: map_type.to_string(),
        struct_type: struct_type.to_string(),
    }
}

/// The fields a write path resets and never lets a manager own (upstream strategies'
/// GetResetFields): status on the main resource of kinds with a status subresource, everything
/// but status on the status subresource.
pub fn reset_fields(res: &Resource, subresource: Option<&str>) -> ResetFields {
    match subresource {
        Some("status") => ResetFields::OnlyUnder("status".into()),
        None if res.has_status() => ResetFields::Exclude(vec!["status".into()]),
        _ => ResetFields::None,
    }
}

/// The context of one write: `subresource` is what the store writes through (reset fields),
/// `label` what the managedFields entry records.
pub fn context<'a>(
    res: &Resource,
    api_version: &'a str,
    subresource: Option<&str>,
    label: &'a str,
    schema: &'a dyn Schema,
    now: &'a str,
) -> Context<'a> {
    Context {
        api_version,
        kind: res.kind,
        subresource: label,
        schema,
        reset: reset_fields(res, subresource),
        now,
    }
}

/// Records a non-apply write in `new`'s managedFields.
pub fn track(
    res: &Resource,
    subresource: Option<&str>,
    how: Track,
    current: Option<&Value>,
    new: &mut Value,
) {
    let Track::Update {
        manager,
        subresource: label,
    } = how
    else {
        return;
    };
    let schema = schema_for(res);
    let api_version = res.api_version();
    let now = crate::object::now_rfc3339();
    let cx = context(res, &api_version, subresource, label, schema.as_ref(), &now);
    ssa::track_update(current, new, manager, &cx);
}

/// An invalid `fieldManager`/`force` parameter: 422, as upstream's options validation.
fn invalid_options(options_kind: &str, msg: &str) -> ApiError {
    ApiError::new(
        422,
        "Invalid",
        format!("{options_kind}.meta.k8s.io \"\" is invalid: {msg}"),
    )
    .with_details(json!({"group": "meta.k8s.io", "kind": options_kind}))
}

/// The manager of a write: the `fieldManager` parameter, else the User-Agent's product
/// (upstream's managerOrUserAgent). `options_kind` names the options in errors
/// (`CreateOptions`, `UpdateOptions`, `PatchOptions`).
pub fn manager(
    query: &HashMap<String, String>,
    user_agent: Option<&str>,
    options_kind: &str,
) -> ApiResult<String> {
    let given = query.get("fieldManager").map(String::as_str).unwrap_or("");
    ssa::validate_field_manager(given).map_err(|e| invalid_options(options_kind, &e))?;
    if !given.is_empty() {
        return Ok(given.to_string());
    }
    Ok(ssa::manager_from_user_agent(user_agent.unwrap_or("")))
}

/// The manager and `force` of an apply patch: `fieldManager` is required.
pub fn apply_params(query: &HashMap<String, String>) -> ApiResult<(String, bool)> {
    let given = query.get("fieldManager").map(String::as_str).unwrap_or("");
    if given.is_empty() {
        return Err(invalid_options(
            "PatchOptions",
            "fieldManager: Required value: is required for apply patch",
        ));
    }
    ssa::validate_field_manager(given).map_err(|e| invalid_options("PatchOptions", &e))?;
    Ok((given.to_string(), force_param(query)?.unwrap_or(false)))
}

/// Rejects `force` on a patch that is not an apply (upstream's PatchOptions validation).
pub fn forbid_force(query: &HashMap<String, String>) -> ApiResult<()> {
    if force_param(query)?.is_some() {
        return Err(invalid_options(
            "PatchOptions",
            "force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    Ok(())
}

fn force_param(query: &HashMap<String, String>) -> ApiResult<Option<bool>> {
    match query.get("force").map(String::as_str) {
        None => Ok(None),
        Some("true" | "1" | "True" | "TRUE" | "t" | "T") => Ok(Some(true)),
        Some("false" | "0" | "False" | "FALSE" | "f" | "F" | "") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid value for force: {other:?}: must be true or false"
        ))),
    }
}

/// Decodes an apply patch body: YAML (JSON is accepted as YAML).
pub fn decode_apply(body: &[u8]) -> ApiResult<Value> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        // A repeated key keeps its last value (field validation reports it).
        Err(_) => crate::fieldvalidation::parse_yaml(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?,
    };
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: the apply configuration must be an object",
        ));
    }
    Ok(v)
}

/// An apply failure as a Status: conflicts are 409 Conflict with FieldManagerConflict causes.
pub fn apply_error(e: ssa::ApplyError) -> ApiError {
    match &e {
        ssa::ApplyError::Conflicts(_) => {
            ApiError::new(409, "Conflict", e.message()).with_details(json!({"causes": e.causes()}))
        }
        ssa::ApplyError::BadRequest(m) => ApiError::bad_request(m.clone()),
        // Upstream's field manager returns a plain error here, which its handler reports as an
        // internal error without a reason.
        ssa::ApplyError::Typed(m) => ApiError::new(500, "", m.clone()),
    }
}

/// Applies `config` for `manager` to the current object (`None`: it does not exist yet).
pub fn apply(
    res: &Resource,
    subresource: Option<&str>,
    current: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
) -> ApiResult<Value> {
    let schema = schema_for(res);
    let api_version = res.api_version();
    // Built-in kinds: the fields their schema does not have (custom resources' schemas say
    // which fields they declare themselves).
    let same_kind = config.get("apiVersion").and_then(Value::as_str) == Some(&api_version)
        && config.get("kind").and_then(Value::as_str) == Some(res.kind);
    let managed_fields_set = config
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null());
    if same_kind && !managed_fields_set {
        let errs = undeclared_fields(res, &without_managed_fields(config), schema.as_ref());
        if !errs.is_empty() {
            return Err(apply_error(ssa::ApplyError::Typed(
                ssa::typed_patch_message(config, &errs),
            )));
        }
    }
    let now = crate::object::now_rfc3339();
    let cx = context(
        res,
        &api_version,
        subresource,
        subresource.unwrap_or(""),
        schema.as_ref(),
        &now,
    );
    ssa::apply(current, config, manager, force, &cx).map_err(apply_error)
}

/// The fields of `config` (an object of a built-in kind) its schema does not declare, as SMD
/// reports them: `.spec.foo: field not declared in schema`. Custom resources' schemas say which
/// fields they declare themselves (see [`ssa::typed_errors`]).
pub fn undeclared_fields(res: &Resource, config: &Value, schema: &dyn Schema) -> Vec<String> {
    if res.is_custom() {
        return Vec::new();
    }
    let mut pruned = config.clone();
    k3rs_apis::protobuf::prune_unknown(&res.api_version(), res.kind, &mut pruned)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let path = ssa::typed_path(config, p, schema)
                .map(|p| p.to_string())
                .unwrap_or_else(|| format!(".{p}"));
            format!("{path}: field not declared in schema")
        })
        .collect()
}

/// `config` without `metadata.managedFields` (an apply refuses it with its own error).
fn without_managed_fields(config: &Value) -> Value {
    let mut c = config.clone();
    if let Some(m) = c.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn managers_from_parameters_and_user_agents() {
        assert_eq!(
            manager(
                &q(&[("fieldManager", "kubectl-edit")]),
                Some("kubectl/v1"),
                "UpdateOptions"
            )
            .unwrap(),
            "kubectl-edit"
        );
        assert_eq!(
            manager(
                &q(&[]),
                Some("kubectl/v1.33.0 (linux/amd64)"),
                "CreateOptions"
            )
            .unwrap(),
            "kubectl"
        );
        let long = "x".repeat(129);
        let e = manager(&q(&[("fieldManager", &long)]), None, "CreateOptions").unwrap_err();
        assert_eq!(e.code, 422);
        assert!(e
            .message
            .starts_with("CreateOptions.meta.k8s.io \"\" is invalid: fieldManager"));
        let e = apply_params(&q(&[])).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (422, "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
        );
        assert_eq!(
            apply_params(&q(&[("fieldManager", "m"), ("force", "true")])).unwrap(),
            ("m".into(), true)
        );
        assert_eq!(
            apply_params(&q(&[("fieldManager", "m"), ("force", "nope")]))
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            forbid_force(&q(&[("force", "false")])).unwrap_err().code,
            422
        );
        assert!(forbid_force(&q(&[])).is_ok());
    }

    #[test]
    fn patchmeta_wiring() {
        let pods = k3rs_apis::registry::find("", "v1", "pods").unwrap();
        let schema = typed_schema(pods).unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                         "spec": {"containers": [{"name": "a", "image": "x"}]}});
        let set = ssa::fields_of(&pod, schema.as_ref()).unwrap();
        let v1 = serde_json::to_string(&set.to_fields_v1()).unwrap();
        assert!(
            v1.contains(
                r#""f:containers":{"k:{\"name\":\"a\"}":{".":{},"f:image":{},"f:name":{}}}"#
            ),
            "{v1}"
        );
        // A ConfigMap's data is a real map: its keys are fields, the map itself is not marked.
        let cms = k3rs_apis::registry::find("", "v1", "configmaps").unwrap();
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                        "data": {"k": "v"}});
        let set = ssa::fields_of(&cm, typed_schema(cms).unwrap().as_ref()).unwrap();
        let v1 = serde_json::to_string(&set.to_fields_v1()).unwrap();
        assert!(v1.contains(r#""f:data":{"f:k":{}}"#), "{v1}");
    }

    #[test]
    fn apply_bodies() {
        assert_eq!(
            decode_apply(b"kind: ConfigMap\ndata: {a: b}").unwrap()["data"]["a"],
            "b"
        );
        assert_eq!(
            decode_apply(br#"{"kind":"ConfigMap"}"#).unwrap()["kind"],
            "ConfigMap"
        );
        assert_eq!(decode_apply(b"a: [").unwrap_err().code, 400);
        assert_eq!(
            decode_apply(b"kind: A\nspec:\n  x: 1\n  x: 2\n").unwrap()["spec"]["x"],
            2
        );
        assert_eq!(decode_apply(b"- 1").unwrap_err().code, 400);
    }
}
