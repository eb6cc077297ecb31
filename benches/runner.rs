//! Runner benchmark (issue 4): how soon `goal_met` follows a change in the API, and how many
//! requests a runner makes while it waits on a step. It reports figures and never asserts them.
//!
//! Run with `cargo bench --bench runner`. The runner is the real `kubetutor run --no-input
//! --json`, a child process of the binary cargo builds with the bench (override with
//! `$KUBETUTOR_BIN`), against an in-process sandbox. The changes are ConfigMap patches made with
//! kube-rs: a pure API change, so the figure is the runner's, not the simulated kubelet's.

#[path = "support/runner.rs"]
#[expect(dead_code, reason = "the audit-log counter serves benches/testbed.rs")]
mod runner;

use anyhow::Result;
use kubetutor::sandbox::{Sandbox, SandboxConfig};

use runner::{Figures, IDLE, Requests, measure_on, percentile};

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let figures = runtime.block_on(measure())?;
    print_report(&figures);
    Ok(())
}

async fn measure() -> Result<Figures> {
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    let sandbox = Sandbox::start(SandboxConfig {
        kubeconfig: Some(kubeconfig.clone()),
        ..SandboxConfig::default()
    })
    .await?;
    let result = measure_on(
        &kubeconfig,
        "kubetutor-sandbox",
        dir.path(),
        &Requests::SandboxMetrics,
    )
    .await;
    sandbox.shutdown().await;
    result
}

fn print_report(f: &Figures) {
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    let median = percentile(&f.delays, 0.5);
    let p90 = percentile(&f.delays, 0.9);
    let per_20s = f.idle_requests as f64 * 20.0 / IDLE.as_secs_f64();
    let rows = [
        (
            format!(
                "API change -> goal_met, median ({} samples)",
                f.delays.len()
            ),
            format!("{median:.1} ms"),
            "<= 100 ms".to_owned(),
            verdict(median <= 100.0),
        ),
        (
            "API change -> goal_met, p90".to_owned(),
            format!("{p90:.1} ms"),
            "<= 100 ms".to_owned(),
            verdict(p90 <= 100.0),
        ),
        (
            format!("requests while waiting {} s on a step", IDLE.as_secs()),
            format!("{per_20s:.0} per 20 s"),
            "<= 10 per 20 s".to_owned(),
            verdict(per_20s <= 10.0),
        ),
        (
            "patch round trip (context), median".to_owned(),
            format!("{:.1} ms", percentile(&f.round_trips, 0.5)),
            "-".to_owned(),
            "info",
        ),
    ];
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    println!(
        "\n{:width$}  {:>16}  {:>16}  verdict",
        "metric", "value", "target"
    );
    for (metric, value, target, verdict) in &rows {
        println!("{metric:width$}  {value:>16}  {target:>16}  {verdict}");
    }
    println!(
        "\nsandbox request totals around the idle window: {} before, {} after (one is our own scrape)",
        f.window.0, f.window.1
    );
    println!(
        "delays (ms, sorted; negative when goal_met beat the patch's own HTTP answer): {:.1?}",
        f.delays
    );
}
