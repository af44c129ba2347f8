//! PodSecurity: upstream's Pod Security Admission (`k8s.io/pod-security-admission`, as
//! kube-apiserver's built-in `PodSecurity` plugin runs it).
//!
//! A namespace chooses its levels with the labels `pod-security.kubernetes.io/<mode>` and
//! `pod-security.kubernetes.io/<mode>-version` for the modes `enforce`, `audit` and `warn`
//! (unlabelled modes take the defaults: `privileged:latest`, as upstream without an
//! AdmissionConfiguration). Then:
//! - a pod created or significantly updated (new containers or images, ephemeral containers)
//!   that breaks the enforce level is refused: 403 `pods "x" is forbidden: violates PodSecurity
//!   "restricted:latest": ...`; breaking the warn level adds a `Warning`, the audit level an audit
//!   annotation;
//! - the pod template of a Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
//!   ReplicationController or PodTemplate gets warnings and audit annotations only;
//! - a namespace whose labels are invalid is refused (422), and raising its enforce level warns
//!   about the existing pods that would break it.

mod checks;

pub use checks::{
    evaluate, forbidden_detail, forbidden_reason, Level, LevelVersion, Version, Violation,
    MAX_MINOR,
};

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use k3rs_apis::registry::{self, Resource};
use k3rs_apis::validation::{CauseType, FieldError};

use super::{Attributes, Operation, Plugin};
use crate::status::{qualified, ApiError, ApiResult};
use crate::store::{Api, ListParams};

const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";
pub const ENFORCE_LEVEL_LABEL: &str = "pod-security.kubernetes.io/enforce";
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
pub const AUDIT_LEVEL_LABEL: &str = "pod-security.kubernetes.io/audit";
pub const AUDIT_VERSION_LABEL: &str = "pod-security.kubernetes.io/audit-version";
pub const WARN_LEVEL_LABEL: &str = "pod-security.kubernetes.io/warn";
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";

/// How many existing pods a namespace update checks, and for how long (as upstream).
const NAMESPACE_MAX_PODS: usize = 3000;
const NAMESPACE_POD_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// The levels of the three modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub enforce: LevelVersion,
    pub audit: LevelVersion,
    pub warn: LevelVersion,
}

impl Default for Policy {
    /// `privileged:latest` everywhere (kube-apiserver's defaults).
    fn default() -> Self {
        let p = LevelVersion::new(Level::Privileged, Version::Latest);
        Policy {
            enforce: p,
            audit: p,
            warn: p,
        }
    }
}

/// Two levels are equivalent when equal or both privileged (the version of privileged does not
/// matter).
fn equivalent(a: &LevelVersion, b: &LevelVersion) -> bool {
    (a.level == Level::Privileged && b.level == Level::Privileged) || a == b
}

impl Policy {
    pub fn fully_privileged(&self) -> bool {
        self.enforce.level == Level::Privileged
            && self.audit.level == Level::Privileged
            && self.warn.level == Level::Privileged
    }

    fn equivalent(&self, other: &Policy) -> bool {
        equivalent(&self.enforce, &other.enforce)
            && equivalent(&self.audit, &other.audit)
            && equivalent(&self.warn, &other.warn)
    }
}

