//! A private tmux server for tests that drive a real terminal: the runner's screen, a
//! connected shell, a proxy in another window.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A private tmux server with one 120x40 shell window (and more on request).
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(dir: &Path) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("\n!!!!!!!! SKIPPING a PTY test: tmux is not installed.\n");
            return None;
        }
        // One private server per test: tests run in parallel in one process.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmux = Tmux {
            socket: format!("kubetutor-pty-{}-{n}", std::process::id()),
        };
        let out = tmux.cmd(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "120",
            "-y",
            "40",
            "bash --norc --noprofile",
        ]);
        assert!(out.status.success(), "tmux starts: {out:?}");
        tmux.line(&format!(
            "export PS1='$ ' HOME={0} XDG_STATE_HOME={0}/state KUBECONFIG={0}/kubeconfig; unset NO_COLOR CI",
            dir.display()
        ));
        Some(tmux)
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// A second window `name` running `command`, in the background (`main` stays the first).
    pub fn window(&self, name: &str, command: &str) {
        let out = self.cmd(&["new-window", "-d", "-t", "main", "-n", name, command]);
        assert!(out.status.success(), "tmux opens a window: {out:?}");
    }

    pub fn keys(&self, keys: &[&str]) {
        self.keys_in("main:0", keys);
    }

    pub fn keys_in(&self, target: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", target];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success());
    }

    pub fn line(&self, text: &str) {
        self.line_in("main:0", text);
    }

    pub fn line_in(&self, target: &str, text: &str) {
        self.keys_in(target, &["-l", text]);
        self.keys_in(target, &["Enter"]);
    }

    pub fn screen(&self) -> String {
        self.screen_of("main:0")
    }

    pub fn screen_of(&self, target: &str) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", target]).stdout)
            .into_owned()
    }

    pub fn wait_for(&self, text: &str) -> String {
        self.wait_in("main:0", text)
    }

    pub fn wait_in(&self, target: &str, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let screen = self.screen_of(target);
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {text:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}
