//! kubetutor as installed: the built binary copied into a temporary root and run from an
//! empty folder, with no source tree around it (issue 16). It must still know its lessons,
//! write them out, and complete them in a shell.

use std::path::PathBuf;
use std::process::{Command, Output};

use kubetutor::lesson;

use crate::common::{root, scrubbed, text};
use crate::practice::Guard;
use crate::run_json::RunChild;

/// The shipped lesson the tests expect to find built in.
const PART3: &str = "part3-deploy-a-simple-app";

/// An installed kubetutor: `ROOT/bin/kubetutor`, a learner's HOME, and an empty folder to
/// work in.
struct Installed {
    bin: PathBuf,
    home: tempfile::TempDir,
    work: tempfile::TempDir,
    _root: tempfile::TempDir,
}

impl Installed {
    fn new() -> Installed {
        let root = tempfile::tempdir().expect("temp root");
        let bin = root.path().join("bin/kubetutor");
        std::fs::create_dir_all(bin.parent().expect("bin/")).expect("mkdir bin");
        std::fs::copy(assert_cmd::cargo::cargo_bin("kubetutor"), &bin).expect("install");
        Installed {
            bin,
            home: tempfile::tempdir().expect("temp home"),
            work: tempfile::tempdir().expect("temp work folder"),
            _root: root,
        }
    }

    fn state(&self) -> PathBuf {
        self.home.path().join("state")
    }

    /// `kubetutor ARGS` run from the empty folder, touching only the temp HOME.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = scrubbed(Command::new(&self.bin));
        command
            .args(args)
            .current_dir(self.work.path())
            .env("HOME", self.home.path())
            .env("XDG_STATE_HOME", self.state())
            .env("KUBECONFIG", self.home.path().join("kubeconfig"));
        command
    }

    fn run(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = self.command(args).output().expect("kubetutor runs");
        (out.status.code(), text(&out))
    }

    /// `bash --norc -c SCRIPT` with `$KUBETUTOR` the installed binary, from the empty folder.
    fn bash(&self, script: &str) -> Output {
        Command::new("bash")
            .args(["--norc", "-c", script])
            .current_dir(self.work.path())
            .env("KUBETUTOR", &self.bin)
            .env("HOME", self.home.path())
            .env("XDG_STATE_HOME", self.state())
            .output()
            .expect("bash runs")
    }
}

fn part3() -> lesson::LoadedLesson {
    lesson::load(&root().join(format!("lessons/{PART3}.yaml"))).expect("the shipped lesson")
}

#[test]
fn list_shows_the_built_in_lessons_and_which_file_takes_a_name() {
    let installed = Installed::new();
    let shipped = part3();
    let (code, out) = installed.run(&["list"]);
    assert_eq!(code, Some(0), "{out}");
    let line = format!(
        "{PART3}  {}  ({} steps, built in)\n    steps: 1 {},",
        shipped.lesson.title,
        shipped.lesson.steps.len(),
        shipped.lesson.steps[0].id
    );
    assert!(out.contains(&line), "{out}");
    assert!(!out.contains("not a folder"), "{out}");

    // A lesson file of the same name in ./lessons is what `run NAME` follows; list says so.
    let lessons = installed.work.path().join("lessons");
    std::fs::create_dir(&lessons).expect("mkdir lessons");
    let mine = shipped.text.replace(
        &format!("title: {}", shipped.lesson.title),
        "title: My own copy",
    );
    std::fs::write(lessons.join(format!("{PART3}.yaml")), mine).expect("write");
    let (code, out) = installed.run(&["list"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("{PART3}.yaml  My own copy  (")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "built in; `lessons/{PART3}.yaml` has its name and is run instead)"
        )),
        "{out}"
    );
    let (code, out) = installed.run(&["list", "no/such/folder"]);
    assert_eq!(code, Some(2), "a folder given must exist: {out}");
}

