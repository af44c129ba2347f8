//! Run-time implementations of CEL's standard functions and of the Kubernetes libraries
//! (strings, lists, regex, URLs, quantities, IPs/CIDRs, semver, named formats, authorizer).
//! Dispatch is on the function name and the argument values; a call whose arguments fit no
//! overload fails with "no such overload", as cel-go.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Datelike, FixedOffset, TimeDelta, Timelike, Utc};

use super::quantity::Quantity;
use super::value::{
    format_duration, format_timestamp, map_get, parse_duration, parse_timestamp, Ext, Key,
    MapValue, Value,
};

pub type R = Result<Value, String>;

pub fn no_overload(name: &str, args: &[Value]) -> String {
    let types: Vec<String> = args.iter().map(Value::type_name).collect();
    format!("no such overload: {name}({})", types.join(", "))
}

/// A parsed URL (`url()`), as Go's `url.ParseRequestURI`.
#[derive(Debug, Clone, PartialEq)]
pub struct Url {
    pub raw: String,
    pub scheme: String,
    pub host: String,
    pub path: String,
    pub query: String,
}

/// What the `authorizer` variable of admission policies asks: "may the request's user do
/// `verb` on this resource/path?"
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthzCheck {
    pub path: Option<String>,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub verb: String,
    pub service_account: Option<(String, String)>,
    pub field_selector: String,
    pub label_selector: String,
}

/// An authorizer's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthzDecision {
    /// `allow`, `deny` or `noOpinion`.
    pub decision: String,
    pub reason: String,
    pub error: String,
}

/// Answers authorization checks for the `authorizer` variable (implemented by the API server
/// with its RBAC evaluator).
pub trait Authorizer: Send + Sync {
    fn authorize(&self, check: &AuthzCheck) -> AuthzDecision;
}

#[derive(Clone)]
pub enum AuthzValue {
    Authorizer(Arc<dyn Authorizer>, AuthzCheck),
    PathCheck(Arc<dyn Authorizer>, AuthzCheck),
    GroupCheck(Arc<dyn Authorizer>, AuthzCheck),
    ResourceCheck(Arc<dyn Authorizer>, AuthzCheck),
    Decision(AuthzDecision),
}

impl std::fmt::Debug for AuthzValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.type_name())
    }
}

impl PartialEq for AuthzValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (AuthzValue::Decision(a), AuthzValue::Decision(b)) => a == b,
            _ => false,
        }
    }
}

impl AuthzValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            AuthzValue::Authorizer(..) => "kubernetes.authorization.Authorizer",
            AuthzValue::PathCheck(..) => "kubernetes.authorization.PathCheck",
            AuthzValue::GroupCheck(..) => "kubernetes.authorization.GroupCheck",
            AuthzValue::ResourceCheck(..) => "kubernetes.authorization.ResourceCheck",
            AuthzValue::Decision(..) => "kubernetes.authorization.Decision",
        }
    }
}

/// The `authorizer` variable's value for a request.
pub fn authorizer_value(a: Arc<dyn Authorizer>) -> Value {
    ext(Ext::Authz(AuthzValue::Authorizer(a, AuthzCheck::default())))
}

fn ext(e: Ext) -> Value {
    Value::Ext(Arc::new(e))
}

fn s(v: &str) -> Value {
    Value::str(v)
}

/// A compiled regular expression, cached by pattern (RE2 syntax, as the `regex` crate).
pub fn regex(p: &str) -> Result<Arc<regex::Regex>, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<regex::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = c.get(p) {
        return Ok(r.clone());
    }
    let r = regex::RegexBuilder::new(p)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("error parsing regexp: {}", first_line(&e.to_string())))?;
    let r = Arc::new(r);
    if c.len() > 512 {
        c.clear();
    }
    c.insert(p.to_string(), r.clone());
    Ok(r)
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or(s).trim().to_string()
}

fn int_index(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Uint(u) => i64::try_from(*u).ok(),
        Value::Double(d) if d.fract() == 0.0 && d.is_finite() => Some(*d as i64),
        _ => None,
    }
}

fn ts_range_check(t: DateTime<Utc>) -> R {
    if (1..=9999).contains(&t.year()) {
        Ok(Value::Timestamp(t))
    } else {
        Err("timestamp overflow".into())
    }
}

fn dur_range_check(d: TimeDelta) -> R {
    // CEL durations span about ±10000 years.
    if d.num_seconds().abs() <= 315_576_000_000 {
        Ok(Value::Duration(d))
    } else {
        Err("duration overflow".into())
    }
}

