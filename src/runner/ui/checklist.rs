//! One goal's line in the live checklist: what it shows when met and when not, wrapped to the
//! screen so the author's message is never cut off.

use owo_colors::{OwoColorize, Style};

use crate::runner::machine::GoalReport;
use crate::term::Styles;

/// Tick mark for goals and steps that hold.
pub const TICK: &str = "✔";
/// Mark of a goal that does not hold yet, where no spinner turns (plain output).
pub const OPEN: &str = "○";
/// Where a goal's text starts: two spaces, the mark (spinner or tick) and a space. Continuation
/// lines start there too.
pub const TEXT_INDENT: &str = "    ";

/// A goal's text, after its mark: `<kind>: <summary>`, all in the success style when met;
/// otherwise followed by the author's `explain_failure`. Wrapped to `width` columns counting
/// the mark's [`TEXT_INDENT`]; continuation lines carry that indent.
pub fn goal_text(kind: &str, report: &GoalReport, styles: &Styles, width: usize) -> String {
    let head = format!("{kind}: {}", report.summary);
    let mut pieces = Vec::new();
    if report.met {
        pieces.push((head.as_str(), styles.success));
    } else {
        pieces.push((head.as_str(), Style::new()));
        if let Some(explain) = &report.explain_failure {
            pieces.push(("—", Style::new()));
            pieces.push((explain.as_str(), styles.hint));
        }
    }
    let room = width.saturating_sub(TEXT_INDENT.len()).max(20);
    wrap_styled(&pieces, room)
        .iter()
        .map(|line| render_line(line))
        .collect::<Vec<_>>()
        .join(&format!("\n{TEXT_INDENT}"))
}

/// A goal's whole entry for plain output: the mark, then [`goal_text`].
pub fn goal_entry(kind: &str, report: &GoalReport, styles: &Styles, width: usize) -> String {
    let text = goal_text(kind, report, styles, width);
    if report.met {
        format!("  {} {text}", TICK.style(styles.success))
    } else {
        format!("  {OPEN} {text}")
    }
}

/// Words of styled pieces laid out in lines of at most `room` columns; a word longer than a
/// line is cut, so no line ever overflows (the terminal would wrap it behind the spinner's back).
fn wrap_styled(pieces: &[(&str, Style)], room: usize) -> Vec<Vec<(String, Style)>> {
    let mut lines: Vec<Vec<(String, Style)>> = vec![Vec::new()];
    let mut used = 0;
    for (text, style) in pieces {
        for word in text.split_whitespace() {
            let mut word: Vec<char> = word.chars().collect();
            while !word.is_empty() {
                let needed = word.len() + usize::from(used > 0);
                if used > 0 && used + needed > room {
                    lines.push(Vec::new());
                    used = 0;
                    continue;
                }
                let take = word.len().min(room - used.min(room));
                let rest = word.split_off(take);
                used += take + usize::from(used > 0);
                if let Some(line) = lines.last_mut() {
                    line.push((word.iter().collect(), *style));
                }
                word = rest;
                if !word.is_empty() {
                    lines.push(Vec::new());
                    used = 0;
                }
            }
        }
    }
    lines
}

/// Joins a line's words, styling runs of one style at once so spaces between differently
/// styled words stay plain.
fn render_line(words: &[(String, Style)]) -> String {
    let mut out = String::new();
    let mut run: Vec<&str> = Vec::new();
    let mut current: Option<Style> = None;
    let flush = |out: &mut String, run: &mut Vec<&str>, style: Option<Style>| {
        if let Some(style) = style {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&run.join(" ").style(style).to_string());
        }
        run.clear();
    };
    for (word, style) in words {
        if current.is_some_and(|c| c != *style) {
            flush(&mut out, &mut run, current);
        }
        current = Some(*style);
        run.push(word);
    }
    flush(&mut out, &mut run, current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(met: bool, summary: &str, explain: Option<&str>) -> GoalReport {
        GoalReport {
            met,
            summary: summary.to_owned(),
            details: Vec::new(),
            explain_failure: explain.map(str::to_owned),
        }
    }

    fn checklist(reports: &[(&str, GoalReport)], width: usize) -> String {
        reports
            .iter()
            .map(|(kind, r)| goal_entry(kind, r, &Styles::plain(), width))
            .collect::<Vec<_>>()
            .join("\n")
    }

    const EXPLAIN: &str = "Create the Deployment with kubectl create deployment, naming the \
                           image exactly as the lesson shows it, then wait for its Pod.";

    #[test]
    fn a_met_goal_shows_its_final_state_without_the_authors_message() {
        insta::assert_snapshot!(checklist(
            &[
                (
                    "deployed",
                    report(true, "deployment web: 1/1 replicas ready", Some(EXPLAIN))
                ),
                (
                    "exposed",
                    report(false, "Service web is ClusterIP, expected NodePort", None)
                ),
            ],
            80
        ));
    }

    #[test]
    fn an_unmet_goal_shows_the_authors_message_wrapped_not_cut() {
        let text = checklist(
            &[(
                "deployed",
                report(false, "deployment web: 0/1 replicas ready", Some(EXPLAIN)),
            )],
            60,
        );
        for line in text.lines() {
            assert!(line.chars().count() <= 60, "{line:?} fits in 60 columns");
        }
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_word_longer_than_the_line_is_cut_across_lines() {
        let long = "registry.example.com/".repeat(5);
        let text = checklist(&[("updated", report(false, &long, None))], 40);
        for line in text.lines() {
            assert!(line.chars().count() <= 40, "{line:?} fits in 40 columns");
        }
        let joined: String = text.lines().map(str::trim).collect();
        assert!(joined.contains(&long), "nothing is lost: {text}");
    }

    #[test]
    fn colours_make_a_met_line_green_and_the_authors_message_a_hint() {
        let styles = Styles::colored();
        let met = goal_text(
            "scaled",
            &report(true, "4/4 replicas ready", None),
            &styles,
            80,
        );
        assert_eq!(
            met,
            "scaled: 4/4 replicas ready"
                .style(styles.success)
                .to_string()
        );
        let unmet = goal_text(
            "scaled",
            &report(false, "3/4 replicas ready", Some("Scale to four.")),
            &styles,
            80,
        );
        assert_eq!(
            unmet,
            format!(
                "scaled: 3/4 replicas ready — {}",
                "Scale to four.".style(styles.hint)
            )
        );
    }
}
