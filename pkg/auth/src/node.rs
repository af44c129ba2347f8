//! The Node authorizer: what a kubelet (user `system:node:<name>` in group `system:nodes`) may
//! do, as upstream's `plugin/pkg/auth/authorizer/node`. Reads of secrets, configmaps, PVCs, PVs and
//! service-account tokens are allowed only for objects a pod bound to that node refers to; a node
//! may touch only its own Node and Lease; everything else falls back to the static node rules.
//! The pod graph ([`NodeGraph`]) is kept by the API server from its own watch of pods and PVs.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use crate::rbac::{Attributes, Decision, PolicyRule};

/// The group of every node identity.
pub const NODES_GROUP: &str = "system:nodes";
/// Prefix of node user names.
pub const NODE_PREFIX: &str = "system:node:";
/// Namespace of node leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node name of a node identity (user `system:node:<name>` in group `system:nodes`);
/// `Some("")` when the name part is empty.
pub fn node_identity(user: &crate::authn::UserInfo) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_PREFIX)?;
    user.groups.iter().any(|g| g == NODES_GROUP).then_some(name)
}

/// What a pod bound to a node refers to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRefs {
    pub node: String,
    pub service_account: String,
    pub secrets: BTreeSet<String>,
    pub config_maps: BTreeSet<String>,
    pub pvcs: BTreeSet<String>,
    pub resource_claims: BTreeSet<String>,
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn arr<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter())
        .into_iter()
        .flatten()
}

impl PodRefs {
    /// The references of a pod (JSON); `None` when it is not bound to a node.
    pub fn of_pod(pod: &Value) -> Option<PodRefs> {
        let node = str_at(pod, "/spec/nodeName")?.to_string();
        let name = str_at(pod, "/metadata/name").unwrap_or("");
        let spec = pod.get("spec")?;
        let mut r = PodRefs {
            node,
            service_account: str_at(spec, "/serviceAccountName")
                .or_else(|| str_at(spec, "/serviceAccount"))
                .unwrap_or("default")
                .to_string(),
            ..Default::default()
        };
        for s in arr(spec, "imagePullSecrets") {
            if let Some(n) = str_at(s, "/name") {
                r.secrets.insert(n.into());
            }
        }
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            for c in arr(spec, list) {
                for e in arr(c, "env") {
                    if let Some(n) = str_at(e, "/valueFrom/secretKeyRef/name") {
                        r.secrets.insert(n.into());
                    }
                    if let Some(n) = str_at(e, "/valueFrom/configMapKeyRef/name") {
                        r.config_maps.insert(n.into());
                    }
                }
                for e in arr(c, "envFrom") {
                    if let Some(n) = str_at(e, "/secretRef/name") {
                        r.secrets.insert(n.into());
                    }
                    if let Some(n) = str_at(e, "/configMapRef/name") {
                        r.config_maps.insert(n.into());
                    }
                }
            }
        }
        for vol in arr(spec, "volumes") {
            if let Some(n) = str_at(vol, "/secret/secretName") {
                r.secrets.insert(n.into());
            }
            if let Some(n) = str_at(vol, "/configMap/name") {
                r.config_maps.insert(n.into());
            }
            for src in vol
                .pointer("/projected/sources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(n) = str_at(src, "/secret/name") {
                    r.secrets.insert(n.into());
                }
                if let Some(n) = str_at(src, "/configMap/name") {
                    r.config_maps.insert(n.into());
                }
            }
            // Volume plugins that name a secret for credentials.
            for ptr in [
                "/azureFile/secretName",
                "/cephfs/secretRef/name",
                "/cinder/secretRef/name",
                "/flexVolume/secretRef/name",
                "/rbd/secretRef/name",
                "/scaleIO/secretRef/name",
                "/iscsi/secretRef/name",
                "/storageos/secretRef/name",
                "/csi/nodePublishSecretRef/name",
            ] {
                if let Some(n) = str_at(vol, ptr) {
                    r.secrets.insert(n.into());
                }
            }
            if let Some(n) = str_at(vol, "/persistentVolumeClaim/claimName") {
                r.pvcs.insert(n.into());
            }
            if vol.get("ephemeral").is_some_and(Value::is_object) {
                if let Some(v) = str_at(vol, "/name") {
                    r.pvcs.insert(format!("{name}-{v}"));
                }
            }
        }
        for c in pod
            .pointer("/status/resourceClaimStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = str_at(c, "/resourceClaimName") {
                r.resource_claims.insert(n.into());
            }
        }
        Some(r)
    }
}