fn tz_offset(tz: &str) -> Result<FixedOffset, String> {
    if tz == "UTC" || tz == "Z" || tz.is_empty() {
        return FixedOffset::east_opt(0).ok_or_else(|| "bad time zone".to_string());
    }
    let (sign, rest) = match tz.as_bytes().first() {
        Some(b'+') => (1, &tz[1..]),
        Some(b'-') => (-1, &tz[1..]),
        _ => return Err(format!("unknown time zone {tz}")),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = match (h.parse(), m.parse()) {
        (Ok(h), Ok(m)) => (h, m),
        _ => return Err(format!("unknown time zone {tz}")),
    };
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
        .ok_or_else(|| format!("unknown time zone {tz}"))
}

fn ts_part(name: &str, t: &DateTime<Utc>, tz: Option<&str>) -> R {
    let off = tz_offset(tz.unwrap_or("UTC"))?;
    let t = t.with_timezone(&off);
    Ok(Value::Int(match name {
        "getFullYear" => t.year() as i64,
        "getMonth" => t.month0() as i64,
        "getDayOfYear" => t.ordinal0() as i64,
        "getDayOfMonth" => t.day0() as i64,
        "getDate" => t.day() as i64,
        "getDayOfWeek" => t.weekday().num_days_from_sunday() as i64,
        "getHours" => t.hour() as i64,
        "getMinutes" => t.minute() as i64,
        "getSeconds" => t.second() as i64,
        _ => (t.nanosecond() / 1_000_000) as i64 % 1000,
    }))
}

fn chars_of(st: &str) -> Vec<char> {
    st.chars().collect()
}

fn index_of(hay: &[char], needle: &[char], from: usize, last: bool) -> i64 {
    if needle.is_empty() {
        return if last {
            hay.len().min(from) as i64
        } else {
            from as i64
        };
    }
    if last {
        let mut i = from.min(hay.len().saturating_sub(needle.len())) as i64;
        while i >= 0 {
            if hay[i as usize..].starts_with(needle) {
                return i;
            }
            i -= 1;
        }
        -1
    } else {
        (from..=hay.len().saturating_sub(needle.len()))
            .find(|&i| i + needle.len() <= hay.len() && hay[i..].starts_with(needle))
            .map_or(-1, |i| i as i64)
    }
}

fn fold_cmp(name: &str, l: &[Value], want_max: bool) -> R {
    let mut it = l.iter();
    let Some(first) = it.next() else {
        return Err(format!("{name} called on empty list"));
    };
    let mut best = first;
    for v in it {
        match v.compare(best) {
            Some(o) => {
                if (want_max && o.is_gt()) || (!want_max && o.is_lt()) {
                    best = v;
                }
            }
            None => return Err(no_overload(name, &[best.clone(), v.clone()])),
        }
    }
    Ok(best.clone())
}

fn arith(name: &str, a: &Value, b: &Value) -> R {
    use Value::*;
    let overflow = || "integer overflow".to_string();
    let uoverflow = || "unsigned integer overflow".to_string();
    match (name, a, b) {
        ("_+_", Int(x), Int(y)) => x.checked_add(*y).map(Int).ok_or_else(overflow),
        ("_-_", Int(x), Int(y)) => x.checked_sub(*y).map(Int).ok_or_else(overflow),
        ("_*_", Int(x), Int(y)) => x.checked_mul(*y).map(Int).ok_or_else(overflow),
        ("_/_", Int(_), Int(0)) | ("_/_", Uint(_), Uint(0)) => Err("division by zero".into()),
        ("_%_", Int(_), Int(0)) | ("_%_", Uint(_), Uint(0)) => Err("modulus by zero".into()),
        ("_/_", Int(x), Int(y)) => x.checked_div(*y).map(Int).ok_or_else(overflow),
        ("_%_", Int(x), Int(y)) => x.checked_rem(*y).map(Int).ok_or_else(overflow),
        ("_+_", Uint(x), Uint(y)) => x.checked_add(*y).map(Uint).ok_or_else(uoverflow),
        ("_-_", Uint(x), Uint(y)) => x.checked_sub(*y).map(Uint).ok_or_else(uoverflow),
        ("_*_", Uint(x), Uint(y)) => x.checked_mul(*y).map(Uint).ok_or_else(uoverflow),
        ("_/_", Uint(x), Uint(y)) => Ok(Uint(x / y)),
        ("_%_", Uint(x), Uint(y)) => Ok(Uint(x % y)),
        ("_+_", Double(x), Double(y)) => Ok(Double(x + y)),
        ("_-_", Double(x), Double(y)) => Ok(Double(x - y)),
        ("_*_", Double(x), Double(y)) => Ok(Double(x * y)),
        ("_/_", Double(x), Double(y)) => Ok(Double(x / y)),
        ("_+_", String(x), String(y)) => Ok(Value::str(format!("{x}{y}"))),
        ("_+_", Bytes(x), Bytes(y)) => Ok(Bytes([&x[..], &y[..]].concat().into())),
        ("_+_", List(x), List(y)) => {
            let mut v = Vec::with_capacity(x.len() + y.len());
            v.extend(x.iter().cloned());
            v.extend(y.iter().cloned());
            Ok(Value::list(v))
        }
        ("_+_", Timestamp(t), Duration(d)) | ("_+_", Duration(d), Timestamp(t)) => t
            .checked_add_signed(*d)
            .ok_or_else(|| "timestamp overflow".to_string())
            .and_then(ts_range_check),
        ("_-_", Timestamp(t), Duration(d)) => t
            .checked_sub_signed(*d)
            .ok_or_else(|| "timestamp overflow".to_string())
            .and_then(ts_range_check),
        ("_-_", Timestamp(x), Timestamp(y)) => dur_range_check(x.signed_duration_since(*y)),
        ("_+_", Duration(x), Duration(y)) => x
            .checked_add(y)
            .ok_or_else(|| "duration overflow".to_string())
            .and_then(dur_range_check),
        ("_-_", Duration(x), Duration(y)) => x
            .checked_sub(y)
            .ok_or_else(|| "duration overflow".to_string())
            .and_then(dur_range_check),
        _ => Err(no_overload(name, &[a.clone(), b.clone()])),
    }
}

fn to_int(v: &Value) -> R {
    match v {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Uint(u) => i64::try_from(*u)
            .map(Value::Int)
            .map_err(|_| "integer overflow".into()),
        Value::Double(d) => {
            if d.is_finite() && *d > -9.223372036854776e18 && *d < 9.223372036854776e18 {
                Ok(Value::Int(d.trunc() as i64))
            } else {
                Err("integer overflow".into())
            }
        }
        Value::String(st) => st
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| format!("cannot convert string {st:?} to int")),
        Value::Timestamp(t) => Ok(Value::Int(t.timestamp())),
        other => Err(no_overload("int", std::slice::from_ref(other))),
    }
}

fn to_uint(v: &Value) -> R {
    match v {
        Value::Uint(u) => Ok(Value::Uint(*u)),
        Value::Int(i) => u64::try_from(*i)
            .map(Value::Uint)
            .map_err(|_| "unsigned integer overflow".into()),
        Value::Double(d) => {
            if d.is_finite() && *d > -1.0 && *d < 1.8446744073709552e19 {
                Ok(Value::Uint(d.trunc() as u64))
            } else {
                Err("unsigned integer overflow".into())
            }
        }
        Value::String(st) => st
            .parse::<u64>()
            .map(Value::Uint)
            .map_err(|_| format!("cannot convert string {st:?} to uint")),
        other => Err(no_overload("uint", std::slice::from_ref(other))),
    }
}

fn to_double(v: &Value) -> R {
    match v {
        Value::Double(d) => Ok(Value::Double(*d)),
        Value::Int(i) => Ok(Value::Double(*i as f64)),
        Value::Uint(u) => Ok(Value::Double(*u as f64)),
        Value::String(st) => st
            .parse::<f64>()
            .map(Value::Double)
            .map_err(|_| format!("cannot convert string {st:?} to double")),
        other => Err(no_overload("double", std::slice::from_ref(other))),
    }
}

fn fmt_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if d.is_nan() {
        return "NaN".into();
    }
    let a = d.abs();
    if a != 0.0 && !(1e-4..1e21).contains(&a) {
        let s = format!("{d:e}");
        // Go prints exponents with a sign and at least two digits: 1e+21, 1e-05.
        if let Some((m, e)) = s.split_once('e') {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(x) => ('-', x),
                None => ('+', e),
            };
            return format!("{m}e{sign}{digits:0>2}");
        }
        return s;
    }
    format!("{d}")
}

fn to_string(v: &Value) -> R {
    Ok(match v {
        Value::String(st) => Value::String(st.clone()),
        Value::Int(i) => s(&i.to_string()),
        Value::Uint(u) => s(&u.to_string()),
        Value::Double(d) => s(&fmt_double(*d)),
        Value::Bool(b) => s(&b.to_string()),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(st) => s(st),
            Err(_) => return Err("invalid UTF-8 in bytes, cannot convert to string".into()),
        },
        Value::Timestamp(t) => s(&format_timestamp(t)),
        Value::Duration(d) => s(&format_duration(*d)),
        Value::Ext(e) if matches!(**e, Ext::Ip(_) | Ext::Cidr(..)) => {
            s(&super::value::ext_string(e))
        }
        other => return Err(no_overload("string", std::slice::from_ref(other))),
    })
}

fn to_bool(v: &Value) -> R {
    match v {
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::String(st) => match st.as_ref() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Value::Bool(true)),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Value::Bool(false)),
            _ => Err("type conversion error from 'string' to 'bool'".to_string()),
        },
        other => Err(no_overload("bool", std::slice::from_ref(other))),
    }
}

