use std::process::ExitCode;

use clap::Parser;
use kubetutor::cli::Cli;

fn main() -> ExitCode {
    // Tab in a shell whose completion script is kubetutor's.
    if let Some(code) = kubetutor::commands::complete::answer_request() {
        return code;
    }
    // clap's own `exit` would skip destructors; its errors exit 2 like kubetutor's usage errors.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    kubetutor::commands::dispatch(cli)
}
