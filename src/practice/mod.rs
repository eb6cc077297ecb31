//! The practice cluster: the embedded sandbox as a lasting background process, the way kind
//! or minikube run a cluster. Its folder (`$XDG_STATE_HOME/kubetutor/practice/`) keeps
//! everything that makes it the same cluster after a stop, a crash or a reboot: its objects,
//! CA, server certificate and token, its port, and the images lessons taught it. The daemon
//! is this binary re-executed (`sandbox serve-practice`), detached with `setsid`.

pub mod kubeconfig;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::cluster::{Cluster, ClusterChoice, ClusterError, connect};
use crate::sandbox::http::LEARN_IMAGES_PATH;
pub use crate::sandbox::kubeconfig::CONTEXT;
use crate::sandbox::{AppSpec, Sandbox, SandboxConfig, SandboxError};
pub use kubeconfig::{MergeError, Merged};

/// How long a starting daemon may take to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopping daemon may take to save its objects and exit before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the daemon checks that its pid file is still there (it stops when its folder
/// goes, so deleting the folder never leaves an orphan serving nothing).
const WATCHDOG_INTERVAL: Duration = Duration::from_secs(1);
/// The word in the daemon's command line that tells a live pid is really ours.
const SERVE_WORD: &str = "serve-practice";

/// Why the practice cluster could not be started, stopped or reached.
#[derive(Debug, thiserror::Error)]
pub enum PracticeError {
    /// A file in its folder could not be read or written.
    #[error("failed to {action} {}", path.display())]
    Io {
        /// What was being done, e.g. `write the pid file`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The daemon could not be started.
    #[error("failed to start the practice cluster")]
    Spawn(#[source] std::io::Error),
    /// The daemon exited while starting; its log says why.
    #[error("failed to start the practice cluster: it exited while starting ({log_tail})")]
    Exited {
        /// The last lines of its log.
        log_tail: String,
    },
    /// The daemon did not answer in time.
    #[error(
        "failed to start the practice cluster: no answer within {}s (log: {})",
        READY_TIMEOUT.as_secs(),
        log.display()
    )]
    NotReady {
        /// Its log file.
        log: PathBuf,
    },
    /// The daemon did not stop.
    #[error("failed to stop the practice cluster (pid {pid})")]
    Stop {
        /// Its pid.
        pid: i32,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The sandbox inside the daemon did not start.
    #[error("failed to serve the practice cluster")]
    Serve(#[source] SandboxError),
    /// Its API could not be reached or refused a request.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The learner's kubeconfig could not be updated.
    #[error(transparent)]
    Kubeconfig(#[from] MergeError),
}

/// The files of a practice cluster, under one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Practice {
    dir: PathBuf,
}

/// What is remembered between starts besides objects and credentials.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Settings {
    port: u16,
    speed: f64,
}

/// A running practice cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// The daemon's pid.
    pub pid: i32,
    /// Its API server URL.
    pub server: String,
    /// When it started (the pid file's time).
    pub since: Option<SystemTime>,
}

/// How to start the daemon.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StartOptions {
    /// The port to listen on (remembered); the remembered one, else a free one, when `None`.
    pub port: Option<u16>,
    /// Simulation speed (remembered); the remembered one, else lifelike, when `None`.
    pub speed: Option<f64>,
}

/// What [`Practice::ensure_running`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensured {
    /// The running daemon.
    pub running: Running,
    /// It was not running and was started now.
    pub started: bool,
}

impl Practice {
    /// The practice cluster kept under kubetutor's state folder.
    pub fn new(state_dir: &Path) -> Self {
        Practice {
            dir: state_dir.join("practice"),
        }
    }

