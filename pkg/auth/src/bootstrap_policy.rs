//! The default RBAC policy every cluster starts with: upstream's bootstrap ClusterRoles and
//! ClusterRoleBindings (k8s.io/kubernetes `plugin/pkg/auth/authorizer/rbac/bootstrappolicy`, at
//! v1.35 with default feature gates), plus the controller roles of the controllers k3rs runs.
//! Every object carries the label `kubernetes.io/bootstrapping=rbac-defaults` and the annotation
//! `rbac.authorization.kubernetes.io/autoupdate=true`; the API server creates missing ones at
//! start and adds missing rules and subjects to existing ones that keep the annotation
//! ([`reconcile_role`], [`reconcile_binding`]).
//!
//! k3rs runs its controllers under one identity, the user `system:kube-controller-manager`
//! (upstream's kube-controller-manager without `--use-service-account-credentials`). Upstream binds
//! each `system:controller:<name>` role to a per-controller ServiceAccount; those bindings are kept
//! as upstream has them, and [`K3RS_CONTROLLER_BINDINGS`] additionally binds the roles of the
//! controllers k3rs runs to that user.

use serde_json::{json, Value};

use crate::rbac::{covers, rules_of, PolicyRule};

pub const BOOTSTRAP_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];
const READ_UPDATE: &[&str] = &["get", "list", "watch", "update", "patch"];

const CORE: &str = "";
const APPS: &str = "apps";
const AUTHN: &str = "authentication.k8s.io";
const AUTHZ: &str = "authorization.k8s.io";
const AUTOSCALING: &str = "autoscaling";
const BATCH: &str = "batch";
const CERTS: &str = "certificates.k8s.io";
const COORDINATION: &str = "coordination.k8s.io";
const DISCOVERY: &str = "discovery.k8s.io";
const EXTENSIONS: &str = "extensions";
const POLICY: &str = "policy";
const RESOURCE: &str = "resource.k8s.io";
const STORAGE: &str = "storage.k8s.io";
const NETWORKING: &str = "networking.k8s.io";
const EVENTS: &str = "events.k8s.io";

fn r(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule::resource(verbs, groups, resources)
}

fn urls(verbs: &[&str], u: &[&str]) -> PolicyRule {
    PolicyRule::urls(verbs, u)
}

fn events_rule() -> PolicyRule {
    r(&["create", "update", "patch"], &[CORE, EVENTS], &["events"])
}

/// The controllers k3rs runs, by upstream controller name (their roles are `system:controller:<name>`).
pub const K3RS_CONTROLLERS: &[&str] = &[
    "clusterrole-aggregation-controller",
    "deployment-controller",
    "generic-garbage-collector",
    "namespace-controller",
    "pv-protection-controller",
    "pvc-protection-controller",
    "replicaset-controller",
    "replication-controller",
    "resourcequota-controller",
    "root-ca-cert-publisher",
    "service-account-controller",
    "volumeattributesclass-protection-controller",
];

/// Names of the k3rs-only bindings of the controller roles to `system:kube-controller-manager`.
pub const K3RS_CONTROLLER_BINDINGS: &str = "k3rs:kube-controller-manager:";

