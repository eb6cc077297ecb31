//! Lessons: the model instructors write, loading with located errors, and lint.

pub mod builtin;
pub(crate) mod diagnostic;
pub(crate) mod lint;
pub mod load;
pub mod model;
pub(crate) mod position;
mod serde_error;
pub(crate) mod suggest;
mod vars;

pub use builtin::{Builtin, LessonRef};
pub use diagnostic::{Diagnostic, Severity, Span, Styles};
pub use lint::lint;
pub use load::{LessonError, LoadedLesson, load, load_bytes, load_str};
pub use model::*;
