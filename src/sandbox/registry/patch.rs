//! PATCH bodies: JSON patch, JSON merge patch, strategic merge patch and server-side apply.

use serde_json::{Map, Value};

use super::status::ApiError;

/// The patch flavours a client can send, by Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchKind {
    /// The kind for a Content-Type, `None` when unsupported.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type.split(';').next().unwrap_or_default().trim() {
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Some(PatchKind::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchKind::Apply)
            }
            _ => None,
        }
    }
}

/// Parses a patch body (JSON, or YAML for apply).
pub fn parse_body(kind: PatchKind, body: &[u8]) -> Result<Value, ApiError> {
    if kind == PatchKind::Apply {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_request("error decoding YAML: invalid UTF-8"))?;
        return serde_yaml::from_str::<Value>(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
}

/// Applies `patch` of `kind` to `target`, returning the patched object.
pub fn apply_patch(kind: PatchKind, target: &Value, patch: &Value) -> Result<Value, ApiError> {
    match kind {
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| {
                ApiError::bad_request(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            })?;
            let mut doc = target.clone();
            json_patch::patch(&mut doc, &ops).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
            Ok(doc)
        }
        PatchKind::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "json: cannot unmarshal patch into an object",
                ));
            }
            let mut doc = target.clone();
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
        PatchKind::Strategic | PatchKind::Apply => {
            let Some(p) = patch.as_object() else {
                return Err(ApiError::bad_request(
                    "json: cannot unmarshal patch into an object",
                ));
            };
            let mut doc = target.clone();
            if let Some(obj) = doc.as_object_mut() {
                merge_map(obj, p, kind == PatchKind::Apply);
            }
            Ok(doc)
        }
    }
}

/// The merge key of a list field, when it merges by key instead of being replaced.
fn merge_key(field: &str, sample: Option<&Value>) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => "name",
        "volumeMounts" => "mountPath",
        "conditions" | "addresses" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "ports" => {
            if sample.is_some_and(|s| s.get("containerPort").is_some()) {
                "containerPort"
            } else {
                "port"
            }
        }
        _ => return None,
    })
}

fn merge_map(target: &mut Map<String, Value>, patch: &Map<String, Value>, apply: bool) {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        target.clear();
        for (k, v) in patch.iter().filter(|(k, _)| !k.starts_with('$')) {
            target.insert(k.clone(), strip_directives(v));
        }
        return;
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(remove)) =
                (target.get_mut(field), value.as_array())
            {
                list.retain(|item| !remove.contains(item));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            if !apply {
                target.remove(key);
            }
            continue;
        }
        match value {
            Value::Object(pm) => {
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    target.remove(key);
                    continue;
                }
                match target.get_mut(key) {
                    Some(Value::Object(tm)) => merge_map(tm, pm, apply),
                    _ => {
                        let mut fresh = Map::new();
                        merge_map(&mut fresh, pm, apply);
                        target.insert(key.clone(), Value::Object(fresh));
                    }
                }
            }
            Value::Array(pl) => {
                let merged = merge_list(key, target.get(key), pl, apply);
                target.insert(key.clone(), merged);
            }
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
    if let Some(retain) = patch.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        target.retain(|k, _| keep.contains(&k.as_str()));
    }
    // `$setElementOrder` may name several fields.
    for (k, v) in patch {
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            reorder(target, field, v);
        }
    }
}

fn reorder(target: &mut Map<String, Value>, field: &str, order: &Value) {
    let (Some(Value::Array(list)), Some(order)) = (target.get_mut(field), order.as_array()) else {
        return;
    };
    let key = merge_key(field, list.first().or(order.first()));
    let position = |item: &Value| -> usize {
        order
            .iter()
            .position(|o| match key {
                Some(k) if o.is_object() => o.get(k) == item.get(k),
                _ => o == item,
            })
            .unwrap_or(usize::MAX)
    };
    list.sort_by_key(|item| position(item));
}

