//! Authorization in the API server: the request attributes (upstream's `RequestInfo`), the
//! authorizer chain (system:masters, then the Node authorizer, then RBAC), impersonation, the
//! escalation checks on RBAC writes, and the in-memory state they read — the RBAC objects and the
//! pods/PVs graph — kept current from the server's own storage watch (as upstream's informers), so
//! that authorizing a request costs no datastore round trip.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{json, Value};

use k3rs_apis::registry::{self, Resource};
use k3rs_auth::authn::UserInfo;
use k3rs_auth::bootstrap_policy;
use k3rs_auth::node::{self, NodeGraph};
use k3rs_auth::rbac::{self, Attributes, Decision, Kind, PolicyRule, RbacSnapshot};

use crate::status::{ApiError, ApiResult};
use crate::store::{Api, ListParams, WatchParams};

/// Request attributes from method, path and query, as upstream's `RequestInfoFactory`: verb from
/// the method (`get` without a name is `list`, or `watch` with `?watch` or a `/watch/` path;
/// `delete` without a name is `deletecollection`), the namespace (for `/namespaces/<ns>` it is
/// `<ns>` itself), the name (or the `metadata.name=` field selector of a list/watch), and one
/// subresource segment. Non-resource requests carry the lower-cased method as verb.
pub fn request_attributes(method: &str, path: &str, query: &HashMap<String, String>) -> Attributes {
    let mut a = Attributes {
        verb: method.to_ascii_lowercase(),
        path: path.to_string(),
        ..Default::default()
    };
    let parts: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    if parts.len() < 3 {
        return a;
    }
    let mut rest: &[String] = match parts[0].as_str() {
        "api" => &parts[1..],
        "apis" if parts.len() >= 4 => {
            a.api_group = parts[1].clone();
            &parts[2..]
        }
        _ => return a,
    };
    a.resource_request = true;
    a.api_version = rest[0].clone();
    rest = &rest[1..];
    let mut via_path = false;
    if matches!(rest.first().map(String::as_str), Some("watch" | "proxy")) {
        if rest.len() < 2 {
            // Upstream fails the request info; treat it as a non-resource request.
            a.resource_request = false;
            return a;
        }
        a.verb = rest[0].clone();
        rest = &rest[1..];
        via_path = true;
    } else {
        a.verb = match method {
            "POST" => "create",
            "GET" | "HEAD" => "get",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "",
        }
        .to_string();
    }
    if rest.first().map(String::as_str) == Some("namespaces") && rest.len() > 1 {
        a.namespace = rest[1].clone();
        if rest.len() > 2 && !matches!(rest[2].as_str(), "status" | "finalize") {
            rest = &rest[2..];
        }
    }
    let no_sub = matches!(a.verb.as_str(), "proxy");
    if rest.len() >= 3 && !no_sub {
        a.subresource = rest[2].clone();
    }
    if rest.len() >= 2 {
        a.name = rest[1].clone();
    }
    if let Some(r) = rest.first() {
        a.resource = r.clone();
    }
    if a.name.is_empty() && a.verb == "get" {
        let watch = query
            .get("watch")
            .is_some_and(|w| !matches!(w.to_ascii_lowercase().as_str(), "false" | "0"));
        a.verb = if watch { "watch" } else { "list" }.to_string();
        if let Some(fs) = query.get("fieldSelector") {
            if let Some(n) = exact_name(fs) {
                a.name = n;
            }
        }
    }
    if a.name.is_empty() && a.verb == "delete" {
        a.verb = "deletecollection".into();
    }
    if !via_path && matches!(a.verb.as_str(), "list" | "watch" | "deletecollection") {
        a.field_selector = query.get("fieldSelector").cloned().unwrap_or_default();
    }
    a
}

/// The name a field selector requires with `metadata.name=<n>` (when valid as a path segment).
fn exact_name(fs: &str) -> Option<String> {
    let mut found = None;
    for term in fs.split(',') {
        let t = term.trim();
        let kv = t
            .split_once("==")
            .or_else(|| t.split_once('=').filter(|(k, _)| !k.ends_with('!')));
        if let Some((k, v)) = kv {
            if k.trim() == "metadata.name" {
                found = Some(v.trim().to_string());
            }
        }
    }
    found.filter(|n| !n.is_empty() && n != "." && n != ".." && !n.contains(['/', '%']))
}

