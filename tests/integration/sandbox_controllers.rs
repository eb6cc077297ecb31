//! Drives the sandbox store and controllers in-process through a whole deployment lifecycle:
//! create, scale, update, a stuck rollout, a rollback and deletion.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kubetutor::sandbox::apps::{AppSpec, Catalogue};
use kubetutor::sandbox::controllers::{SimConfig, spawn};
use kubetutor::sandbox::store::{DeleteOpts, ResKey, Store};
use serde_json::{Value, json};

const NS: &str = "default";

fn catalogue() -> Arc<Catalogue> {
    let image = |tag: &str| AppSpec {
        image: format!("example/app:{tag}"),
        port: 80,
        response: format!("app {tag} on {{hostname}}\n"),
        logs: vec![],
        env: BTreeMap::new(),
        workdir: None,
        files: BTreeMap::new(),
    };
    Arc::new(Catalogue::new(&[image("v1"), image("v2")]))
}

fn deployment(image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS, "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    })
}

/// Polls `check` until it returns Some, failing with `what` and the last state after 10 s.
async fn wait_for<T>(store: &Store, what: &str, check: impl Fn(&Store) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check(store) {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            let (pods, _) = store.list(&ResKey::pods(), Some(NS));
            let (rss, _) = store.list(&ResKey::replicasets(), Some(NS));
            let d = store.get(&ResKey::deployments(), NS, "web");
            panic!(
                "timed out waiting for {what}\ndeployment: {d:#?}\nreplicasets: {:#?}\npods: {:#?}",
                rss.iter()
                    .map(|r| (
                        &r["metadata"]["name"],
                        &r["metadata"]["annotations"],
                        &r["spec"]["replicas"],
                        &r["status"]
                    ))
                    .collect::<Vec<_>>(),
                pods.iter()
                    .map(|p| (
                        &p["metadata"]["name"],
                        &p["status"]["phase"],
                        &p["metadata"]["deletionTimestamp"]
                    ))
                    .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn pods(store: &Store) -> Vec<Value> {
    store
        .list(&ResKey::pods(), Some(NS))
        .0
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect()
}

fn ready(p: &Value) -> bool {
    p["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn image_of(p: &Value) -> &str {
    p["spec"]["containers"][0]["image"].as_str().unwrap_or("")
}

fn waiting_reason(p: &Value) -> &str {
    p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
        .as_str()
        .unwrap_or("")
}

/// The deployment once the controller has observed its latest generation.
fn settled(store: &Store) -> Option<Value> {
    let d = store.get(&ResKey::deployments(), NS, "web")?;
    (d["status"]["observedGeneration"] == d["metadata"]["generation"]).then_some(d)
}

fn status(d: &Value, field: &str) -> i64 {
    d["status"][field].as_i64().unwrap_or(0)
}

fn update_deployment(store: &Store, change: impl Fn(&mut Value)) {
    for _ in 0..50 {
        let mut d = store
            .get(&ResKey::deployments(), NS, "web")
            .expect("deployment exists");
        change(&mut d);
        if store.update(&ResKey::deployments(), d).is_ok() {
            return;
        }
    }
    panic!("could not update the deployment");
}

fn replica_sets(store: &Store) -> Vec<Value> {
    store.list(&ResKey::replicasets(), Some(NS)).0
}

fn annotation<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj["metadata"]["annotations"][key].as_str().unwrap_or("")
}

fn is_marker(obj: &Value) -> bool {
    obj["metadata"]["labels"]["app"] == "marker"
}

/// Waits until the controllers have acted on everything written before the call, which is how
/// a test shows that something does *not* happen. A marker Deployment must roll out to a ready
/// pod (passes of the deployment, ReplicaSet, scheduler and kubelet loops) and, once deleted,
/// be collected (passes of the garbage collector). Each pass reconciles every object, so those
/// passes saw the earlier writes too: whatever the loops would do about them, they have done.
/// The marker leaves nothing behind but its events.
async fn caught_up(store: &Store) {
    let mut marker = deployment("example/app:v1");
    marker["metadata"]["name"] = json!("marker");
    for labels in [
        "/metadata/labels",
        "/spec/selector/matchLabels",
        "/spec/template/metadata/labels",
    ] {
        *marker.pointer_mut(labels).unwrap() = json!({"app": "marker"});
    }
    store.create(&ResKey::deployments(), marker).unwrap();
    wait_for(store, "the marker's ready pod", |s| {
        pods(s)
            .iter()
            .any(|p| is_marker(p) && ready(p))
            .then_some(())
    })
    .await;
    store
        .delete(&ResKey::deployments(), NS, "marker", &DeleteOpts::default())
        .unwrap();
    wait_for(store, "the marker to be collected", |s| {
        let (all_pods, _) = s.list(&ResKey::pods(), Some(NS));
        let left = replica_sets(s).iter().chain(&all_pods).any(is_marker);
        (!left).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_lives_its_whole_life_in_the_sandbox() {
    let store = Arc::new(Store::new());
    let controllers = spawn(store.clone(), SimConfig::fast(), catalogue());
    let nodes = store.list(&ResKey::nodes(), None).0;
    assert_eq!(nodes.len(), 4, "a control plane and three workers");
    assert!(store.get(&ResKey::services(), NS, "kubernetes").is_some());
    store
        .create(&ResKey::deployments(), deployment("example/app:v1"))
        .unwrap();

    // One pod, Running and Ready on a worker.
    let pod = wait_for(&store, "one ready pod", |s| {
        let ps = pods(s);
        (ps.len() == 1 && ready(&ps[0]) && ps[0]["status"]["phase"] == "Running")
            .then(|| ps[0].clone())
    })
    .await;
    let node = pod["spec"]["nodeName"].as_str().unwrap();
    assert!(node.starts_with("kubetutor-worker"), "{node}");
    assert!(
        pod["status"]["podIP"]
            .as_str()
            .unwrap()
            .starts_with("10.244.")
    );
    let rs1 = replica_sets(&store).remove(0);
    let rs1_name = rs1["metadata"]["name"].as_str().unwrap().to_owned();
    let hash = rs1["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap();
    assert_eq!(rs1_name, format!("web-{hash}"));
    assert!(
        pod["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{rs1_name}-"))
    );
    wait_for(&store, "deployment available", |s| {
        settled(s).filter(|d| status(d, "availableReplicas") == 1)
    })
    .await;
    let events = store.list(&ResKey::events(), Some(NS)).0;
    let reasons: BTreeSet<&str> = events.iter().filter_map(|e| e["reason"].as_str()).collect();
    for r in [
        "ScalingReplicaSet",
        "SuccessfulCreate",
        "Scheduled",
        "Pulling",
        "Pulled",
        "Created",
        "Started",
    ] {
        assert!(reasons.contains(r), "missing event {r}: {reasons:?}");
    }

    // Scale to 4: spread over the three workers.
    update_deployment(&store, |d| d["spec"]["replicas"] = json!(4));
    let ps = wait_for(&store, "four ready pods", |s| {
        let ps = pods(s);
        (ps.len() == 4 && ps.iter().all(ready)).then_some(ps)
    })
    .await;
    let used: BTreeSet<&str> = ps
        .iter()
        .filter_map(|p| p["spec"]["nodeName"].as_str())
        .collect();
    assert_eq!(used.len(), 3, "pods spread over every worker: {used:?}");
    wait_for(&store, "4/4 ready", |s| {
        settled(s).filter(|d| status(d, "readyReplicas") == 4)
    })
    .await;

    // New image: a second ReplicaSet takes over, revision 2.
    update_deployment(&store, |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("example/app:v2")
    });
    wait_for(&store, "rollout to v2", |s| {
        let d = settled(s)?;
        let ps = pods(s);
        let done = status(&d, "updatedReplicas") == 4
            && status(&d, "availableReplicas") == 4
            && status(&d, "replicas") == 4
            && ps.len() == 4
            && ps
                .iter()
                .all(|p| image_of(p) == "example/app:v2" && ready(p));
        done.then_some(())
    })
    .await;
    let d = store.get(&ResKey::deployments(), NS, "web").unwrap();
    assert_eq!(annotation(&d, "deployment.kubernetes.io/revision"), "2");
    let rss = replica_sets(&store);
    assert_eq!(rss.len(), 2);
    let old = rss
        .iter()
        .find(|r| r["metadata"]["name"] == rs1_name.as_str())
        .unwrap();
    assert_eq!(old["spec"]["replicas"], 0);
    let v2_template = rss
        .iter()
        .find(|r| r["metadata"]["name"] != rs1_name.as_str())
        .unwrap()["spec"]["template"]
        .clone();

    // Scale to 2, then a missing image: 2 old ready + 1 new failing to pull.
    update_deployment(&store, |d| d["spec"]["replicas"] = json!(2));
    wait_for(&store, "2/2", |s| {
        settled(s).filter(|d| status(d, "readyReplicas") == 2 && pods(s).len() == 2)
    })
    .await;
    update_deployment(&store, |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("example/app:v10")
    });
    wait_for(&store, "stuck rollout with ImagePullBackOff", |s| {
        let d = settled(s)?;
        let ps = pods(s);
        let bad: Vec<&Value> = ps
            .iter()
            .filter(|p| image_of(p) == "example/app:v10")
            .collect();
        let good = ps
            .iter()
            .filter(|p| image_of(p) == "example/app:v2" && ready(p))
            .count();
        let stuck = bad.len() == 1
            && good == 2
            && waiting_reason(bad[0]) == "ImagePullBackOff"
            && bad[0]["status"]["phase"] == "Pending"
            && status(&d, "readyReplicas") == 2
            && status(&d, "updatedReplicas") == 1;
        stuck.then_some(())
    })
    .await;
    let events = store.list(&ResKey::events(), Some(NS)).0;
    assert!(events.iter().any(|e| {
        e["reason"] == "Failed"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Failed to pull image \"example/app:v10\""))
    }));
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "Error: ImagePullBackOff")
    );
    assert_eq!(replica_sets(&store).len(), 3);

    // Roll back the way `kubectl rollout undo` does: put revision 2's template back.
    let mut template = v2_template;
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    update_deployment(&store, |d| d["spec"]["template"] = template.clone());
    wait_for(&store, "rolled back to v2", |s| {
        let d = settled(s)?;
        let ps = pods(s);
        let done = status(&d, "updatedReplicas") == 2
            && status(&d, "availableReplicas") == 2
            && status(&d, "replicas") == 2
            && ps.len() == 2
            && ps.iter().all(|p| image_of(p) == "example/app:v2");
        done.then_some(())
    })
    .await;
    let rss = replica_sets(&store);
    assert_eq!(rss.len(), 3, "the v2 ReplicaSet is reused, not recreated");
    let v2 = rss
        .iter()
        .find(|r| r["spec"]["template"]["spec"]["containers"][0]["image"] == "example/app:v2")
        .unwrap();
    assert_eq!(annotation(v2, "deployment.kubernetes.io/revision"), "4");
    assert_eq!(
        annotation(v2, "deployment.kubernetes.io/revision-history"),
        "2"
    );
    let d = store.get(&ResKey::deployments(), NS, "web").unwrap();
    assert_eq!(annotation(&d, "deployment.kubernetes.io/revision"), "4");
    let progressing = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Progressing")
        .unwrap()
        .clone();
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");

    // Delete the deployment: its ReplicaSets and pods are collected.
    store
        .delete(&ResKey::deployments(), NS, "web", &DeleteOpts::default())
        .unwrap();
    wait_for(&store, "garbage collection", |s| {
        let left = s.list(&ResKey::replicasets(), Some(NS)).0.len()
            + s.list(&ResKey::pods(), Some(NS)).0.len();
        (left == 0).then_some(())
    })
    .await;
    controllers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_get_endpoints_and_slices() {
    let store = Arc::new(Store::new());
    let controllers = spawn(store.clone(), SimConfig::fast(), catalogue());
    store
        .create(&ResKey::deployments(), deployment("example/app:v1"))
        .unwrap();
    store
        .create(
            &ResKey::services(),
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "web", "namespace": NS, "labels": {"app": "web"}},
                   "spec": {"selector": {"app": "web"}, "type": "NodePort",
                            "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP", "nodePort": 30080}]}}),
        )
        .unwrap();
    let ep = wait_for(&store, "a ready endpoint", |s| {
        let ep = s.get(&ResKey::endpoints(), NS, "web")?;
        ep["subsets"][0]["addresses"][0]["ip"]
            .is_string()
            .then_some(ep)
    })
    .await;
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 80);
    assert_eq!(ep["subsets"][0]["addresses"][0]["targetRef"]["kind"], "Pod");
    let slices = store.list(&ResKey::endpointslices(), Some(NS)).0;
    let slice = slices
        .iter()
        .find(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == "web")
        .expect("an EndpointSlice for the service");
    assert!(
        slice["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("web-")
    );
    assert_eq!(slice["endpoints"][0]["conditions"]["ready"], true);
    assert_eq!(
        slice["ports"][0]["name"], "",
        "kubectl describe needs a port name"
    );
    let k8s = store.get(&ResKey::endpoints(), NS, "kubernetes").unwrap();
    assert_eq!(k8s["subsets"][0]["addresses"][0]["ip"], "127.0.0.1");

    store
        .delete(&ResKey::services(), NS, "web", &DeleteOpts::default())
        .unwrap();
    wait_for(&store, "endpoints removed with the service", |s| {
        let gone = s.get(&ResKey::endpoints(), NS, "web").is_none()
            && !s
                .list(&ResKey::endpointslices(), Some(NS))
                .0
                .iter()
                .any(|e| e["metadata"]["labels"]["kubernetes.io/service-name"] == "web");
        gone.then_some(())
    })
    .await;
    controllers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_sandbox_comes_back_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let store = Arc::new(Store::new());
    let controllers = spawn(store.clone(), SimConfig::fast(), catalogue());
    store
        .create(&ResKey::deployments(), deployment("example/app:v1"))
        .unwrap();
    let before = wait_for(&store, "a ready pod", |s| {
        let ps = pods(s);
        (ps.len() == 1 && ready(&ps[0])).then(|| ps[0]["metadata"]["name"].clone())
    })
    .await;
    controllers.shutdown().await;
    kubetutor::sandbox::persist::save(&store, &path).unwrap();
    let rv = store.resource_version();

    let restored = Arc::new(Store::new());
    let outcome = kubetutor::sandbox::persist::load(&restored, &path).unwrap();
    assert!(matches!(
        outcome,
        kubetutor::sandbox::persist::LoadOutcome::Restored { .. }
    ));
    assert!(restored.resource_version() > rv);
    let controllers = spawn(restored.clone(), SimConfig::fast(), catalogue());
    caught_up(&restored).await;
    let ps = pods(&restored);
    assert_eq!(ps.len(), 1, "no pod recreated");
    assert_eq!(ps[0]["metadata"]["name"], before);
    assert!(ready(&ps[0]) && ps[0]["status"]["phase"] == "Running");
    assert_eq!(restored.list(&ResKey::nodes(), None).0.len(), 4);
    controllers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_replaces_every_pod_at_once() {
    let store = Arc::new(Store::new());
    let controllers = spawn(store.clone(), SimConfig::fast(), catalogue());
    let mut d = deployment("example/app:v1");
    d["spec"]["replicas"] = json!(3);
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    store.create(&ResKey::deployments(), d).unwrap();
    wait_for(&store, "three ready pods", |s| {
        let ps = pods(s);
        (ps.len() == 3 && ps.iter().all(ready)).then_some(())
    })
    .await;
    update_deployment(&store, |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("example/app:v2")
    });
    // Recreate never mixes versions: no v2 pod exists while a v1 pod is still there.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let all = store.list(&ResKey::pods(), Some(NS)).0;
        let v1 = all
            .iter()
            .filter(|p| image_of(p) == "example/app:v1")
            .count();
        let v2: Vec<&Value> = all
            .iter()
            .filter(|p| image_of(p) == "example/app:v2")
            .collect();
        assert!(
            v1 == 0 || v2.is_empty(),
            "versions mixed during a Recreate rollout"
        );
        if v1 == 0 && v2.len() == 3 && v2.iter().all(|p| ready(p)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Recreate rollout did not finish"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    controllers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_propagates_in_the_foreground_or_orphans() {
    use kubetutor::sandbox::store::Propagation;
    let store = Arc::new(Store::new());
    let controllers = spawn(store.clone(), SimConfig::fast(), catalogue());
    store
        .create(&ResKey::deployments(), deployment("example/app:v1"))
        .unwrap();
    wait_for(&store, "a ready pod", |s| {
        let ps = pods(s);
        (ps.len() == 1 && ready(&ps[0])).then_some(())
    })
    .await;

    // Orphan: the ReplicaSet and its pod stay, without an owner.
    let orphan = DeleteOpts {
        propagation: Propagation::Orphan,
        ..Default::default()
    };
    store
        .delete(&ResKey::deployments(), NS, "web", &orphan)
        .unwrap();
    caught_up(&store).await;
    let rss = replica_sets(&store);
    assert_eq!(rss.len(), 1);
    assert!(rss[0]["metadata"]["ownerReferences"].is_null());
    assert_eq!(pods(&store).len(), 1);

    // A new Deployment with the same template adopts the orphaned ReplicaSet.
    let rs_name = rss[0]["metadata"]["name"].as_str().unwrap().to_owned();
    let d = store
        .create(&ResKey::deployments(), deployment("example/app:v1"))
        .unwrap();
    let uid = d["metadata"]["uid"].clone();
    wait_for(&store, "the orphan to be adopted", |s| {
        let rs = s.get(&ResKey::replicasets(), NS, &rs_name)?;
        (rs["metadata"]["ownerReferences"][0]["uid"] == uid).then_some(())
    })
    .await;
    assert_eq!(replica_sets(&store).len(), 1, "no second ReplicaSet");
    store
        .delete(&ResKey::deployments(), NS, "web", &orphan)
        .unwrap();

    // Foreground: the ReplicaSet stays (terminating) until its pod is gone.
    let foreground = DeleteOpts {
        propagation: Propagation::Foreground,
        ..Default::default()
    };
    let rs = store
        .delete(&ResKey::replicasets(), NS, &rs_name, &foreground)
        .unwrap();
    assert!(rs["metadata"]["deletionTimestamp"].is_string());
    wait_for(&store, "foreground deletion to finish", |s| {
        let gone = s.get(&ResKey::replicasets(), NS, &rs_name).is_none();
        if gone {
            assert!(
                s.list(&ResKey::pods(), Some(NS)).0.is_empty(),
                "pods went first"
            );
        }
        gone.then_some(())
    })
    .await;

    // A namespace goes Terminating, loses its content, then disappears.
    store
        .create(
            &ResKey::namespaces(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch"},
                   "status": {"phase": "Active"}}),
        )
        .unwrap();
    let mut d = deployment("example/app:v1");
    d["metadata"]["namespace"] = json!("scratch");
    store.create(&ResKey::deployments(), d).unwrap();
    let ns = store
        .delete(&ResKey::namespaces(), "", "scratch", &DeleteOpts::default())
        .unwrap();
    assert_eq!(ns["status"]["phase"], "Terminating");
    wait_for(&store, "the namespace to go", |s| {
        s.get(&ResKey::namespaces(), "", "scratch")
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        store
            .list(&ResKey::deployments(), Some("scratch"))
            .0
            .is_empty()
    );
    assert!(store.list(&ResKey::pods(), Some("scratch")).0.is_empty());
    controllers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_objects_do_not_stop_the_controllers() {
    let store = Arc::new(Store::new());
    let controllers = spawn(store.clone(), SimConfig::fast(), catalogue());
    let junk = [
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "j1", "namespace": NS}, "spec": {"replicas": "many"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "j2", "namespace": NS},
               "spec": {"replicas": -3, "selector": {"matchLabels": {"x": "y"}},
                        "strategy": {"rollingUpdate": {"maxSurge": "abc%", "maxUnavailable": []}},
                        "template": {"spec": {"containers": "nope"}}}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "j3", "namespace": NS}, "spec": null}),
    ];
    for obj in junk {
        store.create(&ResKey::deployments(), obj).unwrap();
    }
    store
        .create(
            &ResKey::replicasets(),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": "r1", "namespace": NS}, "spec": {"replicas": 1}}),
        )
        .unwrap();
    store
        .create(
            &ResKey::pods(),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": NS},
                   "spec": {"nodeName": "no-such-node", "containers": [{"name": 3}]}}),
        )
        .unwrap();
    store
        .create(
            &ResKey::services(),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s1", "namespace": NS},
                   "spec": {"selector": {"x": 1}, "ports": [{"port": "eighty", "targetPort": "http"}]}}),
        )
        .unwrap();
    // The loops survived: a well-formed deployment still rolls out. No need to let them chew
    // on the junk first: every pass that rolls it out goes over the junk as well.
    store
        .create(&ResKey::deployments(), deployment("example/app:v1"))
        .unwrap();
    wait_for(&store, "a ready pod despite the junk", |s| {
        pods(s)
            .iter()
            .any(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("web-"))
                    && ready(p)
            })
            .then_some(())
    })
    .await;
    controllers.shutdown().await;
}

