//! Server-side apply and `metadata.managedFields`, with upstream's semantics
//! (sigs.k8s.io/structured-merge-diff and apimachinery's field manager).
//!
//! Pure: no I/O. The API server calls [`apply`] for `application/apply-patch+yaml` PATCH requests and
//! [`track_update`] for every other write. Objects are JSON values; list and map semantics come
//! from a [`Schema`] (the patch metadata of built-in kinds, or [`Deduced`] for kinds without one).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Map, Value};

/// Manager of the fields an object had before its first apply.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// At most this many Update managers are kept; older ones merge into [`ANCIENT_CHANGES`].
pub const MAX_UPDATE_MANAGERS: usize = 10;
pub const ANCIENT_CHANGES: &str = "ancient-changes";
/// The annotation client-side `kubectl apply` keeps its last configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Longest accepted `fieldManager`.
pub const FIELD_MANAGER_MAX_LEN: usize = 128;

// ---------------------------------------------------------------------------------------------
// Values: upstream's total order and equality (ints and floats compare numerically).
// ---------------------------------------------------------------------------------------------

fn rank(v: &Value) -> u8 {
    match v {
        Value::Number(n) if n.is_f64() => 0,
        Value::Number(_) => 1,
        Value::String(_) => 2,
        Value::Bool(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
        Value::Null => 6,
    }
}

/// Upstream's order of values: floats and ints numerically, then strings, bools, lists, maps, null.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
                return i.cmp(&j);
            }
            if let (Some(i), Some(j)) = (x.as_u64(), y.as_u64()) {
                return i.cmp(&j);
            }
            let (f, g) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            f.partial_cmp(&g).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (i, j) in x.iter().zip(y) {
                let c = compare_values(i, j);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xk: Vec<&String> = x.keys().collect();
            let mut yk: Vec<&String> = y.keys().collect();
            xk.sort();
            yk.sort();
            for (i, j) in xk.iter().zip(&yk) {
                let c = i.cmp(j).then_with(|| compare_values(&x[*i], &y[*j]));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xk.len().cmp(&yk.len())
        }
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => rank(a).cmp(&rank(b)),
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(i, j)| values_equal(i, j))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => compare_values(a, b) == Ordering::Equal,
    }
}

/// JSON as Go's encoder writes it: map keys sorted, `<`, `>`, `&` escaped.
fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => go_json_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            go_json_object(keys.into_iter().map(|k| (k.as_str(), &m[k])), out);
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON object of `fields`, in their order, written as `go_json` writes values.
fn go_json_object<'a>(fields: impl Iterator<Item = (&'a str, &'a Value)>, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_json_str(k, out);
        out.push(':');
        go_json(v, out);
    }
    out.push('}');
}

fn go_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// How upstream prints a value inside a path (`%q` for strings).
fn value_to_string(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(value_to_string).collect::<Vec<_>>().join(",")
        ),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", value_to_string(v)))
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Path elements and field sets.
// ---------------------------------------------------------------------------------------------

/// One step of a field path.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// A field of a map or struct: `f:<name>`.
    Field(String),
    /// An item of an associative list, by its key fields (sorted by name): `k:{...}`.
    Key(Vec<(String, Value)>),
    /// An item of a set: `v:<json>`.
    Value(Value),
    /// An item of a list by position: `i:<n>` (never produced here; parsed for completeness).
    Index(i64),
}

impl PathElement {
    fn tag(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The fieldsV1 form: `f:name`, `k:{"name":"x"}`, `v:"a"`, `i:0`.
    pub fn serialize(&self) -> String {
        let mut s = String::new();
        match self {
            PathElement::Field(n) => {
                s.push_str("f:");
                s.push_str(n);
            }
            PathElement::Key(fields) => {
                s.push_str("k:");
                go_json_object(fields.iter().map(|(k, v)| (k.as_str(), v)), &mut s);
            }
            PathElement::Value(v) => {
                s.push_str("v:");
                go_json(v, &mut s);
            }
            PathElement::Index(i) => {
                let _ = write!(s, "i:{i}");
            }
        }
        s
    }

    /// Parses the fieldsV1 form. `Ok(None)`: an unknown element type (skipped, as upstream).
    pub fn parse(s: &str) -> Result<Option<PathElement>, String> {
        let b = s.as_bytes();
        if b.len() < 2 {
            return Err(format!("key must be 2 characters long: {s:?}"));
        }
        if b[1] != b':' {
            return Err(format!("missing colon: {s:?}"));
        }
        let rest = &s[2..];
        match b[0] {
            b'f' => Ok(Some(PathElement::Field(rest.to_string()))),
            b'v' => serde_json::from_str(rest)
                .map(|v| Some(PathElement::Value(v)))
                .map_err(|e| format!("parsing {s:?}: {e}")),
            b'k' => {
                let v: Value =
                    serde_json::from_str(rest).map_err(|e| format!("parsing {s:?}: {e}"))?;
                let Value::Object(m) = v else {
                    return Err(format!("key element {s:?} is not an object"));
                };
                let mut fields: Vec<(String, Value)> = m.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(Some(PathElement::Key(fields)))
            }
            b'i' => rest
                .parse::<i64>()
                .map(|i| Some(PathElement::Index(i)))
                .map_err(|e| format!("parsing {s:?}: {e}")),
            _ => Ok(None),
        }
    }
}

impl std::fmt::Display for PathElement {
    /// Upstream's readable form: `.name`, `[k="v",k2=1]`, `[="v"]`, `[0]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathElement::Field(n) => write!(f, ".{n}"),
            PathElement::Key(fields) => write!(
                f,
                "[{}]",
                fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", value_to_string(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            PathElement::Value(v) => write!(f, "[={}]", value_to_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((ak, av), (bk, bv)) in a.iter().zip(b) {
                    let c = ak.cmp(bk).then_with(|| compare_values(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.tag().cmp(&other.tag()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

/// A field path, printed as upstream does (`.spec.containers[name="app"].image`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(pub Vec<PathElement>);

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for pe in &self.0 {
            write!(f, "{pe}")?;
        }
        Ok(())
    }
}

/// A set of field paths: the members of this level plus child sets by path element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: std::collections::BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// The paths below `pe` (relative to it).
    pub fn with_prefix(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe).filter(|c| !c.is_empty())
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, c) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(c),
                None => c.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// Paths in `self` and not in `other` (path by path).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        self.subtract(other, false)
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.intersection(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (pe, c) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let i = c.intersection(o);
                if !i.is_empty() {
                    out.children.insert(pe.clone(), i);
                }
            }
        }
        out
    }

