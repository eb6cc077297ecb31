//! The garbage collector: deletes objects whose owners are gone, finishes foreground
//! deletions, and empties terminating namespaces.

use std::collections::HashSet;

use serde_json::Value;

use super::Reconciler;
use super::util::str_at;
use crate::sandbox::store::{DeleteOpts, Propagation, ResKey, Store, meta};

/// Deletes dependents of deleted owners.
#[derive(Default)]
pub struct GarbageCollector;

impl GarbageCollector {
    /// A new collector.
    pub fn new() -> Self {
        GarbageCollector
    }
}

const FOREGROUND: &str = "foregroundDeletion";

/// How long events live.
const EVENT_TTL_SECS: i64 = 3600;

impl Reconciler for GarbageCollector {
    fn reconcile(&mut self, store: &Store) {
        let (all, _) = store.list_all_arc();
        let uids: HashSet<&str> = all.iter().map(|(_, o)| meta::uid(o)).collect();
        let terminating_ns: HashSet<&str> = all
            .iter()
            .filter(|(k, o)| *k == ResKey::namespaces() && meta::is_terminating(o))
            .map(|(_, o)| meta::name(o))
            .collect();
        let foreground: HashSet<&str> = all
            .iter()
            .filter(|(_, o)| {
                meta::is_terminating(o) && meta::finalizers(o).iter().any(|f| f == FOREGROUND)
            })
            .map(|(_, o)| meta::uid(o))
            .collect();
        let mut in_terminating_ns: HashSet<&str> = HashSet::new();
        for (key, obj) in &all {
            let ns = meta::namespace(obj);
            if !ns.is_empty() && terminating_ns.contains(ns) {
                in_terminating_ns.insert(ns);
                if !meta::is_terminating(obj) {
                    let _ = store.delete(key, ns, meta::name(obj), &DeleteOpts::default());
                }
                continue;
            }
            let refs = meta::owner_refs(obj);
            if refs.is_empty() {
                continue;
            }
            let owner_alive = refs.iter().any(|r| uids.contains(str_at(r, "/uid")));
            if !owner_alive && !meta::is_terminating(obj) {
                let _ = store.delete(key, ns, meta::name(obj), &DeleteOpts::default());
                continue;
            }
            // Dependents of a foreground deletion go first, foreground themselves.
            let owner_in_foreground = refs.iter().any(|r| foreground.contains(str_at(r, "/uid")));
            if owner_in_foreground && !meta::is_terminating(obj) {
                let opts = DeleteOpts {
                    propagation: Propagation::Foreground,
                    ..Default::default()
                };
                let _ = store.delete(key, ns, meta::name(obj), &opts);
            }
        }
        let owned_by: HashSet<&str> = all
            .iter()
            .flat_map(|(_, o)| meta::owner_refs(o).iter().map(|r| str_at(r, "/uid")))
            .collect();
        for (key, obj) in &all {
            let waiting =
                meta::is_terminating(obj) && meta::finalizers(obj).iter().any(|f| f == FOREGROUND);
            if !waiting {
                continue;
            }
            let has_dependents = owned_by.contains(meta::uid(obj));
            if !has_dependents
                && let Some(mut fresh) = store.get(key, meta::namespace(obj), meta::name(obj))
            {
                let kept: Vec<Value> = meta::finalizers(&fresh)
                    .into_iter()
                    .filter(|f| f != FOREGROUND)
                    .map(Value::String)
                    .collect();
                meta::metadata_mut(&mut fresh).insert("finalizers".into(), Value::Array(kept));
                let _ = store.update(key, fresh);
            }
        }
        // Events expire after an hour, as with the API server's default --event-ttl.
        let cutoff = jiff::Timestamp::now().as_second() - EVENT_TTL_SECS;
        for (key, obj) in &all {
            if *key != ResKey::events() {
                continue;
            }
            let last = obj
                .get("lastTimestamp")
                .and_then(Value::as_str)
                .or_else(|| {
                    obj.pointer("/metadata/creationTimestamp")
                        .and_then(Value::as_str)
                })
                .and_then(meta::parse_time);
            if last.is_some_and(|t| t.as_second() < cutoff) {
                store.purge(key, meta::namespace(obj), meta::name(obj));
            }
        }
        for ns in terminating_ns {
            if !in_terminating_ns.contains(ns) {
                store.purge(&ResKey::namespaces(), "", ns);
            }
        }
    }
}
