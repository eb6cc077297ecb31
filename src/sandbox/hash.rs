//! The pod-template hash: FNV-32a over a canonical form of the template, rendered with the
//! `rand.SafeEncodeString` alphabet like the real `controller.ComputeHash`.

use serde_json::{Map, Value};

use crate::sandbox::store::meta::SAFE_ALPHABET;

/// Label that ties ReplicaSets and pods to one template.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// FNV-1a, 32 bits.
pub fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Maps each byte onto the safe alphabet, as `rand.SafeEncodeString` does.
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// Drops what typed Go structs cannot tell from absence: nulls, empty maps, lists and
/// strings. Returns `None` when nothing remains.
pub fn normalize(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Array(a) => {
            let items: Vec<Value> = a
                .iter()
                .map(|x| normalize(x).unwrap_or(Value::Null))
                .collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(m) => {
            let mut out = Map::new();
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                if let Some(x) = m.get(k).and_then(normalize) {
                    out.insert(k.clone(), x);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        other => Some(other.clone()),
    }
}

/// A template with the hash label removed and normalised, ready to compare or hash.
fn comparable_template(template: &Value) -> Value {
    let mut t = template.clone();
    crate::sandbox::store::meta::remove_label(&mut t, POD_TEMPLATE_HASH);
    normalize(&t).unwrap_or(Value::Null)
}

/// Whether two pod templates are equal once the hash label is ignored (`EqualIgnoreHash`).
pub fn templates_equal_ignoring_hash(a: &Value, b: &Value) -> bool {
    comparable_template(a) == comparable_template(b)
}

/// The `pod-template-hash` value for a deployment's template and collision count.
pub fn pod_template_hash(template: &Value, collision_count: Option<i64>) -> String {
    // Keys are sorted by `normalize`, so the serialisation is canonical.
    let mut bytes = serde_json::to_vec(&comparable_template(template)).unwrap_or_default();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&(c as u32).to_le_bytes());
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnv_matches_the_reference_vectors() {
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn hashes_are_stable_and_ignore_absent_versus_empty() {
        let a = json!({"metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
                       "spec": {"containers": [{"name": "c", "image": "x:1", "resources": {}}]}});
        let b = json!({"spec": {"containers": [{"image": "x:1", "name": "c"}]},
                       "metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}});
        assert!(templates_equal_ignoring_hash(&a, &b));
        assert_eq!(pod_template_hash(&a, None), pod_template_hash(&b, None));
        let h = pod_template_hash(&a, None);
        assert!(h.bytes().all(|c| SAFE_ALPHABET.contains(&c)), "{h}");
        assert!((1..=10).contains(&h.len()));
        let c = json!({"metadata": {"labels": {"app": "web"}},
                       "spec": {"containers": [{"name": "c", "image": "x:2"}]}});
        assert!(!templates_equal_ignoring_hash(&a, &c));
        assert_ne!(pod_template_hash(&a, None), pod_template_hash(&c, None));
        assert_ne!(pod_template_hash(&a, None), pod_template_hash(&a, Some(1)));
    }
}
