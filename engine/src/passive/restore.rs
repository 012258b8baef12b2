//! I/O shell: restores passive streams (and the owner's databases) into a staging copy
//! of a cage, to be committed atomically.
//!
//! The staging directory `<drive>/private/.<sid>.staging` sits next to the cage on the
//! same file system. It is created by the engine, owned by root and mode 0700, so the
//! owner cannot reach into it while it is filled: nothing the owner does during the
//! restore can redirect the engine's writes. It starts as a copy of the cage (only the
//! registration files when `delete_before_restore` is set; read through the confined
//! layer, so a link in the cage is never followed), receives the base and then every
//! increment in order, and the databases of the DBMS units ([`PassiveRestore::place_file`]).
//! [`PassiveRestore::stage`] makes it durable; the owner's commit (`crate::commit`) then
//! replaces the cage with one `renameat2(RENAME_EXCHANGE)` ([`StagedCage::apply`]): at any
//! moment the cage holds either the old or the new data, never a mix. Only then is the
//! new cage given its owner and mode, through its descriptor, and the old one removed
//! through descriptors.
//!
//! Whether the exchange has happened is told by identity, not by name: the commit journal
//! records the staging folder's device and inode ([`CageRecord`]), which an owner cannot
//! forge, and recovery ([`finish_commit`]) exchanges only if that folder is still the
//! staging one.
#![allow(
    clippy::disallowed_methods,
    reason = "creates the drive's own private folder (root's) if it is missing"
)]

use std::fs::{File, FileTimes};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

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
/// [`PassiveRestore::end_unit`], and [`PassiveRestore::place_file`] for databases;
/// finally [`PassiveRestore::stage`], whose [`StagedCage`] the owner's commit applies.
/// Dropped before, it removes its staging folder and the cage is untouched.
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
    /// Staged: the staging folder is the [`StagedCage`]'s now.
    handed_on: bool,
}

impl Drop for PassiveRestore {
    /// A restore given up before it was staged leaves nothing behind.
    fn drop(&mut self) {
        if !self.handed_on {
            let _ = self.private.remove_tree(&self.staging_name);
        }
    }
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
            handed_on: false,
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

    /// Makes the staging copy durable (every file and folder entry on its file system)
    /// and returns it, ready to be committed.
    ///
    /// # Errors
    /// [`RestoreError::Io`]; the cage is untouched.
    pub fn stage(mut self) -> Result<StagedCage, RestoreError> {
        let cage = self.private.display(&self.cage_name);
        self.staging.sync_fs().map_err(io_err(&cage))?;
        let staged = self.staging.meta().map_err(io_err(&cage))?.dev_ino;
        let cage = StagedCage {
            private: self.private.try_clone().map_err(io_err(&cage))?,
            cage_name: self.cage_name.clone(),
            staging_name: self.staging_name.clone(),
            staging: self.staging.try_clone().map_err(io_err(&cage))?,
            owner: self.owner,
            staged,
        };
        self.handed_on = true;
        Ok(cage)
    }

