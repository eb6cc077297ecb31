//! Deletion: graceful pod termination, finalizers, foreground and orphan propagation.

use serde_json::{Value, json};

use super::meta::Meta;
use super::types::{conflict, not_found};
use super::{DeleteOpts, Inner, Propagation, ResKey, Store, StoreError, meta};
use crate::sandbox::objects::{Pod, view_of};

/// The finalizer a foreground deletion holds its object with.
pub const FOREGROUND: &str = "foregroundDeletion";

impl Store {
    /// Deletes an object: pods and objects with finalizers (or Foreground dependents) get a
    /// deletionTimestamp and go later; everything else goes at once.
    pub fn delete(
        &self,
        key: &ResKey,
        namespace: &str,
        name: &str,
        opts: &DeleteOpts,
    ) -> Result<Value, StoreError> {
        let mut inner = self.lock();
        let Some(old) = inner
            .objects
            .get(key)
            .and_then(|c| c.get(&(namespace.to_owned(), name.to_owned())))
            .cloned()
        else {
            return Err(not_found(key, name));
        };
        let old_meta = Meta::of(&old);
        if let Some(want) = &opts.precondition_uid
            && want != old_meta.uid
        {
            return Err(conflict(
                key,
                name,
                format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {}",
                    old_meta.uid
                ),
            ));
        }
        if let Some(want) = &opts.precondition_rv {
            let have = old_meta.resource_version_number().unwrap_or(0).to_string();
            if *want != have {
                return Err(conflict(
                    key,
                    name,
                    format!(
                        "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {have}"
                    ),
                ));
            }
        }
        let uid = old_meta.uid.to_owned();
        let has_finalizers = !old_meta.finalizers.is_empty();
        let terminating = old_meta.is_terminating();
        let current_grace = old_meta.deletion_grace_period_seconds;
        if opts.propagation == Propagation::Orphan {
            self.orphan_dependents(&mut inner, &uid);
        }
        let is_pod = *key == ResKey::pods();
        let is_namespace = *key == ResKey::namespaces();
        let mut obj = (*old).clone();
        if is_pod {
            let pod: Pod = view_of(&old);
            let grace = opts
                .grace_period_seconds
                .or(pod.spec.termination_grace_period_seconds)
                .unwrap_or(30)
                .max(0);
            let scheduled = !pod.spec.node_name.is_empty();
            if (grace == 0 || !scheduled) && !has_finalizers {
                return Ok(self.remove_locked(&mut inner, key, old));
            }
            if terminating && current_grace.is_some_and(|c| c <= grace) {
                return Ok((*old).clone());
            }
            let when = jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_secs(grace))
                .unwrap_or_else(|_| jiff::Timestamp::now());
            let m = meta::metadata_mut(&mut obj);
            m.insert(
                "deletionTimestamp".into(),
                Value::String(meta::rfc3339_secs(when)),
            );
            m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            return Ok(self.replace_locked(&mut inner, key, obj));
        }
        let needs_wait = has_finalizers
            || is_namespace
            || (opts.propagation == Propagation::Foreground && self.has_dependents(&inner, &uid));
        if !needs_wait {
            return Ok(self.remove_locked(&mut inner, key, old));
        }
        if terminating {
            return Ok((*old).clone());
        }
        let m = meta::metadata_mut(&mut obj);
        m.insert(
            "deletionTimestamp".into(),
            Value::String(meta::now_rfc3339()),
        );
        m.insert("deletionGracePeriodSeconds".into(), json!(0));
        if opts.propagation == Propagation::Foreground && !is_namespace {
            let list = m.entry("finalizers").or_insert_with(|| json!([]));
            if let Value::Array(a) = list
                && !a.iter().any(|f| f == FOREGROUND)
            {
                a.push(json!(FOREGROUND));
            }
        }
        if is_namespace {
            meta::object_field_mut(&mut obj, "status").insert("phase".into(), json!("Terminating"));
        }
        Ok(self.replace_locked(&mut inner, key, obj))
    }

    /// Removes an object at once, ignoring finalizers and grace (the kubelet's final delete,
    /// the namespace controller). Returns the removed object, if it existed.
    pub fn purge(&self, key: &ResKey, namespace: &str, name: &str) -> Option<Value> {
        let mut inner = self.lock();
        let old = inner
            .objects
            .get(key)
            .and_then(|c| c.get(&(namespace.to_owned(), name.to_owned())))
            .cloned()?;
        Some(self.remove_locked(&mut inner, key, old))
    }

    fn has_dependents(&self, inner: &Inner, uid: &str) -> bool {
        inner
            .objects
            .values()
            .any(|c| c.values().any(|o| Meta::of(o).owned_by(uid)))
    }

    fn orphan_dependents(&self, inner: &mut Inner, uid: &str) {
        let mut changed = Vec::new();
        for (key, coll) in &inner.objects {
            for o in coll.values() {
                if Meta::of(o).owned_by(uid) {
                    let mut o = (**o).clone();
                    meta::remove_owner(&mut o, uid);
                    changed.push((key.clone(), o));
                }
            }
        }
        for (key, o) in changed {
            self.replace_locked(inner, &key, o);
        }
    }
}
