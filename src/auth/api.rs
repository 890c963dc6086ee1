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
use crate::http::envelope::{Reply, no_content};
use crate::http::extract::{Json, List, Path};
use crate::users::model::{Registration, User};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use serde::Deserialize;

/// The `/auth/*`, `/api-keys` and `/roles` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/token", post(token))
        .route("/auth/register", post(register))
        .route("/auth/sessions", get(list_sessions))
        .route("/auth/sessions/{id}", delete(revoke_session))
        .route("/auth/mfa/setup", post(mfa_setup))
        .route("/auth/mfa/enable", post(mfa_enable))
        .route("/auth/mfa/disable", post(mfa_disable))
        .route("/api-keys", get(list_keys).post(create_key))
        .route("/api-keys/{id}", delete(revoke_key))
}

/// Login answers carry `X-RateLimit-Limit`: the failed attempts allowed per minute.
fn with_limit_header(app: &AppState, mut r: Response) -> Response {
    r.headers_mut().insert(
        "x-ratelimit-limit",
        HeaderValue::from(app.login_limiter.limit()),
    );
    r
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

async fn refresh(
    State(app): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Reply<TokenPair>> {
    session::refresh(&app, &req.refresh_token)
        .await
        .map(Reply::ok)
}

#[derive(serde::Serialize)]
struct LoggedOut {
    logged_out: bool,
}

async fn logout(State(app): State<AppState>, who: Principal) -> Result<Reply<LoggedOut>> {
    session::logout(&app, &who).await?;
    Ok(Reply::ok(LoggedOut { logged_out: true }))
}

/// Client credentials come in the body or as HTTP Basic (RFC 6749 §2.3.1).
async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let media = crate::http::extract::media_type(&headers);
    if media.as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(Error::validation(
            "expected Content-Type: application/x-www-form-urlencoded (RFC 6749 §4.4.2)",
        ));
    }
    let req: TokenRequest = serde_urlencoded::from_bytes(&body)
        .map_err(|e| Error::validation(format!("malformed form body: {e}")))?;
    client::grant(&app, req, basic_credentials(&headers))
        .await
        .map(token_response)
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

/// Self-service sign-up, off unless `auth.allow_registration`; new users get `viewer`.
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

async fn list_keys(
    State(app): State<AppState>,
    who: Principal,
    List(q): List,
) -> Result<Reply<Vec<ApiKey>>> {
    api_keys::list(&app, &who, q).await.map(Reply::page)
}

async fn create_key(
    State(app): State<AppState>,
    who: Principal,
    Json(new): Json<NewApiKey>,
) -> Result<Reply<ApiKey>> {
    api_keys::create(&app, &who, new).await.map(Reply::created)
}

async fn revoke_key(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    api_keys::revoke(&app, &who, &id).await?;
    Ok(no_content())
}

async fn list_sessions(
    State(app): State<AppState>,
    who: Principal,
) -> Result<Reply<Vec<SessionInfo>>> {
    session::list_sessions(&app, &who).await.map(Reply::ok)
}

async fn revoke_session(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    session::revoke_own_session(&app, &who, &id).await?;
    Ok(no_content())
}

async fn mfa_setup(
    State(app): State<AppState>,
    who: Principal,
) -> Result<Reply<super::mfa::Enrolment>> {
    super::mfa::setup(&app, &who).await.map(Reply::ok)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    code: String,
}

#[derive(serde::Serialize)]
struct MfaState {
    mfa_enabled: bool,
}

async fn mfa_enable(
    State(app): State<AppState>,
    who: Principal,
    Json(req): Json<CodeRequest>,
) -> Result<Reply<MfaState>> {
    super::mfa::enable(&app, &who, req.code).await?;
    Ok(Reply::ok(MfaState { mfa_enabled: true }))
}

async fn mfa_disable(
    State(app): State<AppState>,
    who: Principal,
    Json(req): Json<CodeRequest>,
) -> Result<Reply<MfaState>> {
    super::mfa::disable(&app, &who, req.code).await?;
    Ok(Reply::ok(MfaState { mfa_enabled: false }))
}
