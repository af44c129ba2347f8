//! API lifecycle through kube-rs (a typed Rust client, as controllers use the API): namespace
//! lifecycle, finalizers and graceful deletion, garbage-collection propagation policies, and an
//! admission refusal surfacing as a `kube::Error::Api` with upstream's code and reason.

mod common;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;

async fn wait_gone<K>(api: &Api<K>, name: &str, what: &str)
where
    K: kube::Resource + Clone + for<'de> k8s_openapi::serde::Deserialize<'de> + std::fmt::Debug,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while api.get_opt(name).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "{what} still exists");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn cm(name: &str, owner: Option<(&ConfigMap, bool)>, finalizers: &[&str]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            owner_references: owner.map(|(o, block)| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: o.metadata.name.clone().unwrap(),
                    uid: o.metadata.uid.clone().unwrap(),
                    block_owner_deletion: Some(block),
                    controller: None,
                }]
            }),
            finalizers: (!finalizers.is_empty())
                .then(|| finalizers.iter().map(|f| f.to_string()).collect()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_through_kube_rs() {
    let k = common::K3rs::start(None);
    let client: Client = k.kube_client().await;
    let pp = PostParams::default();

    // Namespace lifecycle: content is refused once the namespace is terminating; it goes.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &pp,
            &Namespace {
                metadata: ObjectMeta {
                    name: Some("doomed".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let doomed: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    doomed.create(&pp, &cm("before", None, &[])).await.unwrap();
    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let refused = api_error(
        doomed
            .create(&pp, &cm("after", None, &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(refused.code, 403, "{refused:?}");
    assert!(
        refused.message.contains("because it is being terminated"),
        "{refused:?}"
    );
    wait_gone(&namespaces, "doomed", "the deleted namespace").await;

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // Finalizers: the object stays, marked, until they are gone; none may be added meanwhile.
    cms.create(&pp, &cm("held", None, &["example.com/hold"]))
        .await
        .unwrap();
    let marked = cms
        .delete("held", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("an object with finalizers is returned, not a Status");
    assert!(marked.metadata.deletion_timestamp.is_some());
    let added = api_error(
        cms.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(added.code, 422, "{added:?}");
    assert!(added.message.contains("no new finalizers"), "{added:?}");
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    wait_gone(&cms, "held", "the object whose finalizer was removed").await;

    // Foreground: the owner is returned marked with foregroundDeletion and goes after its
    // blocking dependent.
    let owner = cms.create(&pp, &cm("fg-owner", None, &[])).await.unwrap();
    cms.create(&pp, &cm("fg-dep", Some((&owner, true)), &[]))
        .await
        .unwrap();
    let marked = cms
        .delete("fg-owner", &DeleteParams::foreground())
        .await
        .unwrap()
        .left()
        .expect("the owner, marked");
    assert!(marked
        .metadata
        .finalizers
        .unwrap_or_default()
        .contains(&"foregroundDeletion".to_string()));
    wait_gone(&cms, "fg-dep", "the foreground dependent").await;
    wait_gone(&cms, "fg-owner", "the foreground owner").await;

    // Orphan: the dependent stays without its reference; Background: it follows.
    let owner = cms.create(&pp, &cm("or-owner", None, &[])).await.unwrap();
    cms.create(&pp, &cm("or-dep", Some((&owner, false)), &[]))
        .await
        .unwrap();
    cms.delete("or-owner", &DeleteParams::orphan())
        .await
        .unwrap();
    wait_gone(&cms, "or-owner", "the orphaning owner").await;
    let dep = cms.get("or-dep").await.unwrap();
    assert!(dep.metadata.owner_references.unwrap_or_default().is_empty());
    let owner = cms.create(&pp, &cm("bg-owner", None, &[])).await.unwrap();
    cms.create(&pp, &cm("bg-dep", Some((&owner, false)), &[]))
        .await
        .unwrap();
    cms.delete("bg-owner", &DeleteParams::background())
        .await
        .unwrap();
    wait_gone(&cms, "bg-dep", "the background dependent").await;

    // Admission: a refusal is a typed API error with upstream's code, reason and message.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"},
        "spec": {"runtimeClassName": "missing", "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}))
    .unwrap();
    let refused = api_error(pods.create(&pp, &pod).await.unwrap_err());
    assert_eq!(refused.code, 403);
    assert_eq!(refused.reason, "Forbidden");
    assert_eq!(
        refused.message,
        "pods \"p\" is forbidden: pod rejected: RuntimeClass \"missing\" not found"
    );
}
