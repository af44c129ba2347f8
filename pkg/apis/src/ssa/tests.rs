use super::*;
use serde_json::json;

const NOW: &str = "2025-01-01T00:00:00Z";
const LATER: &str = "2025-01-01T00:01:00Z";

fn s() -> TreeSchema {
    TreeSchema::scalar()
}

/// A Deployment-like schema exercising every list type.
fn deployment() -> TreeSchema {
    let port = TreeSchema::strukt(vec![
        ("containerPort", s()),
        ("protocol", s()),
        ("name", s()),
    ]);
    let env = TreeSchema::strukt(vec![("name", s()), ("value", s())]);
    let container = TreeSchema::strukt(vec![
        ("name", s()),
        ("image", s()),
        ("args", TreeSchema::list(ListType::Atomic, s())),
        (
            "env",
            TreeSchema::list(ListType::Map(vec!["name".into()]), env),
        ),
        (
            "ports",
            TreeSchema::list(
                ListType::Map(vec!["containerPort".into(), "protocol".into()]),
                port,
            ),
        ),
    ]);
    let pod_spec = TreeSchema::strukt(vec![
        (
            "containers",
            TreeSchema::list(ListType::Map(vec!["name".into()]), container),
        ),
        ("hosts", TreeSchema::list(ListType::Set, s())),
        ("nodeSelector", TreeSchema::map_of(s())),
    ]);
    let selector = TreeSchema::atomic_struct(vec![("matchLabels", TreeSchema::map_of(s()))]);
    TreeSchema::strukt(vec![
        ("apiVersion", s()),
        ("kind", s()),
        ("metadata", object_meta()),
        (
            "spec",
            TreeSchema::strukt(vec![
                ("replicas", s()),
                ("paused", s()),
                ("selector", selector),
                (
                    "template",
                    TreeSchema::strukt(vec![("metadata", object_meta()), ("spec", pod_spec)]),
                ),
            ]),
        ),
        ("status", TreeSchema::strukt(vec![("replicas", s())])),
    ])
}

fn cx<'a>(schema: &'a dyn Schema, now: &'a str) -> Context<'a> {
    Context {
        api_version: "apps/v1",
        kind: "Deployment",
        subresource: "",
        schema,
        reset: ResetFields::Exclude(vec!["status".into()]),
        now,
    }
}

fn dep(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

fn entries(obj: &Value) -> Vec<Value> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn entry<'a>(entries: &'a [Value], manager: &str, op: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == op)
}

fn owned(obj: &Value, manager: &str, op: &str) -> FieldSet {
    let es = entries(obj);
    entry(&es, manager, op)
        .map(|e| FieldSet::from_fields_v1(&e["fieldsV1"]).unwrap())
        .unwrap_or_default()
}

fn p(parts: &[PathElement]) -> Vec<PathElement> {
    parts.to_vec()
}

fn f(n: &str) -> PathElement {
    PathElement::Field(n.into())
}

fn key(fields: &[(&str, Value)]) -> PathElement {
    let mut v: Vec<(String, Value)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    PathElement::Key(v)
}

/// Mutates a stored object as a non-apply write by `manager` would.
fn update(old: &Value, manager: &str, change: impl FnOnce(&mut Value), now: &str) -> Value {
    let schema = deployment();
    let mut new = old.clone();
    change(&mut new);
    track_update(Some(old), &mut new, manager, &cx(&schema, now));
    new
}

fn with_uid(mut v: Value) -> Value {
    v["metadata"]["uid"] = json!("u-1");
    v
}

