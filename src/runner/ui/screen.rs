//! The learner's screen: step header, explanation, commands, captured values, and a live
//! checklist (spinners on a terminal, one line per change otherwise).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use owo_colors::OwoColorize;

use crate::lesson::Step;
use crate::runner::events::Output;
use crate::runner::machine::{GoalReport, Machine, StepOutcome, Transition};
use crate::runner::source::ClusterEvent;
use crate::runner::ui::checklist::{TICK, goal_entry, goal_text};
use crate::runner::ui::keys::LEGEND;
use crate::term::Styles;

/// Mark for a failed step.
pub const CROSS: &str = "✘";

struct Live {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
    hidden: bool,
}

/// The human-readable output of `run` (interactive or `--no-input`).
pub struct Screen {
    styles: Styles,
    spinners: bool,
    interactive: bool,
    width: usize,
    live: Option<Live>,
    printed: Vec<String>,
    started: Instant,
    /// How steps ended in earlier sessions, so the summary counts the whole lesson.
    earlier: BTreeMap<String, StepOutcome>,
    /// What was said since the current step's header, replayed when a resize redraws it.
    since_step: Vec<String>,
}

impl Screen {
    /// A screen on stdout; `spinners` only when stdout is a terminal.
    pub fn new(styles: Styles, spinners: bool, interactive: bool) -> Self {
        let width = if spinners {
            crossterm::terminal::size().map_or(80, |(cols, _)| usize::from(cols))
        } else {
            80
        };
        Screen {
            styles,
            spinners,
            interactive,
            width: width.clamp(40, 100),
            live: None,
            printed: Vec::new(),
            started: Instant::now(),
            earlier: BTreeMap::new(),
            since_step: Vec::new(),
        }
    }

    /// How steps ended in earlier sessions (the progress file's), for the closing summary.
    pub fn with_history(
        mut self,
        earlier: impl IntoIterator<Item = (String, StepOutcome)>,
    ) -> Self {
        self.earlier = earlier.into_iter().collect();
        self
    }

    /// Prints text above the live checklist, and keeps it for a redraw of the step.
    fn say(&mut self, text: &str) {
        self.since_step.push(text.to_owned());
        self.print(text);
    }

    /// Prints text above the live checklist (or plainly when there is none).
    fn print(&self, text: &str) {
        let print = || {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        };
        match &self.live {
            Some(live) if !live.hidden => live.multi.suspend(print),
            _ => print(),
        }
    }

    fn start_live(&mut self, goals: usize) {
        if !self.spinners || goals == 0 {
            return;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let bars = (0..goals)
            .map(|_| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(spinner_style());
                bar.set_message("waiting for the cluster");
                bar
            })
            .collect();
        self.live = Some(Live {
            multi,
            bars,
            hidden: false,
        });
    }

    /// Leaves the checklist on screen as it last was, and stops redrawing it.
    fn end_live(&mut self) {
        if let Some(live) = self.live.take() {
            if live.hidden {
                let _ = live.multi.clear();
            }
            for bar in &live.bars {
                bar.finish();
            }
        }
    }

    /// The whole lesson's count (earlier sessions, then this one's outcomes over them), and
    /// this session's.
    fn summary(&mut self, machine: &Machine, verdict: &str) {
        let mut whole = self.earlier.clone();
        whole.extend(machine.outcomes().iter().cloned());
        let steps = &machine.lesson().steps;
        let count = |outcomes: &mut dyn Iterator<Item = StepOutcome>, want| {
            outcomes.filter(|o| *o == want).count()
        };
        let lesson_count = |want| {
            count(
                &mut steps.iter().filter_map(|s| whole.get(&s.id).copied()),
                want,
            )
        };
        let session_count = |want| count(&mut machine.outcomes().iter().map(|(_, o)| *o), want);
        let (passed, skipped) = (
            lesson_count(StepOutcome::Passed),
            lesson_count(StepOutcome::Skipped),
        );
        let remaining = steps.len().saturating_sub(passed + skipped);
        let elapsed = self.started.elapsed().as_secs();
        self.say(&format!(
            "\n{verdict}: {passed} passed, {skipped} skipped, {remaining} to go of {} steps \
             (this session: {} passed, {} skipped in {}m{:02}s).",
            steps.len(),
            session_count(StepOutcome::Passed),
            session_count(StepOutcome::Skipped),
            elapsed / 60,
            elapsed % 60
        ));
    }

