//! `/api/v1/auth/…` and `/api/v1/api-keys…`.

use super::api_keys;
use super::client::{self, AccessToken};
use super::model::{ApiKey, ClientInfo, LoginRequest, NewApiKey, SessionInfo, TokenRequest};
use super::principal::Principal;
use super::session::{self, TokenPair};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::{Error, Result};
use crate::http::auth::ClientAddr;
use crate::http::envelope::{Envelope, Meta, Reply, no_content};
use crate::http::extract::{Json, List, Path};
use crate::users::model::{Registration, User};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The `/auth/*` and `/api-keys` routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(token))
        .routes(routes!(register))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(mfa_setup))
        .routes(routes!(mfa_enable))
        .routes(routes!(mfa_disable))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

crate::list_params!(
    /// Query of `GET /api-keys`.
    KeyFilters,
    super::store::KEY_LIST
);

/// Login answers carry `X-RateLimit-Limit`: the failed attempts allowed per minute.
fn with_limit_header(app: &AppState, mut r: Response) -> Response {
    r.headers_mut().insert(
        "x-ratelimit-limit",
        HeaderValue::from(app.login_limiter.limit()),
    );
    r
}

/// Log in with a password (and the TOTP code when MFA is on); starts a login session. No credentials.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest, security(()),
    responses(
        (status = 200, description = "The token pair", body = Envelope<TokenPair>,
            headers(("x-ratelimit-limit" = u32, description = "Failed logins allowed per minute"))),
        (status = 401, description = "`AUTH_INVALID_CREDENTIALS`: unknown user, wrong password, disabled account, \
            wrong or used one-time code; `AUTH_MFA_REQUIRED`: MFA on and `mfa_code` missing",
            headers(("x-ratelimit-limit" = u32, description = "Failed logins allowed per minute"))),
        (status = 429, description = "`RATE_LIMIT_EXCEEDED`: too many failed logins for this username and \
            client address, with `Retry-After`",
            headers(("x-ratelimit-limit" = u32, description = "Failed logins allowed per minute"),
                ("x-ratelimit-remaining" = u32, description = "Always 0"),
                ("x-ratelimit-reset" = i64, description = "Unix time (s) when a login may be tried again"),
                ("retry-after" = u64, description = "Seconds to wait")))))]
async fn login(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Response {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect());
    let client = ClientInfo { addr, user_agent };
    let r = session::login(&app, req, client).await;
    let r = match r {
        Ok(pair) => Reply::ok(pair).into_response(),
        Err(e) => {
            let limited = e.retry_after_s;
            let mut r = e.into_response();
            if let Some(s) = limited {
                r.headers_mut()
                    .insert("x-ratelimit-remaining", HeaderValue::from(0));
                r.headers_mut().insert(
                    "x-ratelimit-reset",
                    HeaderValue::from(crate::time::unix_now() + s as i64),
                );
            }
            r
        }
    };
    with_limit_header(&app, r)
}

/// `POST /auth/refresh` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    /// `mcpdr_…`, from login or the previous refresh; single use.
    refresh_token: String,
}

/// Trade a refresh token for a new token pair (the one sent is spent). No credentials.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest, security(()),
    responses((status = 200, description = "A new token pair", body = Envelope<TokenPair>),
        (status = 401, description = "`AUTH_TOKEN_INVALID`: unknown, expired, revoked or already used \
            refresh token (reuse revokes the whole session), or user disabled")))]
async fn refresh(
    State(app): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Reply<TokenPair>> {
    session::refresh(&app, &req.refresh_token)
        .await
        .map(Reply::ok)
}

/// `{"logged_out": true}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct LoggedOut {
    /// Always true.
    logged_out: bool,
}

/// End the caller's login session (its access and refresh tokens). Any caller with a login session.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 200, description = "Logged out", body = Envelope<LoggedOut>),
        (status = 400, description = "`VALIDATION_ERROR`: the caller used an API key (no session)")))]
async fn logout(State(app): State<AppState>, who: Principal) -> Result<Reply<LoggedOut>> {
    session::logout(&app, &who).await?;
    Ok(Reply::ok(LoggedOut { logged_out: true }))
}

