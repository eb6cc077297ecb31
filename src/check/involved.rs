//! Which objects a goal is about, so a failure report can show their events and pods.

use crate::check::goals::rollout::DeploymentFacts;
use crate::check::requirements::WatchSpec;
use crate::check::world::World;
use crate::check::{GoalContext, GoalStatus, evaluate, merge_specs, requirements};
use crate::lesson::model::{Capture, Goal};

/// An object named in a failure report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Name.
    pub name: String,
}

/// What to show when a goal fails: the objects whose events matter, and the label selector of
/// the pods involved (for `Cluster::pod_states`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Involved {
    /// Objects whose recent events explain the failure (the Deployment, its pods, the Service).
    pub objects: Vec<ObjectRef>,
    /// Label selector of the pods concerned, e.g. `app=web`.
    pub pod_selector: Option<String>,
}

/// An object named in a failure report.
pub(crate) fn object(kind: &str, name: &str) -> ObjectRef {
    ObjectRef {
        kind: kind.to_owned(),
        name: name.to_owned(),
    }
}

/// The objects a goal is about, as far as the world knows them: a Deployment goal names the
/// Deployment and its pods (pull errors are pod events), a Service goal names the Service.
pub fn involved_objects(goal: &Goal, world: &World, namespace: &str) -> Involved {
    goal.kind().involved(world, namespace)
}

/// Adds a Deployment, its ReplicaSets and its pods to `involved`, with the pods' selector.
pub(crate) fn involve_deployment(
    involved: &mut Involved,
    world: &World,
    namespace: &str,
    name: &str,
) {
    involved.objects.push(object("Deployment", name));
    let Some(facts) = DeploymentFacts::load(world, namespace, name) else {
        return;
    };
    involved.pod_selector =
        crate::k8s::selector::LabelSelector::from_k8s(&facts.deployment.spec.selector)
            .ok()
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string());
    for rs in &facts.replica_sets {
        if let Some(rs_name) = &rs.metadata.name {
            involved.objects.push(object("ReplicaSet", rs_name));
        }
    }
    for pod in &facts.pods {
        if let Some(pod_name) = &pod.metadata.name {
            involved.objects.push(object("Pod", pod_name));
        }
    }
}

/// Every goal's status, in order (`http` goals get their "waiting for a probe" status).
pub fn evaluate_all(goals: &[Goal], world: &World, ctx: &GoalContext) -> Vec<GoalStatus> {
    goals.iter().map(|g| evaluate(g, world, ctx)).collect()
}

/// The merged watches a whole step needs: its goals and its captures.
pub fn step_requirements(goals: &[Goal], captures: &[Capture], namespace: &str) -> Vec<WatchSpec> {
    merge_specs(
        goals.iter().flat_map(|g| requirements(g, namespace)).chain(
            captures
                .iter()
                .flat_map(|c| crate::check::capture_requirements(c, namespace)),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixtures::*;

    #[test]
    fn deployment_goals_involve_the_deployment_its_replica_sets_and_pods() {
        let world = world([
            deployment("web", "example/app:v1", 1),
            replica_set("web-1111", "web", "example/app:v1", 1),
            pod("web-1111-a", "web", "example/app:v1"),
            pod("db-1", "db", "example/app:v1"),
        ]);
        let goal: Goal =
            serde_yaml::from_str("kind: exposed\ndeployment: web\ntype: NodePort\nport: 80\n")
                .unwrap();
        let involved = involved_objects(&goal, &world, "default");
        assert_eq!(involved.pod_selector.as_deref(), Some("app=web"));
        let names: Vec<String> = involved
            .objects
            .iter()
            .map(|o| format!("{} {}", o.kind, o.name))
            .collect();
        assert_eq!(
            names,
            [
                "Service web",
                "Deployment web",
                "ReplicaSet web-1111",
                "Pod web-1111-a"
            ]
        );
    }

    #[test]
    fn step_requirements_merge_goals_and_captures() {
        let goals: Vec<Goal> = vec![
            serde_yaml::from_str("kind: deployed\ndeployment: web\nimage: a:v1\n").unwrap(),
            serde_yaml::from_str("kind: scaled\ndeployment: web\nreplicas: 2\n").unwrap(),
        ];
        let captures: Vec<Capture> =
            serde_yaml::from_str("- name: POD\n  from: {apiVersion: v1, kind: Pod, selector: app=web}\n  path: .metadata.name\n")
                .unwrap();
        let specs = step_requirements(&goals, &captures, "default");
        assert_eq!(specs.len(), 2, "{specs:?}");
    }
}
