//! Service volumes in backups: a named Docker volume is read through its mountpoint on
//! this host (`docker volume inspect`), a bind mount through its host path; each becomes
//! one tar file inside the archive. Restoring replaces the directory's contents, keeping
//! the old contents beside it until the whole restore has succeeded.

use super::archive::VolumeEntry;
use crate::app::AppState;
use crate::error::{Error, Internal, Result};
use std::path::{Path, PathBuf};

/// A volume of a service, found on this host.
#[derive(Debug, Clone)]
pub struct Located {
    /// The volume as it goes into the manifest.
    pub entry: VolumeEntry,
    /// Its directory on this host (the Docker volume's mountpoint, or the bind source).
    pub path: PathBuf,
    /// The owning service (`svc_…`).
    pub service_id: String,
    /// Ids of the service's containers that are running now.
    pub running: Vec<String>,
    /// The service is meant to run (started again after a restore).
    pub desired_running: bool,
}

/// Finds every volume of `services` (ids or names). `RESOURCE_NOT_FOUND` for an unknown
/// service; 400 (`services`) for one without volumes or a volume Docker has not created.
pub async fn locate(app: &AppState, services: &[String]) -> Result<Vec<Located>> {
    let mut out = Vec::new();
    for name in services {
        let svc = crate::services::lifecycle::get(app, name).await?;
        if svc.volumes.is_empty() {
            return Err(Error::field(
                "services",
                format!("service {} has no volumes", svc.name),
            ));
        }
        let running: Vec<String> = svc
            .containers
            .iter()
            .filter(|c| c.status == "running")
            .map(|c| c.id.clone())
            .collect();
        for (i, v) in svc.volumes.iter().enumerate() {
            let (kind, path) = if v.source.starts_with('/') {
                ("bind", PathBuf::from(&v.source))
            } else {
                let docker = app.docker.get().await?;
                let vol = docker
                    .inspect_volume(&crate::docker::path_segment(&v.source))
                    .await
                    .map_err(|e| match crate::docker::map_err(e) {
                        e if e.code == crate::error::ErrorCode::ResourceNotFound => {
                            Error::field(
                                "services",
                                format!(
                                    "volume {} of service {} does not exist yet (start the service once)",
                                    v.source, svc.name
                                ),
                            )
                        }
                        e => e,
                    })?;
                ("volume", PathBuf::from(vol.mountpoint))
            };
            if !path.is_dir() {
                return Err(Error::field(
                    "services",
                    format!(
                        "{} of service {} is not a readable directory on this host",
                        v.source, svc.name
                    ),
                ));
            }
            out.push(Located {
                entry: VolumeEntry {
                    service: svc.name.clone(),
                    source: v.source.clone(),
                    target: v.target.clone(),
                    kind: kind.into(),
                    entry: format!("volumes/{}/{i}.tar", svc.name),
                    listing: None,
                },
                path,
                service_id: svc.id.clone(),
                running: running.clone(),
                desired_running: svc.desired_state == "running",
            });
        }
    }
    Ok(out)
}

/// Pauses (or unpauses) containers; errors are logged, not fatal (a container may have
/// stopped meanwhile).
pub async fn set_paused(app: &AppState, ids: &[String], paused: bool) {
    let Ok(docker) = app.docker.get().await else {
        return;
    };
    for id in ids {
        let r = if paused {
            docker.pause_container(id).await
        } else {
            docker.unpause_container(id).await
        };
        if let Err(e) = r {
            tracing::warn!(container = %id, paused, "pausing for a backup: {e}");
        }
    }
}

/// Writes the contents of `dir` as a tar file (symlinks kept as links, never followed).
pub fn tar_dir(dir: &Path, dest: &Path) -> Result<(String, u64)> {
    const STAGING: &str = "staging a volume";
    let f = std::fs::File::create(dest).internal(STAGING)?;
    // Hashed while written, so the staged tar need not be read again for the manifest.
    // Buffer outside the hashing: `io::copy` into a `BufWriter` reads each file straight
    // into the 1 MiB buffer, and the hash and the file see 1 MiB writes.
    let mut b = tar::Builder::new(std::io::BufWriter::with_capacity(
        1 << 20,
        super::archive::Hashing::new(f, None),
    ));
    b.follow_symlinks(false);
    // Errors name both sides: reading the volume or writing the staged tar.
    b.append_dir_all(".", dir)
        .internal(format!("copying {} into a staged tar", dir.display()))?;
    let (_, sha256, bytes) = b
        .into_inner()
        .internal(STAGING)?
        .into_inner()
        .map_err(|e| e.into_error())
        .internal(STAGING)?
        .finish();
    Ok((sha256, bytes))
}

