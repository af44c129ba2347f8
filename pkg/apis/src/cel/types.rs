//! CEL types as the checker sees them, and the declared function overloads (standard library
//! plus the Kubernetes libraries), written in a small signature notation parsed once.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A declared object type (a schema node with properties): its name and its fields.
#[derive(Debug, PartialEq, Default)]
pub struct ObjectType {
    pub name: String,
    pub fields: BTreeMap<String, Type>,
    /// A type whose fields are not known (admission policies' `Object`, `Object.spec`, ...):
    /// any field may be set or selected, as `dyn`.
    pub dynamic: bool,
}

/// The `JSONPatch` type of mutating admission policies: `op`, `path`, `from` (strings) and
/// `value` (any).
pub fn json_patch_type() -> Type {
    static T: OnceLock<Arc<ObjectType>> = OnceLock::new();
    Type::Object(
        T.get_or_init(|| {
            Arc::new(ObjectType {
                name: "JSONPatch".into(),
                fields: [
                    ("op", Type::String),
                    ("path", Type::String),
                    ("from", Type::String),
                    ("value", Type::Dyn),
                ]
                .into_iter()
                .map(|(k, t)| (k.to_string(), t))
                .collect(),
                dynamic: false,
            })
        })
        .clone(),
    )
}

/// A dynamic object type of mutating admission policies (`Object`, `Object.spec`, ...).
pub fn dynamic_object_type(name: &str) -> Type {
    Type::Object(Arc::new(ObjectType {
        name: name.to_string(),
        fields: BTreeMap::new(),
        dynamic: true,
    }))
}

#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Duration,
    Timestamp,
    List(Box<Type>),
    Map(Box<Type>, Box<Type>),
    Object(Arc<ObjectType>),
    /// The type of a type value (`type(x)`, `int`).
    Type(Box<Type>),
    Optional(Box<Type>),
    /// A type parameter of an overload signature (`A`, `K`, `V`).
    Param(&'static str),
    /// Kubernetes opaque types: `kubernetes.Quantity`, `kubernetes.URL`, `net.IP`, ...
    Opaque(&'static str),
    /// The result of an expression that failed to check.
    Error,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Dyn => f.write_str("dyn"),
            Type::Null => f.write_str("null_type"),
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Uint => f.write_str("uint"),
            Type::Double => f.write_str("double"),
            Type::String => f.write_str("string"),
            Type::Bytes => f.write_str("bytes"),
            Type::Duration => f.write_str("google.protobuf.Duration"),
            Type::Timestamp => f.write_str("google.protobuf.Timestamp"),
            Type::List(e) => write!(f, "list({e})"),
            Type::Map(k, v) => write!(f, "map({k}, {v})"),
            Type::Object(o) => f.write_str(&o.name),
            Type::Type(t) => write!(f, "type({t})"),
            Type::Optional(t) => write!(f, "optional_type({t})"),
            Type::Param(p) => f.write_str(p),
            Type::Opaque(n) => f.write_str(n),
            Type::Error => f.write_str("*error*"),
        }
    }
}

impl Type {
    pub fn list(e: Type) -> Type {
        Type::List(Box::new(e))
    }
    pub fn map(k: Type, v: Type) -> Type {
        Type::Map(Box::new(k), Box::new(v))
    }
    pub fn optional(t: Type) -> Type {
        Type::Optional(Box::new(t))
    }
    pub fn is_dyn_like(&self) -> bool {
        matches!(self, Type::Dyn | Type::Error)
    }
}

/// Substitution of type parameters while matching an overload.
pub type Subst = HashMap<&'static str, Type>;

