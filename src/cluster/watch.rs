//! Long-lived watches feeding reflector stores, and one event channel for the runner.
//!
//! Each `WatchSpec` gets a kube-rs `watcher` (LIST then WATCH, bookmarks on, 290 s server
//! timeout, so a quiet step costs one request per watch every ~5 minutes) reflected into a
//! store. Every change is announced as `ClusterEvent::Changed`; a failing watch announces
//! `Lost` once, and a light `GET /version` poll (only while lost) announces `Restored`, since a
//! resumed watch on a quiet namespace may deliver nothing to prove it is back. A watch the
//! server refuses (401/403: the credentials may not list that kind there) is not a lost
//! cluster: it announces `Denied` once and counts as listed, empty.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;
use kube::runtime::reflector::{self, Store};
use kube::runtime::utils::Backoff;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::check::{TypeKey, WatchSpec, World};
use crate::cluster::resources::api_resource;
use crate::cluster::{Cluster, ClusterError, describe_error};

/// Server-side timeout of each WATCH request, as kube-rs and client-go use by default.
const WATCH_TIMEOUT_SECS: u32 = 290;
/// How often `GET /version` is tried while the cluster is unreachable.
const RECONNECT_POLL: Duration = Duration::from_secs(1);
/// Failed `GET /version` polls after which the kubeconfig is read again, in case the cluster
/// came back with new credentials.
const RECONNECT_AFTER_FAILURES: u32 = 2;
/// How long rebuilt watches may take to list everything before the old ones are replaced.
const REBUILD_SYNC: Duration = Duration::from_secs(10);
/// Capacity of the event channel; `Changed` events beyond it are dropped (one pending
/// `Changed` already makes the runner re-read the whole world).
const CHANNEL_CAPACITY: usize = 64;

/// What the runner hears from the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// Some watched object changed (or the first lists completed): re-evaluate the goals.
    Changed,
    /// The cluster stopped answering; the text says why (e.g. `connection refused`).
    Lost(String),
    /// The cluster answers again after a `Lost`.
    Restored,
    /// The server refuses one of the watches (401/403); the text says which and why.
    Denied(String),
}

/// Running watches for one set of specs. Dropping it stops every task.
pub struct WatchSet {
    shared: Arc<Shared>,
    events: mpsc::Receiver<ClusterEvent>,
    prober: JoinHandle<()>,
}

impl Drop for WatchSet {
    fn drop(&mut self) {
        self.prober.abort();
        if let Ok(mut tasks) = self.shared.tasks.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }
}

/// Reachability shared by the watch tasks, so `Lost`/`Restored` are announced once each.
struct Health {
    lost: AtomicBool,
    wake_prober: Notify,
    events: mpsc::Sender<ClusterEvent>,
    /// The specs (by index) whose watch the server refuses.
    denied: Mutex<BTreeSet<usize>>,
    /// Woken when a spec joins `denied`, so `wait_synced` stops waiting for it.
    denied_changed: Notify,
}

impl Health {
    async fn lost(&self, why: String) {
        if !self.lost.swap(true, Ordering::SeqCst) {
            let _ = self.events.send(ClusterEvent::Lost(why)).await;
            self.wake_prober.notify_one();
        }
    }

    async fn restored(&self) {
        if self.lost.swap(false, Ordering::SeqCst) {
            let _ = self.events.send(ClusterEvent::Restored).await;
        }
    }

    fn changed(&self) {
        // Full channel: a Changed is already pending, which is all the runner needs.
        let _ = self.events.try_send(ClusterEvent::Changed);
    }

    /// Records that the watch of spec `index` is refused; announced the first time only.
    async fn denied(&self, index: usize, why: String) {
        let first = self.denied.lock().is_ok_and(|mut d| d.insert(index));
        if first {
            self.denied_changed.notify_waiters();
            let _ = self.events.send(ClusterEvent::Denied(why)).await;
        }
    }

    fn is_denied(&self, index: usize) -> bool {
        self.denied.lock().is_ok_and(|d| d.contains(&index))
    }
}

