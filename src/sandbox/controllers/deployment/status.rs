//! Deployment status: replica counts and the Available and Progressing conditions
//! (`syncRolloutStatus` and `calculateStatus`).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};

use super::{DeploymentController, Res, Rs, State, spec_replicas, sum};
use crate::sandbox::objects::{nonzero, with_status};
use crate::sandbox::store::meta;
use crate::sandbox::store::{ResKey, Store};

pub(super) fn condition<'a>(
    status: &'a DeploymentStatus,
    kind: &str,
) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some(kind))
}

pub(super) fn new_condition(
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
) -> DeploymentCondition {
    let now = meta::now_time();
    DeploymentCondition {
        type_: Some(kind.to_owned()),
        status: Some(status.to_owned()),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
    }
}

/// `SetDeploymentCondition`: no-op when status and reason are unchanged; keeps the
/// transition time while the status is unchanged; the changed condition moves last.
pub(super) fn set_condition(status: &mut DeploymentStatus, mut cond: DeploymentCondition) {
    let kind = cond.type_.clone().unwrap_or_default();
    if let Some(cur) = condition(status, &kind) {
        if cur.status == cond.status && cur.reason == cond.reason {
            return;
        }
        if cur.status == cond.status {
            cond.last_transition_time = cur.last_transition_time.clone();
        }
    }
    let list = status.conditions.get_or_insert_with(Vec::new);
    list.retain(|c| c.type_ != cond.type_);
    list.push(cond);
}

/// A count of a status, 0 when unset.
fn count(n: Option<i32>) -> i64 {
    n.map_or(0, i64::from)
}

impl DeploymentController {
    pub(super) fn calculate_status(&self, st: &State) -> DeploymentStatus {
        let available = sum(&st.rss, Rs::available);
        let unavailable = (sum(&st.rss, spec_replicas) - available).max(0);
        let mut status = DeploymentStatus {
            observed_generation: st.d.generation.filter(|g| *g != 0),
            replicas: nonzero(sum(&st.rss, |rs| i64::from(rs.status.replicas))),
            updated_replicas: nonzero(st.new.map_or(0, |n| st.rss[n].status.replicas)),
            ready_replicas: nonzero(sum(&st.rss, |rs| count(rs.status.ready_replicas))),
            available_replicas: nonzero(available),
            unavailable_replicas: nonzero(unavailable),
            // Unlike the other counts, present even when zero (kube-controller-manager 1.37).
            terminating_replicas: Some(
                i32::try_from(sum(&st.rss, |rs| count(rs.status.terminating_replicas)))
                    .unwrap_or(i32::MAX),
            ),
            conditions: st.d.status.conditions.clone(),
            collision_count: st.d.status.collision_count,
        };
        let max_unavailable = if st.rolling && st.replicas > 0 {
            st.unavailable.min(st.replicas)
        } else {
            0
        };
        let cond = if available >= st.replicas - max_unavailable {
            new_condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            )
        } else {
            new_condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        };
        set_condition(&mut status, cond);
        status
    }

    pub(super) fn complete(&self, st: &State, status: &DeploymentStatus) -> bool {
        count(status.updated_replicas) == st.replicas
            && count(status.replicas) == st.replicas
            && count(status.available_replicas) == st.replicas
            && status.observed_generation.unwrap_or(0) >= st.d.generation.unwrap_or(0)
    }

    /// `syncRolloutStatus`: status counts plus the Progressing condition.
    pub(super) fn sync_status(&self, store: &Store, st: &mut State) -> Res<()> {
        let mut status = self.calculate_status(st);
        let old = st.d.status.clone();
        let cur = condition(&old, "Progressing").cloned();
        let is_complete = status.replicas == status.updated_replicas
            && cur
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some("NewReplicaSetAvailable"));
        let deadline = st.d.spec.progress_deadline_seconds.unwrap_or(600);
        let new_name = st.new.map(|n| st.rss[n].name.clone());
        if deadline < i64::from(i32::MAX)
            && !is_complete
            && let Some(new_name) = new_name
        {
            let progressing = count(status.updated_replicas) > count(old.updated_replicas)
                || (count(status.replicas) - count(status.updated_replicas))
                    < (count(old.replicas) - count(old.updated_replicas))
                || count(status.ready_replicas) > count(old.ready_replicas)
                || count(status.available_replicas) > count(old.available_replicas);
            if self.complete(st, &status) {
                let msg = format!("ReplicaSet \"{new_name}\" has successfully progressed.");
                set_condition(
                    &mut status,
                    new_condition("Progressing", "True", "NewReplicaSetAvailable", &msg),
                );
            } else if progressing {
                let msg = format!("ReplicaSet \"{new_name}\" is progressing.");
                let mut c = new_condition("Progressing", "True", "ReplicaSetUpdated", &msg);
                if let Some(cur) = &cur
                    && cur.status.as_deref() == Some("True")
                {
                    c.last_transition_time = cur.last_transition_time.clone();
                }
                if let Some(list) = status.conditions.as_mut() {
                    list.retain(|c| c.type_.as_deref() != Some("Progressing"));
                }
                set_condition(&mut status, c);
            } else if self.timed_out(&status, deadline) {
                let msg = format!("ReplicaSet \"{new_name}\" has timed out progressing.");
                set_condition(
                    &mut status,
                    new_condition("Progressing", "False", "ProgressDeadlineExceeded", &msg),
                );
            }
        }
        if status != old {
            let d = with_status(&st.d.json, &status);
            st.d = super::Read::new(store.update(&ResKey::deployments(), d)?);
        }
        Ok(())
    }

    pub(super) fn timed_out(&self, status: &DeploymentStatus, deadline: i64) -> bool {
        let Some(c) = condition(status, "Progressing") else {
            return false;
        };
        match c.reason.as_deref() {
            Some("NewReplicaSetAvailable") => false,
            Some("ProgressDeadlineExceeded") => true,
            _ => c.last_update_time.as_ref().is_some_and(|from| {
                let wait = self.sim.scaled(Duration::from_secs(deadline.max(0) as u64));
                let elapsed = jiff::Timestamp::now().as_millisecond() - from.0.as_millisecond();
                elapsed > wait.as_millis() as i64
            }),
        }
    }
}
