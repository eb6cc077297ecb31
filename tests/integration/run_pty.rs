//! The interactive screen of `kubetutor run` in a real terminal (tmux): first step shown, a
//! tick after the learner's command, single keys, typed text that passes nothing, a resize,
//! resume, a finished lesson's question, and q, Ctrl-C (outside and inside a prompt) and
//! SIGTERM leaving the terminal sane.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::run_json::{World, lesson_path};

pub(crate) use crate::support::tmux::Tmux;

/// The shell line for run number `n` of `lesson` with `args`: it clears the screen and prints
/// its own markers (`RUN-n`, then `EXIT-n:code`), so nothing stale matches.
fn numbered_run(n: u32, lesson: &Path, args: &str) -> String {
    format!(
        "clear; printf 'RUN-%s\\n' {n}; {} run {} {args}; echo EXIT-{n}:$?",
        assert_cmd::cargo::cargo_bin("kubetutor").display(),
        lesson.display()
    )
}

/// How many lines of `screen` contain `text`.
fn lines_with(screen: &str, text: &str) -> usize {
    screen.lines().filter(|line| line.contains(text)).count()
}

fn sane_terminal(tmux: &Tmux, dir: &Path, name: &str) {
    let file = dir.join(name);
    tmux.line(&format!("stty -a > {}", file.display()));
    let deadline = Instant::now() + Duration::from_secs(10);
    let stty = loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && text.contains("icanon")
        {
            break text;
        }
        assert!(Instant::now() < deadline, "stty never ran");
        std::thread::sleep(Duration::from_millis(100));
    };
    let flags: Vec<&str> = stty.split([' ', ';', '\n']).collect();
    for flag in ["echo", "icanon", "isig"] {
        assert!(flags.contains(&flag), "{flag} is off after Ctrl-C:\n{stty}");
    }
}

#[test]
fn the_interactive_screen_ticks_goals_gives_hints_quits_resumes_and_survives_ctrl_c() {
    let Some(world) = World::start() else { return };
    let Some(tmux) = Tmux::start(world.dir.path()) else {
        return;
    };
    let run = |n: u32| numbered_run(n, &lesson_path(), "--context kubetutor-sandbox");

    tmux.line(&run(1));
    tmux.wait_for("RUN-1");
    tmux.wait_for("Step 1/5 · Read first");
    tmux.wait_for("Press Enter to continue");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Step 2/5 · Create the deployment");
    tmux.wait_for("$ kubectl create deployment web --image=example/web:v1");

    tmux.keys(&["h"]);
    tmux.wait_for("Hint 1/1: kubectl create deployment takes --image");

    assert!(world.kubectl("kubectl create deployment web --image=example/web:v1"));
    let screen = tmux.wait_for("✔ Step 2/5 passed");
    assert!(
        screen.contains("✔ deployed: "),
        "the goal is ticked:\n{screen}"
    );
    let screen = tmux.wait_for("Step 3/5 · Expose it");
    assert!(screen.contains("POD = web-"), "the current value: {screen}");

    tmux.keys(&["q"]);
    tmux.wait_for("EXIT-1:0");

    // The next run resumes; Ctrl-C inside the menu (inquire's raw mode) exits 130.
    tmux.line(&run(2));
    tmux.wait_for("RUN-2");
    tmux.wait_for("Resuming at step 3/5 · Expose it");
    tmux.wait_for("exposed: ");
    tmux.keys(&["Enter"]);
    tmux.wait_for("What now?");
    tmux.keys(&["C-c"]);
    tmux.wait_for("EXIT-2:130");
    sane_terminal(&tmux, world.dir.path(), "stty-menu.txt");

    // Ctrl-C outside any prompt exits 130 too, and the step is still the one to resume.
    tmux.line(&run(3));
    tmux.wait_for("RUN-3");
    tmux.wait_for("Resuming at step 3/5 · Expose it");
    tmux.wait_for("exposed: ");
    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for("EXIT-3:130");
    assert!(screen.contains("Progress saved"), "{screen}");
    sane_terminal(&tmux, world.dir.path(), "stty-loop.txt");
}

