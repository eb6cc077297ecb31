//! The one top-level error type: it decides exit codes and how failures are rendered.

use std::process::ExitCode;

/// Exit code for "everything passed".
pub const EXIT_OK: u8 = 0;
/// Exit code for "the command ran, and found problems or failing steps".
pub const EXIT_FAILED: u8 = 1;
/// Exit code for usage errors and unreadable or invalid lessons.
pub const EXIT_USAGE: u8 = 2;
/// Exit code after Ctrl-C, as shells report SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

/// A failure that stops a command before it can report an outcome.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something that cannot be done as asked.
    #[error("{0}")]
    Usage(String),
    /// A lesson could not be loaded; the message is already rendered with locations.
    #[error("{0}")]
    Lesson(String),
    /// The learner or CI interrupted the command.
    #[error("interrupted")]
    Interrupted,
    /// Anything else, with its chain of causes.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Error::Usage(_) | Error::Lesson(_) => EXIT_USAGE,
            Error::Interrupted => EXIT_INTERRUPTED,
            Error::Other(_) => EXIT_FAILED,
        })
    }

    /// Prints the error to stderr with its causes.
    pub fn report(&self) {
        match self {
            Error::Other(err) => {
                eprintln!("error: {err}");
                for cause in err.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
            }
            Error::Interrupted => eprintln!("interrupted"),
            other => eprintln!("error: {other}"),
        }
    }
}
