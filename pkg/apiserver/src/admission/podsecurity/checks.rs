//! The Pod Security Standards: the baseline and restricted checks, versioned as upstream's
//! `k8s.io/pod-security-admission/policy` (v0.35) versions them, with upstream's reasons and
//! details (the text of the admission messages, which kubectl users and tests read).
//!
//! A check looks at a pod's metadata and spec (a Pod, or a controller's pod template) as JSON.
//! Objects reach admission decoded, defaulted and validated, so a field of an unexpected JSON
//! type is treated as unset, never as an error.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use k3rs_apis::validation::go_quote;

/// A Pod Security Standards level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    /// Upstream's `ParseLevel`: an unknown level is an error, and reads as `restricted` (enforce
    /// fails closed; audit and warn callers replace it).
    pub fn parse(s: &str) -> Result<Level, String> {
        match s {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err("must be one of privileged, baseline, restricted".to_string()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy version: `latest` or `v1.<minor>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    Latest,
    V1(u64),
}

/// The newest version any check changed in (upstream's evaluator clamps newer versions, and
/// `latest`, to it).
pub const MAX_MINOR: u64 = 35;

impl Version {
    /// Upstream's `ParseVersion`: `latest` or `v1.x` (no leading zeros).
    pub fn parse(s: &str) -> Result<Version, String> {
        const WHY: &str = "must be \"latest\" or \"v1.x\"";
        if s == "latest" {
            return Ok(Version::Latest);
        }
        let minor = s.strip_prefix("v1.").ok_or_else(|| WHY.to_string())?;
        let well_formed = !minor.is_empty()
            && minor.bytes().all(|b| b.is_ascii_digit())
            && (minor == "0" || !minor.starts_with('0'));
        match minor.parse::<u64>() {
            Ok(n) if well_formed && n <= i64::MAX as u64 => Ok(Version::V1(n)),
            _ => Err(WHY.to_string()),
        }
    }

    /// The minor version whose checks apply.
    fn effective_minor(self) -> u64 {
        match self {
            Version::Latest => MAX_MINOR,
            Version::V1(m) => m.min(MAX_MINOR),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::V1(m) => write!(f, "v1.{m}"),
        }
    }
}

/// A level at a version, printed `restricted:latest` as upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    pub level: Level,
    pub version: Version,
}

impl LevelVersion {
    pub fn new(level: Level, version: Version) -> LevelVersion {
        LevelVersion { level, version }
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

/// One failed check: upstream's `ForbiddenReason` and `ForbiddenDetail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub reason: String,
    pub detail: String,
}

/// Every failed check of `lv` on a pod (`meta` is its metadata, `spec` its spec), in upstream's
/// order (baseline checks, then restricted ones, each by check id). Empty: allowed.
pub fn evaluate(lv: LevelVersion, meta: &Value, spec: &Value) -> Vec<Violation> {
    if lv.level == Level::Privileged {
        return Vec::new();
    }
    let minor = lv.version.effective_minor();
    let pod = Pod { meta, spec };
    let restricted = lv.level == Level::Restricted;
    // Baseline checks a restricted check replaces at this version.
    let overridden: Vec<&str> = if restricted {
        RESTRICTED
            .iter()
            .filter(|c| c.since <= minor)
            .filter_map(|c| c.overrides)
            .collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    let baseline = BASELINE
        .iter()
        .filter(|c| c.since <= minor && !overridden.contains(&c.id));
    let extra = RESTRICTED.iter().filter(|c| restricted && c.since <= minor);
    for c in baseline.chain(extra) {
        if let Some(v) = (c.run)(minor, &pod) {
            out.push(v);
        }
    }
    out
}

/// The reasons alone, comma-separated (upstream's `ForbiddenReason`, used for existing pods).
pub fn forbidden_reason(v: &[Violation]) -> String {
    v.iter()
        .map(|v| v.reason.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `reason (detail), reason (detail)` (upstream's `ForbiddenDetail`, used in messages).
pub fn forbidden_detail(v: &[Violation]) -> String {
    v.iter()
        .map(|v| {
            if v.detail.is_empty() {
                v.reason.clone()
            } else {
                format!("{} ({})", v.reason, v.detail)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// The check table.

type CheckFn = fn(u64, &Pod<'_>) -> Option<Violation>;

struct Check {
    /// Upstream's check id; checks run in id order.
    id: &'static str,
    /// The first minor version the check applies to.
    since: u64,
    /// The baseline check this (restricted) check replaces.
    overrides: Option<&'static str>,
    run: CheckFn,
}

const BASELINE: &[Check] = &[
    Check {
        id: "appArmorProfile",
        since: 0,
        overrides: None,
        run: app_armor_profile,
    },
    Check {
        id: "capabilities_baseline",
        since: 0,
        overrides: None,
        run: capabilities_baseline,
    },
    Check {
        id: "hostNamespaces",
        since: 0,
        overrides: None,
        run: host_namespaces,
    },
    Check {
        id: "hostPathVolumes",
        since: 0,
        overrides: None,
        run: host_path_volumes,
    },
    Check {
        id: "hostPorts",
        since: 0,
        overrides: None,
        run: host_ports,
    },
    Check {
        id: "hostProbesAndHostLifecycle",
        since: 34,
        overrides: None,
        run: host_probes_and_lifecycle,
    },
    Check {
        id: "privileged",
        since: 0,
        overrides: None,
        run: privileged,
    },
    Check {
        id: "procMount",
        since: 0,
        overrides: None,
        run: proc_mount_baseline,
    },
    Check {
        id: "seLinuxOptions",
        since: 0,
        overrides: None,
        run: se_linux_options,
    },
    Check {
        id: "seccompProfile_baseline",
        since: 0,
        overrides: None,
        run: seccomp_baseline,
    },
    Check {
        id: "sysctls",
        since: 0,
        overrides: None,
        run: sysctls,
    },
    Check {
        id: "windowsHostProcess",
        since: 0,
        overrides: None,
        run: windows_host_process,
    },
];

const RESTRICTED: &[Check] = &[
    Check {
        id: "allowPrivilegeEscalation",
        since: 8,
        overrides: None,
        run: allow_privilege_escalation,
    },
    Check {
        id: "capabilities_restricted",
        since: 22,
        overrides: Some("capabilities_baseline"),
        run: capabilities_restricted,
    },
    Check {
        id: "procMount_restricted",
        since: 35,
        overrides: Some("procMount"),
        run: proc_mount_restricted,
    },
    Check {
        id: "restrictedVolumes",
        since: 0,
        overrides: Some("hostPathVolumes"),
        run: restricted_volumes,
    },
    Check {
        id: "runAsNonRoot",
        since: 0,
        overrides: None,
        run: run_as_non_root,
    },
    Check {
        id: "runAsUser",
        since: 23,
        overrides: None,
        run: run_as_user,
    },
    Check {
        id: "seccompProfile_restricted",
        since: 19,
        overrides: Some("seccompProfile_baseline"),
        run: seccomp_restricted,
    },
];

// ---------------------------------------------------------------------------------------------
// Reading the pod.

struct Pod<'a> {
    meta: &'a Value,
    spec: &'a Value,
}

/// `v.a.b.c`, with `null` read as absent (as Go's decoder leaves a pointer nil).
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    (!cur.is_null()).then_some(cur)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).and_then(Value::as_str).unwrap_or_default()
}

fn bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    at(v, path).and_then(Value::as_bool)
}

fn list_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn name_of(c: &Value) -> String {
    str_at(c, &["name"]).to_string()
}

impl<'a> Pod<'a> {
    /// Init containers, containers, then ephemeral containers (upstream's visiting order).
    fn containers(&self) -> impl Iterator<Item = &'a Value> + 'a {
        let spec = self.spec;
        ["initContainers", "containers", "ephemeralContainers"]
            .into_iter()
            .flat_map(move |k| list_at(spec, &[k]).iter())
    }

    fn annotations(&self) -> Option<&'a Map<String, Value>> {
        at(self.meta, &["annotations"]).and_then(Value::as_object)
    }

    fn is_windows(&self) -> bool {
        str_at(self.spec, &["os", "name"]) == "windows"
    }

    /// `hostUsers: false`: the pod runs in a user namespace.
    fn in_user_namespace(&self) -> bool {
        bool_at(self.spec, &["hostUsers"]) == Some(false)
    }
}

fn pluralize<'s>(singular: &'s str, plural: &'s str, n: usize) -> &'s str {
    if n == 1 {
        singular
    } else {
        plural
    }
}

/// `"a", "b"` (upstream's `joinQuote`: no escaping).
fn join_quote<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items
        .into_iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect();
    items.join(", ")
}

/// `container "a"` / `containers "a", "b"`.
fn containers_phrase(names: &[String]) -> String {
    format!(
        "{} {}",
        pluralize("container", "containers", names.len()),
        join_quote(names)
    )
}

fn violation(reason: &str, detail: String) -> Option<Violation> {
    Some(Violation {
        reason: reason.to_string(),
        detail,
    })
}

// ---------------------------------------------------------------------------------------------
// Baseline checks.

/// AppArmor: only `RuntimeDefault`/`Localhost` profile types, and the deprecated annotations
/// only `runtime/default`, `localhost/*` or empty.
fn app_armor_profile(_: u64, pod: &Pod<'_>) -> Option<Violation> {
    const ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";
    let allowed_type = |p: &Value| matches!(str_at(p, &["type"]), "RuntimeDefault" | "Localhost");
    let mut setters = Vec::new();
    let mut bad_values = BTreeSet::new();
    if let Some(p) = at(pod.spec, &["securityContext", "appArmorProfile"]) {
        if !allowed_type(p) {
            setters.push("pod".to_string());
            bad_values.insert(str_at(p, &["type"]).to_string());
        }
    }
    let mut bad_containers = Vec::new();
    for c in pod.containers() {
        if let Some(p) = at(c, &["securityContext", "appArmorProfile"]) {
            if !allowed_type(p) {
                bad_containers.push(name_of(c));
                bad_values.insert(str_at(p, &["type"]).to_string());
            }
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    let mut bad_annotations: Vec<String> = pod
        .annotations()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with(ANNOTATION_PREFIX))
        .filter_map(|(k, v)| {
            let v = v.as_str().unwrap_or_default();
            let ok = v.is_empty() || v == "runtime/default" || v.starts_with("localhost/");
            (!ok).then(|| format!("{k}={}", go_quote(v)))
        })
        .collect();
    bad_annotations.sort();
    let mut bad_list: Vec<String> = bad_values.into_iter().collect();
    if !bad_annotations.is_empty() {
        setters.push(pluralize("annotation", "annotations", bad_annotations.len()).to_string());
        bad_list.extend(bad_annotations);
    }
    if setters.is_empty() {
        return None;
    }
    violation(
        pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            bad_list.len(),
        ),
        format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&bad_list)
        ),
    )
}

const DEFAULT_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Capabilities: nothing added beyond the container runtime's default set.
fn capabilities_baseline(_: u64, pod: &Pod<'_>) -> Option<Violation> {
    let mut bad_containers = Vec::new();
    let mut bad_caps = BTreeSet::new();
    for c in pod.containers() {
        let Some(caps) = at(c, &["securityContext", "capabilities"]) else {
            continue;
        };
        let mut valid = true;
        for cap in list_at(caps, &["add"]) {
            let cap = cap.as_str().unwrap_or_default();
            if !DEFAULT_CAPABILITIES.contains(&cap) {
                valid = false;
                bad_caps.insert(cap.to_string());
            }
        }
        if !valid {
            bad_containers.push(name_of(c));
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    violation(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad_containers),
            join_quote(&bad_caps)
        ),
    )
}

/// Host namespaces: no hostNetwork, hostPID or hostIPC.
fn host_namespaces(_: u64, pod: &Pod<'_>) -> Option<Violation> {
    let set: Vec<&str> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|k| bool_at(pod.spec, &[k]) == Some(true))
        .collect();
    if set.is_empty() {
        return None;
    }
    violation(
        "host namespaces",
        set.iter()
            .map(|k| format!("{k}=true"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// No hostPath volumes.
fn host_path_volumes(_: u64, pod: &Pod<'_>) -> Option<Violation> {
    let names: Vec<String> = list_at(pod.spec, &["volumes"])
        .iter()
        .filter(|v| at(v, &["hostPath"]).is_some())
        .map(name_of)
        .collect();
    if names.is_empty() {
        return None;
    }
    violation(
        "hostPath volumes",
        format!(
            "{} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names)
        ),
    )
}

/// No host ports.
fn host_ports(_: u64, pod: &Pod<'_>) -> Option<Violation> {
    let mut bad_containers = Vec::new();
    let mut ports = BTreeSet::new();
    for c in pod.containers() {
        let mut valid = true;
        for p in list_at(c, &["ports"]) {
            let hp = at(p, &["hostPort"]).and_then(Value::as_i64).unwrap_or(0);
            if hp != 0 {
                valid = false;
                ports.insert(hp.to_string());
            }
        }
        if !valid {
            bad_containers.push(name_of(c));
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    violation(
        "hostPort",
        format!(
            "{} {} {} {}",
            containers_phrase(&bad_containers),
            pluralize("uses", "use", bad_containers.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.into_iter().collect::<Vec<_>>().join(", ")
        ),
    )
}

/// No `host` in probes' and lifecycle handlers' httpGet/tcpSocket (v1.34+).
fn host_probes_and_lifecycle(_: u64, pod: &Pod<'_>) -> Option<Violation> {
    let mut bad_containers = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for c in pod.containers() {
        let handlers = [
            at(c, &["livenessProbe"]),
            at(c, &["readinessProbe"]),
            at(c, &["startupProbe"]),
            at(c, &["lifecycle", "postStart"]),
            at(c, &["lifecycle", "preStop"]),
        ];
        for h in handlers.into_iter().flatten() {
            for kind in ["httpGet", "tcpSocket"] {
                let host = str_at(h, &[kind, "host"]);
                if at(h, &[kind]).is_some() && !host.is_empty() {
                    bad_containers.insert(name_of(c));
                    hosts.insert(host.to_string());
                }
            }
        }
    }
    if bad_containers.is_empty() {
        return None;
    }
    violation(
        "probe or lifecycle host",
        format!(
            "{} {} {} {} {}",
            pluralize("container", "containers", bad_containers.len()),
            join_quote(&bad_containers),
            pluralize("uses", "use", bad_containers.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                hosts.len()
            ),
            join_quote(&hosts)
        ),
    )
}

/// No privileged containers.
fn privileged(_: u64, pod: &Pod<'_>) -> Option<Violation> {
    let bad: Vec<String> = pod
        .containers()
        .filter(|c| bool_at(c, &["securityContext", "privileged"]) == Some(true))
        .map(name_of)
        .collect();
    if bad.is_empty() {
        return None;
    }
    violation(
        "privileged",
        format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&bad)
        ),
    )
}

/// procMount only `Default`, unconditionally (restricted; baseline before v1.35).
fn proc_mount_strict(pod: &Pod<'_>) -> Option<Violation> {
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for c in pod.containers() {
        let Some(pm) = at(c, &["securityContext", "procMount"]) else {
            continue;
        };
        let pm = pm.as_str().unwrap_or_default();
        if pm != "Default" {
            bad.push(name_of(c));
            types.insert(pm.to_string());
        }
    }
    if bad.is_empty() {
        return None;
    }
    violation(
        "procMount",
        format!(
            "{} must not set securityContext.procMount to {}",
            containers_phrase(&bad),
            join_quote(&types)
        ),
    )
}

/// procMount: since v1.35 baseline allows any value for pods in a user namespace.
fn proc_mount_baseline(minor: u64, pod: &Pod<'_>) -> Option<Violation> {
    if minor >= 35 && pod.in_user_namespace() {
        return None;
    }
    proc_mount_strict(pod)
}

fn proc_mount_restricted(_: u64, pod: &Pod<'_>) -> Option<Violation> {
    proc_mount_strict(pod)
}

/// SELinux: only the container types, no user or role.
fn se_linux_options(minor: u64, pod: &Pod<'_>) -> Option<Violation> {
    let allowed_type = |t: &str| {
        matches!(
            t,
            "" | "container_t" | "container_init_t" | "container_kvm_t"
        ) || (minor >= 31 && t == "container_engine_t")
    };
    let mut bad_types = BTreeSet::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut check = |opts: &Value| {
        let mut valid = true;
        let t = str_at(opts, &["type"]);
        if !allowed_type(t) {
            valid = false;
            bad_types.insert(t.to_string());
        }
        if !str_at(opts, &["user"]).is_empty() {
            valid = false;
            set_user = true;
        }
        if !str_at(opts, &["role"]).is_empty() {
            valid = false;
            set_role = true;
        }
        valid
    };
    let mut setters = Vec::new();
    if let Some(o) = at(pod.spec, &["securityContext", "seLinuxOptions"]) {
        if !check(o) {
            setters.push("pod".to_string());
        }
    }
    let mut bad_containers = Vec::new();
    for c in pod.containers() {
        if let Some(o) = at(c, &["securityContext", "seLinuxOptions"]) {
            if !check(o) {
                bad_containers.push(name_of(c));
            }
        }
    }
    if !bad_containers.is_empty() {
        setters.push(containers_phrase(&bad_containers));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        data.push(format!(
            "{} {}",
            pluralize("type", "types", bad_types.len()),
            join_quote(&bad_types)
        ));
    }
    if set_user {
        data.push("user may not be set".to_string());
    }
    if set_role {
        data.push("role may not be set".to_string());
    }
    violation(
        "seLinuxOptions",
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
    )
}

fn valid_seccomp_type(t: &str) -> bool {
    t == "Localhost" || t == "RuntimeDefault"
}

/// Seccomp, baseline: not `Unconfined` (before v1.19: the alpha annotations).
fn seccomp_baseline(minor: u64, pod: &Pod<'_>) -> Option<Violation> {
    if minor < 19 {
        return seccomp_annotations(pod);
    }
    let (setters, bad_values, _) = seccomp_setters(pod);
    if setters.is_empty() {
        return None;
    }
    violation(
        "seccompProfile",
        format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            setters.join(" and "),
            join_quote(&bad_values)
        ),
    )
}

/// Before v1.19: the seccomp alpha annotations of the pod and its containers.
fn seccomp_annotations(pod: &Pod<'_>) -> Option<Violation> {
    const POD_KEY: &str = "seccomp.security.alpha.kubernetes.io/pod";
    const CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
    let annotations = pod.annotations();
    let valid =
        |v: &str| v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/");
    let mut forbidden = BTreeSet::new();
    let mut check = |key: &str| {
        if let Some(v) = annotations.and_then(|a| a.get(key)) {
            let v = v.as_str().unwrap_or_default();
            if !valid(v) {
                forbidden.insert(format!("{key}={}", go_quote(v)));
            }
        }
    };
    check(POD_KEY);
    for c in pod.containers() {
        check(&format!("{CONTAINER_PREFIX}{}", name_of(c)));
    }
    if forbidden.is_empty() {
        return None;
    }
    violation(
        "seccompProfile",
        format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", forbidden.len()),
            forbidden.into_iter().collect::<Vec<_>>().join(", ")
        ),
    )
}

/// Who explicitly sets a bad seccomp profile type, the bad types, and the containers that set
/// none while the pod sets no valid one either.
fn seccomp_setters(pod: &Pod<'_>) -> (Vec<String>, BTreeSet<String>, Vec<String>) {
    let mut setters = Vec::new();
    let mut bad_values = BTreeSet::new();
    let mut pod_set = false;
    if let Some(p) = at(pod.spec, &["securityContext", "seccompProfile"]) {
        let t = str_at(p, &["type"]);
        if valid_seccomp_type(t) {
            pod_set = true;
        } else {
            setters.push("pod".to_string());
            bad_values.insert(t.to_string());
        }
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in pod.containers() {
        match at(c, &["securityContext", "seccompProfile"]) {
            Some(p) => {
                let t = str_at(p, &["type"]);
                if !valid_seccomp_type(t) {
                    explicit.push(name_of(c));
                    bad_values.insert(t.to_string());
                }
            }
            None if !pod_set => implicit.push(name_of(c)),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    (setters, bad_values, implicit)
}

/// The sysctls a pod may set at each version.
fn sysctl_allowed(minor: u64, name: &str) -> bool {
    const V1_0: &[&str] = &[
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    ];
    const V1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
    const V1_29: &[&str] = &[
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    ];
    const V1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];
    V1_0.contains(&name)
        || (minor >= 27 && V1_27.contains(&name))
        || (minor >= 29 && V1_29.contains(&name))
        || (minor >= 32 && V1_32.contains(&name))
}

/// Only the safe (namespaced, isolated) sysctls.
fn sysctls(minor: u64, pod: &Pod<'_>) -> Option<Violation> {
    let bad: Vec<&str> = list_at(pod.spec, &["securityContext", "sysctls"])
        .iter()
        .map(|s| str_at(s, &["name"]))
        .filter(|n| !sysctl_allowed(minor, n))
        .collect();
    if bad.is_empty() {
        return None;
    }
    violation("forbidden sysctls", bad.join(", "))
}

/// No Windows HostProcess pods or containers.
fn windows_host_process(_: u64, pod: &Pod<'_>) -> Option<Violation> {
    let path = ["securityContext", "windowsOptions", "hostProcess"];
    let bad: Vec<String> = pod
        .containers()
        .filter(|c| bool_at(c, &path) == Some(true))
        .map(name_of)
        .collect();
    let mut setters = Vec::new();
    if bool_at(pod.spec, &path) == Some(true) {
        setters.push("pod".to_string());
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    violation(
        "hostProcess",
        format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters.join(" and ")
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Restricted checks.

/// allowPrivilegeEscalation must be false (Windows pods exempt since v1.25).
fn allow_privilege_escalation(minor: u64, pod: &Pod<'_>) -> Option<Violation> {
    if minor >= 25 && pod.is_windows() {
        return None;
    }
    let bad: Vec<String> = pod
        .containers()
        .filter(|c| bool_at(c, &["securityContext", "allowPrivilegeEscalation"]) != Some(false))
        .map(name_of)
        .collect();
    if bad.is_empty() {
        return None;
    }
    violation(
        "allowPrivilegeEscalation != false",
        format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&bad)
        ),
    )
}

/// Containers drop ALL and add at most NET_BIND_SERVICE (Windows pods exempt since v1.25).
fn capabilities_restricted(minor: u64, pod: &Pod<'_>) -> Option<Violation> {
    if minor >= 25 && pod.is_windows() {
        return None;
    }
    let mut missing_drop = Vec::new();
    let mut adding = Vec::new();
    let mut forbidden = BTreeSet::new();
    for c in pod.containers() {
        let Some(caps) = at(c, &["securityContext", "capabilities"]) else {
            missing_drop.push(name_of(c));
            continue;
        };
        if !list_at(caps, &["drop"])
            .iter()
            .any(|d| d.as_str() == Some("ALL"))
        {
            missing_drop.push(name_of(c));
        }
        let mut added_forbidden = false;
        for a in list_at(caps, &["add"]) {
            let a = a.as_str().unwrap_or_default();
            if a != "NET_BIND_SERVICE" {
                added_forbidden = true;
                forbidden.insert(a.to_string());
            }
        }
        if added_forbidden {
            adding.push(name_of(c));
        }
    }
    let mut details = Vec::new();
    if !missing_drop.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            containers_phrase(&missing_drop)
        ));
    }
    if !adding.is_empty() {
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&adding),
            join_quote(&forbidden)
        ));
    }
    if details.is_empty() {
        return None;
    }
    violation("unrestricted capabilities", details.join("; "))
}

/// Only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim,
/// projected and secret volumes.
fn restricted_volumes(_: u64, pod: &Pod<'_>) -> Option<Violation> {
    const ALLOWED: &[&str] = &[
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    const RESTRICTED_TYPES: &[&str] = &[
        "hostPath",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "gitRepo",
        "nfs",
        "iscsi",
        "glusterfs",
        "rbd",
        "flexVolume",
        "cinder",
        "cephfs",
        "flocker",
        "fc",
        "azureFile",
        "vsphereVolume",
        "quobyte",
        "azureDisk",
        "photonPersistentDisk",
        "portworxVolume",
        "scaleIO",
        "storageos",
    ];
    let mut bad = Vec::new();
    let mut types = BTreeSet::new();
    for v in list_at(pod.spec, &["volumes"]) {
        if ALLOWED.iter().any(|k| at(v, &[k]).is_some()) {
            continue;
        }
        bad.push(name_of(v));
        let t = RESTRICTED_TYPES
            .iter()
            .find(|k| at(v, &[k]).is_some())
            .copied()
            .unwrap_or("unknown");
        types.insert(t);
    }
    if bad.is_empty() {
        return None;
    }
    violation(
        "restricted volume types",
        format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", bad.len()),
            join_quote(&bad),
            pluralize("uses", "use", bad.len()),
            pluralize(
                "restricted volume type",
                "restricted volume types",
                types.len()
            ),
            join_quote(&types)
        ),
    )
}

/// runAsNonRoot must be true, on the pod or on every container (any value for pods in a user
/// namespace since v1.35).
fn run_as_non_root(minor: u64, pod: &Pod<'_>) -> Option<Violation> {
    if minor >= 35 && pod.in_user_namespace() {
        return None;
    }
    let mut setters = Vec::new();
    let mut pod_true = false;
    match bool_at(pod.spec, &["securityContext", "runAsNonRoot"]) {
        Some(false) => setters.push("pod".to_string()),
        Some(true) => pod_true = true,
        None => {}
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for c in pod.containers() {
        match bool_at(c, &["securityContext", "runAsNonRoot"]) {
            Some(false) => explicit.push(name_of(c)),
            Some(true) => {}
            None if !pod_true => implicit.push(name_of(c)),
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return violation(
            "runAsNonRoot != true",
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters.join(" and ")
            ),
        );
    }
    if !implicit.is_empty() {
        return violation(
            "runAsNonRoot != true",
            format!(
                "pod or {} must set securityContext.runAsNonRoot=true",
                containers_phrase(&implicit)
            ),
        );
    }
    None
}

/// runAsUser must not be 0 (any value for pods in a user namespace since v1.35).
fn run_as_user(minor: u64, pod: &Pod<'_>) -> Option<Violation> {
    if minor >= 35 && pod.in_user_namespace() {
        return None;
    }
    let is_root =
        |v: &Value| at(v, &["securityContext", "runAsUser"]).and_then(Value::as_i64) == Some(0);
    let mut setters = Vec::new();
    if is_root(pod.spec) {
        setters.push("pod".to_string());
    }
    let bad: Vec<String> = pod
        .containers()
        .filter(|c| is_root(c))
        .map(name_of)
        .collect();
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    violation(
        "runAsUser=0",
        format!("{} must not set runAsUser=0", setters.join(" and ")),
    )
}

/// Seccomp, restricted: `RuntimeDefault` or `Localhost` on the pod or on every container
/// (Windows pods exempt since v1.25).
fn seccomp_restricted(minor: u64, pod: &Pod<'_>) -> Option<Violation> {
    if minor >= 25 && pod.is_windows() {
        return None;
    }
    let (setters, bad_values, implicit) = seccomp_setters(pod);
    if !setters.is_empty() {
        return violation(
            "seccompProfile",
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                join_quote(&bad_values)
            ),
        );
    }
    if !implicit.is_empty() {
        return violation(
            "seccompProfile",
            format!(
                "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                containers_phrase(&implicit)
            ),
        );
    }
    None
}

#[cfg(test)]
mod tests;
