//! The sandbox driven by the real kubectl 1.37: what the seed tutorial's transcripts show.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kubetutor::sandbox::{Sandbox, SandboxConfig};

use crate::common::real_kubectl;

/// A started sandbox plus a kubectl wired to it through a private HOME and cache.
pub struct Cluster {
    pub sandbox: Sandbox,
    kubectl: PathBuf,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts a sandbox with `images`, or `None` (loudly) when the real kubectl is missing.
    pub async fn start(images: Vec<kubetutor::lesson::model::ImageSpec>) -> Option<Cluster> {
        let kubectl = real_kubectl()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let config = SandboxConfig {
            kubeconfig: Some(dir.path().join("kubeconfig")),
            images,
            speed: 20.0,
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::start(config).await.expect("sandbox starts");
        Some(Cluster { sandbox, kubectl, dir })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs kubectl with `args`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.kubectl)
            .args(args)
            .env("KUBECONFIG", self.sandbox.kubeconfig_path())
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env("HOME", self.dir.path())
            .env_remove("KUBECTL_KUBERC")
            .output()
            .expect("kubectl runs")
    }

    /// Runs kubectl and returns stdout, failing the test with stderr when it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "kubectl {} should fail but printed {}", args.join(" "), String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Polls `kubectl args` until `pred` holds on its stdout, or panics after `timeout`.
    pub fn wait_for(&self, args: &[&str], timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let out = self.run(args);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() && pred(&text) {
                return text;
            }
            assert!(start.elapsed() < timeout, "timed out waiting on kubectl {}: last output:\n{text}\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The first whitespace-separated columns of `name`'s row in a `kubectl get` table.
pub fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_discovery_and_namespaces() {
    let Some(c) = Cluster::start(Vec::new()).await else { return };
    let version = c.ok(&["version", "-o", "json"]);
    assert!(version.contains("\"gitVersion\": \"v1.37"), "{version}");
    let raw = c.ok(&["get", "--raw", "/version"]);
    assert!(raw.contains("v1.37"), "{raw}");
    let resources = c.ok(&["api-resources"]);
    for line in ["deployments", "deploy", "replicasets", "endpointslices", "configmaps"] {
        assert!(resources.contains(line), "api-resources lacks {line}:\n{resources}");
    }
    let ns = c.ok(&["get", "namespaces"]);
    assert!(ns.starts_with("NAME"), "{ns}");
    assert_eq!(row(&ns, "default").get(1), Some(&"Active"), "{ns}");
    c.ok(&["create", "namespace", "lesson"]);
    let ns = c.ok(&["get", "ns", "lesson"]);
    assert_eq!(row(&ns, "lesson").get(1), Some(&"Active"), "{ns}");
    let err = c.fails(&["create", "namespace", "lesson"]);
    assert!(err.contains("AlreadyExists") || err.contains("already exists"), "{err}");
    let err = c.fails(&["get", "namespace", "nope"]);
    assert!(err.contains("namespaces \"nope\" not found"), "{err}");
    c.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmaps_create_label_patch_delete() {
    let Some(c) = Cluster::start(Vec::new()).await else { return };
    c.ok(&["create", "configmap", "settings", "--from-literal=color=blue", "--from-literal=size=2"]);
    let table = c.ok(&["get", "cm"]);
    assert_eq!(row(&table, "settings").get(1), Some(&"2"), "{table}");
    c.ok(&["label", "configmap", "settings", "tier=web"]);
    let labelled = c.ok(&["get", "configmaps", "-l", "tier=web", "-o", "name"]);
    assert_eq!(labelled.trim(), "configmap/settings");
    let shown = c.ok(&["get", "cm", "--show-labels"]);
    assert!(shown.contains("tier=web"), "{shown}");
    c.ok(&["patch", "configmap", "settings", "--type=merge", "-p", r#"{"data":{"color":"red"}}"#]);
    c.ok(&["patch", "configmap", "settings", "--type=json", "-p", r#"[{"op":"remove","path":"/data/size"}]"#]);
    let color = c.ok(&["get", "cm", "settings", "-o", "jsonpath={.data.color}/{.data.size}"]);
    assert_eq!(color, "red/");
    let yaml = c.ok(&["get", "cm", "settings", "-o", "yaml"]);
    assert!(yaml.contains("resourceVersion"), "{yaml}");
    let desc = c.ok(&["describe", "configmap", "settings"]);
    assert!(desc.contains("tier=web") && desc.contains("color"), "{desc}");
    c.ok(&["delete", "configmap", "settings"]);
    let err = c.fails(&["get", "cm", "settings"]);
    assert!(err.contains("not found"), "{err}");
    c.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_client_and_server_side() {
    let Some(c) = Cluster::start(Vec::new()).await else { return };
    let manifest = c.dir().join("cm.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  labels:\n    app: demo\ndata:\n  a: \"1\"\n").expect("write manifest");
    let path = manifest.to_str().expect("utf-8 path");
    let out = c.ok(&["apply", "-f", path]);
    assert!(out.contains("configmap/applied created"), "{out}");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  labels:\n    app: demo\ndata:\n  a: \"2\"\n").expect("write manifest");
    let out = c.ok(&["apply", "-f", path]);
    assert!(out.contains("configmap/applied configured"), "{out}");
    assert_eq!(c.ok(&["get", "cm", "applied", "-o", "jsonpath={.data.a}"]), "2");
    let out = c.ok(&["apply", "--server-side", "-f", path]);
    assert!(out.contains("serverside-applied"), "{out}");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  b: \"3\"\n").expect("write manifest");
    let out = c.ok(&["apply", "--server-side", "-f", path]);
    assert!(out.contains("configmap/ssa serverside-applied"), "{out}");
    assert_eq!(c.ok(&["get", "cm", "ssa", "-o", "jsonpath={.data.b}"]), "3");
    let out = c.ok(&["apply", "--dry-run=server", "-f", path]);
    assert!(out.contains("(server dry run)"), "{out}");
    c.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_status_objects() {
    let Some(c) = Cluster::start(Vec::new()).await else { return };
    let err = c.fails(&["get", "deployment", "ghost"]);
    assert!(err.contains("deployments.apps \"ghost\" not found"), "{err}");
    let err = c.fails(&["create", "deployment", "Bad_Name", "--image=nginx"]);
    assert!(err.contains("Invalid value") && err.contains("RFC 1123"), "{err}");
    let err = c.fails(&["get", "pods", "-l", "a in (b"]);
    assert!(!err.is_empty());
    let err = c.fails(&["get", "widgets"]);
    assert!(err.contains("the server doesn't have a resource type \"widgets\""), "{err}");
    c.sandbox.shutdown().await;
}