    /// Paths in `self` that are neither in `other` nor below one of its members.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        self.subtract(other, true)
    }

    /// Paths in `self` and not in `other`; with `below_members`, not below one of `other`'s
    /// members either.
    fn subtract(&self, other: &FieldSet, below_members: bool) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.difference(&other.members).cloned().collect(),
            children: BTreeMap::new(),
        };
        for (pe, c) in &self.children {
            if below_members && other.members.contains(pe) {
                continue;
            }
            let d = match other.children.get(pe) {
                Some(o) => c.subtract(o, below_members),
                None => c.clone(),
            };
            if !d.is_empty() {
                out.children.insert(pe.clone(), d);
            }
        }
        out
    }

    /// Every path, members of a level before its children (upstream's order).
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(Path(p));
        }
        for (pe, c) in &self.children {
            prefix.push(pe.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Adds, as members, the named struct fields that have children in the set (upstream's
    /// EnsureNamedFieldsAreMembers): owning `spec.replicas` also means owning `spec`.
    pub fn with_named_members(&self, schema: &dyn Schema) -> FieldSet {
        let mut out = FieldSet {
            members: self.members.clone(),
            children: BTreeMap::new(),
        };
        for (pe, c) in &self.children {
            let child_schema = match pe {
                PathElement::Field(n) => {
                    if schema.is_named_field(n) {
                        out.members.insert(pe.clone());
                    }
                    schema.field(n)
                }
                _ => schema.items(),
            };
            out.children
                .insert(pe.clone(), c.with_named_members(child_schema.as_ref()));
        }
        out
    }

    /// The fieldsV1 JSON form.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !self.is_empty() {
            out.insert(".".into(), json!({}));
        }
        let mut keys: Vec<&PathElement> = self.members.iter().chain(self.children.keys()).collect();
        keys.sort();
        keys.dedup();
        for pe in keys {
            let member = self.members.contains(pe);
            let v = match self.children.get(pe).filter(|c| !c.is_empty()) {
                Some(c) => Value::Object(c.emit(member)),
                None => json!({}),
            };
            out.insert(pe.serialize(), v);
        }
        out
    }

    /// Parses the fieldsV1 JSON form. Unknown element types are skipped, as upstream.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, String> {
        let Value::Object(m) = v else {
            return Err("fieldsV1 must be a JSON object".into());
        };
        Ok(Self::read(m, 0)?.0)
    }

    fn read(m: &Map<String, Value>, depth: usize) -> Result<(FieldSet, bool), String> {
        if depth > 256 {
            return Err("fieldsV1 is nested too deeply".into());
        }
        let mut set = FieldSet::new();
        let mut is_member = false;
        for (k, v) in m {
            if k == "." {
                is_member = true;
                continue;
            }
            let Some(pe) = PathElement::parse(k)? else {
                continue;
            };
            let (child, child_member) = match v {
                Value::Object(cm) => Self::read(cm, depth + 1)?,
                _ => return Err(format!("fieldsV1 entry {k:?} is not an object")),
            };
            if child_member {
                set.members.insert(pe.clone());
            }
            if !child.is_empty() {
                set.children.insert(pe, child);
            }
        }
        // `{}` (no children) marks a member.
        let empty = set.members.is_empty() && set.children.is_empty();
        Ok((set, is_member || empty))
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas.
// ---------------------------------------------------------------------------------------------

/// How a list merges.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ListType {
    /// Replaced as a whole; one owner.
    #[default]
    Atomic,
    /// Scalar items, each owned separately (`v:<value>`).
    Set,
    /// Map items identified by these key fields (`k:{...}`).
    Map(Vec<String>),
}

/// List and map semantics of an object's fields: a node of a type tree.
pub trait Schema: Send + Sync {
    /// The schema of the value of `name` in a map/struct node (or of map values).
    fn field(&self, name: &str) -> Box<dyn Schema>;
    /// Whether `name` is a declared struct field (as opposed to a key of a free-form map).
    fn is_named_field(&self, name: &str) -> bool;
    /// The schema of a list node's items.
    fn items(&self) -> Box<dyn Schema>;
    /// How a list node merges.
    fn list_type(&self) -> ListType;
    /// Whether a map/struct node is replaced as a whole.
    fn map_atomic(&self) -> bool;
    /// A default for a key field a list-map item omits (upstream takes it from the OpenAPI
    /// default: `protocol` defaults to `TCP`).
    fn key_default(&self, _field: &str) -> Option<Value> {
        None
    }
    /// Whether a map/struct node may hold a key `name`: a declared field, or any key of an open
    /// map. Undeclared fields fail an apply (`.spec.foo: field not declared in schema`).
    fn declares(&self, _name: &str) -> bool {
        true
    }
}

/// Upstream's "deduced" type, for objects without a schema: maps are granular, lists atomic.
/// At the root, `metadata` has ObjectMeta's semantics.
#[derive(Clone, Copy, Debug, Default)]
pub struct Deduced {
    pub root: bool,
}

impl Schema for Deduced {
    fn field(&self, name: &str) -> Box<dyn Schema> {
        if self.root && name == "metadata" {
            return Box::new(object_meta());
        }
        Box::new(Deduced { root: false })
    }
    fn is_named_field(&self, name: &str) -> bool {
        self.root && matches!(name, "apiVersion" | "kind" | "metadata")
    }
    fn items(&self) -> Box<dyn Schema> {
        Box::new(Deduced { root: false })
    }
    fn list_type(&self) -> ListType {
        ListType::Atomic
    }
    fn map_atomic(&self) -> bool {
        false
    }
}

/// A schema given as a tree: for tests, and for ObjectMeta under [`Deduced`].
#[derive(Clone, Debug, Default)]
pub struct TreeSchema {
    /// Declared fields of a struct node.
    pub fields: Vec<(String, TreeSchema)>,
    /// The schema of a map node's values (undeclared keys); `None`: deduced.
    pub values: Option<Box<TreeSchema>>,
    /// The schema of a list node's items; `None`: deduced.
    pub items: Option<Box<TreeSchema>>,
    pub list: ListType,
    pub atomic: bool,
    /// A struct node whose undeclared fields are errors (not a map).
    pub closed: bool,
}

impl TreeSchema {
    pub fn strukt(fields: Vec<(&str, TreeSchema)>) -> Self {
        TreeSchema {
            fields: fields
                .into_iter()
                .map(|(n, s)| (n.to_string(), s))
                .collect(),
            ..Default::default()
        }
    }
    pub fn scalar() -> Self {
        TreeSchema::default()
    }
    pub fn map_of(values: TreeSchema) -> Self {
        TreeSchema {
            values: Some(Box::new(values)),
            ..Default::default()
        }
    }
    pub fn list(list: ListType, items: TreeSchema) -> Self {
        TreeSchema {
            items: Some(Box::new(items)),
            list,
            ..Default::default()
        }
    }
    pub fn atomic_struct(fields: Vec<(&str, TreeSchema)>) -> Self {
        TreeSchema {
            atomic: true,
            ..Self::strukt(fields)
        }
    }
}

impl Schema for TreeSchema {
    fn field(&self, name: &str) -> Box<dyn Schema> {
        if let Some((_, s)) = self.fields.iter().find(|(n, _)| n == name) {
            return Box::new(s.clone());
        }
        match &self.values {
            Some(v) => Box::new((**v).clone()),
            None => Box::new(Deduced { root: false }),
        }
    }
    fn is_named_field(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }
    fn items(&self) -> Box<dyn Schema> {
        match &self.items {
            Some(i) => Box::new((**i).clone()),
            None => Box::new(Deduced { root: false }),
        }
    }
    fn list_type(&self) -> ListType {
        self.list.clone()
    }
    fn map_atomic(&self) -> bool {
        self.atomic
    }
    fn declares(&self, name: &str) -> bool {
        !self.closed || self.values.is_some() || self.is_named_field(name)
    }
}

/// ObjectMeta's semantics (labels/annotations granular, finalizers a set, ownerReferences a
/// map keyed by uid, managedFields atomic).
pub fn object_meta() -> TreeSchema {
    let s = TreeSchema::scalar;
    let owner_ref = TreeSchema::strukt(vec![
        ("apiVersion", s()),
        ("kind", s()),
        ("name", s()),
        ("uid", s()),
        ("controller", s()),
        ("blockOwnerDeletion", s()),
    ]);
    let owner_ref = TreeSchema {
        closed: true,
        ..owner_ref
    };
    let meta = TreeSchema::strukt(vec![
        ("name", s()),
        ("generateName", s()),
        ("namespace", s()),
        ("selfLink", s()),
        ("uid", s()),
        ("resourceVersion", s()),
        ("generation", s()),
        ("creationTimestamp", s()),
        ("deletionTimestamp", s()),
        ("deletionGracePeriodSeconds", s()),
        ("labels", TreeSchema::map_of(s())),
        ("annotations", TreeSchema::map_of(s())),
        (
            "ownerReferences",
            TreeSchema::list(ListType::Map(vec!["uid".into()]), owner_ref),
        ),
        ("finalizers", TreeSchema::list(ListType::Set, s())),
        ("managedFields", TreeSchema::list(ListType::Atomic, s())),
    ]);
    TreeSchema {
        closed: true,
        ..meta
    }
}

