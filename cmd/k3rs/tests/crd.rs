//! CustomResourceDefinitions against a real `k3rs server`, driven by stock kubectl and curl:
//! establishing, discovery, custom resource CRUD through the generic store, schema validation,
//! pruning, defaulting, CEL validation rules, status and scale subresources, printer columns,
//! multiple versions, name conflicts, and cleanup when the CRD or the namespace goes.

mod common;

use common::write;

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [all-crons]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.labelSelector
    selectableFields:
    - jsonPath: .spec.color
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Image
      type: string
      priority: 1
      jsonPath: .spec.image
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [cronSpec]
            properties:
              cronSpec:
                type: string
                pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
              image:
                type: string
                maxLength: 20
              color:
                type: string
                enum: [red, green, blue]
                default: green
              replicas:
                type: integer
                minimum: 0
                maximum: 10
                default: 1
              port:
                x-kubernetes-int-or-string: true
              when:
                type: string
                format: date-time
              note:
                type: string
                nullable: true
              tags:
                type: array
                maxItems: 3
                x-kubernetes-list-type: set
                items:
                  type: string
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    port: {type: integer, format: int32}
              extra:
                type: object
                x-kubernetes-preserve-unknown-fields: true
              template:
                type: object
                x-kubernetes-embedded-resource: true
                x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            properties:
              replicas: {type: integer}
              labelSelector: {type: string}
  - name: v2beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

fn get_json(k: &common::K3rs, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&k.ok(&a)).unwrap()
}

fn establish(k: &common::K3rs) {
    let f = write(k, "crd.yaml", CRD);
    let out = k.ok(&["apply", "-f", &f]);
    assert!(
        out.contains("customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com"),
        "{out}"
    );
    k.ok(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=60s",
        "crd/crontabs.stable.example.com",
    ]);
}

fn cr(name: &str, spec: &str) -> String {
    format!("apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: {name}\n  namespace: default\n  labels:\n    app: {name}\nspec:\n{spec}")
}

