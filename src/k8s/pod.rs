//! Pod facts the goal checks and the sandbox's controllers read alike.

use k8s_openapi::api::core::v1::{Pod, PodStatus};

/// Whether a pod status's `Ready` condition is `True`.
pub fn status_ready(status: Option<&PodStatus>) -> bool {
    status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Whether the pod's `Ready` condition is `True`.
pub fn pod_ready(pod: &Pod) -> bool {
    status_ready(pod.status.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_true_ready_condition_makes_a_pod_ready() {
        let pod = |conditions: serde_json::Value| -> Pod {
            serde_json::from_value(serde_json::json!({"status": {"conditions": conditions}}))
                .expect("pod")
        };
        assert!(pod_ready(&pod(serde_json::json!([
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True"}
        ]))));
        assert!(!pod_ready(&pod(
            serde_json::json!([{"type": "Ready", "status": "False"}])
        )));
        assert!(!pod_ready(&pod(
            serde_json::json!([{"type": "ContainersReady", "status": "True"}])
        )));
        assert!(!pod_ready(&Pod::default()));
    }
}
