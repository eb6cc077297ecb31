//! The integration test binary: drives the real `kubetutor` executable, the embedded sandbox,
//! the real kubectl and the real kube-rs client.

mod cluster_sandbox;
mod common;
mod sandbox_kubectl;
mod run_json;
mod run_pty;
