//! Resolving a lesson's `Target` (apiVersion/kind, name or selector, namespace) against a world.

use serde_json::Value;

use crate::check::world::{World, name_of};
use crate::k8s::selector::{LabelSelector, SelectorError};
use crate::lesson::model::Target;

/// The objects a target designates, or why the target itself is unusable.
pub(crate) fn select<'a>(
    world: &'a World,
    target: &'a Target,
    default_namespace: &'a str,
) -> Result<Vec<&'a Value>, SelectorError> {
    let namespace = target.namespace.as_deref().unwrap_or(default_namespace);
    let selector = target
        .selector
        .as_deref()
        .map(LabelSelector::parse)
        .transpose()?;
    Ok(world
        .in_namespace(&target.api_version, &target.kind, namespace)
        .filter(|object| {
            target
                .name
                .as_deref()
                .is_none_or(|name| name_of(object) == name)
        })
        .filter(|object| {
            selector
                .as_ref()
                .is_none_or(|s| s.matches_json(object.pointer("/metadata/labels")))
        })
        .collect())
}

/// Words naming the target for summaries: `Pod named web`, `Pods matching app=web`.
pub(crate) fn describe(target: &Target, default_namespace: &str) -> String {
    let namespace = target.namespace.as_deref().unwrap_or(default_namespace);
    let what = match (&target.name, &target.selector) {
        (Some(name), Some(selector)) => {
            format!("{} named {name} matching {selector}", target.kind)
        }
        (Some(name), None) => format!("{} named {name}", target.kind),
        (None, Some(selector)) => format!("{} matching {selector}", target.kind),
        (None, None) => format!("{} at all", target.kind),
    };
    format!("{what} in namespace {namespace}")
}

/// Whether the object is being deleted (it still exists until its finalizers and grace end).
pub(crate) fn is_terminating(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// Orders objects oldest first (creation time, then name), the order captures pick from.
pub(crate) fn oldest_first(objects: &mut [&Value]) {
    objects.sort_by(|a, b| {
        let created = |o: &Value| {
            o.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        };
        // Objects without a timestamp sort last: they are the least likely to be the "first".
        let key = |o: &Value| (created(o).is_none(), created(o));
        key(a).cmp(&key(b)).then_with(|| name_of(a).cmp(name_of(b)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(name: Option<&str>, selector: Option<&str>) -> Target {
        Target {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: name.map(Into::into),
            selector: selector.map(Into::into),
            namespace: None,
        }
    }

    fn pod(name: &str, ns: &str, app: &str, created: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": name, "namespace": ns, "labels": {"app": app}, "creationTimestamp": created}})
    }

    #[test]
    fn targets_select_by_name_selector_and_namespace() {
        let world = World::from_objects([
            pod("web-1", "default", "web", "2024-01-01T00:00:02Z"),
            pod("web-2", "default", "web", "2024-01-01T00:00:01Z"),
            pod("db-1", "default", "db", "2024-01-01T00:00:00Z"),
            pod("web-3", "other", "web", "2024-01-01T00:00:00Z"),
        ])
        .unwrap();
        let names = |t: &Target| {
            let mut found = select(&world, t, "default").unwrap();
            oldest_first(&mut found);
            found
                .iter()
                .map(|o| name_of(o).to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&target(None, Some("app=web"))), ["web-2", "web-1"]);
        assert_eq!(names(&target(Some("db-1"), None)), ["db-1"]);
        assert_eq!(
            names(&target(Some("db-1"), Some("app=web"))),
            Vec::<String>::new()
        );
        let mut other = target(None, Some("app=web"));
        other.namespace = Some("other".into());
        assert_eq!(names(&other), ["web-3"]);
        assert_eq!(names(&target(None, None)).len(), 3);
    }

    #[test]
    fn a_bad_selector_is_an_error() {
        let world = World::new();
        assert!(select(&world, &target(None, Some("app in (")), "default").is_err());
    }

    #[test]
    fn descriptions_name_the_target() {
        assert_eq!(
            describe(&target(None, Some("app=web")), "default"),
            "Pod matching app=web in namespace default"
        );
        assert_eq!(
            describe(&target(Some("web"), None), "ns"),
            "Pod named web in namespace ns"
        );
    }
}
