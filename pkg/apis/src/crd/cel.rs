//! `x-kubernetes-validations` (CEL rules) of CRD schemas, as upstream's apiextensions-apiserver:
//! rules are compiled once per served schema ([`Validator::new`], cached in the CRD registry)
//! and evaluated at each schema node with `self` bound to the node's value; transition rules
//! (those using `oldSelf`) run only on updates where the old value correlates (same map key,
//! same `listType: map` keys), unless `optionalOldSelf`. Errors carry the rule's `message`,
//! `messageExpression`, `reason` and `fieldPath`. On updates, errors of rules that do not use
//! `oldSelf` on values the update did not change are dropped (ratcheting). Evaluation is limited
//! per rule ([`cel::PER_CALL_LIMIT`]) and per object ([`cel::RUNTIME_COST_BUDGET`]).
//!
//! [`check_schema_rules`] does the CRD-side checks: compile errors, result types, estimated cost
//! (per rule, times how often the rule can run, and for the whole schema), `oldSelf` where
//! values cannot be correlated, `optionalOldSelf` without `oldSelf`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::cel::{self, schema as cs, Activation, Env, EvalError, Program, Type};
use crate::validation::util::{child, forbidden, index, invalid, key, required};
use crate::validation::{CauseType, FieldError};

const SELF: &str = "self";
const OLD_SELF: &str = "oldSelf";

/// One compiled rule.
#[derive(Debug)]
struct Rule {
    rule: String,
    message: String,
    reason: Option<String>,
    /// The rule's `fieldPath`, normalized (`spec.a[key]`), relative to the node.
    field_path: Option<String>,
    optional_old_self: bool,
    program: Result<Program, String>,
    message_expression: Option<Result<Program, String>>,
}

impl Rule {
    /// `message` when set, else the rule (as upstream's `ruleErrorString`).
    fn error_string(&self) -> &str {
        if self.message.is_empty() {
            self.rule.trim()
        } else {
            self.message.trim()
        }
    }

    fn uses_old_self(&self) -> bool {
        self.program.as_ref().is_ok_and(|p| p.uses(OLD_SELF))
    }
}

/// The compiled rules of one schema node and of the nodes below it.
#[derive(Debug, Default)]
pub struct Validator {
    rules: Vec<Rule>,
    decl: Option<Arc<cs::DeclType>>,
    schema_type: String,
    properties: BTreeMap<String, Validator>,
    items: Option<Box<Validator>>,
    additional: Option<Box<Validator>>,
    /// `x-kubernetes-list-map-keys` of a `listType: map` list (items correlate by these).
    map_keys: Option<Vec<String>>,
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn rules_of(schema: &Value) -> &[Value] {
    schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn has_rules(schema: &Value) -> bool {
    !rules_of(schema).is_empty()
        || schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| p.values().any(has_rules))
        || schema.get("items").is_some_and(has_rules)
        || schema
            .get("additionalProperties")
            .is_some_and(|a| a.is_object() && has_rules(a))
}

/// The environment of the rules at a node: `self` and `oldSelf` of the node's type
/// (`oldSelf` optional for `optionalOldSelf` rules).
fn env_for(decl: &Arc<cs::DeclType>, optional_old: bool) -> Env {
    let mut env = Env::new();
    env.declare(SELF, decl.cel.clone(), Some(decl.clone()));
    let old = if optional_old {
        Type::optional(decl.cel.clone())
    } else {
        decl.cel.clone()
    };
    env.declare(OLD_SELF, old, Some(decl.clone()));
    env
}

fn compile_rule(r: &Value, decl: Option<&Arc<cs::DeclType>>, node: &Value) -> Rule {
    let optional_old_self = r.get("optionalOldSelf").and_then(Value::as_bool) == Some(true);
    let rule = s(r, "rule").to_string();
    let (program, message_expression) = match decl {
        None => (
            Err("failed to convert to declType for CEL validation rules".to_string()),
            None,
        ),
        Some(d) => {
            let env = env_for(d, optional_old_self);
            let program = match env.compile(&rule) {
                Err(e) => Err(format!("compilation failed: {}", e.message)),
                Ok(p) if !matches!(p.ty, Type::Bool | Type::Dyn) => {
                    Err("cel expression must evaluate to a bool".to_string())
                }
                Ok(p) => Ok(p),
            };
            let me = s(r, "messageExpression");
            let message_expression = (!me.trim().is_empty()).then(|| match env.compile(me) {
                Err(e) => Err(format!(
                    "messageExpression compilation failed: {}",
                    e.message
                )),
                Ok(p) if !matches!(p.ty, Type::String | Type::Dyn) => {
                    Err("messageExpression must evaluate to a string".to_string())
                }
                Ok(p) => Ok(p),
            });
            (program, message_expression)
        }
    };
    let fp = s(r, "fieldPath");
    Rule {
        rule,
        message: s(r, "message").to_string(),
        reason: r.get("reason").and_then(Value::as_str).map(str::to_string),
        field_path: (!fp.is_empty())
            .then(|| valid_field_path(fp, node).ok())
            .flatten(),
        optional_old_self,
        program,
        message_expression,
    }
}

impl Validator {
    /// Compiles the rules of a version's `openAPIV3Schema`; `None` when it has none.
    pub fn new(schema: &Value) -> Option<Validator> {
        if !has_rules(schema) {
            return None;
        }
        Some(Self::build(schema, true))
    }

