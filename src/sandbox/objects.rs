//! Typed views of the store's objects: what the controllers, the kubelet, admission and the
//! printers read, deserialised from the stored JSON (`&Value`) without copying its strings.
//!
//! The store keeps objects as JSON so that nothing a type does not know is ever lost; these
//! views only read, and writes go back as patches of the stored JSON ([`with_status`],
//! [`merged`]) that leave every other field as it was. Views are lenient, field by field: a
//! value of the wrong type reads as absent (its default) instead of hiding the whole object,
//! as the JSON accessors they replace did. A learner's object may hold values k8s-openapi's
//! types reject although the API server takes them (a quantity written as a number, say), so
//! the parts learners write (pod specs, templates, metadata) are our own views, and the parts
//! the sandbox writes itself (statuses, Endpoints, Events, Nodes) are k8s-openapi's types.

use std::collections::BTreeMap;
use std::ops::Deref;

use k8s_openapi::api::apps::v1::{DeploymentStatus, DeploymentStrategy, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{
    NamespaceStatus, NodeSpec, NodeStatus, PodCondition, PodStatus, ServiceSpec, ServiceStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sLabelSelector;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::k8s::selector::LabelSelector;
use crate::sandbox::store::meta::Meta;

/// Reads a field as its default when it holds a value of another type. Views are only ever
/// deserialised from a `&Value`, whose fields fail independently of each other.
pub fn lenient<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(T::deserialize(deserializer).unwrap_or_default())
}

/// Declares a view: every field is optional and lenient, names are camelCase unless renamed.
macro_rules! view {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident $(<$lt:lifetime>)? {
            $(
                $(#[$fattr:meta])*
                $fvis:vis $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Default, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        $vis struct $name $(<$lt>)? {
            $(
                $(#[$fattr])*
                #[serde(default, deserialize_with = "crate::sandbox::objects::lenient")]
                $fvis $field: $ty,
            )*
        }
    };
}
pub(crate) use view;

/// A view of `json`, its defaults when `json` is not an object.
pub fn view_of<'a, T: Deserialize<'a> + Default>(json: &'a Value) -> T {
    T::deserialize(json).unwrap_or_default()
}

/// A k8s-openapi object (one the sandbox writes itself), `None` when it does not parse.
pub fn parse<T: DeserializeOwned>(json: &Value) -> Option<T> {
    T::deserialize(json).ok()
}

/// A typed value as JSON (k8s-openapi's types always serialise).
pub fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A stored object with its typed view: read through the view, write back through `json`.
#[derive(Debug, Clone)]
pub struct Viewed<'a, T> {
    /// The object as stored.
    pub json: &'a Value,
    /// What the controllers read of it.
    pub view: T,
}

impl<'a, T: Deserialize<'a> + Default> Viewed<'a, T> {
    /// Views `json`.
    pub fn of(json: &'a Value) -> Self {
        Viewed {
            json,
            view: view_of(json),
        }
    }
}

impl<T> Deref for Viewed<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.view
    }
}

/// An object of any kind: its type, metadata, and its spec and status as `S` and `T` read them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(
    rename_all = "camelCase",
    bound(deserialize = "S: Deserialize<'de> + Default, T: Deserialize<'de> + Default")
)]
pub struct Object<'a, S, T> {
    /// `apiVersion`.
    #[serde(borrow, default, deserialize_with = "lenient")]
    pub api_version: &'a str,
    /// `kind`.
    #[serde(borrow, default, deserialize_with = "lenient")]
    pub kind: &'a str,
    /// `metadata`.
    #[serde(borrow, default, deserialize_with = "lenient")]
    pub metadata: Meta<'a>,
    /// `spec`.
    #[serde(default, deserialize_with = "lenient")]
    pub spec: S,
    /// `status`.
    #[serde(default, deserialize_with = "lenient")]
    pub status: T,
}

