//! The one top-level error type: it decides exit codes and how failures are rendered.
//!
//! Exit codes (documented in the README): 0 everything passed, 1 a step failed or a lint found
//! errors, 2 a usage error or a lesson that does not load, 3 no cluster to work on (it does
//! not answer, refuses us, or the embedded sandbox cannot start), 4 kubetutor could not do
//! its own work (files, runtime), 130 interrupted.

use std::process::ExitCode;

use owo_colors::OwoColorize;

use crate::term::Styles;

/// Exit code for "everything passed".
pub const EXIT_OK: u8 = 0;
/// Exit code for "the command ran, and found problems or failing steps".
pub const EXIT_FAILED: u8 = 1;
/// Exit code for usage errors and unreadable or invalid lessons (clap uses it too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for "no cluster to work on": unreachable, credentials or rights refused, or the
/// embedded sandbox could not start.
pub const EXIT_CLUSTER: u8 = 3;
/// Exit code for failures of kubetutor's own work: a file it must write, its runtime.
pub const EXIT_INTERNAL: u8 = 4;
/// Exit code after Ctrl-C, as shells report SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

/// A failure that stops a command before it can report an outcome.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something that cannot be done as asked.
    #[error("{0}")]
    Usage(String),
    /// A lesson could not be loaded; the text is its rendered diagnostics, which already
    /// start with `error:`.
    #[error("{0}")]
    Lesson(String),
    /// The cluster does not answer, refuses us, or the sandbox could not start.
    #[error(transparent)]
    Cluster(anyhow::Error),
    /// The learner or CI interrupted the command.
    #[error("interrupted")]
    Interrupted,
    /// Anything else, with its chain of causes.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    /// A cluster failure (exit code 3).
    pub fn cluster(err: impl Into<anyhow::Error>) -> Self {
        Error::Cluster(err.into())
    }

    /// The exit code for this error, as a number.
    pub fn code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Lesson(_) => EXIT_USAGE,
            Error::Cluster(_) => EXIT_CLUSTER,
            Error::Interrupted => EXIT_INTERRUPTED,
            Error::Other(_) => EXIT_INTERNAL,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code())
    }

    /// The error as stderr shows it: `error: ` and the chain of causes on one line, or a
    /// lesson's diagnostics as rendered.
    pub fn render(&self, styles: &Styles) -> String {
        match self {
            Error::Lesson(rendered) => {
                let mut text = rendered.clone();
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                text
            }
            Error::Interrupted => "interrupted\n".to_owned(),
            Error::Cluster(err) | Error::Other(err) => {
                format!("{}: {}\n", "error".style(styles.error), chain(err.as_ref()))
            }
            Error::Usage(message) => format!("{}: {message}\n", "error".style(styles.error)),
        }
    }

    /// Prints the error to stderr.
    pub fn report(&self, styles: &Styles) {
        eprint!("{}", self.render(styles));
    }
}

/// An error and its causes on one line, `outer: inner: root`; a cause its parent's message
/// already ends with is not repeated.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !cause_text.is_empty() && !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to start the sandbox")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("failed to listen on 127.0.0.1:1: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn a_chain_is_one_line_without_repeats() {
        let err = Outer(Middle(std::io::Error::other("address in use")));
        assert_eq!(
            chain(&err),
            "failed to start the sandbox: failed to listen on 127.0.0.1:1: address in use"
        );
        let wrapped = anyhow::Error::new(err).context("failed to run the lesson");
        assert_eq!(
            Error::Other(wrapped).render(&Styles::plain()),
            "error: failed to run the lesson: failed to start the sandbox: failed to listen on \
             127.0.0.1:1: address in use\n"
        );
    }

    #[test]
    fn rendered_errors_say_error_once() {
        let plain = Styles::plain();
        let lesson = Error::Lesson("error: unknown field `titel`\n --> x.yaml:2:1\n".to_owned());
        assert_eq!(
            lesson.render(&plain),
            "error: unknown field `titel`\n --> x.yaml:2:1\n"
        );
        assert_eq!(
            Error::Usage("no lesson given".to_owned()).render(&plain),
            "error: no lesson given\n"
        );
        assert_eq!(
            Error::cluster(anyhow::anyhow!("context a does not answer")).code(),
            EXIT_CLUSTER
        );
    }
}
