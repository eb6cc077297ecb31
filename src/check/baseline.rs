//! What was true when a step began, for goals about change (`updated`, `rolled_back`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check::goals::rollout::{DeploymentFacts, revision};
use crate::check::world::World;
use crate::lesson::model::Goal;

/// A Deployment as it was when the step began.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentBaseline {
    /// Its `deployment.kubernetes.io/revision` annotation, if set yet.
    pub revision: Option<u64>,
    /// Its pod template's images, by container name.
    pub images: BTreeMap<String, String>,
    /// Its ReplicaSets (by name) with their revisions: a rollback brings one of them back.
    pub replica_sets: BTreeMap<String, Option<u64>>,
}

/// The cluster as it was when the step began: one entry per Deployment a history-aware goal
/// names and that existed then (absent ones have no entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// Deployments by name.
    pub deployments: BTreeMap<String, DeploymentBaseline>,
}

impl Baseline {
    /// Records what the history-aware goals among `goals` will compare against.
    pub fn capture(world: &World, goals: &[Goal], namespace: &str) -> Self {
        let mut deployments = BTreeMap::new();
        for goal in goals {
            let Some(name) = goal.kind().baseline_deployment() else {
                continue;
            };
            if let Some(facts) = DeploymentFacts::load(world, namespace, name) {
                let replica_sets = facts
                    .replica_sets
                    .iter()
                    .filter_map(|rs| Some((rs.metadata.name.clone()?, revision(&rs.metadata))))
                    .collect();
                deployments.insert(
                    name.to_owned(),
                    DeploymentBaseline {
                        revision: revision(&facts.deployment.metadata),
                        images: facts.template_images().into_iter().collect(),
                        replica_sets,
                    },
                );
            }
        }
        Baseline { deployments }
    }
}
