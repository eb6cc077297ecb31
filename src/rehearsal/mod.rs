//! The rehearsal behind `kubetutor check`: each lesson played as a learner who gets everything
//! right, by running every step's solution and confirming its goals, and reported per step.
//!
//! The waiting is the runner's own loop (`runner::events::Loop`) on a one-step machine, with
//! [`source::SolvingSource`] running the solution once the step's baseline is taken; this
//! module adds what CI needs around it: a clean cluster per lesson, the lesson-bug check,
//! failure diagnostics, and results for the reports.

pub mod cluster;
pub mod prepare;
pub mod report;
pub mod solution;
pub mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::check::{ObjectRef, involved_objects, step_requirements};
use crate::cluster::Cluster;
use crate::lesson::{Lesson, Step};
use crate::rehearsal::cluster::LessonCluster;
use crate::rehearsal::solution::{
    SolutionEnv, data_plane_failure, first_failure, run_solution, transcript,
};
use crate::rehearsal::source::{SolvingSource, StepOutput};
use crate::runner::events::{Ending, InputMode, Loop, LoopConfig};
use crate::runner::json::{JsonEvent, JsonWriter, millis, unmet_goals};
use crate::runner::live::LiveSource;
use crate::runner::machine::Machine;

/// How often steps with `http` goals are re-judged (the live source re-probes at its own pace).
const HTTP_POLL: Duration = Duration::from_millis(500);
/// How long the failure diagnostics may take to list objects.
const DIAGNOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Objects whose events a failure report lists, at most.
const MAX_EVENT_OBJECTS: usize = 6;

/// Why check mode could not run a lesson at all.
#[derive(Debug, thiserror::Error)]
pub enum RehearsalError {
    /// The embedded sandbox did not start.
    #[error("failed to start the embedded sandbox")]
    Sandbox(#[source] Box<crate::sandbox::SandboxError>),
    /// The cluster could not be reached or prepared.
    #[error("failed to prepare the cluster")]
    Cluster(#[source] Box<crate::cluster::ClusterError>),
    /// The context may not make the fresh namespace a lesson is checked in.
    #[error(
        "failed to create the fresh namespace {namespace} that check runs the lesson in: use a \
         context that may create and delete namespaces"
    )]
    FreshNamespace {
        /// The namespace check wanted.
        namespace: String,
        /// The refusal.
        #[source]
        source: Box<crate::cluster::ClusterError>,
    },
    /// The private kubeconfig for solution commands could not be written.
    #[error("failed to write a kubeconfig for the solution commands: {0}")]
    Kubeconfig(String),
}

impl RehearsalError {
    /// Whether the cluster is at fault (it does not answer, refuses us, or the sandbox did not
    /// start), rather than kubetutor's own files.
    pub fn is_cluster(&self) -> bool {
        !matches!(self, RehearsalError::Kubeconfig(_))
    }
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its solution ran and its goals held.
    Passed,
    /// Something went wrong.
    Failed {
        /// One line: what failed.
        reason: String,
        /// Expected vs actual per unmet goal, events and pod states, one per line.
        details: Vec<String>,
    },
    /// Not run (`--fail-fast` after an earlier failure).
    Skipped,
    /// Cannot be checked on this cluster: a solution command needs a data plane (logs, exec,
    /// port-forward reach the node's kubelet) that the cluster does not have, as on simulated
    /// nodes. Reported, but not a failure of the lesson.
    NoDataPlane {
        /// Which command, and the error that shows it.
        reason: String,
    },
}

impl Outcome {
    /// Whether the step leaves the lesson green: passed, or not checkable on this cluster.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Passed | Outcome::NoDataPlane { .. })
    }
}

/// One step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    /// Step id.
    pub id: String,
    /// Step title.
    pub title: String,
    /// How it ended.
    pub outcome: Outcome,
    /// From the step's start to its end (solution and wait).
    pub duration: Duration,
    /// The solution's transcript (`$ command` and its output).
    pub output: String,
}

