//! The lessons built into the binary (the source tree's `lessons/` at build time), and the
//! one way to name a lesson either from disk or from the binary.

use std::path::{Path, PathBuf};

use super::load::{LessonError, LoadedLesson, load, load_str};

/// A lesson compiled into the binary.
#[derive(Debug)]
pub struct Builtin {
    /// Its name: the file's name without `.yaml`, what `kubetutor run NAME` takes.
    pub name: &'static str,
    /// The lesson file's text.
    pub text: &'static str,
}

/// Written by build.rs: one entry per shipped lesson file, sorted by name.
static LESSONS: &[Builtin] = include!(concat!(env!("OUT_DIR"), "/builtin_lessons.rs"));

/// What stands before a built-in lesson's name where a file path would be (progress, sessions).
pub const KEY_PREFIX: &str = "builtin:";

/// Every built-in lesson, sorted by name.
pub fn all() -> &'static [Builtin] {
    LESSONS
}

/// The built-in lesson called `name` (with or without `.yaml`/`.yml`).
pub fn find(name: &str) -> Option<&'static Builtin> {
    let bare = name
        .strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".yml"))
        .unwrap_or(name);
    LESSONS.iter().find(|lesson| lesson.name == bare)
}

impl Builtin {
    /// The name messages and located errors use, in the shape of a path:
    /// `<built-in>/NAME.yaml`.
    pub fn display_name(&self) -> String {
        format!("<built-in>/{}.yaml", self.name)
    }

    /// Where progress and the connected shell know it from, whatever the current folder.
    pub fn key(&self) -> PathBuf {
        PathBuf::from(format!("{KEY_PREFIX}{}", self.name))
    }
}

/// A lesson to load: a file on disk or one built in.
#[derive(Debug, Clone)]
pub enum LessonRef {
    /// A lesson file, as the user named it or as found in a folder.
    File(PathBuf),
    /// A lesson compiled into the binary.
    Builtin(&'static Builtin),
}

impl LessonRef {
    /// Reads (if need be) and loads the lesson.
    pub fn load(&self) -> Result<LoadedLesson, LessonError> {
        match self {
            LessonRef::File(path) => load(path),
            LessonRef::Builtin(builtin) => load_str(&builtin.display_name(), builtin.text),
        }
    }

    /// How messages name it: the path, or `<built-in>/NAME.yaml`.
    pub fn display(&self) -> String {
        match self {
            LessonRef::File(path) => path.display().to_string(),
            LessonRef::Builtin(builtin) => builtin.display_name(),
        }
    }

    /// A stable identity for progress and sessions: the canonical path of a file (as given when
    /// it cannot be canonicalised), `builtin:NAME` for a built-in lesson.
    pub fn identity(&self) -> PathBuf {
        match self {
            LessonRef::File(path) => std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()),
            LessonRef::Builtin(builtin) => builtin.key(),
        }
    }

    /// The file, when it is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            LessonRef::File(path) => Some(path),
            LessonRef::Builtin(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_lesson_is_built_in_and_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("lessons/")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let names: Vec<&str> = all().iter().map(|b| b.name).collect();
        assert_eq!(names, on_disk);
        for builtin in all() {
            let file = dir.join(format!("{}.yaml", builtin.name));
            assert_eq!(builtin.text, std::fs::read_to_string(&file).expect("read"));
            let found = find(&format!("{}.yaml", builtin.name)).expect("by file name");
            assert_eq!(found.name, builtin.name);
            let loaded = LessonRef::Builtin(builtin).load().expect("loads");
            assert_eq!(loaded.file, format!("<built-in>/{}.yaml", builtin.name));
        }
        assert!(find("no-such-lesson").is_none());
    }

    #[test]
    fn built_in_lessons_are_known_by_a_key_independent_of_the_folder() {
        let builtin = all().first().expect("at least one built-in lesson");
        let key = LessonRef::Builtin(builtin).identity();
        assert_eq!(key, PathBuf::from(format!("builtin:{}", builtin.name)));
        assert!(LessonRef::Builtin(builtin).path().is_none());
    }
}