/// A Pod as the control plane reads it.
pub type Pod<'a> = Object<'a, PodSpec<'a>, PodStatus>;
/// A Deployment as the control plane reads it.
pub type Deployment<'a> = Object<'a, WorkloadSpec, DeploymentStatus>;
/// A ReplicaSet as the control plane reads it.
pub type ReplicaSet<'a> = Object<'a, WorkloadSpec, ReplicaSetStatus>;
/// A Service as the control plane reads it.
pub type Service<'a> = Object<'a, ServiceSpec, ServiceStatus>;
/// A Node as the control plane reads it.
pub type Node<'a> = Object<'a, NodeSpec, NodeStatus>;
/// A Namespace as the control plane reads it.
pub type Namespace<'a> = Object<'a, IgnoredSpec, NamespaceStatus>;
/// Any object, when only its type and metadata matter.
pub type Any<'a> = Object<'a, IgnoredSpec, IgnoredSpec>;

/// A spec or status nobody reads.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct IgnoredSpec(IgnoredAny);

view! {
    /// The parts of a pod spec the sandbox reads.
    pub struct PodSpec<'a> {
        /// `nodeName`: where the pod is bound, "" while unscheduled.
        #[serde(borrow)]
        pub node_name: &'a str,
        /// `schedulerName`.
        #[serde(borrow)]
        pub scheduler_name: &'a str,
        /// `containers`.
        #[serde(borrow)]
        pub containers: Vec<Container<'a>>,
        /// `terminationGracePeriodSeconds`.
        pub termination_grace_period_seconds: Option<i64>,
        /// `readinessGates` (only their number matters).
        pub readiness_gates: Vec<IgnoredAny>,
    }
}

impl<'a> PodSpec<'a> {
    /// The container named `name`, or the first when `name` is `None`.
    pub fn container(&self, name: Option<&str>) -> Option<&Container<'a>> {
        self.containers
            .iter()
            .find(|c| name.is_none_or(|n| c.name == n))
    }
}

view! {
    /// The parts of a container the sandbox reads.
    pub struct Container<'a> {
        /// `name`.
        #[serde(borrow)]
        pub name: &'a str,
        /// `image`.
        #[serde(borrow)]
        pub image: &'a str,
        /// `imagePullPolicy`.
        #[serde(borrow)]
        pub image_pull_policy: &'a str,
        /// `ports`.
        #[serde(borrow)]
        pub ports: Vec<ContainerPort<'a>>,
        /// `env`.
        #[serde(borrow)]
        pub env: Vec<EnvVar<'a>>,
    }
}

view! {
    /// A container port.
    pub struct ContainerPort<'a> {
        /// `name`.
        #[serde(borrow)]
        pub name: &'a str,
        /// `containerPort`.
        pub container_port: Option<i64>,
    }
}

view! {
    /// An environment variable of a container.
    pub struct EnvVar<'a> {
        /// `name`.
        #[serde(borrow)]
        pub name: &'a str,
        /// `value` (`None` for one taken from elsewhere).
        #[serde(borrow)]
        pub value: Option<&'a str>,
    }
}

view! {
    /// The spec of a Deployment or a ReplicaSet.
    pub struct WorkloadSpec {
        /// `replicas` (the API server defaults it to 1).
        pub replicas: Option<i64>,
        /// `selector`.
        pub selector: Option<K8sLabelSelector>,
        /// `template`, kept as JSON: it is copied into ReplicaSets and pods as it is.
        pub template: Option<Value>,
        /// `strategy` (Deployments).
        pub strategy: DeploymentStrategy,
        /// `minReadySeconds`.
        pub min_ready_seconds: Option<i64>,
        /// `paused` (Deployments).
        pub paused: Option<bool>,
        /// `revisionHistoryLimit` (Deployments).
        pub revision_history_limit: Option<i64>,
        /// `progressDeadlineSeconds` (Deployments).
        pub progress_deadline_seconds: Option<i64>,
    }
}

impl WorkloadSpec {
    /// `replicas`, 1 when unset like the API server's default.
    pub fn replicas(&self) -> i64 {
        self.replicas.unwrap_or(1)
    }

    /// The selector; `None` (selecting nothing) when absent or invalid.
    pub fn label_selector(&self) -> Option<LabelSelector> {
        self.selector
            .as_ref()
            .and_then(|s| LabelSelector::from_k8s(s).ok())
    }

    /// The template's metadata.
    pub fn template_meta(&self) -> Meta<'_> {
        self.template.as_ref().map(Meta::of).unwrap_or_default()
    }
}

