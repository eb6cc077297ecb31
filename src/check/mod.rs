//! Goals as pure predicates over cluster objects, with "why not yet" explanations.
//!
//! Nothing here does IO: the runner feeds a [`World`] (a snapshot of its watch stores) and a
//! [`GoalContext`] (what was true when the step began) to [`evaluate`], and gets back a
//! [`GoalStatus`] saying whether the goal holds and, if not, what differs. The `http` goal's
//! pure half is [`evaluate_http`]; the probing itself lives in `cluster`.

pub mod baseline;
pub mod capture;
pub mod diff;
pub mod goals;
pub mod involved;
pub mod requirements;
mod target;
pub mod world;

#[cfg(test)]
mod fixtures;

use std::fmt;

pub use baseline::{Baseline, DeploymentBaseline};
pub use capture::{CaptureError, Path, PathError};
pub use diff::{Mismatch, partial_match};
pub use goals::http::{HttpProbe, evaluate_http, http_target, probes_for};
pub use goals::rollout::{pod_ready, pod_state};
pub use involved::{Involved, ObjectRef, evaluate_all, involved_objects, step_requirements};
pub use requirements::{WatchSpec, capture_requirements, merge_specs, requirements};
pub use world::{TypeKey, World, WorldError};

use crate::lesson::model::Goal;

/// What a goal is judged against besides the current world.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GoalContext {
    /// The lesson's namespace; goals look only there (except cluster-scoped kinds).
    pub namespace: String,
    /// The cluster as it was when the step began, for `updated` and `rolled_back`.
    pub baseline: Baseline,
}

impl GoalContext {
    /// A context for `namespace` with the given baseline.
    pub fn new(namespace: impl Into<String>, baseline: Baseline) -> Self {
        GoalContext {
            namespace: namespace.into(),
            baseline,
        }
    }
}

/// One thing that differs from what a goal expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// What is compared, e.g. `image of deployment web` or `.spec.type`.
    pub what: String,
    /// The expected value.
    pub expected: String,
    /// The actual value.
    pub actual: String,
}

impl Difference {
    /// A difference from its three parts.
    pub fn new(
        what: impl Into<String>,
        expected: impl fmt::Display,
        actual: impl fmt::Display,
    ) -> Self {
        Difference {
            what: what.into(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.what, self.expected, self.actual
        )
    }
}

/// Whether a goal holds, in words fit for a one-line checklist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalStatus {
    /// The goal holds.
    pub met: bool,
    /// One line saying what holds and what is missing.
    pub summary: String,
    /// Expected-versus-actual pairs behind the summary (empty when met).
    pub details: Vec<Difference>,
    /// The lesson author's message for this goal, shown beside the summary while unmet.
    pub explain_failure: Option<String>,
}

impl GoalStatus {
    /// A met goal.
    pub fn met(summary: impl Into<String>) -> Self {
        GoalStatus {
            met: true,
            summary: summary.into(),
            details: Vec::new(),
            explain_failure: None,
        }
    }

    /// An unmet goal with no structured difference.
    pub fn unmet(summary: impl Into<String>) -> Self {
        GoalStatus {
            met: false,
            summary: summary.into(),
            details: Vec::new(),
            explain_failure: None,
        }
    }

    /// An unmet goal with one structured difference.
    pub fn differs(summary: impl Into<String>, difference: Difference) -> Self {
        GoalStatus {
            details: vec![difference],
            ..GoalStatus::unmet(summary)
        }
    }

    fn with_explanation(mut self, goal: &Goal) -> Self {
        self.explain_failure = goal.explain_failure().map(str::to_owned);
        self
    }
}

/// Judges a goal against a snapshot of the cluster.
///
/// `http` goals cannot be judged from objects alone: for them this says what is being waited
/// for; the runner probes with `Cluster::check_http`, which judges with [`evaluate_http`].
pub fn evaluate(goal: &Goal, world: &World, ctx: &GoalContext) -> GoalStatus {
    goal.kind().evaluate(world, ctx).with_explanation(goal)
}
