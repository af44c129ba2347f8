//! MutatingWebhookConfiguration and ValidatingWebhookConfiguration (admissionregistration.k8s.io/v1)
//! validation, following upstream's `pkg/apis/admissionregistration/validation` and the webhook
//! client checks of `k8s.io/apiserver/pkg/util/webhook` (URL, service reference, CA bundle), which
//! CustomResourceDefinition conversion webhooks share.
//! `matchConditions` are compiled (and type-checked to bool) with the CEL engine, as upstream.

use serde_json::Value;

use super::formats;
use super::util::*;
use super::workloads::validate_label_selector;

/// The AdmissionReview (and ConversionReview) versions this server speaks.
pub const REVIEW_VERSIONS: &[&str] = &["v1", "v1beta1"];

/// The parts of a webhook URL, split as Go's `net/url.Parse` splits them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl<'a> {
    pub scheme: &'a str,
    /// User information (`user:pass@`), which webhook URLs may not have.
    pub user: Option<&'a str>,
    /// `host[:port]` (an IPv6 host in brackets).
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub fragment: &'a str,
}

impl WebhookUrl<'_> {
    /// The host without brackets and the port, if one is given.
    pub fn host_port(&self) -> (&str, Option<&str>) {
        let h = self.host;
        if let Some(rest) = h.strip_prefix('[') {
            if let Some((ip, tail)) = rest.split_once(']') {
                return (ip, tail.strip_prefix(':').filter(|p| !p.is_empty()));
            }
        }
        match h.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => {
                (host, Some(port).filter(|p| !p.is_empty()))
            }
            _ => (h, None),
        }
    }
}