#[test]
fn custom_resources_end_to_end() {
    let k = common::K3rs::start(None);
    establish(&k);

    // The CRD itself: status as upstream's controllers leave it.
    let crd = get_json(&k, &["crd", "crontabs.stable.example.com"]);
    let conds = crd["status"]["conditions"].as_array().unwrap();
    let cond = |t: &str| conds.iter().find(|c| c["type"] == t).unwrap().clone();
    assert_eq!(cond("NamesAccepted")["status"], "True");
    assert_eq!(cond("NamesAccepted")["reason"], "NoConflicts");
    assert_eq!(cond("Established")["status"], "True");
    assert_eq!(cond("Established")["reason"], "InitialNamesAccepted");
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "CronTab");
    assert_eq!(crd["status"]["acceptedNames"]["listKind"], "CronTabList");
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    let crds = k.ok(&["get", "crds"]);
    assert!(
        crds.contains("NAME")
            && crds.contains("CREATED AT")
            && crds.contains("crontabs.stable.example.com"),
        "{crds}"
    );

    // Discovery: legacy, aggregated, preferred version by upstream's priority (v1 > v2beta1).
    let (code, group) = k.http("GET", "/apis/stable.example.com", "", "");
    assert_eq!(code, 200, "{group}");
    assert_eq!(group["preferredVersion"]["version"], "v1");
    assert_eq!(group["versions"][1]["version"], "v2beta1");
    let (code, rl) = k.http("GET", "/apis/stable.example.com/v1", "", "");
    assert_eq!(code, 200);
    let names: Vec<&str> = rl["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["crontabs", "crontabs/scale", "crontabs/status"]);
    assert_eq!(rl["resources"][0]["shortNames"], json!(["ct"]));
    assert_eq!(rl["resources"][1]["kind"], "Scale");
    let resources = k.ok(&["api-resources", "--api-group=stable.example.com"]);
    assert!(
        resources.contains("crontabs") && resources.contains("ct") && resources.contains("CronTab"),
        "{resources}"
    );
    let agg = k.curl(&[
        "-H",
        "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        &k.url("/apis"),
    ]);
    let agg: Value = serde_json::from_slice(&agg.stdout).unwrap();
    let g = agg["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "stable.example.com")
        .expect("group in aggregated discovery");
    assert_eq!(g["versions"][0]["version"], "v1");
    assert_eq!(g["versions"][0]["resources"][0]["resource"], "crontabs");

    // OpenAPI v3 documents follow the CRDs: `kubectl explain` renders the schema.
    let explain = k.ok(&["explain", "crontabs.spec"]);
    assert!(
        explain.contains("KIND:")
            && explain.contains("CronTab")
            && explain.contains("cronSpec")
            && explain.contains("<string> -required-"),
        "{explain}"
    );

    // Create with kubectl; pruning and defaulting.
    let f = write(
        &k,
        "a.yaml",
        &cr(
            "a",
            "  cronSpec: \"* * * * */5\"\n  image: img:1\n  port: http\n  unknown: dropped\n  extra:\n    kept: {deep: 1}\n  template:\n    apiVersion: v1\n    kind: Pod\n    metadata: {name: p}\n    spec: {x: 1}\n",
        ),
    );
    // kubectl validates strictly by default: unknown fields are an error, as upstream.
    let err = k.err(&["create", "-f", &f]);
    assert!(
        err.contains("CronTab in version \"v1\" cannot be handled as a CronTab: strict decoding error: unknown field \"spec.unknown\""),
        "{err}"
    );
    let out = k.ok(&["create", "--validate=false", "-f", &f]);
    assert!(
        out.contains("crontab.stable.example.com/a created"),
        "{out}"
    );
    let a = get_json(&k, &["crontab", "a"]);
    assert_eq!(a["apiVersion"], "stable.example.com/v1");
    assert_eq!(a["spec"]["color"], "green", "defaulted: {a}");
    assert_eq!(a["spec"]["replicas"], 1, "defaulted: {a}");
    assert!(a["spec"].get("unknown").is_none(), "pruned: {a}");
    assert_eq!(a["spec"]["extra"]["kept"]["deep"], 1);
    assert_eq!(a["spec"]["template"]["spec"]["x"], 1);
    assert_eq!(a["metadata"]["generation"], 1);

    // Printer columns, -o wide, short name.
    let table = k.ok(&["get", "ct"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SPEC", "REPLICAS", "AGE"], "{table}");
    assert!(table.contains("* * * * */5"), "{table}");
    let wide = k.ok(&["get", "crontabs", "-o", "wide"]);
    assert!(wide.contains("IMAGE") && wide.contains("img:1"), "{wide}");

    // Validation: 422 with upstream's field paths.
    let bad = write(
        &k,
        "bad.yaml",
        &cr(
            "bad",
            "  cronSpec: nope\n  replicas: 11\n  color: purple\n  image: aaaaaaaaaaaaaaaaaaaaaaaaa\n  port: true\n  when: yesterday\n  tags: [x, x]\n  ports: [{name: a}, {name: a}]\n  template: {kind: Pod}\n",
        ),
    );
    let err = k.err(&["create", "-f", &bad]);
    for want in [
        "The CronTab \"bad\" is invalid",
        "spec.cronSpec: Invalid value: \"nope\": spec.cronSpec in body should match",
        "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
        "spec.color: Unsupported value: \"purple\": supported values: \"red\", \"green\", \"blue\"",
        "spec.image: Too long: may not be more than 20 bytes",
        "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
        "spec.when: Invalid value: \"yesterday\": spec.when in body must be of type date-time: \"yesterday\"",
        "spec.tags[1]: Duplicate value: \"x\"",
        "spec.ports[1]: Duplicate value:",
        "spec.template.apiVersion: Required value",
    ] {
        assert!(err.contains(want), "missing {want:?} in {err}");
    }
    let (code, status) = k.http(
        "POST",
        "/apis/stable.example.com/v1/namespaces/default/crontabs",
        "application/json",
        &json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "nospec"}, "spec": {"replicas": "3"}}).to_string(),
    );
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(status["details"]["kind"], "CronTab");
    assert_eq!(status["details"]["group"], "stable.example.com");
    let causes = status["details"]["causes"].as_array().unwrap();
    assert!(
        causes
            .iter()
            .any(|c| c["field"] == "spec.cronSpec" && c["reason"] == "FieldValueRequired"),
        "{status}"
    );
    assert!(
        causes
            .iter()
            .any(|c| c["field"] == "spec.replicas" && c["reason"] == "FieldValueInvalid"),
        "{status}"
    );

    // Patches: merge, JSON; strategic merge is 415 for custom resources (as upstream).
    k.ok(&[
        "patch",
        "ct",
        "a",
        "--type=merge",
        "-p",
        r#"{"spec":{"image":"img:2","note":null}}"#,
    ]);
    k.ok(&[
        "patch",
        "ct",
        "a",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/color","value":"red"}]"#,
    ]);
    let a = get_json(&k, &["ct", "a"]);
    assert_eq!(
        (a["spec"]["image"].as_str(), a["spec"]["color"].as_str()),
        (Some("img:2"), Some("red"))
    );
    assert_eq!(a["metadata"]["generation"], 3);
    let (code, st) = k.http(
        "PATCH",
        "/apis/stable.example.com/v1/namespaces/default/crontabs/a",
        "application/strategic-merge-patch+json",
        r#"{"spec":{"image":"x"}}"#,
    );
    assert_eq!(code, 415, "{st}");
    let err = k.err(&[
        "patch",
        "ct",
        "a",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":-1}}"#,
    ]);
    assert!(
        err.contains("spec.replicas in body should be greater than or equal to 0"),
        "{err}"
    );
    // Protobuf bodies are refused; protobuf-only Accept is 406.
    let (code, _) = k.http(
        "POST",
        "/apis/stable.example.com/v1/namespaces/default/crontabs",
        "application/vnd.kubernetes.protobuf",
        "k8s\u{0}",
    );
    assert_eq!(code, 415);
    let out = k.curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Accept: application/vnd.kubernetes.protobuf",
        &k.url("/apis/stable.example.com/v1/namespaces/default/crontabs/a"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "406");

    // Status subresource: the main endpoint ignores status, /status ignores spec.
    let (code, _) = k.http(
        "PATCH",
        "/apis/stable.example.com/v1/namespaces/default/crontabs/a/status",
        "application/merge-patch+json",
        r#"{"spec":{"image":"ignored"},"status":{"replicas":4,"labelSelector":"app=a","bogus":1}}"#,
    );
    assert_eq!(code, 200);
    k.ok(&[
        "patch",
        "ct",
        "a",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":9}}"#,
    ]);
    let a = get_json(&k, &["ct", "a"]);
    assert_eq!(
        a["status"],
        json!({"replicas": 4, "labelSelector": "app=a"}),
        "{a}"
    );
    assert_eq!(a["spec"]["image"], "img:2");

    // Scale subresource.
    let out = k.ok(&["scale", "crontab/a", "--replicas=5"]);
    assert!(out.contains("scaled"), "{out}");
    let (code, scale) = k.http(
        "GET",
        "/apis/stable.example.com/v1/namespaces/default/crontabs/a/scale",
        "",
        "",
    );
    assert_eq!(code, 200);
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 5);
    assert_eq!(scale["status"], json!({"replicas": 4, "selector": "app=a"}));

    // A second object; label and field selectors (incl. selectableFields).
    let f = write(
        &k,
        "b.yaml",
        &cr("b", "  cronSpec: \"1 2 3 4 5\"\n  color: blue\n"),
    );
    k.ok(&["apply", "-f", &f]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["get", "ct", "-o", "jsonpath={.items[*].metadata.name}"];
        a.extend_from_slice(args);
        k.ok(&a).split_whitespace().map(str::to_string).collect()
    };
    assert_eq!(names(&[]), ["a", "b"]);
    assert_eq!(names(&["-l", "app=b"]), ["b"]);
    assert_eq!(names(&["--field-selector", "spec.color=red"]), ["a"]);
    assert_eq!(names(&["--field-selector", "metadata.name=b"]), ["b"]);
    let err = k.err(&["get", "ct", "--field-selector", "spec.image=x"]);
    assert!(
        err.contains("field label not supported: spec.image"),
        "{err}"
    );

    // Multiple versions (conversion None): the same objects read through v2beta1.
    let (code, v2) = k.http(
        "GET",
        "/apis/stable.example.com/v2beta1/namespaces/default/crontabs/b",
        "",
        "",
    );
    assert_eq!(code, 200);
    assert_eq!(v2["apiVersion"], "stable.example.com/v2beta1");
    assert_eq!(v2["spec"]["color"], "blue");
    let (code, created) = k.http(
        "POST",
        "/apis/stable.example.com/v2beta1/namespaces/default/crontabs",
        "application/json",
        &json!({"apiVersion": "stable.example.com/v2beta1", "kind": "CronTab", "metadata": {"name": "c"}, "spec": {"free": "form"}}).to_string(),
    );
    assert_eq!(code, 201, "{created}");
    let c = get_json(&k, &["crontabs.v1.stable.example.com", "c"]);
    assert_eq!(c["apiVersion"], "stable.example.com/v1");
    // Validation ratcheting: an object v1's schema rejects (written through v2beta1) can still
    // be changed elsewhere through v1; changing the invalid value itself is refused.
    let (code, created) = k.http(
        "POST",
        "/apis/stable.example.com/v2beta1/namespaces/default/crontabs",
        "application/json",
        &json!({"apiVersion": "stable.example.com/v2beta1", "kind": "CronTab", "metadata": {"name": "legacy"}, "spec": {"cronSpec": "bad", "replicas": 50}}).to_string(),
    );
    assert_eq!(code, 201, "{created}");
    k.ok(&["label", "ct", "legacy", "ratchet=ok"]);
    let err = k.err(&[
        "patch",
        "ct",
        "legacy",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":60}}"#,
    ]);
    assert!(
        err.contains("spec.replicas: Invalid value: 60: spec.replicas in body should be less than or equal to 10")
            && !err.contains("spec.cronSpec"),
        "{err}"
    );
    // Categories reach kubectl through discovery.
    let cats = k.ok(&["get", "all-crons", "-o", "name"]);
    assert!(cats.contains("crontab.stable.example.com/c"), "{cats}");
    k.ok(&["delete", "ct", "legacy"]);
    // Moving the storage version records it in status.storedVersions.
    k.ok(&[
        "patch",
        "crd",
        "crontabs.stable.example.com",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/versions/0/storage","value":false},{"op":"replace","path":"/spec/versions/1/storage","value":true}]"#,
    ]);
    let crd = get_json(&k, &["crd", "crontabs.stable.example.com"]);
    assert_eq!(crd["status"]["storedVersions"], json!(["v1", "v2beta1"]));
    assert_eq!(crd["metadata"]["generation"], 2);

    // Watch: events for changes.
    let mut watch = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(k.kubeconfig())
        .args(["get", "ct", "--watch-only", "-o", "name"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = common::lines_of(&mut watch);
    // The watch is running once a change made after it started shows up.
    let mut seen = false;
    for i in 0..60 {
        k.ok(&["label", "ct", "b", &format!("round={i}"), "--overwrite"]);
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
            assert_eq!(line.trim(), "crontab.stable.example.com/b");
            seen = true;
            break;
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(seen, "the watch reported no event");

    // Deleting the CRD deletes its custom resources, then the CRD.
    let out = k.ok(&[
        "delete",
        "crd",
        "crontabs.stable.example.com",
        "--wait=true",
        "--timeout=60s",
    ]);
    assert!(out.contains("deleted"), "{out}");
    let (code, _) = k.http("GET", "/apis/stable.example.com/v1", "", "");
    assert_eq!(code, 404);
    // Re-created, the CRD starts empty.
    establish(&k);
    let (code, list) = k.http("GET", "/apis/stable.example.com/v1/crontabs", "", "");
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["items"], json!([]));
}

#[test]
fn crd_validation_and_name_conflicts() {
    let k = common::K3rs::start(None);
    // Invalid CRDs: 422 with upstream's messages.
    let bad = r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
        "metadata":{"name":"things.example.com"},
        "spec":{"group":"example.com","scope":"Namespaced",
          "names":{"plural":"widgets","kind":"Widget"},
          "versions":[{"name":"v1","served":true,"storage":false,
            "schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"properties":{}}}}}}]}}"#;
    let (code, st) = k.http(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        "application/json",
        bad,
    );
    assert_eq!(code, 422, "{st}");
    let msg = st["message"].as_str().unwrap();
    for want in [
        "CustomResourceDefinition.apiextensions.k8s.io \"things.example.com\" is invalid",
        "metadata.name: Invalid value: \"things.example.com\": must be spec.names.plural+\".\"+spec.group",
        "spec.versions: Invalid value:",
        "must have exactly one version marked as storage version",
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
    ] {
        assert!(msg.contains(want), "missing {want:?} in {msg}");
    }

    // Two CRDs in one group asking for the same kind: the second is not accepted.
    let crd = |plural: &str, kind: &str| {
        format!(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.conflict.example.com\nspec:\n  group: conflict.example.com\n  scope: Cluster\n  names:\n    plural: {plural}\n    kind: {kind}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n"
        )
    };
    let f1 = write(&k, "w.yaml", &crd("widgets", "Widget"));
    k.ok(&["apply", "-f", &f1]);
    k.ok(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=60s",
        "crd/widgets.conflict.example.com",
    ]);
    let f2 = write(&k, "g.yaml", &crd("gadgets", "Widget"));
    k.ok(&["apply", "-f", &f2]);
    k.ok(&[
        "wait",
        "--for",
        "condition=NamesAccepted=false",
        "--timeout=60s",
        "crd/gadgets.conflict.example.com",
    ]);
    let g = get_json(&k, &["crd", "gadgets.conflict.example.com"]);
    let conds = g["status"]["conditions"].as_array().unwrap();
    let na = conds.iter().find(|c| c["type"] == "NamesAccepted").unwrap();
    // singular, kind and listKind all clash (the first two defaulted from the kind); upstream
    // reports the last name it checks.
    assert_eq!(na["reason"], "ListKindConflict");
    assert_eq!(na["message"], "\"WidgetList\" is already in use");
    let est = conds.iter().find(|c| c["type"] == "Established").unwrap();
    assert_eq!(est["status"], "False");
    let (code, _) = k.http("GET", "/apis/conflict.example.com/v1/gadgets", "", "");
    assert_eq!(code, 404);
    // Cluster-scoped custom resources work as well.
    let w = write(
        &k,
        "w1.yaml",
        "apiVersion: conflict.example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nanything: goes\n",
    );
    k.ok(&["create", "-f", &w]);
    let w1 = get_json(&k, &["widgets", "w1"]);
    assert_eq!(w1["anything"], "goes");
    assert!(w1["metadata"].get("namespace").is_none());
    // The first CRD goes: the second gets its names.
    k.ok(&[
        "delete",
        "crd",
        "widgets.conflict.example.com",
        "--timeout=60s",
    ]);
    k.ok(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=60s",
        "crd/gadgets.conflict.example.com",
    ]);
    let (code, _) = k.http("GET", "/apis/conflict.example.com/v1/gadgets", "", "");
    assert_eq!(code, 200);
}

const RULES_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: scalers.cel.example.com
spec:
  group: cel.example.com
  scope: Namespaced
  names: {plural: scalers, kind: Scaler}
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
            x-kubernetes-validations:
            - rule: "self.minReplicas <= self.replicas"
              message: "replicas must be at least minReplicas"
            - rule: "self.replicas <= 10"
              messageExpression: "'replicas ' + string(self.replicas) + ' is more than 10'"
            - rule: "self.mode != 'forbidden'"
              reason: FieldValueForbidden
              fieldPath: ".mode"
              message: "mode 'forbidden' is not allowed"
            properties:
              replicas: {type: integer}
              minReplicas: {type: integer}
              mode: {type: string}
              size:
                type: integer
                x-kubernetes-validations:
                - rule: "self >= oldSelf"
                  message: "size may not shrink"
              ports:
                type: array
                maxItems: 16
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string, maxLength: 63}
                    url:
                      type: string
                      maxLength: 256
                      x-kubernetes-validations:
                      - rule: "isURL(self) && url(self).getScheme() == 'https'"
                        message: "must be an https URL"
"#;

fn scaler(name: &str, spec: &str) -> String {
    format!("apiVersion: cel.example.com/v1\nkind: Scaler\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n{spec}")
}

#[test]
fn cel_validation_rules_are_enforced() {
    let k = common::K3rs::start(None);
    let f = write(&k, "rules.yaml", RULES_CRD);
    let out = k.err_or_ok(&["apply", "-f", &f]);
    assert!(out.contains("scalers.cel.example.com created"), "{out}");
    assert!(!out.contains("Warning"), "{out}");
    k.ok(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=60s",
        "crd/scalers.cel.example.com",
    ]);
    let good = write(
        &k,
        "good.yaml",
        &scaler("s1", "  replicas: 3\n  minReplicas: 1\n  mode: fast\n  size: 5\n  ports: [{name: web, url: 'https://example.com'}]\n"),
    );
    k.ok(&["create", "-f", &good]);

    // message, messageExpression, reason + fieldPath.
    let bad = write(
        &k,
        "bad.yaml",
        &scaler(
            "s2",
            "  replicas: 12\n  minReplicas: 13\n  mode: forbidden\n",
        ),
    );
    let out = k.err(&["create", "-f", &bad]);
    for want in [
        "The Scaler \"s2\" is invalid",
        "spec: Invalid value: replicas must be at least minReplicas",
        "spec: Invalid value: replicas 12 is more than 10",
        "spec.mode: Forbidden: mode 'forbidden' is not allowed",
    ] {
        assert!(out.contains(want), "missing {want:?} in {out}");
    }
    // The Status carries one cause per failed rule, with upstream's cause types.
    let body = r#"{"apiVersion":"cel.example.com/v1","kind":"Scaler","metadata":{"name":"s3"},
        "spec":{"replicas":1,"minReplicas":0,"mode":"forbidden","ports":[{"name":"a","url":"ftp://x"}]}}"#;
    let (code, st) = k.http(
        "POST",
        "/apis/cel.example.com/v1/namespaces/default/scalers",
        "application/json",
        body,
    );
    assert_eq!(code, 422, "{st}");
    assert_eq!(st["reason"], "Invalid");
    let causes = st["details"]["causes"].as_array().unwrap();
    assert!(
        causes.iter().any(|c| c["reason"] == "FieldValueForbidden"
            && c["field"] == "spec.mode"
            && c["message"] == "Forbidden: mode 'forbidden' is not allowed"),
        "{st}"
    );
    assert!(
        causes.iter().any(|c| c["reason"] == "FieldValueInvalid"
            && c["field"] == "spec.ports[0].url"
            && c["message"] == "Invalid value: \"ftp://x\": must be an https URL"),
        "{st}"
    );
    let (code, _) = k.http(
        "GET",
        "/apis/cel.example.com/v1/namespaces/default/scalers/s3",
        "",
        "",
    );
    assert_eq!(code, 404, "nothing was stored");

    // Transition rule: runs on update, with oldSelf.
    let shrink = write(
        &k,
        "shrink.yaml",
        &scaler(
            "s1",
            "  replicas: 3\n  minReplicas: 1\n  mode: fast\n  size: 4\n",
        ),
    );
    let out = k.err(&["apply", "-f", &shrink]);
    assert!(
        out.contains("spec.size: Invalid value: 4: size may not shrink"),
        "{out}"
    );
    let grow = write(
        &k,
        "grow.yaml",
        &scaler(
            "s1",
            "  replicas: 3\n  minReplicas: 1\n  mode: fast\n  size: 6\n",
        ),
    );
    k.ok(&["apply", "-f", &grow]);
    assert_eq!(get_json(&k, &["scalers", "s1"])["spec"]["size"], 6);
    // Server-side dry run validates too.
    let out = k.err(&["apply", "--dry-run=server", "-f", &shrink]);
    assert!(out.contains("size may not shrink"), "{out}");

    // Rules that do not compile are refused with the CRD, with cel-go's messages.
    for (rule, want) in [
        ("self.z == 100", "undefined field 'z'"),
        ("self = 42", "Syntax error"),
        ("self.replicas", "cel expression must evaluate to a bool"),
        (
            "self.replicas > 'one'",
            "found no matching overload for '_>_' applied to '(int, string)'",
        ),
    ] {
        let crd = RULES_CRD
            .replace("scalers.cel.example.com", "brokens.cel.example.com")
            .replace(
                "{plural: scalers, kind: Scaler}",
                "{plural: brokens, kind: Broken}",
            )
            .replace("\"self.replicas <= 10\"", &format!("{rule:?}"));
        let f = write(&k, "broken.yaml", &crd);
        let out = k.err(&["apply", "-f", &f]);
        assert!(
            out.contains("The CustomResourceDefinition \"brokens.cel.example.com\" is invalid")
                && out.contains("x-kubernetes-validations[1].rule: Invalid value")
                && out.contains(want),
            "{rule}: {out}"
        );
    }
    // A rule whose worst case is too expensive is refused.
    let expensive = RULES_CRD
        .replace("scalers.cel.example.com", "brokens.cel.example.com")
        .replace(
            "{plural: scalers, kind: Scaler}",
            "{plural: brokens, kind: Broken}",
        )
        .replace(
            "\"self.replicas <= 10\"",
            "\"self.mode.split('').all(a, self.mode.split('').all(b, a != b))\"",
        );
    let f = write(&k, "expensive.yaml", &expensive);
    let out = k.err(&["apply", "-f", &f]);
    assert!(out.contains("exceeds budget by factor of"), "{out}");
}

