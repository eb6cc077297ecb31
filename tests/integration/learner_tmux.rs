//! The whole Part 3 lesson as a learner follows it, in tmux: `kubetutor run` in one window,
//! a connected terminal (`kubetutor shell`) in a second where every command is typed, and
//! `kubectl proxy` in a third. Reading steps pass only once their commands ran; after the
//! lesson the practice cluster still answers a new terminal with no `KUBECONFIG`, and after it
//! is killed and started again the proxy started long before still works.

use std::path::{Path, PathBuf};

use crate::common::real_kubectl;
use crate::practice::Guard;
use crate::run_pty::Tmux;
use crate::support::learner::part3_tutorial_commands;

fn kubetutor_bin() -> String {
    assert_cmd::cargo::cargo_bin("kubetutor")
        .display()
        .to_string()
}

fn lesson_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/part3-deploy-a-simple-app.yaml")
}

/// A tmux window's command: a plain bash in the test's home, kubectl on `PATH`, and no
/// `KUBECONFIG`, as a terminal the learner opens themselves.
fn terminal(home: &Path) -> String {
    format!(
        "env -u KUBECONFIG HOME={0} XDG_STATE_HOME={0}/state KUBECACHEDIR={0}/cache PATH={0}/bin:{1} SHELL=/bin/bash bash --norc --noprofile",
        home.display(),
        std::env::var("PATH").unwrap_or_default(),
    )
}

/// The commands the learner types in the connected terminal for a reading step: the
/// tutorial's, with the captured `$POD_NAME` the shell has exported.
fn reading_commands(step: &str) -> Vec<&'static str> {
    match step {
        "look-around" => vec!["kubectl get pods", "kubectl get deployments"],
        "proxy" => vec!["curl -s http://localhost:8001/version"],
        "describe" => vec!["kubectl describe pods", "kubectl get namespace"],
        "logs" => vec!["kubectl logs $POD_NAME"],
        "exec" => vec![
            "kubectl exec $POD_NAME -- env",
            "printf 'ls\\nexit\\n' | kubectl exec -i $POD_NAME -- bash",
        ],
        "load-balancing" => vec![
            "kubectl describe services/hello-part3",
            "curl -s $ENDPOINT:$NODE_PORT",
        ],
        "verify-update" => vec![
            "kubectl rollout status deployments/hello-part3",
            "curl -s $ENDPOINT:$NODE_PORT",
        ],
        other => panic!("no commands for the reading step {other}"),
    }
}

#[test]
fn the_part3_lesson_with_a_connected_shell_and_a_proxy_then_a_new_terminal_and_a_restart() {
    let Some(kubectl) = real_kubectl() else {
        return;
    };
    let home = tempfile::tempdir().expect("temp dir");
    let _practice = Guard::new(&home.path().join("state"));
    let proxy_pid = home.path().join("proxy.pid");
    let _proxy = Guard::pid_file(proxy_pid.clone());
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::os::unix::fs::symlink(&kubectl, bin.join("kubectl")).expect("link kubectl");
    let Some(tmux) = Tmux::start(home.path()) else {
        return;
    };
    let lesson: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(lesson_file()).expect("the lesson"))
            .expect("the lesson parses");
    let steps = lesson["steps"].as_sequence().expect("steps").clone();
    let total = steps.len();

    // A fast practice cluster (the hidden speed is for tests), then the lesson on it.
    tmux.line(&format!(
        "unset KUBECONFIG; {0} sandbox start --speed 20 && clear && {0} run {1} --sandbox; echo EXIT:$?",
        kubetutor_bin(),
        lesson_file().display()
    ));
    tmux.wait_for("run kubetutor shell in another terminal");

    let shell = "main:shell";
    tmux.window("shell", &terminal(home.path()));
    tmux.line_in(shell, &format!("exec {} shell", kubetutor_bin()));
    tmux.wait_for("A terminal connected (kubetutor shell");

    let mut first_reading = true;
    for (index, step) in steps.iter().enumerate() {
        let id = step["id"].as_str().expect("id");
        let title = step["title"].as_str().expect("title");
        let number = index + 1;
        tmux.wait_for(&format!("Step {number}/{total} · {title}"));
        let passed = format!("Step {number}/{total} passed");
        let reading = step["goals"].as_sequence().is_none_or(Vec::is_empty);
        if reading {
            assert!(
                step["expect"].as_sequence().is_some_and(|e| !e.is_empty()),
                "every reading step of Part 3 expects commands: {id}"
            );
            if first_reading {
                // With a terminal connected, Enter does not pass a step that waits for its
                // commands.
                first_reading = false;
                tmux.keys_in("main:0", &["Enter"]);
                let screen = tmux.wait_for("This step passes when your connected terminal has run");
                assert!(!screen.contains(&passed), "{screen}");
            }
            if id == "proxy" {
                let proxy = "main:proxy";
                tmux.window("proxy", &terminal(home.path()));
                tmux.line_in(proxy, &format!("exec {} shell", kubetutor_bin()));
                tmux.wait_in(proxy, "(kubetutor)");
                // Its pid, for the guard: a tmux server's end does not stop it.
                tmux.line_in(
                    proxy,
                    &format!(
                        "kubectl proxy -p 8001 & echo $! > {}; fg",
                        proxy_pid.display()
                    ),
                );
                tmux.wait_in(proxy, "Starting to serve on 127.0.0.1:8001");
            }
            for command in reading_commands(id) {
                tmux.line_in(shell, command);
            }
        } else {
            for command in part3_tutorial_commands(id) {
                tmux.line_in(shell, &command);
            }
        }
        tmux.wait_for(&passed);
    }
    let screen = tmux.wait_for("EXIT:0");
    assert!(
        screen.contains(&format!(
            "{total} passed, 0 skipped, 0 to go of {total} steps"
        )),
        "{screen}"
    );

    // A new terminal, no KUBECONFIG: the practice cluster still answers.
    let later = "main:later";
    tmux.window("later", &terminal(home.path()));
    // The markers are computed by the shell, so the typed line itself never matches them.
    tmux.line_in(later, "kubectl get deployments; echo \"GOT$((6*7)):$?\"");
    let screen = tmux.wait_in(later, "GOT42:");
    assert!(
        screen.contains("hello-part3") && screen.contains("GOT42:0"),
        "{screen}"
    );

    // Killed (as by a crash) and started again: the same port and credentials, so the proxy
    // started in the third terminal before all this still works.
    let pid = std::fs::read_to_string(home.path().join("state/kubetutor/practice/pid"))
        .expect("the practice cluster's pid file");
    tmux.line_in(
        later,
        &format!(
            "clear; kill -9 {} && {} sandbox start && echo \"RESTARTED$((6*7))\"",
            pid.trim(),
            kubetutor_bin()
        ),
    );
    tmux.wait_in(later, "RESTARTED42");
    tmux.line_in(
        later,
        "curl -s localhost:8001/apis/apps/v1/namespaces/default/deployments | grep -c '\"name\": \"hello-part3\"'; echo \"PROXY$((6*7)):$?\"",
    );
    let screen = tmux.wait_in(later, "PROXY42:");
    assert!(screen.contains("PROXY42:0"), "{screen}");
}
