//! CRUD handlers: get, list, create, update, patch, delete and deletecollection.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::sandbox::objects::{Any, set_status_json, status_json, view_of, with_status};
use crate::sandbox::store::meta::{self, Meta};
use crate::sandbox::store::{ResKey, StoreError};

use super::delete::{delete, delete_collection};
use super::list::list;
use super::patch::{self, PatchKind};
use super::query::Query;
use super::resources::ResourceInfo;
use super::status::ApiError;
use super::strict;
use super::{admission, subresources, watch};
use crate::sandbox::http::{
    ApiResult, ApiState, RequestLabel, ResourcePath, header_or, json_response, protobuf, read_body,
};
use crate::sandbox::print::table::{self, IncludeObject};

/// Routes a resource request to its handler.
pub async fn dispatch(
    state: &Arc<ApiState>,
    req: Request<Body>,
    target: ResourcePath,
    label: &mut RequestLabel,
    pretty: bool,
) -> ApiResult {
    let method = req.method().clone();
    let query = Query::parse(req.uri().query());
    label.resource = match &target.subresource {
        Some(sub) => format!("{}/{sub}", target.info.resource),
        None => target.info.resource.to_owned(),
    };
    let accept = header_or(&req, header::ACCEPT, "");
    let verb = |v: &str, label: &mut RequestLabel| label.verb = v.to_owned();
    match (
        target.name.is_some(),
        target.subresource.as_deref(),
        &method,
    ) {
        (false, None, &Method::GET) if query.flag("watch") => {
            verb("watch", label);
            watch::serve(state, &target, &query, &accept).await
        }
        (false, None, &Method::GET) => {
            verb("list", label);
            list(state, &target, &query, &accept, pretty)
        }
        (false, None, &Method::POST) => {
            verb("create", label);
            create(state, req, &target, &query, pretty).await
        }
        (false, None, &Method::DELETE) => {
            verb("deletecollection", label);
            delete_collection(state, &target, &query, pretty)
        }
        (true, None, &Method::GET) if query.flag("watch") => {
            verb("watch", label);
            watch::serve(state, &target, &query, &accept).await
        }
        (true, None | Some("status"), &Method::GET) => {
            verb("get", label);
            get(state, &target, &query, &accept, pretty)
        }
        (true, None | Some("status"), &Method::PUT) => {
            verb("update", label);
            update(state, req, &target, &query, pretty).await
        }
        (true, None | Some("status"), &Method::PATCH) => {
            verb("patch", label);
            patch(state, req, &target, &query, pretty).await
        }
        (true, None, &Method::DELETE) => {
            verb("delete", label);
            delete(state, req, &target, &query, pretty).await
        }
        (true, Some("scale"), m) => {
            verb(
                if *m == Method::GET {
                    "get"
                } else if *m == Method::PUT {
                    "update"
                } else {
                    "patch"
                },
                label,
            );
            subresources::scale(state, req, &target, &query, pretty).await
        }
        (true, Some("log"), &Method::GET) => {
            verb("get", label);
            subresources::logs(state, &target, &query).await
        }
        (true, Some("exec"), &Method::GET | &Method::POST) => {
            verb("create", label);
            subresources::exec(state, req, &target, &query).await
        }
        (true, Some("proxy"), _) => {
            verb(&method.as_str().to_lowercase(), label);
            subresources::proxy(state, req, &target).await
        }
        _ => {
            verb(&method.as_str().to_lowercase(), label);
            Err(ApiError::method_not_allowed())
        }
    }
}

/// Maps a store failure to the Status the real server gives.
pub fn store_error(err: StoreError) -> ApiError {
    match &err {
        StoreError::NotFound {
            group,
            resource,
            name,
        } => ApiError::not_found(group, resource, name),
        StoreError::AlreadyExists {
            group,
            resource,
            name,
        } => ApiError::already_exists(group, resource, name),
        StoreError::Conflict {
            group,
            resource,
            name,
            ..
        } => {
            let mut e = ApiError::conflict(group, resource, name);
            e.message = err.to_string();
            e
        }
        StoreError::Expired { .. } => ApiError::expired(err.to_string()),
        StoreError::Invalid {
            group,
            resource,
            name,
            ..
        } => {
            let mut e = ApiError::new(422, "Invalid", err.to_string());
            // Unlike the other details, these name the core group ("") too.
            let mut details = super::status::details(group, resource, name);
            details.group = Some(group.clone());
            e.details = Some(Box::new(details));
            e
        }
    }
}

