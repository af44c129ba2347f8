//! Kubernetes protobuf (`application/vnd.kubernetes.protobuf`): decoding request bodies into the
//! JSON objects the rest of k3rs works on, encoding JSON objects into protobuf responses and watch
//! frames, and the schema (which fields a kind has) for field validation.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` envelope holding the object's
//! apiVersion, kind and its own protobuf encoding. The message schemas come from upstream's
//! `generated.proto` files, compiled into a descriptor set at build time (see `build.rs`), plus
//! the JSON facts the `.proto` files do not carry (JSON names that differ from protobuf names,
//! inlined structs, pointer fields), read from the Go struct tags at build time. A few
//! apimachinery types have a JSON form of their own (Time, IntOrString, Quantity, raw JSON).
//!
//! Encoding follows Go's generated marshallers so that the bytes match upstream's: fields in
//! number order, every non-pointer field written even when empty, map entries sorted by key.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use base64::Engine;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage, Value as PValue,
};
use serde_json::{json, Map, Value};

static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/k8s-protos.fds"));
static JSON_FACTS: &str = include_str!(concat!(env!("OUT_DIR"), "/k8s-json-facts.txt"));

/// The magic prefix of every Kubernetes protobuf body.
pub const MAGIC: &[u8] = b"k8s\0";

const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";

/// A message whose JSON form is not an object of its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Special {
    Time,
    MicroTime,
    Duration,
    IntOrString,
    Quantity,
    /// Raw JSON held in the named bytes field (RawExtension, FieldsV1, apiextensions JSON).
    Raw(&'static str),
    /// A Go named slice of strings (ExtraValue, Verbs): a JSON array.
    StringList,
    /// apiextensions' JSONSchemaPropsOrBool: a schema or a boolean.
    SchemaOrBool,
    /// JSONSchemaPropsOrArray: a schema or an array of schemas.
    SchemaOrArray,
    /// JSONSchemaPropsOrStringArray: a schema or an array of strings.
    SchemaOrStringArray,
}

fn special_of(full: &str) -> Option<Special> {
    Some(match full {
        "k8s.io.apimachinery.pkg.apis.meta.v1.Time" => Special::Time,
        "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime" => Special::MicroTime,
        "k8s.io.apimachinery.pkg.apis.meta.v1.Duration" => Special::Duration,
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString" => Special::IntOrString,
        "k8s.io.apimachinery.pkg.api.resource.Quantity" => Special::Quantity,
        "k8s.io.apimachinery.pkg.runtime.RawExtension" => Special::Raw("raw"),
        "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1" => Special::Raw("Raw"),
        "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON" => Special::Raw("raw"),
        "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool" => {
            Special::SchemaOrBool
        }
        "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray" => {
            Special::SchemaOrArray
        }
        "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray" => {
            Special::SchemaOrStringArray
        }
        f if f.ends_with(".ExtraValue") || f.ends_with(".Verbs") => Special::StringList,
        _ => return None,
    })
}

/// One field of a message, with its JSON side.
struct FieldInfo {
    fd: FieldDescriptor,
    /// The JSON key; `None` for a struct embedded inline (its fields are the parent's).
    json: Option<String>,
    /// A Go pointer field: written only when set. Other non-repeated fields are always written.
    ptr: bool,
    /// A non-pointer field without `omitempty`: its zero value shows in JSON.
    keep: bool,
}

struct MsgInfo {
    /// In field-number order.
    fields: Vec<FieldInfo>,
    /// The Go struct embeds TypeMeta: `apiVersion` and `kind` are known keys.
    typemeta: bool,
    special: Option<Special>,
}

struct Schema {
    pool: DescriptorPool,
    msgs: HashMap<String, MsgInfo>,
}

fn schema() -> Option<&'static Schema> {
    static SCHEMA: OnceLock<Option<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            if DESCRIPTORS.is_empty() {
                return None;
            }
            let pool = DescriptorPool::decode(DESCRIPTORS).ok()?;
            let mut renamed: HashMap<(&str, &str), Option<&str>> = HashMap::new();
            let mut ptrs: HashSet<(&str, &str)> = HashSet::new();
            let mut keeps: HashSet<(&str, &str)> = HashSet::new();
            let mut typemeta: HashSet<&str> = HashSet::new();
            for line in JSON_FACTS.lines() {
                let mut it = line.split('\t');
                let (Some(msg), Some(field), Some(what)) = (it.next(), it.next(), it.next()) else {
                    continue;
                };
                match what {
                    "@typemeta" => {
                        typemeta.insert(msg);
                    }
                    "@ptr" => {
                        ptrs.insert((msg, field));
                    }
                    "@keep" => {
                        keeps.insert((msg, field));
                    }
                    "" => {
                        renamed.insert((msg, field), None);
                    }
                    name => {
                        renamed.insert((msg, field), Some(name));
                    }
                }
            }
            let mut msgs = HashMap::new();
            for m in pool.all_messages() {
                let full = m.full_name().to_string();
                let mut fields: Vec<FieldInfo> = m
                    .fields()
                    .map(|fd| {
                        let key = (full.as_str(), fd.name());
                        let json = match renamed.get(&key) {
                            Some(None) => None,
                            Some(Some(n)) => Some(n.to_string()),
                            None => Some(fd.name().to_string()),
                        };
                        let ptr = ptrs.contains(&key);
                        let keep = keeps.contains(&key);
                        FieldInfo {
                            fd,
                            json,
                            ptr,
                            keep,
                        }
                    })
                    .collect();
                fields.sort_by_key(|f| f.fd.number());
                let info = MsgInfo {
                    fields,
                    typemeta: typemeta.contains(full.as_str()),
                    special: special_of(&full),
                };
                msgs.insert(full, info);
            }
            Some(Schema { pool, msgs })
        })
        .as_ref()
}

pub(crate) fn pool() -> Option<&'static DescriptorPool> {
    schema().map(|s| &s.pool)
}

fn msg_info(desc: &MessageDescriptor) -> Option<&'static MsgInfo> {
    schema()?.msgs.get(desc.full_name())
}

/// Whether this build can decode and encode protobuf at all.
pub fn available() -> bool {
    schema().is_some()
}

/// The protobuf package of a group/version.
pub(crate) fn package(api_version: &str) -> String {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    match group {
        "" => format!("k8s.io.api.core.{version}"),
        "meta.k8s.io" => format!("{}.{version}", META.trim_end_matches(".v1")),
        "apiextensions.k8s.io" => {
            format!("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.{version}")
        }
        "internal.apiserver.k8s.io" => format!("k8s.io.api.apiserverinternal.{version}"),
        g => {
            let first = g.split('.').next().unwrap_or(g);
            format!("k8s.io.api.{first}.{version}")
        }
    }
}

/// The message of a kind. Kinds registered in every group (Status, the option kinds) live in
/// meta/v1.
fn message_for(api_version: &str, kind: &str) -> Option<MessageDescriptor> {
    let pool = pool()?;
    pool.get_message_by_name(&format!("{}.{kind}", package(api_version)))
        .or_else(|| pool.get_message_by_name(&format!("{META}.{kind}")))
}

