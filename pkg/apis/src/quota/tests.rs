use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn rl(v: Value) -> ResourceList {
    list_from_json(Some(&v))
}

fn pod(containers: Value) -> Value {
    json!({"metadata": {"name": "p", "namespace": "ns", "resourceVersion": "5"},
           "spec": {"containers": containers}})
}

fn quota(name: &str, spec: Value, hard: Value, used: Value) -> Quota {
    Quota::from_json(&json!({
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "7"},
        "spec": spec,
        "status": {"hard": hard, "used": used},
    }))
}

#[test]
fn pod_usage_counts_requests_limits_and_extended_resources() {
    let p = pod(json!([{"name": "c", "resources": {
        "requests": {"cpu": "500m", "memory": "252Mi", "ephemeral-storage": "30Gi", "example.com/dongle": "2"},
        "limits": {"example.com/dongle": "2", "memory": "1Gi"}}}]));
    let u = Evaluator::Pods.usage(&p, now());
    assert_eq!(
        pretty_print(&u),
        "count/pods=1,cpu=500m,ephemeral-storage=30Gi,limits.memory=1Gi,memory=252Mi,pods=1,\
         requests.cpu=500m,requests.ephemeral-storage=30Gi,requests.example.com/dongle=2,requests.memory=252Mi"
    );
}

#[test]
fn init_containers_count_as_a_maximum_and_sidecars_add() {
    let mut p = pod(
        json!([{"name": "a", "resources": {"requests": {"cpu": "100m"}}},
                           {"name": "b", "resources": {"requests": {"cpu": "200m"}}}]),
    );
    p["spec"]["initContainers"] = json!([
        {"name": "i", "resources": {"requests": {"cpu": "1"}}},
        {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
    ]);
    // containers 300m + sidecar 50m = 350m, below the init container's 1.
    assert_eq!(pod_requests(&p)["cpu"].to_string(), "1");
    p["spec"]["initContainers"][0]["resources"]["requests"]["cpu"] = json!("100m");
    assert_eq!(pod_requests(&p)["cpu"].to_string(), "350m");
    p["spec"]["overhead"] = json!({"cpu": "10m"});
    assert_eq!(pod_requests(&p)["cpu"].to_string(), "360m");
}

#[test]
fn finished_pods_only_count_as_objects() {
    let mut p = pod(json!([{"name": "c", "resources": {"requests": {"cpu": "1"}}}]));
    p["status"] = json!({"phase": "Succeeded"});
    assert_eq!(
        pretty_print(&Evaluator::Pods.usage(&p, now())),
        "count/pods=1"
    );
    p["status"] = json!({"phase": "Running"});
    p["metadata"]["deletionTimestamp"] = json!("2025-12-31T23:59:00Z");
    p["metadata"]["deletionGracePeriodSeconds"] = json!(30);
    assert!(!counts_pod(&p, now()), "grace period over");
    p["metadata"]["deletionGracePeriodSeconds"] = json!(3600);
    assert!(counts_pod(&p, now()), "still in its grace period");
}

#[test]
fn constraints_name_the_containers_missing_a_limited_resource() {
    let p = pod(
        json!([{"name": "b", "resources": {"requests": {"memory": "1Gi"}}},
                       {"name": "a"}]),
    );
    let required = vec![
        "requests.cpu".to_string(),
        "requests.memory".to_string(),
        "pods".to_string(),
    ];
    assert_eq!(
        Evaluator::Pods.constraints(&required, &p),
        Err("must specify requests.cpu for: a,b; requests.memory for: a".to_string())
    );
    assert!(Evaluator::Services.constraints(&required, &p).is_ok());
}

#[test]
fn scopes_select_pods() {
    let best = pod(json!([{"name": "c"}]));
    let burst = pod(json!([{"name": "c", "resources": {"requests": {"cpu": "1"}}}]));
    let mut term = best.clone();
    term["spec"]["activeDeadlineSeconds"] = json!(3600);
    let be = quota(
        "be",
        json!({"scopes": ["BestEffort"]}),
        json!({"pods": "5"}),
        json!({"pods": "0"}),
    );
    let nbe = quota(
        "nbe",
        json!({"scopes": ["NotBestEffort"]}),
        json!({"pods": "5"}),
        json!({"pods": "0"}),
    );
    let t = quota(
        "t",
        json!({"scopes": ["Terminating"]}),
        json!({"pods": "5"}),
        json!({"pods": "0"}),
    );
    let ev = Evaluator::Pods;
    assert!(ev.matches(&be, &best).unwrap());
    assert!(!ev.matches(&be, &burst).unwrap());
    assert!(ev.matches(&nbe, &burst).unwrap());
    assert!(!ev.matches(&t, &best).unwrap());
    assert!(ev.matches(&t, &term).unwrap());
    // Scopes never match objects that are not pods.
    assert!(!Evaluator::Services.matches(&t, &json!({})).unwrap());

    let mut gold = best.clone();
    gold["spec"]["priorityClassName"] = json!("gold");
    let sel = |op: &str, values: Value| {
        quota(
            "pc",
            json!({"scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": op, "values": values}]}}),
            json!({"pods": "1"}),
            json!({"pods": "0"}),
        )
    };
    assert!(ev.matches(&sel("In", json!(["gold"])), &gold).unwrap());
    assert!(!ev.matches(&sel("In", json!(["gold"])), &best).unwrap());
    assert!(ev.matches(&sel("NotIn", json!(["silver"])), &gold).unwrap());
    assert!(ev.matches(&sel("NotIn", json!(["silver"])), &best).unwrap());
    assert!(ev.matches(&sel("Exists", json!([])), &gold).unwrap());
    assert!(ev.matches(&sel("DoesNotExist", json!([])), &best).unwrap());
    assert!(ev.matches(&sel("In", json!([])), &gold).is_err());
}

