//! TLS material of the fake API server: a fresh CA per cluster, a server certificate it
//! signs (SANs 127.0.0.1 and localhost), the rustls server config, and a kubeconfig.

use std::sync::Arc;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The CA and the server certificate it signed.
pub struct Tls {
    /// PEM of the CA certificate (what clients trust).
    pub ca_pem: String,
    /// The rustls config serving the server certificate.
    pub server: Arc<rustls::ServerConfig>,
}

/// A fresh CA (PEM) and its issuer, for a cluster or for a "wrong CA" test.
pub fn new_ca() -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "kubernetes");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).expect("self-signed CA");
    (cert.pem(), Issuer::new(params, key))
}

impl Tls {
    /// A new CA and a server certificate for 127.0.0.1 and localhost.
    pub fn generate() -> Tls {
        let (ca_pem, issuer) = new_ca();
        let key = KeyPair::generate().expect("server key");
        let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("server params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "kube-apiserver");
        params.distinguished_name = dn;
        let cert = params.signed_by(&key, &issuer).expect("server cert");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("server cert and key");
        // HTTP/1.1 only: exec and attach are HTTP/1.1 WebSocket upgrades.
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Tls {
            ca_pem,
            server: Arc::new(cfg),
        }
    }
}

/// A kubeconfig (JSON, which is valid YAML) with one cluster, one user and one context
/// named `context`, which is also the current context.
pub fn kubeconfig(url: &str, ca_pem: &str, token: &str, context: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let doc = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": "fake", "cluster": {"server": url, "certificate-authority-data": ca}}],
        "users": [{"name": "fake-user", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "fake", "user": "fake-user", "namespace": "default"}}],
        "current-context": context,
    });
    serde_json::to_string_pretty(&doc).expect("kubeconfig JSON")
}