/// Whether a value of type `arg` may be passed where `param` is declared, binding type
/// parameters in `s`. `dyn` matches anything in either direction (checked at run time).
pub fn assignable(param: &Type, arg: &Type, s: &mut Subst) -> bool {
    match (param, arg) {
        (_, Type::Error) | (Type::Dyn, _) => true,
        (Type::Param(p), _) => match s.get(p).cloned() {
            None => {
                s.insert(p, arg.clone());
                true
            }
            Some(bound) => {
                if assignable(&bound, arg, s) {
                    // Widen a binding to dyn when either side is dyn.
                    if bound.is_dyn_like() || arg.is_dyn_like() {
                        s.insert(p, Type::Dyn);
                    }
                    true
                } else if assignable(arg, &bound, s) {
                    s.insert(p, arg.clone());
                    true
                } else {
                    false
                }
            }
        },
        (_, Type::Dyn) => true,
        (Type::List(a), Type::List(b)) => assignable(a, b, s),
        (Type::Map(k1, v1), Type::Map(k2, v2)) => assignable(k1, k2, s) && assignable(v1, v2, s),
        (Type::Optional(a), Type::Optional(b)) => assignable(a, b, s),
        (Type::Type(a), Type::Type(b)) => assignable(a, b, s),
        (Type::Object(a), Type::Object(b)) => Arc::ptr_eq(a, b) || a == b,
        (Type::Object(_), Type::Null) | (Type::Null, Type::Null) => true,
        (a, b) => a == b,
    }
}

/// Replaces bound type parameters; unbound ones become `dyn`.
pub fn substitute(t: &Type, s: &Subst) -> Type {
    match t {
        Type::Param(p) => s.get(p).cloned().map_or(Type::Dyn, |b| substitute(&b, s)),
        Type::List(e) => Type::list(substitute(e, s)),
        Type::Map(k, v) => Type::map(substitute(k, s), substitute(v, s)),
        Type::Optional(e) => Type::optional(substitute(e, s)),
        Type::Type(e) => Type::Type(Box::new(substitute(e, s))),
        other => other.clone(),
    }
}

/// The least common type of two types (for list literals, conditionals, overload results):
/// equal types stay, anything else widens to `dyn`.
pub fn join(a: &Type, b: &Type) -> Type {
    if a == b {
        return a.clone();
    }
    match (a, b) {
        (Type::Error, x) | (x, Type::Error) => x.clone(),
        (Type::Null, x @ (Type::Object(_) | Type::Optional(_)))
        | (x @ (Type::Object(_) | Type::Optional(_)), Type::Null) => x.clone(),
        (Type::List(x), Type::List(y)) => Type::list(join(x, y)),
        (Type::Map(k1, v1), Type::Map(k2, v2)) => Type::map(join(k1, k2), join(v1, v2)),
        (Type::Optional(x), Type::Optional(y)) => Type::optional(join(x, y)),
        _ => Type::Dyn,
    }
}

/// One declared overload.
#[derive(Debug)]
pub struct Overload {
    /// Called as `target.name(args)` (the first parameter is the target).
    pub member: bool,
    pub params: Vec<Type>,
    pub result: Type,
}

/// Overloads by function name.
pub fn overloads(name: &str) -> Option<&'static [Overload]> {
    static T: OnceLock<HashMap<String, Vec<Overload>>> = OnceLock::new();
    T.get_or_init(build).get(name).map(Vec::as_slice)
}

