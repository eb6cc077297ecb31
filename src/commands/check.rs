//! `kubetutor check`: run every step's solution on a clean cluster and confirm its goals, for
//! CI and lesson authors. Invoking it is the consent to run the lessons' solution commands.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::cli::CheckArgs;
use crate::cluster::{ClusterChoice, connect};
use crate::commands::lint::{lesson_files, styles_for};
use crate::error::{EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Error};
use crate::lesson::{self, Lesson};
use crate::runner::json::JsonWriter;
use crate::runner::ui::styles::Styles;
use crate::smoke::report::{LessonReport, junit, step_lines, summary};
use crate::smoke::target::{ClusterMode, Target};
use crate::smoke::{CheckConfig, Outcome, StepResult, check_lesson};

/// Runs `kubetutor check`.
pub fn run(args: CheckArgs) -> Result<ExitCode, Error> {
    if !args.timeout_scale.is_finite() || args.timeout_scale <= 0.0 {
        return Err(Error::Usage(format!(
            "--timeout-scale must be a positive number, not {}",
            args.timeout_scale
        )));
    }
    let files = lesson_files(&args.lessons)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let result = runtime.block_on(run_async(args, files));
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

/// Human text goes to stdout, or to stderr when stdout carries JSON lines.
struct Human {
    json: bool,
    styles: Styles,
}

impl Human {
    fn new(json: bool) -> Self {
        let terminal = if json {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        Human {
            json,
            styles: Styles::choose(terminal, std::env::var_os("NO_COLOR").as_deref()),
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

async fn run_async(args: CheckArgs, files: Vec<std::path::PathBuf>) -> Result<ExitCode, Error> {
    let started = Instant::now();
    let human = Human::new(args.json);
    let mode = choose_cluster(&args).await;
    let mut json = args.json.then(|| JsonWriter::new(std::io::stdout()));
    let config = CheckConfig {
        timeout_scale: args.timeout_scale,
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
        let name = file.display().to_string();
        let lesson = match load(file) {
            Ok(lesson) => lesson,
            Err(rendered) => {
                eprint!("{rendered}");
                code = code.max(EXIT_USAGE);
                write_event(
                    &mut json,
                    "lesson_failed",
                    json!({"file": name, "reason": first_line(&rendered)}),
                );
                reports.push(LessonReport {
                    title: name.clone(),
                    file: name,
                    steps: Vec::new(),
                    error: Some(rendered),
                });
                continue;
            }
        };
        if stopped || interrupted.is_cancelled() {
            reports.push(LessonReport {
                file: name,
                title: lesson.title.clone(),
                steps: lesson
                    .steps
                    .iter()
                    .map(|s| StepResult {
                        id: s.id.clone(),
                        title: s.title.clone(),
                        outcome: Outcome::Skipped,
                        duration: Duration::ZERO,
                        output: String::new(),
                    })
                    .collect(),
                error: None,
            });
            continue;
        }
        let report = check_one(
            &name,
            &lesson,
            &mode,
            config,
            &interrupted,
            &human,
            &mut json,
        )
        .await;
        if report.error.is_some() || !report.passed() {
            code = code.max(EXIT_FAILED);
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

/// `--sandbox`, `--context`, or the current context if it answers, else the sandbox.
async fn choose_cluster(args: &CheckArgs) -> ClusterMode {
    if args.sandbox {
        return ClusterMode::Sandbox;
    }
    if let Some(context) = &args.context {
        return ClusterMode::Context(Some(context.clone()));
    }
    match connect(ClusterChoice::default()).await {
        Ok(cluster) => {
            eprintln!(
                "Checking on the current context {} ({}), in a fresh namespace per lesson.",
                cluster.context(),
                cluster.server()
            );
            ClusterMode::Context(Some(cluster.context().to_owned()))
        }
        Err(err) => {
            eprintln!(
                "{}; checking on the embedded sandbox.",
                err.sandbox_reason()
            );
            ClusterMode::Sandbox
        }
    }
}

/// Loads and lints a lesson; `Err` is the rendered diagnostics.
fn load(path: &Path) -> Result<Lesson, String> {
    let styles = styles_for(std::io::stderr().is_terminal());
    let loaded = lesson::load(path).map_err(|err| err.render(&styles))?;
    let errors: Vec<String> = lesson::lint(&loaded)
        .into_iter()
        .filter(|d| d.is_error())
        .map(|d| d.render(&styles))
        .collect();
    if errors.is_empty() {
        Ok(loaded.lesson)
    } else {
        Err(errors.join("\n"))
    }
}

async fn check_one(
    name: &str,
    lesson: &Lesson,
    mode: &ClusterMode,
    config: CheckConfig,
    interrupted: &CancellationToken,
    human: &Human,
    json: &mut Option<JsonWriter<std::io::Stdout>>,
) -> LessonReport {
    let target = match Target::prepare(mode, lesson).await {
        Ok(target) => target,
        Err(err) => {
            let why = anyhow::Error::new(err)
                .chain()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("error: {name}: {why}");
            write_event(json, "lesson_failed", json!({"file": name, "reason": why}));
            return LessonReport {
                file: name.to_owned(),
                title: lesson.title.clone(),
                steps: Vec::new(),
                error: Some(why),
            };
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
    write_event(
        json,
        "lesson_started",
        json!({"file": name, "lesson": lesson.title, "namespace": target.namespace}),
    );
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
    let count = |f: fn(&Outcome) -> bool| report.steps.iter().filter(|s| f(&s.outcome)).count();
    if report.passed() {
        write_event(
            json,
            "lesson_passed",
            json!({
                "file": name,
                "steps_passed": count(|o| matches!(o, Outcome::Passed)),
                "steps_without_data_plane": count(|o| matches!(o, Outcome::NoDataPlane { .. })),
            }),
        );
    } else {
        let first = report
            .steps
            .iter()
            .find(|s| matches!(s.outcome, Outcome::Failed { .. }))
            .map(|s| s.id.clone());
        write_event(
            json,
            "lesson_failed",
            json!({
                "file": name,
                "step": first,
                "steps_failed": count(|o| matches!(o, Outcome::Failed { .. })),
            }),
        );
    }
    report
}

/// Cleans the cluster up after a lesson. After a Ctrl-C the learner is told what is being
/// cleaned, and a second Ctrl-C leaves it (saying what was left where).
async fn finish(name: &str, target: Target, interrupted: bool, human: &Human) {
    let leftover = target.leftover();
    let warn = |err: crate::smoke::SmokeError| {
        eprintln!("warning: {name}: {err}");
        if let Some(leftover) = &leftover {
            eprintln!("warning: {name}: {leftover}");
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
                eprintln!("warning: {name}: {leftover}");
            }
        }
    }
}

fn write_event<W: Write>(json: &mut Option<JsonWriter<W>>, event: &str, fields: serde_json::Value) {
    if let Some(json) = json
        && let Err(err) = json.write(event, fields)
    {
        tracing::warn!("failed to write a JSON event: {err}");
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

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}