    fn build(schema: &Value, resource_root: bool) -> Validator {
        let rules = rules_of(schema);
        let decl = if rules.is_empty() {
            None
        } else {
            cs::decl_type(schema, resource_root)
        };
        let mut v = Validator {
            rules: rules
                .iter()
                .map(|r| compile_rule(r, decl.as_ref(), schema))
                .collect(),
            decl,
            schema_type: s(schema, "type").to_string(),
            ..Default::default()
        };
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                if has_rules(p) {
                    v.properties.insert(
                        k.clone(),
                        Self::build(p, flag(p, "x-kubernetes-embedded-resource")),
                    );
                }
            }
        }
        if let Some(items) = schema.get("items").filter(|i| has_rules(i)) {
            v.items = Some(Box::new(Self::build(
                items,
                flag(items, "x-kubernetes-embedded-resource"),
            )));
        }
        if let Some(a) = schema
            .get("additionalProperties")
            .filter(|a| a.is_object() && has_rules(a))
        {
            v.additional = Some(Box::new(Self::build(
                a,
                flag(a, "x-kubernetes-embedded-resource"),
            )));
        }
        if s(schema, "x-kubernetes-list-type") == "map" {
            v.map_keys = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                });
        }
        v
    }

    /// Evaluates the rules against a custom resource (`old` on updates).
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut run = Run {
            errs: Vec::new(),
            budget: cel::RUNTIME_COST_BUDGET as i64,
            ratcheting: old.is_some(),
        };
        self.walk("", obj, old, false, &mut run);
        run.errs
    }

    fn walk(
        &self,
        path: &str,
        v: &Value,
        old: Option<&Value>,
        parent_unchanged: bool,
        run: &mut Run,
    ) {
        if v.is_null() || run.budget < 0 {
            return;
        }
        // Whether this value is unchanged from its correlated old value (for ratcheting); values
        // without a correlated old value inherit their parent's answer.
        let unchanged = match old {
            Some(o) => o == v,
            None => parent_unchanged,
        };
        self.run_rules(path, v, old, unchanged, run);
        if run.budget < 0 {
            return;
        }
        match v {
            Value::Object(m) => {
                let old_m = old.and_then(Value::as_object);
                for (k, sub) in m {
                    let val = if let Some(p) = self.properties.get(k) {
                        Some((p, child(path, k)))
                    } else {
                        self.additional.as_deref().map(|a| (a, key(path, k)))
                    };
                    if let Some((val, p)) = val {
                        let o = old_m.and_then(|om| om.get(k));
                        // A new key has no old value and so is never "unchanged".
                        let inherited = old_m.is_none() && unchanged;
                        val.walk(&p, sub, o, inherited, run);
                        if run.budget < 0 {
                            return;
                        }
                    }
                }
            }
            Value::Array(items) => {
                let Some(iv) = &self.items else { return };
                let old_items = old.and_then(Value::as_array);
                for (i, it) in items.iter().enumerate() {
                    let o = match (&self.map_keys, old_items) {
                        (Some(keys), Some(olds)) => olds.iter().find(|x| same_keys(keys, x, it)),
                        _ => None,
                    };
                    // Items of lists that are not maps cannot be correlated: they ratchet
                    // only when the whole list is unchanged.
                    let inherited = self.map_keys.is_none() && unchanged;
                    iv.walk(&index(path, i), it, o, inherited, run);
                    if run.budget < 0 {
                        return;
                    }
                }
            }
            _ => {}
        }
    }

    fn run_rules(
        &self,
        path: &str,
        v: &Value,
        old: Option<&Value>,
        unchanged: bool,
        run: &mut Run,
    ) {
        if self.rules.is_empty() {
            return;
        }
        let Some(decl) = &self.decl else {
            run.errs.push(invalid(
                path,
                self.schema_type.as_str(),
                "rule compiler initialization error: failed to convert to declType for CEL validation rules",
            ));
            return;
        };
        if run.budget <= 0 {
            run.errs.push(invalid(path, self.schema_type.as_str(), "validation failed due to running out of cost budget, no further validation rules will be run"));
            run.budget = -1;
            return;
        }
        let self_v = cel::value::from_json(v, Some(decl));
        let old_v = old.map(|o| cel::value::from_json(o, Some(decl)));
        for r in &self.rules {
            let p = match &r.program {
                Ok(p) => p,
                Err(e) => {
                    run.errs.push(invalid(
                        path,
                        self.schema_type.as_str(),
                        format!("rule compile error: {e}"),
                    ));
                    continue;
                }
            };
            let uses_old = p.uses(OLD_SELF);
            if uses_old && old_v.is_none() && !r.optional_old_self {
                continue;
            }
            let mut act = Activation::new();
            act.insert(SELF.into(), self_v.clone());
            if r.optional_old_self {
                act.insert(
                    OLD_SELF.into(),
                    cel::Value::Optional(old_v.clone().map(Arc::new)),
                );
            } else if let Some(o) = &old_v {
                act.insert(OLD_SELF.into(), o.clone());
            }
            let limit = cel::PER_CALL_LIMIT;
            let (result, cost) = match p.eval(&act, limit) {
                Ok((v, c)) => (Ok(v), c),
                Err((e, c)) => (Err(e), c),
            };
            if cost as i64 > run.budget {
                run.errs.push(invalid(path, self.schema_type.as_str(), "validation failed due to running out of cost budget, no further validation rules will be run"));
                run.budget = -1;
                return;
            }
            run.budget -= cost as i64;
            let ok = match result {
                Ok(cel::Value::Bool(b)) => b,
                Ok(other) => {
                    run.errs.push(invalid(
                        path,
                        self.schema_type.as_str(),
                        format!(
                            "rule did not evaluate to a bool (got {}) evaluating rule: {}",
                            other.type_name(),
                            r.error_string()
                        ),
                    ));
                    continue;
                }
                Err(EvalError::CostLimit) => {
                    run.errs.push(invalid(
                        path,
                        self.schema_type.as_str(),
                        format!(
                            "'{}': no further validation rules will be run due to call cost exceeds limit for rule: {}",
                            EvalError::CostLimit,
                            r.error_string()
                        ),
                    ));
                    run.budget = -1;
                    return;
                }
                Err(EvalError::Error(e)) if e.starts_with("no such overload") => {
                    run.errs.push(invalid(
                        path,
                        self.schema_type.as_str(),
                        format!("'{e}': call arguments did not match a supported operator, function or macro signature for rule: {}", r.error_string()),
                    ));
                    continue;
                }
                Err(EvalError::Error(e)) => {
                    run.errs.push(invalid(
                        path,
                        self.schema_type.as_str(),
                        format!("{e} evaluating rule: {}", r.error_string()),
                    ));
                    continue;
                }
            };
            if ok {
                continue;
            }
            // A failing rule that does not use oldSelf on an unchanged value is ratcheted.
            let ratchet = run.ratcheting && !uses_old && unchanged;
            let fpath = match &r.field_path {
                Some(fp) => child(path, fp),
                None => path.to_string(),
            };
            let mut detail = None;
            if let Some(Ok(me)) = &r.message_expression {
                match me.eval(&act, cel::PER_CALL_LIMIT) {
                    Ok((cel::Value::String(m), c)) => {
                        run.budget -= c as i64;
                        let m = m.trim();
                        if !m.is_empty() && !m.contains('\n') && m.len() <= 5 * 1024 {
                            detail = Some(m.to_string());
                        }
                    }
                    Ok((_, c)) => run.budget -= c as i64,
                    Err((EvalError::CostLimit, _)) => {
                        if !ratchet {
                            run.errs.push(invalid(
                                fpath.as_str(),
                                self.schema_type.as_str(),
                                format!("no further validation rules will be run due to call cost exceeds limit for messageExpression: {:?}", me.source),
                            ));
                        }
                        run.budget = -1;
                        return;
                    }
                    Err((_, c)) => run.budget -= c as i64,
                }
            }
            let detail = detail.unwrap_or_else(|| {
                if r.message.is_empty() {
                    format!("failed rule: {}", r.error_string())
                } else {
                    r.message.trim().to_string()
                }
            });
            if ratchet {
                continue;
            }
            let value = if matches!(self.schema_type.as_str(), "object" | "array") {
                None
            } else {
                Some(v.clone())
            };
            run.errs.push(match r.reason.as_deref() {
                Some("FieldValueForbidden") => forbidden(fpath, detail),
                Some("FieldValueRequired") => required(fpath, &detail),
                Some("FieldValueDuplicate") => FieldError {
                    reason: CauseType::Duplicate,
                    field: fpath,
                    detail: String::new(),
                    bad_value: Some(v.clone()),
                },
                _ => FieldError {
                    reason: CauseType::Invalid,
                    field: fpath,
                    detail,
                    bad_value: value,
                },
            });
        }
    }
}

