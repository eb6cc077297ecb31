//! The `--json` event writer: one JSON object per line, each with `event` and `ts`.
//!
//! This stream is a contract for CI and tests, so its shapes are pinned by snapshot tests.

use std::io::Write;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::lesson::Goal;
use crate::runner::machine::{Machine, StepOutcome, Transition};

/// Writes runner events as JSON lines.
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

    /// A writer with a fixed clock, for reproducible output.
    pub fn with_clock(out: W, clock: fn() -> Timestamp) -> Self {
        JsonWriter { out, clock }
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Writes the events a transition stands for (some transitions have none).
    pub fn transition(
        &mut self,
        machine: &Machine,
        transition: &Transition,
    ) -> std::io::Result<()> {
        let steps = &machine.lesson().steps;
        let step_id = |index: usize| steps.get(index).map(|s| s.id.clone()).unwrap_or_default();
        let (event, fields) = match transition {
            Transition::StepStarted { index } => {
                let Some(step) = steps.get(*index) else {
                    return Ok(());
                };
                (
                    "step_started",
                    json!({
                        "step": step.id,
                        "title": step.title,
                        "goals": step.goals.iter().map(goal_as_written).collect::<Vec<_>>(),
                        "solution": step.solution,
                        "captures": machine.captured(),
                    }),
                )
            }
            Transition::GoalMet { step, goal } => {
                let kind = steps
                    .get(*step)
                    .and_then(|s| s.goals.get(*goal))
                    .map_or("", Goal::kind_name);
                (
                    "goal_met",
                    json!({"step": step_id(*step), "goal": kind, "index": goal}),
                )
            }
            Transition::StepPassed { index } => ("step_passed", json!({"step": step_id(*index)})),
            Transition::StepSkipped { index } => ("step_skipped", json!({"step": step_id(*index)})),
            Transition::StepFailed { index, reason } => (
                "step_failed",
                json!({"step": step_id(*index), "reason": reason}),
            ),
            Transition::LessonPassed => {
                let count = |want: StepOutcome| {
                    machine
                        .outcomes()
                        .iter()
                        .filter(|(_, o)| *o == want)
                        .count()
                };
                (
                    "lesson_passed",
                    json!({
                        "steps_passed": count(StepOutcome::Passed),
                        "steps_skipped": count(StepOutcome::Skipped),
                    }),
                )
            }
            Transition::LessonFailed => {
                ("lesson_failed", json!({"step": step_id(machine.index())}))
            }
            Transition::GoalLost { .. }
            | Transition::CapturesNeeded
            | Transition::HintRevealed { .. }
            | Transition::Quit => return Ok(()),
        };
        self.write(event, fields)
    }

    /// Writes one event line: `event`, `ts`, then the event's own fields.
    pub fn write(&mut self, event: &str, fields: Value) -> std::io::Result<()> {
        let mut object = Map::new();
        object.insert("event".to_owned(), Value::from(event));
        object.insert("ts".to_owned(), Value::from(format_ts((self.clock)())));
        if let Value::Object(fields) = fields {
            object.extend(fields);
        }
        let line = serde_json::to_string(&Value::Object(object))?;
        writeln!(self.out, "{line}")?;
        self.out.flush()
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::lesson::Lesson;
    use crate::runner::machine::GoalReport;

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
        let mut out = Vec::new();
        let mut writer = JsonWriter::with_clock(&mut out, fixed);
        let start: Action = Box::new(Machine::start);
        for action in std::iter::once(start).chain(actions) {
            for t in action(&mut machine) {
                writer.transition(&machine, &t).unwrap();
            }
        }
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
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
}
