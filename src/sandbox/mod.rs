//! The embedded sandbox: a simulated Kubernetes API server, controllers and kubelet.

pub mod apps;
pub mod controllers;
pub(crate) mod hash;
pub(crate) mod http;
pub(crate) mod kubeconfig;
pub(crate) mod kubelet;
pub(crate) mod metrics;
pub(crate) mod nodeports;
pub(crate) mod objects;
pub mod persist;
pub(crate) mod print;
pub(crate) mod registry;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use apps::AppSpec;
use http::{ApiState, Apps, ExecOutput};
use metrics::Metrics;
use objects::Pod;
use store::Store;

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where the API listens; must be a loopback address (port 0 picks one).
    pub listen: SocketAddr,
    /// Where to write the kubeconfig; the XDG state directory when `None`.
    pub kubeconfig: Option<PathBuf>,
    /// File in which objects persist across restarts.
    pub state: Option<PathBuf>,
    /// The images the sandbox can "pull" beyond its built-in ones (a lesson's).
    pub images: Vec<AppSpec>,
    /// Simulation speed factor: 1.0 is lifelike, larger is faster (tests use 10 or more).
    pub speed: f64,
    /// Folder keeping the CA, server certificate and token across restarts; fresh ones each
    /// start when `None`.
    pub credentials: Option<PathBuf>,
    /// File keeping the images learned while running ([`http::LEARN_IMAGES_PATH`]) across
    /// restarts; `None` refuses to learn.
    pub learned_images: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            kubeconfig: None,
            state: None,
            images: Vec::new(),
            speed: 1.0,
            credentials: None,
            learned_images: None,
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The listen address is not a loopback address.
    #[error(
        "failed to start the sandbox: {0} is not a loopback address (the sandbox only listens on 127.0.0.1 or ::1)"
    )]
    NotLoopback(SocketAddr),
    /// The port could not be bound.
    #[error("failed to listen on {addr}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Certificates could not be made.
    #[error("failed to set up the sandbox's TLS")]
    Tls(#[from] http::tls::TlsError),
    /// The kubeconfig could not be written.
    #[error("failed to write the sandbox kubeconfig")]
    Kubeconfig(#[from] kubeconfig::KubeconfigError),
}

/// A running sandbox; stop it with [`Sandbox::shutdown`].
pub struct Sandbox {
    addr: SocketAddr,
    kubeconfig_path: PathBuf,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    controllers: controllers::Controllers,
    persister: Option<persist::Persister>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .field("kubeconfig", &self.kubeconfig_path)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Starts the API server (and the simulation) and writes the kubeconfig.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        if !config.listen.ip().is_loopback() {
            return Err(SandboxError::NotLoopback(config.listen));
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SandboxError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SandboxError::Listen {
                addr: config.listen,
                source,
            })?;
        let material = match &config.credentials {
            Some(dir) => http::tls::load_or_generate(dir)?,
            None => http::tls::generate()?,
        };
        let store = Arc::new(Store::new());
        if let Some(path) = &config.state {
            match persist::load(&store, path) {
                Ok(persist::LoadOutcome::Quarantined { moved_to, reason }) => {
                    tracing::warn!(%reason, moved_to = %moved_to.display(), "the sandbox state was unreadable and was set aside");
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(%err, "failed to load the sandbox state; starting fresh")
                }
            }
        }
        let catalogue = Arc::new(apps::Catalogue::new(&config.images));
        if let Some(path) = &config.learned_images {
            catalogue.learn(&read_learned(path));
        }
        let sim = controllers::SimConfig {
            speed: config.speed,
            api_address: addr,
            root_ca_pem: material.ca_pem.clone(),
            ..controllers::SimConfig::default()
        };
        let controllers = controllers::spawn(store.clone(), sim, catalogue.clone());
        let persister = config
            .state
            .clone()
            .map(|path| persist::Persister::spawn(store.clone(), path, Duration::from_millis(200)));
        let shutdown = CancellationToken::new();
        let metrics = Arc::new(Metrics::default());
        let apps: Arc<dyn Apps> = Arc::new(CatalogueApps {
            catalogue,
            learned: config.learned_images.clone(),
        });
        let state = Arc::new(ApiState {
            store: store.clone(),
            token: material.token.clone(),
            metrics: metrics.clone(),
            server_address: addr.to_string(),
            catalogue: apps.clone(),
            shutdown: shutdown.clone(),
        });
        let mut tasks = vec![http::server::spawn(
            listener,
            material.server_config.clone(),
            state,
        )];
        tasks.push(nodeports::spawn(store.clone(), apps, shutdown.clone()));
        let server_url = format!("https://{}", host_port(addr));
        let kubeconfig_path = config
            .kubeconfig
            .clone()
            .unwrap_or_else(kubeconfig::default_path);
        kubeconfig::write(
            &kubeconfig_path,
            &kubeconfig::render(&server_url, &material.ca_pem, &material.token),
        )?;
        Ok(Sandbox {
            addr,
            kubeconfig_path,
            store,
            metrics,
            shutdown,
            tasks,
            controllers,
            persister,
        })
    }

    /// The kubeconfig written for this sandbox.
    pub fn kubeconfig_path(&self) -> &std::path::Path {
        &self.kubeconfig_path
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server_url(&self) -> String {
        format!("https://{}", host_port(self.addr))
    }

    /// The address the API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The object store (for in-process checks and benchmarks).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Requests served so far.
    pub fn requests_served(&self) -> u64 {
        self.metrics.total()
    }

    /// Stops serving and waits (briefly) for the tasks to end.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.controllers.shutdown().await;
        if let Some(persister) = self.persister {
            persister.shutdown().await;
        }
        for task in self.tasks {
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                tracing::warn!("a sandbox task did not stop in time");
            }
        }
    }
}

