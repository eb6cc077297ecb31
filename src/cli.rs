//! Command-line interface: clap types only, no IO (the completers it names live in
//! `commands::complete`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum, ValueHint};
use clap_complete::engine::ArgValueCompleter;

use crate::commands::complete;

use crate::term::ColorChoice;

/// Learn Kubernetes by doing: guided lessons checked live on a cluster.
#[derive(Debug, Parser)]
#[command(name = "kubetutor", version, about, long_about = None)]
pub struct Cli {
    /// When to colour the output: auto (on a terminal, unless NO_COLOR is set; always when
    /// CLICOLOR_FORCE is set), always or never.
    #[arg(long, global = true, value_enum, default_value_t, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Say more on stderr: -v for what kubetutor does, -vv for debugging details (RUST_LOG,
    /// when set, decides instead).
    #[arg(long, short = 'v', global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Follow a lesson step by step, with each goal checked live on the cluster.
    Run(RunArgs),
    /// Run lessons' solutions and confirm every goal (for CI and lesson authors).
    Check(CheckArgs),
    /// Check lesson files for mistakes without touching a cluster.
    Lint(LintArgs),
    /// Print the JSON Schema of the lesson format (or of the `--json` events).
    Schema(SchemaArgs),
    /// List the lessons in ./lessons (or a folder given) and the built-in ones, with their
    /// step counts.
    List(ListArgs),
    /// The built-in lessons: write them out for an instructor to copy and change.
    Lessons(LessonsArgs),
    /// Print the completion script of a shell (lesson names and step ids complete too).
    Completions(CompletionsArgs),
    /// Print kubetutor's man page (roff) on stdout, or write one page per command.
    Man(ManArgs),
    /// Serve the embedded sandbox cluster until Ctrl-C, or manage the lasting practice cluster
    /// (start, stop, status, delete).
    Sandbox(SandboxArgs),
    /// Open your shell connected to the running lesson: its cluster, namespace and captured
    /// values, with the commands you run seen by `kubetutor run`.
    Shell(ShellArgs),
}

/// Arguments of `kubetutor run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Lesson file to follow, or a lesson's name: one in ./lessons, else a built-in one.
    /// Without it: the only lesson in ./lessons, or a menu of them (of the built-in lessons
    /// when ./lessons has none).
    #[arg(add = ArgValueCompleter::new(complete::lessons))]
    pub lesson: Option<PathBuf>,
    /// Use the practice cluster (kubetutor's embedded sandbox, started if it does not run)
    /// even if a kubeconfig context answers.
    #[arg(long, conflicts_with = "context")]
    pub sandbox: bool,
    /// Kubeconfig context to use instead of the current one.
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace to use instead of the lesson's.
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Start at this step (its id, or its number counted from 1) instead of where you
    /// stopped; offers to set up what the earlier steps leave by running their solutions.
    #[arg(long, value_name = "STEP", add = ArgValueCompleter::new(complete::steps))]
    pub from: Option<String>,
    /// Forget saved progress and start at the first step (on the practice cluster, also
    /// from an empty cluster).
    #[arg(long)]
    pub reset: bool,
    /// Never prompt: wait for each step's goals in order.
    #[arg(long)]
    pub no_input: bool,
    /// Write one JSON event per line on stdout (implies --no-input).
    #[arg(long)]
    pub json: bool,
    /// Do not ask: use a context that does not look like a practice cluster, and run the
    /// earlier steps' solutions that `--from` needs.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Step timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutArgs,
}

/// Arguments of `kubetutor check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Lesson files, folders of lessons, or lessons' names (as `run` takes them).
    #[arg(required = true, add = ArgValueCompleter::new(complete::lessons))]
    pub lessons: Vec<PathBuf>,
    /// Use a fresh embedded sandbox for each lesson.
    #[arg(long, conflicts_with = "context")]
    pub sandbox: bool,
    /// Kubeconfig context to use instead of the current one.
    #[arg(long)]
    pub context: Option<String>,
    /// Write a JUnit XML report to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write one JSON event per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Step timeouts.
    #[command(flatten)]
    pub timeouts: TimeoutArgs,
    /// Stop at the first failing step.
    #[arg(long)]
    pub fail_fast: bool,
}

/// `--timeout-scale`, shared by `run` and `check` so both accept (and refuse) the same values.
#[derive(Debug, Args)]
pub struct TimeoutArgs {
    /// Multiply every step timeout by this factor (a positive number).
    #[arg(
        long,
        env = "KUBETUTOR_TIMEOUT_SCALE",
        default_value = "1",
        value_name = "F",
        value_parser = parse_timeout_scale
    )]
    pub timeout_scale: f64,
}

/// A positive, finite number; the message names both ways of giving it.
fn parse_timeout_scale(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
        _ => Err(
            "not a positive number (KUBETUTOR_TIMEOUT_SCALE, when set, gives it too)".to_owned(),
        ),
    }
}

