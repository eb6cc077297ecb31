//! Captures: reading a value (a pod name, a node port, an endpoint IP) out of the world.
//!
//! Paths are a small jq-like language: `.metadata.name`, `.spec.ports[0].nodePort`,
//! `.subsets[0].addresses[0].ip`, and `["key"]` for keys with dots or slashes
//! (`.metadata.labels["app.kubernetes.io/name"]`).

use std::fmt;

use serde_json::Value;

use crate::check::target::{describe, is_terminating, oldest_first, select};
use crate::check::world::{World, name_of};
use crate::lesson::model::Capture;

/// One step of a path: a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A parsed capture path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(pub Vec<Segment>);

/// Why a capture path could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse path `{path}` at character {at}: {why}")]
pub struct PathError {
    /// The path as written.
    pub path: String,
    /// Character offset (0-based) of the problem.
    pub at: usize,
    /// What is wrong there.
    pub why: String,
}

/// Why a capture has no value (yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The path is malformed (a lesson bug, also reported by lint).
    #[error(transparent)]
    Path(#[from] PathError),
    /// The target's selector is malformed.
    #[error("failed to parse selector: {0}")]
    Selector(String),
    /// No (non-terminating) object matches the target.
    #[error("no {0} yet")]
    NoObject(String),
    /// The object exists but has nothing at the path.
    #[error("{kind} {name} has no {path} yet")]
    Missing {
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
        /// The path as written.
        path: String,
    },
    /// The value at the path is a map or a list, not something to `export`.
    #[error("{kind} {name} has a {found} at {path}, not a single value")]
    NotScalar {
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
        /// The path as written.
        path: String,
        /// `map` or `list`.
        found: &'static str,
    },
}

