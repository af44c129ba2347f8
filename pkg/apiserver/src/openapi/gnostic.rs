//! Encodes an OpenAPI v2 (Swagger 2.0) JSON document as the protobuf message kubectl asks for with
//! `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`: gnostic's
//! `openapi.v2.Document` (github.com/google/gnostic-models, `openapiv2/OpenAPIv2.proto`).
//!
//! This is a small hand-written encoder for the subset of Swagger 2.0 that [`super`] generates;
//! field numbers are those of the `.proto` schema (a test decodes our output with the real schema
//! when the Go module cache has it). Like gnostic, vendor extensions (`x-…`) become
//! `NamedAny { name, value: Any { yaml } }` with the value as YAML text, which is what
//! kube-openapi's `proto` package parses.

use serde_json::Value;

/// A protobuf message being written.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }
    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    /// proto3: empty strings are not written.
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }
    fn message(&mut self, field: u32, m: Msg) {
        self.bytes(field, &m.0);
    }
    fn boolean(&mut self, field: u32, b: bool) {
        if b {
            self.key(field, 0);
            self.varint(1);
        }
    }
    fn int64(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.key(field, 0);
            self.varint(v as u64);
        }
    }
    fn double(&mut self, field: u32, v: f64) {
        if v != 0.0 {
            self.key(field, 1);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn strings(m: &mut Msg, field: u32, v: Option<&Value>) {
    for s in v.and_then(Value::as_array).into_iter().flatten() {
        if let Some(s) = s.as_str() {
            m.bytes(field, s.as_bytes());
        }
    }
}

/// `Any { yaml = 2 }`.
fn any(v: &Value) -> Msg {
    let mut m = Msg::default();
    let yaml = serde_yaml::to_string(v).unwrap_or_default();
    m.string(2, &yaml);
    m
}

/// Repeated `NamedAny { name = 1; Any value = 2 }` for every `x-` key of `v` into `field`.
fn vendor_extensions(m: &mut Msg, field: u32, v: &Value) {
    for (k, x) in v.as_object().into_iter().flatten() {
        if k.starts_with("x-") {
            let mut named = Msg::default();
            named.string(1, k);
            named.message(2, any(x));
            m.message(field, named);
        }
    }
}

/// `openapi.v2.Schema`.
fn schema(v: &Value) -> Msg {
    let mut m = Msg::default();
    m.string(1, str_of(v, "$ref"));
    m.string(2, str_of(v, "format"));
    m.string(3, str_of(v, "title"));
    m.string(4, str_of(v, "description"));
    if let Some(d) = v.get("default") {
        m.message(5, any(d));
    }
    if let Some(x) = v.get("multipleOf").and_then(Value::as_f64) {
        m.double(6, x);
    }
    if let Some(x) = v.get("maximum").and_then(Value::as_f64) {
        m.double(7, x);
    }
    m.boolean(
        8,
        v.get("exclusiveMaximum").and_then(Value::as_bool) == Some(true),
    );
    if let Some(x) = v.get("minimum").and_then(Value::as_f64) {
        m.double(9, x);
    }
    m.boolean(
        10,
        v.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true),
    );
    if let Some(x) = v.get("maxLength").and_then(Value::as_i64) {
        m.int64(11, x);
    }
    if let Some(x) = v.get("minLength").and_then(Value::as_i64) {
        m.int64(12, x);
    }
    m.string(13, str_of(v, "pattern"));
    if let Some(x) = v.get("maxItems").and_then(Value::as_i64) {
        m.int64(14, x);
    }
    if let Some(x) = v.get("minItems").and_then(Value::as_i64) {
        m.int64(15, x);
    }
    m.boolean(
        16,
        v.get("uniqueItems").and_then(Value::as_bool) == Some(true),
    );
    if let Some(x) = v.get("maxProperties").and_then(Value::as_i64) {
        m.int64(17, x);
    }
    if let Some(x) = v.get("minProperties").and_then(Value::as_i64) {
        m.int64(18, x);
    }
    strings(&mut m, 19, v.get("required"));
    for e in v
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(20, any(e));
    }
    match v.get("additionalProperties") {
        // AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } }
        Some(Value::Bool(b)) => {
            let mut a = Msg::default();
            a.key(2, 0);
            a.varint(u64::from(*b));
            m.message(21, a);
        }
        Some(s @ Value::Object(_)) => {
            let mut a = Msg::default();
            a.message(1, schema(s));
            m.message(21, a);
        }
        _ => {}
    }
    // TypeItem { repeated string value = 1; }
    match v.get("type") {
        Some(Value::String(t)) => {
            let mut ti = Msg::default();
            ti.bytes(1, t.as_bytes());
            m.message(22, ti);
        }
        Some(t @ Value::Array(_)) => {
            let mut ti = Msg::default();
            strings(&mut ti, 1, Some(t));
            m.message(22, ti);
        }
        _ => {}
    }
    // ItemsItem { repeated Schema schema = 1; }
    match v.get("items") {
        Some(s @ Value::Object(_)) => {
            let mut it = Msg::default();
            it.message(1, schema(s));
            m.message(23, it);
        }
        Some(Value::Array(list)) => {
            let mut it = Msg::default();
            for s in list {
                it.message(1, schema(s));
            }
            m.message(23, it);
        }
        _ => {}
    }
    for s in v
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema(s));
    }
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        // Properties { repeated NamedSchema additional_properties = 1; }
        let mut p = Msg::default();
        for (name, s) in props {
            p.message(1, named_schema(name, s));
        }
        m.message(25, p);
    }
    m.boolean(27, v.get("readOnly").and_then(Value::as_bool) == Some(true));
    vendor_extensions(&mut m, 31, v);
    m
}

