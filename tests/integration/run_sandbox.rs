//! `kubetutor run` starting the practice cluster itself: when asked, and when no kubeconfig
//! context answers; the learner's kubectl uses the KUBECONFIG line it prints.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::real_kubectl;
use crate::practice::Guard;
use crate::run_json::{RunChild, lesson_path};

/// The kubeconfig of the practice cluster `run` started under `$XDG_STATE_HOME` = `home/state`.
fn sandbox_kubeconfig(home: &Path) -> PathBuf {
    let path = home.join("state/kubetutor/practice/kubeconfig");
    assert!(
        path.exists(),
        "the practice cluster keeps its kubeconfig under the state dir"
    );
    path
}

/// Runs the real kubectl against `run`'s sandbox, as the learner's second terminal does.
fn kubectl_ok(kubectl: &Path, home: &Path, args: &[&str]) {
    let out = Command::new(kubectl)
        .args(args)
        .env("KUBECONFIG", sandbox_kubeconfig(home))
        .env("KUBECACHEDIR", home.join("cache"))
        .env("HOME", home)
        .output()
        .expect("kubectl runs");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn without_a_cluster_run_starts_the_sandbox_and_says_how_to_reach_it() {
    let Some(kubectl) = real_kubectl() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let _guard = Guard::new(&dir.path().join("state"));
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("kubetutor"));
    command
        .arg("run")
        .arg(lesson_path())
        .arg("--json")
        .env_remove("KUBECONFIG")
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"));
    let mut run = RunChild::spawn(command);
    while let Some(event) = run.next() {
        if event["event"] == "step_started" && event["step"] == "create" {
            break;
        }
    }
    let kubeconfig = sandbox_kubeconfig(dir.path());
    kubectl_ok(
        &kubectl,
        dir.path(),
        &[
            "-n",
            "run-basics",
            "create",
            "deployment",
            "web",
            "--image=example/web:v1",
        ],
    );
    while let Some(event) = run.next() {
        if event["event"] == "step_passed" {
            assert_eq!(event["step"], "create");
            break;
        }
    }
    let _ = run.kill();
    let (_, stderr) = run.finish();
    assert!(
        stderr.contains(
            "No cluster is configured (KUBECONFIG is not set and ~/.kube/config does not exist); \
             using the practice cluster kubetutor-sandbox."
        ),
        "says why it starts the sandbox: {stderr}"
    );
    assert!(
        stderr.contains(&format!("export KUBECONFIG={}", kubeconfig.display())),
        "prints the line to paste: {stderr}"
    );
}

#[test]
fn a_cluster_that_is_not_a_practice_one_needs_yes() {
    let Some(world) = crate::run_json::World::start() else {
        return;
    };
    let prod_path = prod_kubeconfig(&world);
    let command = |extra: &[&str]| {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("kubetutor"));
        command
            .arg("run")
            .arg(lesson_path())
            .args(extra)
            .env("KUBECONFIG", &prod_path)
            .env("HOME", world.dir.path())
            .env("XDG_STATE_HOME", world.dir.path().join("state"));
        command
    };

    let run = RunChild::spawn(command(&["--no-input"]));
    let (code, stderr) = run.finish();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("context prod-cluster")
            && stderr.contains("does not look like a practice cluster")
            && stderr.contains("--yes"),
        "{stderr}"
    );

    let mut run = RunChild::spawn(command(&["--json", "--yes"]));
    let first = run.next().expect("the lesson starts with --yes");
    assert_eq!(first["event"], "step_started");
    let _ = run.kill();
}

/// A kubeconfig for `world`'s sandbox that looks like a remote cluster named `prod-cluster`
/// (0.0.0.0 still reaches the sandbox on Linux).
pub fn prod_kubeconfig(world: &crate::run_json::World) -> std::path::PathBuf {
    let kubeconfig = std::fs::read_to_string(world.kubeconfig()).expect("kubeconfig");
    let prod: String = kubeconfig
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("certificate-authority-data:") {
                "    insecure-skip-tls-verify: true".to_owned()
            } else {
                line.replace("https://127.0.0.1", "https://0.0.0.0")
                    .replace("kubetutor-sandbox", "prod-cluster")
            }
        })
        .map(|line| line + "\n")
        .collect();
    let prod_path = world.dir.path().join("prod-kubeconfig");
    std::fs::write(&prod_path, prod).expect("write kubeconfig");
    prod_path
}

