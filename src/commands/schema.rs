//! `kubetutor schema`: the JSON Schema of the lesson format, for editors and CI, or with
//! `--events` the schema of the `--json` events of `run` and `check`.

use std::process::ExitCode;

use crate::cli::SchemaArgs;
use crate::error::Error;
use crate::lesson::Lesson;

/// The `$id` of the lesson schema: a URN, since no server hosts it; editors find the file
/// through the `# yaml-language-server: $schema=...` line instead.
pub const SCHEMA_ID: &str = "urn:kubetutor:lesson:v1";

/// The schema of [`Lesson`] (draft 2020-12) with an `$id` and a title, as pretty JSON.
pub fn lesson_schema() -> String {
    let schema = schemars::schema_for!(Lesson);
    let mut value = schema.to_value();
    if let Some(object) = value.as_object_mut() {
        let mut ordered = serde_json::Map::new();
        if let Some(v) = object.remove("$schema") {
            ordered.insert("$schema".to_owned(), v);
        }
        object.remove("title");
        ordered.insert("$id".to_owned(), SCHEMA_ID.into());
        ordered.insert("title".to_owned(), "kubetutor lesson".into());
        ordered.append(object);
        value = serde_json::Value::Object(ordered);
    }
    // Serializing a Value cannot fail.
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Prints the schema on stdout.
pub fn run(args: &SchemaArgs) -> Result<ExitCode, Error> {
    if args.events {
        print!("{}", crate::runner::json::events_schema());
    } else {
        print!("{}", lesson_schema());
    }
    Ok(ExitCode::SUCCESS)
}
