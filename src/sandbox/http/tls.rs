//! The sandbox's own certificate authority, server certificate and bearer token.

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
}

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

/// Generates the CA, server certificate (ECDSA P-256, fast) and token.
pub fn generate() -> Result<TlsMaterial, TlsError> {
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

    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];

    let bytes: [u8; 24] = rand::rng().random();
    let token = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(TlsMaterial {
        ca_pem: ca.pem(),
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
}
