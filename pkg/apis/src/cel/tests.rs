use serde_json::{json, Value as Json};

use super::*;

fn env_for(schema: &Json) -> (Env, Arc<DeclType>) {
    let d = schema::decl_type(schema, false).expect("decl");
    let mut env = Env::new();
    env.declare("self", d.cel.clone(), Some(d.clone()));
    env.declare("oldSelf", d.cel.clone(), Some(d.clone()));
    (env, d)
}

/// Evaluates `expr` with `self` bound to `obj` typed by `schema`.
fn eval_with(schema: &Json, obj: &Json, expr: &str) -> Result<Json, String> {
    let (env, d) = env_for(schema);
    let p = env.compile(expr).map_err(|e| e.message)?;
    let mut act = Activation::new();
    act.insert("self".into(), value::from_json(obj, Some(&d)));
    p.eval(&act, PER_CALL_LIMIT)
        .map(|(v, _)| v.to_json())
        .map_err(|(e, _)| e.to_string())
}

/// Evaluates an expression with no variables.
fn ev(expr: &str) -> Result<Json, String> {
    let env = Env::new();
    let p = env.compile(expr).map_err(|e| e.message)?;
    p.eval(&Activation::new(), PER_CALL_LIMIT)
        .map(|(v, _)| v.to_json())
        .map_err(|(e, _)| e.to_string())
}

fn yes(expr: &str) {
    assert_eq!(ev(expr), Ok(json!(true)), "{expr}");
}

#[test]
fn standard_library() {
    for e in [
        "1 + 2 * 3 == 7",
        "10 / 3 == 3 && 10 % 3 == 1",
        "2u + 3u == 5u",
        "1.5 + 1.0 == 2.5",
        "'ab' + 'c' == 'abc'",
        "[1, 2] + [3] == [1, 2, 3]",
        "size('héllo') == 5 && size([1, 2]) == 2 && 'abc'.size() == 3",
        "'hello'.contains('ell') && 'hello'.startsWith('he') && 'hello'.endsWith('lo')",
        "'abc123'.matches('^[a-z]+[0-9]+$') && matches('x', 'x')",
        "1 in [1, 2] && 'a' in {'a': 1} && !(3 in [1, 2])",
        "{'a': 1}['a'] == 1",
        "int('42') == 42 && uint(42) == 42u && double(1) == 1.0 && string(42) == '42'",
        "string(1.5) == '1.5' && bytes('a') == b'a' && string(b'abc') == 'abc'",
        "bool('true') && !bool('false')",
        "type(1) == int && type('a') == string && type([]) == list && type({}) == map",
        "dyn(1) == 1.0 && dyn(1u) == 1",
        "1 < 1.5 && 2u > 1 && 1.0 <= 1u",
        "duration('1h30m') == duration('90m') && duration('1h').getMinutes() == 60",
        "timestamp('2024-01-02T03:04:05Z').getFullYear() == 2024",
        "timestamp('2024-01-02T03:04:05Z').getMonth() == 0 && timestamp('2024-01-02T03:04:05Z').getDate() == 2",
        "timestamp('2024-01-02T03:04:05Z').getHours('+02:00') == 5",
        "timestamp('2024-01-02T00:00:00Z') + duration('24h') == timestamp('2024-01-03T00:00:00Z')",
        "timestamp('2024-01-02T00:00:00Z') - timestamp('2024-01-01T00:00:00Z') == duration('24h')",
        "string(duration('1m')) == '60s'",
        "[1, 2, 3].all(x, x > 0) && [1, 2, 3].exists(x, x == 2) && [1, 2, 3].exists_one(x, x > 2)",
        "[1, 2, 3].map(x, x * 2) == [2, 4, 6] && [1, 2, 3].filter(x, x > 1) == [2, 3]",
        "[1, 2, 3].map(x, x > 1, x * 10) == [20, 30]",
        "{'a': 1, 'b': 2}.all(k, k.size() == 1)",
        "[1, 2].all(i, v, i < v) && {'a': 'a'}.exists(k, v, k == v)",
        "cel.bind(x, 'abc', x + x) == 'abcabc'",
        "optional.of(1).hasValue() && !optional.none().hasValue() && optional.none().orValue(2) == 2",
        "{'a': 1}[?'a'].value() == 1 && !{'a': 1}[?'b'].hasValue() && {'a': 1}.?b.orValue(5) == 5",
        "[?optional.none(), ?optional.of(1)] == [1]",
        "[1,2][?5].orValue(0) == 0",
        "has({'a': 1}.a) && !has({'a': 1}.b)",
        "(true ? 1 : 2) == 1",
        "-9223372036854775808 < 0",
        "0x10 == 16",
        "'\\x41\\u00e9\\101' == 'Aé' + 'A'",
        "r'\\d' == '\\\\d'",
    ] {
        yes(e);
    }
}

