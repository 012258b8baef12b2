//! File-system helpers: the io-error mapping, symlink-safe path resolution, free space,
//! persistent ids, and recursive delete and copy.
//!
//! Symlinks are never followed below a storage root: every component of a resolved path
//! must be a real folder, files are opened with `O_NOFOLLOW`, and listings show only
//! regular files and folders (symlinks, devices, sockets and FIFOs are not objects).

use std::ffi::OsString;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::codec::ResponseCode;

use super::names;

/// Maps a failed file operation on `path` to a response code, logging unexpected ones.
pub(super) fn map_io(err: &io::Error, path: &Path) -> ResponseCode {
    match err.kind() {
        ErrorKind::NotFound => ResponseCode::InvalidObjectHandle,
        ErrorKind::PermissionDenied => ResponseCode::AccessDenied,
        ErrorKind::ReadOnlyFilesystem => ResponseCode::StoreReadOnly,
        _ if is_full(err) => ResponseCode::StoreFull,
        _ => {
            tracing::error!(path = %path.display(), error = %err, "file operation failed");
            ResponseCode::GeneralError
        }
    }
}

/// Returns true if `err` means the file system (or the quota) is full.
pub(super) fn is_full(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded
    ) || matches!(err.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// Total and available bytes of the file system holding `path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Space {
    /// Capacity in bytes.
    pub(super) total: u64,
    /// Bytes available to this process.
    pub(super) free: u64,
}

/// Returns the space of the file system holding `path` (statvfs).
pub(super) fn space(path: &Path) -> io::Result<Space> {
    let st = rustix::fs::statvfs(path)?;
    Ok(Space {
        total: st.f_blocks.saturating_mul(st.f_frsize),
        free: st.f_bavail.saturating_mul(st.f_frsize),
    })
}

/// Returns the PersistentUniqueObjectIdentifier of an object: storage id, device and
/// inode, so it survives restarts and renames.
pub(super) fn puid(storage: u32, meta: &Metadata) -> u128 {
    (u128::from(storage) << 96) | (u128::from(meta.dev() as u32) << 64) | u128::from(meta.ino())
}

/// Returns `root` joined with `rel` after checking that every component below the root
/// is a real folder (not a symlink, not a file).
pub(super) fn resolve_dir(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let mut path = root.to_path_buf();
    for part in rel.components() {
        path.push(part);
        if !fs::symlink_metadata(&path)?.is_dir() {
            return Err(io::Error::new(ErrorKind::NotFound, "not a real folder"));
        }
    }
    Ok(path)
}

/// Returns the metadata of a regular file or folder at `path` (symlinks count as absent).
pub(super) fn object_meta(path: &Path) -> io::Result<Metadata> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_file() || meta.is_dir() {
        Ok(meta)
    } else {
        Err(io::Error::new(ErrorKind::NotFound, "not a file or folder"))
    }
}

/// Returns true if anything (even a dangling symlink) exists at `path`.
pub(super) fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Opens a regular file for reading without following a symlink.
pub(super) fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Opens an existing regular file for writing in place without following a symlink.
pub(super) fn open_write(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// The modes new files and folders are created with (before the umask).
#[derive(Debug, Clone, Copy)]
pub(super) struct Modes {
    /// Regular files.
    pub file: u32,
    /// Folders.
    pub dir: u32,
}

/// Creates a new file (never replacing anything, never through a symlink).
pub(super) fn create_new(path: &Path, modes: Modes) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(modes.file)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Creates a new folder.
pub(super) fn create_dir(path: &Path, modes: Modes) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().mode(modes.dir).create(path)
}

/// Lists a folder: (name, is folder) of its regular files and folders, without the
/// provider's temporary files.
///
/// With `sweep`, temporary upload files left by an earlier run (`names::is_stale_temp`
/// against that token) are removed on the way: the host cannot see or delete them, so
/// without this the space an interrupted upload took would be lost for good.
pub(super) fn list(path: &Path, sweep: Option<u64>) -> io::Result<Vec<(OsString, bool)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let name = entry.file_name();
        if names::is_temp(&name) {
            if sweep.is_some_and(|t| ty.is_file() && names::is_stale_temp(&name, t)) {
                let stale = path.join(&name);
                match fs::remove_file(&stale) {
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
        if ty.is_file() || ty.is_dir() {
            out.push((name, ty.is_dir()));
        }
    }
    Ok(out)
}

/// Renames `from` to `to`, failing with `AlreadyExists` instead of replacing anything.
pub(super) fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            if exists(to) {
                return Err(io::Error::from(ErrorKind::AlreadyExists));
            }
            fs::rename(from, to)
        }
        Err(e) => Err(e.into()),
    }
}

/// Flushes a folder's entries (after a rename into it); failures are only logged.
pub(super) fn sync_dir(path: &Path) {
    if let Err(e) = File::open(path).and_then(|d| d.sync_all()) {
        tracing::warn!(path = %path.display(), error = %e, "folder sync failed");
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

/// Deletes `path` and, for a folder, everything in it (symlinks inside are removed, never
/// followed); continues past failures.
pub(super) fn remove_tree(path: &Path, out: &mut Removal) {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            remove_children(path, out);
            fs::remove_dir(path)
        }
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => out.removed += 1,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "delete failed");
            out.error.get_or_insert(e);
        }
    }
}

fn remove_children(path: &Path, out: &mut Removal) {
    match fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries {
                match entry {
                    Ok(e) => remove_tree(&e.path(), out),
                    Err(e) => {
                        out.error.get_or_insert(e);
                    }
                }
            }
        }
        Err(e) => {
            out.error.get_or_insert(e);
        }
    }
}

/// Returns the bytes of regular files in `path` and below (symlinks not followed).
pub(super) fn tree_size(path: &Path) -> io::Result<u64> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(if meta.is_file() { meta.len() } else { 0 });
    }
    let mut sum = 0u64;
    for entry in fs::read_dir(path)? {
        sum = sum.saturating_add(tree_size(&entry?.path())?);
    }
    Ok(sum)
}

/// Copies `from` to the new name `to` (folders recursively; symlinks, special files and
/// temporary files are skipped). Each file is written to a temporary name and renamed, so
/// no partial file appears; on failure the caller removes `to`.
pub(super) fn copy_tree(
    from: &Path,
    to: &Path,
    modes: Modes,
    temp: &mut impl FnMut() -> OsString,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if meta.is_file() {
        return copy_file(from, to, &meta, modes, temp);
    }
    if !meta.is_dir() {
        return Ok(());
    }
    create_dir(to, modes)?;
    for (name, _) in list(from, None)? {
        copy_tree(&from.join(&name), &to.join(&name), modes, temp)?;
    }
    Ok(())
}

fn copy_file(
    from: &Path,
    to: &Path,
    meta: &Metadata,
    modes: Modes,
    temp: &mut impl FnMut() -> OsString,
) -> io::Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(temp());
    let result = (|| {
        let mut src = open_read(from)?;
        let mut dst = create_new(&tmp, modes)?;
        io::copy(&mut src, &mut dst)?;
        if let Ok(t) = meta.modified() {
            dst.set_modified(t)?;
        }
        dst.sync_all()?;
        rename_noreplace(&tmp, to)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
