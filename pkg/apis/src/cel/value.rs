//! CEL run-time values, their equality and ordering (heterogeneous numeric equality as cel-go),
//! and conversion from JSON objects typed by a schema ([`crate::cel::schema::DeclType`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value as Json;

use super::quantity::Quantity;
use super::schema::{DeclType, Kind};
use super::types::Type;

/// A map key (CEL allows bool, int, uint and string keys).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Bool(bool),
    Int(i64),
    Uint(u64),
    String(Arc<str>),
}

impl Key {
    pub fn to_value(&self) -> Value {
        match self {
            Key::Bool(b) => Value::Bool(*b),
            Key::Int(i) => Value::Int(*i),
            Key::Uint(u) => Value::Uint(*u),
            Key::String(s) => Value::String(s.clone()),
        }
    }

    pub fn from_value(v: &Value) -> Option<Key> {
        Some(match v {
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Int(*i),
            Value::Uint(u) => Key::Uint(*u),
            Value::String(s) => Key::String(s.clone()),
            _ => return None,
        })
    }
}

pub type MapValue = BTreeMap<Key, Value>;

/// Kubernetes library values that are opaque to CEL.
#[derive(Debug, Clone, PartialEq)]
pub enum Ext {
    Quantity(Quantity),
    Url(super::stdlib::Url),
    Ip(std::net::IpAddr),
    Cidr(std::net::IpAddr, u8),
    Semver(u64, u64, u64),
    Format(&'static str),
    Authz(super::stdlib::AuthzValue),
}

impl Ext {
    pub fn type_name(&self) -> &'static str {
        match self {
            Ext::Quantity(_) => "kubernetes.Quantity",
            Ext::Url(_) => "kubernetes.URL",
            Ext::Ip(_) => "net.IP",
            Ext::Cidr(..) => "net.CIDR",
            Ext::Semver(..) => "kubernetes.Semver",
            Ext::Format(_) => "kubernetes.NamedFormat",
            Ext::Authz(a) => a.type_name(),
        }
    }
}

/// A constructed message: mutating admission policies' `Object{...}`, `Object.spec{...}` and
/// `JSONPatch{...}` values. Fields keep the order they are named in.
#[derive(Debug, Clone)]
pub struct ObjectValue {
    pub type_name: Arc<str>,
    pub fields: Vec<(String, Value)>,
}

impl ObjectValue {
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == field).map(|(_, v)| v)
    }
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(Arc<str>),
    Bytes(Arc<[u8]>),
    List(Arc<Vec<Value>>),
    Map(Arc<MapValue>),
    Duration(TimeDelta),
    Timestamp(DateTime<Utc>),
    Type(Type),
    Optional(Option<Arc<Value>>),
    Ext(Arc<Ext>),
    Object(Arc<ObjectValue>),
}

