//! `kubectl get` tables: the columns and cells of a `meta.k8s.io/v1` Table for every built-in kind.
//!
//! Behaviour follows upstream Kubernetes v1.35's table printers (`pkg/printers/internalversion`),
//! as the API server runs them: always in wide mode, so a row carries one cell per column,
//! including the `priority: 1` columns kubectl shows only with `-o wide`. Kinds without a printer
//! get the generic convertor's two columns, `Name` and `Created At`.
//!
//! Objects are the JSON of the stored object. Every accessor tolerates any JSON shape: a field of
//! the wrong type reads as absent, and a row always has exactly as many cells as its kind has columns.

use serde_json::{json, Value};

/// A column of a meta.k8s.io/v1 Table (serialises as upstream's TableColumnDefinition).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Human-readable column name ("Name", "Ready", ...).
    pub name: &'static str,
    /// OpenAPI type: "string", "integer", "number", "boolean" or "date".
    pub type_: &'static str,
    /// OpenAPI format: "name" for the object's name column, else "".
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 = always shown; 1 = only with `-o wide`.
    pub priority: i32,
}

const fn col(
    name: &'static str,
    type_: &'static str,
    format: &'static str,
    priority: i32,
    description: &'static str,
) -> Column {
    Column {
        name,
        type_,
        format,
        description,
        priority,
    }
}

/// Which upstream printer handles a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printer {
    Pod,
    PodTemplate,
    PodDisruptionBudget,
    ReplicationController,
    ReplicaSet,
    DaemonSet,
    Job,
    CronJob,
    Service,
    Ingress,
    IngressClass,
    StatefulSet,
    Endpoints,
    Node,
    Event,
    Namespace,
    Secret,
    ServiceAccount,
    PersistentVolume,
    PersistentVolumeClaim,
    ComponentStatus,
    Deployment,
    HorizontalPodAutoscaler,
    ConfigMap,
    NetworkPolicy,
    RoleBinding,
    ClusterRoleBinding,
    CertificateSigningRequest,
    ClusterTrustBundle,
    PodCertificateRequest,
    Lease,
    LeaseCandidate,
    StorageClass,
    VolumeAttributesClass,
    ControllerRevision,
    ResourceQuota,
    PriorityClass,
    RuntimeClass,
    VolumeAttachment,
    EndpointSlice,
    CsiNode,
    CsiDriver,
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
    MutatingAdmissionPolicy,
    MutatingAdmissionPolicyBinding,
    FlowSchema,
    PriorityLevelConfiguration,
    StorageVersion,
    Scale,
    DeviceClass,
    ResourceClaim,
    ResourceClaimTemplate,
    ResourceSlice,
    DeviceTaintRule,
    ServiceCidr,
    IpAddress,
    StorageVersionMigration,
    Workload,
}

fn printer(group: &str, kind: &str) -> Option<Printer> {
    use Printer::*;
    let p = match (group, kind) {
        ("", "Pod") => Pod,
        ("", "PodTemplate") => PodTemplate,
        ("", "ReplicationController") => ReplicationController,
        ("", "Service") => Service,
        ("", "Endpoints") => Endpoints,
        ("", "Node") => Node,
        ("", "Event") | ("events.k8s.io", "Event") => Event,
        ("", "Namespace") => Namespace,
        ("", "Secret") => Secret,
        ("", "ServiceAccount") => ServiceAccount,
        ("", "PersistentVolume") => PersistentVolume,
        ("", "PersistentVolumeClaim") => PersistentVolumeClaim,
        ("", "ComponentStatus") => ComponentStatus,
        ("", "ConfigMap") => ConfigMap,
        ("", "ResourceQuota") => ResourceQuota,
        ("apps", "Deployment") => Deployment,
        ("apps", "ReplicaSet") => ReplicaSet,
        ("apps", "DaemonSet") => DaemonSet,
        ("apps", "StatefulSet") => StatefulSet,
        ("apps", "ControllerRevision") => ControllerRevision,
        ("batch", "Job") => Job,
        ("batch", "CronJob") => CronJob,
        ("policy", "PodDisruptionBudget") => PodDisruptionBudget,
        ("autoscaling", "HorizontalPodAutoscaler") => HorizontalPodAutoscaler,
        ("autoscaling", "Scale") => Scale,
        ("networking.k8s.io", "Ingress") => Ingress,
        ("networking.k8s.io", "IngressClass") => IngressClass,
        ("networking.k8s.io", "NetworkPolicy") => NetworkPolicy,
        ("networking.k8s.io", "ServiceCIDR") => ServiceCidr,
        ("networking.k8s.io", "IPAddress") => IpAddress,
        ("discovery.k8s.io", "EndpointSlice") => EndpointSlice,
        ("rbac.authorization.k8s.io", "RoleBinding") => RoleBinding,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => ClusterRoleBinding,
        ("certificates.k8s.io", "CertificateSigningRequest") => CertificateSigningRequest,
        ("certificates.k8s.io", "ClusterTrustBundle") => ClusterTrustBundle,
        ("certificates.k8s.io", "PodCertificateRequest") => PodCertificateRequest,
        ("coordination.k8s.io", "Lease") => Lease,
        ("coordination.k8s.io", "LeaseCandidate") => LeaseCandidate,
        ("storage.k8s.io", "StorageClass") => StorageClass,
        ("storage.k8s.io", "VolumeAttributesClass") => VolumeAttributesClass,
        ("storage.k8s.io", "VolumeAttachment") => VolumeAttachment,
        ("storage.k8s.io", "CSINode") => CsiNode,
        ("storage.k8s.io", "CSIDriver") => CsiDriver,
        // storage.k8s.io CSIStorageCapacity has a printer upstream, but its REST storage is wired
        // to the generic convertor, so the server answers with Name / Created At.
        ("scheduling.k8s.io", "PriorityClass") => PriorityClass,
        ("scheduling.k8s.io", "Workload") => Workload,
        ("node.k8s.io", "RuntimeClass") => RuntimeClass,
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            MutatingWebhookConfiguration
        }
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            ValidatingWebhookConfiguration
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => ValidatingAdmissionPolicy,
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            ValidatingAdmissionPolicyBinding
        }
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy") => MutatingAdmissionPolicy,
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding") => {
            MutatingAdmissionPolicyBinding
        }
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => FlowSchema,
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => {
            PriorityLevelConfiguration
        }
        ("internal.apiserver.k8s.io", "StorageVersion") => StorageVersion,
        ("storagemigration.k8s.io", "StorageVersionMigration") => StorageVersionMigration,
        ("resource.k8s.io", "DeviceClass") => DeviceClass,
        ("resource.k8s.io", "ResourceClaim") => ResourceClaim,
        ("resource.k8s.io", "ResourceClaimTemplate") => ResourceClaimTemplate,
        ("resource.k8s.io", "ResourceSlice") => ResourceSlice,
        ("resource.k8s.io", "DeviceTaintRule") => DeviceTaintRule,
        _ => return None,
    };
    Some(p)
}

fn printer_columns(p: Printer) -> &'static [Column] {
    use Printer::*;
    match p {
        Pod => POD_COLUMNS,
        PodTemplate => POD_TEMPLATE_COLUMNS,
        PodDisruptionBudget => POD_DISRUPTION_BUDGET_COLUMNS,
        ReplicationController => REPLICATION_CONTROLLER_COLUMNS,
        ReplicaSet => REPLICA_SET_COLUMNS,
        DaemonSet => DAEMON_SET_COLUMNS,
        Job => JOB_COLUMNS,
        CronJob => CRON_JOB_COLUMNS,
        Service => SERVICE_COLUMNS,
        Ingress => INGRESS_COLUMNS,
        IngressClass => INGRESS_CLASS_COLUMNS,
        StatefulSet => STATEFUL_SET_COLUMNS,
        Endpoints => ENDPOINT_COLUMNS,
        Node => NODE_COLUMNS,
        Event => EVENT_COLUMNS,
        Namespace => NAMESPACE_COLUMNS,
        Secret => SECRET_COLUMNS,
        ServiceAccount => SERVICE_ACCOUNT_COLUMNS,
        PersistentVolume => PERSISTENT_VOLUME_COLUMNS,
        PersistentVolumeClaim => PERSISTENT_VOLUME_CLAIM_COLUMNS,
        ComponentStatus => COMPONENT_STATUS_COLUMNS,
        Deployment => DEPLOYMENT_COLUMNS,
        HorizontalPodAutoscaler => HORIZONTAL_POD_AUTOSCALER_COLUMNS,
        ConfigMap => CONFIG_MAP_COLUMNS,
        NetworkPolicy => NETWORK_POLICY_COLUMNS,
        RoleBinding => ROLE_BINDINGS_COLUMNS,
        ClusterRoleBinding => CLUSTER_ROLE_BINDINGS_COLUMNS,
        CertificateSigningRequest => CERTIFICATE_SIGNING_REQUEST_COLUMNS,
        ClusterTrustBundle => CLUSTER_TRUST_BUNDLE_COLUMNS,
        PodCertificateRequest => POD_CERTIFICATE_REQUEST_COLUMNS,
        Lease => LEASE_COLUMNS,
        LeaseCandidate => LEASE_CANDIDATE_COLUMNS,
        StorageClass => STORAGE_CLASS_COLUMNS,
        VolumeAttributesClass => VOLUME_ATTRIBUTES_CLASS_COLUMNS,
        ControllerRevision => CONTROLLER_REVISION_COLUMNS,
        ResourceQuota => RESOURCE_QUOTA_COLUMNS,
        PriorityClass => PRIORITY_CLASS_COLUMNS,
        RuntimeClass => RUNTIME_CLASS_COLUMNS,
        VolumeAttachment => VOLUME_ATTACHMENT_COLUMNS,
        EndpointSlice => ENDPOINT_SLICE_COLUMNS,
        CsiNode => CSI_NODE_COLUMNS,
        CsiDriver => CSI_DRIVER_COLUMNS,
        MutatingWebhookConfiguration => MUTATING_WEBHOOK_COLUMNS,
        ValidatingWebhookConfiguration => VALIDATING_WEBHOOK_COLUMNS,
        ValidatingAdmissionPolicy => VALIDATING_ADMISSION_POLICY_COLUMNS,
        ValidatingAdmissionPolicyBinding => VALIDATING_ADMISSION_POLICY_BINDING_COLUMNS,
        MutatingAdmissionPolicy => MUTATING_ADMISSION_POLICY_COLUMNS,
        MutatingAdmissionPolicyBinding => MUTATING_ADMISSION_POLICY_BINDING_COLUMNS,
        FlowSchema => FLOW_SCHEMA_COLUMNS,
        PriorityLevelConfiguration => PRIORITY_LEVEL_COLUMNS,
        StorageVersion => STORAGE_VERSION_COLUMNS,
        Scale => SCALE_COLUMNS,
        DeviceClass => DEVICE_CLASS_COLUMNS,
        ResourceClaim => RESOURCE_CLAIM_COLUMNS,
        ResourceClaimTemplate => RESOURCE_CLAIM_TEMPLATE_COLUMNS,
        ResourceSlice => NODE_RESOURCE_SLICE_COLUMNS,
        DeviceTaintRule => DEVICE_TAINT_COLUMNS,
        ServiceCidr => SERVICE_CIDR_COLUMNS,
        IpAddress => IP_ADDRESS_COLUMNS,
        StorageVersionMigration => STORAGE_VERSION_MIGRATION_COLUMNS,
        Workload => WORKLOAD_COLUMNS,
    }
}

/// The generic convertor's columns, for kinds without a printer.
const DEFAULT_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Created At", "date", "", 0, CREATED_DESC),
];

/// Upstream's columns for a kind (group "" = core). Kinds without a printer get upstream's
/// default: Name, Created At (type "date", cell = creationTimestamp RFC3339).
pub fn columns(group: &str, kind: &str) -> Vec<Column> {
    match printer(group, kind) {
        Some(p) => printer_columns(p).to_vec(),
        None => DEFAULT_COLUMNS.to_vec(),
    }
}

/// Columns as JSON TableColumnDefinitions: {"name","type","format","description","priority"}.
pub fn column_definitions(cols: &[Column]) -> Vec<Value> {
    cols.iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.type_,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect()
}

/// Extra row conditions upstream sets (pods that Succeeded/Failed get
/// [{"type":"Completed","status":"True",...}]); empty otherwise.
pub fn row_conditions(group: &str, kind: &str, obj: &Value) -> Vec<Value> {
    if printer(group, kind) != Some(Printer::Pod) {
        return Vec::new();
    }
    match text(get(obj, &["status", "phase"])).as_str() {
        "Succeeded" => vec![json!({
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        })],
        "Failed" => vec![json!({
            "type": "Completed",
            "status": "True",
            "reason": "Failed",
            "message": "The pod failed.",
        })],
        _ => Vec::new(),
    }
}

/// apimachinery's HumanDuration ("5s", "2m30s", "3h", "4d", "2y100d" ...): about two or three
/// significant figures of a duration given in seconds.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".to_string();
    }
    if secs < 0 {
        return "0s".to_string();
    }
    if secs < 2 * 60 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let d = days % 365;
        return if d == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{d}d")
        };
    }
    format!("{years}y")
}

/// The cells of one row, one per column, as JSON values, computed as upstream's printers do
/// (in wide mode). `now` is Unix seconds (for Age and other durations).
pub fn cells(group: &str, kind: &str, obj: &Value, now: i64) -> Vec<Value> {
    let (want, mut row) = match printer(group, kind) {
        Some(p) => (printer_columns(p).len(), printer_cells(p, group, obj, now)),
        None => (DEFAULT_COLUMNS.len(), default_cells(obj)),
    };
    // Defensive: a row always matches its header, whatever the object looked like.
    row.resize(want, Value::String(String::new()));
    row
}

// ---- JSON accessors: any shape reads as "absent" rather than failing ----------------------------

static NULL: Value = Value::Null;

/// The value at `path`, or null when any step is missing or not an object.
fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for key in path {
        match cur.get(*key) {
            Some(next) => cur = next,
            None => return &NULL,
        }
    }
    cur
}

/// A string field, or "" when absent or not a string.
fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// An integer field, or 0.
fn int(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or_default(),
        _ => 0,
    }
}

