//! A simulated interactive shell for `kubectl exec -ti POD -- bash`: each line the learner
//! types runs as one simulated command; `exit` (or Ctrl-D) ends the session.
//!
//! With a TTY the terminal sends raw keystrokes, so this side echoes them and handles Enter,
//! Backspace, Ctrl-C and Ctrl-D like a terminal's line discipline would.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::ExecOutput;
use super::exec::{channel, finish, frame};

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

/// Reads one client frame: (opcode, unmasked payload); `None` at end of stream.
async fn read_frame<S: AsyncRead + Unpin>(io: &mut S) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 2];
    match io.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let opcode = head[0] & 0x0f;
    let masked = head[1] & 0x80 != 0;
    let len = match head[1] & 0x7f {
        126 => u64::from(io.read_u16().await?),
        127 => io.read_u64().await?,
        n => u64::from(n),
    };
    if len > 1 << 20 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut mask = [0u8; 4];
    if masked {
        io.read_exact(&mut mask).await?;
    }
    let mut payload = vec![0u8; usize::try_from(len).unwrap_or(0)];
    io.read_exact(&mut payload).await?;
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Ok(Some((opcode, payload)))
}

async fn out<S: AsyncWrite + Unpin>(io: &mut S, tty: bool, text: &str) -> std::io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let text = if tty {
        text.replace('\n', "\r\n")
    } else {
        text.to_owned()
    };
    io.write_all(&frame(0x2, &channel(1, text.as_bytes())))
        .await
}

/// What one typed line does.
enum Line {
    Continue,
    Exit(i32),
}

async fn run_line<S: AsyncWrite + Unpin>(
    io: &mut S,
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
                io.write_all(&frame(0x2, &channel(2, result.stderr.as_bytes())))
                    .await?;
            }
        }
    }
    if shell.tty {
        out(io, true, &shell.prompt).await?;
    }
    Ok(Line::Continue)
}

/// Serves the session until `exit`, Ctrl-D, the client closing, or a long idle time.
pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    shell: Shell,
) -> std::io::Result<()> {
    if shell.tty {
        out(io, true, &shell.prompt).await?;
    }
    let mut line = String::new();
    let code = 'session: loop {
        let Ok(next) = tokio::time::timeout(IDLE, read_frame(io)).await else {
            break 0;
        };
        let Some((opcode, payload)) = next? else {
            break 0;
        };
        match opcode {
            0x8 => break 0,
            0x9 => {
                io.write_all(&frame(0xA, &payload)).await?;
                continue;
            }
            0x1 | 0x2 => {}
            _ => continue,
        }
        // Channel 0 is stdin; 4 is terminal resize; 255 (v5) says a stream was closed.
        let Some((&stream, data)) = payload.split_first() else {
            continue;
        };
        if stream == 255 && data.first() == Some(&0) {
            // stdin closed: run what is left, then end like a shell at EOF.
            if !line.trim().is_empty()
                && let Line::Exit(code) = run_line(io, &shell, &line).await?
            {
                break code;
            }
            break 0;
        }
        if stream != 0 {
            continue;
        }
        for &byte in data {
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
                    io.write_all(&frame(0x2, &channel(1, b"\x08 \x08"))).await?;
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
                        io.write_all(&frame(0x2, &channel(1, &[b]))).await?;
                    }
                }
                _ => {}
            }
        }
    };
    finish(io, code).await
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