#[test]
fn fields_v1_round_trips_upstream_form() {
    let text = r#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}}}}}}},"f:status":{"f:conditions":{"v:\"a<b\"":{},"i:3":{}}}}"#;
    let v: Value = serde_json::from_str(text).unwrap();
    let set = FieldSet::from_fields_v1(&v).unwrap();
    assert_eq!(
        serde_json::to_string(&set.to_fields_v1()).unwrap(),
        text.replace("a<b", r"a\\u003cb")
    );
    assert!(set.has(&p(&[f("spec"), f("replicas")])));
    assert!(set.has(&p(&[f("metadata"), f("labels")])));
    assert!(!set.has(&p(&[f("metadata")])));
    let ports = p(&[
        f("spec"),
        f("template"),
        f("spec"),
        f("containers"),
        key(&[("name", json!("nginx"))]),
        f("ports"),
        key(&[("containerPort", json!(80)), ("protocol", json!("TCP"))]),
    ]);
    assert!(set.has(&ports));
    assert_eq!(
        Path(ports).to_string(),
        r#".spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"]"#
    );
    assert_eq!(
        Path(p(&[
            f("a"),
            PathElement::Value(json!("x")),
            PathElement::Index(2)
        ]))
        .to_string(),
        r#".a[="x"][2]"#
    );
    // Unknown element types are skipped; malformed ones are errors, never panics.
    assert!(FieldSet::from_fields_v1(&json!({"z:what": {}, "f:a": {}}))
        .unwrap()
        .has(&p(&[f("a")])));
    for bad in [
        json!({"k:[1]": {}}),
        json!({"i:x": {}}),
        json!({"f": {}}),
        json!({"fx": {}}),
        json!({"f:a": 1}),
        json!([]),
    ] {
        assert!(FieldSet::from_fields_v1(&bad).is_err(), "{bad}");
    }
}

#[test]
fn set_operations() {
    let mut a = FieldSet::new();
    a.insert(&p(&[f("spec"), f("replicas")]));
    a.insert(&p(&[f("spec"), f("paused")]));
    let mut b = FieldSet::new();
    b.insert(&p(&[f("spec"), f("replicas")]));
    b.insert(&p(&[f("status")]));
    let u = a.union(&b);
    assert_eq!(u.paths().len(), 3);
    let d = a.difference(&b);
    assert_eq!(d.paths(), vec![Path(p(&[f("spec"), f("paused")]))]);
    let i = a.intersection(&b);
    assert_eq!(i.paths(), vec![Path(p(&[f("spec"), f("replicas")]))]);
    let mut spec = FieldSet::new();
    spec.insert(&p(&[f("spec")]));
    assert_eq!(a.difference(&spec), a, "difference is path by path");
    assert!(
        a.recursive_difference(&spec).is_empty(),
        "recursive difference removes children"
    );
    // Named fields with children become members.
    let schema = deployment();
    let named = a.with_named_members(&schema);
    assert!(named.has(&p(&[f("spec")])));
    let mut labels = FieldSet::new();
    labels.insert(&p(&[f("metadata"), f("labels"), f("app")]));
    let named = labels.with_named_members(&schema);
    assert!(named.has(&p(&[f("metadata"), f("labels")])));
    assert!(!named.has(&p(&[f("metadata"), f("labels"), f("app"), f("x")])));
}

#[test]
fn fields_of_follows_list_and_map_semantics() {
    let schema = deployment();
    let obj = dep(json!({
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [{"name": "app", "image": "nginx", "args": ["a", "b"],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
            "hosts": ["h1", "h2"],
        }},
    }));
    let set = fields_of(&obj, &schema).unwrap();
    let c = key(&[("name", json!("app"))]);
    let base = [
        f("spec"),
        f("template"),
        f("spec"),
        f("containers"),
        c.clone(),
    ];
    for path in [
        p(&[f("spec"), f("replicas")]),
        p(&[f("spec"), f("selector")]),
        p(&[
            f("spec"),
            f("template"),
            f("metadata"),
            f("labels"),
            f("app"),
        ]),
        [&base[..], &[f("image")]].concat(),
        [&base[..], &[f("args")]].concat(),
        base.to_vec(),
        [
            &base[..],
            &[
                f("ports"),
                key(&[("containerPort", json!(80)), ("protocol", json!("TCP"))]),
            ],
        ]
        .concat(),
        p(&[
            f("spec"),
            f("template"),
            f("spec"),
            f("hosts"),
            PathElement::Value(json!("h1")),
        ]),
        p(&[f("metadata"), f("name")]),
    ] {
        assert!(
            set.has(&path),
            "{} missing from {:?}",
            Path(path.clone()),
            set.paths()
        );
    }
    // Atomic things own no children; named struct fields are not members themselves.
    assert!(!set.has(&p(&[f("spec"), f("selector"), f("matchLabels")])));
    assert!(!set.has(&p(&[f("spec")])));
    assert!(!set.has(&[&base[..], &[f("args"), PathElement::Value(json!("a"))]].concat()));
    // Deduced: every map key is a member, lists are atomic.
    let cr = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}, "spec": {"a": {"b": 1}, "l": [{"x": 1}]}});
    let set = fields_of(&cr, &Deduced { root: true }).unwrap();
    assert!(set.has(&p(&[f("spec")])));
    assert!(set.has(&p(&[f("spec"), f("a")])));
    assert!(set.has(&p(&[f("spec"), f("a"), f("b")])));
    assert!(set.has(&p(&[f("spec"), f("l")])));
    assert!(!set.has(&p(&[f("metadata")])));
    assert_eq!(
        serde_json::to_string(&set.to_fields_v1()).unwrap(),
        r#"{"f:apiVersion":{},"f:kind":{},"f:metadata":{"f:name":{}},"f:spec":{".":{},"f:a":{".":{},"f:b":{}},"f:l":{}}}"#
    );
}

