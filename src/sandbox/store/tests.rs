use super::*;

fn deploy(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 1}
    })
}

fn pod(name: &str, node: Option<&str>) -> Value {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}
    });
    if let Some(n) = node {
        p["spec"]["nodeName"] = json!(n);
    }
    p
}

#[test]
fn create_fills_metadata_and_bumps_the_resource_version() {
    let s = Store::new();
    let rv0 = s.resource_version();
    let d = s.create(&ResKey::deployments(), deploy("web")).unwrap();
    assert_eq!(meta::resource_version(&d), Some(rv0 + 1));
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(meta::uid(&d).len(), 36);
    assert!(
        d["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let err = s.create(&ResKey::deployments(), deploy("web")).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(err.to_string(), "deployments.apps \"web\" already exists");
}

#[test]
fn only_the_kinds_whose_strategy_tracks_it_have_a_generation() {
    // As kube-apiserver 1.37 measured on the test bed: Services and ConfigMaps have none,
    // EndpointSlices count changes of their endpoints.
    let s = Store::new();
    let svc = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "generation": 7},
        "spec": {"ports": [{"port": 80}]}});
    let svc = s.create(&ResKey::services(), svc).unwrap();
    assert_eq!(svc["metadata"].get("generation"), None);
    let key = ResKey::endpointslices();
    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abcde", "namespace": "default"},
        "addressType": "IPv4", "endpoints": []});
    let slice = s.create(&key, slice).unwrap();
    assert_eq!(slice["metadata"]["generation"], 1);
    let mut relabelled = slice.clone();
    relabelled["metadata"]["labels"] = json!({"a": "b"});
    let relabelled = s.update(&key, relabelled).unwrap();
    assert_eq!(relabelled["metadata"]["generation"], 1);
    let mut moved = relabelled.clone();
    moved["endpoints"] = json!([{"addresses": ["10.244.1.2"]}]);
    assert_eq!(s.update(&key, moved).unwrap()["metadata"]["generation"], 2);
}

#[test]
fn generate_name_gets_five_safe_characters() {
    let s = Store::new();
    let mut p = pod("", None);
    p["metadata"]["generateName"] = json!("web-");
    let p = s.create(&ResKey::pods(), p).unwrap();
    let name = meta::name(&p);
    assert_eq!(name.len(), 9, "{name}");
    assert!(name.starts_with("web-"));
}

#[test]
fn stale_updates_conflict_and_spec_changes_bump_generation() {
    let s = Store::new();
    let key = ResKey::deployments();
    let d = s.create(&key, deploy("web")).unwrap();
    let mut scaled = d.clone();
    scaled["spec"]["replicas"] = json!(3);
    let d2 = s.update(&key, scaled.clone()).unwrap();
    assert_eq!(d2["metadata"]["generation"], 2);
    assert_eq!(d2["metadata"]["uid"], d["metadata"]["uid"]);
    let err = s.update(&key, scaled).unwrap_err();
    assert!(
        err.to_string().contains(CONFLICT_MESSAGE),
        "stale rv must conflict: {err}"
    );
    let mut status = d2.clone();
    status["status"] = json!({"replicas": 3});
    let d3 = s.update(&key, status).unwrap();
    assert_eq!(
        d3["metadata"]["generation"], 2,
        "status changes keep generation"
    );
}

#[test]
fn identical_updates_are_no_ops() {
    let s = Store::new();
    let key = ResKey::deployments();
    let d = s.create(&key, deploy("web")).unwrap();
    let rv = s.resource_version();
    let mut w = s.watch(&key, None, rv).unwrap();
    let same = s.update(&key, d.clone()).unwrap();
    assert_eq!(same, d);
    assert_eq!(s.resource_version(), rv);
    assert!(w.try_recv().is_none());
}

#[test]
fn watch_replays_history_then_goes_live() {
    let s = Store::new();
    let key = ResKey::deployments();
    let start = s.resource_version();
    s.create(&key, deploy("a")).unwrap();
    s.create(&key, deploy("b")).unwrap();
    let mut w = s.watch(&key, Some("default"), start).unwrap();
    s.delete(&key, "default", "a", &DeleteOpts::default())
        .unwrap();
    let kinds: Vec<(EventType, String, u64)> = (0..3)
        .map(|_| {
            let ev = w.try_recv().unwrap().unwrap();
            (
                ev.kind,
                meta::name(&ev.object).to_owned(),
                ev.resource_version,
            )
        })
        .collect();
    assert_eq!(kinds[0].0, EventType::Added);
    assert_eq!(kinds[1].1, "b");
    assert_eq!(kinds[2].0, EventType::Deleted);
    assert!(kinds[0].2 < kinds[1].2 && kinds[1].2 < kinds[2].2);
    assert!(w.try_recv().is_none());
}