/// The answer of `POST /auth/token`: the success envelope (`data` = the access token)
/// plus the RFC 6749 §5.1 fields at the top level, for OAuth2 client libraries.
#[derive(utoipa::ToSchema)]
pub struct TokenAnswer {
    /// JWT (HS256) bound to the API key.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Lifetime in seconds (`auth.access_token_ttl_s`).
    pub expires_in: u64,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The same four fields.
    pub data: AccessToken,
    /// Request id, time and version.
    pub meta: Meta,
}

/// OAuth2 client credentials grant (RFC 6749 §4.4): trade an API key for an access token.
/// No credentials (the client authenticates with the key, in the form or as HTTP Basic,
/// RFC 6749 §2.3.1).
#[utoipa::path(post, path = "/auth/token", tag = "auth", security(()),
    request_body(content(
            (TokenRequest = "application/x-www-form-urlencoded"),
            (TokenRequest = "application/json")),
        description = "A form (RFC 6749 §4.4.2) or a JSON object with the same names; any other \
            `Content-Type` is a 400. `client_id`/`client_secret` may come as `Authorization: Basic \
            base64(urlencode(id):urlencode(secret))` instead, which wins; unknown parameters are ignored."),
    responses((status = 200, description = "The access token", body = TokenAnswer,
            headers(("cache-control" = String, description = "`no-store`"),
                ("pragma" = String, description = "`no-cache`"))),
        (status = 401, description = "`AUTH_INVALID_CREDENTIALS`: unknown, revoked or expired key, or an id \
            that is not the key's")))]
async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let req = token_request(&headers, &body)?;
    client::grant(&app, req, basic_credentials(&headers))
        .await
        .map(token_response)
}

/// The token request from a form (RFC 6749 §4.4.2) or, as seed clients send it, a JSON
/// object with the same names. Errors: `VALIDATION_ERROR` for another content type or a
/// body that does not parse.
fn token_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest> {
    match crate::http::extract::media_type(headers).as_deref() {
        Some("application/x-www-form-urlencoded") => serde_urlencoded::from_bytes(body)
            .map_err(|e| Error::validation(format!("malformed form body: {e}"))),
        Some(m) if crate::http::extract::is_json(m) => crate::http::extract::parse_json(body),
        _ => Err(Error::validation(
            "expected Content-Type: application/x-www-form-urlencoded (RFC 6749 §4.4.2) \
             or application/json",
        )),
    }
}

/// `(client_id, client_secret)` from an `Authorization: Basic` header, if one decodes.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(i, p)| (percent_decode(i), percent_decode(p)))
        })
}

/// The token in the API envelope (`data`, `meta`) and, for OAuth2 client libraries,
/// also at the top level as RFC 6749 §5.1 has it (`access_token`, `token_type`,
/// `expires_in`, `scope`), with `Cache-Control: no-store` and `Pragma: no-cache`.
/// Errors stay in the API envelope (status 400/401 as RFC 6749 §5.2 has them).
fn token_response(t: AccessToken) -> Response {
    let body = serde_json::json!({
        "access_token": t.access_token,
        "token_type": t.token_type,
        "expires_in": t.expires_in,
        "scope": t.scope,
        "data": &t,
        "meta": crate::http::envelope::Meta::now(None),
    });
    let mut r = axum::Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1).
fn percent_decode(s: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()
        .and_then(|v| v.into_iter().next())
        .map(|(_, v)| v)
        .unwrap_or_else(|| s.to_string())
}

/// Self-service sign-up, off unless `auth.allow_registration`; new users get `viewer`. No credentials.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = Registration, security(()),
    responses((status = 201, description = "The new user", body = Envelope<User>),
        (status = 403, description = "`FORBIDDEN`: registration is disabled"),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: username or email taken")))]
async fn register(
    State(app): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Json(req): Json<Registration>,
) -> Result<Reply<User>> {
    let actor = Actor {
        client_addr: addr,
        ..Actor::default()
    };
    crate::users::register(&app, &actor, req)
        .await
        .map(Reply::created)
}

/// List API keys: the caller's own, everyone's with `users:admin`. Any caller.
#[utoipa::path(get, path = "/api-keys", tag = "api-keys",
    params(KeyFilters, ("revoked" = Option<bool>, Query, description = "`true`: list revoked keys too (default `false`)")),
    responses((status = 200, description = "One page of API keys (without `key`)", body = Envelope<Vec<ApiKey>>)))]
