//! The auth extractor: `Authorization: Bearer <JWT or mcpd_ API key>`,
//! `Authorization: ApiKey mcpd_…` or `X-API-Key: mcpd_…` (the scheme name is
//! case-insensitive, RFC 9110 §11.1). A handler that takes a [`Principal`] is
//! authenticated; it then calls `principal.require(permission)`.

use crate::app::AppState;
use crate::auth::principal::{self, API_KEY_PREFIX, Principal};
use crate::auth::rbac::Permission;
use crate::error::{Error, ErrorCode};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{header, request::Parts};
use std::net::SocketAddr;

impl FromRequestParts<AppState> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Error> {
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| credential(v.to_str().unwrap_or("")))
            .transpose()?;
        let api_key = parts
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let mut principal = match (authorization, api_key) {
            (Some((Scheme::Bearer, t)), _) => principal_from_token(app, t).await?,
            (Some((Scheme::ApiKey, t)), _) if t.starts_with(API_KEY_PREFIX) => {
                principal::from_api_key(&app.store, t).await?
            }
            (Some((Scheme::ApiKey, _)), _) => {
                return Err(Error::new(
                    ErrorCode::AuthTokenInvalid,
                    "an ApiKey credential is an mcpd_ API key",
                ));
            }
            (None, Some(k)) => principal::from_api_key(&app.store, k).await?,
            (None, None) => return Err(Error::unauthorized("authentication required")),
        };
        principal.client_addr = client_addr(parts);
        tracing::Span::current().record("user", principal.username.as_str());
        super::ratelimit::count(parts, app, &principal)?;
        Ok(principal)
    }
}

/// The caller a bearer credential names: an `mcpd_` API key or an access token (for
/// credentials that arrive outside the `Authorization` header, such as the first
/// message of a WebSocket). `AUTH_TOKEN_INVALID` / `AUTH_TOKEN_EXPIRED` like the header.
pub async fn principal_from_token(app: &AppState, token: &str) -> Result<Principal, Error> {
    if token.starts_with(API_KEY_PREFIX) {
        principal::from_api_key(&app.store, token).await
    } else {
        principal::from_access_token(&app.store, &app.jwt, token).await
    }
}

/// The schemes of `Authorization` mcpd takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// RFC 6750: an access token or an API key.
    Bearer,
    /// `ApiKey mcpd_…`: an API key only; an access token sent this way is refused
    /// (docs/api.md §1.8 "Authentication").
    ApiKey,
}

/// The scheme and credential of an `Authorization` value (`AUTH_TOKEN_INVALID` for
/// another scheme or an empty credential).
fn credential(value: &str) -> Result<(Scheme, &str), Error> {
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("apikey") {
        Scheme::ApiKey
    } else {
        return Err(Error::new(
            ErrorCode::AuthTokenInvalid,
            "Authorization header must be 'Bearer <token>' or 'ApiKey <key>'",
        ));
    };
    match rest.trim() {
        "" => Err(Error::new(
            ErrorCode::AuthTokenInvalid,
            "Authorization header has no credential",
        )),
        t => Ok((scheme, t)),
    }
}

fn client_addr(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
}

/// The peer's IP address, for unauthenticated routes (login) that still log and throttle
/// by client; `None` when the router runs without connect info (in-process tests).
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts)))
    }
}

/// A permission named as a type, so a handler can demand it in its signature with
/// [`Can`]: the check then runs before the body is read, and a caller without the
/// permission gets 403 whatever they sent (never a 400 that reveals the route's schema).
pub trait Required {
    /// The permission a [`Can`] extractor demands, e.g. `mcp:execute`.
    const PERMISSION: Permission;
}

/// An authenticated caller who holds `P::PERMISSION` (401 when unauthenticated, 403
/// `FORBIDDEN` without the permission).
pub struct Can<P: Required>(pub Principal, pub std::marker::PhantomData<P>);

impl<P: Required> FromRequestParts<AppState> for Can<P> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Error> {
        let who = Principal::from_request_parts(parts, app).await?;
        who.require(P::PERMISSION)?;
        match P::PERMISSION.0 {
            crate::auth::rbac::Domain::Kubernetes => {
                super::ratelimit::count_tier(parts, &app.kubernetes_limiter, &who)?;
            }
            crate::auth::rbac::Domain::Network => {
                super::ratelimit::count_tier(parts, &app.network_limiter, &who)?;
            }
            _ => {}
        }
        Ok(Can(who, std::marker::PhantomData))
    }
}

/// Permission types for [`Can`], one per `<domain>:<action>` a route demands.
pub mod perm {
    use super::Required;
    use crate::auth::rbac::{Action, Domain, Permission};

    macro_rules! perms {
        ($($name:ident = $d:ident $a:ident),+ $(,)?) => {$(
            #[doc = concat!("`", stringify!($d), ":", stringify!($a), "`")]
            pub struct $name;
            impl Required for $name {
                const PERMISSION: Permission = Permission(Domain::$d, Action::$a);
            }
        )+};
    }

    perms!(
        UsersRead = Users Read, UsersWrite = Users Write, UsersAdmin = Users Admin,
        ServicesRead = Services Read, ServicesWrite = Services Write, ServicesExecute = Services Execute,
        ImagesRead = Images Read, ImagesWrite = Images Write,
        McpRead = Mcp Read, McpWrite = Mcp Write, McpExecute = Mcp Execute, McpAdmin = Mcp Admin,
        LogsRead = Logs Read, LogsAdmin = Logs Admin,
        SystemRead = System Read,
        ConfigRead = Config Read, ConfigWrite = Config Write, ConfigAdmin = Config Admin,
        AuditRead = Audit Read,
        WorkspacesRead = Workspaces Read, WorkspacesWrite = Workspaces Write,
        BackupsRead = Backups Read, BackupsWrite = Backups Write, BackupsAdmin = Backups Admin,
        KubernetesRead = Kubernetes Read, KubernetesWrite = Kubernetes Write,
        KubernetesExecute = Kubernetes Execute,
        NetworkRead = Network Read, NetworkWrite = Network Write,
        NetworkExecute = Network Execute, NetworkAdmin = Network Admin,
    );
}

#[cfg(test)]
mod tests {
    use super::{Scheme, credential};

    #[test]
    fn schemes_are_case_insensitive_and_others_refused() {
        assert_eq!(credential("Bearer abc").unwrap(), (Scheme::Bearer, "abc"));
        assert_eq!(credential("bearer  abc ").unwrap(), (Scheme::Bearer, "abc"));
        assert_eq!(
            credential("ApiKey mcpd_x").unwrap(),
            (Scheme::ApiKey, "mcpd_x")
        );
        assert_eq!(
            credential("APIKEY mcpd_x").unwrap(),
            (Scheme::ApiKey, "mcpd_x")
        );
        for bad in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "token", ""] {
            assert!(credential(bad).is_err(), "{bad}");
        }
    }
}
