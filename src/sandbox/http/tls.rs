//! The sandbox's own certificate authority, server certificate and bearer token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Why the sandbox's TLS material could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen refused the parameters or failed to sign.
    #[error("failed to generate the sandbox certificates")]
    Generate(#[source] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("failed to configure TLS")]
    Config(#[source] rustls::Error),
    /// The kept credentials could not be read or written.
    #[error("failed to keep the sandbox credentials in {}", path.display())]
    Keep {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

/// The files in a credentials folder: CA certificate (PEM), server certificate and key (DER),
/// bearer token.
const KEPT: [&str; 4] = ["ca.crt", "server.der", "server-key.der", "token"];

/// A fresh CA, a server certificate it signed for the loopback names, and a bearer token.
pub struct TlsMaterial {
    /// PEM of the CA certificate (goes into the kubeconfig).
    pub ca_pem: String,
    /// The server's TLS configuration (HTTP/1.1 only).
    pub server_config: Arc<rustls::ServerConfig>,
    /// The bearer token clients must present.
    pub token: String,
}

impl std::fmt::Debug for TlsMaterial {
    // The token is a credential: never in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial").finish_non_exhaustive()
    }
}

/// The credentials kept in `dir` if all are there, else fresh ones written there (owner-only),
/// so a sandbox started again keeps its CA and token: clients built for it keep working.
pub fn load_or_generate(dir: &Path) -> Result<TlsMaterial, TlsError> {
    let read = |name: &str| std::fs::read(dir.join(name));
    if let [Ok(ca), Ok(cert), Ok(key), Ok(token)] = KEPT.map(read)
        && let (Ok(ca_pem), Ok(token)) = (String::from_utf8(ca), String::from_utf8(token))
        && !token.trim().is_empty()
    {
        return assemble(ca_pem, cert, key, token.trim().to_owned());
    }
    let parts = generate_parts()?;
    let keep = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        crate::sandbox::write_private(&path, bytes)
            .map_err(|source| TlsError::Keep { path, source })
    };
    keep(KEPT[0], parts.ca_pem.as_bytes())?;
    keep(KEPT[1], &parts.cert_der)?;
    keep(KEPT[2], &parts.key_der)?;
    keep(KEPT[3], parts.token.as_bytes())?;
    assemble(parts.ca_pem, parts.cert_der, parts.key_der, parts.token)
}

/// Freshly made credentials, before rustls takes them.
struct Parts {
    ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
    token: String,
}

/// Generates the CA, server certificate (ECDSA P-256, fast) and token.
pub fn generate() -> Result<TlsMaterial, TlsError> {
    let parts = generate_parts()?;
    assemble(parts.ca_pem, parts.cert_der, parts.key_der, parts.token)
}

fn generate_parts() -> Result<Parts, TlsError> {
    let ca_key = KeyPair::generate().map_err(TlsError::Generate)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(TlsError::Generate)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kubetutor-sandbox-ca");
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(TlsError::Generate)?;

    let server_key = KeyPair::generate().map_err(TlsError::Generate)?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned()]).map_err(TlsError::Generate)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    let cert = params
        .signed_by(&server_key, &ca)
        .map_err(TlsError::Generate)?;

    let bytes: [u8; 24] = rand::rng().random();
    Ok(Parts {
        ca_pem: ca.pem(),
        cert_der: cert.der().to_vec(),
        key_der: server_key.serialize_der(),
        token: bytes.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

fn assemble(
    ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
    token: String,
) -> Result<TlsMaterial, TlsError> {
    let chain = vec![CertificateDer::from(cert_der)];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_pem,
        server_config: Arc::new(server_config),
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_ca_and_a_long_token() {
        let material = generate().expect("tls material");
        assert!(material.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(material.token.len(), 48);
        assert!(!format!("{material:?}").contains(&material.token));
    }

    #[test]
    fn kept_credentials_come_back_the_same_and_only_the_owner_reads_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let first = load_or_generate(dir.path()).expect("fresh credentials");
        let again = load_or_generate(dir.path()).expect("kept credentials");
        assert_eq!(first.ca_pem, again.ca_pem);
        assert_eq!(first.token, again.token);
        let mode = std::fs::metadata(dir.path().join("token"))
            .expect("token file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A folder missing a file gets a whole new set.
        std::fs::remove_file(dir.path().join("server.der")).expect("remove");
        let fresh = load_or_generate(dir.path()).expect("new credentials");
        assert_ne!(fresh.token, first.token);
    }
}
