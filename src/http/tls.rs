//! TLS: rustls with the ring provider, TLS 1.2 and 1.3 only. Without a configured
//! certificate a self-signed one for `localhost`/`127.0.0.1`/`::1` is created once in
//! `<data_dir>/tls/` and its SHA-256 fingerprint is logged, so a client can pin it.

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Paths of the certificate and key actually served.
pub struct TlsFiles {
    /// PEM certificate chain served (the configured one or `<data_dir>/tls/` self-signed).
    pub cert: PathBuf,
    /// PEM private key of `cert`.
    pub key: PathBuf,
}

/// The configured pair, or the self-signed pair in the data dir (created if missing).
pub fn resolve(cfg: &crate::settings::ServerSettings) -> anyhow::Result<TlsFiles> {
    if let (Some(cert), Some(key)) = (&cfg.tls_cert_file, &cfg.tls_key_file) {
        return Ok(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    ensure_self_signed(&cfg.data_dir)
}

/// Creates `<data_dir>/tls/{cert,key}.pem` unless both exist.
pub fn ensure_self_signed(data_dir: &Path) -> anyhow::Result<TlsFiles> {
    let dir = data_dir.join("tls");
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    if files.cert.is_file() && files.key.is_file() {
        return Ok(files);
    }
    crate::fsutil::create_private_dir(&dir)?;
    let ck = rcgen::generate_simple_self_signed(vec![
        "localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
    ])
    .context("generating self-signed certificate")?;
    crate::fsutil::write_private(&files.key, ck.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&files.cert, ck.cert.pem())?;
    tracing::info!(cert = %files.cert.display(), "created a self-signed TLS certificate");
    Ok(files)
}

/// SHA-256 fingerprint of the first certificate in a PEM file, as `AB:CD:…`.
pub fn fingerprint(cert_pem: &Path) -> anyhow::Result<String> {
    let der = CertificateDer::from_pem_file(cert_pem).context("reading certificate")?;
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    Ok(digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// A rustls server config for the pair: ring provider, TLS 1.2+, ALPN h2 and http/1.1.
pub fn server_config(files: &TlsFiles) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| format!("reading {}", files.cert.display()))?
        .collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("reading {}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not form a valid pair")?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The axum-server config; `reload` swaps in a new pair (SIGHUP).
pub fn rustls_config(files: &TlsFiles) -> anyhow::Result<RustlsConfig> {
    Ok(RustlsConfig::from_config(server_config(files)?))
}
