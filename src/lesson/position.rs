//! A map from YAML paths (`steps[3].goals[0].image`) to where each node sits in the file.
//!
//! serde_yaml reports a path with most errors but loses the exact place of anything inside an
//! internally tagged enum (goals), and lint needs places for nodes that deserialized fine. This
//! module walks yaml-rust2's marked events once, which is also where hostile input is refused
//! before serde sees it: anchors and aliases, tags, deep nesting, duplicate keys, several
//! documents, and a top level that is not a mapping.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::diagnostic::Span;

/// Deepest nesting accepted; lessons need about six levels.
pub const MAX_DEPTH: usize = 64;

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// A scalar with its text (empty for a missing value).
    Scalar(String),
    /// A list.
    Sequence,
    /// A mapping.
    Mapping,
}

/// One node of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// serde_yaml-style path: `title`, `steps[0]`, `steps[0].goals[1].kind`; the root is ``.
    pub path: String,
    /// Where the node's key is, when the node is a mapping value.
    pub key: Option<Span>,
    /// Where the node itself starts.
    pub value: Span,
    /// Scalar, list or mapping.
    pub kind: NodeKind,
}

impl Node {
    /// The key if there is one, else the value: where "this entry" is.
    pub fn entry(&self) -> Span {
        self.key.unwrap_or(self.value)
    }

    /// The scalar text, if the node is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// A reason the document was refused before deserialization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub span: Span,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Problem {
    fn new(span: Span, message: impl Into<String>, help: Option<&str>) -> Self {
        Problem {
            span,
            message: message.into(),
            help: help.map(str::to_owned),
        }
    }
}

/// Every node of a lesson document by path, in document order.
#[derive(Debug, Clone, Default)]
pub struct PositionMap {
    nodes: Vec<Node>,
    index: HashMap<String, usize>,
}

impl PositionMap {
    /// Walks `text` and records every node, refusing what lessons never need.
    pub fn parse(text: &str) -> Result<Self, Problem> {
        let lines: Vec<&str> = text.split('\n').collect();
        let mut builder = Builder {
            lines: &lines,
            map: PositionMap::default(),
            stack: Vec::new(),
            documents: 0,
            problem: None,
        };
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, mark) = match parser.next_token() {
                Ok(next) => next,
                Err(err) => {
                    let span = builder.span_at(err.marker(), 1);
                    if err.info().contains("recursion limit") {
                        return Err(too_deep(span));
                    }
                    return Err(Problem::new(
                        span,
                        format!("invalid YAML: {}", err.info()),
                        None,
                    ));
                }
            };
            if event == Event::StreamEnd {
                break;
            }
            builder.on_event(event, mark);
            if let Some(problem) = builder.problem.take() {
                return Err(problem);
            }
        }
        Ok(builder.map)
    }

    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.index.get(path).map(|&i| &self.nodes[i])
    }

    /// The root node, if the document has one.
    pub fn root(&self) -> Option<&Node> {
        self.get("")
    }

    /// Where the value at `path` is, falling back to the closest recorded ancestor.
    pub fn value_span(&self, path: &str) -> Span {
        self.closest(path).map_or(Span::START, |n| n.value)
    }

    /// Where the key of the entry at `path` is (the value for list items), falling back to
    /// the closest recorded ancestor.
    pub fn entry_span(&self, path: &str) -> Span {
        self.closest(path).map_or(Span::START, Node::entry)
    }

    /// The node at `path` or its nearest recorded ancestor.
    pub fn closest(&self, path: &str) -> Option<&Node> {
        let mut path = path;
        loop {
            if let Some(node) = self.get(path) {
                return Some(node);
            }
            path = parent_path(path)?;
        }
    }

    /// Direct children of the node at `path`, in document order.
    pub fn children<'a, 'p>(
        &'a self,
        path: &'p str,
    ) -> impl Iterator<Item = &'a Node> + use<'a, 'p> {
        self.nodes
            .iter()
            .filter(move |n| parent_path(&n.path) == Some(path) && n.path != path)
    }

    /// Every node whose path starts with `path` (the node itself included), in order.
    pub fn descendants<'a, 'p>(
        &'a self,
        path: &'p str,
    ) -> impl Iterator<Item = &'a Node> + use<'a, 'p> {
        self.nodes.iter().filter(move |n| {
            path.is_empty()
                || n.path == path
                || n.path
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    }
}

fn too_deep(span: Span) -> Problem {
    Problem::new(
        span,
        format!("the document nests deeper than {MAX_DEPTH} levels"),
        Some("lessons need only a few levels of nesting; is a bracket unbalanced?"),
    )
}

/// The path of a node's parent: `steps[0].id` -> `steps[0]` -> `steps` -> ``.
pub fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = if path.ends_with(']') {
        path.rfind('[')
    } else {
        path.rfind('.')
    };
    Some(cut.map_or("", |i| &path[..i]))
}

/// The path of a child of `parent` under `key`.
pub fn child_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

