//! The vault: every secret mcpd keeps is sealed with the master key before it reaches
//! SQLite (see [`seal`] for the format and [`key`] for where the key comes from).
//!
//! The database remembers which master key its values belong to (`vault_keys`: the key
//! id and a check value sealed with it), so starting with another key is refused before
//! anything is read or written. Rotation re-seals every value in one transaction; the
//! new key is written next to the old one first and renamed over it only after the
//! commit, and start-up finishes or discards a rotation that was interrupted, so every
//! value stays readable whatever the moment of a crash.

pub mod key;
pub mod seal;
pub mod store;

use crate::error::{Error, Internal, Result};
use crate::store::Store;
use anyhow::{Context, bail};
use key::{KeySource, MasterKey};
use rusqlite::Connection;
use seal::{RowRef, SealingKey};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use zeroize::Zeroizing;

/// Where sealed values live: `(table, sealed column, id column)`. Rotation re-seals
/// every non-null value of each; a domain that stores a sealed column adds it here.
pub const SEALED_COLUMNS: &[(&str, &str, &str)] = &[
    ("daemon_secrets", "value", "name"),
    ("config_entries", "sealed_value", "key"),
    ("users", "mfa_secret", "id"),
    ("mcp_servers", "headers", "id"),
    ("kube_clusters", "credentials", "id"),
    ("network_devices", "credentials", "id"),
    ("network_config_backups", "content", "id"),
];

const CHECK_PLAINTEXT: &[u8] = b"mcpd vault key check";

fn check_row(key_id: &str) -> RowRef<'_> {
    RowRef {
        table: "vault_keys",
        column: "check_value",
        id: key_id,
    }
}

/// The loaded master key, bound to this database.
pub struct Vault {
    keys: RwLock<KeyRing>,
    source: KeySource,
}

/// The key that seals, and every key that may open (the previous one stays during a
/// rotation so values sealed a moment before it committed still open).
struct KeyRing {
    current: Arc<SealingKey>,
    previous: Option<Arc<SealingKey>>,
}

fn pending_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".new");
    PathBuf::from(s)
}

impl Vault {
    /// Loads the master key and checks it against the database (blocking: call from
    /// start-up or `spawn_blocking`). First start: creates the key file (data-dir default
    /// only) and records it. Errors name the file and what to do; nothing is changed
    /// when the key does not match.
    pub fn load(
        conn: &Connection,
        data_dir: &Path,
        configured: Option<&Path>,
    ) -> anyhow::Result<Vault> {
        let source = key::locate(data_dir, configured);
        let recorded = store::active_key(conn)?;
        let key = match recorded {
            None => {
                let key = if source.path.exists() {
                    key::read(&source.path)?
                } else if source.create_if_missing {
                    let k = key::generate()?;
                    key::write(&source.path, &k)?;
                    tracing::info!(file = %source.path.display(), "created the vault master key");
                    k
                } else {
                    bail!("master key {} does not exist", source.path.display());
                };
                let sk = SealingKey::new(&key)?;
                let check = sk.seal(check_row(sk.id()), CHECK_PLAINTEXT)?;
                store::insert_key(conn, sk.id(), &check, &crate::time::now_rfc3339())?;
                key
            }
            Some((kid, check)) => Self::resolve_key(&source, &kid, &check)?,
        };
        Ok(Vault {
            keys: RwLock::new(KeyRing {
                current: Arc::new(SealingKey::new(&key)?),
                previous: None,
            }),
            source,
        })
    }

