//! Watch fan-out: one unbounded channel per watcher with a budget, so writers never wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::Value;
use tokio::sync::mpsc;

use super::{ResKey, StoreError};

/// Events a watcher may have queued before it is cut off with `Expired`.
pub(crate) const WATCHER_BUDGET: usize = 200_000;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object changed (including gaining a deletionTimestamp).
    Modified,
    /// The object is gone; `object` is its last state.
    Deleted,
}

impl EventType {
    /// The watch wire name: `ADDED`, `MODIFIED` or `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change to one object.
#[derive(Clone, Debug)]
pub struct WatchEvent {
    /// What happened.
    pub kind: EventType,
    /// Which collection the object belongs to.
    pub key: ResKey,
    /// The object after the change (before it, for `Deleted`, with the deletion's rv).
    pub object: Arc<Value>,
    /// The store resourceVersion of this change.
    pub resource_version: u64,
}

/// The receiving end of a watch. Yields events in resourceVersion order; ends with
/// `Err(StoreError::Expired)` when the watcher fell too far behind, or `None` when the store
/// is dropped.
pub struct WatchReceiver {
    pub(crate) rx: mpsc::UnboundedReceiver<WatchEvent>,
    pub(crate) shared: Arc<WatcherShared>,
    pub(crate) key: Option<ResKey>,
    pub(crate) done: bool,
}

/// State shared by a watcher's sender and receiver.
pub(crate) struct WatcherShared {
    pub(crate) queued: AtomicUsize,
    pub(crate) overflowed: AtomicBool,
}

impl WatchReceiver {
    /// The next event; `None` once the watch is over.
    pub async fn recv(&mut self) -> Option<Result<WatchEvent, StoreError>> {
        if self.done {
            return None;
        }
        match self.rx.recv().await {
            Some(ev) => {
                self.shared.queued.fetch_sub(1, Ordering::Relaxed);
                Some(Ok(ev))
            }
            None => self.finish(),
        }
    }

    /// The next event if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Option<Result<WatchEvent, StoreError>> {
        if self.done {
            return None;
        }
        match self.rx.try_recv() {
            Ok(ev) => {
                self.shared.queued.fetch_sub(1, Ordering::Relaxed);
                Some(Ok(ev))
            }
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) => self.finish(),
        }
    }

    fn finish(&mut self) -> Option<Result<WatchEvent, StoreError>> {
        self.done = true;
        if self.shared.overflowed.load(Ordering::Relaxed) {
            let (group, resource) = self
                .key
                .as_ref()
                .map(|k| (k.group.clone(), k.resource.clone()))
                .unwrap_or_default();
            Some(Err(StoreError::Expired {
                group,
                resource,
                message: "the watcher fell too far behind; list again".to_owned(),
            }))
        } else {
            None
        }
    }

    /// Turns the receiver into a `Stream` of the same items.
    pub fn into_stream(
        self,
    ) -> impl futures::Stream<Item = Result<WatchEvent, StoreError>> + Send + 'static {
        futures::stream::unfold(self, |mut rx| async move {
            let item = rx.recv().await?;
            Some((item, rx))
        })
    }
}

/// The store's end of one watch.
pub(crate) struct Watcher {
    pub(crate) key: Option<ResKey>,
    pub(crate) namespace: Option<String>,
    pub(crate) tx: mpsc::UnboundedSender<WatchEvent>,
    pub(crate) shared: Arc<WatcherShared>,
}

impl Watcher {
    pub(crate) fn wants(&self, key: &ResKey, namespace: &str) -> bool {
        self.key.as_ref().is_none_or(|k| k == key)
            && self.namespace.as_deref().is_none_or(|n| n == namespace)
    }

    /// Queues an event; false when the watcher is gone or over budget and must be dropped.
    pub(crate) fn send(&self, ev: WatchEvent) -> bool {
        if self.shared.queued.load(Ordering::Relaxed) >= WATCHER_BUDGET {
            self.shared.overflowed.store(true, Ordering::Relaxed);
            return false;
        }
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        self.tx.send(ev).is_ok()
    }
}
