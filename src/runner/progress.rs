//! The progress file: where a learner stopped in a lesson, so `run` resumes there.
//!
//! One JSON file per lesson file under `$XDG_STATE_HOME/kubetutor/progress/`, rewritten
//! atomically (temp file + rename) after every step, so a crash or Ctrl-C never leaves half a
//! file behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::lesson::Lesson;
use crate::runner::machine::{Machine, StepOutcome};

/// Version of the progress file format.
const PROGRESS_VERSION: u32 = 1;

/// Why progress could not be read, planned or saved.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    /// No state directory could be found.
    #[error("failed to find a state directory: set XDG_STATE_HOME or HOME")]
    NoStateDir,
    /// Reading the progress file failed.
    #[error("failed to read progress file {path}")]
    Read {
        /// The progress file.
        path: PathBuf,
        /// The IO failure.
        #[source]
        source: std::io::Error,
    },
    /// Writing the progress file failed.
    #[error("failed to save progress to {path}")]
    Write {
        /// The progress file.
        path: PathBuf,
        /// The IO failure.
        #[source]
        source: std::io::Error,
    },
    /// `--from` named a step the lesson does not have.
    #[error("failed to start at unknown step `{from}`; steps are: {valid}")]
    UnknownStep {
        /// The id or number given to `--from`.
        from: String,
        /// The lesson's steps, numbered (`1 deploy, 2 look-around`).
        valid: String,
    },
}

/// One finished step in the progress file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletedStep {
    /// The step's id.
    pub id: String,
    /// How it ended.
    pub outcome: StepOutcome,
    /// When it ended.
    pub at: Timestamp,
}

/// What the progress file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Format version of this file.
    pub version: u32,
    /// The lesson file, canonicalised.
    pub lesson: PathBuf,
    /// Hash of the lesson file's content when this progress was saved.
    pub lesson_hash: String,
    /// The step the learner is on; `None` once the lesson is done.
    pub current_step: Option<String>,
    /// Steps finished, in the order they were finished.
    pub completed: Vec<CompletedStep>,
    /// Values captured so far, offered to later steps.
    pub captured: BTreeMap<String, String>,
    /// When the learner first started this lesson.
    pub started_at: Timestamp,
    /// When this file was last written.
    pub updated_at: Timestamp,
}

impl Progress {
    /// Fresh progress for a lesson.
    pub fn new(lesson: PathBuf, lesson_hash: String) -> Self {
        let now = Timestamp::now();
        Progress {
            version: PROGRESS_VERSION,
            lesson,
            lesson_hash,
            current_step: None,
            completed: Vec::new(),
            captured: BTreeMap::new(),
            started_at: now,
            updated_at: now,
        }
    }

    /// Brings this progress up to date with a machine's state.
    pub fn record(&mut self, machine: &Machine) {
        let now = Timestamp::now();
        for (id, outcome) in machine.outcomes() {
            if self
                .completed
                .iter()
                .any(|c| &c.id == id && c.outcome == *outcome)
            {
                continue;
            }
            self.completed.retain(|c| &c.id != id);
            self.completed.push(CompletedStep {
                id: id.clone(),
                outcome: *outcome,
                at: now,
            });
        }
        self.current_step = machine.step().map(|s| s.id.clone());
        self.captured = machine.captured().clone();
        self.updated_at = now;
    }
}

/// Where a run starts and what it says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct StartPlan {
    /// Index of the first step to play.
    pub index: usize,
    /// The progress to keep updating.
    pub progress: Progress,
    /// What to tell the learner ("Resuming at step 3/9 · ..."), if anything.
    pub message: Option<String>,
    /// Every step was done in an earlier run: starting again is the learner's choice.
    pub finished: bool,
}

/// A stable 64-bit FNV-1a hash: short, dependency-free, and the same across builds.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The hash recorded for a lesson file's content.
pub fn lesson_hash(content: &[u8]) -> String {
    format!("{:016x}", fnv1a(content))
}