/// The policy a namespace's labels ask for, and the errors of invalid labels (upstream's
/// `PolicyToEvaluate`). An invalid enforce level reads as restricted (fail closed), an invalid
/// audit or warn level as privileged (fail open), an invalid version as latest. Without its own
/// warn label, warn is raised to the enforce level.
pub fn policy_from_labels(
    labels: Option<&Map<String, Value>>,
    defaults: &Policy,
) -> (Policy, Vec<FieldError>) {
    let mut p = *defaults;
    let mut errs = Vec::new();
    let Some(labels) = labels.filter(|l| !l.is_empty()) else {
        return (p, errs);
    };
    let label = |k: &str| labels.get(k).map(|v| v.as_str().unwrap_or_default());
    let mut err = |key: &str, value: &str, why: String| {
        errs.push(FieldError {
            reason: CauseType::Invalid,
            field: format!("metadata.labels[{key}]"),
            detail: why,
            bad_value: Some(json!(value)),
        })
    };
    let level = |v: &str| Level::parse(v).map_err(|e| (Level::Restricted, e));
    let version = |v: &str| Version::parse(v).map_err(|e| (Version::Latest, e));

    let mut has_enforce_level = false;
    if let Some(v) = label(ENFORCE_LEVEL_LABEL) {
        match level(v) {
            Ok(l) => {
                p.enforce.level = l;
                has_enforce_level = true;
            }
            Err((l, e)) => {
                p.enforce.level = l;
                err(ENFORCE_LEVEL_LABEL, v, e);
            }
        }
    }
    if let Some(v) = label(ENFORCE_VERSION_LABEL) {
        p.enforce.version = version(v).unwrap_or_else(|(d, e)| {
            err(ENFORCE_VERSION_LABEL, v, e);
            d
        });
    }
    if let Some(v) = label(AUDIT_LEVEL_LABEL) {
        p.audit.level = level(v).unwrap_or_else(|(_, e)| {
            err(AUDIT_LEVEL_LABEL, v, e);
            Level::Privileged
        });
    }
    if let Some(v) = label(AUDIT_VERSION_LABEL) {
        p.audit.version = version(v).unwrap_or_else(|(d, e)| {
            err(AUDIT_VERSION_LABEL, v, e);
            d
        });
    }
    let has_warn_level = label(WARN_LEVEL_LABEL).is_some();
    if let Some(v) = label(WARN_LEVEL_LABEL) {
        p.warn.level = level(v).unwrap_or_else(|(_, e)| {
            err(WARN_LEVEL_LABEL, v, e);
            Level::Privileged
        });
    }
    let has_warn_version = label(WARN_VERSION_LABEL).is_some();
    if let Some(v) = label(WARN_VERSION_LABEL) {
        p.warn.version = version(v).unwrap_or_else(|(d, e)| {
            err(WARN_VERSION_LABEL, v, e);
            d
        });
    }
    if !has_warn_level && has_enforce_level && p.enforce.level > p.warn.level {
        p.warn.level = p.enforce.level;
        if !has_warn_version {
            p.warn.version = p.enforce.version;
        }
    }
    (p, errs)
}

/// Who and what is never checked (upstream's `exemptions`; none by default).
#[derive(Clone, Debug, Default)]
pub struct Exemptions {
    pub usernames: Vec<String>,
    pub namespaces: Vec<String>,
    pub runtime_classes: Vec<String>,
}

/// The plugin.
#[derive(Clone, Debug, Default)]
pub struct PodSecurity {
    /// The levels of modes a namespace does not label.
    pub defaults: Policy,
    pub exemptions: Exemptions,
}

/// The resources whose objects carry a pod template, and where the template is.
fn template_path(res: &Resource) -> Option<&'static [&'static str]> {
    match (res.group, res.plural) {
        ("", "podtemplates") => Some(&["template"]),
        ("", "replicationcontrollers")
        | ("apps", "replicasets")
        | ("apps", "deployments")
        | ("apps", "statefulsets")
        | ("apps", "daemonsets")
        | ("batch", "jobs") => Some(&["spec", "template"]),
        ("batch", "cronjobs") => Some(&["spec", "jobTemplate", "spec", "template"]),
        _ => None,
    }
}

/// Pod subresources that never change the pod spec (upstream's `ignoredPodSubresources`).
const IGNORED_POD_SUBRESOURCES: &[&str] = &[
    "exec",
    "attach",
    "binding",
    "eviction",
    "log",
    "portforward",
    "proxy",
    "status",
];

fn labels_of(obj: &Value) -> Option<&Map<String, Value>> {
    obj.pointer("/metadata/labels").and_then(Value::as_object)
}

