//! CustomResourceDefinition (apiextensions.k8s.io/v1) validation, following upstream's
//! `apiextensions-apiserver/pkg/apis/apiextensions/validation`: names, group, scope, versions
//! (exactly one storage version, unique DNS-1035 names), structural schemas, subresources,
//! printer columns, selectable fields and conversion.
//!
//! Skipped (accepted without the upstream check): CEL rule compilation and cost limits
//! (`x-kubernetes-validations` is only checked for a non-empty `rule`), the "per-version fields may
//! not all be identical" rule (a v1beta1 concern), the metadata-in-schema restrictions beyond
//! `metadata` having no properties other than name/generateName, default values being validated
//! against their own schema, and `status.storedVersions` checks on update.

use serde_json::Value;

use super::formats;
use super::util::{
    child, duplicate, forbidden, index, invalid, invalid_each, not_supported, required, Errs,
};
use super::webhook;

const COLUMN_TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];
const COLUMN_FORMATS: &[&str] = &[
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
];
const SCHEMA_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

pub(crate) fn validate_crd(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
    let group = s(&spec, "group");
    let names = spec.get("names").cloned().unwrap_or(Value::Null);
    let plural = s(&names, "plural");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name != format!("{plural}.{group}") {
        errs.push(invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    // group
    if group.is_empty() {
        errs.push(required("spec.group", ""));
    } else {
        let msgs = formats::dns1123_subdomain(group);
        if !msgs.is_empty() {
            errs.push(invalid("spec.group", group, msgs.join(",")));
        } else if group.split('.').count() < 2 {
            errs.push(invalid(
                "spec.group",
                group,
                "should be a domain with at least one dot",
            ));
        }
    }
    // scope
    match spec.get("scope").and_then(Value::as_str) {
        None | Some("") => errs.push(required("spec.scope", "")),
        Some("Cluster" | "Namespaced") => {}
        Some(other) => errs.push(not_supported(
            "spec.scope",
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    validate_names(&names, "spec.names", errs);
    validate_versions(&spec, errs);
    validate_conversion(&spec, old, errs);
    if spec.get("preserveUnknownFields").and_then(Value::as_bool) == Some(true) {
        errs.push(invalid(
            "spec.preserveUnknownFields",
            true,
            "must be false in order to use defaults in the schema",
        ));
    }
    if let Some(old) = old {
        for f in ["scope", "group"] {
            let (a, b) = (s(&spec, f), old.pointer(&format!("/spec/{f}")));
            if b.and_then(Value::as_str).is_some_and(|b| b != a) && f == "group" {
                errs.push(invalid(format!("spec.{f}"), a, "field is immutable"));
            }
        }
    }
}

/// `spec.conversion`, as upstream's `validateCustomResourceConversion` (field paths name the
/// internal version's `webhookClientConfig` and `conversionReviewVersions`, as upstream's do).
fn validate_conversion(spec: &Value, old: Option<&Value>, errs: &mut Errs) {
    let Some(conversion) = spec.get("conversion").filter(|c| !c.is_null()) else {
        return;
    };
    let webhook = conversion.get("webhook").filter(|w| !w.is_null());
    let client_config = webhook
        .and_then(|w| w.get("clientConfig"))
        .filter(|c| !c.is_null());
    let versions: Vec<(usize, &str)> = webhook
        .and_then(|w| w.get("conversionReviewVersions"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_str().map(|s| (i, s)))
                .collect()
        })
        .unwrap_or_default();
    match conversion.get("strategy").and_then(Value::as_str) {
        Some("Webhook") => {
            let path = "spec.conversion.webhookClientConfig";
            match client_config {
                None => errs.push(required(path, "required when strategy is set to Webhook")),
                Some(cc) => {
                    webhook::validate_client_config(Some(cc), path, errs);
                    // An invalid CA bundle is kept only where it already was (or before the
                    // CRD is established), as upstream.
                    let allow_invalid = old.is_none_or(|o| {
                        !established(o)
                            || o.pointer("/spec/conversion/webhook/clientConfig/caBundle")
                                .and_then(Value::as_str)
                                .and_then(webhook::decode_base64)
                                .is_some_and(|b| webhook::ca_bundle_certificates(&b).is_err())
                    });
                    if !allow_invalid {
                        webhook::validate_ca_bundle(cc, path, errs);
                    }
                }
            }
            let require_recognized = old.is_none_or(|o| {
                let old_versions: Vec<&str> = o
                    .pointer("/spec/conversion/webhook/conversionReviewVersions")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                old_versions.is_empty()
                    || old_versions
                        .iter()
                        .any(|v| webhook::REVIEW_VERSIONS.contains(v))
            });
            webhook::validate_review_versions(
                &versions,
                !versions.is_empty(),
                require_recognized,
                "",
                "spec.conversion.conversionReviewVersions",
                errs,
            );
        }
        None | Some("None") => {
            if client_config.is_some() {
                errs.push(forbidden(
                    "spec.conversion.webhookClientConfig",
                    "should not be set when strategy is not set to Webhook",
                ));
            }
            if !versions.is_empty() {
                errs.push(forbidden(
                    "spec.conversion.conversionReviewVersions",
                    "should not be set when strategy is not set to Webhook",
                ));
            }
        }
        Some(other) => errs.push(not_supported(
            "spec.conversion.strategy",
            other,
            &["None", "Webhook"],
        )),
    }
}

fn established(crd: &Value) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Established")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

fn dns1035(v: &str) -> Vec<String> {
    formats::dns1035_label(v)
}

fn validate_names(names: &Value, path: &str, errs: &mut Errs) {
    let plural = s(names, "plural");
    let singular = s(names, "singular");
    let kind = s(names, "kind");
    let list_kind = s(names, "listKind");
    if plural.is_empty() {
        errs.push(required(child(path, "plural"), ""));
    } else {
        let m = dns1035(plural);
        if !m.is_empty() {
            errs.push(invalid(child(path, "plural"), plural, m.join(",")));
        }
    }
    if singular.is_empty() {
        errs.push(required(child(path, "singular"), ""));
    } else {
        let m = dns1035(singular);
        if !m.is_empty() {
            errs.push(invalid(child(path, "singular"), singular, m.join(",")));
        }
    }
    if kind.is_empty() {
        errs.push(required(child(path, "kind"), ""));
    } else {
        let m = dns1035(&kind.to_ascii_lowercase());
        if !m.is_empty() {
            errs.push(invalid(
                child(path, "kind"),
                kind,
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    m.join(",")
                ),
            ));
        }
    }
    if list_kind.is_empty() {
        errs.push(required(child(path, "listKind"), ""));
    } else {
        let m = dns1035(&list_kind.to_ascii_lowercase());
        if !m.is_empty() {
            errs.push(invalid(
                child(path, "listKind"),
                list_kind,
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    m.join(",")
                ),
            ));
        }
    }
    if !kind.is_empty() && kind == list_kind {
        errs.push(invalid(
            child(path, "listKind"),
            list_kind,
            "kind and listKind may not be the same",
        ));
    }
    for (field, _) in [("shortNames", ()), ("categories", ())] {
        if let Some(a) = names.get(field).and_then(Value::as_array) {
            for (i, x) in a.iter().enumerate() {
                let x = x.as_str().unwrap_or_default();
                let m = dns1035(x);
                if !m.is_empty() {
                    invalid_each(errs, &index(&child(path, field), i), x, vec![m.join(",")]);
                }
            }
        }
    }
}

fn validate_versions(spec: &Value, errs: &mut Errs) {
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errs.push(required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut storage = 0;
    let mut unique = true;
    for (i, v) in versions.iter().enumerate() {
        let path = index("spec.versions", i);
        let name = s(v, "name");
        if seen.contains(&name) {
            unique = false;
        }
        seen.push(name);
        if v.get("storage").and_then(Value::as_bool) == Some(true) {
            storage += 1;
        }
        let m = dns1035(name);
        if !m.is_empty() {
            errs.push(invalid(child(&path, "name"), name, m.join(",")));
        }
        let schema_path = child(&path, "schema.openAPIV3Schema");
        match v.pointer("/schema/openAPIV3Schema") {
            None | Some(Value::Null) => errs.push(required(schema_path.clone(), "")),
            Some(schema) => {
                match schema.get("type").and_then(Value::as_str) {
                    None | Some("") => errs.push(required(
                        child(&schema_path, "type"),
                        "must not be empty at the root",
                    )),
                    Some("object") => {}
                    Some(t) => errs.push(invalid(
                        child(&schema_path, "type"),
                        t,
                        "must be object at the root",
                    )),
                }
                if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
                    errs.push(forbidden(
                        child(&schema_path, "nullable"),
                        "nullable cannot be true at the root",
                    ));
                }
                let before = errs.len();
                validate_schema(schema, &schema_path, true, errs);
                // CEL rules are compiled only against an otherwise valid schema (as upstream:
                // errors from an invalid schema's types would not be actionable).
                if errs.len() == before {
                    crate::crd::cel::check_schema_rules(schema, &schema_path, errs);
                }
                if let Some(meta) = schema.pointer("/properties/metadata/properties") {
                    if let Some(m) = meta.as_object() {
                        if m.keys().any(|k| k != "name" && k != "generateName") {
                            errs.push(forbidden(
                                child(&schema_path, "properties[metadata]"),
                                "must not specify anything other than name and generateName, but metadata is implicitly specified",
                            ));
                        }
                    }
                }
            }
        }
        validate_subresources(v.get("subresources"), &child(&path, "subresources"), errs);
        if let Some(cols) = v.get("additionalPrinterColumns").and_then(Value::as_array) {
            for (j, c) in cols.iter().enumerate() {
                let cp = index(&child(&path, "additionalPrinterColumns"), j);
                if s(c, "name").is_empty() {
                    errs.push(required(child(&cp, "name"), ""));
                }
                let t = s(c, "type");
                let types = format!("must be one of {}", COLUMN_TYPES.join(","));
                if t.is_empty() {
                    errs.push(required(child(&cp, "type"), &types));
                } else if !COLUMN_TYPES.contains(&t) {
                    errs.push(invalid(child(&cp, "type"), t, types));
                }
                let f = s(c, "format");
                if !f.is_empty() && !COLUMN_FORMATS.contains(&f) {
                    errs.push(invalid(
                        child(&cp, "format"),
                        f,
                        format!("must be one of {}", COLUMN_FORMATS.join(",")),
                    ));
                }
                let jp = s(c, "jsonPath");
                if jp.is_empty() {
                    errs.push(required(child(&cp, "JSONPath"), ""));
                } else if crate::crd::json_path_pointer(jp).is_none() {
                    errs.push(invalid(
                        child(&cp, "JSONPath"),
                        jp,
                        "this server supports simple paths only (.a.b[0].c)",
                    ));
                }
            }
        }
        if let Some(fields) = v.get("selectableFields").and_then(Value::as_array) {
            let mut seen_paths: Vec<&str> = Vec::new();
            for (j, f) in fields.iter().enumerate() {
                let fp = child(&index(&child(&path, "selectableFields"), j), "jsonPath");
                let jp = s(f, "jsonPath");
                if jp.is_empty() {
                    errs.push(required(fp, ""));
                    continue;
                }
                match crate::crd::json_path_pointer(jp) {
                    None => errs.push(invalid(fp.clone(), jp, "is an invalid path")),
                    Some(p) if p.starts_with("/metadata") => errs.push(invalid(
                        fp.clone(),
                        jp,
                        "must not point to fields in metadata",
                    )),
                    Some(p) => {
                        let t = v
                            .pointer("/schema/openAPIV3Schema")
                            .and_then(|sch| schema_at(sch, &p))
                            .and_then(|x| x.get("type"))
                            .and_then(Value::as_str);
                        if !matches!(t, Some("string" | "boolean" | "integer")) {
                            errs.push(invalid(fp.clone(), jp, "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed."));
                        }
                    }
                }
                if seen_paths.contains(&jp) {
                    errs.push(duplicate(fp, jp));
                }
                seen_paths.push(jp);
            }
        }
    }
    if !unique {
        errs.push(invalid(
            "spec.versions",
            Value::Array(versions.clone()),
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        errs.push(invalid(
            "spec.versions",
            Value::Array(versions),
            "must have exactly one version marked as storage version",
        ));
    }
}

/// The schema node a JSON pointer (`/spec/color`) leads to.
fn schema_at<'a>(schema: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut cur = schema;
    for seg in pointer.split('/').skip(1) {
        cur = if seg.parse::<usize>().is_ok() {
            cur.get("items")?
        } else {
            cur.get("properties")?.get(seg)?
        };
    }
    Some(cur)
}

fn validate_subresources(sub: Option<&Value>, path: &str, errs: &mut Errs) {
    let Some(scale) = sub.and_then(|s| s.get("scale")) else {
        return;
    };
    let p = child(path, "scale");
    let spec_path = s(scale, "specReplicasPath");
    if spec_path.is_empty() {
        errs.push(required(child(&p, "specReplicasPath"), ""));
    } else if !crate::crd::json_path_pointer(spec_path).is_some_and(|x| x.starts_with("/spec/")) {
        errs.push(invalid(
            child(&p, "specReplicasPath"),
            spec_path,
            "should be a json path under .spec",
        ));
    }
    let status_path = s(scale, "statusReplicasPath");
    if status_path.is_empty() {
        errs.push(required(child(&p, "statusReplicasPath"), ""));
    } else if !crate::crd::json_path_pointer(status_path).is_some_and(|x| x.starts_with("/status/"))
    {
        errs.push(invalid(
            child(&p, "statusReplicasPath"),
            status_path,
            "should be a json path under .status",
        ));
    }
    let sel = s(scale, "labelSelectorPath");
    if !sel.is_empty()
        && !crate::crd::json_path_pointer(sel)
            .is_some_and(|x| x.starts_with("/spec/") || x.starts_with("/status/"))
    {
        errs.push(invalid(
            child(&p, "labelSelectorPath"),
            sel,
            "should be a json path under either .spec or .status",
        ));
    }
}

/// The structural-schema rules: every specified field has a type (unless it preserves unknown
/// fields or is int-or-string), supported types only, unsupported keywords forbidden, list and map
/// type extensions consistent.
fn validate_schema(schema: &Value, path: &str, root: bool, errs: &mut Errs) {
    let Some(m) = schema.as_object() else {
        errs.push(invalid(path, schema.clone(), "must be an object"));
        return;
    };
    if let Some(t) = m.get("type").and_then(Value::as_str) {
        if t == "null" {
            errs.push(forbidden(
                child(path, "type"),
                "type cannot be set to null, use nullable as an alternative",
            ));
        } else if !SCHEMA_TYPES.contains(&t) {
            errs.push(not_supported(child(path, "type"), t, SCHEMA_TYPES));
        }
    }
    for (k, msg) in [
        ("id", "id is not supported"),
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ] {
        if m.contains_key(k) {
            errs.push(forbidden(child(path, k), msg));
        }
    }
    if m.get("items").is_some_and(Value::is_array) {
        errs.push(forbidden(
            child(path, "items"),
            "items must be a schema object and not an array",
        ));
    }
    if m.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
        errs.push(forbidden(
            child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    if m.contains_key("properties")
        && m.get("additionalProperties")
            .is_some_and(|a| a != &Value::Bool(false))
    {
        errs.push(forbidden(
            child(path, "additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        ));
    }
    if m.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errs.push(invalid(
            child(path, "x-kubernetes-preserve-unknown-fields"),
            false,
            "must be true or undefined",
        ));
    }
    if let Some(lt) = m.get("x-kubernetes-list-type").and_then(Value::as_str) {
        if m.get("type").and_then(Value::as_str) != Some("array") {
            errs.push(invalid(
                child(path, "type"),
                s(schema, "type"),
                "must be array if x-kubernetes-list-type is specified",
            ));
        }
        if !matches!(lt, "atomic" | "set" | "map") {
            errs.push(not_supported(
                child(path, "x-kubernetes-list-type"),
                lt,
                &["atomic", "set", "map"],
            ));
        }
        if lt == "map" {
            let keys = m
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if keys.is_empty() {
                errs.push(required(
                    child(path, "x-kubernetes-list-map-keys"),
                    "must not be empty if x-kubernetes-list-type is map",
                ));
            }
            match m.get("items") {
                None => errs.push(required(
                    child(path, "items"),
                    "must have a schema if x-kubernetes-list-type is map",
                )),
                Some(items) => {
                    if s(items, "type") != "object" {
                        errs.push(invalid(
                            child(&child(path, "items"), "type"),
                            s(items, "type"),
                            "must be object if parent array's x-kubernetes-list-type is map",
                        ));
                    }
                    for k in keys.iter().filter_map(Value::as_str) {
                        if items.pointer(&format!("/properties/{k}")).is_none() {
                            errs.push(invalid(
                                child(path, "x-kubernetes-list-map-keys"),
                                Value::Array(keys.clone()),
                                "entries must all be names of item properties",
                            ));
                            break;
                        }
                    }
                }
            }
        }
    } else if m.contains_key("x-kubernetes-list-map-keys") {
        errs.push(required(
            child(path, "x-kubernetes-list-type"),
            "must be map if x-kubernetes-list-map-keys is non-empty",
        ));
    }
    if let Some(mt) = m.get("x-kubernetes-map-type").and_then(Value::as_str) {
        if !matches!(mt, "atomic" | "granular") {
            errs.push(not_supported(
                child(path, "x-kubernetes-map-type"),
                mt,
                &["atomic", "granular"],
            ));
        }
    }
    if let Some(rules) = m.get("x-kubernetes-validations").and_then(Value::as_array) {
        for (i, r) in rules.iter().enumerate() {
            let rp = index(&child(path, "x-kubernetes-validations"), i);
            let (rule, msg) = (s(r, "rule"), s(r, "message"));
            let newline = |x: &str| x.contains(['\n', '\r']);
            if rule.trim().is_empty() {
                errs.push(required(child(&rp, "rule"), "rule is not specified"));
            } else if !msg.is_empty() && msg.trim().is_empty() {
                errs.push(invalid(
                    child(&rp, "message"),
                    msg,
                    "must be non-empty if specified",
                ));
            } else if newline(msg.trim()) {
                errs.push(invalid(
                    child(&rp, "message"),
                    msg,
                    "must not contain line breaks",
                ));
            } else if newline(rule.trim()) && msg.trim().is_empty() {
                errs.push(required(
                    child(&rp, "message"),
                    "message must be specified if rule contains line breaks",
                ));
            }
            let me = s(r, "messageExpression");
            if !me.is_empty() && me.trim().is_empty() {
                errs.push(required(
                    child(&rp, "messageExpression"),
                    "messageExpression must be non-empty if specified",
                ));
            }
            if let Some(reason) = r.get("reason").and_then(Value::as_str) {
                const REASONS: &[&str] = &[
                    "FieldValueDuplicate",
                    "FieldValueForbidden",
                    "FieldValueInvalid",
                    "FieldValueRequired",
                ];
                if !REASONS.contains(&reason) {
                    errs.push(not_supported(child(&rp, "reason"), reason, REASONS));
                }
            }
            let fp = s(r, "fieldPath");
            if !fp.is_empty() && fp.trim().is_empty() {
                errs.push(invalid(
                    child(&rp, "fieldPath"),
                    fp,
                    "must be non-empty if specified",
                ));
            }
            if newline(fp) {
                errs.push(invalid(
                    child(&rp, "fieldPath"),
                    fp,
                    "must not contain line breaks",
                ));
            }
            if !fp.trim().is_empty() && crate::crd::cel::valid_field_path(fp, schema).is_err() {
                errs.push(invalid(child(&rp, "fieldPath"), fp, "must be a valid path"));
            }
        }
    }
    if m.get("x-kubernetes-embedded-resource")
        .and_then(Value::as_bool)
        == Some(true)
        && m.get("type").and_then(Value::as_str) != Some("object")
    {
        errs.push(required(
            child(path, "type"),
            "must be object if x-kubernetes-embedded-resource is true",
        ));
    }
    if let Some(pattern) = m.get("pattern").and_then(Value::as_str) {
        if regex::Regex::new(pattern).is_err() {
            errs.push(invalid(
                child(path, "pattern"),
                pattern,
                "must be a valid regular expression",
            ));
        }
    }
    let typeless = |sub: &Value| {
        sub.get("type")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            && sub
                .get("x-kubernetes-int-or-string")
                .and_then(Value::as_bool)
                != Some(true)
            && sub
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                != Some(true)
    };
    if let Some(props) = m.get("properties").and_then(Value::as_object) {
        for (k, sub) in props {
            let p = format!("{path}.properties[{k}]");
            if root && matches!(k.as_str(), "metadata" | "apiVersion" | "kind") {
                // Implicitly specified; still must be well-formed.
                if sub.is_object() && !typeless(sub) {
                    validate_schema(sub, &p, false, errs);
                }
                continue;
            }
            if typeless(sub) {
                errs.push(required(
                    child(&p, "type"),
                    "must not be empty for specified object fields",
                ));
            }
            validate_schema(sub, &p, false, errs);
        }
    }
    if let Some(items @ Value::Object(_)) = m.get("items") {
        let p = child(path, "items");
        if typeless(items) {
            errs.push(required(
                child(&p, "type"),
                "must not be empty for specified array items",
            ));
        }
        validate_schema(items, &p, false, errs);
    }
    if let Some(a @ Value::Object(_)) = m.get("additionalProperties") {
        let p = child(path, "additionalProperties");
        if typeless(a) {
            errs.push(required(
                child(&p, "type"),
                "must not be empty for specified object fields",
            ));
        }
        validate_schema(a, &p, false, errs);
    }
    if m.get("type").and_then(Value::as_str) == Some("array") && !m.contains_key("items") {
        errs.push(required(child(path, "items"), "must be specified"));
    }
}

#[cfg(test)]
mod tests {
    use crate::validation::validate_create;
    use serde_json::json;

    fn crd() -> serde_json::Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"size": {"type": "string"}}}}}}}]}
        })
    }

    fn messages(obj: &serde_json::Value) -> Vec<String> {
        validate_create(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            false,
            obj,
        )
        .iter()
        .map(|e| e.message())
        .collect()
    }

    #[test]
    fn a_good_crd_passes() {
        assert_eq!(messages(&crd()), Vec::<String>::new());
    }

    #[test]
    fn upstream_rules() {
        let mut c = crd();
        c["metadata"]["name"] = json!("gadgets.example.com");
        c["spec"]["versions"][0]["storage"] = json!(false);
        c["spec"]["names"]["plural"] = json!("Widgets");
        c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
            ["x"] = json!({});
        c["spec"]["scope"] = json!("Global");
        let m = messages(&c);
        let has = |s: &str| m.iter().any(|x| x.starts_with(s));
        assert!(has("metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group"), "{m:?}");
        assert!(has("spec.versions: Invalid value:"), "{m:?}");
        assert!(
            has("spec.names.plural: Invalid value: \"Widgets\""),
            "{m:?}"
        );
        assert!(has("spec.scope: Unsupported value: \"Global\""), "{m:?}");
        assert!(has("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x].type: Required value: must not be empty for specified object fields"), "{m:?}");
        let mut c = crd();
        c["spec"]["group"] = json!("example");
        c["metadata"]["name"] = json!("widgets.example");
        assert!(messages(&c)
            .iter()
            .any(|m| m.contains("should be a domain with at least one dot")));
    }
}
