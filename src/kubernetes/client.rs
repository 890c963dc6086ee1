//! One `kube::Client` per registered cluster, built from its sealed credentials the
//! first time it is needed and kept until the connection changes (the record's
//! `generation`) or the cluster is deleted. Building reads the database once; no
//! Kubernetes I/O ever runs while the database is held.

use super::model::{AuthKind, ClusterRecord, Connection, Credentials};
use super::source::certificates;
use crate::app::App;
use crate::error::{Error, ErrorCode, Internal, Result};
use crate::vault::seal::RowRef;
use base64::Engine;
use kube::config::AuthInfo;
use std::time::Duration;

/// The vault row of a cluster's credentials.
pub fn credentials_row(cluster_id: &str) -> RowRef<'_> {
    RowRef {
        table: "kube_clusters",
        column: "credentials",
        id: cluster_id,
    }
}

/// A registered cluster by id or name. Errors: `RESOURCE_NOT_FOUND`.
async fn record(app: &App, id_or_name: &str) -> Result<ClusterRecord> {
    let key = id_or_name.to_string();
    app.store
        .read(move |c| super::store::find(c, &key))
        .await?
        .ok_or_else(|| Error::not_found("cluster", id_or_name))
}

/// The stored connection of a cluster, credentials opened.
fn connection(app: &App, rec: &ClusterRecord) -> Result<Connection> {
    let clear = app
        .vault
        .open(credentials_row(&rec.cluster.id), &rec.sealed)?;
    let credentials: Credentials =
        serde_json::from_slice(&clear).internal("reading a cluster's credentials")?;
    Ok(Connection {
        server: rec.cluster.server.clone(),
        auth_kind: rec.cluster.auth_kind,
        context: rec.cluster.context.clone(),
        insecure: rec.cluster.insecure_skip_tls_verify,
        credentials,
    })
}

/// A registered cluster and a client for it. Errors: `RESOURCE_NOT_FOUND`.
pub async fn connect(app: &App, id_or_name: &str) -> Result<(ClusterRecord, kube::Client)> {
    let rec = record(app, id_or_name).await?;
    let id = rec.cluster.id.clone();
    if let Some(client) = app.kubernetes.cached(&id, rec.generation) {
        return Ok((rec, client));
    }
    let client = build(app, &connection(app, &rec)?)?;
    app.kubernetes.keep(&id, rec.generation, client.clone());
    Ok((rec, client))
}

/// A plain HTTP client that authenticates to the cluster's API server as `kube` does
/// (its CA, its token as a sensitive default header, or its client certificate), and
/// the server's URL: for streams `kube` does not model, such as the service proxy.
pub async fn http(app: &App, id_or_name: &str) -> Result<(String, reqwest::Client)> {
    let rec = record(app, id_or_name).await?;
    let conn = connection(app, &rec)?;
    let creds = &conn.credentials;
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(
            app.settings.kubernetes.connect_timeout_s,
        ))
        .danger_accept_invalid_certs(conn.insecure);
    if let Some(ca) = &creds.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(ca.as_bytes())
            .internal("reading the cluster's CA")?;
        b = b.tls_certs_only(certs);
    }
    if let Some(token) = &creds.token {
        let mut v = http::HeaderValue::from_str(&format!("Bearer {token}"))
            .internal("the cluster's token")?;
        v.set_sensitive(true);
        b = b.default_headers(http::HeaderMap::from_iter([(
            http::header::AUTHORIZATION,
            v,
        )]));
    }
    if let (Some(cert), Some(key)) = (&creds.client_cert_pem, &creds.client_key_pem) {
        let pem = zeroize::Zeroizing::new(format!("{cert}\n{key}"));
        b = b.identity(
            reqwest::Identity::from_pem(pem.as_bytes())
                .internal("the cluster's client certificate")?,
        );
    }
    Ok((
        conn.server,
        b.build().internal("building the cluster's HTTP client")?,
    ))
}

/// A client for `conn` (not cached: for checking a connection before it is stored).
/// Errors: `VALIDATION_ERROR` when the TLS material cannot be used.
pub fn build(app: &App, conn: &Connection) -> Result<kube::Client> {
    let uri: http::Uri = conn
        .server
        .parse()
        .map_err(|e| Error::field("server", format!("not a URL: {e}")))?;
    let mut config = kube::Config::new(uri);
    let creds = &conn.credentials;
    config.root_cert = creds.ca_pem.as_deref().map(certificates);
    config.accept_invalid_certs = conn.insecure;
    config.connect_timeout = Some(Duration::from_secs(
        app.settings.kubernetes.connect_timeout_s,
    ));
    config.default_retry = false;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    config.auth_info = match conn.auth_kind {
        AuthKind::Token => AuthInfo {
            token: creds.token.clone().map(Into::into),
            ..AuthInfo::default()
        },
        AuthKind::ClientCertificate => AuthInfo {
            client_certificate_data: creds.client_cert_pem.as_deref().map(b64),
            client_key_data: creds.client_key_pem.as_deref().map(|k| b64(k).into()),
            ..AuthInfo::default()
        },
    };
    kube::Client::try_from(config).map_err(|e| {
        Error::new(
            ErrorCode::ValidationError,
            format!("the cluster's TLS material cannot be used: {e}"),
        )
    })
}

/// Runs one Kubernetes call with the configured request timeout; a timeout is
/// `GATEWAY_TIMEOUT`, other failures are mapped by [`super::errors::from_kube`].
pub async fn call<T>(
    app: &App,
    what: &str,
    fut: impl std::future::Future<Output = kube::Result<T>>,
) -> Result<T> {
    let limit = app.settings.kubernetes.request_timeout_s;
    match tokio::time::timeout(Duration::from_secs(limit), fut).await {
        Ok(r) => r.map_err(|e| super::errors::from_kube(what, e)),
        Err(_) => Err(Error::new(
            ErrorCode::GatewayTimeout,
            format!("{what}: the cluster did not answer within {limit} s"),
        )),
    }
}
