//! `kind: resource`: objects matching a target exist and contain a partial object; and what
//! the target goals (`resource`, `absent`) share.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{GoalKind, GoalLint};
use crate::check::diff::partial_match;
use crate::check::involved::{Involved, object};
use crate::check::requirements::{WatchSpec, target_spec};
use crate::check::target::{describe, is_terminating, select};
use crate::check::world::{World, name_of};
use crate::check::{Difference, GoalContext, GoalStatus};
use crate::lesson::model::Target;

/// `kind: resource`.
///
/// `matches` is a partial object: maps match when every key given matches (a subset), scalars
/// must be equal, and a list matches when every item given matches some item of the actual
/// list (order ignored).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceGoal {
    /// Which objects to look at.
    pub target: Target,
    /// Partial object the matching objects must contain.
    #[serde(default)]
    pub matches: Option<serde_json::Value>,
    /// Exact number of objects that must match; at least one when omitted.
    #[serde(default)]
    pub count: Option<u32>,
    /// Message shown to the learner while the goal does not hold.
    #[serde(default)]
    pub explain_failure: Option<String>,
}

impl GoalKind for ResourceGoal {
    fn kind_name(&self) -> &'static str {
        "resource"
    }

    fn explain_failure(&self) -> Option<&str> {
        self.explain_failure.as_deref()
    }

    fn lint(&self, lint: &mut dyn GoalLint) {
        lint.target("target", &self.target);
        if let Some(matches) = &self.matches
            && !matches.is_object()
        {
            let message = "`matches` must be a mapping: a partial object such as `metadata: {labels: {app: web}}`".to_owned();
            lint.error("matches", message, None);
        }
        if self.target.name.is_some() && self.count.unwrap_or(0) > 1 {
            let message =
                "at most one object can match a name; use a `selector` to count several".to_owned();
            lint.error("count", message, None);
        }
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
        let kind = &target.kind;
        let mut first_mismatch = None;
        let mut matching = 0usize;
        for object in &found {
            match self.matches.as_ref().map(|m| partial_match(m, object)) {
                None | Some(Ok(())) => matching += 1,
                Some(Err(mismatch)) => {
                    first_mismatch.get_or_insert((name_of(object).to_owned(), mismatch));
                }
            }
        }
        let what = describe(target, &ctx.namespace);
        let met = match self.count {
            Some(count) => u64::try_from(matching).ok() == Some(u64::from(count)),
            None => matching >= 1,
        };
        if met {
            return GoalStatus::met(match self.count {
                Some(count) => format!("{count} {what} as expected"),
                None if self.matches.is_some() => format!("found a matching {what}"),
                None => format!("found {what}"),
            });
        }
        if found.is_empty() {
            let expected = self
                .count
                .map_or_else(|| "at least 1".to_owned(), |c| c.to_string());
            return GoalStatus::differs(
                format!("no {what}"),
                Difference::new(format!("number of {kind}s"), expected, 0),
            );
        }
        // Too few matches: the first difference is the most useful thing to show.
        let too_few = self
            .count
            .is_none_or(|c| u64::try_from(matching).unwrap_or(u64::MAX) < u64::from(c));
        if too_few && let Some((name, mismatch)) = first_mismatch {
            let mut status = GoalStatus::differs(
                format!("{kind} {name}: {mismatch}"),
                Difference::new(
                    format!("{kind} {name} {}", mismatch.path),
                    &mismatch.expected,
                    &mismatch.actual,
                ),
            );
            if let Some(count) = self.count {
                status.summary = format!("{matching} of {count} {kind}s match; {}", status.summary);
            }
            return status;
        }
        let expected = self
            .count
            .map_or_else(|| "at least 1".to_owned(), |c| c.to_string());
        GoalStatus::differs(
            format!("{matching} {what} match, expected {expected}"),
            Difference::new(format!("number of matching {kind}s"), expected, matching),
        )
    }

    fn involved(&self, _world: &World, _ns: &str) -> Involved {
        let mut involved = Involved::default();
        if let Some(name) = &self.target.name {
            involved.objects.push(object(&self.target.kind, name));
        }
        involved
    }
}

/// An object's name, marked when it is already being deleted.
pub(super) fn label(object: &Value) -> String {
    if is_terminating(object) {
        format!("{} (terminating)", name_of(object))
    } else {
        name_of(object).to_owned()
    }
}

pub(super) fn bad_selector(target: &Target, why: &str) -> GoalStatus {
    GoalStatus::unmet(format!(
        "the selector `{}` is not valid: {why}",
        target.selector.as_deref().unwrap_or_default()
    ))
}
