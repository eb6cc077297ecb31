//! Which cluster `run` and `check` work on: `--sandbox`, `--context`, or the current context
//! if it answers, else the embedded sandbox. Deciding asks nobody and prints nothing; the
//! commands say what was chosen and ask before using a cluster that is not a practice one.

use crate::cluster::{Cluster, ClusterChoice, ClusterError, connect};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterRequest {
    /// `--sandbox`: the embedded sandbox.
    Sandbox,
    /// `--context NAME`: that context, which must answer.
    Context(String),
    /// Neither: the current context if it answers, else the embedded sandbox.
    Current,
}

impl ClusterRequest {
    /// The request the `--sandbox` and `--context` flags make (clap keeps them exclusive).
    pub fn from_flags(sandbox: bool, context: Option<&str>) -> Self {
        match (sandbox, context) {
            (true, _) => ClusterRequest::Sandbox,
            (false, Some(context)) => ClusterRequest::Context(context.to_owned()),
            (false, None) => ClusterRequest::Current,
        }
    }
}

/// The cluster chosen.
#[derive(Debug, Clone)]
pub enum Chosen {
    /// The embedded sandbox, to be started by the command.
    Sandbox {
        /// Why, when the sandbox was not asked for: no context answered (for the line that
        /// says so).
        fallback: Option<String>,
    },
    /// A kubeconfig context that answers.
    Context {
        /// The connected cluster.
        cluster: Cluster,
        /// It is the current context, not one named with `--context`.
        current: bool,
    },
}

impl Chosen {
    /// Whether lessons may run there without asking: the sandbox, or a context that looks
    /// like a local practice cluster ([`Cluster::is_practice`]).
    pub fn is_practice(&self) -> bool {
        match self {
            Chosen::Sandbox { .. } => true,
            Chosen::Context { cluster, .. } => cluster.is_practice(),
        }
    }
}

/// Decides which cluster to use. A context named with `--context` must answer (its error is
/// returned); the current context falls back to the sandbox when it does not.
pub async fn choose(request: ClusterRequest) -> Result<Chosen, ClusterError> {
    match request {
        ClusterRequest::Sandbox => Ok(Chosen::Sandbox { fallback: None }),
        ClusterRequest::Context(context) => {
            let cluster = connect(ClusterChoice {
                context: Some(context),
                kubeconfig: None,
            })
            .await?;
            Ok(Chosen::Context {
                cluster,
                current: false,
            })
        }
        ClusterRequest::Current => match connect(ClusterChoice::default()).await {
            Ok(cluster) => Ok(Chosen::Context {
                cluster,
                current: true,
            }),
            Err(err) => {
                tracing::info!("the current context is not usable: {err}");
                Ok(Chosen::Sandbox {
                    fallback: Some(err.sandbox_reason()),
                })
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_make_one_request() {
        assert_eq!(
            ClusterRequest::from_flags(true, None),
            ClusterRequest::Sandbox
        );
        assert_eq!(
            ClusterRequest::from_flags(false, Some("kind-a")),
            ClusterRequest::Context("kind-a".to_owned())
        );
        assert_eq!(
            ClusterRequest::from_flags(false, None),
            ClusterRequest::Current
        );
    }

    #[tokio::test]
    async fn the_sandbox_is_always_a_practice_cluster_and_needs_no_connection() {
        let chosen = choose(ClusterRequest::Sandbox)
            .await
            .expect("no connection");
        assert!(matches!(chosen, Chosen::Sandbox { fallback: None }));
        assert!(chosen.is_practice());
    }
}
