//! The sandbox driven by the real kube-rs client: the shared checks of `tests/support/kube_api.rs`
//! (watches, apply, paging, errors, scale, GC), plus what only the sandbox has.

use kube::{Client, Config};
use kubetutor::sandbox::{Sandbox, SandboxConfig};

use crate::support::kube_api;

/// A sandbox and a kube client configured from its kubeconfig.
pub async fn start() -> (Sandbox, Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = Sandbox::start(SandboxConfig {
        kubeconfig: Some(dir.path().join("kubeconfig")),
        speed: 20.0,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts");
    let client = client_for(sandbox.kubeconfig_path()).await;
    (sandbox, client, dir)
}

/// A kube client from a kubeconfig file.
pub async fn client_for(path: &std::path::Path) -> Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("kubeconfig parses");
    let config =
        Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .expect("config");
    Client::try_from(config).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_list_watch_and_streaming_lists() {
    let (sandbox, client, _dir) = start().await;
    kube_api::watcher_list_watch_and_streaming_lists(client, "default").await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_pagination_and_errors() {
    let (sandbox, client, _dir) = start().await;
    kube_api::server_side_apply_pagination_and_errors(client, "default").await;
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_subresource_and_garbage_collection() {
    let (sandbox, client, _dir) = start().await;
    kube_api::scale_subresource_and_garbage_collection(client, "default").await;
    sandbox.shutdown().await;
}

/// How soon the sandbox is ready is a figure of `benches/sandbox.rs`; this pins that it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_and_metrics_count_requests() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = Sandbox::start(SandboxConfig {
        kubeconfig: Some(dir.path().join("kubeconfig")),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts");
    let client = client_for(sandbox.kubeconfig_path()).await;
    let ready: String = client
        .request_text(
            axum::http::Request::get("/readyz")
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("readyz");
    assert_eq!(ready, "ok");
    let metrics: String = client
        .request_text(
            axum::http::Request::get("/metrics")
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("metrics");
    assert!(
        metrics.contains("apiserver_request_total{code=\"200\",resource=\"\",verb=\"GET\"}"),
        "{metrics}"
    );
    assert!(sandbox.requests_served() >= 2);
    sandbox.shutdown().await;
}
