//! kubetutor: learn Kubernetes by doing, with every step checked live on a cluster.
//!
//! The binary is a thin shell over this library so that tests and benchmarks can drive
//! the same code the learner runs.

pub mod check;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod error;
pub mod k8s;
pub mod lesson;
pub mod logging;
pub mod runner;
pub mod sandbox;
pub mod smoke;
pub mod term;
