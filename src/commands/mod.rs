//! One module per subcommand: each turns parsed arguments into an exit code.

pub mod check;
pub mod choose;
pub mod lint;
pub mod list;
pub mod run;
pub mod sandbox;
pub mod schema;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the chosen subcommand and maps its outcome to an exit code.
pub fn dispatch(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Lint(args) => lint::run(&args),
        Command::Schema => schema::run(),
        Command::List(args) => list::run(&args),
        Command::Sandbox(args) => sandbox::run(args),
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            err.report();
            err.exit_code()
        }
    }
}
