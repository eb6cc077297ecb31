//! The sandbox measured against the real control plane: the tutorial's whole kubectl session
//! runs on both, outputs are normalised (generated names, ages, timestamps, uids,
//! resourceVersions, IPs, node names, node ports) and compared line by line; objects fetched
//! as JSON are compared field by field. Every difference must be listed in `docs/sandbox.md`
//! (between the `differential` markers) with its reason, or the test fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kubetutor::sandbox::{Sandbox, SandboxConfig};
use libtest_mimic::Failed;
use regex::Regex;
use serde_json::Value;

use crate::Test;
use crate::bed::{Bed, repo};

pub fn tests() -> Vec<Test> {
    vec![Test {
        name: "differential::the_tutorial_session_matches_the_real_control_plane",
        run: the_tutorial_session_matches,
    }]
}

/// The namespace the session runs in, on both clusters.
const NAMESPACE: &str = "tutorial";
/// How long a wait of the session may take on either cluster.
const WAIT: Duration = Duration::from_secs(90);

/// How two outputs of one command are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Line by line.
    Lines,
    /// The header line, then the other lines sorted (tables whose row order follows random
    /// names).
    Rows,
    /// The first two lines and the last (a watch: its header and first screen, and the state
    /// it ends on; the updates between follow timing).
    Ends,
    /// Blocks separated by blank lines, sorted (`describe` of several objects, printed in the
    /// order of their random names).
    Blocks,
    /// The last line only (`rollout status`, whose progress lines follow timing).
    Last,
    /// As JSON, field by field.
    Json,
}

