//! The prompt thread: the one owner of stdin. inquire blocks, so it runs here and talks to
//! the event loop over channels.
//!
//! Enter on a reading step continues; on a step with goals it opens a menu (next hint,
//! solution, skip, quit). Shortcuts `h`, `s`, `k`, `q` followed by Enter skip the menu.

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inquire::InquireError;
use tokio::sync::mpsc::UnboundedSender;

use crate::runner::events::{InputEvent, InputMode};

const KEEP_WAITING: &str = "Keep waiting for the goals";
const HINT: &str = "Show the next hint";
const SOLUTION: &str = "Show the solution";
const SKIP: &str = "Skip this step";
const QUIT: &str = "Quit (progress is saved)";

/// Starts the prompt thread. It ends when stdin closes or the loop stops listening; it is a
/// plain thread, not a runtime blocking task, so a pending read never delays exit.
pub fn spawn(events: UnboundedSender<InputEvent>, mode: Arc<Mutex<InputMode>>) {
    let spawned = std::thread::Builder::new()
        .name("kubetutor-prompt".to_owned())
        .spawn(move || prompt_loop(&events, &mode));
    if spawned.is_err() {
        tracing::warn!("failed to start the prompt thread; running without prompts");
    }
}

fn prompt_loop(events: &UnboundedSender<InputEvent>, mode: &Mutex<InputMode>) {
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
        let current = mode.lock().map(|m| *m).unwrap_or(InputMode::Idle);
        let event = match (current, shortcut(&line)) {
            (InputMode::Idle, _) => continue,
            (InputMode::Reading, Some(InputEvent::Quit)) => InputEvent::Quit,
            (InputMode::Reading, _) => InputEvent::Continue,
            (InputMode::Goals, Some(event)) => event,
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
    match line.trim().to_ascii_lowercase().as_str() {
        "h" | "hint" => Some(InputEvent::Hint),
        "s" | "solution" => Some(InputEvent::Solution),
        "k" | "skip" => Some(InputEvent::Skip),
        "q" | "quit" => Some(InputEvent::Quit),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_map_to_menu_choices() {
        assert!(matches!(shortcut("h\n"), Some(InputEvent::Hint)));
        assert!(matches!(shortcut(" Solution "), Some(InputEvent::Solution)));
        assert!(matches!(shortcut("k"), Some(InputEvent::Skip)));
        assert!(matches!(shortcut("q"), Some(InputEvent::Quit)));
        assert!(shortcut("\n").is_none());
        assert!(shortcut("what").is_none());
    }
}
