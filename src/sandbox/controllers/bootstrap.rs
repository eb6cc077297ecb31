//! Objects a fresh cluster has: namespaces, nodes and the `kubernetes` Service.

use serde_json::{Value, json};

use super::SimConfig;
use crate::sandbox::store::{ResKey, Store, StoreError, meta};

/// Name of the control-plane node.
pub const CONTROL_PLANE: &str = "kubetutor-control-plane";
/// Names of the worker nodes pods are scheduled on.
pub const WORKERS: [&str; 3] = ["kubetutor-worker", "kubetutor-worker2", "kubetutor-worker3"];
/// Kubelet version the nodes report.
pub const KUBELET_VERSION: &str = "v1.37.2";
/// The `kubernetes` Service's ClusterIP.
pub const KUBERNETES_CLUSTER_IP: &str = "10.96.0.1";

/// Every node: (name, index used in its pod CIDR 10.244.<index>.0/24, InternalIP).
pub fn nodes() -> Vec<(&'static str, u8, String)> {
    std::iter::once(CONTROL_PLANE)
        .chain(WORKERS)
        .enumerate()
        .map(|(i, n)| (n, i as u8, format!("172.18.0.{}", i + 2)))
        .collect()
}

fn create_if_absent(store: &Store, key: &ResKey, obj: Value) {
    match store.create(key, obj) {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
        Err(e) => tracing::warn!("failed to create a startup object: {e}"),
    }
}

fn node(name: &str, index: u8, ip: &str) -> Value {
    let control = name == CONTROL_PLANE;
    let mut labels = json!({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    });
    if control {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("");
    }
    let now = meta::now_rfc3339();
    let cond = |t: &str, s: &str, reason: &str, msg: &str| {
        json!({"type": t, "status": s, "lastHeartbeatTime": now, "lastTransitionTime": now,
               "reason": reason, "message": msg})
    };
    let mut node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"
            }
        },
        "spec": {
            "podCIDR": format!("10.244.{index}.0/24"),
            "podCIDRs": [format!("10.244.{index}.0/24")],
            "providerID": format!("kind://docker/kubetutor/{name}")
        },
        "status": {
            "capacity": {"cpu": "4", "ephemeral-storage": "102626232Ki", "hugepages-2Mi": "0",
                         "memory": "8148016Ki", "pods": "110"},
            "allocatable": {"cpu": "4", "ephemeral-storage": "102626232Ki", "hugepages-2Mi": "0",
                            "memory": "8148016Ki", "pods": "110"},
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": name}
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": meta::new_uid(),
                "containerRuntimeVersion": "containerd://2.1.3",
                "kernelVersion": "6.8.0-kubetutor",
                "kubeProxyVersion": "",
                "kubeletVersion": KUBELET_VERSION,
                "machineID": meta::random_hex(32),
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": meta::new_uid()
            }
        }
    });
    if control {
        node["spec"]["taints"] = json!([{
            "key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"
        }]);
    }
    node
}

/// Creates what a fresh cluster has, when absent, and points the `kubernetes` Service's
/// endpoints at the API server's current address.
pub fn ensure_cluster(store: &Store, sim: &SimConfig) {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        create_if_absent(
            store,
            &ResKey::namespaces(),
            json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"}
            }),
        );
    }
    for (name, index, ip) in nodes() {
        create_if_absent(store, &ResKey::nodes(), node(name, index, &ip));
    }
    create_if_absent(
        store,
        &ResKey::services(),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {
                "clusterIP": KUBERNETES_CLUSTER_IP, "clusterIPs": [KUBERNETES_CLUSTER_IP],
                "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                "sessionAffinity": "None", "type": "ClusterIP"
            },
            "status": {"loadBalancer": {}}
        }),
    );
    let ip = sim.api_address.ip().to_string();
    let port = sim.api_address.port();
    let endpoints = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip}],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]
    });
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]
    });
    for (key, desired) in [
        (ResKey::endpoints(), endpoints),
        (ResKey::endpointslices(), slice),
    ] {
        match store.get(&key, "default", "kubernetes") {
            None => create_if_absent(store, &key, desired),
            Some(mut current) => {
                for field in ["subsets", "endpoints", "ports"] {
                    if let Some(v) = desired.get(field) {
                        current[field] = v.clone();
                    }
                }
                if let Err(e) = store.update(&key, current) {
                    tracing::warn!("failed to update the kubernetes endpoints: {e}");
                }
            }
        }
    }
}
