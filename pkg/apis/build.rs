//! Compiles upstream's protobuf schemas (the `generated.proto` files of the k8s.io/api,
//! k8s.io/apimachinery and k8s.io/apiextensions-apiserver Go modules, v0.35) and the JSON facts of
//! their Go structs into static tables the crate includes (`k8s-schema.rs`, read by
//! `src/protoschema.rs`), so the API server can encode and decode protobuf bodies and walk the type
//! graph; the descriptor set itself (`k8s-protos.fds`) is kept for tests only. The schemas are read
//! from the Go module cache (`scripts/lib/common.sh` downloads them with `go mod download`); nothing
//! from them is committed. Without them the crate still builds, and protobuf bodies are refused
//! with 415 at run time.

use std::collections::{HashMap, HashSet};
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

/// The JSON facts of `json_facts`, looked up by (message, field).
#[derive(Default)]
struct Facts {
    /// JSON name of a field whose JSON name differs from its protobuf name; `None`: inline.
    renamed: HashMap<(String, String), Option<String>>,
    ptrs: HashSet<(String, String)>,
    keeps: HashSet<(String, String)>,
    typemeta: HashSet<String>,
}

fn parse_facts(text: &str) -> Facts {
    let mut f = Facts::default();
    for line in text.lines() {
        let mut it = line.split('\t');
        let (Some(msg), Some(field), Some(what)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let key = (msg.to_string(), field.to_string());
        match what {
            "@typemeta" => {
                f.typemeta.insert(msg.to_string());
            }
            "@ptr" => {
                f.ptrs.insert(key);
            }
            "@keep" => {
                f.keeps.insert(key);
            }
            "" => {
                f.renamed.insert(key, None);
            }
            name => {
                f.renamed.insert(key, Some(name.to_string()));
            }
        }
    }
    f
}

/// All strings of the tables, each stored once, as (offset, length) into one text.
#[derive(Default)]
struct Strings {
    text: String,
    at: HashMap<String, (u32, u32)>,
}

impl Strings {
    fn get(&mut self, s: &str) -> (u32, u32) {
        if let Some(r) = self.at.get(s) {
            return *r;
        }
        let r = (self.text.len() as u32, s.len() as u32);
        self.text.push_str(s);
        self.at.insert(s.to_string(), r);
        r
    }
}

const TYPE_MESSAGE: i32 = 11;
const LABEL_REPEATED: i32 = 3;
const FLAG_LIST: u8 = 1;
const FLAG_MAP: u8 = 2;
const FLAG_PTR: u8 = 4;
const FLAG_KEEP: u8 = 8;
const FLAG_INLINE: u8 = 16;

/// The compact schema tables `src/protoschema.rs` includes: every message of the descriptor set
/// (map entries folded into their map fields), sorted by full name, with its fields in number
/// order and their JSON facts. Plain integers only, so the tables live in read-only data and
/// cost nothing until read.
fn schema_tables(fds: &prost_types::FileDescriptorSet, facts: &Facts) -> Result<String, String> {
    use prost_types::DescriptorProto;
    // Full name -> descriptor, and the map entries: full name -> (key type, value type, value
    // message).
    let mut messages: Vec<(String, &DescriptorProto)> = Vec::new();
    let mut entries: HashMap<String, (i32, i32, String)> = HashMap::new();
    fn walk<'a>(
        prefix: &str,
        d: &'a DescriptorProto,
        messages: &mut Vec<(String, &'a DescriptorProto)>,
        entries: &mut HashMap<String, (i32, i32, String)>,
    ) {
        let full = format!("{prefix}.{}", d.name());
        if d.options.as_ref().is_some_and(|o| o.map_entry()) {
            let key = d.field.iter().find(|f| f.number() == 1);
            let value = d.field.iter().find(|f| f.number() == 2);
            if let (Some(k), Some(v)) = (key, value) {
                entries.insert(
                    full,
                    (
                        k.r#type() as i32,
                        v.r#type() as i32,
                        v.type_name().to_string(),
                    ),
                );
            }
            return;
        }
        for n in &d.nested_type {
            walk(&full, n, messages, entries);
        }
        messages.push((full, d));
    }
    for file in &fds.file {
        for d in &file.message_type {
            walk(file.package(), d, &mut messages, &mut entries);
        }
    }
    messages.sort_by(|a, b| a.0.cmp(&b.0));
    let index: HashMap<&str, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();
    let msg_index = |type_name: &str| -> Result<u32, String> {
        index
            .get(type_name.trim_start_matches('.'))
            .map(|i| *i as u32)
            .ok_or_else(|| format!("unknown message {type_name}"))
    };
    let mut strings = Strings::default();
    let mut msg_rows = String::new();
    let mut field_rows = String::new();
    let mut n_fields = 0u32;
    for (i, (full, d)) in messages.iter().enumerate() {
        let mut fields: Vec<_> = d.field.iter().collect();
        fields.sort_by_key(|f| f.number());
        let first = n_fields;
        for f in fields {
            let key = (full.clone(), f.name().to_string());
            let mut flags = 0u8;
            let (mut kind, mut msg, mut key_kind) = (f.r#type() as i32, 0u32, 0i32);
            if f.r#type() as i32 == TYPE_MESSAGE {
                let tn = f.type_name().trim_start_matches('.');
                if let Some((k, v, vt)) = entries.get(tn) {
                    flags |= FLAG_MAP;
                    key_kind = *k;
                    kind = *v;
                    if *v == TYPE_MESSAGE {
                        msg = msg_index(vt)?;
                    }
                } else {
                    msg = msg_index(tn)?;
                }
            }
            if f.label() as i32 == LABEL_REPEATED && flags & FLAG_MAP == 0 {
                flags |= FLAG_LIST;
            }
            let json = match facts.renamed.get(&key) {
                Some(None) => {
                    flags |= FLAG_INLINE;
                    (0, 0)
                }
                Some(Some(n)) => strings.get(n),
                None => strings.get(f.name()),
            };
            if facts.ptrs.contains(&key) {
                flags |= FLAG_PTR;
            }
            if facts.keeps.contains(&key) {
                flags |= FLAG_KEEP;
            }
            let name = strings.get(f.name());
            field_rows.push_str(&format!(
                "    RawField {{ number: {}, name: {name:?}, json: {json:?}, kind: {kind}, key_kind: {key_kind}, msg: {msg}, parent: {i}, flags: {flags} }},\n",
                f.number()
            ));
            n_fields += 1;
        }
        let name = strings.get(full);
        msg_rows.push_str(&format!(
            "    RawMsg {{ name: {name:?}, fields: ({first}, {n_fields}), typemeta: {} }},\n",
            facts.typemeta.contains(full)
        ));
    }
    Ok(format!(
        "// Generated by build.rs from upstream's generated.proto files and Go struct tags.\n\
         static STRINGS: &str = {:?};\n\
         static MESSAGES: [RawMsg; {}] = [\n{msg_rows}];\n\
         static FIELDS: [RawField; {n_fields}] = [\n{field_rows}];\n",
        strings.text,
        messages.len()
    ))
}

fn empty_tables() -> String {
    "static STRINGS: &str = \"\";\nstatic MESSAGES: [RawMsg; 0] = [];\nstatic FIELDS: [RawField; 0] = [];\n".to_string()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=K3RS_GOMODCACHE");
    println!("cargo:rerun-if-env-changed=GOMODCACHE");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let fds_path = out_dir.join("k8s-protos.fds");
    let schema_path = out_dir.join("k8s-schema.rs");
    let mut facts = String::new();
    let result = (|| -> Result<(Vec<u8>, String), String> {
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
        let mut fds = protox::compile(&files, [&root]).map_err(|e| e.to_string())?;
        let tables = schema_tables(&fds, &parse_facts(&facts))?;
        // The descriptor set is for tests only (they build bodies the way client-go does); the
        // comments are of no use to them.
        for f in &mut fds.file {
            f.source_code_info = None;
        }
        Ok((prost::Message::encode_to_vec(&fds), tables))
    })();
    let (bytes, tables) = match result {
        Ok(r) => r,
        Err(e) => {
            println!("cargo:warning=Kubernetes protobuf schemas unavailable ({e}); protobuf request bodies will be refused with 415");
            (Vec::new(), empty_tables())
        }
    };
    if let Err(e) = std::fs::write(&fds_path, bytes) {
        panic!("writing {}: {e}", fds_path.display());
    }
    if let Err(e) = std::fs::write(&schema_path, tables) {
        panic!("writing {}: {e}", schema_path.display());
    }
}
