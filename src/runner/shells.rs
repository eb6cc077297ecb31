//! The run's side of the connected terminals: which shells are connected, what they ran, and
//! the captures they see. Polled on the loop's tick, so the loop stays the one place where
//! events meet.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::cluster::kubeconfig::{self, KubeconfigCopyError};
use crate::lesson::Lesson;
use crate::shell::session::{CommandsTail, SessionDir, SessionDirError, SessionInfo, write_atomic};

/// Polls between two looks at the source kubeconfig's modification time (about a second).
const SOURCE_CHECK_POLLS: u32 = 10;

/// Something the connected shells did since the last poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellEvent {
    /// A shell connected.
    Connected(u32),
    /// A shell exited.
    Disconnected(u32),
    /// A shell ran a command line, which exited with `exit`.
    Command {
        /// The shell's process id.
        shell: u32,
        /// The line as entered.
        command: String,
        /// Its exit status.
        exit: i32,
    },
    /// A newer `kubetutor run` took the session over: its shells are no longer ours.
    TakenOver,
}

/// Where the loop hears from connected shells.
pub trait Shells {
    /// What happened since the last call.
    fn poll(&mut self) -> Vec<ShellEvent>;
    /// Whether a shell is connected now (as of the last poll).
    fn connected(&self) -> bool;
    /// The captured values are now `captured`: connected shells should see them.
    fn captures_changed(&mut self, captured: &BTreeMap<String, String>);
}

/// The shells connected through the session folder this run published.
#[derive(Debug)]
pub struct SessionShells {
    dir: SessionDir,
    pid: u32,
    tail: CommandsTail,
    live: BTreeSet<u32>,
    owner: bool,
    published: Option<BTreeMap<String, String>>,
    source: Option<Source>,
}

/// Where the session's kubeconfig was copied from, to copy it again when that file changes:
/// a restarted sandbox rewrites its credentials, and the shells' copy must follow.
#[derive(Debug)]
struct Source {
    target: ShellTarget,
    namespace: String,
    stamp: Vec<Option<SystemTime>>,
    polls: u32,
}

impl Source {
    fn new(target: &ShellTarget, namespace: &str) -> Self {
        let mut source = Source {
            target: target.clone(),
            namespace: namespace.to_owned(),
            stamp: Vec::new(),
            polls: 0,
        };
        source.stamp = source.current_stamp();
        source
    }

    /// The files kube-rs reads for this target, as kubectl would.
    fn files(&self) -> Vec<PathBuf> {
        if let Some(path) = &self.target.kubeconfig {
            return vec![path.clone()];
        }
        match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            Some(list) => std::env::split_paths(&list).collect(),
            None => dirs::home_dir()
                .map(|home| home.join(".kube").join("config"))
                .into_iter()
                .collect(),
        }
    }

    fn current_stamp(&self) -> Vec<Option<SystemTime>> {
        self.files()
            .iter()
            .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
            .collect()
    }

    fn render(&self) -> Result<String, KubeconfigCopyError> {
        let (config, context) = kubeconfig::pick_context(
            self.target.kubeconfig.as_deref(),
            Some(&self.target.context),
        )?;
        kubeconfig::single_context(&config, &context, Some(&self.namespace))
    }

    /// The new copy, when the source changed since the last one (checked every
    /// [`SOURCE_CHECK_POLLS`] polls).
    fn changed(&mut self) -> Option<String> {
        self.polls += 1;
        if self.polls < SOURCE_CHECK_POLLS {
            return None;
        }
        self.polls = 0;
        let stamp = self.current_stamp();
        if stamp == self.stamp {
            return None;
        }
        // A file caught half-written is read again at the next check.
        let yaml = self.render().ok()?;
        self.stamp = stamp;
        Some(yaml)
    }
}

