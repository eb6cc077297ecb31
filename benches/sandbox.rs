//! Sandbox benchmark (issue 3): ready time from spawn, 1000 replicas all ready and listed,
//! RSS at 1000 pods. Measured through real clients (kube-rs, raw Table requests) like a
//! learner's tools would; it reports figures and never asserts timings.
//!
//! Run with `cargo bench --bench sandbox`. Cargo builds the release `kubetutor` binary for
//! benches; the spawn and RSS figures run it as a separate process (override with
//! `$KUBETUTOR_BIN`), so the bench's own client memory does not count.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kubetutor::sandbox::{Sandbox, SandboxConfig};

#[path = "support/cluster.rs"]
mod cluster;
use cluster::{first_version, median, rss_mb, spawn_binary};
use serde_json::json;

/// Runs per ready-time figure (the median is reported).
const READY_RUNS: usize = 10;
/// Replicas of the big deployment.
const REPLICAS: i32 = 1000;
/// Longest wait for the replicas (the target is 60 s; this only bounds a broken run).
const REPLICAS_TIMEOUT: Duration = Duration::from_secs(300);

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

/// Time from process spawn to the first answered `/version`, in seconds.
async fn ready_spawned(bin: &Path, dir: &Path) -> Result<f64> {
    let t0 = Instant::now();
    let spawned = spawn_binary(bin, &dir.join("spawn-kubeconfig"), &[]).await?;
    first_version(&spawned.kubeconfig).await?;
    let elapsed = t0.elapsed().as_secs_f64();
    spawned.stop().await;
    Ok(elapsed)
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
            let spawned = spawn_binary(bin, &dir.path().join("big-kubeconfig"), &[]).await?;
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
