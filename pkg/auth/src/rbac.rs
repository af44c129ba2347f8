//! RBAC evaluation: the rules of Roles and ClusterRoles, who RoleBindings and ClusterRoleBindings
//! grant them to, and whether a request (an [`Attributes`]) is allowed. Pure logic over an
//! in-memory [`RbacSnapshot`] that the API server keeps current from its own watch; no I/O.
//!
//! Semantics follow upstream's RBAC authorizer (k8s.io/kubernetes `plugin/pkg/auth/authorizer/rbac`
//! and `pkg/apis/rbac/v1/evaluation_helpers.go`):
//! - a rule matches when a verb, an API group and a resource (`res`, `res/sub`, `*`, or `*/sub`
//!   for a subresource) match and, if the rule names resources, the request's name is one of them;
//!   non-resource rules match a path exactly or by a trailing `*` prefix. `pods/*` is not a wildcard
//!   upstream (it only matches a subresource literally called `*`), so it is not one here.
//! - ClusterRoleBindings apply everywhere; RoleBindings only in their namespace, and may refer to a
//!   ClusterRole (whose rules then apply in that namespace only).
//! - Subjects: `User` by name, `Group` by membership, `ServiceAccount` as the user
//!   `system:serviceaccount:<ns>:<name>` (the namespace defaults to the RoleBinding's).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Value};

use crate::authn::UserInfo;

/// The group every authenticated user has.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The group of anonymous requests.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// The user of anonymous requests.
pub const ANONYMOUS: &str = "system:anonymous";
/// Members may do anything, with no RBAC lookup (upstream's `system:masters`).
pub const MASTERS: &str = "system:masters";
/// Prefix of service-account user names.
pub const SA_PREFIX: &str = "system:serviceaccount:";
/// Group of every service account.
pub const ALL_SERVICE_ACCOUNTS: &str = "system:serviceaccounts";

/// `system:serviceaccount:<ns>:<name>`.
pub fn service_account_user(ns: &str, name: &str) -> String {
    format!("{SA_PREFIX}{ns}:{name}")
}

/// `(namespace, name)` of a service-account user name, as upstream's `SplitUsername`.
pub fn split_service_account_user(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix(SA_PREFIX)?;
    let (ns, name) = rest.split_once(':')?;
    if ns.is_empty() || name.is_empty() || name.contains(':') {
        return None;
    }
    Some((ns, name))
}

/// The groups a service account's user is in: `system:serviceaccounts`, `system:serviceaccounts:<ns>`.
pub fn service_account_groups(ns: &str) -> Vec<String> {
    vec![
        ALL_SERVICE_ACCOUNTS.to_string(),
        format!("{ALL_SERVICE_ACCOUNTS}:{ns}"),
    ]
}

/// What a request asks to do, as upstream's `authorizer.Attributes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    pub user: UserInfo,
    pub verb: String,
    /// True for `/api/...` and `/apis/<g>/<v>/...` requests naming a resource.
    pub resource_request: bool,
    pub api_group: String,
    pub api_version: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// The URL path (non-resource requests).
    pub path: String,
    /// The `fieldSelector` query parameter of list/watch requests (the node authorizer reads it).
    pub field_selector: String,
}

impl Attributes {
    /// `pods` or `pods/log`.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }

    /// Upstream's denial message without the resource prefix: `User "u" cannot get resource
    /// "pods" in API group "" in the namespace "ns"` (or `... cannot get path "/x"`).
    pub fn forbidden_message(&self) -> String {
        let user = &self.user.name;
        if !self.resource_request {
            return format!("User {user:?} cannot {} path {:?}", self.verb, self.path);
        }
        let scope = if self.namespace.is_empty() {
            " at the cluster scope".to_string()
        } else {
            format!(" in the namespace {:?}", self.namespace)
        };
        format!(
            "User {user:?} cannot {} resource {:?} in API group {:?}{scope}",
            self.verb,
            self.combined_resource(),
            self.api_group
        )
    }
}

/// An authorizer's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    NoOpinion,
}

/// One rule of a Role or ClusterRole.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn s<I: IntoIterator<Item = T>, T: AsRef<str>>(items: I) -> Vec<String> {
    items.into_iter().map(|x| x.as_ref().to_string()).collect()
}