fn format_string(fmtstr: &str, args: &[Value]) -> R {
    let mut out = String::new();
    let mut it = fmtstr.chars().peekable();
    let mut ai = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // %[.precision]verb
        let mut prec: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = String::new();
            while let Some(d) = it.peek().filter(|d| d.is_ascii_digit()) {
                p.push(*d);
                it.next();
            }
            prec = p.parse().ok();
        }
        let Some(verb) = it.next() else {
            return Err("unexpected end of format string".into());
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(ai) else {
            return Err(format!("index {ai} out of range"));
        };
        ai += 1;
        match verb {
            's' => out.push_str(&format_s(arg)?),
            'd' => match arg {
                Value::Int(i) => out.push_str(&i.to_string()),
                Value::Uint(u) => out.push_str(&u.to_string()),
                Value::Double(d) if d.is_nan() || d.is_infinite() => out.push_str(&fmt_double(*d)),
                _ => return Err(format!("error during formatting: integer clause can only be used on integers, was given {}", arg.type_name())),
            },
            'f' | 'e' => {
                let d = match arg {
                    Value::Double(d) => *d,
                    Value::Int(i) => *i as f64,
                    Value::Uint(u) => *u as f64,
                    _ => return Err(format!("error during formatting: fixed-point clause can only be used on doubles, was given {}", arg.type_name())),
                };
                let p = prec.unwrap_or(6);
                if verb == 'f' {
                    out.push_str(&format!("{d:.p$}"));
                } else {
                    let st = format!("{d:.p$e}");
                    let (m, e) = st.split_once('e').unwrap_or((&st, "0"));
                    let (sign, digits) = match e.strip_prefix('-') {
                        Some(x) => ('-', x),
                        None => ('+', e),
                    };
                    out.push_str(&format!("{m}e{sign}{digits:0>2}"));
                }
            }
            'b' | 'o' | 'x' | 'X' => match arg {
                Value::Int(i) => out.push_str(&match verb {
                    'b' => format!("{}{:b}", if *i < 0 { "-" } else { "" }, i.unsigned_abs()),
                    'o' => format!("{}{:o}", if *i < 0 { "-" } else { "" }, i.unsigned_abs()),
                    'x' => format!("{}{:x}", if *i < 0 { "-" } else { "" }, i.unsigned_abs()),
                    _ => format!("{}{:X}", if *i < 0 { "-" } else { "" }, i.unsigned_abs()),
                }),
                Value::Uint(u) => out.push_str(&match verb {
                    'b' => format!("{u:b}"),
                    'o' => format!("{u:o}"),
                    'x' => format!("{u:x}"),
                    _ => format!("{u:X}"),
                }),
                Value::String(st) if verb == 'x' || verb == 'X' => {
                    for b in st.bytes() {
                        out.push_str(&if verb == 'x' { format!("{b:02x}") } else { format!("{b:02X}") });
                    }
                }
                Value::Bytes(bs) if verb == 'x' || verb == 'X' => {
                    for b in bs.iter() {
                        out.push_str(&if verb == 'x' { format!("{b:02x}") } else { format!("{b:02X}") });
                    }
                }
                _ => return Err(format!("error during formatting: only integers{} can be formatted with %{verb}, was given {}", if verb == 'x' || verb == 'X' { ", byte buffers, and strings" } else { "" }, arg.type_name())),
            },
            other => return Err(format!("could not parse formatting clause: unrecognized formatting clause \"{other}\"")),
        }
    }
    Ok(Value::str(out))
}

fn format_s(v: &Value) -> Result<String, String> {
    Ok(match v {
        Value::String(st) => st.to_string(),
        Value::List(l) => {
            let parts: Result<Vec<String>, String> = l.iter().map(format_s).collect();
            format!("[{}]", parts?.join(", "))
        }
        Value::Map(m) => {
            let mut parts = Vec::new();
            for (k, x) in m.iter() {
                parts.push(format!("{}: {}", format_s(&k.to_value())?, format_s(x)?));
            }
            format!("{{{}}}", parts.join(", "))
        }
        Value::Null => "null".into(),
        Value::Type(t) => t.to_string(),
        other => match to_string(other)? {
            Value::String(st) => st.to_string(),
            _ => String::new(),
        },
    })
}

fn quote(st: &str) -> String {
    let mut out = String::from("\"");
    for c in st.chars() {
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `url()`: an absolute URI or an absolute path, as Go's `url.ParseRequestURI`.
pub fn parse_url(raw: &str) -> Option<Url> {
    if raw.is_empty() || raw.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    let (rest, query) = match raw.split_once('?') {
        Some((a, q)) => (a, q.to_string()),
        None => (raw, String::new()),
    };
    if rest.starts_with('/') {
        return Some(Url {
            raw: raw.to_string(),
            scheme: String::new(),
            host: String::new(),
            path: rest.to_string(),
            query,
        });
    }
    let (scheme, after) = rest.split_once(':')?;
    let mut sc = scheme.chars();
    if !sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !sc.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let (host, path) = match after.strip_prefix("//") {
        Some(a) => {
            let i = a.find('/').unwrap_or(a.len());
            let auth = &a[..i];
            let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
            (host.to_string(), a[i..].to_string())
        }
        None => {
            if !after.starts_with('/') {
                // Opaque URIs (`mailto:x`) are not request URIs.
                return None;
            }
            (String::new(), after.to_string())
        }
    };
    if host.starts_with('[') && !host.contains(']') {
        return None;
    }
    Some(Url {
        raw: raw.to_string(),
        scheme: scheme.to_string(),
        host,
        path,
        query,
    })
}

fn url_hostname(u: &Url) -> String {
    let h = &u.host;
    if let Some(r) = h.strip_prefix('[') {
        return r.split(']').next().unwrap_or_default().to_string();
    }
    h.rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(h.clone(), |(a, _)| a.to_string())
}

fn url_port(u: &Url) -> String {
    let h = &u.host;
    let tail = match h.rfind(']') {
        Some(i) => &h[i + 1..],
        None => h.as_str(),
    };
    tail.rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(String::new(), |(_, p)| p.to_string())
}

fn pct_decode(st: &str) -> String {
    let b = st.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&st[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn url_query(u: &Url) -> Value {
    let mut m: MapValue = MapValue::new();
    for part in u.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let key = Key::String(pct_decode(k).into());
        let entry = m.entry(key).or_insert_with(|| Value::list(vec![]));
        if let Value::List(l) = entry {
            Arc::make_mut(l).push(s(&pct_decode(v)));
        }
    }
    Value::Map(Arc::new(m))
}

fn parse_ip(st: &str) -> Option<IpAddr> {
    if st.contains('%') {
        return None;
    }
    let ip: IpAddr = st.parse().ok()?;
    if let IpAddr::V6(v6) = ip {
        // IPv4-mapped IPv6 addresses are refused, as upstream.
        if v6.to_ipv4_mapped().is_some() {
            return None;
        }
    }
    Some(ip)
}

fn parse_cidr(st: &str) -> Option<(IpAddr, u8)> {
    let (ip, p) = st.split_once('/')?;
    let ip = parse_ip(ip)?;
    let p: u8 = p.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (p <= max).then_some((ip, p))
}

fn masked(ip: IpAddr, p: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v) => {
            let m = if p == 0 {
                0
            } else {
                u32::MAX << (32 - p as u32)
            };
            IpAddr::V4((u32::from(v) & m).into())
        }
        IpAddr::V6(v) => {
            let m = if p == 0 {
                0
            } else {
                u128::MAX << (128 - p as u32)
            };
            IpAddr::V6((u128::from(v) & m).into())
        }
    }
}

fn cidr_contains(net: (IpAddr, u8), ip: IpAddr) -> bool {
    net.0.is_ipv4() == ip.is_ipv4() && masked(net.0, net.1) == masked(ip, net.1)
}

fn parse_semver(st: &str, normalize: bool) -> Option<(u64, u64, u64)> {
    let mut t = st;
    if normalize {
        t = t.strip_prefix('v').unwrap_or(t);
    }
    let core = t.split(['-', '+']).next()?;
    let parts: Vec<&str> = core.split('.').collect();
    let num = |p: &str| -> Option<u64> {
        if p.is_empty() || (!normalize && p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        p.parse().ok()
    };
    match (parts.len(), normalize) {
        (3, _) => Some((num(parts[0])?, num(parts[1])?, num(parts[2])?)),
        (2, true) => Some((num(parts[0])?, num(parts[1])?, 0)),
        (1, true) => Some((num(parts[0])?, 0, 0)),
        _ => None,
    }
}

fn named_format(name: &str) -> Option<&'static str> {
    [
        "dns1123Label",
        "dns1123Subdomain",
        "dns1035Label",
        "qualifiedName",
        "dns1123LabelPrefix",
        "dns1123SubdomainPrefix",
        "dns1035LabelPrefix",
        "labelValue",
        "uri",
        "uuid",
        "byte",
        "date",
        "datetime",
    ]
    .into_iter()
    .find(|n| *n == name)
}

fn validate_format(name: &str, st: &str) -> Vec<String> {
    use crate::validation::formats as f;
    let prefix = |errs: Vec<String>, st: &str| {
        // Prefix formats accept a trailing dash (the rest is generated).
        let _ = st;
        errs
    };
    match name {
        "dns1123Label" => f::dns1123_label(st),
        "dns1123Subdomain" => f::dns1123_subdomain(st),
        "dns1035Label" => f::dns1035_label(st),
        "qualifiedName" => f::qualified_name(st),
        "dns1123LabelPrefix" => prefix(f::dns1123_label(&f::mask_trailing_dash(st)), st),
        "dns1123SubdomainPrefix" => prefix(f::dns1123_subdomain(&f::mask_trailing_dash(st)), st),
        "dns1035LabelPrefix" => prefix(f::dns1035_label(&f::mask_trailing_dash(st)), st),
        "labelValue" => f::label_value(st),
        "uri" => match parse_url(st) {
            Some(_) => vec![],
            None => vec!["invalid URI".into()],
        },
        "uuid" => {
            let b = st.as_bytes();
            let ok = b.len() == 36
                && b.iter().enumerate().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => *c == b'-',
                    _ => c.is_ascii_hexdigit(),
                });
            if ok {
                vec![]
            } else {
                vec!["does not match the UUID format".into()]
            }
        }
        "byte" => {
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(st) {
                Ok(_) => vec![],
                Err(_) => vec!["invalid base64".into()],
            }
        }
        "date" => match chrono::NaiveDate::parse_from_str(st, "%Y-%m-%d") {
            Ok(_) => vec![],
            Err(_) => vec!["invalid date".into()],
        },
        _ => match parse_timestamp(st) {
            Some(_) => vec![],
            None => vec!["invalid datetime".into()],
        },
    }
}

