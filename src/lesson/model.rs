//! The lesson model: what an instructor writes in a lesson file.
//!
//! Every type here maps one-to-one onto YAML. Unknown keys are rejected everywhere so a typo
//! is reported instead of silently ignored. Field names are part of the lesson contract:
//! renaming one breaks every lesson in the wild.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The lesson format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Namespace used when a lesson does not name one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Step timeout used when a step does not give one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A whole lesson: a titled, ordered list of steps run against one namespace.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    /// Lesson format version; must be 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Short human title shown in lists and headers.
    pub title: String,
    /// A paragraph saying what the learner will do and learn.
    #[serde(default)]
    pub description: String,
    /// Namespace the lesson works in; the runner never touches objects outside it.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// What the embedded sandbox cluster needs to play this lesson.
    #[serde(default)]
    pub sandbox: SandboxSpec,
    /// The steps, in the order the learner meets them.
    pub steps: Vec<Step>,
}

impl Lesson {
    /// The index of the step `name` names: its id, or its number counted from 1.
    pub fn step_index(&self, name: &str) -> Option<usize> {
        let name = name.trim();
        if let Some(index) = self.steps.iter().position(|s| s.id == name) {
            return Some(index);
        }
        name.parse::<usize>()
            .ok()
            .filter(|n| (1..=self.steps.len()).contains(n))
            .map(|n| n - 1)
    }

    /// The steps as `--from` takes them: `1 deploy, 2 look-around, ...`.
    pub fn step_list(&self) -> String {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{} {}", i + 1, s.id))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn default_namespace() -> String {
    DEFAULT_NAMESPACE.to_owned()
}

/// Lesson-specific setup of the embedded sandbox.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxSpec {
    /// Container images the sandbox can "pull"; any other image fails to pull like a missing one.
    #[serde(default)]
    pub images: Vec<ImageSpec>,
}

/// A simulated container image: how its container behaves once running.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// Image reference exactly as a learner types it, e.g. `nginx:1.27`.
    pub image: String,
    /// TCP port the container's app listens on.
    #[serde(default = "default_app_port")]
    pub port: u16,
    /// HTTP body the app answers with; `{hostname}`, `{pod}`, `{namespace}`, `{node}` and `{ip}` are
    /// replaced by the pod's values.
    #[serde(default)]
    pub response: String,
    /// Lines the container writes to its log when it starts.
    #[serde(default)]
    pub logs: Vec<String>,
    /// Environment variables the image defines (shown by a simulated `env`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory of the container.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Files in the container (path -> content), for simulated `ls` and `cat`.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

fn default_app_port() -> u16 {
    80
}

impl From<&ImageSpec> for crate::sandbox::AppSpec {
    fn from(spec: &ImageSpec) -> Self {
        crate::sandbox::AppSpec {
            image: spec.image.clone(),
            port: spec.port,
            response: spec.response.clone(),
            logs: spec.logs.clone(),
            env: spec.env.clone(),
            workdir: spec.workdir.clone(),
            files: spec.files.clone(),
        }
    }
}

impl SandboxSpec {
    /// The lesson's images as the sandbox's catalogue takes them.
    pub fn apps(&self) -> Vec<crate::sandbox::AppSpec> {
        self.images.iter().map(Into::into).collect()
    }
}

/// One step of a lesson: something to read and, usually, something to do.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Identifier unique in the lesson (lowercase letters, digits and `-`); used by `--from`.
    #[schemars(pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub id: String,
    /// Short title shown as the step's header.
    pub title: String,
    /// Explanation for the learner (plain text; blank lines separate paragraphs).
    #[serde(default)]
    pub explain: String,
    /// Commands the learner is invited to type, shown highlighted.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Hints, revealed one at a time, gentlest first.
    #[serde(default)]
    pub hints: Vec<String>,
    /// Shell commands that complete the step; run by `kubetutor check`, shown on request.
    #[serde(default)]
    pub solution: Vec<String>,
    /// Conditions that must all hold on the cluster; none makes this a reading step.
    #[serde(default)]
    pub goals: Vec<Goal>,
    /// Reading steps: commands a connected terminal (`kubetutor shell`) must run successfully
    /// for the step to pass, matched on words (`kubectl describe pod` matches `kubectl
    /// describe pods web-1 -n demo`); without a connected terminal, Enter passes the step.
    #[serde(default)]
    pub expect: Vec<String>,
    /// How long the goals may take once the step starts (`90s`, `2m`, `1m30s`); default 2m.
    #[serde(default)]
    pub timeout: Option<Timeout>,
    /// Values read from the cluster when the step passes, offered to later steps.
    #[serde(default)]
    pub capture: Vec<Capture>,
}