/// Whether a watch error is the server refusing our credentials for this watch (401, 403),
/// which retrying will not fix.
fn is_denied(err: &watcher::Error) -> bool {
    let status = match err {
        watcher::Error::WatchError(status) => status.as_ref(),
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.as_ref(),
        _ => return false,
    };
    matches!(status.code, 401 | 403)
}

/// Exponential backoff from 250 ms to 5 s. Shorter than kube-rs's default (800 ms to 30 s)
/// because the clusters here are a learner's local ones: after a restart the step should
/// resume within seconds, and a refused connection costs the server nothing.
struct QuickBackoff {
    next: Duration,
}

impl QuickBackoff {
    const MIN: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(5);

    fn new() -> Self {
        QuickBackoff { next: Self::MIN }
    }
}

impl Iterator for QuickBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let current = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        Some(current)
    }
}

impl Backoff for QuickBackoff {
    fn reset(&mut self) {
        self.next = Self::MIN;
    }
}

/// A resolved spec: what to watch and through which REST resource.
#[derive(Clone)]
struct Resolved {
    spec: WatchSpec,
    resource: ApiResource,
    namespaced: bool,
}

/// Stores (read by `world()`) and the tasks feeding them; swapped whole on reconnect.
type Stores = Vec<(TypeKey, Store<DynamicObject>)>;

/// State shared between the `WatchSet` and its prober task.
struct Shared {
    cluster: Mutex<Cluster>,
    specs: Vec<Resolved>,
    stores: RwLock<Stores>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    health: Arc<Health>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        for task in self
            .tasks
            .get_mut()
            .map(|t| t.drain(..))
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

impl Shared {
    /// The cluster the watches currently use (the lock is never held across an await).
    fn current_cluster(&self) -> Option<Cluster> {
        self.cluster.lock().ok().map(|c| c.clone())
    }
}

/// Whether a watch error is the routine "410 Gone" that makes the watcher list again: the
/// server answered, so it is not a lost cluster.
fn is_expiry(err: &watcher::Error) -> bool {
    match err {
        watcher::Error::WatchError(status) => status.code == 410,
        watcher::Error::WatchStartFailed(kube::Error::Api(status)) => status.code == 410,
        _ => false,
    }
}

/// Starts one watch task per spec with `client`; returns their stores and tasks.
fn spawn_watches(
    client: &kube::Client,
    specs: &[Resolved],
    health: &Arc<Health>,
) -> (Stores, Vec<JoinHandle<()>>) {
    let mut stores = Vec::new();
    let mut tasks = Vec::new();
    for (index, resolved) in specs.iter().enumerate() {
        let Resolved {
            spec,
            resource,
            namespaced,
        } = resolved;
        let api: Api<DynamicObject> = match (&spec.namespace, namespaced) {
            (Some(ns), true) => Api::namespaced_with(client.clone(), ns, resource),
            _ => Api::all_with(client.clone(), resource),
        };
        let mut config = watcher::Config::default().timeout(WATCH_TIMEOUT_SECS);
        if let Some(labels) = &spec.label_selector {
            config = config.labels(labels);
        }
        if let Some(fields) = &spec.field_selector {
            config = config.fields(fields);
        }
        let writer = reflector::store::Writer::new(resource.clone());
        stores.push((
            TypeKey::new(&spec.api_version, &spec.kind),
            writer.as_reader(),
        ));
        let stream = watcher(api, config)
            .backoff(QuickBackoff::new())
            .reflect(writer);
        let health = Arc::clone(health);
        let what = format!("{} {}", spec.kind, spec.namespace.as_deref().unwrap_or(""));
        let scope = match &spec.namespace {
            Some(ns) if *namespaced => format!("{} in namespace {ns}", spec.kind),
            _ => format!("{} (cluster-wide)", spec.kind),
        };
        tasks.push(tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(event) => {
                        health.restored().await;
                        match event {
                            watcher::Event::Init | watcher::Event::InitApply(_) => {}
                            _ => health.changed(),
                        }
                    }
                    Err(err) if is_expiry(&err) => {
                        tracing::debug!(watch = %what.trim(), "watch expired, listing again");
                    }
                    Err(err) if is_denied(&err) => {
                        tracing::debug!(watch = %what.trim(), error = %err, "watch refused");
                        health
                            .denied(
                                index,
                                format!("not permitted to watch {scope}: {}", describe_error(&err)),
                            )
                            .await;
                    }
                    Err(err) => {
                        tracing::debug!(watch = %what.trim(), error = %err, "watch failed, retrying");
                        health.lost(describe_error(&err)).await;
                    }
                }
            }
        }));
    }
    (stores, tasks)
}

