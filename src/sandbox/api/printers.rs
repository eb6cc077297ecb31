//! Columns and cells per kind, following kubernetes `pkg/printers/internalversion/printers.go`.

use serde_json::{Value, json};

use super::table::age;

fn s<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(*k))
}

fn text(obj: &Value, path: &[&str]) -> String {
    s(obj, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn int(obj: &Value, path: &[&str]) -> i64 {
    s(obj, path).and_then(Value::as_i64).unwrap_or(0)
}

fn none_if_empty(v: String) -> String {
    if v.is_empty() { "<none>".to_owned() } else { v }
}

fn items<'a>(obj: &'a Value, path: &[&str]) -> &'a [Value] {
    s(obj, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// `metav1.LabelSelectorAsSelector(..).String()` for matchLabels and simple expressions.
pub fn selector_string(selector: Option<&Value>) -> String {
    let Some(selector) = selector else {
        return "<none>".to_owned();
    };
    let mut parts: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            parts.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for expr in items(selector, &["matchExpressions"]) {
        let key = text(expr, &["key"]);
        let values: Vec<&str> = items(expr, &["values"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let rendered = match expr
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        parts.push((key, rendered));
    }
    parts.sort();
    none_if_empty(
        parts
            .into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// `labels.FormatLabels` of a plain map (services' selectors).
fn format_labels(map: Option<&Value>) -> String {
    let mut parts: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    none_if_empty(parts.join(","))
}

fn containers_and_images(template_spec: Option<&Value>) -> (String, String) {
    let containers = template_spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    let names: Vec<&str> = containers
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let images: Vec<&str> = containers
        .into_iter()
        .flatten()
        .filter_map(|c| c["image"].as_str())
        .collect();
    (names.join(","), images.join(","))
}

/// The pod STATUS column: waiting/terminated reasons win over the phase.
pub fn pod_status(pod: &Value) -> String {
    let mut reason = text(pod, &["status", "phase"]);
    let status_reason = text(pod, &["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason;
    }
    let mut has_running = false;
    for cs in items(pod, &["status", "containerStatuses"]).iter().rev() {
        let waiting = text(cs, &["state", "waiting", "reason"]);
        let terminated = s(cs, &["state", "terminated"]);
        if !waiting.is_empty() {
            reason = waiting;
        } else if let Some(t) = terminated {
            let r = text(t, &["reason"]);
            reason = if !r.is_empty() {
                r
            } else if int(t, &["signal"]) != 0 {
                format!("Signal:{}", int(t, &["signal"]))
            } else {
                format!("ExitCode:{}", int(t, &["exitCode"]))
            };
        } else if cs["ready"].as_bool() == Some(true) && s(cs, &["state", "running"]).is_some() {
            has_running = true;
        }
    }
    if reason == "Completed" && has_running {
        let ready = items(pod, &["status", "conditions"])
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        reason = if ready {
            "Running".to_owned()
        } else {
            "NotReady".to_owned()
        };
    }
    if s(pod, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null()) {
        reason = if status_is(pod, "NodeLost") {
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

fn status_is(pod: &Value, reason: &str) -> bool {
    text(pod, &["status", "reason"]) == reason
}

fn service_ports(svc: &Value) -> String {
    let ports: Vec<String> = items(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int(p, &["port"]);
            let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(np) if np != 0 => format!("{port}:{np}/{proto}"),
                _ => format!("{port}/{proto}"),
            }
        })
        .collect();
    none_if_empty(ports.join(","))
}

fn service_external_ip(svc: &Value) -> String {
    let external: Vec<&str> = items(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match text(svc, &["spec", "type"]).as_str() {
        "LoadBalancer" => {
            let ingress: Vec<String> = items(svc, &["status", "loadBalancer", "ingress"])
                .iter()
                .filter_map(|i| {
                    i.get("ip")
                        .or_else(|| i.get("hostname"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .chain(external.iter().map(|s| (*s).to_owned()))
                .collect();
            if ingress.is_empty() {
                "<pending>".to_owned()
            } else {
                ingress.join(",")
            }
        }
        "ExternalName" => text(svc, &["spec", "externalName"]),
        _ => none_if_empty(external.join(",")),
    }
}

fn endpoints_summary(ep: &Value) -> String {
    let mut all = Vec::new();
    for subset in items(ep, &["subsets"]) {
        let ports = items(subset, &["ports"]);
        for addr in items(subset, &["addresses"]) {
            let ip = text(addr, &["ip"]);
            if ports.is_empty() {
                all.push(ip.clone());
            }
            for p in ports {
                all.push(format!("{ip}:{}", int(p, &["port"])));
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

fn node_row(node: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let ready = items(node, &["status", "conditions"])
        .iter()
        .find(|c| c["type"] == "Ready");
    let mut status = match ready.and_then(|c| c["status"].as_str()) {
        Some("True") => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if node["spec"]["unschedulable"].as_bool() == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = node["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.keys()
                .filter_map(|k| {
                    k.strip_prefix("node-role.kubernetes.io/")
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let address = |ty: &str| {
        items(node, &["status", "addresses"])
            .iter()
            .find(|a| a["type"] == ty)
            .map(|a| text(a, &["address"]))
            .unwrap_or_else(|| "<none>".to_owned())
    };
    let info = |k: &str| none_if_empty(text(node, &["status", "nodeInfo", k]));
    vec![
        json!(text(node, &["metadata", "name"])),
        json!(status),
        json!(none_if_empty(roles.join(","))),
        json!(age(s(node, &["metadata", "creationTimestamp"]), now)),
        json!(text(node, &["status", "nodeInfo", "kubeletVersion"])),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

fn event_row(ev: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let first = s(ev, &["firstTimestamp"])
        .filter(|v| !v.is_null())
        .or_else(|| s(ev, &["eventTime"]));
    let last = s(ev, &["lastTimestamp"]).filter(|v| !v.is_null()).or(first);
    let count = int(ev, &["count"]);
    let last_seen = age(last, now);
    let interval = if count > 1 {
        format!("{last_seen} (x{count} over {})", age(first, now))
    } else {
        last_seen
    };
    let object = format!(
        "{}/{}",
        text(ev, &["involvedObject", "kind"]).to_lowercase(),
        text(ev, &["involvedObject", "name"])
    );
    let mut source = text(ev, &["source", "component"]);
    let host = text(ev, &["source", "host"]);
    if !host.is_empty() {
        source = format!("{source}, {host}");
    }
    vec![
        json!(interval),
        json!(text(ev, &["type"])),
        json!(text(ev, &["reason"])),
        json!(object),
        json!(text(ev, &["involvedObject", "fieldPath"])),
        json!(source),
        json!(text(ev, &["message"]).trim()),
        json!(age(first, now)),
        json!(count.to_string()),
        json!(text(ev, &["metadata", "name"])),
    ]
}

/// The cells of one row.
pub fn cells(resource: &str, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let name = json!(text(obj, &["metadata", "name"]));
    let created = age(s(obj, &["metadata", "creationTimestamp"]), now);
    match resource {
        "pods" => {
            let total = items(obj, &["spec", "containers"]).len();
            let statuses = items(obj, &["status", "containerStatuses"]);
            let ready = statuses
                .iter()
                .filter(|c| c["ready"].as_bool() == Some(true))
                .count();
            let restarts: i64 = statuses.iter().map(|c| int(c, &["restartCount"])).sum();
            let gates = items(obj, &["spec", "readinessGates"]).len();
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(obj)),
                json!(restarts.to_string()),
                json!(created),
                json!(none_if_empty(text(obj, &["status", "podIP"]))),
                json!(none_if_empty(text(obj, &["spec", "nodeName"]))),
                json!(none_if_empty(text(obj, &["status", "nominatedNodeName"]))),
                json!(if gates == 0 {
                    "<none>".to_owned()
                } else {
                    format!("0/{gates}")
                }),
            ]
        }
        "deployments" => {
            let (containers, images) = containers_and_images(s(obj, &["spec", "template", "spec"]));
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(obj, &["status", "readyReplicas"]),
                    int(obj, &["spec", "replicas"])
                )),
                json!(int(obj, &["status", "updatedReplicas"])),
                json!(int(obj, &["status", "availableReplicas"])),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_string(s(obj, &["spec", "selector"]))),
            ]
        }
        "replicasets" => {
            let (containers, images) = containers_and_images(s(obj, &["spec", "template", "spec"]));
            vec![
                name,
                json!(int(obj, &["spec", "replicas"])),
                json!(int(obj, &["status", "replicas"])),
                json!(int(obj, &["status", "readyReplicas"])),
                json!(created),
                json!(containers),
                json!(images),
                json!(selector_string(s(obj, &["spec", "selector"]))),
            ]
        }
        "services" => vec![
            name,
            json!(text(obj, &["spec", "type"])),
            json!(none_if_empty(text(obj, &["spec", "clusterIP"]))),
            json!(service_external_ip(obj)),
            json!(service_ports(obj)),
            json!(created),
            json!(format_labels(s(obj, &["spec", "selector"]))),
        ],
        "endpoints" => vec![name, json!(endpoints_summary(obj)), json!(created)],
        "endpointslices" => {
            let ports: Vec<String> = items(obj, &["ports"])
                .iter()
                .map(|p| int(p, &["port"]).to_string())
                .collect();
            let addrs: Vec<String> = items(obj, &["endpoints"])
                .iter()
                .flat_map(|e| {
                    items(e, &["addresses"])
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                })
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
                json!(text(obj, &["addressType"])),
                json!(ports),
                json!(addrs),
                json!(created),
            ]
        }
        "namespaces" => vec![name, json!(text(obj, &["status", "phase"])), json!(created)],
        "nodes" => node_row(obj, now),
        "events" => event_row(obj, now),
        "configmaps" => {
            let count = obj
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
                + obj
                    .get("binaryData")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len());
            vec![name, json!(count), json!(created)]
        }
        _ => vec![name, json!(created)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_status_prefers_waiting_reason_and_terminating() {
        let pod = json!({"metadata": {"name": "p"}, "status": {"phase": "Pending", "containerStatuses": [
            {"ready": false, "state": {"waiting": {"reason": "ErrImagePull"}}}]}});
        assert_eq!(pod_status(&pod), "ErrImagePull");
        let mut running = json!({"metadata": {"name": "p"}, "status": {"phase": "Running"}});
        assert_eq!(pod_status(&running), "Running");
        running["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(pod_status(&running), "Terminating");
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
        let sel = json!({"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [{"key": "c", "operator": "In", "values": ["x", "y"]}]});
        assert_eq!(selector_string(Some(&sel)), "a=1,b=2,c in (x,y)");
        assert_eq!(
            limited((0..5).map(|i| i.to_string()).collect()),
            "0,1,2 + 2 more..."
        );
    }
}
