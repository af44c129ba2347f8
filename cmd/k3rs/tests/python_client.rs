//! The official Python client (`pip install kubernetes`) against `k3rs server`: create, list
//! with a label selector, a strategic merge patch (its default for dict bodies), watch.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// A Python with the `kubernetes` package: `K3RS_PYTHON`, else a venv under the cache directory
/// (created with pip on first use, as `scripts/test` does).
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("K3RS_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let venv = std::env::var_os("K3RS_PYENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/k3rs/pyenv"));
    let py = venv.join("bin/python");
    let has = |py: &PathBuf| {
        Command::new(py)
            .args(["-c", "import kubernetes"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !has(&py) {
        let st = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(st.success(), "python3 -m venv failed");
        let st = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "kubernetes"])
            .status()
            .expect("pip");
        assert!(st.success(), "pip install kubernetes failed");
    }
    py
}

#[test]
fn python_client_create_list_patch_watch() {
    let py = python();
    let k = common::K3rs::start(None);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/client.py");
    let out = Command::new(py)
        .arg(script)
        .arg(k.kubeconfig())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from client.py");
    assert_eq!(v["selected"], serde_json::json!(["a", "c"]), "{v}");
    assert_eq!(v["list_rv_set"], true);
    // The patch changed main's image and added env B by name (patch items first, as upstream
    // orders a merge without `$setElementOrder`); side is untouched.
    assert_eq!(
        v["containers"],
        serde_json::json!([
            ["main", "nginx:1.15", ["B", "A"]],
            ["side", "busybox:1.36", []]
        ]),
        "{v}"
    );
    assert_eq!(
        v["events"],
        serde_json::json!([["ADDED", "d"], ["MODIFIED", "a"], ["DELETED", "b"]]),
        "{v}"
    );
    assert_eq!(v["deleted_read"], 404);
    assert_eq!(v["deleted_reason"], "NotFound");
}
