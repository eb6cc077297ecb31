//! Lists: selectors, pagination (`limit`/`continue`) and Tables.

use std::sync::Arc;

use axum::http::StatusCode;
use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};

use super::handlers::Typed;
use super::query::Query;
use super::status::ApiError;
use super::table::{self, IncludeObject};
use super::{ApiResult, ApiState, Target, json_response};

/// `(namespace, name)` of an object.
pub fn name_of(obj: &Value) -> (&str, &str) {
    let meta = &obj["metadata"];
    (
        meta["namespace"].as_str().unwrap_or_default(),
        meta["name"].as_str().unwrap_or_default(),
    )
}

/// Objects of the target's collection matching the request's selectors, sorted, shared with
/// the store (a list of a thousand pods copies no pod).
pub fn select(
    state: &ApiState,
    target: &Target,
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
            .is_none_or(|s| s.matches_json(o.pointer("/metadata/labels")))
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
    target: &Target,
    query: &Query,
    accept: &str,
    pretty: bool,
) -> ApiResult {
    let (mut items, mut rv) = select(state, target, query)?;
    let mut meta = json!({});
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
                meta["continue"] = json!(encode_continue(rv, ns, name));
                meta["remainingItemCount"] = json!(remaining);
            }
        }
    }
    meta["resourceVersion"] = json!(rv.to_string());
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

fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    let raw = json!({"rv": rv, "ns": ns, "name": name}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(token: &str) -> Result<(u64, (String, String)), ApiError> {
    let bad = || ApiError::bad_request("continue key is not valid: the token is malformed");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v["rv"].as_u64().ok_or_else(bad)?;
    let ns = v["ns"].as_str().ok_or_else(bad)?.to_owned();
    let name = v["name"].as_str().ok_or_else(bad)?.to_owned();
    Ok((rv, (ns, name)))
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
