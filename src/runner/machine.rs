//! The lesson state machine: which step is current, what each goal looks like, which hints are
//! shown and which values were captured. Pure: inputs in, transitions out, no IO, so every
//! path a learner can take is unit-tested without a cluster or a terminal.

use std::collections::BTreeMap;

use crate::lesson::{Lesson, Step};

/// One goal's status as the checker last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalReport {
    /// Whether the goal holds right now.
    pub met: bool,
    /// One line saying what holds and what differs, e.g. "3/4 replicas ready".
    pub summary: String,
    /// Further differences, one per line.
    pub details: Vec<String>,
    /// The author's message for a goal that does not hold.
    pub explain_failure: Option<String>,
}

impl GoalReport {
    /// A report for a goal that has not been evaluated yet.
    pub fn pending() -> Self {
        GoalReport {
            met: false,
            summary: "waiting for the cluster".to_owned(),
            details: Vec::new(),
            explain_failure: None,
        }
    }
}

/// How a finished step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// Every goal held (or the learner read it, for a reading step).
    Passed,
    /// The learner skipped it.
    Skipped,
}

/// How a reading step passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadBy {
    /// A connected terminal ran every command the step expects.
    Commands,
    /// The learner pressed Enter.
    Enter,
    /// Nobody was there to wait for (`--no-input` with no connected terminal).
    AtOnce,
}

/// Where the current step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A step without goals: waits for the learner to continue.
    Reading,
    /// Waiting for the goals to hold.
    Waiting,
    /// Every goal holds; waiting for the captured values to be readable.
    Capturing,
    /// The lesson is over (passed, failed or quit).
    Finished,
}

/// Something that happened, for the screen, the JSON writer and the progress file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// A step became current.
    StepStarted {
        /// Index of the step in the lesson.
        index: usize,
    },
    /// A goal started to hold.
    GoalMet {
        /// Index of the step in the lesson.
        step: usize,
        /// Index of the goal in the step.
        goal: usize,
    },
    /// A goal that held no longer does.
    GoalLost {
        /// Index of the step in the lesson.
        step: usize,
        /// Index of the goal in the step.
        goal: usize,
    },
    /// Every goal holds and the step's captures must now be read.
    CapturesNeeded,
    /// The step passed.
    StepPassed {
        /// Index of the step in the lesson.
        index: usize,
    },
    /// The step failed (its timeout expired); the lesson ends.
    StepFailed {
        /// Index of the step in the lesson.
        index: usize,
        /// What still differs.
        reason: String,
    },
    /// The learner skipped the step.
    StepSkipped {
        /// Index of the step in the lesson.
        index: usize,
    },
    /// A connected terminal ran a command while this step was current.
    CommandSeen {
        /// Index of the step in the lesson.
        index: usize,
        /// The command line as the learner entered it.
        command: String,
        /// Its exit status.
        exit: i32,
        /// The step's expectations it met for the first time (indexes into `expect`).
        matched: Vec<usize>,
    },
    /// One more hint is shown.
    HintRevealed {
        /// Index of the hint in the step.
        hint: usize,
    },
    /// The learner quit; progress stays where it is.
    Quit,
    /// Every step is done.
    LessonPassed,
    /// A step failed, so the lesson failed.
    LessonFailed,
}

/// The lesson state machine.
#[derive(Debug, Clone)]
pub struct Machine {
    lesson: Lesson,
    index: usize,
    phase: Phase,
    goals: Vec<GoalReport>,
    hints_revealed: usize,
    captured: BTreeMap<String, String>,
    capture_error: Option<String>,
    outcomes: Vec<(String, StepOutcome)>,
    seen: Vec<bool>,
    read_by: Option<ReadBy>,
    /// The current step's solution was run for the learner: when its goals hold, it counts as
    /// skipped, not passed.
    solved: bool,
    /// The current step with the values captured so far put into its goals: made once when
    /// the step starts (captures only change when a step passes), judged on every event.
    judged: Option<Step>,
}