    /// The practice cluster kept in `dir` itself (the daemon is told its folder).
    pub fn at(dir: PathBuf) -> Self {
        Practice { dir }
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its own kubeconfig (the same entries as the ones merged into the learner's).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// Its log file.
    pub fn log(&self) -> PathBuf {
        self.dir.join("sandbox.log")
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }

    fn settings_file(&self) -> PathBuf {
        self.dir.join("practice.json")
    }

    fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn merge_record(&self) -> PathBuf {
        self.dir.join("kubeconfig-merge.json")
    }

    fn settings(&self) -> Option<Settings> {
        let bytes = std::fs::read(self.settings_file()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The server URL it answers at (remembered from its first start).
    pub fn server(&self) -> Option<String> {
        self.settings()
            .filter(|s| s.port != 0)
            .map(|s| format!("https://127.0.0.1:{}", s.port))
    }

    /// The running daemon, if its pid file names a live `serve-practice` process.
    pub fn status(&self) -> Option<Running> {
        let path = self.pid_file();
        let text = std::fs::read_to_string(&path).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        if !is_daemon(pid) {
            return None;
        }
        Some(Running {
            pid,
            server: self.server()?,
            since: std::fs::metadata(&path).and_then(|m| m.modified()).ok(),
        })
    }

    /// How many objects it keeps (read from its saved state: cheap, and a little behind).
    pub fn object_count(&self) -> Option<usize> {
        #[derive(Deserialize)]
        struct Objects {
            objects: Vec<serde::de::IgnoredAny>,
        }
        let bytes = std::fs::read(self.state_file()).ok()?;
        serde_json::from_slice::<Objects>(&bytes)
            .ok()
            .map(|s| s.objects.len())
    }

    /// Starts the daemon unless it runs, and waits until its API answers `/readyz`. A daemon
    /// that died comes back on the same port with the same credentials and objects.
    pub async fn ensure_running(&self, options: StartOptions) -> Result<Ensured, PracticeError> {
        // Owner-only: it holds the cluster's credentials.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&self.dir)
            .map_err(|source| PracticeError::Io {
                action: "create the folder",
                path: self.dir.clone(),
                source,
            })?;
        // One start at a time: a second `run` or `sandbox start` waits, then finds it running.
        let lock = self.lock().await?;
        if let Some(running) = self.status() {
            drop(lock);
            return Ok(Ensured {
                running,
                started: false,
            });
        }
        let running = self.spawn_and_wait(options).await?;
        drop(lock);
        Ok(Ensured {
            running,
            started: true,
        })
    }

    async fn lock(&self) -> Result<std::fs::File, PracticeError> {
        let path = self.dir.join("lock");
        let io = |source| PracticeError::Io {
            action: "lock",
            path: path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|err| io(std::io::Error::other(err)))?
            .map_err(io)
    }

    async fn spawn_and_wait(&self, options: StartOptions) -> Result<Running, PracticeError> {
        let log_path = self.log();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| PracticeError::Io {
                action: "open the log",
                path: log_path.clone(),
                source,
            })?;
        let err_log = log.try_clone().map_err(PracticeError::Spawn)?;
        let exe = std::env::current_exe().map_err(PracticeError::Spawn)?;
        let mut command = Command::new(exe);
        command
            .args(["sandbox", SERVE_WORD, "--dir"])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log);
        if let Some(port) = options.port {
            command.args(["--port", &port.to_string()]);
        }
        if let Some(speed) = options.speed {
            command.args(["--speed", &speed.to_string()]);
        }
        let mut child = command.spawn().map_err(PracticeError::Spawn)?;
        let child_pid = i32::try_from(child.id()).unwrap_or_default();
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return Err(PracticeError::Exited {
                    log_tail: log_tail(&log_path),
                });
            }
            if let Some(running) = self.status().filter(|r| r.pid == child_pid)
                && self.ready().await
            {
                return Ok(running);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(PracticeError::NotReady { log: log_path });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ready(&self) -> bool {
        match self.connect().await {
            Ok(cluster) => cluster
                .request_own(hyper::Method::GET, "/readyz", Vec::new())
                .await
                .is_ok_and(|body| body.trim() == "ok"),
            Err(_) => false,
        }
    }

    /// A client for it through its own kubeconfig.
    pub async fn connect(&self) -> Result<Cluster, ClusterError> {
        connect(ClusterChoice {
            context: Some(CONTEXT.to_owned()),
            kubeconfig: Some(self.kubeconfig()),
        })
        .await
    }

    /// Stops the daemon (SIGTERM, then SIGKILL if it does not exit in time); its folder stays.
    /// Returns the pid stopped, `None` when it was not running.
    pub async fn stop(&self) -> Result<Option<i32>, PracticeError> {
        let Some(running) = self.status() else {
            let _ = std::fs::remove_file(self.pid_file());
            return Ok(None);
        };
        let pid = running.pid;
        signal(pid, rustix::process::Signal::TERM)?;
        let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
        while is_daemon(pid) {
            if tokio::time::Instant::now() >= deadline {
                signal(pid, rustix::process::Signal::KILL)?;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = std::fs::remove_file(self.pid_file());
        Ok(Some(pid))
    }

    /// Stops the daemon and starts it again without its objects (same port and credentials).
    /// Returns whether there were objects to forget.
    pub async fn reset(&self) -> Result<bool, PracticeError> {
        self.stop().await?;
        let state = self.state_file();
        match std::fs::remove_file(&state) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(PracticeError::Io {
                action: "remove the saved objects",
                path: state,
                source,
            }),
        }
    }

    /// Stops the daemon, removes what it added to the learner's kubeconfig, and removes its
    /// folder. Returns the kubeconfig it cleaned, if any.
    pub async fn delete(&self) -> Result<Option<PathBuf>, PracticeError> {
        self.stop().await?;
        let cleaned = match self.merged() {
            Some(merged) => {
                kubeconfig::unmerge_file(&merged)?;
                Some(merged.path)
            }
            None => None,
        };
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(cleaned),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(cleaned),
            Err(source) => Err(PracticeError::Io {
                action: "remove",
                path: self.dir.clone(),
                source,
            }),
        }
    }

    fn merged(&self) -> Option<Merged> {
        let bytes = std::fs::read(self.merge_record()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Merges its context into the learner's kubeconfig (`path`), remembering what to undo.
    pub fn merge_into(&self, path: &Path) -> Result<Merged, PracticeError> {
        let own = self.kubeconfig();
        let ours = std::fs::read_to_string(&own).map_err(|source| PracticeError::Io {
            action: "read",
            path: own,
            source,
        })?;
        let merged = kubeconfig::merge_file(path, &ours, self.merged())?;
        let record = self.merge_record();
        let bytes = serde_json::to_vec_pretty(&merged).unwrap_or_default();
        crate::sandbox::write_private(&record, &bytes).map_err(|source| PracticeError::Io {
            action: "write",
            path: record,
            source,
        })?;
        Ok(merged)
    }

    /// Teaches the running cluster a lesson's images, so its Pods can "pull" them.
    pub async fn teach(&self, cluster: &Cluster, images: &[AppSpec]) -> Result<(), PracticeError> {
        if images.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_vec(images).unwrap_or_default();
        cluster
            .request_own(hyper::Method::POST, LEARN_IMAGES_PATH, body)
            .await?;
        Ok(())
    }

    /// Serves the practice cluster in this process until SIGTERM or SIGINT, or until its pid
    /// file goes (`delete`, or a removed folder): the daemon's body.
    pub async fn serve(&self, options: StartOptions) -> Result<(), PracticeError> {
        // Its own session: the terminal's Ctrl-C and hang-up never reach it.
        let _ = rustix::process::setsid();
        let remembered = self.settings();
        let port = options
            .port
            .or(remembered.map(|s| s.port))
            .unwrap_or_default();
        let speed = options.speed.or(remembered.map(|s| s.speed)).unwrap_or(1.0);
        let config = SandboxConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            kubeconfig: Some(self.kubeconfig()),
            state: Some(self.state_file()),
            speed,
            credentials: Some(self.dir.join("credentials")),
            learned_images: Some(self.dir.join("images.json")),
            ..SandboxConfig::default()
        };
        let stop = CancellationToken::new();
        let signals = spawn_signal_watch(stop.clone())?;
        let sandbox = Sandbox::start(config).await.map_err(PracticeError::Serve)?;
        let settings = Settings {
            port: sandbox.addr().port(),
            speed,
        };
        let write = |path: PathBuf, bytes: &[u8]| {
            crate::sandbox::write_private(&path, bytes).map_err(|source| PracticeError::Io {
                action: "write",
                path,
                source,
            })
        };
        write(
            self.settings_file(),
            &serde_json::to_vec_pretty(&settings).unwrap_or_default(),
        )?;
        let pid = std::process::id().to_string();
        write(self.pid_file(), pid.as_bytes())?;
        println!(
            "practice cluster serving at {} (pid {pid})",
            sandbox.server_url()
        );
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(WATCHDOG_INTERVAL) => {
                    let ours = std::fs::read_to_string(self.pid_file())
                        .is_ok_and(|text| text.trim() == pid);
                    if !ours {
                        println!("the pid file is gone: stopping");
                        break;
                    }
                }
            }
        }
        signals.abort();
        sandbox.shutdown().await;
        if std::fs::read_to_string(self.pid_file()).is_ok_and(|text| text.trim() == pid) {
            let _ = std::fs::remove_file(self.pid_file());
        }
        println!("practice cluster stopped");
        Ok(())
    }
}

/// What a merge means for the learner's kubectl, in one sentence.
pub fn merge_note(merged: &Merged) -> String {
    let mut note = format!(
        "kubectl in every terminal now uses it: context {CONTEXT} in {} is the current context",
        merged.path.display()
    );
    match &merged.previous_context {
        Some(previous) => note.push_str(&format!(
            " (it was {previous}; `kubectl config use-context {previous}` switches back).",
        )),
        None => note.push('.'),
    }
    note
}

/// How to stop or remove it, for the closing lines.
pub const STOP_HINT: &str =
    "`kubetutor sandbox stop` stops it (its objects stay), `kubetutor sandbox delete` removes it";

/// Cancels `stop` on SIGTERM or SIGINT; SIGHUP is ignored (a closed terminal is no reason to
/// stop a cluster other terminals use).
fn spawn_signal_watch(
    stop: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, PracticeError> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind| {
        signal(kind).map_err(|source| PracticeError::Io {
            action: "listen for signals in",
            path: PathBuf::from("/proc/self"),
            source,
        })
    };
    let (mut term, mut int, mut hup) = (
        listen(SignalKind::terminate())?,
        listen(SignalKind::interrupt())?,
        listen(SignalKind::hangup())?,
    );
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => continue,
            }
        }
        stop.cancel();
    }))
}

