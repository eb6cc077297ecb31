//! The event loop driven by a scripted goal source and scripted input: no cluster, no terminal.
//!
//! Every test runs on tokio's paused clock (`start_paused`): time only moves when every task
//! is idle, and then jumps to the next timer. So a script's [`settle`] ends only once the loop
//! has handled everything sent before it, timeouts and ticks fire in a fixed order, and no test
//! waits for real time.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use super::*;
use crate::lesson::Lesson;
use crate::runner::json::{JsonOutput, JsonWriter};
use crate::runner::machine::GoalReport;

/// Goal statuses set by the test; a signal is sent whenever they change.
struct Scripted {
    reports: Arc<Mutex<BTreeMap<String, Vec<bool>>>>,
    signals: mpsc::UnboundedReceiver<ClusterEvent>,
    begun: Vec<String>,
}

impl GoalSource for Scripted {
    async fn begin_step(&mut self, step: &Step) -> Result<(), SourceError> {
        self.begun.push(step.id.clone());
        Ok(())
    }

    async fn next_cluster_event(&mut self) -> ClusterEvent {
        match self.signals.recv().await {
            Some(signal) => signal,
            None => std::future::pending().await,
        }
    }

    async fn evaluate(&mut self, step: &Step) -> Vec<GoalReport> {
        let reports = self.reports.lock().unwrap();
        let met = reports.get(&step.id).cloned().unwrap_or_default();
        step.goals
            .iter()
            .enumerate()
            .map(|(i, goal)| {
                let met = met.get(i).copied().unwrap_or(false);
                GoalReport {
                    met,
                    summary: if met {
                        format!("{} holds", goal.kind_name())
                    } else {
                        format!("{} differs", goal.kind_name())
                    },
                    details: Vec::new(),
                    explain_failure: None,
                }
            })
            .collect()
    }

    fn read_captures(&mut self, step: &Step) -> Result<BTreeMap<String, String>, String> {
        Ok(step
            .capture
            .iter()
            .map(|c| (c.name.clone(), format!("value-of-{}", c.name)))
            .collect())
    }

    /// The solution makes every goal of the step hold, as a real one would.
    async fn run_solution(
        &mut self,
        step: &Step,
        _captured: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        self.reports
            .lock()
            .unwrap()
            .insert(step.id.clone(), vec![true; step.goals.len()]);
        Ok(())
    }
}

/// An output that writes JSON lines into a shared buffer and records notices.
struct Recorder {
    json: JsonOutput<Vec<u8>>,
    notices: Vec<String>,
    solutions: Vec<String>,
    cluster: Vec<ClusterEvent>,
    /// How many JSON events had been written when each of `cluster` was reported.
    cluster_at: Vec<usize>,
    /// Every checklist update: the step's id and which goals held.
    updates: Vec<(String, Vec<bool>)>,
}

impl Output for Recorder {
    fn transition(&mut self, machine: &Machine, transition: &Transition) {
        Output::transition(&mut self.json, machine, transition);
    }
    fn goals_updated(&mut self, step: &Step, goals: &[GoalReport]) {
        self.updates
            .push((step.id.clone(), goals.iter().map(|g| g.met).collect()));
    }
    fn cluster(&mut self, signal: &ClusterEvent) {
        self.cluster.push(signal.clone());
        self.cluster_at.push(self.events().len());
    }
    fn solution(&mut self, step: &Step) {
        self.solutions.push(step.id.clone());
    }
    fn notice(&mut self, text: &str) {
        self.notices.push(text.to_owned());
    }
}

impl Recorder {
    fn events(&self) -> Vec<String> {
        String::from_utf8(self.json_bytes())
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!(
                    "{} {}",
                    v["event"].as_str().unwrap(),
                    v["step"].as_str().unwrap_or("")
                )
                .trim_end()
                .to_owned()
            })
            .collect()
    }

    fn json_bytes(&self) -> Vec<u8> {
        self.json.writer().get_ref().clone()
    }
}

