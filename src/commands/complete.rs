//! Shell completion and the man page. The scripts `kubetutor completions SHELL` prints call
//! kubetutor back with `KUBETUTOR_COMPLETE` set, so lesson names and step ids complete from
//! what is on disk and built in at the moment Tab is pressed, not when the script was made.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory;
use clap_complete::engine::{CompletionCandidate, PathCompleter, ValueCompleter};
use clap_complete::env::{Bash, CompleteEnv, Elvish, EnvCompleter, Fish, Powershell, Zsh};

use super::choose::{self, LESSONS_DIR};
use crate::cli::{Cli, CompletionShell, CompletionsArgs, ManArgs};
use crate::error::{EXIT_OK, EXIT_USAGE, Error};
use crate::lesson::{LessonRef, builtin};

/// The variable that turns a kubetutor process into a completer. Our own name rather than
/// clap's default `COMPLETE`, which a learner's environment may well set for something else.
pub const COMPLETE_VAR: &str = "KUBETUTOR_COMPLETE";

/// Answers a completion request when the shell's script made one (call before parsing the
/// command line); `None` for an ordinary run.
pub fn answer_request() -> Option<ExitCode> {
    let current_dir = std::env::current_dir().ok();
    let done = CompleteEnv::with_factory(Cli::command)
        .var(COMPLETE_VAR)
        .try_complete(std::env::args_os(), current_dir.as_deref());
    match done {
        Ok(false) => None,
        Ok(true) => Some(ExitCode::from(EXIT_OK)),
        Err(err) => {
            let _ = err.print();
            Some(ExitCode::from(EXIT_USAGE))
        }
    }
}

/// `kubetutor completions SHELL`: prints the shell's registration script.
pub fn completions(args: &CompletionsArgs) -> Result<ExitCode, Error> {
    let shell: &dyn EnvCompleter = match args.shell {
        CompletionShell::Bash => &Bash,
        CompletionShell::Zsh => &Zsh,
        CompletionShell::Fish => &Fish,
        CompletionShell::Powershell => &Powershell,
        CompletionShell::Elvish => &Elvish,
    };
    let mut script = Vec::new();
    let name = Cli::command().get_name().to_owned();
    shell
        .write_registration(COMPLETE_VAR, &name, &name, &completer(), &mut script)
        .context("failed to write the completion script")?;
    let _ = std::io::stdout().lock().write_all(&script);
    Ok(ExitCode::from(EXIT_OK))
}

/// `kubetutor man`: prints the man page, or writes every command's into `--out`.
pub fn man(args: &ManArgs) -> Result<ExitCode, Error> {
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(Cli::command(), dir))
            .with_context(|| format!("failed to write the man pages into {}", dir.display()))?;
        println!("Wrote the man pages into {}.", dir.display());
        return Ok(ExitCode::from(EXIT_OK));
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("failed to write the man page")?;
    let _ = std::io::stdout().lock().write_all(&page);
    Ok(ExitCode::from(EXIT_OK))
}

/// The program the script calls back: as this one was started, made absolute when it was
/// started by a path (`./target/release/kubetutor`), left a bare name (found on `PATH`, so a
/// reinstall elsewhere keeps working) otherwise.
fn completer() -> String {
    let started = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kubetutor"));
    let path = match std::env::current_dir() {
        Ok(dir) if started.components().count() > 1 => dir.join(started),
        _ => started,
    };
    path.to_string_lossy().into_owned()
}

/// Completes a lesson argument: the names `run` takes (in ./lessons, then built in), with
/// their titles, and paths.
pub fn lessons(current: &OsStr) -> Vec<CompletionCandidate> {
    let mut candidates = lesson_names(current, Path::new(LESSONS_DIR));
    candidates.extend(PathCompleter::any().complete(current));
    candidates
}

/// Completes `run --from`: the step ids of the lesson named on the command line being
/// completed, or of the lesson `run` would follow without one.
pub fn steps(current: &OsStr) -> Vec<CompletionCandidate> {
    // The shell passes the words after `--`: the program, then its arguments.
    let words: Vec<OsString> = std::env::args_os()
        .skip_while(|word| word != "--")
        .skip(2)
        .collect();
    step_ids(&words, current, Path::new(LESSONS_DIR))
}