/// `$XDG_STATE_HOME/kubetutor`, else the platform state dir, else `~/.local/state/kubetutor`.
pub fn state_dir() -> Result<PathBuf, ProgressError> {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("kubetutor"));
    }
    if let Some(dir) = dirs::state_dir() {
        return Ok(dir.join("kubetutor"));
    }
    dirs::home_dir()
        .map(|home| home.join(".local/state/kubetutor"))
        .ok_or(ProgressError::NoStateDir)
}

/// A per-lesson-file key: `<stem>-<short hash of the canonical path>`.
/// A built-in lesson's `builtin:NAME` keeps the hash of that whole key, and drops the prefix
/// from the file name (a colon is no friend of file names).
pub fn lesson_key(canonical: &Path) -> String {
    let stem = canonical
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "lesson".to_owned());
    let stem = stem
        .strip_prefix(crate::lesson::builtin::KEY_PREFIX)
        .map(str::to_owned)
        .unwrap_or(stem);
    let hash = fnv1a(canonical.to_string_lossy().as_bytes());
    format!("{stem}-{:08x}", hash as u32)
}

/// The progress file of a lesson file.
pub fn progress_path(state_dir: &Path, canonical: &Path) -> PathBuf {
    state_dir
        .join("progress")
        .join(format!("{}.json", lesson_key(canonical)))
}

/// Reads saved progress; a missing or unreadable-as-JSON file is no progress (said on stderr
/// by the caller through the returned message).
pub fn load(path: &Path) -> Result<Option<Progress>, ProgressError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ProgressError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    Ok(serde_json::from_str::<Progress>(&text)
        .ok()
        .filter(|p| p.version == PROGRESS_VERSION))
}

/// Writes progress atomically: a temp file in the same folder, flushed, then renamed over.
pub fn save(path: &Path, progress: &Progress) -> Result<(), ProgressError> {
    let fail = |source| ProgressError::Write {
        path: path.to_owned(),
        source,
    };
    let text = serde_json::to_string_pretty(progress).map_err(|e| fail(e.into()))?;
    crate::files::write_atomic(path, text.as_bytes(), 0o600).map_err(fail)
}

/// Removes saved progress (`--reset`).
pub fn remove(path: &Path) -> Result<(), ProgressError> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(ProgressError::Write {
            path: path.to_owned(),
            source: err,
        }),
        _ => Ok(()),
    }
}