fn merge_list(field: &str, target: Option<&Value>, patch: &[Value], apply: bool) -> Value {
    let replace = patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"));
    let key = merge_key(field, patch.first());
    let current = target.and_then(Value::as_array);
    let (Some(key), Some(current), false) = (key, current, replace) else {
        return Value::Array(
            patch
                .iter()
                .filter(|p| {
                    p.get("$patch").is_none()
                        || !replace
                        || p.as_object().is_some_and(|m| m.len() > 1)
                })
                .map(strip_directives)
                .collect(),
        );
    };
    let mut out: Vec<Value> = current.clone();
    for item in patch {
        let Some(pm) = item.as_object() else { continue };
        let id = pm.get(key);
        let existing = out.iter().position(|o| id.is_some() && o.get(key) == id);
        if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = existing {
                out.remove(i);
            }
            continue;
        }
        match existing
            .and_then(|i| out.get_mut(i))
            .and_then(Value::as_object_mut)
        {
            Some(tm) => merge_map(tm, pm, apply),
            None => {
                let mut fresh = Map::new();
                merge_map(&mut fresh, pm, apply);
                out.push(Value::Object(fresh));
            }
        }
    }
    Value::Array(out)
}

/// Removes `$`-directives from a value that is stored as given.
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{PodTemplateSpec, ServicePort};
    use serde_json::json;

    use super::*;
    use crate::sandbox::objects::{Deployment, Scaled, Service, parse, view_of};
    use crate::sandbox::store::meta::Meta;

    fn labels(obj: &Value) -> Vec<(&str, &str)> {
        Meta::of(obj).labels.into_iter().collect()
    }

    #[test]
    fn set_image_merges_containers_by_name() {
        let target = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "v1", "imagePullPolicy": "IfNotPresent"},
            {"name": "side", "image": "s1"}]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
            "containers": [{"image": "v2", "name": "app"}]}}}});
        let out = apply_patch(PatchKind::Strategic, &target, &patch).expect("patched");
        let d: Deployment = view_of(&out);
        let template: PodTemplateSpec = d
            .spec
            .template
            .as_ref()
            .and_then(parse)
            .expect("a template");
        let containers = template.spec.expect("a spec").containers;
        let got: Vec<(Option<&str>, Option<&str>)> = containers
            .iter()
            .map(|c| (c.image.as_deref(), c.image_pull_policy.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![(Some("v2"), Some("IfNotPresent")), (Some("s1"), None)]
        );
        assert!(!out.to_string().contains("$setElementOrder"), "{out}");
    }

    #[test]
    fn directives_delete_and_replace() {
        let target = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"ports": [{"port": 80}, {"port": 81}]}});
        let patch = json!({"metadata": {"labels": {"a": null}}, "spec": {"ports": [{"port": 81, "$patch": "delete"}]}});
        let out = apply_patch(PatchKind::Strategic, &target, &patch).expect("patched");
        assert_eq!(labels(&out), vec![("b", "2")]);
        let ports = view_of::<Service>(&out).spec.ports;
        let port = ServicePort {
            port: 80,
            ..ServicePort::default()
        };
        assert_eq!(ports, Some(vec![port]));
        let replaced = apply_patch(
            PatchKind::Strategic,
            &target,
            &json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
        )
        .expect("patched");
        assert_eq!(labels(&replaced), vec![("c", "3")]);
    }

    #[test]
    fn json_and_merge_patches() {
        let target = json!({"spec": {"replicas": 1}});
        let replicas = |obj: &Value| view_of::<Scaled>(obj).spec.replicas;
        let out = apply_patch(
            PatchKind::Json,
            &target,
            &json!([{"op": "replace", "path": "/spec/replicas", "value": 3}]),
        )
        .expect("json patch");
        assert_eq!(replicas(&out), Some(3));
        let out = apply_patch(PatchKind::Merge, &target, &json!({"spec": {"replicas": 4}}))
            .expect("merge");
        assert_eq!(replicas(&out), Some(4));
        assert!(apply_patch(PatchKind::Json, &target, &json!({"op": 1})).is_err());
        assert!(
            apply_patch(
                PatchKind::Json,
                &target,
                &json!([{"op": "remove", "path": "/nope"}])
            )
            .is_err()
        );
    }
}
