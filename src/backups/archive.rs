//! Writing an archive (blocking code only: run it on the blocking pool). The format's
//! shapes are [`super::format`]'s and reading one back is [`super::verify`]'s; both are
//! re-exported here, so `archive::Manifest` or `archive::verify` name them.
//!
//! An archive is a tar stream (`manifest.json` first, then the files it lists),
//! optionally zstd-compressed, optionally encrypted with age (<https://age-encryption.org/v1>,
//! passphrase via scrypt or an X25519 recipient). Each layer is recognised by its magic
//! bytes when reading (see [`super::verify`]), so a person can open one with standard
//! tools: `age -d f.tar.zst.age | zstd -d | tar x`.

pub(crate) use super::format::Hashing;
pub use super::format::{
    CONFIG_ENTRY, DAEMON_LOGS_DIR, DB_ENTRY, FORMAT, FileEntry, Included, MANIFEST,
    MASTER_KEY_ENTRY, Manifest, Seal, Unseal, VolumeEntry, hash_file,
};
pub use super::verify::verify;

use crate::error::{Internal, Result};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// A file written front to back that starts the kernel's writeback of every full
/// [`Writeback::CHUNK`] as soon as it is written (`sync_file_range(2)`,
/// `SYNC_FILE_RANGE_WRITE`: asynchronous, no waiting). The archive is fsynced when
/// complete anyway; starting early keeps the disk busy while the CPU compresses, so the
/// final fsync has little left, and keeps the page cache from filling with gigabytes of
/// dirty pages that would then be flushed in one burst under the API's feet.
struct Writeback {
    file: File,
    written: u64,
    synced: u64,
}

impl Writeback {
    const CHUNK: u64 = 8 << 20;

    fn new(file: File) -> Self {
        Self {
            file,
            written: 0,
            synced: 0,
        }
    }
}

impl Write for Writeback {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.synced >= Self::CHUNK {
            use std::os::fd::AsRawFd;
            // Advisory: an error (e.g. a file system without support) changes nothing.
            unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    self.synced as i64,
                    (self.written - self.synced) as i64,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            self.synced = self.written;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Writes an archive of `files` (archive path, file on disk) with `manifest` first into
/// `out` (created, must not exist). Returns the archive's SHA-256 and size. On error the
/// caller removes `out`.
pub fn write(
    out: &Path,
    manifest: &Manifest,
    files: &[(String, PathBuf)],
    compress: bool,
    seal: &Seal,
    cancel: Arc<AtomicBool>,
) -> Result<(String, u64)> {
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(out)
        .internal("creating the archive")?;
    let mut hashing = Hashing::new(
        BufWriter::with_capacity(1 << 20, Writeback::new(file)),
        Some(cancel),
    );
    match seal {
        Seal::None => {
            compressed_tar(&mut hashing, compress, manifest, files)?;
        }
        Seal::Passphrase(p) => {
            let w = age::Encryptor::with_user_passphrase(p.clone())
                .wrap_output(&mut hashing)
                .internal("starting encryption")?;
            compressed_tar(w, compress, manifest, files)?
                .finish()
                .internal("finishing encryption")?;
        }
        Seal::Recipient(r) => {
            let w = age::Encryptor::with_recipients(std::iter::once(r.as_ref() as _))
                .internal("age")?
                .wrap_output(&mut hashing)
                .internal("starting encryption")?;
            compressed_tar(w, compress, manifest, files)?
                .finish()
                .internal("finishing encryption")?;
        }
    }
    hashing.flush().internal("writing the archive")?;
    let (inner, sha256, bytes) = hashing.finish();
    let file = inner
        .into_inner()
        .map_err(|e| e.into_error())
        .internal("writing the archive")?
        .file;
    file.sync_all().internal("syncing the archive")?;
    Ok((sha256, bytes))
}

/// Writes the tar stream into `w`, through zstd when `compress`; returns `w` with every
/// layer above it finished (so a failure to finish is an error, not a silent truncation).
fn compressed_tar<W: Write>(
    w: W,
    compress: bool,
    manifest: &Manifest,
    files: &[(String, PathBuf)],
) -> Result<W> {
    if compress {
        // Level 3: zstd's default, several hundred MB/s per core.
        let enc = zstd::Encoder::new(w, 3).internal("starting zstd")?;
        write_tar(enc, manifest, files)?
            .finish()
            .internal("finishing zstd")
    } else {
        write_tar(w, manifest, files)
    }
}

fn write_tar<W: Write>(w: W, manifest: &Manifest, files: &[(String, PathBuf)]) -> Result<W> {
    // Buffered in 1 MiB: `io::copy` into a `BufWriter` reads each file straight into
    // its buffer in large reads, and zstd/age get large inputs (not 8 KiB pieces).
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, w));
    tar.mode(tar::HeaderMode::Deterministic);
    let m = serde_json::to_vec_pretty(manifest)?;
    let mut h = tar::Header::new_gnu();
    h.set_size(m.len() as u64);
    h.set_mode(0o600);
    h.set_cksum();
    tar.append_data(&mut h, MANIFEST, m.as_slice())
        .internal("writing the archive")?;
    for (name, path) in files {
        let mut f = File::open(path).internal("reading a staged file")?;
        tar.append_file(name, &mut f)
            .internal("writing the archive")?;
    }
    tar.into_inner()
        .internal("writing the archive")?
        .into_inner()
        .map_err(|e| e.into_error())
        .internal("writing the archive")
}

