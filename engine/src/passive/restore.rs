//! I/O shell: restores passive streams into a staging copy of a cage and commits it
//! atomically.
//!
//! The staging directory `<drive>/private/.<sid>.staging` sits next to the cage on the
//! same file system. It starts as a copy of the cage (only the registration files when
//! `delete_before_restore` is set), receives the base and then every increment in order,
//! and replaces the cage with one `renameat2(RENAME_EXCHANGE)`: at any moment the cage
//! holds either the old or the new data, never a mix.

use std::fs::{File, FileTimes};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::archive::{ArchiveDecoder, ArchiveError, ArchiveEvent};
use super::select::is_selected;
use crate::registration::{CagePath, PassiveBackup};

/// Why a passive restore failed; the cage is then untouched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The passive stream is malformed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RestoreError + '_ {
    move |source| RestoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A passive restore in progress for one owner on one drive.
///
/// Call protocol: [`PassiveRestore::begin`], then for each unit (base first, then the
/// increments oldest first) [`PassiveRestore::feed`] with its raw bytes and
/// [`PassiveRestore::end_unit`]; finally [`PassiveRestore::commit`]. Dropping it without
/// commit leaves the cage untouched (the staging directory is removed on the next begin).
#[derive(Debug)]
pub struct PassiveRestore {
    cage: PathBuf,
    owner: Option<Owner>,
    staging: PathBuf,
    selection: PassiveBackup,
    decoder: ArchiveDecoder,
    current: Option<Current>,
    skipped: Vec<CagePath>,
}

/// The owner (and mode) of the cage, given to everything the restore creates.
#[derive(Debug, Clone, Copy)]
struct Owner {
    uid: u32,
    gid: u32,
    mode: u32,
}

impl Owner {
    /// Hands `path` (never followed if it is a symlink) to the owner, if it is not ours
    /// already (only root can give files away).
    fn apply(self, path: &Path) -> Result<(), RestoreError> {
        let meta = std::fs::symlink_metadata(path).map_err(io_err(path))?;
        if (meta.uid(), meta.gid()) != (self.uid, self.gid) {
            std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid))
                .map_err(io_err(path))?;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Current {
    path: PathBuf,
    file: Option<File>,
    mtime_ns: i64,
    mode: u32,
}

impl PassiveRestore {
    /// Prepares the staging copy of `cage`.
    ///
    /// # Errors
    /// [`RestoreError::Io`] if the staging directory cannot be prepared.
    pub fn begin(cage: &Path, selection: &PassiveBackup) -> Result<Self, RestoreError> {
        let staging = staging_path(cage);
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
        // Everything the restore creates belongs to the cage's owner, as the cage does.
        let owner = std::fs::symlink_metadata(cage)
            .ok()
            .filter(std::fs::Metadata::is_dir)
            .map(|m| Owner {
                uid: m.uid(),
                gid: m.gid(),
                mode: m.permissions().mode() & 0o7777,
            });
        if let Some(o) = owner {
            o.apply(&staging)?;
            std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(o.mode))
                .map_err(io_err(&staging))?;
            copy_tree(cage, &staging, !selection.delete_before_restore, true)?;
        }
        Ok(Self {
            cage: cage.to_owned(),
            owner,
            staging,
            selection: selection.clone(),
            decoder: ArchiveDecoder::new(),
            current: None,
            skipped: Vec::new(),
        })
    }

