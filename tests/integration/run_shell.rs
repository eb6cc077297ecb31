//! `kubetutor shell` in one tmux window beside `kubetutor run` in another: the learner's own
//! rc file is sourced, captured values are exported, and a reading step passes on the
//! commands the shell ran, never on what is typed in the runner's window.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::real_kubectl;
use crate::run_pty::Tmux;

fn shell_lesson() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lessons/run-shell.yaml")
}

fn kubetutor_bin() -> String {
    assert_cmd::cargo::cargo_bin("kubetutor")
        .display()
        .to_string()
}

/// The command of a tmux window running `kubetutor shell` as `shell`, in the test's home.
fn shell_window(home: &Path, shell: &str) -> String {
    format!(
        "env HOME={0} XDG_STATE_HOME={0}/state KUBECONFIG={0}/kubeconfig KUBECACHEDIR={0}/cache PATH={0}/bin:{1} SHELL={shell} {2} shell",
        home.display(),
        std::env::var("PATH").unwrap_or_default(),
        kubetutor_bin()
    )
}

/// A home whose rc files define the marker alias `ktmarker`, with kubectl on `bin/`.
fn home_with_rc_files(kubectl: Option<&Path>) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("temp dir");
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    if let Some(kubectl) = kubectl {
        std::os::unix::fs::symlink(kubectl, bin.join("kubectl")).expect("link kubectl");
    }
    // Debian's default bashrc ignores lines starting with a space: the hook must see them.
    std::fs::write(
        home.path().join(".bashrc"),
        "HISTCONTROL=ignoreboth\nalias ktmarker='echo RC-SOURCED-$((6*7))'\n",
    )
    .expect("bashrc");
    std::fs::write(
        home.path().join(".zshrc"),
        "alias ktmarker='echo RC-SOURCED-$((6*7))'\n",
    )
    .expect("zshrc");
    home
}

#[test]
fn a_reading_step_passes_on_the_connected_shells_commands_not_on_typing_in_the_runner() {
    let Some(kubectl) = real_kubectl() else {
        return;
    };
    let home = home_with_rc_files(Some(&kubectl));
    let Some(tmux) = Tmux::start(home.path()) else {
        return;
    };
    let shell = "main:shell";
    tmux.line(&format!(
        "clear; {} run {} --sandbox; echo EXIT:$?",
        kubetutor_bin(),
        shell_lesson().display()
    ));
    tmux.wait_for("Step 1/3 · Create the deployment");
    tmux.wait_for("run kubetutor shell in another terminal");

    tmux.window("shell", &shell_window(home.path(), "/bin/bash"));
    tmux.wait_in(
        shell,
        "Connected to Connected shell (context kubetutor-sandbox, namespace run-shell)",
    );
    tmux.wait_for("A terminal connected (kubetutor shell, pid");
    tmux.line_in(shell, "ktmarker");
    tmux.wait_in(shell, "RC-SOURCED-42");
    assert!(
        tmux.screen_of(shell).contains("(kubetutor) "),
        "the prompt is marked"
    );

    tmux.line_in(
        shell,
        "kubectl create deployment web --image=example/web:v1",
    );
    tmux.wait_for("✔ Step 1/3 passed");
    tmux.wait_for("Step 2/3 · Look at the Pod");

    // Typed into the runner's window by mistake: the step waits for the connected shell.
    tmux.line("kubectl get pods");
    let screen = tmux.wait_for("This window only takes keys");
    assert!(!screen.contains("Step 2/3 passed"), "{screen}");

    // The value captured by step 1 is exported in the shell, no pasting needed.
    tmux.line_in(shell, "echo \"pod=[$POD]\"");
    tmux.wait_in(shell, "pod=[web-");

    tmux.line_in(shell, "kubectl get po --no-headers");
    let screen = tmux.wait_for("✔ kubectl get pods");
    assert!(
        !screen.contains("Step 2/3 passed"),
        "one of two is seen: {screen}"
    );
    // A leading space keeps the line out of history (HISTCONTROL); it counts all the same.
    tmux.line_in(
        shell,
        " kubectl describe pods \"$POD\" -n run-shell | head -n 1",
    );
    tmux.wait_for("✔ kubectl describe pod");
    tmux.wait_for("✔ Step 2/3 passed");
    tmux.wait_for("Step 3/3 · Done");
    tmux.keys_in("main:0", &["Enter"]);
    tmux.wait_for("Lesson complete");
    tmux.wait_for("EXIT:0");
    tmux.line_in(shell, "exit");
}

#[test]
fn with_no_lesson_running_the_shell_points_at_the_context_and_reports_commands() {
    let mut shells = vec!["/bin/bash".to_owned()];
    match which("zsh") {
        Some(zsh) => shells.push(zsh),
        None => {
            eprintln!("\n!!!!!!!! SKIPPING the zsh half of a shell test: zsh is not installed.\n")
        }
    }
    for shell in shells {
        let home = home_with_rc_files(None);
        std::fs::write(
            home.path().join("kubeconfig"),
            "apiVersion: v1\nkind: Config\ncurrent-context: practice\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:9'}\nusers:\n- name: u\n  user: {token: not-shown}\ncontexts:\n- name: practice\n  context: {cluster: c, user: u}\n- name: other\n  context: {cluster: c, user: u}\n",
        )
        .expect("kubeconfig");
        let Some(tmux) = Tmux::start(home.path()) else {
            return;
        };
        tmux.window(
            "shell",
            &format!("{} --namespace demo", shell_window(home.path(), &shell)),
        );
        let target = "main:shell";
        let screen = tmux.wait_in(target, "No lesson is connected");
        assert!(
            screen.contains("context practice, namespace demo"),
            "{shell}: {screen}"
        );
        assert!(
            !screen.contains("not-shown"),
            "the token is never printed: {screen}"
        );
        tmux.line_in(target, "ktmarker");
        tmux.wait_in(target, "RC-SOURCED-42");
        tmux.line_in(target, "grep -c 'namespace: demo' \"$KUBECONFIG\"; false");
        let commands = home.path().join("state/kubetutor/session/commands.jsonl");
        let lines = wait_for_lines(&commands, 2);
        let last: serde_json::Value = serde_json::from_str(&lines[1]).expect("a JSON line");
        assert_eq!(
            last["command"], "grep -c 'namespace: demo' \"$KUBECONFIG\"; false",
            "{shell}"
        );
        assert_eq!(last["exit"], 1, "{shell}");
        assert!(lines[0].contains("\"exit\":0"), "{shell}: {lines:?}");
        tmux.wait_in(target, "\n1\n");
        let registered = home.path().join("state/kubetutor/session/shells");
        assert_eq!(std::fs::read_dir(&registered).expect("shells").count(), 1);
        tmux.line_in(target, "exit");
        wait_until(|| std::fs::read_dir(&registered).is_ok_and(|d| d.count() == 0));
    }
}

fn which(program: &str) -> Option<String> {
    std::env::var("PATH").ok()?.split(':').find_map(|dir| {
        let path = Path::new(dir).join(program);
        path.exists().then(|| path.display().to_string())
    })
}

fn wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "the condition never held");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_for_lines(path: &Path, count: usize) -> Vec<String> {
    wait_until(|| std::fs::read_to_string(path).is_ok_and(|text| text.lines().count() >= count));
    let text = std::fs::read_to_string(path).expect("commands file");
    text.lines().map(str::to_owned).collect()
}
