//! Type checking of parsed expressions against declared variables, with cel-go's messages
//! (`undefined field 'z'`, `undeclared reference to 'x' (in container '')`, `found no matching
//! overload for '_>_' applied to '(int, string)'`), and a static estimate of the worst-case
//! evaluation cost from the size bounds of the schema (the same walk).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::parser::{Expr, ExprKind, Lit};
use super::schema::{DeclType, MAX_REQUEST_SIZE_BYTES};
use super::types::{assignable, join, overloads, substitute, Subst, Type};

/// A declared variable: its type and, for schema-typed values, the schema's size bounds.
#[derive(Debug, Clone)]
pub struct VarDecl {
    pub ty: Type,
    pub decl: Option<Arc<DeclType>>,
}

/// The outcome of checking one expression.
#[derive(Debug)]
pub struct Checked {
    pub ty: Type,
    pub errors: Vec<(u32, String)>,
    /// Declared variables the expression refers to.
    pub refs: BTreeSet<String>,
    /// Estimated worst-case cost.
    pub max_cost: u64,
}

#[derive(Clone)]
struct Node {
    ty: Type,
    cost: u64,
    /// Largest size (characters, elements) the value can have, when known.
    size: Option<u64>,
    decl: Option<Arc<DeclType>>,
}

impl Node {
    fn of(ty: Type) -> Node {
        Node {
            ty,
            cost: 0,
            size: None,
            decl: None,
        }
    }
    fn cost(mut self, c: u64) -> Node {
        self.cost = c;
        self
    }
}

struct Checker<'a> {
    vars: &'a HashMap<String, VarDecl>,
    /// Mutating admission policies' types are declared (see `Env::enable_mutation_types`).
    mutation: bool,
    scopes: Vec<(String, Node)>,
    errors: Vec<(u32, String)>,
    refs: BTreeSet<String>,
}

/// Checks `e` against the declared variables.
pub fn check(e: &Expr, vars: &HashMap<String, VarDecl>) -> Checked {
    check_with(e, vars, false)
}

/// [`check`], with mutating admission policies' types when `mutation` is set.
pub fn check_with(e: &Expr, vars: &HashMap<String, VarDecl>, mutation: bool) -> Checked {
    let mut c = Checker {
        vars,
        mutation,
        scopes: Vec::new(),
        errors: Vec::new(),
        refs: BTreeSet::new(),
    };
    let n = c.expr(e);
    Checked {
        ty: n.ty,
        errors: c.errors,
        refs: c.refs,
        max_cost: n.cost,
    }
}

fn type_ident(name: &str) -> Option<Type> {
    Some(match name {
        "int" => Type::Int,
        "uint" => Type::Uint,
        "double" => Type::Double,
        "bool" => Type::Bool,
        "string" => Type::String,
        "bytes" => Type::Bytes,
        "list" => Type::list(Type::Dyn),
        "map" => Type::map(Type::Dyn, Type::Dyn),
        "null_type" => Type::Null,
        "type" => Type::Type(Box::new(Type::Dyn)),
        "google.protobuf.Timestamp" => Type::Timestamp,
        "google.protobuf.Duration" => Type::Duration,
        _ => return None,
    })
}

/// The value of a type-name identifier at run time.
pub fn type_value(name: &str) -> Option<Type> {
    type_ident(name)
}

fn sum(xs: impl IntoIterator<Item = u64>) -> u64 {
    xs.into_iter().fold(0u64, u64::saturating_add)
}

