//! The generic REST store: one implementation of every verb for every kind.
//!
//! What differs per kind is data ([`Resource`]) and the small hooks in [`crate::strategy`]. Objects
//! travel as JSON values; the datastore holds them as JSON without `resourceVersion` (the storage
//! revision is the resourceVersion clients see).

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use k3rs_apis::registry::Resource;
use k3rs_apis::selectors::{FieldSelector, LabelSelector};
use k3rs_storage::{prefix_end, Error as StoreError, ListOptions, PutOptions, Store, WatchMessage};

use crate::admission::{Attributes, Operation};
use crate::fieldmanager::{self, Track};
use crate::object::{decode_stored, encode_stored, meta, meta_mut, meta_str, now_rfc3339};
use crate::status::{success, ApiError, ApiResult};
use crate::strategy;
use crate::webhook::conversion;

/// How many times a write is retried when the object changed underneath it (no client precondition).
const MAX_RETRIES: usize = 16;

/// List and watch parameters, parsed and checked.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub label: LabelSelector,
    pub field: FieldSelector,
    pub limit: i64,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct WatchParams {
    pub label: LabelSelector,
    pub field: FieldSelector,
    pub resource_version: Option<String>,
    pub bookmarks: bool,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteParams {
    pub grace_period: Option<i64>,
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

impl DeleteParams {
    /// As a `metav1.DeleteOptions` (what admission webhooks are shown).
    pub fn options(&self) -> Value {
        let mut o = json!({"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"});
        if let Some(g) = self.grace_period {
            o["gracePeriodSeconds"] = json!(g);
        }
        if let Some(p) = &self.propagation {
            o["propagationPolicy"] = json!(p);
        }
        let mut pre = serde_json::Map::new();
        if let Some(u) = &self.precondition_uid {
            pre.insert("uid".into(), json!(u));
        }
        if let Some(r) = &self.precondition_rv {
            pre.insert("resourceVersion".into(), json!(r));
        }
        if !pre.is_empty() {
            o["preconditions"] = Value::Object(pre);
        }
        if self.dry_run {
            o["dryRun"] = json!(["All"]);
        }
        o
    }
}

/// The generic store over a datastore.
#[derive(Clone)]
pub struct Api {
    pub store: Store,
    pub service_cidr: ServiceCidr,
    /// The admission plugins every write passes through.
    pub admission: crate::admission::Chain,
}

/// The service IP range (IPv4) ClusterIPs are allocated from.
#[derive(Debug, Clone, Copy)]
pub struct ServiceCidr {
    pub base: u32,
    pub prefix: u8,
}

impl ServiceCidr {
    pub fn parse(s: &str) -> Option<ServiceCidr> {
        let (ip, prefix) = s.split_once('/')?;
        let ip: std::net::Ipv4Addr = ip.parse().ok()?;
        let prefix: u8 = prefix.parse().ok().filter(|p| (8..=30).contains(p))?;
        let mask = u32::MAX << (32 - prefix);
        Some(ServiceCidr {
            base: u32::from(ip) & mask,
            prefix,
        })
    }

    /// The first usable address: the `kubernetes` Service's ClusterIP.
    pub fn first(&self) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::from(self.base + 1)
    }

    pub fn size(&self) -> u32 {
        1u32 << (32 - self.prefix)
    }

    pub fn contains(&self, ip: std::net::Ipv4Addr) -> bool {
        let mask = u32::MAX << (32 - self.prefix);
        u32::from(ip) & mask == self.base
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

fn encode_continue(rv: i64, start: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: start.into(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&t).unwrap_or_default())
}

fn decode_continue(token: &str) -> ApiResult<ContinueToken> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if t.v != "meta.k8s.io/v1" || t.rv <= 0 || t.start.contains("..") {
        return Err(bad());
    }
    Ok(t)
}

/// Parses a resourceVersion parameter (`""`/`"0"` → None: any/current).
pub fn parse_rv(rv: Option<&str>) -> ApiResult<Option<i64>> {
    match rv {
        None | Some("") | Some("0") => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {s:?}"))),
    }
}

fn kind_list(res: &Resource) -> String {
    format!("{}List", res.kind)
}

impl Api {
    /// The key prefix of a list: every object, or the objects of one namespace.
    fn prefix(res: &Resource, ns: Option<&str>) -> String {
        match ns {
            Some(ns) if res.namespaced => format!("{}{ns}/", res.key_prefix()),
            _ => res.key_prefix(),
        }
    }

    /// Reads one object (current state).
    pub async fn get(&self, res: &Resource, ns: Option<&str>, name: &str) -> ApiResult<Value> {
        let (kv, _) = self.store.get(res.key(ns, name).as_bytes(), 0).await?;
        let kv = kv.ok_or_else(|| ApiError::not_found(res, name))?;
        let obj = decode_stored(res, &kv.value, kv.mod_revision)?;
        conversion::to_served_one(self, res, obj).await
    }

    async fn get_opt(
        &self,
        res: &Resource,
        ns: Option<&str>,
        name: &str,
    ) -> ApiResult<Option<(Value, i64)>> {
        let (kv, _) = self.store.get(res.key(ns, name).as_bytes(), 0).await?;
        match kv {
            Some(kv) => {
                let obj = decode_stored(res, &kv.value, kv.mod_revision)?;
                Ok(Some((
                    conversion::to_served_one(self, res, obj).await?,
                    kv.mod_revision,
                )))
            }
            None => Ok(None),
        }
    }

    /// Lists objects: selectors, `limit` + `continue` from one consistent revision.
    pub async fn list(&self, res: &Resource, ns: Option<&str>, p: &ListParams) -> ApiResult<Value> {
        let prefix = Self::prefix(res, ns);
        let end = prefix_end(prefix.as_bytes());
        let (mut start, mut revision) = (prefix.clone().into_bytes(), 0i64);
        if let Some(token) = &p.continue_token {
            let t = decode_continue(token)?;
            start = format!("{prefix}{}", t.start).into_bytes();
            revision = t.rv;
        } else if let Some(rv) = parse_rv(p.resource_version.as_deref())? {
            match p.resource_version_match.as_deref() {
                // With a limit and no match given, upstream reads exactly at the version.
                Some("Exact") => revision = rv,
                None if p.limit > 0 => revision = rv,
                // NotOlderThan (the default): the current state is never older.
                _ => {
                    let current = self.store.current_revision().await?;
                    if rv > current {
                        return Err(StoreError::FutureRevision {
                            requested: rv,
                            current,
                        }
                        .into());
                    }
                }
            }
        }
        let limit = p.limit.max(0);
        let selective = !p.label.is_empty() || !p.field.is_empty();
        let mut items = Vec::new();
        let mut continue_from: Option<Vec<u8>> = None;
        loop {
            let page = self
                .store
                .list(
                    &start,
                    &end,
                    ListOptions {
                        revision,
                        limit: if limit > 0 { (limit - items.len() as i64).saturating_add(if selective { 64 } else { 0 }) } else { 0 },
                        keys_only: false,
                    },
                )
                .await
                .map_err(|e| match e {
                    StoreError::Compacted { .. } if p.continue_token.is_some() => ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    ),
                    other => other.into(),
                })?;
            revision = page.revision;
            let n = page.kvs.len();
            let decoded = page
                .kvs
                .iter()
                .map(|kv| decode_stored(res, &kv.value, kv.mod_revision))
                .collect::<ApiResult<Vec<Value>>>()?;
            // Custom resources converted by webhook: the whole page in one ConversionReview.
            let decoded = conversion::to_served(self, res, decoded).await?;
            for (i, (kv, obj)) in page.kvs.into_iter().zip(decoded).enumerate() {
                if p.label.matches(
                    meta(&obj)
                        .and_then(|m| m.get("labels"))
                        .and_then(Value::as_object),
                ) && p.field.matches(&obj)
                {
                    items.push(obj);
                }
                if limit > 0 && items.len() as i64 >= limit {
                    if i + 1 < n || page.more {
                        let mut next = kv.key.clone();
                        next.push(0);
                        continue_from = Some(next);
                    }
                    break;
                }
                if i + 1 == n {
                    let mut next = kv.key.clone();
                    next.push(0);
                    start = next;
                }
            }
            if continue_from.is_some() || !page.more || (limit > 0 && items.len() as i64 >= limit) {
                break;
            }
        }
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if let Some(next) = continue_from {
            let suffix = String::from_utf8_lossy(&next[prefix.len()..]).into_owned();
            metadata["continue"] = json!(encode_continue(revision, &suffix));
            if !selective {
                let (total, _) = self.store.count(&next, &end, revision).await?;
                metadata["remainingItemCount"] = json!(total);
            }
        }
        Ok(json!({
            "kind": kind_list(res),
            "apiVersion": res.api_version(),
            "metadata": metadata,
            "items": items,
        }))
    }

    /// The bytes to store for `obj` (in its CRD's storage version when that converts by webhook).
    async fn encode_for_storage(&self, res: &Resource, obj: &Value) -> ApiResult<Vec<u8>> {
        match conversion::to_storage(self, res, obj).await? {
            Some(stored) => encode_stored(&stored),
            None => encode_stored(obj),
        }
    }

    /// Creates an object as the server itself (managedFields name `kube-apiserver`).
    pub async fn create(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        obj: Value,
        dry_run: bool,
    ) -> ApiResult<Value> {
        self.create_by(res, ns, obj, dry_run, Track::server()).await
    }

    /// Creates an object, recording field ownership as `track` says.
    pub async fn create_by(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        mut obj: Value,
        dry_run: bool,
        track: Track<'_>,
    ) -> ApiResult<Value> {
        strategy::check_type(res, &mut obj)?;
        let m = meta_mut(&mut obj);
        if let Some(ns_url) = ns.filter(|_| res.namespaced) {
            match m.get("namespace").and_then(Value::as_str) {
                Some(n) if !n.is_empty() && n != ns_url => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                _ => {
                    m.insert("namespace".into(), json!(ns_url));
                }
            }
        } else if !res.namespaced {
            m.remove("namespace");
        }
        if m.get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        if m.get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .is_empty()
        {
            if let Some(gen) = m
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|g| !g.is_empty())
            {
                let name = format!("{gen}{}", crate::object::random_suffix(5));
                m.insert("name".into(), json!(name));
            }
        }
        if k3rs_apis::crd::lookup(res).is_some_and(|c| c.terminating) {
            return Err(ApiError::method_not_allowed(
                "create not allowed while custom resource definition is terminating",
            ));
        }
        // Defaulting happens on decode, before the server fills in identity (as upstream).
        strategy::custom_prepare(res, &mut obj);
        k3rs_apis::defaults::apply_defaults(res.group, res.kind, &mut obj);
        let admit_name = crate::object::name(&obj).to_string();
        let attrs = Attributes::new(
            res,
            "",
            Operation::Create,
            ns.filter(|_| res.namespaced),
            &admit_name,
            dry_run,
        );
        self.admission.admit(self, &attrs, &mut obj, None).await?;
        let m = meta_mut(&mut obj);
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("creationTimestamp".into(), json!(now_rfc3339()));
        for f in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            m.remove(f);
        }
        // Field ownership is recorded before the strategy resets fields (as upstream).
        fieldmanager::track(res, None, track, None, &mut obj);
        strategy::prepare_for_create(res, &mut obj);
        let name = crate::object::name(&obj).to_string();
        let mut errs =
            k3rs_apis::validation::validate_create(res.group, res.kind, res.namespaced, &obj);
        errs.extend(strategy::custom_validate(res, &obj, None));
        if !errs.is_empty() {
            return Err(ApiError::invalid(res, &name, &errs));
        }
        self.admission
            .validate(self, &attrs, Some(&obj), None)
            .await?;
        let ns_owned = meta_str(&obj, "namespace").map(str::to_string);
        let key = res.key(ns_owned.as_deref(), &name);
        // Checked before anything is reserved for the object (a ClusterIP).
        if self.store.get(key.as_bytes(), 0).await?.0.is_some() {
            return Err(ApiError::already_exists(res, &name));
        }
        if dry_run {
            return Ok(obj);
        }
        let allocated = strategy::allocate(self, res, &mut obj).await?;
        let stored = match conversion::to_storage(self, res, &obj).await {
            Ok(s) => s,
            Err(e) => {
                strategy::release(self, &allocated).await;
                return Err(e);
            }
        };
        let bytes = encode_stored(stored.as_ref().unwrap_or(&obj))?;
        let opts = PutOptions {
            ttl: res.ttl_seconds().map(Duration::from_secs),
            lease: 0,
        };
        match self.store.create(key.as_bytes(), &bytes, opts).await {
            Ok(rev) => {
                let rv = json!(rev.to_string());
                match stored {
                    // What was stored, read back in the version asked for (as upstream).
                    Some(mut stored) => {
                        meta_mut(&mut stored).insert("resourceVersion".into(), rv);
                        conversion::to_served_one(self, res, stored).await
                    }
                    None => {
                        meta_mut(&mut obj).insert("resourceVersion".into(), rv);
                        Ok(obj)
                    }
                }
            }
            Err(e) => {
                strategy::release(self, &allocated).await;
                match e {
                    StoreError::KeyExists { .. } => Err(ApiError::already_exists(res, &name)),
                    other => Err(other.into()),
                }
            }
        }
    }

    /// The read-modify-write core of update, patch and the status subresource: `change` builds the
    /// new object from the current one; the store retries on concurrent changes unless the new
    /// object names a resourceVersion (then a stale one is a 409 Conflict).
    pub async fn update_with<F>(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        dry_run: bool,
        change: F,
    ) -> ApiResult<Value>
    where
        F: Fn(&Value) -> ApiResult<Value>,
    {
        self.update_by(res, ns, name, subresource, dry_run, Track::server(), change)
            .await
    }

    /// [`Api::update_with`], recording field ownership as `track` says.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_by<F>(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        dry_run: bool,
        track: Track<'_>,
        change: F,
    ) -> ApiResult<Value>
    where
        F: Fn(&Value) -> ApiResult<Value>,
    {
        let key = res.key(ns, name);
        for _ in 0..MAX_RETRIES {
            let Some((current, rev)) = self.get_opt(res, ns, name).await? else {
                return Err(ApiError::not_found(res, name));
            };
            let mut new = change(&current)?;
            if !new.is_object() {
                return Err(ApiError::bad_request("the object must be a JSON object"));
            }
            let precondition = meta_str(&new, "resourceVersion")
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            if let Some(pre) = &precondition {
                if pre != &rev.to_string() {
                    return Err(ApiError::modified(res, name));
                }
            }
            let attrs = Attributes::new(
                res,
                subresource.unwrap_or(""),
                Operation::Update,
                ns.filter(|_| res.namespaced),
                name,
                dry_run,
            );
            self.admission
                .admit(self, &attrs, &mut new, Some(&current))
                .await?;
            let applied_fields = match track {
                Track::Applied => Some(meta(&new).and_then(|m| m.get("managedFields")).cloned()),
                Track::Update { .. } => None,
            };
            strategy::prepare_for_update(res, subresource, ns, name, &current, &mut new)?;
            match applied_fields {
                // The strategy may rebuild the object (status): keep what apply recorded.
                Some(Some(mf)) => {
                    meta_mut(&mut new).insert("managedFields".into(), mf);
                }
                Some(None) => {
                    meta_mut(&mut new).remove("managedFields");
                }
                None => fieldmanager::track(res, subresource, track, Some(&current), &mut new),
            }
            self.admission
                .validate(self, &attrs, Some(&new), Some(&current))
                .await?;
            if new == current {
                return Ok(current);
            }
            if dry_run {
                return Ok(new);
            }
            // An object being deleted goes away once its last finalizer is removed.
            // An object being deleted goes once nothing holds it: no finalizers left and no grace
            // period still running (a terminating pod waits for its kubelet).
            let deleting = meta(&new).is_some_and(|m| m.contains_key("deletionTimestamp"));
            let grace_running = meta(&current)
                .and_then(|m| m.get("deletionGracePeriodSeconds"))
                .and_then(Value::as_i64)
                .unwrap_or(0)
                > 0;
            if deleting && !grace_running && !strategy::has_finalizers(res, &new) {
                match self.store.delete(key.as_bytes(), Some(rev)).await {
                    Ok((drev, _)) => {
                        strategy::after_delete(self, res, &current).await;
                        meta_mut(&mut new)
                            .insert("resourceVersion".into(), json!(drev.to_string()));
                        return Ok(new);
                    }
                    Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
                    Err(StoreError::Conflict { .. }) => return Err(ApiError::modified(res, name)),
                    Err(StoreError::NotFound { .. }) => return Err(ApiError::not_found(res, name)),
                    Err(e) => return Err(e.into()),
                }
            }
            let stored = conversion::to_storage(self, res, &new).await?;
            let bytes = encode_stored(stored.as_ref().unwrap_or(&new))?;
            let opts = PutOptions {
                ttl: res.ttl_seconds().map(Duration::from_secs),
                lease: 0,
            };
            match self.store.update(key.as_bytes(), &bytes, rev, opts).await {
                Ok(nrev) => {
                    let rv = json!(nrev.to_string());
                    return match stored {
                        Some(mut stored) => {
                            meta_mut(&mut stored).insert("resourceVersion".into(), rv);
                            conversion::to_served_one(self, res, stored).await
                        }
                        None => {
                            meta_mut(&mut new).insert("resourceVersion".into(), rv);
                            Ok(new)
                        }
                    };
                }
                Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
                Err(StoreError::Conflict { .. }) => return Err(ApiError::modified(res, name)),
                Err(StoreError::NotFound { .. }) => return Err(ApiError::not_found(res, name)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": too many concurrent changes, please try again",
                crate::status::qualified(res)
            ),
        ))
    }

    /// Deletes an object: at once, or by marking it deleted while finalizers or a grace period
    /// remain. Returns the HTTP code and body (the object, or a Success Status).
    pub async fn delete(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        name: &str,
        p: &DeleteParams,
    ) -> ApiResult<(u16, Value)> {
        let key = res.key(ns, name);
        for _ in 0..MAX_RETRIES {
            let Some((mut current, rev)) = self.get_opt(res, ns, name).await? else {
                return Err(ApiError::not_found(res, name));
            };
            strategy::before_delete(res, &mut current);
            if res.group == "scheduling.k8s.io" && res.plural == "priorityclasses" {
                crate::admission::priority::check_delete(name)?;
            }
            let uid = meta_str(&current, "uid").unwrap_or_default().to_string();
            if let Some(pre) = &p.precondition_uid {
                if pre != &uid {
                    return Err(ApiError::conflict(
                        res,
                        name,
                        &format!("Precondition failed: UID in precondition: {pre}, UID in object meta: {uid}"),
                    ));
                }
            }
            if let Some(pre) = &p.precondition_rv {
                if pre != &rev.to_string() {
                    return Err(ApiError::conflict(
                        res,
                        name,
                        &format!("Precondition failed: ResourceVersion in precondition: {pre}, ResourceVersion in object meta: {rev}"),
                    ));
                }
            }
            let mut attrs = Attributes::new(
                res,
                "",
                Operation::Delete,
                ns.filter(|_| res.namespaced),
                name,
                p.dry_run,
            );
            attrs.options = p.options();
            self.admission
                .validate(self, &attrs, None, Some(&current))
                .await?;
            let grace = strategy::grace_period(res, &current, p.grace_period);
            // Orphan and Foreground propagation are finalizers the garbage collector honours.
            let gc_finalizer = match p.propagation.as_deref() {
                Some("Orphan") => Some("orphan"),
                Some("Foreground") => Some("foregroundDeletion"),
                _ => None,
            };
            if strategy::has_finalizers(res, &current) || grace > 0 || gc_finalizer.is_some() {
                if meta(&current).is_some_and(|m| m.contains_key("deletionTimestamp")) {
                    if res.group.is_empty() && res.kind == "Namespace" {
                        return Err(ApiError::conflict(
                            res,
                            name,
                            "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
                        ));
                    }
                    // A shorter grace period shortens a running one (as upstream); else nothing new.
                    let running = meta(&current)
                        .and_then(|m| m.get("deletionGracePeriodSeconds"))
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    if !(p.grace_period.is_some() && grace > 0 && grace < running) || p.dry_run {
                        return Ok((200, current));
                    }
                    let mut shorter = current.clone();
                    let when = chrono::Utc::now()
                        .checked_add_signed(
                            chrono::Duration::try_seconds(grace).unwrap_or_default(),
                        )
                        .unwrap_or_else(chrono::Utc::now);
                    let m = meta_mut(&mut shorter);
                    m.insert(
                        "deletionTimestamp".into(),
                        json!(when.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                    );
                    m.insert("deletionGracePeriodSeconds".into(), json!(grace));
                    let bytes = self.encode_for_storage(res, &shorter).await?;
                    match self
                        .store
                        .update(key.as_bytes(), &bytes, rev, PutOptions::default())
                        .await
                    {
                        Ok(nrev) => {
                            meta_mut(&mut shorter)
                                .insert("resourceVersion".into(), json!(nrev.to_string()));
                            return Ok((200, shorter));
                        }
                        Err(StoreError::Conflict { .. }) => continue,
                        Err(StoreError::NotFound { .. }) => {
                            return Err(ApiError::not_found(res, name))
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                let mut marked = current.clone();
                let m = meta_mut(&mut marked);
                if let Some(f) = gc_finalizer {
                    let list = m.entry("finalizers").or_insert_with(|| json!([]));
                    if let Some(a) = list.as_array_mut() {
                        if !a.iter().any(|x| x == f) {
                            a.push(json!(f));
                        }
                    }
                }
                let when = chrono::Utc::now()
                    .checked_add_signed(chrono::Duration::try_seconds(grace).unwrap_or_default())
                    .unwrap_or_else(chrono::Utc::now);
                m.insert(
                    "deletionTimestamp".into(),
                    json!(when.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                );
                m.insert("deletionGracePeriodSeconds".into(), json!(grace));
                strategy::mark_deleting(res, &mut marked);
                if p.dry_run {
                    return Ok((200, marked));
                }
                let bytes = self.encode_for_storage(res, &marked).await?;
                match self
                    .store
                    .update(key.as_bytes(), &bytes, rev, PutOptions::default())
                    .await
                {
                    Ok(nrev) => {
                        meta_mut(&mut marked)
                            .insert("resourceVersion".into(), json!(nrev.to_string()));
                        return Ok((200, marked));
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(StoreError::NotFound { .. }) => return Err(ApiError::not_found(res, name)),
                    Err(e) => return Err(e.into()),
                }
            }
            if p.dry_run {
                return Ok((200, success(res, name, &uid)));
            }
            match self.store.delete(key.as_bytes(), Some(rev)).await {
                Ok(_) => {
                    strategy::after_delete(self, res, &current).await;
                    return Ok((200, success(res, name, &uid)));
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound { .. }) => return Err(ApiError::not_found(res, name)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::modified(res, name))
    }

    /// Deletes every object a list would return.
    pub async fn delete_collection(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        lp: &ListParams,
        dp: &DeleteParams,
    ) -> ApiResult<Value> {
        let list = self.list(res, ns, lp).await?;
        let items = list
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut deleted = Vec::new();
        for item in items {
            let name = crate::object::name(&item).to_string();
            let item_ns = meta_str(&item, "namespace").map(str::to_string);
            match self.delete(res, item_ns.as_deref(), &name, dp).await {
                Ok(_) => deleted.push(item),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json!({
            "kind": kind_list(res),
            "apiVersion": res.api_version(),
            "metadata": {"resourceVersion": list.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""))},
            "items": deleted,
        }))
    }

    /// Starts a watch. Events (`{"type":..,"object":..}`) arrive on the returned channel until the
    /// timeout, an error event, or the receiver is dropped.
    pub async fn watch(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        p: WatchParams,
    ) -> ApiResult<mpsc::Receiver<Value>> {
        let prefix = Self::prefix(res, ns);
        // A watch on one name watches one key.
        let (start, end) = match (
            p.field.required("metadata.name"),
            ns.or(if res.namespaced { None } else { Some("") }),
        ) {
            (Some(n), Some(_)) => {
                let k = res.key(ns, n).into_bytes();
                let mut e = k.clone();
                e.push(0);
                (k, e)
            }
            _ => (prefix.clone().into_bytes(), prefix_end(prefix.as_bytes())),
        };
        let (tx, rx) = mpsc::channel(256);
        let from = parse_rv(p.resource_version.as_deref())?;
        let mut initial = Vec::new();
        let watch_from = match from {
            Some(rv) => rv.saturating_add(1),
            None => {
                // "Get state and start at most recent": the current objects as ADDED events.
                let page = self
                    .store
                    .list(&start, &end, ListOptions::default())
                    .await?;
                let decoded = page
                    .kvs
                    .iter()
                    .map(|kv| decode_stored(res, &kv.value, kv.mod_revision))
                    .collect::<ApiResult<Vec<Value>>>()?;
                for obj in conversion::to_served(self, res, decoded).await? {
                    if matches(&p, &obj) {
                        initial.push(json!({"type": "ADDED", "object": obj}));
                    }
                }
                page.revision + 1
            }
        };
        let opts = k3rs_storage::WatchOptions {
            progress_interval: p.bookmarks.then_some(Duration::from_secs(10)),
        };
        let stream = match self.store.watch(&start, &end, watch_from, opts).await {
            Ok(s) => Some(s),
            Err(StoreError::Compacted { compacted, .. }) => {
                let err = ApiError::expired(format!(
                    "too old resource version: {} ({compacted})",
                    watch_from - 1
                ));
                initial.push(json!({"type": "ERROR", "object": err.to_status()}));
                None
            }
            Err(e) => return Err(e.into()),
        };
        let timeout = p.timeout.unwrap_or(Duration::from_secs(1800));
        let api = self.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            for ev in initial {
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
            let Some(mut stream) = stream else { return };
            let mut last_bookmark = watch_from - 1;
            loop {
                let msg = tokio::select! {
                    _ = &mut deadline => return,
                    _ = tx.closed() => return,
                    m = stream.next() => m,
                };
                let out: Vec<Value> = match msg {
                    None => return,
                    Some(Err(StoreError::Compacted {
                        requested,
                        compacted,
                    })) => {
                        let err = ApiError::expired(format!(
                            "too old resource version: {} ({compacted})",
                            requested - 1
                        ));
                        vec![json!({"type": "ERROR", "object": err.to_status()})]
                    }
                    Some(Err(e)) => {
                        let err = ApiError::internal(e.to_string());
                        vec![json!({"type": "ERROR", "object": err.to_status()})]
                    }
                    Some(Ok(WatchMessage::Progress(rev))) => {
                        if !p.bookmarks || rev <= last_bookmark {
                            continue;
                        }
                        last_bookmark = rev;
                        vec![json!({"type": "BOOKMARK", "object": {
                            "kind": res.kind, "apiVersion": res.api_version(),
                            "metadata": {"resourceVersion": rev.to_string()}}})]
                    }
                    Some(Ok(WatchMessage::Events(events))) => {
                        let mut out = Vec::new();
                        for ev in events {
                            if let Some(mut e) = convert_event(res, &p, ev) {
                                // Custom resources converted by webhook: each event's object.
                                let obj = e["object"].take();
                                match conversion::to_served_one(&api, res, obj).await {
                                    Ok(obj) => {
                                        e["object"] = obj;
                                        out.push(e);
                                    }
                                    Err(err) => {
                                        out.push(
                                            json!({"type": "ERROR", "object": err.to_status()}),
                                        );
                                        break;
                                    }
                                }
                            }
                        }
                        out
                    }
                };
                let is_error = out.iter().any(|e| e["type"] == "ERROR");
                for e in out {
                    if tx.send(e).await.is_err() {
                        return;
                    }
                }
                if is_error {
                    return;
                }
            }
        });
        Ok(rx)
    }
}

fn matches(p: &WatchParams, obj: &Value) -> bool {
    p.label.matches(
        meta(obj)
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object),
    ) && p.field.matches(obj)
}

/// A datastore event as a watch event, taking selectors into account: an object that starts
/// matching is ADDED, one that stops matching is DELETED.
fn convert_event(res: &Resource, p: &WatchParams, ev: k3rs_storage::Event) -> Option<Value> {
    let rev = ev.revision();
    let prev = ev
        .prev
        .as_ref()
        .and_then(|kv| decode_stored(res, &kv.value, kv.mod_revision).ok());
    match ev.kind {
        k3rs_storage::EventType::Delete => {
            let mut obj = prev?;
            meta_mut(&mut obj).insert("resourceVersion".into(), json!(rev.to_string()));
            matches(p, &obj).then(|| json!({"type": "DELETED", "object": obj}))
        }
        k3rs_storage::EventType::Put => {
            let obj = decode_stored(res, &ev.kv.value, rev).ok()?;
            let now = matches(p, &obj);
            let before = prev.as_ref().is_some_and(|o| matches(p, o));
            match (ev.prev.is_some(), before, now) {
                (false, _, true) => Some(json!({"type": "ADDED", "object": obj})),
                (true, true, true) => Some(json!({"type": "MODIFIED", "object": obj})),
                (true, false, true) => Some(json!({"type": "ADDED", "object": obj})),
                (true, true, false) => Some(json!({"type": "DELETED", "object": obj})),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let t = encode_continue(42, "ns/name\u{0}");
        let d = decode_continue(&t).unwrap();
        assert_eq!((d.rv, d.start.as_str()), (42, "ns/name\u{0}"));
        assert_eq!(decode_continue("!!!").unwrap_err().code, 400);
        assert_eq!(decode_continue("e30").unwrap_err().code, 400);
    }

    #[test]
    fn service_cidr() {
        let c = ServiceCidr::parse("10.43.0.0/16").unwrap();
        assert_eq!(c.first().to_string(), "10.43.0.1");
        assert!(c.contains("10.43.200.1".parse().unwrap()));
        assert!(!c.contains("10.44.0.1".parse().unwrap()));
        assert!(ServiceCidr::parse("10.43.0.0/40").is_none());
    }
}
