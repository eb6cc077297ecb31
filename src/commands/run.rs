//! `kubetutor run`: follow a lesson with each goal checked live on a cluster.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;

use super::choose;
use crate::cli::RunArgs;
use crate::error::{EXIT_FAILED, EXIT_OK, Error};
use crate::lesson::Lesson;
use crate::runner::events::{Ending, InputEvent, InputMode, Loop, LoopConfig, Output};
use crate::runner::machine::Machine;
use crate::runner::progress::{self, Progress};
use crate::runner::source::GoalSource;
use crate::runner::ui::screen::Screen;
use crate::runner::ui::styles::Styles;
use crate::runner::ui::{prompt, restore_terminal};
use crate::runner::{JsonOutput, session};

/// How the run talks to the learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    /// A learner answers prompts.
    pub interactive: bool,
    /// Events go to stdout as JSON lines.
    pub json: bool,
}

impl Mode {
    /// `--json` implies `--no-input`; prompts also need a terminal on stdin.
    pub fn from_args(args: &RunArgs) -> Self {
        Mode {
            interactive: !args.no_input && !args.json && std::io::stdin().is_terminal(),
            json: args.json,
        }
    }

    /// Prints a message for humans: stderr in JSON mode, stdout otherwise.
    pub fn say(&self, text: &str) {
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

/// Runs `kubetutor run`.
pub fn run(args: RunArgs) -> Result<ExitCode, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let result = runtime.block_on(run_async(args));
    restore_terminal();
    // The prompt thread may be blocked reading stdin; never wait for it.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

async fn run_async(args: RunArgs) -> Result<ExitCode, Error> {
    let mode = Mode::from_args(&args);
    if !args.no_input && !args.json && !mode.interactive {
        eprintln!("stdin is not a terminal: running without prompts, as with --no-input");
    }
    let ask: choose::Pick<'_> = &choose::ask;
    let path = choose::resolve(
        args.lesson.as_deref(),
        Path::new(choose::LESSONS_DIR),
        mode.interactive.then_some(ask),
    )?;
    let loaded = load_lesson(&path)?;
    let lesson = loaded.lesson;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| lesson.namespace.clone());

    let state_dir = progress::state_dir().map_err(anyhow::Error::from)?;
    let progress_path = progress::progress_path(&state_dir, &loaded.canonical);
    if args.reset {
        progress::remove(&progress_path).map_err(anyhow::Error::from)?;
    }
    let saved = progress::load(&progress_path).map_err(anyhow::Error::from)?;
    let plan = progress::plan(
        &lesson,
        loaded.canonical.clone(),
        loaded.hash.clone(),
        saved,
        args.from.as_deref(),
        args.reset,
    )
    .map_err(|err| match err {
        progress::ProgressError::UnknownStep { .. } => Error::Usage(err.to_string()),
        other => Error::Other(other.into()),
    })?;

    let sandbox_dir = session::sandbox_dir(&state_dir, &progress::lesson_key(&loaded.canonical));
    let mut connected = session::connect(&args, &lesson, &namespace, &sandbox_dir, mode).await?;

    if args.reset {
        mode.say("Progress reset: starting at step 1.");
    }
    if let Some(message) = &plan.message {
        mode.say(message);
    }

    let progress = plan.progress;
    let machine = Machine::new(lesson, plan.index, progress.captured.clone());
    let ending = if mode.json {
        let mut output = JsonOutput::new(std::io::stdout());
        drive(
            machine,
            &mut connected.source,
            &mut output,
            progress,
            &progress_path,
            mode,
        )
        .await
    } else {
        let styles = Styles::for_stdout();
        let spinners = mode.interactive && std::io::stdout().is_terminal();
        let mut output = Screen::new(styles, spinners, mode.interactive);
        drive(
            machine,
            &mut connected.source,
            &mut output,
            progress,
            &progress_path,
            mode,
        )
        .await
    };
    connected.shutdown().await;
    match ending? {
        Ending::Passed | Ending::Quit => Ok(ExitCode::from(EXIT_OK)),
        Ending::Failed => Ok(ExitCode::from(EXIT_FAILED)),
        Ending::Interrupted => {
            restore_terminal();
            eprintln!("\nProgress saved. Run the same command again to resume.");
            Err(Error::Interrupted)
        }
    }
}

async fn drive<S: GoalSource, O: Output>(
    mut machine: Machine,
    source: &mut S,
    output: &mut O,
    mut progress: Progress,
    progress_path: &Path,
    mode: Mode,
) -> Result<Ending, Error> {
    let (input_tx, input_rx) = mpsc::unbounded_channel();
    let input_mode = Arc::new(Mutex::new(InputMode::Idle));
    if mode.interactive {
        prompt::spawn(input_tx.clone(), input_mode.clone());
    }
    let interrupts = tokio::spawn(forward_interrupts(input_tx));
    let mut save = |machine: &Machine| {
        progress.record(machine);
        if let Err(err) = progress::save(progress_path, &progress) {
            eprintln!("warning: {err}");
        }
    };
    let ending = Loop {
        machine: &mut machine,
        source,
        output,
        input: input_rx,
        input_mode,
        save: &mut save,
        config: LoopConfig {
            interactive: mode.interactive,
            timeout_scale: timeout_scale(),
            ..LoopConfig::default()
        },
    }
    .run()
    .await;
    interrupts.abort();
    ending.map_err(|err| Error::Other(err.into()))
}

/// Turns SIGINT into an input event, so Ctrl-C outside a prompt goes through the one loop.
async fn forward_interrupts(events: mpsc::UnboundedSender<InputEvent>) {
    while tokio::signal::ctrl_c().await.is_ok() {
        if events.send(InputEvent::Interrupted).is_err() {
            return;
        }
    }
}

/// `KUBETUTOR_TIMEOUT_SCALE` multiplies step timeouts (CI machines are slower, tests faster).
fn timeout_scale() -> f64 {
    std::env::var("KUBETUTOR_TIMEOUT_SCALE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(1.0)
}

/// A lesson read from disk, with what progress needs to know about its file.
pub struct LoadedLesson {
    /// The lesson.
    pub lesson: Lesson,
    /// The lesson file, canonicalised.
    pub canonical: PathBuf,
    /// Hash of its content.
    pub hash: String,
}

fn load_lesson(path: &Path) -> Result<LoadedLesson, Error> {
    let loaded = crate::lesson::load(path).map_err(|err| {
        let rendered = err.render(&crate::lesson::Styles::plain());
        // `Error::report` adds its own "error: " prefix.
        let message = rendered.strip_prefix("error: ").unwrap_or(&rendered);
        Error::Lesson(message.trim_end().to_owned())
    })?;
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    Ok(LoadedLesson {
        hash: progress::lesson_hash(loaded.text.as_bytes()),
        lesson: loaded.lesson,
        canonical,
    })
}
