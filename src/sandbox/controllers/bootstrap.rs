//! Objects a fresh cluster has: namespaces, nodes and the `kubernetes` Service.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    DaemonEndpoint, EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Namespace,
    NamespaceSpec, NamespaceStatus, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints,
    NodeSpec, NodeStatus, NodeSystemInfo, Service, ServicePort, ServiceSpec, ServiceStatus, Taint,
};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde_json::Value;

use super::SimConfig;
use crate::sandbox::objects::{to_json, with_fields};
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

fn create_if_absent<T: Serialize>(store: &Store, key: &ResKey, obj: &T) {
    match store.create(key, to_json(obj)) {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
        Err(e) => tracing::warn!("failed to create a startup object: {e}"),
    }
}

fn strings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn named(name: &str, namespace: Option<&str>, labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(strings(labels)),
        ..ObjectMeta::default()
    }
}

fn node(name: &str, index: u8, ip: &str) -> Node {
    let control = name == CONTROL_PLANE;
    let mut labels = strings(&[
        ("beta.kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
    ]);
    if control {
        labels.extend(strings(&[
            ("node-role.kubernetes.io/control-plane", ""),
            (
                "node.kubernetes.io/exclude-from-external-load-balancers",
                "",
            ),
        ]));
    }
    let now = meta::now_time();
    let cond = |t: &str, s: &str, reason: &str, msg: &str| NodeCondition {
        type_: t.to_owned(),
        status: s.to_owned(),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
        reason: Some(reason.to_owned()),
        message: Some(msg.to_owned()),
    };
    let resources: BTreeMap<String, Quantity> = [
        ("cpu", "4"),
        ("ephemeral-storage", "102626232Ki"),
        ("hugepages-2Mi", "0"),
        ("memory", "8148016Ki"),
        ("pods", "110"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
    .collect();
    let cidr = format!("10.244.{index}.0/24");
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(labels),
            annotations: Some(strings(&[
                ("node.alpha.kubernetes.io/ttl", "0"),
                (
                    "volumes.kubernetes.io/controller-managed-attach-detach",
                    "true",
                ),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: Some(cidr.clone()),
            pod_cidrs: Some(vec![cidr]),
            provider_id: Some(format!("kind://docker/kubetutor/{name}")),
            taints: control.then(|| {
                vec![Taint {
                    key: "node-role.kubernetes.io/control-plane".to_owned(),
                    effect: "NoSchedule".to_owned(),
                    ..Taint::default()
                }]
            }),
            ..NodeSpec::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(resources.clone()),
            allocatable: Some(resources),
            conditions: Some(vec![
                cond(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                cond(
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                cond(
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                cond(
                    "Ready",
                    "True",
                    "KubeletReady",
                    "kubelet is posting ready status",
                ),
            ]),
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".to_owned(),
                    address: ip.to_owned(),
                },
                NodeAddress {
                    type_: "Hostname".to_owned(),
                    address: name.to_owned(),
                },
            ]),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint { port: 10250 }),
            }),
            node_info: Some(NodeSystemInfo {
                architecture: "amd64".to_owned(),
                boot_id: meta::new_uid(),
                container_runtime_version: "containerd://2.1.3".to_owned(),
                kernel_version: "6.8.0-kubetutor".to_owned(),
                kube_proxy_version: String::new(),
                kubelet_version: KUBELET_VERSION.to_owned(),
                machine_id: meta::random_hex(32),
                operating_system: "linux".to_owned(),
                os_image: "Debian GNU/Linux 12 (bookworm)".to_owned(),
                system_uuid: meta::new_uid(),
                ..NodeSystemInfo::default()
            }),
            ..NodeStatus::default()
        }),
    }
}

/// Creates what a fresh cluster has, when absent, and points the `kubernetes` Service's
/// endpoints at the API server's current address.
pub fn ensure_cluster(store: &Store, sim: &SimConfig) {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let namespace = Namespace {
            metadata: named(ns, None, &[("kubernetes.io/metadata.name", ns)]),
            spec: Some(NamespaceSpec {
                finalizers: Some(vec!["kubernetes".to_owned()]),
            }),
            status: Some(NamespaceStatus {
                phase: Some("Active".to_owned()),
                conditions: None,
            }),
        };
        create_if_absent(store, &ResKey::namespaces(), &namespace);
    }
    for (name, index, ip) in nodes() {
        create_if_absent(store, &ResKey::nodes(), &node(name, index, &ip));
    }
    let https = |port: i32| ("https".to_owned(), port, "TCP".to_owned());
    let service = Service {
        metadata: named(
            "kubernetes",
            Some("default"),
            &[("component", "apiserver"), ("provider", "kubernetes")],
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some(KUBERNETES_CLUSTER_IP.to_owned()),
            cluster_ips: Some(vec![KUBERNETES_CLUSTER_IP.to_owned()]),
            internal_traffic_policy: Some("Cluster".to_owned()),
            ip_families: Some(vec!["IPv4".to_owned()]),
            ip_family_policy: Some("SingleStack".to_owned()),
            ports: Some(vec![ServicePort {
                name: Some("https".to_owned()),
                port: 443,
                protocol: Some("TCP".to_owned()),
                target_port: Some(IntOrString::Int(6443)),
                ..ServicePort::default()
            }]),
            session_affinity: Some("None".to_owned()),
            type_: Some("ClusterIP".to_owned()),
            ..ServiceSpec::default()
        }),
        status: Some(ServiceStatus {
            load_balancer: Some(Default::default()),
            conditions: None,
        }),
    };
    create_if_absent(store, &ResKey::services(), &service);
    let ip = sim.api_address.ip().to_string();
    let (name, port, protocol) = https(i32::from(sim.api_address.port()));
    let endpoints = Endpoints {
        metadata: named(
            "kubernetes",
            Some("default"),
            &[("endpointslice.kubernetes.io/skip-mirror", "true")],
        ),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress {
                ip: ip.clone(),
                ..EndpointAddress::default()
            }]),
            ports: Some(vec![EndpointPort {
                name: Some(name.clone()),
                port,
                protocol: Some(protocol.clone()),
                app_protocol: None,
            }]),
            not_ready_addresses: None,
        }]),
    };
    let slice = EndpointSlice {
        metadata: named(
            "kubernetes",
            Some("default"),
            &[("kubernetes.io/service-name", "kubernetes")],
        ),
        address_type: "IPv4".to_owned(),
        endpoints: Some(vec![Endpoint {
            addresses: vec![ip],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                ..EndpointConditions::default()
            }),
            ..Endpoint::default()
        }]),
        ports: Some(vec![SlicePort {
            name: Some(name),
            port: Some(port),
            protocol: Some(protocol),
            app_protocol: None,
        }]),
    };
    // A restarted sandbox listens elsewhere: the stored objects take the new address.
    let subsets = serde_json::json!({ "subsets": to_json(&endpoints.subsets) });
    refresh(store, &ResKey::endpoints(), to_json(&endpoints), subsets);
    let addresses = serde_json::json!({ "endpoints": to_json(&slice.endpoints), "ports": to_json(&slice.ports) });
    refresh(store, &ResKey::endpointslices(), to_json(&slice), addresses);
}

/// Creates the `kubernetes` object `desired` of `key`, or sets `fields` on the stored one.
fn refresh(store: &Store, key: &ResKey, desired: Value, fields: Value) {
    match store.get(key, "default", "kubernetes") {
        None => create_if_absent(store, key, &desired),
        Some(current) => {
            if let Err(e) = store.update(key, with_fields(&current, fields)) {
                tracing::warn!("failed to update the kubernetes endpoints: {e}");
            }
        }
    }
}
