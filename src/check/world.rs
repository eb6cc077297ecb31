//! A snapshot of the cluster objects the current step's goals look at.
//!
//! Objects are kept as JSON (`serde_json::Value`), the form the runner's dynamic watches
//! deliver and the only form the general goals (`resource`, `absent`, captures) can read by
//! path. The built-in goals read typed k8s-openapi views of the same objects, decoded on
//! demand: a few dozen objects per step make that cheap, and it keeps one source of truth.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An API type: `apiVersion` and `kind`, e.g. `apps/v1` `Deployment`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeKey {
    /// `apiVersion`, e.g. `v1` or `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `Pod`.
    pub kind: String,
}

impl TypeKey {
    /// A type key from its two parts.
    pub fn new(api_version: impl Into<String>, kind: impl Into<String>) -> Self {
        TypeKey {
            api_version: api_version.into(),
            kind: kind.into(),
        }
    }
}

/// Objects of one type, keyed by (namespace, name); cluster-scoped objects use an empty namespace.
type Objects = BTreeMap<(String, String), Value>;

/// A consistent snapshot of cluster objects, grouped by type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct World {
    objects: BTreeMap<TypeKey, Objects>,
}

/// Why an object could not be added to a [`World`].
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WorldError {
    /// The object has no `metadata.name`.
    #[error("failed to add a {kind}: it has no metadata.name")]
    NoName {
        /// The object's kind.
        kind: String,
    },
    /// The object has no `apiVersion`/`kind` and none was given.
    #[error("failed to add an object: it has no apiVersion and kind")]
    NoType,
}

impl World {
    /// An empty world.
    pub fn new() -> Self {
        World::default()
    }

    /// A world holding the given objects, each carrying its own `apiVersion` and `kind`.
    pub fn from_objects(objects: impl IntoIterator<Item = Value>) -> Result<Self, WorldError> {
        let mut world = World::new();
        for object in objects {
            world.insert_object(object)?;
        }
        Ok(world)
    }

    /// Adds (or replaces) an object that carries its own `apiVersion` and `kind`.
    pub fn insert_object(&mut self, object: Value) -> Result<(), WorldError> {
        let api_version = object.get("apiVersion").and_then(Value::as_str);
        let kind = object.get("kind").and_then(Value::as_str);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            return Err(WorldError::NoType);
        };
        let key = TypeKey::new(api_version, kind);
        self.insert(&key, object)
    }

    /// Adds (or replaces) an object of a known type; list items often lack `apiVersion` and
    /// `kind`, so they are filled in from `key`.
    pub fn insert(&mut self, key: &TypeKey, mut object: Value) -> Result<(), WorldError> {
        let Some(name) = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Err(WorldError::NoName {
                kind: key.kind.clone(),
            });
        };
        let namespace = namespace_of(&object).to_owned();
        if let Some(map) = object.as_object_mut() {
            map.entry("apiVersion")
                .or_insert_with(|| Value::String(key.api_version.clone()));
            map.entry("kind")
                .or_insert_with(|| Value::String(key.kind.clone()));
        }
        self.objects
            .entry(key.clone())
            .or_default()
            .insert((namespace, name), object);
        Ok(())
    }

    /// Every object of a type, ordered by namespace then name.
    pub fn all(&self, api_version: &str, kind: &str) -> impl Iterator<Item = &Value> {
        self.objects
            .get(&TypeKey::new(api_version, kind))
            .into_iter()
            .flat_map(|objects| objects.values())
    }

    /// Objects of a type in a namespace; cluster-scoped objects are always included, so a
    /// lesson's namespace never hides them.
    pub fn in_namespace<'a>(
        &'a self,
        api_version: &str,
        kind: &str,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects
            .get(&TypeKey::new(api_version, kind))
            .into_iter()
            .flat_map(|objects| objects.iter())
            .filter(move |((ns, _), _)| ns.is_empty() || ns == namespace)
            .map(|(_, object)| object)
    }

    /// One object by namespace and name (cluster-scoped objects are found in any namespace).
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<&Value> {
        let objects = self.objects.get(&TypeKey::new(api_version, kind))?;
        objects
            .get(&(namespace.to_owned(), name.to_owned()))
            .or_else(|| objects.get(&(String::new(), name.to_owned())))
    }

    /// Number of objects in the snapshot.
    pub fn len(&self) -> usize {
        self.objects.values().map(BTreeMap::len).sum()
    }

    /// Whether the snapshot holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Deployment `name` in `namespace`, decoded.
    pub(crate) fn deployment(&self, namespace: &str, name: &str) -> Option<Deployment> {
        self.get("apps/v1", "Deployment", namespace, name)
            .and_then(decode)
    }

    /// The Service `name` in `namespace`, decoded.
    pub(crate) fn service(&self, namespace: &str, name: &str) -> Option<Service> {
        self.get("v1", "Service", namespace, name).and_then(decode)
    }

    /// The Endpoints `name` in `namespace`, decoded.
    pub(crate) fn endpoints(&self, namespace: &str, name: &str) -> Option<Endpoints> {
        self.get("v1", "Endpoints", namespace, name)
            .and_then(decode)
    }

    /// Every Pod in `namespace`, decoded.
    pub(crate) fn pods(&self, namespace: &str) -> Vec<Pod> {
        self.typed("v1", "Pod", namespace)
    }

    /// Every Deployment in `namespace`, decoded.
    pub(crate) fn deployments(&self, namespace: &str) -> Vec<Deployment> {
        self.typed("apps/v1", "Deployment", namespace)
    }

    /// Every ReplicaSet in `namespace`, decoded.
    pub(crate) fn replica_sets(&self, namespace: &str) -> Vec<ReplicaSet> {
        self.typed("apps/v1", "ReplicaSet", namespace)
    }

    /// Every EndpointSlice in `namespace`, decoded.
    pub(crate) fn endpoint_slices(&self, namespace: &str) -> Vec<EndpointSlice> {
        self.typed("discovery.k8s.io/v1", "EndpointSlice", namespace)
    }

    fn typed<T: DeserializeOwned>(&self, api_version: &str, kind: &str, namespace: &str) -> Vec<T> {
        self.in_namespace(api_version, kind, namespace)
            .filter_map(decode)
            .collect()
    }
}