    /// The step's header: number, title and id, explanation, commands, current values, keys.
    fn step_text(&self, machine: &Machine, index: usize) -> Option<String> {
        let steps = &machine.lesson().steps;
        let step = steps.get(index)?;
        let mut text = format!(
            "\n{}  {}\n",
            format!("Step {}/{} · {}", index + 1, steps.len(), step.title)
                .style(self.styles.heading),
            format!("[{}]", step.id).style(self.styles.dim)
        );
        if !step.explain.trim().is_empty() {
            text.push_str(&wrap(&step.explain, self.width, "  "));
            text.push('\n');
        }
        if !step.commands.is_empty() {
            text.push_str("\n  Type in your other terminal:\n");
            for command in &step.commands {
                text.push_str(&format!("    $ {}\n", command.style(self.styles.command)));
            }
        }
        if !machine.captured().is_empty() {
            text.push_str("\n  Values from earlier steps:\n");
            for (name, value) in machine.captured() {
                text.push_str(&format!(
                    "    {} = {}\n",
                    name.style(self.styles.export),
                    value
                ));
            }
        }
        if !step.expect.is_empty() {
            text.push_str("\n  Passes when your connected terminal (kubetutor shell) has run:\n");
            // On a redraw (a resize) the current step shows what was already seen.
            let seen = if machine.index() == index {
                machine.expected()
            } else {
                Vec::new()
            };
            for (i, expected) in step.expect.iter().enumerate() {
                let mark = if seen.get(i).is_some_and(|(_, seen)| *seen) {
                    "✓"
                } else {
                    "○"
                };
                text.push_str(&format!(
                    "    {mark} {}\n",
                    expected.style(self.styles.command)
                ));
            }
        }
        if step.goals.is_empty() {
            if self.interactive {
                let prompt = if step.expect.is_empty() {
                    "Press Enter to continue (q quit · ? keys)"
                } else {
                    "No terminal connected? Press Enter to continue (q quit · ? keys)"
                };
                text.push_str(&format!("\n  {}", prompt.style(self.styles.dim)));
            }
        } else {
            text.push_str("\n  Goals:");
            if self.interactive {
                text.push_str(&format!(
                    "  {}",
                    "(Enter: menu · h hint · s solution · kk skip · q quit · ? keys)"
                        .style(self.styles.dim)
                ));
            }
        }
        Some(text)
    }
}

// `{msg}`, not `{wide_msg}`: goal texts come wrapped to the screen, and `wide_msg` would cut
// their first line at the terminal's edge.
fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("  {spinner} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
}

