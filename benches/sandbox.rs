//! Sandbox benchmark (issue 3): ready time from spawn, 1000 replicas all ready and listed,
//! RSS at 1000 pods. Measured through real clients (kube-rs, raw Table requests) like a
//! learner's tools would; it reports figures and never asserts timings.
//!
//! Run with `cargo bench --bench sandbox`. Cargo builds the release `kubetutor` binary for
//! benches; the spawn and RSS figures run it as a separate process (override with
//! `$KUBETUTOR_BIN`), so the bench's own client memory does not count.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config};
use kubetutor::sandbox::{Sandbox, SandboxConfig};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Runs per ready-time figure (the median is reported).
const READY_RUNS: usize = 10;
/// Replicas of the big deployment.
const REPLICAS: i32 = 1000;
/// Longest wait for the replicas (the target is 60 s; this only bounds a broken run).
const REPLICAS_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest wait for one spawned sandbox to answer.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(20);

/// One line of the report.
struct Row {
    metric: String,
    value: String,
    target: String,
    verdict: &'static str,
}

#[derive(Default)]
struct Report(Vec<Row>);

impl Report {
    /// A figure with a target: PASS when `value <= target`.
    fn timed(&mut self, metric: &str, value: f64, unit: &str, target: Option<f64>) {
        let (target_s, verdict) = match target {
            Some(t) if value <= t => (format!("<= {t} {unit}"), "PASS"),
            Some(t) => (format!("<= {t} {unit}"), "MISS"),
            None => ("-".to_owned(), "info"),
        };
        self.0.push(Row {
            metric: metric.to_owned(),
            value: format!("{value:.3} {unit}"),
            target: target_s,
            verdict,
        });
    }

    fn note(&mut self, metric: &str, value: String) {
        self.0.push(Row {
            metric: metric.to_owned(),
            value,
            target: "-".to_owned(),
            verdict: "info",
        });
    }

    fn print(&self) {
        let w0 = self
            .0
            .iter()
            .map(|r| r.metric.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let w1 = self
            .0
            .iter()
            .map(|r| r.value.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let w2 = self
            .0
            .iter()
            .map(|r| r.target.len())
            .max()
            .unwrap_or(6)
            .max(6);
        println!();
        println!(
            "{:w0$}  {:>w1$}  {:w2$}  RESULT",
            "METRIC", "VALUE", "TARGET"
        );
        for r in &self.0 {
            println!(
                "{:w0$}  {:>w1$}  {:w2$}  {}",
                r.metric, r.value, r.target, r.verdict
            );
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

async fn client_for(kubeconfig: &Path) -> Result<Client> {
    let kc =
        kube::config::Kubeconfig::read_from(kubeconfig).context("failed to read kubeconfig")?;
    let config = Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .context("failed to load kubeconfig")?;
    Client::try_from(config).context("failed to build the client")
}

/// Builds a client and asks `/version` until it answers (authenticated, over TLS).
async fn first_version(kubeconfig: &Path) -> Result<Client> {
    let deadline = Instant::now() + SPAWN_TIMEOUT;
    loop {
        let attempt = async {
            let client = client_for(kubeconfig).await?;
            client.apiserver_version().await?;
            Ok::<_, anyhow::Error>(client)
        };
        match attempt.await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() > deadline => return Err(e.context("no /version answer")),
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Time from `Sandbox::start` to the first answered `/version`, in seconds.
async fn ready_in_process(dir: &Path) -> Result<f64> {
    let kubeconfig = dir.join("inproc-kubeconfig");
    let t0 = Instant::now();
    let sandbox = Sandbox::start(SandboxConfig {
        kubeconfig: Some(kubeconfig.clone()),
        ..SandboxConfig::default()
    })
    .await?;
    first_version(&kubeconfig).await?;
    let elapsed = t0.elapsed().as_secs_f64();
    sandbox.shutdown().await;
    Ok(elapsed)
}

/// A `kubetutor sandbox` child process and the kubeconfig it printed.
struct Spawned {
    child: tokio::process::Child,
    kubeconfig: PathBuf,
}

impl Spawned {
    fn pid(&self) -> Option<u32> {
        self.child.id()
    }
    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Spawns the binary and waits for its `KUBECONFIG=` line.
async fn spawn_binary(bin: &Path, kubeconfig: &Path) -> Result<Spawned> {
    let mut child = tokio::process::Command::new(bin)
        .args(["sandbox", "--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(kubeconfig)
        .env_remove("KUBECONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("failed to spawn {}", bin.display()))?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let path = tokio::time::timeout(SPAWN_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            if let Some((_, p)) = line.split_once("KUBECONFIG=") {
                return Ok(PathBuf::from(p.trim()));
            }
        }
        bail!("the sandbox exited before printing KUBECONFIG=")
    })
    .await
    .context("no KUBECONFIG= line in time")??;
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Spawned {
        child,
        kubeconfig: path,
    })
}

/// Time from process spawn to the first answered `/version`, in seconds.
async fn ready_spawned(bin: &Path, dir: &Path) -> Result<f64> {
    let t0 = Instant::now();
    let spawned = spawn_binary(bin, &dir.join("spawn-kubeconfig")).await?;
    first_version(&spawned.kubeconfig).await?;
    let elapsed = t0.elapsed().as_secs_f64();
    spawned.stop().await;
    Ok(elapsed)
}

/// VmRSS and VmHWM of a process in MB (10^6 bytes, the unit of issue 3's target).
fn rss_mb(pid: &str) -> Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("failed to read /proc status")?;
    let field = |name: &str| -> Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| anyhow!("no {name} in /proc status"))?;
        let kib: f64 = line
            .split_whitespace()
            .nth(1)
            .ok_or_else(|| anyhow!("empty {name}"))?
            .parse()?;
        Ok(kib * 1024.0 / 1e6)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn big_deployment() -> Result<Deployment> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": "bench", "labels": {"app": "bench"}},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": "bench"}},
            "template": {
                "metadata": {"labels": {"app": "bench"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
            }
        }
    }))?)
}