/// An integer field that is present (Go's `*int32` being non-nil).
fn opt_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(_) => Some(int(v)),
        _ => None,
    }
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn map_len(v: &Value) -> i64 {
    v.as_object().map_or(0, |m| m.len() as i64)
}

fn is_set(v: &Value) -> bool {
    !v.is_null()
}

fn s(x: impl Into<String>) -> Value {
    Value::String(x.into())
}

fn or_default(x: String, default: &str) -> String {
    if x.is_empty() {
        default.to_string()
    } else {
        x
    }
}

fn name(obj: &Value) -> String {
    text(get(obj, &["metadata", "name"]))
}

/// An RFC 3339 timestamp as Unix nanoseconds; None when absent, malformed or Go's zero time.
fn parse_time_nanos(v: &Value) -> Option<i128> {
    let t = chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok()?;
    let nanos = i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos());
    // 0001-01-01T00:00:00Z is Go's zero time, which upstream treats as unset.
    if nanos == -62_135_596_800 * 1_000_000_000 {
        return None;
    }
    Some(nanos)
}

/// An RFC 3339 timestamp as whole Unix seconds.
fn parse_time(v: &Value) -> Option<i64> {
    parse_time_nanos(v).map(|n| n.div_euclid(1_000_000_000) as i64)
}

/// Whole seconds from `v` to `now`, truncated toward zero as Go's `int(d.Seconds())` does.
fn elapsed(now: i64, v: &Value) -> Option<i64> {
    let d = i128::from(now) * 1_000_000_000 - parse_time_nanos(v)?;
    Some((d / 1_000_000_000).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// translateTimestampSince: "<unknown>" for an unset time.
fn since(v: &Value, now: i64) -> String {
    match elapsed(now, v) {
        Some(secs) => human_duration(secs),
        None => "<unknown>".to_string(),
    }
}

fn age(obj: &Value, now: i64) -> Value {
    s(since(get(obj, &["metadata", "creationTimestamp"]), now))
}

/// resource.Quantity's String() for a value (absent = the zero quantity "0").
fn quantity(v: &Value) -> String {
    match v {
        Value::String(q) => q.clone(),
        Value::Number(n) => n.to_string(),
        _ => "0".to_string(),
    }
}

/// `(*resource.Quantity).String()`: a nil pointer prints "<nil>".
fn quantity_ptr(v: &Value) -> String {
    if v.is_null() {
        "<nil>".to_string()
    } else {
        quantity(v)
    }
}

/// intstr.IntOrString's String().
fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Number(_) => int(v).to_string(),
        _ => "0".to_string(),
    }
}

/// `"True"` / `"False"` / `"<unset>"` for an optional bool.
fn bool_ptr(v: &Value) -> String {
    match v.as_bool() {
        Some(true) => "True".to_string(),
        Some(false) => "False".to_string(),
        None => "<unset>".to_string(),
    }
}

/// labels.Set(m).String(): sorted `k=v` pairs joined by ",".
fn labels_string(v: &Value) -> String {
    let mut pairs: Vec<(&str, &str)> = v
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// labels.FormatLabels: as labels_string, "<none>" when empty.
fn format_labels(v: &Value) -> String {
    or_default(labels_string(v), "<none>")
}

/// metav1.LabelSelectorAsSelector(sel).String(). `Ok(None)` is a nil selector (matches
/// nothing); `Ok(Some(""))` an empty one (matches everything); `Err` an invalid one.
fn selector_string(sel: &Value) -> Result<Option<String>, ()> {
    if !sel.is_object() {
        return Ok(None);
    }
    let labels = get(sel, &["matchLabels"]);
    let exprs = list(get(sel, &["matchExpressions"]));
    if map_len(labels) == 0 && exprs.is_empty() {
        return Ok(Some(String::new()));
    }
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = labels.as_object() {
        for (k, v) in m {
            let v = v.as_str().ok_or(())?;
            reqs.push((k.clone(), format!("{k}={v}")));
        }
    }
    for e in exprs {
        let key = text(get(e, &["key"]));
        let mut values: Vec<String> = list(get(e, &["values"]))
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or(()))
            .collect::<Result<_, _>>()?;
        let op = text(get(e, &["operator"]));
        let rendered = match op.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    return Err(());
                }
                values.sort();
                let word = if op == "In" { "in" } else { "notin" };
                format!("{key} {word} ({})", values.join(","))
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    return Err(());
                }
                if op == "Exists" {
                    key.clone()
                } else {
                    format!("!{key}")
                }
            }
            _ => return Err(()),
        };
        reqs.push((key, rendered));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Some(
        reqs.into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
            .join(","),
    ))
}

/// metav1.FormatLabelSelector: "<error>" when invalid, "<none>" when it renders empty.
fn format_label_selector(sel: &Value) -> String {
    match selector_string(sel) {
        Err(()) => "<error>".to_string(),
        Ok(x) => or_default(x.unwrap_or_default(), "<none>"),
    }
}

/// layoutContainerCells: container names and images, comma-joined.
fn container_cells(containers: &Value) -> (String, String) {
    let cs = list(containers);
    let names: Vec<String> = cs.iter().map(|c| text(get(c, &["name"]))).collect();
    let images: Vec<String> = cs.iter().map(|c| text(get(c, &["image"]))).collect();
    (names.join(","), images.join(","))
}

/// Joins up to `max` items, then " + N more..."; `<unset>` when there are none.
fn list_with_more(items: Vec<String>, max: usize) -> String {
    let count = items.len();
    let shown: Vec<String> = items.into_iter().take(max).collect();
    let ret = shown.join(",");
    if count > max {
        return format!("{ret} + {} more...", count - max);
    }
    or_default(ret, "<unset>")
}

/// The sorted, de-duplicated IPs (else hostnames) of a load balancer status, comma-joined.
/// The server renders tables wide, so the value is never clipped.
fn load_balancer_ingress(status: &Value) -> String {
    let mut out: Vec<String> = list(get(status, &["ingress"]))
        .iter()
        .filter_map(|i| {
            let ip = text(get(i, &["ip"]));
            let host = text(get(i, &["hostname"]));
            if !ip.is_empty() {
                Some(ip)
            } else if !host.is_empty() {
                Some(host)
            } else {
                None
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out.join(",")
}

fn access_modes(modes: &Value) -> String {
    let have: Vec<String> = list(modes).iter().map(text).collect();
    let mut out = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if have.iter().any(|m| m == mode) {
            out.push(short);
        }
    }
    out.join(",")
}

/// The first condition of `type_` (upstream's hasJobCondition / lookup helpers).
fn condition<'a>(conds: &'a Value, type_: &str) -> Option<&'a Value> {
    list(conds)
        .iter()
        .find(|c| get(c, &["type"]).as_str() == Some(type_))
}

fn condition_true(conds: &Value, type_: &str) -> bool {
    condition(conds, type_).is_some_and(|c| get(c, &["status"]).as_str() == Some("True"))
}

/// A `*int32` with upstream's v1 default applied when absent (defaulting runs on decode).
fn replicas_or(v: &Value, default: i64) -> i64 {
    opt_int(v).unwrap_or(default)
}

// ---- Rows ----------------------------------------------------------------------------------------

fn default_cells(obj: &Value) -> Vec<Value> {
    let created = match parse_time(get(obj, &["metadata", "creationTimestamp"])) {
        Some(t) => chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string()),
        None => "0001-01-01T00:00:00Z".to_string(),
    };
    vec![s(name(obj)), s(created)]
}

