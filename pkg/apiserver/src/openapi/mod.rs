//! OpenAPI v2 (`/openapi/v2`, JSON and gnostic protobuf) and v3 (`/openapi/v3` index plus one
//! document per group version), generated from k8s-openapi's schemas and the registry. kubectl
//! needs them: 1.27–1.28 fetch v2 protobuf before `create/apply -f` with validation on, 1.29+
//! look for the `fieldValidation` parameter in v3, and `kubectl explain` renders v3.
//!
//! Documents are generated once, on first use, and kept serialized with their ETags (SHA-512, as
//! upstream). Group versions added at run time (custom resources) go through
//! [`OpenApi::set_group_version`] (v3) and [`OpenApi::set_custom_v2`] (their definitions and
//! paths spliced into the v2 document); see [`custom`].

pub mod custom;
pub mod gnostic;
pub mod paths;
pub mod schemas;
pub mod structural;
pub mod v3;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest, Sha512};

use k3rs_apis::registry;

pub use crate::discovery::KUBERNETES_VERSION;
pub use paths::{ResourceInfo, SubresourceInfo};
pub use schemas::{Definitions, ExtensionSet, FieldLookup};

/// The media type kubectl asks `/openapi/v2` for, and the one upstream answers with.
pub const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
pub const V2_PROTOBUF_REPLY: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
const V2_PROTOBUF_ALT: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// One serialized document and its ETag (upper-case hex SHA-512 of the bytes, as upstream).
#[derive(Clone, Debug)]
pub struct Doc {
    pub bytes: Bytes,
    pub etag: String,
    /// The gzip-compressed bytes, made on first request (clones share them).
    gzipped: Arc<OnceLock<Bytes>>,
}

impl Doc {
    pub fn new(bytes: Vec<u8>) -> Doc {
        let digest = Sha512::digest(&bytes);
        let etag = digest.iter().map(|b| format!("{b:02X}")).collect();
        Doc {
            bytes: Bytes::from(bytes),
            etag,
            gzipped: Arc::default(),
        }
    }

    /// The document gzip-compressed (documents are large and compress about tenfold).
    pub fn gzipped(&self) -> Bytes {
        self.gzipped
            .get_or_init(|| {
                use std::io::Write;
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(self.bytes.len() / 8),
                    flate2::Compression::default(),
                );
                // Writing to a Vec cannot fail.
                let _ = enc.write_all(&self.bytes);
                Bytes::from(enc.finish().unwrap_or_default())
            })
            .clone()
    }

    pub fn json(v: &Value) -> Doc {
        Doc::new(serde_json::to_vec(v).unwrap_or_default())
    }
}

/// What generation cost, for logs and the report.
#[derive(Clone, Debug, Default)]
pub struct BuildStats {
    pub elapsed: Duration,
    pub definitions: usize,
    pub paths: usize,
}

/// The documents of the built-in API. (The definitions themselves are not kept: custom resources
/// that need them can regenerate them with [`schemas::builtin`].)
pub struct Built {
    pub resources: Vec<ResourceInfo>,
    pub v2_json: Doc,
    pub v2_protobuf: Doc,
    /// Where entries are spliced into `v2_json`: just inside its `definitions` and `paths`
    /// objects.
    v2_json_slots: [usize; 2],
    /// The names of the v2 document's definitions.
    pub definition_names: HashSet<String>,
    /// v3 documents by index key (`api/v1`, `apis/apps/v1`).
    pub v3: BTreeMap<String, Doc>,
    pub stats: BuildStats,
}

