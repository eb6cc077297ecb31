//! Watches: chunked JSON events, bookmarks, streaming lists and in-stream 410 errors; with
//! `Accept: ...;as=Table`, each event's object is a one-row Table (what `kubectl get -w` asks
//! for), the column definitions in the first event only.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Response, header};
use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::sandbox::objects::to_json;
use crate::sandbox::store::meta::Meta;
use crate::sandbox::store::{EventType, StoreError};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::handlers::Typed;
use super::list::select;
use super::query::Query;
use super::status::ApiError;
use crate::sandbox::http::{ApiResult, ApiState, ResourcePath};
use crate::sandbox::print::table::{self, IncludeObject};

/// How often an idle watch with bookmarks enabled gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);
/// The longest watch, like the real server's upper bound on `timeoutSeconds`.
const MAX_TIMEOUT: i64 = 3600;

/// One watch event on the wire.
#[derive(Serialize)]
struct Line<'a, T: Serialize + ?Sized> {
    #[serde(rename = "type")]
    kind: &'a str,
    object: &'a T,
}

fn line<T: Serialize + ?Sized>(kind: &str, object: &T) -> Bytes {
    let mut bytes = serde_json::to_vec(&Line { kind, object }).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn bookmark(target: &ResourcePath, rv: u64, initial_end: bool) -> Value {
    let meta = ObjectMeta {
        resource_version: Some(rv.to_string()),
        annotations: initial_end.then(|| {
            std::collections::BTreeMap::from([(
                "k8s.io/initial-events-end".to_owned(),
                "true".to_owned(),
            )])
        }),
        ..ObjectMeta::default()
    };
    json!({"kind": target.info.kind, "apiVersion": target.info.api_version(), "metadata": to_json(&meta)})
}

fn expired(message: &str) -> Value {
    ApiError::expired(format!("too old resource version: {message}")).to_status()
}

fn key_of(obj: &Value) -> (String, String) {
    let meta = Meta::of(obj);
    (meta.namespace.to_owned(), meta.name.to_owned())
}

/// The event type a filtered watcher sends for a change, `None` when it sees nothing.
fn transition(
    seen: &mut HashSet<(String, String)>,
    key: (String, String),
    matches: bool,
    kind: EventType,
) -> Option<&'static str> {
    let was = seen.contains(&key);
    match (kind, matches, was) {
        (EventType::Deleted, _, true) | (EventType::Deleted, true, false) => {
            seen.remove(&key);
            Some("DELETED")
        }
        (EventType::Deleted, false, false) => None,
        (_, true, true) => Some("MODIFIED"),
        (_, true, false) => {
            seen.insert(key);
            Some("ADDED")
        }
        (_, false, true) => {
            seen.remove(&key);
            Some("DELETED")
        }
        (_, false, false) => None,
    }
}

/// How a watch encodes the objects of its events.
#[derive(Clone, Copy)]
enum Encoding {
    /// The objects themselves.
    Objects,
    /// One-row Tables; `sent_columns` once the first has gone out.
    Tables {
        include: IncludeObject,
        sent_columns: bool,
    },
}

impl Encoding {
    /// One event line for `obj`.
    fn event(&mut self, kind: &str, target: &ResourcePath, obj: &Value) -> Bytes {
        match self {
            Encoding::Objects => line(kind, &Typed::new(target, obj)),
            Encoding::Tables {
                include,
                sent_columns,
            } => {
                let first = !*sent_columns;
                *sent_columns = true;
                line(
                    kind,
                    &table::watch_event_table(target.info, obj, *include, first),
                )
            }
        }
    }
}