fn printer_cells(p: Printer, group: &str, obj: &Value, now: i64) -> Vec<Value> {
    use Printer::*;
    let spec = get(obj, &["spec"]);
    let status = get(obj, &["status"]);
    let n = s(name(obj));
    match p {
        Pod => pod_cells(obj, now),
        PodTemplate => {
            let (names, images) = container_cells(get(obj, &["template", "spec", "containers"]));
            let labels = format_labels(get(obj, &["template", "metadata", "labels"]));
            vec![n, s(names), s(images), s(labels)]
        }
        PodDisruptionBudget => {
            let min = get(spec, &["minAvailable"]);
            let max = get(spec, &["maxUnavailable"]);
            let fmt = |v: &Value| {
                if is_set(v) {
                    int_or_string(v)
                } else {
                    "N/A".to_string()
                }
            };
            vec![
                n,
                s(fmt(min)),
                s(fmt(max)),
                json!(int(get(status, &["disruptionsAllowed"]))),
                age(obj, now),
            ]
        }
        ReplicationController => {
            let (names, images) = container_cells(get(spec, &["template", "spec", "containers"]));
            vec![
                n,
                json!(replicas_or(get(spec, &["replicas"]), 1)),
                json!(int(get(status, &["replicas"]))),
                json!(int(get(status, &["readyReplicas"]))),
                age(obj, now),
                s(names),
                s(images),
                s(format_labels(get(spec, &["selector"]))),
            ]
        }
        ReplicaSet => {
            let (names, images) = container_cells(get(spec, &["template", "spec", "containers"]));
            vec![
                n,
                json!(replicas_or(get(spec, &["replicas"]), 1)),
                json!(int(get(status, &["replicas"]))),
                json!(int(get(status, &["readyReplicas"]))),
                age(obj, now),
                s(names),
                s(images),
                s(format_label_selector(get(spec, &["selector"]))),
            ]
        }
        DaemonSet => {
            let (names, images) = container_cells(get(spec, &["template", "spec", "containers"]));
            vec![
                n,
                json!(int(get(status, &["desiredNumberScheduled"]))),
                json!(int(get(status, &["currentNumberScheduled"]))),
                json!(int(get(status, &["numberReady"]))),
                json!(int(get(status, &["updatedNumberScheduled"]))),
                json!(int(get(status, &["numberAvailable"]))),
                s(format_labels(get(
                    spec,
                    &["template", "spec", "nodeSelector"],
                ))),
                age(obj, now),
                s(names),
                s(images),
                s(format_label_selector(get(spec, &["selector"]))),
            ]
        }
        Job => job_cells(obj, now),
        CronJob => {
            let last = get(status, &["lastScheduleTime"]);
            let last = if is_set(last) {
                since(last, now)
            } else {
                "<none>".to_string()
            };
            let tz = get(spec, &["timeZone"]);
            let tz = if is_set(tz) {
                text(tz)
            } else {
                "<none>".to_string()
            };
            // v1 defaulting sets suspend=false.
            let suspend = get(spec, &["suspend"]);
            let suspend = if suspend.is_null() {
                "False".to_string()
            } else {
                bool_ptr(suspend)
            };
            let job_spec = get(spec, &["jobTemplate", "spec"]);
            let (names, images) =
                container_cells(get(job_spec, &["template", "spec", "containers"]));
            vec![
                n,
                s(text(get(spec, &["schedule"]))),
                s(tz),
                s(suspend),
                json!(list(get(status, &["active"])).len() as i64),
                s(last),
                age(obj, now),
                s(names),
                s(images),
                s(format_label_selector(get(job_spec, &["selector"]))),
            ]
        }
        Service => service_cells(obj, now),
        Ingress => {
            let class = get(spec, &["ingressClassName"]);
            let class = if is_set(class) {
                text(class)
            } else {
                "<none>".to_string()
            };
            let ports = if list(get(spec, &["tls"])).is_empty() {
                "80"
            } else {
                "80, 443"
            };
            vec![
                n,
                s(class),
                s(ingress_hosts(get(spec, &["rules"]))),
                s(load_balancer_ingress(get(status, &["loadBalancer"]))),
                s(ports),
                age(obj, now),
            ]
        }
        IngressClass => {
            let params = get(spec, &["parameters"]);
            let params = if is_set(params) {
                let mut p = text(get(params, &["kind"]));
                if let Some(g) = get(params, &["apiGroup"]).as_str() {
                    p = format!("{p}.{g}");
                }
                format!("{p}/{}", text(get(params, &["name"])))
            } else {
                "<none>".to_string()
            };
            vec![
                n,
                s(text(get(spec, &["controller"]))),
                s(params),
                age(obj, now),
            ]
        }
        StatefulSet => {
            let (names, images) = container_cells(get(spec, &["template", "spec", "containers"]));
            let ready = format!(
                "{}/{}",
                int(get(status, &["readyReplicas"])),
                replicas_or(get(spec, &["replicas"]), 1)
            );
            vec![n, s(ready), age(obj, now), s(names), s(images)]
        }
        Endpoints => vec![
            n,
            s(format_endpoints(get(obj, &["subsets"]))),
            age(obj, now),
        ],
        Node => node_cells(obj, now),
        Event => event_cells(group, obj, now),
        Namespace => {
            // v1 defaulting sets phase=Active.
            let phase = or_default(text(get(status, &["phase"])), "Active");
            vec![n, s(phase), age(obj, now)]
        }
        Secret => {
            let type_ = or_default(text(get(obj, &["type"])), "Opaque");
            vec![
                n,
                s(type_),
                json!(map_len(get(obj, &["data"]))),
                age(obj, now),
            ]
        }
        ServiceAccount => vec![n, age(obj, now)],
        PersistentVolume => {
            let claim = get(spec, &["claimRef"]);
            let claim = if is_set(claim) {
                format!(
                    "{}/{}",
                    text(get(claim, &["namespace"])),
                    text(get(claim, &["name"]))
                )
            } else {
                String::new()
            };
            let mut phase = or_default(text(get(status, &["phase"])), "Pending");
            if is_set(get(obj, &["metadata", "deletionTimestamp"])) {
                phase = "Terminating".to_string();
            }
            let class = match get(obj, &["metadata", "annotations"])
                .get("volume.beta.kubernetes.io/storage-class")
            {
                Some(v) => text(v),
                None => text(get(spec, &["storageClassName"])),
            };
            let vac = get(spec, &["volumeAttributesClassName"]);
            let vac = if is_set(vac) {
                text(vac)
            } else {
                "<unset>".to_string()
            };
            let mode = get(spec, &["volumeMode"]);
            let mode = if is_set(mode) {
                text(mode)
            } else {
                "Filesystem".to_string()
            };
            vec![
                n,
                s(quantity(get(spec, &["capacity", "storage"]))),
                s(access_modes(get(spec, &["accessModes"]))),
                s(or_default(
                    text(get(spec, &["persistentVolumeReclaimPolicy"])),
                    "Retain",
                )),
                s(phase),
                s(claim),
                s(class),
                s(vac),
                s(text(get(status, &["reason"]))),
                age(obj, now),
                s(mode),
            ]
        }
        PersistentVolumeClaim => {
            let mut phase = or_default(text(get(status, &["phase"])), "Pending");
            if is_set(get(obj, &["metadata", "deletionTimestamp"])) {
                phase = "Terminating".to_string();
            }
            let volume = text(get(spec, &["volumeName"]));
            let (capacity, modes) = if volume.is_empty() {
                (String::new(), String::new())
            } else {
                (
                    quantity(get(status, &["capacity", "storage"])),
                    access_modes(get(status, &["accessModes"])),
                )
            };
            let class = match get(obj, &["metadata", "annotations"])
                .get("volume.beta.kubernetes.io/storage-class")
            {
                Some(v) => text(v),
                None => text(get(spec, &["storageClassName"])),
            };
            let vac = get(spec, &["volumeAttributesClassName"]);
            let vac = if is_set(vac) {
                text(vac)
            } else {
                "<unset>".to_string()
            };
            let mode = get(spec, &["volumeMode"]);
            let mode = if is_set(mode) {
                text(mode)
            } else {
                "Filesystem".to_string()
            };
            vec![
                n,
                s(phase),
                s(volume),
                s(capacity),
                s(modes),
                s(class),
                s(vac),
                age(obj, now),
                s(mode),
            ]
        }
        ComponentStatus => {
            let mut out = ("Unknown", String::new(), String::new());
            if let Some(c) = condition(get(obj, &["conditions"]), "Healthy") {
                let healthy = get(c, &["status"]).as_str() == Some("True");
                out = (
                    if healthy { "Healthy" } else { "Unhealthy" },
                    text(get(c, &["message"])),
                    text(get(c, &["error"])),
                );
            }
            vec![n, s(out.0), s(out.1), s(out.2)]
        }
        Deployment => {
            let (names, images) = container_cells(get(spec, &["template", "spec", "containers"]));
            let selector = match selector_string(get(spec, &["selector"])) {
                Err(()) => "<invalid>".to_string(),
                Ok(x) => x.unwrap_or_default(),
            };
            let ready = format!(
                "{}/{}",
                int(get(status, &["readyReplicas"])),
                replicas_or(get(spec, &["replicas"]), 1)
            );
            vec![
                n,
                s(ready),
                json!(int(get(status, &["updatedReplicas"]))),
                json!(int(get(status, &["availableReplicas"]))),
                age(obj, now),
                s(names),
                s(images),
                s(selector),
            ]
        }
        HorizontalPodAutoscaler => hpa_cells(obj, now),
        ConfigMap => {
            let count = map_len(get(obj, &["data"])) + map_len(get(obj, &["binaryData"]));
            vec![n, json!(count), age(obj, now)]
        }
        NetworkPolicy => {
            // podSelector is a value (not a pointer) upstream: absent means empty.
            let sel = get(spec, &["podSelector"]);
            let sel = if sel.is_object() {
                format_label_selector(sel)
            } else {
                "<none>".to_string()
            };
            vec![n, s(sel), age(obj, now)]
        }
        RoleBinding | ClusterRoleBinding => {
            let role_ref = format!(
                "{}/{}",
                text(get(obj, &["roleRef", "kind"])),
                text(get(obj, &["roleRef", "name"]))
            );
            let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
            for subj in list(get(obj, &["subjects"])) {
                let sname = text(get(subj, &["name"]));
                match get(subj, &["kind"]).as_str() {
                    Some("ServiceAccount") => {
                        sas.push(format!("{}/{sname}", text(get(subj, &["namespace"]))))
                    }
                    Some("User") => users.push(sname),
                    Some("Group") => groups.push(sname),
                    _ => {}
                }
            }
            vec![
                n,
                s(role_ref),
                age(obj, now),
                s(users.join(", ")),
                s(groups.join(", ")),
                s(sas.join(", ")),
            ]
        }
        CertificateSigningRequest => {
            let signer = or_default(text(get(spec, &["signerName"])), "<none>");
            let requested = match opt_int(get(spec, &["expirationSeconds"])) {
                Some(secs) => human_duration(secs),
                None => "<none>".to_string(),
            };
            vec![
                n,
                age(obj, now),
                s(signer),
                s(text(get(spec, &["username"]))),
                s(requested),
                s(csr_condition(status)),
            ]
        }
        ClusterTrustBundle => {
            vec![n, s(or_default(text(get(spec, &["signerName"])), "<none>"))]
        }
        PodCertificateRequest => {
            let mut state = "Pending".to_string();
            for c in list(get(status, &["conditions"])) {
                if let Some(t @ ("Issued" | "Denied" | "Failed")) = get(c, &["type"]).as_str() {
                    state = t.to_string();
                }
            }
            vec![
                n,
                s(text(get(spec, &["podName"]))),
                s(text(get(spec, &["serviceAccountName"]))),
                s(text(get(spec, &["nodeName"]))),
                s(text(get(spec, &["signerName"]))),
                s(state),
                s(format_labels(get(spec, &["unverifiedUserAnnotations"]))),
            ]
        }
        Lease => vec![n, s(text(get(spec, &["holderIdentity"]))), age(obj, now)],
        LeaseCandidate => vec![
            n,
            s(text(get(spec, &["leaseName"]))),
            s(text(get(spec, &["binaryVersion"]))),
            s(text(get(spec, &["emulationVersion"]))),
            age(obj, now),
        ],
        StorageClass => {
            let annotations = get(obj, &["metadata", "annotations"]);
            let is_default = [
                "storageclass.kubernetes.io/is-default-class",
                "storageclass.beta.kubernetes.io/is-default-class",
            ]
            .iter()
            .any(|a| get(annotations, &[*a]).as_str() == Some("true"));
            let mut name = name(obj);
            if is_default {
                name.push_str(" (default)");
            }
            vec![
                s(name),
                s(text(get(obj, &["provisioner"]))),
                s(or_default(text(get(obj, &["reclaimPolicy"])), "Delete")),
                s(or_default(
                    text(get(obj, &["volumeBindingMode"])),
                    "Immediate",
                )),
                json!(get(obj, &["allowVolumeExpansion"])
                    .as_bool()
                    .unwrap_or_default()),
                age(obj, now),
            ]
        }
        VolumeAttributesClass => vec![n, s(text(get(obj, &["driverName"]))), age(obj, now)],
        ControllerRevision => vec![
            n,
            s(controller_of(obj)),
            json!(int(get(obj, &["revision"]))),
            age(obj, now),
        ],
        ResourceQuota => {
            let hard = get(status, &["hard"]);
            let used = get(status, &["used"]);
            let mut keys: Vec<&String> = hard
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            keys.sort();
            let (mut requests, mut limits) = (Vec::new(), Vec::new());
            for k in keys {
                let piece = format!(
                    "{k}: {}/{}",
                    quantity(get(used, &[k.as_str()])),
                    quantity(get(hard, &[k.as_str()]))
                );
                let mut parts = k.split('.');
                let is_limit = parts.next() == Some("limits") && parts.next().is_some();
                if is_limit {
                    limits.push(piece);
                } else {
                    requests.push(piece);
                }
            }
            vec![
                n,
                s(requests.join(", ")),
                s(limits.join(", ")),
                age(obj, now),
            ]
        }
        PriorityClass => vec![
            n,
            json!(int(get(obj, &["value"]))),
            json!(get(obj, &["globalDefault"]).as_bool().unwrap_or_default()),
            age(obj, now),
            s(or_default(
                text(get(obj, &["preemptionPolicy"])),
                "PreemptLowerPriority",
            )),
        ],
        RuntimeClass => vec![n, s(text(get(obj, &["handler"]))), age(obj, now)],
        VolumeAttachment => vec![
            n,
            s(text(get(spec, &["attacher"]))),
            s(text(get(spec, &["source", "persistentVolumeName"]))),
            s(text(get(spec, &["nodeName"]))),
            json!(get(status, &["attached"]).as_bool().unwrap_or_default()),
            age(obj, now),
        ],
        EndpointSlice => {
            let ports: Vec<String> = list(get(obj, &["ports"]))
                .iter()
                .map(
                    |p| match (opt_int(get(p, &["port"])), get(p, &["name"]).as_str()) {
                        (Some(port), _) => port.to_string(),
                        (None, Some(name)) => name.to_string(),
                        (None, None) => "*".to_string(),
                    },
                )
                .collect();
            let addrs: Vec<String> = list(get(obj, &["endpoints"]))
                .iter()
                .flat_map(|e| list(get(e, &["addresses"])).iter().map(text))
                .collect();
            vec![
                n,
                s(text(get(obj, &["addressType"]))),
                s(list_with_more(ports, 3)),
                s(list_with_more(addrs, 3)),
                age(obj, now),
            ]
        }
        CsiNode => vec![
            n,
            json!(list(get(spec, &["drivers"])).len() as i64),
            age(obj, now),
        ],
        CsiDriver => {
            let flag =
                |key: &str, default: bool| json!(get(spec, &[key]).as_bool().unwrap_or(default));
            let token_requests = get(spec, &["tokenRequests"]);
            let token_requests = if token_requests.is_array() {
                list(token_requests)
                    .iter()
                    .map(|t| text(get(t, &["audience"])))
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                "<unset>".to_string()
            };
            let modes_v = get(spec, &["volumeLifecycleModes"]);
            let modes: Vec<String> = list(modes_v).iter().map(text).collect();
            // v1 defaulting fills an empty list with ["Persistent"].
            let modes = if modes.is_empty() {
                "Persistent".to_string()
            } else {
                or_default(modes.join(","), "<none>")
            };
            vec![
                n,
                flag("attachRequired", true),
                flag("podInfoOnMount", false),
                flag("storageCapacity", false),
                s(token_requests),
                flag("requiresRepublish", false),
                s(modes),
                age(obj, now),
            ]
        }
        MutatingWebhookConfiguration | ValidatingWebhookConfiguration => vec![
            n,
            json!(list(get(obj, &["webhooks"])).len() as i64),
            age(obj, now),
        ],
        ValidatingAdmissionPolicy | MutatingAdmissionPolicy => {
            let rules = if p == ValidatingAdmissionPolicy {
                "validations"
            } else {
                "mutations"
            };
            let pk = get(spec, &["paramKind"]);
            let pk = if is_set(pk) {
                format!(
                    "{}/{}",
                    text(get(pk, &["apiVersion"])),
                    text(get(pk, &["kind"]))
                )
            } else {
                "<unset>".to_string()
            };
            vec![
                n,
                json!(list(get(spec, &[rules])).len() as i64),
                s(pk),
                age(obj, now),
            ]
        }
        ValidatingAdmissionPolicyBinding | MutatingAdmissionPolicyBinding => {
            let pr = get(spec, &["paramRef"]);
            let mut param = "<unset>".to_string();
            if is_set(pr) {
                let pname = text(get(pr, &["name"]));
                let pns = text(get(pr, &["namespace"]));
                if !pname.is_empty() {
                    param = if pns.is_empty() {
                        format!("*/{pname}")
                    } else {
                        format!("{pns}/{pname}")
                    };
                } else if is_set(get(pr, &["selector"])) {
                    param = format_label_selector(get(pr, &["selector"]));
                }
            }
            vec![
                n,
                s(text(get(spec, &["policyName"]))),
                s(param),
                age(obj, now),
            ]
        }
        FlowSchema => {
            let method = get(spec, &["distinguisherMethod"]);
            let method = if is_set(method) {
                text(get(method, &["type"]))
            } else {
                "<none>".to_string()
            };
            let missing = condition(get(status, &["conditions"]), "Dangling")
                .map(|c| text(get(c, &["status"])))
                .unwrap_or_else(|| "?".to_string());
            // v1 defaulting turns an unset matchingPrecedence into 1000.
            let precedence = match int(get(spec, &["matchingPrecedence"])) {
                0 => 1000,
                x => x,
            };
            vec![
                n,
                s(text(get(spec, &["priorityLevelConfiguration", "name"]))),
                json!(precedence),
                s(method),
                age(obj, now),
                s(missing),
            ]
        }
        PriorityLevelConfiguration => {
            let none = || s("<none>");
            let (mut ncs, mut queues, mut hand, mut qll) = (none(), none(), none(), none());
            let limited = get(spec, &["limited"]);
            if is_set(limited) {
                ncs = json!(opt_int(get(limited, &["nominalConcurrencyShares"])).unwrap_or(30));
                let queuing = get(limited, &["limitResponse", "queuing"]);
                if is_set(queuing) {
                    let or = |k: &str, d: i64| match int(get(queuing, &[k])) {
                        0 => d,
                        x => x,
                    };
                    queues = json!(or("queues", 64));
                    hand = json!(or("handSize", 8));
                    qll = json!(or("queueLengthLimit", 50));
                }
            }
            vec![
                n,
                s(text(get(spec, &["type"]))),
                ncs,
                queues,
                hand,
                qll,
                age(obj, now),
            ]
        }
        StorageVersion => {
            let cev = get(status, &["commonEncodingVersion"]);
            let cev = if is_set(cev) {
                text(cev)
            } else {
                "<unset>".to_string()
            };
            let versions: Vec<String> = list(get(status, &["storageVersions"]))
                .iter()
                .map(|v| {
                    format!(
                        "{}={}",
                        text(get(v, &["apiServerID"])),
                        text(get(v, &["encodingVersion"]))
                    )
                })
                .collect();
            vec![n, s(cev), s(list_with_more(versions, 3)), age(obj, now)]
        }
        Scale => vec![
            n,
            json!(int(get(spec, &["replicas"]))),
            json!(int(get(status, &["replicas"]))),
            age(obj, now),
        ],
        DeviceClass | ResourceClaimTemplate | Workload => vec![n, age(obj, now)],
        ResourceClaim => {
            let deleting = is_set(get(obj, &["metadata", "deletionTimestamp"]));
            let mut states = Vec::new();
            if deleting {
                states.push("deleted");
            }
            if !is_set(get(status, &["allocation"])) {
                if !deleting {
                    states.push("pending");
                }
            } else {
                states.push("allocated");
                if !list(get(status, &["reservedFor"])).is_empty() {
                    states.push("reserved");
                }
            }
            vec![n, s(states.join(",")), age(obj, now)]
        }
        ResourceSlice => vec![
            n,
            s(text(get(spec, &["nodeName"]))),
            s(text(get(spec, &["driver"]))),
            s(text(get(spec, &["pool", "name"]))),
            age(obj, now),
        ],
        DeviceTaintRule => {
            let taint = get(spec, &["taint"]);
            let added = get(taint, &["timeAdded"]);
            let added = if is_set(added) {
                since(added, now)
            } else {
                String::new()
            };
            vec![
                n,
                s(text(get(taint, &["key"]))),
                s(text(get(taint, &["value"]))),
                s(text(get(taint, &["effect"]))),
                s(added),
                age(obj, now),
            ]
        }
        ServiceCidr => {
            let cidrs: Vec<String> = list(get(spec, &["cidrs"])).iter().map(text).collect();
            vec![n, s(cidrs.join(",")), age(obj, now)]
        }
        IpAddress => {
            let pr = get(spec, &["parentRef"]);
            let parent = if is_set(pr) {
                let group = text(get(pr, &["group"]));
                let resource = text(get(pr, &["resource"]));
                let gr = if group.is_empty() {
                    resource
                } else {
                    format!("{resource}.{group}")
                };
                let mut out = gr.to_lowercase();
                let ns = text(get(pr, &["namespace"]));
                if !ns.is_empty() {
                    out = format!("{out}/{ns}");
                }
                format!("{out}/{}", text(get(pr, &["name"])))
            } else {
                "<none>".to_string()
            };
            // Upstream also appends an Age cell that has no column; we keep row and header equal.
            vec![n, s(parent)]
        }
        StorageVersionMigration => {
            let group = text(get(spec, &["resource", "group"]));
            let resource = text(get(spec, &["resource", "resource"]));
            let gr = if group.is_empty() {
                resource
            } else {
                format!("{resource}.{group}")
            };
            let mut state = "Unknown".to_string();
            for c in list(get(status, &["conditions"])) {
                if get(c, &["status"]).as_str() != Some("True") {
                    continue;
                }
                if let Some(t @ ("Running" | "Failed" | "Succeeded")) = get(c, &["type"]).as_str() {
                    state = t.to_string();
                }
            }
            vec![n, s(gr), s(state)]
        }
    }
}

