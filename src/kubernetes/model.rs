//! Shapes of the clusters API: what a caller sends to register or change a cluster,
//! what mcpd keeps of it, and what it answers. Credentials are never part of an answer.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// `POST /kubernetes/clusters` and `PUT /kubernetes/clusters/{id}`. Either a kubeconfig
/// document (`kubeconfig`, optionally `context`; without it the document's
/// current-context) or the parts (`server`, spelt `host` too, with `token` or
/// `client_cert` + `client_key`, and `ca_cert` unless `insecure_skip_tls_verify`).
/// PEM and kubeconfig text may be sent as is or base64-encoded.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCluster {
    /// Unique name, 1–63 of `a-z 0-9 - _ .`, starting with a letter or digit.
    pub name: String,
    /// Free text, at most 1 KiB.
    #[serde(default)]
    pub description: Option<String>,
    /// Where the cluster is and how to authenticate.
    #[serde(flatten)]
    pub source: Source,
    /// Register the cluster even when it cannot be reached now (status `unreachable`).
    #[serde(default)]
    pub allow_unreachable: bool,
}

/// How to reach and authenticate to a cluster, as sent (see [`NewCluster`]).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = ClusterSource)]
pub struct Source {
    /// A kubeconfig document (YAML or JSON, or base64 of one). Only inline data is
    /// taken: file references, `exec` and auth providers are refused.
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// The kubeconfig context to use; default its `current-context`.
    #[serde(default)]
    pub context: Option<String>,
    /// The API server's `https://` URL (`host` is accepted as another name).
    #[serde(default, alias = "host")]
    pub server: Option<String>,
    /// A bearer token (a service account's, usually).
    #[serde(default)]
    pub token: Option<String>,
    /// The CA certificate(s) that sign the API server's certificate, PEM.
    #[serde(default)]
    pub ca_cert: Option<String>,
    /// A client certificate, PEM (with `client_key`).
    #[serde(default)]
    pub client_cert: Option<String>,
    /// The client certificate's private key, PEM.
    #[serde(default)]
    pub client_key: Option<String>,
    /// Skip verifying the API server's certificate (testing only).
    #[serde(default)]
    pub insecure_skip_tls_verify: Option<bool>,
}

/// `PATCH /kubernetes/clusters/{id}`: only the fields sent change. Sending any of the
/// connection fields replaces the whole connection (as in [`NewCluster`]) and is
/// checked against the cluster unless `allow_unreachable`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterPatch {
    /// New unique name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// A new connection; fields left out are not kept from the old one.
    #[serde(flatten)]
    pub source: Source,
    /// Keep the change even when the cluster cannot be reached with it.
    #[serde(default)]
    pub allow_unreachable: bool,
}

impl Source {
    /// Whether any connection field was sent.
    pub fn is_empty(&self) -> bool {
        self.kubeconfig.is_none()
            && self.context.is_none()
            && self.server.is_none()
            && self.token.is_none()
            && self.ca_cert.is_none()
            && self.client_cert.is_none()
            && self.client_key.is_none()
            && self.insecure_skip_tls_verify.is_none()
    }
}

/// How mcpd authenticates to a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ClusterAuthKind)]
pub enum AuthKind {
    /// `Authorization: Bearer <token>`.
    Token,
    /// A TLS client certificate.
    ClientCertificate,
}

impl AuthKind {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::Token => "token",
            AuthKind::ClientCertificate => "client_certificate",
        }
    }

    /// The stored form back; `None` for anything else.
    pub fn parse(s: &str) -> Option<AuthKind> {
        match s {
            "token" => Some(AuthKind::Token),
            "client_certificate" => Some(AuthKind::ClientCertificate),
            _ => None,
        }
    }
}

/// The secret part of a connection, sealed in the vault as one JSON document.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Credentials {
    /// Bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// CA certificate(s), PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Client certificate, PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_pem: Option<String>,
    /// Client key, PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_pem: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

/// A connection ready to store and to use: the plain part and the sealed part.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The API server's URL.
    pub server: String,
    /// Token or client certificate.
    pub auth_kind: AuthKind,
    /// The kubeconfig context it came from, if any.
    pub context: Option<String>,
    /// Whether the server certificate goes unchecked.
    pub insecure: bool,
    /// The secrets.
    pub credentials: Credentials,
}

/// What a check of the cluster found (`POST …/test`, create, and changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClusterStatus {
    /// The last check reached the API server and was allowed to read.
    Connected,
    /// The last check could not reach it (DNS, connect, TLS, timeout).
    Unreachable,
    /// The API server refused the credentials (401) or their rights (403).
    Unauthorized,
}

impl ClusterStatus {
    /// The stored and wire form.
    pub fn as_str(&self) -> &'static str {
        match self {
            ClusterStatus::Connected => "connected",
            ClusterStatus::Unreachable => "unreachable",
            ClusterStatus::Unauthorized => "unauthorized",
        }
    }
}

/// One node as last seen.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = ClusterNode)]
pub struct NodeSummary {
    /// Node name.
    pub name: String,
    /// `Ready`, `NotReady` or `Unknown` (the Ready condition).
    pub status: String,
    /// From the `node-role.kubernetes.io/<role>` labels.
    pub roles: Vec<String>,
    /// The kubelet version.
    pub version: String,
    /// CPU capacity (a Kubernetes quantity, e.g. `4`).
    pub cpu: String,
    /// Memory capacity (a quantity, e.g. `8Gi`).
    pub memory: String,
}

/// The result of one check.
#[derive(Debug, Clone)]
pub struct Probe {
    /// What was found.
    pub status: ClusterStatus,
    /// The server's `gitVersion` when reached.
    pub version: Option<String>,
    /// Nodes when listed.
    pub nodes: Vec<NodeSummary>,
    /// Why not connected (safe to show: never a credential).
    pub error: Option<String>,
}

/// A registered cluster as answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Cluster {
    /// `cls_…`.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The API server's URL.
    pub server: String,
    /// `token` or `client_certificate`.
    pub auth_kind: AuthKind,
    /// The kubeconfig context it was registered from.
    pub context: Option<String>,
    /// Whether the server certificate goes unchecked.
    pub insecure_skip_tls_verify: bool,
    /// `connected`, `unreachable` or `unauthorized`, from the last check.
    pub status: ClusterStatus,
    /// The server's version (`gitVersion`) from the last successful check.
    pub version: Option<String>,
    /// Nodes at the last successful check.
    pub nodes_count: Option<u32>,
    /// The nodes at the last successful check.
    pub nodes: Vec<NodeSummary>,
    /// Why the last check failed (absent when connected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When a check last succeeded (RFC 3339).
    pub last_connected: Option<String>,
    /// When the cluster was last checked.
    pub last_checked: Option<String>,
    /// Creator (`usr_…`).
    pub created_by: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// A cluster as stored: the answer plus its sealed credentials and generation.
#[derive(Debug, Clone)]
pub struct ClusterRecord {
    /// The answer part.
    pub cluster: Cluster,
    /// Sealed [`Credentials`] JSON.
    pub sealed: String,
    /// Bumped at every change of the connection (cached clients compare it).
    pub generation: i64,
}

/// Opened credentials, wiped from memory when dropped.
pub type ClearCredentials = Zeroizing<Vec<u8>>;
