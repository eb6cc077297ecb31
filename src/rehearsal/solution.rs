//! Running a step's solution commands: `sh -c` each, with the cluster's kubeconfig, the
//! captured values and a timeout, output captured.
//!
//! A command fails the step when it exits non-zero; authors who expect a failure (a `curl` to
//! a deleted Service) end the command with `|| true`, which the shell already honours.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Where and how solution commands run.
#[derive(Debug, Clone)]
pub struct SolutionEnv {
    /// The kubeconfig of the cluster being checked (its context's namespace is the lesson's).
    pub kubeconfig: PathBuf,
    /// The namespace the lesson works in, exported as `NAMESPACE`.
    pub namespace: String,
    /// How long one command may run.
    pub timeout: Duration,
}

/// One command that ran (or could not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRun {
    /// The command as the lesson wrote it.
    pub command: String,
    /// Why it failed, if it did: exit status, timeout, or a spawn error.
    pub failure: Option<String>,
    /// Its stdout and stderr, interleaved by stream (stdout first).
    pub output: String,
}

/// Runs `commands` in order, stopping at the first failure; returns every run so far.
pub async fn run_solution(
    commands: &[String],
    captured: &BTreeMap<String, String>,
    env: &SolutionEnv,
) -> Vec<CommandRun> {
    let mut runs = Vec::with_capacity(commands.len());
    for command in commands {
        let run = run_one(command, captured, env).await;
        let failed = run.failure.is_some();
        runs.push(run);
        if failed {
            break;
        }
    }
    runs
}

/// The first failure among `runs`, as `` `cmd` failed: why ``.
pub fn first_failure(runs: &[CommandRun]) -> Option<String> {
    runs.iter().find_map(|run| {
        run.failure
            .as_ref()
            .map(|why| format!("solution command `{}` failed: {why}", run.command))
    })
}

/// Where a kubelet's API serves what `kubectl logs`, `exec`, `attach`, `port-forward` and `run`
/// reach through the API server.
const KUBELET_PATHS: [&str; 5] = [
    "/containerLogs/",
    "/exec/",
    "/attach/",
    "/portForward/",
    "/run/",
];
/// How a connection that never got an answer reads in kubectl's and the API server's errors.
const TRANSPORT_FAILURES: [&str; 7] = [
    "dial tcp",
    "EOF",
    "connection refused",
    "connection reset",
    "no route to host",
    "i/o timeout",
    "network is unreachable",
];

/// The first failure among `runs` that only a data plane could have avoided: the API server
/// could not reach the node's kubelet (no kubelet answers, as on a cluster of simulated nodes
/// such as KWOK's), as `` `cmd` needs ... ``. Forbidden upgrades and missing pods are not this.
pub fn data_plane_failure(runs: &[CommandRun]) -> Option<String> {
    let run = runs.iter().find(|run| run.failure.is_some())?;
    let line = run.output.lines().find(|line| {
        let reaches_kubelet = (line.contains("https://")
            && KUBELET_PATHS.iter().any(|path| line.contains(path)))
            || line.contains("error dialing backend")
            || line.contains("unable to upgrade connection");
        reaches_kubelet && TRANSPORT_FAILURES.iter().any(|t| line.contains(t))
    })?;
    Some(format!(
        "`{}` needs a data plane: the API server cannot reach the node's kubelet on this \
         cluster ({})",
        run.command,
        line.trim()
    ))
}

/// The runs as a transcript: `$ command` then its output, for reports.
pub fn transcript(runs: &[CommandRun]) -> String {
    let mut text = String::new();
    for run in runs {
        text.push_str("$ ");
        text.push_str(&run.command);
        text.push('\n');
        text.push_str(&run.output);
        if !run.output.is_empty() && !run.output.ends_with('\n') {
            text.push('\n');
        }
        if let Some(why) = &run.failure {
            text.push_str(&format!("[{why}]\n"));
        }
    }
    text
}

async fn run_one(
    command: &str,
    captured: &BTreeMap<String, String>,
    env: &SolutionEnv,
) -> CommandRun {
    tracing::info!("running `{command}` in namespace {}", env.namespace);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("KUBECONFIG", &env.kubeconfig)
        .env("NAMESPACE", &env.namespace)
        .envs(captured)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group, so a timeout can stop kubectl too, not just the shell.
    cmd.process_group(0);
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => {
            return CommandRun {
                command: command.to_owned(),
                failure: Some(format!("failed to start sh: {err}")),
                output: String::new(),
            };
        }
    };
    // Kills the command's whole group if it is abandoned: on timeout, or when the step is
    // dropped (Ctrl-C), so no kubectl it started outlives the check.
    let mut group = GroupGuard { pid: child.id() };
    match tokio::time::timeout(env.timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            group.pid = None;
            let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&out.stderr));
            let failure = (!out.status.success()).then(|| match out.status.code() {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".to_owned(),
            });
            CommandRun {
                command: command.to_owned(),
                failure,
                output,
            }
        }
        Ok(Err(err)) => CommandRun {
            command: command.to_owned(),
            failure: Some(format!("failed to wait for it: {err}")),
            output: String::new(),
        },
        Err(_) => {
            drop(group);
            CommandRun {
                command: command.to_owned(),
                failure: Some(format!(
                    "still running after {}s",
                    env.timeout.as_secs_f64().ceil()
                )),
                output: String::new(),
            }
        }
    }
}

