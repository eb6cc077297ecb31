//! The `--json` event stream of `run` and `check`: one JSON object per line, each with
//! `event`, `version` and `ts`, then the event's own fields.
//!
//! [`JsonEvent`] is the one type both commands write, so an event has one shape wherever it
//! comes from. The stream is a contract for CI and tests: `docs/json-events.md` documents it,
//! `docs/json-events.schema.json` is generated from these types ([`events_schema`]), and
//! snapshot tests pin the lines.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::lesson::{Goal, Step};
use crate::runner::events::Output;
use crate::runner::machine::{GoalReport, Machine, ReadBy, StepOutcome, Transition};

/// The version of the event format every line carries; bumped when a field changes meaning
/// or goes away (new events and new fields do not bump it).
pub const EVENTS_VERSION: u32 = 1;

/// The `$id` of the events schema.
pub const EVENTS_SCHEMA_ID: &str = "urn:kubetutor:json-events:v1";

/// One event of `run --json` or `check --json`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JsonEvent {
    /// `run` started the embedded sandbox (first, before any step): point kubectl at it with
    /// `export KUBECONFIG=<kubeconfig>`.
    SandboxStarted {
        /// The sandbox's kubeconfig file.
        kubeconfig: String,
        /// Its context.
        context: String,
        /// Its API server URL.
        server: String,
    },
    /// `check` starts a lesson on its fresh cluster.
    LessonStarted {
        /// The lesson file as named on the command line.
        file: String,
        /// The lesson's title.
        lesson: String,
        /// The namespace the lesson runs in.
        namespace: String,
    },
    /// A step became current.
    StepStarted {
        /// Step id.
        step: String,
        /// Step title.
        title: String,
        /// The step's goals as the lesson wrote them (`kind` plus the fields set).
        #[schemars(with = "Vec<Goal>")]
        goals: Vec<Value>,
        /// The step's solution commands (never run by `run`).
        solution: Vec<String>,
        /// Values captured by earlier steps, by name.
        captures: BTreeMap<String, String>,
    },
    /// A goal of the current step started to hold.
    GoalMet {
        /// Step id.
        step: String,
        /// The goal's kind.
        goal: String,
        /// The goal's position in the step, from 0.
        index: usize,
    },
    /// A goal that held no longer does (the step is not passed yet).
    GoalLost {
        /// Step id.
        step: String,
        /// The goal's kind.
        goal: String,
        /// The goal's position in the step, from 0.
        index: usize,
    },
    /// The step passed.
    StepPassed {
        /// Step id.
        step: String,
        /// From the step's start to its pass.
        duration_ms: u64,
        /// `run`, reading steps only: how the step passed (`commands`: a connected terminal
        /// ran what it expects; `enter`: the learner pressed Enter; `at_once`: `--no-input`
        /// with no connected terminal).
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<ReadBy>,
    },
    /// `run`: a connected terminal (`kubetutor shell`) ran a command while the step was
    /// current.
    CommandSeen {
        /// Step id.
        step: String,
        /// The command line as entered.
        command: String,
        /// Its exit status.
        exit: i32,
        /// The step's `expect` entries it met for the first time.
        expected: Vec<String>,
    },
    /// The step failed (its timeout expired, or in `check` its solution failed).
    StepFailed {
        /// Step id.
        step: String,
        /// One line: what still differs, or what failed.
        reason: String,
        /// Expected against actual per unmet goal; in `check` also events and pod states.
        details: Vec<String>,
        /// `check`: the solution's transcript (`$ command` and its output).
        #[serde(skip_serializing_if = "Option::is_none")]
        output: Option<String>,
        /// From the step's start to its failure.
        duration_ms: u64,
    },
    /// The step was skipped: by the learner, by `--fail-fast`, or (with a `reason`) because
    /// `check` cannot check it on this cluster.
    StepSkipped {
        /// Step id.
        step: String,
        /// `check`: why the step could not be checked (it needs a data plane).
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// `check`: the solution's transcript.
        #[serde(skip_serializing_if = "Option::is_none")]
        output: Option<String>,
        /// `check`: how long the step ran before it was found uncheckable.
        #[serde(skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// Every step passed or was skipped (the last event of a lesson).
    LessonPassed {
        /// The lesson file.
        file: String,
        /// Steps that passed.
        steps_passed: usize,
        /// Steps skipped.
        steps_skipped: usize,
        /// `check`: steps not checked for want of a data plane (always 0 in `run`).
        steps_without_data_plane: usize,
    },
    /// The lesson failed, or could not be run at all (the last event of a lesson).
    LessonFailed {
        /// The lesson file.
        file: String,
        /// The first step that failed; absent when the lesson could not be run at all.
        #[serde(skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        /// How many steps failed.
        steps_failed: usize,
        /// One line: the first failure's reason, or why the lesson could not be run.
        reason: String,
    },
}