impl SessionShells {
    /// Publishes this run as the session's owner, with `kubeconfig` for its shells.
    pub fn publish(
        dir: SessionDir,
        info: &SessionInfo,
        kubeconfig: &str,
    ) -> Result<Self, SessionDirError> {
        dir.publish(info, kubeconfig)?;
        Ok(SessionShells {
            tail: CommandsTail::new(dir.commands_path()),
            dir,
            pid: info.pid,
            live: BTreeSet::new(),
            owner: true,
            published: None,
            source: None,
        })
    }
}

/// The cluster a run's shells point at.
#[derive(Debug, Clone)]
pub struct ShellTarget {
    /// The kubeconfig the context comes from (`None`: `$KUBECONFIG` or `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// The context.
    pub context: String,
    /// Its API server URL.
    pub server: String,
}

/// Publishes the session of this run for `kubetutor shell`; `None` (with a warning logged)
/// if it cannot be, since the lesson works without connected terminals.
pub fn open(
    state_dir: &Path,
    lesson_file: &Path,
    lesson: &Lesson,
    namespace: &str,
    target: &ShellTarget,
) -> Option<SessionShells> {
    let source = Source::new(target, namespace);
    let kubeconfig = match source.render() {
        Ok(yaml) => yaml,
        Err(err) => {
            tracing::warn!("no connected terminals: {}", crate::error::chain(&err));
            return None;
        }
    };
    let info = SessionInfo {
        pid: std::process::id(),
        lesson: lesson_file.display().to_string(),
        title: lesson.title.clone(),
        context: target.context.clone(),
        server: target.server.clone(),
        namespace: namespace.to_owned(),
    };
    let mut shells = SessionShells::publish(SessionDir::at(state_dir), &info, &kubeconfig)
        .map_err(|err| tracing::warn!("no connected terminals: {}", crate::error::chain(&err)))
        .ok()?;
    shells.source = Some(source);
    Some(shells)
}

impl Shells for SessionShells {
    fn poll(&mut self) -> Vec<ShellEvent> {
        let mut events = Vec::new();
        if !self.owner {
            return events;
        }
        if !self.dir.owned_by(self.pid) {
            self.owner = false;
            self.live.clear();
            events.push(ShellEvent::TakenOver);
            return events;
        }
        if let Some(yaml) = self.source.as_mut().and_then(Source::changed) {
            let path = self.dir.kubeconfig_path();
            if let Err(err) = write_atomic(&path, yaml.as_bytes(), 0o600) {
                tracing::warn!("{}", crate::error::chain(&err));
            }
        }
        let live = self.dir.live_shells();
        events.extend(
            live.difference(&self.live)
                .map(|pid| ShellEvent::Connected(*pid)),
        );
        // Commands come before the disconnections: a shell's last command counts.
        events.extend(
            self.tail
                .read_new()
                .into_iter()
                .map(|line| ShellEvent::Command {
                    shell: line.shell,
                    command: line.command,
                    exit: line.exit,
                }),
        );
        events.extend(
            self.live
                .difference(&live)
                .map(|pid| ShellEvent::Disconnected(*pid)),
        );
        self.live = live;
        events
    }

    fn connected(&self) -> bool {
        self.owner && !self.live.is_empty()
    }

    fn captures_changed(&mut self, captured: &BTreeMap<String, String>) {
        if !self.owner || self.published.as_ref() == Some(captured) {
            return;
        }
        match self.dir.write_captures(captured) {
            Ok(()) => self.published = Some(captured.clone()),
            Err(err) => tracing::warn!("{}", crate::error::chain(&err)),
        }
    }
}

impl Drop for SessionShells {
    fn drop(&mut self) {
        self.dir.withdraw(self.pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pid: u32) -> SessionInfo {
        SessionInfo {
            pid,
            lesson: "l.yaml".to_owned(),
            title: "L".to_owned(),
            context: "c".to_owned(),
            server: "https://127.0.0.1:1".to_owned(),
            namespace: "demo".to_owned(),
        }
    }

    /// A session this test process owns, in a temporary state folder.
    fn published() -> (tempfile::TempDir, SessionDir, SessionShells) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = SessionDir::at(tmp.path());
        let shells =
            SessionShells::publish(dir.clone(), &info(std::process::id()), "").expect("publish");
        (tmp, dir, shells)
    }

