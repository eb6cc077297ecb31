//! The terminal as kubetutor sees it: which streams are terminals (probed once, at start), the
//! colour choice (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`), and the one set of text styles.

use std::io::IsTerminal;

use owo_colors::Style;

/// `--color`: when to colour text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` is set; always when `CLICOLOR_FORCE` is set.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The colour-related environment, read once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColorEnv {
    /// `NO_COLOR` is set to something non-empty (<https://no-color.org>).
    pub no_color: bool,
    /// `CLICOLOR_FORCE` is set to something other than empty or `0`.
    pub clicolor_force: bool,
}

impl ColorEnv {
    /// Reads `NO_COLOR` and `CLICOLOR_FORCE`.
    pub fn from_env() -> Self {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
        ColorEnv {
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            clicolor_force: set("CLICOLOR_FORCE"),
        }
    }
}

/// One of the standard streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Which standard streams are terminals, and how to colour them: everything a command needs to
/// know about the terminal, decided once when kubetutor starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Console {
    /// Standard input is a terminal (a learner can answer prompts).
    pub stdin_tty: bool,
    /// Standard output is a terminal.
    pub stdout_tty: bool,
    /// Standard error is a terminal.
    pub stderr_tty: bool,
    /// `--color`.
    pub color: ColorChoice,
    /// `NO_COLOR` and `CLICOLOR_FORCE`.
    pub env: ColorEnv,
}

impl Console {
    /// Probes the three standard streams and reads the colour environment.
    pub fn probe(color: ColorChoice) -> Self {
        Console {
            stdin_tty: std::io::stdin().is_terminal(),
            stdout_tty: std::io::stdout().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
            color,
            env: ColorEnv::from_env(),
        }
    }

    /// Whether `stream` is a terminal.
    pub fn is_tty(&self, stream: Stream) -> bool {
        match stream {
            Stream::Stdout => self.stdout_tty,
            Stream::Stderr => self.stderr_tty,
        }
    }

    /// Whether text written to `stream` is coloured. `--color always|never` decides alone;
    /// under `auto`, `NO_COLOR` turns colour off, then `CLICOLOR_FORCE` turns it on, else a
    /// terminal gets colour (the order anstream and most Rust CLIs follow).
    pub fn colors(&self, stream: Stream) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto if self.env.no_color => false,
            ColorChoice::Auto if self.env.clicolor_force => true,
            ColorChoice::Auto => self.is_tty(stream),
        }
    }

    /// The styles for text written to `stream`.
    pub fn styles(&self, stream: Stream) -> Styles {
        if self.colors(stream) {
            Styles::colored()
        } else {
            Styles::plain()
        }
    }
}

/// Every colour and emphasis kubetutor uses, in one struct: plain by default, coloured when
/// [`Console::colors`] says so.
#[derive(Debug, Clone, Copy, Default)]
pub struct Styles {
    /// Step headers.
    pub heading: Style,
    /// Commands the learner is invited to type.
    pub command: Style,
    /// Ticks, "passed" words and good news in summaries.
    pub success: Style,
    /// Failures and the word `error`.
    pub error: Style,
    /// Warnings such as "cluster unreachable", and the word `warning`.
    pub warning: Style,
    /// Secondary text: details, counters.
    pub dim: Style,
    /// Hints and the author's explanations.
    pub hint: Style,
    /// `export NAME=value` lines.
    pub export: Style,
    /// Line numbers, bars and arrows of diagnostics.
    pub gutter: Style,
    /// Messages and `help` in diagnostics, titles in lists.
    pub bold: Style,
}

impl Styles {
    /// No colour at all, for pipes, files and `NO_COLOR`.
    pub fn plain() -> Self {
        Styles::default()
    }

    /// The colourful set, for terminals (diagnostics in the rustc palette).
    pub fn colored() -> Self {
        Styles {
            heading: Style::new().bold().cyan(),
            command: Style::new().bold().yellow(),
            success: Style::new().green().bold(),
            error: Style::new().red().bold(),
            warning: Style::new().yellow().bold(),
            dim: Style::new().dimmed(),
            hint: Style::new().magenta(),
            export: Style::new().blue(),
            gutter: Style::new().blue().bold(),
            bold: Style::new().bold(),
        }
    }
}

#[cfg(test)]
mod tests {
    use owo_colors::OwoColorize;

    use super::*;

    fn console(color: ColorChoice, tty: bool, no_color: bool, clicolor_force: bool) -> Console {
        Console {
            stdin_tty: tty,
            stdout_tty: tty,
            stderr_tty: false,
            color,
            env: ColorEnv {
                no_color,
                clicolor_force,
            },
        }
    }

    #[test]
    fn auto_colours_a_terminal_unless_no_color_and_clicolor_force_colours_a_pipe() {
        use ColorChoice::Auto;
        assert!(console(Auto, true, false, false).colors(Stream::Stdout));
        assert!(!console(Auto, true, false, false).colors(Stream::Stderr));
        assert!(!console(Auto, false, false, false).colors(Stream::Stdout));
        assert!(!console(Auto, true, true, false).colors(Stream::Stdout));
        assert!(console(Auto, false, false, true).colors(Stream::Stdout));
        // NO_COLOR wins over CLICOLOR_FORCE.
        assert!(!console(Auto, true, true, true).colors(Stream::Stdout));
    }

    #[test]
    fn always_and_never_ignore_the_terminal_and_the_environment() {
        for (tty, no_color, force) in [(true, true, false), (false, false, false)] {
            assert!(console(ColorChoice::Always, tty, no_color, force).colors(Stream::Stdout));
        }
        for (tty, no_color, force) in [(true, false, true), (true, false, false)] {
            assert!(!console(ColorChoice::Never, tty, no_color, force).colors(Stream::Stdout));
        }
    }

    #[test]
    fn plain_styles_add_no_escape_codes_and_coloured_ones_do() {
        let plain = Styles::plain();
        assert_eq!(format!("{}", "ok".style(plain.success)), "ok");
        assert_eq!(format!("{}", "kubectl".style(plain.command)), "kubectl");
        let colored = console(ColorChoice::Always, false, false, false).styles(Stream::Stdout);
        assert!(format!("{}", "ok".style(colored.success)).contains("\x1b["));
    }
}