/// Rules of `system:aggregate-to-view`.
fn view_rules() -> Vec<PolicyRule> {
    vec![
        r(
            READ,
            &[CORE],
            &[
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "configmaps",
            ],
        ),
        r(
            READ,
            &[CORE],
            &[
                "limitranges",
                "resourcequotas",
                "bindings",
                "pods/status",
                "resourcequotas/status",
                "namespaces/status",
                "replicationcontrollers/status",
                "pods/log",
            ],
        ),
        r(READ, &[CORE], &["namespaces"]),
        r(READ, &[CORE, EVENTS], &["events"]),
        r(READ, &[DISCOVERY], &["endpointslices"]),
        r(
            READ,
            &[APPS],
            &[
                "controllerrevisions",
                "statefulsets",
                "statefulsets/status",
                "statefulsets/scale",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/status",
                "deployments/scale",
                "replicasets",
                "replicasets/status",
                "replicasets/scale",
            ],
        ),
        r(
            READ,
            &[AUTOSCALING],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
        ),
        r(
            READ,
            &[BATCH],
            &["jobs", "cronjobs", "cronjobs/status", "jobs/status"],
        ),
        r(
            READ,
            &[EXTENSIONS],
            &[
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "ingresses",
                "ingresses/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        r(
            READ,
            &[POLICY],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
        ),
        r(
            READ,
            &[NETWORKING],
            &["networkpolicies", "ingresses", "ingresses/status"],
        ),
        r(
            READ,
            &[RESOURCE],
            &[
                "resourceclaims",
                "resourceclaims/status",
                "resourceclaimtemplates",
            ],
        ),
    ]
}

/// Rules of `system:aggregate-to-edit`.
fn edit_rules() -> Vec<PolicyRule> {
    vec![
        r(
            READ,
            &[CORE],
            &[
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
                "secrets",
                "services/proxy",
            ],
        ),
        r(&["impersonate"], &[CORE], &["serviceaccounts"]),
        r(
            WRITE,
            &[CORE],
            &[
                "pods",
                "pods/attach",
                "pods/proxy",
                "pods/exec",
                "pods/portforward",
            ],
        ),
        r(&["create"], &[CORE], &["pods/eviction"]),
        r(
            WRITE,
            &[CORE],
            &[
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/proxy",
                "persistentvolumeclaims",
                "configmaps",
                "secrets",
            ],
        ),
        r(&["create"], &[CORE], &["serviceaccounts/token"]),
        r(WRITE, &[CORE, EVENTS], &["events"]),
        r(
            WRITE,
            &[APPS],
            &[
                "statefulsets",
                "statefulsets/scale",
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "replicasets",
                "replicasets/scale",
            ],
        ),
        r(WRITE, &[AUTOSCALING], &["horizontalpodautoscalers"]),
        r(WRITE, &[BATCH], &["jobs", "cronjobs"]),
        r(
            WRITE,
            &[EXTENSIONS],
            &[
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "ingresses",
                "replicasets",
                "replicasets/scale",
                "replicationcontrollers/scale",
                "networkpolicies",
            ],
        ),
        r(WRITE, &[POLICY], &["poddisruptionbudgets"]),
        r(WRITE, &[NETWORKING], &["networkpolicies", "ingresses"]),
        r(READ_WRITE, &[COORDINATION], &["leases"]),
        r(
            WRITE,
            &[RESOURCE],
            &["resourceclaims", "resourceclaimtemplates"],
        ),
    ]
}

/// Rules of `system:node`; the Node authorizer applies them to requests it does not subdivide.
pub fn node_rules() -> Vec<PolicyRule> {
    vec![
        r(&["create"], &[AUTHN], &["tokenreviews"]),
        r(
            &["create"],
            &[AUTHZ],
            &["subjectaccessreviews", "localsubjectaccessreviews"],
        ),
        r(READ, &[CORE], &["services"]),
        r(&["create", "get", "list", "watch"], &[CORE], &["nodes"]),
        r(&["update", "patch"], &[CORE], &["nodes/status"]),
        r(&["update", "patch"], &[CORE], &["nodes"]),
        r(&["create", "update", "patch"], &[CORE, EVENTS], &["events"]),
        r(READ, &[CORE], &["pods"]),
        r(&["create", "delete"], &[CORE], &["pods"]),
        r(&["update", "patch"], &[CORE], &["pods/status"]),
        r(&["create"], &[CORE], &["pods/eviction"]),
        r(
            &["get", "list", "watch"],
            &[CORE],
            &["secrets", "configmaps"],
        ),
        r(
            &["get"],
            &[CORE],
            &["persistentvolumeclaims", "persistentvolumes"],
        ),
        r(&["get"], &[CORE], &["endpoints"]),
        r(
            &["create", "get", "list", "watch"],
            &[CERTS],
            &["certificatesigningrequests"],
        ),
        r(
            &["get", "create", "update", "patch", "delete"],
            &[COORDINATION],
            &["leases"],
        ),
        r(&["get"], &[STORAGE], &["volumeattachments"]),
        r(&["create"], &[CORE], &["serviceaccounts/token"]),
        r(
            &["get", "update", "patch"],
            &[CORE],
            &["persistentvolumeclaims/status"],
        ),
        r(&["get", "watch", "list"], &[STORAGE], &["csidrivers"]),
        r(
            &["get", "create", "update", "patch", "delete"],
            &[STORAGE],
            &["csinodes"],
        ),
        r(
            &["get", "list", "watch"],
            &["node.k8s.io"],
            &["runtimeclasses"],
        ),
        r(&["get"], &[RESOURCE], &["resourceclaims"]),
        r(&["deletecollection"], &[RESOURCE], &["resourceslices"]),
        r(&["get"], &[CORE], &["serviceaccounts"]),
    ]
}

fn kube_scheduler_rules() -> Vec<PolicyRule> {
    vec![
        events_rule(),
        r(&["create"], &[COORDINATION], &["leases"]),
        r(
            &["get", "update", "list", "watch"],
            &[COORDINATION],
            &["leases"],
        )
        .names(&["kube-scheduler"]),
        r(READ_WRITE, &[COORDINATION], &["leasecandidates"]),
        r(READ, &[CORE], &["nodes"]),
        r(&["get", "list", "watch", "delete"], &[CORE], &["pods"]),
        r(&["create"], &[CORE], &["pods/binding", "bindings"]),
        r(&["patch", "update"], &[CORE], &["pods/status"]),
        r(READ, &[CORE], &["services", "replicationcontrollers"]),
        r(READ, &[APPS, EXTENSIONS], &["replicasets"]),
        r(READ, &[APPS], &["statefulsets"]),
        r(READ, &[POLICY], &["poddisruptionbudgets"]),
        r(
            READ,
            &[CORE],
            &["persistentvolumeclaims", "persistentvolumes"],
        ),
        r(&["create"], &[AUTHN], &["tokenreviews"]),
        r(&["create"], &[AUTHZ], &["subjectaccessreviews"]),
        r(READ, &[STORAGE], &["csinodes"]),
        r(
            &["get", "list", "watch"],
            &[STORAGE],
            &["volumeattachments"],
        ),
        r(READ, &[CORE], &["namespaces"]),
        r(READ, &[STORAGE], &["csidrivers"]),
        r(READ, &[STORAGE], &["csistoragecapacities"]),
        r(READ, &[RESOURCE], &["deviceclasses"]),
        r(READ_UPDATE, &[RESOURCE], &["resourceclaims"]),
        r(READ_UPDATE, &[RESOURCE], &["resourceclaims/status"]),
        r(&["update"], &[CORE], &["pods/finalizers"]),
        r(READ, &[RESOURCE], &["resourceslices"]),
    ]
}

/// One bootstrap ClusterRole: name, extra labels, rules, aggregation label (if aggregating).
struct RoleDef {
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
    rules: Vec<PolicyRule>,
    aggregate_from: Option<&'static str>,
}

fn plain(name: &'static str, rules: Vec<PolicyRule>) -> RoleDef {
    RoleDef {
        name,
        labels: &[],
        rules,
        aggregate_from: None,
    }
}

const AGG_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
const AGG_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
const AGG_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

fn role_defs() -> Vec<RoleDef> {
    let approver = |signer: &str| vec![r(&["approve"], &[CERTS], &["signers"]).names(&[signer])];
    vec![
        plain(
            "cluster-admin",
            vec![r(&["*"], &["*"], &["*"]), urls(&["*"], &["*"])],
        ),
        plain(
            "system:discovery",
            vec![urls(
                &["get"],
                &[
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/version",
                    "/version/",
                    "/openapi",
                    "/openapi/*",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                ],
            )],
        ),
        plain(
            "system:monitoring",
            vec![
                urls(
                    &["get"],
                    &[
                        "/metrics",
                        "/metrics/slis",
                        "/livez",
                        "/readyz",
                        "/healthz",
                        "/livez/*",
                        "/readyz/*",
                        "/healthz/*",
                    ],
                ),
                r(&["get"], &[CORE], &["nodes/metrics"]),
            ],
        ),
        plain(
            "system:basic-user",
            vec![
                r(
                    &["create"],
                    &[AUTHZ],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                r(&["create"], &[AUTHN], &["selfsubjectreviews"]),
            ],
        ),
        plain(
            "system:public-info-viewer",
            vec![urls(
                &["get"],
                &["/livez", "/readyz", "/healthz", "/version", "/version/"],
            )],
        ),
        RoleDef {
            name: "admin",
            labels: &[],
            rules: vec![],
            aggregate_from: Some(AGG_ADMIN),
        },
        RoleDef {
            name: "edit",
            labels: &[(AGG_ADMIN, "true")],
            rules: vec![],
            aggregate_from: Some(AGG_EDIT),
        },
        RoleDef {
            name: "view",
            labels: &[(AGG_EDIT, "true")],
            rules: vec![],
            aggregate_from: Some(AGG_VIEW),
        },
        RoleDef {
            name: "system:aggregate-to-admin",
            labels: &[(AGG_ADMIN, "true")],
            rules: vec![
                r(&["create"], &[AUTHZ], &["localsubjectaccessreviews"]),
                r(READ_WRITE, &[RBAC_GROUP], &["roles", "rolebindings"]),
            ],
            aggregate_from: None,
        },
        RoleDef {
            name: "system:aggregate-to-edit",
            labels: &[(AGG_EDIT, "true")],
            rules: edit_rules(),
            aggregate_from: None,
        },
        RoleDef {
            name: "system:aggregate-to-view",
            labels: &[(AGG_VIEW, "true")],
            rules: view_rules(),
            aggregate_from: None,
        },
        plain(
            "system:heapster",
            vec![
                r(READ, &[CORE], &["events", "pods", "nodes", "namespaces"]),
                r(READ, &[EXTENSIONS], &["deployments"]),
            ],
        ),
        plain("system:node", node_rules()),
        plain(
            "system:node-problem-detector",
            vec![
                r(&["get"], &[CORE], &["nodes"]),
                r(&["patch"], &[CORE], &["nodes/status"]),
                events_rule(),
            ],
        ),
        plain(
            "system:node-bootstrapper",
            vec![r(
                &["create", "get", "list", "watch"],
                &[CERTS],
                &["certificatesigningrequests"],
            )],
        ),
        plain(
            "system:auth-delegator",
            vec![
                r(&["create"], &[AUTHN], &["tokenreviews"]),
                r(&["create"], &[AUTHZ], &["subjectaccessreviews"]),
            ],
        ),
        plain(
            "system:kube-aggregator",
            vec![r(READ, &[CORE], &["services", "endpoints"])],
        ),
        plain(
            "system:kube-controller-manager",
            vec![
                events_rule(),
                r(&["create"], &[COORDINATION], &["leases"]),
                r(&["get", "update"], &[COORDINATION], &["leases"])
                    .names(&["kube-controller-manager"]),
                r(&["create"], &[CORE], &["secrets", "serviceaccounts"]),
                r(&["delete"], &[CORE], &["secrets"]),
                r(
                    &["get"],
                    &[CORE],
                    &["namespaces", "secrets", "serviceaccounts", "configmaps"],
                ),
                r(&["update"], &[CORE], &["secrets", "serviceaccounts"]),
                r(&["create"], &[AUTHN], &["tokenreviews"]),
                r(&["create"], &[AUTHZ], &["subjectaccessreviews"]),
                r(&["list", "watch"], &["*"], &["*"]),
                r(&["create"], &[CORE], &["serviceaccounts/token"]),
            ],
        ),
        plain(
            "system:kube-dns",
            vec![r(&["list", "watch"], &[CORE], &["endpoints", "services"])],
        ),
        plain(
            "system:persistent-volume-provisioner",
            vec![
                r(
                    &["get", "list", "watch", "create", "delete"],
                    &[CORE],
                    &["persistentvolumes"],
                ),
                r(
                    &["get", "list", "watch", "update"],
                    &[CORE],
                    &["persistentvolumeclaims"],
                ),
                r(READ, &[STORAGE], &["storageclasses"]),
                r(&["watch"], &[CORE], &["events"]),
                events_rule(),
            ],
        ),
        plain(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![r(
                &["create"],
                &[CERTS],
                &["certificatesigningrequests/nodeclient"],
            )],
        ),
        plain(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![r(
                &["create"],
                &[CERTS],
                &["certificatesigningrequests/selfnodeclient"],
            )],
        ),
        plain(
            "system:volume-scheduler",
            vec![
                r(READ_UPDATE, &[CORE], &["persistentvolumes"]),
                r(READ, &[STORAGE], &["storageclasses"]),
                r(READ_UPDATE, &[CORE], &["persistentvolumeclaims"]),
            ],
        ),
        plain(
            "system:certificates.k8s.io:legacy-unknown-approver",
            approver("kubernetes.io/legacy-unknown"),
        ),
        plain(
            "system:certificates.k8s.io:kubelet-serving-approver",
            approver("kubernetes.io/kubelet-serving"),
        ),
        plain(
            "system:certificates.k8s.io:kube-apiserver-client-approver",
            approver("kubernetes.io/kube-apiserver-client"),
        ),
        plain(
            "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
            approver("kubernetes.io/kube-apiserver-client-kubelet"),
        ),
        plain(
            "system:service-account-issuer-discovery",
            vec![urls(
                &["get"],
                &[
                    "/.well-known/openid-configuration",
                    "/.well-known/openid-configuration/",
                    "/openid/v1/jwks",
                    "/openid/v1/jwks/",
                ],
            )],
        ),
        plain(
            "system:kubelet-api-admin",
            vec![
                r(&["get", "list", "watch"], &[CORE], &["nodes"]),
                r(&["proxy"], &[CORE], &["nodes"]),
                r(
                    &["*"],
                    &[CORE],
                    &["nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"],
                ),
                r(
                    &["*"],
                    &[CORE],
                    &["nodes/pods", "nodes/healthz", "nodes/configz"],
                ),
            ],
        ),
        plain(
            "system:node-proxier",
            vec![
                r(&["list", "watch"], &[CORE], &["services", "endpoints"]),
                r(&["get", "list", "watch"], &[CORE], &["nodes"]),
                events_rule(),
                r(&["list", "watch"], &[NETWORKING], &["servicecidrs"]),
                r(&["list", "watch"], &[DISCOVERY], &["endpointslices"]),
            ],
        ),
        plain("system:kube-scheduler", kube_scheduler_rules()),
        // Controller roles (upstream's controller_policy.go) of the controllers k3rs runs.
        plain(
            "system:controller:clusterrole-aggregation-controller",
            vec![r(
                &["escalate", "get", "list", "patch", "update", "watch"],
                &[RBAC_GROUP],
                &["clusterroles"],
            )],
        ),
        plain(
            "system:controller:deployment-controller",
            vec![
                r(
                    &["get", "list", "watch", "update"],
                    &[EXTENSIONS, APPS],
                    &["deployments"],
                ),
                r(&["update"], &[EXTENSIONS, APPS], &["deployments/status"]),
                r(
                    &["update"],
                    &[EXTENSIONS, APPS],
                    &["deployments/finalizers"],
                ),
                r(
                    &[
                        "get", "list", "watch", "create", "update", "patch", "delete",
                    ],
                    &[APPS, EXTENSIONS],
                    &["replicasets"],
                ),
                // Upstream keeps "update" on pods for an old issue (kubernetes#36897).
                r(&["get", "list", "watch", "update"], &[CORE], &["pods"]),
                events_rule(),
            ],
        ),
        plain(
            "system:controller:generic-garbage-collector",
            vec![
                r(
                    &["get", "list", "watch", "patch", "update", "delete"],
                    &["*"],
                    &["*"],
                ),
                events_rule(),
            ],
        ),
        plain(
            "system:controller:namespace-controller",
            vec![
                r(
                    &["get", "list", "watch", "delete"],
                    &[CORE],
                    &["namespaces"],
                ),
                r(
                    &["update"],
                    &[CORE],
                    &["namespaces/finalize", "namespaces/status"],
                ),
                r(
                    &["get", "list", "watch", "delete", "deletecollection"],
                    &["*"],
                    &["*"],
                ),
            ],
        ),
        plain(
            "system:controller:pv-protection-controller",
            vec![
                r(
                    &["get", "list", "watch", "update"],
                    &[CORE],
                    &["persistentvolumes"],
                ),
                events_rule(),
            ],
        ),
        plain(
            "system:controller:pvc-protection-controller",
            vec![
                r(
                    &["get", "list", "watch", "update"],
                    &[CORE],
                    &["persistentvolumeclaims"],
                ),
                r(&["list", "watch", "get"], &[CORE], &["pods"]),
                events_rule(),
            ],
        ),
        plain(
            "system:controller:replicaset-controller",
            vec![
                r(
                    &["get", "list", "watch", "update"],
                    &[APPS, EXTENSIONS],
                    &["replicasets"],
                ),
                r(&["update"], &[APPS, EXTENSIONS], &["replicasets/status"]),
                r(
                    &["update"],
                    &[APPS, EXTENSIONS],
                    &["replicasets/finalizers"],
                ),
                r(
                    &["list", "watch", "patch", "create", "delete"],
                    &[CORE],
                    &["pods"],
                ),
                events_rule(),
            ],
        ),
        plain(
            "system:controller:replication-controller",
            vec![
                r(
                    &["get", "list", "watch", "update"],
                    &[CORE],
                    &["replicationcontrollers"],
                ),
                r(&["update"], &[CORE], &["replicationcontrollers/status"]),
                r(&["update"], &[CORE], &["replicationcontrollers/finalizers"]),
                r(
                    &["list", "watch", "patch", "create", "delete"],
                    &[CORE],
                    &["pods"],
                ),
                events_rule(),
            ],
        ),
        plain(
            "system:controller:resourcequota-controller",
            vec![
                // Quota can count anything, so it may list and watch everything.
                r(&["list", "watch"], &["*"], &["*"]),
                r(&["update"], &[CORE], &["resourcequotas/status"]),
                events_rule(),
            ],
        ),
        plain(
            "system:controller:root-ca-cert-publisher",
            vec![
                r(&["create", "update"], &[CORE], &["configmaps"]),
                events_rule(),
            ],
        ),
        plain(
            "system:controller:service-account-controller",
            vec![r(&["create"], &[CORE], &["serviceaccounts"]), events_rule()],
        ),
        plain(
            "system:controller:volumeattributesclass-protection-controller",
            vec![
                r(
                    &["list", "watch", "get"],
                    &[CORE],
                    &["persistentvolumeclaims"],
                ),
                r(&["list", "watch", "get"], &[CORE], &["persistentvolumes"]),
                r(
                    &["get", "list", "watch", "update"],
                    &[STORAGE],
                    &["volumeattributesclasses"],
                ),
                events_rule(),
            ],
        ),
    ]
}

fn metadata(name: &str, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = serde_json::Map::new();
    labels.insert(BOOTSTRAP_LABEL.0.into(), json!(BOOTSTRAP_LABEL.1));
    for (k, v) in extra_labels {
        labels.insert((*k).into(), json!(v));
    }
    json!({"name": name, "labels": labels, "annotations": {AUTOUPDATE_ANNOTATION: "true"}})
}

/// The bootstrap ClusterRoles, as API objects.
pub fn cluster_roles() -> Vec<Value> {
    role_defs()
        .into_iter()
        .map(|d| {
            let mut o = json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": metadata(d.name, d.labels),
                "rules": d.rules.iter().map(PolicyRule::to_json).collect::<Vec<_>>(),
            });
            if let Some(label) = d.aggregate_from {
                o["aggregationRule"] =
                    json!({"clusterRoleSelectors": [{"matchLabels": {label: "true"}}]});
            }
            o
        })
        .collect()
}