/// Splits a URL as Go's `url.Parse` does for absolute URLs; `Err` for text Go refuses to parse
/// (control characters, a scheme that does not start with a letter).
///
/// ```
/// use k3rs_apis::validation::parse_webhook_url;
/// let u = parse_webhook_url("https://127.0.0.1:8443/validate?x=1").unwrap();
/// assert_eq!((u.scheme, u.host, u.path, u.query), ("https", "127.0.0.1:8443", "/validate", "x=1"));
/// assert_eq!(u.host_port(), ("127.0.0.1", Some("8443")));
/// ```
pub fn parse_webhook_url(s: &str) -> Result<WebhookUrl<'_>, String> {
    if s.chars().any(|c| (c as u32) < 0x20 || c as u32 == 0x7f) {
        return Err(format!(
            "parse {}: net/url: invalid control character in URL",
            go_quote(s)
        ));
    }
    let (rest, fragment) = s.split_once('#').unwrap_or((s, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    // A scheme is letters, digits, '+', '-', '.' before the first ':', starting with a letter.
    let (scheme, rest) = match rest.find(':') {
        Some(i)
            if rest[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            let sch = &rest[..i];
            if sch.is_empty() {
                return Err(format!("parse {}: missing protocol scheme", go_quote(s)));
            }
            if !sch.as_bytes()[0].is_ascii_alphabetic() {
                return Err(format!(
                    "parse {}: first path segment in URL cannot contain colon",
                    go_quote(s)
                ));
            }
            (sch, &rest[i + 1..])
        }
        _ => ("", rest),
    };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(r) => match r.find('/') {
            Some(i) => (&r[..i], &r[i..]),
            None => (r, ""),
        },
        None => ("", rest),
    };
    let (user, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if host.contains(' ') {
        return Err(format!(
            "parse {}: invalid character \" \" in host name",
            go_quote(s)
        ));
    }
    Ok(WebhookUrl {
        scheme,
        user,
        host,
        path,
        query,
        fragment,
    })
}

/// Upstream's `ValidateWebhookURL` (with HTTPS forced).
pub(crate) fn validate_webhook_url(url: &str, path: &str, errs: &mut Errs) {
    const FORM: &str = "; desired format: https://host[/path]";
    match parse_webhook_url(url) {
        Err(e) => errs.push(required(
            path,
            &format!("url must be a valid URL: {e}{FORM}"),
        )),
        Ok(u) => {
            if u.scheme != "https" {
                errs.push(invalid(
                    path,
                    u.scheme,
                    format!("'https' is the only allowed URL scheme{FORM}"),
                ));
            }
            if u.host.is_empty() {
                errs.push(invalid(
                    path,
                    u.host,
                    format!("host must be specified{FORM}"),
                ));
            }
            if let Some(user) = u.user {
                errs.push(invalid(
                    path,
                    user,
                    "user information is not permitted in the URL",
                ));
            }
            if !u.fragment.is_empty() {
                errs.push(invalid(
                    path,
                    u.fragment,
                    "fragments are not permitted in the URL",
                ));
            }
            if !u.query.is_empty() {
                errs.push(invalid(
                    path,
                    u.query,
                    "query parameters are not permitted in the URL",
                ));
            }
        }
    }
}

/// Upstream's `ValidateWebhookService`; `service` is the reference object at `path`.
pub(crate) fn validate_webhook_service(service: &Value, path: &str, errs: &mut Errs) {
    if str_or_empty(service, "name", path, errs).is_empty() {
        errs.push(required(child(path, "name"), ""));
    }
    if str_or_empty(service, "namespace", path, errs).is_empty() {
        errs.push(required(child(path, "namespace"), ""));
    }
    // Defaulted to 443; an explicit value must be a valid port.
    if let Some(port) = get_i32(service, "port", path, errs) {
        let msgs = formats::port_num(port);
        if !msgs.is_empty() {
            errs.push(invalid(
                child(path, "port"),
                port,
                format!("port is not valid: {}", msgs.join(", ")),
            ));
        }
    }
    let Some(url_path) = get_str(service, "path", path, errs) else {
        return;
    };
    let field = child(path, "path");
    if url_path == "/" || url_path.is_empty() {
        return;
    }
    if url_path == "//" {
        errs.push(invalid(&field, url_path, "segment[0] may not be empty"));
        return;
    }
    if !url_path.starts_with('/') {
        errs.push(invalid(&field, url_path, "must start with a '/'"));
    }
    let mut check = url_path.get(1..).unwrap_or("");
    if let Some(c) = check.strip_suffix('/') {
        check = c;
    }
    for (i, step) in check.split('/').enumerate() {
        if step.is_empty() {
            errs.push(invalid(
                &field,
                url_path,
                format!("segment[{i}] may not be empty"),
            ));
            continue;
        }
        for failure in formats::dns1123_subdomain(step) {
            errs.push(invalid(
                &field,
                url_path,
                format!("segment[{i}]: {failure}"),
            ));
        }
    }
}

/// The certificates of a PEM bundle: how many there are, or why it is not one (the message Go's
/// `x509.CertPool.AppendCertsFromPEM` failure gives through client-go).
pub fn ca_bundle_certificates(pem: &[u8]) -> Result<usize, String> {
    let text = String::from_utf8_lossy(pem);
    let mut n = 0;
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let after = &rest[start..];
        match after.find("-----END CERTIFICATE-----") {
            Some(end) => {
                n += 1;
                rest = &after[end + 25..];
            }
            None => break,
        }
    }
    if n == 0 {
        Err("unable to load root certificates: unable to parse bytes as PEM block".into())
    } else {
        Ok(n)
    }
}

/// Upstream's `ValidateCABundle` on a base64 `caBundle` member at `path`.
pub(crate) fn validate_ca_bundle(cc: &Value, path: &str, errs: &mut Errs) {
    let Some(b64) = get_str(cc, "caBundle", path, errs) else {
        return;
    };
    if b64.is_empty() {
        return;
    }
    let field = child(path, "caBundle");
    match decode_base64(b64) {
        None => errs.push(invalid(
            &field,
            b64,
            "must be base64-encoded PEM certificates",
        )),
        Some(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => {}
        Some(bytes) => {
            if let Err(e) = ca_bundle_certificates(&bytes) {
                errs.push(invalid(&field, b64, e));
            }
        }
    }
}

/// Standard base64 (with or without padding) as Go's `[]byte` JSON fields carry it.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let t = s.trim();
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(t.trim_end_matches('='))
        })
        .ok()
}

/// A webhook's `clientConfig`: exactly one of `url` and `service`.
pub(crate) fn validate_client_config(cc: Option<&Value>, path: &str, errs: &mut Errs) {
    let empty = Value::Null;
    let cc = cc.unwrap_or(&empty);
    let url = get_str(cc, "url", path, errs);
    let service = get_object(cc, "service", path, errs);
    match (url, service) {
        (Some(u), None) => validate_webhook_url(u, &child(path, "url"), errs),
        (None, Some(s)) => validate_webhook_service(s, &child(path, "service"), errs),
        _ => errs.push(required(path, "exactly one of url or service is required")),
    }
}

