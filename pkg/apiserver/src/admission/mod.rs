//! Admission: the plugins every write passes through, as kube-apiserver's admission chain.
//!
//! The generic store calls the chain on create, update (every subresource) and delete: first
//! every plugin's mutating phase ([`Plugin::admit`]) in order, on the decoded and defaulted
//! object; then the kind's own validation; then every plugin's validating phase
//! ([`Plugin::validate`]) in order, which may only refuse. Plugins are named and ordered as
//! upstream's (`--enable-admission-plugins` / `--disable-admission-plugins` take those names).
//!
//! Who is asking travels with the request: the handler runs each request inside [`scope`] with a
//! [`RequestCtx`] (user, warnings to send back, audit annotations), which the store reads with
//! [`current`]. Writes the server makes itself (bootstrap, the CRD controller) have no context
//! and are admitted as `system:apiserver`, as upstream's loopback client is.

pub mod builtin;
pub mod cache;
pub mod default_ingress_class;
pub mod default_storage_class;
pub mod default_toleration_seconds;
pub mod limit_ranger;
pub mod mutating_policy;
pub mod namespace_lifecycle;
pub mod podsecurity;
pub mod policy;
pub mod priority;
pub mod resourcequota;
pub mod runtime_class;
pub mod service_account;
pub mod storageprotection;
pub mod vap;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use serde_json::{json, Value};

use k3rs_apis::registry::Resource;
use k3rs_auth::authn::UserInfo;

use crate::status::ApiResult;
use crate::store::Api;

/// What a write does, as `AdmissionReview.request.operation` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// Per-request state the admission chain reads and fills.
#[derive(Default, Debug)]
pub struct RequestCtx {
    user: OnceLock<UserInfo>,
    warnings: Mutex<Vec<String>>,
    annotations: Mutex<BTreeMap<String, String>>,
}

impl RequestCtx {
    /// Records who is asking (once authenticated and impersonation applied).
    pub fn set_user(&self, user: UserInfo) {
        let _ = self.user.set(user);
    }

    pub fn user(&self) -> Option<&UserInfo> {
        self.user.get()
    }

    /// Warnings for the response's `Warning` headers.
    pub fn take_warnings(&self) -> Vec<String> {
        match self.warnings.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(_) => Vec::new(),
        }
    }

    /// Audit annotations plugins added (`<plugin>/<key>` → value).
    pub fn annotations(&self) -> BTreeMap<String, String> {
        self.annotations
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }
}

tokio::task_local! {
    static REQUEST: Arc<RequestCtx>;
}

/// Runs `f` as the handling of one request.
pub async fn scope<F: std::future::Future>(ctx: Arc<RequestCtx>, f: F) -> F::Output {
    REQUEST.scope(ctx, f).await
}

/// The context of the request being handled, if any.
pub fn current() -> Option<Arc<RequestCtx>> {
    REQUEST.try_with(Arc::clone).ok()
}

/// Who the server's own writes are made as (upstream's loopback identity).
pub fn internal_user() -> UserInfo {
    UserInfo {
        name: "system:apiserver".into(),
        groups: vec!["system:masters".into(), "system:authenticated".into()],
        ..Default::default()
    }
}

/// What a plugin knows of the request (upstream's `admission.Attributes`).
pub struct Attributes<'a> {
    pub resource: &'static Resource,
    /// `""` for the main resource, else e.g. `status`, `scale`, `finalize`.
    pub subresource: &'a str,
    pub operation: Operation,
    pub namespace: Option<&'a str>,
    /// May be empty on create with `generateName`.
    pub name: &'a str,
    pub user: UserInfo,
    pub dry_run: bool,
    /// `CreateOptions`, `UpdateOptions` or `DeleteOptions` as JSON (`AdmissionReview.request.options`).
    pub options: Value,
    ctx: Option<Arc<RequestCtx>>,
}

