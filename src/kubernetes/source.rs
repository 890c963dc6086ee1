//! A cluster's connection from what the caller sent: a kubeconfig document (only its
//! inline data; the format is Kubernetes' own `clientcmd` v1 `Config`) or the parts.
//! Every piece is checked here, before anything is stored or dialled: the URL is an
//! absolute `https` URL, PEM blocks parse, and exactly one way to authenticate is given.

use super::model::{AuthKind, Connection, Credentials, Source};
use crate::error::{Error, Result};
use base64::Engine;
use kube::config::{AuthInfo, Kubeconfig};

/// Longest accepted kubeconfig, token or PEM text, in bytes.
const MAX_TEXT: usize = 256 * 1024;

/// The connection `source` describes. Errors: `VALIDATION_ERROR` naming the field.
pub fn connection(source: &Source) -> Result<Connection> {
    for (field, v) in [
        ("kubeconfig", &source.kubeconfig),
        ("token", &source.token),
        ("ca_cert", &source.ca_cert),
        ("client_cert", &source.client_cert),
        ("client_key", &source.client_key),
        ("server", &source.server),
        ("context", &source.context),
    ] {
        if v.as_ref().is_some_and(|v| v.len() > MAX_TEXT) {
            return Err(Error::field(field, "longer than 256 KiB"));
        }
    }
    match &source.kubeconfig {
        Some(doc) => from_kubeconfig(source, doc),
        None => from_parts(source),
    }
}

fn from_parts(s: &Source) -> Result<Connection> {
    if s.context.is_some() {
        return Err(Error::field("context", "only with kubeconfig"));
    }
    let server = s
        .server
        .as_deref()
        .ok_or_else(|| Error::field("server", "required (or give a kubeconfig)"))?;
    let credentials = Credentials {
        token: s.token.clone(),
        ca_pem: s
            .ca_cert
            .as_deref()
            .map(|c| pem("ca_cert", c))
            .transpose()?,
        client_cert_pem: s
            .client_cert
            .as_deref()
            .map(|c| pem("client_cert", c))
            .transpose()?,
        client_key_pem: s
            .client_key
            .as_deref()
            .map(|c| pem("client_key", c))
            .transpose()?,
    };
    finish(
        server,
        None,
        s.insecure_skip_tls_verify.unwrap_or(false),
        credentials,
        "",
    )
}

fn from_kubeconfig(s: &Source, doc: &str) -> Result<Connection> {
    let parts = [
        ("server", s.server.is_some()),
        ("token", s.token.is_some()),
        ("ca_cert", s.ca_cert.is_some()),
        ("client_cert", s.client_cert.is_some()),
        ("client_key", s.client_key.is_some()),
        (
            "insecure_skip_tls_verify",
            s.insecure_skip_tls_verify.is_some(),
        ),
    ];
    if let Some((field, _)) = parts.iter().find(|(_, given)| *given) {
        return Err(Error::field(
            *field,
            "give a kubeconfig or the parts, not both",
        ));
    }
    let text = maybe_base64(doc.trim());
    let config = Kubeconfig::from_yaml(&text)
        .map_err(|e| Error::field("kubeconfig", format!("not a kubeconfig document: {e}")))?;
    let name = match s.context.as_deref().or(config.current_context.as_deref()) {
        Some(n) => n.to_string(),
        None => {
            return Err(Error::field(
                "context",
                "required: the kubeconfig has no current-context",
            ));
        }
    };
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| Error::field("context", format!("no context '{name}' in the kubeconfig")))?;
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.clone())
        .ok_or_else(|| kubeconfig_error(format!("no cluster '{}'", context.cluster)))?;
    if cluster.certificate_authority.is_some() {
        return Err(kubeconfig_error(
            "certificate-authority files are not read; inline certificate-authority-data",
        ));
    }
    let user = match &context.user {
        Some(u) => config
            .auth_infos
            .iter()
            .find(|a| &a.name == u)
            .and_then(|a| a.auth_info.clone())
            .ok_or_else(|| kubeconfig_error(format!("no user '{u}'")))?,
        None => AuthInfo::default(),
    };
    let ca_pem = cluster
        .certificate_authority_data
        .as_deref()
        .map(|d| pem("kubeconfig", d))
        .transpose()?;
    let server = cluster
        .server
        .ok_or_else(|| kubeconfig_error(format!("cluster '{}' has no server", context.cluster)))?;
    let credentials = user_credentials(&user, ca_pem)?;
    finish(
        &server,
        Some(name),
        cluster.insecure_skip_tls_verify.unwrap_or(false),
        credentials,
        "kubeconfig: ",
    )
}

