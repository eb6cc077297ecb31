//! One predicate per goal kind, grouped by what they look at.

pub(crate) mod http;
pub(crate) mod resource;
pub(crate) mod rollout;
pub(crate) mod service;

#[cfg(test)]
mod tests;