/// The object's namespace, empty for cluster-scoped objects.
pub(crate) fn namespace_of(object: &Value) -> &str {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The object's name, empty when it has none.
pub(crate) fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Decodes a typed view; an object the API server accepted always decodes, so one that does
/// not is treated as absent rather than aborting the whole evaluation.
fn decode<T: DeserializeOwned>(object: &Value) -> Option<T> {
    match serde_json::from_value(object.clone()) {
        Ok(typed) => Some(typed),
        Err(err) => {
            tracing::debug!(error = %err, name = name_of(object), "skipping an undecodable object");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_items_get_their_type_filled_in() {
        let mut world = World::new();
        let key = TypeKey::new("v1", "Pod");
        world
            .insert(
                &key,
                json!({"metadata": {"name": "web-1", "namespace": "default"}}),
            )
            .unwrap();
        let pod = world.get("v1", "Pod", "default", "web-1").unwrap();
        assert_eq!(pod["kind"], "Pod");
        assert_eq!(pod["apiVersion"], "v1");
        assert_eq!(world.pods("default").len(), 1);
        assert!(world.pods("other").is_empty());
    }

    #[test]
    fn objects_without_a_name_or_type_are_rejected() {
        let mut world = World::new();
        assert_eq!(
            world.insert(&TypeKey::new("v1", "Pod"), json!({"metadata": {}})),
            Err(WorldError::NoName { kind: "Pod".into() })
        );
        assert_eq!(
            world.insert_object(json!({"metadata": {"name": "x"}})),
            Err(WorldError::NoType)
        );
    }

    #[test]
    fn cluster_scoped_objects_are_seen_from_any_namespace() {
        let world = World::from_objects([json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}
        })])
        .unwrap();
        assert!(world.get("v1", "Namespace", "default", "team").is_some());
        assert_eq!(world.in_namespace("v1", "Namespace", "default").count(), 1);
    }

    #[test]
    fn a_newer_version_replaces_the_old_one() {
        let mut world = World::new();
        for image in ["a:v1", "a:v2"] {
            world
                .insert_object(json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "web", "namespace": "default"},
                    "spec": {"containers": [{"name": "c", "image": image}]}
                }))
                .unwrap();
        }
        assert_eq!(world.len(), 1);
        let pod = world.get("v1", "Pod", "default", "web").unwrap();
        assert_eq!(pod["spec"]["containers"][0]["image"], "a:v2");
    }
}
