//! The deployment controller: ReplicaSets per template hash, revisions and rollbacks,
//! RollingUpdate and Recreate, proportional scaling, status and conditions
//! (after `pkg/controller/deployment` in kube-controller-manager).

mod status;

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DeploymentStatus, ReplicaSetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use status::{condition, new_condition, set_condition};

use super::events::{EventRecorder, Source};
use super::rollout::{fenceposts, max_scaled_down, new_rs_replicas};
use super::{Reconciler, SimConfig};
use crate::sandbox::hash::{POD_TEMPLATE_HASH, pod_template_hash, templates_equal_ignoring_hash};
use crate::sandbox::objects::{
    Deployment, Pod, ReplicaSet, Viewed, WorkloadSpec, merged, owned_map, pod_active, to_json,
    view_of, with_status,
};
use crate::sandbox::store::meta::{self, Meta};
use crate::sandbox::store::{DeleteOpts, ResKey, Store, StoreError};

/// The revision a ReplicaSet (and its Deployment) is at.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a reused ReplicaSet had, comma separated.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// Replicas plus surge when the ReplicaSet was last scaled.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// Deployment annotations not copied onto ReplicaSets.
const NOT_COPIED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// Reconciles every Deployment.
pub struct DeploymentController {
    rec: Arc<EventRecorder>,
    sim: SimConfig,
    source: Source,
}

/// What a sync reads of an object, owned so that it survives the object's updates.
struct Read<T> {
    json: Value,
    name: String,
    uid: String,
    generation: Option<i64>,
    created: String,
    terminating: bool,
    annotations: BTreeMap<String, String>,
    spec: WorkloadSpec,
    status: T,
}

impl<T: Clone + Default + for<'de> serde::Deserialize<'de>> Read<T> {
    fn new(json: Value) -> Self {
        let v: crate::sandbox::objects::Object<WorkloadSpec, T> = view_of(&json);
        let m = &v.metadata;
        Read {
            name: m.name.to_owned(),
            uid: m.uid.to_owned(),
            generation: m.generation,
            created: m.creation_timestamp.to_owned(),
            terminating: m.is_terminating(),
            annotations: owned_map(&m.annotations),
            spec: v.spec.clone(),
            status: v.status.clone(),
            json,
        }
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }

    /// Creation time then name, for "oldest first" orderings.
    fn creation_key(&self) -> (&str, &str) {
        (&self.created, &self.name)
    }

    /// The revision annotation as a number (0 when absent).
    fn revision(&self) -> i64 {
        self.annotation(REVISION)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
    }
}

type Rs = Read<ReplicaSetStatus>;

impl Rs {
    fn available(&self) -> i64 {
        self.status.available_replicas.map_or(0, i64::from)
    }
}

/// One deployment's working copy during a sync.
struct State {
    d: Read<DeploymentStatus>,
    rss: Vec<Rs>,
    new: Option<usize>,
    replicas: i64,
    rolling: bool,
    surge: i64,
    unavailable: i64,
}

type Res<T> = Result<T, StoreError>;

fn sum(rss: &[Rs], f: impl Fn(&Rs) -> i64) -> i64 {
    rss.iter().map(f).sum()
}

fn spec_replicas(rs: &Rs) -> i64 {
    rs.spec.replicas()
}

impl DeploymentController {
    /// A controller recording events through `rec`.
    pub fn new(rec: Arc<EventRecorder>, sim: SimConfig) -> Self {
        DeploymentController {
            rec,
            sim,
            source: Source::component("deployment-controller"),
        }
    }

