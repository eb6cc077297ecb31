//! Where goal statuses come from: the seam between the event loop and the cluster.
//!
//! The loop only needs "watch this step", "tell me when something changed", "how do the goals
//! look now" and "read the captures"; the live implementation sits on the `cluster` and
//! `check` modules, tests use a scripted one.

use std::collections::BTreeMap;
use std::future::Future;

use crate::lesson::Step;
use crate::runner::machine::GoalReport;

/// Something that may change goal statuses: the cluster's own events (changes, a lost or
/// restored connection, a refused watch), whatever the source.
pub use crate::cluster::ClusterEvent;

/// Why a step's goals could not be watched.
#[derive(Debug, thiserror::Error)]
#[error("failed to watch the goals of step `{step}`")]
pub struct SourceError {
    /// The step's id.
    pub step: String,
    /// What went wrong.
    #[source]
    pub source: anyhow::Error,
}

/// A source of goal statuses for one step at a time.
pub trait GoalSource {
    /// Starts watching exactly what the step's goals need and records the step's baseline.
    fn begin_step(&mut self, step: &Step) -> impl Future<Output = Result<(), SourceError>>;

    /// Waits for the next change; never returns while nothing happens.
    fn next_cluster_event(&mut self) -> impl Future<Output = ClusterEvent>;

    /// Evaluates every goal of the step as the cluster is now (probing HTTP goals if any).
    fn evaluate(&mut self, step: &Step) -> impl Future<Output = Vec<GoalReport>>;

    /// Reads the step's captures; `Err` says which one is not available yet.
    fn read_captures(&mut self, step: &Step) -> Result<BTreeMap<String, String>, String>;

    /// Runs the step's solution on the cluster for the learner, with `captured` values; `Err`
    /// says why it failed or cannot run here.
    fn run_solution(
        &mut self,
        step: &Step,
        captured: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), String>> {
        let _ = (step, captured);
        async { Err("failed to run the solution: not possible here".to_owned()) }
    }
}
