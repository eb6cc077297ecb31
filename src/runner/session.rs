//! The cluster a run works on, once chosen (`cluster::choose`) and agreed to: this lesson's
//! embedded sandbox started from its saved state, or a kubeconfig context; either way with the
//! lesson's namespace created. Nothing here prompts or prints: what opening did is returned,
//! for the command to tell the learner.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cluster::{Cluster, ClusterChoice, ClusterError, connect};
use crate::lesson::Lesson;
use crate::runner::live::LiveSource;
use crate::sandbox::{Sandbox, SandboxConfig, SandboxError};

/// How long to wait for the lesson's namespace to be created.
const NAMESPACE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a run works.
#[derive(Debug)]
pub enum Place {
    /// This lesson's embedded sandbox, keeping its kubeconfig and objects in `dir`.
    Sandbox {
        /// The sandbox's folder ([`sandbox_dir`]).
        dir: PathBuf,
        /// Start from an empty cluster (`--reset`) instead of the saved objects.
        fresh: bool,
    },
    /// A connected kubeconfig context.
    Cluster(Cluster),
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// `--reset` could not remove the sandbox's saved objects.
    #[error("failed to remove the sandbox's saved state {}", path.display())]
    ResetState {
        /// The state file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The embedded sandbox did not start.
    #[error("failed to start the embedded sandbox")]
    Sandbox(#[source] SandboxError),
    /// The cluster could not be reached, or the namespace not created.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// The embedded sandbox a run started, for the line (or event) telling kubectl where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInfo {
    /// Its kubeconfig file.
    pub kubeconfig: PathBuf,
    /// Its context.
    pub context: String,
    /// Its API server URL.
    pub server: String,
}

/// What opening the session did, for the command to say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opened {
    /// The sandbox started, if the run works there.
    pub sandbox: Option<SandboxInfo>,
    /// `--reset` removed the sandbox's objects from earlier runs.
    pub sandbox_reset: bool,
    /// The lesson's namespace did not exist and was created.
    pub namespace_created: bool,
}

/// The cluster a run uses, and the sandbox behind it if one was started.
pub struct RunCluster {
    /// Goal statuses from that cluster.
    pub source: LiveSource,
    /// What opening did.
    pub opened: Opened,
    /// The cluster itself, for work beside the goals (setting up earlier steps).
    pub cluster: Cluster,
    sandbox: Option<Sandbox>,
}

impl RunCluster {
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

/// Opens the session at `place`: starts the sandbox there if it is one, then creates the
/// lesson's namespace.
pub async fn open(
    place: Place,
    lesson: &Lesson,
    namespace: &str,
) -> Result<RunCluster, SessionError> {
    let mut opened = Opened::default();
    let (cluster, sandbox) = match place {
        Place::Cluster(cluster) => (cluster, None),
        Place::Sandbox { dir, fresh } => {
            let (cluster, sandbox, reset) = start_sandbox(lesson, &dir, fresh).await?;
            opened.sandbox_reset = reset;
            opened.sandbox = Some(SandboxInfo {
                kubeconfig: sandbox.kubeconfig_path().to_owned(),
                context: cluster.context().to_owned(),
                server: cluster.server().to_owned(),
            });
            (cluster, Some(sandbox))
        }
    };
    match cluster.ensure_namespace(namespace, NAMESPACE_TIMEOUT).await {
        Ok(created) => opened.namespace_created = created,
        Err(err) => {
            if let Some(sandbox) = sandbox {
                sandbox.shutdown().await;
            }
            return Err(err.into());
        }
    }
    Ok(RunCluster {
        source: LiveSource::new(cluster.clone(), namespace.to_owned()),
        opened,
        cluster,
        sandbox,
    })
}

/// Starts this lesson's sandbox from its saved state, or empty when `fresh` (`--reset`: the
/// sandbox is kubetutor's own, so starting over means starting from an empty cluster).
/// Returns whether saved objects were removed.
async fn start_sandbox(
    lesson: &Lesson,
    dir: &Path,
    fresh: bool,
) -> Result<(Cluster, Sandbox, bool), SessionError> {
    let kubeconfig = dir.join("kubeconfig");
    let state = dir.join("state.json");
    let mut reset = false;
    if fresh {
        match std::fs::remove_file(&state) {
            Ok(()) => reset = true,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SessionError::ResetState {
                    path: state,
                    source,
                });
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
        .map_err(SessionError::Sandbox)?;
    let cluster = connect(ClusterChoice {
        context: None,
        kubeconfig: Some(kubeconfig),
    })
    .await;
    match cluster {
        Ok(cluster) => {
            tracing::info!(
                "started this lesson's sandbox at {} (state in {})",
                cluster.server(),
                dir.display()
            );
            Ok((cluster, sandbox, reset))
        }
        Err(err) => {
            sandbox.shutdown().await;
            Err(err.into())
        }
    }
}
