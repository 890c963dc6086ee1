//! The archive format, blocking code only (run it on the blocking pool).
//!
//! An archive is a tar stream (`manifest.json` first, then the files it lists),
//! optionally zstd-compressed, optionally encrypted with age (<https://age-encryption.org/v1>,
//! passphrase via scrypt or an X25519 recipient). Each layer is recognised by its magic
//! bytes when reading, so a person can open one with standard tools:
//! `age -d f.tar.zst.age | zstd -d | tar x`.

use crate::error::{Error, Internal, Result};
use age::secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Format tag written into every manifest.
pub const FORMAT: &str = "mcpd-backup/1";
/// Name of the manifest inside the archive.
pub const MANIFEST: &str = "manifest.json";
/// The database copy inside the archive.
pub const DB_ENTRY: &str = "data/mcpd.db";
/// The effective daemon configuration (JSON) inside the archive.
pub const CONFIG_ENTRY: &str = "config/mcpd.json";
/// Folder of the daemon's log files (`log.file`) in archives made with `include_logs`;
/// listed in the manifest like every file, never restored.
pub const DAEMON_LOGS_DIR: &str = "logs/daemon/";
/// The vault master key, present only in encrypted archives that asked for it.
pub const MASTER_KEY_ENTRY: &str = "keys/master.key";

const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";
const AGE_ARMOR_MAGIC: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// One file in the archive, as listed by the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub size_bytes: u64,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// What a backup holds, recorded in the archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Included {
    /// The database (users, services, MCP servers, configuration entries, sealed secrets).
    pub data: bool,
    /// The effective daemon configuration.
    pub config: bool,
    /// Logs: the request logs kept in the database (`false`: the copy's request log is
    /// emptied) and the daemon's log files, if any (under [`DAEMON_LOGS_DIR`]).
    pub logs: bool,
    /// The vault master key (only ever inside an encrypted archive).
    pub master_key: bool,
    /// Services whose volumes were archived.
    pub services: Vec<String>,
}

/// `manifest.json`: the first entry of every archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    pub backup_id: String,
    /// `full` or `incremental`.
    pub r#type: String,
    pub created_at: String,
    pub mcpd_version: String,
    /// SQLite `user_version` of the database copy (the migration count).
    pub schema_version: i64,
    /// Id of the master key the database's sealed values belong to.
    pub vault_key_id: String,
    pub included: Included,
    pub files: Vec<FileEntry>,
    /// Service volumes, each a tar file among `files`.
    #[serde(default)]
    pub volumes: Vec<VolumeEntry>,
    /// For an incremental backup: the backup whose volumes it builds on.
    #[serde(default)]
    pub base_backup_id: Option<String>,
}

/// One service volume in an archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeEntry {
    /// Service name at backup time.
    pub service: String,
    /// Named Docker volume or absolute host path (bind mount), as in the service spec.
    pub source: String,
    /// Mount point in the container.
    pub target: String,
    /// `volume` or `bind`.
    pub kind: String,
    /// The tar file in the archive holding the volume's contents (incremental: only
    /// files changed since the base, plus every directory).
    pub entry: String,
    /// Incremental only: a file in the archive listing every path present (one per
    /// line), so a restore removes what was deleted since the base.
    #[serde(default)]
    pub listing: Option<String>,
}

/// How an archive is encrypted.
pub enum Seal {
    None,
    Passphrase(SecretString),
    Recipient(Box<age::x25519::Recipient>),
}

impl Seal {
    /// Parses an age X25519 recipient (`age1…`); 400 naming `field` when malformed.
    pub fn recipient(field: &str, s: &str) -> Result<Seal> {
        age::x25519::Recipient::from_str(s.trim())
            .map(|r| Seal::Recipient(Box::new(r)))
            .map_err(|_| Error::field(field, "must be an age X25519 recipient (age1…)"))
    }
}

