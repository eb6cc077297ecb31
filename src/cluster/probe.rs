//! Direct requests: HTTP through the service proxy, namespaces for check mode, and the
//! events and pod states a failure report shows.

use std::time::Duration;

use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::client::Body;

use crate::check::{
    GoalStatus, HttpProbe, World, evaluate_http, http_target, pod_ready, pod_state, probes_for,
};
use crate::cluster::{Cluster, ClusterError, describe_error};
use crate::lesson::model::HttpGoal;

/// How long one HTTP probe through the service proxy may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often namespace deletion is polled.
const NAMESPACE_POLL: Duration = Duration::from_millis(500);
/// Events kept for a failure report.
const MAX_EVENTS: usize = 10;

/// A pod as a failure report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    /// Pod name.
    pub name: String,
    /// kubectl's STATUS column: `Running`, `ImagePullBackOff`, `Terminating`...
    pub state: String,
    /// Whether the Ready condition is True.
    pub ready: bool,
    /// Images of its containers.
    pub images: Vec<String>,
    /// Container restarts in all.
    pub restarts: i32,
}

impl std::fmt::Display for PodState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pod {}: {}{}, {} ({} restarts)",
            self.name,
            self.state,
            if self.ready { ", ready" } else { ", not ready" },
            self.images.join(", "),
            self.restarts
        )
    }
}

impl Cluster {
    /// GETs `path` from a Service through the API server's service proxy, so it works on any
    /// cluster without node ports or port-forwards. Never fails: an error is a probe result.
    pub async fn probe_http(
        &self,
        namespace: &str,
        service: &str,
        port: u16,
        path: &str,
    ) -> HttpProbe {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        let uri = format!("/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{path}");
        let request = match hyper::Request::get(&uri).body(Body::from(Vec::new())) {
            Ok(request) => request,
            Err(err) => return HttpProbe::Error(format!("invalid request {uri}: {err}")),
        };
        let exchange = async {
            let response = self.client.send(request).await?;
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await?.to_bytes();
            Ok::<_, kube::Error>(HttpProbe::Response {
                status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            })
        };
        match tokio::time::timeout(PROBE_TIMEOUT, exchange).await {
            Ok(Ok(probe)) => probe,
            Ok(Err(err)) => HttpProbe::Error(describe_error(&err)),
            Err(_) => HttpProbe::Error(format!("no answer within {}s", PROBE_TIMEOUT.as_secs())),
        }
    }