#[test]
fn namespace_deletion_removes_custom_resources() {
    let k = common::K3rs::start(None);
    establish(&k);
    k.ok(&["create", "namespace", "tmp"]);
    let f = write(
        &k,
        "t.yaml",
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: t\n  namespace: tmp\nspec:\n  cronSpec: \"* * * * *\"\n",
    );
    k.ok(&["create", "-f", &f]);
    assert_eq!(
        k.ok(&["get", "ct", "-n", "tmp", "-o", "name"]).trim(),
        "crontab.stable.example.com/t"
    );
    k.ok(&["delete", "namespace", "tmp", "--timeout=120s"]);
    let (code, list) = k.http("GET", "/apis/stable.example.com/v1/crontabs", "", "");
    assert_eq!(code, 200);
    assert_eq!(list["items"], json!([]), "{list}");
}

/// A CRD being deleted waits for its custom resources (held here by a finalizer): it is
/// Terminating, new objects are refused, and it goes once the last one does. CRDs survive a
/// restart and are served from the first request.
#[test]
fn crd_deletion_waits_for_its_resources_and_crds_survive_restarts() {
    let mut k = common::K3rs::start(None);
    establish(&k);
    // Plain JSON keeps this readable.
    let (code, body) = k.http(
        "POST",
        "/apis/stable.example.com/v1/namespaces/default/crontabs",
        "application/json",
        &json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
            "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
            "spec": {"cronSpec": "* * * * *"}})
        .to_string(),
    );
    assert_eq!(code, 201, "{body}");

    // Restart: the CRD is served at once.
    k.stop();
    k.spawn();
    let (code, held) = k.http(
        "GET",
        "/apis/stable.example.com/v1/namespaces/default/crontabs/held",
        "",
        "",
    );
    assert_eq!(code, 200, "{held}");
    assert_eq!(held["spec"]["color"], "green");

    k.ok(&[
        "delete",
        "crd",
        "crontabs.stable.example.com",
        "--wait=false",
    ]);
    k.ok(&[
        "wait",
        "--for",
        "condition=Terminating",
        "--timeout=60s",
        "crd/crontabs.stable.example.com",
    ]);
    let crd = get_json(&k, &["crd", "crontabs.stable.example.com"]);
    assert_eq!(
        crd["metadata"]["finalizers"],
        json!(["customresourcecleanup.apiextensions.k8s.io"])
    );
    let term = crd["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Terminating")
        .unwrap()
        .clone();
    assert_eq!(term["reason"], "InstanceDeletionInProgress");
    // The held object is being deleted; nothing new may be created.
    let held = get_json(&k, &["ct", "held"]);
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
    let (code, st) = k.http(
        "POST",
        "/apis/stable.example.com/v1/namespaces/default/crontabs",
        "application/json",
        &json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
            "metadata": {"name": "late"}, "spec": {"cronSpec": "* * * * *"}})
        .to_string(),
    );
    assert_eq!(code, 405, "{st}");
    // Releasing the object lets the CRD go.
    k.ok(&[
        "patch",
        "ct",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    k.ok(&[
        "wait",
        "--for=delete",
        "--timeout=60s",
        "crd/crontabs.stable.example.com",
    ]);
    let (code, _) = k.http("GET", "/apis/stable.example.com/v1/crontabs", "", "");
    assert_eq!(code, 404);
}

/// Server-side apply on custom resources (their structural schema: list types, declared
/// fields), and kube-rs' dynamic API found through discovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_and_kube_rs_dynamic_objects() {
    use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
    use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};

    let k = tokio::task::spawn_blocking(|| {
        let k = common::K3rs::start(None);
        establish(&k);
        let f = write(
            &k,
            "ssa.yaml",
            &cr("ssa", "  cronSpec: \"* * * * *\"\n  tags: [a, b]\n"),
        );
        let out = k.ok(&["apply", "--server-side", "-f", &f]);
        assert!(
            out.contains("crontab.stable.example.com/ssa serverside-applied"),
            "{out}"
        );
        let f2 = write(
            &k,
            "ssa2.yaml",
            &cr("ssa", "  cronSpec: \"0 0 * * *\"\n  image: other\n"),
        );
        let err = k.err(&["apply", "--server-side", "--field-manager=other", "-f", &f2]);
        assert!(
            err.contains("conflict") || err.contains("Apply failed"),
            "{err}"
        );
        k.ok(&[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            &f2,
        ]);
        let obj = get_json(&k, &["ct", "ssa", "--show-managed-fields"]);
        assert_eq!(obj["spec"]["image"], "other");
        assert_eq!(obj["spec"]["cronSpec"], "0 0 * * *");
        // The list kubectl applied stays (a field of the first manager).
        assert_eq!(obj["spec"]["tags"], json!(["a", "b"]));
        let managers: Vec<&str> = obj["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["manager"].as_str().unwrap())
            .collect();
        assert!(
            managers.contains(&"kubectl") && managers.contains(&"other"),
            "{managers:?}"
        );
        // `ports` is a list keyed by name: each manager owns its own items.
        let first = write(
            &k,
            "ports1.yaml",
            &cr(
                "ports",
                "  cronSpec: \"* * * * *\"\n  ports:\n  - name: a\n    port: 1\n",
            ),
        );
        k.ok(&[
            "apply",
            "--server-side",
            "--field-manager=first",
            "-f",
            &first,
        ]);
        let second = write(
            &k,
            "ports2.yaml",
            &cr("ports", "  ports:\n  - name: b\n    port: 2\n"),
        );
        k.ok(&[
            "apply",
            "--server-side",
            "--field-manager=second",
            "-f",
            &second,
        ]);
        let obj = get_json(&k, &["ct", "ports"]);
        assert_eq!(
            obj["spec"]["ports"],
            json!([{"name": "a", "port": 1}, {"name": "b", "port": 2}])
        );
        // Fields the schema does not declare are refused (upstream's typed patch error).
        let bogus = write(
            &k,
            "bogus.yaml",
            &cr("ports", "  cronSpec: \"* * * * *\"\n  bogus: 1\n"),
        );
        let err = k.err(&[
            "apply",
            "--server-side",
            "--field-manager=first",
            "-f",
            &bogus,
        ]);
        assert!(
            err.contains(".spec.bogus: field not declared in schema"),
            "{err}"
        );
        k
    })
    .await
    .unwrap();

    let client = k.kube_client().await;
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let (ar, caps): (ApiResource, ApiCapabilities) = discovery
        .groups()
        .find(|g| g.name() == "stable.example.com")
        .expect("the CRD group is discovered")
        .recommended_kind("CronTab")
        .expect("CronTab is discovered");
    assert_eq!(ar.version, "v1");
    assert_eq!(ar.plural, "crontabs");
    assert_eq!(caps.scope, Scope::Namespaced);
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let mut obj = DynamicObject::new("dyn", &ar);
    obj.data = json!({"spec": {"cronSpec": "0 * * * *", "junk": 1}});
    let created = api.create(&PostParams::default(), &obj).await.unwrap();
    assert_eq!(created.data["spec"]["replicas"], 1);
    assert!(created.data["spec"].get("junk").is_none());
    let patched = api
        .patch(
            "dyn",
            &PatchParams::apply("kube-rs").force(),
            &Patch::Apply(
                json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
                "spec": {"cronSpec": "0 * * * *", "color": "blue"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["spec"]["color"], "blue");
    let list = api.list(&Default::default()).await.unwrap();
    let names: Vec<String> = list
        .items
        .iter()
        .filter_map(|o| o.metadata.name.clone())
        .collect();
    assert_eq!(names, ["dyn", "ports", "ssa"]);
    let err = api
        .create(&PostParams::default(), &{
            let mut bad = DynamicObject::new("bad", &ar);
            bad.data = json!({"spec": {"cronSpec": "x"}});
            bad
        })
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 422);
            assert!(s.message.contains("spec.cronSpec"), "{}", s.message);
        }
        other => panic!("{other}"),
    }
    tokio::task::spawn_blocking(move || drop(k)).await.unwrap();
}

