//! Compiles upstream's protobuf schemas (the `generated.proto` files of the k8s.io/api,
//! k8s.io/apimachinery and k8s.io/apiextensions-apiserver Go modules, v0.35) into a descriptor set
//! embedded in the crate, so the API server can decode protobuf request bodies. The schemas are read
//! from the Go module cache (`scripts/lib/common.sh` downloads them with `go mod download`); nothing
//! from them is committed. Without them the crate still builds, and protobuf bodies are refused
//! with 415 at run time.

use std::path::{Path, PathBuf};

const MODULES: &[(&str, &str)] = &[
    ("k8s.io/api", "k8s.io/api@v0.35.4"),
    ("k8s.io/apimachinery", "k8s.io/apimachinery@v0.35.4"),
    (
        "k8s.io/apiextensions-apiserver",
        "k8s.io/apiextensions-apiserver@v0.35.4",
    ),
];

fn modcache() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("K3RS_GOMODCACHE").or_else(|| std::env::var_os("GOMODCACHE"))
    {
        return Some(PathBuf::from(p));
    }
    if let Ok(out) = std::process::Command::new("go")
        .args(["env", "GOMODCACHE"])
        .output()
    {
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !s.is_empty() {
            return Some(PathBuf::from(s));
        }
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join("go/pkg/mod"))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name != "testdata" && name != "testapigroup" && name != "example" {
                collect(&p, out);
            }
        } else if p.file_name().and_then(|n| n.to_str()) == Some("generated.proto") {
            out.push(p);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=K3RS_GOMODCACHE");
    println!("cargo:rerun-if-env-changed=GOMODCACHE");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let fds_path = out_dir.join("k8s-protos.fds");
    let result = (|| -> Result<Vec<u8>, String> {
        let cache = modcache().ok_or("no Go module cache")?;
        let root = out_dir.join("protos");
        let mut files = Vec::new();
        for (import, dir) in MODULES {
            let src = cache.join(dir);
            if !src.is_dir() {
                return Err(format!(
                    "{} not found (run: go mod download {})",
                    src.display(),
                    dir
                ));
            }
            println!("cargo:rerun-if-changed={}", src.display());
            let mut protos = Vec::new();
            collect(&src, &mut protos);
            for p in protos {
                let rel = p.strip_prefix(&src).map_err(|e| e.to_string())?;
                let dest = root.join(import).join(rel);
                std::fs::create_dir_all(dest.parent().unwrap_or(&root))
                    .map_err(|e| e.to_string())?;
                std::fs::copy(&p, &dest).map_err(|e| format!("{}: {e}", p.display()))?;
                files.push(
                    dest.strip_prefix(&root)
                        .map_err(|e| e.to_string())?
                        .to_path_buf(),
                );
            }
        }
        let fds = protox::compile(&files, [&root]).map_err(|e| e.to_string())?;
        Ok(prost::Message::encode_to_vec(&fds))
    })();
    let bytes = match result {
        Ok(b) => b,
        Err(e) => {
            println!("cargo:warning=Kubernetes protobuf schemas unavailable ({e}); protobuf request bodies will be refused with 415");
            Vec::new()
        }
    };
    if let Err(e) = std::fs::write(&fds_path, bytes) {
        panic!("writing {}: {e}", fds_path.display());
    }
}
