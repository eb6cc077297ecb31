//! The sandbox's object store: every object in JSON wire form, one global resourceVersion,
//! a bounded event history for watch resumes, and non-blocking watch fan-out.
//!
//! The store knows nothing of HTTP. It enforces what etcd plus the generic registry enforce
//! (optimistic concurrency, uid/creationTimestamp immutability, generation bumps, graceful
//! deletion, finalizers, orphaning) so the API layer and the controllers share one truth.

pub mod meta;
mod watch;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub use watch::{EventType, WatchEvent, WatchReceiver};
use watch::{Watcher, WatcherShared};

/// Events kept for watch resumes; older resourceVersions get `Expired`.
pub const DEFAULT_HISTORY: usize = 20_000;

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
    /// The object.
    pub object: Value,
}

type Collection = BTreeMap<(String, String), Arc<Value>>;

struct Inner {
    rv: u64,
    objects: BTreeMap<ResKey, Collection>,
    history: VecDeque<(WatchEvent, String)>,
    /// Highest resourceVersion no longer covered by `history`.
    floor: u64,
    history_limit: usize,
    watchers: Vec<Watcher>,
}

/// The object store; share it as `Arc<Store>`.
pub struct Store {
    inner: Mutex<Inner>,
    changes: tokio::sync::watch::Sender<u64>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

fn not_found(key: &ResKey, name: &str) -> StoreError {
    StoreError::NotFound {
        group: key.group.clone(),
        resource: key.resource.clone(),
        name: name.to_owned(),
    }
}

fn conflict(key: &ResKey, name: &str, message: String) -> StoreError {
    StoreError::Conflict {
        group: key.group.clone(),
        resource: key.resource.clone(),
        name: name.to_owned(),
        message,
    }
}

impl Store {
    /// An empty store at resourceVersion 1.
    pub fn new() -> Self {
        Self::with_history(DEFAULT_HISTORY)
    }

