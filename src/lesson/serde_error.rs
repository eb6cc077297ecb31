//! Turning serde_yaml's errors into located, actionable messages.
//!
//! serde_yaml formats errors as `path: message at line L column C`. Inside goals (an
//! internally tagged enum) the path stops at the goal and the line is the goal's, so the
//! offending node is found again in the [`PositionMap`] from the message itself.

use super::diagnostic::Span;
use super::model::Goal;
use super::position::{NodeKind, PositionMap, child_key};
use super::suggest::{backquoted, did_you_mean};

/// A serde error placed in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Where.
    pub span: Span,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

/// Places `err` in the file described by `positions`.
pub fn locate(err: &serde_yaml::Error, positions: &PositionMap, root: Span) -> Located {
    let full = err.to_string();
    let without_mark = strip_mark(&full);
    let (path, message) = split_path(without_mark);
    let mark = err
        .location()
        .filter(|l| l.line() >= 1)
        .map(|l| Span::new(l.line(), l.column(), 1));
    let path = refine(path, mark, positions);
    let path = path.as_str();
    let fallback = positions
        .get(path)
        .map(|n| n.value)
        .or(mark)
        .unwrap_or(root);
    let mut located = Located {
        span: fallback,
        message: message.to_owned(),
        help: None,
    };
    if message.starts_with("unknown field `") {
        unknown_field(message, path, positions, &mut located);
    } else if message.starts_with("unknown variant `") {
        unknown_variant(message, path, positions, &mut located);
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        missing_field(field, path, positions, &mut located);
    } else if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    {
        invalid_value(rest, path, positions, &mut located);
    } else if let Some(node) = backquoted(message).into_iter().find_map(|word| {
        positions
            .descendants(path)
            .find(|n| n.scalar() == Some(word))
    }) {
        // Custom messages (durations) quote the offending value: find it.
        located.span = node.value;
        located.message = format!("`{}`: {message}", last_key(&node.path));
    }
    located
}

/// Errors inside goals come back with the path of the goal list and the mark of the goal:
/// pick the list item that starts on or before the mark's line.
fn refine(path: &str, mark: Option<Span>, positions: &PositionMap) -> String {
    let is_list = positions
        .get(path)
        .is_some_and(|n| n.kind == NodeKind::Sequence);
    if let (true, Some(mark)) = (is_list, mark)
        && let Some(item) = positions
            .children(path)
            .filter(|c| c.value.line <= mark.line)
            .last()
    {
        return item.path.clone();
    }
    path.to_owned()
}

/// Drops serde_yaml's trailing ` at line L column C`.
fn strip_mark(message: &str) -> &str {
    if let Some(at) = message.rfind(" at line ") {
        let tail = &message[at + " at line ".len()..];
        let mut words = tail.split(' ');
        let well_formed = words.next().is_some_and(is_number)
            && words.next() == Some("column")
            && words.next().is_some_and(is_number)
            && words.next().is_none();
        if well_formed {
            return &message[..at];
        }
    }
    message
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Splits `steps[0].title: message` into its path and message.
fn split_path(message: &str) -> (&str, &str) {
    if let Some((path, rest)) = message.split_once(": ") {
        let path_like = !path.is_empty()
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.[]?".contains(c));
        if path_like {
            return (path, rest);
        }
    }
    ("", message)
}

fn unknown_field(message: &str, path: &str, positions: &PositionMap, out: &mut Located) {
    let words = backquoted(message);
    let field = words.first().copied().unwrap_or_default();
    let node = positions.get(&child_key(path, field)).or_else(|| {
        // Nested in a goal (e.g. in its `target`): the path stops at the goal.
        positions
            .descendants(path)
            .find(|n| n.key.is_some() && last_key(&n.path) == field)
    });
    if let Some(node) = node {
        out.span = node.entry();
    }
    let expected: Vec<&str> = words.into_iter().skip(1).collect();
    out.help = match did_you_mean(field, expected.iter().copied()) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if expected.is_empty() => Some("remove it: this mapping takes no keys".to_owned()),
        None => Some(format!(
            "remove it, or use one of {}",
            quoted_list(&expected)
        )),
    };
    // serde lists every field; the help line says it better than a long message.
    out.message = format!("unknown field `{field}`{}", where_(path, positions));
}