/// Pods bound to nodes and the PVs bound to claims: enough to answer "does a pod on node N
/// refer to this object?".
#[derive(Clone, Debug, Default)]
pub struct NodeGraph {
    /// (namespace, pod name) → references, for bound pods.
    pods: HashMap<(String, String), PodRefs>,
    /// node → its pods.
    by_node: HashMap<String, HashSet<(String, String)>>,
    /// PV name → (claim namespace, claim name).
    pvs: HashMap<String, (String, String)>,
}

/// Kinds of object the graph relates to nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vertex {
    Pod,
    Secret,
    ConfigMap,
    Pvc,
    Pv,
    ServiceAccount,
    ResourceClaim,
}

impl NodeGraph {
    /// Adds, updates or (when unbound) drops a pod.
    pub fn upsert_pod(&mut self, pod: &Value) {
        let key = (
            str_at(pod, "/metadata/namespace").unwrap_or("").to_string(),
            str_at(pod, "/metadata/name").unwrap_or("").to_string(),
        );
        self.remove_key(&key);
        if let Some(refs) = PodRefs::of_pod(pod) {
            self.by_node
                .entry(refs.node.clone())
                .or_default()
                .insert(key.clone());
            self.pods.insert(key, refs);
        }
    }

    pub fn remove_pod(&mut self, pod: &Value) {
        let key = (
            str_at(pod, "/metadata/namespace").unwrap_or("").to_string(),
            str_at(pod, "/metadata/name").unwrap_or("").to_string(),
        );
        self.remove_key(&key);
    }

    fn remove_key(&mut self, key: &(String, String)) {
        if let Some(old) = self.pods.remove(key) {
            if let Some(set) = self.by_node.get_mut(&old.node) {
                set.remove(key);
                if set.is_empty() {
                    self.by_node.remove(&old.node);
                }
            }
        }
    }

    /// Adds or updates a PV (only its claimRef matters).
    pub fn upsert_pv(&mut self, pv: &Value) {
        let name = str_at(pv, "/metadata/name").unwrap_or("").to_string();
        match (
            str_at(pv, "/spec/claimRef/namespace"),
            str_at(pv, "/spec/claimRef/name"),
        ) {
            (Some(ns), Some(claim)) => {
                self.pvs.insert(name, (ns.into(), claim.into()));
            }
            _ => {
                self.pvs.remove(&name);
            }
        }
    }

    pub fn remove_pv(&mut self, pv: &Value) {
        if let Some(name) = str_at(pv, "/metadata/name") {
            self.pvs.remove(name);
        }
    }

    /// Drops all pods (`pods == true`) or all PVs, before a relist.
    pub fn clear(&mut self, pods: bool) {
        if pods {
            self.pods.clear();
            self.by_node.clear();
        } else {
            self.pvs.clear();
        }
    }

    fn node_known(&self, node: &str) -> bool {
        self.by_node.contains_key(node)
    }