/// The review versions of a webhook (`admissionReviewVersions`, `conversionReviewVersions`).
pub(crate) fn validate_review_versions(
    versions: &[(usize, &str)],
    present: bool,
    require_recognized: bool,
    required_detail: &str,
    path: &str,
    errs: &mut Errs,
) {
    if !present || versions.is_empty() {
        errs.push(required(path, required_detail));
        return;
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut recognized = false;
    for (i, v) in versions {
        if seen.contains(v) {
            errs.push(invalid(index(path, *i), *v, "duplicate version"));
            continue;
        }
        seen.push(v);
        invalid_each(errs, &index(path, *i), v, formats::dns1035_label(v));
        if REVIEW_VERSIONS.contains(v) {
            recognized = true;
        }
    }
    if require_recognized && !recognized {
        let all: Vec<Value> = versions.iter().map(|(_, v)| Value::from(*v)).collect();
        errs.push(invalid(
            path,
            Value::Array(all),
            format!(
                "must include at least one of {}",
                REVIEW_VERSIONS.join(", ")
            ),
        ));
    }
}

/// What an update relaxes (upstream lets an update keep what the old object already had).
struct Options {
    require_no_side_effects: bool,
    require_recognized_review_version: bool,
    require_unique_names: bool,
    /// The old object's match conditions, per webhook index; `None` on create.
    old_match_conditions: Option<Vec<Option<Value>>>,
}

fn webhooks(obj: &Value) -> Vec<&Value> {
    obj.get("webhooks")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn options(old: Option<&Value>) -> Options {
    let Some(old) = old else {
        return Options {
            require_no_side_effects: true,
            require_recognized_review_version: true,
            require_unique_names: true,
            old_match_conditions: None,
        };
    };
    let hooks = webhooks(old);
    let mut names: Vec<&str> = Vec::new();
    let mut unique = true;
    for h in &hooks {
        let n = h.get("name").and_then(Value::as_str).unwrap_or("");
        if names.contains(&n) {
            unique = false;
        }
        names.push(n);
    }
    Options {
        require_no_side_effects: hooks.iter().all(|h| {
            matches!(
                h.get("sideEffects").and_then(Value::as_str),
                Some("None" | "NoneOnDryRun")
            )
        }),
        require_recognized_review_version: hooks.iter().all(|h| {
            let vs: Vec<&str> = h
                .get("admissionReviewVersions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            vs.is_empty() || vs.iter().any(|v| REVIEW_VERSIONS.contains(v))
        }),
        require_unique_names: unique,
        old_match_conditions: Some(
            hooks
                .iter()
                .map(|h| h.get("matchConditions").cloned())
                .collect(),
        ),
    }
}

/// `MutatingWebhookConfiguration` (`mutating`) or `ValidatingWebhookConfiguration`.
pub(crate) fn validate_configuration(
    obj: &Value,
    old: Option<&Value>,
    mutating: bool,
    errs: &mut Errs,
) {
    let opts = options(old);
    // Match conditions that did not change (same number of webhooks, same conditions each) are
    // not checked again, as upstream.
    let new_conds: Vec<Option<Value>> = webhooks(obj)
        .iter()
        .map(|h| h.get("matchConditions").cloned())
        .collect();
    let ignore_match_conditions = opts
        .old_match_conditions
        .as_ref()
        .is_some_and(|old| *old == new_conds);
    let mut names: Vec<String> = Vec::new();
    for (i, path, hook) in object_items(obj, "webhooks", "", errs) {
        validate_webhook(hook, &path, mutating, &opts, ignore_match_conditions, errs);
        let versions = string_items(hook, "admissionReviewVersions", &path, errs);
        validate_review_versions(
            &versions,
            has(hook, "admissionReviewVersions"),
            opts.require_recognized_review_version,
            &format!("must specify one of {}", REVIEW_VERSIONS.join(", ")),
            &child(&path, "admissionReviewVersions"),
            errs,
        );
        let name = hook.get("name").and_then(Value::as_str).unwrap_or("");
        if opts.require_unique_names && !name.is_empty() {
            if names.iter().any(|n| n == name) {
                errs.push(duplicate(child(&index("webhooks", i), "name"), name));
            } else {
                names.push(name.to_string());
            }
        }
    }
}

fn validate_webhook(
    hook: &Value,
    path: &str,
    mutating: bool,
    opts: &Options,
    ignore_match_conditions: bool,
    errs: &mut Errs,
) {
    // The name must be fully qualified.
    let name = str_or_empty(hook, "name", path, errs);
    let name_path = child(path, "name");
    if name.is_empty() {
        errs.push(required(&name_path, ""));
    } else {
        let msgs = formats::dns1123_subdomain(name);
        if !msgs.is_empty() {
            errs.push(invalid(&name_path, name, msgs.join(",")));
        } else if name.split('.').count() < 3 {
            errs.push(invalid(
                &name_path,
                name,
                "should be a domain with at least three segments separated by dots",
            ));
        }
    }
    for (_, rp, rule) in object_items(hook, "rules", path, errs) {
        validate_rule_with_operations(rule, &rp, errs);
    }
    if let Some(fp) = get_str(hook, "failurePolicy", path, errs) {
        if !["Fail", "Ignore"].contains(&fp) {
            errs.push(not_supported(
                child(path, "failurePolicy"),
                fp,
                &["Fail", "Ignore"],
            ));
        }
    }
    if let Some(mp) = get_str(hook, "matchPolicy", path, errs) {
        if !["Equivalent", "Exact"].contains(&mp) {
            errs.push(not_supported(
                child(path, "matchPolicy"),
                mp,
                &["Equivalent", "Exact"],
            ));
        }
    }
    let allowed: &[&str] = if opts.require_no_side_effects {
        &["None", "NoneOnDryRun"]
    } else {
        &["None", "NoneOnDryRun", "Some", "Unknown"]
    };
    match get_str(hook, "sideEffects", path, errs) {
        None => errs.push(required(
            child(path, "sideEffects"),
            &format!("must specify one of {}", allowed.join(", ")),
        )),
        Some(se) if !allowed.contains(&se) => {
            errs.push(not_supported(child(path, "sideEffects"), se, allowed))
        }
        Some(_) => {}
    }
    if let Some(t) = get_i32(hook, "timeoutSeconds", path, errs) {
        if !(1..=30).contains(&t) {
            errs.push(invalid(
                child(path, "timeoutSeconds"),
                t,
                "the timeout value must be between 1 and 30 seconds",
            ));
        }
    }
    for sel in ["namespaceSelector", "objectSelector"] {
        if let Some(s) = get_object(hook, sel, path, errs) {
            validate_label_selector(s, &child(path, sel), errs);
        }
    }
    if mutating {
        if let Some(rp) = get_str(hook, "reinvocationPolicy", path, errs) {
            if !["IfNeeded", "Never"].contains(&rp) {
                errs.push(not_supported(
                    child(path, "reinvocationPolicy"),
                    rp,
                    &["IfNeeded", "Never"],
                ));
            }
        }
    }
    validate_client_config(
        get_object(hook, "clientConfig", path, errs),
        &child(path, "clientConfig"),
        errs,
    );
    if !ignore_match_conditions {
        validate_match_conditions(hook, path, errs);
    }
}

fn validate_match_conditions(hook: &Value, path: &str, errs: &mut Errs) {
    let conds = object_items(hook, "matchConditions", path, errs);
    let list_path = child(path, "matchConditions");
    if conds.len() > 64 {
        errs.push(too_many(&list_path, conds.len(), 64));
    }
    let mut names: Vec<&str> = Vec::new();
    for (_, cp, c) in &conds {
        let expr = str_or_empty(c, "expression", cp, errs).trim();
        if expr.is_empty() {
            errs.push(required(child(cp, "expression"), ""));
        } else {
            match crate::cel::admission::match_condition_env().compile(expr) {
                Ok(p) if p.ty != crate::cel::Type::Bool && p.ty != crate::cel::Type::Dyn => {
                    errs.push(invalid(
                        child(cp, "expression"),
                        Value::String(expr.to_string()),
                        format!("must evaluate to bool but got {}", p.ty),
                    ));
                }
                Ok(_) => {}
                Err(e) => errs.push(invalid(
                    child(cp, "expression"),
                    Value::String(expr.to_string()),
                    format!("compilation failed: {}", e.message),
                )),
            }
        }
        let name = str_or_empty(c, "name", cp, errs);
        if name.is_empty() {
            errs.push(required(child(cp, "name"), ""));
        } else {
            invalid_each(
                errs,
                &child(cp, "name"),
                name,
                formats::qualified_name(name),
            );
            if names.contains(&name) {
                errs.push(duplicate(child(cp, "name"), name));
            } else {
                names.push(name);
            }
        }
    }
}

pub(super) fn validate_rule_with_operations(rule: &Value, path: &str, errs: &mut Errs) {
    const OPS: &[&str] = &["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
    let ops = string_items(rule, "operations", path, errs);
    let ops_path = child(path, "operations");
    if ops.is_empty() {
        errs.push(required(&ops_path, ""));
    }
    if ops.len() > 1 && ops.iter().any(|(_, o)| *o == "*") {
        errs.push(invalid(
            &ops_path,
            strings_value(&ops),
            "if '*' is present, must not specify other operations",
        ));
    }
    for (i, op) in &ops {
        if !OPS.contains(op) {
            errs.push(not_supported(index(&ops_path, *i), *op, OPS));
        }
    }
    let groups = string_items(rule, "apiGroups", path, errs);
    let gp = child(path, "apiGroups");
    if groups.is_empty() {
        errs.push(required(&gp, ""));
    }
    if groups.len() > 1 && groups.iter().any(|(_, g)| *g == "*") {
        errs.push(invalid(
            &gp,
            strings_value(&groups),
            "if '*' is present, must not specify other API groups",
        ));
    }
    let versions = string_items(rule, "apiVersions", path, errs);
    let vp = child(path, "apiVersions");
    if versions.is_empty() {
        errs.push(required(&vp, ""));
    }
    if versions.len() > 1 && versions.iter().any(|(_, v)| *v == "*") {
        errs.push(invalid(
            &vp,
            strings_value(&versions),
            "if '*' is present, must not specify other API versions",
        ));
    }
    for (i, v) in &versions {
        if v.is_empty() {
            errs.push(required(index(&vp, *i), ""));
        }
    }
    let resources = string_items(rule, "resources", path, errs);
    validate_resources(&resources, &child(path, "resources"), errs);
    if let Some(scope) = get_str(rule, "scope", path, errs) {
        if !["*", "Cluster", "Namespaced"].contains(&scope) {
            errs.push(not_supported(
                child(path, "scope"),
                scope,
                &["*", "Cluster", "Namespaced"],
            ));
        }
    }
}

fn strings_value(items: &[(usize, &str)]) -> Value {
    Value::Array(items.iter().map(|(_, s)| Value::from(*s)).collect())
}

/// Upstream's `validateResources` (subresources allowed).
fn validate_resources(resources: &[(usize, &str)], path: &str, errs: &mut Errs) {
    if resources.is_empty() {
        errs.push(required(path, ""));
    }
    let mut res_with_wildcard_sub: Vec<&str> = Vec::new();
    let mut sub_with_wildcard_res: Vec<&str> = Vec::new();
    let (mut double, mut single, mut plain) = (false, false, false);
    for (i, rs) in resources {
        if rs.is_empty() {
            errs.push(required(index(path, *i), ""));
            continue;
        }
        if *rs == "*/*" {
            double = true;
        }
        if *rs == "*" {
            single = true;
        }
        let Some((res, sub)) = rs.split_once('/') else {
            plain = *rs != "*";
            continue;
        };
        if res_with_wildcard_sub.contains(&res) {
            errs.push(invalid(
                index(path, *i),
                *rs,
                format!("if '{res}/*' is present, must not specify {rs}"),
            ));
        }
        if sub_with_wildcard_res.contains(&sub) {
            errs.push(invalid(
                index(path, *i),
                *rs,
                format!("if '*/{sub}' is present, must not specify {rs}"),
            ));
        }
        if sub == "*" {
            res_with_wildcard_sub.push(res);
        }
        if res == "*" {
            sub_with_wildcard_res.push(sub);
        }
    }
    if resources.len() > 1 && double {
        errs.push(invalid(
            path,
            strings_value(resources),
            "if '*/*' is present, must not specify other resources",
        ));
    }
    if single && plain {
        errs.push(invalid(
            path,
            strings_value(resources),
            "if '*' is present, must not specify other resources without subresources",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(obj: Value, old: Option<Value>, mutating: bool) -> Vec<String> {
        let mut errs = Errs::new();
        validate_configuration(&obj, old.as_ref(), mutating, &mut errs);
        errs.iter().map(|e| e.message()).collect()
    }

    fn hook(extra: Value) -> Value {
        let mut h = json!({
            "name": "deny.example.com",
            "clientConfig": {"url": "https://127.0.0.1:8443/deny"},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"]
        });
        if let (Some(h), Some(e)) = (h.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                h.insert(k.clone(), v.clone());
            }
        }
        h
    }

    #[test]
    fn a_good_configuration_passes() {
        assert!(check(json!({"webhooks": [hook(json!({}))]}), None, true).is_empty());
    }

    #[test]
    fn upstream_messages_for_bad_webhooks() {
        let errs = check(
            json!({"webhooks": [hook(json!({
                "name": "deny",
                "sideEffects": "Some",
                "timeoutSeconds": 31,
                "admissionReviewVersions": ["v2"],
                "clientConfig": {"url": "http://x/y?z=1"},
                "rules": [{"operations": ["*", "CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["*", "pods"]}]
            })), hook(json!({"name": "deny"}))]}),
            None,
            false,
        );
        let want = [
            r#"webhooks[0].name: Invalid value: "deny": should be a domain with at least three segments separated by dots"#,
            r#"webhooks[0].rules[0].operations: Invalid value: ["*","CREATE"]: if '*' is present, must not specify other operations"#,
            r#"webhooks[0].rules[0].resources: Invalid value: ["*","pods"]: if '*' is present, must not specify other resources without subresources"#,
            r#"webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun""#,
            r#"webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds"#,
            r#"webhooks[0].clientConfig.url: Invalid value: "http": 'https' is the only allowed URL scheme; desired format: https://host[/path]"#,
            r#"webhooks[0].clientConfig.url: Invalid value: "z=1": query parameters are not permitted in the URL"#,
            r#"webhooks[0].admissionReviewVersions: Invalid value: ["v2"]: must include at least one of v1, v1beta1"#,
            r#"webhooks[1].name: Duplicate value: "deny""#,
        ];
        for w in want {
            assert!(errs.iter().any(|e| e == w), "missing {w}\nin {errs:#?}");
        }
    }

    #[test]
    fn required_fields_and_service_references() {
        let errs = check(
            json!({"webhooks": [{"name": "a.b.c", "clientConfig": {"service": {"namespace": "default", "path": "x//y", "port": 0}}}]}),
            None,
            true,
        );
        for w in [
            "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
            "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
            "webhooks[0].clientConfig.service.name: Required value",
            r#"webhooks[0].clientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive"#,
            r#"webhooks[0].clientConfig.service.path: Invalid value: "x//y": must start with a '/'"#,
        ] {
            assert!(errs.iter().any(|e| e == w), "missing {w}\nin {errs:#?}");
        }
        let both = check(
            json!({"webhooks": [hook(json!({"clientConfig": {"url": "https://a", "service": {"name": "s", "namespace": "n"}}}))]}),
            None,
            true,
        );
        assert_eq!(
            both,
            ["webhooks[0].clientConfig: Required value: exactly one of url or service is required"]
        );
    }

    #[test]
    fn match_conditions_are_compiled() {
        let with = |expr: &str| {
            check(
                json!({"webhooks": [hook(json!({"matchConditions": [{"name": "x", "expression": expr}]}))]}),
                None,
                false,
            )
        };
        assert!(with("request.operation == 'CREATE'").is_empty());
        let errs = with("object.metadata.name ==");
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("webhooks[0].matchConditions[0].expression: Invalid value")
                && errs[0].contains("compilation failed"),
            "{errs:?}"
        );
        let errs = with("'a string'");
        assert!(errs[0].contains("must evaluate to bool"), "{errs:?}");
    }

    #[test]
    fn an_update_may_keep_side_effects_the_old_object_had() {
        let old = json!({"webhooks": [hook(json!({"sideEffects": "Unknown"}))]});
        let new = json!({"webhooks": [hook(json!({"sideEffects": "Some"}))]});
        assert!(check(new.clone(), Some(old), true).is_empty());
        assert!(!check(new, None, true).is_empty());
    }

    #[test]
    fn urls_split_as_go_splits_them() {
        let u = parse_webhook_url("https://user@[::1]:8443/p#frag").unwrap();
        assert_eq!(u.user, Some("user"));
        assert_eq!(u.host_port(), ("::1", Some("8443")));
        assert_eq!(u.fragment, "frag");
        assert!(parse_webhook_url("https://a\nb").is_err());
        assert_eq!(parse_webhook_url("example.com/x").unwrap().scheme, "");
    }

    #[test]
    fn ca_bundles_must_hold_certificates() {
        assert!(ca_bundle_certificates(b"not pem").is_err());
        assert_eq!(
            ca_bundle_certificates(
                b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
            ),
            Ok(1)
        );
    }
}
