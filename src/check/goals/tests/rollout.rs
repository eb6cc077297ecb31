//! Deployment goals: deployed, scaled, updated, rolled_back, rollout_stuck, and baselines.

use serde_json::json;

use super::{assert_met, assert_unmet, check, check_since, goal, three_pods};
use crate::check::fixtures::*;
use crate::check::{Baseline, World};

// ---- deployed ----

const DEPLOYED: &str = "kind: deployed\ndeployment: web\nimage: example/app:v1\nready: 2\n";

#[test]
fn deployed_is_met_with_enough_ready_pods_on_the_image() {
    let world = world([
        deployment("web", "example/app:v1", 2),
        pod("web-1", "web", "example/app:v1"),
        pod("web-2", "web", "example/app:v1"),
    ]);
    let status = check(DEPLOYED, &world);
    assert_met(&status);
    assert_eq!(
        status.summary,
        "deployment web: 2 ready replicas running example/app:v1"
    );
}

#[test]
fn deployed_names_a_missing_deployment() {
    let status = check(DEPLOYED, &world([]));
    assert_unmet(&status, "no Deployment named web in namespace default");
    assert_eq!(
        status.details[0].to_string(),
        "Deployment web: expected exists, got missing"
    );
}

#[test]
fn a_missing_deployment_names_the_one_with_a_mistyped_name_running_its_image() {
    let world = world([
        deployment("wbe", "example/app:v1", 2),
        deployment("other", "example/db:v1", 1),
    ]);
    let status = check(DEPLOYED, &world);
    assert_eq!(
        status.summary,
        "no Deployment named web in namespace default; there is a Deployment `wbe` running \
         this image; did you mean `web`?"
    );
}

#[test]
fn a_missing_deployment_names_the_only_one_running_its_image_whatever_its_name() {
    let world = world([
        deployment("frontend", "example/app:v1", 2),
        deployment("db", "example/db:v1", 1),
    ]);
    let status = check(DEPLOYED, &world);
    assert!(
        status
            .summary
            .ends_with("there is a Deployment `frontend` running this image; did you mean `web`?"),
        "{}",
        status.summary
    );
}

#[test]
fn a_missing_deployment_names_a_close_name_on_another_image_without_claiming_the_image() {
    let world = world([deployment("webb", "example/app:v0", 2)]);
    let status = check(DEPLOYED, &world);
    assert!(
        status
            .summary
            .ends_with("there is a Deployment `webb`; did you mean `web`?"),
        "{}",
        status.summary
    );
}

#[test]
fn a_missing_deployment_names_nothing_when_nothing_is_near() {
    let world = world([
        deployment("database", "example/db:v1", 1),
        deployment("cache", "example/cache:v1", 1),
    ]);
    let status = check(DEPLOYED, &world);
    assert_eq!(
        status.summary,
        "no Deployment named web in namespace default"
    );
}

#[test]
fn deployed_names_the_wrong_image() {
    let world = world([deployment("web", "example/app:v0", 2)]);
    let status = check(DEPLOYED, &world);
    assert_unmet(
        &status,
        "deployment web runs example/app:v0, expected example/app:v1",
    );
    assert_eq!(status.details[0].expected, "example/app:v1");
    assert_eq!(status.details[0].actual, "example/app:v0");
}

#[test]
fn deployed_checks_the_named_container() {
    let w = world([
        deployment("web", "example/app:v1", 1),
        pod("web-1", "web", "example/app:v1"),
    ]);
    let yaml = "kind: deployed\ndeployment: web\nimage: example/app:v1\ncontainer: sidecar\n";
    assert_unmet(
        &check(yaml, &w),
        "deployment web has no container named sidecar (it has app)",
    );
    let yaml = "kind: deployed\ndeployment: web\nimage: example/app:v1\ncontainer: app\n";
    assert_met(&check(yaml, &w));
    let world2 = world([deployment("web", "example/app:v2", 1)]);
    assert_unmet(
        &check(yaml, &world2),
        "container app of deployment web runs example/app:v2, expected example/app:v1",
    );
}

#[test]
fn deployed_counts_only_ready_pods_that_run_the_image() {
    // The status claims 2 ready, but one ready pod still runs the old image.
    let world = world([
        deployment("web", "example/app:v1", 2),
        pod("web-1", "web", "example/app:v1"),
        pod("web-old", "web", "example/app:v0"),
    ]);
    assert_unmet(
        &check(DEPLOYED, &world),
        "deployment web: 1/2 replicas ready on example/app:v1",
    );
}