impl Machine {
    /// A machine at step `start`, with values captured by earlier runs.
    pub fn new(lesson: Lesson, start: usize, captured: BTreeMap<String, String>) -> Self {
        Machine {
            lesson,
            index: start,
            phase: Phase::Finished,
            goals: Vec::new(),
            hints_revealed: 0,
            captured,
            capture_error: None,
            outcomes: Vec::new(),
            seen: Vec::new(),
            read_by: None,
            solved: false,
            judged: None,
        }
    }

    /// Enters the first step (or ends at once if there is none left).
    pub fn start(&mut self) -> Vec<Transition> {
        let mut out = Vec::new();
        self.enter(self.index, &mut out);
        out
    }

    /// The lesson being played.
    pub fn lesson(&self) -> &Lesson {
        &self.lesson
    }

    /// Index of the current step (equal to the step count once every step is done).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The current step, unless the lesson is over.
    pub fn step(&self) -> Option<&Step> {
        if self.phase == Phase::Finished {
            return None;
        }
        self.lesson.steps.get(self.index)
    }

    /// The current step as its goals are judged: with the values captured by earlier steps
    /// (`$POD_NAME`) put into every goal field.
    pub fn judged_step(&self) -> Option<&Step> {
        if self.phase == Phase::Finished {
            return None;
        }
        self.judged.as_ref()
    }

    /// Where the current step stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The current step's goals as last reported.
    pub fn goals(&self) -> &[GoalReport] {
        &self.goals
    }

    #[cfg(test)]
    /// How many hints of the current step are shown.
    pub fn hints_revealed(&self) -> usize {
        self.hints_revealed
    }

    /// Values captured so far (by this run and earlier ones).
    pub fn captured(&self) -> &BTreeMap<String, String> {
        &self.captured
    }

    /// Steps finished in this run, in order, with how they ended.
    pub fn outcomes(&self) -> &[(String, StepOutcome)] {
        &self.outcomes
    }

    /// Records the checker's latest view of the current step's goals.
    pub fn goals_reported(&mut self, reports: Vec<GoalReport>) -> Vec<Transition> {
        let mut out = Vec::new();
        if !matches!(self.phase, Phase::Waiting | Phase::Capturing) {
            return out;
        }
        let step = self.index;
        for (goal, report) in reports.into_iter().enumerate() {
            let Some(slot) = self.goals.get_mut(goal) else {
                break;
            };
            match (slot.met, report.met) {
                (false, true) => out.push(Transition::GoalMet { step, goal }),
                (true, false) => out.push(Transition::GoalLost { step, goal }),
                _ => {}
            }
            *slot = report;
        }
        let all_met = self.goals.iter().all(|g| g.met);
        match (self.phase, all_met) {
            (Phase::Waiting, true) => {
                if self.lesson.steps[self.index].capture.is_empty() {
                    self.pass(&mut out);
                } else {
                    self.phase = Phase::Capturing;
                    out.push(Transition::CapturesNeeded);
                }
            }
            (Phase::Capturing, false) => {
                self.phase = Phase::Waiting;
                self.capture_error = None;
            }
            _ => {}
        }
        out
    }

    /// The step's captures were read; the step passes.
    pub fn captures_read(&mut self, values: BTreeMap<String, String>) -> Vec<Transition> {
        let mut out = Vec::new();
        if self.phase == Phase::Capturing {
            self.captured.extend(values);
            self.pass(&mut out);
        }
        out
    }

    /// A capture could not be read yet; remembered so a timeout can say why.
    pub fn capture_failed(&mut self, why: String) {
        if self.phase == Phase::Capturing {
            self.capture_error = Some(why);
        }
    }

    /// A reading step passes without waiting: nobody is there to press Enter.
    pub fn continue_reading(&mut self) -> Vec<Transition> {
        self.pass_reading(ReadBy::AtOnce)
    }

    /// The learner pressed Enter on a reading step: it passes, unless it expects commands and
    /// a connected terminal can run them (then only those commands pass it).
    pub fn enter_pressed(&mut self, shells_connected: bool) -> Vec<Transition> {
        if shells_connected && self.waits_for_commands() {
            return Vec::new();
        }
        self.pass_reading(ReadBy::Enter)
    }

