//! The sandbox's HTTP transport: routing, authentication, bodies and responses, the exec
//! WebSocket, protobuf decoding, the listener and its TLS. The API server's rules live in `registry`, kubectl's
//! printing in `print`.

pub mod exec;
pub mod protobuf;
pub mod server;
pub mod shell;
pub mod tls;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode, header};
use bytes::Bytes;
use http_body_util::BodyExt;
use tokio_util::sync::CancellationToken;

use crate::sandbox::apps::AppSpec;
use crate::sandbox::metrics::Metrics;
use crate::sandbox::objects::{Pod, to_json};
use crate::sandbox::store::Store;

use crate::sandbox::registry::resources::{self, ResourceInfo};
use crate::sandbox::registry::status::ApiError;
use crate::sandbox::registry::{discovery, handlers, openapi};

/// The largest request body accepted, like the real server's 3 MiB limit.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Everything a request handler may use.
pub struct ApiState {
    /// The object store.
    pub store: Arc<Store>,
    /// The bearer token clients must present.
    pub token: String,
    /// Request counters.
    pub metrics: Arc<Metrics>,
    /// `host:port` the API listens on.
    pub server_address: String,
    /// The image catalogue (HTTP responses, logs, exec).
    pub catalogue: Arc<dyn Apps>,
    /// Cancelled when the sandbox shuts down (ends watches and streams).
    pub shutdown: CancellationToken,
}

/// What a simulated container does: its HTTP answers, logs and commands.
pub trait Apps: Send + Sync {
    /// The app's HTTP answer (status, body) for `path`, `None` when nothing listens.
    fn http(&self, pod: &Pod, path: &str) -> Option<(u16, String)>;
    /// The container's log lines so far.
    fn logs(&self, pod: &Pod, container: &str) -> Vec<String>;
    /// Runs a (non-interactive) command in the container.
    fn exec(&self, pod: &Pod, container: &str, argv: &[String]) -> ExecOutput;
    /// The prompt of an interactive shell in the container.
    fn prompt(&self, pod: &Pod, container: &str) -> String;
    /// Learns more images (`POST /kubetutor/v1/images`, a lesson's); an error says why not.
    fn learn(&self, images: &[AppSpec]) -> Result<(), String> {
        let _ = images;
        Err("this sandbox does not learn images".to_owned())
    }
}

/// The path at which a running sandbox learns a lesson's images: a JSON array of
/// [`AppSpec`], behind the same bearer token as the API (kubetutor's own, not Kubernetes').
pub const LEARN_IMAGES_PATH: &str = "/kubetutor/v1/images";

/// The result of a simulated command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// What the command wrote on stdout.
    pub stdout: String,
    /// What the command wrote on stderr.
    pub stderr: String,
    /// Its exit code.
    pub exit_code: i32,
}

/// A resource request after path parsing.
#[derive(Debug, Clone)]
pub struct ResourcePath {
    /// The resource type.
    pub info: &'static ResourceInfo,
    /// Namespace from the path (None for cluster scope or all namespaces).
    pub namespace: Option<String>,
    /// Object name, when the path names one.
    pub name: Option<String>,
    /// Subresource (`status`, `scale`, `log`, `exec`, `proxy`).
    pub subresource: Option<String>,
    /// The rest of a proxy path (with its leading slash), possibly empty.
    pub rest: String,
}

impl ResourcePath {
    /// The store key.
    pub fn key(&self) -> crate::sandbox::store::ResKey {
        resources::key(self.info)
    }

    /// The namespace for store calls ("" for cluster scope).
    pub fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or_default()
    }
}

/// What a request was, for metrics.
#[derive(Debug, Clone, Default)]
pub struct RequestLabel {
    /// Kubernetes verb (get, list, watch, create, ...).
    pub verb: String,
    /// Resource (with `/subresource`), or "" for non-resource paths.
    pub resource: String,
}

/// A finished response, or an API error to render.
pub type ApiResult = Result<Response<Body>, ApiError>;

/// The entry point for every request.
pub async fn handle(state: Arc<ApiState>, req: Request<Body>) -> Response<Body> {
    let pretty = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("curl/"));
    let mut label = RequestLabel {
        verb: req.method().as_str().to_lowercase(),
        resource: String::new(),
    };
    let response = if !authorized(&state.token, req.headers()) {
        Err(ApiError::unauthorized())
    } else {
        route(&state, req, &mut label, pretty).await
    };
    let response = response.unwrap_or_else(|err| error_response(&err, pretty));
    state
        .metrics
        .record(&label.verb, &label.resource, response.status().as_u16());
    response
}

fn authorized(token: &str, headers: &HeaderMap) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    // Constant-time comparison: the token is a credential.
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A request header as text, `default` when absent or not text.
pub fn header_or(req: &Request<Body>, name: header::HeaderName, default: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(default)
        .to_owned()
}