/// While armed (`pid` set), kills the command's process group when dropped.
struct GroupGuard {
    pid: Option<u32>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            kill_group(pid);
        }
    }
}

/// Kills the command's whole process group (the shell and what it started). The group may be
/// gone already, which is what was wanted.
fn kill_group(pid: u32) {
    use rustix::process::{Pid, Signal, kill_process_group};
    if let Some(group) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process_group(group, Signal::KILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(timeout: Duration) -> SolutionEnv {
        SolutionEnv {
            kubeconfig: PathBuf::from("/nonexistent/kubeconfig"),
            namespace: "lab".to_owned(),
            timeout,
        }
    }

    #[tokio::test]
    async fn commands_see_the_kubeconfig_namespace_and_captures() {
        let captured = BTreeMap::from([("POD".to_owned(), "web-1".to_owned())]);
        let runs = run_solution(
            &["echo $KUBECONFIG $NAMESPACE $POD".to_owned()],
            &captured,
            &env(Duration::from_secs(10)),
        )
        .await;
        assert_eq!(runs[0].output, "/nonexistent/kubeconfig lab web-1\n");
        assert_eq!(runs[0].failure, None);
    }

    #[tokio::test]
    async fn a_failing_command_stops_the_solution_unless_it_ends_with_or_true() {
        let commands = [
            "false || true".to_owned(),
            "echo oops >&2; exit 3".to_owned(),
            "echo never".to_owned(),
        ];
        let runs = run_solution(&commands, &BTreeMap::new(), &env(Duration::from_secs(10))).await;
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].failure, None);
        assert_eq!(runs[1].failure.as_deref(), Some("exit status 3"));
        assert_eq!(
            first_failure(&runs).as_deref(),
            Some("solution command `echo oops >&2; exit 3` failed: exit status 3")
        );
        assert_eq!(
            transcript(&runs),
            "$ false || true\n$ echo oops >&2; exit 3\noops\n[exit status 3]\n"
        );
    }

    fn failed(command: &str, output: &str) -> Vec<CommandRun> {
        vec![CommandRun {
            command: command.to_owned(),
            failure: Some("exit status 1".to_owned()),
            output: output.to_owned(),
        }]
    }

    #[test]
    fn a_kubelet_the_api_server_cannot_reach_is_a_missing_data_plane() {
        // As kube-apiserver 1.37 and kubectl 1.37 print it on a cluster of KWOK nodes.
        for output in [
            "Error from server: Get \"https://172.18.0.3:10250/containerLogs/lab/web-1/web\": dial tcp 172.18.0.3:10250: connect: connection refused\n",
            "error: Internal error occurred: error sending request: Post \"https://172.18.0.4:10250/exec/lab/web-1/web?command=env&error=1&output=1\": unexpected EOF\n",
            "error: error upgrading connection: unable to upgrade connection: unexpected EOF\n",
            "error: error upgrading connection: error dialing backend: dial tcp 10.0.0.1:10250: i/o timeout\n",
        ] {
            let why = data_plane_failure(&failed("kubectl logs web-1", output));
            assert!(
                why.as_deref()
                    .is_some_and(|w| w.starts_with("`kubectl logs web-1` needs a data plane")),
                "{output}: {why:?}"
            );
        }
        // A refusal, a missing object or a plain failure is the lesson's or the cluster's
        // problem, not a missing data plane.
        for output in [
            "error: unable to upgrade connection: Forbidden (user=alice, verb=create, resource=nodes, subresource=proxy)\n",
            "Error from server (NotFound): pods \"web-1\" not found\n",
            "error: dial tcp 127.0.0.1:6443: connect: connection refused\n",
            "",
        ] {
            assert_eq!(
                data_plane_failure(&failed("kubectl exec web-1 -- env", output)),
                None,
                "{output}"
            );
        }
        let passed = vec![CommandRun {
            command: "kubectl logs web-1".to_owned(),
            failure: None,
            output: "Get \"https://x:10250/containerLogs/a/b/c\": EOF".to_owned(),
        }];
        assert_eq!(data_plane_failure(&passed), None);
    }

    #[tokio::test]
    async fn a_command_that_hangs_is_stopped_at_the_timeout() {
        let started = std::time::Instant::now();
        let runs = run_solution(
            &["sleep 30".to_owned()],
            &BTreeMap::new(),
            &env(Duration::from_millis(300)),
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            runs[0]
                .failure
                .as_deref()
                .is_some_and(|f| f.contains("still running")),
            "{runs:?}"
        );
    }

    /// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
    fn ended(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            // `pid (comm) S ...`: the state follows the command name's closing parenthesis.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        }
    }

    #[tokio::test]
    async fn a_timeout_kills_what_the_command_started_too() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pid_file = dir.path().join("pid");
        let command = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let runs = run_solution(
            &[command],
            &BTreeMap::new(),
            &env(Duration::from_millis(500)),
        )
        .await;
        assert!(runs[0].failure.is_some(), "{runs:?}");
        let pid = std::fs::read_to_string(&pid_file).expect("the shell wrote the pid");
        let pid = pid.trim();
        // The kill is sent before the run returns; the kernel may take a moment to finish it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !ended(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "the command's background sleep {pid} outlived the timeout"
            );
            std::thread::yield_now();
        }
    }
}
