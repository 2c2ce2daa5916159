//! Native HTTPS: the certificate and key (TLS_CERT_FILE / TLS_KEY_FILE, or the systemd
//! credentials `tls-cert` / `tls-key`), rustls' server settings, and a certificate that
//! is swapped in place on SIGHUP so an ACME renewal needs no restart.
//!
//! Connections already open keep the certificate they were made with; only new
//! handshakes see the new one. A renewed pair that does not load (a half-written file, a
//! key that does not match) keeps the running certificate and says why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Why a certificate or key could not be used. Never holds key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("the key in {path} cannot be used: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("the key in {key} does not belong to the certificate in {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("TLS settings: {0}")]
    Settings(String),
}

/// Where the certificate chain and its key are read from (again on every reload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The certificate every new handshake gets; replaced by [`Certificate::reload`].
pub struct Certificate {
    files: RwLock<TlsFiles>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    pub fn load(files: TlsFiles) -> Result<Arc<Certificate>, TlsError> {
        let key = certified_key(&files)?;
        Ok(Arc::new(Certificate {
            files: RwLock::new(files),
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Reads the files (where the reloaded configuration says they are now: a rotated
    /// credential's copy moves them) and, when they make a usable pair, serves it from
    /// the next handshake on. On error the running certificate stays.
    pub fn reload(&self, files: TlsFiles) -> Result<(), TlsError> {
        let key = certified_key(&files)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        *self.files.write().unwrap_or_else(|e| e.into_inner()) = files;
        Ok(())
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// The chain and key from PEM files, checked to belong together.
fn certified_key(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let cert_pem = read(&files.cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: files.cert.clone(),
        });
    }
    let key_pem = read(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoKey {
        path: files.key.clone(),
    })?;
    let signing = provider::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::BadKey {
            path: files.key.clone(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing);
    // A renewal that replaced one file but not yet the other must not be served.
    certified.keys_match().map_err(|_| TlsError::Mismatch {
        cert: files.cert.clone(),
        key: files.key.clone(),
    })?;
    Ok(certified)
}

/// rustls' server settings: TLS 1.3 and 1.2 only, rustls' default suites (AEAD with
/// forward secrecy only: AES-GCM and ChaCha20-Poly1305; TLS 1.3 preferred), HTTP/2 and
/// HTTP/1.1 offered by ALPN, the certificate from `cert`.
pub fn server_config(cert: Arc<Certificate>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Settings(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
