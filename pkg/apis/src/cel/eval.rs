//! The tree-walking evaluator. Errors are values as in CEL: `&&`, `||` and the comprehension
//! loop condition absorb them when the other side decides the result. Every step adds to a cost
//! counter (identifiers and selections 1, calls 1 plus a size-dependent part, literals of lists
//! 10 and of maps 30); passing the limit aborts evaluation with cel-go's "operation cancelled:
//! actual cost limit exceeded", which nothing absorbs.

use std::collections::HashMap;
use std::sync::Arc;

use super::checker::type_value;
use super::parser::{Comprehension, Expr, ExprKind, Lit, ACCU};
use super::stdlib;
use super::value::{map_get, Key, MapValue, Value};

/// Why evaluation stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    /// A CEL run-time error (`no such key: x`, `division by zero`, ...).
    Error(String),
    /// The cost limit was exceeded.
    CostLimit,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Error(m) => f.write_str(m),
            EvalError::CostLimit => f.write_str("operation cancelled: actual cost limit exceeded"),
        }
    }
}

type R = Result<Value, EvalError>;

fn err(m: impl Into<String>) -> EvalError {
    EvalError::Error(m.into())
}

/// Variables by name.
pub type Activation = HashMap<String, Value>;

pub struct Evaluator<'a> {
    vars: &'a Activation,
    locals: Vec<(String, R)>,
    pub cost: u64,
    limit: u64,
    depth: u32,
}

impl<'a> Evaluator<'a> {
    pub fn new(vars: &'a Activation, limit: u64) -> Self {
        Evaluator {
            vars,
            locals: Vec::new(),
            cost: 0,
            limit,
            depth: 0,
        }
    }

    fn charge(&mut self, c: u64) -> Result<(), EvalError> {
        self.cost = self.cost.saturating_add(c);
        if self.cost > self.limit {
            Err(EvalError::CostLimit)
        } else {
            Ok(())
        }
    }

    fn ident(&mut self, name: &str) -> R {
        let name = name.strip_prefix('.').unwrap_or(name);
        if let Some((_, v)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return v.clone();
        }
        if let Some(v) = self.vars.get(name) {
            return Ok(v.clone());
        }
        if let Some(t) = type_value(name) {
            return Ok(Value::Type(t));
        }
        Err(err(format!("no such attribute(s): {name}")))
    }

    pub fn eval(&mut self, e: &Expr) -> R {
        self.depth += 1;
        if self.depth > 500 {
            self.depth -= 1;
            return Err(err("expression nesting too deep"));
        }
        let r = self.eval_inner(e);
        self.depth -= 1;
        r
    }

    fn eval_inner(&mut self, e: &Expr) -> R {
        match &e.kind {
            ExprKind::Lit(l) => Ok(match l {
                Lit::Null => Value::Null,
                Lit::Bool(b) => Value::Bool(*b),
                Lit::Int(i) => Value::Int(*i),
                Lit::Uint(u) => Value::Uint(*u),
                Lit::Double(d) => Value::Double(*d),
                Lit::String(s) => Value::str(s.as_str()),
                Lit::Bytes(b) => Value::Bytes(b.as_slice().into()),
            }),
            ExprKind::Ident(n) => {
                self.charge(1)?;
                self.ident(n)
            }
            ExprKind::Select {
                operand,
                field,
                test_only,
                ..
            } => {
                if !test_only {
                    self.charge(1)?;
                }
                if let Some(t) = qualified_type(e) {
                    return Ok(Value::Type(t));
                }
                if !test_only {
                    if let Some(v) = self.qualified_var(e) {
                        return Ok(v);
                    }
                }
                let v = self.eval(operand)?;
                select(&v, field, *test_only)
            }
            ExprKind::Call { target, func, args } => self.call(target.as_deref(), func, args),
            ExprKind::List { elems, optional } => {
                self.charge(10)?;
                let mut out = Vec::with_capacity(elems.len());
                for (i, el) in elems.iter().enumerate() {
                    let v = self.eval(el)?;
                    if optional.contains(&i) {
                        match v {
                            Value::Optional(Some(x)) => out.push((*x).clone()),
                            Value::Optional(None) => {}
                            other => {
                                return Err(err(format!(
                                    "no such overload: optional element of type {}",
                                    other.type_name()
                                )))
                            }
                        }
                    } else {
                        out.push(v);
                    }
                }
                Ok(Value::list(out))
            }
            ExprKind::Map(entries) => {
                self.charge(30)?;
                let mut m = MapValue::new();
                for (k, v, opt) in entries {
                    let kv = self.eval(k)?;
                    let key = Key::from_value(&kv)
                        .ok_or_else(|| err(format!("unsupported key type: {}", kv.type_name())))?;
                    let vv = self.eval(v)?;
                    let vv = if *opt {
                        match vv {
                            Value::Optional(Some(x)) => (*x).clone(),
                            Value::Optional(None) => continue,
                            other => {
                                return Err(err(format!(
                                    "no such overload: optional entry of type {}",
                                    other.type_name()
                                )))
                            }
                        }
                    } else {
                        vv
                    };
                    if m.contains_key(&key) {
                        return Err(err(format!("Failed with repeated key: {}", key.to_value())));
                    }
                    m.insert(key, vv);
                }
                Ok(Value::Map(Arc::new(m)))
            }
            ExprKind::Struct { name, fields } => self.struct_value(name, fields),
            ExprKind::Comprehension(c) => self.comprehension(c),
        }
    }