/// What can open an encrypted archive.
#[derive(Clone, Default)]
pub struct Unseal {
    pub passphrase: Option<SecretString>,
    /// age X25519 identity (`AGE-SECRET-KEY-1…`).
    pub identity: Option<SecretString>,
}

/// Hashes (SHA-256) and counts everything written through it; with a cancel flag, a
/// write after the flag is set fails (`Interrupted`).
pub(crate) struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
    cancel: Option<Arc<AtomicBool>>,
}

impl<W: Write> Hashing<W> {
    pub(crate) fn new(inner: W, cancel: Option<Arc<AtomicBool>>) -> Self {
        Self {
            inner,
            hash: Sha256::new(),
            bytes: 0,
            cancel,
        }
    }

    /// The writer, and the SHA-256 (hex) and size of what went through it.
    pub(crate) fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hash.finalize()), self.bytes)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

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

/// SHA-256 and size of a file.
pub fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let n = io::copy(&mut f, &mut h)?;
    Ok((hex::encode(h.finalize()), n))
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
        .map_err(|e| io_err("creating the archive", e))?;
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
                .map_err(|e| io_err("starting encryption", e))?;
            compressed_tar(w, compress, manifest, files)?
                .finish()
                .map_err(|e| io_err("finishing encryption", e))?;
        }
        Seal::Recipient(r) => {
            let w = age::Encryptor::with_recipients(std::iter::once(r.as_ref() as _))
                .internal("age")?
                .wrap_output(&mut hashing)
                .map_err(|e| io_err("starting encryption", e))?;
            compressed_tar(w, compress, manifest, files)?
                .finish()
                .map_err(|e| io_err("finishing encryption", e))?;
        }
    }
    hashing
        .flush()
        .map_err(|e| io_err("writing the archive", e))?;
    let (inner, sha256, bytes) = hashing.finish();
    let file = inner
        .into_inner()
        .map_err(|e| io_err("writing the archive", e.into_error()))?
        .file;
    file.sync_all()
        .map_err(|e| io_err("syncing the archive", e))?;
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
        let enc = zstd::Encoder::new(w, 3).map_err(|e| io_err("starting zstd", e))?;
        write_tar(enc, manifest, files)?
            .finish()
            .map_err(|e| io_err("finishing zstd", e))
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
        .map_err(|e| io_err("writing the archive", e))?;
    for (name, path) in files {
        let mut f = File::open(path).map_err(|e| io_err("reading a staged file", e))?;
        tar.append_file(name, &mut f)
            .map_err(|e| io_err("writing the archive", e))?;
    }
    tar.into_inner()
        .map_err(|e| io_err("writing the archive", e))?
        .into_inner()
        .map_err(|e| io_err("writing the archive", e.into_error()))
}

/// An internal error keeping `e` as its typed cause (so a full disk is recognised,
/// see [`super::is_out_of_space`]).
fn io_err<E: std::error::Error + Send + Sync + 'static>(what: &str, e: E) -> Error {
    Error::internal(anyhow::Error::new(e).context(what.to_string()))
}

