//! The OpenAPI v3 surface: each kind's patch operation with its `fieldValidation` parameter
//! (how `kubectl apply` learns the server validates fields), and the kinds' schemas with the
//! upstream descriptions, from k8s-openapi (what `kubectl explain` prints).

use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::resources::{GROUPS, RESOURCES};

/// Clients cache each group document under this hash: change it whenever the documents change,
/// or a kubectl that talked to an older sandbox keeps using what it cached then.
const HASH: &str = "6B74757432303236";

/// Lists the real schemas mark for strategic merge, by (schema, property): kubectl's client-side
/// `apply` computes its patches from these, merging such lists by key rather than replacing
/// them (k8s-openapi's schemas omit the extensions).
const PATCH_MERGE_KEYS: &[(&str, &str, &str)] = &[
    ("io.k8s.api.core.v1.PodSpec", "containers", "name"),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", "name"),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", "name"),
    ("io.k8s.api.core.v1.PodSpec", "volumes", "name"),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", "name"),
    ("io.k8s.api.core.v1.PodSpec", "tolerations", ""),
    ("io.k8s.api.core.v1.Container", "ports", "containerPort"),
    ("io.k8s.api.core.v1.Container", "env", "name"),
    ("io.k8s.api.core.v1.Container", "volumeMounts", "mountPath"),
    (
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        "devicePath",
    ),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "port"),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        "uid",
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
        "",
    ),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", "type"),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", "type"),
    ("io.k8s.api.core.v1.PodStatus", "conditions", "type"),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", "type"),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", "type"),
];

fn group_paths() -> Vec<(String, &'static str, &'static str)> {
    let mut out = vec![("api/v1".to_owned(), "", "v1")];
    for (g, v) in GROUPS {
        out.push((format!("apis/{g}/{v}"), g, v));
    }
    out
}

