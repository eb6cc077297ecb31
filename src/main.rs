use std::process::ExitCode;

use clap::Parser;
use kubetutor::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    kubetutor::commands::dispatch(cli)
}
