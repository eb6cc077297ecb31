//! A minimal OpenAPI v3 surface: enough for `kubectl apply` (client- and server-side) to find
//! each kind's patch operation and its `fieldValidation` parameter.

use serde_json::{Map, Value, json};

use super::resources::{GROUPS, RESOURCES};

const HASH: &str = "6B6B7475746F7231";

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
        "info": {"title": "Kubernetes", "version": "v1.37.1"},
        "paths": paths,
        "components": {"schemas": {}}
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_points_at_group_documents() {
        let idx = index();
        assert!(
            idx["paths"]["apis/apps/v1"]["serverRelativeURL"]
                .as_str()
                .is_some_and(|u| u.starts_with("/openapi/v3/apis/apps/v1?hash="))
        );
        let doc = group_document("apis/apps/v1").expect("apps doc");
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(group_document("apis/batch/v1").is_none());
    }
}
