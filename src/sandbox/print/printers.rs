//! Columns and cells per kind, following kubernetes `pkg/printers/internalversion/printers.go`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Endpoints, Event};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sLabelSelector;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::table::age;
use crate::k8s::selector::LabelSelector;
use crate::sandbox::objects::{
    Deployment, Namespace, Node, Pod, PodSpec, ReplicaSet, Service, parse, pod_condition, view,
    view_of,
};
use crate::sandbox::store::meta::Meta;

fn none_if_empty(v: String) -> String {
    if v.is_empty() { "<none>".to_owned() } else { v }
}

fn text(s: Option<&String>) -> String {
    s.cloned().unwrap_or_default()
}

/// `metav1.LabelSelectorAsSelector(..).String()`.
pub fn selector_string(selector: Option<&K8sLabelSelector>) -> String {
    let Some(selector) = selector else {
        return "<none>".to_owned();
    };
    let rendered = LabelSelector::from_k8s(selector)
        .map(|s| s.canonical().to_string())
        .unwrap_or_default();
    none_if_empty(rendered)
}

/// `labels.FormatLabels` of a plain map (services' selectors).
fn format_labels(map: Option<&BTreeMap<String, String>>) -> String {
    none_if_empty(map.map_or_else(String::new, |m| LabelSelector::from_map(m).to_string()))
}

view! {
    /// A pod template, for the containers a workload row lists.
    struct Template<'a> {
        #[serde(borrow)]
        spec: PodSpec<'a>,
    }
}

fn containers_and_images(template: Option<&Value>) -> (String, String) {
    let template: Template = template.map(view_of).unwrap_or_default();
    let containers = &template.spec.containers;
    let names: Vec<&str> = containers.iter().map(|c| c.name).collect();
    let images: Vec<&str> = containers.iter().map(|c| c.image).collect();
    (names.join(","), images.join(","))
}

/// The pod STATUS column: waiting/terminated reasons win over the phase.
pub fn pod_status(pod: &Pod) -> String {
    let status = &pod.status;
    let mut reason = text(status.phase.as_ref());
    if let Some(r) = status.reason.as_ref().filter(|r| !r.is_empty()) {
        reason = r.clone();
    }
    let mut has_running = false;
    for cs in status.container_statuses.iter().flatten().rev() {
        let state = cs.state.clone().unwrap_or_default();
        let waiting = state.waiting.and_then(|w| w.reason).unwrap_or_default();
        if !waiting.is_empty() {
            reason = waiting;
        } else if let Some(t) = state.terminated {
            reason = match t.reason.filter(|r| !r.is_empty()) {
                Some(r) => r,
                None => match t.signal.filter(|s| *s != 0) {
                    Some(signal) => format!("Signal:{signal}"),
                    None => format!("ExitCode:{}", t.exit_code),
                },
            };
        } else if cs.ready && state.running.is_some() {
            has_running = true;
        }
    }
    if reason == "Completed" && has_running {
        let ready = pod_condition(pod, "Ready").is_some_and(|c| c.status == "True");
        reason = if ready { "Running" } else { "NotReady" }.to_owned();
    }
    if pod.metadata.is_terminating() {
        reason = if status.reason.as_deref() == Some("NodeLost") {
            "Unknown".to_owned()
        } else {
            "Terminating".to_owned()
        };
    }
    if reason.is_empty() {
        "Pending".to_owned()
    } else {
        reason
    }
}

fn service_ports(svc: &Service) -> String {
    let ports: Vec<String> = svc
        .spec
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let proto = p.protocol.as_deref().unwrap_or("TCP");
            match p.node_port.filter(|np| *np != 0) {
                Some(np) => format!("{}:{np}/{proto}", p.port),
                None => format!("{}/{proto}", p.port),
            }
        })
        .collect();
    none_if_empty(ports.join(","))
}

fn service_external_ip(svc: &Service) -> String {
    let external: Vec<String> = svc.spec.external_ips.clone().unwrap_or_default();
    match svc.spec.type_.as_deref() {
        Some("LoadBalancer") => {
            let ingress = svc
                .status
                .load_balancer
                .as_ref()
                .and_then(|lb| lb.ingress.as_ref());
            let ingress: Vec<String> = ingress
                .into_iter()
                .flatten()
                .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
                .chain(external)
                .collect();
            if ingress.is_empty() {
                "<pending>".to_owned()
            } else {
                ingress.join(",")
            }
        }
        Some("ExternalName") => text(svc.spec.external_name.as_ref()),
        _ => none_if_empty(external.join(",")),
    }
}

