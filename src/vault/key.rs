//! The master key file: where it comes from, its format and its permissions.
//!
//! Sources, first found wins:
//! 1. `$CREDENTIALS_DIRECTORY/master.key`: systemd `LoadCredential=` /
//!    `LoadCredentialEncrypted=` (systemd.exec(5), "Credentials");
//! 2. `vault.master_key_file` in the configuration;
//! 3. `<data_dir>/master.key`, created at init.
//!
//! Format: 64 hex digits (optionally followed by a newline), or exactly 32 raw bytes.
//! A file readable by group or others is refused.

use super::seal::KEY_LEN;
use anyhow::{Context, bail};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Name of the key file in the data dir and in the credentials directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// A master key in memory, wiped on drop.
pub type MasterKey = Zeroizing<[u8; KEY_LEN]>;

/// Where the master key is read from, and whether mcpd may create it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    /// The key file to read (64 hex digits or 32 raw bytes).
    pub path: PathBuf,
    /// Only the data-dir default is created when missing; a configured or
    /// systemd-provided key that is absent is an error.
    pub create_if_missing: bool,
}

/// Picks the key file per the order above.
pub fn locate(data_dir: &Path, configured: Option<&Path>) -> KeySource {
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        let p = Path::new(&dir).join(MASTER_KEY_FILE);
        if p.is_file() {
            return KeySource {
                path: p,
                create_if_missing: false,
            };
        }
    }
    match configured {
        Some(p) => KeySource {
            path: p.to_path_buf(),
            create_if_missing: false,
        },
        None => KeySource {
            path: data_dir.join(MASTER_KEY_FILE),
            create_if_missing: true,
        },
    }
}

/// Reads a key file, refusing group/world-readable files and malformed content.
pub fn read(path: &Path) -> anyhow::Result<MasterKey> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("reading master key {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "master key {} is accessible by group or others (mode {:04o}); run: chmod 600 {}",
            path.display(),
            mode,
            path.display()
        );
    }
    let raw = Zeroizing::new(
        std::fs::read(path).with_context(|| format!("reading master key {}", path.display()))?,
    );
    parse(&raw).with_context(|| format!("master key {}", path.display()))
}

/// Parses 64 hex digits (trailing whitespace allowed) or 32 raw bytes.
pub fn parse(raw: &[u8]) -> anyhow::Result<MasterKey> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    let trimmed = raw.trim_ascii_end();
    if trimmed.len() == KEY_LEN * 2 && trimmed.iter().all(u8::is_ascii_hexdigit) {
        hex::decode_to_slice(trimmed, &mut key[..]).context("invalid hex")?;
        return Ok(key);
    }
    if raw.len() == KEY_LEN {
        key.copy_from_slice(raw);
        return Ok(key);
    }
    bail!("must hold 64 hex digits or exactly 32 bytes")
}

/// A new random key.
pub fn generate() -> anyhow::Result<MasterKey> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key[..])
        .map_err(|_| anyhow::anyhow!("system RNG failed"))?;
    Ok(key)
}

/// Writes `key` as hex to `path` (0600, atomically).
pub fn write(path: &Path, key: &MasterKey) -> anyhow::Result<()> {
    let mut text = Zeroizing::new(hex::encode(&key[..]));
    text.push('\n');
    crate::fsutil::write_private(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn formats_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let key = generate().unwrap();
        write(&p, &key).unwrap();
        assert_eq!(*read(&p).unwrap(), *key);
        // Raw 32 bytes work too.
        crate::fsutil::write_private(&p, &key[..]).unwrap();
        assert_eq!(*read(&p).unwrap(), *key);
        // Wrong length.
        crate::fsutil::write_private(&p, b"abc").unwrap();
        assert!(read(&p).is_err());
        // Group-readable is refused with the fix in the message.
        write(&p, &key).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = format!("{:#}", read(&p).unwrap_err());
        assert!(e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn locate_prefers_configured_over_data_dir() {
        let d = Path::new("/var/lib/mcpd");
        if std::env::var_os("CREDENTIALS_DIRECTORY").is_none() {
            assert_eq!(locate(d, None).path, d.join("master.key"));
            assert!(locate(d, None).create_if_missing);
            let c = locate(d, Some(Path::new("/etc/mcpd/key")));
            assert_eq!(c.path, Path::new("/etc/mcpd/key"));
            assert!(!c.create_if_missing);
        }
    }
}
