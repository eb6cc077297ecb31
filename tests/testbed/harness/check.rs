//! `kubetutor check --context testbed` of every shipped lesson.

use libtest_mimic::Failed;

use crate::Test;
use crate::bed::{Bed, repo};

pub fn tests() -> Vec<Test> {
    vec![Test {
        name: "check::every_shipped_lesson_passes_on_the_real_control_plane",
        run: every_shipped_lesson_passes,
    }]
}

fn every_shipped_lesson_passes(bed: &Bed) -> Result<(), Failed> {
    let home = bed.scratch("check-lessons");
    let junit = home.join("junit.xml");
    let out = bed
        .kubetutor(&home)
        .args(["check", "--context", "testbed", "--json", "--junit"])
        .arg(&junit)
        .arg(repo("lessons"))
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    if out.status.code() != Some(0) {
        return Err(format!(
            "check exited with {:?}:\n{stdout}\n{stderr}",
            out.status.code()
        )
        .into());
    }
    // On the real control plane too, every line is an event of the shipped schema.
    let events = crate::support::events::parse_events(&stdout);
    let ends: Vec<_> = events
        .iter()
        .filter(|e| matches!(e["event"].as_str(), Some("lesson_passed" | "lesson_failed")))
        .collect();
    if ends.is_empty() || ends.iter().any(|end| end["event"] != "lesson_passed") {
        return Err(format!("every lesson ends with lesson_passed: {ends:?}").into());
    }
    let report = std::fs::read_to_string(&junit)?;
    if report.contains("<failure") || report.contains("<error") {
        return Err(format!("the JUnit report holds failures:\n{report}").into());
    }
    Ok(())
}
