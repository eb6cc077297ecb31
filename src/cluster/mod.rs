//! The only user of `kube::Client`: context choice, watches with backoff and timeouts.
