//! Every built-in kind k3rs serves, as data.
//!
//! One [`Resource`] record per served group/version/resource: discovery, routing, storage keys and
//! RBAC resource names are all derived from it. The set is upstream v1.35's default-on, generally
//! available APIs, minus what k3rs cannot serve faithfully yet (see [`NOT_SERVED`]); the
//! `discovery_oracle` test compares it with upstream's discovery documents.

/// All eight verbs of a normal resource.
pub const CRUD: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// The verb of the review APIs (authentication.k8s.io, authorization.k8s.io): objects that are
/// evaluated on create and never stored.
pub const CREATE_ONLY: &[&str] = &["create"];
/// The verbs of `status` and `scale` subresources.
pub const GPU: &[&str] = &["get", "patch", "update"];

/// A subresource of a [`Resource`], e.g. `deployments/scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sub {
    pub name: &'static str,
    /// Group/version/kind of the subresource's object when it is not the parent's (`""` = same).
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

/// One served resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Sub],
}

impl Resource {
    /// `v1` for the core group, `<group>/<version>` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The subresource called `name`, if the resource has one.
    pub fn subresource(&self, name: &str) -> Option<&'static Sub> {
        self.subresources.iter().find(|s| s.name == name)
    }

    pub fn has_status(&self) -> bool {
        self.subresource("status").is_some()
    }

    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// Datastore key prefix of every object of this resource, ending in `/`
    /// (`/registry/<resource>/`, as upstream lays out etcd).
    pub fn key_prefix(&self) -> String {
        if self.group_in_key() {
            format!("/registry/{}/{}/", self.group, self.plural)
        } else {
            format!("/registry/{}/", self.plural)
        }
    }

    /// Upstream keys custom resources (and CRDs themselves) by group too:
    /// `/registry/<group>/<plural>/...`.
    fn group_in_key(&self) -> bool {
        self.group == "apiextensions.k8s.io" || self.is_custom()
    }

    /// Whether this is a custom resource (served from a CustomResourceDefinition).
    pub fn is_custom(&self) -> bool {
        !is_builtin_group(self.group)
    }

    /// Datastore key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/{name}", self.key_prefix()),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }

    /// Review kinds (TokenReview, SubjectAccessReview, ...): answered on create, never stored.
    pub fn is_review(&self) -> bool {
        matches!(self.group, "authentication.k8s.io" | "authorization.k8s.io")
    }

    /// Objects of this kind expire this long after their last write (core Events: 1 h).
    pub fn ttl_seconds(&self) -> Option<u64> {
        (self.group.is_empty() && self.plural == "events").then_some(3600)
    }
}

/// Upstream APIs k3rs deliberately does not serve yet, and why.
pub const NOT_SERVED: &[(&str, &str)] = &[
    (
        "events.k8s.io",
        "needs conversion to and from core/v1 Event, which shares its storage",
    ),
    (
        "autoscaling/v1",
        "needs conversion to and from autoscaling/v2",
    ),
    ("apiregistration.k8s.io", "API aggregation is not supported"),
    ("v1/bindings", "pod binding comes with the scheduler"),
    (
        "v1/componentstatuses",
        "deprecated upstream; nothing to report",
    ),
];

/// Every built-in resource, core group first, then the groups in upstream's discovery order;
/// then the beta APIs the server was started with ([`enable_beta`]).
pub fn builtin() -> &'static [Resource] {
    SERVED.get_or_init(|| {
        let mut out = BUILTIN.to_vec();
        if let Ok(enabled) = ENABLED_BETA.lock() {
            out.extend(
                BETA.iter()
                    .filter(|(gv, _)| enabled.contains(gv))
                    .flat_map(|(_, rs)| rs.iter().copied()),
            );
        }
        out
    })
}

