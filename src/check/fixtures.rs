//! Hand-built cluster objects for the goal tests, shaped like what a real API server returns.

use serde_json::{Value, json};

use crate::check::World;

/// A Deployment `name` with label `app=name`, one container `app` on `image`, fully rolled out
/// at revision 1 with `replicas` ready replicas.
pub(crate) fn deployment(name: &str, image: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
            "generation": 1, "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        },
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas}
    })
}

/// Sets `.status` counters of a Deployment.
pub(crate) fn status(
    mut deployment: Value,
    replicas: i64,
    updated: i64,
    ready: i64,
    available: i64,
) -> Value {
    deployment["status"]["replicas"] = json!(replicas);
    deployment["status"]["updatedReplicas"] = json!(updated);
    deployment["status"]["readyReplicas"] = json!(ready);
    deployment["status"]["availableReplicas"] = json!(available);
    deployment
}

/// Sets the revision annotation of a Deployment or ReplicaSet.
pub(crate) fn revision(mut object: Value, revision: u64) -> Value {
    object["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
        json!(revision.to_string());
    object
}

/// Changes the template image (bumping generation, as the API server does).
pub(crate) fn set_image(mut deployment: Value, image: &str) -> Value {
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
    let generation = deployment["metadata"]["generation"].as_i64().unwrap_or(1);
    deployment["metadata"]["generation"] = json!(generation + 1);
    deployment["status"]["observedGeneration"] = json!(generation + 1);
    deployment
}

/// A ready, running pod of deployment `app` on `image`.
pub(crate) fn pod(name: &str, app: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": app},
            "creationTimestamp": "2024-05-01T10:00:00Z"},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "image": image, "imageID": "", "ready": true,
                "restartCount": 0, "state": {"running": {"startedAt": "2024-05-01T10:00:01Z"}}}]}
    })
}

/// A pod whose container waits with `reason` (e.g. `ImagePullBackOff`).
pub(crate) fn waiting_pod(name: &str, app: &str, image: &str, reason: &str) -> Value {
    let mut pod = pod(name, app, image);
    pod["status"] = json!({"phase": "Pending",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "app", "image": image, "imageID": "", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": reason}}}]});
    pod
}

/// Marks an object as being deleted.
pub(crate) fn terminating(mut object: Value) -> Value {
    object["metadata"]["deletionTimestamp"] = json!("2024-05-01T10:05:00Z");
    object
}

/// A ReplicaSet of deployment `app` at `revision`, running `image`.
pub(crate) fn replica_set(name: &str, app: &str, image: &str, revision: u64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default",
            "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app,
                "uid": format!("uid-{app}"), "controller": true}]},
        "spec": {"selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "app", "image": image}]}}}
    })
}

/// A Service `name` of `type` on `port` selecting `app=selector`.
pub(crate) fn service(name: &str, type_: &str, port: i64, selector: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": type_, "selector": {"app": selector},
            "ports": [{"port": port, "targetPort": port, "protocol": "TCP"}]}
    })
}

/// An EndpointSlice for Service `service` with one endpoint per (ip, ready).
pub(crate) fn endpoint_slice(service: &str, endpoints: &[(&str, Option<bool>)]) -> Value {
    let endpoints: Vec<Value> = endpoints
        .iter()
        .map(|(ip, ready)| match ready {
            Some(ready) => json!({"addresses": [ip], "conditions": {"ready": ready}}),
            None => json!({"addresses": [ip]}),
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{service}-abcde"), "namespace": "default",
            "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": endpoints
    })
}

/// A world of the given objects (which must be well-formed).
pub(crate) fn world(objects: impl IntoIterator<Item = Value>) -> World {
    World::from_objects(objects).expect("fixtures are well-formed")
}