impl<'a> Attributes<'a> {
    /// Attributes of the current request (the server itself when there is none).
    pub fn new(
        resource: &'static Resource,
        subresource: &'a str,
        operation: Operation,
        namespace: Option<&'a str>,
        name: &'a str,
        dry_run: bool,
    ) -> Attributes<'a> {
        let ctx = current();
        let user = ctx
            .as_ref()
            .and_then(|c| c.user().cloned())
            .unwrap_or_else(internal_user);
        let options_kind = match operation {
            Operation::Create => "CreateOptions",
            Operation::Update => "UpdateOptions",
            Operation::Delete => "DeleteOptions",
            Operation::Connect => "",
        };
        let mut options = json!({"kind": options_kind, "apiVersion": "meta.k8s.io/v1"});
        if dry_run {
            options["dryRun"] = json!(["All"]);
        }
        Attributes {
            resource,
            subresource,
            operation,
            namespace,
            name,
            user,
            dry_run,
            options,
            ctx,
        }
    }

    /// Sends a warning back to the client (a `Warning: 299` header).
    pub fn warn(&self, text: impl Into<String>) {
        if let Some(ctx) = &self.ctx {
            if let Ok(mut w) = ctx.warnings.lock() {
                w.push(text.into());
            }
        }
    }

    /// Adds an audit annotation.
    pub fn annotate(&self, key: impl Into<String>, value: impl Into<String>) {
        if let Some(ctx) = &self.ctx {
            if let Ok(mut a) = ctx.annotations.lock() {
                a.insert(key.into(), value.into());
            }
        }
    }

    /// Whether the request is for the main resource (not a subresource).
    pub fn is_main_resource(&self) -> bool {
        self.subresource.is_empty()
    }
}

/// One admission plugin. Both phases default to admitting everything.
#[async_trait]
pub trait Plugin: Send + Sync {
    /// Upstream's plugin name (e.g. `NamespaceLifecycle`).
    fn name(&self) -> &'static str;

    /// Mutating phase: may change `obj` (create and update only; `old` is set on update).
    async fn admit(
        &self,
        _api: &Api,
        _a: &Attributes<'_>,
        _obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        Ok(())
    }

    /// Validating phase: may refuse. `obj` is `None` on delete; `old` is set on update and delete.
    async fn validate(
        &self,
        _api: &Api,
        _a: &Attributes<'_>,
        _obj: Option<&Value>,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        Ok(())
    }
}

/// Upstream's plugin order (kube-apiserver's `AllOrderedPlugins`), restricted to plugins k3rs
/// knows of. Plugins run in this order whatever order they are enabled in.
pub const ORDER: &[&str] = &[
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "PodSecurity",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "RuntimeClass",
    "DefaultIngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
];

/// The plugins a server without admission flags runs (upstream's default-on set, where k3rs
/// implements it).
pub const DEFAULT_ENABLED: &[&str] = &[
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "PodSecurity",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "RuntimeClass",
    "DefaultIngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
];

/// Builds the plugin of that name, or `None` when k3rs does not implement it (yet).
fn build(name: &str) -> Option<Arc<dyn Plugin>> {
    match name {
        "StorageObjectInUseProtection" => {
            Some(Arc::new(storageprotection::StorageObjectInUseProtection))
        }
        "ValidatingAdmissionPolicy" => Some(Arc::new(vap::ValidatingAdmissionPolicy::default())),
        "MutatingAdmissionPolicy" => {
            Some(Arc::new(mutating_policy::MutatingAdmissionPolicy::default()))
        }
        "PodSecurity" => Some(Arc::new(podsecurity::PodSecurity::default())),
        "MutatingAdmissionWebhook" => {
            Some(Arc::new(crate::webhook::admission::MutatingWebhook::new()))
        }
        "ValidatingAdmissionWebhook" => {
            Some(Arc::new(crate::webhook::admission::ValidatingWebhook::new()))
        }
        "ResourceQuota" => Some(Arc::new(resourcequota::ResourceQuota::default())),
        "NamespaceLifecycle" => Some(Arc::new(namespace_lifecycle::NamespaceLifecycle)),
        "LimitRanger" => Some(Arc::new(limit_ranger::LimitRanger)),
        "ServiceAccount" => Some(Arc::new(service_account::ServiceAccount)),
        "Priority" => Some(Arc::new(priority::Priority)),
        "DefaultTolerationSeconds" => Some(Arc::new(
            default_toleration_seconds::DefaultTolerationSeconds,
        )),
        "DefaultStorageClass" => Some(Arc::new(default_storage_class::DefaultStorageClass)),
        "RuntimeClass" => Some(Arc::new(runtime_class::RuntimeClass)),
        "DefaultIngressClass" => Some(Arc::new(default_ingress_class::DefaultIngressClass)),
        _ => None,
    }
}

