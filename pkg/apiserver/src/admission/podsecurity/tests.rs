use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::admission::{scope, Chain, RequestCtx};

fn labels(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn lv(level: Level, version: Version) -> LevelVersion {
    LevelVersion::new(level, version)
}

#[test]
fn labels_choose_the_policy_as_upstream() {
    let d = Policy::default();
    assert_eq!(policy_from_labels(None, &d), (d, vec![]));

    // enforce alone raises warn to it (with its version); audit stays at the default.
    let (p, errs) = policy_from_labels(
        Some(&labels(
            json!({ENFORCE_LEVEL_LABEL: "restricted", ENFORCE_VERSION_LABEL: "v1.30"}),
        )),
        &d,
    );
    assert!(errs.is_empty());
    assert_eq!(p.enforce, lv(Level::Restricted, Version::V1(30)));
    assert_eq!(p.warn, lv(Level::Restricted, Version::V1(30)));
    assert_eq!(p.audit, lv(Level::Privileged, Version::Latest));

    // An explicit warn label is kept, even if lower.
    let (p, _) = policy_from_labels(
        Some(&labels(
            json!({ENFORCE_LEVEL_LABEL: "baseline", WARN_LEVEL_LABEL: "privileged"}),
        )),
        &d,
    );
    assert_eq!(p.warn.level, Level::Privileged);

    // Invalid values: enforce fails closed, audit and warn fail open, versions read as latest.
    let (p, errs) = policy_from_labels(
        Some(&labels(json!({
            ENFORCE_LEVEL_LABEL: "strict",
            AUDIT_LEVEL_LABEL: "loud",
            WARN_VERSION_LABEL: "1.30",
        }))),
        &d,
    );
    assert_eq!(p.enforce.level, Level::Restricted);
    assert_eq!(p.audit.level, Level::Privileged);
    assert_eq!(p.warn, lv(Level::Privileged, Version::Latest));
    let msgs: Vec<String> = errs.iter().map(FieldError::message).collect();
    assert_eq!(
        msgs,
        vec![
            "metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"strict\": must be one of privileged, baseline, restricted",
            "metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: \"loud\": must be one of privileged, baseline, restricted",
            "metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: \"1.30\": must be \"latest\" or \"v1.x\"",
        ]
    );
    assert!(aggregate(&errs).starts_with("[metadata.labels[pod-security.kubernetes.io/enforce]"));
}

#[test]
fn only_container_and_image_changes_are_significant_pod_updates() {
    let pod = json!({"metadata": {"labels": {"a": "1"}}, "spec": {
        "containers": [{"name": "c", "image": "one"}],
        "initContainers": [{"name": "i", "image": "init"}],
        "ephemeralContainers": [{"name": "e", "image": "dbg"}]
    }});
    let mut labelled = pod.clone();
    labelled["metadata"]["labels"]["a"] = json!("2");
    labelled["spec"]["activeDeadlineSeconds"] = json!(5);
    labelled["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    assert!(!significant_pod_update(&labelled, &pod));
    for (path, value) in [
        ("/spec/containers/0/image", json!("two")),
        ("/spec/initContainers/0/image", json!("two")),
        ("/spec/ephemeralContainers/0/image", json!("two")),
        ("/spec/ephemeralContainers/0/name", json!("new")),
    ] {
        let mut changed = pod.clone();
        if let Some(v) = changed.pointer_mut(path) {
            *v = value;
        }
        assert!(significant_pod_update(&changed, &pod), "{path}");
    }
    let mut more = pod.clone();
    more["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "d", "image": "one"}));
    assert!(significant_pod_update(&more, &pod));
}

/// A store over a fresh SQLite file with only PodSecurity in its admission chain.
async fn api(dir: &tempfile::TempDir) -> Api {
    let endpoint = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = k3rs_storage::endpoint::open(&endpoint).await.unwrap();
    Api {
        store,
        service_cidr: crate::store::ServiceCidr::parse("10.43.0.0/16").unwrap(),
        admission: Chain::new(vec![Arc::new(PodSecurity::default())]),
    }
}

fn res(group: &str, version: &str, plural: &str) -> &'static Resource {
    registry::find(group, version, plural).unwrap()
}

/// Runs `f` as a request; returns its result and the warnings and audit annotations it left.
async fn request<T, F: std::future::Future<Output = ApiResult<T>>>(
    f: F,
) -> (
    ApiResult<T>,
    Vec<String>,
    std::collections::BTreeMap<String, String>,
) {
    let ctx = Arc::new(RequestCtx::default());
    let r = scope(ctx.clone(), f).await;
    (r, ctx.take_warnings(), ctx.annotations())
}

fn pod(name: &str, privileged: bool) -> Value {
    let mut sc = json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}});
    if privileged {
        sc = json!({"privileged": true});
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "image": "busybox", "securityContext": sc}]
    }})
}

fn namespace(name: &str, l: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": l}})
}