/// List/map semantics of one struct field, as the patch metadata of built-in kinds states them
/// (the shape of `k3rs_apis::patchmeta::FieldMeta`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSemantics {
    pub patch_strategy: String,
    pub merge_key: String,
    /// `""`, `atomic`, `set` or `map`.
    pub list_type: String,
    pub list_map_keys: Vec<String>,
    pub map_type: String,
    pub struct_type: String,
}

impl FieldSemantics {
    /// Upstream's list semantics: an explicit `+listType` wins; else `patchStrategy=merge` with a
    /// merge key is a map keyed by it, merge without a key a set; else atomic.
    pub fn list_type(&self) -> ListType {
        match self.list_type.as_str() {
            "atomic" => ListType::Atomic,
            "set" => ListType::Set,
            "map" if !self.list_map_keys.is_empty() => ListType::Map(self.list_map_keys.clone()),
            "map" if !self.merge_key.is_empty() => ListType::Map(vec![self.merge_key.clone()]),
            _ if self.patch_strategy.split(',').any(|s| s == "merge") => {
                if self.merge_key.is_empty() {
                    ListType::Set
                } else {
                    ListType::Map(vec![self.merge_key.clone()])
                }
            }
            _ => ListType::Atomic,
        }
    }
}

/// Where a [`MessageSchema`] looks types up (implemented over `k3rs_apis::patchmeta`).
pub trait TypeSource: Sync {
    /// Semantics of `field` of `message`; `Some` for every declared field.
    fn field_meta(&self, message: &str, field: &str) -> Option<FieldSemantics>;
    /// The message type of a field's value (or list items), if it is a message.
    fn field_message(&self, message: &str, field: &str) -> Option<String>;
}

/// A [`TypeSource`] from two functions (so the patch metadata module can be plugged in).
pub struct FnTypeSource {
    pub field_meta: fn(&str, &str) -> Option<FieldSemantics>,
    pub field_message: fn(&str, &str) -> Option<String>,
}

impl TypeSource for FnTypeSource {
    fn field_meta(&self, message: &str, field: &str) -> Option<FieldSemantics> {
        (self.field_meta)(message, field)
    }
    fn field_message(&self, message: &str, field: &str) -> Option<String> {
        (self.field_message)(message, field)
    }
}

/// A schema over protobuf message types: `message` is the type of this node's value (of its
/// items for a list), `via` the semantics of the field that led here.
pub struct MessageSchema {
    pub source: &'static dyn TypeSource,
    pub message: Option<String>,
    pub via: Option<FieldSemantics>,
}

impl MessageSchema {
    pub fn root(source: &'static dyn TypeSource, message: &str) -> Self {
        MessageSchema {
            source,
            message: Some(message.to_string()),
            via: None,
        }
    }
}

impl Schema for MessageSchema {
    fn field(&self, name: &str) -> Box<dyn Schema> {
        match &self.message {
            Some(m) => {
                let via = self.source.field_meta(m, name);
                let message = self.source.field_message(m, name);
                if via.is_none() && message.is_none() {
                    return Box::new(Deduced { root: false });
                }
                Box::new(MessageSchema {
                    source: self.source,
                    message,
                    via,
                })
            }
            None => Box::new(Deduced { root: false }),
        }
    }
    fn is_named_field(&self, name: &str) -> bool {
        self.message.as_deref().is_some_and(|m| {
            self.source.field_meta(m, name).is_some()
                || self.source.field_message(m, name).is_some()
        })
    }
    fn items(&self) -> Box<dyn Schema> {
        Box::new(MessageSchema {
            source: self.source,
            message: self.message.clone(),
            via: None,
        })
    }
    fn list_type(&self) -> ListType {
        self.via
            .as_ref()
            .map(FieldSemantics::list_type)
            .unwrap_or_default()
    }
    fn map_atomic(&self) -> bool {
        self.via
            .as_ref()
            .is_some_and(|v| v.map_type == "atomic" || v.struct_type == "atomic")
    }
    fn key_default(&self, field: &str) -> Option<Value> {
        (field == "protocol").then(|| json!("TCP"))
    }
}

// ---------------------------------------------------------------------------------------------
// Walks over values: field sets, comparison, merge, removal.
// ---------------------------------------------------------------------------------------------

fn item_pe(list: &ListType, schema: &dyn Schema, item: &Value) -> Result<PathElement, String> {
    match list {
        ListType::Atomic => Err("invalid indexing of non-associative list".into()),
        ListType::Set => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".into())
            }
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => {
                Err("associative list without keys has an element that's an explicit null".into())
            }
            v => Ok(PathElement::Value(v.clone())),
        },
        ListType::Map(keys) => {
            let m = match item {
                Value::Object(m) => m,
                Value::Null => {
                    return Err("associative list with keys may not have a null element".into())
                }
                _ => return Err("associative list with keys may not have non-map elements".into()),
            };
            let mut fields = Vec::new();
            for k in keys {
                if let Some(v) = m.get(k) {
                    fields.push((k.clone(), v.clone()));
                } else if let Some(d) = schema.items().key_default(k) {
                    fields.push((k.clone(), d));
                }
            }
            if fields.is_empty() {
                return Err(format!("associative list with keys has an element that omits all key fields {keys:?} (and doesn't have default values for any key fields)"));
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(fields))
        }
    }
}

fn err_at(path: &[PathElement], msg: impl std::fmt::Display) -> String {
    format!("{}: {msg}", Path(path.to_vec()))
}

