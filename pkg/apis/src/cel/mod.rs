//! k3rs's Common Expression Language engine, for CRD `x-kubernetes-validations` rules and
//! admission policies. Pure: no I/O.
//!
//! An [`Env`] declares the variables an expression may use (`self`, `oldSelf`, `object`,
//! `request`, ...), typed from OpenAPI schemas ([`schema::decl_type`]) or `dyn`.
//! [`Env::compile`] parses and type-checks once, returning a [`Program`] with its result type,
//! the variables it refers to and its estimated worst-case cost; [`Program::eval`] evaluates it
//! against an [`Activation`] under a cost limit.
//!
//! The language is cel-spec CEL with the macros, optional types and the libraries Kubernetes
//! enables (strings, lists, sets, regex, URLs, quantities, IPs/CIDRs, semver, named formats,
//! authorizer), and for mutating admission policies the `Object`/`JSONPatch` message types and
//! `jsonpatch.escapeKey` ([`Env::enable_mutation_types`]). Not implemented: protobuf message
//! types, IANA time zone names (fixed offsets and `UTC` only), `transformList`/`transformMap`.
//!
//! ```
//! use k3rs_apis::cel::{Env, Type, Value, Activation};
//! let mut env = Env::new();
//! env.declare("x", Type::Int, None);
//! let p = env.compile("x > 1 && [1, 2].all(i, i <= x)").unwrap();
//! let mut act = Activation::new();
//! act.insert("x".into(), Value::Int(2));
//! assert_eq!(p.eval(&act, 1000).unwrap().0.to_json(), serde_json::json!(true));
//! ```

pub mod admission;
pub mod checker;
pub mod eval;
pub mod parser;
pub mod quantity;
pub mod schema;
pub mod stdlib;
pub mod types;
pub mod value;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub use checker::VarDecl;
pub use eval::{Activation, EvalError};
pub use schema::DeclType;
pub use types::Type;
pub use value::Value;

/// Upstream's per-expression runtime cost limit.
pub const PER_CALL_LIMIT: u64 = 1_000_000;
/// Upstream's runtime cost budget for all the rules of one custom resource write.
pub const RUNTIME_COST_BUDGET: u64 = 10_000_000;
/// Upstream's limit on the estimated cost of one expression (times its cardinality).
pub const STATIC_ESTIMATED_COST_LIMIT: u64 = 10_000_000;
/// Upstream's limit on the estimated cost of all the rules of one CRD schema.
pub const STATIC_ESTIMATED_CRD_COST_LIMIT: u64 = 100_000_000;

/// Declared variables.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, VarDecl>,
    /// Mutating admission policies' types and functions: `Object{...}` / `Object.spec{...}`
    /// construction, `JSONPatch{...}` and `jsonpatch.escapeKey`.
    mutation: bool,
}

/// A compile (parse or check) failure, formatted as cel-go's issues:
/// `ERROR: <input>:1:6: undefined field 'z'` followed by the source line and a caret.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileError {
    pub message: String,
    /// The individual messages, without positions.
    pub details: Vec<String>,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A checked expression, ready to evaluate any number of times.
#[derive(Debug, Clone)]
pub struct Program {
    expr: Arc<parser::Expr>,
    /// The expression's static type.
    pub ty: Type,
    /// The declared variables it refers to.
    pub refs: BTreeSet<String>,
    /// The estimated worst-case cost.
    pub max_cost: u64,
    pub source: String,
}

impl Env {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares (or redeclares) a variable.
    pub fn declare(&mut self, name: &str, ty: Type, decl: Option<Arc<DeclType>>) {
        self.vars.insert(name.to_string(), VarDecl { ty, decl });
    }

    /// Declares the types mutating admission policies construct (upstream's `HasPatchTypes`):
    /// `Object` and every `Object.<path>` (fields unknown, any may be set), `JSONPatch`, and the
    /// `jsonpatch.escapeKey` function.
    pub fn enable_mutation_types(&mut self) {
        self.mutation = true;
    }

    /// Parses and type-checks `src`.
    pub fn compile(&self, src: &str) -> Result<Program, CompileError> {
        let expr = parser::parse(src).map_err(|e| format_errors(src, &[(e.pos, e.msg)]))?;
        let c = checker::check_with(&expr, &self.vars, self.mutation);
        if !c.errors.is_empty() {
            return Err(format_errors(src, &c.errors));
        }
        Ok(Program {
            expr: Arc::new(expr),
            ty: c.ty,
            refs: c.refs,
            max_cost: c.max_cost,
            source: src.to_string(),
        })
    }
}

impl Program {
    /// Evaluates under `cost_limit`, returning the value and the cost spent.
    pub fn eval(
        &self,
        act: &Activation,
        cost_limit: u64,
    ) -> Result<(Value, u64), (EvalError, u64)> {
        let mut ev = eval::Evaluator::new(act, cost_limit);
        match ev.eval(&self.expr) {
            Ok(v) => Ok((v, ev.cost)),
            Err(e) => Err((e, ev.cost)),
        }
    }

    /// Whether the expression refers to the variable.
    pub fn uses(&self, var: &str) -> bool {
        self.refs.contains(var)
    }
}

fn format_errors(src: &str, errs: &[(u32, String)]) -> CompileError {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    for (pos, msg) in errs {
        let pos = (*pos as usize).min(chars.len());
        let line_start = chars[..pos]
            .iter()
            .rposition(|c| *c == '\n')
            .map_or(0, |i| i + 1);
        let line_no = chars[..line_start].iter().filter(|c| **c == '\n').count() + 1;
        let col = pos - line_start;
        let line_end = chars[line_start..]
            .iter()
            .position(|c| *c == '\n')
            .map_or(chars.len(), |i| line_start + i);
        let line: String = chars[line_start..line_end].iter().collect();
        out.push(format!(
            "ERROR: <input>:{line_no}:{}: {msg}\n | {line}\n | {}^",
            col + 1,
            ".".repeat(col)
        ));
    }
    CompileError {
        message: out.join("\n"),
        details: errs.iter().map(|(_, m)| m.clone()).collect(),
    }
}

#[cfg(test)]
mod tests;