/// `NamedSchema { name = 1; Schema value = 2; }`.
fn named_schema(name: &str, s: &Value) -> Msg {
    let mut n = Msg::default();
    n.string(1, name);
    n.message(2, schema(s));
    n
}

/// `ParametersItem { oneof { Parameter parameter = 1; JsonReference json_reference = 2; } }`.
fn parameters_item(p: &Value) -> Msg {
    let mut item = Msg::default();
    if let Some(r) = p.get("$ref").and_then(Value::as_str) {
        let mut j = Msg::default();
        j.string(1, r);
        item.message(2, j);
        return item;
    }
    // Parameter { oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2; } }
    let mut param = Msg::default();
    let location = str_of(p, "in");
    if location == "body" {
        let mut b = Msg::default();
        b.string(1, str_of(p, "description"));
        b.string(2, str_of(p, "name"));
        b.string(3, location);
        b.boolean(4, p.get("required").and_then(Value::as_bool) == Some(true));
        if let Some(s) = p.get("schema") {
            b.message(5, schema(s));
        }
        vendor_extensions(&mut b, 6, p);
        param.message(1, b);
    } else {
        // Query, path and header sub-schemas share field numbers for the fields used here
        // (required 1, in 2, description 3, name 4); then they differ.
        let (which, type_field, format_field, unique_field, ext_field) = match location {
            "header" => (1, 5, 6, 19, 22),
            "formData" => (2, 6, 7, 20, 23),
            "query" => (3, 6, 7, 20, 23),
            _ => (4, 5, 6, 19, 22),
        };
        let mut s = Msg::default();
        s.boolean(1, p.get("required").and_then(Value::as_bool) == Some(true));
        s.string(2, location);
        s.string(3, str_of(p, "description"));
        s.string(4, str_of(p, "name"));
        s.string(type_field, str_of(p, "type"));
        s.string(format_field, str_of(p, "format"));
        s.boolean(
            unique_field,
            p.get("uniqueItems").and_then(Value::as_bool) == Some(true),
        );
        vendor_extensions(&mut s, ext_field, p);
        let mut nb = Msg::default();
        nb.message(which, s);
        param.message(2, nb);
    }
    item.message(1, param);
    item
}