/// Whether objects of this apiVersion and kind can be encoded as protobuf.
pub fn has_message(api_version: &str, kind: &str) -> bool {
    !kind.is_empty() && message_for(api_version, kind).is_some()
}

fn envelope_parts(body: &[u8]) -> Result<(String, String, Vec<u8>), String> {
    let pool = pool().ok_or("this build of k3rs has no protobuf schemas")?;
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("not a Kubernetes protobuf body (missing the k8s\\0 prefix)")?;
    let unknown_desc = pool
        .get_message_by_name("k8s.io.apimachinery.pkg.runtime.Unknown")
        .ok_or("runtime.Unknown missing from the schemas")?;
    let unknown =
        DynamicMessage::decode(unknown_desc, rest).map_err(|e| format!("bad envelope: {e}"))?;
    let field_str = |m: &DynamicMessage, name: &str| -> String {
        m.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let type_meta = unknown
        .get_field_by_name("typeMeta")
        .and_then(|v| v.as_message().cloned())
        .ok_or("envelope has no typeMeta")?;
    let api_version = field_str(&type_meta, "apiVersion");
    let kind = field_str(&type_meta, "kind");
    if kind.is_empty() {
        return Err("envelope has no kind".into());
    }
    let encoding = field_str(&unknown, "contentEncoding");
    if !encoding.is_empty() {
        return Err(format!("unsupported content encoding {encoding:?}"));
    }
    let raw = unknown
        .get_field_by_name("raw")
        .and_then(|v| v.as_bytes().cloned())
        .unwrap_or_default();
    Ok((api_version, kind, raw.to_vec()))
}

/// Decodes a protobuf body into a JSON object with `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let (api_version, kind, raw) = envelope_parts(body)?;
    let desc = message_for(&api_version, &kind)
        .ok_or_else(|| format!("no protobuf schema for {api_version} {kind}"))?;
    let msg =
        DynamicMessage::decode(desc, raw.as_ref()).map_err(|e| format!("decoding {kind}: {e}"))?;
    let mut obj = message_to_json(&msg);
    if !obj.is_object() {
        obj = json!({});
    }
    if let Value::Object(m) = &mut obj {
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!(kind));
    }
    Ok(obj)
}

/// Decodes one watch event: the bytes of a `meta.v1.WatchEvent` (one frame of a
/// `;stream=watch` response, without its length prefix) into `{"type", "object"}`.
pub fn decode_watch_event(frame: &[u8]) -> Result<Value, String> {
    let pool = pool().ok_or("this build of k3rs has no protobuf schemas")?;
    let desc = pool
        .get_message_by_name(&format!("{META}.WatchEvent"))
        .ok_or("WatchEvent missing from the schemas")?;
    let ev = DynamicMessage::decode(desc, frame).map_err(|e| format!("bad watch event: {e}"))?;
    let ty = ev
        .get_field_by_name("type")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let raw = ev
        .get_field_by_name("object")
        .and_then(|v| v.as_message().cloned())
        .and_then(|m| {
            m.get_field_by_name("raw")
                .and_then(|v| v.as_bytes().cloned())
        })
        .unwrap_or_default();
    Ok(json!({"type": ty, "object": decode(&raw)?}))
}

// ---------------------------------------------------------------------------------------------
// Decoding: protobuf message -> JSON.

fn time_json(m: &DynamicMessage, micro: bool) -> Value {
    let secs = m.get_field_by_name("seconds").and_then(|v| v.as_i64());
    let nanos = m
        .get_field_by_name("nanos")
        .and_then(|v| v.as_i32())
        .unwrap_or(0);
    // Go writes nothing for the zero time; an empty message decodes to it (JSON null).
    let has_secs = m
        .descriptor()
        .get_field_by_name("seconds")
        .is_some_and(|f| m.has_field(&f));
    if !has_secs && nanos == 0 {
        return Value::Null;
    }
    let Some(t) = chrono::DateTime::from_timestamp(secs.unwrap_or(0), nanos.max(0) as u32) else {
        return Value::Null;
    };
    json!(if micro {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    })
}

/// Go's `time.Duration.String()`.
pub fn go_duration(ns: i64) -> String {
    fn frac(v: u64, prec: u32) -> String {
        let p = 10u64.pow(prec);
        let (int, f) = (v / p, v % p);
        if f == 0 {
            return int.to_string();
        }
        let digits = format!("{f:0width$}", width = prec as usize);
        format!("{int}.{}", digits.trim_end_matches('0'))
    }
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    if u < 1_000_000_000 {
        return if u < 1_000 {
            format!("{sign}{u}ns")
        } else if u < 1_000_000 {
            format!("{sign}{}µs", frac(u, 3))
        } else {
            format!("{sign}{}ms", frac(u, 6))
        };
    }
    let secs = u % 60_000_000_000;
    let mins = u / 60_000_000_000;
    let (h, m) = (mins / 60, mins % 60);
    let mut out = String::from(sign);
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{}s", frac(secs, 9)));
    out
}

/// Parses Go's duration syntax (`1h2m3.5s`, `300ms`, `-1.5h`, `0`).
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_end);
        if num.is_empty() || num == "." {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let mult = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
        rest = tail;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let v = total.round() as i64;
    Some(if neg { -v } else { v })
}

fn raw_json(m: &DynamicMessage, field: &str) -> Value {
    let raw = m
        .get_field_by_name(field)
        .and_then(|v| v.as_bytes().cloned())
        .unwrap_or_default();
    if raw.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(&raw).unwrap_or(Value::Null)
}

fn message_to_json(m: &DynamicMessage) -> Value {
    let desc: MessageDescriptor = m.descriptor();
    let Some(info) = msg_info(&desc) else {
        return Value::Null;
    };
    match info.special {
        Some(Special::Time) => return time_json(m, false),
        Some(Special::MicroTime) => return time_json(m, true),
        Some(Special::Duration) => {
            return json!(go_duration(
                m.get_field_by_name("duration")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0)
            ))
        }
        Some(Special::IntOrString) => {
            let is_str = m
                .get_field_by_name("type")
                .and_then(|v| v.as_i64())
                .unwrap_or(0)
                == 1;
            return if is_str {
                json!(m
                    .get_field_by_name("strVal")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default())
            } else {
                json!(m
                    .get_field_by_name("intVal")
                    .and_then(|v| v.as_i32())
                    .unwrap_or(0))
            };
        }
        Some(Special::Quantity) => {
            return json!(m
                .get_field_by_name("string")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default())
        }
        Some(Special::Raw(field)) => return raw_json(m, field),
        Some(Special::StringList) => {
            return m
                .get_field_by_name("items")
                .map(|v| value_to_json(&v))
                .unwrap_or(json!([]))
        }
        Some(
            sp @ (Special::SchemaOrBool | Special::SchemaOrArray | Special::SchemaOrStringArray),
        ) => {
            // As upstream's MarshalJSON: the list when there is one, else the schema, else the
            // boolean (or null).
            let schema = m
                .has_field_by_name("schema")
                .then(|| m.get_field_by_name("schema").map(|v| value_to_json(&v)))
                .flatten();
            let list_field = match sp {
                Special::SchemaOrArray => "jSONSchemas",
                _ => "property",
            };
            if sp != Special::SchemaOrBool {
                if let Some(Value::Array(a)) = m
                    .get_field_by_name(list_field)
                    .map(|v| value_to_json(&v))
                    .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                {
                    return Value::Array(a);
                }
            }
            return match (sp, schema) {
                (_, Some(s)) => s,
                (Special::SchemaOrBool, None) => json!(m
                    .get_field_by_name("allows")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false)),
                _ => Value::Null,
            };
        }
        None => {}
    }
    let mut out = Map::new();
    fields_to_json(m, info, &mut out);
    Value::Object(out)
}

