//! One module per subcommand: each turns parsed arguments into an exit code.

pub(crate) mod check;
pub(crate) mod choose;
pub mod complete;
pub(crate) mod lessons;
pub(crate) mod lint;
pub(crate) mod list;
pub(crate) mod run;
pub(crate) mod sandbox;
pub(crate) mod schema;
pub(crate) mod shell;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::lesson::LessonError;
use crate::term::{Console, Stream};

/// Sets up logging, runs the chosen subcommand and maps its outcome to an exit code. The
/// terminal is probed here, once, and every command is told what was found.
pub fn dispatch(cli: Cli) -> ExitCode {
    let console = Console::probe(cli.color);
    crate::logging::init(cli.verbose, console.styles(Stream::Stderr));
    let result = match cli.command {
        Command::Lint(args) => lint::run(&args, &console),
        Command::Schema(args) => schema::run(&args),
        Command::List(args) => list::run(&args, &console),
        Command::Lessons(args) => lessons::run(&args),
        Command::Completions(args) => complete::completions(&args),
        Command::Man(args) => complete::man(&args),
        Command::Sandbox(args) => sandbox::run(args, &console),
        Command::Run(args) => run::run(args, &console),
        Command::Check(args) => check::run(args, &console),
        Command::Shell(args) => shell::run(&args, &console),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            err.report(&console.styles(Stream::Stderr));
            err.exit_code()
        }
    }
}

/// A lesson that does not load, as the error stderr shows (its located diagnostic).
pub fn lesson_error(err: &LessonError, console: &Console) -> Error {
    Error::Lesson(err.render(&console.styles(Stream::Stderr)))
}
