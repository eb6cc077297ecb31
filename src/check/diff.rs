//! Partial-object matching: does an object contain what a lesson's `matches` asks for?
//!
//! The rules (documented for authors on `ResourceGoal`):
//! - a map matches when every key it gives matches the actual value at that key (a subset);
//! - `null` matches a missing key or an actual `null`;
//! - scalars must be equal; numbers compare as numbers (`80` equals `80.0`), and a string
//!   never equals a number (`"80"` is not `80`);
//! - a list matches when each expected item matches a *distinct* actual item, order ignored,
//!   so `[{name: a}, {name: a}]` needs two items named `a`.

use std::fmt;

use serde_json::Value;

/// The first place where an object differs from the expected partial object.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Path of the differing value, e.g. `.metadata.labels.version` or `.spec.ports[0]`.
    pub path: String,
    /// What was expected there, rendered as compact JSON.
    pub expected: String,
    /// What was found there (`nothing` when the key is missing).
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "."
        } else {
            &self.path
        };
        write!(f, "{path}: expected {}, got {}", self.expected, self.actual)
    }
}

/// Checks that `actual` contains `expected`; on failure names the first differing path.
pub fn partial_match(expected: &Value, actual: &Value) -> Result<(), Mismatch> {
    match_at(expected, Some(actual), &mut String::new())
}

fn match_at(expected: &Value, actual: Option<&Value>, path: &mut String) -> Result<(), Mismatch> {
    match (expected, actual) {
        (Value::Null, None | Some(Value::Null)) => Ok(()),
        (_, None) => Err(mismatch(path, expected, None)),
        (Value::Object(want), Some(Value::Object(have))) => {
            for (key, want_value) in want {
                let len = path.len();
                push_key(path, key);
                let result = match_at(want_value, have.get(key), path);
                path.truncate(len);
                result?;
            }
            Ok(())
        }
        (Value::Array(want), Some(Value::Array(have))) => match_list(want, have, path),
        (Value::Number(want), Some(Value::Number(have))) => {
            if numbers_equal(want, have) {
                Ok(())
            } else {
                Err(mismatch(path, expected, actual))
            }
        }
        (want, Some(have)) => {
            if want == have {
                Ok(())
            } else {
                Err(mismatch(path, expected, actual))
            }
        }
    }
}

/// Matches each expected item to a distinct actual item (bipartite matching, Kuhn's algorithm:
/// lists in Kubernetes objects are short, so the quadratic cost does not matter).
fn match_list(want: &[Value], have: &[Value], path: &mut String) -> Result<(), Mismatch> {
    let fits: Vec<Vec<usize>> = want
        .iter()
        .map(|w| {
            (0..have.len())
                .filter(|&j| match_at(w, Some(&have[j]), &mut String::new()).is_ok())
                .collect()
        })
        .collect();
    // An item that fits nothing: report the diff against the item at the same index, which is
    // what an author most likely meant.
    if let Some(i) = fits.iter().position(Vec::is_empty) {
        let len = path.len();
        path.push_str(&format!("[{i}]"));
        let result = match have.get(i) {
            Some(candidate) => match_at(&want[i], Some(candidate), path),
            None => Err(mismatch(path, &want[i], None)),
        };
        path.truncate(len);
        return result;
    }
    let mut owner: Vec<Option<usize>> = vec![None; have.len()];
    for i in 0..want.len() {
        let mut seen = vec![false; have.len()];
        if !augment(i, &fits, &mut owner, &mut seen) {
            let matched = owner.iter().filter(|o| o.is_some()).count();
            return Err(Mismatch {
                path: path.clone(),
                expected: format!("{} distinct matching items", want.len()),
                actual: format!("only {matched} ({} items in all)", have.len()),
            });
        }
    }
    Ok(())
}

fn augment(i: usize, fits: &[Vec<usize>], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &j in &fits[i] {
        if seen[j] {
            continue;
        }
        seen[j] = true;
        if owner[j].is_none_or(|other| augment(other, fits, owner, seen)) {
            owner[j] = Some(i);
            return true;
        }
    }
    false
}

fn numbers_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Appends `.key`, or `["key"]` when the key has characters a dotted path cannot hold.
fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str(&format!("[{}]", Value::String(key.to_owned())));
    }
}

