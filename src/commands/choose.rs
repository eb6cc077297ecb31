//! Which lesson `kubetutor run` follows: a file, a lesson's name in `./lessons`, or (none
//! given) the only lesson there or the learner's pick from a menu.

use std::path::{Path, PathBuf};

use super::lint::lesson_files;
use crate::error::Error;

/// Where lessons are looked for by name, relative to the current folder.
pub const LESSONS_DIR: &str = "lessons";

/// Lessons found, as `(file, title)`.
pub type Found = [(PathBuf, String)];

/// Chooses one of several lessons.
pub type Pick<'a> = &'a dyn Fn(&Found) -> Result<PathBuf, Error>;

/// Resolves the `LESSON` argument of `run` against `lessons_dir`.
///
/// `pick` chooses among several lessons (given as `(file, title)`); `None` means nobody can
/// be asked, and several lessons are then a usage error naming them.
pub fn resolve(
    given: Option<&Path>,
    lessons_dir: &Path,
    pick: Option<Pick<'_>>,
) -> Result<PathBuf, Error> {
    if let Some(given) = given {
        return Ok(by_name(given, lessons_dir).unwrap_or_else(|| given.to_owned()));
    }
    let files = if lessons_dir.is_dir() {
        lesson_files(&[lessons_dir.to_owned()])?
    } else {
        Vec::new()
    };
    let lessons: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|file| {
            let title = crate::lesson::load(&file)
                .map(|l| l.lesson.title)
                .unwrap_or_else(|_| "(does not load)".to_owned());
            (file, title)
        })
        .collect();
    match (lessons.as_slice(), pick) {
        ([], _) => Err(Error::Usage(format!(
            "no lesson given, and none in `{}`: run `kubetutor run LESSON.yaml`",
            lessons_dir.display()
        ))),
        ([(only, _)], _) => Ok(only.clone()),
        (several, Some(pick)) => pick(several),
        (several, None) => Err(Error::Usage(format!(
            "no lesson given; name one of:\n{}",
            several
                .iter()
                .map(|(file, title)| format!("  kubetutor run {}  ({title})", file.display()))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
}

/// `NAME` -> `lessons/NAME`, `lessons/NAME.yaml` or `lessons/NAME.yml`, when `given` is a bare
/// name that is not itself a file.
fn by_name(given: &Path, lessons_dir: &Path) -> Option<PathBuf> {
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
pub fn ask(lessons: &Found) -> Result<PathBuf, Error> {
    let labels: Vec<String> = lessons
        .iter()
        .map(|(file, title)| format!("{title}  ({})", file.display()))
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

    #[test]
    fn a_file_is_taken_as_is_and_a_bare_name_is_looked_up() {
        let dir = dir_with(&["intro.yaml"]);
        let found = resolve(Some(Path::new("intro")), dir.path(), None).expect("by name");
        assert_eq!(found, dir.path().join("intro.yaml"));
        let path = dir.path().join("intro.yaml");
        assert_eq!(resolve(Some(&path), dir.path(), None).expect("file"), path);
        // Unknown names are passed on, so loading reports the missing file.
        assert_eq!(
            resolve(Some(Path::new("nope")), dir.path(), None).expect("passed on"),
            Path::new("nope")
        );
    }

    #[test]
    fn without_a_lesson_the_only_one_is_taken_and_several_are_asked_for() {
        let one = dir_with(&["only.yaml"]);
        assert_eq!(
            resolve(None, one.path(), None).expect("the only one"),
            one.path().join("only.yaml")
        );
        let two = dir_with(&["a.yaml", "b.yml"]);
        let err = resolve(None, two.path(), None).expect_err("cannot ask");
        let text = err.to_string();
        assert!(text.contains("a.yaml") && text.contains("b.yml"), "{text}");
        let second = |lessons: &[(PathBuf, String)]| Ok(lessons[1].0.clone());
        assert_eq!(
            resolve(None, two.path(), Some(&second)).expect("picked"),
            two.path().join("b.yml")
        );
        let empty = dir_with(&[]);
        assert!(resolve(None, empty.path(), None).is_err());
        assert!(resolve(None, &empty.path().join("missing"), None).is_err());
    }
}
