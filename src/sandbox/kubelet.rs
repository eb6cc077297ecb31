//! The simulated kubelet: starts scheduled pods (Pending -> ContainerCreating -> Running),
//! fails pulls of images missing from the catalogue (ErrImagePull <-> ImagePullBackOff with
//! a growing back-off), reports status and events, and finishes graceful deletions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::sandbox::apps::{Catalogue, normalize_image};
use crate::sandbox::controllers::bootstrap;
use crate::sandbox::controllers::events::{EventRecorder, Source};
use crate::sandbox::controllers::util::str_at;
use crate::sandbox::controllers::{Reconciler, SimConfig};
use crate::sandbox::hash::fnv32a;
use crate::sandbox::store::{DeleteOpts, ResKey, Store, meta};

/// Longest image pull back-off, as in the real kubelet.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

#[derive(Clone, Debug)]
enum CState {
    Creating,
    Running {
        started_at: String,
        id: String,
    },
    PullError {
        since: Instant,
        failures: u32,
        backoff_shown: bool,
    },
}

struct PodRt {
    started: Instant,
    start_time: String,
    ip: Option<String>,
    containers: BTreeMap<String, CState>,
    killing_since: Option<Instant>,
    /// The pod's resourceVersion when it was last seen settled, to skip idle passes.
    settled_rv: Option<String>,
}

/// The kubelet of every simulated node.
pub struct Kubelet {
    rec: Arc<EventRecorder>,
    sim: SimConfig,
    catalogue: Arc<Catalogue>,
    pods: HashMap<String, PodRt>,
    pulled: HashSet<(String, String)>,
    nodes: HashMap<String, (u8, String)>,
}

/// A deterministic fake digest for an image, 64 hex digits.
pub fn image_digest(image: &str) -> String {
    (0..8u8)
        .map(|i| {
            let mut b = image.as_bytes().to_vec();
            b.push(i);
            format!("{:08x}", fnv32a(&b))
        })
        .collect()
}

/// The fully qualified `repo:tag` a runtime reports for an image reference.
pub fn qualified_image(image: &str) -> String {
    let (repo, tag) = normalize_image(image);
    format!("{repo}:{tag}")
}

fn pull_error(image: &str) -> String {
    let full = qualified_image(image);
    format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{full}\": failed to resolve reference \"{full}\": {full}: not found"
    )
}

fn containers(pod: &Value) -> Vec<(String, String, String)> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        str_at(c, "/name").to_owned(),
                        str_at(c, "/image").to_owned(),
                        str_at(c, "/imagePullPolicy").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether every container runs, so nothing changes until the pod does.
fn rt_settled(rt: Option<&PodRt>) -> bool {
    rt.is_some_and(|rt| {
        !rt.containers.is_empty()
            && rt
                .containers
                .values()
                .all(|c| matches!(c, CState::Running { .. }))
    })
}

impl Kubelet {
    /// A kubelet for the bootstrap nodes.
    pub fn new(rec: Arc<EventRecorder>, sim: SimConfig, catalogue: Arc<Catalogue>) -> Self {
        let nodes = bootstrap::nodes()
            .into_iter()
            .map(|(n, i, ip)| (n.to_owned(), (i, ip)))
            .collect();
        Kubelet {
            rec,
            sim,
            catalogue,
            pods: HashMap::new(),
            pulled: HashSet::new(),
            nodes,
        }
    }

    fn backoff(&self, failures: u32) -> Duration {
        let d = self
            .sim
            .pull_backoff
            .saturating_mul(1u32 << failures.saturating_sub(1).min(10))
            .min(MAX_BACKOFF);
        self.sim.scaled(d)
    }

    fn event(&self, store: &Store, pod: &Value, c: &str, kind: &str, reason: &str, msg: &str) {
        let node = str_at(pod, "/spec/nodeName");
        let fp = format!("spec.containers{{{c}}}");
        self.rec.record(
            store,
            pod,
            Some(&fp),
            kind,
            &Source::kubelet(node),
            reason,
            msg,
        );
    }

