//! The simulated control plane: deployment, replicaset, scheduler, endpoints and garbage
//! collection controllers plus the kubelet, each a level-triggered loop over the store.
//!
//! Every loop reconciles everything it owns whenever the store changes, and at least every
//! `SimConfig::resync`; writes that change nothing are no-ops in the store, so the loops
//! settle once the cluster has converged.

pub mod bootstrap;
pub mod deployment;
pub mod endpoints;
pub mod events;
pub mod gc;
pub mod podspec;
pub mod replicaset;
pub mod rollout;
pub mod root_ca;
mod scale_down;
pub mod scheduler;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::sandbox::apps::Catalogue;
use crate::sandbox::kubelet::Kubelet;
use crate::sandbox::store::Store;

pub use events::EventRecorder;

/// Timings of the simulation and the address the `kubernetes` Service points at.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// From scheduling to Running (or to the first failed pull).
    pub pod_start: Duration,
    /// First back-off after a failed pull; doubles up to five minutes like the kubelet's.
    pub pull_backoff: Duration,
    /// How long a deleted pod stays Terminating.
    pub grace: Duration,
    /// Periodic resync of every controller.
    pub resync: Duration,
    /// Divides every duration above (and deployment progress deadlines): 1.0 is real time.
    pub speed: f64,
    /// The API server's address: the `kubernetes` Service's endpoint.
    pub api_address: SocketAddr,
    /// The API server's CA (PEM), published in every namespace as `kube-root-ca.crt`.
    pub root_ca_pem: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            pod_start: Duration::from_millis(1000),
            pull_backoff: Duration::from_secs(10),
            grace: Duration::from_secs(2),
            resync: Duration::from_secs(1),
            speed: 1.0,
            api_address: SocketAddr::from(([127, 0, 0, 1], 6443)),
            root_ca_pem: String::new(),
        }
    }
}

impl SimConfig {
    /// A configuration for tests: everything twenty times faster.
    pub fn fast() -> Self {
        SimConfig {
            speed: 20.0,
            ..SimConfig::default()
        }
    }

    /// A simulated duration converted to wall-clock time.
    pub fn scaled(&self, d: Duration) -> Duration {
        let speed = if self.speed.is_finite() && self.speed > 0.0 {
            self.speed
        } else {
            1.0
        };
        d.div_f64(speed)
    }
}

/// The running controllers; dropping this (or calling [`Controllers::shutdown`]) stops them.
pub struct Controllers {
    cancel: CancellationToken,
    done: Option<tokio::sync::oneshot::Receiver<()>>,
    /// The event recorder the controllers share (the API layer may record events too).
    pub recorder: Arc<EventRecorder>,
}

impl Controllers {
    /// Stops every loop and waits (up to five seconds) for them to finish.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(done) = self.done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), done).await;
        }
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// One reconcile loop body.
pub(crate) trait Reconciler: Send + 'static {
    /// Brings everything this controller owns one step closer to the desired state.
    fn reconcile(&mut self, store: &Store);
}

/// Creates the startup objects, then starts every controller and the kubelet.
///
/// They run on one dedicated thread: their passes are synchronous and can be long (a
/// thousand pods), so they stay off the async workers serving the API, and their
/// allocations stay in one malloc arena instead of spreading over blocking-pool threads.
pub fn spawn(store: Arc<Store>, sim: SimConfig, catalogue: Arc<Catalogue>) -> Controllers {
    bootstrap::ensure_cluster(&store, &sim);
    let cancel = CancellationToken::new();
    let recorder = Arc::new(EventRecorder::new());
    let tick = sim.scaled(sim.resync).max(Duration::from_millis(20));
    // The kubelet's timers need finer ticks than a resync.
    let kubelet_tick = sim
        .scaled(Duration::from_millis(200))
        .max(Duration::from_millis(10));
    let loops: Vec<(Box<dyn Reconciler>, Duration)> = vec![
        (
            Box::new(deployment::DeploymentController::new(
                recorder.clone(),
                sim.clone(),
            )),
            tick,
        ),
        (
            Box::new(replicaset::ReplicaSetController::new(recorder.clone())),
            tick,
        ),
        (Box::new(scheduler::Scheduler::new(recorder.clone())), tick),
        (
            Box::new(Kubelet::new(recorder.clone(), sim.clone(), catalogue)),
            kubelet_tick,
        ),
        (Box::new(endpoints::EndpointsController::new()), tick),
        (
            Box::new(root_ca::RootCaPublisher::new(sim.root_ca_pem.clone())),
            tick,
        ),
        (Box::new(gc::GarbageCollector::new()), tick),
    ];
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let token = cancel.clone();
    let started = std::thread::Builder::new()
        .name("sandbox-controllers".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(async move {
                    let mut set = tokio::task::JoinSet::new();
                    for (r, every) in loops {
                        set.spawn(run_loop(store.clone(), r, every, token.clone()));
                    }
                    while set.join_next().await.is_some() {}
                }),
                Err(e) => tracing::error!("failed to start the sandbox controllers: {e}"),
            }
            let _ = done_tx.send(());
        });
    if let Err(e) = started {
        tracing::error!("failed to start the sandbox controllers' thread: {e}");
    }
    Controllers {
        cancel,
        done: Some(done_rx),
        recorder,
    }
}

async fn run_loop(
    store: Arc<Store>,
    mut r: Box<dyn Reconciler>,
    tick: Duration,
    cancel: CancellationToken,
) {
    let mut changes = store.subscribe_changes();
    loop {
        changes.borrow_and_update();
        // A bug tripped by one odd object must not stop the whole control plane.
        let pass = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.reconcile(&store)));
        if pass.is_err() {
            tracing::error!("a sandbox controller pass panicked; retrying on the next change");
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            res = changes.changed() => {
                if res.is_err() {
                    break;
                }
                // Let a burst of writes land before the next pass.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            _ = tokio::time::sleep(tick) => {}
        }
    }
}
