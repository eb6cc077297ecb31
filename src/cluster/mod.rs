//! The only user of `kube::Client`: which cluster to use, context choice, watches with backoff and timeouts, and the
//! few direct requests (HTTP probes through the service proxy, namespaces, events).
//!
//! Nothing here prompts or prints. Credentials never leave the client: `Cluster`'s `Debug`
//! shows the context and server only, and error texts come from connection failures and API
//! statuses, which never carry the token.

mod choose;
mod connect;
pub mod kubeconfig;
mod probe;
mod resources;
mod watch;

use std::fmt;

use kube::Client;

pub use choose::{Chosen, ClusterRequest, choose};
pub use connect::{
    ClusterChoice, REACHABLE_TIMEOUT, connect, is_loopback_server, is_practice_context,
};
pub use probe::{PROBE_TIMEOUT, PodState};
pub use resources::{api_resource, static_api_resource};
pub use watch::{ClusterEvent, WatchSet};

/// A connected cluster: a client plus where it points.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    context: String,
    server: String,
    default_namespace: String,
    /// How this cluster was chosen, so it can be connected again with fresh credentials.
    choice: Option<ClusterChoice>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("context", &self.context)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Wraps an already built client (tests, and the in-process sandbox).
    pub fn from_parts(
        client: Client,
        context: String,
        server: String,
        default_namespace: String,
    ) -> Self {
        Cluster {
            client,
            context,
            server,
            default_namespace,
            choice: None,
        }
    }

    /// Connects again the way this cluster was first connected (re-reading the kubeconfig,
    /// which a restarted sandbox rewrites with new credentials); `None` for a cluster built
    /// with [`Cluster::from_parts`].
    pub async fn reconnect(&self) -> Option<Result<Cluster, ClusterError>> {
        let choice = self.choice.clone()?;
        Some(connect(choice).await)
    }

    /// The kubeconfig context in use.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The kubeconfig file this cluster was read from, when one was named (`None`:
    /// `$KUBECONFIG` or `~/.kube/config`, or a cluster built from parts).
    pub fn kubeconfig_path(&self) -> Option<&std::path::Path> {
        self.choice.as_ref()?.kubeconfig.as_deref()
    }

    /// The API server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The context's default namespace.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// Whether this looks like a local practice cluster: a known practice context name, or an
    /// API server on this machine.
    pub fn is_practice(&self) -> bool {
        is_practice_context(&self.context) || is_loopback_server(&self.server)
    }

    /// The underlying client, for tests that set up cluster state.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Why talking to a cluster failed; messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No kubeconfig file to read.
    #[error("no kubeconfig found: {0}; start a local cluster (kind, minikube) or use the sandbox")]
    NoKubeconfig(String),
    /// The kubeconfig file is unreadable or malformed.
    #[error("failed to read the kubeconfig {path}")]
    Kubeconfig {
        /// File (or `$KUBECONFIG` list) read.
        path: String,
        /// The parse or IO error.
        #[source]
        source: Box<kube::config::KubeconfigError>,
    },
    /// No context given and none is current.
    #[error(
        "no current context in the kubeconfig; pass --context or run `kubectl config use-context NAME`"
    )]
    NoContext,
    /// The named context does not exist.
    #[error("no context named {context} in the kubeconfig (it has: {available})")]
    UnknownContext {
        /// The context asked for.
        context: String,
        /// The contexts that exist.
        available: String,
    },
    /// The context's settings cannot be turned into a client configuration.
    #[error("failed to use context {context}")]
    Config {
        /// The context.
        context: String,
        /// Why.
        #[source]
        source: Box<kube::config::KubeconfigError>,
    },
    /// The client could not be built (TLS settings, proxy...).
    #[error("failed to build a client for context {context}")]
    Client {
        /// The context.
        context: String,
        /// Why.
        #[source]
        source: Box<kube::Error>,
    },
    /// The API server does not answer.
    #[error("context {context} does not answer at {server}: {why}")]
    Unreachable {
        /// The context.
        context: String,
        /// The API server URL.
        server: String,
        /// Root cause in a few words, e.g. `connection refused`.
        why: String,
    },
    /// The API server refuses our credentials.
    #[error(
        "context {context} rejected our credentials ({why}); log in again with your cluster's tool"
    )]
    Forbidden {
        /// The context.
        context: String,
        /// Status code and reason.
        why: String,
    },
    /// A kind the lesson names is not served by this cluster.
    #[error("failed to find {kind} ({api_version}) on this cluster: {why}")]
    UnknownKind {
        /// apiVersion asked for.
        api_version: String,
        /// Kind asked for.
        kind: String,
        /// Why discovery did not find it.
        why: String,
    },
    /// The credentials may not do what was asked (RBAC refused it).
    #[error("not permitted to {action}: {why}")]
    NotPermitted {
        /// What was being done, e.g. `create namespace lab`.
        action: String,
        /// The server's refusal, which names the user and the missing permission.
        why: String,
    },
    /// A request to the API failed.
    #[error("failed to {action}: {why}")]
    Request {
        /// What was being done, e.g. `create namespace lab`.
        action: String,
        /// Root cause in a few words.
        why: String,
    },
    /// Waiting for the watches' first lists took too long.
    #[error("failed to list the objects to watch within {0}s")]
    SyncTimeout(u64),
}

