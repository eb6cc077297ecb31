//! The root CA publisher: a `kube-root-ca.crt` ConfigMap with the API server's CA in every
//! namespace, as kube-controller-manager's `root-ca-cert-publisher` keeps one (Pods' service
//! account volumes read it, and learners see it in `kubectl get configmaps`).

use serde_json::json;

use super::Reconciler;
use crate::sandbox::store::{ResKey, Store, meta};

/// The ConfigMap's name.
pub const NAME: &str = "kube-root-ca.crt";
/// The description kube-controller-manager 1.37 annotates it with.
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver \
    when using internal endpoints such as the internal service IP or kubernetes.default.svc. \
    No other usage is guaranteed across distributions of Kubernetes clusters.";

/// Keeps `kube-root-ca.crt` in every namespace that is not terminating.
pub struct RootCaPublisher {
    ca_pem: String,
}

impl RootCaPublisher {
    /// A publisher of `ca_pem`.
    pub fn new(ca_pem: String) -> Self {
        RootCaPublisher { ca_pem }
    }
}

impl Reconciler for RootCaPublisher {
    fn reconcile(&mut self, store: &Store) {
        if self.ca_pem.is_empty() {
            return;
        }
        let key = ResKey::new("", "configmaps");
        let (namespaces, _) = store.list_arc(&ResKey::namespaces(), None);
        for ns in namespaces.iter().filter(|ns| !meta::is_terminating(ns)) {
            let name = meta::name(ns);
            let current = store.get(&key, name, NAME);
            let wanted = Some(self.ca_pem.as_str());
            match current {
                Some(cm) if cm.pointer("/data/ca.crt").and_then(|v| v.as_str()) == wanted => {}
                Some(mut cm) => {
                    cm["data"] = json!({"ca.crt": self.ca_pem});
                    if let Err(e) = store.update(&key, cm) {
                        tracing::debug!("kube-root-ca.crt in {name} not updated yet: {e}");
                    }
                }
                None => {
                    let cm = json!({
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": NAME, "namespace": name,
                                     "annotations": {"kubernetes.io/description": DESCRIPTION}},
                        "data": {"ca.crt": self.ca_pem},
                    });
                    if let Err(e) = store.create(&key, cm) {
                        tracing::debug!("kube-root-ca.crt in {name} not created yet: {e}");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_live_namespace_gets_the_ca_and_a_changed_one_is_restored() {
        let store = Store::new();
        for ns in ["default", "lab"] {
            store
                .create(
                    &ResKey::namespaces(),
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                )
                .unwrap();
        }
        let mut publisher = RootCaPublisher::new("-----BEGIN CERTIFICATE-----\n".to_owned());
        publisher.reconcile(&store);
        let key = ResKey::new("", "configmaps");
        let cm = store.get(&key, "lab", NAME).expect("published");
        assert_eq!(cm["data"]["ca.crt"], "-----BEGIN CERTIFICATE-----\n");
        assert!(
            cm["metadata"]["annotations"]["kubernetes.io/description"]
                .as_str()
                .unwrap()
                .starts_with("Contains a CA bundle")
        );
        let mut tampered = cm.clone();
        tampered["data"] = json!({"ca.crt": "nope"});
        store.update(&key, tampered).unwrap();
        publisher.reconcile(&store);
        assert_eq!(
            store.get(&key, "lab", NAME).unwrap()["data"]["ca.crt"],
            "-----BEGIN CERTIFICATE-----\n"
        );
    }
}