fn unknown_variant(message: &str, path: &str, positions: &PositionMap, out: &mut Located) {
    let words = backquoted(message);
    let value = words.first().copied().unwrap_or_default();
    let expected: Vec<&str> = words.into_iter().skip(1).collect();
    let node = positions
        .descendants(path)
        .find(|n| n.scalar() == Some(value));
    if let Some(node) = node {
        out.span = node.value;
    }
    let is_goal_kind = node.is_some_and(|n| n.path.ends_with(".kind"))
        && expected.iter().all(|e| Goal::KINDS.contains(e));
    out.message = if is_goal_kind {
        format!("unknown goal kind `{value}`")
    } else {
        let key = node.map_or(path, |n| &n.path);
        format!("unknown value `{value}` for `{}`", last_key(key))
    };
    out.help = match did_you_mean(value, expected.iter().copied()) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None => Some(format!("use one of {}", quoted_list(&expected))),
    };
}

fn missing_field(field: &str, path: &str, positions: &PositionMap, out: &mut Located) {
    let node = positions.get(path);
    if let Some(node) = node {
        out.span = node.entry();
    }
    let kind = positions
        .get(&child_key(path, "kind"))
        .and_then(|n| n.scalar())
        .filter(|k| Goal::KINDS.contains(k));
    let in_target = matches!(field, "apiVersion" | "kind")
        && positions.get(&child_key(path, "target")).is_some();
    if in_target && let Some(target) = positions.get(&child_key(path, "target")) {
        out.span = target.entry();
        out.message = format!("missing field `{field}` in `target`");
        out.help = Some(format!("add `{field}: ...` to the target"));
        return;
    }
    if field == "kind" && path.contains("goals[") {
        out.message = "missing field `kind`: every goal says which kind it is".to_owned();
        out.help = Some(format!(
            "start the goal with `kind:` and one of {}",
            quoted_list(Goal::KINDS)
        ));
        return;
    }
    out.message = match kind {
        Some(kind) => format!("missing field `{field}`: a `{kind}` goal needs it"),
        None if path.is_empty() => format!("missing field `{field}` at the top level"),
        None => format!("missing field `{field}` in `{path}`"),
    };
    out.help = Some(format!("add `{field}: ...` here"));
}

fn invalid_value(rest: &str, path: &str, positions: &PositionMap, out: &mut Located) {
    let (found, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
    let node = positions
        .get(path)
        .filter(|n| matches_found(&n.kind, found));
    let node = node.or_else(|| {
        positions
            .descendants(path)
            .find(|n| n.path != path && matches_found(&n.kind, found))
    });
    if let Some(node) = node {
        // A list or mapping where text belongs: its key says more than its first item.
        out.span = match node.kind {
            NodeKind::Scalar(_) => node.value,
            _ => node.entry(),
        };
    }
    let field = last_key(node.map_or(path, |n| &n.path));
    let whole = matches!(expected, "u8" | "u16" | "u32" | "u64" | "usize");
    let negative = found.starts_with("integer `-");
    out.message = if whole && negative {
        format!("`{field}` must be zero or more, found {}", unquote(found))
    } else if whole && found.starts_with("integer `") {
        format!("`{field}` is too large: {}", unquote(found))
    } else {
        format!(
            "`{field}` must be {}, found {}",
            describe_expected(expected),
            describe_found(found)
        )
    };
}

/// Whether a node is what serde's "found" text describes (`string "x"`, `sequence`, ...).
fn matches_found(kind: &NodeKind, found: &str) -> bool {
    match kind {
        NodeKind::Sequence => found == "sequence",
        NodeKind::Mapping => found == "map",
        NodeKind::Scalar(text) => {
            if found == "unit value" {
                return matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
            }
            let quoted = found
                .strip_prefix("string \"")
                .and_then(|s| s.strip_suffix('"'));
            let raw = quoted.map(str::to_owned).unwrap_or_else(|| unquote(found));
            // serde escapes strings with Rust's Debug; compare loosely.
            text == &raw || format!("{text:?}") == format!("\"{raw}\"")
        }
    }
}

/// `integer `-1`` -> `-1`.
fn unquote(found: &str) -> String {
    found
        .split('`')
        .nth(1)
        .map_or_else(|| found.to_owned(), str::to_owned)
}

fn describe_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (zero or more)".to_owned(),
        "i32" | "i64" => "a whole number".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a string" | "string" => "text".to_owned(),
        e if e.starts_with("struct ") || e == "a map" => "a mapping of keys to values".to_owned(),
        e if e.starts_with("internally tagged enum") => {
            "a goal: a mapping with a `kind` key".to_owned()
        }
        "" => "something else".to_owned(),
        other => other.to_owned(),
    }
}

