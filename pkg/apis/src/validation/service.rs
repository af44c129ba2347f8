//! Services (upstream `ValidateServiceCreate` / `ValidateServiceUpdate`).
//!
//! Upstream's REST layer syncs `clusterIP` with `clusterIPs` and carries allocated IPs over on
//! update before validating; these rules do the same on the values they read, so a client that
//! leaves `clusterIP` out of a PUT is not told it changed.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::formats;
use super::meta::validate_labels_into;
use super::pod::validate_port_num_or_name;
use super::util::*;

const SERVICE_TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];
const MAX_CLIENT_IP_AFFINITY_SECONDS: i64 = 86400;

/// The clusterIPs after upstream's normalisation (clusterIPs defaults to `[clusterIP]`).
fn cluster_ips<'a>(spec: &'a Value, errs: &mut Errs) -> Vec<&'a str> {
    let ips: Vec<&str> = string_items(spec, "clusterIPs", "spec", errs)
        .into_iter()
        .map(|(_, ip)| ip)
        .collect();
    if ips.is_empty() {
        let ip = str_or_empty(spec, "clusterIP", "spec", errs);
        if !ip.is_empty() {
            return vec![ip];
        }
    }
    ips
}

fn is_headless(ips: &[&str]) -> bool {
    ips.first() == Some(&"None")
}

