use serde_json::json;

use super::*;

fn lv(level: Level, version: &str) -> LevelVersion {
    LevelVersion::new(level, Version::parse(version).unwrap())
}

fn detail(level: Level, version: &str, pod: &Value) -> String {
    forbidden_detail(&evaluate(
        lv(level, version),
        &pod["metadata"],
        &pod["spec"],
    ))
}

/// A pod that passes restricted.
fn compliant() -> Value {
    json!({
        "metadata": {"name": "ok"},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "c", "image": "pause",
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
            }]
        }
    })
}

#[test]
fn checks_run_in_upstreams_order() {
    let sorted = |t: &[Check]| t.windows(2).all(|w| w[0].id < w[1].id);
    assert!(sorted(BASELINE) && sorted(RESTRICTED));
    for c in RESTRICTED {
        if let Some(o) = c.overrides {
            assert!(BASELINE.iter().any(|b| b.id == o), "{o}");
        }
    }
}

#[test]
fn a_compliant_pod_passes_every_level_and_privileged_allows_anything() {
    let pod = compliant();
    for v in ["latest", "v1.0", "v1.22", "v1.35", "v1.99"] {
        assert_eq!(detail(Level::Restricted, v, &pod), "", "{v}");
        assert_eq!(detail(Level::Baseline, v, &pod), "", "{v}");
    }
    let bad = json!({"spec": {"hostNetwork": true, "containers": [{"name": "c", "securityContext": {"privileged": true}}]}});
    assert!(evaluate(
        lv(Level::Privileged, "latest"),
        &bad["metadata"],
        &bad["spec"]
    )
    .is_empty());
}

#[test]
fn a_bare_pod_under_restricted_gets_upstreams_message() {
    let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    assert_eq!(
        detail(Level::Restricted, "latest", &pod),
        "allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), \
         unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), \
         runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), \
         seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
    );
    assert_eq!(detail(Level::Baseline, "latest", &pod), "");
    // Before v1.8 there was no allowPrivilegeEscalation, before v1.19 no seccomp field, before
    // v1.22 no capabilities check.
    assert_eq!(
        detail(Level::Restricted, "v1.7", &pod),
        "runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true)"
    );
}

#[test]
fn baseline_violations_are_listed_in_check_order_with_plurals() {
    let pod = json!({
        "metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/a": "unconfined"}},
        "spec": {
            "hostNetwork": true, "hostIPC": true,
            "volumes": [{"name": "h", "hostPath": {"path": "/"}}, {"name": "e", "emptyDir": {}}],
            "securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}, {"name": "net.ipv4.tcp_rmem", "value": "1"}]},
            "containers": [
                {"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 9, "hostPort": 9}],
                 "securityContext": {"privileged": true, "capabilities": {"add": ["SYS_ADMIN", "CHOWN", "NET_RAW"]}}},
                {"name": "b", "securityContext": {"privileged": true, "seccompProfile": {"type": "Unconfined"}}}
            ]
        }
    });
    assert_eq!(
        detail(Level::Baseline, "latest", &pod),
        "forbidden AppArmor profile (annotation must not set AppArmor profile type to \"container.apparmor.security.beta.kubernetes.io/a=\"unconfined\"\"), \
         non-default capabilities (container \"a\" must not include \"NET_RAW\", \"SYS_ADMIN\" in securityContext.capabilities.add), \
         host namespaces (hostNetwork=true, hostIPC=true), \
         hostPath volumes (volume \"h\"), \
         hostPort (container \"a\" uses hostPorts 8080, 9), \
         privileged (containers \"a\", \"b\" must not set securityContext.privileged=true), \
         seccompProfile (container \"b\" must not set securityContext.seccompProfile.type to \"Unconfined\"), \
         forbidden sysctls (kernel.msgmax)"
    );
    // net.ipv4.tcp_rmem became safe in v1.32.
    assert!(detail(Level::Baseline, "v1.31", &pod)
        .ends_with("forbidden sysctls (kernel.msgmax, net.ipv4.tcp_rmem)"));
}

#[test]
fn restricted_replaces_the_baseline_checks_it_overrides() {
    let pod = json!({"spec": {
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}, {"name": "n", "nfs": {"server": "s", "path": "/"}}, {"name": "x"}],
        "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"], "add": ["SYS_TIME"]}}}]
    }});
    assert_eq!(
        detail(Level::Restricted, "latest", &pod),
        "unrestricted capabilities (container \"c\" must not include \"SYS_TIME\" in securityContext.capabilities.add), \
         restricted volume types (volumes \"h\", \"n\", \"x\" use restricted volume types \"hostPath\", \"nfs\", \"unknown\")"
    );
    // Before v1.22 the baseline capabilities check applied instead.
    assert!(detail(Level::Restricted, "v1.21", &pod)
        .starts_with("non-default capabilities (container \"c\" must not include \"SYS_TIME\""));
}

