//! The `cluster` and `check` modules against the embedded sandbox with the real kube-rs client:
//! goals turn met through the watches, and a lost API server is reported and recovered.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kubetutor::check::{
    Baseline, GoalContext, GoalStatus, HttpProbe, World, evaluate, merge_specs, requirements,
};
use kubetutor::cluster::{Cluster, ClusterChoice, ClusterEvent, WatchSet, connect};
use kubetutor::lesson::model::{Goal, ImageSpec};
use kubetutor::sandbox::{Sandbox, SandboxConfig};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

fn images() -> Vec<ImageSpec> {
    serde_yaml::from_str("- image: example/app:v1\n  port: 80\n  response: 'Hello from {pod}'\n")
        .expect("catalogue parses")
}

fn goal(yaml: &str) -> Goal {
    serde_yaml::from_str(yaml).expect("goal parses")
}

async fn start_sandbox(dir: &Path) -> Sandbox {
    let config = SandboxConfig {
        kubeconfig: Some(dir.join("kubeconfig")),
        images: images().iter().map(Into::into).collect(),
        speed: 20.0,
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.expect("the sandbox starts")
}

async fn watch_goals(cluster: &Cluster, goals: &[Goal]) -> WatchSet {
    let specs = merge_specs(goals.iter().flat_map(|g| requirements(g, "default")));
    let watches = cluster.watch(specs).await.expect("watches start");
    watches
        .wait_synced(Duration::from_secs(10))
        .await
        .expect("watches sync");
    watches
}

/// Re-evaluates on every cluster event until the goal holds; the last status on timeout.
async fn wait_met(
    watches: &mut WatchSet,
    goal: &Goal,
    ctx: &GoalContext,
    limit: Duration,
) -> Result<World, GoalStatus> {
    let deadline = Instant::now() + limit;
    loop {
        let world = watches.world();
        let status = evaluate(goal, &world, ctx);
        if status.met {
            return Ok(world);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero()
            || tokio::time::timeout(left, watches.next_event())
                .await
                .is_err()
        {
            return Err(status);
        }
    }
}

fn web_deployment(replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "example/app:v1"}]}}
        }
    }))
    .expect("deployment parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_turn_met_through_the_watches_once_the_api_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = start_sandbox(dir.path()).await;
    let cluster = connect(ClusterChoice {
        context: None,
        kubeconfig: Some(sandbox.kubeconfig_path().to_owned()),
    })
    .await
    .expect("the sandbox answers");
    assert!(cluster.is_practice(), "{cluster:?}");
    let deployed = goal("kind: deployed\ndeployment: web\nimage: example/app:v1\nready: 2\n");
    let exposed = goal("kind: exposed\ndeployment: web\ntype: NodePort\nport: 80\n");
    let goals = [deployed.clone(), exposed.clone()];
    let mut watches = watch_goals(&cluster, &goals).await;
    let ctx = GoalContext::new(
        "default",
        Baseline::capture(&watches.world(), &goals, "default"),
    );
    let status = evaluate(&deployed, &watches.world(), &ctx);
    assert_eq!(
        status.summary,
        "no Deployment named web in namespace default"
    );

    let deployments: Api<Deployment> = Api::namespaced(cluster.client().clone(), "default");
    deployments
        .create(&PostParams::default(), &web_deployment(2))
        .await
        .expect("create deployment");
    let world = wait_met(&mut watches, &deployed, &ctx, Duration::from_secs(20))
        .await
        .unwrap_or_else(|s| panic!("deployed never met: {}", s.summary));
    // The watches never run ahead of the API: it already shows what met the goal. How soon
    // after the API a goal turns met is a figure of `benches/runner.rs`.
    let ready = deployments
        .get("web")
        .await
        .expect("get deployment")
        .status
        .and_then(|s| s.ready_replicas);
    assert_eq!(ready, Some(2));
    assert!(
        world
            .get("apps/v1", "Deployment", "default", "web")
            .is_some()
    );

    // Expose it, and reach it through the service proxy.
    assert!(
        evaluate(&exposed, &world, &ctx)
            .summary
            .starts_with("no Service named web")
    );
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}
    }))
    .unwrap();
    Api::<Service>::namespaced(cluster.client().clone(), "default")
        .create(&PostParams::default(), &service)
        .await
        .expect("create service");
    wait_met(&mut watches, &exposed, &ctx, Duration::from_secs(20))
        .await
        .unwrap_or_else(|s| panic!("exposed never met: {}", s.summary));
    match cluster.probe_http("default", "web", 80, "/").await {
        HttpProbe::Response { status, body } => {
            assert_eq!(status, 200, "{body}");
            assert!(body.contains("Hello from web-"), "{body}");
        }
        HttpProbe::Error(why) => panic!("the service proxy failed: {why}"),
    }

    let http: kubetutor::lesson::model::HttpGoal =
        serde_yaml::from_str("service: web\ncontains: Hello from\ndistinct: 2\n").unwrap();
    let status = cluster.check_http(&http, &watches.world(), "default").await;
    assert!(status.met, "{}", status.summary);
    let mut wrong = http.clone();
    wrong.contains = "Goodbye".into();
    wrong.distinct = 1;
    let status = cluster
        .check_http(&wrong, &watches.world(), "default")
        .await;
    assert!(
        status
            .summary
            .starts_with("Service web answered / without \"Goodbye\""),
        "{}",
        status.summary
    );
    let mut missing = wrong.clone();
    missing.service = "nope".into();
    let status = cluster
        .check_http(&missing, &watches.world(), "default")
        .await;
    assert_eq!(status.summary, "no Service named nope in namespace default");

    // Changes reach the goals through the open watches: judging a goal again after each costs
    // no request. Counted over changes each seen through the watches, not over seconds; how
    // few requests a quiet wait makes is a figure of `benches/runner.rs`.
    const CHANGES: u64 = 10;
    let before = sandbox.requests_served();
    for n in 0..CHANGES {
        let note = json!({"metadata": {"annotations": {"kubetutor.test/n": n.to_string()}}});
        deployments
            .patch("web", &PatchParams::default(), &Patch::Merge(&note))
            .await
            .expect("annotate deployment");
        let annotated = goal(&format!(
            "kind: resource\ntarget: {{apiVersion: apps/v1, kind: Deployment, name: web}}\n\
             matches: {{metadata: {{annotations: {{kubetutor.test/n: '{n}'}}}}}}\n"
        ));
        wait_met(&mut watches, &annotated, &ctx, Duration::from_secs(20))
            .await
            .unwrap_or_else(|s| panic!("change {n} never seen: {}", s.summary));
    }
    let during = sandbox.requests_served() - before - CHANGES;
    eprintln!("requests besides the test's {CHANGES} changes: {during}");
    assert!(during <= 1, "{during} requests for {CHANGES} changes");
    drop(watches);
    sandbox.shutdown().await;
}

