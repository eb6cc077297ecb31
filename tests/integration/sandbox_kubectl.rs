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
            images: images.iter().map(Into::into).collect(),
            speed: 20.0,
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::start(config).await.expect("sandbox starts");
        Some(Cluster {
            sandbox,
            kubectl,
            dir,
        })
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

    /// Runs kubectl with `input` on its stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new(&self.kubectl)
            .args(args)
            .env("KUBECONFIG", self.sandbox.kubeconfig_path())
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env("HOME", self.dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("kubectl output")
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
        assert!(
            !out.status.success(),
            "kubectl {} should fail but printed {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Polls `kubectl args` until `pred` holds on its stdout, or panics after `timeout`.
    pub fn wait_for(
        &self,
        args: &[&str],
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let start = Instant::now();
        loop {
            let out = self.run(args);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() && pred(&text) {
                return text;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting on kubectl {}: last output:\n{text}\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
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
    let Some(c) = Cluster::start(Vec::new()).await else {
        return;
    };
    let version = c.ok(&["version", "-o", "json"]);
    assert!(version.contains("\"gitVersion\": \"v1.37"), "{version}");
    let raw = c.ok(&["get", "--raw", "/version"]);
    assert!(raw.contains("v1.37"), "{raw}");
    let resources = c.ok(&["api-resources"]);
    for line in [
        "deployments",
        "deploy",
        "replicasets",
        "endpointslices",
        "configmaps",
    ] {
        assert!(
            resources.contains(line),
            "api-resources lacks {line}:\n{resources}"
        );
    }
    let ns = c.ok(&["get", "namespaces"]);
    assert!(ns.starts_with("NAME"), "{ns}");
    assert_eq!(row(&ns, "default").get(1), Some(&"Active"), "{ns}");
    c.ok(&["create", "namespace", "lesson"]);
    let ns = c.ok(&["get", "ns", "lesson"]);
    assert_eq!(row(&ns, "lesson").get(1), Some(&"Active"), "{ns}");
    let err = c.fails(&["create", "namespace", "lesson"]);
    assert!(
        err.contains("AlreadyExists") || err.contains("already exists"),
        "{err}"
    );
    let err = c.fails(&["get", "namespace", "nope"]);
    assert!(err.contains("namespaces \"nope\" not found"), "{err}");
    c.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmaps_create_label_patch_delete() {
    let Some(c) = Cluster::start(Vec::new()).await else {
        return;
    };
    c.ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=color=blue",
        "--from-literal=size=2",
    ]);
    let table = c.ok(&["get", "cm"]);
    assert_eq!(row(&table, "settings").get(1), Some(&"2"), "{table}");
    c.ok(&["label", "configmap", "settings", "tier=web"]);
    let labelled = c.ok(&["get", "configmaps", "-l", "tier=web", "-o", "name"]);
    assert_eq!(labelled.trim(), "configmap/settings");
    let shown = c.ok(&["get", "cm", "--show-labels"]);
    assert!(shown.contains("tier=web"), "{shown}");
    c.ok(&[
        "patch",
        "configmap",
        "settings",
        "--type=merge",
        "-p",
        r#"{"data":{"color":"red"}}"#,
    ]);
    c.ok(&[
        "patch",
        "configmap",
        "settings",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/data/size"}]"#,
    ]);
    let color = c.ok(&[
        "get",
        "cm",
        "settings",
        "-o",
        "jsonpath={.data.color}/{.data.size}",
    ]);
    assert_eq!(color, "red/");
    let yaml = c.ok(&["get", "cm", "settings", "-o", "yaml"]);
    assert!(yaml.contains("resourceVersion"), "{yaml}");
    let desc = c.ok(&["describe", "configmap", "settings"]);
    assert!(
        desc.contains("tier=web") && desc.contains("color"),
        "{desc}"
    );
    c.ok(&["delete", "configmap", "settings"]);
    let err = c.fails(&["get", "cm", "settings"]);
    assert!(err.contains("not found"), "{err}");
    c.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_client_and_server_side() {
    let Some(c) = Cluster::start(Vec::new()).await else {
        return;
    };
    let manifest = c.dir().join("cm.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  labels:\n    app: demo\ndata:\n  a: \"1\"\n").expect("write manifest");
    let path = manifest.to_str().expect("utf-8 path");
    let out = c.ok(&["apply", "-f", path]);
    assert!(out.contains("configmap/applied created"), "{out}");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  labels:\n    app: demo\ndata:\n  a: \"2\"\n").expect("write manifest");
    let out = c.ok(&["apply", "-f", path]);
    assert!(out.contains("configmap/applied configured"), "{out}");
    assert_eq!(
        c.ok(&["get", "cm", "applied", "-o", "jsonpath={.data.a}"]),
        "2"
    );
    let out = c.ok(&["apply", "--server-side", "-f", path]);
    assert!(out.contains("serverside-applied"), "{out}");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  b: \"3\"\n",
    )
    .expect("write manifest");
    let out = c.ok(&["apply", "--server-side", "-f", path]);
    assert!(out.contains("configmap/ssa serverside-applied"), "{out}");
    assert_eq!(c.ok(&["get", "cm", "ssa", "-o", "jsonpath={.data.b}"]), "3");
    let out = c.ok(&["apply", "--dry-run=server", "-f", path]);
    assert!(out.contains("(server dry run)"), "{out}");
    c.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_of_a_changed_deployment_merges_containers_by_name() {
    let Some(c) = Cluster::start(Vec::new()).await else {
        return;
    };
    let manifest = c.dir().join("web.yaml");
    let path = manifest.to_str().expect("utf-8 path");
    let write = |image: &str, env: &str| {
        std::fs::write(
            &manifest,
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  \
                 replicas: 1\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    \
                 metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      \
                 - name: web\n        image: {image}\n        env:{env}\n"
            ),
        )
        .expect("write manifest");
    };
    write(
        "nginx:1.27",
        "\n        - {name: A, value: \"1\"}\n        - {name: B, value: \"2\"}",
    );
    assert!(
        c.ok(&["apply", "-f", path])
            .contains("deployment.apps/web created")
    );
    write("nginx:1.28", "\n        - {name: A, value: \"1\"}");
    let out = c.ok(&["apply", "-f", path]);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let containers = c.ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={range .spec.template.spec.containers[*]}{.name}={.image} {.env[*].name};{end}",
    ]);
    // One container, updated in place; the env var dropped from the manifest is gone.
    assert_eq!(containers, "web=nginx:1.28 A;");
    c.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explain_reads_the_kinds_schemas() {
    let Some(c) = Cluster::start(Vec::new()).await else {
        return;
    };
    let replicas = c.ok(&["explain", "deployment.spec.replicas"]);
    assert!(replicas.contains("KIND:       Deployment"), "{replicas}");
    assert!(replicas.contains("FIELD: replicas <integer>"), "{replicas}");
    assert!(replicas.contains("Number of desired pods"), "{replicas}");
    let pods = c.ok(&["explain", "pods"]);
    assert!(pods.contains("KIND:       Pod"), "{pods}");
    let metadata = pods
        .lines()
        .find(|l| l.trim_start().starts_with("metadata"))
        .unwrap_or_default();
    assert_eq!(metadata.trim(), "metadata\t<ObjectMeta>", "{pods}");
    let ports = c.ok(&["explain", "svc.spec.ports.nodePort"]);
    assert!(ports.contains("FIELD: nodePort <integer>"), "{ports}");
    let err = c.fails(&["explain", "deployment.spec.nope"]);
    assert!(err.contains("field \"nope\" does not exist"), "{err}");
    c.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_status_objects() {
    let Some(c) = Cluster::start(Vec::new()).await else {
        return;
    };
    let err = c.fails(&["get", "deployment", "ghost"]);
    assert!(
        err.contains("deployments.apps \"ghost\" not found"),
        "{err}"
    );
    let err = c.fails(&["create", "deployment", "Bad_Name", "--image=nginx"]);
    assert!(
        err.contains("Invalid value") && err.contains("RFC 1123"),
        "{err}"
    );
    let err = c.fails(&["get", "pods", "-l", "a in (b"]);
    assert!(!err.is_empty());
    let err = c.fails(&["get", "widgets"]);
    assert!(
        err.contains("the server doesn't have a resource type \"widgets\""),
        "{err}"
    );
    c.sandbox.shutdown().await;
}

/// The seed's images, from the Part 3 lesson's `sandbox` section.
pub fn part3_images() -> Vec<kubetutor::lesson::model::ImageSpec> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/part3-deploy-a-simple-app.yaml");
    let loaded = kubetutor::lesson::load(&path).expect("the Part 3 lesson loads");
    assert!(!loaded.lesson.sandbox.images.is_empty());
    loaded.lesson.sandbox.images
}

/// A plain HTTP GET on 127.0.0.1:`port`, as `curl` does it.
pub fn http_get(port: u16) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\nConnection: close\r\n\r\n",
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn pod_names(c: &Cluster, selector: &str) -> Vec<String> {
    c.ok(&[
        "get",
        "pods",
        "-l",
        selector,
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}",
    ])
    .lines()
    .map(str::to_owned)
    .collect()
}

