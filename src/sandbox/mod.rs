//! The embedded sandbox: a simulated Kubernetes API server, controllers and kubelet.

pub mod apps;
pub mod controllers;
pub mod hash;
pub mod kubelet;
pub mod persist;
pub mod store;
