//! NamespaceLifecycle: nothing is created in a namespace that does not exist or is being
//! terminated, and the namespaces the cluster cannot do without are never deleted.
//!
//! As upstream: only namespaced requests are checked, creates and updates (an update in a
//! terminating namespace is allowed, as are all deletes, so its content can be cleaned up);
//! namespaces themselves and LocalSubjectAccessReviews (whose answer would otherwise reveal
//! whether a namespace exists) are exempt.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::builtin::{forbidden, get_opt, resource};
use super::{Attributes, Operation, Plugin};
use crate::status::{ApiError, ApiResult};
use crate::store::Api;

/// Namespaces that may not be deleted (upstream's immortal set; `kube-node-lease` is not in it).
pub const IMMORTAL: &[&str] = &["default", "kube-system", "kube-public"];

pub struct NamespaceLifecycle;

fn is_namespace(a: &Attributes<'_>) -> bool {
    a.is("", "namespaces")
}

#[async_trait]
impl Plugin for NamespaceLifecycle {
    fn name(&self) -> &'static str {
        "NamespaceLifecycle"
    }

    async fn admit(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        let Some(ns) = a.namespace.filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        if is_namespace(a) || a.is("authorization.k8s.io", "localsubjectaccessreviews") {
            return Ok(());
        }
        let nsres = resource("", "v1", "namespaces")?;
        let Some(namespace) = get_opt(api, nsres, None, ns).await? else {
            return Err(ApiError::not_found(nsres, ns));
        };
        let terminating = namespace.pointer("/status/phase").and_then(Value::as_str)
            == Some("Terminating")
            || super::builtin::deleting(&namespace);
        if a.operation == Operation::Create && terminating {
            let mut err = a.forbidden(
                Some(obj),
                format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            );
            if let Some(d) = err.details.as_deref_mut() {
                d["causes"] = json!([{
                    "reason": "NamespaceTerminating",
                    "message": format!("namespace {ns} is being terminated"),
                    "field": "metadata.namespace",
                }]);
            }
            return Err(err);
        }
        Ok(())
    }

    async fn validate(
        &self,
        _api: &Api,
        a: &Attributes<'_>,
        _obj: Option<&Value>,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if a.operation == Operation::Delete && is_namespace(a) && IMMORTAL.contains(&a.name) {
            return Err(forbidden(
                a.resource,
                a.name,
                "this namespace may not be deleted",
            ));
        }
        Ok(())
    }
}
