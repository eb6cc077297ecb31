//! Defaulting like the real API server's (`pkg/apis/*/v1/defaults.go`), so `describe` and
//! `get -o yaml` show what learners see on a real cluster.

use serde_json::{Map, Value, json};

fn obj_mut<'a>(parent: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let p = parent.as_object_mut()?;
    let entry = p.entry(key.to_owned()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut()
}

fn default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

/// Applies the defaults of `kind` in place.
pub fn apply(kind: &str, obj: &mut Value) {
    match kind {
        "Deployment" => deployment(obj),
        "ReplicaSet" => replicaset(obj),
        "Pod" => pod(obj),
        "Service" => service(obj),
        "Namespace" => {
            if let Some(spec) = obj_mut(obj, "spec") {
                default(spec, "finalizers", json!(["kubernetes"]));
            }
            if let Some(meta) = obj_mut(obj, "metadata") {
                let name = meta.get("name").cloned().unwrap_or(Value::Null);
                let labels = meta.entry("labels").or_insert_with(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("kubernetes.io/metadata.name".to_owned(), name);
                }
            }
        }
        _ => {}
    }
}

fn deployment(obj: &mut Value) {
    let Some(spec) = obj_mut(obj, "spec") else {
        return;
    };
    default(spec, "replicas", json!(1));
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if let Some(s) = strategy.as_object_mut() {
        default(s, "type", json!("RollingUpdate"));
        if s.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let ru = s.entry("rollingUpdate").or_insert_with(|| json!({}));
            if let Some(ru) = ru.as_object_mut() {
                default(ru, "maxUnavailable", json!("25%"));
                default(ru, "maxSurge", json!("25%"));
            }
        }
    }
    if let Some(template) = spec.get_mut("template") {
        pod_template(template);
    }
}

fn replicaset(obj: &mut Value) {
    let Some(spec) = obj_mut(obj, "spec") else {
        return;
    };
    default(spec, "replicas", json!(1));
    if let Some(template) = spec.get_mut("template") {
        pod_template(template);
    }
}

fn pod_template(template: &mut Value) {
    if let Some(meta) = obj_mut(template, "metadata") {
        meta.remove("creationTimestamp");
    }
    if let Some(spec) = template.get_mut("spec") {
        pod_spec(spec);
    }
}

fn pod(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec") {
        pod_spec(spec);
        if let Some(s) = spec.as_object_mut() {
            default(s, "serviceAccountName", json!("default"));
            let sa = s
                .get("serviceAccountName")
                .cloned()
                .unwrap_or(json!("default"));
            default(s, "serviceAccount", sa);
            default(s, "priority", json!(0));
            default(s, "preemptionPolicy", json!("PreemptLowerPriority"));
            default(s, "enableServiceLinks", json!(true));
            default(
                s,
                "tolerations",
                json!([
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ]),
            );
        }
    }
}

/// Pod spec defaults shared by pods and templates.
pub fn pod_spec(spec: &mut Value) {
    let Some(s) = spec.as_object_mut() else {
        return;
    };
    default(s, "restartPolicy", json!("Always"));
    default(s, "terminationGracePeriodSeconds", json!(30));
    default(s, "dnsPolicy", json!("ClusterFirst"));
    default(s, "securityContext", json!({}));
    default(s, "schedulerName", json!("default-scheduler"));
    for field in ["containers", "initContainers"] {
        if let Some(containers) = s.get_mut(field).and_then(Value::as_array_mut) {
            for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                container(c);
            }
        }
    }
}

fn container(c: &mut Map<String, Value>) {
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    default(c, "imagePullPolicy", json!(pull_policy(&image)));
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(p, "protocol", json!("TCP"));
        }
    }
}

/// `Always` for `:latest` or untagged images, else `IfNotPresent`.
pub fn pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn service(obj: &mut Value) {
    let Some(spec) = obj_mut(obj, "spec") else {
        return;
    };
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    if ty != "ExternalName" {
        default(spec, "ipFamilies", json!(["IPv4"]));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty == "NodePort" || ty == "LoadBalancer" {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(p, "protocol", json!("TCP"));
            if let Some(port) = p.get("port").cloned() {
                default(p, "targetPort", port);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    use super::*;

    #[test]
    fn deployment_defaults_match_the_real_server() {
        let mut d = json!({"spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "repo/app:v1"}]}}}});
        apply("Deployment", &mut d);
        let d: Deployment = serde_json::from_value(d).expect("a Deployment");
        let spec = d.spec;
        assert_eq!(spec.replicas, Some(1));
        let surge = spec
            .strategy
            .and_then(|s| s.rolling_update)
            .and_then(|r| r.max_surge);
        assert_eq!(surge, Some(IntOrString::String("25%".to_owned())));
        let pod = spec.template.spec.expect("a pod spec");
        let c = &pod.containers[0];
        assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
        assert_eq!(c.termination_message_policy.as_deref(), Some("File"));
        assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirst"));
    }

    #[test]
    fn pull_policies() {
        assert_eq!(pull_policy("nginx"), "Always");
        assert_eq!(pull_policy("nginx:latest"), "Always");
        assert_eq!(pull_policy("localhost:5000/nginx"), "Always");
        assert_eq!(pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(pull_policy("nginx@sha256:0123"), "IfNotPresent");
    }

    #[test]
    fn service_defaults() {
        let mut s = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        apply("Service", &mut s);
        let s: Service = serde_json::from_value(s).expect("a Service");
        let spec = s.spec.expect("a spec");
        let target = spec.ports.as_ref().and_then(|p| p[0].target_port.clone());
        assert_eq!(target, Some(IntOrString::Int(80)));
        assert_eq!(spec.external_traffic_policy.as_deref(), Some("Cluster"));
        assert_eq!(spec.ip_families, Some(vec!["IPv4".to_owned()]));
    }
}
