//! The connected terminal: `kubetutor shell` opens the learner's own shell pointed at the
//! lesson's cluster, and reports what they run to the `kubetutor run` that owns the session.

pub mod rc;
pub mod session;
