//! DefaultIngressClass (ingresses, create): an Ingress naming no class (neither
//! `spec.ingressClassName` nor the legacy `kubernetes.io/ingress.class` annotation) gets the
//! IngressClass annotated `ingressclass.kubernetes.io/is-default-class: "true"` — the newest one
//! when there are several. As upstream's plugin.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{is, Attributes, Operation, Plugin};
use crate::status::ApiResult;
use crate::store::{Api, ListParams};

pub struct DefaultIngressClass;

const DEFAULT_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";
const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// The newest object of a list carrying `annotation: "true"` (ties: the first name), as
/// upstream picks a default class.
pub fn newest_default<'a>(items: &'a [Value], annotation: &str) -> Option<&'a Value> {
    let mut defaults: Vec<&Value> = items
        .iter()
        .filter(|c| {
            c.pointer("/metadata/annotations")
                .and_then(|a| a.get(annotation))
                .and_then(Value::as_str)
                == Some("true")
        })
        .collect();
    let created = |v: &Value| {
        v.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    let name = |v: &Value| {
        v.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    defaults.sort_by(|a, b| created(b).cmp(&created(a)).then(name(a).cmp(&name(b))));
    defaults.first().copied()
}

#[async_trait]
impl Plugin for DefaultIngressClass {
    fn name(&self) -> &'static str {
        "DefaultIngressClass"
    }

    async fn admit(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        ing: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if a.operation != Operation::Create || !is(a, "networking.k8s.io", "ingresses") {
            return Ok(());
        }
        if ing
            .pointer("/spec/ingressClassName")
            .is_some_and(|v| !v.is_null())
            || ing
                .pointer("/metadata/annotations")
                .and_then(|m| m.get(LEGACY_CLASS_ANNOTATION))
                .is_some()
        {
            return Ok(());
        }
        let Some(res) = k3rs_apis::registry::find("networking.k8s.io", "v1", "ingressclasses")
        else {
            return Ok(());
        };
        let list = api.list(res, None, &ListParams::default()).await?;
        let items = list
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(class) = newest_default(&items, DEFAULT_ANNOTATION) {
            let name = class
                .pointer("/metadata/name")
                .cloned()
                .unwrap_or(json!(""));
            if !ing.get("spec").is_some_and(Value::is_object) {
                ing["spec"] = json!({});
            }
            ing["spec"]["ingressClassName"] = name;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_default_wins() {
        let class = |name: &str, when: &str, default: bool| {
            json!({"metadata": {"name": name, "creationTimestamp": when,
                "annotations": {DEFAULT_ANNOTATION: if default { "true" } else { "false" }}}})
        };
        let items = vec![
            class("old", "2024-01-01T00:00:00Z", true),
            class("new", "2025-01-01T00:00:00Z", true),
            class("newest-not-default", "2026-01-01T00:00:00Z", false),
            class("b-tie", "2025-01-01T00:00:00Z", true),
        ];
        let d = newest_default(&items, DEFAULT_ANNOTATION).unwrap();
        // Same time as "new": the first name wins.
        assert_eq!(d["metadata"]["name"], "b-tie");
        assert!(newest_default(&items[2..3], DEFAULT_ANNOTATION).is_none());
    }
}
