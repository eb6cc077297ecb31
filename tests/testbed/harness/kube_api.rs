//! The kube-rs checks of `tests/support/kube_api.rs`, against the real control plane.

use std::future::Future;

use kube::{Client, Config};
use libtest_mimic::Failed;

use crate::Test;
use crate::bed::Bed;
use crate::support::kube_api;

pub fn tests() -> Vec<Test> {
    vec![
        Test {
            name: "kube_api::watcher_list_watch_and_streaming_lists",
            run: |bed| {
                on_testbed(
                    bed,
                    "kube-watch",
                    kube_api::watcher_list_watch_and_streaming_lists,
                )
            },
        },
        Test {
            name: "kube_api::server_side_apply_pagination_and_errors",
            run: |bed| {
                on_testbed(
                    bed,
                    "kube-apply",
                    kube_api::server_side_apply_pagination_and_errors,
                )
            },
        },
        Test {
            name: "kube_api::scale_subresource_and_garbage_collection",
            run: |bed| {
                on_testbed(
                    bed,
                    "kube-scale",
                    kube_api::scale_subresource_and_garbage_collection,
                )
            },
        },
    ]
}

/// Runs one shared check with a kube client of the test bed, in a fresh namespace.
fn on_testbed<F, Fut>(bed: &Bed, namespace: &str, check: F) -> Result<(), Failed>
where
    F: FnOnce(Client, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    let namespace: &'static str = Box::leak(bed.namespace(namespace)?.into_boxed_str());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::read_from(&bed.kubeconfig)?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        let client = Client::try_from(config)?;
        check(client, namespace).await;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
