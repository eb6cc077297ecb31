//! Choosing a kubeconfig context, building a client, and checking that the cluster answers.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::cluster::{Cluster, ClusterError, describe_error};

/// How long the first "are you there" request may take.
pub const REACHABLE_TIMEOUT: Duration = Duration::from_secs(3);

/// Which cluster to talk to; both unset means the current context of the usual kubeconfig.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterChoice {
    /// Context name; the kubeconfig's current context when unset.
    pub context: Option<String>,
    /// Kubeconfig file; `$KUBECONFIG` (which may list several files) or `~/.kube/config` when unset.
    pub kubeconfig: Option<PathBuf>,
}

/// Context names of local, throwaway clusters where a lesson may run without asking.
pub fn is_practice_context(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "minikube",
        "docker-desktop",
        "docker-for-desktop",
        "rancher-desktop",
        "orbstack",
        "colima",
        "microk8s",
        "kubetutor-sandbox",
    ];
    const PREFIXES: &[&str] = &["kind-", "k3d-", "kubetutor-", "colima-"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Whether a server URL points at this machine (kind, k3d and the sandbox all listen there).
pub fn is_loopback_server(server: &str) -> bool {
    let Ok(uri) = server.parse::<hyper::Uri>() else {
        return false;
    };
    match uri.host() {
        Some(host) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// Loads the kubeconfig, builds a client for the chosen context and checks that it answers
/// `GET /version` within [`REACHABLE_TIMEOUT`].
pub async fn connect(choice: ClusterChoice) -> Result<Cluster, ClusterError> {
    let kubeconfig = load_kubeconfig(choice.kubeconfig.as_ref())?;
    let context = match choice
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
    {
        Some(name) if !name.is_empty() => name,
        _ => return Err(ClusterError::NoContext),
    };
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        let mut available: Vec<String> =
            kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
        available.sort();
        return Err(ClusterError::UnknownContext {
            context,
            available: if available.is_empty() {
                "none".to_owned()
            } else {
                available.join(", ")
            },
        });
    }
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| ClusterError::Config {
            context: context.clone(),
            source: Box::new(source),
        })?;
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_owned();
    let namespace = config.default_namespace.clone();
    let client = Client::try_from(config).map_err(|source| ClusterError::Client {
        context: context.clone(),
        source: Box::new(source),
    })?;
    let mut cluster = Cluster::from_parts(client, context, server, namespace);
    cluster.choice = Some(choice);
    cluster.check_reachable().await?;
    Ok(cluster)
}

fn load_kubeconfig(path: Option<&PathBuf>) -> Result<Kubeconfig, ClusterError> {
    if let Some(path) = path {
        if !path.exists() {
            return Err(ClusterError::NoKubeconfig(format!(
                "{} does not exist",
                path.display()
            )));
        }
        return Kubeconfig::read_from(path).map_err(|source| ClusterError::Kubeconfig {
            path: path.display().to_string(),
            source: Box::new(source),
        });
    }
    let from_env = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty());
    let default = dirs::home_dir().map(|h| h.join(".kube").join("config"));
    if from_env.is_none() && !default.as_ref().is_some_and(|p| p.exists()) {
        return Err(ClusterError::NoKubeconfig(
            "KUBECONFIG is not set and ~/.kube/config does not exist".to_owned(),
        ));
    }
    Kubeconfig::read().map_err(|source| ClusterError::Kubeconfig {
        path: from_env.map_or_else(
            || "~/.kube/config".to_owned(),
            |v| v.to_string_lossy().into_owned(),
        ),
        source: Box::new(source),
    })
}

impl Cluster {
    /// Asks the API server for its version; an error says why it does not answer.
    pub async fn check_reachable(&self) -> Result<(), ClusterError> {
        let unreachable = |why: String| ClusterError::Unreachable {
            context: self.context.clone(),
            server: self.server.clone(),
            why,
        };
        match tokio::time::timeout(REACHABLE_TIMEOUT, self.client.apiserver_version()).await {
            Err(_) => Err(unreachable(format!(
                "no answer within {}s",
                REACHABLE_TIMEOUT.as_secs()
            ))),
            Ok(Err(kube::Error::Api(status))) if matches!(status.code, 401 | 403) => {
                Err(ClusterError::Forbidden {
                    context: self.context.clone(),
                    why: format!("{} {}", status.code, status.reason),
                })
            }
            Ok(Err(err)) => Err(unreachable(describe_error(&err))),
            Ok(Ok(_)) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn practice_contexts_are_recognised() {
        for name in [
            "kind-kind",
            "kind-lab",
            "minikube",
            "k3d-dev",
            "docker-desktop",
            "rancher-desktop",
            "kubetutor-sandbox",
            "orbstack",
        ] {
            assert!(is_practice_context(name), "{name}");
        }
        for name in [
            "prod",
            "gke_project_europe-west1_main",
            "arn:aws:eks:eu-west-1:1:cluster/x",
            "kindly",
            "",
        ] {
            assert!(!is_practice_context(name), "{name}");
        }
    }

    #[test]
    fn loopback_servers_are_recognised() {
        assert!(is_loopback_server("https://127.0.0.1:6443"));
        assert!(is_loopback_server("https://localhost:40000"));
        assert!(is_loopback_server("https://[::1]:6443"));
        assert!(!is_loopback_server("https://10.0.0.1:6443"));
        assert!(!is_loopback_server("https://api.example.com"));
        assert!(!is_loopback_server("not a url"));
    }

    fn kubeconfig(dir: &std::path::Path, server: &str) -> PathBuf {
        let path = dir.join("config");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: lab\nclusters:\n- name: lab\n  cluster:\n    server: {server}\n\
                 contexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\nusers:\n- name: lab\n  user:\n    token: secret-token-value\n"
            ),
        )
        .unwrap();
        path
    }

    #[tokio::test]
    async fn a_closed_port_is_reported_without_the_token() {
        // Bind then drop a listener so the port is (almost certainly) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let path = kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"));
        let err = connect(ClusterChoice {
            context: None,
            kubeconfig: Some(path),
        })
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "context lab does not answer at http://127.0.0.1:{port}"
            )),
            "{text}"
        );
        assert!(text.contains("connection refused"), "{text}");
        assert!(!format!("{err:?}").contains("secret-token-value"));
    }

    #[tokio::test]
    async fn unknown_contexts_and_missing_files_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = kubeconfig(dir.path(), "http://127.0.0.1:1");
        let err = connect(ClusterChoice {
            context: Some("prod".into()),
            kubeconfig: Some(path),
        })
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no context named prod in the kubeconfig (it has: lab)"
        );
        let err = connect(ClusterChoice {
            context: None,
            kubeconfig: Some(dir.path().join("nope")),
        })
        .await
        .unwrap_err();
        assert!(err.to_string().starts_with("no kubeconfig found"), "{err}");
        // Falling back to the sandbox for want of a kubeconfig is not a failure to reach one.
        assert!(
            err.sandbox_reason()
                .starts_with("No cluster is configured (")
        );
        let missing = ClusterError::NoKubeconfig("x".into());
        assert!(!missing.sandbox_reason().contains("start a local cluster"));
    }
}