struct Run {
    errs: Vec<FieldError>,
    budget: i64,
    ratcheting: bool,
}

fn flag(s: &Value, k: &str) -> bool {
    s.get(k).and_then(Value::as_bool) == Some(true)
}

fn same_keys(keys: &[String], a: &Value, b: &Value) -> bool {
    keys.iter().all(|k| a.get(k) == b.get(k))
}

/// Upstream's `ValidFieldPath`: a JSON path (`.a.b`, `.a['b.c']`) relative to the node's schema,
/// returned in field-path form (`a.b`, `a[b.c]` for map keys).
pub fn valid_field_path(path: &str, schema: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut cur = schema;
    let b: Vec<char> = path.chars().collect();
    let mut i = 0;
    let step = |name: &str, cur: &mut &Value, out: &mut String| -> Result<(), String> {
        if let Some(props) = cur.get("properties").and_then(Value::as_object) {
            let next = props
                .get(name)
                .ok_or_else(|| "does not refer to a valid field".to_string())?;
            *out = child(out, name);
            *cur = next;
        } else if let Some(a @ Value::Object(_)) = cur.get("additionalProperties") {
            *out = key(out, name);
            *cur = a;
        } else {
            return Err("does not refer to a valid field".into());
        }
        Ok(())
    };
    if b.is_empty() {
        return Err("unexpected end of JSON path".into());
    }
    while i < b.len() {
        match b[i] {
            '.' => {
                i += 1;
                let start = i;
                while i < b.len() && !matches!(b[i], '.' | '[' | ']') {
                    i += 1;
                }
                if start == i {
                    return Err("unexpected end of JSON path".into());
                }
                let name: String = b[start..i].iter().collect();
                step(&name, &mut cur, &mut out)?;
            }
            '[' => {
                i += 1;
                if b.get(i) != Some(&'\'') {
                    return Err("expected single quoted string".into());
                }
                i += 1;
                let mut name = String::new();
                loop {
                    match b.get(i) {
                        None => return Err("unexpected end of JSON path".into()),
                        Some('\\') => {
                            match b.get(i + 1) {
                                Some('\'') => name.push('\''),
                                Some('\\') => name.push('\\'),
                                Some('n') => name.push('\n'),
                                Some('t') => name.push('\t'),
                                _ => return Err("invalid string literal".into()),
                            }
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            name.push(*c);
                            i += 1;
                        }
                    }
                }
                if b.get(i) != Some(&']') {
                    return Err("expected ]".into());
                }
                i += 1;
                step(&name, &mut cur, &mut out)?;
            }
            c => return Err(format!("expected [ or . but got: {c}")),
        }
    }
    Ok(out)
}