/// Calls function `name`; for member calls the target is `args[0]`.
pub fn call(name: &str, args: &[Value]) -> R {
    use Value::*;
    let bad = || Err(no_overload(name, args));
    match (name, args) {
        ("_+_" | "_-_" | "_*_" | "_/_" | "_%_", [a, b]) => arith(name, a, b),
        ("-_", [Int(i)]) => i.checked_neg().map(Int).ok_or_else(|| "integer overflow".into()),
        ("-_", [Double(d)]) => Ok(Double(-d)),
        ("!_", [Bool(b)]) => Ok(Bool(!b)),
        ("_==_", [a, b]) => Ok(Bool(a.equals(b))),
        ("_!=_", [a, b]) => Ok(Bool(!a.equals(b))),
        ("_<_" | "_<=_" | "_>_" | "_>=_", [a, b]) => match a.compare(b) {
            Some(o) => Ok(Bool(match name {
                "_<_" => o.is_lt(),
                "_<=_" => o.is_le(),
                "_>_" => o.is_gt(),
                _ => o.is_ge(),
            })),
            None if matches!((a, b), (Double(x), _) if x.is_nan())
                || matches!((a, b), (_, Double(y)) if y.is_nan()) =>
            {
                Ok(Bool(false))
            }
            None => bad(),
        },
        ("@in", [a, List(l)]) => Ok(Bool(l.iter().any(|x| a.equals(x)))),
        ("@in", [a, Map(m)]) => Ok(Bool(map_get(m, a).is_some())),
        ("_[_]", [List(l), i]) => {
            let Some(idx) = int_index(i) else { return bad() };
            usize::try_from(idx)
                .ok()
                .and_then(|u| l.get(u))
                .cloned()
                .ok_or_else(|| format!("index out of bounds: {idx}"))
        }
        ("_[_]", [Map(m), k]) => map_get(m, k)
            .cloned()
            .ok_or_else(|| format!("no such key: {}", key_text(k))),
        // Indexing an optional list or map propagates the optional (cel-go's optional library).
        ("_[_]", [Optional(None), _]) => Ok(Optional(None)),
        ("_[_]", [Optional(Some(inner)), k]) => call("_[?_]", &[(**inner).clone(), k.clone()]),
        ("_[?_]", [Optional(None), _]) => Ok(Optional(None)),
        ("_[?_]", [Optional(Some(inner)), k]) => call(name, &[(**inner).clone(), k.clone()]),
        ("_[?_]", [List(l), i]) => {
            let Some(idx) = int_index(i) else { return bad() };
            Ok(Optional(
                usize::try_from(idx)
                    .ok()
                    .and_then(|u| l.get(u))
                    .map(|v| Arc::new(v.clone())),
            ))
        }
        ("_[?_]" | "_?._", [Map(m), k]) => Ok(Optional(map_get(m, k).map(|v| Arc::new(v.clone())))),
        ("_?._", [Optional(None), _]) => Ok(Optional(None)),
        ("_?._", [Optional(Some(inner)), k]) => call(name, &[(**inner).clone(), k.clone()]),
        ("size", [String(x)]) => Ok(Int(x.chars().count() as i64)),
        ("size", [Bytes(x)]) => Ok(Int(x.len() as i64)),
        ("size", [List(x)]) => Ok(Int(x.len() as i64)),
        ("size", [Map(x)]) => Ok(Int(x.len() as i64)),
        ("contains", [String(a), String(b)]) => Ok(Bool(a.contains(&**b))),
        ("startsWith", [String(a), String(b)]) => Ok(Bool(a.starts_with(&**b))),
        ("endsWith", [String(a), String(b)]) => Ok(Bool(a.ends_with(&**b))),
        ("matches", [String(a), String(p)]) => Ok(Bool(regex(p)?.is_match(a))),
        ("int", [v]) => to_int(v),
        ("uint", [v]) => to_uint(v),
        ("double", [v]) => to_double(v),
        ("string", [v]) => to_string(v),
        ("bool", [v]) => to_bool(v),
        ("bytes", [Bytes(b)]) => Ok(Bytes(b.clone())),
        ("bytes", [String(x)]) => Ok(Bytes(x.as_bytes().into())),
        ("duration", [Duration(d)]) => Ok(Duration(*d)),
        ("duration", [String(x)]) => parse_duration(x)
            .ok_or_else(|| format!("invalid duration: {x:?}"))
            .and_then(dur_range_check),
        ("timestamp", [Timestamp(t)]) => Ok(Timestamp(*t)),
        ("timestamp", [String(x)]) => parse_timestamp(x)
            .ok_or_else(|| format!("invalid timestamp: {x:?}"))
            .and_then(ts_range_check),
        ("timestamp", [Int(i)]) => DateTime::from_timestamp(*i, 0)
            .ok_or_else(|| "timestamp overflow".to_string())
            .and_then(ts_range_check),
        ("dyn", [v]) => Ok(v.clone()),
        ("type", [v]) => Ok(Value::Type(v.type_of())),
        (
            "getFullYear" | "getMonth" | "getDayOfYear" | "getDayOfMonth" | "getDate"
            | "getDayOfWeek" | "getHours" | "getMinutes" | "getSeconds" | "getMilliseconds",
            [Timestamp(t), rest @ ..],
        ) => match rest {
            [] => ts_part(name, t, None),
            [String(tz)] => ts_part(name, t, Some(tz)),
            _ => bad(),
        },
        ("getHours", [Duration(d)]) => Ok(Int(d.num_hours())),
        ("getMinutes", [Duration(d)]) => Ok(Int(d.num_minutes())),
        ("getSeconds", [Duration(d)]) => Ok(Int(d.num_seconds())),
        ("getMilliseconds", [Duration(d)]) => Ok(Int(d.num_milliseconds())),
        // Optionals.
        ("optional.of", [v]) => Ok(Optional(Some(Arc::new(v.clone())))),
        ("optional.ofNonZeroValue", [v]) => Ok(Optional(if v.is_zero() {
            None
        } else {
            Some(Arc::new(v.clone()))
        })),
        ("optional.none", []) => Ok(Optional(None)),
        ("hasValue", [Optional(o)]) => Ok(Bool(o.is_some())),
        ("value", [Optional(o)]) => o
            .as_ref()
            .map(|v| (**v).clone())
            .ok_or_else(|| "optional.none() dereference".into()),
        ("orValue", [Optional(o), d]) => Ok(o.as_ref().map_or_else(|| d.clone(), |v| (**v).clone())),
        ("or", [Optional(o), other @ Optional(_)]) => Ok(match o {
            Some(_) => args[0].clone(),
            None => other.clone(),
        }),
        // Strings extension.
        ("charAt", [String(x), i]) => {
            let Some(i) = int_index(i) else { return bad() };
            let cs = chars_of(x);
            match usize::try_from(i) {
                Ok(u) if u < cs.len() => Ok(s(&cs[u].to_string())),
                Ok(u) if u == cs.len() => Ok(s("")),
                _ => Err(format!("index out of range: {i}")),
            }
        }
        ("indexOf" | "lastIndexOf", [String(x), String(sub), rest @ ..]) => {
            let hay = chars_of(x);
            let needle = chars_of(sub);
            let last = name == "lastIndexOf";
            let from = match rest {
                [] => {
                    if last {
                        hay.len()
                    } else {
                        0
                    }
                }
                [i] => {
                    let Some(i) = int_index(i) else { return bad() };
                    match usize::try_from(i) {
                        Ok(u) if u <= hay.len() => u,
                        _ => return Err(format!("index out of range: {i}")),
                    }
                }
                _ => return bad(),
            };
            Ok(Int(index_of(&hay, &needle, from, last)))
        }
        ("indexOf" | "lastIndexOf", [List(l), v]) => {
            let pos = if name == "indexOf" {
                l.iter().position(|x| x.equals(v))
            } else {
                l.iter().rposition(|x| x.equals(v))
            };
            Ok(Int(pos.map_or(-1, |p| p as i64)))
        }
        ("lowerAscii", [String(x)]) => Ok(s(&x.to_ascii_lowercase())),
        ("upperAscii", [String(x)]) => Ok(s(&x.to_ascii_uppercase())),
        ("replace", [String(x), String(a), String(b), rest @ ..]) => match rest {
            [] => Ok(s(&x.replace(&**a, b))),
            [n] => {
                let Some(n) = int_index(n) else { return bad() };
                if n < 0 {
                    Ok(s(&x.replace(&**a, b)))
                } else {
                    Ok(s(&x.replacen(&**a, b, n as usize)))
                }
            }
            _ => bad(),
        },
        ("split", [String(x), String(sep), rest @ ..]) => {
            let n = match rest {
                [] => -1,
                [n] => match int_index(n) {
                    Some(n) => n,
                    None => return bad(),
                },
                _ => return bad(),
            };
            if n == 0 {
                return Ok(Value::list(vec![]));
            }
            let parts: Vec<Value> = if sep.is_empty() {
                let cs = chars_of(x);
                let limit = if n < 0 { cs.len() } else { (n as usize).min(cs.len()) };
                let mut v: Vec<Value> = cs[..limit.saturating_sub(1).min(cs.len())]
                    .iter()
                    .map(|c| s(&c.to_string()))
                    .collect();
                if limit > 0 {
                    let restc: std::string::String = cs[limit - 1..].iter().collect();
                    if n < 0 {
                        v = cs.iter().map(|c| s(&c.to_string())).collect();
                    } else {
                        v.push(s(&restc));
                    }
                }
                v
            } else if n < 0 {
                x.split(&**sep).map(s).collect()
            } else {
                x.splitn(n as usize, &**sep).map(s).collect()
            };
            Ok(Value::list(parts))
        }
        ("substring", [String(x), rest @ ..]) => {
            let cs = chars_of(x);
            let (a, b) = match rest {
                [a] => (int_index(a), Some(cs.len() as i64)),
                [a, b] => (int_index(a), int_index(b)),
                _ => return bad(),
            };
            let (Some(a), Some(b)) = (a, b) else { return bad() };
            if a < 0 || a as usize > cs.len() {
                return Err(format!("index out of range: {a}"));
            }
            if b < 0 || b as usize > cs.len() {
                return Err(format!("index out of range: {b}"));
            }
            if a > b {
                return Err(format!("invalid substring range. start: {a}, end: {b}"));
            }
            Ok(s(&cs[a as usize..b as usize].iter().collect::<std::string::String>()))
        }
        ("trim", [String(x)]) => Ok(s(x.trim())),
        ("reverse", [String(x)]) => Ok(s(&x.chars().rev().collect::<std::string::String>())),
        ("join", [List(l), rest @ ..]) => {
            let sep = match rest {
                [] => "",
                [String(sep)] => sep,
                _ => return bad(),
            };
            let mut parts = Vec::with_capacity(l.len());
            for v in l.iter() {
                match v {
                    String(x) => parts.push(x.to_string()),
                    _ => return bad(),
                }
            }
            Ok(s(&parts.join(sep)))
        }
        ("format", [String(f), List(a)]) => format_string(f, a),
        ("strings.quote", [String(x)]) => Ok(s(&quote(x))),
        // RFC 6901 escaping of one JSON Pointer token (mutating admission policies).
        ("jsonpatch.escapeKey", [String(x)]) => Ok(s(&x.replace('~', "~0").replace('/', "~1"))),
        ("base64.encode", [Bytes(b)]) => {
            use base64::Engine;
            Ok(s(&base64::engine::general_purpose::STANDARD.encode(b)))
        }
        ("base64.decode", [String(x)]) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(x.as_bytes())
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(x.as_bytes()))
                .map(|b| Bytes(b.into()))
                .map_err(|e| e.to_string())
        }
        // Kubernetes lists library.
        ("isSorted", [List(l)]) => {
            for w in l.windows(2) {
                match w[0].compare(&w[1]) {
                    Some(o) if o.is_gt() => return Ok(Bool(false)),
                    Some(_) => {}
                    None => return bad(),
                }
            }
            Ok(Bool(true))
        }
        ("sum", [List(l)]) => {
            let mut acc: Option<Value> = None;
            for v in l.iter() {
                acc = Some(match acc {
                    None => v.clone(),
                    Some(a) => arith("_+_", &a, v)?,
                });
            }
            Ok(acc.unwrap_or(Int(0)))
        }
        ("min", [List(l)]) => fold_cmp("min", l, false),
        ("max", [List(l)]) => fold_cmp("max", l, true),
        // cel-go lists extension.
        ("slice", [List(l), a, b]) => {
            let (Some(a), Some(b)) = (int_index(a), int_index(b)) else {
                return bad();
            };
            if a < 0 || b < 0 {
                return Err(format!("cannot slice({a}, {b}), negative indexes not supported"));
            }
            if a > b {
                return Err(format!("cannot slice({a}, {b}), start index must be less than or equal to end index"));
            }
            if b as usize > l.len() {
                return Err(format!("cannot slice({a}, {b}), list is length {}", l.len()));
            }
            Ok(Value::list(l[a as usize..b as usize].to_vec()))
        }
        ("reverse", [List(l)]) => Ok(Value::list(l.iter().rev().cloned().collect())),
        ("distinct", [List(l)]) => {
            let mut out: Vec<Value> = Vec::new();
            for v in l.iter() {
                if !out.iter().any(|x| x.equals(v)) {
                    out.push(v.clone());
                }
            }
            Ok(Value::list(out))
        }
        ("sort", [List(l)]) => {
            let mut v = l.to_vec();
            for w in v.windows(2) {
                if w[0].compare(&w[1]).is_none() {
                    return bad();
                }
            }
            v.sort_by(|a, b| a.compare(b).unwrap_or(std::cmp::Ordering::Equal));
            Ok(Value::list(v))
        }
        ("first", [List(l)]) => Ok(Optional(l.first().map(|v| Arc::new(v.clone())))),
        ("last", [List(l)]) => Ok(Optional(l.last().map(|v| Arc::new(v.clone())))),
        ("flatten", [List(l), rest @ ..]) => {
            let depth = match rest {
                [] => 1,
                [d] => match int_index(d) {
                    Some(d) if d >= 0 => d,
                    Some(_) => return Err("level must be non-negative".into()),
                    None => return bad(),
                },
                _ => return bad(),
            };
            fn flat(l: &[Value], d: i64, out: &mut Vec<Value>) {
                for v in l {
                    match v {
                        Value::List(inner) if d > 0 => flat(inner, d - 1, out),
                        other => out.push(other.clone()),
                    }
                }
            }
            let mut out = Vec::new();
            flat(l, depth, &mut out);
            Ok(Value::list(out))
        }
        ("lists.range", [Int(n)]) => {
            if *n > 1_000_000 {
                return Err("lists.range: size too large".into());
            }
            Ok(Value::list((0..(*n).max(0)).map(Int).collect()))
        }
        ("sets.contains", [List(a), List(b)]) => Ok(Bool(b.iter().all(|x| a.iter().any(|y| y.equals(x))))),
        ("sets.equivalent", [List(a), List(b)]) => Ok(Bool(
            b.iter().all(|x| a.iter().any(|y| y.equals(x))) && a.iter().all(|x| b.iter().any(|y| y.equals(x))),
        )),
        ("sets.intersects", [List(a), List(b)]) => Ok(Bool(a.iter().any(|x| b.iter().any(|y| y.equals(x))))),
        ("math.greatest" | "math.least", [List(l)]) => fold_cmp(name, l, name == "math.greatest"),
        ("math.greatest" | "math.least", [a, b]) => fold_cmp(name, &[a.clone(), b.clone()], name == "math.greatest"),
        ("math.abs", [Int(i)]) => i.checked_abs().map(Int).ok_or_else(|| "integer overflow".into()),
        ("math.abs", [Double(d)]) => Ok(Double(d.abs())),
        ("math.sign", [Int(i)]) => Ok(Int(i.signum())),
        ("math.sign", [Double(d)]) => Ok(Double(if *d == 0.0 || d.is_nan() { *d } else { d.signum() })),
        ("math.ceil", [Double(d)]) => Ok(Double(d.ceil())),
        ("math.floor", [Double(d)]) => Ok(Double(d.floor())),
        ("math.round", [Double(d)]) => Ok(Double(d.round())),
        ("math.isNaN", [Double(d)]) => Ok(Bool(d.is_nan())),
        ("math.isInf", [Double(d)]) => Ok(Bool(d.is_infinite())),
        ("math.isFinite", [Double(d)]) => Ok(Bool(d.is_finite())),
        // Regex library.
        ("find", [String(x), String(p)]) => Ok(s(regex(p)?.find(x).map_or("", |m| m.as_str()))),
        ("findAll", [String(x), String(p), rest @ ..]) => {
            let limit = match rest {
                [] => -1,
                [n] => match int_index(n) {
                    Some(n) => n,
                    None => return bad(),
                },
                _ => return bad(),
            };
            if limit == 0 {
                return Ok(Value::list(vec![]));
            }
            let re = regex(p)?;
            let it = re.find_iter(x).map(|m| s(m.as_str()));
            Ok(Value::list(if limit < 0 {
                it.collect()
            } else {
                it.take(limit as usize).collect()
            }))
        }
        // URL library.
        ("url", [String(x)]) => parse_url(x)
            .map(|u| ext(super::value::Ext::Url(u)))
            .ok_or_else(|| format!("URL parse error during conversion from string: parse {x:?}: invalid URI for request")),
        ("isURL", [String(x)]) => Ok(Bool(parse_url(x).is_some())),
        ("getScheme" | "getHost" | "getHostname" | "getPort" | "getEscapedPath" | "getQuery", [Value::Ext(e)]) => {
            let super::value::Ext::Url(u) = &**e else { return bad() };
            Ok(match name {
                "getScheme" => s(&u.scheme),
                "getHost" => s(&u.host),
                "getHostname" => s(&url_hostname(u)),
                "getPort" => s(&url_port(u)),
                "getEscapedPath" => s(&u.path),
                _ => url_query(u),
            })
        }
        // Quantity library.
        ("quantity", [String(x)]) => Quantity::parse(x)
            .map(|q| ext(super::value::Ext::Quantity(q)))
            .ok_or_else(|| "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".into()),
        ("isQuantity", [String(x)]) => Ok(Bool(Quantity::parse(x).is_some())),
        (_, [Value::Ext(e), rest @ ..]) if matches!(**e, super::value::Ext::Quantity(_)) => {
            let super::value::Ext::Quantity(q) = &**e else { return bad() };
            let other = |v: &Value| -> Option<Quantity> {
                match v {
                    Value::Ext(o) => match &**o {
                        super::value::Ext::Quantity(o) => Some(*o),
                        _ => None,
                    },
                    Int(i) => Some(Quantity::from_i64(*i)),
                    _ => None,
                }
            };
            match (name, rest) {
                ("sign", []) => Ok(Int(q.sign())),
                ("isInteger", []) => Ok(Bool(q.as_i64().is_some())),
                ("asInteger", []) => q
                    .as_i64()
                    .map(Int)
                    .ok_or_else(|| "cannot convert value to integer".into()),
                ("asApproximateFloat", []) => Ok(Double(q.as_f64())),
                ("isGreaterThan" | "isLessThan" | "compareTo", [o]) => {
                    let Some(o) = other(o).filter(|_| matches!(rest[0], Value::Ext(_))) else { return bad() };
                    let c = q.cmp(&o);
                    Ok(match name {
                        "isGreaterThan" => Bool(c.is_gt()),
                        "isLessThan" => Bool(c.is_lt()),
                        _ => Int(c as i64),
                    })
                }
                ("add" | "sub", [o]) => {
                    let Some(o) = other(o) else { return bad() };
                    let r = if name == "add" { q.add(&o) } else { q.sub(&o) };
                    r.map(|q| ext(super::value::Ext::Quantity(q)))
                        .ok_or_else(|| "quantity arithmetic overflow".into())
                }
                _ => bad(),
            }
        }
        // IP and CIDR libraries.
        ("ip", [String(x)]) => parse_ip(x)
            .map(|i| ext(super::value::Ext::Ip(i)))
            .ok_or_else(|| format!("IP Address {x:?} parse error during conversion from string: ParseAddr({x:?}): unable to parse IP")),
        ("isIP", [String(x)]) => Ok(Bool(parse_ip(x).is_some())),
        ("ip.isCanonical", [String(x)]) => match parse_ip(x) {
            Some(i) => Ok(Bool(i.to_string() == **x)),
            None => Err(format!("IP Address {x:?} parse error during conversion from string")),
        },
        ("cidr", [String(x)]) => parse_cidr(x)
            .map(|(i, p)| ext(super::value::Ext::Cidr(i, p)))
            .ok_or_else(|| format!("network address {x:?} parse error during conversion from string")),
        ("isCIDR", [String(x)]) => Ok(Bool(parse_cidr(x).is_some())),
        (_, [Value::Ext(e), rest @ ..]) if matches!(**e, super::value::Ext::Ip(_)) => {
            let super::value::Ext::Ip(ip) = &**e else { return bad() };
            Ok(Bool(match (name, rest) {
                ("family", []) => return Ok(Int(if ip.is_ipv4() { 4 } else { 6 })),
                ("isUnspecified", []) => ip.is_unspecified(),
                ("isLoopback", []) => ip.is_loopback(),
                ("isLinkLocalMulticast", []) => match ip {
                    IpAddr::V4(v) => v.octets()[..3] == [224, 0, 0],
                    IpAddr::V6(v) => v.segments()[0] & 0xff0f == 0xff02,
                },
                ("isLinkLocalUnicast", []) => match ip {
                    IpAddr::V4(v) => v.is_link_local(),
                    IpAddr::V6(v) => v.segments()[0] & 0xffc0 == 0xfe80,
                },
                ("isGlobalUnicast", []) => match ip {
                    IpAddr::V4(v) => {
                        !(v.is_unspecified()
                            || v.is_loopback()
                            || v.is_link_local()
                            || v.is_multicast()
                            || v.is_broadcast())
                    }
                    IpAddr::V6(v) => {
                        !(v.is_unspecified()
                            || v.is_loopback()
                            || v.is_multicast()
                            || v.segments()[0] & 0xffc0 == 0xfe80)
                    }
                },
                _ => return bad(),
            }))
        }
        (_, [Value::Ext(e), rest @ ..]) if matches!(**e, super::value::Ext::Cidr(..)) => {
            let super::value::Ext::Cidr(ip, p) = &**e else { return bad() };
            let net = (*ip, *p);
            match (name, rest) {
                ("ip", []) => Ok(ext(super::value::Ext::Ip(*ip))),
                ("prefixLength", []) => Ok(Int(*p as i64)),
                ("masked", []) => Ok(ext(super::value::Ext::Cidr(masked(*ip, *p), *p))),
                ("containsIP", [String(x)]) => parse_ip(x)
                    .map(|i| Bool(cidr_contains(net, i)))
                    .ok_or_else(|| format!("IP Address {x:?} parse error")),
                ("containsIP", [Value::Ext(o)]) => match &**o {
                    super::value::Ext::Ip(i) => Ok(Bool(cidr_contains(net, *i))),
                    _ => bad(),
                },
                ("containsCIDR", [String(x)]) => parse_cidr(x)
                    .map(|(i, q)| Bool(q >= *p && cidr_contains(net, i)))
                    .ok_or_else(|| format!("network address {x:?} parse error")),
                ("containsCIDR", [Value::Ext(o)]) => match &**o {
                    super::value::Ext::Cidr(i, q) => Ok(Bool(*q >= *p && cidr_contains(net, *i))),
                    _ => bad(),
                },
                _ => bad(),
            }
        }
        // Semver library.
        ("semver", [String(x), rest @ ..]) => {
            let norm = matches!(rest, [Bool(true)]);
            parse_semver(x, norm)
                .map(|(a, b, c)| ext(super::value::Ext::Semver(a, b, c)))
                .ok_or_else(|| format!("invalid semver: {x:?}"))
        }
        ("isSemver", [String(x), rest @ ..]) => Ok(Bool(parse_semver(x, matches!(rest, [Bool(true)])).is_some())),
        (_, [Value::Ext(e), rest @ ..]) if matches!(**e, super::value::Ext::Semver(..)) => {
            let super::value::Ext::Semver(a, b, c) = &**e else { return bad() };
            match (name, rest) {
                ("major", []) => Ok(Int(*a as i64)),
                ("minor", []) => Ok(Int(*b as i64)),
                ("patch", []) => Ok(Int(*c as i64)),
                ("isGreaterThan" | "isLessThan" | "compareTo", [o]) => {
                    let Some(ord) = args[0].compare(o) else { return bad() };
                    Ok(match name {
                        "isGreaterThan" => Bool(ord.is_gt()),
                        "isLessThan" => Bool(ord.is_lt()),
                        _ => Int(ord as i64),
                    })
                }
                _ => bad(),
            }
        }
        // Named formats.
        ("format.named", [String(x)]) => Ok(Optional(
            named_format(x).map(|n| Arc::new(ext(super::value::Ext::Format(n)))),
        )),
        (n, []) if n.starts_with("format.") => named_format(&n["format.".len()..])
            .map(|f| ext(super::value::Ext::Format(f)))
            .ok_or_else(|| no_overload(name, args)),
        ("validate", [Value::Ext(e), String(x)]) => match &**e {
            super::value::Ext::Format(f) => {
                let errs = validate_format(f, x);
                Ok(Optional(if errs.is_empty() {
                    None
                } else {
                    Some(Arc::new(Value::list(errs.iter().map(|m| s(m)).collect())))
                }))
            }
            _ => bad(),
        },
        // Authorizer library.
        (_, [Value::Ext(e), rest @ ..]) if matches!(**e, super::value::Ext::Authz(_)) => {
            let super::value::Ext::Authz(a) = &**e else { return bad() };
            authz_call(name, a, rest).unwrap_or_else(bad)
        }
        _ => bad(),
    }
}