/// Serves `?watch=true` on a collection (or one named object).
pub async fn serve(
    state: &Arc<ApiState>,
    target: &ResourcePath,
    query: &Query,
    accept: &str,
) -> ApiResult {
    let mut encoding = if table::wants_table(accept) {
        Encoding::Tables {
            include: IncludeObject::parse(query.get("includeObject")),
            sent_columns: false,
        }
    } else {
        Encoding::Objects
    };
    let labels = query.label_selector()?;
    let fields = query.field_selector()?;
    let send_initial = query.flag("sendInitialEvents");
    if send_initial && query.get("resourceVersionMatch") != Some("NotOlderThan") {
        return Err(ApiError::invalid(
            "ListOptions",
            "meta.k8s.io",
            "",
            &[("resourceVersionMatch".to_owned(), "FieldValueForbidden", "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan".to_owned())],
        ));
    }
    let bookmarks = query.flag("allowWatchBookmarks");
    let timeout = query
        .int("timeoutSeconds")?
        .filter(|t| *t > 0)
        .unwrap_or(1800)
        .min(MAX_TIMEOUT);
    let rv_param = query
        .get("resourceVersion")
        .filter(|v| !v.is_empty() && *v != "0");
    let (initial, start_rv) = match rv_param {
        Some(rv) if !send_initial => {
            let rv: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?;
            (Vec::new(), rv)
        }
        _ => select(state, target, query)?,
    };
    let filtered = labels.is_some() || fields.is_some() || target.name.is_some();
    // Which objects this watcher has shown as present, so that an object leaving the selection
    // is sent as DELETED and one entering it as ADDED, like the real server does.
    let mut seen: HashSet<(String, String)> = HashSet::new();
    if filtered {
        let current = if initial.is_empty() {
            select(state, target, query)?.0
        } else {
            initial.clone()
        };
        seen.extend(current.iter().map(|o| key_of(o)));
    }
    let receiver = state
        .store
        .watch(&target.key(), target.namespace.as_deref(), start_rv);
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let target = target.clone();
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let mut receiver = match receiver {
            Ok(r) => r,
            Err(StoreError::Expired { message, .. }) => {
                let _ = tx.send(line("ERROR", &expired(&message))).await;
                return;
            }
            Err(e) => {
                let _ = tx
                    .send(line(
                        "ERROR",
                        &ApiError::internal(e.to_string()).to_status(),
                    ))
                    .await;
                return;
            }
        };
        for obj in &initial {
            if tx
                .send(encoding.event("ADDED", &target, obj))
                .await
                .is_err()
            {
                return;
            }
        }
        if send_initial
            && tx
                .send(line("BOOKMARK", &bookmark(&target, start_rv, true)))
                .await
                .is_err()
        {
            return;
        }
        let deadline =
            tokio::time::sleep(Duration::from_secs(u64::try_from(timeout).unwrap_or(1800)));
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
        let mut last_rv = start_rv;
        loop {
            tokio::select! {
                () = &mut deadline => break,
                () = shutdown.cancelled() => break,
                () = tx.closed() => break,
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(line("BOOKMARK", &bookmark(&target, last_rv, false))).await.is_err() {
                        break;
                    }
                }
                event = receiver.recv() => match event {
                    None => break,
                    Some(Err(StoreError::Expired { message, .. })) => {
                        let _ = tx.send(line("ERROR", &expired(&message))).await;
                        break;
                    }
                    Some(Err(e)) => {
                        let _ = tx.send(line("ERROR", &ApiError::internal(e.to_string()).to_status())).await;
                        break;
                    }
                    Some(Ok(ev)) => {
                        last_rv = ev.resource_version;
                        let obj: &Value = &ev.object;
                        let meta = Meta::of(obj);
                        let wanted = labels.as_ref().is_none_or(|s| s.matches(&meta.labels))
                            && fields.as_ref().is_none_or(|s| s.matches(obj))
                            && target.name.as_deref().is_none_or(|n| meta.name == n);
                        let kind = if filtered {
                            match transition(&mut seen, key_of(obj), wanted, ev.kind) {
                                Some(kind) => kind,
                                None => continue,
                            }
                        } else {
                            ev.kind.as_str()
                        };
                        if tx.send(encoding.event(kind, &target, obj)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok::<_, Infallible>);
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| Response::new(Body::empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filtered_watchers_see_objects_enter_and_leave() {
        let mut seen = HashSet::new();
        let k = || ("default".to_owned(), "p".to_owned());
        assert_eq!(transition(&mut seen, k(), false, EventType::Added), None);
        assert_eq!(
            transition(&mut seen, k(), true, EventType::Modified),
            Some("ADDED")
        );
        assert_eq!(
            transition(&mut seen, k(), true, EventType::Modified),
            Some("MODIFIED")
        );
        assert_eq!(
            transition(&mut seen, k(), false, EventType::Modified),
            Some("DELETED")
        );
        assert_eq!(transition(&mut seen, k(), false, EventType::Deleted), None);
    }
}
