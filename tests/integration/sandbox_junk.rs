//! Junk requests get Status errors; the sandbox keeps serving and its state stays intact.

use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::client::Body;
use serde_json::{Value, json};

use crate::sandbox_kube::{client_for, start};

async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", content_type)
        .body(Body::from(body))
        .expect("request");
    let response = client.send(request).await.expect("the server answers");
    let code = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)}));
    (code, value)
}

fn assert_status(answer: &(u16, Value), code: u16, reason: &str) {
    assert_eq!(answer.0, code, "{}", answer.1);
    assert_eq!(answer.1["kind"], "Status", "{}", answer.1);
    assert_eq!(answer.1["code"], code);
    assert_eq!(answer.1["reason"], reason, "{}", answer.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_requests_get_status_errors_and_change_nothing() {
    let (sandbox, client, dir) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let keep: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "keep"}, "data": {"a": "1"}}))
            .expect("cm");
    let before = api
        .create(&PostParams::default(), &keep)
        .await
        .expect("create");
    let cms = "/api/v1/namespaces/default/configmaps";
    let keep_path = "/api/v1/namespaces/default/configmaps/keep";

    assert_status(
        &send(
            &client,
            "POST",
            cms,
            "application/json",
            b"{\"metadata\":".to_vec(),
        )
        .await,
        400,
        "BadRequest",
    );
    assert_status(
        &send(&client, "POST", cms, "application/json", b"[1,2]".to_vec()).await,
        400,
        "BadRequest",
    );
    assert_status(
        &send(
            &client,
            "POST",
            cms,
            "application/vnd.kubernetes.protobuf",
            b"k8s\0\xff\xff\xff\xff".to_vec(),
        )
        .await,
        400,
        "BadRequest",
    );
    assert_status(
        &send(
            &client,
            "POST",
            cms,
            "application/vnd.kubernetes.protobuf",
            b"not protobuf".to_vec(),
        )
        .await,
        400,
        "BadRequest",
    );
    assert_status(
        &send(&client, "POST", cms, "text/csv", b"a,b".to_vec()).await,
        415,
        "UnsupportedMediaType",
    );
    assert_status(
        &send(
            &client,
            "POST",
            cms,
            "application/json",
            vec![b' '; 4 * 1024 * 1024],
        )
        .await,
        413,
        "RequestEntityTooLarge",
    );
    assert_status(
        &send(
            &client,
            "PATCH",
            keep_path,
            "application/json-patch+json",
            b"{\"op\":1}".to_vec(),
        )
        .await,
        400,
        "BadRequest",
    );
    assert_status(
        &send(
            &client,
            "PATCH",
            keep_path,
            "application/merge-patch+json",
            b"{{".to_vec(),
        )
        .await,
        400,
        "BadRequest",
    );
    assert_status(
        &send(
            &client,
            "PATCH",
            keep_path,
            "application/json",
            b"{}".to_vec(),
        )
        .await,
        415,
        "UnsupportedMediaType",
    );
    assert_status(
        &send(
            &client,
            "PUT",
            keep_path,
            "application/json",
            br#"{"metadata":{"name":"other"}}"#.to_vec(),
        )
        .await,
        400,
        "BadRequest",
    );
    assert_status(
        &send(
            &client,
            "GET",
            "/api/v1/namespaces/default/widgets",
            "application/json",
            Vec::new(),
        )
        .await,
        404,
        "NotFound",
    );
    assert_status(
        &send(
            &client,
            "GET",
            "/apis/nope.example/v1",
            "application/json",
            Vec::new(),
        )
        .await,
        404,
        "NotFound",
    );
    assert_status(
        &send(
            &client,
            "GET",
            "/totally/unknown",
            "application/json",
            Vec::new(),
        )
        .await,
        404,
        "NotFound",
    );
    assert_status(
        &send(&client, "PUT", "/version", "application/json", Vec::new()).await,
        405,
        "MethodNotAllowed",
    );
    assert_status(
        &send(
            &client,
            "GET",
            &format!("{cms}?labelSelector=a%20in%20(b"),
            "application/json",
            Vec::new(),
        )
        .await,
        400,
        "BadRequest",
    );
    assert_status(
        &send(
            &client,
            "GET",
            &format!("{cms}?fieldSelector=%3D%3D%3D"),
            "application/json",
            Vec::new(),
        )
        .await,
        400,
        "BadRequest",
    );
    assert_status(
        &send(
            &client,
            "GET",
            &format!("{cms}?limit=x"),
            "application/json",
            Vec::new(),
        )
        .await,
        400,
        "BadRequest",
    );
    assert_status(
        &send(
            &client,
            "GET",
            &format!("{cms}?limit=1&continue=garbage"),
            "application/json",
            Vec::new(),
        )
        .await,
        400,
        "BadRequest",
    );
    assert_status(
        &send(
            &client,
            "POST",
            "/api/v1/namespaces/ghost/configmaps",
            "application/json",
            br#"{"metadata":{"name":"x"}}"#.to_vec(),
        )
        .await,
        404,
        "NotFound",
    );
    assert_status(
        &send(
            &client,
            "POST",
            cms,
            "application/json",
            br#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x"}}"#.to_vec(),
        )
        .await,
        400,
        "BadRequest",
    );

    // Wrong and missing tokens.
    let config_path = sandbox.kubeconfig_path().to_owned();
    let text = std::fs::read_to_string(&config_path).expect("kubeconfig");
    let token_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("token:"))
        .expect("token line")
        .to_owned();
    for (name, replacement) in [("wrong", "    token: not-the-token"), ("missing", "")] {
        let path = dir.path().join(format!("{name}.kubeconfig"));
        std::fs::write(&path, text.replace(&token_line, replacement)).expect("write kubeconfig");
        let other = client_for(&path).await;
        assert_status(
            &send(&other, "GET", "/healthz", "application/json", Vec::new()).await,
            401,
            "Unauthorized",
        );
        assert_status(
            &send(&other, "GET", cms, "application/json", Vec::new()).await,
            401,
            "Unauthorized",
        );
    }

    // Still serving, nothing changed.
    let (code, _) = send(&client, "GET", "/readyz", "application/json", Vec::new()).await;
    assert_eq!(code, 200);
    let after = api.get("keep").await.expect("still there");
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert_eq!(after.data, before.data);
    let names: Vec<String> = api
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert!(!names.iter().any(|n| n == "x"), "{names:?}");
    let (code, metrics) = send(&client, "GET", "/metrics", "application/json", Vec::new()).await;
    assert_eq!(code, 200);
    assert!(
        metrics["raw"].as_str().is_some_and(|m| m.contains(
            "apiserver_request_total{code=\"413\",resource=\"configmaps\",verb=\"CREATE\"} 1"
        )),
        "{metrics}"
    );
    sandbox.shutdown().await;
}