fn kubeconfig_error(issue: impl Into<String>) -> Error {
    Error::field("kubeconfig", issue)
}

/// The inline credentials of a kubeconfig user; anything that would make mcpd read a
/// file or run a program is refused.
fn user_credentials(user: &AuthInfo, ca_pem: Option<String>) -> Result<Credentials> {
    use secrecy::ExposeSecret;
    if user.exec.is_some() || user.auth_provider.is_some() {
        return Err(kubeconfig_error(
            "exec and auth-provider users are not supported; use a token or client certificate data",
        ));
    }
    if user.token_file.is_some() || user.client_certificate.is_some() || user.client_key.is_some() {
        return Err(kubeconfig_error(
            "file references are not read; inline token, client-certificate-data and client-key-data",
        ));
    }
    if user.username.is_some() || user.password.is_some() {
        return Err(kubeconfig_error("basic authentication is not supported"));
    }
    Ok(Credentials {
        token: user.token.as_ref().map(|t| t.expose_secret().to_string()),
        ca_pem,
        client_cert_pem: user
            .client_certificate_data
            .as_deref()
            .map(|d| pem("kubeconfig", d))
            .transpose()?,
        client_key_pem: user
            .client_key_data
            .as_ref()
            .map(|d| pem("kubeconfig", d.expose_secret()))
            .transpose()?,
    })
}

/// Checks the URL and that exactly one way to authenticate was given. `prefix` goes
/// before the issue when the values came from a kubeconfig.
fn finish(
    server: &str,
    context: Option<String>,
    insecure: bool,
    credentials: Credentials,
    prefix: &str,
) -> Result<Connection> {
    let field = |f: &str| {
        if prefix.is_empty() {
            f.to_string()
        } else {
            "kubeconfig".to_string()
        }
    };
    let url = reqwest::Url::parse(server)
        .map_err(|e| Error::field(field("server"), format!("{prefix}not a URL: {e}")))?;
    if url.scheme() != "https" || url.host_str().is_none() {
        return Err(Error::field(
            field("server"),
            format!("{prefix}must be an https:// URL with a host"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(Error::field(
            field("server"),
            format!("{prefix}must not carry credentials or a query"),
        ));
    }
    let auth_kind = match (
        credentials.token.is_some(),
        credentials.client_cert_pem.is_some(),
        credentials.client_key_pem.is_some(),
    ) {
        (true, false, false) => AuthKind::Token,
        (false, true, true) => AuthKind::ClientCertificate,
        (false, true, false) | (false, false, true) => {
            return Err(Error::field(
                field("client_cert"),
                format!("{prefix}client_cert and client_key go together"),
            ));
        }
        (false, false, false) => {
            return Err(Error::field(
                field("token"),
                format!("{prefix}required: a token or a client certificate"),
            ));
        }
        _ => {
            return Err(Error::field(
                field("token"),
                format!("{prefix}give a token or a client certificate, not both"),
            ));
        }
    };
    if credentials
        .token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty() || t.contains(['\r', '\n']))
    {
        return Err(Error::field(
            field("token"),
            format!("{prefix}must be one non-empty line"),
        ));
    }
    if credentials.ca_pem.is_none() && !insecure {
        return Err(Error::field(
            field("ca_cert"),
            format!("{prefix}required unless insecure_skip_tls_verify is true"),
        ));
    }
    Ok(Connection {
        server: url.as_str().trim_end_matches('/').to_string(),
        auth_kind,
        context,
        insecure,
        credentials,
    })
}

/// Text that may have come base64-encoded (kubeconfig, PEM): decoded when it is valid
/// base64 of UTF-8 text, else as sent.
fn maybe_base64(text: &str) -> String {
    let compact: String = text.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| text.to_string())
}

/// PEM text (sent as is or base64-encoded) with at least one block that parses.
fn pem(field: &str, text: &str) -> Result<String> {
    let text = if text.trim_start().starts_with("-----BEGIN") {
        text.trim().to_string()
    } else {
        maybe_base64(text.trim())
    };
    let mut blocks = 0;
    for item in rustls_pemfile::read_all(&mut text.as_bytes()) {
        item.map_err(|e| Error::field(field, format!("not valid PEM: {e}")))?;
        blocks += 1;
    }
    if blocks == 0 {
        return Err(Error::field(field, "not PEM (no BEGIN block found)"));
    }
    Ok(text)
}

/// The DER certificates of PEM text (checked by [`pem`] when stored).
pub fn certificates(pem: &str) -> Vec<Vec<u8>> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .filter_map(|c| c.ok())
        .map(|c| c.to_vec())
        .collect()
}
