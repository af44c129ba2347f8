//! ValidatingAdmissionPolicies against a real `k3rs server`, driven by stock kubectl: a policy
//! with a binding denies Deployments, the Warn action becomes a kubectl warning, params come from
//! a ConfigMap (with `parameterNotFoundAction: Deny`), and the policy status controller writes
//! type-checking warnings.

mod common;

use common::{eventually_some as eventually, write};

use serde_json::Value;

const POLICY: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: max-replicas
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
  variables:
  - name: replicas
    expression: "object.spec.replicas"
  validations:
  - expression: "variables.replicas <= 3"
    messageExpression: "'replicas must be at most 3, got ' + string(variables.replicas)"
  - expression: "namespaceObject.metadata.name == 'policed'"
    message: "only the policed namespace is bound"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: max-replicas-binding
spec:
  policyName: max-replicas
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels:
        policed: "true"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: owner-label
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["configmaps"]
  validations:
  - expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels"
    message: "configmaps should have an owner label"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: owner-label-binding
spec:
  policyName: owner-label
  validationActions: [Warn]
  matchResources:
    namespaceSelector:
      matchLabels:
        policed: "true"
"#;

#[test]
fn validating_admission_policies_deny_warn_and_take_params() {
    let k = common::K3rs::start(None);
    k.ok(&["create", "namespace", "policed"]);
    k.ok(&["label", "namespace", "policed", "policed=true"]);
    k.ok(&["create", "namespace", "free"]);
    let f = write(&k, "policy.yaml", POLICY);
    k.ok(&["apply", "-f", &f]);

    // Deny: the policy's message expression, upstream's wording, a 422 Invalid.
    let out = eventually("the replicas policy denies", || {
        let o = k.kubectl(&[
            "create",
            "deployment",
            "big",
            "-n",
            "policed",
            "--image=nginx",
            "--replicas=5",
        ]);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        if o.status.success() {
            k.kubectl(&["delete", "deployment", "big", "-n", "policed"]);
            None
        } else {
            Some(err)
        }
    });
    assert!(
        out.contains("deployments.apps \"big\" is forbidden: ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-binding' denied request: replicas must be at most 3, got 5"),
        "{out}"
    );
    k.ok(&[
        "create",
        "deployment",
        "small",
        "-n",
        "policed",
        "--image=nginx",
        "--replicas=2",
    ]);
    // Not bound in a namespace without the label.
    k.ok(&[
        "create",
        "deployment",
        "big",
        "-n",
        "free",
        "--image=nginx",
        "--replicas=5",
    ]);
    // Updates are checked too (the scale subresource is not: the rule names the main resource).
    let out = k.err(&[
        "patch",
        "deployment",
        "small",
        "-n",
        "policed",
        "-p",
        r#"{"spec":{"replicas":4}}"#,
    ]);
    assert!(out.contains("replicas must be at most 3, got 4"), "{out}");
    let body = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"raw"},
        "spec":{"replicas":9,"selector":{"matchLabels":{"a":"b"}},
        "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}"#;
    let (code, st) = k.http(
        "POST",
        "/apis/apps/v1/namespaces/policed/deployments",
        "application/json",
        body,
    );
    assert_eq!(code, 422, "{st}");
    assert_eq!(st["reason"], "Invalid");
    assert_eq!(st["details"]["kind"], "deployments");
    assert_eq!(st["details"]["group"], "apps");

    // Warn: allowed, with a warning kubectl prints.
    let out = k.err_or_ok(&[
        "create",
        "configmap",
        "c1",
        "-n",
        "policed",
        "--from-literal=a=b",
    ]);
    assert!(out.contains("configmap/c1 created"), "{out}");
    assert!(
        out.contains("Warning: Validation failed for ValidatingAdmissionPolicy 'owner-label' with binding 'owner-label-binding': configmaps should have an owner label"),
        "{out}"
    );
    let out = k.err_or_ok(&[
        "create",
        "configmap",
        "c2",
        "-n",
        "free",
        "--from-literal=a=b",
    ]);
    assert!(!out.contains("Warning"), "{out}");

    // Params: the limit comes from a ConfigMap; missing params deny the request.
    let params = write(
        &k,
        "params.yaml",
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: param-limit
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["deployments"]
  validations:
  - expression: "object.spec.replicas <= int(params.data.maxReplicas)"
    messageExpression: "'at most ' + params.data.maxReplicas + ' replicas in ' + request.namespace"
    reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: param-limit-binding
spec:
  policyName: param-limit
  validationActions: [Deny]
  paramRef:
    name: limits
    namespace: default
    parameterNotFoundAction: Deny
  matchResources:
    namespaceSelector:
      matchLabels:
        params: "true"
"#,
    );
    k.ok(&["create", "namespace", "withparams"]);
    k.ok(&["label", "namespace", "withparams", "params=true"]);
    k.ok(&["apply", "-f", &params]);
    let out = eventually("missing params deny", || {
        let o = k.kubectl(&[
            "create",
            "deployment",
            "d1",
            "-n",
            "withparams",
            "--image=nginx",
        ]);
        if o.status.success() {
            k.kubectl(&["delete", "deployment", "d1", "-n", "withparams"]);
            None
        } else {
            Some(String::from_utf8_lossy(&o.stderr).to_string())
        }
    });
    assert!(
        out.contains("failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction"),
        "{out}"
    );
    k.ok(&[
        "create",
        "configmap",
        "limits",
        "-n",
        "default",
        "--from-literal=maxReplicas=2",
    ]);
    k.ok(&[
        "create",
        "deployment",
        "d1",
        "-n",
        "withparams",
        "--image=nginx",
        "--replicas=2",
    ]);
    let out = k.err(&[
        "create",
        "deployment",
        "d2",
        "-n",
        "withparams",
        "--image=nginx",
        "--replicas=3",
    ]);
    assert!(
        out.contains("is forbidden: ValidatingAdmissionPolicy 'param-limit' with binding 'param-limit-binding' denied request: at most 2 replicas in withparams"),
        "{out}"
    );

    // The status controller type-checks policies against the matched kinds' schemas.
    let confused = write(
        &k,
        "confused.yaml",
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: confused
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["deployments"]
  validations:
  - expression: "object.spec.replicas > '1'"
    messageExpression: "'wants replicas > 1, got ' + object.spec.replicas"
  - expression: "object.spec.maxRetries < 10"
  - expression: "object.spec.replicas > 1"
"#,
    );
    k.ok(&["apply", "-f", &confused]);
    let warnings = eventually("typeChecking is written", || {
        let out = k.ok(&["get", "validatingadmissionpolicy", "confused", "-o", "json"]);
        let v: Value = serde_json::from_str(&out).ok()?;
        v["status"]["typeChecking"]["expressionWarnings"]
            .as_array()
            .cloned()
    });
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert_eq!(warnings[0]["fieldRef"], "spec.validations[0].expression");
    let w = |i: usize| {
        warnings[i]["warning"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(w(0).starts_with("apps/v1, Kind=Deployment: "), "{}", w(0));
    assert!(w(0).contains("found no matching overload for '_>_' applied to '(int, string)'"));
    assert_eq!(
        warnings[1]["fieldRef"],
        "spec.validations[0].messageExpression"
    );
    assert!(w(1).contains("found no matching overload for '_+_' applied to '(string, int)'"));
    assert_eq!(warnings[2]["fieldRef"], "spec.validations[1].expression");
    assert!(w(2).contains("undefined field 'maxRetries'"));
    let st: Value = serde_json::from_str(&k.ok(&[
        "get",
        "validatingadmissionpolicy",
        "max-replicas",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(st["status"]["observedGeneration"], 1);
    assert_eq!(
        st["status"]["typeChecking"]["expressionWarnings"],
        serde_json::json!([])
    );

    // Invalid policies and bindings are refused with upstream's field errors.
    let invalid = write(
        &k,
        "invalid.yaml",
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: broken
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["pods"]
  validations:
  - expression: "object.nope("
  - expression: "1 + 1"
    reason: Teapot
"#,
    );
    let out = k.err(&["apply", "-f", &invalid]);
    for want in [
        "spec.validations[0].expression: Invalid value: \"object.nope(\": compilation failed",
        "spec.validations[1].expression: Invalid value: \"1 + 1\": must evaluate to bool but got int",
        "spec.validations[1].reason: Unsupported value: \"Teapot\"",
    ] {
        assert!(out.contains(want), "missing {want:?} in {out}");
    }
    let binding = write(
        &k,
        "binding.yaml",
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: broken
spec:
  policyName: max-replicas
  validationActions: [Deny, Warn]
  paramRef:
    name: limits
    selector: {}
"#,
    );
    let out = k.err(&["apply", "-f", &binding]);
    assert!(
        out.contains("spec.validationActions: Invalid value: [\"Deny\",\"Warn\"]: must not contain both Deny and Warn"),
        "{out}"
    );
    for want in [
        "spec.paramRef.name: Forbidden: name and selector are mutually exclusive",
        "spec.paramRef.parameterNotFoundAction: Required value",
    ] {
        assert!(out.contains(want), "missing {want:?} in {out}");
    }
}
