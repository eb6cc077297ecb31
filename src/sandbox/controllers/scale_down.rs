//! Which pods a ReplicaSet removes first when it scales down: kube-controller-manager's
//! `ActivePodsWithRanks` order (pkg/controller/controller_utils.go, 1.37), with the rank it
//! gives a pod for the other ready pods of the same owner on its node.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::sandbox::objects::{Pod, pod_active, pod_condition, pod_ready};

/// The annotation by which users rank pods for deletion (lower goes first).
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// A pod with what its ordering needs, computed once.
struct Ranked<'a, 'p> {
    pod: &'a Pod<'p>,
    /// Active pods of the same owner on this pod's node (itself included).
    colocated: usize,
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match pod.status.phase.as_deref() {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

fn deletion_cost(pod: &Pod) -> i64 {
    pod.metadata
        .annotation(DELETION_COST)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// When the pod last became Ready.
fn ready_time(pod: &Pod) -> Option<jiff::Timestamp> {
    pod_condition(pod, "Ready")
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .container_statuses
        .iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
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
    let (na, nb) = (pa.spec.node_name, pb.spec.node_name);
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
                    0 => pa.metadata.uid < pb.metadata.uid,
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
    let (ca, cb) = (pa.metadata.created(), pb.metadata.created());
    if ca != cb {
        return match (ca, cb) {
            (Some(x), Some(y)) => match log_rank_diff(x, y, now) {
                0 => pa.metadata.uid < pb.metadata.uid,
                diff => diff < 0,
            },
            _ => after_or_missing(ca, cb),
        };
    }
    false
}

/// The `count` pods of `candidates` to delete first; `related` are every pod of the same
/// owner (the ReplicaSets of one Deployment), whose active ones rank colocated pods.
pub fn victims<'a, 'p>(
    candidates: &[&'a Pod<'p>],
    related: &[&Pod],
    count: usize,
    now: jiff::Timestamp,
) -> Vec<&'a Pod<'p>> {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for pod in related.iter().filter(|p| pod_active(p)) {
        *per_node.entry(pod.spec.node_name).or_default() += 1;
    }
    let mut ranked: Vec<Ranked<'a, 'p>> = candidates
        .iter()
        .map(|pod| Ranked {
            pod,
            colocated: per_node.get(pod.spec.node_name).copied().unwrap_or(0),
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
    use serde_json::{Value, json};

    use super::*;
    use crate::sandbox::objects::view_of;

    fn pod(name: &str, node: &str, ready_at: &str, created: &str) -> Value {
        json!({
            "metadata": {"name": name, "uid": format!("uid-{name}"), "creationTimestamp": created},
            "spec": {"nodeName": node},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": ready_at}
            ]}
        })
    }

    fn order(all: &[&Value], count: usize, now: &str) -> Vec<String> {
        let pods: Vec<Pod> = all.iter().map(|p| view_of(p)).collect();
        let refs: Vec<&Pod> = pods.iter().collect();
        victims(&refs, &refs, count, now.parse().unwrap())
            .iter()
            .map(|p| p.metadata.name.to_owned())
            .collect()
    }

    #[test]
    fn pods_sharing_a_node_go_before_older_pods_alone_on_theirs() {
        let now = "2026-01-01T00:10:00Z";
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
        assert_eq!(order(&[&old, &twin, &a, &b], 2, now), vec!["twin", "old"]);
        // Alone on its node, the oldest pod is kept: the newest go.
        let moved = pod(
            "old",
            "worker4",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
        );
        let kept = order(&[&moved, &twin, &a, &b], 3, now);
        assert!(!kept.iter().any(|n| n == "old"), "{kept:?}");
    }

    #[test]
    fn unready_and_cheap_pods_go_first() {
        let now = "2026-01-01T00:10:00Z";
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
        json_patch::merge(
            &mut pending,
            &json!({"status": {"phase": "Pending", "conditions": null}}),
        );
        let mut cheap = pod(
            "cheap",
            "w3",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
        );
        json_patch::merge(
            &mut cheap,
            &json!({"metadata": {"annotations": {DELETION_COST: "-5"}}}),
        );
        assert_eq!(
            order(&[&ready, &pending, &cheap], 3, now),
            vec!["pending", "cheap", "ready"]
        );
    }
}