/// One thing the session does.
enum Action {
    /// Runs kubectl; its output is compared.
    Kubectl(&'static str, Compare),
    /// Waits until `kubectl ARGS` succeeds and prints something `done` accepts (not compared).
    Until(&'static str, fn(&str) -> bool, &'static str),
    /// Sets `$NAME` to the trimmed output of `kubectl ARGS` (not compared).
    Capture(&'static str, &'static str),
    /// Runs `kubectl ARGS` (a `-w` watch) for `secs` seconds while the other commands run one
    /// after another; the watch's output is compared.
    Watch(&'static str, &'static [&'static str], u64),
}

use Action::{Capture, Kubectl, Until, Watch};
use Compare::{Blocks, Ends, Json, Last, Lines, Rows};

/// Whether a `kubectl get pods` table shows exactly `n` pods, all Running.
fn pods_running(out: &str, n: usize) -> bool {
    let rows: Vec<&str> = out.lines().skip(1).collect();
    rows.len() == n && rows.iter().all(|r| r.contains(" Running "))
}

/// The tutorial's session: the seed's commands in its order, plus watches, describes of several
/// Pods, rollout history, events and every kind touched as JSON.
fn session() -> Vec<Action> {
    vec![
        Kubectl("version -o json", Json),
        Kubectl("get nodes", Rows),
        // Only the namespaces every cluster has and ours: other tests share the test bed.
        Kubectl(
            "get namespaces default kube-node-lease kube-public kube-system tutorial",
            Rows,
        ),
        Kubectl(
            "create deployment hello-part3 --image=tsouche/learn-kubernetes:part3v1",
            Lines,
        ),
        Kubectl("rollout status deployment/hello-part3 --timeout=90s", Last),
        Kubectl("get pods", Rows),
        Kubectl("get deployments", Rows),
        Kubectl("get pods -o wide", Rows),
        Capture("POD", "get pods -o jsonpath={.items[0].metadata.name}"),
        Kubectl("get --raw /version", Json),
        Kubectl("describe pods", Lines),
        Kubectl("get pod $POD -o json", Json),
        Kubectl("logs $POD", Lines),
        Kubectl("logs $POD --tail=2", Lines),
        Kubectl("exec $POD -- env", Rows),
        Kubectl("get services", Rows),
        Kubectl(
            "expose deployment/hello-part3 --type=NodePort --port 80",
            Lines,
        ),
        Until(
            "get endpoints hello-part3 -o jsonpath={.subsets[0].addresses[0].ip}",
            |o| !o.trim().is_empty(),
            "an endpoint",
        ),
        Kubectl("get services", Rows),
        Kubectl("describe services/hello-part3", Lines),
        Kubectl("describe services/kubernetes", Lines),
        Kubectl("get endpoints kubernetes -n default -o json", Json),
        Kubectl("get service hello-part3 -o json", Json),
        Kubectl("get endpoints hello-part3 -o json", Json),
        Kubectl(
            "get endpointslices -l kubernetes.io/service-name=hello-part3 -o json",
            Json,
        ),
        Kubectl(
            "get --raw /api/v1/namespaces/tutorial/services/hello-part3:80/proxy/",
            Lines,
        ),
        Kubectl(
            "get --raw /api/v1/namespaces/tutorial/services/hello-part3:80/proxy/nope",
            Lines,
        ),
        Kubectl("describe deployment", Lines),
        Kubectl("get pods -l app=hello-part3", Rows),
        Kubectl("get services -l app=hello-part3", Rows),
        Kubectl("label pod $POD version=v1", Lines),
        Kubectl("describe pods $POD", Lines),
        Kubectl("get pods -l version=v1", Rows),
        Kubectl("delete service -l app=hello-part3", Lines),
        Kubectl("get services", Rows),
        Kubectl(
            "expose deployment/hello-part3 --type=NodePort --port 80",
            Lines,
        ),
        Kubectl("describe svc/hello-part3", Lines),
        Watch(
            "get deployments -w",
            &["scale deployments/hello-part3 --replicas=4"],
            6,
        ),
        Kubectl("rollout status deployment/hello-part3 --timeout=90s", Last),
        Until("get pods", |o| pods_running(o, 4), "four running pods"),
        Kubectl("get deployments", Rows),
        Kubectl("get pods -o wide", Rows),
        Kubectl("describe deployments/hello-part3", Lines),
        Until(
            "get endpoints hello-part3 -o jsonpath={.subsets[0].addresses[3].ip}",
            |o| !o.trim().is_empty(),
            "four endpoints",
        ),
        Kubectl("describe services/hello-part3", Lines),
        Kubectl("get endpoints hello-part3", Rows),
        Kubectl("scale deployments/hello-part3 --replicas=2", Lines),
        Until("get pods", |o| pods_running(o, 2), "two running pods"),
        Kubectl("get deployments", Rows),
        Kubectl("get pods -o wide", Rows),
        Kubectl("describe pods", Blocks),
        Kubectl(
            "set image deployment/hello-part3 learn-kubernetes=tsouche/learn-kubernetes:part3v2",
            Lines,
        ),
        Kubectl("rollout status deployments/hello-part3 --timeout=90s", Last),
        Until(
            "get pods",
            |o| pods_running(o, 2),
            "two running pods of version 2",
        ),
        Kubectl("describe deployment/hello-part3", Lines),
        Kubectl("rollout history deployment/hello-part3", Lines),
        Kubectl("get replicasets", Rows),
        Kubectl(
            "set image deployment/hello-part3 learn-kubernetes=tsouche/learn-kubernetes:part3v10",
            Lines,
        ),
        Until(
            "get pods",
            |o| o.contains("ImagePullBackOff"),
            "a pod backing off its image pull",
        ),
        Kubectl("get deployments", Rows),
        Kubectl("get pods", Rows),
        Kubectl("describe pods -l pod-template-hash", Blocks),
        Kubectl("rollout undo deployments/hello-part3", Lines),
        Kubectl("rollout status deployments/hello-part3 --timeout=90s", Last),
        Until(
            "get pods",
            |o| pods_running(o, 2),
            "two running pods after the rollback",
        ),
        Kubectl("get deployments", Rows),
        Kubectl("get replicasets", Rows),
        Kubectl("rollout history deployment/hello-part3", Lines),
        Kubectl("get deployment hello-part3 -o json", Json),
        Kubectl("get replicasets -o json", Json),
        Kubectl("get pods -o json", Json),
        Kubectl("get events --sort-by=.metadata.name", Rows),
        Kubectl("get events -o json", Json),
        Kubectl("get namespace tutorial -o json", Json),
        Kubectl("get serviceaccounts", Rows),
        Kubectl("get configmaps", Rows),
        Kubectl("get deployment ghost", Lines),
        Kubectl("delete deployment hello-part3", Lines),
        Until(
            "get pods -o name",
            |o| o.trim().is_empty(),
            "the pods to go",
        ),
        Kubectl("get all", Rows),
    ]
}

/// One cluster the session runs on.
struct Side {
    name: &'static str,
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    home: PathBuf,
}

/// What one command printed, as run.
#[derive(Debug, Clone)]
struct Record {
    command: String,
    compare: Compare,
    text: String,
}

impl Side {
    fn command(&self, args: &str, vars: &BTreeMap<String, String>) -> (String, Command) {
        let mut expanded = args.to_owned();
        for (name, value) in vars {
            expanded = expanded.replace(&format!("${name}"), value);
        }
        let mut cmd = Command::new(&self.kubectl);
        cmd.args(expanded.split_whitespace())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.home)
            .env("KUBECACHEDIR", self.home.join("kubectl-cache"))
            .env_remove("KUBECTL_KUBERC");
        (args.to_owned(), cmd)
    }

    /// stdout, then stderr and the exit code when it failed.
    fn run(&self, args: &str, vars: &BTreeMap<String, String>) -> (bool, String) {
        let (_, mut cmd) = self.command(args, vars);
        let out = cmd.output().expect("kubectl runs");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            text.push_str(&format!(
                "[stderr] {}[exit {}]\n",
                String::from_utf8_lossy(&out.stderr),
                out.status.code().unwrap_or(-1)
            ));
        }
        (out.status.success(), text)
    }

    /// Plays the session; returns every compared record, or why a wait failed.
    fn play(&self, session: &[Action]) -> Result<Vec<Record>, String> {
        let mut vars = BTreeMap::new();
        let mut records = Vec::new();
        for action in session {
            match action {
                Kubectl(args, compare) => {
                    let (_, text) = self.run(args, &vars);
                    records.push(Record {
                        command: (*args).to_owned(),
                        compare: *compare,
                        text,
                    });
                }
                Until(args, done, what) => {
                    let start = Instant::now();
                    loop {
                        let (ok, text) = self.run(args, &vars);
                        if ok && done(&text) {
                            break;
                        }
                        if start.elapsed() > WAIT {
                            return Err(format!(
                                "{}: timed out waiting for {what} (kubectl {args}):\n{text}",
                                self.name
                            ));
                        }
                        std::thread::sleep(Duration::from_millis(250));
                    }
                }
                Capture(name, args) => {
                    let (ok, text) = self.run(args, &vars);
                    if !ok {
                        return Err(format!("{}: kubectl {args}: {text}", self.name));
                    }
                    vars.insert((*name).to_owned(), text.trim().to_owned());
                }
                Watch(args, during, secs) => {
                    let (_, mut cmd) = self.command(args, &vars);
                    let child = cmd
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .expect("kubectl runs");
                    // Let the watch print its first screen before anything changes.
                    std::thread::sleep(Duration::from_secs(2));
                    for other in *during {
                        let (_, text) = self.run(other, &vars);
                        records.push(Record {
                            command: (*other).to_owned(),
                            compare: Lines,
                            text,
                        });
                    }
                    std::thread::sleep(Duration::from_secs(*secs));
                    let pid = child.id().to_string();
                    let _ = Command::new("kill").args(["-INT", &pid]).status();
                    let out = child.wait_with_output().expect("the watch ends");
                    records.push(Record {
                        command: (*args).to_owned(),
                        compare: Ends,
                        text: String::from_utf8_lossy(&out.stdout).into_owned(),
                    });
                }
            }
        }
        Ok(records)
    }
}

/// Rewrites what legitimately differs between two clusters (and two runs) into placeholders.
struct Normaliser {
    rules: Vec<(Regex, &'static str)>,
    hash: Regex,
    hashes: Vec<String>,
}

impl Normaliser {
    fn new() -> Self {
        let rule = |re: &str, to: &'static str| (Regex::new(re).expect("rule"), to);
        Normaliser {
            rules: vec![
                rule(r"kube-api-access-[a-z0-9]{5}", "kube-api-access-<id>"),
                // An EndpointSlice's generated name (pods' are handled with the hashes).
                rule(r"\bhello-part3-[a-z0-9]{5}\b", "hello-part3-<id>"),
                // An Event's name: its object's, then a hex timestamp.
                rule(r"\.[0-9a-f]{16}\b", ".<event>"),
                rule(
                    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                    "<uid>",
                ),
                rule(
                    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                    "<time>",
                ),
                rule(
                    r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}",
                    "<time>",
                ),
                rule(r"containerd://[0-9a-f]+", "containerd://<id>"),
                rule(r"@sha256:[0-9a-f]{64}", "@sha256:<digest>"),
                rule(r"\b10\.244\.\d+\.\d+\b", "<pod-ip>"),
                rule(r"\b172\.18\.0\.\d+\b", "<node-ip>"),
                rule(r"\b10\.96\.\d+\.\d+\b", "<cluster-ip>"),
                rule(
                    r"\b(kubetutor|testbed)-(control-plane|worker\d*)\b",
                    "<node>",
                ),
                rule(r"\b3[0-2]\d{3}\b", "<node-port>"),
                rule(r#"resourceVersion = "\d+""#, r#"resourceVersion = "<rv>""#),
                // How the binaries were built, not how they behave.
                rule(r#"(gitCommit|goVersion) = "[^"]*""#, r#"$1 = "<build>""#),
                rule(r"\(x\d+ over [^)]*\)", "(x<n> over <age>)"),
                rule(r"\b\d+(\.\d+)?(ms|s|m|h|d)(\d+(s|m|h))?\b", "<age>"),
                rule(r"<age>( ago)?", "<age>"),
                rule(r" {2,}", "  "),
            ],
            hash: Regex::new(r"hello-part3-([a-z0-9]{6,10})\b(-[a-z0-9]{5}\b)?").expect("rule"),
            hashes: Vec::new(),
        }
    }

    fn text(&mut self, text: &str) -> String {
        // Template hashes are numbered in order of first appearance, the same on both
        // clusters (v1, v2, v10); pod suffixes are random and dropped.
        for caps in self.hash.captures_iter(text) {
            let hash = caps[1].to_owned();
            if !self.hashes.contains(&hash) {
                self.hashes.push(hash);
            }
        }
        let mut out = self
            .hash
            .replace_all(text, |caps: &regex::Captures| {
                let n = self.hashes.iter().position(|h| *h == caps[1]).unwrap_or(0) + 1;
                match caps.get(2) {
                    Some(_) => format!("hello-part3-<rs{n}>-<pod>"),
                    None => format!("hello-part3-<rs{n}>"),
                }
            })
            .into_owned();
        for (n, hash) in self.hashes.iter().enumerate() {
            out = out.replace(hash.as_str(), &format!("<rs{}>", n + 1));
        }
        for (re, to) in &self.rules {
            out = re.replace_all(&out, *to).into_owned();
        }
        out.lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The record as the lines to compare.
    fn record(&mut self, record: &Record) -> Vec<String> {
        if record.compare == Json
            && let Ok(value) = serde_json::from_str::<Value>(&record.text)
        {
            // Flattened first, so the placeholders never break the JSON.
            let mut fields = Vec::new();
            flatten("", &value, &mut fields);
            let mut fields: Vec<String> = fields.iter().map(|f| self.text(f)).collect();
            fields.sort();
            return fields;
        }
        let text = self.text(&record.text);
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        match record.compare {
            Lines => lines,
            Last => lines.last().cloned().into_iter().collect(),
            Rows => {
                let mut rows = lines;
                if rows.len() > 1 {
                    rows[1..].sort();
                }
                rows
            }
            Ends => match lines.len() {
                0..=3 => lines,
                n => vec![lines[0].clone(), lines[1].clone(), lines[n - 1].clone()],
            },
            Blocks => {
                let mut blocks: Vec<String> = text
                    .split("\n\n")
                    .map(str::to_owned)
                    .filter(|b| !b.trim().is_empty())
                    .collect();
                blocks.sort();
                blocks
                    .iter()
                    .flat_map(|b| b.lines().map(str::to_owned).chain([String::new()]))
                    .collect()
            }
            // Not JSON (an error): compared as lines.
            Json => lines,
        }
    }
}

/// `path = value` for every leaf; lists of named objects are keyed by name (or type), so their
/// order does not matter.
fn flatten(path: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(&child_path, child, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let mut keyed: Vec<(String, &Value)> = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    // Events by who reported what about which object: their names are random.
                    let event =
                        (item.get("kind").and_then(Value::as_str) == Some("Event")).then(|| {
                            let field =
                                |p: &str| item.pointer(p).and_then(Value::as_str).unwrap_or("");
                            format!(
                                "{}/{}/{}",
                                field("/reportingComponent"),
                                field("/reason"),
                                field("/involvedObject/name")
                            )
                        });
                    let key = event
                        .as_deref()
                        .or_else(|| item.get("name").and_then(Value::as_str))
                        .or_else(|| item.pointer("/metadata/name").and_then(Value::as_str))
                        .or_else(|| {
                            ["type", "ip", "key"]
                                .iter()
                                .find_map(|k| item.get(*k).and_then(Value::as_str))
                        })
                        .map(str::to_owned)
                        .unwrap_or_else(|| i.to_string());
                    (key, item)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, item) in keyed {
                flatten(&format!("{path}[{key}]"), item, out);
            }
        }
        leaf => out.push(format!("{path} = {leaf}")),
    }
}

/// A documented difference: which commands, which differing lines, and why.
#[derive(Debug)]
struct Known {
    id: String,
    command: Regex,
    line: Regex,
    used: std::cell::Cell<usize>,
}

/// The rows of the table between `<!-- differential:begin -->` and `<!-- differential:end -->`
/// in `docs/sandbox.md`: `| id | command (regex) | differing line (regex) | why |`.
fn known_differences() -> Result<Vec<Known>, Failed> {
    let doc = std::fs::read_to_string(repo("docs/sandbox.md"))?;
    let table = doc
        .split("<!-- differential:begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- differential:end -->").next())
        .ok_or("docs/sandbox.md has no differential table")?;
    let mut known = Vec::new();
    for row in table.lines().filter(|l| l.starts_with('|')).skip(2) {
        let cells: Vec<String> = split_row(row);
        if cells.len() < 4 {
            return Err(format!("a differential row needs 4 cells: {row}").into());
        }
        let regex = |cell: &str| {
            Regex::new(cell.trim().trim_matches('`'))
                .map_err(|err| format!("bad regex in docs/sandbox.md row {row}: {err}"))
        };
        known.push(Known {
            id: cells[0].trim().to_owned(),
            command: regex(&cells[1])?,
            line: regex(&cells[2])?,
            used: std::cell::Cell::new(0),
        });
    }
    Ok(known)
}

/// The cells of a markdown table row; `\|` is a literal bar.
fn split_row(row: &str) -> Vec<String> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let row = row.strip_suffix('|').unwrap_or(row);
    let mut cells = vec![String::new()];
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cells.last_mut().expect("a cell").push('|');
            }
            '|' => cells.push(String::new()),
            other => cells.last_mut().expect("a cell").push(other),
        }
    }
    cells
}

