//! Semantic checks on a lesson that deserialized fine: each problem located at its node.
//!
//! The rules are generic: they know the lesson format and Kubernetes naming, never a
//! particular lesson.

use std::collections::HashMap;

use crate::k8s::names::{validate_dns1035_label, validate_label, validate_subdomain};
use crate::k8s::selector::LabelSelector;

use super::diagnostic::{Diagnostic, Span};
use super::load::LoadedLesson;
use super::model::{Goal, Target};
use super::position::child_key;
use super::vars::is_capture_name;
use crate::check::goals::GoalLint;

/// Every problem lint finds in `loaded`, in file order.
pub fn lint(loaded: &LoadedLesson) -> Vec<Diagnostic> {
    let mut cx = Cx {
        loaded,
        out: Vec::new(),
    };
    cx.lesson();
    for (i, _) in loaded.lesson.steps.iter().enumerate() {
        cx.step(i);
    }
    cx.step_ids();
    cx.variables();
    cx.reachability();
    cx.images();
    cx.out.sort_by_key(|d| (d.line, d.col));
    cx.out
}

struct Cx<'a> {
    loaded: &'a LoadedLesson,
    out: Vec<Diagnostic>,
}

impl<'a> Cx<'a> {
    fn span(&self, path: &str) -> Span {
        self.loaded.positions.value_span(path)
    }

    fn error(&mut self, path: &str, message: String, help: Option<String>) {
        let span = self.span(path);
        self.error_at(span, message, help);
    }

    fn error_at(&mut self, span: Span, message: String, help: Option<String>) {
        let mut diag = Diagnostic::error(&self.loaded.file, &self.loaded.text, span, message);
        diag.help = help;
        self.out.push(diag);
    }

    fn warn(&mut self, path: &str, message: String, help: Option<String>) {
        let span = self.span(path);
        self.warn_at(span, message, help);
    }

    fn warn_at(&mut self, span: Span, message: String, help: Option<String>) {
        let mut diag = Diagnostic::warning(&self.loaded.file, &self.loaded.text, span, message);
        diag.help = help;
        self.out.push(diag);
    }

    /// Where `needle` is inside the string at `path` (falling back to the string's start).
    fn span_within(&self, path: &str, needle: &str) -> Span {
        let start = self.span(path);
        let lines = self.loaded.text.lines().skip(start.line - 1).take(200);
        for (offset, line) in lines.enumerate() {
            let from = if offset == 0 {
                line.char_indices()
                    .nth(start.col - 1)
                    .map_or(line.len(), |(b, _)| b)
            } else {
                0
            };
            if let Some(pos) = line.get(from..).and_then(|rest| rest.find(needle)) {
                let col = line[..from + pos].chars().count() + 1;
                return Span::new(start.line + offset, col, needle.chars().count());
            }
        }
        start
    }

    fn lesson(&mut self) {
        let loaded: &'a LoadedLesson = self.loaded;
        let lesson = &loaded.lesson;
        if lesson.title.trim().is_empty() {
            self.error("title", "the lesson title is empty".to_owned(), None);
        }
        if let Err(why) = validate_label(&lesson.namespace) {
            let message = format!(
                "`{}` is not a valid namespace name: {why}",
                lesson.namespace
            );
            self.error("namespace", message, None);
        }
        if lesson.steps.is_empty() {
            self.warn("steps", "the lesson has no steps".to_owned(), None);
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, image) in lesson.sandbox.images.iter().enumerate() {
            let path = format!("sandbox.images[{i}]");
            if image.image.trim().is_empty() {
                self.error(
                    &format!("{path}.image"),
                    "the image reference is empty".to_owned(),
                    None,
                );
            } else if let Some(first) = seen.get(image.image.as_str()) {
                let line = self.span(&format!("sandbox.images[{first}].image")).line;
                let message = format!(
                    "image `{}` is already in the sandbox catalogue (line {line})",
                    image.image
                );
                self.error(
                    &format!("{path}.image"),
                    message,
                    Some("remove one entry".to_owned()),
                );
            } else {
                seen.insert(&image.image, i);
            }
            if image.port == 0 {
                self.error(
                    &format!("{path}.port"),
                    "port 0 cannot be listened on".to_owned(),
                    None,
                );
            }
            if let Some(dir) = &image.workdir
                && !dir.starts_with('/')
            {
                let message = format!("workdir `{dir}` must be an absolute path");
                self.error(&format!("{path}.workdir"), message, None);
            }
        }
    }