/// A stored object as the API serves it, serialised without copying: `kind` and `apiVersion`
/// of its resource first (the store may omit them), then its other fields.
#[derive(Clone, Copy)]
pub struct Typed<'a> {
    /// The object's resource type.
    pub info: &'static ResourceInfo,
    /// The stored object.
    pub object: &'a Value,
}

impl<'a> Typed<'a> {
    /// `object` served as a `target.info` resource.
    pub fn new(target: &ResourcePath, object: &'a Value) -> Self {
        Typed {
            info: target.info,
            object,
        }
    }
}

impl serde::Serialize for Typed<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(fields) = self.object.as_object() else {
            return self.object.serialize(serializer);
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("kind", self.info.kind)?;
        map.serialize_entry("apiVersion", &self.info.api_version())?;
        for (k, v) in fields {
            if k != "kind" && k != "apiVersion" {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// Sets `apiVersion` and `kind` (lists and the store may omit them).
pub fn with_type(target: &ResourcePath, mut obj: Value) -> Value {
    if let Some(m) = obj.as_object_mut() {
        m.insert("apiVersion".to_owned(), json!(target.info.api_version()));
        m.insert("kind".to_owned(), json!(target.info.kind));
    }
    obj
}

/// The stored object the request names, 404 when absent.
pub fn current(state: &ApiState, target: &ResourcePath) -> Result<Value, ApiError> {
    let name = target.name.as_deref().unwrap_or_default();
    state
        .store
        .get(&target.key(), target.ns(), name)
        .map(|o| with_type(target, o))
        .ok_or_else(|| ApiError::not_found(target.info.group, target.info.resource, name))
}

fn get(
    state: &ApiState,
    target: &ResourcePath,
    query: &Query,
    accept: &str,
    pretty: bool,
) -> ApiResult {
    let obj = current(state, target)?;
    if table::wants_table(accept) {
        let include = IncludeObject::parse(query.get("includeObject"));
        let meta = json!({"resourceVersion": Meta::of(&obj).resource_version});
        return Ok(json_response(
            StatusCode::OK,
            &table::table(target.info, &[obj], include, meta),
            pretty,
        ));
    }
    Ok(json_response(StatusCode::OK, &obj, pretty))
}

/// The request's Content-Type, `application/json` when absent.
pub fn content_type(req: &Request<Body>) -> String {
    header_or(req, header::CONTENT_TYPE, "application/json")
}

/// Decodes a JSON, YAML or protobuf object body.
pub fn decode_object(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    let value = match mime {
        "application/json" | "" | "*/*" => serde_json::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!("the server could not decode the request body: {e}"))
        })?,
        "application/yaml" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
            serde_yaml::from_str::<Value>(text)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
        }
        protobuf::CONTENT_TYPE => protobuf::decode(body)?,
        other => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format ({other}) - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
                ),
            ));
        }
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    Ok(value)
}

/// Checks `apiVersion`/`kind` against the endpoint, filling them when absent.
fn check_type(target: &ResourcePath, obj: &mut Value) -> Result<(), ApiError> {
    let want_version = target.info.api_version();
    let head: Any = view_of(obj);
    for (given, want) in [
        (head.api_version, want_version.as_str()),
        (head.kind, target.info.kind),
    ] {
        if !given.is_empty() && given != want {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({want_version}) or kind {given:?} is not {}",
                head.api_version, target.info.kind
            )));
        }
    }
    *obj = with_type(target, std::mem::take(obj));
    // A metadata that is missing or not an object becomes an empty one.
    meta::metadata_mut(obj);
    Ok(())
}

