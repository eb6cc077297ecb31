//! One test per lint rule, each on a small lesson that breaks only that rule.

use super::*;
use crate::lesson::load_str;

const HEAD: &str = "version: 1\ntitle: T\nsandbox:\n  images:\n    - image: web:1\nsteps:\n";

/// Lints `HEAD` + `steps` and returns `(severity, line, message)` of each finding.
fn findings(steps: &str) -> Vec<(Severity, usize, String)> {
    let loaded = load_str("t.yaml", &format!("{HEAD}{steps}")).expect("the test lesson loads");
    lint(&loaded)
        .into_iter()
        .map(|d| (d.severity, d.line, d.message))
        .collect()
}

fn only(steps: &str) -> (Severity, usize, String) {
    let mut all = findings(steps);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

use crate::lesson::Severity;

const OK_STEP: &str = "  - id: one\n    title: One\n    solution:\n      - kubectl create deployment web --image=web:1\n    goals:\n      - kind: deployed\n        deployment: web\n        image: web:1\n";

#[test]
fn a_good_lesson_has_no_findings() {
    assert_eq!(findings(OK_STEP), vec![]);
}

#[test]
fn duplicate_step_ids_point_at_the_second() {
    let (sev, line, msg) = only(&format!("{OK_STEP}  - id: one\n    title: Again\n"));
    assert_eq!((sev, line), (Severity::Error, 15));
    assert!(msg.contains("first used on line 7"), "{msg}");
}

#[test]
fn step_ids_must_be_dns_labels() {
    let (sev, line, msg) = only("  - id: Step_1\n    title: One\n");
    assert_eq!((sev, line), (Severity::Error, 7));
    assert!(msg.contains("`Step_1`"), "{msg}");
    assert!(is_step_id("a-1") && !is_step_id("-a") && !is_step_id("a-") && !is_step_id(""));
}

#[test]
fn kubernetes_names_are_checked() {
    let steps = "  - id: one\n    title: One\n    solution:\n      - kubectl create deployment Web --image=web:1\n    goals:\n      - kind: deployed\n        deployment: Web\n        image: web:1\n";
    let (_, line, msg) = only(steps);
    assert_eq!(line, 13);
    assert!(msg.contains("not a valid Deployment name"), "{msg}");
}

#[test]
fn selectors_must_parse_and_exclude_names() {
    let steps = "  - id: one\n    title: One\n    capture:\n      - name: X\n        from:\n          apiVersion: v1\n          kind: Pod\n          selector: 'a in (b'\n        path: .metadata.name\n";
    let (_, line, msg) = only(steps);
    assert_eq!(line, 14);
    assert!(msg.contains("not a valid label selector"), "{msg}");
}

#[test]
fn capture_names_and_duplicates() {
    let capture = |name: &str| {
        format!(
            "      - name: {name}\n        from:\n          apiVersion: v1\n          kind: Pod\n        path: .metadata.name\n"
        )
    };
    let steps = format!(
        "  - id: one\n    title: One\n    capture:\n{}{}{}",
        capture("pod"),
        capture("POD"),
        capture("POD")
    );
    let all = findings(&steps);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(all[0].2.contains("upper-case"));
    assert!(
        all[1].2.contains("already captured by this step (line 15)"),
        "{all:#?}"
    );
}

#[test]
fn variables_must_be_captured_earlier() {
    let steps = "  - id: one\n    title: One\n    commands:\n      - echo $LATER $HOME $lower\n  - id: two\n    title: Two\n    commands:\n      - export MINE=1\n      - echo $MINE $LATER $NEVER\n    capture:\n      - name: LATER\n        from:\n          apiVersion: v1\n          kind: Pod\n        path: .metadata.name\n";
    let all = findings(steps);
    let messages: Vec<&str> = all.iter().map(|f| f.2.as_str()).collect();
    assert_eq!(all.len(), 3, "{messages:#?}");
    assert!(messages[0].starts_with("`$LATER` is used before it is captured"));
    assert!(messages[1].starts_with("`$LATER` is used before it is captured"));
    assert_eq!(messages[2], "`$NEVER` is not captured by any step");
}

#[test]
fn goals_without_solution_warn() {
    let steps = "  - id: one\n    title: One\n    goals:\n      - kind: absent\n        target:\n          apiVersion: v1\n          kind: Pod\n";
    let (sev, line, msg) = only(steps);
    assert_eq!((sev, line), (Severity::Warning, 9));
    assert!(msg.contains("no solution"), "{msg}");
}

#[test]
fn unreachable_images_and_replicas_warn() {
    let steps = "  - id: one\n    title: One\n    solution:\n      - kubectl create deployment web --image=web:1\n    goals:\n      - kind: updated\n        deployment: web\n        image: web:10\n      - kind: scaled\n        deployment: web\n        replicas: 3\n";
    let all = findings(steps);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(all[0].2.contains("uses image `web:10`"));
    assert!(all[1].2.contains("sets 3 replicas"));
}

#[test]
fn catalogue_rules() {
    let steps = "  - id: one\n    title: One\n    solution:\n      - kubectl create deployment web --image=other:2\n";
    let (sev, line, msg) = only(steps);
    assert_eq!((sev, line), (Severity::Warning, 10));
    assert!(msg.contains("not in `sandbox.images`"), "{msg}");

    let stuck = "  - id: one\n    title: One\n    solution:\n      - kubectl set image deployment/web web=web:1\n    goals:\n      - kind: rollout_stuck\n        deployment: web\n        image: web:1\n";
    let (sev, _, msg) = only(stuck);
    assert_eq!(sev, Severity::Warning);
    assert!(msg.contains("will not get stuck"), "{msg}");
}

#[test]
fn http_goal_sanity() {
    let steps = "  - id: one\n    title: One\n    solution:\n      - kubectl get pods\n    goals:\n      - kind: http\n        service: web\n        contains: hi\n        distinct: 0\n";
    let (sev, line, msg) = only(steps);
    assert_eq!((sev, line), (Severity::Error, 15));
    assert!(msg.contains("`distinct` must be at least 1"), "{msg}");
}

#[test]
fn empty_titles_are_errors() {
    let (sev, line, msg) = only("  - id: one\n    title: ''\n");
    assert_eq!((sev, line), (Severity::Error, 8));
    assert_eq!(msg, "the step title is empty");
}

#[test]
fn duplicate_catalogue_images_are_errors() {
    let text = "version: 1\ntitle: T\nsandbox:\n  images:\n    - image: web:1\n    - image: web:1\nsteps: []\n";
    let loaded = load_str("t.yaml", text).unwrap();
    let all = lint(&loaded);
    assert!(
        all.iter()
            .any(|d| d.line == 6 && d.message.contains("already in the sandbox catalogue")),
        "{all:#?}"
    );
}

#[test]
fn expectations_are_plain_commands_on_reading_steps() {
    let reading = "  - id: look\n    title: Look\n    expect:\n      - kubectl get pods\n      - kubectl logs | head\n      - ''\n";
    let all = findings(reading);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!((all[0].0, all[0].1), (Severity::Error, 11));
    assert!(all[0].2.contains("shell syntax `|`"), "{}", all[0].2);
    assert_eq!(all[1].1, 12);
    assert!(all[1].2.contains("is empty"), "{}", all[1].2);

    let with_goals = format!("{OK_STEP}    expect:\n      - kubectl get pods\n");
    let (sev, line, msg) = only(&with_goals);
    assert_eq!((sev, line), (Severity::Error, 15));
    assert!(msg.contains("has goals"), "{msg}");
}
