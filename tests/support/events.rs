//! The `--json` event stream as tests read it: every line must be valid against the shipped
//! schema (`docs/json-events.schema.json`) and carry the format version.

use std::sync::OnceLock;

use serde_json::Value;

/// The shipped schema, compiled once per test binary.
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json-events.schema.json");
        let text = std::fs::read_to_string(path).expect("the events schema is shipped");
        let schema: Value = serde_json::from_str(&text).expect("the events schema is JSON");
        jsonschema::validator_for(&schema).expect("the events schema is a valid schema")
    })
}

/// Parses one stdout line of `--json` and checks it: a JSON object valid against the shipped
/// schema, with `version` 1 and an RFC 3339 `ts` with milliseconds.
pub fn parse_event(line: &str) -> Value {
    let value: Value = serde_json::from_str(line)
        .unwrap_or_else(|err| panic!("stdout line is not JSON ({err}): {line}"));
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "event does not match docs/json-events.schema.json: {errors:?}\n{line}"
    );
    assert_eq!(value["version"], 1, "{line}");
    let ts = value["ts"].as_str().unwrap_or_default();
    assert!(
        ts.len() == 24 && ts.ends_with('Z'),
        "ts is not RFC 3339 with milliseconds: {line}"
    );
    value
}

/// Every line of a finished command's stdout, each checked by [`parse_event`].
pub fn parse_events(stdout: &str) -> Vec<Value> {
    stdout.lines().map(parse_event).collect()
}