impl Checker<'_> {
    fn err(&mut self, pos: u32, msg: String) -> Node {
        self.errors.push((pos, msg));
        Node::of(Type::Error)
    }

    fn lookup(&mut self, name: &str) -> Option<Node> {
        let name = name.strip_prefix('.').unwrap_or(name);
        if let Some((_, n)) = self.scopes.iter().rev().find(|(v, _)| v == name) {
            return Some(n.clone());
        }
        if let Some(v) = self.vars.get(name) {
            self.refs.insert(name.to_string());
            return Some(Node {
                ty: v.ty.clone(),
                cost: 1,
                size: v.decl.as_ref().map(|d| d.max_elements),
                decl: v.decl.clone(),
            });
        }
        type_ident(name).map(|t| Node::of(Type::Type(Box::new(t))))
    }

    fn expr(&mut self, e: &Expr) -> Node {
        match &e.kind {
            ExprKind::Lit(l) => {
                let (ty, size) = match l {
                    Lit::Null => (Type::Null, None),
                    Lit::Bool(_) => (Type::Bool, None),
                    Lit::Int(_) => (Type::Int, None),
                    Lit::Uint(_) => (Type::Uint, None),
                    Lit::Double(_) => (Type::Double, None),
                    Lit::String(s) => (Type::String, Some(s.chars().count() as u64)),
                    Lit::Bytes(b) => (Type::Bytes, Some(b.len() as u64)),
                };
                Node {
                    ty,
                    cost: 0,
                    size,
                    decl: None,
                }
            }
            ExprKind::Ident(name) => match self.lookup(name) {
                Some(n) => n,
                None => self.err(
                    e.pos,
                    format!(
                        "undeclared reference to '{}' (in container '')",
                        name.trim_start_matches('.')
                    ),
                ),
            },
            ExprKind::Select {
                operand,
                field,
                test_only,
                ..
            } => {
                // A variable with a qualified name (`authorizer.requestResource`), or a
                // qualified type name (`google.protobuf.Timestamp`).
                if let Some(q) = e
                    .qualified_name()
                    .filter(|q| !*test_only && self.vars.contains_key(q))
                {
                    if self
                        .scopes
                        .iter()
                        .all(|(v, _)| !q.starts_with(&format!("{v}.")))
                    {
                        if let Some(n) = self.lookup(&q) {
                            return n;
                        }
                    }
                }
                if let Some(q) = e.qualified_name() {
                    if self.scopes.iter().all(|(v, _)| !q.starts_with(v.as_str()))
                        && !self
                            .vars
                            .contains_key(q.split('.').next().unwrap_or_default())
                    {
                        if let Some(t) = type_ident(&q) {
                            return Node::of(Type::Type(Box::new(t)));
                        }
                    }
                }
                let op = self.expr(operand);
                let mut n = self.select(e.pos, &op, field);
                n.cost = op.cost.saturating_add(if *test_only { 0 } else { 1 });
                if *test_only {
                    if n.ty == Type::Error && op.ty != Type::Error {
                        return n;
                    }
                    return Node::of(Type::Bool).cost(n.cost);
                }
                n
            }
            ExprKind::Call { target, func, args } => self.call(e, target.as_deref(), func, args),
            ExprKind::List { elems, optional } => {
                let mut ty: Option<Type> = None;
                let mut cost = 10u64;
                for (i, el) in elems.iter().enumerate() {
                    let n = self.expr(el);
                    cost = cost.saturating_add(n.cost);
                    let mut t = n.ty;
                    if optional.contains(&i) {
                        t = match t {
                            Type::Optional(inner) => *inner,
                            Type::Dyn | Type::Error => Type::Dyn,
                            other => {
                                self.err(
                                    el.pos,
                                    format!("expected type 'optional_type' but found '{other}'"),
                                );
                                Type::Error
                            }
                        };
                    }
                    ty = Some(match ty {
                        None => t,
                        Some(prev) => self.homogeneous(el.pos, &prev, &t),
                    });
                }
                Node {
                    ty: Type::list(ty.unwrap_or(Type::Dyn)),
                    cost,
                    size: Some(elems.len() as u64),
                    decl: None,
                }
            }
            ExprKind::Map(entries) => {
                let (mut kt, mut vt): (Option<Type>, Option<Type>) = (None, None);
                let mut cost = 30u64;
                for (k, v, opt) in entries {
                    let kn = self.expr(k);
                    let vn = self.expr(v);
                    cost = cost.saturating_add(kn.cost).saturating_add(vn.cost);
                    if !matches!(
                        kn.ty,
                        Type::String
                            | Type::Int
                            | Type::Uint
                            | Type::Bool
                            | Type::Dyn
                            | Type::Error
                    ) {
                        self.err(k.pos, format!("unsupported map key type: {}", kn.ty));
                    }
                    let vty = if *opt {
                        match vn.ty {
                            Type::Optional(inner) => *inner,
                            other => other,
                        }
                    } else {
                        vn.ty
                    };
                    kt = Some(match kt {
                        None => kn.ty,
                        Some(p) => self.homogeneous(k.pos, &p, &kn.ty),
                    });
                    vt = Some(match vt {
                        None => vty,
                        Some(p) => self.homogeneous(v.pos, &p, &vty),
                    });
                }
                Node {
                    ty: Type::map(kt.unwrap_or(Type::Dyn), vt.unwrap_or(Type::Dyn)),
                    cost,
                    size: Some(entries.len() as u64),
                    decl: None,
                }
            }
            ExprKind::Struct { name, fields } => self.struct_lit(e.pos, name, fields),
            ExprKind::Comprehension(c) => {
                let range = self.expr(&c.iter_range);
                let (t1, t2, elem_decl) = match &range.ty {
                    Type::List(t) => (
                        if c.iter_var2.is_some() {
                            Type::Int
                        } else {
                            (**t).clone()
                        },
                        (**t).clone(),
                        range.decl.as_ref().and_then(|d| d.elem.clone()),
                    ),
                    Type::Map(k, v) => (
                        (**k).clone(),
                        (**v).clone(),
                        if c.iter_var2.is_some() {
                            range.decl.as_ref().and_then(|d| d.elem.clone())
                        } else {
                            None
                        },
                    ),
                    Type::Dyn | Type::Error => (Type::Dyn, Type::Dyn, None),
                    other => {
                        let msg = format!("expression of type '{other}' cannot be range of a comprehension (must be list, map, or dynamic)");
                        self.err(c.iter_range.pos, msg);
                        (Type::Dyn, Type::Dyn, None)
                    }
                };
                let init = self.expr(&c.accu_init);
                let iterations = range.size.unwrap_or(0);
                let elem_node = |t: Type, d: Option<Arc<DeclType>>| Node {
                    ty: t,
                    cost: 1,
                    size: d.as_ref().map(|d| d.max_elements),
                    decl: d,
                };
                let mark = self.scopes.len();
                // The accumulator is visible in the step and the result.
                self.scopes.push((
                    c.accu_var.clone(),
                    Node {
                        ty: init.ty.clone(),
                        cost: 1,
                        size: range.size.or(init.size),
                        decl: None,
                    },
                ));
                if c.iter_var2.is_some() {
                    self.scopes.push((c.iter_var.clone(), elem_node(t1, None)));
                    if let Some(v2) = &c.iter_var2 {
                        self.scopes.push((v2.clone(), elem_node(t2, elem_decl)));
                    }
                } else {
                    let d = if matches!(range.ty, Type::List(_)) {
                        elem_decl
                    } else {
                        None
                    };
                    self.scopes.push((c.iter_var.clone(), elem_node(t1, d)));
                }
                let cond = self.expr(&c.loop_cond);
                let step = self.expr(&c.loop_step);
                self.scopes.truncate(mark + 1);
                let result = self.expr(&c.result);
                self.scopes.truncate(mark);
                let per = cond.cost.saturating_add(step.cost);
                let cost = sum([
                    range.cost,
                    init.cost,
                    iterations.saturating_mul(per),
                    result.cost,
                ]);
                let mut ty = result.ty;
                // `map`/`filter` build lists whose element type the step decides.
                if let (Type::List(a), Type::List(b)) = (&ty, &step.ty) {
                    if a.is_dyn_like() && !b.is_dyn_like() {
                        ty = step.ty.clone();
                    }
                }
                Node {
                    ty,
                    cost,
                    size: range.size.or(result.size),
                    decl: None,
                }
            }
        }
    }

    /// cel-go's homogeneous aggregate literal rule: all elements share one type (or are dyn).
    fn homogeneous(&mut self, pos: u32, prev: &Type, t: &Type) -> Type {
        if prev.is_dyn_like() || t.is_dyn_like() {
            return join(prev, t);
        }
        let mut s = Subst::new();
        if assignable(prev, t, &mut s) || assignable(t, prev, &mut s) {
            return join(prev, t);
        }
        self.err(pos, format!("expected type '{prev}' but found '{t}'"));
        prev.clone()
    }

    /// Message construction: only mutating admission policies' `Object`, `Object.<path>` and
    /// `JSONPatch` types exist.
    fn struct_lit(&mut self, pos: u32, name: &str, fields: &[(String, Expr, bool)]) -> Node {
        let name = name.strip_prefix('.').unwrap_or(name);
        let ty = if !self.mutation {
            None
        } else if name == "JSONPatch" {
            Some(super::types::json_patch_type())
        } else if name == "Object" || name.starts_with("Object.") {
            Some(super::types::dynamic_object_type(name))
        } else {
            None
        };
        let mut cost: u64 = 40;
        let mut failed = false;
        for (f, v, _) in fields {
            let n = self.expr(v);
            cost = cost.saturating_add(n.cost);
            if let Some(Type::Object(o)) = &ty {
                if o.dynamic {
                    continue;
                }
                match o.fields.get(f) {
                    None => {
                        self.err(v.pos, format!("undefined field '{f}'"));
                        failed = true;
                    }
                    Some(want) => {
                        if !assignable(want, &n.ty, &mut Subst::new()) {
                            self.err(
                                v.pos,
                                format!(
                                    "expected type of field '{f}' is '{want}' but provided type is '{}'",
                                    n.ty
                                ),
                            );
                            failed = true;
                        }
                    }
                }
            }
        }
        match ty {
            Some(t) if !failed => Node::of(t).cost(cost),
            Some(_) => Node::of(Type::Error),
            None => self.err(
                pos,
                format!("undeclared reference to '{name}' (in container '')"),
            ),
        }
    }

    fn select(&mut self, pos: u32, op: &Node, field: &str) -> Node {
        match &op.ty {
            Type::Object(o) if o.dynamic => Node::of(Type::Dyn),
            Type::Object(o) => match o.fields.get(field) {
                Some(t) => {
                    let decl = op.decl.as_ref().and_then(|d| {
                        d.fields
                            .iter()
                            .find(|(k, _)| super::schema::escape(k).as_deref() == Some(field))
                            .map(|(_, v)| v.clone())
                    });
                    Node {
                        ty: t.clone(),
                        cost: 0,
                        size: decl.as_ref().map(|d| d.max_elements),
                        decl,
                    }
                }
                None => self.err(pos, format!("undefined field '{field}'")),
            },
            Type::Map(_, v) => {
                let decl = op.decl.as_ref().and_then(|d| d.elem.clone());
                Node {
                    ty: (**v).clone(),
                    cost: 0,
                    size: decl.as_ref().map(|d| d.max_elements),
                    decl,
                }
            }
            Type::Optional(inner) => {
                let inner_node = Node {
                    ty: (**inner).clone(),
                    ..op.clone()
                };
                let n = self.select(pos, &inner_node, field);
                Node {
                    ty: match n.ty {
                        Type::Error => Type::Error,
                        t => Type::optional(t),
                    },
                    ..n
                }
            }
            Type::Dyn | Type::Error => Node::of(Type::Dyn),
            other => self.err(
                pos,
                format!("type '{other}' does not support field selection"),
            ),
        }
    }

    fn call(&mut self, e: &Expr, target: Option<&Expr>, func: &str, args: &[Expr]) -> Node {
        let pos = e.pos;
        match (func, args) {
            ("_?_:_", [c, a, b]) => {
                let cn = self.expr(c);
                if !matches!(cn.ty, Type::Bool | Type::Dyn | Type::Error) {
                    self.err(
                        c.pos,
                        format!(
                            "found no matching overload for '_?_:_' applied to '({}, ...)'",
                            cn.ty
                        ),
                    );
                }
                let an = self.expr(a);
                let bn = self.expr(b);
                let ty = if an.ty.is_dyn_like() || bn.ty.is_dyn_like() {
                    join(&an.ty, &bn.ty)
                } else {
                    let mut s = Subst::new();
                    if assignable(&an.ty, &bn.ty, &mut s) || assignable(&bn.ty, &an.ty, &mut s) {
                        join(&an.ty, &bn.ty)
                    } else {
                        return self.err(
                            pos,
                            format!(
                                "found no matching overload for '_?_:_' applied to '(bool, {}, {})'",
                                an.ty, bn.ty
                            ),
                        );
                    }
                };
                return Node {
                    ty,
                    cost: cn.cost.saturating_add(an.cost.max(bn.cost)),
                    size: match (an.size, bn.size) {
                        (Some(x), Some(y)) => Some(x.max(y)),
                        _ => None,
                    },
                    decl: an.decl.or(bn.decl),
                };
            }
            (
                "_?._",
                [operand, Expr {
                    kind: ExprKind::Lit(Lit::String(field)),
                    ..
                }],
            ) => {
                let op = self.expr(operand);
                let n = self.select(pos, &op, field);
                let ty = match n.ty {
                    Type::Error => Type::Error,
                    Type::Optional(t) => Type::Optional(t),
                    t => Type::optional(t),
                };
                return Node {
                    ty,
                    cost: op.cost.saturating_add(1),
                    ..n
                };
            }
            _ => {}
        }
        let mut nodes: Vec<Node> = Vec::with_capacity(args.len() + 1);
        if let Some(t) = target {
            nodes.push(self.expr(t));
        }
        for a in args {
            nodes.push(self.expr(a));
        }
        let cost = sum(nodes.iter().map(|n| n.cost));
        let member = target.is_some();
        let ovs = overloads(func).filter(|_| self.mutation || func != "jsonpatch.escapeKey");
        let Some(ovs) = ovs else {
            let name = match target {
                Some(t) => match t.qualified_name() {
                    Some(q)
                        if self
                            .lookup(q.split('.').next().unwrap_or_default())
                            .is_none() =>
                    {
                        format!("{q}.{func}")
                    }
                    _ => func.to_string(),
                },
                None => func.to_string(),
            };
            return self.err(
                pos,
                format!("undeclared reference to '{name}' (in container '')"),
            );
        };
        let types: Vec<Type> = nodes.iter().map(|n| n.ty.clone()).collect();
        let mut result: Option<Type> = None;
        for o in ovs.iter().filter(|o| o.member == member) {
            if o.params.len() != types.len() {
                continue;
            }
            let mut s = Subst::new();
            if o.params
                .iter()
                .zip(&types)
                .all(|(p, a)| assignable(p, a, &mut s))
            {
                let r = substitute(&o.result, &s);
                result = Some(match result {
                    None => r,
                    Some(prev) => join(&prev, &r),
                });
            }
        }
        let Some(ty) = result else {
            if types.contains(&Type::Error) {
                return Node::of(Type::Error);
            }
            let sig = if member {
                let rest: Vec<String> = types[1..].iter().map(Type::to_string).collect();
                format!("{}.({})", types[0], rest.join(", "))
            } else {
                let all: Vec<String> = types.iter().map(Type::to_string).collect();
                format!("({})", all.join(", "))
            };
            return self.err(
                pos,
                format!("found no matching overload for '{func}' applied to '{sig}'"),
            );
        };
        let sizes: Vec<u64> = nodes
            .iter()
            .map(|n| n.size.unwrap_or(MAX_REQUEST_SIZE_BYTES))
            .collect();
        let (extra, size, decl) = estimate(func, &nodes, &sizes);
        Node {
            ty,
            cost: cost.saturating_add(1).saturating_add(extra),
            size,
            decl,
        }
    }
}

