//! `kubetutor run --no-input --json` against an in-process sandbox, with a scripted learner
//! typing kubectl commands (the real kubectl 1.37) as each step starts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kubetutor::lesson::Lesson;
use kubetutor::sandbox::{Sandbox, SandboxConfig};

use crate::common::real_kubectl;
pub use crate::support::learner::RunChild;
use crate::support::learner::{
    assert_every_step_passed, failure, names, part3_tutorial_commands, play,
    wrong_answers_never_pass,
};

/// The lesson these tests play.
pub fn lesson_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lessons/run-basic.yaml")
}

/// An in-process sandbox, a private state dir, and the real kubectl wired to both.
pub struct World {
    /// Keeps the sandbox's tasks running.
    pub runtime: tokio::runtime::Runtime,
    /// The sandbox.
    pub sandbox: Option<Sandbox>,
    /// kubectl 1.37.
    pub kubectl: PathBuf,
    /// HOME, XDG_STATE_HOME and kubectl's cache.
    pub dir: tempfile::TempDir,
    /// The lesson file `run` plays.
    pub lesson: PathBuf,
    /// The lesson's namespace, where kubectl works.
    pub namespace: String,
    /// How the sandbox was started, to restart it alike.
    pub config: SandboxConfig,
}

impl World {
    /// Starts a fast sandbox with the lesson's images, or `None` when kubectl 1.37 is missing.
    pub fn start() -> Option<World> {
        World::start_with(lesson_path())
    }

    /// Starts a fast sandbox with the images of the lesson at `path`.
    pub fn start_with(path: PathBuf) -> Option<World> {
        let kubectl = real_kubectl()?;
        let text = std::fs::read_to_string(&path).expect("test lesson is readable");
        let lesson: Lesson = serde_yaml::from_str(&text).expect("test lesson parses");
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let config = SandboxConfig {
            kubeconfig: Some(dir.path().join("kubeconfig")),
            images: lesson.sandbox.apps(),
            state: Some(dir.path().join("sandbox-state.json")),
            speed: 10.0,
            ..SandboxConfig::default()
        };
        let sandbox = runtime
            .block_on(Sandbox::start(config.clone()))
            .expect("sandbox starts");
        Some(World {
            runtime,
            sandbox: Some(sandbox),
            kubectl,
            dir,
            lesson: path,
            namespace: lesson.namespace,
            config,
        })
    }

    /// Stops the sandbox and starts it again on the same port with the same objects (and, like
    /// a real restart, new credentials).
    pub fn restart(&mut self, down_for: Duration) {
        let sandbox = self.sandbox.take().expect("the sandbox runs");
        let addr = sandbox.addr();
        self.runtime.block_on(sandbox.shutdown());
        std::thread::sleep(down_for);
        let config = SandboxConfig {
            listen: addr,
            ..self.config.clone()
        };
        let sandbox = self
            .runtime
            .block_on(Sandbox::start(config))
            .expect("the sandbox restarts on the same port");
        self.sandbox = Some(sandbox);
    }

    /// The sandbox's kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Runs kubectl in the lesson's namespace; returns whether it succeeded.
    pub fn kubectl(&self, command: &str) -> bool {
        let mut kubectl = Command::new(&self.kubectl);
        kubectl
            .args(["-n", &self.namespace])
            .env("KUBECONFIG", self.kubeconfig())
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env("HOME", self.dir.path())
            .env_remove("KUBECTL_KUBERC");
        crate::support::learner::typed(kubectl, command)
    }

    /// A kube-rs client for the sandbox, acting beside the learner.
    pub fn client(&self) -> kube::Client {
        self.runtime.block_on(async {
            let kubeconfig =
                kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("kubeconfig");
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .expect("client config");
            kube::Client::try_from(config).expect("client")
        })
    }

    /// Starts `kubetutor run` on the lesson against this sandbox, with extra arguments.
    pub fn run(&self, extra: &[&str]) -> RunChild {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("kubetutor"));
        command
            .arg("run")
            .arg(&self.lesson)
            .args(["--context", "kubetutor-sandbox", "--no-input", "--json"])
            .args(extra)
            .env("KUBECONFIG", self.kubeconfig())
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("HOME", self.dir.path());
        RunChild::spawn(command)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            self.runtime.block_on(sandbox.shutdown());
        }
    }
}