    fn sync(
        &self,
        store: &Store,
        d: &Viewed<Deployment>,
        all_rss: &[Viewed<ReplicaSet>],
    ) -> Res<()> {
        let (uid, ns) = (d.metadata.uid, d.metadata.namespace);
        let mut rss: Vec<Rs> = all_rss
            .iter()
            .filter(|rs| rs.metadata.namespace == ns && rs.metadata.controlled_by(uid))
            .map(|rs| Rs::new(rs.json.clone()))
            .collect();
        // Adopt orphaned ReplicaSets the selector matches, as `ClaimReplicaSets` does (for
        // instance after the Deployment was deleted with `--cascade=orphan` and recreated).
        if !d.metadata.is_terminating() {
            let selector = d.spec.label_selector();
            for rs in all_rss.iter().filter(|rs| {
                rs.metadata.namespace == ns
                    && rs.metadata.controller_uid().is_none()
                    && !rs.metadata.is_terminating()
                    && selector
                        .as_ref()
                        .is_some_and(|s| s.matches(&rs.metadata.labels))
            }) {
                let mut adopted = rs.json.clone();
                meta::add_owner(
                    &mut adopted,
                    meta::controller_ref(d.api_version, d.kind, &d.metadata),
                );
                rss.push(Rs::new(store.update(&ResKey::replicasets(), adopted)?));
            }
        }
        rss.sort_by(|a, b| a.creation_key().cmp(&b.creation_key()));
        let replicas = d.spec.replicas();
        let rolling = d.spec.strategy.type_.as_deref() != Some("Recreate");
        let (surge, unavailable) = if rolling {
            let ru = d.spec.strategy.rolling_update.as_ref();
            fenceposts(
                ru.and_then(|r| r.max_surge.as_ref()),
                ru.and_then(|r| r.max_unavailable.as_ref()),
                replicas,
            )
        } else {
            (0, 0)
        };
        let mut st = State {
            d: Read::new(d.json.clone()),
            rss,
            new: None,
            replicas,
            rolling,
            surge,
            unavailable,
        };
        if d.metadata.is_terminating() {
            st.new = self.find_new(&st);
            return self.sync_status(store, &mut st);
        }
        self.sync_revision(store, &mut st, false)?;
        let paused = d.spec.paused == Some(true);
        if paused || self.is_scaling_event(&st) {
            self.scale(store, &mut st)?;
            if !paused && self.complete(&st, &self.calculate_status(&st)) {
                self.cleanup(store, &st)?;
            }
            return self.sync_status(store, &mut st);
        }
        if rolling {
            self.rollout_rolling(store, &mut st)
        } else {
            self.rollout_recreate(store, &mut st)
        }
    }

    fn find_new(&self, st: &State) -> Option<usize> {
        let template = st.d.spec.template.as_ref()?;
        st.rss.iter().position(|rs| {
            rs.spec
                .template
                .as_ref()
                .is_some_and(|t| templates_equal_ignoring_hash(t, template))
        })
    }

    /// Writes the deployment with its revision annotation at `rev` and `status`, when that
    /// changes anything.
    fn put_deployment(
        &self,
        store: &Store,
        st: &mut State,
        rev: &str,
        status: &DeploymentStatus,
    ) -> Res<()> {
        let mut d = st.d.json.clone();
        meta::set_annotation(&mut d, REVISION, rev);
        if *status != st.d.status {
            d = with_status(&d, status);
        }
        if d != st.d.json {
            st.d = Read::new(store.update(&ResKey::deployments(), d)?);
        }
        Ok(())
    }