fn parse_type(s: &str) -> Type {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix("list(").and_then(|r| r.strip_suffix(')')) {
        return Type::list(parse_type(inner));
    }
    if let Some(inner) = s.strip_prefix("map(").and_then(|r| r.strip_suffix(')')) {
        let (k, v) = split_top(inner);
        return Type::map(parse_type(k), parse_type(v));
    }
    if let Some(inner) = s.strip_prefix("opt(").and_then(|r| r.strip_suffix(')')) {
        return Type::optional(parse_type(inner));
    }
    if let Some(inner) = s.strip_prefix("type(").and_then(|r| r.strip_suffix(')')) {
        return Type::Type(Box::new(parse_type(inner)));
    }
    match s {
        "dyn" => Type::Dyn,
        "null" => Type::Null,
        "bool" => Type::Bool,
        "int" => Type::Int,
        "uint" => Type::Uint,
        "double" => Type::Double,
        "string" => Type::String,
        "bytes" => Type::Bytes,
        "duration" => Type::Duration,
        "timestamp" => Type::Timestamp,
        "A" => Type::Param("A"),
        "B" => Type::Param("B"),
        "K" => Type::Param("K"),
        "V" => Type::Param("V"),
        "Quantity" => Type::Opaque("kubernetes.Quantity"),
        "URL" => Type::Opaque("kubernetes.URL"),
        "IP" => Type::Opaque("net.IP"),
        "CIDR" => Type::Opaque("net.CIDR"),
        "Semver" => Type::Opaque("kubernetes.Semver"),
        "Format" => Type::Opaque("kubernetes.NamedFormat"),
        "Authorizer" => Type::Opaque("kubernetes.authorization.Authorizer"),
        "PathCheck" => Type::Opaque("kubernetes.authorization.PathCheck"),
        "GroupCheck" => Type::Opaque("kubernetes.authorization.GroupCheck"),
        "ResourceCheck" => Type::Opaque("kubernetes.authorization.ResourceCheck"),
        "Decision" => Type::Opaque("kubernetes.authorization.Decision"),
        other => panic!("bad type in signature table: {other}"),
    }
}

fn split_top(s: &str) -> (&str, &str) {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => return (&s[..i], &s[i + 1..]),
            _ => {}
        }
    }
    (s, "")
}

fn split_args(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let (a, b) = split_top(rest);
        out.push(a.trim());
        rest = b.trim();
    }
    out
}