/// Owner references across kinds: a ConfigMap owned by a custom resource and a custom resource
/// owned by a ConfigMap are both collected with their owners; a namespace holding a custom
/// resource with a finalizer stays Terminating, saying so in its conditions, until the
/// finalizer is removed.
#[test]
fn garbage_collection_and_finalizers_with_custom_resources() {
    let k = common::K3rs::start(None);
    establish(&k);
    k.ok(&["create", "namespace", "gc"]);
    let ct = |name: &str, extra: &str| {
        write(
            &k,
            &format!("{name}.yaml"),
            &format!("apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: {name}\n  namespace: gc\n{extra}spec:\n  cronSpec: \"* * * * *\"\n"),
        )
    };
    let wait_gone = |what: &str, args: &[&str]| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        while !k.err_or_ok(&a).contains("NotFound") {
            assert!(std::time::Instant::now() < deadline, "{what} still exists");
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    };
    // A ConfigMap owned by a CronTab.
    k.ok(&["create", "-f", &ct("owner", "")]);
    let owner = get_json(&k, &["ct", "owner", "-n", "gc"]);
    let uid = owner["metadata"]["uid"].as_str().unwrap();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned", "namespace": "gc",
        "ownerReferences": [{"apiVersion": "stable.example.com/v1", "kind": "CronTab", "name": "owner", "uid": uid}]}});
    let (code, v) = k.http(
        "POST",
        "/api/v1/namespaces/gc/configmaps",
        "application/json",
        &cm.to_string(),
    );
    assert_eq!(code, 201, "{v}");
    // A CronTab owned by a ConfigMap.
    k.ok(&["create", "configmap", "cm-owner", "-n", "gc"]);
    let cm_uid = get_json(&k, &["cm", "cm-owner", "-n", "gc"])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    k.ok(&[
        "create",
        "-f",
        &ct(
            "owned-ct",
            &format!("  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: cm-owner\n    uid: {cm_uid}\n"),
        ),
    ]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(k
        .ok(&["get", "cm", "owned", "-n", "gc", "-o", "name"])
        .contains("owned"));
    k.ok(&["delete", "ct", "owner", "-n", "gc"]);
    wait_gone(
        "a ConfigMap owned by a deleted CronTab",
        &["cm", "owned", "-n", "gc"],
    );
    k.ok(&["delete", "cm", "cm-owner", "-n", "gc"]);
    wait_gone(
        "a CronTab owned by a deleted ConfigMap",
        &["ct", "owned-ct", "-n", "gc"],
    );

    // A finalizer holds a custom resource, and with it its namespace.
    k.ok(&[
        "create",
        "-f",
        &ct("held", "  finalizers:\n  - example.com/hold\n"),
    ]);
    k.ok(&["delete", "namespace", "gc", "--wait=false"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let ns = get_json(&k, &["namespace", "gc"]);
        let remaining = ns["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "NamespaceFinalizersRemaining" && c["status"] == "True")
            .map(|c| c["message"].as_str().unwrap_or_default().to_string());
        if let Some(m) = remaining {
            assert!(m.contains("example.com/hold"), "{m}");
            assert_eq!(ns["status"]["phase"], "Terminating");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no NamespaceFinalizersRemaining condition: {ns}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    // Still there, marked deleted; no new content meanwhile.
    let held = get_json(&k, &["ct", "held", "-n", "gc"]);
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
    let refused = k.err_or_ok(&["create", "configmap", "late", "-n", "gc"]);
    assert!(refused.contains("being terminated"), "{refused}");
    k.ok(&[
        "patch",
        "ct",
        "held",
        "-n",
        "gc",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_gone(
        "the namespace once the finalizer was removed",
        &["namespace", "gc"],
    );
}
