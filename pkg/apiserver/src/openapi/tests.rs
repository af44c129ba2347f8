//! Tests of the generated documents. Upstream's generated specs in the Go module cache
//! (k8s.io/kubernetes@v1.35.4/api/openapi-spec) are used as oracles when present; nothing from
//! them is part of the product.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::*;

fn built() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| build(schemas::patchmeta_lookup))
}

fn definitions() -> &'static Definitions {
    static D: OnceLock<Definitions> = OnceLock::new();
    D.get_or_init(|| schemas::builtin(schemas::patchmeta_lookup, &[]))
}

fn modcache() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("K3RS_GOMODCACHE").or_else(|| std::env::var_os("GOMODCACHE"))
    {
        return Some(PathBuf::from(p));
    }
    let out = std::process::Command::new("go")
        .args(["env", "GOMODCACHE"])
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!s.is_empty()).then(|| PathBuf::from(s))
}

fn upstream_spec_dir() -> Option<PathBuf> {
    let d = modcache()?.join("k8s.io/kubernetes@v1.35.4/api/openapi-spec");
    d.is_dir().then_some(d)
}

fn v3(key: &str) -> Value {
    serde_json::from_slice(&built().v3[key].bytes).unwrap()
}

fn v2() -> Value {
    serde_json::from_slice(&built().v2_json.bytes).unwrap()
}

#[test]
fn registry_kinds_covered() {
    let b = built();
    let mut missing = Vec::new();
    for r in registry::builtin() {
        if definitions().kind(r.group, r.version, r.kind).is_none() {
            missing.push(format!("{}/{} {}", r.group, r.version, r.kind));
        }
    }
    assert!(
        missing.is_empty(),
        "served kinds without a definition: {missing:?}"
    );
    assert_eq!(b.resources.len(), registry::builtin().len());
    // Every served subresource has a definition too.
    for r in registry::builtin() {
        let info = b
            .resources
            .iter()
            .find(|i| i.plural == r.plural && i.group == r.group)
            .unwrap();
        let served = r
            .subresources
            .iter()
            .filter(|s| crate::discovery::SERVED_SUBRESOURCES.contains(&s.name))
            .count();
        assert_eq!(info.subresources.len(), served, "{}", r.plural);
        // Listable kinds have a list definition (their list and watch paths need it).
        if r.verbs.iter().any(|v| *v == "list" || *v == "watch") {
            assert!(info.list_definition.is_some(), "{}", r.plural);
        }
    }
}

#[test]
fn every_group_version_has_a_document_with_gvk_and_field_validation() {
    // Built-in groups (custom resource groups other tests register are published at run time).
    for (g, versions) in registry::groups()
        .into_iter()
        .filter(|(g, _)| registry::is_builtin_group(g))
    {
        for v in versions {
            let key = gv_key(g, v);
            let doc = v3(&key);
            assert_eq!(doc["openapi"], "3.0.0");
            for r in registry::builtin()
                .iter()
                .filter(|r| r.group == g && r.version == v)
            {
                let def = &definitions()
                    .kind(r.group, r.version, r.kind)
                    .unwrap()
                    .definition;
                let schema = &doc["components"]["schemas"][def];
                assert_eq!(
                    schema["x-kubernetes-group-version-kind"],
                    json!([{"group": g, "kind": r.kind, "version": v}]),
                    "{def}"
                );
                let prefix = paths::gv_prefix(g, v);
                let scope = if r.namespaced {
                    "/namespaces/{namespace}"
                } else {
                    ""
                };
                let has = |verb: &str| r.verbs.contains(&verb);
                let gvk = json!({"group": g, "kind": r.kind, "version": v});
                let collection = &doc["paths"][format!("{prefix}{scope}/{}", r.plural)];
                let item = &doc["paths"][format!("{prefix}{scope}/{}/{{name}}", r.plural)];
                // Every write operation takes fieldValidation, on itself or on its path.
                let takes_field_validation = |path_item: &Value, op: &Value| {
                    [&op["parameters"], &path_item["parameters"]]
                        .into_iter()
                        .filter_map(Value::as_array)
                        .flatten()
                        .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
                };
                if has("create") {
                    let post = &collection["post"];
                    assert_eq!(post["x-kubernetes-action"], "post", "{}", r.plural);
                    assert_eq!(post["x-kubernetes-group-version-kind"], gvk);
                    assert!(takes_field_validation(collection, post), "{}", r.plural);
                    assert!(post["requestBody"]["content"]["*/*"]["schema"]["$ref"]
                        .as_str()
                        .unwrap()
                        .ends_with(def.as_str()));
                }
                if has("patch") {
                    let patch = &item["patch"];
                    assert_eq!(patch["x-kubernetes-action"], "patch", "{}", r.plural);
                    assert_eq!(patch["x-kubernetes-group-version-kind"], gvk);
                    assert!(takes_field_validation(item, patch), "{}", r.plural);
                    assert!(patch["requestBody"]["content"]
                        .get("application/strategic-merge-patch+json")
                        .is_some());
                }
                if has("get") {
                    assert!(
                        item["get"]["responses"]["200"]["content"]["application/json"]["schema"]
                            ["$ref"]
                            .as_str()
                            .unwrap()
                            .ends_with(def.as_str())
                    );
                }
                // Operations only for the verbs served: a create-only kind (the reviews) has
                // no object path, no list and no watch.
                for (verb, path, method) in [
                    ("get", item, "get"),
                    ("update", item, "put"),
                    ("patch", item, "patch"),
                    ("delete", item, "delete"),
                    ("list", collection, "get"),
                    ("create", collection, "post"),
                    ("deletecollection", collection, "delete"),
                ] {
                    assert_eq!(
                        path.get(method).is_some(),
                        has(verb),
                        "{}: {method} for {verb}",
                        r.plural
                    );
                }
                if !has("watch") {
                    assert!(doc["paths"]
                        .get(format!("{prefix}/watch{scope}/{}", r.plural))
                        .is_none());
                }
            }
        }
    }
}