/// Writes a file only its owner may read (it holds a credential), creating its folder, through
/// a temp file and a rename so a reader never sees half of it.
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::files::write_atomic(path, bytes, 0o600)
}

fn host_port(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
    }
}

/// The images learned by an earlier run of this sandbox; none when the file is absent or
/// unreadable (a lesson teaches them again when it starts).
fn read_learned(path: &std::path::Path) -> Vec<AppSpec> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
            tracing::warn!(%err, path = %path.display(), "failed to read the learned images");
            Vec::new()
        }),
        Err(_) => Vec::new(),
    }
}

/// The catalogue seen through the API's [`Apps`] interface: each container runs its image.
struct CatalogueApps {
    catalogue: Arc<apps::Catalogue>,
    /// Where learned images are kept; `None` refuses to learn.
    learned: Option<PathBuf>,
}

fn container_image<'a>(pod: &Pod<'a>, container: Option<&str>) -> &'a str {
    pod.spec.container(container).map_or("", |c| c.image)
}

impl Apps for CatalogueApps {
    fn http(&self, pod: &Pod, path: &str) -> Option<(u16, String)> {
        self.catalogue
            .http_response(container_image(pod, None), pod, path)
    }
    fn logs(&self, pod: &Pod, container: &str) -> Vec<String> {
        self.catalogue
            .logs(container_image(pod, Some(container)), pod)
            .lines()
            .map(str::to_owned)
            .collect()
    }
    fn prompt(&self, pod: &Pod, container: &str) -> String {
        self.catalogue
            .prompt(container_image(pod, Some(container)), pod)
    }
    fn exec(&self, pod: &Pod, container: &str, argv: &[String]) -> ExecOutput {
        let result = self
            .catalogue
            .exec(container_image(pod, Some(container)), pod, argv);
        ExecOutput {
            stdout: result.stdout,
            stderr: result.stderr,
            exit_code: result.exit_code,
        }
    }
    fn learn(&self, images: &[AppSpec]) -> Result<(), String> {
        let Some(path) = &self.learned else {
            return Err("this sandbox does not learn images".to_owned());
        };
        let mut kept = read_learned(path);
        kept.retain(|old| !images.iter().any(|new| new.image == old.image));
        kept.extend(images.iter().cloned());
        let bytes = serde_json::to_vec_pretty(&kept).map_err(|err| err.to_string())?;
        write_private(path, &bytes)
            .map_err(|err| format!("failed to keep the images in {}: {err}", path.display()))?;
        self.catalogue.learn(images);
        Ok(())
    }
}
