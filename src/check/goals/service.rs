//! What the Service goals (`exposed`, `http`) share: endpoints, ports, labels.

use k8s_openapi::api::core::v1::Service;

use crate::check::world::World;

/// The label EndpointSlices carry to name their Service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Ready endpoint addresses of a Service: from its EndpointSlices (a missing `ready`
/// condition means ready, as the API documents) or, on clusters without them, its Endpoints.
pub(crate) fn ready_endpoints(world: &World, namespace: &str, service: &str) -> usize {
    let from_slices: usize = world
        .endpoint_slices(namespace)
        .iter()
        .filter(|s| {
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .is_some_and(|v| v == service)
        })
        .flat_map(|s| s.endpoints.iter().flatten())
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
        .map(|e| e.addresses.len())
        .sum();
    if from_slices > 0 {
        return from_slices;
    }
    world
        .endpoints(namespace, service)
        .and_then(|e| e.subsets)
        .into_iter()
        .flatten()
        .map(|s| s.addresses.map_or(0, |a| a.len()))
        .sum()
}

/// `a=1,b=2`, the way kubectl prints selectors.
pub(crate) fn render_labels(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The first port of a Service, used when an `http` goal names none.
pub(crate) fn first_port(service: &Service) -> Option<u16> {
    let port = service.spec.as_ref()?.ports.as_ref()?.first()?.port;
    u16::try_from(port).ok()
}
