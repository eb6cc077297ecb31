//! The sandbox beside the real control plane (issue 9), in one run: ready time and RSS,
//! `kubetutor check` of Part 3, the runner's confirmation delay and its requests while it
//! waits; and the test bed's build times. It reports figures and never asserts them.
//!
//! Run with `cargo bench --bench testbed` (the test bed needs Go for its first build). Like the
//! tests, it builds the test bed outside, then runs itself again inside an isolated network
//! namespace (`tests/testbed/testbed.sh exec`). `KUBETUTOR_BENCH_COLD_BUILD=1` first builds the
//! test bed with empty Go caches, to measure a first build (minutes, ~1 GB of modules).

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/runner.rs"]
#[expect(dead_code, reason = "the round trips are benches/runner.rs's figure")]
mod runner;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use cluster::{Spawned, first_version, median, rss_mb, spawn_binary};
use runner::{Figures, IDLE, Requests, binary, measure_on, percentile};

/// Set for the copy of the bench that runs inside the namespace.
const INSIDE: &str = "KUBETUTOR_BENCH_INSIDE";
/// Runs per ready-time figure (the median is reported).
const READY_RUNS: usize = 3;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn script() -> PathBuf {
    repo("tests/testbed/testbed.sh")
}

fn isolated() -> bool {
    std::fs::read_dir("/sys/class/net").is_ok_and(|entries| {
        let names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names == ["lo"]
    })
}

/// Seconds `testbed.sh build` takes with the given extra environment.
fn timed_build(env: &[(&str, &Path)]) -> Result<f64> {
    let started = Instant::now();
    let mut cmd = Command::new(script());
    cmd.arg("build").stdout(std::process::Stdio::null());
    for (key, value) in env {
        cmd.env(key, value);
    }
    let status = cmd.status().context("failed to run testbed.sh build")?;
    if !status.success() {
        bail!("testbed.sh build failed ({status})");
    }
    Ok(started.elapsed().as_secs_f64())
}

fn main() -> Result<()> {
    if std::env::var_os(INSIDE).is_some() || isolated() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        return runtime.block_on(inside());
    }
    let cold = if std::env::var_os("KUBETUTOR_BENCH_COLD_BUILD").is_some() {
        let dir = tempfile::tempdir()?;
        let (gocache, gomod, bins) = (
            dir.path().join("gocache"),
            dir.path().join("gomodcache"),
            dir.path().join("bins"),
        );
        eprintln!("bench: building the test bed with empty Go caches (minutes)...");
        let secs = timed_build(&[
            ("GOCACHE", &gocache),
            ("GOMODCACHE", &gomod),
            ("KUBETUTOR_TESTBED_CACHE", &bins),
        ])?;
        // The module cache is read-only; let the temporary folder be removed.
        let _ = Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(&gomod)
            .status();
        Some(secs)
    } else {
        None
    };
    timed_build(&[])?; // builds whatever is missing, so the next figure is a cached one
    let cached = timed_build(&[])?;
    let status = Command::new(script())
        .arg("exec")
        .arg(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env(INSIDE, "1")
        .env("KUBETUTOR_BENCH_BUILD_CACHED", cached.to_string())
        .env(
            "KUBETUTOR_BENCH_BUILD_COLD",
            cold.map(|c| c.to_string()).unwrap_or_default(),
        )
        .status()?;
    if !status.success() {
        bail!("the bench failed inside the namespace ({status})");
    }
    Ok(())
}

/// The real kubectl 1.37, linked as `kubectl` in a folder to put first on PATH for `check`.
fn kubectl_path(dir: &Path) -> Result<String> {
    let kubectl = std::env::var_os("KUBETUTOR_KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kubectl"));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    let resolved =
        which(&kubectl).ok_or_else(|| anyhow!("kubectl 1.37 is needed: set KUBETUTOR_KUBECTL"))?;
    let _ = std::os::unix::fs::symlink(resolved, bin.join("kubectl"));
    Ok(format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    ))
}

