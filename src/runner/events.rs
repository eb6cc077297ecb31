//! The single event loop: cluster signals, learner input, Ctrl-C, ticks and the step deadline
//! meet in one [`Event`] enum and are handled in one place.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::{Instant, MissedTickBehavior};

use crate::lesson::{Goal, Step};
use crate::runner::machine::{GoalReport, Machine, Phase, Transition};
use crate::runner::shells::{ShellEvent, Shells};
use crate::runner::source::{ClusterEvent, GoalSource, SourceError};

/// What the learner asked for, from the prompt thread (or Ctrl-C, from the signal task).
#[derive(Debug)]
pub enum InputEvent {
    /// The terminal echoed the learner's typing over this many lines below the checklist.
    Echoed(u16),
    /// The menu is about to be shown; the live checklist must step aside, then ack.
    MenuOpened(std::sync::mpsc::Sender<()>),
    /// The menu closed without a choice that changes anything.
    MenuClosed,
    /// Show the next hint.
    Hint,
    /// Show the solution (displayed, never executed).
    Solution,
    /// Skip the current step.
    Skip,
    /// `k` once: the next `k` skips the step, `r` runs its solution first.
    SkipAsked,
    /// Skip the current step once its solution, run for the learner, has set it up.
    SkipSolved,
    /// Quit, keeping progress.
    Quit,
    /// Continue past a reading step (Enter with nothing typed).
    Continue,
    /// Enter after text typed into this window: never a step's Enter.
    Typed,
    /// Show what each key does (`?`).
    Legend,
    /// The terminal was resized: the screen redraws.
    Resized,
    /// Ctrl-C.
    Interrupted,
    /// Standard input closed: no more input will come.
    Closed,
}

/// What the prompt thread should do with the next line the learner enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// Nothing to ask.
    Idle,
    /// A reading step: Enter continues.
    Reading,
    /// A step with goals: Enter opens the menu.
    Goals,
}

/// One thing the loop reacts to.
#[derive(Debug)]
pub enum Event {
    /// From the cluster.
    Cluster(ClusterEvent),
    /// From the learner.
    Input(InputEvent),
    /// Periodic: spinners, HTTP goals, capture retries.
    Tick,
    /// The current step's timeout expired.
    Deadline,
}

/// Said when text typed into the runner's window meets Enter (once per step).
pub const KEYS_ONLY: &str =
    "This window only takes keys (h s k q ?); type commands in your terminal";

const SLOW_STEP: &str =
    "This step is taking longer than expected. Press Enter for a hint, the solution or to skip it.";

/// What happened while the menu was open, to catch up on when it closes.
#[derive(Debug, Default)]
struct MenuState {
    /// The menu is open.
    open: bool,
    /// The latest cluster signal.
    signal: Option<ClusterEvent>,
    /// The step's deadline passed.
    deadline: bool,
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every step passed or was skipped.
    Passed,
    /// A step timed out (non-interactive only).
    Failed,
    /// The learner quit.
    Quit,
    /// Ctrl-C.
    Interrupted,
}

/// Where the loop reports what happens: the screen, plain lines or JSON.
///
/// The provided methods are those of an output that keeps stdout for machine-readable events
/// (`--json`, `check`): no checklist, and what humans must hear goes to stderr.
pub trait Output {
    /// A transition of the state machine happened.
    fn transition(&mut self, machine: &Machine, transition: &Transition);
    /// Goal summaries of `step` changed (met or not). Called before the machine moves on, so
    /// the last call for a step shows its final state.
    fn goals_updated(&mut self, step: &Step, goals: &[GoalReport]) {
        let _ = (step, goals);
    }
    /// The cluster was lost or came back.
    fn cluster(&mut self, signal: &ClusterEvent) {
        crate::runner::report_cluster_event(signal);
    }
    /// The learner's typing was echoed over `lines` lines: the live area must step back.
    fn echoed(&mut self, lines: u16) {
        let _ = lines;
    }
    /// Learner input arrived: the live area steps aside (`hold` keeps it hidden).
    fn input_arrived(&mut self, hold: bool) {
        let _ = hold;
    }
    /// Input handled: the live area may come back.
    fn input_done(&mut self) {}
    /// Spinners advance.
    fn tick(&mut self) {}
    /// Show what each key does.
    fn legend(&mut self) {}
    /// The terminal changed size: redraw what the current step shows.
    fn resized(&mut self, machine: &Machine) {
        let _ = machine;
    }
    /// Show the solution of a step.
    fn solution(&mut self, step: &Step) {
        let _ = step;
    }
    /// A short message for the learner.
    fn notice(&mut self, text: &str) {
        eprintln!("{text}");
    }
}

