//! Webhook configurations, parsed and cached in memory.
//!
//! Each plugin keeps the configurations of its kind (`MutatingWebhookConfiguration` or
//! `ValidatingWebhookConfiguration`) in a [`Source`]: listed from the store on the first admission
//! call, then kept current by a watch (re-listing when the watch ends), as upstream's informer-fed
//! configuration managers. Webhooks are called in the order of their configurations' names, then
//! in the order a configuration lists them.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::OnceCell;

use k3rs_apis::registry;
use k3rs_apis::selectors::{LabelSelector, Requirement};

use crate::status::{ApiError, ApiResult};
use crate::store::{Api, ListParams, WatchParams};

use super::client::ClientConfig;

/// One `rules` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rule {
    pub operations: Vec<String>,
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    /// `*`, `Cluster` or `Namespaced`.
    pub scope: String,
}

/// One `matchConditions` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchCondition {
    pub name: String,
    pub expression: String,
}

/// One webhook of a configuration, parsed (defaults already applied by the store).
#[derive(Debug)]
pub struct Hook {
    /// The configuration's name.
    pub configuration: String,
    pub name: String,
    /// Identity across calls (upstream's accessor UID: configuration, webhook, index).
    pub uid: String,
    pub client: ClientConfig,
    pub rules: Vec<Rule>,
    /// `failurePolicy: Ignore`.
    pub fail_open: bool,
    /// `matchPolicy: Exact`.
    pub exact: bool,
    pub namespace_selector: Result<LabelSelector, String>,
    pub object_selector: Result<LabelSelector, String>,
    pub side_effects: Option<String>,
    pub timeout: Duration,
    pub admission_review_versions: Vec<String>,
    /// `reinvocationPolicy: IfNeeded` (mutating webhooks).
    pub reinvoke_if_needed: bool,
    pub match_conditions: Vec<MatchCondition>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A `metav1.LabelSelector` object as a selector (upstream's `LabelSelectorAsSelector`); an
/// absent selector matches everything.
pub fn label_selector(sel: Option<&Value>) -> Result<LabelSelector, String> {
    let mut requirements = Vec::new();
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return Ok(LabelSelector { requirements });
    };
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            let v = v.as_str().unwrap_or_default();
            requirements.push(Requirement::Equals(k.clone(), v.to_string()));
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let values = strings(e.get("values"));
        let op = e
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default();
        requirements.push(match op {
            "In" if !values.is_empty() => Requirement::In(key, values),
            "NotIn" if !values.is_empty() => Requirement::NotIn(key, values),
            "Exists" if values.is_empty() => Requirement::Exists(key),
            "DoesNotExist" if values.is_empty() => Requirement::DoesNotExist(key),
            "In" | "NotIn" => {
                return Err("for 'in', 'notin' operators, values set can't be empty".into())
            }
            "Exists" | "DoesNotExist" => {
                return Err("values set must be empty for exists and does not exist".into())
            }
            other => return Err(format!("{other:?} is not a valid label selector operator")),
        });
    }
    Ok(LabelSelector { requirements })
}

/// The webhooks of one configuration object.
pub fn parse_configuration(obj: &Value, mutating: bool) -> Vec<Arc<Hook>> {
    let configuration = crate::object::name(obj).to_string();
    let mut out = Vec::new();
    for (i, h) in obj
        .get("webhooks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let s = |k: &str| h.get(k).and_then(Value::as_str).map(str::to_string);
        let name = s("name").unwrap_or_default();
        let rules = h
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|r| Rule {
                operations: strings(r.get("operations")),
                api_groups: strings(r.get("apiGroups")),
                api_versions: strings(r.get("apiVersions")),
                resources: strings(r.get("resources")),
                scope: r
                    .get("scope")
                    .and_then(Value::as_str)
                    .unwrap_or("*")
                    .to_string(),
            })
            .collect();
        let match_conditions = h
            .get("matchConditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| MatchCondition {
                name: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                expression: c
                    .get("expression")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect();
        out.push(Arc::new(Hook {
            uid: format!("{configuration}/{name}/{i}"),
            configuration: configuration.clone(),
            client: ClientConfig::from_value(h.get("clientConfig").unwrap_or(&Value::Null)),
            rules,
            fail_open: s("failurePolicy").as_deref() == Some("Ignore"),
            exact: s("matchPolicy").as_deref() == Some("Exact"),
            namespace_selector: label_selector(h.get("namespaceSelector")),
            object_selector: label_selector(h.get("objectSelector")),
            side_effects: s("sideEffects"),
            timeout: Duration::from_secs(
                h.get("timeoutSeconds")
                    .and_then(Value::as_u64)
                    .filter(|t| *t > 0)
                    .unwrap_or(10),
            ),
            admission_review_versions: strings(h.get("admissionReviewVersions")),
            reinvoke_if_needed: mutating && s("reinvocationPolicy").as_deref() == Some("IfNeeded"),
            match_conditions,
            name,
        }));
    }
    out
}

#[derive(Default)]
struct Cache {
    /// Configuration name → its webhooks.
    configs: RwLock<BTreeMap<String, Vec<Arc<Hook>>>>,
    /// Every webhook, in call order.
    hooks: RwLock<Arc<Vec<Arc<Hook>>>>,
}

