//! Subresources: `scale`, `pods/log`, `pods/exec` and the pod and service proxies.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec, ScaleStatus};
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use crate::sandbox::objects::{Deployment, Pod, Scaled, merged, parse, pod_ip, to_json, view_of};
use crate::sandbox::store::meta::Meta;
use crate::sandbox::store::{ResKey, StoreError};

use super::admission;
use super::handlers::{content_type, current, decode_object, store_error};
use super::patch::{self, PatchKind};
use super::query::Query;
use super::status::ApiError;
use crate::sandbox::http::{
    ApiResult, ApiState, ResourcePath, exec, json_response, read_body, shell,
};
use crate::sandbox::print::printers;

/// The `autoscaling/v1 Scale` view of a deployment or replica set.
pub fn to_scale(obj: &Value) -> Value {
    let scaled: Scaled = view_of(obj);
    // Deployments and ReplicaSets have the same `spec.selector`.
    let workload: Deployment = view_of(obj);
    let selector = printers::selector_string(workload.spec.selector.as_ref());
    let m = &scaled.metadata;
    let given = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let count = |n: Option<i64>| i32::try_from(n.unwrap_or(0)).unwrap_or(i32::MAX);
    to_json(&Scale {
        metadata: ObjectMeta {
            name: given(m.name),
            namespace: given(m.namespace),
            uid: given(m.uid),
            resource_version: given(m.resource_version),
            creation_timestamp: m.created().map(crate::sandbox::store::meta::time_at),
            ..ObjectMeta::default()
        },
        spec: Some(ScaleSpec {
            replicas: Some(count(scaled.spec.replicas)),
        }),
        status: Some(ScaleStatus {
            replicas: count(scaled.status.replicas),
            selector: Some(if selector == "<none>" {
                String::new()
            } else {
                selector
            }),
        }),
    })
}

/// GET, PUT and PATCH on `.../scale`.
pub async fn scale(
    state: &Arc<ApiState>,
    req: Request<Body>,
    target: &ResourcePath,
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
        let wanted: Scaled = view_of(&wanted);
        let replicas = wanted.spec.replicas.unwrap_or(0);
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
        let rv = wanted.metadata.resource_version;
        if !rv.is_empty() && rv != Meta::of(&obj).resource_version {
            return Err(ApiError::conflict(
                target.info.group,
                target.info.resource,
                &name,
            ));
        }
        let new = merged(&obj, &json!({"spec": {"replicas": replicas}}));
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
fn pick_container(pod: &Pod, asked: Option<&str>) -> Result<String, ApiError> {
    let pod_name = pod.metadata.name;
    let names: Vec<&str> = pod.spec.containers.iter().map(|c| c.name).collect();
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

fn ensure_running(pod: &Pod, container: &str) -> Result<(), ApiError> {
    let pod_name = pod.metadata.name;
    let state = pod
        .status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == container)
        .and_then(|c| c.state.clone())
        .unwrap_or_default();
    if state.running.is_some() || state.terminated.is_some() {
        return Ok(());
    }
    let reason = state
        .waiting
        .and_then(|w| w.reason)
        .unwrap_or_else(|| "ContainerCreating".to_owned());
    let why = match reason.as_str() {
        "ErrImagePull" | "ImagePullBackOff" => "trying and failing to pull image",
        other => other,
    };
    Err(ApiError::bad_request(format!(
        "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {why}"
    )))
}

/// `GET .../pods/NAME/log` (text/plain; `follow`, `tailLines`).
pub async fn logs(state: &Arc<ApiState>, target: &ResourcePath, query: &Query) -> ApiResult {
    let json = current(state, target)?;
    let pod: Pod = view_of(&json);
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
        pod.metadata.uid.to_owned(),
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
                .is_some_and(|p| Meta::of(&p).uid == uid);
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
    target: &ResourcePath,
    query: &Query,
) -> ApiResult {
    let json = current(state, target)?;
    let pod: Pod = view_of(&json);
    let container = pick_container(&pod, query.get("container"))?;
    ensure_running(&pod, &container)?;
    if query.commands.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    if query.flag("stdin") && shell::is_shell(&query.commands) {
        let apps = state.catalogue.clone();
        let prompt = apps.prompt(&pod, &container);
        let run: shell::Runner =
            Arc::new(move |argv: &[String]| apps.exec(&view_of(&json), &container, argv));
        let session = shell::Shell {
            prompt,
            tty: query.flag("tty"),
            run,
        };
        return exec::upgrade(req, exec::ExecSession::Shell(session));
    }
    let output = state.catalogue.exec(&pod, &container, &query.commands);
    exec::upgrade(req, exec::ExecSession::Once(output))
}

/// The pods an Endpoints object lists as ready.
pub fn ready_pod_names(endpoints: &Value) -> Vec<String> {
    let endpoints: Endpoints = parse(endpoints).unwrap_or_default();
    endpoints
        .subsets
        .into_iter()
        .flatten()
        .flat_map(|s| s.addresses.into_iter().flatten())
        .filter_map(|a| a.target_ref.and_then(|r| r.name))
        .collect()
}

fn ready_pod_for_service(state: &ApiState, namespace: &str, service: &str) -> Option<Value> {
    let endpoints = state.store.get(&ResKey::endpoints(), namespace, service)?;
    let names = ready_pod_names(&endpoints);
    let name = names.choose(&mut rand::rng())?;
    state.store.get(&ResKey::pods(), namespace, name)
}

/// The pod and service proxies: answer with the app of a (ready) pod.
pub async fn proxy(state: &Arc<ApiState>, req: Request<Body>, target: &ResourcePath) -> ApiResult {
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
        if pod_ip(&view_of(&pod)).is_empty() {
            return Err(ApiError::new(
                503,
                "ServiceUnavailable",
                format!("pod {name} has no IP address yet"),
            ));
        }
        pod
    };
    let pod: Pod = view_of(&pod);
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
                pod_ip(&pod)
            ),
        )),
    }
}
