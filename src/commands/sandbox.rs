//! `kubetutor sandbox`: serve the embedded cluster until Ctrl-C, or manage the practice
//! cluster (`start`, `stop`, `status`, `delete`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use tokio::signal::unix::SignalKind;

use crate::cli::{PracticeCommand, PracticeStartArgs, SandboxArgs};
use crate::error::{EXIT_CLUSTER, EXIT_OK, Error};
use crate::practice::{self, Practice, PracticeError, StartOptions};
use crate::runner::ui::screen::shell_quote;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::term::Console;

/// Runs `kubetutor sandbox` and its subcommands.
pub fn run(args: SandboxArgs, console: &Console) -> Result<ExitCode, Error> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    match args.action {
        None => runtime.block_on(serve_foreground(args, console)),
        Some(PracticeCommand::ServePractice(serve)) => {
            let options = StartOptions {
                port: serve.port,
                speed: serve.speed,
            };
            runtime
                .block_on(Practice::at(serve.dir).serve(options))
                .map_err(practice_error)?;
            Ok(ExitCode::from(EXIT_OK))
        }
        Some(command) => {
            let state_dir = crate::runner::progress::state_dir().map_err(anyhow::Error::from)?;
            let practice = Practice::new(&state_dir);
            runtime.block_on(manage(&practice, command))
        }
    }
}

async fn manage(practice: &Practice, command: PracticeCommand) -> Result<ExitCode, Error> {
    match command {
        PracticeCommand::Start(args) => start(practice, &args).await,
        PracticeCommand::Stop => {
            match practice.stop().await.map_err(practice_error)? {
                Some(pid) => println!(
                    "Stopped the practice cluster {} (pid {pid}); its objects stay in {} for the next start.",
                    practice::CONTEXT,
                    practice.dir().display()
                ),
                None => println!("The practice cluster {} is not running.", practice::CONTEXT),
            }
            Ok(ExitCode::from(EXIT_OK))
        }
        PracticeCommand::Status => Ok(status(practice)),
        PracticeCommand::Delete => {
            let existed = practice.dir().exists();
            let cleaned = practice.delete().await.map_err(practice_error)?;
            if existed {
                println!(
                    "Deleted the practice cluster {} and its folder {}.",
                    practice::CONTEXT,
                    practice.dir().display()
                );
            } else {
                println!("There is no practice cluster to delete.");
            }
            if let Some(path) = cleaned {
                println!(
                    "Removed its context {} from {}.",
                    practice::CONTEXT,
                    path.display()
                );
            }
            Ok(ExitCode::from(EXIT_OK))
        }
        PracticeCommand::ServePractice(_) => {
            Err(Error::Usage("serve-practice is kubetutor's own".to_owned()))
        }
    }
}

async fn start(practice: &Practice, args: &PracticeStartArgs) -> Result<ExitCode, Error> {
    if args.speed.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        return Err(Error::Usage("--speed must be a positive number".to_owned()));
    }
    let options = StartOptions {
        port: args.port,
        speed: args.speed,
    };
    let ensured = practice
        .ensure_running(options)
        .await
        .map_err(practice_error)?;
    let running = &ensured.running;
    if ensured.started {
        println!(
            "Started the practice cluster {} at {} (pid {}).",
            practice::CONTEXT,
            running.server,
            running.pid
        );
    } else {
        println!(
            "The practice cluster {} is already running at {} (pid {}).",
            practice::CONTEXT,
            running.server,
            running.pid
        );
        if let Some(port) = args
            .port
            .filter(|p| !running.server.ends_with(&format!(":{p}")))
        {
            println!("It keeps its port; `kubetutor sandbox stop` first to move it to {port}.");
        }
    }
    if args.no_kubeconfig_update {
        println!(
            "Your kubeconfig is left as it is; point kubectl at it with:\n\n    export KUBECONFIG={}\n",
            shell_quote(&practice.kubeconfig().display().to_string())
        );
    } else {
        let path = practice::kubeconfig::user_kubeconfig().ok_or_else(|| {
            Error::Usage("no home folder for ~/.kube/config; set KUBECONFIG".to_owned())
        })?;
        let merged = practice.merge_into(&path).map_err(practice_error)?;
        println!("{}", practice::merge_note(&merged));
    }
    println!("{}.", capitalise(practice::STOP_HINT));
    Ok(ExitCode::from(EXIT_OK))
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn status(practice: &Practice) -> ExitCode {
    let Some(running) = practice.status() else {
        if practice.dir().exists() {
            println!(
                "The practice cluster {} is not running (its state is in {}); `kubetutor sandbox start` starts it.",
                practice::CONTEXT,
                practice.dir().display()
            );
        } else {
            println!("There is no practice cluster; `kubetutor sandbox start` makes one.");
        }
        return ExitCode::from(EXIT_CLUSTER);
    };
    println!("The practice cluster {} is running.", practice::CONTEXT);
    println!("  server:  {}", running.server);
    println!("  pid:     {}", running.pid);
    println!("  state:   {}", practice.dir().display());
    if let Some(uptime) = running.since.and_then(|t| t.elapsed().ok()) {
        let secs = i64::try_from(uptime.as_secs()).unwrap_or(i64::MAX);
        println!(
            "  uptime:  {}",
            crate::sandbox::print::table::human_duration(secs)
        );
    }
    // Read from the saved state, which a just-started cluster may not have written yet.
    match practice.object_count() {
        Some(count) => println!("  objects: {count}"),
        None => println!("  objects: none saved yet"),
    }
    ExitCode::from(EXIT_OK)
}

/// A practice cluster that cannot be started or reached is "no cluster" (exit 3); its own
/// files and the kubeconfig are kubetutor's own work (exit 4).
pub fn practice_error(err: PracticeError) -> Error {
    match err {
        PracticeError::Io { .. } | PracticeError::Kubeconfig(_) => Error::Other(err.into()),
        _ => Error::cluster(err),
    }
}

/// Starts the sandbox, prints how to point kubectl at it, and serves until Ctrl-C.
async fn serve_foreground(args: SandboxArgs, console: &Console) -> Result<ExitCode, Error> {
    if !args.listen.ip().is_loopback() {
        return Err(Error::Usage(format!(
            "--listen {} is not a loopback address; the sandbox only listens on 127.0.0.1 or ::1",
            args.listen
        )));
    }
    let images = match &args.lesson {
        None => Vec::new(),
        Some(path) => {
            let loaded = super::choose::named_or_file(path, Path::new(super::choose::LESSONS_DIR))
                .load()
                .map_err(|err| super::lesson_error(&err, console))?;
            loaded.lesson.sandbox.apps()
        }
    };
    let config = SandboxConfig {
        listen: args.listen,
        kubeconfig: args.kubeconfig,
        state: args.state,
        images,
        ..SandboxConfig::default()
    };
    // Listening before saying "Press Ctrl-C", so a Ctrl-C right after it still stops the
    // sandbox cleanly instead of killing the process.
    let mut interrupt = tokio::signal::unix::signal(SignalKind::interrupt())
        .context("failed to listen for Ctrl-C")?;
    let sandbox = Sandbox::start(config)
        .await
        .context("failed to start the sandbox")
        .map_err(Error::cluster)?;
    println!("kubetutor sandbox serving at {}", sandbox.server_url());
    println!("export KUBECONFIG={}", sandbox.kubeconfig_path().display());
    println!("Press Ctrl-C to stop.");
    interrupt.recv().await;
    sandbox.shutdown().await;
    eprintln!("sandbox stopped");
    Ok(ExitCode::from(EXIT_OK))
}
