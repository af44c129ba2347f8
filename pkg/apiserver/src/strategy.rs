//! The per-kind hooks of the generic store, with upstream's defaults. Most kinds need none of the
//! special cases here: status is reset on create and kept on spec updates for kinds that have a
//! status subresource, and `generation` moves when the spec changes.

use serde_json::{json, Value};

use k3rs_apis::registry::{self, Resource};

use crate::object::{meta, meta_mut, meta_str, spec_part};
use crate::status::{ApiError, ApiResult};
use crate::store::Api;

/// Checks (and fills in when missing) `apiVersion` and `kind` against the endpoint's.
pub fn check_type(res: &Resource, obj: &mut Value) -> ApiResult<()> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of the request must be a {} object",
            res.kind
        )));
    }
    let want_version = res.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => obj["apiVersion"] = json!(want_version),
        Some(v) if v == want_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({want_version})"
            )))
        }
    }
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => obj["kind"] = json!(res.kind),
        Some(k) if k == res.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                res.kind
            )))
        }
    }
    Ok(())
}

/// Upstream's pod QoS class from container requests and limits.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.pointer(&format!("/spec/{f}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        for r in ["cpu", "memory"] {
            let rq = req.and_then(|m| m.get(r));
            let lm = lim.and_then(|m| m.get(r));
            if rq.is_some() || lm.is_some() {
                any = true;
            }
            match (rq, lm) {
                (_, None) => guaranteed = false,
                (Some(a), Some(b)) if a != b => guaranteed = false,
                _ => {}
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        _ => "Burstable",
    }
}

/// What a create may set: status is the system's, except where upstream keeps it.
pub fn prepare_for_create(res: &Resource, obj: &mut Value) {
    if obj.get("spec").is_some() || res.is_custom() {
        meta_mut(obj).insert("generation".into(), json!(1));
    } else {
        meta_mut(obj).remove("generation");
    }
    match (res.group, res.kind) {
        ("", "Pod") => {
            let qos = qos_class(obj);
            obj["status"] = json!({"phase": "Pending", "qosClass": qos});
        }
        ("", "Namespace") => obj["status"] = json!({"phase": "Active"}),
        ("", "Service") => obj["status"] = json!({"loadBalancer": {}}),
        // Volumes and claims start Pending until a binder acts on them.
        ("", "PersistentVolumeClaim") => obj["status"] = json!({"phase": "Pending"}),
        ("", "PersistentVolume") => {
            obj["status"] = json!({
                "phase": "Pending",
                "lastPhaseTransitionTime": crate::object::now_rfc3339(),
            })
        }
        // Nodes register with their status; CSRs' status is the approver's (kept empty).
        ("", "Node") => {}
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let mut status = json!({"acceptedNames": {"plural": "", "kind": ""}, "conditions": [], "storedVersions": []});
            if let Some(v) = crd_storage_version(obj) {
                status["storedVersions"] = json!([v]);
            }
            obj["status"] = status;
        }
        _ if res.has_status() => {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
        _ => {}
    }
}

/// The metadata fields a status update may change, per upstream's status strategy of the kind:
/// labels, annotations, finalizers and owner references for most kinds; Deployments keep their
/// labels and Pods their owners; kinds whose strategy resets the object metadata for status
/// (`ResetObjectMetaForStatus`, or flowcontrol's copy of the old metadata) change none.
fn status_metadata_fields(res: &Resource) -> &'static [&'static str] {
    const ALL: &[&str] = &["labels", "annotations", "finalizers", "ownerReferences"];
    match (res.group, res.kind) {
        ("apps", "Deployment") => &["annotations", "finalizers", "ownerReferences"],
        ("", "Pod") => &["labels", "annotations", "finalizers"],
        ("networking.k8s.io", "ServiceCIDR")
        | ("storage.k8s.io", "VolumeAttachment")
        | ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy")
        | ("admissionregistration.k8s.io", "MutatingAdmissionPolicy")
        | ("resource.k8s.io", "ResourceClaim")
        | ("resource.k8s.io", "DeviceTaintRule")
        | ("internal.apiserver.k8s.io", "StorageVersion")
        | ("certificates.k8s.io", "PodCertificateRequest")
        | ("flowcontrol.apiserver.k8s.io", _) => &[],
        _ => ALL,
    }
}