#[tokio::test]
async fn enforce_warn_and_audit_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(&dir).await;
    let (ns_res, pods) = (res("", "v1", "namespaces"), res("", "v1", "pods"));

    // An invalid label value refuses the namespace (422, upstream's field error).
    let (r, _, _) = request(api.create(
        ns_res,
        None,
        namespace("bad", json!({ENFORCE_LEVEL_LABEL: "strict"})),
        false,
    ))
    .await;
    let e = r.unwrap_err();
    assert_eq!((e.code, e.reason.as_ref()), (422, "Invalid"));
    assert_eq!(
        e.message,
        "Namespace \"bad\" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"strict\": must be one of privileged, baseline, restricted"
    );

    api.create(
        ns_res,
        None,
        namespace(
            "r",
            json!({ENFORCE_LEVEL_LABEL: "restricted", AUDIT_LEVEL_LABEL: "baseline"}),
        ),
        false,
    )
    .await
    .unwrap();
    let (r, warnings, annotations) =
        request(api.create(pods, Some("r"), pod("priv", true), false)).await;
    let e = r.unwrap_err();
    assert_eq!((e.code, e.reason.as_ref()), (403, "Forbidden"));
    assert_eq!(
        e.message,
        "pods \"priv\" is forbidden: violates PodSecurity \"restricted:latest\": \
         privileged (container \"c\" must not set securityContext.privileged=true), \
         allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), \
         unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"])"
    );
    assert_eq!(
        e.details.as_deref(),
        Some(&json!({"name": "priv", "kind": "pods"}))
    );
    assert!(
        warnings.is_empty(),
        "no warnings on a refusal: {warnings:?}"
    );
    assert_eq!(
        annotations["pod-security.kubernetes.io/enforce-policy"],
        "restricted:latest"
    );
    assert_eq!(
        annotations["pod-security.kubernetes.io/audit-violations"],
        "would violate PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)"
    );
    let (r, warnings, _) = request(api.create(pods, Some("r"), pod("ok", false), false)).await;
    r.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");

    // Warn only: the pod is created, with upstream's warning.
    api.create(
        ns_res,
        None,
        namespace("w", json!({WARN_LEVEL_LABEL: "baseline"})),
        false,
    )
    .await
    .unwrap();
    let (r, warnings, _) = request(api.create(pods, Some("w"), pod("priv", true), false)).await;
    r.unwrap();
    assert_eq!(
        warnings,
        vec!["would violate PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)"]
    );
    // Relabelling, or a status write, of the violating pod is not a pod-spec change.
    let (r, warnings, _) = request(
        api.update_with(pods, Some("w"), "priv", None, false, |cur| {
            let mut p = cur.clone();
            p["metadata"]["labels"] = json!({"x": "y"});
            Ok(p)
        }),
    )
    .await;
    r.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");

    // A Deployment in the enforce=restricted namespace: created, with a warning only.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"app": "d"}},
        "template": {"metadata": {"labels": {"app": "d"}}, "spec": pod("x", true)["spec"].clone()}
    }});
    let (r, warnings, annotations) =
        request(api.create(res("apps", "v1", "deployments"), Some("r"), deploy, false)).await;
    r.unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with("would violate PodSecurity \"restricted:latest\": privileged ("),
        "{warnings:?}"
    );
    assert!(annotations.contains_key("pod-security.kubernetes.io/audit-violations"));
    assert!(!annotations.contains_key("pod-security.kubernetes.io/enforce-policy"));

    // Enforcing restricted on "w" warns about the pods already there.
    for n in ["priv2", "priv3"] {
        api.create(pods, Some("w"), pod(n, true), false)
            .await
            .unwrap();
    }
    let (r, warnings, _) = request(api.update_with(ns_res, None, "w", None, false, |cur| {
        let mut n = cur.clone();
        n["metadata"]["labels"][ENFORCE_LEVEL_LABEL] = json!("baseline");
        Ok(n)
    }))
    .await;
    r.unwrap();
    assert_eq!(
        warnings,
        vec![
            "existing pods in namespace \"w\" violate the new PodSecurity enforce level \"baseline:latest\"".to_string(),
            "priv (and 2 other pods): privileged".to_string(),
        ]
    );
    // An update that leaves the enforce level alone checks nothing.
    let (r, warnings, _) = request(api.update_with(ns_res, None, "w", None, false, |cur| {
        let mut n = cur.clone();
        n["metadata"]["annotations"] = json!({"a": "b"});
        Ok(n)
    }))
    .await;
    r.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");

    // Now enforced: an image change of a violating pod is refused, a label change is not.
    let (r, _, _) = request(
        api.update_with(pods, Some("w"), "priv", None, false, |cur| {
            let mut p = cur.clone();
            p["spec"]["containers"][0]["image"] = json!("busybox:2");
            Ok(p)
        }),
    )
    .await;
    assert_eq!(r.unwrap_err().code, 403);
}