/// The authorizers and the state they read.
pub struct Authorizer {
    rbac: RwLock<RbacSnapshot>,
    graph: RwLock<NodeGraph>,
    node_rules: Vec<PolicyRule>,
}

impl Default for Authorizer {
    fn default() -> Self {
        Authorizer {
            rbac: RwLock::default(),
            graph: RwLock::default(),
            node_rules: bootstrap_policy::node_rules(),
        }
    }
}

/// Resources the authorizer watches.
const WATCHED: &[(&str, &str)] = &[
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("", "pods"),
    ("", "persistentvolumes"),
];

impl Authorizer {
    /// The chain's decision: members of `system:masters` may do anything; then the Node
    /// authorizer; then RBAC. The reason is the first authorizer's reason that gave one.
    pub fn authorize(&self, a: &Attributes) -> (Decision, String) {
        if a.user.groups.iter().any(|g| g == rbac::MASTERS) {
            return (Decision::Allow, String::new());
        }
        let mut reasons = Vec::new();
        let (d, why) = match self.graph.read() {
            Ok(g) => node::authorize(&g, &self.node_rules, a),
            Err(_) => (Decision::NoOpinion, "node graph unavailable".into()),
        };
        if d != Decision::NoOpinion {
            return (d, why);
        }
        if !why.is_empty() {
            reasons.push(why);
        }
        let (d, why) = match self.rbac.read() {
            Ok(s) => s.authorize(a),
            Err(_) => (Decision::NoOpinion, "RBAC state unavailable".into()),
        };
        if d != Decision::NoOpinion {
            return (d, why);
        }
        if !why.is_empty() {
            reasons.push(why);
        }
        (Decision::NoOpinion, reasons.join(", "))
    }

    /// Whether the request is allowed.
    pub fn allowed(&self, a: &Attributes) -> bool {
        self.authorize(a).0 == Decision::Allow
    }

    /// The 403 for a denied request, with upstream's message and details.
    pub fn forbidden(a: &Attributes, reason: &str) -> ApiError {
        let mut msg = a.forbidden_message();
        if !reason.is_empty() {
            msg = format!("{msg}: {reason}");
        }
        let qualified = if a.api_group.is_empty() {
            a.resource.clone()
        } else {
            format!("{}.{}", a.resource, a.api_group)
        };
        let full = if !a.resource_request || qualified.is_empty() {
            format!("forbidden: {msg}")
        } else if a.name.is_empty() {
            format!("{qualified} is forbidden: {msg}")
        } else {
            format!("{qualified} {:?} is forbidden: {msg}", a.name)
        };
        let mut details = serde_json::Map::new();
        if !a.name.is_empty() {
            details.insert("name".into(), json!(a.name));
        }
        if !a.api_group.is_empty() {
            details.insert("group".into(), json!(a.api_group));
        }
        if a.resource_request {
            details.insert("kind".into(), json!(a.resource));
        }
        ApiError::forbidden(full).with_details(Value::Object(details))
    }

    /// Authorizes or returns the 403.
    pub fn check(&self, a: &Attributes) -> ApiResult<()> {
        match self.authorize(a) {
            (Decision::Allow, _) => Ok(()),
            (_, reason) => Err(Self::forbidden(a, &reason)),
        }
    }