/// The built-in resources actually served, fixed at first use.
static SERVED: std::sync::OnceLock<Vec<Resource>> = std::sync::OnceLock::new();
static ENABLED_BETA: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// Beta APIs upstream v1.35 serves only when asked (`--runtime-config <group/version>=true`
/// with the feature gate named here), by group/version: the gate, and the resources.
pub const BETA_APIS: &[(&str, &str)] = &[(
    "admissionregistration.k8s.io/v1beta1",
    "MutatingAdmissionPolicy",
)];

static BETA: &[(&str, &[Resource])] = &[(
    "admissionregistration.k8s.io/v1beta1",
    &[
        Resource {
            group: "admissionregistration.k8s.io",
            version: "v1beta1",
            kind: "MutatingAdmissionPolicy",
            plural: "mutatingadmissionpolicies",
            singular: "mutatingadmissionpolicy",
            namespaced: false,
            verbs: CRUD,
            short_names: &[],
            categories: &["api-extensions"],
            subresources: &[],
        },
        Resource {
            group: "admissionregistration.k8s.io",
            version: "v1beta1",
            kind: "MutatingAdmissionPolicyBinding",
            plural: "mutatingadmissionpolicybindings",
            singular: "mutatingadmissionpolicybinding",
            namespaced: false,
            verbs: CRUD,
            short_names: &[],
            categories: &["api-extensions"],
            subresources: &[],
        },
    ],
)];

/// Every beta resource k3rs can serve, enabled or not (for tests against upstream's discovery).
pub fn beta_resources() -> impl Iterator<Item = &'static Resource> {
    BETA.iter().flat_map(|(_, rs)| rs.iter())
}

/// Serves a beta group/version of [`BETA_APIS`]. Must be called before the registry is first
/// used (at server start); fails for unknown group/versions and when it is too late.
pub fn enable_beta(group_version: &str) -> Result<(), String> {
    let Some((gv, _)) = BETA.iter().find(|(gv, _)| *gv == group_version) else {
        return Err(format!(
            "{group_version} is not a beta API k3rs can serve (it can serve: {})",
            BETA.iter()
                .map(|(gv, _)| *gv)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if SERVED.get().is_some() {
        return Err("the API registry is already in use".into());
    }
    let mut enabled = ENABLED_BETA
        .lock()
        .map_err(|_| "the API registry lock is poisoned".to_string())?;
    if !enabled.contains(gv) {
        enabled.push(gv);
    }
    Ok(())
}

/// Whether a beta group/version is served.
pub fn beta_enabled(group_version: &str) -> bool {
    builtin()
        .iter()
        .any(|r| r.api_version() == group_version && r.version.contains("beta"))
}

/// Whether `group` is one of the built-in API groups (every other group is served from
/// CustomResourceDefinitions).
pub fn is_builtin_group(group: &str) -> bool {
    static GROUPS: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    GROUPS
        .get_or_init(|| {
            BUILTIN
                .iter()
                .chain(beta_resources())
                .map(|r| r.group)
                .collect()
        })
        .contains(group)
}

/// Every served resource: the built-ins, then the custom resources of established
/// CustomResourceDefinitions (see [`crate::crd`]).
pub fn all() -> Vec<&'static Resource> {
    let mut out: Vec<&'static Resource> = builtin().iter().collect();
    out.extend(crate::crd::resources());
    out
}

/// Looks a resource up by group, version and plural (or singular, or short name): the
/// built-ins first, then the custom resources.
pub fn find(group: &str, version: &str, resource: &str) -> Option<&'static Resource> {
    builtin()
        .iter()
        .find(|r| {
            r.group == group
                && r.version == version
                && (r.plural == resource
                    || r.singular == resource
                    || r.short_names.contains(&resource))
        })
        .or_else(|| crate::crd::find(group, version, resource))
}

/// The served versions of each group, in discovery order (the first version is preferred):
/// built-in groups first, then custom resource groups (versions by upstream's version priority).
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out = builtin_groups();
    out.extend(crate::crd::groups());
    out
}