#[test]
fn apply_creates_an_object_and_records_an_apply_entry() {
    let schema = deployment();
    let config = dep(json!({"replicas": 3, "template": {"metadata": {"labels": {"app": "web"}}}}));
    let obj = apply(None, &config, "mgr", false, &cx(&schema, NOW)).unwrap();
    assert_eq!(obj["spec"]["replicas"], 3);
    let es = entries(&obj);
    assert_eq!(es.len(), 1);
    assert_eq!(
        es[0],
        json!({"manager": "mgr", "operation": "Apply", "apiVersion": "apps/v1", "time": NOW, "fieldsType": "FieldsV1",
               "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:metadata": {"f:labels": {"f:app": {}}}}}}})
    );
}

#[test]
fn reapply_removes_fields_no_longer_applied() {
    let schema = deployment();
    let c = cx(&schema, NOW);
    let v1 = dep(json!({"replicas": 3, "paused": true, "template": {"spec": {
        "containers": [{"name": "a", "image": "x", "env": [{"name": "E1", "value": "1"}, {"name": "E2", "value": "2"}]},
                       {"name": "b", "image": "y"}],
        "nodeSelector": {"disk": "ssd", "zone": "a"}}}}));
    let live = with_uid(apply(None, &v1, "mgr", false, &c).unwrap());
    let v2 = dep(json!({"replicas": 3, "template": {"spec": {
        "containers": [{"name": "a", "image": "x2", "env": [{"name": "E2", "value": "2"}]}],
        "nodeSelector": {"zone": "a"}}}}));
    let out = apply(Some(&live), &v2, "mgr", false, &cx(&schema, LATER)).unwrap();
    let spec = &out["spec"];
    assert!(spec.get("paused").is_none(), "{out}");
    let containers = spec["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["image"], "x2");
    assert_eq!(containers[0]["env"], json!([{"name": "E2", "value": "2"}]));
    assert_eq!(
        spec["template"]["spec"]["nodeSelector"],
        json!({"zone": "a"})
    );
    assert_eq!(entries(&out)[0]["time"], LATER);
    // Applying the same thing again changes nothing, not even the time.
    let again = apply(
        Some(&out),
        &v2,
        "mgr",
        false,
        &cx(&schema, "2025-02-01T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(again, out);
}

#[test]
fn fields_another_manager_owns_are_kept_when_an_applier_drops_them() {
    let schema = deployment();
    let c = cx(&schema, NOW);
    let a = dep(json!({"replicas": 3, "paused": true}));
    let live = with_uid(apply(None, &a, "a", false, &c).unwrap());
    // b applies the same value: shared ownership, no conflict.
    let b = dep(json!({"paused": true}));
    let live = apply(Some(&live), &b, "b", false, &c).unwrap();
    assert!(owned(&live, "a", "Apply").has(&p(&[f("spec"), f("paused")])));
    assert!(owned(&live, "b", "Apply").has(&p(&[f("spec"), f("paused")])));
    // a stops applying paused: b still owns it, so it stays.
    let live = apply(Some(&live), &dep(json!({"replicas": 3})), "a", false, &c).unwrap();
    assert_eq!(live["spec"]["paused"], true);
    assert!(!owned(&live, "a", "Apply").has(&p(&[f("spec"), f("paused")])));
    // b stops too: now it goes.
    let mut nothing = dep(json!({}));
    nothing.as_object_mut().unwrap().remove("spec");
    let live = apply(Some(&live), &nothing, "b", false, &c).unwrap();
    assert!(live["spec"].get("paused").is_none());
    assert_eq!(live["spec"]["replicas"], 3);
    assert!(
        entry(&entries(&live), "b", "Apply").is_none(),
        "an empty entry is dropped"
    );
}

#[test]
fn conflicts_and_force() {
    let schema = deployment();
    let c = cx(&schema, NOW);
    let live = with_uid(
        apply(
            None,
            &dep(json!({"replicas": 3, "paused": false})),
            "a",
            false,
            &c,
        )
        .unwrap(),
    );
    let err = apply(Some(&live), &dep(json!({"replicas": 5})), "b", false, &c).unwrap_err();
    assert_eq!(
        err.message(),
        r#"Apply failed with 1 conflict: conflict with "a": .spec.replicas"#
    );
    assert_eq!(
        err.causes(),
        vec![
            json!({"type": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".spec.replicas"})
        ]
    );
    let err = apply(
        Some(&live),
        &dep(json!({"replicas": 5, "paused": true})),
        "b",
        false,
        &c,
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.paused\n- .spec.replicas"
    );
    let forced = apply(Some(&live), &dep(json!({"replicas": 5})), "b", true, &c).unwrap();
    assert_eq!(forced["spec"]["replicas"], 5);
    assert!(owned(&forced, "b", "Apply").has(&p(&[f("spec"), f("replicas")])));
    assert!(!owned(&forced, "a", "Apply").has(&p(&[f("spec"), f("replicas")])));
    assert!(owned(&forced, "a", "Apply").has(&p(&[f("spec"), f("paused")])));
    // a re-applies its old value: now a conflicts with b.
    let err = apply(
        Some(&forced),
        &dep(json!({"replicas": 3, "paused": false})),
        "a",
        false,
        &c,
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        r#"Apply failed with 1 conflict: conflict with "b": .spec.replicas"#
    );
}

#[test]
fn update_takes_ownership_and_is_named_in_conflicts() {
    let schema = deployment();
    let c = cx(&schema, NOW);
    let live = with_uid(apply(None, &dep(json!({"replicas": 3})), "a", false, &c).unwrap());
    let edited = update(
        &live,
        "kubectl-edit",
        |o| o["spec"]["replicas"] = json!(4),
        LATER,
    );
    assert!(!owned(&edited, "a", "Apply").has(&p(&[f("spec"), f("replicas")])));
    assert!(owned(&edited, "kubectl-edit", "Update").has(&p(&[f("spec"), f("replicas")])));
    let es = entries(&edited);
    let e = entry(&es, "kubectl-edit", "Update").unwrap();
    assert_eq!(e["apiVersion"], "apps/v1");
    assert_eq!(e["time"], LATER);
    // Apply entries sort before Update entries; "a" has nothing left and is dropped.
    assert_eq!(es.len(), 1);
    let err = apply(Some(&edited), &dep(json!({"replicas": 3})), "a", false, &c).unwrap_err();
    assert_eq!(
        err.message(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas"#
    );
    // Same manager, more updates: one entry, fields merged.
    let again = update(
        &edited,
        "kubectl-edit",
        |o| o["spec"]["paused"] = json!(true),
        LATER,
    );
    let set = owned(&again, "kubectl-edit", "Update");
    assert!(set.has(&p(&[f("spec"), f("replicas")])) && set.has(&p(&[f("spec"), f("paused")])));
    assert_eq!(entries(&again).len(), 1);
    // An update that changes nothing leaves managedFields alone.
    let same = update(&again, "other", |_| {}, "2026-01-01T00:00:00Z");
    assert_eq!(same, again);
}

#[test]
fn update_tracking_on_create_reset_and_explicit_managed_fields() {
    let schema = deployment();
    let c = cx(&schema, NOW);
    let mut created = dep(json!({"replicas": 1}));
    created["metadata"]["labels"] = json!({"app": "web"});
    created["status"] = json!({"replicas": 1});
    track_update(None, &mut created, "kubectl-create", &c);
    let set = owned(&created, "kubectl-create", "Update");
    assert!(set.has(&p(&[f("spec"), f("replicas")])));
    assert!(
        set.has(&p(&[f("metadata"), f("labels")])),
        "a new map is owned as a whole too"
    );
    assert!(
        !set.has(&p(&[f("metadata"), f("name")])),
        "identity is never owned"
    );
    assert!(
        !set.has(&p(&[f("status"), f("replicas")])),
        "status is reset on the main resource"
    );
    assert!(
        !set.has(&p(&[f("spec")])),
        "struct fields every object has are not added"
    );
    assert_eq!(
        serde_json::to_string(&entries(&created)[0]["fieldsV1"]).unwrap(),
        r#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:replicas":{}}}"#
    );
    let live = with_uid(created);
    // Sending [] clears managedFields; the object is then not tracked until an apply.
    let cleared = update(
        &live,
        "x",
        |o| o["metadata"]["managedFields"] = json!([]),
        LATER,
    );
    assert!(cleared["metadata"].get("managedFields").is_none());
    let untracked = update(&cleared, "x", |o| o["spec"]["replicas"] = json!(9), LATER);
    assert!(untracked["metadata"].get("managedFields").is_none());
    // The first apply on it gives what it had to "before-first-apply".
    let applied = apply(
        Some(&untracked),
        &dep(json!({"paused": true})),
        "a",
        false,
        &c,
    )
    .unwrap();
    assert!(owned(&applied, BEFORE_FIRST_APPLY, "Update").has(&p(&[f("spec"), f("replicas")])));
    assert!(owned(&applied, "a", "Apply").has(&p(&[f("spec"), f("paused")])));
    // Explicit managedFields in the request are honoured.
    let explicit = json!([{"manager": "someone", "operation": "Update", "apiVersion": "apps/v1",
                           "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:paused": {}}}}]);
    let taken = update(
        &applied,
        "y",
        |o| o["metadata"]["managedFields"] = explicit.clone(),
        LATER,
    );
    assert_eq!(entries(&taken).len(), 1);
    assert!(owned(&taken, "someone", "Update").has(&p(&[f("spec"), f("paused")])));
    // Invalid ones are ignored (the stored ones stay).
    let bad = json!([{"manager": "m", "operation": "Nope", "apiVersion": "v1", "fieldsType": "FieldsV1"}]);
    let kept = update(
        &applied,
        "y",
        |o| o["metadata"]["managedFields"] = bad.clone(),
        LATER,
    );
    assert_eq!(entries(&kept), entries(&applied));
}

#[test]
fn subresource_updates_record_the_subresource() {
    let schema = deployment();
    let mut c = cx(&schema, NOW);
    let live = with_uid(apply(None, &dep(json!({"replicas": 1})), "a", false, &c).unwrap());
    c.subresource = "status";
    c.reset = ResetFields::OnlyUnder("status".into());
    let mut new = live.clone();
    new["status"] = json!({"replicas": 1});
    new["metadata"]["managedFields"] = json!([]); // ignored on a subresource
    track_update(Some(&live), &mut new, "ctrl", &c);
    let es = entries(&new);
    let e = entry(&es, "ctrl", "Update").unwrap();
    assert_eq!(e["subresource"], "status");
    assert!(entry(&es, "a", "Apply").is_some());
    let id = ManagerId::new("ctrl", false, "apps/v1", "status");
    assert_eq!(
        id.describe(),
        r#""ctrl" with subresource "status" using apps/v1"#
    );
}

#[test]
fn set_lists_merge_per_item() {
    let schema = deployment();
    let c = cx(&schema, NOW);
    let hosts = |h: Value| dep(json!({"template": {"spec": {"hosts": h}}}));
    let live = with_uid(apply(None, &hosts(json!(["a", "b"])), "one", false, &c).unwrap());
    let live = apply(Some(&live), &hosts(json!(["c", "b"])), "two", false, &c).unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["hosts"],
        json!(["a", "c", "b"])
    );
    let live = apply(Some(&live), &hosts(json!(["b"])), "one", false, &c).unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["hosts"],
        json!(["c", "b"]),
        "a is dropped, b is still two's"
    );
    let set = owned(&live, "two", "Apply");
    assert!(set.has(&p(&[
        f("spec"),
        f("template"),
        f("spec"),
        f("hosts"),
        PathElement::Value(json!("c"))
    ])));
}

