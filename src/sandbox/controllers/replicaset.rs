//! The replicaset controller: keeps `spec.replicas` pods per ReplicaSet, adopting and
//! releasing pods by selector, and reports status.

use std::sync::Arc;

use serde_json::{Value, json};

use super::Reconciler;
use super::events::{EventRecorder, Source};
use super::podspec::default_pod;
use super::util::{
    controlled_by, int, pod_active, pod_available, pod_ready, selector_matches, spec_replicas,
    str_at,
};
use crate::sandbox::store::{DeleteOpts, ResKey, Store, StoreError, meta};

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

    fn new_pod(&self, rs: &Value) -> Value {
        let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let mut metadata = json!({
            "generateName": format!("{}-", meta::name(rs)),
            "namespace": meta::namespace(rs),
            "ownerReferences": [meta::controller_ref(rs)],
        });
        for field in ["labels", "annotations"] {
            if let Some(v) = template.pointer(&format!("/metadata/{field}")) {
                metadata[field] = v.clone();
            }
        }
        let mut pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": template.get("spec").cloned().unwrap_or(json!({})),
        });
        default_pod(&mut pod);
        pod
    }

    fn sync(
        &self,
        store: &Store,
        rs: &Value,
        rss: &[Arc<Value>],
        pods: &[Arc<Value>],
    ) -> Result<(), StoreError> {
        let uid = meta::uid(rs);
        let ns = meta::namespace(rs);
        let selector = rs.pointer("/spec/selector");
        let mut owned: Vec<Value> = Vec::new();
        for p in pods.iter().filter(|p| meta::namespace(p) == ns) {
            let matches = selector_matches(selector, p.pointer("/metadata/labels"));
            if controlled_by(p, uid) {
                if matches {
                    owned.push((**p).clone());
                } else if !meta::is_terminating(p) {
                    // Release: the pod no longer matches, so another controller may own it.
                    let mut released = (**p).clone();
                    let refs: Vec<Value> = meta::owner_refs(&released)
                        .iter()
                        .filter(|r| str_at(r, "/uid") != uid)
                        .cloned()
                        .collect();
                    meta::metadata_mut(&mut released).insert("ownerReferences".into(), json!(refs));
                    store.update(&ResKey::pods(), released)?;
                }
            } else if matches
                && meta::controller_uid(p).is_none()
                && pod_active(p)
                && !meta::is_terminating(rs)
            {
                let mut adopted = (**p).clone();
                let meta_map = meta::metadata_mut(&mut adopted);
                let refs = meta_map
                    .entry("ownerReferences")
                    .or_insert_with(|| json!([]));
                if let Value::Array(a) = refs {
                    a.push(meta::controller_ref(rs));
                }
                owned.push(store.update(&ResKey::pods(), adopted)?);
            }
        }
        let active: Vec<&Value> = owned.iter().filter(|p| pod_active(p)).collect();
        let want = spec_replicas(rs);
        let diff = active.len() as i64 - want;
        if !meta::is_terminating(rs) {
            if diff < 0 {
                for _ in 0..(-diff).min(BURST) {
                    let pod = store.create(&ResKey::pods(), self.new_pod(rs))?;
                    let msg = format!("Created pod: {}", meta::name(&pod));
                    self.rec
                        .normal(store, rs, &self.source, "SuccessfulCreate", &msg);
                }
            } else if diff > 0 {
                // The pods of every ReplicaSet of the same owner rank colocated pods.
                let owner = meta::controller_uid(rs);
                let siblings: Vec<&str> = rss
                    .iter()
                    .filter(|other| meta::namespace(other) == ns)
                    .filter(|other| {
                        meta::uid(other) == uid
                            || (owner.is_some() && meta::controller_uid(other) == owner)
                    })
                    .map(|other| meta::uid(other))
                    .collect();
                let related: Vec<&Value> = pods
                    .iter()
                    .filter(|p| meta::namespace(p) == ns)
                    .filter(|p| meta::controller_uid(p).is_some_and(|c| siblings.contains(&c)))
                    .map(|p| &**p)
                    .collect();
                let victims = super::scale_down::victims(
                    &active,
                    &related,
                    usize::try_from(diff).unwrap_or(0),
                    jiff::Timestamp::now(),
                );
                for p in victims {
                    match store.delete(
                        &ResKey::pods(),
                        ns,
                        meta::name(p),
                        &DeleteOpts {
                            precondition_uid: Some(meta::uid(p).to_owned()),
                            ..Default::default()
                        },
                    ) {
                        Ok(_) => {
                            let msg = format!("Deleted pod: {}", meta::name(p));
                            self.rec
                                .normal(store, rs, &self.source, "SuccessfulDelete", &msg);
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
            .filter(|p| {
                meta::is_terminating(p)
                    && !matches!(str_at(p, "/status/phase"), "Succeeded" | "Failed")
            })
            .count();
        self.update_status(store, rs, &active, terminating)
    }

    fn update_status(
        &self,
        store: &Store,
        rs: &Value,
        active: &[&Value],
        terminating: usize,
    ) -> Result<(), StoreError> {
        let now = jiff::Timestamp::now();
        let min_ready = int(rs, "/spec/minReadySeconds").unwrap_or(0);
        let template_labels = rs.pointer("/spec/template/metadata/labels");
        let fully_labeled = active
            .iter()
            .filter(|p| {
                template_labels.and_then(Value::as_object).is_none_or(|tl| {
                    super::util::map_selector_matches(tl, p.pointer("/metadata/labels"))
                })
            })
            .count();
        let ready = active.iter().filter(|p| pod_ready(p)).count();
        let available = active
            .iter()
            .filter(|p| pod_available(p, min_ready, now))
            .count();
        let mut status = json!({"replicas": active.len()});
        let mut put = |k: &str, v: usize| {
            if v > 0 {
                status[k] = json!(v);
            }
        };
        put("fullyLabeledReplicas", fully_labeled);
        put("readyReplicas", ready);
        put("availableReplicas", available);
        if let Some(g) = int(rs, "/metadata/generation") {
            status["observedGeneration"] = json!(g);
        }
        // Unlike the other counts, present even when zero.
        status["terminatingReplicas"] = json!(terminating);
        if rs.get("status") != Some(&status) {
            let mut updated = rs.clone();
            updated["status"] = status;
            store.update(&ResKey::replicasets(), updated)?;
        }
        Ok(())
    }
}

impl Reconciler for ReplicaSetController {
    fn reconcile(&mut self, store: &Store) {
        let (rss, _) = store.list_arc(&ResKey::replicasets(), None);
        if rss.is_empty() {
            return;
        }
        let (pods, _) = store.list_arc(&ResKey::pods(), None);
        for rs in &rss {
            if let Err(e) = self.sync(store, rs, &rss, &pods) {
                tracing::debug!("replicaset {} not synced yet: {e}", meta::name(rs));
            }
        }
    }
}
