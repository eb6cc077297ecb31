//! The kube-rs client against a cluster: watches, apply, paging, errors, scale, GC. Each test
//! takes a client and a namespace of its own, so that the same checks run on the embedded
//! sandbox (`tests/integration/sandbox_kube.rs`) and on the real control plane
//! (`tests/testbed`).

use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

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

pub async fn watcher_list_watch_and_streaming_lists(client: Client, ns: &str) {
    let api: Api<ConfigMap> = Api::namespaced(client, ns);
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
}

pub async fn server_side_apply_pagination_and_errors(client: Client, ns: &str) {
    let api: Api<ConfigMap> = Api::namespaced(client, ns);
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

    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("test=kube"),
    )
    .await
    .expect("deletecollection");
    assert!(
        api.list(&ListParams::default().labels("test=kube"))
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(
        api.get("ssa").await.is_ok(),
        "deletecollection went past its selector"
    );
}

pub async fn scale_subresource_and_garbage_collection(client: Client, ns: &str) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
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

    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let replicasets: Api<ReplicaSet> = Api::namespaced(client, ns);
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
}
