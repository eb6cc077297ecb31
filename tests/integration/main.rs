//! The integration test binary: drives the real `kubetutor` executable, the embedded sandbox,
//! the real kubectl and the real kube-rs client.

mod back_on_track;
mod check_cmd;
mod cluster_sandbox;
mod common;
mod exit_codes;
mod installed;
mod json_events;
mod learner_tmux;
mod lint;
mod practice;
mod run_json;
mod run_pty;
mod run_sandbox;
mod run_shell;
mod sandbox_controllers;
mod sandbox_junk;
mod sandbox_kube;
mod sandbox_kubectl;
#[path = "../support/mod.rs"]
mod support;
mod terminal;