#[cfg(test)]
mod tests {
    use super::super::verify::{is_encrypted, verify_with_digest};
    use super::*;
    use age::secrecy::SecretString;

    fn sample(dir: &Path) -> (Manifest, Vec<(String, PathBuf)>) {
        let p = dir.join("a.bin");
        std::fs::write(&p, vec![7u8; 300_000]).unwrap();
        let (sha256, size_bytes) = hash_file(&p).unwrap();
        let m = Manifest {
            format: FORMAT.into(),
            backup_id: "bkp_x".into(),
            r#type: "full".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            mcpd_version: "0".into(),
            schema_version: 4,
            vault_key_id: "k".into(),
            included: Included {
                data: true,
                config: false,
                logs: false,
                master_key: false,
                services: vec![],
            },
            files: vec![FileEntry {
                path: DB_ENTRY.into(),
                sha256,
                size_bytes,
            }],
            volumes: vec![],
            base_backup_id: None,
        };
        (m, vec![(DB_ENTRY.into(), p)])
    }

    #[test]
    fn round_trips_every_layering_and_refuses_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (m, files) = sample(dir.path());
        let pass = || SecretString::from("correct horse".to_string());
        let id = age::x25519::Identity::generate();
        let cases: Vec<(bool, Seal, Unseal)> = vec![
            (false, Seal::None, Unseal::default()),
            (true, Seal::None, Unseal::default()),
            (
                true,
                Seal::Passphrase(pass()),
                Unseal {
                    passphrase: Some(pass()),
                    identity: None,
                },
            ),
            (
                true,
                Seal::Recipient(Box::new(id.to_public())),
                Unseal {
                    passphrase: None,
                    identity: Some(SecretString::from({
                        use age::secrecy::ExposeSecret;
                        id.to_string().expose_secret().to_string()
                    })),
                },
            ),
        ];
        for (i, (compress, seal, unseal)) in cases.into_iter().enumerate() {
            let out = dir.path().join(format!("out{i}"));
            let (sha, size) = write(
                &out,
                &m,
                &files,
                compress,
                &seal,
                Arc::new(AtomicBool::new(false)),
            )
            .unwrap();
            assert_eq!(hash_file(&out).unwrap(), (sha.clone(), size));
            let x = dir.path().join(format!("x{i}"));
            let got = verify(&out, &unseal, Some(&x)).unwrap();
            assert_eq!(got, m);
            assert_eq!(
                verify_with_digest(&out, &unseal).unwrap(),
                (m.clone(), sha.clone(), size),
                "case {i}"
            );
            assert_eq!(std::fs::read(x.join(DB_ENTRY)).unwrap(), vec![7u8; 300_000]);
            // Truncated and corrupted copies are refused.
            let bytes = std::fs::read(&out).unwrap();
            let t = dir.path().join(format!("t{i}"));
            std::fs::write(&t, &bytes[..bytes.len() * 2 / 3]).unwrap();
            assert!(verify(&t, &unseal, None).is_err(), "truncated case {i}");
            let mut bad = bytes.clone();
            let mid = bad.len() / 2;
            bad[mid] ^= 0xff;
            std::fs::write(&t, &bad).unwrap();
            assert!(verify(&t, &unseal, None).is_err(), "corrupted case {i}");
        }
    }

    #[test]
    fn wrong_passphrase_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (m, files) = sample(dir.path());
        let out = dir.path().join("o");
        write(
            &out,
            &m,
            &files,
            true,
            &Seal::Passphrase(SecretString::from("right".to_string())),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap();
        assert!(is_encrypted(&out).unwrap());
        let e = verify(
            &out,
            &Unseal {
                passphrase: Some(SecretString::from("wrong".to_string())),
                identity: None,
            },
            None,
        )
        .unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::PreconditionFailed);
        assert!(verify(&out, &Unseal::default(), None).is_err());
    }
}