impl StepResult {
    /// The event that ends the step in `check --json`: `step_passed`, `step_failed` or
    /// `step_skipped` (with the reason when the step needs a data plane).
    pub fn end_event(&self) -> JsonEvent {
        let step = self.id.clone();
        let duration_ms = millis(self.duration);
        let output = Some(self.output.clone());
        match &self.outcome {
            Outcome::Passed => JsonEvent::StepPassed {
                step,
                duration_ms,
                by: None,
            },
            Outcome::Failed { reason, details } => JsonEvent::StepFailed {
                step,
                reason: reason.clone(),
                details: details.clone(),
                output,
                duration_ms,
            },
            Outcome::Skipped => JsonEvent::StepSkipped {
                step,
                reason: None,
                output: None,
                duration_ms: None,
            },
            Outcome::NoDataPlane { reason } => JsonEvent::StepSkipped {
                step,
                reason: Some(reason.clone()),
                output,
                duration_ms: Some(duration_ms),
            },
        }
    }

    /// A step not run.
    pub fn skipped(step: &Step) -> Self {
        StepResult {
            id: step.id.clone(),
            title: step.title.clone(),
            outcome: Outcome::Skipped,
            duration: Duration::ZERO,
            output: String::new(),
        }
    }
}

/// Tunables of a check run.
#[derive(Debug, Clone, Copy)]
pub struct CheckConfig {
    /// Multiplies every step timeout.
    pub timeout_scale: f64,
    /// Stop at the first failing step.
    pub fail_fast: bool,
}

/// Checks every step of `lesson` on `target` in order; `on_step` hears each result as it
/// comes. Under `fail_fast` the steps after a failure are returned as skipped.
pub async fn check_lesson<W: Write>(
    lesson: &Lesson,
    target: &LessonCluster,
    config: CheckConfig,
    interrupted: &CancellationToken,
    mut json: Option<&mut JsonWriter<W>>,
    on_step: &mut dyn FnMut(&StepResult),
) -> Vec<StepResult> {
    let mut source = LiveSource::new(target.cluster.clone(), target.namespace.clone());
    let mut captured = BTreeMap::new();
    let mut results = Vec::with_capacity(lesson.steps.len());
    let mut stopped = false;
    for step in &lesson.steps {
        let result = if stopped || interrupted.is_cancelled() {
            StepResult::skipped(step)
        } else {
            let env = SolutionEnv {
                kubeconfig: target.kubeconfig.clone(),
                namespace: target.namespace.clone(),
                timeout: step.timeout().mul_f64(config.timeout_scale.max(0.0)),
            };
            let checked = check_step(
                lesson,
                step,
                &mut source,
                &mut captured,
                &env,
                config,
                &target.cluster,
                json.as_deref_mut(),
            );
            // Ctrl-C abandons the step (its commands' process groups are killed) so the
            // caller can clean the cluster up; the step counts as skipped.
            tokio::select! {
                result = checked => result,
                () = interrupted.cancelled() => StepResult::skipped(step),
            }
        };
        if let Some(json) = json.as_deref_mut() {
            json.emit(&result.end_event());
        }
        if config.fail_fast && matches!(result.outcome, Outcome::Failed { .. }) {
            stopped = true;
        }
        on_step(&result);
        results.push(result);
    }
    results
}

