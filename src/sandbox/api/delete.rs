//! Deletes: DeleteOptions (propagation, grace, preconditions, dry run) and deletecollection.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::sandbox::store::{DeleteOpts, Propagation, StoreError};

use super::handlers::{current, store_error, with_type};
use super::list::{name_of, select};
use super::query::Query;
use super::status::ApiError;
use super::{ApiResult, ApiState, Target, json_response, read_body};

/// DeleteOptions from the body (when any) and the query.
fn delete_options(body: &[u8], query: &Query) -> Result<(DeleteOpts, bool), ApiError> {
    let opts: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the server could not decode the DeleteOptions: {e}"
            ))
        })?
    };
    let propagation = opts["propagationPolicy"]
        .as_str()
        .or(query.get("propagationPolicy"));
    let propagation = match propagation {
        None | Some("") | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
                ),
            ));
        }
    };
    let propagation = if opts["orphanDependents"].as_bool() == Some(true) {
        Propagation::Orphan
    } else {
        propagation
    };
    let grace = match opts["gracePeriodSeconds"].as_i64() {
        Some(g) => Some(g),
        None => query.int("gracePeriodSeconds")?,
    };
    let dry_run = opts["dryRun"]
        .as_array()
        .is_some_and(|d| d.iter().any(|v| v == "All"))
        || query.dry_run();
    Ok((
        DeleteOpts {
            grace_period_seconds: grace,
            propagation,
            precondition_uid: opts
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_owned),
            precondition_rv: opts
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        dry_run,
    ))
}

fn deleted_reply(target: &Target, obj: Value, pretty: bool) -> axum::response::Response {
    if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return json_response(StatusCode::OK, &with_type(target, obj), pretty);
    }
    let mut details = json!({"name": obj["metadata"]["name"], "kind": target.info.resource, "uid": obj["metadata"]["uid"]});
    if !target.info.group.is_empty() {
        details["group"] = json!(target.info.group);
    }
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details});
    json_response(StatusCode::OK, &status, pretty)
}

/// `DELETE` on one object.
pub async fn delete(
    state: &ApiState,
    req: Request<Body>,
    target: &Target,
    query: &Query,
    pretty: bool,
) -> ApiResult {
    let body = read_body(req.into_body()).await?;
    let (opts, dry_run) = delete_options(&body, query)?;
    let name = target.name.clone().unwrap_or_default();
    if dry_run {
        return Ok(json_response(
            StatusCode::OK,
            &current(state, target)?,
            pretty,
        ));
    }
    let obj = state
        .store
        .delete(&target.key(), target.ns(), &name, &opts)
        .map_err(store_error)?;
    Ok(deleted_reply(target, obj, pretty))
}

/// `DELETE` on a collection.
pub fn delete_collection(
    state: &ApiState,
    target: &Target,
    query: &Query,
    pretty: bool,
) -> ApiResult {
    let (items, rv) = select(state, target, query)?;
    let (opts, dry_run) = delete_options(b"", query)?;
    let mut deleted = Vec::new();
    for obj in items {
        let (ns, name) = name_of(&obj);
        if dry_run {
            deleted.push(with_type(target, (*obj).clone()));
            continue;
        }
        match state.store.delete(&target.key(), ns, name, &opts) {
            Ok(o) => deleted.push(with_type(target, o)),
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(store_error(e)),
        }
    }
    let list = json!({
        "kind": target.info.list_kind(),
        "apiVersion": target.info.api_version(),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": deleted,
    });
    Ok(json_response(StatusCode::OK, &list, pretty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_options_parse() {
        let (opts, dry) = delete_options(
            br#"{"propagationPolicy":"Foreground","gracePeriodSeconds":0}"#,
            &Query::default(),
        )
        .expect("opts");
        assert_eq!(opts.propagation, Propagation::Foreground);
        assert_eq!(opts.grace_period_seconds, Some(0));
        assert!(!dry);
        assert!(delete_options(b"{", &Query::default()).is_err());
        assert!(delete_options(br#"{"propagationPolicy":"Sideways"}"#, &Query::default()).is_err());
    }
}
