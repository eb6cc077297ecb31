//! Single keys on a terminal: raw mode entered and always left again, and what each key means
//! at the current step (pure, so it is tested without a terminal).
//!
//! Raw mode here keeps the terminal's output processing on: crossterm's raw mode also turns
//! off the translation of `\n` into `\r\n`, and every line the screen and indicatif print
//! would then step right instead of starting at the margin.

use std::sync::Once;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::runner::events::{InputEvent, InputMode};

/// What the learner should see for the keys: the legend `?` shows.
pub const LEGEND: &str = "Keys: h next hint · s solution · kk skip this step · k r run its solution for you and skip it · q quit (progress \
                          is saved) · ? this legend · Enter: continue a reading step, or the \
                          menu on a step with goals";

/// Raw mode while alive; dropping it (normal end, error, unwinding) restores the terminal.
pub struct RawMode {
    _private: (),
}

impl RawMode {
    /// Enters raw mode on the terminal behind stdin, output processing kept; also makes a
    /// panic leave raw mode before its message is printed.
    pub fn enter() -> std::io::Result<RawMode> {
        install_panic_hook();
        crossterm::terminal::enable_raw_mode()?;
        let guard = RawMode { _private: () };
        keep_output_processing()?;
        Ok(guard)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        leave_raw_mode();
    }
}

/// Leaves raw mode if it is on (crossterm restores the mode it found); harmless otherwise.
pub fn leave_raw_mode() {
    let _ = crossterm::terminal::disable_raw_mode();
}

fn keep_output_processing() -> std::io::Result<()> {
    use rustix::termios::{OptionalActions, OutputModes, tcgetattr, tcsetattr};
    let stdin = rustix::stdio::stdin();
    let mut termios = tcgetattr(stdin)?;
    termios.output_modes |= OutputModes::OPOST | OutputModes::ONLCR;
    tcsetattr(stdin, OptionalActions::Now, &termios)?;
    Ok(())
}

/// A panic in any thread leaves raw mode first, so its message and the shell after it are
/// readable.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            leave_raw_mode();
            previous(info);
        }));
    });
}

/// What the prompt thread does with a key.
#[derive(Debug)]
pub enum KeyAction {
    /// Tell the loop.
    Send(InputEvent),
    /// Open the menu (a step with goals, Enter with nothing typed).
    Menu,
    /// Nothing to do (a key collected as typed text, a release, a key while idle).
    Nothing,
}

/// The keys typed since the last Enter: text typed into this window by mistake must never
/// count as Enter. `k` skips only when pressed twice: `kubectl ...` typed here by mistake
/// starts with it.
#[derive(Debug, Default)]
pub struct KeyReader {
    typed: String,
    skip_asked: bool,
}

impl KeyReader {
    /// What `key` means in `mode`. Ctrl-C always interrupts, whatever the mode.
    pub fn key(&mut self, key: KeyEvent, mode: InputMode) -> KeyAction {
        if key.kind == KeyEventKind::Release {
            return KeyAction::Nothing;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => return KeyAction::Send(InputEvent::Interrupted),
            KeyCode::Char('d') if ctrl => return KeyAction::Send(InputEvent::Quit),
            _ => {}
        }
        if mode == InputMode::Idle {
            self.typed.clear();
            self.skip_asked = false;
            return KeyAction::Nothing;
        }
        if std::mem::take(&mut self.skip_asked) {
            match key.code {
                KeyCode::Char('k' | 'K') if !ctrl => return KeyAction::Send(InputEvent::Skip),
                KeyCode::Char('r' | 'R') if !ctrl => {
                    return KeyAction::Send(InputEvent::SkipSolved);
                }
                KeyCode::Esc => return KeyAction::Nothing,
                // Not a second `k`: the first one was the start of typed text.
                _ => self.typed.push('k'),
            }
        }
        match key.code {
            KeyCode::Enter => {
                if !std::mem::take(&mut self.typed).is_empty() {
                    return KeyAction::Send(InputEvent::Typed);
                }
                match mode {
                    InputMode::Reading => KeyAction::Send(InputEvent::Continue),
                    _ => KeyAction::Menu,
                }
            }
            KeyCode::Backspace => {
                self.typed.pop();
                KeyAction::Nothing
            }
            KeyCode::Esc => {
                self.typed.clear();
                KeyAction::Nothing
            }
            KeyCode::Char(_) if ctrl => KeyAction::Nothing,
            KeyCode::Char('k' | 'K') if self.typed.is_empty() => {
                self.skip_asked = true;
                KeyAction::Send(InputEvent::SkipAsked)
            }
            KeyCode::Char(c) if self.typed.is_empty() => match single_key(c) {
                Some(event) => KeyAction::Send(event),
                None => {
                    self.typed.push(c);
                    KeyAction::Nothing
                }
            },
            KeyCode::Char(c) => {
                self.typed.push(c);
                KeyAction::Nothing
            }
            _ => KeyAction::Nothing,
        }
    }
}

