//! The scheduler: binds each unscheduled pod to the worker with the fewest pods.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::PodCondition;

use super::Reconciler;
use super::events::{EventRecorder, Source};
use crate::sandbox::objects::{Node, Pod, Viewed, merged, null_when_absent, pod_active, to_json};
use crate::sandbox::store::meta::{self, Meta};
use crate::sandbox::store::{ResKey, Store};

/// Schedules pods onto untainted, Ready nodes.
pub struct Scheduler {
    rec: Arc<EventRecorder>,
    source: Source,
}

fn schedulable(node: &Node) -> bool {
    let tainted = node
        .spec
        .taints
        .iter()
        .flatten()
        .any(|t| matches!(t.effect.as_str(), "NoSchedule" | "NoExecute"));
    !tainted && node.spec.unschedulable != Some(true)
}

impl Scheduler {
    /// A scheduler recording events through `rec`.
    pub fn new(rec: Arc<EventRecorder>) -> Self {
        Scheduler {
            rec,
            // The scheduler records through events.k8s.io/v1, from the control-plane node.
            source: Source::events_api("default-scheduler", super::bootstrap::CONTROL_PLANE),
        }
    }
}

/// `pod` bound to `node`: its nodeName set and a PodScheduled condition (the first phase
/// being Pending).
fn bound(pod: &Viewed<Pod>, node: &str) -> serde_json::Value {
    let mut conditions: Vec<PodCondition> = pod
        .status
        .conditions
        .iter()
        .flatten()
        .filter(|c| c.type_ != "PodScheduled")
        .cloned()
        .collect();
    conditions.push(PodCondition {
        type_: "PodScheduled".to_owned(),
        status: "True".to_owned(),
        last_transition_time: Some(meta::now_time()),
        ..PodCondition::default()
    });
    let mut conditions = to_json(&conditions);
    null_when_absent(&mut conditions, "lastProbeTime");
    let phase = pod.status.phase.as_deref().unwrap_or("Pending");
    merged(
        pod.json,
        &serde_json::json!({
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions},
        }),
    )
}

impl Reconciler for Scheduler {
    fn reconcile(&mut self, store: &Store) {
        let (pods, _) = store.list_arc(&ResKey::pods(), None);
        let pods: Vec<Viewed<Pod>> = pods.iter().map(|p| Viewed::of(p)).collect();
        let pending: Vec<&Viewed<Pod>> = pods
            .iter()
            .filter(|p| p.spec.node_name.is_empty() && !p.metadata.is_terminating())
            .filter(|p| {
                let s = p.spec.scheduler_name;
                s.is_empty() || s == "default-scheduler"
            })
            .collect();
        if pending.is_empty() {
            return;
        }
        let (nodes, _) = store.list_arc(&ResKey::nodes(), None);
        let mut load: BTreeMap<String, usize> = nodes
            .iter()
            .map(|n| Viewed::<Node>::of(n))
            .filter(|n| schedulable(n))
            .map(|n| (n.metadata.name.to_owned(), 0))
            .collect();
        if load.is_empty() {
            return;
        }
        for p in pods.iter().filter(|p| pod_active(p)) {
            if let Some(n) = load.get_mut(p.spec.node_name) {
                *n += 1;
            }
        }
        for p in pending {
            let Some(node) = load
                .iter()
                .min_by_key(|(name, count)| (**count, (*name).clone()))
                .map(|(n, _)| n.clone())
            else {
                return;
            };
            if let Ok(bound) = store.update(&ResKey::pods(), bound(p, &node)) {
                if let Some(n) = load.get_mut(&node) {
                    *n += 1;
                }
                let m = Meta::of(&bound);
                let msg = format!("Successfully assigned {}/{} to {node}", m.namespace, m.name);
                self.rec
                    .normal(store, &bound, &self.source, "Scheduled", &msg);
            }
        }
    }
}
