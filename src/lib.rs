//! kubetutor: learn Kubernetes by doing, with every step checked live on a cluster.
//!
//! The binary is a thin shell over this library so that tests and benchmarks can drive
//! the same code the learner runs.

pub mod check;
pub mod cli;
pub mod cluster;
pub mod commands;
pub(crate) mod error;
pub(crate) mod files;
pub(crate) mod k8s;
pub mod lesson;
pub(crate) mod logging;
pub(crate) mod practice;
pub(crate) mod rehearsal;
pub(crate) mod runner;
pub mod sandbox;
pub(crate) mod shell;
pub(crate) mod term;
