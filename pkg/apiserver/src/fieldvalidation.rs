//! Server-side field validation (`fieldValidation=Strict|Warn|Ignore` on create, update and
//! patch), as upstream: unknown and duplicate fields are an error (Strict), `Warning` headers
//! (Warn, the default) or nothing (Ignore). Unknown fields of built-in kinds are dropped from what
//! is stored in every mode, as upstream's decoding into typed structs drops them; the schema is
//! the protobuf descriptor set (`k3rs_apis::protobuf::prune_unknown`).
//!
//! The strict errors read exactly as upstream's: `unknown field "spec.foo"`,
//! `duplicate field "metadata.name"` (sigs.k8s.io/json), and for YAML bodies
//! `yaml: unmarshal errors:\n  line 4: key "name" already set in map` (go-yaml).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Map, Value};

use crate::status::{ApiError, ApiResult};

/// The `fieldValidation` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    Ignore,
    Warn,
    Strict,
}

impl Directive {
    /// Whether strict-decoding problems are looked for at all.
    pub fn checks(self) -> bool {
        self != Directive::Ignore
    }
}

/// Reads `fieldValidation` (absent or empty = Warn, as upstream). `options` names the options
/// kind in the error (`CreateOptions`, `UpdateOptions`, `PatchOptions`).
pub fn directive(q: &HashMap<String, String>, options: &str) -> ApiResult<Directive> {
    match q.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Warn") => Ok(Directive::Warn),
        Some("Ignore") => Ok(Directive::Ignore),
        Some("Strict") => Ok(Directive::Strict),
        Some(other) => {
            let detail = format!(
                "Unsupported value: {}: supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"",
                quote(other)
            );
            Err(ApiError::invalid_query(format!(
                "{options}.meta.k8s.io \"\" is invalid: fieldValidation: {detail}"
            ))
            .with_details(json!({
                "group": "meta.k8s.io",
                "kind": options,
                "causes": [{"reason": "FieldValueNotSupported", "message": detail, "field": "fieldValidation"}],
            })))
        }
    }
}

/// Go's `%q` of a string (close enough: JSON string escaping).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

// ---------------------------------------------------------------------------------------------
// JSON with duplicate detection.

/// Builds a JSON value like `serde_json::Value` does (a repeated key keeps its last value, as
/// Go's decoder), recording the path of every repeated key.
struct Node<'a> {
    path: String,
    dups: &'a RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(json!(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(json!(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Node {
            path: format!("{}[{}]", self.path, out.len()),
            dups: self.dups,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = join(&self.path, &key);
            if out.contains_key(&key) {
                self.dups.borrow_mut().push(path.clone());
            }
            let v = map.next_value_seed(Node {
                path,
                dups: self.dups,
            })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Parses JSON; returns the value and the paths of repeated keys (`metadata.name`,
/// `[0].op`), in document order.
pub fn parse_json(bytes: &[u8]) -> Result<(Value, Vec<String>), serde_json::Error> {
    let dups = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Node {
        path: String::new(),
        dups: &dups,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((v, dups.into_inner()))
}

// ---------------------------------------------------------------------------------------------
// YAML with duplicate detection.

/// Converts YAML to JSON as upstream (a repeated key keeps its last value).
pub fn parse_yaml(bytes: &[u8]) -> Result<Value, String> {
    let dups = RefCell::new(Vec::new());
    Node {
        path: String::new(),
        dups: &dups,
    }
    .deserialize(serde_yaml::Deserializer::from_slice(bytes))
    .map_err(|e| e.to_string())
}

const DUP_MARKER: &str = "k3rs: repeated YAML key";

/// Like [`Node`] for YAML, but fails on the `skip`+1-th repeated key while reading its value,
/// so that the parser's error carries the value's line (what go-yaml reports).
struct YamlDup<'a> {
    skip: usize,
    seen: &'a RefCell<usize>,
    key: &'a RefCell<String>,
}

struct Fail;

impl<'de> DeserializeSeed<'de> for Fail {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Fail {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("anything")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(DUP_MARKER))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(DUP_MARKER))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(DUP_MARKER))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(DUP_MARKER))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(DUP_MARKER))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(DUP_MARKER))
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(DUP_MARKER))
    }
    fn visit_some<D: Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
        Err(de::Error::custom(DUP_MARKER))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(DUP_MARKER))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(DUP_MARKER))
    }
}