/// Finishes a status-like update: `out` (the current object with the new status) gets the
/// metadata the kind's status strategy lets the request change, and becomes `new`.
fn take_status_metadata(res: &Resource, current: &Value, new: &mut Value, mut out: Value) {
    for field in status_metadata_fields(res) {
        match meta(new).and_then(|m| m.get(*field)).cloned() {
            Some(v) => {
                meta_mut(&mut out).insert((*field).into(), v);
            }
            None => {
                meta_mut(&mut out).remove(*field);
            }
        }
    }
    meta_mut(&mut out).insert(
        "resourceVersion".into(),
        meta(current)
            .and_then(|m| m.get("resourceVersion"))
            .cloned()
            .unwrap_or(json!("")),
    );
    *new = out;
}

/// Builds the object an update stores: identity and system fields from `current`; status or spec
/// from the request depending on the subresource; generation bumped on spec changes.
pub fn prepare_for_update(
    res: &'static Resource,
    subresource: Option<&str>,
    ns: Option<&str>,
    name: &str,
    current: &Value,
    new: &mut Value,
) -> ApiResult<()> {
    check_type(res, new)?;
    match meta_str(new, "name") {
        None | Some("") => {
            meta_mut(new).insert("name".into(), json!(name));
        }
        Some(n) if n == name => {}
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )))
        }
    }
    if res.namespaced {
        match meta_str(new, "namespace") {
            None | Some("") => {
                if let Some(ns) = ns {
                    meta_mut(new).insert("namespace".into(), json!(ns));
                }
            }
            Some(n) if Some(n) == ns => {}
            Some(_) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
        }
    }
    if subresource == Some("status") {
        // Through the status subresource change the status and, as upstream's status strategies
        // allow for most kinds, the user-settable metadata; never the spec.
        let status = new.get("status").cloned();
        let mut out = current.clone();
        match status {
            Some(s) => out["status"] = s,
            None => {
                if let Some(m) = out.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        take_status_metadata(res, current, new, out);
    } else if subresource == Some("approval") {
        // A CertificateSigningRequest's approval changes only its status conditions (and the
        // metadata, as through status).
        let conditions = new.pointer("/status/conditions").cloned();
        let mut out = current.clone();
        match conditions {
            Some(c) => set_path(&mut out, &["status", "conditions"], c),
            None => {
                if let Some(st) = out.get_mut("status").and_then(Value::as_object_mut) {
                    st.remove("conditions");
                }
            }
        }
        take_status_metadata(res, current, new, out);
    } else if subresource == Some("finalize") {
        // Only spec.finalizers changes through the finalize subresource.
        let finalizers = new.pointer("/spec/finalizers").cloned();
        let mut out = current.clone();
        match finalizers {
            Some(f) => set_path(&mut out, &["spec", "finalizers"], f),
            None => {
                if let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("finalizers");
                }
            }
        }
        *new = out;
    } else if res.has_status() {
        if is_namespace(res) {
            // A Namespace's spec.finalizers change only through the finalize subresource.
            match current.pointer("/spec/finalizers") {
                Some(f) => set_path(new, &["spec", "finalizers"], f.clone()),
                None => {
                    if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                        spec.remove("finalizers");
                    }
                }
            }
        }
        match current.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    // A Service keeps its allocated addresses when an update leaves them out (as upstream).
    if res.group.is_empty() && res.kind == "Service" && subresource.is_none() {
        for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            let unset = match new.pointer(&format!("/spec/{f}")) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                _ => false,
            };
            if let (true, Some(old), Some(spec)) = (
                unset,
                current.pointer(&format!("/spec/{f}")),
                new.get_mut("spec").and_then(Value::as_object_mut),
            ) {
                spec.insert(f.into(), old.clone());
            }
        }
    }
    // Identity and system-owned metadata come from the stored object.
    let cur_meta = meta(current).cloned().unwrap_or_default();
    let m = meta_mut(new);
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match cur_meta.get(f) {
            Some(v) => {
                m.insert(f.into(), v.clone());
            }
            None => {
                m.remove(f);
            }
        }
    }
    m.remove("selfLink");
    m.insert(
        "resourceVersion".into(),
        cur_meta
            .get("resourceVersion")
            .cloned()
            .unwrap_or(json!("")),
    );
    if cur_meta.contains_key("deletionTimestamp") {
        let old: Vec<&Value> = cur_meta
            .get("finalizers")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let added = m
            .get("finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| !old.contains(&x)));
        if added {
            return Err(ApiError::invalid(
                res,
                name,
                &[k3rs_apis::validation::FieldError {
                    reason: k3rs_apis::validation::CauseType::Forbidden,
                    field: "metadata.finalizers".into(),
                    detail: "no new finalizers can be added if the object is being deleted".into(),
                    bad_value: None,
                }],
            ));
        }
    }
    if is_crd(res) {
        // The storage version joins status.storedVersions (as upstream's PrepareForUpdate).
        if let Some(v) = crd_storage_version(new) {
            let stored = new
                .pointer("/status/storedVersions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if !stored.iter().any(|s| s == v.as_str()) {
                let mut stored = stored;
                stored.push(json!(v));
                set_path(new, &["status", "storedVersions"], json!(stored));
            }
        }
    }
    if res.is_custom() {
        custom_prepare(res, new);
    }
    if subresource.is_none() {
        k3rs_apis::defaults::apply_defaults(res.group, res.kind, new);
        // A custom resource without a status subresource counts every change outside metadata
        // (as upstream's strategy); everything else counts spec changes.
        let changed = if res.is_custom() && !res.has_status() {
            let content = |v: &Value| {
                let mut c = v.clone();
                if let Some(m) = c.as_object_mut() {
                    m.remove("metadata");
                }
                c
            };
            content(new) != content(current)
        } else {
            spec_part(new) != spec_part(current)
        };
        if changed {
            if let Some(g) = meta(current)
                .and_then(|m| m.get("generation"))
                .and_then(Value::as_i64)
            {
                meta_mut(new).insert("generation".into(), json!(g + 1));
            }
        }
    }
    let mut errs =
        k3rs_apis::validation::validate_update(res.group, res.kind, res.namespaced, new, current);
    errs.extend(custom_validate(res, new, Some(current)));
    if !errs.is_empty() {
        return Err(ApiError::invalid(res, name, &errs));
    }
    Ok(())
}

