//! I/O shell: restores passive streams into a staging copy of a cage and commits it
//! atomically.
//!
//! The staging directory `<drive>/private/.<sid>.staging` sits next to the cage on the
//! same file system. It is created by the engine, owned by root and mode 0700, so the
//! owner cannot reach into it while it is filled: nothing the owner does during the
//! restore can redirect the engine's writes. It starts as a copy of the cage (only the
//! registration files when `delete_before_restore` is set; read through the confined
//! layer, so a link in the cage is never followed), receives the base and then every
//! increment in order, and replaces the cage with one `renameat2(RENAME_EXCHANGE)`: at any
//! moment the cage holds either the old or the new data, never a mix. Only then is the
//! new cage given its owner and mode, through its descriptor, and the old one removed
//! through descriptors.
#![allow(
    clippy::disallowed_methods,
    reason = "creates the drive's own private folder (root's) if it is missing"
)]

use std::fs::{File, FileTimes};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use super::archive::{ArchiveDecoder, ArchiveError, ArchiveEvent};
use super::select::is_selected;
use crate::confined::{Dir, Kind};
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
    private: Dir,
    cage_name: String,
    staging_name: String,
    staging: Dir,
    owner: Option<Owner>,
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
    fn ids(self) -> (u32, u32) {
        (self.uid, self.gid)
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
    /// Prepares the staging copy of `cage` (whose parent, a drive's `private`, is trusted).
    ///
    /// # Errors
    /// [`RestoreError::Io`] if the staging directory cannot be prepared or the cage is not
    /// a directory.
    pub fn begin(cage: &Path, selection: &PassiveBackup) -> Result<Self, RestoreError> {
        let parent = cage.parent().unwrap_or(Path::new("/"));
        let cage_name = cage
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("cage")
            .to_owned();
        let staging_name = format!(".{cage_name}.staging");
        let staging_path = parent.join(&staging_name);
        // The drive's `private` folder is the device maker's (root's), never an owner's.
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        let private = Dir::open_root(parent).map_err(io_err(parent))?;
        private
            .remove_tree(&staging_name)
            .map_err(io_err(&staging_path))?;
        let staging = private
            .create_dir_all(&staging_name, 0o700, None)
            .map_err(io_err(&staging_path))?;
        // Everything the restore creates belongs to the cage's owner, as the cage does.
        let owner = match private.stat(&cage_name).map_err(io_err(cage))? {
            None => None,
            Some(m) if m.kind == Kind::Dir => Some(Owner {
                uid: m.uid,
                gid: m.gid,
                mode: m.mode,
            }),
            Some(m) => {
                return Err(io_err(cage)(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("the cage is not a directory ({:?})", m.kind),
                )));
            }
        };
        if owner.is_some() {
            let old = private.open_dir(&cage_name).map_err(io_err(cage))?;
            copy_tree(&old, &staging, !selection.delete_before_restore, true)?;
        }
        Ok(Self {
            private,
            cage_name,
            staging_name,
            staging,
            owner,
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

    /// Replaces the cage with the staging directory atomically, hands the new cage to the
    /// owner and removes the old data.
    ///
    /// # Errors
    /// [`RestoreError::Io`] if the exchange fails (the cage is then unchanged).
    pub fn commit(self) -> Result<(), RestoreError> {
        let cage = self.private.display(&self.cage_name);
        // Every copied and restored byte is durable before the new data replaces the old.
        self.staging.sync_fs().map_err(io_err(&cage))?;
        // Between the exchange and the hand-over the new cage is root's: a record of its
        // owner lets the next start finish the hand-over after a power cut
        // (`crate::recovery`).
        let record = commit_record_name(&self.cage_name);
        let (ids, mode) = self
            .owner
            .map_or((None, 0o755), |o| (Some(o.ids()), o.mode));
        if let Some((uid, gid)) = ids {
            write_commit_record(&self.private, &record, uid, gid, mode).map_err(io_err(&cage))?;
        }
        if self.owner.is_some() {
            self.private
                .exchange(&self.staging_name, &self.private, &self.cage_name)
                .map_err(io_err(&cage))?;
        } else {
            self.private
                .rename(&self.staging_name, &self.private, &self.cage_name)
                .map_err(io_err(&cage))?;
        }
        // `staging` now is the cage: give it its owner and mode.
        if let Some((uid, gid)) = ids {
            self.staging.chown(uid, gid).map_err(io_err(&cage))?;
        }
        self.staging.chmod(mode).map_err(io_err(&cage))?;
        self.staging.sync().map_err(io_err(&cage))?;
        self.private.sync().map_err(io_err(&cage))?;
        if ids.is_some() {
            self.private.remove_file(&record).map_err(io_err(&cage))?;
        }
        self.remove_old_cage();
        Ok(())
    }

    /// Removes the old cage (now under the staging name) after the commit. It is taken
    /// from the owner first (root, 0700), so the owner cannot add to it through its name;
    /// an owner that keeps adding through a descriptor it held only keeps its own old
    /// data around until the next restore, which removes it before it starts.
    fn remove_old_cage(&self) {
        let shown = self.private.display(&self.staging_name);
        if let Ok(old) = self.private.open_dir(&self.staging_name) {
            let _ = old.chown(0, 0).and_then(|()| old.chmod(0o700));
        }
        let mut last = None;
        for _ in 0..3 {
            match self.private.remove_tree(&self.staging_name) {
                Ok(()) => return,
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            tracing::warn!(path = %shown.display(), %e, "old cage left for the next restore to remove");
        }
    }

    fn apply(&mut self, event: ArchiveEvent) -> Result<(), RestoreError> {
        match event {
            ArchiveEvent::File {
                path,
                mtime_ns,
                mode,
                ..
            } => {
                let target = self.staging.display(path.as_str());
                let file = if is_selected(&path, &self.selection) {
                    Some(self.create_file(&path)?)
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
                    let target = self.staging.display(path.as_str());
                    self.staging
                        .remove_file(path.as_str())
                        .map_err(io_err(&target))?;
                }
            }
            ArchiveEvent::End => {}
        }
        Ok(())
    }

    /// Creates `path` in the staging directory (replacing an older copy), with the
    /// directories on its way, all handed to the cage's owner.
    fn create_file(&self, path: &CagePath) -> Result<File, RestoreError> {
        let target = self.staging.display(path.as_str());
        let ids = self.owner.map(Owner::ids);
        let parent = path.parent().unwrap_or_default();
        let dir = self
            .staging
            .create_dir_all(parent.as_str(), 0o755, ids)
            .map_err(io_err(&target))?;
        let name = path.file_name();
        dir.remove_file(name).map_err(io_err(&target))?;
        let file = dir.create_new(name, 0o600).map_err(io_err(&target))?;
        if let Some((uid, gid)) = ids {
            crate::confined::chown_file(&file, uid, gid).map_err(io_err(&target))?;
        }
        Ok(file)
    }
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
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode & 0o777))
        .map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

/// Copies regular files and directories of `from` into `to` (symbolic links, FIFOs and
/// devices are dropped), keeping each one's owner and mode. With `everything` false only
/// registration files at the top level are copied.
fn copy_tree(from: &Dir, to: &Dir, everything: bool, top: bool) -> Result<(), RestoreError> {
    for entry in from.entries().map_err(io_err(from.path()))? {
        let src = from.display(&entry.name);
        let dst = to.display(&entry.name);
        let name = entry.name.to_ascii_lowercase();
        let is_registration =
            top && name.starts_with("backup_registration") && name.ends_with(".xml");
        if entry.kind == Kind::Dir && everything {
            let sub = from.open_dir(&entry.name).map_err(io_err(&src))?;
            let meta = sub.meta().map_err(io_err(&src))?;
            let copy = to
                .create_dir_all(&entry.name, 0o700, None)
                .map_err(io_err(&dst))?;
            copy_tree(&sub, &copy, everything, false)?;
            copy.chown(meta.uid, meta.gid).map_err(io_err(&dst))?;
            copy.chmod(meta.mode).map_err(io_err(&dst))?;
        } else if entry.kind == Kind::File && (everything || is_registration) {
            let (mut source, meta) = from.open_file(&entry.name).map_err(io_err(&src))?;
            let mut copy = to.create_new(&entry.name, 0o600).map_err(io_err(&dst))?;
            std::io::copy(&mut source, &mut copy).map_err(io_err(&dst))?;
            crate::confined::chown_file(&copy, meta.uid, meta.gid).map_err(io_err(&dst))?;
            copy.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(meta.mode))
                .map_err(io_err(&dst))?;
            let mtime = UNIX_EPOCH
                .checked_add(Duration::from_nanos(meta.mtime_ns.max(0).unsigned_abs()))
                .unwrap_or(UNIX_EPOCH);
            copy.set_times(FileTimes::new().set_modified(mtime))
                .map_err(io_err(&dst))?;
        }
    }
    Ok(())
}

/// The name, in a drive's `private` folder, of the record of a cage's owner kept while
/// its restore is committed.
pub(crate) fn commit_record_name(cage_name: &str) -> String {
    format!(".{cage_name}.commit")
}

/// Writes `uid gid mode` (mode in octal) as the commit record `name`, durably.
fn write_commit_record(
    private: &Dir,
    name: &str,
    uid: u32,
    gid: u32,
    mode: u32,
) -> std::io::Result<()> {
    let _ = private.remove_file(name);
    let mut file = private.create_new(name, 0o600)?;
    file.write_all(format!("{uid} {gid} {mode:o}\n").as_bytes())?;
    file.sync_all()?;
    private.sync()
}
