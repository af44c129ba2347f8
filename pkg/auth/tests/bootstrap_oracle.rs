//! The bootstrap RBAC policy against upstream's golden files for v1.35
//! (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata/*.yaml` in the k8s.io/kubernetes Go
//! module, read from the Go module cache; a test oracle only, never shipped). Every upstream
//! default ClusterRole and ClusterRoleBinding must be created by k3rs with the same permissions
//! (compared rule by rule after breaking rules down into single verb/group/resource/name tuples),
//! labels, annotations, aggregation rule, roleRef and subjects; so must every controller role k3rs
//! creates.

use std::collections::BTreeSet;
use std::path::PathBuf;

use k3rs_auth::bootstrap_policy::{cluster_role_bindings, cluster_roles, K3RS_CONTROLLER_BINDINGS};
use k3rs_auth::rbac::{breakdown, rules_of, PolicyRule};
use serde_json::Value;

fn testdata() -> PathBuf {
    let cache = std::env::var("GOMODCACHE")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::process::Command::new("go")
                .args(["env", "GOMODCACHE"])
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        });
    let dir = PathBuf::from(cache.unwrap_or_default())
        .join("k8s.io/kubernetes@v1.35.4/plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata");
    assert!(
        dir.join("cluster-roles.yaml").exists(),
        "the bootstrap policy oracle is missing at {}: run scripts/test, or `go mod download k8s.io/kubernetes@v1.35.4` in a scratch module",
        dir.display()
    );
    dir
}

fn items(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(testdata().join(file)).unwrap();
    let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let v: Value = serde_json::to_value(v).unwrap();
    v["items"].as_array().cloned().unwrap_or_default()
}

fn name(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or("")
}

/// Every single permission a role's rules grant.
fn atoms(v: &Value) -> BTreeSet<PolicyRule> {
    rules_of(v).iter().flat_map(breakdown).collect()
}

fn subjects(v: &Value) -> BTreeSet<String> {
    v["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "{}/{}/{}/{}",
                s["kind"].as_str().unwrap_or(""),
                s["apiGroup"].as_str().unwrap_or(""),
                s["namespace"].as_str().unwrap_or(""),
                s["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn bootstrap_cluster_roles_match_upstream() {
    let ours = cluster_roles();
    let mut upstream = items("cluster-roles.yaml");
    let controllers = items("controller-roles.yaml");
    let mut checked = 0;
    // Every upstream default ClusterRole is ours.
    for u in &upstream {
        assert!(
            ours.iter().any(|o| name(o) == name(u)),
            "missing bootstrap ClusterRole {}",
            name(u)
        );
    }
    upstream.extend(controllers);
    for o in &ours {
        let u = upstream
            .iter()
            .find(|u| name(u) == name(o))
            .unwrap_or_else(|| panic!("{} is not an upstream bootstrap role", name(o)));
        assert_eq!(atoms(o), atoms(u), "rules of {}", name(o));
        assert_eq!(
            o["metadata"]["labels"],
            u["metadata"]["labels"],
            "labels of {}",
            name(o)
        );
        assert_eq!(
            o["metadata"]["annotations"],
            u["metadata"]["annotations"],
            "annotations of {}",
            name(o)
        );
        assert_eq!(
            o.get("aggregationRule"),
            u.get("aggregationRule"),
            "aggregationRule of {}",
            name(o)
        );
        checked += 1;
    }
    assert!(checked >= 35, "only {checked} roles compared");
}

#[test]
fn bootstrap_cluster_role_bindings_match_upstream() {
    let ours = cluster_role_bindings();
    let mut upstream = items("cluster-role-bindings.yaml");
    for u in &upstream {
        assert!(
            ours.iter().any(|o| name(o) == name(u)),
            "missing bootstrap ClusterRoleBinding {}",
            name(u)
        );
    }
    upstream.extend(items("controller-role-bindings.yaml"));
    for o in &ours {
        if name(o).starts_with(K3RS_CONTROLLER_BINDINGS) {
            // k3rs' own: the controller roles bound to the controller manager's user.
            assert_eq!(
                subjects(o),
                BTreeSet::from([
                    "User/rbac.authorization.k8s.io//system:kube-controller-manager".to_string()
                ])
            );
            assert!(ours
                .iter()
                .any(|r| r["metadata"]["name"] == o["roleRef"]["name"]));
            continue;
        }
        let u = upstream
            .iter()
            .find(|u| name(u) == name(o))
            .unwrap_or_else(|| panic!("{} is not an upstream bootstrap binding", name(o)));
        assert_eq!(o["roleRef"], u["roleRef"], "roleRef of {}", name(o));
        assert_eq!(subjects(o), subjects(u), "subjects of {}", name(o));
        assert_eq!(
            o["metadata"]["labels"],
            u["metadata"]["labels"],
            "labels of {}",
            name(o)
        );
        assert_eq!(
            o["metadata"]["annotations"],
            u["metadata"]["annotations"],
            "annotations of {}",
            name(o)
        );
    }
}
