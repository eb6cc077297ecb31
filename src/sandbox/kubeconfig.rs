//! The kubeconfig that points kubectl and kube-rs at a running sandbox.

use std::path::{Path, PathBuf};

use base64::Engine;

/// Name of the context, cluster and user in the written kubeconfig.
pub const CONTEXT: &str = "kubetutor-sandbox";

/// Why the kubeconfig could not be written.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// The directory or file could not be written.
    #[error("failed to write the kubeconfig {path}")]
    Write {
        /// The file we tried to write.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// Renders the kubeconfig YAML for a sandbox at `server` (an https URL).
pub fn render(server: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {CONTEXT}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {CONTEXT}\n  user:\n    token: {token}\ncontexts:\n- name: {CONTEXT}\n  context:\n    cluster: {CONTEXT}\n    user: {CONTEXT}\n    namespace: default\ncurrent-context: {CONTEXT}\npreferences: {{}}\n"
    )
}

/// Writes the kubeconfig atomically with owner-only permissions (it holds the token).
pub fn write(path: &Path, contents: &str) -> Result<(), KubeconfigError> {
    crate::sandbox::write_private(path, contents.as_bytes()).map_err(|source| {
        KubeconfigError::Write {
            path: path.to_owned(),
            source,
        }
    })
}

/// Where the kubeconfig goes when the user does not say: the XDG state directory.
pub fn default_path() -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("kubetutor")
        .join("sandbox")
        .join("kubeconfig")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_parseable_kubeconfig() {
        /// The parts of a kubeconfig a client needs here.
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "kebab-case")]
        struct Config {
            current_context: String,
            users: Vec<Named<User>>,
            clusters: Vec<Named<Cluster>>,
        }
        #[derive(serde::Deserialize)]
        struct Named<T> {
            user: Option<T>,
            cluster: Option<T>,
        }
        #[derive(serde::Deserialize)]
        struct User {
            token: String,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "kebab-case")]
        struct Cluster {
            certificate_authority_data: String,
        }
        let text = render("https://127.0.0.1:6443", "PEM", "tok");
        let parsed: Config = serde_yaml::from_str(&text).expect("a kubeconfig");
        assert_eq!(parsed.current_context, CONTEXT);
        let user = parsed.users.first().and_then(|u| u.user.as_ref());
        assert_eq!(user.map(|u| u.token.as_str()), Some("tok"));
        let cluster = parsed.clusters.first().and_then(|c| c.cluster.as_ref());
        assert_eq!(
            cluster.map(|c| c.certificate_authority_data.as_str()),
            Some("UEVN")
        );
    }
}