#[test]
fn watch_filters_by_namespace_and_collection() {
    let s = Store::new();
    let mut w = s
        .watch(&ResKey::deployments(), Some("other"), s.resource_version())
        .unwrap();
    s.create(&ResKey::deployments(), deploy("a")).unwrap();
    s.create(&ResKey::pods(), pod("p", None)).unwrap();
    assert!(w.try_recv().is_none());
}

#[test]
fn resumes_older_than_history_expire() {
    let s = Store::with_history(3);
    let key = ResKey::deployments();
    let start = s.resource_version();
    for i in 0..5 {
        s.create(&key, deploy(&format!("d{i}"))).unwrap();
    }
    let err = s.watch(&key, None, start).err().unwrap();
    assert!(matches!(err, StoreError::Expired { .. }), "{err:?}");
    assert!(s.watch(&key, None, s.resource_version() - 2).is_ok());
}

#[test]
fn restore_expires_watchers_and_keeps_the_version_rising() {
    let s = Store::new();
    let key = ResKey::deployments();
    s.create(&key, deploy("a")).unwrap();
    let snap = s.snapshot();
    let mut w = s.watch(&key, None, s.resource_version()).unwrap();
    let other = Store::new();
    other.restore(snap);
    assert!(other.resource_version() > 2);
    assert!(other.get(&key, "default", "a").is_some());
    s.restore(Snapshot::default());
    assert!(matches!(
        w.try_recv(),
        Some(Err(StoreError::Expired { .. }))
    ));
}

#[test]
fn scheduled_pods_terminate_gracefully() {
    let s = Store::new();
    let key = ResKey::pods();
    s.create(&key, pod("p", Some("node1"))).unwrap();
    let p = s
        .delete(&key, "default", "p", &DeleteOpts::default())
        .unwrap();
    assert!(meta::is_terminating(&p));
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 30);
    assert!(s.get(&key, "default", "p").is_some());
    let force = DeleteOpts {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    s.delete(&key, "default", "p", &force).unwrap();
    assert!(s.get(&key, "default", "p").is_none());
    s.create(&key, pod("q", None)).unwrap();
    s.delete(&key, "default", "q", &DeleteOpts::default())
        .unwrap();
    assert!(
        s.get(&key, "default", "q").is_none(),
        "unscheduled pods go at once"
    );
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let s = Store::new();
    let key = ResKey::deployments();
    let mut d = deploy("a");
    d["metadata"]["finalizers"] = json!(["example.com/hold"]);
    s.create(&key, d).unwrap();
    let held = s
        .delete(&key, "default", "a", &DeleteOpts::default())
        .unwrap();
    assert!(meta::is_terminating(&held));
    let mut released = held.clone();
    released["metadata"]["finalizers"] = json!([]);
    s.update(&key, released).unwrap();
    assert!(s.get(&key, "default", "a").is_none());
}

#[test]
fn preconditions_and_orphaning() {
    let s = Store::new();
    let owner = s.create(&ResKey::deployments(), deploy("a")).unwrap();
    let mut child = pod("c", None);
    child["metadata"]["ownerReferences"] = json!([meta::controller_ref(&owner)]);
    s.create(&ResKey::pods(), child).unwrap();
    let bad = DeleteOpts {
        precondition_uid: Some("nope".into()),
        ..Default::default()
    };
    let err = s
        .delete(&ResKey::deployments(), "default", "a", &bad)
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }));
    let orphan = DeleteOpts {
        propagation: Propagation::Orphan,
        ..Default::default()
    };
    s.delete(&ResKey::deployments(), "default", "a", &orphan)
        .unwrap();
    let c = s.get(&ResKey::pods(), "default", "c").unwrap();
    assert!(meta::owner_refs(&c).is_empty());
}

#[test]
fn foreground_deletion_waits_for_dependents() {
    let s = Store::new();
    let owner = s.create(&ResKey::deployments(), deploy("a")).unwrap();
    let mut child = pod("c", None);
    child["metadata"]["ownerReferences"] = json!([meta::controller_ref(&owner)]);
    s.create(&ResKey::pods(), child).unwrap();
    let fg = DeleteOpts {
        propagation: Propagation::Foreground,
        ..Default::default()
    };
    let d = s
        .delete(&ResKey::deployments(), "default", "a", &fg)
        .unwrap();
    assert_eq!(meta::finalizers(&d), vec!["foregroundDeletion".to_owned()]);
}
