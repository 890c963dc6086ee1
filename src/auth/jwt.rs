//! Access tokens: HS256 JWTs (RFC 7519) carrying the user id and the login session id.
//! The signing key is 32 random bytes created at init and kept in the data dir (0600)
//! until the vault holds it.

use crate::error::{Error, ErrorCode, Internal, Result};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "mcpd";

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id (`usr_…`).
    pub sub: String,
    /// Login session id (`ses_…`): revoking the session invalidates the token at once.
    pub sid: String,
    /// Issued at, Unix seconds (RFC 7519 §4.1.6).
    pub iat: i64,
    /// Expiry, Unix seconds (RFC 7519 §4.1.4).
    pub exp: i64,
    /// Issuer, always `mcpd`.
    pub iss: String,
    /// Random 16-character token id (RFC 7519 §4.1.7).
    pub jti: String,
    /// API key id (`key_…`) of a client-credentials token (RFC 6749 §4.4): the key's
    /// scopes apply, and the token stops working when the key is revoked or expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Scopes the client asked for at the token endpoint, each allowed by the key's
    /// scopes; when present they replace the key's scopes for this token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<Vec<String>>,
}

/// Signs and verifies access tokens.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    /// Keys for HS256 with this secret; tokens must carry `exp`, `iat`, `iss` = `mcpd` and `sub` (5 s leeway).
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A token for `user_id` in session `session_id`, valid for `ttl_s` seconds.
    pub fn issue(&self, user_id: &str, session_id: &str, ttl_s: u64) -> Result<String> {
        self.issue_for_key(user_id, session_id, None, None, ttl_s)
    }

    /// A client-credentials token: like [`JwtKeys::issue`] but bound to API key
    /// `key_id` and, when `scopes` is given, narrowed to them.
    pub fn issue_for_key(
        &self,
        user_id: &str,
        session_id: &str,
        key_id: Option<&str>,
        scopes: Option<Vec<String>>,
        ttl_s: u64,
    ) -> Result<String> {
        let now = crate::time::unix_now();
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            iat: now,
            exp: now + ttl_s as i64,
            iss: ISSUER.to_string(),
            jti: crate::ids::random_alnum(16),
            kid: key_id.map(str::to_string),
            scp: scopes,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .internal("signing an access token")
    }

    /// Verifies signature, issuer and expiry. Expired → `AUTH_TOKEN_EXPIRED`; anything
    /// else wrong → `AUTH_TOKEN_INVALID`.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    Error::new(ErrorCode::AuthTokenExpired, "access token has expired")
                }
                _ => Error::new(ErrorCode::AuthTokenInvalid, "access token is invalid"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_verify_and_reject() {
        let keys = JwtKeys::new(&[7u8; 32]);
        let t = keys.issue("usr_a", "ses_b", 60).unwrap();
        let c = keys.verify(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.sid.as_str()), ("usr_a", "ses_b"));
        let other = JwtKeys::new(&[8u8; 32]);
        assert_eq!(
            other.verify(&t).unwrap_err().code,
            ErrorCode::AuthTokenInvalid
        );
        let mut bad = t.clone();
        bad.push('x');
        assert_eq!(
            keys.verify(&bad).unwrap_err().code,
            ErrorCode::AuthTokenInvalid
        );
        // Expired beyond the leeway.
        let now = crate::time::unix_now();
        let claims = Claims {
            sub: "u".into(),
            sid: "s".into(),
            iat: now - 100,
            exp: now - 60,
            iss: ISSUER.into(),
            jti: "j".into(),
            kid: None,
            scp: None,
        };
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&[7u8; 32]),
        )
        .unwrap();
        assert_eq!(
            keys.verify(&t).unwrap_err().code,
            ErrorCode::AuthTokenExpired
        );
    }
}
