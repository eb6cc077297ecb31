//! Persistence of the sandbox's objects (`--state PATH`): one JSON document, written
//! atomically (temp file + rename) and at most a few times per second.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::sandbox::store::{Snapshot, SnapshotEntry, Store};

/// The state file's format version.
pub const STATE_VERSION: u32 = 1;

/// Minimum time between two writes of the state file.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(300);

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading the file failed (other than its absence).
    #[error("failed to read the sandbox state {path}")]
    Read {
        /// The state file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// Writing or renaming the file failed.
    #[error("failed to write the sandbox state {path}")]
    Write {
        /// The state file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// Serialising the state failed.
    #[error("failed to serialise the sandbox state")]
    Serialise(#[source] serde_json::Error),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StateFile {
    kind: String,
    version: u32,
    resource_version: u64,
    objects: Vec<SnapshotEntry>,
}

/// What [`load`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum LoadOutcome {
    /// No state file: the store was left as it was.
    Fresh,
    /// The store now holds the saved objects.
    Restored {
        /// How many objects came back.
        objects: usize,
    },
    /// The file was unreadable as state; it was moved aside and the store left as it was.
    Quarantined {
        /// Where the bad file now is.
        moved_to: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
}

/// Restores `store` from `path`. A corrupt file is moved aside (`PATH.corrupt-<time>`),
/// never fatal.
pub fn load(store: &Store, path: &Path) -> Result<LoadOutcome, PersistError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LoadOutcome::Fresh),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return quarantine(path, format!("not UTF-8 text: {e}"));
        }
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let parsed: Result<StateFile, String> = serde_json::from_str::<StateFile>(&text)
        .map_err(|e| e.to_string())
        .and_then(|s| {
            if s.version != STATE_VERSION {
                Err(format!("unsupported state version {}", s.version))
            } else if s.objects.iter().any(|o| !o.object.is_object()) {
                Err("an entry is not an object".to_owned())
            } else {
                Ok(s)
            }
        });
    match parsed {
        Ok(state) => {
            let objects = state.objects.len();
            store.restore(Snapshot {
                resource_version: state.resource_version,
                objects: state.objects,
            });
            Ok(LoadOutcome::Restored { objects })
        }
        Err(reason) => quarantine(path, reason),
    }
}

fn quarantine(path: &Path, reason: String) -> Result<LoadOutcome, PersistError> {
    let stamp = jiff::Timestamp::now().as_second();
    let mut moved = path.as_os_str().to_owned();
    moved.push(format!(".corrupt-{stamp}"));
    let moved_to = PathBuf::from(moved);
    std::fs::rename(path, &moved_to).map_err(|source| PersistError::Write {
        path: moved_to.clone(),
        source,
    })?;
    Ok(LoadOutcome::Quarantined { moved_to, reason })
}

/// Writes the store to `path` atomically.
pub fn save(store: &Store, path: &Path) -> Result<(), PersistError> {
    let snap = store.snapshot();
    let state = StateFile {
        kind: "KubetutorSandboxState".to_owned(),
        version: STATE_VERSION,
        resource_version: snap.resource_version,
        objects: snap.objects,
    };
    let bytes = serde_json::to_vec(&state).map_err(PersistError::Serialise)?;
    crate::files::write_atomic(path, &bytes, 0o600).map_err(|source| PersistError::Write {
        path: path.to_owned(),
        source,
    })
}

/// A background task saving the store after changes; stop it with [`Persister::shutdown`]
/// for a final write.
pub struct Persister {
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Persister {
    /// Starts saving `store` to `path` at most once per `interval`.
    pub fn spawn(store: Arc<Store>, path: PathBuf, interval: Duration) -> Self {
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let task = tokio::spawn(async move {
            let mut changes = store.subscribe_changes();
            let mut saved_rv = 0;
            loop {
                let stop = tokio::select! {
                    _ = token.cancelled() => true,
                    r = changes.changed() => r.is_err(),
                };
                let rv = store.resource_version();
                if rv != saved_rv {
                    let (s, p) = (store.clone(), path.clone());
                    match tokio::task::spawn_blocking(move || save(&s, &p)).await {
                        Ok(Ok(())) => saved_rv = rv,
                        Ok(Err(e)) => tracing::warn!("{e}"),
                        Err(e) => tracing::warn!("failed to save the sandbox state: {e}"),
                    }
                }
                if stop {
                    break;
                }
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        });
        Persister {
            cancel,
            task: Some(task),
        }
    }

    /// Writes pending changes and stops.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

impl Drop for Persister {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::store::ResKey;
    use serde_json::json;

    #[test]
    fn state_round_trips_and_the_version_keeps_rising() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let store = Store::new();
        store
            .create(
                &ResKey::namespaces(),
                json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "demo"}}),
            )
            .unwrap();
        save(&store, &path).unwrap();
        let again = Store::new();
        assert_eq!(
            load(&again, &path).unwrap(),
            LoadOutcome::Restored { objects: 1 }
        );
        assert!(again.get(&ResKey::namespaces(), "", "demo").is_some());
        assert!(again.resource_version() > store.resource_version());
        assert_eq!(
            load(&Store::new(), &dir.path().join("none")).unwrap(),
            LoadOutcome::Fresh
        );
    }

    #[test]
    fn corrupt_state_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{not json").unwrap();
        let store = Store::new();
        match load(&store, &path).unwrap() {
            LoadOutcome::Quarantined { moved_to, .. } => {
                assert!(moved_to.exists());
                assert!(!path.exists());
            }
            other => panic!("expected quarantine, got {other:?}"),
        }
    }
}