fn which(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return Some(program.to_owned());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// Seconds `kubetutor check ARGS part3` takes; its exit must be 0.
fn timed_check(args: &[&str], kubeconfig: Option<&Path>, home: &Path, path: &str) -> Result<f64> {
    let mut cmd = Command::new(binary());
    cmd.arg("check")
        .args(args)
        .arg(repo("lessons/part3-deploy-a-simple-app.yaml"))
        .env("HOME", home)
        .env("PATH", path)
        .env("KUBECACHEDIR", home.join("kubectl-cache"))
        .env("KUBETUTOR_KUBECTL", "")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match kubeconfig {
        Some(k) => cmd.env("KUBECONFIG", k),
        None => cmd.env_remove("KUBECONFIG"),
    };
    let started = Instant::now();
    let status = cmd.status()?;
    if !status.success() {
        bail!("kubetutor check {} failed ({status})", args.join(" "));
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The test bed's processes (from `DIR/pids`) and their summed RSS in MB.
fn testbed_rss(dir: &Path) -> Result<(f64, Vec<(String, f64)>)> {
    let pids = std::fs::read_to_string(dir.join("pids"))?;
    let mut parts = Vec::new();
    for line in pids.lines() {
        let mut words = line.split_whitespace();
        let (Some(pid), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        parts.push((name.to_owned(), rss_mb(pid)?.0));
    }
    Ok((parts.iter().map(|(_, mb)| mb).sum(), parts))
}

fn up(dir: &Path) -> Result<f64> {
    let started = Instant::now();
    let out = Command::new(script()).arg("up").arg(dir).output()?;
    if !out.status.success() {
        bail!(
            "testbed.sh up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(started.elapsed().as_secs_f64())
}

fn down(dir: &Path) {
    let _ = Command::new(script()).arg("down").arg(dir).status();
}

/// A copy of the test bed's kubeconfig whose user is the one the audit log counts.
fn counted_kubeconfig(bed: &Path, out: &Path) -> Result<PathBuf> {
    let admin = std::fs::read_to_string(bed.join("kubeconfig"))?;
    let admin_token = std::fs::read_to_string(bed.join("pki/token"))?;
    let counted_token = std::fs::read_to_string(bed.join("pki/token-counted"))?;
    let path = out.join("counted.kubeconfig");
    std::fs::write(
        &path,
        admin.replace(admin_token.trim(), counted_token.trim()),
    )?;
    Ok(path)
}

struct Side {
    ready: f64,
    rss_idle: f64,
    rss_after: f64,
    check_fresh: Option<f64>,
    check_running: f64,
    runner: Figures,
}

async fn inside() -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("kubetutor-bench-")
        .tempdir()?;
    let path = kubectl_path(dir.path())?;
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home)?;

    // The test bed: ready time of `up` (to Ready nodes and the default ServiceAccount).
    let mut readies = Vec::new();
    let mut bed = PathBuf::new();
    for run in 0..READY_RUNS {
        bed = dir.path().join(format!("bed-{run}"));
        readies.push(up(&bed)?);
        if run + 1 < READY_RUNS {
            down(&bed);
        }
    }
    let result = testbed_side(&bed, readies, dir.path(), &home, &path).await;
    let (rss_parts, testbed) = match result {
        Ok(figures) => figures,
        Err(err) => {
            down(&bed);
            return Err(err);
        }
    };
    down(&bed);

    // The sandbox: a spawned `kubetutor sandbox` with Part 3's images.
    let lesson = repo("lessons/part3-deploy-a-simple-app.yaml");
    let lesson = lesson.to_string_lossy();
    let mut readies = Vec::new();
    let mut spawned: Option<Spawned> = None;
    for run in 0..READY_RUNS {
        if let Some(old) = spawned.take() {
            old.stop().await;
        }
        let started = Instant::now();
        let s = spawn_binary(
            &binary(),
            &dir.path().join(format!("sandbox-{run}.kubeconfig")),
            &["--lesson", &lesson],
        )
        .await?;
        first_version(&s.kubeconfig).await?;
        readies.push(started.elapsed().as_secs_f64());
        spawned = Some(s);
    }
    let sandbox = spawned.ok_or_else(|| anyhow!("no sandbox"))?;
    let pid = sandbox
        .pid()
        .ok_or_else(|| anyhow!("the sandbox exited"))?
        .to_string();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss_mb(&pid)?.0;
    let check_fresh = timed_check(&["--sandbox"], None, &home, &path)?;
    let check_running = timed_check(
        &["--context", "kubetutor-sandbox"],
        Some(&sandbox.kubeconfig),
        &home,
        &path,
    )?;
    let rss_after = rss_mb(&pid)?.0;
    let runner = measure_on(
        &sandbox.kubeconfig,
        "kubetutor-sandbox",
        &dir.path().join("runner-sandbox"),
        &Requests::SandboxMetrics,
    )
    .await?;
    sandbox.stop().await;
    let sandbox = Side {
        ready: median(readies),
        rss_idle,
        rss_after,
        check_fresh: Some(check_fresh),
        check_running,
        runner,
    };
    report(&sandbox, &testbed, &rss_parts);
    Ok(())
}

async fn testbed_side(
    bed: &Path,
    readies: Vec<f64>,
    dir: &Path,
    home: &Path,
    path: &str,
) -> Result<(Vec<(String, f64)>, Side)> {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_idle, _) = testbed_rss(bed)?;
    let kubeconfig = bed.join("kubeconfig");
    let check_running = timed_check(&["--context", "testbed"], Some(&kubeconfig), home, path)?;
    let (rss_after, parts) = testbed_rss(bed)?;
    let runner_dir = dir.join("runner-testbed");
    std::fs::create_dir_all(&runner_dir)?;
    let counted = counted_kubeconfig(bed, &runner_dir)?;
    let runner = measure_on(
        &counted,
        "testbed",
        &runner_dir,
        &Requests::AuditLog(bed.join("logs/audit.log")),
    )
    .await?;
    Ok((
        parts,
        Side {
            ready: median(readies),
            rss_idle,
            rss_after,
            check_fresh: None,
            check_running,
            runner,
        },
    ))
}

fn report(sandbox: &Side, testbed: &Side, parts: &[(String, f64)]) {
    let secs = |s: f64| format!("{s:.2} s");
    let mb = |m: f64| format!("{m:.0} MB");
    let ms = |f: &Figures, p: f64| format!("{:.1} ms", percentile(&f.delays, p));
    let per_20s = |f: &Figures| {
        format!(
            "{:.0} per 20 s",
            f.idle_requests as f64 * 20.0 / IDLE.as_secs_f64()
        )
    };
    let env_secs = |key: &str| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .map_or_else(|| "not measured".to_owned(), secs)
    };
    let rows = [
        (
            format!("ready (median of {READY_RUNS}: spawn -> /version; up -> Ready nodes)"),
            secs(sandbox.ready),
            secs(testbed.ready),
        ),
        (
            "RSS idle".to_owned(),
            mb(sandbox.rss_idle),
            mb(testbed.rss_idle),
        ),
        (
            "check Part 3 on a fresh sandbox (`check --sandbox`)".to_owned(),
            sandbox.check_fresh.map_or("-".to_owned(), secs),
            "-".to_owned(),
        ),
        (
            "check Part 3 on the running cluster (`check --context`)".to_owned(),
            secs(sandbox.check_running),
            secs(testbed.check_running),
        ),
        (
            "RSS after the check".to_owned(),
            mb(sandbox.rss_after),
            mb(testbed.rss_after),
        ),
        (
            "API change -> goal_met, median".to_owned(),
            ms(&sandbox.runner, 0.5),
            ms(&testbed.runner, 0.5),
        ),
        (
            "API change -> goal_met, p90".to_owned(),
            ms(&sandbox.runner, 0.9),
            ms(&testbed.runner, 0.9),
        ),
        (
            format!("runner requests while waiting {} s", IDLE.as_secs()),
            per_20s(&sandbox.runner),
            per_20s(&testbed.runner),
        ),
        (
            "test bed build, cached".to_owned(),
            "-".to_owned(),
            env_secs("KUBETUTOR_BENCH_BUILD_CACHED"),
        ),
        (
            "test bed build, cold (empty Go caches)".to_owned(),
            "-".to_owned(),
            env_secs("KUBETUTOR_BENCH_BUILD_COLD"),
        ),
    ];
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    println!(
        "\n{:width$}  {:>16}  {:>16}",
        "metric", "sandbox", "test bed"
    );
    for (metric, a, b) in &rows {
        println!("{metric:width$}  {a:>16}  {b:>16}");
    }
    let parts: Vec<String> = parts
        .iter()
        .map(|(name, mb)| format!("{name} {mb:.0} MB"))
        .collect();
    println!(
        "\ntest bed RSS after the check, by process: {}",
        parts.join(", ")
    );
    println!(
        "request counters around the idle window (live, so a 0 is a real 0): sandbox /metrics \
         {} -> {}, test bed audit log of the runner's user {} -> {}",
        sandbox.runner.window.0,
        sandbox.runner.window.1,
        testbed.runner.window.0,
        testbed.runner.window.1
    );
}
