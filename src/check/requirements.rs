//! What the runner must watch for a step: exactly the objects its goals and captures read,
//! scoped by namespace and selectors, so no watch is wasted.

use crate::check::goals::service::SERVICE_NAME_LABEL;
use crate::lesson::model::{Capture, Goal, Target};

/// One watch the runner should keep open.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WatchSpec {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `Deployment`.
    pub kind: String,
    /// Namespace to watch; `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// Label selector, e.g. `kubernetes.io/service-name=web`.
    pub label_selector: Option<String>,
    /// Field selector, e.g. `metadata.name=web`.
    pub field_selector: Option<String>,
}

impl WatchSpec {
    /// Every object of a kind in a namespace (or cluster-wide for cluster-scoped kinds).
    pub fn all(api_version: &str, kind: &str, namespace: &str) -> Self {
        WatchSpec {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: (!is_cluster_scoped(api_version, kind)).then(|| namespace.to_owned()),
            label_selector: None,
            field_selector: None,
        }
    }

    /// One object by name.
    pub fn named(api_version: &str, kind: &str, namespace: &str, name: &str) -> Self {
        WatchSpec {
            field_selector: Some(format!("metadata.name={name}")),
            ..WatchSpec::all(api_version, kind, namespace)
        }
    }

    /// Whether this watch already sees everything `other` would.
    pub fn covers(&self, other: &WatchSpec) -> bool {
        let same_kind = self.api_version == other.api_version && self.kind == other.kind;
        let same_scope = self.namespace.is_none() || self.namespace == other.namespace;
        let label_ok = self.label_selector.is_none() || self.label_selector == other.label_selector;
        let field_ok = self.field_selector.is_none() || self.field_selector == other.field_selector;
        same_kind && same_scope && label_ok && field_ok
    }
}

/// Kinds of the core API groups that live outside namespaces. Other kinds are assumed
/// namespaced here; `cluster` consults discovery for custom ones.
pub fn is_cluster_scoped(api_version: &str, kind: &str) -> bool {
    matches!(
        (api_version, kind),
        (
            "v1",
            "Namespace" | "Node" | "PersistentVolume" | "ComponentStatus"
        ) | (
            "rbac.authorization.k8s.io/v1",
            "ClusterRole" | "ClusterRoleBinding"
        ) | (
            "storage.k8s.io/v1",
            "StorageClass" | "CSIDriver" | "CSINode" | "VolumeAttachment"
        ) | ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
            | ("networking.k8s.io/v1", "IngressClass")
            | ("scheduling.k8s.io/v1", "PriorityClass")
            | ("admissionregistration.k8s.io/v1", _)
    )
}

/// The objects a target names, where they are.
pub(crate) fn target_spec(target: &Target, namespace: &str) -> WatchSpec {
    let namespace = target.namespace.as_deref().unwrap_or(namespace);
    WatchSpec {
        label_selector: target.selector.clone(),
        field_selector: target.name.as_ref().map(|n| format!("metadata.name={n}")),
        ..WatchSpec::all(&target.api_version, &target.kind, namespace)
    }
}

/// A goal's Deployment. Every Deployment of the namespace is watched, not only the one named:
/// when it is missing, the one the learner created instead (a typo) is worth naming.
pub(crate) fn deployments_spec(ns: &str) -> WatchSpec {
    WatchSpec::all("apps/v1", "Deployment", ns)
}

/// Pods are watched namespace-wide: which ones a Deployment selects is only known once the
/// Deployment is seen, and a lesson namespace holds few pods.
pub(crate) fn pods_spec(ns: &str) -> WatchSpec {
    WatchSpec::all("v1", "Pod", ns)
}

/// A Service and its EndpointSlices.
pub(crate) fn service_specs(name: &str, ns: &str) -> Vec<WatchSpec> {
    vec![
        WatchSpec::named("v1", "Service", ns, name),
        WatchSpec {
            label_selector: Some(format!("{SERVICE_NAME_LABEL}={name}")),
            ..WatchSpec::all("discovery.k8s.io/v1", "EndpointSlice", ns)
        },
    ]
}

