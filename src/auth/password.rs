//! Password hashing with argon2id (RFC 9106) in PHC string form, run on the blocking
//! pool because one hash costs tens of milliseconds of CPU by design.

use crate::error::{Error, Internal, Result};
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::LazyLock;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest password accepted, in bytes (bounds hashing cost of hostile input).
pub const MAX_PASSWORD_LEN: usize = 1024;

fn argon2() -> Argon2<'static> {
    // argon2's defaults are OWASP's argon2id recommendation: m=19 MiB, t=2, p=1.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// A hash of a random password, verified against when the user does not exist so that
/// unknown and known usernames take the same time. Empty only if hashing fails, when no
/// login can succeed anyway.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking(&crate::ids::random_alnum(24)).unwrap_or_default());

/// Checks a new password's length. Returns a field error on `field`.
pub fn check_policy(field: &str, password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::field(
            field,
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::field(
            field,
            format!("must be at most {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    Ok(())
}

/// argon2id PHC string of `password` (blocking).
pub fn hash_blocking(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        // password-hash's error is not a std error without its `std` feature.
        .map_err(|e| anyhow::anyhow!("{e}"))
        .internal("argon2")
}

/// argon2id PHC string of `password`, off the async runtime.
pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .internal("password hashing task")?
}

/// Verifies `password` against `phc` (or against a dummy hash when `phc` is `None`,
/// always returning false, in the same time). Off the async runtime.
pub async fn verify(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        if password.len() > MAX_PASSWORD_LEN {
            return false;
        }
        let (phc, real) = match phc {
            Some(p) => (p, true),
            None => (DUMMY_HASH.clone(), false),
        };
        let ok = PasswordHash::new(&phc)
            .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && real
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify("wrong".into(), Some(h)).await);
        assert!(!verify("anything".into(), None).await);
        assert!(check_policy("password", "short").is_err());
    }
}
