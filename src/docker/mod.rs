//! The Docker engine connection (bollard). Docker being down is not fatal: every call
//! goes through [`DockerClient::get`], which connects and negotiates the API version on
//! demand and answers `DOCKER_UNAVAILABLE` while the engine does not respond, so the
//! daemon picks the engine up again by itself when it returns.

use crate::error::{Error, ErrorCode, Result};
use bollard::Docker;
use std::time::Duration;
use tokio::sync::RwLock;

/// Per-request timeout for engine calls that are not streams, in seconds.
const REQUEST_TIMEOUT_S: u64 = 120;
/// How long a connect + version negotiation may take before Docker counts as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the engine answered when a resource's state was read: `available` (what is
/// shown is what the engine reports now) or `unavailable` (the engine could not be
/// asked; what is shown is the last state mcpd observed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// `available`: the engine answered; what is shown is what it reports now.
    Available,
    /// `unavailable`: the engine could not be asked; what is shown is the last state observed.
    Unavailable,
}

/// The Docker engine client: connects on demand and answers `DOCKER_UNAVAILABLE` while the engine
/// is down.
pub struct DockerClient {
    host: Option<String>,
    conn: RwLock<Option<Docker>>,
}

impl DockerClient {
    /// `host` is `docker.host` from the config; `None` means `DOCKER_HOST` or the
    /// default local socket. Does not connect yet.
    pub fn new(host: Option<String>) -> Self {
        Self {
            host,
            conn: RwLock::new(None),
        }
    }

    /// A connected client with a negotiated API version, or `DOCKER_UNAVAILABLE`.
    pub async fn get(&self) -> Result<Docker> {
        if let Some(d) = self.conn.read().await.as_ref() {
            return Ok(d.clone());
        }
        let mut slot = self.conn.write().await;
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let d = self.connect().await?;
        *slot = Some(d.clone());
        Ok(d)
    }

    async fn connect(&self) -> Result<Docker> {
        let base = match &self.host {
            Some(h) if h.starts_with("unix://") => {
                Docker::connect_with_unix(h, REQUEST_TIMEOUT_S, bollard::API_DEFAULT_VERSION)
            }
            Some(h) => {
                Docker::connect_with_http(h, REQUEST_TIMEOUT_S, bollard::API_DEFAULT_VERSION)
            }
            None => Docker::connect_with_local_defaults()
                .map(|d| d.with_timeout(Duration::from_secs(REQUEST_TIMEOUT_S))),
        }
        .map_err(unavailable)?;
        // bollard speaks a newer API than older engines (20.10 is 1.41); negotiate down.
        match tokio::time::timeout(CONNECT_TIMEOUT, base.negotiate_version()).await {
            Ok(Ok(d)) => Ok(d),
            Ok(Err(e)) => Err(unavailable(e)),
            Err(_) => Err(Error::new(
                ErrorCode::DockerUnavailable,
                "Docker engine did not answer in time",
            )),
        }
    }

    /// Pings the engine; on failure forgets the connection so the next call renegotiates.
    pub async fn ping(&self) -> Result<()> {
        let d = self.get().await?;
        match tokio::time::timeout(CONNECT_TIMEOUT, d.ping()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                self.forget().await;
                Err(unavailable(e))
            }
            Err(_) => {
                self.forget().await;
                Err(Error::new(
                    ErrorCode::DockerUnavailable,
                    "Docker engine did not answer in time",
                ))
            }
        }
    }

    /// Engine version and API version, e.g. `("20.10.24", "1.41")`.
    pub async fn version(&self) -> Result<(String, String)> {
        let v = self.get().await?.version().await.map_err(map_err)?;
        Ok((
            v.version.unwrap_or_default(),
            v.api_version.unwrap_or_default(),
        ))
    }

    async fn forget(&self) {
        *self.conn.write().await = None;
    }
}

/// Bytes left as they are in an engine API path segment: RFC 3986 unreserved
/// characters plus `:` and `@` (legal in a path segment, and part of image references).
/// Everything else, `/` included, is percent-encoded, so a value can never add a path
/// segment or a query to the URL bollard builds from it.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'@');

/// `value` as one segment of an engine API path (`/images/{value}/json`), percent-encoded
/// (the engine decodes it). Every name, id or reference that bollard puts into a URL
/// path goes through this, after it has been checked against its own grammar.
pub fn path_segment(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, PATH_SEGMENT).to_string()
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::DockerUnavailable, "Docker engine is unavailable")
        .with_source(anyhow::anyhow!("{e}"))
}

/// Maps an engine error to the API: connection trouble → `DOCKER_UNAVAILABLE`, 404 →
/// `RESOURCE_NOT_FOUND`, 409 → `CONFLICT`, 400 → `VALIDATION_ERROR` (engine's message
/// kept, it names the bad value), anything else → internal.
pub fn map_err(e: bollard::errors::Error) -> Error {
    use bollard::errors::Error as B;
    match e {
        B::DockerResponseServerError {
            status_code,
            message,
        } => match status_code {
            404 => Error::new(ErrorCode::ResourceNotFound, message),
            409 => Error::new(ErrorCode::Conflict, message),
            400 => Error::new(ErrorCode::ValidationError, message),
            _ => Error::internal(anyhow::anyhow!("docker {status_code}: {message}")),
        },
        B::HyperResponseError { .. }
        | B::IOError { .. }
        | B::RequestTimeoutError
        | B::HyperLegacyError { .. }
        | B::SocketNotFoundError(_) => unavailable(e),
        other => Error::internal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn path_segments_cannot_add_segments_or_queries() {
        assert_eq!(path_segment("mcpd-test/busybox:1"), "mcpd-test%2Fbusybox:1");
        assert_eq!(path_segment("../containers/x"), "..%2Fcontainers%2Fx");
        assert_eq!(path_segment("a?force=1#x"), "a%3Fforce%3D1%23x");
        assert_eq!(path_segment("a%2F\0"), "a%252F%00");
        assert_eq!(path_segment("sha256:0af"), "sha256:0af");
    }
}