impl Value {
    pub fn str(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Arc::new(v))
    }

    /// The run-time type of the value.
    pub fn type_of(&self) -> Type {
        match self {
            Value::Null => Type::Null,
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Uint(_) => Type::Uint,
            Value::Double(_) => Type::Double,
            Value::String(_) => Type::String,
            Value::Bytes(_) => Type::Bytes,
            Value::List(_) => Type::list(Type::Dyn),
            Value::Map(_) => Type::map(Type::Dyn, Type::Dyn),
            Value::Duration(_) => Type::Duration,
            Value::Timestamp(_) => Type::Timestamp,
            Value::Type(_) => Type::Type(Box::new(Type::Dyn)),
            Value::Optional(_) => Type::optional(Type::Dyn),
            Value::Ext(e) => Type::Opaque(e.type_name()),
            Value::Object(o) => match o.type_name.as_ref() {
                "JSONPatch" => super::types::json_patch_type(),
                n => super::types::dynamic_object_type(n),
            },
        }
    }

    /// The type name used in "no such overload" style messages.
    pub fn type_name(&self) -> String {
        match self {
            Value::List(_) => "list".into(),
            Value::Map(_) => "map".into(),
            Value::Type(_) => "type".into(),
            Value::Optional(_) => "optional_type".into(),
            other => other.type_of().to_string(),
        }
    }

    /// CEL equality: values of different types are unequal, except numbers, which compare by
    /// value across int, uint and double.
    pub fn equals(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (String(a), String(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (Duration(a), Duration(b)) => a == b,
            (Timestamp(a), Timestamp(b)) => a == b,
            (Type(a), Type(b)) => a == b,
            (List(a), List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.equals(y))
            }
            (Map(a), Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| map_get(b, &k.to_value()).is_some_and(|w| v.equals(w)))
            }
            (Optional(a), Optional(b)) => match (a, b) {
                (None, None) => true,
                (Some(x), Some(y)) => x.equals(y),
                _ => false,
            },
            (Ext(a), Ext(b)) => match (a.as_ref(), b.as_ref()) {
                (self::Ext::Quantity(x), self::Ext::Quantity(y)) => x.cmp(y) == Ordering::Equal,
                (x, y) => x == y,
            },
            (Object(a), Object(b)) => {
                a.type_name == b.type_name
                    && a.fields.len() == b.fields.len()
                    && a.fields
                        .iter()
                        .all(|(k, v)| b.get(k).is_some_and(|w| v.equals(w)))
            }
            (a, b) => num_cmp(a, b) == Some(Ordering::Equal),
        }
    }

    /// CEL ordering (`<`, `<=`, ...) for comparable values; `None` when the types cannot be
    /// ordered.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Bool(a), Bool(b)) => Some(a.cmp(b)),
            (String(a), String(b)) => Some(a.cmp(b)),
            (Bytes(a), Bytes(b)) => Some(a.cmp(b)),
            (Duration(a), Duration(b)) => Some(a.cmp(b)),
            (Timestamp(a), Timestamp(b)) => Some(a.cmp(b)),
            (Ext(a), Ext(b)) => match (a.as_ref(), b.as_ref()) {
                (self::Ext::Quantity(x), self::Ext::Quantity(y)) => Some(x.cmp(y)),
                (self::Ext::Semver(a1, a2, a3), self::Ext::Semver(b1, b2, b3)) => {
                    Some((a1, a2, a3).cmp(&(b1, b2, b3)))
                }
                _ => None,
            },
            (a, b) => num_cmp(a, b),
        }
    }

    /// Whether the value is its type's zero value (for `optional.ofNonZeroValue`).
    pub fn is_zero(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Int(i) => *i == 0,
            Value::Uint(u) => *u == 0,
            Value::Double(d) => *d == 0.0,
            Value::String(s) => s.is_empty(),
            Value::Bytes(b) => b.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Map(m) => m.is_empty(),
            Value::Duration(d) => d.is_zero(),
            Value::Timestamp(t) => t.timestamp() == 0 && t.timestamp_subsec_nanos() == 0,
            Value::Optional(o) => o.is_none(),
            Value::Object(o) => o.fields.is_empty(),
            _ => false,
        }
    }

    /// A size used by the cost model: characters of strings, bytes, elements of lists/maps.
    pub fn cost_size(&self) -> u64 {
        match self {
            Value::String(s) => s.len() as u64,
            Value::Bytes(b) => b.len() as u64,
            Value::List(l) => l.len() as u64,
            Value::Map(m) => m.len() as u64,
            _ => 1,
        }
    }

    /// Converts back to JSON (for messages and for `variables` exposed to clients).
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Uint(u) => Json::from(*u),
            Value::Double(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.to_string()),
            Value::Bytes(b) => {
                use base64::Engine;
                Json::String(base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::List(l) => Json::Array(l.iter().map(Value::to_json).collect()),
            Value::Map(m) => Json::Object(
                m.iter()
                    .map(|(k, v)| (key_string(k), v.to_json()))
                    .collect(),
            ),
            Value::Duration(d) => Json::String(format_duration(*d)),
            Value::Timestamp(t) => Json::String(format_timestamp(t)),
            Value::Type(t) => Json::String(t.to_string()),
            Value::Optional(o) => o.as_ref().map_or(Json::Null, |v| v.to_json()),
            Value::Ext(e) => Json::String(ext_string(e)),
            Value::Object(o) => Json::Object(
                o.fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

pub fn ext_string(e: &Ext) -> String {
    match e {
        Ext::Quantity(q) => q.to_string(),
        Ext::Url(u) => u.raw.clone(),
        Ext::Ip(ip) => ip.to_string(),
        Ext::Cidr(ip, p) => format!("{ip}/{p}"),
        Ext::Semver(a, b, c) => format!("{a}.{b}.{c}"),
        Ext::Format(n) => n.to_string(),
        Ext::Authz(a) => a.type_name().to_string(),
    }
}

fn key_string(k: &Key) -> String {
    match k {
        Key::Bool(b) => b.to_string(),
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::String(s) => s.to_string(),
    }
}

/// Map lookup with CEL's numeric key equivalence (`m[1]` finds the key `1u`).
pub fn map_get<'a>(m: &'a MapValue, k: &Value) -> Option<&'a Value> {
    if let Some(key) = Key::from_value(k) {
        if let Some(v) = m.get(&key) {
            return Some(v);
        }
    }
    let as_int = match k {
        Value::Int(i) => Some(*i as i128),
        Value::Uint(u) => Some(*u as i128),
        Value::Double(d) if d.fract() == 0.0 && d.is_finite() => Some(*d as i128),
        _ => None,
    }?;
    if let Ok(i) = i64::try_from(as_int) {
        if let Some(v) = m.get(&Key::Int(i)) {
            return Some(v);
        }
    }
    if let Ok(u) = u64::try_from(as_int) {
        if let Some(v) = m.get(&Key::Uint(u)) {
            return Some(v);
        }
    }
    None
}

fn num_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Uint(x), Uint(y)) => Some(x.cmp(y)),
        (Double(x), Double(y)) => x.partial_cmp(y),
        (Int(x), Uint(y)) => Some((*x as i128).cmp(&(*y as i128))),
        (Uint(x), Int(y)) => Some((*x as i128).cmp(&(*y as i128))),
        (Int(x), Double(y)) => cmp_int_double(*x as i128, *y),
        (Uint(x), Double(y)) => cmp_int_double(*x as i128, *y),
        (Double(x), Int(y)) => cmp_int_double(*y as i128, *x).map(Ordering::reverse),
        (Double(x), Uint(y)) => cmp_int_double(*y as i128, *x).map(Ordering::reverse),
        _ => None,
    }
}

