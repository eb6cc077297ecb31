use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::sandbox::objects::view_of;

/// A catalogue of exactly these images.
struct Known(Vec<&'static str>);

impl Images for Known {
    fn is_pullable(&self, image: &str) -> bool {
        self.0.contains(&image)
    }
}

fn pod(image: &str) -> Value {
    json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
        "spec": {"nodeName": "n1", "containers": [
            {"name": "app", "image": image, "imagePullPolicy": "IfNotPresent"}
        ]},
        "status": {"phase": "Pending", "qosClass": "BestEffort"}
    })
}

/// A test bench for one pod: the simulation's timings, one node and a clock that only moves
/// when told to.
struct Bench {
    sim: SimConfig,
    images: Known,
    node: NodeState,
    used: HashSet<String>,
    start: Instant,
    ids: u32,
}

impl Bench {
    fn new(images: Vec<&'static str>) -> Self {
        Bench {
            sim: SimConfig::default(),
            images: Known(images),
            node: NodeState {
                index: 1,
                host_ip: "172.18.0.3".to_owned(),
                pulled: HashSet::new(),
            },
            used: HashSet::new(),
            start: Instant::now(),
            ids: 0,
        }
    }

    /// The kubelet's first sight of `pod`, at the start.
    fn first_sight(&mut self, pod: &Pod) -> (PodRuntime, Vec<Event>) {
        self.at(Duration::ZERO, |ctx| first_sight(pod, ctx))
    }

    /// Runs `f` with a context at `at` after the start.
    fn at<T>(&mut self, at: Duration, f: impl FnOnce(&mut Context) -> T) -> T {
        let ids = &mut self.ids;
        let mut new_id = || {
            *ids += 1;
            format!("{ids:064}")
        };
        let mut ctx = Context {
            sim: &self.sim,
            images: &self.images,
            node: &mut self.node,
            used_ips: &mut self.used,
            now: self.start + at,
            wall: "2026-01-01T00:00:00Z".parse::<jiff::Timestamp>().unwrap()
                + jiff::SignedDuration::try_from(at).unwrap(),
            new_id: &mut new_id,
        };
        f(&mut ctx)
    }
}

fn reasons(events: &[Event]) -> Vec<(&str, &str)> {
    events
        .iter()
        .map(|e| (e.reason, e.message.as_str()))
        .collect()
}

fn waiting_reason(step: &Step) -> Option<String> {
    let cs = step.status.container_statuses.as_ref()?.first()?;
    cs.state.as_ref()?.waiting.as_ref()?.reason.clone()
}