    /// `Object{...}`, `Object.<path>{...}`, `JSONPatch{...}` (the checker admits no other
    /// names). Optional fields (`?f: optional`) are set only when the optional has a value.
    fn struct_value(&mut self, name: &str, fields: &[(String, Expr, bool)]) -> R {
        self.charge(40)?;
        let name = name.strip_prefix('.').unwrap_or(name);
        let json_patch = name == "JSONPatch";
        if !json_patch && name != "Object" && !name.starts_with("Object.") {
            return Err(err(format!("unknown type: {name}")));
        }
        let mut out: Vec<(String, Value)> = Vec::with_capacity(fields.len());
        for (f, e, opt) in fields {
            let v = match (self.eval(e)?, opt) {
                (Value::Optional(Some(x)), true) => (*x).clone(),
                (Value::Optional(None), true) => continue,
                (other, true) => {
                    return Err(err(format!(
                        "no such overload: optional field of type {}",
                        other.type_name()
                    )))
                }
                (v, false) => v,
            };
            if json_patch {
                match f.as_str() {
                    "op" | "path" | "from" if !matches!(v, Value::String(_)) => {
                        return Err(err(format!(
                            "unexpected type {} for JSONPatchType '{f}' field",
                            v.type_name()
                        )))
                    }
                    "op" | "path" | "from" | "value" => {}
                    _ => return Err(err(format!("unexpected JSONPatchType field: {f}"))),
                }
            }
            if out.iter().any(|(k, _)| k == f) {
                return Err(err(format!("duplicate field: {f}")));
            }
            out.push((f.clone(), v));
        }
        Ok(Value::Object(Arc::new(super::value::ObjectValue {
            type_name: name.into(),
            fields: out,
        })))
    }