/// Renders an error as a Status response.
pub fn error_response(err: &ApiError, pretty: bool) -> Response<Body> {
    json_response(err.status_code(), &err.to_status(), pretty)
}

/// A JSON response.
pub fn json_response<T: serde::Serialize + ?Sized>(
    code: StatusCode,
    value: &T,
    pretty: bool,
) -> Response<Body> {
    let body = if pretty {
        serde_json::to_vec_pretty(value).map(|mut v| {
            v.push(b'\n');
            v
        })
    } else {
        serde_json::to_vec(value)
    }
    .unwrap_or_default();
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn text_response(code: StatusCode, text: &'static str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(text))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Reads a request body, 413 over [`MAX_BODY`].
pub async fn read_body(mut body: Body) -> Result<Bytes, ApiError> {
    // Past the limit the rest is read and dropped (up to a bound), so the client sees the 413
    // instead of a connection reset mid-upload.
    const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::bad_request("failed to read the request body"))?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen <= MAX_BODY {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT {
                break;
            }
        }
    }
    if seen > MAX_BODY {
        return Err(ApiError::new(
            413,
            "RequestEntityTooLarge",
            "the request body is too large: limit is 3145728 bytes",
        ));
    }
    Ok(buf.freeze())
}

async fn route(
    state: &Arc<ApiState>,
    req: Request<Body>,
    label: &mut RequestLabel,
    pretty: bool,
) -> ApiResult {
    let path = req.uri().path().to_owned();
    let accept = header_or(&req, header::ACCEPT, "");
    let method = req.method().clone();
    let trimmed = path.trim_end_matches('/');
    let get_only = |label: &mut RequestLabel| -> Result<(), ApiError> {
        label.verb = "get".to_owned();
        if method == Method::GET || method == Method::HEAD {
            Ok(())
        } else {
            Err(ApiError::method_not_allowed())
        }
    };
    match trimmed {
        "/version" => {
            get_only(label)?;
            return Ok(json_response(StatusCode::OK, &discovery::version(), pretty));
        }
        "/healthz" | "/readyz" | "/livez" | "/healthz/ping" | "/readyz/ping" | "/livez/ping" => {
            get_only(label)?;
            return Ok(text_response(StatusCode::OK, "ok"));
        }
        "/metrics" => {
            get_only(label)?;
            return Ok(Response::builder()
                .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
                .body(Body::from(state.metrics.render()))
                .unwrap_or_else(|_| Response::new(Body::empty())));
        }
        "/api" | "/apis" => {
            get_only(label)?;
            let core = trimmed == "/api";
            if discovery::wants_aggregated(&accept) {
                let body = serde_json::to_vec(&discovery::aggregated(core)).unwrap_or_default();
                return Ok(Response::builder()
                    .header(header::CONTENT_TYPE, discovery::AGGREGATED_CONTENT_TYPE)
                    .body(Body::from(body))
                    .unwrap_or_else(|_| Response::new(Body::empty())));
            }
            let doc = if core {
                to_json(&discovery::api_versions(&state.server_address))
            } else {
                to_json(&discovery::api_group_list())
            };
            return Ok(json_response(StatusCode::OK, &doc, pretty));
        }
        "/openapi/v3" => {
            get_only(label)?;
            return Ok(json_response(StatusCode::OK, &openapi::index(), pretty));
        }
        LEARN_IMAGES_PATH => return learn_images(state, req, label, pretty).await,
        _ => {}
    }
    if let Some(doc_path) = trimmed.strip_prefix("/openapi/v3/") {
        get_only(label)?;
        return openapi::group_document(doc_path)
            .map(|doc| json_response(StatusCode::OK, &doc, pretty))
            .ok_or_else(ApiError::no_route);
    }
    let Some((group, version, segments)) = split_api_path(&path) else {
        return Err(ApiError::no_route());
    };
    if segments.iter().all(|s| s.is_empty()) {
        get_only(label)?;
        let doc = if version.is_empty() {
            discovery::api_group(&group).map(|d| to_json(&d))
        } else {
            discovery::api_resource_list(&group, &version).map(|d| to_json(&d))
        };
        return doc
            .map(|d| json_response(StatusCode::OK, &d, pretty))
            .ok_or_else(ApiError::no_route);
    }
    let target = resolve(&group, &version, &segments)?;
    let warning = deprecation_warning(target.info);
    let result = handlers::dispatch(state, req, target, label, pretty).await;
    match warning {
        // kube-apiserver warns on every request to a deprecated API, failed ones included.
        Some(text) => {
            let mut response = result.unwrap_or_else(|err| error_response(&err, pretty));
            if let Ok(value) = header::HeaderValue::from_str(&format!("299 - \"{text}\"")) {
                response.headers_mut().append(header::WARNING, value);
            }
            Ok(response)
        }
        None => result,
    }
}