impl Cluster {
    /// Starts one watch per spec (after `merge_specs`, ideally) and returns at once; use
    /// [`WatchSet::wait_synced`] before trusting the world.
    pub async fn watch(&self, specs: Vec<WatchSpec>) -> Result<WatchSet, ClusterError> {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let health = Arc::new(Health {
            lost: AtomicBool::new(false),
            wake_prober: Notify::new(),
            events: tx,
            denied: Mutex::new(BTreeSet::new()),
            denied_changed: Notify::new(),
        });
        let mut resolved = Vec::new();
        for spec in specs {
            let (resource, namespaced) = api_resource(self, &spec.api_version, &spec.kind).await?;
            resolved.push(Resolved {
                spec,
                resource,
                namespaced,
            });
        }
        let (stores, tasks) = spawn_watches(&self.client, &resolved, &health);
        let shared = Arc::new(Shared {
            cluster: Mutex::new(self.clone()),
            specs: resolved,
            stores: RwLock::new(stores),
            tasks: Mutex::new(tasks),
            health,
        });
        let prober = tokio::spawn(probe_until_restored(Arc::downgrade(&shared)));
        Ok(WatchSet {
            shared,
            events: rx,
            prober,
        })
    }
}

/// Sleeps until a watch reports the cluster lost, then polls `GET /version` until it answers.
/// When the old client keeps failing but the kubeconfig now leads to a cluster that answers
/// (the sandbox restarted with a new certificate and token), the watches are rebuilt on a
/// fresh client, the new stores swapped in once they have listed everything.
async fn probe_until_restored(shared: Weak<Shared>) {
    let Some(health) = shared.upgrade().map(|s| Arc::clone(&s.health)) else {
        return;
    };
    loop {
        health.wake_prober.notified().await;
        let mut failures = 0u32;
        while health.lost.load(Ordering::SeqCst) {
            tokio::time::sleep(RECONNECT_POLL).await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let Some(cluster) = shared.current_cluster() else {
                return;
            };
            if cluster.check_reachable().await.is_ok() {
                health.restored().await;
                continue;
            }
            failures += 1;
            if failures >= RECONNECT_AFTER_FAILURES
                && let Some(Ok(fresh)) = cluster.reconnect().await
                && rebuild(&shared, fresh).await
            {
                health.restored().await;
                health.changed();
            }
        }
    }
}

/// Rebuilds every watch on `fresh`; false (and nothing changed) if they cannot list in time.
async fn rebuild(shared: &Shared, fresh: Cluster) -> bool {
    let (stores, tasks) = spawn_watches(&fresh.client, &shared.specs, &shared.health);
    let ready = futures::future::join_all(stores.iter().map(|(_, s)| s.wait_until_ready()));
    if !matches!(tokio::time::timeout(REBUILD_SYNC, ready).await, Ok(r) if r.iter().all(Result::is_ok))
    {
        for task in tasks {
            task.abort();
        }
        return false;
    }
    if let Ok(mut current) = shared.stores.write() {
        *current = stores;
    }
    if let Ok(mut current) = shared.tasks.lock() {
        for old in current.drain(..) {
            old.abort();
        }
        *current = tasks;
    }
    if let Ok(mut cluster) = shared.cluster.lock() {
        *cluster = fresh;
    }
    true
}

