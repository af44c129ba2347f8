//! Validation of objects on create and update, following upstream Kubernetes v1.35
//! (`pkg/apis/*/validation`, apimachinery `pkg/api/validation`).
//!
//! Objects arrive as the JSON clients sent (`apiVersion`/`kind` included), already defaulted by
//! [`crate::defaults::apply_defaults`]. Every kind gets the generic `metadata` rules; the kinds
//! below also get their own spec rules. Errors carry upstream's field paths, reasons and messages,
//! so the API server can build a `422 Invalid` `Status` from them directly:
//!
//! ```
//! use k3rs_apis::validation::{validate_create, CauseType};
//! let pod = serde_json::json!({
//!     "apiVersion": "v1", "kind": "Pod",
//!     "metadata": {"name": "web", "namespace": "default"},
//!     "spec": {"containers": [{"name": "app"}]}
//! });
//! let errs = validate_create("", "Pod", true, &pod);
//! let image = errs.iter().find(|e| e.field == "spec.containers[0].image").unwrap();
//! assert_eq!(image.reason, CauseType::Required);
//! assert_eq!(image.message(), "spec.containers[0].image: Required value");
//! ```
//!
//! Nothing here panics on odd input: a field of the wrong JSON type becomes an `Invalid` error.

mod config;
mod crd;
pub(crate) mod formats;
pub mod limits;
mod meta;
mod pod;
mod policy;
mod rbac;
mod service;
pub(crate) mod util;
mod webhook;
mod workloads;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub(crate) use config::encode_base64;
/// Go's `%q` of a string, as upstream's messages print values.
pub use util::go_quote;
use util::Errs;
pub use webhook::{
    ca_bundle_certificates, decode_base64, parse_webhook_url, WebhookUrl, REVIEW_VERSIONS,
};

/// Why a field is wrong; the `type` of a `StatusCause`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CauseType {
    Required,
    Invalid,
    NotSupported,
    Duplicate,
    TooLong,
    TooMany,
    Forbidden,
    /// Upstream's `field.InternalError`.
    InternalError,
}

impl CauseType {
    /// The wire name, e.g. `FieldValueRequired`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CauseType::Required => "FieldValueRequired",
            CauseType::Invalid => "FieldValueInvalid",
            CauseType::NotSupported => "FieldValueNotSupported",
            CauseType::Duplicate => "FieldValueDuplicate",
            CauseType::TooLong => "FieldValueTooLong",
            CauseType::TooMany => "FieldValueTooMany",
            CauseType::Forbidden => "FieldValueForbidden",
            CauseType::InternalError => "InternalError",
        }
    }

    /// The human phrase upstream prints, e.g. `Required value`.
    fn phrase(&self) -> &'static str {
        match self {
            CauseType::Required => "Required value",
            CauseType::Invalid => "Invalid value",
            CauseType::NotSupported => "Unsupported value",
            CauseType::Duplicate => "Duplicate value",
            CauseType::TooLong => "Too long",
            CauseType::TooMany => "Too many",
            CauseType::Forbidden => "Forbidden",
            CauseType::InternalError => "Internal error",
        }
    }
}

/// One validation failure: upstream's `field.Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub reason: CauseType,
    /// The field path, e.g. `spec.containers[0].image`.
    pub field: String,
    /// Extra explanation, may be empty.
    pub detail: String,
    /// The offending value, printed for `Invalid`, `NotSupported`, `Duplicate` and `TooMany`.
    pub bad_value: Option<Value>,
}

