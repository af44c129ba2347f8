//! Kubernetes protobuf (`application/vnd.kubernetes.protobuf`): decoding request bodies into the
//! JSON objects the rest of k3rs works on, encoding JSON objects into protobuf responses and watch
//! frames, and the schema (which fields a kind has) for field validation.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` envelope holding the object's
//! apiVersion, kind and its own protobuf encoding. The message schemas come from upstream's
//! `generated.proto` files plus the JSON facts the `.proto` files do not carry (JSON names that
//! differ from protobuf names, inlined structs, pointer fields), read from the Go struct tags; both
//! are compiled at build time into static tables ([`crate::protoschema`], see `build.rs`). A few
//! apimachinery types have a JSON form of their own (Time, IntOrString, Quantity, raw JSON).
//!
//! Encoding follows Go's generated marshallers so that the bytes match upstream's: fields in
//! number order, every non-pointer field written even when empty, map entries sorted by key.
//! Decoding reads the wire format against the same tables (proto2 rules: unknown fields skipped,
//! last scalar wins, repeated messages merge, packed or unpacked lists), so no reflective
//! descriptor pool (17 MB of heap once built, measured) is ever held by the server.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::protoschema::{Field, Kind, Msg};

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

fn special(m: Msg) -> Option<Special> {
    special_of(m.full_name())
}

/// The descriptor set the schema tables were generated from, for tests that build bodies the
/// way client-go does. Not in the server: decoded, it held 17 MB of heap.
#[cfg(test)]
pub(crate) fn pool() -> Option<&'static prost_reflect::DescriptorPool> {
    static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/k8s-protos.fds"));
    static POOL: std::sync::OnceLock<Option<prost_reflect::DescriptorPool>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| prost_reflect::DescriptorPool::decode(DESCRIPTORS).ok())
        .as_ref()
}

/// Whether this build can decode and encode protobuf at all.
pub fn available() -> bool {
    crate::protoschema::available()
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
fn message_for(api_version: &str, kind: &str) -> Option<Msg> {
    Msg::by_name(&format!("{}.{kind}", package(api_version)))
        .or_else(|| Msg::by_name(&format!("{META}.{kind}")))
}

/// Whether objects of this apiVersion and kind can be encoded as protobuf.
pub fn has_message(api_version: &str, kind: &str) -> bool {
    !kind.is_empty() && message_for(api_version, kind).is_some()
}

fn schema_message(name: &str) -> Result<Msg, String> {
    if !available() {
        return Err("this build of k3rs has no protobuf schemas".into());
    }
    Msg::by_name(name).ok_or_else(|| format!("{name} missing from the schemas"))
}

fn envelope_parts(body: &[u8]) -> Result<(String, String, Vec<u8>), String> {
    let unknown_desc = schema_message("k8s.io.apimachinery.pkg.runtime.Unknown")?;
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("not a Kubernetes protobuf body (missing the k8s\\0 prefix)")?;
    let unknown = Decoded::decode(unknown_desc, rest).map_err(|e| format!("bad envelope: {e}"))?;
    let type_meta = unknown
        .get("typeMeta")
        .and_then(Val::as_message)
        .ok_or("envelope has no typeMeta")?;
    let api_version = type_meta.str_or_default("apiVersion");
    let kind = type_meta.str_or_default("kind");
    if kind.is_empty() {
        return Err("envelope has no kind".into());
    }
    let encoding = unknown.str_or_default("contentEncoding");
    if !encoding.is_empty() {
        return Err(format!("unsupported content encoding {encoding:?}"));
    }
    let raw = unknown
        .get("raw")
        .and_then(Val::as_bytes)
        .unwrap_or_default();
    Ok((api_version, kind, raw.to_vec()))
}

/// Decodes a protobuf body into a JSON object with `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let (api_version, kind, raw) = envelope_parts(body)?;
    let desc = message_for(&api_version, &kind)
        .ok_or_else(|| format!("no protobuf schema for {api_version} {kind}"))?;
    let msg = Decoded::decode(desc, &raw).map_err(|e| format!("decoding {kind}: {e}"))?;
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
    let desc = schema_message(&format!("{META}.WatchEvent"))?;
    let ev = Decoded::decode(desc, frame).map_err(|e| format!("bad watch event: {e}"))?;
    let ty = ev.str_or_default("type");
    let raw = ev
        .get("object")
        .and_then(Val::as_message)
        .and_then(|m| m.get("raw"))
        .and_then(Val::as_bytes)
        .unwrap_or_default();
    Ok(json!({"type": ty, "object": decode(raw)?}))
}

