//! The files provider's file operations, all through [`confined::Dir`]: the io-error
//! mapping, free space, persistent ids, listings, and recursive delete, size and copy.
//!
//! Every path the provider touches is resolved beneath the descriptor of its storage's
//! root (or of a folder opened beneath it) without following a symbolic link at any
//! component and without entering another mounted file system. A check and the use that
//! follows it therefore see the same folder: a local user who swaps a folder for a link
//! between the two (`mtp/src/providers/files/tests/races.rs`) makes the operation fail,
//! never reach outside the root. Files are opened with `O_NOFOLLOW` and only if regular;
//! listings show only regular files and folders (symlinks, devices, sockets and FIFOs are
//! not objects).

use std::ffi::{OsStr, OsString};
use std::io::{self, ErrorKind};
use std::path::Path;

use confined::{Dir, Kind, Meta};

use crate::codec::ResponseCode;

use super::names;

/// Maps a failed file operation on `path` to a response code, logging unexpected ones.
pub(super) fn map_io(err: &io::Error, path: &Path) -> ResponseCode {
    match err.kind() {
        ErrorKind::NotFound => ResponseCode::InvalidObjectHandle,
        ErrorKind::PermissionDenied => ResponseCode::AccessDenied,
        ErrorKind::ReadOnlyFilesystem => ResponseCode::StoreReadOnly,
        // The confined layer refused a symbolic link or a mount point on the way.
        ErrorKind::InvalidInput => {
            tracing::warn!(path = %path.display(), error = %err, "refused");
            ResponseCode::AccessDenied
        }
        _ if is_full(err) => ResponseCode::StoreFull,
        _ => {
            tracing::error!(path = %path.display(), error = %err, "file operation failed");
            ResponseCode::GeneralError
        }
    }
}

/// Returns true if `err` means that the object is not there, or not reachable without
/// following a link or entering another file system: for the host, it is gone.
pub(super) fn is_gone(err: &io::Error) -> bool {
    matches!(err.kind(), ErrorKind::NotFound | ErrorKind::InvalidInput)
        || err.raw_os_error() == Some(libc::ENOTDIR)
}

/// Returns true if `err` means the file system (or the quota) is full.
pub(super) fn is_full(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded
    ) || matches!(err.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// Total and available bytes of the file system holding a storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Space {
    /// Capacity in bytes.
    pub(super) total: u64,
    /// Bytes available to this process.
    pub(super) free: u64,
}

/// Returns the space of the file system holding `root` (`fstatvfs` on its descriptor).
pub(super) fn space(root: &Dir) -> io::Result<Space> {
    let st = rustix::fs::fstatvfs(root)?;
    Ok(Space {
        total: st.f_blocks.saturating_mul(st.f_frsize),
        free: st.f_bavail.saturating_mul(st.f_frsize),
    })
}

/// Returns the PersistentUniqueObjectIdentifier of an object: storage id, device and
/// inode, so it survives restarts and renames.
pub(super) fn puid(storage: u32, meta: &Meta) -> u128 {
    let (dev, ino) = meta.dev_ino;
    (u128::from(storage) << 96) | (u128::from(dev as u32) << 64) | u128::from(ino)
}

/// Returns the metadata of the regular file or folder `rel` beneath `root`; anything else
/// (a link, a FIFO, a device) counts as absent.
pub(super) fn object_meta(root: &Dir, rel: &Path) -> io::Result<Meta> {
    match root.stat(rel)? {
        Some(meta) if meta.is_file() || meta.is_dir() => Ok(meta),
        _ => Err(io::Error::new(ErrorKind::NotFound, "not a file or folder")),
    }
}

/// Returns true if anything (even a link) is at `rel` beneath `dir`, or if that cannot
/// be told (a link on the way).
pub(super) fn exists(dir: &Dir, rel: impl AsRef<OsStr>) -> bool {
    !matches!(dir.stat(rel), Ok(None))
}

/// The modes new files and folders are created with (before the umask).
#[derive(Debug, Clone, Copy)]
pub(super) struct Modes {
    /// Regular files.
    pub file: u32,
    /// Folders.
    pub dir: u32,
}

/// Lists a folder: (name, is folder) of its regular files and folders, without the
/// provider's temporary files.
///
/// With `sweep`, temporary upload files left by an earlier run (`names::is_stale_temp`
/// against that token) are removed on the way: the host cannot see or delete them, so
/// without this the space an interrupted upload took would be lost for good.
pub(super) fn list(dir: &Dir, sweep: Option<u64>) -> io::Result<Vec<(OsString, bool)>> {
    let mut out = Vec::new();
    for (name, kind) in dir.list()? {
        if names::is_temp(&name) {
            if sweep.is_some_and(|t| kind == Kind::File && names::is_stale_temp(&name, t)) {
                let stale = dir.display(&name);
                match dir.remove_file(&name) {
                    Ok(()) => {
                        tracing::info!(path = %stale.display(), "removed an interrupted upload")
                    }
                    Err(e) => {
                        tracing::warn!(path = %stale.display(), error = %e, "interrupted upload not removed")
                    }
                }
            }
            continue;
        }
        if matches!(kind, Kind::File | Kind::Dir) {
            out.push((name, kind == Kind::Dir));
        }
    }
    Ok(out)
}

