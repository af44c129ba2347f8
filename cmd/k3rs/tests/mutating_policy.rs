//! MutatingAdmissionPolicies against a real `k3rs server`, driven by stock kubectl: the beta API
//! is off by default and served with upstream's `--runtime-config` and `--feature-gates`; an
//! ApplyConfiguration mutation adds an annotation and merges a container by name; a JSONPatch
//! mutation adds a label with an escaped key, using params from a ConfigMap and a match
//! condition; a policy that cannot apply its mutation refuses the request under
//! `failurePolicy: Fail` and lets it through under `Ignore`; `reinvocationPolicy: IfNeeded`
//! re-runs a policy after a later one changed the object; invalid policies are refused.

mod common;

use common::{eventually_some as eventually, write};

use serde_json::Value;

fn get_json(k: &common::K3rs, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&k.ok(&a)).unwrap()
}

const FLAGS: &[&str] = &[
    "--runtime-config",
    "admissionregistration.k8s.io/v1beta1=true",
    "--feature-gates",
    "MutatingAdmissionPolicy=true",
];

const POLICIES: &str = r#"
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata:
  name: sidecar
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
  reinvocationPolicy: Never
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: >
        Object{
          metadata: Object.metadata{annotations: {"mutated-by": "admission-policy"}},
          spec: Object.spec{template: Object.spec.template{spec: Object.spec.template.spec{
            containers: [Object.spec.template.spec.containers{name: "sidecar", image: "busybox:1.36"}]
          }}}
        }
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: sidecar-binding
spec:
  policyName: sidecar
  matchResources:
    namespaceSelector:
      matchLabels:
        mutate: "true"
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata:
  name: team-label
spec:
  paramKind:
    apiVersion: v1
    kind: ConfigMap
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["configmaps"]
  matchConditions:
  - name: not-the-params
    expression: "object.metadata.name != 'team'"
  variables:
  - name: team
    expression: "params.data.team"
  reinvocationPolicy: Never
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: >
        [
          JSONPatch{op: "test", path: "/metadata/name", value: object.metadata.name},
          JSONPatch{op: "add", path: "/metadata/labels", value: {}},
          JSONPatch{op: "add", path: "/metadata/labels/" + jsonpatch.escapeKey("example.com/team"),
            value: variables.team}
        ]
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: team-label-binding
spec:
  policyName: team-label
  paramRef:
    name: team
    parameterNotFoundAction: Allow
  matchResources:
    namespaceSelector:
      matchLabels:
        mutate: "true"
"#;