/// Every path under `dir` (relative, never following symlinks), parents before children.
fn walk(dir: &Path) -> Result<Vec<(PathBuf, std::fs::FileType, std::fs::Metadata)>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let rd =
            std::fs::read_dir(dir.join(&rel)).internal(format!("reading {}", dir.display()))?;
        for e in rd {
            let e = e.internal("reading")?;
            let r = rel.join(e.file_name());
            let meta = e.metadata().internal(format!("stat {}", r.display()))?;
            let t = meta.file_type();
            if t.is_dir() {
                stack.push(r.clone());
            }
            out.push((r, t, meta));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Incremental: writes to `dest_tar` every directory and every file or link of `dir`
/// modified after `since` (Unix seconds; 2 s of slack for coarse clocks), and to
/// `dest_list` every path present.
pub fn tar_changed(dir: &Path, dest_tar: &Path, dest_list: &Path, since: i64) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;
    const STAGING: &str = "staging a volume";
    let entries = walk(dir)?;
    let mut list = String::new();
    let f = std::fs::File::create(dest_tar).internal(STAGING)?;
    let mut b = tar::Builder::new(std::io::BufWriter::new(f));
    b.follow_symlinks(false);
    for (rel, t, meta) in &entries {
        let name = rel.to_string_lossy();
        if name.contains('\n') {
            return Err(Error::internal(anyhow::anyhow!(
                "a file name holds a newline"
            )));
        }
        list.push_str(&name);
        list.push('\n');
        if t.is_dir() {
            b.append_dir(rel, dir.join(rel)).internal(STAGING)?;
        } else if meta.mtime() >= since - 2 {
            b.append_path_with_name(dir.join(rel), rel)
                .internal(STAGING)?;
        }
    }
    b.into_inner()
        .and_then(|mut w| w.flush())
        .internal(STAGING)?;
    std::fs::write(dest_list, list).internal(STAGING)
}

/// Applies an incremental layer on top of `dir`: unpacks `tar` over it, then removes
/// every path not in `listing` (deepest first).
pub fn apply_increment(tar_file: &Path, listing: &Path, dir: &Path) -> Result<()> {
    const APPLYING: &str = "applying an increment";
    let f = std::fs::File::open(tar_file).internal(APPLYING)?;
    let mut a = tar::Archive::new(std::io::BufReader::new(f));
    a.set_preserve_permissions(true);
    a.set_overwrite(true);
    a.unpack(dir).internal(APPLYING)?;
    let keep: std::collections::HashSet<String> = std::fs::read_to_string(listing)
        .internal(APPLYING)?
        .lines()
        .map(str::to_string)
        .collect();
    let mut present = walk(dir)?;
    present.reverse();
    for (rel, t, _) in present {
        if !keep.contains(rel.to_string_lossy().as_ref()) {
            let p = dir.join(&rel);
            if t.is_dir() {
                std::fs::remove_dir_all(&p).internal(APPLYING)?;
            } else {
                std::fs::remove_file(&p).internal(APPLYING)?;
            }
        }
    }
    Ok(())
}

/// Total size of the regular files under `dir`, in bytes.
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

/// Moves the contents of `dir` into a new sibling directory (same file system, so
/// renames) and unpacks `tar` into the emptied `dir`. Returns the sibling holding the
/// old contents; on error the old contents are already back.
pub fn swap_in(tar_file: &Path, dir: &Path) -> Result<PathBuf> {
    let old = sibling(dir)?;
    std::fs::create_dir(&old).internal(format!("creating {}", old.display()))?;
    move_contents(dir, &old)?;
    let unpack = || -> Result<()> {
        let f = std::fs::File::open(tar_file).internal("opening a staged volume")?;
        let mut a = tar::Archive::new(std::io::BufReader::new(f));
        a.set_preserve_permissions(true);
        a.set_overwrite(true);
        // tar's unpack refuses entries that would land outside `dir`.
        a.unpack(dir)
            .internal(format!("unpacking into {}", dir.display()))
    };
    if let Err(e) = unpack() {
        roll_back(dir, &old);
        return Err(e);
    }
    Ok(old)
}

/// One layer of a volume restore: a staged tar, and for an increment its listing.
pub type Layer = (PathBuf, Option<PathBuf>);

/// Volumes whose contents were replaced by [`restore_layers`], the old contents kept
/// aside: [`Swapped::commit`] drops them, [`Swapped::roll_back`] puts them back.
#[must_use]
pub struct Swapped(Vec<(PathBuf, PathBuf)>);

impl Swapped {
    /// Keeps the restored contents; removes the old ones.
    pub fn commit(self) {
        for (_, old) in &self.0 {
            let _ = std::fs::remove_dir_all(old);
        }
    }

    /// Puts every volume's old contents back.
    pub fn roll_back(self) {
        for (dir, old) in &self.0 {
            roll_back(dir, old);
        }
    }
}

