//! Object metadata: a typed view of it, and the helpers that write it (in JSON wire form)
//! plus the time, uid and name generators the store and controllers share.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use rand::Rng;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::sandbox::objects::view;

/// Alphabet Kubernetes uses for generated name suffixes and hashes (`rand.SafeEncodeString`).
pub const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The current time as RFC 3339 with whole seconds and a `Z`, as Kubernetes serialises it.
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    rfc3339_secs(now)
}

/// A timestamp rendered with whole seconds, the `metav1.Time` wire form.
pub fn rfc3339_secs(ts: jiff::Timestamp) -> String {
    let secs = ts.as_second();
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// The current time with microseconds, the `metav1.MicroTime` wire form.
pub fn now_rfc3339_micro() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
        .to_string()
}

/// The current time as a `metav1.Time`, with whole seconds as the API serialises it (so that
/// it compares equal to itself read back).
pub fn now_time() -> Time {
    time_at(jiff::Timestamp::now())
}

/// `ts` as a `metav1.Time`, truncated to whole seconds.
pub fn time_at(ts: jiff::Timestamp) -> Time {
    Time(jiff::Timestamp::from_second(ts.as_second()).unwrap_or(ts))
}

/// Parses a `metav1.Time` string.
pub fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse::<jiff::Timestamp>().ok()
}

/// A random RFC 4122 version 4 UUID.
pub fn new_uid() -> String {
    let mut rng = rand::rng();
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `n` random characters from [`SAFE_ALPHABET`], as `generateName` suffixes use.
pub fn random_suffix(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| SAFE_ALPHABET[rng.random_range(0..SAFE_ALPHABET.len())] as char)
        .collect()
}

/// `n` random lowercase hex digits.
pub fn random_hex(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}

view! {
    /// An object's metadata, borrowed from its JSON: what the store, the controllers and the
    /// API read of it. Absent (or mistyped) fields read as empty.
    pub struct Meta<'a> {
        /// `name`.
        #[serde(borrow)]
        pub name: &'a str,
        /// `generateName`.
        #[serde(borrow)]
        pub generate_name: &'a str,
        /// `namespace`, "" for cluster-scoped objects.
        #[serde(borrow)]
        pub namespace: &'a str,
        /// `uid`.
        #[serde(borrow)]
        pub uid: &'a str,
        /// `resourceVersion`.
        #[serde(borrow)]
        pub resource_version: &'a str,
        /// `generation`.
        pub generation: Option<i64>,
        /// `creationTimestamp`.
        #[serde(borrow)]
        pub creation_timestamp: &'a str,
        /// `deletionTimestamp`, set once the object is being deleted.
        #[serde(borrow)]
        pub deletion_timestamp: Option<&'a str>,
        /// `deletionGracePeriodSeconds`.
        pub deletion_grace_period_seconds: Option<i64>,
        /// `labels`.
        #[serde(borrow)]
        pub labels: BTreeMap<&'a str, &'a str>,
        /// `annotations`.
        #[serde(borrow)]
        pub annotations: BTreeMap<&'a str, &'a str>,
        /// `ownerReferences`.
        #[serde(borrow)]
        pub owner_references: Vec<OwnerRef<'a>>,
        /// `finalizers`.
        #[serde(borrow)]
        pub finalizers: Vec<&'a str>,
    }
}

view! {
    /// One of `metadata.ownerReferences`.
    pub struct OwnerRef<'a> {
        /// `apiVersion` of the owner.
        #[serde(borrow)]
        pub api_version: &'a str,
        /// `kind` of the owner.
        #[serde(borrow)]
        pub kind: &'a str,
        /// `name` of the owner.
        #[serde(borrow)]
        pub name: &'a str,
        /// `uid` of the owner.
        #[serde(borrow)]
        pub uid: &'a str,
        /// Whether the owner is the managing controller.
        pub controller: Option<bool>,
    }
}

view! {
    /// An object reduced to its metadata.
    struct Head<'a> {
        #[serde(borrow)]
        metadata: Meta<'a>,
    }
}

impl<'a> Meta<'a> {
    /// The metadata of `obj`.
    pub fn of(obj: &'a Value) -> Self {
        Head::deserialize(obj)
            .map(|h| h.metadata)
            .unwrap_or_default()
    }

    /// `resourceVersion` as a number, if set and numeric.
    pub fn resource_version_number(&self) -> Option<u64> {
        self.resource_version.parse().ok()
    }

    /// Whether the object is being deleted.
    pub fn is_terminating(&self) -> bool {
        self.deletion_timestamp.is_some()
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&'a str> {
        self.labels.get(key).copied()
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&'a str> {
        self.annotations.get(key).copied()
    }

