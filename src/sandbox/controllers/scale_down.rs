//! Which pods a ReplicaSet removes first when it scales down: kube-controller-manager's
//! `ActivePodsWithRanks` order (pkg/controller/controller_utils.go, 1.37), with the rank it
//! gives a pod for the other ready pods of the same owner on its node.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::Value;

use super::util::{pod_active, pod_ready, str_at};
use crate::sandbox::store::meta;

/// The annotation by which users rank pods for deletion (lower goes first).
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// A pod with what its ordering needs, computed once.
struct Ranked<'a> {
    pod: &'a Value,
    /// Active pods of the same owner on this pod's node (itself included).
    colocated: usize,
}

fn phase_ordinal(pod: &Value) -> u8 {
    match str_at(pod, "/status/phase") {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

fn deletion_cost(pod: &Value) -> i64 {
    pod.pointer("/metadata/annotations")
        .and_then(|a| a.get(DELETION_COST))
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn timestamp(value: Option<&Value>) -> Option<jiff::Timestamp> {
    value.and_then(Value::as_str).and_then(|t| t.parse().ok())
}

/// When the pod last became Ready.
fn ready_time(pod: &Value) -> Option<jiff::Timestamp> {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| str_at(c, "/type") == "Ready" && str_at(c, "/status") == "True")
        .and_then(|c| timestamp(c.get("lastTransitionTime")))
}

fn max_restarts(pod: &Value) -> i64 {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// `logarithmicRankDiff`: base-2 log ranks of two ages; within a rank, times count as equal.
fn log_rank_diff(t1: jiff::Timestamp, t2: jiff::Timestamp, now: jiff::Timestamp) -> i64 {
    let rank = |t: jiff::Timestamp| {
        let nanos = now.as_nanosecond() - t.as_nanosecond();
        if nanos > 0 {
            // As Go's int64(math.Log2(float64(d))).
            (nanos as f64).log2() as i64
        } else {
            -1
        }
    };
    rank(t1) - rank(t2)
}

/// Earlier (or missing) times compared "after or zero": a missing time sorts first.
fn after_or_missing(t1: Option<jiff::Timestamp>, t2: Option<jiff::Timestamp>) -> bool {
    match (t1, t2) {
        (None, _) => true,
        (_, None) => false,
        (Some(a), Some(b)) => a > b,
    }
}

/// `ActivePodsWithRanks.Less`: whether `a` should be deleted before `b`.
fn less(a: &Ranked, b: &Ranked, now: jiff::Timestamp) -> bool {
    let (pa, pb) = (a.pod, b.pod);
    let (na, nb) = (str_at(pa, "/spec/nodeName"), str_at(pb, "/spec/nodeName"));
    // 1. Unassigned < assigned.
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return na.is_empty();
    }
    // 2. Pending < Unknown < Running.
    if phase_ordinal(pa) != phase_ordinal(pb) {
        return phase_ordinal(pa) < phase_ordinal(pb);
    }
    // 3. Not ready < ready.
    let (ra, rb) = (pod_ready(pa), pod_ready(pb));
    if ra != rb {
        return !ra;
    }
    // 4. Lower deletion cost first.
    if deletion_cost(pa) != deletion_cost(pb) {
        return deletion_cost(pa) < deletion_cost(pb);
    }
    // 5. Doubled up (more colocated pods of the same owner) first.
    if a.colocated != b.colocated {
        return a.colocated > b.colocated;
    }
    // 6. Ready for less time first (on a log scale; ties by uid).
    if ra && rb {
        let (ta, tb) = (ready_time(pa), ready_time(pb));
        if ta != tb {
            return match (ta, tb) {
                (Some(x), Some(y)) => match log_rank_diff(x, y, now) {
                    0 => meta::uid(pa) < meta::uid(pb),
                    diff => diff < 0,
                },
                _ => after_or_missing(ta, tb),
            };
        }
    }
    // 7. More container restarts first.
    if max_restarts(pa) != max_restarts(pb) {
        return max_restarts(pa) > max_restarts(pb);
    }
    // 8. Newer first (on a log scale; ties by uid).
    let (ca, cb) = (
        timestamp(pa.pointer("/metadata/creationTimestamp")),
        timestamp(pb.pointer("/metadata/creationTimestamp")),
    );
    if ca != cb {
        return match (ca, cb) {
            (Some(x), Some(y)) => match log_rank_diff(x, y, now) {
                0 => meta::uid(pa) < meta::uid(pb),
                diff => diff < 0,
            },
            _ => after_or_missing(ca, cb),
        };
    }
    false
}

/// The `count` pods of `candidates` to delete first; `related` are every pod of the same
/// owner (the ReplicaSets of one Deployment), whose active ones rank colocated pods.
pub fn victims<'a>(
    candidates: &[&'a Value],
    related: &[&Value],
    count: usize,
    now: jiff::Timestamp,
) -> Vec<&'a Value> {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for pod in related.iter().filter(|p| pod_active(p)) {
        *per_node.entry(str_at(pod, "/spec/nodeName")).or_default() += 1;
    }
    let mut ranked: Vec<Ranked<'a>> = candidates
        .iter()
        .map(|pod| Ranked {
            pod,
            colocated: per_node
                .get(str_at(pod, "/spec/nodeName"))
                .copied()
                .unwrap_or(0),
        })
        .collect();
    ranked.sort_by(|a, b| {
        if less(a, b, now) {
            Ordering::Less
        } else if less(b, a, now) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
    ranked.into_iter().take(count).map(|r| r.pod).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, node: &str, ready_at: &str, created: &str) -> Value {
        json!({
            "metadata": {"name": name, "uid": format!("uid-{name}"), "creationTimestamp": created},
            "spec": {"nodeName": node},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": ready_at}
            ]}
        })
    }

    #[test]
    fn pods_sharing_a_node_go_before_older_pods_alone_on_theirs() {
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        // The oldest pod shares worker with a newer one; the two others are alone.
        let old = pod(
            "old",
            "worker",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
        );
        let twin = pod(
            "twin",
            "worker",
            "2026-01-01T00:09:00Z",
            "2026-01-01T00:09:00Z",
        );
        let a = pod(
            "a",
            "worker2",
            "2026-01-01T00:09:00Z",
            "2026-01-01T00:09:00Z",
        );
        let b = pod(
            "b",
            "worker3",
            "2026-01-01T00:09:00Z",
            "2026-01-01T00:09:00Z",
        );
        let all = [&old, &twin, &a, &b];
        let names: Vec<&str> = victims(&all, &all, 2, now)
            .iter()
            .map(|p| meta::name(p))
            .collect();
        assert_eq!(names, ["twin", "old"]);
        // Alone on its node, the oldest pod is kept: the newest go.
        let moved = pod(
            "old",
            "worker4",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
        );
        let all = [&moved, &twin, &a, &b];
        let kept: Vec<&str> = victims(&all, &all, 3, now)
            .iter()
            .map(|p| meta::name(p))
            .collect();
        assert!(!kept.contains(&"old"), "{kept:?}");
    }

    #[test]
    fn unready_and_cheap_pods_go_first() {
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let ready = pod(
            "ready",
            "w1",
            "2026-01-01T00:09:00Z",
            "2026-01-01T00:09:00Z",
        );
        let mut pending = pod(
            "pending",
            "w2",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
        );
        pending["status"] = json!({"phase": "Pending"});
        let mut cheap = pod(
            "cheap",
            "w3",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
        );
        cheap["metadata"]["annotations"] = json!({DELETION_COST: "-5"});
        let all = [&ready, &pending, &cheap];
        let order: Vec<&str> = victims(&all, &all, 3, now)
            .iter()
            .map(|p| meta::name(p))
            .collect();
        assert_eq!(order, ["pending", "cheap", "ready"]);
    }
}