impl FieldError {
    /// Upstream `field.Error.Error()`:
    ///
    /// ```
    /// use k3rs_apis::validation::{CauseType, FieldError};
    /// let e = FieldError {
    ///     reason: CauseType::NotSupported,
    ///     field: "spec.restartPolicy".into(),
    ///     detail: r#"supported values: "Always", "Never", "OnFailure""#.into(),
    ///     bad_value: Some("Sometimes".into()),
    /// };
    /// assert_eq!(
    ///     e.message(),
    ///     r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure""#
    /// );
    /// ```
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.cause_message())
    }

    /// The text upstream puts in `StatusCause.message` (`message()` without the field prefix).
    pub fn cause_message(&self) -> String {
        let mut s = self.reason.phrase().to_string();
        let shows_value = matches!(
            self.reason,
            CauseType::Invalid
                | CauseType::NotSupported
                | CauseType::Duplicate
                | CauseType::TooMany
        );
        if shows_value {
            if let Some(v) = &self.bad_value {
                s.push_str(": ");
                s.push_str(&format_value(v));
            }
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

/// A bad value as Go prints it: strings quoted, numbers and booleans bare, the rest as JSON.
fn format_value(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => serde_json::to_string(other).unwrap_or_else(|_| "<unprintable>".to_string()),
    }
}

/// How a kind's `metadata.name` must look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// DNS-1123 subdomain (the default).
    Subdomain,
    /// DNS-1123 label (Namespace, StatefulSet).
    Label,
    /// DNS-1035 label (Service).
    Dns1035,
    /// A URL path segment: not "." or "..", no "/" or "%" (RBAC kinds).
    PathSegment,
    /// An IP address in canonical form (IPAddress objects are named by the address they hold).
    IpAddress,
}

impl NameRule {
    /// Messages for `name`; `prefix` is set when checking a `generateName`.
    pub(crate) fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && self != NameRule::PathSegment {
            masked = formats::mask_trailing_dash(name);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Subdomain => formats::dns1123_subdomain(name),
            NameRule::Label => formats::dns1123_label(name),
            NameRule::Dns1035 => formats::dns1035_label(name),
            NameRule::PathSegment if prefix => {
                // A prefix may be "." or ".." (more characters follow); only the contents matter.
                formats::path_segment_name(&format!("{name}x"))
            }
            NameRule::PathSegment => formats::path_segment_name(name),
            NameRule::IpAddress => match name.parse::<std::net::IpAddr>() {
                Ok(ip) if ip.to_string() == name => Vec::new(),
                Ok(ip) => vec![format!("must be in canonical form (\"{ip}\")")],
                Err(_) => {
                    vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()]
                }
            },
        }
    }
}

/// What we know about a kind: how its name is checked and whether it is one of upstream's
/// built-in kinds (which also get the "standard finalizer name" rule).
struct KindInfo {
    name_rule: NameRule,
    builtin: bool,
}

fn kind_info(group: &str, kind: &str) -> KindInfo {
    let builtin_groups = [
        "",
        "apps",
        "batch",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "policy",
        "autoscaling",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "node.k8s.io",
        "certificates.k8s.io",
        "events.k8s.io",
        // Not apiextensions.k8s.io: its objects' metadata is checked by apimachinery's rules,
        // which only want qualified finalizer names (its own customresourcecleanup one is).
    ];
    let name_rule = match (group, kind) {
        ("", "Namespace") => NameRule::Label,
        ("", "Service") => NameRule::Dns1035,
        ("networking.k8s.io", "IPAddress") => NameRule::IpAddress,
        ("apps", "StatefulSet") => NameRule::Label,
        (
            "rbac.authorization.k8s.io",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
        ) => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    };
    KindInfo {
        name_rule,
        builtin: builtin_groups.contains(&group),
    }
}

/// Validation on create. `namespaced` says whether the kind is namespaced (so `metadata.namespace`
/// is required) or cluster-scoped (so it is forbidden).
pub fn validate_create(group: &str, kind: &str, namespaced: bool, obj: &Value) -> Vec<FieldError> {
    let mut errs = Errs::new();
    if !obj.is_object() {
        errs.push(util::invalid("", obj.clone(), "must be a JSON object"));
        return errs;
    }
    let info = kind_info(group, kind);
    meta::validate_create(obj, namespaced, info.name_rule, info.builtin, &mut errs);
    validate_kind(group, kind, obj, None, &mut errs);
    errs
}

/// Validation on update: the create rules for the new object plus upstream's immutability rules
/// against `old` (metadata identity, pod spec, selectors, immutable ConfigMaps/Secrets, ...).
pub fn validate_update(
    group: &str,
    kind: &str,
    namespaced: bool,
    obj: &Value,
    old: &Value,
) -> Vec<FieldError> {
    let mut errs = Errs::new();
    if !obj.is_object() {
        errs.push(util::invalid("", obj.clone(), "must be a JSON object"));
        return errs;
    }
    let _ = namespaced;
    let info = kind_info(group, kind);
    meta::validate_update(obj, old, info.builtin, &mut errs);
    validate_kind(group, kind, obj, Some(old), &mut errs);
    errs
}

