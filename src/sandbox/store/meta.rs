//! Small helpers over object metadata in JSON wire form, shared by the store and controllers.

use rand::Rng;
use serde_json::{Map, Value};

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

/// `metadata.name`, or "".
pub fn name(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `metadata.namespace`, or "" for cluster-scoped objects.
pub fn namespace(obj: &Value) -> &str {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `metadata.uid`, or "".
pub fn uid(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `metadata.resourceVersion` as a number, if set and numeric.
pub fn resource_version(obj: &Value) -> Option<u64> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_terminating(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// A label value.
pub fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// An annotation value.
pub fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

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
    let meta = metadata_mut(obj);
    let ann = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !ann.is_object() {
        *ann = Value::Object(Map::new());
    }
    if let Value::Object(m) = ann {
        m.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

/// The controller owner reference's uid, if any.
pub fn controller_uid(obj: &Value) -> Option<&str> {
    owner_refs(obj)
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| r.get("uid"))
        .and_then(Value::as_str)
}

/// `metadata.ownerReferences`, or an empty slice.
pub fn owner_refs(obj: &Value) -> &[Value] {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `metadata.finalizers` as strings.
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// An ownerReference pointing at `owner` (controller, blocking owner deletion).
pub fn controller_ref(owner: &Value) -> Value {
    serde_json::json!({
        "apiVersion": owner.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": owner.get("kind").cloned().unwrap_or(Value::Null),
        "name": name(owner),
        "uid": uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
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