fn lesson_names(current: &OsStr, lessons_dir: &Path) -> Vec<CompletionCandidate> {
    let Some(current) = current.to_str() else {
        return Vec::new();
    };
    // `run NAME` looks for NAME.yaml directly in the folder, so only its own files count.
    let mut names: Vec<(String, LessonRef)> = std::fs::read_dir(lessons_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .filter_map(|path| {
                    let name = path.file_stem()?.to_str()?.to_owned();
                    Some((name, LessonRef::File(path)))
                })
                .collect()
        })
        .unwrap_or_default();
    for lesson in builtin::all() {
        if !names.iter().any(|(name, _)| name == lesson.name) {
            names.push((lesson.name.to_owned(), LessonRef::Builtin(lesson)));
        }
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    names
        .into_iter()
        .filter(|(name, _)| name.starts_with(current))
        .map(|(name, lesson)| {
            let title = lesson.load().ok().map(|l| l.lesson.title.into());
            CompletionCandidate::new(name).help(title)
        })
        .collect()
}

fn step_ids(words: &[OsString], current: &OsStr, lessons_dir: &Path) -> Vec<CompletionCandidate> {
    let Some(current) = current.to_str() else {
        return Vec::new();
    };
    // The word being completed is last; any earlier word that names a lesson is the lesson.
    let earlier = words.split_last().map_or(&[][..], |(_, earlier)| earlier);
    let loaded = earlier
        .iter()
        .filter_map(|word| choose::named(Path::new(word), lessons_dir))
        .find_map(|lesson| lesson.load().ok())
        .or_else(|| {
            choose::resolve(None, lessons_dir, None)
                .ok()
                .and_then(|lesson| lesson.load().ok())
        });
    let Some(loaded) = loaded else {
        return Vec::new();
    };
    loaded
        .lesson
        .steps
        .iter()
        .enumerate()
        .filter(|(_, step)| step.id.starts_with(current))
        .map(|(index, step)| {
            let help = format!("step {}: {}", index + 1, step.title);
            CompletionCandidate::new(&step.id).help(Some(help.into()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(candidates: &[CompletionCandidate]) -> Vec<String> {
        candidates
            .iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect()
    }

    const LESSON: &str = "version: 1\ntitle: Mine\nsteps:\n  - id: first\n    title: First\n  - id: second\n    title: Second\n";

    #[test]
    fn lesson_names_come_from_the_folder_and_the_binary() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("mine.yaml"), LESSON).expect("write");
        let all = values(&lesson_names(OsStr::new(""), dir.path()));
        assert!(all.contains(&"mine".to_owned()), "{all:?}");
        for lesson in builtin::all() {
            assert!(all.contains(&lesson.name.to_owned()), "{all:?}");
        }
        assert_eq!(
            values(&lesson_names(OsStr::new("mi"), dir.path())),
            ["mine"]
        );
        let mine = &lesson_names(OsStr::new("mine"), dir.path())[0];
        assert_eq!(
            mine.get_help().map(ToString::to_string).as_deref(),
            Some("Mine")
        );
    }

    #[test]
    fn step_ids_are_those_of_the_lesson_on_the_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("mine.yaml"), LESSON).expect("write");
        let words: Vec<OsString> = ["run", "mine", "--from", "s"].map(OsString::from).into();
        assert_eq!(
            values(&step_ids(&words, OsStr::new("s"), dir.path())),
            ["second"]
        );
        // No lesson named: the folder's only lesson, as `run` would take it.
        let words: Vec<OsString> = ["run", "--from", ""].map(OsString::from).into();
        assert_eq!(
            values(&step_ids(&words, OsStr::new(""), dir.path())),
            ["first", "second"]
        );
        // A built-in lesson named from a folder without lessons.
        let empty = tempfile::tempdir().expect("temp dir");
        let builtin = builtin::all().first().expect("a built-in lesson");
        let words: Vec<OsString> = ["run", builtin.name, "--from", ""]
            .map(OsString::from)
            .into();
        let ids = values(&step_ids(&words, OsStr::new(""), empty.path()));
        let loaded = LessonRef::Builtin(builtin).load().expect("loads");
        let expected: Vec<String> = loaded.lesson.steps.iter().map(|s| s.id.clone()).collect();
        assert_eq!(ids, expected);
    }
}
