//! Label and field selectors with the API server's grammar and matching rules
//! (`k8s.io/apimachinery/pkg/labels` and `pkg/fields`).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::names::{validate_label_key, validate_label_value};

/// Why a selector string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorError(pub String);

/// The operator of one label requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key` - the label is present.
    Exists,
    /// `!key` - the label is absent.
    DoesNotExist,
    /// `key=v`, `key==v`, `key in (v1,v2)`.
    In,
    /// `key!=v`, `key notin (v1,v2)` - also true when the label is absent.
    NotIn,
    /// `key>n` - the label is an integer greater than n.
    Gt,
    /// `key<n` - the label is an integer less than n.
    Lt,
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// How the key's value is compared.
    pub operator: Operator,
    /// The values compared against (one for `=`/`!=`/`>`/`<`, several for `in`/`notin`).
    pub values: Vec<String>,
    /// Whether the requirement was written with a single `=`/`!=` (for canonical display).
    single: bool,
}

impl Requirement {
    /// Whether a label's value (`None` when the label is absent) satisfies the requirement.
    fn matches(&self, value: Option<&str>) -> bool {
        match self.operator {
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::In => value.is_some_and(|v| self.values.iter().any(|w| w == v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.iter().any(|w| w == v)),
            Operator::Gt | Operator::Lt => {
                let (Some(actual), Some(bound)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.operator == Operator::Gt {
                    actual > bound
                } else {
                    actual < bound
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operator {
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::In if self.single => write!(f, "{}={}", self.key, self.values[0]),
            Operator::NotIn if self.single => write!(f, "{}!={}", self.key, self.values[0]),
            Operator::In => write!(f, "{} in ({})", self.key, self.values.join(",")),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, self.values.join(",")),
            Operator::Gt => write!(f, "{}>{}", self.key, self.values[0]),
            Operator::Lt => write!(f, "{}<{}", self.key, self.values[0]),
        }
    }
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Eq,
    DoubleEq,
    NotEq,
    Bang,
    Gt,
    Lt,
    Comma,
    Open,
    Close,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(s) => write!(f, "{s}"),
            Token::Eq => f.write_str("="),
            Token::DoubleEq => f.write_str("=="),
            Token::NotEq => f.write_str("!="),
            Token::Bang => f.write_str("!"),
            Token::Gt => f.write_str(">"),
            Token::Lt => f.write_str("<"),
            Token::Comma => f.write_str(","),
            Token::Open => f.write_str("("),
            Token::Close => f.write_str(")"),
        }
    }
}

fn tokenize(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    tokens.push(Token::DoubleEq);
                } else {
                    tokens.push(Token::Eq);
                }
            }
            '!' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    tokens.push(Token::NotEq);
                } else {
                    tokens.push(Token::Bang);
                }
            }
            '>' => {
                chars.next();
                tokens.push(Token::Gt);
            }
            '<' => {
                chars.next();
                tokens.push(Token::Lt);
            }
            ',' => {
                chars.next();
                tokens.push(Token::Comma);
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            _ => {
                let mut ident = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "=!<>,()".contains(c) {
                        break;
                    }
                    ident.push(c);
                    chars.next();
                }
                tokens.push(Token::Ident(ident));
            }
        }
    }
    tokens
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn found(token: Option<&Token>) -> String {
        token.map_or_else(|| "end of string".to_owned(), |t| format!("'{t}'"))
    }

    fn ident(&mut self, what: &str) -> Result<String, SelectorError> {
        match self.next() {
            Some(Token::Ident(s)) => Ok(s),
            other => Err(SelectorError(format!(
                "found {}, expected: {what}",
                Self::found(other.as_ref())
            ))),
        }
    }

    fn value(&mut self) -> Result<String, SelectorError> {
        // A value may be empty: `key=` selects an empty label value.
        match self.peek() {
            Some(Token::Ident(_)) => self.ident("value"),
            None | Some(Token::Comma) => Ok(String::new()),
            other => Err(SelectorError(format!(
                "found {}, expected: identifier",
                Self::found(other)
            ))),
        }
    }

    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        match self.next() {
            Some(Token::Open) => {}
            other => {
                return Err(SelectorError(format!(
                    "found {}, expected: '('",
                    Self::found(other.as_ref())
                )));
            }
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                Some(Token::Ident(s)) => values.push(s),
                Some(Token::Close) if values.is_empty() => return Ok(vec![String::new()]),
                other => {
                    return Err(SelectorError(format!(
                        "found {}, expected: identifier",
                        Self::found(other.as_ref())
                    )));
                }
            }
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::Close) => return Ok(values),
                other => {
                    return Err(SelectorError(format!(
                        "found {}, expected: ',' or ')'",
                        Self::found(other.as_ref())
                    )));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let negated = if self.peek() == Some(&Token::Bang) {
            self.pos += 1;
            true
        } else {
            false
        };
        let key = self.ident("identifier")?;
        validate_label_key(&key)
            .map_err(|e| SelectorError(format!("invalid label key \"{key}\": {e}")))?;
        let make = |operator, values, single| Requirement {
            key: key.clone(),
            operator,
            values,
            single,
        };
        if negated {
            return Ok(make(Operator::DoesNotExist, Vec::new(), false));
        }
        let requirement = match self.peek() {
            None | Some(Token::Comma) => make(Operator::Exists, Vec::new(), false),
            Some(Token::Eq) | Some(Token::DoubleEq) => {
                self.pos += 1;
                make(Operator::In, vec![self.value()?], true)
            }
            Some(Token::NotEq) => {
                self.pos += 1;
                make(Operator::NotIn, vec![self.value()?], true)
            }
            Some(Token::Gt) | Some(Token::Lt) => {
                let op = if self.next() == Some(Token::Gt) {
                    Operator::Gt
                } else {
                    Operator::Lt
                };
                let bound = self.ident("integer")?;
                if bound.parse::<i64>().is_err() {
                    return Err(SelectorError(format!(
                        "for 'Gt', 'Lt' operators, the value must be an integer: {bound}"
                    )));
                }
                make(op, vec![bound], false)
            }
            Some(Token::Ident(word)) if word == "in" || word == "notin" => {
                let op = if word == "in" {
                    Operator::In
                } else {
                    Operator::NotIn
                };
                self.pos += 1;
                make(op, self.value_set()?, false)
            }
            other => {
                return Err(SelectorError(format!(
                    "found {}, expected: in, notin, =, ==, !=, gt, lt",
                    Self::found(other)
                )));
            }
        };
        for value in &requirement.values {
            if matches!(requirement.operator, Operator::In | Operator::NotIn) {
                validate_label_value(value)
                    .map_err(|e| SelectorError(format!("invalid label value \"{value}\": {e}")))?;
            }
        }
        Ok(requirement)
    }
}