    /// Whether some pod on `node` refers to the object.
    pub fn has_path(&self, node: &str, what: Vertex, ns: &str, name: &str) -> bool {
        let Some(pods) = self.by_node.get(node) else {
            return false;
        };
        if what == Vertex::Pv {
            let Some((cns, claim)) = self.pvs.get(name) else {
                return false;
            };
            return self.has_path(node, Vertex::Pvc, cns, claim);
        }
        pods.iter().filter(|(pns, _)| pns == ns).any(|key| {
            let Some(r) = self.pods.get(key) else {
                return false;
            };
            match what {
                Vertex::Pod => key.1 == name,
                Vertex::Secret => r.secrets.contains(name),
                Vertex::ConfigMap => r.config_maps.contains(name),
                Vertex::Pvc => r.pvcs.contains(name),
                Vertex::ServiceAccount => r.service_account == name,
                Vertex::ResourceClaim => r.resource_claims.contains(name),
                Vertex::Pv => false,
            }
        })
    }
}

/// `spec.nodeName=<node>` (or `==`) among the terms of a field selector.
fn selects_node(field_selector: &str, field: &str, node: &str) -> bool {
    field_selector.split(',').any(|term| {
        let term = term.trim();
        let (k, v) = match term
            .split_once("==")
            .or_else(|| term.split_once('=').filter(|(k, _)| !k.ends_with('!')))
        {
            Some(kv) => kv,
            None => return false,
        };
        k.trim() == field && v.trim() == node
    })
}

