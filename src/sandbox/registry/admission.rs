//! Admission: defaulting, allocation (cluster IPs, node ports) and validation, answering 422
//! `Invalid` with `details.causes` like the real server.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::DeploymentStatus;
use k8s_openapi::api::core::v1::{NamespaceStatus, PodStatus, ServiceStatus};
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::k8s::names;
use crate::k8s::selector::LabelSelector;
use crate::sandbox::objects::{Namespace, merged, view, view_of, with_status};
use crate::sandbox::store::ResKey;

use super::defaults;
use super::resources::ResourceInfo;
use super::status::ApiError;
use crate::sandbox::http::ApiState;

/// The node port range, like the default `--service-node-port-range`.
pub const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

type Causes = Vec<(String, &'static str, String)>;

// What admission reads of an incoming object. It is the learner's JSON, not yet checked:
// values whose type is itself validated stay JSON, so that a message can show them as given.

view! {
    /// An incoming object.
    struct Input {
        metadata: MetaInput,
        spec: SpecInput,
        data: Map<String, Value>,
    }
}

view! {
    /// Incoming metadata.
    struct MetaInput {
        name: Value,
        generate_name: Option<String>,
        uid: Option<String>,
        labels: Map<String, Value>,
    }
}

view! {
    /// An incoming spec: a workload's, a pod's or a Service's fields, whichever are there.
    struct SpecInput {
        replicas: Value,
        selector: Value,
        template: TemplateInput,
        #[serde(flatten)]
        pod: PodSpecInput,
        #[serde(rename = "type")]
        type_: Option<String>,
        #[serde(rename = "clusterIP")]
        cluster_ip: Option<String>,
        ports: Vec<Value>,
    }
}

view! {
    /// An incoming pod template.
    struct TemplateInput {
        metadata: TemplateMetaInput,
        spec: PodSpecInput,
    }
}

view! {
    /// An incoming pod template's metadata.
    struct TemplateMetaInput {
        labels: Option<Value>,
    }
}

view! {
    /// An incoming pod spec.
    struct PodSpecInput {
        containers: Option<Vec<ContainerInput>>,
        restart_policy: Option<String>,
    }
}

view! {
    /// An incoming container.
    struct ContainerInput {
        name: Value,
        image: Value,
        ports: Vec<ContainerPortInput>,
    }
}

view! {
    /// An incoming container port.
    struct ContainerPortInput {
        container_port: Value,
    }
}

view! {
    /// An incoming Service port.
    struct ServicePortInput {
        name: Value,
        port: Value,
        protocol: Value,
        node_port: Value,
    }
}

/// Prepares a new object: defaults, allocations, a fresh status, then validation.
pub fn admit_create(
    state: &ApiState,
    info: &ResourceInfo,
    mut obj: Value,
) -> Result<Value, ApiError> {
    defaults::apply(info.kind, &mut obj);
    match info.kind {
        "Deployment" | "ReplicaSet" => obj = with_status(&obj, &DeploymentStatus::default()),
        "Pod" => {
            let status = PodStatus {
                phase: Some("Pending".to_owned()),
                qos_class: Some("BestEffort".to_owned()),
                ..PodStatus::default()
            };
            obj = with_status(&obj, &status);
        }
        "Service" => {
            let status = ServiceStatus {
                load_balancer: Some(Default::default()),
                conditions: None,
            };
            obj = with_status(&obj, &status);
            allocate_service(state, &mut obj, None)?;
        }
        "Namespace" => {
            let status = NamespaceStatus {
                phase: Some("Active".to_owned()),
                conditions: None,
            };
            obj = with_status(&obj, &status);
        }
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
    if info.kind == "Namespace" && crate::sandbox::objects::status_json(&new).is_none() {
        let old: Namespace = view_of(old);
        new = with_status(&new, &old.status);
    }
    validate(info, &new)?;
    Ok(new)
}

/// The cluster IPs and node ports other Services hold.
fn used_by_services(state: &ApiState, skip_uid: Option<&str>) -> (BTreeSet<String>, BTreeSet<i64>) {
    let (services, _) = state.store.list_arc(&ResKey::services(), None);
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for svc in &services {
        let svc: Input = view_of(svc);
        if skip_uid.is_some_and(|u| svc.metadata.uid.as_deref() == Some(u)) {
            continue;
        }
        if let Some(ip) = svc.spec.cluster_ip {
            ips.insert(ip);
        }
        for p in &svc.spec.ports {
            if let Some(np) = view_of::<ServicePortInput>(p).node_port.as_i64() {
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
    let given: Input = view_of(svc);
    let old: Option<Input> = old.map(view_of);
    let name = given.metadata.name.as_str().unwrap_or_default().to_owned();
    let skip_uid = old.as_ref().and_then(|o| o.metadata.uid.as_deref());
    let (used_ips, used_ports) = used_by_services(state, skip_uid);
    let ty = given.spec.type_.as_deref().unwrap_or("ClusterIP");
    let mut rng = rand::rng();
    let mut patch = json!({});
    if ty != "ExternalName" {
        let ip = match given.spec.cluster_ip.as_deref().filter(|ip| !ip.is_empty()) {
            Some(ip) => ip.to_owned(),
            None => match old.as_ref().and_then(|o| o.spec.cluster_ip.clone()) {
                Some(old_ip) => old_ip,
                None => loop {
                    // kind's service range, 10.96.0.0/16, never the network address nor .1
                    // (the kubernetes service) nor the broadcast address.
                    let n: u32 = rng.random_range(2..(1u32 << 16) - 1);
                    let ip = std::net::Ipv4Addr::from(0x0A60_0000u32 + n).to_string();
                    if !used_ips.contains(&ip) {
                        break ip;
                    }
                },
            },
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
        patch = json!({"spec": {"clusterIP": ip, "clusterIPs": [ip]}});
    }
    let wants_node_ports = ty == "NodePort" || ty == "LoadBalancer";
    let old_ports: Vec<ServicePortInput> = old
        .map(|o| o.spec.ports.iter().map(view_of).collect())
        .unwrap_or_default();
    let mut taken = used_ports;
    let mut ports = Vec::new();
    for (i, raw) in given.spec.ports.iter().enumerate() {
        let p: ServicePortInput = view_of(raw);
        let mut port_json = raw.clone();
        let Some(fields) = port_json.as_object_mut() else {
            ports.push(port_json);
            continue;
        };
        if !wants_node_ports {
            fields.remove("nodePort");
            ports.push(port_json);
            continue;
        }
        let wanted = p.node_port.as_i64().filter(|n| *n != 0);
        let kept = old_ports
            .iter()
            .find(|o| o.port == p.port)
            .and_then(|o| o.node_port.as_i64());
        let bad_port = |why: &str| {
            let field = format!("spec.ports[{i}].nodePort");
            invalid(
                "Service",
                "",
                &name,
                &field,
                "FieldValueInvalid",
                why.to_owned(),
            )
        };
        let port = match wanted.or(kept) {
            Some(n) => {
                if !NODE_PORTS.contains(&n) {
                    return bad_port(&format!(
                        "Invalid value: {n}: provided port is not in the valid range. The range of valid ports is 30000-32767"
                    ));
                }
                if taken.contains(&n) {
                    return bad_port(&format!(
                        "Invalid value: {n}: provided port is already allocated"
                    ));
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
        fields.insert("nodePort".to_owned(), json!(port));
        ports.push(port_json);
    }
    if !given.spec.ports.is_empty() {
        patch = merged(&patch, &json!({"spec": {"ports": ports}}));
    }
    *svc = merged(svc, &patch);
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
    let input: Input = view_of(obj);
    let name = input.metadata.name.as_str().unwrap_or_default();
    validate_meta(info, &input.metadata, &mut causes);
    let spec = &input.spec;
    match info.kind {
        "Deployment" | "ReplicaSet" => {
            if spec.replicas.as_i64().is_some_and(|r| r < 0) {
                bad(
                    &mut causes,
                    "spec.replicas",
                    &spec.replicas,
                    "must be greater than or equal to 0",
                );
            }
            validate_workload_selector(spec, &mut causes);
            validate_pod_spec(&spec.template.spec, "spec.template.spec", &mut causes);
        }
        "Pod" => validate_pod_spec(&spec.pod, "spec", &mut causes),
        "Service" => validate_service(spec, &mut causes),
        "ConfigMap" => {
            for key in input.data.keys() {
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

fn validate_meta(info: &ResourceInfo, meta: &MetaInput, causes: &mut Causes) {
    match meta.name.as_str().filter(|n| !n.is_empty()) {
        None => {
            if meta.generate_name.as_deref().is_none_or(str::is_empty) {
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
    for (key, value) in &meta.labels {
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

fn validate_workload_selector(spec: &SpecInput, causes: &mut Causes) {
    let selector = &spec.selector;
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
            let labels = spec.template.metadata.labels.as_ref();
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

fn validate_pod_spec(spec: &PodSpecInput, path: &str, causes: &mut Causes) {
    let containers = spec.containers.as_deref().unwrap_or_default();
    if containers.is_empty() {
        required(causes, &format!("{path}.containers"));
    }
    let mut seen = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let at = format!("{path}.containers[{i}]");
        match c.name.as_str().filter(|n| !n.is_empty()) {
            None => required(causes, &format!("{at}.name")),
            Some(n) => {
                if let Err(msg) = names::validate_label(n) {
                    bad(causes, &format!("{at}.name"), &c.name, &msg);
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
        if c.image.as_str().is_none_or(|i| i.trim().is_empty()) {
            required(causes, &format!("{at}.image"));
        }
        for (j, p) in c.ports.iter().enumerate() {
            if !p
                .container_port
                .as_i64()
                .is_some_and(|n| (1..=65535).contains(&n))
            {
                bad(
                    causes,
                    &format!("{at}.ports[{j}].containerPort"),
                    &p.container_port,
                    "must be between 1 and 65535, inclusive",
                );
            }
        }
    }
    if let Some(policy) = spec.restart_policy.as_deref()
        && !RESTART_POLICIES.contains(&policy)
    {
        causes.push((format!("{path}.restartPolicy"), "FieldValueNotSupported", format!("Unsupported value: \"{policy}\": supported values: \"Always\", \"OnFailure\", \"Never\"")));
    }
}

/// The restart policies a pod may have.
const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];
/// The types a Service may have.
const SERVICE_TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

fn validate_service(spec: &SpecInput, causes: &mut Causes) {
    let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
    if !SERVICE_TYPES.contains(&ty) {
        causes.push(("spec.type".to_owned(), "FieldValueNotSupported", format!("Unsupported value: \"{ty}\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"")));
    }
    let ports: Vec<ServicePortInput> = spec.ports.iter().map(view_of).collect();
    if ports.is_empty() && ty != "ExternalName" && spec.cluster_ip.as_deref() != Some("None") {
        required(causes, "spec.ports");
    }
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        if !p.port.as_i64().is_some_and(|n| (1..=65535).contains(&n)) {
            bad(
                causes,
                &format!("spec.ports[{i}].port"),
                &p.port,
                "must be between 1 and 65535, inclusive",
            );
        }
        if ports.len() > 1 && p.name.as_str().is_none_or(str::is_empty) {
            required(causes, &format!("spec.ports[{i}].name"));
        }
        let key = (
            p.port.as_i64(),
            p.protocol.as_str().unwrap_or("TCP").to_owned(),
        );
        if !seen.insert(key) {
            causes.push((
                format!("spec.ports[{i}]"),
                "FieldValueDuplicate",
                format!(
                    "Duplicate value: {}",
                    json!({"port": p.port, "protocol": p.protocol})
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::registry::resources;

    fn info(resource: &str, group: &str) -> &'static ResourceInfo {
        resources::find(group, "v1", resource).expect("known resource")
    }

    /// Containers that do nothing.
    struct NoApps;

    impl crate::sandbox::http::Apps for NoApps {
        fn http(&self, _: &crate::sandbox::objects::Pod, _: &str) -> Option<(u16, String)> {
            None
        }
        fn logs(&self, _: &crate::sandbox::objects::Pod, _: &str) -> Vec<String> {
            Vec::new()
        }
        fn exec(
            &self,
            _: &crate::sandbox::objects::Pod,
            _: &str,
            _: &[String],
        ) -> crate::sandbox::http::ExecOutput {
            crate::sandbox::http::ExecOutput::default()
        }
        fn prompt(&self, _: &crate::sandbox::objects::Pod, _: &str) -> String {
            String::new()
        }
    }

    fn state() -> ApiState {
        ApiState {
            store: std::sync::Arc::new(crate::sandbox::store::Store::new()),
            token: String::new(),
            metrics: Default::default(),
            server_address: String::new(),
            catalogue: std::sync::Arc::new(NoApps),
            shutdown: Default::default(),
        }
    }

    #[test]
    fn services_get_a_cluster_ip_and_node_ports_and_odd_ports_are_refused() {
        let state = state();
        let svc = json!({"metadata": {"name": "web"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.9", "ports": [{"port": 80}]}});
        let admitted = admit_create(&state, info("services", ""), svc).expect("admitted");
        let typed: crate::sandbox::objects::Service = view_of(&admitted);
        assert_eq!(typed.spec.cluster_ip.as_deref(), Some("10.96.0.9"));
        assert_eq!(typed.spec.cluster_ips, Some(vec!["10.96.0.9".to_owned()]));
        let node_port = typed.spec.ports.as_ref().and_then(|p| p[0].node_port);
        assert!(node_port.is_some_and(|n| NODE_PORTS.contains(&i64::from(n))));
        // A bare number is not a port: refused, never a crash.
        let odd = json!({"metadata": {"name": "odd"}, "spec": {"type": "NodePort", "ports": [80]}});
        let err = admit_create(&state, info("services", ""), odd).expect_err("invalid");
        assert_eq!(err.code, 422);
        assert!(
            err.message.contains("spec.ports[0].port"),
            "{}",
            err.message
        );
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
    fn pod_specs_are_checked_container_by_container() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"restartPolicy": "Sometimes",
            "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 0}]},
                           {"name": "c", "image": " "}]}});
        let err = validate(info("pods", ""), &pod).expect_err("invalid");
        for expected in [
            "spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535",
            "spec.containers[1].name: Duplicate value: \"c\"",
            "spec.containers[1].image: Required value",
            "spec.restartPolicy: Unsupported value: \"Sometimes\"",
        ] {
            assert!(
                err.message.contains(expected),
                "{expected} in {}",
                err.message
            );
        }
        let ok = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        assert!(validate(info("pods", ""), &ok).is_ok());
    }

    #[test]
    fn bad_names_and_ports() {
        let svc = json!({"metadata": {"name": "Web_1"}, "spec": {"ports": [{"port": 0}]}});
        let err = validate(info("services", ""), &svc).expect_err("invalid");
        let causes = err
            .details
            .as_ref()
            .and_then(|d| d.causes.as_ref())
            .map_or(0, Vec::len);
        assert_eq!(causes, 2);
        let ok = json!({"metadata": {"name": "cm"}, "data": {"a.b": "1"}});
        assert!(validate(info("configmaps", ""), &ok).is_ok());
    }
}
