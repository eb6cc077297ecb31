//! Service and general goals: exposed, resource, absent, http.

use serde_json::json;

use super::{assert_met, assert_unmet, check, three_pods};
use crate::check::fixtures::*;
use crate::check::{HttpProbe, World, evaluate_http, http_target, probes_for};
use crate::lesson::model::HttpGoal;

// ---- exposed ----

const EXPOSED: &str = "kind: exposed\ndeployment: web\ntype: NodePort\nport: 80\n";

fn exposed_world(svc: serde_json::Value, slice: Option<serde_json::Value>) -> World {
    let mut objects = vec![deployment("web", "example/app:v1", 1), svc];
    objects.extend(slice);
    world(objects)
}

#[test]
fn exposed_is_met_with_a_ready_endpoint() {
    let w = exposed_world(
        service("web", "NodePort", 80, "web"),
        Some(endpoint_slice(
            "web",
            &[("10.0.0.1", Some(true)), ("10.0.0.2", None)],
        )),
    );
    let status = check(EXPOSED, &w);
    assert_met(&status);
    assert_eq!(
        status.summary,
        "Service web (NodePort, port 80) has 2 ready endpoints"
    );
}

#[test]
fn exposed_accepts_legacy_endpoints() {
    let endpoints = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]});
    assert_met(&check(
        EXPOSED,
        &exposed_world(service("web", "NodePort", 80, "web"), Some(endpoints)),
    ));
}

#[test]
fn exposed_reports_each_difference() {
    assert_unmet(
        &check(EXPOSED, &world([])),
        "no Service named web in namespace default",
    );
    let status = check(
        EXPOSED,
        &exposed_world(service("web", "ClusterIP", 80, "web"), None),
    );
    assert_unmet(&status, "Service web is ClusterIP, expected NodePort");
    assert_eq!(
        status.details[0].to_string(),
        "type of Service web: expected NodePort, got ClusterIP"
    );
    assert_unmet(
        &check(
            EXPOSED,
            &exposed_world(service("web", "NodePort", 8080, "web"), None),
        ),
        "Service web listens on 8080, expected port 80",
    );
    assert_unmet(
        &check(
            EXPOSED,
            &exposed_world(service("web", "NodePort", 80, "db"), None),
        ),
        "Service web selects app=db, which does not match the pods of deployment web (app=web)",
    );
    let mut no_selector = service("web", "NodePort", 80, "web");
    no_selector["spec"]
        .as_object_mut()
        .unwrap()
        .remove("selector");
    assert_unmet(
        &check(EXPOSED, &exposed_world(no_selector, None)),
        "Service web has no selector, so it sends traffic to no pod",
    );
    assert_unmet(
        &check(
            EXPOSED,
            &exposed_world(
                service("web", "NodePort", 80, "web"),
                Some(endpoint_slice("web", &[("10.0.0.1", Some(false))])),
            ),
        ),
        "Service web has no ready endpoints yet",
    );
    assert_unmet(
        &check(
            EXPOSED,
            &exposed_world(
                service("web", "NodePort", 80, "web"),
                Some(endpoint_slice("other", &[("10.0.0.1", Some(true))])),
            ),
        ),
        "Service web has no ready endpoints yet",
    );
    assert_unmet(
        &check(EXPOSED, &world([service("web", "NodePort", 80, "web")])),
        "no Deployment named web in namespace default",
    );
}

#[test]
fn exposed_defaults_the_type_to_cluster_ip_and_uses_the_named_service() {
    let mut svc = service("front", "ClusterIP", 80, "web");
    svc["spec"].as_object_mut().unwrap().remove("type");
    let w = exposed_world(
        svc,
        Some(endpoint_slice("front", &[("10.0.0.1", Some(true))])),
    );
    assert_met(&check(
        "kind: exposed\ndeployment: web\nservice: front\ntype: ClusterIP\nport: 80\n",
        &w,
    ));
}

// ---- resource / absent ----

#[test]
fn resource_matches_partial_objects() {
    let mut labelled = pod("web-1", "web", "example/app:v1");
    labelled["metadata"]["labels"]["version"] = json!("v1");
    let w = world([labelled, pod("web-2", "web", "example/app:v1")]);
    let yaml = "kind: resource\ntarget: {apiVersion: v1, kind: Pod, selector: app=web}\nmatches: {metadata: {labels: {version: v1}}}\n";
    let status = check(yaml, &w);
    assert_met(&status);
    assert_eq!(
        status.summary,
        "found a matching Pod matching app=web in namespace default"
    );
    let counted = format!("{yaml}count: 2\n");
    let status = check(&counted, &w);
    assert_unmet(
        &status,
        "1 of 2 Pods match; Pod web-2: .metadata.labels.version: expected \"v1\", got nothing",
    );
}

#[test]
fn resource_names_the_first_differing_path() {
    let mut p = pod("web-1", "web", "example/app:v1");
    p["metadata"]["labels"]["version"] = json!("v2");
    let status = check(
        "kind: resource\ntarget: {apiVersion: v1, kind: Pod, name: web-1}\nmatches: {metadata: {labels: {version: v1}}}\n",
        &world([p]),
    );
    assert_unmet(
        &status,
        "Pod web-1: .metadata.labels.version: expected \"v1\", got \"v2\"",
    );
    assert_eq!(status.details[0].what, "Pod web-1 .metadata.labels.version");
}