    fn step(&mut self, i: usize) {
        let loaded: &'a LoadedLesson = self.loaded;
        let step = &loaded.lesson.steps[i];
        let path = format!("steps[{i}]");
        if step.title.trim().is_empty() {
            self.error(
                &format!("{path}.title"),
                "the step title is empty".to_owned(),
                None,
            );
        }
        if !step.goals.is_empty() && step.solution.is_empty() {
            let message = format!(
                "step `{}` has goals but no solution, so `kubetutor check` cannot complete it",
                step.id
            );
            let span = self.loaded.positions.entry_span(&format!("{path}.goals"));
            self.warn_at(
                span,
                message,
                Some("add the shell commands that reach the goals under `solution:`".to_owned()),
            );
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (c, capture) in step.capture.iter().enumerate() {
            let cpath = format!("{path}.capture[{c}]");
            if !is_capture_name(&capture.name) {
                let message = format!(
                    "capture name `{}` must be upper-case letters, digits and `_` (like `POD_NAME`)",
                    capture.name
                );
                let help = format!("write `{}`", capture.name.to_uppercase().replace('-', "_"));
                self.error(&format!("{cpath}.name"), message, Some(help));
            } else if let Some(first) = names.get(capture.name.as_str()) {
                let line = self.span(&format!("{path}.capture[{first}].name")).line;
                let message = format!(
                    "`{}` is already captured by this step (line {line})",
                    capture.name
                );
                self.error(&format!("{cpath}.name"), message, None);
            } else {
                names.insert(&capture.name, c);
            }
            if !capture.path.starts_with('.') {
                let message = format!(
                    "capture path `{}` must start with `.`, e.g. `.metadata.name`",
                    capture.path
                );
                self.error(&format!("{cpath}.path"), message, None);
            }
            self.target(&capture.from, &format!("{cpath}.from"));
        }
        for (g, goal) in step.goals.iter().enumerate() {
            self.goal(goal, &format!("{path}.goals[{g}]"));
        }
        self.expectations(i);
    }

    /// `expect:` entries: one plain command each, on reading steps only (a step with goals
    /// passes on the cluster's state, so what the learner typed would never be asked for).
    fn expectations(&mut self, i: usize) {
        let loaded: &'a LoadedLesson = self.loaded;
        let step = &loaded.lesson.steps[i];
        let path = format!("steps[{i}]");
        if !step.expect.is_empty() && !step.goals.is_empty() {
            let span = self.loaded.positions.entry_span(&format!("{path}.expect"));
            self.error_at(
                span,
                format!(
                    "step `{}` has goals, so its `expect` would never be waited for",
                    step.id
                ),
                Some("move the commands to a reading step, or drop `expect`".to_owned()),
            );
        }
        for (e, expected) in step.expect.iter().enumerate() {
            if let Some(problem) = crate::k8s::command::expectation_problem(expected) {
                self.error(
                    &format!("{path}.expect[{e}]"),
                    format!("expected command `{}` {problem}", expected.trim()),
                    Some(
                        "write the program and the words to look for, e.g. `kubectl logs`"
                            .to_owned(),
                    ),
                );
            }
        }
    }

    fn step_ids(&mut self) {
        let loaded: &'a LoadedLesson = self.loaded;
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, step) in loaded.lesson.steps.iter().enumerate() {
            let path = format!("steps[{i}].id");
            if !is_step_id(&step.id) {
                let message = format!(
                    "step id `{}` must be lowercase letters, digits and `-`, starting and ending with a letter or digit",
                    step.id
                );
                let help = format!("write `{}`", suggest_id(&step.id));
                self.error(&path, message, Some(help));
            }
            if let Some(&earlier) = first.get(step.id.as_str()) {
                let line = self.span(&format!("steps[{earlier}].id")).line;
                let message = format!(
                    "duplicate step id `{}` (first used on line {line})",
                    step.id
                );
                self.error(
                    &path,
                    message,
                    Some("step ids must be unique: rename one".to_owned()),
                );
            } else {
                first.insert(&step.id, i);
            }
        }
    }

    fn name(&mut self, path: &str, what: &str, name: &str, rule: fn(&str) -> Result<(), String>) {
        if has_variable(name) {
            return;
        }
        if let Err(why) = rule(name) {
            self.error(
                path,
                format!("`{name}` is not a valid {what} name: {why}"),
                None,
            );
        }
    }

    fn goal(&mut self, goal: &Goal, path: &str) {
        goal.kind().lint(&mut GoalFields { cx: self, path });
    }

