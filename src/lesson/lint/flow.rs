//! Rules that follow the lesson from step to step: variables captured before use, goals a
//! solution can reach, images the sandbox can pull.

use std::collections::HashMap;

use super::{Cx, has_variable};
use crate::lesson::load::LoadedLesson;
use crate::lesson::position::child_key;
use crate::lesson::suggest::did_you_mean;
use crate::lesson::vars::{
    COMMON_ENV, assigned_variables, contains_token, images_in, sets_replicas, used_variables,
};

impl<'a> Cx<'a> {
    /// Every string of step `i` that may use variables, with its path.
    fn strings_of(&self, i: usize) -> Vec<(String, &'a str)> {
        let loaded: &'a LoadedLesson = self.loaded;
        let step = &loaded.lesson.steps[i];
        let base = format!("steps[{i}]");
        let mut out = Vec::new();
        for (list, items) in [
            ("commands", &step.commands),
            ("hints", &step.hints),
            ("solution", &step.solution),
        ] {
            for (k, item) in items.iter().enumerate() {
                out.push((format!("{base}.{list}[{k}]"), item.as_str()));
            }
        }
        let positions = &loaded.positions;
        for g in 0..step.goals.len() {
            let goal_path = format!("{base}.goals[{g}]");
            for node in positions.descendants(&goal_path) {
                if let Some(text) = node.scalar()
                    && !node.path.ends_with("explain_failure")
                {
                    out.push((node.path.clone(), text));
                }
            }
        }
        out
    }

    pub(super) fn variables(&mut self) {
        let loaded: &'a LoadedLesson = self.loaded;
        let steps = &loaded.lesson.steps;
        let mut captured_by: HashMap<&str, usize> = HashMap::new();
        for (i, step) in steps.iter().enumerate() {
            for capture in &step.capture {
                captured_by.entry(capture.name.as_str()).or_insert(i);
            }
        }
        let all_captures: Vec<&str> = captured_by.keys().copied().collect();
        let mut assigned: Vec<&str> = Vec::new();
        for i in 0..steps.len() {
            let step = &steps[i];
            for line in step.commands.iter().chain(&step.solution) {
                assigned.extend(assigned_variables(line));
            }
            for (path, text) in self.strings_of(i) {
                for (_, name) in used_variables(text) {
                    let known = COMMON_ENV.contains(&name)
                        || assigned.contains(&name)
                        || captured_by.get(name).is_some_and(|&j| j < i);
                    if known {
                        continue;
                    }
                    let braced = format!("${{{name}}}");
                    let needle = if text.contains(&braced) {
                        braced
                    } else {
                        format!("${name}")
                    };
                    let span = self.span_within(&path, &needle);
                    match captured_by.get(name) {
                        Some(&j) => {
                            let line = self.span(&format!("steps[{j}].id")).line;
                            let message = format!(
                                "`${name}` is used before it is captured: step `{}` (line {line}) captures it, and captures are made when a step passes",
                                steps[j].id
                            );
                            self.error_at(span, message, None);
                        }
                        None => {
                            let message = format!("`${name}` is not captured by any step");
                            let help = match did_you_mean(name, all_captures.iter().copied()) {
                                Some(best) => format!("did you mean `${best}`?"),
                                None => "add a `capture` to an earlier step, or set the variable in the commands".to_owned(),
                            };
                            self.error_at(span, message, Some(help));
                        }
                    }
                }
            }
        }
    }

    /// Goals whose image or replica count no solution up to their step ever sets.
    pub(super) fn reachability(&mut self) {
        let loaded: &'a LoadedLesson = self.loaded;
        let steps = &loaded.lesson.steps;
        for (i, step) in steps.iter().enumerate() {
            let solutions = || steps[..=i].iter().flat_map(|s| s.solution.iter());
            for (g, goal) in step.goals.iter().enumerate() {
                let path = format!("steps[{i}].goals[{g}]");
                let image = goal.kind().expected_image();
                if let Some(image) = image
                    && !image.is_empty()
                    && !solutions().any(|line| contains_token(line, image))
                {
                    let message = format!(
                        "no solution up to this step uses image `{image}`, so `kubetutor check` cannot reach this goal"
                    );
                    self.warn(&child_key(&path, "image"), message, None);
                }
                if let Some(replicas) = goal.kind().expected_replicas()
                    && !solutions().any(|line| sets_replicas(line, replicas))
                {
                    let message = format!(
                        "no solution up to this step sets {replicas} replicas, so `kubetutor check` cannot reach this goal"
                    );
                    self.warn(&child_key(&path, "replicas"), message, None);
                }
            }
        }
    }

    /// Images the solutions pull must be in the sandbox catalogue, except those meant to fail.
    pub(super) fn images(&mut self) {
        let loaded: &'a LoadedLesson = self.loaded;
        let lesson = &loaded.lesson;
        let catalogue: Vec<&str> = lesson
            .sandbox
            .images
            .iter()
            .map(|i| i.image.as_str())
            .collect();
        let meant_to_fail: Vec<(usize, usize, &str)> = lesson
            .steps
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                s.goals
                    .iter()
                    .enumerate()
                    .map(move |(g, goal)| (i, g, goal))
            })
            .filter_map(|(i, g, goal)| goal.kind().image_meant_to_fail().map(|image| (i, g, image)))
            .collect();
        for &(i, g, image) in &meant_to_fail {
            if catalogue.contains(&image) {
                let message = format!(
                    "image `{image}` is in `sandbox.images`, so it will pull and the rollout will not get stuck in the sandbox"
                );
                self.warn(&format!("steps[{i}].goals[{g}].image"), message, None);
            }
        }
        for (i, step) in lesson.steps.iter().enumerate() {
            for (k, line) in step.solution.iter().enumerate() {
                for image in images_in(line) {
                    if catalogue.contains(&image)
                        || meant_to_fail.iter().any(|&(_, _, m)| m == image)
                        || has_variable(image)
                    {
                        continue;
                    }
                    let path = format!("steps[{i}].solution[{k}]");
                    let span = self.span_within(&path, image);
                    let message = format!(
                        "image `{image}` is not in `sandbox.images`, so it will fail to pull in the sandbox"
                    );
                    let help = match did_you_mean(image, catalogue.iter().copied()) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => "add it to `sandbox.images` with how its app behaves".to_owned(),
                    };
                    self.warn_at(span, message, Some(help));
                }
            }
        }
    }
}