/// Tunables of the loop.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Whether a learner is there (timeouts only warn; reading steps wait for Enter).
    pub interactive: bool,
    /// Tick period (spinners and capture retries).
    pub tick: Duration,
    /// Re-evaluation period for steps with HTTP goals, which have no watch.
    pub http_poll: Duration,
    /// Multiplies step timeouts (tests use small ones).
    pub timeout_scale: f64,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            interactive: false,
            tick: Duration::from_millis(100),
            http_poll: Duration::from_secs(2),
            timeout_scale: 1.0,
        }
    }
}

/// The loop's collaborators.
pub struct Loop<'a, S, O> {
    /// The lesson state machine.
    pub machine: &'a mut Machine,
    /// Goal statuses.
    pub source: &'a mut S,
    /// Where things are shown.
    pub output: &'a mut O,
    /// Learner input and Ctrl-C.
    pub input: UnboundedReceiver<InputEvent>,
    /// Tells the prompt thread what Enter means now.
    pub input_mode: Arc<Mutex<InputMode>>,
    /// Saves progress; called after every step and when the loop ends.
    pub save: &'a mut dyn FnMut(&Machine),
    /// Connected terminals, when the run published a session for them.
    pub shells: Option<&'a mut dyn Shells>,
    /// Tunables.
    pub config: LoopConfig,
}