async fn learn_images(
    state: &ApiState,
    req: Request<Body>,
    label: &mut RequestLabel,
    pretty: bool,
) -> ApiResult {
    label.verb = "create".to_owned();
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let body = read_body(req.into_body()).await?;
    let images: Vec<AppSpec> = serde_json::from_slice(&body)
        .map_err(|err| ApiError::bad_request(format!("failed to read the images: {err}")))?;
    state
        .catalogue
        .learn(&images)
        .map_err(|why| ApiError::new(501, "NotImplemented", why))?;
    let answer = serde_json::json!({"learned": images.len()});
    Ok(json_response(StatusCode::OK, &answer, pretty))
}

/// The warning kube-apiserver 1.37 sends with every request to a deprecated API.
fn deprecation_warning(info: &ResourceInfo) -> Option<&'static str> {
    (info.group.is_empty() && info.version == "v1" && info.resource == "endpoints")
        .then_some("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice")
}

/// Splits `/api/v1/...` or `/apis/G/V/...` into group, version and the remaining segments
/// (keeping a trailing empty segment for a trailing slash).
fn split_api_path(path: &str) -> Option<(String, String, Vec<String>)> {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match segments.as_slice() {
        ["api", "v1", rest @ ..] => Some((
            String::new(),
            "v1".to_owned(),
            rest.iter().map(|s| (*s).to_owned()).collect(),
        )),
        ["apis", group] => Some(((*group).to_owned(), String::new(), Vec::new())),
        ["apis", group, ""] => Some(((*group).to_owned(), String::new(), Vec::new())),
        ["apis", group, version, rest @ ..] => Some((
            (*group).to_owned(),
            (*version).to_owned(),
            rest.iter().map(|s| (*s).to_owned()).collect(),
        )),
        _ => None,
    }
}

fn resolve(group: &str, version: &str, segments: &[String]) -> Result<ResourcePath, ApiError> {
    // A trailing slash leaves an empty last segment; only proxy paths keep it.
    let mut segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let namespaced_form = segs.len() >= 3
        && segs[0] == "namespaces"
        && resources::find(group, version, segs[2]).is_some_and(|r| r.namespaced);
    let namespace = if namespaced_form {
        let ns = segs[1].to_owned();
        segs.drain(..2);
        Some(ns)
    } else {
        None
    };
    let resource = segs.first().copied().unwrap_or_default();
    let info = resources::find(group, version, resource).ok_or_else(ApiError::no_route)?;
    // A trailing slash (`/pods/NAME/`, as the seed curls it) leaves an empty segment.
    let name = segs
        .get(1)
        .filter(|s| !s.is_empty())
        .map(|s| (*s).to_owned());
    let subresource = segs
        .get(2)
        .filter(|s| !s.is_empty())
        .map(|s| (*s).to_owned());
    let rest = if segs.len() > 3 {
        format!("/{}", segs[3..].join("/"))
    } else {
        String::new()
    };
    if segs.len() > 3 && subresource.as_deref() != Some("proxy") {
        return Err(ApiError::no_route());
    }
    if subresource
        .as_deref()
        .is_some_and(|sub| !info.has_subresource(sub))
        || name.as_deref().is_some_and(|n| n.contains(".."))
    {
        return Err(ApiError::no_route());
    }
    Ok(ResourcePath {
        info,
        namespace,
        name,
        subresource,
        rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Result<ResourcePath, ApiError> {
        let (g, v, segs) = split_api_path(path).ok_or_else(ApiError::no_route)?;
        resolve(&g, &v, &segs)
    }

    #[test]
    fn resolves_paths() {
        let t = target("/apis/apps/v1/namespaces/default/deployments/web/scale").expect("scale");
        assert_eq!(
            (
                t.info.resource,
                t.ns(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("deployments", "default", Some("web"), Some("scale"))
        );
        let t = target("/api/v1/namespaces/default/pods/p/").expect("trailing slash");
        assert_eq!(
            (t.name.as_deref(), t.subresource.as_deref()),
            (Some("p"), None)
        );
        let t = target("/api/v1/namespaces/kube-system").expect("namespace object");
        assert_eq!(
            (t.info.resource, t.name.as_deref()),
            ("namespaces", Some("kube-system"))
        );
        let t = target("/api/v1/pods").expect("all pods");
        assert!(t.namespace.is_none());
        let t = target("/api/v1/namespaces/default/services/web:80/proxy/a/b/").expect("proxy");
        assert_eq!(t.rest, "/a/b/");
        assert!(target("/api/v1/namespaces/default/widgets").is_err());
        assert!(target("/api/v1/namespaces/default/pods/p/bogus").is_err());
        assert!(target("/api/v1/namespaces/default/pods/p/status/x").is_err());
    }

    #[test]
    fn token_comparison() {
        let mut headers = HeaderMap::new();
        assert!(!authorized("t", &headers));
        headers.insert(header::AUTHORIZATION, "Bearer t".parse().expect("header"));
        assert!(authorized("t", &headers));
        assert!(!authorized("u", &headers));
    }
}