#[test]
fn kubernetes_libraries() {
    for e in [
        "'Hello'.lowerAscii() == 'hello' && 'Hello'.upperAscii() == 'HELLO'",
        "'a-b-c'.replace('-', '.') == 'a.b.c' && 'a,b'.split(',') == ['a', 'b']",
        "['a', 'b'].join('-') == 'a-b' && ['a', 'b'].join() == 'ab'",
        "'  x '.trim() == 'x' && 'hello'.indexOf('l') == 2 && 'hello'.lastIndexOf('l') == 3",
        "'hello'.substring(1, 3) == 'el' && 'hello'.charAt(1) == 'e'",
        "'%s is %d'.format(['x', dyn(3)]) == 'x is 3'",
        "[1, 2, 3].isSorted() && ![3, 1].isSorted() && [1, 2, 3].sum() == 6",
        "[1, 5, 3].max() == 5 && [4, 2, 9].min() == 2 && [1, 2, 3].indexOf(2) == 1",
        "[1, 2, 1].lastIndexOf(1) == 2 && [].sum() == 0",
        "'abc 123 def 456'.find('[0-9]+') == '123' && 'a1b2'.findAll('[0-9]') == ['1', '2']",
        "'a1b2c3'.findAll('[0-9]', 2) == ['1', '2']",
        "url('https://example.com:8080/path?q=1').getHost() == 'example.com:8080'",
        "url('https://example.com/p').getScheme() == 'https' && url('https://example.com/p').getEscapedPath() == '/p'",
        "url('https://e.com/?a=1&a=2').getQuery()['a'] == ['1', '2'] && isURL('/abs') && !isURL('x y')",
        "quantity('1Gi').isGreaterThan(quantity('1G')) && quantity('500m').isLessThan(quantity('1'))",
        "quantity('2').asInteger() == 2 && isQuantity('1.5Ki') && !isQuantity('abc')",
        "quantity('1').add(quantity('500m')).compareTo(quantity('1500m')) == 0",
        "quantity('1').add(2).asInteger() == 3 && quantity('-1').sign() == -1",
        "ip('10.0.0.1').family() == 4 && cidr('10.0.0.0/8').containsIP('10.1.2.3')",
        "isIP('::1') && !isIP('1.2.3') && ip('127.0.0.1').isLoopback()",
        "semver('1.2.3').isLessThan(semver('1.10.0')) && semver('1.2.3').major() == 1",
        "!format.dns1123Label().validate('abc').hasValue() && format.dns1123Label().validate('ABC').hasValue()",
        "format.named('uuid').hasValue() && !format.named('nope').hasValue()",
        "sets.contains([1, 2, 3], [1, 2]) && sets.intersects([1], [1, 4]) && sets.equivalent([1, 2], [2, 1, 1])",
        "[3, 1, 2].sort() == [1, 2, 3] && [1, 1, 2].distinct() == [1, 2] && lists.range(3) == [0, 1, 2]",
        "[1, 2, 3].slice(1, 2) == [2] && [[1], [2, 3]].flatten() == [1, 2, 3]",
        "math.greatest(1, 5) == 5 && math.least([3, 1]) == 1",
        "base64.encode(b'hi') == 'aGk=' && base64.decode('aGk=') == b'hi'",
        "strings.quote('a\"b') == '\"a\\\\\"b\"'",
    ] {
        yes(e);
    }
}