impl JsonEvent {
    /// `step_started` for step `index` of the machine's lesson.
    pub fn step_started(machine: &Machine, index: usize) -> Option<JsonEvent> {
        let step = machine.lesson().steps.get(index)?;
        Some(JsonEvent::StepStarted {
            step: step.id.clone(),
            title: step.title.clone(),
            goals: step.goals.iter().map(goal_as_written).collect(),
            solution: step.solution.clone(),
            captures: machine.captured().clone(),
        })
    }

    /// `step_started`, `goal_met` and `goal_lost`: the events a transition alone decides,
    /// written alike by `run` and `check`.
    pub fn from_transition(machine: &Machine, transition: &Transition) -> Option<JsonEvent> {
        let goal = |step: usize, goal: usize| {
            let found = machine.lesson().steps.get(step)?;
            Some((
                found.id.clone(),
                found.goals.get(goal).map_or("", Goal::kind_name).to_owned(),
            ))
        };
        match transition {
            Transition::StepStarted { index } => JsonEvent::step_started(machine, *index),
            Transition::GoalMet { step, goal: index } => {
                let (step, goal) = goal(*step, *index)?;
                Some(JsonEvent::GoalMet {
                    step,
                    goal,
                    index: *index,
                })
            }
            Transition::GoalLost { step, goal: index } => {
                let (step, goal) = goal(*step, *index)?;
                Some(JsonEvent::GoalLost {
                    step,
                    goal,
                    index: *index,
                })
            }
            _ => None,
        }
    }
}

/// Expected against actual for each goal of `step` that does not hold, as the checklist words
/// it: `goal 2 (exposed): ...`, its details and the author's explanation indented below.
pub fn unmet_goals(reports: &[GoalReport], step: &Step) -> Vec<String> {
    let mut lines = Vec::new();
    for (index, (report, goal)) in reports.iter().zip(&step.goals).enumerate() {
        if report.met {
            continue;
        }
        lines.push(format!(
            "goal {} ({}): {}",
            index + 1,
            goal.kind_name(),
            report.summary
        ));
        lines.extend(report.details.iter().map(|d| format!("  {d}")));
        if let Some(why) = &report.explain_failure {
            lines.push(format!("  {why}"));
        }
    }
    lines
}

/// A duration in whole milliseconds, as the events carry it.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// One line of the stream: the envelope every event shares around the event's own fields.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(title = "kubetutor --json event")]
struct Line<'a> {
    /// The format's version: 1 (see `docs/json-events.md`).
    #[schemars(extend("const" = EVENTS_VERSION))]
    version: u32,
    /// When the event happened: RFC 3339 in UTC with milliseconds.
    #[schemars(example = "2026-01-02T03:04:05.678Z")]
    ts: String,
    #[serde(flatten)]
    event: &'a JsonEvent,
}

