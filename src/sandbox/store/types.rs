//! The store's vocabulary: collection keys, errors, delete options and snapshots.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which collection: API group ("" for core) and plural resource name, e.g. ("apps","deployments").
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResKey {
    /// API group; "" for the core group.
    pub group: String,
    /// Plural lowercase resource name.
    pub resource: String,
}

impl ResKey {
    /// A key from its group and plural resource name.
    pub fn new(group: &str, resource: &str) -> Self {
        ResKey {
            group: group.to_owned(),
            resource: resource.to_owned(),
        }
    }
    /// Core pods.
    pub fn pods() -> Self {
        Self::new("", "pods")
    }
    /// Core services.
    pub fn services() -> Self {
        Self::new("", "services")
    }
    /// Core endpoints.
    pub fn endpoints() -> Self {
        Self::new("", "endpoints")
    }
    /// Core events.
    pub fn events() -> Self {
        Self::new("", "events")
    }
    /// Core nodes.
    pub fn nodes() -> Self {
        Self::new("", "nodes")
    }
    /// Core namespaces.
    pub fn namespaces() -> Self {
        Self::new("", "namespaces")
    }
    /// apps/v1 deployments.
    pub fn deployments() -> Self {
        Self::new("apps", "deployments")
    }
    /// apps/v1 replicasets.
    pub fn replicasets() -> Self {
        Self::new("apps", "replicasets")
    }
    /// discovery.k8s.io/v1 endpointslices.
    pub fn endpointslices() -> Self {
        Self::new("discovery.k8s.io", "endpointslices")
    }
    /// The top-level fields whose change bumps `metadata.generation`, for the kinds whose
    /// kube-apiserver strategy tracks a generation; `None` for the others (Services,
    /// ConfigMaps, Namespaces, Nodes... have none).
    pub fn generation_fields(&self) -> Option<&'static [&'static str]> {
        match (self.group.as_str(), self.resource.as_str()) {
            ("", "pods") | ("apps", "deployments" | "replicasets") => Some(&["spec"]),
            ("discovery.k8s.io", "endpointslices") => Some(&["endpoints", "ports", "addressType"]),
            _ => None,
        }
    }

    /// `group/resource`, or just `resource` for the core group (as Status details name it).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

/// Why a store operation failed; carries what the API layer needs to build a `Status`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// No such object.
    #[error("{} \"{name}\" not found", qualified(group, resource))]
    NotFound {
        /// API group.
        group: String,
        /// Plural resource.
        resource: String,
        /// Object name.
        name: String,
    },
    /// An object with that name exists.
    #[error("{} \"{name}\" already exists", qualified(group, resource))]
    AlreadyExists {
        /// API group.
        group: String,
        /// Plural resource.
        resource: String,
        /// Object name.
        name: String,
    },
    /// A resourceVersion or uid precondition failed.
    #[error(
        "Operation cannot be fulfilled on {} \"{name}\": {message}",
        qualified(group, resource)
    )]
    Conflict {
        /// API group.
        group: String,
        /// Plural resource.
        resource: String,
        /// Object name.
        name: String,
        /// Why, in the API server's words.
        message: String,
    },
    /// The requested resourceVersion is older than the kept history.
    #[error("too old resource version: {message}")]
    Expired {
        /// API group ("" when the watch spans all collections).
        group: String,
        /// Plural resource.
        resource: String,
        /// Details.
        message: String,
    },
    /// The object cannot be stored as given.
    #[error("{} \"{name}\" is invalid: {message}", qualified(group, resource))]
    Invalid {
        /// API group.
        group: String,
        /// Plural resource.
        resource: String,
        /// Object name (may be empty).
        name: String,
        /// What is wrong.
        message: String,
    },
}

fn qualified(group: &str, resource: &str) -> String {
    ResKey::new(group, resource).qualified()
}

/// The message the real API server gives for a stale update.
pub const CONFLICT_MESSAGE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// How dependents are treated when their owner is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the owner now; the garbage collector deletes dependents afterwards.
    #[default]
    Background,
    /// Keep the owner (with the `foregroundDeletion` finalizer) until dependents are gone.
    Foreground,
    /// Delete the owner and strip the dependents' ownerReferences to it.
    Orphan,
}

/// Options of a delete call (`DeleteOptions`).
#[derive(Clone, Debug, Default)]
pub struct DeleteOpts {
    /// Overrides the pod's `terminationGracePeriodSeconds`; 0 deletes at once.
    pub grace_period_seconds: Option<i64>,
    /// What happens to dependents.
    pub propagation: Propagation,
    /// Fails with Conflict unless the object has this uid.
    pub precondition_uid: Option<String>,
    /// Fails with Conflict unless the object has this resourceVersion.
    pub precondition_rv: Option<String>,
}

/// All objects at one resourceVersion, for persistence.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// The store's resourceVersion when the snapshot was taken.
    pub resource_version: u64,
    /// Every object with its collection.
    pub objects: Vec<SnapshotEntry>,
}

/// One object of a [`Snapshot`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotEntry {
    /// API group.
    pub group: String,
    /// Plural resource.
    pub resource: String,
    /// The object, shared with the store (a snapshot copies no object).
    pub object: Arc<Value>,
}

pub(crate) fn not_found(key: &ResKey, name: &str) -> StoreError {
    StoreError::NotFound {
        group: key.group.clone(),
        resource: key.resource.clone(),
        name: name.to_owned(),
    }
}

pub(crate) fn conflict(key: &ResKey, name: &str, message: String) -> StoreError {
    StoreError::Conflict {
        group: key.group.clone(),
        resource: key.resource.clone(),
        name: name.to_owned(),
        message,
    }
}
