//! Label and field selectors, as the `labelSelector` and `fieldSelector` list parameters.
//!
//! ```
//! use k3rs_apis::selectors::LabelSelector;
//! let sel = LabelSelector::parse("app in (web,api),tier!=db,!legacy").unwrap();
//! let labels = serde_json::json!({"app": "web", "tier": "fe"});
//! assert!(sel.matches(labels.as_object()));
//! ```

use serde_json::{Map, Value};

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

fn valid_key(k: &str) -> Result<(), String> {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            })
    });
    if name_ok && prefix_ok {
        Ok(())
    } else {
        Err(format!("invalid label key {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (max 63), with an optional DNS subdomain prefix and '/'"))
    }
}

fn valid_value(v: &str) -> Result<(), String> {
    let ok = v.is_empty()
        || (v.len() <= 63
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && v.as_bytes()[0].is_ascii_alphanumeric()
            && v.as_bytes()[v.len() - 1].is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!("invalid label value {v:?}: must be 63 characters or less and consist of alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character"))
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced ')'".into());
                }
            }
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".into());
    }
    parts.push(&s[start..]);
    Ok(parts)
}

fn parse_set(rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised set of values, found {rest:?}"))?;
    let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    for v in &values {
        valid_value(v)?;
    }
    Ok(values)
}

impl LabelSelector {
    /// Parses upstream's selector syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
    /// `k`, `!k`, `k>1`, `k<1`, joined by commas. Errors say what is wrong, for a 400.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        if s.trim().is_empty() {
            return Ok(LabelSelector { requirements });
        }
        for part in split_top(s)? {
            let p = part.trim();
            if p.is_empty() {
                return Err(format!("found empty requirement in selector {s:?}"));
            }
            let req = if let Some(k) = p.strip_prefix('!') {
                let k = k.trim();
                valid_key(k)?;
                Requirement::DoesNotExist(k.to_string())
            } else if let Some((k, v)) = p.split_once("!=") {
                let (k, v) = (k.trim(), v.trim());
                valid_key(k)?;
                valid_value(v)?;
                Requirement::NotEquals(k.into(), v.into())
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                let (k, v) = (k.trim(), v.trim());
                valid_key(k)?;
                valid_value(v)?;
                Requirement::Equals(k.into(), v.into())
            } else if let Some((k, v)) = p.split_once('>') {
                let k = k.trim();
                valid_key(k)?;
                let n = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("invalid integer in {p:?}"))?;
                Requirement::GreaterThan(k.into(), n)
            } else if let Some((k, v)) = p.split_once('<') {
                let k = k.trim();
                valid_key(k)?;
                let n = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("invalid integer in {p:?}"))?;
                Requirement::LessThan(k.into(), n)
            } else {
                let mut words = p.splitn(2, char::is_whitespace);
                let k = words.next().unwrap_or("").trim();
                let rest = words.next().unwrap_or("").trim();
                valid_key(k)?;
                if rest.is_empty() {
                    Requirement::Exists(k.into())
                } else if let Some(set) = rest.strip_prefix("notin") {
                    Requirement::NotIn(k.into(), parse_set(set)?)
                } else if let Some(set) = rest.strip_prefix("in") {
                    Requirement::In(k.into(), parse_set(set)?)
                } else {
                    return Err(format!(
                        "unable to parse requirement {p:?}: expected an operator"
                    ));
                }
            };
            requirements.push(req);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether an object's `metadata.labels` (or none) satisfy the selector.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
            Requirement::GreaterThan(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            Requirement::LessThan(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The selector of a `metav1.LabelSelector` object (matchLabels + matchExpressions), as a
    /// string in selector syntax (what the Scale subresource reports in `status.selector`).
    pub fn string_from_object(sel: &Value) -> String {
        let mut parts = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            let mut keys: Vec<_> = m.iter().collect();
            keys.sort_by(|a, b| a.0.cmp(b.0));
            for (k, v) in keys {
                parts.push(format!("{k}={}", v.as_str().unwrap_or_default()));
            }
        }
        if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
                let values: Vec<&str> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|v| v.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                match e
                    .get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                {
                    "In" => parts.push(format!("{key} in ({})", values.join(","))),
                    "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
                    "Exists" => parts.push(key.to_string()),
                    "DoesNotExist" => parts.push(format!("!{key}")),
                    _ => {}
                }
            }
        }
        parts.join(",")
    }
}

/// One term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    pub field: String,
    pub value: String,
    pub negated: bool,
}

/// A parsed field selector: terms joined by commas, each `f=v`, `f==v` or `f!=v`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub terms: Vec<FieldTerm>,
}

