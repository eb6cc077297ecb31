//! What `check` reports: one human line per step, and JUnit XML (one testsuite per lesson, one
//! testcase per step). JSON lines are written as the run goes, by the runner's writer.

use std::time::Duration;

use owo_colors::OwoColorize;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::rehearsal::{Outcome, StepResult};
use crate::runner::json::JsonEvent;
use crate::term::Styles;

/// One lesson's part of the report.
#[derive(Debug, Clone)]
pub struct LessonReport {
    /// The lesson file as named on the command line.
    pub file: String,
    /// The lesson's title (the file name when it did not load).
    pub title: String,
    /// Step results, in order.
    pub steps: Vec<StepResult>,
    /// Why the lesson could not be checked at all (load, lint or cluster error).
    pub error: Option<String>,
}

impl LessonReport {
    /// Whether every step passed (or could not be checked for want of a data plane) and
    /// nothing else went wrong.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.steps.iter().all(|s| s.outcome.is_ok())
    }

    /// The event that ends the lesson in `check --json`: `lesson_passed`, or `lesson_failed`
    /// naming the first failed step, or (no step ran) why the lesson could not be checked.
    pub fn end_event(&self) -> JsonEvent {
        let count = |f: fn(&Outcome) -> bool| self.steps.iter().filter(|s| f(&s.outcome)).count();
        if self.passed() {
            return JsonEvent::LessonPassed {
                file: self.file.clone(),
                steps_passed: count(|o| matches!(o, Outcome::Passed)),
                steps_skipped: count(|o| matches!(o, Outcome::Skipped)),
                steps_without_data_plane: count(|o| matches!(o, Outcome::NoDataPlane { .. })),
            };
        }
        let first = self.steps.iter().find_map(|s| match &s.outcome {
            Outcome::Failed { reason, .. } => Some((s.id.clone(), reason.clone())),
            _ => None,
        });
        let (step, reason) = match (&self.error, first) {
            (Some(error), _) => (None, first_line(error).to_owned()),
            (None, Some((step, reason))) => (Some(step), reason),
            (None, None) => (None, String::new()),
        };
        JsonEvent::LessonFailed {
            file: self.file.clone(),
            step,
            steps_failed: count(|o| matches!(o, Outcome::Failed { .. })),
            reason,
        }
    }
}

/// `  ✔ deploy  Create your first Deployment (1.2s)`, then, for a failure, the reason, the
/// details and the solution's output, indented.
pub fn step_lines(result: &StepResult, styles: &Styles) -> String {
    let secs = format_secs(result.duration);
    let mut text = match &result.outcome {
        Outcome::Passed => format!(
            "  {} {}  {} {}\n",
            "✔".style(styles.success),
            result.id,
            result.title,
            secs.style(styles.dim)
        ),
        Outcome::Skipped => format!(
            "  {} {}  {} {}\n",
            "-".style(styles.dim),
            result.id,
            result.title,
            "(skipped)".style(styles.dim)
        ),
        Outcome::NoDataPlane { reason } => format!(
            "  {} {}  {} {}\n      {}\n",
            "⊘".style(styles.warning),
            result.id,
            result.title,
            "(not checked: no data plane)".style(styles.dim),
            reason.style(styles.warning)
        ),
        Outcome::Failed { reason, .. } => format!(
            "  {} {}  {} {}\n      {}\n",
            "✘".style(styles.error),
            result.id,
            result.title,
            secs.style(styles.dim),
            reason.style(styles.error)
        ),
    };
    if let Outcome::Failed { details, .. } = &result.outcome {
        for line in details {
            text.push_str(&format!("      {line}\n"));
        }
        if !result.output.is_empty() {
            text.push_str(&format!("      {}\n", "solution output:".style(styles.dim)));
            for line in result.output.lines() {
                text.push_str(&format!("        {line}\n"));
            }
        }
    }
    text
}

/// The closing line: `2 lessons, 15 steps: 14 passed, 1 failed, 0 skipped in 31.0s`.
pub fn summary(lessons: &[LessonReport], elapsed: Duration, styles: &Styles) -> String {
    let count = |f: fn(&Outcome) -> bool| {
        lessons
            .iter()
            .flat_map(|l| &l.steps)
            .filter(|s| f(&s.outcome))
            .count()
    };
    let passed = count(|o| matches!(o, Outcome::Passed));
    let failed = count(|o| matches!(o, Outcome::Failed { .. }));
    let skipped = count(|o| matches!(o, Outcome::Skipped));
    let no_data_plane = count(|o| matches!(o, Outcome::NoDataPlane { .. }));
    let broken = lessons.iter().filter(|l| l.error.is_some()).count();
    let steps = passed + failed + skipped + no_data_plane;
    let mut line = format!(
        "{} {}, {} {}: {passed} passed, {failed} failed, {skipped} skipped",
        lessons.len(),
        if lessons.len() == 1 {
            "lesson"
        } else {
            "lessons"
        },
        steps,
        if steps == 1 { "step" } else { "steps" },
    );
    if no_data_plane > 0 {
        line.push_str(&format!(", {no_data_plane} need a data plane"));
    }
    if broken > 0 {
        line.push_str(&format!(", {broken} not checked"));
    }
    line.push_str(&format!(
        " in {}",
        format_secs(elapsed).trim_matches(['(', ')'])
    ));
    let style = if failed == 0 && broken == 0 {
        styles.success
    } else {
        styles.error
    };
    format!("{}\n", line.style(style))
}

fn format_secs(duration: Duration) -> String {
    format!("({:.1}s)", duration.as_secs_f64())
}