fn fields_to_json(m: &DynamicMessage, info: &MsgInfo, out: &mut Map<String, Value>) {
    for f in &info.fields {
        if !m.has_field(&f.fd) {
            continue;
        }
        let v = m.get_field(&f.fd);
        let Some(key) = &f.json else {
            // Inline: the embedded struct's fields are this object's.
            if let (Some(inner), Some(inner_info)) =
                (v.as_message(), f.fd.kind().as_message().and_then(msg_info))
            {
                fields_to_json(inner, inner_info, out);
            }
            continue;
        };
        let v = value_to_json(&v);
        // Go's protobuf encoding writes every non-pointer field, zero or not; upstream's JSON
        // omits the zero ones marked omitempty, and so do we.
        let zero = match &v {
            Value::String(s) => s.is_empty(),
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            _ => false,
        };
        let omit = zero && !f.ptr && !f.keep && !f.fd.is_list() && !f.fd.is_map();
        if !v.is_null() && !omit {
            out.insert(key.clone(), v);
        }
    }
}

fn value_to_json(v: &PValue) -> Value {
    match v {
        PValue::Bool(b) => json!(b),
        PValue::I32(n) => json!(n),
        PValue::I64(n) => json!(n),
        PValue::U32(n) => json!(n),
        PValue::U64(n) => json!(n),
        PValue::F32(n) => json!(n),
        PValue::F64(n) => json!(n),
        PValue::String(s) => json!(s),
        PValue::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        PValue::EnumNumber(n) => json!(n),
        PValue::Message(m) => message_to_json(m),
        PValue::List(items) => Value::Array(items.iter().map(value_to_json).collect()),
        PValue::Map(map) => {
            let mut entries: Vec<(String, Value)> = map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        MapKey::String(s) => s.clone(),
                        MapKey::Bool(b) => b.to_string(),
                        MapKey::I32(n) => n.to_string(),
                        MapKey::I64(n) => n.to_string(),
                        MapKey::U32(n) => n.to_string(),
                        MapKey::U64(n) => n.to_string(),
                    };
                    (key, value_to_json(v))
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding: JSON -> protobuf, written the way Go's generated marshallers write.

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, number: u32, wire: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire));
}

