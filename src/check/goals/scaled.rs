//! `kind: scaled`: a Deployment runs exactly N ready replicas, with no extra pods left over.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rollout::{DeploymentFacts, missing};
use super::{GoalKind, GoalLint};
use crate::check::involved::{Involved, involve_deployment};
use crate::check::requirements::{WatchSpec, deployments_spec, pods_spec};
use crate::check::world::World;
use crate::check::{Difference, GoalContext, GoalStatus};

/// `kind: scaled`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaledGoal {
    /// Deployment name.
    pub deployment: String,
    /// Replicas required in spec and status, with no extra pods left.
    pub replicas: u32,
    /// Message shown to the learner while the goal does not hold.
    #[serde(default)]
    pub explain_failure: Option<String>,
}

impl GoalKind for ScaledGoal {
    fn kind_name(&self) -> &'static str {
        "scaled"
    }

    fn explain_failure(&self) -> Option<&str> {
        self.explain_failure.as_deref()
    }

    fn lint(&self, lint: &mut dyn GoalLint) {
        lint.deployment_name("deployment", &self.deployment);
        if self.replicas > 100 {
            let message = format!(
                "{} replicas is more than a practice cluster can run",
                self.replicas
            );
            lint.warn("replicas", message, None);
        }
    }

    fn expected_replicas(&self) -> Option<u32> {
        Some(self.replicas)
    }

    fn requirements(&self, ns: &str) -> Vec<WatchSpec> {
        vec![deployments_spec(ns), pods_spec(ns)]
    }

    fn evaluate(&self, world: &World, ctx: &GoalContext) -> GoalStatus {
        let name = &self.deployment;
        let Some(facts) = DeploymentFacts::load(world, &ctx.namespace, name) else {
            return missing(name, self.expected_image(), world, ctx);
        };
        let want = i64::from(self.replicas);
        let spec = i64::from(facts.spec_replicas());
        if spec != want {
            return GoalStatus::differs(
                format!("deployment {name} asks for {spec} replicas, expected {want}"),
                Difference::new(format!("spec.replicas of deployment {name}"), want, spec),
            );
        }
        let (replicas, updated, ready, _) = facts.status_counts();
        let (replicas, updated, ready) =
            (i64::from(replicas), i64::from(updated), i64::from(ready));
        if ready < want {
            let why = facts.first_unready_pod().unwrap_or_default();
            return GoalStatus::differs(
                format!("deployment {name}: {ready}/{want} replicas ready{why}"),
                Difference::new(format!("ready replicas of deployment {name}"), want, ready),
            );
        }
        if replicas != want || ready != want || updated != want {
            return GoalStatus::differs(
                format!(
                    "deployment {name}: {replicas} replicas ({updated} up to date, {ready} ready), expected {want}"
                ),
                Difference::new(
                    format!("status.replicas of deployment {name}"),
                    want,
                    replicas,
                ),
            );
        }
        let live = i64::try_from(facts.live_pods().count()).unwrap_or(i64::MAX);
        if live != want {
            return GoalStatus::differs(
                format!("deployment {name}: {live} pods running, expected {want}"),
                Difference::new(format!("pods of deployment {name}"), want, live),
            );
        }
        let terminating: Vec<&str> = facts
            .pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_some())
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        if !terminating.is_empty() {
            return GoalStatus::differs(
                format!(
                    "deployment {name}: {want} replicas ready, {} extra pods still terminating ({})",
                    terminating.len(),
                    terminating.join(", ")
                ),
                Difference::new(
                    format!("terminating pods of deployment {name}"),
                    0,
                    terminating.len(),
                ),
            );
        }
        GoalStatus::met(format!("deployment {name}: {want}/{want} replicas ready"))
    }

    fn involved(&self, world: &World, ns: &str) -> Involved {
        let mut involved = Involved::default();
        involve_deployment(&mut involved, world, ns, &self.deployment);
        involved
    }
}
