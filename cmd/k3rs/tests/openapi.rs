//! OpenAPI v2/v3 as stock kubectl 1.27–1.33 use them: `create -f` and `apply -f` with the default
//! client-side validation on, `explain`, and the HTTP caching contract of `/openapi/v3`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::K3rs;

const VERSIONS: &[&str] = &["1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"];

fn kubectl_bin(version: &str) -> PathBuf {
    PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}"))
}

/// Runs one kubectl version with its own discovery/OpenAPI cache, `stdin` piped in.
fn run(k: &K3rs, version: &str, args: &[&str], stdin: &str) -> Output {
    common::output_with_stdin(
        Command::new(kubectl_bin(version))
            .arg("--kubeconfig")
            .arg(k.kubeconfig())
            .args(args)
            .env(
                "KUBECACHEDIR",
                k.dir.path().join(format!("cache-{version}")),
            ),
        stdin,
        "kubectl",
    )
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(k: &K3rs, version: &str, args: &[&str], stdin: &str) -> String {
    let o = run(k, version, args, stdin);
    assert!(
        o.status.success(),
        "kubectl {version} {args:?}: {}",
        text(&o)
    );
    text(&o)
}

fn deployment(name: &str, extra_spec: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  replicas: 1
{extra_spec}  selector:
    matchLabels:
      app: {name}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 25%
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
          protocol: TCP
        env:
        - name: A
          value: "1"
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
"#
    )
}

/// Every kubectl version creates and applies a Deployment with validation on (which needs
/// OpenAPI v2 in protobuf for 1.27–1.28 and v3 with `fieldValidation` for 1.29+), and explains
/// its fields from the served schemas.
#[test]
fn kubectl_create_apply_explain_with_validation() {
    let k = K3rs::start(None);
    for v in VERSIONS {
        assert!(kubectl_bin(v).exists(), "no kubectl {v}");
        let tag = v.replace('.', "-");
        let created = format!("created-{tag}");
        let out = ok(
            &k,
            v,
            &["create", "-f", "-", "-v=6"],
            &deployment(&created, ""),
        );
        assert!(
            out.contains(&format!("deployment.apps/{created} created")),
            "kubectl {v}: {out}"
        );
        // Which OpenAPI kubectl used to decide how to validate: 1.27–1.28 load v2 (protobuf),
        // later versions look up the group version's v3 document.
        let fetched = |path: &str| {
            out.lines()
                .any(|l| l.contains(&k.url(path)) && l.contains("GET") && l.contains("200 OK"))
        };
        if matches!(*v, "1.27" | "1.28") {
            assert!(fetched("/openapi/v2?"), "kubectl {v}: {out}");
        }
        assert!(
            fetched("/openapi/v3/apis/apps/v1?hash="),
            "kubectl {v}: {out}"
        );
        assert!(
            out.contains("fieldValidation=Strict"),
            "kubectl {v} did not ask the server to validate: {out}"
        );

        let applied = format!("applied-{tag}");
        let manifest = deployment(&applied, "");
        let out = ok(&k, v, &["apply", "-f", "-"], &manifest);
        assert!(
            out.contains(&format!("deployment.apps/{applied} created")),
            "kubectl {v}: {out}"
        );
        // Applying it again computes a patch from the served schemas; nothing changed.
        let out = ok(&k, v, &["apply", "-f", "-"], &manifest);
        assert!(
            out.contains(&format!("deployment.apps/{applied} unchanged")),
            "kubectl {v}: {out}"
        );
        let got = ok(
            &k,
            v,
            &[
                "get",
                "deployment",
                &applied,
                "-o",
                "jsonpath={.spec.template.spec.containers[0].resources.requests.cpu}",
            ],
            "",
        );
        assert_eq!(got, "100m");

        let out = ok(&k, v, &["explain", "deployment.spec.strategy"], "");
        for want in [
            "KIND:",
            "Deployment",
            "FIELD:",
            "strategy",
            "DeploymentStrategy",
            "The deployment strategy to use to replace existing pods with new ones.",
            "rollingUpdate",
            "type",
        ] {
            assert!(
                out.contains(want),
                "kubectl {v} explain lacks {want:?}:\n{out}"
            );
        }
        let out = ok(&k, v, &["explain", "pods.spec.containers.ports"], "");
        assert!(out.contains("containerPort"), "kubectl {v}:\n{out}");
        assert!(
            out.contains("<integer>") && out.contains("-required-"),
            "kubectl {v}:\n{out}"
        );
        // The v2 flavour of explain (the only one 1.27 offers without an environment variable).
        let out = ok(
            &k,
            v,
            &[
                "explain",
                "deployment.spec.replicas",
                "--output=plaintext-openapiv2",
            ],
            "",
        );
        assert!(
            out.contains("Number of desired pods"),
            "kubectl {v} explain (v2):\n{out}"
        );
    }
}

