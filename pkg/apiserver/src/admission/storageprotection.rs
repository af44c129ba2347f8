//! StorageObjectInUseProtection (create): PersistentVolumeClaims get the
//! `kubernetes.io/pvc-protection` finalizer, PersistentVolumes `kubernetes.io/pv-protection` and
//! VolumeAttributesClasses `kubernetes.io/vac-protection`, so none disappears while in use. The
//! storage-protection controller (pkg/controllers) removes the finalizer from a deleted object
//! once nothing uses it. As upstream's plugin.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{Attributes, Operation, Plugin};
use crate::status::ApiResult;
use crate::store::Api;

pub struct StorageObjectInUseProtection;

pub const PVC_FINALIZER: &str = "kubernetes.io/pvc-protection";
pub const PV_FINALIZER: &str = "kubernetes.io/pv-protection";
pub const VAC_FINALIZER: &str = "kubernetes.io/vac-protection";

#[async_trait]
impl Plugin for StorageObjectInUseProtection {
    fn name(&self) -> &'static str {
        "StorageObjectInUseProtection"
    }

    async fn admit(
        &self,
        _api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if a.operation != Operation::Create || !a.is_main_resource() {
            return Ok(());
        }
        let finalizer = match (a.resource.group, a.resource.plural) {
            ("", "persistentvolumeclaims") => PVC_FINALIZER,
            ("", "persistentvolumes") => PV_FINALIZER,
            ("storage.k8s.io", "volumeattributesclasses") => VAC_FINALIZER,
            _ => return Ok(()),
        };
        let meta = crate::object::meta_mut(obj);
        let list = meta.entry("finalizers").or_insert_with(|| json!([]));
        if !list.is_array() {
            *list = json!([]);
        }
        if let Some(l) = list.as_array_mut() {
            if !l.iter().any(|f| f == finalizer) {
                l.push(json!(finalizer));
            }
        }
        Ok(())
    }
}
