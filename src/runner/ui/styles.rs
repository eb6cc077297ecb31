//! Every colour and emphasis the runner uses, in one struct: plain by default, colourised once
//! when the output is a terminal and `NO_COLOR` is unset.

use std::io::IsTerminal;

use owo_colors::Style;

/// The runner's text styles.
#[derive(Debug, Clone, Copy, Default)]
pub struct Styles {
    /// Step headers.
    pub heading: Style,
    /// Commands the learner is invited to type.
    pub command: Style,
    /// Ticks and "passed" words.
    pub success: Style,
    /// Failures.
    pub failure: Style,
    /// Warnings such as "cluster unreachable".
    pub warning: Style,
    /// Secondary text: details, counters.
    pub dim: Style,
    /// Hints and the author's explanations.
    pub hint: Style,
    /// `export NAME=value` lines.
    pub export: Style,
}

impl Styles {
    /// No colour at all.
    pub fn plain() -> Self {
        Styles::default()
    }

    /// The colourful set, for terminals.
    pub fn colorized() -> Self {
        Styles {
            heading: Style::new().bold().cyan(),
            command: Style::new().bold().yellow(),
            success: Style::new().green().bold(),
            failure: Style::new().red().bold(),
            warning: Style::new().yellow(),
            dim: Style::new().dimmed(),
            hint: Style::new().magenta(),
            export: Style::new().blue(),
        }
    }

    /// Colourised when `is_terminal` and `NO_COLOR` is unset or empty, plain otherwise.
    pub fn choose(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> Self {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        if is_terminal && !no_color {
            Styles::colorized()
        } else {
            Styles::plain()
        }
    }

    /// The styles for stdout in this process.
    pub fn for_stdout() -> Self {
        Styles::choose(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use owo_colors::OwoColorize;

    use super::*;

    #[test]
    fn no_color_or_no_terminal_means_plain_text() {
        for styles in [
            Styles::choose(true, Some(OsStr::new("1"))),
            Styles::choose(false, None),
        ] {
            assert_eq!(format!("{}", "ok".style(styles.success)), "ok");
            assert_eq!(format!("{}", "kubectl".style(styles.command)), "kubectl");
        }
    }

    #[test]
    fn a_terminal_without_no_color_gets_colour() {
        for styles in [
            Styles::choose(true, None),
            Styles::choose(true, Some(OsStr::new(""))),
        ] {
            assert!(format!("{}", "ok".style(styles.success)).contains("\x1b["));
        }
    }
}