fn signal(pid: i32, signal: rustix::process::Signal) -> Result<(), PracticeError> {
    let stop_error = |source| PracticeError::Stop { pid, source };
    let target = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| stop_error(std::io::Error::other("not a pid")))?;
    match rustix::process::kill_process(target, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(err) => Err(stop_error(err.into())),
    }
}

/// Whether `pid` is a live (not zombie) `kubetutor sandbox serve-practice` process: a stale
/// pid file after a reboot may name some other program.
fn is_daemon(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    let proc = PathBuf::from(format!("/proc/{pid}"));
    match std::fs::read_to_string(proc.join("stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name, which may hold spaces.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim().chars().next());
            if matches!(state, Some('Z' | 'X') | None) {
                return false;
            }
            std::fs::read(proc.join("cmdline"))
                .map(|cmdline| {
                    cmdline
                        .split(|b| *b == 0)
                        .any(|word| word == SERVE_WORD.as_bytes())
                })
                .unwrap_or(false)
        }
        Err(_) => rustix::process::Pid::from_raw(pid)
            .is_some_and(|p| rustix::process::test_kill_process(p).is_ok()),
    }
}

/// The last few lines of the daemon's log, on one line.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    if tail.is_empty() {
        format!("see {}", path.display())
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_that_is_not_the_daemon_is_not_running() {
        let dir = tempfile::tempdir().expect("temp dir");
        let practice = Practice::new(dir.path());
        assert_eq!(practice.status(), None, "no pid file");
        std::fs::create_dir_all(practice.dir()).expect("dir");
        std::fs::write(practice.settings_file(), r#"{"port": 40000, "speed": 1.0}"#)
            .expect("settings");
        // This test process is alive but is no serve-practice daemon (a reused pid).
        std::fs::write(practice.pid_file(), std::process::id().to_string()).expect("pid");
        assert_eq!(practice.status(), None);
        assert!(!is_daemon(0) && !is_daemon(-1));
        assert_eq!(
            practice.server().as_deref(),
            Some("https://127.0.0.1:40000")
        );
    }

    #[test]
    fn the_log_tail_is_the_last_lines_on_one_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log");
        std::fs::write(&path, "a\nb\n\nc\nd\n").expect("write");
        assert_eq!(log_tail(&path), "b / c / d");
        assert!(log_tail(&dir.path().join("none")).starts_with("see "));
    }
}