fn put_len(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_tag(out, number, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn mismatch(path: &str, v: &Value, want: &str) -> String {
    format!(
        "{}: cannot encode a JSON {} as {want}",
        if path.is_empty() { "<root>" } else { path },
        type_name(v)
    )
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Writes one scalar (non-message) value of field `number`.
fn put_scalar(
    out: &mut Vec<u8>,
    number: u32,
    kind: &Kind,
    v: &Value,
    path: &str,
) -> Result<(), String> {
    let int = |v: &Value| v.as_i64().ok_or_else(|| mismatch(path, v, "an integer"));
    match kind {
        Kind::Int32 | Kind::Sfixed32 | Kind::Sint32 => {
            let n = int(v)?;
            let n = i32::try_from(n).map_err(|_| format!("{path}: {n} overflows int32"))?;
            match kind {
                Kind::Sfixed32 => {
                    put_tag(out, number, 5);
                    out.extend_from_slice(&n.to_le_bytes());
                }
                Kind::Sint32 => {
                    put_tag(out, number, 0);
                    put_varint(out, u64::from(((n << 1) ^ (n >> 31)) as u32));
                }
                _ => {
                    put_tag(out, number, 0);
                    put_varint(out, i64::from(n) as u64);
                }
            }
        }
        Kind::Int64 | Kind::Sfixed64 | Kind::Sint64 => {
            let n = int(v)?;
            match kind {
                Kind::Sfixed64 => {
                    put_tag(out, number, 1);
                    out.extend_from_slice(&n.to_le_bytes());
                }
                Kind::Sint64 => {
                    put_tag(out, number, 0);
                    put_varint(out, ((n << 1) ^ (n >> 63)) as u64);
                }
                _ => {
                    put_tag(out, number, 0);
                    put_varint(out, n as u64);
                }
            }
        }
        Kind::Uint32 | Kind::Fixed32 => {
            let n = v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| mismatch(path, v, "an unsigned 32-bit integer"))?;
            if *kind == Kind::Fixed32 {
                put_tag(out, number, 5);
                out.extend_from_slice(&n.to_le_bytes());
            } else {
                put_tag(out, number, 0);
                put_varint(out, u64::from(n));
            }
        }
        Kind::Uint64 | Kind::Fixed64 => {
            let n = v
                .as_u64()
                .ok_or_else(|| mismatch(path, v, "an unsigned integer"))?;
            if *kind == Kind::Fixed64 {
                put_tag(out, number, 1);
                out.extend_from_slice(&n.to_le_bytes());
            } else {
                put_tag(out, number, 0);
                put_varint(out, n);
            }
        }
        Kind::Bool => {
            let b = v.as_bool().ok_or_else(|| mismatch(path, v, "a boolean"))?;
            put_tag(out, number, 0);
            out.push(u8::from(b));
        }
        Kind::Double => {
            let f = v.as_f64().ok_or_else(|| mismatch(path, v, "a number"))?;
            put_tag(out, number, 1);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Kind::Float => {
            let f = v.as_f64().ok_or_else(|| mismatch(path, v, "a number"))?;
            put_tag(out, number, 5);
            out.extend_from_slice(&(f as f32).to_le_bytes());
        }
        Kind::String => {
            let s = v.as_str().ok_or_else(|| mismatch(path, v, "a string"))?;
            put_len(out, number, s.as_bytes());
        }
        Kind::Bytes => {
            let s = v
                .as_str()
                .ok_or_else(|| mismatch(path, v, "base64 bytes"))?;
            let b = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("{path}: invalid base64: {e}"))?;
            put_len(out, number, &b);
        }
        Kind::Enum(_) => {
            let n = int(v)?;
            put_tag(out, number, 0);
            put_varint(out, n as u64);
        }
        Kind::Message(_) => return Err(format!("{path}: internal error: message as scalar")),
    }
    Ok(())
}

/// The zero value Go writes for an absent non-pointer field.
fn put_zero(out: &mut Vec<u8>, f: &FieldInfo) {
    let number = f.fd.number();
    match f.fd.kind() {
        Kind::Message(d) => {
            let mut inner = Vec::new();
            zero_message(&d, &mut inner);
            put_len(out, number, &inner);
        }
        Kind::String | Kind::Bytes => put_len(out, number, b""),
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => {
            put_tag(out, number, 1);
            out.extend_from_slice(&[0; 8]);
        }
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => {
            put_tag(out, number, 5);
            out.extend_from_slice(&[0; 4]);
        }
        _ => {
            put_tag(out, number, 0);
            out.push(0);
        }
    }
}

/// The encoding of a Go zero value of a message's type.
fn zero_message(d: &MessageDescriptor, out: &mut Vec<u8>) {
    let Some(info) = msg_info(d) else { return };
    match info.special {
        // A zero Time writes nothing; a zero Quantity is "0".
        Some(Special::Time | Special::MicroTime | Special::Raw(_) | Special::StringList) => {}
        Some(Special::Quantity) => put_len(out, 1, b"0"),
        _ => {
            for f in &info.fields {
                if always_written(f) {
                    put_zero(out, f);
                }
            }
        }
    }
}

/// Go writes this field even when it holds its zero value.
fn always_written(f: &FieldInfo) -> bool {
    if f.ptr || f.fd.is_list() || f.fd.is_map() {
        return false;
    }
    match f.fd.kind() {
        Kind::Bytes => false,
        Kind::Message(d) => !matches!(
            msg_info(&d).and_then(|i| i.special),
            Some(Special::StringList)
        ),
        _ => true,
    }
}

fn parse_time(s: &str, path: &str) -> Result<(i64, i32), String> {
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("{path}: invalid time {s:?}: {e}"))?;
    Ok((t.timestamp(), t.timestamp_subsec_nanos() as i32))
}

/// Encodes the fields of message `desc` from JSON `v` into `out` (without a tag).
fn encode_message(
    desc: &MessageDescriptor,
    v: &Value,
    path: &str,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let info =
        msg_info(desc).ok_or_else(|| format!("{path}: no schema for {}", desc.full_name()))?;
    match info.special {
        Some(Special::Time) | Some(Special::MicroTime) => {
            let s = v.as_str().ok_or_else(|| mismatch(path, v, "a time"))?;
            let (secs, nanos) = parse_time(s, path)?;
            put_tag(out, 1, 0);
            put_varint(out, secs as u64);
            let nanos = if info.special == Some(Special::MicroTime) {
                nanos - nanos % 1000
            } else {
                // Time carries seconds only, as upstream.
                0
            };
            put_tag(out, 2, 0);
            put_varint(out, i64::from(nanos) as u64);
            return Ok(());
        }
        Some(Special::Duration) => {
            let s = v.as_str().ok_or_else(|| mismatch(path, v, "a duration"))?;
            let ns =
                parse_go_duration(s).ok_or_else(|| format!("{path}: invalid duration {s:?}"))?;
            put_tag(out, 1, 0);
            put_varint(out, ns as u64);
            return Ok(());
        }
        Some(Special::IntOrString) => {
            let (ty, int, s) = match v {
                Value::String(s) => (1u64, 0i32, s.as_str()),
                Value::Number(_) => {
                    let n = v
                        .as_i64()
                        .and_then(|n| i32::try_from(n).ok())
                        .ok_or_else(|| mismatch(path, v, "an int32 or a string"))?;
                    (0, n, "")
                }
                _ => return Err(mismatch(path, v, "an int or a string")),
            };
            put_tag(out, 1, 0);
            put_varint(out, ty);
            put_tag(out, 2, 0);
            put_varint(out, i64::from(int) as u64);
            put_len(out, 3, s.as_bytes());
            return Ok(());
        }
        Some(Special::Quantity) => {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(mismatch(path, v, "a quantity")),
            };
            put_len(out, 1, s.as_bytes());
            return Ok(());
        }
        Some(Special::Raw(_)) => {
            let raw = serde_json::to_vec(v).map_err(|e| format!("{path}: {e}"))?;
            put_len(out, 1, &raw);
            return Ok(());
        }
        Some(Special::StringList) => {
            let items = v.as_array().ok_or_else(|| mismatch(path, v, "a list"))?;
            for (i, item) in items.iter().enumerate() {
                let s = item
                    .as_str()
                    .ok_or_else(|| mismatch(&format!("{path}[{i}]"), item, "a string"))?;
                put_len(out, 1, s.as_bytes());
            }
            return Ok(());
        }
        Some(
            sp @ (Special::SchemaOrBool | Special::SchemaOrArray | Special::SchemaOrStringArray),
        ) => {
            let schema_desc = desc
                .get_field_by_name("schema")
                .and_then(|f| f.kind().as_message().cloned())
                .ok_or_else(|| format!("{path}: no schema field in {}", desc.full_name()))?;
            let put_schema = |number: u32, v: &Value, out: &mut Vec<u8>| {
                let mut buf = Vec::new();
                encode_message(&schema_desc, v, path, &mut buf)?;
                put_len(out, number, &buf);
                Ok::<(), String>(())
            };
            match (sp, v) {
                (Special::SchemaOrBool, Value::Bool(b)) => {
                    put_tag(out, 1, 0);
                    put_varint(out, u64::from(*b));
                }
                (Special::SchemaOrBool, Value::Object(_)) => {
                    put_tag(out, 1, 0);
                    put_varint(out, 1);
                    put_schema(2, v, out)?;
                }
                (Special::SchemaOrArray | Special::SchemaOrStringArray, Value::Object(_)) => {
                    put_schema(1, v, out)?;
                }
                (Special::SchemaOrArray, Value::Array(items)) => {
                    for item in items {
                        put_schema(2, item, out)?;
                    }
                }
                (Special::SchemaOrStringArray, Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        let s = item
                            .as_str()
                            .ok_or_else(|| mismatch(&format!("{path}[{i}]"), item, "a string"))?;
                        put_len(out, 2, s.as_bytes());
                    }
                }
                (_, Value::Null) => {}
                _ => return Err(mismatch(path, v, "a schema")),
            }
            return Ok(());
        }
        None => {}
    }
    let obj = v
        .as_object()
        .ok_or_else(|| mismatch(path, v, "an object"))?;
    encode_fields(info, obj, path, out)
}

