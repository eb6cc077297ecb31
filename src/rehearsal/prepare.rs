//! What earlier steps leave on the cluster, set up for a run that starts later (`run --from`):
//! each earlier step whose goals do not hold has its solution run and its goals waited for by
//! the rehearsal's own step check. Reading steps only look, so their solutions are not run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cluster::Cluster;
use crate::lesson::{Lesson, Step};
use crate::rehearsal::solution::SolutionEnv;
use crate::rehearsal::{CheckConfig, check_step};
use crate::runner::json::JsonWriter;
use crate::runner::live::LiveSource;
use crate::runner::source::{GoalSource, SourceError};

/// Why the earlier steps could not be judged or set up.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// A step's goals could not be watched.
    #[error(transparent)]
    Watch(#[from] SourceError),
    /// A step's solution failed, or its goals did not hold after it.
    #[error("failed to set up what step `{step}` leaves: {reason}")]
    Step {
        /// The step's id.
        step: String,
        /// What went wrong.
        reason: String,
    },
}

/// The earlier steps of a lesson, judged and set up on one cluster.
pub struct Preparer<'a> {
    lesson: &'a Lesson,
    cluster: Cluster,
    live: LiveSource,
    kubeconfig: PathBuf,
    namespace: String,
    timeout_scale: f64,
}

/// The earlier steps whose goals do not hold now, and the values the others capture.
#[derive(Debug, Default)]
pub struct Missing {
    /// Indexes of the steps whose solutions would run.
    pub steps: Vec<usize>,
    /// Values captured from the steps whose goals hold.
    pub captured: BTreeMap<String, String>,
}

impl<'a> Preparer<'a> {
    /// A preparer on `cluster`; solution commands use `kubeconfig` (a
    /// [`crate::rehearsal::cluster::SolutionKubeconfig`]'s), in `namespace`.
    pub fn new(
        lesson: &'a Lesson,
        cluster: Cluster,
        kubeconfig: &Path,
        namespace: &str,
        timeout_scale: f64,
    ) -> Self {
        Preparer {
            lesson,
            live: LiveSource::new(cluster.clone(), namespace.to_owned()),
            cluster,
            kubeconfig: kubeconfig.to_owned(),
            namespace: namespace.to_owned(),
            timeout_scale,
        }
    }

    /// Judges the steps with goals before `upto` on the cluster as it is now.
    pub async fn missing(&mut self, upto: usize) -> Result<Missing, PrepareError> {
        let mut missing = Missing::default();
        for (index, step) in self.earlier(upto) {
            match self.holds(step).await? {
                Some(values) => missing.captured.extend(values),
                None => missing.steps.push(index),
            }
        }
        Ok(missing)
    }

    /// Sets up what the steps before `upto` leave, in order: a step whose goals hold (now,
    /// after the earlier ones were set up) only gives its captures; any other has its solution
    /// run and its goals waited for. `on_step` hears each step set up; `captured` gains every
    /// value captured on the way.
    pub async fn prepare(
        &mut self,
        upto: usize,
        captured: &mut BTreeMap<String, String>,
        on_step: &mut dyn FnMut(usize, &Step),
    ) -> Result<(), PrepareError> {
        let lesson = self.lesson;
        for (index, step) in self.earlier(upto) {
            if let Some(values) = self.holds(step).await? {
                captured.extend(values);
                continue;
            }
            let env = SolutionEnv {
                kubeconfig: self.kubeconfig.clone(),
                namespace: self.namespace.clone(),
                timeout: step.timeout().mul_f64(self.timeout_scale.max(0.0)),
            };
            let config = CheckConfig {
                timeout_scale: self.timeout_scale,
                fail_fast: true,
            };
            let result = check_step(
                lesson,
                step,
                &mut self.live,
                captured,
                &env,
                config,
                &self.cluster,
                None::<&mut JsonWriter<std::io::Sink>>,
            )
            .await;
            match result.outcome {
                crate::rehearsal::Outcome::Passed => on_step(index, step),
                crate::rehearsal::Outcome::Failed { reason, .. }
                | crate::rehearsal::Outcome::NoDataPlane { reason } => {
                    return Err(PrepareError::Step {
                        step: step.id.clone(),
                        reason,
                    });
                }
                crate::rehearsal::Outcome::Skipped => {}
            }
        }
        Ok(())
    }

    fn earlier(&self, upto: usize) -> impl Iterator<Item = (usize, &'a Step)> + use<'a> {
        let lesson = self.lesson;
        lesson
            .steps
            .iter()
            .enumerate()
            .take(upto)
            .filter(|(_, step)| !step.goals.is_empty())
    }

    /// The step's captures if every goal of it holds now, else `None`.
    async fn holds(
        &mut self,
        step: &Step,
    ) -> Result<Option<BTreeMap<String, String>>, SourceError> {
        self.live.begin_step(step).await?;
        let reports = self.live.evaluate(step).await;
        if !reports.iter().all(|report| report.met) {
            return Ok(None);
        }
        // A value not readable yet is only missing; the step's goals hold all the same.
        Ok(Some(self.live.read_captures(step).unwrap_or_default()))
    }
}

/// How long listing the objects a lesson meets may take.
const LIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Objects [`lesson_objects`] names at most.
const MAX_OBJECTS: usize = 12;

/// The objects in `namespace` that the lesson's goals are about and that nothing else owns
/// (`Deployment web`, `Service web`; not their ReplicaSets and Pods), for a learner deciding
/// whether to start over. Empty when they cannot be listed.
pub async fn lesson_objects(cluster: &Cluster, lesson: &Lesson, namespace: &str) -> Vec<String> {
    let goals: Vec<_> = lesson.steps.iter().flat_map(|s| s.goals.clone()).collect();
    let specs: Vec<_> = crate::check::step_requirements(&goals, &[], namespace)
        .into_iter()
        .filter(|spec| spec.namespace.as_deref() == Some(namespace))
        .collect();
    let kinds: Vec<(String, String)> = specs
        .iter()
        .map(|s| (s.api_version.clone(), s.kind.clone()))
        .collect();
    let Ok(watch) = cluster.watch(specs).await else {
        return Vec::new();
    };
    let _ = watch.wait_synced(LIST_TIMEOUT).await;
    let world = watch.world();
    drop(watch);
    let mut names = Vec::new();
    for (api_version, kind) in &kinds {
        for object in world.in_namespace(api_version, kind, namespace) {
            let owned = object["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|owners| !owners.is_empty());
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let entry = format!("{kind} {name}");
            if !owned && !names.contains(&entry) {
                names.push(entry);
            }
        }
    }
    names.truncate(MAX_OBJECTS);
    names
}
