//! `kind: exposed`: a Service of the right type and port selects a Deployment's pods and has
//! ready endpoints.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::service::{ready_endpoints, render_labels};
use super::{GoalKind, GoalLint};
use crate::check::involved::{Involved, involve_deployment, object};
use crate::check::requirements::{WatchSpec, deployments_spec, service_specs};
use crate::check::world::World;
use crate::check::{Difference, GoalContext, GoalStatus};
use crate::lesson::model::ServiceType;

/// `kind: exposed`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExposedGoal {
    /// Service name; defaults to the deployment's name.
    #[serde(default)]
    pub service: Option<String>,
    /// Deployment whose pods the Service must select.
    pub deployment: String,
    /// Service type required.
    #[serde(rename = "type")]
    pub service_type: ServiceType,
    /// Service port required.
    pub port: u16,
    /// Message shown to the learner while the goal does not hold.
    #[serde(default)]
    pub explain_failure: Option<String>,
}

impl ExposedGoal {
    /// The Service name, defaulting to the deployment's.
    pub fn service_name(&self) -> &str {
        self.service.as_deref().unwrap_or(&self.deployment)
    }
}

impl GoalKind for ExposedGoal {
    fn kind_name(&self) -> &'static str {
        "exposed"
    }

    fn explain_failure(&self) -> Option<&str> {
        self.explain_failure.as_deref()
    }

    fn lint(&self, lint: &mut dyn GoalLint) {
        lint.deployment_name("deployment", &self.deployment);
        match &self.service {
            Some(service) => lint.service_name("service", service),
            // The Service is named after the Deployment: that name must also be a Service's.
            None => lint.service_name("deployment", &self.deployment),
        }
        lint.port("port", self.port);
    }

    fn requirements(&self, ns: &str) -> Vec<WatchSpec> {
        let mut specs = service_specs(self.service_name(), ns);
        specs.push(deployments_spec(ns));
        specs
    }

    fn evaluate(&self, world: &World, ctx: &GoalContext) -> GoalStatus {
        let name = self.service_name();
        let ns = &ctx.namespace;
        let Some(service) = world.service(ns, name) else {
            return GoalStatus::differs(
                format!("no Service named {name} in namespace {ns}"),
                Difference::new(format!("Service {name}"), "exists", "missing"),
            );
        };
        let spec = service.spec.clone().unwrap_or_default();
        let actual_type = spec.type_.clone().unwrap_or_else(|| "ClusterIP".to_owned());
        let wanted_type = self.service_type.as_str();
        if actual_type != wanted_type {
            return GoalStatus::differs(
                format!("Service {name} is {actual_type}, expected {wanted_type}"),
                Difference::new(format!("type of Service {name}"), wanted_type, actual_type),
            );
        }
        let ports: Vec<i32> = spec.ports.iter().flatten().map(|p| p.port).collect();
        if !ports.contains(&i32::from(self.port)) {
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
                    self.port
                ),
                Difference::new(format!("ports of Service {name}"), self.port, actual),
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
        let Some(deployment) = world.deployment(ns, &self.deployment) else {
            return GoalStatus::differs(
                format!("no Deployment named {} in namespace {ns}", self.deployment),
                Difference::new(
                    format!("Deployment {}", self.deployment),
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
                    self.deployment,
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
            self.port,
            if ready == 1 { "" } else { "s" }
        ))
    }

    fn involved(&self, world: &World, ns: &str) -> Involved {
        let mut involved = Involved::default();
        involved
            .objects
            .push(object("Service", self.service_name()));
        involve_deployment(&mut involved, world, ns, &self.deployment);
        involved
    }
}
