//! Deployment status: replica counts and the Available and Progressing conditions
//! (`syncRolloutStatus` and `calculateStatus`).

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{DeploymentController, Res, State, rs_status, sum};
use crate::sandbox::controllers::util::{int, spec_replicas, str_at};
use crate::sandbox::store::{ResKey, Store, meta};

pub(super) fn condition<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| str_at(c, "/type") == kind)
}

pub(super) fn new_condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    let now = meta::now_rfc3339();
    json!({"type": kind, "status": status, "lastUpdateTime": now,
           "lastTransitionTime": now, "reason": reason, "message": message})
}

/// `SetDeploymentCondition`: no-op when status and reason are unchanged; keeps the
/// transition time while the status is unchanged; the changed condition moves last.
pub(super) fn set_condition(status: &mut Value, mut cond: Value) {
    let kind = str_at(&cond, "/type").to_owned();
    if let Some(cur) = condition(status, &kind) {
        if cur.get("status") == cond.get("status") && cur.get("reason") == cond.get("reason") {
            return;
        }
        if cur.get("status") == cond.get("status") {
            cond["lastTransitionTime"] = cur["lastTransitionTime"].clone();
        }
    }
    if !status.is_object() {
        *status = json!({});
    }
    let Some(m) = status.as_object_mut() else {
        return;
    };
    let list = m.entry("conditions").or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    if let Value::Array(a) = list {
        a.retain(|c| str_at(c, "/type") != kind);
        a.push(cond);
    }
}

impl DeploymentController {
    pub(super) fn calculate_status(&self, st: &State) -> Value {
        let available = sum(&st.rss, |rs| rs_status(rs, "availableReplicas"));
        let unavailable = (sum(&st.rss, spec_replicas) - available).max(0);
        let mut status = Map::new();
        let mut put = |k: &str, v: i64| {
            if v != 0 {
                status.insert(k.into(), json!(v));
            }
        };
        put(
            "observedGeneration",
            int(&st.d, "/metadata/generation").unwrap_or(0),
        );
        put("replicas", sum(&st.rss, |rs| rs_status(rs, "replicas")));
        put(
            "updatedReplicas",
            st.new.map_or(0, |n| rs_status(&st.rss[n], "replicas")),
        );
        put(
            "readyReplicas",
            sum(&st.rss, |rs| rs_status(rs, "readyReplicas")),
        );
        put("availableReplicas", available);
        put("unavailableReplicas", unavailable);
        // Unlike the other counts, present even when zero (kube-controller-manager 1.37).
        status.insert(
            "terminatingReplicas".into(),
            json!(sum(&st.rss, |rs| rs_status(rs, "terminatingReplicas"))),
        );
        if let Some(c) = st.d.pointer("/status/conditions") {
            status.insert("conditions".into(), c.clone());
        }
        if let Some(c) = st.d.pointer("/status/collisionCount") {
            status.insert("collisionCount".into(), c.clone());
        }
        let mut status = Value::Object(status);
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

    pub(super) fn complete(&self, st: &State, status: &Value) -> bool {
        let g = |k: &str| int(status, &format!("/{k}")).unwrap_or(0);
        g("updatedReplicas") == st.replicas
            && g("replicas") == st.replicas
            && g("availableReplicas") == st.replicas
            && g("observedGeneration") >= int(&st.d, "/metadata/generation").unwrap_or(0)
    }

    /// `syncRolloutStatus`: status counts plus the Progressing condition.
    pub(super) fn sync_status(&self, store: &Store, st: &mut State) -> Res<()> {
        let mut status = self.calculate_status(st);
        let old = st.d.get("status").cloned().unwrap_or(json!({}));
        let cur = condition(&old, "Progressing").cloned();
        let g = |s: &Value, k: &str| int(s, &format!("/{k}")).unwrap_or(0);
        let is_complete = g(&status, "replicas") == g(&status, "updatedReplicas")
            && cur
                .as_ref()
                .is_some_and(|c| str_at(c, "/reason") == "NewReplicaSetAvailable");
        let deadline = int(&st.d, "/spec/progressDeadlineSeconds").unwrap_or(600);
        let new_name = st.new.map(|n| meta::name(&st.rss[n]).to_owned());
        if deadline < i64::from(i32::MAX)
            && !is_complete
            && let Some(new_name) = new_name
        {
            let progressing = g(&status, "updatedReplicas") > g(&old, "updatedReplicas")
                || (g(&status, "replicas") - g(&status, "updatedReplicas"))
                    < (g(&old, "replicas") - g(&old, "updatedReplicas"))
                || g(&status, "readyReplicas") > g(&old, "readyReplicas")
                || g(&status, "availableReplicas") > g(&old, "availableReplicas");
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
                    && str_at(cur, "/status") == "True"
                {
                    c["lastTransitionTime"] = cur["lastTransitionTime"].clone();
                }
                if let Some(Value::Array(a)) = status.get_mut("conditions") {
                    a.retain(|c| str_at(c, "/type") != "Progressing");
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
            let mut d = st.d.clone();
            d["status"] = status;
            st.d = store.update(&ResKey::deployments(), d)?;
        }
        Ok(())
    }

    pub(super) fn timed_out(&self, status: &Value, deadline: i64) -> bool {
        let Some(c) = condition(status, "Progressing") else {
            return false;
        };
        match str_at(c, "/reason") {
            "NewReplicaSetAvailable" => false,
            "ProgressDeadlineExceeded" => true,
            _ => meta::parse_time(str_at(c, "/lastUpdateTime")).is_some_and(|from| {
                let wait = self.sim.scaled(Duration::from_secs(deadline.max(0) as u64));
                let elapsed = jiff::Timestamp::now().as_millisecond() - from.as_millisecond();
                elapsed > wait.as_millis() as i64
            }),
        }
    }
}
