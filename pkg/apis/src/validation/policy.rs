//! Admission policies and their bindings (ValidatingAdmissionPolicy, admissionregistration v1;
//! MutatingAdmissionPolicy, v1beta1), as upstream's validation: required fields, supported
//! values, and every expression compiled (variables, match conditions, validations, audit
//! annotations, mutations with their result types).

use serde_json::Value;

use super::formats;
use super::util::*;
use super::webhook::validate_rule_with_operations;
use crate::cel;

const FAILURE_POLICIES: &[&str] = &["Fail", "Ignore"];
const MATCH_POLICIES: &[&str] = &["Equivalent", "Exact"];
const PATCH_TYPES: &[&str] = &["ApplyConfiguration", "JSONPatch"];
const REINVOCATION: &[&str] = &["IfNeeded", "Never"];
const MUTATING_OPERATIONS: &[&str] = &["CREATE", "UPDATE"];

/// `matchConstraints` / `matchResources`: rules, exclusions and `matchPolicy`.
fn validate_match_resources(m: &Value, path: &str, mutating: bool, errs: &mut Errs) {
    for list in ["resourceRules", "excludeResourceRules"] {
        for (_, rp, rule) in object_items(m, list, path, errs) {
            validate_rule_with_operations(rule, &rp, errs);
            if mutating && list == "resourceRules" {
                for (i, op) in string_items(rule, "operations", &rp, errs) {
                    if !MUTATING_OPERATIONS.contains(&op) {
                        errs.push(not_supported(
                            index(&child(&rp, "operations"), i),
                            op,
                            MUTATING_OPERATIONS,
                        ));
                    }
                }
            }
        }
    }
    if let Some(mp) = get_str(m, "matchPolicy", path, errs) {
        if !MATCH_POLICIES.contains(&mp) {
            errs.push(not_supported(
                child(path, "matchPolicy"),
                mp,
                MATCH_POLICIES,
            ));
        }
    }
}

/// `[_a-zA-Z][_a-zA-Z0-9]*`.
fn is_cel_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn compile_error(errs: &mut Errs, field: String, expr: &str, e: String) {
    errs.push(invalid(field, Value::String(expr.to_string()), e));
}