/// `apply --validate=strict` of a manifest with a field the kind does not have fails and names
/// the field. kubectl asks the server to check (`fieldValidation=Strict`) because OpenAPI says
/// the server supports it.
#[test]
fn strict_validation_names_unknown_fields() {
    let k = K3rs::start(None);
    for v in VERSIONS {
        let tag = v.replace('.', "-");
        let bad = deployment(&format!("bad-{tag}"), "  replicaz: 3\n");
        let o = run(&k, v, &["apply", "--validate=strict", "-f", "-"], &bad);
        let out = text(&o);
        assert!(
            !o.status.success(),
            "kubectl {v} accepted an unknown field: {out}"
        );
        assert!(out.contains("replicaz"), "kubectl {v}: {out}");
    }
}

/// The caching contract of `/openapi/v3`: hashed URLs, ETags, 304s and redirects.
#[test]
fn openapi_v3_caching_over_http() {
    let k = K3rs::start(None);
    let (code, index) = k.http("GET", "/openapi/v3", "", "");
    assert_eq!(code, 200);
    let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = url.split_once("?hash=").unwrap().1.to_string();
    assert!(index["paths"]["api/v1"]["serverRelativeURL"].is_string());

    let headers = |args: &[&str]| {
        let out = k.curl(&[&["-s", "-D", "-", "-o", "/dev/null"], args].concat());
        String::from_utf8_lossy(&out.stdout).to_ascii_lowercase()
    };
    let h = headers(&[&k.url(&url)]);
    assert!(
        h.starts_with("http/2 200") || h.starts_with("http/1.1 200"),
        "{h}"
    );
    assert!(h.contains("cache-control: public, immutable"), "{h}");
    assert!(
        h.contains(&format!("etag: \"{}\"", hash.to_ascii_lowercase())),
        "{h}"
    );
    assert!(h.contains("content-type: application/json"), "{h}");
    // Not modified.
    let h = headers(&[
        "-H",
        &format!("If-None-Match: \"{hash}\""),
        &k.url("/openapi/v3/apis/apps/v1"),
    ]);
    assert!(h.contains(" 304"), "{h}");
    // A stale hash redirects to the current document.
    let h = headers(&[&k.url("/openapi/v3/apis/apps/v1?hash=0000")]);
    assert!(h.contains(" 301"), "{h}");
    assert!(
        h.contains(&format!("location: {}", url.to_ascii_lowercase())),
        "{h}"
    );
    // Unknown group versions are 404 Status objects.
    let (code, status) = k.http("GET", "/openapi/v3/apis/example.com/v1", "", "");
    assert_eq!(code, 404);
    assert_eq!(status["kind"], "Status");
    // v2 in both encodings.
    let (code, v2) = k.http("GET", "/openapi/v2", "", "");
    assert_eq!(code, 200);
    assert_eq!(v2["swagger"], "2.0");
    assert!(v2["definitions"]["io.k8s.api.apps.v1.Deployment"].is_object());
    let h = headers(&[
        "-H",
        "Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        &k.url("/openapi/v2"),
    ]);
    assert!(
        h.contains("content-type: application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
        "{h}"
    );
    // Compressed for clients that accept gzip (kubectl's Go transport does).
    let h = headers(&["--compressed", &k.url("/openapi/v2")]);
    assert!(h.contains("content-encoding: gzip"), "{h}");
    let out = k.curl(&["--compressed", &k.url("/openapi/v2")]);
    let v2z: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v2z, v2);
    // Anonymous clients are refused, as upstream (system:discovery needs authentication).
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            &k.tls("server-ca.crt"),
            &k.url("/openapi/v3"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
}

/// A `kind: List` manifest is always validated by kubectl itself, against the schemas of
/// `/openapi/v2` (protobuf): what the served schemas allow passes, unknown fields and wrong types
/// are refused with upstream's messages.
#[test]
fn list_manifests_are_validated_against_served_v2_schemas() {
    let k = K3rs::start(None);
    let as_list = |manifest: &str| {
        let indented: Vec<String> = manifest
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    format!("- {l}")
                } else {
                    format!("  {l}")
                }
            })
            .collect();
        format!(
            "apiVersion: v1\nkind: List\nitems:\n{}\n",
            indented.join("\n")
        )
    };
    for v in VERSIONS {
        let tag = v.replace('.', "-");
        let good = as_list(&deployment(&format!("list-{tag}"), ""));
        let out = ok(&k, v, &["create", "-f", "-"], &good);
        assert!(
            out.contains(&format!("deployment.apps/list-{tag} created")),
            "kubectl {v}: {out}"
        );

        let unknown = as_list(&deployment(&format!("unknown-{tag}"), "  replicaz: 3\n"));
        let o = run(&k, v, &["create", "-f", "-"], &unknown);
        let out = text(&o);
        assert!(!o.status.success(), "kubectl {v}: {out}");
        assert!(
            out.contains(r#"unknown field "replicaz" in io.k8s.api.apps.v1.DeploymentSpec"#),
            "kubectl {v}: {out}"
        );

        let wrong_type = as_list(
            &deployment(&format!("type-{tag}"), "").replace("replicas: 1", "replicas: three"),
        );
        let o = run(&k, v, &["create", "-f", "-"], &wrong_type);
        let out = text(&o);
        assert!(!o.status.success(), "kubectl {v}: {out}");
        assert!(
            out.contains("io.k8s.api.apps.v1.DeploymentSpec.replicas")
                && out.contains(r#"expected "integer""#),
            "kubectl {v}: {out}"
        );
    }
    let names = String::from_utf8_lossy(&k.kubectl(&["get", "deployments", "-o", "name"]).stdout)
        .into_owned();
    assert!(
        !names.contains("unknown-") && !names.contains("type-"),
        "{names}"
    );
}

const FOO_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: foos.pub.example.com}
spec:
  group: pub.example.com
  scope: Namespaced
  names: {plural: foos, singular: foo, kind: Foo, listKind: FooList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        description: Foo CRD for Testing
        type: object
        properties:
          spec:
            type: object
            description: Specification of Foo
            properties:
              bars:
                description: List of Bars and their specs.
                type: array
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {description: Name of Bar., type: string}
                    feeling: {description: Whether Bar is feeling great., type: string, enum: [Great, Down]}
              note: {type: string, nullable: true, description: May be null.}
              port: {x-kubernetes-int-or-string: true}
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties:
                  known: {type: string}
              template:
                type: object
                x-kubernetes-embedded-resource: true
                properties:
                  spec: {type: object}
  - name: v2
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
"#;

/// `/openapi/v2` over HTTP: (status, ETag, body as JSON).
fn v2_with_etag(k: &K3rs, if_none_match: Option<&str>) -> (u16, String, serde_json::Value) {
    let inm = if_none_match.map(|e| format!("If-None-Match: \"{e}\""));
    let mut args = vec!["-s", "-D", "-"];
    if let Some(h) = &inm {
        args.extend(["-H", h.as_str()]);
    }
    let url = k.url("/openapi/v2");
    args.push(&url);
    let out = k.curl(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let etag = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("etag")
                .then(|| v.trim().trim_matches('"').to_string())
        })
        .unwrap_or_default();
    (code, etag, serde_json::from_str(body).unwrap_or_default())
}

