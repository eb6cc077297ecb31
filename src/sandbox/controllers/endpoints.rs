//! The endpoints and endpointslice controllers: for every Service with a selector, the
//! addresses of the pods it selects.

use serde_json::{Map, Value, json};

use super::Reconciler;
use super::util::{map_selector_matches, pod_ready, str_at};
use crate::sandbox::store::{DeleteOpts, ResKey, Store, StoreError, meta};

/// Label linking an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages an EndpointSlice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's `managed-by` value.
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// Label naming the controller that manages an Endpoints object, and its value.
const ENDPOINTS_MANAGED_BY: (&str, &str) =
    ("endpoints.kubernetes.io/managed-by", "endpoint-controller");
/// Annotation both controllers set to the time of the change that last moved the addresses.
const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";

/// Maintains Endpoints and EndpointSlices.
#[derive(Default)]
pub struct EndpointsController;

impl EndpointsController {
    /// A new controller.
    pub fn new() -> Self {
        EndpointsController
    }
}

/// The container port a Service port targets on a pod (named target ports resolve by name).
fn target_port(svc_port: &Value, pod: &Value) -> Option<i64> {
    match svc_port.get("targetPort") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(name)) => match name.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)?
                .iter()
                .flat_map(|c| {
                    c.get("ports")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                })
                .find(|p| str_at(p, "/name") == name)
                .and_then(|p| p.get("containerPort"))
                .and_then(Value::as_i64),
        },
        _ => svc_port.get("port").and_then(Value::as_i64),
    }
}

