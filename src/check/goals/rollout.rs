//! Deployment goals: `deployed`, `scaled`, `updated`, `rolled_back`, `rollout_stuck`.
//!
//! "Rollout complete" follows kubectl's `rollout status` (`polymorphichelpers/rollout_status.go`):
//! the spec change is observed, every replica is updated, no old replica remains and every
//! updated replica is available.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::check::world::World;
use crate::check::{Difference, GoalContext, GoalStatus};
pub use crate::k8s::pod::pod_ready;
use crate::k8s::selector::LabelSelector;
use crate::lesson::model::{
    DeployedGoal, RolledBackGoal, RolloutStuckGoal, ScaledGoal, UpdatedGoal,
};

/// The annotation the deployment controller stamps on Deployments and their ReplicaSets.
const REVISION: &str = "deployment.kubernetes.io/revision";
/// The annotation listing the revisions a reused ReplicaSet had before (set on rollback).
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// Container waiting reasons that mean "the image cannot be pulled".
const PULL_FAILURES: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];

/// The revision recorded in an object's annotations.
pub(crate) fn revision(meta: &ObjectMeta) -> Option<u64> {
    meta.annotations.as_ref()?.get(REVISION)?.parse().ok()
}

/// A Deployment with the ReplicaSets it owns and the pods it selects.
pub(crate) struct DeploymentFacts {
    pub(crate) name: String,
    pub(crate) deployment: Deployment,
    pub(crate) replica_sets: Vec<ReplicaSet>,
    /// Pods its selector matches, terminating ones included.
    pub(crate) pods: Vec<Pod>,
}

impl DeploymentFacts {
    /// Gathers the facts, or `None` when the Deployment does not exist.
    pub(crate) fn load(world: &World, namespace: &str, name: &str) -> Option<Self> {
        let deployment = world.deployment(namespace, name)?;
        let uid = deployment.metadata.uid.clone();
        let selector = LabelSelector::from_k8s(&deployment.spec.selector)
            .ok()
            // An empty selector would match every pod; the API server rejects it anyway.
            .filter(|s| !s.is_empty());
        let pods = match &selector {
            Some(selector) => world
                .pods(namespace)
                .into_iter()
                .filter(|p| {
                    selector.matches(p.metadata.labels.as_ref().unwrap_or(&Default::default()))
                })
                .collect(),
            None => Vec::new(),
        };
        let replica_sets = world
            .replica_sets(namespace)
            .into_iter()
            .filter(|rs| {
                rs.metadata.owner_references.iter().flatten().any(|o| {
                    o.kind == "Deployment"
                        && o.name == name
                        && (uid.is_none() || o.uid.is_empty() || Some(&o.uid) == uid.as_ref())
                })
            })
            .collect();
        Some(DeploymentFacts {
            name: name.to_owned(),
            deployment,
            replica_sets,
            pods,
        })
    }

    /// (container name, image) for each container of the pod template.
    pub(crate) fn template_images(&self) -> Vec<(String, String)> {
        containers_of(self.deployment.spec.template.spec.as_ref())
    }

    /// Whether the template runs `image` (in `container` when given); otherwise the status
    /// saying what it runs instead.
    fn check_image(&self, image: &str, container: Option<&str>) -> Result<(), GoalStatus> {
        let images = self.template_images();
        let name = &self.name;
        match container {
            Some(wanted) => match images.iter().find(|(c, _)| c == wanted) {
                Some((_, actual)) if actual == image => Ok(()),
                Some((_, actual)) => Err(GoalStatus::differs(
                    format!(
                        "container {wanted} of deployment {name} runs {actual}, expected {image}"
                    ),
                    Difference::new(format!("image of container {wanted}"), image, actual),
                )),
                None => {
                    let names: Vec<&str> = images.iter().map(|(c, _)| c.as_str()).collect();
                    Err(GoalStatus::differs(
                        format!(
                            "deployment {name} has no container named {wanted} (it has {})",
                            names.join(", ")
                        ),
                        Difference::new("container", wanted, names.join(", ")),
                    ))
                }
            },
            None if images.iter().any(|(_, actual)| actual == image) => Ok(()),
            None => {
                let actual: Vec<&str> = images.iter().map(|(_, i)| i.as_str()).collect();
                let actual = if actual.is_empty() {
                    "no container".to_owned()
                } else {
                    actual.join(", ")
                };
                Err(GoalStatus::differs(
                    format!("deployment {name} runs {actual}, expected {image}"),
                    Difference::new(format!("image of deployment {name}"), image, actual),
                ))
            }
        }
    }