fn annotate(a: &Attributes<'_>, key: &str, value: impl Into<String>) {
    a.annotate(format!("{LABEL_PREFIX}{key}"), value);
}

/// Upstream's aggregate of several errors: one message, or `[a, b]`.
fn aggregate(errs: &[FieldError]) -> String {
    let mut msgs: Vec<String> = Vec::new();
    for e in errs {
        let m = e.message();
        if !msgs.contains(&m) {
            msgs.push(m);
        }
    }
    if msgs.len() == 1 {
        msgs.remove(0)
    } else {
        format!("[{}]", msgs.join(", "))
    }
}

/// 403 `pods "x" is forbidden: <why>` (upstream's `NewForbidden`).
fn forbidden(res: &Resource, name: &str, why: &str) -> ApiError {
    let message = if name.is_empty() {
        format!("{} is forbidden: {why}", qualified(res))
    } else {
        format!("{} \"{name}\" is forbidden: {why}", qualified(res))
    };
    let mut details = json!({"name": name, "kind": res.plural});
    if !res.group.is_empty() {
        details["group"] = json!(res.group);
    }
    ApiError::forbidden(message).with_details(details)
}

/// Whether an update changes what the checks look at: containers added or removed, an image
/// changed, an ephemeral container added or changed (upstream's `isSignificantPodUpdate`).
fn significant_pod_update(new: &Value, old: &Value) -> bool {
    let list = |v: &Value, k: &str| -> Vec<Value> {
        v.pointer(&format!("/spec/{k}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let image = |c: &Value| {
        c.get("image")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    for k in ["containers", "initContainers"] {
        let (n, o) = (list(new, k), list(old, k));
        if n.len() != o.len() || n.iter().zip(&o).any(|(a, b)| image(a) != image(b)) {
            return true;
        }
    }
    let old_eph = list(old, "ephemeralContainers");
    list(new, "ephemeralContainers").iter().any(|c| {
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
        match old_eph
            .iter()
            .find(|o| o.get("name").and_then(Value::as_str).unwrap_or_default() == name)
        {
            None => true,
            Some(o) => image(o) != image(c),
        }
    })
}

#[async_trait]
impl Plugin for PodSecurity {
    fn name(&self) -> &'static str {
        "PodSecurity"
    }

    async fn validate(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: Option<&Value>,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        if !matches!(a.operation, Operation::Create | Operation::Update) {
            return Ok(());
        }
        let Some(obj) = obj else {
            return Ok(());
        };
        match (a.resource.group, a.resource.plural) {
            ("", "namespaces") => self.validate_namespace(api, a, obj, old).await,
            ("", "pods") => self.validate_pod(api, a, obj, old).await,
            _ => match template_path(a.resource) {
                Some(path) => self.validate_pod_controller(api, a, obj, path).await,
                None => Ok(()),
            },
        }
    }
}

impl PodSecurity {
    pub fn new(defaults: Policy, exemptions: Exemptions) -> PodSecurity {
        PodSecurity {
            defaults,
            exemptions,
        }
    }

    fn exempt_namespace(&self, ns: &str) -> bool {
        !ns.is_empty() && self.exemptions.namespaces.iter().any(|n| n == ns)
    }

    fn exempt_user(&self, user: &str) -> bool {
        !user.is_empty() && self.exemptions.usernames.iter().any(|n| n == user)
    }

    fn exempt_runtime_class(&self, spec: &Value) -> bool {
        let rc = spec
            .get("runtimeClassName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        !rc.is_empty() && self.exemptions.runtime_classes.iter().any(|n| n == rc)
    }

    /// The namespace's policy; `None` when the namespace does not exist (the store then answers
    /// 404, as NamespaceLifecycle does upstream before this plugin runs).
    async fn namespace_policy(
        &self,
        api: &Api,
        ns: &str,
    ) -> ApiResult<Option<(Policy, Vec<FieldError>)>> {
        let Some(nsres) = registry::find("", "v1", "namespaces") else {
            return Ok(None);
        };
        Ok(super::cache::get(api, nsres, None, ns)
            .await?
            .map(|obj| policy_from_labels(labels_of(&obj), &self.defaults)))
    }

    async fn validate_namespace(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        if !a.is_main_resource() {
            return Ok(());
        }
        let name = crate::object::name(obj);
        let (policy, errs) = policy_from_labels(labels_of(obj), &self.defaults);
        match (a.operation, old) {
            (Operation::Create, _) => {
                if !errs.is_empty() {
                    return Err(ApiError::invalid(a.resource, name, &errs));
                }
                if self.exempt_namespace(name) {
                    self.warn_exempt_namespace(a, name, &policy, labels_of(obj));
                }
                Ok(())
            }
            (Operation::Update, Some(old)) => {
                let (old_policy, old_errs) = policy_from_labels(labels_of(old), &self.defaults);
                if !errs.is_empty() && (old_errs.is_empty() || errs != old_errs) {
                    return Err(ApiError::invalid(a.resource, name, &errs));
                }
                // Existing pods are checked only when enforcement gets stricter.
                if policy.enforce == old_policy.enforce
                    || policy.enforce.level == Level::Privileged
                    || (policy.enforce.version == old_policy.enforce.version
                        && policy.enforce.level <= old_policy.enforce.level)
                {
                    return Ok(());
                }
                if self.exempt_namespace(name) {
                    self.warn_exempt_namespace(a, name, &policy, labels_of(obj));
                    return Ok(());
                }
                for w in self.check_existing_pods(api, name, policy.enforce).await {
                    a.warn(w);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Warns that an exempt namespace's own levels are ignored.
    fn warn_exempt_namespace(
        &self,
        a: &Attributes<'_>,
        name: &str,
        policy: &Policy,
        labels: Option<&Map<String, Value>>,
    ) {
        if policy.fully_privileged() || policy.equivalent(&self.defaults) {
            return;
        }
        let has = |k: &str| labels.is_some_and(|l| l.contains_key(k));
        let mut parts = Vec::new();
        for (mode, lv, level_label, version_label) in [
            (
                "enforce",
                policy.enforce,
                ENFORCE_LEVEL_LABEL,
                ENFORCE_VERSION_LABEL,
            ),
            (
                "audit",
                policy.audit,
                AUDIT_LEVEL_LABEL,
                AUDIT_VERSION_LABEL,
            ),
            ("warn", policy.warn, WARN_LEVEL_LABEL, WARN_VERSION_LABEL),
        ] {
            if lv.level != Level::Privileged && (has(level_label) || has(version_label)) {
                parts.push(format!("{mode}={lv}"));
            }
        }
        a.warn(format!(
            "namespace {} is exempt from Pod Security, and the policy ({}) will be ignored",
            k3rs_apis::validation::go_quote(name),
            parts.join(", ")
        ));
    }

    /// Warnings about the namespace's pods that break a new enforce level: pods with the same
    /// violations are reported together under the first name (upstream's
    /// `EvaluatePodsInNamespace`).
    async fn check_existing_pods(&self, api: &Api, ns: &str, enforce: LevelVersion) -> Vec<String> {
        let deadline = Instant::now() + NAMESPACE_POD_CHECK_TIMEOUT;
        let Some(podres) = registry::find("", "v1", "pods") else {
            return Vec::new();
        };
        let pods = match api.list(podres, Some(ns), &ListParams::default()).await {
            Ok(list) => list
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            Err(e) => {
                tracing::warn!(namespace = ns, error = %e.message, "PodSecurity: listing pods failed");
                return vec![
                    "failed to list pods while checking new PodSecurity enforce level".to_string(),
                ];
            }
        };
        let pods = self.prioritize(pods);
        let total = pods.len();
        let mut checked = total.min(NAMESPACE_MAX_PODS);
        // Distinct violation texts in first-seen order, with the first pod name and a count.
        let mut order: Vec<String> = Vec::new();
        let mut seen: HashMap<String, (String, usize)> = HashMap::new();
        for (i, pod) in pods.iter().take(NAMESPACE_MAX_PODS).enumerate() {
            let meta = pod.get("metadata").unwrap_or(&Value::Null);
            let spec = pod.get("spec").unwrap_or(&Value::Null);
            let v = evaluate(enforce, meta, spec);
            if !v.is_empty() {
                let reason = forbidden_reason(&v);
                let name = crate::object::name(pod).to_string();
                match seen.get_mut(&reason) {
                    Some((first, count)) => {
                        if name < *first {
                            *first = name;
                        }
                        *count += 1;
                    }
                    None => {
                        order.push(reason.clone());
                        seen.insert(reason, (name, 1));
                    }
                }
            }
            if Instant::now() >= deadline {
                checked = i + 1;
                break;
            }
        }
        let mut warnings = Vec::new();
        if checked < total {
            warnings.push(format!(
                "new PodSecurity enforce level only checked against the first {checked} of {total} existing pods"
            ));
        }
        if !order.is_empty() {
            warnings.push(format!(
                "existing pods in namespace {} violate the new PodSecurity enforce level {}",
                k3rs_apis::validation::go_quote(ns),
                k3rs_apis::validation::go_quote(&enforce.to_string())
            ));
        }
        let mut pod_warnings: Vec<String> = order
            .into_iter()
            .map(|reason| {
                let (first, count) = seen.get(&reason).cloned().unwrap_or_default();
                match count {
                    0 => reason,
                    1 => format!("{first}: {reason}"),
                    2 => format!("{first} (and 1 other pod): {reason}"),
                    n => format!("{first} (and {} other pods): {reason}", n - 1),
                }
            })
            .collect();
        pod_warnings.sort();
        warnings.extend(pod_warnings);
        warnings
    }

    /// Pods of exempt runtime classes left out; one pod per controller first, the other
    /// replicas after (upstream's `prioritizePods`).
    fn prioritize(&self, pods: Vec<Value>) -> Vec<Value> {
        let mut first = Vec::new();
        let mut later = Vec::new();
        let mut controllers = std::collections::HashSet::new();
        for pod in pods {
            if self.exempt_runtime_class(pod.get("spec").unwrap_or(&Value::Null)) {
                continue;
            }
            let controller = pod
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .and_then(|refs| {
                    refs.iter()
                        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
                })
                .map(|r| {
                    r.get("uid")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                });
            match controller {
                None => first.push(pod),
                Some(uid) if controllers.contains(&uid) => later.push(pod),
                Some(uid) => {
                    controllers.insert(uid);
                    first.push(pod);
                }
            }
        }
        first.extend(later);
        first
    }

    async fn validate_pod(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        if IGNORED_POD_SUBRESOURCES.contains(&a.subresource) {
            return Ok(());
        }
        let ns = a.namespace.unwrap_or_default();
        if self.exempt_namespace(ns) {
            annotate(a, "exempt", "namespace");
            return Ok(());
        }
        if self.exempt_user(&a.user.name) {
            annotate(a, "exempt", "user");
            return Ok(());
        }
        let Some((policy, errs)) = self.namespace_policy(api, ns).await? else {
            return Ok(());
        };
        if errs.is_empty() && policy.fully_privileged() {
            annotate(
                a,
                "enforce-policy",
                LevelVersion::new(Level::Privileged, Version::Latest).to_string(),
            );
            return Ok(());
        }
        if obj
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k != "Pod")
        {
            return Err(ApiError::bad_request("failed to decode pod"));
        }
        if a.operation == Operation::Update {
            if let Some(old) = old {
                if !significant_pod_update(obj, old) {
                    return Ok(());
                }
            }
        }
        let meta = obj.get("metadata").unwrap_or(&Value::Null);
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        self.evaluate_pod(a, obj, &policy, &errs, meta, spec, true)
    }

    async fn validate_pod_controller(
        &self,
        api: &Api,
        a: &Attributes<'_>,
        obj: &Value,
        path: &[&str],
    ) -> ApiResult<()> {
        if !a.is_main_resource() {
            return Ok(());
        }
        let ns = a.namespace.unwrap_or_default();
        if self.exempt_namespace(ns) {
            annotate(a, "exempt", "namespace");
            return Ok(());
        }
        if self.exempt_user(&a.user.name) {
            annotate(a, "exempt", "user");
            return Ok(());
        }
        let (policy, errs) = match self.namespace_policy(api, ns).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                annotate(
                    a,
                    "error",
                    format!(
                        "failed to lookup namespace {}: namespaces {} not found",
                        k3rs_apis::validation::go_quote(ns),
                        k3rs_apis::validation::go_quote(ns)
                    ),
                );
                return Ok(());
            }
            Err(e) => {
                annotate(
                    a,
                    "error",
                    format!(
                        "failed to lookup namespace {}: {}",
                        k3rs_apis::validation::go_quote(ns),
                        e.message
                    ),
                );
                return Ok(());
            }
        };
        if errs.is_empty()
            && policy.warn.level == Level::Privileged
            && policy.audit.level == Level::Privileged
        {
            return Ok(());
        }
        let mut template = obj;
        for k in path {
            match template.get(k) {
                Some(v) if !v.is_null() => template = v,
                // A controller without a pod template (a ReplicationController may have none).
                _ => return Ok(()),
            }
        }
        let meta = template.get("metadata").unwrap_or(&Value::Null);
        let spec = template.get("spec").unwrap_or(&Value::Null);
        self.evaluate_pod(a, obj, &policy, &errs, meta, spec, false)
    }

    /// Checks a pod (or a pod template) against the namespace's levels: enforce (pods only)
    /// refuses, audit annotates, warn warns (not when refused).
    #[allow(clippy::too_many_arguments)]
    fn evaluate_pod(
        &self,
        a: &Attributes<'_>,
        obj: &Value,
        policy: &Policy,
        policy_errs: &[FieldError],
        meta: &Value,
        spec: &Value,
        enforce: bool,
    ) -> ApiResult<()> {
        if self.exempt_runtime_class(spec) {
            annotate(a, "exempt", "runtimeClass");
            return Ok(());
        }
        if !policy_errs.is_empty() {
            annotate(
                a,
                "error",
                format!("Failed to parse policy: {}", aggregate(policy_errs)),
            );
        }
        let mut cache: Vec<(LevelVersion, Vec<Violation>)> = Vec::new();
        let mut result = |lv: LevelVersion| -> Vec<Violation> {
            if let Some((_, v)) = cache.iter().find(|(k, _)| *k == lv) {
                return v.clone();
            }
            let v = evaluate(lv, meta, spec);
            cache.push((lv, v.clone()));
            v
        };
        let mut refusal = None;
        if enforce {
            annotate(a, "enforce-policy", policy.enforce.to_string());
            let v = result(policy.enforce);
            if !v.is_empty() {
                let name = if a.name.is_empty() {
                    crate::object::name(obj)
                } else {
                    a.name
                };
                refusal = Some(forbidden(
                    a.resource,
                    name,
                    &format!(
                        "violates PodSecurity \"{}\": {}",
                        policy.enforce,
                        forbidden_detail(&v)
                    ),
                ));
            }
        }
        let v = result(policy.audit);
        if !v.is_empty() {
            annotate(
                a,
                "audit-violations",
                format!(
                    "would violate PodSecurity \"{}\": {}",
                    policy.audit,
                    forbidden_detail(&v)
                ),
            );
        }
        if let Some(e) = refusal {
            return Err(e);
        }
        let v = result(policy.warn);
        if !v.is_empty() {
            a.warn(format!(
                "would violate PodSecurity \"{}\": {}",
                policy.warn,
                forbidden_detail(&v)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
