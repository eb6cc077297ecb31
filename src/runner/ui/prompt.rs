//! The prompt thread: the one owner of stdin. inquire and key reads block, so they run here
//! and talk to the event loop over channels.
//!
//! On a terminal, single keys act at once (`h`, `s`, `k`, `q`, `?`; see [`keys`]); Enter on a
//! reading step continues, on a step with goals it opens a menu (next hint, solution, skip,
//! quit). Without a terminal, each line is a key or its word (`h`, `hint`, ...).

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inquire::InquireError;
use tokio::sync::mpsc::UnboundedSender;

use crate::runner::events::{InputEvent, InputMode};
use crate::runner::ui::keys::{self, KeyAction, KeyReader, RawMode};

const KEEP_WAITING: &str = "Keep waiting for the goals";
const HINT: &str = "Show the next hint";
const SOLUTION: &str = "Show the solution";
const SKIP: &str = "Skip this step";
const QUIT: &str = "Quit (progress is saved)";

/// Starts the prompt thread, reading single keys when `terminal` (stdin is one), else lines.
/// It ends when stdin closes or the loop stops listening; it is a plain thread, not a runtime
/// blocking task, so a pending read never delays exit.
pub fn spawn(events: UnboundedSender<InputEvent>, mode: Arc<Mutex<InputMode>>, terminal: bool) {
    // Raw mode is entered here, before the loop prints anything: for a moment it is
    // crossterm's, without output processing, and a line printed then would step right.
    let raw = terminal
        .then(|| {
            RawMode::enter()
                .inspect_err(|err| {
                    tracing::warn!("failed to read single keys ({err}); each key needs Enter");
                })
                .ok()
        })
        .flatten();
    let spawned = std::thread::Builder::new()
        .name("kubetutor-prompt".to_owned())
        .spawn(move || match raw {
            Some(raw) => key_loop(raw, &events, &mode),
            None => line_loop(&events, &mode),
        });
    if spawned.is_err() {
        tracing::warn!("failed to start the prompt thread; running without prompts");
    }
}

fn current(mode: &Mutex<InputMode>) -> InputMode {
    mode.lock().map(|m| *m).unwrap_or(InputMode::Idle)
}

/// Single keys in raw mode. Raw mode is left around the menu (inquire sets its own) and when
/// this thread ends; the command also leaves it on every way out (see `restore_terminal`).
fn key_loop(raw: RawMode, events: &UnboundedSender<InputEvent>, mode: &Mutex<InputMode>) {
    let mut raw = Some(raw);
    let mut reader = KeyReader::default();
    loop {
        let action = match crossterm::event::read() {
            Ok(crossterm::event::Event::Key(key)) => reader.key(key, current(mode)),
            Ok(crossterm::event::Event::Resize(..)) => KeyAction::Send(InputEvent::Resized),
            Ok(_) => KeyAction::Nothing,
            Err(_) => {
                let _ = events.send(InputEvent::Closed);
                return;
            }
        };
        let event = match action {
            KeyAction::Send(event) => event,
            KeyAction::Nothing => continue,
            KeyAction::Menu => {
                drop(raw.take());
                let Some(event) = menu(events) else {
                    return;
                };
                raw = RawMode::enter().ok();
                event
            }
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

fn line_loop(events: &UnboundedSender<InputEvent>, mode: &Mutex<InputMode>) {
    let stdin = std::io::stdin();
    loop {
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => {
                let _ = events.send(InputEvent::Closed);
                return;
            }
            Ok(_) => {}
        }
        // On a terminal, the checklist's last line fills the width, so typed text wraps to a
        // new line before Enter moves down another.
        let typed = !line.trim_end_matches(['\r', '\n']).is_empty();
        if events
            .send(InputEvent::Echoed(if typed { 2 } else { 1 }))
            .is_err()
        {
            return;
        }
        let event = match (current(mode), shortcut(&line)) {
            (InputMode::Idle, _) => continue,
            (_, Some(event)) => event,
            (_, None) if typed => InputEvent::Typed,
            (InputMode::Reading, None) => InputEvent::Continue,
            (InputMode::Goals, None) => match menu(events) {
                Some(event) => event,
                None => return,
            },
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

fn shortcut(line: &str) -> Option<InputEvent> {
    let word = line.trim().to_ascii_lowercase();
    match word.as_str() {
        "hint" => Some(InputEvent::Hint),
        "solution" => Some(InputEvent::Solution),
        "skip" => Some(InputEvent::Skip),
        "quit" => Some(InputEvent::Quit),
        _ => {
            let mut chars = word.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => keys::single_key(c),
                _ => None,
            }
        }
    }
}

/// Shows the menu once the loop has cleared the live checklist; `None` if the loop is gone.
fn menu(events: &UnboundedSender<InputEvent>) -> Option<InputEvent> {
    let (ack_tx, ack_rx) = std::sync::mpsc::channel();
    events.send(InputEvent::MenuOpened(ack_tx)).ok()?;
    // The loop acks within a tick; never wait forever on it.
    let _ = ack_rx.recv_timeout(Duration::from_secs(2));
    let options = vec![KEEP_WAITING, HINT, SOLUTION, SKIP, QUIT];
    let answer = inquire::Select::new("What now?", options)
        .with_help_message("↑↓ to move, Enter to choose, Esc to go back")
        .prompt();
    erase_menu_answer();
    Some(match answer {
        Ok(HINT) => InputEvent::Hint,
        Ok(SOLUTION) => InputEvent::Solution,
        Ok(SKIP) => InputEvent::Skip,
        Ok(QUIT) => InputEvent::Quit,
        Ok(_) | Err(InquireError::OperationCanceled) => InputEvent::MenuClosed,
        Err(InquireError::OperationInterrupted) => InputEvent::Interrupted,
        Err(_) => InputEvent::MenuClosed,
    })
}

/// inquire leaves its answer (or `<canceled>`) on one line: the choice shows through what
/// follows, so that line goes.
fn erase_menu_answer() {
    use std::io::Write;
    let mut err = std::io::stderr();
    let _ = crossterm::execute!(
        err,
        crossterm::cursor::MoveToPreviousLine(1),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::FromCursorDown)
    );
    let _ = err.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_map_to_menu_choices() {
        assert!(matches!(shortcut("h\n"), Some(InputEvent::Hint)));
        assert!(matches!(shortcut(" Solution "), Some(InputEvent::Solution)));
        assert!(matches!(shortcut("k"), Some(InputEvent::Skip)));
        assert!(matches!(shortcut("q"), Some(InputEvent::Quit)));
        assert!(matches!(shortcut("?\n"), Some(InputEvent::Legend)));
        assert!(shortcut("\n").is_none());
        assert!(shortcut("what").is_none());
    }
}