#[expect(
    clippy::too_many_arguments,
    reason = "one step's whole context, called once"
)]
async fn check_step<W: Write>(
    lesson: &Lesson,
    step: &Step,
    live: &mut LiveSource,
    captured: &mut BTreeMap<String, String>,
    env: &SolutionEnv,
    config: CheckConfig,
    cluster: &Cluster,
    mut json: Option<&mut JsonWriter<W>>,
) -> StepResult {
    let started = Instant::now();
    // A one-step lesson: the runner's machine and loop then play exactly this step.
    let one = Lesson {
        steps: vec![step.clone()],
        ..lesson.clone()
    };
    let mut machine = Machine::new(one, 0, captured.clone());
    let finish = |outcome: Outcome, output: String| StepResult {
        id: step.id.clone(),
        title: step.title.clone(),
        outcome,
        duration: started.elapsed(),
        output,
    };

    if step.goals.is_empty() {
        let mut output = StepOutput::new(json.as_deref_mut());
        for transition in machine.start() {
            crate::runner::events::Output::transition(&mut output, &machine, &transition);
        }
        let runs = run_solution(&step.solution, captured, env).await;
        let outcome = match (data_plane_failure(&runs), first_failure(&runs)) {
            (Some(reason), _) => Outcome::NoDataPlane { reason },
            (None, Some(reason)) => Outcome::Failed {
                reason,
                details: Vec::new(),
            },
            (None, None) => Outcome::Passed,
        };
        return finish(outcome, transcript(&runs));
    }

    let snapshot = captured.clone();
    let mut source = SolvingSource::new(live, &snapshot, env);
    let mut output = StepOutput::new(json);
    let (_input_tx, input_rx) = tokio::sync::mpsc::unbounded_channel();
    let ending = Loop {
        machine: &mut machine,
        source: &mut source,
        output: &mut output,
        input: input_rx,
        input_mode: Arc::new(Mutex::new(InputMode::Idle)),
        save: &mut |_: &Machine| {},
        shells: None,
        config: LoopConfig {
            interactive: false,
            http_poll: HTTP_POLL,
            timeout_scale: config.timeout_scale,
            ..LoopConfig::default()
        },
    }
    .run()
    .await;
    let transcript = transcript(&source.runs);
    let outcome = match ending {
        Ok(Ending::Passed) => {
            captured.extend(machine.captured().clone());
            match source.lesson_bug.take() {
                Some(reason) => Outcome::Failed {
                    reason,
                    details: vec![
                        "a learner would pass this step without doing anything: give it a goal \
                         that only its commands make true, or make it a reading step (no goals)"
                            .to_owned(),
                    ],
                },
                None => Outcome::Passed,
            }
        }
        Ok(Ending::Failed) => {
            let mut details = unmet_goals(machine.goals(), step);
            details.extend(diagnose(cluster, &env.namespace, step, &machine).await);
            Outcome::Failed {
                reason: output
                    .failed
                    .take()
                    .unwrap_or_else(|| machine.unmet_reason()),
                details,
            }
        }
        Ok(Ending::Quit | Ending::Interrupted) => Outcome::Failed {
            reason: "interrupted".to_owned(),
            details: Vec::new(),
        },
        Err(err) => match data_plane_failure(&source.runs) {
            Some(reason) => Outcome::NoDataPlane { reason },
            None => Outcome::Failed {
                reason: source
                    .solution_failure
                    .take()
                    .unwrap_or_else(|| crate::error::chain(&err)),
                details: Vec::new(),
            },
        },
    };
    finish(outcome, transcript)
}

/// Recent events and pod states of the objects the unmet goals are about.
async fn diagnose(cluster: &Cluster, ns: &str, step: &Step, machine: &Machine) -> Vec<String> {
    let specs = step_requirements(&step.goals, &[], ns);
    let Ok(watch) = cluster.watch(specs).await else {
        return Vec::new();
    };
    let _ = watch.wait_synced(DIAGNOSE_TIMEOUT).await;
    let world = watch.world();
    drop(watch);
    let mut objects: BTreeSet<ObjectRef> = BTreeSet::new();
    let mut selectors: BTreeSet<String> = BTreeSet::new();
    for (report, goal) in machine.goals().iter().zip(&step.goals) {
        if report.met {
            continue;
        }
        let involved = involved_objects(goal, &world, ns);
        objects.extend(involved.objects);
        selectors.extend(involved.pod_selector);
    }
    let mut lines = Vec::new();
    for object in objects.iter().take(MAX_EVENT_OBJECTS) {
        if let Ok(events) = cluster.recent_events(ns, &object.kind, &object.name).await
            && !events.is_empty()
        {
            lines.push(format!("events of {} {}:", object.kind, object.name));
            lines.extend(events.iter().map(|e| format!("  {e}")));
        }
    }
    for selector in &selectors {
        if let Ok(pods) = cluster.pod_states(ns, selector).await {
            lines.push(format!("pods matching {selector}:"));
            if pods.is_empty() {
                lines.push("  none".to_owned());
            }
            lines.extend(pods.iter().map(|p| format!("  {p}")));
        }
    }
    lines
}
