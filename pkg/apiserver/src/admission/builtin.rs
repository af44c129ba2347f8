//! What the built-in plugins (NamespaceLifecycle, LimitRanger, ServiceAccount, Priority,
//! DefaultTolerationSeconds, DefaultStorageClass) share: upstream's admission error shapes and
//! lookups of the objects they read.

use serde_json::{json, Value};

use k3rs_apis::registry::{self, Resource};

use super::Attributes;
use crate::status::{qualified, ApiError, ApiResult};
use crate::store::Api;

impl Attributes<'_> {
    /// Whether the request is for `group`/`plural` (any subresource).
    pub fn is(&self, group: &str, plural: &str) -> bool {
        self.resource.group == group && self.resource.plural == plural
    }

    /// The name upstream's admission errors use: the request's, else the object's name or
    /// `generateName`, else `Unknown`.
    pub fn error_name(&self, obj: Option<&Value>) -> String {
        if !self.name.is_empty() {
            return self.name.to_string();
        }
        let meta = obj.and_then(|o| o.get("metadata"));
        for k in ["name", "generateName"] {
            if let Some(n) = meta
                .and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            {
                return n.to_string();
            }
        }
        "Unknown".into()
    }

    /// Upstream's `admission.NewForbidden`: `pods "x" is forbidden: <why>`.
    pub fn forbidden(&self, obj: Option<&Value>, why: impl std::fmt::Display) -> ApiError {
        forbidden(self.resource, &self.error_name(obj), why)
    }
}

/// `apierrors.NewForbidden` for a resource and name.
pub fn forbidden(res: &Resource, name: &str, why: impl std::fmt::Display) -> ApiError {
    let mut details = json!({"name": name, "kind": res.plural});
    if !res.group.is_empty() {
        details["group"] = json!(res.group);
    }
    ApiError::forbidden(format!("{} \"{name}\" is forbidden: {why}", qualified(res)))
        .with_details(details)
}

/// A built-in resource the plugins read (always in the registry).
pub fn resource(group: &str, version: &str, plural: &str) -> ApiResult<&'static Resource> {
    registry::find(group, version, plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} missing from the registry")))
}

/// One object, `None` when it does not exist (cached kinds from their cache, see [`super::cache`]).
pub async fn get_opt(
    api: &Api,
    res: &'static Resource,
    ns: Option<&str>,
    name: &str,
) -> ApiResult<Option<Value>> {
    super::cache::get(api, res, ns, name).await
}

/// Every object of a resource (in a namespace, or all of them; cached kinds from their cache).
pub async fn list_all(
    api: &Api,
    res: &'static Resource,
    ns: Option<&str>,
) -> ApiResult<Vec<Value>> {
    super::cache::list(api, res, ns).await
}

/// `obj.metadata.annotations[key]`.
pub fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// Whether the object is being deleted.
pub fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// The name of the newest object with one of `annotations` set to `"true"` (ties: the first
/// name), as upstream picks the default StorageClass and IngressClass.
pub fn newest_annotated<'a>(objects: &'a [Value], annotations: &[&str]) -> Option<&'a str> {
    let mut marked: Vec<(i64, &str)> = objects
        .iter()
        .filter(|o| annotations.iter().any(|k| annotation(o, k) == Some("true")))
        .filter_map(|o| {
            let name = o.pointer("/metadata/name").and_then(Value::as_str)?;
            let created = o
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(crate::object::parse_time)
                .unwrap_or(0);
            Some((created, name))
        })
        .collect();
    marked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    marked.first().map(|m| m.1)
}
