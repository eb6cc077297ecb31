//! Helpers the benches share: a report table, medians, kube clients, a spawned `kubetutor
//! sandbox`, and a process's RSS.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use kube::{Client, Config};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Longest wait for one spawned sandbox to answer.
pub const SPAWN_TIMEOUT: Duration = Duration::from_secs(20);

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

pub async fn client_for(kubeconfig: &Path) -> Result<Client> {
    let kc =
        kube::config::Kubeconfig::read_from(kubeconfig).context("failed to read kubeconfig")?;
    let config = Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .context("failed to load kubeconfig")?;
    Client::try_from(config).context("failed to build the client")
}

/// Builds a client and asks `/version` until it answers (authenticated, over TLS).
pub async fn first_version(kubeconfig: &Path) -> Result<Client> {
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

/// A `kubetutor sandbox` child process and the kubeconfig it printed.
pub struct Spawned {
    pub child: tokio::process::Child,
    pub kubeconfig: PathBuf,
}

impl Spawned {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Spawns `kubetutor sandbox` (with `extra` arguments) and waits for its `KUBECONFIG=` line.
pub async fn spawn_binary(bin: &Path, kubeconfig: &Path, extra: &[&str]) -> Result<Spawned> {
    let mut child = tokio::process::Command::new(bin)
        .args(["sandbox", "--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(kubeconfig)
        .args(extra)
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

/// VmRSS and VmHWM of a process in MB (10^6 bytes, the unit of issue 3's target).
pub fn rss_mb(pid: &str) -> Result<(f64, f64)> {
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