/// The signature table. `T.f(A, B) -> R` declares a member overload, `f(A, B) -> R` a global
/// one; a line may carry several `;`-separated signatures.
const SIGNATURES: &str = r#"
_+_(int, int) -> int; _+_(uint, uint) -> uint; _+_(double, double) -> double
_+_(string, string) -> string; _+_(bytes, bytes) -> bytes; _+_(list(A), list(A)) -> list(A)
_+_(timestamp, duration) -> timestamp; _+_(duration, timestamp) -> timestamp; _+_(duration, duration) -> duration
_-_(int, int) -> int; _-_(uint, uint) -> uint; _-_(double, double) -> double
_-_(timestamp, timestamp) -> duration; _-_(timestamp, duration) -> timestamp; _-_(duration, duration) -> duration
_*_(int, int) -> int; _*_(uint, uint) -> uint; _*_(double, double) -> double
_/_(int, int) -> int; _/_(uint, uint) -> uint; _/_(double, double) -> double
_%_(int, int) -> int; _%_(uint, uint) -> uint
-_(int) -> int; -_(double) -> double
!_(bool) -> bool
_&&_(bool, bool) -> bool; _||_(bool, bool) -> bool
@not_strictly_false(bool) -> bool
_==_(A, A) -> bool; _!=_(A, A) -> bool
@in(A, list(A)) -> bool; @in(A, map(A, B)) -> bool
_[_](list(A), int) -> A; _[_](map(K, V), K) -> V; _[_](opt(list(A)), int) -> opt(A); _[_](opt(map(K, V)), K) -> opt(V)
_[?_](list(A), int) -> opt(A); _[?_](map(K, V), K) -> opt(V); _[?_](opt(list(A)), int) -> opt(A); _[?_](opt(map(K, V)), K) -> opt(V)
size(string) -> int; size(bytes) -> int; size(list(A)) -> int; size(map(K, V)) -> int
string.size() -> int; bytes.size() -> int; list(A).size() -> int; map(K, V).size() -> int
string.contains(string) -> bool; string.startsWith(string) -> bool; string.endsWith(string) -> bool
string.matches(string) -> bool; matches(string, string) -> bool
int(int) -> int; int(uint) -> int; int(double) -> int; int(string) -> int; int(timestamp) -> int
uint(uint) -> uint; uint(int) -> uint; uint(double) -> uint; uint(string) -> uint
double(double) -> double; double(int) -> double; double(uint) -> double; double(string) -> double
string(string) -> string; string(int) -> string; string(uint) -> string; string(double) -> string
string(bytes) -> string; string(bool) -> string; string(timestamp) -> string; string(duration) -> string
bytes(bytes) -> bytes; bytes(string) -> bytes
bool(bool) -> bool; bool(string) -> bool
duration(duration) -> duration; duration(string) -> duration
timestamp(timestamp) -> timestamp; timestamp(string) -> timestamp; timestamp(int) -> timestamp
dyn(A) -> dyn
type(A) -> type(A)
timestamp.getFullYear() -> int; timestamp.getFullYear(string) -> int
timestamp.getMonth() -> int; timestamp.getMonth(string) -> int
timestamp.getDayOfYear() -> int; timestamp.getDayOfYear(string) -> int
timestamp.getDayOfMonth() -> int; timestamp.getDayOfMonth(string) -> int
timestamp.getDate() -> int; timestamp.getDate(string) -> int
timestamp.getDayOfWeek() -> int; timestamp.getDayOfWeek(string) -> int
timestamp.getHours() -> int; timestamp.getHours(string) -> int; duration.getHours() -> int
timestamp.getMinutes() -> int; timestamp.getMinutes(string) -> int; duration.getMinutes() -> int
timestamp.getSeconds() -> int; timestamp.getSeconds(string) -> int; duration.getSeconds() -> int
timestamp.getMilliseconds() -> int; timestamp.getMilliseconds(string) -> int; duration.getMilliseconds() -> int
optional.of(A) -> opt(A); optional.ofNonZeroValue(A) -> opt(A); optional.none() -> opt(dyn)
opt(A).hasValue() -> bool; opt(A).value() -> A; opt(A).orValue(A) -> A; opt(A).or(opt(A)) -> opt(A)
_?._(map(K, V), string) -> opt(V); _?._(opt(map(K, V)), string) -> opt(V)
string.charAt(int) -> string; string.indexOf(string) -> int; string.indexOf(string, int) -> int
string.lastIndexOf(string) -> int; string.lastIndexOf(string, int) -> int
string.lowerAscii() -> string; string.upperAscii() -> string
string.replace(string, string) -> string; string.replace(string, string, int) -> string
string.split(string) -> list(string); string.split(string, int) -> list(string)
string.substring(int) -> string; string.substring(int, int) -> string
string.trim() -> string; list(string).join() -> string; list(string).join(string) -> string
string.format(list(dyn)) -> string; strings.quote(string) -> string; string.reverse() -> string
base64.encode(bytes) -> string; base64.decode(string) -> bytes
jsonpatch.escapeKey(string) -> string
list(int).isSorted() -> bool; list(uint).isSorted() -> bool; list(double).isSorted() -> bool; list(string).isSorted() -> bool; list(bytes).isSorted() -> bool; list(duration).isSorted() -> bool; list(timestamp).isSorted() -> bool; list(Quantity).isSorted() -> bool
list(int).sum() -> int; list(uint).sum() -> uint; list(double).sum() -> double; list(duration).sum() -> duration
list(int).min() -> int; list(uint).min() -> uint; list(double).min() -> double; list(string).min() -> string; list(bytes).min() -> bytes; list(duration).min() -> duration; list(timestamp).min() -> timestamp; list(Quantity).min() -> Quantity
list(int).max() -> int; list(uint).max() -> uint; list(double).max() -> double; list(string).max() -> string; list(bytes).max() -> bytes; list(duration).max() -> duration; list(timestamp).max() -> timestamp; list(Quantity).max() -> Quantity
list(A).indexOf(A) -> int; list(A).lastIndexOf(A) -> int
list(A).slice(int, int) -> list(A); list(A).reverse() -> list(A); list(A).distinct() -> list(A); list(A).sort() -> list(A)
list(A).first() -> opt(A); list(A).last() -> opt(A); list(dyn).flatten() -> list(dyn); list(dyn).flatten(int) -> list(dyn)
lists.range(int) -> list(int)
sets.contains(list(A), list(A)) -> bool; sets.equivalent(list(A), list(A)) -> bool; sets.intersects(list(A), list(A)) -> bool
math.greatest(A, A) -> A; math.least(A, A) -> A; math.greatest(list(A)) -> A; math.least(list(A)) -> A
math.abs(int) -> int; math.abs(double) -> double; math.sign(int) -> int; math.sign(double) -> double
math.ceil(double) -> double; math.floor(double) -> double; math.round(double) -> double
math.isNaN(double) -> bool; math.isInf(double) -> bool; math.isFinite(double) -> bool
string.find(string) -> string; string.findAll(string) -> list(string); string.findAll(string, int) -> list(string)
url(string) -> URL; isURL(string) -> bool
URL.getScheme() -> string; URL.getHost() -> string; URL.getHostname() -> string; URL.getPort() -> string
URL.getEscapedPath() -> string; URL.getQuery() -> map(string, list(string))
quantity(string) -> Quantity; isQuantity(string) -> bool
Quantity.sign() -> int; Quantity.isInteger() -> bool; Quantity.asInteger() -> int; Quantity.asApproximateFloat() -> double
Quantity.isGreaterThan(Quantity) -> bool; Quantity.isLessThan(Quantity) -> bool; Quantity.compareTo(Quantity) -> int
Quantity.add(Quantity) -> Quantity; Quantity.add(int) -> Quantity; Quantity.sub(Quantity) -> Quantity; Quantity.sub(int) -> Quantity
ip(string) -> IP; isIP(string) -> bool; ip.isCanonical(string) -> bool; string(IP) -> string
IP.family() -> int; IP.isUnspecified() -> bool; IP.isLoopback() -> bool; IP.isLinkLocalMulticast() -> bool; IP.isLinkLocalUnicast() -> bool; IP.isGlobalUnicast() -> bool
cidr(string) -> CIDR; isCIDR(string) -> bool; string(CIDR) -> string
CIDR.containsIP(IP) -> bool; CIDR.containsIP(string) -> bool; CIDR.containsCIDR(CIDR) -> bool; CIDR.containsCIDR(string) -> bool
CIDR.ip() -> IP; CIDR.masked() -> CIDR; CIDR.prefixLength() -> int
semver(string) -> Semver; semver(string, bool) -> Semver; isSemver(string) -> bool; isSemver(string, bool) -> bool
Semver.major() -> int; Semver.minor() -> int; Semver.patch() -> int
Semver.isGreaterThan(Semver) -> bool; Semver.isLessThan(Semver) -> bool; Semver.compareTo(Semver) -> int
format.named(string) -> opt(Format); Format.validate(string) -> opt(list(string))
format.dns1123Label() -> Format; format.dns1123Subdomain() -> Format; format.dns1035Label() -> Format; format.qualifiedName() -> Format
format.dns1123LabelPrefix() -> Format; format.dns1123SubdomainPrefix() -> Format; format.dns1035LabelPrefix() -> Format
format.labelValue() -> Format; format.uri() -> Format; format.uuid() -> Format; format.byte() -> Format; format.date() -> Format; format.datetime() -> Format
Authorizer.path(string) -> PathCheck; Authorizer.group(string) -> GroupCheck; Authorizer.serviceAccount(string, string) -> Authorizer
GroupCheck.resource(string) -> ResourceCheck; ResourceCheck.subresource(string) -> ResourceCheck
ResourceCheck.namespace(string) -> ResourceCheck; ResourceCheck.name(string) -> ResourceCheck
ResourceCheck.fieldSelector(string) -> ResourceCheck; ResourceCheck.labelSelector(string) -> ResourceCheck
PathCheck.check(string) -> Decision; ResourceCheck.check(string) -> Decision
Decision.allowed() -> bool; Decision.errored() -> bool; Decision.error() -> string; Decision.reason() -> string
"#;