/// Replaces each directory's contents with its layers (the first unpacked into the
/// emptied directory, each increment applied on top). On error every directory done so
/// far is rolled back and nothing is changed.
pub fn restore_layers(pairs: &[(Vec<Layer>, PathBuf)]) -> Result<Swapped> {
    let mut done = Swapped(Vec::new());
    for (layers, dir) in pairs {
        let Some(((first, _), rest)) = layers.split_first() else {
            continue;
        };
        match swap_in(first, dir) {
            Ok(old) => done.0.push((dir.clone(), old)),
            Err(e) => {
                done.roll_back();
                return Err(e);
            }
        }
        for (tar, listing) in rest {
            let r = match listing {
                Some(l) => apply_increment(tar, l, dir),
                None => swap_in(tar, dir).map(|old| {
                    let _ = std::fs::remove_dir_all(old);
                }),
            };
            if let Err(e) = r {
                done.roll_back();
                return Err(e);
            }
        }
    }
    Ok(done)
}

/// Puts the old contents saved by [`swap_in`] back.
pub fn roll_back(dir: &Path, old: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let _ = if p.is_dir() && !p.is_symlink() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
    if let Err(e) = move_contents(old, dir) {
        tracing::error!(
            "restoring {} after a failed volume restore: {e:?}",
            dir.display()
        );
    } else {
        let _ = std::fs::remove_dir(old);
    }
}

fn sibling(dir: &Path) -> Result<PathBuf> {
    let name = dir
        .file_name()
        .internal("volume path has no name")?
        .to_string_lossy()
        .into_owned();
    Ok(dir.with_file_name(format!(
        ".{name}.mcpd-restore-{}",
        crate::ids::random_alnum(8)
    )))
}

fn move_contents(from: &Path, to: &Path) -> Result<()> {
    let rd = std::fs::read_dir(from).internal(format!("reading {}", from.display()))?;
    for e in rd.flatten() {
        std::fs::rename(e.path(), to.join(e.file_name()))
            .internal(format!("moving {}", e.path().display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_and_swap_round_trip_and_roll_back() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a.txt"), "A").unwrap();
        std::fs::write(src.join("sub/b.txt"), "B").unwrap();
        let tarf = t.path().join("v.tar");
        let (sha, len) = tar_dir(&src, &tarf).unwrap();
        assert_eq!(
            crate::backups::archive::hash_file(&tarf).unwrap(),
            (sha, len)
        );
        assert_eq!(dir_size(&src), 2);
        let live = t.path().join("live");
        std::fs::create_dir(&live).unwrap();
        std::fs::write(live.join("old.txt"), "old").unwrap();
        let old = swap_in(&tarf, &live).unwrap();
        assert_eq!(
            std::fs::read_to_string(live.join("sub/b.txt")).unwrap(),
            "B"
        );
        assert!(!live.join("old.txt").exists());
        roll_back(&live, &old);
        assert_eq!(
            std::fs::read_to_string(live.join("old.txt")).unwrap(),
            "old"
        );
        assert!(!live.join("a.txt").exists());
        // A damaged tar leaves the old contents in place.
        std::fs::write(&tarf, b"not a tar at all, definitely not").unwrap();
        assert!(swap_in(&tarf, &live).is_err());
        assert_eq!(
            std::fs::read_to_string(live.join("old.txt")).unwrap(),
            "old"
        );
    }

    #[test]
    fn increments_carry_changes_and_deletions() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("keep.txt"), "K").unwrap();
        std::fs::write(src.join("sub/gone.txt"), "G").unwrap();
        let full = t.path().join("full.tar");
        tar_dir(&src, &full).unwrap();
        // Later: one file deleted, one added (its mtime set past `since`).
        let since = crate::time::unix_now() + 5;
        std::fs::remove_file(src.join("sub/gone.txt")).unwrap();
        std::fs::write(src.join("new.txt"), "N").unwrap();
        let f = std::fs::File::options()
            .write(true)
            .open(src.join("new.txt"))
            .unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            .unwrap();
        let (inc, list) = (t.path().join("inc.tar"), t.path().join("inc.list"));
        tar_changed(&src, &inc, &list, since).unwrap();
        assert_eq!(
            std::fs::read_to_string(&list).unwrap(),
            "keep.txt\nnew.txt\nsub\n"
        );
        // keep.txt is older than `since`: not in the increment.
        let names: Vec<String> = tar::Archive::new(std::fs::File::open(&inc).unwrap())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().any(|n| n == "new.txt") && !names.iter().any(|n| n == "keep.txt"),
            "{names:?}"
        );
        let live = t.path().join("live");
        std::fs::create_dir(&live).unwrap();
        let old = swap_in(&full, &live).unwrap();
        apply_increment(&inc, &list, &live).unwrap();
        assert_eq!(std::fs::read_to_string(live.join("keep.txt")).unwrap(), "K");
        assert_eq!(std::fs::read_to_string(live.join("new.txt")).unwrap(), "N");
        assert!(!live.join("sub/gone.txt").exists() && live.join("sub").is_dir());
        let _ = std::fs::remove_dir_all(old);
    }
}