#[test]
fn services_use_node_ports_and_load_balancers() {
    let svc = |t: &str, alloc: Option<bool>| {
        let mut s =
            json!({"spec": {"type": t, "ports": [{"port": 80}, {"port": 81, "nodePort": 30001}]}});
        if let Some(a) = alloc {
            s["spec"]["allocateLoadBalancerNodePorts"] = json!(a);
        }
        pretty_print(&Evaluator::Services.usage(&s, now()))
    };
    assert_eq!(
        svc("ClusterIP", None),
        "count/services=1,services=1,services.loadbalancers=0,services.nodeports=0"
    );
    assert_eq!(
        svc("NodePort", None),
        "count/services=1,services=1,services.loadbalancers=0,services.nodeports=2"
    );
    assert_eq!(
        svc("LoadBalancer", Some(false)),
        "count/services=1,services=1,services.loadbalancers=1,services.nodeports=1"
    );
}

#[test]
fn claims_count_storage_per_class() {
    let pvc = json!({"spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "1.5Gi"}}}});
    assert_eq!(
        pretty_print(&Evaluator::PersistentVolumeClaims.usage(&pvc, now())),
        "count/persistentvolumeclaims=1,gold.storageclass.storage.k8s.io/persistentvolumeclaims=1,\
         gold.storageclass.storage.k8s.io/requests.storage=1536Mi,persistentvolumeclaims=1,requests.storage=1536Mi"
    );
    let names: Vec<String> = [
        "gold.storageclass.storage.k8s.io/requests.storage",
        "requests.storage",
        "pods",
        "count/persistentvolumeclaims",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        Evaluator::PersistentVolumeClaims.matching_resources(&names),
        vec![
            "count/persistentvolumeclaims",
            "gold.storageclass.storage.k8s.io/requests.storage",
            "requests.storage"
        ]
    );
}

#[test]
fn object_counts_and_legacy_names() {
    let cm = Evaluator::for_resource("", "configmaps").unwrap();
    assert_eq!(
        pretty_print(&cm.usage(&json!({}), now())),
        "configmaps=1,count/configmaps=1"
    );
    let rs = Evaluator::for_resource("apps", "replicasets").unwrap();
    assert_eq!(
        rs.matching_resources(&["count/replicasets.apps".into(), "pods".into()]),
        vec!["count/replicasets.apps"]
    );
    assert!(Evaluator::for_resource("", "events").is_none());
    assert_eq!(
        parse_object_count_name("count/replicasets.apps"),
        Some(("apps".into(), "replicasets".into()))
    );
    assert_eq!(
        parse_object_count_name("count/pods"),
        Some(("".into(), "pods".into()))
    );
    assert!(cm.handles(Operation::Create, "", &json!({}), None));
    assert!(!cm.handles(Operation::Update, "", &json!({}), Some(&json!({}))));
    assert!(!cm.handles(Operation::Create, "status", &json!({}), None));
}

#[test]
fn a_create_beyond_the_limit_is_refused_with_upstreams_message() {
    let q = quota(
        "test-quota",
        json!({"hard": {"configmaps": "2"}}),
        json!({"configmaps": "2"}),
        json!({"configmaps": "2"}),
    );
    let cm = Evaluator::for_resource("", "configmaps").unwrap();
    let err = check_request(
        std::slice::from_ref(&q),
        &cm,
        Operation::Create,
        "",
        &json!({}),
        None,
        now(),
    );
    assert_eq!(
        err,
        Err(Refusal::Forbidden(
            "exceeded quota: test-quota, requested: configmaps=1, used: configmaps=2, limited: configmaps=2"
                .into()
        ))
    );
    let mut roomy = q;
    roomy.status_hard = rl(json!({"configmaps": "3"}));
    let changed = check_request(
        &[roomy],
        &cm,
        Operation::Create,
        "",
        &json!({}),
        None,
        now(),
    )
    .unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(pretty_print(&changed[0].1), "configmaps=3");
}

#[test]
fn pod_checks_compute_resources_and_status() {
    let q = quota(
        "compute",
        json!({}),
        json!({"cpu": "1", "memory": "500Mi", "pods": "5"}),
        json!({"cpu": "500m", "memory": "252Mi", "pods": "1"}),
    );
    let p =
        pod(json!([{"name": "c", "resources": {"requests": {"cpu": "600m", "memory": "100Mi"}}}]));
    assert_eq!(
        check_request(
            std::slice::from_ref(&q),
            &Evaluator::Pods,
            Operation::Create,
            "",
            &p,
            None,
            now()
        ),
        Err(Refusal::Forbidden(
            "exceeded quota: compute, requested: cpu=600m, used: cpu=500m, limited: cpu=1".into()
        ))
    );
    let no_mem = pod(json!([{"name": "c", "resources": {"requests": {"cpu": "100m"}}}]));
    assert_eq!(
        check_request(
            std::slice::from_ref(&q),
            &Evaluator::Pods,
            Operation::Create,
            "",
            &no_mem,
            None,
            now()
        ),
        Err(Refusal::Forbidden(
            "failed quota: compute: must specify memory for: c".into()
        ))
    );
    let mut fresh = q.clone();
    fresh.status_used = rl(json!({"pods": "1"}));
    let small =
        pod(json!([{"name": "c", "resources": {"requests": {"cpu": "100m", "memory": "1Mi"}}}]));
    assert_eq!(
        check_request(
            &[fresh],
            &Evaluator::Pods,
            Operation::Create,
            "",
            &small,
            None,
            now()
        ),
        Err(Refusal::Forbidden(
            "status unknown for quota: compute, resources: cpu,memory,pods".into()
        ))
    );
    let ok = check_request(
        &[q],
        &Evaluator::Pods,
        Operation::Create,
        "",
        &small,
        None,
        now(),
    )
    .unwrap();
    assert_eq!(pretty_print(&ok[0].1), "cpu=600m,memory=253Mi,pods=2");
}

#[test]
fn updates_charge_only_the_difference() {
    let q = quota(
        "svc",
        json!({}),
        json!({"services": "10", "services.nodeports": "1"}),
        json!({"services": "1", "services.nodeports": "0"}),
    );
    let old = json!({"metadata": {"resourceVersion": "3"}, "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}});
    let mut new = old.clone();
    new["spec"]["type"] = json!("NodePort");
    let changed = check_request(
        std::slice::from_ref(&q),
        &Evaluator::Services,
        Operation::Update,
        "",
        &new,
        Some(&old),
        now(),
    )
    .unwrap();
    assert_eq!(
        pretty_print(&changed[0].1),
        "services=1,services.nodeports=1"
    );
    // No change in usage: nothing to write.
    let same = check_request(
        &[q],
        &Evaluator::Services,
        Operation::Update,
        "",
        &old,
        Some(&old),
        now(),
    )
    .unwrap();
    assert!(same.is_empty());
}

#[test]
fn the_controller_recounts_a_namespace() {
    let q = Quota::from_json(&json!({
        "metadata": {"name": "q", "namespace": "ns"},
        "spec": {"hard": {"pods": "5", "requests.cpu": "2", "configmaps": "10",
                          "count/replicasets.apps": "3", "something.else": "1"}},
    }));
    let pods = vec![
        pod(json!([{"name": "c", "resources": {"requests": {"cpu": "250m"}}}])),
        pod(json!([{"name": "c", "resources": {"requests": {"cpu": "1"}}}])),
        {
            let mut done = pod(json!([{"name": "c", "resources": {"requests": {"cpu": "1"}}}]));
            done["status"] = json!({"phase": "Failed"});
            done
        },
    ];
    let (status, dirty) = calculate_usage(
        &q,
        |ev| match ev.group_resource() {
            (g, r) if g.is_empty() && r == "pods" => Some(pods.clone()),
            (g, r) if g.is_empty() && r == "configmaps" => Some(vec![json!({}), json!({})]),
            // Cannot be listed: no usage for it.
            _ => None,
        },
        now(),
    );
    assert!(dirty);
    assert_eq!(
        status,
        json!({"hard": {"configmaps": "10", "count/replicasets.apps": "3", "pods": "5",
                        "requests.cpu": "2", "something.else": "1"},
               "used": {"configmaps": "2", "pods": "2", "requests.cpu": "1250m"}})
    );
    let mut again = q.raw.clone();
    again["status"] = status;
    let (_, dirty) = calculate_usage(
        &Quota::from_json(&again),
        |ev| match ev.group_resource() {
            (g, r) if g.is_empty() && r == "pods" => Some(pods.clone()),
            (g, r) if g.is_empty() && r == "configmaps" => Some(vec![json!({}), json!({})]),
            _ => None,
        },
        now(),
    );
    assert!(!dirty, "an unchanged namespace needs no status write");
}