/// The ordered plugins a server runs.
#[derive(Clone, Default)]
pub struct Chain {
    plugins: Arc<Vec<Arc<dyn Plugin>>>,
    /// Watch-fed caches of what the plugins look up ([`cache`]).
    pub(crate) caches: cache::Caches,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// Why an admission configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown admission plugin {0:?}")]
    Unknown(String),
    #[error("admission plugin {0:?} is not implemented by k3rs")]
    NotImplemented(String),
}

impl Chain {
    pub fn new(plugins: Vec<Arc<dyn Plugin>>) -> Chain {
        Chain {
            plugins: Arc::new(plugins),
            caches: Default::default(),
        }
    }

    /// The chain for `--enable-admission-plugins` / `--disable-admission-plugins`: the default
    /// set plus `enable` minus `disable`, in upstream's order. Naming a plugin k3rs does not know
    /// or does not implement is an error, so a user never believes a plugin runs when it doesn't.
    /// Default plugins k3rs has not implemented yet are left out (the README lists them).
    pub fn configured(enable: &[String], disable: &[String]) -> Result<Chain, ConfigError> {
        for n in enable.iter().chain(disable) {
            if !ORDER.contains(&n.as_str()) {
                return Err(ConfigError::Unknown(n.clone()));
            }
        }
        let mut plugins = Vec::new();
        for name in ORDER {
            let wanted = (DEFAULT_ENABLED.contains(name) || enable.iter().any(|e| e == name))
                && !disable.iter().any(|d| d == name);
            if !wanted {
                continue;
            }
            match build(name) {
                Some(p) => plugins.push(p),
                None if enable.iter().any(|e| e == name) => {
                    return Err(ConfigError::NotImplemented(name.to_string()))
                }
                None => {}
            }
        }
        Ok(Chain::new(plugins))
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.plugins.iter().map(|p| p.name()).collect()
    }

    /// Runs every plugin's mutating phase in order.
    pub async fn admit(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        for p in self.plugins.iter() {
            p.admit(api, a, obj, old).await?;
        }
        Ok(())
    }

    /// Runs every plugin's validating phase in order.
    pub async fn validate(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: Option<&Value>,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        for p in self.plugins.iter() {
            p.validate(api, a, obj, old).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_plugins_are_refused_and_order_is_upstreams() {
        assert!(matches!(
            Chain::configured(&["NoSuchPlugin".into()], &[]),
            Err(ConfigError::Unknown(_))
        ));
        for d in DEFAULT_ENABLED {
            assert!(ORDER.contains(d), "{d} has no place in the order");
        }
        let c = Chain::configured(&[], &[]).unwrap();
        let names = c.names();
        let pos: Vec<usize> = names
            .iter()
            .filter_map(|n| ORDER.iter().position(|o| o == n))
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]));
    }

    #[tokio::test]
    async fn the_request_context_carries_user_and_warnings() {
        let res = k3rs_apis::registry::find("", "v1", "configmaps").unwrap();
        let outside = Attributes::new(res, "", Operation::Create, Some("a"), "b", false);
        assert_eq!(outside.user.name, "system:apiserver");
        let ctx = Arc::new(RequestCtx::default());
        ctx.set_user(UserInfo {
            name: "alice".into(),
            ..Default::default()
        });
        let seen = scope(ctx.clone(), async {
            let a = Attributes::new(res, "", Operation::Delete, Some("a"), "b", true);
            a.warn("careful");
            (a.user.name.clone(), a.options.clone())
        })
        .await;
        assert_eq!(seen.0, "alice");
        assert_eq!(seen.1["kind"], "DeleteOptions");
        assert_eq!(seen.1["dryRun"], json!(["All"]));
        assert_eq!(ctx.take_warnings(), vec!["careful".to_string()]);
    }
}