/// The `/openapi/v3` index key of a group version: `api/v1`, `apis/apps/v1`.
pub fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The served resources of the registry as OpenAPI sees them. Kinds without a definition are
/// left out (the `registry_kinds_covered` test keeps that list empty).
pub fn builtin_resources(defs: &Definitions) -> Vec<ResourceInfo> {
    let mut out = Vec::new();
    for r in registry::builtin() {
        let Some(k) = defs.kind(r.group, r.version, r.kind) else {
            tracing::warn!(
                group = r.group,
                version = r.version,
                kind = r.kind,
                "no OpenAPI definition for a served kind"
            );
            continue;
        };
        let subresources = r
            .subresources
            .iter()
            .filter(|s| crate::discovery::SERVED_SUBRESOURCES.contains(&s.name))
            .filter_map(|s| {
                let (g, v) = if s.group.is_empty() && s.version.is_empty() {
                    (r.group, r.version)
                } else {
                    (s.group, s.version)
                };
                let kind = if s.kind.is_empty() { r.kind } else { s.kind };
                let def = defs.kind(g, v, kind)?;
                Some(SubresourceInfo {
                    name: s.name.to_string(),
                    verbs: s.verbs.iter().map(|v| v.to_string()).collect(),
                    group: g.to_string(),
                    version: v.to_string(),
                    kind: kind.to_string(),
                    definition: def.definition.clone(),
                })
            })
            .collect();
        out.push(ResourceInfo {
            group: r.group.to_string(),
            version: r.version.to_string(),
            kind: r.kind.to_string(),
            plural: r.plural.to_string(),
            namespaced: r.namespaced,
            verbs: r.verbs.iter().map(|v| v.to_string()).collect(),
            definition: k.definition.clone(),
            list_definition: k.list_definition.clone(),
            subresources,
        });
    }
    out
}

/// The v3 document of one group version, from its resources and the definitions they use. For
/// custom resources, `definitions` are the built-in ones plus the resource's own.
pub fn group_version_document(
    group: &str,
    version: &str,
    resources: &[ResourceInfo],
    definitions: &BTreeMap<String, Value>,
) -> Value {
    v3::document(
        &paths::group_version_paths(group, version, resources),
        definitions,
    )
}

/// The Swagger 2.0 document of the given paths and definitions.
pub fn v2_document(
    paths: &BTreeMap<String, Value>,
    definitions: &BTreeMap<String, Value>,
) -> Value {
    json!({
        "definitions": definitions,
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "security": [{"BearerToken": []}],
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "in": "header",
                "name": "authorization",
                "type": "apiKey",
            },
        },
        "swagger": "2.0",
    })
}

/// Generates every document of the built-in API.
pub fn build(lookup: FieldLookup) -> Built {
    let start = Instant::now();
    // Built-in groups only: custom resources are published at run time (see [`custom`]).
    let gvs: Vec<(&str, &str)> = registry::groups()
        .into_iter()
        .filter(|(g, _)| registry::is_builtin_group(g))
        .flat_map(|(g, vs)| vs.into_iter().map(move |v| (g, v)))
        .collect();
    let definitions = schemas::builtin(lookup, &gvs);
    let resources = builtin_resources(&definitions);
    let mut all_paths = BTreeMap::new();
    let mut v3 = BTreeMap::new();
    for (g, v) in &gvs {
        let p = paths::group_version_paths(g, v, &resources);
        v3.insert(
            gv_key(g, v),
            Doc::json(&v3::document(&p, &definitions.schemas)),
        );
        all_paths.extend(p);
    }
    let v2 = v2_document(&all_paths, &definitions.schemas);
    let v2_protobuf = Doc::new(gnostic::encode_document(&v2));
    let (json_bytes, v2_json_slots) = v2_json(&v2);
    let v2_json = Doc::new(json_bytes);
    let stats = BuildStats {
        elapsed: start.elapsed(),
        definitions: definitions.schemas.len(),
        paths: all_paths.len(),
    };
    Built {
        resources,
        v2_json,
        v2_protobuf,
        v2_json_slots,
        definition_names: definitions.schemas.keys().cloned().collect(),
        v3,
        stats,
    }
}

