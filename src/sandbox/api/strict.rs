//! `fieldValidation=Strict`: unknown fields are rejected (kubectl's default), so a learner's typo
//! (`spce:`, `imagee:`) fails like on a real cluster instead of being silently dropped.
//!
//! The known-field lists cover the kinds lessons write; other kinds and free-form maps
//! (labels, data, selectors) are not checked.

use serde_json::Value;

use super::status::ApiError;

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

fn check_list(obj: &Value, field: &str, known: &[&str], path: &str, out: &mut Vec<String>) {
    for (i, item) in obj[field].as_array().into_iter().flatten().enumerate() {
        check(item, known, &format!("{path}.{field}[{i}]"), out);
    }
}

fn pod_spec(spec: &Value, path: &str, out: &mut Vec<String>) {
    check(spec, POD_SPEC, path, out);
    for field in ["containers", "initContainers"] {
        check_list(spec, field, CONTAINER, path, out);
        for (i, c) in spec[field].as_array().into_iter().flatten().enumerate() {
            let at = format!("{path}.{field}[{i}]");
            check_list(c, "ports", CONTAINER_PORT, &at, out);
            check_list(c, "env", ENV_VAR, &at, out);
        }
    }
}

/// Paths of the fields of `obj` (of `kind`) that the real API would not know.
pub fn unknown_fields(kind: &str, obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let top: &[&str] = match kind {
        "Deployment" | "ReplicaSet" | "Pod" | "Service" | "Namespace" | "Node" => {
            &["apiVersion", "kind", "metadata", "spec", "status"]
        }
        "ConfigMap" => &[
            "apiVersion",
            "kind",
            "metadata",
            "data",
            "binaryData",
            "immutable",
        ],
        _ => return out,
    };
    check(obj, top, "", &mut out);
    check(&obj["metadata"], META, "metadata", &mut out);
    match kind {
        "Deployment" | "ReplicaSet" => {
            check(&obj["spec"], WORKLOAD_SPEC, "spec", &mut out);
            check(
                &obj["spec"]["template"],
                &["metadata", "spec"],
                "spec.template",
                &mut out,
            );
            check(
                &obj["spec"]["template"]["metadata"],
                META,
                "spec.template.metadata",
                &mut out,
            );
            pod_spec(
                &obj["spec"]["template"]["spec"],
                "spec.template.spec",
                &mut out,
            );
        }
        "Pod" => pod_spec(&obj["spec"], "spec", &mut out),
        "Service" => {
            check(&obj["spec"], SERVICE_SPEC, "spec", &mut out);
            check_list(&obj["spec"], "ports", SERVICE_PORT, "spec", &mut out);
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
    let version = new["apiVersion"].as_str().unwrap_or("v1");
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
