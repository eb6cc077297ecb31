//! Kubernetes vocabulary shared by the lesson linter, the goal checks and the sandbox:
//! object-name rules, label/field selectors and pod readiness, implemented as the API server does.

pub mod command;
pub mod names;
pub mod pod;
pub mod selector;