fn node_port(c: &Cluster) -> u16 {
    c.ok(&[
        "get",
        "services/hello-part3",
        "-o",
        "go-template={{(index .spec.ports 0).nodePort}}",
    ])
    .trim()
    .parse()
    .expect("a node port")
}

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_tutorial_end_to_end() {
    let Some(c) = Cluster::start(part3_images()).await else {
        return;
    };
    // 3.1 - create and inspect.
    let out = c.ok(&[
        "create",
        "deployment",
        "hello-part3",
        "--image=tsouche/learn-kubernetes:part3v1",
    ]);
    assert!(out.contains("deployment.apps/hello-part3 created"), "{out}");
    c.wait_for(&["get", "deployments"], WAIT, |t| {
        row(t, "hello-part3").get(1) == Some(&"1/1")
    });
    let wide = c.ok(&["get", "pods", "-o", "wide"]);
    let pods = pod_names(&c, "app=hello-part3");
    assert_eq!(pods.len(), 1, "{wide}");
    let pod = pods[0].clone();
    let cells = row(&wide, &pod);
    assert_eq!(cells.get(2), Some(&"Running"), "{wide}");
    assert!(
        cells.get(5).is_some_and(|ip| ip.starts_with("10.244.")),
        "{wide}"
    );
    assert!(
        cells
            .get(6)
            .is_some_and(|n| n.starts_with("kubetutor-worker")),
        "{wide}"
    );
    let describe = c.ok(&["describe", "pods"]);
    for needle in [
        "Controlled By:  ReplicaSet/hello-part3-",
        "Image:          tsouche/learn-kubernetes:part3v1",
        "Events:",
        "Started",
    ] {
        assert!(
            describe.contains(needle),
            "describe lacks {needle:?}:\n{describe}"
        );
    }
    let logs = c.ok(&["logs", &pod]);
    assert!(logs.contains("Running on http://0.0.0.0:"), "{logs}");
    assert!(
        c.ok(&["get", "--raw", "/version"])
            .contains("\"gitVersion\"")
    );
    let raw_pod = c.ok(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/default/pods/{pod}/"),
    ]);
    assert!(
        raw_pod.contains(&format!("\"name\":\"{pod}\"")),
        "{raw_pod}"
    );
    let env = c.ok(&["exec", &pod, "--", "env"]);
    assert!(env.contains(&format!("HOSTNAME={pod}")), "{env}");
    let shell = c.run_with_stdin(
        &["exec", "-i", &pod, "--", "bash"],
        "curl localhost:80\nexit 3\n",
    );
    let shown = String::from_utf8_lossy(&shell.stdout);
    assert!(shown.contains("application version 1"), "{shown}");
    assert_eq!(
        shell.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&shell.stderr)
    );

    // 3.2 - expose and reach the app through the node port and the service proxy.
    c.ok(&[
        "expose",
        "deployment/hello-part3",
        "--type=NodePort",
        "--port",
        "80",
    ]);
    let services = c.ok(&["get", "services"]);
    let ports = row(&services, "hello-part3");
    assert_eq!(ports.get(1), Some(&"NodePort"), "{services}");
    assert!(
        ports
            .get(4)
            .is_some_and(|p| p.starts_with("80:3") && p.ends_with("/TCP")),
        "{services}"
    );
    let np = node_port(&c);
    let describe = c.wait_for(&["describe", "services/hello-part3"], WAIT, |d| {
        d.contains("Endpoints:                10.244.")
    });
    assert!(
        describe.contains(&format!("NodePort:                 <unset>  {np}/TCP")),
        "{describe}"
    );
    let answer = wait_http(np, |a| a.contains("application version 1"));
    assert!(answer.contains(&pod), "{answer}");
    let proxied = c.ok(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/services/hello-part3/proxy/",
    ]);
    assert!(proxied.contains("application version 1"), "{proxied}");

    // 3.3 - labels.
    c.ok(&["label", "pod", &pod, "version=v1"]);
    assert_eq!(pod_names(&c, "version=v1"), vec![pod.clone()]);
    let out = c.ok(&["delete", "service", "-l", "app=hello-part3"]);
    assert!(out.contains("service \"hello-part3\" deleted"), "{out}");
    let start = Instant::now();
    while http_get(np).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "node port {np} still answers after the service was deleted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // 3.4 - scale up and down.
    c.ok(&[
        "expose",
        "deployment/hello-part3",
        "--type=NodePort",
        "--port",
        "80",
    ]);
    c.ok(&["scale", "deployments/hello-part3", "--replicas=4"]);
    c.wait_for(&["get", "deployments"], WAIT, |t| {
        row(t, "hello-part3").get(1) == Some(&"4/4")
    });
    let wide = c.ok(&["get", "pods", "-o", "wide"]);
    let nodes: std::collections::BTreeSet<&str> = wide
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(6))
        .collect();
    assert!(nodes.len() >= 2, "pods not spread over nodes:\n{wide}");
    let np = node_port(&c);
    let hosts: std::collections::BTreeSet<String> = (0..8)
        .map(|_| wait_http(np, |a| a.contains("version 1")))
        .filter_map(|a| {
            a.split("<b>Hostname:</b> ")
                .nth(1)
                .map(|h| h.trim_end_matches("<br/>").trim().to_owned())
        })
        .collect();
    assert!(hosts.len() >= 2, "only {hosts:?} answered");
    c.ok(&["scale", "deployments/hello-part3", "--replicas=2"]);
    c.wait_for(&["get", "pods"], WAIT, |t| {
        t.lines().skip(1).filter(|l| l.contains("Running")).count() == 2
            && !t.contains("Terminating")
    });

    // 3.5 - rolling update, a broken image, rollback.
    c.ok(&[
        "set",
        "image",
        "deployment/hello-part3",
        "learn-kubernetes=tsouche/learn-kubernetes:part3v2",
    ]);
    let status = c.ok(&[
        "rollout",
        "status",
        "deployment/hello-part3",
        "--timeout=60s",
    ]);
    assert!(status.contains("successfully rolled out"), "{status}");
    wait_http(np, |a| a.contains("application version 2"));
    c.ok(&[
        "set",
        "image",
        "deployments/hello-part3",
        "learn-kubernetes=tsouche/learn-kubernetes:part3v10",
    ]);
    c.wait_for(&["get", "pods"], WAIT, |t| {
        t.contains("ErrImagePull") || t.contains("ImagePullBackOff")
    });
    let deploy = c.wait_for(&["get", "deployments"], WAIT, |t| {
        row(t, "hello-part3").get(2) == Some(&"1")
    });
    assert_eq!(row(&deploy, "hello-part3").get(1), Some(&"2/2"), "{deploy}");
    let out = c.ok(&["rollout", "undo", "deployments/hello-part3"]);
    assert!(out.contains("rolled back"), "{out}");
    let status = c.ok(&[
        "rollout",
        "status",
        "deployment/hello-part3",
        "--timeout=60s",
    ]);
    assert!(status.contains("successfully rolled out"), "{status}");
    let images = c.ok(&[
        "get",
        "deployment",
        "hello-part3",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(images, "tsouche/learn-kubernetes:part3v2");
    wait_http(np, |a| a.contains("application version 2"));
    let history = c.ok(&["rollout", "history", "deployment/hello-part3"]);
    assert!(
        history.contains("REVISION") && history.lines().count() >= 4,
        "{history}"
    );
    let rs = c.ok(&["get", "rs"]);
    assert_eq!(
        rs.lines().count(),
        4,
        "three ReplicaSets expected (v1, v2, v10):\n{rs}"
    );

    // Clean up: deleting the deployment collects its ReplicaSets and pods.
    c.ok(&["delete", "deployment", "hello-part3"]);
    c.wait_for(
        &["get", "pods", "-l", "app=hello-part3", "-o", "name"],
        WAIT,
        |t| t.trim().is_empty(),
    );
    c.wait_for(&["get", "rs", "-o", "name"], WAIT, |t| t.trim().is_empty());
    c.sandbox.shutdown().await;
}

/// Polls the node port until an answer satisfies `pred`.
fn wait_http(port: u16, pred: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        if let Ok(answer) = http_get(port)
            && pred(&answer)
        {
            return answer;
        }
        assert!(
            start.elapsed() < WAIT,
            "node port {port} never gave the expected answer"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_streams_changes() {
    let Some(c) = Cluster::start(Vec::new()).await else {
        return;
    };
    // kubectl lists, then watches from the list's resourceVersion: once the list's object is
    // printed, anything created afterwards must stream in.
    c.ok(&["create", "configmap", "listed"]);
    let mut child = std::process::Command::new(&c.kubectl)
        .args(["get", "configmaps", "-w", "--request-timeout=20s"])
        .env("KUBECONFIG", c.sandbox.kubeconfig_path())
        .env("KUBECACHEDIR", c.dir().join("cache"))
        .env("HOME", c.dir())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl get -w");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |name: &str| loop {
        match lines.recv_timeout(WAIT) {
            Ok(line) => {
                let found = line.starts_with(&format!("{name} "));
                seen.push(line);
                if found {
                    break;
                }
            }
            Err(_) => panic!("kubectl get -w never showed {name}:\n{}", seen.join("\n")),
        }
    };
    wait_for("listed");
    c.ok(&["create", "configmap", "watched"]);
    wait_for("watched");
    let _ = child.kill();
    let _ = child.wait();
    c.sandbox.shutdown().await;
}

#[test]
fn the_sandbox_command_prints_its_kubeconfig_and_serves_kubectl() {
    use std::io::BufRead;
    let Some(kubectl) = real_kubectl() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("sandbox.kubeconfig");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("kubetutor"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(&kubeconfig)
        .env_remove("KUBECONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubetutor sandbox starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let started = Instant::now();
    let line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("KUBECONFIG="))
        .expect("a KUBECONFIG= line");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        line.ends_with(&format!("KUBECONFIG={}", kubeconfig.display())),
        "{line}"
    );
    let token = std::fs::read_to_string(&kubeconfig).expect("kubeconfig written");
    let token = token
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .expect("token")
        .to_owned();
    assert!(!line.contains(&token));
    let out = Command::new(&kubectl)
        .args(["get", "nodes"])
        .env("KUBECONFIG", &kubeconfig)
        .env("KUBECACHEDIR", dir.path().join("cache"))
        .env("HOME", dir.path())
        .output()
        .expect("kubectl runs");
    let _ = child.kill();
    let _ = child.wait();
    let nodes = String::from_utf8_lossy(&out.stdout);
    assert!(
        nodes.contains("control-plane") && nodes.contains("Ready"),
        "{nodes}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_sandbox_command_refuses_non_loopback_addresses() {
    let out = crate::common::kubetutor()
        .args(["sandbox", "--listen", "0.0.0.0:0"])
        .output()
        .expect("kubetutor runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback address"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typos_in_manifests_are_rejected_like_a_real_cluster() {
    let Some(c) = Cluster::start(Vec::new()).await else {
        return;
    };
    let manifest = c.dir().join("typo.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: typo\nspec:\n  selector:\n    matchLabels: {app: typo}\n  template:\n    metadata:\n      labels: {app: typo}\n    spec:\n      containers:\n      - name: app\n        imagee: nginx:1.27\n",
    )
    .expect("write manifest");
    let path = manifest.to_str().expect("utf-8 path");
    let err = c.fails(&["apply", "-f", path]);
    assert!(
        err.contains("unknown field \"spec.template.spec.containers[0].imagee\""),
        "{err}"
    );
    let err = c.fails(&["create", "-f", path]);
    assert!(err.contains("strict decoding error"), "{err}");
    let out = c.run(&["get", "deployments", "-o", "name"]);
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
    c.sandbox.shutdown().await;
}
