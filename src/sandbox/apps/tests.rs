use std::sync::LazyLock;

use super::*;
use crate::sandbox::objects::view_of;
use serde_json::{Value, json};

fn catalogue() -> Catalogue {
    Catalogue::new(&[AppSpec {
        image: "example/app:v1".into(),
        port: 8080,
        response: "hello from {hostname} in {namespace} on {node}\n".into(),
        logs: vec!["serving on {ip}".into()],
        env: BTreeMap::from([("NAME".to_owned(), "World".to_owned())]),
        workdir: Some("/app".into()),
        files: BTreeMap::from([("app.py".to_owned(), "print('hi')\n".to_owned())]),
    }])
}

static POD: LazyLock<Value> = LazyLock::new(|| {
    json!({"metadata": {"name": "web-1", "namespace": "demo"},
           "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "example/app:v1"}]},
           "status": {"podIP": "10.244.1.5"}})
});

fn pod() -> Pod<'static> {
    view_of(&POD)
}

fn run(c: &Catalogue, argv: &[&str]) -> ExecResult {
    let argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
    c.exec("example/app:v1", &pod(), &argv)
}

#[test]
fn image_references_normalise_like_a_runtime() {
    assert_eq!(
        normalize_image("nginx"),
        ("docker.io/library/nginx".to_owned(), "latest".to_owned())
    );
    assert_eq!(
        normalize_image("docker.io/example/app:v1"),
        normalize_image("example/app:v1")
    );
    assert_eq!(
        normalize_image("localhost:5000/x").0,
        "localhost:5000/x".to_owned()
    );
}

#[test]
fn pullability_follows_the_catalogue_and_builtins() {
    let c = catalogue();
    assert!(c.is_pullable("example/app:v1"));
    assert!(c.is_pullable("docker.io/example/app:v1"));
    assert!(!c.is_pullable("example/app:v10"));
    assert!(c.is_pullable("nginx:1.27"));
    assert!(c.is_pullable("busybox"));
    assert!(c.is_pullable("registry.k8s.io/pause:3.10"));
    assert!(!c.is_pullable("nosuch/image:1"));
    assert!(c.is_pullable("nginx:stable-alpine"));
    assert!(!c.is_pullable("nginx:nope"));
}

#[test]
fn learned_images_become_pullable_and_replace_earlier_ones_and_builtins() {
    let c = catalogue();
    assert!(!c.is_pullable("example/other:v2"));
    let spec = |image: &str, response: &str| AppSpec {
        image: image.into(),
        port: 9000,
        response: response.into(),
        logs: vec![],
        env: BTreeMap::new(),
        workdir: None,
        files: BTreeMap::new(),
    };
    c.learn(&[
        spec("example/other:v2", "first"),
        spec("nginx:1.27", "mine"),
    ]);
    c.learn(&[spec("example/other:v2", "second")]);
    assert!(c.is_pullable("example/other:v2"));
    let answer = |image| c.http_response(image, &pod(), "/").map(|(_, body)| body);
    assert_eq!(answer("example/other:v2").as_deref(), Some("second"));
    assert_eq!(answer("nginx:1.27").as_deref(), Some("mine"));
    // Other tags of a built-in image keep the built-in behaviour.
    assert_eq!(c.port("nginx:1.26"), Some(80));
    assert!(c.is_pullable("example/app:v1"));
}

#[test]
fn apps_answer_with_rendered_responses_and_logs() {
    let c = catalogue();
    let (code, body) = c.http_response("example/app:v1", &pod(), "/").unwrap();
    assert_eq!(code, 200);
    assert_eq!(body, "hello from web-1 in demo on node-a\n");
    assert_eq!(
        c.http_response("example/app:v1", &pod(), "/nope")
            .unwrap()
            .0,
        404
    );
    assert!(c.http_response("busybox", &pod(), "/").is_none());
    assert_eq!(c.logs("example/app:v1", &pod()), "serving on 10.244.1.5\n");
    assert_eq!(c.port("example/app:v1"), Some(8080));
}

#[test]
fn exec_answers_simple_commands() {
    let c = catalogue();
    let env = run(&c, &["env"]).stdout;
    assert!(env.starts_with("PATH="), "{env}");
    assert!(env.contains("HOSTNAME=web-1\nNAME=World\nKUBERNETES_SERVICE_PORT_HTTPS=443\n"));
    assert!(env.ends_with("HOME=/root\n"));
    assert_eq!(run(&c, &["hostname"]).stdout, "web-1\n");
    assert_eq!(run(&c, &["pwd"]).stdout, "/app\n");
    assert_eq!(run(&c, &["ls"]).stdout, "app.py\n");
    assert_eq!(run(&c, &["cat", "app.py"]).stdout, "print('hi')\n");
    assert_eq!(run(&c, &["cat", "/app/missing"]).exit_code, 1);
    assert_eq!(
        run(&c, &["curl", "localhost:8080"]).stdout,
        "hello from web-1 in demo on node-a\n"
    );
    assert_eq!(run(&c, &["curl", "localhost:80"]).exit_code, 7);
    assert_eq!(run(&c, &["sh", "-c", "echo hi there"]).stdout, "hi there\n");
    let missing = run(&c, &["frobnicate"]);
    assert_eq!(missing.exit_code, 127);
    assert!(missing.stderr.contains("command not found"));
}
