//! Records core/v1 Events the way client-go's recorders do: the classic recorder (kubelet,
//! controller manager) aggregates repeats into one object with a count so `describe` shows
//! "(x3 over 40s)"; the events.k8s.io recorder (the scheduler) sets `eventTime`, `action` and a
//! `series` instead, and leaves `source`, `count` and the first and last timestamps empty.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::sandbox::store::{ResKey, Store, meta};

/// Who reports an event.
#[derive(Clone, Debug)]
pub struct Source {
    /// `source.component`, e.g. `deployment-controller` or `kubelet`.
    pub component: String,
    /// `source.host`: the node, for kubelet events.
    pub host: Option<String>,
    /// `reportingInstance`, for a component that records through events.k8s.io/v1.
    pub instance: Option<String>,
}

impl Source {
    /// A control-plane component with the classic recorder.
    pub fn component(name: &str) -> Self {
        Source {
            component: name.to_owned(),
            host: None,
            instance: None,
        }
    }
    /// A component that records through events.k8s.io/v1, as the scheduler does, running on
    /// `node` (its `reportingInstance` is `<component>-<node>`).
    pub fn events_api(name: &str, node: &str) -> Self {
        Source {
            component: name.to_owned(),
            host: None,
            instance: Some(format!("{name}-{node}")),
        }
    }
    /// The kubelet of a node.
    pub fn kubelet(node: &str) -> Self {
        Source {
            component: "kubelet".to_owned(),
            host: Some(node.to_owned()),
            instance: None,
        }
    }
}

/// The `action` an events.k8s.io recorder gives a reason (the scheduler's two).
fn action_of(reason: &str) -> &'static str {
    match reason {
        "Scheduled" => "Binding",
        _ => "Scheduling",
    }
}

/// Creates and aggregates Events.
#[derive(Default)]
pub struct EventRecorder {
    /// Aggregation key -> (namespace, event name).
    seen: Mutex<HashMap<String, (String, String)>>,
    /// Last name suffix handed out, so names stay unique and sort by time.
    last_stamp: AtomicU64,
}