fn ready(step: &Step) -> Option<String> {
    step.status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

#[test]
fn a_pullable_image_runs_once_the_pod_has_started() {
    let json = pod("nginx:1.27");
    let pod: Pod = view_of(&json);
    let mut bench = Bench::new(vec!["nginx:1.27"]);
    let (mut rt, pulls) = bench.first_sight(&pod);
    assert_eq!(
        reasons(&pulls),
        vec![("Pulling", "Pulling image \"nginx:1.27\"")]
    );
    let early = bench.at(Duration::from_millis(10), |ctx| step(&mut rt, &pod, ctx));
    assert!(early.events.is_empty());
    assert_eq!(waiting_reason(&early).as_deref(), Some("ContainerCreating"));
    assert_eq!(early.status.phase.as_deref(), Some("Pending"));
    assert_eq!(early.status.pod_ip, None);
    let started = bench.at(Duration::from_secs(1), |ctx| step(&mut rt, &pod, ctx));
    let got: Vec<&str> = started.events.iter().map(|e| e.reason).collect();
    assert_eq!(got, vec!["Pulled", "Created", "Started"]);
    assert!(
        started
            .events
            .iter()
            .all(|e| e.container == "app" && e.kind == "Normal")
    );
    assert_eq!(started.status.phase.as_deref(), Some("Running"));
    assert_eq!(started.status.pod_ip.as_deref(), Some("10.244.1.2"));
    assert_eq!(ready(&started).as_deref(), Some("True"));
    let cs = &started.status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(cs.image, "docker.io/library/nginx:1.27");
    assert_eq!(
        cs.container_id.as_deref(),
        Some(format!("containerd://{:064}", 1).as_str())
    );
    assert!(rt.settled());
    // Settled: later steps change nothing and say nothing.
    let later = bench.at(Duration::from_secs(5), |ctx| step(&mut rt, &pod, ctx));
    assert!(later.events.is_empty());
    assert_eq!(
        later.status.container_statuses,
        started.status.container_statuses
    );
}

#[test]
fn a_missing_image_fails_then_backs_off_and_retries_with_one_pair_of_pull_errors() {
    let json = pod("nginx:lates");
    let pod: Pod = view_of(&json);
    let mut bench = Bench::new(vec![]);
    let (mut rt, _) = bench.first_sight(&pod);
    let failed = bench.at(Duration::from_secs(1), |ctx| step(&mut rt, &pod, ctx));
    let got: Vec<(&str, &str)> = failed.events.iter().map(|e| (e.kind, e.reason)).collect();
    assert_eq!(got, vec![("Warning", "Failed"), ("Warning", "Failed")]);
    assert_eq!(failed.events[1].message, "Error: ErrImagePull");
    assert!(
        failed.events[0]
            .message
            .contains("docker.io/library/nginx:lates: not found")
    );
    assert_eq!(waiting_reason(&failed).as_deref(), Some("ErrImagePull"));
    assert_eq!(ready(&failed).as_deref(), Some("False"));
    // The hold (a fifth of the first 10 s back-off) passes: ImagePullBackOff, once.
    let backoff = bench.at(Duration::from_secs(3), |ctx| step(&mut rt, &pod, ctx));
    assert_eq!(
        reasons(&backoff.events),
        vec![
            ("BackOff", "Back-off pulling image \"nginx:lates\""),
            ("Failed", "Error: ImagePullBackOff")
        ]
    );
    assert_eq!(
        waiting_reason(&backoff).as_deref(),
        Some("ImagePullBackOff")
    );
    let quiet = bench.at(Duration::from_secs(4), |ctx| step(&mut rt, &pod, ctx));
    assert!(quiet.events.is_empty());
    // The back-off (10 s) is over: pull again, fail again, now waiting 20 s.
    let retry = bench.at(Duration::from_secs(11), |ctx| step(&mut rt, &pod, ctx));
    let got: Vec<&str> = retry.events.iter().map(|e| e.reason).collect();
    assert_eq!(got, vec!["Pulling", "Failed", "Failed"]);
    assert_eq!(retry.events[2].message, "Error: ErrImagePull");
    assert!(matches!(
        rt.containers.get("app"),
        Some(Container::PullError { failures: 2, .. })
    ));
    let waiting = bench.at(Duration::from_secs(25), |ctx| step(&mut rt, &pod, ctx));
    assert_eq!(reasons(&waiting.events)[0].0, "BackOff");
    let still = bench.at(Duration::from_secs(30), |ctx| step(&mut rt, &pod, ctx));
    assert!(still.events.is_empty(), "{:?}", still.events);
}

#[test]
fn an_image_that_appears_in_the_catalogue_is_pulled_after_the_back_off() {
    let json = pod("web:2");
    let pod: Pod = view_of(&json);
    let mut bench = Bench::new(vec![]);
    let (mut rt, _) = bench.first_sight(&pod);
    bench.at(Duration::from_secs(1), |ctx| step(&mut rt, &pod, ctx));
    bench.images = Known(vec!["web:2"]);
    let back = bench.at(Duration::from_secs(12), |ctx| step(&mut rt, &pod, ctx));
    assert!(back.events.is_empty());
    assert_eq!(waiting_reason(&back).as_deref(), Some("ContainerCreating"));
    let running = bench.at(Duration::from_secs(13), |ctx| step(&mut rt, &pod, ctx));
    assert_eq!(running.status.phase.as_deref(), Some("Running"));
}

#[test]
fn an_image_already_on_the_node_is_not_pulled_again() {
    let json = pod("nginx:1.27");
    let pod: Pod = view_of(&json);
    let mut bench = Bench::new(vec!["nginx:1.27"]);
    bench.node.pulled.insert("nginx:1.27".to_owned());
    let (mut rt, pulls) = bench.first_sight(&pod);
    assert!(pulls.is_empty());
    let started = bench.at(Duration::from_secs(1), |ctx| step(&mut rt, &pod, ctx));
    assert_eq!(
        reasons(&started.events)[0],
        (
            "Pulled",
            "Container image \"nginx:1.27\" already present on machine"
        )
    );
}

#[test]
fn a_pod_running_before_a_restart_is_adopted_as_it_is() {
    let json = json!({
        "metadata": {"name": "web", "uid": "u1"},
        "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "nginx:1.27"}]},
        "status": {"phase": "Running", "podIP": "10.244.1.7", "startTime": "2026-01-01T00:00:00Z",
            "containerStatuses": [{"name": "app", "image": "nginx:1.27", "imageID": "", "ready": true,
                "restartCount": 0, "containerID": "containerd://abc",
                "state": {"running": {"startedAt": "2026-01-01T00:00:01Z"}}}]}
    });
    let pod: Pod = view_of(&json);
    let mut bench = Bench::new(vec!["nginx:1.27"]);
    let (mut rt, pulls) = bench.first_sight(&pod);
    assert!(pulls.is_empty());
    assert!(rt.settled());
    assert_eq!(rt.ip.as_deref(), Some("10.244.1.7"));
    let step = bench.at(Duration::from_secs(2), |ctx| step(&mut rt, &pod, ctx));
    assert!(step.events.is_empty());
    let cs = &step.status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(cs.container_id.as_deref(), Some("containerd://abc"));
    assert_eq!(step.status.pod_ip.as_deref(), Some("10.244.1.7"));
}

#[test]
fn stopping_kills_running_containers_once_and_ends_after_the_grace_period() {
    let json = pod("nginx:1.27");
    let mut json = json;
    json_patch::merge(
        &mut json,
        &json!({"metadata": {"deletionGracePeriodSeconds": 30}}),
    );
    let pod: Pod = view_of(&json);
    let sim = SimConfig::default();
    let start = Instant::now();
    let mut rt = PodRuntime::new(start, None);
    rt.containers.insert(
        "app".to_owned(),
        Container::Running {
            started_at: meta::time_at(jiff::Timestamp::UNIX_EPOCH),
            id: "x".to_owned(),
        },
    );
    let first = stop(&mut rt, &pod, &sim, start);
    assert_eq!(
        reasons(&first.events),
        vec![("Killing", "Stopping container app")]
    );
    assert!(!first.done);
    let again = stop(&mut rt, &pod, &sim, start + Duration::from_secs(1));
    assert!(again.events.is_empty() && !again.done);
    // The sandbox's grace (2 s) is shorter than the pod's (30 s).
    assert!(stop(&mut rt, &pod, &sim, start + Duration::from_secs(2)).done);
}
