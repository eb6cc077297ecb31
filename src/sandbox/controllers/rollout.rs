//! Rolling-update arithmetic, as in `pkg/controller/deployment/util`: pure functions over
//! replica counts so they can be tested on their own.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Resolves an IntOrString (`3` or `"25%"`) against `total`; percentages round up or down.
pub fn scaled_value(v: Option<&IntOrString>, default: &str, total: i64, round_up: bool) -> i64 {
    let s = match v {
        Some(IntOrString::Int(n)) => return i64::from(*n).max(0),
        Some(IntOrString::String(s)) => s.as_str(),
        None => default,
    };
    match s.strip_suffix('%') {
        Some(p) => {
            let pct: i64 = p.trim().parse().unwrap_or(0);
            let num = pct * total;
            if round_up {
                (num + 99).div_euclid(100)
            } else {
                num.div_euclid(100)
            }
        }
        None => s.trim().parse().unwrap_or(0),
    }
    .max(0)
}

/// (maxSurge, maxUnavailable) for a rolling update of `replicas`, never both zero.
pub fn fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    replicas: i64,
) -> (i64, i64) {
    let surge = scaled_value(max_surge, "25%", replicas, true);
    let mut unavailable = scaled_value(max_unavailable, "25%", replicas, false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

/// Replicas the new ReplicaSet may have now (`NewRSNewReplicas` for RollingUpdate).
pub fn new_rs_replicas(
    replicas: i64,
    max_surge: i64,
    current_total: i64,
    new_rs_replicas: i64,
) -> i64 {
    let max_total = replicas + max_surge;
    if current_total >= max_total {
        return new_rs_replicas;
    }
    let up = (max_total - current_total)
        .min(replicas - new_rs_replicas)
        .max(0);
    new_rs_replicas + up
}

/// How many old replicas may go now (`reconcileOldReplicaSets`' `maxScaledDown`).
pub fn max_scaled_down(
    all_pods: i64,
    replicas: i64,
    max_unavailable: i64,
    new_rs_replicas: i64,
    new_rs_available: i64,
) -> i64 {
    let min_available = replicas - max_unavailable;
    let new_unavailable = new_rs_replicas - new_rs_available;
    all_pods - min_available - new_unavailable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_like_the_controller() {
        let int = IntOrString::Int;
        assert_eq!(fenceposts(None, None, 2), (1, 0));
        assert_eq!(fenceposts(None, None, 4), (1, 1));
        assert_eq!(fenceposts(None, None, 10), (3, 2));
        assert_eq!(fenceposts(Some(&int(0)), Some(&int(0)), 3), (0, 1));
        let half = IntOrString::String("50%".to_owned());
        assert_eq!(fenceposts(Some(&half), Some(&int(2)), 3), (2, 2));
    }

    #[test]
    fn a_bad_image_stalls_at_one_new_pod_with_two_replicas() {
        let (surge, unavailable) = fenceposts(None, None, 2);
        // Two old ready pods; the new RS may grow to one.
        assert_eq!(new_rs_replicas(2, surge, 2, 0), 1);
        // Three pods, the new one unavailable: nothing old may go.
        assert_eq!(max_scaled_down(3, 2, unavailable, 1, 0), 0);
        // Once the new pod is available, one old pod may go.
        assert_eq!(max_scaled_down(3, 2, unavailable, 1, 1), 1);
    }

    #[test]
    fn the_new_replica_set_never_exceeds_the_surge() {
        assert_eq!(new_rs_replicas(4, 1, 5, 1), 1);
        assert_eq!(new_rs_replicas(4, 1, 4, 1), 2);
        assert_eq!(new_rs_replicas(1, 1, 0, 0), 1);
    }
}