fn lesson() -> Lesson {
    serde_yaml::from_str(
        r#"
version: 1
title: T
steps:
  - id: read
    title: Read
  - id: make
    title: Make
    hints: [try harder]
    solution: [make it]
    timeout: 10s
    goals:
      - kind: scaled
        deployment: web
        replicas: 2
      - kind: absent
        target: {apiVersion: v1, kind: Service, name: web}
    capture:
      - name: POD
        from: {apiVersion: v1, kind: Pod}
        path: .metadata.name
  - id: last
    title: Last
    timeout: 10s
    goals:
      - kind: scaled
        deployment: web
        replicas: 4
"#,
    )
    .unwrap()
}

struct Harness {
    reports: Arc<Mutex<BTreeMap<String, Vec<bool>>>>,
    signals: mpsc::UnboundedSender<ClusterEvent>,
    input: mpsc::UnboundedSender<InputEvent>,
}

async fn run_with(
    interactive: bool,
    timeout_scale: f64,
    script: impl FnOnce(Harness) -> tokio::task::JoinHandle<()>,
) -> (Ending, Recorder, Vec<String>, Machine) {
    run_lesson(lesson(), None, interactive, timeout_scale, script).await
}

async fn run_lesson(
    lesson: Lesson,
    mut shells: Option<FakeShells>,
    interactive: bool,
    timeout_scale: f64,
    script: impl FnOnce(Harness) -> tokio::task::JoinHandle<()>,
) -> (Ending, Recorder, Vec<String>, Machine) {
    let reports = Arc::new(Mutex::new(BTreeMap::new()));
    let (signal_tx, signal_rx) = mpsc::unbounded_channel();
    let (input_tx, input_rx) = mpsc::unbounded_channel();
    let mut source = Scripted {
        reports: reports.clone(),
        signals: signal_rx,
        begun: Vec::new(),
    };
    let mut output = Recorder {
        json: JsonOutput::new(JsonWriter::new(Vec::new()), String::new()),
        notices: Vec::new(),
        solutions: Vec::new(),
        cluster: Vec::new(),
        cluster_at: Vec::new(),
        updates: Vec::new(),
    };
    let mut machine = Machine::new(lesson, 0, BTreeMap::new());
    let mut saves = 0;
    let mut save = |_: &Machine| saves += 1;
    let task = script(Harness {
        reports,
        signals: signal_tx,
        input: input_tx,
    });
    // On the paused clock a loop that never ends fails at once: time runs ahead while it idles.
    let ending = tokio::time::timeout(
        Duration::from_secs(20),
        Loop {
            machine: &mut machine,
            source: &mut source,
            output: &mut output,
            input: input_rx,
            input_mode: Arc::new(Mutex::new(InputMode::Idle)),
            save: &mut save,
            shells: shells.as_mut().map(|s| s as &mut dyn Shells),
            config: LoopConfig {
                interactive,
                timeout_scale,
                ..LoopConfig::default()
            },
        }
        .run(),
    )
    .await
    .expect("the loop ends in time")
    .expect("the loop does not fail");
    task.abort();
    assert!(saves > 0, "progress is saved");
    (ending, output, source.begun, machine)
}

fn set(h: &Harness, step: &str, met: &[bool]) {
    h.reports
        .lock()
        .unwrap()
        .insert(step.to_owned(), met.to_vec());
    let _ = h.signals.send(ClusterEvent::Changed);
}

/// Returns once the loop has handled everything sent so far and waits for its next event: the
/// paused clock only reaches the end of this sleep when no task has anything left to do.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// Lets `time` pass on the paused clock (ticks and deadlines due meanwhile fire in order).
async fn elapse(time: Duration) {
    tokio::time::sleep(time).await;
}

