//! The shared test bed: building it, starting and stopping it, and running kubectl and
//! kubetutor against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use libtest_mimic::Failed;

/// `tests/testbed/testbed.sh`.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed/testbed.sh")
}

/// A file of the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Whether this process already runs where `lo` is the only network interface.
pub fn isolated() -> bool {
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        return false;
    };
    let names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names == ["lo"]
}

/// Builds the test bed (a no-op when the cache has it); `Err` says why it cannot be built.
pub fn build() -> Result<(), String> {
    let out = Command::new(script())
        .arg("build")
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|err| format!("cannot run {}: {err}", script().display()))?;
    // The build's progress lines go to stderr; show them (a first build takes minutes).
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("the build failed")
            .trim_start_matches("testbed: ")
            .to_owned())
    }
}

/// Whether the test bed's binaries are in the cache.
pub fn built() -> bool {
    Command::new(script())
        .arg("paths")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// A running test bed and the tools pointed at it.
pub struct Bed {
    dir: tempfile::TempDir,
    /// The admin kubeconfig (context `testbed`, namespace `default`).
    pub kubeconfig: PathBuf,
    /// kubectl 1.37.
    pub kubectl: PathBuf,
}

impl Bed {
    /// Starts the test bed in a fresh folder.
    pub fn up() -> Result<Bed, String> {
        let kubectl = crate::common::real_kubectl().ok_or("kubectl 1.37 is missing")?;
        let dir = tempfile::Builder::new()
            .prefix("kubetutor-testbed-")
            .tempdir()
            .map_err(|err| err.to_string())?;
        let started = Instant::now();
        let out = Command::new(script())
            .arg("up")
            .arg(dir.path().join("bed"))
            .output()
            .map_err(|err| err.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        eprintln!(
            "testbed: up in {:.1} s at {}",
            started.elapsed().as_secs_f64(),
            dir.path().display()
        );
        let kubeconfig = dir.path().join("bed/kubeconfig");
        Ok(Bed {
            dir,
            kubeconfig,
            kubectl,
        })
    }

    /// Stops every process of the test bed.
    pub fn down(&self) {
        let _ = Command::new(script())
            .arg("down")
            .arg(self.dir.path().join("bed"))
            .status();
    }

    /// The last `lines` lines of one component's log (`testbed-node`, `kwok`, ...).
    pub fn log_tail(&self, name: &str, lines: usize) -> String {
        let path = self.dir.path().join("bed/logs").join(format!("{name}.log"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// A folder for one test's files.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("tests").join(name);
        std::fs::create_dir_all(&path).expect("scratch dir");
        path
    }

    /// kubectl against the test bed as its admin, with a private cache under `home`.
    pub fn kubectl_in(&self, home: &Path, kubeconfig: &Path) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.env("KUBECONFIG", kubeconfig)
            .env("HOME", home)
            .env("KUBECACHEDIR", home.join("kubectl-cache"))
            .env_remove("KUBECTL_KUBERC");
        cmd
    }

    /// Runs kubectl as the admin; fails the test with its output when it fails.
    pub fn kubectl_ok(&self, args: &[&str]) -> Result<String, Failed> {
        let home = self.scratch("admin");
        let out = self
            .kubectl_in(&home, &self.kubeconfig)
            .args(args)
            .output()
            .map_err(|err| format!("kubectl runs: {err}"))?;
        ok(args, out)
    }

    /// Creates a namespace for one test (deleting a leftover of an earlier attempt first).
    pub fn namespace(&self, name: &str) -> Result<String, Failed> {
        let _ = self.kubectl_ok(&["delete", "namespace", name, "--ignore-not-found", "--wait"]);
        self.kubectl_ok(&["create", "namespace", name])?;
        // The controller manager gives every namespace its default ServiceAccount.
        wait_until(
            Duration::from_secs(30),
            "the namespace's default ServiceAccount",
            || {
                self.kubectl_ok(&["-n", name, "get", "serviceaccount", "default"])
                    .is_ok()
            },
        )?;
        Ok(name.to_owned())
    }

    /// `kubetutor` with the test bed as its only kubeconfig, HOME and state under `home`.
    pub fn kubetutor(&self, home: &Path) -> Command {
        let mut cmd = crate::common::kubetutor_std();
        let bin = home.join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        match std::os::unix::fs::symlink(&self.kubectl, bin.join("kubectl")) {
            Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => {
                panic!("kubectl link: {err}")
            }
            _ => {}
        }
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", home)
            .env("XDG_STATE_HOME", home.join("state"))
            .env("KUBECACHEDIR", home.join("kubectl-cache"))
            .env("PATH", format!("{}:{path}", bin.display()));
        cmd
    }
}

/// The output of a command that must succeed.
pub fn ok(args: &[&str], out: Output) -> Result<String, Failed> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "kubectl {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        )
        .into())
    }
}

/// Polls `done` every 200 ms until it holds, or fails after `timeout`.
pub fn wait_until(
    timeout: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Result<(), Failed> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if done() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("timed out after {timeout:?} waiting for {what}").into())
}
