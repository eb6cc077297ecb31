//! The session folder where a running `kubetutor run` and its connected shells meet
//! (`docs/shell.md` documents it for anyone writing another client):
//!
//! ```text
//! $XDG_STATE_HOME/kubetutor/session/
//!   session.json    the run that owns the session (absent: no lesson is connected)
//!   kubeconfig      0600: just the run's context, with the lesson's namespace set
//!   commands.jsonl  one line per command a shell ran: {"shell":PID,"command":"…","exit":N,"ts":…}
//!   captures.sh     `export NAME='value'` lines, rewritten atomically when a capture changes
//!   shells/PID      one file per connected shell, removed when it exits
//! ```
//!
//! One run owns the session at a time: a newer run takes it over (the older one notices and
//! stops counting commands), since a run left behind in another terminal must not keep a
//! learner from starting again.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why the session folder could not be written or read.
#[derive(Debug, thiserror::Error)]
#[error("failed to {action} {}", path.display())]
pub struct SessionDirError {
    /// What was being done, e.g. "write".
    pub action: &'static str,
    /// The file or folder.
    pub path: PathBuf,
    /// What the OS said.
    #[source]
    pub source: std::io::Error,
}

/// What `session.json` says about the run that owns the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Process id of the `kubetutor run`.
    pub pid: u32,
    /// The lesson file.
    pub lesson: String,
    /// The lesson's title.
    pub title: String,
    /// The kubeconfig context the run uses.
    pub context: String,
    /// Its API server URL.
    pub server: String,
    /// The namespace the lesson works in.
    pub namespace: String,
}

/// One line of `commands.jsonl`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CommandLine {
    /// Process id of the shell that ran it.
    pub shell: u32,
    /// The command line as entered.
    pub command: String,
    /// Its exit status.
    pub exit: i32,
    /// When it finished, in seconds since the epoch.
    #[serde(default)]
    pub ts: f64,
}

/// The session folder and the paths in it.
#[derive(Debug, Clone)]
pub struct SessionDir {
    root: PathBuf,
}

impl SessionDir {
    /// The session folder under kubetutor's state folder.
    pub fn at(state_dir: &Path) -> Self {
        SessionDir {
            root: state_dir.join("session"),
        }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `session.json`.
    pub fn info_path(&self) -> PathBuf {
        self.root.join("session.json")
    }

    /// The session's private kubeconfig.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.root.join("kubeconfig")
    }

    /// `commands.jsonl`.
    pub fn commands_path(&self) -> PathBuf {
        self.root.join("commands.jsonl")
    }

    /// `captures.sh`.
    pub fn captures_path(&self) -> PathBuf {
        self.root.join("captures.sh")
    }

    /// The folder of shell registrations.
    pub fn shells_path(&self) -> PathBuf {
        self.root.join("shells")
    }

    /// Creates the folders, owner-only (the kubeconfig in them holds a token).
    pub fn create(&self) -> Result<(), SessionDirError> {
        let shells = self.shells_path();
        std::fs::create_dir_all(&shells).map_err(fail("create", &shells))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let private = std::fs::Permissions::from_mode(0o700);
            std::fs::set_permissions(&self.root, private)
                .map_err(fail("restrict access to", &self.root))?;
        }
        Ok(())
    }

    /// Makes `info` the session's owner: writes the kubeconfig, empties the commands file and
    /// the captures, then publishes `session.json` last, so a shell that sees it finds the rest.
    pub fn publish(&self, info: &SessionInfo, kubeconfig: &str) -> Result<(), SessionDirError> {
        self.create()?;
        write_atomic(&self.kubeconfig_path(), kubeconfig.as_bytes(), 0o600)?;
        let commands = self.commands_path();
        std::fs::write(&commands, b"").map_err(fail("write", &commands))?;
        self.write_captures(&BTreeMap::new())?;
        let json = serde_json::to_vec_pretty(info).unwrap_or_default();
        write_atomic(&self.info_path(), &json, 0o600)
    }

    /// The run that owns the session, if it is still alive.
    pub fn active(&self) -> Option<SessionInfo> {
        let text = std::fs::read(self.info_path()).ok()?;
        let info: SessionInfo = serde_json::from_slice(&text).ok()?;
        pid_alive(info.pid).then_some(info)
    }

    /// Ends the session of the run `pid`, unless another run has taken it over meanwhile.
    /// The kubeconfig and the shells stay: their cluster may well outlive the run.
    pub fn withdraw(&self, pid: u32) {
        let owner = std::fs::read(self.info_path())
            .ok()
            .and_then(|text| serde_json::from_slice::<SessionInfo>(&text).ok());
        if owner.is_some_and(|info| info.pid == pid) {
            let _ = std::fs::remove_file(self.info_path());
        }
    }

    /// Whether the run `pid` still owns the session.
    pub fn owned_by(&self, pid: u32) -> bool {
        std::fs::read(self.info_path())
            .ok()
            .and_then(|text| serde_json::from_slice::<SessionInfo>(&text).ok())
            .is_some_and(|info| info.pid == pid)
    }

    /// Rewrites `captures.sh` with one `export` line per captured value.
    pub fn write_captures(
        &self,
        captured: &BTreeMap<String, String>,
    ) -> Result<(), SessionDirError> {
        write_atomic(
            &self.captures_path(),
            captures_script(captured).as_bytes(),
            0o600,
        )
    }

    /// The shells registered and alive; registrations of shells that died are removed.
    pub fn live_shells(&self) -> BTreeSet<u32> {
        let mut live = BTreeSet::new();
        let Ok(entries) = std::fs::read_dir(self.shells_path()) else {
            return live;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if pid_alive(pid) {
                live.insert(pid);
            } else {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        live
    }
}

fn fail(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SessionDirError {
    let path = path.to_owned();
    move |source| SessionDirError {
        action,
        path,
        source,
    }
}

/// Writes `path` through a temporary file and a rename, so a reader (a shell sourcing
/// `captures.sh` before its prompt) sees the old content or the new, never half.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), SessionDirError> {
    crate::files::write_atomic(path, contents, mode).map_err(fail("write", path))
}

/// The text of `captures.sh`: a comment, then `export NAME='value'` per capture (names that
/// are not shell variable names are left out; lint refuses them anyway).
pub fn captures_script(captured: &BTreeMap<String, String>) -> String {
    let mut text = String::from("# Written by kubetutor run: values captured so far.\n");
    for (name, value) in captured {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            text.push_str(&format!("export {name}={}\n", single_quoted(value)));
        }
    }
    text
}