    fn spec_replicas(&self) -> i32 {
        self.deployment.spec.replicas.unwrap_or(1)
    }

    /// `(replicas, updated, ready, available)` from the status.
    fn status_counts(&self) -> (i32, i32, i32, i32) {
        let s = self.deployment.status.clone().unwrap_or_default();
        (
            s.replicas.unwrap_or(0),
            s.updated_replicas.unwrap_or(0),
            s.ready_replicas.unwrap_or(0),
            s.available_replicas.unwrap_or(0),
        )
    }

    /// Whether the Progressing condition says the rollout ran out of time.
    fn deadline_exceeded(&self) -> bool {
        self.deployment
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| {
                c.type_.as_deref() == Some("Progressing")
                    && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
            })
    }

    /// kubectl's `rollout status` verdict: `Ok` when complete, else what it is waiting for.
    fn rollout_progress(&self) -> Result<(), String> {
        let name = &self.name;
        let generation = self.deployment.metadata.generation.unwrap_or(0);
        let observed = self
            .deployment
            .status
            .as_ref()
            .and_then(|s| s.observed_generation)
            .unwrap_or(0);
        if generation > observed {
            return Err(format!(
                "deployment {name}: waiting for the controller to see the change"
            ));
        }
        if self.deadline_exceeded() {
            return Err(format!("deployment {name} exceeded its progress deadline"));
        }
        let spec = self.spec_replicas();
        let (replicas, updated, _, available) = self.status_counts();
        if updated < spec {
            return Err(format!(
                "deployment {name}: rollout in progress, {updated} of {spec} new replicas updated"
            ));
        }
        if replicas > updated {
            return Err(format!(
                "deployment {name}: rollout in progress, {} old replicas pending termination",
                replicas - updated
            ));
        }
        if available < updated {
            return Err(format!(
                "deployment {name}: rollout in progress, {available} of {updated} updated replicas available"
            ));
        }
        Ok(())
    }

    /// Pods not being deleted.
    fn live_pods(&self) -> impl Iterator<Item = &Pod> {
        self.pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
    }

    /// The ReplicaSet for the current template: the one stamped with the Deployment's revision.
    fn current_replica_set(&self) -> Option<&ReplicaSet> {
        let wanted = revision(&self.deployment.metadata)?;
        self.replica_sets
            .iter()
            .find(|rs| revision(&rs.metadata) == Some(wanted))
    }

    /// "(pod web-x: ImagePullBackOff)" for the first live pod that is not ready, if any.
    fn first_unready_pod(&self) -> Option<String> {
        self.live_pods().find(|p| !pod_ready(p)).map(|p| {
            format!(
                " (pod {}: {})",
                p.metadata.name.as_deref().unwrap_or("?"),
                pod_state(p)
            )
        })
    }
}

/// (container name, image) for each container of a pod spec.
fn containers_of(spec: Option<&k8s_openapi::api::core::v1::PodSpec>) -> Vec<(String, String)> {
    spec.map(|s| {
        s.containers
            .iter()
            .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
            .collect()
    })
    .unwrap_or_default()
}

/// Whether a pod's spec runs `image` (in `container` when given).
fn pod_runs(pod: &Pod, image: &str, container: Option<&str>) -> bool {
    containers_of(pod.spec.as_ref())
        .iter()
        .any(|(c, i)| i == image && container.is_none_or(|wanted| wanted == c))
}

