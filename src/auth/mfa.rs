//! TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step of skew, the
//! parameters every authenticator app supports).
//!
//! Enrolment is two steps: `setup` creates a secret (sealed in `users.mfa_secret`) and
//! returns it with an `otpauth://` URL for the app; `enable` with a current code turns
//! MFA on. From then on login needs `mfa_code` (`AUTH_MFA_REQUIRED` without it). Each
//! code is accepted once: the last used step is remembered (RFC 6238 §5.2).

use crate::app::App;
use crate::audit::{self, Actor, Entry};
use crate::auth::principal::Principal;
use crate::error::{Error, ErrorCode, Internal, Result};
use crate::users::store as users;
use crate::vault::Vault;
use crate::vault::seal::RowRef;
use rusqlite::Connection;
use serde::Serialize;
use totp_rs::{Algorithm, Secret, Totp};
use zeroize::Zeroizing;

const ISSUER: &str = "mcpd";

fn secret_row(user_id: &str) -> RowRef<'_> {
    RowRef {
        table: "users",
        column: "mfa_secret",
        id: user_id,
    }
}

fn totp(secret: Vec<u8>, account: &str) -> Result<Totp> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', "_"))
        .build()
        .internal("TOTP parameters")
}

/// `{secret, otpauth_url}`: shown once, for the authenticator app.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// Base32 secret (RFC 4648), for manual entry.
    pub secret: String,
    /// `otpauth://totp/mcpd:<user>?secret=…&issuer=mcpd` (Key Uri Format).
    pub otpauth_url: String,
}

fn session_only(who: &Principal) -> Result<()> {
    if who.api_key_id.is_some() {
        return Err(Error::forbidden(
            "MFA is managed from a login session, not with an API key",
        ));
    }
    Ok(())
}

/// Step 1: a new secret, stored sealed but not yet enforced. `CONFLICT` when MFA is on.
pub async fn setup(app: &App, who: &Principal) -> Result<Enrolment> {
    session_only(who)?;
    let secret = Secret::generate();
    let bytes = secret.as_bytes().to_vec();
    let t = totp(bytes.clone(), &who.username)?;
    let url = t.to_url().internal("TOTP otpauth URL")?;
    let b32 = secret.to_base32();
    let vault = app.vault.clone();
    let uid = who.user_id.clone();
    let actor = Actor::from(who);
    app.store
        .write(move |tx| {
            if users::mfa_enabled(tx, &uid)? {
                return Err(Error::conflict("MFA is already enabled; disable it first"));
            }
            let sealed = vault.seal(secret_row(&uid), &bytes)?;
            users::set_mfa_secret(tx, &uid, &sealed)?;
            audit::record(tx, &actor, &Entry::new("auth.mfa_setup").on("user", &uid))
        })
        .await?;
    Ok(Enrolment {
        secret: b32,
        otpauth_url: url,
    })
}

/// Checks `code` against the user's stored secret and burns its step. Returns false for
/// a wrong or replayed code; `None` secret → false.
pub fn verify_code(
    tx: &Connection,
    vault: &Vault,
    user_id: &str,
    username: &str,
    code: &str,
) -> Result<bool> {
    let Some((Some(sealed), last)) = users::mfa_secret(tx, user_id)? else {
        return Ok(false);
    };
    let secret: Zeroizing<Vec<u8>> = vault.open(secret_row(user_id), &sealed)?;
    let t = totp(secret.to_vec(), username)?;
    let now = crate::time::unix_now().max(0) as u64;
    let Some(step) = t.check(code.trim(), now) else {
        return Ok(false);
    };
    if last.is_some_and(|l| step as i64 <= l) {
        return Ok(false);
    }
    users::set_mfa_last_step(tx, user_id, step as i64)?;
    Ok(true)
}

fn invalid_code() -> Error {
    Error::field("code", "invalid or already used code")
}

/// Step 2: a current code from the app turns MFA on. `CONFLICT` without a pending
/// setup or when already on; `VALIDATION_ERROR` (field `code`) for a wrong code.
pub async fn enable(app: &App, who: &Principal, code: String) -> Result<()> {
    session_only(who)?;
    let vault = app.vault.clone();
    let (uid, name) = (who.user_id.clone(), who.username.clone());
    let actor = Actor::from(who);
    let ok = app
        .store
        .write(move |tx| {
            let (enabled, pending) = users::mfa_state(tx, &uid)?;
            if enabled {
                return Err(Error::conflict("MFA is already enabled"));
            }
            if !pending {
                return Err(Error::conflict(
                    "no MFA setup in progress; call /auth/mfa/setup first",
                ));
            }
            if !verify_code(tx, &vault, &uid, &name, &code)? {
                return Ok(false);
            }
            users::enable_mfa(tx, &uid, &crate::time::now_rfc3339())?;
            audit::record(tx, &actor, &Entry::new("auth.mfa_enable").on("user", &uid))?;
            Ok(true)
        })
        .await?;
    if ok { Ok(()) } else { Err(invalid_code()) }
}

/// Turns MFA off for the caller, who proves possession with a current code.
pub async fn disable(app: &App, who: &Principal, code: String) -> Result<()> {
    session_only(who)?;
    let vault = app.vault.clone();
    let (uid, name) = (who.user_id.clone(), who.username.clone());
    let actor = Actor::from(who);
    let ok = app
        .store
        .write(move |tx| {
            if !users::mfa_enabled(tx, &uid)? {
                return Err(Error::conflict("MFA is not enabled"));
            }
            if !verify_code(tx, &vault, &uid, &name, &code)? {
                return Ok(false);
            }
            clear(tx, &uid)?;
            audit::record(tx, &actor, &Entry::new("auth.mfa_disable").on("user", &uid))?;
            Ok(true)
        })
        .await?;
    if ok { Ok(()) } else { Err(invalid_code()) }
}

/// Removes a user's second factor (admin reset for a lost device, or disable).
pub fn clear(tx: &Connection, user_id: &str) -> Result<()> {
    users::clear_mfa(tx, user_id, &crate::time::now_rfc3339())
}

/// The login-time check for a user with MFA on: no code → `AUTH_MFA_REQUIRED`; a wrong
/// or replayed code → `AUTH_INVALID_CREDENTIALS` (and the caller counts a failure).
pub fn check_login(
    tx: &Connection,
    vault: &Vault,
    user_id: &str,
    username: &str,
    code: Option<&str>,
) -> Result<()> {
    let Some(code) = code.filter(|c| !c.trim().is_empty()) else {
        return Err(Error::new(
            ErrorCode::AuthMfaRequired,
            "this account requires a one-time code (mfa_code)",
        ));
    };
    if verify_code(tx, vault, user_id, username, code)? {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::AuthInvalidCredentials,
            "invalid one-time code",
        ))
    }
}

/// The code for `secret_base32` at `unix_time` (seconds), as an authenticator app
/// would show it (tests and tooling).
pub fn code_at(secret_base32: &str, unix_time: u64) -> Option<String> {
    let s = Secret::try_from_base32(secret_base32)
        .ok()?
        .as_bytes()
        .to_vec();
    let t = totp(s, "x").ok()?;
    Some(t.generate(unix_time).to_string())
}