#[test]
fn map_lists_with_several_keys_and_nested_lists() {
    let schema = deployment();
    let c = cx(&schema, NOW);
    let ports = |p: Value, env: Value| {
        dep(
            json!({"template": {"spec": {"containers": [{"name": "app", "ports": p, "env": env}]}}}),
        )
    };
    let live = with_uid(
        apply(
            None,
            &ports(
                json!([{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 80, "protocol": "UDP"}]),
                json!([{"name": "A", "value": "1"}]),
            ),
            "one",
            false,
            &c,
        )
        .unwrap(),
    );
    // Another manager adds a port and an env var to the same container.
    let live = apply(
        Some(&live),
        &ports(
            json!([{"containerPort": 443, "protocol": "TCP"}]),
            json!([{"name": "B", "value": "2"}]),
        ),
        "two",
        false,
        &c,
    )
    .unwrap();
    let container = &live["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["ports"].as_array().unwrap().len(), 3);
    assert_eq!(
        container["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    );
    // one drops its UDP port: only that item goes.
    let live = apply(
        Some(&live),
        &ports(
            json!([{"containerPort": 80, "protocol": "TCP"}]),
            json!([{"name": "A", "value": "1"}]),
        ),
        "one",
        false,
        &c,
    )
    .unwrap();
    let container = &live["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}])
    );
    // Changing an env value two set is a conflict naming the nested path.
    let err = apply(
        Some(&live),
        &ports(
            json!([{"containerPort": 80, "protocol": "TCP"}]),
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]),
        ),
        "one",
        false,
        &c,
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        r#"Apply failed with 1 conflict: conflict with "two": .spec.template.spec.containers[name="app"].env[name="B"].value"#
    );
    // Duplicate keys in an applied list are rejected.
    let dup = ports(
        json!([{"containerPort": 1, "protocol": "TCP"}, {"containerPort": 1, "protocol": "TCP"}]),
        json!([]),
    );
    assert!(
        matches!(apply(Some(&live), &dup, "one", false, &c), Err(ApplyError::Typed(m)) if m.contains("duplicate entries"))
    );
    let nokey = ports(json!([{"name": "x"}]), json!([]));
    assert!(
        matches!(apply(Some(&live), &nokey, "one", false, &c), Err(ApplyError::Typed(m)) if m.contains("omits all key fields"))
    );
}

#[test]
fn atomic_lists_and_structs_are_replaced_whole() {
    let schema = deployment();
    let c = cx(&schema, NOW);
    let cfg = |args: Value, sel: Value| {
        dep(
            json!({"selector": sel, "template": {"spec": {"containers": [{"name": "app", "args": args}]}}}),
        )
    };
    let live = with_uid(
        apply(
            None,
            &cfg(json!(["a", "b"]), json!({"matchLabels": {"x": "1"}})),
            "one",
            false,
            &c,
        )
        .unwrap(),
    );
    let err = apply(
        Some(&live),
        &cfg(json!(["a"]), json!({"matchLabels": {"x": "1"}})),
        "two",
        false,
        &c,
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        r#"Apply failed with 1 conflict: conflict with "one": .spec.template.spec.containers[name="app"].args"#
    );
    let live = apply(
        Some(&live),
        &cfg(json!(["z"]), json!({"matchLabels": {"y": "2"}})),
        "one",
        false,
        &c,
    )
    .unwrap();
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["z"])
    );
    assert_eq!(live["spec"]["selector"], json!({"matchLabels": {"y": "2"}}));
}

