//! `kubetutor check` end to end: the real binary on fresh embedded sandboxes, with the real
//! kubectl 1.37 first on PATH for the lessons' solution commands.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_yaml::Value;

use kubetutor::sandbox::store::ResKey;
use kubetutor::sandbox::{Sandbox, SandboxConfig};

use crate::common::{kubetutor_std, real_kubectl};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A private HOME/kubectl cache and a PATH whose `kubectl` is the real 1.37.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Option<Env> {
        let kubectl = real_kubectl()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin dir");
        std::os::unix::fs::symlink(&kubectl, bin.join("kubectl")).expect("kubectl link");
        Some(Env { dir })
    }

    fn check(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::from_std(self.check_std());
        cmd.timeout(Duration::from_secs(180));
        cmd
    }

    /// `kubetutor check` as a plain command, for a test that signals the running child.
    fn check_std(&self) -> std::process::Command {
        let mut cmd = kubetutor_std();
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.arg("check")
            .env(
                "PATH",
                format!("{}:{path}", self.dir.path().join("bin").display()),
            )
            .env("HOME", self.dir.path())
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env("KUBETUTOR_KUBECTL", "");
        cmd
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut assert_cmd::Command) -> Run {
    let out = cmd.output().expect("kubetutor runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The shipped Part 3 lesson and its number of steps.
fn part3() -> (PathBuf, usize) {
    let path = repo("lessons/part3-deploy-a-simple-app.yaml");
    let text = std::fs::read_to_string(&path).expect("the Part 3 lesson is readable");
    let lesson: Value = serde_yaml::from_str(&text).expect("the Part 3 lesson parses");
    let steps = lesson["steps"].as_sequence().expect("steps").len();
    (path, steps)
}

/// A sandbox playing a learner's real cluster: `check --context` sees only a kubeconfig.
struct RealCluster {
    sandbox: Option<Sandbox>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl RealCluster {
    fn start() -> RealCluster {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, _) = part3();
        let lesson = kubetutor::lesson::load(&path).expect("the Part 3 lesson loads");
        let sandbox = runtime
            .block_on(Sandbox::start(SandboxConfig {
                kubeconfig: Some(dir.path().join("kubeconfig")),
                images: lesson.lesson.sandbox.apps(),
                speed: 20.0,
                ..SandboxConfig::default()
            }))
            .expect("sandbox starts");
        RealCluster {
            sandbox: Some(sandbox),
            runtime,
            _dir: dir,
        }
    }

    fn sandbox(&self) -> &Sandbox {
        self.sandbox.as_ref().expect("running")
    }

    fn kubeconfig(&self) -> PathBuf {
        self.sandbox().kubeconfig_path().to_owned()
    }

    /// Names of the namespaces that exist now.
    fn namespaces(&self) -> Vec<String> {
        let (items, _) = self.sandbox().store().list_arc(&ResKey::namespaces(), None);
        items
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for RealCluster {
    fn drop(&mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            self.runtime.block_on(sandbox.shutdown());
        }
    }
}

#[test]
fn the_part3_lesson_passes_every_step_on_the_sandbox_with_a_junit_report() {
    let Some(env) = Env::new() else { return };
    let (lesson, steps) = part3();
    let junit = env.path("junit.xml");
    let started = Instant::now();
    let out = run(env
        .check()
        .arg("--sandbox")
        .arg("--junit")
        .arg(&junit)
        .arg(&lesson));
    assert_eq!(
        out.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(out.stdout.matches('✔').count(), steps, "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("{steps} passed, 0 failed")),
        "{}",
        out.stdout
    );
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert_eq!(xml.matches("<testsuite ").count(), 1, "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), steps, "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
    assert!(
        xml.contains("deploy - Create your first Deployment"),
        "{xml}"
    );
}

#[test]
fn a_solution_that_never_sets_the_expected_image_fails_naming_the_step_and_both_images() {
    let Some(env) = Env::new() else { return };
    let junit = env.path("junit.xml");
    let out = run(env
        .check()
        .args(["--sandbox", "--junit"])
        .arg(&junit)
        .arg(repo("tests/lessons/check/wrong-image.yaml")));
    assert_eq!(
        out.code,
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    let failed = out
        .stdout
        .lines()
        .find(|l| l.contains('✘'))
        .expect("a failed step line");
    assert!(failed.contains("update"), "{}", out.stdout);
    assert!(out.stdout.contains("example/app:v2"), "{}", out.stdout);
    assert!(out.stdout.contains("example/app:v3"), "{}", out.stdout);
    // The solution's output is shown with the failure.
    assert!(
        out.stdout
            .contains("$ kubectl set image deployment/web app=example/app:v3"),
        "{}",
        out.stdout
    );
    // Without --fail-fast the next step still runs.
    assert!(out.stdout.contains("✔ scale"), "{}", out.stdout);
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("example/app:v2"), "{xml}");
}

#[test]
fn a_goal_that_holds_before_the_solution_runs_is_a_lesson_bug() {
    let Some(env) = Env::new() else { return };
    let out = run(env
        .check()
        .arg("--sandbox")
        .arg(repo("tests/lessons/check/already-met.yaml")));
    assert_eq!(
        out.code,
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout
            .contains("lesson bug: goal 1 (deployed) already holds before the solution runs"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("✔ create"), "{}", out.stdout);
    assert!(out.stdout.contains("✘ look"), "{}", out.stdout);
}

#[test]
fn goals_name_the_values_earlier_steps_captured() {
    let Some(env) = Env::new() else { return };
    let out = run(env
        .check()
        .arg("--sandbox")
        .arg(repo("tests/lessons/check/captured-in-goals.yaml")));
    assert_eq!(
        out.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains("✔ replace"), "{}", out.stdout);
}

#[test]
fn a_malformed_lesson_exits_2_with_its_located_diagnostic() {
    let Some(env) = Env::new() else { return };
    let out = run(env
        .check()
        .arg("--sandbox")
        .arg(repo("tests/lessons/bad/typo-goal.yaml")));
    assert_eq!(
        out.code,
        Some(2),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stderr.contains("typo-goal.yaml:"), "{}", out.stderr);
    assert!(out.stderr.contains("help:"), "{}", out.stderr);
    let missing = run(env.check().arg("--sandbox").arg(env.path("nope.yaml")));
    assert_eq!(missing.code, Some(2), "{}", missing.stderr);
}

#[test]
fn fail_fast_skips_the_rest_and_json_lines_carry_event_and_ts() {
    let Some(env) = Env::new() else { return };
    let junit = env.path("junit.xml");
    let out = run(env
        .check()
        .args(["--sandbox", "--fail-fast", "--json", "--junit"])
        .arg(&junit)
        .arg(repo("tests/lessons/check/wrong-image.yaml")));
    assert_eq!(
        out.code,
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    // Every line is an event of the shipped schema, with `version` and `ts`.
    let events = crate::support::events::parse_events(&out.stdout);
    for event in &events {
        let ts = event["ts"].as_str().expect("ts");
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");
    }
    let names: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap_or(""),
                e["step"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(names.contains(&("step_passed", "create")), "{names:?}");
    assert!(names.contains(&("step_failed", "update")), "{names:?}");
    assert!(names.contains(&("step_skipped", "scale")), "{names:?}");
    assert!(!names.contains(&("step_started", "scale")), "{names:?}");
    assert_eq!(names.first().map(|n| n.0), Some("lesson_started"));
    let passed = events
        .iter()
        .find(|e| e["event"] == "step_passed")
        .expect("step_passed");
    assert!(passed["duration_ms"].is_u64(), "{passed}");
    // The lesson's end names its first failed step and why, in the one `lesson_failed` shape.
    let end = events.last().expect("events");
    assert_eq!(end["event"], "lesson_failed", "{names:?}");
    assert_eq!(end["step"], "update", "{end}");
    assert_eq!(end["steps_failed"], 1, "{end}");
    assert!(
        end["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("wrong-image.yaml")),
        "{end}"
    );
    assert!(
        end["reason"]
            .as_str()
            .is_some_and(|r| r.contains("example/app:v2")),
        "{end}"
    );
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
    assert_eq!(xml.matches("<skipped").count(), 1, "{xml}");
}

#[test]
fn on_a_context_each_lesson_gets_a_fresh_namespace_that_is_deleted_afterwards() {
    let Some(env) = Env::new() else { return };
    let cluster = RealCluster::start();
    let (lesson, steps) = part3();
    let out = run(env
        .check()
        .env("KUBECONFIG", cluster.kubeconfig())
        .args(["--context", "kubetutor-sandbox"])
        .arg(&lesson));
    assert_eq!(
        out.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(out.stdout.matches('✔').count(), steps, "{}", out.stdout);
    let namespace = out
        .stdout
        .split("namespace ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the namespace is named")
        .to_owned();
    assert!(namespace.starts_with("default-check-"), "{}", out.stdout);
    let namespaces = cluster.namespaces();
    assert!(!namespaces.contains(&namespace), "{namespaces:?}");
    // The learner's own namespace was never touched.
    let (deployments, _) = cluster
        .sandbox()
        .store()
        .list_arc(&ResKey::deployments(), None);
    assert!(deployments.is_empty(), "{deployments:?}");
}

#[test]
fn ctrl_c_during_a_check_deletes_the_fresh_namespace_and_exits_130() {
    use std::io::BufRead;
    let Some(env) = Env::new() else { return };
    let cluster = RealCluster::start();
    let (lesson, _) = part3();
    let junit = env.path("junit.xml");
    let mut cmd = env.check_std();
    let mut child = cmd
        .env("KUBECONFIG", cluster.kubeconfig())
        .args(["--context", "kubetutor-sandbox", "--junit"])
        .arg(&junit)
        .arg(&lesson)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubetutor check starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok);
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        seen.push(line.clone());
        if line.contains("✔ deploy") {
            break;
        }
    }
    let namespace = seen
        .iter()
        .find_map(|l| l.split("namespace ").nth(1))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no namespace line in {seen:?}"));
    assert!(
        cluster.namespaces().contains(&namespace),
        "{namespace} exists while the check runs"
    );
    let signal = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(signal.success());
    seen.extend(lines);
    let status = child.wait().expect("kubetutor check ends");
    let text = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(
        text.contains(&format!(
            "Interrupted: deleting namespace {namespace} on context kubetutor-sandbox"
        )),
        "{text}"
    );
    assert!(text.contains("skipped"), "{text}");
    assert!(!cluster.namespaces().contains(&namespace), "{text}");
    // The reports are still written, with the steps not run marked skipped.
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    assert!(xml.contains("<skipped"), "{xml}");
}