view! {
    /// A spec or status reduced to its `replicas` (a Scale's view of a workload).
    pub struct Replicas {
        /// `replicas`.
        pub replicas: Option<i64>,
    }
}

/// A Deployment or ReplicaSet as its `scale` subresource sees it, or a Scale.
pub type Scaled<'a> = Object<'a, Replicas, Replicas>;

/// Whether a pod still counts: not terminating and not finished.
pub fn pod_active(pod: &Pod) -> bool {
    !pod.metadata.is_terminating() && !pod_finished(pod)
}

/// Whether a pod's phase is `Succeeded` or `Failed`.
pub fn pod_finished(pod: &Pod) -> bool {
    matches!(pod.status.phase.as_deref(), Some("Succeeded" | "Failed"))
}

/// Whether the pod's Ready condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    crate::k8s::pod::status_ready(Some(&pod.status))
}

/// Whether the pod has been Ready for at least `min_ready_seconds` at `now`.
pub fn pod_available(pod: &Pod, min_ready_seconds: i64, now: jiff::Timestamp) -> bool {
    if !pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    pod_condition(pod, "Ready")
        .and_then(|c| c.last_transition_time.as_ref())
        .is_some_and(|t| now.as_second() - t.0.as_second() >= min_ready_seconds)
}

/// A pod condition by type.
pub fn pod_condition<'p>(pod: &'p Pod, kind: &str) -> Option<&'p PodCondition> {
    pod.status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == kind)
}

/// A pod's IP, "" before it has one.
pub fn pod_ip<'p>(pod: &'p Pod) -> &'p str {
    pod.status.pod_ip.as_deref().unwrap_or_default()
}

view! {
    /// A pod template in the parts a controller copies into the objects it makes.
    pub struct TemplateParts<'a> {
        /// `metadata`.
        #[serde(borrow)]
        pub metadata: Meta<'a>,
        /// `spec`, as JSON (copied as it is).
        pub spec: Option<Value>,
    }
}

view! {
    /// An object's status as JSON.
    struct StatusJson {
        status: Option<Value>,
    }
}

/// `json`'s `status`, when it has one.
pub fn status_json(json: &Value) -> Option<Value> {
    view_of::<StatusJson>(json).status
}

/// Sets `json`'s `status` to `status`, or removes it for `None`.
pub fn set_status_json(json: &mut Value, status: Option<Value>) {
    if let Some(fields) = json.as_object_mut() {
        match status {
            Some(s) => fields.insert(STATUS.to_owned(), s),
            None => fields.remove(STATUS),
        };
    }
}

/// The top-level field the control plane (rather than the user) owns.
const STATUS: &str = "status";

/// `json` with its `status` replaced by `status`: the rest of `json` stays as it is.
pub fn with_status<T: Serialize>(json: &Value, status: &T) -> Value {
    let mut out = json.clone();
    set_status_json(&mut out, Some(to_json(status)));
    out
}

/// `json` with `patch` applied as a JSON merge patch (RFC 7386): a small edit of a few
/// fields, the rest kept as it is.
pub fn merged(json: &Value, patch: &Value) -> Value {
    let mut out = json.clone();
    json_patch::merge(&mut out, patch);
    out
}

/// A count for a status field the API omits when zero.
pub fn nonzero<N: TryInto<i32>>(n: N) -> Option<i32> {
    n.try_into().ok().filter(|n| *n != 0)
}

/// `fields` of `json` replaced by those of `with` (an object): the rest of `json`, fields
/// no type knows included, stays as it is.
pub fn with_fields(json: &Value, with: Value) -> Value {
    let mut out = json.clone();
    if let (Some(target), Value::Object(fields)) = (out.as_object_mut(), with) {
        for (k, v) in fields {
            target.insert(k, v);
        }
    }
    out
}

/// Adds `field: null` to each object of `items` that lacks it: Go marshals a zero
/// `metav1.Time` as `null` (a pod condition's `lastProbeTime`), which k8s-openapi omits.
pub fn null_when_absent(items: &mut Value, field: &str) {
    let list: Vec<&mut Map<String, Value>> = match items {
        Value::Array(a) => a.iter_mut().filter_map(Value::as_object_mut).collect(),
        Value::Object(m) => vec![m],
        _ => Vec::new(),
    };
    for m in list {
        m.entry(field.to_owned()).or_insert(Value::Null);
    }
}