/// A side of the comparison: the sandbox in this process, shut down when dropped.
struct SandboxSide {
    runtime: tokio::runtime::Runtime,
    sandbox: Option<Sandbox>,
}

impl Drop for SandboxSide {
    fn drop(&mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            self.runtime.block_on(sandbox.shutdown());
        }
    }
}

fn start_sandbox(dir: &Path) -> Result<SandboxSide, Failed> {
    let text = std::fs::read_to_string(repo("lessons/part3-deploy-a-simple-app.yaml"))?;
    let lesson: kubetutor::lesson::Lesson = serde_yaml::from_str(&text)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let sandbox = runtime.block_on(Sandbox::start(SandboxConfig {
        kubeconfig: Some(dir.join("kubeconfig")),
        images: lesson.sandbox.apps(),
        speed: 4.0,
        ..SandboxConfig::default()
    }))?;
    Ok(SandboxSide {
        runtime,
        sandbox: Some(sandbox),
    })
}

/// A copy of `kubeconfig` whose current context works in `namespace`.
fn in_namespace(kubeconfig: &Path, namespace: &str, out: &Path) -> Result<PathBuf, Failed> {
    let mut config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(kubeconfig)?)?;
    if let Some(contexts) = config["contexts"].as_sequence_mut() {
        for context in contexts {
            context["context"]["namespace"] = serde_yaml::Value::from(namespace);
        }
    }
    let path = out.join("kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&config)?)?;
    Ok(path)
}