impl LabelSelector {
    /// Parses `app=web,tier in (a,b),!legacy` and friends.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser {
            tokens: tokenize(input),
            pos: 0,
        };
        let mut requirements = Vec::new();
        if parser.peek().is_none() {
            return Ok(Self::default());
        }
        loop {
            requirements.push(parser.requirement()?);
            match parser.next() {
                None => break,
                Some(Token::Comma) => continue,
                Some(other) => {
                    return Err(SelectorError(format!("found '{other}', expected: ','")));
                }
            }
        }
        Ok(Self { requirements })
    }

    /// Builds a selector from a `metav1.LabelSelector` (matchLabels and matchExpressions).
    pub fn from_k8s(
        selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    ) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement {
                key: key.clone(),
                operator: Operator::In,
                values: vec![value.clone()],
                single: true,
            });
        }
        for expr in selector.match_expressions.iter().flatten() {
            let values = expr.values.clone().unwrap_or_default();
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError(format!(
                        "\"{other}\" is not a valid label selector operator"
                    )));
                }
            };
            let needs_values = matches!(operator, Operator::In | Operator::NotIn);
            if needs_values == values.is_empty() {
                return Err(SelectorError(format!(
                    "values: Invalid value: {values:?}: {}",
                    if needs_values {
                        "for 'in', 'notin' operators, values set can't be empty"
                    } else {
                        "values set must be empty for exists and does not exist"
                    }
                )));
            }
            requirements.push(Requirement {
                key: expr.key.clone(),
                operator,
                values,
                single: false,
            });
        }
        Ok(Self { requirements })
    }

    /// The selector of a plain `map[string]string` (a Service's, a template's labels), as
    /// `labels.SelectorFromSet` builds it: every key must have its value.
    pub fn from_map<K: AsRef<str>, V: AsRef<str>>(set: &BTreeMap<K, V>) -> Self {
        let requirements = set
            .iter()
            .map(|(key, value)| Requirement {
                key: key.as_ref().to_owned(),
                operator: Operator::In,
                values: vec![value.as_ref().to_owned()],
                single: true,
            })
            .collect();
        Self { requirements }
    }

    /// The same selector in `labels.Selector`'s canonical order, as its `String()` prints it
    /// (`kubectl get -o wide`, a Scale's `status.selector`): requirements sorted by key, the
    /// values of a set sorted.
    pub fn canonical(&self) -> Self {
        let mut requirements = self.requirements.clone();
        for r in &mut requirements {
            if matches!(r.operator, Operator::In | Operator::NotIn) {
                r.values.sort();
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self { requirements }
    }

    /// Whether the selector has no requirements (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a set of labels (owned or borrowed strings) satisfies every requirement.
    pub fn matches<K: Borrow<str> + Ord, V: AsRef<str>>(&self, labels: &BTreeMap<K, V>) -> bool {
        self.matches_with(|key| labels.get(key).map(AsRef::as_ref))
    }

    /// Whether the labels `lookup` finds (`None` for an absent label) satisfy every requirement.
    pub fn matches_with<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| r.matches(lookup(&r.key)))
    }

    /// Whether a JSON labels map (as in `metadata.labels`, possibly absent) satisfies the selector.
    pub fn matches_json(&self, labels: Option<&Value>) -> bool {
        self.matches_with(|key| labels.and_then(|l| l.get(key)).and_then(Value::as_str))
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// A parsed field selector such as `metadata.name=web,status.phase!=Running`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses comma-separated `path=value`, `path==value` and `path!=value` terms.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let mut terms = Vec::new();
        for raw in split_unescaped(input, ',') {
            let term = raw.trim();
            if term.is_empty() {
                continue;
            }
            let (path, equal, value) = if let Some((p, v)) = term.split_once("!=") {
                (p, false, v)
            } else if let Some((p, v)) = term.split_once("==") {
                (p, true, v)
            } else if let Some((p, v)) = term.split_once('=') {
                (p, true, v)
            } else {
                return Err(SelectorError(format!(
                    "invalid field selector: '{term}': expected an operator (=, ==, !=)"
                )));
            };
            if path.trim().is_empty() {
                return Err(SelectorError(format!(
                    "invalid field selector: '{term}': missing field name"
                )));
            }
            terms.push((path.trim().to_owned(), equal, unescape(value)));
        }
        Ok(Self { terms })
    }

    /// Whether an object satisfies every term; a missing field reads as the empty string.
    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|(path, equal, expected)| {
            let actual = path
                .split('.')
                .try_fold(object, |v, key| v.get(key))
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            (actual == *expected) == *equal
        })
    }
}

