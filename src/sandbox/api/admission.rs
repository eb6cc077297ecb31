//! Admission: defaulting, allocation (cluster IPs, node ports) and validation, answering 422
//! `Invalid` with `details.causes` like the real server.

use std::collections::BTreeSet;

use rand::Rng;
use serde_json::{Value, json};

use crate::k8s::names;
use crate::k8s::selector::LabelSelector;
use crate::sandbox::store::ResKey;

use super::ApiState;
use super::defaults;
use super::resources::ResourceInfo;
use super::status::ApiError;

/// The node port range, like the default `--service-node-port-range`.
pub const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

type Causes = Vec<(String, &'static str, String)>;

/// Prepares a new object: defaults, allocations, a fresh status, then validation.
pub fn admit_create(
    state: &ApiState,
    info: &ResourceInfo,
    mut obj: Value,
) -> Result<Value, ApiError> {
    defaults::apply(info.kind, &mut obj);
    match info.kind {
        "Deployment" | "ReplicaSet" => obj["status"] = json!({}),
        "Pod" => obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"}),
        "Service" => {
            obj["status"] = json!({"loadBalancer": {}});
            allocate_service(state, &mut obj, None)?;
        }
        "Namespace" => obj["status"] = json!({"phase": "Active"}),
        _ => {}
    }
    validate(info, &obj)?;
    Ok(obj)
}

/// Prepares a replacement: defaults, kept allocations, validation.
pub fn admit_update(
    state: &ApiState,
    info: &ResourceInfo,
    old: &Value,
    mut new: Value,
) -> Result<Value, ApiError> {
    // Pods are defaulted once, at creation: re-defaulting would bump their generation.
    if info.kind != "Pod" {
        defaults::apply(info.kind, &mut new);
    }
    if info.kind == "Service" {
        allocate_service(state, &mut new, Some(old))?;
    }
    if info.kind == "Namespace" && new.get("status").is_none() {
        new["status"] = old["status"].clone();
    }
    validate(info, &new)?;
    Ok(new)
}

fn used_by_services(state: &ApiState, skip_uid: Option<&str>) -> (BTreeSet<String>, BTreeSet<i64>) {
    let (services, _) = state.store.list(
        &ResKey {
            group: String::new(),
            resource: "services".to_owned(),
        },
        None,
    );
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for svc in services
        .iter()
        .filter(|s| skip_uid.is_none_or(|u| s["metadata"]["uid"].as_str() != Some(u)))
    {
        if let Some(ip) = svc["spec"]["clusterIP"].as_str() {
            ips.insert(ip.to_owned());
        }
        for p in svc["spec"]["ports"].as_array().into_iter().flatten() {
            if let Some(np) = p["nodePort"].as_i64() {
                ports.insert(np);
            }
        }
    }
    (ips, ports)
}

fn allocate_service(
    state: &ApiState,
    svc: &mut Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let name = svc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let skip_uid = old.and_then(|o| o["metadata"]["uid"].as_str());
    let (used_ips, used_ports) = used_by_services(state, skip_uid);
    let ty = svc["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_owned();
    let mut rng = rand::rng();
    if ty != "ExternalName" {
        let given = svc["spec"]["clusterIP"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let ip = if !given.is_empty() {
            given
        } else if let Some(old_ip) = old.and_then(|o| o["spec"]["clusterIP"].as_str()) {
            old_ip.to_owned()
        } else {
            loop {
                // kind's service range, 10.96.0.0/16, never the network address nor .1 (the
                // kubernetes service) nor the broadcast address.
                let n: u32 = rng.random_range(2..(1u32 << 16) - 1);
                let ip = std::net::Ipv4Addr::from(0x0A60_0000u32 + n).to_string();
                if !used_ips.contains(&ip) {
                    break ip;
                }
            }
        };
        if old.is_none() && ip != "None" && used_ips.contains(&ip) {
            return invalid(
                "Service",
                "",
                &name,
                "spec.clusterIPs",
                "FieldValueInvalid",
                format!(
                    "Invalid value: [\"{ip}\"]: failed to allocate IP {ip}: provided IP is already allocated"
                ),
            );
        }
        svc["spec"]["clusterIP"] = json!(ip);
        svc["spec"]["clusterIPs"] = json!([ip]);
    }
    let wants_node_ports = ty == "NodePort" || ty == "LoadBalancer";
    let old_ports: Vec<Value> = old
        .and_then(|o| o["spec"]["ports"].as_array().cloned())
        .unwrap_or_default();
    let mut taken = used_ports;
    if let Some(ports) = svc["spec"]["ports"].as_array_mut() {
        for (i, p) in ports.iter_mut().enumerate() {
            if !wants_node_ports {
                if let Some(m) = p.as_object_mut() {
                    m.remove("nodePort");
                }
                continue;
            }
            let given = p["nodePort"].as_i64().filter(|n| *n != 0);
            let kept = old_ports
                .iter()
                .find(|o| o["port"] == p["port"])
                .and_then(|o| o["nodePort"].as_i64());
            let port = match given.or(kept) {
                Some(n) => {
                    if !NODE_PORTS.contains(&n) {
                        return invalid(
                            "Service",
                            "",
                            &name,
                            &format!("spec.ports[{i}].nodePort"),
                            "FieldValueInvalid",
                            format!(
                                "Invalid value: {n}: provided port is not in the valid range. The range of valid ports is 30000-32767"
                            ),
                        );
                    }
                    if taken.contains(&n) {
                        return invalid(
                            "Service",
                            "",
                            &name,
                            &format!("spec.ports[{i}].nodePort"),
                            "FieldValueInvalid",
                            format!("Invalid value: {n}: provided port is already allocated"),
                        );
                    }
                    n
                }
                None => {
                    if taken.len() >= NODE_PORTS.clone().count() {
                        return Err(ApiError::internal(
                            "failed to allocate a nodePort: range is full",
                        ));
                    }
                    loop {
                        let n = rng.random_range(NODE_PORTS);
                        if !taken.contains(&n) {
                            break n;
                        }
                    }
                }
            };
            taken.insert(port);
            p["nodePort"] = json!(port);
        }
    }
    Ok(())
}

fn invalid(
    kind: &str,
    group: &str,
    name: &str,
    field: &str,
    reason: &'static str,
    message: String,
) -> Result<(), ApiError> {
    Err(ApiError::invalid(
        kind,
        group,
        name,
        &[(field.to_owned(), reason, message)],
    ))
}

fn required(causes: &mut Causes, field: &str) {
    causes.push((
        field.to_owned(),
        "FieldValueRequired",
        "Required value".to_owned(),
    ));
}

fn bad(causes: &mut Causes, field: &str, value: &Value, msg: &str) {
    causes.push((
        field.to_owned(),
        "FieldValueInvalid",
        format!("Invalid value: {value}: {msg}"),
    ));
}

/// Validates an object of `info`'s kind; 422 with every cause found.
pub fn validate(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let mut causes = Causes::new();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    validate_meta(info, obj, &mut causes);
    match info.kind {
        "Deployment" | "ReplicaSet" => {
            let spec = &obj["spec"];
            if spec["replicas"].as_i64().is_some_and(|r| r < 0) {
                bad(
                    &mut causes,
                    "spec.replicas",
                    &spec["replicas"],
                    "must be greater than or equal to 0",
                );
            }
            validate_workload_selector(spec, &mut causes);
            validate_pod_spec(&spec["template"]["spec"], "spec.template.spec", &mut causes);
        }
        "Pod" => validate_pod_spec(&obj["spec"], "spec", &mut causes),
        "Service" => validate_service(&obj["spec"], &mut causes),
        "ConfigMap" => {
            for key in obj["data"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                let ok = !key.is_empty()
                    && key.len() <= 253
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !ok {
                    bad(
                        &mut causes,
                        "data",
                        &json!(key),
                        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                    );
                }
            }
        }
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(info.kind, info.group, name, &causes))
    }
}

fn validate_meta(info: &ResourceInfo, obj: &Value, causes: &mut Causes) {
    let meta = &obj["metadata"];
    match meta["name"].as_str().filter(|n| !n.is_empty()) {
        None => {
            if meta["generateName"].as_str().is_none_or(str::is_empty) {
                causes.push((
                    "metadata.name".to_owned(),
                    "FieldValueRequired",
                    "Required value: name or generateName is required".to_owned(),
                ));
            }
        }
        Some(name) => {
            let check = match info.kind {
                "Namespace" => names::validate_label(name),
                "Service" => names::validate_dns1035_label(name),
                _ => names::validate_subdomain(name),
            };
            if let Err(msg) = check {
                bad(causes, "metadata.name", &json!(name), &msg);
            }
        }
    }
    for (key, value) in meta["labels"].as_object().into_iter().flatten() {
        if let Err(msg) = names::validate_label_key(key) {
            bad(causes, "metadata.labels", &json!(key), &msg);
        }
        match value.as_str() {
            Some(v) => {
                if let Err(msg) = names::validate_label_value(v) {
                    bad(causes, "metadata.labels", value, &msg);
                }
            }
            None => bad(causes, "metadata.labels", value, "must be a string"),
        }
    }
}

fn validate_workload_selector(spec: &Value, causes: &mut Causes) {
    let selector = &spec["selector"];
    if selector.is_null() {
        required(causes, "spec.selector");
        return;
    }
    let parsed = serde_json::from_value::<
        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    >(selector.clone())
    .ok()
    .and_then(|s| LabelSelector::from_k8s(&s).ok());
    match parsed {
        None => bad(causes, "spec.selector", selector, "invalid label selector"),
        Some(sel) if sel.is_empty() => bad(
            causes,
            "spec.selector",
            selector,
            "empty selector is invalid for deployment",
        ),
        Some(sel) => {
            let labels = spec.pointer("/template/metadata/labels");
            if !sel.matches_json(labels) {
                let shown = labels.cloned().unwrap_or_else(|| json!({}));
                bad(
                    causes,
                    "spec.template.metadata.labels",
                    &shown,
                    "`selector` does not match template `labels`",
                );
            }
        }
    }
}

fn validate_pod_spec(spec: &Value, path: &str, causes: &mut Causes) {
    let containers = spec["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if containers.is_empty() {
        required(causes, &format!("{path}.containers"));
    }
    let mut seen = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let at = format!("{path}.containers[{i}]");
        match c["name"].as_str().filter(|n| !n.is_empty()) {
            None => required(causes, &format!("{at}.name")),
            Some(n) => {
                if let Err(msg) = names::validate_label(n) {
                    bad(causes, &format!("{at}.name"), &c["name"], &msg);
                }
                if !seen.insert(n.to_owned()) {
                    causes.push((
                        format!("{at}.name"),
                        "FieldValueDuplicate",
                        format!("Duplicate value: \"{n}\""),
                    ));
                }
            }
        }
        if c["image"].as_str().is_none_or(|i| i.trim().is_empty()) {
            required(causes, &format!("{at}.image"));
        }
        for (j, p) in c["ports"].as_array().into_iter().flatten().enumerate() {
            if !p["containerPort"]
                .as_i64()
                .is_some_and(|n| (1..=65535).contains(&n))
            {
                bad(
                    causes,
                    &format!("{at}.ports[{j}].containerPort"),
                    &p["containerPort"],
                    "must be between 1 and 65535, inclusive",
                );
            }
        }
    }
    if let Some(policy) = spec["restartPolicy"].as_str()
        && !["Always", "OnFailure", "Never"].contains(&policy)
    {
        {
            causes.push((format!("{path}.restartPolicy"), "FieldValueNotSupported", format!("Unsupported value: \"{policy}\": supported values: \"Always\", \"OnFailure\", \"Never\"")));
        }
    }
}

fn validate_service(spec: &Value, causes: &mut Causes) {
    let ty = spec["type"].as_str().unwrap_or("ClusterIP");
    if !["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"].contains(&ty) {
        causes.push(("spec.type".to_owned(), "FieldValueNotSupported", format!("Unsupported value: \"{ty}\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"")));
    }
    let ports = spec["ports"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if ports.is_empty() && ty != "ExternalName" && spec["clusterIP"].as_str() != Some("None") {
        required(causes, "spec.ports");
    }
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        if !p["port"].as_i64().is_some_and(|n| (1..=65535).contains(&n)) {
            bad(
                causes,
                &format!("spec.ports[{i}].port"),
                &p["port"],
                "must be between 1 and 65535, inclusive",
            );
        }
        if ports.len() > 1 && p["name"].as_str().is_none_or(str::is_empty) {
            required(causes, &format!("spec.ports[{i}].name"));
        }
        let key = (
            p["port"].as_i64(),
            p["protocol"].as_str().unwrap_or("TCP").to_owned(),
        );
        if !seen.insert(key) {
            causes.push((
                format!("spec.ports[{i}]"),
                "FieldValueDuplicate",
                format!(
                    "Duplicate value: {}",
                    json!({"port": p["port"], "protocol": p["protocol"]})
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::api::resources;

    fn info(resource: &str, group: &str) -> &'static ResourceInfo {
        resources::find(group, "v1", resource).expect("known resource")
    }

    #[test]
    fn deployment_without_containers_is_invalid() {
        let d = json!({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}});
        let err = validate(info("deployments", "apps"), &d).expect_err("invalid");
        assert_eq!(err.code, 422);
        assert!(
            err.message
                .contains("spec.template.spec.containers: Required value"),
            "{}",
            err.message
        );
    }

    #[test]
    fn selector_must_match_template() {
        let d = json!({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "other"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let err = validate(info("deployments", "apps"), &d).expect_err("invalid");
        assert!(
            err.message
                .contains("`selector` does not match template `labels`")
        );
    }

    #[test]
    fn bad_names_and_ports() {
        let svc = json!({"metadata": {"name": "Web_1"}, "spec": {"ports": [{"port": 0}]}});
        let err = validate(info("services", ""), &svc).expect_err("invalid");
        let causes = err
            .details
            .as_ref()
            .and_then(|d| d["causes"].as_array())
            .map_or(0, Vec::len);
        assert_eq!(causes, 2);
        let ok = json!({"metadata": {"name": "cm"}, "data": {"a.b": "1"}});
        assert!(validate(info("configmaps", ""), &ok).is_ok());
    }
}
