//! `kubetutor run`: follow a lesson with each goal checked live on a cluster.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use owo_colors::OwoColorize;
use tokio::sync::mpsc;

use super::choose;
use crate::cli::RunArgs;
use crate::cluster::{Chosen, Cluster, ClusterRequest};
use crate::error::{EXIT_FAILED, EXIT_OK, Error};
use crate::lesson::{Lesson, LessonRef};
use crate::practice::Practice;
use crate::rehearsal::cluster::SolutionKubeconfig;
use crate::rehearsal::prepare::{self, PrepareError, Preparer};
use crate::rehearsal::source::LearnerSource;
use crate::runner::events::{Ending, InputEvent, InputMode, Loop, LoopConfig, Output};
use crate::runner::json::{JsonEvent, JsonOutput, JsonWriter};
use crate::runner::machine::Machine;
use crate::runner::progress::{self, Progress};
use crate::runner::session::{self, Opened, Place, SessionError};
use crate::runner::shells::{self, SessionShells, ShellTarget, Shells};
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
    /// The terminal's width, when what the run says goes to a terminal: long lines are
    /// wrapped at word boundaries instead of by the terminal in mid-word.
    pub width: Option<usize>,
}

impl Mode {
    /// `--json` implies `--no-input`; prompts also need a terminal on stdin.
    pub fn new(args: &RunArgs, console: &Console) -> Self {
        let to_terminal = if args.json {
            console.stderr_tty
        } else {
            console.stdout_tty
        };
        Mode {
            interactive: !args.no_input && !args.json && console.stdin_tty,
            json: args.json,
            width: to_terminal
                .then(crossterm::terminal::size)
                .and_then(Result::ok)
                .map(|(columns, _)| usize::from(columns)),
        }
    }