/// Sends a Table list like `kubectl get pods` (pages of 500), returning the rows seen.
async fn table_list(client: &Client, limit: Option<usize>) -> Result<usize> {
    let mut rows = 0;
    let mut cont = String::new();
    loop {
        let mut uri = "/api/v1/namespaces/default/pods?".to_owned();
        if let Some(l) = limit {
            uri.push_str(&format!("limit={l}&"));
        }
        if !cont.is_empty() {
            uri.push_str(&format!("continue={cont}&"));
        }
        let req = hyper::Request::get(uri.trim_end_matches(['?', '&']))
            .header(
                "Accept",
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
            )
            .body(Vec::new())?;
        let text = client.request_text(req).await?;
        let table: serde_json::Value = serde_json::from_str(&text)?;
        if table["kind"] != "Table" {
            bail!("not a Table: {}", table["kind"]);
        }
        rows += table["rows"].as_array().map_or(0, Vec::len);
        cont = table["metadata"]["continue"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if cont.is_empty() {
            return Ok(rows);
        }
    }
}

/// Creates the big deployment, waits for it to be ready, lists the pods; fills the report.
async fn replicas(client: &Client, pid: Option<String>, report: &mut Report) -> Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rss_before = pid.as_deref().map(rss_mb).transpose()?;
    let t0 = Instant::now();
    deployments
        .create(&PostParams::default(), &big_deployment()?)
        .await?;
    let created = t0.elapsed().as_secs_f64();
    let stream = watcher(
        deployments.clone(),
        watcher::Config::default().fields("metadata.name=bench"),
    )
    .applied_objects();
    let ready = tokio::time::timeout(REPLICAS_TIMEOUT, async {
        let mut stream = std::pin::pin!(stream);
        while let Some(d) = stream.next().await {
            let d = d?;
            let ready = d
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            if ready >= REPLICAS {
                return Ok::<_, anyhow::Error>(t0.elapsed().as_secs_f64());
            }
        }
        bail!("the watch ended")
    })
    .await
    .context("the replicas were not ready in time")??;
    report.timed("create Deployment (1000 replicas)", created, "s", None);
    report.timed("1000 replicas all ready", ready, "s", Some(60.0));

    let rss_ready = pid.as_deref().map(rss_mb).transpose()?;
    let mut typed = Vec::new();
    let mut tables = Vec::new();
    let mut paged = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let list = pods.list(&ListParams::default()).await?;
        typed.push(t.elapsed().as_secs_f64());
        if list.items.len() < REPLICAS as usize {
            bail!("listed only {} pods", list.items.len());
        }
        let t = Instant::now();
        let rows = table_list(client, None).await?;
        tables.push(t.elapsed().as_secs_f64());
        if rows < REPLICAS as usize {
            bail!("the Table had only {rows} rows");
        }
        let t = Instant::now();
        table_list(client, Some(500)).await?;
        paged.push(t.elapsed().as_secs_f64());
    }
    report.timed(
        "list 1000 pods (kube-rs Api::list, median of 3)",
        median(typed),
        "s",
        None,
    );
    report.timed(
        "list 1000 pods as Table (one request)",
        median(tables),
        "s",
        None,
    );
    report.timed(
        "list 1000 pods as Table (kubectl's limit=500 pages)",
        median(paged),
        "s",
        None,
    );

    if let Some(pid) = pid.as_deref() {
        // Let the controllers settle (events, endpoints) before the steady figure.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (steady, peak) = rss_mb(pid)?;
        if let Some((before, _)) = rss_before {
            report.timed("RSS before the deployment", before, "MB", None);
        }
        if let Some((at_ready, _)) = rss_ready {
            report.timed("RSS when 1000 pods ready", at_ready, "MB", Some(150.0));
        }
        report.timed(
            "RSS steady at 1000 pods (after lists + 5 s)",
            steady,
            "MB",
            Some(150.0),
        );
        report.timed("RSS peak (VmHWM, whole run)", peak, "MB", Some(150.0));
    }
    Ok(())
}