fn cmp_int_double(i: i128, d: f64) -> Option<Ordering> {
    if d.is_nan() {
        return None;
    }
    if d >= 1.8e19 {
        return Some(Ordering::Less);
    }
    if d <= -1.8e19 {
        return Some(Ordering::Greater);
    }
    let t = d.trunc() as i128;
    match i.cmp(&t) {
        Ordering::Equal => {
            let fr = d - d.trunc();
            if fr > 0.0 {
                Some(Ordering::Less)
            } else if fr < 0.0 {
                Some(Ordering::Greater)
            } else {
                Some(Ordering::Equal)
            }
        }
        o => Some(o),
    }
}

/// Go's `time.Duration.String()` form (`1h2m3.5s`, `300ms`, `0s`), which CEL uses for
/// `string(duration)`... cel-go prints durations as seconds (`3723.5s`), as protobuf's JSON.
pub fn format_duration(d: TimeDelta) -> String {
    let secs = d.num_seconds();
    let nanos = d.subsec_nanos().unsigned_abs();
    let neg = d < TimeDelta::zero();
    let sign = if neg { "-" } else { "" };
    if nanos == 0 {
        format!("{sign}{}s", secs.unsigned_abs())
    } else {
        let frac = format!("{nanos:09}");
        format!(
            "{sign}{}.{}s",
            secs.unsigned_abs(),
            frac.trim_end_matches('0')
        )
    }
}

