//! Check mode's seams into the runner's event loop: a goal source that runs the step's solution
//! once the baseline is taken (after proving the goals do not hold yet), and an output that
//! forwards the loop's events to the JSON writer.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use crate::lesson::{Goal, Step};
use crate::rehearsal::solution::{CommandRun, SolutionEnv, first_failure, run_solution};
use crate::runner::events::Output;
use crate::runner::json::{JsonEvent, JsonWriter};
use crate::runner::live::LiveSource;
use crate::runner::machine::{GoalReport, Machine, Transition};
use crate::runner::source::{ClusterEvent, GoalSource, SourceError};

/// The live source, plus "run the solution" between taking the baseline and waiting.
pub struct SolvingSource<'a> {
    inner: &'a mut LiveSource,
    captured: &'a BTreeMap<String, String>,
    env: &'a SolutionEnv,
    /// The solution's commands as they ran.
    pub runs: Vec<CommandRun>,
    /// Set when every goal held before the solution ran.
    pub lesson_bug: Option<String>,
    /// Set when a solution command failed.
    pub solution_failure: Option<String>,
}

impl<'a> SolvingSource<'a> {
    /// Wraps `inner`; solutions see `captured` and run in `env`.
    pub fn new(
        inner: &'a mut LiveSource,
        captured: &'a BTreeMap<String, String>,
        env: &'a SolutionEnv,
    ) -> Self {
        SolvingSource {
            inner,
            captured,
            env,
            runs: Vec::new(),
            lesson_bug: None,
            solution_failure: None,
        }
    }
}

impl GoalSource for SolvingSource<'_> {
    async fn begin_step(&mut self, step: &Step) -> Result<(), SourceError> {
        self.inner.begin_step(step).await?;
        let before = self.inner.evaluate(step).await;
        self.lesson_bug = vacuous_goals(&step.goals, &before);
        self.runs = run_solution(&step.solution, self.captured, self.env).await;
        if let Some(failure) = first_failure(&self.runs) {
            self.solution_failure = Some(failure.clone());
            return Err(SourceError {
                step: step.id.clone(),
                source: anyhow::Error::msg(failure),
            });
        }
        Ok(())
    }

    async fn next_cluster_event(&mut self) -> ClusterEvent {
        self.inner.next_cluster_event().await
    }

    async fn evaluate(&mut self, step: &Step) -> Vec<GoalReport> {
        self.inner.evaluate(step).await
    }

    fn read_captures(&mut self, step: &Step) -> Result<BTreeMap<String, String>, String> {
        self.inner.read_captures(step)
    }
}

/// The live source of a learner's run, which may also run a step's solution when the learner
/// asks (`k` then `r`), with the kubeconfig whose context namespace is the lesson's.
pub struct LearnerSource<'a> {
    inner: &'a mut LiveSource,
    kubeconfig: Option<PathBuf>,
    namespace: String,
    timeout_scale: f64,
}

impl<'a> LearnerSource<'a> {
    /// Wraps `inner`; solutions run with `kubeconfig` in `namespace`, or not at all without one.
    pub fn new(
        inner: &'a mut LiveSource,
        kubeconfig: Option<PathBuf>,
        namespace: &str,
        timeout_scale: f64,
    ) -> Self {
        LearnerSource {
            inner,
            kubeconfig,
            namespace: namespace.to_owned(),
            timeout_scale,
        }
    }
}

impl GoalSource for LearnerSource<'_> {
    async fn begin_step(&mut self, step: &Step) -> Result<(), SourceError> {
        self.inner.begin_step(step).await
    }

    async fn next_cluster_event(&mut self) -> ClusterEvent {
        self.inner.next_cluster_event().await
    }

    async fn evaluate(&mut self, step: &Step) -> Vec<GoalReport> {
        self.inner.evaluate(step).await
    }

    fn read_captures(&mut self, step: &Step) -> Result<BTreeMap<String, String>, String> {
        self.inner.read_captures(step)
    }

    async fn run_solution(
        &mut self,
        step: &Step,
        captured: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        let Some(kubeconfig) = self.kubeconfig.clone() else {
            return Err("failed to run the solution: no kubeconfig for it".to_owned());
        };
        let env = SolutionEnv {
            kubeconfig,
            namespace: self.namespace.clone(),
            timeout: step.timeout().mul_f64(self.timeout_scale.max(0.0)),
        };
        let runs = run_solution(&step.solution, captured, &env).await;
        match first_failure(&runs) {
            Some(failure) => Err(format!("failed to set the step up: {failure}")),
            None => Ok(()),
        }
    }
}

/// The lesson-bug reason when every goal already holds before the solution runs: such a step
/// passes the moment a learner reaches it, whatever they do.
pub fn vacuous_goals(goals: &[Goal], before: &[GoalReport]) -> Option<String> {
    if goals.is_empty() || before.len() != goals.len() || !before.iter().all(|r| r.met) {
        return None;
    }
    let named: Vec<String> = goals
        .iter()
        .enumerate()
        .map(|(i, g)| format!("{} ({})", i + 1, g.kind_name()))
        .collect();
    let (noun, verb) = if named.len() == 1 {
        ("goal", "holds")
    } else {
        ("goals", "hold")
    };
    Some(format!(
        "lesson bug: {noun} {} already {verb} before the solution runs",
        named.join(", ")
    ))
}

/// Forwards `step_started`, `goal_met` and `goal_lost` to the JSON writer (the step's end is
/// written by the check driver, which knows more than the loop) and keeps the loop's failure
/// reason.
pub struct StepOutput<'w, W: Write> {
    json: Option<&'w mut JsonWriter<W>>,
    /// The reason the loop gave when the step timed out.
    pub failed: Option<String>,
}

impl<'w, W: Write> StepOutput<'w, W> {
    /// An output writing JSON events to `json`, if given.
    pub fn new(json: Option<&'w mut JsonWriter<W>>) -> Self {
        StepOutput { json, failed: None }
    }
}

impl<W: Write> Output for StepOutput<'_, W> {
    fn transition(&mut self, machine: &Machine, transition: &Transition) {
        if let Transition::StepFailed { reason, .. } = transition {
            self.failed = Some(reason.clone());
        }
        if let Some(json) = self.json.as_deref_mut()
            && let Some(event) = JsonEvent::from_transition(machine, transition)
        {
            json.emit(&event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(met: bool) -> GoalReport {
        GoalReport {
            met,
            ..GoalReport::pending()
        }
    }

    #[test]
    fn only_goals_that_all_hold_beforehand_are_a_lesson_bug() {
        let goals: Vec<Goal> = vec![
            serde_yaml::from_str("kind: deployed\ndeployment: web\nimage: a:v1\n").unwrap(),
            serde_yaml::from_str("kind: scaled\ndeployment: web\nreplicas: 2\n").unwrap(),
        ];
        assert_eq!(vacuous_goals(&goals, &[report(true), report(false)]), None);
        assert_eq!(
            vacuous_goals(&goals, &[report(true), report(true)]).as_deref(),
            Some(
                "lesson bug: goals 1 (deployed), 2 (scaled) already hold before the solution runs"
            )
        );
        assert_eq!(
            vacuous_goals(&goals[..1], &[report(true)]).as_deref(),
            Some("lesson bug: goal 1 (deployed) already holds before the solution runs")
        );
        assert_eq!(vacuous_goals(&[], &[]), None);
    }
}
