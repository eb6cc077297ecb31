//! Lists: selectors, pagination (`limit`/`continue`) and Tables.

use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sandbox::objects::to_json;
use crate::sandbox::store::meta::Meta;

use super::handlers::Typed;
use super::query::Query;
use super::status::ApiError;
use crate::sandbox::http::{ApiResult, ApiState, ResourcePath, json_response};
use crate::sandbox::print::table::{self, IncludeObject};

/// `(namespace, name)` of an object.
pub fn name_of(obj: &Value) -> (&str, &str) {
    let meta = Meta::of(obj);
    (meta.namespace, meta.name)
}

/// Objects of the target's collection matching the request's selectors, sorted, shared with
/// the store (a list of a thousand pods copies no pod).
pub fn select(
    state: &ApiState,
    target: &ResourcePath,
    query: &Query,
) -> Result<(Vec<Arc<Value>>, u64), ApiError> {
    let labels = query.label_selector()?;
    let fields = query.field_selector()?;
    let (mut items, rv) = state
        .store
        .list_arc(&target.key(), target.namespace.as_deref());
    items.retain(|o| {
        labels
            .as_ref()
            .is_none_or(|s| s.matches(&Meta::of(o).labels))
            && fields.as_ref().is_none_or(|s| s.matches(o))
            && target.name.as_deref().is_none_or(|n| name_of(o).1 == n)
    });
    Ok((items, rv))
}

/// A `…List` body, serialised straight from the store's objects.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody<'a> {
    kind: String,
    api_version: String,
    metadata: Value,
    items: Vec<Typed<'a>>,
}

/// `GET` on a collection.
pub fn list(
    state: &ApiState,
    target: &ResourcePath,
    query: &Query,
    accept: &str,
    pretty: bool,
) -> ApiResult {
    let (mut items, mut rv) = select(state, target, query)?;
    let mut meta = ListMeta::default();
    if let Some(token) = query.get("continue").filter(|t| !t.is_empty()) {
        let (token_rv, start) = decode_continue(token)?;
        rv = token_rv;
        items.retain(|o| {
            let (ns, name) = name_of(o);
            (ns, name) > (start.0.as_str(), start.1.as_str())
        });
    }
    if let Some(limit) = query.int("limit")?.filter(|l| *l > 0) {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if items.len() > limit {
            let remaining = items.len() - limit;
            items.truncate(limit);
            if let Some(last) = items.last() {
                let (ns, name) = name_of(last);
                meta.continue_ = Some(encode_continue(rv, ns, name));
                meta.remaining_item_count = i64::try_from(remaining).ok();
            }
        }
    }
    meta.resource_version = Some(rv.to_string());
    let meta = to_json(&meta);
    if table::wants_table(accept) {
        let include = IncludeObject::parse(query.get("includeObject"));
        return Ok(json_response(
            StatusCode::OK,
            &table::table(target.info, &items, include, meta),
            pretty,
        ));
    }
    let list = ListBody {
        kind: target.info.list_kind(),
        api_version: target.info.api_version(),
        metadata: meta,
        items: items.iter().map(|o| Typed::new(target, o)).collect(),
    };
    Ok(json_response(StatusCode::OK, &list, pretty))
}

/// What a `continue` token holds: where the list was, and at which resourceVersion.
#[derive(Serialize, Deserialize)]
struct Continue {
    rv: u64,
    ns: String,
    name: String,
}

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    let token = Continue {
        rv,
        ns: ns.to_owned(),
        name: name.to_owned(),
    };
    let raw = serde_json::to_string(&token).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(token: &str) -> Result<(u64, (String, String)), ApiError> {
    let bad = || ApiError::bad_request("continue key is not valid: the token is malformed");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let token: Continue = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok((token.rv, (token.ns, token.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_junk() {
        let token = encode_continue(42, "default", "web");
        assert_eq!(
            decode_continue(&token).expect("token"),
            (42, ("default".to_owned(), "web".to_owned()))
        );
        assert!(decode_continue("!!!").is_err());
        assert!(decode_continue("e30").is_err());
    }
}