#[test]
fn resource_counts_exactly_and_reports_absence() {
    let w = world(three_pods());
    let yaml = "kind: resource\ntarget: {apiVersion: v1, kind: Pod, selector: app=web}\ncount: 2\n";
    assert_unmet(
        &check(yaml, &w),
        "3 Pod matching app=web in namespace default match, expected 2",
    );
    let yaml = "kind: resource\ntarget: {apiVersion: v1, kind: Pod, selector: app=web}\ncount: 3\n";
    assert_eq!(
        check(yaml, &w).summary,
        "3 Pod matching app=web in namespace default as expected"
    );
    let yaml = "kind: resource\ntarget: {apiVersion: v1, kind: Pod, selector: app=db}\n";
    let status = check(yaml, &w);
    assert_unmet(&status, "no Pod matching app=db in namespace default");
    assert_eq!(
        status.details[0].to_string(),
        "number of Pods: expected at least 1, got 0"
    );
    let yaml = "kind: resource\ntarget: {apiVersion: v1, kind: Pod, selector: app=db}\ncount: 0\n";
    assert_met(&check(yaml, &w));
}

#[test]
fn resource_with_a_bad_selector_says_so() {
    let status = check(
        "kind: resource\ntarget: {apiVersion: v1, kind: Pod, selector: 'app in ('}\n",
        &world([]),
    );
    assert!(!status.met);
    assert!(
        status
            .summary
            .starts_with("the selector `app in (` is not valid"),
        "{}",
        status.summary
    );
}

#[test]
fn absent_is_met_only_when_nothing_matches() {
    let yaml = "kind: absent\ntarget: {apiVersion: v1, kind: Service, name: web}\n";
    assert_met(&check(yaml, &world([])));
    assert_unmet(
        &check(yaml, &world([service("web", "NodePort", 80, "web")])),
        "1 Service still exists: web",
    );
    let yaml = "kind: absent\ntarget: {apiVersion: v1, kind: Pod, selector: app=web}\n";
    let w = world([
        terminating(pod("web-1", "web", "a")),
        pod("web-2", "web", "a"),
    ]);
    assert_unmet(
        &check(yaml, &w),
        "2 Pod still exist: web-1 (terminating), web-2",
    );
    // Objects in another namespace do not count.
    let mut elsewhere = service("web", "NodePort", 80, "web");
    elsewhere["metadata"]["namespace"] = json!("other");
    assert_met(&check(
        "kind: absent\ntarget: {apiVersion: v1, kind: Service, name: web}\n",
        &world([elsewhere]),
    ));
}

// ---- http ----

fn http(distinct: u32) -> HttpGoal {
    HttpGoal {
        service: "web".into(),
        port: None,
        path: "/".into(),
        contains: "Hello".into(),
        distinct,
        explain_failure: Some("Is the Service there?".into()),
    }
}

fn ok(body: &str) -> HttpProbe {
    HttpProbe::Response {
        status: 200,
        body: body.into(),
    }
}

#[test]
fn http_is_met_by_a_matching_answer() {
    let status = evaluate_http(&http(1), &[ok("Hello World - web-1")]);
    assert_met(&status);
    assert_eq!(status.summary, "Service web answers / with \"Hello\"");
    assert_eq!(probes_for(&http(1)), 1);
}

#[test]
fn http_needs_distinct_answers_for_load_balancing() {
    let goal = http(2);
    assert_eq!(probes_for(&goal), 10);
    let same = [ok("Hello web-1"), ok("Hello web-1"), ok("Hello web-1")];
    let status = evaluate_http(&goal, &same);
    assert_unmet(
        &status,
        "Service web gave 1 different answer over 3 requests, expected 2",
    );
    assert_eq!(
        status.explain_failure.as_deref(),
        Some("Is the Service there?")
    );
    assert_met(&evaluate_http(
        &goal,
        &[
            ok("Hello web-1"),
            HttpProbe::Error("reset".into()),
            ok("Hello web-2"),
        ],
    ));
}

#[test]
fn http_failures_say_what_came_back() {
    let goal = http(1);
    assert_unmet(
        &evaluate_http(&goal, &[HttpProbe::Error("connection refused".into())]),
        "Service web does not answer at /: connection refused",
    );
    assert_unmet(
        &evaluate_http(
            &goal,
            &[HttpProbe::Response {
                status: 503,
                body: "no endpoints".into(),
            }],
        ),
        "Service web answered / with HTTP 503",
    );
    assert_unmet(
        &evaluate_http(&goal, &[ok("Goodbye\n  world")]),
        "Service web answered / without \"Hello\" (got \"Goodbye world\")",
    );
    assert_unmet(
        &evaluate_http(&goal, &[]),
        "Service web has not been called yet",
    );
}

#[test]
fn http_target_resolves_the_port() {
    let w = world([service("web", "NodePort", 8080, "web")]);
    assert_eq!(
        http_target(&http(1), &w, "default"),
        Ok(("web".to_owned(), 8080))
    );
    let mut with_port = http(1);
    with_port.port = Some(80);
    assert_eq!(
        http_target(&with_port, &w, "default"),
        Ok(("web".to_owned(), 80))
    );
    let missing = http_target(&http(1), &world([]), "default").unwrap_err();
    assert_eq!(missing.summary, "no Service named web in namespace default");
    assert_eq!(
        missing.explain_failure.as_deref(),
        Some("Is the Service there?")
    );
    let status = check("kind: http\nservice: web\ncontains: Hello\n", &w);
    assert_unmet(
        &status,
        "waiting for Service web to answer on port 8080 at /",
    );
}
