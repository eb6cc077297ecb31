//! `kubetutor lint`, `schema` and `list` on the shipped lessons and on a corpus of bad ones.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kubetutor::lesson::{self, Goal};
use proptest::prelude::*;

use crate::common::{kubetutor, root};

/// Exit code, stdout and stderr in one text, for snapshots.
fn run_in_root(args: &[&str]) -> (i32, String) {
    let out = kubetutor()
        .current_dir(root())
        .args(args)
        .timeout(Duration::from_secs(20))
        .output()
        .expect("kubetutor runs");
    let code = out.status.code().unwrap_or(-1);
    let text = format!(
        "exit: {code}\n--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (code, text)
}

#[test]
fn bad_lessons_are_rejected_with_located_messages() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/lessons/bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus shrank: {files:?}");
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let relative = format!("tests/lessons/bad/{stem}.yaml");
        let started = Instant::now();
        let (code, text) = run_in_root(&["lint", &relative]);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{relative} took {:?}",
            started.elapsed()
        );
        let expected = if stem == "warnings" { 0 } else { 1 };
        assert_eq!(code, expected, "{text}");
        assert!(
            !text.contains(":0:"),
            "a location at line or column 0: {text}"
        );
        insta::assert_snapshot!(format!("bad_lesson_{stem}"), text);
    }
}

#[test]
fn shipped_lessons_lint_clean() {
    let (code, text) = run_in_root(&["lint", "lessons"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("checked: no problems"), "{text}");
}

#[test]
fn several_paths_share_one_summary() {
    let (code, text) = run_in_root(&["lint", "lessons", "tests/lessons/bad/warnings.yaml"]);
    assert_eq!(code, 0, "warnings alone do not fail: {text}");
    assert!(
        text.contains("2 lessons checked: 0 errors, 5 warnings\n"),
        "{text}"
    );
    let (code, text) = run_in_root(&[
        "lint",
        "tests/lessons/bad/warnings.yaml",
        "tests/lessons/bad/typo-step.yaml",
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.ends_with("2 lessons checked: 1 error, 5 warnings\n--- stderr\n"),
        "{text}"
    );
}

#[test]
fn list_shows_lessons_and_step_counts() {
    let (code, text) = run_in_root(&["list"]);
    assert_eq!(code, 0, "{text}");
    let loaded = lesson::load(&root().join("lessons/part3-deploy-a-simple-app.yaml")).unwrap();
    let line = format!(
        "part3-deploy-a-simple-app.yaml  {}  ({} steps)",
        loaded.lesson.title,
        loaded.lesson.steps.len()
    );
    assert!(text.contains(&line), "{text}");
    // The step ids `run --from` takes, numbered, under the lesson's line.
    let steps = format!("{line}\n    steps: 1 deploy, 2 look-around, 3 proxy,");
    assert!(text.contains(&steps), "{text}");

    let (code, text) = run_in_root(&["list", "tests/lessons/bad"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("typo-top-level.yaml  error: unknown field `titel`"),
        "{text}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let (code, text) = run_in_root(&["lint", "no/such/lesson.yaml"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no/such/lesson.yaml"), "{text}");
    let (code, _) = run_in_root(&["lint"]);
    assert_eq!(code, 2);
    let (code, _) = run_in_root(&["list", "no/such/folder"]);
    assert_eq!(code, 2);
}

#[test]
fn huge_files_are_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let line = "    - kubectl get pods --all-namespaces --output=wide --show-labels\n";
    let body = line.repeat(5 * 1024 * 1024 / line.len());
    std::fs::write(&path, format!("version: 1\ntitle: Huge\nsteps:\n{body}")).unwrap();
    let started = Instant::now();
    let out = kubetutor().arg("lint").arg(&path).output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("larger than 1024 KiB"));
}

#[test]
fn colours_only_on_request() {
    let (_, text) = run_in_root(&["lint", "tests/lessons/bad/typo-step.yaml"]);
    assert!(!text.contains('\u{1b}'), "plain output to a pipe: {text:?}");
}