impl<'de> DeserializeSeed<'de> for YamlDup<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for YamlDup<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(YamlDup {
                skip: self.skip,
                seen: self.seen,
                key: self.key,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                let n = *self.seen.borrow();
                *self.seen.borrow_mut() = n + 1;
                if n == self.skip {
                    *self.key.borrow_mut() = key;
                    map.next_value_seed(Fail)?;
                    continue;
                }
            }
            map.next_value_seed(YamlDup {
                skip: self.skip,
                seen: self.seen,
                key: self.key,
            })?;
        }
        Ok(())
    }
}

/// go-yaml's strict error for the repeated keys of a YAML body, if any:
/// `yaml: unmarshal errors:\n  line 4: key "name" already set in map`.
pub fn yaml_duplicates(bytes: &[u8]) -> Option<String> {
    let mut lines = Vec::new();
    // One parse per repeated key, each failing at the next one (go-yaml stops at 100 too).
    for skip in 0..100 {
        let seen = RefCell::new(0);
        let key = RefCell::new(String::new());
        let r = YamlDup {
            skip,
            seen: &seen,
            key: &key,
        }
        .deserialize(serde_yaml::Deserializer::from_slice(bytes));
        match r {
            Err(e) if e.to_string().contains(DUP_MARKER) => {
                let line = e.location().map_or(0, |l| l.line());
                lines.push(format!(
                    "line {line}: key {} already set in map",
                    quote(&key.borrow())
                ));
            }
            _ => break,
        }
    }
    (!lines.is_empty()).then(|| format!("yaml: unmarshal errors:\n  {}", lines.join("\n  ")))
}

// ---------------------------------------------------------------------------------------------
// The checks.

/// Strict-decoding problems found while parsing a body: `duplicate field "…"` errors for JSON,
/// one go-yaml error for YAML.
pub fn parse_errors(json_dups: Vec<String>) -> Vec<String> {
    json_dups
        .into_iter()
        .map(|p| format!("duplicate field {}", quote(&p)))
        .collect()
}

/// Drops the fields of `obj` the kind's schema does not know and returns all strict errors:
/// `parsed` (from parsing the body) first, then `unknown field "…"`. Duplicates inside unknown
/// fields are not reported, as upstream skips unknown values without looking inside.
fn check(
    api_version: &str,
    kind: &str,
    obj: &mut Value,
    parsed: Vec<String>,
    in_document_order: bool,
) -> Vec<String> {
    // Custom resources: upstream decodes the body as unstructured JSON, so every repeated key
    // is reported (in document order), then prunes it against the structural schema, reporting
    // ObjectMeta's unknown fields, the schema's, and embedded resources' ObjectMeta's.
    if let Some(unknown) = k3rs_apis::crd::prune_unknown(api_version, kind, obj) {
        let mut errs = parsed;
        errs.extend(
            unknown
                .iter()
                .map(|u| format!("unknown field {}", quote(u))),
        );
        return errs;
    }
    let order = if in_document_order {
        document_order(obj)
    } else {
        HashMap::new()
    };
    // Built-in kinds: their protobuf schema.
    let unknown = k3rs_apis::protobuf::prune_unknown(api_version, kind, obj).unwrap_or_default();
    let under_unknown = |e: &str| {
        unknown.iter().any(|u| {
            e.strip_prefix("duplicate field ")
                .and_then(|q| serde_json::from_str::<String>(q).ok())
                .is_some_and(|p| {
                    p == *u || p.starts_with(&format!("{u}.")) || p.starts_with(&format!("{u}["))
                })
        })
    };
    let mut errs: Vec<String> = parsed.into_iter().filter(|e| !under_unknown(e)).collect();
    errs.extend(
        unknown
            .iter()
            .map(|u| format!("unknown field {}", quote(u))),
    );
    // Upstream's decoder reports a body's problems as it meets them: in document order. (A
    // patch's own problems come before those of the patched object.)
    let position = |e: &String| {
        e.split_once(' ')
            .and_then(|(_, rest)| rest.strip_prefix("field "))
            .and_then(|q| serde_json::from_str::<String>(q).ok())
            .map(|p| order.get(&p).map_or(usize::MAX, |i| i + 1))
            // Not about one field (go-yaml's duplicate-key error): first, as upstream.
            .unwrap_or(0)
    };
    if in_document_order {
        errs.sort_by_key(position);
    }
    errs
}