    /// The uid of the controlling owner, if any.
    pub fn controller_uid(&self) -> Option<&'a str> {
        self.owner_references
            .iter()
            .find(|r| r.controller == Some(true))
            .map(|r| r.uid)
    }

    /// Whether the object with uid `owner_uid` controls this one.
    pub fn controlled_by(&self, owner_uid: &str) -> bool {
        self.controller_uid() == Some(owner_uid)
    }

    /// Whether any owner reference points at `uid`.
    pub fn owned_by(&self, uid: &str) -> bool {
        self.owner_references.iter().any(|r| r.uid == uid)
    }

    /// `creationTimestamp` parsed.
    pub fn created(&self) -> Option<jiff::Timestamp> {
        parse_time(self.creation_timestamp)
    }

    /// Creation time then name, for "oldest first" orderings (the timestamps have whole
    /// seconds in one format, so they sort as text).
    pub fn creation_key(&self) -> (&'a str, &'a str) {
        (self.creation_timestamp, self.name)
    }
}

/// The metadata fields only the server sets: an update keeps the stored ones.
pub const SERVER_SET: [&str; 4] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// `metadata` as a mutable map, created when missing or not an object.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    object_field_mut(obj, "metadata")
}

/// A field of `obj` as a mutable map, created when missing or not an object.
pub fn object_field_mut<'a>(obj: &'a mut Value, field: &str) -> &'a mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let Value::Object(map) = obj else {
        unreachable!("just made an object")
    };
    let entry = map
        .entry(field.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

/// Sets an annotation, creating the map if needed.
pub fn set_annotation(obj: &mut Value, key: &str, value: &str) {
    set_in(obj, "annotations", key, value);
}

/// Removes a label, when the object has it.
pub fn remove_label(obj: &mut Value, key: &str) {
    if let Some(Value::Object(labels)) = obj.get_mut("metadata").and_then(|m| m.get_mut("labels")) {
        labels.remove(key);
    }
}

/// Sets `key` in the metadata map `field` (labels or annotations), creating it if needed.
fn set_in(obj: &mut Value, field: &str, key: &str, value: &str) {
    let meta = metadata_mut(obj);
    let map = meta
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !map.is_object() {
        *map = Value::Object(Map::new());
    }
    if let Value::Object(m) = map {
        m.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

/// Sets a label, creating the map if needed.
pub fn set_label(obj: &mut Value, key: &str, value: &str) {
    set_in(obj, "labels", key, value);
}

/// The metadata fields a controller manages on the objects it derives (Endpoints,
/// EndpointSlices): the others belong to whoever else wrote them.
const MANAGED: [&str; 2] = ["labels", "ownerReferences"];

/// Copies the managed metadata fields `from` has onto `to`.
pub fn copy_managed(from: &Value, to: &mut Value) {
    let Some(source) = from.get("metadata").and_then(Value::as_object) else {
        return;
    };
    let target = metadata_mut(to);
    for field in MANAGED {
        if let Some(v) = source.get(field) {
            target.insert(field.to_owned(), v.clone());
        }
    }
}

/// Drops `finalizer` from `obj`'s finalizers (keeping the list, even empty).
pub fn remove_finalizer(obj: &mut Value, finalizer: &str) {
    let m = metadata_mut(obj);
    let kept: Vec<Value> = m
        .get("finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f.as_str().is_some_and(|f| f != finalizer))
        .cloned()
        .collect();
    m.insert("finalizers".to_owned(), Value::Array(kept));
}

/// Appends an ownerReference (JSON) to `obj`'s.
pub fn add_owner(obj: &mut Value, owner_ref: Value) {
    let refs = metadata_mut(obj)
        .entry("ownerReferences")
        .or_insert_with(|| Value::Array(Vec::new()));
    match refs {
        Value::Array(a) => a.push(owner_ref),
        other => *other = Value::Array(vec![owner_ref]),
    }
}

/// Drops `obj`'s ownerReferences to `uid` (the field goes when none remains, as Go omits it).
pub fn remove_owner(obj: &mut Value, uid: &str) {
    let m = metadata_mut(obj);
    if let Some(Value::Array(refs)) = m.get_mut("ownerReferences") {
        refs.retain(|r| OwnerRef::deserialize(r).map_or(true, |r| r.uid != uid));
        if refs.is_empty() {
            m.remove("ownerReferences");
        }
    }
}

/// An ownerReference making the object of `kind` (in `api_version`) with metadata `owner`
/// the controller of another, blocking the owner's deletion (as JSON).
pub fn controller_ref(api_version: &str, kind: &str, owner: &Meta) -> Value {
    crate::sandbox::objects::to_json(&controller_of(api_version, kind, owner))
}

/// The ownerReference making the object of `kind` with metadata `owner` the controller of
/// another, blocking the owner's deletion.
pub fn controller_of(api_version: &str, kind: &str, owner: &Meta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        name: owner.name.to_owned(),
        uid: owner.uid.to_owned(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// An ownerReference making `owner` (a stored object) the controller of another.
pub fn controller_ref_to(owner: &Value) -> Value {
    let head: crate::sandbox::objects::Any = crate::sandbox::objects::view_of(owner);
    controller_ref(head.api_version, head.kind, &head.metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_look_like_uuids() {
        let u = new_uid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, new_uid());
    }

    #[test]
    fn timestamps_have_whole_seconds() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z'), "{t}");
        assert_eq!(t.len(), 20, "{t}");
        assert!(parse_time(&t).is_some());
    }

    #[test]
    fn suffixes_use_the_safe_alphabet() {
        let s = random_suffix(5);
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
    }
}
