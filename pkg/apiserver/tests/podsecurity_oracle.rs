//! The PodSecurity checks against upstream's: every pod fixture of `k8s.io/pod-security-admission`
//! v0.35.4's test data (the pass and fail pods of each check at each version) is evaluated by
//! upstream's policy evaluator (the Go helper in `conformance/oracles/psa`) and by ours, at both levels
//! and every version v1.0 … v1.37 and latest; the verdicts and the violation texts (what the
//! admission messages are made of) must be identical.
//! Skipped, with a note, where Go or the module is unavailable (never under scripts/test).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use k3rs_apiserver::admission::podsecurity::{
    evaluate, forbidden_detail, Level, LevelVersion, Version,
};

fn skip(why: &str) {
    eprintln!("NOTE: skipping the PodSecurity oracle: {why}");
    assert!(
        std::env::var_os("K3RS_STRICT_TESTS").is_none(),
        "scripts/test provides this; it must not be skipped"
    );
}

fn go(args: &[&str], dir: &PathBuf) -> Result<String, String> {
    match Command::new("go").args(args).current_dir(dir).output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o) => Err(format!(
            "go {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!("no `go` ({e})")),
    }
}

fn parse_key(key: &str) -> LevelVersion {
    let (level, version) = key.split_once(':').expect("level:version");
    LevelVersion::new(
        Level::parse(level).expect("level"),
        Version::parse(version).expect("version"),
    )
}

#[test]
fn checks_match_upstream_on_every_fixture() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/oracles/psa");
    let bin = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("k3rs-psa-oracle");
    let bin_arg = bin.display().to_string();
    if let Err(e) = go(&["build", "-o", &bin_arg, "."], &src) {
        return skip(&e);
    }
    let module = match go(
        &[
            "list",
            "-m",
            "-f",
            "{{.Dir}}",
            "k8s.io/pod-security-admission",
        ],
        &src,
    ) {
        Ok(d) => PathBuf::from(d),
        Err(e) => return skip(&e),
    };
    let testdata = module.join("test/testdata");
    let out = Command::new(&bin)
        .arg(&testdata)
        .output()
        .expect("run oracle");
    assert!(
        out.status.success(),
        "psa_oracle: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let (mut pods, mut compared, mut refused) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).expect("oracle line");
        let file = e["file"].as_str().unwrap_or_default();
        let pod = &e["pod"];
        pods += 1;
        for (key, want) in e["results"].as_object().expect("results") {
            let want = want.as_str().unwrap_or_default();
            let got = forbidden_detail(&evaluate(parse_key(key), &pod["metadata"], &pod["spec"]));
            compared += 1;
            if !want.is_empty() {
                refused += 1;
            }
            if got != want {
                mismatches.push(format!(
                    "{file} at {key}:\n  upstream: {want}\n  k3rs:     {got}"
                ));
            }
        }
    }
    // The fixtures exist for every check (v0.35.4 has ~380 distinct pods).
    assert!(pods > 300, "only {pods} fixtures read from {testdata:?}");
    assert!(
        refused > 1000 && refused < compared,
        "{refused} of {compared}"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {compared} verdicts differ, e.g.:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