    /// `getAllReplicaSetsAndSyncRevision`: finds (or creates) the new ReplicaSet and keeps
    /// revisions in order.
    fn sync_revision(&self, store: &Store, st: &mut State, create: bool) -> Res<()> {
        st.new = self.find_new(st);
        let max_old = st
            .rss
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != st.new)
            .map(|(_, rs)| rs.revision())
            .max()
            .unwrap_or(0);
        let new_revision = max_old + 1;
        if let Some(i) = st.new {
            let mut rs = st.rss[i].json.clone();
            self.copy_annotations(&st.d, &mut rs);
            let old_rev = st.rss[i].revision();
            if old_rev < new_revision {
                meta::set_annotation(&mut rs, REVISION, &new_revision.to_string());
                if old_rev > 0 {
                    let history = match st.rss[i].annotation(REVISION_HISTORY) {
                        Some(h) if !h.is_empty() => format!("{h},{old_rev}"),
                        _ => old_rev.to_string(),
                    };
                    meta::set_annotation(&mut rs, REVISION_HISTORY, &history);
                }
            }
            if rs != st.rss[i].json {
                st.rss[i] = Rs::new(store.update(&ResKey::replicasets(), rs)?);
            }
            let rev = st.rss[i].annotation(REVISION).unwrap_or("").to_owned();
            let mut status = st.d.status.clone();
            if condition(&status, "Progressing").is_none() {
                let msg = format!("Found new replica set \"{}\"", st.rss[i].name);
                set_condition(
                    &mut status,
                    new_condition("Progressing", "True", "FoundNewReplicaSet", &msg),
                );
            }
            return self.put_deployment(store, st, &rev, &status);
        }
        if !create {
            return Ok(());
        }
        self.create_new(store, st, new_revision)
    }

    fn copy_annotations(&self, d: &Read<DeploymentStatus>, rs: &mut Value) {
        for (k, v) in &d.annotations {
            if NOT_COPIED.contains(&k.as_str()) {
                continue;
            }
            let differs = Meta::of(rs).annotation(k) != Some(v.as_str());
            if differs {
                meta::set_annotation(rs, k, v);
            }
        }
    }

    fn create_new(&self, store: &Store, st: &mut State, new_revision: i64) -> Res<()> {
        let d = &st.d;
        let collisions = d.status.collision_count;
        let Some(mut template) = d.spec.template.clone() else {
            return Ok(());
        };
        let hash = pod_template_hash(&template, collisions.map(i64::from));
        meta::set_label(&mut template, POD_TEMPLATE_HASH, &hash);
        let mut selector = d.spec.selector.clone().unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.to_owned(), hash.clone());
        let name = format!("{}-{hash}", d.name);
        let ns = Meta::of(&d.json).namespace.to_owned();
        let count = if st.rolling {
            new_rs_replicas(st.replicas, st.surge, sum(&st.rss, spec_replicas), 0)
        } else {
            st.replicas
        };
        let owner: Deployment = view_of(&d.json);
        let metadata = ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(owned_map(&Meta::of(&template).labels)),
            owner_references: Some(vec![meta::controller_of(
                owner.api_version,
                owner.kind,
                &owner.metadata,
            )]),
            ..ObjectMeta::default()
        };
        let mut spec =
            json!({"replicas": count, "selector": to_json(&selector), "template": template});
        if let Some(mrs) = d.spec.min_ready_seconds.filter(|m| *m > 0) {
            spec = merged(&spec, &json!({ "minReadySeconds": mrs }));
        }
        let mut rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": to_json(&metadata),
            "spec": spec,
        });
        self.copy_annotations(d, &mut rs);
        meta::set_annotation(&mut rs, REVISION, &new_revision.to_string());
        meta::set_annotation(&mut rs, DESIRED_REPLICAS, &st.replicas.to_string());
        meta::set_annotation(&mut rs, MAX_REPLICAS, &(st.replicas + st.surge).to_string());
        let created = match store.create(&ResKey::replicasets(), rs) {
            Ok(c) => c,
            Err(StoreError::AlreadyExists { .. }) => {
                let existing = store.get(&ResKey::replicasets(), &ns, &name);
                let ours = existing.as_ref().is_some_and(|e| {
                    let e: ReplicaSet = view_of(e);
                    e.metadata.controlled_by(&d.uid)
                        && e.spec.template.as_ref().is_some_and(|t| {
                            d.spec
                                .template
                                .as_ref()
                                .is_some_and(|dt| templates_equal_ignoring_hash(t, dt))
                        })
                });
                if !ours {
                    let mut status = d.status.clone();
                    status.collision_count = Some(collisions.unwrap_or(0) + 1);
                    let updated = with_status(&d.json, &status);
                    st.d = Read::new(store.update(&ResKey::deployments(), updated)?);
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if count > 0 {
            let msg = format!("Scaled up replica set {name} from 0 to {count}");
            self.rec
                .normal(store, &st.d.json, &self.source, "ScalingReplicaSet", &msg);
        }
        st.rss.push(Rs::new(created));
        st.new = Some(st.rss.len() - 1);
        let mut status = st.d.status.clone();
        let msg = format!("Created new replica set \"{name}\"");
        set_condition(
            &mut status,
            new_condition("Progressing", "True", "NewReplicaSetCreated", &msg),
        );
        let mut d = with_status(&st.d.json, &status);
        meta::set_annotation(&mut d, REVISION, &new_revision.to_string());
        st.d = Read::new(store.update(&ResKey::deployments(), d)?);
        Ok(())
    }

    fn is_scaling_event(&self, st: &State) -> bool {
        st.rss
            .iter()
            .filter(|rs| spec_replicas(rs) > 0)
            .filter_map(|rs| rs.annotation(DESIRED_REPLICAS)?.parse::<i64>().ok())
            .any(|desired| desired != st.replicas)
    }

    /// Sets a ReplicaSet's size and replica annotations; true when the size changed.
    fn scale_rs(&self, store: &Store, st: &mut State, i: usize, to: i64) -> Res<bool> {
        let rs = &st.rss[i];
        let from = spec_replicas(rs);
        let desired = st.replicas.to_string();
        let max = (st.replicas + st.surge).to_string();
        let ann_ok = rs.annotation(DESIRED_REPLICAS) == Some(desired.as_str())
            && rs.annotation(MAX_REPLICAS) == Some(max.as_str());
        if from == to && ann_ok {
            return Ok(false);
        }
        let mut json = merged(&rs.json, &json!({"spec": {"replicas": to}}));
        meta::set_annotation(&mut json, DESIRED_REPLICAS, &desired);
        meta::set_annotation(&mut json, MAX_REPLICAS, &max);
        st.rss[i] = Rs::new(store.update(&ResKey::replicasets(), json)?);
        if from != to {
            let dir = if from < to { "up" } else { "down" };
            let msg = format!(
                "Scaled {dir} replica set {} from {from} to {to}",
                st.rss[i].name
            );
            self.rec
                .normal(store, &st.d.json, &self.source, "ScalingReplicaSet", &msg);
        }
        Ok(from != to)
    }

    fn old_indices(&self, st: &State) -> Vec<usize> {
        (0..st.rss.len()).filter(|i| Some(*i) != st.new).collect()
    }

    /// `sync`: scaling without a template change, proportionally over active ReplicaSets.
    fn scale(&self, store: &Store, st: &mut State) -> Res<()> {
        let active: Vec<usize> = (0..st.rss.len())
            .filter(|i| spec_replicas(&st.rss[*i]) > 0)
            .collect();
        let target = match active.len() {
            1 => Some(active[0]),
            0 => st.new.or_else(|| st.rss.len().checked_sub(1)),
            _ => None,
        };
        if let Some(i) = target {
            self.scale_rs(store, st, i, st.replicas)?;
            return Ok(());
        }
        if let Some(n) = st.new {
            let rs = &st.rss[n];
            let saturated = spec_replicas(rs) == st.replicas && rs.available() == st.replicas;
            if saturated {
                for i in self.old_indices(st) {
                    self.scale_rs(store, st, i, 0)?;
                }
                return Ok(());
            }
        }
        if !st.rolling {
            return Ok(());
        }
        let allowed = if st.replicas > 0 {
            st.replicas + st.surge
        } else {
            0
        };
        let total: i64 = active.iter().map(|i| spec_replicas(&st.rss[*i])).sum();
        let to_add = allowed - total;
        if to_add == 0 || total == 0 {
            return Ok(());
        }
        let mut order = active.clone();
        order.sort_by(|a, b| {
            let (ra, rb) = (&st.rss[*a], &st.rss[*b]);
            spec_replicas(rb).cmp(&spec_replicas(ra)).then_with(|| {
                if to_add > 0 {
                    rb.creation_key().cmp(&ra.creation_key())
                } else {
                    ra.creation_key().cmp(&rb.creation_key())
                }
            })
        });
        let mut targets: Vec<(usize, i64)> = order
            .iter()
            .map(|i| {
                let r = spec_replicas(&st.rss[*i]);
                (*i, r + to_add * r / total)
            })
            .collect();
        let given: i64 = targets
            .iter()
            .map(|(i, t)| t - spec_replicas(&st.rss[*i]))
            .sum();
        if let Some(first) = targets.first_mut() {
            first.1 += to_add - given;
        }
        for (i, t) in targets {
            self.scale_rs(store, st, i, t.max(0))?;
        }
        Ok(())
    }

    fn rollout_rolling(&self, store: &Store, st: &mut State) -> Res<()> {
        self.sync_revision(store, st, true)?;
        let Some(n) = st.new else {
            return self.sync_status(store, st);
        };
        let cur = spec_replicas(&st.rss[n]);
        if cur != st.replicas {
            let to = if cur > st.replicas {
                st.replicas
            } else {
                new_rs_replicas(st.replicas, st.surge, sum(&st.rss, spec_replicas), cur)
            };
            if self.scale_rs(store, st, n, to)? {
                return self.sync_status(store, st);
            }
        }
        let old = {
            let mut o = self.old_indices(st);
            o.sort_by(|a, b| st.rss[*a].creation_key().cmp(&st.rss[*b].creation_key()));
            o
        };
        let old_pods: i64 = old.iter().map(|i| spec_replicas(&st.rss[*i])).sum();
        if old_pods > 0 {
            let max_down = max_scaled_down(
                sum(&st.rss, spec_replicas),
                st.replicas,
                st.unavailable.min(st.replicas),
                spec_replicas(&st.rss[n]),
                st.rss[n].available(),
            );
            if max_down > 0 {
                let mut cleaned = 0;
                for &i in &old {
                    if cleaned >= max_down {
                        break;
                    }
                    let spec = spec_replicas(&st.rss[i]);
                    let avail = st.rss[i].available();
                    if spec == 0 || avail >= spec {
                        continue;
                    }
                    let down = (max_down - cleaned).min(spec - avail);
                    self.scale_rs(store, st, i, spec - down)?;
                    cleaned += down;
                }
                let min_available = st.replicas - st.unavailable.min(st.replicas);
                let available = sum(&st.rss, Rs::available);
                let mut scaled = 0;
                if available > min_available {
                    let total = available - min_available;
                    for &i in &old {
                        if scaled >= total {
                            break;
                        }
                        let spec = spec_replicas(&st.rss[i]);
                        if spec == 0 {
                            continue;
                        }
                        let down = spec.min(total - scaled);
                        self.scale_rs(store, st, i, spec - down)?;
                        scaled += down;
                    }
                }
                if cleaned + scaled > 0 {
                    return self.sync_status(store, st);
                }
            }
        }
        if self.complete(st, &self.calculate_status(st)) {
            self.cleanup(store, st)?;
        }
        self.sync_status(store, st)
    }

    fn rollout_recreate(&self, store: &Store, st: &mut State) -> Res<()> {
        let mut scaled = false;
        for i in self.old_indices(st) {
            if spec_replicas(&st.rss[i]) > 0 {
                scaled |= self.scale_rs(store, st, i, 0)?;
            }
        }
        if scaled {
            return self.sync_status(store, st);
        }
        let old_uids: Vec<String> = self
            .old_indices(st)
            .iter()
            .map(|i| st.rss[*i].uid.clone())
            .collect();
        let ns = Meta::of(&st.d.json).namespace.to_owned();
        let (pods, _) = store.list_arc(&ResKey::pods(), Some(&ns));
        let old_running = pods.iter().any(|p| {
            let p: Pod = view_of(p);
            p.metadata
                .controller_uid()
                .is_some_and(|u| old_uids.iter().any(|o| o == u))
                && (pod_active(&p) || p.metadata.is_terminating())
        });
        if old_running {
            return self.sync_status(store, st);
        }
        if st.new.is_none() {
            self.sync_revision(store, st, true)?;
        }
        if let Some(n) = st.new
            && self.scale_rs(store, st, n, st.replicas)?
        {
            return self.sync_status(store, st);
        }
        if self.complete(st, &self.calculate_status(st)) {
            self.cleanup(store, st)?;
        }
        self.sync_status(store, st)
    }

    /// Deletes old, empty ReplicaSets beyond `revisionHistoryLimit`.
    fn cleanup(&self, store: &Store, st: &State) -> Res<()> {
        let limit = st.d.spec.revision_history_limit.unwrap_or(10).max(0);
        let mut old: Vec<&Rs> = self
            .old_indices(st)
            .into_iter()
            .map(|i| &st.rss[i])
            .filter(|rs| !rs.terminating)
            .collect();
        let diff = old.len() as i64 - limit;
        if diff <= 0 {
            return Ok(());
        }
        old.sort_by_key(|rs| rs.revision());
        for rs in old.into_iter().take(diff as usize) {
            if spec_replicas(rs) != 0 || rs.status.replicas != 0 {
                continue;
            }
            let ns = Meta::of(&rs.json).namespace.to_owned();
            match store.delete(
                &ResKey::replicasets(),
                &ns,
                &rs.name,
                &DeleteOpts::default(),
            ) {
                Ok(_) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Reconciler for DeploymentController {
    fn reconcile(&mut self, store: &Store) {
        let (deployments, _) = store.list_arc(&ResKey::deployments(), None);
        let (rss, _) = store.list_arc(&ResKey::replicasets(), None);
        let rss: Vec<Viewed<ReplicaSet>> = rss.iter().map(|rs| Viewed::of(rs)).collect();
        for d in &deployments {
            let d: Viewed<Deployment> = Viewed::of(d);
            if let Err(e) = self.sync(store, &d, &rss) {
                tracing::debug!("deployment {} not synced yet: {e}", d.metadata.name);
            }
        }
    }
}
