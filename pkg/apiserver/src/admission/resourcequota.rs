//! The ResourceQuota admission plugin (upstream's k8s.io/apiserver/pkg/admission/plugin/
//! resourcequota): a create, or an update that changes usage, in a namespace with ResourceQuotas
//! is checked against each quota that covers the object, refused with 403 when it would exceed
//! one (`exceeded quota: ...`), and otherwise charged to the quotas' `status.used` before the
//! object is stored. The charge is an optimistic-concurrency update of each quota's status,
//! retried on conflict against the quotas' newest versions, as upstream's quota evaluator does.
//! Dry-run requests are checked but charge nothing. The quota controller later recounts usage
//! from the namespace's objects (releasing what deleted objects used).
//!
//! Requests for one namespace are evaluated one at a time in this server, as upstream's
//! evaluator queues them per namespace, so concurrent creates do not race for the same quota.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::Value;

use k3rs_apis::quota::{self, Evaluator, Quota, Refusal};
use k3rs_apis::registry::{self, Resource};

use super::{Attributes, Operation, Plugin, RequestCtx};
use crate::status::{ApiError, ApiResult};
use crate::store::{Api, ListParams};

/// How many times a conflicting quota update is retried (upstream: 3).
const RETRIES: usize = 3;

#[derive(Default)]
pub struct ResourceQuota {
    /// One lock per namespace with quotas being charged.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn quotas_resource() -> ApiResult<&'static Resource> {
    registry::find("", "v1", "resourcequotas")
        .ok_or_else(|| ApiError::internal("resourcequotas are not served"))
}

async fn load(api: &Api, ns: &str) -> ApiResult<Vec<Quota>> {
    let res = quotas_resource()?;
    // Most namespaces have no quota: the watch-fed cache says so without a datastore read (it
    // lags a new quota by a watch event, as upstream's quota lister does). Quotas that exist
    // are read from the datastore, for the newest usage to charge.
    if super::cache::list(api, res, Some(ns)).await?.is_empty() {
        return Ok(Vec::new());
    }
    let list = api.list(res, Some(ns), &ListParams::default()).await?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(Quota::from_json)
        .collect())
}

/// `<resource> "<name>" is forbidden: <why>`, as upstream's `admission.NewForbidden`.
fn forbidden(a: &Attributes<'_>, obj: &Value, why: String) -> ApiError {
    a.forbidden(Some(obj), why)
}

impl ResourceQuota {
    fn lock(&self, ns: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = match self.locks.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Forget namespaces nobody is evaluating.
        if locks.len() > 64 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(ns.to_string()).or_default().clone()
    }

    /// Writes a quota's new `status.used`, conditional on the version it was evaluated at.
    async fn charge(api: &Api, q: &Quota, used: &quota::ResourceList) -> ApiResult<()> {
        let mut body = q.raw.clone();
        body["status"]["used"] = quota::list_to_json(used);
        let res = quotas_resource()?;
        // Written as the server itself (upstream uses its loopback client), not as the requester.
        let ctx = Arc::new(RequestCtx::default());
        super::scope(
            ctx,
            api.update_with(
                res,
                Some(&q.namespace),
                &q.name,
                Some("status"),
                false,
                move |_| Ok(body.clone()),
            ),
        )
        .await
        .map(|_| ())
    }
}

#[async_trait]
impl Plugin for ResourceQuota {
    fn name(&self) -> &'static str {
        "ResourceQuota"
    }

    async fn validate(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: Option<&Value>,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        let Some(ns) = a.namespace.filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        let op = match a.operation {
            Operation::Create => quota::Operation::Create,
            Operation::Update => quota::Operation::Update,
            Operation::Delete | Operation::Connect => return Ok(()),
        };
        let Some(obj) = obj else { return Ok(()) };
        let Some(ev) = Evaluator::for_resource(a.resource.group, a.resource.plural) else {
            return Ok(());
        };
        if !ev.handles(op, a.subresource, obj, old) {
            return Ok(());
        }
        // Most namespaces have no quota: answer without queueing behind other requests.
        if load(api, ns).await?.is_empty() {
            return Ok(());
        }
        let lock = self.lock(ns);
        let _serial = lock.lock().await;
        let mut quotas = load(api, ns).await?;
        let mut last_error = None;
        for _ in 0..=RETRIES {
            let changes =
                quota::check_request(&quotas, &ev, op, a.subresource, obj, old, Utc::now())
                    .map_err(|r| match r {
                        Refusal::Forbidden(why) => forbidden(a, obj, why),
                        Refusal::Internal(why) => ApiError::internal(why),
                    })?;
            if a.dry_run || changes.is_empty() {
                return Ok(());
            }
            let mut failed = Vec::new();
            for (i, used) in &changes {
                let q = &quotas[*i];
                if let Err(e) = Self::charge(api, q, used).await {
                    failed.push(q.name.clone());
                    last_error = Some(e);
                }
            }
            if failed.is_empty() {
                return Ok(());
            }
            // Re-evaluate against the newest versions of the quotas whose update failed (the
            // others are charged); a quota deleted meanwhile no longer applies.
            quotas = load(api, ns)
                .await?
                .into_iter()
                .filter(|q| failed.contains(&q.name))
                .collect();
        }
        Err(last_error.unwrap_or_else(|| ApiError::internal("resource quota evaluation failed")))
    }
}