/// Serializes a v2 document, returning where its `definitions` and `paths` objects open (just
/// past their `{`).
fn v2_json(doc: &Value) -> (Vec<u8>, [usize; 2]) {
    let mut out = Vec::with_capacity(4 << 20);
    let mut slots = [0; 2];
    out.push(b'{');
    for (i, (k, v)) in doc.as_object().into_iter().flatten().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(serde_json::to_vec(k).unwrap_or_default());
        out.push(b':');
        match k.as_str() {
            "definitions" => slots[0] = out.len() + 1,
            "paths" => slots[1] = out.len() + 1,
            _ => {}
        }
        out.extend(serde_json::to_vec(v).unwrap_or_default());
    }
    out.push(b'}');
    (out, slots)
}

/// `entries` serialized as the members of a JSON object (`"a":1,"b":2`).
fn json_members<'a>(entries: impl IntoIterator<Item = (&'a String, &'a Value)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in entries {
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend(serde_json::to_vec(k).unwrap_or_default());
        out.push(b':');
        out.extend(serde_json::to_vec(v).unwrap_or_default());
    }
    out
}

/// The built-in v2 documents (JSON, protobuf) with more definitions and paths.
fn v2_with(
    b: &Built,
    definitions: &BTreeMap<String, Value>,
    paths: &BTreeMap<String, Value>,
) -> (Doc, Doc) {
    let doc = &b.v2_json.bytes;
    let mut inserts = [
        (b.v2_json_slots[0], json_members(definitions)),
        (b.v2_json_slots[1], json_members(paths)),
    ];
    inserts.sort_by_key(|(at, _)| *at);
    let mut json =
        Vec::with_capacity(doc.len() + inserts.iter().map(|i| i.1.len() + 1).sum::<usize>());
    let mut from = 0;
    for (at, members) in &inserts {
        let at = (*at).min(doc.len());
        json.extend_from_slice(&doc[from..at]);
        // (A slot of 0: the document has no such object; nothing can go there.)
        if !members.is_empty() && at > 0 {
            json.extend_from_slice(members);
            if doc.get(at) != Some(&b'}') {
                json.push(b',');
            }
        }
        from = at;
    }
    json.extend_from_slice(&doc[from..]);
    let path_entries = gnostic::path_entries(paths);
    let definition_entries = gnostic::definition_entries(definitions);
    let proto = gnostic::splice(
        &b.v2_protobuf.bytes,
        &[
            (gnostic::PATHS, &path_entries),
            (gnostic::DEFINITIONS, &definition_entries),
        ],
    )
    .unwrap_or_else(|| b.v2_protobuf.bytes.to_vec());
    (Doc::new(json), Doc::new(proto))
}

/// What a request for an OpenAPI document gets.
#[derive(Debug)]
pub enum Served {
    Ok {
        body: Bytes,
        content_type: &'static str,
        etag: String,
        /// `?hash=` named the current document: it can be cached forever.
        immutable: bool,
        /// `body` is gzip-compressed (`Content-Encoding: gzip`).
        gzip: bool,
    },
    NotModified {
        etag: String,
        immutable: bool,
    },
    /// `?hash=` named an older document: 301 to the current one.
    Redirect(String),
    NotAcceptable(&'static str),
    NotFound,
}

/// The OpenAPI documents a server publishes.
pub struct OpenApi {
    lookup: FieldLookup,
    built: OnceLock<Built>,
    extra: RwLock<BTreeMap<String, Doc>>,
    /// The v2 documents (JSON, protobuf) with custom resources, when there are any.
    custom_v2: RwLock<Option<Arc<(Doc, Doc)>>>,
}

impl OpenApi {
    pub fn new(lookup: FieldLookup) -> OpenApi {
        OpenApi {
            lookup,
            built: OnceLock::new(),
            extra: RwLock::new(BTreeMap::new()),
            custom_v2: RwLock::new(None),
        }
    }

