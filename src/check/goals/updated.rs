//! `kind: updated`: a rollout to a new image completed after the step began.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rollout::{DeploymentFacts, completed_on, missing, revision};
use super::{GoalKind, GoalLint};
use crate::check::involved::{Involved, involve_deployment};
use crate::check::requirements::{WatchSpec, deployments_spec, pods_spec};
use crate::check::world::World;
use crate::check::{Difference, GoalContext, GoalStatus};

/// `kind: updated`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatedGoal {
    /// Deployment name.
    pub deployment: String,
    /// Image the completed rollout must run.
    pub image: String,
    /// Container that must run the image; any container when omitted.
    #[serde(default)]
    pub container: Option<String>,
    /// Message shown to the learner while the goal does not hold.
    #[serde(default)]
    pub explain_failure: Option<String>,
}

impl GoalKind for UpdatedGoal {
    fn kind_name(&self) -> &'static str {
        "updated"
    }

    fn explain_failure(&self) -> Option<&str> {
        self.explain_failure.as_deref()
    }

    fn lint(&self, lint: &mut dyn GoalLint) {
        lint.deployment_name("deployment", &self.deployment);
        lint.image("image", &self.image);
        lint.container("container", self.container.as_deref());
    }

    fn expected_image(&self) -> Option<&str> {
        Some(&self.image)
    }

    fn baseline_deployment(&self) -> Option<&str> {
        Some(&self.deployment)
    }

    fn requirements(&self, ns: &str) -> Vec<WatchSpec> {
        vec![deployments_spec(ns), pods_spec(ns)]
    }

    fn evaluate(&self, world: &World, ctx: &GoalContext) -> GoalStatus {
        let name = &self.deployment;
        let Some(facts) = DeploymentFacts::load(world, &ctx.namespace, name) else {
            return missing(name, self.expected_image(), world, ctx);
        };
        let container = self.container.as_deref();
        if let Err(status) = facts.check_image(&self.image, container) {
            return status;
        }
        if let Some(before) = ctx.baseline.deployments.get(name) {
            let had_image = before
                .images
                .iter()
                .any(|(c, i)| *i == self.image && container.is_none_or(|w| w == c));
            let newer = match (revision(&facts.deployment.metadata), before.revision) {
                (Some(now), Some(then)) => now > then,
                _ => false,
            };
            if had_image && !newer {
                return GoalStatus::differs(
                    format!(
                        "deployment {name} already ran {} when the step began; no new rollout yet",
                        self.image
                    ),
                    Difference::new(
                        format!("rollouts of deployment {name} since the step began"),
                        1,
                        0,
                    ),
                );
            }
        }
        match completed_on(&facts, &self.image, container) {
            Ok(()) => GoalStatus::met(format!("deployment {name}: rolled out {}", self.image)),
            Err(status) => status,
        }
    }

    fn involved(&self, world: &World, ns: &str) -> Involved {
        let mut involved = Involved::default();
        involve_deployment(&mut involved, world, ns, &self.deployment);
        involved
    }
}