    /// An empty store keeping `limit` events for watch resumes.
    pub fn with_history(limit: usize) -> Self {
        let (changes, _) = tokio::sync::watch::channel(1);
        Store {
            inner: Mutex::new(Inner {
                rv: 1,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                floor: 1,
                history_limit: limit.max(1),
                watchers: Vec::new(),
            }),
            changes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every write is one insert).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// A receiver that sees the resourceVersion after every change (for debounced work).
    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// One object; `namespace` is "" for cluster-scoped objects.
    pub fn get(&self, key: &ResKey, namespace: &str, name: &str) -> Option<Value> {
        self.get_arc(key, namespace, name).map(|v| (*v).clone())
    }

    /// One object, shared.
    pub fn get_arc(&self, key: &ResKey, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let inner = self.lock();
        inner
            .objects
            .get(key)
            .and_then(|c| c.get(&(namespace.to_owned(), name.to_owned())))
            .cloned()
    }

    /// Objects of a collection sorted by namespace then name, with the list resourceVersion.
    pub fn list(&self, key: &ResKey, namespace: Option<&str>) -> (Vec<Value>, u64) {
        let (items, rv) = self.list_arc(key, namespace);
        (items.iter().map(|v| (**v).clone()).collect(), rv)
    }

    /// Like [`Store::list`], without copying the objects.
    pub fn list_arc(&self, key: &ResKey, namespace: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let inner = self.lock();
        let items = match inner.objects.get(key) {
            None => Vec::new(),
            Some(c) => match namespace {
                None => c.values().cloned().collect(),
                Some(ns) => c
                    .range((ns.to_owned(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, v)| v.clone())
                    .collect(),
            },
        };
        (items, inner.rv)
    }

    /// Every object of every collection, read atomically (the garbage collector needs one
    /// consistent view of owners and dependents).
    pub fn list_all_arc(&self) -> (Vec<(ResKey, Arc<Value>)>, u64) {
        let inner = self.lock();
        let items = inner
            .objects
            .iter()
            .flat_map(|(k, c)| c.values().map(move |o| (k.clone(), o.clone())))
            .collect();
        (items, inner.rv)
    }

    /// Every collection key holding at least one object.
    pub fn keys(&self) -> Vec<ResKey> {
        let inner = self.lock();
        inner
            .objects
            .iter()
            .filter(|(_, c)| !c.is_empty())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Stores a new object, filling uid, resourceVersion, creationTimestamp and generation, and
    /// the name from `generateName` when needed.
    pub fn create(&self, key: &ResKey, mut obj: Value) -> Result<Value, StoreError> {
        let mut inner = self.lock();
        let ns = meta::namespace(&obj).to_owned();
        let mut name = meta::name(&obj).to_owned();
        if name.is_empty() {
            let prefix = obj
                .pointer("/metadata/generateName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if prefix.is_empty() {
                return Err(StoreError::Invalid {
                    group: key.group.clone(),
                    resource: key.resource.clone(),
                    name: String::new(),
                    message: "metadata.name: Required value: name or generateName is required"
                        .to_owned(),
                });
            }
            let coll = inner.objects.get(key);
            loop {
                name = format!("{prefix}{}", meta::random_suffix(5));
                let taken = coll.is_some_and(|c| c.contains_key(&(ns.clone(), name.clone())));
                if !taken {
                    break;
                }
            }
        }
        let exists = inner
            .objects
            .get(key)
            .is_some_and(|c| c.contains_key(&(ns.clone(), name.clone())));
        if exists {
            return Err(StoreError::AlreadyExists {
                group: key.group.clone(),
                resource: key.resource.clone(),
                name,
            });
        }
        let rv = inner.rv + 1;
        let has_spec = obj.get("spec").is_some();
        let m = meta::metadata_mut(&mut obj);
        m.insert("name".into(), Value::String(name.clone()));
        m.insert("uid".into(), Value::String(meta::new_uid()));
        m.insert("resourceVersion".into(), Value::String(rv.to_string()));
        m.insert(
            "creationTimestamp".into(),
            Value::String(meta::now_rfc3339()),
        );
        if has_spec {
            m.insert("generation".into(), json!(1));
        }
        m.remove("deletionTimestamp");
        m.remove("deletionGracePeriodSeconds");
        let obj = Arc::new(obj);
        inner.rv = rv;
        inner
            .objects
            .entry(key.clone())
            .or_default()
            .insert((ns.clone(), name), obj.clone());
        self.emit(&mut inner, EventType::Added, key, ns, obj.clone());
        Ok((*obj).clone())
    }

    /// Replaces an object. A set `metadata.resourceVersion` must match the stored one.
    pub fn update(&self, key: &ResKey, mut obj: Value) -> Result<Value, StoreError> {
        let mut inner = self.lock();
        let ns = meta::namespace(&obj).to_owned();
        let name = meta::name(&obj).to_owned();
        let Some(old) = inner
            .objects
            .get(key)
            .and_then(|c| c.get(&(ns.clone(), name.clone())))
            .cloned()
        else {
            return Err(not_found(key, &name));
        };
        let old_rv = meta::resource_version(&old).unwrap_or(0);
        if let Some(given) = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && !given.is_empty()
            && given != old_rv.to_string()
        {
            return Err(conflict(key, &name, CONFLICT_MESSAGE.to_owned()));
        }
        let spec_changed = old.get("spec") != obj.get("spec");
        let m = meta::metadata_mut(&mut obj);
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            match old.pointer(&format!("/metadata/{field}")) {
                Some(v) => m.insert(field.into(), v.clone()),
                None => m.remove(field),
            };
        }
        m.insert("resourceVersion".into(), Value::String(old_rv.to_string()));
        let old_gen = old.pointer("/metadata/generation").and_then(Value::as_i64);
        match old_gen {
            Some(g) => {
                m.insert(
                    "generation".into(),
                    json!(if spec_changed { g + 1 } else { g }),
                );
            }
            None => {
                m.remove("generation");
            }
        }
        if obj == *old {
            return Ok(obj);
        }
        let rv = inner.rv + 1;
        meta::metadata_mut(&mut obj)
            .insert("resourceVersion".into(), Value::String(rv.to_string()));
        inner.rv = rv;
        let finish = meta::is_terminating(&obj)
            && meta::finalizers(&obj).is_empty()
            && !meta::finalizers(&old).is_empty()
            && obj
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                == 0;
        let obj = Arc::new(obj);
        if finish {
            inner
                .objects
                .get_mut(key)
                .map(|c| c.remove(&(ns.clone(), name)));
            self.emit(&mut inner, EventType::Deleted, key, ns, obj.clone());
        } else {
            inner
                .objects
                .entry(key.clone())
                .or_default()
                .insert((ns.clone(), name), obj.clone());
            self.emit(&mut inner, EventType::Modified, key, ns, obj.clone());
        }
        Ok((*obj).clone())
    }

    /// Deletes an object: pods and objects with finalizers (or Foreground dependents) get a
    /// deletionTimestamp and go later; everything else goes at once.
    pub fn delete(
        &self,
        key: &ResKey,
        namespace: &str,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Value, StoreError> {
        let mut inner = self.lock();
        let Some(old) = inner
            .objects
            .get(key)
            .and_then(|c| c.get(&(namespace.to_owned(), name.to_owned())))
            .cloned()
        else {
            return Err(not_found(key, name));
        };
        if let Some(want) = &opts.precondition_uid
            && want != meta::uid(&old)
        {
            return Err(conflict(
                key,
                name,
                format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {}",
                    meta::uid(&old)
                ),
            ));
        }
        if let Some(want) = &opts.precondition_rv {
            let have = meta::resource_version(&old).unwrap_or(0).to_string();
            if *want != have {
                return Err(conflict(
                    key,
                    name,
                    format!(
                        "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {have}"
                    ),
                ));
            }
        }
        let uid = meta::uid(&old).to_owned();
        if opts.propagation == Propagation::Orphan {
            self.orphan_dependents(&mut inner, &uid);
        }
        let finalizers = meta::finalizers(&old);
        let terminating = meta::is_terminating(&old);
        let is_pod = *key == ResKey::pods();
        let is_namespace = *key == ResKey::namespaces();
        let mut obj = (*old).clone();
        if is_pod {
            let grace = opts
                .grace_period_seconds
                .or_else(|| {
                    old.pointer("/spec/terminationGracePeriodSeconds")
                        .and_then(Value::as_i64)
                })
                .unwrap_or(30)
                .max(0);
            let scheduled = old
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            if (grace == 0 || !scheduled) && finalizers.is_empty() {
                return Ok(self.remove_locked(&mut inner, key, old));
            }
            let current = old
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64);
            if terminating && current.is_some_and(|c| c <= grace) {
                return Ok((*old).clone());
            }
            let when = jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_secs(grace))
                .unwrap_or_else(|_| jiff::Timestamp::now());
            let m = meta::metadata_mut(&mut obj);
            m.insert(
                "deletionTimestamp".into(),
                Value::String(meta::rfc3339_secs(when)),
            );
            m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            return Ok(self.replace_locked(&mut inner, key, obj));
        }
        let needs_wait = !finalizers.is_empty()
            || is_namespace
            || (opts.propagation == Propagation::Foreground && self.has_dependents(&inner, &uid));
        if !needs_wait {
            return Ok(self.remove_locked(&mut inner, key, old));
        }
        if terminating {
            return Ok((*old).clone());
        }
        let m = meta::metadata_mut(&mut obj);
        m.insert(
            "deletionTimestamp".into(),
            Value::String(meta::now_rfc3339()),
        );
        m.insert("deletionGracePeriodSeconds".into(), json!(0));
        if opts.propagation == Propagation::Foreground && !is_namespace {
            let list = m.entry("finalizers").or_insert_with(|| json!([]));
            if let Value::Array(a) = list
                && !a.iter().any(|f| f == "foregroundDeletion")
            {
                a.push(json!("foregroundDeletion"));
            }
        }
        if is_namespace {
            meta::object_field_mut(&mut obj, "status").insert("phase".into(), json!("Terminating"));
        }
        Ok(self.replace_locked(&mut inner, key, obj))
    }

