//! `kind: rolled_back`: after the step began, the Deployment returned to an earlier revision
//! and finished rolling out.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rollout::{DeploymentFacts, REVISION_HISTORY, completed_on, missing, revision};
use super::{GoalKind, GoalLint};
use crate::check::involved::{Involved, involve_deployment};
use crate::check::requirements::{WatchSpec, deployments_spec, pods_spec};
use crate::check::world::World;
use crate::check::{Difference, GoalContext, GoalStatus};

/// `kind: rolled_back`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolledBackGoal {
    /// Deployment name.
    pub deployment: String,
    /// Image the deployment must be back on.
    pub image: String,
    /// Message shown to the learner while the goal does not hold.
    #[serde(default)]
    pub explain_failure: Option<String>,
}

impl GoalKind for RolledBackGoal {
    fn kind_name(&self) -> &'static str {
        "rolled_back"
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

    fn baseline_deployment(&self) -> Option<&str> {
        Some(&self.deployment)
    }

    fn requirements(&self, ns: &str) -> Vec<WatchSpec> {
        vec![
            deployments_spec(ns),
            pods_spec(ns),
            WatchSpec::all("apps/v1", "ReplicaSet", ns),
        ]
    }

    fn evaluate(&self, world: &World, ctx: &GoalContext) -> GoalStatus {
        let name = &self.deployment;
        let Some(facts) = DeploymentFacts::load(world, &ctx.namespace, name) else {
            return missing(name, self.expected_image(), world, ctx);
        };
        if let Err(status) = facts.check_image(&self.image, None) {
            return status;
        }
        let Some(before) = ctx.baseline.deployments.get(name) else {
            return GoalStatus::unmet(format!(
                "deployment {name} did not exist when the step began, so it cannot have been rolled back"
            ));
        };
        let now = revision(&facts.deployment.metadata);
        let newer = matches!((now, before.revision), (Some(n), Some(t)) if n > t);
        if !newer {
            let at = before
                .revision
                .map_or_else(String::new, |r| format!(" (still at revision {r})"));
            return GoalStatus::differs(
                format!("deployment {name} has not been rolled back since the step began{at}"),
                Difference::new(
                    format!("revision of deployment {name}"),
                    format!("newer than {}", before.revision.unwrap_or(0)),
                    now.map_or_else(|| "none".to_owned(), |r| r.to_string()),
                ),
            );
        }
        let Some(current) = facts.current_replica_set() else {
            return GoalStatus::unmet(format!(
                "deployment {name}: waiting for the controller to settle on a ReplicaSet"
            ));
        };
        let current_name = current.metadata.name.clone().unwrap_or_default();
        let reused = before.replica_sets.contains_key(&current_name)
            || current
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(REVISION_HISTORY));
        if !reused {
            return GoalStatus::differs(
                format!(
                    "deployment {name} moved to a new template (ReplicaSet {current_name}), not back to an earlier one"
                ),
                Difference::new(
                    format!("ReplicaSet of deployment {name}"),
                    "one from an earlier revision",
                    current_name,
                ),
            );
        }
        match completed_on(&facts, &self.image, None) {
            Ok(()) => GoalStatus::met(format!(
                "deployment {name}: rolled back to {} (revision {})",
                self.image,
                now.unwrap_or(0)
            )),
            Err(status) => status,
        }
    }

    fn involved(&self, world: &World, ns: &str) -> Involved {
        let mut involved = Involved::default();
        involve_deployment(&mut involved, world, ns, &self.deployment);
        involved
    }
}