fn mismatch(path: &str, expected: &Value, actual: Option<&Value>) -> Mismatch {
    Mismatch {
        path: path.to_owned(),
        expected: expected.to_string(),
        actual: actual.map_or_else(|| "nothing".to_owned(), Value::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn diff(expected: Value, actual: Value) -> Option<String> {
        partial_match(&expected, &actual)
            .err()
            .map(|m| m.to_string())
    }

    #[test]
    fn maps_match_by_subset() {
        let actual =
            json!({"metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}}});
        assert_eq!(
            diff(
                json!({"metadata": {"labels": {"app": "web"}}}),
                actual.clone()
            ),
            None
        );
        assert_eq!(
            diff(
                json!({"metadata": {"labels": {"version": "v1"}}}),
                actual.clone()
            ),
            Some(r#".metadata.labels.version: expected "v1", got nothing"#.into())
        );
        assert_eq!(
            diff(json!({"metadata": {"labels": {"app": "db"}}}), actual),
            Some(r#".metadata.labels.app: expected "db", got "web""#.into())
        );
    }

    #[test]
    fn numbers_compare_as_numbers_but_never_equal_strings() {
        assert_eq!(diff(json!({"port": 80}), json!({"port": 80.0})), None);
        assert_eq!(diff(json!({"port": 80}), json!({"port": 80})), None);
        assert_eq!(
            diff(json!({"port": "80"}), json!({"port": 80})),
            Some(r#".port: expected "80", got 80"#.into())
        );
        assert_eq!(
            diff(json!({"port": 80}), json!({"port": "80"})),
            Some(r#".port: expected 80, got "80""#.into())
        );
        assert_eq!(
            diff(json!({"n": -1}), json!({"n": 18446744073709551615u64})),
            Some(".n: expected -1, got 18446744073709551615".into())
        );
    }

    #[test]
    fn lists_match_items_in_any_order() {
        let actual =
            json!({"ports": [{"port": 443, "name": "https"}, {"port": 80, "name": "http"}]});
        assert_eq!(diff(json!({"ports": [{"port": 80}]}), actual.clone()), None);
        assert_eq!(
            diff(
                json!({"ports": [{"port": 80}, {"port": 443}]}),
                actual.clone()
            ),
            None
        );
        assert_eq!(
            diff(json!({"ports": [{"port": 8080}]}), actual),
            Some(".ports[0].port: expected 8080, got 443".into())
        );
    }

    #[test]
    fn each_expected_item_needs_its_own_actual_item() {
        let actual = json!({"containers": [{"name": "a", "image": "x"}]});
        assert_eq!(
            diff(
                json!({"containers": [{"name": "a"}, {"image": "x"}]}),
                actual
            ),
            Some(
                ".containers: expected 2 distinct matching items, got only 1 (1 items in all)"
                    .into()
            )
        );
        // A greedy matcher would pair {image: x} with the first item and fail; matching must
        // move it to the second.
        let actual = json!({"c": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]});
        assert_eq!(
            diff(json!({"c": [{"image": "x"}, {"name": "a"}]}), actual),
            None
        );
    }

    #[test]
    fn a_missing_list_item_is_reported_at_its_index() {
        assert_eq!(
            diff(json!({"args": ["a", "b"]}), json!({"args": ["a"]})),
            Some(r#".args[1]: expected "b", got nothing"#.into())
        );
    }

    #[test]
    fn null_means_absent() {
        assert_eq!(
            diff(json!({"spec": {"nodeName": null}}), json!({"spec": {}})),
            None
        );
        assert_eq!(
            diff(
                json!({"spec": {"nodeName": null}}),
                json!({"spec": {"nodeName": "n1"}})
            ),
            Some(r#".spec.nodeName: expected null, got "n1""#.into())
        );
    }

    #[test]
    fn keys_with_dots_are_quoted_in_paths() {
        assert_eq!(
            diff(
                json!({"metadata": {"labels": {"app.kubernetes.io/name": "web"}}}),
                json!({"metadata": {"labels": {}}})
            ),
            Some(
                r#".metadata.labels["app.kubernetes.io/name"]: expected "web", got nothing"#.into()
            )
        );
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z0-9]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Drops every other key of every map, keeping the rest: always a subset.
    fn thin(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .enumerate()
                    .filter(|(i, _)| i % 2 == 0)
                    .map(|(_, (k, v))| (k.clone(), thin(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().rev().map(thin).collect()),
            other => other.clone(),
        }
    }

    proptest::proptest! {
        #[test]
        fn every_object_contains_itself_and_its_subsets(value in json_value()) {
            proptest::prop_assert_eq!(partial_match(&value, &value), Ok(()));
            proptest::prop_assert_eq!(partial_match(&thin(&value), &value), Ok(()));
        }
    }

    #[test]
    fn type_differences_are_reported() {
        assert_eq!(
            diff(
                json!({"spec": {"ports": [1]}}),
                json!({"spec": {"ports": {"a": 1}}})
            ),
            Some(r#".spec.ports: expected [1], got {"a":1}"#.into())
        );
        assert_eq!(diff(json!(true), json!(true)), None);
        assert_eq!(
            diff(json!(true), json!(false)),
            Some(".: expected true, got false".into())
        );
    }
}
