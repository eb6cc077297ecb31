//! A scripted learner: a running `kubetutor run --json`, its events, and the kubectl commands a
//! learner types as each step starts. Shared by the sandbox and the test bed tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// A running `kubetutor run` and its JSON events.
pub struct RunChild {
    /// The process.
    pub child: Child,
    /// Its stdout lines.
    pub lines: mpsc::Receiver<String>,
}

impl RunChild {
    /// Starts `command` (a `kubetutor run`) with a scrubbed environment and piped output.
    pub fn spawn(mut command: Command) -> RunChild {
        let mut child = command
            .env_remove("NO_COLOR")
            .env_remove("CI")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubetutor starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        RunChild { child, lines: rx }
    }

    /// The next event; every stdout line must be an event the shipped schema accepts.
    pub fn next(&mut self) -> Option<Value> {
        // Longer than any step's timeout (Part 3's longest is 3 minutes): a slow cluster under
        // load must fail the step, not this wait.
        let line = self.lines.recv_timeout(Duration::from_secs(200)).ok()?;
        Some(crate::support::events::parse_event(&line))
    }

    /// Stops the process (a test that has seen enough).
    pub fn kill(&mut self) -> std::io::Result<()> {
        self.child.kill()
    }

    /// Waits for the process and returns its exit code and stderr.
    pub fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().expect("kubetutor exits");
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
        }
        (status.code(), stderr)
    }
}

impl Drop for RunChild {
    fn drop(&mut self) {
        // A test that stops reading early must not leave the runner behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The events up to the first `step_started`, included.
pub fn until_a_step_starts(run: &mut RunChild) -> Vec<Value> {
    let mut events = Vec::new();
    while let Some(event) = run.next() {
        let started = event["event"] == "step_started";
        events.push(event);
        if started {
            break;
        }
    }
    events
}

/// Plays the lesson: on each `step_started`, types `commands(step)` with `$NAME` replaced by
/// the captured values the event offers, through `kubectl` (which says whether the command
/// worked); returns every event.
pub fn play(
    run: &mut RunChild,
    kubectl: impl Fn(&str) -> bool,
    commands: impl Fn(&str) -> Vec<String>,
) -> Vec<Value> {
    let mut events = Vec::new();
    while let Some(event) = run.next() {
        if event["event"] == "step_started" {
            let step = event["step"].as_str().unwrap_or_default().to_owned();
            for mut command in commands(&step) {
                if let Some(captures) = event["captures"].as_object() {
                    for (name, value) in captures {
                        let value = value.as_str().unwrap_or_default();
                        command = command.replace(&format!("${name}"), value);
                    }
                }
                assert!(kubectl(&command), "{command} works");
            }
        }
        let done = matches!(
            event["event"].as_str(),
            Some("lesson_passed" | "lesson_failed")
        );
        events.push(event);
        if done {
            break;
        }
    }
    events
}

/// Runs `command` (a `kubectl ...` line as a learner types it, split on spaces) with `kubectl`,
/// a kubectl command already pointed at the cluster; says whether it worked, and why not.
pub fn typed(mut kubectl: Command, command: &str) -> bool {
    let out = kubectl
        .args(command.split_whitespace().skip(1))
        .output()
        .expect("kubectl runs");
    if !out.status.success() {
        eprintln!(
            "kubectl {command} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.status.success()
}

/// `event step` for each event, to compare sequences.
pub fn names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["event"].as_str().unwrap_or_default(),
                e["step"].as_str().unwrap_or_default()
            )
            .trim_end()
            .to_owned()
        })
        .collect()
}

/// The reason of the one failed step, which must be `step`, and the lesson must have failed.
pub fn failure(events: &[Value], step: &str) -> String {
    let failed = events
        .iter()
        .find(|e| e["event"] == "step_failed")
        .unwrap_or_else(|| panic!("a step failed: {:?}", names(events)));
    assert_eq!(failed["step"], step);
    assert_eq!(
        events.last().map(|e| e["event"].clone()),
        Some(Value::from("lesson_failed"))
    );
    let reason = failed["reason"].as_str().unwrap_or_default().to_owned();
    eprintln!("step {step} failed: {reason}");
    reason
}

