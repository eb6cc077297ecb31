//! What the Deployment goals (`deployed`, `scaled`, `updated`, `rolled_back`,
//! `rollout_stuck`) share: a Deployment's facts, its pods' states, rollout completion.
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
use crate::lesson::suggest::did_you_mean;

/// The annotation the deployment controller stamps on Deployments and their ReplicaSets.
const REVISION: &str = "deployment.kubernetes.io/revision";
/// The annotation listing the revisions a reused ReplicaSet had before (set on rollback).
pub(crate) const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
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
    pub(crate) fn check_image(
        &self,
        image: &str,
        container: Option<&str>,
    ) -> Result<(), GoalStatus> {
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

    pub(crate) fn spec_replicas(&self) -> i32 {
        self.deployment.spec.replicas.unwrap_or(1)
    }

    /// `(replicas, updated, ready, available)` from the status.
    pub(crate) fn status_counts(&self) -> (i32, i32, i32, i32) {
        let s = self.deployment.status.clone().unwrap_or_default();
        (
            s.replicas.unwrap_or(0),
            s.updated_replicas.unwrap_or(0),
            s.ready_replicas.unwrap_or(0),
            s.available_replicas.unwrap_or(0),
        )
    }

    /// Whether the Progressing condition says the rollout ran out of time.
    pub(crate) fn deadline_exceeded(&self) -> bool {
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
    pub(crate) fn rollout_progress(&self) -> Result<(), String> {
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
    pub(crate) fn live_pods(&self) -> impl Iterator<Item = &Pod> {
        self.pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
    }

    /// The ReplicaSet for the current template: the one stamped with the Deployment's revision.
    pub(crate) fn current_replica_set(&self) -> Option<&ReplicaSet> {
        let wanted = revision(&self.deployment.metadata)?;
        self.replica_sets
            .iter()
            .find(|rs| revision(&rs.metadata) == Some(wanted))
    }

    /// "(pod web-x: ImagePullBackOff)" for the first live pod that is not ready, if any.
    pub(crate) fn first_unready_pod(&self) -> Option<String> {
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
pub(crate) fn containers_of(
    spec: Option<&k8s_openapi::api::core::v1::PodSpec>,
) -> Vec<(String, String)> {
    spec.map(|s| {
        s.containers
            .iter()
            .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
            .collect()
    })
    .unwrap_or_default()
}

/// Whether a pod's spec runs `image` (in `container` when given).
pub(crate) fn pod_runs(pod: &Pod, image: &str, container: Option<&str>) -> bool {
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
pub(crate) fn pull_failure(pod: &Pod, image: &str) -> Option<String> {
    let status = pod.status.as_ref()?;
    status.container_statuses.iter().flatten().find_map(|cs| {
        let reason = cs.state.as_ref()?.waiting.as_ref()?.reason.clone()?;
        let runs_image = pod_runs(pod, image, Some(&cs.name)) || cs.image == image;
        (runs_image && PULL_FAILURES.contains(&reason.as_str())).then_some(reason)
    })
}

/// The goal's Deployment does not exist. A learner who mistyped its name has usually created
/// another one: name the closest that runs `image` (or, failing that, whose name is close), so
/// the summary points at what they did instead of only at what is missing.
pub(crate) fn missing(
    name: &str,
    image: Option<&str>,
    world: &World,
    ctx: &GoalContext,
) -> GoalStatus {
    let mut summary = format!("no Deployment named {name} in namespace {}", ctx.namespace);
    if let Some(nearby) = nearby_deployment(name, image, world, &ctx.namespace) {
        summary.push_str("; ");
        summary.push_str(&nearby);
    }
    GoalStatus::differs(
        summary,
        Difference::new(format!("Deployment {name}"), "exists", "missing"),
    )
}

/// "there is a Deployment `x` running this image; did you mean `name`?", or the same for a
/// Deployment whose name is a likely typo of `name`.
fn nearby_deployment(
    name: &str,
    image: Option<&str>,
    world: &World,
    namespace: &str,
) -> Option<String> {
    let others: Vec<(String, Vec<(String, String)>)> = world
        .deployments(namespace)
        .into_iter()
        .filter_map(|deployment| {
            let images = containers_of(deployment.spec.template.spec.as_ref());
            Some((deployment.metadata.name?, images))
        })
        .filter(|(other, _)| other != name)
        .collect();
    let runs_image = |images: &[(String, String)]| {
        image.is_some_and(|wanted| images.iter().any(|(_, actual)| actual == wanted))
    };
    let same_image: Vec<&str> = others
        .iter()
        .filter(|(_, images)| runs_image(images))
        .map(|(other, _)| other.as_str())
        .collect();
    let close = did_you_mean(name, others.iter().map(|(other, _)| other.as_str()));
    // A close name running the image beats either alone; one other Deployment running the
    // image is the learner's even when its name is far off.
    let (other, with_image) = match close {
        Some(close) if same_image.contains(&close) => (close, true),
        _ if same_image.len() == 1 => (same_image[0], true),
        Some(close) => (close, false),
        None => return None,
    };
    Some(if with_image {
        format!("there is a Deployment `{other}` running this image; did you mean `{name}`?")
    } else {
        format!("there is a Deployment `{other}`; did you mean `{name}`?")
    })
}

/// Checks image and rollout completion shared by `updated` and `rolled_back`.
pub(crate) fn completed_on(
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
