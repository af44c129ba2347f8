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

/// The JSON side of the schemas, which the `.proto` files do not carry: for each Go struct of the
/// API packages, the fields whose JSON name differs from their protobuf name, the fields embedded
/// with `json:",inline"` (their members appear in the parent's JSON object), and the structs that
/// embed `TypeMeta` (kinds, whose JSON objects carry `apiVersion` and `kind`). Read from the Go
/// struct tags next to each `generated.proto`; one line per fact:
/// `<proto message>\t<proto field>\t<json name>` (empty json name = inline),
/// `<proto message>\t<proto field>\t@ptr` (a Go pointer: written only when set),
/// `<proto message>\t<proto field>\t@keep` (no `omitempty`: Go's JSON shows its zero value) or
/// `<proto message>\t\t@typemeta`.
fn json_facts(proto: &Path, out: &mut String) {
    let Ok(text) = std::fs::read_to_string(proto) else {
        return;
    };
    let Some(pkg) = text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("package ")
            .map(|p| p.trim_end_matches(';').trim().to_string())
    }) else {
        return;
    };
    let Some(dir) = proto.parent() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.ends_with(".go")
                && !n.ends_with("_test.go")
                && !n.starts_with("zz_generated")
                && !n.starts_with("generated.")
        })
        .collect();
    files.sort();
    for f in files {
        let Ok(src) = std::fs::read_to_string(&f) else {
            continue;
        };
        let mut current: Option<String> = None;
        for line in src.lines() {
            if let Some(rest) = line.strip_prefix("type ") {
                let mut it = rest.split_whitespace();
                let name = it.next().unwrap_or("");
                current = (it.next() == Some("struct")).then(|| name.to_string());
                continue;
            }
            if line.starts_with('}') {
                current = None;
                continue;
            }
            let Some(msg) = &current else { continue };
            let t = line.trim();
            let json_tag = t
                .split_once("json:\"")
                .map(|(_, r)| r.split('"').next().unwrap_or(""));
            let Some(json_tag) = json_tag else { continue };
            let Some(proto_tag) = t
                .split_once("protobuf:\"")
                .map(|(_, r)| r.split('"').next().unwrap_or(""))
            else {
                if json_tag.contains(",inline")
                    && t.split_whitespace()
                        .next()
                        .is_some_and(|n| n.ends_with("TypeMeta"))
                {
                    out.push_str(&format!("{pkg}.{msg}\t\t@typemeta\n"));
                }
                continue;
            };
            // Without a name= the protobuf name is the Go field name, first letter lowered.
            let go_name = t
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_start_matches('*')
                .rsplit('.')
                .next()
                .unwrap_or("");
            let mut chars = go_name.chars();
            let derived: String = chars
                .next()
                .map(|c| c.to_ascii_lowercase())
                .into_iter()
                .chain(chars)
                .collect();
            let pname = proto_tag
                .split(',')
                .find_map(|p| p.strip_prefix("name="))
                .unwrap_or(derived.as_str());
            if pname.is_empty() {
                continue;
            }
            if t.split_whitespace()
                .nth(1)
                .is_some_and(|ty| ty.starts_with('*'))
            {
                out.push_str(&format!("{pkg}.{msg}\t{pname}\t@ptr\n"));
            } else if !json_tag.contains(",omitempty") && !json_tag.contains(",inline") {
                out.push_str(&format!("{pkg}.{msg}\t{pname}\t@keep\n"));
            }
            let jname = json_tag.split(',').next().unwrap_or("");
            if jname == "-" {
                continue;
            }
            if jname.is_empty() && json_tag.contains(",inline") {
                out.push_str(&format!("{pkg}.{msg}\t{pname}\t\n"));
                continue;
            }
            let jname = if jname.is_empty() {
                t.split_whitespace().next().unwrap_or("")
            } else {
                jname
            };
            if jname != pname {
                out.push_str(&format!("{pkg}.{msg}\t{pname}\t{jname}\n"));
            }
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=K3RS_GOMODCACHE");
    println!("cargo:rerun-if-env-changed=GOMODCACHE");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let fds_path = out_dir.join("k8s-protos.fds");
    let facts_path = out_dir.join("k8s-json-facts.txt");
    let mut facts = String::new();
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
                json_facts(&p, &mut facts);
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
            facts.clear();
            println!("cargo:warning=Kubernetes protobuf schemas unavailable ({e}); protobuf request bodies will be refused with 415");
            Vec::new()
        }
    };
    if let Err(e) = std::fs::write(&fds_path, bytes) {
        panic!("writing {}: {e}", fds_path.display());
    }
    if let Err(e) = std::fs::write(&facts_path, facts) {
        panic!("writing {}: {e}", facts_path.display());
    }
}
