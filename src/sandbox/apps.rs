//! What the simulated containers do: which images "exist", what their apps answer over
//! HTTP, what they log, and a handful of shell commands for `kubectl exec`.
//!
//! Everything lesson-specific comes from the [`AppSpec`]s the sandbox is started with (a
//! lesson's images); a few well-known public images get plausible built-in behaviour.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::sandbox::objects::{Pod, pod_ip};

/// An image the sandbox can "pull" and how its container behaves once running.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppSpec {
    /// Image reference as a learner types it, e.g. `nginx:1.27`.
    pub image: String,
    /// TCP port the container's app listens on.
    pub port: u16,
    /// HTTP body the app answers with; `{hostname}`, `{pod}`, `{namespace}`, `{node}` and
    /// `{ip}` are replaced by the pod's values.
    pub response: String,
    /// Lines the container writes to its log when it starts.
    pub logs: Vec<String>,
    /// Environment variables the image defines.
    pub env: BTreeMap<String, String>,
    /// Working directory of the container.
    pub workdir: Option<String>,
    /// Files in the container (path -> content).
    pub files: BTreeMap<String, String>,
}

/// The kubernetes Service's ClusterIP, as containers see it in their environment.
pub const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A known image and how its container behaves.
#[derive(Debug, Clone)]
struct App {
    /// Matches references after normalisation; `tag: None` matches any tag.
    repository: String,
    tag: Option<String>,
    spec: AppSpec,
    /// Whether anything listens on `spec.port`.
    serves_http: bool,
}

/// The images the sandbox can "pull", with their behaviour. A running sandbox may learn more
/// ([`Catalogue::learn`]): the practice cluster serves one lesson after another.
#[derive(Debug)]
pub struct Catalogue {
    apps: RwLock<Vec<Arc<App>>>,
}

/// The outcome of a simulated command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Process exit code.
    pub exit_code: i32,
}

impl ExecResult {
    fn ok(stdout: String) -> Self {
        ExecResult {
            stdout,
            stderr: String::new(),
            exit_code: 0,
        }
    }
    fn fail(stderr: String, exit_code: i32) -> Self {
        ExecResult {
            stdout: String::new(),
            stderr,
            exit_code,
        }
    }
}

