//! One behaviour suite, run against every backend: the embedded SQLite store and a real etcd.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use k3rs_storage::{
    prefix_end, Error, EventType, ListOptions, PutOptions, Store, WatchMessage, WatchOptions,
    WatchStream,
};

const NO_OPTS: PutOptions = PutOptions {
    ttl: None,
    lease: 0,
};

async fn next_events(w: &mut WatchStream) -> Vec<k3rs_storage::Event> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), w.next()).await {
            Ok(Some(Ok(WatchMessage::Events(evs)))) => return evs,
            Ok(Some(Ok(WatchMessage::Progress(_)))) => continue,
            Ok(Some(Err(e))) => panic!("watch failed: {e}"),
            Ok(None) => panic!("watch ended"),
            Err(_) => panic!("no watch event within 20s"),
        }
    }
}

async fn create_if_absent(s: Store) {
    let r1 = s.create(b"/t/a", b"one", NO_OPTS).await.unwrap();
    assert!(r1 > 0);
    match s.create(b"/t/a", b"two", NO_OPTS).await {
        Err(Error::KeyExists { revision, .. }) => assert_eq!(revision, r1),
        other => panic!("second create must fail with KeyExists, got {other:?}"),
    }
    let (kv, _) = s.get(b"/t/a", 0).await.unwrap();
    let kv = kv.expect("key exists");
    assert_eq!(kv.value, b"one");
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (r1, r1, 1)
    );
    // Re-creating after a delete works and starts a new life.
    let (drev, _) = s.delete(b"/t/a", None).await.unwrap();
    let r2 = s.create(b"/t/a", b"three", NO_OPTS).await.unwrap();
    assert!(r2 > drev && drev > r1);
    let kv = s.get(b"/t/a", 0).await.unwrap().0.unwrap();
    assert_eq!((kv.create_revision, kv.version), (r2, 1));
}

async fn cas_conflicts(s: Store) {
    let r1 = s.create(b"/t/cas", b"v1", NO_OPTS).await.unwrap();
    let r2 = s.update(b"/t/cas", b"v2", r1, NO_OPTS).await.unwrap();
    assert!(r2 > r1);
    match s.update(b"/t/cas", b"v3", r1, NO_OPTS).await {
        Err(Error::Conflict {
            current: Some(cur), ..
        }) => {
            assert_eq!(cur.mod_revision, r2);
            assert_eq!(cur.value, b"v2");
            assert_eq!(cur.version, 2);
        }
        other => panic!("stale update must conflict, got {other:?}"),
    }
    match s.delete(b"/t/cas", Some(r1)).await {
        Err(Error::Conflict { .. }) => {}
        other => panic!("stale delete must conflict, got {other:?}"),
    }
    assert_eq!(s.get(b"/t/cas", 0).await.unwrap().0.unwrap().value, b"v2");
    let (_, prev) = s.delete(b"/t/cas", Some(r2)).await.unwrap();
    assert_eq!(prev.value, b"v2");
    match s.update(b"/t/cas", b"v4", r2, NO_OPTS).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("update of a deleted key must be NotFound, got {other:?}"),
    }
}

async fn delete_missing_key(s: Store) {
    let before = s.current_revision().await.unwrap();
    match s.delete(b"/t/never", None).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("delete of a missing key must be NotFound, got {other:?}"),
    }
    match s.delete(b"/t/never", Some(5)).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("guarded delete of a missing key must be NotFound, got {other:?}"),
    }
    assert_eq!(
        s.current_revision().await.unwrap(),
        before,
        "no revision spent"
    );
}

