//! A pod's life on its node as a pure state machine: from the pod, the image catalogue and
//! the time, the next runtime state, the status to write and the events to record. Nothing
//! here reads the clock, the store or a random source: the kubelet passes them in.
//!
//! Containers go Creating -> Running, or, when the image cannot be pulled, Creating ->
//! ErrImagePull <-> ImagePullBackOff with a back-off doubling up to five minutes (and back
//! to Creating once the catalogue has the image).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, HostIP,
    PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::sandbox::apps::normalize_image;
use crate::sandbox::controllers::SimConfig;
use crate::sandbox::hash::fnv32a;
use crate::sandbox::objects::{Pod, pod_condition, pod_ip};
use crate::sandbox::store::meta;

/// Longest image pull back-off, as in the real kubelet.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Where one container is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Container {
    /// Being created: its image is being pulled.
    Creating,
    /// Running since `started_at`, as container `id`.
    Running {
        /// When it started.
        started_at: Time,
        /// Its runtime id (`containerd://...`).
        id: String,
    },
    /// Its image failed to pull `failures` times, last at `since`.
    PullError {
        /// When the last pull failed.
        since: Instant,
        /// Failed pulls so far.
        failures: u32,
        /// Whether the back-off (ImagePullBackOff) is showing yet.
        backoff_shown: bool,
    },
}

/// What the kubelet keeps about one pod between passes.
#[derive(Clone, Debug)]
pub struct PodRuntime {
    /// When the kubelet first saw the pod.
    pub started: Instant,
    /// The pod's `status.startTime`.
    pub start_time: Option<Time>,
    /// The pod's IP, once its sandbox is up.
    pub ip: Option<String>,
    /// Each container's state, by name.
    pub containers: BTreeMap<String, Container>,
    /// When the kubelet started stopping the pod.
    pub killing_since: Option<Instant>,
    /// The pod's resourceVersion when it was last seen settled, to skip idle passes.
    pub settled_rv: Option<String>,
}

impl PodRuntime {
    /// A runtime for a pod seen for the first time at `now`.
    pub fn new(now: Instant, start_time: Option<Time>) -> Self {
        PodRuntime {
            started: now,
            start_time,
            ip: None,
            containers: BTreeMap::new(),
            killing_since: None,
            settled_rv: None,
        }
    }

    /// Whether every container runs, so nothing changes until the pod does.
    pub fn settled(&self) -> bool {
        !self.containers.is_empty()
            && self
                .containers
                .values()
                .all(|c| matches!(c, Container::Running { .. }))
    }
}

/// An event to record about a pod's container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The container (the event's `spec.containers{NAME}` field path).
    pub container: String,
    /// `Normal` or `Warning`.
    pub kind: &'static str,
    /// Why, in one word.
    pub reason: &'static str,
    /// What happened.
    pub message: String,
}

fn event(container: &str, kind: &'static str, reason: &'static str, message: String) -> Event {
    Event {
        container: container.to_owned(),
        kind,
        reason,
        message,
    }
}

/// The images the node can pull.
pub trait Images {
    /// Whether pulling `image` succeeds.
    fn is_pullable(&self, image: &str) -> bool;
}

/// The node a pod runs on, as its kubelet sees it.
#[derive(Clone, Debug, Default)]
pub struct NodeState {
    /// Its index in the pod CIDR (`10.244.<index>.0/24`).
    pub index: u8,
    /// Its InternalIP.
    pub host_ip: String,
    /// Images pulled on it so far.
    pub pulled: HashSet<String>,
}

/// Everything a step reads besides the pod: configuration, the node, the time, and sources
/// for what would otherwise be random.
pub struct Context<'a> {
    /// The simulation's timings.
    pub sim: &'a SimConfig,
    /// The image catalogue.
    pub images: &'a dyn Images,
    /// The pod's node.
    pub node: &'a mut NodeState,
    /// Pod IPs already in use.
    pub used_ips: &'a mut HashSet<String>,
    /// Now, for durations.
    pub now: Instant,
    /// Now, for timestamps.
    pub wall: jiff::Timestamp,
    /// Makes a new container id.
    pub new_id: &'a mut dyn FnMut() -> String,
}

impl Context<'_> {
    fn backoff(&self, failures: u32) -> Duration {
        let d = self
            .sim
            .pull_backoff
            .saturating_mul(1u32 << failures.saturating_sub(1).min(10))
            .min(MAX_BACKOFF);
        self.sim.scaled(d)
    }

    /// How long a failed pull shows ErrImagePull before ImagePullBackOff.
    fn hold(&self) -> Duration {
        self.sim
            .scaled(self.sim.pull_backoff / 5)
            .min(self.backoff(1) / 2)
    }

    fn time(&self) -> Time {
        meta::time_at(self.wall)
    }
}

/// The outcome of a step: the status the pod should have and what to record.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The pod's status.
    pub status: PodStatus,
    /// Events to record, in order.
    pub events: Vec<Event>,
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