/// `/openapi/v3`: the index of group documents.
pub fn index() -> Value {
    let mut paths = Map::new();
    for (path, _, _) in group_paths() {
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={HASH}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/<api/v1|apis/G/V>`, when served.
pub fn group_document(path: &str) -> Option<Value> {
    let (_, group, version) = group_paths().into_iter().find(|(p, _, _)| p == path)?;
    let mut paths = Map::new();
    let params = json!([
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}}
    ]);
    for info in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let url = if info.namespaced {
            format!(
                "{prefix}/namespaces/{{namespace}}/{}/{{name}}",
                info.resource
            )
        } else {
            format!("{prefix}/{}/{{name}}", info.resource)
        };
        let gvk = json!({"group": group, "version": version, "kind": info.kind});
        paths.insert(
            url,
            json!({
                "patch": {
                    "operationId": format!("patch{}", info.kind),
                    "parameters": params,
                    "responses": {"200": {"description": "OK"}},
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk
                }
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.2"},
        "paths": paths,
        "components": {"schemas": schemas(group, version)}
    }))
}

/// Every schema the kinds of one group-version need, each kind's own marked with its
/// `x-kubernetes-group-version-kind` (how `kubectl explain` finds it).
fn schemas(group: &str, version: &str) -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let kinds: Vec<(String, &str)> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .filter_map(|r| Some((kind_schema(&mut generator, r.kind)?, r.kind)))
        .collect();
    let mut schemas = generator.take_definitions(true);
    for (name, kind) in kinds {
        if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
            // k8s-openapi requires what its Rust types cannot leave out; the API does not
            // (`kubectl explain pods` shows no `-required-` on metadata or spec).
            if let Some(Value::Array(required)) = schema.get_mut("required") {
                required.retain(|f| f != "metadata" && f != "spec");
                if required.is_empty() {
                    schema.remove("required");
                }
            }
            schema.insert(
                "x-kubernetes-group-version-kind".to_owned(),
                json!([{"group": group, "kind": kind, "version": version}]),
            );
        }
    }
    for (schema, property, key) in PATCH_MERGE_KEYS {
        if let Some(Value::Object(field)) = schemas
            .get_mut(*schema)
            .and_then(|s| s.pointer_mut(&format!("/properties/{property}")))
        {
            field.insert("x-kubernetes-patch-strategy".to_owned(), json!("merge"));
            if !key.is_empty() {
                field.insert("x-kubernetes-patch-merge-key".to_owned(), json!(key));
            }
        }
    }
    schemas
}

/// Adds `kind`'s schema (and those it refers to) to `generator`; its name, `None` for a kind
/// without one.
fn kind_schema(generator: &mut SchemaGenerator, kind: &str) -> Option<String> {
    fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
        generator.subschema_for::<T>();
        T::schema_name().into_owned()
    }
    Some(match kind {
        "Namespace" => add::<core::Namespace>(generator),
        "Node" => add::<core::Node>(generator),
        "Pod" => add::<core::Pod>(generator),
        "Service" => add::<core::Service>(generator),
        "Endpoints" => add::<core::Endpoints>(generator),
        "Event" => add::<core::Event>(generator),
        "ConfigMap" => add::<core::ConfigMap>(generator),
        "Deployment" => add::<apps::Deployment>(generator),
        "ReplicaSet" => add::<apps::ReplicaSet>(generator),
        "EndpointSlice" => add::<discovery::EndpointSlice>(generator),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    /// `/openapi/v3` as a client reads it.
    #[derive(Deserialize)]
    struct Index {
        paths: BTreeMap<String, IndexEntry>,
    }

    #[derive(Deserialize)]
    struct IndexEntry {
        #[serde(rename = "serverRelativeURL")]
        server_relative_url: String,
    }

    /// A group document as `kubectl explain` reads it.
    #[derive(Deserialize)]
    struct Document {
        paths: BTreeMap<String, BTreeMap<String, Operation>>,
        components: Components,
    }

    #[derive(Deserialize)]
    struct Operation {
        #[serde(rename = "x-kubernetes-group-version-kind")]
        gvk: Option<Gvk>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Gvk {
        group: String,
        kind: String,
        version: String,
    }

    #[derive(Deserialize)]
    struct Components {
        schemas: BTreeMap<String, Schema>,
    }

    #[derive(Deserialize)]
    struct Schema {
        #[serde(rename = "x-kubernetes-group-version-kind", default)]
        gvk: Vec<Gvk>,
        #[serde(default)]
        properties: BTreeMap<String, Property>,
        required: Option<Vec<String>>,
    }

    #[derive(Deserialize)]
    struct Property {
        #[serde(rename = "type")]
        type_: Option<String>,
        description: Option<String>,
        #[serde(rename = "allOf", default)]
        all_of: Vec<Reference>,
        #[serde(rename = "x-kubernetes-patch-merge-key")]
        merge_key: Option<String>,
    }

    #[derive(Deserialize)]
    struct Reference {
        #[serde(rename = "$ref")]
        target: String,
    }

    fn document(path: &str) -> (Value, Document) {
        let doc = group_document(path).expect("a served document");
        let typed = Document::deserialize(&doc).expect("an OpenAPI document");
        (doc, typed)
    }

    #[test]
    fn index_points_at_group_documents() {
        let idx = Index::deserialize(&index()).expect("an index");
        let apps = idx.paths.get("apis/apps/v1").expect("apps/v1 listed");
        assert!(
            apps.server_relative_url
                .starts_with("/openapi/v3/apis/apps/v1?hash=")
        );
        let (_, doc) = document("apis/apps/v1");
        let op = doc
            .paths
            .get("/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
            .and_then(|ops| ops.get("patch"))
            .and_then(|op| op.gvk.as_ref());
        assert_eq!(op.map(|gvk| gvk.kind.as_str()), Some("Deployment"));
        assert!(group_document("apis/batch/v1").is_none());
    }

    #[test]
    fn kinds_have_schemas_that_kubectl_explain_can_find_and_follow() {
        let (json, doc) = document("apis/apps/v1");
        let schemas = &doc.components.schemas;
        let deployment = schemas
            .get("io.k8s.api.apps.v1.Deployment")
            .expect("a Deployment schema");
        let apps = Gvk {
            group: "apps".to_owned(),
            kind: "Deployment".to_owned(),
            version: "v1".to_owned(),
        };
        assert_eq!(deployment.gvk, vec![apps]);
        // Every reference resolves inside the document.
        let text = json.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap_or_default();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
        let spec = deployment
            .properties
            .get("spec")
            .and_then(|p| p.all_of.first())
            .and_then(|r| r.target.strip_prefix("#/components/schemas/"))
            .expect("spec refers to its schema");
        let replicas = schemas
            .get(spec)
            .and_then(|s| s.properties.get("replicas"))
            .expect("replicas");
        assert_eq!(replicas.type_.as_deref(), Some("integer"));
        assert!(
            replicas
                .description
                .as_deref()
                .is_some_and(|d| d.starts_with("Number of desired pods"))
        );
        assert!(deployment.required.is_none());
        let containers = schemas
            .get("io.k8s.api.core.v1.PodSpec")
            .and_then(|s| s.properties.get("containers"))
            .and_then(|c| c.merge_key.as_deref());
        assert_eq!(containers, Some("name"));
        let (_, core) = document("api/v1");
        let pod = core.components.schemas.get("io.k8s.api.core.v1.Pod");
        let kind = pod.and_then(|p| p.gvk.first()).map(|g| g.kind.as_str());
        assert_eq!(kind, Some("Pod"));
    }
}