#[test]
fn deployed_says_why_a_pod_is_not_ready() {
    let world = world([
        status(deployment("web", "example/app:v1", 2), 2, 2, 1, 1),
        pod("web-1", "web", "example/app:v1"),
        waiting_pod("web-2", "web", "example/app:v1", "ContainerCreating"),
    ]);
    let status = check(DEPLOYED, &world);
    assert_unmet(
        &status,
        "deployment web: 1/2 replicas ready on example/app:v1 (pod web-2: ContainerCreating)",
    );
    assert_eq!(
        status.details[0].to_string(),
        "ready replicas of deployment web: expected 2, got 1"
    );
}

#[test]
fn deployed_ignores_pods_of_other_apps_and_terminating_pods() {
    let world = world([
        deployment("web", "example/app:v1", 2),
        pod("web-1", "web", "example/app:v1"),
        terminating(pod("web-2", "web", "example/app:v1")),
        pod("db-1", "db", "example/app:v1"),
    ]);
    assert_unmet(
        &check(DEPLOYED, &world),
        "deployment web: 1/2 replicas ready on example/app:v1",
    );
}

#[test]
fn explain_failure_travels_with_the_status() {
    let status = check(
        "kind: deployed\ndeployment: web\nimage: a:v1\nexplain_failure: Did you run kubectl create?\n",
        &world([]),
    );
    assert_eq!(
        status.explain_failure.as_deref(),
        Some("Did you run kubectl create?")
    );
}

// ---- scaled ----

const SCALED: &str = "kind: scaled\ndeployment: web\nreplicas: 3\n";

#[test]
fn scaled_is_met_at_exactly_n() {
    let mut objects = three_pods();
    objects.push(deployment("web", "example/app:v1", 3));
    let status = check(SCALED, &world(objects));
    assert_met(&status);
    assert_eq!(status.summary, "deployment web: 3/3 replicas ready");
}

#[test]
fn scaled_reports_the_wrong_spec() {
    let world = world([deployment("web", "example/app:v1", 2)]);
    let status = check(SCALED, &world);
    assert_unmet(&status, "deployment web asks for 2 replicas, expected 3");
    assert_eq!(
        status.details[0].to_string(),
        "spec.replicas of deployment web: expected 3, got 2"
    );
}

#[test]
fn scaled_waits_for_ready_replicas() {
    let mut d = status(deployment("web", "example/app:v1", 3), 3, 3, 2, 2);
    d["spec"]["replicas"] = json!(3);
    let mut objects = three_pods();
    objects[2] = waiting_pod("web-3", "web", "example/app:v1", "ContainerCreating");
    objects.push(d);
    assert_unmet(
        &check(SCALED, &world(objects)),
        "deployment web: 2/3 replicas ready (pod web-3: ContainerCreating)",
    );
}

#[test]
fn scaled_down_waits_for_status_and_extra_pods() {
    // Scaling 5 -> 3: spec says 3 but the status still counts 5.
    let mut d = status(deployment("web", "example/app:v1", 3), 5, 5, 5, 5);
    d["spec"]["replicas"] = json!(3);
    let mut objects = three_pods();
    objects.push(d);
    assert_unmet(
        &check(SCALED, &world(objects.clone())),
        "deployment web: 5 replicas (5 up to date, 5 ready), expected 3",
    );
    // Status settled, but two extra pods are still terminating.
    objects.pop();
    objects.push(deployment("web", "example/app:v1", 3));
    objects.push(terminating(pod("web-4", "web", "example/app:v1")));
    objects.push(terminating(pod("web-5", "web", "example/app:v1")));
    assert_unmet(
        &check(SCALED, &world(objects.clone())),
        "deployment web: 3 replicas ready, 2 extra pods still terminating (web-4, web-5)",
    );
    // A stray live pod matching the selector is an extra pod too.
    objects.truncate(4);
    objects.push(pod("web-4", "web", "example/app:v1"));
    assert_unmet(
        &check(SCALED, &world(objects)),
        "deployment web: 4 pods running, expected 3",
    );
}

// ---- updated ----

const UPDATED: &str = "kind: updated\ndeployment: web\nimage: example/app:v2\n";

fn on_v1() -> World {
    world([
        deployment("web", "example/app:v1", 2),
        replica_set("web-1111", "web", "example/app:v1", 1),
        pod("web-1111-a", "web", "example/app:v1"),
        pod("web-1111-b", "web", "example/app:v1"),
    ])
}

fn on_v2() -> World {
    world([
        revision(
            set_image(deployment("web", "example/app:v1", 2), "example/app:v2"),
            2,
        ),
        replica_set("web-1111", "web", "example/app:v1", 1),
        replica_set("web-2222", "web", "example/app:v2", 2),
        pod("web-2222-a", "web", "example/app:v2"),
        pod("web-2222-b", "web", "example/app:v2"),
    ])
}