#[test]
fn run_follows_a_built_in_lesson_from_an_empty_folder_and_keeps_its_progress() {
    let installed = Installed::new();
    let guard = Guard::new(&installed.state());
    let mut run =
        RunChild::spawn(installed.command(&["run", PART3, "--no-input", "--sandbox", "--json"]));
    let first = &part3().lesson.steps[0].id;
    let mut started = None;
    while let Some(event) = run.next() {
        if event["event"] == "step_started" {
            started = Some(event);
            break;
        }
    }
    let started = started.expect("a step starts");
    assert_eq!(started["step"], first.as_str(), "{started}");
    assert!(guard.pid().is_some(), "run started the practice cluster");
    // SIGTERM ends a run with its progress saved, under the lesson's name, not a folder's.
    let pid = rustix::process::Pid::from_child(&run.child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let (code, stderr) = run.finish();
    assert_ne!(code, Some(0), "{stderr}");
    let saved: Vec<PathBuf> = std::fs::read_dir(installed.state().join("kubetutor/progress"))
        .expect("progress folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let name = saved[0].file_name().expect("name").to_string_lossy();
    assert!(name.starts_with(&format!("{PART3}-")), "{name}");
    let progress = std::fs::read_to_string(&saved[0]).expect("progress");
    assert!(
        progress.contains(&format!("\"builtin:{PART3}\"")),
        "{progress}"
    );
}

#[test]
fn exported_lessons_lint_clean_and_are_not_overwritten_unasked() {
    let installed = Installed::new();
    let (code, out) = installed.run(&["lessons", "export", "course"]);
    assert_eq!(code, Some(0), "{out}");
    let course = installed.work.path().join("course");
    let exported = std::fs::read_to_string(course.join(format!("{PART3}.yaml"))).expect("lesson");
    assert!(
        exported.starts_with("# yaml-language-server: $schema=lesson.schema.json\n"),
        "{exported}"
    );
    assert_eq!(
        std::fs::read_to_string(course.join("lesson.schema.json")).expect("schema"),
        std::fs::read_to_string(root().join("schema/lesson.schema.json")).expect("shipped")
    );
    let (code, out) = installed.run(&["lint", "course"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("checked: no problems"), "{out}");

    std::fs::write(course.join("lesson.schema.json"), "changed").expect("write");
    let (code, out) = installed.run(&["lessons", "export", "course"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("--force") && out.contains("lesson.schema.json"),
        "{out}"
    );
    let kept = std::fs::read_to_string(course.join("lesson.schema.json")).expect("schema");
    assert_eq!(kept, "changed", "nothing is overwritten without --force");
    let (code, out) = installed.run(&["lessons", "export", "course", "--force"]);
    assert_eq!(code, Some(0), "{out}");
    let replaced = std::fs::read_to_string(course.join("lesson.schema.json")).expect("schema");
    assert_ne!(replaced, "changed");
    // A built-in name is accepted where lesson files are.
    let (code, out) = installed.run(&["lint", PART3]);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn completion_scripts_are_written_for_each_shell() {
    let installed = Installed::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, out) = installed.run(&["completions", shell]);
        assert_eq!(code, Some(0), "{shell}: {out}");
        assert!(
            out.contains("KUBETUTOR_COMPLETE") && out.contains(&*installed.bin.to_string_lossy()),
            "{shell}: {out}"
        );
    }
    let (code, out) = installed.run(&["completions", "tcsh"]);
    assert_eq!(code, Some(2), "{out}");
}

#[test]
fn bash_completes_commands_lesson_names_and_step_ids() {
    let installed = Installed::new();
    let out = installed.bash(r#"source <("$KUBETUTOR" completions bash) && complete -p kubetutor"#);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("-F _clap_complete_kubetutor kubetutor"),
        "{}",
        text(&out)
    );
    // What bash does on Tab: fill COMP_WORDS and COMP_CWORD, call the function.
    let complete = |words: &str, current: &str, previous: &str| -> Vec<String> {
        let script = format!(
            r#"source <("$KUBETUTOR" completions bash) || exit 1
COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMP_TYPE=9
_clap_complete_kubetutor kubetutor '{current}' '{previous}'
printf '%s\n' "${{COMPREPLY[@]}}""#
        );
        let out = installed.bash(&script);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .collect()
    };
    assert!(
        complete("kubetutor li", "li", "kubetutor").contains(&"lint".to_owned()),
        "subcommands"
    );
    let names = complete("kubetutor run part", "part", "run");
    assert_eq!(names, [PART3], "built-in lesson names");
    let shipped = part3();
    let last = shipped.lesson.steps.last().expect("steps");
    let prefix: String = last.id.chars().take(3).collect();
    let ids = complete(
        &format!("kubetutor run {PART3} --from {prefix}"),
        &prefix,
        "--from",
    );
    let expected: Vec<String> = shipped
        .lesson
        .steps
        .iter()
        .filter(|s| s.id.starts_with(&prefix))
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(ids, expected, "the lesson's step ids");
}

#[test]
fn man_prints_a_roff_page_of_every_command() {
    let installed = Installed::new();
    let (code, out) = installed.run(&["man"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(".TH kubetutor 1"), "{out}");
    for command in ["run", "list", "lessons", "completions"] {
        assert!(
            out.contains(&format!("kubetutor\\-{command}(1)")),
            "{command}: {out}"
        );
    }
    // The pages the main one refers to exist when written out.
    let (code, out) = installed.run(&["man", "--out", "man1"]);
    assert_eq!(code, Some(0), "{out}");
    let pages = installed.work.path().join("man1");
    for page in [
        "kubetutor.1",
        "kubetutor-run.1",
        "kubetutor-lessons-export.1",
    ] {
        let text = std::fs::read_to_string(pages.join(page)).unwrap_or_default();
        assert!(text.contains(".TH kubetutor"), "{page}: {text}");
    }
}