fn binding(name: &str, role: &str, subjects: Vec<Value>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": metadata(name, &[]),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

fn group(name: &str) -> Value {
    json!({"apiGroup": RBAC_GROUP, "kind": "Group", "name": name})
}

fn user(name: &str) -> Value {
    json!({"apiGroup": RBAC_GROUP, "kind": "User", "name": name})
}

fn sa(ns: &str, name: &str) -> Value {
    json!({"kind": "ServiceAccount", "name": name, "namespace": ns})
}

/// The bootstrap ClusterRoleBindings, as API objects: upstream's, the controller roles' bindings
/// to their ServiceAccounts, and k3rs' bindings of those roles to `system:kube-controller-manager`.
pub fn cluster_role_bindings() -> Vec<Value> {
    let mut out = vec![
        binding(
            "cluster-admin",
            "cluster-admin",
            vec![group("system:masters")],
        ),
        binding(
            "system:monitoring",
            "system:monitoring",
            vec![group("system:monitoring")],
        ),
        binding(
            "system:discovery",
            "system:discovery",
            vec![group("system:authenticated")],
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            vec![group("system:authenticated")],
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            vec![
                group("system:authenticated"),
                group("system:unauthenticated"),
            ],
        ),
        binding(
            "system:node-proxier",
            "system:node-proxier",
            vec![user("system:kube-proxy")],
        ),
        binding(
            "system:kube-controller-manager",
            "system:kube-controller-manager",
            vec![user("system:kube-controller-manager")],
        ),
        binding(
            "system:kube-dns",
            "system:kube-dns",
            vec![sa("kube-system", "kube-dns")],
        ),
        binding(
            "system:kube-scheduler",
            "system:kube-scheduler",
            vec![user("system:kube-scheduler")],
        ),
        binding(
            "system:volume-scheduler",
            "system:volume-scheduler",
            vec![user("system:kube-scheduler")],
        ),
        binding(
            "system:service-account-issuer-discovery",
            "system:service-account-issuer-discovery",
            vec![group("system:serviceaccounts")],
        ),
    ];
    // The system:node binding is kept with no subjects (the Node authorizer replaced it).
    let mut node = binding("system:node", "system:node", vec![]);
    if let Some(m) = node.as_object_mut() {
        m.remove("subjects");
    }
    out.push(node);
    for c in K3RS_CONTROLLERS {
        let role = format!("system:controller:{c}");
        out.push(binding(&role, &role, vec![sa("kube-system", c)]));
        out.push(binding(
            &format!("{K3RS_CONTROLLER_BINDINGS}{c}"),
            &role,
            vec![user("system:kube-controller-manager")],
        ));
    }
    out
}

fn autoupdate(existing: &Value) -> bool {
    existing
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(AUTOUPDATE_ANNOTATION))
        .and_then(Value::as_str)
        .is_none_or(|v| v == "true")
}

