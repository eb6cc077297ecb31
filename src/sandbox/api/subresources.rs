//! Subresources: `scale`, `pods/log`, `pods/exec` and the pod and service proxies.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use crate::sandbox::store::{ResKey, StoreError};

use super::handlers::{content_type, current, decode_object, store_error};
use super::patch::{self, PatchKind};
use super::query::Query;
use super::status::ApiError;
use super::{
    ApiResult, ApiState, Target, admission, exec, json_response, printers, read_body, shell,
};

/// The `autoscaling/v1 Scale` view of a deployment or replica set.
pub fn to_scale(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let selector = printers::selector_string(obj.pointer("/spec/selector"));
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {
            "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": if selector == "<none>" { String::new() } else { selector },
        },
    })
}

/// GET, PUT and PATCH on `.../scale`.
pub async fn scale(
    state: &Arc<ApiState>,
    req: Request<Body>,
    target: &Target,
    query: &Query,
    pretty: bool,
) -> ApiResult {
    let method = req.method().clone();
    if method == axum::http::Method::GET {
        return Ok(json_response(
            StatusCode::OK,
            &to_scale(&current(state, target)?),
            pretty,
        ));
    }
    let ct = content_type(&req);
    let body = read_body(req.into_body()).await?;
    let name = target.name.clone().unwrap_or_default();
    for _ in 0..10 {
        let obj = current(state, target)?;
        let current = to_scale(&obj);
        let wanted = match method {
            axum::http::Method::PUT => decode_object(&ct, &body)?,
            axum::http::Method::PATCH => {
                let kind = PatchKind::from_content_type(&ct).ok_or_else(|| {
                    ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        format!("unsupported patch type {ct}"),
                    )
                })?;
                let p = patch::parse_body(kind, &body)?;
                patch::apply_patch(kind, &current, &p)?
            }
            _ => return Err(ApiError::method_not_allowed()),
        };
        let replicas = wanted
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if replicas < 0 {
            return Err(ApiError::invalid(
                "Scale",
                "autoscaling",
                &name,
                &[(
                    "spec.replicas".to_owned(),
                    "FieldValueInvalid",
                    format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                )],
            ));
        }
        if let Some(rv) = wanted
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && !rv.is_empty()
            && Some(rv) != obj["metadata"]["resourceVersion"].as_str()
        {
            {
                return Err(ApiError::conflict(
                    target.info.group,
                    target.info.resource,
                    &name,
                ));
            }
        }
        let mut new = obj.clone();
        new["spec"]["replicas"] = json!(replicas);
        let new = admission::admit_update(state, target.info, &obj, new)?;
        if query.dry_run() {
            return Ok(json_response(StatusCode::OK, &to_scale(&new), pretty));
        }
        match state.store.update(&target.key(), new) {
            Ok(stored) => return Ok(json_response(StatusCode::OK, &to_scale(&stored), pretty)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_error(e)),
        }
    }
    Err(ApiError::conflict(
        target.info.group,
        target.info.resource,
        &name,
    ))
}

/// The container a log or exec request is about, checked like the real kubelet does.
fn pick_container(pod: &Value, asked: Option<&str>) -> Result<String, ApiError> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let names: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    match asked.filter(|c| !c.is_empty()) {
        Some(c) if names.contains(&c) => Ok(c.to_owned()),
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {pod_name}"
        ))),
        None if names.len() == 1 => Ok(names[0].to_owned()),
        None => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {pod_name}, choose one of: [{}]",
            names.join(" ")
        ))),
    }
}

fn ensure_running(pod: &Value, container: &str) -> Result<(), ApiError> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let status = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"].as_str() == Some(container));
    let running = status.is_some_and(|s| {
        s["state"].get("running").is_some() || s["state"].get("terminated").is_some()
    });
    if running {
        return Ok(());
    }
    let reason = status
        .and_then(|s| s["state"]["waiting"]["reason"].as_str())
        .unwrap_or("ContainerCreating");
    let why = match reason {
        "ErrImagePull" | "ImagePullBackOff" => "trying and failing to pull image",
        other => other,
    };
    Err(ApiError::bad_request(format!(
        "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {why}"
    )))
}

