//! Authorization end to end against a real `k3rs server`, driven with the stock kubectl and curl:
//! RBAC grants and denials (namespace vs cluster scope, subresources, watch), impersonation,
//! users from client certificates and the token file, aggregation, escalation prevention, the
//! review APIs (`auth can-i [--list]`, `auth whoami`), the Node authorizer, anonymous requests,
//! and the bootstrap policy's reconciliation on restart.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::K3rs;
use serde_json::Value;

/// Polls `f` until it returns true (RBAC changes reach the authorizer through a watch).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn apply(k: &K3rs, yaml: &str) {
    let file = k.dir.path().join("apply.yaml");
    std::fs::write(&file, yaml).unwrap();
    k.ok(&["apply", "--validate=false", "-f", file.to_str().unwrap()]);
}

/// HTTP status of a request made with the admin certificate plus extra headers.
fn code_with(k: &K3rs, method: &str, path: &str, headers: &[&str]) -> (u16, String) {
    let mut args: Vec<String> = vec!["-X".into(), method.into()];
    for h in headers {
        args.push("-H".into());
        args.push((*h).into());
    }
    args.extend(["-w".into(), "\n%{http_code}".into(), k.url(path)]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    common::code_and_body(&k.curl(&refs))
}

/// Anonymous curl (no client certificate).
fn anon(k: &K3rs, path: &str) -> (u16, String) {
    let out = k
        .anon_curl()
        .args(["-w", "\n%{http_code}", &k.url(path)])
        .output()
        .unwrap();
    common::code_and_body(&out)
}

fn setup(k: &K3rs) {
    for ns in ["rbac-a", "rbac-b", "rbac-e", "rbac-n"] {
        k.ok(&["create", "namespace", ns]);
    }
    apply(
        k,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: rbac-a}
spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d1, namespace: rbac-a}
spec:
  replicas: 1
  selector: {matchLabels: {app: d1}}
  template:
    metadata: {labels: {app: d1}}
    spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: rbac-a}
rules:
- {apiGroups: [""], resources: [pods, pods/log], verbs: [get, list, watch]}
- {apiGroups: [apps], resources: [deployments/scale], verbs: [get, update, patch]}
- {apiGroups: [apps], resources: [deployments], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-reads-pods, namespace: rbac-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: robot-views, namespace: rbac-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: robot}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-writer, namespace: rbac-a}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [create, get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: devs-write-cms, namespace: rbac-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-writer}
subjects: [{kind: Group, name: devs, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dave-admin, namespace: rbac-e}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects: [{kind: User, name: dave, apiGroup: rbac.authorization.k8s.io}]
"#,
    );
}

