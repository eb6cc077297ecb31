//! `kubetutor run`: follow a lesson with each goal checked live on a cluster.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;

use super::choose;
use crate::cli::RunArgs;
use crate::cluster::{Chosen, Cluster, ClusterRequest};
use crate::error::{EXIT_FAILED, EXIT_OK, Error};
use crate::lesson::Lesson;
use crate::runner::events::{Ending, InputEvent, InputMode, Loop, LoopConfig, Output};
use crate::runner::json::{JsonEvent, JsonOutput, JsonWriter};
use crate::runner::machine::Machine;
use crate::runner::progress::{self, Progress};
use crate::runner::session::{self, Opened, Place, SessionError};
use crate::runner::source::GoalSource;
use crate::runner::ui::screen::{Screen, shell_quote};
use crate::runner::ui::{prompt, restore_terminal};
use crate::term::{Console, Stream};

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
    pub fn new(args: &RunArgs, console: &Console) -> Self {
        Mode {
            interactive: !args.no_input && !args.json && console.stdin_tty,
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
pub fn run(args: RunArgs, console: &Console) -> Result<ExitCode, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let result = runtime.block_on(run_async(args, console));
    restore_terminal(console);
    // The prompt thread may be blocked reading stdin; never wait for it.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

async fn run_async(args: RunArgs, console: &Console) -> Result<ExitCode, Error> {
    let mode = Mode::new(&args, console);
    if !args.no_input && !args.json && !mode.interactive {
        eprintln!("stdin is not a terminal: running without prompts, as with --no-input");
    }
    let ask: choose::Pick<'_> = &choose::ask;
    let path = choose::resolve(
        args.lesson.as_deref(),
        Path::new(choose::LESSONS_DIR),
        mode.interactive.then_some(ask),
    )?;
    let loaded = load_lesson(&path, console)?;
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

    let place = choose_place(&args, &state_dir, &loaded.canonical, &namespace, mode).await?;
    let mut session = session::open(place, &lesson, &namespace)
        .await
        .map_err(session_error)?;
    let mut json = mode.json.then(|| JsonWriter::new(std::io::stdout()));
    announce(&session.opened, &namespace, mode, json.as_mut());
    if args.reset {
        mode.say("Progress reset: starting at step 1.");
    }
    if let Some(message) = &plan.message {
        mode.say(message);
    }

    let progress = plan.progress;
    let earlier: Vec<_> = progress
        .completed
        .iter()
        .map(|c| (c.id.clone(), c.outcome))
        .collect();
    let machine = Machine::new(lesson, plan.index, progress.captured.clone());
    let run = Drive {
        progress,
        progress_path: &progress_path,
        mode,
        keys: console.stdin_tty,
        timeout_scale: args.timeouts.timeout_scale,
    };
    let ending = match json {
        Some(writer) => {
            let mut output = JsonOutput::new(writer, path.display().to_string());
            run.drive(machine, &mut session.source, &mut output).await
        }
        None => {
            let styles = console.styles(Stream::Stdout);
            let spinners = mode.interactive && console.stdout_tty;
            let mut output = Screen::new(styles, spinners, mode.interactive).with_history(earlier);
            run.drive(machine, &mut session.source, &mut output).await
        }
    };
    session.shutdown().await;
    match ending? {
        Ending::Passed | Ending::Quit => Ok(ExitCode::from(EXIT_OK)),
        Ending::Failed => Ok(ExitCode::from(EXIT_FAILED)),
        Ending::Interrupted => {
            restore_terminal(console);
            eprintln!("\nProgress saved. Run the same command again to resume.");
            Err(Error::Interrupted)
        }
    }
}

/// Chooses the cluster and, for one that does not look like a practice cluster, gets the
/// learner's consent (`--yes`, or a question).
async fn choose_place(
    args: &RunArgs,
    state_dir: &Path,
    lesson_file: &Path,
    namespace: &str,
    mode: Mode,
) -> Result<Place, Error> {
    let request = ClusterRequest::from_flags(args.sandbox, args.context.as_deref());
    let chosen = crate::cluster::choose(request)
        .await
        .map_err(Error::cluster)?;
    let practice = chosen.is_practice();
    match chosen {
        Chosen::Sandbox { fallback } => {
            if let Some(why) = fallback {
                mode.say(&format!("{why}; starting the embedded sandbox."));
            }
            Ok(Place::Sandbox {
                dir: session::sandbox_dir(state_dir, &progress::lesson_key(lesson_file)),
                fresh: args.reset,
            })
        }
        Chosen::Context { cluster, .. } => {
            if !practice && !args.yes {
                confirm_cluster(&cluster, mode).await?;
            }
            mode.say(&format!(
                "Using context {} ({}), namespace {namespace}.",
                cluster.context(),
                cluster.server()
            ));
            Ok(Place::Cluster(cluster))
        }
    }
}

fn session_error(err: SessionError) -> Error {
    match err {
        SessionError::ResetState { .. } => Error::Other(err.into()),
        SessionError::Sandbox(_) | SessionError::Cluster(_) => Error::cluster(err),
    }
}

/// Tells the learner what opening the session did; in JSON mode the sandbox is also an event,
/// and the line to paste stays on stderr.
fn announce(
    opened: &Opened,
    namespace: &str,
    mode: Mode,
    json: Option<&mut JsonWriter<std::io::Stdout>>,
) {
    if opened.sandbox_reset {
        mode.say("Sandbox reset: its objects from earlier runs are gone.");
    }
    if let Some(sandbox) = &opened.sandbox {
        let kubeconfig = sandbox.kubeconfig.display().to_string();
        mode.say(&format!(
            "The embedded sandbox cluster is running. In a second terminal, paste:\n\n    export KUBECONFIG={}\n",
            shell_quote(&kubeconfig)
        ));
        if let Some(json) = json {
            json.emit(&JsonEvent::SandboxStarted {
                kubeconfig,
                context: sandbox.context.clone(),
                server: sandbox.server.clone(),
            });
        }
    }
    if opened.namespace_created {
        mode.say(&format!("Created namespace {namespace}."));
    }
}

/// Asks before using a cluster that is not a practice one; without a learner to ask, that is
/// a usage error pointing at `--yes`.
async fn confirm_cluster(cluster: &Cluster, mode: Mode) -> Result<(), Error> {
    let context = cluster.context().to_owned();
    if !mode.interactive {
        return Err(Error::Usage(format!(
            "context {context} ({}) does not look like a practice cluster; pass --yes to use it anyway",
            cluster.server()
        )));
    }
    let question = format!(
        "Context {context} ({}) does not look like a practice cluster. The lesson only touches its own namespace. Use it?",
        cluster.server()
    );
    let answer = tokio::task::spawn_blocking(move || {
        inquire::Confirm::new(&question)
            .with_default(false)
            .prompt()
    })
    .await
    .map_err(|err| Error::Other(anyhow::Error::new(err)))?;
    match answer {
        Ok(true) => Ok(()),
        Ok(false) | Err(inquire::InquireError::OperationCanceled) => Err(Error::Usage(format!(
            "not using context {context}; pick another with --context or use --sandbox"
        ))),
        Err(inquire::InquireError::OperationInterrupted) => Err(Error::Interrupted),
        Err(err) => Err(Error::Other(anyhow::Error::new(err))),
    }
}

/// What driving the loop needs besides the machine, the source and the output.
struct Drive<'a> {
    progress: Progress,
    progress_path: &'a Path,
    mode: Mode,
    /// Stdin is a terminal: read single keys, not lines.
    keys: bool,
    timeout_scale: f64,
}

impl Drive<'_> {
    async fn drive<S: GoalSource, O: Output>(
        mut self,
        mut machine: Machine,
        source: &mut S,
        output: &mut O,
    ) -> Result<Ending, Error> {
        let (input_tx, input_rx) = mpsc::unbounded_channel();
        let input_mode = Arc::new(Mutex::new(InputMode::Idle));
        if self.mode.interactive {
            prompt::spawn(input_tx.clone(), input_mode.clone(), self.keys);
        }
        let interrupts = tokio::spawn(forward_interrupts(input_tx));
        let progress_path = self.progress_path;
        let mut save = |machine: &Machine| {
            self.progress.record(machine);
            if let Err(err) = progress::save(progress_path, &self.progress) {
                tracing::warn!("{}", crate::error::chain(&err));
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
                interactive: self.mode.interactive,
                timeout_scale: self.timeout_scale,
                ..LoopConfig::default()
            },
        }
        .run()
        .await;
        interrupts.abort();
        // The loop fails only when a step's watches cannot start: a cluster problem.
        ending.map_err(Error::cluster)
    }
}

/// Turns SIGINT and SIGTERM into an input event, so both end the run through the one loop
/// (progress saved, terminal restored). In raw mode Ctrl-C arrives as a key instead.
async fn forward_interrupts(events: mpsc::UnboundedSender<InputEvent>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    loop {
        let terminated = async {
            match term.as_mut() {
                Some(term) => term.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => if interrupted.is_err() { return },
            _ = terminated => {}
        }
        if events.send(InputEvent::Interrupted).is_err() {
            return;
        }
    }
}

/// A lesson read from disk, with what progress needs to know about its file.
pub struct LessonFile {
    /// The lesson.
    pub lesson: Lesson,
    /// The lesson file, canonicalised.
    pub canonical: PathBuf,
    /// Hash of its content.
    pub hash: String,
}

fn load_lesson(path: &Path, console: &Console) -> Result<LessonFile, Error> {
    let loaded = crate::lesson::load(path).map_err(|err| super::lesson_error(&err, console))?;
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    Ok(LessonFile {
        hash: progress::lesson_hash(loaded.text.as_bytes()),
        lesson: loaded.lesson,
        canonical,
    })
}