/// The JUnit report: one testsuite per lesson (named after its file), one testcase per step
/// (failure message = reason, body = details; solution output in system-out), skipped steps
/// as skipped; a lesson that could not be checked is one errored testcase.
pub fn junit(lessons: &[LessonReport]) -> Report {
    let mut report = Report::new("kubetutor check");
    let mut total = Duration::ZERO;
    for lesson in lessons {
        let mut suite = TestSuite::new(lesson.file.as_str());
        let mut suite_time = Duration::ZERO;
        if let Some(error) = &lesson.error {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(first_line(error))
                .set_description(error.as_str());
            let mut case = TestCase::new("lesson", status);
            case.set_classname(lesson.title.as_str());
            suite.add_test_case(case);
        }
        for step in &lesson.steps {
            let status = match &step.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Skipped => TestCaseStatus::skipped(),
                Outcome::NoDataPlane { reason } => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(reason.as_str());
                    status
                }
                Outcome::Failed { reason, details } => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let mut body = reason.clone();
                    for line in details {
                        body.push('\n');
                        body.push_str(line);
                    }
                    status.set_message(reason.as_str()).set_description(body);
                    status
                }
            };
            let mut case = TestCase::new(format!("{} - {}", step.id, step.title), status);
            case.set_classname(lesson.title.as_str())
                .set_time(step.duration);
            if !step.output.is_empty() {
                case.set_system_out(step.output.as_str());
            }
            suite_time += step.duration;
            suite.add_test_case(case);
        }
        suite.set_time(suite_time);
        total += suite_time;
        report.add_test_suite(suite);
    }
    report.set_time(total);
    report
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, outcome: Outcome) -> StepResult {
        StepResult {
            id: id.to_owned(),
            title: format!("Step {id}"),
            outcome,
            duration: Duration::from_millis(1250),
            output: "$ kubectl get pods\nNo resources found\n".to_owned(),
        }
    }

    fn lessons() -> Vec<LessonReport> {
        vec![LessonReport {
            file: "lessons/demo.yaml".to_owned(),
            title: "Demo".to_owned(),
            steps: vec![
                step("create", Outcome::Passed),
                step(
                    "update",
                    Outcome::Failed {
                        reason: "timed out: updated: runs a:v1, expected a:v2".to_owned(),
                        details: vec!["goal 1 (updated): runs a:v1".to_owned()],
                    },
                ),
                step("scale", Outcome::Skipped),
                step(
                    "logs",
                    Outcome::NoDataPlane {
                        reason: "`kubectl logs web` needs a data plane: the API server cannot \
                                 reach the node's kubelet on this cluster (dial tcp: refused)"
                            .to_owned(),
                    },
                ),
            ],
            error: None,
        }]
    }

    #[test]
    fn human_lines_show_ticks_durations_and_why_a_step_failed() {
        let plain = Styles::plain();
        let all = lessons();
        let text: String = all[0].steps.iter().map(|s| step_lines(s, &plain)).collect();
        insta::assert_snapshot!(text);
        assert_eq!(
            summary(&all, Duration::from_millis(3500), &plain),
            "1 lesson, 4 steps: 1 passed, 1 failed, 1 skipped, 1 need a data plane in 3.5s\n"
        );
        // A step that needs a data plane the cluster lacks is reported, but the lesson passes.
        let mut only_logs = lessons();
        only_logs[0]
            .steps
            .retain(|s| s.id == "create" || s.id == "logs");
        assert!(only_logs[0].passed());
        assert!(!lessons()[0].passed());
    }

    #[test]
    fn junit_has_one_suite_per_lesson_and_one_case_per_step() {
        let xml = junit(&lessons()).to_string().expect("serializes");
        assert_eq!(xml.matches("<testsuite ").count(), 1, "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 4, "{xml}");
        assert!(xml.contains("tests=\"4\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("skipped=\"2\""), "{xml}");
        assert!(
            xml.contains("<skipped message=\"`kubectl logs web` needs a data plane"),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"timed out: updated: runs a:v1, expected a:v2\""),
            "{xml}"
        );
        assert!(xml.contains("goal 1 (updated): runs a:v1"), "{xml}");
        assert!(xml.contains("<system-out>$ kubectl get pods"), "{xml}");
        assert!(xml.contains("time=\"1.250\""), "{xml}");
    }

    #[test]
    fn check_events_have_one_shape_per_event_and_match_the_schema() {
        use crate::runner::json::{JsonWriter, events_schema};
        fn fixed() -> jiff::Timestamp {
            "2026-01-02T03:04:05.678Z".parse().expect("valid timestamp")
        }
        let failed = lessons().remove(0);
        let mut passed = failed.clone();
        passed.steps.retain(|s| s.id == "create" || s.id == "logs");
        let broken = LessonReport {
            file: "lessons/broken.yaml".to_owned(),
            title: "lessons/broken.yaml".to_owned(),
            steps: Vec::new(),
            error: Some("error: unknown field `titel`\n --> lessons/broken.yaml:2:1\n".to_owned()),
        };
        let mut writer = JsonWriter::with_clock(Vec::new(), fixed);
        for step in &failed.steps {
            writer.write(&step.end_event()).expect("written");
        }
        for report in [&failed, &passed, &broken] {
            writer.write(&report.end_event()).expect("written");
        }
        let events: Vec<serde_json::Value> = String::from_utf8(writer.get_ref().clone())
            .expect("UTF-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        let schema: serde_json::Value =
            serde_json::from_str(&events_schema()).expect("the schema is JSON");
        let validator = jsonschema::validator_for(&schema).expect("a valid schema");
        for event in &events {
            assert!(validator.is_valid(event), "{event}");
        }
        insta::assert_yaml_snapshot!(events);
    }
}
