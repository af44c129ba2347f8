//! DefaultStorageClass: a new PersistentVolumeClaim that names no storage class gets the
//! cluster's default one, the StorageClass annotated `storageclass.kubernetes.io/is-default-class:
//! "true"` (or the beta annotation). With several defaults the newest wins, ties broken by name,
//! as upstream. A claim that sets `spec.storageClassName` (even to `""`) or the beta
//! `volume.beta.kubernetes.io/storage-class` annotation is left alone.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::builtin::{annotation, list_all, resource};
use super::{Attributes, Operation, Plugin};
use crate::status::ApiResult;
use crate::store::Api;

pub const IS_DEFAULT: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_IS_DEFAULT: &str = "storageclass.beta.kubernetes.io/is-default-class";
const BETA_CLAIM_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

pub struct DefaultStorageClass;

/// The default class among `classes`: newest first, then by name.
fn pick_default(classes: &[Value]) -> Option<&str> {
    super::builtin::newest_annotated(classes, &[IS_DEFAULT, BETA_IS_DEFAULT])
}

#[async_trait]
impl Plugin for DefaultStorageClass {
    fn name(&self) -> &'static str {
        "DefaultStorageClass"
    }

    async fn admit(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if !a.is("", "persistentvolumeclaims")
            || !a.is_main_resource()
            || a.operation != Operation::Create
        {
            return Ok(());
        }
        let has_class = annotation(obj, BETA_CLAIM_CLASS).is_some()
            || obj
                .pointer("/spec/storageClassName")
                .is_some_and(|c| !c.is_null());
        if has_class {
            return Ok(());
        }
        let classes = list_all(
            api,
            resource("storage.k8s.io", "v1", "storageclasses")?,
            None,
        )
        .await?;
        let Some(name) = pick_default(&classes) else {
            return Ok(());
        };
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("storageClassName".into(), json!(name));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, created: &str, default: Option<&str>) -> Value {
        let mut c = json!({"metadata": {"name": name, "creationTimestamp": created}});
        if let Some(d) = default {
            c["metadata"]["annotations"] = json!({IS_DEFAULT: d});
        }
        c
    }

    #[test]
    fn the_newest_default_wins() {
        let classes = vec![
            class("old", "2024-01-01T00:00:00Z", Some("true")),
            class("b-new", "2025-01-01T00:00:00Z", Some("true")),
            class("a-new", "2025-01-01T00:00:00Z", Some("true")),
            class("newest-not-default", "2026-01-01T00:00:00Z", Some("false")),
            class("plain", "2026-01-01T00:00:00Z", None),
        ];
        assert_eq!(pick_default(&classes), Some("a-new"));
        assert_eq!(pick_default(&classes[3..]), None);
    }
}