/// The fields an object sets (upstream's ToFieldSet). Errors name a bad list item.
pub fn fields_of(obj: &Value, schema: &dyn Schema) -> Result<FieldSet, String> {
    let mut set = FieldSet::new();
    to_set(obj, schema, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn to_set(
    v: &Value,
    s: &dyn Schema,
    path: &mut Vec<PathElement>,
    set: &mut FieldSet,
) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            if s.map_atomic() {
                set.insert(path);
                return Ok(());
            }
            for (k, cv) in m {
                let cs = s.field(k);
                path.push(PathElement::Field(k.clone()));
                to_set(cv, cs.as_ref(), path, set)?;
                let empty_map = matches!(cv, Value::Object(cm) if cm.is_empty());
                if cv.is_null() || empty_map || !s.is_named_field(k) {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Value::Array(a) => {
            let lt = s.list_type();
            if lt == ListType::Atomic {
                set.insert(path);
                return Ok(());
            }
            let items = s.items();
            let mut pes = Vec::with_capacity(a.len());
            for (i, item) in a.iter().enumerate() {
                pes.push(
                    item_pe(&lt, s, item).map_err(|e| err_at(path, format!("element {i}: {e}")))?,
                );
            }
            let mut seen = std::collections::BTreeSet::new();
            let mut dups = std::collections::BTreeSet::new();
            for pe in &pes {
                if !seen.insert(pe.clone()) && dups.insert(pe.clone()) {
                    path.push(pe.clone());
                    set.insert(path);
                    path.pop();
                }
            }
            for (pe, item) in pes.into_iter().zip(a) {
                if dups.contains(&pe) {
                    continue;
                }
                path.push(pe);
                to_set(item, items.as_ref(), path, set)?;
                set.insert(path);
                path.pop();
            }
        }
        _ => set.insert(path),
    }
    Ok(())
}

/// What changed between two objects.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    pub removed: FieldSet,
    pub modified: FieldSet,
    pub added: FieldSet,
}

impl Comparison {
    fn filter(&mut self, f: &ResetFields) {
        self.removed = f.filter(&self.removed);
        self.modified = f.filter(&self.modified);
        self.added = f.filter(&self.added);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scalar,
    List,
    Map,
}

fn kind(v: &Value, other: Option<&Value>) -> Kind {
    match v {
        Value::Object(_) => Kind::Map,
        Value::Array(_) => Kind::List,
        // A null takes the shape of the other side (a typed field holding null).
        Value::Null => match other {
            Some(Value::Object(_)) => Kind::Map,
            Some(Value::Array(_)) => Kind::List,
            _ => Kind::Scalar,
        },
        _ => Kind::Scalar,
    }
}

/// Compares two objects (upstream's Compare).
pub fn compare(lhs: &Value, rhs: &Value, schema: &dyn Schema) -> Result<Comparison, String> {
    let mut c = Comparison::default();
    cmp_node(Some(lhs), Some(rhs), schema, &mut Vec::new(), &mut c)?;
    Ok(c)
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

fn cmp_node(
    l: Option<&Value>,
    r: Option<&Value>,
    s: &dyn Schema,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
) -> Result<(), String> {
    let leaf = |c: &mut Comparison, path: &[PathElement]| match (l, r) {
        (None, _) => c.added.insert(path),
        (_, None) => c.removed.insert(path),
        (Some(a), Some(b)) => {
            if !values_equal(a, b) {
                c.modified.insert(path)
            }
        }
    };
    let lk = l.map(|v| kind(v, r));
    let rk = r.map(|v| kind(v, l));
    let k = match (lk, rk) {
        (Some(a), Some(b)) if a != b => {
            leaf(c, path);
            return Ok(());
        }
        (_, Some(k)) | (Some(k), None) => k,
        (None, None) => return Ok(()),
    };
    let in_leaf = match k {
        Kind::Scalar => true,
        Kind::Map => {
            let lm = l.and_then(Value::as_object).unwrap_or(empty_map());
            let rm = r.and_then(Value::as_object).unwrap_or(empty_map());
            if s.map_atomic() || (lm.is_empty() && rm.is_empty()) {
                true
            } else {
                for (key, lv) in lm {
                    path.push(PathElement::Field(key.clone()));
                    cmp_node(Some(lv), rm.get(key), s.field(key).as_ref(), path, c)?;
                    path.pop();
                }
                for (key, rv) in rm {
                    if !lm.contains_key(key) {
                        path.push(PathElement::Field(key.clone()));
                        cmp_node(None, Some(rv), s.field(key).as_ref(), path, c)?;
                        path.pop();
                    }
                }
                false
            }
        }
        Kind::List => {
            let empty = Vec::new();
            let la = l.and_then(Value::as_array).unwrap_or(&empty);
            let ra = r.and_then(Value::as_array).unwrap_or(&empty);
            let lt = s.list_type();
            if lt == ListType::Atomic || (la.is_empty() && ra.is_empty()) {
                true
            } else {
                cmp_list(&lt, s, la, ra, path, c)?;
                false
            }
        }
    };
    if in_leaf {
        leaf(c, path);
    } else if l.is_none() {
        c.added.insert(path);
    } else if r.is_none() {
        c.removed.insert(path);
    }
    Ok(())
}

type Grouped<'a> = Vec<(PathElement, Vec<&'a Value>, Vec<&'a Value>)>;

fn cmp_list(
    lt: &ListType,
    s: &dyn Schema,
    la: &[Value],
    ra: &[Value],
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
) -> Result<(), String> {
    let mut groups: Grouped = Vec::new();
    let mut index: BTreeMap<PathElement, usize> = BTreeMap::new();
    for (side, list) in [(0, la), (1, ra)] {
        for (i, item) in list.iter().enumerate() {
            let pe = item_pe(lt, s, item).map_err(|e| err_at(path, format!("element {i}: {e}")))?;
            let at = *index.entry(pe.clone()).or_insert_with(|| {
                groups.push((pe, Vec::new(), Vec::new()));
                groups.len() - 1
            });
            if side == 0 {
                groups[at].1.push(item);
            } else {
                groups[at].2.push(item);
            }
        }
    }
    let items = s.items();
    for (pe, ll, rl) in groups {
        path.push(pe);
        match (ll.len(), rl.len()) {
            (0..=1, 0..=1) => cmp_node(
                ll.first().copied(),
                rl.first().copied(),
                items.as_ref(),
                path,
                c,
            )?,
            (a, b) if a >= 2 && b >= 2 => {
                if a != b || ll.iter().zip(&rl).any(|(x, y)| !values_equal(x, y)) {
                    c.modified.insert(path);
                }
            }
            (a, _) if a >= 2 => {
                if let Some(r) = rl.first() {
                    cmp_node(None, Some(r), items.as_ref(), path, c)?;
                }
                c.removed.insert(path);
            }
            _ => {
                if let Some(l) = ll.first() {
                    cmp_node(Some(l), None, items.as_ref(), path, c)?;
                }
                c.added.insert(path);
            }
        }
        path.pop();
    }
    Ok(())
}

/// Merges `rhs` into `lhs` (upstream's Merge: the right side wins, associative lists merge by
/// key keeping the applied order).
pub fn merge(lhs: &Value, rhs: &Value, schema: &dyn Schema) -> Result<Value, String> {
    Ok(merge_node(Some(lhs), Some(rhs), schema, &mut Vec::new())?.unwrap_or(Value::Null))
}

fn merge_node(
    l: Option<&Value>,
    r: Option<&Value>,
    s: &dyn Schema,
    path: &mut Vec<PathElement>,
) -> Result<Option<Value>, String> {
    let (l, r) = match (l, r) {
        (None, None) => return Ok(None),
        (Some(l), None) => return Ok(Some(l.clone())),
        (None, Some(r)) => return Ok(Some(r.clone())),
        (Some(l), Some(r)) => (l, r),
    };
    match (l, r) {
        (Value::Object(lm), Value::Object(rm)) => {
            if s.map_atomic() || (lm.is_empty() && rm.is_empty()) {
                return Ok(Some(r.clone()));
            }
            let mut out = Map::new();
            for (k, lv) in lm {
                path.push(PathElement::Field(k.clone()));
                if let Some(v) = merge_node(Some(lv), rm.get(k), s.field(k).as_ref(), path)? {
                    out.insert(k.clone(), v);
                }
                path.pop();
            }
            for (k, rv) in rm {
                if !lm.contains_key(k) {
                    path.push(PathElement::Field(k.clone()));
                    if let Some(v) = merge_node(None, Some(rv), s.field(k).as_ref(), path)? {
                        out.insert(k.clone(), v);
                    }
                    path.pop();
                }
            }
            Ok(Some(Value::Object(out)))
        }
        (Value::Array(la), Value::Array(ra)) => {
            let lt = s.list_type();
            if lt == ListType::Atomic || (la.is_empty() && ra.is_empty()) {
                return Ok(Some(r.clone()));
            }
            merge_list(&lt, s, la, ra, path).map(|v| Some(Value::Array(v)))
        }
        _ => Ok(Some(r.clone())),
    }
}

/// Upstream's errors converting an applied configuration to its typed form, in document order:
/// undeclared fields (`.spec.foo: field not declared in schema`) and list items that cannot be
/// told apart (`.spec.ports: duplicate entries for key [name="a"]`).
pub fn typed_errors(v: &Value, schema: &dyn Schema) -> Vec<String> {
    let mut errs = Vec::new();
    typed_node(v, schema, &mut Vec::new(), &mut errs);
    errs
}

fn typed_node(v: &Value, s: &dyn Schema, path: &mut Vec<PathElement>, errs: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, cv) in m {
                path.push(PathElement::Field(k.clone()));
                if s.declares(k) {
                    typed_node(cv, s.field(k).as_ref(), path, errs);
                } else {
                    errs.push(err_at(path, "field not declared in schema"));
                }
                path.pop();
            }
        }
        Value::Array(a) => {
            let lt = s.list_type();
            let items = s.items();
            let mut seen = std::collections::BTreeSet::new();
            for (i, item) in a.iter().enumerate() {
                let pe = if lt == ListType::Atomic {
                    PathElement::Index(i as i64)
                } else {
                    match item_pe(&lt, s, item) {
                        Ok(pe) => pe,
                        Err(e) => {
                            errs.push(err_at(path, format!("element {i}: {e}")));
                            continue;
                        }
                    }
                };
                if !seen.insert(pe.clone()) {
                    errs.push(err_at(path, format!("duplicate entries for key {pe}")));
                    continue;
                }
                path.push(pe);
                typed_node(item, items.as_ref(), path, errs);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The structured-merge-diff path (`.spec.containers[name="c"].foo`) of the field a strict
/// decoding path (`spec.containers[0].foo`) names in `obj`, following the lists' semantics.
/// `None` when the path does not lead anywhere in `obj`.
pub fn typed_path(obj: &Value, strict: &str, schema: &dyn Schema) -> Option<Path> {
    let mut out = Vec::new();
    let mut v = obj;
    let mut rest = strict;
    let mut owned: Box<dyn Schema>;
    let mut s: &dyn Schema = schema;
    while !rest.is_empty() {
        match v {
            Value::Object(m) => {
                let rest_now = rest.strip_prefix('.').unwrap_or(rest);
                // The longest key the path continues with (keys may hold dots).
                let key = m
                    .keys()
                    .filter(|k| {
                        rest_now.strip_prefix(k.as_str()).is_some_and(|r| {
                            r.is_empty() || r.starts_with('.') || r.starts_with('[')
                        })
                    })
                    .max_by_key(|k| k.len())?;
                rest = &rest_now[key.len()..];
                out.push(PathElement::Field(key.clone()));
                v = &m[key.as_str()];
                owned = s.field(key);
                s = owned.as_ref();
            }
            Value::Array(a) => {
                let inner = rest.strip_prefix('[')?;
                let end = inner.find(']')?;
                let i: usize = inner[..end].parse().ok()?;
                rest = &inner[end + 1..];
                let item = a.get(i)?;
                let lt = s.list_type();
                let pe = match lt {
                    ListType::Atomic => PathElement::Index(i as i64),
                    _ => item_pe(&lt, s, item).unwrap_or(PathElement::Index(i as i64)),
                };
                out.push(pe);
                v = item;
                owned = s.items();
                s = owned.as_ref();
            }
            _ => return None,
        }
    }
    Some(Path(out))
}

/// The message of a configuration that does not fit its kind's schema, as upstream's field
/// manager words it: `failed to create typed patch object (<namespace>/<name>; <group>/<version>,
/// Kind=<kind>): <errors>`.
pub fn typed_patch_message(config: &Value, errs: &[String]) -> String {
    let meta = |k: &str| {
        config
            .pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let av = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (g, v) = av.rsplit_once('/').unwrap_or(("", av));
    let kind = config
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let detail = match errs {
        [one] => one.clone(),
        many => format!("errors:\n  {}", many.join("\n  ")),
    };
    format!(
        "failed to create typed patch object ({}/{}; {g}/{v}, Kind={kind}): {detail}",
        meta("namespace"),
        meta("name")
    )
}

fn merge_list(
    lt: &ListType,
    s: &dyn Schema,
    la: &[Value],
    ra: &[Value],
    path: &mut Vec<PathElement>,
) -> Result<Vec<Value>, String> {
    let items = s.items();
    let mut rpes = Vec::with_capacity(ra.len());
    let mut robs: BTreeMap<PathElement, &Value> = BTreeMap::new();
    for (i, item) in ra.iter().enumerate() {
        let pe = item_pe(lt, s, item).map_err(|e| err_at(path, format!("element {i}: {e}")))?;
        if robs.insert(pe.clone(), item).is_some() {
            return Err(err_at(path, format!("duplicate entries for key {pe}")));
        }
        rpes.push(pe);
    }
    let mut lpes = Vec::with_capacity(la.len());
    // A key the live list holds twice merges as null (the duplicates are replaced).
    let mut lobs: BTreeMap<PathElement, Option<&Value>> = BTreeMap::new();
    for (i, item) in la.iter().enumerate() {
        let pe = item_pe(lt, s, item).map_err(|e| err_at(path, format!("element {i}: {e}")))?;
        match lobs.get_mut(&pe) {
            Some(slot) => *slot = None,
            None => {
                lobs.insert(pe.clone(), Some(item));
            }
        }
        lpes.push(pe);
    }
    let mut shared: std::collections::VecDeque<&PathElement> =
        rpes.iter().filter(|pe| lobs.contains_key(*pe)).collect();
    let mut next_shared = shared.pop_front();
    let mut merged_r = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(la.len().max(ra.len()));
    let (mut li, mut ri) = (0, 0);
    let null = Value::Null;
    let push = |pe: &PathElement,
                l: Option<&Value>,
                r: Option<&Value>,
                out: &mut Vec<Value>,
                path: &mut Vec<PathElement>|
     -> Result<(), String> {
        path.push(pe.clone());
        let m = merge_node(l, r, items.as_ref(), path)?;
        path.pop();
        if let Some(v) = m {
            out.push(v);
        }
        Ok(())
    };
    let mut guard = 0usize;
    while li < lpes.len() || ri < rpes.len() {
        guard += 1;
        if guard > 4 * (la.len() + ra.len()) + 4 {
            return Err(err_at(path, "list merge did not converge"));
        }
        if li < lpes.len() && ri < rpes.len() {
            let pe = &lpes[li];
            if *pe == rpes[ri] {
                merged_r.insert(pe.clone());
                let lchild = lobs.get(pe).copied().flatten().unwrap_or(&null);
                push(pe, Some(lchild), robs.get(pe).copied(), &mut out, path)?;
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if robs.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lpes.len() {
            let pe = &lpes[li];
            if !robs.contains_key(pe) {
                push(pe, Some(&la[li]), None, &mut out, path)?;
                li += 1;
                continue;
            } else if merged_r.contains(pe) {
                li += 1;
            }
        }
        if ri < rpes.len() {
            let pe = &rpes[ri];
            merged_r.insert(pe.clone());
            let lchild = lobs.get(pe).map(|o| o.unwrap_or(&null));
            push(pe, lchild, robs.get(pe).copied(), &mut out, path)?;
            ri += 1;
            if next_shared.is_some_and(|n| n == pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    Ok(out)
}

/// Removes the given fields from an object (upstream's RemoveItems). Maps and lists that end up
/// empty are dropped.
pub fn remove_items(v: &Value, set: &FieldSet, schema: &dyn Schema) -> Value {
    remove_node(v, set, schema).unwrap_or(Value::Null)
}

fn remove_node(v: &Value, set: &FieldSet, s: &dyn Schema) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.is_empty() {
                return None;
            }
            if s.map_atomic() {
                return Some(v.clone());
            }
            let mut out = Map::new();
            for (k, cv) in m {
                let pe = PathElement::Field(k.clone());
                if set.members.contains(&pe) {
                    continue;
                }
                match set.with_prefix(&pe) {
                    Some(sub) => {
                        if let Some(nv) = remove_node(cv, sub, s.field(k).as_ref()) {
                            out.insert(k.clone(), nv);
                        }
                    }
                    None => {
                        out.insert(k.clone(), cv.clone());
                    }
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(a) => {
            if a.is_empty() {
                return None;
            }
            let lt = s.list_type();
            if lt == ListType::Atomic {
                return Some(v.clone());
            }
            let items = s.items();
            let mut out = Vec::new();
            for item in a {
                let Ok(pe) = item_pe(&lt, s, item) else {
                    out.push(item.clone());
                    continue;
                };
                if set.members.contains(&pe) {
                    continue;
                }
                match set.with_prefix(&pe) {
                    Some(sub) => {
                        if let Some(nv) = remove_node(item, sub, items.as_ref()) {
                            out.push(nv);
                        }
                    }
                    None => out.push(item.clone()),
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}

// ---------------------------------------------------------------------------------------------
// Managers.
// ---------------------------------------------------------------------------------------------

/// Who owns a set of fields: one `managedFields` entry's identity. Apply entries carry no
/// apiVersion in their identity (an applier has one entry whatever version it used).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ManagerId {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub subresource: String,
}

impl ManagerId {
    pub fn new(manager: &str, apply: bool, api_version: &str, subresource: &str) -> Self {
        ManagerId {
            manager: if manager.is_empty() {
                "unknown"
            } else {
                manager
            }
            .to_string(),
            operation: if apply { "Apply" } else { "Update" }.to_string(),
            api_version: if apply { "" } else { api_version }.to_string(),
            subresource: subresource.to_string(),
        }
    }

    /// How conflicts name a manager: `"kubectl"`, `"ctl" using apps/v1`,
    /// `"ctl" with subresource "status" using v1`.
    pub fn describe(&self) -> String {
        let mut s = serde_json::to_string(&self.manager).unwrap_or_default();
        if !self.subresource.is_empty() {
            let _ = write!(
                s,
                " with subresource {}",
                serde_json::to_string(&self.subresource).unwrap_or_default()
            );
        }
        if self.operation == "Update" {
            let _ = write!(s, " using {}", self.api_version);
        }
        s
    }
}

/// One manager's fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Owned {
    pub set: FieldSet,
    pub api_version: String,
    pub applied: bool,
    pub time: Option<String>,
}

/// An object's managedFields, decoded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Managed(pub BTreeMap<ManagerId, Owned>);

impl Managed {
    /// Decodes `metadata.managedFields`. Entries must name an operation (Apply/Update), an
    /// apiVersion and fieldsType FieldsV1, as upstream requires.
    pub fn decode(entries: &Value) -> Result<Managed, String> {
        let Value::Array(a) = entries else {
            return Err("managedFields must be a list".into());
        };
        let mut out = BTreeMap::new();
        for (i, e) in a.iter().enumerate() {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
            let op = s("operation");
            if op != "Apply" && op != "Update" {
                return Err("operation must be `Apply` or `Update`".into());
            }
            if s("apiVersion").is_empty() {
                return Err("apiVersion must not be empty".into());
            }
            match s("fieldsType") {
                "FieldsV1" => {}
                "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
                other => {
                    return Err(format!(
                        "invalid fieldsType {other:?} in managed fields entry {i}"
                    ))
                }
            }
            let set = match e.get("fieldsV1") {
                None | Some(Value::Null) => FieldSet::new(),
                Some(f) => FieldSet::from_fields_v1(f)?,
            };
            let id = ManagerId {
                manager: s("manager").to_string(),
                operation: op.to_string(),
                api_version: if op == "Apply" { "" } else { s("apiVersion") }.to_string(),
                subresource: s("subresource").to_string(),
            };
            out.insert(
                id,
                Owned {
                    set,
                    api_version: s("apiVersion").to_string(),
                    applied: op == "Apply",
                    time: e.get("time").and_then(Value::as_str).map(str::to_string),
                },
            );
        }
        Ok(Managed(out))
    }

    /// The `metadata.managedFields` list, in upstream's order (operation, time, manager,
    /// apiVersion, subresource); `None` when nothing is managed.
    pub fn encode(&self) -> Option<Value> {
        if self.0.is_empty() {
            return None;
        }
        let secs = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0)
        };
        let mut entries: Vec<(&ManagerId, &Owned)> = self.0.iter().collect();
        entries.sort_by(|(a, oa), (b, ob)| {
            let op = |o: &Owned| if o.applied { "Apply" } else { "Update" };
            op(oa)
                .cmp(op(ob))
                .then_with(|| secs(&oa.time).cmp(&secs(&ob.time)))
                .then_with(|| a.manager.cmp(&b.manager))
                .then_with(|| oa.api_version.cmp(&ob.api_version))
                .then_with(|| a.subresource.cmp(&b.subresource))
        });
        let list = entries
            .into_iter()
            .map(|(id, o)| {
                let mut e = Map::new();
                e.insert("manager".into(), json!(id.manager));
                e.insert(
                    "operation".into(),
                    json!(if o.applied { "Apply" } else { "Update" }),
                );
                e.insert("apiVersion".into(), json!(o.api_version));
                if let Some(t) = &o.time {
                    e.insert("time".into(), json!(t));
                }
                e.insert("fieldsType".into(), json!("FieldsV1"));
                e.insert("fieldsV1".into(), o.set.to_fields_v1());
                if !id.subresource.is_empty() {
                    e.insert("subresource".into(), json!(id.subresource));
                }
                Value::Object(e)
            })
            .collect();
        Some(Value::Array(list))
    }

    fn drop_empty(&mut self) {
        self.0.retain(|_, o| !o.set.is_empty());
    }
}

/// Fields a write path resets (upstream's ResetFields): they are never owned through it.
#[derive(Clone, Debug, Default)]
pub enum ResetFields {
    #[default]
    None,
    /// These top-level fields (`status` for the main resource of a kind with a status).
    Exclude(Vec<String>),
    /// Everything except this top-level field (`status` for the status subresource).
    OnlyUnder(String),
}

impl ResetFields {
    pub fn filter(&self, set: &FieldSet) -> FieldSet {
        match self {
            ResetFields::None => set.clone(),
            ResetFields::Exclude(fields) => {
                let mut ex = FieldSet::new();
                for f in fields {
                    ex.insert(&[PathElement::Field(f.clone())]);
                }
                set.recursive_difference(&ex)
            }
            ResetFields::OnlyUnder(f) => {
                let pe = PathElement::Field(f.clone());
                let mut out = FieldSet::new();
                if set.members.contains(&pe) {
                    out.members.insert(pe.clone());
                }
                if let Some(c) = set.children.get(&pe) {
                    out.children.insert(pe, c.clone());
                }
                out
            }
        }
    }
}

/// Where a write happens.
pub struct Context<'a> {
    /// The endpoint's apiVersion (`apps/v1`) and kind.
    pub api_version: &'a str,
    pub kind: &'a str,
    /// `""` for the main resource, else `status`, `scale`...
    pub subresource: &'a str,
    pub schema: &'a dyn Schema,
    pub reset: ResetFields,
    /// The time recorded on changed entries (RFC 3339, seconds).
    pub now: &'a str,
}

/// One field another manager owns that an apply would change.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    pub manager: ManagerId,
    pub path: Path,
}

/// Why an apply failed.
#[derive(Clone, Debug, PartialEq)]
pub enum ApplyError {
    /// Fields owned by other managers would change: 409 with FieldManagerConflict causes.
    Conflicts(Vec<Conflict>),
    /// The applied configuration is unusable: 400.
    BadRequest(String),
    /// The applied configuration does not fit the kind's schema ([`typed_patch_message`]):
    /// upstream answers 500 with no reason (its field manager returns a plain error).
    Typed(String),
}

impl ApplyError {
    /// Upstream's message: `Apply failed with 1 conflict: conflict with "x" using v1: .a.b`.
    pub fn message(&self) -> String {
        match self {
            ApplyError::BadRequest(m) | ApplyError::Typed(m) => m.clone(),
            ApplyError::Conflicts(c) if c.len() == 1 => format!(
                "Apply failed with 1 conflict: conflict with {}: {}",
                c[0].manager.describe(),
                c[0].path
            ),
            ApplyError::Conflicts(c) => {
                let mut by: BTreeMap<&ManagerId, Vec<&Path>> = BTreeMap::new();
                for x in c {
                    by.entry(&x.manager).or_default().push(&x.path);
                }
                let mut lines = Vec::new();
                for (m, paths) in by {
                    lines.push(format!("conflicts with {}:", m.describe()));
                    for p in paths {
                        lines.push(format!("- {p}"));
                    }
                }
                format!(
                    "Apply failed with {} conflicts: {}",
                    c.len(),
                    lines.join("\n")
                )
            }
        }
    }

    /// The Status causes: `{type: FieldManagerConflict, message: "conflict with ...", field}`.
    pub fn causes(&self) -> Vec<Value> {
        match self {
            ApplyError::Conflicts(c) => c
                .iter()
                .map(|x| {
                    json!({"type": "FieldManagerConflict",
                           "message": format!("conflict with {}", x.manager.describe()),
                           "field": x.path.to_string()})
                })
                .collect(),
            ApplyError::BadRequest(_) | ApplyError::Typed(_) => Vec::new(),
        }
    }
}

/// Paths that are never owned (upstream's stripMeta set).
fn strip_set() -> FieldSet {
    let mut s = FieldSet::new();
    for f in ["apiVersion", "kind", "metadata"] {
        s.insert(&[PathElement::Field(f.into())]);
    }
    for f in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[
            PathElement::Field("metadata".into()),
            PathElement::Field(f.into()),
        ]);
    }
    s
}

fn strip(managed: &mut Managed, id: &ManagerId) {
    if let Some(o) = managed.0.get_mut(id) {
        o.set = o.set.difference(&strip_set());
        if o.set.is_empty() {
            managed.0.remove(id);
        }
    }
}

/// The object without `metadata.managedFields`.
fn without_managed(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    v
}

fn set_managed(obj: &mut Value, managed: &Managed) {
    let encoded = managed.encode();
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    let meta = root.entry("metadata").or_insert_with(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        match encoded {
            Some(e) => {
                m.insert("managedFields".into(), e);
            }
            None => {
                m.remove("managedFields");
            }
        }
    }
}

fn managed_of(obj: &Value) -> Option<&Value> {
    obj.pointer("/metadata/managedFields")
}

/// The zero object a create starts from: `apiVersion`/`kind`, and the struct fields every
/// built-in object always has.
fn zero_object(cx: &Context) -> Value {
    let mut m = Map::new();
    m.insert("apiVersion".into(), json!(cx.api_version));
    m.insert("kind".into(), json!(cx.kind));
    for f in ["metadata", "spec", "status"] {
        if cx.schema.is_named_field(f) && f != "metadata" {
            m.insert(f.into(), json!({}));
        }
    }
    Value::Object(m)
}

/// The core of every write (upstream's Updater.update): which other managers' fields change.
fn update_owners(
    old: &Value,
    new: &Value,
    managed: &mut Managed,
    workflow: &ManagerId,
    force: bool,
    cx: &Context,
) -> Result<Comparison, ApplyError> {
    let mut cmp = compare(old, new, cx.schema).map_err(ApplyError::BadRequest)?;
    cmp.filter(&cx.reset);
    let changed = cmp.modified.union(&cmp.added);
    let mut conflicts = Vec::new();
    for (id, o) in &managed.0 {
        if id == workflow {
            continue;
        }
        let c = o.set.intersection(&changed);
        for p in c.paths() {
            conflicts.push(Conflict {
                manager: id.clone(),
                path: p,
            });
        }
    }
    if !force && !conflicts.is_empty() {
        return Err(ApplyError::Conflicts(conflicts));
    }
    for (id, o) in managed.0.iter_mut() {
        if id == workflow {
            continue;
        }
        o.set = o.set.difference(&changed).difference(&cmp.removed);
    }
    managed.drop_empty();
    Ok(cmp)
}

/// Records an Update by `id` (upstream's Updater.Update under the managedFields updater): the
/// fields it changed become its own and leave other managers.
fn structured_update(
    live: &Value,
    new: &Value,
    managed: &mut Managed,
    id: &ManagerId,
    cx: &Context,
) -> Result<(), String> {
    let op = ManagerId::new("current-operation", false, cx.api_version, "");
    let cmp = update_owners(live, new, managed, &op, true, cx).map_err(|e| e.message())?;
    let prev = managed.0.remove(&op).map(|o| o.set).unwrap_or_default();
    let mut set = prev
        .difference(&cmp.removed)
        .union(&cmp.modified)
        .union(&cmp.added);
    set = cx.reset.filter(&set).difference(&strip_set());
    if set.is_empty() {
        return Ok(());
    }
    let entry = managed.0.entry(id.clone()).or_insert_with(|| Owned {
        set: FieldSet::new(),
        api_version: cx.api_version.to_string(),
        applied: false,
        time: None,
    });
    entry.set = entry.set.union(&set);
    entry.api_version = cx.api_version.to_string();
    entry.time = Some(cx.now.to_string());
    Ok(())
}

/// Keeps at most [`MAX_UPDATE_MANAGERS`] Update entries, folding the oldest into
/// `ancient-changes` per apiVersion.
fn cap_updaters(managed: &mut Managed) {
    let mut updaters: Vec<ManagerId> = managed
        .0
        .iter()
        .filter(|(_, o)| !o.applied)
        .map(|(id, _)| id.clone())
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    let secs = |id: &ManagerId| {
        managed.0[id]
            .time
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
            .unwrap_or(0)
    };
    updaters.sort_by(|a, b| secs(a).cmp(&secs(b)).then_with(|| a.cmp(b)));
    let mut first_by_version: BTreeMap<String, ManagerId> = BTreeMap::new();
    let mut length = updaters.len();
    for id in updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(o) = managed.0.get(&id).cloned() else {
            continue;
        };
        let bucket = ManagerId::new(ANCIENT_CHANGES, false, &o.api_version, "");
        match first_by_version.get(&o.api_version) {
            Some(first) => {
                if !managed.0.contains_key(&bucket) {
                    if let Some(f) = managed.0.remove(first) {
                        managed.0.insert(bucket.clone(), f);
                    }
                }
                if id != bucket {
                    let b = managed.0.entry(bucket.clone()).or_insert_with(|| o.clone());
                    b.set = b.set.union(&o.set);
                    b.time = o.time.clone();
                    b.applied = false;
                    managed.0.remove(&id);
                    length -= 1;
                }
            }
            None => {
                first_by_version.insert(o.api_version.clone(), id);
            }
        }
    }
}

/// Default manager name from a User-Agent: the part before the first `/`, printable
/// characters only, at most 128 bytes (upstream's prefixFromUserAgent).
pub fn manager_from_user_agent(ua: &str) -> String {
    let head = ua.split('/').next().unwrap_or_default();
    let mut out = String::new();
    for c in head.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > FIELD_MANAGER_MAX_LEN {
            break;
        }
        out.push(c);
    }
    out
}

/// Checks a `fieldManager` parameter: at most 128 bytes, printable characters.
pub fn validate_field_manager(m: &str) -> Result<(), String> {
    if m.len() > FIELD_MANAGER_MAX_LEN {
        return Err(format!(
            "fieldManager: Too long: may not be more than {FIELD_MANAGER_MAX_LEN} bytes"
        ));
    }
    if let Some((i, c)) = m.char_indices().find(|(_, c)| c.is_control()) {
        return Err(format!(
            "fieldManager: Invalid value: {m:?}: invalid character U+{:04X} (at position {i})",
            c as u32
        ));
    }
    Ok(())
}

/// Records the fields a non-apply write (create, update, patch) changed as `manager`'s
/// (operation Update) and takes them from other managers. `old` is the stored object (`None` for
/// a create); `new` is the object about to be stored and receives the new managedFields.
///
/// As upstream: managedFields the request sends are honoured (unless writing a subresource), `[]`
/// (or `[{}]`) resets them; an existing object that has none is not tracked until its first apply;
/// a failure to track drops managedFields rather than failing the write.
pub fn track_update(old: Option<&Value>, new: &mut Value, manager: &str, cx: &Context) {
    let live_managed = || {
        old.and_then(managed_of)
            .and_then(|m| Managed::decode(m).ok())
            .unwrap_or_default()
    };
    let sent = managed_of(new).cloned();
    let managed = if !cx.subresource.is_empty() {
        live_managed()
    } else {
        match &sent {
            Some(Value::Array(a)) if a.is_empty() => Managed::default(),
            Some(Value::Array(a))
                if a.len() == 1 && a[0].as_object().is_some_and(Map::is_empty) =>
            {
                Managed::default()
            }
            Some(v) => match Managed::decode(v) {
                Ok(m) if !m.0.is_empty() => m,
                _ => live_managed(),
            },
            None => live_managed(),
        }
    };
    let stripped_new = without_managed(new);
    *new = stripped_new;
    let live = match old {
        Some(o) => without_managed(o),
        None => zero_object(cx),
    };
    let has_uid = old
        .and_then(|o| o.pointer("/metadata/uid"))
        .and_then(Value::as_str)
        .is_some_and(|u| !u.is_empty());
    if managed.0.is_empty() && has_uid {
        return;
    }
    let mut managed = managed;
    let id = ManagerId::new(manager, false, cx.api_version, cx.subresource);
    // A failure to track leaves the object without managedFields (upstream's UpdateNoErrors).
    if structured_update(&live, new, &mut managed, &id, cx).is_ok() {
        cap_updaters(&mut managed);
        set_managed(new, &managed);
    }
}

/// Server-side apply: merges `config` into `live` (`None`: the object does not exist yet) for
/// `manager`, removing what the manager applied before and no longer does (unless another
/// manager owns it). Fields other managers own with a different value are conflicts unless
/// `force`, which takes them over. Returns the object to store, with managedFields updated.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    cx: &Context,
) -> Result<Value, ApplyError> {
    check_config(config, cx)?;
    let result = apply_inner(live, config, manager, force, cx);
    let mut obj = match result {
        Err(ApplyError::Conflicts(conflicts)) if manager == "kubectl" && !force => {
            // A client-side-applied object moving to server-side apply: fields its
            // last-applied annotation sets (and that still hold those values) are no conflict.
            match live.and_then(|l| allowed_from_last_applied(l, cx)) {
                Some(allowed) => {
                    let rest: Vec<Conflict> = conflicts
                        .iter()
                        .filter(|c| !allowed.has(&c.path.0))
                        .cloned()
                        .collect();
                    if rest.is_empty() {
                        apply_inner(live, config, manager, true, cx)?
                    } else {
                        return Err(ApplyError::Conflicts(rest));
                    }
                }
                None => return Err(ApplyError::Conflicts(conflicts)),
            }
        }
        other => other?,
    };
    if manager == "kubectl" {
        update_last_applied(&mut obj, config);
    }
    Ok(obj)
}

fn check_config(config: &Value, cx: &Context) -> Result<(), ApplyError> {
    if !config.is_object() {
        return Err(ApplyError::BadRequest(
            "the applied configuration must be an object".into(),
        ));
    }
    let av = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = config
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if av != cx.api_version || kind != cx.kind {
        let (g, v) = match av.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", av),
        };
        return Err(ApplyError::BadRequest(format!(
            "invalid object type: {g}/{v}, Kind={kind}"
        )));
    }
    if managed_of(config).is_some_and(|m| !m.is_null()) {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    Ok(())
}

fn apply_inner(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    cx: &Context,
) -> Result<Value, ApplyError> {
    let mut managed = live
        .and_then(managed_of)
        .and_then(|m| Managed::decode(m).ok())
        .unwrap_or_default();
    let mut live_obj = match live {
        Some(l) => without_managed(l),
        None => {
            let mut z = Map::new();
            z.insert("apiVersion".into(), json!(cx.api_version));
            z.insert("kind".into(), json!(cx.kind));
            Value::Object(z)
        }
    };
    // An object nobody manages yet: what it holds belongs to "before-first-apply".
    if managed.0.is_empty() && live.is_some() {
        let id = ManagerId::new(BEFORE_FIRST_APPLY, false, cx.api_version, cx.subresource);
        structured_update(&zero_object(cx), &live_obj, &mut managed, &id, cx)
            .map_err(ApplyError::BadRequest)?;
        live_obj = without_managed(&live_obj);
    }
    let id = ManagerId::new(manager, true, cx.api_version, cx.subresource);
    let config = without_managed(config);
    let errs = typed_errors(&config, cx.schema);
    if !errs.is_empty() {
        return Err(ApplyError::Typed(typed_patch_message(&config, &errs)));
    }
    let merged = merge(&live_obj, &config, cx.schema).map_err(ApplyError::BadRequest)?;
    let last = managed.0.get(&id).map(|o| o.set.clone());
    let applied_set = cx
        .reset
        .filter(&fields_of(&config, cx.schema).map_err(ApplyError::BadRequest)?);
    let prev_time = managed.0.get(&id).and_then(|o| o.time.clone());
    managed.0.insert(
        id.clone(),
        Owned {
            set: applied_set,
            api_version: cx.api_version.to_string(),
            applied: true,
            time: prev_time,
        },
    );
    let new_obj = match &last {
        Some(last) if !last.is_empty() => prune(&merged, &managed, last, cx.schema),
        _ => merged,
    };
    update_owners(&live_obj, &new_obj, &mut managed, &id, force, cx)?;
    strip(&mut managed, &id);
    let changed = !values_equal(&live_obj, &new_obj);
    let mut out = if changed { new_obj } else { live_obj };
    if changed {
        if let Some(o) = managed.0.get_mut(&id) {
            o.time = Some(cx.now.to_string());
        }
    }
    set_managed(&mut out, &managed);
    Ok(out)
}

/// Drops what the applier owned last time and no longer applies, unless another manager owns
/// it (upstream's prune, addBackOwnedItems and addBackDanglingItems).
fn prune(merged: &Value, managed: &Managed, last: &FieldSet, s: &dyn Schema) -> Value {
    let pruned = remove_items(merged, &last.with_named_members(s), s);
    let all_owned = managed
        .0
        .values()
        .fold(FieldSet::new(), |acc, o| acc.union(&o.set))
        .with_named_members(s);
    let merged_set = fields_of(merged, s)
        .unwrap_or_default()
        .with_named_members(s);
    let pruned_set = fields_of(&pruned, s)
        .unwrap_or_default()
        .with_named_members(s);
    let pruned = remove_items(
        merged,
        &merged_set.difference(&pruned_set.union(&all_owned)),
        s,
    );
    let pruned_set = fields_of(&pruned, s)
        .unwrap_or_default()
        .with_named_members(s);
    let last = last.with_named_members(s);
    remove_items(
        merged,
        &merged_set.difference(&pruned_set).intersection(&last),
        s,
    )
}

fn last_applied(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The fields a client-side-applied object's last-applied annotation sets and the live object
/// still holds unchanged.
fn allowed_from_last_applied(live: &Value, cx: &Context) -> Option<FieldSet> {
    let la: Value = serde_json::from_str(last_applied(live)?).ok()?;
    if la.get("apiVersion").and_then(Value::as_str) != Some(cx.api_version) {
        return None;
    }
    let live = without_managed(live);
    let set = fields_of(&la, cx.schema).ok()?;
    let cmp = compare(&la, &live, cx.schema).ok()?;
    Some(
        set.difference(&cmp.modified)
            .difference(&cmp.added)
            .difference(&cmp.removed),
    )
}

/// `kubectl` applying server-side keeps an existing last-applied annotation current.
fn update_last_applied(obj: &mut Value, config: &Value) {
    if last_applied(obj).is_none() {
        return;
    }
    let mut c = config.clone();
    if let Some(a) = c
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.remove(LAST_APPLIED);
    }
    let text = serde_json::to_string(&c).unwrap_or_default();
    if let Some(a) = obj
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        a.insert(LAST_APPLIED.into(), json!(text));
    }
}

#[cfg(test)]
mod tests;