fn is_crd(res: &Resource) -> bool {
    res.group == "apiextensions.k8s.io" && res.kind == "CustomResourceDefinition"
}

/// The version a CRD marks `storage: true`.
fn crd_storage_version(crd: &Value) -> Option<String> {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)?
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Custom resources: unknown fields pruned and schema defaults applied (on create and update, as
/// upstream's decoder does). Built-ins are untouched.
pub fn custom_prepare(res: &Resource, obj: &mut Value) {
    if let Some(schema) = k3rs_apis::crd::lookup(res)
        .as_ref()
        .and_then(|c| c.schema.as_ref())
    {
        k3rs_apis::crd::schema::prune(schema, obj);
        k3rs_apis::crd::schema::apply_defaults(schema, obj);
    }
}

/// Schema and CEL-rule validation of a custom resource (empty for built-ins). On update (`old`
/// set), errors on values the update did not change are dropped: upstream's validation
/// ratcheting (GA), so a schema made stricter does not block unrelated changes to old objects.
pub fn custom_validate(
    res: &Resource,
    obj: &Value,
    old: Option<&Value>,
) -> Vec<k3rs_apis::validation::FieldError> {
    let cr = k3rs_apis::crd::lookup(res);
    let Some(schema) = cr.as_ref().and_then(|c| c.schema.as_ref()) else {
        return Vec::new();
    };
    let errs = k3rs_apis::crd::schema::validate(schema, obj);
    let mut errs: Vec<_> = match old {
        None => errs,
        Some(old) => errs
            .into_iter()
            .filter(|e| !k3rs_apis::crd::schema::unchanged_at(schema, obj, old, &e.field))
            .collect(),
    };
    // `x-kubernetes-validations` (CEL) rules, which ratchet on their own (a rule using oldSelf
    // never does), after the schema's structural validation as upstream.
    if let Some(rules) = cr.as_ref().and_then(|c| c.rules.as_ref()) {
        errs.extend(rules.validate(obj, old));
    }
    errs
}

/// Called when a delete request finds the object not yet being deleted: a CRD gets upstream's
/// cleanup finalizer and a Terminating condition, so the CRD controller removes its custom
/// resources before it goes.
pub fn before_delete(res: &Resource, obj: &mut Value) {
    if !is_crd(res) || meta(obj).is_some_and(|m| m.contains_key("deletionTimestamp")) {
        return;
    }
    let m = meta_mut(obj);
    let fins = m.entry("finalizers").or_insert_with(|| json!([]));
    if !fins.is_array() {
        *fins = json!([]);
    }
    if let Some(a) = fins.as_array_mut() {
        if !a.iter().any(|f| f == k3rs_apis::crd::CLEANUP_FINALIZER) {
            a.push(json!(k3rs_apis::crd::CLEANUP_FINALIZER));
        }
    }
    set_condition(
        obj,
        "Terminating",
        "True",
        "InstanceDeletionInProgress",
        "CustomResource deletion is in progress",
    );
}

/// Sets a status condition (lastTransitionTime moves only when the status changes).
pub fn set_condition(obj: &mut Value, type_: &str, status: &str, reason: &str, message: &str) {
    let mut conds = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let now = crate::object::now_rfc3339();
    match conds
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
    {
        Some(c) => {
            if c.get("status").and_then(Value::as_str) != Some(status) {
                c["lastTransitionTime"] = json!(now);
            }
            c["status"] = json!(status);
            c["reason"] = json!(reason);
            c["message"] = json!(message);
        }
        None => conds.push(json!({
            "type": type_, "status": status, "lastTransitionTime": now,
            "reason": reason, "message": message,
        })),
    }
    set_path(obj, &["status", "conditions"], json!(conds));
}

/// Kinds a PUT may create (upstream's `AllowCreateOnUpdate`).
pub fn allow_create_on_update(res: &Resource) -> bool {
    matches!(
        (res.group, res.kind),
        ("coordination.k8s.io", "Lease")
            | ("", "Endpoints")
            | ("", "Event")
            | (
                "rbac.authorization.k8s.io",
                "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
            )
    )
}

/// Whether finalizers still hold the object: `metadata.finalizers`, and for a Namespace also
/// `spec.finalizers` (removed by the namespace controller through `namespaces/<name>/finalize`).
pub fn has_finalizers(res: &Resource, obj: &Value) -> bool {
    let nonempty = |v: Option<&Value>| v.and_then(Value::as_array).is_some_and(|f| !f.is_empty());
    nonempty(meta(obj).and_then(|m| m.get("finalizers")))
        || (is_namespace(res) && nonempty(obj.pointer("/spec/finalizers")))
}

fn is_namespace(res: &Resource) -> bool {
    res.group.is_empty() && res.kind == "Namespace"
}

/// What marking an object deleted changes besides `deletionTimestamp`: a Namespace turns
/// Terminating (and refuses new content).
pub fn mark_deleting(res: &Resource, obj: &mut Value) {
    if is_namespace(res) {
        set_path(obj, &["status", "phase"], json!("Terminating"));
    }
}

/// Sets `obj.<path>`, replacing anything along the way that is not an object (never panics).
pub fn set_path(obj: &mut Value, path: &[&str], value: Value) {
    let Some((last, init)) = path.split_last() else {
        *obj = value;
        return;
    };
    let mut cur = obj;
    for k in init {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Value::Object(m) = cur else { return };
        cur = m.entry(k.to_string()).or_insert_with(|| json!({}));
    }
    if !cur.is_object() {
        *cur = json!({});
    }
    if let Value::Object(m) = cur {
        m.insert(last.to_string(), value);
    }
}

/// How long a delete waits before the object goes: bound pods wait for their kubelet.
pub fn grace_period(res: &Resource, obj: &Value, requested: Option<i64>) -> i64 {
    if !(res.group.is_empty() && res.kind == "Pod") {
        return 0;
    }
    let bound = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        obj.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !bound || finished {
        return 0;
    }
    requested
        .or_else(|| {
            obj.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30)
        .max(0)
}

/// Something a create reserved (a ClusterIP), released if the create fails.
#[derive(Debug, Default)]
pub struct Allocated {
    ip: Option<String>,
}

fn ip_address_object(ip: &str, ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IPAddress",
        "metadata": {
            "name": ip,
            "labels": {
                "ipaddress.kubernetes.io/ip-family": "IPv4",
                "ipaddress.kubernetes.io/managed-by": "ipallocator.k3rs.io",
            },
        },
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": ns, "name": name}},
    })
}