#[test]
fn runtime_errors() {
    assert_eq!(ev("1 / 0"), Err("division by zero".into()));
    assert_eq!(
        ev("9223372036854775807 + 1"),
        Err("integer overflow".into())
    );
    assert_eq!(ev("{'a': 1}['b']"), Err("no such key: b".into()));
    assert!(ev("[1][3]").is_err());
    assert!(ev("dyn(1) + dyn('a')")
        .unwrap_err()
        .starts_with("no such overload"));
    // Errors are absorbed by && / || when the other side decides.
    yes("1 / 0 == 1 || true");
    yes("!(false && 1 / 0 == 1)");
    yes("![0, 1].all(x, 1 / x > 0 && false)");
    yes("[0, 1].exists(x, 1 / x == 1)");
    assert!(ev("optional.none().value()").is_err());
}

#[test]
fn compile_errors_read_like_cel_go() {
    let (env, _) = env_for(&json!({"type": "object", "properties": {"x": {"type": "integer"}}}));
    let e = env.compile("self.z == 100").unwrap_err();
    assert_eq!(
        e.message,
        "ERROR: <input>:1:5: undefined field 'z'\n | self.z == 100\n | ....^"
    );
    let e = env.compile("self = 42").unwrap_err();
    assert!(e.message.contains("Syntax error"), "{}", e.message);
    let e = env.compile("self.x > '1'").unwrap_err();
    assert!(
        e.message
            .contains("found no matching overload for '_>_' applied to '(int, string)'"),
        "{}",
        e.message
    );
    let e = env.compile("foo == 1").unwrap_err();
    assert!(e
        .message
        .contains("undeclared reference to 'foo' (in container '')"));
    let e = env.compile("'a' + self.x").unwrap_err();
    assert!(e
        .message
        .contains("found no matching overload for '_+_' applied to '(string, int)'"));
    let e = env.compile("[1, 'a']").unwrap_err();
    assert!(e.message.contains("expected type 'int' but found 'string'"));
    assert!(env
        .compile("self.x.startsWith('a')")
        .unwrap_err()
        .message
        .contains("found no matching overload for 'startsWith' applied to 'int.(string)'"));
    // dyn is checked at run time.
    let mut denv = Env::new();
    denv.declare("object", Type::Dyn, None);
    assert!(denv
        .compile("object.spec.replicas > 1 && object.foo.all(x, x)")
        .is_ok());
    let p = env.compile("self.x > 1").expect("compiles");
    assert_eq!(p.ty, Type::Bool);
    assert!(p.uses("self") && !p.uses("oldSelf"));
    assert!(env
        .compile("self.x > oldSelf.x")
        .expect("c")
        .uses("oldSelf"));
}

