//! Reading an archive back (blocking code only): opening its layers (age, zstd, tar,
//! each recognised by its magic bytes), checking every file against the manifest and
//! optionally extracting them ([`verify`]), and the read-back of a freshly written
//! archive before it is called one ([`written`]).

use super::format::{FORMAT, Hashing, MANIFEST, Manifest, Seal, Unseal, hash_file};
use crate::error::{Error, Internal, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";
const AGE_ARMOR_MAGIC: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

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
    let mut f = File::open(path).internal("opening the archive")?;
    let n = read_up_to(&mut f, &mut head).internal("reading the archive")?;
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
    let file = File::open(path).internal("opening the archive")?;
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
    let mut f = File::open(path).internal("reading the archive")?;
    io::Seek::seek(&mut f, io::SeekFrom::Start(n)).internal("reading the archive")?;
    n += io::copy(&mut f, &mut hash).internal("reading the archive")?;
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
                    std::fs::create_dir_all(parent).internal("staging")?;
                }
                use std::os::unix::fs::OpenOptionsExt;
                let f = File::options()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&dest)
                    .internal("staging")?;
                Box::new(BufWriter::new(f))
            }
            None => Box::new(io::sink()),
        };
        let mut h = Hashing::new(&mut sink, None);
        copy_large(&mut entry, &mut h).map_err(|e| invalid(format!("{name}: {e}")))?;
        let (_, hash, bytes) = h.finish();
        sink.flush().internal("staging")?;
        if bytes != want.size_bytes || hash != want.sha256 {
            return Err(invalid(format!("{name} does not match its checksum")));
        }
    }
    if let Some(missing) = manifest.files.iter().find(|f| !seen.contains(&f.path)) {
        return Err(invalid(format!("{} is missing", missing.path)));
    }
    Ok((manifest, tar.into_inner()))
}

/// Verifies what is on disk at `partial` before calling it an archive: the bytes hash to
/// what was written (`sha256`, `size_bytes`), and (when this process can open it, that
/// is unless it is sealed to a recipient) every file matches `manifest`, both in one
/// read of the file.
pub fn written(
    partial: &Path,
    seal: &Seal,
    manifest: &Manifest,
    sha256: &str,
    size_bytes: u64,
) -> Result<()> {
    let unseal = match seal {
        Seal::None => Some(Unseal::default()),
        Seal::Passphrase(p) => Some(Unseal {
            passphrase: Some(p.clone()),
            identity: None,
        }),
        // Only the recipient's owner can open it; the checksum check stands alone.
        Seal::Recipient(_) => None,
    };
    let (disk_sha, disk_len) = match unseal {
        Some(u) => {
            let (m, sha, len) = verify_with_digest(partial, &u)?;
            if m != *manifest {
                return Err(Error::internal(anyhow::anyhow!(
                    "the archive's manifest does not read back"
                )));
            }
            (sha, len)
        }
        None => hash_file(partial).internal("re-reading the archive")?,
    };
    if disk_sha != sha256 || disk_len != size_bytes {
        return Err(Error::internal(anyhow::anyhow!(
            "the archive on disk differs from what was written"
        )));
    }
    Ok(())
}