enum Frame {
    Mapping {
        path: String,
        /// Keys seen so far and the line of each.
        keys: HashMap<String, usize>,
        /// The key waiting for its value, or `None` when the next scalar is a key.
        pending: Option<(String, Span)>,
    },
    Sequence {
        path: String,
        next: usize,
    },
}

struct Builder<'t> {
    lines: &'t [&'t str],
    map: PositionMap,
    stack: Vec<Frame>,
    documents: usize,
    problem: Option<Problem>,
}

impl Builder<'_> {
    fn span_at(&self, mark: &Marker, len: usize) -> Span {
        // The scanner may report end of input on a line past the last one.
        let line = mark.line().clamp(1, self.lines.len().max(1));
        let width = self
            .lines
            .get(line - 1)
            .map_or(0, |l| l.trim_end_matches('\r').chars().count());
        Span::new(line, (mark.col() + 1).min(width + 1), len)
    }

    fn fail(&mut self, span: Span, message: impl Into<String>, help: Option<&str>) {
        if self.problem.is_none() {
            self.problem = Some(Problem::new(span, message, help));
        }
    }

    /// Characters a scalar covers on its first line, for the underline.
    fn scalar_len(&self, mark: &Marker, value: &str, style: TScalarStyle) -> usize {
        let Some(line) = self.lines.get(mark.line().max(1) - 1) else {
            return 1;
        };
        let rest: Vec<char> = line.chars().skip(mark.col()).collect();
        let rest_len = rest.len();
        match style {
            TScalarStyle::Plain if !value.contains('\n') => value.chars().count().min(rest_len),
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                let quote = rest.first().copied().unwrap_or('"');
                rest.iter()
                    .skip(1)
                    .position(|&c| c == quote)
                    .map_or(rest_len, |end| end + 2)
            }
            _ => rest.iter().collect::<String>().trim_end().chars().count(),
        }
        .max(1)
    }

    /// Where the next value goes, or `None` when the next scalar is a mapping key.
    fn next_value_path(&mut self) -> Option<(String, Option<Span>)> {
        match self.stack.last_mut() {
            None => Some((String::new(), None)),
            Some(Frame::Sequence { path, next }) => {
                let child = format!("{path}[{next}]");
                *next += 1;
                Some((child, None))
            }
            Some(Frame::Mapping { path, pending, .. }) => {
                let (key, span) = pending.take()?;
                Some((child_key(path, &key), Some(span)))
            }
        }
    }

    fn record(&mut self, path: String, key: Option<Span>, value: Span, kind: NodeKind) {
        self.map.index.insert(path.clone(), self.map.nodes.len());
        self.map.nodes.push(Node {
            path,
            key,
            value,
            kind,
        });
    }

    fn open(&mut self, mark: &Marker, anchor: usize, tagged: bool, mapping: bool) {
        if self.check_node(mark, anchor, tagged) {
            return;
        }
        if self.stack.len() >= MAX_DEPTH {
            if self.problem.is_none() {
                self.problem = Some(too_deep(self.span_at(mark, 1)));
            }
            return;
        }
        let Some((path, key)) = self.next_value_path() else {
            self.fail(
                self.span_at(mark, 1),
                "a mapping key must be plain text, not a list or mapping",
                None,
            );
            return;
        };
        let span = self.span_at(mark, 1);
        if path.is_empty() && !mapping {
            self.fail(
                span,
                "a lesson must be a mapping with keys such as `version`, `title` and `steps`, not a list",
                None,
            );
            return;
        }
        let kind = if mapping {
            NodeKind::Mapping
        } else {
            NodeKind::Sequence
        };
        self.record(path.clone(), key, span, kind);
        self.stack.push(if mapping {
            Frame::Mapping {
                path,
                keys: HashMap::new(),
                pending: None,
            }
        } else {
            Frame::Sequence { path, next: 0 }
        });
    }

    /// Refuses anchors and tags; returns whether it did.
    fn check_node(&mut self, mark: &Marker, anchor: usize, tagged: bool) -> bool {
        if anchor != 0 {
            self.fail(
                self.span_at(mark, 1),
                "YAML anchors (`&name`) are not allowed in lessons",
                Some("write the value out in full; anchors and aliases make files hard to read and can hide huge expansions"),
            );
            return true;
        }
        if tagged {
            self.fail(
                self.span_at(mark, 1),
                "YAML tags (`!tag`) are not allowed in lessons",
                Some("remove the tag; every value's type comes from its key"),
            );
            return true;
        }
        false
    }

    fn on_scalar(&mut self, value: String, style: TScalarStyle, mark: &Marker) {
        let len = self.scalar_len(mark, &value, style);
        let span = self.span_at(mark, len);
        if let Some(Frame::Mapping {
            keys,
            pending,
            path,
        }) = self.stack.last_mut()
            && pending.is_none()
        {
            // Block mappings are marked at their first `:`; the first key is a better start.
            if keys.is_empty()
                && let Some(&i) = self.map.index.get(path.as_str())
            {
                self.map.nodes[i].value = Span::new(span.line, span.col, 1);
            }
            if let Some(first) = keys.get(&value) {
                let message = format!("duplicate key `{value}` (first given on line {first})");
                self.fail(span, message, Some("remove one of the two entries"));
                return;
            }
            keys.insert(value.clone(), span.line);
            *pending = Some((value, span));
            return;
        }
        let Some((path, key)) = self.next_value_path() else {
            return;
        };
        if path.is_empty() {
            let message = if value.trim().is_empty() {
                "the file is empty"
            } else {
                "a lesson must be a mapping with keys such as `version`, `title` and `steps`, not a single value"
            };
            self.fail(
                span,
                message,
                Some("start from an existing lesson in `lessons/`, or see docs/lessons.md"),
            );
            return;
        }
        // An empty value sits wherever the next token is; point just after its key instead.
        let span = match key {
            Some(k) if value.is_empty() && style == TScalarStyle::Plain && span.line != k.line => {
                Span::new(k.line, k.col + k.len, 1)
            }
            _ => span,
        };
        self.record(path, key, span, NodeKind::Scalar(value));
    }

    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(
                        self.span_at(&mark, 3),
                        "a lesson file holds exactly one YAML document",
                        Some("remove the `---` line, or move the second lesson to its own file"),
                    );
                }
            }
            Event::Alias(_) => self.fail(
                self.span_at(&mark, 1),
                "YAML aliases (`*name`) are not allowed in lessons",
                Some("write the value out in full; aliases can hide huge expansions"),
            ),
            Event::Scalar(value, style, anchor, tag) => {
                if !self.check_node(&mark, anchor, tag.is_some()) {
                    self.on_scalar(value, style, &mark);
                }
            }
            Event::SequenceStart(anchor, tag) => self.open(&mark, anchor, tag.is_some(), false),
            Event::MappingStart(anchor, tag) => self.open(&mark, anchor, tag.is_some(), true),
            Event::SequenceEnd | Event::MappingEnd => {
                self.stack.pop();
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "version: 1\ntitle: \"Hi\"\nsteps:\n  - id: one\n    goals:\n      - kind: deployed\n        image: web:1\n  - id: two\n";

    #[test]
    fn records_keys_and_values_by_path() {
        let map = PositionMap::parse(DOC).unwrap();
        let title = map.get("title").unwrap();
        assert_eq!(title.key, Some(Span::new(2, 1, 5)));
        assert_eq!(title.value, Span::new(2, 8, 4));
        let image = map.get("steps[0].goals[0].image").unwrap();
        assert_eq!(image.value, Span::new(7, 16, 5));
        assert_eq!(image.scalar(), Some("web:1"));
        assert_eq!(map.get("steps[1]").unwrap().value.line, 8);
        assert_eq!(
            map.get("steps[0].goals[0]").unwrap().value,
            Span::new(6, 9, 1)
        );
    }

    #[test]
    fn walks_paths_up_and_down() {
        let map = PositionMap::parse(DOC).unwrap();
        assert_eq!(
            parent_path("steps[0].goals[1].kind"),
            Some("steps[0].goals[1]")
        );
        assert_eq!(parent_path("steps[0]"), Some("steps"));
        assert_eq!(parent_path("steps"), Some(""));
        assert_eq!(parent_path(""), None);
        assert_eq!(map.value_span("steps[0].goals[0].nope").line, 6);
        let kids: Vec<_> = map
            .children("steps[0].goals[0]")
            .map(|n| n.path.as_str())
            .collect();
        assert_eq!(kids, ["steps[0].goals[0].kind", "steps[0].goals[0].image"]);
        assert_eq!(map.descendants("steps[0]").count(), 6);
    }

    #[test]
    fn refuses_hostile_documents() {
        let cases = [
            ("a: &x 1\nb: *x\n", 1, "anchors"),
            ("a: 1\n---\nb: 2\n", 2, "one YAML document"),
            (
                "a: 1\nb: 2\na: 3\n",
                3,
                "duplicate key `a` (first given on line 1)",
            ),
            ("- 1\n", 1, "not a list"),
            ("hello\n", 1, "not a single value"),
            ("a: !!str 1\n", 1, "tags"),
            ("a: \"unterminated\n", 1, "invalid YAML"),
        ];
        for (text, line, message) in cases {
            let problem = PositionMap::parse(text).unwrap_err();
            assert!(problem.message.contains(message), "{text:?}: {problem:?}");
            assert_eq!(problem.span.line, line, "{text:?}: {problem:?}");
        }
    }

    #[test]
    fn refuses_deep_nesting_early() {
        let text = format!("a: {}", "[".repeat(100_000));
        let problem = PositionMap::parse(&text).unwrap_err();
        assert!(problem.message.contains("deeper than 64"), "{problem:?}");
        let block: String = (0..100)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let problem = PositionMap::parse(&block).unwrap_err();
        assert!(problem.message.contains("deeper than 64"), "{problem:?}");
        assert_eq!(problem.span.line, 65);
    }

    #[test]
    fn empty_values_point_after_their_key() {
        let map = PositionMap::parse("a:\nb: 1\n").unwrap();
        assert_eq!(map.get("a").unwrap().value, Span::new(1, 2, 1));
    }
}