    /// Whether the current step is a reading step with expected commands not seen yet.
    pub fn waits_for_commands(&self) -> bool {
        self.phase == Phase::Reading && self.seen.iter().any(|seen| !seen)
    }

    /// The current step's expected commands, each with whether it was seen since the step
    /// started.
    pub fn expected(&self) -> Vec<(&str, bool)> {
        self.step()
            .map(|step| {
                step.expect
                    .iter()
                    .map(String::as_str)
                    .zip(self.seen.iter().copied())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The current step's expected commands not seen yet.
    pub fn unseen(&self) -> Vec<&str> {
        self.expected()
            .into_iter()
            .filter(|(_, seen)| !seen)
            .map(|(command, _)| command)
            .collect()
    }

    /// How the last reading step that passed was passed.
    pub fn read_by(&self) -> Option<ReadBy> {
        self.read_by
    }

    /// A connected terminal ran `command`, which exited with `exit`; a reading step whose
    /// every expectation has now been seen (each from a command that exited 0) passes.
    pub fn command_seen(&mut self, command: &str, exit: i32) -> Vec<Transition> {
        let Some(step) = self.step() else {
            return Vec::new();
        };
        let mut matched = Vec::new();
        if self.phase == Phase::Reading && exit == 0 {
            for (e, expected) in step.expect.iter().enumerate() {
                if !self.seen[e] && crate::k8s::command::matches(expected, command) {
                    matched.push(e);
                }
            }
        }
        for e in &matched {
            self.seen[*e] = true;
        }
        let mut out = vec![Transition::CommandSeen {
            index: self.index,
            command: command.to_owned(),
            exit,
            matched,
        }];
        if self.phase == Phase::Reading && !self.seen.is_empty() && !self.waits_for_commands() {
            out.extend(self.pass_reading(ReadBy::Commands));
        }
        out
    }

    fn pass_reading(&mut self, by: ReadBy) -> Vec<Transition> {
        let mut out = Vec::new();
        if self.phase == Phase::Reading {
            self.read_by = Some(by);
            self.pass(&mut out);
        }
        out
    }

    /// The step's timeout expired: it fails, and with it the lesson.
    pub fn timed_out(&mut self) -> Vec<Transition> {
        let reason = match self.phase {
            Phase::Waiting => self.unmet_reason(),
            Phase::Capturing => format!(
                "the goals hold but a value could not be captured: {}",
                self.capture_error
                    .as_deref()
                    .unwrap_or("it is not available yet")
            ),
            Phase::Reading if self.waits_for_commands() => {
                format!(
                    "timed out: the connected terminal did not run {}",
                    self.unseen().join(", ")
                )
            }
            Phase::Reading | Phase::Finished => return Vec::new(),
        };
        self.phase = Phase::Finished;
        vec![
            Transition::StepFailed {
                index: self.index,
                reason,
            },
            Transition::LessonFailed,
        ]
    }

    /// The learner skips the current step.
    pub fn skip(&mut self) -> Vec<Transition> {
        let mut out = Vec::new();
        if self.phase == Phase::Finished {
            return out;
        }
        let id = self.lesson.steps[self.index].id.clone();
        self.outcomes.push((id, StepOutcome::Skipped));
        out.push(Transition::StepSkipped { index: self.index });
        self.enter(self.index + 1, &mut out);
        out
    }

    /// Shows the next hint of the current step, if one is left.
    pub fn reveal_hint(&mut self) -> Vec<Transition> {
        let Some(step) = self.step() else {
            return Vec::new();
        };
        if self.hints_revealed >= step.hints.len() {
            return Vec::new();
        }
        self.hints_revealed += 1;
        vec![Transition::HintRevealed {
            hint: self.hints_revealed - 1,
        }]
    }

    /// The learner quits.
    pub fn quit(&mut self) -> Vec<Transition> {
        if self.phase == Phase::Finished {
            return Vec::new();
        }
        self.phase = Phase::Finished;
        vec![Transition::Quit]
    }

    /// What still differs, naming each unmet goal and its summary.
    pub fn unmet_reason(&self) -> String {
        let Some(step) = self.lesson.steps.get(self.index) else {
            return String::new();
        };
        let parts: Vec<String> = self
            .goals
            .iter()
            .zip(&step.goals)
            .filter(|(report, _)| !report.met)
            .map(|(report, goal)| format!("{}: {}", goal.kind_name(), report.summary))
            .collect();
        if parts.is_empty() {
            "the goals did not hold in time".to_owned()
        } else {
            format!("timed out: {}", parts.join("; "))
        }
    }

    fn pass(&mut self, out: &mut Vec<Transition>) {
        let id = self.lesson.steps[self.index].id.clone();
        if self.solved {
            self.outcomes.push((id, StepOutcome::Skipped));
            out.push(Transition::StepSkipped { index: self.index });
        } else {
            self.outcomes.push((id, StepOutcome::Passed));
            out.push(Transition::StepPassed { index: self.index });
        }
        self.enter(self.index + 1, out);
    }

    /// The current step's solution ran for the learner: the step ends, as skipped, once its
    /// goals hold (so what it leaves, captures included, is there for the later steps).
    pub fn solved_for_learner(&mut self) {
        if self.phase != Phase::Finished {
            self.solved = true;
        }
    }

    fn enter(&mut self, index: usize, out: &mut Vec<Transition>) {
        self.index = index;
        self.hints_revealed = 0;
        self.capture_error = None;
        self.solved = false;
        let Some(step) = self.lesson.steps.get(index) else {
            self.index = self.lesson.steps.len();
            self.phase = Phase::Finished;
            self.goals.clear();
            self.judged = None;
            out.push(Transition::LessonPassed);
            return;
        };
        self.goals = step.goals.iter().map(|_| GoalReport::pending()).collect();
        self.judged = Some(step.with_captures(&self.captured));
        self.seen = if step.goals.is_empty() {
            vec![false; step.expect.len()]
        } else {
            Vec::new()
        };
        self.phase = if step.goals.is_empty() {
            Phase::Reading
        } else {
            Phase::Waiting
        };
        out.push(Transition::StepStarted { index });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn lesson() -> Lesson {
        serde_yaml::from_str(
            r#"
version: 1
title: Test lesson
namespace: demo
steps:
  - id: intro
    title: Read this
    explain: Nothing to do.
  - id: create
    title: Create it
    hints: [first hint, second hint]
    goals:
      - kind: deployed
        deployment: web
        image: nginx:1
      - kind: exposed
        deployment: web
        type: NodePort
        port: 80
    capture:
      - name: POD
        from: {apiVersion: v1, kind: Pod, selector: app=web}
        path: .metadata.name
  - id: scale
    title: Scale it
    goals:
      - kind: scaled
        deployment: web
        replicas: 4
"#,
        )
        .expect("test lesson parses")
    }

    fn report(met: bool, summary: &str) -> GoalReport {
        GoalReport {
            met,
            summary: summary.to_owned(),
            details: Vec::new(),
            explain_failure: None,
        }
    }

    #[test]
    fn a_lesson_walks_from_reading_through_goals_and_captures_to_passed() {
        let mut m = Machine::new(lesson(), 0, BTreeMap::new());
        assert_eq!(m.start(), vec![Transition::StepStarted { index: 0 }]);
        assert_eq!(m.phase(), Phase::Reading);
        assert_eq!(
            m.continue_reading(),
            vec![
                Transition::StepPassed { index: 0 },
                Transition::StepStarted { index: 1 }
            ]
        );
        assert_eq!(m.phase(), Phase::Waiting);
        assert_eq!(m.goals().len(), 2);

        let t = m.goals_reported(vec![report(true, "ok"), report(false, "is ClusterIP")]);
        assert_eq!(t, vec![Transition::GoalMet { step: 1, goal: 0 }]);
        let t = m.goals_reported(vec![report(true, "ok"), report(true, "ok")]);
        assert_eq!(
            t,
            vec![
                Transition::GoalMet { step: 1, goal: 1 },
                Transition::CapturesNeeded
            ]
        );
        assert_eq!(m.phase(), Phase::Capturing);

        let t = m.captures_read(BTreeMap::from([("POD".to_owned(), "web-1".to_owned())]));
        assert_eq!(
            t,
            vec![
                Transition::StepPassed { index: 1 },
                Transition::StepStarted { index: 2 }
            ]
        );
        assert_eq!(m.captured().get("POD").map(String::as_str), Some("web-1"));

        let t = m.goals_reported(vec![report(true, "4/4 replicas")]);
        assert_eq!(
            t,
            vec![
                Transition::GoalMet { step: 2, goal: 0 },
                Transition::StepPassed { index: 2 },
                Transition::LessonPassed
            ]
        );
        assert_eq!(m.phase(), Phase::Finished);
        assert!(m.step().is_none());
        assert_eq!(
            m.outcomes()
                .iter()
                .map(|(id, o)| (id.as_str(), *o))
                .collect::<Vec<_>>(),
            vec![
                ("intro", StepOutcome::Passed),
                ("create", StepOutcome::Passed),
                ("scale", StepOutcome::Passed)
            ]
        );
    }

    #[test]
    fn a_goal_that_stops_holding_is_lost_and_blocks_the_capture() {
        let mut m = Machine::new(lesson(), 1, BTreeMap::new());
        m.start();
        m.goals_reported(vec![report(true, "ok"), report(true, "ok")]);
        assert_eq!(m.phase(), Phase::Capturing);
        let t = m.goals_reported(vec![report(true, "ok"), report(false, "gone")]);
        assert_eq!(t, vec![Transition::GoalLost { step: 1, goal: 1 }]);
        assert_eq!(m.phase(), Phase::Waiting);
        assert!(m.captures_read(BTreeMap::new()).is_empty());
    }

    #[test]
    fn a_timeout_fails_the_step_naming_what_differs() {
        let mut m = Machine::new(lesson(), 2, BTreeMap::new());
        m.start();
        m.goals_reported(vec![report(false, "3/4 replicas ready")]);
        let t = m.timed_out();
        assert_eq!(
            t,
            vec![
                Transition::StepFailed {
                    index: 2,
                    reason: "timed out: scaled: 3/4 replicas ready".to_owned()
                },
                Transition::LessonFailed
            ]
        );
        assert_eq!(m.phase(), Phase::Finished);
        assert!(m.timed_out().is_empty());
    }

    #[test]
    fn a_timeout_while_capturing_names_the_capture_problem() {
        let mut m = Machine::new(lesson(), 1, BTreeMap::new());
        m.start();
        m.goals_reported(vec![report(true, "ok"), report(true, "ok")]);
        m.capture_failed("no Pod yet".to_owned());
        let t = m.timed_out();
        assert!(matches!(
            &t[0],
            Transition::StepFailed { reason, .. } if reason.contains("no Pod yet")
        ));
    }

    #[test]
    fn hints_are_revealed_one_at_a_time_and_reset_per_step() {
        let mut m = Machine::new(lesson(), 1, BTreeMap::new());
        m.start();
        assert_eq!(m.reveal_hint(), vec![Transition::HintRevealed { hint: 0 }]);
        assert_eq!(m.reveal_hint(), vec![Transition::HintRevealed { hint: 1 }]);
        assert!(m.reveal_hint().is_empty());
        assert_eq!(m.hints_revealed(), 2);
        m.skip();
        assert_eq!(m.hints_revealed(), 0);
    }

    #[test]
    fn skip_moves_on_and_quit_stops() {
        let mut m = Machine::new(lesson(), 1, BTreeMap::new());
        m.start();
        assert_eq!(
            m.skip(),
            vec![
                Transition::StepSkipped { index: 1 },
                Transition::StepStarted { index: 2 }
            ]
        );
        assert_eq!(m.quit(), vec![Transition::Quit]);
        assert!(m.quit().is_empty());
        assert!(m.skip().is_empty());
        assert_eq!(m.outcomes(), &[("create".to_owned(), StepOutcome::Skipped)]);
    }

    fn reading_lesson() -> Lesson {
        serde_yaml::from_str(
            r#"
version: 1
title: Reading
steps:
  - id: look
    title: Look around
    expect: [kubectl get pods, kubectl logs]
  - id: again
    title: Look again
    expect: [kubectl get pods]
  - id: plain
    title: Just read
"#,
        )
        .expect("test lesson parses")
    }

    #[test]
    fn a_reading_step_with_expect_passes_once_every_command_ran_successfully() {
        let mut m = Machine::new(reading_lesson(), 0, BTreeMap::new());
        m.start();
        assert!(m.waits_for_commands());
        let t = m.command_seen("kubectl logs web", 1);
        assert!(
            matches!(&t[..], [Transition::CommandSeen { exit: 1, matched, .. }] if matched.is_empty())
        );
        let t = m.command_seen("kubectl logs web", 0);
        assert!(matches!(&t[..], [Transition::CommandSeen { matched, .. }] if matched == &[1]));
        assert_eq!(
            m.expected(),
            vec![("kubectl get pods", false), ("kubectl logs", true)]
        );
        // Seen once is enough: a second time matches nothing new.
        let t = m.command_seen("kubectl logs web", 0);
        assert!(matches!(&t[..], [Transition::CommandSeen { matched, .. }] if matched.is_empty()));
        let t = m.command_seen("kubectl get po -n x", 0);
        assert_eq!(
            t[1..],
            [
                Transition::StepPassed { index: 0 },
                Transition::StepStarted { index: 1 }
            ]
        );
        assert_eq!(m.read_by(), Some(ReadBy::Commands));
        // What was seen before a step started does not count for it.
        assert_eq!(m.expected(), vec![("kubectl get pods", false)]);
        m.command_seen("kubectl get pods", 0);
        // A step without expectations does not pass on commands.
        assert_eq!(m.index(), 2);
        let t = m.command_seen("kubectl get pods", 0);
        assert_eq!(t.len(), 1);
        assert_eq!(m.phase(), Phase::Reading);
    }

    #[test]
    fn enter_passes_a_reading_step_only_when_no_terminal_can_run_its_commands() {
        let mut m = Machine::new(reading_lesson(), 0, BTreeMap::new());
        m.start();
        m.command_seen("kubectl get pods", 0);
        assert!(m.enter_pressed(true).is_empty());
        assert_eq!(m.phase(), Phase::Reading);
        assert_eq!(
            m.enter_pressed(false)[0],
            Transition::StepPassed { index: 0 }
        );
        assert_eq!(m.read_by(), Some(ReadBy::Enter));
        assert_eq!(m.continue_reading()[0], Transition::StepPassed { index: 1 });
        assert_eq!(m.read_by(), Some(ReadBy::AtOnce));
        // No expectations: Enter passes even with a terminal connected.
        assert!(!m.waits_for_commands());
        assert_eq!(
            m.enter_pressed(true)[0],
            Transition::StepPassed { index: 2 }
        );
    }

    #[test]
    fn a_reading_step_waiting_for_commands_times_out_naming_them() {
        let mut m = Machine::new(reading_lesson(), 0, BTreeMap::new());
        m.start();
        m.command_seen("kubectl get pods", 0);
        let t = m.timed_out();
        assert!(
            matches!(&t[0], Transition::StepFailed { reason, .. } if reason.ends_with("did not run kubectl logs")),
            "{t:?}"
        );
    }

    #[test]
    fn starting_past_the_end_passes_at_once() {
        let mut m = Machine::new(lesson(), 3, BTreeMap::new());
        assert_eq!(m.start(), vec![Transition::LessonPassed]);
    }

    #[test]
    fn reports_outside_a_goal_step_are_ignored() {
        let mut m = Machine::new(lesson(), 0, BTreeMap::new());
        m.start();
        assert!(m.goals_reported(vec![report(true, "ok")]).is_empty());
        assert_eq!(m.phase(), Phase::Reading);
    }
}
