//! Watch-fed caches of the small kinds admission plugins look up on every write (upstream's
//! plugins read the same kinds from informers): Namespaces, ResourceQuotas (whether a namespace
//! has any), LimitRanges, PriorityClasses,
//! StorageClasses, IngressClasses, RuntimeClasses and ServiceAccounts.
//!
//! A cache starts on first use: it lists the resource, then follows a watch from that revision.
//! Until that list is in, and whenever the watch has to restart, lookups go to the datastore, so
//! the cache never answers from an incomplete picture. Like an informer it may lag a write by the
//! time a watch event takes; callers that must see an object created a moment ago (a pod's service
//! account) read the datastore when the cache does not have it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;

use k3rs_apis::registry::Resource;

use crate::status::ApiResult;
use crate::store::{Api, ListParams, WatchParams};

/// The kinds worth caching (small, read on most writes, rarely written).
const CACHED: &[(&str, &str)] = &[
    ("", "namespaces"),
    ("", "resourcequotas"),
    ("", "limitranges"),
    ("", "serviceaccounts"),
    ("scheduling.k8s.io", "priorityclasses"),
    ("storage.k8s.io", "storageclasses"),
    ("networking.k8s.io", "ingressclasses"),
    ("node.k8s.io", "runtimeclasses"),
];

#[derive(Default)]
pub struct ResCache {
    ready: AtomicBool,
    /// `(namespace, name)` → object.
    objects: RwLock<BTreeMap<(String, String), Value>>,
}

fn key_of(obj: &Value) -> (String, String) {
    let s = |k: &str| {
        obj.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (s("namespace"), s("name"))
}

/// One server's caches, by resource (kept in its admission chain, shared by its `Api` clones).
pub type Caches = Arc<Mutex<HashMap<String, Arc<ResCache>>>>;

fn is_cached(res: &Resource) -> bool {
    CACHED
        .iter()
        .any(|(g, p)| *g == res.group && *p == res.plural)
}

/// The cache of `res`, started if this is its first use; `None` for kinds not cached.
fn cache_for(api: &Api, res: &'static Resource) -> Option<Arc<ResCache>> {
    if !is_cached(res) {
        return None;
    }
    let mut all = api.admission.caches.lock().ok()?;
    let key = res.key_prefix();
    if let Some(c) = all.get(&key) {
        return Some(c.clone());
    }
    let c = Arc::new(ResCache::default());
    all.insert(key, c.clone());
    // Only inside a runtime (always, in the server); plain lookups otherwise.
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(follow(api.clone(), res, c.clone()));
    }
    Some(c)
}

/// Keeps one cache current: list, then watch from the list's revision; again on any break.
async fn follow(api: Api, res: &'static Resource, c: Arc<ResCache>) {
    loop {
        c.ready.store(false, Ordering::SeqCst);
        let list = match api.list(res, None, &ListParams::default()).await {
            Ok(l) => l,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let rv = list
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut rx = match api
            .watch(
                res,
                None,
                WatchParams {
                    resource_version: rv,
                    timeout: Some(Duration::from_secs(3600)),
                    ..Default::default()
                },
            )
            .await
        {
            Ok(rx) => rx,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Ok(mut objects) = c.objects.write() {
            objects.clear();
            for item in list
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                objects.insert(key_of(item), item.clone());
            }
        }
        c.ready.store(true, Ordering::SeqCst);
        while let Some(ev) = rx.recv().await {
            let obj = &ev["object"];
            let Ok(mut objects) = c.objects.write() else {
                break;
            };
            match ev["type"].as_str() {
                Some("ADDED" | "MODIFIED") => {
                    objects.insert(key_of(obj), obj.clone());
                }
                Some("DELETED") => {
                    objects.remove(&key_of(obj));
                }
                Some("BOOKMARK") => {}
                _ => break,
            }
        }
    }
}

/// Every object of a resource in a namespace (or all of them), from the cache when it is in sync.
pub async fn list(api: &Api, res: &'static Resource, ns: Option<&str>) -> ApiResult<Vec<Value>> {
    if let Some(c) = cache_for(api, res).filter(|c| c.ready.load(Ordering::SeqCst)) {
        if let Ok(objects) = c.objects.read() {
            return Ok(objects
                .iter()
                .filter(|((n, _), _)| ns.is_none_or(|want| n == want))
                .map(|(_, v)| v.clone())
                .collect());
        }
    }
    let list = api.list(res, ns, &ListParams::default()).await?;
    Ok(match list.get("items") {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    })
}

/// One object: from the cache when it has it, else from the datastore (so an object created a
/// moment ago is found).
pub async fn get(
    api: &Api,
    res: &'static Resource,
    ns: Option<&str>,
    name: &str,
) -> ApiResult<Option<Value>> {
    if let Some(c) = cache_for(api, res).filter(|c| c.ready.load(Ordering::SeqCst)) {
        if let Ok(objects) = c.objects.read() {
            let key = (ns.unwrap_or_default().to_string(), name.to_string());
            if let Some(v) = objects.get(&key) {
                return Ok(Some(v.clone()));
            }
        }
    }
    match api.get(res, ns, name).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code == 404 => Ok(None),
        Err(e) => Err(e),
    }
}
