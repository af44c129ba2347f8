//! Response conversions a client can ask for in `Accept`: `as=Table` (what `kubectl get` prints)
//! and `as=PartialObjectMetadata[List]` (metadata-only clients such as garbage collectors).

use serde_json::{json, Value};

use k3rs_apis::registry::Resource;
use k3rs_apis::tables;

use crate::handler::Format;
use crate::status::{ApiError, ApiResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    None,
    /// `meta.k8s.io/<version>` Table.
    Table(&'static str),
    /// `meta.k8s.io/<version>` PartialObjectMetadata(List).
    Metadata(&'static str),
}

/// What a Table row carries in `object` (the `includeObject` parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

fn meta_version(v: Option<&str>) -> Option<&'static str> {
    match v {
        Some("v1") => Some("v1"),
        Some("v1beta1") => Some("v1beta1"),
        _ => None,
    }
}

/// Picks the first acceptable media type: JSON, YAML or (when the kind has a protobuf message,
/// `protobuf`) Kubernetes protobuf, optionally converted. As upstream, Tables are served in JSON
/// and YAML only, PartialObjectMetadata[List] in protobuf too. Media types this server cannot
/// produce are skipped; nothing acceptable → 406.
pub fn negotiate(accept: Option<&str>, protobuf: bool) -> ApiResult<(Format, Conversion)> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok((Format::Json, Conversion::None));
    };
    for part in accept.split(',') {
        let mut it = part.split(';');
        let mt = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let params: Vec<(String, String)> = it
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let format = match mt.as_str() {
            "application/json" | "application/*" | "*/*" => Format::Json,
            "application/yaml" => Format::Yaml,
            crate::handler::PROTOBUF if k3rs_apis::protobuf::available() => Format::Protobuf,
            _ => continue,
        };
        let conversion = match param("as") {
            None => Conversion::None,
            Some(kind) => {
                if param("g") != Some("meta.k8s.io") {
                    continue;
                }
                let Some(version) = meta_version(param("v")) else {
                    continue;
                };
                match kind {
                    "Table" if format == Format::Protobuf => continue,
                    "Table" => Conversion::Table(version),
                    "PartialObjectMetadata" | "PartialObjectMetadataList" => {
                        Conversion::Metadata(version)
                    }
                    _ => continue,
                }
            }
        };
        // Kinds without a protobuf message (none yet; custom resources later) are JSON/YAML only.
        if format == Format::Protobuf && conversion == Conversion::None && !protobuf {
            continue;
        }
        return Ok((format, conversion));
    }
    Err(ApiError::not_acceptable(if protobuf {
        "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
    } else {
        "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
    }))
}

/// The `includeObject` parameter.
pub fn include(q: Option<&str>) -> ApiResult<Include> {
    match q {
        None | Some("") | Some("Metadata") => Ok(Include::Metadata),
        Some("Object") => Ok(Include::Object),
        Some("None") => Ok(Include::None),
        Some(other) => Err(ApiError::bad_request(format!(
            "includeObject: unsupported value {other:?}: supported values: \"Metadata\", \"Object\", \"None\""
        ))),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn partial(obj: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
    })
}

/// A custom resource's columns: Name, then its `additionalPrinterColumns` (or Age).
fn custom_column_definitions(cols: &[k3rs_apis::crd::PrinterColumn]) -> Vec<Value> {
    let mut out = tables::column_definitions(&tables::columns("", "\u{0}"))
        .into_iter()
        .take(1)
        .collect::<Vec<_>>();
    for c in cols {
        out.push(json!({
            "name": c.name,
            "type": c.type_,
            "format": c.format,
            "description": c.description,
            "priority": c.priority,
        }));
    }
    out
}

/// A custom resource's cells: the name, then each column's JSONPath value.
fn custom_cells(cols: &[k3rs_apis::crd::PrinterColumn], obj: &Value, now: i64) -> Vec<Value> {
    let mut out = vec![json!(crate::object::name(obj))];
    for c in cols {
        let v = k3rs_apis::crd::json_path_pointer(&c.json_path).and_then(|p| obj.pointer(&p));
        out.push(match (c.type_.as_str(), v) {
            (_, None) => Value::Null,
            ("date", Some(Value::String(t))) => match crate::object::parse_time(t) {
                Some(at) => json!(tables::human_duration(now - at)),
                None => json!("<invalid>"),
            },
            ("string", Some(Value::String(x))) => json!(x),
            ("string", Some(other)) => json!(other.to_string()),
            (_, Some(other)) => other.clone(),
        });
    }
    out
}

fn row(res: &Resource, obj: Value, include: Include, version: &str, now: i64) -> Value {
    let cells = match k3rs_apis::crd::lookup(res) {
        Some(cr) => custom_cells(&cr.columns, &obj, now),
        None => tables::cells(res.group, res.kind, &obj, now),
    };
    let conditions = tables::row_conditions(res.group, res.kind, &obj);
    let mut r = json!({"cells": cells});
    match include {
        Include::None => {}
        Include::Metadata => r["object"] = partial(&obj, version),
        Include::Object => r["object"] = obj,
    }
    if !conditions.is_empty() {
        r["conditions"] = json!(conditions);
    }
    r
}

