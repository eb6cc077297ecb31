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
pub mod source;
pub mod ui;

use crate::lesson::Step;
use crate::runner::events::Output;
use crate::runner::json::JsonWriter;
use crate::runner::machine::{GoalReport, Machine, Transition};
use crate::runner::source::ClusterSignal;

/// `--json` output: events on stdout, anything for humans on stderr.
pub struct JsonOutput<W: std::io::Write> {
    writer: JsonWriter<W>,
}

impl<W: std::io::Write> JsonOutput<W> {
    /// JSON events written to `out`.
    pub fn new(out: W) -> Self {
        JsonOutput {
            writer: JsonWriter::new(out),
        }
    }
}

impl<W: std::io::Write> Output for JsonOutput<W> {
    fn transition(&mut self, machine: &Machine, transition: &Transition) {
        if let Err(err) = self.writer.transition(machine, transition) {
            tracing::warn!("failed to write a JSON event: {err}");
        }
    }

    fn goals_updated(&mut self, _step: &Step, _goals: &[GoalReport]) {}

    fn cluster(&mut self, signal: &ClusterSignal) {
        report_cluster_signal(signal);
    }

    fn solution(&mut self, _step: &Step) {}

    fn notice(&mut self, text: &str) {
        eprintln!("{text}");
    }
}

/// Tells the user on stderr that the cluster was lost or is back, for outputs that keep
/// stdout for machine-readable events.
pub fn report_cluster_signal(signal: &ClusterSignal) {
    match signal {
        ClusterSignal::Lost(why) => eprintln!("cluster unreachable ({why}), retrying…"),
        ClusterSignal::Restored => eprintln!("cluster reachable again; checking resumes"),
        ClusterSignal::Denied(why) => eprintln!("{why}"),
        ClusterSignal::Changed => {}
    }
}