/// Reserves what a new object needs: a Service's ClusterIP, recorded as an IPAddress object (as
/// upstream's allocator does), so two Services can never get the same IP.
pub async fn allocate(api: &Api, res: &Resource, obj: &mut Value) -> ApiResult<Allocated> {
    let mut out = Allocated::default();
    if !(res.group.is_empty() && res.kind == "Service") {
        return Ok(out);
    }
    if obj.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
        return Ok(out);
    }
    let requested = obj
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if requested == "None" {
        obj["spec"]["clusterIPs"] = json!(["None"]);
        return Ok(out);
    }
    let Some(ipres) = registry::find("networking.k8s.io", "v1", "ipaddresses") else {
        return Ok(out);
    };
    let ns = meta_str(obj, "namespace").unwrap_or_default().to_string();
    let name = crate::object::name(obj).to_string();
    let cidr = api.service_cidr;
    let candidates: Vec<std::net::Ipv4Addr> = if !requested.is_empty() {
        let ip: std::net::Ipv4Addr = requested.parse().map_err(|_| {
            ApiError::invalid(
                res,
                &name,
                &[field_invalid(
                    "spec.clusterIP",
                    &requested,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )],
            )
        })?;
        if !cidr.contains(ip) {
            return Err(ApiError::invalid(
                res,
                &name,
                &[field_invalid(
                    "spec.clusterIPs",
                    &requested,
                    "failed to allocate IP: the provided IP is not in the valid range",
                )],
            ));
        }
        vec![ip]
    } else {
        // Every address once, from a random start (network and broadcast excluded).
        let size = cidr.size().saturating_sub(2).max(1);
        let seed = u32::from_le_bytes(
            uuid::Uuid::new_v4().as_bytes()[..4]
                .try_into()
                .unwrap_or([0; 4]),
        );
        (0..size)
            .map(|i| {
                std::net::Ipv4Addr::from(cidr.base + 1 + ((seed % size).wrapping_add(i) % size))
            })
            .collect()
    };
    for ip in candidates {
        let ip_s = ip.to_string();
        if ip == cidr.first() && !(ns == "default" && name == "kubernetes") {
            if requested.is_empty() {
                continue;
            }
            return Err(ApiError::invalid(
                res,
                &name,
                &[field_invalid(
                    "spec.clusterIPs",
                    &requested,
                    &format!("failed to allocate IP {requested}: provided IP is already allocated"),
                )],
            ));
        }
        let bytes = crate::object::encode_stored(&ip_address_object(&ip_s, &ns, &name))?;
        match api
            .store
            .create(
                ipres.key(None, &ip_s).as_bytes(),
                &bytes,
                Default::default(),
            )
            .await
        {
            Ok(_) => {
                obj["spec"]["clusterIP"] = json!(ip_s);
                obj["spec"]["clusterIPs"] = json!([ip_s]);
                obj["spec"]["ipFamilies"] = json!(["IPv4"]);
                obj["spec"]["ipFamilyPolicy"] = json!("SingleStack");
                out.ip = Some(ip_s);
                return Ok(out);
            }
            Err(k3rs_storage::Error::KeyExists { .. }) if requested.is_empty() => continue,
            Err(k3rs_storage::Error::KeyExists { .. }) => {
                return Err(ApiError::invalid(
                    res,
                    &name,
                    &[field_invalid(
                        "spec.clusterIPs",
                        &requested,
                        &format!(
                            "failed to allocate IP {requested}: provided IP is already allocated"
                        ),
                    )],
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(
        "failed to allocate a ClusterIP: the service range is full",
    ))
}

fn field_invalid(field: &str, value: &str, detail: &str) -> k3rs_apis::validation::FieldError {
    k3rs_apis::validation::FieldError {
        reason: k3rs_apis::validation::CauseType::Invalid,
        field: field.into(),
        detail: detail.into(),
        bad_value: Some(json!(value)),
    }
}

/// Gives back what [`allocate`] reserved.
pub async fn release(api: &Api, a: &Allocated) {
    if let (Some(ip), Some(ipres)) = (
        &a.ip,
        registry::find("networking.k8s.io", "v1", "ipaddresses"),
    ) {
        let _ = api.store.delete(ipres.key(None, ip).as_bytes(), None).await;
    }
}

/// Cleans up after an object is gone (a Service's ClusterIP).
pub async fn after_delete(api: &Api, res: &Resource, obj: &Value) {
    if res.group.is_empty() && res.kind == "Service" {
        if let Some(ip) = obj.pointer("/spec/clusterIP").and_then(Value::as_str) {
            if ip != "None" && !ip.is_empty() {
                release(
                    api,
                    &Allocated {
                        ip: Some(ip.to_string()),
                    },
                )
                .await;
            }
        }
    }
}