/// Every object the controllers write must deserialize into the typed k8s-openapi structs that
/// kube-rs users (the runner, the checks) read them with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_read_back_as_typed_kubernetes_objects() {
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
    use k8s_openapi::api::core::v1::{Endpoints, Event, Namespace, Node, Pod, Service};
    use k8s_openapi::api::discovery::v1::EndpointSlice;

    fn check<T: serde::de::DeserializeOwned>(store: &Store, key: ResKey) -> usize {
        let (items, _) = store.list(&key, None);
        for item in &items {
            if let Err(e) = serde_json::from_value::<T>(item.clone()) {
                panic!("{} does not deserialize: {e}\n{item:#}", key.qualified());
            }
        }
        items.len()
    }

    let store = Arc::new(Store::new());
    let controllers = spawn(store.clone(), SimConfig::fast(), catalogue());
    store
        .create(&ResKey::deployments(), deployment("example/app:v1"))
        .unwrap();
    store
        .create(
            &ResKey::services(),
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "web", "namespace": NS},
                   "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
        )
        .unwrap();
    wait_for(&store, "a ready pod", |s| {
        let ps = pods(s);
        (ps.len() == 1 && ready(&ps[0])).then_some(())
    })
    .await;
    update_deployment(&store, |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("example/app:v10")
    });
    wait_for(&store, "a failing pull", |s| {
        pods(s)
            .iter()
            .any(|p| waiting_reason(p) == "ImagePullBackOff")
            .then_some(())
    })
    .await;
    assert_eq!(check::<Deployment>(&store, ResKey::deployments()), 1);
    assert_eq!(check::<ReplicaSet>(&store, ResKey::replicasets()), 2);
    assert_eq!(check::<Pod>(&store, ResKey::pods()), 2);
    assert_eq!(check::<Node>(&store, ResKey::nodes()), 4);
    assert_eq!(check::<Namespace>(&store, ResKey::namespaces()), 4);
    assert_eq!(check::<Service>(&store, ResKey::services()), 2);
    assert_eq!(check::<Endpoints>(&store, ResKey::endpoints()), 2);
    assert_eq!(check::<EndpointSlice>(&store, ResKey::endpointslices()), 2);
    assert!(check::<Event>(&store, ResKey::events()) > 5);
    controllers.shutdown().await;
}
