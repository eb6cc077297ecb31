//! `kind: rollout_stuck`: a rollout to an image is stuck because the image cannot be pulled.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rollout::{DeploymentFacts, missing, pod_runs, pod_state, pull_failure};
use super::{GoalKind, GoalLint};
use crate::check::involved::{Involved, involve_deployment};
use crate::check::requirements::{WatchSpec, deployments_spec, pods_spec};
use crate::check::world::World;
use crate::check::{Difference, GoalContext, GoalStatus};

/// `kind: rollout_stuck`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutStuckGoal {
    /// Deployment name.
    pub deployment: String,
    /// The image that cannot be pulled.
    pub image: String,
    /// Message shown to the learner while the goal does not hold.
    #[serde(default)]
    pub explain_failure: Option<String>,
}

impl GoalKind for RolloutStuckGoal {
    fn kind_name(&self) -> &'static str {
        "rollout_stuck"
    }

    fn explain_failure(&self) -> Option<&str> {
        self.explain_failure.as_deref()
    }

    fn lint(&self, lint: &mut dyn GoalLint) {
        lint.deployment_name("deployment", &self.deployment);
        lint.image("image", &self.image);
    }

    fn expected_image(&self) -> Option<&str> {
        Some(&self.image)
    }

    fn image_meant_to_fail(&self) -> Option<&str> {
        Some(&self.image)
    }

    fn requirements(&self, ns: &str) -> Vec<WatchSpec> {
        vec![deployments_spec(ns), pods_spec(ns)]
    }

    fn evaluate(&self, world: &World, ctx: &GoalContext) -> GoalStatus {
        let name = &self.deployment;
        let Some(facts) = DeploymentFacts::load(world, &ctx.namespace, name) else {
            return missing(name, self.expected_image(), world, ctx);
        };
        if let Err(status) = facts.check_image(&self.image, None) {
            return status;
        }
        if facts.rollout_progress().is_ok() && !facts.deadline_exceeded() {
            return GoalStatus::differs(
                format!(
                    "deployment {name} rolled out {} successfully; expected it to be stuck",
                    self.image
                ),
                Difference::new(format!("rollout of deployment {name}"), "stuck", "complete"),
            );
        }
        let stuck = facts.live_pods().find_map(|p| {
            pull_failure(p, &self.image).map(|r| (p.metadata.name.clone().unwrap_or_default(), r))
        });
        if let Some((pod, reason)) = stuck {
            return GoalStatus::met(format!(
                "deployment {name} is stuck: pod {pod} cannot pull {} ({reason})",
                self.image
            ));
        }
        if facts.deadline_exceeded() {
            return GoalStatus::met(format!(
                "deployment {name} is stuck: its rollout exceeded the progress deadline"
            ));
        }
        let waiting = facts
            .live_pods()
            .find(|p| pod_runs(p, &self.image, None))
            .map(|p| {
                format!(
                    "; pod {} is {}",
                    p.metadata.name.as_deref().unwrap_or("?"),
                    pod_state(p)
                )
            })
            .unwrap_or_else(|| format!("; no pod runs {} yet", self.image));
        GoalStatus::unmet(format!(
            "deployment {name}: no pod has failed to pull {} yet{waiting}",
            self.image
        ))
    }

    fn involved(&self, world: &World, ns: &str) -> Involved {
        let mut involved = Involved::default();
        involve_deployment(&mut involved, world, ns, &self.deployment);
        involved
    }
}
