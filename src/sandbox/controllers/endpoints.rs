//! The endpoints and endpointslice controllers: for every Service with a selector, the
//! addresses of the pods it selects.

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, ServicePort,
};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::Reconciler;
use crate::k8s::selector::LabelSelector;
use crate::sandbox::objects::{
    Pod, Service, Viewed, owned_map, pod_finished, pod_ip, pod_ready, to_json, view_of,
};
use crate::sandbox::store::meta::{self, Meta};
use crate::sandbox::store::{DeleteOpts, ResKey, Store, StoreError};

/// Label linking an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages an EndpointSlice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's `managed-by` value.
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// Label naming the controller that manages an Endpoints object, and its value.
const ENDPOINTS_MANAGED_BY: (&str, &str) =
    ("endpoints.kubernetes.io/managed-by", "endpoint-controller");
/// Annotation both controllers set to the time of the change that last moved the addresses.
const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";

/// Maintains Endpoints and EndpointSlices.
#[derive(Default)]
pub struct EndpointsController;

impl EndpointsController {
    /// A new controller.
    pub fn new() -> Self {
        EndpointsController
    }
}

/// The container port a Service port targets on a pod (named target ports resolve by name).
fn target_port(svc_port: &ServicePort, pod: Option<&Pod>) -> Option<i32> {
    match &svc_port.target_port {
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => match name.parse::<i32>() {
            Ok(n) => Some(n),
            Err(_) => pod?
                .spec
                .containers
                .iter()
                .flat_map(|c| &c.ports)
                .find(|p| p.name == name)
                .and_then(|p| p.container_port)
                .and_then(|p| i32::try_from(p).ok()),
        },
        None => Some(svc_port.port),
    }
}

/// One port of an Endpoints subset or an EndpointSlice: (name, port, protocol).
type PortOf = (Option<String>, i32, String);

/// The ports of an Endpoints subset or (with `always_named`) an EndpointSlice: slices always
/// carry a name, "" when the Service port has none (`kubectl describe service`
/// dereferences it).
fn ports_for(svc: &Service, pod: Option<&Pod>, always_named: bool) -> Vec<PortOf> {
    svc.spec
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            let port = target_port(p, pod)?;
            let name = p.name.clone().unwrap_or_default();
            let name = (always_named || !name.is_empty()).then_some(name);
            Some((
                name,
                port,
                p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
            ))
        })
        .collect()
}

fn target_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".to_owned()),
        namespace: Some(pod.metadata.namespace.to_owned()),
        name: Some(pod.metadata.name.to_owned()),
        uid: Some(pod.metadata.uid.to_owned()),
        ..ObjectReference::default()
    }
}

/// Creates `desired`, or brings `current` to it: its other top-level fields, and of its
/// metadata the labels and ownerReferences; stamps the change time when anything moves.
fn upsert(
    store: &Store,
    key: &ResKey,
    current: Option<&Value>,
    desired: Value,
) -> Result<(), StoreError> {
    let stamp = |object: &mut Value| {
        meta::set_annotation(object, TRIGGER_TIME, &meta::now_rfc3339());
    };
    let Some(cur) = current else {
        let mut desired = desired;
        stamp(&mut desired);
        return store.create(key, desired).map(|_| ());
    };
    let mut next = cur.clone();
    meta::copy_managed(&desired, &mut next);
    if let (Some(n), Some(d)) = (next.as_object_mut(), desired.as_object()) {
        for (k, v) in d.iter().filter(|(k, _)| *k != "metadata") {
            n.insert(k.clone(), v.clone());
        }
        // An Endpoints object without addresses has no subsets at all.
        if !d.contains_key("subsets") {
            n.remove("subsets");
        }
    }
    if next != *cur {
        stamp(&mut next);
        store.update(key, next)?;
    }
    Ok(())
}