    /// Restores runtime state for a pod already running before a restart.
    fn adopt_running(pod: &Value) -> Option<PodRt> {
        if str_at(pod, "/status/phase") != "Running" {
            return None;
        }
        let statuses = pod.pointer("/status/containerStatuses")?.as_array()?;
        let mut cs = BTreeMap::new();
        for s in statuses {
            let started_at = s.pointer("/state/running/startedAt")?.as_str()?.to_owned();
            let id = str_at(s, "/containerID").to_owned();
            cs.insert(
                str_at(s, "/name").to_owned(),
                CState::Running { started_at, id },
            );
        }
        Some(PodRt {
            started: Instant::now(),
            start_time: str_at(pod, "/status/startTime").to_owned(),
            ip: Some(str_at(pod, "/status/podIP").to_owned()).filter(|i| !i.is_empty()),
            containers: cs,
            killing_since: None,
            settled_rv: None,
        })
    }

    fn sync_pod(&mut self, store: &Store, pod: &Value, used_ips: &mut HashSet<String>) {
        let uid = meta::uid(pod).to_owned();
        let node = str_at(pod, "/spec/nodeName").to_owned();
        let Some((node_index, _)) = self.nodes.get(&node).cloned() else {
            return;
        };
        let rv = pod
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if let Some(rt) = self.pods.get(&uid)
            && rt.settled_rv.is_some()
            && rt.settled_rv.as_deref() == rv
        {
            return;
        }
        let now = Instant::now();
        let specs = containers(pod);
        if !self.pods.contains_key(&uid) {
            let rt = Self::adopt_running(pod).unwrap_or_else(|| {
                for (name, image, policy) in &specs {
                    if policy != "Always" && self.pulled.contains(&(node.clone(), image.clone())) {
                        continue;
                    }
                    let msg = format!("Pulling image \"{image}\"");
                    self.event(store, pod, name, "Normal", "Pulling", &msg);
                }
                PodRt {
                    started: now,
                    start_time: meta::now_rfc3339(),
                    ip: None,
                    containers: specs
                        .iter()
                        .map(|(n, _, _)| (n.clone(), CState::Creating))
                        .collect(),
                    killing_since: None,
                    settled_rv: None,
                }
            });
            self.pods.insert(uid.clone(), rt);
        }
        let pod_start = self.sim.scaled(self.sim.pod_start);
        let hold = self
            .sim
            .scaled(self.sim.pull_backoff / 5)
            .min(self.backoff(1) / 2);
        let mut events: Vec<(String, &'static str, &'static str, String)> = Vec::new();
        let Some(rt) = self.pods.get_mut(&uid) else {
            return;
        };
        if now.duration_since(rt.started) >= pod_start {
            if rt.ip.is_none() {
                let existing = str_at(pod, "/status/podIP");
                let ip = if existing.is_empty() {
                    (2..255)
                        .map(|n| format!("10.244.{node_index}.{n}"))
                        .find(|ip| !used_ips.contains(ip))
                        .unwrap_or_else(|| format!("10.244.{node_index}.254"))
                } else {
                    existing.to_owned()
                };
                used_ips.insert(ip.clone());
                rt.ip = Some(ip);
            }
            for (name, image, policy) in &specs {
                let Some(state) = rt.containers.get_mut(name) else {
                    continue;
                };
                match state {
                    CState::Running { .. } => {}
                    CState::Creating => {
                        if self.catalogue.is_pullable(image) {
                            let present = policy != "Always"
                                && self.pulled.contains(&(node.clone(), image.clone()));
                            if present {
                                let msg = format!(
                                    "Container image \"{image}\" already present on machine"
                                );
                                events.push((name.clone(), "Normal", "Pulled", msg));
                            } else {
                                let took =
                                    now.duration_since(rt.started).as_millis() as f64 / 1000.0;
                                let size =
                                    50_000_000 + u64::from(fnv32a(image.as_bytes()) % 150_000_000);
                                let msg = format!(
                                    "Successfully pulled image \"{image}\" in {took:.3}s ({took:.3}s including waiting). Image size: {size} bytes."
                                );
                                events.push((name.clone(), "Normal", "Pulled", msg));
                                self.pulled.insert((node.clone(), image.clone()));
                            }
                            events.push((
                                name.clone(),
                                "Normal",
                                "Created",
                                format!("Created container: {name}"),
                            ));
                            events.push((
                                name.clone(),
                                "Normal",
                                "Started",
                                format!("Started container {name}"),
                            ));
                            *state = CState::Running {
                                started_at: meta::now_rfc3339(),
                                id: format!("containerd://{}", meta::random_hex(64)),
                            };
                        } else {
                            let msg =
                                format!("Failed to pull image \"{image}\": {}", pull_error(image));
                            events.push((name.clone(), "Warning", "Failed", msg));
                            events.push((
                                name.clone(),
                                "Warning",
                                "Failed",
                                "Error: ErrImagePull".into(),
                            ));
                            *state = CState::PullError {
                                since: now,
                                failures: 1,
                                backoff_shown: false,
                            };
                        }
                    }
                    CState::PullError {
                        since,
                        failures,
                        backoff_shown,
                    } => {
                        let wait = {
                            let d = self
                                .sim
                                .pull_backoff
                                .saturating_mul(1u32 << failures.saturating_sub(1).min(10))
                                .min(MAX_BACKOFF);
                            self.sim.scaled(d)
                        };
                        if now.duration_since(*since) >= wait {
                            if self.catalogue.is_pullable(image) {
                                *state = CState::Creating;
                                continue;
                            }
                            events.push((
                                name.clone(),
                                "Normal",
                                "Pulling",
                                format!("Pulling image \"{image}\""),
                            ));
                            let msg =
                                format!("Failed to pull image \"{image}\": {}", pull_error(image));
                            events.push((name.clone(), "Warning", "Failed", msg));
                            events.push((
                                name.clone(),
                                "Warning",
                                "Failed",
                                "Error: ErrImagePull".into(),
                            ));
                            *since = now;
                            *failures += 1;
                            *backoff_shown = false;
                        } else if !*backoff_shown && now.duration_since(*since) >= hold {
                            *backoff_shown = true;
                            events.push((
                                name.clone(),
                                "Normal",
                                "BackOff",
                                format!("Back-off pulling image \"{image}\""),
                            ));
                            events.push((
                                name.clone(),
                                "Warning",
                                "Failed",
                                "Error: ImagePullBackOff".into(),
                            ));
                        }
                    }
                }
            }
        }
        let status = self.status(pod, &uid, &node);
        for (c, kind, reason, msg) in events {
            self.event(store, pod, &c, kind, reason, &msg);
        }
        let settled = rt_settled(self.pods.get(&uid));
        if settled && status.as_ref() == pod.get("status") {
            if let Some(rt) = self.pods.get_mut(&uid) {
                rt.settled_rv = rv.map(str::to_owned);
            }
            return;
        }
        if let Some(status) = status
            && pod.get("status") != Some(&status)
            && let Some(mut fresh) =
                store.get(&ResKey::pods(), meta::namespace(pod), meta::name(pod))
            && meta::uid(&fresh) == uid
        {
            fresh["status"] = status;
            if let Err(e) = store.update(&ResKey::pods(), fresh) {
                tracing::debug!("pod status not written yet: {e}");
            }
        }
    }