/// Flushes a folder's entries (after a rename into it); failures are only logged.
pub(super) fn sync_dir(dir: &Dir) {
    if let Err(e) = dir.sync() {
        tracing::warn!(path = %dir.path().display(), error = %e, "folder sync failed");
    }
}

/// Outcome of a recursive delete.
#[derive(Debug, Default)]
pub(super) struct Removal {
    /// Entries removed.
    pub(super) removed: usize,
    /// The first failure.
    pub(super) error: Option<io::Error>,
}

/// Deletes `rel` beneath `dir` and, for a folder, everything in it, through descriptors
/// (symlinks inside are removed, never followed); continues past failures.
pub(super) fn remove_tree(dir: &Dir, rel: &Path, out: &mut Removal) {
    let result = match dir.stat(rel) {
        Ok(Some(m)) if m.is_dir() => {
            match dir.open_dir(rel) {
                Ok(sub) => remove_children(&sub, out),
                Err(e) => {
                    out.error.get_or_insert(e);
                }
            }
            dir.remove_dir(rel)
        }
        Ok(Some(_)) => dir.remove_file(rel),
        Ok(None) => Err(io::Error::from(ErrorKind::NotFound)),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => out.removed += 1,
        Err(e) => {
            tracing::warn!(path = %dir.display(rel).display(), error = %e, "delete failed");
            out.error.get_or_insert(e);
        }
    }
}

fn remove_children(dir: &Dir, out: &mut Removal) {
    match dir.list() {
        Ok(entries) => {
            for (name, _) in entries {
                remove_tree(dir, Path::new(&name), out);
            }
        }
        Err(e) => {
            out.error.get_or_insert(e);
        }
    }
}

/// Returns the bytes of regular files at `rel` beneath `dir` and below (links not
/// followed).
pub(super) fn tree_size(dir: &Dir, rel: &Path) -> io::Result<u64> {
    let Some(meta) = dir.stat(rel)? else {
        return Err(io::Error::from(ErrorKind::NotFound));
    };
    if !meta.is_dir() {
        return Ok(if meta.is_file() { meta.size } else { 0 });
    }
    let sub = dir.open_dir(rel)?;
    let mut sum = 0u64;
    for (name, _) in sub.list()? {
        sum = sum.saturating_add(tree_size(&sub, Path::new(&name))?);
    }
    Ok(sum)
}

/// Copies `rel` beneath `from` to the new name `name` in `to` (folders recursively;
/// symlinks, special files and temporary files are skipped). Each file is written to a
/// temporary name and renamed, so no partial file appears; on failure the caller removes
/// `name`.
pub(super) fn copy_tree(
    from: &Dir,
    rel: &Path,
    to: &Dir,
    name: &OsStr,
    modes: Modes,
    temp: &mut impl FnMut() -> OsString,
) -> io::Result<()> {
    let Some(meta) = from.stat(rel)? else {
        return Err(io::Error::from(ErrorKind::NotFound));
    };
    if meta.is_file() {
        return copy_file(from, rel, &meta, to, name, modes, temp);
    }
    if !meta.is_dir() {
        return Ok(());
    }
    to.create_dir(name, modes.dir)?;
    let (src, dst) = (from.open_dir(rel)?, to.open_dir(name)?);
    for (child, _) in list(&src, None)? {
        copy_tree(&src, Path::new(&child), &dst, &child, modes, temp)?;
    }
    Ok(())
}

fn copy_file(
    from: &Dir,
    rel: &Path,
    meta: &Meta,
    to: &Dir,
    name: &OsStr,
    modes: Modes,
    temp: &mut impl FnMut() -> OsString,
) -> io::Result<()> {
    let tmp = temp();
    let result = (|| {
        let (mut src, _) = from.open_file(rel)?;
        let mut dst = to.create_new(&tmp, modes.file)?;
        io::copy(&mut src, &mut dst)?;
        dst.set_modified(mtime(meta))?;
        dst.sync_all()?;
        to.rename_noreplace(&tmp, to, name)
    })();
    if result.is_err() {
        let _ = to.remove_file(&tmp);
    }
    result
}

/// Returns the modification time of `meta` as seconds since the epoch.
pub(super) fn mtime_secs(meta: &Meta) -> i64 {
    meta.mtime_ns.div_euclid(1_000_000_000)
}

/// Returns the modification time of `meta` as a time.
fn mtime(meta: &Meta) -> std::time::SystemTime {
    use std::time::{Duration, UNIX_EPOCH};
    let (secs, nanos) = (
        meta.mtime_ns.div_euclid(1_000_000_000),
        meta.mtime_ns.rem_euclid(1_000_000_000) as u32,
    );
    match u64::try_from(secs) {
        Ok(s) => UNIX_EPOCH + Duration::new(s, nanos),
        Err(_) => UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + Duration::new(0, nanos),
    }
}
