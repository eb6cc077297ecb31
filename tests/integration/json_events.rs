//! `run --json` and `check --json` through the real binary on the embedded sandbox, with
//! lessons that need no kubectl: every line must be valid against the shipped schema, and the
//! two commands share one shape per event.

use std::path::{Path, PathBuf};

use crate::common::kubetutor;
use crate::support::events::parse_events;
use crate::support::learner::names;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write lesson");
    path
}

#[test]
fn run_json_events_match_the_schema_from_the_sandbox_to_a_failed_step() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lesson = write(
        dir.path(),
        "events.yaml",
        "version: 1\ntitle: Events\nnamespace: events\nsteps:\n  - id: read\n    title: Read\n  \
         - id: none\n    title: Nothing there\n    timeout: 20s\n    goals:\n      - kind: absent\n        \
         target: {apiVersion: v1, kind: ConfigMap, name: nothing}\n  \
         - id: never\n    title: Never made\n    timeout: 1s\n    goals:\n      - kind: resource\n        \
         target: {apiVersion: v1, kind: ConfigMap, name: never}\n",
    );
    let _guard = crate::practice::Guard::new(&dir.path().join("state"));
    let out = kubetutor()
        .args(["run", "--sandbox", "--json"])
        .arg(&lesson)
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("kubetutor runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let events = parse_events(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        names(&events),
        [
            "sandbox_started",
            "step_started read",
            "step_passed read",
            "step_started none",
            "goal_met none",
            "step_passed none",
            "step_started never",
            "step_failed never",
            "lesson_failed never",
        ],
        "{stderr}"
    );
    for passed in events.iter().filter(|e| e["event"] == "step_passed") {
        assert!(passed["duration_ms"].is_u64(), "{passed}");
    }
    let failed = &events[7];
    assert_eq!(
        failed["details"][0], "goal 1 (resource): no ConfigMap named never in namespace events",
        "{failed}"
    );
    let end = &events[8];
    assert_eq!(end["steps_failed"], 1, "{end}");
    assert_eq!(end["reason"], failed["reason"], "{end}");
    assert_eq!(end["file"], lesson.display().to_string(), "{end}");
}

#[test]
fn check_json_events_match_the_schema_for_passed_failed_and_unloadable_lessons() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lesson = write(
        dir.path(),
        "a-checked.yaml",
        "version: 1\ntitle: Checked\nnamespace: checked\nsteps:\n  - id: hello\n    title: Hello\n    \
         solution: [\"echo hello\"]\n  - id: vacuous\n    title: Already true\n    solution: [\"true\"]\n    \
         timeout: 20s\n    goals:\n      - kind: absent\n        \
         target: {apiVersion: v1, kind: ConfigMap, name: nothing}\n",
    );
    let broken = write(dir.path(), "b-broken.yaml", "version: 1\ntitel: Broken\n");
    let out = kubetutor()
        .args(["check", "--sandbox", "--json"])
        .arg(&lesson)
        .arg(&broken)
        .env("HOME", dir.path())
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("kubetutor runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A lesson that does not load (2) outranks a failed step (1).
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let events = parse_events(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        names(&events),
        [
            "lesson_started",
            "step_started hello",
            "step_passed hello",
            "step_started vacuous",
            "goal_met vacuous",
            "step_failed vacuous",
            "lesson_failed vacuous",
            "lesson_failed",
        ],
        "{stderr}"
    );
    let failed = &events[5];
    assert!(
        failed["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("lesson bug: goal 1 (absent) already holds")),
        "{failed}"
    );
    assert_eq!(failed["output"], "$ true\n", "{failed}");
    assert!(failed["duration_ms"].is_u64(), "{failed}");
    // The lesson that could not be checked: no step, the diagnostic's first line.
    let unloadable = &events[7];
    assert_eq!(unloadable["file"], broken.display().to_string());
    assert_eq!(unloadable["steps_failed"], 0, "{unloadable}");
    assert!(
        unloadable["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("error: unknown field `titel`")),
        "{unloadable}"
    );
}