#[test]
fn a_learner_typing_the_commands_passes_every_step_in_order() {
    let Some(world) = World::start() else { return };
    let mut run = world.run(&[]);
    // The learner's own commands, in the tutorial's style (not the lesson's `solution`).
    let events = play(
        &mut run,
        |c| world.kubectl(c),
        |step| {
            match step {
                "create" => vec!["kubectl create deployment web --image=example/web:v1"],
                "expose" => vec!["kubectl expose deployment/web --type=NodePort --port 80"],
                "scale" => vec!["kubectl scale deployments/web --replicas=4"],
                "update" => vec!["kubectl set image deployments/web web=example/web:v2"],
                _ => vec![],
            }
            .into_iter()
            .map(str::to_owned)
            .collect()
        },
    );
    let (code, stderr) = run.finish();
    assert_eq!(
        names(&events),
        vec![
            "step_started intro",
            "step_passed intro",
            "step_started create",
            "goal_met create",
            "step_passed create",
            "step_started expose",
            "goal_met expose",
            "step_passed expose",
            "step_started scale",
            "goal_met scale",
            "step_passed scale",
            "step_started update",
            "goal_met update",
            "step_passed update",
            "lesson_passed",
        ],
        "stderr: {stderr}"
    );
    assert_eq!(code, Some(0), "stderr: {stderr}");
    // The captured pod name is offered to the next step.
    let expose = &events[5];
    assert!(
        expose["captures"]["POD"]
            .as_str()
            .is_some_and(|pod| pod.starts_with("web-")),
        "{expose}"
    );
    assert_eq!(expose["goals"][0]["kind"], "exposed");
    assert_eq!(expose["goals"][0]["type"], "NodePort");
}

#[test]
fn wrong_actions_never_pass_and_the_reason_names_the_difference() {
    let Some(world) = World::start() else { return };
    wrong_answers_never_pass(|extra| world.run(extra), |c| world.kubectl(c));
}

#[test]
fn an_unknown_from_step_is_a_usage_error_listing_the_steps() {
    let Some(world) = World::start() else { return };
    let run = world.run(&["--from", "nope"]);
    let (code, stderr) = run.finish();
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(
            "unknown step `nope`; steps are: 1 intro, 2 create, 3 expose, 4 scale, 5 update"
        ),
        "{stderr}"
    );
}

/// How few requests a runner makes while nothing changes is a figure of `benches/runner.rs`;
/// this pins that the changes it waits for come through its open watch: judging the goals
/// again after each costs no request. The window is measured in changes the runner has
/// reported handling, not in seconds.
#[test]
fn changes_while_waiting_on_a_step_cost_the_runner_no_requests() {
    // Goals met one ConfigMap at a time, all read from one watch of the namespace's ConfigMaps.
    const CHANGES: usize = 12;
    let lessons = tempfile::tempdir().expect("temp dir");
    let path = lessons.path().join("waiting.yaml");
    let mut lesson = String::from(
        "version: 1\ntitle: Waiting\nnamespace: waiting\nsteps:\n  - id: wait\n    \
         title: One ConfigMap at a time\n    timeout: 60s\n    goals:\n",
    );
    for n in 0..CHANGES {
        lesson.push_str(&format!(
            "      - kind: resource\n        target: {{apiVersion: v1, kind: ConfigMap}}\n        \
             matches: {{data: {{n: '{n}'}}}}\n"
        ));
    }
    std::fs::write(&path, lesson).expect("lesson written");
    let Some(world) = World::start_with(path) else {
        return;
    };
    let configmaps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(world.client(), "waiting");
    let served = || world.sandbox.as_ref().map_or(0, Sandbox::requests_served);
    let mut run = world.run(&[]);
    let mut next = |wanted: &str| loop {
        let event = run.next().unwrap_or_else(|| panic!("no {wanted}"));
        if event["event"] == wanted {
            return event;
        }
        assert_ne!(event["event"], "step_failed", "{event}");
    };
    next("step_started");
    // One change per goal, each awaited as its goal_met. The window opens once the second is
    // handled: made after the step had listed, it came through the watch, so the watch's own
    // request was already counted.
    let mut before = 0;
    for n in 0..CHANGES {
        let configmap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("cm-{n}")}, "data": {"n": n.to_string()}
        }))
        .expect("configmap");
        world
            .runtime
            .block_on(configmaps.create(&Default::default(), &configmap))
            .expect("create configmap");
        assert_eq!(next("goal_met")["index"], n, "goals turn met in order");
        if n == 1 {
            before = served();
        }
    }
    let changes = (CHANGES - 2) as u64;
    // Each change is one request of the test's; one more may be a watch renewed meanwhile.
    let runner = (served() - before).saturating_sub(changes);
    eprintln!("the runner's requests over its last {changes} changes: {runner}");
    assert!(
        runner <= 1,
        "{runner} requests of the runner's for {changes} changes"
    );
    next("lesson_passed");
    let (code, stderr) = run.finish();
    assert_eq!(code, Some(0), "stderr: {stderr}");
}

