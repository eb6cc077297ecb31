//! `kubetutor check`: run every step's solution on a clean cluster and confirm its goals, for
//! CI and lesson authors. Invoking it is the consent to run the lessons' solution commands.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use owo_colors::OwoColorize;
use tokio_util::sync::CancellationToken;

use crate::cli::CheckArgs;
use crate::cluster::{Chosen, ClusterRequest};
use crate::commands::lint::lessons_named;
use crate::error::{
    EXIT_CLUSTER, EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Error,
};
use crate::lesson::{self, Diagnostic, Lesson, LessonError, LessonRef};
use crate::rehearsal::cluster::LessonCluster;
use crate::rehearsal::report::{LessonReport, junit, step_lines, summary};
use crate::rehearsal::{CheckConfig, StepResult, check_lesson};
use crate::runner::json::{JsonEvent, JsonWriter};
use crate::term::{Console, Stream, Styles};

/// Runs `kubetutor check`.
pub fn run(args: CheckArgs, console: &Console) -> Result<ExitCode, Error> {
    let files = lessons_named(&args.lessons)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let result = runtime.block_on(run_async(args, files, console));
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

/// Human text goes to stdout, or to stderr when stdout carries JSON lines.
struct Human {
    json: bool,
    styles: Styles,
    /// Styles of stderr, where diagnostics go.
    stderr: Styles,
}

impl Human {
    fn new(json: bool, console: &Console) -> Self {
        Human {
            json,
            styles: console.styles(if json { Stream::Stderr } else { Stream::Stdout }),
            stderr: console.styles(Stream::Stderr),
        }
    }

    fn say(&self, text: &str) {
        // A closed pipe is not worth a panic.
        if self.json {
            let _ = std::io::stderr().write_all(text.as_bytes());
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
}

async fn run_async(
    args: CheckArgs,
    files: Vec<LessonRef>,
    console: &Console,
) -> Result<ExitCode, Error> {
    let started = Instant::now();
    let human = Human::new(args.json, console);
    let chosen = choose_cluster(&args).await?;
    let mut json = args.json.then(|| JsonWriter::new(std::io::stdout()));
    let config = CheckConfig {
        timeout_scale: args.timeouts.timeout_scale,
        fail_fast: args.fail_fast,
    };
    let mut reports = Vec::new();
    let mut code = EXIT_OK;
    let mut stopped = false;
    // The first Ctrl-C stops the check cleanly: the current step is abandoned, the cluster
    // cleaned up, the reports written, and the exit status is 130.
    let interrupted = CancellationToken::new();
    let listener = tokio::spawn({
        let interrupted = interrupted.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.cancel();
            }
        }
    });
    for file in &files {
        let name = file.display();
        let (report, failure) = match load(file) {
            Err(not_loaded) => {
                eprint!("{}", not_loaded.render(&human.stderr));
                let report = LessonReport {
                    title: name.clone(),
                    file: name,
                    steps: Vec::new(),
                    error: Some(not_loaded.render(&Styles::plain())),
                };
                (report, EXIT_USAGE)
            }
            Ok(lesson) if stopped || interrupted.is_cancelled() => {
                let report = LessonReport {
                    file: name,
                    title: lesson.title.clone(),
                    steps: lesson.steps.iter().map(StepResult::skipped).collect(),
                    error: None,
                };
                reports.push(report);
                continue;
            }
            Ok(lesson) => {
                check_one(
                    &name,
                    &lesson,
                    &chosen,
                    config,
                    &interrupted,
                    &human,
                    &mut json,
                )
                .await
            }
        };
        if let Some(json) = json.as_mut() {
            json.emit(&report.end_event());
        }
        if !report.passed() {
            code = code.max(failure);
            stopped = args.fail_fast;
        }
        reports.push(report);
    }
    listener.abort();
    human.say(&summary(&reports, started.elapsed(), &human.styles));
    if let Some(path) = &args.junit {
        write_junit(path, &reports)?;
    }
    if interrupted.is_cancelled() {
        human.say("Interrupted (Ctrl-C): the remaining steps were skipped.\n");
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::from(code))
}

/// `--sandbox`, `--context`, or the current context if it answers, else the sandbox; says
/// which when it was not asked for.
async fn choose_cluster(args: &CheckArgs) -> Result<Chosen, Error> {
    let request = ClusterRequest::from_flags(args.sandbox, args.context.as_deref());
    let chosen = crate::cluster::choose(request)
        .await
        .map_err(Error::cluster)?;
    match &chosen {
        Chosen::Sandbox {
            fallback: Some(why),
        } => eprintln!("{why}; checking on the embedded sandbox."),
        Chosen::Context {
            cluster,
            current: true,
        } => eprintln!(
            "Checking on the current context {} ({}), in a fresh namespace per lesson.",
            cluster.context(),
            cluster.server()
        ),
        _ => {}
    }
    Ok(chosen)
}

/// Why a lesson cannot be checked before any cluster is involved.
enum NotLoaded {
    /// It does not load.
    Load(LessonError),
    /// It loads, but lint finds errors.
    Lint(Vec<Diagnostic>),
}

impl NotLoaded {
    fn render(&self, styles: &Styles) -> String {
        match self {
            NotLoaded::Load(err) => err.render(styles),
            NotLoaded::Lint(errors) => errors
                .iter()
                .map(|d| d.render(styles))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// Loads and lints a lesson.
fn load(lesson: &LessonRef) -> Result<Lesson, NotLoaded> {
    let loaded = lesson.load().map_err(NotLoaded::Load)?;
    let errors: Vec<Diagnostic> = lesson::lint(&loaded)
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    if errors.is_empty() {
        Ok(loaded.lesson)
    } else {
        Err(NotLoaded::Lint(errors))
    }
}

/// Checks one lesson; returns its report and the exit code it earns if it did not pass.
async fn check_one(
    name: &str,
    lesson: &Lesson,
    chosen: &Chosen,
    config: CheckConfig,
    interrupted: &CancellationToken,
    human: &Human,
    json: &mut Option<JsonWriter<std::io::Stdout>>,
) -> (LessonReport, u8) {
    let target = match LessonCluster::prepare(chosen, lesson).await {
        Ok(target) => target,
        Err(err) => {
            let why = crate::error::chain(&err);
            eprintln!("{}: {name}: {why}", "error".style(human.stderr.error));
            let code = if err.is_cluster() {
                EXIT_CLUSTER
            } else {
                EXIT_INTERNAL
            };
            let report = LessonReport {
                file: name.to_owned(),
                title: lesson.title.clone(),
                steps: Vec::new(),
                error: Some(why),
            };
            return (report, code);
        }
    };
    human.say(&format!(
        "{} {name}: {} ({} steps) on {}, namespace {}\n",
        "Checking",
        lesson.title,
        lesson.steps.len(),
        target.description,
        target.namespace
    ));
    if let Some(json) = json.as_mut() {
        json.emit(&JsonEvent::LessonStarted {
            file: name.to_owned(),
            lesson: lesson.title.clone(),
            namespace: target.namespace.clone(),
        });
    }
    let steps = check_lesson(
        lesson,
        &target,
        config,
        interrupted,
        json.as_mut(),
        &mut |result| {
            human.say(&step_lines(result, &human.styles));
        },
    )
    .await;
    finish(name, target, interrupted.is_cancelled(), human).await;
    let report = LessonReport {
        file: name.to_owned(),
        title: lesson.title.clone(),
        steps,
        error: None,
    };
    (report, EXIT_FAILED)
}

/// Cleans the cluster up after a lesson. After a Ctrl-C the learner is told what is being
/// cleaned, and a second Ctrl-C leaves it (saying what was left where).
async fn finish(name: &str, target: LessonCluster, interrupted: bool, human: &Human) {
    let leftover = target.leftover();
    let warn = |err: crate::rehearsal::RehearsalError| {
        tracing::warn!("{name}: {}", crate::error::chain(&err));
        if let Some(leftover) = &leftover {
            tracing::warn!("{name}: {leftover}");
        }
    };
    if !interrupted {
        if let Err(err) = target.finish().await {
            warn(err);
        }
        return;
    }
    human.say(&format!(
        "Interrupted: {}... (Ctrl-C again to leave it)\n",
        target.cleanup()
    ));
    tokio::select! {
        finished = target.finish() => {
            if let Err(err) = finished {
                warn(err);
            }
        }
        _ = tokio::signal::ctrl_c() => {
            if let Some(leftover) = leftover {
                tracing::warn!("{name}: {leftover}");
            }
        }
    }
}

fn write_junit(path: &Path, reports: &[LessonReport]) -> Result<(), Error> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("failed to create the JUnit report {}", path.display()))?;
    junit(reports)
        .serialize(std::io::BufWriter::new(file))
        .with_context(|| format!("failed to write the JUnit report {}", path.display()))?;
    Ok(())
}
