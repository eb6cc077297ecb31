//! Private kubeconfigs: one context, its cluster and its user copied out of a kubeconfig, with a
//! namespace set, for a connected shell and for solution commands, so `kubectl get pods` looks
//! where the lesson looks and the learner's own files are never written.

use std::path::Path;

use kube::config::Kubeconfig;

/// Why the private kubeconfig could not be made.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigCopyError {
    /// The learner's kubeconfig could not be read.
    #[error("failed to read the kubeconfig {path}")]
    Read {
        /// The file, or `$KUBECONFIG` / `~/.kube/config`.
        path: String,
        /// Why.
        #[source]
        source: Box<kube::config::KubeconfigError>,
    },
    /// No context was named and the kubeconfig has no current one.
    #[error("failed to pick a context: the kubeconfig has no current context; pass --context")]
    NoContext,
    /// The context is not in the kubeconfig.
    #[error("failed to find context {0} in the kubeconfig")]
    UnknownContext(String),
    /// The copy could not be written as YAML.
    #[error("failed to write the kubeconfig as YAML")]
    Render(#[source] serde_yaml::Error),
}

/// The context a copy would hold: `context`, or the kubeconfig's current one.
pub fn pick_context(
    source: Option<&Path>,
    context: Option<&str>,
) -> Result<(Kubeconfig, String), KubeconfigCopyError> {
    let config = read(source)?;
    let name = match context {
        Some(name) => name.to_owned(),
        None => config
            .current_context
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or(KubeconfigCopyError::NoContext)?,
    };
    Ok((config, name))
}

/// A kubeconfig holding only `context` of `config` (its cluster and user too), current, with
/// `namespace` set when given (the context's own otherwise), as YAML.
pub fn single_context(
    config: &Kubeconfig,
    context: &str,
    namespace: Option<&str>,
) -> Result<String, KubeconfigCopyError> {
    let mut named = config
        .contexts
        .iter()
        .find(|c| c.name == context)
        .cloned()
        .ok_or_else(|| KubeconfigCopyError::UnknownContext(context.to_owned()))?;
    let inner = named
        .context
        .as_mut()
        .ok_or_else(|| KubeconfigCopyError::UnknownContext(context.to_owned()))?;
    if let Some(namespace) = namespace {
        inner.namespace = Some(namespace.to_owned());
    }
    let cluster = inner.cluster.clone();
    let user = inner.user.clone();
    let copy = Kubeconfig {
        clusters: config
            .clusters
            .iter()
            .filter(|c| c.name == cluster)
            .cloned()
            .collect(),
        auth_infos: config
            .auth_infos
            .iter()
            .filter(|u| user.as_deref() == Some(u.name.as_str()))
            .cloned()
            .collect(),
        contexts: vec![named],
        current_context: Some(context.to_owned()),
        kind: Some("Config".to_owned()),
        api_version: Some("v1".to_owned()),
        ..Kubeconfig::default()
    };
    serde_yaml::to_string(&copy).map_err(KubeconfigCopyError::Render)
}

/// Reads `source`, or `$KUBECONFIG` / `~/.kube/config` as kubectl would (paths in it made
/// absolute, so the copy elsewhere still finds certificate files).
fn read(source: Option<&Path>) -> Result<Kubeconfig, KubeconfigCopyError> {
    let result = match source {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    };
    result.map_err(|err| KubeconfigCopyError::Read {
        path: source.map_or_else(
            || "$KUBECONFIG or ~/.kube/config".to_owned(),
            |p| p.display().to_string(),
        ),
        source: Box::new(err),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: ca
  cluster: {server: "https://127.0.0.1:1", certificate-authority: ca.crt}
- name: cb
  cluster: {server: "https://127.0.0.1:2"}
users:
- name: ua
  user: {token: secret-a}
- name: ub
  user: {token: secret-b}
contexts:
- name: a
  context: {cluster: ca, user: ua}
- name: b
  context: {cluster: cb, user: ub, namespace: other}
"#;

    #[test]
    fn the_copy_holds_one_context_with_the_namespace_set() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("config");
        std::fs::write(&path, TWO).expect("write");
        let (config, name) = pick_context(Some(&path), None).expect("read");
        assert_eq!(name, "a");
        let yaml = single_context(&config, "b", Some("demo")).expect("copy");
        let copy = Kubeconfig::from_yaml(&yaml).expect("parses");
        assert_eq!(copy.current_context.as_deref(), Some("b"));
        assert_eq!(copy.contexts.len(), 1);
        let context = copy.contexts[0].context.as_ref().expect("context");
        assert_eq!(context.namespace.as_deref(), Some("demo"));
        assert_eq!(copy.clusters.len(), 1);
        assert_eq!(copy.clusters[0].name, "cb");
        assert!(
            yaml.contains("secret-b") && !yaml.contains("secret-a"),
            "{yaml}"
        );

        // Certificate paths were relative to the original file.
        let yaml = single_context(&config, "a", None).expect("copy");
        assert!(
            yaml.contains(&tmp.path().join("ca.crt").display().to_string()),
            "{yaml}"
        );
        assert!(matches!(
            single_context(&config, "nope", None),
            Err(KubeconfigCopyError::UnknownContext(_))
        ));
    }
}