/// Sets or checks the object's namespace against the path's, and that it exists.
fn place(state: &ApiState, target: &ResourcePath, obj: &mut Value) -> Result<(), ApiError> {
    if !target.info.namespaced {
        meta::metadata_mut(obj).remove("namespace");
        return Ok(());
    }
    let Some(ns) = target.namespace.as_deref() else {
        return Err(ApiError::bad_request(
            "a namespace is required to create or change this object",
        ));
    };
    match Meta::of(obj).namespace {
        "" => {
            meta::metadata_mut(obj).insert("namespace".to_owned(), json!(ns));
        }
        given if given == ns => {}
        _ => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    if state.store.get(&ResKey::namespaces(), "", ns).is_none() {
        return Err(ApiError::not_found("", "namespaces", ns));
    }
    Ok(())
}

async fn create(
    state: &ApiState,
    req: Request<Body>,
    target: &ResourcePath,
    query: &Query,
    pretty: bool,
) -> ApiResult {
    let ct = content_type(&req);
    let body = read_body(req.into_body()).await?;
    let mut obj = decode_object(&ct, &body)?;
    check_type(target, &mut obj)?;
    place(state, target, &mut obj)?;
    let m = meta::metadata_mut(&mut obj);
    for field in SERVER_FIELDS {
        m.remove(field);
    }
    admit_and_create(state, target, query, obj, pretty)
}

/// The metadata a client may not set on a new object: the server's.
const SERVER_FIELDS: [&str; 6] = [
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "generation",
    "managedFields",
];

/// The object to store when `new` replaces `old` through the main resource or `/status`.
fn merge_for_write(target: &ResourcePath, old: &Value, mut new: Value) -> Value {
    let status_sub = target.subresource.as_deref() == Some("status");
    if status_sub {
        let status = status_json(&new).unwrap_or_else(|| json!({}));
        let mut out = with_status(old, &status);
        let rv = Meta::of(&new).resource_version;
        if !rv.is_empty() {
            meta::metadata_mut(&mut out).insert("resourceVersion".to_owned(), json!(rv));
        }
        return out;
    }
    if matches!(
        target.info.resource,
        "deployments" | "replicasets" | "pods" | "services" | "namespaces"
    ) {
        set_status_json(&mut new, status_json(old));
    }
    new
}

async fn update(
    state: &ApiState,
    req: Request<Body>,
    target: &ResourcePath,
    query: &Query,
    pretty: bool,
) -> ApiResult {
    let ct = content_type(&req);
    let body = read_body(req.into_body()).await?;
    let mut obj = decode_object(&ct, &body)?;
    check_type(target, &mut obj)?;
    let name = target.name.clone().unwrap_or_default();
    match Meta::of(&obj).name {
        n if n == name => {}
        "" => {
            meta::metadata_mut(&mut obj).insert("name".to_owned(), json!(name));
        }
        n => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
    }
    place(state, target, &mut obj)?;
    let old = current(state, target)?;
    strict::enforce(
        query.get("fieldValidation"),
        target.info.kind,
        Some(&old),
        &obj,
    )?;
    let new = merge_for_write(target, &old, obj);
    let new = admission::admit_update(state, target.info, &old, new)?;
    if query.dry_run() {
        return Ok(json_response(StatusCode::OK, &new, pretty));
    }
    let stored = state
        .store
        .update(&target.key(), new)
        .map_err(store_error)?;
    Ok(json_response(
        StatusCode::OK,
        &with_type(target, stored),
        pretty,
    ))
}

async fn patch(
    state: &ApiState,
    req: Request<Body>,
    target: &ResourcePath,
    query: &Query,
    pretty: bool,
) -> ApiResult {
    let ct = content_type(&req);
    let kind = PatchKind::from_content_type(&ct).ok_or_else(|| {
        ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct})"))
    })?;
    let body = read_body(req.into_body()).await?;
    let patch_body = patch::parse_body(kind, &body)?;
    let pins_version = !Meta::of(&patch_body).resource_version.is_empty();
    let name = target.name.clone().unwrap_or_default();
    for _ in 0..10 {
        let old = match current(state, target) {
            Ok(o) => o,
            Err(_) if kind == PatchKind::Apply && target.subresource.is_none() => {
                return apply_create(state, target, query, patch_body, pretty);
            }
            Err(e) => return Err(e),
        };
        let mut patched = patch::apply_patch(kind, &old, &patch_body)?;
        if !patched.is_object() {
            return Err(ApiError::bad_request("the patch did not produce an object"));
        }
        check_type(target, &mut patched)?;
        let m = Meta::of(&patched);
        if m.name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object does not match the name on the URL ({name})"
            )));
        }
        if target.info.namespaced && Some(m.namespace) != target.namespace.as_deref() {
            return Err(ApiError::bad_request(
                "the namespace of the object does not match the namespace on the request",
            ));
        }
        strict::enforce(
            query.get("fieldValidation"),
            target.info.kind,
            Some(&old),
            &patched,
        )?;
        let new = merge_for_write(target, &old, patched);
        let new = admission::admit_update(state, target.info, &old, new)?;
        if query.dry_run() {
            return Ok(json_response(StatusCode::OK, &new, pretty));
        }
        match state.store.update(&target.key(), new) {
            Ok(stored) => {
                return Ok(json_response(
                    StatusCode::OK,
                    &with_type(target, stored),
                    pretty,
                ));
            }
            Err(StoreError::Conflict { .. }) if !pins_version => continue,
            Err(e) => return Err(store_error(e)),
        }
    }
    Err(ApiError::conflict(
        target.info.group,
        target.info.resource,
        &name,
    ))
}

