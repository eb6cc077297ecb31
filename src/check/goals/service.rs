//! `kind: exposed`: a Service of the right type and port selects a Deployment's pods and has
//! ready endpoints.

use k8s_openapi::api::core::v1::Service;

use crate::check::world::World;
use crate::check::{Difference, GoalContext, GoalStatus};
use crate::lesson::model::ExposedGoal;

/// The label EndpointSlices carry to name their Service.
pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// `kind: exposed`.
pub(crate) fn exposed(goal: &ExposedGoal, world: &World, ctx: &GoalContext) -> GoalStatus {
    let name = goal.service_name();
    let ns = &ctx.namespace;
    let Some(service) = world.service(ns, name) else {
        return GoalStatus::differs(
            format!("no Service named {name} in namespace {ns}"),
            Difference::new(format!("Service {name}"), "exists", "missing"),
        );
    };
    let spec = service.spec.clone().unwrap_or_default();
    let actual_type = spec.type_.clone().unwrap_or_else(|| "ClusterIP".to_owned());
    let wanted_type = goal.service_type.as_str();
    if actual_type != wanted_type {
        return GoalStatus::differs(
            format!("Service {name} is {actual_type}, expected {wanted_type}"),
            Difference::new(format!("type of Service {name}"), wanted_type, actual_type),
        );
    }
    let ports: Vec<i32> = spec.ports.iter().flatten().map(|p| p.port).collect();
    if !ports.contains(&i32::from(goal.port)) {
        let actual = if ports.is_empty() {
            "no port".to_owned()
        } else {
            ports
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        return GoalStatus::differs(
            format!(
                "Service {name} listens on {actual}, expected port {}",
                goal.port
            ),
            Difference::new(format!("ports of Service {name}"), goal.port, actual),
        );
    }
    let selector = spec.selector.clone().unwrap_or_default();
    if selector.is_empty() {
        return GoalStatus::differs(
            format!("Service {name} has no selector, so it sends traffic to no pod"),
            Difference::new(
                format!("selector of Service {name}"),
                "the deployment's pod labels",
                "none",
            ),
        );
    }
    let Some(deployment) = world.deployment(ns, &goal.deployment) else {
        return GoalStatus::differs(
            format!("no Deployment named {} in namespace {ns}", goal.deployment),
            Difference::new(
                format!("Deployment {}", goal.deployment),
                "exists",
                "missing",
            ),
        );
    };
    let pod_labels = deployment
        .spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    // A Service selector is a plain map: it selects pods whose labels include all its pairs.
    if !selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)) {
        return GoalStatus::differs(
            format!(
                "Service {name} selects {}, which does not match the pods of deployment {} ({})",
                render_labels(&selector),
                goal.deployment,
                render_labels(&pod_labels)
            ),
            Difference::new(
                format!("selector of Service {name}"),
                render_labels(&pod_labels),
                render_labels(&selector),
            ),
        );
    }
    let ready = ready_endpoints(world, ns, name);
    if ready == 0 {
        return GoalStatus::differs(
            format!("Service {name} has no ready endpoints yet"),
            Difference::new(
                format!("ready endpoints of Service {name}"),
                "at least 1",
                0,
            ),
        );
    }
    GoalStatus::met(format!(
        "Service {name} ({wanted_type}, port {}) has {ready} ready endpoint{}",
        goal.port,
        if ready == 1 { "" } else { "s" }
    ))
}

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
fn render_labels(labels: &std::collections::BTreeMap<String, String>) -> String {
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