    /// The pod status the runtime state implies; timestamps are kept while values hold.
    fn status(&self, pod: &Value, uid: &str, node: &str) -> Option<Value> {
        let rt = self.pods.get(uid)?;
        let (_, host_ip) = self.nodes.get(node)?;
        let old = pod.get("status").cloned().unwrap_or(json!({}));
        let specs = containers(pod);
        let mut statuses = Vec::new();
        let mut unready = Vec::new();
        for (name, image, _) in &specs {
            let state = rt.containers.get(name).cloned().unwrap_or(CState::Creating);
            let (repo, _) = normalize_image(image);
            let mut s = json!({"name": name, "image": qualified_image(image), "imageID": "",
                               "lastState": {}, "ready": false, "restartCount": 0, "started": false});
            match state {
                CState::Running { started_at, id } => {
                    s["state"] = json!({"running": {"startedAt": started_at}});
                    s["ready"] = json!(true);
                    s["started"] = json!(true);
                    s["containerID"] = json!(id);
                    s["imageID"] = json!(format!("{repo}@sha256:{}", image_digest(image)));
                }
                CState::Creating => {
                    s["image"] = json!(image);
                    s["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
                    unready.push(name.clone());
                }
                CState::PullError { backoff_shown, .. } => {
                    s["image"] = json!(image);
                    s["state"] = if backoff_shown {
                        json!({"waiting": {"reason": "ImagePullBackOff",
                                           "message": format!("Back-off pulling image \"{image}\"")}})
                    } else {
                        json!({"waiting": {"reason": "ErrImagePull", "message": pull_error(image)}})
                    };
                    unready.push(name.clone());
                }
            }
            statuses.push(s);
        }
        let all_running = unready.is_empty() && !specs.is_empty();
        let now = meta::now_rfc3339();
        let cond = |kind: &str, ok: bool, reason: Option<String>| {
            let status = if ok { "True" } else { "False" };
            let prev = old
                .get("conditions")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|c| str_at(c, "/type") == kind));
            let since = prev
                .filter(|p| str_at(p, "/status") == status)
                .map(|p| p["lastTransitionTime"].clone())
                .unwrap_or(json!(now));
            let mut c = json!({"type": kind, "status": status, "lastProbeTime": null,
                               "lastTransitionTime": since});
            if let Some(r) = reason.filter(|_| !ok) {
                c["reason"] = json!("ContainersNotReady");
                c["message"] = json!(r);
            }
            c
        };
        let not_ready = Some(format!(
            "containers with unready status: [{}]",
            unready.join(" ")
        ));
        let mut status = Map::new();
        status.insert(
            "phase".into(),
            json!(if all_running { "Running" } else { "Pending" }),
        );
        status.insert(
            "conditions".into(),
            json!([
                cond("PodReadyToStartContainers", rt.ip.is_some(), None),
                cond("Initialized", true, None),
                cond("Ready", all_running, not_ready.clone()),
                cond("ContainersReady", all_running, not_ready),
                cond("PodScheduled", true, None),
            ]),
        );
        status.insert("hostIP".into(), json!(host_ip));
        status.insert("hostIPs".into(), json!([{"ip": host_ip}]));
        if let Some(ip) = &rt.ip {
            status.insert("podIP".into(), json!(ip));
            status.insert("podIPs".into(), json!([{"ip": ip}]));
        }
        status.insert("startTime".into(), json!(rt.start_time));
        status.insert("containerStatuses".into(), json!(statuses));
        status.insert(
            "qosClass".into(),
            old.get("qosClass").cloned().unwrap_or(json!("BestEffort")),
        );
        Some(Value::Object(status))
    }

    fn sync_terminating(&mut self, store: &Store, pod: &Value) {
        let uid = meta::uid(pod).to_owned();
        let now = Instant::now();
        let first = self
            .pods
            .get(&uid)
            .is_none_or(|rt| rt.killing_since.is_none());
        if first {
            for (name, _, _) in containers(pod) {
                let running = self
                    .pods
                    .get(&uid)
                    .and_then(|rt| rt.containers.get(&name))
                    .is_some_and(|c| matches!(c, CState::Running { .. }));
                if running {
                    let msg = format!("Stopping container {name}");
                    self.event(store, pod, &name, "Normal", "Killing", &msg);
                }
            }
            let rt = self.pods.entry(uid.clone()).or_insert_with(|| PodRt {
                started: now,
                start_time: String::new(),
                ip: None,
                containers: BTreeMap::new(),
                killing_since: None,
                settled_rv: None,
            });
            rt.killing_since = Some(now);
        }
        let since = self
            .pods
            .get(&uid)
            .and_then(|rt| rt.killing_since)
            .unwrap_or(now);
        let grace_secs = pod
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30)
            .max(0) as u64;
        let grace = self
            .sim
            .scaled(self.sim.grace.min(Duration::from_secs(grace_secs)));
        if now.duration_since(since) >= grace {
            let opts = DeleteOpts {
                grace_period_seconds: Some(0),
                precondition_uid: Some(uid.clone()),
                ..Default::default()
            };
            let _ = store.delete(
                &ResKey::pods(),
                meta::namespace(pod),
                meta::name(pod),
                &opts,
            );
        }
    }
}

impl Reconciler for Kubelet {
    fn reconcile(&mut self, store: &Store) {
        let (pods, _) = store.list_arc(&ResKey::pods(), None);
        let live: HashSet<&str> = pods.iter().map(|p| meta::uid(p)).collect();
        self.pods.retain(|uid, _| live.contains(uid.as_str()));
        let mut used_ips: HashSet<String> = pods
            .iter()
            .map(|p| str_at(p, "/status/podIP").to_owned())
            .filter(|ip| !ip.is_empty())
            .collect();
        for pod in &pods {
            if str_at(pod, "/spec/nodeName").is_empty() {
                continue;
            }
            if meta::is_terminating(pod) {
                self.sync_terminating(store, pod);
                continue;
            }
            if matches!(str_at(pod, "/status/phase"), "Succeeded" | "Failed") {
                continue;
            }
            self.sync_pod(store, pod, &mut used_ips);
        }
    }
}