#[test]
fn mutating_admission_policies_apply_configurations_and_json_patches() {
    // Off by default, as upstream v1.35 (a beta API).
    let k = common::K3rs::start(None);
    let out = k.err(&["get", "mutatingadmissionpolicies"]);
    assert!(
        out.contains("the server doesn't have a resource type"),
        "{out}"
    );
    drop(k);

    let k = common::K3rs::start_with(None, FLAGS);
    let resources = k.ok(&["api-resources", "--api-group=admissionregistration.k8s.io"]);
    assert!(
        resources.contains("mutatingadmissionpolicies")
            && resources.contains("admissionregistration.k8s.io/v1beta1"),
        "{resources}"
    );
    // Published in OpenAPI (kubectl explain reads v3).
    let explain = k.ok(&[
        "explain",
        "mutatingadmissionpolicies.spec.reinvocationPolicy",
    ]);
    assert!(explain.contains("reinvocationPolicy"), "{explain}");
    k.ok(&["create", "namespace", "mutated"]);
    k.ok(&["label", "namespace", "mutated", "mutate=true"]);
    k.ok(&["create", "namespace", "plain"]);
    k.ok(&[
        "create",
        "configmap",
        "team",
        "-n",
        "mutated",
        "--from-literal=team=blue",
    ]);
    let f = write(&k, "policies.yaml", POLICIES);
    k.ok(&["apply", "-f", &f]);
    // Served as protobuf too (client-go's default for built-in kinds).
    let out = k.curl(&[
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{content_type}",
        "-H",
        "Accept: application/vnd.kubernetes.protobuf",
        &k.url("/apis/admissionregistration.k8s.io/v1beta1/mutatingadmissionpolicies/sidecar"),
    ]);
    let out = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out, "200 application/vnd.kubernetes.protobuf", "{out}");
    // Defaults as upstream.
    let p = get_json(&k, &["mutatingadmissionpolicy", "sidecar"]);
    assert_eq!(p["spec"]["failurePolicy"], "Fail");
    assert_eq!(p["spec"]["matchConstraints"]["matchPolicy"], "Equivalent");
    assert_eq!(
        p["spec"]["matchConstraints"]["resourceRules"][0]["scope"],
        "*"
    );

    // ApplyConfiguration: an annotation, and a container merged into the list by name.
    eventually("the sidecar policy mutates deployments", || {
        let name = "web";
        k.ok(&[
            "create",
            "deployment",
            name,
            "-n",
            "mutated",
            "--image=nginx:1.25",
        ]);
        let d = get_json(&k, &["deployment", name, "-n", "mutated"]);
        if d["metadata"]["annotations"]["mutated-by"] == "admission-policy" {
            Some(d)
        } else {
            k.ok(&["delete", "deployment", name, "-n", "mutated"]);
            None
        }
    });
    let d = get_json(&k, &["deployment", "web", "-n", "mutated"]);
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nginx", "sidecar"], "{d}");
    // The added container is defaulted like the rest of the object.
    assert_eq!(containers[1]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(containers[1]["terminationMessagePolicy"], "File");
    // Updates are mutated too, idempotently.
    k.ok(&["label", "deployment", "web", "-n", "mutated", "tier=front"]);
    let d = get_json(&k, &["deployment", "web", "-n", "mutated"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Not bound in a namespace without the label.
    k.ok(&[
        "create",
        "deployment",
        "web",
        "-n",
        "plain",
        "--image=nginx",
    ]);
    let d = get_json(&k, &["deployment", "web", "-n", "plain"]);
    // (The Deployment controller may have added its revision annotation meanwhile.)
    assert!(d["metadata"]["annotations"]["mutated-by"].is_null(), "{d}");

    // JSONPatch with params, variables and an escaped key; the params object itself is left
    // alone by the match condition.
    k.ok(&["create", "configmap", "c1", "-n", "mutated"]);
    let c = get_json(&k, &["configmap", "c1", "-n", "mutated"]);
    assert_eq!(c["metadata"]["labels"]["example.com/team"], "blue", "{c}");
    let team = get_json(&k, &["configmap", "team", "-n", "mutated"]);
    assert!(team["metadata"].get("labels").is_none(), "{team}");
    // Params not found, with parameterNotFoundAction Allow: no mutation.
    k.ok(&["create", "namespace", "noparams"]);
    k.ok(&["label", "namespace", "noparams", "mutate=true"]);
    k.ok(&["create", "configmap", "c2", "-n", "noparams"]);
    let c = get_json(&k, &["configmap", "c2", "-n", "noparams"]);
    assert!(c["metadata"].get("labels").is_none(), "{c}");

    // A mutation that cannot apply: setting an atomic struct (the selector). Fail refuses the
    // request with upstream's message; Ignore lets it through unchanged.
    let bad = write(
        &k,
        "bad.yaml",
        r#"
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata:
  name: selector
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["deployments"]
  reinvocationPolicy: Never
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{spec: Object.spec{selector: Object.spec.selector{matchLabels: {'x': 'y'}}}}"
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: selector-binding
spec:
  policyName: selector
  matchResources:
    namespaceSelector:
      matchLabels:
        strict: "true"
"#,
    );
    k.ok(&["apply", "-f", &bad]);
    k.ok(&["create", "namespace", "strict"]);
    k.ok(&["label", "namespace", "strict", "strict=true"]);
    let out = eventually("the selector policy refuses", || {
        let o = k.kubectl(&["create", "deployment", "d", "-n", "strict", "--image=x"]);
        if o.status.success() {
            k.ok(&["delete", "deployment", "d", "-n", "strict"]);
            None
        } else {
            Some(String::from_utf8_lossy(&o.stderr).to_string())
        }
    });
    assert!(
        out.contains("policy 'selector' with binding 'selector-binding' denied request: error applying patch: invalid ApplyConfiguration: may not mutate atomic arrays, maps or structs: .spec.selector"),
        "{out}"
    );
    let body = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"raw"},
        "spec":{"selector":{"matchLabels":{"a":"b"}},
        "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}"#;
    let (code, st) = k.http(
        "POST",
        "/apis/apps/v1/namespaces/strict/deployments",
        "application/json",
        body,
    );
    assert_eq!(code, 403, "{st}");
    assert_eq!(st["reason"], "Invalid");
    assert_eq!(st["details"]["kind"], "deployments");
    k.ok(&[
        "patch",
        "mutatingadmissionpolicy",
        "selector",
        "--type=merge",
        "-p",
        r#"{"spec":{"failurePolicy":"Ignore"}}"#,
    ]);
    eventually("failurePolicy Ignore lets the request through", || {
        k.kubectl(&["create", "deployment", "d", "-n", "strict", "--image=x"])
            .status
            .success()
            .then_some(())
    });
    let d = get_json(&k, &["deployment", "d", "-n", "strict"]);
    assert_eq!(
        d["spec"]["selector"]["matchLabels"],
        serde_json::json!({"app": "d"})
    );

    // Reinvocation: `first` (IfNeeded) copies a label that `second`, which runs after it (by
    // name), sets; without reinvocation the copy would miss it.
    let re = write(
        &k,
        "reinvoke.yaml",
        r#"
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata:
  name: a-first
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["secrets"]
  reinvocationPolicy: IfNeeded
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: >
        Object{metadata: Object.metadata{labels: {"copy":
          has(object.metadata.labels) && "source" in object.metadata.labels
            ? object.metadata.labels["source"] : "none"}}}
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: a-first
spec:
  policyName: a-first
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata:
  name: b-second
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["secrets"]
  reinvocationPolicy: Never
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{metadata: Object.metadata{labels: {"source": "second"}}}'
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: b-second
spec:
  policyName: b-second
"#,
    );
    k.ok(&["apply", "-f", &re]);
    let s = eventually("both secret policies run", || {
        k.ok(&["create", "secret", "generic", "s1", "-n", "plain"]);
        let s = get_json(&k, &["secret", "s1", "-n", "plain"]);
        if s["metadata"]["labels"]["source"] == "second" {
            Some(s)
        } else {
            k.ok(&["delete", "secret", "s1", "-n", "plain"]);
            None
        }
    });
    assert_eq!(s["metadata"]["labels"]["copy"], "second", "{s}");

    // Invalid policies are refused with upstream's field errors.
    let invalid = write(
        &k,
        "invalid.yaml",
        r#"
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata:
  name: invalid
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["DELETE"]
      resources: ["pods"]
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "object"
  - patchType: JSONPatch
    jsonPatch:
      expression: "[JSONPatch{op: 1}]"
"#,
    );
    let out = k.err(&["apply", "-f", &invalid]);
    for want in [
        "spec.matchConstraints.resourceRules[0].operations[0]: Unsupported value: \"DELETE\"",
        "spec.mutations[0].applyConfiguration.expression: Invalid value: \"object\": must evaluate to Object but got dyn",
        "expected type of field 'op' is 'string' but provided type is 'int'",
        "spec.reinvocationPolicy: Required value",
    ] {
        assert!(out.contains(want), "missing {want:?} in {out}");
    }
}