/// The pod's state in kubectl's words: a container's waiting or terminated reason wins over
/// the phase, and a pod being deleted is `Terminating`.
pub fn pod_state(pod: &Pod) -> String {
    if pod.metadata.deletion_timestamp.is_some() {
        return "Terminating".to_owned();
    }
    let status = pod.status.clone().unwrap_or_default();
    for cs in status.container_statuses.iter().flatten() {
        if let Some(state) = &cs.state {
            if let Some(reason) = state.waiting.as_ref().and_then(|w| w.reason.clone()) {
                return reason;
            }
            if let Some(reason) = state.terminated.as_ref().and_then(|t| t.reason.clone()) {
                return reason;
            }
        }
    }
    let phase = status.phase.unwrap_or_else(|| "Pending".to_owned());
    if phase == "Running" && !pod_ready(pod) {
        return "Running, not ready".to_owned();
    }
    phase
}

/// Why a pod cannot pull `image`, if that is its problem.
fn pull_failure(pod: &Pod, image: &str) -> Option<String> {
    let status = pod.status.as_ref()?;
    status.container_statuses.iter().flatten().find_map(|cs| {
        let reason = cs.state.as_ref()?.waiting.as_ref()?.reason.clone()?;
        let runs_image = pod_runs(pod, image, Some(&cs.name)) || cs.image == image;
        (runs_image && PULL_FAILURES.contains(&reason.as_str())).then_some(reason)
    })
}

fn missing(name: &str, ctx: &GoalContext) -> GoalStatus {
    GoalStatus::differs(
        format!("no Deployment named {name} in namespace {}", ctx.namespace),
        Difference::new(format!("Deployment {name}"), "exists", "missing"),
    )
}

/// `kind: deployed`.
pub(crate) fn deployed(goal: &DeployedGoal, world: &World, ctx: &GoalContext) -> GoalStatus {
    let name = &goal.deployment;
    let Some(facts) = DeploymentFacts::load(world, &ctx.namespace, name) else {
        return missing(name, ctx);
    };
    if let Err(status) = facts.check_image(&goal.image, goal.container.as_deref()) {
        return status;
    }
    let want = i64::from(goal.ready);
    let (_, _, ready_replicas, _) = facts.status_counts();
    let ready_pods = facts
        .live_pods()
        .filter(|p| pod_ready(p) && pod_runs(p, &goal.image, goal.container.as_deref()))
        .count();
    let ready_pods = i64::try_from(ready_pods).unwrap_or(i64::MAX);
    let ready = ready_pods.min(i64::from(ready_replicas));
    if ready >= want {
        return GoalStatus::met(format!(
            "deployment {name}: {ready} ready {} running {}",
            if ready == 1 { "replica" } else { "replicas" },
            goal.image
        ));
    }
    let why = facts.first_unready_pod().unwrap_or_default();
    GoalStatus::differs(
        format!(
            "deployment {name}: {ready}/{want} replicas ready on {}{why}",
            goal.image
        ),
        Difference::new(format!("ready replicas of deployment {name}"), want, ready),
    )
}