    /// Publishes `/openapi/v2` as the built-in document plus these definitions and paths (of
    /// custom resources; definitions must not reuse built-in names); none: the built-in
    /// document alone.
    pub fn set_custom_v2(
        &self,
        definitions: &BTreeMap<String, Value>,
        paths: &BTreeMap<String, Value>,
    ) {
        let docs = (!definitions.is_empty() || !paths.is_empty())
            .then(|| Arc::new(v2_with(self.built(), definitions, paths)));
        if let Ok(mut slot) = self.custom_v2.write() {
            *slot = docs;
        }
    }

    /// The current v2 documents: JSON and protobuf.
    fn v2_docs(&self) -> (Doc, Doc) {
        if let Some(d) = self.custom_v2.read().ok().and_then(|d| d.clone()) {
            return (d.0.clone(), d.1.clone());
        }
        let b = self.built();
        (b.v2_json.clone(), b.v2_protobuf.clone())
    }

    /// Whether the built-in documents exist yet (generating them takes a while: callers on an
    /// async runtime should call [`OpenApi::built`] from a blocking task the first time).
    pub fn is_built(&self) -> bool {
        self.built.get().is_some()
    }

    /// The field metadata lookup the documents are built with.
    pub fn lookup(&self) -> FieldLookup {
        self.lookup
    }

    /// The built-in documents, generated on first use.
    pub fn built(&self) -> &Built {
        self.built.get_or_init(|| {
            let b = build(self.lookup);
            tracing::info!(
                elapsed_ms = b.stats.elapsed.as_millis() as u64,
                definitions = b.stats.definitions,
                paths = b.stats.paths,
                v2_json_bytes = b.v2_json.bytes.len(),
                v2_protobuf_bytes = b.v2_protobuf.bytes.len(),
                "generated OpenAPI documents"
            );
            b
        })
    }

    /// Publishes (or replaces) the v3 document of a group version added at run time; `key` as
    /// [`gv_key`].
    pub fn set_group_version(&self, key: &str, doc: &Value) {
        if let Ok(mut extra) = self.extra.write() {
            extra.insert(key.to_string(), Doc::json(doc));
        }
    }

    /// Withdraws a group version added with [`OpenApi::set_group_version`].
    pub fn remove_group_version(&self, key: &str) {
        if let Ok(mut extra) = self.extra.write() {
            extra.remove(key);
        }
    }

    fn v3_doc(&self, key: &str) -> Option<Doc> {
        if let Some(d) = self.extra.read().ok().and_then(|e| e.get(key).cloned()) {
            return Some(d);
        }
        self.built().v3.get(key).cloned()
    }

    /// The `/openapi/v3` index: each group version's document URL, with its hash.
    pub fn index(&self) -> Doc {
        let mut paths = serde_json::Map::new();
        for (k, d) in &self.built().v3 {
            paths.insert(k.clone(), json!({"serverRelativeURL": v3_url(k, &d.etag)}));
        }
        if let Ok(extra) = self.extra.read() {
            for (k, d) in extra.iter() {
                paths.insert(k.clone(), json!({"serverRelativeURL": v3_url(k, &d.etag)}));
            }
        }
        Doc::json(&json!({ "paths": paths }))
    }

