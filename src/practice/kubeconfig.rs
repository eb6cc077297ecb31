//! The practice cluster's entries in the learner's own kubeconfig, the way `kind create
//! cluster` adds its own: a cluster, a user and a context named `kubetutor-sandbox`, and the
//! current context switched to it. The file is edited as a YAML value, so every other entry
//! and any field kubetutor does not know survive; `delete` removes exactly what was added.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_yaml::{Mapping, Value};

use crate::sandbox::kubeconfig::CONTEXT;

/// The three lists that hold named entries.
const LISTS: [&str; 3] = ["clusters", "users", "contexts"];

/// Why the kubeconfig could not be updated.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Reading, writing or renaming the file failed.
    #[error("failed to update the kubeconfig {}", path.display())]
    Io {
        /// The kubeconfig.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a kubeconfig kubetutor can edit without losing something.
    #[error("failed to update the kubeconfig {}: {why}", path.display())]
    Unreadable {
        /// The kubeconfig.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// What merging did, kept in the practice cluster's folder so `delete` can undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merged {
    /// The kubeconfig edited.
    pub path: PathBuf,
    /// Its current context before, when it was another one.
    pub previous_context: Option<String>,
    /// Its text before the first merge (`None`: kubetutor created the file).
    pub original: Option<String>,
}

/// The file `kubectl` reads first: the first of `$KUBECONFIG`, else `~/.kube/config`.
pub fn user_kubeconfig() -> Option<PathBuf> {
    if let Some(list) = std::env::var_os("KUBECONFIG")
        && let Some(first) = std::env::split_paths(&list).find(|p| !p.as_os_str().is_empty())
    {
        return Some(first);
    }
    dirs::home_dir().map(|home| home.join(".kube").join("config"))
}

/// An empty kubeconfig, as a file kubetutor creates starts.
fn skeleton() -> Value {
    let mut doc = Mapping::new();
    doc.insert("apiVersion".into(), "v1".into());
    doc.insert("kind".into(), "Config".into());
    for list in LISTS {
        doc.insert(list.into(), Value::Sequence(Vec::new()));
    }
    Value::Mapping(doc)
}

fn is_ours(entry: &Value) -> bool {
    entry.get("name").and_then(Value::as_str) == Some(CONTEXT)
}

/// Adds (or replaces) the entries of `ours` (a kubeconfig naming only the practice cluster)
/// in `doc` and makes it the current context. Returns the current context it replaced, if
/// another one. Fails only when `doc` is not a mapping or a list is not a list.
pub fn merge(doc: &mut Value, ours: &Value) -> Result<Option<String>, String> {
    if doc.is_null() {
        *doc = skeleton();
    }
    let map = doc
        .as_mapping_mut()
        .ok_or("it is not a YAML mapping".to_owned())?;
    for list in LISTS {
        let entry = ours
            .get(list)
            .and_then(Value::as_sequence)
            .and_then(|seq| seq.iter().find(|e| is_ours(e)))
            .cloned()
            .ok_or(format!("kubetutor's own kubeconfig has no {list} entry"))?;
        let slot = map
            .entry(list.into())
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if slot.is_null() {
            *slot = Value::Sequence(Vec::new());
        }
        let seq = slot
            .as_sequence_mut()
            .ok_or(format!("its `{list}` is not a list"))?;
        match seq.iter_mut().find(|e| is_ours(e)) {
            Some(existing) => *existing = entry,
            None => seq.push(entry),
        }
    }
    let previous = map
        .get("current-context")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty() && *c != CONTEXT)
        .map(str::to_owned);
    map.insert("current-context".into(), CONTEXT.into());
    Ok(previous)
}