pub(crate) fn validate_service(obj: &Value, old: Option<&Value>, errs: &mut Errs) {
    let empty = Value::Object(Map::new());
    let sp = "spec";
    let spec = get_object(obj, "spec", "", errs).unwrap_or(&empty);
    let svc_type = str_or_empty(spec, "type", sp, errs);
    let ips = cluster_ips(spec, errs);
    let headless = is_headless(&ips);
    let ports = object_items(spec, "ports", sp, errs);

    if ports.is_empty() && !headless && svc_type != "ExternalName" {
        errs.push(required("spec.ports", ""));
    }
    match svc_type {
        "LoadBalancer" | "NodePort" if headless => errs.push(invalid(
            "spec.clusterIPs[0]",
            "None",
            format!("may not be set to 'None' for {svc_type} services"),
        )),
        "ExternalName" => {
            if !ips.is_empty() {
                errs.push(forbidden(
                    "spec.clusterIPs",
                    "may not be set for ExternalName services",
                ));
            }
            if !get_array(spec, "ipFamilies", sp, &mut Errs::new()).is_empty() {
                errs.push(forbidden(
                    "spec.ipFamilies",
                    "may not be set for ExternalName services",
                ));
            }
            if has(spec, "ipFamilyPolicy") {
                errs.push(forbidden(
                    "spec.ipFamilyPolicy",
                    "may not be set for ExternalName services",
                ));
            }
            let name = str_or_empty(spec, "externalName", sp, errs);
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(required("spec.externalName", ""));
            } else {
                invalid_each(
                    errs,
                    "spec.externalName",
                    cname,
                    formats::dns1123_subdomain(cname),
                );
            }
        }
        _ => {}
    }

    let require_name = ports.len() > 1;
    let mut port_names = HashSet::new();
    for (_, pp, port) in &ports {
        validate_service_port(port, pp, require_name, &mut port_names, errs);
    }

    if let Some(selector) = get(spec, "selector") {
        validate_labels_into(selector, "spec.selector", errs);
    }

    let affinity = str_or_empty(spec, "sessionAffinity", sp, errs);
    match affinity {
        "" => errs.push(required("spec.sessionAffinity", "")),
        "ClientIP" => validate_client_ip_affinity(spec, errs),
        "None" => {
            if has(spec, "sessionAffinityConfig") {
                errs.push(forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errs.push(not_supported(
            "spec.sessionAffinity",
            other,
            &["ClientIP", "None"],
        )),
    }

    if svc_type != "ExternalName" {
        validate_cluster_ips(spec, &ips, errs);
    }
    for (i, ip) in string_items(spec, "externalIPs", sp, errs) {
        if !formats::is_ip(ip) {
            errs.push(invalid(
                index("spec.externalIPs", i),
                ip,
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }

    if svc_type.is_empty() {
        errs.push(required("spec.type", ""));
    } else if !SERVICE_TYPES.contains(&svc_type) {
        errs.push(not_supported("spec.type", svc_type, &SERVICE_TYPES));
    }

    validate_node_ports(spec, svc_type, &ports, errs);

    if !get_array(spec, "loadBalancerSourceRanges", sp, errs).is_empty()
        && svc_type != "LoadBalancer"
    {
        errs.push(forbidden(
            "spec.LoadBalancerSourceRanges",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    let allocate = get_bool(spec, "allocateLoadBalancerNodePorts", sp, errs);
    if allocate.is_some() && svc_type != "LoadBalancer" {
        errs.push(forbidden(
            "spec.allocateLoadBalancerNodePorts",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if svc_type == "LoadBalancer" && allocate.is_none() {
        // Upstream reports this path without the `spec.` prefix.
        errs.push(required("allocateLoadBalancerNodePorts", ""));
    }

    validate_traffic_policies(spec, svc_type, errs);

    if let Some(old) = old {
        let old_spec = get(old, "spec").unwrap_or(&empty);
        validate_update(spec, old_spec, errs);
    }
}

fn validate_service_port(
    port: &Value,
    pp: &str,
    require_name: bool,
    names: &mut HashSet<String>,
    errs: &mut Errs,
) {
    let name = str_or_empty(port, "name", pp, errs);
    if require_name && name.is_empty() {
        errs.push(required(child(pp, "name"), ""));
    } else if !name.is_empty() {
        invalid_each(errs, &child(pp, "name"), name, formats::dns1123_label(name));
        if !names.insert(name.to_string()) {
            errs.push(duplicate(child(pp, "name"), name));
        }
    }
    let number = get_i32(port, "port", pp, errs).unwrap_or(0);
    for msg in formats::port_num(number) {
        errs.push(invalid(child(pp, "port"), number, msg));
    }
    let protocol = str_or_empty(port, "protocol", pp, errs);
    if protocol.is_empty() {
        errs.push(required(child(pp, "protocol"), ""));
    } else if !PROTOCOLS.contains(&protocol) {
        errs.push(not_supported(child(pp, "protocol"), protocol, &PROTOCOLS));
    }
    validate_port_num_or_name(port, "targetPort", pp, errs);
    if let Some(app) = get_str(port, "appProtocol", pp, errs) {
        invalid_each(
            errs,
            &child(pp, "appProtocol"),
            app,
            formats::qualified_name(app),
        );
    }
}

fn validate_client_ip_affinity(spec: &Value, errs: &mut Errs) {
    let detail = "when session affinity type is ClientIP";
    let cp = "spec.sessionAffinityConfig";
    let Some(config) = get_object(spec, "sessionAffinityConfig", "spec", errs) else {
        errs.push(required(cp, detail));
        return;
    };
    let Some(client_ip) = get_object(config, "clientIP", cp, errs) else {
        errs.push(required(child(cp, "clientIP"), detail));
        return;
    };
    let tp = child(cp, "clientIP.timeoutSeconds");
    match get_i32(client_ip, "timeoutSeconds", &child(cp, "clientIP"), errs) {
        None => errs.push(required(tp, detail)),
        Some(t) if t <= 0 || t > MAX_CLIENT_IP_AFFINITY_SECONDS => errs.push(invalid(
            tp,
            t,
            format!("must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}"),
        )),
        Some(_) => {}
    }
}

fn validate_cluster_ips(spec: &Value, ips: &[&str], errs: &mut Errs) {
    let mut ignored = Errs::new();
    let cluster_ip = str_or_empty(spec, "clusterIP", "spec", &mut ignored);
    let raw_ips = get(spec, "clusterIPs").cloned().unwrap_or(Value::Null);
    if !cluster_ip.is_empty() && ips.first() != Some(&cluster_ip) {
        errs.push(invalid(
            "spec.clusterIPs",
            raw_ips.clone(),
            "first value must match `clusterIP`",
        ));
    }
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && *ip == "None" {
            if ips.len() > 1 {
                errs.push(invalid(
                    "spec.clusterIPs",
                    raw_ips.clone(),
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        if !formats::is_ip(ip) {
            errs.push(invalid(
                index("spec.clusterIPs", i),
                *ip,
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
    if ips.len() > 2 {
        errs.push(invalid(
            "spec.clusterIPs",
            raw_ips,
            "may only hold up to 2 values",
        ));
    }
    let mut seen = HashSet::new();
    for (i, family) in string_items(spec, "ipFamilies", "spec", errs) {
        let fp = index("spec.ipFamilies", i);
        if family != "IPv4" && family != "IPv6" {
            errs.push(not_supported(fp.clone(), family, &["IPv4", "IPv6"]));
        }
        if !seen.insert(family) {
            errs.push(duplicate(fp, family));
        }
    }
    if let Some(policy) = get_str(spec, "ipFamilyPolicy", "spec", errs) {
        let supported = ["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !supported.contains(&policy) {
            errs.push(not_supported("spec.ipFamilyPolicy", policy, &supported));
        }
    }
}

fn validate_node_ports(
    spec: &Value,
    svc_type: &str,
    ports: &[(usize, String, &Value)],
    errs: &mut Errs,
) {
    let _ = spec;
    let mut ignored = Errs::new();
    let mut node_ports = HashSet::new();
    let mut port_keys = HashSet::new();
    for (_, pp, port) in ports {
        let node_port = get_i32(port, "nodePort", pp, &mut ignored).unwrap_or(0);
        let protocol = str_or_empty(port, "protocol", pp, &mut ignored);
        let number = get_i32(port, "port", pp, &mut ignored).unwrap_or(0);
        if svc_type == "ClusterIP" && node_port != 0 {
            errs.push(forbidden(
                child(pp, "nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
        if node_port != 0 && !node_ports.insert((protocol, node_port)) {
            errs.push(duplicate(child(pp, "nodePort"), node_port));
        }
        if !port_keys.insert((protocol, number)) {
            errs.push(duplicate(
                pp.clone(),
                json!({"Name": "", "Protocol": protocol, "AppProtocol": null, "Port": number, "TargetPort": 0, "NodePort": 0}),
            ));
        }
    }
}

fn validate_traffic_policies(spec: &Value, svc_type: &str, errs: &mut Errs) {
    let sp = "spec";
    let has_external_ips = !get_array(spec, "externalIPs", sp, &mut Errs::new()).is_empty();
    let externally_accessible = svc_type == "LoadBalancer"
        || svc_type == "NodePort"
        || (svc_type == "ClusterIP" && has_external_ips);
    let etp = str_or_empty(spec, "externalTrafficPolicy", sp, errs);
    if !externally_accessible {
        if !etp.is_empty() {
            errs.push(invalid(
                "spec.externalTrafficPolicy",
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(required("spec.externalTrafficPolicy", ""));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(not_supported(
            "spec.externalTrafficPolicy",
            etp,
            &["Cluster", "Local"],
        ));
    }

    let needs_health_check = svc_type == "LoadBalancer" && etp == "Local";
    let hcnp = get_i32(spec, "healthCheckNodePort", sp, errs).unwrap_or(0);
    if !needs_health_check && hcnp != 0 {
        errs.push(invalid(
            "spec.healthCheckNodePort",
            hcnp,
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    } else if needs_health_check && hcnp != 0 {
        for msg in formats::port_num(hcnp) {
            errs.push(invalid("spec.healthCheckNodePort", hcnp, msg));
        }
    }

    match get_str(spec, "internalTrafficPolicy", sp, errs) {
        None => {
            if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&svc_type) {
                errs.push(required("spec.internalTrafficPolicy", ""));
            }
        }
        Some(p) if p != "Cluster" && p != "Local" => errs.push(not_supported(
            "spec.internalTrafficPolicy",
            p,
            &["Cluster", "Local"],
        )),
        Some(_) => {}
    }

    if let Some(td) = get_str(spec, "trafficDistribution", sp, errs) {
        let supported = ["PreferClose", "PreferSameZone", "PreferSameNode"];
        if !supported.contains(&td) {
            errs.push(not_supported("spec.trafficDistribution", td, &supported));
        }
    }
}

/// clusterIPs may not change once allocated (upstream `validateUpgradeDowngradeClusterIPs`).
fn validate_update(spec: &Value, old_spec: &Value, errs: &mut Errs) {
    let mut ignored = Errs::new();
    let new_type = str_or_empty(spec, "type", "spec", &mut ignored);
    let old_type = str_or_empty(old_spec, "type", "spec", &mut ignored);
    if new_type == "ExternalName" || old_type == "ExternalName" {
        return;
    }
    let new_ips = cluster_ips(spec, &mut ignored);
    let old_ips = cluster_ips(old_spec, &mut ignored);
    if new_ips.is_empty() || (is_headless(&new_ips) && is_headless(&old_ips)) {
        // Left out by the client: the server keeps the allocated values.
        return;
    }
    let raw = Value::from(new_ips.clone());
    if old_ips.len() == new_ips.len() {
        for (i, (o, n)) in old_ips.iter().zip(&new_ips).enumerate() {
            if o != n {
                errs.push(invalid(
                    index("spec.clusterIPs", i),
                    raw.clone(),
                    "may not change once set",
                ));
            }
        }
    } else if !old_ips.is_empty() && new_ips.first() != old_ips.first() {
        errs.push(invalid(
            "spec.clusterIPs[0]",
            raw.clone(),
            "may not change once set",
        ));
    }
    if old_ips.len() > new_ips.len()
        && new_ips.len() == 1
        && str_or_empty(spec, "ipFamilyPolicy", "spec", &mut ignored) != "SingleStack"
    {
        errs.push(invalid(
            "spec.ipFamilyPolicy",
            get(spec, "ipFamilyPolicy").cloned().unwrap_or(Value::Null),
            "must be set to 'SingleStack' when releasing the secondary clusterIP",
        ));
    }

    let needs = |s: &Value| {
        let mut e = Errs::new();
        str_or_empty(s, "type", "spec", &mut e) == "LoadBalancer"
            && str_or_empty(s, "externalTrafficPolicy", "spec", &mut e) == "Local"
    };
    if needs(spec) && needs(old_spec) {
        let new_h = get(spec, "healthCheckNodePort");
        let old_h = get(old_spec, "healthCheckNodePort");
        if new_h.is_some() && new_h != old_h {
            errs.push(forbidden("spec.healthCheckNodePort", "field is immutable"));
        }
    }
}