    /// Finds the key matching the database, finishing or discarding an interrupted
    /// rotation (a `<key file>.new` left behind).
    fn resolve_key(source: &KeySource, kid: &str, check: &str) -> anyhow::Result<MasterKey> {
        let matches = |k: &MasterKey| {
            SealingKey::new(k)
                .is_ok_and(|sk| sk.id() == kid && sk.open(check_row(kid), check).is_ok())
        };
        let pending = pending_path(&source.path);
        if pending.exists() {
            let new = key::read(&pending)?;
            if matches(&new) {
                std::fs::rename(&pending, &source.path).with_context(|| {
                    format!(
                        "completing the interrupted key rotation ({})",
                        pending.display()
                    )
                })?;
                tracing::warn!("completed an interrupted master key rotation");
                return Ok(new);
            }
            std::fs::remove_file(&pending).ok();
            tracing::warn!("discarded the key of a master key rotation that did not commit");
        }
        if !source.path.exists() {
            bail!(
                "master key {} does not exist, but the database holds values sealed with key {kid}; restore that key file",
                source.path.display()
            );
        }
        let key = key::read(&source.path)?;
        if !matches(&key) {
            bail!(
                "master key {} (id {}) does not match the database, whose values are sealed with key {kid}; refusing to start",
                source.path.display(),
                seal::key_id(&key)
            );
        }
        Ok(key)
    }

    fn current(&self) -> Arc<SealingKey> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .current
            .clone()
    }

    /// The loaded key named by a sealed value's key id.
    fn opener(&self, sealed: &str) -> Arc<SealingKey> {
        let ring = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let kid = seal::split(sealed).map(|(k, _)| k).unwrap_or_default();
        match &ring.previous {
            Some(p) if p.id() == kid => p.clone(),
            _ => ring.current.clone(),
        }
    }

    /// Id of the active master key (public).
    pub fn key_id(&self) -> String {
        self.current().id().to_string()
    }

    /// Health check: the database's check value opens with the loaded key.
    pub async fn verify(self: &Arc<Self>, store: &Store) -> Result<()> {
        let vault = self.clone();
        store
            .read(move |c| {
                let (kid, check) = store::active_key(c)?.internal("no vault key recorded")?;
                vault.open(check_row(&kid), &check).map(|_| ())
            })
            .await
            .map_err(|_| {
                Error::new(
                    crate::error::ErrorCode::ServiceUnavailable,
                    "vault key does not open the database's check value",
                )
            })
    }

    /// Seals `plaintext` for the row it will be stored in.
    pub fn seal(&self, row: RowRef<'_>, plaintext: &[u8]) -> Result<String> {
        self.current().seal(row, plaintext).map_err(|e| {
            Error::internal(anyhow::anyhow!("sealing {}.{}: {e}", row.table, row.column))
        })
    }

    /// Opens a value read from `row`. Failure is an internal error (logged, never
    /// shown): it means tampering or a mismatched key, never a user mistake.
    pub fn open(&self, row: RowRef<'_>, sealed: &str) -> Result<Zeroizing<Vec<u8>>> {
        self.opener(sealed).open(row, sealed).map_err(|e| {
            Error::internal(anyhow::anyhow!(
                "opening {}.{} of {}: {e}",
                row.table,
                row.column,
                row.id
            ))
        })
    }

    /// Opens a value as UTF-8 text.
    pub fn open_string(&self, row: RowRef<'_>, sealed: &str) -> Result<Zeroizing<String>> {
        let bytes = self.open(row, sealed)?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| {
                Error::internal(anyhow::anyhow!(
                    "sealed {}.{} is not UTF-8",
                    row.table,
                    row.column
                ))
            })
    }

    /// Replaces the master key: a new key is written to `<key file>.new`, every sealed
    /// value is re-sealed and the check value replaced in one transaction (on the single
    /// writer, so no other write interleaves), then the new file is renamed over the old
    /// one. Returns `(old id, new id, values re-sealed)`. A key provided by systemd
    /// credentials cannot be replaced in place (`CONFLICT`).
    pub async fn rotate(self: &Arc<Self>, store: &Store) -> Result<(String, String, usize)> {
        if !self.source.create_if_missing
            && std::env::var_os("CREDENTIALS_DIRECTORY")
                .is_some_and(|d| self.source.path.starts_with(d))
        {
            return Err(Error::conflict(
                "the master key comes from systemd credentials and cannot be replaced in place",
            ));
        }
        let vault = self.clone();
        let result = store
            .write(move |tx| vault.rotate_in(tx).map_err(Error::internal))
            .await;
        match result {
            Ok(r) => {
                self.finish_rotation().map_err(Error::internal)?;
                tracing::info!(old = %r.0, new = %r.1, values = r.2, "master key rotated");
                Ok(r)
            }
            Err(e) => {
                // Not committed: seal with the old key again; the `.new` file is
                // discarded at the next start because it does not match the database.
                let mut ring = self.keys.write().unwrap_or_else(|p| p.into_inner());
                if let Some(prev) = ring.previous.take() {
                    ring.current = prev;
                }
                std::fs::remove_file(pending_path(&self.source.path)).ok();
                Err(e)
            }
        }
    }

    fn rotate_in(&self, tx: &Connection) -> anyhow::Result<(String, String, usize)> {
        let old = self.current();
        let new_key = key::generate()?;
        let new = Arc::new(SealingKey::new(&new_key)?);
        key::write(&pending_path(&self.source.path), &new_key)?;
        let n = reseal_all(tx, &old, &new)?;
        let now = crate::time::now_rfc3339();
        store::retire_active_key(tx, &now)?;
        let check = new.seal(check_row(new.id()), CHECK_PLAINTEXT)?;
        store::insert_key(tx, new.id(), &check, &now)?;
        // Swapped while this transaction still holds the writer: every later write seals
        // with the new key.
        let mut ring = self.keys.write().unwrap_or_else(|p| p.into_inner());
        ring.previous = Some(old.clone());
        ring.current = new.clone();
        Ok((old.id().to_string(), new.id().to_string(), n))
    }

    fn finish_rotation(&self) -> anyhow::Result<()> {
        let pending = pending_path(&self.source.path);
        std::fs::rename(&pending, &self.source.path).with_context(|| {
            format!(
                "installing the new master key {}",
                self.source.path.display()
            )
        })
    }
}

