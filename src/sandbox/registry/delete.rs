//! Deletes: DeleteOptions (propagation, grace, preconditions, dry run) and deletecollection.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusDetails};
use serde_json::{Value, json};

use crate::sandbox::objects::{to_json, view, view_of};
use crate::sandbox::store::meta::Meta;
use crate::sandbox::store::{DeleteOpts, Propagation, StoreError};

use super::handlers::{current, store_error, with_type};
use super::list::{name_of, select};
use super::query::Query;
use super::status::ApiError;
use crate::sandbox::http::{ApiResult, ApiState, ResourcePath, json_response, read_body};

view! {
    /// A DeleteOptions body, read leniently (the query may say the same).
    struct DeleteInput {
        propagation_policy: Option<String>,
        orphan_dependents: Option<bool>,
        grace_period_seconds: Option<i64>,
        dry_run: Vec<String>,
        preconditions: Preconditions,
    }
}

view! {
    /// `preconditions` of a DeleteOptions.
    struct Preconditions {
        uid: Option<String>,
        resource_version: Option<String>,
    }
}

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
    let opts: DeleteInput = view_of(&opts);
    let propagation = opts
        .propagation_policy
        .as_deref()
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
    let propagation = if opts.orphan_dependents == Some(true) {
        Propagation::Orphan
    } else {
        propagation
    };
    let grace = match opts.grace_period_seconds {
        Some(g) => Some(g),
        None => query.int("gracePeriodSeconds")?,
    };
    let dry_run = opts.dry_run.iter().any(|v| v == "All") || query.dry_run();
    Ok((
        DeleteOpts {
            grace_period_seconds: grace,
            propagation,
            precondition_uid: opts.preconditions.uid,
            precondition_rv: opts.preconditions.resource_version,
        },
        dry_run,
    ))
}

fn deleted_reply(target: &ResourcePath, obj: Value, pretty: bool) -> axum::response::Response {
    let meta = Meta::of(&obj);
    if meta.is_terminating() {
        return json_response(StatusCode::OK, &with_type(target, obj), pretty);
    }
    let details = StatusDetails {
        uid: Some(meta.uid.to_owned()),
        ..super::status::details(target.info.group, target.info.resource, meta.name)
    };
    let status = Status {
        status: Some("Success".to_owned()),
        details: Some(details),
        ..Status::default()
    };
    json_response(StatusCode::OK, &to_json(&status), pretty)
}

/// `DELETE` on one object.
pub async fn delete(
    state: &ApiState,
    req: Request<Body>,
    target: &ResourcePath,
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
    target: &ResourcePath,
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
