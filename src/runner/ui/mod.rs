//! The terminal UI: styles, the screen with its live checklist, and the prompt thread.

pub mod checklist;
pub mod prompt;
pub mod screen;
pub mod styles;

/// Leaves the terminal usable whatever happened: raw mode off, cursor shown.
pub fn restore_terminal() {
    use std::io::{IsTerminal, Write};
    let _ = crossterm::terminal::disable_raw_mode();
    for is_tty in [
        std::io::stdout().is_terminal(),
        std::io::stderr().is_terminal(),
    ] {
        if is_tty {
            let mut err = std::io::stderr();
            let _ = crossterm::execute!(err, crossterm::cursor::Show);
            let _ = err.flush();
            break;
        }
    }
}
