//! The cluster a run works on, once chosen (`cluster::choose`) and agreed to: the practice
//! cluster (started if it does not run, and taught the lesson's images), or a kubeconfig
//! context; either way with the lesson's namespace created. Nothing here prompts or prints:
//! what opening did is returned, for the command to tell the learner.

use std::path::PathBuf;
use std::time::Duration;

use crate::cluster::{Cluster, ClusterError};
use crate::lesson::Lesson;
use crate::practice::{Practice, PracticeError, StartOptions};
use crate::runner::live::LiveSource;

/// How often a run checks that the practice cluster still runs (and restarts it if not).
const SUPERVISE_INTERVAL: Duration = Duration::from_secs(1);

/// How long to wait for the lesson's namespace to be created.
const NAMESPACE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a run works.
#[derive(Debug)]
pub enum Place {
    /// The practice cluster, started unless it runs.
    Practice {
        /// Its files.
        practice: Practice,
        /// Start from an empty cluster (`--reset`) instead of the saved objects.
        fresh: bool,
    },
    /// A connected kubeconfig context.
    Cluster(Cluster),
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The practice cluster could not be started, reset or taught the lesson's images.
    #[error(transparent)]
    Practice(#[from] PracticeError),
    /// The cluster could not be reached, or the namespace not created.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// The practice cluster a run works on, for the line (or event) telling kubectl where it is.
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
    /// The practice cluster, if the run works there.
    pub sandbox: Option<SandboxInfo>,
    /// The practice cluster was not running and was started for this run.
    pub sandbox_started: bool,
    /// What its context in the learner's kubeconfig means for kubectl, or why it could not
    /// be added there.
    pub kubeconfig_note: Option<Result<String, String>>,
    /// `--reset` removed the sandbox's objects from earlier runs.
    pub sandbox_reset: bool,
    /// The lesson's namespace did not exist and was created.
    pub namespace_created: bool,
}

/// The cluster a run uses, and the watch keeping the practice cluster up while it does.
pub struct RunCluster {
    /// Goal statuses from that cluster.
    pub source: LiveSource,
    /// What opening did.
    pub opened: Opened,
    /// The cluster itself, for work beside the goals (setting up earlier steps).
    pub cluster: Cluster,
    supervisor: Option<tokio::task::JoinHandle<()>>,
}

impl RunCluster {
    /// Ends the session; the practice cluster keeps running for the learner's terminals.
    pub async fn shutdown(self) {
        drop(self.source);
        if let Some(supervisor) = self.supervisor {
            supervisor.abort();
        }
    }
}

/// Opens the session at `place`: starts the practice cluster if that is the place, then
/// creates the lesson's namespace.
pub async fn open(
    place: Place,
    lesson: &Lesson,
    namespace: &str,
) -> Result<RunCluster, SessionError> {
    let mut opened = Opened::default();
    let (cluster, supervisor) = match place {
        Place::Cluster(cluster) => (cluster, None),
        Place::Practice { practice, fresh } => {
            let cluster = open_practice(&practice, fresh, lesson, &mut opened).await?;
            (cluster, Some(tokio::spawn(supervise(practice))))
        }
    };
    match cluster.ensure_namespace(namespace, NAMESPACE_TIMEOUT).await {
        Ok(created) => opened.namespace_created = created,
        Err(err) => {
            if let Some(supervisor) = supervisor {
                supervisor.abort();
            }
            return Err(err.into());
        }
    }
    Ok(RunCluster {
        source: LiveSource::new(cluster.clone(), namespace.to_owned()),
        opened,
        cluster,
        supervisor,
    })
}

/// Starts the practice cluster unless it runs (empty when `fresh`: `--reset` on kubetutor's
/// own cluster means starting from an empty one), points the learner's kubeconfig at it and
/// teaches it the lesson's images.
async fn open_practice(
    practice: &Practice,
    fresh: bool,
    lesson: &Lesson,
    opened: &mut Opened,
) -> Result<Cluster, SessionError> {
    if fresh {
        opened.sandbox_reset = practice.reset().await?;
    }
    let ensured = practice.ensure_running(StartOptions::default()).await?;
    opened.sandbox_started = ensured.started;
    // The lesson can go on without the merged context (the kubeconfig line still works).
    opened.kubeconfig_note = crate::practice::kubeconfig::user_kubeconfig().map(|path| {
        practice
            .merge_into(&path)
            .map(|merged| crate::practice::merge_note(&merged))
            .map_err(|err| crate::error::chain(&err))
    });
    let cluster = practice.connect().await?;
    practice.teach(&cluster, &lesson.sandbox.apps()).await?;
    tracing::info!(
        "working on the practice cluster at {} (state in {})",
        cluster.server(),
        practice.dir().display()
    );
    opened.sandbox = Some(SandboxInfo {
        kubeconfig: practice.kubeconfig(),
        context: cluster.context().to_owned(),
        server: cluster.server().to_owned(),
    });
    Ok(cluster)
}

/// Restarts the practice cluster whenever it is found dead during the run: it comes back on
/// the same port with the same credentials and objects, and the watches reconnect by
/// themselves.
async fn supervise(practice: Practice) {
    loop {
        tokio::time::sleep(SUPERVISE_INTERVAL).await;
        if practice.status().is_some() {
            continue;
        }
        tracing::warn!("the practice cluster stopped; starting it again");
        if let Err(err) = practice.ensure_running(StartOptions::default()).await {
            tracing::warn!("{}", crate::error::chain(&err));
        }
    }
}