fn endpoints_summary(ep: &Endpoints) -> String {
    let mut all = Vec::new();
    for subset in ep.subsets.iter().flatten() {
        let ports = subset.ports.clone().unwrap_or_default();
        for addr in subset.addresses.iter().flatten() {
            if ports.is_empty() {
                all.push(addr.ip.clone());
            }
            for p in &ports {
                all.push(format!("{}:{}", addr.ip, p.port));
            }
        }
    }
    limited(all)
}

fn limited(all: Vec<String>) -> String {
    if all.is_empty() {
        return "<none>".to_owned();
    }
    if all.len() > 3 {
        return format!("{} + {} more...", all[..3].join(","), all.len() - 3);
    }
    all.join(",")
}

fn node_row(node: &Node, now: jiff::Timestamp) -> Vec<Value> {
    let status = &node.status;
    let ready = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready");
    let mut state = match ready.map(|c| c.status.as_str()) {
        Some("True") => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if node.spec.unschedulable == Some(true) {
        state.push_str(",SchedulingDisabled");
    }
    let roles: Vec<&str> = node
        .metadata
        .labels
        .keys()
        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    let address = |ty: &str| {
        status
            .addresses
            .iter()
            .flatten()
            .find(|a| a.type_ == ty)
            .map(|a| a.address.clone())
            .unwrap_or_else(|| "<none>".to_owned())
    };
    let info = status.node_info.clone().unwrap_or_default();
    vec![
        json!(node.metadata.name),
        json!(state),
        json!(none_if_empty(roles.join(","))),
        json!(age(node.metadata.created(), now)),
        json!(info.kubelet_version),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(none_if_empty(info.os_image)),
        json!(none_if_empty(info.kernel_version)),
        json!(none_if_empty(info.container_runtime_version)),
    ]
}

fn event_row(ev: &Event, now: jiff::Timestamp) -> Vec<Value> {
    let first = ev
        .first_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| ev.event_time.as_ref().map(|t| t.0));
    let last = ev.last_timestamp.as_ref().map(|t| t.0).or(first);
    let count = ev.count.unwrap_or(0);
    let last_seen = age(last, now);
    let interval = if count > 1 {
        format!("{last_seen} (x{count} over {})", age(first, now))
    } else {
        last_seen
    };
    let involved = &ev.involved_object;
    let object = format!(
        "{}/{}",
        text(involved.kind.as_ref()).to_lowercase(),
        text(involved.name.as_ref())
    );
    let src = ev.source.clone().unwrap_or_default();
    let mut source = text(src.component.as_ref());
    if let Some(host) = src.host.filter(|h| !h.is_empty()) {
        source = format!("{source}, {host}");
    }
    vec![
        json!(interval),
        json!(text(ev.type_.as_ref())),
        json!(text(ev.reason.as_ref())),
        json!(object),
        json!(text(involved.field_path.as_ref())),
        json!(source),
        json!(text(ev.message.as_ref()).trim()),
        json!(age(first, now)),
        json!(count.to_string()),
        json!(text(ev.metadata.name.as_ref())),
    ]
}

view! {
    /// The keys of a ConfigMap.
    struct ConfigMapKeys<'a> {
        #[serde(borrow)]
        data: BTreeMap<&'a str, IgnoredAny>,
        #[serde(borrow)]
        binary_data: BTreeMap<&'a str, IgnoredAny>,
    }
}

fn pod_row(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let pod: Pod = view_of(obj);
    let status = &pod.status;
    let total = pod.spec.containers.len();
    let statuses = status.container_statuses.as_deref().unwrap_or_default();
    let ready = statuses.iter().filter(|c| c.ready).count();
    let restarts: i64 = statuses.iter().map(|c| i64::from(c.restart_count)).sum();
    let gates = pod.spec.readiness_gates.len();
    vec![
        json!(pod.metadata.name),
        json!(format!("{ready}/{total}")),
        json!(pod_status(&pod)),
        json!(restarts.to_string()),
        json!(age(pod.metadata.created(), now)),
        json!(none_if_empty(text(status.pod_ip.as_ref()))),
        json!(none_if_empty(pod.spec.node_name.to_owned())),
        json!(none_if_empty(text(status.nominated_node_name.as_ref()))),
        json!(if gates == 0 {
            "<none>".to_owned()
        } else {
            format!("0/{gates}")
        }),
    ]
}

