//! The replicaset controller: keeps `spec.replicas` pods per ReplicaSet, adopting and
//! releasing pods by selector, and reports status.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::ReplicaSetStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::{Value, json};

use super::Reconciler;
use super::events::{EventRecorder, Source};
use super::podspec::default_pod;
use crate::k8s::selector::LabelSelector;
use crate::sandbox::objects::{
    Pod, ReplicaSet, TemplateParts, Viewed, nonzero, owned_map, pod_active, pod_available,
    pod_finished, pod_ready, to_json, view_of, with_status,
};
use crate::sandbox::store::meta::{self, Meta};
use crate::sandbox::store::{DeleteOpts, ResKey, Store, StoreError};

/// Pods created per ReplicaSet per pass, like the real controller's burst.
const BURST: i64 = 500;

/// Reconciles every ReplicaSet.
pub struct ReplicaSetController {
    rec: Arc<EventRecorder>,
    source: Source,
}

impl ReplicaSetController {
    /// A controller recording events through `rec`.
    pub fn new(rec: Arc<EventRecorder>) -> Self {
        ReplicaSetController {
            rec,
            source: Source::component("replicaset-controller"),
        }
    }

    fn new_pod(&self, rs: &ReplicaSet) -> Value {
        let template: TemplateParts = rs.spec.template.as_ref().map(view_of).unwrap_or_default();
        let labels = &template.metadata.labels;
        let annotations = &template.metadata.annotations;
        let metadata = ObjectMeta {
            generate_name: Some(format!("{}-", rs.metadata.name)),
            namespace: Some(rs.metadata.namespace.to_owned()),
            owner_references: Some(vec![owner_ref(rs)]),
            labels: (!labels.is_empty()).then(|| owned_map(labels)),
            annotations: (!annotations.is_empty()).then(|| owned_map(annotations)),
            ..ObjectMeta::default()
        };
        let mut pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": to_json(&metadata),
            "spec": template.spec.clone().unwrap_or_else(|| json!({})),
        });
        default_pod(&mut pod);
        pod
    }

    fn sync(
        &self,
        store: &Store,
        rs: &Viewed<ReplicaSet>,
        rss: &[Viewed<ReplicaSet>],
        pods: &[Viewed<Pod>],
    ) -> Result<(), StoreError> {
        let uid = rs.metadata.uid;
        let ns = rs.metadata.namespace;
        let selector = rs.spec.label_selector();
        let mut owned: Vec<Value> = Vec::new();
        for p in pods.iter().filter(|p| p.metadata.namespace == ns) {
            let matches = selector
                .as_ref()
                .is_some_and(|s| s.matches(&p.metadata.labels));
            if p.metadata.controlled_by(uid) {
                if matches {
                    owned.push(p.json.clone());
                } else if !p.metadata.is_terminating() {
                    // Release: the pod no longer matches, so another controller may own it.
                    let mut released = p.json.clone();
                    meta::remove_owner(&mut released, uid);
                    store.update(&ResKey::pods(), released)?;
                }
            } else if matches
                && p.metadata.controller_uid().is_none()
                && pod_active(p)
                && !rs.metadata.is_terminating()
            {
                let mut adopted = p.json.clone();
                meta::add_owner(&mut adopted, to_json(&owner_ref(rs)));
                owned.push(store.update(&ResKey::pods(), adopted)?);
            }
        }
        let owned: Vec<Pod> = owned.iter().map(view_of).collect();
        let active: Vec<&Pod> = owned.iter().filter(|p| pod_active(p)).collect();
        let want = rs.spec.replicas();
        let diff = active.len() as i64 - want;
        if !rs.metadata.is_terminating() {
            if diff < 0 {
                for _ in 0..(-diff).min(BURST) {
                    let pod = store.create(&ResKey::pods(), self.new_pod(rs))?;
                    let msg = format!("Created pod: {}", Meta::of(&pod).name);
                    self.rec
                        .normal(store, rs.json, &self.source, "SuccessfulCreate", &msg);
                }
            } else if diff > 0 {
                // The pods of every ReplicaSet of the same owner rank colocated pods.
                let owner = rs.metadata.controller_uid();
                let siblings: Vec<&str> = rss
                    .iter()
                    .filter(|other| other.metadata.namespace == ns)
                    .filter(|other| {
                        other.metadata.uid == uid
                            || (owner.is_some() && other.metadata.controller_uid() == owner)
                    })
                    .map(|other| other.metadata.uid)
                    .collect();
                let related: Vec<&Pod> = pods
                    .iter()
                    .filter(|p| p.metadata.namespace == ns)
                    .filter(|p| {
                        p.metadata
                            .controller_uid()
                            .is_some_and(|c| siblings.contains(&c))
                    })
                    .map(|p| &p.view)
                    .collect();
                let victims = super::scale_down::victims(
                    &active,
                    &related,
                    usize::try_from(diff).unwrap_or(0),
                    jiff::Timestamp::now(),
                );
                for p in victims {
                    let name = p.metadata.name;
                    let opts = DeleteOpts {
                        precondition_uid: Some(p.metadata.uid.to_owned()),
                        ..Default::default()
                    };
                    match store.delete(&ResKey::pods(), ns, name, &opts) {
                        Ok(_) => {
                            let msg = format!("Deleted pod: {name}");
                            self.rec
                                .normal(store, rs.json, &self.source, "SuccessfulDelete", &msg);
                        }
                        Err(StoreError::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        // Pods deleted but still shutting down, as 1.37 counts them (`terminatingReplicas`).
        let terminating = owned
            .iter()
            .filter(|p| p.metadata.is_terminating() && !pod_finished(p))
            .count();
        self.update_status(store, rs, &active, terminating)
    }

    fn update_status(
        &self,
        store: &Store,
        rs: &Viewed<ReplicaSet>,
        active: &[&Pod],
        terminating: usize,
    ) -> Result<(), StoreError> {
        let now = jiff::Timestamp::now();
        let min_ready = rs.spec.min_ready_seconds.unwrap_or(0);
        let template_labels = LabelSelector::from_map(&rs.spec.template_meta().labels);
        let fully_labeled = active
            .iter()
            .filter(|p| template_labels.matches(&p.metadata.labels))
            .count();
        let ready = active.iter().filter(|p| pod_ready(p)).count();
        let available = active
            .iter()
            .filter(|p| pod_available(p, min_ready, now))
            .count();
        let status = ReplicaSetStatus {
            replicas: i32::try_from(active.len()).unwrap_or(i32::MAX),
            fully_labeled_replicas: nonzero(fully_labeled),
            ready_replicas: nonzero(ready),
            available_replicas: nonzero(available),
            observed_generation: rs.metadata.generation,
            // Unlike the other counts, present even when zero.
            terminating_replicas: Some(i32::try_from(terminating).unwrap_or(i32::MAX)),
            conditions: None,
        };
        if rs.status != status {
            store.update(&ResKey::replicasets(), with_status(rs.json, &status))?;
        }
        Ok(())
    }
}

/// The ownerReference a ReplicaSet's pods carry.
fn owner_ref(rs: &ReplicaSet) -> OwnerReference {
    meta::controller_of(rs.api_version, rs.kind, &rs.metadata)
}

impl Reconciler for ReplicaSetController {
    fn reconcile(&mut self, store: &Store) {
        let (rss, _) = store.list_arc(&ResKey::replicasets(), None);
        if rss.is_empty() {
            return;
        }
        let (pods, _) = store.list_arc(&ResKey::pods(), None);
        let rss: Vec<Viewed<ReplicaSet>> = rss.iter().map(|rs| Viewed::of(rs)).collect();
        let pods: Vec<Viewed<Pod>> = pods.iter().map(|p| Viewed::of(p)).collect();
        for rs in &rss {
            if let Err(e) = self.sync(store, rs, &rss, &pods) {
                tracing::debug!("replicaset {} not synced yet: {e}", rs.metadata.name);
            }
        }
    }
}
