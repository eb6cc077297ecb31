//! The lesson state machine, its event loop, progress, and the terminal UI.