#[test]
fn updated_is_met_after_a_completed_rollout() {
    let status = check_since(UPDATED, &on_v1(), &on_v2());
    assert_met(&status);
    assert_eq!(status.summary, "deployment web: rolled out example/app:v2");
}

#[test]
fn updated_names_the_image_still_running() {
    let status = check_since(UPDATED, &on_v1(), &on_v1());
    assert_unmet(
        &status,
        "deployment web runs example/app:v1, expected example/app:v2",
    );
    assert_eq!(status.details[0].expected, "example/app:v2");
    assert_eq!(status.details[0].actual, "example/app:v1");
}

#[test]
fn updated_is_not_met_by_what_was_already_true() {
    let status = check_since(UPDATED, &on_v2(), &on_v2());
    assert_unmet(
        &status,
        "deployment web already ran example/app:v2 when the step began; no new rollout yet",
    );
}

#[test]
fn updated_waits_for_the_rollout_to_complete() {
    let before = on_v1();
    let d = revision(
        set_image(deployment("web", "example/app:v1", 2), "example/app:v2"),
        2,
    );
    let mut unobserved = d.clone();
    unobserved["status"]["observedGeneration"] = json!(1);
    assert_unmet(
        &check_since(UPDATED, &before, &world([unobserved])),
        "deployment web: waiting for the controller to see the change",
    );
    assert_unmet(
        &check_since(UPDATED, &before, &world([status(d.clone(), 3, 1, 3, 3)])),
        "deployment web: rollout in progress, 1 of 2 new replicas updated",
    );
    assert_unmet(
        &check_since(UPDATED, &before, &world([status(d.clone(), 3, 2, 3, 3)])),
        "deployment web: rollout in progress, 1 old replicas pending termination",
    );
    assert_unmet(
        &check_since(UPDATED, &before, &world([status(d.clone(), 2, 2, 1, 1)])),
        "deployment web: rollout in progress, 1 of 2 updated replicas available",
    );
    // Counters done, but an old pod is still alive.
    let now = world([
        d,
        pod("web-2222-a", "web", "example/app:v2"),
        pod("web-2222-b", "web", "example/app:v2"),
        pod("web-1111-a", "web", "example/app:v1"),
    ]);
    assert_unmet(
        &check_since(UPDATED, &before, &now),
        "deployment web: 1 old pods still running (web-1111-a)",
    );
}

#[test]
fn updated_accepts_a_deployment_created_during_the_step() {
    assert_met(&check_since(UPDATED, &world([]), &on_v2()));
}

// ---- rolled_back ----

const ROLLED_BACK: &str = "kind: rolled_back\ndeployment: web\nimage: example/app:v2\n";

/// v1 (rev 1), v2 (rev 2), then a broken v3 (rev 3) stuck pulling.
fn stuck_on_v3() -> World {
    world([
        status(
            revision(
                set_image(
                    set_image(deployment("web", "example/app:v1", 2), "example/app:v2"),
                    "example/app:v3",
                ),
                3,
            ),
            3,
            1,
            2,
            2,
        ),
        replica_set("web-1111", "web", "example/app:v1", 1),
        replica_set("web-2222", "web", "example/app:v2", 2),
        replica_set("web-3333", "web", "example/app:v3", 3),
        pod("web-2222-a", "web", "example/app:v2"),
        pod("web-2222-b", "web", "example/app:v2"),
        waiting_pod("web-3333-a", "web", "example/app:v3", "ImagePullBackOff"),
    ])
}

