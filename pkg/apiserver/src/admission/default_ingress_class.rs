//! DefaultIngressClass: a new Ingress that names no class (neither `spec.ingressClassName` nor
//! the old `kubernetes.io/ingress.class` annotation) gets the IngressClass annotated
//! `ingressclass.kubernetes.io/is-default-class: "true"`; with several, the newest, as upstream.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::builtin::{annotation, list_all, newest_annotated, resource};
use super::{Attributes, Operation, Plugin};
use crate::status::ApiResult;
use crate::store::Api;

pub const IS_DEFAULT: &str = "ingressclass.kubernetes.io/is-default-class";
const BETA_INGRESS_CLASS: &str = "kubernetes.io/ingress.class";

pub struct DefaultIngressClass;

#[async_trait]
impl Plugin for DefaultIngressClass {
    fn name(&self) -> &'static str {
        "DefaultIngressClass"
    }

    async fn admit(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if !a.is("networking.k8s.io", "ingresses")
            || !a.is_main_resource()
            || a.operation != Operation::Create
        {
            return Ok(());
        }
        let named = obj
            .pointer("/spec/ingressClassName")
            .is_some_and(|c| !c.is_null())
            || annotation(obj, BETA_INGRESS_CLASS).is_some();
        if named {
            return Ok(());
        }
        let classes = list_all(
            api,
            resource("networking.k8s.io", "v1", "ingressclasses")?,
            None,
        )
        .await?;
        let Some(name) = newest_annotated(&classes, &[IS_DEFAULT]) else {
            return Ok(());
        };
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("ingressClassName".into(), json!(name));
        }
        Ok(())
    }
}