impl Cache {
    fn rebuild(&self) {
        let all: Vec<Arc<Hook>> = self
            .configs
            .read()
            .map(|c| c.values().flatten().cloned().collect())
            .unwrap_or_default();
        if let Ok(mut h) = self.hooks.write() {
            *h = Arc::new(all);
        }
    }

    fn replace_all(&self, items: &[Value], mutating: bool) {
        if let Ok(mut c) = self.configs.write() {
            c.clear();
            for obj in items {
                c.insert(
                    crate::object::name(obj).to_string(),
                    parse_configuration(obj, mutating),
                );
            }
        }
        self.rebuild();
    }

    fn apply(&self, ev: &Value, mutating: bool) {
        let obj = &ev["object"];
        let name = crate::object::name(obj).to_string();
        if let Ok(mut c) = self.configs.write() {
            match ev["type"].as_str() {
                Some("ADDED" | "MODIFIED") => {
                    c.insert(name, parse_configuration(obj, mutating));
                }
                Some("DELETED") => {
                    c.remove(&name);
                }
                _ => return,
            }
        }
        self.rebuild();
    }
}

/// The cached webhooks of one configuration kind.
pub struct Source {
    mutating: bool,
    cache: OnceCell<Arc<Cache>>,
}

impl Source {
    pub fn new(mutating: bool) -> Source {
        Source {
            mutating,
            cache: OnceCell::new(),
        }
    }

    fn resource(&self) -> ApiResult<&'static registry::Resource> {
        let plural = if self.mutating {
            "mutatingwebhookconfigurations"
        } else {
            "validatingwebhookconfigurations"
        };
        registry::find("admissionregistration.k8s.io", "v1", plural)
            .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))
    }

    /// The webhooks, in call order (the first call lists them and starts the watch).
    pub async fn hooks(&self, api: &Api) -> ApiResult<Arc<Vec<Arc<Hook>>>> {
        let cache = self
            .cache
            .get_or_try_init(|| async {
                let res = self.resource()?;
                let cache = Arc::new(Cache::default());
                let rv = list_into(api, res, &cache, self.mutating).await?;
                spawn_watch(api.clone(), res, cache.clone(), self.mutating, rv);
                Ok::<_, ApiError>(cache)
            })
            .await?;
        Ok(cache.hooks.read().map(|h| h.clone()).unwrap_or_default())
    }
}

/// Lists the configurations into the cache; returns the list's resourceVersion.
async fn list_into(
    api: &Api,
    res: &'static registry::Resource,
    cache: &Cache,
    mutating: bool,
) -> ApiResult<String> {
    let list = api.list(res, None, &ListParams::default()).await?;
    let items = list
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    cache.replace_all(&items, mutating);
    Ok(list
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("0")
        .to_string())
}

fn spawn_watch(
    api: Api,
    res: &'static registry::Resource,
    cache: Arc<Cache>,
    mutating: bool,
    mut rv: String,
) {
    tokio::spawn(async move {
        loop {
            let p = WatchParams {
                resource_version: Some(rv.clone()),
                timeout: Some(Duration::from_secs(3600)),
                ..Default::default()
            };
            match api.watch(res, None, p).await {
                Ok(mut rx) => {
                    while let Some(ev) = rx.recv().await {
                        if ev["type"] == "ERROR" {
                            break;
                        }
                        if let Some(v) = ev
                            .pointer("/object/metadata/resourceVersion")
                            .and_then(Value::as_str)
                        {
                            rv = v.to_string();
                        }
                        cache.apply(&ev, mutating);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e.message, "webhook configurations: watch failed; listing again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            // The watch ended (timeout, compaction, error): start again from a fresh list.
            match list_into(&api, res, &cache, mutating).await {
                Ok(v) => rv = v,
                Err(e) => {
                    tracing::warn!(error = %e.message, "webhook configurations: list failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configurations_parse_with_their_defaults() {
        let obj = json!({"metadata": {"name": "cfg"}, "webhooks": [{
            "name": "a.example.com",
            "clientConfig": {"url": "https://127.0.0.1:1/x"},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "failurePolicy": "Ignore", "sideEffects": "None", "timeoutSeconds": 3,
            "admissionReviewVersions": ["v1"], "reinvocationPolicy": "IfNeeded",
            "objectSelector": {"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "c", "operator": "Exists"}]}
        }]});
        let hooks = parse_configuration(&obj, true);
        let h = &hooks[0];
        assert_eq!(h.uid, "cfg/a.example.com/0");
        assert!(h.fail_open && !h.exact && h.reinvoke_if_needed);
        assert_eq!(h.timeout, Duration::from_secs(3));
        assert_eq!(h.rules[0].scope, "*");
        let sel = h.object_selector.as_ref().unwrap();
        assert!(sel.matches(json!({"a": "b", "c": "x"}).as_object()));
        assert!(!sel.matches(json!({"a": "b"}).as_object()));
        assert!(label_selector(Some(
            &json!({"matchExpressions": [{"key": "c", "operator": "In"}]})
        ))
        .is_err());
    }
}