impl Path {
    /// Parses `.a.b[0]["c.d"]`; the leading dot is required, like jq and kubectl's jsonpath.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        let fail = |at: usize, why: &str| PathError {
            path: text.to_owned(),
            at,
            why: why.to_owned(),
        };
        let chars: Vec<char> = text.chars().collect();
        if chars.first() != Some(&'.') {
            return Err(fail(0, "a path starts with `.`, e.g. `.metadata.name`"));
        }
        let mut segments = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len() && !matches!(chars[end], '.' | '[') {
                        end += 1;
                    }
                    if end == start {
                        // A lone `.` is the whole object; `..` or `.[` is a typo.
                        if text == "." {
                            break;
                        }
                        if chars.get(start) == Some(&'[') && i == 0 {
                            i = start;
                            continue;
                        }
                        return Err(fail(start, "expected a field name after `.`"));
                    }
                    segments.push(Segment::Key(chars[start..end].iter().collect()));
                    i = end;
                }
                '[' => {
                    let close = chars[i..]
                        .iter()
                        .position(|&c| c == ']')
                        .map(|p| p + i)
                        .ok_or_else(|| fail(i, "`[` is never closed"))?;
                    let inner: String = chars[i + 1..close].iter().collect();
                    let quoted = inner.len() >= 2
                        && ((inner.starts_with('"') && inner.ends_with('"'))
                            || (inner.starts_with('\'') && inner.ends_with('\'')));
                    if quoted {
                        segments.push(Segment::Key(inner[1..inner.len() - 1].to_owned()));
                    } else {
                        let index = inner.parse::<usize>().map_err(|_| {
                            fail(
                                i + 1,
                                "expected a list index like `[0]` or a quoted key like `[\"a.b\"]`",
                            )
                        })?;
                        segments.push(Segment::Index(index));
                    }
                    i = close + 1;
                }
                _ => return Err(fail(i, "expected `.` or `[`")),
            }
        }
        Ok(Path(segments))
    }

    /// The value at this path, if any.
    pub fn lookup<'a>(&self, mut value: &'a Value) -> Option<&'a Value> {
        for segment in &self.0 {
            value = match segment {
                Segment::Key(key) => value.as_object()?.get(key)?,
                Segment::Index(index) => value.as_array()?.get(*index)?,
            };
        }
        Some(value)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(".");
        }
        for segment in &self.0 {
            match segment {
                Segment::Key(key) if !key.is_empty() && !key.contains(['.', '[', ']']) => {
                    write!(f, ".{key}")?
                }
                Segment::Key(key) => write!(f, "[{}]", Value::String(key.clone()))?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Reads a capture's value from the world: from the named object, or the oldest
/// non-terminating object matching the selector (terminating ones are on their way out and
/// would hand the learner a name that is about to vanish).
pub fn read(capture: &Capture, world: &World, namespace: &str) -> Result<String, CaptureError> {
    let path = Path::parse(&capture.path)?;
    let mut found: Vec<&Value> = select(world, &capture.from, namespace)
        .map_err(|e| CaptureError::Selector(e.to_string()))?
        .into_iter()
        .filter(|o| !is_terminating(o))
        .collect();
    oldest_first(&mut found);
    let Some(object) = found.first() else {
        return Err(CaptureError::NoObject(describe(&capture.from, namespace)));
    };
    let kind = capture.from.kind.clone();
    let name = name_of(object).to_owned();
    match path.lookup(object) {
        None | Some(Value::Null) => Err(CaptureError::Missing {
            kind,
            name,
            path: capture.path.clone(),
        }),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(Value::Object(_)) => Err(CaptureError::NotScalar {
            kind,
            name,
            path: capture.path.clone(),
            found: "map",
        }),
        Some(Value::Array(_)) => Err(CaptureError::NotScalar {
            kind,
            name,
            path: capture.path.clone(),
            found: "list",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::model::Target;
    use serde_json::json;

    fn capture(kind: &str, name: Option<&str>, selector: Option<&str>, path: &str) -> Capture {
        Capture {
            name: "X".into(),
            from: Target {
                api_version: "v1".into(),
                kind: kind.into(),
                name: name.map(Into::into),
                selector: selector.map(Into::into),
                namespace: None,
            },
            path: path.into(),
        }
    }

    fn world() -> World {
        World::from_objects([
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-b", "namespace": "default",
                "labels": {"app": "web"}, "creationTimestamp": "2024-05-01T10:00:00Z"}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-a", "namespace": "default",
                "labels": {"app": "web"}, "creationTimestamp": "2024-05-01T10:00:05Z"}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "namespace": "default",
                "labels": {"app": "web"}, "creationTimestamp": "2024-05-01T09:00:00Z",
                "deletionTimestamp": "2024-05-01T10:00:06Z"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default",
                "labels": {"app.kubernetes.io/name": "web"}},
                "spec": {"ports": [{"port": 80, "nodePort": 31234}], "selector": {"app": "web"}}}),
            json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
                "subsets": [{"addresses": [{"ip": "10.0.0.7"}]}]}),
        ])
        .unwrap()
    }

    #[test]
    fn paths_parse_keys_indexes_and_quoted_keys() {
        let path = Path::parse(r#".metadata.labels["app.kubernetes.io/name"]"#).unwrap();
        assert_eq!(
            path.0,
            vec![
                Segment::Key("metadata".into()),
                Segment::Key("labels".into()),
                Segment::Key("app.kubernetes.io/name".into())
            ]
        );
        assert_eq!(
            path.to_string(),
            r#".metadata.labels["app.kubernetes.io/name"]"#
        );
        let path = Path::parse(".spec.ports[0].nodePort").unwrap();
        assert_eq!(path.to_string(), ".spec.ports[0].nodePort");
        assert_eq!(Path::parse(".").unwrap().0, vec![]);
        assert_eq!(Path::parse(".[0]").unwrap().0, vec![Segment::Index(0)]);
    }

    #[test]
    fn bad_paths_say_where() {
        assert!(
            Path::parse("metadata.name")
                .unwrap_err()
                .to_string()
                .contains("starts with `.`")
        );
        assert_eq!(Path::parse(".a..b").unwrap_err().at, 3);
        assert!(
            Path::parse(".a[0")
                .unwrap_err()
                .why
                .contains("never closed")
        );
        assert!(Path::parse(".a[x]").unwrap_err().why.contains("list index"));
        assert!(Path::parse(".a[-1]").is_err());
        assert!(
            Path::parse(".a]").is_ok(),
            "`]` inside a key is a literal character"
        );
    }

    #[test]
    fn captures_read_scalars_from_the_oldest_live_match() {
        let world = world();
        let read = |c: &Capture| read(c, &world, "default");
        assert_eq!(
            read(&capture("Pod", None, Some("app=web"), ".metadata.name")).unwrap(),
            "web-b"
        );
        assert_eq!(
            read(&capture(
                "Service",
                Some("web"),
                None,
                ".spec.ports[0].nodePort"
            ))
            .unwrap(),
            "31234"
        );
        assert_eq!(
            read(&capture(
                "Endpoints",
                Some("web"),
                None,
                ".subsets[0].addresses[0].ip"
            ))
            .unwrap(),
            "10.0.0.7"
        );
        assert_eq!(
            read(&capture(
                "Service",
                Some("web"),
                None,
                r#".metadata.labels["app.kubernetes.io/name"]"#
            ))
            .unwrap(),
            "web"
        );
    }

    #[test]
    fn capture_errors_are_plain() {
        let world = world();
        let err = |c: &Capture| read(c, &world, "default").unwrap_err().to_string();
        assert_eq!(
            err(&capture("Pod", None, Some("app=db"), ".metadata.name")),
            "no Pod matching app=db in namespace default yet"
        );
        assert_eq!(
            err(&capture(
                "Service",
                Some("web"),
                None,
                ".spec.ports[1].nodePort"
            )),
            "Service web has no .spec.ports[1].nodePort yet"
        );
        assert_eq!(
            err(&capture("Service", Some("web"), None, ".spec.selector")),
            "Service web has a map at .spec.selector, not a single value"
        );
        assert!(
            err(&capture("Service", Some("web"), None, "spec")).contains("failed to parse path")
        );
    }
}
