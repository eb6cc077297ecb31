//! `fieldValidation=Strict`: unknown fields are rejected (kubectl's default), so a learner's typo
//! (`spce:`, `imagee:`) fails like on a real cluster instead of being silently dropped.
//!
//! The known-field lists cover the kinds lessons write; other kinds and free-form maps
//! (labels, data, selectors) are not checked.

use serde_json::Value;

use super::status::ApiError;
use crate::sandbox::objects::{Any, view, view_of};

const META: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];
const WORKLOAD_SPEC: &[&str] = &[
    "replicas",
    "selector",
    "template",
    "strategy",
    "minReadySeconds",
    "revisionHistoryLimit",
    "paused",
    "progressDeadlineSeconds",
];
const POD_SPEC: &[&str] = &[
    "volumes",
    "initContainers",
    "containers",
    "ephemeralContainers",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "dnsPolicy",
    "nodeSelector",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "nodeName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "shareProcessNamespace",
    "securityContext",
    "imagePullSecrets",
    "hostname",
    "subdomain",
    "affinity",
    "schedulerName",
    "tolerations",
    "hostAliases",
    "priorityClassName",
    "priority",
    "dnsConfig",
    "readinessGates",
    "runtimeClassName",
    "enableServiceLinks",
    "preemptionPolicy",
    "overhead",
    "topologySpreadConstraints",
    "setHostnameAsFQDN",
    "os",
    "hostUsers",
    "schedulingGates",
    "resourceClaims",
    "resources",
    "hostnameOverride",
    "workloadRef",
];
const CONTAINER: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "restartPolicyRules",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
];
const CONTAINER_PORT: &[&str] = &["name", "hostPort", "containerPort", "protocol", "hostIP"];
const ENV_VAR: &[&str] = &["name", "value", "valueFrom"];
const SERVICE_SPEC: &[&str] = &[
    "ports",
    "selector",
    "clusterIP",
    "clusterIPs",
    "type",
    "externalIPs",
    "sessionAffinity",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "externalName",
    "externalTrafficPolicy",
    "healthCheckNodePort",
    "publishNotReadyAddresses",
    "sessionAffinityConfig",
    "ipFamilies",
    "ipFamilyPolicy",
    "allocateLoadBalancerNodePorts",
    "loadBalancerClass",
    "internalTrafficPolicy",
    "trafficDistribution",
];
const SERVICE_PORT: &[&str] = &[
    "name",
    "protocol",
    "appProtocol",
    "port",
    "targetPort",
    "nodePort",
];

view! {
    /// The parts of an object (or of its spec or template) whose fields are checked.
    struct Parts {
        metadata: Value,
        spec: Value,
        template: Value,
        ports: Vec<Value>,
    }
}

view! {
    /// The lists of a pod spec whose items are checked.
    struct PodParts {
        containers: Vec<Value>,
        init_containers: Vec<Value>,
    }
}

view! {
    /// The lists of a container whose items are checked.
    struct ContainerParts {
        ports: Vec<Value>,
        env: Vec<Value>,
    }
}

/// The top-level fields of the kinds with a spec and a status.
const OBJECT: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];
/// The top-level fields of a ConfigMap.
const CONFIG_MAP: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "data",
    "binaryData",
    "immutable",
];
/// The fields of a pod template.
const TEMPLATE: &[&str] = &["metadata", "spec"];

fn check(obj: &Value, known: &[&str], path: &str, out: &mut Vec<String>) {
    for key in obj.as_object().into_iter().flat_map(|m| m.keys()) {
        if !known.contains(&key.as_str()) {
            out.push(if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            });
        }
    }
}

fn check_list(items: &[Value], at: &str, known: &[&str], out: &mut Vec<String>) {
    for (i, item) in items.iter().enumerate() {
        check(item, known, &format!("{at}[{i}]"), out);
    }
}

fn pod_spec(spec: &Value, path: &str, out: &mut Vec<String>) {
    check(spec, POD_SPEC, path, out);
    let lists: PodParts = view_of(spec);
    for (field, containers) in [
        ("containers", &lists.containers),
        ("initContainers", &lists.init_containers),
    ] {
        check_list(containers, &format!("{path}.{field}"), CONTAINER, out);
        for (i, c) in containers.iter().enumerate() {
            let at = format!("{path}.{field}[{i}]");
            let c: ContainerParts = view_of(c);
            check_list(&c.ports, &format!("{at}.ports"), CONTAINER_PORT, out);
            check_list(&c.env, &format!("{at}.env"), ENV_VAR, out);
        }
    }
}

/// Paths of the fields of `obj` (of `kind`) that the real API would not know.
pub fn unknown_fields(kind: &str, obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let top: &[&str] = match kind {
        "Deployment" | "ReplicaSet" | "Pod" | "Service" | "Namespace" | "Node" => OBJECT,
        "ConfigMap" => CONFIG_MAP,
        _ => return out,
    };
    check(obj, top, "", &mut out);
    let parts: Parts = view_of(obj);
    check(&parts.metadata, META, "metadata", &mut out);
    let spec: Parts = view_of(&parts.spec);
    match kind {
        "Deployment" | "ReplicaSet" => {
            check(&parts.spec, WORKLOAD_SPEC, "spec", &mut out);
            check(&spec.template, TEMPLATE, "spec.template", &mut out);
            let template: Parts = view_of(&spec.template);
            check(&template.metadata, META, "spec.template.metadata", &mut out);
            pod_spec(&template.spec, "spec.template.spec", &mut out);
        }
        "Pod" => pod_spec(&parts.spec, "spec", &mut out),
        "Service" => {
            check(&parts.spec, SERVICE_SPEC, "spec", &mut out);
            check_list(&spec.ports, "spec.ports", SERVICE_PORT, &mut out);
        }
        _ => {}
    }
    out
}

/// With `fieldValidation=Strict`, rejects fields `new` has that the API does not know (fields
/// already in `old` are let through: they came from the server itself).
pub fn enforce(
    mode: Option<&str>,
    kind: &str,
    old: Option<&Value>,
    new: &Value,
) -> Result<(), ApiError> {
    if mode != Some("Strict") {
        return Ok(());
    }
    let before = old.map(|o| unknown_fields(kind, o)).unwrap_or_default();
    let fresh: Vec<String> = unknown_fields(kind, new)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    if fresh.is_empty() {
        return Ok(());
    }
    let head: Any = view_of(new);
    let version = Some(head.api_version)
        .filter(|v| !v.is_empty())
        .unwrap_or("v1");
    let version = version.rsplit('/').next().unwrap_or(version);
    let listed: Vec<String> = fresh
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    Err(ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
        listed.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typos_are_found_with_their_paths() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "lables": {}},
            "spce": {}, "spec": {"template": {"spec": {"containers": [{"name": "c", "imagee": "x", "ports": [{"containerport": 80}]}]}}}});
        assert_eq!(
            unknown_fields("Deployment", &d),
            vec![
                "spce",
                "metadata.lables",
                "spec.template.spec.containers[0].imagee",
                "spec.template.spec.containers[0].ports[0].containerport"
            ]
        );
        let err = enforce(Some("Strict"), "Deployment", None, &d).expect_err("strict");
        assert!(err.message.starts_with("Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spce\""), "{}", err.message);
        assert!(enforce(None, "Deployment", None, &d).is_ok());
        assert!(enforce(Some("Strict"), "Deployment", Some(&d), &d).is_ok());
        assert!(unknown_fields("ConfigMap", &json!({"data": {"any": "thing"}})).is_empty());
    }
}