    /// Removes an object at once, ignoring finalizers and grace (the kubelet's final delete,
    /// the namespace controller). Returns the removed object, if it existed.
    pub fn purge(&self, key: &ResKey, namespace: &str, name: &str) -> Option<Value> {
        let mut inner = self.lock();
        let old = inner
            .objects
            .get(key)
            .and_then(|c| c.get(&(namespace.to_owned(), name.to_owned())))
            .cloned()?;
        Some(self.remove_locked(&mut inner, key, old))
    }

    fn has_dependents(&self, inner: &Inner, uid: &str) -> bool {
        inner.objects.values().any(|c| {
            c.values().any(|o| {
                meta::owner_refs(o)
                    .iter()
                    .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
            })
        })
    }

    fn orphan_dependents(&self, inner: &mut Inner, uid: &str) {
        let mut changed = Vec::new();
        for (key, coll) in &inner.objects {
            for o in coll.values() {
                let refs = meta::owner_refs(o);
                if refs
                    .iter()
                    .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                {
                    let kept: Vec<Value> = refs
                        .iter()
                        .filter(|r| r.get("uid").and_then(Value::as_str) != Some(uid))
                        .cloned()
                        .collect();
                    let mut o = (**o).clone();
                    let m = meta::metadata_mut(&mut o);
                    if kept.is_empty() {
                        m.remove("ownerReferences");
                    } else {
                        m.insert("ownerReferences".into(), Value::Array(kept));
                    }
                    changed.push((key.clone(), o));
                }
            }
        }
        for (key, o) in changed {
            self.replace_locked(inner, &key, o);
        }
    }

