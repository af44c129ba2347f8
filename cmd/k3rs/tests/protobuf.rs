//! Kubernetes protobuf against `k3rs server`: responses (get, list, watch, errors) read with curl
//! and decoded, upstream's Go serializer compared byte-for-byte with ours for every kind, and a
//! client-go typed clientset speaking protobuf (the helper Go module in `conformance/oracles/clientgo`).
//! The Go parts are skipped, with a note, where `go` or the Kubernetes Go modules are missing.

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use k3rs_apis::protobuf;
use serde_json::{json, Value};

const PB: &str = "application/vnd.kubernetes.protobuf";

/// The Go helper, built once; `None` (with a note) when Go or its modules are unavailable.
fn go_helper() -> Option<PathBuf> {
    static HELPER: OnceLock<Option<PathBuf>> = OnceLock::new();
    HELPER
        .get_or_init(|| {
            let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("k3rs-clientgo");
            let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/oracles/clientgo");
            match Command::new("go")
                .args(["build", "-o"])
                .arg(&out)
                .arg(".")
                .current_dir(&src)
                .output()
            {
                Ok(o) if o.status.success() => Some(out),
                Ok(o) => {
                    eprintln!(
                        "NOTE: skipping the Go part: `go build` of conformance/oracles/clientgo failed: {}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                    None
                }
                Err(e) => {
                    eprintln!("NOTE: skipping the Go part: no `go` ({e})");
                    assert!(
                        std::env::var_os("K3RS_STRICT_TESTS").is_none(),
                        "scripts/test provides this; it must not be skipped"
                    );
                    None
                }
            }
        })
        .clone()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn run_helper(helper: &PathBuf, args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new(helper)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "clientgo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every served kind (and its list), with every field of its schema set: upstream's protobuf
/// serializer writes exactly our bytes, and reads our bytes back to the same JSON as ours.
#[test]
fn every_kind_encodes_byte_for_byte_as_upstream() {
    if !protobuf::available() {
        eprintln!("NOTE: this build has no protobuf schemas");
        assert!(
            std::env::var_os("K3RS_STRICT_TESTS").is_none(),
            "scripts/test provides this; it must not be skipped"
        );
        return;
    }
    let Some(helper) = go_helper() else { return };
    let mut objs = Vec::new();
    for r in k3rs_apis::registry::builtin() {
        let mut kinds = vec![r.kind.to_string()];
        // Create-only kinds (the review APIs) have no list.
        if r.supports("list") {
            kinds.push(format!("{}List", r.kind));
        }
        for kind in kinds {
            let obj = protobuf::sample(&r.api_version(), &kind);
            objs.push(obj.unwrap_or_else(|| panic!("no protobuf message for {kind}")));
        }
    }
    objs.push(json!({"apiVersion":"v1","kind":"Status","metadata":{},"status":"Failure","message":"m","reason":"NotFound","code":404,"details":{"name":"x","kind":"pods","causes":[{"reason":"FieldValueInvalid","message":"bad","field":"spec"}],"retryAfterSeconds":1}}));
    objs.push(protobuf::sample("meta.k8s.io/v1", "PartialObjectMetadataList").unwrap());
    let go = run_helper(&helper, &["encode"], &serde_json::to_vec(&objs).unwrap());
    let go: Vec<&str> = go.lines().collect();
    assert_eq!(go.len(), objs.len());
    let mut ours = String::new();
    for (obj, go_hex) in objs.iter().zip(&go) {
        let mine = hex(&protobuf::encode(obj).unwrap());
        assert_eq!(
            &mine, go_hex,
            "{} {}: our protobuf differs from upstream's",
            obj["apiVersion"], obj["kind"]
        );
        ours.push_str(&mine);
        ours.push('\n');
    }
    // Upstream decodes our bytes into the same JSON we decode them into.
    let back = run_helper(&helper, &["decode"], ours.as_bytes());
    for (line, obj) in back.lines().zip(&objs) {
        let theirs: Value = serde_json::from_str(line).unwrap();
        let mine = protobuf::decode(&protobuf::encode(obj).unwrap()).unwrap();
        assert_eq!(theirs, mine, "{} {}", obj["apiVersion"], obj["kind"]);
    }
}

/// curl with `Accept: <accept>`: (status, content type, body bytes).
fn get(k: &common::K3rs, path: &str, accept: &str) -> (u16, String, Vec<u8>) {
    let out = k.curl(&["-H", &format!("Accept: {accept}"), "-D", "-", &k.url(path)]);
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let ct = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (code, ct, body)
}

#[test]
fn protobuf_responses_for_get_list_errors_and_watch() {
    if !protobuf::available() {
        eprintln!("NOTE: this build has no protobuf schemas");
        assert!(
            std::env::var_os("K3RS_STRICT_TESTS").is_none(),
            "scripts/test provides this; it must not be skipped"
        );
        return;
    }
    let k = common::K3rs::start(None);
    let (code, _) = k.http(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"pb","labels":{"a":"b"}},"data":{"k":"v"}}"#,
    );
    assert_eq!(code, 201);

    // GET, as client-go asks.
    let (code, ct, body) = get(
        &k,
        "/api/v1/namespaces/default/configmaps/pb",
        &format!("{PB}, */*"),
    );
    assert_eq!((code, ct.as_str()), (200, PB));
    assert!(body.starts_with(b"k8s\0"));
    let cm = protobuf::decode(&body).unwrap();
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["data"], json!({"k": "v"}));
    assert_eq!(cm["metadata"]["labels"], json!({"a": "b"}));
    assert!(cm["metadata"]["creationTimestamp"].is_string(), "{cm}");
    let rv = cm["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    // LIST.
    let (code, ct, body) = get(&k, "/api/v1/namespaces/default/configmaps", PB);
    assert_eq!((code, ct.as_str()), (200, PB));
    let list = protobuf::decode(&body).unwrap();
    assert_eq!(list["kind"], "ConfigMapList");
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["metadata"]["name"] == "pb"));

    // Errors are Statuses in protobuf.
    let (code, ct, body) = get(&k, "/api/v1/namespaces/default/configmaps/missing", PB);
    assert_eq!((code, ct.as_str()), (404, PB));
    let st = protobuf::decode(&body).unwrap();
    assert_eq!(st["kind"], "Status");
    assert_eq!(st["reason"], "NotFound");
    assert_eq!(st["code"], 404);
    assert_eq!(st["message"], "configmaps \"missing\" not found");

    // Metadata-only lists may be protobuf; Tables may not (upstream serves them JSON/YAML only).
    let (code, ct, body) = get(
        &k,
        "/api/v1/namespaces/default/configmaps",
        &format!("{PB};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
    );
    assert_eq!((code, ct.as_str()), (200, PB));
    let meta = protobuf::decode(&body).unwrap();
    assert_eq!(meta["kind"], "PartialObjectMetadataList");
    assert!(meta["items"][0]["metadata"]["name"].is_string());
    let (code, _, _) = get(
        &k,
        "/api/v1/namespaces/default/configmaps",
        &format!("{PB};as=Table;g=meta.k8s.io;v=v1"),
    );
    assert_eq!(code, 406);
    let (code, ct, body) = get(
        &k,
        "/api/v1/namespaces/default/configmaps",
        &format!("{PB};as=Table;g=meta.k8s.io;v=v1, application/json"),
    );
    assert_eq!((code, ct.as_str()), (200, "application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["kind"],
        "ConfigMapList"
    );

    // WATCH: length-prefixed WatchEvent frames.
    let mut watch = k
        .admin_curl()
        .args([
            "-N",
            "-H",
            &format!("Accept: {PB}, */*"),
            &k.url(&format!(
                "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
            )),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, _) = k.http(
        "PUT",
        "/api/v1/namespaces/default/configmaps/pb",
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"pb"},"data":{"k":"v2"}}"#,
    );
    assert_eq!(code, 200);
    let (code, _) = k.http(
        "DELETE",
        "/api/v1/namespaces/default/configmaps/pb",
        "application/json",
        "",
    );
    assert_eq!(code, 200);
    let mut out = watch.stdout.take().unwrap();
    let mut events = Vec::new();
    for _ in 0..2 {
        let mut len = [0u8; 4];
        out.read_exact(&mut len).unwrap();
        let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
        out.read_exact(&mut frame).unwrap();
        events.push(protobuf::decode_watch_event(&frame).unwrap());
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(events[0]["type"], "MODIFIED");
    assert_eq!(events[0]["object"]["data"], json!({"k": "v2"}));
    assert_eq!(events[1]["type"], "DELETED");
    assert_eq!(events[1]["object"]["metadata"]["name"], "pb");

    // The watch's content type.
    let out = k.curl(&[
        "-H",
        &format!("Accept: {PB}"),
        "-o",
        "/dev/null",
        "-w",
        "%{content_type}",
        &k.url("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1"),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "application/vnd.kubernetes.protobuf;stream=watch"
    );

    // Protobuf request bodies go the other way: what we encode, the server decodes.
    let body = protobuf::encode(
        &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"pb2"},"data":{"x":"y"}}),
    )
    .unwrap();
    let file = k.dir.path().join("pb-body");
    std::fs::write(&file, &body).unwrap();
    let out = k.curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Content-Type: {PB}"),
        "-H",
        &format!("Accept: {PB}"),
        "--data-binary",
        &format!("@{}", file.display()),
        &k.url("/api/v1/namespaces/default/configmaps"),
    ]);
    let created = protobuf::decode(&out.stdout).unwrap();
    assert_eq!(created["metadata"]["name"], "pb2");
    assert_eq!(created["data"], json!({"x": "y"}));
    assert!(created["metadata"]["uid"].is_string());
}

/// A client-go typed clientset with `ContentType: application/vnd.kubernetes.protobuf` (what
/// controllers and kubectl's typed paths use) does create/get/update/updateStatus/list/watch/
/// delete and reads errors, all in protobuf.
#[test]
fn clientgo_typed_client_over_protobuf() {
    if !protobuf::available() {
        eprintln!("NOTE: this build has no protobuf schemas");
        assert!(
            std::env::var_os("K3RS_STRICT_TESTS").is_none(),
            "scripts/test provides this; it must not be skipped"
        );
        return;
    }
    let Some(helper) = go_helper() else { return };
    let k = common::K3rs::start(None);
    let out = Command::new(&helper)
        .arg("e2e")
        .arg(k.kubeconfig())
        .arg("pb-e2e")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "client-go over protobuf failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("ok: "), "{stdout}");
    eprintln!("{stdout}");
}