#[test]
fn deduced_schema_for_kinds_without_one() {
    let schema = Deduced { root: true };
    let c = Context {
        api_version: "example.com/v1",
        kind: "Widget",
        subresource: "",
        schema: &schema,
        reset: ResetFields::None,
        now: NOW,
    };
    let w = |spec: Value| json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "finalizers": ["f1"]}, "spec": spec});
    let live = with_uid(
        apply(
            None,
            &w(json!({"a": 1, "list": [1, 2], "m": {"x": 1}})),
            "one",
            false,
            &c,
        )
        .unwrap(),
    );
    let live = apply(Some(&live), &w(json!({"m": {"y": 2}})), "two", false, &c).unwrap();
    assert_eq!(
        live["spec"]["m"],
        json!({"x": 1, "y": 2}),
        "maps merge key by key"
    );
    let err = apply(Some(&live), &w(json!({"list": [3]})), "two", false, &c).unwrap_err();
    assert_eq!(
        err.message(),
        r#"Apply failed with 1 conflict: conflict with "one": .spec.list"#
    );
    assert!(owned(&live, "one", "Apply").has(&p(&[
        f("metadata"),
        f("finalizers"),
        PathElement::Value(json!("f1"))
    ])));
    // Wrong type, and managedFields in the configuration, are bad requests.
    let mut wrong = w(json!({}));
    wrong["kind"] = json!("Other");
    assert_eq!(
        apply(Some(&live), &wrong, "one", false, &c).unwrap_err(),
        ApplyError::BadRequest("invalid object type: example.com/v1, Kind=Other".into())
    );
    let mut mf = w(json!({}));
    mf["metadata"]["managedFields"] = json!([]);
    assert_eq!(
        apply(Some(&live), &mf, "one", false, &c).unwrap_err(),
        ApplyError::BadRequest("metadata.managedFields must be nil".into())
    );
    assert!(matches!(
        apply(None, &json!([1]), "one", false, &c),
        Err(ApplyError::BadRequest(_))
    ));
}