#[test]
fn user_namespaces_relax_root_and_proc_mount_checks_from_v1_35() {
    let mut pod = compliant();
    pod["spec"]["hostUsers"] = json!(false);
    pod["spec"]["securityContext"]["runAsNonRoot"] = json!(false);
    pod["spec"]["securityContext"]["runAsUser"] = json!(0);
    pod["spec"]["containers"][0]["securityContext"]["procMount"] = json!("Unmasked");
    assert_eq!(detail(Level::Baseline, "latest", &pod), "");
    assert_eq!(
        detail(Level::Restricted, "latest", &pod),
        "procMount (container \"c\" must not set securityContext.procMount to \"Unmasked\")"
    );
    assert_eq!(
        detail(Level::Restricted, "v1.34", &pod),
        "procMount (container \"c\" must not set securityContext.procMount to \"Unmasked\"), \
         runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false), \
         runAsUser=0 (pod must not set runAsUser=0)"
    );
}

#[test]
fn windows_pods_are_exempt_from_linux_only_restricted_checks_since_v1_25() {
    let pod = json!({"spec": {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true},
        "containers": [{"name": "c", "securityContext": {"windowsOptions": {"hostProcess": true}}}]}});
    assert_eq!(
        detail(Level::Restricted, "latest", &pod),
        "hostProcess (container \"c\" must not set securityContext.windowsOptions.hostProcess=true)"
    );
    assert!(detail(Level::Restricted, "v1.24", &pod).contains("allowPrivilegeEscalation != false"));
}

#[test]
fn versions_and_levels_parse_as_upstream() {
    assert_eq!(Version::parse("latest"), Ok(Version::Latest));
    assert_eq!(Version::parse("v1.0"), Ok(Version::V1(0)));
    assert_eq!(Version::parse("v1.35"), Ok(Version::V1(35)));
    for bad in [
        "",
        "v1",
        "v1.",
        "v1.01",
        "v2.0",
        "1.25",
        "v1.x",
        "v1.+1",
        "v1.99999999999999999999",
        "Latest",
    ] {
        assert!(Version::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Version::V1(3).to_string(), "v1.3");
    assert!(Level::parse("Restricted").is_err());
    assert_eq!(lv(Level::Baseline, "v1.30").to_string(), "baseline:v1.30");
}

#[test]
fn oddly_typed_fields_are_read_as_unset() {
    let pod = json!({"metadata": null, "spec": {"containers": [null, 3, {"name": 5, "securityContext": "x"}], "volumes": "v", "hostNetwork": "true"}});
    // Nothing panics; the containers without a security context fail restricted.
    let d = detail(Level::Restricted, "latest", &pod);
    assert!(
        d.starts_with("allowPrivilegeEscalation != false (containers \"\", \"\", \"\""),
        "{d}"
    );
    assert_eq!(detail(Level::Baseline, "latest", &pod), "");
}

#[test]
fn selinux_allows_container_engine_t_from_v1_31() {
    let pod = json!({"spec": {
        "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}},
        "containers": [{"name": "c", "securityContext": {"seLinuxOptions": {"type": "spc_t", "user": "u", "role": "r"}}}]
    }});
    assert_eq!(
        detail(Level::Baseline, "v1.31", &pod),
        "seLinuxOptions (container \"c\" set forbidden securityContext.seLinuxOptions: type \"spc_t\"; user may not be set; role may not be set)"
    );
    assert_eq!(
        detail(Level::Baseline, "v1.30", &pod),
        "seLinuxOptions (pod and container \"c\" set forbidden securityContext.seLinuxOptions: types \"container_engine_t\", \"spc_t\"; user may not be set; role may not be set)"
    );
}

#[test]
fn probe_and_lifecycle_hosts_are_baseline_violations_from_v1_34() {
    let pod = json!({"spec": {"containers": [
        {"name": "b", "livenessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}}, "lifecycle": {"preStop": {"tcpSocket": {"host": "evil", "port": 1}}}},
        {"name": "a", "readinessProbe": {"tcpSocket": {"host": "10.0.0.1", "port": 80}}, "startupProbe": {"httpGet": {"host": "", "port": 80}}}
    ]}});
    assert_eq!(
        detail(Level::Baseline, "v1.34", &pod),
        "probe or lifecycle host (containers \"a\", \"b\" use probe or lifecycle hosts \"10.0.0.1\", \"evil\")"
    );
    assert_eq!(detail(Level::Baseline, "v1.33", &pod), "");
}
