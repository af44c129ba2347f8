//! `metadata` rules every kind shares (apimachinery `ValidateObjectMeta` and
//! `ValidateObjectMetaUpdate`, plus core's standard-finalizer rule for built-in kinds).

use serde_json::Value;

use super::formats;
use super::util::*;
use super::NameRule;

/// Total size of all annotation keys and values, upstream `TotalAnnotationSizeLimitB`.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Finalizers built-in kinds may use without a domain prefix.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

fn metadata(obj: &Value, errs: &mut Errs) -> Value {
    get_object(obj, "metadata", "", errs)
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()))
}

/// Create-time rules for `metadata`.
pub(crate) fn validate_create(
    obj: &Value,
    namespaced: bool,
    name_rule: NameRule,
    builtin: bool,
    errs: &mut Errs,
) {
    let p = "metadata";
    let m = metadata(obj, errs);

    let generate_name = str_or_empty(&m, "generateName", p, errs);
    if !generate_name.is_empty() {
        let field = child(p, "generateName");
        invalid_each(
            errs,
            &field,
            generate_name,
            name_rule.check(generate_name, true),
        );
    }

    let name = str_or_empty(&m, "name", p, errs);
    if name.is_empty() {
        errs.push(required(
            child(p, "name"),
            "name or generateName is required",
        ));
    } else {
        invalid_each(errs, &child(p, "name"), name, name_rule.check(name, false));
    }

    let namespace = str_or_empty(&m, "namespace", p, errs);
    if namespaced {
        if namespace.is_empty() {
            errs.push(required(child(p, "namespace"), ""));
        } else {
            let msgs = NameRule::Label.check(namespace, false);
            invalid_each(errs, &child(p, "namespace"), namespace, msgs);
        }
    } else if !namespace.is_empty() {
        errs.push(forbidden(child(p, "namespace"), "not allowed on this type"));
    }

    validate_common(&m, builtin, errs);
    validate_finalizer_names(&m, errs);
}