fn split_unescaped(input: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in input.chars() {
        if escaped {
            if let Some(p) = parts.last_mut() {
                p.push('\\');
                p.push(c);
            }
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(String::new());
        } else if let Some(p) = parts.last_mut() {
            p.push(c);
        }
    }
    parts
}

fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in value.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn equality_and_sets() {
        let s = LabelSelector::parse("app=web, tier in (front,back),!legacy").unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "front"),
            ("legacy", "")
        ])));
        assert_eq!(s.to_string(), "app=web,tier in (front,back),!legacy");
    }

    #[test]
    fn not_equal_matches_absent_labels() {
        let s = LabelSelector::parse("version!=v1").unwrap();
        assert!(s.matches(&labels(&[])));
        assert!(!s.matches(&labels(&[("version", "v1")])));
        let s = LabelSelector::parse("env notin (prod)").unwrap();
        assert!(s.matches(&labels(&[("env", "dev")])));
    }

    #[test]
    fn exists_gt_lt_and_empty() {
        assert!(LabelSelector::parse("").unwrap().matches(&labels(&[])));
        let s = LabelSelector::parse("app,rank>2,rank<9").unwrap();
        assert!(s.matches(&labels(&[("app", "x"), ("rank", "5")])));
        assert!(!s.matches(&labels(&[("app", "x"), ("rank", "1")])));
        assert!(!s.matches(&labels(&[("rank", "5")])));
    }

    #[test]
    fn json_labels() {
        let s = LabelSelector::parse("app==web").unwrap();
        assert!(s.matches_json(Some(&json!({"app": "web"}))));
        assert!(!s.matches_json(None));
    }

    #[test]
    fn sets_select_like_service_selectors_and_borrowed_maps_work() {
        let set = BTreeMap::from([("app", "web"), ("tier", "front")]);
        let s = LabelSelector::from_map(&set);
        let borrowed = BTreeMap::from([("app", "web"), ("tier", "front"), ("x", "y")]);
        assert!(s.matches(&borrowed));
        assert!(!s.matches(&labels(&[("app", "web")])));
        assert_eq!(s.to_string(), "app=web,tier=front");
        assert!(LabelSelector::from_map(&BTreeMap::<String, String>::new()).matches(&borrowed));
    }

    #[test]
    fn canonical_form_sorts_keys_and_set_values() {
        let s = LabelSelector::parse("tier in (y,x),app=web,!legacy").unwrap();
        assert_eq!(s.canonical().to_string(), "app=web,!legacy,tier in (x,y)");
        assert_eq!(s.to_string(), "tier in (y,x),app=web,!legacy");
    }

    #[test]
    fn bad_selectors_are_rejected_with_reasons() {
        for bad in [
            "app=",
            "=web",
            "app in web",
            "app in (a",
            "a b",
            "x>y",
            "Bad Key=1",
            "a=b=c",
        ] {
            let result = LabelSelector::parse(bad);
            if bad == "app=" {
                assert!(result.is_ok(), "an empty value is allowed: {bad}");
            } else {
                assert!(result.is_err(), "expected {bad:?} to be rejected");
            }
        }
        let err = LabelSelector::parse("app in web").unwrap_err();
        assert!(err.to_string().contains("expected: '('"), "{err}");
    }

    #[test]
    fn from_k8s_selector() {
        let sel: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
            serde_json::from_value(json!({
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
            }))
            .unwrap();
        let s = LabelSelector::from_k8s(&sel).unwrap();
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
    }

    #[test]
    fn field_selectors() {
        let obj = json!({"metadata": {"name": "web", "namespace": "default"}, "count": 2});
        assert!(
            FieldSelector::parse("metadata.name=web")
                .unwrap()
                .matches(&obj)
        );
        assert!(
            FieldSelector::parse("metadata.name!=db,metadata.namespace==default")
                .unwrap()
                .matches(&obj)
        );
        assert!(
            !FieldSelector::parse("metadata.name=db")
                .unwrap()
                .matches(&obj)
        );
        assert!(FieldSelector::parse("count=2").unwrap().matches(&obj));
        assert!(
            FieldSelector::parse("spec.nodeName=")
                .unwrap()
                .matches(&obj)
        );
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