/// `kind: scaled`.
pub(crate) fn scaled(goal: &ScaledGoal, world: &World, ctx: &GoalContext) -> GoalStatus {
    let name = &goal.deployment;
    let Some(facts) = DeploymentFacts::load(world, &ctx.namespace, name) else {
        return missing(name, ctx);
    };
    let want = i64::from(goal.replicas);
    let spec = i64::from(facts.spec_replicas());
    if spec != want {
        return GoalStatus::differs(
            format!("deployment {name} asks for {spec} replicas, expected {want}"),
            Difference::new(format!("spec.replicas of deployment {name}"), want, spec),
        );
    }
    let (replicas, updated, ready, _) = facts.status_counts();
    let (replicas, updated, ready) = (i64::from(replicas), i64::from(updated), i64::from(ready));
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

/// Checks image and rollout completion shared by `updated` and `rolled_back`.
fn completed_on(
    facts: &DeploymentFacts,
    image: &str,
    container: Option<&str>,
) -> Result<(), GoalStatus> {
    facts.check_image(image, container)?;
    if let Err(progress) = facts.rollout_progress() {
        return Err(GoalStatus::unmet(progress));
    }
    let old: Vec<&str> = facts
        .live_pods()
        .filter(|p| !pod_runs(p, image, container))
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    if !old.is_empty() {
        return Err(GoalStatus::differs(
            format!(
                "deployment {}: {} old pods still running ({})",
                facts.name,
                old.len(),
                old.join(", ")
            ),
            Difference::new(
                format!("old pods of deployment {}", facts.name),
                0,
                old.len(),
            ),
        ));
    }
    Ok(())
}

/// `kind: updated`.
pub(crate) fn updated(goal: &UpdatedGoal, world: &World, ctx: &GoalContext) -> GoalStatus {
    let name = &goal.deployment;
    let Some(facts) = DeploymentFacts::load(world, &ctx.namespace, name) else {
        return missing(name, ctx);
    };
    let container = goal.container.as_deref();
    if let Err(status) = facts.check_image(&goal.image, container) {
        return status;
    }
    if let Some(before) = ctx.baseline.deployments.get(name) {
        let had_image = before
            .images
            .iter()
            .any(|(c, i)| *i == goal.image && container.is_none_or(|w| w == c));
        let newer = match (revision(&facts.deployment.metadata), before.revision) {
            (Some(now), Some(then)) => now > then,
            _ => false,
        };
        if had_image && !newer {
            return GoalStatus::differs(
                format!(
                    "deployment {name} already ran {} when the step began; no new rollout yet",
                    goal.image
                ),
                Difference::new(
                    format!("rollouts of deployment {name} since the step began"),
                    1,
                    0,
                ),
            );
        }
    }
    match completed_on(&facts, &goal.image, container) {
        Ok(()) => GoalStatus::met(format!("deployment {name}: rolled out {}", goal.image)),
        Err(status) => status,
    }
}

/// `kind: rolled_back`.
pub(crate) fn rolled_back(goal: &RolledBackGoal, world: &World, ctx: &GoalContext) -> GoalStatus {
    let name = &goal.deployment;
    let Some(facts) = DeploymentFacts::load(world, &ctx.namespace, name) else {
        return missing(name, ctx);
    };
    if let Err(status) = facts.check_image(&goal.image, None) {
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
    match completed_on(&facts, &goal.image, None) {
        Ok(()) => GoalStatus::met(format!(
            "deployment {name}: rolled back to {} (revision {})",
            goal.image,
            now.unwrap_or(0)
        )),
        Err(status) => status,
    }
}

/// `kind: rollout_stuck`.
pub(crate) fn rollout_stuck(
    goal: &RolloutStuckGoal,
    world: &World,
    ctx: &GoalContext,
) -> GoalStatus {
    let name = &goal.deployment;
    let Some(facts) = DeploymentFacts::load(world, &ctx.namespace, name) else {
        return missing(name, ctx);
    };
    if let Err(status) = facts.check_image(&goal.image, None) {
        return status;
    }
    if facts.rollout_progress().is_ok() && !facts.deadline_exceeded() {
        return GoalStatus::differs(
            format!(
                "deployment {name} rolled out {} successfully; expected it to be stuck",
                goal.image
            ),
            Difference::new(format!("rollout of deployment {name}"), "stuck", "complete"),
        );
    }
    let stuck = facts.live_pods().find_map(|p| {
        pull_failure(p, &goal.image).map(|r| (p.metadata.name.clone().unwrap_or_default(), r))
    });
    if let Some((pod, reason)) = stuck {
        return GoalStatus::met(format!(
            "deployment {name} is stuck: pod {pod} cannot pull {} ({reason})",
            goal.image
        ));
    }
    if facts.deadline_exceeded() {
        return GoalStatus::met(format!(
            "deployment {name} is stuck: its rollout exceeded the progress deadline"
        ));
    }
    let waiting = facts
        .live_pods()
        .find(|p| pod_runs(p, &goal.image, None))
        .map(|p| {
            format!(
                "; pod {} is {}",
                p.metadata.name.as_deref().unwrap_or("?"),
                pod_state(p)
            )
        })
        .unwrap_or_else(|| format!("; no pod runs {} yet", goal.image));
    GoalStatus::unmet(format!(
        "deployment {name}: no pod has failed to pull {} yet{waiting}",
        goal.image
    ))
}