fn encode_fields(
    info: &MsgInfo,
    obj: &Map<String, Value>,
    path: &str,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    for f in &info.fields {
        let number = f.fd.number();
        let Some(key) = &f.json else {
            // Inline: the embedded struct reads its fields from this same object.
            let Kind::Message(d) = f.fd.kind() else {
                continue;
            };
            let inner_info =
                msg_info(&d).ok_or_else(|| format!("{path}: no schema for {}", d.full_name()))?;
            let mut inner = Vec::new();
            encode_fields(inner_info, obj, path, &mut inner)?;
            put_len(out, number, &inner);
            continue;
        };
        let v = match obj.get(key.as_str()) {
            Some(v) if !v.is_null() => v,
            _ => {
                if always_written(f) {
                    put_zero(out, f);
                }
                continue;
            }
        };
        let fpath = join(path, key);
        if f.fd.is_map() {
            let Kind::Message(entry) = f.fd.kind() else {
                continue;
            };
            let m = v.as_object().ok_or_else(|| mismatch(&fpath, v, "a map"))?;
            let vf = entry.map_entry_value_field();
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                let Some(val) = m.get(k.as_str()) else {
                    continue;
                };
                let vpath = join(&fpath, k);
                let mut e = Vec::new();
                put_len(&mut e, 1, k.as_bytes());
                match vf.kind() {
                    Kind::Message(d) => {
                        let mut inner = Vec::new();
                        if !val.is_null() {
                            encode_message(&d, val, &vpath, &mut inner)?;
                        }
                        put_len(&mut e, 2, &inner);
                    }
                    kind => {
                        if val.is_null() {
                            put_len(&mut e, 2, b"");
                        } else {
                            put_scalar(&mut e, 2, &kind, val, &vpath)?;
                        }
                    }
                }
                put_len(out, number, &e);
            }
        } else if f.fd.is_list() {
            let items = v.as_array().ok_or_else(|| mismatch(&fpath, v, "a list"))?;
            for (i, item) in items.iter().enumerate() {
                let ipath = format!("{fpath}[{i}]");
                match f.fd.kind() {
                    Kind::Message(d) => {
                        let mut inner = Vec::new();
                        if item.is_null() {
                            zero_message(&d, &mut inner);
                        } else {
                            encode_message(&d, item, &ipath, &mut inner)?;
                        }
                        put_len(out, number, &inner);
                    }
                    kind => put_scalar(out, number, &kind, item, &ipath)?,
                }
            }
        } else {
            match f.fd.kind() {
                Kind::Message(d) => {
                    let mut inner = Vec::new();
                    encode_message(&d, v, &fpath, &mut inner)?;
                    put_len(out, number, &inner);
                }
                kind => put_scalar(out, number, &kind, v, &fpath)?,
            }
        }
    }
    Ok(())
}

fn type_of(obj: &Value) -> Result<(&str, &str), String> {
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind.is_empty() {
        return Err("object has no kind".into());
    }
    Ok((api_version, kind))
}

/// `runtime.Unknown{typeMeta, raw}` after the magic, as Go's protobuf serializer writes it.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut tm = Vec::new();
    put_len(&mut tm, 1, api_version.as_bytes());
    put_len(&mut tm, 2, kind.as_bytes());
    let mut out = MAGIC.to_vec();
    put_len(&mut out, 1, &tm);
    put_len(&mut out, 2, raw);
    put_len(&mut out, 3, b"");
    put_len(&mut out, 4, b"");
    out
}

/// Encodes a JSON object (with `apiVersion` and `kind`) as a Kubernetes protobuf body: the
/// `k8s\0` magic and a `runtime.Unknown` envelope. Works for single objects, lists (`PodList`,
/// …), `Status` and the other meta/v1 kinds (PartialObjectMetadata[List], …). Fields the schema
/// does not know are left out, as upstream's typed decoding drops them.
pub fn encode(obj: &Value) -> Result<Vec<u8>, String> {
    let (api_version, kind) = type_of(obj)?;
    let desc = message_for(api_version, kind)
        .ok_or_else(|| format!("no protobuf schema for {api_version} {kind}"))?;
    let mut raw = Vec::new();
    encode_message(&desc, obj, "", &mut raw)?;
    Ok(envelope(api_version, kind, &raw))
}