/// The event of a single key, in either case.
pub fn single_key(c: char) -> Option<InputEvent> {
    match c.to_ascii_lowercase() {
        'h' => Some(InputEvent::Hint),
        's' => Some(InputEvent::Solution),
        'k' => Some(InputEvent::Skip),
        'q' => Some(InputEvent::Quit),
        '?' => Some(InputEvent::Legend),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn feed(reader: &mut KeyReader, mode: InputMode, keys: &str) -> Vec<String> {
        keys.chars()
            .map(|c| {
                let code = if c == '\n' {
                    KeyCode::Enter
                } else {
                    KeyCode::Char(c)
                };
                format!("{:?}", reader.key(press(code), mode))
            })
            .collect()
    }

    #[test]
    fn single_keys_act_at_once_and_enter_continues_or_opens_the_menu() {
        let mut reader = KeyReader::default();
        assert_eq!(
            feed(&mut reader, InputMode::Goals, "hskkq?\n"),
            [
                "Send(Hint)",
                "Send(Solution)",
                "Send(SkipAsked)",
                "Send(Skip)",
                "Send(Quit)",
                "Send(Legend)",
                "Menu"
            ]
        );
        assert_eq!(
            feed(&mut reader, InputMode::Reading, "\nH"),
            ["Send(Continue)", "Send(Hint)"]
        );
    }

    #[test]
    fn typed_text_then_enter_is_not_enter() {
        let mut reader = KeyReader::default();
        let actions = feed(&mut reader, InputMode::Reading, "get pods\n");
        assert_eq!(actions.last().map(String::as_str), Some("Send(Typed)"));
        // Inside typed text, the single keys are just letters.
        assert!(actions[..actions.len() - 1].iter().all(|a| a == "Nothing"));
        // The text is gone after Enter: the next Enter continues.
        assert_eq!(
            feed(&mut reader, InputMode::Reading, "\n"),
            ["Send(Continue)"]
        );
        // Erasing what was typed makes Enter an Enter again.
        feed(&mut reader, InputMode::Goals, "x");
        reader.key(press(KeyCode::Backspace), InputMode::Goals);
        assert_eq!(feed(&mut reader, InputMode::Goals, "\n"), ["Menu"]);
    }

    #[test]
    fn a_command_typed_here_by_mistake_skips_nothing() {
        let mut reader = KeyReader::default();
        let actions = feed(&mut reader, InputMode::Goals, "kubectl get pods\n");
        assert_eq!(actions[0], "Send(SkipAsked)");
        assert!(actions[1..actions.len() - 1].iter().all(|a| a == "Nothing"));
        assert_eq!(actions.last().map(String::as_str), Some("Send(Typed)"));
        // `k` then `r` runs the solution and skips.
        assert_eq!(
            feed(&mut reader, InputMode::Goals, "kr"),
            ["Send(SkipAsked)", "Send(SkipSolved)"]
        );
        // `k` then Enter is typed text too, not a skip and not the menu.
        assert_eq!(
            feed(&mut reader, InputMode::Reading, "k\n"),
            ["Send(SkipAsked)", "Send(Typed)"]
        );
    }

    #[test]
    fn ctrl_c_interrupts_even_while_idle_and_other_keys_wait() {
        let mut reader = KeyReader::default();
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert!(matches!(
            reader.key(ctrl_c, InputMode::Idle),
            KeyAction::Send(InputEvent::Interrupted)
        ));
        assert_eq!(
            feed(&mut reader, InputMode::Idle, "q\n"),
            ["Nothing", "Nothing"]
        );
        let mut release = press(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert!(matches!(
            reader.key(release, InputMode::Goals),
            KeyAction::Nothing
        ));
    }
}