    fn image(&mut self, path: &str, image: &str) {
        if image.trim().is_empty() || image.contains(char::is_whitespace) {
            let message = format!("`{image}` is not an image reference");
            self.error(
                path,
                message,
                Some("write it as `repository:tag`, e.g. `nginx:1.27`".to_owned()),
            );
        }
    }

    fn container(&mut self, path: &str, container: Option<&str>) {
        if let Some(name) = container {
            self.name(path, "container", name, validate_label);
        }
    }

    fn target(&mut self, target: &Target, path: &str) {
        let field = |f: &str| child_key(path, f);
        let api = target.api_version.as_str();
        let api_ok = !api.is_empty()
            && api.split('/').count() <= 2
            && api
                .split('/')
                .all(|p| !p.is_empty() && !p.contains(char::is_whitespace));
        if !api_ok {
            let message = format!("`{api}` is not an API version");
            self.error(
                &field("apiVersion"),
                message,
                Some("write e.g. `v1` or `apps/v1`".to_owned()),
            );
        }
        let kind = target.kind.as_str();
        if !kind.starts_with(|c: char| c.is_ascii_uppercase())
            || !kind.chars().all(|c| c.is_ascii_alphanumeric())
        {
            let fixed: String = kind
                .chars()
                .take(1)
                .flat_map(char::to_uppercase)
                .chain(kind.chars().skip(1))
                .collect();
            let message =
                format!("`{kind}` is not a kind: kinds are CamelCase, like `Pod` or `Deployment`");
            self.error(&field("kind"), message, Some(format!("write `{fixed}`")));
        }
        if let Some(name) = &target.name {
            let rule = if kind == "Service" {
                validate_dns1035_label
            } else {
                validate_subdomain
            };
            self.name(&field("name"), kind, name, rule);
        }
        if target.name.is_some() && target.selector.is_some() {
            let message = "give `name` or `selector`, not both".to_owned();
            self.error(&field("selector"), message, None);
        }
        if let Some(selector) = &target.selector
            && !has_variable(selector)
            && let Err(why) = LabelSelector::parse(selector)
        {
            let message = format!("`{selector}` is not a valid label selector: {why}");
            self.error(
                &field("selector"),
                message,
                Some("write e.g. `app=web` or `app=web,tier!=db`".to_owned()),
            );
        }
        if let Some(namespace) = &target.namespace {
            self.name(&field("namespace"), "namespace", namespace, validate_label);
        }
    }
}

fn has_variable(text: &str) -> bool {
    text.contains('$')
}

/// Whether `id` matches `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
pub fn is_step_id(id: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !id.is_empty()
        && id.chars().all(|c| alnum(c) || c == '-')
        && id.starts_with(alnum)
        && id.ends_with(alnum)
}

fn suggest_id(id: &str) -> String {
    let lowered: String = id
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let trimmed = lowered.trim_matches('-');
    if trimmed.is_empty() {
        "step-1".to_owned()
    } else {
        trimmed.to_owned()
    }
}

mod flow;
#[cfg(test)]
mod tests;

/// A goal's lint, on the fields of the goal at `path`.
struct GoalFields<'c, 'a> {
    cx: &'c mut Cx<'a>,
    path: &'c str,
}

impl GoalFields<'_, '_> {
    fn field(&self, field: &str) -> String {
        child_key(self.path, field)
    }
}

impl GoalLint for GoalFields<'_, '_> {
    fn deployment_name(&mut self, field: &str, name: &str) {
        let path = self.field(field);
        self.cx.name(&path, "Deployment", name, validate_subdomain);
    }

    fn service_name(&mut self, field: &str, name: &str) {
        let path = self.field(field);
        self.cx.name(&path, "Service", name, validate_dns1035_label);
    }

    fn image(&mut self, field: &str, image: &str) {
        let path = self.field(field);
        self.cx.image(&path, image);
    }

    fn container(&mut self, field: &str, container: Option<&str>) {
        let path = self.field(field);
        self.cx.container(&path, container);
    }

    fn target(&mut self, field: &str, target: &Target) {
        let path = self.field(field);
        self.cx.target(target, &path);
    }

    fn port(&mut self, field: &str, port: u16) {
        if port == 0 {
            let path = self.field(field);
            self.cx
                .error(&path, "`port` must be between 1 and 65535".to_owned(), None);
        }
    }

    fn error(&mut self, field: &str, message: String, help: Option<String>) {
        let path = self.field(field);
        self.cx.error(&path, message, help);
    }

    fn warn(&mut self, field: &str, message: String, help: Option<String>) {
        let path = self.field(field);
        self.cx.warn(&path, message, help);
    }
}
