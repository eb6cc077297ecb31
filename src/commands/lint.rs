//! `kubetutor lint`: load and lint lesson files, print located problems and a summary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use owo_colors::OwoColorize;

use crate::cli::LintArgs;
use crate::error::{EXIT_FAILED, EXIT_OK, Error};
use crate::lesson::{self, Diagnostic, LessonRef};
use crate::term::{Console, Stream, Styles};

/// Lints every lesson under `args.paths`; exit 1 when any has an error, 2 when a path is
/// missing.
pub fn run(args: &LintArgs, console: &Console) -> Result<ExitCode, Error> {
    let files = lessons_named(&args.paths)?;
    let styles = console.styles(Stream::Stdout);
    let mut out = String::new();
    let (mut errors, mut warnings) = (0usize, 0usize);
    for file in &files {
        match file.load() {
            Ok(loaded) => {
                for diag in lesson::lint(&loaded) {
                    count(&diag, &mut errors, &mut warnings);
                    out += &diag.render(&styles);
                    out.push('\n');
                }
            }
            Err(err) => {
                errors += 1;
                out += &err.render(&styles);
                out.push('\n');
            }
        }
    }
    out += &summary(files.len(), errors, warnings, &styles);
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`kubetutor lint | head`) is not worth a panic.
    let _ = stdout.write_all(out.as_bytes());
    Ok(ExitCode::from(if errors > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }))
}

fn count(diag: &Diagnostic, errors: &mut usize, warnings: &mut usize) {
    if diag.is_error() {
        *errors += 1;
    } else {
        *warnings += 1;
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `2 lessons checked: 1 error, 1 warning`.
fn summary(files: usize, errors: usize, warnings: usize, styles: &Styles) -> String {
    let checked = plural(files, "lesson");
    if errors == 0 && warnings == 0 {
        return format!(
            "{checked} checked: {}\n",
            "no problems".style(styles.success)
        );
    }
    let errors = plural(errors, "error");
    let warnings = plural(warnings, "warning");
    format!("{checked} checked: {errors}, {warnings}\n")
}

/// The lessons named by `paths`: as [`lesson_files`], and a name that is no path is looked up
/// as `run` looks it up (in `./lessons`, then among the built-in lessons).
pub fn lessons_named(paths: &[PathBuf]) -> Result<Vec<LessonRef>, Error> {
    let mut lessons = Vec::new();
    for path in paths {
        let named = (!path.exists())
            .then(|| super::choose::named(path, Path::new(super::choose::LESSONS_DIR)))
            .flatten();
        match named {
            Some(lesson) => lessons.push(lesson),
            None => lessons.extend(
                lesson_files(std::slice::from_ref(path))?
                    .into_iter()
                    .map(LessonRef::File),
            ),
        }
    }
    Ok(lessons)
}

/// The lesson files named by `paths`: files as given, folders searched recursively for
/// `*.yaml` and `*.yml`, sorted for stable output.
pub fn lesson_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::Usage(format!("cannot read `{}`: {e}", path.display())))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            collect(path, &mut found, 0).map_err(|e| {
                Error::Usage(format!("cannot read folder `{}`: {e}", path.display()))
            })?;
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Folder depth searched; deeper trees are almost certainly a mistake (or a symlink loop).
const MAX_DIR_DEPTH: usize = 16;

fn collect(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> std::io::Result<()> {
    if depth > MAX_DIR_DEPTH {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out, depth + 1)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_count_and_pluralise() {
        let plain = Styles::plain();
        assert_eq!(
            summary(2, 1, 1, &plain),
            "2 lessons checked: 1 error, 1 warning\n"
        );
        assert_eq!(summary(1, 0, 0, &plain), "1 lesson checked: no problems\n");
        assert_eq!(
            summary(3, 0, 2, &plain),
            "3 lessons checked: 0 errors, 2 warnings\n"
        );
    }
}
