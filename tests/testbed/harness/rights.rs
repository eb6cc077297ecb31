//! A learner with only namespace rights: a ServiceAccount token bound to the `edit`
//! ClusterRole in one namespace, as a classroom hands out. `run` works in that namespace;
//! `check`, which needs a fresh namespace per lesson, says exactly which permission is missing.

use std::path::{Path, PathBuf};

use libtest_mimic::Failed;

use crate::Test;
use crate::bed::{Bed, repo};
use crate::support::learner::{
    RunChild, assert_every_step_passed, part3_tutorial_commands, play, typed,
};

pub fn tests() -> Vec<Test> {
    vec![
        Test {
            name: "rights::run_works_with_namespace_rights_only",
            run: run_works_with_namespace_rights_only,
        },
        Test {
            name: "rights::check_says_which_permission_is_missing",
            run: check_says_which_permission_is_missing,
        },
    ]
}

/// A kubeconfig (context `learner`, namespace `namespace`) holding a token of a
/// ServiceAccount that may `edit` that namespace and nothing else.
fn learner_kubeconfig(bed: &Bed, namespace: &str, dir: &Path) -> Result<PathBuf, Failed> {
    bed.namespace(namespace)?;
    bed.kubectl_ok(&["-n", namespace, "create", "serviceaccount", "learner"])?;
    bed.kubectl_ok(&[
        "-n",
        namespace,
        "create",
        "rolebinding",
        "learner-edit",
        "--clusterrole=edit",
        &format!("--serviceaccount={namespace}:learner"),
    ])?;
    let token = bed.kubectl_ok(&[
        "-n",
        namespace,
        "create",
        "token",
        "learner",
        "--duration=2h",
    ])?;
    let admin: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&bed.kubeconfig)?)?;
    let cluster = admin["clusters"][0]["cluster"].clone();
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testbed", "cluster": cluster}],
        "users": [{"name": "learner", "user": {"token": token.trim()}}],
        "contexts": [{"name": "learner", "context": {"cluster": "testbed", "user": "learner", "namespace": namespace}}],
        "current-context": "learner",
    });
    let path = dir.join("learner.kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&config)?)?;
    Ok(path)
}

fn run_works_with_namespace_rights_only(bed: &Bed) -> Result<(), Failed> {
    let home = bed.scratch("rights-run");
    let namespace = "learner-run";
    let kubeconfig = learner_kubeconfig(bed, namespace, &home)?;
    // The learner's rights really are limited.
    let nodes = bed
        .kubectl_in(&home, &kubeconfig)
        .args(["get", "nodes"])
        .output()?;
    assert!(!nodes.status.success(), "the learner may not list nodes");

    let mut cmd = bed.kubetutor(&home);
    cmd.env("KUBECONFIG", &kubeconfig)
        .args(["run", "--no-input", "--json", "--namespace", namespace])
        .arg(repo("lessons/part3-deploy-a-simple-app.yaml"));
    let mut run = RunChild::spawn(cmd);
    let events = play(
        &mut run,
        |command| typed(bed.kubectl_in(&home, &kubeconfig), command),
        part3_tutorial_commands,
    );
    let (code, stderr) = run.finish();
    assert_every_step_passed(&events, 17, code, &stderr);
    Ok(())
}

fn check_says_which_permission_is_missing(bed: &Bed) -> Result<(), Failed> {
    let home = bed.scratch("rights-check");
    let kubeconfig = learner_kubeconfig(bed, "learner-check", &home)?;
    let out = bed
        .kubetutor(&home)
        .env("KUBECONFIG", &kubeconfig)
        .arg("check")
        .arg(repo("lessons/part3-deploy-a-simple-app.yaml"))
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    // Not permitted on the cluster: exit code 3, not a failed step.
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("system:serviceaccount:learner-check:learner")
            && stderr.contains("namespaces")
            && stderr.contains("create"),
        "names the user and the missing permission: {stderr}"
    );
    Ok(())
}