/// A TCP forwarder to the sandbox that can be cut and restored on the same port, standing in
/// for an API server that goes away and comes back.
struct Relay {
    port: u16,
    target: std::net::SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr, port: u16) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("relay binds");
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let conns = tasks.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(acceptor);
        Relay {
            port,
            target,
            tasks,
        }
    }

    /// Closes the listener and every relayed connection.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

fn relayed_kubeconfig(sandbox: &Sandbox, port: u16, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(sandbox.kubeconfig_path()).unwrap();
    let text = text.replace(&sandbox.server_url(), &format!("https://127.0.0.1:{port}"));
    let path = dir.join("relayed-kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

async fn next_event(watches: &mut WatchSet, limit: Duration) -> ClusterEvent {
    loop {
        match tokio::time::timeout(limit, watches.next_event()).await {
            Ok(Some(ClusterEvent::Changed)) => continue,
            Ok(Some(event)) => return event,
            Ok(None) => panic!("the watch set stopped"),
            Err(_) => panic!("no Lost/Restored event within {limit:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_api_server_is_reported_and_watching_resumes_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = start_sandbox(dir.path()).await;
    let relay = Relay::start(sandbox.addr(), 0).await;
    let kubeconfig = relayed_kubeconfig(&sandbox, relay.port, dir.path());
    let cluster = connect(ClusterChoice {
        context: None,
        kubeconfig: Some(kubeconfig),
    })
    .await
    .expect("relay answers");
    let deployed = goal("kind: deployed\ndeployment: web\nimage: example/app:v1\n");
    let mut watches = watch_goals(&cluster, std::slice::from_ref(&deployed)).await;
    let ctx = GoalContext::new("default", Baseline::default());

    relay.cut();
    match next_event(&mut watches, Duration::from_secs(15)).await {
        // Cut connections reset or close mid-TLS; new ones are refused: any may come first.
        ClusterEvent::Lost(why) => assert!(
            [
                "connection refused",
                "connection reset",
                "connection closed"
            ]
            .contains(&why.as_str()),
            "{why}"
        ),
        other => panic!("expected Lost, got {other:?}"),
    }
    // While the API is unreachable, the deployment is created behind the watches' back.
    let direct = connect(ClusterChoice {
        context: None,
        kubeconfig: Some(sandbox.kubeconfig_path().to_owned()),
    })
    .await
    .expect("the sandbox itself answers");
    Api::<Deployment>::namespaced(direct.client().clone(), "default")
        .create(&PostParams::default(), &web_deployment(1))
        .await
        .expect("create deployment");

    let relay = Relay::start(relay.target, relay.port).await;
    assert_eq!(
        next_event(&mut watches, Duration::from_secs(15)).await,
        ClusterEvent::Restored
    );
    wait_met(&mut watches, &deployed, &ctx, Duration::from_secs(20))
        .await
        .unwrap_or_else(|s| panic!("watching did not resume: {}", s.summary));
    relay.cut();
    drop(watches);
    sandbox.shutdown().await;
}

/// Runs the real kubectl against a kubeconfig with a private HOME and discovery cache.
fn kubectl(kubectl: &Path, kubeconfig: &Path, home: &Path, args: &[&str]) {
    let out = std::process::Command::new(kubectl)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("KUBECACHEDIR", home.join("cache"))
        .env("HOME", home)
        .env_remove("KUBECTL_KUBERC")
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One step as the runner plays it: baseline at the start, then the learner's command, then
/// the goals re-evaluated on every event until they hold.
async fn step(watches: &mut WatchSet, goals: &[Goal], act: impl FnOnce()) -> Vec<GoalStatus> {
    let ctx = GoalContext::new(
        "default",
        Baseline::capture(&watches.world(), goals, "default"),
    );
    let before: Vec<GoalStatus> = goals
        .iter()
        .map(|g| evaluate(g, &watches.world(), &ctx))
        .collect();
    act();
    for goal in goals {
        wait_met(watches, goal, &ctx, Duration::from_secs(30))
            .await
            .unwrap_or_else(|s| panic!("{} never met: {}", goal.kind_name(), s.summary));
    }
    before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_aware_goals_follow_real_kubectl_rollouts() {
    let Some(kubectl_path) = crate::common::real_kubectl() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let images: Vec<ImageSpec> = serde_yaml::from_str(
        "- image: example/app:v1\n  response: 'v1 {pod}'\n- image: example/app:v2\n  response: 'v2 {pod}'\n",
    )
    .unwrap();
    let config = SandboxConfig {
        kubeconfig: Some(dir.path().join("kubeconfig")),
        images: images.iter().map(Into::into).collect(),
        speed: 20.0,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
    let kubeconfig = sandbox.kubeconfig_path().to_owned();
    let run = |args: &[&str]| kubectl(&kubectl_path, &kubeconfig, dir.path(), args);
    let cluster = connect(ClusterChoice {
        context: None,
        kubeconfig: Some(kubeconfig.clone()),
    })
    .await
    .unwrap();
    let all_goals = [
        goal("kind: rolled_back\ndeployment: web\nimage: example/app:v2\n"),
        goal("kind: scaled\ndeployment: web\nreplicas: 3\n"),
    ];
    let mut watches = watch_goals(&cluster, &all_goals).await;

    step(
        &mut watches,
        &[goal(
            "kind: deployed\ndeployment: web\nimage: example/app:v1\n",
        )],
        || run(&["create", "deployment", "web", "--image=example/app:v1"]),
    )
    .await;

    let before = step(
        &mut watches,
        &[goal("kind: scaled\ndeployment: web\nreplicas: 3\n")],
        || run(&["scale", "deployment/web", "--replicas=3"]),
    )
    .await;
    assert_eq!(
        before[0].summary,
        "deployment web asks for 1 replicas, expected 3"
    );
    step(
        &mut watches,
        &[goal("kind: scaled\ndeployment: web\nreplicas: 1\n")],
        || run(&["scale", "deployment/web", "--replicas=1"]),
    )
    .await;

    let updated = goal("kind: updated\ndeployment: web\nimage: example/app:v2\n");
    let before = step(&mut watches, std::slice::from_ref(&updated), || {
        run(&["set", "image", "deployment/web", "app=example/app:v2"])
    })
    .await;
    assert_eq!(
        before[0].summary,
        "deployment web runs example/app:v1, expected example/app:v2"
    );
    // The same goal in a later step is not met by what was already true.
    let ctx = GoalContext::new(
        "default",
        Baseline::capture(&watches.world(), std::slice::from_ref(&updated), "default"),
    );
    assert!(!evaluate(&updated, &watches.world(), &ctx).met);

    step(
        &mut watches,
        &[goal(
            "kind: rollout_stuck\ndeployment: web\nimage: example/app:v10\n",
        )],
        || run(&["set", "image", "deployment/web", "app=example/app:v10"]),
    )
    .await;

    let rolled_back = goal("kind: rolled_back\ndeployment: web\nimage: example/app:v2\n");
    let before = step(&mut watches, std::slice::from_ref(&rolled_back), || {
        run(&["rollout", "undo", "deployment/web"])
    })
    .await;
    assert_eq!(
        before[0].summary,
        "deployment web runs example/app:v10, expected example/app:v2"
    );
    drop(watches);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_survive_a_sandbox_restart_with_new_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        kubeconfig: Some(dir.path().join("kubeconfig")),
        state: Some(dir.path().join("state.json")),
        images: images().iter().map(Into::into).collect(),
        speed: 20.0,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config.clone())
        .await
        .expect("the sandbox starts");
    let choice = ClusterChoice {
        context: None,
        kubeconfig: Some(sandbox.kubeconfig_path().to_owned()),
    };
    let cluster = connect(choice.clone()).await.expect("the sandbox answers");
    Api::<Deployment>::namespaced(cluster.client().clone(), "default")
        .create(&PostParams::default(), &web_deployment(1))
        .await
        .expect("create deployment");
    let deployed = goal("kind: deployed\ndeployment: web\nimage: example/app:v1\n");
    let scaled = goal("kind: scaled\ndeployment: web\nreplicas: 2\n");
    let mut watches = watch_goals(&cluster, &[deployed.clone(), scaled.clone()]).await;
    let ctx = GoalContext::new("default", Baseline::default());
    wait_met(&mut watches, &deployed, &ctx, Duration::from_secs(20))
        .await
        .unwrap_or_else(|s| panic!("deployed never met: {}", s.summary));

    let addr = sandbox.addr();
    sandbox.shutdown().await;
    assert!(matches!(
        next_event(&mut watches, Duration::from_secs(15)).await,
        ClusterEvent::Lost(_)
    ));
    // Same address and state, but a new certificate authority and token.
    let restarted = Sandbox::start(SandboxConfig {
        listen: addr,
        ..config
    })
    .await
    .expect("the sandbox restarts on the same port");
    assert_eq!(
        next_event(&mut watches, Duration::from_secs(20)).await,
        ClusterEvent::Restored
    );
    let direct = connect(choice)
        .await
        .expect("the restarted sandbox answers");
    Api::<Deployment>::namespaced(direct.client().clone(), "default")
        .patch(
            "web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .expect("scale deployment");
    wait_met(&mut watches, &scaled, &ctx, Duration::from_secs(20))
        .await
        .unwrap_or_else(|s| {
            panic!(
                "watching did not resume on the new credentials: {}",
                s.summary
            )
        });
    drop(watches);
    restarted.shutdown().await;
}