fn builtin_groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in builtin() {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) => {
                if !versions.contains(&r.version) {
                    versions.push(r.version);
                }
            }
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

static BUILTIN: &[Resource] = &[
    Resource {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        singular: "configmap",
        namespaced: true,
        verbs: CRUD,
        short_names: &["cm"],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        singular: "endpoints",
        namespaced: true,
        verbs: CRUD,
        short_names: &["ep"],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        verbs: CRUD,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "LimitRange",
        plural: "limitranges",
        singular: "limitrange",
        namespaced: true,
        verbs: CRUD,
        short_names: &["limits"],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        namespaced: false,
        verbs: &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
        short_names: &["ns"],
        categories: &[],
        subresources: &[
            Sub {
                name: "finalize",
                group: "",
                version: "",
                kind: "Namespace",
                verbs: &["update"],
            },
            Sub {
                name: "status",
                group: "",
                version: "",
                kind: "Namespace",
                verbs: GPU,
            },
        ],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        namespaced: false,
        verbs: CRUD,
        short_names: &["no"],
        categories: &[],
        subresources: &[
            Sub {
                name: "proxy",
                group: "",
                version: "",
                kind: "NodeProxyOptions",
                verbs: &["create", "delete", "get", "patch", "update"],
            },
            Sub {
                name: "status",
                group: "",
                version: "",
                kind: "Node",
                verbs: GPU,
            },
        ],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        namespaced: true,
        verbs: CRUD,
        short_names: &["pvc"],
        categories: &[],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "PersistentVolumeClaim",
            verbs: GPU,
        }],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "PersistentVolume",
        plural: "persistentvolumes",
        singular: "persistentvolume",
        namespaced: false,
        verbs: CRUD,
        short_names: &["pv"],
        categories: &[],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "PersistentVolume",
            verbs: GPU,
        }],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        namespaced: true,
        verbs: CRUD,
        short_names: &["po"],
        categories: &["all"],
        subresources: &[
            Sub {
                name: "attach",
                group: "",
                version: "",
                kind: "PodAttachOptions",
                verbs: &["create", "get"],
            },
            Sub {
                name: "binding",
                group: "",
                version: "",
                kind: "Binding",
                verbs: &["create"],
            },
            Sub {
                name: "ephemeralcontainers",
                group: "",
                version: "",
                kind: "Pod",
                verbs: GPU,
            },
            Sub {
                name: "eviction",
                group: "policy",
                version: "v1",
                kind: "Eviction",
                verbs: &["create"],
            },
            Sub {
                name: "exec",
                group: "",
                version: "",
                kind: "PodExecOptions",
                verbs: &["create", "get"],
            },
            Sub {
                name: "log",
                group: "",
                version: "",
                kind: "Pod",
                verbs: &["get"],
            },
            Sub {
                name: "portforward",
                group: "",
                version: "",
                kind: "PodPortForwardOptions",
                verbs: &["create", "get"],
            },
            Sub {
                name: "proxy",
                group: "",
                version: "",
                kind: "PodProxyOptions",
                verbs: &["create", "delete", "get", "patch", "update"],
            },
            Sub {
                name: "resize",
                group: "",
                version: "",
                kind: "Pod",
                verbs: GPU,
            },
            Sub {
                name: "status",
                group: "",
                version: "",
                kind: "Pod",
                verbs: GPU,
            },
        ],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "PodTemplate",
        plural: "podtemplates",
        singular: "podtemplate",
        namespaced: true,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ReplicationController",
        plural: "replicationcontrollers",
        singular: "replicationcontroller",
        namespaced: true,
        verbs: CRUD,
        short_names: &["rc"],
        categories: &["all"],
        subresources: &[
            Sub {
                name: "scale",
                group: "autoscaling",
                version: "v1",
                kind: "Scale",
                verbs: GPU,
            },
            Sub {
                name: "status",
                group: "",
                version: "",
                kind: "ReplicationController",
                verbs: GPU,
            },
        ],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ResourceQuota",
        plural: "resourcequotas",
        singular: "resourcequota",
        namespaced: true,
        verbs: CRUD,
        short_names: &["quota"],
        categories: &[],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "ResourceQuota",
            verbs: GPU,
        }],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        singular: "secret",
        namespaced: true,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        namespaced: true,
        verbs: CRUD,
        short_names: &["sa"],
        categories: &[],
        subresources: &[Sub {
            name: "token",
            group: "authentication.k8s.io",
            version: "v1",
            kind: "TokenRequest",
            verbs: &["create"],
        }],
    },
    Resource {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        singular: "service",
        namespaced: true,
        verbs: CRUD,
        short_names: &["svc"],
        categories: &["all"],
        subresources: &[
            Sub {
                name: "proxy",
                group: "",
                version: "",
                kind: "ServiceProxyOptions",
                verbs: &["create", "delete", "get", "patch", "update"],
            },
            Sub {
                name: "status",
                group: "",
                version: "",
                kind: "Service",
                verbs: GPU,
            },
        ],
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "ControllerRevision",
        plural: "controllerrevisions",
        singular: "controllerrevision",
        namespaced: true,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        singular: "daemonset",
        namespaced: true,
        verbs: CRUD,
        short_names: &["ds"],
        categories: &["all"],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "DaemonSet",
            verbs: GPU,
        }],
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        namespaced: true,
        verbs: CRUD,
        short_names: &["deploy"],
        categories: &["all"],
        subresources: &[
            Sub {
                name: "scale",
                group: "autoscaling",
                version: "v1",
                kind: "Scale",
                verbs: GPU,
            },
            Sub {
                name: "status",
                group: "",
                version: "",
                kind: "Deployment",
                verbs: GPU,
            },
        ],
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        namespaced: true,
        verbs: CRUD,
        short_names: &["rs"],
        categories: &["all"],
        subresources: &[
            Sub {
                name: "scale",
                group: "autoscaling",
                version: "v1",
                kind: "Scale",
                verbs: GPU,
            },
            Sub {
                name: "status",
                group: "",
                version: "",
                kind: "ReplicaSet",
                verbs: GPU,
            },
        ],
    },
    Resource {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
        singular: "statefulset",
        namespaced: true,
        verbs: CRUD,
        short_names: &["sts"],
        categories: &["all"],
        subresources: &[
            Sub {
                name: "scale",
                group: "autoscaling",
                version: "v1",
                kind: "Scale",
                verbs: GPU,
            },
            Sub {
                name: "status",
                group: "",
                version: "",
                kind: "StatefulSet",
                verbs: GPU,
            },
        ],
    },
    Resource {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "SelfSubjectReview",
        plural: "selfsubjectreviews",
        singular: "selfsubjectreview",
        namespaced: false,
        verbs: CREATE_ONLY,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "TokenReview",
        plural: "tokenreviews",
        singular: "tokenreview",
        namespaced: false,
        verbs: CREATE_ONLY,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "LocalSubjectAccessReview",
        plural: "localsubjectaccessreviews",
        singular: "localsubjectaccessreview",
        namespaced: true,
        verbs: CREATE_ONLY,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        namespaced: false,
        verbs: CREATE_ONLY,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectRulesReview",
        plural: "selfsubjectrulesreviews",
        singular: "selfsubjectrulesreview",
        namespaced: false,
        verbs: CREATE_ONLY,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SubjectAccessReview",
        plural: "subjectaccessreviews",
        singular: "subjectaccessreview",
        namespaced: false,
        verbs: CREATE_ONLY,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        namespaced: true,
        verbs: CRUD,
        short_names: &["hpa"],
        categories: &["all"],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "HorizontalPodAutoscaler",
            verbs: GPU,
        }],
    },
    Resource {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        plural: "cronjobs",
        singular: "cronjob",
        namespaced: true,
        verbs: CRUD,
        short_names: &["cj"],
        categories: &["all"],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "CronJob",
            verbs: GPU,
        }],
    },
    Resource {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        singular: "job",
        namespaced: true,
        verbs: CRUD,
        short_names: &[],
        categories: &["all"],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "Job",
            verbs: GPU,
        }],
    },
    Resource {
        group: "certificates.k8s.io",
        version: "v1",
        kind: "CertificateSigningRequest",
        plural: "certificatesigningrequests",
        singular: "certificatesigningrequest",
        namespaced: false,
        verbs: CRUD,
        short_names: &["csr"],
        categories: &[],
        subresources: &[
            Sub {
                name: "approval",
                group: "",
                version: "",
                kind: "CertificateSigningRequest",
                verbs: GPU,
            },
            Sub {
                name: "status",
                group: "",
                version: "",
                kind: "CertificateSigningRequest",
                verbs: GPU,
            },
        ],
    },
    Resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IngressClass",
        plural: "ingressclasses",
        singular: "ingressclass",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "Ingress",
        plural: "ingresses",
        singular: "ingress",
        namespaced: true,
        verbs: CRUD,
        short_names: &["ing"],
        categories: &[],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "Ingress",
            verbs: GPU,
        }],
    },
    Resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IPAddress",
        plural: "ipaddresses",
        singular: "ipaddress",
        namespaced: false,
        verbs: CRUD,
        short_names: &["ip"],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
        singular: "networkpolicy",
        namespaced: true,
        verbs: CRUD,
        short_names: &["netpol"],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "networking.k8s.io",
        version: "v1",
        kind: "ServiceCIDR",
        plural: "servicecidrs",
        singular: "servicecidr",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "ServiceCIDR",
            verbs: GPU,
        }],
    },
    Resource {
        group: "policy",
        version: "v1",
        kind: "PodDisruptionBudget",
        plural: "poddisruptionbudgets",
        singular: "poddisruptionbudget",
        namespaced: true,
        verbs: CRUD,
        short_names: &["pdb"],
        categories: &[],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "PodDisruptionBudget",
            verbs: GPU,
        }],
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        singular: "clusterrole",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        singular: "rolebinding",
        namespaced: true,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        singular: "role",
        namespaced: true,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSIDriver",
        plural: "csidrivers",
        singular: "csidriver",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSINode",
        plural: "csinodes",
        singular: "csinode",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "CSIStorageCapacity",
        plural: "csistoragecapacities",
        singular: "csistoragecapacity",
        namespaced: true,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "StorageClass",
        plural: "storageclasses",
        singular: "storageclass",
        namespaced: false,
        verbs: CRUD,
        short_names: &["sc"],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "VolumeAttachment",
        plural: "volumeattachments",
        singular: "volumeattachment",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "VolumeAttachment",
            verbs: GPU,
        }],
    },
    Resource {
        group: "storage.k8s.io",
        version: "v1",
        kind: "VolumeAttributesClass",
        plural: "volumeattributesclasses",
        singular: "volumeattributesclass",
        namespaced: false,
        verbs: CRUD,
        short_names: &["vac"],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "MutatingWebhookConfiguration",
        plural: "mutatingwebhookconfigurations",
        singular: "mutatingwebhookconfiguration",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &["api-extensions"],
        subresources: &[],
    },
    Resource {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingAdmissionPolicy",
        plural: "validatingadmissionpolicies",
        singular: "validatingadmissionpolicy",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &["api-extensions"],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "ValidatingAdmissionPolicy",
            verbs: GPU,
        }],
    },
    Resource {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingAdmissionPolicyBinding",
        plural: "validatingadmissionpolicybindings",
        singular: "validatingadmissionpolicybinding",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &["api-extensions"],
        subresources: &[],
    },
    Resource {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingWebhookConfiguration",
        plural: "validatingwebhookconfigurations",
        singular: "validatingwebhookconfiguration",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &["api-extensions"],
        subresources: &[],
    },
    Resource {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        singular: "customresourcedefinition",
        namespaced: false,
        verbs: CRUD,
        short_names: &["crd", "crds"],
        categories: &["api-extensions"],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "CustomResourceDefinition",
            verbs: GPU,
        }],
    },
    Resource {
        group: "scheduling.k8s.io",
        version: "v1",
        kind: "PriorityClass",
        plural: "priorityclasses",
        singular: "priorityclass",
        namespaced: false,
        verbs: CRUD,
        short_names: &["pc"],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        namespaced: true,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "node.k8s.io",
        version: "v1",
        kind: "RuntimeClass",
        plural: "runtimeclasses",
        singular: "runtimeclass",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "discovery.k8s.io",
        version: "v1",
        kind: "EndpointSlice",
        plural: "endpointslices",
        singular: "endpointslice",
        namespaced: true,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "resource.k8s.io",
        version: "v1",
        kind: "DeviceClass",
        plural: "deviceclasses",
        singular: "deviceclass",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "resource.k8s.io",
        version: "v1",
        kind: "ResourceClaim",
        plural: "resourceclaims",
        singular: "resourceclaim",
        namespaced: true,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "ResourceClaim",
            verbs: GPU,
        }],
    },
    Resource {
        group: "resource.k8s.io",
        version: "v1",
        kind: "ResourceClaimTemplate",
        plural: "resourceclaimtemplates",
        singular: "resourceclaimtemplate",
        namespaced: true,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "resource.k8s.io",
        version: "v1",
        kind: "ResourceSlice",
        plural: "resourceslices",
        singular: "resourceslice",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[],
    },
    Resource {
        group: "flowcontrol.apiserver.k8s.io",
        version: "v1",
        kind: "FlowSchema",
        plural: "flowschemas",
        singular: "flowschema",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "FlowSchema",
            verbs: GPU,
        }],
    },
    Resource {
        group: "flowcontrol.apiserver.k8s.io",
        version: "v1",
        kind: "PriorityLevelConfiguration",
        plural: "prioritylevelconfigurations",
        singular: "prioritylevelconfiguration",
        namespaced: false,
        verbs: CRUD,
        short_names: &[],
        categories: &[],
        subresources: &[Sub {
            name: "status",
            group: "",
            version: "",
            kind: "PriorityLevelConfiguration",
            verbs: GPU,
        }],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_by_plural_singular_and_short_name() {
        let d = find("apps", "v1", "deploy").unwrap();
        assert_eq!(d.kind, "Deployment");
        assert_eq!(find("", "v1", "pod").unwrap().plural, "pods");
        assert!(find("", "v1", "nope").is_none());
        let scale = d.subresource("scale").unwrap();
        assert_eq!(
            (scale.group, scale.version, scale.kind),
            ("autoscaling", "v1", "Scale")
        );
        assert_eq!(d.key(Some("ns"), "x"), "/registry/deployments/ns/x");
        assert_eq!(
            find("", "v1", "namespaces").unwrap().key(None, "x"),
            "/registry/namespaces/x"
        );
    }

    #[test]
    fn beta_resources_have_protobuf_messages() {
        for r in beta_resources() {
            assert!(
                crate::protobuf::has_message(&r.api_version(), r.kind),
                "{r:?}"
            );
        }
        assert!(enable_beta("nope/v1").is_err());
    }

    #[test]
    fn no_duplicate_resources_and_core_first() {
        let mut seen = std::collections::HashSet::new();
        for r in builtin() {
            assert!(seen.insert((r.group, r.version, r.plural)), "{r:?}");
        }
        assert_eq!(groups()[0], ("", vec!["v1"]));
    }
}