/// Waits until the runner watches the `create` step's kinds: the sandbox has counted a WATCH
/// of Deployments and of Pods. Its watches list before they watch, so they have listed too;
/// nothing else watches the sandbox in these tests.
fn wait_watching(world: &World) {
    let client = world.client();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let request = axum::http::Request::get("/metrics")
            .body(Vec::new())
            .expect("request");
        let metrics = world
            .runtime
            .block_on(client.request_text(request))
            .expect("metrics");
        let watched = |resource: &str| {
            metrics
                .lines()
                .any(|line| line.contains(&format!("resource=\"{resource}\",verb=\"WATCH\"")))
        };
        if watched("deployments") && watched("pods") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the runner never watched the step: {metrics}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_lost_api_server_is_reported_on_stderr_not_stdout() {
    let Some(mut world) = World::start() else {
        return;
    };
    let mut run = world.run(&[]);
    while let Some(event) = run.next() {
        if event["event"] == "step_started" && event["step"] == "create" {
            break;
        }
    }
    wait_watching(&world);
    let stderr = run.child.stderr.take().expect("piped stderr");
    let (tx, errors) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    if let Some(sandbox) = world.sandbox.take() {
        world.runtime.block_on(sandbox.shutdown());
    }
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|l: &String| l.contains("cluster unreachable"))
    {
        match errors.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("the loss was never reported; stderr: {seen:?}"),
        }
    }
    let _ = run.child.kill();
    let _ = run.child.wait();
    // Nothing but JSON events on stdout: the loss is for humans. Read to the end, so every
    // line written before the kill is seen.
    let late: Vec<String> = run.lines.iter().collect();
    assert!(
        late.is_empty(),
        "unexpected stdout lines while the cluster is gone: {late:?}"
    );
}

#[test]
fn the_part3_lesson_passes_with_the_seed_tutorials_own_commands() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/part3-deploy-a-simple-app.yaml");
    let Some(world) = World::start_with(path) else {
        return;
    };
    let mut run = world.run(&[]);
    let events = play(&mut run, |c| world.kubectl(c), part3_tutorial_commands);
    let (code, stderr) = run.finish();
    assert_every_step_passed(&events, 17, code, &stderr);
}

#[test]
fn a_mistyped_deployment_name_in_part3_is_named_in_the_reason() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/part3-deploy-a-simple-app.yaml");
    let Some(world) = World::start_with(path) else {
        return;
    };
    // The first step's 3 minutes scaled to about 5 seconds.
    let mut run = world.run(&["--timeout-scale", "0.03"]);
    let events = play(
        &mut run,
        |c| world.kubectl(c),
        |step| match step {
            "deploy" => vec![
                "kubectl create deployment hello-prat3 --image=tsouche/learn-kubernetes:part3v1"
                    .to_owned(),
            ],
            _ => Vec::new(),
        },
    );
    let _ = run.finish();
    let reason = failure(&events, "deploy");
    assert!(
        reason.contains(
            "there is a Deployment `hello-prat3` running this image; did you mean `hello-part3`?"
        ),
        "{reason}"
    );
    assert!(!reason.to_lowercase().contains("pull"), "{reason}");
}

#[test]
fn a_sandbox_restarted_mid_step_is_reported_and_the_step_still_passes() {
    let Some(mut world) = World::start() else {
        return;
    };
    let mut run = world.run(&[]);
    while let Some(event) = run.next() {
        if event["event"] == "step_started" && event["step"] == "create" {
            break;
        }
    }
    wait_watching(&world);
    world.restart(Duration::from_secs(3));
    assert!(world.kubectl("kubectl create deployment web --image=example/web:v1"));
    let mut seen = Vec::new();
    while let Some(event) = run.next() {
        let name = event["event"].as_str().unwrap_or_default().to_owned();
        seen.push(name.clone());
        if name == "step_passed" {
            assert_eq!(event["step"], "create");
            break;
        }
        assert_ne!(name, "step_failed", "{event}");
    }
    assert_eq!(seen, vec!["goal_met", "step_passed"]);
    let _ = run.child.kill();
    let (_, stderr) = run.finish();
    assert!(stderr.contains("cluster unreachable"), "stderr: {stderr}");
    assert!(stderr.contains("reachable again"), "stderr: {stderr}");
}

/// How fast is left to `benches/runner.rs`; this test pins what must happen: each change made
/// through kube-rs meets the step's goal, and the events come in order.
#[test]
fn each_api_change_meets_the_goal_and_the_events_come_in_order() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lessons/run-latency.yaml");
    let Some(world) = World::start_with(path) else {
        return;
    };
    let configmaps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(world.client(), "latency");
    let mut run = world.run(&[]);
    let mut seen = Vec::new();
    let mut created = 0;
    while let Some(event) = run.next() {
        let name = event["event"].as_str().unwrap_or_default().to_owned();
        let step = event["step"].as_str().unwrap_or_default().to_owned();
        if name == "step_started" {
            let configmap = serde_json::from_value(serde_json::json!({
                "metadata": {"name": step}
            }))
            .expect("configmap");
            world
                .runtime
                .block_on(configmaps.create(&Default::default(), &configmap))
                .expect("create configmap");
            created += 1;
        }
        if name == "goal_met" {
            assert_eq!(event["goal"], "resource", "{event}");
        }
        seen.push(format!("{name} {step}").trim_end().to_owned());
        if matches!(name.as_str(), "lesson_passed" | "lesson_failed") {
            break;
        }
    }
    let expected: Vec<String> = (1..=7)
        .flat_map(|n| ["step_started", "goal_met", "step_passed"].map(|e| format!("{e} c{n}")))
        .chain(["lesson_passed".to_owned()])
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(created, 7);
    let (code, stderr) = run.finish();
    assert_eq!(code, Some(0), "stderr: {stderr}");
}