#[test]
fn a_step_completed_while_the_menu_is_open_passes_when_it_closes_without_garbling_it() {
    let Some(world) = World::start() else { return };
    let Some(tmux) = Tmux::start(world.dir.path()) else {
        return;
    };
    tmux.line(&format!(
        "clear; {} run {} --context kubetutor-sandbox; echo EXIT:$?",
        assert_cmd::cargo::cargo_bin("kubetutor").display(),
        lesson_path().display()
    ));
    tmux.wait_for("Press Enter to continue");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Step 2/5 · Create the deployment");
    tmux.wait_for("deployed: ");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Show the solution");
    assert!(world.kubectl("kubectl create deployment web --image=example/web:v1"));
    // The goal holds now, but the menu owns the terminal: nothing is printed over it.
    std::thread::sleep(Duration::from_secs(2));
    let screen = tmux.screen();
    assert!(!screen.contains("Step 2/5 passed"), "{screen}");
    assert!(screen.contains("Quit (progress is saved)"), "{screen}");
    // Esc closes the menu; the step passes at once and the next one prints cleanly.
    tmux.keys(&["Escape"]);
    tmux.wait_for("✔ Step 2/5 passed");
    let screen = tmux.wait_for("Step 3/5 · Expose it");
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("Step 3/5 · Expose it")),
        "the next step starts at the left margin:\n{screen}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("EXIT:0");
}

