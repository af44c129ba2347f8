//! Per-field list and patch metadata of the built-in API, and the type graph to walk it.
//!
//! Strategic merge patch, server-side apply and OpenAPI all need to know, for every field of every
//! built-in type, how lists and maps behave: whether a list is merged by key (and which key), kept
//! as a set, or replaced whole; whether a map or struct is atomic. Upstream records this in Go
//! struct tags (`patchStrategy`, `patchMergeKey`) and comment markers (`+listType`, `+listMapKey`,
//! `+mapType`, `+structType`), which its OpenAPI documents publish as `x-kubernetes-*` extensions.
//! k3rs keeps the same facts as a hand-maintained table ([`FIELDS`], [`STRUCTS`]); a test compares
//! it, entry by entry and in both directions, with upstream's published OpenAPI documents.
//!
//! Which message a field holds (so a walker can descend into nested objects and list items) comes
//! from the protobuf schema tables compiled into the crate (see [`crate::protoschema`]).

use crate::protobuf;
use crate::protoschema::{Field, Kind, Msg};

/// How one field's value behaves under patching and apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldMeta {
    /// `""`, `"merge"`, `"replace"`, `"retainKeys"` or `"merge,retainKeys"` (`x-kubernetes-patch-strategy`).
    pub patch_strategy: &'static str,
    /// Key that identifies items of a merged list of objects, `""` when none (`x-kubernetes-patch-merge-key`).
    pub merge_key: &'static str,
    /// `""`, `"atomic"`, `"set"` or `"map"` (`x-kubernetes-list-type`).
    pub list_type: &'static str,
    /// Keys that identify items of a `map` list (`x-kubernetes-list-map-keys`).
    pub list_map_keys: &'static [&'static str],
    /// For map-valued fields: `""`, `"atomic"` or `"granular"` (`x-kubernetes-map-type`).
    pub map_type: &'static str,
    /// For object-valued fields (or lists of objects): `""`, `"atomic"` or `"granular"`. A field's own
    /// marker wins; otherwise it is the marker of the field's type ([`STRUCTS`]).
    pub struct_type: &'static str,
}

impl FieldMeta {
    /// Whether the patch strategy includes `strategy` (`"merge"`, `"replace"`, `"retainKeys"`).
    pub fn has_strategy(&self, strategy: &str) -> bool {
        self.patch_strategy.split(',').any(|s| s == strategy)
    }
}

const M: FieldMeta = FieldMeta {
    patch_strategy: "",
    merge_key: "",
    list_type: "",
    list_map_keys: &[],
    map_type: "",
    struct_type: "",
};