/// The end of every create path: strict field validation, admission, then the store (201);
/// `dryRun=All` stops before the store.
fn admit_and_create(
    state: &ApiState,
    target: &ResourcePath,
    query: &Query,
    obj: Value,
    pretty: bool,
) -> ApiResult {
    strict::enforce(query.get("fieldValidation"), target.info.kind, None, &obj)?;
    let obj = admission::admit_create(state, target.info, obj)?;
    if query.dry_run() {
        return Ok(json_response(StatusCode::CREATED, &obj, pretty));
    }
    let created = state
        .store
        .create(&target.key(), obj)
        .map_err(store_error)?;
    Ok(json_response(
        StatusCode::CREATED,
        &with_type(target, created),
        pretty,
    ))
}

/// Server-side apply of an absent object creates it (201).
fn apply_create(
    state: &ApiState,
    target: &ResourcePath,
    query: &Query,
    mut obj: Value,
    pretty: bool,
) -> ApiResult {
    check_type(target, &mut obj)?;
    let name = target.name.clone().unwrap_or_default();
    match Meta::of(&obj).name {
        n if n == name => {}
        _ => {
            return Err(ApiError::bad_request(format!(
                "the name of the object does not match the name on the URL ({name})"
            )));
        }
    }
    place(state, target, &mut obj)?;
    admit_and_create(state, target, query, obj, pretty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_by_content_type() {
        assert!(decode_object("application/json", b"{\"a\":1}").is_ok());
        assert_eq!(
            decode_object("application/json", b"{").map_err(|e| e.code),
            Err(400)
        );
        assert_eq!(
            decode_object("application/json", b"[1]").map_err(|e| e.code),
            Err(400)
        );
        assert_eq!(
            decode_object("text/csv", b"a,b").map_err(|e| e.code),
            Err(415)
        );
        assert!(decode_object("application/yaml", b"a: 1").is_ok());
    }

    #[test]
    fn typed_objects_lead_with_their_kind_and_never_repeat_it() {
        let info = crate::sandbox::registry::resources::find("apps", "v1", "deployments")
            .expect("deployments");
        let stored = json!({"metadata": {"name": "web"}, "kind": "Stale", "spec": {}});
        let text = serde_json::to_string(&Typed {
            info,
            object: &stored,
        })
        .expect("serialises");
        assert_eq!(
            text,
            r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web"},"spec":{}}"#
        );
        let value: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value, with_type_info(info, stored));
    }

    fn with_type_info(info: &'static ResourceInfo, obj: Value) -> Value {
        crate::sandbox::objects::with_fields(
            &obj,
            json!({"apiVersion": info.api_version(), "kind": info.kind}),
        )
    }
}