impl WatchSet {
    fn stores(&self) -> Stores {
        self.shared
            .stores
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// A snapshot of every store, as the goals read it.
    pub fn world(&self) -> World {
        let mut world = World::new();
        for (key, store) in self.stores() {
            for object in store.state() {
                match serde_json::to_value(object.as_ref()) {
                    Ok(value) => {
                        if let Err(err) = world.insert(&key, value) {
                            tracing::debug!(error = %err, "skipping a watched object");
                        }
                    }
                    Err(err) => tracing::debug!(error = %err, "skipping an unserializable object"),
                }
            }
        }
        world
    }

    /// The next event; `None` only if every task stopped (which they do not on their own).
    pub async fn next_event(&mut self) -> Option<ClusterEvent> {
        self.events.recv().await
    }

    /// An event if one is waiting, without blocking.
    pub fn try_next_event(&mut self) -> Option<ClusterEvent> {
        self.events.try_recv().ok()
    }

    /// Whether every watch has completed its first list (a refused one counts as listed).
    pub fn is_synced(&self) -> bool {
        // A store's reader is ready once its writer applied the first InitDone.
        self.stores().iter().enumerate().all(|(index, (_, store))| {
            self.shared.health.is_denied(index)
                || futures::FutureExt::now_or_never(store.wait_until_ready())
                    .is_some_and(|r| r.is_ok())
        })
    }

    /// Waits until every watch has completed its first list (or been refused), so an empty
    /// world means "nothing there" rather than "not loaded yet".
    pub async fn wait_synced(&self, timeout: Duration) -> Result<(), ClusterError> {
        let all = async {
            loop {
                let refused = self.shared.health.denied_changed.notified();
                let pending: Vec<Store<DynamicObject>> = self
                    .stores()
                    .into_iter()
                    .enumerate()
                    .filter(|(index, _)| !self.shared.health.is_denied(*index))
                    .map(|(_, (_, store))| store)
                    .collect();
                let ready = futures::future::join_all(pending.iter().map(Store::wait_until_ready));
                tokio::select! {
                    results = ready => return results.iter().all(Result::is_ok),
                    () = refused => {}
                }
            }
        };
        match tokio::time::timeout(timeout, all).await {
            Ok(true) => Ok(()),
            _ => Err(ClusterError::SyncTimeout(timeout.as_secs())),
        }
    }

    /// The watched types and namespaces the server refuses to show.
    pub fn denied(&self) -> Vec<(TypeKey, Option<String>)> {
        self.shared
            .specs
            .iter()
            .enumerate()
            .filter(|(index, _)| self.shared.health.is_denied(*index))
            .map(|(_, r)| {
                (
                    TypeKey::new(&r.spec.api_version, &r.spec.kind),
                    r.spec.namespace.clone(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_watches_are_not_a_lost_cluster() {
        let gone =
            kube::core::Status::failure("too old resource version", "Expired").with_code(410);
        assert!(is_expiry(&watcher::Error::WatchError(Box::new(
            gone.clone()
        ))));
        assert!(is_expiry(&watcher::Error::WatchStartFailed(
            kube::Error::Api(Box::new(gone))
        )));
        let forbidden = kube::core::Status::failure("forbidden", "Forbidden").with_code(403);
        assert!(!is_expiry(&watcher::Error::WatchError(Box::new(
            forbidden.clone()
        ))));
        assert!(!is_expiry(&watcher::Error::NoResourceVersion));
        // A refusal is neither an expiry nor a lost cluster.
        assert!(is_denied(&watcher::Error::InitialListFailed(
            kube::Error::Api(Box::new(forbidden))
        )));
        let unavailable = kube::core::Status::failure("down", "ServiceUnavailable").with_code(503);
        assert!(!is_denied(&watcher::Error::InitialListFailed(
            kube::Error::Api(Box::new(unavailable))
        )));
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets() {
        let mut backoff = QuickBackoff::new();
        let delays: Vec<u128> = backoff.by_ref().take(7).map(|d| d.as_millis()).collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.next(), Some(Duration::from_millis(250)));
    }
}
