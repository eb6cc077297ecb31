//! The cluster one lesson is checked on: a fresh in-process sandbox, or a fresh namespace on a
//! kubeconfig context, with a private kubeconfig whose context namespace is that namespace, so
//! solution commands without `-n` land there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cluster::kubeconfig::{self, KubeconfigCopyError};
use crate::cluster::{Chosen, Cluster, ClusterChoice, ClusterError, connect};
use crate::lesson::Lesson;
use crate::rehearsal::RehearsalError;
use crate::sandbox::{Sandbox, SandboxConfig};

/// Simulation speed in check mode: rollouts take a fraction of a second per pod, yet every
/// intermediate state (Pending, ContainerCreating, old pods terminating) still shows.
pub const CHECK_SPEED: f64 = 8.0;
/// How long creating (or waiting for a terminating copy of) the namespace may take.
const NAMESPACE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long deleting the namespace afterwards may take.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(120);

/// A cluster ready for one lesson; [`LessonCluster::finish`] cleans up after it.
pub struct LessonCluster {
    /// The cluster.
    pub cluster: Cluster,
    /// Kubeconfig for solution commands.
    pub kubeconfig: PathBuf,
    /// Namespace the lesson runs in.
    pub namespace: String,
    /// Where the lesson runs, for humans: `sandbox` or `context kind-kind`.
    pub description: String,
    sandbox: Option<Sandbox>,
    fresh_namespace: bool,
    dir: PrivateDir,
}

impl LessonCluster {
    /// Prepares a clean cluster for `lesson` on the chosen one: a fresh sandbox, or a fresh
    /// namespace on the context.
    pub async fn prepare(
        chosen: &Chosen,
        lesson: &Lesson,
    ) -> Result<LessonCluster, RehearsalError> {
        let dir = PrivateDir::create()?;
        match chosen {
            Chosen::Sandbox { .. } => LessonCluster::sandbox(lesson, dir).await,
            Chosen::Context { cluster, .. } => {
                LessonCluster::context(cluster.clone(), lesson, dir).await
            }
        }
    }

    async fn sandbox(lesson: &Lesson, dir: PrivateDir) -> Result<LessonCluster, RehearsalError> {
        let kubeconfig = dir.path.join("kubeconfig");
        let sandbox = Sandbox::start(SandboxConfig {
            kubeconfig: Some(kubeconfig.clone()),
            state: None,
            images: lesson.sandbox.apps(),
            speed: CHECK_SPEED,
            ..SandboxConfig::default()
        })
        .await
        .map_err(|source| RehearsalError::Sandbox(Box::new(source)))?;
        let cluster = match connect(ClusterChoice {
            context: None,
            kubeconfig: Some(kubeconfig.clone()),
        })
        .await
        {
            Ok(cluster) => cluster,
            Err(source) => {
                sandbox.shutdown().await;
                return Err(RehearsalError::Cluster(Box::new(source)));
            }
        };
        let namespace = lesson.namespace.clone();
        // Solution commands without `-n` must land in the lesson's namespace.
        let solutions = dir.path.join("solutions.kubeconfig");
        write_kubeconfig(Some(&kubeconfig), &solutions, cluster.context(), &namespace)?;
        let kubeconfig = solutions;
        cluster
            .ensure_namespace(&namespace, NAMESPACE_TIMEOUT)
            .await
            .map_err(|source| RehearsalError::Cluster(Box::new(source)))?;
        Ok(LessonCluster {
            cluster,
            kubeconfig,
            namespace,
            description: "a fresh embedded sandbox".to_owned(),
            sandbox: Some(sandbox),
            fresh_namespace: false,
            dir,
        })
    }

    async fn context(
        cluster: Cluster,
        lesson: &Lesson,
        dir: PrivateDir,
    ) -> Result<LessonCluster, RehearsalError> {
        let namespace = fresh_namespace(&lesson.namespace);
        let kubeconfig = dir.path.join("kubeconfig");
        write_kubeconfig(None, &kubeconfig, cluster.context(), &namespace)?;
        cluster
            .ensure_namespace(&namespace, NAMESPACE_TIMEOUT)
            .await
            .map_err(|source| match source {
                ClusterError::NotPermitted { .. } => RehearsalError::FreshNamespace {
                    namespace: namespace.clone(),
                    source: Box::new(source),
                },
                other => RehearsalError::Cluster(Box::new(other)),
            })?;
        Ok(LessonCluster {
            description: format!("context {} ({})", cluster.context(), cluster.server()),
            cluster,
            kubeconfig,
            namespace,
            sandbox: None,
            fresh_namespace: true,
            dir,
        })
    }

