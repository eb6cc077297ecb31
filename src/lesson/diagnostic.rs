//! Located problems in a lesson file and their rustc-like rendering.

use std::fmt;

use owo_colors::OwoColorize;

/// The one set of text styles; diagnostics use `error`, `warning`, `gutter`, `bold`, `success`.
pub use crate::term::Styles;

/// How bad a problem is: errors fail `lint` and stop a lesson from loading, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth fixing, but the lesson still works.
    Warning,
    /// The lesson cannot be used as written.
    Error,
}

impl Severity {
    /// The word shown before the message.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A place in a file: 1-based line and column (in characters), and how many characters to
/// underline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Line, starting at 1.
    pub line: usize,
    /// Column in characters, starting at 1.
    pub col: usize,
    /// Characters to underline (at least one caret is drawn).
    pub len: usize,
}

impl Span {
    /// The start of the file, for problems that belong to no particular node.
    pub const START: Span = Span {
        line: 1,
        col: 1,
        len: 1,
    };

    /// A span at a 1-based line and column.
    pub fn new(line: usize, col: usize, len: usize) -> Self {
        Span {
            line: line.max(1),
            col: col.max(1),
            len,
        }
    }
}

/// One problem in a lesson file, located at the offending node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file as the user named it.
    pub file: String,
    /// Line, starting at 1.
    pub line: usize,
    /// Column in characters, starting at 1.
    pub col: usize,
    /// Characters to underline.
    pub len: usize,
    /// What is wrong.
    pub message: String,
    /// The source line at `line`, if the file has one there.
    pub snippet: Option<String>,
    /// How to fix it, if we can tell.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span` of `text` (the file's contents, used for the snippet).
    pub fn error(file: &str, text: &str, span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, file, text, span, message.into())
    }

    /// A warning at `span` of `text`.
    pub fn warning(file: &str, text: &str, span: Span, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, file, text, span, message.into())
    }

    fn new(severity: Severity, file: &str, text: &str, span: Span, message: String) -> Self {
        let span = Span::new(span.line, span.col, span.len);
        Diagnostic {
            severity,
            file: file.to_owned(),
            line: span.line,
            col: span.col,
            len: span.len,
            message,
            snippet: text.lines().nth(span.line - 1).map(str::to_owned),
            help: None,
        }
    }

    /// Adds a `help:` line.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic the way rustc and just do, with `styles` for colour.
    pub fn render(&self, styles: &Styles) -> String {
        let severity_style = match self.severity {
            Severity::Error => styles.error,
            Severity::Warning => styles.warning,
        };
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        let mut out = format!(
            "{}{} {}\n",
            self.severity.label().style(severity_style),
            ":".style(styles.bold),
            self.message.style(styles.bold)
        );
        out += &format!(
            "{pad}{} {}:{}:{}\n",
            "-->".style(styles.gutter),
            self.file,
            self.line,
            self.col
        );
        if let Some(line) = &self.snippet {
            let (shown, caret_col) = window(line, self.col);
            let bar = "|".style(styles.gutter);
            out += &format!("{pad} {bar}\n");
            out += &format!("{} {bar} {shown}\n", number.style(styles.gutter));
            let carets = "^".repeat(self.len.max(1));
            out += &format!(
                "{pad} {bar} {}{}\n",
                " ".repeat(caret_col - 1),
                carets.style(severity_style)
            );
        }
        if let Some(help) = &self.help {
            out += &format!(
                "{pad} {} {}: {help}\n",
                "=".style(styles.gutter),
                "help".style(styles.bold)
            );
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&Styles::plain()))
    }
}

/// Longest source line shown in full; longer ones are cut around the column.
const MAX_SNIPPET: usize = 120;

/// The part of `line` to show, with tabs and control characters made harmless, and the
/// column the caret goes under in that part.
fn window(line: &str, col: usize) -> (String, usize) {
    let chars: Vec<char> = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let col = col.min(chars.len() + 1).max(1);
    if chars.len() <= MAX_SNIPPET {
        return (chars.iter().collect(), col);
    }
    let start = col.saturating_sub(MAX_SNIPPET / 3).max(1);
    let end = (start + MAX_SNIPPET).min(chars.len() + 1);
    let mut shown = String::new();
    let mut caret = col - start + 1;
    if start > 1 {
        shown.push_str("...");
        caret += 3;
    }
    shown.extend(&chars[start - 1..end - 1]);
    if end <= chars.len() {
        shown.push_str("...");
    }
    (shown, caret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let text = "version: 1\ntitel: x\n";
        let diag = Diagnostic::error("x.yaml", text, Span::new(2, 1, 5), "unknown field `titel`")
            .with_help("did you mean `title`?");
        assert_eq!(
            diag.to_string(),
            "error: unknown field `titel`\n --> x.yaml:2:1\n  |\n2 | titel: x\n  | ^^^^^\n  = help: did you mean `title`?\n"
        );
    }

    #[test]
    fn colour_only_with_coloured_styles() {
        let diag = Diagnostic::warning("x.yaml", "a: 1\n", Span::new(1, 1, 1), "careful");
        assert!(!diag.render(&Styles::plain()).contains('\u{1b}'));
        assert!(diag.render(&Styles::colored()).contains('\u{1b}'));
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = format!("{}X{}", "a".repeat(300), "b".repeat(300));
        let (shown, caret) = window(&line, 301);
        assert!(shown.len() < 140, "{shown}");
        assert_eq!(shown.chars().nth(caret - 1), Some('X'));
    }

    #[test]
    fn columns_past_the_end_point_just_after_it() {
        let (shown, caret) = window("abc", 99);
        assert_eq!((shown.as_str(), caret), ("abc", 4));
    }
}