/// Polls `/openapi/v2` until `cond` holds (the CRD controller establishes CRDs on its own).
fn wait_v2(k: &K3rs, what: &str, cond: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (code, _, doc) = v2_with_etag(k, None);
        if code == 200 && cond(&doc) {
            return doc;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Custom resources in `/openapi/v2`, as kubectl 1.27/1.28 read it (protobuf): their
/// definitions follow the CRDs (the document and its ETag change), kubectl validates `List`
/// items against them and explains them from v2; `create --validate=strict` is refused by the
/// server.
#[test]
fn custom_resources_in_openapi_v2() {
    let k = K3rs::start(None);
    let (_, etag_before, _) = v2_with_etag(&k, None);
    let f = k.dir.path().join("foo-crd.yaml");
    std::fs::write(&f, FOO_CRD).unwrap();
    let f = f.display().to_string();
    k.ok(&["apply", "-f", &f]);
    let def_name = "com.example.pub.v1.Foo";
    let doc = wait_v2(&k, "the Foo definition", |d| {
        d["definitions"][def_name].is_object()
    });
    let (_, etag, _) = v2_with_etag(&k, None);
    assert_ne!(etag, etag_before);
    assert_eq!(v2_with_etag(&k, Some(&etag_before)).0, 200);
    assert_eq!(v2_with_etag(&k, Some(&etag)).0, 304);

    let foo = &doc["definitions"][def_name];
    assert_eq!(
        foo["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "pub.example.com", "kind": "Foo", "version": "v1"}])
    );
    let spec = &foo["properties"]["spec"]["properties"];
    // What Swagger 2.0 cannot say is left out, as upstream does.
    assert_eq!(
        spec["note"],
        serde_json::json!({"description": "May be null."})
    );
    assert_eq!(
        spec["port"],
        serde_json::json!({"x-kubernetes-int-or-string": true})
    );
    assert_eq!(
        spec["extra"],
        serde_json::json!({"x-kubernetes-preserve-unknown-fields": true})
    );
    assert_eq!(
        spec["template"]["properties"]["metadata"]["$ref"],
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert!(doc["definitions"]["com.example.pub.v1.FooList"].is_object());
    assert!(
        doc["definitions"]["com.example.pub.v2.Foo"].is_null(),
        "v2 is not served"
    );
    let status =
        &doc["paths"]["/apis/pub.example.com/v1/namespaces/{namespace}/foos/{name}/status"];
    let patch_params: Vec<&str> = status["patch"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        patch_params.contains(&"fieldValidation"),
        "{patch_params:?}"
    );

    for v in ["1.27", "1.28"] {
        // kubectl validates a List's items itself, against the v2 definitions.
        let bad = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: pub.example.com/v1\n  kind: Foo\n  metadata: {name: bad}\n  spec:\n    bars: [{name: a, bogus: 1}]\n    foo: true\n";
        let o = run(&k, v, &["create", "-f", "-"], bad);
        let out = text(&o);
        assert!(!o.status.success(), "kubectl {v}: {out}");
        assert!(
            out.contains(r#"unknown field "bogus" in com.example.pub.v1.Foo.spec.bars"#)
                && out.contains(r#"unknown field "foo" in com.example.pub.v1.Foo.spec"#),
            "kubectl {v}: {out}"
        );
        let missing = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: pub.example.com/v1\n  kind: Foo\n  metadata: {name: missing}\n  spec:\n    bars: [{feeling: Great}]\n";
        let out = text(&run(&k, v, &["create", "-f", "-"], missing));
        assert!(
            out.contains(r#"missing required field "name" in com.example.pub.v1.Foo.spec.bars"#),
            "kubectl {v}: {out}"
        );
        let tag = v.replace('.', "-");
        let good = format!("apiVersion: v1\nkind: List\nitems:\n- apiVersion: pub.example.com/v1\n  kind: Foo\n  metadata: {{name: good-{tag}}}\n  spec:\n    bars: [{{name: a}}]\n    note: null\n    port: 80\n    extra: {{anything: [1, 2]}}\n");
        let out = ok(&k, v, &["create", "-f", "-"], &good);
        assert!(
            out.contains(&format!("foo.pub.example.com/good-{tag} created")),
            "{out}"
        );

        // Strict validation of a single object is the server's.
        let unknown = "{\"apiVersion\":\"pub.example.com/v1\",\"kind\":\"Foo\",\"metadata\":{\"name\":\"strict\"},\"spec\":{\"foo\":true}}";
        let o = run(&k, v, &["create", "--validate=strict", "-f", "-"], unknown);
        let out = text(&o);
        assert!(!o.status.success(), "kubectl {v}: {out}");
        assert!(
            out.contains(r#"unknown field "spec.foo""#),
            "kubectl {v}: {out}"
        );

        // explain, from v2.
        let out = ok(
            &k,
            v,
            &["explain", "foos.spec", "--output", "plaintext-openapiv2"],
            "",
        );
        assert!(
            out.contains("Specification of Foo") && out.contains("bars\t<[]Object>"),
            "kubectl {v}: {out}"
        );
        let out = ok(
            &k,
            v,
            &[
                "explain",
                "foos.metadata",
                "--output",
                "plaintext-openapiv2",
            ],
            "",
        );
        assert!(
            out.contains("Standard object's metadata"),
            "kubectl {v}: {out}"
        );
        let out = text(&run(
            &k,
            v,
            &[
                "explain",
                "foos.spec.bars2",
                "--output",
                "plaintext-openapiv2",
            ],
            "",
        ));
        assert!(
            out.contains(r#"field "bars2" does not exist"#),
            "kubectl {v}: {out}"
        );
    }

    // The CRD going takes its definitions and paths with it.
    k.ok(&["delete", "crd", "foos.pub.example.com"]);
    let doc = wait_v2(&k, "the Foo definition gone", |d| {
        d["definitions"][def_name].is_null()
    });
    assert!(doc["paths"]["/apis/pub.example.com/v1/foos"].is_null());
    assert!(doc["definitions"]["io.k8s.api.apps.v1.Deployment"].is_object());
    let (_, etag_after, _) = v2_with_etag(&k, None);
    assert_ne!(etag_after, etag);
    assert_eq!(etag_after, etag_before, "back to the built-in document");
}