/// `--json` keeps stdout for events even when `run` starts the sandbox itself: the line to
/// paste and the reason go to stderr.
#[test]
fn json_mode_writes_only_events_on_stdout_when_run_starts_the_sandbox() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lesson = crate::practice::quiet_lesson(dir.path());
    // Asked for with --sandbox, and as the fallback when no context answers (each in its own
    // home: the first one's practice cluster would answer the second).
    for (n, extra) in [&["--sandbox"][..], &[][..]].iter().enumerate() {
        let home = dir.path().join(format!("home-{n}"));
        let _guard = Guard::new(&dir.path().join(format!("state-{n}")));
        let out = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin("kubetutor"))
            .arg("run")
            .arg(&lesson)
            .arg("--json")
            .args(*extra)
            .env_remove("KUBECONFIG")
            .env_remove("NO_COLOR")
            .env_remove("CI")
            .env_remove("RUST_LOG")
            .env("HOME", &home)
            .env("XDG_STATE_HOME", dir.path().join(format!("state-{n}")))
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .expect("kubetutor runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {stderr}");
        let events = crate::support::events::parse_events(&stdout);
        let names: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            names,
            [
                "sandbox_started",
                "step_started",
                "step_passed",
                "step_started",
                "goal_met",
                "step_passed",
                "lesson_passed"
            ],
            "{extra:?}"
        );
        // The sandbox is an event; the line to paste stays on stderr, for humans.
        let started = &events[0];
        assert_eq!(started["context"], "kubetutor-sandbox", "{started}");
        assert!(
            started["server"]
                .as_str()
                .is_some_and(|s| s.starts_with("https://127.0.0.1:")),
            "{started}"
        );
        let kubeconfig = started["kubeconfig"].as_str().unwrap_or_default();
        assert!(
            Path::new(kubeconfig).starts_with(dir.path().join(format!("state-{n}"))),
            "{started}"
        );
        assert!(
            stderr.contains(&format!("export KUBECONFIG={kubeconfig}")),
            "{extra:?}: the line to paste is on stderr: {stderr}"
        );
        assert_eq!(events[6]["steps_passed"], 2, "{}", events[6]);
    }
}

#[test]
fn reset_starts_the_embedded_sandbox_from_an_empty_cluster() {
    let Some(kubectl) = real_kubectl() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let lesson = crate::practice::marker_lesson(dir.path(), "3s");
    let _guard = Guard::new(&dir.path().join("state"));
    let run = |extra: &[&str]| {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("kubetutor"));
        command
            .arg("run")
            .arg(&lesson)
            .args(["--sandbox", "--json"])
            .args(extra)
            .env_remove("KUBECONFIG")
            .env("HOME", dir.path())
            .env("XDG_STATE_HOME", dir.path().join("state"));
        RunChild::spawn(command)
    };
    // First run: the learner makes the ConfigMap; the sandbox saves it.
    let mut first = run(&[]);
    while let Some(event) = first.next() {
        if event["event"] == "step_started" {
            kubectl_ok(
                &kubectl,
                dir.path(),
                &["-n", "marker", "create", "configmap", "marker"],
            );
        }
    }
    let (code, stderr) = first.finish();
    assert_eq!(code, Some(0), "{stderr}");
    // Replaying the step: the saved ConfigMap is back, so the goal holds at once.
    let (code, stderr) = run(&["--from", "make"]).finish();
    assert_eq!(code, Some(0), "the sandbox kept its objects: {stderr}");
    // --reset: an empty cluster, so nobody makes the ConfigMap and the step times out.
    let mut reset = run(&["--reset"]);
    let mut events = Vec::new();
    while let Some(event) = reset.next() {
        events.push(event["event"].as_str().unwrap_or_default().to_owned());
    }
    let (code, stderr) = reset.finish();
    assert_eq!(code, Some(1), "{events:?} {stderr}");
    assert!(events.contains(&"step_failed".to_owned()), "{events:?}");
    assert!(stderr.contains("Sandbox reset"), "{stderr}");
}

#[test]
fn without_a_lesson_run_takes_the_only_one_in_lessons_or_names_them_all() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lessons = dir.path().join("lessons");
    std::fs::create_dir(&lessons).expect("lessons dir");
    let quiet = |title: &str| {
        format!(
            "version: 1\ntitle: {title}\nnamespace: quiet\nsteps:\n  - id: read\n    title: Read\n"
        )
    };
    std::fs::write(lessons.join("first.yaml"), quiet("First")).expect("write lesson");
    let _guard = Guard::new(&dir.path().join("state"));
    let run = |args: &[&str]| {
        crate::common::kubetutor()
            .current_dir(dir.path())
            .arg("run")
            .args(["--sandbox", "--json"])
            .args(args)
            .env("HOME", dir.path())
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .expect("kubetutor runs")
    };
    let out = run(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout.contains("\"lesson_passed\""), "{stdout}");
    // A lesson's name is enough.
    let out = run(&["first"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    std::fs::write(lessons.join("second.yml"), quiet("Second")).expect("write lesson");
    let out = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("lessons/first.yaml  (First)")
            && stderr.contains("lessons/second.yml  (Second)"),
        "{stderr}"
    );
}
