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

#[test]
fn every_listed_kind_parses_and_dispatches_to_itself() {
    // The smallest valid goal of each kind; the list must name every kind exactly once.
    let minimal = [
        "kind: deployed\ndeployment: web\nimage: a:v1\n",
        "kind: exposed\ndeployment: web\ntype: NodePort\nport: 80\n",
        "kind: scaled\ndeployment: web\nreplicas: 2\n",
        "kind: updated\ndeployment: web\nimage: a:v2\n",
        "kind: rolled_back\ndeployment: web\nimage: a:v1\n",
        "kind: rollout_stuck\ndeployment: web\nimage: a:v9\n",
        "kind: resource\ntarget: {apiVersion: v1, kind: Pod}\n",
        "kind: absent\ntarget: {apiVersion: v1, kind: Pod}\n",
        "kind: http\nservice: web\ncontains: hi\n",
    ];
    let kinds: Vec<&str> = minimal.iter().map(|y| goal(y).kind_name()).collect();
    assert_eq!(kinds, Goal::KINDS);
    for yaml in minimal {
        let g = goal(yaml);
        assert!(
            !g.kind().requirements("default").is_empty(),
            "{} watches nothing",
            g.kind_name()
        );
    }
}
