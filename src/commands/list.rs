//! `kubetutor list`: the lessons in a folder with their step counts.

use std::io::Write;
use std::process::ExitCode;

use owo_colors::OwoColorize;

use super::lint::lesson_files;
use crate::cli::ListArgs;
use crate::error::{EXIT_FAILED, EXIT_OK, Error};
use crate::lesson::{self, LessonError};
use crate::term::{Console, Stream};

/// Prints one line per lesson; exit 1 when any fails to load, 2 when the folder is missing.
pub fn run(args: &ListArgs, console: &Console) -> Result<ExitCode, Error> {
    if !args.dir.is_dir() {
        return Err(Error::Usage(format!(
            "`{}` is not a folder of lessons",
            args.dir.display()
        )));
    }
    let files = lesson_files(std::slice::from_ref(&args.dir))?;
    let styles = console.styles(Stream::Stdout);
    let mut out = String::new();
    let mut failed = false;
    for file in &files {
        let name = file
            .strip_prefix(&args.dir)
            .unwrap_or(file)
            .display()
            .to_string();
        match lesson::load(file) {
            Ok(loaded) => {
                let steps = loaded.lesson.steps.len();
                let noun = if steps == 1 { "step" } else { "steps" };
                out += &format!(
                    "{name}  {}  ({steps} {noun})\n",
                    loaded.lesson.title.style(styles.bold)
                );
                // What `run --from` takes.
                out += &format!(
                    "    {}\n",
                    format!("steps: {}", loaded.lesson.step_list()).style(styles.dim)
                );
            }
            Err(err) => {
                failed = true;
                out += &format!("{name}  {}: {}\n", "error".style(styles.error), short(&err));
            }
        }
    }
    if files.is_empty() {
        out += &format!("no lessons in `{}`\n", args.dir.display());
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(ExitCode::from(if failed { EXIT_FAILED } else { EXIT_OK }))
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