/// The Part 3 commands as the seed tutorial types them (not the lesson's `solution`), for the
/// steps that change the cluster.
pub fn part3_tutorial_commands(step: &str) -> Vec<String> {
    match step {
        "deploy" => vec!["kubectl create deployment hello-part3 --image=tsouche/learn-kubernetes:part3v1"],
        "expose" | "expose-again" => {
            vec!["kubectl expose deployment/hello-part3 --type=NodePort --port 80"]
        }
        "labels" => vec!["kubectl label pod $POD_NAME version=v1"],
        "delete-service" => vec!["kubectl delete service -l app=hello-part3"],
        "scale-up" => vec!["kubectl scale deployments/hello-part3 --replicas=4"],
        "scale-down" => vec!["kubectl scale deployments/hello-part3 --replicas=2"],
        "update" => vec![
            "kubectl set image deployments/hello-part3 learn-kubernetes=tsouche/learn-kubernetes:part3v2",
        ],
        "broken-update" => vec![
            "kubectl set image deployments/hello-part3 learn-kubernetes=tsouche/learn-kubernetes:part3v10",
        ],
        "roll-back" => vec!["kubectl rollout undo deployments/hello-part3"],
        _ => vec![],
    }
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// Asserts that every step started and passed, in order, and the lesson passed with exit 0.
pub fn assert_every_step_passed(events: &[Value], steps: usize, code: Option<i32>, stderr: &str) {
    let names = names(events);
    let started: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_prefix("step_started "))
        .collect();
    let passed: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_prefix("step_passed "))
        .collect();
    let failures: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "step_failed" || e["event"] == "goal_lost")
        .map(Value::to_string)
        .collect();
    assert_eq!(
        started, passed,
        "every step passes, in order: {names:?}\nwhy not: {failures:#?}\n{stderr}"
    );
    assert_eq!(started.len(), steps, "{names:?}");
    assert_eq!(names.last().map(String::as_str), Some("lesson_passed"));
    assert_eq!(code, Some(0), "stderr: {stderr}");
}

/// The wrong answers of the basic lesson (`tests/lessons/run-basic.yaml`): a mistyped name, a
/// ClusterIP Service
/// where a NodePort is asked for, three replicas for four, the wrong image. None may pass, and
/// each failure names the difference. `run(extra)` starts `kubetutor run` with extra arguments.
pub fn wrong_answers_never_pass(
    run: impl Fn(&[&str]) -> RunChild,
    kubectl: impl Fn(&str) -> bool + Copy,
) {
    // A typo in the name: the failure names what the learner created instead.
    let mut child = run(&["--timeout-scale", "0.2"]);
    let events = play(&mut child, kubectl, |step| match step {
        "create" => vec!["kubectl create deployment wbe --image=example/web:v1".to_owned()],
        _ => vec![],
    });
    let (code, stderr) = child.finish();
    assert_eq!(code, Some(1), "stderr: {stderr}");
    let failed = failure(&events, "create");
    assert!(
        failed.contains("there is a Deployment `wbe` running this image; did you mean `web`?"),
        "{failed}"
    );
    assert!(kubectl("kubectl delete deployment wbe"));

    let mut child = run(&[]);
    let events = play(&mut child, kubectl, |step| {
        match step {
            "create" => vec!["kubectl create deployment web --image=example/web:v1"],
            "expose" => vec!["kubectl expose deployment web --type=ClusterIP --port=80"],
            _ => vec![],
        }
        .into_iter()
        .map(str::to_owned)
        .collect()
    });
    let (code, stderr) = child.finish();
    assert_eq!(code, Some(1), "stderr: {stderr}");
    let failed = failure(&events, "expose");
    assert!(failed.contains("ClusterIP"), "{failed}");
    assert!(!names(&events).contains(&"step_passed expose".to_owned()));

    assert!(kubectl("kubectl delete service web"));
    assert!(kubectl(
        "kubectl expose deployment web --type=NodePort --port=80"
    ));
    let mut child = run(&["--from", "scale"]);
    let events = play(&mut child, kubectl, |step| match step {
        "scale" => vec!["kubectl scale deployment web --replicas=3".to_owned()],
        _ => vec![],
    });
    let (code, _) = child.finish();
    assert_eq!(code, Some(1));
    let failed = failure(&events, "scale");
    assert!(failed.contains('3') && failed.contains('4'), "{failed}");

    let mut child = run(&["--from", "update"]);
    let events = play(&mut child, kubectl, |step| match step {
        "update" => vec!["kubectl set image deployment/web web=example/web:v3".to_owned()],
        _ => vec![],
    });
    let (code, _) = child.finish();
    assert_eq!(code, Some(1));
    let failed = failure(&events, "update");
    assert!(
        failed.contains("example/web:v3") || failed.contains("v2"),
        "{failed}"
    );
}