fn the_tutorial_session_matches(bed: &Bed) -> Result<(), Failed> {
    let known = known_differences()?;
    let session = session();

    let sandbox_dir = bed.scratch("differential-sandbox");
    std::fs::create_dir_all(sandbox_dir.join("ns"))?;
    let sandbox = start_sandbox(&sandbox_dir)?;
    let sandbox_side = Side {
        name: "sandbox",
        kubectl: bed.kubectl.clone(),
        kubeconfig: in_namespace(
            &sandbox_dir.join("kubeconfig"),
            NAMESPACE,
            &sandbox_dir.join("ns"),
        )?,
        home: sandbox_dir.clone(),
    };
    let testbed_dir = bed.scratch("differential-testbed");
    bed.namespace(NAMESPACE)?;
    std::fs::create_dir_all(testbed_dir.join("ns"))?;
    let testbed_side = Side {
        name: "testbed",
        kubectl: bed.kubectl.clone(),
        kubeconfig: in_namespace(&bed.kubeconfig, NAMESPACE, &testbed_dir.join("ns"))?,
        home: testbed_dir.clone(),
    };
    let (created, why) =
        sandbox_side.run(&format!("create namespace {NAMESPACE}"), &BTreeMap::new());
    if !created {
        return Err(format!("the sandbox refused the namespace: {why}").into());
    }

    let (sandbox_records, testbed_records) = std::thread::scope(|scope| {
        let a = scope.spawn(|| sandbox_side.play(&session));
        let b = scope.spawn(|| testbed_side.play(&session));
        (
            a.join().expect("sandbox session"),
            b.join().expect("testbed session"),
        )
    });
    drop(sandbox);
    let (sandbox_records, testbed_records) = (sandbox_records?, testbed_records?);
    assert_eq!(sandbox_records.len(), testbed_records.len());

    let (mut left, mut right) = (Normaliser::new(), Normaliser::new());
    let mut identical = 0;
    let mut documented = 0;
    let mut undocumented = Vec::new();
    for (s, t) in sandbox_records.iter().zip(&testbed_records) {
        let (a, b) = (left.record(s), right.record(t));
        if a == b {
            identical += 1;
            continue;
        }
        let a_refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let b_refs: Vec<&str> = b.iter().map(String::as_str).collect();
        let diff = similar::TextDiff::from_slices(&a_refs, &b_refs);
        let mut uncovered = Vec::new();
        for change in diff.iter_all_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Equal => continue,
                similar::ChangeTag::Delete => "-sandbox ",
                similar::ChangeTag::Insert => "+testbed ",
            };
            let line = change.value().to_string();
            let covering = known
                .iter()
                .find(|k| k.command.is_match(&s.command) && k.line.is_match(&line));
            match covering {
                Some(k) => k.used.set(k.used.get() + 1),
                None => uncovered.push(format!("{sign}{line}")),
            }
        }
        if uncovered.is_empty() {
            documented += 1;
        } else {
            undocumented.push(format!(
                "kubectl {}:\n  {}",
                s.command,
                uncovered.join("\n  ")
            ));
        }
    }
    let compared = sandbox_records.len();
    eprintln!(
        "differential: {compared} commands compared, {identical} identical, {documented} with \
         documented differences only, {} with undocumented differences",
        undocumented.len()
    );
    for k in &known {
        if k.used.get() == 0 {
            eprintln!(
                "differential: documented difference `{}` no longer seen",
                k.id
            );
        }
    }
    if undocumented.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} commands differ in ways docs/sandbox.md does not list:\n\n{}",
            undocumented.len(),
            undocumented.join("\n\n")
        )
        .into())
    }
}
