//! Kubernetes vocabulary shared by the lesson linter, the goal checks and the sandbox:
//! object-name rules and label/field selectors, implemented as the API server does.

pub mod names;
pub mod selector;
