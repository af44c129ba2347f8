//! ConfigMaps, Secrets, Namespaces and ServiceAccounts (upstream `ValidateConfigMap[Update]`,
//! `ValidateSecret[Update]`, `ValidateNamespace`, `ValidateServiceAccount`).

use serde_json::{Map, Value};

use super::formats;
use super::util::*;

/// Upstream `core.MaxSecretSize`, also the ConfigMap limit.
const MAX_DATA_SIZE: usize = 1024 * 1024;
const IMMUTABLE_DETAIL: &str = "field is immutable when `immutable` is set";

/// Decodes standard, padded base64 (as Go's `encoding/json` does for `[]byte`), ignoring
/// `\r` and `\n`. `Err` holds the offset of the first bad input byte.
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, usize> {
    fn sextet(c: u8) -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let input: Vec<(usize, u8)> = s
        .bytes()
        .enumerate()
        .filter(|(_, c)| *c != b'\r' && *c != b'\n')
        .collect();
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    for (chunk_no, chunk) in input.chunks(4).enumerate() {
        let last = (chunk_no + 1) * 4 >= input.len();
        if chunk.len() < 4 {
            return Err(chunk.first().map(|(i, _)| *i).unwrap_or(s.len()));
        }
        let mut vals = [0u8; 4];
        let mut pad = 0;
        for (j, (pos, c)) in chunk.iter().enumerate() {
            if *c == b'=' {
                if !last || j < 2 {
                    return Err(*pos);
                }
                pad += 1;
                continue;
            }
            if pad > 0 {
                return Err(*pos);
            }
            vals[j] = sextet(*c).ok_or(*pos)?;
        }
        let n = (u32::from(vals[0]) << 18)
            | (u32::from(vals[1]) << 12)
            | (u32::from(vals[2]) << 6)
            | u32::from(vals[3]);
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Ok(out)
}

/// Standard, padded base64 encoding.
pub(crate) fn encode_base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The decoded values of a base64 map member (`Secret.data`, `ConfigMap.binaryData`); bad
/// encodings are reported on `path[key]`.
fn binary_map(v: &Value, k: &str, errs: &mut Errs) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (key_name, encoded) in get_string_map(v, k, "", errs) {
        match decode_base64(encoded) {
            Ok(bytes) => out.push((key_name.to_string(), bytes)),
            Err(pos) => errs.push(invalid(
                key(k, key_name),
                "<value omitted>",
                format!("illegal base64 data at input byte {pos}"),
            )),
        }
    }
    out
}

fn immutable_flag(v: &Value) -> bool {
    get(v, "immutable").and_then(Value::as_bool) == Some(true)
}

pub(crate) fn validate_config_map(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    if let Some(old) = old {
        if immutable_flag(old) {
            if !immutable_flag(obj) {
                errs.push(forbidden("immutable", IMMUTABLE_DETAIL));
            }
            for field in ["data", "binaryData"] {
                if !semantically_equal(get(obj, field), get(old, field)) {
                    errs.push(forbidden(field, IMMUTABLE_DETAIL));
                }
            }
        }
    }
    let _ = get_bool(obj, "immutable", "", errs);

    let data = get_string_map(obj, "data", "", errs);
    let binary = binary_map(obj, "binaryData", errs);
    let mut total = 0usize;
    for (k, v) in &data {
        let kp = key("data", k);
        invalid_each(errs, &kp, k, formats::config_map_key(k));
        if binary.iter().any(|(bk, _)| bk == k) {
            errs.push(invalid(kp, *k, "duplicate of key present in binaryData"));
        }
        total = total.saturating_add(v.len());
    }
    for (k, v) in &binary {
        invalid_each(errs, &key("binaryData", k), k, formats::config_map_key(k));
        total = total.saturating_add(v.len());
    }
    if total > MAX_DATA_SIZE {
        errs.push(too_long("", MAX_DATA_SIZE));
    }
}

pub(crate) fn validate_secret(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let secret_type = str_or_empty(obj, "type", "", errs);
    if let Some(old) = old {
        let old_type = str_or_empty(old, "type", "", &mut Errs::new());
        if secret_type != old_type {
            errs.push(invalid("type", secret_type, "field is immutable"));
        }
        if immutable_flag(old) {
            if !immutable_flag(obj) {
                errs.push(forbidden("immutable", IMMUTABLE_DETAIL));
            }
            let changed = !semantically_equal(get(obj, "data"), get(old, "data"))
                || get(obj, "stringData")
                    .is_some_and(|s| s.as_object().is_some_and(|m| !m.is_empty()));
            if changed {
                errs.push(forbidden("data", IMMUTABLE_DETAIL));
            }
        }
    }
    let _ = get_bool(obj, "immutable", "", errs);

    // stringData is merged into data before upstream validates, so its keys count as data keys.
    let mut data = binary_map(obj, "data", errs);
    for (k, v) in get_string_map(obj, "stringData", "", errs) {
        data.retain(|(dk, _)| dk != k);
        data.push((k.to_string(), v.as_bytes().to_vec()));
    }
    let mut total = 0usize;
    for (k, v) in &data {
        invalid_each(errs, &key("data", k), k, formats::config_map_key(k));
        total = total.saturating_add(v.len());
    }
    if total > MAX_DATA_SIZE {
        errs.push(too_long("data", MAX_DATA_SIZE));
    }

    let value_of = |k: &str| {
        data.iter()
            .find(|(dk, _)| dk == k)
            .map(|(_, v)| v.as_slice())
    };
    match secret_type {
        "kubernetes.io/service-account-token" => {
            let name = get(obj, "metadata")
                .and_then(|m| get(m, "annotations"))
                .and_then(|a| get(a, "kubernetes.io/service-account.name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errs.push(required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson" => {
            let k = if secret_type == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match value_of(k) {
                None => errs.push(required(key("data", k), "")),
                Some(bytes) => {
                    if let Err(e) = serde_json::from_slice::<Map<String, Value>>(bytes) {
                        errs.push(invalid(
                            key("data", k),
                            "<secret contents redacted>",
                            e.to_string(),
                        ));
                    }
                }
            }
        }
        "kubernetes.io/basic-auth"
            if value_of("username").is_none() && value_of("password").is_none() =>
        {
            errs.push(required("data[username]", ""));
            errs.push(required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth" if value_of("ssh-privatekey").is_none_or(|v| v.is_empty()) => {
            errs.push(required("data[ssh-privatekey]", ""));
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if value_of(k).is_none() {
                    errs.push(required(key("data", k), ""));
                }
            }
        }
        _ => {}
    }
}

pub(crate) fn validate_namespace(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    if old.is_some() {
        return;
    }
    let Some(spec) = get_object(obj, "spec", "", errs) else {
        return;
    };
    let fp = "spec.finalizers";
    for (_, f) in string_items(spec, "finalizers", "spec", errs) {
        invalid_each(errs, fp, f, formats::qualified_name(f));
        if !f.contains('/') && !["kubernetes", "orphan", "foregroundDeletion"].contains(&f) {
            errs.push(invalid(
                fp,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}

/// Upstream validates only a ServiceAccount's metadata; the reference lists just have to be
/// well-formed.
pub(crate) fn validate_service_account(obj: &Value, errs: &mut Errs) {
    let _ = object_items(obj, "secrets", "", errs);
    let _ = object_items(obj, "imagePullSecrets", "", errs);
    let _ = get_bool(obj, "automountServiceAccountToken", "", errs);
}
