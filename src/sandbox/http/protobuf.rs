//! Decoding `application/vnd.kubernetes.protobuf` bodies into JSON objects.
//!
//! client-go's typed clients (so `kubectl create deployment|namespace|service|configmap`) POST
//! protobuf. The envelope is `k8s\0` + `runtime.Unknown`; the payload is decoded against a
//! small schema of the kinds those commands create (field numbers from k8s-pb). Go writes
//! non-pointer zero values, which mean "absent": they are dropped, except for pointer fields.

use serde_json::{Map, Value, json};

use crate::sandbox::registry::status::ApiError;

/// The Content-Type of protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";

#[derive(Clone, Copy)]
enum F {
    /// A string; dropped when empty.
    Str,
    /// An integer; `true` when a Go pointer (zero is then meaningful).
    Int(bool),
    /// A bool; `true` when a Go pointer (false is then meaningful).
    Bool(bool),
    Msg(&'static [Field]),
    StrList,
    MsgList(&'static [Field]),
    StrMap,
    QtyMap,
    BytesMap,
    Time,
    IntOrStr,
}

type Field = (u32, &'static str, F);

const OWNER_REF: &[Field] = &[
    (5, "apiVersion", F::Str),
    (1, "kind", F::Str),
    (3, "name", F::Str),
    (4, "uid", F::Str),
    (6, "controller", F::Bool(true)),
    (7, "blockOwnerDeletion", F::Bool(true)),
];
const OBJECT_META: &[Field] = &[
    (1, "name", F::Str),
    (2, "generateName", F::Str),
    (3, "namespace", F::Str),
    (5, "uid", F::Str),
    (6, "resourceVersion", F::Str),
    (7, "generation", F::Int(false)),
    (8, "creationTimestamp", F::Time),
    (9, "deletionTimestamp", F::Time),
    (11, "labels", F::StrMap),
    (12, "annotations", F::StrMap),
    (13, "ownerReferences", F::MsgList(OWNER_REF)),
    (14, "finalizers", F::StrList),
];
const REQUIREMENT: &[Field] = &[
    (1, "key", F::Str),
    (2, "operator", F::Str),
    (3, "values", F::StrList),
];
const LABEL_SELECTOR: &[Field] = &[
    (1, "matchLabels", F::StrMap),
    (2, "matchExpressions", F::MsgList(REQUIREMENT)),
];
const CONTAINER_PORT: &[Field] = &[
    (1, "name", F::Str),
    (2, "hostPort", F::Int(false)),
    (3, "containerPort", F::Int(false)),
    (4, "protocol", F::Str),
    (5, "hostIP", F::Str),
];
const FIELD_REF: &[Field] = &[(1, "apiVersion", F::Str), (2, "fieldPath", F::Str)];
const LOCAL_REF: &[Field] = &[(1, "name", F::Str)];
const KEY_REF: &[Field] = &[
    (1, "localObjectReference", F::Msg(LOCAL_REF)),
    (2, "key", F::Str),
    (3, "optional", F::Bool(true)),
];
const ENV_SOURCE: &[Field] = &[
    (1, "fieldRef", F::Msg(FIELD_REF)),
    (3, "configMapKeyRef", F::Msg(KEY_REF)),
    (4, "secretKeyRef", F::Msg(KEY_REF)),
];
const ENV_VAR: &[Field] = &[
    (1, "name", F::Str),
    (2, "value", F::Str),
    (3, "valueFrom", F::Msg(ENV_SOURCE)),
];
const RESOURCES: &[Field] = &[(1, "limits", F::QtyMap), (2, "requests", F::QtyMap)];
const VOLUME_MOUNT: &[Field] = &[
    (1, "name", F::Str),
    (2, "readOnly", F::Bool(false)),
    (3, "mountPath", F::Str),
    (4, "subPath", F::Str),
];
const CONTAINER: &[Field] = &[
    (1, "name", F::Str),
    (2, "image", F::Str),
    (3, "command", F::StrList),
    (4, "args", F::StrList),
    (5, "workingDir", F::Str),
    (6, "ports", F::MsgList(CONTAINER_PORT)),
    (7, "env", F::MsgList(ENV_VAR)),
    (8, "resources", F::Msg(RESOURCES)),
    (9, "volumeMounts", F::MsgList(VOLUME_MOUNT)),
    (13, "terminationMessagePath", F::Str),
    (20, "terminationMessagePolicy", F::Str),
    (14, "imagePullPolicy", F::Str),
    (16, "stdin", F::Bool(false)),
    (17, "stdinOnce", F::Bool(false)),
    (18, "tty", F::Bool(false)),
];
const POD_SPEC: &[Field] = &[
    (20, "initContainers", F::MsgList(CONTAINER)),
    (2, "containers", F::MsgList(CONTAINER)),
    (3, "restartPolicy", F::Str),
    (4, "terminationGracePeriodSeconds", F::Int(true)),
    (5, "activeDeadlineSeconds", F::Int(true)),
    (6, "dnsPolicy", F::Str),
    (7, "nodeSelector", F::StrMap),
    (8, "serviceAccountName", F::Str),
    (9, "serviceAccount", F::Str),
    (21, "automountServiceAccountToken", F::Bool(true)),
    (10, "nodeName", F::Str),
    (11, "hostNetwork", F::Bool(false)),
    (15, "imagePullSecrets", F::MsgList(LOCAL_REF)),
    (16, "hostname", F::Str),
    (17, "subdomain", F::Str),
    (19, "schedulerName", F::Str),
    (24, "priorityClassName", F::Str),
    (30, "enableServiceLinks", F::Bool(true)),
];
const POD_TEMPLATE: &[Field] = &[
    (1, "metadata", F::Msg(OBJECT_META)),
    (2, "spec", F::Msg(POD_SPEC)),
];
const ROLLING_UPDATE: &[Field] = &[
    (1, "maxUnavailable", F::IntOrStr),
    (2, "maxSurge", F::IntOrStr),
];
const STRATEGY: &[Field] = &[
    (1, "type", F::Str),
    (2, "rollingUpdate", F::Msg(ROLLING_UPDATE)),
];
const DEPLOYMENT_SPEC: &[Field] = &[
    (1, "replicas", F::Int(true)),
    (2, "selector", F::Msg(LABEL_SELECTOR)),
    (3, "template", F::Msg(POD_TEMPLATE)),
    (4, "strategy", F::Msg(STRATEGY)),
    (5, "minReadySeconds", F::Int(false)),
    (6, "revisionHistoryLimit", F::Int(true)),
    (7, "paused", F::Bool(false)),
    (9, "progressDeadlineSeconds", F::Int(true)),
];
const REPLICASET_SPEC: &[Field] = &[
    (1, "replicas", F::Int(true)),
    (4, "minReadySeconds", F::Int(false)),
    (2, "selector", F::Msg(LABEL_SELECTOR)),
    (3, "template", F::Msg(POD_TEMPLATE)),
];
const SERVICE_PORT: &[Field] = &[
    (1, "name", F::Str),
    (2, "protocol", F::Str),
    (6, "appProtocol", F::Str),
    (3, "port", F::Int(false)),
    (4, "targetPort", F::IntOrStr),
    (5, "nodePort", F::Int(false)),
];
const SERVICE_SPEC: &[Field] = &[
    (1, "ports", F::MsgList(SERVICE_PORT)),
    (2, "selector", F::StrMap),
    (3, "clusterIP", F::Str),
    (18, "clusterIPs", F::StrList),
    (4, "type", F::Str),
    (5, "externalIPs", F::StrList),
    (7, "sessionAffinity", F::Str),
    (10, "externalName", F::Str),
    (11, "externalTrafficPolicy", F::Str),
    (19, "ipFamilies", F::StrList),
    (17, "ipFamilyPolicy", F::Str),
    (22, "internalTrafficPolicy", F::Str),
];
const NAMESPACE_SPEC: &[Field] = &[(1, "finalizers", F::StrList)];

fn top_level(kind: &str) -> Option<&'static [Field]> {
    const fn obj(spec: &'static [Field]) -> [Field; 2] {
        [
            (1, "metadata", F::Msg(OBJECT_META)),
            (2, "spec", F::Msg(spec)),
        ]
    }
    const DEPLOYMENT: [Field; 2] = obj(DEPLOYMENT_SPEC);
    const REPLICASET: [Field; 2] = obj(REPLICASET_SPEC);
    const SERVICE: [Field; 2] = obj(SERVICE_SPEC);
    const POD: [Field; 2] = obj(POD_SPEC);
    const NAMESPACE: [Field; 2] = obj(NAMESPACE_SPEC);
    const CONFIGMAP: &[Field] = &[
        (1, "metadata", F::Msg(OBJECT_META)),
        (4, "immutable", F::Bool(true)),
        (2, "data", F::StrMap),
        (3, "binaryData", F::BytesMap),
    ];
    Some(match kind {
        "Deployment" => &DEPLOYMENT,
        "ReplicaSet" => &REPLICASET,
        "Service" => &SERVICE,
        "Pod" => &POD,
        "Namespace" => &NAMESPACE,
        "ConfigMap" => CONFIGMAP,
        _ => return None,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn malformed() -> ApiError {
    ApiError::bad_request("failed to decode the protobuf body: malformed message")
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or_else(malformed)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed())
    }

    fn next(&mut self) -> Result<Option<(u32, Wire<'a>)>, ApiError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| malformed())?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => self.skip(8)?,
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| malformed())?;
                let end = self
                    .pos
                    .checked_add(len)
                    .filter(|e| *e <= self.buf.len())
                    .ok_or_else(malformed)?;
                let bytes = &self.buf[self.pos..end];
                self.pos = end;
                Wire::Bytes(bytes)
            }
            5 => self.skip(4)?,
            _ => return Err(malformed()),
        };
        Ok(Some((number, wire)))
    }