/// Every built-in field with list/patch metadata: (protobuf message, JSON field name, metadata).
/// Sorted by message, then field.
#[rustfmt::skip]
pub static FIELDS: &[(&str, &str, FieldMeta)] = &[
    ("k8s.io.api.admissionregistration.v1.MatchResources", "excludeResourceRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.MatchResources", "resourceRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.MutatingWebhook", "admissionReviewVersions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.MutatingWebhook", "matchConditions", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.admissionregistration.v1.MutatingWebhook", "rules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.MutatingWebhookConfiguration", "webhooks", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.admissionregistration.v1.NamedRuleWithOperations", "apiGroups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.NamedRuleWithOperations", "apiVersions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.NamedRuleWithOperations", "operations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.NamedRuleWithOperations", "resourceNames", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.NamedRuleWithOperations", "resources", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.RuleWithOperations", "apiGroups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.RuleWithOperations", "apiVersions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.RuleWithOperations", "operations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.RuleWithOperations", "resources", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.TypeChecking", "expressionWarnings", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec", "validationActions", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.admissionregistration.v1.ValidatingAdmissionPolicySpec", "auditAnnotations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.ValidatingAdmissionPolicySpec", "matchConditions", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.admissionregistration.v1.ValidatingAdmissionPolicySpec", "validations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.ValidatingAdmissionPolicySpec", "variables", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.admissionregistration.v1.ValidatingAdmissionPolicyStatus", "conditions", FieldMeta { list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.admissionregistration.v1.ValidatingWebhook", "admissionReviewVersions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.ValidatingWebhook", "matchConditions", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.admissionregistration.v1.ValidatingWebhook", "rules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1.ValidatingWebhookConfiguration", "webhooks", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.admissionregistration.v1alpha1.MatchResources", "excludeResourceRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1alpha1.MatchResources", "resourceRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1alpha1.MutatingAdmissionPolicySpec", "matchConditions", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.admissionregistration.v1alpha1.MutatingAdmissionPolicySpec", "mutations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1alpha1.MutatingAdmissionPolicySpec", "variables", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1alpha1.NamedRuleWithOperations", "apiGroups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1alpha1.NamedRuleWithOperations", "apiVersions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1alpha1.NamedRuleWithOperations", "operations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1alpha1.NamedRuleWithOperations", "resourceNames", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1alpha1.NamedRuleWithOperations", "resources", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1beta1.MatchResources", "excludeResourceRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1beta1.MatchResources", "resourceRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1beta1.MutatingAdmissionPolicySpec", "matchConditions", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.admissionregistration.v1beta1.MutatingAdmissionPolicySpec", "mutations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1beta1.MutatingAdmissionPolicySpec", "variables", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1beta1.NamedRuleWithOperations", "apiGroups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1beta1.NamedRuleWithOperations", "apiVersions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1beta1.NamedRuleWithOperations", "operations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1beta1.NamedRuleWithOperations", "resourceNames", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.admissionregistration.v1beta1.NamedRuleWithOperations", "resources", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.apiserverinternal.v1alpha1.ServerStorageVersion", "decodableVersions", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.apiserverinternal.v1alpha1.ServerStorageVersion", "servedVersions", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.apiserverinternal.v1alpha1.StorageVersionStatus", "conditions", FieldMeta { list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.apiserverinternal.v1alpha1.StorageVersionStatus", "storageVersions", FieldMeta { list_type: "map", list_map_keys: &["apiServerID"], ..M }),
    ("k8s.io.api.apps.v1.DaemonSetStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.apps.v1.DeploymentSpec", "strategy", FieldMeta { patch_strategy: "retainKeys", ..M }),
    ("k8s.io.api.apps.v1.DeploymentStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.apps.v1.ReplicaSetStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.apps.v1.StatefulSetSpec", "volumeClaimTemplates", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.apps.v1.StatefulSetStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.authentication.v1.TokenRequestSpec", "audiences", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authentication.v1.TokenReviewSpec", "audiences", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authentication.v1.TokenReviewStatus", "audiences", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authentication.v1.UserInfo", "groups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authorization.v1.FieldSelectorAttributes", "requirements", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authorization.v1.LabelSelectorAttributes", "requirements", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authorization.v1.NonResourceRule", "nonResourceURLs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authorization.v1.NonResourceRule", "verbs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authorization.v1.ResourceRule", "apiGroups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authorization.v1.ResourceRule", "resourceNames", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authorization.v1.ResourceRule", "resources", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authorization.v1.ResourceRule", "verbs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authorization.v1.SubjectAccessReviewSpec", "groups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authorization.v1.SubjectRulesReviewStatus", "nonResourceRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.authorization.v1.SubjectRulesReviewStatus", "resourceRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.autoscaling.v2.HPAScalingRules", "policies", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerSpec", "metrics", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerStatus", "currentMetrics", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.batch.v1.CronJobStatus", "active", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.batch.v1.JobStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "atomic", ..M }),
    ("k8s.io.api.batch.v1.PodFailurePolicy", "rules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.batch.v1.PodFailurePolicyOnExitCodesRequirement", "values", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.batch.v1.PodFailurePolicyRule", "onPodConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.batch.v1.SuccessPolicy", "rules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.batch.v1.UncountedTerminatedPods", "failed", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.batch.v1.UncountedTerminatedPods", "succeeded", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.certificates.v1.CertificateSigningRequestSpec", "groups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.certificates.v1.CertificateSigningRequestSpec", "usages", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.certificates.v1.CertificateSigningRequestStatus", "conditions", FieldMeta { list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.certificates.v1beta1.PodCertificateRequestStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.core.v1.Capabilities", "add", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.Capabilities", "drop", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.CephFSPersistentVolumeSource", "monitors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.CephFSVolumeSource", "monitors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ComponentStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.core.v1.ConfigMapProjection", "items", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ConfigMapVolumeSource", "items", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.Container", "args", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.Container", "command", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.Container", "env", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.Container", "envFrom", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.Container", "ports", FieldMeta { patch_strategy: "merge", merge_key: "containerPort", list_type: "map", list_map_keys: &["containerPort", "protocol"], ..M }),
    ("k8s.io.api.core.v1.Container", "resizePolicy", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.Container", "restartPolicyRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.Container", "volumeDevices", FieldMeta { patch_strategy: "merge", merge_key: "devicePath", list_type: "map", list_map_keys: &["devicePath"], ..M }),
    ("k8s.io.api.core.v1.Container", "volumeMounts", FieldMeta { patch_strategy: "merge", merge_key: "mountPath", list_type: "map", list_map_keys: &["mountPath"], ..M }),
    ("k8s.io.api.core.v1.ContainerImage", "names", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ContainerRestartRuleOnExitCodes", "values", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.core.v1.ContainerStatus", "allocatedResourcesStatus", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.ContainerStatus", "volumeMounts", FieldMeta { patch_strategy: "merge", merge_key: "mountPath", list_type: "map", list_map_keys: &["mountPath"], ..M }),
    ("k8s.io.api.core.v1.DownwardAPIProjection", "items", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.DownwardAPIVolumeSource", "items", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.EndpointSubset", "addresses", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.EndpointSubset", "notReadyAddresses", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.EndpointSubset", "ports", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.Endpoints", "subsets", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.EphemeralContainer", "args", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.EphemeralContainer", "command", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.EphemeralContainer", "env", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.EphemeralContainer", "envFrom", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.EphemeralContainer", "ports", FieldMeta { patch_strategy: "merge", merge_key: "containerPort", list_type: "map", list_map_keys: &["containerPort", "protocol"], ..M }),
    ("k8s.io.api.core.v1.EphemeralContainer", "resizePolicy", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.EphemeralContainer", "restartPolicyRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.EphemeralContainer", "volumeDevices", FieldMeta { patch_strategy: "merge", merge_key: "devicePath", list_type: "map", list_map_keys: &["devicePath"], ..M }),
    ("k8s.io.api.core.v1.EphemeralContainer", "volumeMounts", FieldMeta { patch_strategy: "merge", merge_key: "mountPath", list_type: "map", list_map_keys: &["mountPath"], ..M }),
    ("k8s.io.api.core.v1.ExecAction", "command", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.FCVolumeSource", "targetWWNs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.FCVolumeSource", "wwids", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.HTTPGetAction", "httpHeaders", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.HostAlias", "hostnames", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ISCSIPersistentVolumeSource", "portals", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ISCSIVolumeSource", "portals", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.LimitRangeSpec", "limits", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.LinuxContainerUser", "supplementalGroups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.LoadBalancerIngress", "ports", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.LoadBalancerStatus", "ingress", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NamespaceSpec", "finalizers", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NamespaceStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.core.v1.NodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NodeSelector", "nodeSelectorTerms", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NodeSelectorRequirement", "values", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NodeSelectorTerm", "matchExpressions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NodeSelectorTerm", "matchFields", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NodeSpec", "podCIDRs", FieldMeta { patch_strategy: "merge", list_type: "set", ..M }),
    ("k8s.io.api.core.v1.NodeSpec", "taints", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NodeStatus", "addresses", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.core.v1.NodeStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.core.v1.NodeStatus", "declaredFeatures", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NodeStatus", "images", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NodeStatus", "runtimeHandlers", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NodeStatus", "volumesAttached", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.NodeStatus", "volumesInUse", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PersistentVolumeClaimSpec", "accessModes", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PersistentVolumeClaimStatus", "accessModes", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PersistentVolumeClaimStatus", "allocatedResourceStatuses", FieldMeta { map_type: "granular", ..M }),
    ("k8s.io.api.core.v1.PersistentVolumeClaimStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.core.v1.PersistentVolumeSpec", "accessModes", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PersistentVolumeSpec", "claimRef", FieldMeta { struct_type: "granular", ..M }),
    ("k8s.io.api.core.v1.PersistentVolumeSpec", "mountOptions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodAffinity", "preferredDuringSchedulingIgnoredDuringExecution", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodAffinity", "requiredDuringSchedulingIgnoredDuringExecution", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodAffinityTerm", "matchLabelKeys", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodAffinityTerm", "mismatchLabelKeys", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodAffinityTerm", "namespaces", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodDNSConfig", "nameservers", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodDNSConfig", "options", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodDNSConfig", "searches", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodExtendedResourceClaimStatus", "requestMappings", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodSecurityContext", "supplementalGroups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodSecurityContext", "sysctls", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodSpec", "containers", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.PodSpec", "ephemeralContainers", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.PodSpec", "hostAliases", FieldMeta { patch_strategy: "merge", merge_key: "ip", list_type: "map", list_map_keys: &["ip"], ..M }),
    ("k8s.io.api.core.v1.PodSpec", "imagePullSecrets", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.PodSpec", "initContainers", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.PodSpec", "nodeSelector", FieldMeta { map_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodSpec", "readinessGates", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodSpec", "resourceClaims", FieldMeta { patch_strategy: "merge,retainKeys", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.PodSpec", "schedulingGates", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.PodSpec", "tolerations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodSpec", "topologySpreadConstraints", FieldMeta { patch_strategy: "merge", merge_key: "topologyKey", list_type: "map", list_map_keys: &["topologyKey", "whenUnsatisfiable"], ..M }),
    ("k8s.io.api.core.v1.PodSpec", "volumes", FieldMeta { patch_strategy: "merge,retainKeys", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.PodStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.core.v1.PodStatus", "containerStatuses", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodStatus", "ephemeralContainerStatuses", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodStatus", "hostIPs", FieldMeta { patch_strategy: "merge", merge_key: "ip", list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodStatus", "initContainerStatuses", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.PodStatus", "podIPs", FieldMeta { patch_strategy: "merge", merge_key: "ip", list_type: "map", list_map_keys: &["ip"], ..M }),
    ("k8s.io.api.core.v1.PodStatus", "resourceClaimStatuses", FieldMeta { patch_strategy: "merge,retainKeys", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.ProjectedVolumeSource", "sources", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.RBDPersistentVolumeSource", "monitors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.RBDVolumeSource", "monitors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ReplicationControllerSpec", "selector", FieldMeta { map_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ReplicationControllerStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.core.v1.ResourceQuotaSpec", "scopes", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ResourceRequirements", "claims", FieldMeta { list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.ResourceStatus", "resources", FieldMeta { list_type: "map", list_map_keys: &["resourceID"], ..M }),
    ("k8s.io.api.core.v1.ScopeSelector", "matchExpressions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ScopedResourceSelectorRequirement", "values", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.SecretProjection", "items", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.SecretVolumeSource", "items", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ServiceAccount", "imagePullSecrets", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ServiceAccount", "secrets", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.core.v1.ServiceSpec", "clusterIPs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ServiceSpec", "externalIPs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ServiceSpec", "ipFamilies", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ServiceSpec", "loadBalancerSourceRanges", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ServiceSpec", "ports", FieldMeta { patch_strategy: "merge", merge_key: "port", list_type: "map", list_map_keys: &["port", "protocol"], ..M }),
    ("k8s.io.api.core.v1.ServiceSpec", "selector", FieldMeta { map_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.ServiceStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.core.v1.TopologySelectorLabelRequirement", "values", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.TopologySelectorTerm", "matchLabelExpressions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.core.v1.TopologySpreadConstraint", "matchLabelKeys", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.discovery.v1.Endpoint", "addresses", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.discovery.v1.EndpointHints", "forNodes", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.discovery.v1.EndpointHints", "forZones", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.discovery.v1.EndpointSlice", "endpoints", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.discovery.v1.EndpointSlice", "ports", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.flowcontrol.v1.FlowSchemaSpec", "rules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.flowcontrol.v1.FlowSchemaStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.flowcontrol.v1.NonResourcePolicyRule", "nonResourceURLs", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.flowcontrol.v1.NonResourcePolicyRule", "verbs", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.flowcontrol.v1.PolicyRulesWithSubjects", "nonResourceRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.flowcontrol.v1.PolicyRulesWithSubjects", "resourceRules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.flowcontrol.v1.PolicyRulesWithSubjects", "subjects", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.flowcontrol.v1.PriorityLevelConfigurationStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.flowcontrol.v1.ResourcePolicyRule", "apiGroups", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.flowcontrol.v1.ResourcePolicyRule", "namespaces", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.flowcontrol.v1.ResourcePolicyRule", "resources", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.flowcontrol.v1.ResourcePolicyRule", "verbs", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.networking.v1.HTTPIngressRuleValue", "paths", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.IPBlock", "except", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.IngressLoadBalancerIngress", "ports", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.IngressLoadBalancerStatus", "ingress", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.IngressSpec", "rules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.IngressSpec", "tls", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.IngressTLS", "hosts", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.NetworkPolicyEgressRule", "ports", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.NetworkPolicyEgressRule", "to", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.NetworkPolicyIngressRule", "from", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.NetworkPolicyIngressRule", "ports", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.NetworkPolicySpec", "egress", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.NetworkPolicySpec", "ingress", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.NetworkPolicySpec", "policyTypes", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.ServiceCIDRSpec", "cidrs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1.ServiceCIDRStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.networking.v1beta1.ServiceCIDRSpec", "cidrs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.networking.v1beta1.ServiceCIDRStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.node.v1.Scheduling", "nodeSelector", FieldMeta { map_type: "atomic", ..M }),
    ("k8s.io.api.node.v1.Scheduling", "tolerations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.policy.v1.PodDisruptionBudgetSpec", "selector", FieldMeta { patch_strategy: "replace", ..M }),
    ("k8s.io.api.policy.v1.PodDisruptionBudgetStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.rbac.v1.AggregationRule", "clusterRoleSelectors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.rbac.v1.ClusterRole", "rules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.rbac.v1.ClusterRoleBinding", "subjects", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.rbac.v1.PolicyRule", "apiGroups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.rbac.v1.PolicyRule", "nonResourceURLs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.rbac.v1.PolicyRule", "resourceNames", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.rbac.v1.PolicyRule", "resources", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.rbac.v1.PolicyRule", "verbs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.rbac.v1.Role", "rules", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.rbac.v1.RoleBinding", "subjects", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.AllocatedDeviceStatus", "conditions", FieldMeta { list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.resource.v1.CapacityRequestPolicy", "validValues", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.Device", "bindingConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.Device", "bindingFailureConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.Device", "consumesCounters", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.Device", "taints", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceAllocationConfiguration", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceAllocationResult", "config", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceAllocationResult", "results", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceClaim", "config", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceClaim", "constraints", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceClaim", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceClaimConfiguration", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceClassSpec", "config", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceClassSpec", "selectors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceConstraint", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceRequest", "firstAvailable", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceRequestAllocationResult", "bindingConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceRequestAllocationResult", "bindingFailureConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceRequestAllocationResult", "tolerations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceSubRequest", "selectors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.DeviceSubRequest", "tolerations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.ExactDeviceRequest", "selectors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.ExactDeviceRequest", "tolerations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.NetworkDeviceData", "ips", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.ResourceClaimStatus", "devices", FieldMeta { list_type: "map", list_map_keys: &["driver", "device", "pool", "shareID"], ..M }),
    ("k8s.io.api.resource.v1.ResourceClaimStatus", "reservedFor", FieldMeta { patch_strategy: "merge", merge_key: "uid", list_type: "map", list_map_keys: &["uid"], ..M }),
    ("k8s.io.api.resource.v1.ResourceSliceSpec", "devices", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1.ResourceSliceSpec", "sharedCounters", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1alpha3.DeviceTaintRuleStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.resource.v1beta1.AllocatedDeviceStatus", "conditions", FieldMeta { list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.resource.v1beta1.BasicDevice", "bindingConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.BasicDevice", "bindingFailureConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.BasicDevice", "consumesCounters", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.BasicDevice", "taints", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.CapacityRequestPolicy", "validValues", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceAllocationConfiguration", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceAllocationResult", "config", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceAllocationResult", "results", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceClaim", "config", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceClaim", "constraints", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceClaim", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceClaimConfiguration", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceClassSpec", "config", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceClassSpec", "selectors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceConstraint", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceRequest", "firstAvailable", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceRequest", "selectors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceRequest", "tolerations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceRequestAllocationResult", "bindingConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceRequestAllocationResult", "bindingFailureConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceRequestAllocationResult", "tolerations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceSubRequest", "selectors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.DeviceSubRequest", "tolerations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.NetworkDeviceData", "ips", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.ResourceClaimStatus", "devices", FieldMeta { list_type: "map", list_map_keys: &["driver", "device", "pool", "shareID"], ..M }),
    ("k8s.io.api.resource.v1beta1.ResourceClaimStatus", "reservedFor", FieldMeta { patch_strategy: "merge", merge_key: "uid", list_type: "map", list_map_keys: &["uid"], ..M }),
    ("k8s.io.api.resource.v1beta1.ResourceSliceSpec", "devices", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta1.ResourceSliceSpec", "sharedCounters", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.AllocatedDeviceStatus", "conditions", FieldMeta { list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.api.resource.v1beta2.CapacityRequestPolicy", "validValues", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.Device", "bindingConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.Device", "bindingFailureConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.Device", "consumesCounters", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.Device", "taints", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceAllocationConfiguration", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceAllocationResult", "config", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceAllocationResult", "results", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceClaim", "config", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceClaim", "constraints", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceClaim", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceClaimConfiguration", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceClassSpec", "config", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceClassSpec", "selectors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceConstraint", "requests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceRequest", "firstAvailable", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceRequestAllocationResult", "bindingConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceRequestAllocationResult", "bindingFailureConditions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceRequestAllocationResult", "tolerations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceSubRequest", "selectors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.DeviceSubRequest", "tolerations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.ExactDeviceRequest", "selectors", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.ExactDeviceRequest", "tolerations", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.NetworkDeviceData", "ips", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.ResourceClaimStatus", "devices", FieldMeta { list_type: "map", list_map_keys: &["driver", "device", "pool", "shareID"], ..M }),
    ("k8s.io.api.resource.v1beta2.ResourceClaimStatus", "reservedFor", FieldMeta { patch_strategy: "merge", merge_key: "uid", list_type: "map", list_map_keys: &["uid"], ..M }),
    ("k8s.io.api.resource.v1beta2.ResourceSliceSpec", "devices", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.resource.v1beta2.ResourceSliceSpec", "sharedCounters", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.scheduling.v1alpha1.WorkloadSpec", "podGroups", FieldMeta { list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.storage.v1.CSIDriverSpec", "tokenRequests", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.storage.v1.CSIDriverSpec", "volumeLifecycleModes", FieldMeta { list_type: "set", ..M }),
    ("k8s.io.api.storage.v1.CSINodeDriver", "topologyKeys", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.storage.v1.CSINodeSpec", "drivers", FieldMeta { patch_strategy: "merge", merge_key: "name", list_type: "map", list_map_keys: &["name"], ..M }),
    ("k8s.io.api.storage.v1.StorageClass", "allowedTopologies", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.storage.v1.StorageClass", "mountOptions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.api.storagemigration.v1beta1.StorageVersionMigrationStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames", "categories", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames", "shortNames", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec", "versions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus", "conditions", FieldMeta { list_type: "map", list_map_keys: &["type"], ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus", "storedVersions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion", "additionalPrinterColumns", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion", "selectableFields", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "allOf", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "anyOf", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "enum", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "oneOf", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "required", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "x-kubernetes-list-map-keys", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "x-kubernetes-validations", FieldMeta { patch_strategy: "merge", merge_key: "rule", list_type: "map", list_map_keys: &["rule"], ..M }),
    ("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.WebhookConversion", "conversionReviewVersions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.APIGroup", "serverAddressByClientCIDRs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.APIGroup", "versions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.APIGroupList", "groups", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.APIResource", "categories", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.APIResource", "shortNames", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.APIResourceList", "resources", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.APIVersions", "serverAddressByClientCIDRs", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.APIVersions", "versions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions", "dryRun", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.FieldSelectorRequirement", "values", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector", "matchExpressions", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", "values", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", FieldMeta { patch_strategy: "merge", list_type: "set", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", "managedFields", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", FieldMeta { patch_strategy: "merge", merge_key: "uid", list_type: "map", list_map_keys: &["uid"], ..M }),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.StatusDetails", "causes", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.kube_aggregator.pkg.apis.apiregistration.v1.APIServiceSpec", "caBundle", FieldMeta { list_type: "atomic", ..M }),
    ("k8s.io.kube_aggregator.pkg.apis.apiregistration.v1.APIServiceStatus", "conditions", FieldMeta { patch_strategy: "merge", merge_key: "type", list_type: "map", list_map_keys: &["type"], ..M }),
];

/// Built-in types marked `+structType=atomic` (or granular) as a whole: (protobuf message, type).
#[rustfmt::skip]
pub static STRUCTS: &[(&str, &str)] = &[
    ("k8s.io.api.admissionregistration.v1.MatchResources", "atomic"),
    ("k8s.io.api.admissionregistration.v1.NamedRuleWithOperations", "atomic"),
    ("k8s.io.api.admissionregistration.v1.ParamKind", "atomic"),
    ("k8s.io.api.admissionregistration.v1.ParamRef", "atomic"),
    ("k8s.io.api.admissionregistration.v1.Variable", "atomic"),
    ("k8s.io.api.admissionregistration.v1alpha1.MatchResources", "atomic"),
    ("k8s.io.api.admissionregistration.v1alpha1.NamedRuleWithOperations", "atomic"),
    ("k8s.io.api.admissionregistration.v1alpha1.ParamKind", "atomic"),
    ("k8s.io.api.admissionregistration.v1alpha1.ParamRef", "atomic"),
    ("k8s.io.api.admissionregistration.v1beta1.MatchResources", "atomic"),
    ("k8s.io.api.admissionregistration.v1beta1.NamedRuleWithOperations", "atomic"),
    ("k8s.io.api.admissionregistration.v1beta1.ParamKind", "atomic"),
    ("k8s.io.api.admissionregistration.v1beta1.ParamRef", "atomic"),
    ("k8s.io.api.admissionregistration.v1beta1.Variable", "atomic"),
    ("k8s.io.api.autoscaling.v1.CrossVersionObjectReference", "atomic"),
    ("k8s.io.api.core.v1.ConfigMapKeySelector", "atomic"),
    ("k8s.io.api.core.v1.EndpointAddress", "atomic"),
    ("k8s.io.api.core.v1.EndpointPort", "atomic"),
    ("k8s.io.api.core.v1.FileKeySelector", "atomic"),
    ("k8s.io.api.core.v1.LocalObjectReference", "atomic"),
    ("k8s.io.api.core.v1.NodeSelector", "atomic"),
    ("k8s.io.api.core.v1.NodeSelectorTerm", "atomic"),
    ("k8s.io.api.core.v1.ObjectFieldSelector", "atomic"),
    ("k8s.io.api.core.v1.ObjectReference", "atomic"),
    ("k8s.io.api.core.v1.ResourceFieldSelector", "atomic"),
    ("k8s.io.api.core.v1.ScopeSelector", "atomic"),
    ("k8s.io.api.core.v1.SecretKeySelector", "atomic"),
    ("k8s.io.api.core.v1.SecretReference", "atomic"),
    ("k8s.io.api.core.v1.TopologySelectorTerm", "atomic"),
    ("k8s.io.api.core.v1.TypedLocalObjectReference", "atomic"),
    ("k8s.io.api.discovery.v1.EndpointPort", "atomic"),
    ("k8s.io.api.networking.v1.ServiceBackendPort", "atomic"),
    ("k8s.io.api.rbac.v1.RoleRef", "atomic"),
    ("k8s.io.api.rbac.v1.Subject", "atomic"),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector", "atomic"),
    ("k8s.io.apimachinery.pkg.apis.meta.v1.OwnerReference", "atomic"),
];

fn lookup(message: &str, field: &str) -> Option<&'static FieldMeta> {
    FIELDS
        .binary_search_by(|(m, f, _)| (*m, *f).cmp(&(message, field)))
        .ok()
        .map(|i| &FIELDS[i].2)
}

/// The `+structType` of a built-in message as a whole (`""` when it has none).
pub fn struct_type(message: &str) -> &'static str {
    STRUCTS
        .binary_search_by(|(m, _)| (*m).cmp(message))
        .map(|i| STRUCTS[i].1)
        .unwrap_or("")
}

/// The list/patch metadata of `field` (its JSON name) in `message` (a protobuf full name, e.g.
/// `k8s.io.api.core.v1.PodSpec`); `None` when the field has none (or does not exist).
pub fn field_meta(message: &str, field: &str) -> Option<FieldMeta> {
    let own = lookup(message, field).copied();
    if own.is_some_and(|m| !m.struct_type.is_empty()) {
        return own;
    }
    let inherited = field_message(message, field)
        .map(|m| struct_type(&m))
        .filter(|s| !s.is_empty());
    match (own, inherited) {
        (own, Some(st)) => Some(FieldMeta {
            struct_type: st,
            ..own.unwrap_or_default()
        }),
        (own, None) => own,
    }
}

/// The JSON name of a protobuf field. Upstream's `generated.proto` files name fields after their
/// JSON names, except where JSON uses characters protobuf cannot (`$ref`, `x-kubernetes-*`).
fn json_name(f: Field) -> String {
    let name = f.name();
    if let Some(rest) = name.strip_prefix("xKubernetes") {
        let mut out = String::from("x-kubernetes");
        for c in rest.chars() {
            if c.is_ascii_uppercase() {
                out.push('-');
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        return out;
    }
    if (name == "ref" || name == "schema")
        && f.parent().name() == "JSONSchemaProps"
        && f.parent().package().contains("apiextensions")
    {
        return format!("${name}");
    }
    name.to_string()
}

fn message(name: &str) -> Option<Msg> {
    Msg::by_name(name)
}

/// Go structs embedded with `json:",inline"`: their fields appear in the JSON of the embedding
/// type, while protobuf keeps them in a field of their own. (protobuf message, protobuf field).
#[rustfmt::skip]
static INLINE: &[(&str, &str)] = &[
    ("k8s.io.api.admissionregistration.v1.NamedRuleWithOperations", "ruleWithOperations"),
    ("k8s.io.api.admissionregistration.v1.RuleWithOperations", "rule"),
    ("k8s.io.api.admissionregistration.v1alpha1.NamedRuleWithOperations", "ruleWithOperations"),
    ("k8s.io.api.admissionregistration.v1beta1.NamedRuleWithOperations", "ruleWithOperations"),
    ("k8s.io.api.core.v1.ConfigMapEnvSource", "localObjectReference"),
    ("k8s.io.api.core.v1.ConfigMapKeySelector", "localObjectReference"),
    ("k8s.io.api.core.v1.ConfigMapProjection", "localObjectReference"),
    ("k8s.io.api.core.v1.ConfigMapVolumeSource", "localObjectReference"),
    ("k8s.io.api.core.v1.EphemeralContainer", "ephemeralContainerCommon"),
    ("k8s.io.api.core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
    ("k8s.io.api.core.v1.Probe", "handler"),
    ("k8s.io.api.core.v1.SecretEnvSource", "localObjectReference"),
    ("k8s.io.api.core.v1.SecretKeySelector", "localObjectReference"),
    ("k8s.io.api.core.v1.SecretProjection", "localObjectReference"),
    ("k8s.io.api.core.v1.Volume", "volumeSource"),
    ("k8s.io.api.networking.v1.IngressRule", "ingressRuleValue"),
    ("k8s.io.api.networking.v1beta1.IngressRule", "ingressRuleValue"),
    ("k8s.io.api.resource.v1.DeviceAllocationConfiguration", "deviceConfiguration"),
    ("k8s.io.api.resource.v1.DeviceClaimConfiguration", "deviceConfiguration"),
    ("k8s.io.api.resource.v1.DeviceClassConfiguration", "deviceConfiguration"),
    ("k8s.io.api.resource.v1beta1.DeviceAllocationConfiguration", "deviceConfiguration"),
    ("k8s.io.api.resource.v1beta1.DeviceClaimConfiguration", "deviceConfiguration"),
    ("k8s.io.api.resource.v1beta1.DeviceClassConfiguration", "deviceConfiguration"),
    ("k8s.io.api.resource.v1beta2.DeviceAllocationConfiguration", "deviceConfiguration"),
    ("k8s.io.api.resource.v1beta2.DeviceClaimConfiguration", "deviceConfiguration"),
    ("k8s.io.api.resource.v1beta2.DeviceClassConfiguration", "deviceConfiguration"),
];

fn is_inline(f: &Field) -> bool {
    let parent = f.parent();
    INLINE
        .iter()
        .any(|(m, n)| *m == parent.full_name() && *n == f.name())
}

/// The protobuf field behind a JSON field, found as Go's encoding/json would: an exact name
/// first, then a case-insensitive one, then inside inlined structs.
fn find_field(desc: Msg, field: &str, depth: usize) -> Option<Field> {
    let direct = |f: &Field| !is_inline(f);
    if let Some(f) = desc.fields().find(|f| direct(f) && json_name(*f) == field) {
        return Some(f);
    }
    if let Some(f) = desc
        .fields()
        .find(|f| direct(f) && json_name(*f).eq_ignore_ascii_case(field))
    {
        return Some(f);
    }
    if depth > 4 {
        return None;
    }
    desc.fields()
        .filter(is_inline)
        .find_map(|f| match f.kind() {
            Kind::Message(m) => find_field(m, field, depth + 1),
            _ => None,
        })
}

fn field_descriptor(message_name: &str, field: &str) -> Option<Field> {
    find_field(message(message_name)?, field, 0)
}

/// The protobuf message held by `field` of `message`: the field's own type, or the type of its
/// list items or map values. `None` for scalar fields, unknown fields and unknown messages.
pub fn field_message(message: &str, field: &str) -> Option<String> {
    let f = field_descriptor(message, field)?;
    // For a map, the type of its values.
    f.kind().as_message().map(|m| m.full_name().to_string())
}

/// What a field holds: the message of its value (or of its list items / map values; `None` for
/// scalars), and whether it is a map or a list. `None` when the field does not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldShape {
    pub message: Option<String>,
    pub is_map: bool,
    pub is_list: bool,
}

/// The shape of `field` (its JSON name) in `message`, for walkers that need more than
/// [`field_message`].
pub fn field_shape(message: &str, field: &str) -> Option<FieldShape> {
    let f = field_descriptor(message, field)?;
    Some(FieldShape {
        message: field_message(message, field),
        is_map: f.is_map(),
        is_list: f.is_list(),
    })
}

/// The protobuf message of a built-in kind, e.g. (`apps/v1`, `Deployment`) ->
/// `k8s.io.api.apps.v1.Deployment`. `None` for kinds of groups k3rs does not build in (custom
/// resources), and when this build has no protobuf schemas.
pub fn message_for_kind(api_version: &str, kind: &str) -> Option<String> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let builtin_group = crate::registry::builtin().iter().any(|r| r.group == group)
        || crate::registry::NOT_SERVED
            .iter()
            .any(|(g, _)| g.split('/').next() == Some(group));
    if !builtin_group || kind.is_empty() {
        return None;
    }
    let name = format!("{}.{kind}", protobuf::package(api_version));
    message(&name).map(|m| m.full_name().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;

    #[test]
    fn tables_are_sorted_and_unique() {
        for w in FIELDS.windows(2) {
            assert!(
                (w[0].0, w[0].1) < (w[1].0, w[1].1),
                "FIELDS out of order at {}.{}",
                w[1].0,
                w[1].1
            );
        }
        for w in STRUCTS.windows(2) {
            assert!(w[0].0 < w[1].0, "STRUCTS out of order at {}", w[1].0);
        }
        for (m, f, meta) in FIELDS {
            assert!(
                matches!(
                    meta.patch_strategy,
                    "" | "merge" | "replace" | "retainKeys" | "merge,retainKeys"
                ),
                "{m}.{f}"
            );
            assert!(
                matches!(meta.list_type, "" | "atomic" | "set" | "map"),
                "{m}.{f}"
            );
            assert_eq!(
                meta.list_type == "map",
                !meta.list_map_keys.is_empty(),
                "{m}.{f}"
            );
            assert!(
                matches!(meta.map_type, "" | "atomic" | "granular"),
                "{m}.{f}"
            );
            assert!(
                matches!(meta.struct_type, "" | "atomic" | "granular"),
                "{m}.{f}"
            );
        }
    }

    #[test]
    fn lookups() {
        let c = field_meta("k8s.io.api.core.v1.PodSpec", "containers").unwrap();
        assert_eq!((c.patch_strategy, c.merge_key), ("merge", "name"));
        assert_eq!((c.list_type, c.list_map_keys), ("map", &["name"][..]));
        let p = field_meta("k8s.io.api.core.v1.Container", "ports").unwrap();
        assert_eq!(p.merge_key, "containerPort");
        assert_eq!(p.list_map_keys, &["containerPort", "protocol"]);
        let f = field_meta(
            "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "finalizers",
        )
        .unwrap();
        assert_eq!((f.patch_strategy, f.list_type), ("merge", "set"));
        assert!(field_meta("k8s.io.api.core.v1.PodSpec", "nodeName").is_none());
        assert!(field_meta("k8s.io.api.core.v1.Nope", "x").is_none());
        let s = field_meta("k8s.io.api.apps.v1.DeploymentSpec", "strategy").unwrap();
        assert!(s.has_strategy("retainKeys") && !s.has_strategy("merge"));
        let v = field_meta("k8s.io.api.core.v1.PodSpec", "volumes").unwrap();
        assert!(v.has_strategy("retainKeys") && v.has_strategy("merge"));
        if !protobuf::available() {
            eprintln!("no protobuf schemas in this build: type graph not checked");
            return;
        }
        // Inherited from the field's type: LabelSelector is +structType=atomic.
        let sel = field_meta("k8s.io.api.apps.v1.DeploymentSpec", "selector").unwrap();
        assert_eq!(sel.struct_type, "atomic");
        // A field's own marker wins over its type's.
        let cr = field_meta("k8s.io.api.core.v1.PersistentVolumeSpec", "claimRef").unwrap();
        assert_eq!(cr.struct_type, "granular");
        assert_eq!(
            message_for_kind("apps/v1", "Deployment").as_deref(),
            Some("k8s.io.api.apps.v1.Deployment")
        );
        assert_eq!(
            message_for_kind("v1", "Pod").as_deref(),
            Some("k8s.io.api.core.v1.Pod")
        );
        assert_eq!(
            message_for_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition").as_deref(),
            Some(
                "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
            )
        );
        assert_eq!(
            message_for_kind("rbac.authorization.k8s.io/v1", "ClusterRole").as_deref(),
            Some("k8s.io.api.rbac.v1.ClusterRole")
        );
        // Custom resources, even in a group whose first label is a built-in one.
        assert_eq!(message_for_kind("apps.example.com/v1", "Deployment"), None);
        assert_eq!(message_for_kind("stable.example.com/v1", "CronTab"), None);
        assert_eq!(message_for_kind("apps/v1", "NoSuchKind"), None);
        assert_eq!(
            field_message("k8s.io.api.apps.v1.Deployment", "spec").as_deref(),
            Some("k8s.io.api.apps.v1.DeploymentSpec")
        );
        assert_eq!(
            field_message("k8s.io.api.core.v1.PodSpec", "containers").as_deref(),
            Some("k8s.io.api.core.v1.Container")
        );
        assert_eq!(
            field_message("k8s.io.api.core.v1.ResourceRequirements", "limits").as_deref(),
            Some("k8s.io.apimachinery.pkg.api.resource.Quantity")
        );
        assert_eq!(
            field_message("k8s.io.api.core.v1.PodSpec", "nodeName"),
            None
        );
        assert_eq!(field_message("k8s.io.api.core.v1.PodSpec", "nope"), None);
        let props = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
        assert_eq!(field_message(props, "properties").as_deref(), Some(props));
        assert!(field_message(props, "x-kubernetes-validations").is_some());
        assert!(field_descriptor(props, "$ref").is_some());
    }

    fn openapi_dir() -> Option<PathBuf> {
        let cache = std::env::var_os("GOMODCACHE")
            .map(PathBuf::from)
            .or_else(|| {
                let out = std::process::Command::new("go")
                    .args(["env", "GOMODCACHE"])
                    .output()
                    .ok()?;
                let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
                (!s.is_empty()).then(|| PathBuf::from(s))
            })?;
        let dir = cache.join("k8s.io/kubernetes@v1.35.4/api/openapi-spec");
        dir.is_dir().then_some(dir)
    }

    /// `io.k8s.api.core.v1.PodSpec` -> `k8s.io.api.core.v1.PodSpec`.
    fn proto_name(definition: &str) -> Option<String> {
        let rest = definition.strip_prefix("io.k8s.")?;
        Some(format!("k8s.io.{rest}").replace('-', "_"))
    }

    const EXTS: &[&str] = &[
        "x-kubernetes-patch-strategy",
        "x-kubernetes-patch-merge-key",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
    ];

    /// Every schema definition in upstream's OpenAPI v3 documents and v2 swagger.json.
    fn definitions(dir: &std::path::Path) -> BTreeMap<String, Value> {
        let mut defs = BTreeMap::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("v3"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            let doc: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
            if let Some(s) = doc["components"]["schemas"].as_object() {
                for (k, v) in s {
                    defs.insert(k.clone(), v.clone());
                }
            }
        }
        let v2: Value =
            serde_json::from_slice(&std::fs::read(dir.join("swagger.json")).unwrap()).unwrap();
        for (k, v) in v2["definitions"].as_object().unwrap() {
            // v2 and v3 must agree on every extension.
            if let Some(prev) = defs.get(k) {
                for (p, s) in v["properties"].as_object().into_iter().flatten() {
                    for e in EXTS {
                        assert_eq!(
                            prev["properties"][p][e], s[e],
                            "v2 and v3 disagree on {k}.{p} {e}"
                        );
                    }
                }
            }
            defs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        defs
    }

    /// Our table against upstream's OpenAPI documents, in both directions.
    #[test]
    fn table_matches_upstream_openapi() {
        let Some(dir) = openapi_dir() else {
            eprintln!("NOTE: k8s.io/kubernetes@v1.35.4 not in the Go module cache; oracle skipped");
            assert!(
                std::env::var_os("K3RS_STRICT_TESTS").is_none(),
                "scripts/test provides this; it must not be skipped"
            );
            return;
        };
        let defs = definitions(&dir);
        let mut want_fields = BTreeSet::new();
        let mut want_structs = BTreeSet::new();
        for (name, d) in &defs {
            let Some(msg) = proto_name(name) else {
                continue;
            };
            if let Some(t) = d["x-kubernetes-map-type"].as_str() {
                want_structs.insert((msg.clone(), t.to_string()));
            }
            for (p, s) in d["properties"].as_object().into_iter().flatten() {
                if !EXTS.iter().any(|e| s.get(*e).is_some()) {
                    continue;
                }
                let str_of = |e: &str| s[e].as_str().unwrap_or("").to_string();
                let keys: Vec<String> = s["x-kubernetes-list-map-keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect();
                let is_map = s.get("additionalProperties").is_some();
                let mt = str_of("x-kubernetes-map-type");
                want_fields.insert((
                    msg.clone(),
                    p.clone(),
                    str_of("x-kubernetes-patch-strategy"),
                    str_of("x-kubernetes-patch-merge-key"),
                    str_of("x-kubernetes-list-type"),
                    keys,
                    if is_map { mt.clone() } else { String::new() },
                    if is_map { String::new() } else { mt },
                ));
            }
        }
        let have_fields: BTreeSet<_> = FIELDS
            .iter()
            .map(|(m, f, x)| {
                (
                    m.to_string(),
                    f.to_string(),
                    x.patch_strategy.to_string(),
                    x.merge_key.to_string(),
                    x.list_type.to_string(),
                    x.list_map_keys
                        .iter()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>(),
                    x.map_type.to_string(),
                    x.struct_type.to_string(),
                )
            })
            .collect();
        let have_structs: BTreeSet<_> = STRUCTS
            .iter()
            .map(|(m, t)| (m.to_string(), t.to_string()))
            .collect();
        let missing: Vec<_> = want_fields.difference(&have_fields).collect();
        let extra: Vec<_> = have_fields.difference(&want_fields).collect();
        assert!(
            missing.is_empty(),
            "upstream has, FIELDS lacks: {missing:#?}"
        );
        assert!(extra.is_empty(), "FIELDS has, upstream lacks: {extra:#?}");
        let missing: Vec<_> = want_structs.difference(&have_structs).collect();
        let extra: Vec<_> = have_structs.difference(&want_structs).collect();
        assert!(
            missing.is_empty(),
            "upstream has, STRUCTS lacks: {missing:#?}"
        );
        assert!(extra.is_empty(), "STRUCTS has, upstream lacks: {extra:#?}");
        assert!(
            FIELDS.len() > 300,
            "suspiciously few fields: {}",
            FIELDS.len()
        );
    }

    /// The reference a property makes to another definition (directly, via allOf, via array
    /// items or via map values).
    fn reference(s: &Value) -> Option<String> {
        let r = s["$ref"]
            .as_str()
            .or_else(|| s["allOf"][0]["$ref"].as_str())
            .or_else(|| s["items"]["$ref"].as_str())
            .or_else(|| s["items"]["allOf"][0]["$ref"].as_str())
            .or_else(|| s["additionalProperties"]["$ref"].as_str())
            .or_else(|| s["additionalProperties"]["allOf"][0]["$ref"].as_str())?;
        Some(r.rsplit('/').next()?.to_string())
    }

    /// The type graph from the protobuf descriptors agrees with upstream's OpenAPI: every property
    /// of every built-in definition is found, and references lead to the same types.
    #[test]
    fn type_graph_matches_upstream_openapi() {
        let Some(dir) = openapi_dir() else {
            eprintln!("NOTE: k8s.io/kubernetes@v1.35.4 not in the Go module cache; oracle skipped");
            assert!(
                std::env::var_os("K3RS_STRICT_TESTS").is_none(),
                "scripts/test provides this; it must not be skipped"
            );
            return;
        };
        if !protobuf::available() {
            eprintln!("NOTE: no protobuf schemas in this build; type graph not checked");
            assert!(
                std::env::var_os("K3RS_STRICT_TESTS").is_none(),
                "scripts/test provides this; it must not be skipped"
            );
            return;
        }
        let defs = definitions(&dir);
        let mut problems = Vec::new();
        let mut checked = 0;
        for (name, d) in &defs {
            let Some(msg) = proto_name(name) else {
                continue;
            };
            if message(&msg).is_none() {
                continue;
            }
            for (p, s) in d["properties"].as_object().into_iter().flatten() {
                // TypeMeta is not part of the protobuf message (it travels in the envelope).
                if p == "apiVersion" || p == "kind" {
                    continue;
                }
                checked += 1;
                if field_descriptor(&msg, p).is_none() {
                    problems.push(format!("{msg}: no field {p}"));
                    continue;
                }
                let Some(target) = reference(s).and_then(|r| proto_name(&r)) else {
                    continue;
                };
                let got = field_message(&msg, p);
                if got.as_deref() != Some(target.as_str()) {
                    problems.push(format!("{msg}.{p}: openapi {target}, protobuf {got:?}"));
                }
            }
        }
        for (m, f) in INLINE {
            let Some(desc) = message(m) else {
                problems.push(format!("INLINE: no message {m}"));
                continue;
            };
            if desc.field_by_name(f).is_none() {
                problems.push(format!("INLINE: {m} has no field {f}"));
            }
            let def = defs
                .iter()
                .find(|(n, _)| proto_name(n).as_deref() == Some(*m));
            if let Some((_, d)) = def {
                if d["properties"].get(*f).is_some() {
                    problems.push(format!("INLINE: {m}.{f} is a JSON property, not inlined"));
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(checked > 2000, "only {checked} properties checked");
    }
}
