//! `kubetutor lessons export DIR`: the built-in lessons and the lesson schema written out, for
//! an instructor to copy and change.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::schema::lesson_schema;
use crate::cli::{ExportArgs, LessonsArgs, LessonsCommand};
use crate::error::{EXIT_OK, Error};
use crate::lesson::builtin::{self, Builtin};

/// The schema's file name beside the exported lessons, which point their editors at it.
pub const SCHEMA_FILE: &str = "lesson.schema.json";

/// Runs `kubetutor lessons ...`.
pub fn run(args: &LessonsArgs) -> Result<ExitCode, Error> {
    match &args.action {
        LessonsCommand::Export(export) => export_to(export),
    }
}

fn export_to(args: &ExportArgs) -> Result<ExitCode, Error> {
    let mut files: Vec<(PathBuf, String)> = builtin::all()
        .iter()
        .map(|lesson| {
            let path = args.dir.join(format!("{}.yaml", lesson.name));
            (path, exported_text(lesson))
        })
        .collect();
    files.push((args.dir.join(SCHEMA_FILE), lesson_schema()));
    if !args.force {
        let existing: Vec<String> = files
            .iter()
            .filter(|(path, _)| path.exists())
            .map(|(path, _)| format!("  {}", path.display()))
            .collect();
        if !existing.is_empty() {
            return Err(Error::Usage(format!(
                "nothing written: these files exist already (pass --force to replace them):\n{}",
                existing.join("\n")
            )));
        }
    }
    for (path, text) in &files {
        crate::files::write_atomic(path, text.as_bytes(), 0o644)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    let lessons = files.len() - 1;
    let noun = if lessons == 1 { "lesson" } else { "lessons" };
    println!(
        "Wrote {lessons} {noun} and {SCHEMA_FILE} to {dir}. Check your changes with `kubetutor lint {dir}`; follow one with `kubetutor run {dir}/NAME.yaml`.",
        dir = args.dir.display()
    );
    Ok(ExitCode::from(EXIT_OK))
}

/// The lesson's text with its editor schema line pointing at the schema written beside it
/// (in the source tree it points into `schema/`).
fn exported_text(lesson: &Builtin) -> String {
    const MARK: &str = "# yaml-language-server: $schema=";
    let mut text = String::with_capacity(lesson.text.len());
    for line in lesson.text.split_inclusive('\n') {
        if line.starts_with(MARK) {
            text.push_str(MARK);
            text.push_str(SCHEMA_FILE);
            text.push('\n');
        } else {
            text.push_str(line);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_lessons_point_at_the_schema_beside_them() {
        let lesson = Builtin {
            name: "l",
            text: "# yaml-language-server: $schema=../schema/lesson.schema.json\nversion: 1\n",
        };
        assert_eq!(
            exported_text(&lesson),
            "# yaml-language-server: $schema=lesson.schema.json\nversion: 1\n"
        );
        let plain = Builtin {
            name: "p",
            text: "version: 1\n",
        };
        assert_eq!(exported_text(&plain), "version: 1\n");
    }
}