impl Step {
    /// The step's timeout, or the default.
    pub fn timeout(&self) -> Duration {
        self.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0)
    }

    /// The step with the values captured so far put in for `$NAME` / `${NAME}` in every goal
    /// field (names, selectors, `matches` values, `explain_failure`...), as the docs promise.
    /// Variables not captured stay as written (lint reports those used before a capture).
    pub fn with_captures(&self, captured: &BTreeMap<String, String>) -> Step {
        let mut step = self.clone();
        if captured.is_empty() {
            return step;
        }
        for goal in &mut step.goals {
            // Through the goal's own YAML form, so every string field of every kind is covered
            // without a list of fields to keep up to date.
            let Ok(mut value) = serde_yaml::to_value(&*goal) else {
                continue;
            };
            expand_strings(&mut value, captured);
            if let Ok(expanded) = serde_yaml::from_value(value) {
                *goal = expanded;
            }
        }
        step
    }
}

fn expand_strings(value: &mut serde_yaml::Value, captured: &BTreeMap<String, String>) {
    match value {
        serde_yaml::Value::String(text) => *text = super::vars::expand(text, captured),
        serde_yaml::Value::Sequence(items) => {
            for item in items {
                expand_strings(item, captured);
            }
        }
        serde_yaml::Value::Mapping(map) => {
            for (_, item) in map.iter_mut() {
                expand_strings(item, captured);
            }
        }
        serde_yaml::Value::Tagged(tagged) => expand_strings(&mut tagged.value, captured),
        _ => {}
    }
}

/// A duration written as `90s`, `2m`, `1m30s` or `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(
    with = "String",
    description = "A duration such as `90s`, `2m` or `1m30s`."
)]
pub struct Timeout(pub Duration);

impl Timeout {
    /// Parses `1h2m3s`-style durations; at least one unit, units in decreasing order.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a duration cannot be empty".to_owned());
        }
        let mut total: u64 = 0;
        let mut number = String::new();
        let mut last_rank = usize::MAX;
        for ch in text.chars() {
            if ch.is_ascii_digit() {
                number.push(ch);
                continue;
            }
            let (rank, scale) = match ch {
                'h' => (2, 3600),
                'm' => (1, 60),
                's' => (0, 1),
                _ => {
                    return Err(format!(
                        "`{text}` is not a duration: unexpected `{ch}` (use h, m and s, e.g. `1m30s`)"
                    ));
                }
            };
            if number.is_empty() {
                return Err(format!(
                    "`{text}` is not a duration: `{ch}` needs a number before it"
                ));
            }
            if rank >= last_rank {
                return Err(format!(
                    "`{text}` is not a duration: units must go from hours to seconds, once each"
                ));
            }
            last_rank = rank;
            let value: u64 = number
                .parse()
                .map_err(|_| format!("`{text}` is too large a duration"))?;
            total = value
                .checked_mul(scale)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("`{text}` is too large a duration"))?;
            number.clear();
        }
        if !number.is_empty() {
            return Err(format!(
                "`{text}` is not a duration: the number `{number}` needs a unit (s, m or h)"
            ));
        }
        if total == 0 {
            return Err(format!(
                "`{text}` is too short: a timeout must be longer than zero"
            ));
        }
        Ok(Timeout(Duration::from_secs(total)))
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 || secs == 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl Serialize for Timeout {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timeout::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A value read from the cluster once a step passes, e.g. a pod's generated name.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// Variable name offered to the learner as `export NAME=value` (upper case, digits, `_`).
    #[schemars(pattern(r"^[A-Z_][A-Z0-9_]*$"))]
    pub name: String,
    /// The object to read; with a selector, the oldest matching object is used.
    pub from: Target,
    /// Where the value is in that object, e.g. `.metadata.name` or `.spec.ports[0].nodePort`.
    pub path: String,
}

