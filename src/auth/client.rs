//! The OAuth2 client-credentials grant (RFC 6749 §4.4) for machine clients: an API key
//! exchanged for a short-lived access token that acts as the key. HTTP details (the
//! form body, HTTP Basic) are read by [`super::api`]; the grant itself is here.

use super::model::TokenRequest;
use super::rbac::Scope;
use super::session::expiry_after;
use super::store::{self, NewSession};
use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::error::{Error, ErrorCode, Result};
use serde::Serialize;

/// Client-credentials answer (RFC 6749 §5.1 fields): no refresh token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessToken {
    /// JWT (HS256) bound to the API key.
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    #[schema(value_type = String, example = "Bearer")]
    pub token_type: &'static str,
    /// Lifetime in seconds (`auth.access_token_ttl_s`).
    pub expires_in: u64,
    /// Granted scopes, space-separated (RFC 6749 §3.3).
    pub scope: String,
}

/// A token request: `grant_type` must be `client_credentials`; the client's id and
/// secret come from `basic` (HTTP Basic, which wins) or else from the form.
/// Errors: `VALIDATION_ERROR` naming `grant_type`, `client_id` or `client_secret`, then
/// as [`client_credentials`].
pub async fn grant(
    app: &App,
    req: TokenRequest,
    basic: Option<(String, String)>,
) -> Result<AccessToken> {
    match req.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(Error::field(
                "grant_type",
                format!("unsupported grant type '{other}' (only client_credentials)"),
            ));
        }
        None => return Err(Error::field("grant_type", "required")),
    }
    let (id, secret) = match (basic, req.client_id, req.client_secret) {
        (Some((i, s)), _, _) => (i, s),
        (None, Some(i), Some(s)) => (i, s),
        (None, None, _) => return Err(Error::field("client_id", "required")),
        (None, _, None) => return Err(Error::field("client_secret", "required")),
    };
    client_credentials(app, &id, &secret, req.scope.as_deref()).await
}

/// The scopes asked for (space-separated), each of which the key must cover; `None`
/// when none are asked for. Errors: `VALIDATION_ERROR` (field `scope`).
fn asked_scopes(key_scopes: &[Scope], scope: Option<&str>) -> Result<Option<Vec<String>>> {
    let Some(s) = scope.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for item in s.split_ascii_whitespace() {
        let sc: Scope = item
            .parse()
            .map_err(|_| Error::field("scope", format!("unknown scope '{item}'")))?;
        let covered = key_scopes.iter().any(|k| match sc {
            Scope::All => *k == Scope::All,
            Scope::Only(p) => k.allows(p),
        });
        if !covered {
            return Err(Error::field(
                "scope",
                format!("scope '{item}' is not granted to this client"),
            ));
        }
        out.push(item.to_string());
    }
    Ok(Some(out))
}

/// OAuth2 client-credentials grant (RFC 6749 §4.4): `client_id` is an API key id
/// (`key_…`) and `client_secret` the key itself. The access token acts as the key: its
/// scopes (or the narrower `scope` asked for, space-separated) apply, and it stops
/// working when the key is revoked or expires. Errors: `AUTH_INVALID_CREDENTIALS` for
/// a wrong id/secret, `VALIDATION_ERROR` (field `scope`) for a scope the key lacks.
pub async fn client_credentials(
    app: &App,
    client_id: &str,
    client_secret: &str,
    scope: Option<&str>,
) -> Result<AccessToken> {
    let bad_client = || {
        Error::new(
            ErrorCode::AuthInvalidCredentials,
            "invalid client credentials",
        )
    };
    let key = super::principal::from_api_key(&app.store, client_secret)
        .await
        .map_err(|_| bad_client())?;
    if key.api_key_id.as_deref() != Some(client_id) {
        return Err(bad_client());
    }
    let key_scopes = key.scopes.clone().unwrap_or_default();
    let asked = asked_scopes(&key_scopes, scope)?;
    let scope_str = asked
        .clone()
        .unwrap_or_else(|| key_scopes.iter().map(|s| s.to_string()).collect())
        .join(" ");
    let ttl = app.settings.auth.access_token_ttl_s;
    let actor = Actor::from(&key);
    let user_id = key.user_id.clone();
    let kid = client_id.to_string();
    let sid = app
        .store
        .write(move |tx| {
            let sid = crate::ids::new_id("ses");
            let now = crate::time::now_rfc3339();
            let session = NewSession {
                id: &sid,
                user_id: &user_id,
                created_at: &now,
                expires_at: &expiry_after(ttl),
                client_addr: actor.client_addr.as_deref(),
                user_agent: Some("client_credentials"),
            };
            store::insert_session(tx, &session)?;
            audit::record(tx, &actor, &Entry::new("auth.token").on("api_key", &kid))?;
            Ok(sid)
        })
        .await?;
    Ok(AccessToken {
        access_token: app
            .jwt
            .issue_for_key(&key.user_id, &sid, Some(client_id), asked, ttl)?,
        token_type: "Bearer",
        expires_in: ttl,
        scope: scope_str,
    })
}