impl PolicyRule {
    /// A resource rule.
    pub fn resource(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: s(verbs),
            api_groups: s(groups),
            resources: s(resources),
            ..Default::default()
        }
    }

    /// A non-resource rule.
    pub fn urls(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: s(verbs),
            non_resource_urls: s(urls),
            ..Default::default()
        }
    }

    /// Restricts the rule to these names.
    pub fn names(mut self, names: &[&str]) -> PolicyRule {
        self.resource_names = s(names);
        self
    }

    /// Reads a rule from its JSON form (unknown or mistyped fields are ignored).
    pub fn from_json(v: &Value) -> PolicyRule {
        PolicyRule {
            verbs: strings(v, "verbs"),
            api_groups: strings(v, "apiGroups"),
            resources: strings(v, "resources"),
            resource_names: strings(v, "resourceNames"),
            non_resource_urls: strings(v, "nonResourceURLs"),
        }
    }

    /// The JSON form (empty lists omitted, as the API serves them).
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in [
            ("verbs", &self.verbs),
            ("apiGroups", &self.api_groups),
            ("resources", &self.resources),
            ("resourceNames", &self.resource_names),
            ("nonResourceURLs", &self.non_resource_urls),
        ] {
            if !v.is_empty() || k == "verbs" {
                m.insert(k.to_string(), json!(v));
            }
        }
        Value::Object(m)
    }

    fn verb_matches(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == "*" || v == verb)
    }

    fn group_matches(&self, group: &str) -> bool {
        self.api_groups.iter().any(|g| g == "*" || g == group)
    }

    fn resource_matches(&self, combined: &str, subresource: &str) -> bool {
        self.resources.iter().any(|r| {
            r == "*"
                || r == combined
                || (!subresource.is_empty()
                    && r.len() == subresource.len() + 2
                    && r.starts_with("*/")
                    && r.ends_with(subresource))
        })
    }

    fn name_matches(&self, name: &str) -> bool {
        self.resource_names.is_empty() || self.resource_names.iter().any(|n| n == name)
    }

    fn url_matches(&self, path: &str) -> bool {
        self.non_resource_urls.iter().any(|u| {
            u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
        })
    }

    /// Whether this rule allows the request.
    pub fn allows(&self, a: &Attributes) -> bool {
        if a.resource_request {
            self.verb_matches(&a.verb)
                && self.group_matches(&a.api_group)
                && self.resource_matches(&a.combined_resource(), &a.subresource)
                && self.name_matches(&a.name)
        } else {
            self.verb_matches(&a.verb) && self.url_matches(&a.path)
        }
    }

    /// Upstream's compact form for escalation messages:
    /// `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`.
    pub fn compact_string(&self) -> String {
        let q = |v: &[String]| {
            format!(
                "[{}]",
                v.iter()
                    .map(|x| format!("{x:?}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        let mut parts = Vec::new();
        if !self.api_groups.is_empty() {
            parts.push(format!("APIGroups:{}", q(&self.api_groups)));
        }
        if !self.resources.is_empty() {
            parts.push(format!("Resources:{}", q(&self.resources)));
        }
        if !self.non_resource_urls.is_empty() {
            parts.push(format!("NonResourceURLs:{}", q(&self.non_resource_urls)));
        }
        if !self.resource_names.is_empty() {
            parts.push(format!("ResourceNames:{}", q(&self.resource_names)));
        }
        if !self.verbs.is_empty() {
            parts.push(format!("Verbs:{}", q(&self.verbs)));
        }
        format!("{{{}}}", parts.join(", "))
    }
}

/// Splits a rule into rules with one group, resource, verb and name each (or one URL and verb).
pub fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    for g in &rule.api_groups {
        for r in &rule.resources {
            for v in &rule.verbs {
                if rule.resource_names.is_empty() {
                    out.push(PolicyRule {
                        verbs: vec![v.clone()],
                        api_groups: vec![g.clone()],
                        resources: vec![r.clone()],
                        ..Default::default()
                    });
                } else {
                    for n in &rule.resource_names {
                        out.push(PolicyRule {
                            verbs: vec![v.clone()],
                            api_groups: vec![g.clone()],
                            resources: vec![r.clone()],
                            resource_names: vec![n.clone()],
                            ..Default::default()
                        });
                    }
                }
            }
        }
    }
    for u in &rule.non_resource_urls {
        for v in &rule.verbs {
            out.push(PolicyRule {
                verbs: vec![v.clone()],
                non_resource_urls: vec![u.clone()],
                ..Default::default()
            });
        }
    }
    out
}

fn has(set: &[String], x: &str) -> bool {
    set.iter().any(|s| s == x)
}

fn has_all(set: &[String], xs: &[String]) -> bool {
    xs.iter().all(|x| has(set, x))
}

fn resources_cover(owner: &[String], wanted: &[String]) -> bool {
    if has(owner, "*") || has_all(owner, wanted) {
        return true;
    }
    wanted.iter().all(|path| {
        has(owner, path)
            || path
                .split_once('/')
                .is_some_and(|(_, sub)| has(owner, &format!("*/{sub}")))
    })
}

fn url_covers(owner: &str, sub: &str) -> bool {
    owner == sub || (owner.ends_with('*') && sub.starts_with(owner.trim_end_matches('*')))
}

/// Whether `owner` (any rule) covers `sub` (one broken-down rule), as upstream's `ruleCovers`.
fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, "*") || has_all(&owner.api_groups, &sub.api_groups);
    let resources = resources_cover(&owner.resources, &sub.resources);
    let urls = sub
        .non_resource_urls
        .iter()
        .all(|p| owner.non_resource_urls.iter().any(|o| url_covers(o, p)));
    let names = if sub.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &sub.resource_names)
    };
    verbs && groups && resources && urls && names
}

