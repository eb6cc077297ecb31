//! The practice cluster (`kubetutor sandbox start|stop|status|delete`, and `run` using it):
//! a background sandbox on the same port with the same credentials every time, its context
//! merged into the learner's kubeconfig and removed again. Every test has its own HOME and
//! XDG_STATE_HOME, and a [`Guard`] that stops the daemon whatever happens.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::{kubetutor_std, real_kubectl, text};
use crate::run_json::RunChild;

/// Stops the process whose pid is in a file when dropped (the practice cluster kept under an
/// XDG_STATE_HOME, or any process a test started), so no test leaves one behind, passing or
/// failing.
pub struct Guard {
    pid_file: PathBuf,
}

impl Guard {
    /// Guards the practice cluster under the XDG_STATE_HOME `state`.
    pub fn new(state: &Path) -> Guard {
        Guard::pid_file(state.join("kubetutor/practice/pid"))
    }

    /// Guards the process whose pid `pid_file` holds (when the guard drops).
    pub fn pid_file(pid_file: PathBuf) -> Guard {
        Guard { pid_file }
    }

    /// The daemon's pid, while its pid file names one.
    pub fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            signal(pid, rustix::process::Signal::TERM);
            wait_dead(pid, Duration::from_secs(10));
            signal(pid, rustix::process::Signal::KILL);
        }
    }
}

fn signal(pid: i32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Whether `pid` runs (a zombie, never reaped here, does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.trim().chars().next());
        !matches!(state, Some('Z' | 'X') | None)
    })
}

