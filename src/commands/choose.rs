//! Which lesson `kubetutor run` follows: a file, a lesson's name in `./lessons`, a built-in
//! lesson's name, or (none given) the only lesson there or the learner's pick from a menu.

use std::path::{Path, PathBuf};

use super::lint::lesson_files;
use crate::error::Error;
use crate::lesson::{LessonRef, builtin};

/// Where lessons are looked for by name, relative to the current folder.
pub const LESSONS_DIR: &str = "lessons";

/// Lessons found, as `(lesson, title)`.
pub type Found = [(LessonRef, String)];

/// Chooses one of several lessons.
pub type Pick<'a> = &'a dyn Fn(&Found) -> Result<LessonRef, Error>;

/// Resolves the `LESSON` argument of `run` against `lessons_dir` and the built-in lessons.
///
/// `pick` chooses among several lessons (given as `(lesson, title)`); `None` means nobody can
/// be asked, and several lessons are then a usage error naming them.
pub fn resolve(
    given: Option<&Path>,
    lessons_dir: &Path,
    pick: Option<Pick<'_>>,
) -> Result<LessonRef, Error> {
    if let Some(given) = given {
        if let Some(found) = named(given, lessons_dir) {
            return Ok(found);
        }
        if let Some(close) = close_name(given, lessons_dir) {
            return Err(Error::Usage(format!(
                "no lesson `{}`: not a file, not in `{}`, not built in; did you mean `{close}`? \
                 (`kubetutor list` shows the lessons)",
                given.display(),
                lessons_dir.display()
            )));
        }
        // Loading then says what is wrong with the file.
        return Ok(LessonRef::File(given.to_owned()));
    }
    let files = if lessons_dir.is_dir() {
        lesson_files(&[lessons_dir.to_owned()])?
    } else {
        Vec::new()
    };
    // The folder's lessons when it has any (a lesson author's own), else the built-in ones.
    let found: Vec<LessonRef> = if files.is_empty() {
        builtin::all().iter().map(LessonRef::Builtin).collect()
    } else {
        files.into_iter().map(LessonRef::File).collect()
    };
    let lessons: Vec<(LessonRef, String)> = found
        .into_iter()
        .map(|lesson| {
            let title = lesson
                .load()
                .map(|l| l.lesson.title)
                .unwrap_or_else(|_| "(does not load)".to_owned());
            (lesson, title)
        })
        .collect();
    match (lessons.as_slice(), pick) {
        ([], _) => Err(Error::Usage(format!(
            "no lesson given, and none in `{}` nor built in: run `kubetutor run LESSON.yaml`",
            lessons_dir.display()
        ))),
        ([(only, _)], _) => Ok(only.clone()),
        (several, Some(pick)) => pick(several),
        (several, None) => Err(Error::Usage(format!(
            "no lesson given; name one of:\n{}",
            several
                .iter()
                .map(|(lesson, title)| format!("  kubetutor run {}  ({title})", run_name(lesson)))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
}

/// For a bare name that names no lesson, the closest lesson name (in `lessons_dir` or built
/// in) when it looks like a typo of it.
fn close_name(given: &Path, lessons_dir: &Path) -> Option<String> {
    let bare = given.components().count() == 1 && given.extension().is_none();
    let name = given.to_str().filter(|_| bare && !given.exists())?;
    let mut names: Vec<String> = builtin::all().iter().map(|b| b.name.to_owned()).collect();
    if lessons_dir.is_dir() {
        let files = lesson_files(&[lessons_dir.to_owned()]).unwrap_or_default();
        names.extend(
            files
                .iter()
                .filter_map(|f| f.file_stem()?.to_str().map(str::to_owned)),
        );
    }
    crate::lesson::suggest::did_you_mean(name, names.iter().map(String::as_str)).map(str::to_owned)
}

/// What `kubetutor run` takes to follow `lesson`: its file, or a built-in lesson's name.
pub fn run_name(lesson: &LessonRef) -> String {
    match lesson {
        LessonRef::File(path) => path.display().to_string(),
        LessonRef::Builtin(builtin) => builtin.name.to_owned(),
    }
}

/// A lesson named by `given`, in the order `run` looks: a file of that path, then (for a bare
/// name) one in `lessons_dir`, then a built-in lesson of that name. `None` when none is.
pub fn named(given: &Path, lessons_dir: &Path) -> Option<LessonRef> {
    if given.is_file() {
        return Some(LessonRef::File(given.to_owned()));
    }
    if let Some(file) = by_name(given, lessons_dir) {
        return Some(LessonRef::File(file));
    }
    let bare = given.components().count() == 1 && !given.exists();
    bare.then(|| given.to_str().and_then(builtin::find))
        .flatten()
        .map(LessonRef::Builtin)
}

/// [`named`], or else `given` as a file (whose loading then says what is wrong with it).
pub fn named_or_file(given: &Path, lessons_dir: &Path) -> LessonRef {
    named(given, lessons_dir).unwrap_or_else(|| LessonRef::File(given.to_owned()))
}

/// `NAME` -> `lessons/NAME`, `lessons/NAME.yaml` or `lessons/NAME.yml`, when `given` is a bare
/// name that is not itself a file.
pub fn by_name(given: &Path, lessons_dir: &Path) -> Option<PathBuf> {
    let bare = given.components().count() == 1 && given.extension().is_none();
    if given.exists() || !bare {
        return None;
    }
    let name = given.as_os_str().to_str()?;
    [
        name.to_owned(),
        format!("{name}.yaml"),
        format!("{name}.yml"),
    ]
    .into_iter()
    .map(|candidate| lessons_dir.join(candidate))
    .find(|path| path.is_file())
}

/// Asks the learner which lesson to follow (inquire); Ctrl-C is an interruption.
pub fn ask(lessons: &Found) -> Result<LessonRef, Error> {
    let labels: Vec<String> = lessons
        .iter()
        .map(|(lesson, title)| format!("{title}  ({})", lesson.display()))
        .collect();
    let answer = inquire::Select::new("Which lesson?", labels.clone())
        .with_help_message("↑↓ to move, Enter to choose, Esc to cancel")
        .prompt();
    match answer {
        Ok(label) => labels
            .iter()
            .position(|l| *l == label)
            .map(|i| lessons[i].0.clone())
            .ok_or_else(|| Error::Usage("no lesson chosen".to_owned())),
        Err(inquire::InquireError::OperationInterrupted) => Err(Error::Interrupted),
        Err(_) => Err(Error::Usage("no lesson chosen".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LESSON: &str = "version: 1\ntitle: T\nsteps:\n  - id: a\n    title: A\n";

    fn dir_with(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in names {
            std::fs::write(dir.path().join(name), LESSON).expect("write");
        }
        dir
    }

    fn file(lesson: LessonRef) -> PathBuf {
        lesson.path().expect("a file").to_owned()
    }

    #[test]
    fn a_file_is_taken_as_is_and_a_bare_name_is_looked_up() {
        let dir = dir_with(&["intro.yaml"]);
        let found = resolve(Some(Path::new("intro")), dir.path(), None).expect("by name");
        assert_eq!(file(found), dir.path().join("intro.yaml"));
        let path = dir.path().join("intro.yaml");
        assert_eq!(
            file(resolve(Some(&path), dir.path(), None).expect("file")),
            path
        );
        // Unknown names are passed on, so loading reports the missing file...
        assert_eq!(
            file(resolve(Some(Path::new("nope")), dir.path(), None).expect("passed on")),
            Path::new("nope")
        );
        // ... unless they look like a typo of a lesson's name.
        let err = resolve(Some(Path::new("intor")), dir.path(), None).expect_err("a typo");
        assert!(err.to_string().contains("did you mean `intro`?"), "{err}");
    }

    #[test]
    fn a_built_in_name_is_found_unless_a_file_in_the_folder_takes_it() {
        let builtin = builtin::all().first().expect("a built-in lesson");
        let empty = dir_with(&[]);
        let found = resolve(Some(Path::new(builtin.name)), empty.path(), None).expect("built in");
        assert!(matches!(found, LessonRef::Builtin(b) if b.name == builtin.name));
        let shadowing = dir_with(&[&format!("{}.yaml", builtin.name)]);
        let found = resolve(Some(Path::new(builtin.name)), shadowing.path(), None).expect("file");
        assert_eq!(
            file(found),
            shadowing.path().join(format!("{}.yaml", builtin.name))
        );
        // A path with folders is a path, never a built-in name.
        let nested = Path::new("nowhere").join(builtin.name);
        assert!(named(&nested, empty.path()).is_none());
    }

    #[test]
    fn without_a_lesson_the_only_one_is_taken_and_several_are_asked_for() {
        let one = dir_with(&["only.yaml"]);
        assert_eq!(
            file(resolve(None, one.path(), None).expect("the only one")),
            one.path().join("only.yaml")
        );
        let two = dir_with(&["a.yaml", "b.yml"]);
        let err = resolve(None, two.path(), None).expect_err("cannot ask");
        let text = err.to_string();
        assert!(text.contains("a.yaml") && text.contains("b.yml"), "{text}");
        let second = |lessons: &Found| Ok(lessons[1].0.clone());
        assert_eq!(
            file(resolve(None, two.path(), Some(&second)).expect("picked")),
            two.path().join("b.yml")
        );
    }

    #[test]
    fn without_a_lesson_and_an_empty_folder_the_built_in_lessons_are_offered() {
        let empty = dir_with(&[]);
        let first = |lessons: &Found| Ok(lessons[0].0.clone());
        let expected = builtin::all().first().expect("a built-in lesson").name;
        for folder in [empty.path().to_owned(), empty.path().join("missing")] {
            let found = resolve(None, &folder, Some(&first)).expect("a built-in lesson");
            assert!(
                matches!(found, LessonRef::Builtin(b) if b.name == expected),
                "{found:?}"
            );
        }
    }
}
