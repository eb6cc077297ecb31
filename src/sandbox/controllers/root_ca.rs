//! The root CA publisher: a `kube-root-ca.crt` ConfigMap with the API server's CA in every
//! namespace, as kube-controller-manager's `root-ca-cert-publisher` keeps one (Pods' service
//! account volumes read it, and learners see it in `kubectl get configmaps`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use super::Reconciler;
use crate::sandbox::objects::{Any, parse, to_json, view_of, with_fields};
use crate::sandbox::store::{ResKey, Store};

/// The key of the CA in the ConfigMap's data.
const KEY: &str = "ca.crt";

/// The CA a ConfigMap publishes, if any.
fn published(cm: &serde_json::Value) -> Option<String> {
    parse::<ConfigMap>(cm)?.data?.remove(KEY)
}

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
        let data = BTreeMap::from([(KEY.to_owned(), self.ca_pem.clone())]);
        for ns in namespaces.iter().map(|ns| view_of::<Any>(ns)) {
            if ns.metadata.is_terminating() {
                continue;
            }
            let name = ns.metadata.name;
            let current = store.get(&key, name, NAME);
            match current {
                Some(cm) if published(&cm).as_deref() == Some(self.ca_pem.as_str()) => {}
                Some(cm) => {
                    let cm = with_fields(&cm, json!({ "data": to_json(&data) }));
                    if let Err(e) = store.update(&key, cm) {
                        tracing::debug!("kube-root-ca.crt in {name} not updated yet: {e}");
                    }
                }
                None => {
                    let cm = ConfigMap {
                        metadata: ObjectMeta {
                            name: Some(NAME.to_owned()),
                            namespace: Some(name.to_owned()),
                            annotations: Some(BTreeMap::from([(
                                "kubernetes.io/description".to_owned(),
                                DESCRIPTION.to_owned(),
                            )])),
                            ..ObjectMeta::default()
                        },
                        data: Some(data.clone()),
                        ..ConfigMap::default()
                    };
                    if let Err(e) = store.create(&key, to_json(&cm)) {
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
        let pem = "-----BEGIN CERTIFICATE-----\n";
        let mut publisher = RootCaPublisher::new(pem.to_owned());
        publisher.reconcile(&store);
        let key = ResKey::new("", "configmaps");
        let cm = store.get(&key, "lab", NAME).expect("published");
        assert_eq!(published(&cm).as_deref(), Some(pem));
        let typed: ConfigMap = parse(&cm).expect("a ConfigMap");
        let description = typed
            .metadata
            .annotations
            .and_then(|a| a.get("kubernetes.io/description").cloned());
        assert!(description.is_some_and(|d| d.starts_with("Contains a CA bundle")));
        let tampered = with_fields(&cm, json!({"data": {KEY: "nope"}}));
        store.update(&key, tampered).unwrap();
        assert_eq!(
            published(&store.get(&key, "lab", NAME).unwrap()).as_deref(),
            Some("nope")
        );
        publisher.reconcile(&store);
        let restored = store.get(&key, "lab", NAME).unwrap();
        assert_eq!(published(&restored).as_deref(), Some(pem));
    }
}