fn authz_call(name: &str, a: &AuthzValue, rest: &[Value]) -> Option<R> {
    use AuthzValue as A;
    let arg = |i: usize| match rest.get(i) {
        Some(Value::String(x)) => Some(x.to_string()),
        _ => None,
    };
    let wrap = |v: AuthzValue| Some(Ok(ext(Ext::Authz(v))));
    match (name, a) {
        ("path", A::Authorizer(z, c)) => {
            let mut c = c.clone();
            c.path = Some(arg(0)?);
            wrap(A::PathCheck(z.clone(), c))
        }
        ("group", A::Authorizer(z, c)) => {
            let mut c = c.clone();
            c.group = arg(0)?;
            wrap(A::GroupCheck(z.clone(), c))
        }
        ("serviceAccount", A::Authorizer(z, c)) => {
            let mut c = c.clone();
            c.service_account = Some((arg(0)?, arg(1)?));
            wrap(A::Authorizer(z.clone(), c))
        }
        ("resource", A::GroupCheck(z, c)) => {
            let mut c = c.clone();
            c.resource = arg(0)?;
            wrap(A::ResourceCheck(z.clone(), c))
        }
        (
            "subresource" | "namespace" | "name" | "fieldSelector" | "labelSelector",
            A::ResourceCheck(z, c),
        ) => {
            let mut c = c.clone();
            let v = arg(0)?;
            match name {
                "subresource" => c.subresource = v,
                "namespace" => c.namespace = v,
                "name" => c.name = v,
                "fieldSelector" => c.field_selector = v,
                _ => c.label_selector = v,
            }
            wrap(A::ResourceCheck(z.clone(), c))
        }
        ("check", A::ResourceCheck(z, c) | A::PathCheck(z, c)) => {
            let mut c = c.clone();
            c.verb = arg(0)?;
            wrap(A::Decision(z.authorize(&c)))
        }
        ("allowed", A::Decision(d)) => Some(Ok(Value::Bool(d.decision == "allow"))),
        ("errored", A::Decision(d)) => Some(Ok(Value::Bool(!d.error.is_empty()))),
        ("error", A::Decision(d)) => Some(Ok(s(&d.error))),
        ("reason", A::Decision(d)) => Some(Ok(s(&d.reason))),
        _ => None,
    }
}