#[test]
fn without_a_lesson_the_learner_picks_one_from_a_menu() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(tmux) = Tmux::start(dir.path()) else {
        return;
    };
    let _guard = crate::practice::Guard::new(&dir.path().join("state"));
    let lessons = dir.path().join("lessons");
    std::fs::create_dir(&lessons).expect("lessons dir");
    for (file, title) in [("a.yaml", "Alpha"), ("b.yaml", "Beta")] {
        std::fs::write(
            lessons.join(file),
            format!("version: 1\ntitle: {title}\nsteps:\n  - id: read\n    title: Read {title}\n"),
        )
        .expect("write lesson");
    }
    tmux.line(&format!(
        "clear; cd {}; {} run --sandbox; echo EXIT:$?",
        dir.path().display(),
        assert_cmd::cargo::cargo_bin("kubetutor").display(),
    ));
    tmux.wait_for("Which lesson?");
    tmux.wait_for("Beta  (lessons/b.yaml)");
    tmux.keys(&["Down"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Step 1/1 · Read Beta");
    tmux.keys(&["Enter"]);
    tmux.wait_for("EXIT:0");
}

#[test]
fn the_learner_is_asked_before_a_cluster_that_is_not_a_practice_one() {
    let Some(world) = World::start() else { return };
    let Some(tmux) = Tmux::start(world.dir.path()) else {
        return;
    };
    let prod = crate::run_sandbox::prod_kubeconfig(&world);
    tmux.line(&format!(
        "clear; KUBECONFIG={} {} run {}; echo EXIT-1:$?",
        prod.display(),
        assert_cmd::cargo::cargo_bin("kubetutor").display(),
        lesson_path().display()
    ));
    tmux.wait_for("does not look like a practice cluster");
    tmux.line("n");
    let screen = tmux.wait_for("EXIT-1:2");
    assert!(
        screen.contains("not using context prod-cluster"),
        "{screen}"
    );
}

#[test]
fn single_keys_act_without_enter_typed_text_passes_nothing_and_a_resize_redraws_cleanly() {
    let Some(world) = World::start() else { return };
    let Some(tmux) = Tmux::start(world.dir.path()) else {
        return;
    };
    let run = |n: u32| numbered_run(n, &lesson_path(), "--context kubetutor-sandbox");
    tmux.line(&run(1));
    tmux.wait_for("Step 1/5 · Read first  [intro]");
    tmux.wait_for("Press Enter to continue");

    // A command typed into this window by mistake, then Enter: the reading step stays.
    tmux.keys(&["-l", "kubectl get pods"]);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("This window only takes keys");
    assert!(!screen.contains("Step 1/5 passed"), "{screen}");
    tmux.keys(&["?"]);
    tmux.wait_for("Keys: h next hint");
    // Enter with nothing typed continues.
    tmux.keys(&["Enter"]);
    tmux.wait_for("Step 2/5 · Create the deployment  [create]");
    tmux.wait_for("deployed: ");
    tmux.keys(&["h"]);
    let screen = tmux.wait_for("Hint 1/1:");
    assert_eq!(
        lines_with(&screen, "deployed: "),
        1,
        "one checklist line:\n{screen}"
    );

    // A narrower window: the step is redrawn at the new width, each line once.
    tmux.cmd(&["resize-window", "-t", "main", "-x", "70", "-y", "30"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let screen = loop {
        let screen = tmux.screen();
        // The redraw starts from a clean screen: the earlier step is gone from it.
        if !screen.contains("Step 1/5") && screen.contains("deployed: ") {
            break screen;
        }
        assert!(
            Instant::now() < deadline,
            "no redraw after the resize:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(150));
    };
    for once in [
        "Step 2/5 · Create the deployment  [create]",
        "$ kubectl create deployment web --image=example/web:v1",
        "Hint 1/1:",
        "deployed: ",
    ] {
        assert_eq!(lines_with(&screen, once), 1, "{once:?} once:\n{screen}");
    }
    assert!(
        screen.lines().all(|line| line.chars().count() <= 70),
        "{screen}"
    );

    // The menu leaves nothing behind when it closes: no answer line, one checklist line.
    tmux.keys(&["Enter"]);
    tmux.wait_for("Show the solution");
    tmux.keys(&["Escape"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let screen = loop {
        let screen = tmux.screen();
        if !screen.contains("What now?") && screen.contains("deployed: ") {
            break screen;
        }
        assert!(Instant::now() < deadline, "the menu stays:\n{screen}");
        std::thread::sleep(Duration::from_millis(150));
    };
    assert_eq!(lines_with(&screen, "deployed: "), 1, "{screen}");
    assert!(!screen.contains("canceled"), "{screen}");

    // k asks; r runs the step's solution for the learner and the step ends skipped.
    tmux.keys(&["k"]);
    let screen = tmux.wait_for("r to run its solution");
    assert!(
        screen.contains("$ kubectl create deployment web --image=example/web:v1"),
        "the commands are shown before they run:\n{screen}"
    );
    tmux.keys(&["r"]);
    tmux.wait_for("↷ Step 2/5 skipped");
    tmux.wait_for("Step 3/5 · Expose it  [expose]");
    assert!(
        world.kubectl("kubectl get deployment web"),
        "the solution ran"
    );

    // q alone quits, progress saved, and the terminal is back to normal.
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("EXIT-1:0");
    assert!(screen.contains("Progress saved"), "{screen}");
    sane_terminal(&tmux, world.dir.path(), "stty-quit.txt");

    // The next run resumes where q left it: progress was saved.
    tmux.line(&run(2));
    tmux.wait_for("Resuming at step 3/5 · Expose it");
    tmux.wait_for("exposed: ");
    tmux.keys(&["C-c"]);
    tmux.wait_for("EXIT-2:130");
    sane_terminal(&tmux, world.dir.path(), "stty-ctrl-c.txt");

    // SIGTERM ends the run the same way: progress saved, terminal restored.
    tmux.line(&run(3));
    tmux.wait_for("RUN-3");
    tmux.wait_for("exposed: ");
    let shell = String::from_utf8_lossy(
        &tmux
            .cmd(&["display", "-p", "-t", "main", "#{pane_pid}"])
            .stdout,
    )
    .trim()
    .to_owned();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
        .expect("the shell's children");
    let runner = children.split_whitespace().next().expect("the runner runs");
    let killed = Command::new("kill")
        .args(["-TERM", runner])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let screen = tmux.wait_for("EXIT-3:130");
    assert!(screen.contains("Progress saved"), "{screen}");
    sane_terminal(&tmux, world.dir.path(), "stty-term.txt");
}

#[test]
fn a_finished_lesson_offers_a_clean_start_on_the_sandbox() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(tmux) = Tmux::start(dir.path()) else {
        return;
    };
    let _practice = crate::practice::Guard::new(&dir.path().join("state"));
    let lesson = dir.path().join("two.yaml");
    std::fs::write(
        &lesson,
        "version: 1\ntitle: Two\nsteps:\n  - id: one\n    title: One\n  - id: two\n    title: Two\n",
    )
    .expect("write lesson");
    let run = |n: u32| numbered_run(n, &lesson, "--sandbox");
    tmux.line(&run(1));
    tmux.wait_for("Step 1/2 · One  [one]");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Step 2/2 · Two  [two]");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("EXIT-1:0");
    assert!(
        screen.contains("Lesson complete: 2 passed, 0 skipped, 0 to go of 2 steps"),
        "{screen}"
    );

    tmux.line(&run(2));
    tmux.wait_for("You finished this lesson before. Start over?");
    let screen = tmux.wait_for("Start over on a clean practice cluster");
    assert!(
        screen.contains("Start from step 1 on the cluster as it is"),
        "{screen}"
    );
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("Step 1/2 · One  [one]");
    assert!(
        screen.contains("Sandbox reset"),
        "a clean practice cluster: {screen}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("EXIT-2:0");

    // Started over, the lesson is no longer finished: the next run resumes without asking.
    tmux.line(&run(3));
    tmux.wait_for("Resuming at step 1/2");
    tmux.keys(&["q"]);
    tmux.wait_for("EXIT-3:0");
}

#[test]
fn a_finished_lesson_on_a_context_names_what_is_left_and_starts_over_in_a_clean_namespace() {
    let Some(world) = World::start() else { return };
    let Some(tmux) = Tmux::start(world.dir.path()) else {
        return;
    };
    let lesson = world.dir.path().join("again.yaml");
    std::fs::write(
        &lesson,
        "version: 1\ntitle: Again\nnamespace: run-basics\nsteps:\n  - id: make\n    title: Make it\n    \
         goals:\n      - kind: deployed\n        deployment: web\n        image: example/web:v1\n",
    )
    .expect("write lesson");
    // The namespace is the lesson's: `run` makes it; the learner's Deployment is left in it.
    assert!(world.kubectl("kubectl create namespace run-basics"));
    assert!(world.kubectl("kubectl create deployment web --image=example/web:v1"));
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("kubetutor"));
    first
        .arg("run")
        .arg(&lesson)
        .args(["--context", "kubetutor-sandbox", "--no-input"])
        .env("KUBECONFIG", world.kubeconfig())
        .env("XDG_STATE_HOME", world.dir.path().join("state"))
        .env("HOME", world.dir.path());
    let out = first.output().expect("kubetutor runs");
    assert!(out.status.success(), "{out:?}");

    tmux.line(&format!(
        "clear; {} run {} --context kubetutor-sandbox; echo EXIT:$?",
        assert_cmd::cargo::cargo_bin("kubetutor").display(),
        lesson.display()
    ));
    tmux.wait_for("namespace run-basics still has Deployment web. Start over?");
    tmux.wait_for("Start over in a clean namespace run-basics");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("Step 1/1 · Make it  [make]");
    assert!(screen.contains("Created namespace run-basics."), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for("EXIT:0");
    assert!(
        !world.kubectl("kubectl get deployment web"),
        "the old Deployment went with its namespace"
    );
}