/// The per-kind rules; `old` is set on update.
fn validate_kind(group: &str, kind: &str, obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    match (group, kind) {
        ("", "Pod") => pod::validate_pod(obj, old, errs),
        ("", "PodTemplate") => pod::validate_pod_template(obj, errs),
        ("", "ReplicationController") => workloads::validate_replication_controller(obj, errs),
        ("", "Service") => service::validate_service(obj, old, errs),
        ("", "ConfigMap") => config::validate_config_map(obj, old, errs),
        ("", "Secret") => config::validate_secret(obj, old, errs),
        ("", "Namespace") => config::validate_namespace(obj, old, errs),
        ("", "ServiceAccount") => config::validate_service_account(obj, errs),
        ("", "LimitRange") => limits::validate_limit_range(obj, errs),
        ("", "ResourceQuota") => limits::validate_resource_quota(obj, old, errs),
        ("scheduling.k8s.io", "PriorityClass") => limits::validate_priority_class(obj, old, errs),
        ("apps", "Deployment") => workloads::validate_deployment(obj, old, errs),
        ("apps", "ReplicaSet") => workloads::validate_replica_set(obj, old, errs),
        ("apps", "StatefulSet") => workloads::validate_stateful_set(obj, old, errs),
        ("apps", "DaemonSet") => workloads::validate_daemon_set(obj, old, errs),
        ("batch", "Job") => workloads::validate_job(obj, old, errs),
        ("batch", "CronJob") => workloads::validate_cron_job(obj, old, errs),
        ("rbac.authorization.k8s.io", "Role") => rbac::validate_role(obj, true, errs),
        ("rbac.authorization.k8s.io", "ClusterRole") => rbac::validate_role(obj, false, errs),
        ("rbac.authorization.k8s.io", "RoleBinding") => {
            rbac::validate_binding(obj, old, true, errs)
        }
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            rbac::validate_binding(obj, old, false, errs)
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd::validate_crd(obj, old, errs),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            webhook::validate_configuration(obj, old, true, errs)
        }
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            webhook::validate_configuration(obj, old, false, errs)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            policy::validate_validating_admission_policy(obj, errs)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            policy::validate_validating_admission_policy_binding(obj, errs)
        }
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy") => {
            policy::validate_mutating_admission_policy(obj, errs)
        }
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding") => {
            policy::validate_mutating_admission_policy_binding(obj, errs)
        }
        _ => {}
    }
}

/// Whether `s` is a DNS-1123 label (`my-name`, at most 63 characters).
pub fn is_dns1123_label(s: &str) -> bool {
    formats::dns1123_label(s).is_empty()
}

/// Whether `s` is a DNS-1123 subdomain (`example.com`, at most 253 characters).
pub fn is_dns1123_subdomain(s: &str) -> bool {
    formats::dns1123_subdomain(s).is_empty()
}

/// Errors for a label map (keys must be qualified names, values valid label values), reported on
/// `path` as upstream does (`metadata.labels`, `spec.selector.matchLabels`, ...).
///
/// ```
/// let errs = k3rs_apis::validation::validate_labels(&serde_json::json!({"a b": "x"}), "metadata.labels");
/// assert_eq!(errs[0].field, "metadata.labels");
/// ```
pub fn validate_labels(labels: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Errs::new();
    meta::validate_labels_into(labels, path, &mut errs);
    errs
}

/// Errors for an annotation map: key syntax (case-insensitive qualified names) and total size
/// at most 256 KiB.
pub fn validate_annotations(annotations: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Errs::new();
    meta::validate_annotations_into(annotations, path, &mut errs);
    errs
}

/// Upstream's messages for a qualified name (label key, finalizer, ...); empty when valid.
///
/// ```
/// assert!(k3rs_apis::validation::validate_qualified_name("example.com/my-key").is_empty());
/// assert!(!k3rs_apis::validation::validate_qualified_name("-bad").is_empty());
/// ```
pub fn validate_qualified_name(s: &str) -> Vec<String> {
    formats::qualified_name(s)
}

/// Upstream's messages for a label value; empty when valid.
pub fn validate_label_value(s: &str) -> Vec<String> {
    formats::label_value(s)
}