    fn skip(&mut self, n: usize) -> Result<Wire<'a>, ApiError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(malformed)?;
        self.pos = end;
        Ok(Wire::Fixed)
    }
}

fn text(bytes: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::bad_request("failed to decode the protobuf body: invalid UTF-8"))
}

/// Decodes a message's raw fields into a map of (number -> values in order).
fn fields(buf: &[u8]) -> Result<Vec<(u32, Wire<'_>)>, ApiError> {
    let mut reader = Reader { buf, pos: 0 };
    let mut out = Vec::new();
    while let Some(field) = reader.next()? {
        out.push(field);
    }
    Ok(out)
}

fn map_entry(bytes: &[u8]) -> Result<(String, Option<&[u8]>), ApiError> {
    let mut key = String::new();
    let mut value = None;
    for (n, w) in fields(bytes)? {
        match (n, w) {
            (1, Wire::Bytes(b)) => key = text(b)?,
            (2, Wire::Bytes(b)) => value = Some(b),
            _ => {}
        }
    }
    Ok((key, value))
}

fn decode_message(
    buf: &[u8],
    schema: &[Field],
    depth: usize,
) -> Result<Map<String, Value>, ApiError> {
    if depth > 32 {
        return Err(malformed());
    }
    let mut out = Map::new();
    for (number, wire) in fields(buf)? {
        let Some((_, name, kind)) = schema.iter().find(|(n, _, _)| *n == number) else {
            continue;
        };
        let name = (*name).to_owned();
        match (*kind, wire) {
            (F::Str, Wire::Bytes(b)) => {
                let s = text(b)?;
                if !s.is_empty() {
                    out.insert(name, json!(s));
                }
            }
            (F::Int(pointer), Wire::Varint(v)) => {
                // Varints carry two's complement for negative int32/int64.
                let v = v as i64;
                if v != 0 || pointer {
                    out.insert(name, json!(v));
                }
            }
            (F::Bool(pointer), Wire::Varint(v)) => {
                if v != 0 || pointer {
                    out.insert(name, json!(v != 0));
                }
            }
            (F::Msg(inner), Wire::Bytes(b)) => {
                out.insert(name, Value::Object(decode_message(b, inner, depth + 1)?));
            }
            (F::StrList, Wire::Bytes(b)) => push(&mut out, name, json!(text(b)?)),
            (F::MsgList(inner), Wire::Bytes(b)) => push(
                &mut out,
                name,
                Value::Object(decode_message(b, inner, depth + 1)?),
            ),
            (F::StrMap, Wire::Bytes(b)) => {
                let (k, v) = map_entry(b)?;
                let v = v.map(text).transpose()?.unwrap_or_default();
                insert_entry(&mut out, name, k, json!(v));
            }
            (F::QtyMap, Wire::Bytes(b)) => {
                let (k, v) = map_entry(b)?;
                let quantity = match v {
                    Some(q) => fields(q)?.into_iter().find_map(|(n, w)| match (n, w) {
                        (1, Wire::Bytes(s)) => Some(text(s)),
                        _ => None,
                    }),
                    None => None,
                };
                insert_entry(
                    &mut out,
                    name,
                    k,
                    json!(quantity.transpose()?.unwrap_or_default()),
                );
            }
            (F::BytesMap, Wire::Bytes(b)) => {
                use base64::Engine;
                let (k, v) = map_entry(b)?;
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(v.unwrap_or_default());
                insert_entry(&mut out, name, k, json!(encoded));
            }
            (F::Time, Wire::Bytes(b)) => {
                let mut seconds = 0i64;
                for (n, w) in fields(b)? {
                    if let (1, Wire::Varint(v)) = (n, w) {
                        seconds = v as i64;
                    }
                }
                if seconds != 0
                    && let Ok(ts) = jiff::Timestamp::from_second(seconds)
                {
                    out.insert(name, json!(ts.to_string()));
                }
            }
            (F::IntOrStr, Wire::Bytes(b)) => {
                let (mut ty, mut int, mut string) = (0u64, 0i64, String::new());
                for (n, w) in fields(b)? {
                    match (n, w) {
                        (1, Wire::Varint(v)) => ty = v,
                        (2, Wire::Varint(v)) => int = v as i64,
                        (3, Wire::Bytes(s)) => string = text(s)?,
                        _ => {}
                    }
                }
                if ty == 1 {
                    out.insert(name, json!(string));
                } else if int != 0 {
                    out.insert(name, json!(int));
                }
            }
            _ => return Err(malformed()),
        }
    }
    Ok(out)
}