    /// Prints a message for humans: stderr in JSON mode, stdout otherwise.
    pub fn say(&self, text: &str) {
        let wrapped;
        let text = match self.width {
            Some(width) => {
                // Line by line: indented lines (commands to paste) stay as written.
                wrapped = text
                    .split('\n')
                    .map(|line| {
                        if line.starts_with(' ') || line.chars().count() <= width {
                            line.to_owned()
                        } else {
                            crate::runner::ui::screen::wrap(line, width, "")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                wrapped.as_str()
            }
            None => text,
        };
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
    let chosen = choose::resolve(
        args.lesson.as_deref(),
        Path::new(choose::LESSONS_DIR),
        mode.interactive.then_some(ask),
    )?;
    let loaded = load_lesson(&chosen, console)?;
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

    // A finished lesson is not silently played again on the cluster it left behind.
    let finished = plan.finished && !args.reset && args.from.is_none();
    if finished && !mode.interactive {
        mode.say(&format!(
            "You finished this lesson before, so there is nothing to run. Pass --reset to start \
             over (on the practice cluster, from an empty cluster), or --from STEP to go back to \
             a step (steps are: {}).",
            lesson.step_list()
        ));
        return Ok(ExitCode::from(EXIT_OK));
    }

    let mut place = choose_place(&args, &state_dir, &namespace, mode).await?;
    if finished {
        match start_over(place, &lesson, &namespace).await? {
            Some(chosen) => place = chosen,
            None => return Ok(ExitCode::from(EXIT_OK)),
        }
    }
    let from_context = match &place {
        Place::Cluster(cluster) => Some(ShellTarget {
            kubeconfig: cluster.kubeconfig_path().map(Path::to_owned),
            context: cluster.context().to_owned(),
            server: cluster.server().to_owned(),
        }),
        Place::Practice { .. } => None,
    };
    let mut session = session::open(place, &lesson, &namespace)
        .await
        .map_err(session_error)?;
    let mut json = mode.json.then(|| JsonWriter::new(std::io::stdout()));
    announce(&session.opened, &namespace, mode, json.as_mut());
    let target = from_context.or_else(|| {
        session.opened.sandbox.as_ref().map(|sandbox| ShellTarget {
            kubeconfig: Some(sandbox.kubeconfig.clone()),
            context: sandbox.context.clone(),
            server: sandbox.server.clone(),
        })
    });
    let mut shells = target.and_then(|target| {
        shells::open(&state_dir, &loaded.canonical, &lesson, &namespace, &target)
    });
    if shells.is_some() {
        mode.say(&format!(
            "Open a connected terminal: run {} in another terminal (as many as you like). It points kubectl at this lesson's cluster and namespace, keeps captured values exported, and lets reading steps see the commands you run there.",
            "kubetutor shell".style(console.styles(Stream::Stdout).command)
        ));
    }
    if args.reset {
        mode.say("Progress reset: starting at step 1.");
    }
    if let Some(message) = &plan.message {
        mode.say(message);
    }

    // Solution commands (earlier steps set up, a step solved on request) need a kubeconfig
    // whose context namespace is the lesson's.
    let sandbox_kubeconfig = session
        .opened
        .sandbox
        .as_ref()
        .map(|s| s.kubeconfig.clone());
    let solutions = SolutionKubeconfig::write(
        sandbox_kubeconfig.as_deref(),
        session.cluster.context(),
        &namespace,
    )
    .inspect_err(|err| tracing::warn!("{}", crate::error::chain(err)))
    .ok();
    let solutions_path = solutions.as_ref().map(|s| s.path.clone());
    let mut progress = plan.progress;
    if args.from.is_some() && plan.index > 0 {
        let prepare = Prepare {
            kubeconfig: solutions_path.as_deref(),
            lesson: &lesson,
            upto: plan.index,
            namespace: &namespace,
            yes: args.yes,
            mode,
            timeout_scale: args.timeouts.timeout_scale,
        };
        let prepared = prepare.run(&session.cluster).await;
        match prepared {
            Ok(captured) => progress.captured.extend(captured),
            Err(err) => {
                session.shutdown().await;
                return Err(err);
            }
        }
    }
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
    let mut source = LearnerSource::new(
        &mut session.source,
        solutions_path,
        &namespace,
        args.timeouts.timeout_scale,
    );
    let ending = match json {
        Some(writer) => {
            let mut output = JsonOutput::new(writer, chosen.display());
            run.drive(machine, &mut source, &mut output, shells.as_mut())
                .await
        }
        None => {
            let styles = console.styles(Stream::Stdout);
            let spinners = mode.interactive && console.stdout_tty;
            let mut output = Screen::new(styles, spinners, mode.interactive).with_history(earlier);
            run.drive(machine, &mut source, &mut output, shells.as_mut())
                .await
        }
    };
    drop(shells);
    drop(source);
    drop(solutions);
    let on_practice = session.opened.sandbox.is_some();
    session.shutdown().await;
    if on_practice {
        mode.say(&format!(
            "\nThe practice cluster {} keeps running: {}.",
            crate::practice::CONTEXT,
            crate::practice::STOP_HINT
        ));
    }
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

/// Asks whether to start a finished lesson over on a clean cluster: the sandbox from empty, or
/// the lesson's namespace deleted and made again on a context (after naming what is in it).
/// `None` when the learner quits instead.
async fn start_over(
    place: Place,
    lesson: &Lesson,
    namespace: &str,
) -> Result<Option<Place>, Error> {
    const CLEAN: usize = 0;
    const AS_IS: usize = 1;
    let (question, clean) = match &place {
        Place::Practice { .. } => (
            "You finished this lesson before. Start over?".to_owned(),
            "Start over on a clean practice cluster (its objects from the last run are removed)"
                .to_owned(),
        ),
        Place::Cluster(cluster) => {
            let objects = prepare::lesson_objects(cluster, lesson, namespace).await;
            let found = if objects.is_empty() {
                format!("nothing the lesson works on is left in namespace {namespace}")
            } else {
                format!("namespace {namespace} still has {}", objects.join(", "))
            };
            (
                format!("You finished this lesson before; {found}. Start over?"),
                format!(
                    "Start over in a clean namespace {namespace} (it is deleted and made again)"
                ),
            )
        }
    };
    let options = vec![
        clean,
        "Start from step 1 on the cluster as it is".to_owned(),
        "Quit".to_owned(),
    ];
    let Some(answer) = select(question, options).await? else {
        return Ok(None);
    };
    match (answer, place) {
        (CLEAN, Place::Practice { practice, .. }) => Ok(Some(Place::Practice {
            practice,
            fresh: true,
        })),
        (CLEAN, Place::Cluster(cluster)) => {
            cluster
                .delete_namespace(namespace, Some(NAMESPACE_DELETE_TIMEOUT))
                .await
                .map_err(Error::cluster)?;
            Ok(Some(Place::Cluster(cluster)))
        }
        (AS_IS, place) => Ok(Some(place)),
        _ => Ok(None),
    }
}

/// How long deleting the lesson's namespace to start over may take.
const NAMESPACE_DELETE_TIMEOUT: Duration = Duration::from_secs(120);

/// One choice among `options` (its index), `None` on Esc; Ctrl-C interrupts.
async fn select(question: String, options: Vec<String>) -> Result<Option<usize>, Error> {
    ask(None, move || {
        inquire::Select::new(&question, options.clone())
            .prompt()
            .map(|chosen| options.iter().position(|o| *o == chosen))
    })
    .await
}

/// A yes/no question; Esc is no, Ctrl-C interrupts.
async fn confirm(question: String, default: bool) -> Result<bool, Error> {
    ask(false, move || {
        inquire::Confirm::new(&question)
            .with_default(default)
            .prompt()
    })
    .await
}

/// Runs an inquire prompt off the runtime's threads; Esc answers `canceled`.
async fn ask<T: Send + 'static>(
    canceled: T,
    prompt: impl FnOnce() -> Result<T, inquire::InquireError> + Send + 'static,
) -> Result<T, Error> {
    let answer = tokio::task::spawn_blocking(prompt)
        .await
        .map_err(|err| Error::Other(anyhow::Error::new(err)))?;
    match answer {
        Ok(answer) => Ok(answer),
        Err(inquire::InquireError::OperationCanceled) => Ok(canceled),
        Err(inquire::InquireError::OperationInterrupted) => Err(Error::Interrupted),
        Err(err) => Err(Error::Other(anyhow::Error::new(err))),
    }
}

/// Setting up what the steps before `--from` leave, with consent.
struct Prepare<'a> {
    /// The kubeconfig for solution commands, if one could be written.
    kubeconfig: Option<&'a Path>,
    lesson: &'a Lesson,
    upto: usize,
    namespace: &'a str,
    yes: bool,
    mode: Mode,
    timeout_scale: f64,
}

impl Prepare<'_> {
    /// Finds the earlier steps whose goals do not hold, shows their solutions, and runs them
    /// with consent (`--yes`, or a question); without a learner to ask, says how instead.
    /// Returns the values the earlier steps capture.
    async fn run(&self, cluster: &Cluster) -> Result<BTreeMap<String, String>, Error> {
        let Some(kubeconfig) = self.kubeconfig else {
            return Err(Error::Other(anyhow::anyhow!(
                "failed to set up the earlier steps: no kubeconfig for their solutions"
            )));
        };
        let mut preparer = Preparer::new(
            self.lesson,
            cluster.clone(),
            kubeconfig,
            self.namespace,
            self.timeout_scale,
        );
        let missing = preparer.missing(self.upto).await.map_err(Error::cluster)?;
        let mut captured = missing.captured;
        if missing.steps.is_empty() {
            return Ok(captured);
        }
        let steps = &self.lesson.steps;
        let mut text = format!(
            "The cluster lacks what earlier steps leave: the goals of {} do not hold. Their \
             solutions would set it up:\n",
            missing
                .steps
                .iter()
                .map(|&i| format!("step {} [{}]", i + 1, steps[i].id))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // A later step that holds now may not once the earlier ones are set up (a Service
        // created, then one to delete): it is shown too, since it may run.
        let first = missing.steps[0];
        for (index, step) in steps.iter().enumerate().take(self.upto).skip(first) {
            if step.goals.is_empty() {
                continue;
            }
            let when = if missing.steps.contains(&index) {
                ""
            } else {
                " (only if its goals no longer hold by then)"
            };
            text.push_str(&format!(
                "\n  Step {}/{} [{}]{when}:\n",
                index + 1,
                steps.len(),
                step.id
            ));
            for command in &step.solution {
                text.push_str(&format!("    $ {command}\n"));
            }
        }
        self.mode.say(&text);
        let consent = if self.yes {
            true
        } else if self.mode.interactive {
            confirm("Run these commands now?".to_owned(), true).await?
        } else {
            self.mode.say(
                "Nothing was run: pass --yes to run them, or type them yourself before the \
                 step's goals can hold.",
            );
            false
        };
        if !consent {
            return Ok(captured);
        }
        let mode = self.mode;
        let total = steps.len();
        preparer
            .prepare(self.upto, &mut captured, &mut |index, step| {
                mode.say(&format!("Set up step {}/{total} [{}].", index + 1, step.id));
            })
            .await
            .map_err(|err| match err {
                PrepareError::Watch(_) => Error::cluster(err),
                other => Error::Other(other.into()),
            })?;
        Ok(captured)
    }
}

/// Chooses the cluster and, for one that does not look like a practice cluster, gets the
/// learner's consent (`--yes`, or a question).
async fn choose_place(
    args: &RunArgs,
    state_dir: &Path,
    namespace: &str,
    mode: Mode,
) -> Result<Place, Error> {
    let request = ClusterRequest::from_flags(args.sandbox, args.context.as_deref());
    let chosen = crate::cluster::choose(request)
        .await
        .map_err(Error::cluster)?;
    let practice = Practice::new(state_dir);
    let looks_practice = chosen.is_practice();
    match chosen {
        Chosen::Sandbox { fallback } => {
            if let Some(why) = fallback {
                mode.say(&format!(
                    "{why}; using the practice cluster {}.",
                    crate::practice::CONTEXT
                ));
            }
            Ok(Place::Practice {
                practice,
                fresh: args.reset,
            })
        }
        // The merged context of the running practice cluster: it is still kubetutor's own
        // (it learns the lesson's images, and `--reset` empties it).
        Chosen::Context { cluster, .. }
            if cluster.context() == crate::practice::CONTEXT
                && practice.server().as_deref() == Some(cluster.server()) =>
        {
            Ok(Place::Practice {
                practice,
                fresh: args.reset,
            })
        }
        Chosen::Context { cluster, .. } => {
            let practice = looks_practice;
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
        SessionError::Practice(err) => super::sandbox::practice_error(err),
        SessionError::Cluster(_) => Error::cluster(err),
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
        let verb = if opened.sandbox_started {
            "Started"
        } else {
            "Using"
        };
        mode.say(&format!(
            "{verb} the practice cluster {} at {}.",
            sandbox.context, sandbox.server
        ));
        match &opened.kubeconfig_note {
            Some(Ok(note)) => mode.say(note),
            Some(Err(why)) => mode.say(&format!("warning: {why}")),
            None => {}
        }
        mode.say(&format!(
            "Its own kubeconfig, for a terminal with another KUBECONFIG:\n\n    export KUBECONFIG={}\n",
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
    if confirm(question, false).await? {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "not using context {context}; pick another with --context or use --sandbox"
        )))
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
        shells: Option<&mut SessionShells>,
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
            shells: shells.map(|s| s as &mut dyn Shells),
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

/// A lesson loaded, with what progress needs to know about where it came from.
pub struct LessonFile {
    /// The lesson.
    pub lesson: Lesson,
    /// The lesson file, canonicalised, or a built-in lesson's key.
    pub canonical: PathBuf,
    /// Hash of its content.
    pub hash: String,
}

fn load_lesson(chosen: &LessonRef, console: &Console) -> Result<LessonFile, Error> {
    let loaded = chosen
        .load()
        .map_err(|err| super::lesson_error(&err, console))?;
    Ok(LessonFile {
        hash: progress::lesson_hash(loaded.text.as_bytes()),
        lesson: loaded.lesson,
        canonical: chosen.identity(),
    })
}