/// Encodes one watch event `{"type", "object"}` as a frame of a
/// `application/vnd.kubernetes.protobuf;stream=watch` response: a 4-byte big-endian length, then
/// a `meta.v1.WatchEvent` (no envelope) whose `object.raw` is the object's protobuf body.
pub fn encode_watch_frame(ev: &Value) -> Result<Vec<u8>, String> {
    let ty = ev.get("type").and_then(Value::as_str).unwrap_or_default();
    let object = ev.get("object").ok_or("watch event has no object")?;
    let inner = encode(object)?;
    let mut raw_ext = Vec::new();
    put_len(&mut raw_ext, 1, &inner);
    let mut msg = Vec::new();
    put_len(&mut msg, 1, ty.as_bytes());
    put_len(&mut msg, 2, &raw_ext);
    let len = u32::try_from(msg.len()).map_err(|_| "watch event too large")?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend(msg);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Schema for field validation.

/// Removes from `obj` (a JSON object of the given kind) every field its schema does not know,
/// as upstream's decoding into typed structs drops them, and returns their paths in upstream's
/// strict-decoding form (`spec.foo`, `spec.containers[0].bar`), in document order. `None` when
/// the kind has no schema (nothing is removed then). Maps, raw JSON (RawExtension) and the
/// special scalar types are open: nothing below them is checked.
pub fn prune_unknown(api_version: &str, kind: &str, obj: &mut Value) -> Option<Vec<String>> {
    let desc = message_for(api_version, kind)?;
    let info = msg_info(&desc)?;
    let mut unknown = Vec::new();
    if let Value::Object(m) = obj {
        prune_fields(info, m, "", true, &mut unknown);
    }
    Some(unknown)
}

/// Removes from `meta` (the JSON of an ObjectMeta at `path`, e.g. `spec.template.metadata`)
/// every field ObjectMeta does not have, returning their paths (`spec.template.metadata.foo`) in
/// document order. `None` when this build has no schemas.
pub fn prune_object_meta(meta: &mut Value, path: &str) -> Option<Vec<String>> {
    let desc = pool()?.get_message_by_name(&format!("{META}.ObjectMeta"))?;
    let info = msg_info(&desc)?;
    let mut unknown = Vec::new();
    if let Value::Object(m) = meta {
        prune_fields(info, m, path, false, &mut unknown);
    }
    Some(unknown)
}

/// The field of `info` (or of a struct inlined into it) whose JSON key is `key`.
fn find_field<'a>(info: &'a MsgInfo, key: &str) -> Option<&'a FieldInfo> {
    for f in &info.fields {
        match &f.json {
            Some(k) if k == key => return Some(f),
            None => {
                if let Some(found) =
                    f.fd.kind()
                        .as_message()
                        .and_then(msg_info)
                        .and_then(|i| find_field(i, key))
                {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

fn prune_fields(
    info: &MsgInfo,
    obj: &mut Map<String, Value>,
    path: &str,
    top: bool,
    unknown: &mut Vec<String>,
) {
    let mut drop = Vec::new();
    for (key, v) in obj.iter_mut() {
        if (top || info.typemeta) && (key == "apiVersion" || key == "kind") {
            continue;
        }
        let Some(f) = find_field(info, key) else {
            unknown.push(join(path, key));
            drop.push(key.clone());
            continue;
        };
        let Kind::Message(d) = f.fd.kind() else {
            continue;
        };
        let fpath = join(path, key);
        if f.fd.is_map() {
            let vf = d.map_entry_value_field();
            let Some(vd) = vf.kind().as_message().cloned() else {
                continue;
            };
            if let Value::Object(m) = v {
                for (k, item) in m.iter_mut() {
                    prune_value(&vd, item, &join(&fpath, k), unknown);
                }
            }
        } else if f.fd.is_list() {
            if let Value::Array(items) = v {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_value(&d, item, &format!("{fpath}[{i}]"), unknown);
                }
            }
        } else {
            prune_value(&d, v, &fpath, unknown);
        }
    }
    for k in drop {
        obj.shift_remove(&k);
    }
}

fn prune_value(d: &MessageDescriptor, v: &mut Value, path: &str, unknown: &mut Vec<String>) {
    let Some(info) = msg_info(d) else { return };
    if info.special.is_some() {
        return;
    }
    if let Value::Object(m) = v {
        prune_fields(info, m, path, false, unknown);
    }
}

// ---------------------------------------------------------------------------------------------
// Samples for tests.

/// A JSON object of the given kind with every field of its schema set to a non-empty value
/// (recursive types are cut where a message repeats on the path). For tests that must cover
/// every field of every kind, e.g. comparing this encoder with upstream's.
pub fn sample(api_version: &str, kind: &str) -> Option<Value> {
    let desc = message_for(api_version, kind)?;
    let mut stack = Vec::new();
    let mut v = sample_message(&desc, &mut stack, 0);
    if let Value::Object(m) = &mut v {
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!(kind));
    }
    Some(v)
}

fn sample_message(d: &MessageDescriptor, stack: &mut Vec<String>, n: usize) -> Value {
    let Some(info) = msg_info(d) else {
        return json!({});
    };
    match info.special {
        Some(Special::Time) => return json!("2024-05-06T07:08:09Z"),
        Some(Special::MicroTime) => return json!("2024-05-06T07:08:09.123456Z"),
        Some(Special::Duration) => return json!("1m30s"),
        Some(Special::IntOrString) => {
            return if n.is_multiple_of(2) {
                json!(8080)
            } else {
                json!("http")
            }
        }
        Some(Special::Quantity) => return json!(if n.is_multiple_of(2) { "250m" } else { "64Mi" }),
        Some(Special::Raw("Raw")) => return json!({"f:metadata": {"f:name": {}}}),
        Some(Special::Raw(_)) => return json!({"any": ["json", 1]}),
        Some(Special::StringList) => return json!(["x", "y"]),
        Some(Special::SchemaOrBool) => return json!(true),
        Some(Special::SchemaOrArray) => return json!({"type": "string"}),
        Some(Special::SchemaOrStringArray) => return json!(["a", "b"]),
        None => {}
    }
    stack.push(d.full_name().to_string());
    let mut out = Map::new();
    sample_fields(info, stack, &mut out);
    stack.pop();
    Value::Object(out)
}

fn sample_fields(info: &MsgInfo, stack: &mut Vec<String>, out: &mut Map<String, Value>) {
    for (i, f) in info.fields.iter().enumerate() {
        let Some(key) = &f.json else {
            if let Some(inner) = f.fd.kind().as_message().and_then(msg_info) {
                sample_fields(inner, stack, out);
            }
            continue;
        };
        let one = |kind: Kind, stack: &mut Vec<String>| -> Option<Value> {
            Some(match kind {
                Kind::Message(d) => {
                    if stack.iter().any(|s| s == d.full_name()) {
                        return None;
                    }
                    sample_message(&d, stack, i)
                }
                Kind::String => json!(format!("{key}-{i}")),
                Kind::Bytes => json!(base64::engine::general_purpose::STANDARD.encode(key)),
                Kind::Bool => json!(true),
                Kind::Double | Kind::Float => json!(1.5),
                Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!(4_000_000_000i64 + i as i64),
                Kind::Uint32 | Kind::Uint64 | Kind::Fixed32 | Kind::Fixed64 => json!(i + 1),
                _ => json!(i as i64 + 1),
            })
        };
        let v = if f.fd.is_map() {
            let Some(entry) = f.fd.kind().as_message().cloned() else {
                continue;
            };
            let Some(v) = one(entry.map_entry_value_field().kind(), stack) else {
                continue;
            };
            json!({"k2": v.clone(), "k1": v})
        } else if f.fd.is_list() {
            match one(f.fd.kind(), stack) {
                Some(v) => json!([v]),
                None => continue,
            }
        } else {
            match one(f.fd.kind(), stack) {
                Some(v) => v,
                None => continue,
            }
        };
        out.insert(key.clone(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// Builds a protobuf body the way client-go does, from JSON-ish field values.
    fn body(api_version: &str, kind: &str, fill: impl FnOnce(&mut DynamicMessage)) -> Vec<u8> {
        let pool = pool().expect("schemas compiled in");
        let desc = pool
            .get_message_by_name(&format!("{}.{kind}", package(api_version)))
            .unwrap();
        let mut msg = DynamicMessage::new(desc);
        fill(&mut msg);
        let mut unknown = DynamicMessage::new(
            pool.get_message_by_name("k8s.io.apimachinery.pkg.runtime.Unknown")
                .unwrap(),
        );
        let mut tm = DynamicMessage::new(
            pool.get_message_by_name("k8s.io.apimachinery.pkg.runtime.TypeMeta")
                .unwrap(),
        );
        tm.set_field_by_name("apiVersion", PValue::String(api_version.into()));
        tm.set_field_by_name("kind", PValue::String(kind.into()));
        unknown.set_field_by_name("typeMeta", PValue::Message(tm));
        unknown.set_field_by_name("raw", PValue::Bytes(msg.encode_to_vec().into()));
        let mut out = MAGIC.to_vec();
        out.extend(unknown.encode_to_vec());
        out
    }

    #[test]
    fn decodes_a_configmap_and_a_secret() {
        if !available() {
            eprintln!("no protobuf schemas in this build");
            return;
        }
        let pool = pool().unwrap();
        let b = body("v1", "ConfigMap", |m| {
            let mut meta = DynamicMessage::new(
                pool.get_message_by_name("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")
                    .unwrap(),
            );
            meta.set_field_by_name("name", PValue::String("cm".into()));
            m.set_field_by_name("metadata", PValue::Message(meta));
            let mut data = std::collections::HashMap::new();
            data.insert(MapKey::String("k".into()), PValue::String("v".into()));
            m.set_field_by_name("data", PValue::Map(data));
        });
        let v = decode(&b).unwrap();
        assert_eq!(
            v,
            json!({"metadata": {"name": "cm"}, "data": {"k": "v"}, "apiVersion": "v1", "kind": "ConfigMap"})
        );
        let b = body("v1", "Secret", |m| {
            let mut data = std::collections::HashMap::new();
            data.insert(
                MapKey::String("p".into()),
                PValue::Bytes(b"s3cret".to_vec().into()),
            );
            m.set_field_by_name("data", PValue::Map(data));
        });
        assert_eq!(decode(&b).unwrap()["data"]["p"], "czNjcmV0");
    }

    /// The body `kubectl create token builder --bound-object-kind Pod --bound-object-name p2
    /// --bound-object-uid 0000` sends (kubectl 1.32): the bound object's `uID` field is `uid`.
    #[test]
    fn token_request_bound_object_uid() {
        if !available() {
            return;
        }
        let hex = concat!(
            "6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631",
            "120c546f6b656e52657175657374122f0a100a0012001a0022002a0032003800",
            "420012151a130a03506f64120276311a0270322204303030301a040a0012001a",
            "002200"
        );
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let v = decode(&bytes).unwrap();
        assert_eq!(v["kind"], "TokenRequest");
        assert_eq!(
            v["spec"]["boundObjectRef"],
            json!({"kind": "Pod", "apiVersion": "v1", "name": "p2", "uid": "0000"})
        );
    }

    #[test]
    fn special_types_and_groups() {
        if !available() {
            return;
        }
        assert_eq!(
            package("rbac.authorization.k8s.io/v1"),
            "k8s.io.api.rbac.v1"
        );
        assert_eq!(package("apps/v1"), "k8s.io.api.apps.v1");
        let pool = pool().unwrap();
        assert!(pool
            .get_message_by_name("k8s.io.api.rbac.v1.ClusterRole")
            .is_some());
        assert!(pool
            .get_message_by_name("k8s.io.api.authorization.v1.SelfSubjectAccessReview")
            .is_some());
        let b = body("v1", "Service", |m| {
            let mut spec = DynamicMessage::new(
                pool.get_message_by_name("k8s.io.api.core.v1.ServiceSpec")
                    .unwrap(),
            );
            let mut port = DynamicMessage::new(
                pool.get_message_by_name("k8s.io.api.core.v1.ServicePort")
                    .unwrap(),
            );
            port.set_field_by_name("port", PValue::I32(80));
            let mut ios = DynamicMessage::new(
                pool.get_message_by_name("k8s.io.apimachinery.pkg.util.intstr.IntOrString")
                    .unwrap(),
            );
            ios.set_field_by_name("type", PValue::I64(1));
            ios.set_field_by_name("strVal", PValue::String("http".into()));
            port.set_field_by_name("targetPort", PValue::Message(ios));
            spec.set_field_by_name("ports", PValue::List(vec![PValue::Message(port)]));
            m.set_field_by_name("spec", PValue::Message(spec));
        });
        let v = decode(&b).unwrap();
        assert_eq!(
            v["spec"]["ports"][0],
            json!({"port": 80, "targetPort": "http"})
        );
        assert_eq!(go_duration(3_723_000_000_000), "1h2m3s");
    }

    #[test]
    fn option_kinds_decode_from_meta_in_any_group() {
        if !available() {
            return;
        }
        let pool = pool().unwrap();
        let mut opts = DynamicMessage::new(
            pool.get_message_by_name("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions")
                .unwrap(),
        );
        opts.set_field_by_name("propagationPolicy", PValue::String("Foreground".into()));
        let mut unknown = DynamicMessage::new(
            pool.get_message_by_name("k8s.io.apimachinery.pkg.runtime.Unknown")
                .unwrap(),
        );
        let mut tm = DynamicMessage::new(
            pool.get_message_by_name("k8s.io.apimachinery.pkg.runtime.TypeMeta")
                .unwrap(),
        );
        tm.set_field_by_name("apiVersion", PValue::String("v1".into()));
        tm.set_field_by_name("kind", PValue::String("DeleteOptions".into()));
        unknown.set_field_by_name("typeMeta", PValue::Message(tm));
        unknown.set_field_by_name("raw", PValue::Bytes(opts.encode_to_vec().into()));
        let mut b = MAGIC.to_vec();
        b.extend(unknown.encode_to_vec());
        assert_eq!(decode(&b).unwrap()["propagationPolicy"], "Foreground");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"k8s",
            b"k8s\0\xff\xff\xff",
            b"{\"json\":1}",
            b"k8s\0\x0a\x02\x12\x00",
        ] {
            assert!(decode(bad).is_err());
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Byte strings produced by upstream's Go protobuf serializer (k8s.io/apimachinery v0.35.4)
    /// for the same JSON, with `conformance/oracles/clientgo encode`.
    #[test]
    fn encodes_byte_for_byte_as_upstream() {
        if !available() {
            return;
        }
        let cases = [
            (
                json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"default","labels":{"b":"2","a":"1"}},"data":{"k":"v","a":""}}),
                "6b3873000a0f0a0276311209436f6e6669674d6170123a0a290a02636d12001a0764656661756c7422002a003200380042005a060a01611201315a060a016212013212050a0161120012060a016b1201761a002200",
            ),
            (
                json!({"apiVersion":"v1","kind":"Status","status":"Failure","message":"pods \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404,"metadata":{}}),
                "6b3873000a0c0a027631120653746174757312430a060a0012001a0012074661696c7572651a12706f647320227822206e6f7420666f756e6422084e6f74466f756e642a0f0a017812001a04706f6473280032003094031a002200",
            ),
            (
                json!({"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"i"}]}}]}),
                "6b3873000a0d0a0276311207506f644c697374126d0a070a001201371a0012620a110a016112001a0022002a003200380042001238121a0a01631201692a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c201001a130a001a0022002a0032004a005a0072008801001a002200",
            ),
            (
                json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","uid":"0b5c3e6e-1111-2222-3333-444455556666","resourceVersion":"42","creationTimestamp":"2024-05-06T07:08:09Z"},"spec":{"containers":[{"name":"c","image":"busybox","ports":[{"containerPort":80,"protocol":"TCP"}],"resources":{"requests":{"cpu":"250m","memory":"64Mi"}},"readinessProbe":{"httpGet":{"path":"/","port":"http"},"initialDelaySeconds":3},"env":[{"name":"X","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}],"terminationGracePeriodSeconds":30,"volumes":[{"name":"v","emptyDir":{}}]},"status":{"phase":"Pending"}}),
                "6b3873000a090a0276311203506f641294020a410a017012001a026e7322002a2430623563336536652d313131312d323232322d333333332d343434343535353536363636320234323800420808d983e2b106100012b2010a090a0176120412020a001286010a0163120762757379626f782a00320d0a001000185022035443502a003a110a015812001a0a22080a030a017312016b4221120d0a0363707512060a043235306d12100a066d656d6f727912060a0436344d695a210a1512130a012f120a080110001a04687474701a002200100318002000280030006a007200800100880100900100a201001a00201e320042004a0052005800600068008201008a01009a0100c201001a1a0a0750656e64696e671a0022002a0032004a005a0072008801001a002200",
            ),
        ];
        for (obj, want) in cases {
            let got = encode(&obj).unwrap();
            assert_eq!(hex(&got), want, "{}", obj["kind"]);
            // And back: what upstream wrote decodes to the object (Go's empty strings and zero
            // numbers aside, which its JSON omits too).
            let back = decode(&got).unwrap();
            assert_eq!(back["metadata"]["name"], obj["metadata"]["name"]);
        }
        let pod = decode(&encode(&json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","readinessProbe":{"httpGet":{"path":"/","port":"http"}},"env":[{"name":"X","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}],"volumes":[{"name":"v","emptyDir":{}}]}})).unwrap()).unwrap();
        let c = &pod["spec"]["containers"][0];
        assert_eq!(
            c["readinessProbe"]["httpGet"]["port"], "http",
            "inline ProbeHandler: {c}"
        );
        assert_eq!(c["env"][0]["valueFrom"]["secretKeyRef"]["name"], "s");
        assert_eq!(
            pod["spec"]["volumes"][0],
            json!({"name": "v", "emptyDir": {}})
        );
    }

    /// decode(encode(x)) == x for an object of every served kind (and of its subresources'
    /// kinds) with every field of its schema set.
    #[test]
    fn every_kind_round_trips_with_every_field_set() {
        if !available() {
            return;
        }
        let mut kinds: Vec<(String, String)> = Vec::new();
        for r in crate::registry::builtin() {
            kinds.push((r.api_version(), r.kind.to_string()));
            if r.supports("list") {
                kinds.push((r.api_version(), format!("{}List", r.kind)));
            }
            for s in r.subresources {
                if !s.kind.is_empty() && !s.version.is_empty() {
                    let av = if s.group.is_empty() {
                        s.version.to_string()
                    } else {
                        format!("{}/{}", s.group, s.version)
                    };
                    kinds.push((av, s.kind.to_string()));
                }
            }
        }
        kinds.push(("v1".into(), "Status".into()));
        kinds.push(("meta.k8s.io/v1".into(), "PartialObjectMetadata".into()));
        kinds.push(("meta.k8s.io/v1".into(), "PartialObjectMetadataList".into()));
        for (av, kind) in kinds {
            assert!(
                has_message(&av, &kind),
                "no protobuf message for {av} {kind}"
            );
            let obj = sample(&av, &kind).unwrap();
            let bytes = encode(&obj).unwrap_or_else(|e| panic!("{av} {kind}: {e}"));
            let back = decode(&bytes).unwrap_or_else(|e| panic!("{av} {kind}: {e}"));
            assert_eq!(back, obj, "{av} {kind} does not round-trip");
            // Nothing in a sample is unknown to the schema.
            let mut copy = obj.clone();
            assert_eq!(
                prune_unknown(&av, &kind, &mut copy),
                Some(vec![]),
                "{av} {kind}"
            );
        }
    }

    #[test]
    fn watch_frames_are_length_prefixed_watch_events() {
        if !available() {
            return;
        }
        let obj = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","resourceVersion":"5"},"data":{"a":"b"}});
        let frame = encode_watch_frame(&json!({"type": "ADDED", "object": obj})).unwrap();
        let len = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        assert_eq!(len, frame.len() - 4);
        // WatchEvent{type=1: "ADDED", object=2: RawExtension{raw=1: <envelope>}}.
        assert_eq!(&frame[4..11], b"\x0a\x05ADDED");
        let inner = encode(&obj).unwrap();
        assert!(frame.ends_with(&inner));
        let ev = decode_watch_event(&frame[4..]).unwrap();
        assert_eq!(ev, json!({"type": "ADDED", "object": obj}));
        let status = json!({"apiVersion":"v1","kind":"Status","status":"Failure","code":410,"reason":"Expired","message":"too old resource version: 1 (5)","metadata":{}});
        let frame = encode_watch_frame(&json!({"type": "ERROR", "object": status})).unwrap();
        let ev = decode_watch_event(&frame[4..]).unwrap();
        assert_eq!(ev["object"]["code"], 410);
        assert_eq!(ev["object"]["reason"], "Expired");
    }

    #[test]
    fn encoding_errors_are_errors_not_panics() {
        if !available() {
            return;
        }
        for bad in [
            json!({"kind": "Nope", "apiVersion": "v1"}),
            json!({"apiVersion": "v1"}),
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":"x"}),
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"generation":"1"}}),
            json!({"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"ports":[{"containerPort":4294967296i64}]}]}}),
            json!({"apiVersion":"v1","kind":"Pod","metadata":{"creationTimestamp":"yesterday"}}),
            json!({"apiVersion":"v1","kind":"Secret","data":{"a":"%%%"}}),
            json!({"apiVersion":"v1","kind":"Service","spec":{"ports":[{"targetPort":true}]}}),
        ] {
            assert!(encode(&bad).is_err(), "{bad}");
        }
        // Unknown fields are left out, as upstream's typed decoding drops them.
        let b = encode(&json!({"apiVersion":"v1","kind":"ConfigMap","bogus":1,"data":{"a":"b"}}))
            .unwrap();
        assert_eq!(
            decode(&b).unwrap(),
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{},"data":{"a":"b"}})
        );
    }

    #[test]
    fn prunes_unknown_fields_with_upstream_paths() {
        if !available() {
            return;
        }
        let mut pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","bogus":1,"labels":{"any":"x"}},
            "spec":{"foo":true,"containers":[{"name":"c","image":"i","readinessProbe":{"exec":{"command":["x"]},"nope":1}},{"name":"d","extra":{}}]},
            "status":{}, "topLevel": 1});
        let unknown = prune_unknown("v1", "Pod", &mut pod).unwrap();
        assert_eq!(
            unknown,
            vec![
                "metadata.bogus",
                "spec.foo",
                "spec.containers[0].readinessProbe.nope",
                "spec.containers[1].extra",
                "topLevel"
            ]
        );
        assert_eq!(
            pod,
            json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"any":"x"}},
                "spec":{"containers":[{"name":"c","image":"i","readinessProbe":{"exec":{"command":["x"]}}},{"name":"d"}]},"status":{}})
        );
        // Raw JSON (RawExtension) and maps are open; renamed fields use their JSON name.
        let mut cr = json!({"apiVersion":"apps/v1","kind":"ControllerRevision","data":{"whatever":{"x":1}},"revision":1});
        assert_eq!(
            prune_unknown("apps/v1", "ControllerRevision", &mut cr),
            Some(vec![])
        );
        let mut ic = json!({"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","spec":{"parameters":{"apiGroup":"g","kind":"k","name":"n","aPIGroup":"x"}}});
        assert_eq!(
            prune_unknown("networking.k8s.io/v1", "IngressClass", &mut ic),
            Some(vec!["spec.parameters.aPIGroup".to_string()])
        );
        // Nested apiVersion/kind are fields only of kinds (list items), not of other structs.
        let mut list = json!({"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod","spec":{"template":1}}]});
        assert_eq!(
            prune_unknown("v1", "PodList", &mut list),
            Some(vec!["items[0].spec.template".to_string()])
        );
        assert_eq!(prune_unknown("v1", "NoSuchKind", &mut json!({})), None);
    }

    #[test]
    fn go_durations() {
        for (ns, s) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (300_000_000, "300ms"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (-3_723_000_000_000, "-1h2m3s"),
        ] {
            assert_eq!(go_duration(ns), s);
            assert_eq!(parse_go_duration(s), Some(ns), "{s}");
        }
        assert_eq!(parse_go_duration("1h30m"), Some(5_400_000_000_000));
        for bad in ["", "1", "h", "1x", "--1s", "1.s.s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }
}