/// `GET .../pods/NAME/log` (text/plain; `follow`, `tailLines`).
pub async fn logs(state: &Arc<ApiState>, target: &Target, query: &Query) -> ApiResult {
    let pod = current(state, target)?;
    let container = pick_container(&pod, query.get("container"))?;
    ensure_running(&pod, &container)?;
    let mut lines = state.catalogue.logs(&pod, &container);
    if let Some(tail) = query.int("tailLines")? {
        let keep = usize::try_from(tail.max(0)).unwrap_or(0);
        if lines.len() > keep {
            lines.drain(..lines.len() - keep);
        }
    }
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if !query.flag("follow") {
        return Ok(plain(StatusCode::OK, std::mem::take(&mut text)));
    }
    // Follow: send what there is, then hold the stream open until the pod goes away.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::convert::Infallible>>(4);
    let (store, key, ns, name, uid) = (
        state.store.clone(),
        target.key(),
        target.ns().to_owned(),
        target.name.clone().unwrap_or_default(),
        pod["metadata"]["uid"].clone(),
    );
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        if tx.send(Ok(bytes::Bytes::from(text))).await.is_err() {
            return;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
        while tokio::time::Instant::now() < deadline && !shutdown.is_cancelled() && !tx.is_closed()
        {
            let alive = store
                .get(&key, &ns, &name)
                .is_some_and(|p| p["metadata"]["uid"] == uid);
            if !alive {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                () = shutdown.cancelled() => break,
            }
        }
    });
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .unwrap_or_else(|_| Response::new(Body::empty())))
}

fn plain(code: StatusCode, text: String) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(text))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// `.../pods/NAME/exec` over WebSocket.
pub async fn exec(
    state: &Arc<ApiState>,
    req: Request<Body>,
    target: &Target,
    query: &Query,
) -> ApiResult {
    let pod = current(state, target)?;
    let container = pick_container(&pod, query.get("container"))?;
    ensure_running(&pod, &container)?;
    if query.commands.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    if query.flag("stdin") && shell::is_shell(&query.commands) {
        let apps = state.catalogue.clone();
        let prompt = apps.prompt(&pod, &container);
        let run: shell::Runner = Arc::new(move |argv: &[String]| apps.exec(&pod, &container, argv));
        let session = shell::Shell {
            prompt,
            tty: query.flag("tty"),
            run,
        };
        return exec::upgrade(req, exec::Session::Shell(session));
    }
    let output = state.catalogue.exec(&pod, &container, &query.commands);
    exec::upgrade(req, exec::Session::Once(output))
}

fn ready_pod_for_service(state: &ApiState, namespace: &str, service: &str) -> Option<Value> {
    let endpoints = state.store.get(
        &ResKey {
            group: String::new(),
            resource: "endpoints".to_owned(),
        },
        namespace,
        service,
    )?;
    let names: Vec<String> = endpoints["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["addresses"].as_array().into_iter().flatten())
        .filter_map(|a| a["targetRef"]["name"].as_str().map(str::to_owned))
        .collect();
    let name = names.choose(&mut rand::rng())?;
    state.store.get(
        &ResKey {
            group: String::new(),
            resource: "pods".to_owned(),
        },
        namespace,
        name,
    )
}

/// The pod and service proxies: answer with the app of a (ready) pod.
pub async fn proxy(state: &Arc<ApiState>, req: Request<Body>, target: &Target) -> ApiResult {
    let raw_name = target.name.clone().unwrap_or_default();
    // NAME, NAME:PORT or SCHEME:NAME:PORT.
    let parts: Vec<&str> = raw_name.split(':').collect();
    let name = match parts.as_slice() {
        [n] | [n, _] => *n,
        ["http" | "https", n, _] => *n,
        _ => {
            return Err(ApiError::bad_request(format!(
                "invalid proxy name {raw_name:?}"
            )));
        }
    };
    let ns = target.ns();
    let path = if target.rest.is_empty() {
        "/".to_owned()
    } else {
        target.rest.clone()
    };
    let path = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let pod = if target.info.resource == "services" {
        if state.store.get(&target.key(), ns, name).is_none() {
            return Err(ApiError::not_found("", "services", name));
        }
        ready_pod_for_service(state, ns, name).ok_or_else(|| {
            ApiError::new(
                503,
                "ServiceUnavailable",
                format!("no endpoints available for service \"{raw_name}\""),
            )
        })?
    } else {
        let pod = state
            .store
            .get(&target.key(), ns, name)
            .ok_or_else(|| ApiError::not_found("", "pods", name))?;
        if pod["status"]["podIP"].as_str().is_none_or(str::is_empty) {
            return Err(ApiError::new(
                503,
                "ServiceUnavailable",
                format!("pod {name} has no IP address yet"),
            ));
        }
        pod
    };
    match state.catalogue.http(&pod, &path) {
        Some((code, body)) => Ok(plain(
            StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
            body,
        )),
        None => Err(ApiError::new(
            503,
            "ServiceUnavailable",
            format!(
                "error trying to reach service: dial tcp {}: connect: connection refused",
                pod["status"]["podIP"].as_str().unwrap_or_default()
            ),
        )),
    }
}