    fn comprehension(&mut self, c: &Comprehension) -> R {
        let range = self.eval(&c.iter_range)?;
        let init = self.eval(&c.accu_init);
        if let Err(EvalError::CostLimit) = init {
            return init;
        }
        let items: Vec<(Value, Option<Value>)> = match &range {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if c.iter_var2.is_some() {
                        (Value::Int(i as i64), Some(v.clone()))
                    } else {
                        (v.clone(), None)
                    }
                })
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| (k.to_value(), c.iter_var2.as_ref().map(|_| v.clone())))
                .collect(),
            other => {
                return Err(err(format!(
                    "cannot iterate over value of type {}",
                    other.type_name()
                )))
            }
        };
        let mark = self.locals.len();
        self.locals.push((c.accu_var.clone(), init));
        let accu_at = mark;
        let mut out = Ok(());
        for (a, b) in items {
            self.locals.truncate(accu_at + 1);
            self.locals.push((c.iter_var.clone(), Ok(a)));
            if let (Some(n2), Some(b)) = (&c.iter_var2, b) {
                self.locals.push((n2.clone(), Ok(b)));
            }
            match self.eval(&c.loop_cond) {
                Ok(Value::Bool(false)) => break,
                Err(EvalError::CostLimit) => {
                    out = Err(EvalError::CostLimit);
                    break;
                }
                _ => {}
            }
            let step = self.eval(&c.loop_step);
            if let Err(EvalError::CostLimit) = step {
                out = Err(EvalError::CostLimit);
                break;
            }
            self.locals[accu_at].1 = step;
        }
        self.locals.truncate(accu_at + 1);
        if let Err(e) = out {
            self.locals.truncate(mark);
            return Err(e);
        }
        let r = self.eval(&c.result);
        self.locals.truncate(mark);
        r
    }

    /// A variable whose name is qualified (`authorizer.requestResource`), unless a local
    /// shadows its first part.
    fn qualified_var(&self, e: &Expr) -> Option<Value> {
        if !matches!(&e.kind, ExprKind::Select { .. }) || self.vars.is_empty() {
            return None;
        }
        let name = e.qualified_name()?;
        let v = self.vars.get(&name)?;
        let first = name.split('.').next().unwrap_or_default();
        if self.locals.iter().any(|(n, _)| n == first) {
            return None;
        }
        Some(v.clone())
    }

    /// Takes the comprehension accumulator out of its slot (so `__result__ + [x]` appends in
    /// place instead of copying the list every iteration).
    fn take_accu(&mut self) -> Option<R> {
        let i = self.locals.iter().rposition(|(n, _)| n == ACCU)?;
        Some(std::mem::replace(&mut self.locals[i].1, Ok(Value::Null)))
    }

    fn call(&mut self, target: Option<&Expr>, func: &str, args: &[Expr]) -> R {
        match (func, args) {
            ("_&&_" | "_||_", [a, b]) => {
                let is_and = func == "_&&_";
                let l = self.eval(a);
                match &l {
                    Err(EvalError::CostLimit) => return l,
                    Ok(Value::Bool(x)) if *x != is_and => return Ok(Value::Bool(*x)),
                    _ => {}
                }
                let r = self.eval(b);
                return match (l, r) {
                    (_, Err(EvalError::CostLimit)) => Err(EvalError::CostLimit),
                    (_, Ok(Value::Bool(y))) if y != is_and => Ok(Value::Bool(y)),
                    (Ok(Value::Bool(_)), Ok(Value::Bool(y))) => Ok(Value::Bool(y)),
                    (Err(e), _) => Err(e),
                    (_, Err(e)) => Err(e),
                    (Ok(x), Ok(y)) => Err(err(stdlib::no_overload(func, &[x, y]))),
                };
            }
            ("_?_:_", [c, a, b]) => {
                return match self.eval(c)? {
                    Value::Bool(true) => self.eval(a),
                    Value::Bool(false) => self.eval(b),
                    other => Err(err(stdlib::no_overload(func, &[other]))),
                };
            }
            ("@not_strictly_false", [a]) => {
                return match self.eval(a) {
                    Ok(Value::Bool(b)) => Ok(Value::Bool(b)),
                    Err(EvalError::CostLimit) => Err(EvalError::CostLimit),
                    _ => Ok(Value::Bool(true)),
                };
            }
            ("_+_", [a, b]) if matches!(&a.kind, ExprKind::Ident(n) if n == ACCU) => {
                self.charge(1)?;
                if let Some(acc) = self.take_accu() {
                    let acc = acc?;
                    let rhs = self.eval(b)?;
                    return match (acc, rhs) {
                        (Value::List(mut l), Value::List(r)) => {
                            self.charge(stdlib::call_cost(
                                func,
                                &[Value::Null, Value::List(r.clone())],
                            ))?;
                            Arc::make_mut(&mut l).extend(r.iter().cloned());
                            Ok(Value::List(l))
                        }
                        (acc, rhs) => stdlib::call(func, &[acc, rhs]).map_err(EvalError::Error),
                    };
                }
            }
            _ => {}
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        if let Some(t) = target {
            vals.push(self.eval(t)?);
        }
        for a in args {
            vals.push(self.eval(a)?);
        }
        self.charge(1 + stdlib::call_cost(func, &vals))?;
        stdlib::call(func, &vals).map_err(EvalError::Error)
    }
}

fn qualified_type(e: &Expr) -> Option<super::types::Type> {
    let name = e.qualified_name()?;
    if name.starts_with("google.protobuf.") {
        type_value(&name)
    } else {
        None
    }
}

/// Field selection (`v.field`) and presence test (`has(v.field)`).
pub fn select(v: &Value, field: &str, test_only: bool) -> R {
    match v {
        Value::Map(m) => {
            let got = map_get(m, &Value::str(field));
            if test_only {
                Ok(Value::Bool(got.is_some()))
            } else {
                got.cloned()
                    .ok_or_else(|| err(format!("no such key: {field}")))
            }
        }
        Value::Object(o) => match (o.get(field), test_only) {
            (got, true) => Ok(Value::Bool(got.is_some())),
            (Some(v), false) => Ok(v.clone()),
            (None, false) => match o.type_name.as_ref() {
                // Unset JSONPatch fields read as their zero values.
                "JSONPatch" if field == "value" => Ok(Value::Null),
                "JSONPatch" => Ok(Value::str("")),
                _ => Err(err(format!("no such key: {field}"))),
            },
        },
        Value::Optional(o) => match o {
            None => Ok(if test_only {
                Value::Bool(false)
            } else {
                Value::Optional(None)
            }),
            Some(inner) => match select(inner, field, test_only)? {
                r @ Value::Bool(_) if test_only => Ok(r),
                r => Ok(Value::Optional(Some(Arc::new(r)))),
            },
        },
        other => Err(err(format!(
            "type '{}' does not support field selection",
            other.type_name()
        ))),
    }
}