impl EventRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Unix nanoseconds, strictly increasing: event names are `<object>.<hex of this>` like the
    /// real recorder's, so listing by name lists by time.
    fn next_stamp(&self) -> u64 {
        let now = u64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap_or(0);
        let mut last = self.last_stamp.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self
                .last_stamp
                .compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Records a Normal event about `obj`.
    pub fn normal(&self, store: &Store, obj: &Value, source: &Source, reason: &str, msg: &str) {
        self.record(store, obj, None, "Normal", source, reason, msg);
    }

    /// Records a Warning event about `obj`.
    pub fn warning(&self, store: &Store, obj: &Value, source: &Source, reason: &str, msg: &str) {
        self.record(store, obj, None, "Warning", source, reason, msg);
    }

    /// Records an event; `field_path` names a container (`spec.containers{app}`).
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the Event fields one-to-one"
    )]
    pub fn record(
        &self,
        store: &Store,
        obj: &Value,
        field_path: Option<&str>,
        kind: &str,
        source: &Source,
        reason: &str,
        message: &str,
    ) {
        let ns = {
            let n = meta::namespace(obj);
            if n.is_empty() { "default" } else { n }
        }
        .to_owned();
        let key = format!(
            "{}|{}|{}|{}|{}|{}|{}",
            meta::uid(obj),
            field_path.unwrap_or(""),
            kind,
            source.component,
            source.host.as_deref().unwrap_or(""),
            reason,
            message
        );
        let now = meta::now_rfc3339();
        let existing = self.seen.lock().ok().and_then(|m| m.get(&key).cloned());
        if let Some((ens, ename)) = existing
            && let Some(mut ev) = store.get(&ResKey::events(), &ens, &ename)
        {
            if source.instance.is_some() {
                let count = ev
                    .pointer("/series/count")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
                    + 1;
                ev["series"] =
                    json!({"count": count, "lastObservedTime": meta::now_rfc3339_micro()});
            } else {
                let count = ev.get("count").and_then(Value::as_i64).unwrap_or(1) + 1;
                ev["count"] = json!(count);
                ev["lastTimestamp"] = json!(now);
            }
            if store.update(&ResKey::events(), ev).is_ok() {
                return;
            }
        }
        let mut involved = json!({
            "kind": obj.get("kind").cloned().unwrap_or(Value::Null),
            "namespace": meta::namespace(obj),
            "name": meta::name(obj),
            "uid": meta::uid(obj),
            "apiVersion": obj.get("apiVersion").cloned().unwrap_or(Value::Null),
            "resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
        });
        if let Some(fp) = field_path {
            involved["fieldPath"] = json!(fp);
        }
        if meta::namespace(obj).is_empty()
            && let Some(m) = involved.as_object_mut()
        {
            m.remove("namespace");
        }
        let mut src = json!({"component": source.component});
        if let Some(h) = &source.host {
            src["host"] = json!(h);
        }
        let name = format!("{}.{:x}", meta::name(obj), self.next_stamp());
        let mut ev = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": kind,
            "reportingComponent": source.component,
        });
        let recorded = match &source.instance {
            // events.k8s.io: when and what, no source or counters.
            Some(instance) => json!({
                "source": {},
                "firstTimestamp": null,
                "lastTimestamp": null,
                "eventTime": meta::now_rfc3339_micro(),
                "action": action_of(reason),
                "reportingInstance": instance,
            }),
            None => json!({
                "source": src,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
                "eventTime": null,
                "reportingInstance": source.host.clone().unwrap_or_default(),
            }),
        };
        for (field, value) in recorded.as_object().into_iter().flatten() {
            ev[field] = value.clone();
        }
        if store.create(&ResKey::events(), ev).is_ok()
            && let Ok(mut m) = self.seen.lock()
        {
            m.insert(key, (ns, name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_events_are_aggregated() {
        let store = Store::new();
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"}});
        let rec = EventRecorder::new();
        let src = Source::kubelet("node-1");
        rec.normal(
            &store,
            &pod,
            &src,
            "BackOff",
            "Back-off pulling image \"x\"",
        );
        rec.normal(
            &store,
            &pod,
            &src,
            "BackOff",
            "Back-off pulling image \"x\"",
        );
        rec.warning(&store, &pod, &src, "Failed", "Error: ImagePullBackOff");
        let (events, _) = store.list(&ResKey::events(), Some("default"));
        assert_eq!(events.len(), 2);
        let backoff = events.iter().find(|e| e["reason"] == "BackOff").unwrap();
        assert_eq!(backoff["count"], 2);
        assert_eq!(backoff["source"]["host"], "node-1");
        assert_eq!(backoff["involvedObject"]["uid"], "u1");
        assert!(meta::name(backoff).starts_with("p."));
    }

    #[test]
    fn events_api_recorders_leave_the_classic_fields_empty() {
        // As kube-scheduler 1.37's events read on the test bed.
        let store = Store::new();
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"}});
        let rec = EventRecorder::new();
        let src = Source::events_api("default-scheduler", "kind-control-plane");
        rec.normal(
            &store,
            &pod,
            &src,
            "Scheduled",
            "Successfully assigned default/p to w",
        );
        let (events, _) = store.list(&ResKey::events(), Some("default"));
        let ev = &events[0];
        assert_eq!(ev["action"], "Binding");
        assert_eq!(ev["source"], json!({}));
        assert_eq!(ev["firstTimestamp"], Value::Null);
        assert!(ev.get("count").is_none());
        assert_eq!(ev["reportingComponent"], "default-scheduler");
        assert_eq!(
            ev["reportingInstance"],
            "default-scheduler-kind-control-plane"
        );
        assert!(ev["eventTime"].as_str().is_some_and(|t| t.contains('.')));
    }
}