fn build() -> HashMap<String, Vec<Overload>> {
    let mut out: HashMap<String, Vec<Overload>> = HashMap::new();
    let mut add = |name: &str, member: bool, params: Vec<Type>, result: Type| {
        out.entry(name.to_string()).or_default().push(Overload {
            member,
            params,
            result,
        });
    };
    for sig in SIGNATURES
        .lines()
        .flat_map(|l| l.split(';'))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let (lhs, result) = sig.split_once("->").expect("signature has ->");
        let lhs = lhs.trim();
        // The argument list's parenthesis: the one matching the final `)`.
        let mut depth = 0;
        let mut open = 0;
        for (i, c) in lhs.char_indices().rev() {
            match c {
                ')' => depth += 1,
                '(' => {
                    depth -= 1;
                    if depth == 0 {
                        open = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let head = &lhs[..open];
        let args = lhs[open + 1..].strip_suffix(')').expect("signature has )");
        let mut params: Vec<Type> = split_args(args).into_iter().map(parse_type).collect();
        // `T.f(...)`: the receiver type is everything before the last top-level dot that is
        // not inside parentheses; global names may contain dots too (`optional.of`).
        let (member, name) = match head.rfind(").") {
            Some(i) => {
                params.insert(0, parse_type(&head[..=i]));
                (true, &head[i + 2..])
            }
            None => match head.split_once('.') {
                Some((recv, name))
                    if [
                        "string",
                        "bytes",
                        "timestamp",
                        "duration",
                        "URL",
                        "Quantity",
                        "IP",
                        "CIDR",
                        "Semver",
                        "Format",
                        "Authorizer",
                        "GroupCheck",
                        "ResourceCheck",
                        "PathCheck",
                        "Decision",
                    ]
                    .contains(&recv) =>
                {
                    params.insert(0, parse_type(recv));
                    (true, name)
                }
                _ => (false, head),
            },
        };
        add(name, member, params, parse_type(result));
    }
    // Cross-type numeric comparisons (enabled in Kubernetes' environment) and the same-type
    // orderings.
    let nums = [Type::Int, Type::Uint, Type::Double];
    for op in ["_<_", "_<=_", "_>_", "_>=_"] {
        for a in &nums {
            for b in &nums {
                add(op, false, vec![a.clone(), b.clone()], Type::Bool);
            }
        }
        for t in [
            Type::String,
            Type::Bytes,
            Type::Bool,
            Type::Timestamp,
            Type::Duration,
        ] {
            add(op, false, vec![t.clone(), t], Type::Bool);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses() {
        let o = overloads("_+_").expect("plus");
        assert!(o.len() >= 9);
        let o = overloads("isSorted").expect("isSorted");
        assert!(o.iter().all(|o| o.member));
        let o = overloads("getQuery").expect("getQuery");
        assert_eq!(o[0].params, vec![Type::Opaque("kubernetes.URL")]);
        assert!(overloads("optional.of").is_some_and(|o| !o[0].member));
        assert!(overloads("join").is_some_and(|o| o[0].member));
        let o = overloads("hasValue").expect("hasValue");
        assert!(o[0].member);
    }

    #[test]
    fn assignability() {
        let mut s = Subst::new();
        assert!(assignable(&Type::Param("A"), &Type::Int, &mut s));
        assert!(!assignable(&Type::Param("A"), &Type::String, &mut s));
        let mut s = Subst::new();
        assert!(assignable(
            &Type::list(Type::Param("A")),
            &Type::list(Type::Dyn),
            &mut s
        ));
        assert!(assignable(&Type::Param("A"), &Type::String, &mut s));
    }
}