fn done_style() -> ProgressStyle {
    ProgressStyle::with_template("  {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Output for Screen {
    fn transition(&mut self, machine: &Machine, transition: &Transition) {
        let steps = &machine.lesson().steps;
        let total = steps.len();
        match transition {
            Transition::StepStarted { index } => {
                self.end_live();
                self.printed.clear();
                self.since_step.clear();
                let Some(text) = self.step_text(machine, *index) else {
                    return;
                };
                self.print(&text);
                let goals = steps.get(*index).map_or(0, |s| s.goals.len());
                self.start_live(goals);
            }
            Transition::StepPassed { index } => {
                self.end_live();
                let title = steps.get(*index).map_or("", |s| s.title.as_str());
                self.say(&format!(
                    "{} Step {}/{total} passed: {title}",
                    TICK.style(self.styles.success),
                    index + 1
                ));
            }
            Transition::StepSkipped { index } => {
                self.end_live();
                self.say(&format!("↷ Step {}/{total} skipped", index + 1));
            }
            Transition::StepFailed { index, reason } => {
                self.end_live();
                self.say(&format!(
                    "{} Step {}/{total} failed: {reason}",
                    CROSS.style(self.styles.error),
                    index + 1
                ));
            }
            Transition::HintRevealed { hint } => {
                if let Some(step) = machine.step() {
                    let text = step.hints.get(*hint).map_or("", String::as_str);
                    let label = format!("Hint {}/{}:", hint + 1, step.hints.len());
                    self.say(&format!(
                        "  {} {}",
                        label.style(self.styles.hint),
                        wrap(text, self.width, "  ").trim_start()
                    ));
                }
            }
            Transition::CommandSeen { index, matched, .. } => {
                let Some(step) = steps.get(*index) else {
                    return;
                };
                for expected in matched.iter().filter_map(|e| step.expect.get(*e)) {
                    self.say(&format!(
                        "    {} {}",
                        TICK.style(self.styles.success),
                        expected.style(self.styles.command)
                    ));
                }
            }
            Transition::Quit => {
                self.end_live();
                self.say("\nProgress saved. Run the same command again to resume.");
            }
            Transition::LessonPassed => {
                self.end_live();
                self.summary(machine, "Lesson complete");
            }
            Transition::LessonFailed => {
                self.end_live();
                self.summary(machine, "Lesson failed");
            }
            Transition::GoalMet { .. }
            | Transition::GoalLost { .. }
            | Transition::CapturesNeeded => {}
        }
    }

    fn goals_updated(&mut self, step: &Step, goals: &[GoalReport]) {
        if let Some(live) = &self.live {
            for ((bar, report), goal) in live.bars.iter().zip(goals).zip(&step.goals) {
                let text = goal_text(goal.kind_name(), report, &self.styles, self.width);
                if report.met {
                    bar.set_style(done_style());
                    bar.set_message(format!("{} {text}", TICK.style(self.styles.success)));
                } else {
                    bar.set_style(spinner_style());
                    bar.set_message(text);
                }
            }
            return;
        }
        self.printed.resize(goals.len(), String::new());
        for (i, (report, goal)) in goals.iter().zip(&step.goals).enumerate() {
            let entry = goal_entry(goal.kind_name(), report, &self.styles, self.width);
            if self.printed[i] != entry {
                self.say(&entry);
                self.printed[i] = entry;
            }
        }
    }

    fn cluster(&mut self, signal: &ClusterEvent) {
        match signal {
            ClusterEvent::Lost(why) => self.say(&format!(
                "  {} cluster unreachable ({why}), retrying…",
                "⚠".style(self.styles.warning)
            )),
            ClusterEvent::Restored => self.say("  cluster reachable again; checking resumes"),
            ClusterEvent::Denied(why) => {
                self.say(&format!("  {} {why}", "⚠".style(self.styles.warning)));
            }
            ClusterEvent::Changed => {}
        }
    }

    fn echoed(&mut self, lines: u16) {
        let Some(live) = &mut self.live else {
            return;
        };
        if !live.hidden {
            // Step back over the echo so the checklist is cleared where it really is.
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\x1b[{lines}A\r");
            let _ = out.flush();
            let _ = live.multi.clear();
        }
    }

    fn input_arrived(&mut self, hold: bool) {
        let Some(live) = &mut self.live else {
            return;
        };
        if hold {
            // The menu draws where the checklist is; it comes back below the menu's place
            // once the menu is gone, so nothing of it is left above.
            let _ = live.multi.clear();
            live.hidden = true;
            live.multi.set_draw_target(ProgressDrawTarget::hidden());
        }
    }

    fn input_done(&mut self) {
        if let Some(live) = &mut self.live
            && live.hidden
        {
            live.hidden = false;
            live.multi.set_draw_target(ProgressDrawTarget::stdout());
        }
    }

    fn legend(&mut self) {
        let text = format!("  {}", wrap(LEGEND, self.width, "  ").trim_start());
        self.say(&text.style(self.styles.dim).to_string());
    }

    fn resized(&mut self, machine: &Machine) {
        if !self.spinners {
            return;
        }
        if let Ok((cols, _)) = crossterm::terminal::size() {
            self.width = usize::from(cols).clamp(40, 100);
        }
        let Some(step) = machine.step().cloned() else {
            return;
        };
        // The old checklist was drawn for the old width, and the terminal may have rewrapped
        // it: rather than erase lines it can no longer count, start from a clean screen.
        if let Some(live) = self.live.take() {
            live.multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        let Some(header) = self.step_text(machine, machine.index()) else {
            return;
        };
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\x1b[H\x1b[2J\x1b[3J");
        let _ = writeln!(out, "{header}");
        for text in &self.since_step {
            let _ = writeln!(out, "{text}");
        }
        let _ = out.flush();
        drop(out);
        self.start_live(step.goals.len());
        if machine.goals().len() == step.goals.len() {
            self.goals_updated(&step, machine.goals());
        }
    }

    fn tick(&mut self) {
        if let Some(live) = &self.live
            && !live.hidden
        {
            for bar in &live.bars {
                bar.tick();
            }
        }
    }

    fn solution(&mut self, step: &Step) {
        if step.solution.is_empty() {
            self.say("  This step has no written solution.");
            return;
        }
        let mut text = format!(
            "  {}",
            "Solution (not run for you; type it yourself):".style(self.styles.hint)
        );
        for line in &step.solution {
            text.push_str(&format!("\n    $ {}", line.style(self.styles.command)));
        }
        self.say(&text);
    }

    fn notice(&mut self, text: &str) {
        self.say(&format!("  {}", text.style(self.styles.warning)));
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.end_live();
    }
}

/// Quotes a value for a POSIX shell when it needs it.
pub fn shell_quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c));
    if safe {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// Wraps paragraphs to `width` columns with `indent`; indented lines are kept as written
/// (they are usually commands or lists).
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    let room = width.saturating_sub(indent.len()).max(20);
    let mut out: Vec<String> = Vec::new();
    for paragraph in text.trim().split("\n\n") {
        if !out.is_empty() {
            out.push(String::new());
        }
        let mut line = String::new();
        for source in paragraph.lines() {
            if source.starts_with([' ', '\t', '-', '*', '$']) {
                if !line.is_empty() {
                    out.push(format!("{indent}{line}"));
                    line.clear();
                }
                out.push(format!("{indent}{}", source.trim_end()));
                continue;
            }
            for word in source.split_whitespace() {
                if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
                    out.push(format!("{indent}{line}"));
                    line.clear();
                }
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
            }
        }
        if !line.is_empty() {
            out.push(format!("{indent}{line}"));
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_whole_and_indented_lines_as_written() {
        let text = "one two three four five six\nseven\n\n  $ kubectl get pods\nend";
        assert_eq!(
            wrap(text, 24, "  "),
            "  one two three four\n  five six seven\n\n    $ kubectl get pods\n  end"
        );
    }

    #[test]
    fn values_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("web-7d9f-abc"), "web-7d9f-abc");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
