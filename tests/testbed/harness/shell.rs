//! A connected terminal on the real control plane: `kubetutor run --context testbed` in one
//! tmux window, `kubetutor shell` in another; the reading step passes on the shell's commands,
//! and the value captured from the real API is exported there.

use libtest_mimic::Failed;

use crate::Test;
use crate::bed::{Bed, repo};
use crate::support::tmux::Tmux;

pub fn tests() -> Vec<Test> {
    vec![Test {
        name: "shell::a_reading_step_passes_on_the_connected_shells_commands",
        run: reading_step_passes_on_the_shells_commands,
    }]
}

fn reading_step_passes_on_the_shells_commands(bed: &Bed) -> Result<(), Failed> {
    let home = bed.scratch("shell");
    bed.namespace("run-shell")?;
    // Links kubectl under home/bin, where the windows' PATH looks first.
    let _ = bed.kubetutor(&home);
    std::fs::copy(&bed.kubeconfig, home.join("kubeconfig"))?;
    let Some(tmux) = Tmux::start(&home) else {
        return Err("tmux is missing".into());
    };
    let kubetutor = assert_cmd::cargo::cargo_bin("kubetutor");
    let path = format!(
        "{}:{}",
        home.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    tmux.line(&format!(
        "export PATH={path} KUBECACHEDIR={0}/cache; clear; {1} run {2} --context testbed --yes; echo \"EXIT$((6*7)):$?\"",
        home.display(),
        kubetutor.display(),
        repo("tests/lessons/run-shell.yaml").display()
    ));
    tmux.wait_for("Step 1/3 · Create the deployment");
    let shell = "main:shell";
    tmux.window(
        "shell",
        &format!(
            "env HOME={0} XDG_STATE_HOME={0}/state KUBECONFIG={0}/kubeconfig KUBECACHEDIR={0}/cache PATH={path} SHELL=/bin/bash {1} shell",
            home.display(),
            kubetutor.display()
        ),
    );
    tmux.wait_for("A terminal connected (kubetutor shell");
    tmux.line_in(
        shell,
        "kubectl create deployment web --image=example/web:v1",
    );
    tmux.wait_for("✔ Step 1/3 passed");
    tmux.wait_for("Step 2/3 · Look at the Pod");
    // Enter alone waits for the connected terminal.
    tmux.keys_in("main:0", &["Enter"]);
    let screen = tmux.wait_for("This step passes when your connected terminal has run");
    if screen.contains("Step 2/3 passed") {
        return Err(format!("Enter passed a step waiting for commands:\n{screen}").into());
    }
    tmux.line_in(shell, "echo \"pod=[$POD]\"");
    tmux.wait_in(shell, "pod=[web-");
    tmux.line_in(shell, "kubectl get pods");
    tmux.line_in(shell, "kubectl describe pods \"$POD\"");
    tmux.wait_for("✔ Step 2/3 passed");
    tmux.wait_for("Step 3/3 · Done");
    tmux.keys_in("main:0", &["Enter"]);
    let screen = tmux.wait_for("EXIT42:");
    if !screen.contains("EXIT42:0") {
        return Err(format!("the run ends well:\n{screen}").into());
    }
    tmux.line_in(shell, "exit");
    Ok(())
}
