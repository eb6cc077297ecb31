//! Lessons: the model instructors write, loading with located errors, and lint.

pub mod model;

pub use model::*;
