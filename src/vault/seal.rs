//! Sealing values: AES-256-GCM (ring) with a fresh random 96-bit nonce per value and
//! the value's row identity as associated data, so a ciphertext copied to another row
//! or column does not open.
//!
//! Stored form: `v1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>` (standard base64 with
//! padding). The key id names the master key that sealed it (see [`key_id`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// Format version of sealed values.
pub const VERSION: &str = "v1";
/// Master key length in bytes (AES-256).
pub const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// Why a sealed value did not open. Messages never include the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not `v1:<key id>:<base64>`, or the base64 does not decode.
    #[error("sealed value is malformed (expected v1:<key id>:<base64>)")]
    Malformed,
    /// A format version other than [`VERSION`]; the field holds it.
    #[error("sealed value has unknown format version '{0}'")]
    UnknownVersion(String),
    /// Sealed under a master key id that is not loaded; the field holds the id.
    #[error("sealed value was made with master key '{0}', which is not loaded")]
    UnknownKey(String),
    /// Shorter than a nonce and a GCM tag.
    #[error("sealed value is truncated")]
    Truncated,
    /// The AES-GCM tag does not verify: wrong key, another row, or a changed ciphertext.
    #[error("sealed value does not open: wrong key, wrong row, or tampered")]
    Unauthentic,
    /// The system random generator failed to make a nonce.
    #[error("random number generator failed")]
    Rng,
}

/// Where a value lives: bound into the ciphertext as associated data.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    /// Table of the row, e.g. `config_entries`.
    pub table: &'a str,
    /// Column holding the sealed value, e.g. `sealed_value`.
    pub column: &'a str,
    /// Primary key of the row (an id or a config key).
    pub id: &'a str,
}

impl RowRef<'_> {
    fn aad(&self) -> Vec<u8> {
        // Length-prefixed so ("a/b", "c") and ("a", "b/c") differ.
        let mut out = b"mcpd-vault-v1".to_vec();
        for part in [self.table, self.column, self.id] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

/// Public, stable name of a master key: the first 8 hex digits of
/// SHA-256("mcpd master key id" ‖ key). Reveals nothing usable about the key.
pub fn key_id(key: &[u8; KEY_LEN]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"mcpd master key id");
    ctx.update(key);
    hex::encode(&ctx.finish().as_ref()[..4])
}

/// One master key, ready to seal and open.
pub struct SealingKey {
    id: String,
    key: LessSafeKey,
}

impl SealingKey {
    /// A key from its 32 raw bytes; its id is [`key_id`] of them. Fails only if `ring`
    /// refuses the key (it takes any 32 bytes for AES-256-GCM).
    pub fn new(key: &[u8; KEY_LEN]) -> anyhow::Result<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| anyhow::anyhow!("AES-256-GCM refused the master key"))?;
        Ok(SealingKey {
            id: key_id(key),
            key: LessSafeKey::new(unbound),
        })
    }

    /// The key's id: 8 lower-case hex digits (see [`key_id`]).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plaintext` for `row`.
    pub fn seal(&self, row: RowRef<'_>, plaintext: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::Rng)?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(row.aad()),
                &mut buf,
            )
            .map_err(|_| SealError::Rng)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{VERSION}:{}:{}", self.id, B64.encode(out)))
    }

    /// Opens a value sealed by this key for `row`.
    pub fn open(&self, row: RowRef<'_>, sealed: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let (kid, body) = split(sealed)?;
        if kid != self.id {
            return Err(SealError::UnknownKey(kid.to_string()));
        }
        let raw = B64.decode(body).map_err(|_| SealError::Malformed)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Truncated);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Truncated)?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(row.aad()), &mut buf)
            .map_err(|_| SealError::Unauthentic)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// Splits `v1:<kid>:<body>`, checking the version.
