//! Objects every cluster has from its first start: the system namespaces, the `kubernetes`
//! Service and its Endpoints, per system namespace the `default` ServiceAccount and the
//! `kube-root-ca.crt` ConfigMap, the system priority classes, and the bootstrap RBAC policy.
//! Idempotent: existing objects are left alone, except that the `kubernetes` Endpoints follow the advertise address and bootstrap
//! RBAC objects that keep `rbac.authorization.kubernetes.io/autoupdate: "true"` get missing rules
//! and subjects added (upstream's reconciliation at every start).

use serde_json::{json, Value};

use k3rs_apis::registry::{self, Resource};

use crate::status::{ApiError, ApiResult};
use crate::store::Api;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

fn res(group: &str, plural: &str) -> ApiResult<&'static Resource> {
    registry::find(group, "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} missing from the registry")))
}

async fn ensure(api: &Api, r: &'static Resource, ns: Option<&str>, obj: Value) -> ApiResult<()> {
    match api.create(r, ns, obj, false).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// What a namespace gets: its `default` ServiceAccount and the cluster CA in `kube-root-ca.crt`.
pub async fn namespace_defaults(api: &Api, ns: &str, ca_pem: &str) -> ApiResult<()> {
    ensure(api, res("", "serviceaccounts")?, Some(ns), json!({
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}
    }))
    .await?;
    ensure(api, res("", "configmaps")?, Some(ns), json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kube-root-ca.crt", "namespace": ns,
                      "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
        "data": {"ca.crt": ca_pem}
    }))
    .await
}

/// The priority classes every cluster has, `system-node-critical` and `system-cluster-critical`
/// (upstream's `scheduling/bootstrap-system-priority-classes`); existing ones are left alone.
pub async fn system_priority_classes(api: &Api) -> ApiResult<()> {
    let pcs = res("scheduling.k8s.io", "priorityclasses")?;
    for (name, value, description) in k3rs_apis::validation::limits::SYSTEM_PRIORITY_CLASSES {
        ensure(
            api,
            pcs,
            None,
            json!({
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name}, "value": value, "description": description,
            }),
        )
        .await?;
    }
    Ok(())
}

/// Creates the objects of a new cluster (no-ops on an existing one).
pub async fn run(api: &Api, ca_pem: &str, advertise_ip: &str, port: u16) -> ApiResult<()> {
    let nsres = res("", "namespaces")?;
    for ns in SYSTEM_NAMESPACES {
        ensure(
            api,
            nsres,
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await?;
    }
    for ns in SYSTEM_NAMESPACES {
        namespace_defaults(api, ns, ca_pem).await?;
    }
    system_priority_classes(api).await?;
    let first_ip = api.service_cidr.first().to_string();
    ensure(api, res("", "services")?, Some("default"), json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                      "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": first_ip, "sessionAffinity": "None",
                  "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]}
    }))
    .await?;
    let endpoints = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                      "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": advertise_ip}],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]
    });
    let epres = res("", "endpoints")?;
    match api
        .create(epres, Some("default"), endpoints.clone(), false)
        .await
    {
        Ok(_) => {}
        Err(e) if e.code == 409 => {
            let subsets = endpoints["subsets"].clone();
            api.update_with(epres, Some("default"), "kubernetes", None, false, |cur| {
                let mut o = cur.clone();
                o["subsets"] = subsets.clone();
                crate::object::meta_mut(&mut o).remove("resourceVersion");
                Ok(o)
            })
            .await?;
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Creates the bootstrap ClusterRoles and ClusterRoleBindings that are missing and reconciles the
/// existing ones (see [`k3rs_auth::bootstrap_policy`]). Runs at every start, so an upgrade that
/// adds rules adds them to existing clusters.
pub async fn rbac_policy(api: &Api) -> ApiResult<()> {
    use k3rs_auth::bootstrap_policy as policy;
    let roles = res("rbac.authorization.k8s.io", "clusterroles")?;
    let bindings = res("rbac.authorization.k8s.io", "clusterrolebindings")?;
    for (r, objects, reconcile) in [
        (
            roles,
            policy::cluster_roles(),
            policy::reconcile_role as fn(&Value, &Value) -> Option<Value>,
        ),
        (
            bindings,
            policy::cluster_role_bindings(),
            policy::reconcile_binding as fn(&Value, &Value) -> Option<Value>,
        ),
    ] {
        for desired in objects {
            let name = crate::object::meta_str(&desired, "name")
                .unwrap_or_default()
                .to_string();
            match api.create(r, None, desired.clone(), false).await {
                Ok(_) => continue,
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
            let current = api.get(r, None, &name).await?;
            if reconcile(&current, &desired).is_none() {
                continue;
            }
            tracing::info!(kind = r.kind, %name, "reconciling bootstrap RBAC object");
            api.update_with(r, None, &name, None, false, |cur| {
                let mut o = reconcile(cur, &desired).unwrap_or_else(|| cur.clone());
                crate::object::meta_mut(&mut o).remove("resourceVersion");
                Ok(o)
            })
            .await?;
        }
    }
    Ok(())
}
