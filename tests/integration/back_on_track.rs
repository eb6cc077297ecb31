//! Getting back on track: `run --from` setting up what earlier steps leave (with consent), a
//! finished lesson not played again on its old cluster unasked, and the step ids `--from`
//! takes.

use std::path::Path;
use std::process::Command;

use crate::common::real_kubectl;
use crate::practice::Guard;
use crate::run_json::{RunChild, World};
use crate::support::learner::{names, part3_tutorial_commands, typed, until_a_step_starts};

/// `kubetutor run` with a private home and state, and a kubeconfig that names no cluster.
fn run_command(home: &Path, lesson: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("kubetutor"));
    command
        .arg("run")
        .arg(lesson)
        .args(extra)
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"));
    command
}

#[test]
fn from_a_later_step_with_yes_sets_up_the_earlier_steps_and_the_step_passes() {
    let Some(kubectl) = real_kubectl() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let _practice = Guard::new(&dir.path().join("state"));
    let lesson =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/part3-deploy-a-simple-app.yaml");
    let command = run_command(
        dir.path(),
        &lesson,
        &[
            "--from",
            "scale-up",
            "--yes",
            "--no-input",
            "--json",
            "--sandbox",
            "--reset",
        ],
    );
    let mut run = RunChild::spawn(command);
    let mut events = until_a_step_starts(&mut run);
    assert_eq!(
        names(&events).last().map(String::as_str),
        Some("step_started scale-up"),
        "{events:?}"
    );
    let kubeconfig = dir.path().join("state/kubetutor/practice/kubeconfig");
    assert!(kubeconfig.exists(), "the practice cluster's kubeconfig");
    for line in part3_tutorial_commands("scale-up") {
        let mut command = Command::new(&kubectl);
        command
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", dir.path())
            .env("KUBECACHEDIR", dir.path().join("cache"))
            .env_remove("KUBECTL_KUBERC");
        assert!(typed(command, &line), "{line} works");
    }
    while let Some(event) = run.next() {
        let name = event["event"].as_str().unwrap_or_default().to_owned();
        assert_ne!(name, "step_failed", "{event}");
        events.push(event);
        if name == "step_passed" {
            break;
        }
    }
    assert_eq!(
        names(&events).last().map(String::as_str),
        Some("step_passed scale-up"),
        "{events:?}"
    );
    let _ = run.kill();
    let (_, stderr) = run.finish();
    // The commands were shown before they ran, and only for steps whose goals did not hold.
    for shown in [
        "$ kubectl create deployment hello-part3 --image=tsouche/learn-kubernetes:part3v1",
        "$ kubectl expose deployment/hello-part3 --type=NodePort --port 80",
        "Set up step 1/17 [deploy].",
        "Step 9/17 [delete-service] (only if its goals no longer hold by then):",
        "Set up step 10/17 [expose-again].",
    ] {
        assert!(stderr.contains(shown), "{shown:?} in:\n{stderr}");
    }
    assert!(
        !stderr.contains("[look-around]"),
        "a reading step's solution is not run: {stderr}"
    );
}

#[test]
fn from_without_yes_says_what_is_missing_and_runs_nothing() {
    let Some(world) = World::start() else { return };
    // `--from` takes a step's number too: 3 is `expose`.
    let mut run = world.run(&["--from", "3"]);
    let events = until_a_step_starts(&mut run);
    assert_eq!(names(&events), ["step_started expose"]);
    let _ = run.kill();
    let (_, stderr) = run.finish();
    for said in [
        "the goals of step 2 [create] do not hold",
        "$ kubectl create deployment web --image=example/web:v1",
        "Nothing was run: pass --yes",
    ] {
        assert!(stderr.contains(said), "{said:?} in:\n{stderr}");
    }
    assert!(
        !world.kubectl("kubectl get deployment web"),
        "nothing was created"
    );
}

#[test]
fn a_finished_lesson_is_not_played_again_unasked_and_the_summary_counts_the_whole_lesson() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lesson = dir.path().join("two.yaml");
    std::fs::write(
        &lesson,
        "version: 1\ntitle: Two\nsteps:\n  - id: one\n    title: One\n  - id: two\n    title: Two\n",
    )
    .expect("write lesson");
    let run = |extra: &[&str]| {
        let out = run_command(dir.path(), &lesson, extra)
            .arg("--sandbox")
            .output()
            .expect("kubetutor runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Stop after step one, then finish: the summary counts both sessions' steps.
    let (code, _, stderr) = run(&["--no-input", "--from", "two"]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) = run(&["--no-input", "--from", "one"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("Lesson complete: 2 passed, 0 skipped, 0 to go of 2 steps"),
        "{stdout}"
    );

    let (code, stdout, stderr) = run(&["--no-input"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("You finished this lesson before"),
        "{stdout}"
    );
    assert!(stdout.contains("--reset"), "{stdout}");
    assert!(!stdout.contains("Step 1/2"), "nothing runs: {stdout}");

    let (code, stdout, stderr) = run(&["--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.is_empty(), "no events: {stdout}");
    assert!(
        stderr.contains("You finished this lesson before"),
        "{stderr}"
    );

    let (code, stdout, stderr) = run(&["--no-input", "--reset"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("Step 1/2 · One  [one]"), "{stdout}");
}
