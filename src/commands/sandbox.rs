//! `kubetutor sandbox`: serve the embedded cluster until Ctrl-C.

use std::process::ExitCode;

use anyhow::Context;
use tokio::signal::unix::SignalKind;

use crate::cli::SandboxArgs;
use crate::error::{EXIT_OK, Error};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::term::Console;

/// Starts the sandbox, prints how to point kubectl at it, and serves until Ctrl-C.
pub fn run(args: SandboxArgs, console: &Console) -> Result<ExitCode, Error> {
    if !args.listen.ip().is_loopback() {
        return Err(Error::Usage(format!(
            "--listen {} is not a loopback address; the sandbox only listens on 127.0.0.1 or ::1",
            args.listen
        )));
    }
    let images = match &args.lesson {
        None => Vec::new(),
        Some(path) => {
            let loaded =
                crate::lesson::load(path).map_err(|err| super::lesson_error(&err, console))?;
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
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async move {
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
        Ok::<_, Error>(ExitCode::from(EXIT_OK))
    })
}
