//! The registry against upstream's own discovery documents for v1.35 (`api/discovery/*.json` in the
//! k8s.io/kubernetes Go module, downloaded into the Go module cache by `scripts/test`; used here as a
//! test oracle only). Every resource k3rs serves must match upstream's name, kind, scope, verbs, short
//! names, categories and subresource kinds; every GA upstream resource must be served or listed in
//! `NOT_SERVED` with a reason.

use std::path::PathBuf;

use k3rs_apis::registry::{beta_resources, builtin, Resource, NOT_SERVED};
use serde_json::Value;

fn discovery_dir() -> PathBuf {
    let cache = std::env::var("GOMODCACHE")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::process::Command::new("go")
                .args(["env", "GOMODCACHE"])
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        });
    let dir =
        PathBuf::from(cache.unwrap_or_default()).join("k8s.io/kubernetes@v1.35.4/api/discovery");
    assert!(
        dir.join("aggregated_v2.json").exists(),
        "the discovery oracle is missing at {}: run scripts/test, or `go mod download k8s.io/kubernetes@v1.35.4` in a scratch module",
        dir.display()
    );
    dir
}

#[derive(Debug, PartialEq)]
struct Entry {
    kind: String,
    namespaced: bool,
    verbs: Vec<String>,
    short: Vec<String>,
    cats: Vec<String>,
    subs: Vec<(String, String)>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = v
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// (group, version, plural) → entry, for GA versions (and beta ones with `beta`), from
/// upstream's files.
fn oracle_with(beta: bool) -> Vec<((String, String, String), Entry)> {
    let dir = discovery_dir();
    let mut out = Vec::new();
    let core: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("api__v1.json")).unwrap()).unwrap();
    let resources = core["resources"].as_array().unwrap();
    for r in resources
        .iter()
        .filter(|r| !r["name"].as_str().unwrap().contains('/'))
    {
        let name = r["name"].as_str().unwrap().to_string();
        let subs = resources
            .iter()
            .filter_map(|s| {
                let n = s["name"].as_str()?;
                let sub = n.strip_prefix(&format!("{name}/"))?;
                Some((sub.to_string(), s["kind"].as_str()?.to_string()))
            })
            .collect();
        out.push((
            (String::new(), "v1".into(), name),
            Entry {
                kind: r["kind"].as_str().unwrap().into(),
                namespaced: r["namespaced"].as_bool().unwrap(),
                verbs: strings(r.get("verbs")),
                short: strings(r.get("shortNames")),
                cats: strings(r.get("categories")),
                subs,
            },
        ));
    }
    let agg: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("aggregated_v2.json")).unwrap())
            .unwrap();
    for g in agg["items"].as_array().unwrap() {
        let group = g["metadata"]["name"].as_str().unwrap_or("").to_string();
        for v in g["versions"].as_array().unwrap() {
            let version = v["version"].as_str().unwrap().to_string();
            if version.contains("alpha") || (version.contains("beta") && !beta) {
                continue; // not served by default upstream
            }
            for r in v["resources"].as_array().unwrap() {
                let subs = r["subresources"]
                    .as_array()
                    .map(|subs| {
                        subs.iter()
                            .map(|s| {
                                let kind =
                                    s["responseKind"]["kind"].as_str().unwrap_or("").to_string();
                                (s["subresource"].as_str().unwrap().to_string(), kind)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((
                    (
                        group.clone(),
                        version.clone(),
                        r["resource"].as_str().unwrap().to_string(),
                    ),
                    Entry {
                        kind: r["responseKind"]["kind"].as_str().unwrap().into(),
                        namespaced: r["scope"] == "Namespaced",
                        verbs: strings(r.get("verbs")),
                        short: strings(r.get("shortNames")),
                        cats: strings(r.get("categories")),
                        subs,
                    },
                ));
            }
        }
    }
    out
}

fn oracle() -> Vec<((String, String, String), Entry)> {
    oracle_with(false)
}

#[test]
fn registry_matches_upstream_discovery() {
    let oracle = oracle();
    assert!(oracle.len() > 50, "oracle parsed");
    check_resources(builtin(), &oracle);
    // The beta APIs k3rs serves on request match upstream's too.
    let with_beta = oracle_with(true);
    let beta: Vec<Resource> = beta_resources().copied().collect();
    assert!(!beta.is_empty());
    check_resources(&beta, &with_beta);
    check_every_ga_resource_is_served(&oracle);
}

fn check_resources(resources: &[Resource], oracle: &[((String, String, String), Entry)]) {
    for r in resources {
        let key = (
            r.group.to_string(),
            r.version.to_string(),
            r.plural.to_string(),
        );
        let (_, want) = oracle
            .iter()
            .find(|(k, _)| *k == key)
            .unwrap_or_else(|| panic!("{key:?} is served by k3rs but not by upstream v1.35"));
        let mut verbs: Vec<String> = r.verbs.iter().map(|s| s.to_string()).collect();
        verbs.sort();
        let mut short: Vec<String> = r.short_names.iter().map(|s| s.to_string()).collect();
        short.sort();
        let mut cats: Vec<String> = r.categories.iter().map(|s| s.to_string()).collect();
        cats.sort();
        let subs: Vec<(String, String)> = r
            .subresources
            .iter()
            .map(|s| {
                (
                    s.name.to_string(),
                    if s.kind.is_empty() {
                        r.kind.to_string()
                    } else {
                        s.kind.to_string()
                    },
                )
            })
            .collect();
        let got = Entry {
            kind: r.kind.into(),
            namespaced: r.namespaced,
            verbs,
            short,
            cats,
            subs,
        };
        assert_eq!(&got, want, "{key:?}");
    }
}

fn check_every_ga_resource_is_served(oracle: &[((String, String, String), Entry)]) {
    for ((group, version, plural), _) in oracle {
        let served = builtin()
            .iter()
            .any(|r| r.group == group && r.version == version && r.plural == plural);
        let excused = NOT_SERVED.iter().any(|(what, _)| {
            *what == group.as_str()
                || *what == format!("{group}/{version}")
                || (group.is_empty() && *what == format!("v1/{plural}"))
        });
        assert!(
            served || excused,
            "upstream serves {group}/{version} {plural}; k3rs neither serves it nor says why not"
        );
    }
}