/// What both policy kinds' specs have: `failurePolicy`, `paramKind`, `matchConstraints`,
/// `variables` and `matchConditions`. Returns the environment (with `variables`) the policy's
/// other expressions compile in.
fn validate_policy_common(spec: &Value, mutating: bool, errs: &mut Errs) -> cel::Env {
    let sp = "spec";
    match get_str(spec, "failurePolicy", sp, errs) {
        None => errs.push(required(child(sp, "failurePolicy"), "")),
        Some(fp) if !FAILURE_POLICIES.contains(&fp) => errs.push(not_supported(
            child(sp, "failurePolicy"),
            fp,
            FAILURE_POLICIES,
        )),
        _ => {}
    }
    if let Some(pk) = get(spec, "paramKind").filter(|p| !p.is_null()) {
        let pp = child(sp, "paramKind");
        for k in ["apiVersion", "kind"] {
            if str_or_empty(pk, k, &pp, errs).is_empty() {
                errs.push(required(child(&pp, k), ""));
            }
        }
    }
    match get(spec, "matchConstraints").filter(|m| !m.is_null()) {
        None => errs.push(required(child(sp, "matchConstraints"), "")),
        Some(m) => {
            let mp = child(sp, "matchConstraints");
            validate_match_resources(m, &mp, mutating, errs);
            if get_array(m, "resourceRules", &mp, errs).is_empty() {
                errs.push(required(child(&mp, "resourceRules"), ""));
            }
        }
    }
    // Variables, in order (each may use the ones before it).
    let variables = get_array(spec, "variables", sp, errs);
    let mut names: Vec<&str> = Vec::new();
    for (i, v) in variables.iter().enumerate() {
        let vp = index(&child(sp, "variables"), i);
        let name = str_or_empty(v, "name", &vp, errs);
        if name.is_empty() {
            errs.push(required(child(&vp, "name"), ""));
        } else if !is_cel_identifier(name) {
            errs.push(invalid(
                child(&vp, "name"),
                name,
                "name is not a valid CEL identifier",
            ));
        } else if names.contains(&name) {
            errs.push(duplicate(child(&vp, "name"), name));
        } else {
            names.push(name);
        }
        if str_or_empty(v, "expression", &vp, errs).trim().is_empty() {
            errs.push(required(child(&vp, "expression"), ""));
        }
    }
    let (env, compiled) =
        cel::admission::with_variables(cel::admission::policy_env(None, None), variables);
    for (i, (_, p)) in compiled.iter().enumerate() {
        let vp = index(&child(sp, "variables"), i);
        let expr = str_or_empty(&variables[i], "expression", &vp, errs);
        if let (Err(e), false) = (p, expr.trim().is_empty()) {
            compile_error(errs, child(&vp, "expression"), expr, e.clone());
        }
    }
    let mut cond_names: Vec<&str> = Vec::new();
    for (_, cp, c) in object_items(spec, "matchConditions", sp, errs) {
        let name = str_or_empty(c, "name", &cp, errs);
        if name.is_empty() {
            errs.push(required(child(&cp, "name"), ""));
        } else {
            invalid_each(
                errs,
                &child(&cp, "name"),
                name,
                formats::qualified_name(name),
            );
            if cond_names.contains(&name) {
                errs.push(duplicate(child(&cp, "name"), name));
            } else {
                cond_names.push(name);
            }
        }
        let expr = str_or_empty(c, "expression", &cp, errs).trim();
        if expr.is_empty() {
            errs.push(required(child(&cp, "expression"), ""));
        } else {
            match env.compile(expr) {
                Ok(p) if p.ty != cel::Type::Bool && p.ty != cel::Type::Dyn => compile_error(
                    errs,
                    child(&cp, "expression"),
                    expr,
                    format!("must evaluate to bool but got {}", p.ty),
                ),
                Ok(_) => {}
                Err(e) => compile_error(
                    errs,
                    child(&cp, "expression"),
                    expr,
                    format!("compilation failed: {}", e.message),
                ),
            }
        }
    }
    env
}

pub(super) fn validate_mutating_admission_policy(obj: &Value, errs: &mut Errs) {
    let spec = get(obj, "spec").unwrap_or(&Value::Null);
    let sp = "spec";
    let env = validate_policy_common(spec, true, errs);
    let mut patch_env = env.clone();
    patch_env.enable_mutation_types();
    let mutations = object_items(spec, "mutations", sp, errs);
    if mutations.is_empty() {
        errs.push(required(
            child(sp, "mutations"),
            "mutations must contain at least one item",
        ));
    }
    for (_, mp, m) in mutations {
        let pt = str_or_empty(m, "patchType", &mp, errs);
        let (own, other) = match pt {
            "" => {
                errs.push(required(child(&mp, "patchType"), ""));
                continue;
            }
            "JSONPatch" => ("jsonPatch", "applyConfiguration"),
            "ApplyConfiguration" => ("applyConfiguration", "jsonPatch"),
            _ => {
                errs.push(not_supported(child(&mp, "patchType"), pt, PATCH_TYPES));
                continue;
            }
        };
        if get(m, other).is_some_and(|o| !o.is_null()) {
            errs.push(invalid(
                child(&mp, other),
                format!("{{{other}}}"),
                format!("must not be specified when patchType is {pt}"),
            ));
        }
        let Some(body) = get(m, own).filter(|b| !b.is_null()) else {
            errs.push(required(
                child(&mp, own),
                &format!("must be specified when patchType is {pt}"),
            ));
            continue;
        };
        let op = child(&mp, own);
        let expr = str_or_empty(body, "expression", &op, errs).trim();
        if expr.is_empty() {
            errs.push(required(child(&op, "expression"), ""));
        } else if let Err(e) = cel::admission::compile_mutation(&patch_env, pt, expr) {
            compile_error(errs, child(&op, "expression"), expr, e);
        }
    }
    match get_str(spec, "reinvocationPolicy", sp, errs) {
        None | Some("") => errs.push(required(child(sp, "reinvocationPolicy"), "")),
        Some(r) if !REINVOCATION.contains(&r) => errs.push(not_supported(
            child(sp, "reinvocationPolicy"),
            r,
            REINVOCATION,
        )),
        _ => {}
    }
}

