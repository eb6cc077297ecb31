//! Pod defaults the API server and its admission plugins would fill, applied only where a
//! field is missing so the API layer's own defaulting always wins.

use serde_json::{Map, Value, json};

use crate::sandbox::store::meta;

fn set_missing(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

/// The pull policy the API server defaults: `Always` for `latest` or untagged images.
pub fn default_pull_policy(image: &str) -> &'static str {
    let last = image.rsplit('/').next().unwrap_or(image);
    let tag = last.split('@').next().unwrap_or(last).split_once(':');
    match tag {
        None => "Always",
        Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
    }
}

/// Fills a container's defaults.
pub fn default_container(c: &mut Value) {
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let Some(m) = c.as_object_mut() else { return };
    set_missing(m, "imagePullPolicy", json!(default_pull_policy(&image)));
    set_missing(m, "terminationMessagePath", json!("/dev/termination-log"));
    set_missing(m, "terminationMessagePolicy", json!("File"));
    set_missing(m, "resources", json!({}));
}

/// Fills a pod template's spec defaults (for Deployments and ReplicaSets).
pub fn default_pod_spec(spec: &mut Value) {
    let Some(m) = spec.as_object_mut() else {
        return;
    };
    set_missing(m, "restartPolicy", json!("Always"));
    set_missing(m, "terminationGracePeriodSeconds", json!(30));
    set_missing(m, "dnsPolicy", json!("ClusterFirst"));
    set_missing(m, "securityContext", json!({}));
    set_missing(m, "schedulerName", json!("default-scheduler"));
    if let Some(Value::Array(cs)) = m.get_mut("containers") {
        cs.iter_mut().for_each(default_container);
    }
}

/// Fills what the API server and admission add to a new pod: spec defaults, the service
/// account and its token volume, tolerations, priority, and a Pending status.
pub fn default_pod(pod: &mut Value) {
    let spec = meta::object_field_mut(pod, "spec");
    let mut spec_value = Value::Object(std::mem::take(spec));
    default_pod_spec(&mut spec_value);
    let Value::Object(mut m) = spec_value else {
        return;
    };
    set_missing(&mut m, "serviceAccountName", json!("default"));
    set_missing(&mut m, "serviceAccount", json!("default"));
    set_missing(&mut m, "enableServiceLinks", json!(true));
    set_missing(&mut m, "preemptionPolicy", json!("PreemptLowerPriority"));
    set_missing(&mut m, "priority", json!(0));
    set_missing(
        &mut m,
        "tolerations",
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ]),
    );
    let has_token = m.get("volumes").and_then(Value::as_array).is_some_and(|v| {
        v.iter().any(|v| {
            v.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with("kube-api-access-"))
        })
    });
    if !has_token && m.get("automountServiceAccountToken") != Some(&json!(false)) {
        let vol = format!("kube-api-access-{}", meta::random_suffix(5));
        let volumes = m.entry("volumes").or_insert_with(|| json!([]));
        if let Value::Array(vs) = volumes {
            vs.push(json!({
                "name": vol,
                "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
                ]}
            }));
        }
        if let Some(Value::Array(cs)) = m.get_mut("containers") {
            for c in cs {
                let Some(cm) = c.as_object_mut() else {
                    continue;
                };
                let mounts = cm.entry("volumeMounts").or_insert_with(|| json!([]));
                if let Value::Array(ms) = mounts {
                    ms.push(json!({
                        "name": vol,
                        "readOnly": true,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"
                    }));
                }
            }
        }
    }
    *meta::object_field_mut(pod, "spec") = m;
    let status = meta::object_field_mut(pod, "status");
    set_missing(status, "phase", json!("Pending"));
    set_missing(status, "qosClass", json!("BestEffort"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_api_server_defaults_without_overriding() {
        let mut pod = json!({"spec": {"restartPolicy": "Never",
            "containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y"}]}});
        default_pod(&mut pod);
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        assert_eq!(pod["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(
            pod["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(pod["spec"]["containers"][1]["imagePullPolicy"], "Always");
        assert_eq!(pod["spec"]["tolerations"].as_array().unwrap().len(), 2);
        assert_eq!(pod["status"]["phase"], "Pending");
        let before = pod.clone();
        default_pod(&mut pod);
        assert_eq!(pod, before, "defaulting is idempotent");
    }
}