fn describe_found(found: &str) -> String {
    match found {
        "sequence" => "a list".to_owned(),
        "map" => "a mapping".to_owned(),
        "unit value" => "nothing (an empty value)".to_owned(),
        other => match other.split_once(' ') {
            Some(("string", value)) => format!("the text {value}"),
            Some(("boolean", value)) => format!("the boolean {}", unquote(value)),
            Some(("floating", _)) => format!("the number {}", unquote(other)),
            Some(("integer", _)) => format!("the number {}", unquote(other)),
            _ => other.to_owned(),
        },
    }
}

/// The last key of a path: `steps[0].goals[1].replicas` -> `replicas`; list items keep
/// their parent's key.
fn last_key(path: &str) -> &str {
    let trimmed = path.trim_end_matches(|c: char| c == ']' || c.is_ascii_digit() || c == '[');
    trimmed.rsplit('.').next().unwrap_or(trimmed)
}

/// ` in this `deployed` goal` when the path is a goal, else empty.
fn where_(path: &str, positions: &PositionMap) -> String {
    positions
        .get(&child_key(path, "kind"))
        .and_then(|n| n.scalar())
        .filter(|k| Goal::KINDS.contains(k))
        .map(|k| format!(" in this `{k}` goal"))
        .unwrap_or_default()
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::model::Lesson;

    fn locate_in(text: &str) -> Located {
        let positions = PositionMap::parse(text).unwrap();
        let err = serde_yaml::from_str::<Lesson>(text).unwrap_err();
        locate(&err, &positions, Span::START)
    }

    const HEAD: &str = "version: 1\ntitle: T\nsteps:\n  - id: a\n    title: A\n";

    #[test]
    fn unknown_keys_point_at_the_key_with_a_suggestion() {
        let loc = locate_in(&format!("{HEAD}    titel: B\n"));
        assert_eq!(loc.span, Span::new(6, 5, 5));
        assert_eq!(loc.help.as_deref(), Some("did you mean `title`?"));
    }

    #[test]
    fn goal_errors_point_inside_the_goal() {
        let goal =
            "    goals:\n      - kind: scaled\n        deployment: web\n        replicas: -2\n";
        let loc = locate_in(&format!("{HEAD}{goal}"));
        assert_eq!(loc.span.line, 9, "{loc:?}");
        assert_eq!(loc.message, "`replicas` must be zero or more, found -2");

        let goal = "    goals:\n      - kind: deploy\n        deployment: web\n";
        let loc = locate_in(&format!("{HEAD}{goal}"));
        assert_eq!(loc.span, Span::new(7, 15, 6));
        assert_eq!(loc.message, "unknown goal kind `deploy`");
        assert_eq!(loc.help.as_deref(), Some("did you mean `deployed`?"));

        let goal = "    goals:\n      - kind: exposed\n        deployment: web\n        type: Nodeport\n        port: 80\n";
        let loc = locate_in(&format!("{HEAD}{goal}"));
        assert_eq!(loc.span.line, 9);
        assert_eq!(loc.help.as_deref(), Some("did you mean `NodePort`?"));

        let goal = "    goals:\n      - kind: deployed\n        deployment: web\n        imag: x\n";
        let loc = locate_in(&format!("{HEAD}{goal}"));
        assert_eq!(loc.span, Span::new(9, 9, 4));
        assert_eq!(loc.help.as_deref(), Some("did you mean `image`?"));

        let goal = "    goals:\n      - kind: deployed\n        deployment: web\n";
        let loc = locate_in(&format!("{HEAD}{goal}"));
        assert_eq!(loc.span.line, 7);
        assert!(
            loc.message.contains("a `deployed` goal needs it"),
            "{loc:?}"
        );
    }

    #[test]
    fn wrong_types_are_described_plainly() {
        let loc = locate_in(&format!("{HEAD}    hints: hello\n"));
        assert_eq!(loc.span, Span::new(6, 12, 5));
        assert_eq!(
            loc.message,
            "`hints` must be a list, found the text \"hello\""
        );
        let loc = locate_in(&format!("{HEAD}    timeout: 2x\n"));
        assert_eq!(loc.span, Span::new(6, 14, 2));
        assert!(loc.message.contains("unexpected `x`"), "{loc:?}");
    }

    #[test]
    fn strips_marks_and_paths() {
        assert_eq!(strip_mark("boom at line 3 column 4"), "boom");
        assert_eq!(strip_mark("boom at line three"), "boom at line three");
        assert_eq!(split_path("steps[0].id: bad"), ("steps[0].id", "bad"));
        assert_eq!(split_path("invalid type: x"), ("", "invalid type: x"));
        assert_eq!(last_key("steps[0].goals[1].replicas"), "replicas");
        assert_eq!(last_key("steps[0].hints"), "hints");
    }
}
