//! The exit codes the README documents, one test each, through the real binary: 0 passed,
//! 1 a step or lint problem, 2 usage or lesson error, 3 no cluster to work on, 4 kubetutor
//! could not do its own work. (130 after Ctrl-C is pinned by
//! `check_cmd::ctrl_c_during_a_check_deletes_the_fresh_namespace_and_exits_130`.)

use std::path::{Path, PathBuf};

use crate::common::kubetutor;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut assert_cmd::Command) -> Out {
    let out = cmd
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .expect("kubetutor runs");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A kubeconfig whose only context, `dead`, points at a loopback port nobody listens on.
fn dead_kubeconfig(dir: &Path) -> PathBuf {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: dead\nclusters:\n- name: dead\n  \
             cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\n\
             contexts:\n- name: dead\n  context:\n    cluster: dead\n    user: dead\nusers:\n\
             - name: dead\n  user:\n    token: not-a-real-token\n"
        ),
    )
    .expect("write kubeconfig");
    path
}

#[test]
fn exit_0_when_everything_passes() {
    let out = run(kubetutor().arg("lint").arg(repo("lessons")));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
}

#[test]
fn exit_1_when_lint_finds_errors() {
    let out = run(kubetutor()
        .arg("lint")
        .arg(repo("tests/lessons/bad/semantic.yaml")));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("8 errors"), "{}", out.stdout);
}

#[test]
fn exit_2_for_a_lesson_that_does_not_load_and_for_a_bad_timeout_scale_in_run_and_check() {
    let out = run(kubetutor()
        .args(["run", "--no-input"])
        .arg(repo("tests/lessons/bad/typo-goal.yaml")));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    // The same value is refused the same way by both commands, from the flag or the variable.
    let lesson = repo("tests/lessons/run-basic.yaml");
    let mut refusals = Vec::new();
    for command in ["run", "check"] {
        let flag = run(kubetutor()
            .args([command, "--timeout-scale=-2"])
            .arg(&lesson));
        let env = run(kubetutor()
            .arg(command)
            .arg(&lesson)
            .env("KUBETUTOR_TIMEOUT_SCALE", "-2"));
        for out in [flag, env] {
            assert_eq!(out.code, Some(2), "{command}: {}", out.stderr);
            refusals.push(out.stderr.lines().next().unwrap_or_default().to_owned());
        }
    }
    assert!(
        refusals[0].contains("not a positive number")
            && refusals[0].contains("KUBETUTOR_TIMEOUT_SCALE"),
        "{refusals:?}"
    );
    assert!(refusals.iter().all(|r| *r == refusals[0]), "{refusals:?}");
}

#[test]
fn exit_3_when_the_context_does_not_answer_in_run_and_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dead_kubeconfig(dir.path());
    let lesson = repo("tests/lessons/run-basic.yaml");
    for command in [&["run", "--no-input"][..], &["check"][..]] {
        let out = run(kubetutor()
            .args(command)
            .args(["--context", "dead"])
            .arg(&lesson)
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", dir.path())
            .env("XDG_STATE_HOME", dir.path().join("state")));
        assert_eq!(out.code, Some(3), "{command:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("error: context dead does not answer at https://127.0.0.1:"),
            "{command:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn exit_4_when_kubetutor_cannot_read_its_own_state() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The state folder is a file: progress can be neither read nor written.
    let state = dir.path().join("state");
    std::fs::write(&state, "not a folder").expect("write");
    let out = run(kubetutor()
        .args(["run", "--no-input", "--sandbox"])
        .arg(repo("tests/lessons/run-basic.yaml"))
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", &state));
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: failed to read progress file"),
        "{}",
        out.stderr
    );
}