    /// Sends `body` to a path of kubetutor's own on the API server (the practice cluster's
    /// readiness and image catalogue), with the context's credentials; returns the answer's
    /// body, or why it failed in a few words.
    pub async fn request_own(
        &self,
        method: hyper::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<String, ClusterError> {
        let action = format!("{method} {path}");
        let failed = |why: String| ClusterError::Request {
            action: action.clone(),
            why,
        };
        let request = hyper::Request::builder()
            .method(method.clone())
            .uri(path)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(|err| failed(err.to_string()))?;
        match tokio::time::timeout(PROBE_TIMEOUT, self.client.request_text(request)).await {
            Ok(Ok(text)) => Ok(text),
            Ok(Err(err)) => Err(failed(describe_error(&err))),
            Err(_) => Err(failed(format!(
                "no answer within {}s",
                PROBE_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Judges an `http` goal: resolves its Service and port from the world, then asks it
    /// `probes_for(goal)` times (all of them, so the summary counts every distinct answer a
    /// balanced Service gave) and judges the answers. The one HTTP probe `run` and `check`
    /// use.
    pub async fn check_http(&self, goal: &HttpGoal, world: &World, namespace: &str) -> GoalStatus {
        let (service, port) = match http_target(goal, world, namespace) {
            Ok(target) => target,
            Err(status) => return status,
        };
        let mut responses = Vec::with_capacity(probes_for(goal));
        for _ in 0..probes_for(goal) {
            responses.push(self.probe_http(namespace, &service, port, &goal.path).await);
        }
        evaluate_http(goal, &responses)
    }

    /// Creates the namespace unless it exists, first waiting (up to `timeout`) for a
    /// previous run's copy to finish terminating. Returns whether it was created.
    pub async fn ensure_namespace(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<bool, ClusterError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let fail = |action: &str, err: kube::Error| match &err {
            kube::Error::Api(status) if matches!(status.code, 401 | 403) => {
                ClusterError::NotPermitted {
                    action: format!("{action} namespace {name}"),
                    why: describe_error(&err),
                }
            }
            _ => ClusterError::Request {
                action: format!("{action} namespace {name}"),
                why: describe_error(&err),
            },
        };
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let existing = api.get_opt(name).await.map_err(|e| fail("read", e))?;
            let terminating = existing
                .as_ref()
                .is_some_and(|ns| ns.metadata.deletion_timestamp.is_some());
            match existing {
                Some(_) if !terminating => return Ok(false),
                Some(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(ClusterError::Request {
                        action: format!("create namespace {name}"),
                        why: format!("it is still terminating after {}s", timeout.as_secs()),
                    });
                }
                Some(_) => tokio::time::sleep(NAMESPACE_POLL).await,
                None => {
                    let namespace = Namespace {
                        metadata: ObjectMeta {
                            name: Some(name.to_owned()),
                            ..ObjectMeta::default()
                        },
                        ..Namespace::default()
                    };
                    return match api.create(&PostParams::default(), &namespace).await {
                        Ok(_) => Ok(true),
                        // Someone else created it between our GET and POST: fine.
                        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                        Err(err) => Err(fail("create", err)),
                    };
                }
            }
        }
    }

    /// Deletes a namespace and, with `wait`, waits until it is gone.
    pub async fn delete_namespace(
        &self,
        name: &str,
        wait: Option<Duration>,
    ) -> Result<(), ClusterError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let fail = |err: kube::Error| ClusterError::Request {
            action: format!("delete namespace {name}"),
            why: describe_error(&err),
        };
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
            Err(err) => return Err(fail(err)),
        }
        let Some(wait) = wait else { return Ok(()) };
        let deadline = tokio::time::Instant::now() + wait;
        while api.get_opt(name).await.map_err(fail)?.is_some() {
            if tokio::time::Instant::now() >= deadline {
                return Err(ClusterError::Request {
                    action: format!("delete namespace {name}"),
                    why: format!("it still exists after {}s", wait.as_secs()),
                });
            }
            tokio::time::sleep(NAMESPACE_POLL).await;
        }
        Ok(())
    }

    /// The latest events about one object, oldest first, as `Warning Failed: message (x3)`.
    pub async fn recent_events(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
    ) -> Result<Vec<String>, ClusterError> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        let params = ListParams::default().fields(&format!(
            "involvedObject.kind={kind},involvedObject.name={name}"
        ));
        let list = api
            .list(&params)
            .await
            .map_err(|err| ClusterError::Request {
                action: format!("list events of {kind} {name}"),
                why: describe_error(&err),
            })?;
        let mut events = list.items;
        events.sort_by_key(event_time);
        let start = events.len().saturating_sub(MAX_EVENTS);
        Ok(events[start..].iter().map(render_event).collect())
    }

    /// The state of the pods matching a label selector, for failure reports.
    pub async fn pod_states(
        &self,
        namespace: &str,
        selector: &str,
    ) -> Result<Vec<PodState>, ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let list = api
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|err| ClusterError::Request {
                action: format!("list pods matching {selector}"),
                why: describe_error(&err),
            })?;
        Ok(list.items.iter().map(describe_pod).collect())
    }
}

/// The most precise time an event carries, as sortable text (RFC 3339 sorts correctly).
fn event_time(event: &Event) -> String {
    event
        .last_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .or_else(|| event.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| {
            event
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
        })
        .unwrap_or_default()
}

fn render_event(event: &Event) -> String {
    let count = event
        .count
        .filter(|c| *c > 1)
        .map_or_else(String::new, |c| format!(" (x{c})"));
    format!(
        "{} {}: {}{count}",
        event.type_.as_deref().unwrap_or("Normal"),
        event.reason.as_deref().unwrap_or(""),
        event.message.as_deref().unwrap_or("").trim()
    )
}

fn describe_pod(pod: &Pod) -> PodState {
    PodState {
        name: pod.metadata.name.clone().unwrap_or_default(),
        state: pod_state(pod),
        ready: pod_ready(pod),
        images: pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .filter_map(|c| c.image.clone())
            .collect(),
        restarts: pod
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten())
            .map(|c| c.restart_count)
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_render_like_kubectl_describe() {
        let event: Event = serde_json::from_value(json!({
            "metadata": {"name": "e1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-1"},
            "type": "Warning", "reason": "Failed", "message": "Failed to pull image \"a:v9\"\n", "count": 3
        }))
        .unwrap();
        assert_eq!(
            render_event(&event),
            "Warning Failed: Failed to pull image \"a:v9\" (x3)"
        );
    }

    #[test]
    fn pods_are_described_with_state_and_images() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-1"},
            "spec": {"containers": [{"name": "app", "image": "a:v9"}]},
            "status": {"phase": "Pending", "containerStatuses": [{"name": "app", "image": "a:v9", "imageID": "",
                "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}
        }))
        .unwrap();
        assert_eq!(
            describe_pod(&pod).to_string(),
            "pod web-1: ImagePullBackOff, not ready, a:v9 (0 restarts)"
        );
    }
}