/// A call's estimated extra cost, result size and result schema (for indexing).
fn estimate(
    func: &str,
    nodes: &[Node],
    sizes: &[u64],
) -> (u64, Option<u64>, Option<Arc<DeclType>>) {
    let s0 = sizes.first().copied().unwrap_or(0);
    let s1 = sizes.get(1).copied().unwrap_or(0);
    let tenth = |n: u64| n.div_ceil(10);
    let first_is_str = matches!(
        nodes.first().map(|n| &n.ty),
        Some(Type::String | Type::Bytes)
    );
    let first_is_list = matches!(
        nodes.first().map(|n| &n.ty),
        Some(Type::List(_) | Type::Map(..))
    );
    match func {
        "_[_]" | "_[?_]" => {
            let d = nodes
                .first()
                .and_then(|n| n.decl.as_ref())
                .and_then(|d| d.elem.clone());
            (0, d.as_ref().map(|d| d.max_elements), d)
        }
        "_==_" | "_!=_" | "_<_" | "_<=_" | "_>_" | "_>=_" if first_is_str => {
            (tenth(s0.min(s1)), None, None)
        }
        "_==_" | "_!=_" if first_is_list => (s0.min(s1), None, None),
        "_+_" if first_is_str || first_is_list => (
            tenth(s0.saturating_add(s1)),
            Some(s0.saturating_add(s1)),
            None,
        ),
        "@in" => (
            if matches!(nodes.get(1).map(|n| &n.ty), Some(Type::List(_))) {
                s1
            } else {
                0
            },
            None,
            None,
        ),
        "contains" | "startsWith" | "endsWith" | "charAt" | "indexOf" | "lastIndexOf" => {
            (tenth(s0.saturating_add(s1)), None, None)
        }
        "lowerAscii" | "upperAscii" | "trim" | "substring" | "reverse" | "replace" | "string"
        | "format" | "join" | "strings.quote" | "find" => {
            (tenth(s0.saturating_add(s1)), Some(s0), None)
        }
        "split" | "findAll" => (tenth(s0.saturating_add(s1)), Some(s0), None),
        "matches" => (tenth(s0.saturating_mul(s1.max(1))).max(1), None, None),
        "isSorted" | "sum" | "min" | "max" | "sets.contains" | "sets.equivalent"
        | "sets.intersects" | "math.greatest" | "math.least" => (s0.saturating_add(s1), None, None),
        "distinct" | "sort" | "flatten" | "slice" | "reverse_list" => (s0, Some(s0), None),
        "dyn" | "optional.of" | "optional.ofNonZeroValue" | "value" | "orValue" => {
            let n = nodes.first();
            (0, n.and_then(|n| n.size), n.and_then(|n| n.decl.clone()))
        }
        "url" | "isURL" | "quantity" | "isQuantity" | "semver" | "isSemver" | "ip" | "isIP"
        | "cidr" | "isCIDR" => (tenth(s0), None, None),
        "check" => (350_000, None, None),
        _ => (0, None, None),
    }
}
