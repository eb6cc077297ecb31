//! The runner's figures on any cluster: how soon `goal_met` follows a change in the API, and
//! how many requests a runner makes while it waits on a step. Shared by `benches/runner.rs`
//! (the sandbox) and `benches/testbed.rs` (the sandbox beside the real control plane).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use axum::http::Request;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Config};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

/// Samples of the delay figure.
pub const SAMPLES: usize = 20;
/// How long the runner is watched waiting on a step that does not hold.
pub const IDLE: Duration = Duration::from_secs(20);
/// Settling time after a step starts, so its initial list and watch are not counted or timed.
const SETTLE: Duration = Duration::from_millis(500);
/// Longest wait for one runner event (bounds a broken run).
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);
/// The lesson's namespace.
const NAMESPACE: &str = "bench";

/// How the runner's requests are counted.
pub enum Requests {
    /// The sandbox's `/metrics` (every request it served, the bench's scrapes included).
    SandboxMetrics,
    /// The lines of an API server's audit log that record only the runner's user.
    AuditLog(PathBuf),
}

impl Requests {
    async fn count(&self, client: &Client) -> Result<u64> {
        match self {
            Requests::SandboxMetrics => request_total(client).await,
            Requests::AuditLog(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("failed to read the audit log {}", path.display()))?;
                // One ResponseComplete per request (watches add a ResponseStarted).
                Ok(text
                    .lines()
                    .filter(|l| l.contains("\"stage\":\"ResponseComplete\""))
                    .count() as u64)
            }
        }
    }

    /// Requests of the bench's own that the count includes.
    fn own(&self) -> u64 {
        match self {
            // The `before` scrape is counted once it has rendered, so it shows up in `after`.
            Requests::SandboxMetrics => 1,
            Requests::AuditLog(_) => 0,
        }
    }
}

/// What the bench measured.
pub struct Figures {
    /// Delay from the API's answer to a patch to the runner's `goal_met` `ts`, in ms, sorted.
    pub delays: Vec<f64>,
    /// Round trip of the patches themselves, in ms, sorted (for context).
    pub round_trips: Vec<f64>,
    /// Requests the runner made while waiting [`IDLE`] on one step.
    pub idle_requests: u64,
    /// The sandbox's request totals around that window, so the subtraction can be checked.
    pub window: (u64, u64),
}

/// A lesson of [`SAMPLES`] steps, each met when the ConfigMap `bench` has `data.n` equal to its
/// number, then one step that never holds.
pub fn lesson() -> String {
    let mut text = format!("version: 1\ntitle: Runner benchmark\nnamespace: {NAMESPACE}\nsteps:\n");
    let goal = |n: &str| {
        format!(
            "    timeout: 60s\n    goals:\n      - kind: resource\n        target: {{apiVersion: v1, kind: ConfigMap, name: bench}}\n        matches: {{data: {{n: \"{n}\"}}}}\n"
        )
    };
    for n in 1..=SAMPLES {
        text.push_str(&format!("  - id: s{n}\n    title: Sample {n}\n"));
        text.push_str(&goal(&n.to_string()));
    }
    text.push_str("  - id: idle\n    title: Never holds\n");
    text.push_str(&goal("never"));
    text
}

/// Plays the bench lesson with `kubetutor run --context CONTEXT` against the cluster of
/// `kubeconfig` (whose current context is used for the bench's own client), counting the
/// runner's requests with `requests`.
pub async fn measure_on(
    kubeconfig: &Path,
    context: &str,
    dir: &Path,
    requests: &Requests,
) -> Result<Figures> {
    let kubeconfig_text = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let client = Client::try_from(
        Config::from_custom_kubeconfig(kubeconfig_text, &Default::default()).await?,
    )?;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let _ = namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?,
        )
        .await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    configmaps
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "bench"}, "data": {"n": "0"}}))?,
        )
        .await?;

    std::fs::create_dir_all(dir)?;
    let lesson_path = dir.join("bench.yaml");
    std::fs::write(&lesson_path, lesson())?;
    let mut child = Command::new(binary())
        .arg("run")
        .arg(&lesson_path)
        .args(["--context", context, "--no-input", "--json"])
        .env("KUBECONFIG", kubeconfig)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("HOME", dir)
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("failed to start kubetutor run")?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut events = BufReader::new(stdout).lines();

    let mut delays = Vec::new();
    let mut round_trips = Vec::new();
    for n in 1..=SAMPLES {
        wait_for(&mut events, "step_started", &format!("s{n}")).await?;
        tokio::time::sleep(SETTLE).await;
        let patch = json!({"data": {"n": n.to_string()}});
        let sent = jiff::Timestamp::now();
        configmaps
            .patch("bench", &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        let answered = jiff::Timestamp::now();
        let met = wait_for(&mut events, "goal_met", &format!("s{n}")).await?;
        let met: jiff::Timestamp = met["ts"]
            .as_str()
            .ok_or_else(|| anyhow!("goal_met without ts"))?
            .parse()?;
        delays.push(met.duration_since(answered).as_secs_f64() * 1000.0);
        round_trips.push(answered.duration_since(sent).as_secs_f64() * 1000.0);
    }

    wait_for(&mut events, "step_started", "idle").await?;
    tokio::time::sleep(SETTLE).await;
    let before = requests.count(&client).await?;
    tokio::time::sleep(IDLE).await;
    let after = requests.count(&client).await?;
    let idle_requests = after.saturating_sub(before + requests.own());
    let _ = child.kill().await;

    delays.sort_by(f64::total_cmp);
    round_trips.sort_by(f64::total_cmp);
    Ok(Figures {
        delays,
        round_trips,
        idle_requests,
        window: (before, after),
    })
}

/// The release `kubetutor` cargo built for this bench, unless `$KUBETUTOR_BIN` says otherwise.
pub fn binary() -> PathBuf {
    std::env::var_os("KUBETUTOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kubetutor")))
}

/// Reads runner events until `event` for `step`; a failed step or an early end is an error.
async fn wait_for(
    events: &mut Lines<BufReader<ChildStdout>>,
    event: &str,
    step: &str,
) -> Result<Value> {
    loop {
        let line = tokio::time::timeout(EVENT_TIMEOUT, events.next_line())
            .await
            .with_context(|| format!("no {event} for {step} in {EVENT_TIMEOUT:?}"))??
            .ok_or_else(|| anyhow!("the runner ended before {event} for {step}"))?;
        let value: Value =
            serde_json::from_str(&line).with_context(|| format!("stdout is not JSON: {line}"))?;
        match value["event"].as_str() {
            Some(e) if e == event && value["step"] == step => return Ok(value),
            Some("step_failed" | "lesson_failed") => bail!("the runner failed: {line}"),
            _ => {}
        }
    }
}

/// The sum of every `apiserver_request_total` series on the sandbox's `/metrics`.
async fn request_total(client: &Client) -> Result<u64> {
    let text = client
        .request_text(Request::get("/metrics").body(Vec::new())?)
        .await?;
    Ok(text
        .lines()
        .filter(|line| line.starts_with("apiserver_request_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