/// Arguments of `kubetutor schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the schema of the `--json` events of `run` and `check` instead.
    #[arg(long)]
    pub events: bool,
}

/// Arguments of `kubetutor lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Lesson files, folders of lessons, or lessons' names (as `run` takes them).
    #[arg(required = true, add = ArgValueCompleter::new(complete::lessons))]
    pub paths: Vec<PathBuf>,
}

/// Arguments of `kubetutor list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Folder of lessons [default: lessons].
    #[arg(value_hint = ValueHint::DirPath)]
    pub dir: Option<PathBuf>,
}

/// Arguments of `kubetutor lessons`.
#[derive(Debug, Args)]
pub struct LessonsArgs {
    /// What to do with the built-in lessons.
    #[command(subcommand)]
    pub action: LessonsCommand,
}

/// `kubetutor lessons export`.
#[derive(Debug, Subcommand)]
pub enum LessonsCommand {
    /// Write every built-in lesson and the lesson format's JSON Schema into a folder.
    Export(ExportArgs),
}

/// Arguments of `kubetutor lessons export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Folder to write into (created if missing).
    #[arg(value_hint = ValueHint::DirPath)]
    pub dir: PathBuf,
    /// Replace files that already exist.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `kubetutor man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write kubetutor.1 and a page per subcommand (kubetutor-run.1, ...) into this folder
    /// instead (for `man -M` or a package's man1 folder).
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub out: Option<PathBuf>,
}

/// Arguments of `kubetutor completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    pub shell: CompletionShell,
}

/// The shells `kubetutor completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    /// Bash 4.4 or later.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// PowerShell.
    Powershell,
    /// Elvish.
    Elvish,
}

/// Arguments of `kubetutor sandbox`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SandboxArgs {
    /// The practice cluster's commands; without one, serve a sandbox in the foreground.
    #[command(subcommand)]
    pub action: Option<PracticeCommand>,
    /// Address to listen on; must be a loopback address. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Where to write the kubeconfig for the sandbox.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Lesson whose `sandbox` section (images and apps) the sandbox should know.
    #[arg(long, add = ArgValueCompleter::new(complete::lessons))]
    pub lesson: Option<PathBuf>,
    /// File in which objects persist across restarts.
    #[arg(long)]
    pub state: Option<PathBuf>,
}

/// `kubetutor sandbox start|stop|status|delete`: the practice cluster `kubetutor-sandbox`.
#[derive(Debug, Subcommand)]
pub enum PracticeCommand {
    /// Start the practice cluster in the background (same port and credentials every time)
    /// and add its context `kubetutor-sandbox` to your kubeconfig.
    Start(PracticeStartArgs),
    /// Stop the practice cluster; its objects stay for the next start.
    Stop,
    /// Say whether the practice cluster runs, and where (exit code 3 when it does not).
    Status,
    /// Stop the practice cluster, remove its objects and credentials, and remove the entries
    /// it added to your kubeconfig.
    Delete,
    /// The practice cluster's own process (started by `start` and `run`).
    #[command(hide = true)]
    ServePractice(ServePracticeArgs),
}

/// Arguments of `kubetutor sandbox start`.
#[derive(Debug, Args)]
pub struct PracticeStartArgs {
    /// Port to listen on (127.0.0.1), remembered for later starts; by default the one used
    /// before, or a free one the first time.
    #[arg(long)]
    pub port: Option<u16>,
    /// Do not add the `kubetutor-sandbox` context to your kubeconfig.
    #[arg(long)]
    pub no_kubeconfig_update: bool,
    /// Simulation speed (remembered; for tests).
    #[arg(long, hide = true)]
    pub speed: Option<f64>,
}

/// Arguments of the hidden `kubetutor sandbox serve-practice`.
#[derive(Debug, Args)]
pub struct ServePracticeArgs {
    /// The practice cluster's folder.
    #[arg(long)]
    pub dir: PathBuf,
    /// Port to listen on.
    #[arg(long)]
    pub port: Option<u16>,
    /// Simulation speed.
    #[arg(long)]
    pub speed: Option<f64>,
}

/// Arguments of `kubetutor shell`.
#[derive(Debug, Args)]
pub struct ShellArgs {
    /// The lesson you expect to be running; with no run active, its namespace is used.
    #[arg(long, add = ArgValueCompleter::new(complete::lessons))]
    pub lesson: Option<PathBuf>,
    /// With no lesson running: the kubeconfig context to point at (default: the current one).
    #[arg(long)]
    pub context: Option<String>,
    /// With no lesson running: the namespace to point at (default: the context's).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_scales_must_be_positive_finite_numbers() {
        assert_eq!(parse_timeout_scale("2.5"), Ok(2.5));
        assert_eq!(parse_timeout_scale(" 1 "), Ok(1.0));
        for bad in ["0", "-1", "abc", "inf", "NaN", ""] {
            let err = parse_timeout_scale(bad).expect_err(bad);
            assert!(err.contains("KUBETUTOR_TIMEOUT_SCALE"), "{err}");
        }
    }
}
