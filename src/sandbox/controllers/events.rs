//! Records core/v1 Events the way client-go's recorders do: the classic recorder (kubelet,
//! controller manager) aggregates repeats into one object with a count so `describe` shows
//! "(x3 over 40s)"; the events.k8s.io recorder (the scheduler) sets `eventTime`, `action` and a
//! `series` instead, and leaves `source`, `count` and the first and last timestamps empty.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use serde_json::{Value, json};

use crate::sandbox::objects::{Any, merged, null_when_absent, parse, to_json, view_of};
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
        let head: Any = view_of(obj);
        let m = &head.metadata;
        let ns = if m.namespace.is_empty() {
            "default"
        } else {
            m.namespace
        }
        .to_owned();
        let key = format!(
            "{}|{}|{}|{}|{}|{}|{}",
            m.uid,
            field_path.unwrap_or(""),
            kind,
            source.component,
            source.host.as_deref().unwrap_or(""),
            reason,
            message
        );
        let existing = self.seen.lock().ok().and_then(|m| m.get(&key).cloned());
        if let Some((ens, ename)) = existing
            && let Some(stored) = store.get(&ResKey::events(), &ens, &ename)
        {
            let ev = parse::<Event>(&stored).unwrap_or_default();
            let repeat = if source.instance.is_some() {
                let count = ev.series.map_or(1, |s| s.count.unwrap_or(1)) + 1;
                json!({"series": {"count": count, "lastObservedTime": micro_now()}})
            } else {
                json!({"count": ev.count.unwrap_or(1) + 1, "lastTimestamp": meta::now_time()})
            };
            if store
                .update(&ResKey::events(), merged(&stored, &repeat))
                .is_ok()
            {
                return;
            }
        }
        let involved = ObjectReference {
            kind: (!head.kind.is_empty()).then(|| head.kind.to_owned()),
            namespace: (!m.namespace.is_empty()).then(|| m.namespace.to_owned()),
            name: Some(m.name.to_owned()),
            uid: Some(m.uid.to_owned()),
            api_version: (!head.api_version.is_empty()).then(|| head.api_version.to_owned()),
            resource_version: Some(m.resource_version.to_owned()),
            field_path: field_path.map(str::to_owned),
        };
        let name = format!("{}.{:x}", m.name, self.next_stamp());
        let mut ev = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                ..ObjectMeta::default()
            },
            involved_object: involved,
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            type_: Some(kind.to_owned()),
            reporting_component: Some(source.component.clone()),
            ..Event::default()
        };
        // Go writes the unset timestamps of either recorder as `null`.
        let unset: &[&str] = match &source.instance {
            // events.k8s.io: when and what, no source or counters.
            Some(instance) => {
                ev.source = Some(EventSource::default());
                ev.event_time = Some(micro_now());
                ev.action = Some(action_of(reason).to_owned());
                ev.reporting_instance = Some(instance.clone());
                &["firstTimestamp", "lastTimestamp"]
            }
            None => {
                let now = meta::now_time();
                ev.source = Some(EventSource {
                    component: Some(source.component.clone()),
                    host: source.host.clone(),
                });
                ev.first_timestamp = Some(now.clone());
                ev.last_timestamp = Some(now);
                ev.count = Some(1);
                ev.reporting_instance = Some(source.host.clone().unwrap_or_default());
                &["eventTime"]
            }
        };
        let mut ev = to_json(&ev);
        for field in unset {
            null_when_absent(&mut ev, field);
        }
        if store.create(&ResKey::events(), ev).is_ok()
            && let Ok(mut m) = self.seen.lock()
        {
            m.insert(key, (ns, name));
        }
    }
}

/// The current time as a `metav1.MicroTime`.
fn micro_now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(store: &Store) -> Vec<Event> {
        let (events, _) = store.list(&ResKey::events(), Some("default"));
        events.iter().filter_map(parse).collect()
    }

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
        let events = events(&store);
        assert_eq!(events.len(), 2);
        let backoff = events
            .iter()
            .find(|e| e.reason.as_deref() == Some("BackOff"))
            .unwrap();
        assert_eq!(backoff.count, Some(2));
        let host = backoff.source.as_ref().and_then(|s| s.host.as_deref());
        assert_eq!(host, Some("node-1"));
        assert_eq!(backoff.involved_object.uid.as_deref(), Some("u1"));
        assert!(backoff.metadata.name.as_deref().unwrap().starts_with("p."));
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
        let (stored, _) = store.list(&ResKey::events(), Some("default"));
        let wire = stored[0].as_object().expect("an object");
        assert_eq!(wire.get("firstTimestamp"), Some(&Value::Null), "Go's null");
        let ev = &events(&store)[0];
        assert_eq!(ev.action.as_deref(), Some("Binding"));
        assert_eq!(ev.source, Some(EventSource::default()));
        assert_eq!(ev.first_timestamp, None);
        assert_eq!(ev.count, None);
        assert_eq!(ev.reporting_component.as_deref(), Some("default-scheduler"));
        assert_eq!(
            ev.reporting_instance.as_deref(),
            Some("default-scheduler-kind-control-plane")
        );
        let micro = ev.event_time.as_ref().map(|t| to_json(t).to_string());
        assert!(micro.is_some_and(|t| t.contains('.')), "microseconds");
    }
}