/// Update-time rules for `metadata`: identity fields may not change.
pub(crate) fn validate_update(obj: &Value, old: &Value, builtin: bool, errs: &mut Errs) {
    let p = "metadata";
    let m = metadata(obj, errs);
    let mut ignored = Errs::new();
    let old_m = metadata(old, &mut ignored);

    if has(&old_m, "deletionTimestamp") {
        let old_finalizers: Vec<&str> = string_items(&old_m, "finalizers", p, &mut ignored)
            .into_iter()
            .map(|(_, f)| f)
            .collect();
        let mut extra: Vec<&str> = string_items(&m, "finalizers", p, &mut ignored)
            .into_iter()
            .map(|(_, f)| f)
            .filter(|f| !old_finalizers.contains(f))
            .collect();
        extra.sort_unstable();
        extra.dedup();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|f| go_quote(f)).collect();
            errs.push(forbidden(
                child(p, "finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }

    // name and namespace always travel with the object; a change is an error.
    for field in ["name", "namespace"] {
        let new_v = str_or_empty(&m, field, p, errs);
        let old_v = str_or_empty(&old_m, field, p, &mut ignored);
        if new_v != old_v {
            errs.push(invalid(child(p, field), new_v, "field is immutable"));
        }
    }
    // System fields the server carries over when a client leaves them out: only a value that is
    // present and different is an error.
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        if let Some(new_v) = get(&m, field) {
            if get(&old_m, field) != Some(new_v) {
                errs.push(invalid(
                    child(p, field),
                    new_v.clone(),
                    "field is immutable",
                ));
            }
        }
    }

    validate_common(&m, builtin, errs);
}

/// Rules shared by create and update.
fn validate_common(m: &Value, builtin: bool, errs: &mut Errs) {
    let p = "metadata";
    if let Some(generation) = get_int(m, "generation", p, errs) {
        if generation < 0 {
            errs.push(invalid(
                child(p, "generation"),
                generation,
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(labels) = get(m, "labels") {
        validate_labels_into(labels, &child(p, "labels"), errs);
    }
    if let Some(annotations) = get(m, "annotations") {
        validate_annotations_into(annotations, &child(p, "annotations"), errs);
    }
    validate_owner_references(m, errs);
    if builtin {
        for (i, f) in string_items(m, "finalizers", p, &mut Errs::new()) {
            if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f) {
                errs.push(invalid(
                    index(&child(p, "finalizers"), i),
                    f,
                    "name is neither a standard finalizer name nor is it fully qualified",
                ));
            }
        }
    }
}

/// Finalizers must be qualified names, and `orphan` excludes `foregroundDeletion` (create only,
/// as upstream).
fn validate_finalizer_names(m: &Value, errs: &mut Errs) {
    let p = child("metadata", "finalizers");
    let finalizers = string_items(m, "finalizers", "metadata", errs);
    for (_, f) in &finalizers {
        invalid_each(errs, &p, f, formats::qualified_name(f));
    }
    let has_orphan = finalizers.iter().any(|(_, f)| *f == "orphan");
    let has_foreground = finalizers.iter().any(|(_, f)| *f == "foregroundDeletion");
    if has_orphan && has_foreground {
        let all = get(m, "finalizers").cloned().unwrap_or(Value::Null);
        errs.push(invalid(
            p,
            all,
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

fn validate_owner_references(m: &Value, errs: &mut Errs) {
    let p = "metadata";
    let mut first_controller: Option<String> = None;
    let refs_path = child(p, "ownerReferences");
    for (_, rp, r) in object_items(m, "ownerReferences", p, errs) {
        let api_version = str_or_empty(r, "apiVersion", &rp, errs);
        let kind = str_or_empty(r, "kind", &rp, errs);
        if api_version.is_empty() {
            errs.push(required(child(&rp, "apiVersion"), "must not be empty"));
        } else if !is_group_version(api_version) {
            errs.push(invalid(
                child(&rp, "apiVersion"),
                api_version,
                "must be <group>/<version> or <version>",
            ));
        }
        if kind.is_empty() {
            errs.push(required(child(&rp, "kind"), "must not be empty"));
        }
        let name = str_or_empty(r, "name", &rp, errs);
        if name.is_empty() {
            errs.push(required(child(&rp, "name"), "must not be empty"));
        }
        if str_or_empty(r, "uid", &rp, errs).is_empty() {
            errs.push(required(child(&rp, "uid"), "must not be empty"));
        }
        if api_version == "v1" && kind == "Event" {
            errs.push(invalid(
                rp.clone(),
                r.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if get_bool(r, "controller", &rp, errs) == Some(true) {
            let current = format!("{kind}/{name}");
            match &first_controller {
                Some(first) => {
                    let all = get(m, "ownerReferences").cloned().unwrap_or(Value::Null);
                    errs.push(invalid(
                        refs_path.clone(),
                        all,
                        format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"),
                    ));
                }
                None => first_controller = Some(current),
            }
        }
    }
}

/// `<version>` or `<group>/<version>` with a non-empty version.
fn is_group_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [v] => !v.is_empty(),
        [_, v] => !v.is_empty(),
        _ => false,
    }
}

/// Label rules into `errs` (see [`super::validate_labels`]).
pub(crate) fn validate_labels_into(labels: &Value, path: &str, errs: &mut Errs) {
    for (k, v) in as_string_map(labels, path, errs) {
        invalid_each(errs, path, k, formats::qualified_name(k));
        invalid_each(errs, path, v, formats::label_value(v));
    }
}

/// Annotation rules into `errs` (see [`super::validate_annotations`]).
pub(crate) fn validate_annotations_into(annotations: &Value, path: &str, errs: &mut Errs) {
    let entries = as_string_map(annotations, path, errs);
    let mut total = 0usize;
    for (k, v) in &entries {
        invalid_each(errs, path, k, formats::qualified_name(&k.to_lowercase()));
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
}