/// Pod rows: upstream's printPod, including its Status algorithm.
fn pod_cells(obj: &Value, now: i64) -> Vec<Value> {
    let spec = get(obj, &["spec"]);
    let status = get(obj, &["status"]);
    let conditions = get(status, &["conditions"]);
    let init_specs = list(get(spec, &["initContainers"]));
    let restartable = |cname: &str| {
        init_specs.iter().any(|c| {
            get(c, &["name"]).as_str() == Some(cname)
                && get(c, &["restartPolicy"]).as_str() == Some("Always")
        })
    };
    let mut total = list(get(spec, &["containers"])).len() as i64;
    total += init_specs
        .iter()
        .filter(|c| get(c, &["restartPolicy"]).as_str() == Some("Always"))
        .count() as i64;

    let phase = text(get(status, &["phase"]));
    let status_reason = text(get(status, &["reason"]));
    let mut reason = if status_reason.is_empty() {
        phase.clone()
    } else {
        status_reason.clone()
    };
    for c in list(conditions) {
        if get(c, &["type"]).as_str() == Some("PodScheduled")
            && get(c, &["reason"]).as_str() == Some("SchedulingGated")
        {
            reason = "SchedulingGated".to_string();
        }
    }

    let last_terminated =
        |cs: &Value| parse_time(get(cs, &["lastState", "terminated", "finishedAt"]));
    let later = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    };

    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<i64> = None;
    let mut last_sidecar_restart: Option<i64> = None;
    let mut ready = 0i64;
    let mut initializing = false;
    for (i, cs) in list(get(status, &["initContainerStatuses"]))
        .iter()
        .enumerate()
    {
        let count = int(get(cs, &["restartCount"]));
        restarts += count;
        last_restart = later(last_restart, last_terminated(cs));
        let is_sidecar = restartable(get(cs, &["name"]).as_str().unwrap_or_default());
        if is_sidecar {
            sidecar_restarts += count;
            last_sidecar_restart = later(last_sidecar_restart, last_terminated(cs));
        }
        let terminated = get(cs, &["state", "terminated"]);
        let waiting = get(cs, &["state", "waiting"]);
        let waiting_reason = text(get(waiting, &["reason"]));
        if terminated.is_object() && int(get(terminated, &["exitCode"])) == 0 {
            continue;
        }
        if is_sidecar && get(cs, &["started"]).as_bool() == Some(true) {
            if get(cs, &["ready"]).as_bool() == Some(true) {
                ready += 1;
            }
            continue;
        }
        if terminated.is_object() {
            let treason = text(get(terminated, &["reason"]));
            let signal = int(get(terminated, &["signal"]));
            reason = if !treason.is_empty() {
                format!("Init:{treason}")
            } else if signal != 0 {
                format!("Init:Signal:{signal}")
            } else {
                format!("Init:ExitCode:{}", int(get(terminated, &["exitCode"])))
            };
        } else if waiting.is_object()
            && !waiting_reason.is_empty()
            && waiting_reason != "PodInitializing"
        {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{}/{}", i, init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = condition(conditions, "Initialized")
        .is_some_and(|c| get(c, &["status"]).as_str() == Some("True"));
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        let mut error_reason = String::new();
        for cs in list(get(status, &["containerStatuses"])).iter().rev() {
            restarts += int(get(cs, &["restartCount"]));
            last_restart = later(last_restart, last_terminated(cs));
            let waiting = get(cs, &["state", "waiting"]);
            let terminated = get(cs, &["state", "terminated"]);
            let waiting_reason = text(get(waiting, &["reason"]));
            if waiting.is_object() && !waiting_reason.is_empty() {
                reason = waiting_reason;
            } else if terminated.is_object() {
                let treason = text(get(terminated, &["reason"]));
                let signal = int(get(terminated, &["signal"]));
                let exit = int(get(terminated, &["exitCode"]));
                reason = if !treason.is_empty() {
                    treason
                } else if signal != 0 {
                    format!("Signal:{signal}")
                } else {
                    format!("ExitCode:{exit}")
                };
                if exit != 0 {
                    error_reason = reason.clone();
                }
            } else if get(cs, &["ready"]).as_bool() == Some(true)
                && get(cs, &["state", "running"]).is_object()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" {
            if has_running && condition_true(conditions, "Ready") {
                reason = "Running".to_string();
            } else if !error_reason.is_empty() {
                reason = error_reason;
            } else if has_running {
                reason = "NotReady".to_string();
            }
        }
    }

    let deleting = is_set(get(obj, &["metadata", "deletionTimestamp"]));
    if deleting && status_reason == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts = match last_restart {
        Some(t) if restarts != 0 => {
            format!("{restarts} ({} ago)", human_duration(now.saturating_sub(t)))
        }
        _ => restarts.to_string(),
    };

    let mut ip = list(get(status, &["podIPs"]))
        .first()
        .map(|p| text(get(p, &["ip"])))
        .unwrap_or_default();
    if ip.is_empty() {
        ip = text(get(status, &["podIP"]));
    }
    let gates = list(get(spec, &["readinessGates"]));
    let gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let passing = gates
            .iter()
            .filter(|g| {
                let t = get(g, &["conditionType"]).as_str().unwrap_or_default();
                condition_true(conditions, t)
            })
            .count();
        format!("{passing}/{}", gates.len())
    };
    vec![
        s(name(obj)),
        s(format!("{ready}/{total}")),
        s(reason),
        s(restarts),
        age(obj, now),
        s(or_default(ip, "<none>")),
        s(or_default(text(get(spec, &["nodeName"])), "<none>")),
        s(or_default(
            text(get(status, &["nominatedNodeName"])),
            "<none>",
        )),
        s(gates),
    ]
}

fn job_cells(obj: &Value, now: i64) -> Vec<Value> {
    let spec = get(obj, &["spec"]);
    let status = get(obj, &["status"]);
    let succeeded = int(get(status, &["succeeded"]));
    // v1 defaulting: with neither set, completions = parallelism = 1; parallelism defaults to 1.
    let mut completions = opt_int(get(spec, &["completions"]));
    let mut parallelism = opt_int(get(spec, &["parallelism"]));
    if completions.is_none() && parallelism.is_none() {
        completions = Some(1);
        parallelism = Some(1);
    }
    let parallelism = parallelism.unwrap_or(1);
    let completions = match completions {
        Some(c) => format!("{succeeded}/{c}"),
        None if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
        None => format!("{succeeded}/1"),
    };
    let start = parse_time(get(status, &["startTime"]));
    let end = parse_time(get(status, &["completionTime"]));
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(st), None) => human_duration(now.saturating_sub(st)),
        (Some(st), Some(en)) => human_duration(en.saturating_sub(st)),
    };
    let conds = get(status, &["conditions"]);
    let has = |t: &str| condition_true(conds, t);
    let state = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if is_set(get(obj, &["metadata", "deletionTimestamp"])) {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let (names, images) = container_cells(get(spec, &["template", "spec", "containers"]));
    vec![
        s(name(obj)),
        s(state),
        s(completions),
        s(duration),
        age(obj, now),
        s(names),
        s(images),
        s(format_label_selector(get(spec, &["selector"]))),
    ]
}