async fn list_pagination_is_consistent_while_writers_run(s: Store) {
    let prefix = b"/t/list/".to_vec();
    let end = prefix_end(&prefix);
    for i in 0..300 {
        s.create(format!("/t/list/k{i:04}").as_bytes(), b"v0", NO_OPTS)
            .await
            .unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (s, stop) = (s.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // New keys interleaved with the old ones, updates, and deletes.
                let k = format!("/t/list/k{:04}x{w}-{n}", (n * 7 + w) % 300);
                s.create(k.as_bytes(), b"new", NO_OPTS).await.unwrap();
                let old = format!("/t/list/k{:04}", (n * 13 + w) % 300);
                if let (Some(kv), _) = s.get(old.as_bytes(), 0).await.unwrap() {
                    let _ = if n % 3 == 0 {
                        s.delete(old.as_bytes(), Some(kv.mod_revision))
                            .await
                            .map(|_| ())
                    } else {
                        s.update(old.as_bytes(), b"upd", kv.mod_revision, NO_OPTS)
                            .await
                            .map(|_| ())
                    };
                }
                n += 1;
            }
            n
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Page through at the first page's revision, while the writers keep going.
    let first = s
        .list(
            &prefix,
            &end,
            ListOptions {
                limit: 37,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let rev = first.revision;
    let mut paged = first.kvs.clone();
    let mut more = first.more;
    while more {
        let mut start = paged.last().unwrap().key.clone();
        start.push(0);
        let page = s
            .list(
                &start,
                &end,
                ListOptions {
                    limit: 37,
                    revision: rev,
                    keys_only: false,
                },
            )
            .await
            .unwrap();
        assert_eq!(page.revision, rev);
        assert!(page.kvs.len() <= 37);
        more = page.more;
        paged.extend(page.kvs);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total_writes = 0;
    for w in writers {
        total_writes += w.await.unwrap();
    }
    assert!(total_writes > 0, "writers must have run during paging");
    let whole = s
        .list(
            &prefix,
            &end,
            ListOptions {
                revision: rev,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        paged, whole.kvs,
        "pages at one revision equal the unpaged list at it"
    );
    assert!(
        paged.windows(2).all(|w| w[0].key < w[1].key),
        "keys in order, no duplicates"
    );
    assert!(paged.iter().all(|kv| kv.mod_revision <= rev));
    let (count, _) = s.count(&prefix, &end, rev).await.unwrap();
    assert_eq!(count as usize, paged.len());
    let now = s.list(&prefix, &end, ListOptions::default()).await.unwrap();
    assert!(now.revision > rev);
    assert_ne!(now.kvs, paged, "the store moved on meanwhile");
}

async fn watch_has_no_gaps_or_duplicates_under_32_writers(s: Store) {
    let prefix = b"/t/w/".to_vec();
    let end = prefix_end(&prefix);
    let start = s.current_revision().await.unwrap() + 1;
    let mut w = s
        .watch(&prefix, &end, start, WatchOptions::default())
        .await
        .unwrap();
    // Writes outside the prefix must not show up.
    s.create(b"/t/other", b"x", NO_OPTS).await.unwrap();
    let per_writer = 25;
    let mut tasks = Vec::new();
    for t in 0..32 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..per_writer {
                let k = format!("/t/w/{t}/{i}");
                let r = s.create(k.as_bytes(), b"c", NO_OPTS).await.unwrap();
                let r2 = s.update(k.as_bytes(), b"u", r, NO_OPTS).await.unwrap();
                revs.push((k, r, r2));
            }
            revs
        }));
    }
    let mut expected = HashMap::new();
    for t in tasks {
        for (k, r, r2) in t.await.unwrap() {
            expected.insert(r, (k.clone(), EventType::Put, None));
            expected.insert(r2, (k, EventType::Put, Some(r)));
        }
    }
    let want = 32 * per_writer * 2;
    let mut got = Vec::new();
    while got.len() < want {
        got.extend(next_events(&mut w).await);
    }
    assert_eq!(got.len(), want, "no extra events");
    assert!(
        got.windows(2).all(|p| p[0].revision() < p[1].revision()),
        "strictly increasing revisions, so no duplicates"
    );
    for ev in &got {
        let (k, kind, prev) = expected
            .get(&ev.revision())
            .unwrap_or_else(|| panic!("unexpected event at {}", ev.revision()));
        assert_eq!(ev.kv.key, k.as_bytes());
        assert_eq!(ev.kind, *kind);
        assert_eq!(ev.prev.as_ref().map(|p| p.mod_revision), *prev);
    }
}

async fn watch_resumes_from_an_old_revision(s: Store) {
    let from = s.current_revision().await.unwrap() + 1;
    let r1 = s.create(b"/t/r/a", b"1", NO_OPTS).await.unwrap();
    let r2 = s.update(b"/t/r/a", b"2", r1, NO_OPTS).await.unwrap();
    let r3 = s.create(b"/t/r/b", b"1", NO_OPTS).await.unwrap();
    let (r4, _) = s.delete(b"/t/r/a", Some(r2)).await.unwrap();
    // Start watching after the fact: history is replayed in order, then live events follow.
    let mut w = s
        .watch(
            b"/t/r/",
            &prefix_end(b"/t/r/"),
            from,
            WatchOptions::default(),
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 4 {
        got.extend(next_events(&mut w).await);
    }
    let summary: Vec<_> = got
        .iter()
        .map(|e| (e.revision(), e.kind, e.kv.key.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (r1, EventType::Put, b"/t/r/a".to_vec()),
            (r2, EventType::Put, b"/t/r/a".to_vec()),
            (r3, EventType::Put, b"/t/r/b".to_vec()),
            (r4, EventType::Delete, b"/t/r/a".to_vec()),
        ]
    );
    assert_eq!(got[1].prev.as_ref().unwrap().value, b"1");
    assert_eq!(
        got[3].prev.as_ref().unwrap().value,
        b"2",
        "delete carries the deleted value"
    );
    let r5 = s.update(b"/t/r/b", b"2", r3, NO_OPTS).await.unwrap();
    let live = next_events(&mut w).await;
    assert_eq!(live[0].revision(), r5);
}

async fn compacted_revisions_are_refused(s: Store) {
    let r1 = s.create(b"/t/c/a", b"1", NO_OPTS).await.unwrap();
    let mut rev = r1;
    for i in 0..10 {
        rev = s
            .update(b"/t/c/a", format!("{i}").as_bytes(), rev, NO_OPTS)
            .await
            .unwrap();
    }
    s.compact(rev).await.unwrap();
    assert!(s.compacted_revision().await.unwrap() >= rev);
    // Resuming a watch from before the compaction: "compacted".
    let res = s
        .watch(b"/t/c/", &prefix_end(b"/t/c/"), r1, WatchOptions::default())
        .await;
    let err = match res {
        Err(e) => e,
        Ok(mut w) => match tokio::time::timeout(Duration::from_secs(10), w.next()).await {
            Ok(Some(Err(e))) => e,
            other => panic!("watch from a compacted revision must fail, got {other:?}"),
        },
    };
    assert!(matches!(err, Error::Compacted { .. }), "{err:?}");
    match s.get(b"/t/c/a", r1).await {
        Err(Error::Compacted { .. }) => {}
        other => panic!("read below the compacted revision must fail, got {other:?}"),
    }
    // The state at the compacted revision and after is intact.
    let (kv, _) = s.get(b"/t/c/a", rev).await.unwrap();
    assert_eq!(kv.unwrap().value, b"9");
    let (kv, _) = s.get(b"/t/c/a", 0).await.unwrap();
    assert_eq!(kv.unwrap().version, 11);
    // Compacting to an older revision again is an error, not a silent success.
    assert!(matches!(s.compact(r1).await, Err(Error::Compacted { .. })));
}

async fn ttl_keys_expire(s: Store) {
    let from = s.current_revision().await.unwrap() + 1;
    let mut w = s
        .watch(
            b"/t/ttl/",
            &prefix_end(b"/t/ttl/"),
            from,
            WatchOptions::default(),
        )
        .await
        .unwrap();
    let ttl = PutOptions {
        ttl: Some(Duration::from_secs(1)),
        lease: 0,
    };
    s.create(b"/t/ttl/ev", b"event", ttl).await.unwrap();
    s.create(b"/t/ttl/keep", b"stays", NO_OPTS).await.unwrap();
    let mut seen: BTreeMap<Vec<u8>, Vec<EventType>> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !seen
        .get(b"/t/ttl/ev".as_slice())
        .is_some_and(|v| v.contains(&EventType::Delete))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "TTL key did not expire: {seen:?}"
        );
        for e in next_events(&mut w).await {
            seen.entry(e.kv.key.clone()).or_default().push(e.kind);
        }
    }
    assert!(s.get(b"/t/ttl/ev", 0).await.unwrap().0.is_none());
    assert!(s.get(b"/t/ttl/keep", 0).await.unwrap().0.is_some());
}