fn impersonated_users(k: &K3rs) {
    // bob: read pods (and their logs) in rbac-a only.
    eventually("bob can list pods in rbac-a", || {
        k.kubectl(&["--as", "bob", "-n", "rbac-a", "get", "pods"])
            .status
            .success()
    });
    let out = k.ok(&[
        "--as", "bob", "-n", "rbac-a", "get", "pod", "p1", "-o", "name",
    ]);
    assert_eq!(out.trim(), "pod/p1");
    let err = k.err(&["--as", "bob", "-n", "rbac-b", "get", "pods"]);
    assert!(
        err.contains(r#"pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "rbac-b""#),
        "{err}"
    );
    let err = k.err(&["--as", "bob", "get", "pods", "-A"]);
    assert!(
        err.contains(
            r#"User "bob" cannot list resource "pods" in API group "" at the cluster scope"#
        ),
        "{err}"
    );
    let err = k.err(&["--as", "bob", "-n", "rbac-a", "delete", "pod", "p1"]);
    assert!(
        err.contains(r#"pods "p1" is forbidden: User "bob" cannot delete resource "pods" in API group "" in the namespace "rbac-a""#),
        "{err}"
    );
    let err = k.err(&["--as", "bob", "-n", "rbac-a", "create", "configmap", "x"]);
    assert!(
        err.contains("cannot create resource \"configmaps\""),
        "{err}"
    );
    // Watch is its own verb: granted for pods, not for configmaps.
    let bob = ["Impersonate-User: bob"];
    let (code, _) = code_with(
        k,
        "GET",
        "/api/v1/namespaces/rbac-a/pods?watch=true&timeoutSeconds=1",
        &bob,
    );
    assert_eq!(code, 200);
    let (code, body) = code_with(
        k,
        "GET",
        "/api/v1/namespaces/rbac-a/configmaps?watch=true&timeoutSeconds=1",
        &bob,
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("cannot watch resource"), "{body}");
    // pods/log: the authorization decision only (there is no kubelet to serve the log).
    let (code, body) = code_with(k, "GET", "/api/v1/namespaces/rbac-a/pods/p1/log", &bob);
    assert_ne!(code, 403, "{body}");
    let (code, body) = code_with(
        k,
        "GET",
        "/api/v1/namespaces/rbac-a/pods/p1/log",
        &["Impersonate-User: eve"],
    );
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains(r#"cannot get resource \"pods/log\""#),
        "{body}"
    );
    // deployments/scale is granted, deployments writes are not.
    k.ok(&[
        "--as",
        "bob",
        "-n",
        "rbac-a",
        "scale",
        "deployment",
        "d1",
        "--replicas=3",
    ]);
    assert_eq!(
        k.ok(&[
            "-n",
            "rbac-a",
            "get",
            "deployment",
            "d1",
            "-o",
            "jsonpath={.spec.replicas}"
        ]),
        "3"
    );
    let err = k.err(&[
        "--as",
        "bob",
        "-n",
        "rbac-a",
        "patch",
        "deployment",
        "d1",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":1}}"#,
    ]);
    assert!(
        err.contains(r#"cannot patch resource "deployments" in API group "apps""#),
        "{err}"
    );
    // A service account, impersonated: `view` through a RoleBinding whose subject has no namespace.
    let sa = "system:serviceaccount:rbac-a:robot";
    eventually("robot can list deployments", || {
        k.kubectl(&["--as", sa, "-n", "rbac-a", "get", "deployments"])
            .status
            .success()
    });
    let err = k.err(&["--as", sa, "-n", "rbac-a", "get", "secrets"]);
    assert!(
        err.contains(r#"User "system:serviceaccount:rbac-a:robot" cannot list resource "secrets""#),
        "{err}"
    );
    let who = k.ok(&["--as", sa, "auth", "whoami", "-o", "json"]);
    let who: Value = serde_json::from_str(&who).unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], sa);
    let groups = who["status"]["userInfo"]["groups"].to_string();
    assert!(
        groups.contains("system:serviceaccounts:rbac-a") && groups.contains("system:authenticated"),
        "{groups}"
    );
    // --as-group.
    eventually("group devs can create configmaps", || {
        k.kubectl(&[
            "--as",
            "frank",
            "--as-group",
            "devs",
            "-n",
            "rbac-a",
            "create",
            "configmap",
            "from-frank",
        ])
        .status
        .success()
    });
    let err = k.err(&["--as", "frank", "-n", "rbac-a", "create", "configmap", "y"]);
    assert!(err.contains("forbidden"), "{err}");
    // auth can-i and whoami.
    assert!(k
        .kubectl(&["--as", "bob", "auth", "can-i", "get", "pods", "-n", "rbac-a"])
        .status
        .success());
    let out = k.kubectl(&[
        "--as", "bob", "auth", "can-i", "get", "pods", "-n", "rbac-b",
    ]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
    assert!(k
        .kubectl(&[
            "--as",
            "bob",
            "auth",
            "can-i",
            "update",
            "deployments.apps",
            "--subresource=scale",
            "-n",
            "rbac-a"
        ])
        .status
        .success());
    let list = k.ok(&["--as", "bob", "auth", "can-i", "--list", "-n", "rbac-a"]);
    let pods_line = list
        .lines()
        .find(|l| l.starts_with("pods "))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(pods_line.contains("[get list watch]"), "{list}");
    assert!(
        list.contains("selfsubjectaccessreviews.authorization.k8s.io"),
        "{list}"
    );
    assert!(list.contains("deployments.apps/scale"), "{list}");
    let list = k.ok(&["--as", "bob", "auth", "can-i", "--list", "-n", "rbac-b"]);
    assert!(!list.lines().any(|l| l.starts_with("pods ")), "{list}");
    let who = k.ok(&["--as", "bob", "--as-group", "devs", "auth", "whoami"]);
    assert!(who.contains("bob") && who.contains("devs"), "{who}");
    // Only those allowed to impersonate may: bob may not.
    let (code, body) = code_with(
        k,
        "GET",
        "/api/v1/namespaces/rbac-a/pods",
        &["Impersonate-User: bob", "Impersonate-Group: system:masters"],
    );
    assert_eq!(code, 200, "admin may impersonate anyone: {body}");
    let (code, body) = code_with(k, "GET", "/api/v1/pods", &["Impersonate-Group: devs"]);
    assert_eq!(code, 400, "groups without a user: {body}");
}

fn token_and_cert_users(k: &K3rs) {
    // dave (token file) is admin of rbac-e only.
    let dave = k.token_kubeconfig("dave", "dave-token-0123456789");
    eventually("dave can create configmaps in rbac-e", || {
        k.kubectl_with(&dave, &["-n", "rbac-e", "create", "configmap", "c1"])
            .status
            .success()
    });
    let out = k.kubectl_with(&dave, &["-n", "rbac-b", "get", "configmaps"]);
    assert!(
        text(&out).contains(r#"User "dave" cannot list resource "configmaps""#),
        "{}",
        text(&out)
    );
    let out = k.kubectl_with(&dave, &["auth", "whoami"]);
    assert!(
        text(&out).contains("dave") && text(&out).contains("uid-dave"),
        "{}",
        text(&out)
    );
    // dave may not impersonate.
    let out = k.kubectl_with(&dave, &["--as", "bob", "-n", "rbac-a", "get", "pods"]);
    assert!(
        text(&out).contains(r#"users "bob" is forbidden: User "dave" cannot impersonate resource "users" in API group "" at the cluster scope"#),
        "{}",
        text(&out)
    );
    // A wrong token is 401.
    let bad = k.token_kubeconfig("mallory", "wrong-token");
    let out = k.kubectl_with(&bad, &["get", "pods"]);
    assert!(text(&out).contains("Unauthorized"), "{}", text(&out));
    // carol (client certificate, group devs) gets what devs get.
    let carol = k.cert_kubeconfig("carol", &["devs"]);
    let out = k.kubectl_with(
        &carol,
        &["-n", "rbac-a", "create", "configmap", "from-carol"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = k.kubectl_with(
        &carol,
        &["-n", "rbac-a", "delete", "configmap", "from-carol"],
    );
    assert!(
        text(&out).contains(r#"User "carol" cannot delete resource "configmaps""#),
        "{}",
        text(&out)
    );
    let out = k.kubectl_with(&carol, &["get", "namespaces"]);
    assert!(
        text(&out).contains("at the cluster scope"),
        "{}",
        text(&out)
    );
}

fn escalation(k: &K3rs) {
    let dave = k.token_kubeconfig("dave", "dave-token-0123456789");
    let role = |name: &str, rules: &str| {
        format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: {name}, namespace: rbac-e}}\nrules: {rules}\n")
    };
    let create = |yaml: String| {
        let f = k.dir.path().join("dave.yaml");
        std::fs::write(&f, yaml).unwrap();
        k.kubectl_with(
            &dave,
            &["create", "--validate=false", "-f", f.to_str().unwrap()],
        )
    };
    // Within what dave holds: fine.
    let out = create(role(
        "ok-role",
        "[{apiGroups: [''], resources: [pods], verbs: [get, list]}]",
    ));
    assert!(out.status.success(), "{}", text(&out));
    // Updating it (a patch) to more than dave holds: refused, and the role is unchanged.
    let out = k.kubectl_with(&dave,
        &[
            "-n",
            "rbac-e",
            "patch",
            "role",
            "ok-role",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["nodes"],"verbs":["get"]}}]"#,
        ],
    );
    assert!(
        text(&out).contains("is attempting to grant RBAC permissions not currently held"),
        "{}",
        text(&out)
    );
    assert!(!k
        .ok(&["-n", "rbac-e", "get", "role", "ok-role", "-o", "json"])
        .contains("nodes"));
    // Nodes are beyond admin: refused.
    let out = create(role(
        "too-much",
        "[{apiGroups: [''], resources: [nodes], verbs: [list]}]",
    ));
    let t = text(&out);
    assert!(
        t.contains(r#"roles.rbac.authorization.k8s.io "too-much" is forbidden: user "dave" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:"#)
            && t.contains(r#"{APIGroups:[""], Resources:["nodes"], Verbs:["list"]}"#),
        "{t}"
    );
    // Binding cluster-admin: refused; binding view (covered by admin): fine.
    let binding = |name: &str, role: &str| {
        format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: {name}, namespace: rbac-e}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}\nsubjects: [{{kind: User, name: zed, apiGroup: rbac.authorization.k8s.io}}]\n")
    };
    let out = create(binding("zed-admin", "cluster-admin"));
    let t = text(&out);
    assert!(
        t.contains(
            r#"rolebindings.rbac.authorization.k8s.io "zed-admin" is forbidden: user "dave""#
        ) && t.contains("is attempting to grant RBAC permissions not currently held"),
        "{t}"
    );
    let out = create(binding("zed-view", "view"));
    assert!(out.status.success(), "{}", text(&out));
    // With `bind` on cluster-admin (and `escalate` on roles) dave may.
    apply(
        k,
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: bind-and-escalate}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [cluster-admin]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [escalate]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dave-bind, namespace: rbac-e}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: bind-and-escalate}
subjects: [{kind: User, name: dave, apiGroup: rbac.authorization.k8s.io}]
"#,
    );
    eventually("dave may bind cluster-admin in rbac-e", || {
        create(binding("zed-admin", "cluster-admin"))
            .status
            .success()
    });
    let out = create(role(
        "too-much",
        "[{apiGroups: [''], resources: [nodes], verbs: [list]}]",
    ));
    assert!(out.status.success(), "escalate: {}", text(&out));
}