#[test]
fn kubectl_moving_from_client_side_apply_keeps_the_annotation_current() {
    let schema = deployment();
    let c = cx(&schema, NOW);
    let mut csa = dep(json!({"replicas": 2}));
    let last = serde_json::to_string(&dep(json!({"replicas": 2}))).unwrap();
    csa["metadata"]["annotations"] = json!({LAST_APPLIED: last});
    track_update(None, &mut csa, "kubectl-client-side-apply", &c);
    let live = with_uid(csa);
    // The same value kubectl applied client-side is no conflict for "kubectl".
    let out = apply(
        Some(&live),
        &dep(json!({"replicas": 3})),
        "kubectl",
        false,
        &c,
    )
    .unwrap();
    assert_eq!(out["spec"]["replicas"], 3);
    let ann: Value = serde_json::from_str(
        out["metadata"]["annotations"][LAST_APPLIED]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ann["spec"]["replicas"], 3);
    // Any other applier conflicts.
    assert!(matches!(
        apply(
            Some(&live),
            &dep(json!({"replicas": 3})),
            "other",
            false,
            &c
        ),
        Err(ApplyError::Conflicts(_))
    ));
}

#[test]
fn update_managers_are_capped() {
    let schema = deployment();
    let mut live = with_uid(
        apply(
            None,
            &dep(json!({"replicas": 0})),
            "a",
            false,
            &cx(&schema, NOW),
        )
        .unwrap(),
    );
    for i in 0..12 {
        let t = format!("2025-01-01T00:00:{i:02}Z");
        live = update(
            &live,
            &format!("m{i:02}"),
            |o| o["metadata"]["labels"] = json!({format!("l{i}"): "x"}),
            &t,
        );
        // Each writer replaces the labels map, so keep owning something: add an annotation.
        live = update(
            &live,
            &format!("m{i:02}"),
            |o| {
                o["metadata"]["annotations"]
                    .as_object_mut()
                    .map(|_| ())
                    .unwrap_or_else(|| o["metadata"]["annotations"] = json!({}));
                o["metadata"]["annotations"][format!("a{i}")] = json!("y");
            },
            &t,
        );
    }
    let es = entries(&live);
    let updaters: Vec<&Value> = es.iter().filter(|e| e["operation"] == "Update").collect();
    assert_eq!(updaters.len(), MAX_UPDATE_MANAGERS);
    assert!(updaters.iter().any(|e| e["manager"] == ANCIENT_CHANGES));
    assert!(updaters.iter().any(|e| e["manager"] == "m11"));
}