/// The JSON Schema (draft 2020-12) of one line of the stream, with an `$id`, as pretty JSON.
pub fn events_schema() -> String {
    let mut value = schemars::schema_for!(Line<'static>).to_value();
    if let Value::Object(object) = &mut value {
        object.insert("$id".to_owned(), EVENTS_SCHEMA_ID.into());
        value = Value::Object(leading(std::mem::take(object), &["$schema", "$id"]));
    }
    // Serializing a Value cannot fail.
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// `map` with `keys` first, in that order, and the rest in their order.
fn leading(map: Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    let mut ordered = Map::new();
    for key in keys {
        if let Some(value) = map.get(*key) {
            ordered.insert((*key).to_owned(), value.clone());
        }
    }
    for (key, value) in map {
        if !keys.contains(&key.as_str()) {
            ordered.insert(key, value);
        }
    }
    ordered
}

/// Writes events as JSON lines.
pub struct JsonWriter<W: Write> {
    out: W,
    clock: fn() -> Timestamp,
}

impl<W: Write> JsonWriter<W> {
    /// A writer stamping events with the current time.
    pub fn new(out: W) -> Self {
        JsonWriter {
            out,
            clock: Timestamp::now,
        }
    }

    #[cfg(test)]
    /// A writer with a fixed clock, for reproducible output.
    pub fn with_clock(out: W, clock: fn() -> Timestamp) -> Self {
        JsonWriter { out, clock }
    }

    #[cfg(test)]
    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Writes one event line: `event`, `version`, `ts`, then the event's own fields.
    pub fn write(&mut self, event: &JsonEvent) -> std::io::Result<()> {
        let line = Line {
            version: EVENTS_VERSION,
            ts: format_ts((self.clock)()),
            event,
        };
        let object = match serde_json::to_value(&line)? {
            Value::Object(fields) => leading(fields, &["event"]),
            _ => Map::new(),
        };
        let line = serde_json::to_string(&Value::Object(object))?;
        writeln!(self.out, "{line}")?;
        self.out.flush()
    }

    /// Writes `event`; a failure (stdout closed) is logged, since the run itself goes on.
    pub fn emit(&mut self, event: &JsonEvent) {
        if let Err(err) = self.write(event) {
            tracing::warn!("failed to write a JSON event: {err}");
        }
    }
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-01-02T03:04:05.678Z`.
pub fn format_ts(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A goal as the lesson wrote it: `kind` plus its fields, without the unset optional ones.
pub fn goal_as_written(goal: &Goal) -> Value {
    let mut value = serde_json::to_value(goal).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
        if let Some(Value::Object(target)) = map.get_mut("target") {
            target.retain(|_, v| !v.is_null());
        }
    }
    value
}

/// `run --json`: the machine's transitions as events on `out`, anything for humans on stderr.
pub struct JsonOutput<W: Write> {
    writer: JsonWriter<W>,
    file: String,
    step_started: Instant,
    last_failure: Option<String>,
    stopwatch: fn(Instant) -> Duration,
}

impl<W: Write> JsonOutput<W> {
    /// Events of the lesson in `file` written to `writer`.
    pub fn new(writer: JsonWriter<W>, file: String) -> Self {
        JsonOutput {
            writer,
            file,
            step_started: Instant::now(),
            last_failure: None,
            stopwatch: |since| since.elapsed(),
        }
    }

    #[cfg(test)]
    /// Measures step durations with `stopwatch` (given the step's start), for reproducible
    /// output.
    pub fn with_stopwatch(mut self, stopwatch: fn(Instant) -> Duration) -> Self {
        self.stopwatch = stopwatch;
        self
    }

    #[cfg(test)]
    /// The underlying writer.
    pub fn writer(&self) -> &JsonWriter<W> {
        &self.writer
    }

    fn event(&mut self, machine: &Machine, transition: &Transition) -> Option<JsonEvent> {
        let steps = &machine.lesson().steps;
        let step_id = |index: usize| steps.get(index).map(|s| s.id.clone()).unwrap_or_default();
        let elapsed = millis((self.stopwatch)(self.step_started));
        match transition {
            Transition::StepStarted { .. } => {
                self.step_started = Instant::now();
                JsonEvent::from_transition(machine, transition)
            }
            Transition::GoalMet { .. } | Transition::GoalLost { .. } => {
                JsonEvent::from_transition(machine, transition)
            }
            Transition::StepPassed { index } => Some(JsonEvent::StepPassed {
                step: step_id(*index),
                duration_ms: elapsed,
                by: steps
                    .get(*index)
                    .filter(|step| step.goals.is_empty())
                    .and(machine.read_by()),
            }),
            Transition::CommandSeen {
                index,
                command,
                exit,
                matched,
            } => Some(JsonEvent::CommandSeen {
                step: step_id(*index),
                command: command.clone(),
                exit: *exit,
                expected: steps.get(*index).map_or_else(Vec::new, |step| {
                    matched
                        .iter()
                        .filter_map(|e| step.expect.get(*e).cloned())
                        .collect()
                }),
            }),
            Transition::StepSkipped { index } => Some(JsonEvent::StepSkipped {
                step: step_id(*index),
                reason: None,
                output: None,
                duration_ms: None,
            }),
            Transition::StepFailed { index, reason } => {
                self.last_failure = Some(reason.clone());
                Some(JsonEvent::StepFailed {
                    step: step_id(*index),
                    reason: reason.clone(),
                    details: steps
                        .get(*index)
                        .map(|step| unmet_goals(machine.goals(), step))
                        .unwrap_or_default(),
                    output: None,
                    duration_ms: elapsed,
                })
            }
            Transition::LessonPassed => {
                let count = |want: StepOutcome| {
                    machine
                        .outcomes()
                        .iter()
                        .filter(|(_, o)| *o == want)
                        .count()
                };
                Some(JsonEvent::LessonPassed {
                    file: self.file.clone(),
                    steps_passed: count(StepOutcome::Passed),
                    steps_skipped: count(StepOutcome::Skipped),
                    steps_without_data_plane: 0,
                })
            }
            Transition::LessonFailed => Some(JsonEvent::LessonFailed {
                file: self.file.clone(),
                step: Some(step_id(machine.index())),
                steps_failed: 1,
                reason: self.last_failure.take().unwrap_or_default(),
            }),
            Transition::CapturesNeeded | Transition::HintRevealed { .. } | Transition::Quit => None,
        }
    }
}

impl<W: Write> Output for JsonOutput<W> {
    fn transition(&mut self, machine: &Machine, transition: &Transition) {
        if let Some(event) = self.event(machine, transition) {
            self.writer.emit(&event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::Lesson;

    fn fixed() -> Timestamp {
        "2026-01-02T03:04:05.678Z".parse().expect("valid timestamp")
    }

    fn lesson() -> Lesson {
        serde_yaml::from_str(
            r#"
version: 1
title: T
steps:
  - id: create
    title: Create it
    solution: ["kubectl create deployment web --image=nginx:1"]
    goals:
      - kind: deployed
        deployment: web
        image: nginx:1
      - kind: absent
        target: {apiVersion: v1, kind: Service, name: web}
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
        .expect("lesson parses")
    }

    type Action = Box<dyn Fn(&mut Machine) -> Vec<Transition>>;

    /// Runs each action in turn, writing its transitions at once, as the loop does.
    fn lines(actions: Vec<Action>) -> Vec<Value> {
        let mut machine = Machine::new(lesson(), 0, BTreeMap::new());
        let mut output = JsonOutput::new(
            JsonWriter::with_clock(Vec::new(), fixed),
            "lessons/t.yaml".to_owned(),
        )
        .with_stopwatch(|_| Duration::from_millis(1250));
        let start: Action = Box::new(Machine::start);
        for action in std::iter::once(start).chain(actions) {
            for t in action(&mut machine) {
                output.transition(&machine, &t);
            }
        }
        let schema: Value = serde_json::from_str(&events_schema()).expect("the schema is JSON");
        let validator = jsonschema::validator_for(&schema).expect("a valid schema");
        String::from_utf8(output.writer().get_ref().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .inspect(|event| assert!(validator.is_valid(event), "{event}"))
            .collect()
    }

    fn met(summary: &str) -> GoalReport {
        GoalReport {
            met: true,
            summary: summary.to_owned(),
            details: Vec::new(),
            explain_failure: None,
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let now = format_ts(Timestamp::now());
        assert_eq!(now.len(), "2026-01-02T03:04:05.678Z".len(), "{now}");
        assert!(now.ends_with('Z'));
        assert_eq!(format_ts(fixed()), "2026-01-02T03:04:05.678Z");
    }

    #[test]
    fn a_passing_lesson_writes_the_documented_events() {
        let events = lines(vec![
            Box::new(|m| m.goals_reported(vec![met("web runs nginx:1"), met("no Service web")])),
            Box::new(|m| {
                m.captures_read(BTreeMap::from([("POD".to_owned(), "web-abc".to_owned())]))
            }),
            Box::new(|m| m.goals_reported(vec![met("4/4 replicas")])),
        ]);
        insta::assert_yaml_snapshot!(events);
    }

    #[test]
    fn a_failing_step_names_the_difference() {
        let events = lines(vec![
            Box::new(|m| {
                m.goals_reported(vec![
                    met("web runs nginx:1"),
                    GoalReport {
                        met: false,
                        summary: "Service web still exists".to_owned(),
                        ..GoalReport::pending()
                    },
                ])
            }),
            Box::new(Machine::timed_out),
        ]);
        insta::assert_yaml_snapshot!(events);
    }

    #[test]
    fn a_goal_that_stops_holding_is_an_event() {
        fn unmet() -> GoalReport {
            GoalReport {
                met: false,
                summary: "web runs nginx:2".to_owned(),
                ..GoalReport::pending()
            }
        }
        let events = lines(vec![
            Box::new(|m| m.goals_reported(vec![met("web runs nginx:1"), unmet()])),
            Box::new(|m| m.goals_reported(vec![unmet(), unmet()])),
        ]);
        let names: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(names, ["step_started", "goal_met", "goal_lost"]);
        insta::assert_yaml_snapshot!(events[2]);
    }

    #[test]
    fn every_event_leads_with_its_name_then_version_and_ts() {
        let mut writer = JsonWriter::with_clock(Vec::new(), fixed);
        writer
            .write(&JsonEvent::SandboxStarted {
                kubeconfig: "/s/kubeconfig".to_owned(),
                context: "kubetutor-sandbox".to_owned(),
                server: "https://127.0.0.1:6443".to_owned(),
            })
            .unwrap();
        assert_eq!(
            String::from_utf8(writer.get_ref().clone()).unwrap(),
            "{\"event\":\"sandbox_started\",\"version\":1,\"ts\":\"2026-01-02T03:04:05.678Z\",\
             \"kubeconfig\":\"/s/kubeconfig\",\"context\":\"kubetutor-sandbox\",\
             \"server\":\"https://127.0.0.1:6443\"}\n"
        );
    }

    #[test]
    fn the_shipped_schema_is_generated_from_the_event_type() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json-events.schema.json");
        let shipped = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            shipped == events_schema(),
            "docs/json-events.schema.json is stale: run \
             `cargo run -- schema --events > docs/json-events.schema.json`"
        );
    }
}
