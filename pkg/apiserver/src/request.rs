//! Turning a method and path into what is being asked: which resource, which verb.

use std::collections::HashMap;

use percent_encoding::percent_decode_str;

/// A request for a resource (`/api/v1/...` or `/apis/<group>/<version>/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: &'static str,
}

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/api` (legacy core group discovery).
    CoreGroups,
    /// `/apis`.
    Groups,
    /// `/api/v1` or `/apis/<group>/<version>`.
    GroupVersion {
        group: String,
        version: String,
    },
    /// `/apis/<group>`.
    Group {
        group: String,
    },
    Resource(ResourceRequest),
    /// Anything else (`/version`, `/healthz`, ...).
    NonResource,
}

fn decode(seg: &str) -> String {
    percent_decode_str(seg).decode_utf8_lossy().into_owned()
}

/// Parses the query string into a map (last value wins; `+` is a space).
pub fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(&k.replace('+', " ")), decode(&v.replace('+', " ")));
    }
    out
}

/// Classifies a request. `is_watch` is the `watch` query parameter.
pub fn route(method: &str, path: &str, is_watch: bool) -> Route {
    let trimmed = path.trim_end_matches('/');
    let parts: Vec<String> = trimmed.split('/').skip(1).map(decode).collect();
    let (group, version, rest) = match parts.first().map(String::as_str) {
        Some("api") => match parts.len() {
            1 => return Route::CoreGroups,
            2 => {
                return Route::GroupVersion {
                    group: String::new(),
                    version: parts[1].clone(),
                }
            }
            _ => (String::new(), parts[1].clone(), &parts[2..]),
        },
        Some("apis") => match parts.len() {
            1 => return Route::Groups,
            2 => {
                return Route::Group {
                    group: parts[1].clone(),
                }
            }
            3 => {
                return Route::GroupVersion {
                    group: parts[1].clone(),
                    version: parts[2].clone(),
                }
            }
            _ => (parts[1].clone(), parts[2].clone(), &parts[3..]),
        },
        _ => return Route::NonResource,
    };
    let mut rest = rest;
    let mut watch = is_watch;
    // Deprecated `/watch/` paths.
    if rest.first().map(String::as_str) == Some("watch") {
        watch = true;
        rest = &rest[1..];
    }
    let mut namespace = None;
    if rest.first().map(String::as_str) == Some("namespaces")
        && rest.len() >= 3
        && !matches!(rest[2].as_str(), "status" | "finalize")
    {
        namespace = Some(rest[1].clone());
        rest = &rest[2..];
    }
    if rest.is_empty() || rest.iter().any(|s| s.is_empty()) {
        return Route::NonResource;
    }
    let resource = rest[0].clone();
    let name = rest.get(1).cloned();
    let subresource = if rest.len() > 2 {
        Some(rest[2..].join("/"))
    } else {
        None
    };
    let verb = match (method, name.is_some()) {
        ("GET" | "HEAD", _) if watch => "watch",
        ("GET" | "HEAD", true) => "get",
        ("GET" | "HEAD", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    };
    Route::Resource(ResourceRequest {
        group,
        version,
        namespace,
        resource,
        name,
        subresource,
        verb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(method: &str, path: &str) -> ResourceRequest {
        match route(method, path, false) {
            Route::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths() {
        let r = res("GET", "/api/v1/namespaces/default/pods/p1/status");
        assert_eq!(
            (
                r.namespace.as_deref(),
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref(),
                r.verb
            ),
            (Some("default"), "pods", Some("p1"), Some("status"), "get")
        );
        let r = res("GET", "/apis/apps/v1/deployments");
        assert_eq!(
            (r.group.as_str(), r.namespace, r.verb),
            ("apps", None, "list")
        );
        let r = res("GET", "/api/v1/namespaces/kube-system");
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("kube-system"), None)
        );
        let r = res("PUT", "/api/v1/namespaces/x/finalize");
        assert_eq!(
            (
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            ("namespaces", Some("x"), Some("finalize"))
        );
        let r = res("DELETE", "/api/v1/namespaces/x/configmaps");
        assert_eq!(r.verb, "deletecollection");
        let r = res("GET", "/api/v1/watch/namespaces/x/configmaps");
        assert_eq!((r.verb, r.namespace.as_deref()), ("watch", Some("x")));
        assert_eq!(route("GET", "/api", false), Route::CoreGroups);
        assert_eq!(
            route("GET", "/apis/apps/v1/", false),
            Route::GroupVersion {
                group: "apps".into(),
                version: "v1".into()
            }
        );
        assert_eq!(route("GET", "/version", false), Route::NonResource);
        let r = res("GET", "/api/v1/namespaces/d/configmaps/a%20b");
        assert_eq!(r.name.as_deref(), Some("a b"));
    }

    #[test]
    fn queries() {
        let q = parse_query(Some("labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1&x"));
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["watch"], "1");
        assert_eq!(q["x"], "");
    }
}