/// The Node authorizer's decision and reason. `node_rules` are the static rules of the
/// `system:node` role, applied to requests the graph does not subdivide.
pub fn authorize(
    graph: &NodeGraph,
    node_rules: &[PolicyRule],
    a: &Attributes,
) -> (Decision, String) {
    let Some(node) = node_identity(&a.user) else {
        return (Decision::NoOpinion, String::new());
    };
    if node.is_empty() {
        return (
            Decision::NoOpinion,
            format!("unknown node for user {:?}", a.user.name),
        );
    }
    let no = |why: String| (Decision::NoOpinion, why);
    let allow = || (Decision::Allow, String::new());
    let related = |what: Vertex| -> (Decision, String) {
        if a.name.is_empty() {
            return no("No Object name found".into());
        }
        if !graph.node_known(node) || !graph.has_path(node, what, &a.namespace, &a.name) {
            return no(format!(
                "no relationship found between node '{node}' and this object"
            ));
        }
        allow()
    };
    let read_namespaced = |what: Vertex| -> (Decision, String) {
        if !matches!(a.verb.as_str(), "get" | "list" | "watch") {
            return no("can only read resources of this type".into());
        }
        if !a.subresource.is_empty() {
            return no("cannot read subresource".into());
        }
        if a.namespace.is_empty() {
            return no("can only read namespaced object of this type".into());
        }
        related(what)
    };
    let get_only = |what: Vertex| -> (Decision, String) {
        if a.verb != "get" {
            return no("can only get individual resources of this type".into());
        }
        if !a.subresource.is_empty() {
            return no("cannot get subresource".into());
        }
        related(what)
    };
    if a.resource_request {
        match (a.api_group.as_str(), a.resource.as_str()) {
            ("", "secrets") => return read_namespaced(Vertex::Secret),
            ("", "configmaps") => return read_namespaced(Vertex::ConfigMap),
            ("", "persistentvolumeclaims") => {
                if a.subresource == "status" {
                    if !matches!(a.verb.as_str(), "update" | "patch") {
                        return no("can only get/update/patch this type".into());
                    }
                    return related(Vertex::Pvc);
                }
                return get_only(Vertex::Pvc);
            }
            ("", "persistentvolumes") => return get_only(Vertex::Pv),
            ("resource.k8s.io", "resourceclaims") => return get_only(Vertex::ResourceClaim),
            ("", "serviceaccounts") => {
                if a.verb == "get" && a.subresource.is_empty() {
                    // KubeletServiceAccountTokenForCredentialProviders is on by default in 1.35.
                    return read_namespaced(Vertex::ServiceAccount);
                }
                if a.verb != "create" || a.name.is_empty() {
                    return no("can only create tokens for individual service accounts".into());
                }
                if a.subresource != "token" {
                    return no("can only create token subresource of serviceaccount".into());
                }
                return related(Vertex::ServiceAccount);
            }
            ("coordination.k8s.io", "leases") => {
                if !matches!(
                    a.verb.as_str(),
                    "get" | "create" | "update" | "patch" | "delete"
                ) {
                    return no(
                        "can only get, create, update, patch, or delete a node lease".into(),
                    );
                }
                if a.namespace != NODE_LEASE_NAMESPACE {
                    return no(format!(
                        "can only access leases in the {NODE_LEASE_NAMESPACE:?} system namespace"
                    ));
                }
                if a.verb != "create" && a.name != node {
                    return no(
                        "can only access node lease with the same name as the requesting node"
                            .into(),
                    );
                }
                return allow();
            }
            ("storage.k8s.io", "csinodes") => {
                if !matches!(
                    a.verb.as_str(),
                    "get" | "create" | "update" | "patch" | "delete"
                ) {
                    return no("can only get, create, update, patch, or delete a CSINode".into());
                }
                if !a.subresource.is_empty() {
                    return no("cannot authorize CSINode subresources".into());
                }
                if a.verb != "create" && a.name != node {
                    return no(
                        "can only access CSINode with the same name as the requesting node".into(),
                    );
                }
                return allow();
            }
            ("", "nodes") => {
                return match (a.subresource.as_str(), a.verb.as_str()) {
                    ("", "create" | "update" | "patch") => allow(),
                    ("", "get" | "list" | "watch") if a.name == node => allow(),
                    ("", "get" | "list" | "watch") if a.name.is_empty() => no(format!(
                        "node '{node}' cannot read all nodes, only its own Node object"
                    )),
                    ("", "get" | "list" | "watch") => no(format!(
                        "node '{node}' cannot read '{}', only its own Node object",
                        a.name
                    )),
                    ("status", "update" | "patch") => allow(),
                    _ => no(String::new()),
                };
            }
            ("", "pods") => {
                return match (a.subresource.as_str(), a.verb.as_str()) {
                    ("", "get") => get_only(Vertex::Pod),
                    ("", "list" | "watch") => {
                        if selects_node(&a.field_selector, "spec.nodeName", node) {
                            allow()
                        } else if !a.name.is_empty() {
                            related(Vertex::Pod)
                        } else {
                            no("can only list/watch pods with spec.nodeName field selector".into())
                        }
                    }
                    ("", "create" | "delete") => allow(),
                    ("status", "update" | "patch") => allow(),
                    ("eviction", "create") => allow(),
                    _ => no(String::new()),
                };
            }
            _ => {}
        }
    }
    if node_rules.iter().any(|r| r.allows(a)) {
        return allow();
    }
    (Decision::NoOpinion, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::UserInfo;
    use serde_json::json;

    fn node_user(n: &str) -> UserInfo {
        UserInfo {
            name: format!("system:node:{n}"),
            groups: vec![NODES_GROUP.into(), "system:authenticated".into()],
            ..Default::default()
        }
    }

    fn req(node: &str, verb: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Attributes {
        Attributes {
            user: node_user(node),
            verb: verb.into(),
            resource_request: true,
            api_group: if resource == "leases" {
                "coordination.k8s.io".into()
            } else {
                String::new()
            },
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn graph() -> NodeGraph {
        let mut g = NodeGraph::default();
        g.upsert_pod(&json!({"metadata": {"name": "web", "namespace": "d"},
            "spec": {"nodeName": "n1", "serviceAccountName": "app",
                "imagePullSecrets": [{"name": "pull"}],
                "containers": [{"name": "c", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}}],
                                 "envFrom": [{"configMapRef": {"name": "cfg"}}]}],
                "volumes": [{"name": "v", "secret": {"secretName": "vol-secret"}},
                            {"name": "data", "persistentVolumeClaim": {"claimName": "claim"}},
                            {"name": "p", "projected": {"sources": [{"configMap": {"name": "proj-cm"}}]}}]}}));
        g.upsert_pod(&json!({"metadata": {"name": "pending", "namespace": "d"},
            "spec": {"containers": [], "volumes": [{"name": "v", "secret": {"secretName": "other"}}]}}));
        g.upsert_pv(&json!({"metadata": {"name": "pv1"}, "spec": {"claimRef": {"namespace": "d", "name": "claim"}}}));
        g
    }

    #[test]
    fn node_reads_only_what_its_pods_use() {
        let g = graph();
        let rules = vec![PolicyRule::resource(
            &["get", "list", "watch"],
            &[""],
            &["services"],
        )];
        let ok = |a: Attributes| authorize(&g, &rules, &a).0 == Decision::Allow;
        for s in ["pull", "env-secret", "vol-secret"] {
            assert!(ok(req("n1", "get", "secrets", "", "d", s)), "{s}");
        }
        assert!(
            !ok(req("n1", "get", "secrets", "", "d", "other")),
            "unbound pod's secret"
        );
        assert!(
            !ok(req("n2", "get", "secrets", "", "d", "pull")),
            "another node"
        );
        assert!(
            !ok(req("n1", "get", "secrets", "", "e", "pull")),
            "another namespace"
        );
        assert!(
            !ok(req("n1", "list", "secrets", "", "d", "")),
            "list without a name"
        );
        assert!(!ok(req("n1", "delete", "secrets", "", "d", "pull")));
        assert!(ok(req("n1", "get", "configmaps", "", "d", "cfg")));
        assert!(ok(req("n1", "watch", "configmaps", "", "d", "proj-cm")));
        assert!(ok(req(
            "n1",
            "get",
            "persistentvolumeclaims",
            "",
            "d",
            "claim"
        )));
        assert!(ok(req("n1", "get", "persistentvolumes", "", "", "pv1")));
        assert!(ok(req(
            "n1",
            "create",
            "serviceaccounts",
            "token",
            "d",
            "app"
        )));
        assert!(!ok(req(
            "n1",
            "create",
            "serviceaccounts",
            "token",
            "d",
            "default"
        )));
        assert!(ok(req("n1", "get", "pods", "", "d", "web")));
        assert!(!ok(req("n1", "list", "pods", "", "", "")));
        let mut sel = req("n1", "list", "pods", "", "", "");
        sel.field_selector = "spec.nodeName=n1".into();
        assert!(ok(sel.clone()));
        sel.field_selector = "spec.nodeName=n2".into();
        assert!(!ok(sel));
        assert!(ok(req("n1", "update", "pods", "status", "d", "web")));
        assert!(ok(req("n1", "get", "nodes", "", "", "n1")));
        assert!(!ok(req("n1", "get", "nodes", "", "", "n2")));
        assert!(ok(req(
            "n1",
            "update",
            "leases",
            "",
            "kube-node-lease",
            "n1"
        )));
        assert!(!ok(req(
            "n1",
            "update",
            "leases",
            "",
            "kube-node-lease",
            "n2"
        )));
        assert!(!ok(req("n1", "update", "leases", "", "default", "n1")));
        assert!(
            ok(req("n1", "list", "services", "", "", "")),
            "static node rules"
        );
        let (d, reason) = authorize(&g, &rules, &req("n1", "get", "secrets", "", "d", "other"));
        assert_eq!(d, Decision::NoOpinion);
        assert_eq!(
            reason,
            "no relationship found between node 'n1' and this object"
        );
        // Not a node: no opinion at all.
        let mut a = req("n1", "get", "secrets", "", "d", "pull");
        a.user.groups = vec!["system:authenticated".into()];
        assert_eq!(
            authorize(&g, &rules, &a),
            (Decision::NoOpinion, String::new())
        );
    }

    #[test]
    fn pods_leaving_the_node_revoke() {
        let mut g = graph();
        let rules = vec![];
        let a = req("n1", "get", "secrets", "", "d", "pull");
        assert_eq!(authorize(&g, &rules, &a).0, Decision::Allow);
        g.remove_pod(&json!({"metadata": {"name": "web", "namespace": "d"}}));
        assert_eq!(authorize(&g, &rules, &a).0, Decision::NoOpinion);
    }
}