/// The two events of a failed pull (ErrImagePull).
fn pull_failed(container: &str, image: &str) -> [Event; 2] {
    let msg = format!("Failed to pull image \"{image}\": {}", pull_error(image));
    [
        event(container, "Warning", "Failed", msg),
        event(container, "Warning", "Failed", "Error: ErrImagePull".into()),
    ]
}

fn pulling(container: &str, image: &str) -> Event {
    let msg = format!("Pulling image \"{image}\"");
    event(container, "Normal", "Pulling", msg)
}

/// Whether `image` is already on the node and will not be pulled again.
fn present(node: &NodeState, image: &str, policy: &str) -> bool {
    policy != "Always" && node.pulled.contains(image)
}

/// The runtime of a pod the sandbox found running before it (re)started.
fn adopt_running(pod: &Pod, now: Instant) -> Option<PodRuntime> {
    if pod.status.phase.as_deref() != Some("Running") {
        return None;
    }
    let mut containers = BTreeMap::new();
    for s in pod.status.container_statuses.as_ref()? {
        let started_at = s.state.as_ref()?.running.as_ref()?.started_at.clone()?;
        let id = s.container_id.clone().unwrap_or_default();
        containers.insert(s.name.clone(), Container::Running { started_at, id });
    }
    let mut rt = PodRuntime::new(now, pod.status.start_time.clone());
    rt.ip = Some(pod_ip(pod).to_owned()).filter(|i| !i.is_empty());
    rt.containers = containers;
    Some(rt)
}

/// The runtime of a pod seen for the first time (adopted when it already runs), and the
/// pulls it starts.
pub fn first_sight(pod: &Pod, ctx: &Context) -> (PodRuntime, Vec<Event>) {
    if let Some(rt) = adopt_running(pod, ctx.now) {
        return (rt, Vec::new());
    }
    let mut rt = PodRuntime::new(ctx.now, Some(ctx.time()));
    let mut events = Vec::new();
    for c in &pod.spec.containers {
        if !present(ctx.node, c.image, c.image_pull_policy) {
            events.push(pulling(c.name, c.image));
        }
        rt.containers.insert(c.name.to_owned(), Container::Creating);
    }
    (rt, events)
}

/// Advances a pod's containers to `ctx.now`; the status to write and the events to record.
pub fn step(rt: &mut PodRuntime, pod: &Pod, ctx: &mut Context) -> Step {
    let mut events = Vec::new();
    if ctx.now.duration_since(rt.started) >= ctx.sim.scaled(ctx.sim.pod_start) {
        if rt.ip.is_none() {
            let ip = match pod_ip(pod) {
                "" => (2..255)
                    .map(|n| format!("10.244.{}.{n}", ctx.node.index))
                    .find(|ip| !ctx.used_ips.contains(ip))
                    .unwrap_or_else(|| format!("10.244.{}.254", ctx.node.index)),
                existing => existing.to_owned(),
            };
            ctx.used_ips.insert(ip.clone());
            rt.ip = Some(ip);
        }
        for c in &pod.spec.containers {
            if let Some(state) = rt.containers.get_mut(c.name) {
                advance(
                    state,
                    c.name,
                    c.image,
                    c.image_pull_policy,
                    rt.started,
                    ctx,
                    &mut events,
                );
            }
        }
    }
    Step {
        status: status(rt, pod, ctx),
        events,
    }
}

/// One container's transition.
fn advance(
    state: &mut Container,
    name: &str,
    image: &str,
    policy: &str,
    started: Instant,
    ctx: &mut Context,
    events: &mut Vec<Event>,
) {
    let now = ctx.now;
    match state {
        Container::Running { .. } => {}
        Container::Creating if ctx.images.is_pullable(image) => {
            if present(ctx.node, image, policy) {
                let msg = format!("Container image \"{image}\" already present on machine");
                events.push(event(name, "Normal", "Pulled", msg));
            } else {
                let took = now.duration_since(started).as_millis() as f64 / 1000.0;
                let size = 50_000_000 + u64::from(fnv32a(image.as_bytes()) % 150_000_000);
                let msg = format!(
                    "Successfully pulled image \"{image}\" in {took:.3}s ({took:.3}s including waiting). Image size: {size} bytes."
                );
                events.push(event(name, "Normal", "Pulled", msg));
                ctx.node.pulled.insert(image.to_owned());
            }
            events.push(event(
                name,
                "Normal",
                "Created",
                format!("Created container: {name}"),
            ));
            events.push(event(
                name,
                "Normal",
                "Started",
                format!("Started container {name}"),
            ));
            *state = Container::Running {
                started_at: ctx.time(),
                id: format!("containerd://{}", (ctx.new_id)()),
            };
        }
        Container::Creating => {
            events.extend(pull_failed(name, image));
            *state = Container::PullError {
                since: now,
                failures: 1,
                backoff_shown: false,
            };
        }
        Container::PullError {
            since,
            failures,
            backoff_shown,
        } => {
            let waited = now.duration_since(*since);
            if waited >= ctx.backoff(*failures) {
                if ctx.images.is_pullable(image) {
                    *state = Container::Creating;
                    return;
                }
                events.push(pulling(name, image));
                events.extend(pull_failed(name, image));
                *since = now;
                *failures += 1;
                *backoff_shown = false;
            } else if !*backoff_shown && waited >= ctx.hold() {
                *backoff_shown = true;
                let msg = format!("Back-off pulling image \"{image}\"");
                events.push(event(name, "Normal", "BackOff", msg));
                events.push(event(
                    name,
                    "Warning",
                    "Failed",
                    "Error: ImagePullBackOff".into(),
                ));
            }
        }
    }
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_owned()),
            message,
        }),
        ..ContainerState::default()
    }
}