/// `io::copy` in 1 MiB pieces (its generic path uses 8 KiB, which costs a decoder call
/// and a hash update per 8 KiB).
fn copy_large(r: &mut impl Read, w: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// The archive is unreadable: wrong key, corruption, truncation.
pub fn invalid(msg: impl Into<String>) -> Error {
    Error::new(
        crate::error::ErrorCode::PreconditionFailed,
        format!("archive cannot be used: {}", msg.into()),
    )
}

/// Whether the file starts like an age file (binary or armoured).
pub fn is_encrypted(path: &Path) -> Result<bool> {
    let mut head = [0u8; 40];
    let mut f = File::open(path).map_err(|e| io_err("opening the archive", e))?;
    let n = read_up_to(&mut f, &mut head).map_err(|e| io_err("reading the archive", e))?;
    Ok(head[..n].starts_with(AGE_MAGIC) || head[..n].starts_with(AGE_ARMOR_MAGIC))
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// SHA-256 and byte count of everything read from a file, shared with the caller
/// while the reader is owned by the layers above it.
type Tap = Arc<std::sync::Mutex<(Sha256, u64)>>;

/// Hashes every byte read through it into the tap.
struct Tapped {
    file: File,
    tap: Tap,
}

impl Read for Tapped {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        let mut t = self.tap.lock().unwrap_or_else(|e| e.into_inner());
        t.0.update(&buf[..n]);
        t.1 += n as u64;
        Ok(n)
    }
}

/// Opens the plain tar stream of an archive, peeling age and zstd as found.
pub fn open(path: &Path, unseal: &Unseal) -> Result<Box<dyn Read + Send>> {
    open_tapped(path, unseal, None)
}

fn open_tapped(path: &Path, unseal: &Unseal, tap: Option<Tap>) -> Result<Box<dyn Read + Send>> {
    let file = File::open(path).map_err(|e| io_err("opening the archive", e))?;
    let raw: Box<dyn Read + Send> = match tap {
        Some(tap) => Box::new(Tapped { file, tap }),
        None => Box::new(file),
    };
    let mut r: Box<dyn io::BufRead + Send> = Box::new(BufReader::with_capacity(1 << 20, raw));
    if starts_with(&mut r, AGE_MAGIC)? || starts_with(&mut r, AGE_ARMOR_MAGIC)? {
        let armored = age::armor::ArmoredReader::new(r);
        let d = age::Decryptor::new_buffered(BufReader::new(armored))
            .map_err(|e| invalid(format!("age header: {e}")))?;
        let plain = if d.is_scrypt() {
            let p = unseal.passphrase.clone().ok_or_else(|| {
                Error::new(
                    crate::error::ErrorCode::PreconditionFailed,
                    "the archive is encrypted with a passphrase; give `passphrase` (or configure backups.passphrase_file)",
                )
            })?;
            let id = age::scrypt::Identity::new(p);
            d.decrypt(std::iter::once(&id as _))
        } else {
            let raw = unseal.identity.clone().ok_or_else(|| {
                Error::new(
                    crate::error::ErrorCode::PreconditionFailed,
                    "the archive is encrypted to an X25519 recipient; give `identity` (or configure backups.identity_file)",
                )
            })?;
            use age::secrecy::ExposeSecret;
            let id = age::x25519::Identity::from_str(raw.expose_secret().trim())
                .map_err(|_| Error::field("identity", "must be an age identity (AGE-SECRET-KEY-1…)"))?;
            d.decrypt(std::iter::once(&id as _))
        }
        .map_err(|e| invalid(format!("cannot decrypt: {e}")))?;
        r = Box::new(BufReader::with_capacity(1 << 20, plain));
    }
    if starts_with(&mut r, &ZSTD_MAGIC)? {
        let z = zstd::Decoder::with_buffer(r).map_err(|e| invalid(format!("zstd: {e}")))?;
        return Ok(Box::new(z));
    }
    Ok(Box::new(r))
}

fn starts_with(r: &mut Box<dyn io::BufRead + Send>, magic: &[u8]) -> Result<bool> {
    let buf = r.fill_buf().map_err(|e| invalid(format!("reading: {e}")))?;
    Ok(buf.starts_with(magic))
}

/// Reads the whole archive, checking every file against the manifest (size and SHA-256)
/// and that nothing is missing or extra. With `extract_to`, files are written there
/// (paths come only from the manifest, never from the tar, so nothing escapes the
/// directory). Returns the manifest.
pub fn verify(path: &Path, unseal: &Unseal, extract_to: Option<&Path>) -> Result<Manifest> {
    verify_stream(open(path, unseal)?, extract_to).map(|(m, _)| m)
}

/// [`verify`], also returning the SHA-256 (hex) and size of the archive file itself,
/// computed in the same read (so a freshly written archive is read back once, not twice).
pub fn verify_with_digest(path: &Path, unseal: &Unseal) -> Result<(Manifest, String, u64)> {
    let tap: Tap = Default::default();
    let (manifest, mut rest) = verify_stream(open_tapped(path, unseal, Some(tap.clone()))?, None)?;
    // Read what the layers above have not asked for (tar's end blocks, the zstd and age
    // trailers); an error here would mean trailing damage, which the digest then shows.
    let _ = io::copy(&mut rest, &mut io::sink());
    drop(rest);
    let (mut hash, mut n) = std::mem::take(&mut *tap.lock().unwrap_or_else(|e| e.into_inner()));
    // Any bytes past what the decoders read (trailing garbage) are hashed too.
    let mut f = File::open(path).map_err(|e| io_err("reading the archive", e))?;
    io::Seek::seek(&mut f, io::SeekFrom::Start(n)).map_err(|e| io_err("reading the archive", e))?;
    n += io::copy(&mut f, &mut hash).map_err(|e| io_err("reading the archive", e))?;
    Ok((manifest, hex::encode(hash.finalize()), n))
}

/// Checks a plain tar stream against its manifest; returns the manifest and the stream
/// (positioned after the last file).
fn verify_stream<R: Read>(stream: R, extract_to: Option<&Path>) -> Result<(Manifest, R)> {
    let mut tar = tar::Archive::new(stream);
    let mut entries = tar.entries().map_err(|e| invalid(format!("tar: {e}")))?;
    let mut first = entries
        .next()
        .ok_or_else(|| invalid("empty archive"))?
        .map_err(|e| invalid(format!("tar: {e}")))?;
    if first
        .path()
        .map(|p| p.to_string_lossy() != MANIFEST)
        .unwrap_or(true)
    {
        return Err(invalid("the first entry is not manifest.json"));
    }
    let mut raw = Vec::new();
    first
        .by_ref()
        .take(16 << 20)
        .read_to_end(&mut raw)
        .map_err(|e| invalid(format!("manifest: {e}")))?;
    drop(first);
    let manifest: Manifest =
        serde_json::from_slice(&raw).map_err(|e| invalid(format!("manifest.json: {e}")))?;
    if manifest.format != FORMAT {
        return Err(invalid(format!("unknown format {:?}", manifest.format)));
    }
    let mut seen = std::collections::HashSet::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| invalid(format!("tar: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| invalid(format!("tar path: {e}")))?
            .to_string_lossy()
            .into_owned();
        let want = manifest
            .files
            .iter()
            .find(|f| f.path == name)
            .ok_or_else(|| invalid(format!("{name} is not in the manifest")))?;
        if !seen.insert(name.clone()) {
            return Err(invalid(format!("{name} appears twice")));
        }
        let mut sink: Box<dyn Write> = match extract_to {
            Some(dir) => {
                let dest = dir.join(&want.path);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io_err("staging", e))?;
                }
                use std::os::unix::fs::OpenOptionsExt;
                let f = File::options()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&dest)
                    .map_err(|e| io_err("staging", e))?;
                Box::new(BufWriter::new(f))
            }
            None => Box::new(io::sink()),
        };
        let mut h = Hashing::new(&mut sink, None);
        copy_large(&mut entry, &mut h).map_err(|e| invalid(format!("{name}: {e}")))?;
        let (_, hash, bytes) = h.finish();
        sink.flush().map_err(|e| io_err("staging", e))?;
        if bytes != want.size_bytes || hash != want.sha256 {
            return Err(invalid(format!("{name} does not match its checksum")));
        }
    }
    if let Some(missing) = manifest.files.iter().find(|f| !seen.contains(&f.path)) {
        return Err(invalid(format!("{} is missing", missing.path)));
    }
    Ok((manifest, tar.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