/// Upstream's cost error message.
fn cost_error(name: &str, cost: u64, limit: u64) -> String {
    let f = cost as f64 / limit as f64;
    let factor = if f > 100.0 {
        "more than 100x".to_string()
    } else if f < 1.5 {
        format!("{f:.6}x")
    } else {
        format!("{f:.1}x")
    };
    format!("{name} exceeds budget by factor of {factor} (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)")
}

/// CRD validation of the rules in a version's `openAPIV3Schema` (run when the schema is
/// otherwise valid): compile errors, result types, estimated cost per rule and in total,
/// `oldSelf` in uncorrelatable places, `optionalOldSelf` without `oldSelf`.
pub fn check_schema_rules(schema: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let mut total = 0u64;
    let mut expensive: Vec<(u64, String)> = Vec::new();
    check_node(
        schema,
        path,
        true,
        1,
        None,
        errs,
        &mut total,
        &mut expensive,
    );
    if total > cel::STATIC_ESTIMATED_CRD_COST_LIMIT {
        expensive.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (_, p) in expensive.iter().take(4) {
            errs.push(forbidden(
                p.as_str(),
                "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema",
            ));
        }
        errs.push(forbidden(
            path,
            cost_error(
                "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
                total,
                cel::STATIC_ESTIMATED_CRD_COST_LIMIT,
            ),
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn check_node(
    schema: &Value,
    path: &str,
    resource_root: bool,
    cardinality: u64,
    uncorrelatable: Option<&str>,
    errs: &mut Vec<FieldError>,
    total: &mut u64,
    expensive: &mut Vec<(u64, String)>,
) {
    let rules = rules_of(schema);
    if !rules.is_empty() {
        let decl = cs::decl_type(schema, resource_root);
        let vpath = child(path, "x-kubernetes-validations");
        for (i, r) in rules.iter().enumerate() {
            let rp = index(&vpath, i);
            if s(r, "rule").trim().is_empty() {
                continue; // reported by the schema checks
            }
            let compiled = compile_rule(r, decl.as_ref(), schema);
            match &compiled.program {
                Err(e) if decl.is_none() => {
                    errs.push(FieldError {
                        reason: CauseType::InternalError,
                        field: vpath.clone(),
                        detail: format!("internal error: {e}"),
                        bad_value: None,
                    });
                    return;
                }
                Err(e) => errs.push(invalid(child(&rp, "rule"), r.clone(), e.as_str())),
                Ok(p) => {
                    let cost = p.max_cost.saturating_mul(cardinality);
                    if cost > cel::STATIC_ESTIMATED_COST_LIMIT {
                        errs.push(forbidden(
                            child(&rp, "rule"),
                            cost_error(
                                "estimated rule cost",
                                cost,
                                cel::STATIC_ESTIMATED_COST_LIMIT,
                            ),
                        ));
                    }
                    *total = total.saturating_add(cost);
                    expensive.push((cost, child(&rp, "rule")));
                }
            }
            match &compiled.message_expression {
                Some(Err(e)) => errs.push(invalid(
                    child(&rp, "messageExpression"),
                    r.clone(),
                    e.as_str(),
                )),
                Some(Ok(p)) => {
                    let cost = p.max_cost.saturating_mul(cardinality);
                    if cost > cel::STATIC_ESTIMATED_COST_LIMIT {
                        errs.push(forbidden(
                            child(&rp, "messageExpression"),
                            cost_error(
                                "estimated messageExpression cost",
                                cost,
                                cel::STATIC_ESTIMATED_COST_LIMIT,
                            ),
                        ));
                    }
                    *total = total.saturating_add(cost);
                    expensive.push((cost, child(&rp, "messageExpression")));
                }
                None => {}
            }
            if compiled.uses_old_self() {
                if let Some(u) = uncorrelatable {
                    errs.push(invalid(
                        child(&rp, "rule"),
                        s(r, "rule"),
                        format!("oldSelf cannot be used on the uncorrelatable portion of the schema within {u}"),
                    ));
                }
            } else if compiled.program.is_ok() {
                if let Some(b) = r.get("optionalOldSelf").and_then(Value::as_bool) {
                    errs.push(invalid(
                        child(&rp, "optionalOldSelf"),
                        b,
                        "may not be set if oldSelf is not used in rule",
                    ));
                }
            }
        }
    }
    let min_size = |s: &Value| {
        cs::decl_type(s, flag(s, "x-kubernetes-embedded-resource")).map_or(1, |d| d.min_size)
    };
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, p) in props {
            check_node(
                p,
                &format!("{path}.properties[{k}]"),
                flag(p, "x-kubernetes-embedded-resource"),
                cardinality,
                uncorrelatable,
                errs,
                total,
                expensive,
            );
        }
    }
    if let Some(items @ Value::Object(_)) = schema.get("items") {
        let card = cardinality.saturating_mul(cs::cardinality_step(schema, min_size(items)));
        let lt = s(schema, "x-kubernetes-list-type");
        let unc = if lt == "map" {
            uncorrelatable.map(str::to_string)
        } else {
            Some(uncorrelatable.map_or_else(|| path.to_string(), str::to_string))
        };
        check_node(
            items,
            &child(path, "items"),
            flag(items, "x-kubernetes-embedded-resource"),
            card,
            unc.as_deref(),
            errs,
            total,
            expensive,
        );
    }
    if let Some(a @ Value::Object(_)) = schema.get("additionalProperties") {
        let card = cardinality.saturating_mul(cs::cardinality_step(schema, min_size(a)));
        check_node(
            a,
            &child(path, "additionalProperties"),
            flag(a, "x-kubernetes-embedded-resource"),
            card,
            uncorrelatable,
            errs,
            total,
            expensive,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.x + self.y > 0"},
                    {"rule": "self.x < 100", "message": "x must be small", "reason": "FieldValueForbidden"},
                    {"rule": "self.x != 13", "messageExpression": "'x is ' + string(self.x)", "fieldPath": ".x"},
                ],
                "properties": {
                    "x": {"type": "integer"},
                    "y": {"type": "integer"},
                    "num": {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "num may not decrease"}]},
                    "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer",
                            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "port is immutable"}]}}}},
                    "tags": {"type": "array", "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 5"}]}},
                    "opt": {"type": "string", "x-kubernetes-validations": [{"rule": "!oldSelf.hasValue() || self == oldSelf.value()", "optionalOldSelf": true, "message": "opt is write-once"}]}
                }},
        }})
    }

    fn msgs(obj: Value, old: Option<Value>) -> Vec<String> {
        let v = Validator::new(&schema()).expect("rules");
        v.validate(&obj, old.as_ref())
            .iter()
            .map(FieldError::message)
            .collect()
    }

    #[test]
    fn rules_messages_reasons_field_paths() {
        assert_eq!(
            msgs(json!({"spec": {"x": 1, "y": 0}}), None),
            Vec::<String>::new()
        );
        assert_eq!(
            msgs(json!({"spec": {"x": 0, "y": 0}}), None),
            vec!["spec: Invalid value: failed rule: self.x + self.y > 0"]
        );
        assert_eq!(
            msgs(json!({"spec": {"x": 200, "y": 0}}), None),
            vec!["spec: Forbidden: x must be small"]
        );
        assert_eq!(
            msgs(json!({"spec": {"x": 13, "y": 0}}), None),
            vec!["spec.x: Invalid value: failed rule: self.x != 13"
                .replace("failed rule: self.x != 13", "x is 13")]
        );
        let m = msgs(json!({"spec": {"y": 1}}), None);
        assert!(m.iter().any(|x| x == "spec: Invalid value: \"object\": no such key: x evaluating rule: self.x + self.y > 0")
            || m.iter().any(|x| x.contains("no such key: x evaluating rule: self.x + self.y > 0")), "{m:?}");
        let m = msgs(
            json!({"spec": {"x": 1, "y": 0, "tags": ["ok", "toolong"]}}),
            None,
        );
        assert_eq!(
            m,
            vec!["spec.tags[1]: Invalid value: \"toolong\": failed rule: self.size() < 5"]
        );
    }

    #[test]
    fn transition_rules_and_ratcheting() {
        let old = json!({"spec": {"x": 1, "y": 0, "num": 5, "ports": [{"name": "a", "port": 1}], "opt": "v"}});
        // Transition rules do not run on create.
        assert!(msgs(json!({"spec": {"x": 1, "y": 0, "num": 1}}), None).is_empty());
        let m = msgs(
            json!({"spec": {"x": 1, "y": 0, "num": 4, "ports": [{"name": "b", "port": 9}, {"name": "a", "port": 2}], "opt": "w"}}),
            Some(old.clone()),
        );
        assert_eq!(
            m,
            vec![
                "spec.num: Invalid value: 4: num may not decrease",
                "spec.ports[1].port: Invalid value: 2: port is immutable",
                "spec.opt: Invalid value: \"w\": opt is write-once",
            ]
        );
        // An object that already broke a rule may be updated elsewhere (ratcheting).
        let bad_old = json!({"spec": {"x": 0, "y": 0, "num": 5}});
        assert!(msgs(
            json!({"metadata": {"labels": {"a": "b"}}, "spec": {"x": 0, "y": 0, "num": 5}}),
            Some(bad_old.clone())
        )
        .is_empty());
        assert_eq!(
            msgs(json!({"spec": {"x": 0, "y": 0, "num": 6}}), Some(bad_old)).len(),
            1
        );
    }

    #[test]
    fn crd_checks() {
        let check = |s: Value| {
            let mut errs = Vec::new();
            check_schema_rules(&s, "spec.validation.openAPIV3Schema", &mut errs);
            errs.iter().map(FieldError::message).collect::<Vec<_>>()
        };
        let m = check(
            json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"x": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.z == 100"}, {"rule": "self = 42"}, {"rule": "self.x"},
                {"rule": "true", "messageExpression": "1"}, {"rule": "true", "optionalOldSelf": true}]}}}),
        );
        assert!(
            m[0].contains("x-kubernetes-validations[0].rule: Invalid value")
                && m[0].contains("compilation failed: ERROR: <input>:1:5: undefined field 'z'"),
            "{m:?}"
        );
        assert!(m[1].contains("Syntax error"), "{m:?}");
        assert!(
            m[2].contains("cel expression must evaluate to a bool"),
            "{m:?}"
        );
        assert!(
            m[3].contains("messageExpression must evaluate to a string"),
            "{m:?}"
        );
        assert!(m[4].contains("optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule"), "{m:?}");
        let m = check(
            json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": {
            "type": "array", "items": {"type": "array", "items": {"type": "string"},
                "x-kubernetes-validations": [{"rule": "self.all(s, s == 'string constant')"}]}}}}}}),
        );
        assert!(
            m.iter()
                .any(|x| x
                    .contains("estimated rule cost exceeds budget by factor of more than 100x")),
            "{m:?}"
        );
        let m = check(
            json!({"type": "object", "properties": {"list": {"type": "array",
            "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}}}),
        );
        assert!(m.iter().any(|x| x.contains("oldSelf cannot be used on the uncorrelatable portion of the schema within spec.validation.openAPIV3Schema.properties[list]")), "{m:?}");
        // The e2e schema's rules fit the budget.
        assert!(check(json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [{"rule": "self.x + self.y > 0"},
                {"rule": "self.firstArray.isSorted() && self.secondArray.isSorted() && ((self.firstArray.sum() + self.secondArray.sum()) % 2 == 0)"},
                {"rule": "self.largeArray.all(x, self.largeArray.all(y, y == x))"}],
            "properties": {"x": {"type": "integer"}, "y": {"type": "integer"},
                "firstArray": {"type": "array", "maxItems": 1000, "items": {"type": "integer"}},
                "secondArray": {"type": "array", "maxItems": 1000, "items": {"type": "integer"}},
                "largeArray": {"type": "array", "maxItems": 725, "items": {"type": "integer"}}}},
            "status": {"type": "object", "x-kubernetes-validations": [{"rule": "self.health == 'ok' || self.health == 'unhealthy'"}],
                "properties": {"health": {"type": "string"}}}}})).is_empty());
        assert_eq!(
            valid_field_path(
                ".a['b.c']",
                &json!({"properties": {"a": {"type": "object", "additionalProperties": {"type": "string"}}}})
            ),
            Ok("a[b.c]".into())
        );
        assert!(valid_field_path(".nope", &json!({"properties": {"a": {}}})).is_err());
    }

    #[test]
    fn runtime_cost_limit() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [{"rule": "self.largeArray.all(x, self.largeArray.all(y, y == x))"}],
            "properties": {"largeArray": {"type": "array", "maxItems": 725, "items": {"type": "integer"}}}}}});
        let v = Validator::new(&s).expect("rules");
        let m: Vec<String> = v
            .validate(&json!({"spec": {"largeArray": vec![20; 725]}}), None)
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(m.len(), 1);
        assert!(m[0].contains("call cost exceeds limit for rule"), "{m:?}");
    }
}