/// The pod status the runtime state implies; transition times are kept while values hold.
fn status(rt: &PodRuntime, pod: &Pod, ctx: &Context) -> PodStatus {
    let mut statuses = Vec::new();
    let mut unready = Vec::new();
    for c in &pod.spec.containers {
        let (name, image) = (c.name, c.image);
        let state = rt
            .containers
            .get(name)
            .cloned()
            .unwrap_or(Container::Creating);
        let mut s = ContainerStatus {
            name: name.to_owned(),
            image: image.to_owned(),
            image_id: String::new(),
            last_state: Some(ContainerState::default()),
            ready: false,
            restart_count: 0,
            started: Some(false),
            ..ContainerStatus::default()
        };
        match state {
            Container::Running { started_at, id } => {
                let (repo, _) = normalize_image(image);
                s.image = qualified_image(image);
                s.image_id = format!("{repo}@sha256:{}", image_digest(image));
                s.state = Some(ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(started_at),
                    }),
                    ..ContainerState::default()
                });
                s.ready = true;
                s.started = Some(true);
                s.container_id = Some(id);
            }
            Container::Creating => {
                s.state = Some(waiting("ContainerCreating", None));
                unready.push(name);
            }
            Container::PullError { backoff_shown, .. } => {
                s.state = Some(if backoff_shown {
                    let msg = format!("Back-off pulling image \"{image}\"");
                    waiting("ImagePullBackOff", Some(msg))
                } else {
                    waiting("ErrImagePull", Some(pull_error(image)))
                });
                unready.push(name);
            }
        }
        statuses.push(s);
    }
    let all_running = unready.is_empty() && !pod.spec.containers.is_empty();
    let now = ctx.time();
    let cond = |kind: &str, ok: bool, not_ready: Option<&str>| {
        let status = if ok { "True" } else { "False" };
        let since = pod_condition(pod, kind)
            .filter(|p| p.status == status)
            .and_then(|p| p.last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        let why = not_ready.filter(|_| !ok);
        PodCondition {
            type_: kind.to_owned(),
            status: status.to_owned(),
            last_transition_time: Some(since),
            reason: why.map(|_| "ContainersNotReady".to_owned()),
            message: why.map(str::to_owned),
            ..PodCondition::default()
        }
    };
    let not_ready = format!("containers with unready status: [{}]", unready.join(" "));
    let host_ip = ctx.node.host_ip.clone();
    PodStatus {
        phase: Some(if all_running { "Running" } else { "Pending" }.to_owned()),
        conditions: Some(vec![
            cond("PodReadyToStartContainers", rt.ip.is_some(), None),
            cond("Initialized", true, None),
            cond("Ready", all_running, Some(&not_ready)),
            cond("ContainersReady", all_running, Some(&not_ready)),
            cond("PodScheduled", true, None),
        ]),
        host_ips: Some(vec![HostIP {
            ip: host_ip.clone(),
        }]),
        host_ip: Some(host_ip),
        pod_ip: rt.ip.clone(),
        pod_ips: rt.ip.clone().map(|ip| vec![PodIP { ip }]),
        start_time: rt.start_time.clone(),
        container_statuses: Some(statuses),
        qos_class: Some(
            pod.status
                .qos_class
                .clone()
                .unwrap_or_else(|| "BestEffort".to_owned()),
        ),
        ..PodStatus::default()
    }
}

/// What stopping a pod does at `ctx.now`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    /// Events to record (the first time only).
    pub events: Vec<Event>,
    /// Whether the grace period is over: the pod can go.
    pub done: bool,
}

/// Stops a terminating pod: its running containers get killed, and it goes once its grace
/// period (the sandbox's, at most the pod's) is over.
pub fn stop(rt: &mut PodRuntime, pod: &Pod, sim: &SimConfig, now: Instant) -> Stop {
    let mut events = Vec::new();
    if rt.killing_since.is_none() {
        for c in &pod.spec.containers {
            let running = matches!(rt.containers.get(c.name), Some(Container::Running { .. }));
            if running {
                let msg = format!("Stopping container {}", c.name);
                events.push(event(c.name, "Normal", "Killing", msg));
            }
        }
        rt.killing_since = Some(now);
    }
    let since = rt.killing_since.unwrap_or(now);
    let grace_secs = pod
        .metadata
        .deletion_grace_period_seconds
        .unwrap_or(30)
        .max(0) as u64;
    let grace = sim.scaled(sim.grace.min(Duration::from_secs(grace_secs)));
    let done = now.duration_since(since) >= grace;
    Stop { events, done }
}

#[cfg(test)]
mod tests;