/// Waits until the practice cluster's saved state holds `needle`: saving lags a fraction of
/// a second behind, and a crash loses only that.
fn wait_saved(home: &Home, needle: &str) {
    let state = home.path().join("state/kubetutor/practice/state.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&state).is_ok_and(|s| s.contains(needle)) {
        assert!(Instant::now() < deadline, "{needle} is saved");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_dead(pid: i32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A learner's machine: HOME (with `~/.kube/config`) and XDG_STATE_HOME in one temp dir.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> (Home, Guard) {
        let dir = tempfile::tempdir().expect("temp dir");
        let guard = Guard::new(&dir.path().join("state"));
        (Home { dir }, guard)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn kube_config(&self) -> PathBuf {
        self.path().join(".kube/config")
    }

    /// `kubetutor ARGS` as the learner types it: no KUBECONFIG unless `env` sets one.
    fn kubetutor(&self, args: &[&str], env: &[(&str, &Path)]) -> (Option<i32>, String) {
        let mut command = kubetutor_std();
        command
            .args(args)
            .env("HOME", self.path())
            .env("XDG_STATE_HOME", self.path().join("state"));
        for (name, value) in env {
            command.env(name, value);
        }
        let out = command.output().expect("kubetutor runs");
        (out.status.code(), text(&out))
    }

    /// The real kubectl with only HOME set, as in a new terminal.
    fn kubectl(&self, kubectl: &Path, args: &[&str]) -> Output {
        Command::new(kubectl)
            .args(args)
            .env_remove("KUBECONFIG")
            .env_remove("KUBECTL_KUBERC")
            .env("HOME", self.path())
            .output()
            .expect("kubectl runs")
    }
}

/// The port in `https://127.0.0.1:PORT` in kubetutor's output.
fn server_in(output: &str) -> String {
    let start = output.find("https://127.0.0.1:").expect("a server URL");
    output[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ')')
        .collect::<String>()
        .trim_end_matches('.')
        .to_owned()
}

#[test]
fn start_status_stop_and_delete_round_trip() {
    let (home, guard) = Home::new();
    let (code, out) = home.kubetutor(&["sandbox", "status"], &[]);
    assert_eq!(code, Some(3), "no practice cluster yet: {out}");
    assert!(out.contains("sandbox start"), "{out}");

    let (code, out) = home.kubetutor(
        &[
            "sandbox",
            "start",
            "--speed",
            "10",
            "--no-kubeconfig-update",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Started the practice cluster kubetutor-sandbox at https://127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains("export KUBECONFIG="), "{out}");
    assert!(!home.kube_config().exists(), "--no-kubeconfig-update");
    let server = server_in(&out);
    let pid = guard.pid().expect("a pid file");

    let (code, out) = home.kubetutor(&["sandbox", "status"], &[]);
    assert_eq!(code, Some(0), "{out}");
    for expected in [
        "is running".to_owned(),
        format!("pid:     {pid}"),
        format!("server:  {server}"),
        "objects: ".to_owned(),
    ] {
        assert!(out.contains(&expected), "{expected}: {out}");
    }
    let (code, out) = home.kubetutor(&["sandbox", "start", "--no-kubeconfig-update"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("already running at {server} (pid {pid})")),
        "{out}"
    );

    let (code, out) = home.kubetutor(&["sandbox", "stop"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(wait_dead(pid, Duration::from_secs(5)), "the daemon exits");
    let (code, out) = home.kubetutor(&["sandbox", "status"], &[]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("is not running"), "{out}");
    let practice = home.path().join("state/kubetutor/practice");
    assert!(
        practice.join("state.json").exists(),
        "stop keeps the objects"
    );

    let (code, out) = home.kubetutor(&["sandbox", "delete"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!practice.exists(), "delete removes the folder: {out}");
}

#[test]
fn a_killed_practice_cluster_comes_back_on_the_same_port_with_the_same_credentials() {
    let Some(kubectl) = real_kubectl() else {
        return;
    };
    let (home, guard) = Home::new();
    let (code, out) = home.kubetutor(&["sandbox", "start", "--speed", "10"], &[]);
    assert_eq!(code, Some(0), "{out}");
    let server = server_in(&out);
    // A client built before the crash: a copy of the kubeconfig as it was.
    let old = home.path().join("old-kubeconfig");
    std::fs::copy(home.kube_config(), &old).expect("copy kubeconfig");
    let old_arg = old.display().to_string();
    let out = home.kubectl(&kubectl, &["create", "configmap", "kept"]);
    assert!(out.status.success(), "{}", text(&out));
    wait_saved(&home, "\"kept\"");

    let pid = guard.pid().expect("a pid file");
    signal(pid, rustix::process::Signal::KILL);
    assert!(wait_dead(pid, Duration::from_secs(5)), "kill -9 kills it");
    let out = home.kubectl(&kubectl, &["--kubeconfig", &old_arg, "get", "ns"]);
    assert!(!out.status.success(), "nothing answers while it is down");
    let (code, out) = home.kubetutor(&["sandbox", "status"], &[]);
    assert_eq!(
        code,
        Some(3),
        "a stale pid file is not a running cluster: {out}"
    );

    let (code, out) = home.kubetutor(&["sandbox", "start"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(server_in(&out), server, "the same port");
    assert_ne!(guard.pid(), Some(pid), "a new process");
    let out = home.kubectl(
        &kubectl,
        &[
            "--kubeconfig",
            &old_arg,
            "get",
            "configmap",
            "kept",
            "-o",
            "name",
        ],
    );
    assert!(
        out.status.success() && text(&out).contains("configmap/kept"),
        "the old kubeconfig (same CA and token) works and the objects are back: {}",
        text(&out)
    );
}

const THEIRS: &str = "\
apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://prod.example.invalid:6443
    insecure-skip-tls-verify: true
  name: prod
- cluster:
    server: https://lab.example.invalid:6443
  name: lab
contexts:
- context:
    cluster: prod
    namespace: web
    user: prod-admin
  name: prod
- context:
    cluster: lab
    user: lab-user
  name: lab
current-context: prod
preferences: {}
users:
- name: prod-admin
  user:
    token: prod-secret
- name: lab-user
  user:
    client-certificate-data: Zm9v
    client-key-data: YmFy
extensions:
- name: x-unknown
  extension:
    keep: me
";

#[test]
fn the_kubeconfig_merge_keeps_other_entries_and_delete_restores_the_file() {
    let Some(kubectl) = real_kubectl() else {
        return;
    };
    let (home, _guard) = Home::new();
    let config = home.path().join("their-config");
    std::fs::write(&config, THEIRS).expect("write kubeconfig");
    let env = [("KUBECONFIG", config.as_path())];
    let (code, out) = home.kubetutor(&["sandbox", "start", "--speed", "10"], &env);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("(it was prod; `kubectl config use-context prod` switches back)"),
        "like kind, the current context switches, and it says how to switch back: {out}"
    );

    let with_config = |args: &[&str]| {
        let out = Command::new(&kubectl)
            .args(args)
            .env("KUBECONFIG", &config)
            .env("HOME", home.path())
            .output()
            .expect("kubectl runs");
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let contexts = with_config(&["config", "get-contexts", "-o", "name"]);
    let mut names: Vec<&str> = contexts.lines().collect();
    names.sort_unstable();
    assert_eq!(names, ["kubetutor-sandbox", "lab", "prod"]);
    assert_eq!(
        with_config(&["config", "current-context"]).trim(),
        "kubetutor-sandbox"
    );
    assert!(with_config(&["get", "ns", "--context", "kubetutor-sandbox"]).contains("kube-system"));
    let merged = std::fs::read_to_string(&config).expect("read kubeconfig");
    for kept in [
        "prod-secret",
        "client-key-data: YmFy",
        "keep: me",
        "namespace: web",
    ] {
        assert!(merged.contains(kept), "{kept} survives:\n{merged}");
    }

    let (code, out) = home.kubetutor(&["sandbox", "delete"], &env);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        std::fs::read_to_string(&config).expect("read kubeconfig"),
        THEIRS,
        "delete leaves the file as it was"
    );
}

/// A lesson that needs no kubectl: a reading step, then a goal that holds at once.
pub fn quiet_lesson(dir: &Path) -> PathBuf {
    let lesson = dir.join("quiet.yaml");
    std::fs::write(
        &lesson,
        "version: 1\ntitle: Quiet\nnamespace: quiet\nsteps:\n  - id: read\n    title: Read\n  \
         - id: none\n    title: Nothing there\n    timeout: 20s\n    goals:\n      - kind: absent\n        \
         target: {apiVersion: v1, kind: ConfigMap, name: nothing}\n",
    )
    .expect("write lesson");
    lesson
}

/// A lesson of one step: make the ConfigMap `marker` in namespace `marker` within `timeout`.
pub fn marker_lesson(dir: &Path, timeout: &str) -> PathBuf {
    let lesson = dir.join("marker.yaml");
    std::fs::write(
        &lesson,
        format!(
            "version: 1\ntitle: Marker\nnamespace: marker\nsteps:\n  - id: make\n    title: Make it\n    \
             timeout: {timeout}\n    goals:\n      - kind: resource\n        \
             target: {{apiVersion: v1, kind: ConfigMap, name: marker}}\n"
        ),
    )
    .expect("write lesson");
    lesson
}

#[test]
fn run_leaves_the_practice_cluster_running_for_a_new_terminal() {
    let Some(kubectl) = real_kubectl() else {
        return;
    };
    let (home, guard) = Home::new();
    let lesson = quiet_lesson(home.path());
    let lesson_arg = lesson.display().to_string();
    let (code, out) = home.kubetutor(&["run", &lesson_arg, "--no-input", "--json"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Started the practice cluster kubetutor-sandbox"),
        "{out}"
    );
    assert!(
        out.contains("keeps running: `kubetutor sandbox stop` stops it"),
        "the closing lines say how to stop it: {out}"
    );
    assert!(guard.pid().is_some_and(alive), "still running after run");
    // A new terminal: only HOME, no KUBECONFIG.
    let out = home.kubectl(&kubectl, &["get", "deployments", "-n", "quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("No resources found in quiet namespace"),
        "{}",
        text(&out)
    );
    // The next run (of the finished lesson, from its first step) finds it through the merged
    // context and says it uses it.
    let (code, out) = home.kubetutor(
        &["run", &lesson_arg, "--no-input", "--json", "--from", "1"],
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Using the practice cluster kubetutor-sandbox"),
        "{out}"
    );
}

#[test]
fn a_practice_cluster_killed_mid_lesson_is_restarted_by_run_and_the_step_passes() {
    let Some(kubectl) = real_kubectl() else {
        return;
    };
    let (home, guard) = Home::new();
    let lesson = marker_lesson(home.path(), "60s");
    let mut command = kubetutor_std();
    command
        .arg("run")
        .arg(&lesson)
        .args(["--sandbox", "--no-input", "--json"])
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"));
    let mut run = RunChild::spawn(command);
    while let Some(event) = run.next() {
        if event["event"] == "step_started" {
            break;
        }
    }
    let pid = guard.pid().expect("run started the practice cluster");
    wait_saved(&home, "\"marker\"");
    signal(pid, rustix::process::Signal::KILL);
    assert!(wait_dead(pid, Duration::from_secs(5)), "kill -9 kills it");
    // run brings it back; the learner's kubectl works again with the same kubeconfig.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = home.kubectl(&kubectl, &["-n", "marker", "create", "configmap", "marker"]);
        if out.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "{}", text(&out));
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut passed = false;
    while let Some(event) = run.next() {
        assert_ne!(event["event"], "step_failed", "{event}");
        if event["event"] == "step_passed" {
            passed = true;
            break;
        }
    }
    assert!(passed, "the step passes on the restarted cluster");
    assert_ne!(guard.pid(), Some(pid), "a new daemon");
    let _ = run.kill();
    let (_, stderr) = run.finish();
    assert!(stderr.contains("the practice cluster stopped"), "{stderr}");
}