fn push(out: &mut Map<String, Value>, name: String, value: Value) {
    match out.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(items) => items.push(value),
        other => *other = Value::Array(vec![value]),
    }
}

fn insert_entry(out: &mut Map<String, Value>, name: String, key: String, value: Value) {
    if let Value::Object(m) = out.entry(name).or_insert_with(|| Value::Object(Map::new())) {
        m.insert(key, value);
    }
}

/// Decodes a protobuf body into a JSON object with `apiVersion` and `kind`.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let rest = body.strip_prefix(MAGIC).ok_or_else(|| {
        ApiError::bad_request("failed to decode the protobuf body: missing the k8s magic prefix")
    })?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (n, w) in fields(rest)? {
        match (n, w) {
            (1, Wire::Bytes(tm)) => {
                for (m, w2) in fields(tm)? {
                    match (m, w2) {
                        (1, Wire::Bytes(s)) => api_version = text(s)?,
                        (2, Wire::Bytes(s)) => kind = text(s)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let schema = top_level(&kind).ok_or_else(|| {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the sandbox cannot decode protobuf bodies of kind {kind:?}; send JSON"),
        )
    })?;
    let mut object = Map::new();
    object.insert("apiVersion".to_owned(), json!(api_version));
    object.insert("kind".to_owned(), json!(kind));
    for (k, v) in decode_message(raw, schema, 0)? {
        object.insert(k, v);
    }
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_pb::api::apps::v1 as apps;
    use k8s_pb::api::core::v1 as core;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
    use prost::Message;

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown {
            type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
                api_version: Some(api_version.to_owned()),
                kind: Some(kind.to_owned()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut out = MAGIC.to_vec();
        out.extend(unknown.encode_to_vec());
        out
    }

    #[test]
    fn decodes_a_deployment_like_kubectl_create_sends() {
        let labels: std::collections::BTreeMap<String, String> =
            [("app".to_owned(), "web".to_owned())].into();
        let deploy = apps::Deployment {
            metadata: Some(meta::ObjectMeta {
                name: Some("web".to_owned()),
                labels: labels.clone(),
                namespace: Some(String::new()),
                creation_timestamp: Some(meta::Time {
                    seconds: Some(0),
                    nanos: Some(0),
                }),
                ..Default::default()
            }),
            spec: Some(apps::DeploymentSpec {
                replicas: Some(1),
                selector: Some(meta::LabelSelector {
                    match_labels: labels.clone(),
                    ..Default::default()
                }),
                template: Some(core::PodTemplateSpec {
                    metadata: Some(meta::ObjectMeta {
                        labels,
                        ..Default::default()
                    }),
                    spec: Some(core::PodSpec {
                        containers: vec![core::Container {
                            name: Some("app".to_owned()),
                            image: Some("nginx".to_owned()),
                            working_dir: Some(String::new()),
                            resources: Some(core::ResourceRequirements::default()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                }),
                strategy: Some(apps::DeploymentStrategy::default()),
                min_ready_seconds: Some(0),
                ..Default::default()
            }),
            status: Some(apps::DeploymentStatus::default()),
        };
        let body = envelope("apps/v1", "Deployment", deploy.encode_to_vec());
        let json = decode(&body).expect("decoded");
        // k8s-openapi checks the kind and apiVersion as it reads.
        let d: k8s_openapi::api::apps::v1::Deployment =
            serde_json::from_value(json).expect("a Deployment");
        assert_eq!(d.metadata.name.as_deref(), Some("web"));
        assert_eq!(d.metadata.namespace, None);
        assert_eq!(
            d.metadata.creation_timestamp, None,
            "the zero time means none"
        );
        let spec = d.spec;
        assert_eq!(spec.replicas, Some(1));
        assert_eq!(spec.min_ready_seconds, None, "zero means absent");
        let app = spec
            .selector
            .match_labels
            .and_then(|l| l.get("app").cloned());
        assert_eq!(app.as_deref(), Some("web"));
        let container = spec
            .template
            .spec
            .map(|s| s.containers[0].clone())
            .expect("a container");
        assert_eq!(container.image.as_deref(), Some("nginx"));
        assert_eq!(container.working_dir, None, "an empty string means absent");
    }

    #[test]
    fn rejects_junk() {
        assert!(decode(b"nope").is_err());
        assert!(decode(b"k8s\0\x0a\xff\xff\xff").is_err());
        let body = envelope("v1", "Secret", Vec::new());
        assert_eq!(decode(&body).map_err(|e| e.code), Err(415));
    }
}
