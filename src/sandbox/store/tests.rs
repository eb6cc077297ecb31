use super::*;
use crate::sandbox::objects::merged;

fn deploy(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 1}
    })
}

fn pod(name: &str, node: Option<&str>) -> Value {
    let p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}
    });
    match node {
        Some(n) => merged(&p, &json!({"spec": {"nodeName": n}})),
        None => p,
    }
}

/// `child` owned (controlled) by `owner`.
fn owned_by(child: Value, owner: &Value) -> Value {
    merged(
        &child,
        &json!({"metadata": {"ownerReferences": [meta::controller_ref_to(owner)]}}),
    )
}

#[test]
fn create_fills_metadata_and_bumps_the_resource_version() {
    let s = Store::new();
    let rv0 = s.resource_version();
    let d = s.create(&ResKey::deployments(), deploy("web")).unwrap();
    let m = Meta::of(&d);
    assert_eq!(m.resource_version_number(), Some(rv0 + 1));
    assert_eq!(m.generation, Some(1));
    assert_eq!(m.uid.len(), 36);
    assert!(m.creation_timestamp.ends_with('Z'));
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
    assert_eq!(Meta::of(&svc).generation, None);
    let key = ResKey::endpointslices();
    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abcde", "namespace": "default"},
        "addressType": "IPv4", "endpoints": []});
    let slice = s.create(&key, slice).unwrap();
    assert_eq!(Meta::of(&slice).generation, Some(1));
    let relabelled = merged(&slice, &json!({"metadata": {"labels": {"a": "b"}}}));
    let relabelled = s.update(&key, relabelled).unwrap();
    assert_eq!(Meta::of(&relabelled).generation, Some(1));
    let moved = merged(
        &relabelled,
        &json!({"endpoints": [{"addresses": ["10.244.1.2"]}]}),
    );
    let moved = s.update(&key, moved).unwrap();
    assert_eq!(Meta::of(&moved).generation, Some(2));
}

#[test]
fn generate_name_gets_five_safe_characters() {
    let s = Store::new();
    let p = merged(
        &pod("", None),
        &json!({"metadata": {"generateName": "web-"}}),
    );
    let p = s.create(&ResKey::pods(), p).unwrap();
    let name = Meta::of(&p).name;
    assert_eq!(name.len(), 9, "{name}");
    assert!(name.starts_with("web-"));
}

#[test]
fn stale_updates_conflict_and_spec_changes_bump_generation() {
    let s = Store::new();
    let key = ResKey::deployments();
    let d = s.create(&key, deploy("web")).unwrap();
    let scaled = merged(&d, &json!({"spec": {"replicas": 3}}));
    let d2 = s.update(&key, scaled.clone()).unwrap();
    assert_eq!(Meta::of(&d2).generation, Some(2));
    assert_eq!(Meta::of(&d2).uid, Meta::of(&d).uid);
    let err = s.update(&key, scaled).unwrap_err();
    assert!(
        err.to_string().contains(CONFLICT_MESSAGE),
        "stale rv must conflict: {err}"
    );
    let status = merged(&d2, &json!({"status": {"replicas": 3}}));
    let d3 = s.update(&key, status).unwrap();
    assert_eq!(
        Meta::of(&d3).generation,
        Some(2),
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
                Meta::of(&ev.object).name.to_owned(),
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
    assert!(Meta::of(&p).is_terminating());
    assert_eq!(Meta::of(&p).deletion_grace_period_seconds, Some(30));
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
    let d = merged(
        &deploy("a"),
        &json!({"metadata": {"finalizers": ["example.com/hold"]}}),
    );
    s.create(&key, d).unwrap();
    let held = s
        .delete(&key, "default", "a", &DeleteOpts::default())
        .unwrap();
    assert!(Meta::of(&held).is_terminating());
    let released = merged(&held, &json!({"metadata": {"finalizers": []}}));
    s.update(&key, released).unwrap();
    assert!(s.get(&key, "default", "a").is_none());
}

#[test]
fn preconditions_and_orphaning() {
    let s = Store::new();
    let owner = s.create(&ResKey::deployments(), deploy("a")).unwrap();
    s.create(&ResKey::pods(), owned_by(pod("c", None), &owner))
        .unwrap();
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
    assert!(Meta::of(&c).owner_references.is_empty());
}

#[test]
fn foreground_deletion_waits_for_dependents() {
    let s = Store::new();
    let owner = s.create(&ResKey::deployments(), deploy("a")).unwrap();
    s.create(&ResKey::pods(), owned_by(pod("c", None), &owner))
        .unwrap();
    let fg = DeleteOpts {
        propagation: Propagation::Foreground,
        ..Default::default()
    };
    let d = s
        .delete(&ResKey::deployments(), "default", "a", &fg)
        .unwrap();
    assert_eq!(Meta::of(&d).finalizers, vec![super::delete::FOREGROUND]);
}