/// A borrowed string map (labels, annotations) as owned strings, for k8s-openapi's types.
pub fn owned_map(map: &BTreeMap<&str, &str>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn views_read_what_k8s_openapi_writes() {
        // Field names checked against k8s-openapi's own serialisation.
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"nodeName": "n", "schedulerName": "s", "terminationGracePeriodSeconds": 5,
                     "readinessGates": [{"conditionType": "x"}],
                     "containers": [{"name": "c", "image": "i", "imagePullPolicy": "Always",
                                     "ports": [{"name": "http", "containerPort": 80}],
                                     "env": [{"name": "A", "value": "1"}]}]},
            "status": {"podIP": "10.0.0.1", "phase": "Running"}
        }))
        .expect("pod");
        let json = to_json(&pod);
        let view: Pod = view_of(&json);
        assert_eq!(view.metadata.name, "p");
        assert_eq!(view.spec.node_name, "n");
        assert_eq!(view.spec.scheduler_name, "s");
        assert_eq!(view.spec.termination_grace_period_seconds, Some(5));
        assert_eq!(view.spec.readiness_gates.len(), 1);
        let c = view.spec.container(None).expect("container");
        assert_eq!((c.name, c.image, c.image_pull_policy), ("c", "i", "Always"));
        assert_eq!(
            (c.ports[0].name, c.ports[0].container_port),
            ("http", Some(80))
        );
        assert_eq!((c.env[0].name, c.env[0].value), ("A", Some("1")));
        assert_eq!(pod_ip(&view), "10.0.0.1");
        assert!(!pod_finished(&view));

        let d: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(json!({
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}},
                     "strategy": {"type": "Recreate"}, "minReadySeconds": 2, "paused": true,
                     "revisionHistoryLimit": 4, "progressDeadlineSeconds": 60}
        }))
        .expect("deployment");
        let json = to_json(&d);
        let view: Deployment = view_of(&json);
        assert_eq!(view.spec.replicas(), 3);
        assert!(view.spec.label_selector().is_some());
        assert_eq!(view.spec.template_meta().labels.get("app"), Some(&"web"));
        assert_eq!(view.spec.strategy.type_.as_deref(), Some("Recreate"));
        assert_eq!(
            (
                view.spec.min_ready_seconds,
                view.spec.paused,
                view.spec.revision_history_limit,
                view.spec.progress_deadline_seconds
            ),
            (Some(2), Some(true), Some(4), Some(60))
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_reads_as_absent_and_hides_nothing_else() {
        let json = json!({"metadata": {"name": "p", "labels": 7},
            "spec": {"nodeName": 3, "containers": [{"name": "c", "image": "i",
                "resources": {"limits": {"cpu": 1}}}]},
            "status": {"phase": ["odd"], "podIP": "10.0.0.2"}});
        let view: Pod = view_of(&json);
        assert_eq!(view.metadata.name, "p");
        assert!(view.metadata.labels.is_empty());
        assert_eq!(view.spec.node_name, "");
        assert_eq!(view.spec.containers[0].image, "i");
        // k8s-openapi's PodStatus rejects the phase, so the whole status reads as empty.
        assert_eq!(pod_ip(&view), "");
        let text = json!("not an object");
        let junk: Pod = view_of(&text);
        assert_eq!(junk.metadata.name, "");
    }

    #[test]
    fn replaced_fields_keep_the_others() {
        let json = json!({"spec": {"a": 1}, "status": {"old": true}, "extra": {"kept": 1}});
        let out = with_fields(&json, json!({"status": {"new": true}}));
        assert_eq!(
            out,
            json!({"spec": {"a": 1}, "status": {"new": true}, "extra": {"kept": 1}})
        );
        let mut conditions = json!([{"type": "Ready"}, {"type": "X", "lastProbeTime": "t"}]);
        null_when_absent(&mut conditions, "lastProbeTime");
        assert_eq!(
            conditions,
            json!([{"type": "Ready", "lastProbeTime": null}, {"type": "X", "lastProbeTime": "t"}])
        );
    }
}