fn service_cells(obj: &Value, now: i64) -> Vec<Value> {
    let spec = get(obj, &["spec"]);
    let type_ = or_default(text(get(spec, &["type"])), "ClusterIP");
    let mut cluster_ip = list(get(spec, &["clusterIPs"]))
        .first()
        .map(text)
        .unwrap_or_default();
    if cluster_ip.is_empty() {
        cluster_ip = text(get(spec, &["clusterIP"]));
    }
    let external_ips: Vec<String> = list(get(spec, &["externalIPs"])).iter().map(text).collect();
    let external = match type_.as_str() {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ingress(get(obj, &["status", "loadBalancer"]));
            if !external_ips.is_empty() {
                let mut all: Vec<String> = Vec::new();
                if !lb.is_empty() {
                    all.extend(lb.split(',').map(str::to_string));
                }
                all.extend(external_ips);
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => text(get(spec, &["externalName"])),
        _ => "<unknown>".to_string(),
    };
    vec![
        s(name(obj)),
        s(type_),
        s(or_default(cluster_ip, "<none>")),
        s(external),
        s(or_default(service_ports(get(spec, &["ports"])), "<none>")),
        age(obj, now),
        s(format_labels(get(spec, &["selector"]))),
    ]
}

/// makePortString: "80/TCP,443:30443/TCP".
fn service_ports(ports: &Value) -> String {
    list(ports)
        .iter()
        .map(|p| {
            let port = int(get(p, &["port"]));
            let proto = or_default(text(get(p, &["protocol"])), "TCP");
            let node_port = int(get(p, &["nodePort"]));
            if node_port > 0 {
                format!("{port}:{node_port}/{proto}")
            } else {
                format!("{port}/{proto}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// formatHosts: up to three hosts, "*" when no rule names one.
fn ingress_hosts(rules: &Value) -> String {
    let rules = list(rules);
    let max = 3;
    let mut hosts: Vec<String> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == max {
            more = true;
        }
        let host = text(get(rule, &["host"]));
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return "*".to_string();
    }
    let ret = hosts.join(",");
    if more {
        format!("{ret} + {} more...", rules.len().saturating_sub(max))
    } else {
        ret
    }
}

/// formatEndpoints: "10.0.0.1:80,10.0.0.2:80 + 3 more...", "<none>" without subsets.
fn format_endpoints(subsets: &Value) -> String {
    let subsets = list(subsets);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let max = 3;
    let mut out: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addrs = list(get(ss, &["addresses"]));
        let ports = list(get(ss, &["ports"]));
        if ports.is_empty() {
            count += addrs.len();
            for a in addrs {
                if out.len() == max {
                    more = true;
                    break;
                }
                out.push(text(get(a, &["ip"])));
            }
            continue;
        }
        for p in ports {
            count += addrs.len();
            let port = int(get(p, &["port"]));
            for a in addrs {
                if out.len() == max {
                    more = true;
                    break;
                }
                let ip = text(get(a, &["ip"]));
                out.push(if ip.contains(':') {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                });
            }
        }
    }
    let ret = out.join(",");
    if more {
        format!("{ret} + {} more...", count.saturating_sub(max))
    } else {
        ret
    }
}

fn node_cells(obj: &Value, now: i64) -> Vec<Value> {
    let status = get(obj, &["status"]);
    let info = get(status, &["nodeInfo"]);
    let mut states: Vec<String> = Vec::new();
    // Upstream keeps the last condition of each type; only Ready is reported.
    if let Some(c) = list(get(status, &["conditions"]))
        .iter()
        .rev()
        .find(|c| get(c, &["type"]).as_str() == Some("Ready"))
    {
        if get(c, &["status"]).as_str() == Some("True") {
            states.push("Ready".to_string());
        } else {
            states.push("NotReady".to_string());
        }
    }
    if states.is_empty() {
        states.push("Unknown".to_string());
    }
    if get(obj, &["spec", "unschedulable"]).as_bool() == Some(true) {
        states.push("SchedulingDisabled".to_string());
    }
    let address = |kind: &str| {
        list(get(status, &["addresses"]))
            .iter()
            .find(|a| get(a, &["type"]).as_str() == Some(kind))
            .map(|a| text(get(a, &["address"])))
            .unwrap_or_else(|| "<none>".to_string())
    };
    vec![
        s(name(obj)),
        s(states.join(",")),
        s(or_default(node_roles(obj).join(","), "<none>")),
        age(obj, now),
        s(text(get(info, &["kubeletVersion"]))),
        s(address("InternalIP")),
        s(address("ExternalIP")),
        s(or_default(text(get(info, &["osImage"])), "<unknown>")),
        s(or_default(text(get(info, &["kernelVersion"])), "<unknown>")),
        s(or_default(
            text(get(info, &["containerRuntimeVersion"])),
            "<unknown>",
        )),
    ]
}

/// findNodeRoles: `node-role.kubernetes.io/<role>` label keys and the `kubernetes.io/role` value,
/// sorted and de-duplicated.
fn node_roles(obj: &Value) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = get(obj, &["metadata", "labels"]).as_object() {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                let v = v.as_str().unwrap_or_default();
                if !v.is_empty() {
                    roles.push(v.to_string());
                }
            }
        }
    }
    roles.sort();
    roles.dedup();
    roles
}

/// Events, core/v1 or events.k8s.io/v1 (whose fields upstream converts to the core shape).
fn event_cells(group: &str, obj: &Value, now: i64) -> Vec<Value> {
    let new_api = group == "events.k8s.io";
    let field = |core: &str, events: &str| get(obj, &[if new_api { events } else { core }]);
    let involved = field("involvedObject", "regarding");
    let source = field("source", "deprecatedSource");
    let first_ts = field("firstTimestamp", "deprecatedFirstTimestamp");
    let last_ts = field("lastTimestamp", "deprecatedLastTimestamp");
    let reporting_controller = text(field("reportingComponent", "reportingController"));
    let reporting_instance = text(get(obj, &["reportingInstance"]));

    let first = if parse_time(first_ts).is_some() {
        since(first_ts, now)
    } else {
        since(get(obj, &["eventTime"]), now)
    };
    let mut last = if parse_time(last_ts).is_some() {
        since(last_ts, now)
    } else {
        first.clone()
    };
    let series = get(obj, &["series"]);
    let mut count = int(field("count", "deprecatedCount"));
    if series.is_object() {
        last = since(get(series, &["lastObservedTime"]), now);
        count = int(get(series, &["count"]));
    } else if count == 0 {
        count = 1;
    }
    let kind = text(get(involved, &["kind"])).to_lowercase();
    let involved_name = text(get(involved, &["name"]));
    let target = if involved_name.is_empty() {
        kind
    } else {
        format!("{kind}/{involved_name}")
    };
    let component = or_default(text(get(source, &["component"])), &reporting_controller);
    let host = or_default(text(get(source, &["host"])), &reporting_instance);
    let source = if host.is_empty() {
        component
    } else {
        format!("{component}, {host}")
    };
    vec![
        s(last),
        s(text(get(obj, &["type"]))),
        s(text(get(obj, &["reason"]))),
        s(target),
        s(text(get(involved, &["fieldPath"]))),
        s(source),
        s(text(field("message", "note")).trim()),
        s(first),
        json!(count),
        s(name(obj)),
    ]
}

/// extractCSRStatus: Denied / Approved / Pending, then ",Failed" and ",Issued".
fn csr_condition(status: &Value) -> String {
    let conds = list(get(status, &["conditions"]));
    let has = |t: &str| conds.iter().any(|c| get(c, &["type"]).as_str() == Some(t));
    let mut out = if has("Denied") {
        "Denied".to_string()
    } else if has("Approved") {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if has("Failed") {
        out.push_str(",Failed");
    }
    if !text(get(status, &["certificate"])).is_empty() {
        out.push_str(",Issued");
    }
    out
}

/// The controller owner as "kind[.group]/name" (lower-cased kind and group), else "<none>".
fn controller_of(obj: &Value) -> String {
    let owner = list(get(obj, &["metadata", "ownerReferences"]))
        .iter()
        .find(|o| get(o, &["controller"]).as_bool() == Some(true));
    let Some(owner) = owner else {
        return "<none>".to_string();
    };
    let api_version = text(get(owner, &["apiVersion"]));
    let group = match api_version.split_once('/') {
        Some((g, _)) => g.to_string(),
        None => String::new(),
    };
    let kind = text(get(owner, &["kind"]));
    let owner_name = text(get(owner, &["name"]));
    if group.is_empty() && kind.is_empty() {
        return owner_name;
    }
    let gk = if group.is_empty() {
        kind
    } else {
        format!("{kind}.{group}")
    };
    format!("{}/{owner_name}", gk.to_lowercase())
}

/// HorizontalPodAutoscaler rows, from autoscaling/v2 or autoscaling/v1 objects.
fn hpa_cells(obj: &Value, now: i64) -> Vec<Value> {
    let spec = get(obj, &["spec"]);
    let status = get(obj, &["status"]);
    let v1 = text(get(obj, &["apiVersion"])) == "autoscaling/v1"
        || (get(spec, &["metrics"]).is_null()
            && is_set(get(spec, &["targetCPUUtilizationPercentage"])));
    let targets = if v1 {
        // autoscaling/v1 converts its CPU target into one Resource metric.
        match opt_int(get(spec, &["targetCPUUtilizationPercentage"])) {
            Some(target) => {
                let current = match opt_int(get(status, &["currentCPUUtilizationPercentage"])) {
                    Some(c) => format!("{c}%"),
                    None => "<unknown>".to_string(),
                };
                format!("cpu: {current}/{target}%")
            }
            None => "<none>".to_string(),
        }
    } else {
        hpa_metrics(get(spec, &["metrics"]), get(status, &["currentMetrics"]))
    };
    // Both served versions default minReplicas to 1 on decode, so upstream never shows "<unset>".
    let min = opt_int(get(spec, &["minReplicas"]))
        .unwrap_or(1)
        .to_string();
    vec![
        s(name(obj)),
        s(format!(
            "{}/{}",
            text(get(spec, &["scaleTargetRef", "kind"])),
            text(get(spec, &["scaleTargetRef", "name"]))
        )),
        s(targets),
        s(min),
        json!(int(get(spec, &["maxReplicas"]))),
        json!(int(get(status, &["currentReplicas"]))),
        age(obj, now),
    ]
}

/// formatHPAMetrics: "cpu: 40%/80%, memory: <unknown>/1Gi + 1 more...".
fn hpa_metrics(specs: &Value, statuses: &Value) -> String {
    let specs = list(specs);
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let statuses = list(statuses);
    let mut out: Vec<String> = Vec::new();
    for (i, m) in specs.iter().enumerate() {
        let st = statuses.get(i).unwrap_or(&NULL);
        let percent = |v: &Value| opt_int(v).map(|p| format!("{p}%"));
        let piece = match get(m, &["type"]).as_str() {
            Some("External") | Some("Object") => {
                let key = if get(m, &["type"]).as_str() == Some("External") {
                    "external"
                } else {
                    "object"
                };
                let target = get(m, &[key, "target"]);
                let cur = get(st, &[key]);
                if is_set(get(target, &["averageValue"])) {
                    let current = if is_set(cur) && is_set(get(cur, &["current", "averageValue"])) {
                        quantity(get(cur, &["current", "averageValue"]))
                    } else {
                        "<unknown>".to_string()
                    };
                    format!(
                        "{current}/{} (avg)",
                        quantity(get(target, &["averageValue"]))
                    )
                } else {
                    let current = if is_set(cur) {
                        quantity_ptr(get(cur, &["current", "value"]))
                    } else {
                        "<unknown>".to_string()
                    };
                    format!("{current}/{}", quantity_ptr(get(target, &["value"])))
                }
            }
            Some("Pods") => {
                let cur = get(st, &["pods"]);
                let current = if is_set(cur) {
                    quantity_ptr(get(cur, &["current", "averageValue"]))
                } else {
                    "<unknown>".to_string()
                };
                format!(
                    "{current}/{}",
                    quantity_ptr(get(m, &["pods", "target", "averageValue"]))
                )
            }
            Some("Resource") | Some("ContainerResource") => {
                let key = if get(m, &["type"]).as_str() == Some("Resource") {
                    "resource"
                } else {
                    "containerResource"
                };
                let res = get(m, &[key]);
                let rname = text(get(res, &["name"]));
                let target = get(res, &["target"]);
                let cur = get(st, &[key]);
                if is_set(get(target, &["averageValue"])) {
                    let current = if is_set(cur) {
                        quantity_ptr(get(cur, &["current", "averageValue"]))
                    } else {
                        "<unknown>".to_string()
                    };
                    format!(
                        "{rname}: {current}/{}",
                        quantity(get(target, &["averageValue"]))
                    )
                } else {
                    let current = percent(get(cur, &["current", "averageUtilization"]))
                        .unwrap_or_else(|| "<unknown>".to_string());
                    let target = percent(get(target, &["averageUtilization"]))
                        .unwrap_or_else(|| "<auto>".to_string());
                    format!("{rname}: {current}/{target}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        out.push(piece);
    }
    let max = 2;
    let count = out.len();
    if count > max {
        out.truncate(max);
        return format!("{} + {} more...", out.join(", "), count - max);
    }
    out.join(", ")
}

// ---- Column definitions, transcribed from upstream v1.35 printers (names, types, priorities) with
// ---- descriptions taken from the API swagger docs.

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATED_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

const POD_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Ready", "string", "", 0, "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "", 0, "The aggregate status of the containers in this pod."),
    col("Restarts", "string", "", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
    col("Age", "string", "", 0, CREATED_DESC),
    col("IP", "string", "", 1, "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
    col("Node", "string", "", 1, "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename"),
    col("Nominated Node", "string", "", 1, "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled."),
    col("Readiness Gates", "string", "", 1, "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"),
];

const POD_TEMPLATE_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "Containers",
        "string",
        "",
        0,
        "Names of each container in the template.",
    ),
    col(
        "Images",
        "string",
        "",
        0,
        "Images referenced by each container in the template.",
    ),
    col(
        "Pod Labels",
        "string",
        "",
        0,
        "The labels for the pod template.",
    ),
];

const POD_DISRUPTION_BUDGET_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "Min Available",
        "string",
        "",
        0,
        "The minimum number of pods that must be available.",
    ),
    col(
        "Max Unavailable",
        "string",
        "",
        0,
        "The maximum number of pods that may be unavailable.",
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "",
        0,
        "Calculated number of pods that may be disrupted at this time.",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const REPLICATION_CONTROLLER_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Desired", "integer", "", 0, "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
    col("Current", "integer", "", 0, "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
    col("Ready", "integer", "", 0, "The number of ready replicas for this replication controller."),
    col("Age", "string", "", 0, CREATED_DESC),
    col("Containers", "string", "", 1, "Names of each container in the template."),
    col("Images", "string", "", 1, "Images referenced by each container in the template."),
    col("Selector", "string", "", 1, "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
];

const REPLICA_SET_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Desired", "integer", "", 0, "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
    col("Current", "integer", "", 0, "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
    col("Ready", "integer", "", 0, "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition."),
    col("Age", "string", "", 0, CREATED_DESC),
    col("Containers", "string", "", 1, "Names of each container in the template."),
    col("Images", "string", "", 1, "Images referenced by each container in the template."),
    col("Selector", "string", "", 1, "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
];

const DAEMON_SET_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Desired", "integer", "", 0, "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    col("Current", "integer", "", 0, "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    col("Ready", "integer", "", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
    col("Up-to-date", "integer", "", 0, "The total number of nodes that are running updated daemon pod"),
    col("Available", "integer", "", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
    col("Node Selector", "string", "", 0, "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
    col("Age", "string", "", 0, CREATED_DESC),
    col("Containers", "string", "", 1, "Names of each container in the template."),
    col("Images", "string", "", 1, "Images referenced by each container in the template."),
    col("Selector", "string", "", 1, "A label query over pods that are managed by the daemon set. Must match in order to be controlled. If empty, defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
];

const JOB_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Status", "string", "", 0, "Status of the job."),
    col("Completions", "string", "", 0, "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs."),
    col("Duration", "string", "", 0, "Time required to complete the job."),
    col("Age", "string", "", 0, CREATED_DESC),
    col("Containers", "string", "", 1, "Names of each container in the template."),
    col("Images", "string", "", 1, "Images referenced by each container in the template."),
    col("Selector", "string", "", 1, "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
];

const CRON_JOB_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Schedule", "string", "", 0, "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    col("Timezone", "string", "", 0, "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"),
    col("Suspend", "boolean", "", 0, "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false."),
    col("Active", "integer", "", 0, "A list of pointers to currently running jobs."),
    col("Last Schedule", "string", "", 0, "Information when was the last time the job was successfully scheduled."),
    col("Age", "string", "", 0, CREATED_DESC),
    col("Containers", "string", "", 1, "Names of each container in the template."),
    col("Images", "string", "", 1, "Images referenced by each container in the template."),
    col("Selector", "string", "", 1, "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
];

const SERVICE_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Type", "string", "", 0, "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"),
    col("Cluster-IP", "string", "", 0, "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
    col("External-IP", "string", "", 0, "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system."),
    col("Port(s)", "string", "", 0, "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
    col("Age", "string", "", 0, CREATED_DESC),
    col("Selector", "string", "", 1, "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/"),
];

const INGRESS_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "Class",
        "string",
        "",
        0,
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
        "Hosts",
        "string",
        "",
        0,
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
        "Address",
        "string",
        "",
        0,
        "Address is a list containing ingress points for the load-balancer",
    ),
    col(
        "Ports",
        "string",
        "",
        0,
        "Ports of TLS configurations that open",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const INGRESS_CLASS_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "Controller",
        "string",
        "",
        0,
        "Controller that is responsible for handling this class",
    ),
    col(
        "Parameters",
        "string",
        "",
        0,
        "A reference to a resource with additional parameters",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const STATEFUL_SET_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "Ready",
        "string",
        "",
        0,
        "Number of the pod with ready state",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
    col(
        "Containers",
        "string",
        "",
        1,
        "Names of each container in the template.",
    ),
    col(
        "Images",
        "string",
        "",
        1,
        "Images referenced by each container in the template.",
    ),
];

const ENDPOINT_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Endpoints", "string", "", 0, "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const NODE_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Status", "string", "", 0, "The status of the node"),
    col("Roles", "string", "", 0, "The roles of the node"),
    col("Age", "string", "", 0, CREATED_DESC),
    col("Version", "string", "", 0, "Kubelet Version reported by the node."),
    col("Internal-IP", "string", "", 1, "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP)."),
    col("External-IP", "string", "", 1, "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP)."),
    col("OS-Image", "string", "", 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
    col("Kernel-Version", "string", "", 1, "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
    col("Container-Runtime", "string", "", 1, "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
];

const EVENT_COLUMNS: &[Column] = &[
    col("Last Seen", "string", "", 0, "The time at which the most recent occurrence of this event was recorded."),
    col("Type", "string", "", 0, "Type of this event (Normal, Warning), new types could be added in the future"),
    col("Reason", "string", "", 0, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    col("Object", "string", "", 0, "The object that this event is about."),
    col("Subobject", "string", "", 1, "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object."),
    col("Source", "string", "", 1, "The component reporting this event. Should be a short machine understandable string."),
    col("Message", "string", "", 0, "A human-readable description of the status of this operation."),
    col("First Seen", "string", "", 1, "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
    col("Count", "string", "", 1, "The number of times this event has occurred."),
    col("Name", "string", "name", 1, NAME_DESC),
];

const NAMESPACE_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Status", "string", "", 0, "The status of the namespace"),
    col("Age", "string", "", 0, CREATED_DESC),
];

const SECRET_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Type", "string", "", 0, "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
    col("Data", "string", "", 0, "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"),
    col("Age", "string", "", 0, CREATED_DESC),
];

const SERVICE_ACCOUNT_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Age", "string", "", 0, CREATED_DESC),
];

const PERSISTENT_VOLUME_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Capacity", "string", "", 0, "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity"),
    col("Access Modes", "string", "", 0, "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes"),
    col("Reclaim Policy", "string", "", 0, "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming"),
    col("Status", "string", "", 0, "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase"),
    col("Claim", "string", "", 0, "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"),
    col("StorageClass", "string", "", 0, "StorageClass of the pv"),
    col("VolumeAttributesClass", "string", "", 0, "VolumeAttributesClass of the pv"),
    col("Reason", "string", "", 0, "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
    col("Age", "string", "", 0, CREATED_DESC),
    col("VolumeMode", "string", "", 1, "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec."),
];

const PERSISTENT_VOLUME_CLAIM_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Status", "string", "", 0, "phase represents the current phase of PersistentVolumeClaim."),
    col("Volume", "string", "", 0, "volumeName is the binding reference to the PersistentVolume backing this claim."),
    col("Capacity", "string", "", 0, "capacity represents the actual resources of the underlying volume."),
    col("Access Modes", "string", "", 0, "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1"),
    col("StorageClass", "string", "", 0, "StorageClass of the pvc"),
    col("VolumeAttributesClass", "string", "", 0, "VolumeAttributesClass of the pvc"),
    col("Age", "string", "", 0, CREATED_DESC),
    col("VolumeMode", "string", "", 1, "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec."),
];

const COMPONENT_STATUS_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "Status",
        "string",
        "",
        0,
        "Status of the component conditions",
    ),
    col(
        "Message",
        "string",
        "",
        0,
        "Message of the component conditions",
    ),
    col(
        "Error",
        "string",
        "",
        0,
        "Error of the component conditions",
    ),
];

const DEPLOYMENT_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Ready", "string", "", 0, "Number of the pod with ready state"),
    col("Up-to-date", "string", "", 0, "Total number of non-terminating pods targeted by this deployment that have the desired template spec."),
    col("Available", "string", "", 0, "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment."),
    col("Age", "string", "", 0, CREATED_DESC),
    col("Containers", "string", "", 1, "Names of each container in the template."),
    col("Images", "string", "", 1, "Images referenced by each container in the template."),
    col("Selector", "string", "", 1, "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."),
];

const HORIZONTAL_POD_AUTOSCALER_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Reference", "string", "", 0, "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count."),
    col("Targets", "string", "", 0, "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond."),
    col("MinPods", "string", "", 0, "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available."),
    col("MaxPods", "string", "", 0, "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas."),
    col("Replicas", "string", "", 0, "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const CONFIG_MAP_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Data", "string", "", 0, "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const NETWORK_POLICY_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Pod-Selector", "string", "", 0, "Selects the pods to which this NetworkPolicy object applies.  The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods.  In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const ROLE_BINDINGS_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Role", "string", "", 0, "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error."),
    col("Age", "string", "", 0, CREATED_DESC),
    col("Users", "string", "", 1, "Users in the roleBinding"),
    col("Groups", "string", "", 1, "Groups in the roleBinding"),
    col("ServiceAccounts", "string", "", 1, "ServiceAccounts in the roleBinding"),
];

const CLUSTER_ROLE_BINDINGS_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Role", "string", "", 0, "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error."),
    col("Age", "string", "", 0, CREATED_DESC),
    col("Users", "string", "", 1, "Users in the clusterRoleBinding"),
    col("Groups", "string", "", 1, "Groups in the clusterRoleBinding"),
    col("ServiceAccounts", "string", "", 1, "ServiceAccounts in the clusterRoleBinding"),
];

const CERTIFICATE_SIGNING_REQUEST_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Age", "string", "", 0, CREATED_DESC),
    col("SignerName", "string", "", 0, "Requested signer for the request. It is a qualified name in the form: `scope-hostname.io/name`. If empty, it will be defaulted:\n 1. If it's a kubelet client certificate, it is assigned\n    \"kubernetes.io/kube-apiserver-client-kubelet\".\n 2. If it's a kubelet serving certificate, it is assigned\n    \"kubernetes.io/kubelet-serving\".\n 3. Otherwise, it is assigned \"kubernetes.io/legacy-unknown\".\nDistribution of trust for signers happens out of band. You can select on this field using `spec.signerName`."),
    col("Requestor", "string", "", 0, "Base64-encoded PKCS#10 CSR data"),
    col("RequestedDuration", "string", "", 0, "expirationSeconds is the requested duration of validity of the issued certificate. The certificate signer may issue a certificate with a different validity duration so a client must check the delta between the notBefore and and notAfter fields in the issued certificate to determine the actual duration.\n\nThe v1.22+ in-tree implementations of the well-known Kubernetes signers will honor this field as long as the requested duration is not greater than the maximum duration they will honor per the --cluster-signing-duration CLI flag to the Kubernetes controller manager.\n\nCertificate signers may not honor this field for various reasons:\n\n  1. Old signer that is unaware of the field (such as the in-tree\n     implementations prior to v1.22)\n  2. Signer whose configured maximum is shorter than the requested duration\n  3. Signer whose configured minimum is longer than the requested duration\n\nThe minimum valid value for expirationSeconds is 600, i.e. 10 minutes."),
    col("Condition", "string", "", 0, "Conditions applied to the request, such as approval or denial."),
];

const CLUSTER_TRUST_BUNDLE_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("SignerName", "string", "", 0, "signerName indicates the associated signer, if any.\n\nIn order to create or update a ClusterTrustBundle that sets signerName, you must have the following cluster-scoped permission: group=certificates.k8s.io resource=signers resourceName=<the signer name> verb=attest.\n\nIf signerName is not empty, then the ClusterTrustBundle object must be named with the signer name as a prefix (translating slashes to colons). For example, for the signer name `example.com/foo`, valid ClusterTrustBundle object names include `example.com:foo:abc` and `example.com:foo:v1`.\n\nIf signerName is empty, then the ClusterTrustBundle object's name must not have such a prefix.\n\nList/watch requests for ClusterTrustBundles can filter on this field using a `spec.signerName=NAME` field selector."),
];

const POD_CERTIFICATE_REQUEST_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("PodName", "string", "", 0, "podName is the name of the pod into which the certificate will be mounted."),
    col("ServiceAccountName", "string", "", 0, "serviceAccountName is the name of the service account the pod is running as."),
    col("NodeName", "string", "", 0, "nodeName is the name of the node the pod is assigned to."),
    col("SignerName", "string", "", 0, "signerName indicates the requested signer.\n\nAll signer names beginning with `kubernetes.io` are reserved for use by the Kubernetes project.  There is currently one well-known signer documented by the Kubernetes project, `kubernetes.io/kube-apiserver-client-pod`, which will issue client certificates understood by kube-apiserver.  It is currently unimplemented."),
    col("State", "string", "", 0, "Is the request Pending, Issued, Denied, or Failed?"),
    col("UnverifiedUserAnnotations", "string", "", 0, "unverifiedUserAnnotations allow pod authors to pass additional information to the signer implementation.  Kubernetes does not restrict or validate this metadata in any way.\n\nEntries are subject to the same validation as object metadata annotations, with the addition that all keys must be domain-prefixed. No restrictions are placed on values, except an overall size limitation on the entire field.\n\nSigners should document the keys and values they support.  Signers should deny requests that contain keys they do not recognize."),
];

const LEASE_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Holder", "string", "", 0, "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const LEASE_CANDIDATE_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("LeaseName", "string", "", 0, "LeaseName is the name of the lease for which this candidate is contending. This field is immutable."),
    col("BinaryVersion", "string", "", 0, ""),
    col("EmulationVersion", "string", "", 0, ""),
    col("Age", "string", "", 0, CREATED_DESC),
];