/// Whether `owner` rules grant everything `servant` rules do; the second value lists the
/// broken-down servant rules that are not covered.
pub fn covers(owner: &[PolicyRule], servant: &[PolicyRule]) -> (bool, Vec<PolicyRule>) {
    let missing: Vec<PolicyRule> = servant
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|o| rule_covers(o, sub)))
        .collect();
    (missing.is_empty(), missing)
}

/// Merges broken-down resource rules that differ only in their verbs (upstream's `CompactRules`).
pub fn compact(rules: &[PolicyRule]) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    for r in rules {
        let simple = r.api_groups.len() == 1
            && r.resources.len() == 1
            && r.resource_names.len() <= 1
            && r.non_resource_urls.is_empty();
        if simple {
            if let Some(existing) = out.iter_mut().find(|o| {
                o.api_groups == r.api_groups
                    && o.resources == r.resources
                    && o.resource_names == r.resource_names
                    && o.non_resource_urls.is_empty()
            }) {
                for v in &r.verbs {
                    if !has(&existing.verbs, v) {
                        existing.verbs.push(v.clone());
                    }
                }
                continue;
            }
        }
        out.push(r.clone());
    }
    out
}

/// Upstream's escalation error text (without the `<resource> "<name>" is forbidden: ` prefix).
pub fn escalation_message(user: &UserInfo, missing: &[PolicyRule]) -> String {
    let descriptions: BTreeSet<String> = compact(missing)
        .iter()
        .map(PolicyRule::compact_string)
        .collect();
    let groups = format!(
        "[{}]",
        user.groups
            .iter()
            .map(|g| format!("{g:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    format!(
        "user {:?} (groups={groups}) is attempting to grant RBAC permissions not currently held:\n{}",
        user.name,
        descriptions.into_iter().collect::<Vec<_>>().join("\n")
    )
}

/// A subject of a binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

impl Subject {
    fn from_json(v: &Value) -> Subject {
        let f = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Subject {
            kind: f("kind"),
            name: f("name"),
            namespace: f("namespace"),
        }
    }

    /// Whether the subject is this user (`binding_ns` defaults a ServiceAccount's namespace).
    pub fn applies_to(&self, user: &UserInfo, binding_ns: &str) -> bool {
        match self.kind.as_str() {
            "User" => user.name == self.name,
            "Group" => user.groups.contains(&self.name),
            "ServiceAccount" => {
                let ns = if self.namespace.is_empty() {
                    binding_ns
                } else {
                    &self.namespace
                };
                !ns.is_empty() && user.name == service_account_user(ns, &self.name)
            }
            _ => false,
        }
    }

    fn describe(&self, binding_ns: &str) -> String {
        if self.kind == "ServiceAccount" {
            let ns = if self.namespace.is_empty() {
                binding_ns
            } else {
                &self.namespace
            };
            format!("{} {:?}", self.kind, format!("{}/{ns}", self.name))
        } else {
            format!("{} {:?}", self.kind, self.name)
        }
    }
}

/// A RoleBinding (namespace set) or ClusterRoleBinding (namespace empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub namespace: String,
    pub name: String,
    pub role_kind: String,
    pub role_name: String,
    pub subjects: Vec<Subject>,
}

impl Binding {
    pub fn from_json(v: &Value) -> Binding {
        let m = |k: &str| {
            v.pointer(&format!("/metadata/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let r = |k: &str| {
            v.pointer(&format!("/roleRef/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        Binding {
            namespace: m("namespace"),
            name: m("name"),
            role_kind: r("kind"),
            role_name: r("name"),
            subjects: v
                .get("subjects")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(Subject::from_json).collect())
                .unwrap_or_default(),
        }
    }

    fn describe(&self, subject: &Subject) -> String {
        if self.namespace.is_empty() {
            format!(
                "ClusterRoleBinding {:?} of {} {:?} to {}",
                self.name,
                self.role_kind,
                self.role_name,
                subject.describe("")
            )
        } else {
            format!(
                "RoleBinding {:?} of {} {:?} to {}",
                format!("{}/{}", self.name, self.namespace),
                self.role_kind,
                self.role_name,
                subject.describe(&self.namespace)
            )
        }
    }
}

/// A Role or ClusterRole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub rules: Vec<PolicyRule>,
    /// `aggregationRule.clusterRoleSelectors` (ClusterRoles only); `None` when absent.
    pub aggregation: Option<Vec<Value>>,
}

impl Role {
    pub fn from_json(v: &Value) -> Role {
        Role {
            name: v
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            labels: v
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
            rules: rules_of(v),
            aggregation: v
                .pointer("/aggregationRule/clusterRoleSelectors")
                .and_then(Value::as_array)
                .cloned()
                .or_else(|| {
                    v.get("aggregationRule")
                        .filter(|a| a.is_object())
                        .map(|_| Vec::new())
                }),
        }
    }
}

/// The rules of a Role or ClusterRole object.
pub fn rules_of(v: &Value) -> Vec<PolicyRule> {
    v.get("rules")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(PolicyRule::from_json).collect())
        .unwrap_or_default()
}

/// Which RBAC kind an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
}

impl Kind {
    /// The kind stored under a resource (plural) name.
    pub fn from_plural(plural: &str) -> Option<Kind> {
        Some(match plural {
            "roles" => Kind::Role,
            "clusterroles" => Kind::ClusterRole,
            "rolebindings" => Kind::RoleBinding,
            "clusterrolebindings" => Kind::ClusterRoleBinding,
            _ => return None,
        })
    }
}

/// Every Role, ClusterRole and binding, indexed for authorization.
#[derive(Clone, Debug, Default)]
pub struct RbacSnapshot {
    cluster_roles: HashMap<String, Role>,
    roles: HashMap<(String, String), Role>,
    cluster_role_bindings: BTreeMap<String, Binding>,
    role_bindings: HashMap<String, BTreeMap<String, Binding>>,
}

fn ns_name(v: &Value) -> (String, String) {
    let f = |k: &str| {
        v.pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (f("namespace"), f("name"))
}

impl RbacSnapshot {
    /// Adds or replaces an object.
    pub fn upsert(&mut self, kind: Kind, obj: &Value) {
        let (ns, name) = ns_name(obj);
        match kind {
            Kind::Role => {
                self.roles.insert((ns, name), Role::from_json(obj));
            }
            Kind::ClusterRole => {
                self.cluster_roles.insert(name, Role::from_json(obj));
            }
            Kind::RoleBinding => {
                self.role_bindings
                    .entry(ns)
                    .or_default()
                    .insert(name, Binding::from_json(obj));
            }
            Kind::ClusterRoleBinding => {
                self.cluster_role_bindings
                    .insert(name, Binding::from_json(obj));
            }
        }
    }

    /// Removes an object.
    pub fn remove(&mut self, kind: Kind, obj: &Value) {
        let (ns, name) = ns_name(obj);
        match kind {
            Kind::Role => {
                self.roles.remove(&(ns, name));
            }
            Kind::ClusterRole => {
                self.cluster_roles.remove(&name);
            }
            Kind::RoleBinding => {
                if let Some(m) = self.role_bindings.get_mut(&ns) {
                    m.remove(&name);
                    if m.is_empty() {
                        self.role_bindings.remove(&ns);
                    }
                }
            }
            Kind::ClusterRoleBinding => {
                self.cluster_role_bindings.remove(&name);
            }
        }
    }

    /// Drops every object of one kind (before a relist).
    pub fn clear(&mut self, kind: Kind) {
        match kind {
            Kind::Role => self.roles.clear(),
            Kind::ClusterRole => self.cluster_roles.clear(),
            Kind::RoleBinding => self.role_bindings.clear(),
            Kind::ClusterRoleBinding => self.cluster_role_bindings.clear(),
        }
    }

    /// A ClusterRole by name.
    pub fn cluster_role(&self, name: &str) -> Option<&Role> {
        self.cluster_roles.get(name)
    }

    /// The rules a binding's roleRef grants, or upstream's not-found error text.
    pub fn role_ref_rules(
        &self,
        kind: &str,
        name: &str,
        binding_ns: &str,
    ) -> Result<&[PolicyRule], String> {
        match kind {
            "Role" => self
                .roles
                .get(&(binding_ns.to_string(), name.to_string()))
                .map(|r| r.rules.as_slice())
                .ok_or_else(|| format!("role.rbac.authorization.k8s.io {name:?} not found")),
            "ClusterRole" => self
                .cluster_roles
                .get(name)
                .map(|r| r.rules.as_slice())
                .ok_or_else(|| format!("clusterrole.rbac.authorization.k8s.io {name:?} not found")),
            other => Err(format!("unsupported role reference kind: {other:?}")),
        }
    }

    /// Visits every rule granted to `user` in `namespace` (cluster-wide grants first), with a
    /// description of its source; resolution errors go to `on_error`. Stops when `visit` returns false.
    fn visit(
        &self,
        user: &UserInfo,
        namespace: &str,
        mut visit: impl FnMut(&PolicyRule, &dyn Fn() -> String) -> bool,
        mut on_error: impl FnMut(String),
    ) {
        let empty = BTreeMap::new();
        let namespaced = if namespace.is_empty() {
            &empty
        } else {
            self.role_bindings.get(namespace).unwrap_or(&empty)
        };
        for (b, ns) in self
            .cluster_role_bindings
            .values()
            .map(|b| (b, ""))
            .chain(namespaced.values().map(|b| (b, namespace)))
        {
            let Some(subject) = b.subjects.iter().find(|s| s.applies_to(user, ns)) else {
                continue;
            };
            match self.role_ref_rules(&b.role_kind, &b.role_name, ns) {
                Ok(rules) => {
                    for r in rules {
                        if !visit(r, &|| b.describe(subject)) {
                            return;
                        }
                    }
                }
                Err(e) => on_error(e),
            }
        }
    }

    /// RBAC's decision: `Allow` with the granting binding as reason, or `NoOpinion` with the
    /// resolution errors met (if any) as reason.
    pub fn authorize(&self, a: &Attributes) -> (Decision, String) {
        let mut allowed = None;
        let mut errors = Vec::new();
        self.visit(
            &a.user,
            &a.namespace,
            |rule, source| {
                if rule.allows(a) {
                    allowed = Some(format!("RBAC: allowed by {}", source()));
                    false
                } else {
                    true
                }
            },
            |e| errors.push(e),
        );
        match allowed {
            Some(reason) => (Decision::Allow, reason),
            None if errors.is_empty() => (Decision::NoOpinion, String::new()),
            None if errors.len() == 1 => (Decision::NoOpinion, format!("RBAC: {}", errors[0])),
            None => (
                Decision::NoOpinion,
                format!("RBAC: [{}]", errors.join(", ")),
            ),
        }
    }

    /// Every rule granted to `user` in `namespace` (cluster-wide ones included), and the errors
    /// met resolving role references.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        self.visit(
            user,
            namespace,
            |r, _| {
                rules.push(r.clone());
                true
            },
            |e| errors.push(e),
        );
        (rules, errors)
    }
}

