//! Test code shared by the integration tests (`tests/integration`, on the embedded sandbox) and
//! the real-control-plane tests (`tests/testbed/harness`), so both judge the same way.
#![allow(dead_code)]

pub mod events;
pub mod kube_api;
pub mod learner;
pub mod tmux;