    /// Stores `obj` under a new resourceVersion and emits MODIFIED.
    fn replace_locked(&self, inner: &mut Inner, key: &ResKey, mut obj: Value) -> Value {
        let rv = inner.rv + 1;
        inner.rv = rv;
        meta::metadata_mut(&mut obj)
            .insert("resourceVersion".into(), Value::String(rv.to_string()));
        let ns = meta::namespace(&obj).to_owned();
        let name = meta::name(&obj).to_owned();
        let obj = Arc::new(obj);
        inner
            .objects
            .entry(key.clone())
            .or_default()
            .insert((ns.clone(), name), obj.clone());
        self.emit(inner, EventType::Modified, key, ns, obj.clone());
        (*obj).clone()
    }

    /// Removes `old` and emits DELETED carrying a fresh resourceVersion.
    fn remove_locked(&self, inner: &mut Inner, key: &ResKey, old: Arc<Value>) -> Value {
        let ns = meta::namespace(&old).to_owned();
        let name = meta::name(&old).to_owned();
        if let Some(c) = inner.objects.get_mut(key) {
            c.remove(&(ns.clone(), name));
        }
        let rv = inner.rv + 1;
        inner.rv = rv;
        let mut obj = (*old).clone();
        meta::metadata_mut(&mut obj)
            .insert("resourceVersion".into(), Value::String(rv.to_string()));
        let obj = Arc::new(obj);
        self.emit(inner, EventType::Deleted, key, ns, obj.clone());
        (*obj).clone()
    }