    /// What [`LessonCluster::finish`] does, for humans: `deleting namespace x on context y`.
    pub fn cleanup(&self) -> String {
        if self.fresh_namespace {
            format!(
                "deleting namespace {} on context {}",
                self.namespace,
                self.cluster.context()
            )
        } else {
            "stopping the embedded sandbox".to_owned()
        }
    }

    /// What stays behind when [`LessonCluster::finish`] does not run to its end, and how to remove it;
    /// `None` when nothing outlives this process (the embedded sandbox).
    pub fn leftover(&self) -> Option<String> {
        self.fresh_namespace.then(|| {
            format!(
                "left namespace {ns} behind on context {ctx}; delete it with \
                 `kubectl --context {ctx} delete namespace {ns}`",
                ns = self.namespace,
                ctx = self.cluster.context()
            )
        })
    }

    /// Deletes the fresh namespace (waiting for it to go) or stops the sandbox.
    pub async fn finish(self) -> Result<(), RehearsalError> {
        let mut result = Ok(());
        if self.fresh_namespace {
            result = self
                .cluster
                .delete_namespace(&self.namespace, Some(CLEANUP_TIMEOUT))
                .await
                .map_err(|source| RehearsalError::Cluster(Box::new(source)));
        }
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
        drop(self.dir);
        result
    }
}

/// `<lesson namespace>-check-<6 random chars>`, cut to fit the 63-character limit.
pub fn fresh_namespace(base: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let suffix: String = (0..6)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    let base: String = base
        .chars()
        .take(63 - "-check-".len() - suffix.len())
        .collect();
    format!("{}-check-{suffix}", base.trim_end_matches('-'))
}

/// A private kubeconfig for solution commands on a cluster that is already in use: the one of
/// `source` (a file, or the user's kubeconfig when `None`) with `context` current and
/// `namespace` as its namespace. Removed when dropped.
pub struct SolutionKubeconfig {
    /// The kubeconfig file.
    pub path: PathBuf,
    _dir: PrivateDir,
}

impl SolutionKubeconfig {
    /// Writes it: only that context, its cluster and its user.
    pub fn write(
        source: Option<&Path>,
        context: &str,
        namespace: &str,
    ) -> Result<SolutionKubeconfig, RehearsalError> {
        let dir = PrivateDir::create()?;
        let path = dir.path.join("kubeconfig");
        write_kubeconfig(source, &path, context, namespace)?;
        Ok(SolutionKubeconfig { path, _dir: dir })
    }
}

/// Writes to `path` (owner-only: it holds credentials) a kubeconfig holding only `context` of
/// `source` (the user's kubeconfig when `None`), with `namespace` as its namespace.
fn write_kubeconfig(
    source: Option<&Path>,
    path: &Path,
    context: &str,
    namespace: &str,
) -> Result<(), RehearsalError> {
    let fail = |err: KubeconfigCopyError| RehearsalError::Kubeconfig(err.to_string());
    let (config, context) = kubeconfig::pick_context(source, Some(context)).map_err(fail)?;
    let yaml = kubeconfig::single_context(&config, &context, Some(namespace)).map_err(fail)?;
    crate::files::write_atomic(path, yaml.as_bytes(), 0o600)
        .map_err(|err| RehearsalError::Kubeconfig(err.to_string()))
}

/// A temporary directory only this user can read, removed when dropped.
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn create() -> Result<PrivateDir, RehearsalError> {
        use rand::Rng;
        let name = format!(
            "kubetutor-check-{}-{:08x}",
            std::process::id(),
            rand::rng().random::<u32>()
        );
        let path = std::env::temp_dir().join(name);
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path).map_err(|err| {
            RehearsalError::Kubeconfig(format!("failed to create {}: {err}", path.display()))
        })?;
        Ok(PrivateDir { path })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_namespaces_are_valid_and_distinct() {
        let a = fresh_namespace("default");
        let b = fresh_namespace("default");
        assert!(a.starts_with("default-check-"), "{a}");
        assert_ne!(a, b);
        let long = fresh_namespace(&"x".repeat(80));
        assert!(long.len() <= 63, "{long}");
        crate::k8s::names::validate_label(&long).expect("a valid namespace name");
    }
}
