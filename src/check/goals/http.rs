//! `kind: http`: a Service answers HTTP on a path with a body containing some text, checked
//! through the API server's service proxy. The probing is the runner's (`Cluster::check_http`);
//! this module judges the answers.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::service::first_port;
use super::{GoalKind, GoalLint};
use crate::check::involved::{Involved, object};
use crate::check::requirements::{WatchSpec, service_specs};
use crate::check::world::World;
use crate::check::{Difference, GoalContext, GoalStatus};

/// `kind: http`: checked through the API server's service proxy, so it works on any cluster.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpGoal {
    /// Service to call.
    pub service: String,
    /// Service port; the Service's first port when omitted.
    #[serde(default)]
    pub port: Option<u16>,
    /// Path to request.
    #[serde(default = "root_path")]
    pub path: String,
    /// Text the response body must contain.
    pub contains: String,
    /// Distinct response bodies required over a few requests (e.g. 2 to see load balancing).
    #[serde(default = "one")]
    pub distinct: u32,
    /// Message shown to the learner while the goal does not hold.
    #[serde(default)]
    pub explain_failure: Option<String>,
}

fn root_path() -> String {
    "/".to_owned()
}

fn one() -> u32 {
    1
}

impl GoalKind for HttpGoal {
    fn kind_name(&self) -> &'static str {
        "http"
    }

    fn explain_failure(&self) -> Option<&str> {
        self.explain_failure.as_deref()
    }

    fn lint(&self, lint: &mut dyn GoalLint) {
        lint.service_name("service", &self.service);
        if self.distinct == 0 {
            let message =
                "`distinct` must be at least 1 (use 2 or more to see load balancing)".to_owned();
            lint.error("distinct", message, None);
        }
        if let Some(port) = self.port {
            lint.port("port", port);
        }
        if !self.path.starts_with('/') {
            let message = format!("the HTTP path `{}` must start with `/`", self.path);
            lint.error("path", message, Some(format!("write `/{}`", self.path)));
        }
        if self.contains.is_empty() {
            lint.warn(
                "contains",
                "an empty `contains` accepts any answer".to_owned(),
                None,
            );
        }
    }

    // The Service and its endpoints tell the runner when probing is worth retrying.
    fn requirements(&self, ns: &str) -> Vec<WatchSpec> {
        service_specs(&self.service, ns)
    }

    /// Objects alone cannot judge it: this says what is being waited for; the runner probes
    /// and judges with [`evaluate_http`].
    fn evaluate(&self, world: &World, ctx: &GoalContext) -> GoalStatus {
        match http_target(self, world, &ctx.namespace) {
            Ok((service, port)) => GoalStatus::unmet(format!(
                "waiting for Service {service} to answer on port {port} at {}",
                self.path
            )),
            Err(status) => status,
        }
    }

    fn involved(&self, _world: &World, _ns: &str) -> Involved {
        let mut involved = Involved::default();
        involved.objects.push(object("Service", &self.service));
        involved
    }
}

/// One request to a Service through the API server's service proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpProbe {
    /// The proxy answered (the status may be an error from the proxy or the app).
    Response {
        /// HTTP status code.
        status: u16,
        /// Response body, lossily decoded as UTF-8.
        body: String,
    },
    /// No answer: connection refused, timeout, ...
    Error(String),
}

/// How many requests the runner should make to judge a goal: one, or enough to see
/// `distinct` different answers from a randomly balanced Service with high probability.
pub fn probes_for(goal: &HttpGoal) -> usize {
    if goal.distinct <= 1 {
        1
    } else {
        usize::try_from(goal.distinct)
            .unwrap_or(usize::MAX / 8)
            .saturating_mul(5)
            .min(40)
    }
}

/// Which Service and port to probe: the goal's port, else the Service's first port. An unmet
/// status when the Service (or a port) is missing, so the runner need not probe.
pub fn http_target(
    goal: &HttpGoal,
    world: &World,
    namespace: &str,
) -> Result<(String, u16), GoalStatus> {
    let name = &goal.service;
    let Some(service) = world.service(namespace, name) else {
        return Err(GoalStatus::differs(
            format!("no Service named {name} in namespace {namespace}"),
            Difference::new(format!("Service {name}"), "exists", "missing"),
        )
        .explained(goal));
    };
    match goal.port.or_else(|| first_port(&service)) {
        Some(port) => Ok((name.clone(), port)),
        None => {
            Err(GoalStatus::unmet(format!("Service {name} has no port to call")).explained(goal))
        }
    }
}

/// Judges the answers to `probes_for(goal)` requests: met when at least `distinct` (and at
/// least one) answers are 2xx with a body containing `contains`, with `distinct` distinct bodies.
pub fn evaluate_http(goal: &HttpGoal, responses: &[HttpProbe]) -> GoalStatus {
    let name = &goal.service;
    let path = &goal.path;
    let wanted = usize::try_from(goal.distinct.max(1)).unwrap_or(usize::MAX);
    let good: Vec<&str> = responses
        .iter()
        .filter_map(|r| match r {
            HttpProbe::Response { status, body }
                if (200..300).contains(status) && body.contains(&goal.contains) =>
            {
                Some(body.as_str())
            }
            _ => None,
        })
        .collect();
    let distinct: BTreeSet<&str> = good.iter().copied().collect();
    let status = if good.len() >= wanted && distinct.len() >= wanted {
        GoalStatus::met(if wanted > 1 {
            format!(
                "Service {name} gave {} different answers at {path}",
                distinct.len()
            )
        } else {
            format!("Service {name} answers {path} with \"{}\"", goal.contains)
        })
    } else if !good.is_empty() {
        GoalStatus::differs(
            format!(
                "Service {name} gave {} different answer{} over {} requests, expected {wanted}",
                distinct.len(),
                if distinct.len() == 1 { "" } else { "s" },
                responses.len()
            ),
            Difference::new(
                format!("distinct answers of Service {name}"),
                wanted,
                distinct.len(),
            ),
        )
    } else {
        match responses
            .iter()
            .find(|r| matches!(r, HttpProbe::Response { .. }))
            .or(responses.first())
        {
            None => GoalStatus::unmet(format!("Service {name} has not been called yet")),
            Some(HttpProbe::Error(why)) => GoalStatus::differs(
                format!("Service {name} does not answer at {path}: {why}"),
                Difference::new(format!("answer of Service {name}"), "HTTP 2xx", why),
            ),
            Some(HttpProbe::Response { status, .. }) if !(200..300).contains(status) => {
                GoalStatus::differs(
                    format!("Service {name} answered {path} with HTTP {status}"),
                    Difference::new(format!("HTTP status of Service {name}"), "2xx", status),
                )
            }
            Some(HttpProbe::Response { body, .. }) => GoalStatus::differs(
                format!(
                    "Service {name} answered {path} without \"{}\" (got \"{}\")",
                    goal.contains,
                    excerpt(body)
                ),
                Difference::new(
                    format!("body of Service {name}"),
                    format!("containing \"{}\"", goal.contains),
                    excerpt(body),
                ),
            ),
        }
    };
    status.explained(goal)
}

/// The start of a body, on one line, for summaries.
fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &flat[..cut]),
        None => flat,
    }
}

impl GoalStatus {
    fn explained(mut self, goal: &HttpGoal) -> Self {
        self.explain_failure = goal.explain_failure.clone();
        self
    }
}
