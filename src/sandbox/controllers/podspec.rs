//! The defaults a pod made by a controller gets: those the API server gives every pod (the
//! controllers write to the store directly, not through the API), plus what admission adds
//! (the service account token volume) and a Pending status, each only where missing.

use serde_json::{Map, Value, json};

use crate::sandbox::objects::{view, view_of};
use crate::sandbox::registry::defaults;
use crate::sandbox::store::meta;

/// Where the service account token volume is mounted.
const TOKEN_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The prefix of the token volume's name.
const TOKEN_VOLUME: &str = "kube-api-access-";

view! {
    /// What decides whether a pod gets a token volume.
    struct TokenSpec<'a> {
        #[serde(borrow)]
        volumes: Vec<Named<'a>>,
        automount_service_account_token: Option<bool>,
    }
}

view! {
    /// Anything with a name.
    struct Named<'a> {
        #[serde(borrow)]
        name: &'a str,
    }
}

view! {
    struct TokenPod<'a> {
        #[serde(borrow)]
        spec: TokenSpec<'a>,
    }
}

fn set_missing(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), value);
    }
}

fn push(map: &mut Map<String, Value>, key: &str, item: Value) {
    match map.entry(key).or_insert_with(|| json!([])) {
        Value::Array(items) => items.push(item),
        other => *other = json!([item]),
    }
}

/// Fills what the API server and admission add to a new pod: spec defaults, the service
/// account and its token volume, tolerations, priority, and a Pending status.
pub fn default_pod(pod: &mut Value) {
    defaults::apply("Pod", pod);
    let wants_token = {
        let view: TokenPod = view_of(pod);
        let has_token = view
            .spec
            .volumes
            .iter()
            .any(|v| v.name.starts_with(TOKEN_VOLUME));
        !has_token && view.spec.automount_service_account_token != Some(false)
    };
    if wants_token {
        let vol = format!("{TOKEN_VOLUME}{}", meta::random_suffix(5));
        let spec = meta::object_field_mut(pod, "spec");
        push(
            spec,
            "volumes",
            json!({
                "name": vol,
                "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
                ]}
            }),
        );
        if let Some(Value::Array(cs)) = spec.get_mut("containers") {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                let mount = json!({"name": vol, "readOnly": true, "mountPath": TOKEN_MOUNT});
                push(c, "volumeMounts", mount);
            }
        }
    }
    let status = meta::object_field_mut(pod, "status");
    set_missing(status, "phase", json!("Pending"));
    set_missing(status, "qosClass", json!("BestEffort"));
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;

    use super::*;

    #[test]
    fn pods_get_api_server_defaults_without_overriding() {
        let mut pod = json!({"spec": {"restartPolicy": "Never",
            "containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y"}]}});
        default_pod(&mut pod);
        let typed: Pod = serde_json::from_value(pod.clone()).expect("a pod");
        let spec = typed.spec.expect("spec");
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
        let policies: Vec<Option<&str>> = spec
            .containers
            .iter()
            .map(|c| c.image_pull_policy.as_deref())
            .collect();
        assert_eq!(policies, vec![Some("IfNotPresent"), Some("Always")]);
        assert_eq!(spec.tolerations.map(|t| t.len()), Some(2));
        let volume = spec.volumes.and_then(|v| v.first().map(|v| v.name.clone()));
        assert!(volume.is_some_and(|v| v.starts_with(TOKEN_VOLUME)));
        let mounts = spec.containers[1].volume_mounts.as_ref().map(Vec::len);
        assert_eq!(mounts, Some(1));
        let phase = typed.status.and_then(|s| s.phase);
        assert_eq!(phase.as_deref(), Some("Pending"));
        let before = pod.clone();
        default_pod(&mut pod);
        assert_eq!(pod, before, "defaulting is idempotent");
    }
}
