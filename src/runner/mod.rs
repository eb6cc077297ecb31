//! The lesson state machine, its event loop, progress, and the terminal UI.
//!
//! `machine` is pure; `events` is the single async loop that feeds it cluster signals, learner
//! input and ticks; `source` is the seam to the cluster; `json` and `ui` render what happens.

pub mod events;
pub mod json;
pub mod live;
pub mod machine;
pub mod progress;
pub mod session;
pub mod shells;
pub mod source;
pub mod ui;

use crate::runner::source::ClusterEvent;

/// Tells the user on stderr that the cluster was lost or is back, for outputs that keep
/// stdout for machine-readable events.
pub fn report_cluster_event(signal: &ClusterEvent) {
    match signal {
        ClusterEvent::Lost(why) => eprintln!("cluster unreachable ({why}), retrying…"),
        ClusterEvent::Restored => eprintln!("cluster reachable again; checking resumes"),
        ClusterEvent::Denied(why) => eprintln!("{why}"),
        ClusterEvent::Changed => {}
    }
}
