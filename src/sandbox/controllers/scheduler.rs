//! The scheduler: binds each unscheduled pod to the worker with the fewest pods.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::Reconciler;
use super::events::{EventRecorder, Source};
use super::util::{pod_active, str_at};
use crate::sandbox::store::{ResKey, Store, meta};

/// Schedules pods onto untainted, Ready nodes.
pub struct Scheduler {
    rec: Arc<EventRecorder>,
    source: Source,
}

fn schedulable(node: &Value) -> bool {
    let tainted = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .is_some_and(|t| {
            t.iter()
                .any(|t| matches!(str_at(t, "/effect"), "NoSchedule" | "NoExecute"))
        });
    let unschedulable = node.pointer("/spec/unschedulable") == Some(&json!(true));
    !tainted && !unschedulable
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

impl Reconciler for Scheduler {
    fn reconcile(&mut self, store: &Store) {
        let (pods, _) = store.list_arc(&ResKey::pods(), None);
        let pending: Vec<&Arc<Value>> = pods
            .iter()
            .filter(|p| str_at(p, "/spec/nodeName").is_empty() && !meta::is_terminating(p))
            .filter(|p| {
                let s = str_at(p, "/spec/schedulerName");
                s.is_empty() || s == "default-scheduler"
            })
            .collect();
        if pending.is_empty() {
            return;
        }
        let (nodes, _) = store.list_arc(&ResKey::nodes(), None);
        let mut load: BTreeMap<String, usize> = nodes
            .iter()
            .filter(|n| schedulable(n))
            .map(|n| (meta::name(n).to_owned(), 0))
            .collect();
        if load.is_empty() {
            return;
        }
        for p in pods.iter().filter(|p| pod_active(p)) {
            if let Some(n) = load.get_mut(str_at(p, "/spec/nodeName")) {
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
            let mut bound = (**p).clone();
            bound["spec"]["nodeName"] = json!(node);
            let status = meta::object_field_mut(&mut bound, "status");
            status.entry("phase").or_insert(json!("Pending"));
            let conds = status.entry("conditions").or_insert_with(|| json!([]));
            if let Value::Array(a) = conds {
                a.retain(|c| str_at(c, "/type") != "PodScheduled");
                a.push(
                    json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                              "lastTransitionTime": meta::now_rfc3339()}),
                );
            }
            if let Ok(bound) = store.update(&ResKey::pods(), bound) {
                if let Some(n) = load.get_mut(&node) {
                    *n += 1;
                }
                let msg = format!(
                    "Successfully assigned {}/{} to {node}",
                    meta::namespace(&bound),
                    meta::name(&bound)
                );
                self.rec
                    .normal(store, &bound, &self.source, "Scheduled", &msg);
            }
        }
    }
}
