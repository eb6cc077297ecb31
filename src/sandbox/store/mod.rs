//! The sandbox's object store: every object in JSON wire form, one global resourceVersion,
//! a bounded event history for watch resumes, and non-blocking watch fan-out.
//!
//! The store knows nothing of HTTP. It enforces what etcd plus the generic registry enforce
//! (optimistic concurrency, uid/creationTimestamp immutability, generation bumps, graceful
//! deletion, finalizers, orphaning) so the API layer and the controllers share one truth.

mod delete;
pub use delete::FOREGROUND;
pub mod meta;
mod types;
mod watch;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use meta::Meta;
pub use types::{
    CONFLICT_MESSAGE, DeleteOpts, Propagation, ResKey, Snapshot, SnapshotEntry, StoreError,
};
use types::{conflict, not_found};
pub use watch::{EventType, WatchEvent, WatchReceiver};
use watch::{Watcher, WatcherShared};

/// Events kept for watch resumes; older resourceVersions get `Expired`.
pub const DEFAULT_HISTORY: usize = 5_000;

type Collection = BTreeMap<(String, String), Arc<Value>>;

/// One event of the resume history. The object is kept serialised: a JSON text is several
/// times smaller than its `Value`, and a busy sandbox (a thousand pods, each changing a few
/// times, each with its events) would otherwise hold thousands of full object versions that
/// no client is likely to ask for again.
struct Kept {
    kind: EventType,
    key: ResKey,
    namespace: String,
    resource_version: u64,
    object: Box<[u8]>,
}

impl Kept {
    fn new(ev: &WatchEvent, namespace: String) -> Self {
        Kept {
            kind: ev.kind,
            key: ev.key.clone(),
            namespace,
            resource_version: ev.resource_version,
            // A `Value` always serialises.
            object: serde_json::to_vec(&*ev.object)
                .unwrap_or_default()
                .into_boxed_slice(),
        }
    }

    /// The event again, for a watcher resuming from before it.
    fn revive(&self) -> Option<WatchEvent> {
        Some(WatchEvent {
            kind: self.kind,
            key: self.key.clone(),
            object: Arc::new(serde_json::from_slice(&self.object).ok()?),
            resource_version: self.resource_version,
        })
    }
}

struct Inner {
    rv: u64,
    objects: BTreeMap<ResKey, Collection>,
    history: VecDeque<Kept>,
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
        let m = Meta::of(&obj);
        let ns = m.namespace.to_owned();
        let mut name = m.name.to_owned();
        let prefix = m.generate_name.to_owned();
        if name.is_empty() {
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
        let tracks_generation = key.generation_fields().is_some();
        let m = meta::metadata_mut(&mut obj);
        m.insert("name".into(), Value::String(name.clone()));
        m.insert("uid".into(), Value::String(meta::new_uid()));
        m.insert("resourceVersion".into(), Value::String(rv.to_string()));
        m.insert(
            "creationTimestamp".into(),
            Value::String(meta::now_rfc3339()),
        );
        if tracks_generation {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
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
        let given = Meta::of(&obj);
        let ns = given.namespace.to_owned();
        let name = given.name.to_owned();
        let given_rv = given.resource_version.to_owned();
        let Some(old) = inner
            .objects
            .get(key)
            .and_then(|c| c.get(&(ns.clone(), name.clone())))
            .cloned()
        else {
            return Err(not_found(key, &name));
        };
        let old_meta = Meta::of(&old);
        let old_rv = old_meta.resource_version_number().unwrap_or(0);
        if !given_rv.is_empty() && given_rv != old_rv.to_string() {
            return Err(conflict(key, &name, CONFLICT_MESSAGE.to_owned()));
        }
        let generation_fields = key.generation_fields().unwrap_or_default();
        let spec_changed = if *key == ResKey::pods() {
            // Binding a pod to a node is not a spec change a user made.
            let strip = |v: Option<&Value>| {
                let mut v = v.cloned();
                if let Some(Value::Object(m)) = v.as_mut() {
                    m.remove("nodeName");
                }
                v
            };
            strip(old.get("spec")) != strip(obj.get("spec"))
        } else {
            generation_fields
                .iter()
                .any(|field| old.get(*field) != obj.get(*field))
        };
        let old_fields = old.get("metadata").and_then(Value::as_object);
        let m = meta::metadata_mut(&mut obj);
        for field in meta::SERVER_SET {
            match old_fields.and_then(|f| f.get(field)) {
                Some(v) => m.insert(field.into(), v.clone()),
                None => m.remove(field),
            };
        }
        m.insert("resourceVersion".into(), Value::String(old_rv.to_string()));
        match old_meta.generation {
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
        let new_meta = Meta::of(&obj);
        let finish = new_meta.is_terminating()
            && new_meta.finalizers.is_empty()
            && !old_meta.finalizers.is_empty()
            && new_meta.deletion_grace_period_seconds.unwrap_or(0) == 0;
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

    /// Stores `obj` under a new resourceVersion and emits MODIFIED.
    fn replace_locked(&self, inner: &mut Inner, key: &ResKey, mut obj: Value) -> Value {
        let rv = inner.rv + 1;
        inner.rv = rv;
        meta::metadata_mut(&mut obj)
            .insert("resourceVersion".into(), Value::String(rv.to_string()));
        let m = Meta::of(&obj);
        let (ns, name) = (m.namespace.to_owned(), m.name.to_owned());
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
        let m = Meta::of(&old);
        let (ns, name) = (m.namespace.to_owned(), m.name.to_owned());
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
            if w.wants(&ev.key, &ns) {
                w.send(ev.clone())
            } else {
                !w.tx.is_closed()
            }
        });
        inner.history.push_back(Kept::new(&ev, ns));
        while inner.history.len() > inner.history_limit {
            if let Some(old) = inner.history.pop_front() {
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
            .partition_point(|e| e.resource_version <= since_rv);
        for kept in inner.history.range(start..) {
            if watcher.wants(&kept.key, &kept.namespace)
                && let Some(ev) = kept.revive()
            {
                // Replay is bounded by the history size, so it cannot overflow the budget.
                let _ = watcher.tx.send(ev);
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
                    object: o.clone(),
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
            let m = Meta::of(&e.object);
            max_rv = max_rv.max(m.resource_version_number().unwrap_or(0));
            let (ns, name) = (m.namespace.to_owned(), m.name.to_owned());
            objects
                .entry(ResKey::new(&e.group, &e.resource))
                .or_default()
                .insert((ns, name), e.object);
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