impl EndpointsController {
    fn sync(
        &self,
        store: &Store,
        svc: &Service,
        pods: &[Viewed<Pod>],
        slices: &[Viewed<crate::sandbox::objects::Any>],
    ) -> Result<(), StoreError> {
        let Some(selector) = svc.spec.selector.as_ref().filter(|s| !s.is_empty()) else {
            return Ok(());
        };
        let selector = LabelSelector::from_map(selector);
        let ns = svc.metadata.namespace;
        let name = svc.metadata.name;
        let mut selected: Vec<&Pod> = pods
            .iter()
            .map(|p| &p.view)
            .filter(|p| p.metadata.namespace == ns)
            .filter(|p| selector.matches(&p.metadata.labels))
            .filter(|p| !pod_ip(p).is_empty())
            .filter(|p| !pod_finished(p))
            .collect();
        selected.sort_by_key(|p| pod_ip(p));
        let publish_not_ready = svc.spec.publish_not_ready_addresses == Some(true);
        let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
        for p in selected.iter().filter(|p| !p.metadata.is_terminating()) {
            let addr = EndpointAddress {
                ip: pod_ip(p).to_owned(),
                node_name: Some(p.spec.node_name.to_owned()),
                target_ref: Some(target_ref(p)),
                hostname: None,
            };
            if pod_ready(p) || publish_not_ready {
                ready.push(addr);
            } else {
                not_ready.push(addr);
            }
        }
        let first = selected.first().copied();
        let mut labels = owned_map(&svc.metadata.labels);
        let mut endpoints_labels = labels.clone();
        endpoints_labels.insert(
            ENDPOINTS_MANAGED_BY.0.to_owned(),
            ENDPOINTS_MANAGED_BY.1.to_owned(),
        );
        let subsets = (!ready.is_empty() || !not_ready.is_empty()).then(|| {
            let ports = ports_for(svc, first, false)
                .into_iter()
                .map(|(name, port, protocol)| EndpointPort {
                    name,
                    port,
                    protocol: Some(protocol),
                    app_protocol: None,
                })
                .collect();
            vec![EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: Some(ports),
            }]
        });
        let ep = Endpoints {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(ns.to_owned()),
                labels: Some(endpoints_labels),
                ..ObjectMeta::default()
            },
            subsets,
        };
        let current = store.get(&ResKey::endpoints(), ns, name);
        upsert(store, &ResKey::endpoints(), current.as_ref(), to_json(&ep))?;

        labels.insert(SERVICE_NAME_LABEL.to_owned(), name.to_owned());
        labels.insert(MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned());
        let endpoints: Vec<Endpoint> = selected
            .iter()
            .map(|p| {
                let terminating = p.metadata.is_terminating();
                let r = pod_ready(p);
                Endpoint {
                    addresses: vec![pod_ip(p).to_owned()],
                    conditions: Some(EndpointConditions {
                        ready: Some(r && !terminating),
                        serving: Some(r),
                        terminating: Some(terminating),
                    }),
                    node_name: Some(p.spec.node_name.to_owned()),
                    target_ref: Some(target_ref(p)),
                    ..Endpoint::default()
                }
            })
            .collect();
        let mut ours: Vec<&Viewed<crate::sandbox::objects::Any>> = slices
            .iter()
            .filter(|s| s.metadata.namespace == ns)
            .filter(|s| s.metadata.label(SERVICE_NAME_LABEL) == Some(name))
            .filter(|s| s.metadata.label(MANAGED_BY_LABEL) == Some(MANAGED_BY))
            .collect();
        ours.sort_by_key(|s| s.metadata.name);
        let slice_name = ours
            .first()
            .map(|s| s.metadata.name.to_owned())
            .unwrap_or_else(|| format!("{name}-{}", meta::random_suffix(5)));
        let slice = EndpointSlice {
            metadata: ObjectMeta {
                name: Some(slice_name),
                namespace: Some(ns.to_owned()),
                generate_name: Some(format!("{name}-")),
                labels: Some(labels),
                owner_references: Some(vec![meta::controller_of("v1", "Service", &svc.metadata)]),
                ..ObjectMeta::default()
            },
            address_type: "IPv4".to_owned(),
            endpoints: Some(endpoints),
            ports: Some(
                ports_for(svc, first, true)
                    .into_iter()
                    .map(|(name, port, protocol)| SlicePort {
                        name,
                        port: Some(port),
                        protocol: Some(protocol),
                        app_protocol: None,
                    })
                    .collect(),
            ),
        };
        let current = ours.first().map(|s| s.json);
        upsert(store, &ResKey::endpointslices(), current, to_json(&slice))?;
        for extra in ours.iter().skip(1) {
            let _ = store.delete(
                &ResKey::endpointslices(),
                ns,
                extra.metadata.name,
                &DeleteOpts::default(),
            );
        }
        Ok(())
    }
}

impl Reconciler for EndpointsController {
    fn reconcile(&mut self, store: &Store) {
        let (services, _) = store.list_arc(&ResKey::services(), None);
        let (pods, _) = store.list_arc(&ResKey::pods(), None);
        let (slices, _) = store.list_arc(&ResKey::endpointslices(), None);
        let services: Vec<Service> = services.iter().map(|s| view_of(s)).collect();
        let pods: Vec<Viewed<Pod>> = pods.iter().map(|p| Viewed::of(p)).collect();
        let slices: Vec<Viewed<crate::sandbox::objects::Any>> =
            slices.iter().map(|s| Viewed::of(s)).collect();
        for svc in &services {
            if let Err(e) = self.sync(store, svc, &pods, &slices) {
                tracing::debug!("endpoints of {} not synced yet: {e}", svc.metadata.name);
            }
        }
        // Endpoints of deleted Services go too (slices follow their owner through the GC).
        let (eps, _) = store.list_arc(&ResKey::endpoints(), None);
        for ep in &eps {
            let ep = Meta::of(ep);
            let gone = !services
                .iter()
                .any(|s| s.metadata.namespace == ep.namespace && s.metadata.name == ep.name);
            if gone && ep.name != "kubernetes" {
                let _ = store.delete(
                    &ResKey::endpoints(),
                    ep.namespace,
                    ep.name,
                    &DeleteOpts::default(),
                );
            }
        }
    }
}
