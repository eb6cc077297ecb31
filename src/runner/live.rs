//! The live goal source: watches on a real (or sandbox) cluster, goals judged by `check`.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::check::{
    self, Baseline, GoalContext, GoalStatus, capture_requirements, evaluate, http_target,
    merge_specs, requirements,
};
use crate::cluster::{Cluster, ClusterEvent, WatchSet};
use crate::lesson::{Goal, Step};
use crate::runner::machine::GoalReport;
use crate::runner::source::{GoalSource, SourceError};

/// How long a step's first list of objects may take before checking starts anyway.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP goals are re-probed at most this often, however many watch events arrive.
const HTTP_MIN_INTERVAL: Duration = Duration::from_millis(1500);

/// Goal statuses from a cluster's watches.
pub struct LiveSource {
    cluster: Cluster,
    namespace: String,
    watch: Option<WatchSet>,
    ctx: GoalContext,
    http_cache: BTreeMap<usize, GoalStatus>,
    last_probe: Option<Instant>,
}

impl LiveSource {
    /// A source on `cluster`, looking only in `namespace`.
    pub fn new(cluster: Cluster, namespace: String) -> Self {
        LiveSource {
            ctx: GoalContext::new(namespace.clone(), Baseline::default()),
            cluster,
            namespace,
            watch: None,
            http_cache: BTreeMap::new(),
            last_probe: None,
        }
    }

    async fn http_status(
        &mut self,
        index: usize,
        goal: &crate::lesson::HttpGoal,
        world: &check::World,
        probe: bool,
    ) -> GoalStatus {
        // A missing Service (or port) shows at once, whatever the cache holds.
        if let Err(status) = http_target(goal, world, &self.namespace) {
            return status;
        }
        if !probe && let Some(cached) = self.http_cache.get(&index) {
            return cached.clone();
        }
        let status = self.cluster.check_http(goal, world, &self.namespace).await;
        self.http_cache.insert(index, status.clone());
        status
    }
}

impl GoalSource for LiveSource {
    async fn begin_step(&mut self, step: &Step) -> Result<(), SourceError> {
        self.watch = None;
        self.http_cache.clear();
        self.last_probe = None;
        let ns = &self.namespace;
        let specs = merge_specs(
            step.goals
                .iter()
                .flat_map(|goal| requirements(goal, ns))
                .chain(
                    step.capture
                        .iter()
                        .flat_map(|c| capture_requirements(c, ns)),
                ),
        );
        let watch = self.cluster.watch(specs).await.map_err(|err| SourceError {
            step: step.id.clone(),
            source: err.into(),
        })?;
        if let Err(err) = watch.wait_synced(SYNC_TIMEOUT).await {
            tracing::warn!(%err, "checking starts before every watch listed its objects");
        }
        let baseline = Baseline::capture(&watch.world(), &step.goals, ns);
        self.ctx = GoalContext::new(ns.clone(), baseline);
        self.watch = Some(watch);
        Ok(())
    }

    async fn next_cluster_event(&mut self) -> ClusterEvent {
        let Some(watch) = &mut self.watch else {
            return std::future::pending().await;
        };
        match watch.next_event().await {
            Some(ClusterEvent::Restored) => {
                // A restarted sandbox comes back with new credentials: later steps' watches
                // and HTTP probes need a fresh client too.
                if let Some(Ok(fresh)) = self.cluster.reconnect().await {
                    self.cluster = fresh;
                }
                ClusterEvent::Restored
            }
            Some(event) => event,
            None => std::future::pending().await,
        }
    }

    async fn evaluate(&mut self, step: &Step) -> Vec<GoalReport> {
        let world = self.watch.as_ref().map(WatchSet::world).unwrap_or_default();
        let probe = self
            .last_probe
            .is_none_or(|at| at.elapsed() >= HTTP_MIN_INTERVAL);
        let mut reports = Vec::with_capacity(step.goals.len());
        let mut probed = false;
        for (index, goal) in step.goals.iter().enumerate() {
            let status = match goal {
                Goal::Http(http) => {
                    probed = true;
                    self.http_status(index, http, &world, probe).await
                }
                other => evaluate(other, &world, &self.ctx),
            };
            reports.push(report(status));
        }
        if probed && probe {
            self.last_probe = Some(Instant::now());
        }
        reports
    }

    fn read_captures(&mut self, step: &Step) -> Result<BTreeMap<String, String>, String> {
        let world = self.watch.as_ref().map(WatchSet::world).unwrap_or_default();
        let denied = self
            .watch
            .as_ref()
            .map(WatchSet::denied)
            .unwrap_or_default();
        let ns = &self.namespace;
        step.capture
            .iter()
            // A value the credentials may not read is left out (the refusal was reported when
            // the watch was refused) rather than holding the step back forever.
            .filter(|capture| {
                !capture_requirements(capture, ns).iter().any(|spec| {
                    denied.contains(&(
                        check::TypeKey::new(&spec.api_version, &spec.kind),
                        spec.namespace.clone(),
                    ))
                })
            })
            .map(|capture| {
                check::capture::read(capture, &world, &self.namespace)
                    .map(|value| (capture.name.clone(), value))
                    .map_err(|err| format!("{}: {err}", capture.name))
            })
            .collect()
    }
}

fn report(status: GoalStatus) -> GoalReport {
    GoalReport {
        met: status.met,
        summary: status.summary,
        details: status.details.iter().map(ToString::to_string).collect(),
        explain_failure: status.explain_failure,
    }
}
