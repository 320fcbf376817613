//! Inbound TLS (rustls): the router's certificate chain and key from PEM files, HTTP/2 and
//! HTTP/1.1 offered by ALPN, and the files looked at again every `reload.interval_ms` so that a
//! rotated certificate is served to new connections without a restart. A pair that does not
//! load keeps the one in use.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::config::server::TlsConfig;

/// The acceptor in use; swapped when the files change.
pub(crate) struct Tls {
    acceptor: ArcSwap<TlsAcceptor>,
}

impl Tls {
    /// Loads the pair (failing the start if it does not load) and, with `watch_every`, keeps
    /// looking at the files for as long as the listener holds this.
    pub(crate) fn start(
        config: &TlsConfig,
        watch_every: Option<Duration>,
    ) -> anyhow::Result<Arc<Self>> {
        let (acceptor, seen) = load(&config.cert_file, &config.key_file)?;
        let tls = Arc::new(Self {
            acceptor: ArcSwap::from_pointee(acceptor),
        });
        if let Some(every) = watch_every {
            tokio::spawn(watch(
                Arc::downgrade(&tls),
                config.cert_file.clone(),
                config.key_file.clone(),
                seen,
                every,
            ));
        }
        Ok(tls)
    }

    pub(crate) fn acceptor(&self) -> Arc<TlsAcceptor> {
        self.acceptor.load_full()
    }
}

/// Both files' contents, and their hash (to tell when either changed).
fn read(cert_file: &Path, key_file: &Path) -> anyhow::Result<(Vec<u8>, Vec<u8>, [u8; 32])> {
    let cert_pem = std::fs::read(cert_file)
        .with_context(|| format!("server.tls.cert_file {}", cert_file.display()))?;
    let key_pem = std::fs::read(key_file)
        .with_context(|| format!("server.tls.key_file {}", key_file.display()))?;
    let mut hash = Sha256::new();
    hash.update(&cert_pem);
    hash.update(&key_pem);
    Ok((cert_pem, key_pem, hash.finalize().into()))
}

/// The acceptor for a certificate chain and key, and a hash of both files.
fn load(cert_file: &Path, key_file: &Path) -> anyhow::Result<(TlsAcceptor, [u8; 32])> {
    let (cert_pem, key_pem, hash) = read(cert_file, key_file)?;
    Ok((acceptor(&cert_pem, &key_pem)?, hash))
}

fn acceptor(cert_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<TlsAcceptor> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("server.tls.cert_file: not PEM certificates: {e}"))?;
    if chain.is_empty() {
        anyhow::bail!("server.tls.cert_file holds no certificate");
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| anyhow::anyhow!("server.tls.key_file: no PEM private key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("server.tls: the key does not fit the certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn watch(
    tls: std::sync::Weak<Tls>,
    cert_file: PathBuf,
    key_file: PathBuf,
    mut seen: [u8; 32],
    every: Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        let Some(tls) = tls.upgrade() else { return };
        let (cert, key) = (cert_file.clone(), key_file.clone());
        let loaded = tokio::task::spawn_blocking(move || {
            let (cert_pem, key_pem, hash) = read(&cert, &key)?;
            Ok::<_, anyhow::Error>((hash, (hash != seen).then(|| acceptor(&cert_pem, &key_pem))))
        })
        .await;
        let Ok(loaded) = loaded else { continue };
        match loaded {
            Ok((_, None)) => {}
            Ok((hash, Some(Ok(acceptor)))) => {
                tls.acceptor.store(Arc::new(acceptor));
                seen = hash;
                tracing::info!("tls: the changed certificate is served to new connections");
            }
            // Mid-rotation the two files may not match yet; the next change is tried again.
            Ok((hash, Some(Err(error)))) => {
                seen = hash;
                tracing::warn!(
                    error = format!("{error:#}"),
                    "tls: the changed certificate files do not load; keeping the certificate in use"
                );
            }
            Err(error) => tracing::debug!(
                error = format!("{error:#}"),
                "tls: the certificate files cannot be read"
            ),
        }
    }
}