fn aggregation(k: &K3rs) {
    apply(
        k,
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: widgets-view
  labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
rules:
- {apiGroups: [example.com], resources: [widgets], verbs: [get, list, watch]}
"#,
    );
    for role in ["view", "edit", "admin"] {
        eventually(&format!("{role} aggregates widgets"), || {
            k.ok(&["get", "clusterrole", role, "-o", "json"])
                .contains("widgets")
        });
    }
    // Dropping the label removes the rule again.
    k.ok(&[
        "label",
        "clusterrole",
        "widgets-view",
        "rbac.authorization.k8s.io/aggregate-to-view-",
    ]);
    eventually("view drops widgets", || {
        !k.ok(&["get", "clusterrole", "view", "-o", "json"])
            .contains("widgets")
    });
    // The bootstrap rules stayed.
    assert!(k
        .ok(&["get", "clusterrole", "view", "-o", "json"])
        .contains("pods/log"));
}

fn node_identity(k: &K3rs) {
    apply(
        k,
        r#"
apiVersion: v1
kind: Secret
metadata: {name: s-on-n1, namespace: rbac-n}
stringData: {a: b}
---
apiVersion: v1
kind: Secret
metadata: {name: s-on-n2, namespace: rbac-n}
stringData: {a: b}
---
apiVersion: v1
kind: Pod
metadata: {name: on-n1, namespace: rbac-n}
spec:
  nodeName: n1
  containers: [{name: c, image: busybox}]
  volumes: [{name: s, secret: {secretName: s-on-n1}}]
---
apiVersion: v1
kind: Pod
metadata: {name: on-n2, namespace: rbac-n}
spec:
  nodeName: n2
  containers: [{name: c, image: busybox}]
  volumes: [{name: s, secret: {secretName: s-on-n2}}]
"#,
    );
    let n1 = k.cert_kubeconfig("system:node:n1", &["system:nodes"]);
    eventually("n1 reads the secret of its pod", || {
        k.kubectl_with(&n1, &["-n", "rbac-n", "get", "secret", "s-on-n1"])
            .status
            .success()
    });
    // What a node may do is not enumerable: its rules review says so, as upstream.
    let review = k.dir.path().join("ssrr.json");
    std::fs::write(
        &review,
        r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"rbac-n"}}"#,
    )
    .unwrap();
    let out = k.kubectl_with(
        &n1,
        &[
            "create",
            "--raw",
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            "-f",
            review.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let st: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(st["status"]["incomplete"], true, "{st}");
    assert!(st["status"]["evaluationError"]
        .as_str()
        .is_some_and(|e| e.contains("node authorizer does not support user rule resolution")));
    let out = k.kubectl_with(&n1, &["-n", "rbac-n", "get", "secret", "s-on-n2"]);
    assert!(
        text(&out).contains(r#"secrets "s-on-n2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "rbac-n": no relationship found between node 'n1' and this object"#),
        "{}",
        text(&out)
    );
    let out = k.kubectl_with(&n1, &["-n", "rbac-n", "get", "secrets"]);
    assert!(text(&out).contains("forbidden"), "{}", text(&out));
    // Its own pods by field selector; not all pods.
    let out = k.kubectl_with(
        &n1,
        &[
            "get",
            "pods",
            "-A",
            "--field-selector",
            "spec.nodeName=n1",
            "-o",
            "name",
        ],
    );
    assert_eq!(text(&out).trim(), "pod/on-n1");
    let out = k.kubectl_with(&n1, &["get", "pods", "-A"]);
    assert!(text(&out).contains("forbidden"), "{}", text(&out));
    // Leases: its own only.
    let out = k.kubectl_with(&n1, &["-n", "kube-node-lease", "get", "lease", "n2"]);
    assert!(
        text(&out).contains("can only access node lease with the same name"),
        "{}",
        text(&out)
    );
    // Static node rules: services.
    assert!(k
        .kubectl_with(&n1, &["get", "services", "-A"])
        .status
        .success());
    // The pod leaves the node: access goes.
    k.ok(&[
        "-n",
        "rbac-n",
        "delete",
        "pod",
        "on-n1",
        "--grace-period=0",
        "--force",
    ]);
    eventually("n1 loses the secret with its pod", || {
        !k.kubectl_with(&n1, &["-n", "rbac-n", "get", "secret", "s-on-n1"])
            .status
            .success()
    });
}

fn anonymous(k: &K3rs) {
    for p in ["/version", "/healthz", "/readyz", "/livez"] {
        let (code, body) = anon(k, p);
        assert_eq!(code, 200, "{p}: {body}");
    }
    for p in [
        "/api/v1/namespaces/default/pods",
        "/api",
        "/metrics",
        "/readyz/etcd",
    ] {
        let (code, body) = anon(k, p);
        assert_eq!(code, 401, "{p}: {body}");
        assert!(body.contains(r#""reason":"Unauthorized""#), "{body}");
    }
    // Anonymous, impersonated: public-info-viewer allows /version, nothing else.
    let h = ["Impersonate-User: system:anonymous"];
    let (code, _) = code_with(k, "GET", "/version", &h);
    assert_eq!(code, 200);
    let (code, body) = code_with(k, "GET", "/api/v1/namespaces/default/pods", &h);
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains(r#"User \"system:anonymous\" cannot list resource \"pods\""#),
        "{body}"
    );
}

fn review_apis(k: &K3rs) {
    let sar = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"bob","resourceAttributes":{"namespace":"rbac-a","verb":"get","resource":"pods"}}}"#;
    let (code, v) = k.http(
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        "application/json",
        sar,
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["status"]["allowed"], true);
    assert_eq!(
        v["status"]["reason"],
        r#"RBAC: allowed by RoleBinding "bob-reads-pods/rbac-a" of Role "pod-reader" to User "bob""#
    );
    let lsar = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","metadata":{"namespace":"rbac-b"},"spec":{"user":"bob","resourceAttributes":{"namespace":"rbac-b","verb":"get","resource":"pods"}}}"#;
    let (code, v) = k.http(
        "POST",
        "/apis/authorization.k8s.io/v1/namespaces/rbac-b/localsubjectaccessreviews",
        "application/json",
        lsar,
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["status"]["allowed"], false);
    let (code, v) = k.http(
        "POST",
        "/apis/authorization.k8s.io/v1/namespaces/rbac-a/localsubjectaccessreviews",
        "application/json",
        lsar,
    );
    assert_eq!(code, 400, "{v}");
    let (code, v) = k.http(
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        "application/json",
        r#"{"spec":{"user":"bob"}}"#,
    );
    assert_eq!(code, 422, "{v}");
    let (code, _) = k.http(
        "GET",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        "",
        "",
    );
    assert_eq!(code, 405);
    // TokenReview with the server's authenticators.
    let tr = |t: &str| {
        format!(
            r#"{{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{{"token":"{t}"}}}}"#
        )
    };
    let (code, v) = k.http(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        "application/json",
        &tr("dave-token-0123456789"),
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["status"]["authenticated"], true);
    assert_eq!(v["status"]["user"]["username"], "dave");
    let (_, v) = k.http(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        "application/json",
        &tr("nope"),
    );
    assert_eq!(v["status"]["authenticated"], Value::Null);
    assert!(v["status"]["error"].is_string(), "{v}");
    // Requested audiences: the ones the server serves are confirmed; others are refused.
    let with_aud = |aud: &str| {
        format!(
            r#"{{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{{"token":"dave-token-0123456789","audiences":["{aud}","other"]}}}}"#
        )
    };
    let (_, v) = k.http(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        "application/json",
        &with_aud("https://kubernetes.default.svc.cluster.local"),
    );
    assert_eq!(v["status"]["authenticated"], true, "{v}");
    assert_eq!(
        v["status"]["audiences"],
        serde_json::json!(["https://kubernetes.default.svc.cluster.local"])
    );
    let (_, v) = k.http(
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        "application/json",
        &with_aud("https://elsewhere.example"),
    );
    assert_eq!(v["status"]["authenticated"], Value::Null, "{v}");
    assert_eq!(
        v["status"]["error"],
        "token audiences is invalid for the target audiences"
    );
    // Discovery lists the review kinds as create-only.
    let d = k.ok(&[
        "api-resources",
        "--api-group=authorization.k8s.io",
        "-o",
        "wide",
    ]);
    let line = d
        .lines()
        .find(|l| l.starts_with("selfsubjectaccessreviews "))
        .unwrap_or_else(|| panic!("{d}"));
    let verbs: Vec<&str> = line.split_whitespace().skip(4).collect();
    assert_eq!(verbs, ["create"], "{d}");
}

fn restart_reconciles(k: &mut K3rs) {
    // A bootstrap role that lost a rule gets it back; one marked autoupdate=false is left alone.
    k.ok(&[
        "patch",
        "clusterrole",
        "system:basic-user",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/rules/1"}]"#,
    ]);
    k.ok(&[
        "annotate",
        "--overwrite",
        "clusterrole",
        "system:heapster",
        "rbac.authorization.kubernetes.io/autoupdate=false",
    ]);
    k.ok(&[
        "patch",
        "clusterrole",
        "system:heapster",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/rules/1"}]"#,
    ]);
    k.ok(&["delete", "clusterrolebinding", "system:discovery"]);
    k.stop();
    k.spawn();
    let basic = k.ok(&["get", "clusterrole", "system:basic-user", "-o", "json"]);
    assert!(basic.contains("selfsubjectreviews"), "{basic}");
    let heapster = k.ok(&["get", "clusterrole", "system:heapster", "-o", "json"]);
    assert!(!heapster.contains("extensions"), "{heapster}");
    k.ok(&["get", "clusterrolebinding", "system:discovery"]);
    // RBAC state is loaded before the server serves: bob's grant holds at once.
    k.ok(&["--as", "bob", "-n", "rbac-a", "get", "pods"]);
}

#[test]
fn rbac_end_to_end() {
    let mut k = K3rs::start(None);
    // A token-file user needs the file before start.
    let cred = k.dir.path().join("server/cred");
    std::fs::create_dir_all(&cred).unwrap();
    std::fs::write(
        cred.join("tokens.csv"),
        "dave-token-0123456789,dave,uid-dave\n",
    )
    .unwrap();
    k.stop();
    k.spawn();
    // The admin (system:masters) may do anything.
    setup(&k);
    assert!(k.kubectl(&["auth", "can-i", "*", "*"]).status.success());
    let who = k.ok(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(who, "system:admin");
    // The controllers run without system:masters: the namespace controller still empties and
    // deletes a namespace, the service-account controller still fills a new one.
    k.ok(&["create", "namespace", "rbac-gone"]);
    eventually("default service account in a new namespace", || {
        k.kubectl(&["-n", "rbac-gone", "get", "serviceaccount", "default"])
            .status
            .success()
    });
    k.ok(&["-n", "rbac-gone", "create", "configmap", "x"]);
    k.ok(&["delete", "namespace", "rbac-gone", "--timeout=60s"]);
    impersonated_users(&k);
    token_and_cert_users(&k);
    escalation(&k);
    aggregation(&k);
    node_identity(&k);
    anonymous(&k);
    review_apis(&k);
    restart_reconciles(&mut k);
}