/// Which object(s) a goal or capture looks at.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// API version, e.g. `v1` or `apps/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Kind, e.g. `Pod` or `Deployment`.
    pub kind: String,
    /// Exact object name; give this or `selector` (or neither, for every object of the kind).
    #[serde(default)]
    pub name: Option<String>,
    /// Label selector, e.g. `app=web,tier!=db`.
    #[serde(default)]
    pub selector: Option<String>,
    /// Namespace to look in; defaults to the lesson's namespace. Ignored for cluster-wide kinds.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A Service type, as in `spec.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ServiceType {
    /// Reachable inside the cluster only.
    ClusterIP,
    /// Also reachable on a port of every node.
    NodePort,
    /// Also reachable through a cloud load balancer.
    LoadBalancer,
}

impl ServiceType {
    /// The name Kubernetes uses in `spec.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

pub use crate::check::goals::{
    AbsentGoal, DeployedGoal, ExposedGoal, Goal, HttpGoal, ResourceGoal, RolledBackGoal,
    RolloutStuckGoal, ScaledGoal, UpdatedGoal,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_values_are_put_into_every_goal_field() {
        let step: Step = serde_yaml::from_str(
            "id: s\ntitle: S\ngoals:\n  - kind: absent\n    target: {apiVersion: v1, kind: Pod, name: $POD}\n    explain_failure: Pod `${POD}` is still there; $OTHER\n  - kind: scaled\n    deployment: $APP\n    replicas: 2\n",
        )
        .unwrap();
        let captured = BTreeMap::from([
            ("POD".to_owned(), "web-1".to_owned()),
            ("APP".to_owned(), "web".to_owned()),
        ]);
        let expanded = step.with_captures(&captured);
        let yaml = serde_yaml::to_string(&expanded.goals).unwrap();
        assert!(yaml.contains("name: web-1"), "{yaml}");
        assert!(
            yaml.contains("Pod `web-1` is still there; $OTHER"),
            "{yaml}"
        );
        assert!(yaml.contains("deployment: web\n"), "{yaml}");
        assert!(!yaml.contains("$POD") && !yaml.contains("$APP"), "{yaml}");
        // Nothing captured: the step as written.
        assert_eq!(step.with_captures(&BTreeMap::new()).goals, step.goals);
    }

    #[test]
    fn durations_parse_in_the_forms_authors_write() {
        assert_eq!(Timeout::parse("90s").unwrap().0, Duration::from_secs(90));
        assert_eq!(Timeout::parse("2m").unwrap().0, Duration::from_secs(120));
        assert_eq!(Timeout::parse("1m30s").unwrap().0, Duration::from_secs(90));
        assert_eq!(Timeout::parse("1h").unwrap().0, Duration::from_secs(3600));
        assert_eq!(Timeout::parse("1m30s").unwrap().to_string(), "1m30s");
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(Timeout::parse("").unwrap_err().contains("empty"));
        assert!(Timeout::parse("90").unwrap_err().contains("needs a unit"));
        assert!(Timeout::parse("2x").unwrap_err().contains("unexpected `x`"));
        assert!(
            Timeout::parse("30s1m")
                .unwrap_err()
                .contains("hours to seconds")
        );
        assert!(
            Timeout::parse("0s")
                .unwrap_err()
                .contains("longer than zero")
        );
        assert!(
            Timeout::parse("99999999999999999999s")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn goals_are_tagged_by_kind() {
        let goal: Goal =
            serde_yaml::from_str("kind: exposed\ndeployment: web\ntype: NodePort\nport: 80\n")
                .unwrap();
        let Goal::Exposed(exposed) = &goal else {
            panic!("expected an exposed goal, got {goal:?}");
        };
        assert_eq!(exposed.service_name(), "web");
        assert_eq!(exposed.service_type, ServiceType::NodePort);
        assert_eq!(goal.kind_name(), "exposed");
    }
}
