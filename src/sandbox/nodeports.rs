//! Node ports: every Service with a nodePort listens on 127.0.0.1:<nodePort> (plain HTTP) and
//! balances requests round-robin over its ready endpoints, each answering with its app.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::http::Apps;
use super::objects::{Service, view_of};
use super::registry::subresources::ready_pod_names;
use super::store::{ResKey, Store};

type Wanted = BTreeMap<u16, (String, String)>;

/// Keeps one listener per allocated node port until the sandbox stops.
pub fn spawn(
    store: Arc<Store>,
    apps: Arc<dyn Apps>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut changes = store.subscribe_changes();
        let mut listeners: BTreeMap<u16, ((String, String), JoinHandle<()>)> = BTreeMap::new();
        loop {
            let wanted = wanted_ports(&store);
            listeners.retain(|port, (owner, task)| {
                let keep = wanted.get(port) == Some(owner) && !task.is_finished();
                if !keep {
                    task.abort();
                }
                keep
            });
            for (port, owner) in wanted {
                if listeners.contains_key(&port) {
                    continue;
                }
                match TcpListener::bind(("127.0.0.1", port)).await {
                    Ok(listener) => {
                        let task = tokio::spawn(serve(
                            listener,
                            store.clone(),
                            apps.clone(),
                            owner.clone(),
                        ));
                        listeners.insert(port, (owner, task));
                    }
                    Err(err) => tracing::warn!(port, %err, "failed to listen on a node port"),
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                changed = changes.changed() => if changed.is_err() { break },
                // Retry ports that could not be bound.
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for (_, (_, task)) in listeners {
            task.abort();
        }
    })
}

fn wanted_ports(store: &Store) -> Wanted {
    let (services, _) = store.list_arc(&ResKey::services(), None);
    let mut wanted = Wanted::new();
    for svc in &services {
        let svc: Service = view_of(svc);
        if svc.metadata.is_terminating() {
            continue;
        }
        let owner = (
            svc.metadata.namespace.to_owned(),
            svc.metadata.name.to_owned(),
        );
        for p in svc.spec.ports.iter().flatten() {
            if let Some(port) = p.node_port.and_then(|n| u16::try_from(n).ok()) {
                wanted.insert(port, owner.clone());
            }
        }
    }
    wanted
}

async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    apps: Arc<dyn Apps>,
    owner: (String, String),
) {
    let next = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (store, apps, owner, next) = (store.clone(), apps.clone(), owner.clone(), next.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let response = answer(
                    &store,
                    apps.as_ref(),
                    &owner,
                    &next,
                    req.uri().path_and_query().map_or("/", |p| p.as_str()),
                );
                async move { Ok::<_, Infallible>(response) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service);
            let _ = tokio::time::timeout(Duration::from_secs(300), conn).await;
        });
    }
}

fn answer(
    store: &Store,
    apps: &dyn Apps,
    owner: &(String, String),
    next: &AtomicUsize,
    path: &str,
) -> hyper::Response<Body> {
    let (ns, name) = owner;
    let ready: Vec<String> = store
        .get(&ResKey::endpoints(), ns, name)
        .map(|ep| ready_pod_names(&ep))
        .unwrap_or_default();
    let reply = |code: u16, body: String| {
        hyper::Response::builder()
            .status(code)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(Body::from(body))
            .unwrap_or_else(|_| hyper::Response::new(Body::empty()))
    };
    if ready.is_empty() {
        return reply(
            503,
            format!("no endpoints available for service \"{name}\"\n"),
        );
    }
    let pick = next.fetch_add(1, Ordering::Relaxed) % ready.len();
    let pod = store.get(&ResKey::pods(), ns, &ready[pick]);
    match pod.and_then(|p| apps.http(&view_of(&p), path)) {
        Some((code, body)) => reply(code, body),
        None => reply(502, "connection refused\n".to_owned()),
    }
}