/// The review kinds are create-only: one POST on the collection, with the write parameters on
/// the path as upstream publishes them (every operation of the path takes them).
#[test]
fn create_only_kinds_publish_one_post() {
    let doc = v3("apis/authorization.k8s.io/v1");
    let paths = doc["paths"].as_object().unwrap();
    let item =
        &paths["/apis/authorization.k8s.io/v1/namespaces/{namespace}/localsubjectaccessreviews"];
    let ops: Vec<&String> = item
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "parameters")
        .collect();
    assert_eq!(ops, ["post"]);
    assert_eq!(
        item["post"]["operationId"],
        "createAuthorizationV1NamespacedLocalSubjectAccessReview"
    );
    let names: Vec<&str> = item["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "dryRun",
            "fieldManager",
            "fieldValidation",
            "namespace",
            "pretty"
        ]
    );
    assert!(item["post"].get("parameters").is_none());
    assert!(!paths
        .keys()
        .any(|p| p.contains("localsubjectaccessreviews/{name}") || p.contains("/watch/")));
    let v2 = v2();
    let token = &v2["paths"]["/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"];
    assert_eq!(
        token["post"]["operationId"],
        "createCoreV1NamespacedServiceAccountToken"
    );
    assert_eq!(
        token["post"]["parameters"][0]["schema"]["$ref"],
        "#/definitions/io.k8s.api.authentication.v1.TokenRequest"
    );
    assert_eq!(
        token["post"]["x-kubernetes-group-version-kind"],
        json!({"group": "authentication.k8s.io", "kind": "TokenRequest", "version": "v1"})
    );
    assert!(token["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "name" && p["description"] == "name of the TokenRequest"));
    assert!(v2["paths"]
        .get("/apis/authentication.k8s.io/v1/tokenreviews")
        .is_some_and(|i| i.get("post").is_some() && i.get("get").is_none()));
}

#[test]
fn v3_refs_resolve_and_refs_with_siblings_use_all_of() {
    for key in built().v3.keys() {
        let doc = v3(key);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut refs = BTreeSet::new();
        v3::refs(&doc, &mut refs);
        for r in &refs {
            assert!(schemas.contains_key(r), "{key}: dangling $ref {r}");
        }
        fn no_ref_siblings(v: &Value) {
            match v {
                Value::Object(o) => {
                    if o.get("$ref").is_some_and(Value::is_string) {
                        assert_eq!(o.len(), 1, "$ref with siblings: {v}");
                    }
                    // A property may be called `$ref` (JSONSchemaProps has one).
                    for (k, x) in o {
                        if k == "properties" {
                            if let Value::Object(props) = x {
                                props.values().for_each(no_ref_siblings);
                            }
                        } else {
                            no_ref_siblings(x);
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(no_ref_siblings),
                _ => {}
            }
        }
        no_ref_siblings(&doc["components"]);
        assert!(!doc.to_string().contains("#/definitions/"));
    }
}

#[test]
fn deployment_schema_has_descriptions_and_extensions() {
    let doc = v3("apis/apps/v1");
    let s = &doc["components"]["schemas"];
    let strategy = &s["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
    assert_eq!(
        strategy["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"
    );
    assert!(strategy["description"]
        .as_str()
        .unwrap()
        .contains("replace existing pods"));
    let containers = &s["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
    assert_eq!(
        s["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["oneOf"],
        json!([{"type": "integer"}, {"type": "string"}])
    );
    let v2 = v2();
    assert_eq!(
        v2["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
        "int-or-string"
    );
    assert_eq!(
        v2["definitions"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]["$ref"],
        "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy"
    );
    assert_eq!(
        v2["definitions"]["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "DeploymentList", "version": "v1"}])
    );
}

/// Property names and types of a schema (v3 form): `name -> type, or $ref target`.
fn shape(schema: &Value) -> BTreeMap<String, String> {
    fn ty(p: &Value) -> String {
        if let Some(r) = p["$ref"].as_str().or(p["allOf"][0]["$ref"].as_str()) {
            return r.rsplit('/').next().unwrap_or_default().to_string();
        }
        match p["type"].as_str() {
            Some("array") => format!("[]{}", ty(&p["items"])),
            Some("object") if p.get("additionalProperties").is_some() => {
                format!("map[{}]", ty(&p["additionalProperties"]))
            }
            Some(t) => t.to_string(),
            None => String::new(),
        }
    }
    schema["properties"]
        .as_object()
        .map(|props| props.iter().map(|(k, v)| (k.clone(), ty(v))).collect())
        .unwrap_or_default()
}

/// `name (in)` of the parameters of a path item or operation, in order.
fn param_names(v: &Value) -> Vec<String> {
    v["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{} ({})",
                p["name"].as_str().unwrap_or("?"),
                p["in"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// Upstream's v3 document of every served group version against ours: every definition our
/// served kinds reach upstream exists in ours with the same properties and types, top-level
/// kinds carry the same GVK, and every upstream path of a served resource exists with the same
/// methods.
#[test]
fn upstream_v3_oracle() {
    let Some(dir) = upstream_spec_dir() else {
        eprintln!("SKIP: no k8s.io/kubernetes@v1.35.4 in the Go module cache");
        assert!(
            std::env::var_os("K3RS_STRICT_TESTS").is_none(),
            "scripts/test provides this; it must not be skipped"
        );
        return;
    };
    let b = built();
    let served_sub: Vec<&str> = crate::discovery::SERVED_SUBRESOURCES.to_vec();
    let mut compared = 0;
    for key in b.v3.keys() {
        let file = dir
            .join("v3")
            .join(format!("{}_openapi.json", key.replace('/', "__")));
        let upstream: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let ours = v3(key);
        let us = upstream["components"]["schemas"].as_object().unwrap();
        let os = ours["components"]["schemas"].as_object().unwrap();
        let upstream_defs: BTreeMap<String, Value> =
            us.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let roots: BTreeSet<String> = b
            .resources
            .iter()
            .filter(|r| gv_key(&r.group, &r.version) == *key)
            .flat_map(|r| std::iter::once(r.definition.clone()).chain(r.list_definition.clone()))
            .collect();
        for name in v3::closure(roots.clone(), &upstream_defs) {
            let o = os
                .get(&name)
                .unwrap_or_else(|| panic!("{key}: missing definition {name}"));
            let u = &us[&name];
            assert_eq!(shape(o), shape(u), "{key}: properties of {name}");
            assert_eq!(o["type"], u["type"], "{key}: type of {name}");
            if roots.contains(&name) {
                assert_eq!(
                    o["x-kubernetes-group-version-kind"], u["x-kubernetes-group-version-kind"],
                    "{key}: GVK of {name}"
                );
            }
            compared += 1;
        }
        // Paths of served resources and subresources.
        let prefix = key
            .strip_prefix("apis/")
            .map(|p| format!("/apis/{p}"))
            .unwrap_or_else(|| format!("/{key}"));
        for (path, item) in upstream["paths"].as_object().unwrap() {
            let rest = path.strip_prefix(&prefix).unwrap_or_default();
            let segs: Vec<&str> = rest
                .split('/')
                .filter(|s| !s.is_empty() && *s != "watch")
                .collect();
            let segs: &[&str] = if segs.first() == Some(&"namespaces") && segs.len() > 2 {
                &segs[2..]
            } else {
                &segs[..]
            };
            let Some(plural) = segs.first() else { continue };
            let Some(r) = b
                .resources
                .iter()
                .find(|r| gv_key(&r.group, &r.version) == *key && r.plural == *plural)
            else {
                continue;
            };
            if let Some(sub) = segs.get(2) {
                if !served_sub.contains(sub) || !r.subresources.iter().any(|s| s.name == *sub) {
                    continue;
                }
            }
            let mine = ours["paths"]
                .get(path)
                .unwrap_or_else(|| panic!("{key}: missing path {path}"));
            for m in ["get", "put", "post", "patch", "delete"] {
                assert_eq!(
                    mine.get(m).is_some(),
                    item.get(m).is_some(),
                    "{key}: {m} {path}"
                );
                if let (Some(a), Some(b)) = (mine.get(m), item.get(m)) {
                    assert_eq!(
                        a["x-kubernetes-action"], b["x-kubernetes-action"],
                        "{m} {path}"
                    );
                    assert_eq!(
                        a["x-kubernetes-group-version-kind"], b["x-kubernetes-group-version-kind"],
                        "{m} {path}"
                    );
                    assert_eq!(a["operationId"], b["operationId"], "{m} {path}");
                    assert_eq!(
                        param_names(a),
                        param_names(b),
                        "{key}: parameters of {m} {path}"
                    );
                }
            }
            assert_eq!(
                param_names(mine),
                param_names(item),
                "{key}: parameters of {path}"
            );
        }
    }
    assert!(compared > 500, "compared only {compared} definitions");
}

/// The v2 document against upstream's swagger.json: same definitions (properties, types) for
/// everything our served kinds reach.
#[test]
fn upstream_v2_oracle() {
    let Some(dir) = upstream_spec_dir() else {
        eprintln!("SKIP: no k8s.io/kubernetes@v1.35.4 in the Go module cache");
        assert!(
            std::env::var_os("K3RS_STRICT_TESTS").is_none(),
            "scripts/test provides this; it must not be skipped"
        );
        return;
    };
    let upstream: Value =
        serde_json::from_slice(&std::fs::read(dir.join("swagger.json")).unwrap()).unwrap();
    let ours = v2();
    let ud: BTreeMap<String, Value> = upstream["definitions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let roots: BTreeSet<String> = built()
        .resources
        .iter()
        .flat_map(|r| std::iter::once(r.definition.clone()).chain(r.list_definition.clone()))
        .collect();
    for name in v3::closure(roots, &ud) {
        let o = &ours["definitions"][&name];
        assert!(o.is_object(), "missing definition {name}");
        let conv = |v: &Value| shape(&v3::schema(v));
        assert_eq!(conv(o), conv(&ud[&name]), "properties of {name}");
        assert_eq!(o["type"], ud[&name]["type"], "type of {name}");
    }
}

/// Our `x-kubernetes-*` patch/list extensions are exactly upstream's, on every property and
/// definition we publish: none that upstream lacks, none of upstream's missing (the lookup is the
/// full patch-metadata table).
#[test]
fn extensions_agree_with_upstream() {
    let Some(dir) = upstream_spec_dir() else {
        eprintln!("SKIP: no k8s.io/kubernetes@v1.35.4 in the Go module cache");
        assert!(
            std::env::var_os("K3RS_STRICT_TESTS").is_none(),
            "scripts/test provides this; it must not be skipped"
        );
        return;
    };
    let upstream: Value =
        serde_json::from_slice(&std::fs::read(dir.join("swagger.json")).unwrap()).unwrap();
    let ours = v2();
    let exts = |v: &Value| -> BTreeMap<String, Value> {
        v.as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| {
                k.starts_with("x-kubernetes-") && *k != "x-kubernetes-group-version-kind"
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let mut count = 0;
    let mut missing = Vec::new();
    let mut compare = |at: String, mine: &Value, theirs: &Value| {
        let (mine, theirs) = (exts(mine), exts(theirs));
        for (k, v) in &mine {
            assert_eq!(theirs.get(k), Some(v), "{at}: {k} is not upstream's");
        }
        for (k, v) in &theirs {
            if !mine.contains_key(k) {
                missing.push(format!("{at}: {k}={v}"));
            }
        }
        count += mine.len();
    };
    for (name, def) in ours["definitions"].as_object().unwrap() {
        let udef = &upstream["definitions"][name];
        compare(name.clone(), def, udef);
        for (field, prop) in def["properties"].as_object().into_iter().flatten() {
            compare(format!("{name}.{field}"), prop, &udef["properties"][field]);
        }
    }
    assert!(
        missing.is_empty(),
        "{} upstream extensions missing: {missing:#?}",
        missing.len()
    );
    assert!(count > 400, "only {count} extensions published");
    eprintln!("patch/list extensions: {count} published, all of upstream's on our definitions");
}

#[test]
fn proto_names() {
    assert_eq!(
        schemas::proto_name("io.k8s.api.core.v1.PodSpec").as_deref(),
        Some("k8s.io.api.core.v1.PodSpec")
    );
    assert_eq!(
        schemas::proto_name("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta").as_deref(),
        Some("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    );
    assert_eq!(schemas::proto_name("Foo"), None);
}

#[test]
fn serving_etags_hashes_and_negotiation() {
    let api = OpenApi::new(schemas::patchmeta_lookup);
    let index = match api.serve("/openapi/v3", None, Some("application/json"), None, None) {
        Served::Ok { body, .. } => serde_json::from_slice::<Value>(&body).unwrap(),
        other => panic!("{other:?}"),
    };
    let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let (path, hash) = url.split_once("?hash=").unwrap();
    assert_eq!(path, "/openapi/v3/apis/apps/v1");
    assert_eq!(hash.len(), 128);
    let etag = match api.serve(path, Some(hash), Some("application/json"), None, None) {
        Served::Ok {
            immutable,
            etag,
            content_type,
            ..
        } => {
            assert!(immutable);
            assert_eq!(content_type, "application/json");
            etag
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(etag, hash);
    assert!(matches!(
        api.serve(path, None, None, Some(&format!("\"{etag}\"")), None),
        Served::NotModified {
            immutable: false,
            ..
        }
    ));
    assert!(matches!(
        api.serve(
            path,
            Some(hash),
            None,
            Some(&format!("W/\"x\", \"{etag}\"")),
            None
        ),
        Served::NotModified {
            immutable: true,
            ..
        }
    ));
    match api.serve(path, Some("0123"), None, None, None) {
        Served::Redirect(to) => assert_eq!(to, url),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        api.serve(
            path,
            None,
            Some("application/com.github.proto-openapi.spec.v3@v1.0+protobuf"),
            None,
            None
        ),
        Served::NotAcceptable(_)
    ));
    assert!(matches!(
        api.serve("/openapi/v3/apis/nope/v1", None, None, None, None),
        Served::NotFound
    ));
    match api.serve("/openapi/v2", None, Some(V2_PROTOBUF), None, None) {
        Served::Ok {
            content_type, body, ..
        } => {
            assert_eq!(content_type, V2_PROTOBUF_REPLY);
            assert_eq!(body, api.built().v2_protobuf.bytes);
        }
        other => panic!("{other:?}"),
    }
    match api.serve(
        "/openapi/v2",
        None,
        Some("application/json, */*"),
        None,
        None,
    ) {
        Served::Ok { content_type, .. } => assert_eq!(content_type, "application/json"),
        other => panic!("{other:?}"),
    }
    // Large documents are gzipped for clients that take it; small ones are not.
    match api.serve("/openapi/v2", None, None, None, Some("gzip, deflate")) {
        Served::Ok { gzip, body, .. } => {
            assert!(gzip);
            use std::io::Read;
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .unwrap();
            assert_eq!(plain, api.built().v2_json.bytes);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        api.serve("/openapi/v2", None, None, None, Some("gzip;q=0, identity")),
        Served::Ok { gzip: false, .. }
    ));
    assert!(matches!(
        api.serve("/openapi/v3", None, None, None, Some("gzip")),
        Served::Ok { gzip: false, .. }
    ));
    assert!(matches!(
        api.serve("/openapi/v2", None, Some("text/html"), None, None),
        Served::NotAcceptable(_)
    ));
    // Group versions added at run time show up in the index.
    api.set_group_version(
        "apis/example.com/v1",
        &json!({"openapi": "3.0.0", "paths": {}}),
    );
    let index = match api.serve("/openapi/v3", None, None, None, None) {
        Served::Ok { body, .. } => serde_json::from_slice::<Value>(&body).unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(index["paths"]["apis/example.com/v1"]["serverRelativeURL"].is_string());
    api.remove_group_version("apis/example.com/v1");
    assert!(matches!(
        api.serve("/openapi/v3/apis/example.com/v1", None, None, None, None),
        Served::NotFound
    ));
}

/// Decodes our protobuf with gnostic's real schema (from the Go module cache) and checks it holds
/// what the JSON holds.
#[test]
fn v2_protobuf_decodes_with_gnostic_schema() {
    use prost_reflect::{DescriptorPool, DynamicMessage, Value as PV};
    let Some(cache) = modcache() else {
        eprintln!("SKIP: no Go module cache");
        assert!(
            std::env::var_os("K3RS_STRICT_TESTS").is_none(),
            "scripts/test provides this; it must not be skipped"
        );
        return;
    };
    let dir = cache.join("github.com/google/gnostic-models@v0.7.0");
    if !dir.is_dir() {
        eprintln!("SKIP: no gnostic-models@v0.7.0 in the Go module cache");
        assert!(
            std::env::var_os("K3RS_STRICT_TESTS").is_none(),
            "scripts/test provides this; it must not be skipped"
        );
        return;
    }
    let fds = protox::compile(["openapiv2/OpenAPIv2.proto"], [&dir]).unwrap();
    let pool = DescriptorPool::from_file_descriptor_set(fds).unwrap();
    let desc = pool.get_message_by_name("openapi.v2.Document").unwrap();
    let msg = DynamicMessage::decode(desc, built().v2_protobuf.bytes.clone()).unwrap();
    let json = v2();
    // Field `name` of message `m`, and field `name` of the message `v` holds.
    let field =
        |m: &DynamicMessage, name: &str| -> PV { m.get_field_by_name(name).unwrap().into_owned() };
    let sub = |v: &PV, name: &str| field(v.as_message().unwrap(), name);
    assert_eq!(
        msg.get_field_by_name("swagger").unwrap().as_str(),
        Some("2.0")
    );
    let defs = sub(&field(&msg, "definitions"), "additional_properties");
    let defs = defs.as_list().unwrap();
    assert_eq!(defs.len(), json["definitions"].as_object().unwrap().len());
    let find = |list: &[PV], name: &str| -> DynamicMessage {
        list.iter()
            .map(|v| v.as_message().unwrap().clone())
            .find(|m| m.get_field_by_name("name").unwrap().as_str() == Some(name))
            .unwrap()
            .get_field_by_name("value")
            .unwrap()
            .as_message()
            .unwrap()
            .clone()
    };
    let deploy = find(defs, "io.k8s.api.apps.v1.Deployment");
    let ext = deploy.get_field_by_name("vendor_extension").unwrap();
    let ext = ext.as_list().unwrap()[0].as_message().unwrap().clone();
    assert_eq!(
        ext.get_field_by_name("name").unwrap().as_str(),
        Some("x-kubernetes-group-version-kind")
    );
    let yaml = sub(&field(&ext, "value"), "yaml");
    let parsed: Value = serde_yaml::from_str(yaml.as_str().unwrap()).unwrap();
    assert_eq!(
        parsed,
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    // The PATCH of a deployment has the fieldValidation query parameter.
    let paths = sub(&field(&msg, "paths"), "path");
    let item = find(
        paths.as_list().unwrap(),
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
    );
    let params = sub(&field(&item, "patch"), "parameters");
    let names: Vec<String> = params
        .as_list()
        .unwrap()
        .iter()
        .filter_map(|p| {
            let p = p.as_message()?.get_field_by_name("parameter")?;
            let nb = p.as_message()?.get_field_by_name("non_body_parameter")?;
            let q = nb
                .as_message()?
                .get_field_by_name("query_parameter_sub_schema")?;
            let n = q.as_message()?.get_field_by_name("name")?;
            n.as_str().map(str::to_string)
        })
        .collect();
    assert!(names.contains(&"fieldValidation".to_string()), "{names:?}");
    // Re-encoding the decoded message gives the same bytes (nothing unknown was written).
    use prost::Message;
    assert_eq!(msg.encode_to_vec().len(), built().v2_protobuf.bytes.len());
}

/// Prints sizes and generation time (`cargo test -p k3rs-apiserver --lib openapi::tests::sizes -- --nocapture`).
#[test]
fn sizes() {
    let b = build(schemas::patchmeta_lookup);
    eprintln!(
        "generation: {:?}; {} definitions, {} paths; v2 JSON {} bytes, v2 protobuf {} bytes",
        b.stats.elapsed,
        b.stats.definitions,
        b.stats.paths,
        b.v2_json.bytes.len(),
        b.v2_protobuf.bytes.len()
    );
    let mut total = 0;
    for (k, d) in &b.v3 {
        eprintln!("v3 {k}: {} bytes", d.bytes.len());
        total += d.bytes.len();
    }
    eprintln!("v3 total: {total} bytes");
    assert!(b.v2_json.bytes.len() > 100_000);
}

// ---------------------------------------------------------------------------------------------
// Custom resources.

/// The e2e suite's `schemaFoo` (crd_publish_openapi.go), as JSON.
fn schema_foo() -> Value {
    json!({
        "description": "Foo CRD for Testing",
        "type": "object",
        "properties": {
            "spec": {"type": "object", "description": "Specification of Foo", "properties": {
                "bars": {"description": "List of Bars and their specs.", "type": "array", "items": {
                    "type": "object", "required": ["name"], "properties": {
                        "name": {"description": "Name of Bar.", "type": "string"},
                        "age": {"description": "Age of Bar.", "type": "string"},
                        "feeling": {"description": "Whether Bar is feeling great.", "type": "string", "enum": ["Great", "Down"]},
                        "bazs": {"description": "List of Bazs.", "items": {"type": "string"}, "type": "array"}}}}}},
            "status": {"description": "Status of Foo", "type": "object", "properties": {
                "bars": {"description": "List of Bars and their statuses.", "type": "array", "items": {
                    "type": "object", "properties": {
                        "name": {"description": "Name of Bar.", "type": "string"},
                        "available": {"description": "Whether the Bar is installed.", "type": "boolean"},
                        "quxType": {"description": "Indicates to external qux type.", "pattern": "in-tree|out-of-tree", "type": "string"}}}}}}
        }
    })
}

fn crd(group: &str, plural: &str, kind: &str, versions: Value) -> Value {
    json!({
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind, "listKind": format!("{kind}List")},
            "versions": versions}
    })
}

/// The names of a parameter list.
fn pnames(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|p| p["name"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn served_json(path: &str, accept: Option<&str>) -> (Value, String) {
    match service().serve(path, None, accept, None, None) {
        Served::Ok { body, etag, .. } => (serde_json::from_slice(&body).unwrap(), etag),
        other => panic!("{path}: {other:?}"),
    }
}

/// What the e2e suite compares a published definition with: the definition without the
/// properties and extensions the builder adds.
fn without_builder_additions(mut d: Value) -> Value {
    if let Some(p) = d["properties"].as_object_mut() {
        for k in ["metadata", "apiVersion", "kind"] {
            p.remove(k);
        }
    }
    let m = d.as_object_mut().unwrap();
    m.remove("x-kubernetes-group-version-kind");
    m.remove("x-kubernetes-selectable-fields");
    d
}

#[test]
fn custom_resources_in_v2_follow_the_crds() {
    let (_, etag_before) = served_json("/openapi/v2", None);
    let versions = json!([
        {"name": "v1", "served": true, "storage": true,
         "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
         "selectableFields": [{"jsonPath": ".spec.color"}],
         "schema": {"openAPIV3Schema": schema_foo()}},
        {"name": "v2", "served": true, "storage": false, "schema": {"openAPIV3Schema": schema_foo()}},
        {"name": "v3", "served": false, "storage": false, "schema": {"openAPIV3Schema": schema_foo()}},
    ]);
    k3rs_apis::crd::register(&crd("pub2.example.com", "foos", "Foo", versions));
    custom::refresh();
    let (doc, etag) = served_json("/openapi/v2", None);
    assert_ne!(etag, etag_before, "the document changed, so did its ETag");
    let defs = &doc["definitions"];
    let foo = &defs["com.example.pub2.v1.Foo"];
    // Exactly the CRD's schema, plus what upstream adds (as the e2e suite checks it).
    assert_eq!(without_builder_additions(foo.clone()), schema_foo());
    assert_eq!(
        foo["x-kubernetes-group-version-kind"],
        json!([{"group": "pub2.example.com", "kind": "Foo", "version": "v1"}])
    );
    assert_eq!(
        foo["x-kubernetes-selectable-fields"],
        json!([{"fieldPath": "spec.color"}])
    );
    assert_eq!(
        foo["properties"]["metadata"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(foo["properties"]["metadata"]["description"]
        .as_str()
        .unwrap()
        .starts_with("Standard object's metadata"));
    assert_eq!(foo["properties"]["apiVersion"]["type"], "string");
    assert!(defs["com.example.pub2.v2.Foo"].is_object());
    assert!(
        defs["com.example.pub2.v3.Foo"].is_null(),
        "v3 is not served"
    );
    let list = &defs["com.example.pub2.v1.FooList"];
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/definitions/com.example.pub2.v1.Foo"
    );
    assert_eq!(
        list["x-kubernetes-group-version-kind"][0]["kind"],
        "FooList"
    );
    // Built-in definitions are still there, and every reference resolves.
    assert!(defs["io.k8s.api.apps.v1.Deployment"].is_object());
    let mut refs = BTreeSet::new();
    v3::refs(&doc["paths"], &mut refs);
    v3::refs(defs, &mut refs);
    for r in &refs {
        assert!(defs[r].is_object(), "dangling reference {r}");
    }

    // Paths: as upstream's CRD builder publishes them.
    let paths = &doc["paths"];
    let all = &paths["/apis/pub2.example.com/v1/foos"];
    assert_eq!(
        all["get"]["operationId"],
        "listPub2ExampleComV1FooForAllNamespaces"
    );
    assert_eq!(
        pnames(&all["parameters"]),
        [
            "allowWatchBookmarks",
            "continue",
            "fieldSelector",
            "labelSelector",
            "limit",
            "pretty",
            "resourceVersion",
            "resourceVersionMatch",
            "sendInitialEvents",
            "timeoutSeconds",
            "watch"
        ]
    );
    let coll = &paths["/apis/pub2.example.com/v1/namespaces/{namespace}/foos"];
    assert_eq!(pnames(&coll["parameters"]), ["namespace", "pretty"]);
    assert_eq!(
        coll["post"]["operationId"],
        "createPub2ExampleComV1NamespacedFoo"
    );
    assert_eq!(coll["post"]["description"], "create a Foo");
    assert_eq!(
        coll["delete"]["operationId"],
        "deletePub2ExampleComV1CollectionNamespacedFoo"
    );
    assert_eq!(coll["delete"]["x-kubernetes-action"], "deletecollection");
    assert_eq!(
        pnames(&coll["post"]["parameters"]),
        ["body", "dryRun", "fieldManager", "fieldValidation"]
    );
    let one = &paths["/apis/pub2.example.com/v1/namespaces/{namespace}/foos/{name}"];
    assert_eq!(pnames(&one["parameters"]), ["name", "namespace", "pretty"]);
    assert_eq!(one["parameters"][0]["description"], "name of the Foo");
    let patch = &one["patch"];
    assert_eq!(
        patch["consumes"],
        json!([
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml"
        ])
    );
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "pub2.example.com", "kind": "Foo", "version": "v1"})
    );
    assert_eq!(
        pnames(&patch["parameters"]),
        ["body", "dryRun", "fieldManager", "fieldValidation", "force"]
    );
    assert_eq!(
        one["get"]["operationId"],
        "readPub2ExampleComV1NamespacedFoo"
    );
    assert_eq!(pnames(&one["get"]["parameters"]), ["resourceVersion"]);
    assert_eq!(one["delete"]["parameters"][0]["in"], "body");
    assert!(one["delete"]["parameters"][0].get("required").is_none());
    let status = &paths["/apis/pub2.example.com/v1/namespaces/{namespace}/foos/{name}/status"];
    assert_eq!(
        status["put"]["operationId"],
        "replacePub2ExampleComV1NamespacedFooStatus"
    );
    assert_eq!(
        status["patch"]["description"],
        "partially update status of the specified Foo"
    );
    let scale = &paths["/apis/pub2.example.com/v1/namespaces/{namespace}/foos/{name}/scale"];
    assert_eq!(
        scale["get"]["responses"]["200"]["schema"]["$ref"],
        "#/definitions/io.k8s.api.autoscaling.v1.Scale"
    );
    assert!(paths["/apis/pub2.example.com/v2/namespaces/{namespace}/foos/{name}/status"].is_null());

    // The protobuf form has the same content.
    let (proto, proto_etag) =
        match service().serve("/openapi/v2", None, Some(V2_PROTOBUF), None, None) {
            Served::Ok { body, etag, .. } => (body, etag),
            other => panic!("{other:?}"),
        };
    assert_ne!(proto_etag, etag);
    if let Some(pool) = gnostic_pool() {
        use prost_reflect::DynamicMessage;
        let desc = pool.get_message_by_name("openapi.v2.Document").unwrap();
        let msg = DynamicMessage::decode(desc, proto).unwrap();
        let defs = msg.get_field_by_name("definitions").unwrap();
        let entries = defs
            .as_message()
            .unwrap()
            .get_field_by_name("additional_properties")
            .unwrap();
        let names: Vec<String> = entries
            .as_list()
            .unwrap()
            .iter()
            .map(|e| {
                e.as_message()
                    .unwrap()
                    .get_field_by_name("name")
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(names.len(), doc["definitions"].as_object().unwrap().len());
        assert!(names.iter().any(|n| n == "com.example.pub2.v1.Foo"));
        let paths = msg.get_field_by_name("paths").unwrap();
        let n = paths
            .as_message()
            .unwrap()
            .get_field_by_name("path")
            .unwrap()
            .as_list()
            .unwrap()
            .len();
        assert_eq!(n, doc["paths"].as_object().unwrap().len());
    }

    // v3: the group version's own document.
    let (gv, _) = served_json("/openapi/v3/apis/pub2.example.com/v1", None);
    let foo3 = &gv["components"]["schemas"]["com.example.pub2.v1.Foo"];
    assert_eq!(
        foo3["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(
        gv["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"].is_object()
    );
    let patch3 =
        &gv["paths"]["/apis/pub2.example.com/v1/namespaces/{namespace}/foos/{name}"]["patch"];
    let types: Vec<&String> = patch3["requestBody"]["content"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(types.len(), 3, "{patch3}");
    assert!(!types.iter().any(|t| t.contains("strategic")), "{types:?}");

    // A version no longer served leaves; the CRD going removes the rest.
    let versions = json!([{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema_foo()}},
        {"name": "v2", "served": false, "storage": false, "schema": {"openAPIV3Schema": schema_foo()}}]);
    k3rs_apis::crd::register(&crd("pub2.example.com", "foos", "Foo", versions));
    custom::refresh();
    let (doc, etag2) = served_json("/openapi/v2", None);
    assert_ne!(etag2, etag);
    assert!(doc["definitions"]["com.example.pub2.v1.Foo"].is_object());
    assert!(doc["definitions"]["com.example.pub2.v2.Foo"].is_null());
    assert!(
        doc["paths"]["/apis/pub2.example.com/v1/namespaces/{namespace}/foos/{name}/status"]
            .is_null()
    );
    assert!(matches!(
        service().serve(
            "/openapi/v3/apis/pub2.example.com/v2",
            None,
            None,
            None,
            None
        ),
        Served::NotFound
    ));
    k3rs_apis::crd::unregister("foos.pub2.example.com");
    custom::refresh();
    let (doc, _) = served_json("/openapi/v2", None);
    assert!(doc["definitions"]["com.example.pub2.v1.Foo"].is_null());
    assert!(doc["paths"]["/apis/pub2.example.com/v1/foos"].is_null());
    assert!(matches!(
        service().serve(
            "/openapi/v3/apis/pub2.example.com/v1",
            None,
            None,
            None,
            None
        ),
        Served::NotFound
    ));
}

#[test]
fn custom_resource_definitions_as_upstream_builds_them() {
    let s = |schema: Value| k3rs_apis::crd::CrdSchema {
        group: "b.example.com".into(),
        version: "v1".into(),
        kind: "Item".into(),
        list_kind: "ItemList".into(),
        plural: "items".into(),
        namespaced: false,
        schema: Some(schema),
        has_status: false,
        has_scale: false,
        selectable_fields: vec![],
    };
    // Preserving unknown fields at the root: v2 says nothing more than "object".
    let root = s(
        json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"spec": {"type": "object"}}}),
    );
    assert_eq!(
        custom::kind_definition(&root, true),
        json!({"type": "object", "x-kubernetes-group-version-kind": [{"group": "b.example.com", "kind": "Item", "version": "v1"}]})
    );
    let v3 = custom::kind_definition(&root, false);
    assert_eq!(v3["x-kubernetes-preserve-unknown-fields"], true);
    assert!(v3["properties"]["metadata"].is_object());
    // Nested: nullable, int-or-string, embedded resources, defaults.
    let nested = s(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "port": {"x-kubernetes-int-or-string": true},
            "note": {"type": "string", "nullable": true, "default": "x"},
            "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                    "properties": {"a": {"type": "string"}}}}},
            "raw": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
        }}}}),
    );
    let v2 = custom::kind_definition(&nested, true);
    let spec = &v2["properties"]["spec"]["properties"];
    assert_eq!(spec["port"], json!({"x-kubernetes-int-or-string": true}));
    assert_eq!(spec["note"], json!({}));
    assert_eq!(
        spec["template"]["properties"]["spec"],
        json!({"x-kubernetes-preserve-unknown-fields": true})
    );
    assert_eq!(spec["template"]["required"], json!(["kind", "apiVersion"]));
    assert!(spec["template"]["properties"]["metadata"]["$ref"].is_string());
    assert_eq!(
        spec["raw"],
        json!({"x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true})
    );
    let v3 = custom::kind_definition(&nested, false);
    let spec = &v3["properties"]["spec"]["properties"];
    assert_eq!(
        spec["port"]["anyOf"],
        json!([{"type": "integer"}, {"type": "string"}])
    );
    assert_eq!(
        spec["note"],
        json!({"type": "string", "nullable": true, "default": "x"})
    );
    assert!(spec["raw"]["properties"]["kind"].is_object());
}

/// gnostic's descriptors, from the Go module cache (`None`: not there).
fn gnostic_pool() -> Option<prost_reflect::DescriptorPool> {
    let dir = modcache()?.join("github.com/google/gnostic-models@v0.7.0");
    if !dir.is_dir() {
        assert!(
            std::env::var_os("K3RS_STRICT_TESTS").is_none(),
            "scripts/test provides gnostic-models; it must not be skipped"
        );
        return None;
    }
    let fds = protox::compile(["openapiv2/OpenAPIv2.proto"], [&dir]).unwrap();
    Some(prost_reflect::DescriptorPool::from_file_descriptor_set(fds).unwrap())
}

#[test]
fn splicing_into_the_protobuf_document() {
    let doc = json!({"swagger": "2.0", "paths": {"/a": {"get": {"operationId": "a"}}},
        "definitions": {"A": {"type": "object"}}});
    let base = gnostic::encode_document(&doc);
    let mut extra_paths = serde_json::Map::new();
    extra_paths.insert("/b".into(), json!({"get": {"operationId": "b"}}));
    let mut extra_defs = serde_json::Map::new();
    extra_defs.insert("B".into(), json!({"type": "string"}));
    let spliced = gnostic::splice(
        &base,
        &[
            (gnostic::PATHS, &gnostic::path_entries(&extra_paths)),
            (
                gnostic::DEFINITIONS,
                &gnostic::definition_entries(&extra_defs),
            ),
        ],
    )
    .unwrap();
    let mut whole = doc.clone();
    whole["paths"]["/b"] = extra_paths["/b"].clone();
    whole["definitions"]["B"] = extra_defs["B"].clone();
    assert_eq!(spliced, gnostic::encode_document(&whole));
    // A document without those fields gets them.
    let bare = gnostic::encode_document(&json!({"swagger": "2.0"}));
    let added = gnostic::splice(
        &bare,
        &[(
            gnostic::DEFINITIONS,
            &gnostic::definition_entries(&extra_defs),
        )],
    )
    .unwrap();
    assert_eq!(
        added,
        gnostic::encode_document(
            &json!({"swagger": "2.0", "definitions": {"B": {"type": "string"}}})
        )
    );
    assert!(gnostic::splice(&[0x0a, 0x05, 0x01], &[]).is_none());
}