async fn future_revisions_are_refused(s: Store) {
    s.create(b"/t/f", b"1", NO_OPTS).await.unwrap();
    let cur = s.current_revision().await.unwrap();
    match s.get(b"/t/f", cur + 1000).await {
        Err(Error::FutureRevision { .. }) => {}
        other => panic!("read at a future revision must fail, got {other:?}"),
    }
}

/// A new store is at revision 1 and its first write gets 2, as etcd: kube-apiserver refuses a
/// storage revision of 0.
async fn a_new_store_starts_at_revision_1(s: Store) {
    assert_eq!(s.current_revision().await.unwrap(), 1);
    assert_eq!(s.create(b"/first", b"1", NO_OPTS).await.unwrap(), 2);
    assert_eq!(s.current_revision().await.unwrap(), 2);
}

/// One unpaged list larger than gRPC's default 4 MiB message limit (kube-apiserver lists whole
/// resources unpaged).
async fn unpaged_lists_over_4_mib(s: Store) {
    let value = vec![b'x'; 200 * 1024];
    for i in 0..30 {
        s.create(format!("/big/{i:02}").as_bytes(), &value, NO_OPTS)
            .await
            .unwrap();
    }
    let res = s
        .list(b"/big/", b"/big0", ListOptions::default())
        .await
        .unwrap();
    assert_eq!(res.kvs.len(), 30);
    assert!(res.kvs.iter().all(|kv| kv.value.len() == value.len()));
}

macro_rules! suite {
    ($backend:ident: $($test:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let (store, _guard) = crate::common::backend(stringify!($backend)).await;
                    super::$test(store).await;
                }
            )*
        }
    };
}

suite!(sqlite: create_if_absent, cas_conflicts, delete_missing_key,
    list_pagination_is_consistent_while_writers_run,
    watch_has_no_gaps_or_duplicates_under_32_writers, watch_resumes_from_an_old_revision,
    compacted_revisions_are_refused, ttl_keys_expire, future_revisions_are_refused,
    unpaged_lists_over_4_mib, a_new_store_starts_at_revision_1);
suite!(etcd: create_if_absent, cas_conflicts, delete_missing_key,
    list_pagination_is_consistent_while_writers_run,
    watch_has_no_gaps_or_duplicates_under_32_writers, watch_resumes_from_an_old_revision,
    compacted_revisions_are_refused, ttl_keys_expire, future_revisions_are_refused,
    unpaged_lists_over_4_mib, a_new_store_starts_at_revision_1);