    /// Every rule granted to `user` in `namespace`, and the errors met resolving role references.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        self.rbac
            .read()
            .map(|s| s.rules_for(user, namespace))
            .unwrap_or_default()
    }

    fn apply(&self, res: &Resource, kind: &str, obj: &Value) {
        let deleted = kind == "DELETED";
        if let Some(k) = Kind::from_plural(res.plural) {
            if let Ok(mut s) = self.rbac.write() {
                if deleted {
                    s.remove(k, obj);
                } else {
                    s.upsert(k, obj);
                }
            }
        } else if let Ok(mut g) = self.graph.write() {
            match (res.plural, deleted) {
                ("pods", false) => g.upsert_pod(obj),
                ("pods", true) => g.remove_pod(obj),
                ("persistentvolumes", false) => g.upsert_pv(obj),
                ("persistentvolumes", true) => g.remove_pv(obj),
                _ => {}
            }
        }
    }

    fn clear(&self, res: &Resource) {
        if let Some(k) = Kind::from_plural(res.plural) {
            if let Ok(mut s) = self.rbac.write() {
                s.clear(k);
            }
        } else if let Ok(mut g) = self.graph.write() {
            g.clear(res.plural == "pods");
        }
    }

    /// Lists one resource into the state; returns the list's resourceVersion.
    async fn relist(&self, api: &Api, res: &'static Resource) -> ApiResult<String> {
        let list = api.list(res, None, &ListParams::default()).await?;
        self.clear(res);
        for item in list["items"].as_array().into_iter().flatten() {
            self.apply(res, "ADDED", item);
        }
        Ok(list
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string())
    }

    /// Loads the state (returns once everything is listed) and keeps it current in background
    /// tasks that follow the store's watch, relisting after a watch ends or fails.
    pub async fn start(self: &Arc<Self>, api: &Api) -> ApiResult<()> {
        for (group, plural) in WATCHED {
            let res = registry::find(group, "v1", plural)
                .ok_or_else(|| ApiError::internal(format!("{plural} missing from the registry")))?;
            let rv = self.relist(api, res).await?;
            let (me, api) = (self.clone(), api.clone());
            tokio::spawn(async move {
                let mut rv = Some(rv);
                loop {
                    let from = match rv.take() {
                        Some(rv) => rv,
                        None => match me.relist(&api, res).await {
                            Ok(rv) => rv,
                            Err(e) => {
                                tracing::warn!(resource = res.plural, error = %e.message, "authorizer relist failed");
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                continue;
                            }
                        },
                    };
                    let p = WatchParams {
                        resource_version: Some(from),
                        timeout: Some(Duration::from_secs(3600)),
                        ..Default::default()
                    };
                    match api.watch(res, None, p).await {
                        Ok(mut rx) => {
                            while let Some(ev) = rx.recv().await {
                                let kind = ev["type"].as_str().unwrap_or("");
                                match kind {
                                    "ADDED" | "MODIFIED" | "DELETED" => {
                                        me.apply(res, kind, &ev["object"])
                                    }
                                    "ERROR" => break,
                                    _ => {}
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!(resource = res.plural, error = %e.message, "authorizer watch failed");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    // A watch that ended (timeout, compaction, datastore trouble): relist, but
                    // never in a tight loop.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        }
        Ok(())
    }

    /// Upstream's escalation checks on writes of RBAC objects by `user` (`new` is the object to be
    /// stored, `old` the current one on updates):
    /// - a Role/ClusterRole may only hold rules the user holds (in that namespace), unless the
    ///   user may `escalate` roles/clusterroles; an aggregationRule needs full authority;
    /// - a binding may only refer to a role whose rules the user holds, unless the user may
    ///   `bind` that role.
    ///
    /// Members of `system:masters` skip the checks.
    pub fn check_rbac_write(
        &self,
        user: &UserInfo,
        res: &Resource,
        ns: Option<&str>,
        new: &Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        if res.group != "rbac.authorization.k8s.io"
            || user.groups.iter().any(|g| g == rbac::MASTERS)
        {
            return Ok(());
        }
        let ns = ns.unwrap_or("");
        let name = new
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let qualified = format!("{}.{}", res.plural, res.group);
        let forbidden = |msg: String| {
            ApiError::forbidden(format!("{qualified} {name:?} is forbidden: {msg}"))
                .with_details(json!({"name": name, "group": res.group, "kind": res.plural}))
        };
        let attrs = |verb: &str, resource: &str, name: &str| Attributes {
            user: user.clone(),
            verb: verb.into(),
            resource_request: true,
            api_group: res.group.into(),
            api_version: "*".into(),
            resource: resource.into(),
            namespace: ns.into(),
            name: name.into(),
            ..Default::default()
        };
        if old.is_some_and(|o| only_gc_fields_changed(o, new)) {
            return Ok(());
        }
        let (owner, _) = self.rules_for(user, ns);
        match res.plural {
            "roles" | "clusterroles" => {
                if self.allowed(&attrs("escalate", res.plural, name)) {
                    return Ok(());
                }
                let (ok, missing) = rbac::covers(&owner, &rbac::rules_of(new));
                if !ok {
                    return Err(forbidden(rbac::escalation_message(user, &missing)));
                }
                let has_agg = |v: &Value| v.get("aggregationRule").is_some_and(|a| !a.is_null());
                if res.plural == "clusterroles" && (has_agg(new) || old.is_some_and(has_agg)) {
                    let full = [
                        PolicyRule::resource(&["*"], &["*"], &["*"]),
                        PolicyRule::urls(&["*"], &["*"]),
                    ];
                    if !rbac::covers(&owner, &full).0 {
                        return Err(forbidden(
                            "must have cluster-admin privileges to use the aggregationRule".into(),
                        ));
                    }
                }
                Ok(())
            }
            "rolebindings" | "clusterrolebindings" => {
                let kind = new
                    .pointer("/roleRef/kind")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let role = new
                    .pointer("/roleRef/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let resource = match kind {
                    "ClusterRole" => "clusterroles",
                    "Role" => "roles",
                    _ => "",
                };
                if !resource.is_empty() && self.allowed(&attrs("bind", resource, role)) {
                    return Ok(());
                }
                let rules = self
                    .rbac
                    .read()
                    .map_err(|_| ApiError::internal("RBAC state unavailable"))?
                    .role_ref_rules(kind, role, ns)
                    .map(<[PolicyRule]>::to_vec);
                let rules = match rules {
                    Ok(r) => r,
                    // Upstream answers with the lookup's NotFound.
                    Err(e) if e.ends_with("not found") => {
                        let (what, plural) = if kind == "Role" {
                            ("role", "roles")
                        } else {
                            ("clusterrole", "clusterroles")
                        };
                        return Err(ApiError::new(404, "NotFound", format!("{what}.rbac.authorization.k8s.io {role:?} not found"))
                            .with_details(json!({"name": role, "group": "rbac.authorization.k8s.io", "kind": plural})));
                    }
                    Err(e) => return Err(ApiError::bad_request(e)),
                };
                let (ok, missing) = rbac::covers(&owner, &rules);
                if !ok {
                    return Err(forbidden(rbac::escalation_message(user, &missing)));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Whether an update changes only what the garbage collector needs (ownerReferences,
/// finalizers, and the server-managed fields), as upstream's `IsOnlyMutatingGCFields`.
fn only_gc_fields_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "ownerReferences",
                "finalizers",
                "resourceVersion",
                "managedFields",
                "generation",
                "creationTimestamp",
                "uid",
                "selfLink",
            ] {
                m.remove(k);
            }
        }
        v
    };
    strip(old) == strip(new)
}

/// Impersonation (`Impersonate-User`, `-Group`, `-Uid`, `-Extra-<key>` headers), as upstream's
/// filter: every requested identity is authorized for the requester with verb `impersonate` on
/// users / groups / serviceaccounts (core group) or uids / userextras/<key>
/// (authentication.k8s.io); then the request runs as the impersonated user. `None` when the
/// request impersonates nobody.
pub fn impersonate(
    authz: &Authorizer,
    requester: &UserInfo,
    headers: &http::HeaderMap,
) -> ApiResult<Option<UserInfo>> {
    let get_all = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let user = get_all("impersonate-user")
        .into_iter()
        .next()
        .filter(|u| !u.is_empty());
    let groups = get_all("impersonate-group");
    let uid = get_all("impersonate-uid")
        .into_iter()
        .next()
        .filter(|u| !u.is_empty());
    let mut extras: Vec<(String, Vec<String>)> = Vec::new();
    for name in headers.keys() {
        // Header names arrive lower-cased; the key is then percent-decoded, as upstream.
        if let Some(key) = name.as_str().strip_prefix("impersonate-extra-") {
            let key = percent_encoding::percent_decode_str(key)
                .decode_utf8()
                .map(|k| k.into_owned())
                .unwrap_or_else(|_| key.to_string());
            extras.push((key, get_all(name.as_str())));
        }
    }
    if user.is_none() && groups.is_empty() && uid.is_none() && extras.is_empty() {
        return Ok(None);
    }
    let Some(user) = user else {
        return Err(ApiError::bad_request(
            "requested impersonation of groups, extra or uid without impersonating a user",
        ));
    };
    let check = |resource: &str, group: &str, ns: &str, name: &str, sub: &str| {
        let a = Attributes {
            user: requester.clone(),
            verb: "impersonate".into(),
            resource_request: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
            ..Default::default()
        };
        authz.check(&a)
    };
    let mut out = UserInfo {
        name: user.clone(),
        ..Default::default()
    };
    let mut implied_groups = Vec::new();
    if let Some((ns, sa)) = rbac::split_service_account_user(&user) {
        check("serviceaccounts", "", ns, sa, "")?;
        implied_groups = rbac::service_account_groups(ns);
    } else {
        check("users", "", "", &user, "")?;
    }
    for g in &groups {
        check("groups", "", "", g, "")?;
    }
    for (key, values) in &extras {
        for v in values {
            check("userextras", "authentication.k8s.io", "", v, key)?;
        }
        out.extra.insert(key.clone(), values.clone());
    }
    if let Some(uid) = &uid {
        check("uids", "authentication.k8s.io", "", uid, "")?;
        out.uid = uid.clone();
    }
    out.groups = if groups.is_empty() {
        implied_groups
    } else {
        groups
    };
    if out.name == rbac::ANONYMOUS {
        if !out.groups.iter().any(|g| g == rbac::UNAUTHENTICATED) {
            out.groups.push(rbac::UNAUTHENTICATED.into());
        }
    } else if !out
        .groups
        .iter()
        .any(|g| g == rbac::AUTHENTICATED || g == rbac::UNAUTHENTICATED)
    {
        out.groups.push(rbac::AUTHENTICATED.into());
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(method: &str, path: &str, query: &str) -> Attributes {
        request_attributes(method, path, &crate::request::parse_query(Some(query)))
    }

    #[test]
    fn request_info_as_upstream() {
        let a = attrs("GET", "/api/v1/namespaces/d/pods", "");
        assert_eq!(
            (
                a.verb.as_str(),
                a.namespace.as_str(),
                a.resource.as_str(),
                a.name.as_str()
            ),
            ("list", "d", "pods", "")
        );
        let a = attrs("GET", "/api/v1/namespaces/d/pods", "watch=true");
        assert_eq!(a.verb, "watch");
        let a = attrs(
            "GET",
            "/api/v1/namespaces/d/pods",
            "watch=1&fieldSelector=metadata.name%3Dp1",
        );
        assert_eq!((a.verb.as_str(), a.name.as_str()), ("watch", "p1"));
        let a = attrs("GET", "/api/v1/watch/namespaces/d/pods/p1", "");
        assert_eq!(
            (a.verb.as_str(), a.name.as_str(), a.namespace.as_str()),
            ("watch", "p1", "d")
        );
        let a = attrs("GET", "/api/v1/namespaces/d/pods/p1/log", "");
        assert_eq!((a.verb.as_str(), a.subresource.as_str()), ("get", "log"));
        let a = attrs("PUT", "/apis/apps/v1/namespaces/d/deployments/x/scale", "");
        assert_eq!(
            (
                a.verb.as_str(),
                a.api_group.as_str(),
                a.subresource.as_str()
            ),
            ("update", "apps", "scale")
        );
        let a = attrs("DELETE", "/api/v1/namespaces/d/configmaps", "");
        assert_eq!(a.verb, "deletecollection");
        // A namespace is in its own namespace.
        let a = attrs("GET", "/api/v1/namespaces/kube-system", "");
        assert_eq!(
            (a.resource.as_str(), a.name.as_str(), a.namespace.as_str()),
            ("namespaces", "kube-system", "kube-system")
        );
        let a = attrs("PUT", "/api/v1/namespaces/x/finalize", "");
        assert_eq!(
            (
                a.resource.as_str(),
                a.subresource.as_str(),
                a.namespace.as_str()
            ),
            ("namespaces", "finalize", "x")
        );
        let a = attrs("GET", "/api/v1/namespaces", "");
        assert_eq!((a.verb.as_str(), a.namespace.as_str()), ("list", ""));
        for p in [
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/version",
            "/healthz",
        ] {
            let a = attrs("GET", p, "");
            assert!(!a.resource_request, "{p}");
            assert_eq!(a.verb, "get");
        }
        assert_eq!(attrs("POST", "/version", "").verb, "post");
    }

    #[test]
    fn impersonation_builds_the_user_and_checks_each_part() {
        let authz = Authorizer::default();
        let admin = UserInfo {
            name: "admin".into(),
            groups: vec![rbac::MASTERS.into()],
            ..Default::default()
        };
        let mut h = http::HeaderMap::new();
        assert_eq!(impersonate(&authz, &admin, &h).unwrap(), None);
        h.insert(
            "impersonate-user",
            "system:serviceaccount:ns1:robot".parse().unwrap(),
        );
        h.insert("impersonate-uid", "u-1".parse().unwrap());
        h.append("impersonate-extra-scopes%2Fa", "x".parse().unwrap());
        h.append("impersonate-extra-scopes%2Fa", "y".parse().unwrap());
        let u = impersonate(&authz, &admin, &h).unwrap().unwrap();
        assert_eq!(u.name, "system:serviceaccount:ns1:robot");
        assert_eq!(u.uid, "u-1");
        assert_eq!(
            u.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns1",
                "system:authenticated"
            ]
        );
        assert_eq!(u.extra["scopes/a"], ["x", "y"]);
        // Explicit groups replace the implied ones.
        h.insert("impersonate-group", "g1".parse().unwrap());
        let u = impersonate(&authz, &admin, &h).unwrap().unwrap();
        assert_eq!(u.groups, ["g1", "system:authenticated"]);
        // Anonymous gets system:unauthenticated instead.
        let mut h = http::HeaderMap::new();
        h.insert("impersonate-user", "system:anonymous".parse().unwrap());
        let u = impersonate(&authz, &admin, &h).unwrap().unwrap();
        assert_eq!(u.groups, ["system:unauthenticated"]);
        // Without RBAC grants, a plain user may not; the denial names the impersonated object.
        let bob = UserInfo {
            name: "bob".into(),
            ..Default::default()
        };
        let e = impersonate(&authz, &bob, &h).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "users \"system:anonymous\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        );
        let mut h = http::HeaderMap::new();
        h.insert("impersonate-group", "g".parse().unwrap());
        assert_eq!(impersonate(&authz, &admin, &h).unwrap_err().code, 400);
    }

    #[test]
    fn forbidden_messages() {
        let mut a = attrs("GET", "/api/v1/namespaces/d/pods/p/log", "");
        a.user.name = "bob".into();
        assert_eq!(
            Authorizer::forbidden(&a, "").message,
            "pods \"p\" is forbidden: User \"bob\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"d\""
        );
        let mut a = attrs("GET", "/apis/apps/v1/deployments", "");
        a.user.name = "bob".into();
        assert_eq!(
            Authorizer::forbidden(&a, "").message,
            "deployments.apps is forbidden: User \"bob\" cannot list resource \"deployments\" in API group \"apps\" at the cluster scope"
        );
        let mut a = attrs("GET", "/metrics", "");
        a.user.name = "bob".into();
        assert_eq!(
            Authorizer::forbidden(&a, "").message,
            "forbidden: User \"bob\" cannot get path \"/metrics\""
        );
    }
}