// ---------------------------------------------------------------------------------------------
// The wire format: bytes -> decoded messages, as a reflective protobuf decoder reads proto2.

/// Nesting deeper than this is refused (as prost's recursion limit).
const RECURSION_LIMIT: u32 = 100;

/// One decoded value.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Bool(bool),
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    String(String),
    Bytes(Vec<u8>),
    EnumNumber(i32),
    Message(Decoded),
    List(Vec<Val>),
    /// Keys in their text form (protobuf map keys are strings, integers or booleans).
    Map(BTreeMap<String, Val>),
}

impl Val {
    fn as_message(&self) -> Option<&Decoded> {
        match self {
            Val::Message(m) => Some(m),
            _ => None,
        }
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Val::Bytes(b) => Some(b),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Val::String(s) => Some(s),
            _ => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Val::I64(n) => Some(*n),
            _ => None,
        }
    }

    fn as_i32(&self) -> Option<i32> {
        match self {
            Val::I32(n) => Some(*n),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value of a field absent from the wire.
    fn default_of(kind: Kind) -> Val {
        match kind {
            Kind::Double => Val::F64(0.0),
            Kind::Float => Val::F32(0.0),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Val::I64(0),
            Kind::Uint64 | Kind::Fixed64 => Val::U64(0),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Val::I32(0),
            Kind::Uint32 | Kind::Fixed32 => Val::U32(0),
            Kind::Bool => Val::Bool(false),
            Kind::String => Val::String(String::new()),
            Kind::Bytes => Val::Bytes(Vec::new()),
            Kind::Enum => Val::EnumNumber(0),
            Kind::Message(m) => Val::Message(Decoded::new(m)),
        }
    }
}

/// A decoded message: the fields present on the wire (a list or map only when non-empty).
#[derive(Clone, Debug, PartialEq)]
struct Decoded {
    msg: Msg,
    fields: Vec<(Field, Val)>,
}

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

fn wire_name(w: u8) -> &'static str {
    match w {
        VARINT => "Varint",
        FIXED64 => "SixtyFourBit",
        LEN => "LengthDelimited",
        START_GROUP => "StartGroup",
        END_GROUP => "EndGroup",
        _ => "ThirtyTwoBit",
    }
}