fn key_text(k: &Value) -> String {
    match k {
        Value::String(x) => x.to_string(),
        other => other.to_string(),
    }
}

/// The run-time cost of a call beyond its base cost of 1, proportional to the sizes of its
/// string, bytes and list arguments (as cel-go's cost tracker does for size-dependent functions).
pub fn call_cost(name: &str, args: &[Value]) -> u64 {
    let size = |i: usize| args.get(i).map_or(0, Value::cost_size);
    let tenth = |n: u64| n.div_ceil(10);
    match name {
        "_==_" | "_!=_" | "_<_" | "_<=_" | "_>_" | "_>=_" => match args.first() {
            Some(Value::String(_) | Value::Bytes(_)) => tenth(size(0).min(size(1))),
            Some(Value::List(_) | Value::Map(_)) => size(0).min(size(1)),
            _ => 0,
        },
        "_+_" => match args.first() {
            Some(Value::String(_) | Value::Bytes(_)) => tenth(size(0) + size(1)),
            Some(Value::List(_)) => tenth(size(0) + size(1)),
            _ => 0,
        },
        "@in" => match args.get(1) {
            Some(Value::List(_)) => size(1),
            _ => 0,
        },
        "contains"
        | "startsWith"
        | "endsWith"
        | "lowerAscii"
        | "upperAscii"
        | "trim"
        | "charAt"
        | "indexOf"
        | "lastIndexOf"
        | "substring"
        | "reverse"
        | "split"
        | "join"
        | "replace"
        | "format"
        | "strings.quote"
        | "jsonpatch.escapeKey"
        | "base64.encode"
        | "base64.decode"
        | "url"
        | "isURL"
        | "quantity"
        | "isQuantity"
        | "string"
        | "bytes" => tenth(size(0) + size(1)),
        "matches" | "find" | "findAll" => {
            size(0).saturating_mul(size(1).max(1)).div_ceil(10).max(1)
        }
        "isSorted" | "sum" | "min" | "max" | "distinct" | "sort" | "flatten" | "slice"
        | "sets.contains" | "sets.equivalent" | "sets.intersects" | "math.greatest"
        | "math.least" => size(0) + size(1),
        "lists.range" => args
            .first()
            .and_then(|v| match v {
                Value::Int(n) => Some((*n).max(0) as u64),
                _ => None,
            })
            .unwrap_or(0),
        "check" => 350_000,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, args: &[Value]) -> R {
        call(name, args)
    }

    #[test]
    fn strings() {
        assert_eq!(
            c("split", &[s("a,b,c"), s(",")]).map(|v| v.to_json()),
            Ok(serde_json::json!(["a", "b", "c"]))
        );
        assert_eq!(
            c("split", &[s("a,b,c"), s(","), Value::Int(2)]).map(|v| v.to_json()),
            Ok(serde_json::json!(["a", "b,c"]))
        );
        assert_eq!(
            c("indexOf", &[s("héllo"), s("l")]).map(|v| v.to_json()),
            Ok(serde_json::json!(2))
        );
        assert_eq!(
            c("lastIndexOf", &[s("hello"), s("l")]).map(|v| v.to_json()),
            Ok(serde_json::json!(3))
        );
        assert_eq!(
            c("substring", &[s("hello"), Value::Int(1), Value::Int(3)]).map(|v| v.to_json()),
            Ok(serde_json::json!("el"))
        );
        assert!(c("substring", &[s("hello"), Value::Int(4), Value::Int(3)]).is_err());
        assert_eq!(
            c("charAt", &[s("abc"), Value::Int(3)]).map(|v| v.to_json()),
            Ok(serde_json::json!(""))
        );
        assert_eq!(
            c(
                "format",
                &[
                    s("%s has %d items, %.2f%%"),
                    Value::list(vec![s("x"), Value::Int(3), Value::Double(1.5)])
                ]
            )
            .map(|v| v.to_json()),
            Ok(serde_json::json!("x has 3 items, 1.50%"))
        );
        assert_eq!(
            c("replace", &[s("aaa"), s("a"), s("b"), Value::Int(2)]).map(|v| v.to_json()),
            Ok(serde_json::json!("bba"))
        );
    }

    #[test]
    fn urls_and_ips() {
        let u = parse_url("https://user@example.com:8443/a%20b?x=1&x=2&y").expect("url");
        assert_eq!(u.host, "example.com:8443");
        assert_eq!(url_hostname(&u), "example.com");
        assert_eq!(url_port(&u), "8443");
        assert_eq!(u.path, "/a%20b");
        assert_eq!(
            url_query(&u).to_json(),
            serde_json::json!({"x": ["1", "2"], "y": [""]})
        );
        assert!(parse_url("mailto:x").is_none());
        assert!(parse_url("/just/a/path").is_some());
        let u = parse_url("http://[::1]:80/").expect("v6");
        assert_eq!(url_hostname(&u), "::1");
        assert!(cidr_contains(
            parse_cidr("10.0.0.0/8").expect("cidr"),
            "10.1.2.3".parse().expect("ip")
        ));
        assert!(parse_ip("::ffff:1.2.3.4").is_none());
    }

    #[test]
    fn arithmetic_errors() {
        assert_eq!(
            c("_+_", &[Value::Int(i64::MAX), Value::Int(1)]).err(),
            Some("integer overflow".into())
        );
        assert_eq!(
            c("_/_", &[Value::Int(1), Value::Int(0)]).err(),
            Some("division by zero".into())
        );
        assert!(
            c("_+_", &[Value::Int(1), s("a")]).is_err_and(|e| e.starts_with("no such overload"))
        );
        assert_eq!(fmt_double(1e21), "1e+21");
    }
}