#[tokio::test(start_paused = true)]
async fn non_interactive_passes_each_step_as_its_goals_hold() {
    let (ending, output, begun, machine) = run_with(false, 1.0, |h| {
        tokio::spawn(async move {
            settle().await;
            set(&h, "make", &[true, false]);
            settle().await;
            let _ = h
                .signals
                .send(ClusterEvent::Lost("connection refused".to_owned()));
            let _ = h.signals.send(ClusterEvent::Restored);
            set(&h, "make", &[true, true]);
            settle().await;
            set(&h, "last", &[true]);
            settle().await;
        })
    })
    .await;
    assert_eq!(ending, Ending::Passed);
    assert_eq!(begun, vec!["make", "last"]);
    assert_eq!(
        output.events(),
        vec![
            "step_started read",
            "step_passed read",
            "step_started make",
            "goal_met make",
            "goal_met make",
            "step_passed make",
            "step_started last",
            "goal_met last",
            "step_passed last",
            "lesson_passed",
        ]
    );
    assert_eq!(
        output.cluster,
        vec![
            ClusterEvent::Lost("connection refused".to_owned()),
            ClusterEvent::Restored
        ]
    );
    assert_eq!(
        machine.captured().get("POD").map(String::as_str),
        Some("value-of-POD")
    );
    // The checklist's last word on each step is its final state, also for a step the
    // machine leaves at once (`last` has no captures).
    for step in ["make", "last"] {
        let last = output.updates.iter().rev().find(|(id, _)| id == step);
        assert!(
            last.is_some_and(|(_, met)| met.iter().all(|m| *m)),
            "the checklist of {step} ends with every goal met: {:?}",
            output.updates
        );
    }
    let text = String::from_utf8(output.json_bytes()).unwrap();
    let last_started = text
        .lines()
        .find(|l| l.contains("\"step\":\"last\"") && l.contains("step_started"))
        .unwrap();
    assert!(last_started.contains(r#""captures":{"POD":"value-of-POD"}"#));
}

#[tokio::test(start_paused = true)]
async fn non_interactive_fails_a_step_at_its_timeout_naming_the_difference() {
    let (ending, output, _, _) = run_with(false, 0.01, |h| {
        tokio::spawn(async move {
            set(&h, "make", &[true, false]);
        })
    })
    .await;
    assert_eq!(ending, Ending::Failed);
    let text = String::from_utf8(output.json_bytes()).unwrap();
    let failed = text.lines().find(|l| l.contains("step_failed")).unwrap();
    assert!(failed.contains("absent: absent differs"), "{failed}");
    assert!(text.lines().last().unwrap().contains("lesson_failed"));
}

#[tokio::test(start_paused = true)]
async fn interactive_input_reveals_hints_shows_solutions_skips_and_quits() {
    let (ending, output, _, machine) = run_with(true, 0.001, |h| {
        tokio::spawn(async move {
            settle().await;
            h.input.send(InputEvent::Continue).unwrap();
            // Past the step's timeout (10 s, scaled to 10 ms): interactive, it only warns.
            elapse(Duration::from_millis(20)).await;
            h.input.send(InputEvent::Hint).unwrap();
            h.input.send(InputEvent::Hint).unwrap();
            h.input.send(InputEvent::Solution).unwrap();
            settle().await;
            h.input.send(InputEvent::Skip).unwrap();
            settle().await;
            h.input.send(InputEvent::Quit).unwrap();
        })
    })
    .await;
    assert_eq!(ending, Ending::Quit);
    assert_eq!(machine.hints_revealed(), 0);
    assert_eq!(output.solutions, vec!["make"]);
    assert!(output.notices.iter().any(|n| n.contains("No more hints")));
    assert!(
        output
            .notices
            .iter()
            .any(|n| n.contains("longer than expected")),
        "an interactive timeout only warns: {:?}",
        output.notices
    );
    assert_eq!(
        output.events(),
        vec![
            "step_started read",
            "step_passed read",
            "step_started make",
            "step_skipped make",
            "step_started last",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn k_then_r_runs_the_solution_and_the_step_ends_skipped_with_its_captures() {
    let (ending, output, _, machine) = run_with(true, 1.0, |h| {
        tokio::spawn(async move {
            settle().await;
            h.input.send(InputEvent::Continue).unwrap();
            settle().await;
            h.input.send(InputEvent::SkipAsked).unwrap();
            h.input.send(InputEvent::SkipSolved).unwrap();
            settle().await;
            h.input.send(InputEvent::Quit).unwrap();
        })
    })
    .await;
    assert_eq!(ending, Ending::Quit);
    let steps: Vec<String> = output
        .events()
        .into_iter()
        .filter(|e| e.starts_with("step_"))
        .collect();
    assert_eq!(
        steps,
        [
            "step_started read",
            "step_passed read",
            "step_started make",
            "step_skipped make",
            "step_started last"
        ]
    );
    assert_eq!(
        machine.captured().get("POD").map(String::as_str),
        Some("value-of-POD"),
        "what the step leaves, its captures included, is there for later steps"
    );
    let question = output
        .notices
        .iter()
        .find(|n| n.contains("r to run its solution"))
        .expect("the question was shown");
    assert!(question.contains("$ make it"), "{question}");
}

#[tokio::test(start_paused = true)]
async fn typed_text_never_passes_a_reading_step_and_the_notice_shows_once() {
    let (ending, output, _, _) = run_with(true, 1.0, |h| {
        tokio::spawn(async move {
            settle().await;
            h.input.send(InputEvent::Typed).unwrap();
            h.input.send(InputEvent::Typed).unwrap();
            settle().await;
            h.input.send(InputEvent::Quit).unwrap();
        })
    })
    .await;
    assert_eq!(ending, Ending::Quit);
    assert_eq!(output.events(), vec!["step_started read"]);
    let shown = output.notices.iter().filter(|n| *n == KEYS_ONLY).count();
    assert_eq!(shown, 1, "{:?}", output.notices);
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_ends_the_loop_as_interrupted() {
    let (ending, _, _, machine) = run_with(true, 1.0, |h| {
        tokio::spawn(async move {
            settle().await;
            h.input.send(InputEvent::Interrupted).unwrap();
        })
    })
    .await;
    assert_eq!(ending, Ending::Interrupted);
    assert_eq!(machine.index(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_loss_is_reported_once_and_changes_flowing_again_count_as_restored() {
    let (ending, output, _, _) = run_with(false, 1.0, |h| {
        tokio::spawn(async move {
            settle().await;
            for _ in 0..3 {
                let _ = h.signals.send(ClusterEvent::Lost("refused".to_owned()));
            }
            settle().await;
            set(&h, "make", &[true, true]);
            settle().await;
            let _ = h.signals.send(ClusterEvent::Restored);
            set(&h, "last", &[true]);
            settle().await;
        })
    })
    .await;
    assert_eq!(ending, Ending::Passed);
    assert_eq!(
        output.cluster,
        vec![
            ClusterEvent::Lost("refused".to_owned()),
            ClusterEvent::Restored
        ]
    );
    // Both right after `step_started make`, the third event: the recovery is reported with the
    // change that meets the goals, not when the late `Restored` arrives.
    assert_eq!(output.cluster_at, vec![3, 3], "{:?}", output.events());
}

#[tokio::test(start_paused = true)]
async fn a_refused_watch_is_reported_without_counting_as_a_loss() {
    let (ending, output, _, _) = run_with(false, 1.0, |h| {
        tokio::spawn(async move {
            settle().await;
            let why = "not permitted to watch Endpoints in namespace default: 403 Forbidden";
            let _ = h.signals.send(ClusterEvent::Denied(why.to_owned()));
            settle().await;
            // The goals are judged on: nothing waits for the cluster to "come back".
            set(&h, "make", &[true, true]);
            settle().await;
            set(&h, "last", &[true]);
            settle().await;
        })
    })
    .await;
    assert_eq!(ending, Ending::Passed);
    assert_eq!(
        output.cluster,
        vec![ClusterEvent::Denied(
            "not permitted to watch Endpoints in namespace default: 403 Forbidden".to_owned()
        )]
    );
}

/// Opens the menu as the prompt thread does, waiting for the loop's ack.
async fn open_menu(h: &Harness) {
    let (ack, acked) = std::sync::mpsc::channel();
    h.input.send(InputEvent::MenuOpened(ack)).unwrap();
    settle().await;
    assert!(acked.try_recv().is_ok(), "the loop acks the menu");
}

#[tokio::test(start_paused = true)]
async fn while_the_menu_is_open_the_step_waits_and_the_choice_applies_to_it() {
    let (ending, output, _, _) = run_with(true, 1.0, |h| {
        tokio::spawn(async move {
            settle().await;
            h.input.send(InputEvent::Continue).unwrap();
            settle().await;
            open_menu(&h).await;
            // The learner's other terminal completes the step while the menu is up.
            set(&h, "make", &[true, true]);
            settle().await;
            h.input.send(InputEvent::Solution).unwrap();
            settle().await;
            h.input.send(InputEvent::Quit).unwrap();
        })
    })
    .await;
    assert_eq!(ending, Ending::Quit);
    // Had the step moved on under the menu, the solution shown would be the next step's.
    assert_eq!(output.solutions, vec!["make"]);
    assert_eq!(
        output.events(),
        vec![
            "step_started read",
            "step_passed read",
            "step_started make",
            "goal_met make",
            "goal_met make",
            "step_passed make",
            "step_started last",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_recovery_while_the_menu_is_open_is_reported_when_it_closes() {
    let (ending, output, _, _) = run_with(true, 1.0, |h| {
        tokio::spawn(async move {
            settle().await;
            h.input.send(InputEvent::Continue).unwrap();
            settle().await;
            let _ = h.signals.send(ClusterEvent::Lost("refused".to_owned()));
            settle().await;
            open_menu(&h).await;
            let _ = h.signals.send(ClusterEvent::Restored);
            set(&h, "make", &[true, true]);
            settle().await;
            h.input.send(InputEvent::MenuClosed).unwrap();
            settle().await;
            h.input.send(InputEvent::Quit).unwrap();
        })
    })
    .await;
    assert_eq!(ending, Ending::Quit);
    assert_eq!(
        output.cluster,
        vec![
            ClusterEvent::Lost("refused".to_owned()),
            ClusterEvent::Restored
        ]
    );
    assert!(
        output.events().contains(&"step_passed make".to_owned()),
        "{:?}",
        output.events()
    );
}

/// Connected shells as the test scripts them: events to hand out, and whether one is
/// connected; captures the loop published are recorded.
#[derive(Default)]
struct FakeShellState {
    pending: Vec<ShellEvent>,
    live: usize,
    published: Vec<BTreeMap<String, String>>,
}

#[derive(Clone, Default)]
struct FakeShells(Arc<Mutex<FakeShellState>>);

impl FakeShells {
    fn push(&self, event: ShellEvent) {
        self.0.lock().unwrap().pending.push(event);
    }

    fn command(&self, command: &str, exit: i32) {
        self.push(ShellEvent::Command {
            shell: 7,
            command: command.to_owned(),
            exit,
        });
    }
}

impl Shells for FakeShells {
    fn poll(&mut self) -> Vec<ShellEvent> {
        let mut state = self.0.lock().unwrap();
        let events = std::mem::take(&mut state.pending);
        for event in &events {
            match event {
                ShellEvent::Connected(_) => state.live += 1,
                ShellEvent::Disconnected(_) => state.live -= 1,
                _ => {}
            }
        }
        events
    }

    fn connected(&self) -> bool {
        self.0.lock().unwrap().live > 0
    }

    fn captures_changed(&mut self, captured: &BTreeMap<String, String>) {
        self.0.lock().unwrap().published.push(captured.clone());
    }
}

fn reading_lesson() -> Lesson {
    serde_yaml::from_str(
        r#"
version: 1
title: T
steps:
  - id: make
    title: Make
    timeout: 10s
    goals:
      - kind: scaled
        deployment: web
        replicas: 2
    capture:
      - name: POD
        from: {apiVersion: v1, kind: Pod}
        path: .metadata.name
  - id: look
    title: Look
    timeout: 10s
    expect: [kubectl get pods, kubectl logs]
"#,
    )
    .unwrap()
}

/// Enough paused time for a few ticks, each of which polls the shells.
const POLLS: Duration = Duration::from_millis(350);

fn read_by(output: &Recorder, step: &str) -> serde_json::Value {
    let text = String::from_utf8(output.json_bytes()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event"] == "step_passed" && v["step"] == step)
        .map(|v| v["by"].clone())
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn with_a_shell_connected_enter_does_not_pass_a_reading_step_its_commands_do() {
    let shells = FakeShells::default();
    let script_shells = shells.clone();
    let (ending, output, _, _) =
        run_lesson(reading_lesson(), Some(shells.clone()), true, 1.0, |h| {
            tokio::spawn(async move {
                script_shells.push(ShellEvent::Connected(7));
                elapse(POLLS).await;
                set(&h, "make", &[true]);
                settle().await;
                // Typed into the runner's window: Enter alone never passes it while a shell can.
                let _ = h.input.send(InputEvent::Continue);
                elapse(POLLS).await;
                script_shells.command("kubectl logs web", 1);
                script_shells.command("kubectl get po", 0);
                elapse(POLLS).await;
                let _ = h.input.send(InputEvent::Continue);
                elapse(POLLS).await;
                script_shells.command("kubectl logs web -n demo", 0);
                elapse(POLLS).await;
            })
        })
        .await;
    assert_eq!(ending, Ending::Passed);
    assert_eq!(
        output.events(),
        vec![
            "step_started make",
            "goal_met make",
            "step_passed make",
            "step_started look",
            "command_seen look",
            "command_seen look",
            "command_seen look",
            "step_passed look",
            "lesson_passed",
        ]
    );
    assert_eq!(read_by(&output, "look"), "commands");
    assert_eq!(read_by(&output, "make"), serde_json::Value::Null);
    let waiting: Vec<&String> = output
        .notices
        .iter()
        .filter(|n| n.starts_with("This step passes when"))
        .collect();
    assert_eq!(
        waiting,
        [
            "This step passes when your connected terminal has run: kubectl get pods, kubectl logs",
            "This step passes when your connected terminal has run: kubectl logs",
        ]
    );
    assert!(
        output
            .notices
            .iter()
            .any(|n| n.starts_with("A terminal connected")),
        "{:?}",
        output.notices
    );
    let published = shells.0.lock().unwrap().published.clone();
    assert_eq!(published.first(), Some(&BTreeMap::new()));
    assert_eq!(
        published
            .last()
            .and_then(|c| c.get("POD"))
            .map(String::as_str),
        Some("value-of-POD"),
        "the captured value reaches the shells"
    );
}

#[tokio::test(start_paused = true)]
async fn with_no_shell_enter_passes_a_reading_step_that_expects_commands() {
    let shells = FakeShells::default();
    let (ending, output, _, _) =
        run_lesson(reading_lesson(), Some(shells.clone()), true, 1.0, |h| {
            tokio::spawn(async move {
                set(&h, "make", &[true]);
                settle().await;
                let _ = h.input.send(InputEvent::Continue);
                settle().await;
            })
        })
        .await;
    assert_eq!(ending, Ending::Passed);
    assert_eq!(read_by(&output, "look"), "enter");
}

#[tokio::test(start_paused = true)]
async fn without_input_a_reading_step_waits_for_a_connected_shell_until_it_closes() {
    let shells = FakeShells::default();
    shells.push(ShellEvent::Connected(7));
    let script_shells = shells.clone();
    let (ending, output, _, _) =
        run_lesson(reading_lesson(), Some(shells.clone()), false, 1.0, |h| {
            tokio::spawn(async move {
                set(&h, "make", &[true]);
                elapse(POLLS).await;
                script_shells.command("kubectl get pods", 0);
                elapse(POLLS).await;
                script_shells.push(ShellEvent::Disconnected(7));
                elapse(POLLS).await;
            })
        })
        .await;
    assert_eq!(ending, Ending::Passed);
    assert_eq!(
        output.events()[3..],
        [
            "step_started look",
            "command_seen look",
            "step_passed look",
            "lesson_passed"
        ]
    );
    assert_eq!(read_by(&output, "look"), "at_once");
    assert!(
        output.notices.iter().any(|n| n.contains("(pid 7) closed")),
        "{:?}",
        output.notices
    );
}

#[tokio::test(start_paused = true)]
async fn without_input_a_reading_step_nobody_runs_the_commands_of_times_out() {
    let shells = FakeShells::default();
    shells.push(ShellEvent::Connected(7));
    let (ending, output, _, _) =
        run_lesson(reading_lesson(), Some(shells.clone()), false, 1.0, |h| {
            tokio::spawn(async move {
                set(&h, "make", &[true]);
                settle().await;
            })
        })
        .await;
    assert_eq!(ending, Ending::Failed);
    let text = String::from_utf8(output.json_bytes()).unwrap();
    assert!(
        text.contains(
            "timed out: the connected terminal did not run kubectl get pods, kubectl logs"
        ),
        "{text}"
    );
}
