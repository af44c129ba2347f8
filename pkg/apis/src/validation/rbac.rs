//! RBAC roles and bindings (upstream `pkg/apis/rbac/validation`).

use serde_json::{Map, Value};

use super::formats;
use super::util::*;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Role (`namespaced`) or ClusterRole: every rule needs verbs and either resources or URLs.
pub(crate) fn validate_role(obj: &Value, namespaced: bool, errs: &mut Errs) {
    for (_, rp, rule) in object_items(obj, "rules", "", errs) {
        if get_array(rule, "verbs", &rp, errs).is_empty() {
            errs.push(required(
                child(&rp, "verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = get(rule, "nonResourceURLs").cloned();
        if !get_array(rule, "nonResourceURLs", &rp, errs).is_empty() {
            let urls = urls.unwrap_or(Value::Null);
            if namespaced {
                errs.push(invalid(
                    child(&rp, "nonResourceURLs"),
                    urls.clone(),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            let mut e = Errs::new();
            if ["apiGroups", "resources", "resourceNames"]
                .iter()
                .any(|f| !get_array(rule, f, &rp, &mut e).is_empty())
            {
                errs.push(invalid(
                    child(&rp, "nonResourceURLs"),
                    urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if get_array(rule, "apiGroups", &rp, errs).is_empty() {
            errs.push(required(
                child(&rp, "apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if get_array(rule, "resources", &rp, errs).is_empty() {
            errs.push(required(
                child(&rp, "resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
}

/// RoleBinding (`namespaced`) or ClusterRoleBinding; on update `roleRef` may not change.
pub(crate) fn validate_binding(
    obj: &Value,
    old: Option<&Value>,
    namespaced: bool,
    errs: &mut Errs,
) {
    let empty = Value::Object(Map::new());
    let role_ref = get_object(obj, "roleRef", "", errs).unwrap_or(&empty);
    let api_group = str_or_empty(role_ref, "apiGroup", "roleRef", errs);
    if api_group != RBAC_GROUP {
        errs.push(not_supported("roleRef.apiGroup", api_group, &[RBAC_GROUP]));
    }
    let kind = str_or_empty(role_ref, "kind", "roleRef", errs);
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&kind) {
        errs.push(not_supported("roleRef.kind", kind, kinds));
    }
    let name = str_or_empty(role_ref, "name", "roleRef", errs);
    if name.is_empty() {
        errs.push(required("roleRef.name", ""));
    } else {
        invalid_each(errs, "roleRef.name", name, formats::path_segment_name(name));
    }

    for (_, sp, subject) in object_items(obj, "subjects", "", errs) {
        let name = str_or_empty(subject, "name", &sp, errs);
        if name.is_empty() {
            errs.push(required(child(&sp, "name"), ""));
        }
        let group = str_or_empty(subject, "apiGroup", &sp, errs);
        match str_or_empty(subject, "kind", &sp, errs) {
            "ServiceAccount" => {
                if !name.is_empty() {
                    invalid_each(
                        errs,
                        &child(&sp, "name"),
                        name,
                        formats::dns1123_subdomain(name),
                    );
                }
                if !group.is_empty() {
                    errs.push(not_supported(child(&sp, "apiGroup"), group, &[""]));
                }
                if !namespaced && str_or_empty(subject, "namespace", &sp, errs).is_empty() {
                    errs.push(required(child(&sp, "namespace"), ""));
                }
            }
            "User" | "Group" => {
                if group != RBAC_GROUP {
                    errs.push(not_supported(child(&sp, "apiGroup"), group, &[RBAC_GROUP]));
                }
            }
            other => errs.push(not_supported(
                child(&sp, "kind"),
                other,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }

    if let Some(old) = old {
        let old_ref = get(old, "roleRef");
        if !semantically_equal(get(obj, "roleRef"), old_ref) {
            errs.push(invalid(
                "roleRef",
                role_ref.clone(),
                "cannot change roleRef",
            ));
        }
    }
}
