//! The embedded sandbox: a simulated Kubernetes API server, controllers and kubelet.