    /// Puts a whole file (a restored database) at `path` in the staging copy, replacing
    /// what the copy holds there, and removes the database's rollback journal, WAL and
    /// shared-memory files beside it: they belong to the old database, and SQLite would
    /// play them back into the new one.
    ///
    /// # Errors
    /// [`RestoreError::Io`]; the cage is untouched.
    pub fn place_file(
        &mut self,
        path: &CagePath,
        from: &mut File,
        mode: u32,
        mtime_ns: i64,
    ) -> Result<(), RestoreError> {
        let target = self.staging.display(path.as_str());
        let mut file = self.create_file(path)?;
        std::io::Seek::rewind(from).map_err(io_err(&target))?;
        std::io::copy(from, &mut file).map_err(io_err(&target))?;
        finish_file(&target, file, mtime_ns, mode)?;
        for suffix in ["-journal", "-wal", "-shm"] {
            let side = format!("{}{suffix}", path.as_str());
            self.staging
                .remove_file(&side)
                .map_err(io_err(&self.staging.display(&side)))?;
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
            ArchiveEvent::EmptyDir { path, mode } => {
                if is_selected(&path, &self.selection) {
                    let target = self.staging.display(path.as_str());
                    let ids = self.owner.map(Owner::ids);
                    let dir = self
                        .staging
                        .create_dir_all(path.as_str(), 0o755, ids)
                        .map_err(io_err(&target))?;
                    dir.chmod(mode & 0o777).map_err(io_err(&target))?;
                } else {
                    self.skipped.push(path);
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

/// A cage's new content, staged and durable, waiting for its owner's commit.
#[derive(Debug)]
pub struct StagedCage {
    private: Dir,
    cage_name: String,
    staging_name: String,
    staging: Dir,
    owner: Option<Owner>,
    /// The staging folder's device and inode: after the exchange, the cage's.
    staged: (u64, u64),
}

/// What a commit journal records of a staged cage: enough to finish its commit after a
/// power cut ([`finish_commit`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CageRecord {
    /// The drive's `private` folder.
    pub private: PathBuf,
    /// The cage's name in it.
    pub cage: String,
    /// Device and inode of the staged folder.
    pub staged: (u64, u64),
    /// Owner and mode the new cage is given (`None`: the cage did not exist; it becomes
    /// root's, mode 0755, as a new cage is).
    pub owner: Option<(u32, u32, u32)>,
}

impl StagedCage {
    /// Returns the cage's path (for messages).
    pub fn cage(&self) -> PathBuf {
        self.private.display(&self.cage_name)
    }

    /// Returns what the commit journal records of it.
    pub fn record(&self) -> CageRecord {
        CageRecord {
            private: self.private.path().to_owned(),
            cage: self.cage_name.clone(),
            staged: self.staged,
            owner: self.owner.map(|o| (o.uid, o.gid, o.mode)),
        }
    }

    /// Exchanges the staging copy with the cage (or moves it into place when there was no
    /// cage), then gives the new cage its owner and mode through its descriptor and
    /// syncs both folders. The old cage stays under the staging name until
    /// [`StagedCage::remove_old`].
    ///
    /// # Errors
    /// An I/O error.
    pub fn apply(&self) -> std::io::Result<()> {
        if self.owner.is_some() {
            self.private
                .exchange(&self.staging_name, &self.private, &self.cage_name)?;
        } else {
            self.private
                .rename(&self.staging_name, &self.private, &self.cage_name)?;
        }
        // The descriptor follows the folder: it is the cage now.
        hand_over(&self.staging, self.owner.map(|o| (o.uid, o.gid, o.mode)))?;
        self.private.sync()
    }

    /// Removes what is under the staging name (the old cage after the exchange; the
    /// staged copy if the commit never came), through descriptors; what cannot be
    /// removed is left for recovery or the next restore. Dropping it does the same.
    pub fn remove_old(&self) {
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
}

impl Drop for StagedCage {
    fn drop(&mut self) {
        self.remove_old();
    }
}

/// Gives a new cage its owner and mode (`None`: root's, 0755) and syncs it.
fn hand_over(cage: &Dir, owner: Option<(u32, u32, u32)>) -> std::io::Result<()> {
    let mode = match owner {
        Some((uid, gid, mode)) => {
            cage.chown(uid, gid)?;
            mode
        }
        None => 0o755,
    };
    // After the chown: a chown clears set-id bits.
    cage.chmod(mode & 0o7777)?;
    cage.sync()
}

/// Finishes the commit of a staged cage after a power cut: exchanges it with the cage if
/// that has not happened (the staging folder is still the staged one), then hands the
/// new cage over. The old cage, left under the staging name, is removed by recovery.
///
/// # Errors
/// An I/O error, or neither name holds the staged folder any more.
pub fn finish_commit(record: &CageRecord) -> std::io::Result<()> {
    let private = Dir::open_root(&record.private)?;
    let staging_name = format!(".{}.staging", record.cage);
    let is_staged = |name: &str| -> std::io::Result<bool> {
        Ok(private
            .stat(name)?
            .is_some_and(|m| m.kind == Kind::Dir && m.dev_ino == record.staged))
    };
    if is_staged(&staging_name)? {
        if private.stat(&record.cage)?.is_some() {
            private.exchange(&staging_name, &private, &record.cage)?;
        } else {
            private.rename(&staging_name, &private, &record.cage)?;
        }
    }
    if !is_staged(&record.cage)? {
        return Err(std::io::Error::other(format!(
            "{}: the staged cage is gone",
            private.display(&record.cage).display()
        )));
    }
    hand_over(&private.open_dir(&record.cage)?, record.owner)?;
    private.sync()
}
