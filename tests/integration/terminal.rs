//! What the user sees on a terminal or a pipe: colour (`--color`, `NO_COLOR`,
//! `CLICOLOR_FORCE`), warnings from kubetutor's log, and errors said once.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::{kubetutor, kubetutor_std};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `kubetutor lint` on a lesson with warnings (exit 0), with extra arguments and environment.
fn lint_output(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = kubetutor();
    cmd.args(args)
        .arg("lint")
        .arg(repo("tests/lessons/bad/warnings.yaml"));
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("kubetutor runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn coloured(text: &str) -> bool {
    text.contains("\u{1b}[")
}

#[test]
fn colour_follows_the_flag_then_no_color_then_clicolor_force_then_the_terminal() {
    // A pipe is plain by default, and coloured when CLICOLOR_FORCE asks.
    assert!(!coloured(&lint_output(&[], &[])));
    assert!(coloured(&lint_output(&[], &[("CLICOLOR_FORCE", "1")])));
    assert!(!coloured(&lint_output(&[], &[("CLICOLOR_FORCE", "0")])));
    // NO_COLOR wins over CLICOLOR_FORCE.
    assert!(!coloured(&lint_output(
        &[],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    )));
    // --color decides alone.
    assert!(coloured(&lint_output(
        &["--color", "always"],
        &[("NO_COLOR", "1")]
    )));
    assert!(!coloured(&lint_output(
        &["--color=never"],
        &[("CLICOLOR_FORCE", "1")]
    )));
    // It is a global flag: after the subcommand too.
    let mut cmd = kubetutor();
    let out = cmd
        .arg("lint")
        .arg(repo("tests/lessons/bad/warnings.yaml"))
        .args(["--color", "always"])
        .output()
        .expect("kubetutor runs");
    assert!(coloured(&String::from_utf8_lossy(&out.stdout)));
}

#[test]
fn errors_on_stderr_are_coloured_like_the_rest() {
    let out = kubetutor()
        .args(["--color", "always", "lint", "nope.yaml"])
        .output()
        .expect("kubetutor runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(coloured(&stderr), "{stderr}");
    assert!(stderr.contains("cannot read `nope.yaml`"), "{stderr}");
}

#[test]
fn a_lesson_that_does_not_load_says_error_once() {
    let bad = repo("tests/lessons/bad/typo-goal.yaml");
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [&["sandbox", "--lesson"][..], &["run", "--no-input"][..]] {
        let out = kubetutor()
            .args(args)
            .arg(&bad)
            .env("HOME", dir.path())
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .output()
            .expect("kubetutor runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error: unknown field `imag`") && stderr.contains("typo-goal.yaml:"),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.matches("error:").count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn a_corrupt_sandbox_state_file_is_set_aside_with_a_warning_on_stderr() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    std::fs::write(&state, "{ this is not JSON").expect("write state");
    let mut child = kubetutor_std()
        .arg("sandbox")
        .arg("--state")
        .arg(&state)
        .arg("--kubeconfig")
        .arg(dir.path().join("kubeconfig"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubetutor sandbox starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    assert!(
        lines.any(|line| line.starts_with("Press Ctrl-C")),
        "the sandbox serves"
    );
    let pid =
        rustix::process::Pid::from_raw(i32::try_from(child.id()).expect("pid")).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let status = child.wait().expect("the sandbox stops");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: the sandbox state was unreadable and was set aside (reason: "),
        "{stderr}"
    );
    let set_aside = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("state.json.corrupt")
        });
    assert!(set_aside, "the corrupt file is kept aside");
}
