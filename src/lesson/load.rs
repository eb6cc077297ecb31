//! Loading a lesson file into the model, with every failure located in the file.

use std::path::{Path, PathBuf};

use super::diagnostic::{Diagnostic, Span, Styles};
use super::model::{FORMAT_VERSION, Lesson};
use super::position::PositionMap;
use super::serde_error;

/// Largest lesson file accepted; real lessons are a few dozen kilobytes.
pub const MAX_LESSON_BYTES: usize = 1024 * 1024;

/// A lesson together with its source, for located lint messages.
#[derive(Debug, Clone)]
pub struct LoadedLesson {
    /// The file as the user named it (used in messages).
    pub file: String,
    /// The file's text.
    pub text: String,
    /// The deserialized lesson.
    pub lesson: Lesson,
    /// Where every node of the file is.
    pub positions: PositionMap,
}

/// Why a lesson could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LessonError {
    /// The file could not be read at all.
    #[error("failed to read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid lesson.
    #[error("failed to load {}: {} (line {}, column {})", .0.file, .0.message, .0.line, .0.col)]
    Invalid(Box<Diagnostic>),
}

impl LessonError {
    /// The located problem, if the file could be read.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            LessonError::Invalid(diag) => Some(diag),
            LessonError::Read { .. } => None,
        }
    }

    /// Renders the error for a terminal: the diagnostic with its snippet, or the read error
    /// with its cause.
    pub fn render(&self, styles: &Styles) -> String {
        match self {
            LessonError::Invalid(diag) => diag.render(styles),
            LessonError::Read { path, source } => {
                use owo_colors::OwoColorize;
                format!(
                    "{}{} failed to read {}: {source}\n",
                    "error".style(styles.error),
                    ":".style(styles.bold),
                    path.display()
                )
            }
        }
    }
}

/// Reads and loads the lesson at `path`.
pub fn load(path: &Path) -> Result<LoadedLesson, LessonError> {
    let read_error = |source| LessonError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    // Read one byte past the limit so an oversized file is refused without reading it all.
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_LESSON_BYTES as u64 + 1),
        &mut bytes,
    )
    .map_err(read_error)?;
    load_bytes(&path.display().to_string(), &bytes)
}

/// Loads a lesson from text; `name` is used in messages.
pub fn load_str(name: &str, text: &str) -> Result<LoadedLesson, LessonError> {
    load_bytes(name, text.as_bytes())
}

/// Loads a lesson from raw bytes, refusing oversized, non-UTF-8 and empty input first.
pub fn load_bytes(name: &str, bytes: &[u8]) -> Result<LoadedLesson, LessonError> {
    let invalid = |text: &str, span: Span, message: String, help: Option<String>| {
        let mut diag = Diagnostic::error(name, text, span, message);
        diag.help = help;
        LessonError::Invalid(Box::new(diag))
    };
    if bytes.len() > MAX_LESSON_BYTES {
        return Err(invalid(
            "",
            Span::START,
            format!(
                "the file is larger than {} KiB; lessons are small text files",
                MAX_LESSON_BYTES / 1024
            ),
            Some("split the lesson, or check that this is the file you meant".to_owned()),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let good = &bytes[..err.valid_up_to()];
            // The prefix is valid UTF-8 by definition, so this cannot fail.
            let prefix = std::str::from_utf8(good).unwrap_or_default();
            let line = prefix.matches('\n').count() + 1;
            let col = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            return Err(invalid(
                &String::from_utf8_lossy(bytes),
                Span::new(line, col, 1),
                format!(
                    "the file is not valid UTF-8 (byte {} cannot start a character)",
                    err.valid_up_to()
                ),
                Some("save the file as UTF-8".to_owned()),
            ));
        }
    };
    if let Some(span) = tab_indentation(text) {
        return Err(invalid(
            text,
            span,
            "a tab is used for indentation; YAML indents with spaces only".to_owned(),
            Some("replace the tab with spaces (most editors can do this on save)".to_owned()),
        ));
    }
    let positions =
        PositionMap::parse(text).map_err(|p| invalid(text, p.span, p.message, p.help))?;
    let Some(root) = positions.root() else {
        return Err(invalid(
            text,
            Span::START,
            "the file is empty".to_owned(),
            Some("a lesson needs at least `version: 1`, a `title` and `steps`".to_owned()),
        ));
    };
    let root_span = root.value;
    if let Some(version) = positions.get("version")
        && version
            .scalar()
            .is_some_and(|v| v.trim() != FORMAT_VERSION.to_string())
    {
        let found = version.scalar().unwrap_or_default();
        return Err(invalid(
            text,
            version.value,
            format!("unsupported lesson format version `{found}`"),
            Some(format!(
                "this kubetutor reads version {FORMAT_VERSION} lessons: write `version: {FORMAT_VERSION}`"
            )),
        ));
    }
    match serde_yaml::from_str::<Lesson>(text) {
        Ok(lesson) => Ok(LoadedLesson {
            file: name.to_owned(),
            text: text.to_owned(),
            lesson,
            positions,
        }),
        Err(err) => {
            let located = serde_error::locate(&err, &positions, root_span);
            Err(invalid(text, located.span, located.message, located.help))
        }
    }
}

/// The first tab inside a line's leading whitespace, if any.
fn tab_indentation(text: &str) -> Option<Span> {
    text.lines().enumerate().find_map(|(i, line)| {
        let indent: Vec<char> = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        let has_content = line.chars().count() > indent.len();
        let tab = indent.iter().position(|&c| c == '\t')?;
        has_content.then(|| Span::new(i + 1, tab + 1, 1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &[u8]) -> Diagnostic {
        match load_bytes("t.yaml", text) {
            Err(LessonError::Invalid(diag)) => *diag,
            other => panic!("expected an invalid lesson, got {other:?}"),
        }
    }

    #[test]
    fn refuses_non_utf8_at_the_right_place() {
        let diag = error_of(b"version: 1\ntitle: caf\xff\n");
        assert_eq!((diag.line, diag.col), (2, 11));
        assert!(diag.message.contains("UTF-8"));
    }

    #[test]
    fn refuses_oversized_and_empty_files() {
        let big = vec![b'#'; MAX_LESSON_BYTES + 1];
        assert!(error_of(&big).message.contains("larger than"));
        assert_eq!(error_of(b"").message, "the file is empty");
        assert_eq!(
            error_of(b"# only a comment\n\n").message,
            "the file is empty"
        );
    }

    #[test]
    fn refuses_tab_indentation() {
        let diag = error_of(b"version: 1\nsteps:\n\t- id: a\n");
        assert_eq!((diag.line, diag.col), (3, 1));
        assert!(diag.message.contains("tab"));
    }

    #[test]
    fn refuses_other_format_versions() {
        let diag = error_of(b"version: 2\ntitle: x\nsteps: []\n");
        assert_eq!((diag.line, diag.col), (1, 10));
        assert!(diag.message.contains("version `2`"), "{diag:?}");
    }
}