    /// Answers `GET path` (`/openapi/v2`, `/openapi/v3`, `/openapi/v3/<key>`).
    pub fn serve(
        &self,
        path: &str,
        hash: Option<&str>,
        accept: Option<&str>,
        if_none_match: Option<&str>,
        accept_encoding: Option<&str>,
    ) -> Served {
        let gzip = accepts_gzip(accept_encoding);
        let path = path.trim_end_matches('/');
        if path == "/openapi/v2" {
            let Some(proto) = pick(accept, &[JSON, V2_PROTOBUF, V2_PROTOBUF_ALT]) else {
                return Served::NotAcceptable(
                    "only application/json and application/com.github.proto-openapi.spec.v2@v1.0+protobuf are served",
                );
            };
            let (json, protobuf) = self.v2_docs();
            let (doc, ct) = if proto == JSON {
                (&json, "application/json")
            } else {
                (&protobuf, V2_PROTOBUF_REPLY)
            };
            return answer(doc, ct, false, if_none_match, gzip);
        }
        if path == "/openapi/v3" {
            return answer(
                &self.index(),
                "application/json",
                false,
                if_none_match,
                gzip,
            );
        }
        let Some(key) = path.strip_prefix("/openapi/v3/") else {
            return Served::NotFound;
        };
        let Some(doc) = self.v3_doc(key) else {
            return Served::NotFound;
        };
        if pick(accept, &[JSON]).is_none() {
            return Served::NotAcceptable("only application/json is served");
        }
        match hash.filter(|h| !h.is_empty()) {
            Some(h) if h != doc.etag => Served::Redirect(v3_url(key, &doc.etag)),
            Some(_) => answer(&doc, "application/json", true, if_none_match, gzip),
            None => answer(&doc, "application/json", false, if_none_match, gzip),
        }
    }
}

const JSON: &str = "application/json";

fn v3_url(key: &str, etag: &str) -> String {
    format!("/openapi/v3/{key}?hash={etag}")
}

/// Documents smaller than this are sent uncompressed (upstream's threshold for compressing
/// API responses).
const GZIP_MIN: usize = 128 * 1024;

fn answer(
    doc: &Doc,
    content_type: &'static str,
    immutable: bool,
    inm: Option<&str>,
    gzip: bool,
) -> Served {
    if etag_matches(inm, &doc.etag) {
        return Served::NotModified {
            etag: doc.etag.clone(),
            immutable,
        };
    }
    let gzip = gzip && doc.bytes.len() >= GZIP_MIN;
    Served::Ok {
        body: if gzip {
            doc.gzipped()
        } else {
            doc.bytes.clone()
        },
        content_type,
        etag: doc.etag.clone(),
        immutable,
        gzip,
    }
}

/// `Accept-Encoding` allows gzip.
fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.unwrap_or_default().split(',').any(|c| {
        let mut parts = c.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let q_zero = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                == Some(0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
    })
}

/// `If-None-Match` (a list of quoted, possibly weak, tags or `*`) names `etag`.
fn etag_matches(inm: Option<&str>, etag: &str) -> bool {
    let Some(inm) = inm else {
        return false;
    };
    inm.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/").trim_matches('"') == etag)
}

/// Picks the first of `offered` the `Accept` header takes, clauses by descending `q`, in order
/// otherwise; no header means anything.
fn pick(accept: Option<&str>, offered: &[&'static str]) -> Option<&'static str> {
    let accept = accept
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("*/*");
    let mut clauses: Vec<(f32, String)> = accept
        .split(',')
        .filter_map(|c| {
            let mut parts = c.split(';');
            let mt = parts.next()?.trim().to_ascii_lowercase();
            let mut q = 1.0f32;
            for p in parts {
                if let Some(v) = p.trim().strip_prefix("q=") {
                    q = v.trim().parse().unwrap_or(0.0);
                }
            }
            (q > 0.0 && !mt.is_empty()).then_some((q, mt))
        })
        .collect();
    clauses.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    for (_, mt) in clauses {
        let (t, s) = mt.split_once('/').unwrap_or((mt.as_str(), ""));
        for o in offered {
            let (ot, os) = o.split_once('/').unwrap_or((o, ""));
            if (t == "*" || t == ot) && (s == "*" || s == os) {
                return Some(o);
            }
        }
    }
    None
}

/// The documents this process serves (built-in kinds; see [`OpenApi::set_group_version`]).
pub fn service() -> &'static OpenApi {
    static SERVICE: OnceLock<OpenApi> = OnceLock::new();
    SERVICE.get_or_init(|| OpenApi::new(schemas::patchmeta_lookup))
}

#[cfg(test)]
mod tests;