/// `value` in single quotes, each `'` written as `'\''`: the shell takes it literally.
pub fn single_quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Whether process `pid` exists (a process of another user counts).
pub fn pid_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(err) => err == rustix::io::Errno::PERM,
    }
}

/// Reads the lines shells append to `commands.jsonl`, from where the last read stopped.
#[derive(Debug)]
pub struct CommandsTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl CommandsTail {
    /// Tails `path` from its start.
    pub fn new(path: PathBuf) -> Self {
        CommandsTail {
            path,
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// The complete lines appended since the last call; a line still being written waits for
    /// the next call, and a line that is not a command is skipped.
    pub fn read_new(&mut self) -> Vec<CommandLine> {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Emptied by a newer run: start over.
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset || file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return Vec::new();
        }
        self.offset += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        complete
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .filter_map(parse_line)
            .collect()
    }
}

/// One line of the commands file; bytes that are not UTF-8 (a command typed in another
/// encoding) are replaced rather than the line lost.
fn parse_line(line: &[u8]) -> Option<CommandLine> {
    serde_json::from_slice(line)
        .or_else(|_| serde_json::from_str(&String::from_utf8_lossy(line)))
        .map_err(|err| tracing::debug!("skipping a commands line that is not a command: {err}"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn captures_are_exported_quoted_and_odd_names_left_out() {
        let captured = BTreeMap::from([
            ("POD_NAME".to_owned(), "web-1".to_owned()),
            ("QUOTE".to_owned(), "it's $HOME".to_owned()),
            ("bad-name".to_owned(), "x".to_owned()),
        ]);
        let script = captures_script(&captured);
        assert!(script.contains("export POD_NAME='web-1'\n"), "{script}");
        assert!(script.contains(r"export QUOTE='it'\''s $HOME'"), "{script}");
        assert!(!script.contains("bad-name"), "{script}");
    }

    #[test]
    fn captures_sh_is_rewritten_whole_and_private() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = SessionDir::at(tmp.path());
        dir.create().expect("create");
        let one = BTreeMap::from([("A".to_owned(), "1".to_owned())]);
        dir.write_captures(&one).expect("write");
        dir.write_captures(&BTreeMap::from([("B".to_owned(), "2".to_owned())]))
            .expect("write");
        let text = std::fs::read_to_string(dir.captures_path()).expect("read");
        assert!(
            text.contains("export B='2'") && !text.contains("export A"),
            "{text}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.captures_path())
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.root())
            .expect("list")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn the_tail_returns_complete_lines_once_and_restarts_after_truncation() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("commands.jsonl");
        let mut tail = CommandsTail::new(path.clone());
        assert!(tail.read_new().is_empty(), "no file yet");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open");
        file.write_all(b"{\"shell\":7,\"command\":\"kubectl get pods\",\"exit\":0,\"ts\":1.5}\nnot json\n{\"shell\":7,")
            .expect("write");
        let lines = tail.read_new();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].command, "kubectl get pods");
        file.write_all(b"\"command\":\"echo \\\"a\\tb\\\"\",\"exit\":3}\n")
            .expect("write");
        let lines = tail.read_new();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(
            (lines[0].command.as_str(), lines[0].exit),
            ("echo \"a\tb\"", 3)
        );
        assert!(tail.read_new().is_empty());
        std::fs::write(&path, b"{\"shell\":8,\"command\":\"ls\",\"exit\":0}\n").expect("truncate");
        assert_eq!(tail.read_new()[0].shell, 8);
    }

    #[test]
    fn a_session_is_active_while_its_run_lives_and_withdrawn_only_by_its_owner() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = SessionDir::at(tmp.path());
        let mut info = SessionInfo {
            pid: std::process::id(),
            lesson: "l.yaml".to_owned(),
            title: "L".to_owned(),
            context: "c".to_owned(),
            server: "https://127.0.0.1:1".to_owned(),
            namespace: "demo".to_owned(),
        };
        dir.publish(&info, "kind: Config\n").expect("publish");
        assert_eq!(dir.active().as_ref(), Some(&info));
        assert!(dir.owned_by(info.pid));
        dir.withdraw(info.pid + 1);
        assert!(dir.active().is_some(), "another pid cannot withdraw it");
        dir.withdraw(info.pid);
        assert!(dir.active().is_none());
        // A run that died leaves a session nobody is behind.
        info.pid = u32::MAX - 1;
        dir.publish(&info, "kind: Config\n").expect("publish");
        assert!(dir.active().is_none());
    }

    #[test]
    fn shells_that_died_are_unregistered() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = SessionDir::at(tmp.path());
        dir.create().expect("create");
        let me = std::process::id();
        std::fs::write(dir.shells_path().join(me.to_string()), b"").expect("register");
        let dead = dir.shells_path().join((u32::MAX - 1).to_string());
        std::fs::write(&dead, b"").expect("register");
        assert_eq!(dir.live_shells(), BTreeSet::from([me]));
        assert!(!dead.exists());
    }
}