/// The ports of an Endpoints subset or (with `always_named`) an EndpointSlice: slices always
/// carry a name, "" when the Service port has none (`kubectl describe service`
/// dereferences it).
fn ports_for(svc: &Value, pod: Option<&Value>, always_named: bool) -> Vec<Value> {
    let empty = json!({});
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| {
                    let port = target_port(p, pod.unwrap_or(&empty))?;
                    let mut out = Map::new();
                    let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                    if always_named || !name.is_empty() {
                        out.insert("name".into(), json!(name));
                    }
                    out.insert("port".into(), json!(port));
                    out.insert(
                        "protocol".into(),
                        p.get("protocol").cloned().unwrap_or(json!("TCP")),
                    );
                    Some(Value::Object(out))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn target_ref(pod: &Value) -> Value {
    json!({"kind": "Pod", "namespace": meta::namespace(pod), "name": meta::name(pod),
           "uid": meta::uid(pod)})
}

fn upsert(
    store: &Store,
    key: &ResKey,
    current: Option<Value>,
    desired: Value,
) -> Result<(), StoreError> {
    let stamp = |object: &mut Value| {
        let annotations = meta::metadata_mut(object)
            .entry("annotations")
            .or_insert_with(|| json!({}));
        annotations[TRIGGER_TIME] = json!(meta::now_rfc3339());
    };
    match current {
        None => {
            let mut desired = desired;
            stamp(&mut desired);
            store.create(key, desired).map(|_| ())
        }
        Some(mut cur) => {
            let mut changed = false;
            for (k, v) in desired.as_object().into_iter().flatten() {
                if k == "metadata" {
                    for field in ["labels", "ownerReferences"] {
                        if let Some(v) = v.get(field)
                            && cur.pointer(&format!("/metadata/{field}")) != Some(v)
                        {
                            meta::metadata_mut(&mut cur).insert(field.into(), v.clone());
                            changed = true;
                        }
                    }
                } else if cur.get(k) != Some(v) {
                    cur[k] = v.clone();
                    changed = true;
                }
            }
            if let Some(m) = cur.as_object_mut()
                && m.contains_key("subsets")
                && desired.get("subsets").is_none()
            {
                m.remove("subsets");
                changed = true;
            }
            if changed {
                stamp(&mut cur);
                store.update(key, cur)?;
            }
            Ok(())
        }
    }
}

impl EndpointsController {
    fn sync(
        &self,
        store: &Store,
        svc: &Value,
        pods: &[std::sync::Arc<Value>],
        slices: &[std::sync::Arc<Value>],
    ) -> Result<(), StoreError> {
        let Some(selector) = svc.pointer("/spec/selector").and_then(Value::as_object) else {
            return Ok(());
        };
        if selector.is_empty() {
            return Ok(());
        }
        let ns = meta::namespace(svc);
        let name = meta::name(svc);
        let mut selected: Vec<&Value> = pods
            .iter()
            .map(|p| &**p)
            .filter(|p| meta::namespace(p) == ns)
            .filter(|p| map_selector_matches(selector, p.pointer("/metadata/labels")))
            .filter(|p| !str_at(p, "/status/podIP").is_empty())
            .filter(|p| !matches!(str_at(p, "/status/phase"), "Succeeded" | "Failed"))
            .collect();
        selected.sort_by_key(|p| str_at(p, "/status/podIP").to_owned());
        let publish_not_ready = svc.pointer("/spec/publishNotReadyAddresses") == Some(&json!(true));
        let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
        for p in selected.iter().filter(|p| !meta::is_terminating(p)) {
            let addr = json!({"ip": str_at(p, "/status/podIP"),
                              "nodeName": str_at(p, "/spec/nodeName"),
                              "targetRef": target_ref(p)});
            if pod_ready(p) || publish_not_ready {
                ready.push(addr);
            } else {
                not_ready.push(addr);
            }
        }
        let mut labels = svc
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or(json!({}));
        let mut endpoints_labels = labels.clone();
        endpoints_labels[ENDPOINTS_MANAGED_BY.0] = json!(ENDPOINTS_MANAGED_BY.1);
        let mut ep = json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": ns, "labels": endpoints_labels},
        });
        if !ready.is_empty() || !not_ready.is_empty() {
            let mut subset = json!({"ports": ports_for(svc, selected.first().copied(), false)});
            if !ready.is_empty() {
                subset["addresses"] = json!(ready);
            }
            if !not_ready.is_empty() {
                subset["notReadyAddresses"] = json!(not_ready);
            }
            ep["subsets"] = json!([subset]);
        }
        upsert(
            store,
            &ResKey::endpoints(),
            store.get(&ResKey::endpoints(), ns, name),
            ep,
        )?;

        labels[SERVICE_NAME_LABEL] = json!(name);
        labels[MANAGED_BY_LABEL] = json!(MANAGED_BY);
        let endpoints: Vec<Value> = selected
            .iter()
            .map(|p| {
                let terminating = meta::is_terminating(p);
                let r = pod_ready(p);
                json!({
                    "addresses": [str_at(p, "/status/podIP")],
                    "conditions": {"ready": r && !terminating, "serving": r, "terminating": terminating},
                    "nodeName": str_at(p, "/spec/nodeName"),
                    "targetRef": target_ref(p),
                })
            })
            .collect();
        let mut ours: Vec<&Value> = slices
            .iter()
            .map(|s| &**s)
            .filter(|s| meta::namespace(s) == ns)
            .filter(|s| meta::label(s, SERVICE_NAME_LABEL) == Some(name))
            .filter(|s| meta::label(s, MANAGED_BY_LABEL) == Some(MANAGED_BY))
            .collect();
        ours.sort_by_key(|s| meta::name(s).to_owned());
        let slice_name = ours
            .first()
            .map(|s| meta::name(s).to_owned())
            .unwrap_or_else(|| format!("{name}-{}", meta::random_suffix(5)));
        let mut owner = meta::controller_ref(svc);
        owner["apiVersion"] = json!("v1");
        owner["kind"] = json!("Service");
        let slice = json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": slice_name, "namespace": ns, "generateName": format!("{name}-"),
                         "labels": labels, "ownerReferences": [owner]},
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports_for(svc, selected.first().copied(), true),
        });
        let current = ours.first().map(|s| (*s).clone());
        upsert(store, &ResKey::endpointslices(), current, slice)?;
        for extra in ours.iter().skip(1) {
            let _ = store.delete(
                &ResKey::endpointslices(),
                ns,
                meta::name(extra),
                &DeleteOpts::default(),
            );
        }
        Ok(())
    }
}

impl Reconciler for EndpointsController {
    fn reconcile(&mut self, store: &Store) {
        let (services, _) = store.list_arc(&ResKey::services(), None);
        let (pods, _) = store.list_arc(&ResKey::pods(), None);
        let (slices, _) = store.list_arc(&ResKey::endpointslices(), None);
        for svc in &services {
            if let Err(e) = self.sync(store, svc, &pods, &slices) {
                tracing::debug!("endpoints of {} not synced yet: {e}", meta::name(svc));
            }
        }
        // Endpoints of deleted Services go too (slices follow their owner through the GC).
        let (eps, _) = store.list_arc(&ResKey::endpoints(), None);
        for ep in eps {
            let gone = !services.iter().any(|s| {
                meta::namespace(s) == meta::namespace(&ep) && meta::name(s) == meta::name(&ep)
            });
            if gone && meta::name(&ep) != "kubernetes" {
                let _ = store.delete(
                    &ResKey::endpoints(),
                    meta::namespace(&ep),
                    meta::name(&ep),
                    &DeleteOpts::default(),
                );
            }
        }
    }
}