fn table(
    res: &Resource,
    items: Vec<Value>,
    metadata: Value,
    include: Include,
    version: &str,
    headers: bool,
) -> Value {
    let now = now();
    let columns = if headers {
        match k3rs_apis::crd::lookup(res) {
            Some(cr) => json!(custom_column_definitions(&cr.columns)),
            None => json!(tables::column_definitions(&tables::columns(
                res.group, res.kind
            ))),
        }
    } else {
        json!([])
    };
    let rows: Vec<Value> = items
        .into_iter()
        .map(|o| row(res, o, include, version, now))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// One object as a Table (a get, or one watch event).
fn single(res: &Resource, obj: Value, include: Include, version: &str, headers: bool) -> Value {
    let rv = obj
        .pointer("/metadata/resourceVersion")
        .cloned()
        .unwrap_or(json!(""));
    table(
        res,
        vec![obj],
        json!({"resourceVersion": rv}),
        include,
        version,
        headers,
    )
}

/// One object (a get).
pub fn object(res: &Resource, obj: Value, conv: Conversion, include: Include) -> Value {
    match conv {
        Conversion::None => obj,
        Conversion::Metadata(v) => partial(&obj, v),
        Conversion::Table(v) => single(res, obj, include, v, true),
    }
}

/// A list.
pub fn list(res: &Resource, mut list: Value, conv: Conversion, include: Include) -> Value {
    let items = match list.get_mut("items").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let metadata = list.get("metadata").cloned().unwrap_or(json!({}));
    match conv {
        Conversion::None => {
            list["items"] = json!(items);
            list
        }
        Conversion::Metadata(v) => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": format!("meta.k8s.io/{v}"),
            "metadata": metadata,
            "items": items.iter().map(|o| partial(o, v)).collect::<Vec<_>>(),
        }),
        Conversion::Table(v) => table(res, items, metadata, include, v, true),
    }
}

/// A watch event; only the first Table event carries the column definitions. ERROR events keep
/// their Status, BOOKMARKs their bare object.
pub fn watch_event(
    res: &Resource,
    mut ev: Value,
    conv: Conversion,
    include: Include,
    first: bool,
) -> Value {
    if conv == Conversion::None || matches!(ev["type"].as_str(), Some("ERROR" | "BOOKMARK")) {
        return ev;
    }
    let obj = ev.get_mut("object").map(Value::take).unwrap_or(Value::Null);
    ev["object"] = match conv {
        Conversion::Metadata(v) => partial(&obj, v),
        Conversion::Table(v) => single(res, obj, include, v, first),
        Conversion::None => obj,
    };
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_of_kubectl_and_metadata_clients() {
        let negotiate = |a| negotiate(a, true);
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(
            negotiate(Some(kubectl)).unwrap(),
            (Format::Json, Conversion::Table("v1"))
        );
        assert_eq!(
            negotiate(Some(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
            ))
            .unwrap(),
            (Format::Json, Conversion::Metadata("v1"))
        );
        assert_eq!(
            negotiate(Some(
                "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json"
            ))
            .unwrap(),
            (Format::Json, Conversion::None)
        );
        assert_eq!(
            negotiate(Some("application/json;as=Foo;v=v1;g=meta.k8s.io"))
                .unwrap_err()
                .code,
            406
        );
        assert_eq!(negotiate(None).unwrap(), (Format::Json, Conversion::None));
        assert_eq!(include(Some("Bogus")).unwrap_err().code, 400);
    }

    #[test]
    fn protobuf_when_the_kind_has_a_message() {
        if !k3rs_apis::protobuf::available() {
            return;
        }
        // client-go's typed clients.
        for accept in [
            "application/vnd.kubernetes.protobuf, */*",
            "application/vnd.kubernetes.protobuf,application/json",
            "application/vnd.kubernetes.protobuf;stream=watch",
        ] {
            assert_eq!(
                negotiate(Some(accept), true).unwrap(),
                (Format::Protobuf, Conversion::None),
                "{accept}"
            );
        }
        // Without a message: the next acceptable type, else 406.
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf, */*"), false).unwrap(),
            (Format::Json, Conversion::None)
        );
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf"), false)
                .unwrap_err()
                .code,
            406
        );
        // Metadata-only clients (garbage collector, namespace controller) may get protobuf;
        // Tables are JSON/YAML only.
        assert_eq!(
            negotiate(
                Some("application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"),
                true
            )
            .unwrap(),
            (Format::Protobuf, Conversion::Metadata("v1"))
        );
        assert_eq!(
            negotiate(
                Some("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json"),
                true
            )
            .unwrap(),
            (Format::Json, Conversion::None)
        );
        assert_eq!(
            negotiate(
                Some("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io"),
                true
            )
            .unwrap_err()
            .code,
            406
        );
    }
}
