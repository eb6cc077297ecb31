//! `kind: absent`: no object matches a target.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::resource::{bad_selector, label};
use super::{GoalKind, GoalLint};
use crate::check::involved::Involved;
use crate::check::requirements::{WatchSpec, target_spec};
use crate::check::target::{describe, select};
use crate::check::world::World;
use crate::check::{Difference, GoalContext, GoalStatus};
use crate::lesson::model::Target;

/// `kind: absent`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbsentGoal {
    /// Objects that must not exist.
    pub target: Target,
    /// Message shown to the learner while the goal does not hold.
    #[serde(default)]
    pub explain_failure: Option<String>,
}

impl GoalKind for AbsentGoal {
    fn kind_name(&self) -> &'static str {
        "absent"
    }

    fn explain_failure(&self) -> Option<&str> {
        self.explain_failure.as_deref()
    }

    fn lint(&self, lint: &mut dyn GoalLint) {
        lint.target("target", &self.target);
    }

    fn requirements(&self, ns: &str) -> Vec<WatchSpec> {
        vec![target_spec(&self.target, ns)]
    }

    fn evaluate(&self, world: &World, ctx: &GoalContext) -> GoalStatus {
        let target = &self.target;
        let found = match select(world, target, &ctx.namespace) {
            Ok(found) => found,
            Err(err) => return bad_selector(target, &err.to_string()),
        };
        let what = describe(target, &ctx.namespace);
        if found.is_empty() {
            return GoalStatus::met(format!("no {what}"));
        }
        let names: Vec<String> = found.iter().take(5).map(|o| label(o)).collect();
        let more = if found.len() > names.len() {
            ", ..."
        } else {
            ""
        };
        GoalStatus::differs(
            format!(
                "{} {} still exist{}: {}{more}",
                found.len(),
                target.kind,
                if found.len() == 1 { "s" } else { "" },
                names.join(", ")
            ),
            Difference::new(format!("number of {}s", target.kind), 0, found.len()),
        )
    }

    fn involved(&self, _world: &World, _ns: &str) -> Involved {
        Involved::default()
    }
}
