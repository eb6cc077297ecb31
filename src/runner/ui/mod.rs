//! The terminal UI: the screen with its live checklist, and the prompt thread (styles and the
//! terminal probe are `crate::term`'s).

pub mod checklist;
pub mod keys;
pub mod prompt;
pub mod screen;

use crate::term::Console;

/// Leaves the terminal usable whatever happened: raw mode off, cursor shown.
pub fn restore_terminal(console: &Console) {
    use std::io::Write;
    keys::leave_raw_mode();
    if console.stdout_tty || console.stderr_tty {
        let mut err = std::io::stderr();
        let _ = crossterm::execute!(err, crossterm::cursor::Show);
        let _ = err.flush();
    }
}
