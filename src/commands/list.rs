//! `kubetutor list`: the lessons in a folder and the built-in ones, with their step counts.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use owo_colors::OwoColorize;

use super::choose::{LESSONS_DIR, by_name};
use super::lint::lesson_files;
use crate::cli::ListArgs;
use crate::error::{EXIT_FAILED, EXIT_OK, Error};
use crate::lesson::{LessonError, LessonRef, builtin};
use crate::term::{Console, Stream, Styles};

/// Prints one line per lesson, the folder's then the built-in ones; exit 1 when any fails to
/// load, 2 when a folder given is missing (a missing `./lessons` is no error: the built-in
/// lessons are still there).
pub fn run(args: &ListArgs, console: &Console) -> Result<ExitCode, Error> {
    let dir = args.dir.as_deref().unwrap_or(Path::new(LESSONS_DIR));
    let listed = dir.is_dir();
    if !listed && args.dir.is_some() {
        return Err(Error::Usage(format!(
            "`{}` is not a folder of lessons",
            dir.display()
        )));
    }
    let files = if listed {
        lesson_files(&[dir.to_owned()])?
    } else {
        Vec::new()
    };
    let styles = console.styles(Stream::Stdout);
    let mut out = String::new();
    let mut failed = false;
    for file in &files {
        let name = file.strip_prefix(dir).unwrap_or(file).display().to_string();
        failed |= !entry(
            &mut out,
            &name,
            &LessonRef::File(file.clone()),
            None,
            &styles,
        );
    }
    if listed && files.is_empty() {
        out += &format!("no lessons in `{}`\n", dir.display());
    }
    if !builtin::all().is_empty() {
        out += &format!(
            "{}\n",
            "Built in (`kubetutor run NAME` from any folder):".style(styles.bold)
        );
    }
    for lesson in builtin::all() {
        // What `run NAME` takes instead, so the learner knows which one they get.
        let shadow = by_name(Path::new(lesson.name), Path::new(LESSONS_DIR));
        let origin = match &shadow {
            Some(file) => format!(
                "built in; `{}` has its name and is run instead",
                file.display()
            ),
            None => "built in".to_owned(),
        };
        let loaded = LessonRef::Builtin(lesson);
        failed |= !entry(&mut out, lesson.name, &loaded, Some(&origin), &styles);
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(ExitCode::from(if failed { EXIT_FAILED } else { EXIT_OK }))
}

/// Appends a lesson's line (and its step ids, what `run --from` takes); false when it does not
/// load.
fn entry(
    out: &mut String,
    name: &str,
    lesson: &LessonRef,
    origin: Option<&str>,
    styles: &Styles,
) -> bool {
    match lesson.load() {
        Ok(loaded) => {
            let steps = loaded.lesson.steps.len();
            let noun = if steps == 1 { "step" } else { "steps" };
            let origin = origin.map(|o| format!(", {o}")).unwrap_or_default();
            *out += &format!(
                "{name}  {}  ({steps} {noun}{origin})\n",
                loaded.lesson.title.style(styles.bold)
            );
            *out += &format!(
                "    {}\n",
                format!("steps: {}", loaded.lesson.step_list()).style(styles.dim)
            );
            true
        }
        Err(err) => {
            *out += &format!("{name}  {}: {}\n", "error".style(styles.error), short(&err));
            false
        }
    }
}

/// One line: the message and where, without the snippet.
fn short(err: &LessonError) -> String {
    match err.diagnostic() {
        Some(diag) => format!("{} (line {}, column {})", diag.message, diag.line, diag.col),
        None => match err {
            LessonError::Read { source, .. } => format!("cannot read the file: {source}"),
            LessonError::Invalid(_) => err.to_string(),
        },
    }
}
