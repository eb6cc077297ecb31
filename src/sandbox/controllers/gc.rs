//! The garbage collector: deletes objects whose owners are gone, finishes foreground
//! deletions, and empties terminating namespaces.

use std::collections::HashSet;

use super::Reconciler;
use crate::sandbox::objects::{Any, Viewed, view, view_of};
use crate::sandbox::store::meta::{self, Meta};
use crate::sandbox::store::{DeleteOpts, FOREGROUND, Propagation, ResKey, Store};

/// Deletes dependents of deleted owners.
#[derive(Default)]
pub struct GarbageCollector;

impl GarbageCollector {
    /// A new collector.
    pub fn new() -> Self {
        GarbageCollector
    }
}

/// How long events live.
const EVENT_TTL_SECS: i64 = 3600;

view! {
    /// When an Event last happened (a full Event costs more to read, for thousands of them).
    struct EventTime<'a> {
        #[serde(borrow)]
        last_timestamp: Option<&'a str>,
    }
}

fn waits_for_dependents(m: &Meta) -> bool {
    m.is_terminating() && m.finalizers.contains(&FOREGROUND)
}

impl Reconciler for GarbageCollector {
    fn reconcile(&mut self, store: &Store) {
        let (all, _) = store.list_all_arc();
        let all: Vec<(&ResKey, Viewed<Any>)> =
            all.iter().map(|(k, o)| (k, Viewed::of(o))).collect();
        let uids: HashSet<&str> = all.iter().map(|(_, o)| o.metadata.uid).collect();
        let terminating_ns: HashSet<&str> = all
            .iter()
            .filter(|(k, o)| **k == ResKey::namespaces() && o.metadata.is_terminating())
            .map(|(_, o)| o.metadata.name)
            .collect();
        let foreground: HashSet<&str> = all
            .iter()
            .filter(|(_, o)| waits_for_dependents(&o.metadata))
            .map(|(_, o)| o.metadata.uid)
            .collect();
        let mut in_terminating_ns: HashSet<&str> = HashSet::new();
        for (key, obj) in &all {
            let m = &obj.metadata;
            let ns = m.namespace;
            if !ns.is_empty() && terminating_ns.contains(ns) {
                in_terminating_ns.insert(ns);
                if !m.is_terminating() {
                    let _ = store.delete(key, ns, m.name, &DeleteOpts::default());
                }
                continue;
            }
            let refs = &m.owner_references;
            if refs.is_empty() {
                continue;
            }
            let owner_alive = refs.iter().any(|r| uids.contains(r.uid));
            if !owner_alive && !m.is_terminating() {
                let _ = store.delete(key, ns, m.name, &DeleteOpts::default());
                continue;
            }
            // Dependents of a foreground deletion go first, foreground themselves.
            let owner_in_foreground = refs.iter().any(|r| foreground.contains(r.uid));
            if owner_in_foreground && !m.is_terminating() {
                let opts = DeleteOpts {
                    propagation: Propagation::Foreground,
                    ..Default::default()
                };
                let _ = store.delete(key, ns, m.name, &opts);
            }
        }
        let owned_by: HashSet<&str> = all
            .iter()
            .flat_map(|(_, o)| o.metadata.owner_references.iter().map(|r| r.uid))
            .collect();
        for (key, obj) in &all {
            let m = &obj.metadata;
            if !waits_for_dependents(m) || owned_by.contains(m.uid) {
                continue;
            }
            if let Some(mut fresh) = store.get(key, m.namespace, m.name) {
                meta::remove_finalizer(&mut fresh, FOREGROUND);
                let _ = store.update(key, fresh);
            }
        }
        // Events expire after an hour, as with the API server's default --event-ttl.
        let cutoff = jiff::Timestamp::now().as_second() - EVENT_TTL_SECS;
        for (key, obj) in &all {
            if **key != ResKey::events() {
                continue;
            }
            let event: EventTime = view_of(obj.json);
            let last = event
                .last_timestamp
                .and_then(meta::parse_time)
                .or_else(|| obj.metadata.created());
            if last.is_some_and(|t| t.as_second() < cutoff) {
                store.purge(key, obj.metadata.namespace, obj.metadata.name);
            }
        }
        for ns in terminating_ns {
            if !in_terminating_ns.contains(ns) {
                store.purge(&ResKey::namespaces(), "", ns);
            }
        }
    }
}