/// `Operation`.
fn operation(v: &Value) -> Msg {
    let mut m = Msg::default();
    strings(&mut m, 1, v.get("tags"));
    m.string(2, str_of(v, "summary"));
    m.string(3, str_of(v, "description"));
    m.string(5, str_of(v, "operationId"));
    strings(&mut m, 6, v.get("produces"));
    strings(&mut m, 7, v.get("consumes"));
    for p in v
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(8, parameters_item(p));
    }
    if let Some(rs) = v.get("responses").and_then(Value::as_object) {
        // Responses { repeated NamedResponseValue response_code = 1; }
        let mut responses = Msg::default();
        for (code, r) in rs {
            // Response { description = 1; SchemaItem schema = 2; }
            let mut resp = Msg::default();
            resp.string(1, str_of(r, "description"));
            if let Some(s) = r.get("schema") {
                // SchemaItem { oneof { Schema schema = 1; FileSchema file_schema = 2; } }
                let mut si = Msg::default();
                si.message(1, schema(s));
                resp.message(2, si);
            }
            vendor_extensions(&mut resp, 5, r);
            // ResponseValue { oneof { Response response = 1; JsonReference json_reference = 2; } }
            let mut rv = Msg::default();
            rv.message(1, resp);
            let mut named = Msg::default();
            named.string(1, code);
            named.message(2, rv);
            responses.message(1, named);
        }
        m.message(9, responses);
    }
    strings(&mut m, 10, v.get("schemes"));
    m.boolean(
        11,
        v.get("deprecated").and_then(Value::as_bool) == Some(true),
    );
    vendor_extensions(&mut m, 13, v);
    m
}

/// `PathItem`.
fn path_item(v: &Value) -> Msg {
    let mut m = Msg::default();
    for (method, field) in [
        ("get", 2),
        ("put", 3),
        ("post", 4),
        ("delete", 5),
        ("options", 6),
        ("head", 7),
        ("patch", 8),
    ] {
        if let Some(op) = v.get(method) {
            m.message(field, operation(op));
        }
    }
    for p in v
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(9, parameters_item(p));
    }
    vendor_extensions(&mut m, 10, v);
    m
}

/// `Document.paths` and `Document.definitions`: the fields [`splice`] adds entries to.
pub const PATHS: u32 = 8;
pub const DEFINITIONS: u32 = 9;

/// The `Paths` message's entries (`repeated NamedPathItem path = 2`) for these paths (`x-`
/// names, which are extensions, are skipped).
pub fn path_entries<'a>(paths: impl IntoIterator<Item = (&'a String, &'a Value)>) -> Vec<u8> {
    let mut p = Msg::default();
    for (name, item) in paths {
        if name.starts_with("x-") {
            continue;
        }
        let mut named = Msg::default();
        named.string(1, name);
        named.message(2, path_item(item));
        p.message(2, named);
    }
    p.0
}

/// The `Definitions` message's entries (`repeated NamedSchema additional_properties = 1`).
pub fn definition_entries<'a>(defs: impl IntoIterator<Item = (&'a String, &'a Value)>) -> Vec<u8> {
    let mut ds = Msg::default();
    for (name, s) in defs {
        ds.message(1, named_schema(name, s));
    }
    ds.0
}