/// Splits an image reference into a fully qualified repository and a tag (default `latest`),
/// the way container runtimes resolve short names.
pub fn normalize_image(reference: &str) -> (String, String) {
    let reference = reference.trim();
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let (name, tag) = match without_digest.rfind(':') {
        Some(i) if !without_digest[i..].contains('/') => {
            (&without_digest[..i], without_digest[i + 1..].to_owned())
        }
        _ => (without_digest, "latest".to_owned()),
    };
    let first = name.split('/').next().unwrap_or("");
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let repo = if has_registry {
        name.to_owned()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    (repo, tag)
}

/// An image given by a lesson: its exact tag only, and it serves HTTP on its port.
fn given_app(spec: &AppSpec) -> Arc<App> {
    let (repository, tag) = normalize_image(&spec.image);
    Arc::new(App {
        repository,
        tag: Some(tag),
        spec: spec.clone(),
        serves_http: true,
    })
}

fn builtin(repository: &str, spec: AppSpec, serves_http: bool) -> App {
    App {
        repository: repository.to_owned(),
        tag: None,
        spec,
        serves_http,
    }
}

fn builtin_apps() -> Vec<App> {
    let nginx_page = "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\nworking. Further configuration is required.</p>\n</body>\n</html>\n";
    let nginx = AppSpec {
        image: "nginx".into(),
        port: 80,
        response: nginx_page.into(),
        logs: vec![
            "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration".into(),
            "/docker-entrypoint.sh: Configuration complete; ready for start up".into(),
            "2025/01/01 00:00:00 [notice] 1#1: nginx/1.27.3".into(),
            "2025/01/01 00:00:00 [notice] 1#1: start worker processes".into(),
        ],
        env: BTreeMap::from([("NGINX_VERSION".to_owned(), "1.27.3".to_owned())]),
        workdir: Some("/".into()),
        files: BTreeMap::from([(
            "/usr/share/nginx/html/index.html".to_owned(),
            nginx_page.to_owned(),
        )]),
    };
    let httpd_page = "<html><body><h1>It works!</h1></body></html>\n";
    let httpd = AppSpec {
        image: "httpd".into(),
        port: 80,
        response: httpd_page.into(),
        logs: vec![
            "AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using {ip}. Set the 'ServerName' directive globally to suppress this message".into(),
            "[mpm_event:notice] [pid 1:tid 1] AH00489: Apache/2.4.62 (Unix) configured -- resuming normal operations".into(),
        ],
        env: BTreeMap::from([("HTTPD_PREFIX".to_owned(), "/usr/local/apache2".to_owned())]),
        workdir: Some("/usr/local/apache2".into()),
        files: BTreeMap::from([("htdocs/index.html".to_owned(), httpd_page.to_owned())]),
    };
    let quiet = |image: &str| AppSpec {
        image: image.into(),
        port: 80,
        response: String::new(),
        logs: Vec::new(),
        env: BTreeMap::new(),
        workdir: Some("/".into()),
        files: BTreeMap::new(),
    };
    vec![
        builtin("docker.io/library/nginx", nginx, true),
        builtin("docker.io/library/httpd", httpd, true),
        builtin("docker.io/library/busybox", quiet("busybox"), false),
        builtin(
            "registry.k8s.io/pause",
            quiet("registry.k8s.io/pause"),
            false,
        ),
    ]
}

/// Replaces `{hostname}`, `{pod}`, `{namespace}`, `{node}` and `{ip}` with the pod's values.
fn render(template: &str, pod: &Pod) -> String {
    template
        .replace("{hostname}", pod.metadata.name)
        .replace("{pod}", pod.metadata.name)
        .replace("{namespace}", pod.metadata.namespace)
        .replace("{node}", pod.spec.node_name)
        .replace("{ip}", pod_ip(pod))
}

impl Catalogue {
    /// A catalogue of the given images, then the built-in ones; the given images win.
    pub fn new(images: &[AppSpec]) -> Self {
        let mut apps: Vec<Arc<App>> = images.iter().map(given_app).collect();
        apps.extend(builtin_apps().into_iter().map(Arc::new));
        Catalogue {
            apps: RwLock::new(apps),
        }
    }

    /// Adds images (a lesson's), replacing any given before under the same reference; like
    /// those given to [`Catalogue::new`], they win over the built-in ones.
    pub fn learn(&self, images: &[AppSpec]) {
        let mut apps = self.apps.write().unwrap_or_else(PoisonError::into_inner);
        for spec in images.iter().rev() {
            let app = given_app(spec);
            apps.retain(|a| a.tag.is_none() || a.repository != app.repository || a.tag != app.tag);
            apps.insert(0, app);
        }
    }

    fn find(&self, image: &str) -> Option<Arc<App>> {
        let (repo, tag) = normalize_image(image);
        let apps = self.apps.read().unwrap_or_else(PoisonError::into_inner);
        apps.iter()
            .find(|a| {
                a.repository == repo
                    && match &a.tag {
                        Some(t) => *t == tag,
                        None => plausible_builtin_tag(&tag),
                    }
            })
            .cloned()
    }

    /// Whether pulling the image succeeds.
    pub fn is_pullable(&self, image: &str) -> bool {
        self.find(image).is_some()
    }

    /// The port the image's app listens on, if it serves HTTP.
    pub fn port(&self, image: &str) -> Option<u16> {
        self.find(image)
            .filter(|a| a.serves_http)
            .map(|a| a.spec.port)
    }

    /// The app's answer to `GET path`, or `None` when nothing listens.
    pub fn http_response(&self, image: &str, pod: &Pod, path: &str) -> Option<(u16, String)> {
        let app = self.find(image).filter(|a| a.serves_http)?;
        let path = path.split('?').next().unwrap_or("/");
        if path.is_empty() || path == "/" {
            return Some((200, render(&app.spec.response, pod)));
        }
        let not_found = "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server.</p>\n";
        Some((404, not_found.to_owned()))
    }

    /// The container log: the image's start-up lines, rendered for the pod.
    pub fn logs(&self, image: &str, pod: &Pod) -> String {
        let Some(app) = self.find(image) else {
            return String::new();
        };
        app.spec
            .logs
            .iter()
            .map(|l| format!("{}\n", render(l, pod)))
            .collect()
    }

    /// The shell prompt of an interactive session (`root@POD:/workdir# `).
    pub fn prompt(&self, image: &str, pod: &Pod) -> String {
        let wd = self.workdir(image);
        format!("root@{}:{wd}# ", pod.metadata.name)
    }

    fn workdir(&self, image: &str) -> String {
        self.find(image)
            .and_then(|a| a.spec.workdir.clone())
            .unwrap_or_else(|| "/".to_owned())
    }

    /// The environment a container sees, in `env` order.
    pub fn environment(&self, image: &str, pod: &Pod) -> Vec<(String, String)> {
        let app = self.find(image);
        let image_env = app.map(|a| a.spec.env.clone()).unwrap_or_default();
        let mut env = vec![(
            "PATH".to_owned(),
            image_env
                .get("PATH")
                .cloned()
                .unwrap_or_else(|| DEFAULT_PATH.to_owned()),
        )];
        env.push(("HOSTNAME".into(), pod.metadata.name.into()));
        for (k, v) in &image_env {
            if k != "PATH" {
                env.push((k.clone(), v.clone()));
            }
        }
        let container_env = pod
            .spec
            .containers
            .iter()
            .find(|c| c.image == image)
            .map(|c| c.env.as_slice())
            .unwrap_or_default();
        for e in container_env {
            if let Some(v) = e.value {
                env.retain(|(n, _)| n != e.name);
                env.push((e.name.into(), v.into()));
            }
        }
        let ip = KUBERNETES_SERVICE_IP;
        for (k, v) in [
            ("KUBERNETES_SERVICE_PORT_HTTPS", "443".to_owned()),
            ("KUBERNETES_PORT", format!("tcp://{ip}:443")),
            ("KUBERNETES_PORT_443_TCP", format!("tcp://{ip}:443")),
            ("KUBERNETES_PORT_443_TCP_PROTO", "tcp".to_owned()),
            ("KUBERNETES_PORT_443_TCP_PORT", "443".to_owned()),
            ("KUBERNETES_PORT_443_TCP_ADDR", ip.to_owned()),
            ("KUBERNETES_SERVICE_HOST", ip.to_owned()),
            ("KUBERNETES_SERVICE_PORT", "443".to_owned()),
            ("HOME", "/root".to_owned()),
        ] {
            env.push((k.to_owned(), v));
        }
        env
    }

    /// Runs a simple command inside the simulated container.
    pub fn exec(&self, image: &str, pod: &Pod, argv: &[String]) -> ExecResult {
        let Some(cmd) = argv.first() else {
            return ExecResult::fail("error: you must specify at least one command\n".into(), 1);
        };
        let args = &argv[1..];
        let program = cmd.rsplit('/').next().unwrap_or(cmd);
        match program {
            "sh" | "bash" if args.first().map(String::as_str) == Some("-c") => {
                let line = args.get(1).cloned().unwrap_or_default();
                let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
                if words.is_empty() {
                    return ExecResult::ok(String::new());
                }
                self.exec(image, pod, &words)
            }
            "env" | "printenv" => ExecResult::ok(
                self.environment(image, pod)
                    .into_iter()
                    .filter(|(k, _)| args.is_empty() || args.contains(k))
                    .map(|(k, v)| {
                        if program == "printenv" {
                            format!("{v}\n")
                        } else {
                            format!("{k}={v}\n")
                        }
                    })
                    .collect(),
            ),
            "hostname" => ExecResult::ok(format!("{}\n", pod.metadata.name)),
            "pwd" => ExecResult::ok(format!("{}\n", self.workdir(image))),
            "whoami" => ExecResult::ok("root\n".into()),
            "true" => ExecResult::ok(String::new()),
            "echo" => ExecResult::ok(format!("{}\n", args.join(" "))),
            "ls" => self.ls(image, args),
            "cat" => self.cat(image, pod, args),
            "curl" | "wget" => self.curl(image, pod, args),
            other => ExecResult::fail(format!("sh: {other}: command not found\n"), 127),
        }
    }

    /// Every file of the image as an absolute path.
    fn files(&self, image: &str) -> BTreeMap<String, String> {
        let wd = self.workdir(image);
        self.find(image)
            .map(|a| {
                a.spec
                    .files
                    .iter()
                    .map(|(p, c)| (absolute(&wd, p), c.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn ls(&self, image: &str, args: &[String]) -> ExecResult {
        let wd = self.workdir(image);
        let target = args
            .iter()
            .find(|a| !a.starts_with('-'))
            .map(|a| absolute(&wd, a))
            .unwrap_or(wd);
        let files = self.files(image);
        if files.contains_key(&target) {
            let name = target.rsplit('/').next().unwrap_or(&target);
            return ExecResult::ok(format!("{name}\n"));
        }
        let prefix = if target.ends_with('/') {
            target.clone()
        } else {
            format!("{target}/")
        };
        let mut names: Vec<String> = files
            .keys()
            .filter_map(|p| p.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
            .collect();
        names.dedup();
        if names.is_empty() && target != "/" && target != self.workdir(image) {
            return ExecResult::fail(
                format!("ls: cannot access '{target}': No such file or directory\n"),
                2,
            );
        }
        let out = if names.is_empty() {
            String::new()
        } else {
            format!("{}\n", names.join("  "))
        };
        ExecResult::ok(out)
    }

    fn cat(&self, image: &str, pod: &Pod, args: &[String]) -> ExecResult {
        let wd = self.workdir(image);
        let files = self.files(image);
        let mut out = String::new();
        let mut err = String::new();
        for a in args.iter().filter(|a| !a.starts_with('-')) {
            let path = absolute(&wd, a);
            if path == "/etc/hostname" {
                out.push_str(&render("{pod}\n", pod));
                continue;
            }
            match files.get(&path) {
                Some(c) => out.push_str(c),
                None => err.push_str(&format!("cat: {a}: No such file or directory\n")),
            }
        }
        ExecResult {
            stdout: out,
            exit_code: if err.is_empty() { 0 } else { 1 },
            stderr: err,
        }
    }

    fn curl(&self, image: &str, pod: &Pod, args: &[String]) -> ExecResult {
        let Some(url) = args.iter().find(|a| !a.starts_with('-')) else {
            return ExecResult::fail(
                "curl: try 'curl --help' or 'curl --manual' for more information\n".into(),
                2,
            );
        };
        let rest = url
            .strip_prefix("http://")
            .unwrap_or(url.strip_prefix("https://").unwrap_or(url));
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().ok()),
            None => (hostport, Some(80)),
        };
        let own_ip = pod_ip(pod);
        let pod_name = pod.metadata.name;
        let local = matches!(host, "localhost" | "127.0.0.1" | "0.0.0.0")
            || host == own_ip
            || host == pod_name;
        if !local {
            return ExecResult::fail(format!("curl: (6) Could not resolve host: {host}\n"), 6);
        }
        let listening = self.port(image);
        match (port, listening) {
            (Some(p), Some(l)) if p == l => match self.http_response(image, pod, path) {
                Some((_, body)) => ExecResult::ok(body),
                None => ExecResult::fail(String::new(), 7),
            },
            _ => ExecResult::fail(
                format!(
                    "curl: (7) Failed to connect to {host} port {}: Connection refused\n",
                    port.map(|p| p.to_string()).unwrap_or_default()
                ),
                7,
            ),
        }
    }
}

/// Tags a well-known image really publishes: versions, `latest` and the usual flavours, so
/// that a typo such as `nginx:lates` still fails to pull.
fn plausible_builtin_tag(tag: &str) -> bool {
    const FLAVOURS: [&str; 7] = [
        "latest", "stable", "mainline", "alpine", "musl", "glibc", "uclibc",
    ];
    tag.starts_with(|c: char| c.is_ascii_digit())
        || FLAVOURS
            .iter()
            .any(|f| tag == *f || tag.starts_with(&format!("{f}-")))
}

fn absolute(wd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else if wd.ends_with('/') {
        format!("{wd}{path}")
    } else {
        format!("{wd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests;
