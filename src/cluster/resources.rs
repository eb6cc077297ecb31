//! Mapping a `WatchSpec`'s apiVersion/kind to the REST resource to watch.
//!
//! The kinds lessons use are in a static table (no discovery request, so a step's watches
//! start with one LIST each); anything else is looked up once with discovery.

use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;

use crate::cluster::{Cluster, ClusterError, describe_error};

/// (apiVersion, kind, plural, namespaced) for the built-in kinds lessons are likely to name.
const TABLE: &[(&str, &str, &str, bool)] = &[
    ("v1", "Pod", "pods", true),
    ("v1", "Service", "services", true),
    ("v1", "Endpoints", "endpoints", true),
    ("v1", "ConfigMap", "configmaps", true),
    ("v1", "Secret", "secrets", true),
    ("v1", "Event", "events", true),
    ("v1", "ServiceAccount", "serviceaccounts", true),
    (
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
    ),
    (
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        true,
    ),
    ("v1", "LimitRange", "limitranges", true),
    ("v1", "ResourceQuota", "resourcequotas", true),
    ("v1", "Namespace", "namespaces", false),
    ("v1", "Node", "nodes", false),
    ("v1", "PersistentVolume", "persistentvolumes", false),
    ("apps/v1", "Deployment", "deployments", true),
    ("apps/v1", "ReplicaSet", "replicasets", true),
    ("apps/v1", "StatefulSet", "statefulsets", true),
    ("apps/v1", "DaemonSet", "daemonsets", true),
    ("batch/v1", "Job", "jobs", true),
    ("batch/v1", "CronJob", "cronjobs", true),
    (
        "discovery.k8s.io/v1",
        "EndpointSlice",
        "endpointslices",
        true,
    ),
    ("networking.k8s.io/v1", "Ingress", "ingresses", true),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
    ),
    (
        "networking.k8s.io/v1",
        "IngressClass",
        "ingressclasses",
        false,
    ),
    ("events.k8s.io/v1", "Event", "events", true),
    (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
    ),
    (
        "policy/v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
    ),
    ("rbac.authorization.k8s.io/v1", "Role", "roles", true),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    ("storage.k8s.io/v1", "StorageClass", "storageclasses", false),
];

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
fn group_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// The REST resource for a built-in kind and whether it is namespaced, without asking the
/// cluster; `None` for kinds outside the table.
pub fn static_api_resource(api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
    let (_, _, plural, namespaced) = TABLE
        .iter()
        .find(|(v, k, _, _)| *v == api_version && *k == kind)?;
    let (group, version) = group_version(api_version);
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Some((ApiResource::from_gvk_with_plural(&gvk, plural), *namespaced))
}

/// The REST resource for any kind and whether it is namespaced: the static table first,
/// then the cluster's discovery (one request for the kind's group version).
pub async fn api_resource(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
) -> Result<(ApiResource, bool), ClusterError> {
    if let Some(found) = static_api_resource(api_version, kind) {
        return Ok(found);
    }
    let (group, version) = group_version(api_version);
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, caps) = kube::discovery::pinned_kind(&cluster.client, &gvk)
        .await
        .map_err(|err| ClusterError::UnknownKind {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            why: describe_error(&err),
        })?;
    Ok((resource, caps.scope == Scope::Namespaced))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_kinds_map_without_discovery() {
        let (pods, namespaced) = static_api_resource("v1", "Pod").unwrap();
        assert_eq!(
            (
                pods.group.as_str(),
                pods.version.as_str(),
                pods.plural.as_str()
            ),
            ("", "v1", "pods")
        );
        assert_eq!(pods.api_version, "v1");
        assert!(namespaced);
        let (deployments, _) = static_api_resource("apps/v1", "Deployment").unwrap();
        assert_eq!(deployments.group, "apps");
        assert_eq!(deployments.api_version, "apps/v1");
        assert_eq!(deployments.plural, "deployments");
        let (slices, _) = static_api_resource("discovery.k8s.io/v1", "EndpointSlice").unwrap();
        assert_eq!(slices.plural, "endpointslices");
        assert!(!static_api_resource("v1", "Namespace").unwrap().1);
        assert!(static_api_resource("example.com/v1", "Widget").is_none());
        assert!(
            static_api_resource("apps/v1", "Pod").is_none(),
            "the group matters"
        );
    }

    #[test]
    fn the_table_agrees_with_check_on_scope() {
        for (api_version, kind, _, namespaced) in TABLE {
            assert_eq!(
                crate::check::requirements::is_cluster_scoped(api_version, kind),
                !namespaced,
                "{api_version} {kind}"
            );
        }
    }
}