/// After `rollout undo`: the v2 ReplicaSet is reused at revision 4.
fn back_on_v2() -> World {
    let mut rs = replica_set("web-2222", "web", "example/app:v2", 4);
    rs["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] = json!("2");
    world([
        revision(
            set_image(
                set_image(
                    set_image(deployment("web", "example/app:v1", 2), "example/app:v2"),
                    "example/app:v3",
                ),
                "example/app:v2",
            ),
            4,
        ),
        replica_set("web-1111", "web", "example/app:v1", 1),
        rs,
        replica_set("web-3333", "web", "example/app:v3", 3),
        pod("web-2222-a", "web", "example/app:v2"),
        pod("web-2222-b", "web", "example/app:v2"),
    ])
}

#[test]
fn rolled_back_is_met_when_an_earlier_template_returns() {
    let status = check_since(ROLLED_BACK, &stuck_on_v3(), &back_on_v2());
    assert_met(&status);
    assert_eq!(
        status.summary,
        "deployment web: rolled back to example/app:v2 (revision 4)"
    );
}

#[test]
fn rolled_back_names_the_image_still_in_the_template() {
    assert_unmet(
        &check_since(ROLLED_BACK, &stuck_on_v3(), &stuck_on_v3()),
        "deployment web runs example/app:v3, expected example/app:v2",
    );
}

#[test]
fn rolled_back_needs_a_new_revision_since_the_step_began() {
    let status = check_since(ROLLED_BACK, &on_v2(), &on_v2());
    assert_unmet(
        &status,
        "deployment web has not been rolled back since the step began (still at revision 2)",
    );
    assert_eq!(status.details[0].expected, "newer than 2");
}

#[test]
fn rolled_back_rejects_a_brand_new_template() {
    // Revision 4 runs v2 but from a ReplicaSet that did not exist when the step began.
    let now = world([
        revision(
            set_image(deployment("web", "example/app:v1", 2), "example/app:v2"),
            4,
        ),
        replica_set("web-4444", "web", "example/app:v2", 4),
        pod("web-4444-a", "web", "example/app:v2"),
        pod("web-4444-b", "web", "example/app:v2"),
    ]);
    let status = check_since(ROLLED_BACK, &stuck_on_v3(), &now);
    assert_unmet(
        &status,
        "deployment web moved to a new template (ReplicaSet web-4444), not back to an earlier one",
    );
}

#[test]
fn rolled_back_waits_for_the_rollout_and_needs_a_baseline() {
    let mut now = back_on_v2();
    let d = now
        .get("apps/v1", "Deployment", "default", "web")
        .unwrap()
        .clone();
    now.insert_object(status(d, 3, 2, 2, 2)).unwrap();
    assert_unmet(
        &check_since(ROLLED_BACK, &stuck_on_v3(), &now),
        "deployment web: rollout in progress, 1 old replicas pending termination",
    );
    assert_unmet(
        &check_since(ROLLED_BACK, &world([]), &back_on_v2()),
        "deployment web did not exist when the step began, so it cannot have been rolled back",
    );
}

// ---- rollout_stuck ----

const STUCK: &str = "kind: rollout_stuck\ndeployment: web\nimage: example/app:v3\n";

#[test]
fn rollout_stuck_is_met_when_a_pod_cannot_pull() {
    let status = check(STUCK, &stuck_on_v3());
    assert_met(&status);
    assert_eq!(
        status.summary,
        "deployment web is stuck: pod web-3333-a cannot pull example/app:v3 (ImagePullBackOff)"
    );
}

#[test]
fn rollout_stuck_accepts_an_exceeded_progress_deadline() {
    let mut d = status(
        set_image(deployment("web", "example/app:v2", 2), "example/app:v3"),
        3,
        1,
        2,
        2,
    );
    d["status"]["conditions"] =
        json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
    assert_met(&check(STUCK, &world([d])));
}

#[test]
fn rollout_stuck_is_not_met_while_pods_are_still_starting_or_on_success() {
    let d = status(
        set_image(deployment("web", "example/app:v2", 2), "example/app:v3"),
        3,
        1,
        2,
        2,
    );
    let starting = world([
        d.clone(),
        waiting_pod("web-3333-a", "web", "example/app:v3", "ContainerCreating"),
    ]);
    assert_unmet(
        &check(STUCK, &starting),
        "deployment web: no pod has failed to pull example/app:v3 yet; pod web-3333-a is ContainerCreating",
    );
    assert_unmet(
        &check(STUCK, &world([d])),
        "deployment web: no pod has failed to pull example/app:v3 yet; no pod runs example/app:v3 yet",
    );
    let done = world([
        deployment("web", "example/app:v3", 1),
        pod("web-1", "web", "example/app:v3"),
    ]);
    assert_unmet(
        &check(STUCK, &done),
        "deployment web rolled out example/app:v3 successfully; expected it to be stuck",
    );
    assert_unmet(
        &check(STUCK, &on_v2()),
        "deployment web runs example/app:v2, expected example/app:v3",
    );
}

// ---- baseline ----

#[test]
fn baselines_record_history_aware_deployments_only() {
    let goals = [
        goal("kind: updated\ndeployment: web\nimage: example/app:v2\n"),
        goal("kind: deployed\ndeployment: other\nimage: x\n"),
        goal("kind: rolled_back\ndeployment: gone\nimage: x\n"),
    ];
    let baseline = Baseline::capture(&stuck_on_v3(), &goals, "default");
    assert_eq!(baseline.deployments.len(), 1);
    let web = &baseline.deployments["web"];
    assert_eq!(web.revision, Some(3));
    assert_eq!(web.images["app"], "example/app:v3");
    assert_eq!(web.replica_sets.len(), 3);
    assert_eq!(web.replica_sets["web-2222"], Some(2));
}