impl ClusterError {
    /// Why kubetutor falls back to the embedded sandbox, for the line that says it does.
    pub fn sandbox_reason(&self) -> String {
        match self {
            ClusterError::NoKubeconfig(why) => format!("No cluster is configured ({why})"),
            other => format!("No kubeconfig context answers ({other})"),
        }
    }
}

/// The most useful words of an error chain: a known IO failure in plain words, else the
/// innermost message (outer layers only repeat "failed to ...").
pub(crate) fn describe_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut last = err.to_string();
    while let Some(e) = current {
        // An IO error may wrap another (`io::Error::other(err)`), whose kind is the one that
        // says what happened; `source()` skips the wrapped error itself, `get_ref()` does not.
        let mut io = e.downcast_ref::<std::io::Error>();
        while let Some(inner) = io
            .filter(|io| io.kind() == std::io::ErrorKind::Other)
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<std::io::Error>())
        {
            io = Some(inner);
        }
        if let Some(io) = io {
            use std::io::ErrorKind as K;
            let plain = match io.kind() {
                K::ConnectionRefused => Some("connection refused"),
                K::ConnectionReset => Some("connection reset"),
                K::ConnectionAborted => Some("connection aborted"),
                // rustls reports a peer that hung up mid-TLS (no close_notify) this way.
                K::UnexpectedEof => Some("connection closed"),
                K::TimedOut => Some("timed out"),
                K::NotFound => Some("not found"),
                K::AddrNotAvailable => Some("address not available"),
                _ => None,
            };
            if let Some(plain) = plain {
                return plain.to_owned();
            }
        }
        if let Some(kube::Error::Api(status)) = e.downcast_ref::<kube::Error>() {
            return format!("{} {}: {}", status.code, status.reason, status.message);
        }
        last = e.to_string();
        current = e.source();
    }
    // Some TLS stacks hide the IO error behind their own type; their message still says it.
    if last.contains("close_notify") {
        return "connection closed".to_owned();
    }
    last
}

#[cfg(test)]
mod describe_tests {
    use super::describe_error;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to watch")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_peer_hanging_up_mid_tls_reads_as_connection_closed() {
        let eof = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "peer closed connection without sending TLS close_notify",
        );
        assert_eq!(describe_error(&Outer(eof)), "connection closed");
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(describe_error(&Outer(refused)), "connection refused");
    }

    #[test]
    fn an_io_error_wrapped_in_another_is_named_by_the_inner_kind() {
        // As the OS reports it: "Connection reset by peer (os error 104)".
        let reset = std::io::Error::from_raw_os_error(104);
        let wrapped = std::io::Error::other(reset);
        assert_eq!(describe_error(&Outer(wrapped)), "connection reset");
    }
}