/// Whether a label set matches one `metav1.LabelSelector` (JSON). A selector with neither
/// `matchLabels` nor `matchExpressions` matches everything, as upstream; an unknown operator
/// matches nothing.
pub fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    if let Some(m) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            if labels.get(k).map(String::as_str) != v.as_str() {
                return false;
            }
        }
    }
    if let Some(exprs) = selector.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values = strings(e, "values");
            let have = labels.get(key);
            let ok = match e.get("operator").and_then(Value::as_str) {
                Some("In") => have.is_some_and(|h| has(&values, h)),
                Some("NotIn") => have.is_none_or(|h| !has(&values, h)),
                Some("Exists") => have.is_some(),
                Some("DoesNotExist") => have.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// The rules an aggregated ClusterRole should have: the union, without repeats, of the rules of
/// every other ClusterRole matched by one of its selectors, taken in name order (as upstream's
/// clusterrole-aggregation controller). `None` when `role` has no aggregation rule.
pub fn aggregated_rules(role: &Role, all: &[Role]) -> Option<Vec<PolicyRule>> {
    let selectors = role.aggregation.as_ref()?;
    let mut matched: Vec<&Role> = all
        .iter()
        .filter(|r| r.name != role.name)
        .filter(|r| selectors.iter().any(|s| selector_matches(s, &r.labels)))
        .collect();
    matched.sort_by(|a, b| a.name.cmp(&b.name));
    let mut rules: Vec<PolicyRule> = Vec::new();
    for r in matched {
        for rule in &r.rules {
            if !rules.contains(rule) {
                rules.push(rule.clone());
            }
        }
    }
    Some(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: s(groups),
            ..Default::default()
        }
    }

    fn res(verb: &str, group: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Attributes {
        Attributes {
            user: user("alice", &[AUTHENTICATED]),
            verb: verb.into(),
            resource_request: true,
            api_group: group.into(),
            api_version: "v1".into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn path(verb: &str, p: &str) -> Attributes {
        Attributes {
            user: user("alice", &[AUTHENTICATED]),
            verb: verb.into(),
            path: p.into(),
            ..Default::default()
        }
    }

    #[test]
    fn rule_matching_verbs_groups_resources_names() {
        let r = PolicyRule::resource(&["get", "list"], &[""], &["pods", "pods/log"]);
        assert!(r.allows(&res("get", "", "pods", "", "d", "p")));
        assert!(r.allows(&res("list", "", "pods", "", "d", "")));
        assert!(!r.allows(&res("watch", "", "pods", "", "d", "")));
        assert!(!r.allows(&res("get", "apps", "pods", "", "d", "p")));
        assert!(r.allows(&res("get", "", "pods", "log", "d", "p")));
        assert!(!r.allows(&res("get", "", "pods", "exec", "d", "p")));
        let star = PolicyRule::resource(&["*"], &["*"], &["*"]);
        assert!(star.allows(&res(
            "escalate",
            "rbac.authorization.k8s.io",
            "roles",
            "",
            "",
            "x"
        )));
        let scale = PolicyRule::resource(&["update"], &["apps"], &["*/scale"]);
        assert!(scale.allows(&res("update", "apps", "deployments", "scale", "d", "x")));
        assert!(!scale.allows(&res("update", "apps", "deployments", "", "d", "x")));
        assert!(!scale.allows(&res("update", "apps", "deployments", "status", "d", "x")));
        // `pods/*` is not a wildcard upstream.
        let podsub = PolicyRule::resource(&["get"], &[""], &["pods/*"]);
        assert!(!podsub.allows(&res("get", "", "pods", "log", "d", "x")));
        let named = PolicyRule::resource(&["get"], &[""], &["configmaps"]).names(&["a"]);
        assert!(named.allows(&res("get", "", "configmaps", "", "d", "a")));
        assert!(!named.allows(&res("get", "", "configmaps", "", "d", "b")));
        assert!(!named.allows(&res("list", "", "configmaps", "", "d", "")));
        // A resource rule never matches a path and the other way round.
        assert!(!star.allows(&path("get", "/healthz")));
        let urls = PolicyRule::urls(&["get"], &["/healthz", "/apis/*"]);
        assert!(urls.allows(&path("get", "/healthz")));
        assert!(!urls.allows(&path("get", "/healthz/etcd")));
        assert!(urls.allows(&path("get", "/apis/apps/v1")));
        assert!(!urls.allows(&path("post", "/apis/apps/v1")));
        assert!(!urls.allows(&res("get", "", "pods", "", "", "")));
        assert!(PolicyRule::urls(&["*"], &["*"]).allows(&path("delete", "/x")));
    }

    fn obj(v: Value) -> Value {
        v
    }

    fn snapshot() -> RbacSnapshot {
        let mut s = RbacSnapshot::default();
        s.upsert(
            Kind::ClusterRole,
            &obj(json!({"metadata": {"name": "reader"}, "rules": [
                {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods", "pods/log"]}]})),
        );
        s.upsert(
            Kind::Role,
            &obj(
                json!({"metadata": {"name": "cm", "namespace": "a"}, "rules": [
                {"verbs": ["create"], "apiGroups": [""], "resources": ["configmaps"]}]}),
            ),
        );
        s.upsert(
            Kind::RoleBinding,
            &obj(json!({"metadata": {"name": "rb", "namespace": "a"},
                "roleRef": {"kind": "ClusterRole", "name": "reader", "apiGroup": "rbac.authorization.k8s.io"},
                "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "robot"}]})),
        );
        s.upsert(
            Kind::RoleBinding,
            &obj(json!({"metadata": {"name": "rb2", "namespace": "a"},
                "roleRef": {"kind": "Role", "name": "cm"},
                "subjects": [{"kind": "Group", "name": "devs"}]})),
        );
        s.upsert(
            Kind::ClusterRoleBinding,
            &obj(json!({"metadata": {"name": "crb"},
                "roleRef": {"kind": "ClusterRole", "name": "missing"},
                "subjects": [{"kind": "Group", "name": "system:authenticated"}]})),
        );
        s
    }

    #[test]
    fn bindings_scope_and_subjects() {
        let s = snapshot();
        let (d, reason) = s.authorize(&res("get", "", "pods", "", "a", "p"));
        assert_eq!(d, Decision::Allow);
        assert_eq!(
            reason,
            "RBAC: allowed by RoleBinding \"rb/a\" of ClusterRole \"reader\" to User \"alice\""
        );
        // The RoleBinding grants nothing in another namespace or cluster-wide.
        let (d, reason) = s.authorize(&res("get", "", "pods", "", "b", "p"));
        assert_eq!(d, Decision::NoOpinion);
        assert_eq!(
            reason,
            "RBAC: clusterrole.rbac.authorization.k8s.io \"missing\" not found"
        );
        assert_eq!(
            s.authorize(&res("list", "", "pods", "", "", "")).0,
            Decision::NoOpinion
        );
        // A service account subject defaults to the binding's namespace.
        let mut a = res("get", "", "pods", "log", "a", "p");
        a.user = user("system:serviceaccount:a:robot", &[ALL_SERVICE_ACCOUNTS]);
        assert_eq!(s.authorize(&a).0, Decision::Allow);
        a.user.name = "system:serviceaccount:b:robot".into();
        assert_eq!(s.authorize(&a).0, Decision::NoOpinion);
        // Group subject, Role reference.
        let mut a = res("create", "", "configmaps", "", "a", "");
        a.user = user("bob", &["devs"]);
        assert_eq!(s.authorize(&a).0, Decision::Allow);
        a.verb = "delete".into();
        assert_eq!(s.authorize(&a).0, Decision::NoOpinion);
        let (rules, errors) = s.rules_for(&user("bob", &["devs", AUTHENTICATED]), "a");
        assert_eq!(rules.len(), 1);
        assert_eq!(errors.len(), 1);
        // Deleting the binding revokes.
        let mut s = s;
        s.remove(
            Kind::RoleBinding,
            &json!({"metadata": {"name": "rb2", "namespace": "a"}}),
        );
        let mut a = res("create", "", "configmaps", "", "a", "");
        a.user = user("bob", &["devs"]);
        assert_eq!(s.authorize(&a).0, Decision::NoOpinion);
    }

    #[test]
    fn covers_and_escalation_message() {
        let owner = vec![
            PolicyRule::resource(&["get", "list"], &[""], &["pods", "*/scale"]),
            PolicyRule::resource(&["get"], &[""], &["secrets"]).names(&["a", "b"]),
            PolicyRule::urls(&["get"], &["/logs/*"]),
        ];
        assert!(covers(&owner, &[PolicyRule::resource(&["get"], &[""], &["pods"])]).0);
        assert!(
            covers(
                &owner,
                &[PolicyRule::resource(
                    &["list"],
                    &[""],
                    &["deployments/scale"]
                )]
            )
            .0
        );
        assert!(
            covers(
                &owner,
                &[PolicyRule::resource(&["get"], &[""], &["secrets"]).names(&["a"])]
            )
            .0
        );
        assert!(
            !covers(
                &owner,
                &[PolicyRule::resource(&["get"], &[""], &["secrets"])]
            )
            .0
        );
        assert!(covers(&owner, &[PolicyRule::urls(&["get"], &["/logs/x"])]).0);
        assert!(!covers(&owner, &[PolicyRule::urls(&["get"], &["/metrics"])]).0);
        let (ok, missing) = covers(
            &owner,
            &[PolicyRule::resource(
                &["get", "delete", "create"],
                &[""],
                &["pods"],
            )],
        );
        assert!(!ok);
        assert_eq!(missing.len(), 2);
        let msg = escalation_message(&user("u", &["g1", AUTHENTICATED]), &missing);
        assert_eq!(
            msg,
            "user \"u\" (groups=[\"g1\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\" \"create\"]}"
        );
        // Full authority covers everything.
        let all = vec![
            PolicyRule::resource(&["*"], &["*"], &["*"]),
            PolicyRule::urls(&["*"], &["*"]),
        ];
        assert!(covers(&all, &owner).0);
        assert!(!covers(&owner, &all).0);
    }

    #[test]
    fn aggregation_unions_matching_roles_in_name_order() {
        let role = |v: Value| Role::from_json(&v);
        let view = role(
            json!({"metadata": {"name": "view"}, "aggregationRule": {"clusterRoleSelectors": [
            {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]}}),
        );
        let b = role(
            json!({"metadata": {"name": "b", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
                      {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}]}),
        );
        let a = role(
            json!({"metadata": {"name": "a", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}),
        );
        let other = role(json!({"metadata": {"name": "c", "labels": {"x": "y"}},
            "rules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]}));
        let all = vec![view.clone(), b, a, other];
        let rules = aggregated_rules(&view, &all).unwrap();
        assert_eq!(
            rules,
            vec![
                PolicyRule::resource(&["get"], &[""], &["pods"]),
                PolicyRule::resource(&["list"], &[""], &["pods"]),
            ]
        );
        assert!(aggregated_rules(&all[1], &all).is_none());
        let expr = json!({"matchExpressions": [{"key": "x", "operator": "In", "values": ["y", "z"]},
                                               {"key": "w", "operator": "DoesNotExist"}]});
        let labels: BTreeMap<String, String> = [("x".to_string(), "z".to_string())].into();
        assert!(selector_matches(&expr, &labels));
        let bad = json!({"matchExpressions": [{"key": "x", "operator": "Gt", "values": ["1"]}]});
        assert!(!selector_matches(&bad, &labels));
    }

    #[test]
    fn service_account_names() {
        assert_eq!(
            split_service_account_user("system:serviceaccount:ns:sa"),
            Some(("ns", "sa"))
        );
        assert_eq!(split_service_account_user("system:serviceaccount:ns"), None);
        assert_eq!(split_service_account_user("system:serviceaccount::x"), None);
        assert_eq!(split_service_account_user("bob"), None);
    }
}
