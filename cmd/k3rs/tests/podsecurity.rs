//! PodSecurity admission against `k3rs server`, with the stock kubectl: namespaces labelled
//! `pod-security.kubernetes.io/{enforce,warn,audit}` refuse or warn about pods with upstream's
//! messages, pod controllers get warnings only, invalid labels are refused, and raising a
//! namespace's enforce level warns about the pods already in it.

mod common;

use std::process::{Command, Output};

const PRIVILEGED_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: priv
spec:
  containers:
  - name: c
    image: busybox
    securityContext:
      privileged: true
"#;

const RESTRICTED_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: tidy
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: c
    image: busybox
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
"#;

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      hostNetwork: true
      containers:
      - name: web
        image: nginx
"#;

/// `kubectl <args>` with `stdin` as its input.
fn kubectl_stdin(k: &common::K3rs, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig")
        .arg(k.kubeconfig())
        .args(args)
        .env("KUBECACHEDIR", k.dir.path().join("kubecache"));
    common::output_with_stdin(&mut cmd, stdin, "kubectl")
}

fn text(o: &Output) -> (bool, String, String) {
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn pod_security_levels_from_namespace_labels() {
    let k = common::K3rs::start(None);

    // enforce=restricted: the privileged pod is refused with upstream's message, a compliant
    // pod is created without warnings.
    k.ok(&["create", "namespace", "strict"]);
    k.ok(&[
        "label",
        "namespace",
        "strict",
        "pod-security.kubernetes.io/enforce=restricted",
    ]);
    let (ok, _, err) = text(&kubectl_stdin(
        &k,
        &["create", "-n", "strict", "-f", "-"],
        PRIVILEGED_POD,
    ));
    assert!(!ok, "the privileged pod must be refused");
    assert!(
        err.contains(
            "Error from server (Forbidden): error when creating \"STDIN\": pods \"priv\" is forbidden: \
             violates PodSecurity \"restricted:latest\": \
             privileged (container \"c\" must not set securityContext.privileged=true), \
             allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), \
             unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), \
             runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), \
             seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
        ),
        "{err}"
    );
    let (ok, out, err) = text(&kubectl_stdin(
        &k,
        &["create", "-n", "strict", "-f", "-"],
        RESTRICTED_POD,
    ));
    assert!(ok, "{err}");
    assert!(out.contains("pod/tidy created"), "{out}");
    assert!(!err.contains("Warning"), "{err}");
    // Server-side dry run is refused the same way.
    let err = k.err(&[
        "run",
        "dry",
        "-n",
        "strict",
        "--image=busybox",
        "--dry-run=server",
    ]);
    assert!(
        err.contains("pods \"dry\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false"),
        "{err}"
    );

    // A Deployment there is created (controllers are only warned), with kubectl printing the
    // warning about its pod template.
    let (ok, out, err) = text(&kubectl_stdin(
        &k,
        &["create", "-n", "strict", "-f", "-"],
        DEPLOYMENT,
    ));
    assert!(ok, "{err}");
    assert!(out.contains("deployment.apps/web created"), "{out}");
    assert!(
        err.contains(
            "Warning: would violate PodSecurity \"restricted:latest\": host namespaces (hostNetwork=true), \
             allowPrivilegeEscalation != false (container \"web\" must set securityContext.allowPrivilegeEscalation=false)"
        ),
        "{err}"
    );

    // warn=baseline: the privileged pod is created, and kubectl prints upstream's warning.
    k.ok(&["create", "namespace", "loose"]);
    k.ok(&[
        "label",
        "namespace",
        "loose",
        "pod-security.kubernetes.io/warn=baseline",
        "pod-security.kubernetes.io/warn-version=v1.30",
    ]);
    let (ok, out, err) = text(&kubectl_stdin(
        &k,
        &["create", "-n", "loose", "-f", "-"],
        PRIVILEGED_POD,
    ));
    assert!(ok, "{err}");
    assert!(out.contains("pod/priv created"), "{out}");
    assert!(
        err.contains(
            "Warning: would violate PodSecurity \"baseline:v1.30\": privileged (container \"c\" must not set securityContext.privileged=true)"
        ),
        "{err}"
    );
    // Labelling the pod changes nothing the checks look at: no warning.
    let (ok, _, err) = text(&k.kubectl(&["label", "pod", "-n", "loose", "priv", "tier=x"]));
    assert!(ok && !err.contains("Warning"), "{err}");

    // Enforcing baseline on that namespace warns about the pod already there.
    for name in ["priv2", "priv3"] {
        let (ok, _, err) = text(&kubectl_stdin(
            &k,
            &["create", "-n", "loose", "-f", "-"],
            &PRIVILEGED_POD.replace("name: priv", &format!("name: {name}")),
        ));
        assert!(ok, "{err}");
    }
    let (ok, out, err) = text(&k.kubectl(&[
        "label",
        "namespace",
        "loose",
        "pod-security.kubernetes.io/enforce=baseline",
    ]));
    assert!(ok, "{err}");
    assert!(out.contains("namespace/loose labeled"), "{out}");
    assert!(
        err.contains("Warning: existing pods in namespace \"loose\" violate the new PodSecurity enforce level \"baseline:latest\""),
        "{err}"
    );
    assert!(
        err.contains("Warning: priv (and 2 other pods): privileged"),
        "{err}"
    );
    // From now on the namespace enforces baseline.
    let err = k.err(&[
        "run",
        "host",
        "-n",
        "loose",
        "--image=busybox",
        "--overrides={\"spec\":{\"hostPID\":true}}",
    ]);
    assert!(
        err.contains("pods \"host\" is forbidden: violates PodSecurity \"baseline:latest\": host namespaces (hostPID=true)"),
        "{err}"
    );

    // Invalid label values are refused (422 with the label as the field).
    let err = k.err(&[
        "label",
        "namespace",
        "loose",
        "--overwrite",
        "pod-security.kubernetes.io/enforce=strict",
    ]);
    assert!(
        err.contains(
            "Namespace \"loose\" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"strict\": must be one of privileged, baseline, restricted"
        ),
        "{err}"
    );
    let (ok, _, err) = text(&kubectl_stdin(
        &k,
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: odd\n  labels:\n    pod-security.kubernetes.io/audit-version: \"1.30\"\n",
    ));
    assert!(!ok);
    assert!(
        err.contains(
            "Namespace \"odd\" is invalid: metadata.labels[pod-security.kubernetes.io/audit-version]: Invalid value: \"1.30\": must be \"latest\" or \"v1.x\""
        ),
        "{err}"
    );
}