async fn list_keys(
    State(app): State<AppState>,
    who: Principal,
    List(q): List,
) -> Result<Reply<Vec<ApiKey>>> {
    api_keys::list(&app, &who, q).await.map(Reply::page)
}

/// Create an API key; the whole key is in this answer only. Any caller with a login session.
#[utoipa::path(post, path = "/api-keys", tag = "api-keys", request_body = NewApiKey,
    responses((status = 201, description = "The key, with `key`", body = Envelope<ApiKey>),
        (status = 409, description = "`RESOURCE_ALREADY_EXISTS`: the caller has a key of that name")))]
async fn create_key(
    State(app): State<AppState>,
    who: Principal,
    Json(new): Json<NewApiKey>,
) -> Result<Reply<ApiKey>> {
    api_keys::create(&app, &who, new).await.map(Reply::created)
}

/// Revoke an API key: own keys, any key with `users:admin`. Any caller.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path, description = "API key id (`key_…`)")),
    responses((status = 204, description = "Revoked")))]
async fn revoke_key(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    api_keys::revoke(&app, &who, &id).await?;
    Ok(no_content())
}

/// The caller's user's live login sessions, newest first (not paged). Any caller.
#[utoipa::path(get, path = "/auth/sessions", tag = "auth",
    responses((status = 200, description = "Every live session", body = Envelope<Vec<SessionInfo>>)))]
async fn list_sessions(
    State(app): State<AppState>,
    who: Principal,
) -> Result<Reply<Vec<SessionInfo>>> {
    session::list_sessions(&app, &who).await.map(Reply::ok)
}

/// End one of the caller's user's login sessions. Any caller.
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path, description = "Session id (`ses_…`)")),
    responses((status = 204, description = "Revoked")))]
async fn revoke_session(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    session::revoke_own_session(&app, &who, &id).await?;
    Ok(no_content())
}

/// Start TOTP enrolment: a new secret, not enforced until enabled. Any caller with a login session.
#[utoipa::path(post, path = "/auth/mfa/setup", tag = "auth",
    responses((status = 200, description = "The secret to enter in an authenticator app", body = Envelope<super::mfa::Enrolment>),
        (status = 409, description = "`CONFLICT`: MFA is already on")))]
async fn mfa_setup(
    State(app): State<AppState>,
    who: Principal,
) -> Result<Reply<super::mfa::Enrolment>> {
    super::mfa::setup(&app, &who).await.map(Reply::ok)
}

/// `{code}` of `POST /auth/mfa/enable` and `/disable`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MfaCode)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    /// The current code from the authenticator app.
    code: String,
}

/// `{"mfa_enabled": …}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct MfaState {
    /// Whether login now needs `mfa_code`.
    mfa_enabled: bool,
}

/// Turn the second factor on with a current code. Any caller with a login session.
#[utoipa::path(post, path = "/auth/mfa/enable", tag = "auth", request_body = CodeRequest,
    responses((status = 200, description = "MFA on", body = Envelope<MfaState>),
        (status = 409, description = "`CONFLICT`: already on, or no setup in progress")))]
async fn mfa_enable(
    State(app): State<AppState>,
    who: Principal,
    Json(req): Json<CodeRequest>,
) -> Result<Reply<MfaState>> {
    super::mfa::enable(&app, &who, req.code).await?;
    Ok(Reply::ok(MfaState { mfa_enabled: true }))
}

/// Turn the second factor off with a current code. Any caller with a login session.
#[utoipa::path(post, path = "/auth/mfa/disable", tag = "auth", request_body = CodeRequest,
    responses((status = 200, description = "MFA off", body = Envelope<MfaState>),
        (status = 409, description = "`CONFLICT`: MFA is not enabled")))]
async fn mfa_disable(
    State(app): State<AppState>,
    who: Principal,
    Json(req): Json<CodeRequest>,
) -> Result<Reply<MfaState>> {
    super::mfa::disable(&app, &who, req.code).await?;
    Ok(Reply::ok(MfaState { mfa_enabled: false }))
}
