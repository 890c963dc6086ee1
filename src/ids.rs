//! Prefixed random identifiers (`usr_…`, `svc_…`) and secret tokens.

use rand::Rng;
use rand::distr::Alphanumeric;

/// Length of the random part of an id, in characters of `[A-Za-z0-9]` (≈95 bits).
const ID_RANDOM_LEN: usize = 16;

/// A new id: `prefix` + `_` + 16 random alphanumerics, e.g. `svc_3fZk9QpL0aXb2mNc`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_alnum(ID_RANDOM_LEN))
}

/// `len` random characters of `[A-Za-z0-9]` from the thread-local CSPRNG.
pub fn random_alnum(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// True when `s` looks like an id with this prefix (so a path segment is an id, not a name).
pub fn is_id(prefix: &str, s: &str) -> bool {
    s.len() == prefix.len() + 1 + ID_RANDOM_LEN
        && s.starts_with(prefix)
        && s.as_bytes()[prefix.len()] == b'_'
        && s[prefix.len() + 1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
}

/// Lowercase hex SHA-256 of `s` (API keys and refresh tokens are stored only this way).
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_recognised() {
        let id = new_id("svc");
        assert!(id.starts_with("svc_"));
        assert!(is_id("svc", &id));
        assert!(!is_id("mcp", &id));
        assert!(!is_id("svc", "svc_short"));
        assert_ne!(new_id("svc"), id);
    }
}