/// The position of every field path (`spec.containers[0].name`) of `obj` in document order.
fn document_order(obj: &Value) -> HashMap<String, usize> {
    fn walk(v: &Value, path: &str, out: &mut HashMap<String, usize>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    let n = out.len();
                    out.entry(p.clone()).or_insert(n);
                    walk(child, &p, out);
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    walk(child, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = HashMap::new();
    walk(obj, "", &mut out);
    out
}

fn strict_message(errs: &[String]) -> String {
    format!("strict decoding error: {}", errs.join(", "))
}

/// The warnings for strict errors in Warn mode: go-yaml's multi-line error becomes one warning
/// per line, as upstream's `parseYAMLWarnings`.
fn warnings(errs: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for e in errs {
        match e.strip_prefix("yaml: unmarshal errors:\n") {
            Some(rest) => out.extend(rest.split('\n').map(|l| l.trim().to_string())),
            None => out.push(e),
        }
    }
    out
}

/// Field validation of a create or update body of a built-in kind (schema `api_version`/`kind`).
/// Unknown fields are removed from `obj`. Strict with problems → 400 as upstream's decoder error;
/// otherwise the warnings to send (none for Ignore).
pub fn validate_body(
    directive: Directive,
    api_version: &str,
    kind: &str,
    obj: &mut Value,
    parsed: Vec<String>,
) -> ApiResult<Vec<String>> {
    let errs = check(api_version, kind, obj, parsed, true);
    if errs.is_empty() || directive == Directive::Ignore {
        return Ok(Vec::new());
    }
    if directive == Directive::Strict {
        // What upstream's transformDecodeError says, with the kind and version of the data.
        let data_kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .unwrap_or(kind)
            .to_string();
        let data_version = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .unwrap_or(api_version);
        let data_version = data_version
            .rsplit_once('/')
            .map_or(data_version, |(_, v)| v);
        return Err(ApiError::bad_request(format!(
            "{data_kind} in version \"{data_version}\" cannot be handled as a {kind}: {}",
            strict_message(&errs)
        )));
    }
    Ok(warnings(errs))
}

/// Field validation of an apply patch (a YAML or JSON body): its repeated keys, as upstream's
/// strict YAML decoding finds them after the apply itself succeeded. Strict → the 400 to fail
/// with (unknown fields are not looked for here: server-side apply refuses them in every mode);
/// Warn → one warning per repeated key.
pub fn validate_apply(directive: Directive, body: &[u8]) -> (Option<ApiError>, Vec<String>) {
    if !directive.checks() {
        return (None, Vec::new());
    }
    match yaml_duplicates(body) {
        None => (None, Vec::new()),
        Some(e) if directive == Directive::Strict => (
            Some(ApiError::bad_request(format!(
                "error strict decoding YAML: error converting YAML to JSON: {e}"
            ))),
            Vec::new(),
        ),
        Some(e) => (None, warnings(vec![e])),
    }
}

/// Field validation of a patched object: unknown fields of the result, after the problems of
/// the patch itself (`patch_errs`). Strict with problems → 422 as upstream's patcher, whose
/// Invalid value is `shown` (the patched JSON for JSON and merge patches, Go's `%+v` of the
/// patch for strategic merge patches).
pub fn validate_patched(
    directive: Directive,
    api_version: &str,
    kind: &str,
    obj: &mut Value,
    patch_errs: Vec<String>,
    shown: impl FnOnce() -> String,
) -> ApiResult<Vec<String>> {
    let errs = check(api_version, kind, obj, patch_errs, false);
    if errs.is_empty() || directive == Directive::Ignore {
        return Ok(Vec::new());
    }
    if directive == Directive::Strict {
        let body = format!(
            "Invalid value: {}: {}",
            quote(&shown()),
            strict_message(&errs)
        );
        return Err(ApiError::invalid_query(format!(" \"\" is invalid: patch: {body}"))
            .with_details(json!({"causes": [{"reason": "FieldValueInvalid", "message": body, "field": "patch"}]})));
    }
    Ok(warnings(errs))
}

/// The strict errors of a JSON patch document itself: its operations may only have `op`,
/// `path`, `from` and `value`, each once (`json patch unknown field "[0].foo"`).
pub fn json_patch_errors(ops: &Value, dups: &[String]) -> Vec<String> {
    let mut errs: Vec<String> = dups
        .iter()
        .map(|p| format!("json patch duplicate field {}", quote(p)))
        .collect();
    if let Value::Array(ops) = ops {
        for (i, op) in ops.iter().enumerate() {
            if let Value::Object(m) = op {
                for k in m.keys() {
                    if !matches!(k.as_str(), "op" | "path" | "from" | "value") {
                        errs.push(format!(
                            "json patch unknown field {}",
                            quote(&format!("[{i}].{k}"))
                        ));
                    }
                }
            }
        }
    }
    errs
}

/// Go's `fmt.Sprintf("%+v", v)` of a decoded JSON value (`map[a:1 b:[x y]]`), which upstream
/// shows as the Invalid value of a strategic merge patch.
pub fn go_format(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_format).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            format!(
                "map[{}]",
                keys.iter()
                    .map(|k| format!("{k}:{}", go_format(&m[k.as_str()])))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

/// `Warning` header values for warnings, as upstream's recorder writes them: code 299, agent
/// `-`, deduplicated, texts with control characters dropped, and past 4096 characters in all,
/// every text cut to 256 characters (and nothing more added once that is exceeded too).
pub fn warning_headers(texts: &[String]) -> Vec<String> {
    const TOTAL: usize = 4 * 1024;
    const ITEM: usize = 256;
    let header = |t: &str| {
        let mut q = String::from("299 - \"");
        for c in t.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    };
    let cut = |t: &str| t.chars().take(ITEM).collect::<String>();
    let mut seen = std::collections::HashSet::new();
    let texts: Vec<&String> = texts
        .iter()
        .filter(|t| !t.is_empty() && !t.chars().any(char::is_control) && seen.insert(*t))
        .collect();
    let total: usize = texts.iter().map(|t| t.chars().count()).sum();
    if total <= TOTAL {
        return texts.iter().map(|t| header(t)).collect();
    }
    let mut out = Vec::new();
    let mut written = 0;
    for t in texts {
        if written >= TOTAL {
            break;
        }
        let t = cut(t);
        written += t.chars().count();
        out.push(header(&t));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives() {
        let q = |v: &str| HashMap::from([("fieldValidation".to_string(), v.to_string())]);
        assert_eq!(
            directive(&HashMap::new(), "CreateOptions").unwrap(),
            Directive::Warn
        );
        assert_eq!(directive(&q(""), "CreateOptions").unwrap(), Directive::Warn);
        assert_eq!(
            directive(&q("Strict"), "CreateOptions").unwrap(),
            Directive::Strict
        );
        assert_eq!(
            directive(&q("Ignore"), "PatchOptions").unwrap(),
            Directive::Ignore
        );
        let e = directive(&q("strict"), "UpdateOptions").unwrap_err();
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "UpdateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
        );
    }

    #[test]
    fn json_duplicates_keep_the_last_value_and_report_paths() {
        let (v, dups) = parse_json(
            br#"{"metadata":{"name":"a","labels":{"x":"1","x":"2"},"name":"b"},"items":[{"k":1,"k":2}],"metadata":{"name":"c"}}"#,
        )
        .unwrap();
        assert_eq!(v["metadata"], json!({"name": "c"}));
        assert_eq!(v["items"][0]["k"], 2);
        assert_eq!(
            dups,
            vec![
                "metadata.labels.x",
                "metadata.name",
                "items[0].k",
                "metadata"
            ]
        );
        let (_, dups) = parse_json(br#"[{"op":"add","op":"remove"}]"#).unwrap();
        assert_eq!(dups, vec!["[0].op"]);
        assert!(parse_json(b"{").is_err());
        assert!(parse_json(b"{} x").is_err());
        assert!(parse_json("[".repeat(100_000).as_bytes()).is_err());
    }

    #[test]
    fn yaml_duplicates_read_as_go_yaml() {
        let y = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\ndata:\n  k: v\n  k:\n    - x\n";
        let v = parse_yaml(y).unwrap();
        assert_eq!(v["metadata"]["name"], "b");
        assert_eq!(v["data"]["k"], json!(["x"]));
        assert_eq!(
            yaml_duplicates(y).unwrap(),
            "yaml: unmarshal errors:\n  line 5: key \"name\" already set in map\n  line 9: key \"k\" already set in map"
        );
        // Checked against upstream's strict YAML serializer (apimachinery v0.35.4).
        let upstream = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n  foo: 1\ndata:\n  k: v\n  k:\n    w\nbinaryData:\n  z:\n    q: 1\n  z: YQ==\n";
        assert_eq!(
            yaml_duplicates(upstream).unwrap(),
            "yaml: unmarshal errors:\n  line 5: key \"name\" already set in map\n  line 10: key \"k\" already set in map\n  line 14: key \"z\" already set in map"
        );
        assert_eq!(yaml_duplicates(b"a: 1\nb: 2\n"), None);
        assert_eq!(yaml_duplicates(b"a: [\n"), None);
        assert_eq!(
            warnings(vec![
                yaml_duplicates(y).unwrap(),
                "unknown field \"x\"".into()
            ]),
            vec![
                "line 5: key \"name\" already set in map",
                "line 9: key \"k\" already set in map",
                "unknown field \"x\""
            ]
        );
    }

    #[test]
    fn strict_warn_and_ignore_on_a_body() {
        if !k3rs_apis::protobuf::available() {
            return;
        }
        let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b","bogus":1},"data":{"k":"v"},"spec":{"x":{"y":1,"y":2}}}"#;
        let (v, dups) = parse_json(body).unwrap();
        let parsed = parse_errors(dups);
        let mut obj = v.clone();
        let e = validate_body(
            Directive::Strict,
            "v1",
            "ConfigMap",
            &mut obj,
            parsed.clone(),
        )
        .unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: duplicate field \"metadata.name\", unknown field \"metadata.bogus\", unknown field \"spec\""
        );
        let mut obj = v.clone();
        let w =
            validate_body(Directive::Warn, "v1", "ConfigMap", &mut obj, parsed.clone()).unwrap();
        assert_eq!(
            w,
            vec![
                "duplicate field \"metadata.name\"",
                "unknown field \"metadata.bogus\"",
                "unknown field \"spec\""
            ]
        );
        assert_eq!(
            obj,
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"},"data":{"k":"v"}})
        );
        let mut obj = v;
        assert!(
            validate_body(Directive::Ignore, "v1", "ConfigMap", &mut obj, parsed)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            obj["metadata"],
            json!({"name": "b"}),
            "pruned in every mode"
        );
    }

    #[test]
    fn patches() {
        if !k3rs_apis::protobuf::available() {
            return;
        }
        let mut obj = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"foo":1});
        let e = validate_patched(
            Directive::Strict,
            "v1",
            "ConfigMap",
            &mut obj,
            vec!["duplicate field \"data.k\"".into()],
            || r#"{"foo":1}"#.into(),
        )
        .unwrap_err();
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            r#" "" is invalid: patch: Invalid value: "{\"foo\":1}": strict decoding error: duplicate field "data.k", unknown field "foo""#
        );
        let ops = json!([{"op":"add","path":"/a","value":1,"extra":true}]);
        assert_eq!(
            json_patch_errors(&ops, &["[0].op".into()]),
            vec![
                "json patch duplicate field \"[0].op\"",
                "json patch unknown field \"[0].extra\""
            ]
        );
        assert_eq!(
            go_format(&json!({"spec":{"b":[1,"x"],"a":null},"k":true})),
            "map[k:true spec:map[a:<nil> b:[1 x]]]"
        );
    }

    #[test]
    fn warning_header_values() {
        let w = warning_headers(&[
            "unknown field \"spec.foo\"".into(),
            "unknown field \"spec.foo\"".into(),
            "bad\ncontrol".into(),
        ]);
        assert_eq!(w, vec![r#"299 - "unknown field \"spec.foo\"""#]);
        let many: Vec<String> = (0..40)
            .map(|i| format!("{i}-{}", "x".repeat(300)))
            .collect();
        let w = warning_headers(&many);
        assert!(w.len() < 40 && w.len() >= 16, "{}", w.len());
        assert!(w.iter().all(|h| h.chars().count() <= 256 + 9));
    }
}