/// The watches one goal needs, in the lesson's `namespace`.
pub fn requirements(goal: &Goal, namespace: &str) -> Vec<WatchSpec> {
    goal.kind().requirements(namespace)
}

impl Goal {
    /// The watches this goal needs in the lesson's `namespace` (see [`requirements`]).
    pub fn requirements(&self, namespace: &str) -> Vec<WatchSpec> {
        requirements(self, namespace)
    }
}

/// The watch a capture needs to be read.
pub fn capture_requirements(capture: &Capture, namespace: &str) -> Vec<WatchSpec> {
    vec![target_spec(&capture.from, namespace)]
}

/// Removes duplicates and watches another one already covers, keeping a stable order.
pub fn merge_specs(specs: impl IntoIterator<Item = WatchSpec>) -> Vec<WatchSpec> {
    let mut specs: Vec<WatchSpec> = specs.into_iter().collect();
    specs.sort();
    specs.dedup();
    let all = specs.clone();
    specs.retain(|spec| !all.iter().any(|other| other != spec && other.covers(spec)));
    specs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goal(yaml: &str) -> Goal {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn deployment_goals_watch_the_namespace_deployments_and_pods() {
        let specs = requirements(
            &goal("kind: deployed\ndeployment: web\nimage: example/app:v1\n"),
            "lab",
        );
        assert_eq!(
            specs,
            vec![
                WatchSpec::all("apps/v1", "Deployment", "lab"),
                WatchSpec::all("v1", "Pod", "lab"),
            ]
        );
        let specs = requirements(
            &goal("kind: rolled_back\ndeployment: web\nimage: a:v1\n"),
            "lab",
        );
        assert!(specs.contains(&WatchSpec::all("apps/v1", "ReplicaSet", "lab")));
    }

    #[test]
    fn exposed_watches_the_service_its_slices_and_the_deployment() {
        let specs = requirements(
            &goal("kind: exposed\ndeployment: web\nservice: front\ntype: NodePort\nport: 80\n"),
            "default",
        );
        assert_eq!(specs.len(), 3);
        assert_eq!(
            specs[0].field_selector.as_deref(),
            Some("metadata.name=front")
        );
        assert_eq!(specs[1].kind, "EndpointSlice");
        assert_eq!(
            specs[1].label_selector.as_deref(),
            Some("kubernetes.io/service-name=front")
        );
        assert_eq!(specs[2].kind, "Deployment");
    }

    #[test]
    fn resource_goals_are_scoped_by_their_target() {
        let specs = requirements(
            &goal(
                "kind: resource\ntarget: {apiVersion: v1, kind: Pod, selector: app=web, namespace: other}\n",
            ),
            "default",
        );
        assert_eq!(specs[0].namespace.as_deref(), Some("other"));
        assert_eq!(specs[0].label_selector.as_deref(), Some("app=web"));
        assert_eq!(specs[0].field_selector, None);
        let specs = requirements(
            &goal("kind: absent\ntarget: {apiVersion: v1, kind: Namespace, name: lab}\n"),
            "default",
        );
        assert_eq!(specs[0].namespace, None, "namespaces are cluster-scoped");
    }

    #[test]
    fn merging_drops_duplicates_and_covered_watches() {
        let mut specs = requirements(
            &goal("kind: deployed\ndeployment: web\nimage: a:v1\n"),
            "ns",
        );
        specs.extend(requirements(
            &goal("kind: scaled\ndeployment: web\nreplicas: 2\n"),
            "ns",
        ));
        specs.extend(requirements(
            &goal("kind: resource\ntarget: {apiVersion: v1, kind: Pod, selector: app=web}\n"),
            "ns",
        ));
        specs.push(WatchSpec::named("v1", "Pod", "other", "x"));
        specs.push(WatchSpec::named("apps/v1", "Deployment", "ns", "web"));
        let merged = merge_specs(specs);
        assert_eq!(
            merged,
            vec![
                WatchSpec::all("apps/v1", "Deployment", "ns"),
                WatchSpec::all("v1", "Pod", "ns"),
                WatchSpec::named("v1", "Pod", "other", "x"),
            ]
        );
    }
}
