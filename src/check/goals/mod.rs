//! The goal kinds. Each lives in its own module with everything about it: its lesson fields
//! (the serde struct), its lint, what it watches, how it is judged and which objects a failure
//! report shows, behind [`GoalKind`]. [`Goal`] is the lesson's tagged union of them and
//! dispatches in one place ([`Goal::kind`]): a new kind is a module, a variant and a match arm.

mod absent;
mod deployed;
mod exposed;
pub(crate) mod http;
mod resource;
mod rolled_back;
pub(crate) mod rollout;
mod rollout_stuck;
mod scaled;
pub(crate) mod service;
mod updated;

#[cfg(test)]
mod tests;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use absent::AbsentGoal;
pub use deployed::DeployedGoal;
pub use exposed::ExposedGoal;
pub use http::HttpGoal;
pub use resource::ResourceGoal;
pub use rolled_back::RolledBackGoal;
pub use rollout_stuck::RolloutStuckGoal;
pub use scaled::ScaledGoal;
pub use updated::UpdatedGoal;

use crate::check::involved::Involved;
use crate::check::requirements::WatchSpec;
use crate::check::world::World;
use crate::check::{GoalContext, GoalStatus};
use crate::lesson::model::Target;

/// A condition on the cluster that a step waits for. The `kind` key picks the variant.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Goal {
    /// A Deployment runs the given image with enough ready replicas.
    Deployed(DeployedGoal),
    /// A Service exposes a Deployment's pods and has ready endpoints.
    Exposed(ExposedGoal),
    /// A Deployment runs exactly N replicas, with no extra pods left over.
    Scaled(ScaledGoal),
    /// A rollout to a new image completed after the step began.
    Updated(UpdatedGoal),
    /// After the step began, the Deployment returned to an earlier revision and finished rolling out.
    RolledBack(RolledBackGoal),
    /// A rollout to an image is stuck because the image cannot be pulled.
    RolloutStuck(RolloutStuckGoal),
    /// Objects matching a target exist and contain the given fields.
    Resource(ResourceGoal),
    /// No object matches a target.
    Absent(AbsentGoal),
    /// A Service answers HTTP on a path with a body containing some text.
    Http(HttpGoal),
}

impl Goal {
    /// Every goal kind, as written in lesson files.
    pub const KINDS: &'static [&'static str] = &[
        "deployed",
        "exposed",
        "scaled",
        "updated",
        "rolled_back",
        "rollout_stuck",
        "resource",
        "absent",
        "http",
    ];

    /// The goal's kind, which knows everything about it.
    pub fn kind(&self) -> &dyn GoalKind {
        match self {
            Goal::Deployed(g) => g,
            Goal::Exposed(g) => g,
            Goal::Scaled(g) => g,
            Goal::Updated(g) => g,
            Goal::RolledBack(g) => g,
            Goal::RolloutStuck(g) => g,
            Goal::Resource(g) => g,
            Goal::Absent(g) => g,
            Goal::Http(g) => g,
        }
    }

    /// The `kind` key as written in lesson files.
    pub fn kind_name(&self) -> &'static str {
        self.kind().kind_name()
    }

    /// The author's message shown when the goal does not hold, if any.
    pub fn explain_failure(&self) -> Option<&str> {
        self.kind().explain_failure()
    }

    /// Whether the goal compares against the cluster as it was when the step began.
    pub fn is_history_aware(&self) -> bool {
        self.kind().baseline_deployment().is_some()
    }
}

/// Everything about one goal kind.
pub trait GoalKind {
    /// The `kind` key as written in lesson files.
    fn kind_name(&self) -> &'static str;

    /// The author's message shown when the goal does not hold, if any.
    fn explain_failure(&self) -> Option<&str>;

    /// Checks the goal's fields (names, images, numbers) without a cluster.
    fn lint(&self, lint: &mut dyn GoalLint);

    /// The image the goal expects some Deployment to run, for lint's "can a solution reach
    /// this" check.
    fn expected_image(&self) -> Option<&str> {
        None
    }

    /// The replica count the goal expects, for the same check.
    fn expected_replicas(&self) -> Option<u32> {
        None
    }

    /// An image the goal expects to fail to pull (so it must not be in the catalogue).
    fn image_meant_to_fail(&self) -> Option<&str> {
        None
    }

    /// The Deployment whose state when the step began the goal compares against.
    fn baseline_deployment(&self) -> Option<&str> {
        None
    }

    /// The watches the goal needs in the lesson's namespace.
    fn requirements(&self, namespace: &str) -> Vec<WatchSpec>;

    /// Judges the goal against a snapshot of the cluster (without the author's explanation,
    /// which [`crate::check::evaluate`] adds).
    fn evaluate(&self, world: &World, ctx: &GoalContext) -> GoalStatus;

    /// The objects a failure report should show the events and pods of.
    fn involved(&self, world: &World, namespace: &str) -> Involved;
}

/// What a goal's lint may say, about its own fields (`field` is the key inside the goal).
pub trait GoalLint {
    /// `name` must be a Deployment name (a DNS subdomain), unless it holds a `$VARIABLE`.
    fn deployment_name(&mut self, field: &str, name: &str);
    /// `name` must be a Service name (a DNS-1035 label), unless it holds a `$VARIABLE`.
    fn service_name(&mut self, field: &str, name: &str);
    /// `image` must be a plausible image reference.
    fn image(&mut self, field: &str, image: &str);
    /// `container`, when given, must be a container name.
    fn container(&mut self, field: &str, container: Option<&str>);
    /// `target` must name a kind, and a valid name or selector.
    fn target(&mut self, field: &str, target: &Target);
    /// `port` must be between 1 and 65535.
    fn port(&mut self, field: &str, port: u16);
    /// An error about the field.
    fn error(&mut self, field: &str, message: String, help: Option<String>);
    /// A warning about the field.
    fn warn(&mut self, field: &str, message: String, help: Option<String>);
}