/// Removes the practice cluster's entries from `doc`; a current context pointing at it goes
/// back to `previous` when that context still exists, else is removed.
pub fn unmerge(doc: &mut Value, previous: Option<&str>) {
    let Some(map) = doc.as_mapping_mut() else {
        return;
    };
    for list in LISTS {
        if let Some(seq) = map.get_mut(list).and_then(Value::as_sequence_mut) {
            seq.retain(|e| !is_ours(e));
        }
    }
    if map.get("current-context").and_then(Value::as_str) != Some(CONTEXT) {
        return;
    }
    let exists = |name: &str| {
        map.get("contexts")
            .and_then(Value::as_sequence)
            .is_some_and(|seq| {
                seq.iter()
                    .any(|e| e.get("name").and_then(Value::as_str) == Some(name))
            })
    };
    match previous.filter(|p| exists(p)) {
        Some(previous) => {
            map.insert("current-context".into(), previous.into());
        }
        None => {
            map.remove("current-context");
        }
    }
}

fn parse(path: &Path, text: &str) -> Result<Value, MergeError> {
    serde_yaml::from_str(text).map_err(|err| MergeError::Unreadable {
        path: path.to_owned(),
        why: err.to_string(),
    })
}

/// Merges the practice cluster's kubeconfig `ours` into the file at `path` (created 0600 when
/// absent, written atomically keeping its permissions). `before` is an earlier merge's record,
/// whose original text and previous context stay the ones to restore.
pub fn merge_file(path: &Path, ours: &str, before: Option<Merged>) -> Result<Merged, MergeError> {
    let io = |source| MergeError::Io {
        path: path.to_owned(),
        source,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(io(err)),
    };
    let mut doc = match &text {
        Some(text) => parse(path, text)?,
        None => Value::Null,
    };
    let ours = parse(path, ours)?;
    let previous = merge(&mut doc, &ours).map_err(|why| MergeError::Unreadable {
        path: path.to_owned(),
        why,
    })?;
    write_keeping_mode(path, &serialise(path, &doc)?).map_err(io)?;
    Ok(match before.filter(|b| b.path == path) {
        Some(before) => before,
        None => Merged {
            path: path.to_owned(),
            previous_context: previous,
            original: text,
        },
    })
}

/// Undoes [`merge_file`]: when nothing else changed since, the file gets its original text
/// back byte for byte (or is removed, if kubetutor created it); otherwise only the practice
/// cluster's entries go.
pub fn unmerge_file(merged: &Merged) -> Result<(), MergeError> {
    let path = merged.path.as_path();
    let io = |source| MergeError::Io {
        path: path.to_owned(),
        source,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(io(err)),
    };
    let mut doc = parse(path, &text)?;
    unmerge(&mut doc, merged.previous_context.as_deref());
    let original = match &merged.original {
        Some(original) => parse(path, original).ok(),
        None => Some(skeleton()),
    };
    if original.as_ref() == Some(&doc) {
        return match &merged.original {
            Some(original) => write_keeping_mode(path, original).map_err(io),
            None => std::fs::remove_file(path).map_err(io),
        };
    }
    write_keeping_mode(path, &serialise(path, &doc)?).map_err(io)
}

fn serialise(path: &Path, doc: &Value) -> Result<String, MergeError> {
    serde_yaml::to_string(doc).map_err(|err| MergeError::Unreadable {
        path: path.to_owned(),
        why: err.to_string(),
    })
}