const VALIDATION_ACTIONS: &[&str] = &["Audit", "Deny", "Warn"];
const VALIDATION_REASONS: &[&str] = &[
    "Forbidden",
    "Invalid",
    "RequestEntityTooLarge",
    "Unauthorized",
];

/// Compiles an expression of a ValidatingAdmissionPolicy that must have one of `types` (`dyn` is
/// accepted: it is checked when evaluated).
fn check_expression(
    env: &cel::Env,
    expr: &str,
    types: &[cel::Type],
    field: String,
    errs: &mut Errs,
) {
    match env.compile(expr) {
        Ok(p) if p.ty != cel::Type::Dyn && !types.contains(&p.ty) => compile_error(
            errs,
            field,
            expr,
            format!(
                "must evaluate to {} but got {}",
                types
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
                p.ty
            ),
        ),
        Ok(_) => {}
        Err(e) => compile_error(
            errs,
            field,
            expr,
            format!("compilation failed: {}", e.message),
        ),
    }
}

pub(super) fn validate_validating_admission_policy(obj: &Value, errs: &mut Errs) {
    let spec = get(obj, "spec").unwrap_or(&Value::Null);
    let sp = "spec";
    let env = validate_policy_common(spec, false, errs);
    let validations = object_items(spec, "validations", sp, errs);
    let audits = object_items(spec, "auditAnnotations", sp, errs);
    if validations.is_empty() && audits.is_empty() {
        let msg = "validations or auditAnnotations must contain at least one item";
        errs.push(required(child(sp, "validations"), msg));
        errs.push(required(child(sp, "auditAnnotations"), msg));
    }
    for (_, vp, v) in validations {
        let expr = str_or_empty(v, "expression", &vp, errs);
        if expr.trim().is_empty() {
            errs.push(required(
                child(&vp, "expression"),
                "expression is not specified",
            ));
        } else {
            check_expression(
                &env,
                expr,
                &[cel::Type::Bool],
                child(&vp, "expression"),
                errs,
            );
        }
        let me = str_or_empty(v, "messageExpression", &vp, errs);
        if !me.is_empty() && me.trim().is_empty() {
            errs.push(invalid(
                child(&vp, "messageExpression"),
                me,
                "must be non-empty if specified",
            ));
        } else if !me.trim().is_empty() {
            check_expression(
                &env,
                me,
                &[cel::Type::String],
                child(&vp, "messageExpression"),
                errs,
            );
        }
        let msg = str_or_empty(v, "message", &vp, errs);
        if !msg.is_empty() && msg.trim().is_empty() {
            errs.push(invalid(
                child(&vp, "message"),
                msg,
                "must be non-empty if specified",
            ));
        } else if msg.trim().contains(['\n', '\r']) {
            errs.push(invalid(
                child(&vp, "message"),
                msg,
                "must not contain line breaks",
            ));
        }
        if let Some(r) = get_str(v, "reason", &vp, errs) {
            if !VALIDATION_REASONS.contains(&r) {
                errs.push(not_supported(child(&vp, "reason"), r, VALIDATION_REASONS));
            }
        }
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut keys: Vec<&str> = Vec::new();
    for (_, ap, a) in audits {
        let key = str_or_empty(a, "key", &ap, errs);
        if name.is_empty() {
            errs.push(invalid(
                child(&ap, "key"),
                key,
                "requires metadata.name be non-empty",
            ));
        } else {
            invalid_each(
                errs,
                &child(&ap, "key"),
                &format!("{name}/{key}"),
                formats::qualified_name(&format!("{name}/{key}")),
            );
        }
        if keys.contains(&key) {
            errs.push(duplicate(child(&ap, "key"), key));
        } else {
            keys.push(key);
        }
        let expr = str_or_empty(a, "valueExpression", &ap, errs).trim();
        if expr.is_empty() {
            errs.push(required(
                child(&ap, "valueExpression"),
                "valueExpression is not specified",
            ));
        } else {
            check_expression(
                &env,
                expr,
                &[cel::Type::String, cel::Type::Null],
                child(&ap, "valueExpression"),
                errs,
            );
        }
    }
}

pub(super) fn validate_validating_admission_policy_binding(obj: &Value, errs: &mut Errs) {
    validate_binding_common(obj, errs);
    let spec = get(obj, "spec").unwrap_or(&Value::Null);
    let path = child("spec", "validationActions");
    let actions = string_items(spec, "validationActions", "spec", errs);
    let mut seen: Vec<&str> = Vec::new();
    for (i, a) in &actions {
        if !VALIDATION_ACTIONS.contains(a) {
            errs.push(not_supported(index(&path, *i), *a, VALIDATION_ACTIONS));
        }
        if seen.contains(a) {
            errs.push(duplicate(index(&path, *i), *a));
        }
        seen.push(a);
    }
    if seen.contains(&"Deny") && seen.contains(&"Warn") {
        errs.push(invalid(
            &path,
            Value::Array(actions.iter().map(|(_, a)| Value::from(*a)).collect()),
            "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
        ));
    }
    if seen.is_empty() {
        errs.push(required(
            &path,
            "at least one validation action is required",
        ));
    }
}

pub(super) fn validate_mutating_admission_policy_binding(obj: &Value, errs: &mut Errs) {
    validate_binding_common(obj, errs);
}

/// Upstream's `validateParamRef`.
fn validate_param_ref(pr: &Value, path: &str, errs: &mut Errs) {
    const EXCLUSIVE: &str = "name and selector are mutually exclusive";
    let name = str_or_empty(pr, "name", path, errs);
    let selector = get(pr, "selector").filter(|s| !s.is_null());
    if !name.is_empty() {
        invalid_each(
            errs,
            &child(path, "name"),
            name,
            formats::path_segment_name(name),
        );
        if selector.is_some() {
            errs.push(forbidden(child(path, "name"), EXCLUSIVE));
        }
    }
    if let Some(sel) = selector {
        super::workloads::validate_label_selector(sel, &child(path, "selector"), errs);
        if !name.is_empty() {
            errs.push(forbidden(child(path, "selector"), EXCLUSIVE));
        }
    }
    if name.is_empty() && selector.is_none() {
        errs.push(required(path, "one of name or selector must be specified"));
    }
    match str_or_empty(pr, "parameterNotFoundAction", path, errs) {
        "" => errs.push(required(child(path, "parameterNotFoundAction"), "")),
        "Allow" | "Deny" => {}
        other => errs.push(not_supported(
            child(path, "parameterNotFoundAction"),
            other,
            &["Deny", "Allow"],
        )),
    }
}

/// `policyName`, `matchResources` and `paramRef`.
fn validate_binding_common(obj: &Value, errs: &mut Errs) {
    let spec = get(obj, "spec").unwrap_or(&Value::Null);
    let sp = "spec";
    let name = str_or_empty(spec, "policyName", sp, errs);
    if name.is_empty() {
        errs.push(required(child(sp, "policyName"), ""));
    } else {
        invalid_each(
            errs,
            &child(sp, "policyName"),
            name,
            formats::dns1123_subdomain(name),
        );
    }
    if let Some(m) = get(spec, "matchResources").filter(|m| !m.is_null()) {
        validate_match_resources(m, &child(sp, "matchResources"), false, errs);
    }
    if let Some(pr) = get(spec, "paramRef").filter(|p| !p.is_null()) {
        validate_param_ref(pr, &child(sp, "paramRef"), errs);
    }
}
