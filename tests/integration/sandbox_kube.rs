//! The sandbox driven by the real kube-rs client: watches, apply, paging, errors, scale, GC.

use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, Config};
use kubetutor::sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

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

fn configmap(name: &str) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"test": "kube"}}, "data": {"k": "v"}}),
    )
    .expect("configmap")
}

fn deployment(name: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}
        }
    }))
    .expect("deployment")
}

fn api_error(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API Status error, got {other:?}"),
    }
}

async fn expect_applied(
    stream: impl futures::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>>,
    name: &str,
) {
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.try_next().await.expect("watch event") {
            let hit = match &event {
                watcher::Event::Apply(cm) | watcher::Event::InitApply(cm) => {
                    cm.metadata.name.as_deref() == Some(name)
                }
                _ => false,
            };
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(seen, Ok(true), "the watcher never saw {name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_list_watch_and_streaming_lists() {
    let (sandbox, client, _dir) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &configmap("before"))
        .await
        .expect("create");
    expect_applied(watcher(api.clone(), watcher::Config::default()), "before").await;
    expect_applied(
        watcher(api.clone(), watcher::Config::default().streaming_lists()),
        "before",
    )
    .await;
    // A live change reaches a running watcher.
    let stream = watcher(api.clone(), watcher::Config::default().streaming_lists());
    let creator = {
        let api = api.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            api.create(&PostParams::default(), &configmap("during"))
                .await
                .expect("create during watch");
        })
    };
    expect_applied(stream, "during").await;
    creator.await.expect("creator");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_pagination_and_errors() {
    let (sandbox, client, _dir) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let ssa = PatchParams::apply("kubetutor-test").force();
    let applied = api
        .patch("ssa", &ssa, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}})))
        .await
        .expect("apply creates");
    assert_eq!(
        applied
            .data
            .as_ref()
            .and_then(|d| d.get("a"))
            .map(String::as_str),
        Some("1")
    );
    let applied = api
        .patch("ssa", &ssa, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "2"}})))
        .await
        .expect("apply updates");
    assert_eq!(
        applied
            .data
            .as_ref()
            .and_then(|d| d.get("a"))
            .map(String::as_str),
        Some("2")
    );

    for i in 0..7 {
        api.create(&PostParams::default(), &configmap(&format!("page-{i}")))
            .await
            .expect("create");
    }
    let mut names = Vec::new();
    let mut params = ListParams::default().labels("test=kube").limit(3);
    let mut pages = 0;
    loop {
        let page = api.list(&params).await.expect("list page");
        assert!(page.items.len() <= 3);
        assert!(
            !page
                .metadata
                .resource_version
                .as_deref()
                .unwrap_or_default()
                .is_empty()
        );
        names.extend(page.items.iter().filter_map(|c| c.metadata.name.clone()));
        pages += 1;
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        names,
        (0..7).map(|i| format!("page-{i}")).collect::<Vec<_>>()
    );

    let missing = api_error(api.get("nope").await.expect_err("404"));
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(missing.message, "configmaps \"nope\" not found");
    let dup = api_error(
        api.create(&PostParams::default(), &configmap("page-0"))
            .await
            .expect_err("409"),
    );
    assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));

    let stale = api.get("page-1").await.expect("get");
    let mut fresh = stale.clone();
    fresh.data = Some([("k".to_owned(), "new".to_owned())].into());
    api.replace("page-1", &PostParams::default(), &fresh)
        .await
        .expect("first update");
    let conflict = api_error(
        api.replace("page-1", &PostParams::default(), &stale)
            .await
            .expect_err("stale update"),
    );
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        api.get("page-1")
            .await
            .expect("get")
            .data
            .and_then(|d| d.get("k").cloned())
            .as_deref(),
        Some("new")
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_subresource_and_garbage_collection() {
    let (sandbox, client, _dir) = start().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let created = deployments
        .create(&PostParams::default(), &deployment("scaled"))
        .await
        .expect("create");
    let spec = created.spec;
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.revision_history_limit, Some(10));
    let scale = deployments.get_scale("scaled").await.expect("get scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(1));
    let scale = deployments
        .patch_scale(
            "scaled",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("patch scale");
    assert_eq!(
        scale.status.map(|s| s.selector.unwrap_or_default()),
        Some("app=scaled".to_owned())
    );
    assert_eq!(
        deployments.get("scaled").await.expect("get").spec.replicas,
        Some(3)
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let replicasets: Api<ReplicaSet> = Api::namespaced(client, "default");
    let selector = ListParams::default().labels("app=scaled");
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let list = pods.list(&selector).await.expect("list pods");
            if list.items.len() == 3 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "three pods never appeared");
    deployments
        .delete("scaled", &DeleteParams::background())
        .await
        .expect("delete");
    let collected = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let rs = replicasets.list(&selector).await.expect("list rs");
            let p = pods.list(&selector).await.expect("list pods");
            if rs.items.is_empty() && p.items.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        collected.is_ok(),
        "the garbage collector left ReplicaSets or pods behind"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_quickly_and_metrics_count_requests() {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = std::time::Instant::now();
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
    let elapsed = started.elapsed();
    eprintln!("sandbox ready in {elapsed:?} (debug build)");
    assert_eq!(ready, "ok");
    // The target is 0.5 s in release builds; debug builds on a shared machine get slack.
    assert!(elapsed < Duration::from_secs(5), "ready after {elapsed:?}");
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