/// Splits on an unescaped separator; `\,`, `\=`, `\!` and `\\` are escapes.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                if let Some(last) = out.last_mut() {
                    last.push('\\');
                    last.push(n);
                }
            }
        } else if c == sep {
            out.push(String::new());
        } else if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('\\' | ',' | '=' | '!')) => out.push(n),
                Some(n) => return Err(format!("invalid escape sequence \\{n} in {s:?}")),
                None => return Err(format!("trailing backslash in {s:?}")),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector { terms });
        }
        for part in split_unescaped(s, ',') {
            let (field, value, negated) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(format!(
                    "invalid selector: {s:?}; can't understand {part:?}"
                ));
            };
            let field = field.trim();
            if field.is_empty() {
                return Err(format!("invalid selector: {s:?}: empty field name"));
            }
            terms.push(FieldTerm {
                field: field.to_string(),
                value: unescape(value)?,
                negated,
            });
        }
        Ok(FieldSelector { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value the selector requires for `field` with `=`, if any (e.g. `metadata.name`).
    pub fn required(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && !t.negated)
            .map(|t| t.value.as_str())
    }

    /// Checks the fields against the kind's selectable fields; an unknown field is an error that
    /// names it, as upstream's `field label not supported`.
    pub fn check_fields(&self, group: &str, kind: &str) -> Result<(), String> {
        let allowed = selectable_fields(group, kind);
        for t in &self.terms {
            if !allowed.contains(&t.field.as_str()) {
                return Err(format!("field label not supported: {}", t.field));
            }
        }
        Ok(())
    }

    /// Checks the terms against an explicit list of selectable fields (custom resources:
    /// `metadata.name`, `metadata.namespace` and the CRD's `selectableFields`).
    pub fn check_allowed(&self, allowed: &[String]) -> Result<(), String> {
        for t in &self.terms {
            if !allowed.iter().any(|a| a == &t.field) {
                return Err(format!("field label not supported: {}", t.field));
            }
        }
        Ok(())
    }

    /// Whether `obj` satisfies every term.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms.iter().all(|t| {
            let v = field_value(obj, &t.field);
            (v == t.value) != t.negated
        })
    }
}

/// The fields a kind can be selected by (upstream's per-kind field label conversions).
pub fn selectable_fields(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Pod") => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ("", "Event") => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "Secret") => &["metadata.name", "metadata.namespace", "type"],
        ("", "Namespace") => &["metadata.name", "status.phase"],
        ("", "Node") => &["metadata.name", "spec.unschedulable"],
        ("", "ReplicationController") => {
            &["metadata.name", "metadata.namespace", "status.replicas"]
        }
        ("", "Service") => &[
            "metadata.name",
            "metadata.namespace",
            "spec.clusterIP",
            "spec.type",
        ],
        ("apps", "ReplicaSet") => &["metadata.name", "metadata.namespace", "status.replicas"],
        ("batch", "Job") => &["metadata.name", "metadata.namespace", "status.successful"],
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            &["metadata.name", "spec.signerName"]
        }
        _ => &["metadata.name", "metadata.namespace"],
    }
}

/// The string value of a selectable field of `obj` ("" when unset; booleans and numbers as text).
pub fn field_value(obj: &Value, field: &str) -> String {
    match field {
        // Upstream selects on the source component.
        "source" => {
            let src = obj
                .get("source")
                .and_then(|s| s.get("component"))
                .and_then(Value::as_str);
            let rep = obj.get("reportingComponent").and_then(Value::as_str);
            return src.or(rep).unwrap_or_default().to_string();
        }
        "status.podIPs" => {
            return obj
                .pointer("/status/podIPs/0/ip")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        }
        _ => {}
    }
    let pointer = format!("/{}", field.replace('.', "/"));
    match obj.pointer(&pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        // Unset booleans select as "false", as upstream's typed fields do.
        None if matches!(field, "spec.hostNetwork" | "spec.unschedulable") => "false".into(),
        None if matches!(field, "status.replicas" | "status.successful") => "0".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn label_selector_operators() {
        let l = labels(json!({"app": "web", "tier": "fe", "n": "5"}));
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web, api)", true),
            ("app notin (web)", false),
            ("app", true),
            ("!app", false),
            ("missing", false),
            ("!missing", true),
            ("n>4", true),
            ("n<4", false),
            ("app=web,tier=fe", true),
            ("app=web,tier=be", false),
            ("", true),
            ("example.com/x notin (a,b)", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(Some(&l)),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn label_selector_errors() {
        for bad in [
            "app in web",
            "=x",
            "app=-bad-",
            "app in (a",
            "a,,b",
            "bad key=x",
            "x>y",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"nodeName": "n1"},
                         "status": {"phase": "Running"}});
        let s = FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed").unwrap();
        assert!(s.matches(&pod));
        assert!(s.check_fields("", "Pod").is_ok());
        assert!(!FieldSelector::parse("metadata.name==q")
            .unwrap()
            .matches(&pod));
        assert!(FieldSelector::parse("spec.nodeName=")
            .unwrap()
            .matches(&json!({})));
        assert!(FieldSelector::parse("spec.hostNetwork=false")
            .unwrap()
            .matches(&pod));
        let err = FieldSelector::parse("spec.foo=x")
            .unwrap()
            .check_fields("", "Pod")
            .unwrap_err();
        assert!(err.contains("field label not supported: spec.foo"));
        assert!(FieldSelector::parse("novalue").is_err());
        assert_eq!(
            FieldSelector::parse(r"metadata.name=a\,b")
                .unwrap()
                .required("metadata.name"),
            Some("a,b")
        );
    }

    #[test]
    fn selector_string_from_object() {
        let sel = json!({"matchLabels": {"b": "2", "a": "1"},
                         "matchExpressions": [{"key": "c", "operator": "In", "values": ["x", "y"]}]});
        assert_eq!(
            LabelSelector::string_from_object(&sel),
            "a=1,b=2,c in (x,y)"
        );
    }
}
