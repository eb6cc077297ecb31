//! Helpers the controllers share: JSON accessors, label selectors, pod readiness.

use serde_json::{Map, Value};

use crate::sandbox::store::meta;

/// An integer at a JSON pointer.
pub fn int(obj: &Value, ptr: &str) -> Option<i64> {
    obj.pointer(ptr).and_then(Value::as_i64)
}

/// A string at a JSON pointer, or "".
pub fn str_at<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// `spec.replicas`, defaulting to 1 like the API server.
pub fn spec_replicas(obj: &Value) -> i64 {
    int(obj, "/spec/replicas").unwrap_or(1)
}

/// Whether a `metav1.LabelSelector` (JSON) selects a labels map. An empty selector selects
/// everything, a missing one nothing.
pub fn selector_matches(selector: Option<&Value>, labels: Option<&Value>) -> bool {
    let Some(sel) = selector.filter(|s| s.is_object()) else {
        return false;
    };
    let empty = Map::new();
    let labels = labels.and_then(Value::as_object).unwrap_or(&empty);
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            if get(k) != v.as_str() {
                return false;
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = str_at(e, "/key");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let ok = match str_at(e, "/operator") {
                "In" => get(key).is_some_and(|v| values.contains(&v)),
                "NotIn" => get(key).is_none_or(|v| !values.contains(&v)),
                "Exists" => get(key).is_some(),
                "DoesNotExist" => get(key).is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// Whether a plain `map[string]string` selector (a Service's) selects a labels map.
pub fn map_selector_matches(selector: &Map<String, Value>, labels: Option<&Value>) -> bool {
    let labels = labels.and_then(Value::as_object);
    selector.iter().all(|(k, v)| {
        labels
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
            .is_some_and(|have| Some(have) == v.as_str())
    })
}

/// A pod condition's status (`True`, `False`) by type.
pub fn pod_condition<'a>(pod: &'a Value, kind: &str) -> Option<&'a Value> {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

/// Whether the pod's Ready condition is True.
pub fn pod_ready(pod: &Value) -> bool {
    pod_condition(pod, "Ready").is_some_and(|c| str_at(c, "/status") == "True")
}

/// Whether the pod has been Ready for at least `min_ready_seconds`.
pub fn pod_available(pod: &Value, min_ready_seconds: i64, now: jiff::Timestamp) -> bool {
    if !pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    pod_condition(pod, "Ready")
        .and_then(|c| c.get("lastTransitionTime"))
        .and_then(Value::as_str)
        .and_then(meta::parse_time)
        .is_some_and(|t| now.as_second() - t.as_second() >= min_ready_seconds)
}

/// Whether a pod still counts: not terminating and not finished.
pub fn pod_active(pod: &Value) -> bool {
    !meta::is_terminating(pod) && !matches!(str_at(pod, "/status/phase"), "Succeeded" | "Failed")
}

/// Whether `obj` is controlled by the object with uid `owner_uid`.
pub fn controlled_by(obj: &Value, owner_uid: &str) -> bool {
    meta::controller_uid(obj) == Some(owner_uid)
}

/// Creation time then name, for "oldest first" orderings.
pub fn creation_key(obj: &Value) -> (String, String) {
    (
        str_at(obj, "/metadata/creationTimestamp").to_owned(),
        meta::name(obj).to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors_match_like_the_api() {
        let labels = json!({"app": "web", "tier": "front"});
        let sel = json!({"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]},
                                 {"key": "x", "operator": "DoesNotExist"}]});
        assert!(selector_matches(Some(&sel), Some(&labels)));
        let other = json!({"matchLabels": {"app": "db"}});
        assert!(!selector_matches(Some(&other), Some(&labels)));
        assert!(selector_matches(Some(&json!({})), Some(&labels)));
        assert!(!selector_matches(None, Some(&labels)));
        let svc = json!({"app": "web"});
        assert!(map_selector_matches(
            svc.as_object().unwrap(),
            Some(&labels)
        ));
    }
}
