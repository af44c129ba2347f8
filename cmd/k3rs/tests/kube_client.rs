//! kube-rs (typed, JSON) against `k3rs server`: create, list, watch, replace with a conflict.

mod common;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use kube::Client;

async fn client(k: &common::K3rs) -> Client {
    let kc = kube::config::Kubeconfig::read_from(k.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

fn cm(name: &str, v: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("app".to_string(), "kube-rs".to_string())].into()),
            ..Default::default()
        },
        data: Some([("v".to_string(), v.to_string())].into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_typed_client_works() {
    let k = tokio::task::spawn_blocking(|| common::K3rs::start(None))
        .await
        .unwrap();
    let client = client(&k).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    // Watch from "now" before writing.
    let list = cms
        .list(&ListParams::default().labels("app=kube-rs"))
        .await
        .unwrap();
    let rv = list
        .metadata
        .resource_version
        .clone()
        .expect("lists carry a resourceVersion");
    let mut events = cms
        .watch(
            &WatchParams::default().labels("app=kube-rs").timeout(20),
            &rv,
        )
        .await
        .unwrap()
        .boxed();

    let created = cms
        .create(&PostParams::default(), &cm("a", "1"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    cms.create(&PostParams::default(), &cm("b", "1"))
        .await
        .unwrap();
    let err = cms
        .create(&PostParams::default(), &cm("a", "1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err:?}"
    );

    let names: Vec<String> = cms
        .list(&ListParams::default().labels("app=kube-rs"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    // Paging with limit/continue.
    let page = cms.list(&ListParams::default().limit(1)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(page.metadata.continue_.is_some());

    // Replace: fresh resourceVersion succeeds, a stale one is a 409 Conflict.
    let mut fresh = cms.get("a").await.unwrap();
    fresh.data = Some([("v".to_string(), "2".to_string())].into());
    let replaced = cms
        .replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    assert_ne!(
        replaced.metadata.resource_version,
        fresh.metadata.resource_version
    );
    fresh.data = Some([("v".to_string(), "3".to_string())].into());
    let err = cms
        .replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"),
        "{err:?}"
    );
    cms.delete("b", &DeleteParams::default()).await.unwrap();

    let mut seen = Vec::new();
    while seen.len() < 4 {
        match tokio::time::timeout(Duration::from_secs(20), events.try_next()).await {
            Ok(Ok(Some(WatchEvent::Added(o)))) => {
                seen.push(format!("ADDED {}", o.metadata.name.unwrap_or_default()))
            }
            Ok(Ok(Some(WatchEvent::Modified(o)))) => {
                seen.push(format!("MODIFIED {}", o.metadata.name.unwrap_or_default()))
            }
            Ok(Ok(Some(WatchEvent::Deleted(o)))) => {
                seen.push(format!("DELETED {}", o.metadata.name.unwrap_or_default()))
            }
            Ok(Ok(Some(WatchEvent::Bookmark(_)))) => {}
            other => panic!("watch: {other:?} after {seen:?}"),
        }
    }
    assert_eq!(seen, ["ADDED a", "ADDED b", "MODIFIED a", "DELETED b"]);

    // kube-runtime's watcher (list + watch with bookmarks) sees the state.
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut w = watcher::watcher(
        cms.clone(),
        watcher::Config::default().labels("app=kube-rs"),
    )
    .boxed();
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), w.try_next()).await {
            Ok(Ok(Some(watcher::Event::InitApply(o)))) => {
                initial.push(o.metadata.name.unwrap_or_default())
            }
            Ok(Ok(Some(watcher::Event::InitDone))) => break,
            Ok(Ok(Some(_))) => {}
            other => panic!("watcher: {other:?}"),
        }
    }
    assert_eq!(initial, ["a"]);
    assert!(deploys
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

/// kube-rs' plain `Api::watch` from a resourceVersion etcd has compacted away gets the 410 a
/// client must relist on; after relisting, a watch from the fresh resourceVersion carries on
/// with exactly the writes made after the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_watch_resumes_after_410() {
    let (etcd, k) = tokio::task::spawn_blocking(|| {
        let etcd = k3rs_storage::testing::Etcd::start();
        let k = common::K3rs::start(Some(&etcd.url));
        (etcd, k)
    })
    .await
    .unwrap();
    let client = client(&k).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let lp = ListParams::default().labels("app=kube-rs");
    let old = cms
        .list(&lp)
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    cms.create(&PostParams::default(), &cm("c1", "1"))
        .await
        .unwrap();
    let latest = cms
        .create(&PostParams::default(), &cm("c2", "1"))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let out = tokio::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([&format!("--endpoints={}", etcd.url), "compaction", &latest])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let wp = WatchParams::default().labels("app=kube-rs").timeout(20);
    let mut stale = cms.watch(&wp, &old).await.unwrap().boxed();
    match tokio::time::timeout(Duration::from_secs(20), stale.try_next()).await {
        Ok(Ok(Some(WatchEvent::Error(e)))) => {
            assert_eq!(e.code, 410, "{e:?}");
            assert_eq!(e.reason, "Expired", "{e:?}");
        }
        other => panic!("a watch from a compacted revision gave {other:?}"),
    }

    // Relist, then resume from the list's resourceVersion.
    let list = cms.list(&lp).await.unwrap();
    let names: Vec<_> = list
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(names, ["c1", "c2"]);
    let rv = list.metadata.resource_version.unwrap();
    let mut events = cms.watch(&wp, &rv).await.unwrap().boxed();
    cms.create(&PostParams::default(), &cm("c3", "1"))
        .await
        .unwrap();
    cms.delete("c1", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(20), events.try_next()).await {
            Ok(Ok(Some(WatchEvent::Added(o)))) => {
                seen.push(format!("ADDED {}", o.metadata.name.unwrap_or_default()))
            }
            Ok(Ok(Some(WatchEvent::Deleted(o)))) => {
                seen.push(format!("DELETED {}", o.metadata.name.unwrap_or_default()))
            }
            Ok(Ok(Some(WatchEvent::Bookmark(_)))) => {}
            other => panic!("resumed watch: {other:?} after {seen:?}"),
        }
    }
    assert_eq!(seen, ["ADDED c3", "DELETED c1"]);
    drop(k);
    drop(etcd);
}
