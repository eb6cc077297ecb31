//! A simulated interactive shell for `kubectl exec -ti POD -- bash`: each line the learner
//! types runs as one simulated command; `exit` (or Ctrl-D) ends the session.
//!
//! With a TTY the terminal sends raw keystrokes, so this side echoes them and handles Enter,
//! Backspace, Ctrl-C and Ctrl-D like a terminal's line discipline would.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::exec::{Channels, Input};
use crate::sandbox::http::ExecOutput;

/// Runs one command line (already split into words).
pub type Runner = Arc<dyn Fn(&[String]) -> ExecOutput + Send + Sync>;

/// An interactive session's settings.
pub struct Shell {
    /// The prompt, e.g. `root@pod:/app# `.
    pub prompt: String,
    /// Whether the client asked for a TTY (`-t`).
    pub tty: bool,
    /// Runs each command.
    pub run: Runner,
}

/// Whether `argv` starts an interactive shell.
pub fn is_shell(argv: &[String]) -> bool {
    argv.len() == 1
        && matches!(
            argv[0].rsplit('/').next(),
            Some("bash" | "sh" | "ash" | "zsh")
        )
}

const IDLE: Duration = Duration::from_secs(30 * 60);

async fn out<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Channels<S>,
    tty: bool,
    text: &str,
) -> std::io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let text = if tty {
        text.replace('\n', "\r\n")
    } else {
        text.to_owned()
    };
    io.send(1, text.as_bytes()).await
}

/// What one typed line does.
enum Line {
    Continue,
    Exit(i32),
}

async fn run_line<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Channels<S>,
    shell: &Shell,
    line: &str,
) -> std::io::Result<Line> {
    let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    match words.first().map(String::as_str) {
        None => {}
        Some("exit" | "logout") => {
            if shell.tty {
                out(io, true, "exit\n").await?;
            }
            let code = words.get(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            return Ok(Line::Exit(code));
        }
        Some(_) => {
            let result = (shell.run)(&words);
            out(io, shell.tty, &result.stdout).await?;
            if shell.tty {
                out(io, true, &result.stderr).await?;
            } else if !result.stderr.is_empty() {
                io.send(2, result.stderr.as_bytes()).await?;
            }
        }
    }
    if shell.tty {
        out(io, true, &shell.prompt).await?;
    }
    Ok(Line::Continue)
}

/// Serves the session until `exit`, Ctrl-D, the client closing, or a long idle time; returns
/// the shell's exit code.
pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Channels<S>,
    shell: Shell,
) -> std::io::Result<i32> {
    if shell.tty {
        out(io, true, &shell.prompt).await?;
    }
    let mut line = String::new();
    let code = 'session: loop {
        let Ok(next) = tokio::time::timeout(IDLE, io.next()).await else {
            break 0;
        };
        let data = match next {
            None => break 0,
            Some(Input::Other) => continue,
            Some(Input::StdinClosed) => {
                // stdin closed: run what is left, then end like a shell at EOF.
                if !line.trim().is_empty()
                    && let Line::Exit(code) = run_line(io, &shell, &line).await?
                {
                    break code;
                }
                break 0;
            }
            Some(Input::Stdin(data)) => data,
        };
        for byte in data {
            match byte {
                b'\r' | b'\n' => {
                    if shell.tty {
                        out(io, true, "\n").await?;
                    }
                    let typed = std::mem::take(&mut line);
                    if let Line::Exit(code) = run_line(io, &shell, &typed).await? {
                        break 'session code;
                    }
                }
                0x7f | 0x08 if shell.tty && line.pop().is_some() => {
                    io.send(1, b"\x08 \x08").await?;
                }
                0x7f | 0x08 => {}
                0x03 if shell.tty => {
                    line.clear();
                    out(io, true, "^C\n").await?;
                    out(io, true, &shell.prompt).await?;
                }
                0x04 if line.is_empty() => {
                    if shell.tty {
                        out(io, true, "exit\n").await?;
                    }
                    break 'session 0;
                }
                b if b >= 0x20 || b == b'\t' => {
                    line.push(char::from(b));
                    if shell.tty {
                        io.send(1, &[b]).await?;
                    }
                }
                _ => {}
            }
        }
    };
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells_are_recognised() {
        assert!(is_shell(&["bash".to_owned()]));
        assert!(is_shell(&["/bin/sh".to_owned()]));
        assert!(!is_shell(&["bash".to_owned(), "-c".to_owned()]));
        assert!(!is_shell(&["env".to_owned()]));
    }
}