/// Writes through a temp file beside the real one (a symlink is followed) and a rename, with
/// the old file's permissions, or owner-only for a new one (it holds a token).
fn write_keeping_mode(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let mode = std::fs::metadata(&target).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    crate::files::write_atomic(&target, text.as_bytes(), mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    const THEIRS: &str = "\
apiVersion: v1
kind: Config
# a comment kubectl would drop too
clusters:
- name: prod
  cluster:
    server: https://prod.example.com
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: {audience: prod}
- name: lab
  cluster: {server: https://10.0.0.2:6443}
users:
- name: prod
  user: {token: prod-token}
- name: lab
  user: {token: lab-token}
contexts:
- name: prod
  context: {cluster: prod, user: prod, namespace: web}
- name: lab
  context: {cluster: lab, user: lab}
current-context: prod
preferences: {colors: true}
x-unknown-field: keep me
";

    fn ours() -> Value {
        let text = crate::sandbox::kubeconfig::render("https://127.0.0.1:40000", "PEM", "tok");
        serde_yaml::from_str(&text).expect("our kubeconfig parses")
    }

    fn names(doc: &Value, list: &str) -> Vec<String> {
        doc[list]
            .as_sequence()
            .map(|seq| {
                seq.iter()
                    .filter_map(|e| e["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn merging_adds_three_entries_switches_context_and_keeps_everything_else() {
        let original: Value = serde_yaml::from_str(THEIRS).expect("parses");
        let mut doc = original.clone();
        let previous = merge(&mut doc, &ours()).expect("merges");
        assert_eq!(previous.as_deref(), Some("prod"));
        for list in LISTS {
            assert_eq!(names(&doc, list), ["prod", "lab", CONTEXT], "{list}");
        }
        assert_eq!(doc["current-context"].as_str(), Some(CONTEXT));
        assert_eq!(doc["x-unknown-field"].as_str(), Some("keep me"));
        assert_eq!(doc["clusters"][0], original["clusters"][0]);
        assert_eq!(doc["users"][0]["user"]["token"], "prod-token");
        // Merging again replaces rather than adds, and the context it replaced is ours.
        assert_eq!(merge(&mut doc, &ours()).expect("merges again"), None);
        assert_eq!(names(&doc, "contexts").len(), 3);

        unmerge(&mut doc, previous.as_deref());
        assert_eq!(doc, original);
    }

    #[test]
    fn an_empty_file_gets_a_whole_kubeconfig_and_loses_it_again() {
        let mut doc = Value::Null;
        assert_eq!(merge(&mut doc, &ours()).expect("merges"), None);
        assert_eq!(names(&doc, "users"), [CONTEXT]);
        assert_eq!(doc["kind"].as_str(), Some("Config"));
        unmerge(&mut doc, None);
        assert_eq!(doc, skeleton());
    }

    #[test]
    fn unmerging_leaves_a_current_context_the_learner_chose_since() {
        let mut doc: Value = serde_yaml::from_str(THEIRS).expect("parses");
        merge(&mut doc, &ours()).expect("merges");
        doc["current-context"] = "lab".into();
        unmerge(&mut doc, Some("prod"));
        assert_eq!(doc["current-context"].as_str(), Some("lab"));
        // The previous context is gone too: no current context rather than a dangling one.
        let mut doc: Value = serde_yaml::from_str(THEIRS).expect("parses");
        merge(&mut doc, &ours()).expect("merges");
        unmerge(&mut doc, Some("deleted-meanwhile"));
        assert!(doc.get("current-context").is_none(), "{doc:?}");
    }

    #[test]
    fn files_that_are_not_kubeconfigs_are_refused_untouched() {
        let mut doc = Value::String("just text".into());
        assert!(merge(&mut doc, &ours()).is_err());
        let mut doc: Value = serde_yaml::from_str("clusters: 3").expect("parses");
        assert!(merge(&mut doc, &ours()).is_err());
    }

    #[test]
    fn the_file_round_trip_restores_the_original_bytes_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config");
        std::fs::write(&path, THEIRS).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let text = crate::sandbox::kubeconfig::render("https://127.0.0.1:40000", "PEM", "tok");
        let merged = merge_file(&path, &text, None).expect("merges");
        assert_eq!(merged.previous_context.as_deref(), Some("prod"));
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o640);
        let again = merge_file(&path, &text, Some(merged.clone())).expect("merges again");
        assert_eq!(again, merged, "the first record is the one to restore");
        unmerge_file(&merged).expect("unmerges");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), THEIRS);

        // A file kubetutor created is owner-only, and goes away with the entries.
        let created = dir.path().join("kube/new-config");
        let merged = merge_file(&created, &text, None).expect("creates");
        assert_eq!(mode(&created), 0o600);
        unmerge_file(&merged).expect("unmerges");
        assert!(!created.exists());
    }
}
