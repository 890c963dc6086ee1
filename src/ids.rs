//! Prefixed identifiers (`usr_…`, `svc_…`; random, or time-ordered for the request log) and
//! secret tokens.

use rand::Rng;
use rand::distr::Alphanumeric;

/// Length of the random part of an id, in characters of `[A-Za-z0-9]` (≈95 bits).
const ID_RANDOM_LEN: usize = 16;

/// A new id: `prefix` + `_` + 16 random alphanumerics, e.g. `svc_3fZk9QpL0aXb2mNc`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_alnum(ID_RANDOM_LEN))
}

/// Digits of [`new_time_ordered_id`], in ASCII order so that the text sorts like the number.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters of a time-ordered id holding the time: 62⁹ µs ≈ 428 years from 1970.
const TIME_LEN: usize = 9;

/// A new id in the same shape as [`new_id`] (`prefix` + `_` + 16 alphanumerics) whose
/// first 9 characters are the current time in microseconds since 1970 in base 62 and
/// the last 7 random (≈41 bits), like a KSUID or ULID: ids sort by creation time.
///
/// For append-mostly tables written on the hot path (the request log): a random key
/// lands on a random page of the id index, so every insert reads and dirties another
/// page (and writes it to the WAL at commit); a time-ordered key appends to the last
/// one. Measured on the request log's schema: about a third less CPU per insert.
pub fn new_time_ordered_id(prefix: &str) -> String {
    let micros = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    let mut n = u128::try_from(micros).unwrap_or(0);
    let mut stamp = [b'0'; TIME_LEN];
    for digit in stamp.iter_mut().rev() {
        *digit = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let stamp: String = stamp.iter().map(|&b| char::from(b)).collect();
    format!("{prefix}_{stamp}{}", random_alnum(ID_RANDOM_LEN - TIME_LEN))
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

    #[test]
    fn time_ordered_ids_are_ids_and_sort_by_creation() {
        let mut ids = Vec::new();
        for _ in 0..50 {
            ids.push(new_time_ordered_id("rlog"));
            std::thread::sleep(std::time::Duration::from_micros(3));
        }
        assert!(ids.iter().all(|id| is_id("rlog", id)), "{ids:?}");
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        // The time part decodes to now.
        let stamp = &ids[0]["rlog_".len().."rlog_".len() + TIME_LEN];
        let micros = stamp.bytes().fold(0u128, |n, b| {
            n * 62 + BASE62.iter().position(|d| *d == b).unwrap() as u128
        });
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u128 / 1000;
        assert!(
            now - micros < 10_000_000,
            "{stamp} decodes to {micros}, now {now}"
        );
    }
}
