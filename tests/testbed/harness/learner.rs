//! A scripted learner typing the tutorial's own kubectl commands while `kubetutor run
//! --no-input --json --context testbed` watches the real control plane.

use std::path::Path;

use libtest_mimic::Failed;

use crate::Test;
use crate::bed::{Bed, repo};
use crate::support::learner::{
    RunChild, assert_every_step_passed, part3_tutorial_commands, play, wrong_answers_never_pass,
};

pub fn tests() -> Vec<Test> {
    vec![
        Test {
            name: "learner::the_part3_lesson_passes_with_the_tutorials_own_commands",
            run: part3_lesson_passes,
        },
        Test {
            name: "learner::wrong_answers_never_pass_and_the_reason_names_the_difference",
            run: wrong_answers,
        },
        Test {
            name: "learner::from_a_later_step_with_yes_sets_up_the_earlier_steps_and_it_passes",
            run: from_a_later_step,
        },
    ]
}

/// kubectl as the learner types it, in `namespace` when given; says whether it worked.
fn typed(bed: &Bed, home: &Path, namespace: Option<&str>, command: &str) -> bool {
    let mut kubectl = bed.kubectl_in(home, &bed.kubeconfig);
    if let Some(ns) = namespace {
        kubectl.args(["-n", ns]);
    }
    crate::support::learner::typed(kubectl, command)
}

fn part3_lesson_passes(bed: &Bed) -> Result<(), Failed> {
    let home = bed.scratch("learner-part3");
    let mut cmd = bed.kubetutor(&home);
    cmd.args(["run", "--no-input", "--json", "--context", "testbed"])
        .arg(repo("lessons/part3-deploy-a-simple-app.yaml"));
    let mut run = RunChild::spawn(cmd);
    let events = play(
        &mut run,
        |c| typed(bed, &home, None, c),
        part3_tutorial_commands,
    );
    let (code, stderr) = run.finish();
    assert_every_step_passed(&events, 17, code, &stderr);
    Ok(())
}

fn wrong_answers(bed: &Bed) -> Result<(), Failed> {
    let home = bed.scratch("learner-wrong");
    let lesson = repo("tests/lessons/run-basic.yaml");
    wrong_answers_never_pass(
        |extra| {
            let mut cmd = bed.kubetutor(&home);
            cmd.args(["run", "--no-input", "--json", "--context", "testbed"])
                .arg(&lesson)
                .args(extra);
            RunChild::spawn(cmd)
        },
        |c| typed(bed, &home, Some("run-basics"), c),
    );
    Ok(())
}

/// `run --from scale-up --yes` in an empty namespace of the real control plane: the solutions
/// of the earlier steps whose goals do not hold run first, then the learner's own command
/// passes the step.
fn from_a_later_step(bed: &Bed) -> Result<(), Failed> {
    let home = bed.scratch("learner-from");
    let namespace = bed.namespace("from-setup")?;
    let mut cmd = bed.kubetutor(&home);
    cmd.args([
        "run",
        "--no-input",
        "--json",
        "--context",
        "testbed",
        "--yes",
    ])
    .args(["--namespace", &namespace, "--from", "scale-up"])
    .arg(repo("lessons/part3-deploy-a-simple-app.yaml"));
    let mut run = RunChild::spawn(cmd);
    let mut events = crate::support::learner::until_a_step_starts(&mut run);
    let started: Vec<String> = crate::support::learner::names(&events)
        .into_iter()
        .filter(|n| n.starts_with("step_started"))
        .collect();
    if started != ["step_started scale-up"] {
        return Err(format!("the run starts at scale-up: {events:?}").into());
    }
    for line in part3_tutorial_commands("scale-up") {
        if !typed(bed, &home, Some(&namespace), &line) {
            return Err(format!("{line} failed").into());
        }
    }
    while let Some(event) = run.next() {
        let name = event["event"].as_str().unwrap_or_default().to_owned();
        if name == "step_failed" {
            return Err(format!("scale-up failed: {event}").into());
        }
        events.push(event);
        if name == "step_passed" {
            break;
        }
    }
    let _ = run.kill();
    let (_, stderr) = run.finish();
    if crate::support::learner::names(&events)
        .last()
        .map(String::as_str)
        != Some("step_passed scale-up")
    {
        return Err(format!("scale-up passes: {events:?}\n{stderr}").into());
    }
    for shown in [
        "Set up step 1/17 [deploy].",
        "Set up step 10/17 [expose-again].",
    ] {
        if !stderr.contains(shown) {
            return Err(format!("{shown:?} in:\n{stderr}").into());
        }
    }
    // The earlier steps' objects are in the run's namespace, not the admin's default.
    bed.kubectl_ok(&["-n", &namespace, "get", "service", "hello-part3"])?;
    Ok(())
}