impl<S: GoalSource, O: Output> Loop<'_, S, O> {
    /// Runs the lesson until it passes, fails, the learner quits or presses Ctrl-C.
    pub async fn run(mut self) -> Result<Ending, SourceError> {
        self.publish_captures();
        // Shells connected before the run are announced, and counted for the first step;
        // no step is current yet, so nothing can pass.
        self.poll_shells(true);
        let mut queue: VecDeque<Transition> = self.machine.start().into();
        let mut deadline: Option<Instant> = None;
        let mut last_http = Instant::now();
        let mut ticks = tokio::time::interval(self.config.tick);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut input_open = true;
        let mut lost = false;
        // While the learner's menu is open it owns the terminal: nothing may be printed, so
        // the step stays as it is (a menu choice then still applies to the step it was made
        // for). What happens meanwhile is caught up on when the menu closes.
        let mut menu = MenuState::default();
        // The step whose "keys only" notice was shown: once per step is enough.
        let mut keys_only_shown: Option<usize> = None;
        loop {
            while let Some(transition) = queue.pop_front() {
                self.output.transition(self.machine, &transition);
                match transition {
                    Transition::StepStarted { .. } => {
                        // The machine is on the step it just started: judge it as it judges
                        // it, with earlier captures in its goals.
                        let Some(step) = self.machine.judged_step().cloned() else {
                            continue;
                        };
                        if step.goals.is_empty() {
                            deadline = None;
                            if self.config.interactive && input_open {
                                self.set_mode(InputMode::Reading);
                            } else if self.waits_for_shell() {
                                // Nobody presses Enter here, but a connected terminal can run
                                // the commands; the step's timeout bounds the wait.
                                self.set_mode(InputMode::Idle);
                                deadline = Some(Instant::now() + self.scaled(step.timeout()));
                            } else {
                                queue.extend(self.machine.continue_reading());
                            }
                            continue;
                        }
                        self.set_mode(InputMode::Goals);
                        self.source.begin_step(&step).await?;
                        deadline = Some(Instant::now() + self.scaled(step.timeout()));
                        last_http = Instant::now();
                        queue.extend(self.evaluate().await);
                    }
                    Transition::CapturesNeeded => queue.extend(self.try_captures()),
                    Transition::StepPassed { .. } | Transition::StepSkipped { .. } => {
                        (self.save)(self.machine);
                        self.publish_captures();
                    }
                    Transition::LessonPassed => return Ok(self.finish(Ending::Passed)),
                    Transition::LessonFailed => return Ok(self.finish(Ending::Failed)),
                    Transition::Quit => return Ok(self.finish(Ending::Quit)),
                    Transition::GoalMet { .. }
                    | Transition::GoalLost { .. }
                    | Transition::StepFailed { .. }
                    | Transition::CommandSeen { .. }
                    | Transition::HintRevealed { .. } => {}
                }
            }

            let sleep_until =
                deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            let event = tokio::select! {
                biased;
                input = self.input.recv(), if input_open => match input {
                    Some(input) => Event::Input(input),
                    None => Event::Input(InputEvent::Closed),
                },
                signal = self.source.next_cluster_event() => Event::Cluster(signal),
                _ = tokio::time::sleep_until(sleep_until), if deadline.is_some() => Event::Deadline,
                _ = ticks.tick() => Event::Tick,
            };

            match event {
                Event::Cluster(signal) if menu.open => menu.signal = Some(signal),
                Event::Tick if menu.open => {}
                Event::Deadline if menu.open => {
                    deadline = None;
                    menu.deadline = true;
                }
                Event::Cluster(signal) => {
                    if self.report_link(&signal, &mut lost) {
                        queue.extend(self.rejudge().await);
                    }
                }
                Event::Tick => {
                    self.output.tick();
                    let http = self.step_has_http();
                    if http && last_http.elapsed() >= self.config.http_poll {
                        last_http = Instant::now();
                        queue.extend(self.evaluate().await);
                    }
                    if self.machine.phase() == Phase::Capturing {
                        queue.extend(self.try_captures());
                    }
                    queue.extend(self.poll_shells(input_open));
                }
                Event::Deadline => {
                    deadline = None;
                    if self.config.interactive {
                        self.output.notice(SLOW_STEP);
                    } else {
                        queue.extend(self.machine.timed_out());
                    }
                }
                Event::Input(input) => {
                    let hold = matches!(input, InputEvent::MenuOpened(_));
                    let was_open = menu.open;
                    if !matches!(input, InputEvent::Echoed(_)) {
                        menu.open = hold;
                    }
                    if !matches!(
                        input,
                        InputEvent::Closed | InputEvent::Interrupted | InputEvent::Echoed(_)
                    ) {
                        self.output.input_arrived(hold);
                    }
                    match input {
                        InputEvent::Echoed(lines) => self.output.echoed(lines),
                        InputEvent::MenuOpened(ack) => {
                            let _ = ack.send(());
                        }
                        InputEvent::MenuClosed => {}
                        InputEvent::Hint => {
                            let revealed = self.machine.reveal_hint();
                            if revealed.is_empty() {
                                self.output.notice("No more hints for this step.");
                            }
                            queue.extend(revealed);
                        }
                        InputEvent::Solution => {
                            if let Some(step) = self.machine.step().cloned() {
                                self.output.solution(&step);
                            }
                        }
                        InputEvent::Skip => queue.extend(self.machine.skip()),
                        InputEvent::Quit => queue.extend(self.machine.quit()),
                        InputEvent::Continue => {
                            let connected = self.shells_connected();
                            let passed = self.machine.enter_pressed(connected);
                            if passed.is_empty() && self.machine.waits_for_commands() {
                                self.output.notice(&self.waiting_notice());
                            }
                            queue.extend(passed);
                        }
                        InputEvent::Typed => {
                            let index = self.machine.index();
                            if keys_only_shown != Some(index) {
                                keys_only_shown = Some(index);
                                self.output.notice(KEYS_ONLY);
                            }
                        }
                        InputEvent::Legend => self.output.legend(),
                        InputEvent::SkipAsked => {
                            let text = self.skip_question();
                            self.output.notice(&text);
                        }
                        InputEvent::SkipSolved => queue.extend(self.skip_solved().await),
                        InputEvent::Resized => self.output.resized(self.machine),
                        InputEvent::Interrupted => return Ok(self.finish(Ending::Interrupted)),
                        InputEvent::Closed => {
                            input_open = false;
                            self.set_mode(InputMode::Idle);
                            if self.machine.phase() == Phase::Reading && !self.waits_for_shell() {
                                queue.extend(self.machine.continue_reading());
                            }
                        }
                    }
                    if !hold {
                        self.output.input_done();
                    }
                    if was_open && !menu.open {
                        // The latest signal says it all: a loss after changes means the
                        // goals cannot be judged, changes after a loss mean a recovery.
                        let caught_up = std::mem::take(&mut menu);
                        let changed = caught_up
                            .signal
                            .is_some_and(|signal| self.report_link(&signal, &mut lost));
                        if caught_up.deadline {
                            self.output.notice(SLOW_STEP);
                        }
                        if changed {
                            queue.extend(self.rejudge().await);
                        }
                    }
                }
            }
        }
    }

    /// Reports a loss or a recovery once (`lost` is whether one is reported); whether the
    /// goals can be judged again (anything but a loss).
    fn report_link(&mut self, signal: &ClusterEvent, lost: &mut bool) -> bool {
        match signal {
            ClusterEvent::Lost(_) if !*lost => {
                *lost = true;
                self.output.cluster(signal);
            }
            // Changes flowing again mean the cluster is back, even if its `Restored` is
            // still on its way.
            ClusterEvent::Changed | ClusterEvent::Restored if *lost => {
                *lost = false;
                self.output.cluster(&ClusterEvent::Restored);
            }
            ClusterEvent::Denied(_) => self.output.cluster(signal),
            _ => {}
        }
        !matches!(signal, ClusterEvent::Lost(_))
    }

    /// What a first `k` says: a second one skips; `r` runs the solution first, shown here.
    fn skip_question(&self) -> String {
        let Some(step) = self.machine.step().filter(|s| can_solve(s)) else {
            return "Press k again to skip this step.".to_owned();
        };
        let mut text = "Press k again to skip this step, or r to run its solution for you \
                        first, so later steps find what it leaves:"
            .to_owned();
        for command in &step.solution {
            text.push_str(&format!("\n    $ {command}"));
        }
        text
    }

    /// Runs the step's solution for the learner; the step ends as skipped once its goals
    /// hold. A reading step, or one without a solution, is only skipped.
    async fn skip_solved(&mut self) -> Vec<Transition> {
        let Some(step) = self.machine.step().cloned() else {
            return Vec::new();
        };
        if !can_solve(&step) {
            return self.machine.skip();
        }
        self.output.notice("Running the solution…");
        let captured = self.machine.captured().clone();
        match self.source.run_solution(&step, &captured).await {
            Ok(()) => {
                self.machine.solved_for_learner();
                self.rejudge().await
            }
            Err(why) => {
                self.output.notice(&why);
                Vec::new()
            }
        }
    }

    /// Judges the goals again, then reads captures if they are what the step waits for.
    async fn rejudge(&mut self) -> Vec<Transition> {
        let mut transitions = self.evaluate().await;
        if self.machine.phase() == Phase::Capturing {
            transitions.extend(self.try_captures());
        }
        transitions
    }

    fn finish(&mut self, ending: Ending) -> Ending {
        self.set_mode(InputMode::Idle);
        (self.save)(self.machine);
        ending
    }

    fn set_mode(&self, mode: InputMode) {
        if let Ok(mut current) = self.input_mode.lock() {
            *current = mode;
        }
    }

    fn scaled(&self, timeout: Duration) -> Duration {
        timeout.mul_f64(self.config.timeout_scale.max(0.0))
    }

    fn shells_connected(&self) -> bool {
        self.shells.as_deref().is_some_and(Shells::connected)
    }

    /// Whether the current reading step should wait for a connected terminal's commands.
    fn waits_for_shell(&self) -> bool {
        self.shells_connected() && self.machine.waits_for_commands()
    }

    fn waiting_notice(&self) -> String {
        format!(
            "This step passes when your connected terminal has run: {}",
            self.machine.unseen().join(", ")
        )
    }

    fn publish_captures(&mut self) {
        if let Some(shells) = self.shells.as_deref_mut() {
            shells.captures_changed(self.machine.captured());
        }
    }

    /// What the connected terminals did: each connection and disconnection said once, each
    /// command handed to the machine. A run nobody can press Enter in moves past a reading
    /// step once no terminal is left to run its commands.
    fn poll_shells(&mut self, input_open: bool) -> Vec<Transition> {
        let Some(shells) = self.shells.as_deref_mut() else {
            return Vec::new();
        };
        let events = shells.poll();
        let mut out = Vec::new();
        for event in events {
            match event {
                ShellEvent::Connected(pid) => self.output.notice(&format!(
                    "A terminal connected (kubetutor shell, pid {pid}): commands run there count for this lesson."
                )),
                ShellEvent::Disconnected(pid) => {
                    self.output.notice(&format!("The connected terminal (pid {pid}) closed."));
                }
                ShellEvent::TakenOver => self.output.notice(
                    "Another kubetutor run took over the connected terminals; Enter continues reading steps here.",
                ),
                ShellEvent::Command { command, exit, .. } => {
                    out.extend(self.machine.command_seen(&command, exit));
                }
            }
        }
        let nobody = !(self.config.interactive && input_open);
        if nobody && self.machine.phase() == Phase::Reading && !self.waits_for_shell() {
            out.extend(self.machine.continue_reading());
        }
        out
    }

    fn step_has_http(&self) -> bool {
        self.machine
            .step()
            .is_some_and(|s| s.goals.iter().any(|g| matches!(g, Goal::Http(_))))
    }

    async fn evaluate(&mut self) -> Vec<Transition> {
        let Some(step) = self.machine.judged_step().cloned() else {
            return Vec::new();
        };
        if step.goals.is_empty() {
            return Vec::new();
        }
        let reports = self.source.evaluate(&step).await;
        if reports.as_slice() != self.machine.goals() {
            // Shown before the machine moves on: once every goal holds, the machine is already
            // on the next step, and the checklist would keep the stale lines.
            self.output.goals_updated(&step, &reports);
        }
        self.machine.goals_reported(reports)
    }

    fn try_captures(&mut self) -> Vec<Transition> {
        let Some(step) = self.machine.step().cloned() else {
            return Vec::new();
        };
        match self.source.read_captures(&step) {
            Ok(values) => self.machine.captures_read(values),
            Err(why) => {
                self.machine.capture_failed(why);
                Vec::new()
            }
        }
    }
}

/// Whether running a step's solution sets something up: it has goals to reach and commands.
fn can_solve(step: &Step) -> bool {
    !step.goals.is_empty() && !step.solution.is_empty()
}

#[cfg(test)]
mod tests;