const STORAGE_CLASS_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Provisioner", "string", "", 0, "provisioner indicates the type of the provisioner."),
    col("ReclaimPolicy", "string", "", 0, "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete."),
    col("VolumeBindingMode", "string", "", 0, "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature."),
    col("AllowVolumeExpansion", "string", "", 0, "allowVolumeExpansion shows whether the storage class allow volume expand."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const VOLUME_ATTRIBUTES_CLASS_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "DriverName",
        "string",
        "",
        0,
        "Name of the CSI driver This field is immutable.",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const CONTROLLER_REVISION_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Controller", "string", "", 0, "Controller of the object"),
    col(
        "Revision",
        "string",
        "",
        0,
        "revision indicates the revision of the state represented by Data.",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const RESOURCE_QUOTA_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Request", "string", "", 0, "Request represents a minimum amount of cpu/memory that a container may consume."),
    col("Limit", "string", "", 0, "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const PRIORITY_CLASS_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Value", "integer", "", 0, "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec."),
    col("Global-Default", "boolean", "", 0, "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority."),
    col("Age", "string", "", 0, CREATED_DESC),
    col("PreemptionPolicy", "string", "", 0, "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset."),
];

const RUNTIME_CLASS_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Handler", "string", "", 0, ""),
    col("Age", "string", "", 0, CREATED_DESC),
];

