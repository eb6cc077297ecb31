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
