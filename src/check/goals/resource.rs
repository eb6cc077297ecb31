//! General goals: `resource` (objects exist and contain a partial object) and `absent`.

use serde_json::Value;

use crate::check::diff::partial_match;
use crate::check::target::{describe, is_terminating, select};
use crate::check::world::{World, name_of};
use crate::check::{Difference, GoalContext, GoalStatus};
use crate::lesson::model::{AbsentGoal, ResourceGoal, Target};

/// `kind: resource`.
pub(crate) fn resource(goal: &ResourceGoal, world: &World, ctx: &GoalContext) -> GoalStatus {
    let target = &goal.target;
    let found = match select(world, target, &ctx.namespace) {
        Ok(found) => found,
        Err(err) => return bad_selector(target, &err.to_string()),
    };
    let kind = &target.kind;
    let mut first_mismatch = None;
    let mut matching = 0usize;
    for object in &found {
        match goal.matches.as_ref().map(|m| partial_match(m, object)) {
            None | Some(Ok(())) => matching += 1,
            Some(Err(mismatch)) => {
                first_mismatch.get_or_insert((name_of(object).to_owned(), mismatch));
            }
        }
    }
    let what = describe(target, &ctx.namespace);
    let met = match goal.count {
        Some(count) => u64::try_from(matching).ok() == Some(u64::from(count)),
        None => matching >= 1,
    };
    if met {
        return GoalStatus::met(match goal.count {
            Some(count) => format!("{count} {what} as expected"),
            None if goal.matches.is_some() => format!("found a matching {what}"),
            None => format!("found {what}"),
        });
    }
    if found.is_empty() {
        let expected = goal
            .count
            .map_or_else(|| "at least 1".to_owned(), |c| c.to_string());
        return GoalStatus::differs(
            format!("no {what}"),
            Difference::new(format!("number of {kind}s"), expected, 0),
        );
    }
    // Too few matches: the first difference is the most useful thing to show.
    let too_few = goal
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
        if let Some(count) = goal.count {
            status.summary = format!("{matching} of {count} {kind}s match; {}", status.summary);
        }
        return status;
    }
    let expected = goal
        .count
        .map_or_else(|| "at least 1".to_owned(), |c| c.to_string());
    GoalStatus::differs(
        format!("{matching} {what} match, expected {expected}"),
        Difference::new(format!("number of matching {kind}s"), expected, matching),
    )
}

/// `kind: absent`.
pub(crate) fn absent(goal: &AbsentGoal, world: &World, ctx: &GoalContext) -> GoalStatus {
    let target = &goal.target;
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

/// An object's name, marked when it is already being deleted.
fn label(object: &Value) -> String {
    if is_terminating(object) {
        format!("{} (terminating)", name_of(object))
    } else {
        name_of(object).to_owned()
    }
}

fn bad_selector(target: &Target, why: &str) -> GoalStatus {
    GoalStatus::unmet(format!(
        "the selector `{}` is not valid: {why}",
        target.selector.as_deref().unwrap_or_default()
    ))
}
