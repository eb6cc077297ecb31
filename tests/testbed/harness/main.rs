//! The tests that need a real control plane: kubetutor, kubectl and kube-rs against
//! kube-apiserver 1.37 with its controllers, etcd and KWOK (`tests/testbed/testbed.sh`), and the
//! sandbox measured against it.
//!
//! A custom harness (libtest-mimic): outside an isolated network namespace it builds the test
//! bed (cached by version), then runs itself again through `testbed.sh exec`, in a namespace
//! whose only interface is `lo`; inside, it starts one test bed, runs the tests against it and
//! stops it. When Go is missing the tests are skipped with a loud message, except in CI, where
//! that fails.

#[path = "../../integration/common.rs"]
mod common;
#[path = "../../support/mod.rs"]
mod support;

mod bed;
mod check;
mod differential;
mod kube_api;
mod learner;
mod rights;
mod shell;

use std::process::{Command, ExitCode};

use libtest_mimic::{Arguments, Failed, Trial};

use bed::Bed;

/// Set by this harness for the copy of itself that runs inside the namespace.
const INSIDE: &str = "KUBETUTOR_TESTBED_INSIDE";

/// A test: a name and a function of the shared test bed.
pub struct Test {
    /// Module and function, as libtest would name them.
    pub name: &'static str,
    /// The test; `Err` (or a panic) fails it.
    pub run: fn(&Bed) -> Result<(), Failed>,
}

fn tests() -> Vec<Test> {
    let mut all = Vec::new();
    all.extend(learner::tests());
    all.extend(check::tests());
    all.extend(kube_api::tests());
    all.extend(rights::tests());
    all.extend(shell::tests());
    all.extend(differential::tests());
    all
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let tests = tests();
    if args.list {
        let trials = tests
            .iter()
            .map(|t| Trial::test(t.name, || Ok(())))
            .collect();
        return libtest_mimic::run(&args, trials).exit_code();
    }
    if std::env::var_os(INSIDE).is_some() || bed::isolated() {
        return inside(&args, tests);
    }
    outside()
}

/// Builds the test bed, then runs this harness again inside a namespace of its own.
fn outside() -> ExitCode {
    if common::real_kubectl().is_none() {
        return ExitCode::SUCCESS;
    }
    if let Err(why) = bed::build() {
        return skip_or_fail(&why);
    }
    let me = std::env::current_exe().expect("the harness knows its path");
    let status = Command::new(bed::script())
        .arg("exec")
        .arg(me)
        .args(std::env::args_os().skip(1))
        .env(INSIDE, "1")
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("the test bed run failed ({status})");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("failed to enter the test bed's namespace: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Inside the namespace: one test bed for every test.
fn inside(args: &Arguments, tests: Vec<Test>) -> ExitCode {
    if common::real_kubectl().is_none() {
        return ExitCode::SUCCESS;
    }
    if !bed::built() {
        // Building needs the Go module proxy, which an isolated namespace cannot reach.
        return skip_or_fail(&format!(
            "it is not built, and cannot be built in here: run `{} build` first",
            bed::script().display()
        ));
    }
    let bed = match Bed::up() {
        Ok(bed) => Box::leak(Box::new(bed)),
        Err(why) => {
            eprintln!("failed to start the test bed: {why}");
            return ExitCode::FAILURE;
        }
    };
    let shared: &'static Bed = bed;
    let trials = tests
        .into_iter()
        .map(|t| {
            let run = t.run;
            Trial::test(t.name, move || {
                let outcome = std::panic::catch_unwind(|| run(shared));
                if !matches!(outcome, Ok(Ok(()))) {
                    // What the fake nodes saw is what a failure's message cannot say.
                    for log in ["testbed-node", "kwok"] {
                        eprintln!(
                            "--- {} ({log}.log, last lines) ---\n{}",
                            t.name,
                            shared.log_tail(log, 40)
                        );
                    }
                }
                match outcome {
                    Ok(result) => result,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(args, trials);
    shared.down();
    conclusion.exit_code()
}

/// Without a test bed: a loud skip locally, a failure in CI.
fn skip_or_fail(why: &str) -> ExitCode {
    if std::env::var_os("CI").is_some() {
        eprintln!("CI needs the real-control-plane test bed: {why}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "\n!!!!!!!! SKIPPING every test against the real control plane: {why}.\n\
         !!!!!!!! Install Go 1.26 (with access to the Go module proxy) and run \
         tests/testbed/testbed.sh build; see docs/testbed.md.\n"
    );
    ExitCode::SUCCESS
}