/// The reconciled form of an existing bootstrap role (`None`: leave it alone). As upstream's
/// reconciliation (non-destructive): only objects whose autoupdate annotation is not "false" are
/// touched; missing rules, labels and annotations are added, nothing is removed. An aggregating role
/// gets the bootstrap selectors added; its rules belong to the aggregation controller.
pub fn reconcile_role(existing: &Value, desired: &Value) -> Option<Value> {
    if !autoupdate(existing) {
        return None;
    }
    let mut out = existing.clone();
    let mut changed = merge_metadata(&mut out, desired);
    if let Some(agg) = desired
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)
    {
        let have: Vec<Value> = out
            .pointer("/aggregationRule/clusterRoleSelectors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut merged = have.clone();
        for s in agg {
            if !merged.contains(s) {
                merged.push(s.clone());
            }
        }
        if merged != have {
            out["aggregationRule"] = json!({"clusterRoleSelectors": merged});
            changed = true;
        }
    } else {
        let have = rules_of(existing);
        let want = rules_of(desired);
        let missing: Vec<&PolicyRule> = want
            .iter()
            .filter(|w| !covers(&have, std::slice::from_ref(*w)).0)
            .collect();
        if !missing.is_empty() {
            let mut rules: Vec<Value> = out
                .get("rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            rules.extend(missing.iter().map(|r| r.to_json()));
            out["rules"] = Value::Array(rules);
            changed = true;
        }
    }
    changed.then_some(out)
}

/// The reconciled form of an existing bootstrap binding (`None`: leave it alone): missing
/// subjects, labels and annotations are added. A binding whose roleRef differs is left alone
/// (upstream recreates it; roleRef is immutable).
pub fn reconcile_binding(existing: &Value, desired: &Value) -> Option<Value> {
    if !autoupdate(existing) || existing.get("roleRef") != desired.get("roleRef") {
        return None;
    }
    let mut out = existing.clone();
    let mut changed = merge_metadata(&mut out, desired);
    let have: Vec<Value> = existing
        .get("subjects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut subjects = have.clone();
    for s in desired
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let same = |h: &Value| {
            h.get("kind") == s.get("kind")
                && h.get("name") == s.get("name")
                && h.get("namespace") == s.get("namespace")
        };
        if !subjects.iter().any(same) {
            subjects.push(s.clone());
        }
    }
    if subjects != have {
        out["subjects"] = Value::Array(subjects);
        changed = true;
    }
    changed.then_some(out)
}

fn merge_metadata(out: &mut Value, desired: &Value) -> bool {
    let mut changed = false;
    for key in ["labels", "annotations"] {
        let Some(want) = desired
            .pointer(&format!("/metadata/{key}"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) else {
            continue;
        };
        let map = meta.entry(key).or_insert_with(|| json!({}));
        if !map.is_object() {
            *map = json!({});
        }
        if let Some(m) = map.as_object_mut() {
            for (k, v) in want {
                if !m.contains_key(k) {
                    m.insert(k.clone(), v.clone());
                    changed = true;
                }
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconcile_adds_missing_rules_and_subjects_only_with_autoupdate() {
        let desired = cluster_roles()
            .into_iter()
            .find(|r| r["metadata"]["name"] == "system:basic-user")
            .unwrap();
        let mut existing = desired.clone();
        existing["rules"] = json!([{"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews"]},
                                   {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]);
        let out = reconcile_role(&existing, &desired).unwrap();
        let rules = rules_of(&out);
        assert!(covers(&rules, &rules_of(&desired)).0);
        assert!(
            rules.contains(&PolicyRule::resource(&["get"], &[""], &["pods"])),
            "kept"
        );
        assert!(reconcile_role(&out, &desired).is_none(), "idempotent");
        existing["metadata"]["annotations"][AUTOUPDATE_ANNOTATION] = json!("false");
        assert!(reconcile_role(&existing, &desired).is_none());

        let desired = cluster_role_bindings()
            .into_iter()
            .find(|b| b["metadata"]["name"] == "system:public-info-viewer")
            .unwrap();
        let mut existing = desired.clone();
        existing["subjects"] = json!([{"kind": "Group", "name": "system:authenticated", "apiGroup": "rbac.authorization.k8s.io"},
                                      {"kind": "User", "name": "extra"}]);
        let out = reconcile_binding(&existing, &desired).unwrap();
        assert_eq!(out["subjects"].as_array().unwrap().len(), 3);
        assert!(reconcile_binding(&out, &desired).is_none());
    }
}
