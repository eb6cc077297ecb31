//! Which cluster a run uses: `--sandbox`, `--context`, or the current context if it answers,
//! else the embedded sandbox; with a question before using a cluster that is not a practice one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::RunArgs;
use crate::cluster::{Cluster, ClusterChoice, connect as connect_cluster};
use crate::commands::run::Mode;
use crate::error::Error;
use crate::lesson::Lesson;
use crate::runner::live::LiveSource;
use crate::sandbox::{Sandbox, SandboxConfig};

/// How long to wait for the lesson's namespace to be created.
const NAMESPACE_TIMEOUT: Duration = Duration::from_secs(30);

/// The cluster a run uses, and the sandbox behind it if one was started.
pub struct Session {
    /// Goal statuses from that cluster.
    pub source: LiveSource,
    sandbox: Option<Sandbox>,
}

impl Session {
    /// Stops the sandbox, if this run started one (its state stays on disk).
    pub async fn shutdown(self) {
        drop(self.source);
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
    }
}

/// Where a lesson's sandbox keeps its kubeconfig and objects.
pub fn sandbox_dir(state_dir: &Path, lesson_key: &str) -> PathBuf {
    state_dir.join("sandbox").join(lesson_key)
}

/// Picks the cluster (`--sandbox`, `--context`, or the current context if it answers, else
/// the sandbox), asks before using a cluster that does not look like a practice one, and
/// creates the lesson's namespace.
pub async fn connect(
    args: &RunArgs,
    lesson: &Lesson,
    namespace: &str,
    sandbox_dir: &Path,
    mode: Mode,
) -> Result<Session, Error> {
    let (cluster, sandbox) = if args.sandbox {
        start_sandbox(lesson, sandbox_dir, args.reset, mode).await?
    } else if let Some(context) = &args.context {
        let cluster = connect_cluster(ClusterChoice {
            context: Some(context.clone()),
            kubeconfig: None,
        })
        .await
        .map_err(|err| Error::Other(anyhow::Error::new(err)))?;
        (cluster, None)
    } else {
        match connect_cluster(ClusterChoice::default()).await {
            Ok(cluster) => (cluster, None),
            Err(err) => {
                mode.say(&format!(
                    "{}; starting the embedded sandbox.",
                    err.sandbox_reason()
                ));
                start_sandbox(lesson, sandbox_dir, args.reset, mode).await?
            }
        }
    };
    if sandbox.is_none() {
        confirm_cluster(&cluster, args, mode).await?;
        mode.say(&format!(
            "Using context {} ({}), namespace {namespace}.",
            cluster.context(),
            cluster.server()
        ));
    }
    let created = cluster
        .ensure_namespace(namespace, NAMESPACE_TIMEOUT)
        .await
        .map_err(|err| Error::Other(anyhow::Error::new(err)))?;
    if created {
        mode.say(&format!("Created namespace {namespace}."));
    }
    Ok(Session {
        source: LiveSource::new(cluster, namespace.to_owned()),
        sandbox,
    })
}

/// Starts this lesson's sandbox from its saved state, or empty when `fresh` (`--reset`: the
/// sandbox is kubetutor's own, so starting over means starting from an empty cluster).
async fn start_sandbox(
    lesson: &Lesson,
    dir: &Path,
    fresh: bool,
    mode: Mode,
) -> Result<(Cluster, Option<Sandbox>), Error> {
    let kubeconfig = dir.join("kubeconfig");
    let state = dir.join("state.json");
    if fresh {
        match std::fs::remove_file(&state) {
            Ok(()) => mode.say("Sandbox reset: its objects from earlier runs are gone."),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(Error::Other(anyhow::Error::new(err).context(format!(
                    "failed to remove the sandbox's saved state {}",
                    state.display()
                ))));
            }
        }
    }
    let config = SandboxConfig {
        kubeconfig: Some(kubeconfig.clone()),
        state: Some(state),
        images: lesson.sandbox.apps(),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config)
        .await
        .map_err(|err| Error::Other(anyhow::Error::new(err)))?;
    let cluster = connect_cluster(ClusterChoice {
        context: None,
        kubeconfig: Some(kubeconfig.clone()),
    })
    .await;
    let cluster = match cluster {
        Ok(cluster) => cluster,
        Err(err) => {
            sandbox.shutdown().await;
            return Err(Error::Other(anyhow::Error::new(err)));
        }
    };
    mode.say(&format!(
        "The embedded sandbox cluster is running. In a second terminal, paste:\n\n    export KUBECONFIG={}\n",
        crate::runner::ui::screen::shell_quote(&kubeconfig.display().to_string())
    ));
    Ok((cluster, Some(sandbox)))
}

async fn confirm_cluster(cluster: &Cluster, args: &RunArgs, mode: Mode) -> Result<(), Error> {
    if cluster.is_practice() || args.yes {
        return Ok(());
    }
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
