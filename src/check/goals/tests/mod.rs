//! Every goal kind against hand-built worlds: met, and each way of not being met.

mod general;
mod rollout;

use crate::check::fixtures::pod;
use crate::check::{Baseline, GoalContext, GoalStatus, World, evaluate};
use crate::lesson::model::Goal;

pub(super) fn goal(yaml: &str) -> Goal {
    serde_yaml::from_str(yaml).expect("test goals are valid")
}

pub(super) fn ctx() -> GoalContext {
    GoalContext::new("default", Baseline::default())
}

pub(super) fn check(yaml: &str, world: &World) -> GoalStatus {
    evaluate(&goal(yaml), world, &ctx())
}

/// Evaluates with a baseline captured from `before`.
pub(super) fn check_since(yaml: &str, before: &World, now: &World) -> GoalStatus {
    let goal = goal(yaml);
    let baseline = Baseline::capture(before, std::slice::from_ref(&goal), "default");
    evaluate(&goal, now, &GoalContext::new("default", baseline))
}

pub(super) fn assert_met(status: &GoalStatus) {
    assert!(status.met, "expected met, got: {}", status.summary);
    assert!(status.details.is_empty());
}

pub(super) fn assert_unmet(status: &GoalStatus, summary: &str) {
    assert!(!status.met, "expected unmet, got met: {}", status.summary);
    assert_eq!(status.summary, summary);
}

/// Three ready pods of `web` on `example/app:v1`.
pub(super) fn three_pods() -> Vec<serde_json::Value> {
    (1..=3)
        .map(|i| pod(&format!("web-{i}"), "web", "example/app:v1"))
        .collect()
}