#[test]
fn schema_typed_values() {
    let schema = json!({"type": "object", "properties": {
        "when": {"type": "string", "format": "date-time"},
        "ttl": {"type": "string", "format": "duration"},
        "data": {"type": "string", "format": "byte"},
        "port": {"x-kubernetes-int-or-string": true},
        "ratio": {"type": "number"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
    }});
    let obj = json!({"when": "2024-05-06T07:08:09Z", "ttl": "1m30s", "data": "aGk=", "port": "http",
        "ratio": 1, "namespace": "ns", "labels": {"a": "b"}, "items": [{"name": "x"}]});
    let t = |e: &str| assert_eq!(eval_with(&schema, &obj, e), Ok(json!(true)), "{e}");
    t("self.when.getFullYear() == 2024 && self.when < timestamp('2025-01-01T00:00:00Z')");
    t("self.ttl == duration('90s') && self.data == b'hi'");
    t("type(self.port) == string && self.port.matches('^[a-z]+$')");
    t("self.ratio == 1.0 && type(self.ratio) == double");
    t("self.__namespace__ == 'ns' && self.labels['a'] == 'b' && 'a' in self.labels");
    t("self.items.all(i, i.name == 'x') && has(self.items[0].name)");
    assert!(eval_with(&schema, &obj, "has(self.missing)")
        .is_err_and(|e| e.contains("undefined field 'missing'")));
    assert_eq!(
        eval_with(&schema, &json!({}), "self.__namespace__ == 'x'"),
        Err("no such key: __namespace__".into())
    );
}

#[test]
fn cost_limit_stops_runaway_evaluation() {
    let schema = json!({"type": "object", "properties": {
        "a": {"type": "array", "maxItems": 725, "items": {"type": "integer"}}}});
    let (env, d) = env_for(&schema);
    let p = env
        .compile("self.a.all(x, self.a.all(y, y == x))")
        .expect("compiles");
    assert!(
        p.max_cost > PER_CALL_LIMIT && p.max_cost < STATIC_ESTIMATED_COST_LIMIT,
        "{}",
        p.max_cost
    );
    let obj = json!({"a": vec![20; 725]});
    let mut act = Activation::new();
    act.insert("self".into(), value::from_json(&obj, Some(&d)));
    let r = p.eval(&act, PER_CALL_LIMIT);
    assert!(matches!(r, Err((EvalError::CostLimit, _))), "{r:?}");
    let small = json!({"a": vec![20; 10]});
    act.insert("self".into(), value::from_json(&small, Some(&d)));
    assert!(matches!(
        p.eval(&act, PER_CALL_LIMIT),
        Ok((Value::Bool(true), _))
    ));
    // Unbounded strings in an unbounded list: a huge estimate.
    let (env, _) = env_for(&json!({"type": "array", "items": {"type": "string"}}));
    let p = env
        .compile("self.all(s, s == 'string constant')")
        .expect("compiles");
    assert!(p.max_cost > 1_000_000, "{}", p.max_cost);
    // map/filter over large lists stay linear.
    let mut env = Env::new();
    env.declare("n", Type::Int, None);
    let p = env
        .compile("lists.range(n).map(x, x * 2).filter(x, x % 3 == 0).size()")
        .expect("c");
    let mut act = Activation::new();
    act.insert("n".into(), Value::Int(50_000));
    assert!(matches!(
        p.eval(&act, 10 * PER_CALL_LIMIT),
        Ok((Value::Int(16667), _))
    ));
}

#[test]
fn odd_input_never_panics() {
    for src in [
        "",
        "(",
        ")",
        "[",
        "{",
        "a.",
        "a[",
        "1 +",
        "'",
        "\"",
        "b'\\u0041'",
        "'\\x4'",
        "1e",
        "0x",
        "a.?",
        "[?]",
        "{?}",
        "has()",
        "x.all()",
        "x.map(1, 2, 3)",
        "cel.bind(1, 2, 3)",
        "9999999999999999999999",
        "1u + -",
        "?:",
        "a ? b",
        "🙂",
        "a.b.c(",
        ".",
        "..a",
    ] {
        let env = Env::new();
        let _ = env.compile(src);
    }
    for e in [
        "'abc'.substring(5)",
        "'abc'.charAt(-1)",
        "[].max()",
        "'x'.matches('(')",
        "'%'.format([])",
        "'%z'.format([1])",
        "url('::')",
        "quantity('x')",
        "lists.range(-1)",
        "int('x')",
        "duration('1x')",
        "timestamp('x')",
        "'a'.split('', 5)",
        "'abc'.split('')",
        "'abc'.indexOf('', 9)",
        "[1].slice(1, 0)",
        "cidr('1.2.3.4/99')",
        "semver('x')",
        "timestamp(253402300800)",
        "duration('9999999999h')",
    ] {
        let _ = ev(e);
    }
}

/// Compiles and evaluates `expr` in a mutating admission policy's environment (`object` dyn).
fn ev_mutation(expr: &str, object: &Json) -> Result<(Json, String), String> {
    let mut env = Env::new();
    env.declare("object", Type::Dyn, None);
    env.enable_mutation_types();
    let p = env.compile(expr).map_err(|e| e.message)?;
    let mut act = Activation::new();
    act.insert("object".into(), value::from_json(object, None));
    p.eval(&act, PER_CALL_LIMIT)
        .map(|(v, _)| (v.to_json(), p.ty.to_string()))
        .map_err(|(e, _)| e.to_string())
}

#[test]
fn mutation_types_construct_objects_and_json_patches() {
    let obj = json!({"metadata": {"name": "x", "labels": {"a/b": "1"}}});
    // Object construction with qualified names; fields are dynamic.
    let (v, ty) = ev_mutation(
        r#"Object{metadata: Object.metadata{annotations: {"k": object.metadata.name}}}"#,
        &obj,
    )
    .unwrap();
    assert_eq!(v, json!({"metadata": {"annotations": {"k": "x"}}}));
    assert_eq!(ty, "Object");
    let (v, _) = ev_mutation(
        r#"Object{spec: Object.spec{replicas: 3, ?paused: optional.none()}}.spec.replicas"#,
        &obj,
    )
    .unwrap();
    assert_eq!(v, json!(3));
    // JSONPatch values, lists of them, and the escaping function.
    let (v, ty) = ev_mutation(
        r#"[JSONPatch{op: "add", path: "/metadata/labels/" + jsonpatch.escapeKey("x/y~z"), value: "v"}]"#,
        &obj,
    )
    .unwrap();
    assert_eq!(
        v,
        json!([{"op": "add", "path": "/metadata/labels/x~1y~0z", "value": "v"}])
    );
    assert_eq!(ty, "list(JSONPatch)");
    assert_eq!(
        ev_mutation(r#"JSONPatch{op: "test", path: "/a"}.value == null"#, &obj)
            .unwrap()
            .0,
        json!(true)
    );
    // JSONPatch fields are typed; unknown ones are refused.
    let e = ev_mutation(r#"JSONPatch{op: 1, path: "/a"}"#, &obj).unwrap_err();
    assert!(
        e.contains("expected type of field 'op' is 'string' but provided type is 'int'"),
        "{e}"
    );
    let e = ev_mutation(r#"JSONPatch{op: "add", nope: 1}"#, &obj).unwrap_err();
    assert!(e.contains("undefined field 'nope'"), "{e}");
    // A dyn value is checked when the patch is built.
    let e = ev_mutation(r#"JSONPatch{op: object.metadata.labels, path: "/a"}"#, &obj).unwrap_err();
    assert!(e.contains("for JSONPatchType 'op' field"), "{e}");
    // Without the mutation types none of these exist.
    for src in [
        "Object{}",
        "JSONPatch{op: 'add'}",
        "jsonpatch.escapeKey('a')",
    ] {
        let err = Env::new().compile(src).unwrap_err().message;
        assert!(err.contains("undeclared reference"), "{src}: {err}");
    }
    // Other message names stay undeclared.
    let mut env = Env::new();
    env.enable_mutation_types();
    let err = env.compile("google.protobuf.Any{}").unwrap_err().message;
    assert!(
        err.contains("undeclared reference to 'google.protobuf.Any'"),
        "{err}"
    );
}

#[test]
fn indexing_an_optional_propagates_it() {
    let mut env = Env::new();
    env.declare("request", admission::request_type(), None);
    let p = env
        .compile("request.userInfo.extra[?'node'][0].orValue('none')")
        .expect("compiles");
    assert_eq!(p.ty, Type::String);
    let mut act = Activation::new();
    for (extra, want) in [
        (json!({"node": ["n1"]}), "n1"),
        (json!({}), "none"),
        (json!({"node": []}), "none"),
    ] {
        act.insert(
            "request".into(),
            value::from_json(&json!({"userInfo": {"extra": extra}}), None),
        );
        assert_eq!(
            p.eval(&act, PER_CALL_LIMIT).unwrap().0.to_json(),
            json!(want)
        );
    }
}
