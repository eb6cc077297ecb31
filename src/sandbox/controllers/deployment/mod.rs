//! The deployment controller: ReplicaSets per template hash, revisions and rollbacks,
//! RollingUpdate and Recreate, proportional scaling, status and conditions
//! (after `pkg/controller/deployment` in kube-controller-manager).

mod status;

use std::sync::Arc;

use serde_json::{Value, json};

use status::{condition, new_condition, set_condition};

use super::events::{EventRecorder, Source};
use super::rollout::{fenceposts, max_scaled_down, new_rs_replicas};
use super::util::{
    controlled_by, creation_key, int, pod_active, selector_matches, spec_replicas, str_at,
};
use super::{Reconciler, SimConfig};
use crate::sandbox::hash::{POD_TEMPLATE_HASH, pod_template_hash, templates_equal_ignoring_hash};
use crate::sandbox::store::{DeleteOpts, ResKey, Store, StoreError, meta};

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

/// One deployment's working copy during a sync.
struct State {
    d: Value,
    rss: Vec<Value>,
    new: Option<usize>,
    replicas: i64,
    rolling: bool,
    surge: i64,
    unavailable: i64,
}

type Res<T> = Result<T, StoreError>;

/// A ReplicaSet's revision annotation as a number (0 when absent).
pub fn revision(obj: &Value) -> i64 {
    meta::annotation(obj, REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn rs_status(rs: &Value, field: &str) -> i64 {
    int(rs, &format!("/status/{field}")).unwrap_or(0)
}

fn sum(rss: &[Value], f: impl Fn(&Value) -> i64) -> i64 {
    rss.iter().map(f).sum()
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

    fn sync(&self, store: &Store, d: &Value, all_rss: &[Arc<Value>]) -> Res<()> {
        let uid = meta::uid(d);
        let mut rss: Vec<Value> = all_rss
            .iter()
            .filter(|rs| meta::namespace(rs) == meta::namespace(d) && controlled_by(rs, uid))
            .map(|rs| (**rs).clone())
            .collect();
        // Adopt orphaned ReplicaSets the selector matches, as `ClaimReplicaSets` does (for
        // instance after the Deployment was deleted with `--cascade=orphan` and recreated).
        if !meta::is_terminating(d) {
            for rs in all_rss.iter().filter(|rs| {
                meta::namespace(rs) == meta::namespace(d)
                    && meta::controller_uid(rs).is_none()
                    && !meta::is_terminating(rs)
                    && selector_matches(d.pointer("/spec/selector"), rs.pointer("/metadata/labels"))
            }) {
                let mut adopted = (**rs).clone();
                let refs = meta::metadata_mut(&mut adopted)
                    .entry("ownerReferences")
                    .or_insert_with(|| json!([]));
                if let Value::Array(a) = refs {
                    a.push(meta::controller_ref(d));
                }
                rss.push(store.update(&ResKey::replicasets(), adopted)?);
            }
        }
        rss.sort_by_key(creation_key);
        let replicas = spec_replicas(d);
        let rolling = str_at(d, "/spec/strategy/type") != "Recreate";
        let (surge, unavailable) = if rolling {
            fenceposts(
                d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
                d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
                replicas,
            )
        } else {
            (0, 0)
        };
        let mut st = State {
            d: d.clone(),
            rss,
            new: None,
            replicas,
            rolling,
            surge,
            unavailable,
        };
        if meta::is_terminating(d) {
            st.new = self.find_new(&st);
            return self.sync_status(store, &mut st);
        }
        self.sync_revision(store, &mut st, false)?;
        let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
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
        let template = st.d.pointer("/spec/template")?;
        st.rss.iter().position(|rs| {
            rs.pointer("/spec/template")
                .is_some_and(|t| templates_equal_ignoring_hash(t, template))
        })
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
            .map(|(_, rs)| revision(rs))
            .max()
            .unwrap_or(0);
        let new_revision = max_old + 1;
        if let Some(i) = st.new {
            let mut rs = st.rss[i].clone();
            self.copy_annotations(&st.d, &mut rs);
            let old_rev = revision(&rs);
            if old_rev < new_revision {
                meta::set_annotation(&mut rs, REVISION, &new_revision.to_string());
                if old_rev > 0 {
                    let history = match meta::annotation(&rs, REVISION_HISTORY) {
                        Some(h) if !h.is_empty() => format!("{h},{old_rev}"),
                        _ => old_rev.to_string(),
                    };
                    meta::set_annotation(&mut rs, REVISION_HISTORY, &history);
                }
            }
            if rs != st.rss[i] {
                st.rss[i] = store.update(&ResKey::replicasets(), rs)?;
            }
            let rev = meta::annotation(&st.rss[i], REVISION)
                .unwrap_or("")
                .to_owned();
            let mut d = st.d.clone();
            meta::set_annotation(&mut d, REVISION, &rev);
            let status = meta::object_field_mut(&mut d, "status");
            let mut status_v = Value::Object(std::mem::take(status));
            if condition(&status_v, "Progressing").is_none() {
                let msg = format!("Found new replica set \"{}\"", meta::name(&st.rss[i]));
                set_condition(
                    &mut status_v,
                    new_condition("Progressing", "True", "FoundNewReplicaSet", &msg),
                );
            }
            if let Value::Object(m) = status_v {
                *meta::object_field_mut(&mut d, "status") = m;
            }
            if d != st.d {
                st.d = store.update(&ResKey::deployments(), d)?;
            }
            return Ok(());
        }
        if !create {
            return Ok(());
        }
        self.create_new(store, st, new_revision)
    }

    fn copy_annotations(&self, d: &Value, rs: &mut Value) {
        let Some(anns) = d
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
        else {
            return;
        };
        for (k, v) in anns {
            if NOT_COPIED.contains(&k.as_str()) {
                continue;
            }
            if let Some(v) = v.as_str()
                && meta::annotation(rs, k) != Some(v)
            {
                meta::set_annotation(rs, k, v);
            }
        }
    }

    fn create_new(&self, store: &Store, st: &mut State, new_revision: i64) -> Res<()> {
        let d = &st.d;
        let collisions = int(d, "/status/collisionCount");
        let Some(mut template) = d.pointer("/spec/template").cloned() else {
            return Ok(());
        };
        let hash = pod_template_hash(&template, collisions);
        let labels = meta::metadata_mut(&mut template)
            .entry("labels")
            .or_insert_with(|| json!({}));
        if let Value::Object(l) = labels {
            l.insert(POD_TEMPLATE_HASH.into(), json!(hash));
        }
        let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
        meta::object_field_mut(&mut selector, "matchLabels")
            .insert(POD_TEMPLATE_HASH.into(), json!(hash));
        let name = format!("{}-{hash}", meta::name(d));
        let count = if st.rolling {
            new_rs_replicas(st.replicas, st.surge, sum(&st.rss, spec_replicas), 0)
        } else {
            st.replicas
        };
        let mut rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": meta::namespace(d),
                "labels": template.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
                "ownerReferences": [meta::controller_ref(d)],
            },
            "spec": {"replicas": count, "selector": selector, "template": template},
        });
        if let Some(mrs) = int(d, "/spec/minReadySeconds").filter(|m| *m > 0) {
            rs["spec"]["minReadySeconds"] = json!(mrs);
        }
        self.copy_annotations(d, &mut rs);
        meta::set_annotation(&mut rs, REVISION, &new_revision.to_string());
        meta::set_annotation(&mut rs, DESIRED_REPLICAS, &st.replicas.to_string());
        meta::set_annotation(&mut rs, MAX_REPLICAS, &(st.replicas + st.surge).to_string());
        let created = match store.create(&ResKey::replicasets(), rs) {
            Ok(c) => c,
            Err(StoreError::AlreadyExists { .. }) => {
                let existing = store.get(&ResKey::replicasets(), meta::namespace(d), &name);
                let ours = existing.as_ref().is_some_and(|e| {
                    controlled_by(e, meta::uid(d))
                        && e.pointer("/spec/template").is_some_and(|t| {
                            d.pointer("/spec/template")
                                .is_some_and(|dt| templates_equal_ignoring_hash(t, dt))
                        })
                });
                if !ours {
                    let mut d = st.d.clone();
                    meta::object_field_mut(&mut d, "status")
                        .insert("collisionCount".into(), json!(collisions.unwrap_or(0) + 1));
                    st.d = store.update(&ResKey::deployments(), d)?;
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if count > 0 {
            let msg = format!("Scaled up replica set {name} from 0 to {count}");
            self.rec
                .normal(store, &st.d, &self.source, "ScalingReplicaSet", &msg);
        }
        st.rss.push(created);
        st.new = Some(st.rss.len() - 1);
        let mut d = st.d.clone();
        meta::set_annotation(&mut d, REVISION, &new_revision.to_string());
        let mut status = Value::Object(meta::object_field_mut(&mut d, "status").clone());
        let msg = format!("Created new replica set \"{name}\"");
        set_condition(
            &mut status,
            new_condition("Progressing", "True", "NewReplicaSetCreated", &msg),
        );
        if let Value::Object(m) = status {
            *meta::object_field_mut(&mut d, "status") = m;
        }
        st.d = store.update(&ResKey::deployments(), d)?;
        Ok(())
    }

    fn is_scaling_event(&self, st: &State) -> bool {
        st.rss
            .iter()
            .filter(|rs| spec_replicas(rs) > 0)
            .filter_map(|rs| meta::annotation(rs, DESIRED_REPLICAS)?.parse::<i64>().ok())
            .any(|desired| desired != st.replicas)
    }

    /// Sets a ReplicaSet's size and replica annotations; true when the size changed.
    fn scale_rs(&self, store: &Store, st: &mut State, i: usize, to: i64) -> Res<bool> {
        let mut rs = st.rss[i].clone();
        let from = spec_replicas(&rs);
        let desired = st.replicas.to_string();
        let max = (st.replicas + st.surge).to_string();
        let ann_ok = meta::annotation(&rs, DESIRED_REPLICAS) == Some(desired.as_str())
            && meta::annotation(&rs, MAX_REPLICAS) == Some(max.as_str());
        if from == to && ann_ok {
            return Ok(false);
        }
        rs["spec"]["replicas"] = json!(to);
        meta::set_annotation(&mut rs, DESIRED_REPLICAS, &desired);
        meta::set_annotation(&mut rs, MAX_REPLICAS, &max);
        st.rss[i] = store.update(&ResKey::replicasets(), rs)?;
        if from != to {
            let dir = if from < to { "up" } else { "down" };
            let msg = format!(
                "Scaled {dir} replica set {} from {from} to {to}",
                meta::name(&st.rss[i])
            );
            self.rec
                .normal(store, &st.d, &self.source, "ScalingReplicaSet", &msg);
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
            let saturated = spec_replicas(rs) == st.replicas
                && rs_status(rs, "availableReplicas") == st.replicas;
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
                    creation_key(rb).cmp(&creation_key(ra))
                } else {
                    creation_key(ra).cmp(&creation_key(rb))
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
            o.sort_by_key(|i| creation_key(&st.rss[*i]));
            o
        };
        let old_pods: i64 = old.iter().map(|i| spec_replicas(&st.rss[*i])).sum();
        if old_pods > 0 {
            let max_down = max_scaled_down(
                sum(&st.rss, spec_replicas),
                st.replicas,
                st.unavailable.min(st.replicas),
                spec_replicas(&st.rss[n]),
                rs_status(&st.rss[n], "availableReplicas"),
            );
            if max_down > 0 {
                let mut cleaned = 0;
                for &i in &old {
                    if cleaned >= max_down {
                        break;
                    }
                    let spec = spec_replicas(&st.rss[i]);
                    let avail = rs_status(&st.rss[i], "availableReplicas");
                    if spec == 0 || avail >= spec {
                        continue;
                    }
                    let down = (max_down - cleaned).min(spec - avail);
                    self.scale_rs(store, st, i, spec - down)?;
                    cleaned += down;
                }
                let min_available = st.replicas - st.unavailable.min(st.replicas);
                let available = sum(&st.rss, |rs| rs_status(rs, "availableReplicas"));
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
            .map(|i| meta::uid(&st.rss[*i]).to_owned())
            .collect();
        let (pods, _) = store.list_arc(&ResKey::pods(), Some(meta::namespace(&st.d)));
        let old_running = pods.iter().any(|p| {
            meta::controller_uid(p).is_some_and(|u| old_uids.iter().any(|o| o == u))
                && (pod_active(p) || meta::is_terminating(p))
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
        let limit = int(&st.d, "/spec/revisionHistoryLimit")
            .unwrap_or(10)
            .max(0);
        let mut old: Vec<&Value> = self
            .old_indices(st)
            .into_iter()
            .map(|i| &st.rss[i])
            .filter(|rs| !meta::is_terminating(rs))
            .collect();
        let diff = old.len() as i64 - limit;
        if diff <= 0 {
            return Ok(());
        }
        old.sort_by_key(|rs| revision(rs));
        for rs in old.into_iter().take(diff as usize) {
            if spec_replicas(rs) != 0 || rs_status(rs, "replicas") != 0 {
                continue;
            }
            match store.delete(
                &ResKey::replicasets(),
                meta::namespace(rs),
                meta::name(rs),
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
        for d in deployments {
            if let Err(e) = self.sync(store, &d, &rss) {
                tracing::debug!("deployment {} not synced yet: {e}", meta::name(&d));
            }
        }
    }
}