/// The wire type values of a kind are written with (packed lists aside).
fn wire_of(kind: Kind) -> u8 {
    match kind {
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => FIXED64,
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => FIXED32,
        Kind::String | Kind::Bytes | Kind::Message(_) => LEN,
        _ => VARINT,
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some((&b, rest)) = self.buf.split_first() else {
                return Err("invalid varint".into());
            };
            self.buf = rest;
            if i == 9 && b > 1 {
                return Err("invalid varint".into());
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("invalid varint".into())
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n).map_err(|_| "buffer underflow")?;
        if n > self.buf.len() {
            return Err("buffer underflow".into());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn len_delimited(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()?;
        self.take(n)
    }

    fn key(&mut self) -> Result<(u32, u8), String> {
        let key = self.varint()?;
        let key = u32::try_from(key).map_err(|_| format!("invalid key value: {key}"))?;
        let wire = (key & 7) as u8;
        if wire > FIXED32 {
            return Err(format!("invalid wire type value: {wire}"));
        }
        let tag = key >> 3;
        if tag == 0 {
            return Err("invalid tag value: 0".into());
        }
        Ok((tag, wire))
    }

    /// Skips the value of a field the schema does not have.
    fn skip(&mut self, wire: u8, tag: u32, depth: u32) -> Result<(), String> {
        if depth == 0 {
            return Err("recursion limit reached".into());
        }
        match wire {
            VARINT => {
                self.varint()?;
            }
            FIXED64 => {
                self.take(8)?;
            }
            FIXED32 => {
                self.take(4)?;
            }
            LEN => {
                self.len_delimited()?;
            }
            START_GROUP => loop {
                let (inner, w) = self.key()?;
                if w == END_GROUP {
                    if inner != tag {
                        return Err("unexpected end group tag".into());
                    }
                    break;
                }
                self.skip(w, inner, depth - 1)?;
            },
            _ => return Err("unexpected end group tag".into()),
        }
        Ok(())
    }

    /// One scalar of `kind`, written with wire type `wire`.
    fn scalar(&mut self, kind: Kind, wire: u8) -> Result<Val, String> {
        let want = wire_of(kind);
        if wire != want {
            return Err(format!(
                "invalid wire type: {} (expected {})",
                wire_name(wire),
                wire_name(want)
            ));
        }
        let fixed32 = |r: &mut Self| -> Result<[u8; 4], String> {
            let b = r.take(4)?;
            Ok([b[0], b[1], b[2], b[3]])
        };
        let fixed64 = |r: &mut Self| -> Result<[u8; 8], String> {
            let b = r.take(8)?;
            let mut a = [0; 8];
            a.copy_from_slice(b);
            Ok(a)
        };
        Ok(match kind {
            Kind::Int32 => Val::I32(self.varint()? as i32),
            Kind::Int64 => Val::I64(self.varint()? as i64),
            Kind::Uint32 => Val::U32(self.varint()? as u32),
            Kind::Uint64 => Val::U64(self.varint()?),
            Kind::Sint32 => {
                let n = self.varint()? as u32;
                Val::I32(((n >> 1) as i32) ^ -((n & 1) as i32))
            }
            Kind::Sint64 => {
                let n = self.varint()?;
                Val::I64(((n >> 1) as i64) ^ -((n & 1) as i64))
            }
            Kind::Bool => Val::Bool(self.varint()? != 0),
            Kind::Enum => Val::EnumNumber(self.varint()? as i32),
            Kind::Fixed32 => Val::U32(u32::from_le_bytes(fixed32(self)?)),
            Kind::Sfixed32 => Val::I32(i32::from_le_bytes(fixed32(self)?)),
            Kind::Float => Val::F32(f32::from_le_bytes(fixed32(self)?)),
            Kind::Fixed64 => Val::U64(u64::from_le_bytes(fixed64(self)?)),
            Kind::Sfixed64 => Val::I64(i64::from_le_bytes(fixed64(self)?)),
            Kind::Double => Val::F64(f64::from_le_bytes(fixed64(self)?)),
            Kind::String => Val::String(
                String::from_utf8(self.len_delimited()?.to_vec())
                    .map_err(|_| "invalid string value: data is not UTF-8 encoded")?,
            ),
            Kind::Bytes => Val::Bytes(self.len_delimited()?.to_vec()),
            Kind::Message(_) => return Err("internal error: message read as a scalar".into()),
        })
    }
}

/// Kinds whose repeated values may be packed into one length-delimited run.
fn packable(kind: Kind) -> bool {
    !matches!(kind, Kind::String | Kind::Bytes | Kind::Message(_))
}

impl Decoded {
    fn new(msg: Msg) -> Decoded {
        Decoded {
            msg,
            fields: Vec::new(),
        }
    }

    fn decode(msg: Msg, bytes: &[u8]) -> Result<Decoded, String> {
        let mut d = Decoded::new(msg);
        d.merge(bytes, RECURSION_LIMIT)?;
        Ok(d)
    }

    /// The value of a field present on the wire (a list or map: non-empty).
    fn value(&self, f: Field) -> Option<&Val> {
        self.fields
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, v)| v)
            .filter(|v| match v {
                Val::List(items) => !items.is_empty(),
                Val::Map(m) => !m.is_empty(),
                _ => true,
            })
    }

    fn get(&self, name: &str) -> Option<&Val> {
        self.value(self.msg.field_by_name(name)?)
    }

    fn str_or_default(&self, name: &str) -> String {
        self.get(name)
            .and_then(Val::as_str)
            .map(str::to_string)
            .unwrap_or_default()
    }

    fn slot(&mut self, f: Field, init: impl FnOnce() -> Val) -> &mut Val {
        let i = match self.fields.iter().position(|(g, _)| *g == f) {
            Some(i) => i,
            None => {
                self.fields.push((f, init()));
                self.fields.len() - 1
            }
        };
        &mut self.fields[i].1
    }

    /// Merges the encoded fields in `bytes` into this message, as protobuf does: scalars
    /// replace, lists append, map entries replace by key, messages merge.
    fn merge(&mut self, bytes: &[u8], depth: u32) -> Result<(), String> {
        if depth == 0 {
            return Err("recursion limit reached".into());
        }
        let mut r = Reader { buf: bytes };
        while !r.buf.is_empty() {
            let (tag, wire) = r.key()?;
            let Some(f) = self.msg.field_by_number(tag) else {
                r.skip(wire, tag, depth)?;
                continue;
            };
            let kind = f.kind();
            if f.is_map() {
                if wire != LEN {
                    return Err(format!(
                        "invalid wire type: {} (expected LengthDelimited)",
                        wire_name(wire)
                    ));
                }
                let mut entry = Reader {
                    buf: r.len_delimited()?,
                };
                let mut key = Val::default_of(f.map_key_kind());
                let mut value = Val::default_of(kind);
                while !entry.buf.is_empty() {
                    let (n, w) = entry.key()?;
                    match n {
                        1 => key = entry.scalar(f.map_key_kind(), w)?,
                        2 => merge_value(&mut value, kind, w, &mut entry, depth)?,
                        _ => entry.skip(w, n, depth)?,
                    }
                }
                let key = match key {
                    Val::String(s) => s,
                    Val::Bool(b) => b.to_string(),
                    Val::I32(n) | Val::EnumNumber(n) => n.to_string(),
                    Val::I64(n) => n.to_string(),
                    Val::U32(n) => n.to_string(),
                    Val::U64(n) => n.to_string(),
                    _ => return Err("invalid map key".into()),
                };
                if let Val::Map(m) = self.slot(f, || Val::Map(BTreeMap::new())) {
                    m.insert(key, value);
                }
            } else if f.is_list() {
                let mut items = Vec::new();
                if wire == LEN && packable(kind) {
                    let mut packed = Reader {
                        buf: r.len_delimited()?,
                    };
                    while !packed.buf.is_empty() {
                        items.push(packed.scalar(kind, wire_of(kind))?);
                    }
                } else {
                    let mut v = Val::default_of(kind);
                    merge_value(&mut v, kind, wire, &mut r, depth)?;
                    items.push(v);
                }
                if let Val::List(list) = self.slot(f, || Val::List(Vec::new())) {
                    list.extend(items);
                }
            } else {
                let v = self.slot(f, || Val::default_of(kind));
                merge_value(v, kind, wire, &mut r, depth)?;
            }
        }
        Ok(())
    }
}