    #[test]
    fn shells_connect_report_commands_and_disconnect() {
        let (_tmp, dir, mut shells) = published();
        assert!(shells.poll().is_empty());
        assert!(!shells.connected());

        // This test's own pid stands in for a live shell.
        let me = std::process::id();
        let registration = dir.shells_path().join(me.to_string());
        std::fs::write(&registration, b"").expect("register");
        std::fs::write(
            dir.commands_path(),
            format!("{{\"shell\":{me},\"command\":\"kubectl get pods\",\"exit\":0}}\n"),
        )
        .expect("append");
        assert_eq!(
            shells.poll(),
            vec![
                ShellEvent::Connected(me),
                ShellEvent::Command {
                    shell: me,
                    command: "kubectl get pods".to_owned(),
                    exit: 0
                }
            ]
        );
        assert!(shells.connected());
        assert!(shells.poll().is_empty(), "each event once");
        std::fs::remove_file(&registration).expect("unregister");
        assert_eq!(shells.poll(), vec![ShellEvent::Disconnected(me)]);
        assert!(!shells.connected());
    }

    #[test]
    fn the_copy_follows_the_source_kubeconfig_when_it_is_rewritten() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let source = tmp.path().join("config");
        let config = |token: &str| {
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: s\nclusters:\n- name: s\n  cluster: {{server: 'https://127.0.0.1:1'}}\nusers:\n- name: s\n  user: {{token: {token}}}\ncontexts:\n- name: s\n  context: {{cluster: s, user: s}}\n"
            )
        };
        std::fs::write(&source, config("first")).expect("write");
        let target = ShellTarget {
            kubeconfig: Some(source.clone()),
            context: "s".to_owned(),
            server: "https://127.0.0.1:1".to_owned(),
        };
        let lesson: Lesson =
            serde_yaml::from_str("version: 1\ntitle: L\nsteps: []\n").expect("lesson");
        let mut shells =
            open(tmp.path(), Path::new("l.yaml"), &lesson, "demo", &target).expect("published");
        let copy = shells.dir.kubeconfig_path();
        let read = || std::fs::read_to_string(&copy).expect("copy");
        assert!(read().contains("first") && read().contains("namespace: demo"));
        // Rewritten with an older time than before: any change of the time counts.
        std::fs::write(&source, config("second")).expect("rewrite");
        let file = std::fs::File::options()
            .write(true)
            .open(&source)
            .expect("open");
        file.set_modified(SystemTime::UNIX_EPOCH).expect("touch");
        for _ in 0..SOURCE_CHECK_POLLS {
            shells.poll();
        }
        assert!(read().contains("second"), "{}", read());
    }

    #[test]
    fn captures_are_written_when_they_change_and_a_newer_run_takes_over() {
        let (_tmp, dir, mut shells) = published();
        let captured = BTreeMap::from([("POD".to_owned(), "web-1".to_owned())]);
        shells.captures_changed(&captured);
        let text = std::fs::read_to_string(dir.captures_path()).expect("read");
        assert!(text.contains("export POD='web-1'"), "{text}");

        // A newer run (pid 1 is alive everywhere) publishes over this one.
        dir.publish(&info(1), "").expect("take over");
        assert_eq!(shells.poll(), vec![ShellEvent::TakenOver]);
        assert!(shells.poll().is_empty());
        shells.captures_changed(&BTreeMap::from([("OLD".to_owned(), "x".to_owned())]));
        let text = std::fs::read_to_string(dir.captures_path()).expect("read");
        assert!(
            !text.contains("OLD"),
            "the newer run's captures stay: {text}"
        );
        drop(shells);
        assert_eq!(
            dir.active().map(|i| i.pid),
            Some(1),
            "only the owner withdraws"
        );
    }
}