#[test]
fn manager_names() {
    assert_eq!(
        manager_from_user_agent("kubectl/v1.33.0 (linux/amd64) kubernetes/abc"),
        "kubectl"
    );
    assert_eq!(
        manager_from_user_agent("kube-controller-manager/v1.35"),
        "kube-controller-manager"
    );
    assert_eq!(manager_from_user_agent(&"x".repeat(300)).len(), 128);
    assert_eq!(manager_from_user_agent("a\u{7}b/1"), "ab");
    assert!(validate_field_manager("kubectl").is_ok());
    assert!(validate_field_manager(&"x".repeat(129)).is_err());
    assert!(validate_field_manager("a\nb").is_err());
}

#[test]
fn patch_metadata_semantics() {
    let sem = |ps: &str, mk: &str, lt: &str, keys: &[&str]| FieldSemantics {
        patch_strategy: ps.into(),
        merge_key: mk.into(),
        list_type: lt.into(),
        list_map_keys: keys.iter().map(|k| k.to_string()).collect(),
        ..Default::default()
    };
    assert_eq!(
        sem("merge", "name", "", &[]).list_type(),
        ListType::Map(vec!["name".into()])
    );
    assert_eq!(sem("merge", "", "", &[]).list_type(), ListType::Set);
    assert_eq!(
        sem("merge,retainKeys", "name", "", &[]).list_type(),
        ListType::Map(vec!["name".into()])
    );
    assert_eq!(
        sem("merge", "name", "atomic", &[]).list_type(),
        ListType::Atomic
    );
    assert_eq!(
        sem("", "", "map", &["a", "b"]).list_type(),
        ListType::Map(vec!["a".into(), "b".into()])
    );
    assert_eq!(sem("", "", "set", &[]).list_type(), ListType::Set);
    assert_eq!(sem("", "", "", &[]).list_type(), ListType::Atomic);
    assert_eq!(sem("replace", "", "", &[]).list_type(), ListType::Atomic);

    // A MessageSchema over a tiny type source.
    struct Src;
    impl TypeSource for Src {
        fn field_meta(&self, message: &str, field: &str) -> Option<FieldSemantics> {
            match (message, field) {
                ("Pod", "spec")
                | ("Pod", "metadata")
                | ("Spec", "name")
                | ("C", "name")
                | ("C", "containerPort")
                | ("C", "protocol") => Some(FieldSemantics::default()),
                ("Spec", "ports") => Some(FieldSemantics {
                    list_type: "map".into(),
                    list_map_keys: vec!["containerPort".into(), "protocol".into()],
                    ..Default::default()
                }),
                ("Spec", "sel") => Some(FieldSemantics {
                    struct_type: "atomic".into(),
                    ..Default::default()
                }),
                _ => None,
            }
        }
        fn field_message(&self, message: &str, field: &str) -> Option<String> {
            match (message, field) {
                ("Pod", "spec") => Some("Spec".into()),
                ("Spec", "ports") => Some("C".into()),
                ("Spec", "sel") => Some("Sel".into()),
                _ => None,
            }
        }
    }
    static SRC: Src = Src;
    let schema = MessageSchema::root(&SRC, "Pod");
    let obj = json!({"spec": {"name": "n", "ports": [{"containerPort": 80}], "sel": {"a": 1}, "free": {"k": 1}}});
    let set = fields_of(&obj, &schema).unwrap();
    let port = key(&[("containerPort", json!(80)), ("protocol", json!("TCP"))]);
    assert!(
        set.has(&p(&[
            f("spec"),
            f("ports"),
            port.clone(),
            f("containerPort")
        ])),
        "{:?}",
        set.paths()
    );
    assert!(set.has(&p(&[f("spec"), f("sel")])));
    assert!(!set.has(&p(&[f("spec"), f("sel"), f("a")])));
    assert!(
        set.has(&p(&[f("spec"), f("free")])),
        "undeclared fields are deduced map keys"
    );
    assert!(
        !set.has(&p(&[f("spec"), f("ports")])),
        "declared fields are not members"
    );
}
