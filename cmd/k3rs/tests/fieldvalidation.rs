//! Server-side field validation (`fieldValidation=Strict|Warn|Ignore`) against `k3rs server`,
//! with curl and the stock kubectl: unknown and duplicate fields in JSON and YAML bodies, in
//! creates, updates and patches; unknown fields are never stored.

mod common;

use serde_json::{json, Value};

/// A request with curl: (status, `Warning` header values, body as JSON).
fn call(
    k: &common::K3rs,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Vec<String>, Value) {
    let file = k.dir.path().join("fv-body");
    std::fs::write(&file, body).unwrap();
    let data = format!("@{}", file.display());
    let mut args = vec!["-X", method, "-D", "-"];
    let ct = format!("Content-Type: {content_type}");
    if method != "GET" {
        args.extend(["-H", &ct, "--data-binary", &data]);
    }
    let url = k.url(path);
    args.push(&url);
    let out = k.curl(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let warnings = head
        .lines()
        .filter_map(|l| {
            let (name, v) = l.split_once(':')?;
            name.eq_ignore_ascii_case("warning")
                .then(|| v.trim().to_string())
        })
        .collect();
    let v = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    (code, warnings, v)
}

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn get(k: &common::K3rs, name: &str) -> (u16, Value) {
    let (code, _, v) = call(k, "GET", &format!("{CMS}/{name}"), "", "");
    (code, v)
}

#[test]
fn unknown_and_duplicate_fields_on_create_update_and_patch() {
    let k = common::K3rs::start(None);
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv","name":"fv","labels":{"a":"1"}},"data":{"k":"v"},"spec":{"foo":1}}"#;

    // Strict: 400 with upstream's message, nothing stored.
    let (code, warnings, st) = call(
        &k,
        "POST",
        &format!("{CMS}?fieldValidation=Strict"),
        "application/json",
        body,
    );
    assert_eq!(code, 400, "{st}");
    assert!(warnings.is_empty());
    assert_eq!(st["reason"], "BadRequest");
    assert_eq!(
        st["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: duplicate field \"metadata.name\", unknown field \"spec\""
    );
    assert_eq!(get(&k, "fv").0, 404);

    // Warn (also the default): created, one warning per problem, the unknown field not stored.
    for (name, query) in [("fv", "?fieldValidation=Warn"), ("fv-default", "")] {
        let body = body.replace("\"fv\"", &format!("\"{name}\""));
        let (code, warnings, obj) = call(
            &k,
            "POST",
            &format!("{CMS}{query}"),
            "application/json",
            &body,
        );
        assert_eq!(code, 201, "{obj}");
        assert_eq!(
            warnings,
            vec![
                r#"299 - "duplicate field \"metadata.name\"""#,
                r#"299 - "unknown field \"spec\"""#
            ]
        );
        assert!(obj.get("spec").is_none(), "{obj}");
        let (code, stored) = get(&k, name);
        assert_eq!(code, 200);
        assert!(
            stored.get("spec").is_none(),
            "unknown field stored: {stored}"
        );
        assert_eq!(stored["data"], json!({"k": "v"}));
    }

    // Ignore: created silently, still without the unknown field.
    let body3 = body.replace("\"fv\"", "\"fv-ignore\"");
    let (code, warnings, _) = call(
        &k,
        "POST",
        &format!("{CMS}?fieldValidation=Ignore"),
        "application/json",
        &body3,
    );
    assert_eq!((code, warnings.len()), (201, 0));
    assert!(get(&k, "fv-ignore").1.get("spec").is_none());

    // A bad directive.
    let (code, _, st) = call(
        &k,
        "POST",
        &format!("{CMS}?fieldValidation=strict"),
        "application/json",
        &body3,
    );
    assert_eq!(code, 422);
    assert_eq!(
        st["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
    );

    // Update (PUT): nested unknown fields with upstream's paths. (The owner is of a kind the
    // server does not serve, so the garbage collector leaves the object alone.)
    let put = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv","bogus":true,"ownerReferences":[{"apiVersion":"example.com/v1","kind":"Widget","name":"p","uid":"u","extra":1}]},"data":{"k":"v2"}}"#;
    let (code, _, st) = call(
        &k,
        "PUT",
        &format!("{CMS}/fv?fieldValidation=Strict"),
        "application/json",
        put,
    );
    assert_eq!(code, 400);
    assert_eq!(
        st["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"metadata.bogus\", unknown field \"metadata.ownerReferences[0].extra\""
    );
    assert_eq!(get(&k, "fv").1["data"]["k"], "v");
    let (code, warnings, _) = call(&k, "PUT", &format!("{CMS}/fv"), "application/json", put);
    assert_eq!(code, 200);
    assert_eq!(warnings.len(), 2);
    let stored = get(&k, "fv").1;
    assert_eq!(stored["data"]["k"], "v2");
    assert!(stored["metadata"].get("bogus").is_none());
    assert_eq!(
        stored["metadata"]["ownerReferences"][0],
        json!({"apiVersion":"example.com/v1","kind":"Widget","name":"p","uid":"u"})
    );

    // Merge patch: unknown fields of the patched object (422, upstream's patcher message),
    // duplicates of the patch itself first.
    let (code, _, st) = call(
        &k,
        "PATCH",
        &format!("{CMS}/fv?fieldValidation=Strict"),
        "application/merge-patch+json",
        r#"{"data":{"x":"1","x":"2"},"foo":"bar"}"#,
    );
    assert_eq!(code, 422, "{st}");
    assert_eq!(st["reason"], "Invalid");
    let msg = st["message"].as_str().unwrap();
    assert!(
        msg.starts_with(r#" "" is invalid: patch: Invalid value: "{"#),
        "{msg}"
    );
    assert!(
        msg.ends_with(r#"": strict decoding error: duplicate field "data.x", unknown field "foo""#),
        "{msg}"
    );
    assert_eq!(st["details"]["causes"][0]["field"], "patch");
    assert!(
        get(&k, "fv").1["data"].get("x").is_none(),
        "strict patch applied"
    );
    let (code, warnings, obj) = call(
        &k,
        "PATCH",
        &format!("{CMS}/fv"),
        "application/merge-patch+json",
        r#"{"data":{"x":"1"},"foo":"bar"}"#,
    );
    assert_eq!(code, 200);
    assert_eq!(warnings, vec![r#"299 - "unknown field \"foo\"""#]);
    assert_eq!(obj["data"]["x"], "1");
    assert!(get(&k, "fv").1.get("foo").is_none());

    // JSON patch: unknown operation fields are reported as upstream's.
    let (code, _, st) = call(
        &k,
        "PATCH",
        &format!("{CMS}/fv?fieldValidation=Strict"),
        "application/json-patch+json",
        r#"[{"op":"add","path":"/data/y","value":"1","extra":true}]"#,
    );
    assert_eq!(code, 422);
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .ends_with(r#"strict decoding error: json patch unknown field "[0].extra""#),
        "{st}"
    );
    let (code, warnings, _) = call(
        &k,
        "PATCH",
        &format!("{CMS}/fv?fieldValidation=Ignore"),
        "application/json-patch+json",
        r#"[{"op":"add","path":"/bogus","value":"1"}]"#,
    );
    assert_eq!((code, warnings.len()), (200, 0));
    assert!(get(&k, "fv").1.get("bogus").is_none());
}

#[test]
fn yaml_bodies_and_subresources() {
    let k = common::K3rs::start(None);
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n  name: y\n  foo: 1\ndata:\n  k: v\n  k:\n    w\n";
    let (code, _, st) = call(
        &k,
        "POST",
        &format!("{CMS}?fieldValidation=Strict"),
        "application/yaml",
        yaml,
    );
    assert_eq!(code, 400);
    assert_eq!(
        st["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: yaml: unmarshal errors:\n  line 5: key \"name\" already set in map\n  line 10: key \"k\" already set in map, unknown field \"metadata.foo\""
    );
    let (code, warnings, obj) = call(&k, "POST", CMS, "application/yaml", yaml);
    assert_eq!(code, 201, "{obj}");
    assert_eq!(
        warnings,
        vec![
            r#"299 - "line 5: key \"name\" already set in map""#,
            r#"299 - "line 10: key \"k\" already set in map""#,
            r#"299 - "unknown field \"metadata.foo\"""#
        ]
    );
    // The last of a repeated key wins, as upstream.
    assert_eq!(get(&k, "y").1["data"]["k"], "w");

    // Status updates and scale are validated against their own schemas.
    let (code, _, _) = call(
        &k,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        "application/json",
        r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":1,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i","imagePullPolicy":"Always","bogus":1}]}}}}"#,
    )
    .clone();
    assert_eq!(code, 201);
    let (_, dep) = {
        let (c, _, v) = call(
            &k,
            "GET",
            "/apis/apps/v1/namespaces/default/deployments/d",
            "",
            "",
        );
        (c, v)
    };
    assert!(
        dep["spec"]["template"]["spec"]["containers"][0]
            .get("bogus")
            .is_none(),
        "{dep}"
    );
    let (code, _, st) = call(
        &k,
        "PUT",
        "/apis/apps/v1/namespaces/default/deployments/d/scale?fieldValidation=Strict",
        "application/json",
        r#"{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"d","namespace":"default"},"spec":{"replicas":3,"paused":true}}"#,
    );
    assert_eq!(code, 400, "{st}");
    assert_eq!(
        st["message"],
        "Scale in version \"v1\" cannot be handled as a Scale: strict decoding error: unknown field \"spec.paused\""
    );
    let mut status = dep.clone();
    status["status"] = json!({"replicas": 1, "fancy": true});
    // Unconditional (Deployments allow it): the Deployment controller writes this object too.
    if let Some(m) = status["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    let (code, warnings, _) = call(
        &k,
        "PUT",
        "/apis/apps/v1/namespaces/default/deployments/d/status",
        "application/json",
        &status.to_string(),
    );
    assert_eq!(code, 200);
    assert_eq!(warnings, vec![r#"299 - "unknown field \"status.fancy\"""#]);
}

#[test]
fn kubectl_shows_strict_errors_and_warnings() {
    let k = common::K3rs::start(None);
    let file = k.dir.path().join("cm.json");
    std::fs::write(
        &file,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kc"},"data":{"a":"b"},"spec":{"foo":1}}"#,
    )
    .unwrap();
    let f = file.to_str().unwrap();
    // kubectl sends the body as is with --raw; it prints the server's Status and warnings.
    let err = k.err(&[
        "create",
        "--raw",
        &format!("{CMS}?fieldValidation=Strict"),
        "-f",
        f,
    ]);
    assert!(
        err.contains("Error from server (BadRequest): ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"spec\""),
        "{err}"
    );
    let out = k.kubectl(&["create", "--raw", CMS, "-f", f]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Warning: unknown field \"spec\""),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `kubectl patch` (no fieldValidation without OpenAPI v3: the server's default, Warn).
    let out = k.kubectl(&[
        "patch",
        "cm",
        "kc",
        "--type",
        "merge",
        "-p",
        r#"{"foo":1,"data":{"c":"d"}}"#,
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Warning: unknown field \"foo\""));
    let cm: Value = serde_json::from_str(&k.ok(&["get", "cm", "kc", "-o", "json"])).unwrap();
    assert_eq!(cm["data"], json!({"a": "b", "c": "d"}));
    assert!(cm.get("spec").is_none() && cm.get("foo").is_none(), "{cm}");
    // --validate=false sends fieldValidation=Ignore: no warning.
    std::fs::write(
        &file,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kc2"},"spec":{"foo":1}}"#,
    )
    .unwrap();
    let out = k.kubectl(&["create", "-f", f, "--validate=false"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Warning"));
}

/// A namespaced CRD like the e2e suite's: `spec` preserves unknown fields and holds an embedded
/// resource; `strict` does not.
const NOXU_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: noxus.fv.example.com}
spec:
  group: fv.example.com
  scope: Namespaced
  names: {plural: noxus, singular: noxu, kind: Noxu, listKind: NoxuList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-preserve-unknown-fields: true
            properties:
              foo: {type: string}
              template:
                type: object
                x-kubernetes-embedded-resource: true
                properties:
                  metadata: {type: object, properties: {name: {type: string}}}
                  spec: {type: object}
          strict:
            type: object
            properties:
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    port: {type: integer}
"#;

fn establish_noxus(k: &common::K3rs) {
    let f = k.dir.path().join("noxu-crd.yaml");
    std::fs::write(&f, NOXU_CRD).unwrap();
    let f = f.display().to_string();
    k.ok(&["apply", "-f", &f]);
    k.ok(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=60s",
        "crd/noxus.fv.example.com",
    ]);
}

const NOXUS: &str = "/apis/fv.example.com/v1/namespaces/default/noxus";

/// Server-side apply as upstream: fields the schema does not declare fail the apply in every
/// mode (500, upstream's typed patch error, nothing stored); repeated keys follow
/// `fieldValidation` (Strict 400, Warn warnings, Ignore nothing).
#[test]
fn server_side_apply_field_validation() {
    let k = common::K3rs::start(None);
    establish_noxus(&k);
    let apply = |name: &str, query: &str, body: &str| {
        call(
            &k,
            "PATCH",
            &format!("{NOXUS}/{name}?fieldManager=fv-test{query}"),
            "application/apply-patch+yaml",
            body,
        )
    };

    // An undeclared field at the root, unknown ObjectMeta fields (root and embedded resource):
    // refused whatever fieldValidation says.
    let unknown = "apiVersion: fv.example.com/v1\nkind: Noxu\nmetadata:\n  name: mytest\n  unknownMeta: x\nunknownField: unknown\nspec:\n  foo: a\n  anything: goes\n  template:\n    apiVersion: v1\n    kind: Sub\n    metadata:\n      name: sub\n      unknownSubMeta: x\n";
    for query in [
        "&fieldValidation=Strict",
        "&fieldValidation=Warn",
        "&fieldValidation=Ignore",
        "",
    ] {
        let (code, warnings, st) = apply("mytest", query, unknown);
        assert_eq!(code, 500, "{query}: {st}");
        assert!(warnings.is_empty());
        assert_eq!(
            st["message"],
            "failed to create typed patch object (/mytest; fv.example.com/v1, Kind=Noxu): errors:\n  .metadata.unknownMeta: field not declared in schema\n  .unknownField: field not declared in schema\n  .spec.template.metadata.unknownSubMeta: field not declared in schema",
            "{query}"
        );
        assert!(st.get("reason").is_none(), "{st}");
    }
    assert_eq!(call(&k, "GET", &format!("{NOXUS}/mytest"), "", "").0, 404);
    // Items of a list keyed by name are named by their key.
    let (code, _, st) = apply(
        "listed",
        "",
        "apiVersion: fv.example.com/v1\nkind: Noxu\nmetadata:\n  name: listed\nstrict:\n  ports:\n  - name: http\n    port: 80\n    extra: 1\n",
    );
    assert_eq!(code, 500);
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .ends_with(": .strict.ports[name=\"http\"].extra: field not declared in schema"),
        "{st}"
    );

    // Repeated keys, in a part that preserves unknown fields (line 9 holds the second `foo`).
    let dups = "apiVersion: fv.example.com/v1\nkind: Noxu\nmetadata:\n  name: dups\nspec:\n  unknown: uk1\n  foo: foo1\n  foo: foo2\n  bar: 1\n";
    let (code, warnings, st) = apply("dups", "&fieldValidation=Strict", dups);
    assert_eq!(code, 400, "{st}");
    assert_eq!(
        st["message"],
        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  line 8: key \"foo\" already set in map"
    );
    assert!(warnings.is_empty());
    assert_eq!(call(&k, "GET", &format!("{NOXUS}/dups"), "", "").0, 404);
    for (query, expect) in [
        ("&fieldValidation=Warn", 1),
        ("", 1),
        ("&fieldValidation=Ignore", 0),
    ] {
        let (code, warnings, obj) = apply("dups", query, dups);
        assert!(code == 200 || code == 201, "{query}: {obj}");
        assert_eq!(warnings.len(), expect, "{query}: {warnings:?}");
        if expect == 1 {
            assert_eq!(
                warnings[0],
                r#"299 - "line 8: key \"foo\" already set in map""#
            );
        }
        // The last value wins; unknown fields of the preserving part are kept.
        assert_eq!(obj["spec"]["foo"], "foo2");
        assert_eq!(obj["spec"]["unknown"], "uk1");
    }

    // Built-in kinds: the same rules.
    let cm =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  bogus: 1\ndata:\n  a: b\n";
    let (code, _, st) = call(
        &k,
        "PATCH",
        &format!("{CMS}/applied?fieldManager=fv-test&fieldValidation=Ignore"),
        "application/apply-patch+yaml",
        cm,
    );
    assert_eq!(code, 500);
    assert_eq!(
        st["message"],
        "failed to create typed patch object (/applied; /v1, Kind=ConfigMap): .metadata.bogus: field not declared in schema"
    );
    let dep = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"default"},
"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},
"spec":{"containers":[{"name":"c","image":"x","ports":[{"containerPort":80,"nope":1}]}]}}}}"#;
    let (code, _, st) = call(
        &k,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/d?fieldManager=fv-test",
        "application/apply-patch+yaml",
        dep,
    );
    assert_eq!(code, 500);
    assert_eq!(
        st["message"],
        "failed to create typed patch object (default/d; apps/v1, Kind=Deployment): .spec.template.spec.containers[name=\"c\"].ports[containerPort=80,protocol=\"TCP\"].nope: field not declared in schema"
    );
    let cm_dups =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: b\n  a: c\n";
    for (query, code_want, warnings_want) in [
        ("&fieldValidation=Strict", 400, 0),
        ("&fieldValidation=Warn", 201, 1),
        ("&fieldValidation=Ignore", 200, 0),
    ] {
        let (code, warnings, st) = call(
            &k,
            "PATCH",
            &format!("{CMS}/applied?fieldManager=fv-test{query}"),
            "application/apply-patch+yaml",
            cm_dups,
        );
        assert_eq!(
            (code, warnings.len()),
            (code_want, warnings_want),
            "{query}: {st}"
        );
        if code == 400 {
            assert_eq!(
                st["message"],
                "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n  line 7: key \"a\" already set in map"
            );
        } else {
            assert_eq!(st["data"]["a"], "c");
        }
    }

    // kubectl shows the server's refusal.
    let f = k.dir.path().join("noxu.yaml");
    std::fs::write(&f, unknown).unwrap();
    let f = f.display().to_string();
    let err = k.err(&["apply", "--server-side", "-f", &f]);
    assert!(
        err.contains(".unknownField: field not declared in schema"),
        "{err}"
    );
}

/// Custom resources' ObjectMeta (at the root and in embedded resources) has ObjectMeta's
/// fields only: others are reported after the body's repeated keys, as upstream orders them,
/// and never stored.
#[test]
fn unknown_metadata_of_custom_resources() {
    let k = common::K3rs::start(None);
    establish_noxus(&k);
    let body = r#"{"apiVersion":"fv.example.com/v1","kind":"Noxu","metadata":{"name":"meta","name":"meta","unknownMeta":"x"},
"spec":{"zz":1,"zz":2,"template":{"apiVersion":"v1","kind":"Sub","metadata":{"name":"s","unknownSubMeta":"u"}}},
"strict":{"ports":[{"name":"a","bogus":1}]}}"#;
    let (code, _, st) = call(
        &k,
        "POST",
        &format!("{NOXUS}?fieldValidation=Strict"),
        "application/json",
        body,
    );
    assert_eq!(code, 400, "{st}");
    assert_eq!(
        st["message"],
        "Noxu in version \"v1\" cannot be handled as a Noxu: strict decoding error: duplicate field \"metadata.name\", duplicate field \"spec.zz\", unknown field \"metadata.unknownMeta\", unknown field \"strict.ports[0].bogus\", unknown field \"spec.template.metadata.unknownSubMeta\""
    );
    let (code, warnings, obj) = call(&k, "POST", NOXUS, "application/json", body);
    assert_eq!(code, 201, "{obj}");
    assert_eq!(warnings.len(), 5, "{warnings:?}");
    assert!(obj["metadata"].get("unknownMeta").is_none(), "{obj}");
    assert!(obj["spec"]["template"]["metadata"]
        .get("unknownSubMeta")
        .is_none());
    assert_eq!(obj["spec"]["template"]["metadata"]["name"], "s");
    assert!(obj["strict"]["ports"][0].get("bogus").is_none());
    let (_, _, stored) = call(&k, "GET", &format!("{NOXUS}/meta"), "", "");
    assert!(stored["metadata"].get("unknownMeta").is_none(), "{stored}");
}