const VOLUME_ATTACHMENT_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Attacher", "string", "name", 0, "attacher indicates the name of the volume driver that MUST handle this request. This is the name returned by GetPluginName()."),
    col("PV", "string", "", 0, "persistentVolumeName represents the name of the persistent volume to attach."),
    col("Node", "string", "", 0, "nodeName represents the node that the volume should be attached to."),
    col("Attached", "boolean", "", 0, "attached indicates the volume is successfully attached. This field must only be set by the entity completing the attach operation, i.e. the external-attacher."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const ENDPOINT_SLICE_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("AddressType", "string", "", 0, "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name."),
    col("Ports", "string", "", 0, "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports."),
    col("Endpoints", "string", "", 0, "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const CSI_NODE_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "Drivers",
        "integer",
        "",
        0,
        "Drivers indicates the number of CSI drivers registered on the node",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const CSI_DRIVER_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("AttachRequired", "boolean", "", 0, "attachRequired indicates this CSI volume driver requires an attach operation (because it implements the CSI ControllerPublishVolume() method), and that the Kubernetes attach detach controller should call the attach volume interface which checks the volumeattachment status and waits until the volume is attached before proceeding to mounting. The CSI external-attacher coordinates with CSI volume driver and updates the volumeattachment status when the attach operation is complete. If the value is specified to false, the attach operation will be skipped. Otherwise the attach operation will be called.\n\nThis field is immutable."),
    col("PodInfoOnMount", "boolean", "", 0, "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations, if set to true. If set to false, pod information will not be passed on mount. Default is false.\n\nThe CSI driver specifies podInfoOnMount as part of driver deployment. If true, Kubelet will pass pod information as VolumeContext in the CSI NodePublishVolume() calls. The CSI driver is responsible for parsing and validating the information passed in as VolumeContext.\n\nThe following VolumeContext will be passed if podInfoOnMount is set to true. This list might grow, but the prefix will be used. \"csi.storage.k8s.io/pod.name\": pod.Name \"csi.storage.k8s.io/pod.namespace\": pod.Namespace \"csi.storage.k8s.io/pod.uid\": string(pod.UID) \"csi.storage.k8s.io/ephemeral\": \"true\" if the volume is an ephemeral inline volume\n                                defined by a CSIVolumeSource, otherwise \"false\"\n\n\"csi.storage.k8s.io/ephemeral\" is a new feature in Kubernetes 1.16. It is only required for drivers which support both the \"Persistent\" and \"Ephemeral\" VolumeLifecycleMode. Other drivers can leave pod info disabled and/or ignore this field. As Kubernetes 1.15 doesn't support this field, drivers can only support one mode when deployed on such a cluster and the deployment determines which mode that is, for example via a command line parameter of the driver.\n\nThis field was immutable in Kubernetes < 1.29 and now is mutable."),
    col("StorageCapacity", "boolean", "", 0, "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report by creating CSIStorageCapacity objects with capacity information, if set to true.\n\nThe check can be enabled immediately when deploying a driver. In that case, provisioning new volumes with late binding will pause until the driver deployment has published some suitable CSIStorageCapacity object.\n\nAlternatively, the driver can be deployed with the field unset or false and it can be flipped later when storage capacity information has been published.\n\nThis field was immutable in Kubernetes <= 1.22 and now is mutable."),
    col("TokenRequests", "string", "", 0, "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication. Kubelet will pass the tokens in VolumeContext in the CSI NodePublishVolume calls. The CSI driver should parse and validate the following VolumeContext: \"csi.storage.k8s.io/serviceAccount.tokens\": {\n  \"<audience>\": {\n    \"token\": <token>,\n    \"expirationTimestamp\": <expiration timestamp in RFC3339>,\n  },\n  ...\n}\n\nNote: Audience in each TokenRequest should be different and at most one token is empty string. To receive a new token after expiry, RequiresRepublish can be used to trigger NodePublishVolume periodically."),
    col("RequiresRepublish", "boolean", "", 0, "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume. This field defaults to false.\n\nNote: After a successful initial NodePublishVolume call, subsequent calls to NodePublishVolume should only update the contents of the volume. New mount points will not be seen by a running container."),
    col("Modes", "string", "", 0, "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports. The default if the list is empty is \"Persistent\", which is the usage defined by the CSI specification and implemented in Kubernetes via the usual PV/PVC mechanism.\n\nThe other mode is \"Ephemeral\". In this mode, volumes are defined inline inside the pod spec with CSIVolumeSource and their lifecycle is tied to the lifecycle of that pod. A driver has to be aware of this because it is only going to get a NodePublishVolume call for such a volume.\n\nFor more information about implementing this mode, see https://kubernetes-csi.github.io/docs/ephemeral-local-volumes.html A driver can support one or more of these modes and more modes may be added in the future.\n\nThis field is beta. This field is immutable."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const MUTATING_WEBHOOK_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "Webhooks",
        "integer",
        "",
        0,
        "Webhooks indicates the number of webhooks registered in this configuration",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const VALIDATING_WEBHOOK_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "Webhooks",
        "integer",
        "",
        0,
        "Webhooks indicates the number of webhooks registered in this configuration",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const VALIDATING_ADMISSION_POLICY_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "Validations",
        "integer",
        "",
        0,
        "Validations indicates the number of validation rules defined in this configuration",
    ),
    col(
        "ParamKind",
        "string",
        "",
        0,
        "ParamKind specifies the kind of resources used to parameterize this policy",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const VALIDATING_ADMISSION_POLICY_BINDING_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "PolicyName",
        "string",
        "",
        0,
        "PolicyName indicates the policy definition which the policy binding binded to",
    ),
    col(
        "ParamRef",
        "string",
        "",
        0,
        "ParamRef indicates the param resource which sets the configuration param",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const MUTATING_ADMISSION_POLICY_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "Mutations",
        "integer",
        "",
        0,
        "Mutation indicates the number of mutations rules defined in this configuration",
    ),
    col(
        "ParamKind",
        "string",
        "",
        0,
        "ParamKind specifies the kind of resources used to parameterize this policy",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const MUTATING_ADMISSION_POLICY_BINDING_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "PolicyName",
        "string",
        "",
        0,
        "PolicyName indicates the policy definition which the policy binding binded to",
    ),
    col(
        "ParamRef",
        "string",
        "",
        0,
        "ParamRef indicates the param resource which sets the configuration param",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const FLOW_SCHEMA_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("PriorityLevel", "string", "", 0, "`name` is the name of the priority level configuration being referenced Required."),
    col("MatchingPrecedence", "string", "", 0, "`matchingPrecedence` is used to choose among the FlowSchemas that match a given request. The chosen FlowSchema is among those with the numerically lowest (which we take to be logically highest) MatchingPrecedence.  Each MatchingPrecedence value must be ranged in [1,10000]. Note that if the precedence is not specified, it will be set to 1000 as default."),
    col("DistinguisherMethod", "string", "", 0, "`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this schema. `nil` specifies that the distinguisher is disabled and thus will always be the empty string."),
    col("Age", "string", "", 0, CREATED_DESC),
    col("MissingPL", "string", "", 0, "references a broken or non-existent PriorityLevelConfiguration"),
];

const PRIORITY_LEVEL_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Type", "string", "", 0, "`type` indicates whether this priority level is subject to limitation on request execution.  A value of `\"Exempt\"` means that requests of this priority level are not subject to a limit (and thus are never queued) and do not detract from the capacity made available to other priority levels.  A value of `\"Limited\"` means that (a) requests of this priority level _are_ subject to limits and (b) some of the server's limited capacity is made available exclusively to this priority level. Required."),
    col("NominalConcurrencyShares", "string", "", 0, "`nominalConcurrencyShares` (NCS) contributes to the computation of the NominalConcurrencyLimit (NominalCL) of this level. This is the number of execution seats available at this priority level. This is used both for requests dispatched from this priority level as well as requests dispatched from other priority levels borrowing seats from this level. The server's concurrency limit (ServerCL) is divided among the Limited priority levels in proportion to their NCS values:\n\nNominalCL(i)  = ceil( ServerCL * NCS(i) / sum_ncs ) sum_ncs = sum[priority level k] NCS(k)\n\nBigger numbers mean a larger nominal concurrency limit, at the expense of every other priority level.\n\nIf not specified, this field defaults to a value of 30.\n\nSetting this field to zero supports the construction of a \"jail\" for this priority level that is used to hold some request(s)"),
    col("Queues", "string", "", 0, "`queues` is the number of queues for this priority level. The queues exist independently at each apiserver. The value must be positive.  Setting it to 1 effectively precludes shufflesharding and thus makes the distinguisher method of associated flow schemas irrelevant.  This field has a default value of 64."),
    col("HandSize", "string", "", 0, "`handSize` is a small positive number that configures the shuffle sharding of requests into queues.  When enqueuing a request at this priority level the request's flow identifier (a string pair) is hashed and the hash value is used to shuffle the list of queues and deal a hand of the size specified here.  The request is put into one of the shortest queues in that hand. `handSize` must be no larger than `queues`, and should be significantly smaller (so that a few heavy flows do not saturate most of the queues).  See the user-facing documentation for more extensive guidance on setting this field.  This field has a default value of 8."),
    col("QueueLengthLimit", "string", "", 0, "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of this priority level at a time; excess requests are rejected.  This value must be positive.  If not specified, it will be defaulted to 50."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const STORAGE_VERSION_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("CommonEncodingVersion", "string", "", 0, "If all API server instances agree on the same encoding storage version, then this field is set to that version. Otherwise this field is left empty. API servers should finish updating its storageVersionStatus entry before serving write operations, so that this field will be in sync with the reality."),
    col("StorageVersions", "string", "", 0, "The reported versions per API server instance."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const SCALE_COLUMNS: &[Column] = &[
    col("Name", "string", "", 0, NAME_DESC),
    col(
        "Desired",
        "integer",
        "",
        0,
        "replicas is the desired number of instances for the scaled object.",
    ),
    col(
        "Available",
        "integer",
        "",
        0,
        "replicas is the actual number of observed instances of the scaled object.",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const DEVICE_CLASS_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Age", "string", "", 0, CREATED_DESC),
];

const RESOURCE_CLAIM_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col(
        "State",
        "string",
        "",
        0,
        "A summary of the current state (allocated, pending, reserved, etc.).",
    ),
    col("Age", "string", "", 0, CREATED_DESC),
];

const RESOURCE_CLAIM_TEMPLATE_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Age", "string", "", 0, CREATED_DESC),
];

const NODE_RESOURCE_SLICE_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Node", "string", "", 0, "NodeName identifies the node which provides the resources in this pool. A field selector can be used to list only ResourceSlice objects belonging to a certain node.\n\nThis field can be used to limit access from nodes to ResourceSlices with the same node name. It also indicates to autoscalers that adding new nodes of the same type as some old node might also make new resources available.\n\nExactly one of NodeName, NodeSelector, AllNodes, and PerDeviceNodeSelection must be set. This field is immutable."),
    col("Driver", "string", "", 0, "Driver identifies the DRA driver providing the capacity information. A field selector can be used to list only ResourceSlice objects with a certain driver name.\n\nMust be a DNS subdomain and should end with a DNS domain owned by the vendor of the driver. It should use only lower case characters. This field is immutable."),
    col("Pool", "string", "", 0, "Name is used to identify the pool. For node-local devices, this is often the node name, but this is not required.\n\nIt must not be longer than 253 characters and must consist of one or more DNS sub-domains separated by slashes. This field is immutable."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const DEVICE_TAINT_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Key", "string", "", 0, "The taint key to be applied to a device. Must be a label name."),
    col("Value", "string", "", 0, "The taint value corresponding to the taint key. Must be a label value."),
    col("Effect", "string", "", 0, "The effect of the taint on claims that do not tolerate the taint and through such claims on the pods using them.\n\nValid effects are None, NoSchedule and NoExecute. PreferNoSchedule as used for nodes is not valid here. More effects may get added in the future. Consumers must treat unknown effects like None."),
    col("TimeAdded", "string", "", 0, "TimeAdded represents the time at which the taint was added. Added automatically during create or update if not set."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const SERVICE_CIDR_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("CIDRs", "string", "", 0, "CIDRs defines the IP blocks in CIDR notation (e.g. \"192.168.0.0/24\" or \"2001:db8::/64\") from which to assign service cluster IPs. Max of two CIDRs is allowed, one of each IP family. This field is immutable."),
    col("Age", "string", "", 0, CREATED_DESC),
];

const IP_ADDRESS_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("ParentRef", "string", "", 0, "ParentRef references the resource that an IPAddress is attached to. An IPAddress must reference a parent object."),
];

const STORAGE_VERSION_MIGRATION_COLUMNS: &[Column] = &[
    col("Name", "string", "", 0, NAME_DESC),
    col("Resource", "string", "", 0, "GroupResource to migrate"),
    col("Status", "string", "", 0, "Status of the migration"),
];

const WORKLOAD_COLUMNS: &[Column] = &[
    col("Name", "string", "name", 0, NAME_DESC),
    col("Age", "string", "", 0, CREATED_DESC),
];

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z

    fn ts(secs_ago: i64) -> String {
        chrono::DateTime::from_timestamp(NOW - secs_ago, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    /// Every (group, kind) with a dedicated printer.
    const PRINTED: &[(&str, &str)] = &[
        ("", "Pod"),
        ("", "PodTemplate"),
        ("", "ReplicationController"),
        ("", "Service"),
        ("", "Endpoints"),
        ("", "Node"),
        ("", "Event"),
        ("events.k8s.io", "Event"),
        ("", "Namespace"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "ComponentStatus"),
        ("", "ConfigMap"),
        ("", "ResourceQuota"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "DaemonSet"),
        ("apps", "StatefulSet"),
        ("apps", "ControllerRevision"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("policy", "PodDisruptionBudget"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("autoscaling", "Scale"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("networking.k8s.io", "IPAddress"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("certificates.k8s.io", "PodCertificateRequest"),
        ("coordination.k8s.io", "Lease"),
        ("coordination.k8s.io", "LeaseCandidate"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "CSIDriver"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("scheduling.k8s.io", "Workload"),
        ("node.k8s.io", "RuntimeClass"),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration",
        ),
        (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
        ),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicyBinding",
        ),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        (
            "admissionregistration.k8s.io",
            "MutatingAdmissionPolicyBinding",
        ),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("internal.apiserver.k8s.io", "StorageVersion"),
        ("storagemigration.k8s.io", "StorageVersionMigration"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "ResourceClaim"),
        ("resource.k8s.io", "ResourceClaimTemplate"),
        ("resource.k8s.io", "ResourceSlice"),
        ("resource.k8s.io", "DeviceTaintRule"),
    ];

    /// Kinds served with the generic Name / Created At table.
    const DEFAULTED: &[(&str, &str)] = &[
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("", "LimitRange"),
        ("storage.k8s.io", "CSIStorageCapacity"),
        ("example.com", "Widget"),
    ];

    fn rich_object() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Thing",
            "metadata": {
                "name": "x", "namespace": "ns", "creationTimestamp": ts(300),
                "labels": {"a": "b", "node-role.kubernetes.io/control-plane": ""},
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "controller": true}]
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                "ports": [{"port": 80, "protocol": "TCP"}],
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}],
                "scaleTargetRef": {"kind": "Deployment", "name": "web"},
                "maxReplicas": 5,
                "limited": {"nominalConcurrencyShares": 10, "limitResponse": {"type": "Queue", "queuing": {"queues": 2}}},
                "taint": {"key": "k", "effect": "NoSchedule", "timeAdded": ts(60)},
                "paramRef": {"selector": {"matchLabels": {"x": "y"}}},
            },
            "status": {
                "phase": "Running", "replicas": 3, "readyReplicas": 2,
                "conditions": [{"type": "Ready", "status": "True"}],
                "hard": {"pods": "10", "limits.cpu": "2"}, "used": {"pods": "1"},
                "startTime": ts(100),
            },
            "data": {"k": "dg=="},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}],
            "endpoints": [{"addresses": ["10.0.0.1"]}],
            "roleRef": {"kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "alice"}],
            "involvedObject": {"kind": "Pod", "name": "p"},
            "webhooks": [{}],
        })
    }

    fn garbage() -> Vec<Value> {
        vec![
            json!(null),
            json!(5),
            json!("pod"),
            json!([1, 2, 3]),
            json!({}),
            json!({"spec": 5}),
            json!({"status": "x", "metadata": []}),
            json!({"metadata": {"name": 7, "creationTimestamp": "not a time", "labels": 3, "deletionTimestamp": 1}}),
            json!({"spec": {"containers": "x", "initContainers": [5], "ports": [null, {"port": "x"}], "selector": {"matchExpressions": [5]}},
                   "status": {"conditions": {"a": 1}, "containerStatuses": [null, {"state": 5}], "initContainerStatuses": [{"state": {"terminated": 3}}], "podIPs": [7]}}),
            json!({"spec": {"metrics": [{"type": "Pods"}, {"type": "Object"}, {"type": 1}], "selector": {"matchLabels": {"a": 1}}},
                   "status": {"currentMetrics": "x", "hard": {"cpu": {}}}, "subsets": [{"ports": [1], "addresses": [2]}]}),
        ]
    }

    #[test]
    fn human_duration_covers_every_branch() {
        let cases: &[(i64, &str)] = &[
            (-5, "<invalid>"),
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (599, "9m59s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 15 * 60, "3h15m"),
            (7 * 3600 + 59 * 60, "7h59m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (4 * 86400 + 5 * 3600, "4d5h"),
            (7 * 86400 + 23 * 3600, "7d23h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (730 * 86400 + 100 * 86400, "2y100d"),
            (3 * 365 * 86400, "3y"),
            (8 * 365 * 86400, "8y"),
            (20 * 365 * 86400 + 40 * 86400, "20y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(*secs), *want, "{secs}s");
        }
    }

    fn pod(status: Value) -> Value {
        json!({
            "metadata": {"name": "p", "creationTimestamp": ts(30)},
            "spec": {"containers": [{"name": "a"}], "nodeName": "n1"},
            "status": status,
        })
    }

    fn pod_status(p: &Value) -> Value {
        cells("", "Pod", p, NOW)[2].clone()
    }

    #[test]
    fn pod_pending() {
        let p = pod(json!({"phase": "Pending"}));
        let row = cells("", "Pod", &p, NOW);
        assert_eq!(row[0], "p");
        assert_eq!(row[1], "0/1");
        assert_eq!(row[2], "Pending");
        assert_eq!(row[3], "0");
        assert_eq!(row[4], "30s");
        assert_eq!(row[5], "<none>");
        assert_eq!(row[6], "n1");
        assert_eq!(row[7], "<none>");
        assert_eq!(row[8], "<none>");
        assert!(row_conditions("", "Pod", &p).is_empty());
    }

    #[test]
    fn pod_running_ready() {
        let p = pod(json!({
            "phase": "Running", "podIP": "10.1.0.5",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}}],
        }));
        let row = cells("", "Pod", &p, NOW);
        assert_eq!(row[1], "1/1");
        assert_eq!(row[2], "Running");
        assert_eq!(row[5], "10.1.0.5");
    }

    #[test]
    fn pod_crash_loop_with_restart_age() {
        let p = pod(json!({
            "phase": "Running",
            "containerStatuses": [{
                "name": "a", "ready": false, "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": ts(300)}},
            }],
        }));
        let row = cells("", "Pod", &p, NOW);
        assert_eq!(row[1], "0/1");
        assert_eq!(row[2], "CrashLoopBackOff");
        assert_eq!(row[3], "5 (5m ago)");
    }

    #[test]
    fn pod_init_progress_and_failures() {
        let mut p = pod(json!({
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "i1", "state": {"waiting": {"reason": "PodInitializing"}}},
                {"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}},
            ],
        }));
        p["spec"]["initContainers"] = json!([{"name": "i1"}, {"name": "i2"}]);
        assert_eq!(pod_status(&p), "Init:0/2");

        p["status"]["initContainerStatuses"][0]["state"] = json!({"terminated": {"exitCode": 0}});
        assert_eq!(pod_status(&p), "Init:1/2");

        p["status"]["initContainerStatuses"][1]["state"] = json!({"terminated": {"exitCode": 3}});
        assert_eq!(pod_status(&p), "Init:ExitCode:3");

        p["status"]["initContainerStatuses"][1]["state"] =
            json!({"waiting": {"reason": "ImagePullBackOff"}});
        assert_eq!(pod_status(&p), "Init:ImagePullBackOff");
    }

    #[test]
    fn pod_sidecar_counts_towards_total() {
        let mut p = pod(json!({
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "side", "started": true, "ready": true, "restartCount": 2, "state": {"running": {}}}],
            "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}],
        }));
        p["spec"]["initContainers"] = json!([{"name": "side", "restartPolicy": "Always"}]);
        let row = cells("", "Pod", &p, NOW);
        assert_eq!(row[1], "2/2");
        assert_eq!(row[2], "Running");
        assert_eq!(row[3], "2");
    }

    #[test]
    fn pod_completed_and_not_ready() {
        let p = pod(json!({
            "phase": "Succeeded",
            "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
        }));
        assert_eq!(pod_status(&p), "Completed");
        let conds = row_conditions("", "Pod", &p);
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0]["type"], "Completed");
        assert_eq!(conds[0]["status"], "True");

        let mut p2 = pod(json!({
            "phase": "Running",
            "containerStatuses": [
                {"name": "a", "ready": true, "state": {"running": {}}},
                {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            ],
        }));
        p2["spec"]["containers"] = json!([{"name": "a"}, {"name": "b"}]);
        // The last container's reason wins, then running containers turn Completed back.
        assert_eq!(pod_status(&p2), "NotReady");
        p2["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
        assert_eq!(pod_status(&p2), "Running");

        let failed = pod(json!({
            "phase": "Failed",
            "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}}],
        }));
        assert_eq!(pod_status(&failed), "Signal:9");
        assert_eq!(row_conditions("", "Pod", &failed)[0]["reason"], "Failed");
    }

    #[test]
    fn pod_terminating_and_node_lost() {
        let mut p = pod(json!({"phase": "Running"}));
        p["metadata"]["deletionTimestamp"] = json!(ts(1));
        assert_eq!(pod_status(&p), "Terminating");
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(pod_status(&p), "Unknown");
        let mut done = pod(json!({"phase": "Succeeded"}));
        done["metadata"]["deletionTimestamp"] = json!(ts(1));
        assert_eq!(pod_status(&done), "Succeeded");
    }

    #[test]
    fn pod_scheduling_gated_and_readiness_gates() {
        let mut p = pod(json!({
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
                {"type": "g1", "status": "True"},
            ],
        }));
        p["spec"]["readinessGates"] = json!([{"conditionType": "g1"}, {"conditionType": "g2"}]);
        let row = cells("", "Pod", &p, NOW);
        assert_eq!(row[2], "SchedulingGated");
        assert_eq!(row[8], "1/2");
    }

    #[test]
    fn service_ports_and_external_ips() {
        let svc = json!({
            "metadata": {"name": "web", "creationTimestamp": ts(7200)},
            "spec": {
                "type": "NodePort", "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "nodePort": 30443, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                "selector": {"b": "2", "a": "1"},
            },
        });
        let row = cells("", "Service", &svc, NOW);
        assert_eq!(
            row,
            vec![
                json!("web"),
                json!("NodePort"),
                json!("10.43.0.10"),
                json!("<none>"),
                json!("80/TCP,443:30443/TCP,53/UDP"),
                json!("120m"),
                json!("a=1,b=2"),
            ]
        );

        let lb = json!({"spec": {"type": "LoadBalancer", "ports": []}});
        let row = cells("", "Service", &lb, NOW);
        assert_eq!(row[2], "<none>");
        assert_eq!(row[3], "<pending>");
        assert_eq!(row[4], "<none>");
        assert_eq!(row[5], "<unknown>");
        assert_eq!(row[6], "<none>");

        let lb2 = json!({"spec": {"type": "LoadBalancer", "externalIPs": ["1.1.1.1"]},
                         "status": {"loadBalancer": {"ingress": [{"ip": "9.9.9.9"}, {"hostname": "lb.example"}]}}});
        assert_eq!(
            cells("", "Service", &lb2, NOW)[3],
            "9.9.9.9,lb.example,1.1.1.1"
        );

        let ext = json!({"spec": {"type": "ExternalName", "externalName": "db.example.com"}});
        assert_eq!(cells("", "Service", &ext, NOW)[3], "db.example.com");
    }

    #[test]
    fn node_status_and_roles() {
        let node = json!({
            "metadata": {"name": "n1", "creationTimestamp": ts(86400 * 3), "labels": {
                "node-role.kubernetes.io/control-plane": "",
                "node-role.kubernetes.io/etcd": "true",
                "node-role.kubernetes.io/": "",
                "kubernetes.io/role": "master",
                "kubernetes.io/hostname": "n1",
            }},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "192.168.1.2"}, {"type": "Hostname", "address": "n1"}],
                "nodeInfo": {"kubeletVersion": "v1.35.4+k3rs", "osImage": "Debian"},
            },
        });
        let row = cells("", "Node", &node, NOW);
        assert_eq!(row[1], "Ready,SchedulingDisabled");
        assert_eq!(row[2], "control-plane,etcd,master");
        assert_eq!(row[3], "3d");
        assert_eq!(row[4], "v1.35.4+k3rs");
        assert_eq!(row[5], "192.168.1.2");
        assert_eq!(row[6], "<none>");
        assert_eq!(row[7], "Debian");
        assert_eq!(row[8], "<unknown>");

        let bare = json!({"metadata": {"name": "n2"}});
        let row = cells("", "Node", &bare, NOW);
        assert_eq!(row[1], "Unknown");
        assert_eq!(row[2], "<none>");
    }

    #[test]
    fn wide_columns_have_priority_one() {
        let cols = columns("", "Pod");
        let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert_eq!(cols[0].format, "name");
        assert_eq!(cols[4].priority, 0);
        assert_eq!(cols[5].priority, 1);
        let dep = columns("apps", "Deployment");
        let sel = dep.iter().find(|c| c.name == "Selector").unwrap();
        assert_eq!(sel.priority, 1);
        let ev = columns("", "Event");
        assert_eq!(
            ev.iter()
                .filter(|c| c.priority == 0)
                .map(|c| c.name)
                .collect::<Vec<_>>(),
            ["Last Seen", "Type", "Reason", "Object", "Message"]
        );
        let defs = column_definitions(&cols);
        assert_eq!(defs[5]["name"], "IP");
        assert_eq!(defs[5]["priority"], 1);
        assert_eq!(defs[0]["format"], "name");
        assert_eq!(defs[1]["type"], "string");
    }

    #[test]
    fn default_table_for_kinds_without_printer() {
        for (g, k) in DEFAULTED {
            let cols = columns(g, k);
            assert_eq!(
                cols.iter().map(|c| c.name).collect::<Vec<_>>(),
                ["Name", "Created At"]
            );
            assert_eq!(cols[1].type_, "date");
        }
        let role =
            json!({"metadata": {"name": "r", "creationTimestamp": "2024-01-02T03:04:05+01:00"}});
        assert_eq!(
            cells("rbac.authorization.k8s.io", "Role", &role, NOW),
            vec![json!("r"), json!("2024-01-02T02:04:05Z")]
        );
        assert_eq!(
            cells("", "LimitRange", &json!({}), NOW),
            vec![json!(""), json!("0001-01-01T00:00:00Z")]
        );
    }

    #[test]
    fn row_and_header_always_match() {
        let mut objects = garbage();
        objects.push(rich_object());
        for (g, k) in PRINTED.iter().chain(DEFAULTED) {
            let want = columns(g, k).len();
            for obj in &objects {
                let row = cells(g, k, obj, NOW);
                assert_eq!(row.len(), want, "{g}/{k} on {obj}");
                let _ = row_conditions(g, k, obj);
            }
        }
        for (g, k) in PRINTED {
            assert_ne!(
                columns(g, k),
                DEFAULT_COLUMNS.to_vec(),
                "{g}/{k} has a printer"
            );
        }
    }

    #[test]
    fn workload_rows() {
        let obj = rich_object();
        let dep = cells("apps", "Deployment", &obj, NOW);
        assert_eq!(
            dep,
            vec![
                json!("x"),
                json!("2/3"),
                json!(0),
                json!(0),
                json!("5m"),
                json!("c"),
                json!("nginx"),
                json!("app=x,tier in (a,b)"),
            ]
        );
        let rs = cells("apps", "ReplicaSet", &obj, NOW);
        assert_eq!(rs[1..4], [json!(3), json!(3), json!(2)]);
        assert_eq!(cells("apps", "StatefulSet", &obj, NOW)[1], "2/3");
        assert_eq!(
            cells("apps", "ControllerRevision", &obj, NOW)[1],
            "daemonset.apps/ds"
        );
        assert_eq!(cells("", "ConfigMap", &obj, NOW)[1], 1);
        assert_eq!(cells("", "Endpoints", &obj, NOW)[1], "10.0.0.1:80");
        assert_eq!(
            cells("discovery.k8s.io", "EndpointSlice", &obj, NOW)[2],
            "<unset>"
        );
        assert_eq!(
            cells("autoscaling", "HorizontalPodAutoscaler", &obj, NOW)[2],
            "cpu: <unknown>/80%"
        );
        assert_eq!(
            cells("", "ResourceQuota", &obj, NOW)[1..3],
            [json!("pods: 1/10"), json!("limits.cpu: 0/2")]
        );
        assert_eq!(
            cells("storage.k8s.io", "StorageClass", &obj, NOW)[0],
            "x (default)"
        );
        assert_eq!(
            cells("rbac.authorization.k8s.io", "RoleBinding", &obj, NOW)[1..4],
            [json!("ClusterRole/admin"), json!("5m"), json!("alice")]
        );
        assert_eq!(
            cells(
                "flowcontrol.apiserver.k8s.io",
                "PriorityLevelConfiguration",
                &obj,
                NOW
            )[2..6],
            [json!(10), json!(2), json!(8), json!(50)]
        );
    }

    #[test]
    fn job_and_cronjob_rows() {
        let job = json!({
            "metadata": {"name": "j", "creationTimestamp": ts(600)},
            "spec": {"completions": 3, "parallelism": 2},
            "status": {"succeeded": 1, "startTime": ts(500), "conditions": []},
        });
        let row = cells("batch", "Job", &job, NOW);
        assert_eq!(
            row[1..5],
            [json!("Running"), json!("1/3"), json!("8m20s"), json!("10m")]
        );
        let done = json!({
            "spec": {"parallelism": 4},
            "status": {"succeeded": 4, "startTime": ts(500), "completionTime": ts(440),
                       "conditions": [{"type": "Complete", "status": "True"}]},
        });
        let row = cells("batch", "Job", &done, NOW);
        assert_eq!(
            row[1..4],
            [json!("Complete"), json!("4/1 of 4"), json!("60s")]
        );

        let cj = json!({"spec": {"schedule": "*/5 * * * *"}, "status": {"active": [{}]}});
        let row = cells("batch", "CronJob", &cj, NOW);
        assert_eq!(
            row[1..6],
            [
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn event_rows() {
        let ev = json!({
            "metadata": {"name": "p.123"},
            "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{a}"},
            "reason": "Pulled", "type": "Normal", "message": " pulled \n",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": ts(600), "lastTimestamp": ts(60), "count": 3,
        });
        let row = cells("", "Event", &ev, NOW);
        assert_eq!(
            row,
            vec![
                json!("60s"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/p"),
                json!("spec.containers{a}"),
                json!("kubelet, n1"),
                json!("pulled"),
                json!("10m"),
                json!(3),
                json!("p.123"),
            ]
        );
        let new = json!({
            "metadata": {"name": "e"}, "regarding": {"kind": "Node", "name": "n1"}, "note": "hi",
            "eventTime": "2023-11-14T22:13:00.000000Z", "reportingController": "k3rs", "reason": "R", "type": "Warning",
        });
        let row = cells("events.k8s.io", "Event", &new, NOW);
        assert_eq!(row[0], "20s");
        assert_eq!(row[3], "node/n1");
        assert_eq!(row[5], "k3rs");
        assert_eq!(row[6], "hi");
        assert_eq!(row[8], 1);
    }
}
