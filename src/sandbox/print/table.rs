//! Server-side `meta.k8s.io/v1` Tables, as kubectl asks for them to print `get`.

use std::borrow::Borrow;
use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Value, json};

use super::printers;
use crate::sandbox::registry::handlers::Typed;
use crate::sandbox::registry::resources::ResourceInfo;
use crate::sandbox::store::meta::Meta;

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// A `PartialObjectMetadata` (the default).
    Metadata,
    /// The full object.
    Object,
}

impl IncludeObject {
    /// Parses the query value; unknown values fall back to the default.
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// Whether the Accept header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table") && first.contains("g=meta.k8s.io"))
}

/// One column: (name, type, priority, description).
pub type Column = (&'static str, &'static str, u8, &'static str);

/// A `meta.k8s.io/v1` Table, serialised straight from the store's objects.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Table<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: Value,
    /// `null` in every watch event after the first, as kube-apiserver sends them.
    column_definitions: Option<Vec<Value>>,
    rows: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Row<'a> {
    cells: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<RowObject<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum RowObject<'a> {
    Metadata(PartialObjectMetadata<'a>),
    Object(Typed<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartialObjectMetadata<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: &'a Value,
}

static EMPTY_METADATA: LazyLock<Value> = LazyLock::new(|| json!({}));

/// Builds a Table over `objects` of resource type `info`.
pub fn table<'a, T: Borrow<Value>>(
    info: &'static ResourceInfo,
    objects: &'a [T],
    include: IncludeObject,
    list_meta: Value,
) -> Table<'a> {
    let resource = info.resource;
    let columns = super::columns::columns(resource);
    let defs: Vec<Value> = columns
        .iter()
        .map(|(name, ty, priority, description)| {
            json!({
                "name": name,
                "type": ty,
                "format": if *name == "Name" { "name" } else { "" },
                "description": description,
                "priority": priority,
            })
        })
        .collect();
    let now = jiff::Timestamp::now();
    let rows = objects
        .iter()
        .map(|obj| {
            let obj: &Value = obj.borrow();
            let object = match include {
                IncludeObject::None => None,
                IncludeObject::Metadata => Some(RowObject::Metadata(PartialObjectMetadata {
                    kind: "PartialObjectMetadata",
                    api_version: "meta.k8s.io/v1",
                    metadata: obj.get("metadata").unwrap_or(&EMPTY_METADATA),
                })),
                IncludeObject::Object => Some(RowObject::Object(Typed { info, object: obj })),
            };
            Row {
                cells: printers::cells(resource, obj, now),
                object,
            }
        })
        .collect();
    Table {
        kind: "Table",
        api_version: "meta.k8s.io/v1",
        metadata: list_meta,
        column_definitions: Some(defs),
        rows,
    }
}

/// The Table a watch sends for one changed object: one row, metadata with the object's
/// resourceVersion, and the column definitions in the watch's first event only (`null` after).
pub fn watch_event_table<'a>(
    info: &'static ResourceInfo,
    object: &'a Value,
    include: IncludeObject,
    first: bool,
) -> Table<'a> {
    let rv = Meta::of(object).resource_version;
    let mut one = table(
        info,
        std::slice::from_ref(object),
        include,
        json!({"resourceVersion": rv}),
    );
    if !first {
        one.column_definitions = None;
    }
    one
}

/// Go's `duration.HumanDuration`, as kubectl prints ages.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Age of a timestamp, `<unknown>` when absent (or unparsable).
pub fn age(timestamp: Option<jiff::Timestamp>, now: jiff::Timestamp) -> String {
    match timestamp {
        Some(t) => human_duration(now.as_second() - t.as_second()),
        None => "<unknown>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_go() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(20 * 3600), "20h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
        assert_eq!(human_duration(30 * 86400), "30d");
    }

    #[test]
    fn table_accept_detection() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
    }

    /// A Table as a client reads it.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ReadTable {
        kind: String,
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta,
        column_definitions: Option<Vec<serde::de::IgnoredAny>>,
        rows: Vec<ReadRow>,
    }

    #[derive(serde::Deserialize)]
    struct ReadRow {
        cells: Vec<Value>,
        object: Option<ReadObject>,
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ReadObject {
        kind: String,
        api_version: String,
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        spec: Option<k8s_openapi::api::core::v1::PodSpec>,
    }

    #[test]
    fn rows_carry_what_include_object_asks_for() {
        let info = crate::sandbox::registry::resources::find("", "v1", "pods").expect("pods");
        let pod = std::sync::Arc::new(json!({
            "metadata": {"name": "p", "namespace": "default", "resourceVersion": "7"},
            "spec": {"nodeName": "n", "containers": []},
            "status": {"phase": "Running"},
        }));
        let objects = [pod];
        let row = |include| {
            let table = table(info, &objects, include, json!({"resourceVersion": "9"}));
            let text = serde_json::to_string(&table).expect("serialises");
            let read: ReadTable = serde_json::from_str(&text).expect("a Table");
            assert_eq!(read.kind, "Table");
            assert_eq!(read.metadata.resource_version.as_deref(), Some("9"));
            assert!(read.column_definitions.is_some_and(|c| !c.is_empty()));
            read.rows.into_iter().next().expect("one row")
        };
        let none = row(IncludeObject::None);
        assert_eq!(none.cells.first(), Some(&json!("p")));
        assert!(none.object.is_none());
        let meta = row(IncludeObject::Metadata).object.expect("metadata");
        assert_eq!(meta.kind, "PartialObjectMetadata");
        assert_eq!(meta.metadata.resource_version.as_deref(), Some("7"));
        assert!(meta.spec.is_none());
        let full = row(IncludeObject::Object).object.expect("the object");
        assert_eq!(
            (full.kind.as_str(), full.api_version.as_str()),
            ("Pod", "v1")
        );
        let node = full.spec.and_then(|s| s.node_name);
        assert_eq!(node.as_deref(), Some("n"));
    }
}
