//! The simulated kubelet: runs each scheduled pod through its [`lifecycle`] (Pending ->
//! ContainerCreating -> Running, or failed pulls and their back-off), writes the status and
//! records the events it yields, and finishes graceful deletions.

pub mod lifecycle;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::PodStatus;
use serde_json::Value;

use crate::sandbox::apps::Catalogue;
use crate::sandbox::controllers::bootstrap;
use crate::sandbox::controllers::events::{EventRecorder, Source};
use crate::sandbox::controllers::{Reconciler, SimConfig};
use crate::sandbox::objects::{
    Pod, Viewed, null_when_absent, pod_finished, pod_ip, to_json, with_status,
};
use crate::sandbox::store::meta::{self, Meta};
use crate::sandbox::store::{DeleteOpts, ResKey, Store};
use lifecycle::{Context, Event, Images, NodeState, PodRuntime};

impl Images for Catalogue {
    fn is_pullable(&self, image: &str) -> bool {
        Catalogue::is_pullable(self, image)
    }
}

/// The kubelet of every simulated node.
pub struct Kubelet {
    rec: Arc<EventRecorder>,
    sim: SimConfig,
    catalogue: Arc<Catalogue>,
    pods: HashMap<String, PodRuntime>,
    nodes: HashMap<String, NodeState>,
}

/// A pod status as the API serves it: Go writes a condition's unset `lastProbeTime` as null.
fn status_json(status: &PodStatus) -> Value {
    let mut json = to_json(status);
    if let Value::Object(fields) = &mut json
        && let Some(conditions) = fields.get_mut("conditions")
    {
        null_when_absent(conditions, "lastProbeTime");
    }
    json
}

impl Kubelet {
    /// A kubelet for the bootstrap nodes.
    pub fn new(rec: Arc<EventRecorder>, sim: SimConfig, catalogue: Arc<Catalogue>) -> Self {
        let nodes = bootstrap::nodes()
            .into_iter()
            .map(|(n, index, host_ip)| {
                let node = NodeState {
                    index,
                    host_ip,
                    pulled: HashSet::new(),
                };
                (n.to_owned(), node)
            })
            .collect();
        Kubelet {
            rec,
            sim,
            catalogue,
            pods: HashMap::new(),
            nodes,
        }
    }

    fn record(&self, store: &Store, pod: &Viewed<Pod>, events: Vec<Event>) {
        let source = Source::kubelet(pod.spec.node_name);
        for e in events {
            let fp = format!("spec.containers{{{}}}", e.container);
            self.rec.record(
                store,
                pod.json,
                Some(&fp),
                e.kind,
                &source,
                e.reason,
                &e.message,
            );
        }
    }

    fn sync_pod(&mut self, store: &Store, pod: &Viewed<Pod>, used_ips: &mut HashSet<String>) {
        let uid = pod.metadata.uid.to_owned();
        let rv = pod.metadata.resource_version;
        if let Some(rt) = self.pods.get(&uid)
            && rt.settled_rv.as_deref() == Some(rv)
        {
            return;
        }
        let Some(node) = self.nodes.get_mut(pod.spec.node_name) else {
            return;
        };
        let mut new_id = || meta::random_hex(64);
        let mut ctx = Context {
            sim: &self.sim,
            images: self.catalogue.as_ref(),
            node,
            used_ips,
            now: Instant::now(),
            wall: jiff::Timestamp::now(),
            new_id: &mut new_id,
        };
        let mut events = Vec::new();
        let rt = match self.pods.get_mut(&uid) {
            Some(rt) => rt,
            None => {
                let (rt, pulls) = lifecycle::first_sight(pod, &ctx);
                events = pulls;
                self.pods.entry(uid.clone()).or_insert(rt)
            }
        };
        let step = lifecycle::step(rt, pod, &mut ctx);
        events.extend(step.events);
        let settled = rt.settled();
        if settled && step.status == pod.status {
            rt.settled_rv = Some(rv.to_owned());
        }
        self.record(store, pod, events);
        if step.status == pod.status {
            return;
        }
        let m = &pod.metadata;
        if let Some(fresh) = store.get(&ResKey::pods(), m.namespace, m.name)
            && Meta::of(&fresh).uid == uid
            && let Err(e) = store.update(
                &ResKey::pods(),
                with_status(&fresh, &status_json(&step.status)),
            )
        {
            tracing::debug!("pod status not written yet: {e}");
        }
    }

    fn sync_terminating(&mut self, store: &Store, pod: &Viewed<Pod>) {
        let now = Instant::now();
        let rt = self
            .pods
            .entry(pod.metadata.uid.to_owned())
            .or_insert_with(|| PodRuntime::new(now, None));
        let stop = lifecycle::stop(rt, pod, &self.sim, now);
        self.record(store, pod, stop.events);
        if stop.done {
            let opts = DeleteOpts {
                grace_period_seconds: Some(0),
                precondition_uid: Some(pod.metadata.uid.to_owned()),
                ..Default::default()
            };
            let m = &pod.metadata;
            let _ = store.delete(&ResKey::pods(), m.namespace, m.name, &opts);
        }
    }
}

impl Reconciler for Kubelet {
    fn reconcile(&mut self, store: &Store) {
        let (pods, _) = store.list_arc(&ResKey::pods(), None);
        let pods: Vec<Viewed<Pod>> = pods.iter().map(|p| Viewed::of(p)).collect();
        let live: HashSet<&str> = pods.iter().map(|p| p.metadata.uid).collect();
        self.pods.retain(|uid, _| live.contains(uid.as_str()));
        let mut used_ips: HashSet<String> = pods
            .iter()
            .map(|p| pod_ip(p).to_owned())
            .filter(|ip| !ip.is_empty())
            .collect();
        for pod in &pods {
            if pod.spec.node_name.is_empty() {
                continue;
            }
            if pod.metadata.is_terminating() {
                self.sync_terminating(store, pod);
                continue;
            }
            if pod_finished(pod) {
                continue;
            }
            self.sync_pod(store, pod, &mut used_ips);
        }
    }
}