/// The cells of one row.
pub fn cells(resource: &str, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let meta = Meta::of(obj);
    let name = json!(meta.name);
    let created = age(meta.created(), now);
    let count = |n: Option<i32>| n.unwrap_or(0);
    match resource {
        "pods" => pod_row(obj, now),
        "deployments" => {
            let d: Deployment = view_of(obj);
            let (containers, images) = containers_and_images(d.spec.template.as_ref());
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    count(d.status.ready_replicas),
                    d.spec.replicas.unwrap_or(0)
                )),
                json!(count(d.status.updated_replicas)),
                json!(count(d.status.available_replicas)),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_string(d.spec.selector.as_ref())),
            ]
        }
        "replicasets" => {
            let rs: ReplicaSet = view_of(obj);
            let (containers, images) = containers_and_images(rs.spec.template.as_ref());
            vec![
                name,
                json!(rs.spec.replicas.unwrap_or(0)),
                json!(rs.status.replicas),
                json!(count(rs.status.ready_replicas)),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_string(rs.spec.selector.as_ref())),
            ]
        }
        "services" => {
            let svc: Service = view_of(obj);
            vec![
                name,
                json!(text(svc.spec.type_.as_ref())),
                json!(none_if_empty(text(svc.spec.cluster_ip.as_ref()))),
                json!(service_external_ip(&svc)),
                json!(service_ports(&svc)),
                json!(created),
                json!(format_labels(svc.spec.selector.as_ref())),
            ]
        }
        "endpoints" => {
            let ep: Endpoints = parse(obj).unwrap_or_default();
            vec![name, json!(endpoints_summary(&ep)), json!(created)]
        }
        "endpointslices" => {
            let slice: EndpointSlice = parse(obj).unwrap_or_default();
            let ports: Vec<String> = slice
                .ports
                .iter()
                .flatten()
                .map(|p| p.port.unwrap_or(0).to_string())
                .collect();
            let addrs: Vec<String> = slice
                .endpoints
                .iter()
                .flatten()
                .flat_map(|e| e.addresses.iter().cloned())
                .collect();
            let ports = if ports.is_empty() {
                "<unset>".to_owned()
            } else {
                ports.join(",")
            };
            let addrs = if addrs.is_empty() {
                "<unset>".to_owned()
            } else {
                limited(addrs)
            };
            vec![
                name,
                json!(slice.address_type),
                json!(ports),
                json!(addrs),
                json!(created),
            ]
        }
        "namespaces" => {
            let ns: Namespace = view_of(obj);
            vec![name, json!(text(ns.status.phase.as_ref())), json!(created)]
        }
        "nodes" => node_row(&view_of(obj), now),
        "events" => event_row(&parse(obj).unwrap_or_default(), now),
        "configmaps" => {
            let keys: ConfigMapKeys = view_of(obj);
            vec![
                name,
                json!(keys.data.len() + keys.binary_data.len()),
                json!(created),
            ]
        }
        _ => vec![name, json!(created)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::objects::merged;

    #[test]
    fn pod_status_prefers_waiting_reason_and_terminating() {
        let pod = json!({"metadata": {"name": "p"}, "status": {"phase": "Pending", "containerStatuses": [
            {"name": "c", "image": "i", "imageID": "", "restartCount": 0, "ready": false,
             "state": {"waiting": {"reason": "ErrImagePull"}}}]}});
        assert_eq!(pod_status(&view_of(&pod)), "ErrImagePull");
        let running = json!({"metadata": {"name": "p"}, "status": {"phase": "Running"}});
        assert_eq!(pod_status(&view_of(&running)), "Running");
        let deleted = merged(
            &running,
            &json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        );
        assert_eq!(pod_status(&view_of(&deleted)), "Terminating");
    }

    #[test]
    fn service_cells_show_node_ports() {
        let svc = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.96.3.4",
            "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30379}], "selector": {"app": "x"}}});
        let cells = cells("services", &svc, jiff::Timestamp::now());
        assert_eq!(cells[3], "<none>");
        assert_eq!(cells[4], "80:30379/TCP");
        assert_eq!(cells[6], "app=x");
    }

    #[test]
    fn selectors_render_sorted() {
        let sel: K8sLabelSelector = serde_json::from_value(json!({
            "matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "c", "operator": "In", "values": ["y", "x"]}]
        }))
        .expect("a selector");
        assert_eq!(selector_string(Some(&sel)), "a=1,b=2,c in (x,y)");
        assert_eq!(selector_string(None), "<none>");
        assert_eq!(
            limited((0..5).map(|i| i.to_string()).collect()),
            "0,1,2 + 2 more..."
        );
    }
}
