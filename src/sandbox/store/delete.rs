//! Deletion: graceful pod termination, finalizers, foreground and orphan propagation.

use serde_json::{Value, json};

use super::types::{conflict, not_found};
use super::{DeleteOpts, Inner, Propagation, ResKey, Store, StoreError, meta};

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
        if let Some(want) = &opts.precondition_uid
            && want != meta::uid(&old)
        {
            return Err(conflict(
                key,
                name,
                format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {}",
                    meta::uid(&old)
                ),
            ));
        }
        if let Some(want) = &opts.precondition_rv {
            let have = meta::resource_version(&old).unwrap_or(0).to_string();
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
        let uid = meta::uid(&old).to_owned();
        if opts.propagation == Propagation::Orphan {
            self.orphan_dependents(&mut inner, &uid);
        }
        let finalizers = meta::finalizers(&old);
        let terminating = meta::is_terminating(&old);
        let is_pod = *key == ResKey::pods();
        let is_namespace = *key == ResKey::namespaces();
        let mut obj = (*old).clone();
        if is_pod {
            let grace = opts
                .grace_period_seconds
                .or_else(|| {
                    old.pointer("/spec/terminationGracePeriodSeconds")
                        .and_then(Value::as_i64)
                })
                .unwrap_or(30)
                .max(0);
            let scheduled = old
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            if (grace == 0 || !scheduled) && finalizers.is_empty() {
                return Ok(self.remove_locked(&mut inner, key, old));
            }
            let current = old
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64);
            if terminating && current.is_some_and(|c| c <= grace) {
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
        let needs_wait = !finalizers.is_empty()
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
                && !a.iter().any(|f| f == "foregroundDeletion")
            {
                a.push(json!("foregroundDeletion"));
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
        inner.objects.values().any(|c| {
            c.values().any(|o| {
                meta::owner_refs(o)
                    .iter()
                    .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
            })
        })
    }

    fn orphan_dependents(&self, inner: &mut Inner, uid: &str) {
        let mut changed = Vec::new();
        for (key, coll) in &inner.objects {
            for o in coll.values() {
                let refs = meta::owner_refs(o);
                if refs
                    .iter()
                    .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
                {
                    let kept: Vec<Value> = refs
                        .iter()
                        .filter(|r| r.get("uid").and_then(Value::as_str) != Some(uid))
                        .cloned()
                        .collect();
                    let mut o = (**o).clone();
                    let m = meta::metadata_mut(&mut o);
                    if kept.is_empty() {
                        m.remove("ownerReferences");
                    } else {
                        m.insert("ownerReferences".into(), Value::Array(kept));
                    }
                    changed.push((key.clone(), o));
                }
            }
        }
        for (key, o) in changed {
            self.replace_locked(inner, &key, o);
        }
    }
}