/// Re-seals every value of [`SEALED_COLUMNS`] from `old` to `new`.
fn reseal_all(tx: &Connection, old: &SealingKey, new: &SealingKey) -> anyhow::Result<usize> {
    let mut n = 0;
    for (table, column, id_col) in SEALED_COLUMNS {
        for (id, sealed) in store::sealed_values(tx, table, column, id_col)? {
            let row = RowRef {
                table,
                column,
                id: &id,
            };
            let clear = old
                .open(row, &sealed)
                .map_err(|e| anyhow::anyhow!("{table}.{column} of {id}: {e}"))?;
            let resealed = new.seal(row, &clear)?;
            store::set_sealed_value(tx, (table, column, id_col), &id, &resealed)?;
            n += 1;
        }
    }
    Ok(n)
}

/// A secret of the daemon itself (e.g. the token signing key), sealed in
/// `daemon_secrets`: read it, or create `len` random bytes on first use. A value found
/// in `legacy_file` (kept in the data dir by earlier versions) is imported and the file
/// removed, so the secret exists only sealed.
pub async fn daemon_secret(
    vault: &Arc<Vault>,
    store: &Store,
    name: &'static str,
    len: usize,
    legacy_file: Option<PathBuf>,
) -> Result<Zeroizing<Vec<u8>>> {
    let vault = vault.clone();
    let legacy = legacy_file.clone();
    let value = store
        .write(move |tx| {
            let row = RowRef {
                table: "daemon_secrets",
                column: "value",
                id: name,
            };
            if let Some(s) = store::daemon_secret(tx, name)? {
                return vault.open(row, &s);
            }
            let value = match legacy.as_deref().filter(|p| p.exists()) {
                Some(p) => Zeroizing::new(std::fs::read(p).map_err(Error::internal)?),
                None => {
                    let mut v = Zeroizing::new(vec![0u8; len]);
                    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut v[..])
                        .map_err(|_| Error::internal(anyhow::anyhow!("system RNG failed")))?;
                    v
                }
            };
            let sealed = vault.seal(row, &value)?;
            store::insert_daemon_secret(tx, name, &sealed, &crate::time::now_rfc3339())?;
            Ok(value)
        })
        .await?;
    if let Some(p) = legacy_file.filter(|p| p.exists()) {
        std::fs::remove_file(&p).map_err(Error::internal)?;
        tracing::info!(file = %p.display(), "moved {name} into the vault");
    }
    Ok(value)
}
