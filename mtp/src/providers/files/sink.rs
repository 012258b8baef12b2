//! [`ObjectSink`]s over files: uploads into a temporary file that is renamed into place on
//! success, and in-place writes for edit sessions.
//!
//! A sink cannot reach the provider, so it reports what the provider must learn (a
//! completed upload, a full store) through a shared [`Inbox`] the provider drains before
//! every operation.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;

use crate::codec::ResponseCode;
use crate::provider::{ObjectSink, ProviderResult, StorageId};

use super::fsops::{self, is_full, map_io};
use super::tree::Dir;

/// Something a sink tells the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Note {
    /// An upload was renamed into place: object `local` is now `name` in `dir`.
    Uploaded {
        /// The reserved handle number.
        local: u32,
        /// The folder.
        dir: Dir,
        /// The final name.
        name: OsString,
    },
    /// A write failed because the store is full.
    Full(StorageId),
}

/// Notes from sinks to the provider.
#[derive(Debug, Clone, Default)]
pub(super) struct Inbox(Arc<Mutex<Vec<Note>>>);

impl Inbox {
    /// Adds a note.
    pub(super) fn push(&self, note: Note) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(note);
    }

    /// Takes every note.
    pub(super) fn take(&self) -> Vec<Note> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Maps a write failure, noting a full store.
fn write_error(
    e: &std::io::Error,
    path: &std::path::Path,
    inbox: &Inbox,
    storage: StorageId,
) -> ResponseCode {
    if is_full(e) {
        tracing::warn!(path = %path.display(), "store full while writing");
        inbox.push(Note::Full(storage));
        return ResponseCode::StoreFull;
    }
    map_io(e, path)
}

/// Where an upload goes and what it must satisfy.
#[derive(Debug)]
pub(super) struct UploadTarget {
    /// The destination folder, open since SendObject began: the upload lands in it
    /// whatever happens to the names on its way from the storage's root meanwhile.
    pub(super) folder: confined::Dir,
    /// The final name in it.
    pub(super) name: OsString,
    /// The announced size (`None`: 4 GiB or more, accept what arrives).
    pub(super) size: Option<u64>,
    /// DateModified from the ObjectInfo.
    pub(super) modified: Option<SystemTime>,
    /// The storage (for StoreFull notes).
    pub(super) storage: StorageId,
    /// The note to send once the file is in place.
    pub(super) done: Note,
}

/// An upload into a temporary file in the destination folder.
#[derive(Debug)]
pub(super) struct UploadSink {
    file: File,
    /// The temporary file's name in the destination folder, until it is renamed.
    temp: Option<OsString>,
    target: UploadTarget,
    written: u64,
    inbox: Inbox,
}

impl UploadSink {
    /// Creates the sink over an open temporary file named `temp` in the target's folder.
    pub(super) fn new(file: File, temp: OsString, target: UploadTarget, inbox: Inbox) -> Self {
        Self {
            file,
            temp: Some(temp),
            target,
            written: 0,
            inbox,
        }
    }

    fn discard(&mut self) {
        if let Some(temp) = self.temp.take() {
            if let Err(e) = self.target.folder.remove_file(&temp) {
                tracing::warn!(error = %e, "temporary file not removed");
            }
        }
    }

    fn commit(&mut self, received: u64) -> ProviderResult<()> {
        let temp = self.temp.clone().ok_or(ResponseCode::GeneralError)?;
        let folder = &self.target.folder;
        let shown = folder.display(&temp);
        if self.target.size.is_some_and(|s| s != received) || received != self.written {
            tracing::warn!(received, expected = ?self.target.size, "upload incomplete");
            return Err(ResponseCode::IncompleteTransfer);
        }
        if let Some(t) = self.target.modified {
            if let Err(e) = self.file.set_modified(t) {
                tracing::warn!(path = %shown.display(), error = %e, "mtime not set");
            }
        }
        self.file.sync_all().map_err(|e| map_io(&e, &shown))?;
        let name = &self.target.name;
        let dest = folder.display(name);
        if let Ok(Some(m)) = folder.stat(name) {
            if !m.is_file() {
                tracing::warn!(path = %dest.display(), "upload target is not a regular file");
                return Err(ResponseCode::AccessDenied);
            }
        }
        folder
            .rename(&temp, folder, name)
            .map_err(|e| map_io(&e, &dest))?;
        self.temp = None;
        fsops::sync_dir(folder);
        Ok(())
    }
}

impl ObjectSink for UploadSink {
    fn write(&mut self, data: Bytes) -> ProviderResult<()> {
        if let Err(e) = self.file.write_all(&data) {
            let path = self.target.folder.display(&self.target.name);
            return Err(write_error(&e, &path, &self.inbox, self.target.storage));
        }
        self.written += data.len() as u64;
        Ok(())
    }

    fn finish(mut self: Box<Self>, received: u64) -> ProviderResult<()> {
        let result = self.commit(received);
        match &result {
            Ok(()) => self.inbox.push(self.target.done.clone()),
            Err(_) => self.discard(),
        }
        result
    }

    fn abort(mut self: Box<Self>) {
        self.discard();
    }
}

impl Drop for UploadSink {
    fn drop(&mut self) {
        self.discard();
    }
}

/// Writes of a SendPartialObject, in place at an offset of a file in an edit session.
#[derive(Debug)]
pub(super) struct PartialSink {
    file: File,
    path: PathBuf,
    pos: u64,
    storage: StorageId,
    inbox: Inbox,
}

impl PartialSink {
    /// Creates the sink writing `file` from `offset`.
    pub(super) fn new(
        file: File,
        path: PathBuf,
        offset: u64,
        storage: StorageId,
        inbox: Inbox,
    ) -> Self {
        Self {
            file,
            path,
            pos: offset,
            storage,
            inbox,
        }
    }
}

impl ObjectSink for PartialSink {
    fn write(&mut self, data: Bytes) -> ProviderResult<()> {
        if let Err(e) = self.file.write_all_at(&data, self.pos) {
            return Err(write_error(&e, &self.path, &self.inbox, self.storage));
        }
        self.pos += data.len() as u64;
        Ok(())
    }

    /// Accepts what arrived: the response reports the byte count to the host.
    fn finish(self: Box<Self>, _received: u64) -> ProviderResult<()> {
        Ok(())
    }

    /// Keeps what was written: edits are in place and end with EndEditObject.
    fn abort(self: Box<Self>) {}
}