pub fn split(sealed: &str) -> Result<(&str, &str), SealError> {
    let mut parts = sealed.splitn(3, ':');
    let (Some(v), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SealError::Malformed);
    };
    if v != VERSION {
        return Err(SealError::UnknownVersion(v.chars().take(16).collect()));
    }
    if kid.is_empty() || body.is_empty() {
        return Err(SealError::Malformed);
    }
    Ok((kid, body))
}

/// Whether a stored value looks sealed (as opposed to clear text).
pub fn is_sealed(s: &str) -> bool {
    split(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: RowRef<'static> = RowRef {
        table: "config",
        column: "value",
        id: "db.password",
    };

    fn key(b: u8) -> SealingKey {
        SealingKey::new(&[b; KEY_LEN]).unwrap()
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let k = key(1);
        let a = k.seal(ROW, b"hunter2").unwrap();
        let b = k.seal(ROW, b"hunter2").unwrap();
        assert_ne!(a, b, "a fresh nonce per seal");
        assert!(a.starts_with(&format!("v1:{}:", k.id())));
        assert!(!a.contains("hunter2"));
        assert_eq!(&**k.open(ROW, &a).unwrap(), b"hunter2");
        assert_eq!(&**k.open(ROW, &k.seal(ROW, b"").unwrap()).unwrap(), b"");
    }

    #[test]
    fn every_kind_of_damage_fails_cleanly() {
        let k = key(1);
        let s = k.seal(ROW, b"secret value").unwrap();
        // Tampered ciphertext: flip one byte of the body.
        let (kid, body) = split(&s).unwrap();
        let mut raw = B64.decode(body).unwrap();
        raw[NONCE_LEN] ^= 1;
        let tampered = format!("v1:{kid}:{}", B64.encode(&raw));
        assert_eq!(k.open(ROW, &tampered).unwrap_err(), SealError::Unauthentic);
        // Wrong row (AAD): same table and column, another id; or another column.
        let other = RowRef {
            id: "db.user",
            ..ROW
        };
        assert_eq!(k.open(other, &s).unwrap_err(), SealError::Unauthentic);
        let other_col = RowRef {
            column: "description",
            ..ROW
        };
        assert_eq!(k.open(other_col, &s).unwrap_err(), SealError::Unauthentic);
        // Wrong key: a different key id is reported as such; a forged id fails auth.
        let k2 = key(2);
        assert_eq!(
            k2.open(ROW, &s).unwrap_err(),
            SealError::UnknownKey(k.id().to_string())
        );
        let forged = s.replacen(k.id(), k2.id(), 1);
        assert_eq!(k2.open(ROW, &forged).unwrap_err(), SealError::Unauthentic);
        // Truncated, malformed, unknown version.
        let short = format!("v1:{kid}:{}", B64.encode([0u8; 20]));
        assert_eq!(k.open(ROW, &short).unwrap_err(), SealError::Truncated);
        let cut = &s[..s.len() - 8];
        assert!(k.open(ROW, cut).is_err());
        assert_eq!(k.open(ROW, "v1:abc").unwrap_err(), SealError::Malformed);
        assert_eq!(k.open(ROW, "plain text").unwrap_err(), SealError::Malformed);
        assert_eq!(
            k.open(ROW, &format!("v1:{kid}:***")).unwrap_err(),
            SealError::Malformed
        );
        assert_eq!(
            k.open(ROW, &s.replacen("v1:", "v9:", 1)).unwrap_err(),
            SealError::UnknownVersion("v9".into())
        );
    }

    #[test]
    fn aad_parts_are_unambiguous() {
        let a = RowRef {
            table: "a/b",
            column: "c",
            id: "d",
        }
        .aad();
        let b = RowRef {
            table: "a",
            column: "b/c",
            id: "d",
        }
        .aad();
        assert_ne!(a, b);
    }

    #[test]
    fn key_ids_are_stable_and_distinct() {
        assert_eq!(key_id(&[1; KEY_LEN]), key(1).id());
        assert_ne!(key(1).id(), key(2).id());
        assert_eq!(key(1).id().len(), 8);
    }
}