/// Reads one value of `kind` into `v`: a message merges into what `v` holds, a scalar replaces it.
fn merge_value(
    v: &mut Val,
    kind: Kind,
    wire: u8,
    r: &mut Reader<'_>,
    depth: u32,
) -> Result<(), String> {
    match kind {
        Kind::Message(m) => {
            if wire != LEN {
                return Err(format!(
                    "invalid wire type: {} (expected LengthDelimited)",
                    wire_name(wire)
                ));
            }
            let bytes = r.len_delimited()?;
            if !matches!(v, Val::Message(d) if d.msg == m) {
                *v = Val::Message(Decoded::new(m));
            }
            if let Val::Message(d) = v {
                d.merge(bytes, depth - 1)?;
            }
        }
        _ => *v = r.scalar(kind, wire)?,
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Decoding: protobuf message -> JSON.

fn time_json(m: &Decoded, micro: bool) -> Value {
    let secs = m.get("seconds").and_then(Val::as_i64);
    let nanos = m.get("nanos").and_then(Val::as_i32).unwrap_or(0);
    // Go writes nothing for the zero time; an empty message decodes to it (JSON null).
    let has_secs = m.get("seconds").is_some();
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

fn raw_json(m: &Decoded, field: &str) -> Value {
    let raw = m.get(field).and_then(Val::as_bytes).unwrap_or_default();
    if raw.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(raw).unwrap_or(Value::Null)
}

fn message_to_json(m: &Decoded) -> Value {
    match special(m.msg) {
        Some(Special::Time) => return time_json(m, false),
        Some(Special::MicroTime) => return time_json(m, true),
        Some(Special::Duration) => {
            return json!(go_duration(
                m.get("duration").and_then(Val::as_i64).unwrap_or(0)
            ))
        }
        Some(Special::IntOrString) => {
            let is_str = m.get("type").and_then(Val::as_i64).unwrap_or(0) == 1;
            return if is_str {
                json!(m.str_or_default("strVal"))
            } else {
                json!(m.get("intVal").and_then(Val::as_i32).unwrap_or(0))
            };
        }
        Some(Special::Quantity) => return json!(m.str_or_default("string")),
        Some(Special::Raw(field)) => return raw_json(m, field),
        Some(Special::StringList) => {
            return m.get("items").map(value_to_json).unwrap_or(json!([]));
        }
        Some(
            sp @ (Special::SchemaOrBool | Special::SchemaOrArray | Special::SchemaOrStringArray),
        ) => {
            // As upstream's MarshalJSON: the list when there is one, else the schema, else the
            // boolean (or null).
            let schema = m.get("schema").map(value_to_json);
            let list_field = match sp {
                Special::SchemaOrArray => "jSONSchemas",
                _ => "property",
            };
            if sp != Special::SchemaOrBool {
                if let Some(Value::Array(a)) = m
                    .get(list_field)
                    .map(value_to_json)
                    .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                {
                    return Value::Array(a);
                }
            }
            return match (sp, schema) {
                (_, Some(s)) => s,
                (Special::SchemaOrBool, None) => {
                    json!(m.get("allows").and_then(Val::as_bool).unwrap_or(false))
                }
                _ => Value::Null,
            };
        }
        None => {}
    }
    let mut out = Map::new();
    fields_to_json(m, &mut out);
    Value::Object(out)
}

fn fields_to_json(m: &Decoded, out: &mut Map<String, Value>) {
    for f in m.msg.fields() {
        let Some(v) = m.value(f) else {
            continue;
        };
        let Some(key) = f.json() else {
            // Inline: the embedded struct's fields are this object's.
            if let Val::Message(inner) = v {
                fields_to_json(inner, out);
            }
            continue;
        };
        let v = value_to_json(v);
        // Go's protobuf encoding writes every non-pointer field, zero or not; upstream's JSON
        // omits the zero ones marked omitempty, and so do we.
        let zero = match &v {
            Value::String(s) => s.is_empty(),
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            _ => false,
        };
        let omit = zero && !f.ptr() && !f.keep() && !f.is_list() && !f.is_map();
        if !v.is_null() && !omit {
            out.insert(key.to_string(), v);
        }
    }
}

fn value_to_json(v: &Val) -> Value {
    match v {
        Val::Bool(b) => json!(b),
        Val::I32(n) => json!(n),
        Val::I64(n) => json!(n),
        Val::U32(n) => json!(n),
        Val::U64(n) => json!(n),
        Val::F32(n) => json!(n),
        Val::F64(n) => json!(n),
        Val::String(s) => json!(s),
        Val::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        Val::EnumNumber(n) => json!(n),
        Val::Message(m) => message_to_json(m),
        Val::List(items) => Value::Array(items.iter().map(value_to_json).collect()),
        Val::Map(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
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
        Kind::Enum => {
            let n = int(v)?;
            put_tag(out, number, 0);
            put_varint(out, n as u64);
        }
        Kind::Message(_) => return Err(format!("{path}: internal error: message as scalar")),
    }
    Ok(())
}

/// The zero value Go writes for an absent non-pointer field.
fn put_zero(out: &mut Vec<u8>, f: Field) {
    let number = f.number();
    match f.kind() {
        Kind::Message(d) => {
            let mut inner = Vec::new();
            zero_message(d, &mut inner);
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
fn zero_message(d: Msg, out: &mut Vec<u8>) {
    match special(d) {
        // A zero Time writes nothing; a zero Quantity is "0".
        Some(Special::Time | Special::MicroTime | Special::Raw(_) | Special::StringList) => {}
        Some(Special::Quantity) => put_len(out, 1, b"0"),
        _ => {
            for f in d.fields() {
                if always_written(f) {
                    put_zero(out, f);
                }
            }
        }
    }
}

/// Go writes this field even when it holds its zero value.
fn always_written(f: Field) -> bool {
    if f.ptr() || f.is_list() || f.is_map() {
        return false;
    }
    match f.kind() {
        Kind::Bytes => false,
        Kind::Message(d) => !matches!(special(d), Some(Special::StringList)),
        _ => true,
    }
}

fn parse_time(s: &str, path: &str) -> Result<(i64, i32), String> {
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("{path}: invalid time {s:?}: {e}"))?;
    Ok((t.timestamp(), t.timestamp_subsec_nanos() as i32))
}

/// Encodes the fields of message `desc` from JSON `v` into `out` (without a tag).
fn encode_message(desc: Msg, v: &Value, path: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let sp = special(desc);
    match sp {
        Some(Special::Time) | Some(Special::MicroTime) => {
            let s = v.as_str().ok_or_else(|| mismatch(path, v, "a time"))?;
            let (secs, nanos) = parse_time(s, path)?;
            put_tag(out, 1, 0);
            put_varint(out, secs as u64);
            let nanos = if sp == Some(Special::MicroTime) {
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
                .field_by_name("schema")
                .and_then(|f| f.kind().as_message())
                .ok_or_else(|| format!("{path}: no schema field in {}", desc.full_name()))?;
            let put_schema = |number: u32, v: &Value, out: &mut Vec<u8>| {
                let mut buf = Vec::new();
                encode_message(schema_desc, v, path, &mut buf)?;
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
    encode_fields(desc, obj, path, out)
}

fn encode_fields(
    desc: Msg,
    obj: &Map<String, Value>,
    path: &str,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    for f in desc.fields() {
        let number = f.number();
        let Some(key) = f.json() else {
            // Inline: the embedded struct reads its fields from this same object.
            let Kind::Message(d) = f.kind() else {
                continue;
            };
            let mut inner = Vec::new();
            encode_fields(d, obj, path, &mut inner)?;
            put_len(out, number, &inner);
            continue;
        };
        let v = match obj.get(key) {
            Some(v) if !v.is_null() => v,
            _ => {
                if always_written(f) {
                    put_zero(out, f);
                }
                continue;
            }
        };
        let fpath = join(path, key);
        if f.is_map() {
            let m = v.as_object().ok_or_else(|| mismatch(&fpath, v, "a map"))?;
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                let Some(val) = m.get(k.as_str()) else {
                    continue;
                };
                let vpath = join(&fpath, k);
                let mut e = Vec::new();
                put_len(&mut e, 1, k.as_bytes());
                match f.kind() {
                    Kind::Message(d) => {
                        let mut inner = Vec::new();
                        if !val.is_null() {
                            encode_message(d, val, &vpath, &mut inner)?;
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
        } else if f.is_list() {
            let items = v.as_array().ok_or_else(|| mismatch(&fpath, v, "a list"))?;
            for (i, item) in items.iter().enumerate() {
                let ipath = format!("{fpath}[{i}]");
                match f.kind() {
                    Kind::Message(d) => {
                        let mut inner = Vec::new();
                        if item.is_null() {
                            zero_message(d, &mut inner);
                        } else {
                            encode_message(d, item, &ipath, &mut inner)?;
                        }
                        put_len(out, number, &inner);
                    }
                    kind => put_scalar(out, number, &kind, item, &ipath)?,
                }
            }
        } else {
            match f.kind() {
                Kind::Message(d) => {
                    let mut inner = Vec::new();
                    encode_message(d, v, &fpath, &mut inner)?;
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
    encode_message(desc, obj, "", &mut raw)?;
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
    let mut unknown = Vec::new();
    if let Value::Object(m) = obj {
        prune_fields(desc, m, "", true, &mut unknown);
    }
    Some(unknown)
}

/// Removes from `meta` (the JSON of an ObjectMeta at `path`, e.g. `spec.template.metadata`)
/// every field ObjectMeta does not have, returning their paths (`spec.template.metadata.foo`) in
/// document order. `None` when this build has no schemas.
pub fn prune_object_meta(meta: &mut Value, path: &str) -> Option<Vec<String>> {
    let desc = Msg::by_name(&format!("{META}.ObjectMeta"))?;
    let mut unknown = Vec::new();
    if let Value::Object(m) = meta {
        prune_fields(desc, m, path, false, &mut unknown);
    }
    Some(unknown)
}

/// The field of `desc` (or of a struct inlined into it) whose JSON key is `key`.
fn find_field(desc: Msg, key: &str) -> Option<Field> {
    for f in desc.fields() {
        match f.json() {
            Some(k) if k == key => return Some(f),
            None => {
                if let Some(found) = f.kind().as_message().and_then(|m| find_field(m, key)) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

fn prune_fields(
    desc: Msg,
    obj: &mut Map<String, Value>,
    path: &str,
    top: bool,
    unknown: &mut Vec<String>,
) {
    let mut drop = Vec::new();
    for (key, v) in obj.iter_mut() {
        if (top || desc.typemeta()) && (key == "apiVersion" || key == "kind") {
            continue;
        }
        let Some(f) = find_field(desc, key) else {
            unknown.push(join(path, key));
            drop.push(key.clone());
            continue;
        };
        // Scalars, and maps and lists of them, have nothing below to check.
        let Kind::Message(d) = f.kind() else {
            continue;
        };
        let fpath = join(path, key);
        if f.is_map() {
            if let Value::Object(m) = v {
                for (k, item) in m.iter_mut() {
                    prune_value(d, item, &join(&fpath, k), unknown);
                }
            }
        } else if f.is_list() {
            if let Value::Array(items) = v {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_value(d, item, &format!("{fpath}[{i}]"), unknown);
                }
            }
        } else {
            prune_value(d, v, &fpath, unknown);
        }
    }
    for k in drop {
        obj.shift_remove(&k);
    }
}

fn prune_value(d: Msg, v: &mut Value, path: &str, unknown: &mut Vec<String>) {
    if special(d).is_some() {
        return;
    }
    if let Value::Object(m) = v {
        prune_fields(d, m, path, false, unknown);
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
    let mut v = sample_message(desc, &mut stack, 0);
    if let Value::Object(m) = &mut v {
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!(kind));
    }
    Some(v)
}

fn sample_message(d: Msg, stack: &mut Vec<Msg>, n: usize) -> Value {
    match special(d) {
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
    stack.push(d);
    let mut out = Map::new();
    sample_fields(d, stack, &mut out);
    stack.pop();
    Value::Object(out)
}

fn sample_fields(d: Msg, stack: &mut Vec<Msg>, out: &mut Map<String, Value>) {
    for (i, f) in d.fields().enumerate() {
        let Some(key) = f.json() else {
            if let Some(inner) = f.kind().as_message() {
                sample_fields(inner, stack, out);
            }
            continue;
        };
        let one = |kind: Kind, stack: &mut Vec<Msg>| -> Option<Value> {
            Some(match kind {
                Kind::Message(d) => {
                    if stack.contains(&d) {
                        return None;
                    }
                    sample_message(d, stack, i)
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
        let v = if f.is_map() {
            let Some(v) = one(f.kind(), stack) else {
                continue;
            };
            json!({"k2": v.clone(), "k1": v})
        } else if f.is_list() {
            match one(f.kind(), stack) {
                Some(v) => json!([v]),
                None => continue,
            }
        } else {
            match one(f.kind(), stack) {
                Some(v) => v,
                None => continue,
            }
        };
        out.insert(key.to_string(), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use prost_reflect::{DynamicMessage, MapKey, Value as PValue};

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

    fn number(msg: &str, field: &str) -> u32 {
        Msg::by_name(msg)
            .unwrap()
            .field_by_name(field)
            .unwrap()
            .number()
    }

    fn envelope_of(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        envelope(api_version, kind, raw)
    }

    /// The wire format as protobuf defines it for proto2: unknown fields (every wire type,
    /// groups included) are skipped, a repeated singular scalar keeps its last value, a repeated
    /// singular message merges, map entries replace by key, repeated scalars may be packed or
    /// not, and entries of a map may lack their key or value.
    #[test]
    fn wire_format_rules() {
        if !available() {
            return;
        }
        let om = "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta";
        let mut meta = Vec::new();
        put_len(&mut meta, number(om, "name"), b"first");
        // Unknown fields of every wire type, a group with a nested group among them.
        put_tag(&mut meta, 900, 0);
        put_varint(&mut meta, 300);
        put_tag(&mut meta, 901, 1);
        meta.extend_from_slice(&[1; 8]);
        put_tag(&mut meta, 902, 5);
        meta.extend_from_slice(&[1; 4]);
        put_len(&mut meta, 903, b"whatever");
        put_tag(&mut meta, 904, 3);
        put_tag(&mut meta, 905, 3);
        put_tag(&mut meta, 1, 0);
        put_varint(&mut meta, 1);
        put_tag(&mut meta, 905, 4);
        put_tag(&mut meta, 904, 4);
        put_len(&mut meta, number(om, "name"), b"cm");
        put_tag(&mut meta, number(om, "generation"), 0);
        put_varint(&mut meta, 0);
        let label = |k: Option<&str>, v: Option<&str>| {
            let mut e = Vec::new();
            if let Some(k) = k {
                put_len(&mut e, 1, k.as_bytes());
            }
            if let Some(v) = v {
                put_len(&mut e, 2, v.as_bytes());
            }
            e
        };
        put_len(
            &mut meta,
            number(om, "labels"),
            &label(Some("a"), Some("1")),
        );
        put_len(
            &mut meta,
            number(om, "labels"),
            &label(Some("a"), Some("2")),
        );
        put_len(&mut meta, number(om, "labels"), &label(Some("b"), None));
        put_len(&mut meta, number(om, "labels"), &label(None, Some("z")));
        // Two occurrences of metadata merge into one ObjectMeta.
        let mut more = Vec::new();
        put_len(&mut more, number(om, "namespace"), b"ns");
        let cm = "k8s.io.api.core.v1.ConfigMap";
        let mut raw = Vec::new();
        put_len(&mut raw, number(cm, "metadata"), &meta);
        put_len(&mut raw, number(cm, "metadata"), &more);
        let v = decode(&envelope_of("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(
            v["metadata"],
            json!({"name": "cm", "namespace": "ns", "labels": {"": "z", "a": "2", "b": ""}})
        );

        // supplementalGroups (repeated int64): unpacked and packed runs append.
        let psc = "k8s.io.api.core.v1.PodSecurityContext";
        let groups = number(psc, "supplementalGroups");
        let mut sc = Vec::new();
        put_tag(&mut sc, groups, 0);
        put_varint(&mut sc, 1);
        let mut packed = Vec::new();
        put_varint(&mut packed, 2);
        put_varint(&mut packed, 3);
        put_len(&mut sc, groups, &packed);
        put_len(&mut sc, groups, b"");
        let mut spec = Vec::new();
        put_len(
            &mut spec,
            number("k8s.io.api.core.v1.PodSpec", "securityContext"),
            &sc,
        );
        let mut raw = Vec::new();
        put_len(&mut raw, number("k8s.io.api.core.v1.Pod", "spec"), &spec);
        let v = decode(&envelope_of("v1", "Pod", &raw)).unwrap();
        assert_eq!(
            v["spec"]["securityContext"]["supplementalGroups"],
            json!([1, 2, 3])
        );

        // A field written with the wrong wire type is an error, as is a truncated value.
        let mut bad = Vec::new();
        put_tag(&mut bad, number(cm, "metadata"), 0);
        put_varint(&mut bad, 1);
        assert!(decode(&envelope_of("v1", "ConfigMap", &bad)).is_err());
        let mut bad = Vec::new();
        put_tag(&mut bad, number(cm, "metadata"), 2);
        put_varint(&mut bad, 50);
        bad.extend_from_slice(b"short");
        assert!(decode(&envelope_of("v1", "ConfigMap", &bad)).is_err());
        let mut bad = Vec::new();
        put_len(&mut bad, number(cm, "data"), &[0x0a, 0x02, 0xff, 0xfe]);
        assert!(decode(&envelope_of("v1", "ConfigMap", &bad)).is_err());
    }

    /// Nesting beyond the recursion limit is an error, not a stack overflow.
    #[test]
    fn deep_nesting_is_an_error() {
        if !available() {
            return;
        }
        let props = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
        let not = number(props, "not");
        let mut inner = Vec::new();
        for _ in 0..10_000 {
            let mut outer = Vec::new();
            put_len(&mut outer, not, &inner);
            inner = outer;
        }
        let crv =
            "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceValidation";
        let mut v = Vec::new();
        put_len(&mut v, number(crv, "openAPIV3Schema"), &inner);
        let mut ver = Vec::new();
        put_len(
            &mut ver,
            number(
                "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion",
                "schema",
            ),
            &v,
        );
        let mut spec = Vec::new();
        put_len(
            &mut spec,
            number(
                "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec",
                "versions",
            ),
            &ver,
        );
        let mut raw = Vec::new();
        put_len(
            &mut raw,
            number(
                "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
                "spec",
            ),
            &spec,
        );
        let body = envelope_of("apiextensions.k8s.io/v1", "CustomResourceDefinition", &raw);
        let err = decode(&body).unwrap_err();
        assert!(err.contains("recursion limit"), "{err}");
    }

    /// Bodies built with a reflective protobuf library (as client-go's generated code writes
    /// them) decode to the JSON of the same object, for a sample of every served kind.
    #[test]
    fn decodes_what_a_reflective_encoder_writes() {
        if !available() {
            return;
        }
        let pool = pool().unwrap();
        for r in crate::registry::builtin() {
            let (av, kind) = (r.api_version(), r.kind.to_string());
            let obj = sample(&av, &kind).unwrap();
            let ours = encode(&obj).unwrap();
            // Re-encode the payload with prost-reflect: same fields, its own field order and
            // packing rules.
            let (_, _, raw) = envelope_parts(&ours).unwrap();
            let desc = pool
                .get_message_by_name(message_for(&av, &kind).unwrap().full_name())
                .unwrap();
            let theirs = DynamicMessage::decode(desc, raw.as_slice())
                .unwrap()
                .encode_to_vec();
            assert_eq!(
                decode(&envelope_of(&av, &kind, &theirs)).unwrap(),
                decode(&ours).unwrap(),
                "{av} {kind}"
            );
        }
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