    fn emit(&self, inner: &mut Inner, kind: EventType, key: &ResKey, ns: String, obj: Arc<Value>) {
        let ev = WatchEvent {
            kind,
            key: key.clone(),
            object: obj,
            resource_version: inner.rv,
        };
        inner.watchers.retain(|w| {
            if w.wants(&ev, &ns) {
                w.send(ev.clone())
            } else {
                !w.tx.is_closed()
            }
        });
        inner.history.push_back((ev, ns));
        while inner.history.len() > inner.history_limit {
            if let Some((old, _)) = inner.history.pop_front() {
                inner.floor = old.resource_version;
            }
        }
        self.changes.send_replace(inner.rv);
    }

    /// Watches one collection (optionally one namespace) from `since_rv`: every kept event
    /// with a greater resourceVersion, then live events.
    pub fn watch(
        &self,
        key: &ResKey,
        namespace: Option<&str>,
        since_rv: u64,
    ) -> Result<WatchReceiver, StoreError> {
        self.watch_inner(Some(key.clone()), namespace.map(str::to_owned), since_rv)
    }

    /// Watches every collection from `since_rv` (controllers, persistence).
    pub fn watch_all(&self, since_rv: u64) -> Result<WatchReceiver, StoreError> {
        self.watch_inner(None, None, since_rv)
    }

    fn watch_inner(
        &self,
        key: Option<ResKey>,
        namespace: Option<String>,
        since_rv: u64,
    ) -> Result<WatchReceiver, StoreError> {
        let mut inner = self.lock();
        if since_rv < inner.floor {
            let (group, resource) = key
                .as_ref()
                .map(|k| (k.group.clone(), k.resource.clone()))
                .unwrap_or_default();
            return Err(StoreError::Expired {
                group,
                resource,
                message: format!(
                    "(requested {since_rv}, oldest available {})",
                    inner.floor + 1
                ),
            });
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(WatcherShared {
            queued: Default::default(),
            overflowed: Default::default(),
        });
        let watcher = Watcher {
            key: key.clone(),
            namespace,
            tx,
            shared: shared.clone(),
        };
        let start = inner
            .history
            .partition_point(|(e, _)| e.resource_version <= since_rv);
        for (ev, ns) in inner.history.range(start..) {
            if watcher.wants(ev, ns) {
                // Replay is bounded by the history size, so it cannot overflow the budget.
                let _ = watcher.tx.send(ev.clone());
                watcher
                    .shared
                    .queued
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        inner.watchers.push(watcher);
        Ok(WatchReceiver {
            rx,
            shared,
            key,
            done: false,
        })
    }

    /// Every object and the current resourceVersion.
    pub fn snapshot(&self) -> Snapshot {
        let inner = self.lock();
        let objects = inner
            .objects
            .iter()
            .flat_map(|(k, c)| {
                c.values().map(move |o| SnapshotEntry {
                    group: k.group.clone(),
                    resource: k.resource.clone(),
                    object: (**o).clone(),
                })
            })
            .collect();
        Snapshot {
            resource_version: inner.rv,
            objects,
        }
    }

    /// Replaces the whole content with a snapshot. The resourceVersion never goes backwards;
    /// existing watchers end with `Expired`, and older resumes are refused.
    pub fn restore(&self, snapshot: Snapshot) {
        let mut inner = self.lock();
        let mut objects: BTreeMap<ResKey, Collection> = BTreeMap::new();
        let mut max_rv = 0;
        for e in snapshot.objects {
            max_rv = max_rv.max(meta::resource_version(&e.object).unwrap_or(0));
            let ns = meta::namespace(&e.object).to_owned();
            let name = meta::name(&e.object).to_owned();
            objects
                .entry(ResKey::new(&e.group, &e.resource))
                .or_default()
                .insert((ns, name), Arc::new(e.object));
        }
        inner.objects = objects;
        inner.rv = inner.rv.max(snapshot.resource_version).max(max_rv) + 1;
        inner.floor = inner.rv;
        inner.history.clear();
        for w in inner.watchers.drain(..) {
            w.shared
                .overflowed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.changes.send_replace(inner.rv);
    }
}

#[cfg(test)]
mod tests;