fn schema_json() -> serde_json::Value {
    let out = kubetutor().arg("schema").output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

fn shipped_lessons() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("lessons"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

#[test]
fn schema_validates_every_shipped_lesson() {
    let schema = schema_json();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["$id"], "urn:kubetutor:lesson:v1");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    for file in shipped_lessons() {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schema/lesson.schema.json\n"),
            "{} must start with the schema modeline",
            file.display()
        );
        let instance: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
    // The schema must also refuse what lint refuses, e.g. a typo in a key.
    let bad: serde_json::Value = serde_yaml::from_str("version: 1\ntitel: x\nsteps: []\n").unwrap();
    assert!(!validator.is_valid(&bad));
}

#[test]
fn shipped_schema_file_matches_the_command() {
    let out = kubetutor().arg("schema").output().unwrap();
    let shipped = std::fs::read_to_string(root().join("schema/lesson.schema.json")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        shipped,
        "schema/lesson.schema.json is stale: run `cargo run -- schema > schema/lesson.schema.json`"
    );
}

/// Names, images and step ids used by the shipped lessons must not appear in `src/`.
///
/// Rule: every deployment, service and target name, every image and every step id of every
/// lesson is a needle; needles shorter than 4 characters are skipped, and so are step ids that
/// are ordinary words of the domain (listed in `COMMON`), which `src/` legitimately uses.
#[test]
fn src_knows_nothing_of_the_lessons() {
    const COMMON: &[&str] = &[
        "deploy",
        "proxy",
        "describe",
        "logs",
        "exec",
        "expose",
        "labels",
        "update",
        "scale-up",
        "scale-down",
        "roll-back",
        "look-around",
        "expose-again",
        "delete-service",
        "load-balancing",
        "verify-update",
        "broken-update",
    ];
    let mut needles = Vec::new();
    for file in shipped_lessons() {
        let loaded = lesson::load(&file).unwrap();
        for image in &loaded.lesson.sandbox.images {
            needles.push(image.image.clone());
        }
        for step in &loaded.lesson.steps {
            needles.push(step.id.clone());
            for goal in &step.goals {
                needles.extend(goal_names(goal));
            }
        }
    }
    // The repository of the images is lesson-specific too.
    let repos: Vec<String> = needles
        .iter()
        .filter_map(|n| n.split_once(':').map(|(repo, _)| repo.to_owned()))
        .collect();
    needles.extend(repos);
    needles.retain(|n| n.len() >= 4 && !COMMON.contains(&n.as_str()));
    needles.sort();
    needles.dedup();
    assert!(needles.len() >= 3, "{needles:?}");

    let mut offenders = Vec::new();
    visit(&root().join("src"), &mut |path, text| {
        for needle in &needles {
            if text.contains(needle.as_str()) {
                offenders.push(format!("{}: {needle}", path.display()));
            }
        }
    });
    assert!(
        offenders.is_empty(),
        "lesson specifics in src/: {offenders:#?}"
    );
}

fn goal_names(goal: &Goal) -> Vec<String> {
    let mut names = Vec::new();
    match goal {
        Goal::Deployed(g) => names.extend([g.deployment.clone(), g.image.clone()]),
        Goal::Exposed(g) => names.extend([g.deployment.clone(), g.service_name().to_owned()]),
        Goal::Scaled(g) => names.push(g.deployment.clone()),
        Goal::Updated(g) => names.extend([g.deployment.clone(), g.image.clone()]),
        Goal::RolledBack(g) => names.extend([g.deployment.clone(), g.image.clone()]),
        Goal::RolloutStuck(g) => names.extend([g.deployment.clone(), g.image.clone()]),
        Goal::Resource(g) => names.extend(g.target.name.clone()),
        Goal::Absent(g) => names.extend(g.target.name.clone()),
        Goal::Http(g) => names.push(g.service.clone()),
    }
    names
}

fn visit(dir: &Path, f: &mut dyn FnMut(&Path, &str)) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            visit(&path, f);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            f(&path, &text);
        }
    }
}

fn shipped_text() -> String {
    std::fs::read_to_string(root().join("lessons/part3-deploy-a-simple-app.yaml")).unwrap()
}

#[derive(Debug, Clone)]
enum Mutation {
    DeleteBytes(usize, usize),
    InsertText(usize, String),
    ReplaceByte(usize, u8),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Reindent(usize, usize),
    InjectTab(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let snippets = prop::sample::select(vec![
        "\t",
        "&a ",
        "*a",
        "<<: *a\n",
        "{",
        "[",
        "]",
        "}",
        ": ",
        "- ",
        "\"",
        "'",
        "#",
        "\n",
        "kind: deploy\n",
        "replicas: -1\n",
        "timeout: 2x\n",
        "\u{0}",
        "---\n",
        "!!str ",
        "id: deploy\n",
        "$NOPE ",
        "\u{feff}",
        "é",
    ]);
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Mutation::DeleteBytes(at, n)),
        (any::<usize>(), snippets).prop_map(|(at, s)| Mutation::InsertText(at, s.to_owned())),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::ReplaceByte(at, b)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), 0usize..12).prop_map(|(l, n)| Mutation::Reindent(l, n)),
        any::<usize>().prop_map(Mutation::InjectTab),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len().max(1);
    let mut lines: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let nl = lines.len().max(1);
    match m {
        Mutation::DeleteBytes(at, n) => {
            let at = at % len;
            let end = (at + n).min(bytes.len());
            bytes.drain(at.min(end)..end);
            return;
        }
        Mutation::InsertText(at, s) => {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, s.bytes());
            return;
        }
        Mutation::ReplaceByte(at, b) => {
            if !bytes.is_empty() {
                bytes[at % len] = *b;
            }
            return;
        }
        Mutation::Truncate(at) => {
            bytes.truncate(at % len);
            return;
        }
        Mutation::DeleteLine(l) => {
            lines.remove(l % nl);
        }
        Mutation::DuplicateLine(l) => {
            let line = lines[l % nl].clone();
            lines.insert(l % nl, line);
        }
        Mutation::SwapLines(a, b) => lines.swap(a % nl, b % nl),
        Mutation::Reindent(l, n) => {
            let line = &mut lines[l % nl];
            let content: Vec<u8> = line.iter().copied().skip_while(|b| *b == b' ').collect();
            *line = [vec![b' '; *n], content].concat();
        }
        Mutation::InjectTab(l) => lines[l % nl].insert(0, b'\t'),
    }
    *bytes = lines.join(&b'\n');
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Mutated lessons never panic the loader or lint, and every problem is located inside
    /// the text.
    #[test]
    fn mutated_lessons_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        let mut bytes = shipped_text().into_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let line_count = bytes.split(|b| *b == b'\n').count().max(1);
        let check = |d: &lesson::Diagnostic| {
            prop_assert!(d.line >= 1 && d.col >= 1, "{d:?}");
            prop_assert!(d.line <= line_count, "line {} of {line_count}: {d:?}", d.line);
            if let Some(snippet) = &d.snippet {
                prop_assert!(d.col <= snippet.chars().count() + 1, "{d:?}");
            }
            Ok(())
        };
        match lesson::load_bytes("mutated.yaml", &bytes) {
            Ok(loaded) => {
                for d in lesson::lint(&loaded) {
                    check(&d)?;
                }
            }
            Err(err) => {
                let d = err.diagnostic().expect("in-memory input is always read");
                check(d)?;
                let _ = d.to_string();
            }
        }
    }
}