    /// Feeds raw passive-stream bytes of the current unit.
    ///
    /// # Errors
    /// [`RestoreError`] for a malformed stream or a write failure.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), RestoreError> {
        self.decoder.handle_input(data);
        while let Some(event) = self.decoder.poll_event()? {
            self.apply(event)?;
        }
        Ok(())
    }

    /// Ends the current unit (checks it was complete) and prepares for the next one.
    ///
    /// # Errors
    /// [`RestoreError::Archive`] if the unit was truncated.
    pub fn end_unit(&mut self) -> Result<(), RestoreError> {
        self.decoder.finish()?;
        self.decoder = ArchiveDecoder::new();
        Ok(())
    }

    /// Returns the paths the stream carried that the current registration does not
    /// select (their bytes were consumed and dropped).
    pub fn skipped(&self) -> &[CagePath] {
        &self.skipped
    }

    /// Replaces the cage with the staging directory atomically and removes the old data.
    ///
    /// # Errors
    /// [`RestoreError::Io`] if the exchange fails (the cage is then unchanged).
    pub fn commit(self) -> Result<(), RestoreError> {
        if self.cage.exists() {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                &self.staging,
                rustix::fs::CWD,
                &self.cage,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .map_err(|e| RestoreError::Io {
                path: self.cage.clone(),
                source: e.into(),
            })?;
            std::fs::remove_dir_all(&self.staging).map_err(io_err(&self.staging))?;
        } else {
            std::fs::rename(&self.staging, &self.cage).map_err(io_err(&self.cage))?;
        }
        Ok(())
    }

    fn apply(&mut self, event: ArchiveEvent) -> Result<(), RestoreError> {
        match event {
            ArchiveEvent::File {
                path,
                mtime_ns,
                mode,
                ..
            } => {
                let target = self.staging.join(path.as_str());
                let file = if is_selected(&path, &self.selection) {
                    Some(create_file(&self.staging, &target, self.owner)?)
                } else {
                    tracing::warn!(%path, "restore skips a file the registration does not select");
                    self.skipped.push(path);
                    None
                };
                self.current = Some(Current {
                    path: target,
                    file,
                    mtime_ns,
                    mode,
                });
            }
            ArchiveEvent::Data(bytes) => {
                if let Some(Current {
                    path,
                    file: Some(f),
                    ..
                }) = self.current.as_mut()
                {
                    f.write_all(&bytes).map_err(io_err(path))?;
                }
            }
            ArchiveEvent::FileEnd => {
                if let Some(Current {
                    path,
                    file: Some(f),
                    mtime_ns,
                    mode,
                }) = self.current.take()
                {
                    finish_file(&path, f, mtime_ns, mode)?;
                }
            }
            ArchiveEvent::Deleted(path) => {
                if is_selected(&path, &self.selection) {
                    let target = self.staging.join(path.as_str());
                    match std::fs::remove_file(&target) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(io_err(&target)(e));
                        }
                        _ => {}
                    }
                }
            }
            ArchiveEvent::End => {}
        }
        Ok(())
    }
}

/// Returns `<parent>/.<name>.staging` for a cage.
fn staging_path(cage: &Path) -> PathBuf {
    let name = cage.file_name().and_then(|n| n.to_str()).unwrap_or("cage");
    cage.with_file_name(format!(".{name}.staging"))
}

fn create_file(staging: &Path, target: &Path, owner: Option<Owner>) -> Result<File, RestoreError> {
    if let Some(parent) = target.parent() {
        // Remember which directories this creates, to hand them to the owner.
        let mut missing = Vec::new();
        let mut dir = parent;
        while dir.starts_with(staging) && dir != staging && !dir.exists() {
            missing.push(dir.to_owned());
            dir = dir.parent().unwrap_or(staging);
        }
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        if let Some(o) = owner {
            for d in &missing {
                o.apply(d)?;
            }
        }
    }
    // Never write through an existing symlink (copy_tree does not copy them, but be sure).
    if std::fs::symlink_metadata(target).is_ok_and(|m| !m.file_type().is_file()) {
        return Err(io_err(target)(std::io::Error::other(
            "target is not a regular file",
        )));
    }
    let file = File::create(target).map_err(io_err(target))?;
    if let Some(o) = owner {
        o.apply(target)?;
    }
    Ok(file)
}

fn finish_file(path: &Path, file: File, mtime_ns: i64, mode: u32) -> Result<(), RestoreError> {
    let time = if mtime_ns >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_nanos(mtime_ns.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_nanos(mtime_ns.unsigned_abs()))
    }
    .unwrap_or(UNIX_EPOCH);
    file.set_times(FileTimes::new().set_modified(time))
        .map_err(io_err(path))?;
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))
        .map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

/// Copies regular files and directories of `from` into `to` (symlinks are dropped).
/// With `everything` false only registration files at the top level are copied.
fn copy_tree(from: &Path, to: &Path, everything: bool, top: bool) -> Result<(), RestoreError> {
    for entry in std::fs::read_dir(from).map_err(io_err(from))?.flatten() {
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io_err(&src))?;
        let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
        let is_registration =
            top && name.starts_with("backup_registration") && name.ends_with(".xml");
        let keep = || {
            let meta = std::fs::symlink_metadata(&src).map_err(io_err(&src))?;
            let mode = meta.permissions().mode() & 0o7777;
            Owner {
                uid: meta.uid(),
                gid: meta.gid(),
                mode,
            }
            .apply(&dst)?;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode))
                .map_err(io_err(&dst))
        };
        if kind.is_dir() && everything {
            std::fs::create_dir_all(&dst).map_err(io_err(&dst))?;
            copy_tree(&src, &dst, everything, false)?;
            keep()?;
        } else if kind.is_file() && (everything || is_registration) {
            std::fs::copy(&src, &dst).map_err(io_err(&dst))?;
            keep()?;
        }
    }
    Ok(())
}
