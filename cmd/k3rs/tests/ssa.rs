//! Server-side apply and managedFields against a real `k3rs server`: stock kubectl
//! (`apply --server-side`, conflicts, `--force-conflicts`, `--show-managed-fields`), raw HTTP
//! errors, and kube-rs `Patch::Apply`.

mod common;

use common::write;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use serde_json::{json, Value};

fn cm_yaml(data: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: default\ndata:\n{data}")
}

fn get_json(k: &common::K3rs, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json", "--show-managed-fields"]);
    serde_json::from_str(&k.ok(&a)).unwrap()
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or_default().to_string(),
                        e["operation"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kubectl_server_side_apply() {
    let k = common::K3rs::start(None);
    // Create.
    let f1 = write(&k, "cm1.yaml", &cm_yaml("  a: \"1\"\n  b: \"2\"\n"));
    // The server publishes no OpenAPI documents yet: kubectl must not validate client-side.
    let out = k.ok(&["apply", "--server-side", "--validate=false", "-f", &f1]);
    assert!(out.contains("configmap/cfg serverside-applied"), "{out}");
    let cm = get_json(&k, &["cm", "cfg"]);
    assert_eq!(cm["data"], json!({"a": "1", "b": "2"}));
    let mf = &cm["metadata"]["managedFields"][0];
    assert_eq!(mf["manager"], "kubectl");
    assert_eq!(mf["operation"], "Apply");
    assert_eq!(mf["fieldsType"], "FieldsV1");
    let data = &mf["fieldsV1"]["f:data"];
    assert!(
        data.get("f:a").is_some() && data.get("f:b").is_some(),
        "{mf}"
    );

    // Re-apply, changed: b is no longer applied and goes away; c appears.
    let f2 = write(&k, "cm2.yaml", &cm_yaml("  a: \"1\"\n  c: \"3\"\n"));
    k.ok(&["apply", "--server-side", "--validate=false", "-f", &f2]);
    let cm = get_json(&k, &["cm", "cfg"]);
    assert_eq!(cm["data"], json!({"a": "1", "c": "3"}));

    // A second manager changing a field kubectl owns: a conflict, nothing changes.
    let f3 = write(&k, "cm3.yaml", &cm_yaml("  a: \"9\"\n"));
    let err = k.err(&[
        "apply",
        "--server-side",
        "--validate=false",
        "--field-manager=other",
        "-f",
        &f3,
    ]);
    assert!(
        err.contains(r#"Apply failed with 1 conflict: conflict with "kubectl": .data.a"#),
        "{err}"
    );
    assert_eq!(get_json(&k, &["cm", "cfg"])["data"]["a"], "1");
    // The same value is no conflict: both own it.
    let f4 = write(&k, "cm4.yaml", &cm_yaml("  c: \"3\"\n"));
    k.ok(&[
        "apply",
        "--server-side",
        "--validate=false",
        "--field-manager=other",
        "-f",
        &f4,
    ]);
    // --force-conflicts takes the field over.
    k.ok(&[
        "apply",
        "--server-side",
        "--field-manager=other",
        "--force-conflicts",
        "--validate=false",
        "-f",
        &f3,
    ]);
    let cm = get_json(&k, &["cm", "cfg"]);
    assert_eq!(cm["data"]["a"], "9");
    let other = cm["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "other")
        .cloned()
        .unwrap();
    assert!(other["fieldsV1"]["f:data"].get("f:a").is_some(), "{other}");
    let kubectl = cm["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "kubectl")
        .cloned()
        .unwrap();
    assert!(
        kubectl["fieldsV1"]["f:data"].get("f:a").is_none(),
        "forced away: {kubectl}"
    );
    assert!(
        kubectl["fieldsV1"]["f:data"].get("f:c").is_some(),
        "{kubectl}"
    );

    // A non-apply write is an Update entry of its manager and takes the fields it changed.
    k.ok(&["label", "cm", "cfg", "team=blue"]);
    let cm = get_json(&k, &["cm", "cfg"]);
    let ms = managers(&cm);
    assert!(ms.contains(&("kubectl".into(), "Apply".into())), "{ms:?}");
    assert!(ms.contains(&("other".into(), "Apply".into())), "{ms:?}");
    assert!(
        ms.contains(&("kubectl-label".into(), "Update".into())),
        "{ms:?}"
    );
    // Apply entries come first.
    assert_eq!(ms.last().unwrap().1, "Update");
    let yaml = k.ok(&["get", "cm", "cfg", "-o", "yaml", "--show-managed-fields"]);
    assert!(yaml.contains("operation: Apply") && yaml.contains("operation: Update"));
    assert!(yaml.contains("f:team: {}"), "{yaml}");
    // Without the flag kubectl hides them.
    let plain = k.ok(&["get", "cm", "cfg", "-o", "yaml"]);
    assert!(!plain.contains("managedFields"));

    // kubectl create records kubectl-create.
    k.ok(&["create", "configmap", "made", "--from-literal=x=1"]);
    let made = get_json(&k, &["cm", "made"]);
    assert_eq!(
        managers(&made),
        vec![("kubectl-create".into(), "Update".into())]
    );
    assert_eq!(made["metadata"]["managedFields"][0]["apiVersion"], "v1");

    // Client-side apply created it; kubectl moving to server-side apply takes over the fields
    // its last-applied configuration set without conflicts.
    let csa = write(
        &k,
        "csa.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  k: v1\n",
    );
    k.ok(&["apply", "--validate=false", "-f", &csa]);
    let csa2 = write(
        &k,
        "csa2.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\ndata:\n  k: v2\n",
    );
    k.ok(&["apply", "--server-side", "--validate=false", "-f", &csa2]);
    let obj = get_json(&k, &["cm", "csa"]);
    assert_eq!(obj["data"]["k"], "v2");
    let last = obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap();
    assert!(last.contains("v2"), "{last}");
}

#[test]
fn apply_over_http() {
    let k = common::K3rs::start(None);
    let path = "/api/v1/namespaces/default/configmaps/h";
    let apply = "application/apply-patch+yaml";
    let body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: h\ndata:\n  a: x\n";
    // fieldManager is required.
    let (code, st) = k.http("PATCH", path, apply, body);
    assert_eq!(code, 422, "{st}");
    assert_eq!(
        st["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    // Creates (201), then applies (200).
    let (code, obj) = k.http("PATCH", &format!("{path}?fieldManager=one"), apply, body);
    assert_eq!(code, 201, "{obj}");
    assert_eq!(obj["data"]["a"], "x");
    assert!(obj["metadata"]["uid"].is_string());
    let json_body =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"h"},"data":{"a":"y"}}"#;
    let (code, st) = k.http(
        "PATCH",
        &format!("{path}?fieldManager=two"),
        apply,
        json_body,
    );
    assert_eq!(code, 409, "{st}");
    assert_eq!(st["reason"], "Conflict");
    assert_eq!(
        st["message"],
        "Apply failed with 1 conflict: conflict with \"one\": .data.a"
    );
    assert_eq!(
        st["details"]["causes"],
        json!([{"type": "FieldManagerConflict", "message": "conflict with \"one\"", "field": ".data.a"}])
    );
    let (code, obj) = k.http(
        "PATCH",
        &format!("{path}?fieldManager=two&force=true"),
        apply,
        json_body,
    );
    assert_eq!(code, 200, "{obj}");
    assert_eq!(obj["data"]["a"], "y");
    // A merge patch is an Update of its manager (from the User-Agent when not given).
    let (code, obj) = k.http(
        "PATCH",
        path,
        "application/merge-patch+json",
        r#"{"data":{"b":"z"}}"#,
    );
    assert_eq!(code, 200, "{obj}");
    let ms = managers(&obj);
    assert!(ms.contains(&("curl".into(), "Update".into())), "{ms:?}");
    // force on a non-apply patch, wrong kind, managedFields in the configuration, bad YAML.
    let (code, _) = k.http(
        "PATCH",
        &format!("{path}?force=true"),
        "application/merge-patch+json",
        "{}",
    );
    assert_eq!(code, 422);
    let (code, st) = k.http(
        "PATCH",
        &format!("{path}?fieldManager=one"),
        apply,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: h\n",
    );
    assert_eq!(
        (code, st["message"].as_str()),
        (400, Some("invalid object type: /v1, Kind=Secret"))
    );
    let (code, st) = k.http(
        "PATCH",
        &format!("{path}?fieldManager=one"),
        apply,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: h\n  managedFields: []\n",
    );
    assert_eq!(
        (code, st["message"].as_str()),
        (400, Some("metadata.managedFields must be nil"))
    );
    let (code, _) = k.http("PATCH", &format!("{path}?fieldManager=one"), apply, "a: [");
    assert_eq!(code, 400);
    let (code, _) = k.http(
        "PATCH",
        &format!("{path}?fieldManager=one"),
        apply,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n",
    );
    assert_eq!(code, 400, "name mismatch");
    // Creating in a namespace that does not exist is a 404.
    let (code, st) = k.http(
        "PATCH",
        "/api/v1/namespaces/nope/configmaps/h?fieldManager=one",
        apply,
        body,
    );
    assert_eq!(code, 404, "{st}");
    // Sending managedFields: [] on an update clears them.
    let (_, cur) = k.http("GET", path, "", "");
    let mut cleared = cur.clone();
    cleared["metadata"]["managedFields"] = json!([]);
    let (code, obj) = k.http("PUT", path, "application/json", &cleared.to_string());
    assert_eq!(code, 200, "{obj}");
    assert!(obj["metadata"].get("managedFields").is_none(), "{obj}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_patch_apply() {
    let k = tokio::task::spawn_blocking(|| common::K3rs::start(None))
        .await
        .unwrap();
    let client = k.kube_client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm = |v: &str| ConfigMap {
        metadata: ObjectMeta {
            name: Some("kr".into()),
            ..Default::default()
        },
        data: Some([("v".to_string(), v.to_string())].into()),
        ..Default::default()
    };
    // kube-rs sends a typed object without apiVersion/kind for Patch::Apply unless set; use JSON.
    let body = |v: &str| {
        let mut j = serde_json::to_value(cm(v)).unwrap();
        j["apiVersion"] = json!("v1");
        j["kind"] = json!("ConfigMap");
        j
    };
    let created = cms
        .patch(
            "kr",
            &PatchParams::apply("kube-rs-a"),
            &Patch::Apply(body("1")),
        )
        .await
        .unwrap();
    assert_eq!(created.data.unwrap()["v"], "1");
    let mf = created.metadata.managed_fields.unwrap();
    assert_eq!(mf[0].manager.as_deref(), Some("kube-rs-a"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));
    match cms
        .patch(
            "kr",
            &PatchParams::apply("kube-rs-b"),
            &Patch::Apply(body("2")),
        )
        .await
    {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 409);
            assert_eq!(e.reason, "Conflict");
            assert!(
                e.message.contains("conflict with \"kube-rs-a\": .data.v"),
                "{}",
                e.message
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let forced = cms
        .patch(
            "kr",
            &PatchParams::apply("kube-rs-b").force(),
            &Patch::Apply(body("2")),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["v"], "2");
    // a lost the field: whatever entry it keeps no longer names data.v.
    for e in forced.metadata.managed_fields.unwrap() {
        let fields = serde_json::to_value(&e.fields_v1).unwrap();
        let owns_v = fields.pointer("/f:data/f:v").is_some();
        match e.manager.as_deref() {
            Some("kube-rs-a") => assert!(!owns_v, "{fields}"),
            Some("kube-rs-b") => assert!(owns_v, "{fields}"),
            other => panic!("unexpected manager {other:?}"),
        }
    }
}
