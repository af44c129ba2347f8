//! Decoding of Kubernetes protobuf bodies (`application/vnd.kubernetes.protobuf`) into the JSON
//! objects the rest of k3rs works on.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` envelope holding the object's
//! apiVersion, kind and its own protobuf encoding. The message schemas come from upstream's
//! `generated.proto` files, compiled into a descriptor set at build time (see `build.rs`); a few
//! apimachinery types have a JSON form of their own (Time, IntOrString, Quantity, raw JSON).

use std::sync::OnceLock;

use base64::Engine;
use prost_reflect::{
    DescriptorPool, DynamicMessage, MapKey, MessageDescriptor, ReflectMessage, Value as PValue,
};
use serde_json::{json, Map, Value};

static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/k8s-protos.fds"));

/// The magic prefix of every Kubernetes protobuf body.
pub const MAGIC: &[u8] = b"k8s\0";

fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        if DESCRIPTORS.is_empty() {
            return None;
        }
        DescriptorPool::decode(DESCRIPTORS).ok()
    })
    .as_ref()
}

/// Whether this build can decode protobuf at all.
pub fn available() -> bool {
    pool().is_some()
}

/// The protobuf package of a group/version.
fn package(api_version: &str) -> String {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    match group {
        "" => format!("k8s.io.api.core.{version}"),
        "meta.k8s.io" => format!("k8s.io.apimachinery.pkg.apis.meta.{version}"),
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

/// Decodes a protobuf body into a JSON object with `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, String> {
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
    // Option kinds (DeleteOptions, ...) are registered in every group but live in meta/v1.
    let name = format!("{}.{kind}", package(&api_version));
    let desc = pool
        .get_message_by_name(&name)
        .or_else(|| {
            pool.get_message_by_name(&format!("k8s.io.apimachinery.pkg.apis.meta.v1.{kind}"))
        })
        .ok_or_else(|| format!("no protobuf schema for {api_version} {kind}"))?;
    let msg =
        DynamicMessage::decode(desc, raw.as_ref()).map_err(|e| format!("decoding {kind}: {e}"))?;
    let mut obj = message_to_json(&msg);
    if let Value::Object(m) = &mut obj {
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!(kind));
    }
    Ok(obj)
}

fn time_json(m: &DynamicMessage, micro: bool) -> Value {
    let secs = m
        .get_field_by_name("seconds")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let nanos = m
        .get_field_by_name("nanos")
        .and_then(|v| v.as_i32())
        .unwrap_or(0);
    if secs == 0 && nanos == 0 {
        return Value::Null;
    }
    let Some(t) = chrono::DateTime::from_timestamp(secs, nanos.max(0) as u32) else {
        return Value::Null;
    };
    json!(if micro {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    })
}

fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    let (h, rem) = (ns / 3_600_000_000_000, ns % 3_600_000_000_000);
    let (m, rem) = (rem / 60_000_000_000, rem % 60_000_000_000);
    let secs = rem as f64 / 1e9;
    let mut out = String::from(sign);
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{secs}s"));
    out
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
    let full = desc.full_name();
    match full {
        "k8s.io.apimachinery.pkg.apis.meta.v1.Time" => return time_json(m, false),
        "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime" => return time_json(m, true),
        "k8s.io.apimachinery.pkg.apis.meta.v1.Duration" => {
            return json!(go_duration(
                m.get_field_by_name("duration")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0)
            ))
        }
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString" => {
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
        "k8s.io.apimachinery.pkg.api.resource.Quantity" => {
            return json!(m
                .get_field_by_name("string")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default())
        }
        "k8s.io.apimachinery.pkg.runtime.RawExtension" => return raw_json(m, "raw"),
        "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1" => return raw_json(m, "Raw"),
        "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON" => {
            return raw_json(m, "raw")
        }
        _ => {}
    }
    // String lists wrapped in a message (ExtraValue, Verbs, ...).
    if full.ends_with(".ExtraValue") || full.ends_with(".Verbs") {
        return m
            .get_field_by_name("items")
            .map(|v| value_to_json(&v))
            .unwrap_or(json!([]));
    }
    let mut out = Map::new();
    for f in desc.fields() {
        if !m.has_field(&f) {
            continue;
        }
        let v = value_to_json(&m.get_field(&f));
        // Go's protobuf encoding writes every non-pointer string, empty or not; upstream's JSON
        // omits empty ones (omitempty), and so do we.
        let empty_string = v.as_str().is_some_and(str::is_empty) && !f.is_list() && !f.is_map();
        if !v.is_null() && !empty_string {
            out.insert(json_name(f.name()).to_string(), v);
        }
    }
    Value::Object(out)
}

/// The JSON name of a protobuf field. Upstream's proto field names are the JSON names except
/// for a few whose Go field name was used instead (found by comparing the `json:` and
/// `protobuf:"...name=..."` struct tags of k8s.io/api and apimachinery v0.35).
fn json_name(proto: &str) -> &str {
    match proto {
        "uID" => "uid",
        "aPIGroup" => "apiGroup",
        "Name" => "name",
        "Expression" => "expression",
        "Webhooks" => "webhooks",
        other => other,
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
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    MapKey::String(s) => s.clone(),
                    MapKey::Bool(b) => b.to_string(),
                    MapKey::I32(n) => n.to_string(),
                    MapKey::I64(n) => n.to_string(),
                    MapKey::U32(n) => n.to_string(),
                    MapKey::U64(n) => n.to_string(),
                };
                out.insert(key, value_to_json(v));
            }
            Value::Object(out)
        }
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
}