/// RFC 3339 with nanoseconds as needed and `Z`.
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Go duration syntax (`1h30m`, `-1.5s`, `300ms`, `2us`), as `duration()` and format: duration
/// accept.
pub fn parse_duration(s: &str) -> Option<TimeDelta> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(TimeDelta::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if n == 0 {
            return None;
        }
        let num = &rest[..n];
        rest = &rest[n..];
        let (unit, ns): (&str, i128) = [
            ("ns", 1),
            ("us", 1_000),
            ("µs", 1_000),
            ("μs", 1_000),
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000),
        ]
        .into_iter()
        .filter(|(u, _)| rest.starts_with(u))
        .max_by_key(|(u, _)| u.len())?;
        rest = &rest[unit.len()..];
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let whole: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
        total = total.checked_add(whole.checked_mul(ns)?)?;
        if !frac.is_empty() {
            let f: f64 = format!("0.{frac}").parse().ok()?;
            total = total.checked_add((f * ns as f64) as i128)?;
        }
    }
    if neg {
        total = -total;
    }
    let secs = i64::try_from(total.div_euclid(1_000_000_000)).ok()?;
    let nanos = total.rem_euclid(1_000_000_000) as u32;
    TimeDelta::new(secs, nanos)
}

pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Uint(u) => write!(f, "{u}u"),
            Value::Double(d) => write!(f, "{d}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "b{:?}", String::from_utf8_lossy(b)),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {v}", k.to_value())?;
                }
                f.write_str("}")
            }
            Value::Duration(d) => f.write_str(&format_duration(*d)),
            Value::Timestamp(t) => f.write_str(&format_timestamp(t)),
            Value::Type(t) => write!(f, "{t}"),
            Value::Optional(None) => f.write_str("optional.none()"),
            Value::Optional(Some(v)) => write!(f, "optional.of({v})"),
            Value::Ext(e) => f.write_str(&ext_string(e)),
            Value::Object(o) => {
                write!(f, "{}{{", o.type_name)?;
                for (i, (k, v)) in o.fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Converts a JSON value to a CEL value, typed by the schema node when there is one: strings
/// with format `date-time`/`date` become timestamps, `duration` durations, `byte` bytes; numbers
/// of `type: number` doubles. Without a schema (or for int-or-string and unknown fields),
/// integers become ints, other numbers doubles, strings strings.
pub fn from_json(v: &Json, decl: Option<&DeclType>) -> Value {
    let kind = decl.map(|d| &d.kind);
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match kind {
            Some(Kind::Double) => Value::Double(n.as_f64().unwrap_or(0.0)),
            _ => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::Uint(u)
                } else {
                    Value::Double(n.as_f64().unwrap_or(0.0))
                }
            }
        },
        Json::String(s) => match kind {
            Some(Kind::Timestamp) => parse_timestamp(s)
                .or_else(|| {
                    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|d| d.and_utc())
                })
                .map_or_else(|| Value::str(s.as_str()), Value::Timestamp),
            Some(Kind::Duration) => {
                parse_duration(s).map_or_else(|| Value::str(s.as_str()), Value::Duration)
            }
            Some(Kind::Bytes) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_or_else(|_| Value::str(s.as_str()), |b| Value::Bytes(b.into()))
            }
            _ => Value::str(s.as_str()),
        },
        Json::Array(a) => {
            let elem = decl.and_then(|d| d.elem.as_deref());
            Value::list(a.iter().map(|x| from_json(x, elem)).collect())
        }
        Json::Object(m) => {
            let mut out = MapValue::new();
            for (k, x) in m {
                match decl {
                    // Declared properties are reached by their escaped names
                    // (`self.__namespace__`); inexpressible ones are not reachable.
                    Some(d) if matches!(d.kind, Kind::Object) => match d.fields.get(k) {
                        Some(f) => {
                            if let Some(esc) = super::schema::escape(k) {
                                out.insert(Key::String(esc.into()), from_json(x, Some(f)));
                            }
                        }
                        None => {
                            out.insert(Key::String(k.as_str().into()), from_json(x, None));
                        }
                    },
                    Some(d) => {
                        out.insert(
                            Key::String(k.as_str().into()),
                            from_json(x, d.elem.as_deref()),
                        );
                    }
                    None => {
                        out.insert(Key::String(k.as_str().into()), from_json(x, None));
                    }
                }
            }
            Value::Map(Arc::new(out))
        }
    }
}