fn read_varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// `doc` (an encoded message) with more entries appended to some of its message fields:
/// `extra` pairs a field number with encoded repeated entries of that field's message. A field
/// the document lacks is added. The rest of the document is copied as it is. `None` if `doc`
/// is not a well-formed message.
pub fn splice(doc: &[u8], extra: &[(u32, &[u8])]) -> Option<Vec<u8>> {
    let mut out = Msg(Vec::with_capacity(
        doc.len() + extra.iter().map(|(_, e)| e.len() + 8).sum::<usize>(),
    ));
    let mut done = vec![false; extra.len()];
    let mut at = 0;
    while at < doc.len() {
        let start = at;
        let key = read_varint(doc, &mut at)?;
        let (field, wire) = ((key >> 3) as u32, (key & 7) as u8);
        match wire {
            0 => {
                read_varint(doc, &mut at)?;
            }
            1 => at += 8,
            5 => at += 4,
            2 => {
                let len = usize::try_from(read_varint(doc, &mut at)?).ok()?;
                let content = doc.get(at..at.checked_add(len)?)?;
                at += len;
                if let Some(i) = extra.iter().position(|(f, _)| *f == field) {
                    if !done[i] {
                        done[i] = true;
                        let mut joined = content.to_vec();
                        joined.extend_from_slice(extra[i].1);
                        out.bytes(field, &joined);
                        continue;
                    }
                }
            }
            _ => return None,
        }
        out.0.extend_from_slice(doc.get(start..at)?);
    }
    for (i, (field, entries)) in extra.iter().enumerate() {
        if !done[i] && !entries.is_empty() {
            out.bytes(*field, entries);
        }
    }
    Some(out.0)
}

/// Encodes a Swagger 2.0 document as `openapi.v2.Document`.
pub fn encode_document(doc: &Value) -> Vec<u8> {
    let mut d = Msg::default();
    d.string(1, str_of(doc, "swagger"));
    if let Some(info) = doc.get("info") {
        let mut i = Msg::default();
        i.string(1, str_of(info, "title"));
        i.string(2, str_of(info, "version"));
        i.string(3, str_of(info, "description"));
        vendor_extensions(&mut i, 7, info);
        d.message(2, i);
    }
    d.string(3, str_of(doc, "host"));
    d.string(4, str_of(doc, "basePath"));
    strings(&mut d, 5, doc.get("schemes"));
    strings(&mut d, 6, doc.get("consumes"));
    strings(&mut d, 7, doc.get("produces"));
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        let mut p = Msg(path_entries(paths.iter()));
        vendor_extensions(&mut p, 1, doc.get("paths").unwrap_or(&Value::Null));
        d.message(PATHS, p);
    }
    if let Some(defs) = doc.get("definitions").and_then(Value::as_object) {
        d.message(DEFINITIONS, Msg(definition_entries(defs.iter())));
    }
    for req in doc
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // SecurityRequirement { repeated NamedStringArray additional_properties = 1; }
        let mut sr = Msg::default();
        for (name, scopes) in req.as_object().into_iter().flatten() {
            let mut arr = Msg::default();
            strings(&mut arr, 1, Some(scopes));
            let mut named = Msg::default();
            named.string(1, name);
            named.message(2, arr);
            sr.message(1, named);
        }
        d.message(12, sr);
    }
    if let Some(defs) = doc.get("securityDefinitions").and_then(Value::as_object) {
        // SecurityDefinitions { repeated NamedSecurityDefinitionsItem additional_properties = 1; }
        let mut sd = Msg::default();
        for (name, def) in defs {
            let mut item = Msg::default();
            match str_of(def, "type") {
                "apiKey" => {
                    // ApiKeySecurity { type = 1; name = 2; in = 3; description = 4; }
                    let mut k = Msg::default();
                    k.string(1, "apiKey");
                    k.string(2, str_of(def, "name"));
                    k.string(3, str_of(def, "in"));
                    k.string(4, str_of(def, "description"));
                    item.message(2, k);
                }
                "basic" => {
                    // BasicAuthenticationSecurity { type = 1; description = 2; }
                    let mut b = Msg::default();
                    b.string(1, "basic");
                    b.string(2, str_of(def, "description"));
                    item.message(1, b);
                }
                _ => continue,
            }
            let mut named = Msg::default();
            named.string(1, name);
            named.message(2, item);
            sd.message(1, named);
        }
        d.message(13, sd);
    }
    vendor_extensions(&mut d, 16, doc);
    d.0
}