/// The sandbox binary: `$KUBETUTOR_BIN`, else the one cargo built for this bench (release).
fn release_binary() -> Option<PathBuf> {
    let path = std::env::var_os("KUBETUTOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kubetutor")));
    path.is_file().then_some(path)
}

async fn run() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut report = Report::default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    report.note("machine cores", cores.to_string());

    let mut runs = Vec::new();
    for _ in 0..READY_RUNS {
        runs.push(ready_in_process(dir.path()).await?);
    }
    report.timed(
        "ready in-process (start -> /version, median)",
        median(runs),
        "s",
        Some(0.5),
    );

    let bin = release_binary();
    if let Some(bin) = &bin {
        let mut runs = Vec::new();
        for _ in 0..READY_RUNS {
            runs.push(ready_spawned(bin, dir.path()).await?);
        }
        report.timed(
            "ready from spawn (process -> /version, median)",
            median(runs),
            "s",
            Some(0.5),
        );
    } else {
        report.note(
            "ready from spawn",
            "skipped: no kubetutor binary".to_owned(),
        );
    }

    match &bin {
        Some(bin) => {
            let spawned = spawn_binary(bin, &dir.path().join("big-kubeconfig")).await?;
            let pid = spawned.pid().map(|p| p.to_string());
            report.note(
                "sandbox measured",
                format!("release binary, pid {}", pid.as_deref().unwrap_or("?")),
            );
            let client = first_version(&spawned.kubeconfig).await?;
            let outcome = replicas(&client, pid, &mut report).await;
            spawned.stop().await;
            outcome?;
        }
        None => {
            // In-process: the RSS would include this client, so it is reported as such.
            let kubeconfig = dir.path().join("big-kubeconfig");
            let sandbox = Sandbox::start(SandboxConfig {
                kubeconfig: Some(kubeconfig.clone()),
                ..SandboxConfig::default()
            })
            .await?;
            report.note(
                "sandbox measured",
                "in-process (RSS includes the bench's client)".to_owned(),
            );
            let client = first_version(&kubeconfig).await?;
            let outcome = replicas(&client, Some("self".to_owned()), &mut report).await;
            sandbox.shutdown().await;
            outcome?;
        }
    }
    report.print();
    Ok(())
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; a harness-less target accepts and ignores it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}