/// Decides where to start from saved progress, `--from` and `--reset`.
pub fn plan(
    lesson: &Lesson,
    canonical: PathBuf,
    hash: String,
    saved: Option<Progress>,
    from: Option<&str>,
    reset: bool,
) -> Result<StartPlan, ProgressError> {
    let total = lesson.steps.len();
    let describe = |index: usize| {
        lesson
            .steps
            .get(index)
            .map(|s| format!("step {}/{total} · {} [{}]", index + 1, s.title, s.id))
            .unwrap_or_default()
    };
    let position = |id: &str| lesson.steps.iter().position(|s| s.id == id);
    let saved = if reset { None } else { saved };

    if let Some(from) = from {
        let Some(index) = lesson.step_index(from) else {
            return Err(ProgressError::UnknownStep {
                from: from.to_owned(),
                valid: lesson.step_list(),
            });
        };
        let mut progress = saved.unwrap_or_else(|| Progress::new(canonical.clone(), hash.clone()));
        let before: BTreeSet<&str> = lesson.steps[..index]
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        progress
            .completed
            .retain(|c| before.contains(c.id.as_str()));
        progress.lesson = canonical;
        progress.lesson_hash = hash;
        progress.current_step = Some(lesson.steps[index].id.clone());
        return Ok(StartPlan {
            index,
            progress,
            message: Some(format!("Starting at {} (--from)", describe(index))),
            finished: false,
        });
    }

    let Some(mut progress) = saved else {
        return Ok(StartPlan {
            index: 0,
            progress: Progress::new(canonical, hash),
            message: None,
            finished: false,
        });
    };

    let mut notes = Vec::new();
    if progress.lesson_hash != hash {
        let vanished: Vec<String> = progress
            .completed
            .iter()
            .map(|c| c.id.clone())
            .chain(progress.current_step.clone())
            .filter(|id| position(id).is_none())
            .collect();
        if !vanished.is_empty() {
            notes.push(format!(
                "the lesson changed since your last run (no step `{}` any more)",
                vanished.join("`, `")
            ));
            progress.completed.retain(|c| position(&c.id).is_some());
            progress.current_step = None;
        }
        progress.lesson_hash = hash;
    }
    progress.lesson = canonical;

    let done: BTreeSet<&str> = progress.completed.iter().map(|c| c.id.as_str()).collect();
    let first_open = lesson
        .steps
        .iter()
        .position(|s| !done.contains(s.id.as_str()));
    let index = match (
        progress.current_step.as_deref().and_then(position),
        first_open,
    ) {
        (Some(current), _) => current,
        (None, Some(open)) => open,
        (None, None) => {
            progress.completed.clear();
            progress.current_step = None;
            return Ok(StartPlan {
                index: 0,
                progress,
                message: None,
                finished: true,
            });
        }
    };
    notes.push(format!("resuming at {}", describe(index)));
    let mut message = notes.join("; ");
    if let Some(first) = message.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    Ok(StartPlan {
        index,
        progress,
        message: Some(message),
        finished: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::machine::GoalReport;

    fn lesson(ids: &[&str]) -> Lesson {
        let steps: Vec<String> = ids
            .iter()
            .map(|id| format!("  - id: {id}\n    title: Title of {id}\n"))
            .collect();
        serde_yaml::from_str(&format!("version: 1\ntitle: T\nsteps:\n{}", steps.concat()))
            .expect("lesson parses")
    }

    fn saved(current: Option<&str>, done: &[&str], hash: &str) -> Progress {
        let mut p = Progress::new(PathBuf::from("/l.yaml"), hash.to_owned());
        p.current_step = current.map(str::to_owned);
        p.completed = done
            .iter()
            .map(|id| CompletedStep {
                id: (*id).to_owned(),
                outcome: StepOutcome::Passed,
                at: Timestamp::UNIX_EPOCH,
            })
            .collect();
        p
    }

    fn plan_for(
        ids: &[&str],
        saved: Option<Progress>,
        from: Option<&str>,
        reset: bool,
    ) -> Result<StartPlan, ProgressError> {
        plan(
            &lesson(ids),
            PathBuf::from("/l.yaml"),
            "h1".to_owned(),
            saved,
            from,
            reset,
        )
    }

    #[test]
    fn a_first_run_starts_at_step_one_quietly() {
        let plan = plan_for(&["a", "b"], None, None, false).unwrap();
        assert_eq!(plan.index, 0);
        assert_eq!(plan.message, None);
    }

    #[test]
    fn a_saved_run_resumes_at_its_current_step_and_says_so() {
        let plan = plan_for(
            &["a", "b", "c"],
            Some(saved(Some("b"), &["a"], "h1")),
            None,
            false,
        )
        .unwrap();
        assert_eq!(plan.index, 1);
        assert_eq!(
            plan.message.as_deref(),
            Some("Resuming at step 2/3 · Title of b [b]")
        );
    }

    #[test]
    fn a_vanished_step_restarts_from_the_first_step_not_completed() {
        let plan = plan_for(
            &["a", "c", "d"],
            Some(saved(Some("b"), &["a"], "old")),
            None,
            false,
        )
        .unwrap();
        assert_eq!(plan.index, 1);
        assert_eq!(
            plan.message.as_deref(),
            Some(
                "The lesson changed since your last run (no step `b` any more); \
                 resuming at step 2/3 · Title of c [c]"
            )
        );
        assert_eq!(plan.progress.lesson_hash, "h1");
    }

    #[test]
    fn a_finished_lesson_starts_over() {
        let plan = plan_for(&["a"], Some(saved(None, &["a"], "h1")), None, false).unwrap();
        assert_eq!(plan.index, 0);
        assert!(plan.progress.completed.is_empty());
        assert!(plan.finished, "starting again is the learner's choice");
    }

    #[test]
    fn from_starts_at_the_named_step_and_forgets_later_ones() {
        let plan = plan_for(
            &["a", "b", "c"],
            Some(saved(Some("c"), &["a", "b"], "h1")),
            Some("b"),
            false,
        )
        .unwrap();
        assert_eq!(plan.index, 1);
        assert_eq!(plan.progress.completed.len(), 1);
        assert_eq!(plan.progress.completed[0].id, "a");
    }

    #[test]
    fn from_an_unknown_step_lists_the_valid_ones() {
        let err = plan_for(&["a", "b"], None, Some("zz"), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to start at unknown step `zz`; steps are: 1 a, 2 b"
        );
        // A number counts from 1, and only up to the last step.
        assert_eq!(
            plan_for(&["a", "b"], None, Some("2"), false).unwrap().index,
            1
        );
        assert!(plan_for(&["a", "b"], None, Some("0"), false).is_err());
        assert!(plan_for(&["a", "b"], None, Some("3"), false).is_err());
    }

    #[test]
    fn reset_ignores_saved_progress() {
        let plan = plan_for(
            &["a", "b"],
            Some(saved(Some("b"), &["a"], "h1")),
            None,
            true,
        )
        .unwrap();
        assert_eq!(plan.index, 0);
        assert!(plan.progress.completed.is_empty());
    }

    #[test]
    fn progress_round_trips_through_an_atomic_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = progress_path(dir.path(), Path::new("/x/lessons/part.yaml"));
        assert!(path.to_string_lossy().contains("progress/part-"));
        assert_eq!(load(&path).unwrap(), None);
        let progress = saved(Some("b"), &["a"], "h1");
        save(&path, &progress).unwrap();
        assert_eq!(load(&path).unwrap(), Some(progress.clone()));
        // No temp file is left next to it.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
        remove(&path).unwrap();
        assert_eq!(load(&path).unwrap(), None);
        remove(&path).unwrap();
    }

    #[test]
    fn a_corrupt_progress_file_counts_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, "{ half").unwrap();
        assert_eq!(load(&path).unwrap(), None);
    }

    #[test]
    fn recording_a_machine_keeps_completed_steps_current_step_and_captures() {
        let lesson: Lesson = serde_yaml::from_str(
            "version: 1\ntitle: T\nsteps:\n  - id: a\n    title: A\n  - id: b\n    title: B\n    goals:\n      - kind: scaled\n        deployment: w\n        replicas: 1\n",
        )
        .unwrap();
        let mut machine = Machine::new(lesson, 0, BTreeMap::new());
        machine.start();
        machine.continue_reading();
        let mut progress = Progress::new(PathBuf::from("/l"), "h".to_owned());
        progress.record(&machine);
        assert_eq!(progress.current_step.as_deref(), Some("b"));
        assert_eq!(progress.completed.len(), 1);
        machine.goals_reported(vec![GoalReport {
            met: true,
            ..GoalReport::pending()
        }]);
        progress.record(&machine);
        assert_eq!(progress.current_step, None);
        assert_eq!(progress.completed.len(), 2);
    }

    #[test]
    fn keys_are_stable_and_differ_per_path() {
        let a = lesson_key(Path::new("/a/l.yaml"));
        assert_eq!(a, lesson_key(Path::new("/a/l.yaml")));
        assert_ne!(a, lesson_key(Path::new("/b/l.yaml")));
        let builtin = lesson_key(Path::new("builtin:intro"));
        assert!(builtin.starts_with("intro-"), "{builtin}");
        assert_ne!(builtin, lesson_key(Path::new("intro")));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}
