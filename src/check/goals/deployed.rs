//! `kind: deployed`: a Deployment runs an image with enough ready replicas.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rollout::{DeploymentFacts, missing, pod_ready, pod_runs};
use super::{GoalKind, GoalLint};
use crate::check::involved::{Involved, involve_deployment};
use crate::check::requirements::{WatchSpec, deployments_spec, pods_spec};
use crate::check::world::World;
use crate::check::{Difference, GoalContext, GoalStatus};

/// `kind: deployed`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployedGoal {
    /// Deployment name.
    pub deployment: String,
    /// Image the deployment's pods must run.
    pub image: String,
    /// Container that must run the image; any container when omitted.
    #[serde(default)]
    pub container: Option<String>,
    /// Ready replicas required.
    #[serde(default = "one")]
    pub ready: u32,
    /// Message shown to the learner while the goal does not hold.
    #[serde(default)]
    pub explain_failure: Option<String>,
}

fn one() -> u32 {
    1
}

impl GoalKind for DeployedGoal {
    fn kind_name(&self) -> &'static str {
        "deployed"
    }

    fn explain_failure(&self) -> Option<&str> {
        self.explain_failure.as_deref()
    }

    fn lint(&self, lint: &mut dyn GoalLint) {
        lint.deployment_name("deployment", &self.deployment);
        lint.image("image", &self.image);
        lint.container("container", self.container.as_deref());
        if self.ready == 0 {
            lint.warn(
                "ready",
                "`ready: 0` holds even when no pod runs".to_owned(),
                Some("require at least one ready replica".to_owned()),
            );
        }
    }

    fn expected_image(&self) -> Option<&str> {
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
        if let Err(status) = facts.check_image(&self.image, self.container.as_deref()) {
            return status;
        }
        let want = i64::from(self.ready);
        let (_, _, ready_replicas, _) = facts.status_counts();
        let ready_pods = facts
            .live_pods()
            .filter(|p| pod_ready(p) && pod_runs(p, &self.image, self.container.as_deref()))
            .count();
        let ready_pods = i64::try_from(ready_pods).unwrap_or(i64::MAX);
        let ready = ready_pods.min(i64::from(ready_replicas));
        if ready >= want {
            return GoalStatus::met(format!(
                "deployment {name}: {ready} ready {} running {}",
                if ready == 1 { "replica" } else { "replicas" },
                self.image
            ));
        }
        let why = facts.first_unready_pod().unwrap_or_default();
        GoalStatus::differs(
            format!(
                "deployment {name}: {ready}/{want} replicas ready on {}{why}",
                self.image
            ),
            Difference::new(format!("ready replicas of deployment {name}"), want, ready),
        )
    }

    fn involved(&self, world: &World, ns: &str) -> Involved {
        let mut involved = Involved::default();
        involve_deployment(&mut involved, world, ns, &self.deployment);
        involved
    }
}
